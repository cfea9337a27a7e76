/*
 * lsm_stats.c - SQL functions that show the shape of an lsm table's tree:
 *
 *   lsm_levels(rel)  one row per non-empty level: runs, entries, bytes
 *   lsm_memtables(rel)  one row per memtable (active first, then frozen ones
 *                    waiting for a flush): entries and bytes in use
 *   lsm_stats(rel)   one row: memtables and runs in total, and the table's
 *                    activity counters (lsm_counters.h) with the write
 *                    amplification they give; the lsm_tables view shows it
 *                    for every lsm table of the database
 *
 * Both read what readers see: the manifest in the metapage (under a share
 * lock on it) and the memtables listed in the table's shared state.  They
 * count entries, not rows: every row has a row-map entry, and deletes,
 * updates and row locks add delta entries until compaction folds them.
 */
#include "postgres.h"

#include "access/relation.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "lsm_compact.h"
#include "lsm_storage.h"
#include "lsm_tableam.h"
#include "lsm_workers.h"

PG_FUNCTION_INFO_V1(lsm_levels);
PG_FUNCTION_INFO_V1(lsm_memtables);
PG_FUNCTION_INFO_V1(lsm_stats);

/* Opens rel for reading its statistics; errors unless it is an lsm table. */
static Relation
lsm_stats_open(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);

	if (!lsm_is_lsm_relation(rel))
		ereport(ERROR,
				errcode(ERRCODE_WRONG_OBJECT_TYPE),
				errmsg("\"%s\" is not an lsm table", RelationGetRelationName(rel)));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	/*
	 * A table's log is replayed into its memtable on its first operation
	 * since server start; beginning a scan is one, so the memtables shown
	 * hold everything the log holds.
	 */
	lsm_tree_iter_end(lsm_tree_iter_begin(lsm_tree_open(rel)));
	return rel;
}

Datum
lsm_levels(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	rel = lsm_stats_open(PG_GETARG_OID(0));
	LsmStore	store;
	LsmMetaTx	tx;

	InitMaterializedSRF(fcinfo, 0);
	lsm_store_init_rel(&store, rel, CurrentMemoryContext);
	lsm_meta_begin(&store, &tx, false, true);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		const lsm_level *lv = &tx.m.levels[l];
		uint64		entries = 0;
		uint64		bytes = 0;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (lv->nruns == 0)
			continue;
		for (int i = 0; i < lv->nruns; i++)
		{
			entries += lv->runs[i].nentries;
			bytes += (uint64) lv->runs[i].npages * BLCKSZ;
		}
		values[0] = Int32GetDatum(l);
		values[1] = Int32GetDatum(lv->nruns);
		values[2] = Int64GetDatum((int64) entries);
		values[3] = Int64GetDatum((int64) bytes);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	lsm_meta_end(&tx);
	lsm_store_free(&store);
	relation_close(rel, AccessShareLock);
	return (Datum) 0;
}

/* Adds one memtable's row; region may be -1 (no memtable yet). */
static void
memtables_row(ReturnSetInfo *rsinfo, const char *state, int region)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	lsm_memtable *mt;

	if (region < 0)
		return;
	mt = lsm_region_memtable(region);
	values[0] = CStringGetTextDatum(state);
	values[1] = Int64GetDatum((int64) lsm_memtable_count(mt));
	values[2] = Int64GetDatum((int64) lsm_memtable_bytes_used(mt));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
lsm_memtables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	rel = lsm_stats_open(PG_GETARG_OID(0));
	LsmUse	   *u;
	int			regions[LSM_MAX_MEMS];
	int			nregions = 0;
	int			active;

	InitMaterializedSRF(fcinfo, 0);
	u = lsm_use_attach(&rel->rd_node);

	/*
	 * Pinned regions cannot be recycled under us while we read their
	 * counters.  Which one is active is read just after: a flush in between
	 * only makes the labels a moment old.
	 */
	(void) lsm_use_pin_mems(u, regions, &nregions);
	SpinLockAcquire(&u->entry->mutex);
	active = u->entry->active.region;
	SpinLockRelease(&u->entry->mutex);
	for (int i = 0; i < nregions; i++)
		memtables_row(rsinfo, regions[i] == active ? "active" : "frozen",
					  regions[i]);
	lsm_use_release(u);
	relation_close(rel, AccessShareLock);
	return (Datum) 0;
}

/* The columns of lsm_stats, in order. */
typedef enum LsmStatsCol
{
	SC_MEMTABLES,
	SC_MEMTABLE_ENTRIES,
	SC_MEMTABLE_BYTES,
	SC_LEVELS,
	SC_RUNS,
	SC_RUN_ENTRIES,
	SC_RUN_BYTES,
	SC_FLUSHES,
	SC_BYTES_FLUSHED,
	SC_LAST_FLUSH,
	SC_COMPACTIONS,
	SC_RUNS_MOVED,
	SC_BYTES_COMPACTED_READ,
	SC_BYTES_COMPACTED_WRITTEN,
	SC_LAST_COMPACTION,
	SC_USER_BYTES_WRITTEN,
	SC_WRITE_AMPLIFICATION,
	SC_BLOOM_PROBES,
	SC_BLOOM_SKIPS,
	SC_GC_DROPPED,
	SC_GC_FROZEN,
	SC_STALL_SLOWDOWNS,
	SC_STALL_STOPS,
	SC_STALL_TIME,
	SC_DELAYED_WRITE_RATE,
	SC_COMPACTING_PID,
	SC_COMPACTION_REQUESTED,
	SC_STATS_RESET,
	SC_NCOLS
} LsmStatsCol;

/* Memtable columns: every memtable the table has, pinned while counted. */
static void
lsm_stats_memtables(LsmUse *u, Datum *values)
{
	int			regions[LSM_MAX_MEMS];
	int			nregions = 0;
	uint64		entries = 0;
	uint64		bytes = 0;

	(void) lsm_use_pin_mems(u, regions, &nregions);
	for (int i = 0; i < nregions; i++)
	{
		lsm_memtable *mt = lsm_region_memtable(regions[i]);

		entries += lsm_memtable_count(mt);
		bytes += lsm_memtable_bytes_used(mt);
	}
	lsm_use_unpin_all(u);
	values[SC_MEMTABLES] = Int32GetDatum(nregions);
	values[SC_MEMTABLE_ENTRIES] = Int64GetDatum((int64) entries);
	values[SC_MEMTABLE_BYTES] = Int64GetDatum((int64) bytes);
}

/* Run columns, from the manifest in the metapage. */
static void
lsm_stats_runs(Relation rel, Datum *values)
{
	LsmStore	store;
	LsmMetaTx	tx;
	int			levels = 0;
	int			runs = 0;
	uint64		entries = 0;
	uint64		bytes = 0;

	lsm_store_init_rel(&store, rel, CurrentMemoryContext);
	lsm_meta_begin(&store, &tx, false, true);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		const lsm_level *lv = &tx.m.levels[l];

		if (lv->nruns > 0)
			levels = l + 1;
		runs += lv->nruns;
		for (int i = 0; i < lv->nruns; i++)
		{
			entries += lv->runs[i].nentries;
			bytes += (uint64) lv->runs[i].npages * BLCKSZ;
		}
	}
	lsm_meta_end(&tx);
	lsm_store_free(&store);
	values[SC_LEVELS] = Int32GetDatum(levels);
	values[SC_RUNS] = Int32GetDatum(runs);
	values[SC_RUN_ENTRIES] = Int64GetDatum((int64) entries);
	values[SC_RUN_BYTES] = Int64GetDatum((int64) bytes);
}

static Datum
lsm_stats_time(LsmTableShared *e, LsmTimestamp ts, bool *isnull)
{
	TimestampTz t = lsm_counter_get_time(e, ts);

	*isnull = t == 0;
	return TimestampTzGetDatum(t);
}

/* Counter columns, read without a lock: each is exact, together a moment's view. */
static void
lsm_stats_counters(LsmTableShared *e, Oid relid, Datum *values, bool *nulls)
{
	static const struct
	{
		LsmStatsCol col;
		LsmCounter	ctr;
	}			map[] = {
		{SC_FLUSHES, LSM_CTR_FLUSHES},
		{SC_BYTES_FLUSHED, LSM_CTR_BYTES_FLUSHED},
		{SC_COMPACTIONS, LSM_CTR_COMPACTIONS},
		{SC_RUNS_MOVED, LSM_CTR_RUNS_MOVED},
		{SC_BYTES_COMPACTED_READ, LSM_CTR_BYTES_COMPACTED_READ},
		{SC_BYTES_COMPACTED_WRITTEN, LSM_CTR_BYTES_COMPACTED_WRITTEN},
		{SC_USER_BYTES_WRITTEN, LSM_CTR_BYTES_WRITTEN_BY_USERS},
		{SC_BLOOM_PROBES, LSM_CTR_BLOOM_PROBES},
		{SC_BLOOM_SKIPS, LSM_CTR_BLOOM_SKIPS},
		{SC_GC_DROPPED, LSM_CTR_ENTRIES_GC_DROPPED},
		{SC_GC_FROZEN, LSM_CTR_ENTRIES_FROZEN},
		{SC_STALL_SLOWDOWNS, LSM_CTR_STALL_SLOWDOWNS},
		{SC_STALL_STOPS, LSM_CTR_STALL_STOPS},
	};
	uint64		user;
	uint64		written;
	int			pid;

	for (size_t i = 0; i < lengthof(map); i++)
		values[map[i].col] = Int64GetDatum((int64) lsm_counter_get(e, map[i].ctr));

	/* Bytes written to runs per byte users wrote; unknown before any write. */
	user = lsm_counter_get(e, LSM_CTR_BYTES_WRITTEN_BY_USERS);
	written = lsm_counter_get(e, LSM_CTR_BYTES_FLUSHED) +
		lsm_counter_get(e, LSM_CTR_BYTES_COMPACTED_WRITTEN);
	nulls[SC_WRITE_AMPLIFICATION] = user == 0;
	values[SC_WRITE_AMPLIFICATION] = Float8GetDatum(user ? (double) written / user : 0);

	values[SC_STALL_TIME] =
		Float8GetDatum((double) lsm_counter_get(e, LSM_CTR_STALL_USEC) / 1000.0);
	values[SC_DELAYED_WRITE_RATE] = Int64GetDatum((int64) lsm_stall_rate(e));
	values[SC_LAST_FLUSH] = lsm_stats_time(e, LSM_TS_LAST_FLUSH, &nulls[SC_LAST_FLUSH]);
	values[SC_LAST_COMPACTION] = lsm_stats_time(e, LSM_TS_LAST_COMPACTION,
												&nulls[SC_LAST_COMPACTION]);
	values[SC_STATS_RESET] = lsm_stats_time(e, LSM_TS_RESET, &nulls[SC_STATS_RESET]);

	pid = lsm_counter_get_compacting(e);
	nulls[SC_COMPACTING_PID] = pid == 0;
	values[SC_COMPACTING_PID] = Int32GetDatum(pid);
	values[SC_COMPACTION_REQUESTED] =
		BoolGetDatum(lsm_compact_requested(MyDatabaseId, relid));
}

/*
 * lsm_stats(regclass): one row of the table's shape and activity.  The
 * counters are those of the table's shared entry, which opening the table
 * for the statistics (re)creates if it was evicted: then they start from
 * zero, as stats_reset says.
 */
Datum
lsm_stats(PG_FUNCTION_ARGS)
{
	Relation	rel = lsm_stats_open(PG_GETARG_OID(0));
	TupleDesc	tupdesc;
	Datum		values[SC_NCOLS];
	bool		nulls[SC_NCOLS];
	LsmUse	   *u;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != SC_NCOLS)
		elog(ERROR, "lsm_stats returns %d columns, not %d: the extension's SQL script does not match its library",
			 tupdesc->natts, SC_NCOLS);
	memset(nulls, 0, sizeof(nulls));

	u = lsm_use_attach(&rel->rd_node);
	lsm_stats_memtables(u, values);
	lsm_stats_runs(rel, values);
	lsm_stats_counters(u->entry, RelationGetRelid(rel), values, nulls);
	lsm_use_release(u);
	relation_close(rel, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
