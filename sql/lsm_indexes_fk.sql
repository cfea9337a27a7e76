--
-- lsm_indexes_fk: index access methods, partial and expression indexes,
-- REINDEX, CREATE INDEX CONCURRENTLY and foreign keys on lsm tables give
-- exactly heap's results.  Each step runs on a heap table h* and an lsm
-- table l*; same_rows() compares their contents, and queries that must use
-- an index (enable_seqscan off) show the lsm table's answers.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables
-- (test_flush() does nothing for them): that run produced the expected
-- output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

-- Whether a query's plan scans the given index (so the answer below really
-- came through it).
CREATE FUNCTION uses_index(query text, idx text) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%' || idx || '%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;

CREATE TABLE h (k int, tags text[], doc tsvector, pos point, area box, code text, n int) USING heap;
CREATE TABLE l (k int, tags text[], doc tsvector, pos point, area box, code text, n int) USING :am;
INSERT INTO h SELECT g, ARRAY['t' || (g % 7), 'u' || (g % 11)],
	to_tsvector('simple', 'word' || (g % 13) || ' other' || (g % 5)),
	point(g % 50, g / 50), box(point(g % 40, g % 30), point(g % 40 + 3, g % 30 + 2)),
	'c' || (g % 97), g % 10
	FROM generate_series(1, 2000) g;
INSERT INTO l SELECT g, ARRAY['t' || (g % 7), 'u' || (g % 11)],
	to_tsvector('simple', 'word' || (g % 13) || ' other' || (g % 5)),
	point(g % 50, g / 50), box(point(g % 40, g % 30), point(g % 40 + 3, g % 30 + 2)),
	'c' || (g % 97), g % 10
	FROM generate_series(1, 2000) g;
CALL test_flush('l');
-- later rows stay in the memtable
INSERT INTO h SELECT g, ARRAY['t' || (g % 7)], to_tsvector('simple', 'late word' || (g % 13)),
	point(g % 50, 99), box(point(1, 1), point(2, 2)), 'c' || (g % 97), g % 10
	FROM generate_series(2001, 2300) g;
INSERT INTO l SELECT g, ARRAY['t' || (g % 7)], to_tsvector('simple', 'late word' || (g % 13)),
	point(g % 50, 99), box(point(1, 1), point(2, 2)), 'c' || (g % 97), g % 10
	FROM generate_series(2001, 2300) g;

CREATE INDEX l_hash ON l USING hash (code);
CREATE INDEX l_gin_tags ON l USING gin (tags);
CREATE INDEX l_gin_doc ON l USING gin (doc);
CREATE INDEX l_gist_pos ON l USING gist (pos);
CREATE INDEX l_gist_area ON l USING gist (area);
CREATE INDEX l_brin ON l USING brin (k);
CREATE INDEX l_partial ON l (n) WHERE n > 7;
CREATE INDEX l_expr ON l (mod(k, 100), upper(code));
ANALYZE h;
ANALYZE l;

-- Each query: through the index on l (shown), and the same answer as a
-- sequential scan of h.
CREATE FUNCTION check_query(q text, idx text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	used bool;
	diff bigint;
	n bigint;
BEGIN
	SET LOCAL enable_seqscan = off;
	-- the lsm custom scan would serve key restrictions ahead of the index
	SET LOCAL lsm.enable_lsmscan = off;
	used := uses_index(format(q, 'l'), idx);
	EXECUTE format('SELECT count(*) FROM (%s) x', format(q, 'l')) INTO n;
	EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d',
				   format(q, 'l'), format(q, 'h'), format(q, 'h'), format(q, 'l')) INTO diff;
	RETURN format('%s rows, %s differences from heap, index %s: %s',
				  n, diff, idx, CASE WHEN used THEN 'used' ELSE 'NOT USED' END);
END $$;

SELECT check_query('SELECT k, code FROM %s WHERE code = ''c42''', 'l_hash');
SELECT check_query('SELECT k FROM %s WHERE tags @> ARRAY[''t3'', ''u5'']', 'l_gin_tags');
SELECT check_query('SELECT k FROM %s WHERE tags && ARRAY[''u10'']', 'l_gin_tags');
SELECT check_query('SELECT k FROM %s WHERE doc @@ to_tsquery(''simple'', ''word7 & other2'')', 'l_gin_doc');
SELECT check_query('SELECT k FROM %s WHERE doc @@ to_tsquery(''simple'', ''late'')', 'l_gin_doc');
SELECT check_query('SELECT k, pos::text FROM %s WHERE pos <@ box(point(10, 10), point(20, 20))', 'l_gist_pos');
SELECT check_query('SELECT k FROM %s WHERE area && box(point(5, 5), point(6, 6))', 'l_gist_area');
SELECT check_query('SELECT k FROM %s WHERE k BETWEEN 100 AND 130', 'l_brin');
SELECT check_query('SELECT k, n FROM %s WHERE n = 9', 'l_partial');
SELECT check_query('SELECT k FROM %s WHERE mod(k, 100) = 17 AND upper(code) = ''C17''', 'l_expr');
-- nearest neighbours through GiST, ordered by distance (ties broken by k)
SET enable_seqscan = off;
SELECT k, pos FROM l ORDER BY pos <-> point(25, 25), k LIMIT 5;
RESET enable_seqscan;
SELECT k, pos FROM h ORDER BY pos <-> point(25, 25), k LIMIT 5;

-- Updates and deletes, then the same queries: the indexes follow.
UPDATE h SET tags = tags || ARRAY['new'], code = 'c42', n = 9 WHERE k % 17 = 0;
UPDATE l SET tags = tags || ARRAY['new'], code = 'c42', n = 9 WHERE k % 17 = 0;
DELETE FROM h WHERE k % 23 = 0;
DELETE FROM l WHERE k % 23 = 0;
CALL test_flush('l');
SELECT same_rows('h', 'l');
SELECT check_query('SELECT k, code FROM %s WHERE code = ''c42''', 'l_hash');
SELECT check_query('SELECT k FROM %s WHERE tags @> ARRAY[''new'']', 'l_gin_tags');
SELECT check_query('SELECT k FROM %s WHERE doc @@ to_tsquery(''simple'', ''word7 & other2'')', 'l_gin_doc');
SELECT check_query('SELECT k FROM %s WHERE area && box(point(5, 5), point(6, 6))', 'l_gist_area');
SELECT check_query('SELECT k, n FROM %s WHERE n = 9', 'l_partial');

-- REINDEX, and CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY
REINDEX INDEX l_gin_tags;
REINDEX TABLE l;
SELECT check_query('SELECT k FROM %s WHERE tags @> ARRAY[''new'']', 'l_gin_tags');
SELECT check_query('SELECT k, code FROM %s WHERE code = ''c42''', 'l_hash');
CREATE INDEX CONCURRENTLY l_cic ON l (n, k) WHERE n < 3;
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'l_cic'::regclass;
SELECT check_query('SELECT k FROM %s WHERE n = 1 AND k < 500', 'l_cic');
REINDEX INDEX CONCURRENTLY l_cic;
REINDEX TABLE CONCURRENTLY l;
SELECT check_query('SELECT k FROM %s WHERE n = 1 AND k < 500', 'l_cic');
SELECT check_query('SELECT k FROM %s WHERE doc @@ to_tsquery(''simple'', ''late'')', 'l_gin_doc');
CREATE UNIQUE INDEX CONCURRENTLY l_cic_u ON l (k);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'l_cic_u'::regclass;
INSERT INTO l VALUES (1, NULL, NULL, NULL, NULL, 'dup', 0);
-- a unique index that cannot be built is left invalid, as on heap
DROP INDEX l_cic_u;
INSERT INTO h VALUES (5000, NULL, NULL, NULL, NULL, 'dup', 0), (5000, NULL, NULL, NULL, NULL, 'dup', 0);
INSERT INTO l VALUES (5000, NULL, NULL, NULL, NULL, 'dup', 0), (5000, NULL, NULL, NULL, NULL, 'dup', 0);
CREATE UNIQUE INDEX CONCURRENTLY l_cic_u2 ON l (k);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'l_cic_u2'::regclass;
DROP INDEX l_cic_u2;
SELECT same_rows('h', 'l');

--
-- Foreign keys: lsm tables referencing and referenced, heap on the other
-- side too.
--
CREATE TABLE hp (id int PRIMARY KEY, name text) USING heap;
CREATE TABLE lp (id int PRIMARY KEY, name text) USING :am;
CREATE TABLE hc (cid int, pid int REFERENCES hp ON DELETE CASCADE, note text) USING heap;
CREATE TABLE lc (cid int, pid int REFERENCES lp ON DELETE CASCADE, note text) USING :am;
CREATE TABLE hn (cid int, pid int REFERENCES hp ON DELETE SET NULL ON UPDATE CASCADE) USING heap;
CREATE TABLE ln (cid int, pid int REFERENCES lp ON DELETE SET NULL ON UPDATE CASCADE) USING :am;
CREATE TABLE hr (cid int, pid int REFERENCES hp) USING heap;
CREATE TABLE lr (cid int, pid int REFERENCES lp) USING :am;
-- mixed: a heap table referencing an lsm table and the other way round
CREATE TABLE mix_h_to_l (pid int REFERENCES lp ON DELETE CASCADE) USING heap;
CREATE TABLE mix_l_to_h (pid int REFERENCES hp ON DELETE CASCADE) USING :am;
INSERT INTO hp SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO lp SELECT g, 'p' || g FROM generate_series(1, 50) g;
INSERT INTO hc SELECT g, g % 50 + 1, 'c' || g FROM generate_series(1, 200) g;
INSERT INTO lc SELECT g, g % 50 + 1, 'c' || g FROM generate_series(1, 200) g;
INSERT INTO hn SELECT g, g % 50 + 1 FROM generate_series(1, 100) g;
INSERT INTO ln SELECT g, g % 50 + 1 FROM generate_series(1, 100) g;
INSERT INTO hr SELECT g, g % 10 + 41 FROM generate_series(1, 20) g;
INSERT INTO lr SELECT g, g % 10 + 41 FROM generate_series(1, 20) g;
INSERT INTO mix_h_to_l SELECT g % 50 + 1 FROM generate_series(1, 60) g;
INSERT INTO mix_l_to_h SELECT g % 50 + 1 FROM generate_series(1, 60) g;
CALL test_flush('lp');
CALL test_flush('lc');
-- a missing parent is refused
INSERT INTO hc VALUES (999, 51, 'orphan');
INSERT INTO lc VALUES (999, 51, 'orphan');
INSERT INTO mix_l_to_h VALUES (51);
INSERT INTO mix_h_to_l VALUES (51);
-- ON DELETE CASCADE, SET NULL; NO ACTION refuses
DELETE FROM hp WHERE id BETWEEN 1 AND 5;
DELETE FROM lp WHERE id BETWEEN 1 AND 5;
DELETE FROM hp WHERE id = 45;
DELETE FROM lp WHERE id = 45;
SELECT same_rows('hp', 'lp'), same_rows('hc', 'lc'), same_rows('hn', 'ln'), same_rows('hr', 'lr');
SELECT count(*) FROM lc WHERE pid <= 5;
SELECT count(*) FROM ln WHERE pid IS NULL;
SELECT count(*) FROM mix_h_to_l;
DELETE FROM hp WHERE id = 6;
DELETE FROM lp WHERE id = 6;
SELECT count(*) FROM mix_l_to_h;
-- ON UPDATE CASCADE of the key; NO ACTION refuses
UPDATE hp SET id = id + 100 WHERE id BETWEEN 10 AND 12;
UPDATE lp SET id = id + 100 WHERE id BETWEEN 10 AND 12;
SELECT pid, count(*) FROM ln WHERE pid > 100 GROUP BY pid ORDER BY pid;
UPDATE hp SET id = id + 100 WHERE id = 13;
UPDATE lp SET id = id + 100 WHERE id = 13;
-- an update that keeps the key is allowed whatever references the row
UPDATE hp SET name = name || '!' WHERE id = 41;
UPDATE lp SET name = name || '!' WHERE id = 41;
SELECT same_rows('hp', 'lp'), same_rows('hc', 'lc'), same_rows('hn', 'ln'), same_rows('hr', 'lr');
-- deferrable constraints: checked at commit
CREATE TABLE hd (pid int REFERENCES hp DEFERRABLE INITIALLY DEFERRED) USING heap;
CREATE TABLE ld (pid int REFERENCES lp DEFERRABLE INITIALLY DEFERRED) USING :am;
BEGIN;
INSERT INTO ld VALUES (500);
INSERT INTO lp VALUES (500, 'late parent');
COMMIT;
BEGIN;
INSERT INTO ld VALUES (501);
COMMIT;
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
INSERT INTO ld VALUES (502);
ROLLBACK;
SELECT * FROM ld;
SELECT * FROM lp WHERE id = 500;
-- adding a constraint validates the existing rows
ALTER TABLE lr DROP CONSTRAINT lr_pid_fkey;
INSERT INTO lr VALUES (0, 9999);
ALTER TABLE lr ADD CONSTRAINT lr_pid_fkey FOREIGN KEY (pid) REFERENCES lp;
DELETE FROM lr WHERE pid = 9999;
ALTER TABLE lr ADD CONSTRAINT lr_pid_fkey FOREIGN KEY (pid) REFERENCES lp NOT VALID;
ALTER TABLE lr VALIDATE CONSTRAINT lr_pid_fkey;
-- TRUNCATE of a referenced table needs CASCADE
TRUNCATE lp;
TRUNCATE lp CASCADE;
SELECT count(*) FROM lp;
SELECT count(*) FROM lc;
SELECT count(*) FROM mix_h_to_l;

DROP TABLE h, l, hc, lc, hn, ln, hr, lr, hd, ld, mix_h_to_l, mix_l_to_h, hp, lp;
DROP FUNCTION check_query, uses_index;
DROP EXTENSION lsm_am;
