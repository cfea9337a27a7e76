-- pgTAP: an lsm table answers like a heap table.  The same rows and
-- statements go to both; every query is compared with results_eq.
-- Everything is rolled back at the end.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION lsm_am;

SELECT plan(15);

SELECT ok(EXISTS (SELECT 1 FROM pg_am WHERE amname = 'lsm' AND amtype = 't'),
	'the lsm table access method exists');

CREATE TABLE l (k bigint, grp int, v text) USING lsm;
CREATE TABLE h (k bigint, grp int, v text) USING heap;
SELECT is((SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		   WHERE c.oid = 'l'::regclass), 'lsm'::name, 'CREATE TABLE ... USING lsm');

INSERT INTO l SELECT (g * 7919) % 5003, g % 10, 'v' || g FROM generate_series(1, 5000) g;
INSERT INTO h SELECT (g * 7919) % 5003, g % 10, 'v' || g FROM generate_series(1, 5000) g;
SELECT lives_ok('SELECT lsm_flush(''l'')', 'lsm_flush() writes the memtable to a run');
INSERT INTO l SELECT g, 99, 'late' FROM generate_series(6000, 6100) g;
INSERT INTO h SELECT g, 99, 'late' FROM generate_series(6000, 6100) g;

SELECT results_eq('SELECT * FROM l', 'SELECT * FROM h ORDER BY k, v',
	'a sequential scan returns key order');
SELECT results_eq('SELECT count(*), sum(k), sum(grp) FROM l',
	'SELECT count(*), sum(k), sum(grp) FROM h', 'aggregates match heap');
SELECT results_eq('SELECT * FROM l WHERE k BETWEEN 100 AND 200 ORDER BY k, v',
	'SELECT * FROM h WHERE k BETWEEN 100 AND 200 ORDER BY k, v', 'a key range matches heap');

UPDATE l SET v = v || '!' WHERE grp = 3;
UPDATE h SET v = v || '!' WHERE grp = 3;
DELETE FROM l WHERE grp = 4;
DELETE FROM h WHERE grp = 4;
SELECT results_eq('SELECT * FROM l ORDER BY k, v', 'SELECT * FROM h ORDER BY k, v',
	'UPDATE and DELETE match heap');

SAVEPOINT s;
DELETE FROM l;
ROLLBACK TO SAVEPOINT s;
SELECT results_eq('SELECT count(*) FROM l', 'SELECT count(*) FROM h',
	'a rolled-back savepoint leaves the rows');

CREATE INDEX l_grp ON l (grp);
SET LOCAL enable_seqscan = off;
SELECT results_eq('SELECT k, v FROM l WHERE grp = 7 ORDER BY k, v',
	'SELECT k, v FROM h WHERE grp = 7 ORDER BY k, v', 'an index scan matches heap');
RESET enable_seqscan;

SELECT is((SELECT sum(entries) FROM lsm_levels('l'))::bigint, 10000::bigint,
	'lsm_levels counts the flushed run''s entries (a data and a row-map entry per row)');
SELECT ok((SELECT entries > 0 FROM lsm_memtables('l') WHERE state = 'active'),
	'lsm_memtables shows the unflushed writes');

SELECT throws_ok('SELECT lsm_flush(''h'')', '42809', NULL,
	'lsm_flush() refuses a heap table');
SELECT throws_ok('INSERT INTO l VALUES (1, 1, repeat(''x'', 9000))', '54000', NULL,
	'a row above the maximum size is refused');
SELECT throws_ok('CREATE TEMP TABLE t_tmp (k int) USING lsm', '0A000', NULL,
	'temporary lsm tables are refused');
CREATE TABLE lu (k int PRIMARY KEY, n int) USING lsm;
CREATE TABLE hu (k int PRIMARY KEY, n int) USING heap;
INSERT INTO lu SELECT g, 1 FROM generate_series(1, 50) g ON CONFLICT (k) DO UPDATE SET n = lu.n + 1;
INSERT INTO hu SELECT g, 1 FROM generate_series(1, 50) g ON CONFLICT (k) DO UPDATE SET n = hu.n + 1;
INSERT INTO lu SELECT g, 1 FROM generate_series(30, 60) g ON CONFLICT (k) DO UPDATE SET n = lu.n + 1;
INSERT INTO hu SELECT g, 1 FROM generate_series(30, 60) g ON CONFLICT (k) DO UPDATE SET n = hu.n + 1;
INSERT INTO lu SELECT g, 0 FROM generate_series(45, 55) g ON CONFLICT DO NOTHING;
INSERT INTO hu SELECT g, 0 FROM generate_series(45, 55) g ON CONFLICT DO NOTHING;
SELECT results_eq('SELECT * FROM lu ORDER BY k', 'SELECT * FROM hu ORDER BY k',
	'INSERT ... ON CONFLICT DO UPDATE and DO NOTHING match heap');

SELECT * FROM finish();
ROLLBACK;
