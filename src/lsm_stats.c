/*
 * lsm_stats.c - SQL functions that show the shape of an lsm table's tree:
 *
 *   lsm_levels(rel)  one row per non-empty level: runs, entries, bytes
 *   lsm_memtables(rel)  one row per memtable (active first, then frozen ones
 *                    waiting for a flush): entries and bytes in use
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
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "lsm_storage.h"
#include "lsm_tableam.h"

PG_FUNCTION_INFO_V1(lsm_levels);
PG_FUNCTION_INFO_V1(lsm_memtables);

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
	lsm_tree_scan_end(lsm_tree_scan_begin(lsm_tree_open(rel)));
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
	lsm_store_init(&store, &rel->rd_node, rel->rd_rel->relpersistence,
				   RelationNeedsWAL(rel), RelationGetRelationName(rel),
				   CurrentMemoryContext);
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
lsm_memtable_row(ReturnSetInfo *rsinfo, const char *state, int region)
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
		lsm_memtable_row(rsinfo, regions[i] == active ? "active" : "frozen",
						 regions[i]);
	lsm_use_release(u);
	relation_close(rel, AccessShareLock);
	return (Datum) 0;
}
