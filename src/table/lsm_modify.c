/*
 * lsm_modify.c - INSERT, COPY, DELETE, UPDATE and row locks on lsm tables.
 *
 * A row version is never rewritten.  INSERT writes the row's VALUE under its
 * data key plus a row-map entry (row id -> data key), in one lsm_tree_write
 * call; DELETE, the old half of UPDATE and row locks write an XMAX delta
 * (LsmXmaxDelta) under the row's data key, holding the row's whole new xmax
 * state; UPDATE inserts the new version under a new row id, so every update
 * gets a new TID, as on heap without HOT.
 *
 * The decisions follow heap_delete, heap_update, heap_lock_tuple and
 * heap_lock_updated_tuple (heapam.c) step by step: lsm_row_satisfies_update
 * judges the row's state, an in-progress xmax (a transaction or a
 * MultiXactId) is waited for after queueing on the heavyweight tuple lock,
 * the state is read again after the wait and the check starts over if the
 * xmax changed meanwhile, the new xmax is computed by heap's rules
 * (lsm_xmax.c: lockers that coexist share a MultiXactId), and failures return
 * heap's TM_Result and TM_FailureData.  So the executor's EvalPlanQual (READ
 * COMMITTED) and serialization failures (REPEATABLE READ, SERIALIZABLE)
 * behave as on heap, and so do FOR KEY SHARE locks of foreign key checks
 * against updates that change no key column.
 *
 * Heap makes "check the xmax, then set it" atomic with the exclusive content
 * lock of the tuple's buffer.  Our rows live in a shared memtable and in
 * immutable runs, so a heavyweight lock on the block of the row's TID plays
 * that part (a page lock on the table: PostgreSQL itself takes page locks
 * only on hash and GIN indexes, never on tables).  It is held from reading
 * the row's state to writing its delta, and never while waiting for another
 * transaction, so it cannot take part in a deadlock.
 *
 * Heap sets hint bits (HEAP_XMAX_INVALID) as it learns that an xmax aborted
 * or that its lockers are gone, and its code then reads them.  Our rows have
 * no hint bits; xmax_is_gone() asks the commit log where heap reads the hint.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/sysattr.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_publication.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/predicate.h"
#include "storage/procarray.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "lsm_keys.h"
#include "lsm_tableam.h"
#include "lsm_xmax.h"

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
	LsmFetch	fetch;			/* the row being modified */
	LsmFetch	chain;			/* newer versions, when locking them too */
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
	lsm_fetch_init(&m->chain);
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

/* Releases the tuple lock we queued on, if any. */
static void
release_tuplock(LsmModify *m, ItemPointer tid)
{
	if (m->have_tuple_lock)
		UnlockTuple(m->rel, tid, lsm_tuplock_lockmode(m->tuple_lock_mode));
	m->have_tuple_lock = false;
}

/* Releases the locks and memory of one operation, as heap's exits do. */
static void
modify_end(LsmModify *m, ItemPointer tid)
{
	row_mutex_unlock(m, tid);
	release_tuplock(m, tid);
	MemoryContextSwitchTo(m->oldcxt);
	MemoryContextDelete(m->cxt);
}

/*
 * Reads the current state of the row at tid into f.  The executor only
 * passes TIDs it got from this table, and row versions stay until
 * compaction proves no snapshot can need them, so a missing row is
 * corruption.
 */
static LsmRow *
read_row_into(LsmModify *m, ItemPointer tid, LsmFetch *f)
{
	lsm_row_release(&f->row);
	if (!lsm_fetch_row(m->rel, m->tree, tid, f))
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("row (%u,%u) of lsm table \"%s\" not found",
					   ItemPointerGetBlockNumber(tid),
					   ItemPointerGetOffsetNumber(tid),
					   RelationGetRelationName(m->rel)));
	return &f->row;
}

static LsmRow *
read_row(LsmModify *m, ItemPointer tid)
{
	return read_row_into(m, tid, &m->fetch);
}

/* Takes the row mutex again after a sleep and reads the row's new state. */
static LsmRow *
relock_row(LsmModify *m, ItemPointer tid)
{
	row_mutex_lock(m, tid);
	return read_row(m, tid);
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
	LOCKMODE	lockmode = lsm_tuplock_lockmode(mode);

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

static inline uint16
row_infomask(LsmRow *row)
{
	return row->tuple.t_data->t_infomask;
}

static inline uint16
row_infomask2(LsmRow *row)
{
	return row->tuple.t_data->t_infomask2;
}

/* Whether the row has never had an xmax (or it was reset). */
static inline bool
row_xmax_invalid(LsmRow *row)
{
	return !row->has_xmax || (row_infomask(row) & HEAP_XMAX_INVALID) ||
		!TransactionIdIsValid(row_raw_xmax(row));
}

/*
 * Whether heap would have the HEAP_XMAX_INVALID hint on this row by now: no
 * xmax, an updater that aborted or crashed, or lockers that are all gone.
 */
static bool
xmax_is_gone(LsmRow *row)
{
	TransactionId xmax = row_raw_xmax(row);
	uint16		infomask = row_infomask(row);

	if (row_xmax_invalid(row))
		return true;
	if (infomask & HEAP_XMAX_IS_MULTI)
	{
		if (HEAP_LOCKED_UPGRADED(infomask))
			return true;
		return HEAP_XMAX_IS_LOCKED_ONLY(infomask) &&
			!MultiXactIdIsRunning(xmax, true);
	}
	if (TransactionIdIsCurrentTransactionId(xmax) ||
		TransactionIdIsInProgress(xmax))
		return false;
	return HEAP_XMAX_IS_LOCKED_ONLY(infomask) || !TransactionIdDidCommit(xmax);
}

/* The row's infomask with the HEAP_XMAX_INVALID hint heap would have. */
static uint16
row_hinted_infomask(LsmRow *row)
{
	uint16		infomask = row_infomask(row);

	if (xmax_is_gone(row))
		infomask |= HEAP_XMAX_INVALID;
	return infomask;
}

/* Did the xmax change since we saw (xwait, infomask)?  Then start over. */
static bool
xmax_changed(LsmRow *row, TransactionId xwait, uint16 infomask)
{
	return (row_infomask(row) & XMAX_INTERESTING_BITS) !=
		(infomask & XMAX_INTERESTING_BITS) ||
		!TransactionIdEquals(row_raw_xmax(row), xwait);
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

/* Fills w with the XMAX delta of f's row, held in *delta. */
static void
fill_xmax_write(LsmWrite *w, LsmXmaxDelta *delta, LsmFetch *f,
				TransactionId xmax, CommandId cmax, uint16 infomask,
				uint16 infomask2, ItemPointer ctid)
{
	memset(delta, 0, sizeof(LsmXmaxDelta));
	delta->xmax = xmax;
	delta->cmax = cmax;
	delta->infomask = infomask;
	delta->infomask2 = infomask2;
	delta->ctid = *ctid;

	w->kind = LSM_KIND_XMAX;
	w->key = (const uint8 *) f->datakey.data;
	w->keylen = f->datakey.len;
	w->value = (const uint8 *) delta;
	w->vallen = sizeof(LsmXmaxDelta);
}

/* Makes f's row in memory show the xmax of delta, as heap's header would. */
static void
apply_xmax(LsmFetch *f, const LsmXmaxDelta *delta)
{
	HeapTupleHeader htup = f->row.tuple.t_data;

	htup->t_infomask &= ~HEAP_XMAX_BITS;
	htup->t_infomask |= delta->infomask & HEAP_XMAX_BITS;
	htup->t_infomask2 &= ~HEAP_KEYS_UPDATED;
	htup->t_infomask2 |= delta->infomask2 & HEAP_KEYS_UPDATED;
	HeapTupleHeaderSetXmax(htup, delta->xmax);
	htup->t_ctid = delta->ctid;
	f->row.cmax = delta->cmax;
	f->row.has_xmax = true;
}

/* Writes a new xmax state of f's row. */
static void
write_xmax(LsmModify *m, LsmFetch *f, TransactionId xmax, CommandId cmax,
		   uint16 infomask, uint16 infomask2, ItemPointer ctid)
{
	LsmXmaxDelta delta;
	LsmWrite	w;

	fill_xmax_write(&w, &delta, f, xmax, cmax, infomask, infomask2, ctid);
	lsm_tree_write(m->tree, &w, 1);
	apply_xmax(f, &delta);
}

/* A lock carries no command id; keep that of an earlier update or delete. */
static CommandId
lock_cmax(LsmRow *row)
{
	return row->has_xmax ? row->cmax : FirstCommandId;
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
 * with every value inline), the data key from the first column encoded
 * under the table's stored key description ki (never the catalog's current
 * one: lsm_keys.h).  Rows above what one tree entry can hold are refused
 * with the documented limit.
 */
static void
form_new_row(Relation rel, LsmTree *tree, const LsmKeyInfo *ki,
			 TupleTableSlot *slot, TransactionId xid, CommandId cid,
			 LsmNewRow *nr)
{
	LsmRowId	rowid = lsm_rowid_new(rel, tree);
	Datum		keyval;
	bool		keynull;
	Size		size;

	nr->value = lsm_tuple_form_value(slot, xid, cid, rowid);
	keyval = lsm_key_value(ki, rel, nr->value, &keynull);
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

/*
 * Logical decoding turns heap's WAL records into changes; ours are generic
 * WAL records, which it skips.  A publication would so leave out every
 * change to an lsm table, and its subscribers would drift from it without a
 * word.  A write that the table's publications would carry is refused
 * instead.  The relcache keeps the table's publication actions, so this
 * costs a copy of a few flags per call.
 */
static void
refuse_if_published(Relation rel, CmdType cmd)
{
	PublicationDesc pubdesc;

	RelationBuildPublicationDesc(rel, &pubdesc);
	if (cmd == CMD_INSERT && pubdesc.pubactions.pubinsert)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot insert into lsm table \"%s\" because it publishes inserts",
					   RelationGetRelationName(rel)),
				errdetail("Logical decoding cannot read changes to lsm tables, so subscribers would miss them."),
				errhint("Remove the table from the publication, or use a heap table for data that logical replication must carry."));
	if (cmd == CMD_UPDATE && pubdesc.pubactions.pubupdate)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot update lsm table \"%s\" because it publishes updates",
					   RelationGetRelationName(rel)),
				errdetail("Logical decoding cannot read changes to lsm tables, so subscribers would miss them."),
				errhint("Remove the table from the publication, or use a heap table for data that logical replication must carry."));
	if (cmd == CMD_DELETE && pubdesc.pubactions.pubdelete)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot delete from lsm table \"%s\" because it publishes deletes",
					   RelationGetRelationName(rel)),
				errdetail("Logical decoding cannot read changes to lsm tables, so subscribers would miss them."),
				errhint("Remove the table from the publication, or use a heap table for data that logical replication must carry."));
}

/*
 * Inserts one row; a speculative insertion (specToken != 0) carries the
 * token in its VALUE's t_ctid until it is confirmed or killed.
 */
static void
insert_row(Relation rel, TupleTableSlot *slot, CommandId cid,
		   uint32 specToken)
{
	LsmTree    *tree = lsm_tree_open(rel);
	TransactionId xid = GetCurrentTransactionId();
	MemoryContext cxt;
	MemoryContext oldcxt;
	LsmNewRow	nr;
	LsmWrite	w[2];

	refuse_if_published(rel, CMD_INSERT);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm insert",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	form_new_row(rel, tree, lsm_key_info(rel, tree), slot, xid, cid, &nr);
	if (specToken != 0)
		HeapTupleHeaderSetSpeculativeToken(nr.value->t_data, specToken);
	set_insert_writes(w, &nr);

	/* An insert into a relation someone read under SERIALIZABLE. */
	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);

	lsm_tree_write(tree, w, 2);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);

	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = nr.tid;
	lsm_tuple_set_slot_header(slot, &nr.tid, xid, cid, InvalidTransactionId, 0, 0);
	pgstat_count_heap_insert(rel, 1);
}

void
lsm_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
				 int options, struct BulkInsertStateData *bistate)
{
	insert_row(rel, slot, cid, 0);
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
	const LsmKeyInfo *ki;
	LsmNewRow  *rows;
	LsmWrite   *w;

	if (nslots <= 0)
		return;
	refuse_if_published(rel, CMD_INSERT);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lsm multi insert",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	ki = lsm_key_info(rel, tree);
	rows = palloc(sizeof(LsmNewRow) * nslots);
	w = palloc(sizeof(LsmWrite) * 2 * nslots);
	for (int i = 0; i < nslots; i++)
	{
		form_new_row(rel, tree, ki, slots[i], xid, cid, &rows[i]);
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

/*
 * INSERT ... ON CONFLICT: the executor holds the speculative insertion lock
 * of specToken (SpeculativeInsertionLockAcquire) while the row is
 * speculative.  A concurrent inserter whose uniqueness check meets the row
 * through a dirty snapshot gets the token (lsm_visibility.c) and waits on
 * that lock rather than on our whole transaction, as on heap.
 */
void
lsm_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
							 CommandId cid, int options,
							 struct BulkInsertStateData *bistate,
							 uint32 specToken)
{
	Assert(specToken != 0);
	insert_row(rel, slot, cid, specToken);
}

/*
 * heap_finish_speculative and heap_abort_speculative: one delta under the
 * row's data key ends its speculative state (lsm_tuple.h).  The row is ours
 * and nobody else can have locked it meanwhile (a locker would first wait
 * for the token), so no row mutex is needed.
 */
void
lsm_tuple_complete_speculative(Relation rel, TupleTableSlot *slot,
							   uint32 specToken, bool succeeded)
{
	LsmModify	m;
	LsmRow	   *row;
	LsmXmaxDelta delta;
	LsmWrite	w;
	ItemPointerData tid = slot->tts_tid;

	modify_begin(&m, rel);
	row = read_row(&m, &tid);
	if (!HeapTupleHeaderIsSpeculative(row->tuple.t_data) ||
		!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(row->tuple.t_data)))
		elog(ERROR, "row (%u,%u) of lsm table \"%s\" is not a speculative insertion of this transaction",
			 ItemPointerGetBlockNumber(&tid), ItemPointerGetOffsetNumber(&tid),
			 RelationGetRelationName(rel));

	/* no xmax, and the row's own TID as ctid, which clears the token */
	fill_xmax_write(&w, &delta, &m.fetch, InvalidTransactionId,
					InvalidCommandId, HEAP_XMAX_INVALID, 0, &tid);
	if (!succeeded)
		delta.flags = LSM_DELTA_SUPER_DELETED;
	lsm_tree_write(m.tree, &w, 1);
	modify_end(&m, &tid);

	/* count the deletion, as the insertion was counted (as heap does) */
	if (!succeeded)
		pgstat_count_heap_delete(rel);
}

/* ------------------------------------------------------------------------
 * Delete and update
 * ------------------------------------------------------------------------
 */

/* What heap_delete and heap_update decide before they write. */
typedef struct XmaxCheck
{
	/* in */
	CommandId	cid;
	Snapshot	crosscheck;
	bool		wait;
	XLTW_Oper	oper;
	LockTupleMode lockmode;		/* LockTupleExclusive, or NoKeyExclusive */
	MultiXactStatus mxact_status;
	bool		key_intact;		/* an update that changes no key column */
	/* out */
	bool		checked_lockers;	/* we waited for all lockers to end */
	bool		locker_remains; /* and some of them (ours) are still there */
} XmaxCheck;

/*
 * The part heap_delete and heap_update share: may the current command
 * replace the xmax of the row at tid?  If c->wait, waits for an xmax that
 * conflicts and is in progress.  On return the row mutex is held and the
 * row's state is in m->fetch.row; TM_Ok means go ahead.
 */
static TM_Result
check_replace_xmax(LsmModify *m, ItemPointer tid, XmaxCheck *c)
{
	LsmRow	   *row = relock_row(m, tid);
	TM_Result	result;

	for (;;)
	{
		TransactionId xwait;
		uint16		infomask;
		bool		can_continue = false;

		c->checked_lockers = false;
		c->locker_remains = false;
		result = lsm_row_satisfies_update(row, c->cid);

		if (result == TM_Invisible)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					c->oper == XLTW_Delete ?
					errmsg("attempted to delete invisible tuple") :
					errmsg("attempted to update invisible tuple"));
		if (result != TM_BeingModified || !c->wait)
			break;

		xwait = row_raw_xmax(row);
		infomask = row_infomask(row);

		/*
		 * Queue on the tuple lock before sleeping, but only once we know we
		 * sleep; keep it if we start over, to stay first in line.
		 */
		if (infomask & HEAP_XMAX_IS_MULTI)
		{
			TransactionId update_xact;
			int			remain;
			bool		current_is_member = false;

			if (lsm_multixact_conflicts((MultiXactId) xwait, infomask,
										c->lockmode, &current_is_member))
			{
				row_mutex_unlock(m, tid);
				/* not if we hold a lock in it already: could deadlock */
				if (!current_is_member)
					acquire_tuplock(m, tid, c->lockmode, LockWaitBlock);
				lsm_multixact_wait((MultiXactId) xwait, c->mxact_status,
								   infomask, m->rel, tid, c->oper, &remain);
				c->checked_lockers = true;
				c->locker_remains = (remain != 0);
				row = relock_row(m, tid);
				if (xmax_changed(row, xwait, infomask))
					continue;
			}

			/*
			 * Members may survive (ours, or key-share lockers an update
			 * keeping the key does not wait for); an updater among them
			 * decides.
			 */
			if (!HEAP_XMAX_IS_LOCKED_ONLY(row_infomask(row)))
				update_xact = HeapTupleGetUpdateXid(row->tuple.t_data);
			else
				update_xact = InvalidTransactionId;
			if (!TransactionIdIsValid(update_xact) ||
				TransactionIdDidAbort(update_xact))
				can_continue = true;
		}
		else if (TransactionIdIsCurrentTransactionId(xwait))
		{
			/* We are the only locker: no sleep, but our lock stays. */
			c->checked_lockers = true;
			c->locker_remains = true;
			can_continue = true;
		}
		else if (HEAP_XMAX_IS_KEYSHR_LOCKED(infomask) && c->key_intact)
		{
			/* A key-share locker does not mind; it stays a locker. */
			c->checked_lockers = true;
			c->locker_remains = true;
			can_continue = true;
		}
		else
		{
			row_mutex_unlock(m, tid);
			acquire_tuplock(m, tid, c->lockmode, LockWaitBlock);
			XactLockTableWait(xwait, m->rel, tid, c->oper);
			c->checked_lockers = true;
			row = relock_row(m, tid);

			/* Someone else may have locked or updated it in between. */
			if (xmax_changed(row, xwait, infomask))
				continue;
			if (xmax_is_gone(row))
				can_continue = true;
		}

		if (can_continue)
			result = TM_Ok;
		else if (!ItemPointerEquals(&row->tuple.t_self,
									&row->tuple.t_data->t_ctid))
			result = TM_Updated;
		else
			result = TM_Deleted;
		break;
	}

	/* Transaction-snapshot mode RI checks (see heap_delete). */
	if (c->crosscheck != InvalidSnapshot && result == TM_Ok &&
		!lsm_row_satisfies(row, c->crosscheck))
		result = TM_Updated;

	return result;
}

TM_Result
lsm_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
				 Snapshot snapshot, Snapshot crosscheck, bool wait,
				 TM_FailureData *tmfd, bool changingPart)
{
	TransactionId xid;
	LsmModify	m;
	XmaxCheck	c;
	LsmRow	   *row;
	TM_Result	result;
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;
	ItemPointerData ctid;

	Assert(ItemPointerIsValid(tid));

	if (IsInParallelMode())
		ereport(ERROR,
				errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				errmsg("cannot delete tuples during a parallel operation"));
	refuse_if_published(rel, CMD_DELETE);

	xid = GetCurrentTransactionId();
	modify_begin(&m, rel);

	c.cid = cid;
	c.crosscheck = crosscheck;
	c.wait = wait;
	c.oper = XLTW_Delete;
	c.lockmode = LockTupleExclusive;
	c.mxact_status = MultiXactStatusUpdate;
	c.key_intact = false;
	result = check_replace_xmax(&m, tid, &c);
	row = &m.fetch.row;

	if (result != TM_Ok)
	{
		fill_failure(tmfd, row, result);
		modify_end(&m, tid);
		return result;
	}

	CheckForSerializableConflictIn(rel, tid, ItemPointerGetBlockNumber(tid));

	/* Surviving lockers of ours stay, together with our delete. */
	lsm_compute_new_xmax(row_raw_xmax(row), row_hinted_infomask(row),
						 row_infomask2(row), xid, LockTupleExclusive, true,
						 &new_xmax, &new_infomask, &new_infomask2);

	/* No forward link: a deleted row's ctid is itself (or "moved"). */
	ctid = *tid;
	if (changingPart)
		ItemPointerSetMovedPartitions(&ctid);
	write_xmax(&m, &m.fetch, new_xmax, cid, new_infomask, new_infomask2,
			   &ctid);

	modify_end(&m, tid);
	pgstat_count_heap_delete(rel);
	return TM_Ok;
}

/*
 * Whether the update changes a "key" column: one of a unique index that a
 * foreign key could reference (heap's INDEX_ATTR_BITMAP_KEY).  Only then
 * does it need a lock that conflicts with FOR KEY SHARE.  Binary comparison,
 * as heap_attr_equals: a false "changed" only costs concurrency.
 */
static bool
key_columns_changed(Relation rel, HeapTuple oldtup, HeapTuple newtup)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *key_attrs;
	int			attidx = -1;
	bool		changed = false;

	key_attrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_KEY);
	while (!changed && (attidx = bms_next_member(key_attrs, attidx)) >= 0)
	{
		AttrNumber	attnum = attidx + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;
		Datum		v1;
		Datum		v2;
		bool		n1;
		bool		n2;

		if (attnum <= 0)
		{
			/* whole-row or system column: say changed */
			changed = true;
			break;
		}
		att = TupleDescAttr(desc, attnum - 1);
		v1 = heap_getattr(oldtup, attnum, desc, &n1);
		v2 = heap_getattr(newtup, attnum, desc, &n2);
		if (n1 != n2)
			changed = true;
		else if (!n1 && !datumIsEqual(v1, v2, att->attbyval, att->attlen))
			changed = true;
	}
	bms_free(key_attrs);
	return changed;
}

TM_Result
lsm_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot,
				 CommandId cid, Snapshot snapshot, Snapshot crosscheck,
				 bool wait, TM_FailureData *tmfd, LockTupleMode *lockmode,
				 bool *update_indexes)
{
	TransactionId xid;
	LsmModify	m;
	XmaxCheck	c;
	LsmRow	   *row;
	TM_Result	result;
	LsmNewRow	nr;
	TransactionId xmax_old_tuple;
	uint16		infomask_old_tuple;
	uint16		infomask2_old_tuple;
	TransactionId xmax_new_tuple;
	uint16		infomask_new_tuple = 0;
	uint16		infomask2_new_tuple = 0;
	LsmXmaxDelta old_delta;
	LsmXmaxDelta new_delta;
	LsmWrite	w[4];
	int			nw;

	Assert(ItemPointerIsValid(otid));

	if (IsInParallelMode())
		ereport(ERROR,
				errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				errmsg("cannot update tuples during a parallel operation"));
	refuse_if_published(rel, CMD_UPDATE);

	*update_indexes = false;
	xid = GetCurrentTransactionId();
	modify_begin(&m, rel);

	/*
	 * Form the new version before taking the row mutex: detoasting its
	 * values may read other relations.  Its row id is wasted if the update
	 * fails, which the 48-bit row id space affords.
	 */
	form_new_row(rel, m.tree, lsm_key_info(rel, m.tree), slot, xid, cid, &nr);
	nr.value->t_data->t_infomask |= HEAP_UPDATED;

	/*
	 * The row's values never change between its versions' deltas, so the
	 * key comparison can use a first read of the row.
	 */
	row = read_row(&m, otid);
	if (!key_columns_changed(rel, &row->tuple, nr.value))
	{
		*lockmode = LockTupleNoKeyExclusive;
		c.mxact_status = MultiXactStatusNoKeyUpdate;
		c.key_intact = true;

		/*
		 * Our xid may be put into a MultiXactId with key-share lockers from
		 * now on (see heap_update).
		 */
		MultiXactIdSetOldestMember();
	}
	else
	{
		*lockmode = LockTupleExclusive;
		c.mxact_status = MultiXactStatusUpdate;
		c.key_intact = false;
	}

	c.cid = cid;
	c.crosscheck = crosscheck;
	c.wait = wait;
	c.oper = XLTW_Update;
	c.lockmode = *lockmode;
	result = check_replace_xmax(&m, otid, &c);
	row = &m.fetch.row;

	if (result != TM_Ok)
	{
		fill_failure(tmfd, row, result);
		modify_end(&m, otid);
		return result;
	}

	CheckForSerializableConflictIn(rel, otid, ItemPointerGetBlockNumber(otid));

	/* The old version's xmax: our update, with any lockers kept. */
	lsm_compute_new_xmax(row_raw_xmax(row), row_hinted_infomask(row),
						 row_infomask2(row), xid, *lockmode, true,
						 &xmax_old_tuple, &infomask_old_tuple,
						 &infomask2_old_tuple);

	/*
	 * The new version inherits the lockers that remain (they can only be
	 * key-share lockers, or ourselves), as heap's new tuple does.
	 */
	if (xmax_is_gone(row) ||
		HEAP_LOCKED_UPGRADED(row_infomask(row)) ||
		(c.checked_lockers && !c.locker_remains))
		xmax_new_tuple = InvalidTransactionId;
	else
		xmax_new_tuple = row_raw_xmax(row);
	if (TransactionIdIsValid(xmax_new_tuple))
	{
		if (row_infomask(row) & HEAP_XMAX_IS_MULTI)
			lsm_multixact_hint_bits(xmax_new_tuple, &infomask_new_tuple,
									&infomask2_new_tuple);
		else
		{
			infomask_new_tuple = HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_LOCK_ONLY;
			infomask2_new_tuple = 0;
		}
	}

	/*
	 * One write: the new version (and its inherited lock) first, then the
	 * old version's xmax with the link to it, so whoever follows the link
	 * finds the new version.
	 */
	set_insert_writes(w, &nr);
	nw = 2;
	if (TransactionIdIsValid(xmax_new_tuple))
	{
		LsmFetch	newf;

		newf.datakey = nr.datakey;
		fill_xmax_write(&w[nw++], &new_delta, &newf, xmax_new_tuple, cid,
						infomask_new_tuple, infomask2_new_tuple, &nr.tid);
	}
	fill_xmax_write(&w[nw++], &old_delta, &m.fetch, xmax_old_tuple, cid,
					infomask_old_tuple, infomask2_old_tuple, &nr.tid);
	lsm_tree_write(m.tree, w, nw);

	modify_end(&m, otid);

	slot->tts_tableOid = RelationGetRelid(rel);
	slot->tts_tid = nr.tid;
	lsm_tuple_set_slot_header(slot, &nr.tid, xid, cid, xmax_new_tuple,
							  infomask_new_tuple | HEAP_UPDATED,
							  infomask2_new_tuple);
	*update_indexes = true;
	pgstat_count_heap_update(rel, false);
	return TM_Ok;
}

/* ------------------------------------------------------------------------
 * Row locks
 * ------------------------------------------------------------------------
 */

/*
 * heap's test_lockmode_for_conflict: may we lock a version that xid holds
 * with status?  Sets *needwait if we must wait for xid first.
 */
static TM_Result
test_lockmode_for_conflict(MultiXactStatus status, TransactionId xid,
						   LockTupleMode mode, LsmRow *row, bool *needwait)
{
	LOCKMODE	held = lsm_tuplock_lockmode(lsm_tuplock_from_mxstatus(status));
	LOCKMODE	wanted = lsm_tuplock_lockmode(mode);

	*needwait = false;

	/* Check in progress before commit or abort (see heapam_visibility.c). */
	if (TransactionIdIsCurrentTransactionId(xid))
		return TM_SelfModified; /* we locked it already */
	if (TransactionIdIsInProgress(xid))
	{
		if (DoLockModesConflict(held, wanted))
			*needwait = true;
		return TM_Ok;
	}
	if (TransactionIdDidAbort(xid))
		return TM_Ok;
	if (TransactionIdDidCommit(xid))
	{
		/* A lock ends with its transaction; an update stays. */
		if (!ISUPDATE_from_mxstatus(status))
			return TM_Ok;
		if (DoLockModesConflict(held, wanted))
		{
			if (!ItemPointerEquals(&row->tuple.t_self, &row->tuple.t_data->t_ctid))
				return TM_Updated;
			return TM_Deleted;
		}
		return TM_Ok;
	}
	return TM_Ok;				/* crashed */
}

/* The MultiXactStatus a single-xid xmax holds the row with. */
static MultiXactStatus
single_xmax_status(LsmRow *row)
{
	uint16		infomask = row_infomask(row);
	uint16		infomask2 = row_infomask2(row);

	if (HEAP_XMAX_IS_LOCKED_ONLY(infomask))
	{
		if (HEAP_XMAX_IS_KEYSHR_LOCKED(infomask))
			return MultiXactStatusForKeyShare;
		if (HEAP_XMAX_IS_SHR_LOCKED(infomask))
			return MultiXactStatusForShare;
		if (HEAP_XMAX_IS_EXCL_LOCKED(infomask))
			return (infomask2 & HEAP_KEYS_UPDATED) ?
				MultiXactStatusForUpdate : MultiXactStatusForNoKeyUpdate;
		elog(ERROR, "invalid lock status in tuple");
	}
	return (infomask2 & HEAP_KEYS_UPDATED) ?
		MultiXactStatusUpdate : MultiXactStatusNoKeyUpdate;
}

/*
 * May we lock the version in m->chain?  TM_Ok: lock it; TM_SelfModified:
 * we hold it already, go on; *needwait_xid valid: sleep on it and look
 * again; anything else: give up with that result.
 */
static TM_Result
chain_version_lockable(LsmRow *row, LockTupleMode mode,
					   TransactionId *needwait_xid)
{
	TransactionId rawxmax = row_raw_xmax(row);
	TM_Result	result = TM_Ok;
	bool		needwait;

	*needwait_xid = InvalidTransactionId;
	if (row_xmax_invalid(row))
		return TM_Ok;

	if (row_infomask(row) & HEAP_XMAX_IS_MULTI)
	{
		MultiXactMember *members;
		int			nmembers;

		nmembers = GetMultiXactIdMembers(rawxmax, &members, false,
										 HEAP_XMAX_IS_LOCKED_ONLY(row_infomask(row)));
		for (int i = 0; i < nmembers; i++)
		{
			result = test_lockmode_for_conflict(members[i].status,
												members[i].xid, mode, row,
												&needwait);
			if (result == TM_SelfModified)
				break;
			if (needwait)
			{
				*needwait_xid = members[i].xid;
				break;
			}
			if (result != TM_Ok)
				break;
		}
		if (nmembers > 0)
			pfree(members);
		return result;
	}

	result = test_lockmode_for_conflict(single_xmax_status(row), rawxmax,
										mode, row, &needwait);
	if (needwait)
		*needwait_xid = rawxmax;
	return result;
}

/*
 * heap_lock_updated_tuple(_rec): lock the newer versions of a row we just
 * locked (or are about to), from ctid on, so that a key-share lock on an old
 * version also protects the key in the versions that replaced it.  Waits for
 * conflicting lockers of those versions without queueing (see heap).
 */
static TM_Result
lock_updated_versions(LsmModify *m, LsmRow *locked, ItemPointer ctid,
					  TransactionId xid, LockTupleMode mode)
{
	ItemPointerData tupid;
	TransactionId priorXmax = InvalidTransactionId;
	TM_Result	result = TM_Ok;

	/* not updated, or moved to another partition (a delete, really) */
	if (HeapTupleHeaderIndicatesMovedPartitions(locked->tuple.t_data) ||
		ItemPointerEquals(&locked->tuple.t_self, ctid))
		return TM_Ok;

	MultiXactIdSetOldestMember();
	tupid = *ctid;

	for (;;)
	{
		LsmRow	   *row;
		TransactionId needwait_xid;
		TransactionId new_xmax;
		uint16		new_infomask;
		uint16		new_infomask2;

		CHECK_FOR_INTERRUPTS();

		LockPage(m->rel, ItemPointerGetBlockNumber(&tupid), ExclusiveLock);
		lsm_row_release(&m->chain.row);
		if (!lsm_fetch_row(m->rel, m->tree, &tupid, &m->chain))
		{
			/* gone: its inserter aborted and it was collected */
			result = TM_Ok;
			break;
		}
		row = &m->chain.row;

		/* The end of the chain: an unrelated row, or an aborted version. */
		if ((TransactionIdIsValid(priorXmax) &&
			 !TransactionIdEquals(HeapTupleHeaderGetXmin(row->tuple.t_data),
								  priorXmax)) ||
			TransactionIdDidAbort(HeapTupleHeaderGetXmin(row->tuple.t_data)))
		{
			result = TM_Ok;
			break;
		}

		result = chain_version_lockable(row, mode, &needwait_xid);
		if (TransactionIdIsValid(needwait_xid))
		{
			UnlockPage(m->rel, ItemPointerGetBlockNumber(&tupid), ExclusiveLock);
			XactLockTableWait(needwait_xid, m->rel, &tupid, XLTW_LockUpdated);
			continue;			/* look at this version again */
		}
		if (result != TM_Ok && result != TM_SelfModified)
			break;

		if (result == TM_Ok)
		{
			lsm_compute_new_xmax(row_raw_xmax(row), row_hinted_infomask(row),
								 row_infomask2(row), xid, mode, false,
								 &new_xmax, &new_infomask, &new_infomask2);
			/* the version keeps its link to the next one */
			write_xmax(m, &m->chain, new_xmax, lock_cmax(row), new_infomask,
					   new_infomask2, &row->tuple.t_data->t_ctid);
		}

		/* The end of the chain? */
		if (row_xmax_invalid(row) ||
			HeapTupleHeaderIndicatesMovedPartitions(row->tuple.t_data) ||
			ItemPointerEquals(&row->tuple.t_self, &row->tuple.t_data->t_ctid) ||
			HeapTupleHeaderIsOnlyLocked(row->tuple.t_data))
		{
			result = TM_Ok;
			break;
		}

		priorXmax = HeapTupleHeaderGetUpdateXid(row->tuple.t_data);
		UnlockPage(m->rel, ItemPointerGetBlockNumber(&tupid), ExclusiveLock);
		tupid = row->tuple.t_data->t_ctid;
	}

	UnlockPage(m->rel, ItemPointerGetBlockNumber(&tupid), ExclusiveLock);
	return result;
}

/* Does a lock of ours in this xmax already cover mode? (heap's first check) */
static bool
already_locked_by_us(TransactionId xwait, uint16 infomask, uint16 infomask2,
					 LockTupleMode mode, bool *skip_tuple_lock)
{
	if (infomask & HEAP_XMAX_IS_MULTI)
	{
		MultiXactMember *members;
		int			nmembers;
		bool		held = false;

		nmembers = GetMultiXactIdMembers(xwait, &members, false,
										 HEAP_XMAX_IS_LOCKED_ONLY(infomask));
		for (int i = 0; i < nmembers; i++)
		{
			if (!TransactionIdIsCurrentTransactionId(members[i].xid))
				continue;
			if (lsm_tuplock_from_mxstatus(members[i].status) >= mode)
			{
				held = true;
				break;
			}

			/*
			 * A weaker lock of ours: upgrade it without queueing on the
			 * tuple lock, or we would deadlock against a waiter for our
			 * transaction.
			 */
			*skip_tuple_lock = true;
		}
		if (nmembers > 0)
			pfree(members);
		return held;
	}

	if (!TransactionIdIsCurrentTransactionId(xwait))
		return false;
	switch (mode)
	{
		case LockTupleKeyShare:
			return true;
		case LockTupleShare:
			return HEAP_XMAX_IS_SHR_LOCKED(infomask) ||
				HEAP_XMAX_IS_EXCL_LOCKED(infomask);
		case LockTupleNoKeyExclusive:
			return HEAP_XMAX_IS_EXCL_LOCKED(infomask);
		case LockTupleExclusive:
			return HEAP_XMAX_IS_EXCL_LOCKED(infomask) &&
				(infomask2 & HEAP_KEYS_UPDATED);
	}
	return false;
}

/* Sleeps on xwait (a transaction or a MultiXactId) per wait_policy. */
static bool
wait_for_xmax(LsmModify *m, ItemPointer tid, TransactionId xwait,
			  uint16 infomask, LockTupleMode mode, LockWaitPolicy wait_policy)
{
	bool		ok = true;

	if (infomask & HEAP_XMAX_IS_MULTI)
	{
		MultiXactStatus status = lsm_mxact_status_for_lock(mode, false);

		switch (wait_policy)
		{
			case LockWaitBlock:
				lsm_multixact_wait((MultiXactId) xwait, status, infomask,
								   m->rel, tid, XLTW_Lock, NULL);
				break;
			case LockWaitSkip:
				ok = lsm_multixact_wait_conditional((MultiXactId) xwait, status,
													infomask, m->rel, NULL);
				break;
			case LockWaitError:
				if (!lsm_multixact_wait_conditional((MultiXactId) xwait, status,
													infomask, m->rel, NULL))
					ereport(ERROR,
							errcode(ERRCODE_LOCK_NOT_AVAILABLE),
							errmsg("could not obtain lock on row in relation \"%s\"",
								   RelationGetRelationName(m->rel)));
				break;
		}
		return ok;
	}

	switch (wait_policy)
	{
		case LockWaitBlock:
			XactLockTableWait(xwait, m->rel, tid, XLTW_Lock);
			break;
		case LockWaitSkip:
			ok = ConditionalXactLockTableWait(xwait);
			break;
		case LockWaitError:
			if (!ConditionalXactLockTableWait(xwait))
				ereport(ERROR,
						errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						errmsg("could not obtain lock on row in relation \"%s\"",
							   RelationGetRelationName(m->rel)));
			break;
	}
	return ok;
}

/*
 * heap_lock_tuple.  On return the row mutex is released and the row's state
 * (with our lock, on success) is in m->fetch.row.
 */
static TM_Result
lock_row(LsmModify *m, ItemPointer tid, CommandId cid, LockTupleMode mode,
		 LockWaitPolicy wait_policy, bool follow_updates,
		 TM_FailureData *tmfd)
{
	bool		first_time = true;
	bool		skip_tuple_lock = false;
	LsmRow	   *row = relock_row(m, tid);
	TM_Result	result;
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;

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
		uint16		infomask = row_infomask(row);
		uint16		infomask2 = row_infomask2(row);
		ItemPointerData t_ctid = row->tuple.t_data->t_ctid;
		bool		require_sleep = true;

		row_mutex_unlock(m, tid);

		/*
		 * Holding a lock as strong already, we have what was asked for, and
		 * must not queue: that could deadlock against anyone waiting for a
		 * stronger lock behind us.  (Only the first time round: our own
		 * locks cannot have changed since.)
		 */
		if (first_time)
		{
			first_time = false;
			if (already_locked_by_us(xwait, infomask, infomask2, mode,
									 &skip_tuple_lock))
				return TM_Ok;
		}

		/* Cases where the held xmax does not conflict with mode. */
		if (mode == LockTupleKeyShare)
		{
			/*
			 * Key share coexists with anything that keeps the key; if the
			 * row was updated, lock the newer versions too, before taking
			 * the row mutex again (that could deadlock).
			 */
			if (!(infomask2 & HEAP_KEYS_UPDATED))
			{
				bool		updated = !HEAP_XMAX_IS_LOCKED_ONLY(infomask);

				if (follow_updates && updated)
				{
					TM_Result	res;

					res = lock_updated_versions(m, row, &t_ctid,
												GetCurrentTransactionId(),
												mode);
					if (res != TM_Ok)
					{
						result = res;
						row = relock_row(m, tid);
						goto failed;
					}
				}

				row = relock_row(m, tid);

				/*
				 * Still an appropriate xmax?  And if it was not updated but
				 * is now, start over to follow the new update.
				 */
				if (!HeapTupleHeaderIsOnlyLocked(row->tuple.t_data) &&
					((row_infomask2(row) & HEAP_KEYS_UPDATED) || !updated))
					goto retry;
				require_sleep = false;
			}
		}
		else if (mode == LockTupleShare)
		{
			/* Share coexists with lockers that are not exclusive. */
			if (HEAP_XMAX_IS_LOCKED_ONLY(infomask) &&
				!HEAP_XMAX_IS_EXCL_LOCKED(infomask))
			{
				row = relock_row(m, tid);
				if (!HEAP_XMAX_IS_LOCKED_ONLY(row_infomask(row)) ||
					HEAP_XMAX_IS_EXCL_LOCKED(row_infomask(row)))
					goto retry;
				require_sleep = false;
			}
		}
		else if (mode == LockTupleNoKeyExclusive)
		{
			/* No-key exclusive coexists with key-share lockers. */
			if (infomask & HEAP_XMAX_IS_MULTI)
			{
				if (!lsm_multixact_conflicts((MultiXactId) xwait, infomask,
											 mode, NULL))
				{
					row = relock_row(m, tid);
					if (xmax_changed(row, xwait, infomask))
						goto retry;
					require_sleep = false;
				}
			}
			else if (HEAP_XMAX_IS_KEYSHR_LOCKED(infomask))
			{
				row = relock_row(m, tid);
				if (xmax_changed(row, xwait, infomask))
					goto retry;
				require_sleep = false;
			}
		}

		/* Our own weaker single lock is upgraded without sleeping. */
		if (require_sleep && !(infomask & HEAP_XMAX_IS_MULTI) &&
			TransactionIdIsCurrentTransactionId(xwait))
		{
			row = relock_row(m, tid);
			if (xmax_changed(row, xwait, infomask))
				goto retry;
			Assert(HEAP_XMAX_IS_LOCKED_ONLY(row_infomask(row)));
			require_sleep = false;
		}

		if (require_sleep && (result == TM_Updated || result == TM_Deleted))
		{
			/* A committed update or delete: sleeping cannot help. */
			row = relock_row(m, tid);
			goto failed;
		}
		else if (require_sleep)
		{
			if (!skip_tuple_lock &&
				!acquire_tuplock(m, tid, mode, wait_policy))
			{
				/* LockWaitSkip, and someone is ahead of us */
				result = TM_WouldBlock;
				row = relock_row(m, tid);
				goto failed;
			}

			if (!wait_for_xmax(m, tid, xwait, infomask, mode, wait_policy))
			{
				result = TM_WouldBlock;
				row = relock_row(m, tid);
				goto failed;
			}

			/* The updater ended: lock its newer versions as well. */
			if (follow_updates && !HEAP_XMAX_IS_LOCKED_ONLY(infomask))
			{
				TM_Result	res;

				res = lock_updated_versions(m, row, &t_ctid,
											GetCurrentTransactionId(), mode);
				if (res != TM_Ok)
				{
					result = res;
					row = relock_row(m, tid);
					goto failed;
				}
			}

			row = relock_row(m, tid);
			if (xmax_changed(row, xwait, infomask))
				goto retry;
		}

		/*
		 * We may lock if the xmax aborted, only locked, or we did not need
		 * to wait at all.
		 */
		if (!require_sleep || xmax_is_gone(row) ||
			HEAP_XMAX_IS_LOCKED_ONLY(row_infomask(row)) ||
			HeapTupleHeaderIsOnlyLocked(row->tuple.t_data))
			result = TM_Ok;
		else if (!ItemPointerEquals(&row->tuple.t_self,
									&row->tuple.t_data->t_ctid))
			result = TM_Updated;
		else
			result = TM_Deleted;
	}

failed:
	if (result != TM_Ok)
	{
		fill_failure(tmfd, row, result);
		row_mutex_unlock(m, tid);
		return result;
	}

	/*
	 * Some other backend could put our xid into a MultiXactId right after
	 * this (see heap_lock_tuple).
	 */
	MultiXactIdSetOldestMember();

	lsm_compute_new_xmax(row_raw_xmax(row), row_hinted_infomask(row),
						 row_infomask2(row), GetCurrentTransactionId(), mode,
						 false, &new_xmax, &new_infomask, &new_infomask2);

	/*
	 * A lock-only xmax means no newer version; an updated row keeps its
	 * link (the updater is in the new MultiXactId).
	 */
	write_xmax(m, &m->fetch, new_xmax, lock_cmax(row), new_infomask,
			   new_infomask2,
			   HEAP_XMAX_IS_LOCKED_ONLY(new_infomask) ? tid :
			   &row->tuple.t_data->t_ctid);

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
	bool		follow_updates;
	ItemPointerData locked;

	follow_updates = (flags & TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS) != 0;
	tmfd->traversed = false;

	modify_begin(&m, rel);

	for (;;)
	{
		locked = *tid;
		result = lock_row(&m, &locked, cid, mode, wait_policy, follow_updates,
						  tmfd);

		/* Our place in the queue goes once the lock is decided. */
		release_tuplock(&m, &locked);

		if (result != TM_Updated ||
			!(flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION))
			break;

		result = find_next_version(&m, tid, cid, wait_policy, tmfd);
		if (result != TM_Ok)
		{
			modify_end(&m, &locked);
			return result;
		}
	}

	/* Hand back the row as heap does: locked, or as it stopped us. */
	lsm_store_row(slot, rel, &m.fetch.row);
	modify_end(&m, &locked);
	return result;
}
