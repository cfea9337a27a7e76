--
-- lsm_differential: a long pseudo-random sequence of INSERT, UPDATE,
-- DELETE and INSERT ... ON CONFLICT DO NOTHING / DO UPDATE statements (fixed
-- seed) applied identically to a heap table and to an lsm table, in
-- transactions of up to ten statements of which some roll back, with
-- savepoints (plpgsql exception blocks) of which some roll back, and with
-- the lsm table's memtable flushed to a run every 97 statements and at
-- random moments, inside transactions too.  Both tables have a unique index
-- on id (the ON CONFLICT arbiter) and indexes on k and n; about a third of
-- the transactions run with sequential scans off, so that their statements
-- and comparisons go through index and bitmap scans.  The stream runs in
-- eight parts with a VACUUM of both tables between them.  With
-- lsm.max_open_runs = 0 the backend closes every run as soon as no scan or
-- lookup reads it, so every read opens the runs it needs again.
--
-- After every statement the two tables must report the same number of rows
-- affected; every few statements a random range of keys is compared; after
-- every transaction (at most ten statements) the whole contents are compared
-- (row counts and EXCEPT ALL both ways).  The first difference stops the test
-- with an error that shows the statement.  The output is only a summary:
-- the counts depend on the seed alone, not on the access method.
--
-- With LSM_TEST_AM=heap in the environment both tables are heap tables (the
-- expected output came from that run).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;
SET lsm.max_open_runs = 0;

CREATE TABLE dh (k int, id int, v text, n int) USING heap;
CREATE TABLE dl (k int, id int, v text, n int) USING :am;
CREATE UNIQUE INDEX dh_id ON dh (id);
CREATE UNIQUE INDEX dl_id ON dl (id);
CREATE INDEX dh_k ON dh (k);
CREATE INDEX dl_k ON dl (k);
CREATE INDEX dh_n ON dh (n);
CREATE INDEX dl_n ON dl (n);
CREATE TABLE diff_stats (what text, n int);

-- A random key: mostly 0..399 (many duplicates), sometimes NULL.
CREATE FUNCTION rkey() RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN random() < 0.03 THEN 'NULL' ELSE floor(random() * 400)::int::text END;
$$;

-- A random value: NULL, short, or (rarely) long enough that heap would
-- compress it.
CREATE FUNCTION rval() RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN r < 0.05 THEN 'NULL'
				WHEN r < 0.08 THEN quote_literal(repeat(md5(r::text), 100))
				ELSE quote_literal(substr(md5(r::text), 1, floor(r * 40)::int)) END
	FROM (SELECT random() AS r) s;
$$;

-- Compares the whole contents; raises an error naming the last statement.
CREATE FUNCTION compare_all(last_stmt text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	nh bigint;
	nl bigint;
	d1 bigint;
	d2 bigint;
BEGIN
	SELECT count(*) INTO nh FROM dh;
	SELECT count(*) INTO nl FROM dl;
	SELECT count(*) INTO d1 FROM (TABLE dh EXCEPT ALL TABLE dl) d;
	SELECT count(*) INTO d2 FROM (TABLE dl EXCEPT ALL TABLE dh) d;
	IF nh <> nl OR d1 <> 0 OR d2 <> 0 THEN
		RAISE EXCEPTION 'heap has % rows, lsm %: % rows only in heap, % only in lsm, after: %',
			nh, nl, d1, d2, last_stmt;
	END IF;
END $$;

-- Compares the rows of a random key range, through the key column.
CREATE FUNCTION compare_range(last_stmt text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	lo int := floor(random() * 420)::int - 10;
	hi int := lo + floor(random() * 30)::int;
	a1 text;
	a2 text;
BEGIN
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a1 FROM dh d WHERE k BETWEEN lo AND hi;
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a2 FROM dl d WHERE k BETWEEN lo AND hi;
	IF a1 IS DISTINCT FROM a2 THEN
		RAISE EXCEPTION 'k BETWEEN % AND %: heap % lsm %, after: %', lo, hi, a1, a2, last_stmt;
	END IF;
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a1 FROM dh d WHERE k = lo;
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a2 FROM dl d WHERE k = lo;
	IF a1 IS DISTINCT FROM a2 THEN
		RAISE EXCEPTION 'k = %: heap % lsm %, after: %', lo, a1, a2, last_stmt;
	END IF;
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a1 FROM dh d WHERE k IS NULL;
	SELECT array_agg(d ORDER BY id, v, n)::text INTO a2 FROM dl d WHERE k IS NULL;
	IF a1 IS DISTINCT FROM a2 THEN
		RAISE EXCEPTION 'k IS NULL: heap % lsm %, after: %', a1, a2, last_stmt;
	END IF;
	-- through the other indexes (when sequential scans are off)
	SELECT array_agg(d ORDER BY id)::text INTO a1 FROM dh d WHERE id BETWEEN lo * 5 AND hi * 5;
	SELECT array_agg(d ORDER BY id)::text INTO a2 FROM dl d WHERE id BETWEEN lo * 5 AND hi * 5;
	IF a1 IS DISTINCT FROM a2 THEN
		RAISE EXCEPTION 'id BETWEEN % AND %: heap % lsm %, after: %', lo * 5, hi * 5, a1, a2, last_stmt;
	END IF;
	SELECT array_agg(d ORDER BY id)::text INTO a1 FROM dh d WHERE n = lo % 100 OR id = hi;
	SELECT array_agg(d ORDER BY id)::text INTO a2 FROM dl d WHERE n = lo % 100 OR id = hi;
	IF a1 IS DISTINCT FROM a2 THEN
		RAISE EXCEPTION 'n = % OR id = %: heap % lsm %, after: %', lo % 100, hi, a1, a2, last_stmt;
	END IF;
END $$;

-- Makes one random statement, with @T for the table.  next_id is the last
-- id handed out; returns the statement and the new last id.
CREATE FUNCTION random_statement(next_id int, OUT stmt text, OUT last_id int)
LANGUAGE plpgsql AS $$
DECLARE
	r float8 := random();
	m int;
	lo int;
BEGIN
	last_id := next_id;
	IF r < 0.30 THEN
		last_id := next_id + 1;
		stmt := format('INSERT INTO @T VALUES (%s, %s, %s, %s)',
					   rkey(), last_id, rval(), floor(random() * 100)::int);
	ELSIF r < 0.35 THEN
		m := 2 + floor(random() * 4)::int;
		stmt := 'INSERT INTO @T VALUES ';
		FOR j IN 1..m LOOP
			last_id := last_id + 1;
			stmt := stmt || format('(%s, %s, %s, %s)', rkey(), last_id, rval(), j)
				|| CASE WHEN j < m THEN ', ' ELSE '' END;
		END LOOP;
	ELSIF r < 0.40 THEN
		m := 10 + floor(random() * 40)::int;
		stmt := format('INSERT INTO @T SELECT (g * %s + %s) %% 400, %s + g, ''gen '' || g, g FROM generate_series(1, %s) g',
					   1 + floor(random() * 50)::int, floor(random() * 400)::int, next_id, m);
		last_id := next_id + m;
	ELSIF r < 0.55 THEN
		stmt := format('UPDATE @T SET v = coalesce(v, '''') || %s, n = n + 1 WHERE k = %s',
					   quote_literal(chr(97 + floor(random() * 26)::int)), rkey());
	ELSIF r < 0.65 THEN
		stmt := format('UPDATE @T SET k = %s WHERE id = %s', rkey(), 1 + floor(random() * greatest(next_id, 1))::int);
	ELSIF r < 0.70 THEN
		lo := floor(random() * 400)::int;
		stmt := format('UPDATE @T SET k = (k + %s) %% 400, n = n - 1 WHERE k BETWEEN %s AND %s',
					   1 + floor(random() * 399)::int, lo, lo + floor(random() * 20)::int);
	ELSIF r < 0.72 THEN
		stmt := format('UPDATE @T SET k = NULL WHERE k = %s', floor(random() * 400)::int);
	ELSIF r < 0.74 THEN
		stmt := format('UPDATE @T SET k = id %% 400 WHERE k IS NULL AND id %% %s = 0', 1 + floor(random() * 3)::int);
	ELSIF r < 0.76 THEN
		stmt := format('UPDATE @T SET v = NULL, n = NULL WHERE id BETWEEN %s AND %s',
					   next_id - 30, next_id - 30 + floor(random() * 10)::int);
	ELSIF r < 0.86 THEN
		stmt := format('DELETE FROM @T WHERE k = %s', rkey());
	ELSIF r < 0.92 THEN
		lo := floor(random() * greatest(next_id, 1))::int;
		stmt := format('DELETE FROM @T WHERE id BETWEEN %s AND %s', lo, lo + floor(random() * 5)::int);
	ELSIF r < 0.94 THEN
		lo := floor(random() * 400)::int;
		stmt := format('DELETE FROM @T WHERE k BETWEEN %s AND %s', lo, lo + floor(random() * 10)::int);
	ELSIF r < 0.96 THEN
		stmt := format('DELETE FROM @T WHERE n = %s', floor(random() * 100)::int);
	ELSIF r < 0.975 THEN
		-- an upsert of an id that may exist (or did, or never will again)
		lo := 1 + floor(random() * greatest(next_id, 1))::int;
		stmt := format('INSERT INTO @T VALUES (%s, %s, %s, 1) ON CONFLICT (id) DO UPDATE SET v = coalesce(@T.v, '''') || EXCLUDED.v, n = @T.n + 1',
					   rkey(), lo, rval());
		IF random() < 0.3 THEN
			stmt := stmt || ' WHERE @T.n % 2 = 0';
		END IF;
	ELSIF r < 0.985 THEN
		-- several distinct ids, some existing; ids past the last one are
		-- handed out here
		lo := floor(random() * greatest(next_id, 1))::int;
		m := 1 + floor(random() * 8)::int;
		stmt := format('INSERT INTO @T SELECT %s, %s + g * 3, ''up '' || g, g FROM generate_series(1, %s) g ON CONFLICT (id) %s',
					   rkey(), lo, m,
					   CASE WHEN random() < 0.5 THEN 'DO NOTHING'
					   ELSE 'DO UPDATE SET k = EXCLUDED.k, n = coalesce(@T.n, 0) + EXCLUDED.n' END);
		last_id := greatest(next_id, lo + 3 * m);
	ELSE
		-- a statement reading the table it changes
		stmt := format('UPDATE @T SET n = n + (SELECT count(*) FROM @T WHERE k = %s) WHERE k = %s',
					   floor(random() * 400)::int, floor(random() * 400)::int);
	END IF;
END $$;

-- Runs stmt on both tables; the numbers of rows affected must agree.
CREATE FUNCTION run_both(stmt text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	ch bigint;
	cl bigint;
BEGIN
	EXECUTE replace(stmt, '@T', 'dh');
	GET DIAGNOSTICS ch = ROW_COUNT;
	EXECUTE replace(stmt, '@T', 'dl');
	GET DIAGNOSTICS cl = ROW_COUNT;
	IF ch <> cl THEN
		RAISE EXCEPTION '% rows on heap, % on lsm: %', ch, cl, replace(stmt, '@T', 'dl');
	END IF;
	RETURN ch;
END $$;

CREATE PROCEDURE differential(nstmts int, seed float8, INOUT next_id int)
LANGUAGE plpgsql AS $$
DECLARE
	done int := 0;
	txn_len int;
	stmt text := '(none)';
	r record;
	sub_len int;
	-- counters (plpgsql variables survive rollbacks, table rows would not)
	n_rows bigint := 0;
	n_commit int := 0;
	n_rollback int := 0;
	n_sp_release int := 0;
	n_sp_rollback int := 0;
	n_flush int := 0;
	n_range int := 0;
	n_full int := 0;
	n_noseq int := 0;
BEGIN
	PERFORM setseed(seed);
	WHILE done < nstmts LOOP
		txn_len := 1 + floor(random() * 10)::int;
		-- sequential scans off for this transaction: index and bitmap scans
		IF random() < 0.35 THEN
			PERFORM set_config('enable_seqscan', 'off', true);
			n_noseq := n_noseq + 1;
		END IF;
		FOR j IN 1..txn_len LOOP
			IF random() < 0.12 THEN
				-- a savepoint: one to three statements, then rolled back or released
				sub_len := 1 + floor(random() * 3)::int;
				BEGIN
					FOR s IN 1..sub_len LOOP
						r := random_statement(next_id);
						stmt := r.stmt;
						next_id := r.last_id;
						n_rows := n_rows + run_both(stmt);
						done := done + 1;
					END LOOP;
					IF random() < 0.03 THEN
						CALL test_flush('dl');
						n_flush := n_flush + 1;
					END IF;
					PERFORM compare_range(stmt);
					n_range := n_range + 1;
					IF random() < 0.5 THEN
						RAISE EXCEPTION USING ERRCODE = 'LSMRB', MESSAGE = 'roll back to savepoint';
					END IF;
					n_sp_release := n_sp_release + 1;
				EXCEPTION WHEN SQLSTATE 'LSMRB' THEN
					n_sp_rollback := n_sp_rollback + 1;
				END;
			ELSE
				r := random_statement(next_id);
				stmt := r.stmt;
				next_id := r.last_id;
				n_rows := n_rows + run_both(stmt);
				done := done + 1;
			END IF;
			IF done % 97 = 0 OR random() < 0.01 THEN
				CALL test_flush('dl');
				n_flush := n_flush + 1;
			END IF;
			IF random() < 0.25 THEN
				PERFORM compare_range(stmt);
				n_range := n_range + 1;
			END IF;
		END LOOP;
		IF random() < 0.15 THEN
			ROLLBACK;
			n_rollback := n_rollback + 1;
		ELSE
			COMMIT;
			n_commit := n_commit + 1;
		END IF;
		PERFORM compare_all(stmt);
		n_full := n_full + 1;
	END LOOP;
	INSERT INTO diff_stats VALUES
		('statements', done), ('rows affected', n_rows),
		('transactions without sequential scans', n_noseq),
		('transactions committed', n_commit), ('transactions rolled back', n_rollback),
		('savepoints released', n_sp_release), ('savepoints rolled back', n_sp_rollback),
		('flushes', n_flush), ('range comparisons', n_range), ('full comparisons', n_full);
	COMMIT;
END $$;

-- Eight parts of 500 statements each, with a VACUUM of both tables after
-- each part; next_id carries the last id handed out from part to part.
CREATE TABLE diff_next (id int);
INSERT INTO diff_next VALUES (0);
CREATE PROCEDURE differential_part(seed float8)
LANGUAGE plpgsql AS $$
DECLARE
	last_id int := (SELECT id FROM diff_next);
BEGIN
	CALL differential(500, seed, last_id);
	UPDATE diff_next SET id = last_id;
END $$;
CALL differential_part(0.1111);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 1');
CALL differential_part(0.1222);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 2');
CALL differential_part(0.1333);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 3');
CALL differential_part(0.1444);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 4');
CALL differential_part(0.1555);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 5');
CALL differential_part(0.1666);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 6');
CALL differential_part(0.1777);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 7');
CALL differential_part(0.1888);
VACUUM dh;
VACUUM dl;
SELECT compare_all('VACUUM after part 8');
SELECT what, sum(n) FROM diff_stats GROUP BY what ORDER BY what;
SELECT id AS last_id FROM diff_next;
SELECT count(*), count(k), count(DISTINCT k), sum(k), count(v), sum(n) FROM dl;

-- Once more after a last flush, and a few queries on the key.
CALL test_flush('dl');
SELECT compare_all('the last flush');
SELECT (SELECT count(*) FROM dh WHERE k = 150) AS heap, (SELECT count(*) FROM dl WHERE k = 150) AS lsm;
SELECT (SELECT array_agg(id ORDER BY id) FROM dh WHERE k BETWEEN 100 AND 103)
	= (SELECT array_agg(id ORDER BY id) FROM dl WHERE k BETWEEN 100 AND 103) AS same_ids;
SELECT (SELECT array_agg(k ORDER BY k, id) FROM dh) = (SELECT array_agg(k ORDER BY k, id) FROM dl)
	AS same_keys;

DROP PROCEDURE differential_part(float8), differential(int, float8, int);
DROP FUNCTION run_both(text), random_statement(int), compare_range(text), compare_all(text),
	rval(), rkey();
DROP TABLE dh, dl, diff_stats, diff_next;
DROP EXTENSION lsm_am;
