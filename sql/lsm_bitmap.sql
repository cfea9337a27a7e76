--
-- lsm_bitmap: bitmap heap scans of lsm tables (a TID names a row id: block
-- id / 291, offset id % 291 + 1) give exactly heap's answers: single
-- indexes, BitmapOr and BitmapAnd, exact and lossy pages (a small
-- work_mem), recheck conditions, rows updated, deleted, rolled back and
-- still in the memtable.  Plan shapes are checked through has_node(); every
-- answer is compared with a heap table's under a sequential scan.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- (test_flush() does nothing for them): that run produced the expected
-- output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

-- Whether the plan of query has a node of the given type.
CREATE FUNCTION has_node(query text, node text) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%' || node || '%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;

-- Runs query (%s stands for the table) on l with only bitmap scans allowed,
-- and on h with a sequential scan; counts the rows and the differences.
CREATE FUNCTION check_bitmap(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	diff bigint;
	bitmap bool;
BEGIN
	CREATE TEMP TABLE expect AS SELECT * FROM h LIMIT 0;
	CREATE TEMP TABLE got AS SELECT * FROM h LIMIT 0;
	SET LOCAL enable_bitmapscan = off;
	SET LOCAL enable_indexscan = off;
	EXECUTE format('INSERT INTO expect %s', format(q, 'h'));
	SET LOCAL enable_bitmapscan = on;
	SET LOCAL enable_seqscan = off;
	bitmap := has_node(format(q, 'l'), 'Bitmap Heap Scan on l');
	EXECUTE format('INSERT INTO got %s', format(q, 'l'));
	SELECT count(*) INTO n FROM got;
	SELECT count(*) INTO diff FROM ((TABLE got EXCEPT ALL TABLE expect) UNION ALL
									(TABLE expect EXCEPT ALL TABLE got)) d;
	DROP TABLE expect, got;
	RETURN format('%s rows, %s differences from heap, bitmap heap scan: %s', n, diff, bitmap);
END $$;

CREATE TABLE h (k int, a int, b int, c text) USING heap;
CREATE TABLE l (k int, a int, b int, c text) USING :am;
INSERT INTO h SELECT g, g % 100, g % 37, 'c' || (g % 1000) FROM generate_series(1, 20000) g;
INSERT INTO l SELECT g, g % 100, g % 37, 'c' || (g % 1000) FROM generate_series(1, 20000) g;
CALL test_flush('l');
INSERT INTO h SELECT g, g % 100, g % 37, 'late' FROM generate_series(20001, 21000) g;
INSERT INTO l SELECT g, g % 100, g % 37, 'late' FROM generate_series(20001, 21000) g;
CREATE INDEX l_a ON l (a);
CREATE INDEX l_b ON l (b);
CREATE INDEX l_c ON l (c);
ANALYZE l;
SET enable_indexscan = off;

-- one index, exact pages
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7');
SELECT check_bitmap('SELECT * FROM %s WHERE a IN (1, 50, 99)');
SELECT check_bitmap('SELECT * FROM %s WHERE c = ''late''');
SELECT check_bitmap('SELECT * FROM %s WHERE a < 3 AND mod(k, 2) = 0');
-- BitmapOr and BitmapAnd
SELECT has_node('SELECT * FROM l WHERE a = 7 OR b = 5', 'BitmapOr');
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 OR b = 5');
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 OR c = ''c123'' OR b = 36');
SET enable_seqscan = off;
SELECT has_node('SELECT * FROM l WHERE a = 7 AND b = 5', 'BitmapAnd');
RESET enable_seqscan;
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 AND b = 5');
SELECT check_bitmap('SELECT * FROM %s WHERE (a = 7 AND b = 5) OR c = ''c999''');

-- after updates (new row ids), deletes, a rolled-back transaction and a flush
UPDATE h SET a = 7, c = c || '!' WHERE k % 97 = 0;
UPDATE l SET a = 7, c = c || '!' WHERE k % 97 = 0;
DELETE FROM h WHERE k % 101 = 0;
DELETE FROM l WHERE k % 101 = 0;
BEGIN;
INSERT INTO l SELECT g, 7, 5, 'rolled back' FROM generate_series(1, 500) g;
DELETE FROM l WHERE a = 7;
ROLLBACK;
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7');
CALL test_flush('l');
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 OR b = 5');
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 AND b = 5');
-- inside a transaction: its own changes, and a cursor moving both ways
BEGIN;
UPDATE l SET b = 5 WHERE a = 8;
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM l WHERE b = 5;
DECLARE cur SCROLL CURSOR FOR SELECT k FROM l WHERE a = 9 ORDER BY k;
FETCH 3 FROM cur;
FETCH BACKWARD 2 FROM cur;
ROLLBACK;

-- A bitmap too large for work_mem turns lossy: whole TID blocks are
-- visited (every row id of the block) and the conditions rechecked.
CREATE FUNCTION lossy_blocks(query text) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ' || query LOOP
		IF line LIKE '%Heap Blocks:%lossy=%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
INSERT INTO h SELECT g, g % 100, g % 37, 'big' FROM generate_series(100001, 400000) g;
INSERT INTO l SELECT g, g % 100, g % 37, 'big' FROM generate_series(100001, 400000) g;
ANALYZE l;
SET work_mem = '64kB';
SET enable_seqscan = off;
SELECT lossy_blocks('SELECT count(*) FROM l WHERE a = 7 OR b = 5');
RESET enable_seqscan;
SELECT check_bitmap('SELECT * FROM %s WHERE a = 7 OR b = 5');
RESET work_mem;

RESET enable_indexscan;
DROP TABLE h, l;
DROP FUNCTION check_bitmap, has_node, lossy_blocks;
DROP EXTENSION lsm_am;
