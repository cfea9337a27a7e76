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

\echo '--- an lsm table: rows kept in key order (its first column) by an LSM tree ---'
CREATE TABLE events (id bigint, device int, payload text) USING lsm;
\timing on
INSERT INTO events
SELECT hashint8extended(g, 42) & x'7fffffffffff'::bigint, g % 1000, 'event ' || g
FROM generate_series(1, 500000) g;
\timing off

\echo '--- a sequential scan returns key order; no sort needed ---'
SELECT * FROM events LIMIT 5;

\echo '--- point and range queries ---'
SELECT * FROM events WHERE id = (SELECT min(id) FROM events);
SELECT count(*), min(id), max(id) FROM events WHERE id BETWEEN 1000000000000 AND 2000000000000;

\echo '--- UPDATE, DELETE and transactions behave as on heap ---'
BEGIN;
DELETE FROM events WHERE device = 7;
UPDATE events SET payload = 'updated' WHERE device = 8;
SELECT count(*) FILTER (WHERE device = 7) AS device_7,
       count(*) FILTER (WHERE payload = 'updated') AS updated
FROM events;
ROLLBACK;
SELECT count(*) FROM events WHERE device IN (7, 8);

\echo '--- a btree index on another column ---'
CREATE INDEX ON events (device);
SELECT count(*) FROM events WHERE device = 42;

\echo '--- stats: the memtable in shared memory and the runs per level ---'
SELECT * FROM lsm_memtables('events');
SELECT * FROM lsm_levels('events');
\echo '--- flush the memtable to a level-0 run on demand ---'
SELECT lsm_flush('events');
SELECT * FROM lsm_memtables('events');
SELECT * FROM lsm_levels('events');
SELECT pg_size_pretty(pg_table_size('events')) AS table_size;
