/*
 * lsm_rowid_scan.c - scans that visit lsm rows by row id: bitmap heap scans
 * and TABLESAMPLE.
 *
 * A TID names a row id (block = id / 291, offset = id % 291 + 1, lsm_tree.h),
 * so a TID bitmap built from any index's entries names row ids too: an
 * exact page lists the offsets to visit, a lossy page stands for all 291 row
 * ids of its block.  Each row id is looked up through the row-id map, as an
 * index fetch does, and the block's rows visible to the scan's snapshot are
 * collected up front (heap's page-at-a-time mode), then handed out one by
 * one.  The executor rechecks the original quals on lossy pages.
 *
 * TABLESAMPLE sees the table the same way: as blocks of 291 row ids, up to
 * the last row id handed out when the scan started.  The sampling method
 * picks blocks (SYSTEM) or offsets within each block (BERNOULLI), and each
 * row id picked is returned if its row is visible.  Row ids of deleted or
 * updated versions are picked like any other and then not returned, as
 * heap's dead tuples are.
 *
 * The executor prefetches the TID blocks a bitmap scan is about to visit as
 * blocks of the relation's file (nodeBitmapHeapscan.c).  Prefetching a block
 * past the file's end is harmless within an existing 1 GB segment, but md.c
 * fails on one whose segment does not exist, which happens once row ids
 * pass 291 * RELSEG_SIZE (about 38 million) in a file of less than 1 GB.
 * Such a table gets no bitmap paths (lsm_bitmap_scan_possible, from the
 * planner hook), and a plan made before refuses to run with a clear error.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/tsmapi.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/tidbitmap.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/memutils.h"

#include "lsm_tableam.h"

struct LsmRowidScan
{
	LsmTree    *tree;
	LsmRowId	rowid_limit;	/* no row id at or above it existed at start */
	MemoryContext blockcxt;		/* the rows of the current block */
	LsmFetch	fetch;
	LsmRow		rows[LSM_TIDS_PER_BLOCK];	/* visible rows of the block */
	int			nrows;
	int			next;
	BlockNumber sample_block;	/* TABLESAMPLE: the current block, or invalid */
};

/*
 * Can a bitmap scan of rel prefetch every block its TIDs name?  Every
 * segment of the file up to that of the last row id's block must exist.
 */
bool
lsm_bitmap_scan_possible(Relation rel)
{
	LsmRowId	limit = lsm_rowid_limit(lsm_tree_open(rel));
	BlockNumber nblocks;
	BlockNumber last_tid_block;

	if (limit == 0)
		return true;
	last_tid_block = (BlockNumber) ((limit - 1) / LSM_TIDS_PER_BLOCK);
	if (last_tid_block < RELSEG_SIZE)
		return true;
	nblocks = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);
	return nblocks > 0 &&
		last_tid_block / RELSEG_SIZE <= (nblocks - 1) / RELSEG_SIZE;
}

static LsmRowidScan *
rowid_scan_state(TableScanDesc scan)
{
	LsmRowidScan **slot = lsm_scan_rowid_state(scan);
	LsmRowidScan *st = *slot;
	Relation	rel = scan->rs_rd;
	MemoryContext oldcxt;

	if (st != NULL)
		return st;

	if ((scan->rs_flags & SO_TYPE_BITMAPSCAN) && !lsm_bitmap_scan_possible(rel))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("bitmap heap scan of lsm table \"%s\" is not possible: its row ids name blocks past its file's last segment",
					   RelationGetRelationName(rel)),
				errhint("Plan the query again, or SET enable_bitmapscan = off."));

	/* as long as the scan */
	oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(scan));
	st = palloc0(sizeof(LsmRowidScan));
	st->tree = lsm_tree_open(rel);
	st->rowid_limit = lsm_rowid_limit(st->tree);
	st->blockcxt = AllocSetContextCreate(CurrentMemoryContext,
										 "lsm bitmap block",
										 ALLOCSET_DEFAULT_SIZES);
	lsm_fetch_init(&st->fetch);
	st->sample_block = InvalidBlockNumber;
	MemoryContextSwitchTo(oldcxt);
	*slot = st;
	return st;
}

/* A rescan starts over, with the row ids that exist by then. */
void
lsm_rowid_scan_reset(LsmRowidScan *st)
{
	MemoryContextReset(st->blockcxt);
	st->nrows = 0;
	st->next = 0;
	st->sample_block = InvalidBlockNumber;
	st->rowid_limit = lsm_rowid_limit(st->tree);
}

void
lsm_rowid_scan_end(LsmRowidScan *st)
{
	MemoryContextDelete(st->blockcxt);
	pfree(st->fetch.datakey.data);
	pfree(st);
}

/*
 * Resolves the row at rowid into st->fetch.row and says whether the scan's
 * snapshot sees it, with the SERIALIZABLE checks every read path makes.
 */
static bool
fetch_visible(TableScanDesc scan, LsmRowidScan *st, LsmRowId rowid)
{
	Relation	rel = scan->rs_rd;
	Snapshot	snapshot = scan->rs_snapshot;
	ItemPointerData tid;
	bool		visible;

	lsm_rowid_to_tid(rowid, &tid);
	st->fetch.row.tuple.t_data = NULL;
	if (!lsm_fetch_row(rel, st->tree, &tid, &st->fetch))
		return false;

	visible = lsm_row_satisfies(&st->fetch.row, snapshot);
	lsm_check_serializable_conflict_out(visible, rel, &st->fetch.row,
										snapshot);
	if (visible)
		PredicateLockTID(rel, &tid, snapshot,
						 HeapTupleHeaderGetXmin(st->fetch.row.tuple.t_data));
	return visible;
}

/* Adds the row at rowid to the block's rows if the scan sees it. */
static void
visit_row(TableScanDesc scan, LsmRowidScan *st, LsmRowId rowid)
{
	if (fetch_visible(scan, st, rowid))
		st->rows[st->nrows++] = st->fetch.row;
}

bool
lsm_scan_bitmap_next_block(TableScanDesc scan, struct TBMIterateResult *tbmres)
{
	LsmRowidScan *st = rowid_scan_state(scan);
	LsmRowId	first = (LsmRowId) tbmres->blockno * LSM_TIDS_PER_BLOCK;
	MemoryContext oldcxt;

	MemoryContextReset(st->blockcxt);
	st->nrows = 0;
	st->next = 0;

	/* Blocks past the last row id at the start hold nothing we can see. */
	if (first >= st->rowid_limit)
		return false;

	oldcxt = MemoryContextSwitchTo(st->blockcxt);
	if (tbmres->ntuples >= 0)
	{
		for (int i = 0; i < tbmres->ntuples; i++)
		{
			OffsetNumber off = tbmres->offsets[i];

			if (off >= 1 && off <= LSM_TIDS_PER_BLOCK)
				visit_row(scan, st, first + off - 1);
		}
	}
	else
	{
		/* lossy: every row id of the block */
		for (int i = 0; i < LSM_TIDS_PER_BLOCK; i++)
		{
			if (first + i >= st->rowid_limit)
				break;
			visit_row(scan, st, first + i);
		}
	}
	MemoryContextSwitchTo(oldcxt);

	return st->nrows > 0;
}

bool
lsm_scan_bitmap_next_tuple(TableScanDesc scan, struct TBMIterateResult *tbmres,
						   TupleTableSlot *slot)
{
	LsmRowidScan *st = rowid_scan_state(scan);

	if (st->next >= st->nrows)
		return false;

	lsm_store_row(slot, scan->rs_rd, &st->rows[st->next++]);
	pgstat_count_heap_fetch(scan->rs_rd);
	return true;
}

/* ------------------------------------------------------------------------
 * TABLESAMPLE
 * ------------------------------------------------------------------------
 */

/* The number of row id blocks, as the scan sees the table. */
static BlockNumber
sample_nblocks(LsmRowidScan *st)
{
	return (BlockNumber) ((st->rowid_limit + LSM_TIDS_PER_BLOCK - 1) /
						  LSM_TIDS_PER_BLOCK);
}

bool
lsm_scan_sample_next_block(TableScanDesc scan, SampleScanState *scanstate)
{
	LsmRowidScan *st = rowid_scan_state(scan);
	TsmRoutine *tsm = scanstate->tsmroutine;
	BlockNumber nblocks = sample_nblocks(st);
	BlockNumber blockno;

	if (nblocks == 0)
		return false;

	if (tsm->NextSampleBlock)
		blockno = tsm->NextSampleBlock(scanstate, nblocks);
	else if (!BlockNumberIsValid(st->sample_block))
		blockno = 0;
	else if (st->sample_block + 1 < nblocks)
		blockno = st->sample_block + 1;
	else
		blockno = InvalidBlockNumber;

	st->sample_block = blockno;
	return BlockNumberIsValid(blockno);
}

bool
lsm_scan_sample_next_tuple(TableScanDesc scan, SampleScanState *scanstate,
						   TupleTableSlot *slot)
{
	LsmRowidScan *st = rowid_scan_state(scan);
	TsmRoutine *tsm = scanstate->tsmroutine;
	LsmRowId	first = (LsmRowId) st->sample_block * LSM_TIDS_PER_BLOCK;
	OffsetNumber maxoffset;

	maxoffset = (OffsetNumber) Min(LSM_TIDS_PER_BLOCK, st->rowid_limit - first);

	for (;;)
	{
		OffsetNumber off;
		MemoryContext oldcxt;
		bool		visible;

		CHECK_FOR_INTERRUPTS();

		off = tsm->NextSampleTuple(scanstate, st->sample_block, maxoffset);
		if (!OffsetNumberIsValid(off))
		{
			ExecClearTuple(slot);
			return false;
		}

		MemoryContextReset(st->blockcxt);
		oldcxt = MemoryContextSwitchTo(st->blockcxt);
		visible = fetch_visible(scan, st, first + off - 1);
		MemoryContextSwitchTo(oldcxt);
		if (visible)
		{
			lsm_store_row(slot, scan->rs_rd, &st->fetch.row);
			pgstat_count_heap_getnext(scan->rs_rd);
			return true;
		}
	}
}
