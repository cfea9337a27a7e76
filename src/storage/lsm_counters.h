/*
 * lsm_counters.h - per-table activity counters in shared memory.
 *
 * Each table's directory entry (LsmTableShared, lsm_storage.h) carries an
 * LsmCounters: a set of monotonically increasing 64-bit counters and the
 * times of the last flush and compaction.  They are plain atomics, bumped
 * without any lock by whichever process does the work (writers, flushing
 * backends, the background worker), and read by lsm_stats() and the
 * lsm_tables view.  They start at zero when the entry is created: at the
 * table's first use after a server start, after its storage was replaced
 * (TRUNCATE, a rewriting ALTER TABLE), or after an idle entry was evicted
 * to make room for another table (lsm.max_tables); stats_reset tells when.
 *
 * What each counts:
 *   FLUSHES, BYTES_FLUSHED      memtables written as level-0 runs, and the
 *                               bytes of those runs
 *   COMPACTIONS, BYTES_COMPACTED_READ, BYTES_COMPACTED_WRITTEN
 *                               compaction steps installed, the bytes of the
 *                               runs they merged and of the runs they wrote
 *   RUNS_MOVED                  of those steps, the runs moved down a level
 *                               as they were (no bytes read or written)
 *   ENTRIES_GC_DROPPED, ENTRIES_FROZEN
 *                               entries garbage collection removed / froze
 *   BLOOM_PROBES, BLOOM_SKIPS   point lookups' (and LsmScan's point
 *                               ranges') bloom filter checks of runs whose
 *                               key range covers the key, and those that
 *                               let the run be skipped
 *   STALL_SLOWDOWNS, STALL_STOPS, STALL_USEC
 *                               writes delayed and writes that waited for
 *                               flushes or compaction, and the time spent
 *   BYTES_WRITTEN_BY_USERS      key + value bytes of every entry written
 *                               (rows, row-map entries, deltas): the
 *                               denominator of write amplification
 */
#ifndef LSM_COUNTERS_H
#define LSM_COUNTERS_H

#include "postgres.h"

#include "port/atomics.h"
#include "utils/timestamp.h"

typedef enum LsmCounter
{
	LSM_CTR_FLUSHES,
	LSM_CTR_BYTES_FLUSHED,
	LSM_CTR_COMPACTIONS,
	LSM_CTR_RUNS_MOVED,
	LSM_CTR_BYTES_COMPACTED_READ,
	LSM_CTR_BYTES_COMPACTED_WRITTEN,
	LSM_CTR_ENTRIES_GC_DROPPED,
	LSM_CTR_ENTRIES_FROZEN,
	LSM_CTR_BLOOM_PROBES,
	LSM_CTR_BLOOM_SKIPS,
	LSM_CTR_STALL_SLOWDOWNS,
	LSM_CTR_STALL_STOPS,
	LSM_CTR_STALL_USEC,
	LSM_CTR_BYTES_WRITTEN_BY_USERS,
	LSM_NUM_COUNTERS
} LsmCounter;

typedef enum LsmTimestamp
{
	LSM_TS_LAST_FLUSH,
	LSM_TS_LAST_COMPACTION,
	LSM_TS_RESET,				/* when the counters started from zero */
	LSM_NUM_TIMESTAMPS
} LsmTimestamp;

typedef struct LsmCounters
{
	pg_atomic_uint64 ctr[LSM_NUM_COUNTERS];
	pg_atomic_uint64 ts[LSM_NUM_TIMESTAMPS];	/* TimestampTz; 0: never */
	pg_atomic_uint32 compacting_pid;	/* process compacting now, or 0 */
} LsmCounters;

struct LsmTableShared;

/* Zeroes every counter and sets LSM_TS_RESET to now (entry creation). */
extern void lsm_counters_init(LsmCounters *c);

/* Adds n to a counter of the table whose entry is e (NULL: no-op). */
extern void lsm_counter_add(struct LsmTableShared *e, LsmCounter ctr, uint64 n);

/* Sets a timestamp of e to the current time (NULL: no-op). */
extern void lsm_counter_set_time(struct LsmTableShared *e, LsmTimestamp ts);

/* Marks e as being compacted by this process (true) or by none (false). */
extern void lsm_counter_set_compacting(struct LsmTableShared *e, bool on);

/* Reads a counter or a timestamp (0 when never set). */
extern uint64 lsm_counter_get(struct LsmTableShared *e, LsmCounter ctr);
extern TimestampTz lsm_counter_get_time(struct LsmTableShared *e, LsmTimestamp ts);
extern int	lsm_counter_get_compacting(struct LsmTableShared *e);

#endif							/* LSM_COUNTERS_H */
