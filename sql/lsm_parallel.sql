-- Parallel query and lsm tables: the planner gets no partial (parallel) scan
-- of an lsm table, whatever parallel_workers says, but a parallel worker may
-- read one whole: under a Gather (force_parallel_mode), or as the inner side
-- of a parallel join.  It must see what the leader sees, its own
-- transaction's uncommitted writes included.  Every result is checked
-- against the same statements on a heap table.
CREATE EXTENSION lsm_am;
CREATE TABLE par_l (k int, v text) USING lsm WITH (parallel_workers = 4);
CREATE TABLE par_h (k int, v text);
INSERT INTO par_l SELECT g, 'v' || g FROM generate_series(1, 20000) g;
INSERT INTO par_h SELECT g, 'v' || g FROM generate_series(1, 20000) g;
SELECT lsm_flush('par_l');
-- rows in a run and rows still in the memtable
INSERT INTO par_l SELECT g, 'w' || g FROM generate_series(20001, 30000) g;
INSERT INTO par_h SELECT g, 'w' || g FROM generate_series(20001, 30000) g;
ANALYZE par_l, par_h;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- No parallel scan of the lsm table; heap's gets one.
EXPLAIN (COSTS OFF) SELECT count(*) FROM par_l;
EXPLAIN (COSTS OFF) SELECT count(*) FROM par_h;

-- The lsm table read by a parallel worker, under a single-copy Gather.
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT count(*), sum(k) FROM par_l;
SELECT count(*), sum(k), sum(length(v)) FROM par_l;
SELECT count(*), sum(k), sum(length(v)) FROM par_h;
SELECT count(*), sum(k) FROM par_l WHERE k BETWEEN 19990 AND 20010;

-- The lsm table whole on the inner side of a parallel join: each process
-- builds its own hash table from a full scan of it.
RESET force_parallel_mode;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET enable_parallel_hash = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM par_h JOIN par_l USING (k) WHERE par_h.v = par_l.v;
SELECT count(*) FROM par_h JOIN par_l USING (k) WHERE par_h.v = par_l.v;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET enable_parallel_hash;

-- A worker sees its leader's uncommitted writes and not its deleted rows.
SET force_parallel_mode = on;
BEGIN;
DELETE FROM par_l WHERE k % 3 = 0;
DELETE FROM par_h WHERE k % 3 = 0;
UPDATE par_l SET v = 'u' || k WHERE k % 5 = 0;
UPDATE par_h SET v = 'u' || k WHERE k % 5 = 0;
INSERT INTO par_l VALUES (-1, 'new');
INSERT INTO par_h VALUES (-1, 'new');
SELECT count(*), sum(k), sum(length(v)), min(k) FROM par_l;
SELECT count(*), sum(k), sum(length(v)), min(k) FROM par_h;
SELECT count(*) FROM par_l l JOIN par_h h USING (k) WHERE l.v = h.v;
ROLLBACK;
SELECT count(*), sum(k), sum(length(v)) FROM par_l;

-- A worker's scan of a table whose rows are all in runs.
SELECT lsm_compact('par_l');
SELECT count(*), sum(k), sum(length(v)) FROM par_l;
RESET ALL;

DROP TABLE par_l, par_h;
DROP EXTENSION lsm_am;
