/*
 * lsm_fetch.c - reading single rows of an lsm table by TID: tuple fetches
 * (UPDATE, DELETE, TID scans, EvalPlanQual), index fetches, TID validity,
 * update chains, and the SERIALIZABLE read checks every read path shares.
 *
 * A TID names a row id (lsm_tree.h).  The row-map family maps the row id to
 * the row's data key, and the data key's versions (its VALUE and later XMAX
 * deltas, newest first) resolve to an LsmRow whose visibility lsm_tuple.h
 * decides.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/subtrans.h"
#include "access/transam.h"
#include "access/xact.h"
#include "pgstat.h"
#include "storage/predicate.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "lsm_keys.h"
#include "lsm_tableam.h"

typedef struct LsmIndexFetch
{
	IndexFetchTableData base;
	LsmTree    *tree;
	MemoryContext rowcxt;		/* the row being resolved; reset per fetch */
	LsmFetch	fetch;
} LsmIndexFetch;

void
lsm_fetch_init(LsmFetch *f)
{
	initStringInfo(&f->datakey);
	memset(&f->row, 0, sizeof(f->row));
}

void
lsm_row_release(LsmRow *row)
{
	if (row->tuple.t_data != NULL)
		pfree(row->tuple.t_data);
	row->tuple.t_data = NULL;
}

/* LsmVersionCallback for a row-map key: the newest VALUE is the data key. */
static bool
rowmap_version(void *arg, uint64 seq, lsm_kind kind, const uint8 *value,
			   Size vallen)
{
	StringInfo	datakey = (StringInfo) arg;

	if (kind == LSM_KIND_VALUE)
	{
		appendBinaryStringInfo(datakey, (const char *) value, (int) vallen);
		return false;
	}
	/* a tombstone ends the mapping: the row is gone */
	return kind != LSM_KIND_TOMBSTONE;
}

/*
 * Resolves the row at tid into f, whatever its visibility.  Returns false if
 * the TID names no row (never written, or removed by garbage collection).
 */
bool
lsm_fetch_row(Relation rel, LsmTree *tree, ItemPointer tid, LsmFetch *f)
{
	uint8		mapkey[1 + LSM_ROWID_BYTES];
	LsmRowId	rowid;
	LsmRowBuilder b;

	if (!ItemPointerIsValid(tid) || !lsm_tid_valid(tid))
		return false;
	rowid = lsm_tid_to_rowid(tid);
	if (rowid > LSM_MAX_ROWID)
		return false;

	lsm_key_make_rowmap(mapkey, rowid);
	resetStringInfo(&f->datakey);
	(void) lsm_tree_versions(tree, mapkey, sizeof(mapkey), rowmap_version,
							 &f->datakey);
	if (f->datakey.len == 0)
		return false;

	if (f->datakey.len < 1 + LSM_ROWID_BYTES ||
		(uint8) f->datakey.data[0] != LSM_FAMILY_DATA ||
		lsm_key_rowid((const uint8 *) f->datakey.data, f->datakey.len) != rowid)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("row map entry of row id " UINT64_FORMAT " in lsm table \"%s\" does not name that row",
					   rowid, RelationGetRelationName(rel)));

	lsm_row_builder_init(&b, &f->row, rowid);
	(void) lsm_tree_versions(tree, (const uint8 *) f->datakey.data,
							 f->datakey.len, lsm_row_builder_add, &b);
	if (!lsm_row_builder_finish(&b))
		return false;
	f->row.tuple.t_tableOid = RelationGetRelid(rel);
	return true;
}

/*
 * Puts a copy of row into slot; the slot owns it, so it outlives whatever
 * the scan or fetch does next (heap slots get the same from buffer pins).
 */
void
lsm_store_row(TupleTableSlot *slot, Relation rel, LsmRow *row)
{
	MemoryContext oldcxt;
	HeapTuple	tuple;

	row->tuple.t_tableOid = RelationGetRelid(rel);
	oldcxt = MemoryContextSwitchTo(slot->tts_mcxt);
	tuple = heap_copytuple(&row->tuple);
	MemoryContextSwitchTo(oldcxt);

	if (TTS_IS_HEAPTUPLE(slot))
		ExecStoreHeapTuple(tuple, slot, true);
	else
		ExecForceStoreHeapTuple(tuple, slot, true);
	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = row->tuple.t_self;
}

/*
 * HeapCheckForSerializableConflictOut for our rows: under SERIALIZABLE, a
 * row we cannot see because a concurrent transaction inserted it, or can see
 * although a concurrent transaction deleted it, is a rw-conflict out.
 */
void
lsm_check_serializable_conflict_out(bool visible, Relation rel, LsmRow *row,
									Snapshot snapshot)
{
	TransactionId xid;

	if (!CheckForSerializableConflictOutNeeded(rel, snapshot))
		return;

	switch (lsm_row_satisfies_vacuum(row, TransactionXmin))
	{
		case HEAPTUPLE_LIVE:
			if (visible)
				return;
			xid = HeapTupleHeaderGetXmin(row->tuple.t_data);
			break;
		case HEAPTUPLE_RECENTLY_DEAD:
		case HEAPTUPLE_DELETE_IN_PROGRESS:
			if (visible)
				xid = HeapTupleHeaderGetUpdateXid(row->tuple.t_data);
			else
				xid = HeapTupleHeaderGetXmin(row->tuple.t_data);
			if (TransactionIdPrecedes(xid, TransactionXmin))
			{
				/* This is like the HEAPTUPLE_DEAD case */
				Assert(!visible);
				return;
			}
			break;
		case HEAPTUPLE_INSERT_IN_PROGRESS:
			xid = HeapTupleHeaderGetXmin(row->tuple.t_data);
			break;
		case HEAPTUPLE_DEAD:
			Assert(!visible);
			return;
		default:
			elog(ERROR, "unrecognized return value from lsm_row_satisfies_vacuum");
			return;
	}

	Assert(TransactionIdIsValid(xid));

	/* Our own writes never conflict; nor do transactions before our xmin. */
	if (TransactionIdEquals(xid, GetTopTransactionIdIfAny()))
		return;
	xid = SubTransGetTopmostTransaction(xid);
	if (TransactionIdPrecedes(xid, TransactionXmin))
		return;

	CheckForSerializableConflictOut(rel, xid, snapshot);
}

/*
 * Fetches the row at tid and stores it in slot if snapshot sees it; the
 * common part of index fetches and tuple fetches.  The row is resolved in
 * rowcxt, which the caller resets.
 */
static bool
fetch_visible(Relation rel, LsmTree *tree, LsmFetch *f, MemoryContext rowcxt,
			  ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
	bool		found;
	bool		visible;

	f->row.tuple.t_data = NULL;
	found = lsm_fetch_row(rel, tree, tid, f);
	MemoryContextSwitchTo(oldcxt);
	if (!found)
		return false;

	visible = lsm_row_satisfies(&f->row, snapshot);
	lsm_check_serializable_conflict_out(visible, rel, &f->row, snapshot);
	if (!visible)
		return false;

	PredicateLockTID(rel, tid, snapshot,
					 HeapTupleHeaderGetXmin(f->row.tuple.t_data));
	lsm_store_row(slot, rel, &f->row);
	return true;
}

/* ------------------------------------------------------------------------
 * Index fetches
 * ------------------------------------------------------------------------
 */

IndexFetchTableData *
lsm_index_fetch_begin(Relation rel)
{
	LsmIndexFetch *scan = palloc0(sizeof(LsmIndexFetch));

	scan->base.rel = rel;
	scan->tree = lsm_tree_open(rel);
	scan->rowcxt = AllocSetContextCreate(CurrentMemoryContext,
										 "lsm index fetch",
										 ALLOCSET_SMALL_SIZES);
	lsm_fetch_init(&scan->fetch);
	return &scan->base;
}

void
lsm_index_fetch_reset(IndexFetchTableData *sscan)
{
	LsmIndexFetch *scan = (LsmIndexFetch *) sscan;

	MemoryContextReset(scan->rowcxt);
	scan->fetch.row.tuple.t_data = NULL;
}

void
lsm_index_fetch_end(IndexFetchTableData *sscan)
{
	LsmIndexFetch *scan = (LsmIndexFetch *) sscan;

	MemoryContextDelete(scan->rowcxt);
	pfree(scan->fetch.datakey.data);
	pfree(scan);
}

/*
 * Every update gets a new TID and new index entries, so a TID names one row
 * version and there is never another to call again for.  all_dead is set
 * only for a killed speculative insertion (lsm_tuple.h), dead to everyone
 * from the start, as heap reports it; otherwise it stays false: index AMs
 * would then remove entries, and telling them which xid horizon that
 * conflicts with on a standby needs compaction's knowledge.
 */
bool
lsm_index_fetch_tuple(IndexFetchTableData *sscan, ItemPointer tid,
					  Snapshot snapshot, TupleTableSlot *slot,
					  bool *call_again, bool *all_dead)
{
	LsmIndexFetch *scan = (LsmIndexFetch *) sscan;

	*call_again = false;
	if (all_dead)
		*all_dead = false;

	MemoryContextReset(scan->rowcxt);
	if (fetch_visible(scan->base.rel, scan->tree, &scan->fetch,
					  scan->rowcxt, tid, snapshot, slot))
		return true;

	if (all_dead && scan->fetch.row.tuple.t_data != NULL &&
		HeapTupleHeaderXminInvalid(scan->fetch.row.tuple.t_data) &&
		!TransactionIdIsValid(HeapTupleHeaderGetRawXmin(scan->fetch.row.tuple.t_data)))
		*all_dead = true;
	return false;
}

/* ------------------------------------------------------------------------
 * Single-row callbacks
 * ------------------------------------------------------------------------
 */

bool
lsm_tuple_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot,
							TupleTableSlot *slot)
{
	LsmTree    *tree = lsm_tree_open(rel);
	MemoryContext cxt;
	LsmFetch	f;
	bool		found;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm fetch",
								ALLOCSET_SMALL_SIZES);
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

		lsm_fetch_init(&f);
		MemoryContextSwitchTo(oldcxt);
	}
	found = fetch_visible(rel, tree, &f, cxt, tid, snapshot, slot);
	MemoryContextDelete(cxt);

	if (found)
		pgstat_count_heap_fetch(rel);
	return found;
}

/*
 * As heap's, a TID is valid if it lies within the relation's size, which
 * for an lsm table is the row ids handed out or reserved so far (see
 * lsm_relation_size): currtid2() and WHERE CURRENT OF refuse the rest.
 */
bool
lsm_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	return ItemPointerIsValid(tid) && lsm_tid_valid(tid) &&
		lsm_tid_to_rowid(tid) < lsm_rowid_limit(lsm_tree_open(scan->rs_rd));
}

/*
 * heap_get_latest_tid: follow the update chain from tid and leave in *tid
 * the newest version the scan's snapshot sees.
 */
void
lsm_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
	Relation	rel = scan->rs_rd;
	Snapshot	snapshot = scan->rs_snapshot;
	LsmTree    *tree = lsm_tree_open(rel);
	MemoryContext cxt;
	MemoryContext oldcxt;
	ItemPointerData ctid = *tid;
	TransactionId priorXmax = InvalidTransactionId;
	LsmFetch	f;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm latest tid",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	lsm_fetch_init(&f);

	for (;;)
	{
		HeapTupleHeader htup;
		bool		valid;

		CHECK_FOR_INTERRUPTS();

		f.row.tuple.t_data = NULL;
		if (!lsm_fetch_row(rel, tree, &ctid, &f))
			break;
		htup = f.row.tuple.t_data;

		/* A ctid link may lead to an unrelated row; the xmin tells. */
		if (TransactionIdIsValid(priorXmax) &&
			!TransactionIdEquals(priorXmax, HeapTupleHeaderGetXmin(htup)))
			break;

		valid = lsm_row_satisfies(&f.row, snapshot);
		lsm_check_serializable_conflict_out(valid, rel, &f.row, snapshot);
		if (valid)
			*tid = ctid;

		if (!f.row.has_xmax ||
			(htup->t_infomask & HEAP_XMAX_INVALID) ||
			HeapTupleHeaderIsOnlyLocked(htup) ||
			HeapTupleHeaderIndicatesMovedPartitions(htup) ||
			ItemPointerEquals(&ctid, &htup->t_ctid))
			break;

		ctid = htup->t_ctid;
		priorXmax = HeapTupleHeaderGetUpdateXid(htup);
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}

/*
 * The slot's copy of a row does not follow later deltas, so ask the tree for
 * the row's current state.
 */
bool
lsm_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot,
							 Snapshot snapshot)
{
	LsmTree    *tree = lsm_tree_open(rel);
	MemoryContext cxt;
	MemoryContext oldcxt;
	LsmFetch	f;
	bool		result = false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm satisfies",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	lsm_fetch_init(&f);
	if (lsm_fetch_row(rel, tree, &slot->tts_tid, &f))
		result = lsm_row_satisfies(&f.row, snapshot);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return result;
}

/*
 * Index AMs ask which of their entries may go.  lsm_index_fetch_tuple never
 * reports all_dead, so index entries are only known deletable from the
 * index AM's own marks; we keep exactly those and claim none of the others.
 * The conflict horizon for standbys is unknown to us, so answer with the
 * newest xid that can have deleted anything: conservative, never unsafe.
 */
TransactionId
lsm_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	int			nkeep = 0;

	for (int i = 0; i < delstate->ndeltids; i++)
	{
		TM_IndexDelete *d = &delstate->deltids[i];

		if (delstate->status[d->id].knowndeletable)
			delstate->deltids[nkeep++] = *d;
	}
	delstate->ndeltids = nkeep;

	if (nkeep == 0)
		return InvalidTransactionId;
	return XidFromFullTransactionId(ReadNextFullTransactionId());
}
