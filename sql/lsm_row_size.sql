--
-- lsm_row_size: an lsm table stores each row inline, fully detoasted (it
-- has no TOAST table), as one entry of at most 8128 bytes: the key (family
-- byte, the first column's encoding, 6-byte row id) plus the row as a heap
-- tuple (24-byte header, then the values uncompressed).  A larger row is
-- refused with an error (SQLSTATE 54000, program_limit_exceeded), whatever
-- statement brings it, and nothing of that statement is written.  Heap has
-- no such limit, so this output is the lsm access method's own.
--
CREATE EXTENSION lsm_am;
CREATE TABLE big (k int, v text) USING lsm;
SELECT reltoastrelid = 0 AS no_toast_table FROM pg_class WHERE relname = 'big';

-- (k int, v text): key 1 + 1 + 4 + 6 = 12 bytes, row 24 + 4 + 4 + length(v)
INSERT INTO big VALUES (1, repeat('a', 8084));	-- 12 + 8116 = 8128: the maximum
INSERT INTO big VALUES (2, repeat('b', 8085));	-- one byte more
INSERT INTO big VALUES (3, NULL), (4, '');
SELECT k, length(v), md5(v) = md5(repeat('a', 8084)) AS intact FROM big ORDER BY k;
SELECT lsm_flush('big');
SELECT k, length(v), md5(v) = md5(repeat('a', 8084)) AS intact FROM big ORDER BY k;

-- Values count uncompressed, however compressible ...
INSERT INTO big VALUES (5, repeat('c', 1000000));
-- ... and however they arrive: compressed in a heap table's TOAST, or
-- compressed inline.
CREATE TABLE src (k int, v text) USING heap;
INSERT INTO src VALUES (6, repeat('d', 100000)), (7, repeat('e', 9000));
SELECT k, length(v), pg_column_size(v) < 9000 AS compressed FROM src ORDER BY k;
INSERT INTO big SELECT * FROM src WHERE k = 6;
INSERT INTO big SELECT * FROM src WHERE k = 7;
-- A compressed value that fits once decompressed is stored.
INSERT INTO src VALUES (8, repeat('f', 8000));
INSERT INTO big SELECT * FROM src WHERE k = 8;
SELECT k, length(v), v = repeat('f', 8000) AS intact FROM big WHERE k = 8;

-- Every way in: UPDATE, multi-row INSERT, INSERT ... SELECT, COPY, CREATE
-- TABLE AS; the statement fails as a whole.
UPDATE big SET v = v || 'x' WHERE k = 1;
UPDATE big SET v = repeat('g', 9000) WHERE k = 4;
INSERT INTO big VALUES (9, 'small'), (10, repeat('h', 9000)), (11, 'small');
INSERT INTO big SELECT g, repeat('i', g) FROM generate_series(8080, 8090) g;
COPY big FROM PROGRAM 'printf "12\tsmall\n13\t%09000d\n14\tsmall\n" 0';
CREATE TABLE big2 USING lsm AS SELECT g AS k, repeat('j', g) AS v FROM generate_series(8080, 8090) g;
SELECT to_regclass('big2');
BEGIN;
INSERT INTO big VALUES (15, 'in a transaction');
SAVEPOINT s;
INSERT INTO big VALUES (16, repeat('k', 10000));
ROLLBACK TO s;
INSERT INTO big VALUES (17, 'after the error');
COMMIT;
SELECT k, length(v) FROM big ORDER BY k;
-- The error can be caught by its SQLSTATE.
DO $$
BEGIN
	INSERT INTO big VALUES (18, repeat('l', 20000));
EXCEPTION WHEN program_limit_exceeded THEN
	RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;

-- The key counts too.  (k text COLLATE "C", v text): key 1 + 1 + length(k)
-- + 2 + 6, row 24 + 4 + length(k) + 4 + length(v).
CREATE TABLE bigkey (k text COLLATE "C", v text) USING lsm;
INSERT INTO bigkey VALUES (repeat('k', 1000), repeat('v', 7030));	-- 1010 + 8062 = 9072
INSERT INTO bigkey VALUES (repeat('k', 1000), repeat('v', 6086));	-- 1010 + 7118 = 8128
INSERT INTO bigkey VALUES (repeat('k', 4000), repeat('v', 1000));
SELECT length(k), length(v) FROM bigkey ORDER BY 1, 2;
SELECT lsm_flush('bigkey');
SELECT length(k), length(v) FROM bigkey WHERE k = repeat('k', 1000);

-- Several columns: the sum counts.
CREATE TABLE wide (k int, a text, b text, c bytea) USING lsm;
INSERT INTO wide VALUES (1, repeat('a', 2700), repeat('b', 2700), decode(repeat('cc', 2700), 'hex'));
INSERT INTO wide VALUES (2, repeat('a', 2000), repeat('b', 2000), decode(repeat('cc', 2000), 'hex'));
SELECT k, length(a), length(b), length(c) FROM wide ORDER BY k;

DROP TABLE big, src, bigkey, wide;
DROP EXTENSION lsm_am;
