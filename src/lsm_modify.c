/*
 * lsm_modify.c - INSERT, COPY, DELETE, UPDATE and row locks on lsm tables.
 *
 * A row version is never rewritten.  INSERT writes the row's VALUE under its
 * data key plus a row-map entry (row id -> data key), in one lsm_tree_write
 * call; DELETE, the old half of UPDATE and row locks write an XMAX delta
 * (LsmXmaxDelta) under the row's data key; UPDATE inserts the new version
 * under a new row id, so every update gets a new TID as on heap without HOT.
 *
 * The checks before a delta follow heap_delete, heap_update and
 * heap_lock_tuple (heapam.c) step by step: lsm_row_satisfies_update decides
 * from the row's state, an in-progress xmax is waited for with
 * XactLockTableWait after queueing on the heavyweight tuple lock, the state
 * is re-read after the wait and the whole check restarts if someone else
 * changed the xmax meanwhile, and failures return heap's TM_Result and
 * TM_FailureData.  So the executor's EvalPlanQual (READ COMMITTED) and its
 * serialization failures (REPEATABLE READ, SERIALIZABLE) behave as on heap.
 *
 * Heap makes "check the xmax, then set it" atomic with the exclusive content
 * lock of the tuple's buffer.  Our rows live in a shared memtable and in
 * immutable runs, so a heavyweight lock on the block of the row's TID plays
 * that part (a page lock on the table: PostgreSQL itself takes page locks
 * only on hash and GIN indexes, never on tables).  It is held from reading
 * the row's state to writing its delta, and never while waiting for another
 * transaction, so it cannot take part in a deadlock.
 *
 * MultiXactIds are not created yet.  Where heap would combine two lockers,
 * or a lock of an enclosing subtransaction level with a new one, in a
 * MultiXactId, we raise ERRCODE_FEATURE_NOT_SUPPORTED instead of losing a
 * lock.  UPDATE always takes the strongest row lock (LockTupleExclusive and
 * HEAP_KEYS_UPDATED), as heap does when a key column changes: that costs
 * concurrency with FOR KEY SHARE lockers (foreign key checks) but never
 * correctness, and it means an update or delete conflicts with every lock
 * mode, so no lock ever has to be carried along an update chain.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/subtrans.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/predicate.h"
#include "storage/procarray.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "lsm_keys.h"
#include "lsm_tableam.h"

/* The heavyweight lock that queues waiters, per row lock strength (heap's). */
static const LOCKMODE tuplock_lockmode[MaxLockTupleMode + 1] = {
	AccessShareLock,			/* LockTupleKeyShare */
	RowShareLock,				/* LockTupleShare */
	ExclusiveLock,				/* LockTupleNoKeyExclusive */
	AccessExclusiveLock			/* LockTupleExclusive */
};

/* The xmax bits whose change means another transaction got in between. */
#define XMAX_INTERESTING_BITS \
	(HEAP_XMAX_IS_MULTI | HEAP_XMAX_LOCK_ONLY | HEAP_LOCK_MASK)

/* The state of one delete, update or lock. */
typedef struct LsmModify
{
	Relation	rel;
	LsmTree    *tree;
	MemoryContext cxt;			/* everything below; deleted at the end */
	MemoryContext oldcxt;
	LsmFetch	fetch;
	bool		have_row_mutex;
	bool		have_tuple_lock;
	LockTupleMode tuple_lock_mode;
} LsmModify;

static void
modify_begin(LsmModify *m, Relation rel)
{
	m->rel = rel;
	m->tree = lsm_tree_open(rel);
	m->cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm modify",
								   ALLOCSET_SMALL_SIZES);
	m->oldcxt = MemoryContextSwitchTo(m->cxt);
	lsm_fetch_init(&m->fetch);
	m->have_row_mutex = false;
	m->have_tuple_lock = false;
}

/*
 * The row mutex: see the file comment.  Rows that share a TID block share
 * it; it is held only for the few microseconds of a check and a write.
 */
static void
row_mutex_lock(LsmModify *m, ItemPointer tid)
{
	Assert(!m->have_row_mutex);
	LockPage(m->rel, ItemPointerGetBlockNumber(tid), ExclusiveLock);
	m->have_row_mutex = true;
}

static void
row_mutex_unlock(LsmModify *m, ItemPointer tid)
{
	if (m->have_row_mutex)
		UnlockPage(m->rel, ItemPointerGetBlockNumber(tid), ExclusiveLock);
	m->have_row_mutex = false;
}

/* Releases the locks and memory of one operation, as heap's exits do. */
static void
modify_end(LsmModify *m, ItemPointer tid)
{
	row_mutex_unlock(m, tid);
	if (m->have_tuple_lock)
		UnlockTuple(m->rel, tid, tuplock_lockmode[m->tuple_lock_mode]);
	m->have_tuple_lock = false;
	MemoryContextSwitchTo(m->oldcxt);
	MemoryContextDelete(m->cxt);
}

/*
 * Reads the current state of the row at tid.  The executor only passes TIDs
 * it got from this table, and row versions stay until compaction proves no
 * snapshot can need them, so a missing row is corruption.
 */
static LsmRow *
read_row(LsmModify *m, ItemPointer tid)
{
	lsm_row_release(&m->fetch.row);
	if (!lsm_fetch_row(m->rel, m->tree, tid, &m->fetch))
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("row (%u,%u) of lsm table \"%s\" not found",
					   ItemPointerGetBlockNumber(tid),
					   ItemPointerGetOffsetNumber(tid),
					   RelationGetRelationName(m->rel)));
	return &m->fetch.row;
}

/*
 * heap_acquire_tuplock: queue on the heavyweight tuple lock before sleeping
 * on another transaction, so that waiters get the row in arrival order.
 * Returns false if wait_policy is LockWaitSkip and the lock is taken.
 */
static bool
acquire_tuplock(LsmModify *m, ItemPointer tid, LockTupleMode mode,
				LockWaitPolicy wait_policy)
{
	LOCKMODE	lockmode = tuplock_lockmode[mode];

	if (m->have_tuple_lock)
		return true;

	switch (wait_policy)
	{
		case LockWaitBlock:
			LockTuple(m->rel, tid, lockmode);
			break;
		case LockWaitSkip:
			if (!ConditionalLockTuple(m->rel, tid, lockmode))
				return false;
			break;
		case LockWaitError:
			if (!ConditionalLockTuple(m->rel, tid, lockmode))
				ereport(ERROR,
						errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						errmsg("could not obtain lock on row in relation \"%s\"",
							   RelationGetRelationName(m->rel)));
			break;
	}
	m->have_tuple_lock = true;
	m->tuple_lock_mode = mode;
	return true;
}

static inline TransactionId
row_raw_xmax(LsmRow *row)
{
	return HeapTupleHeaderGetRawXmax(row->tuple.t_data);
}

static inline bool
row_xmax_invalid(LsmRow *row)
{
	return !row->has_xmax ||
		(row->tuple.t_data->t_infomask & HEAP_XMAX_INVALID) != 0 ||
		!TransactionIdIsValid(row_raw_xmax(row));
}

/* Did the xmax change since we saw (xwait, infomask)?  Then start over. */
static bool
xmax_changed(LsmRow *row, TransactionId xwait, uint16 infomask)
{
	uint16		now = row->tuple.t_data->t_infomask;

	return (now & XMAX_INTERESTING_BITS) != (infomask & XMAX_INTERESTING_BITS) ||
		!TransactionIdEquals(row_raw_xmax(row), xwait);
}

/*
 * After the row's xmax transaction ended (or is our own lock): may we
 * overwrite the xmax, or was the row updated or deleted?  Heap sets the
 * HEAP_XMAX_INVALID hint when the xmax aborted; we have no hint bits and ask
 * the commit log instead.
 */
static TM_Result
result_after_wait(LsmRow *row)
{
	HeapTupleHeader htup = row->tuple.t_data;

	if (row_xmax_invalid(row) ||
		HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask) ||
		HeapTupleHeaderIsOnlyLocked(htup) ||
		!TransactionIdDidCommit(row_raw_xmax(row)))
		return TM_Ok;
	if (ItemPointerEquals(&row->tuple.t_self, &htup->t_ctid))
		return TM_Deleted;
	return TM_Updated;
}

/* TM_FailureData of a failed delete, update or lock, as heap fills it. */
static void
fill_failure(TM_FailureData *tmfd, LsmRow *row, TM_Result result)
{
	tmfd->ctid = row->tuple.t_data->t_ctid;
	tmfd->xmax = HeapTupleHeaderGetUpdateXid(row->tuple.t_data);
	if (result == TM_SelfModified)
		tmfd->cmax = row->cmax;
	else
		tmfd->cmax = InvalidCommandId;
}

/* The row lock strength a lock-only single xmax holds, or -1 if none. */
static int
held_lock_mode(uint16 infomask, uint16 infomask2)
{
	if (HEAP_XMAX_IS_KEYSHR_LOCKED(infomask))
		return LockTupleKeyShare;
	if (HEAP_XMAX_IS_SHR_LOCKED(infomask))
		return LockTupleShare;
	if (HEAP_XMAX_IS_EXCL_LOCKED(infomask))
		return (infomask2 & HEAP_KEYS_UPDATED) ?
			LockTupleExclusive : LockTupleNoKeyExclusive;
	return -1;
}

/*
 * Whether xid is ancestor or a (sub)transaction below it.  A subtransaction
 * gets its xid after its parent, so the walk up pg_subtrans can stop once it
 * passes ancestor.
 */
static bool
xid_is_within(TransactionId xid, TransactionId ancestor)
{
	while (TransactionIdIsValid(xid))
	{
		if (TransactionIdEquals(xid, ancestor))
			return true;
		if (TransactionIdPrecedes(xid, ancestor))
			return false;
		xid = SubTransGetParent(xid);
	}
	return false;
}

static void
report_multixact_needed(Relation rel, ItemPointer tid, TransactionId xmax,
						bool own)
{
	if (own)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot lock or modify row (%u,%u) of lsm table \"%s\" in a subtransaction while an enclosing transaction level holds a lock on it",
					   ItemPointerGetBlockNumber(tid),
					   ItemPointerGetOffsetNumber(tid),
					   RelationGetRelationName(rel)),
				errdetail("Keeping both would need a MultiXactId, which lsm tables do not support yet."),
				errhint("Lock and modify the row at the same savepoint level."));
	ereport(ERROR,
			errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			errmsg("cannot lock row (%u,%u) of lsm table \"%s\": transaction %u holds a lock on it that does not conflict",
				   ItemPointerGetBlockNumber(tid),
				   ItemPointerGetOffsetNumber(tid),
				   RelationGetRelationName(rel), xmax),
			errdetail("Sharing a row lock between transactions needs a MultiXactId, which lsm tables do not support yet."),
			errhint("Use SELECT ... FOR UPDATE, whose lockers wait for each other."));
}

/*
 * heap's compute_new_xmax_infomask for a single xid: the xmax, infomask and
 * infomask2 our lock (or update, if is_update) leaves on a row whose xmax is
 * (xmax, old_infomask, old_infomask2).  Heap keeps a still-running other
 * locker, a committed updater under a new locker, or an enclosing
 * subtransaction's lock by creating a MultiXactId; we refuse those.  A lock
 * held by ourselves at this level, or by a subtransaction below it (which
 * cannot outlive us), is replaced by the stronger of both.
 */
static void
compute_new_xmax(Relation rel, ItemPointer tid, TransactionId xmax,
				 uint16 old_infomask, uint16 old_infomask2,
				 LockTupleMode mode, bool is_update,
				 TransactionId *result_xmax, uint16 *result_infomask,
				 uint16 *result_infomask2)
{
	TransactionId add_to_xmax = GetCurrentTransactionId();
	uint16		new_infomask = 0;
	uint16		new_infomask2 = 0;

	if ((old_infomask & HEAP_XMAX_INVALID) || !TransactionIdIsValid(xmax))
	{
		/* no previous locker or updater */
	}
	else if (old_infomask & HEAP_XMAX_IS_MULTI)
		report_multixact_needed(rel, tid, xmax, false);
	else if (TransactionIdIsInProgress(xmax))
	{
		int			old_mode = held_lock_mode(old_infomask, old_infomask2);

		if (!HEAP_XMAX_IS_LOCKED_ONLY(old_infomask) ||
			!TransactionIdIsCurrentTransactionId(xmax))
			report_multixact_needed(rel, tid, xmax, false);
		if (!xid_is_within(xmax, add_to_xmax))
			report_multixact_needed(rel, tid, xmax, true);
		if (!is_update && old_mode > (int) mode)
			mode = (LockTupleMode) old_mode;
	}
	else if (!HEAP_XMAX_IS_LOCKED_ONLY(old_infomask) &&
			 TransactionIdDidCommit(xmax))
		report_multixact_needed(rel, tid, xmax, false);

	/* else the previous locker ended, or the updater aborted: replace it */

	if (is_update)
	{
		if (mode == LockTupleExclusive)
			new_infomask2 |= HEAP_KEYS_UPDATED;
	}
	else
	{
		new_infomask |= HEAP_XMAX_LOCK_ONLY;
		switch (mode)
		{
			case LockTupleKeyShare:
				new_infomask |= HEAP_XMAX_KEYSHR_LOCK;
				break;
			case LockTupleShare:
				new_infomask |= HEAP_XMAX_SHR_LOCK;
				break;
			case LockTupleNoKeyExclusive:
				new_infomask |= HEAP_XMAX_EXCL_LOCK;
				break;
			case LockTupleExclusive:
				new_infomask |= HEAP_XMAX_EXCL_LOCK;
				new_infomask2 |= HEAP_KEYS_UPDATED;
				break;
		}
	}
	*result_xmax = add_to_xmax;
	*result_infomask = new_infomask;
	*result_infomask2 = new_infomask2;
}

/* Fills the XMAX delta entry of a row. */
static void
set_xmax_write(LsmWrite *w, LsmFetch *f, LsmXmaxDelta *delta)
{
	w->kind = LSM_KIND_XMAX;
	w->key = (const uint8 *) f->datakey.data;
	w->keylen = f->datakey.len;
	w->value = (const uint8 *) delta;
	w->vallen = sizeof(LsmXmaxDelta);
}

static void
init_delta(LsmXmaxDelta *delta, TransactionId xmax, CommandId cmax,
		   uint16 infomask, uint16 infomask2, ItemPointer ctid)
{
	memset(delta, 0, sizeof(LsmXmaxDelta));
	delta->xmax = xmax;
	delta->cmax = cmax;
	delta->infomask = infomask;
	delta->infomask2 = infomask2;
	delta->ctid = *ctid;
}

/* ------------------------------------------------------------------------
 * Inserts
 * ------------------------------------------------------------------------
 */

/* A new row version, ready to be written: its two entries and its TID. */
typedef struct LsmNewRow
{
	StringInfoData datakey;
	uint8		mapkey[1 + LSM_ROWID_BYTES];
	HeapTuple	value;
	ItemPointerData tid;
} LsmNewRow;

/*
 * Forms a new row version from slot: a new row id, the VALUE (a heap tuple
 * with every value inline), the data key from the first column.  Rows above
 * what one tree entry can hold are refused with the documented limit.
 */
static void
form_new_row(Relation rel, LsmTree *tree, const LsmKeyInfo *ki,
			 TupleTableSlot *slot, TransactionId xid, CommandId cid,
			 LsmNewRow *nr)
{
	LsmRowId	rowid = lsm_tree_new_rowid(tree);
	Datum		keyval = (Datum) 0;
	bool		keynull = true;
	Size		size;

	nr->value = lsm_tuple_form_value(slot, xid, cid, rowid);
	if (ki->encoder != LSM_ENC_NONE)
		keyval = heap_getattr(nr->value, ki->attnum, RelationGetDescr(rel),
							  &keynull);
	initStringInfo(&nr->datakey);
	lsm_key_make_data(&nr->datakey, ki, keyval, keynull, rowid);
	lsm_key_make_rowmap(nr->mapkey, rowid);
	lsm_rowid_to_tid(rowid, &nr->tid);

	size = nr->datakey.len + nr->value->t_len;
	if (size > lsm_tree_max_entry())
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("row is too big: size %zu, maximum size %zu",
					   size, lsm_tree_max_entry()),
				errdetail("Rows of lsm table \"%s\" are stored inline, without TOAST; the size counts every value uncompressed plus the key.",
						  RelationGetRelationName(rel)));
}

/* The VALUE entry and the row-map entry of a new row, in that order. */
static void
set_insert_writes(LsmWrite *w, LsmNewRow *nr)
{
	w[0].kind = LSM_KIND_VALUE;
	w[0].key = (const uint8 *) nr->datakey.data;
	w[0].keylen = nr->datakey.len;
	w[0].value = (const uint8 *) nr->value->t_data;
	w[0].vallen = nr->value->t_len;

	w[1].kind = LSM_KIND_VALUE;
	w[1].key = nr->mapkey;
	w[1].keylen = sizeof(nr->mapkey);
	w[1].value = (const uint8 *) nr->datakey.data;
	w[1].vallen = nr->datakey.len;
}

void
lsm_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
				 int options, struct BulkInsertStateData *bistate)
{
	LsmTree    *tree = lsm_tree_open(rel);
	TransactionId xid = GetCurrentTransactionId();
	MemoryContext cxt;
	MemoryContext oldcxt;
	LsmKeyInfo	ki;
	LsmNewRow	nr;
	LsmWrite	w[2];

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm insert",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	lsm_key_info(rel, &ki);
	form_new_row(rel, tree, &ki, slot, xid, cid, &nr);
	set_insert_writes(w, &nr);

	/* An insert into a relation someone read under SERIALIZABLE. */
	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);

	lsm_tree_write(tree, w, 2);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);

	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = nr.tid;
	pgstat_count_heap_insert(rel, 1);
}

/*
 * COPY and other batch inserts: one lsm_tree_write call for the whole batch,
 * which the storage layer logs in as few generic WAL records as fit.
 */
void
lsm_multi_insert(Relation rel, TupleTableSlot **slots, int nslots,
				 CommandId cid, int options, struct BulkInsertStateData *bistate)
{
	LsmTree    *tree = lsm_tree_open(rel);
	TransactionId xid = GetCurrentTransactionId();
	MemoryContext cxt;
	MemoryContext oldcxt;
	LsmKeyInfo	ki;
	LsmNewRow  *rows;
	LsmWrite   *w;

	if (nslots <= 0)
		return;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm multi insert",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	lsm_key_info(rel, &ki);
	rows = palloc(sizeof(LsmNewRow) * nslots);
	w = palloc(sizeof(LsmWrite) * 2 * nslots);
	for (int i = 0; i < nslots; i++)
	{
		form_new_row(rel, tree, &ki, slots[i], xid, cid, &rows[i]);
		set_insert_writes(&w[2 * i], &rows[i]);
	}

	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);

	lsm_tree_write(tree, w, 2 * nslots);

	for (int i = 0; i < nslots; i++)
	{
		slots[i]->tts_tableOid = RelationGetRelid(rel);
		slots[i]->tts_tid = rows[i].tid;
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);

	pgstat_count_heap_insert(rel, nslots);
}

void
lsm_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
							 CommandId cid, int options,
							 struct BulkInsertStateData *bistate,
							 uint32 specToken)
{
	ereport(ERROR,
			errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			errmsg("INSERT ... ON CONFLICT is not supported on lsm table \"%s\" yet",
				   RelationGetRelationName(rel)));
}

void
lsm_tuple_complete_speculative(Relation rel, TupleTableSlot *slot,
							   uint32 specToken, bool succeeded)
{
	ereport(ERROR,
			errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			errmsg("INSERT ... ON CONFLICT is not supported on lsm table \"%s\" yet",
				   RelationGetRelationName(rel)));
}

/* ------------------------------------------------------------------------
 * Delete and update
 * ------------------------------------------------------------------------
 */

/*
 * The part heap_delete and heap_update share: decide whether the current
 * command may replace the xmax of the row at tid, waiting for an xmax
 * transaction in progress if wait.  On return the row mutex is held and the
 * row's state is in m->fetch.row.  TM_Ok means go ahead.
 */
static TM_Result
check_replace_xmax(LsmModify *m, ItemPointer tid, CommandId cid,
				   Snapshot crosscheck, bool wait, XLTW_Oper oper)
{
	LsmRow	   *row;
	TM_Result	result;

	row_mutex_lock(m, tid);
	row = read_row(m, tid);

	for (;;)
	{
		TransactionId xwait;
		uint16		infomask;

		result = lsm_row_satisfies_update(row, cid);

		if (result == TM_Invisible)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					oper == XLTW_Delete ?
					errmsg("attempted to delete invisible tuple") :
					errmsg("attempted to update invisible tuple"));
		if (result != TM_BeingModified || !wait)
			break;

		xwait = row_raw_xmax(row);
		infomask = row->tuple.t_data->t_infomask;

		if (infomask & HEAP_XMAX_IS_MULTI)
			report_multixact_needed(m->rel, tid, xwait, false);

		/*
		 * Sleep until the xmax transaction ends, unless it is our own lock
		 * (we need the strongest lock anyway, so the locker's mode does not
		 * matter).  Queue on the tuple lock first, as heap does, and keep it
		 * if we have to start over, to stay at the head of the line.
		 */
		if (!TransactionIdIsCurrentTransactionId(xwait))
		{
			row_mutex_unlock(m, tid);
			acquire_tuplock(m, tid, LockTupleExclusive, LockWaitBlock);
			XactLockTableWait(xwait, m->rel, tid, oper);
			row_mutex_lock(m, tid);
			row = read_row(m, tid);

			/* Someone else may have locked or updated it in between. */
			if (xmax_changed(row, xwait, infomask))
				continue;
		}

		result = result_after_wait(row);
		break;
	}

	/* Transaction-snapshot mode RI checks (see heap_delete). */
	if (crosscheck != InvalidSnapshot && result == TM_Ok &&
		!lsm_row_satisfies(row, crosscheck))
		result = TM_Updated;

	return result;
}

TM_Result
lsm_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
				 Snapshot snapshot, Snapshot crosscheck, bool wait,
				 TM_FailureData *tmfd, bool changingPart)
{
	LsmModify	m;
	LsmRow	   *row;
	TM_Result	result;
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;
	ItemPointerData ctid;
	LsmXmaxDelta delta;
	LsmWrite	w;

	Assert(ItemPointerIsValid(tid));

	if (IsInParallelMode())
		ereport(ERROR,
				errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				errmsg("cannot delete tuples during a parallel operation"));

	/* Have an xid before anything is written (heap_delete does this first). */
	(void) GetCurrentTransactionId();

	modify_begin(&m, rel);
	result = check_replace_xmax(&m, tid, cid, crosscheck, wait, XLTW_Delete);
	row = &m.fetch.row;

	if (result != TM_Ok)
	{
		fill_failure(tmfd, row, result);
		modify_end(&m, tid);
		return result;
	}

	CheckForSerializableConflictIn(rel, tid, ItemPointerGetBlockNumber(tid));

	compute_new_xmax(rel, tid, row_raw_xmax(row),
					 row_xmax_invalid(row) ? HEAP_XMAX_INVALID :
					 row->tuple.t_data->t_infomask,
					 row->tuple.t_data->t_infomask2,
					 LockTupleExclusive, true,
					 &new_xmax, &new_infomask, &new_infomask2);

	/* No forward link: a deleted row's ctid is itself (or "moved"). */
	ctid = *tid;
	if (changingPart)
		ItemPointerSetMovedPartitions(&ctid);
	init_delta(&delta, new_xmax, cid, new_infomask, new_infomask2, &ctid);
	set_xmax_write(&w, &m.fetch, &delta);
	lsm_tree_write(m.tree, &w, 1);

	modify_end(&m, tid);
	pgstat_count_heap_delete(rel);
	return TM_Ok;
}

TM_Result
lsm_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot,
				 CommandId cid, Snapshot snapshot, Snapshot crosscheck,
				 bool wait, TM_FailureData *tmfd, LockTupleMode *lockmode,
				 bool *update_indexes)
{
	TransactionId xid;
	LsmModify	m;
	LsmRow	   *row;
	TM_Result	result;
	LsmKeyInfo	ki;
	LsmNewRow	nr;
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;
	LsmXmaxDelta delta;
	LsmWrite	w[3];

	Assert(ItemPointerIsValid(otid));

	if (IsInParallelMode())
		ereport(ERROR,
				errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				errmsg("cannot update tuples during a parallel operation"));

	/* Always the strongest mode: see the file comment. */
	*lockmode = LockTupleExclusive;
	*update_indexes = false;
	xid = GetCurrentTransactionId();

	modify_begin(&m, rel);

	/*
	 * Form the new version before taking the row mutex: detoasting its
	 * values may read other relations.  Its row id is wasted if the update
	 * fails, which the 48-bit row id space affords.
	 */
	lsm_key_info(rel, &ki);
	form_new_row(rel, m.tree, &ki, slot, xid, cid, &nr);
	nr.value->t_data->t_infomask |= HEAP_UPDATED;

	result = check_replace_xmax(&m, otid, cid, crosscheck, wait, XLTW_Update);
	row = &m.fetch.row;

	if (result != TM_Ok)
	{
		fill_failure(tmfd, row, result);
		modify_end(&m, otid);
		return result;
	}

	CheckForSerializableConflictIn(rel, otid, ItemPointerGetBlockNumber(otid));

	compute_new_xmax(rel, otid, row_raw_xmax(row),
					 row_xmax_invalid(row) ? HEAP_XMAX_INVALID :
					 row->tuple.t_data->t_infomask,
					 row->tuple.t_data->t_infomask2,
					 *lockmode, true,
					 &new_xmax, &new_infomask, &new_infomask2);

	/*
	 * The new version first, then the old one's xmax with the link to it:
	 * whoever sees the link finds the new version.
	 */
	set_insert_writes(w, &nr);
	init_delta(&delta, new_xmax, cid, new_infomask, new_infomask2, &nr.tid);
	set_xmax_write(&w[2], &m.fetch, &delta);
	lsm_tree_write(m.tree, w, 3);

	modify_end(&m, otid);

	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = nr.tid;
	*update_indexes = true;
	pgstat_count_heap_update(rel, false);
	return TM_Ok;
}

/* ------------------------------------------------------------------------
 * Row locks
 * ------------------------------------------------------------------------
 */

/*
 * heap_lock_tuple for single-xid xmax values.  On return the row mutex is
 * released and the row's state is in m->fetch.row.
 */
static TM_Result
lock_row(LsmModify *m, ItemPointer tid, CommandId cid, LockTupleMode mode,
		 LockWaitPolicy wait_policy, TM_FailureData *tmfd)
{
	bool		first_time = true;
	LsmRow	   *row;
	TM_Result	result;
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;
	LsmXmaxDelta delta;
	LsmWrite	w;

	row_mutex_lock(m, tid);
	row = read_row(m, tid);

retry:
	result = lsm_row_satisfies_update(row, cid);

	if (result == TM_Invisible)
	{
		/* Only ON CONFLICT DO UPDATE gets here; it reports this itself. */
		row_mutex_unlock(m, tid);
		return TM_Invisible;
	}

	if (result == TM_BeingModified || result == TM_Updated ||
		result == TM_Deleted)
	{
		TransactionId xwait = row_raw_xmax(row);
		uint16		infomask = row->tuple.t_data->t_infomask;
		uint16		infomask2 = row->tuple.t_data->t_infomask2;
		bool		require_sleep = true;

		if (infomask & HEAP_XMAX_IS_MULTI)
			report_multixact_needed(m->rel, tid, xwait, false);

		/*
		 * If we already hold a lock as strong as the one asked for, we have
		 * it: succeed without queueing, which could deadlock against someone
		 * waiting for our transaction.
		 */
		if (first_time)
		{
			first_time = false;
			if (TransactionIdIsCurrentTransactionId(xwait) &&
				HEAP_XMAX_IS_LOCKED_ONLY(infomask) &&
				held_lock_mode(infomask, infomask2) >= (int) mode)
			{
				row_mutex_unlock(m, tid);
				return TM_Ok;
			}
		}

		/*
		 * Lock modes that do not conflict with a running locker need no
		 * sleep: heap would add us to the xmax as a MultiXactId, which
		 * compute_new_xmax refuses below while that locker runs.  Updates
		 * and deletes here always conflict (HEAP_KEYS_UPDATED).
		 */
		if (HEAP_XMAX_IS_LOCKED_ONLY(infomask))
		{
			int			held = held_lock_mode(infomask, infomask2);

			if (held < 0 ||
				!DoLockModesConflict(tuplock_lockmode[held],
									 tuplock_lockmode[mode]))
				require_sleep = false;
		}

		/* Our own weaker lock is upgraded without sleeping. */
		if (require_sleep && TransactionIdIsCurrentTransactionId(xwait))
			require_sleep = false;

		if (require_sleep && (result == TM_Updated || result == TM_Deleted))
		{
			/* A committed update or delete: sleeping cannot help. */
			fill_failure(tmfd, row, result);
			row_mutex_unlock(m, tid);
			return result;
		}

		if (require_sleep)
		{
			row_mutex_unlock(m, tid);

			if (!acquire_tuplock(m, tid, mode, wait_policy))
			{
				/* wait_policy is LockWaitSkip and someone has it */
				fill_failure(tmfd, row, TM_WouldBlock);
				return TM_WouldBlock;
			}

			switch (wait_policy)
			{
				case LockWaitBlock:
					XactLockTableWait(xwait, m->rel, tid, XLTW_Lock);
					break;
				case LockWaitSkip:
					if (!ConditionalXactLockTableWait(xwait))
					{
						fill_failure(tmfd, row, TM_WouldBlock);
						return TM_WouldBlock;
					}
					break;
				case LockWaitError:
					if (!ConditionalXactLockTableWait(xwait))
						ereport(ERROR,
								errcode(ERRCODE_LOCK_NOT_AVAILABLE),
								errmsg("could not obtain lock on row in relation \"%s\"",
									   RelationGetRelationName(m->rel)));
					break;
			}

			row_mutex_lock(m, tid);
			row = read_row(m, tid);
			if (xmax_changed(row, xwait, infomask))
				goto retry;
			result = result_after_wait(row);
		}
		else
			result = TM_Ok;

		if (result != TM_Ok)
		{
			fill_failure(tmfd, row, result);
			row_mutex_unlock(m, tid);
			return result;
		}
	}
	else if (result != TM_Ok)
	{
		/* TM_SelfModified */
		fill_failure(tmfd, row, result);
		row_mutex_unlock(m, tid);
		return result;
	}

	/*
	 * Some other backend could put our xid into a MultiXactId of another
	 * table right after this (see heap_lock_tuple).
	 */
	MultiXactIdSetOldestMember();

	compute_new_xmax(m->rel, tid, row_raw_xmax(row),
					 row_xmax_invalid(row) ? HEAP_XMAX_INVALID :
					 row->tuple.t_data->t_infomask,
					 row->tuple.t_data->t_infomask2,
					 mode, false,
					 &new_xmax, &new_infomask, &new_infomask2);

	/*
	 * A lock carries no command id of its own; keep that of an earlier
	 * update or delete by us (heap does not touch cmax here either).
	 */
	init_delta(&delta, new_xmax,
			   row->has_xmax ? row->cmax : FirstCommandId,
			   new_infomask, new_infomask2, tid);
	set_xmax_write(&w, &m->fetch, &delta);
	lsm_tree_write(m->tree, &w, 1);

	/* Reflect the lock in the row we hand back. */
	HeapTupleHeaderSetXmax(row->tuple.t_data, new_xmax);
	row->tuple.t_data->t_infomask &= ~(HEAP_XMAX_BITS);
	row->tuple.t_data->t_infomask |= new_infomask;
	row->tuple.t_data->t_infomask2 &= ~HEAP_KEYS_UPDATED;
	row->tuple.t_data->t_infomask2 |= new_infomask2;
	row->tuple.t_data->t_ctid = *tid;

	row_mutex_unlock(m, tid);
	return TM_Ok;
}

/*
 * Follows the update chain from a locked-out version to its successor, as
 * heapam_tuple_lock does with a dirty snapshot.  Returns TM_Ok with *tid set
 * to a live version to lock, or the result to give up with.
 */
static TM_Result
find_next_version(LsmModify *m, ItemPointer tid, CommandId cid,
				  LockWaitPolicy wait_policy, TM_FailureData *tmfd)
{
	TransactionId priorXmax;
	SnapshotData SnapshotDirty;

	if (ItemPointerEquals(&tmfd->ctid, tid))
		return TM_Deleted;		/* deleted, not updated */

	*tid = tmfd->ctid;
	priorXmax = tmfd->xmax;
	tmfd->traversed = true;
	InitDirtySnapshot(SnapshotDirty);

	for (;;)
	{
		LsmRow	   *row;

		if (ItemPointerIndicatesMovedPartitions(tid))
			ereport(ERROR,
					errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					errmsg("tuple to be locked was already moved to another partition due to concurrent update"));

		lsm_row_release(&m->fetch.row);
		if (!lsm_fetch_row(m->rel, m->tree, tid, &m->fetch))
			return TM_Deleted;	/* the successor is gone */
		row = &m->fetch.row;

		/* A successor must have been inserted by the updater. */
		if (!TransactionIdEquals(HeapTupleHeaderGetXmin(row->tuple.t_data),
								 priorXmax))
			return TM_Deleted;

		if (lsm_row_satisfies(row, &SnapshotDirty))
		{
			if (TransactionIdIsValid(SnapshotDirty.xmin))
				ereport(ERROR,
						errcode(ERRCODE_DATA_CORRUPTED),
						errmsg_internal("t_xmin %u is uncommitted in tuple (%u,%u) to be updated in table \"%s\"",
										SnapshotDirty.xmin,
										ItemPointerGetBlockNumber(tid),
										ItemPointerGetOffsetNumber(tid),
										RelationGetRelationName(m->rel)));

			/* Being updated by another transaction: wait, then look again. */
			if (TransactionIdIsValid(SnapshotDirty.xmax))
			{
				switch (wait_policy)
				{
					case LockWaitBlock:
						XactLockTableWait(SnapshotDirty.xmax, m->rel, tid,
										  XLTW_FetchUpdated);
						break;
					case LockWaitSkip:
						if (!ConditionalXactLockTableWait(SnapshotDirty.xmax))
							return TM_WouldBlock;
						break;
					case LockWaitError:
						if (!ConditionalXactLockTableWait(SnapshotDirty.xmax))
							ereport(ERROR,
									errcode(ERRCODE_LOCK_NOT_AVAILABLE),
									errmsg("could not obtain lock on row in relation \"%s\"",
										   RelationGetRelationName(m->rel)));
						break;
				}
				continue;
			}

			/* Inserted by our own command or a later one: not ours to lock. */
			if (TransactionIdIsCurrentTransactionId(priorXmax) &&
				row->cmin >= cid)
			{
				tmfd->xmax = priorXmax;
				tmfd->cmax = row->cmin;
				return TM_SelfModified;
			}

			return TM_Ok;		/* a live version: lock it */
		}

		/*
		 * Not visible to a dirty snapshot although its inserter committed:
		 * updated or deleted by a committed transaction or by us.
		 */
		if (ItemPointerEquals(tid, &row->tuple.t_data->t_ctid))
			return TM_Deleted;
		*tid = row->tuple.t_data->t_ctid;
		priorXmax = HeapTupleHeaderGetUpdateXid(row->tuple.t_data);
	}
}

TM_Result
lsm_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot,
			   TupleTableSlot *slot, CommandId cid, LockTupleMode mode,
			   LockWaitPolicy wait_policy, uint8 flags, TM_FailureData *tmfd)
{
	LsmModify	m;
	TM_Result	result;
	ItemPointerData locked;

	tmfd->traversed = false;

	/*
	 * TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS asks heap to lock the newer
	 * versions of a row whose non-key update it may coexist with.  Our
	 * updates always conflict with every lock mode, so there is never such
	 * an update, and the flag needs nothing here.
	 */
	modify_begin(&m, rel);

	for (;;)
	{
		locked = *tid;
		result = lock_row(&m, &locked, cid, mode, wait_policy, tmfd);

		/* Release the queue position before moving to another version. */
		if (m.have_tuple_lock)
			UnlockTuple(rel, &locked, tuplock_lockmode[m.tuple_lock_mode]);
		m.have_tuple_lock = false;

		if (result != TM_Updated ||
			!(flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION))
			break;

		result = find_next_version(&m, tid, cid, wait_policy, tmfd);
		if (result != TM_Ok)
		{
			MemoryContextSwitchTo(m.oldcxt);
			MemoryContextDelete(m.cxt);
			return result;
		}
	}

	/* Hand back the row as heap does: locked, or as it stopped us. */
	lsm_store_row(slot, rel, &m.fetch.row);
	modify_end(&m, &locked);
	return result;
}
