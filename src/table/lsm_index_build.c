/*
 * lsm_index_build.c - building indexes on lsm tables: CREATE INDEX (and
 * REINDEX) through index_build_range_scan, and the validation pass of
 * CREATE INDEX CONCURRENTLY through index_validate_scan.
 *
 * These follow heapam_index_build_range_scan and heapam_index_validate_scan
 * without the HOT chain handling: an update here always makes a new row id
 * with its own index entries, so every row version is indexed under its own
 * TID.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/tuplesort.h"

#include "lsm_tableam.h"

/* Is the row's TID in the block range a BRIN summarization asked for? */
static bool
in_block_range(LsmRow *row, BlockNumber start_blockno, BlockNumber numblocks)
{
	BlockNumber block = ItemPointerGetBlockNumber(&row->tuple.t_self);

	if (block < start_blockno)
		return false;
	return numblocks == InvalidBlockNumber || block - start_blockno < numblocks;
}

/*
 * Decides, as heapam_index_build_range_scan does under SnapshotAny, whether
 * to index the row and whether it counts as alive for uniqueness checks.
 * Waits for a concurrent inserter or deleter when a uniqueness check needs
 * its outcome; *recheck then says the row must be read again.
 */
static bool
classify_row(Relation heapRelation, LsmRow *row, TransactionId OldestXmin,
			 bool anyvisible, bool checking_uniqueness, double *reltuples,
			 bool *tupleIsAlive, bool *recheck)
{
	TransactionId xwait;

	*recheck = false;
	switch (lsm_row_satisfies_vacuum(row, OldestXmin))
	{
		case HEAPTUPLE_DEAD:
			*tupleIsAlive = false;
			return false;

		case HEAPTUPLE_LIVE:
			*tupleIsAlive = true;
			*reltuples += 1;
			return true;

		case HEAPTUPLE_RECENTLY_DEAD:
			/* Older snapshots may still need it; no uniqueness check. */
			*tupleIsAlive = false;
			return true;

		case HEAPTUPLE_INSERT_IN_PROGRESS:
			if (anyvisible)
			{
				*tupleIsAlive = true;
				*reltuples += 1;
				return true;
			}
			xwait = HeapTupleHeaderGetXmin(row->tuple.t_data);
			if (!TransactionIdIsCurrentTransactionId(xwait))
			{
				elog(WARNING, "concurrent insert in progress within table \"%s\"",
					 RelationGetRelationName(heapRelation));
				if (checking_uniqueness)
				{
					XactLockTableWait(xwait, heapRelation, &row->tuple.t_self,
									  XLTW_InsertIndexUnique);
					*recheck = true;
					return false;
				}
			}
			else
				*reltuples += 1;
			*tupleIsAlive = true;
			return true;

		case HEAPTUPLE_DELETE_IN_PROGRESS:
			*tupleIsAlive = false;
			if (anyvisible)
			{
				*reltuples += 1;
				return true;
			}
			xwait = HeapTupleHeaderGetUpdateXid(row->tuple.t_data);
			if (!TransactionIdIsCurrentTransactionId(xwait))
			{
				elog(WARNING, "concurrent delete in progress within table \"%s\"",
					 RelationGetRelationName(heapRelation));
				if (checking_uniqueness)
				{
					XactLockTableWait(xwait, heapRelation, &row->tuple.t_self,
									  XLTW_InsertIndexUnique);
					*recheck = true;
					return false;
				}
				*reltuples += 1;
			}
			return true;

		default:
			elog(ERROR, "unexpected lsm_row_satisfies_vacuum result");
			return false;
	}
}

double
lsm_index_build_range_scan(Relation heapRelation, Relation indexRelation,
						   IndexInfo *indexInfo, bool allow_sync,
						   bool anyvisible, bool progress,
						   BlockNumber start_blockno, BlockNumber numblocks,
						   IndexBuildCallback callback, void *callback_state,
						   TableScanDesc scan)
{
	bool		checking_uniqueness;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	double		reltuples = 0;
	ExprState  *predicate;
	TupleTableSlot *slot;
	EState	   *estate;
	ExprContext *econtext;
	Snapshot	snapshot;
	bool		need_unregister_snapshot = false;
	TransactionId OldestXmin;
	LsmTree    *tree = lsm_tree_open(heapRelation);
	MemoryContext rowcxt;
	LsmFetch	refetch;
	LsmRow	   *row;

	checking_uniqueness = (indexInfo->ii_Unique ||
						   indexInfo->ii_ExclusionOps != NULL);
	Assert(!(anyvisible && checking_uniqueness));

	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);
	slot = table_slot_create(heapRelation, NULL);
	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);

	/*
	 * A normal build sees every row version and decides itself (recently dead
	 * versions must be indexed for older snapshots); a concurrent build
	 * indexes what its MVCC snapshot sees.  A caller may bring its own scan
	 * (amcheck's heapallindexed: SnapshotAny or an MVCC snapshot, with
	 * ii_Concurrent set to match); it is ended here, as heap ends it.  We
	 * never plan parallel builds (lsm_tableam.c), the other such caller.
	 */
	OldestXmin = InvalidTransactionId;
	if (!IsBootstrapProcessingMode() && !indexInfo->ii_Concurrent)
		OldestXmin = GetOldestNonRemovableTransactionId(heapRelation);
	if (scan != NULL)
	{
		snapshot = scan->rs_snapshot;
		if (IsMVCCSnapshot(snapshot))
			OldestXmin = InvalidTransactionId;
		else if (snapshot != SnapshotAny || !TransactionIdIsValid(OldestXmin))
			elog(ERROR, "lsm table \"%s\": index build scan with an unexpected snapshot",
				 RelationGetRelationName(heapRelation));
	}
	else
	{
		if (!TransactionIdIsValid(OldestXmin))
		{
			snapshot = RegisterSnapshot(GetTransactionSnapshot());
			need_unregister_snapshot = true;
		}
		else
			snapshot = SnapshotAny;
		scan = table_beginscan_strat(heapRelation, snapshot, 0, NULL, true,
									 allow_sync);
	}

	if (progress)
		pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_TOTAL,
									 RelationGetNumberOfBlocks(heapRelation));

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "lsm index build row",
								   ALLOCSET_DEFAULT_SIZES);
	lsm_fetch_init(&refetch);

	while ((row = lsm_scan_next_row(scan)) != NULL)
	{
		bool		tupleIsAlive;

		CHECK_FOR_INTERRUPTS();

		if (!in_block_range(row, start_blockno, numblocks))
			continue;

		if (snapshot == SnapshotAny)
		{
			bool		indexIt;
			bool		recheck;

			for (;;)
			{
				indexIt = classify_row(heapRelation, row, OldestXmin,
									   anyvisible, checking_uniqueness,
									   &reltuples, &tupleIsAlive, &recheck);
				if (!recheck)
					break;

				/* The inserter or deleter ended: read the row's new state. */
				CHECK_FOR_INTERRUPTS();
				MemoryContextReset(rowcxt);
				{
					MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
					ItemPointerData tid = row->tuple.t_self;

					refetch.row.tuple.t_data = NULL;
					if (!lsm_fetch_row(heapRelation, tree, &tid, &refetch))
						elog(ERROR, "row (%u,%u) of lsm table \"%s\" vanished during index build",
							 ItemPointerGetBlockNumber(&tid),
							 ItemPointerGetOffsetNumber(&tid),
							 RelationGetRelationName(heapRelation));
					MemoryContextSwitchTo(oldcxt);
				}
				row = &refetch.row;
			}
			if (!indexIt)
				continue;
		}
		else
		{
			/* the scan did the visibility check */
			tupleIsAlive = true;
			reltuples += 1;
		}

		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		lsm_store_row(slot, heapRelation, row);

		/* Partial indexes take only the rows their predicate accepts. */
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;

		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		callback(indexRelation, &slot->tts_tid, values, isnull, tupleIsAlive,
				 callback_state);
	}

	if (progress)
		pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_DONE,
									 RelationGetNumberOfBlocks(heapRelation));

	table_endscan(scan);
	if (need_unregister_snapshot)
		UnregisterSnapshot(snapshot);

	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);

	/* These may have been pointing to the now-gone estate */
	indexInfo->ii_ExpressionsState = NIL;
	indexInfo->ii_PredicateState = NULL;

	return reltuples;
}

static int
rowid_cmp(const void *a, const void *b)
{
	LsmRowId	x = *(const LsmRowId *) a;
	LsmRowId	y = *(const LsmRowId *) b;

	return (x > y) - (x < y);
}

/*
 * CREATE INDEX CONCURRENTLY's second pass: insert every row the snapshot
 * sees that the index does not have yet.  The index's TIDs come sorted; we
 * keep them as row ids and look each scanned row up, since our scan runs in
 * key order rather than TID order.
 */
void
lsm_index_validate_scan(Relation heapRelation, Relation indexRelation,
						IndexInfo *indexInfo, Snapshot snapshot,
						ValidateIndexState *state)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	ExprState  *predicate;
	TupleTableSlot *slot;
	EState	   *estate;
	ExprContext *econtext;
	TableScanDesc scan;
	LsmRowId   *ids;
	Size		nids = 0;
	Size		maxids = 1024;
	Datum		ts_val;
	bool		ts_isnull;
	LsmRow	   *row;

	ids = MemoryContextAllocHuge(CurrentMemoryContext,
								 maxids * sizeof(LsmRowId));
	while (tuplesort_getdatum(state->tuplesort, true, &ts_val, &ts_isnull,
							  NULL))
	{
		ItemPointerData tid;

		Assert(!ts_isnull);
		itemptr_decode(&tid, DatumGetInt64(ts_val));
#ifndef USE_FLOAT8_BYVAL
		pfree(DatumGetPointer(ts_val));
#endif
		if (nids == maxids)
		{
			maxids *= 2;
			ids = repalloc_huge(ids, maxids * sizeof(LsmRowId));
		}
		ids[nids++] = lsm_tid_to_rowid(&tid);
	}

	estate = CreateExecutorState();
	econtext = GetPerTupleExprContext(estate);
	slot = table_slot_create(heapRelation, NULL);
	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);

	scan = table_beginscan_strat(heapRelation, snapshot, 0, NULL, true, false);
	pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_TOTAL,
								 RelationGetNumberOfBlocks(heapRelation));

	while ((row = lsm_scan_next_row(scan)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();

		state->htups += 1;
		if (nids > 0 &&
			bsearch(&row->rowid, ids, nids, sizeof(LsmRowId), rowid_cmp) != NULL)
			continue;

		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		lsm_store_row(slot, heapRelation, row);
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;

		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		index_insert(indexRelation, values, isnull, &slot->tts_tid,
					 heapRelation,
					 indexInfo->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, indexInfo);
		state->tups_inserted += 1;
	}

	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	pfree(ids);

	/* These may have been pointing to the now-gone estate */
	indexInfo->ii_ExpressionsState = NIL;
	indexInfo->ii_PredicateState = NULL;
}
