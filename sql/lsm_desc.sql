--
-- lsm_desc: reverse key order.  ORDER BY key DESC, with or without LIMIT,
-- ranges, IN lists and IS [NOT] NULL, is served by LsmScan reading its key
-- ranges backward (no Sort), NULLS FIRST as a btree read backward gives.
-- Every result is compared with the same query on a heap copy, in order;
-- ties on the key are broken by the value (ORDER BY k DESC, v) or left out
-- (only k selected), since heap's order among equal keys is its own.  The
-- table's rows lie in a memtable and in runs, with updated and deleted rows
-- whose versions the backward reads must resolve as forward ones do.
--
CREATE EXTENSION IF NOT EXISTS lsm_am;

CREATE TABLE dl (k int, v text) USING lsm;
CREATE TABLE dh (k int, v text);
INSERT INTO dl SELECT g % 500, 'v' || g FROM generate_series(1, 3000) g;
INSERT INTO dl VALUES (NULL, 'null 1'), (NULL, 'null 2');
SELECT lsm_flush('dl');
UPDATE dl SET v = v || '+' WHERE k % 7 = 0;
DELETE FROM dl WHERE k % 11 = 0;
SELECT lsm_flush('dl');
SELECT lsm_compact('dl');
INSERT INTO dl SELECT g % 600, 'w' || g FROM generate_series(1, 800) g;
UPDATE dl SET v = v || '*' WHERE k % 13 = 0;
DELETE FROM dl WHERE k % 17 = 0;
INSERT INTO dh SELECT * FROM dl;
ANALYZE dl, dh;

-- Whether query q (TBL standing for the table) gives the same rows in the
-- same order on both tables.
CREATE FUNCTION same_order(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	a text[];
	b text[];
BEGIN
	EXECUTE format('SELECT array_agg(x::text) FROM (%s) x', replace(q, 'TBL', 'dl')) INTO a;
	EXECUTE format('SELECT array_agg(x::text) FROM (%s) x', replace(q, 'TBL', 'dh')) INTO b;
	IF a IS NOT DISTINCT FROM b THEN
		RETURN format('same %s rows', coalesce(cardinality(a), 0));
	END IF;
	RETURN format('DIFFERENT: lsm %s rows, heap %s', cardinality(a), cardinality(b));
END $$;

EXPLAIN (COSTS OFF) SELECT * FROM dl ORDER BY k DESC LIMIT 10;
SELECT same_order('SELECT k FROM TBL ORDER BY k DESC LIMIT 10');
SELECT same_order('SELECT k FROM TBL ORDER BY k DESC');
SELECT same_order('SELECT k, v FROM TBL ORDER BY k DESC, v');
SELECT k FROM dl ORDER BY k DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM dl WHERE k BETWEEN 100 AND 200 ORDER BY k DESC;
SELECT same_order('SELECT k FROM TBL WHERE k BETWEEN 100 AND 200 ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k > 550 ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k < 20 ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k >= 0 AND k <= 0 ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k IN (3, 599, 250, 77) ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k IS NULL ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL WHERE k IS NOT NULL ORDER BY k DESC LIMIT 3');
SELECT same_order('SELECT k FROM TBL WHERE k > 1000 ORDER BY k DESC');
SELECT same_order('SELECT k FROM TBL ORDER BY k DESC NULLS FIRST LIMIT 4');
SELECT same_order('SELECT k FROM TBL ORDER BY k DESC NULLS LAST LIMIT 4');

-- max() reads one key from the end.
EXPLAIN (COSTS OFF) SELECT max(k) FROM dl;
SELECT max(k), min(k) FROM dl;

-- A parameter bounding the range, planned once.
PREPARE latest(int) AS SELECT k FROM dl WHERE k < $1 ORDER BY k DESC LIMIT 3;
EXECUTE latest(100);
EXECUTE latest(1);
EXECUTE latest(0);
DEALLOCATE latest;

-- A scroll cursor over a backward plan moves both ways.
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT k FROM dl WHERE k BETWEEN 10 AND 14 ORDER BY k DESC;
FETCH 3 FROM c;
FETCH BACKWARD 2 FROM c;
FETCH LAST FROM c;
FETCH PRIOR FROM c;
FETCH ABSOLUTE 1 FROM c;
COMMIT;

-- Without SCROLL a cursor over LsmScan also moves back, as one over a heap
-- table's scan does, in either key order; a scroll cursor needs no Material.
CREATE TABLE ul (k int, v text) USING lsm;
INSERT INTO ul SELECT g, 'u' || g FROM generate_series(1, 10) g;
SELECT lsm_flush('ul');
UPDATE ul SET v = v || '!' WHERE k IN (4, 8);
BEGIN;
DECLARE c2 CURSOR FOR SELECT * FROM ul WHERE k BETWEEN 3 AND 9 ORDER BY k DESC;
FETCH 3 FROM c2;
FETCH BACKWARD 2 FROM c2;
FETCH FORWARD 4 FROM c2;
FETCH PRIOR FROM c2;
DECLARE c3 CURSOR FOR SELECT * FROM ul WHERE k BETWEEN 3 AND 9 ORDER BY k;
FETCH 3 FROM c3;
FETCH BACKWARD 2 FROM c3;
MOVE LAST IN c3;
FETCH PRIOR FROM c3;
FETCH ABSOLUTE 2 FROM c3;
COMMIT;
EXPLAIN (COSTS OFF) DECLARE c4 SCROLL CURSOR FOR SELECT k FROM ul ORDER BY k DESC LIMIT 5;
DROP TABLE ul;

-- Rows changed in the transaction reading backward, and FOR UPDATE.
BEGIN;
UPDATE dl SET v = 'changed' WHERE k = 599;
DELETE FROM dl WHERE k = 598;
INSERT INTO dl VALUES (700, 'new');
SELECT k, v FROM dl ORDER BY k DESC LIMIT 4;
SELECT k FROM dl WHERE k > 590 ORDER BY k DESC LIMIT 3 FOR UPDATE;
ROLLBACK;
SELECT k, v FROM dl ORDER BY k DESC, v LIMIT 3;

-- Text keys under "C", timestamps, numerics and floats read backward.
CREATE TABLE tl (k text COLLATE "C", n int) USING lsm;
CREATE TABLE th (k text COLLATE "C", n int);
INSERT INTO tl SELECT md5(g::text), g FROM generate_series(1, 500) g;
INSERT INTO tl VALUES ('', 0), ('a', -1), ('a' || chr(1), -2), (NULL, -3);
SELECT lsm_flush('tl');
INSERT INTO tl SELECT md5((g * 7)::text) || 'x', g FROM generate_series(1, 200) g;
INSERT INTO th SELECT * FROM tl;
SELECT (SELECT array_agg(k) FROM (SELECT k FROM tl ORDER BY k DESC) a) IS NOT DISTINCT FROM
	   (SELECT array_agg(k) FROM (SELECT k FROM th ORDER BY k DESC) b) AS text_desc_same;
SELECT (SELECT array_agg(k) FROM (SELECT k FROM tl WHERE k < 'b' ORDER BY k DESC LIMIT 20) a) IS NOT DISTINCT FROM
	   (SELECT array_agg(k) FROM (SELECT k FROM th WHERE k < 'b' ORDER BY k DESC LIMIT 20) b) AS text_range_same;

CREATE TABLE fl (k float8) USING lsm;
CREATE TABLE fh (k float8);
INSERT INTO fl VALUES ('NaN'), ('Infinity'), ('-Infinity'), (0), ('-0'), (1.5), (-1.5), (NULL), (1e300), (-1e-300);
INSERT INTO fh SELECT * FROM fl;
SELECT k FROM fl ORDER BY k DESC;
SELECT (SELECT array_agg(k) FROM (SELECT k FROM fl ORDER BY k DESC) a) IS NOT DISTINCT FROM
	   (SELECT array_agg(k) FROM (SELECT k FROM fh ORDER BY k DESC) b) AS float_desc_same;

CREATE TABLE el (ts timestamptz, n numeric) USING lsm;
INSERT INTO el SELECT '2026-01-01'::timestamptz + g * interval '1 minute', g / 7.0
	FROM generate_series(1, 1000) g;
EXPLAIN (COSTS OFF)
SELECT ts FROM el WHERE ts > '2026-01-01 10:00' ORDER BY ts DESC LIMIT 3;
SELECT ts FROM el WHERE ts > '2026-01-01 10:00' ORDER BY ts DESC LIMIT 3;

DROP TABLE dl, dh, tl, th, fl, fh, el;
DROP FUNCTION same_order(text);
DROP EXTENSION lsm_am;
