--
-- lsm_on_conflict: INSERT ... ON CONFLICT on lsm tables gives exactly heap's
-- results.  Each step runs the same statement on a heap table h* and an lsm
-- table l*; same_rows() compares their whole contents, and the lsm table's
-- RETURNING rows and contents are shown.  test_flush() writes the lsm
-- table's memtable to a run between steps, so conflicts are found both in
-- the memtable and in runs.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- (test_flush() does nothing for them): that run produced the expected
-- output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

--
-- A primary key on the table's key column, a second unique column, a
-- partial unique index and a unique expression index.
--
CREATE TABLE h (k int PRIMARY KEY, u int UNIQUE, p int, e text, v text, n int DEFAULT 0) USING heap;
CREATE TABLE l (k int PRIMARY KEY, u int UNIQUE, p int, e text, v text, n int DEFAULT 0) USING :am;
CREATE UNIQUE INDEX h_p ON h (p) WHERE p > 0;
CREATE UNIQUE INDEX l_p ON l (p) WHERE p > 0;
CREATE UNIQUE INDEX h_e ON h (lower(e));
CREATE UNIQUE INDEX l_e ON l (lower(e));
SELECT c.relname, a.amname = CASE c.relname WHEN 'h' THEN 'heap' ELSE :'am' END AS am_as_asked
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname IN ('h', 'l') ORDER BY 1;

INSERT INTO h SELECT g, 100 + g, g, 'e' || g, 'v' || g FROM generate_series(1, 20) g;
INSERT INTO l SELECT g, 100 + g, g, 'e' || g, 'v' || g FROM generate_series(1, 20) g;
SELECT same_rows('h', 'l');

--
-- DO NOTHING
--
-- no conflict: inserted
INSERT INTO h VALUES (21, 121, 21, 'e21', 'new') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (21, 121, 21, 'e21', 'new') ON CONFLICT DO NOTHING RETURNING *;
-- conflict on the primary key, on another unique column, on the partial
-- index, on the expression index: nothing inserted, nothing returned
INSERT INTO h VALUES (1, 1001, NULL, 'x1', 'pk') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1, 1001, NULL, 'x1', 'pk') ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO h VALUES (1001, 101, NULL, 'x2', 'u') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1001, 101, NULL, 'x2', 'u') ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO h VALUES (1002, 1002, 5, 'x3', 'p') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1002, 1002, 5, 'x3', 'p') ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO h VALUES (1003, 1003, NULL, 'E7', 'e') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1003, 1003, NULL, 'E7', 'e') ON CONFLICT DO NOTHING RETURNING *;
-- the partial index does not cover p <= 0: no conflict
INSERT INTO h VALUES (1004, 1004, 0, 'x4', 'p0'), (1005, 1005, 0, 'x5', 'p0 again') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1004, 1004, 0, 'x4', 'p0'), (1005, 1005, 0, 'x5', 'p0 again') ON CONFLICT DO NOTHING RETURNING *;
SELECT same_rows('h', 'l');
CALL test_flush('l');
-- with an arbiter: conflicts on it are skipped, others still fail
INSERT INTO h VALUES (2, 2002, NULL, 'y2', 'arb') ON CONFLICT (k) DO NOTHING;
INSERT INTO l VALUES (2, 2002, NULL, 'y2', 'arb') ON CONFLICT (k) DO NOTHING RETURNING *;
INSERT INTO h VALUES (2003, 103, NULL, 'y3', 'arb') ON CONFLICT (k) DO NOTHING;
INSERT INTO l VALUES (2003, 103, NULL, 'y3', 'arb') ON CONFLICT (k) DO NOTHING RETURNING *;
INSERT INTO h VALUES (2004, 104, NULL, 'y4', 'arb') ON CONFLICT ON CONSTRAINT h_u_key DO NOTHING;
INSERT INTO l VALUES (2004, 104, NULL, 'y4', 'arb') ON CONFLICT ON CONSTRAINT l_u_key DO NOTHING RETURNING *;
-- the partial index as arbiter, named by its predicate
INSERT INTO h VALUES (2005, 2005, 6, 'y5', 'arb') ON CONFLICT (p) WHERE p > 0 DO NOTHING;
INSERT INTO l VALUES (2005, 2005, 6, 'y5', 'arb') ON CONFLICT (p) WHERE p > 0 DO NOTHING RETURNING *;
INSERT INTO h VALUES (2006, 2006, 6, 'y6', 'arb') ON CONFLICT (p) DO NOTHING;
INSERT INTO l VALUES (2006, 2006, 6, 'y6', 'arb') ON CONFLICT (p) DO NOTHING RETURNING *;
-- the expression index as arbiter
INSERT INTO h VALUES (2007, 2007, NULL, 'E8', 'arb') ON CONFLICT (lower(e)) DO NOTHING;
INSERT INTO l VALUES (2007, 2007, NULL, 'E8', 'arb') ON CONFLICT (lower(e)) DO NOTHING RETURNING *;
SELECT same_rows('h', 'l');
-- a row that conflicts with a row of the same statement is skipped
INSERT INTO h VALUES (3000, 3000, NULL, 'z0', 'first'), (3000, 3001, NULL, 'z1', 'second') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (3000, 3000, NULL, 'z0', 'first'), (3000, 3001, NULL, 'z1', 'second') ON CONFLICT DO NOTHING RETURNING *;
-- multi-row, some conflicting
INSERT INTO h SELECT g, 200 + g, NULL, 'm' || g, 'multi' FROM generate_series(15, 30) g ON CONFLICT DO NOTHING;
INSERT INTO l SELECT g, 200 + g, NULL, 'm' || g, 'multi' FROM generate_series(15, 30) g ON CONFLICT DO NOTHING;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE v = 'multi' ORDER BY k;
-- NULLs never conflict
INSERT INTO h VALUES (4000, NULL, NULL, NULL, 'nulls'), (4001, NULL, NULL, NULL, 'nulls') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (4000, NULL, NULL, NULL, 'nulls'), (4001, NULL, NULL, NULL, 'nulls') ON CONFLICT DO NOTHING RETURNING *;
SELECT same_rows('h', 'l');

--
-- DO UPDATE
--
CALL test_flush('l');
-- with EXCLUDED, and the existing row's values
INSERT INTO h VALUES (3, 999, NULL, 'w3', 'upd') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v || '/' || h.v, n = h.n + 1;
INSERT INTO l VALUES (3, 999, NULL, 'w3', 'upd') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v || '/' || l.v, n = l.n + 1 RETURNING *;
-- no conflict: inserted
INSERT INTO h VALUES (5000, 5000, NULL, 'w5000', 'ins') ON CONFLICT (k) DO UPDATE SET v = 'never';
INSERT INTO l VALUES (5000, 5000, NULL, 'w5000', 'ins') ON CONFLICT (k) DO UPDATE SET v = 'never' RETURNING *;
-- several rows, some conflicting, some not
INSERT INTO h SELECT g, 300 + g, NULL, 'w' || g, 'batch' FROM generate_series(28, 35) g
	ON CONFLICT (k) DO UPDATE SET v = h.v || '+' || EXCLUDED.v, u = EXCLUDED.u;
INSERT INTO l SELECT g, 300 + g, NULL, 'w' || g, 'batch' FROM generate_series(28, 35) g
	ON CONFLICT (k) DO UPDATE SET v = l.v || '+' || EXCLUDED.v, u = EXCLUDED.u RETURNING *;
SELECT same_rows('h', 'l');
-- a WHERE clause: rows it rejects are neither updated nor returned
INSERT INTO h VALUES (4, 0, NULL, 'q4', 'w'), (6, 0, NULL, 'q6', 'w'), (8, 0, NULL, 'q8', 'w')
	ON CONFLICT (k) DO UPDATE SET n = h.n + 10 WHERE h.k % 4 = 0;
INSERT INTO l VALUES (4, 0, NULL, 'q4', 'w'), (6, 0, NULL, 'q6', 'w'), (8, 0, NULL, 'q8', 'w')
	ON CONFLICT (k) DO UPDATE SET n = l.n + 10 WHERE l.k % 4 = 0 RETURNING *;
-- WHERE on EXCLUDED
INSERT INTO h VALUES (9, 0, NULL, 'q9', 'keep'), (10, 0, NULL, 'q10', 'skip')
	ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE EXCLUDED.v = 'keep';
INSERT INTO l VALUES (9, 0, NULL, 'q9', 'keep'), (10, 0, NULL, 'q10', 'skip')
	ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE EXCLUDED.v = 'keep' RETURNING *;
SELECT same_rows('h', 'l');
-- the conflict on another unique column, updating the key column itself
INSERT INTO h VALUES (6000, 111, NULL, 'r1', 'newkey') ON CONFLICT (u) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v;
INSERT INTO l VALUES (6000, 111, NULL, 'r1', 'newkey') ON CONFLICT (u) DO UPDATE SET k = EXCLUDED.k, v = EXCLUDED.v RETURNING *;
SELECT * FROM l WHERE k IN (11, 6000) ORDER BY k;
-- the partial index and the expression index as arbiters
INSERT INTO h VALUES (6001, 6001, 12, 'r2', 'via p') ON CONFLICT (p) WHERE p > 0 DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (6001, 6001, 12, 'r2', 'via p') ON CONFLICT (p) WHERE p > 0 DO UPDATE SET v = EXCLUDED.v RETURNING *;
INSERT INTO h VALUES (6002, 6002, NULL, 'E13', 'via e') ON CONFLICT (lower(e)) DO UPDATE SET v = EXCLUDED.v, e = EXCLUDED.e;
INSERT INTO l VALUES (6002, 6002, NULL, 'E13', 'via e') ON CONFLICT (lower(e)) DO UPDATE SET v = EXCLUDED.v, e = EXCLUDED.e RETURNING *;
INSERT INTO h VALUES (6003, 6003, NULL, 'r3', 'via constraint') ON CONFLICT ON CONSTRAINT h_pkey DO UPDATE SET v = 'never';
INSERT INTO l VALUES (6003, 6003, NULL, 'r3', 'via constraint') ON CONFLICT ON CONSTRAINT l_pkey DO UPDATE SET v = 'never' RETURNING *;
INSERT INTO h VALUES (14, 6004, NULL, 'r4', 'via constraint') ON CONFLICT ON CONSTRAINT h_pkey DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (14, 6004, NULL, 'r4', 'via constraint') ON CONFLICT ON CONSTRAINT l_pkey DO UPDATE SET v = EXCLUDED.v RETURNING *;
SELECT same_rows('h', 'l');
-- a conflict on a unique index other than the arbiter is an error
INSERT INTO h VALUES (16, 117, NULL, 'r5', 'other') ON CONFLICT (k) DO UPDATE SET u = EXCLUDED.u;
INSERT INTO l VALUES (16, 117, NULL, 'r5', 'other') ON CONFLICT (k) DO UPDATE SET u = EXCLUDED.u;
INSERT INTO h VALUES (7000, 117, NULL, 'r6', 'other') ON CONFLICT (k) DO NOTHING;
INSERT INTO l VALUES (7000, 117, NULL, 'r6', 'other') ON CONFLICT (k) DO NOTHING;
-- cardinality violation: one command may not update a row twice
INSERT INTO h VALUES (17, 0, NULL, 's1', 'a'), (17, 0, NULL, 's2', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (17, 0, NULL, 's1', 'a'), (17, 0, NULL, 's2', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO h VALUES (7001, 0, NULL, 's3', 'a'), (7001, 0, NULL, 's4', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (7001, 0, NULL, 's3', 'a'), (7001, 0, NULL, 's4', 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
SELECT same_rows('h', 'l');
SELECT count(*) FROM l WHERE k IN (7000, 7001);

--
-- In transactions: rows inserted, updated or deleted earlier in the same
-- transaction, savepoints rolled back, a whole transaction rolled back.
--
CALL test_flush('l');
BEGIN;
INSERT INTO h VALUES (8000, 8000, NULL, 't0', 'tx');
INSERT INTO l VALUES (8000, 8000, NULL, 't0', 'tx');
INSERT INTO h VALUES (8000, 0, NULL, 't1', 'tx again') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, n = h.n + 1;
INSERT INTO l VALUES (8000, 0, NULL, 't1', 'tx again') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, n = l.n + 1 RETURNING *;
UPDATE h SET v = 'updated' WHERE k = 18;
UPDATE l SET v = 'updated' WHERE k = 18;
INSERT INTO h VALUES (18, 0, NULL, 't2', 'after update') ON CONFLICT (k) DO UPDATE SET v = h.v || ' then ' || EXCLUDED.v;
INSERT INTO l VALUES (18, 0, NULL, 't2', 'after update') ON CONFLICT (k) DO UPDATE SET v = l.v || ' then ' || EXCLUDED.v RETURNING *;
DELETE FROM h WHERE k = 19;
DELETE FROM l WHERE k = 19;
INSERT INTO h VALUES (19, 119, 19, 'e19', 'reinserted') ON CONFLICT (k) DO UPDATE SET v = 'never';
INSERT INTO l VALUES (19, 119, 19, 'e19', 'reinserted') ON CONFLICT (k) DO UPDATE SET v = 'never' RETURNING *;
SAVEPOINT s;
INSERT INTO h VALUES (8001, 8001, NULL, 't3', 'rolled back') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (8001, 8001, NULL, 't3', 'rolled back') ON CONFLICT DO NOTHING;
INSERT INTO h VALUES (20, 0, NULL, 't4', 'rolled back') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (20, 0, NULL, 't4', 'rolled back') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
ROLLBACK TO SAVEPOINT s;
INSERT INTO h VALUES (8001, 8001, NULL, 't5', 'kept') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (8001, 8001, NULL, 't5', 'kept') ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO h VALUES (20, 0, NULL, 't6', 'kept') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO l VALUES (20, 0, NULL, 't6', 'kept') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING *;
COMMIT;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k IN (18, 19, 20, 8000, 8001) ORDER BY k;
BEGIN;
INSERT INTO l VALUES (9000, 9000, NULL, 'a0', 'aborted') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (1, 0, NULL, 'a1', 'aborted') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
ROLLBACK;
SELECT same_rows('h', 'l');
-- the rolled back row's key is free again; the updated row is as it was
INSERT INTO h VALUES (9000, 9000, NULL, 'a0', 'after abort') ON CONFLICT DO NOTHING;
INSERT INTO l VALUES (9000, 9000, NULL, 'a0', 'after abort') ON CONFLICT DO NOTHING RETURNING *;
SELECT * FROM l WHERE k = 1;

--
-- Upsert as a counter, many times over the same keys, with flushes in
-- between: every row version stays reachable through the indexes.
--
CREATE TABLE hc (k text PRIMARY KEY, hits int) USING heap;
CREATE TABLE lc (k text COLLATE "C" PRIMARY KEY, hits int) USING :am;
DO $$
BEGIN
	FOR i IN 1..6 LOOP
		INSERT INTO hc SELECT 'key' || (g % 37), 1 FROM generate_series(1, 100) g WHERE g % 6 = i - 1
			ON CONFLICT (k) DO UPDATE SET hits = hc.hits + 1;
		INSERT INTO lc SELECT 'key' || (g % 37), 1 FROM generate_series(1, 100) g WHERE g % 6 = i - 1
			ON CONFLICT (k) DO UPDATE SET hits = lc.hits + 1;
		IF i % 2 = 0 THEN
			CALL test_flush('lc');
		END IF;
	END LOOP;
END $$;
SELECT same_rows('hc', 'lc');
SELECT sum(hits), count(*), max(hits) FROM lc;
SET enable_seqscan = off;
SELECT k, hits FROM lc WHERE k IN ('key0', 'key1', 'key36') ORDER BY k;
RESET enable_seqscan;

--
-- A table without a primary key on its key column: the lsm key allows
-- duplicates, a unique index on another column decides conflicts.
--
CREATE TABLE hd (k int, id int UNIQUE, v text) USING heap;
CREATE TABLE ld (k int, id int UNIQUE, v text) USING :am;
INSERT INTO hd SELECT g % 3, g, 'd' || g FROM generate_series(1, 9) g;
INSERT INTO ld SELECT g % 3, g, 'd' || g FROM generate_series(1, 9) g;
INSERT INTO hd VALUES (1, 4, 'dup id'), (1, 10, 'new id') ON CONFLICT (id) DO UPDATE SET v = hd.v || '!';
INSERT INTO ld VALUES (1, 4, 'dup id'), (1, 10, 'new id') ON CONFLICT (id) DO UPDATE SET v = ld.v || '!' RETURNING *;
SELECT same_rows('hd', 'ld');
SELECT * FROM ld ORDER BY id;

DROP TABLE h, l, hc, lc, hd, ld;
DROP EXTENSION lsm_am;
