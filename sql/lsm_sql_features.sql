--
-- lsm_sql_features: SQL features that work on any table give heap's results
-- on lsm tables: ALTER TABLE ... SET ACCESS METHOD both ways, triggers (BEFORE
-- ROW changing or skipping rows, AFTER ROW, deferred constraint triggers that
-- read row versions by TID after a flush, transition tables), generated
-- columns, row-level security, inheritance, partitioning (routing, rows
-- moving between lsm and heap partitions, ATTACH with its constraint check),
-- materialized views and data-modifying CTEs.
--
-- With LSM_TEST_AM=heap in the environment the "lsm" tables are heap tables:
-- that run produced the expected output (test/pending/gen-expected.sh).
--
SELECT current_setting('regress.am') AS am \gset
CREATE EXTENSION lsm_am;

-- ALTER TABLE ... SET ACCESS METHOD: rows, indexes and constraints follow.
CREATE TABLE f_sam (k int PRIMARY KEY, v text);
INSERT INTO f_sam SELECT g, 'v' || g FROM generate_series(1, 1000) g;
CREATE INDEX f_sam_v ON f_sam (v);
ALTER TABLE f_sam SET ACCESS METHOD :am;
SELECT a.amname = :'am' AS converted
FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'f_sam';
SELECT count(*), sum(k) FROM f_sam;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT k FROM f_sam WHERE v = 'v777';
SELECT v FROM f_sam WHERE k = 778;
RESET enable_seqscan;
RESET enable_bitmapscan;
INSERT INTO f_sam VALUES (5, 'dup');
UPDATE f_sam SET v = v || '!' WHERE k % 100 = 0;
ALTER TABLE f_sam SET ACCESS METHOD heap;
SELECT count(*), sum(k), count(*) FILTER (WHERE v LIKE '%!') AS changed FROM f_sam;
ALTER TABLE f_sam SET ACCESS METHOD :am;
SELECT count(*), sum(k), count(*) FILTER (WHERE v LIKE '%!') AS changed FROM f_sam;
DROP TABLE f_sam;

-- Triggers.
CREATE TABLE f_trg (k int, v text, n int) USING :am;
CREATE TABLE f_trg_log (seq serial, what text, old_k int, new_k int, info text);
CREATE FUNCTION f_trg_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.v = 'skip' THEN
		RETURN NULL;
	END IF;
	NEW.n := coalesce(NEW.n, 0) + 1;
	RETURN NEW;
END $$;
CREATE FUNCTION f_trg_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO f_trg_log (what, old_k, new_k, info)
	VALUES (TG_NAME || ' ' || TG_OP,
			CASE WHEN TG_OP <> 'INSERT' THEN OLD.k END,
			CASE WHEN TG_OP <> 'DELETE' THEN NEW.k END,
			CASE WHEN TG_OP = 'UPDATE' THEN OLD.v || ' -> ' || NEW.v || ', n ' || NEW.n END);
	RETURN NULL;
END $$;
CREATE FUNCTION f_trg_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO f_trg_log (what, info)
	SELECT TG_NAME || ' ' || TG_OP,
		   format('old %s rows (sum k %s), new %s rows (sum k %s)',
				  (SELECT count(*) FROM old_rows), (SELECT sum(k) FROM old_rows),
				  (SELECT count(*) FROM new_rows), (SELECT sum(k) FROM new_rows));
	RETURN NULL;
END $$;
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE ON f_trg
	FOR EACH ROW EXECUTE FUNCTION f_trg_before();
CREATE TRIGGER a_row AFTER INSERT OR UPDATE OR DELETE ON f_trg
	FOR EACH ROW EXECUTE FUNCTION f_trg_after();
CREATE CONSTRAINT TRIGGER c_deferred AFTER UPDATE OR DELETE ON f_trg
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION f_trg_after();
CREATE TRIGGER t_stmt AFTER UPDATE ON f_trg
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION f_trg_transition();

INSERT INTO f_trg (k, v) VALUES (1, 'a'), (2, 'skip'), (3, 'c'), (4, 'd');
CALL test_flush('f_trg');
BEGIN;
UPDATE f_trg SET v = v || '2' WHERE k >= 3;
DELETE FROM f_trg WHERE k = 1;
-- the deferred triggers fetch these versions at COMMIT, after a flush
CALL test_flush('f_trg');
COMMIT;
SELECT * FROM f_trg ORDER BY k;
SELECT what, old_k, new_k, info FROM f_trg_log ORDER BY seq;
DROP TABLE f_trg, f_trg_log;

-- Generated columns, defaults, identity.
CREATE TABLE f_gen (id int GENERATED ALWAYS AS IDENTITY, k int,
	doubled int GENERATED ALWAYS AS (k * 2) STORED, d text DEFAULT 'dflt') USING :am;
INSERT INTO f_gen (k) SELECT g FROM generate_series(1, 5) g;
UPDATE f_gen SET k = k + 10 WHERE k > 3;
SELECT * FROM f_gen ORDER BY id;
DROP TABLE f_gen;

-- Row-level security.
CREATE TABLE f_rls (k int, owner text) USING :am;
INSERT INTO f_rls SELECT g, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END
	FROM generate_series(1, 10) g;
CREATE ROLE regress_lsm_rls_user;
GRANT SELECT, UPDATE ON f_rls TO regress_lsm_rls_user;
ALTER TABLE f_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_only ON f_rls USING (owner = 'even');
SET ROLE regress_lsm_rls_user;
SELECT k FROM f_rls ORDER BY k;
UPDATE f_rls SET k = k * 100;
RESET ROLE;
SELECT k, owner FROM f_rls ORDER BY k;
DROP TABLE f_rls;
DROP ROLE regress_lsm_rls_user;

-- Inheritance.
CREATE TABLE f_parent (k int, v text) USING :am;
CREATE TABLE f_child (extra int) INHERITS (f_parent) USING :am;
INSERT INTO f_parent VALUES (1, 'parent');
INSERT INTO f_child VALUES (2, 'child', 20);
UPDATE f_parent SET v = v || '+';
SELECT tableoid::regclass, * FROM f_parent ORDER BY k;
SELECT count(*) FROM ONLY f_parent;
DELETE FROM f_parent WHERE k = 2;
SELECT count(*) FROM f_child;
DROP TABLE f_parent CASCADE;

-- Partitioning: lsm and heap partitions side by side.
CREATE TABLE f_part (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE f_part_a PARTITION OF f_part FOR VALUES FROM (0) TO (100) USING :am;
CREATE TABLE f_part_b PARTITION OF f_part FOR VALUES FROM (100) TO (200) USING heap;
CREATE TABLE f_part_c (k int, v text) USING :am;
INSERT INTO f_part_c SELECT g, 'c' FROM generate_series(200, 250) g;
ALTER TABLE f_part ATTACH PARTITION f_part_c FOR VALUES FROM (200) TO (300);
INSERT INTO f_part SELECT g, 'v' || g FROM generate_series(0, 199) g;
CALL test_flush('f_part_a');
UPDATE f_part SET k = k + 100 WHERE k BETWEEN 50 AND 60;
UPDATE f_part SET k = k - 150 WHERE k BETWEEN 180 AND 190;
UPDATE f_part SET k = k + 100 WHERE k BETWEEN 150 AND 155;
SELECT tableoid::regclass, count(*), sum(k), min(k), max(k) FROM f_part GROUP BY 1 ORDER BY 1;
SELECT k, v FROM f_part WHERE k BETWEEN 28 AND 32 ORDER BY k, v;
ALTER TABLE f_part DETACH PARTITION f_part_c;
INSERT INTO f_part_c VALUES (260, 'outside');
ALTER TABLE f_part ATTACH PARTITION f_part_c FOR VALUES FROM (200) TO (255);
DROP TABLE f_part, f_part_c;

-- Materialized views (REFRESH CONCURRENTLY: lsm_unsupported).
CREATE TABLE f_src (k int, g int) USING :am;
INSERT INTO f_src SELECT g, g % 7 FROM generate_series(1, 700) g;
CREATE MATERIALIZED VIEW f_mv USING :am AS
	SELECT g, count(*) AS n, sum(k) AS s FROM f_src GROUP BY g;
SELECT * FROM f_mv ORDER BY g;
DELETE FROM f_src WHERE g = 3;
REFRESH MATERIALIZED VIEW f_mv;
SELECT * FROM f_mv ORDER BY g;
DROP MATERIALIZED VIEW f_mv;

-- Data-modifying CTEs moving rows between tables.
CREATE TABLE f_archive (k int, g int) USING :am;
WITH moved AS (DELETE FROM f_src WHERE g = 5 RETURNING *)
INSERT INTO f_archive SELECT * FROM moved;
WITH up AS (UPDATE f_src SET g = -g WHERE g = 6 RETURNING k)
SELECT count(*), sum(k) FROM up;
SELECT (SELECT count(*) FROM f_src) AS src, (SELECT count(*) FROM f_archive) AS archive,
	   (SELECT count(*) FROM f_src WHERE g < 0) AS negated;
DROP TABLE f_src, f_archive;

DROP EXTENSION lsm_am;
