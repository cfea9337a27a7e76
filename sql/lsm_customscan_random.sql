--
-- lsm_customscan_random: thousands of random key ranges read through LsmScan
-- from lsm tables, compared with the same queries on heap copies, after
-- random DML (inserts with duplicate and NULL keys, updates of values and of
-- keys, deletes, rolled-back subtransactions) with lsm_flush and lsm_compact
-- in between, so that the ranges span memtables, level-0 runs and deeper
-- levels holding different versions of the same rows.  The seed is fixed;
-- the test prints only the number of queries run, how many were not planned
-- as LsmScan (0) and how many answers differed from heap's (0).
--
CREATE EXTENSION IF NOT EXISTS lsm_am;
SELECT setseed(0.4242);

CREATE TABLE ri_lsm (k int, v int, pad text) USING lsm;
CREATE TABLE ri_heap (k int, v int, pad text);
CREATE TABLE rt_lsm (k text COLLATE "C", v int) USING lsm;
CREATE TABLE rt_heap (k text COLLATE "C", v int);

-- Applies one statement (with TBL for the table) to the lsm and heap table
-- of a pair.
CREATE FUNCTION both_do(pair text, stmt text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE replace(stmt, 'TBL', pair || '_lsm');
	EXECUTE replace(stmt, 'TBL', pair || '_heap');
END $$;

-- A random key restriction on k (integer keys, or their text under "C").
CREATE FUNCTION random_cond(is_text boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	a int := (random() * 5200)::int - 100;
	b int := a + (random() * random() * 400)::int;
	c int := (random() * 5200)::int;
	lit text;
	lit2 text;
	lit3 text;
BEGIN
	IF is_text THEN
		lit := quote_literal(a::text);
		lit2 := quote_literal(b::text);
		lit3 := quote_literal(c::text);
	ELSE
		lit := a::text;
		lit2 := b::text;
		lit3 := c::text;
	END IF;
	CASE (random() * 11)::int
		WHEN 0 THEN RETURN format('k = %s', lit);
		WHEN 1 THEN RETURN format('k < %s', lit);
		WHEN 2 THEN RETURN format('k <= %s', lit);
		WHEN 3 THEN RETURN format('k > %s', lit2);
		WHEN 4 THEN RETURN format('k >= %s', lit2);
		WHEN 5 THEN RETURN format('k BETWEEN %s AND %s', lit, lit2);
		WHEN 6 THEN RETURN format('k > %s AND k < %s', lit, lit2);
		WHEN 7 THEN RETURN format('k IN (%s, %s, %s)', lit, lit2, lit3);
		WHEN 8 THEN RETURN format('k >= %s AND k <= %s AND k IN (%s, %s)', lit, lit2, lit2, lit3);
		WHEN 9 THEN RETURN format('k BETWEEN %s AND %s AND v %% 3 = 0', lit, lit2);
		WHEN 10 THEN RETURN 'k IS NULL';
		ELSE RETURN format('k = %s OR k IS NULL', lit3);	-- not a bound: sequential
	END CASE;
END $$;

-- Random DML on a pair: inserts (duplicates, NULL keys), value and key
-- updates and deletes of random ranges, applied to both tables.
CREATE FUNCTION random_dml(pair text, is_text boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	a int;
BEGIN
	-- inserts: the same rows in both tables, from a fixed list
	CREATE TEMP TABLE batch AS
		SELECT CASE WHEN random() < 0.02 THEN NULL ELSE (random() * 5000)::int END AS g,
			   (random() * 1000)::int AS v
		FROM generate_series(1, 400);
	IF is_text THEN
		PERFORM both_do(pair, 'INSERT INTO TBL SELECT g::text, v FROM batch');
	ELSE
		PERFORM both_do(pair, 'INSERT INTO TBL SELECT g, v, repeat(''x'', v % 50) FROM batch');
	END IF;
	DROP TABLE batch;
	FOR i IN 1..3 LOOP
		a := (random() * 5000)::int;
		PERFORM both_do(pair, format('UPDATE TBL SET v = v + 1 WHERE %s', random_cond(is_text)));
		IF is_text THEN
			PERFORM both_do(pair, format('UPDATE TBL SET k = k || ''5'' WHERE k BETWEEN %L AND %L',
										 a::text, (a + 20)::text));
		ELSE
			PERFORM both_do(pair, format('UPDATE TBL SET k = k + 7 WHERE k BETWEEN %s AND %s', a, a + 20));
		END IF;
		PERFORM both_do(pair, format('DELETE FROM TBL WHERE %s AND v %% 2 = 0', random_cond(is_text)));
	END LOOP;
	-- a subtransaction that rolls back: its entries stay in the lsm table
	BEGIN
		PERFORM both_do(pair, format('UPDATE TBL SET v = -1 WHERE %s', random_cond(is_text)));
		PERFORM both_do(pair, format('DELETE FROM TBL WHERE %s', random_cond(is_text)));
		RAISE EXCEPTION 'roll back';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
END $$;

-- Runs n random range queries on a pair; returns (queries, not LsmScan,
-- differences).  Every third query is ordered by the key with a LIMIT and
-- compares the keys in order; every sixth orders them DESC (LsmScan read
-- backward).
CREATE FUNCTION random_queries(pair text, is_text boolean, n int,
							   OUT queries int, OUT not_lsmscan int, OUT differences int)
LANGUAGE plpgsql AS $$
DECLARE
	cond text;
	q text;
	a text;
	b text;
	plan text;
	found boolean;
BEGIN
	queries := 0;
	not_lsmscan := 0;
	differences := 0;
	FOR i IN 1..n LOOP
		cond := random_cond(is_text);
		IF i % 3 = 0 THEN
			q := format('SELECT coalesce(array_agg(k), ''{}'')::text FROM (SELECT k FROM TBL WHERE %s ORDER BY k %s LIMIT %s) s',
						cond, CASE WHEN i % 6 = 0 THEN 'DESC' ELSE '' END,
						1 + (random() * 30)::int);
		ELSE
			q := format('SELECT count(*) || '':'' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM TBL t WHERE %s',
						cond);
		END IF;
		EXECUTE replace(q, 'TBL', pair || '_lsm') INTO a;
		EXECUTE replace(q, 'TBL', pair || '_heap') INTO b;
		queries := queries + 1;
		IF a IS DISTINCT FROM b THEN
			differences := differences + 1;
			RAISE NOTICE 'differs: % (lsm %, heap %)', replace(q, 'TBL', pair || '_lsm'), a, b;
		END IF;
		-- every restriction but the OR is a key range: check the plan now and then
		IF i % 10 = 0 AND cond NOT LIKE '%OR%' THEN
			found := false;
			FOR plan IN EXECUTE 'EXPLAIN (COSTS OFF) ' || replace(q, 'TBL', pair || '_lsm') LOOP
				found := found OR plan LIKE '%Custom Scan (LsmScan)%';
			END LOOP;
			IF NOT found THEN
				not_lsmscan := not_lsmscan + 1;
			END IF;
		END IF;
	END LOOP;
END $$;

CREATE TABLE totals (pair text, queries int, not_lsmscan int, differences int);

-- Ten rounds: DML, now and then a flush or a full compaction, then queries,
-- with the backend keeping no idle run open, one, or the default number
-- (lsm.max_open_runs): scans hold runs that the cap closes once released.
-- enable_seqscan = off leaves the heap tables (which have no index) their
-- sequential scans, at a cost that would make every query JIT-compiled.
SET enable_seqscan = off;
SET jit = off;
DO $$
DECLARE
	r record;
BEGIN
	FOR round IN 1..10 LOOP
		PERFORM set_config('lsm.max_open_runs',
						   (ARRAY['0', '1', '256'])[round % 3 + 1], false);
		PERFORM random_dml('ri', false);
		PERFORM random_dml('rt', true);
		IF round % 2 = 0 THEN
			PERFORM lsm_flush('ri_lsm');
			PERFORM lsm_flush('rt_lsm');
		END IF;
		IF round % 3 = 0 THEN
			PERFORM lsm_compact('ri_lsm');
			PERFORM lsm_compact('rt_lsm');
		END IF;
		r := random_queries('ri', false, 400);
		INSERT INTO totals VALUES ('ri', r.queries, r.not_lsmscan, r.differences);
		r := random_queries('rt', true, 120);
		INSERT INTO totals VALUES ('rt', r.queries, r.not_lsmscan, r.differences);
	END LOOP;
END $$;
RESET enable_seqscan;
RESET jit;
RESET lsm.max_open_runs;

SELECT pair, sum(queries) AS queries, sum(not_lsmscan) AS not_lsmscan,
	   sum(differences) AS differences
FROM totals GROUP BY pair ORDER BY pair;

-- The tables themselves still agree.
SELECT (SELECT count(*) FROM ri_lsm) = (SELECT count(*) FROM ri_heap) AS same_count,
	   (SELECT count(*) FROM ((SELECT * FROM ri_lsm EXCEPT ALL SELECT * FROM ri_heap)
							 UNION ALL
							 (SELECT * FROM ri_heap EXCEPT ALL SELECT * FROM ri_lsm)) d) AS ri_differences,
	   (SELECT count(*) FROM ((SELECT * FROM rt_lsm EXCEPT ALL SELECT * FROM rt_heap)
							 UNION ALL
							 (SELECT * FROM rt_heap EXCEPT ALL SELECT * FROM rt_lsm)) d) AS rt_differences;

DROP TABLE ri_lsm, ri_heap, rt_lsm, rt_heap, totals;
DROP FUNCTION random_queries(text, boolean, int);
DROP FUNCTION random_dml(text, boolean);
DROP FUNCTION random_cond(boolean);
DROP FUNCTION both_do(text, text);
DROP EXTENSION lsm_am;
