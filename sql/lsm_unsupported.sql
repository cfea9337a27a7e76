-- Operations lsm tables do not support yet fail with a clear error
-- (SQLSTATE 0A000, feature_not_supported) and change nothing.
CREATE EXTENSION lsm_am;
CREATE TABLE u (k int, v text) USING lsm;
INSERT INTO u SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE INDEX u_v ON u (v);

\set VERBOSITY sqlstate
CLUSTER u USING u_v;
VACUUM FULL u;
CREATE TEMP TABLE u_temp (k int) USING lsm;
\set VERBOSITY default

-- the same errors, with their messages
CLUSTER u USING u_v;

-- REFRESH MATERIALIZED VIEW CONCURRENTLY fills a temporary table of the
-- view's access method; an lsm view is refreshed without CONCURRENTLY.
CREATE MATERIALIZED VIEW u_mv USING lsm AS SELECT k, v FROM u WHERE k <= 10;
CREATE UNIQUE INDEX u_mv_k ON u_mv (k);
DELETE FROM u WHERE k <= 5;
REFRESH MATERIALIZED VIEW CONCURRENTLY u_mv;
SELECT count(*), min(k) FROM u_mv;
REFRESH MATERIALIZED VIEW u_mv;
SELECT count(*), min(k) FROM u_mv;
INSERT INTO u SELECT g, 'v' || g FROM generate_series(1, 5) g;
DROP MATERIALIZED VIEW u_mv;

-- nothing changed; plain VACUUM and ANALYZE work
VACUUM u;
ANALYZE u;
SELECT count(*), sum(k) FROM u;
SELECT reltuples FROM pg_class WHERE oid = 'u'::regclass;
DROP TABLE u;
DROP EXTENSION lsm_am;
