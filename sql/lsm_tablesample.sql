--
-- lsm_tablesample: TABLESAMPLE SYSTEM and BERNOULLI on lsm tables.  An lsm
-- table is sampled as blocks of 291 row ids, so which rows a given seed picks
-- differs from heap's; what must hold on both is checked instead: 100
-- percent returns every visible row, 0 percent none, a sample is a subset of
-- the table with no duplicates, REPEATABLE gives the same rows again, the
-- sample's size is plausible for the percentage, rows deleted, rolled back
-- or replaced by updates are never returned, and a rescan starts over.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- (test_flush() does nothing for them): that run produced the expected
-- output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

CREATE TABLE l (k int, v text) USING :am;
INSERT INTO l SELECT g, 'v' || g FROM generate_series(1, 20000) g;
CALL test_flush('l');
INSERT INTO l SELECT g, 'late' FROM generate_series(20001, 21000) g;
-- dead versions: updated and deleted rows, a rolled-back insert
UPDATE l SET v = v || '+' WHERE k % 10 = 0;
DELETE FROM l WHERE k % 7 = 0;
BEGIN;
INSERT INTO l SELECT g, 'rolled back' FROM generate_series(1, 3000) g;
ROLLBACK;
SELECT count(*) FROM l;

-- 100 percent: every row, once; 0 percent: none
SELECT count(*), count(DISTINCT k), sum(k) FROM l TABLESAMPLE SYSTEM (100);
SELECT count(*), count(DISTINCT k), sum(k) FROM l TABLESAMPLE BERNOULLI (100);
SELECT (SELECT count(*) FROM (TABLE l EXCEPT ALL SELECT * FROM l TABLESAMPLE BERNOULLI (100)) d) AS missing,
	(SELECT count(*) FROM (SELECT * FROM l TABLESAMPLE SYSTEM (100) EXCEPT ALL TABLE l) d) AS extra;
SELECT count(*) FROM l TABLESAMPLE SYSTEM (0);
SELECT count(*) FROM l TABLESAMPLE BERNOULLI (0);
-- no dead version comes back
SELECT count(*) FROM l TABLESAMPLE BERNOULLI (100) WHERE v = 'rolled back' OR k % 7 = 0 OR (k % 10 = 0 AND v NOT LIKE '%+');

-- a sample: a subset, no duplicates, a plausible size, the same rows again
-- with the same seed
CREATE FUNCTION check_sample(method text, pct float8) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	total bigint;
	n bigint;
	ndistinct bigint;
	extra bigint;
	again bigint;
	q text := format('SELECT * FROM l TABLESAMPLE %s (%s) REPEATABLE (42)', method, pct);
BEGIN
	SELECT count(*) INTO total FROM l;
	EXECUTE format('SELECT count(*), count(DISTINCT k) FROM (%s) s', q) INTO n, ndistinct;
	EXECUTE format('SELECT count(*) FROM (%s EXCEPT ALL TABLE l) d', q) INTO extra;
	EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d', q, q, q, q) INTO again;
	RETURN format('subset: %s, no duplicates: %s, repeatable: %s, size plausible: %s',
				  extra = 0, n = ndistinct, again = 0,
				  n BETWEEN total * pct / 100 * 0.5 AND total * pct / 100 * 1.5);
END $$;
SELECT check_sample('BERNOULLI', 50);
SELECT check_sample('BERNOULLI', 10);
SELECT check_sample('SYSTEM', 50);
-- different seeds pick different rows
SELECT (SELECT array_agg(k ORDER BY k) FROM l TABLESAMPLE BERNOULLI (5) REPEATABLE (1))
	<> (SELECT array_agg(k ORDER BY k) FROM l TABLESAMPLE BERNOULLI (5) REPEATABLE (2)) AS differ;

-- a rescan (the inner side of a nested loop) starts over
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT count(*) FROM (VALUES (1), (2), (3)) x(i),
	LATERAL (SELECT count(*) AS c FROM l TABLESAMPLE BERNOULLI (100) WHERE k % 1000 = x.i) s
	WHERE s.c = 20;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- the table's own changes in the transaction
BEGIN;
DELETE FROM l WHERE k <= 1000;
INSERT INTO l VALUES (0, 'new');
SELECT count(*), min(k) FROM l TABLESAMPLE SYSTEM (100);
ROLLBACK;

DROP TABLE l;
DROP FUNCTION check_sample;
DROP EXTENSION lsm_am;
