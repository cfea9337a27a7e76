-- scripts/demo.sql - what lsm_am does today, run by scripts/demo.sh in a
-- fresh cluster whose shared_preload_libraries contains lsm_am.
--
-- Add each new user-visible feature here (lsm tables, point and range
-- queries, statistics) so "scripts/setup.sh" keeps showing the main job.

\echo '--- the extension loads (it requires shared_preload_libraries) ---'
SHOW shared_preload_libraries;
CREATE EXTENSION lsm_am;
SELECT extname, extversion FROM pg_extension WHERE extname = 'lsm_am';

\echo '--- versions of the extension library and of the LSM core in it ---'
SELECT lsm_am_version();

\echo '--- lsm.* settings are reserved: a misspelt one is an error, not ignored ---'
\set ON_ERROR_STOP 0
SET lsm.no_such_setting = 1;
\set ON_ERROR_STOP 1

\echo '--- the table access method (CREATE TABLE ... USING lsm) is the next step ---'
