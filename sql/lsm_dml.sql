--
-- lsm_dml: every DML statement form on an lsm table gives exactly heap's
-- results.  Each step runs the same statement on a heap table and on an lsm
-- table; same_rows() compares their whole contents (row counts and EXCEPT ALL
-- both ways), and queries on the lsm table show the rows themselves.
-- test_flush() writes the lsm table's memtable out to a level-0 run between
-- steps, so rows come both from the memtable and from runs.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- (test_flush() does nothing for them): that run produced the expected
-- output (test/pending/gen-expected.sh).  Large values stay under the
-- maximum row size of lsm tables; lsm_row_size tests the maximum.
--
SELECT current_setting('regress.am') AS am \gset
SET extra_float_digits = 0;
CREATE EXTENSION lsm_am;

CREATE TABLE h (k bigint, id int, v text, n numeric, flag bool) USING heap;
CREATE TABLE l (k bigint, id int, v text, n numeric, flag bool) USING :am;
SELECT c.relname, a.amname = CASE c.relname WHEN 'h' THEN 'heap' ELSE :'am' END AS am_as_asked
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname IN ('h', 'l') ORDER BY 1;

-- An empty table.
SELECT * FROM l;
SELECT count(*) FROM l;
CALL test_flush('l');
SELECT count(*) FROM l;

--
-- INSERT
--
-- one row, several rows, NULLs, defaults, RETURNING
INSERT INTO h VALUES (10, 1, 'ten', 10.5, true);
INSERT INTO l VALUES (10, 1, 'ten', 10.5, true);
INSERT INTO h VALUES (5, 2, 'five', NULL, false), (20, 3, NULL, 2e10, NULL), (5, 4, 'five again', -1, true);
INSERT INTO l VALUES (5, 2, 'five', NULL, false), (20, 3, NULL, 2e10, NULL), (5, 4, 'five again', -1, true);
INSERT INTO h (id, v) VALUES (5, 'null key');
INSERT INTO l (id, v) VALUES (5, 'null key');
INSERT INTO h DEFAULT VALUES;
INSERT INTO l DEFAULT VALUES;
INSERT INTO h VALUES (-7, 6, '', 0, false);
INSERT INTO l VALUES (-7, 6, '', 0, false) RETURNING *;
INSERT INTO h VALUES (30, 7, 'thirty', 30, true), (25, 8, 'twenty-five', 25, false);
INSERT INTO l VALUES (30, 7, 'thirty', 30, true), (25, 8, 'twenty-five', 25, false)
	RETURNING k, id, upper(v) AS shout, n * 2 AS twice;
SELECT same_rows('h', 'l');
SELECT * FROM l ORDER BY k, id;
CALL test_flush('l');
SELECT same_rows('h', 'l');
SELECT * FROM l ORDER BY k, id;

-- INSERT ... SELECT, from the table itself too
INSERT INTO h SELECT g * 3 % 101, 100 + g, 'gen ' || g, g / 7.0, g % 2 = 0 FROM generate_series(1, 300) g;
INSERT INTO l SELECT g * 3 % 101, 100 + g, 'gen ' || g, g / 7.0, g % 2 = 0 FROM generate_series(1, 300) g;
SELECT same_rows('h', 'l');
INSERT INTO h SELECT k + 1000, id + 1000, v, n, flag FROM h WHERE k < 50;
INSERT INTO l SELECT k + 1000, id + 1000, v, n, flag FROM l WHERE k < 50;
SELECT same_rows('h', 'l');
CALL test_flush('l');
INSERT INTO h SELECT k + 2000, id + 2000, v, n, flag FROM h WHERE k < 10;
INSERT INTO l SELECT k + 2000, id + 2000, v, n, flag FROM l WHERE k < 10;
SELECT same_rows('h', 'l');
SELECT count(*), count(k), count(DISTINCT k), sum(k), sum(id), count(v), sum(n), count(*) FILTER (WHERE flag) FROM l;
SELECT * FROM l WHERE k >= 2000 ORDER BY k, id;
SELECT * FROM l WHERE k = 5 ORDER BY id;
SELECT * FROM l WHERE k IS NULL ORDER BY id;
SELECT * FROM l WHERE k BETWEEN 95 AND 99 ORDER BY k, id;
SELECT * FROM l WHERE id = 150;

-- a data-modifying CTE
WITH ins AS (INSERT INTO h VALUES (3000, 3000, 'cte', 1, true) RETURNING *)
SELECT count(*) FROM ins;
WITH ins AS (INSERT INTO l VALUES (3000, 3000, 'cte', 1, true) RETURNING *)
SELECT * FROM ins;

--
-- UPDATE
--
-- non-key columns
UPDATE h SET v = v || '+', n = n + 1 WHERE k BETWEEN 10 AND 20;
UPDATE l SET v = v || '+', n = n + 1 WHERE k BETWEEN 10 AND 20;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k BETWEEN 10 AND 20 ORDER BY k, id;
-- RETURNING (through a CTE: RETURNING rows come in scan order, which is
-- not the same for heap and lsm)
WITH u AS (UPDATE h SET flag = NOT flag WHERE id % 50 = 0 RETURNING *)
SELECT count(*) FROM u;
WITH u AS (UPDATE l SET flag = NOT flag WHERE id % 50 = 0 RETURNING *)
SELECT * FROM u ORDER BY id;
UPDATE h SET v = 'single' WHERE id = 2;
UPDATE l SET v = 'single' WHERE id = 2 RETURNING *;
-- the key column: rows move in the key order
UPDATE h SET k = k + 10000 WHERE k BETWEEN 30 AND 39;
UPDATE l SET k = k + 10000 WHERE k BETWEEN 30 AND 39;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k >= 10000 ORDER BY k, id;
WITH u AS (UPDATE l SET k = -k WHERE k BETWEEN 60 AND 62 RETURNING k, id, v)
SELECT * FROM u ORDER BY id;
UPDATE h SET k = -k WHERE k BETWEEN 60 AND 62;
SELECT same_rows('h', 'l');
-- key to NULL and back
UPDATE h SET k = NULL WHERE id IN (100 + 7, 100 + 8);
UPDATE l SET k = NULL WHERE id IN (100 + 7, 100 + 8);
SELECT * FROM l WHERE k IS NULL ORDER BY id;
UPDATE h SET k = id WHERE k IS NULL AND id IS NOT NULL;
UPDATE l SET k = id WHERE k IS NULL AND id IS NOT NULL;
SELECT * FROM l WHERE k IS NULL ORDER BY id;
SELECT same_rows('h', 'l');
CALL test_flush('l');
-- every row, the key moving upwards past rows the scan has yet to reach
UPDATE h SET k = k + 1;
UPDATE l SET k = k + 1;
SELECT same_rows('h', 'l');
UPDATE h SET k = k + 500 WHERE k < 500;
UPDATE l SET k = k + 500 WHERE k < 500;
SELECT same_rows('h', 'l');
-- and downwards
UPDATE h SET k = k - 700, id = id * 2;
UPDATE l SET k = k - 700, id = id * 2;
SELECT same_rows('h', 'l');
SELECT count(*), sum(k), sum(id), min(k), max(k) FROM l;
-- an UPDATE that changes nothing, and one that matches no row
UPDATE h SET v = v WHERE k < 0;
UPDATE l SET v = v WHERE k < 0;
UPDATE l SET v = 'none' WHERE k = 123456789;
SELECT same_rows('h', 'l');
-- UPDATE ... FROM
CREATE TEMP TABLE src (id int, newv text);
INSERT INTO src SELECT id, 'from src ' || id FROM h WHERE id % 7 = 0;
UPDATE h SET v = src.newv FROM src WHERE h.id = src.id;
UPDATE l SET v = src.newv FROM src WHERE l.id = src.id;
SELECT same_rows('h', 'l');
WITH u AS (UPDATE l SET n = src.id FROM src WHERE l.id = src.id AND src.id < 300 RETURNING l.*, src.newv)
SELECT * FROM u ORDER BY id;
UPDATE h SET n = src.id FROM src WHERE h.id = src.id AND src.id < 300;
SELECT same_rows('h', 'l');
-- with a subquery
UPDATE h SET n = (SELECT max(n) FROM h) WHERE k = (SELECT min(k) FROM h);
UPDATE l SET n = (SELECT max(n) FROM l) WHERE k = (SELECT min(k) FROM l);
SELECT same_rows('h', 'l');

--
-- DELETE
--
DELETE FROM h WHERE k BETWEEN 200 AND 250;
DELETE FROM l WHERE k BETWEEN 200 AND 250;
SELECT same_rows('h', 'l');
WITH d AS (DELETE FROM h WHERE id % 11 = 0 RETURNING *)
SELECT count(*) FROM d;
WITH d AS (DELETE FROM l WHERE id % 11 = 0 RETURNING *)
SELECT * FROM d ORDER BY id;
DELETE FROM h WHERE id = 12;
DELETE FROM l WHERE id = 12 RETURNING id, v;
DELETE FROM h USING src WHERE h.id = src.id + 2;
DELETE FROM l USING src WHERE l.id = src.id + 2;
SELECT same_rows('h', 'l');
WITH d AS (DELETE FROM l USING src WHERE l.id = src.id + 4 RETURNING l.id, src.newv)
SELECT * FROM d ORDER BY id;
DELETE FROM h USING src WHERE h.id = src.id + 4;
SELECT same_rows('h', 'l');
DELETE FROM h WHERE k IS NULL OR v IS NULL;
DELETE FROM l WHERE k IS NULL OR v IS NULL;
DELETE FROM l WHERE k = 123456789;
SELECT same_rows('h', 'l');
CALL test_flush('l');
SELECT same_rows('h', 'l');
SELECT * FROM l ORDER BY k, id LIMIT 20;

--
-- MERGE
--
CREATE TEMP TABLE msrc (k bigint, v text);
INSERT INTO msrc SELECT DISTINCT k, 'merged' FROM h WHERE id % 5 = 0;
INSERT INTO msrc VALUES (-1000, 'new'), (-1001, 'new too');
MERGE INTO h USING msrc ON h.k = msrc.k
WHEN MATCHED AND h.id % 2 = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET v = msrc.v
WHEN NOT MATCHED THEN INSERT (k, id, v) VALUES (msrc.k, -1, msrc.v);
MERGE INTO l USING msrc ON l.k = msrc.k
WHEN MATCHED AND l.id % 2 = 0 THEN DELETE
WHEN MATCHED THEN UPDATE SET v = msrc.v
WHEN NOT MATCHED THEN INSERT (k, id, v) VALUES (msrc.k, -1, msrc.v);
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE v IN ('merged', 'new', 'new too') ORDER BY k, id;

--
-- Row locks
--
SELECT * FROM l WHERE k = -1000 FOR UPDATE;
SELECT k, id FROM l WHERE k < -990 ORDER BY k FOR SHARE;
SELECT count(*) FROM (SELECT * FROM l FOR NO KEY UPDATE) s;
SELECT count(*) FROM (SELECT * FROM l FOR KEY SHARE) s;
BEGIN;
SELECT * FROM l WHERE k = -1001 FOR UPDATE;
UPDATE l SET v = 'locked, then updated' WHERE k = -1001;
UPDATE h SET v = 'locked, then updated' WHERE k = -1001;
SELECT * FROM l WHERE k = -1001 FOR UPDATE;
DELETE FROM l WHERE k = -1001;
DELETE FROM h WHERE k = -1001;
SELECT * FROM l WHERE k = -1001 FOR UPDATE;
COMMIT;
SELECT same_rows('h', 'l');

--
-- Transactions, rollback, savepoints
--
BEGIN;
INSERT INTO l VALUES (50000, 50000, 'rolled back');
UPDATE l SET v = 'rolled back' WHERE k < 0;
DELETE FROM l WHERE k > 0;
SELECT count(*), count(*) FILTER (WHERE v = 'rolled back') FROM l;
ROLLBACK;
SELECT same_rows('h', 'l');
BEGIN;
INSERT INTO l VALUES (50001, 50001, 'rolled back after a flush');
UPDATE l SET v = 'rolled back after a flush' WHERE k BETWEEN -200 AND 300;
DELETE FROM l WHERE k > 300;
CALL test_flush('l');
SELECT count(*), count(*) FILTER (WHERE v LIKE 'rolled back%') FROM l;
ROLLBACK;
SELECT same_rows('h', 'l');
CALL test_flush('l');
SELECT same_rows('h', 'l');
BEGIN;
INSERT INTO h VALUES (60000, 60000, 'committed');
INSERT INTO l VALUES (60000, 60000, 'committed');
UPDATE h SET v = 'committed' WHERE k BETWEEN 294 AND 310;
UPDATE l SET v = 'committed' WHERE k BETWEEN 294 AND 310;
COMMIT;
SELECT same_rows('h', 'l');
-- nested savepoints: ROLLBACK TO and RELEASE at several depths
BEGIN;
INSERT INTO h VALUES (70000, 70000, 'top');
INSERT INTO l VALUES (70000, 70000, 'top');
SAVEPOINT a;
INSERT INTO h VALUES (70001, 70001, 'in a');
INSERT INTO l VALUES (70001, 70001, 'in a');
UPDATE h SET v = 'updated in a' WHERE k = 70000;
UPDATE l SET v = 'updated in a' WHERE k = 70000;
SAVEPOINT b;
INSERT INTO h VALUES (70002, 70002, 'in b');
INSERT INTO l VALUES (70002, 70002, 'in b');
DELETE FROM h WHERE k = 70001;
DELETE FROM l WHERE k = 70001;
SAVEPOINT c;
UPDATE h SET v = 'updated in c' WHERE k >= 70000;
UPDATE l SET v = 'updated in c' WHERE k >= 70000;
CALL test_flush('l');
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
ROLLBACK TO c;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
SELECT same_rows('h', 'l');
RELEASE b;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
SAVEPOINT d;
DELETE FROM h WHERE k >= 70000;
DELETE FROM l WHERE k >= 70000;
SAVEPOINT e;
INSERT INTO h VALUES (70003, 70003, 'in e');
INSERT INTO l VALUES (70003, 70003, 'in e');
RELEASE e;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
ROLLBACK TO d;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
ROLLBACK TO a;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
SAVEPOINT f;
UPDATE h SET v = 'updated in f' WHERE k = 70000;
UPDATE l SET v = 'updated in f' WHERE k = 70000;
RELEASE f;
COMMIT;
SELECT * FROM l WHERE k >= 70000 ORDER BY k;
SELECT same_rows('h', 'l');
-- an error rolls back to the savepoint
BEGIN;
SAVEPOINT s;
INSERT INTO l VALUES (80000, 80000, 'before the error');
INSERT INTO l VALUES (80001, 1 / 0, 'error');
ROLLBACK TO s;
INSERT INTO l VALUES (80002, 80002, 'after the error');
INSERT INTO h VALUES (80002, 80002, 'after the error');
COMMIT;
SELECT * FROM l WHERE k >= 80000 ORDER BY k;
SELECT same_rows('h', 'l');
-- an aborted transaction
BEGIN;
INSERT INTO l VALUES (80003, 80003, 'aborted');
SELECT 1 / 0;
SELECT * FROM l;
COMMIT;
SELECT * FROM l WHERE k >= 80000 ORDER BY k;

-- the same row updated many times in one transaction, with savepoints and
-- flushes in between
CREATE TABLE hm (k int, counter int, hist text) USING heap;
CREATE TABLE lm (k int, counter int, hist text) USING :am;
INSERT INTO hm VALUES (1, 0, ''), (2, 0, ''), (3, 0, '');
INSERT INTO lm VALUES (1, 0, ''), (2, 0, ''), (3, 0, '');
BEGIN;
DO $$
BEGIN
	FOR i IN 1..500 LOOP
		UPDATE hm SET counter = counter + 1, hist = right(hist || i::text || ',', 200) WHERE k = 1;
		UPDATE lm SET counter = counter + 1, hist = right(hist || i::text || ',', 200) WHERE k = 1;
		UPDATE hm SET counter = counter + 2 WHERE k = 2;
		UPDATE lm SET counter = counter + 2 WHERE k = 2;
		IF i % 100 = 0 THEN
			CALL test_flush('lm');
		END IF;
	END LOOP;
END $$;
SELECT * FROM lm ORDER BY k;
SAVEPOINT s1;
UPDATE hm SET counter = counter * 10;
UPDATE lm SET counter = counter * 10;
UPDATE hm SET k = k + 10;
UPDATE lm SET k = k + 10;
SELECT * FROM lm ORDER BY k;
ROLLBACK TO s1;
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		BEGIN
			UPDATE hm SET counter = counter + 1000 WHERE k = 3;
			UPDATE lm SET counter = counter + 1000 WHERE k = 3;
			IF i % 3 = 0 THEN
				RAISE EXCEPTION 'roll back this subtransaction';
			END IF;
		EXCEPTION WHEN raise_exception THEN
			NULL;
		END;
	END LOOP;
END $$;
SELECT * FROM lm ORDER BY k;
SELECT same_rows('hm', 'lm');
COMMIT;
SELECT * FROM lm ORDER BY k;
SELECT same_rows('hm', 'lm');
CALL test_flush('lm');
SELECT * FROM lm ORDER BY k;
-- and again, then rolled back
BEGIN;
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		UPDATE lm SET counter = counter - 1, k = k + 1;
		IF i % 100 = 0 THEN
			CALL test_flush('lm');
		END IF;
	END LOOP;
END $$;
SELECT * FROM lm ORDER BY k;
ROLLBACK;
SELECT * FROM lm ORDER BY k;
SELECT same_rows('hm', 'lm');
-- insert and delete the same key many times
BEGIN;
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		INSERT INTO lm VALUES (4, i, 'churn');
		INSERT INTO hm VALUES (4, i, 'churn');
		IF i % 2 = 0 THEN
			DELETE FROM lm WHERE k = 4 AND counter < i;
			DELETE FROM hm WHERE k = 4 AND counter < i;
		END IF;
	END LOOP;
END $$;
COMMIT;
SELECT * FROM lm ORDER BY k, counter;
SELECT same_rows('hm', 'lm');

--
-- Cursors and prepared statements
--
PREPARE upd(bigint, text) AS UPDATE l SET v = $2 WHERE k = $1;
PREPARE sel(bigint) AS SELECT k, id, v FROM l WHERE k = $1 ORDER BY id;
EXECUTE upd(60000, 'prepared');
EXECUTE sel(60000);
UPDATE h SET v = 'prepared' WHERE k = 60000;
EXECUTE upd(60000, 'prepared again');
EXECUTE sel(60000);
UPDATE h SET v = 'prepared again' WHERE k = 60000;
DEALLOCATE upd;
DEALLOCATE sel;
SELECT same_rows('h', 'l');
-- rows inserted in key order come back in the same order from both
CREATE TABLE hc (k int, v text) USING heap;
CREATE TABLE lc (k int, v text) USING :am;
INSERT INTO hc SELECT g, 'row ' || g FROM generate_series(1, 10) g;
INSERT INTO lc SELECT g, 'row ' || g FROM generate_series(1, 10) g;
CALL test_flush('lc');
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT * FROM lc;
FETCH 3 FROM c;
FETCH BACKWARD 2 FROM c;
FETCH LAST FROM c;
FETCH ABSOLUTE 5 FROM c;
FETCH RELATIVE -3 FROM c;
FETCH FORWARD ALL FROM c;
CLOSE c;
DECLARE c2 CURSOR FOR SELECT * FROM lc WHERE k > 3 FOR UPDATE;
FETCH 2 FROM c2;
UPDATE lc SET v = v || ' (current of)' WHERE CURRENT OF c2;
FETCH 1 FROM c2;
DELETE FROM lc WHERE CURRENT OF c2;
CLOSE c2;
COMMIT;
UPDATE hc SET v = v || ' (current of)' WHERE k = 5;
DELETE FROM hc WHERE k = 6;
SELECT same_rows('hc', 'lc');

--
-- COPY
--
COPY hc FROM stdin;
11	eleven
12	\N
13	thirteen, with a tab:\tand a backslash: \\
\.
COPY lc FROM stdin;
11	eleven
12	\N
13	thirteen, with a tab:\tand a backslash: \\
\.
SELECT same_rows('hc', 'lc');
CALL test_flush('lc');
COPY lc (v, k) FROM stdin WITH (FORMAT csv);
"fourteen, in csv",14
,15
\.
COPY hc (v, k) FROM stdin WITH (FORMAT csv);
"fourteen, in csv",14
,15
\.
SELECT same_rows('hc', 'lc');
-- a COPY large enough to fill several multi-insert batches
COPY lc (k) FROM PROGRAM 'seq 16 5015';
COPY hc (k) FROM PROGRAM 'seq 16 5015';
SELECT same_rows('hc', 'lc');
SELECT count(*), sum(k), count(v) FROM lc;
COPY (SELECT * FROM lc WHERE k < 20 ORDER BY k) TO stdout;
DELETE FROM lc WHERE k > 20;
DELETE FROM hc WHERE k > 20;
-- COPY TO gives the rows in scan order: this table is filled in key order
-- and never updated, so heap's order is the key order too
CREATE TABLE lk (k int, v text) USING :am;
INSERT INTO lk SELECT * FROM hc WHERE k <= 10 ORDER BY k;
CALL test_flush('lk');
INSERT INTO lk SELECT * FROM hc WHERE k > 10 ORDER BY k;
COPY lk TO stdout;
COPY lk (v, k) TO stdout WITH (FORMAT csv, HEADER);
DROP TABLE lk;
-- errors in the middle of a COPY leave nothing behind
COPY lc FROM stdin;
21	fine
22	fine too
x23	not an integer
24	never read
\.
COPY lc FROM stdin;
25	one column too many	x
\.
SELECT same_rows('hc', 'lc');
-- COPY in a rolled-back transaction, and COPY FREEZE after a TRUNCATE
BEGIN;
COPY lc FROM stdin;
26	rolled back
\.
SELECT count(*) FROM lc WHERE k = 26;
ROLLBACK;
SELECT count(*) FROM lc WHERE k = 26;
BEGIN;
TRUNCATE lc;
COPY lc FROM stdin WITH (FREEZE);
1	frozen
2	frozen
\.
COMMIT;
BEGIN;
TRUNCATE hc;
COPY hc FROM stdin WITH (FREEZE);
1	frozen
2	frozen
\.
COMMIT;
SELECT * FROM lc ORDER BY k;
SELECT same_rows('hc', 'lc');

--
-- CREATE TABLE AS, SELECT INTO
--
CREATE TABLE lcta USING :am AS SELECT * FROM h WHERE id % 3 = 0;
CREATE TABLE hcta USING heap AS SELECT * FROM h WHERE id % 3 = 0;
SELECT same_rows('hcta', 'lcta');
SELECT a.amname = :'am' AS am_as_asked FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname = 'lcta';
CALL test_flush('lcta');
SELECT same_rows('hcta', 'lcta');
DROP TABLE lcta, hcta;
CREATE TABLE lcta2 USING :am AS SELECT g AS k, repeat('x', g % 50) AS v FROM generate_series(1, 2000) g WITH NO DATA;
SELECT count(*) FROM lcta2;
INSERT INTO lcta2 SELECT g, repeat('x', g % 50) FROM generate_series(1, 2000) g;
SELECT count(*), sum(k), sum(length(v)) FROM lcta2;
DROP TABLE lcta2;
SET default_table_access_method = :am;
CREATE TABLE lcta3 AS SELECT * FROM h;
SELECT * INTO lcta4 FROM h WHERE k BETWEEN 294 AND 300;
RESET default_table_access_method;
SELECT c.relname, a.amname = :'am' AS am_as_asked
FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname IN ('lcta3', 'lcta4') ORDER BY 1;
SELECT same_rows('h', 'lcta3');
SELECT * FROM lcta4 ORDER BY k, id;
DROP TABLE lcta3, lcta4;
-- CREATE TABLE AS in a transaction that rolls back
BEGIN;
CREATE TABLE lcta5 USING :am AS SELECT * FROM h;
SELECT same_rows('h', 'lcta5');
ROLLBACK;
SELECT to_regclass('lcta5');

--
-- A btree index on another column (an lsm row's TID is its row id)
--
CREATE INDEX h_id ON h (id);
CREATE INDEX l_id ON l (id);
SET enable_seqscan = off;
SELECT * FROM l WHERE id BETWEEN 290 AND 330 ORDER BY id;
UPDATE h SET v = 'through the index' WHERE id IN (294, 296);
UPDATE l SET v = 'through the index' WHERE id IN (294, 296);
DELETE FROM h WHERE id = 298;
DELETE FROM l WHERE id = 298;
SELECT * FROM l WHERE id BETWEEN 290 AND 330 ORDER BY id;
RESET enable_seqscan;
SELECT same_rows('h', 'l');

--
-- ALTER TABLE ADD / DROP COLUMN
--
ALTER TABLE h ADD COLUMN extra int;
ALTER TABLE l ADD COLUMN extra int;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k BETWEEN 294 AND 300 OR k >= 90000 ORDER BY k, id;
ALTER TABLE h ADD COLUMN d text DEFAULT 'dflt';
ALTER TABLE l ADD COLUMN d text DEFAULT 'dflt';
INSERT INTO h (k, id, v, extra) VALUES (90000, 90000, 'after add column', 7);
INSERT INTO l (k, id, v, extra) VALUES (90000, 90000, 'after add column', 7);
UPDATE h SET extra = id % 10, d = d || '!' WHERE k BETWEEN 294 AND 310;
UPDATE l SET extra = id % 10, d = d || '!' WHERE k BETWEEN 294 AND 310;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k BETWEEN 294 AND 300 OR k >= 90000 ORDER BY k, id;
CALL test_flush('l');
ALTER TABLE h DROP COLUMN flag;
ALTER TABLE l DROP COLUMN flag;
SELECT same_rows('h', 'l');
SELECT * FROM l WHERE k BETWEEN 294 AND 300 OR k >= 90000 ORDER BY k, id;
INSERT INTO h VALUES (90001, 90001, 'after drop column', 1.5, 8, 'd');
INSERT INTO l VALUES (90001, 90001, 'after drop column', 1.5, 8, 'd');
SELECT same_rows('h', 'l');
-- a volatile default and a type change rewrite the table
ALTER TABLE h ADD COLUMN r int DEFAULT (random() * 0)::int;
ALTER TABLE l ADD COLUMN r int DEFAULT (random() * 0)::int;
SELECT same_rows('h', 'l');
ALTER TABLE h ALTER COLUMN id TYPE bigint;
ALTER TABLE l ALTER COLUMN id TYPE bigint;
SELECT same_rows('h', 'l');
SELECT a.amname = :'am' AS am_as_asked FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname = 'l';
SELECT * FROM l WHERE k = 90001;
SET enable_seqscan = off;
SELECT * FROM l WHERE id BETWEEN 290 AND 300 ORDER BY id;
RESET enable_seqscan;
ALTER TABLE h DROP COLUMN extra, DROP COLUMN r;
ALTER TABLE l DROP COLUMN extra, DROP COLUMN r;
SELECT same_rows('h', 'l');

--
-- TRUNCATE
--
CREATE TABLE ht (k int, v text) USING heap;
CREATE TABLE lt (k int, v text) USING :am;
INSERT INTO ht SELECT g, 'v' || g FROM generate_series(1, 1000) g;
INSERT INTO lt SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CALL test_flush('lt');
INSERT INTO ht SELECT g, 'w' || g FROM generate_series(1001, 1500) g;
INSERT INTO lt SELECT g, 'w' || g FROM generate_series(1001, 1500) g;
-- rolled back: everything is still there
BEGIN;
TRUNCATE lt;
SELECT count(*) FROM lt;
INSERT INTO lt VALUES (1, 'after truncate');
SELECT * FROM lt;
ROLLBACK;
SELECT same_rows('ht', 'lt');
BEGIN;
TRUNCATE lt;
SAVEPOINT s;
INSERT INTO lt VALUES (1, 'after truncate');
ROLLBACK TO s;
ROLLBACK;
SELECT same_rows('ht', 'lt');
-- committed
TRUNCATE lt;
TRUNCATE ht;
SELECT count(*) FROM lt;
SELECT same_rows('ht', 'lt');
INSERT INTO lt VALUES (2, 'after truncate'), (1, 'after truncate');
INSERT INTO ht VALUES (2, 'after truncate'), (1, 'after truncate');
CALL test_flush('lt');
SELECT * FROM lt ORDER BY k;
SELECT same_rows('ht', 'lt');
-- in a transaction, then more rows
BEGIN;
INSERT INTO lt VALUES (3, 'gone');
TRUNCATE lt;
INSERT INTO lt VALUES (4, 'kept');
COMMIT;
SELECT * FROM lt;
-- created and truncated in the same transaction
BEGIN;
CREATE TABLE lt2 (k int, v text) USING :am;
INSERT INTO lt2 SELECT g, 'x' FROM generate_series(1, 100) g;
CALL test_flush('lt2');
TRUNCATE lt2;
INSERT INTO lt2 VALUES (5, 'y');
COMMIT;
SELECT * FROM lt2;
-- TRUNCATE of several tables at once
TRUNCATE lt, lt2, ht;
SELECT (SELECT count(*) FROM lt) + (SELECT count(*) FROM lt2) AS rows_left;

--
-- DROP TABLE
--
BEGIN;
DROP TABLE lt2;
ROLLBACK;
INSERT INTO lt2 VALUES (6, 'still here');
SELECT * FROM lt2;
DROP TABLE lt2;
SELECT to_regclass('lt2');
BEGIN;
CREATE TABLE lt3 (k int) USING :am;
INSERT INTO lt3 VALUES (1);
DROP TABLE lt3;
COMMIT;
-- a table with the same name again starts empty
CREATE TABLE lt2 (k int, v text) USING :am;
SELECT count(*) FROM lt2;
DROP TABLE lt2;

--
-- Large values, up to the maximum row size of lsm tables (lsm_row_size
-- tests the maximum itself): rows are stored inline, uncompressed by TOAST
--
CREATE TABLE hb (k int, v text, b bytea, n numeric) USING heap;
CREATE TABLE lb (k int, v text, b bytea, n numeric) USING :am;
INSERT INTO hb VALUES (1, repeat('a', 8000), NULL, NULL),
	(2, NULL, decode(repeat(md5('x'), 120), 'hex'), NULL),
	(3, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g), NULL, 1e1000),
	(4, repeat('ab', 2000), decode(repeat('00ff', 1000), 'hex'), -1e-500);
INSERT INTO lb SELECT * FROM hb;
SELECT same_rows('hb', 'lb');
SELECT k, length(v), md5(v), length(b), md5(b), length(n::text) FROM lb ORDER BY k;
CALL test_flush('lb');
SELECT k, length(v), md5(v), length(b), md5(b), length(n::text) FROM lb ORDER BY k;
UPDATE hb SET v = left(v || repeat('z', 3000), 7900) WHERE k IN (1, 3);
UPDATE lb SET v = left(v || repeat('z', 3000), 7900) WHERE k IN (1, 3);
UPDATE hb SET v = left(v || repeat('y', 3000), 5500) WHERE k = 4;
UPDATE lb SET v = left(v || repeat('y', 3000), 5500) WHERE k = 4;
UPDATE hb SET k = k + 10 WHERE k = 2;
UPDATE lb SET k = k + 10 WHERE k = 2;
SELECT same_rows('hb', 'lb');
SELECT k, length(v), md5(v), length(b), md5(b), length(n::text) FROM lb ORDER BY k;
-- large values in the key column
CREATE TABLE hbk (k text COLLATE "C", v int) USING heap;
CREATE TABLE lbk (k text COLLATE "C", v int) USING :am;
INSERT INTO hbk SELECT repeat(chr(97 + g % 3), 100 + g * 300) || g, g FROM generate_series(1, 12) g;
INSERT INTO lbk SELECT repeat(chr(97 + g % 3), 100 + g * 300) || g, g FROM generate_series(1, 12) g;
CALL test_flush('lbk');
INSERT INTO hbk SELECT repeat(chr(97 + g % 3), 100 + g * 300), g FROM generate_series(1, 12) g;
INSERT INTO lbk SELECT repeat(chr(97 + g % 3), 100 + g * 300), g FROM generate_series(1, 12) g;
SELECT same_rows('hbk', 'lbk');
SELECT left(k, 3), length(k), v FROM lbk ORDER BY k, v;
SELECT v FROM lbk WHERE k = repeat('a', 1900) || 6;
DROP TABLE hb, lb, hbk, lbk;

--
-- Errors for bad input
--
CREATE TABLE le (k int NOT NULL, v text CHECK (v <> 'bad'), w varchar(3)) USING :am;
INSERT INTO le VALUES ('abc', 'x', 'y');
INSERT INTO le VALUES (2147483648, 'x', 'y');
INSERT INTO le VALUES (NULL, 'x', 'y');
INSERT INTO le VALUES (1, 'bad', 'y');
INSERT INTO le VALUES (1, 'x', 'toolong');
INSERT INTO le VALUES (1, 'x', 'y', 'one too many');
INSERT INTO le (k, nosuchcolumn) VALUES (1, 2);
INSERT INTO le VALUES (1, 'good', 'a'), (2, 'good', 'b'), (3, 'bad', 'c');
SELECT count(*) FROM le;
INSERT INTO le VALUES (1, 'good', 'a'), (2, 'good', 'b');
UPDATE le SET k = NULL WHERE k = 1;
UPDATE le SET v = 'bad' WHERE k = 2;
UPDATE le SET k = k / (k - 2);
UPDATE le SET w = w || 'long';
DELETE FROM le WHERE k = 1 / 0;
SELECT * FROM le ORDER BY k;
CALL test_flush('le');
SELECT * FROM le ORDER BY k;
DROP TABLE le;

-- Everything once more after a last flush.
CALL test_flush('l');
SELECT same_rows('h', 'l');
SELECT count(*), sum(k), sum(id), count(v), sum(n) FROM l;

DROP TABLE h, l, hm, lm, hc, lc, ht, lt;
DROP EXTENSION lsm_am;
