--
-- lsm_tids: what PostgreSQL's own code reads through TIDs and system columns
-- gives heap's answers on lsm tables: RETURNING xmin, xmax and cmin after
-- INSERT, UPDATE and ON CONFLICT DO UPDATE; currtid2() refuses TIDs past the
-- relation's size; BRIN bitmap scans find rows whose TIDs lie past the
-- relation file's last page (row ids run ahead of the file: each backend
-- takes a few at a time and those it does not use are skipped); amcheck's
-- heapallindexed checks of btrees on lsm tables.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables:
-- that run produced the expected output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;
CREATE EXTENSION amcheck;

-- RETURNING system columns: the version just written, as heap's slot has it.
CREATE TABLE r (a int PRIMARY KEY, b text) USING :am;
BEGIN;
INSERT INTO r VALUES (1, 'x')
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine, xmax, cmin, cmax;
INSERT INTO r VALUES (2, 'y')
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine, xmax, cmin;
UPDATE r SET b = 'x2' WHERE a = 1
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine, xmax, cmin, b;
INSERT INTO r VALUES (2, 'conflict') ON CONFLICT (a) DO UPDATE SET b = 'y2'
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine,
		xmax = pg_current_xact_id()::xid AS xmax_is_mine, cmin, b;
INSERT INTO r VALUES (3, 'z') ON CONFLICT DO NOTHING
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine, xmax, cmin;
DELETE FROM r WHERE a = 3
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine, xmax = pg_current_xact_id()::xid AS xmax_is_mine;
COMMIT;

-- An ORM's row-version token: xmin from RETURNING equals what SELECT reads.
INSERT INTO r VALUES (4, 'token') RETURNING xmin AS ins_xmin \gset
SELECT xmin = :'ins_xmin' AS same_xmin FROM r WHERE a = 4;
UPDATE r SET b = 'token2' WHERE a = 4 RETURNING xmin AS upd_xmin \gset
SELECT xmin = :'upd_xmin' AS same_xmin, xmin <> :'ins_xmin' AS new_xmin FROM r WHERE a = 4;
-- An update under a key-share lock carries the locker to the new version.
BEGIN;
SELECT a FROM r WHERE a = 4 FOR KEY SHARE;
UPDATE r SET b = 'token3' WHERE a = 4
	RETURNING xmin = pg_current_xact_id()::xid AS xmin_is_mine,
		xmax = pg_current_xact_id()::xid AS xmax_is_mine;
COMMIT;
SELECT a, b FROM r ORDER BY a;

-- currtid2(): a TID past what the relation holds is refused, as on heap.
CREATE TABLE c (k int, v text) USING :am;
CREATE VIEW cv AS SELECT * FROM c;
SELECT currtid2('c'::text, '(0,1)'::tid);
INSERT INTO c VALUES (1, 'one');
SELECT currtid2('c'::text, '(4000000,7)'::tid);
SELECT currtid2('c'::text, ctid) = ctid AS same FROM c;
UPDATE c SET v = 'two';
SELECT currtid2('c'::text, '(0,1)'::tid) = (SELECT ctid FROM c) AS latest;

-- BRIN: rows inserted by sessions after the first lie past the file's
-- blocks on an lsm table; the index must still lead to every row.
CREATE TABLE brin_t (k int, v int) USING :am;
INSERT INTO brin_t VALUES (1, 1);
\c
INSERT INTO brin_t VALUES (2, 2);
\c
INSERT INTO brin_t VALUES (3, 3);
\c
INSERT INTO brin_t VALUES (4, 4);
\c
INSERT INTO brin_t VALUES (5, 5);
\c
INSERT INTO brin_t VALUES (6, 6);
\c
INSERT INTO brin_t VALUES (7, 7);
\c
INSERT INTO brin_t VALUES (8, 8);
\c
INSERT INTO brin_t VALUES (9, 9);
\c
INSERT INTO brin_t VALUES (10, 10);
\c
INSERT INTO brin_t VALUES (11, 11);
\c
INSERT INTO brin_t VALUES (12, 12);
\c
INSERT INTO brin_t VALUES (13, 13);
\c
INSERT INTO brin_t VALUES (14, 14);
\c
INSERT INTO brin_t VALUES (15, 15);
\c
INSERT INTO brin_t SELECT g, g FROM generate_series(16, 20) g;
-- on lsm, rows now lie past the file's last block
SELECT :'am' = 'heap' OR
	max((ctid::text::point)[0]) >= pg_relation_size('brin_t') / 8192 AS past_the_file
	FROM brin_t;
CREATE INDEX brin_t_v ON brin_t USING brin (v) WITH (pages_per_range = 1);
INSERT INTO brin_t VALUES (21, 21);
SET enable_seqscan = off;
SET enable_indexscan = off;
SET lsm.enable_lsmscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM brin_t WHERE v > 0;
SELECT count(*), sum(v) FROM brin_t WHERE v > 0;
SELECT brin_summarize_new_values('brin_t_v') >= 0 AS summarized;
SELECT count(*), sum(v) FROM brin_t WHERE v > 0;
SELECT count(*), sum(v) FROM brin_t WHERE v BETWEEN 15 AND 21;
RESET enable_seqscan;
RESET enable_indexscan;
RESET lsm.enable_lsmscan;

-- amcheck: every row is in the index (heapallindexed), with the table's
-- rows in memtables, runs, updated and deleted.
CREATE TABLE ac (k int, id int, v text) USING :am;
CREATE INDEX ac_id ON ac (id);
CREATE UNIQUE INDEX ac_k ON ac (k);
INSERT INTO ac SELECT g, g % 100, 'v' || g FROM generate_series(1, 3000) g;
CALL test_flush('ac');
UPDATE ac SET id = id + 1 WHERE k % 7 = 0;
DELETE FROM ac WHERE k % 11 = 0;
SELECT bt_index_check('ac_id', true);
SELECT bt_index_check('ac_k', true);
SELECT bt_index_parent_check('ac_id', true);
SELECT bt_index_parent_check('ac_k', true, true);

DROP VIEW cv;
DROP TABLE r, c, brin_t, ac;
DROP EXTENSION amcheck;
DROP EXTENSION lsm_am;
