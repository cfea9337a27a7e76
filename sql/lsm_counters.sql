-- lsm_stats() and the lsm_tables view: a table's activity counters move
-- with flushes, compactions and point lookups.
CREATE EXTENSION lsm_am;

CREATE TABLE ct (k int, v text) USING lsm;

-- a new table: nothing yet
SELECT memtables, memtable_entries, levels, runs, run_entries, run_bytes,
       flushes, bytes_flushed, last_flush IS NULL AS never_flushed,
       compactions, runs_moved, bytes_compacted_read, bytes_compacted_written,
       last_compaction IS NULL AS never_compacted, user_bytes_written,
       write_amplification, bloom_probes, bloom_skips,
       gc_entries_dropped, gc_entries_frozen,
       stall_slowdowns, stall_stops, stall_time,
       delayed_write_rate =
         pg_size_bytes(current_setting('lsm.delayed_write_rate')) AS full_rate,
       compacting_pid, compaction_requested,
       stats_reset IS NOT NULL AS has_reset_time
FROM lsm_stats('ct');

-- writes count their key and value bytes; they stay in the memtable
INSERT INTO ct SELECT g, repeat('x', 20) FROM generate_series(1, 1000) g;
SELECT memtables, memtable_entries, memtable_bytes > 0 AS memtable_bytes,
       flushes, user_bytes_written > 20 * 1000 AS user_bytes,
       write_amplification
FROM lsm_stats('ct');

-- a flush writes one level-0 run: counted with its bytes and time
SELECT lsm_flush('ct');
SELECT memtable_entries, levels, runs, run_entries,
       flushes, bytes_flushed > 0 AS bytes_flushed,
       bytes_flushed <= run_bytes AS fits_its_pages,
       last_flush >= stats_reset AS flushed_after_reset,
       write_amplification > 0 AS write_amplification
FROM lsm_stats('ct');
CREATE TEMP TABLE after_flush AS SELECT * FROM lsm_stats('ct');

INSERT INTO ct SELECT g, repeat('y', 20) FROM generate_series(1001, 2000) g;
SELECT lsm_flush('ct');
SELECT s.runs, s.flushes, s.bytes_flushed > a.bytes_flushed AS more_bytes,
       s.last_flush >= a.last_flush AS later
FROM lsm_stats('ct') s, after_flush a;

-- point lookups of row ids that do not exist (TID scans), past every row id
-- handed out: each run's key range (row-map entries, then data keys) spans
-- them, but they lie between its last row-map entry and its first data key,
-- where a run records it has nothing (its split keys): no filter is probed
SELECT count(*) FROM ct
WHERE ctid = ANY (ARRAY(SELECT format('(%s,1)', g)::tid
                        FROM generate_series(1000, 1049) g));
SELECT bloom_probes, bloom_skips FROM lsm_stats('ct');

-- key lookups inside two runs' data keys (even keys, then odd keys), one per
-- outer row of a nested loop: each run's bloom filter is probed, and the odd
-- keys' filter rules out nearly every even key
CREATE TABLE ct_probe (k int) USING lsm;
INSERT INTO ct_probe SELECT generate_series(2, 2000, 2);
SELECT lsm_flush('ct_probe');
INSERT INTO ct_probe SELECT generate_series(1, 1999, 2);
SELECT lsm_flush('ct_probe');
SET enable_seqscan = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT count(*) FROM generate_series(2, 200, 2) g JOIN ct_probe ON k = g;
RESET enable_seqscan;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT bloom_probes = 200 AS probed_both_runs, bloom_skips >= 90 AS skipped,
       bloom_skips <= bloom_probes AS skips_are_probes
FROM lsm_stats('ct_probe');

-- lookups of rows that exist probe too (and find them)
CREATE TEMP TABLE before_hits AS SELECT * FROM lsm_stats('ct');
SELECT count(*) FROM ct
WHERE ctid = ANY (ARRAY(SELECT format('(%s,%s)', g / 291, g % 291 + 1)::tid
                        FROM generate_series(0, 1999, 100) g));
SELECT s.bloom_probes > b.bloom_probes AS probed
FROM lsm_stats('ct') s, before_hits b;

-- without bloom filters nothing is probed
SET lsm.bloom_bits_per_key = 0;
CREATE TABLE ct_nobloom (k int) USING lsm;
INSERT INTO ct_nobloom SELECT generate_series(1, 100);
SELECT lsm_flush('ct_nobloom');
SELECT count(*) FROM ct_nobloom WHERE ctid = '(100,1)';
SELECT bloom_probes, bloom_skips FROM lsm_stats('ct_nobloom');
RESET lsm.bloom_bits_per_key;

-- a full compaction reads every run and writes the merged ones
SELECT lsm_compact('ct');
SELECT s.levels, s.runs, s.run_entries, s.compactions >= 1 AS compacted,
       s.bytes_compacted_read = s.bytes_flushed AS read_every_run,
       s.bytes_compacted_written > 0 AS wrote,
       s.last_compaction >= s.last_flush AS after_flush,
       s.write_amplification =
         (s.bytes_flushed + s.bytes_compacted_written)::float8 / s.user_bytes_written
         AS amplification,
       s.compacting_pid IS NULL AS not_compacting_now
FROM lsm_stats('ct') s;
SELECT count(*), sum(k) FROM ct;

-- the view: one row per lsm table of the database
SELECT relation, runs, flushes, compactions >= 1 AS compacted
FROM lsm_tables ORDER BY relation::text;

-- TRUNCATE gives the table new storage and its counters start again
TRUNCATE ct;
SELECT runs, flushes, compactions, bloom_probes, user_bytes_written
FROM lsm_stats('ct');

-- not an lsm table, NULL
CREATE TABLE ct_heap (k int);
SELECT * FROM lsm_stats('ct_heap');
SELECT * FROM lsm_stats(NULL);

-- readable only with SELECT privilege; the view shows only those
CREATE ROLE regress_lsm_reader;
SET ROLE regress_lsm_reader;
SELECT flushes FROM lsm_stats('ct');
SELECT count(*) FROM lsm_tables;
RESET ROLE;
GRANT SELECT ON ct TO regress_lsm_reader;
SET ROLE regress_lsm_reader;
SELECT relation FROM lsm_tables;
RESET ROLE;

DROP TABLE ct, ct_probe, ct_nobloom, ct_heap;
DROP ROLE regress_lsm_reader;
DROP EXTENSION lsm_am;
