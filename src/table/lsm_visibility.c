/*
 * lsm_visibility.c - MVCC visibility of lsm rows.
 *
 * These are heap's rules (heapam_visibility.c), branch by branch, applied to
 * the header an LsmRow resolves from its VALUE and newest XMAX delta.  What
 * differs, and why:
 *
 * - No hint bits are ever set: the header is a private copy and there is no
 *   buffer to dirty.  Hint bits that are present are honoured, though:
 *   compaction may freeze a VALUE (HEAP_XMIN_FROZEN) and a delta may carry
 *   HEAP_XMAX_INVALID.  Without hints every check consults the procarray
 *   and the CLOG, in the order heap's header comment requires
 *   (TransactionIdIsInProgress before TransactionIdDidCommit).
 * - cmin and cmax come from the LsmRow, which stores both, instead of
 *   HeapTupleHeaderGetCmin/GetCmax, which would need combo command ids.
 * - HEAP_MOVED_OFF/HEAP_MOVED_IN (pre-9.0 VACUUM FULL) never occur in an
 *   lsm table, so those branches are absent.
 * - Logical decoding (historic MVCC snapshots) is not supported.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/transam.h"
#include "access/xact.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"

#include "lsm_tuple.h"

static bool
lsm_row_satisfies_self(LsmRow *row)
{
	HeapTupleHeader tuple = row->tuple.t_data;

	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return false;

		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tuple)))
		{
			if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid */
				return true;

			if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))	/* not deleter */
				return true;

			if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
			{
				TransactionId xmax = HeapTupleGetUpdateXid(tuple);

				/* not LOCKED_ONLY, so it has to have an xmax */
				Assert(TransactionIdIsValid(xmax));

				/* updating subtransaction must have aborted */
				return !TransactionIdIsCurrentTransactionId(xmax);
			}

			/* if not current, the deleting subtransaction aborted */
			return !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple));
		}
		else if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmin(tuple)))
			return false;
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmin(tuple)))
			return false;		/* aborted or crashed */
	}

	/* by here, the inserting transaction has committed */

	if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid or aborted */
		return true;

	if (tuple->t_infomask & HEAP_XMAX_COMMITTED)
		return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);

	if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
	{
		TransactionId xmax;

		if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			return true;

		xmax = HeapTupleGetUpdateXid(tuple);

		/* not LOCKED_ONLY, so it has to have an xmax */
		Assert(TransactionIdIsValid(xmax));

		if (TransactionIdIsCurrentTransactionId(xmax))
			return false;
		if (TransactionIdIsInProgress(xmax))
			return true;
		if (TransactionIdDidCommit(xmax))
			return false;
		/* it must have aborted or crashed */
		return true;
	}

	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
		return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);

	if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmax(tuple)))
		return true;

	if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmax(tuple)))
		return true;			/* aborted or crashed */

	/* xmax transaction committed */
	return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);
}

static bool
lsm_row_satisfies_toast(LsmRow *row)
{
	HeapTupleHeader tuple = row->tuple.t_data;

	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return false;

		/* a speculative insertion that was super-deleted */
		if (!TransactionIdIsValid(HeapTupleHeaderGetXmin(tuple)))
			return false;
	}
	return true;
}

/*
 * SNAPSHOT_DIRTY: like self, but rows of transactions in progress count,
 * and their xids (and a speculative insertion's token) are returned in the
 * snapshot so that the caller can wait for them.
 */
static bool
lsm_row_satisfies_dirty(LsmRow *row, Snapshot snapshot)
{
	HeapTupleHeader tuple = row->tuple.t_data;

	snapshot->xmin = snapshot->xmax = InvalidTransactionId;
	snapshot->speculativeToken = 0;

	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return false;

		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tuple)))
		{
			if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid */
				return true;

			if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))	/* not deleter */
				return true;

			if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
			{
				TransactionId xmax = HeapTupleGetUpdateXid(tuple);

				/* not LOCKED_ONLY, so it has to have an xmax */
				Assert(TransactionIdIsValid(xmax));

				/* updating subtransaction must have aborted */
				return !TransactionIdIsCurrentTransactionId(xmax);
			}

			/* if not current, the deleting subtransaction aborted */
			return !TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple));
		}
		else if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmin(tuple)))
		{
			/*
			 * Return the speculative token to the caller.  Like heap, leave
			 * the xmax to the caller: it needs a conclusively locked row
			 * version anyway.
			 */
			if (HeapTupleHeaderIsSpeculative(tuple))
			{
				snapshot->speculativeToken =
					HeapTupleHeaderGetSpeculativeToken(tuple);
				Assert(snapshot->speculativeToken != 0);
			}
			snapshot->xmin = HeapTupleHeaderGetRawXmin(tuple);
			return true;		/* in insertion by other */
		}
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmin(tuple)))
			return false;		/* aborted or crashed */
	}

	/* by here, the inserting transaction has committed */

	if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid or aborted */
		return true;

	if (tuple->t_infomask & HEAP_XMAX_COMMITTED)
		return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);

	if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
	{
		TransactionId xmax;

		if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			return true;

		xmax = HeapTupleGetUpdateXid(tuple);

		/* not LOCKED_ONLY, so it has to have an xmax */
		Assert(TransactionIdIsValid(xmax));

		if (TransactionIdIsCurrentTransactionId(xmax))
			return false;
		if (TransactionIdIsInProgress(xmax))
		{
			snapshot->xmax = xmax;
			return true;
		}
		if (TransactionIdDidCommit(xmax))
			return false;
		/* it must have aborted or crashed */
		return true;
	}

	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
		return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);

	if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmax(tuple)))
	{
		if (!HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			snapshot->xmax = HeapTupleHeaderGetRawXmax(tuple);
		return true;
	}

	if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmax(tuple)))
		return true;			/* aborted or crashed */

	/* xmax transaction committed */
	return HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);
}

/*
 * SNAPSHOT_MVCC: visible to the snapshot, excluding the current command's
 * own changes.
 */
static bool
lsm_row_satisfies_mvcc(LsmRow *row, Snapshot snapshot)
{
	HeapTupleHeader tuple = row->tuple.t_data;

	/* as heap, catch snapshots used without registration */
	Assert(snapshot->regd_count > 0 || snapshot->active_count > 0);

	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return false;

		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tuple)))
		{
			if (row->cmin >= snapshot->curcid)
				return false;	/* inserted after scan started */

			if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid */
				return true;

			if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))	/* not deleter */
				return true;

			if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
			{
				TransactionId xmax = HeapTupleGetUpdateXid(tuple);

				/* not LOCKED_ONLY, so it has to have an xmax */
				Assert(TransactionIdIsValid(xmax));

				/* updating subtransaction must have aborted */
				if (!TransactionIdIsCurrentTransactionId(xmax))
					return true;
				/* visible if updated after the scan started */
				return row->cmax >= snapshot->curcid;
			}

			if (!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
				return true;	/* deleting subtransaction aborted */

			/* visible if deleted after the scan started */
			return row->cmax >= snapshot->curcid;
		}
		else if (XidInMVCCSnapshot(HeapTupleHeaderGetRawXmin(tuple), snapshot))
			return false;
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmin(tuple)))
			return false;		/* aborted or crashed */
	}
	else
	{
		/* xmin is committed, but maybe not according to our snapshot */
		if (!HeapTupleHeaderXminFrozen(tuple) &&
			XidInMVCCSnapshot(HeapTupleHeaderGetRawXmin(tuple), snapshot))
			return false;		/* treat as still in progress */
	}

	/* by here, the inserting transaction has committed */

	if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid or aborted */
		return true;

	if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
		return true;

	if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
	{
		TransactionId xmax = HeapTupleGetUpdateXid(tuple);

		/* not LOCKED_ONLY, so it has to have an xmax */
		Assert(TransactionIdIsValid(xmax));

		if (TransactionIdIsCurrentTransactionId(xmax))
			return row->cmax >= snapshot->curcid;
		if (XidInMVCCSnapshot(xmax, snapshot))
			return true;
		if (TransactionIdDidCommit(xmax))
			return false;		/* updating transaction committed */
		/* it must have aborted or crashed */
		return true;
	}

	if (!(tuple->t_infomask & HEAP_XMAX_COMMITTED))
	{
		if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
			return row->cmax >= snapshot->curcid;

		if (XidInMVCCSnapshot(HeapTupleHeaderGetRawXmax(tuple), snapshot))
			return true;

		if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmax(tuple)))
			return true;		/* aborted or crashed */
	}
	else
	{
		/* xmax is committed, but maybe not according to our snapshot */
		if (XidInMVCCSnapshot(HeapTupleHeaderGetRawXmax(tuple), snapshot))
			return true;		/* treat as still in progress */
	}

	/* xmax transaction committed */
	return false;
}

/*
 * heap's HeapTupleSatisfiesVacuumHorizon: the row's state for VACUUM and
 * garbage collection.  A row that may still be visible to some snapshot is
 * HEAPTUPLE_RECENTLY_DEAD with the xid to compare with a horizon in
 * *dead_after.
 */
static HTSV_Result
lsm_row_satisfies_vacuum_horizon(LsmRow *row, TransactionId *dead_after)
{
	HeapTupleHeader tuple = row->tuple.t_data;

	*dead_after = InvalidTransactionId;

	/*
	 * Has the inserting transaction committed?  If it aborted, the row was
	 * never visible to any other transaction and is dead now.
	 */
	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return HEAPTUPLE_DEAD;
		else if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tuple)))
		{
			if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid */
				return HEAPTUPLE_INSERT_IN_PROGRESS;
			/* only locked? run infomask-only check first, for performance */
			if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask) ||
				HeapTupleHeaderIsOnlyLocked(tuple))
				return HEAPTUPLE_INSERT_IN_PROGRESS;
			/* inserted and then deleted by same xact */
			if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetUpdateXid(tuple)))
				return HEAPTUPLE_DELETE_IN_PROGRESS;
			/* deleting subtransaction must have aborted */
			return HEAPTUPLE_INSERT_IN_PROGRESS;
		}
		else if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmin(tuple)))
		{
			/* as heap: callers should wait for xmin rather than xmax */
			return HEAPTUPLE_INSERT_IN_PROGRESS;
		}
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmin(tuple)))
			return HEAPTUPLE_DEAD;	/* aborted or crashed */
	}

	/* The inserter committed; what about the deleter? */
	if (tuple->t_infomask & HEAP_XMAX_INVALID)
		return HEAPTUPLE_LIVE;

	if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
	{
		/*
		 * A locker, whether it committed, aborted or is still running,
		 * never makes the row dead.
		 */
		return HEAPTUPLE_LIVE;
	}

	if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
	{
		TransactionId xmax = HeapTupleGetUpdateXid(tuple);

		/* not LOCKED_ONLY, so it has to have an xmax */
		Assert(TransactionIdIsValid(xmax));

		if (TransactionIdIsInProgress(xmax))
			return HEAPTUPLE_DELETE_IN_PROGRESS;
		else if (TransactionIdDidCommit(xmax))
		{
			/*
			 * The multixact may still be running because of lockers, but
			 * they are present in newer versions of the row too, so only
			 * the updater decides (as on heap).
			 */
			*dead_after = xmax;
			return HEAPTUPLE_RECENTLY_DEAD;
		}
		/* the updater aborted or crashed */
		return HEAPTUPLE_LIVE;
	}

	if (!(tuple->t_infomask & HEAP_XMAX_COMMITTED))
	{
		if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmax(tuple)))
			return HEAPTUPLE_DELETE_IN_PROGRESS;
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmax(tuple)))
			return HEAPTUPLE_LIVE;	/* aborted or crashed */
	}

	/*
	 * The deleter committed; the caller checks whether that was recent
	 * enough for some open transaction to still see the row.
	 */
	*dead_after = HeapTupleHeaderGetRawXmax(tuple);
	return HEAPTUPLE_RECENTLY_DEAD;
}

/* SNAPSHOT_NON_VACUUMABLE: might the row be visible to any transaction? */
static bool
lsm_row_satisfies_non_vacuumable(LsmRow *row, Snapshot snapshot)
{
	TransactionId dead_after;
	HTSV_Result res;

	res = lsm_row_satisfies_vacuum_horizon(row, &dead_after);

	if (res == HEAPTUPLE_RECENTLY_DEAD)
	{
		Assert(TransactionIdIsValid(dead_after));

		if (GlobalVisTestIsRemovableXid(snapshot->vistest, dead_after))
			res = HEAPTUPLE_DEAD;
	}
	else
		Assert(!TransactionIdIsValid(dead_after));

	return res != HEAPTUPLE_DEAD;
}

bool
lsm_row_satisfies(LsmRow *row, Snapshot snapshot)
{
	Assert(ItemPointerIsValid(&row->tuple.t_self));

	switch (snapshot->snapshot_type)
	{
		case SNAPSHOT_MVCC:
			return lsm_row_satisfies_mvcc(row, snapshot);
		case SNAPSHOT_SELF:
			return lsm_row_satisfies_self(row);
		case SNAPSHOT_ANY:
			return true;
		case SNAPSHOT_TOAST:
			return lsm_row_satisfies_toast(row);
		case SNAPSHOT_DIRTY:
			return lsm_row_satisfies_dirty(row, snapshot);
		case SNAPSHOT_NON_VACUUMABLE:
			return lsm_row_satisfies_non_vacuumable(row, snapshot);
		case SNAPSHOT_HISTORIC_MVCC:
			ereport(ERROR,
					errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("logical decoding of lsm tables is not supported"),
					errhint("Use a heap table for data that logical decoding must read."));
	}

	elog(ERROR, "unknown snapshot type %d", (int) snapshot->snapshot_type);
	return false;				/* keep compiler quiet */
}

/*
 * heap's HeapTupleSatisfiesUpdate: may command curcid of the current
 * transaction update, delete or lock the row?
 *
 *	TM_Invisible: the row did not exist when the command started (or was
 *	already updated by an earlier command of ours).
 *	TM_Ok: visible and free to change.
 *	TM_SelfModified: changed by this very command, or a later one.
 *	TM_Updated / TM_Deleted: changed by a committed transaction (t_ctid
 *	tells which: it points elsewhere after an update).
 *	TM_BeingModified: an in-progress transaction updated, deleted or locked
 *	it, or a running multixact locks it (even one including us: callers
 *	that care check for that themselves).
 */
TM_Result
lsm_row_satisfies_update(LsmRow *row, CommandId curcid)
{
	HeapTupleHeader tuple = row->tuple.t_data;
	ItemPointer self = &row->tuple.t_self;

	Assert(ItemPointerIsValid(self));

	if (!HeapTupleHeaderXminCommitted(tuple))
	{
		if (HeapTupleHeaderXminInvalid(tuple))
			return TM_Invisible;

		else if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(tuple)))
		{
			if (row->cmin >= curcid)
				return TM_Invisible;	/* inserted after scan started */

			if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid */
				return TM_Ok;

			if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			{
				TransactionId xmax = HeapTupleHeaderGetRawXmax(tuple);

				/*
				 * Though we inserted this row, other transactions may lock
				 * it: the original version was key-share locked when we
				 * updated it, and the lock carried over.
				 */
				if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
				{
					if (MultiXactIdIsRunning(xmax, true))
						return TM_BeingModified;
					else
						return TM_Ok;
				}

				/*
				 * If the locker is gone, there is nothing of interest left in
				 * this xmax; otherwise report the row as locked.
				 */
				if (!TransactionIdIsInProgress(xmax))
					return TM_Ok;
				return TM_BeingModified;
			}

			if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
			{
				TransactionId xmax = HeapTupleGetUpdateXid(tuple);

				/* not LOCKED_ONLY, so it has to have an xmax */
				Assert(TransactionIdIsValid(xmax));

				/* deleting subtransaction must have aborted */
				if (!TransactionIdIsCurrentTransactionId(xmax))
				{
					if (MultiXactIdIsRunning(HeapTupleHeaderGetRawXmax(tuple),
											 false))
						return TM_BeingModified;
					return TM_Ok;
				}
				else
				{
					if (row->cmax >= curcid)
						return TM_SelfModified; /* updated after scan started */
					else
						return TM_Invisible;	/* updated before scan started */
				}
			}

			if (!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
				return TM_Ok;	/* deleting subtransaction aborted */

			if (row->cmax >= curcid)
				return TM_SelfModified; /* updated after scan started */
			else
				return TM_Invisible;	/* updated before scan started */
		}
		else if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmin(tuple)))
			return TM_Invisible;
		else if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmin(tuple)))
			return TM_Invisible;	/* aborted or crashed */
	}

	/* by here, the inserting transaction has committed */

	if (tuple->t_infomask & HEAP_XMAX_INVALID)	/* xid invalid or aborted */
		return TM_Ok;

	if (tuple->t_infomask & HEAP_XMAX_COMMITTED)
	{
		if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			return TM_Ok;
		if (!ItemPointerEquals(self, &tuple->t_ctid))
			return TM_Updated;	/* updated by other */
		else
			return TM_Deleted;	/* deleted by other */
	}

	if (tuple->t_infomask & HEAP_XMAX_IS_MULTI)
	{
		TransactionId xmax;

		if (HEAP_LOCKED_UPGRADED(tuple->t_infomask))
			return TM_Ok;

		if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
		{
			if (MultiXactIdIsRunning(HeapTupleHeaderGetRawXmax(tuple), true))
				return TM_BeingModified;
			return TM_Ok;
		}

		xmax = HeapTupleGetUpdateXid(tuple);
		if (!TransactionIdIsValid(xmax))
		{
			if (MultiXactIdIsRunning(HeapTupleHeaderGetRawXmax(tuple), false))
				return TM_BeingModified;
		}

		/* not LOCKED_ONLY, so it has to have an xmax */
		Assert(TransactionIdIsValid(xmax));

		if (TransactionIdIsCurrentTransactionId(xmax))
		{
			if (row->cmax >= curcid)
				return TM_SelfModified; /* updated after scan started */
			else
				return TM_Invisible;	/* updated before scan started */
		}

		if (MultiXactIdIsRunning(HeapTupleHeaderGetRawXmax(tuple), false))
			return TM_BeingModified;

		if (TransactionIdDidCommit(xmax))
		{
			if (!ItemPointerEquals(self, &tuple->t_ctid))
				return TM_Updated;
			else
				return TM_Deleted;
		}

		/*
		 * The updater aborted or crashed; the row is free unless some other
		 * member, even just a locker, is still alive.
		 */
		if (!MultiXactIdIsRunning(HeapTupleHeaderGetRawXmax(tuple), false))
			return TM_Ok;
		return TM_BeingModified;
	}

	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmax(tuple)))
	{
		if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
			return TM_BeingModified;
		if (row->cmax >= curcid)
			return TM_SelfModified; /* updated after scan started */
		else
			return TM_Invisible;	/* updated before scan started */
	}

	if (TransactionIdIsInProgress(HeapTupleHeaderGetRawXmax(tuple)))
		return TM_BeingModified;

	if (!TransactionIdDidCommit(HeapTupleHeaderGetRawXmax(tuple)))
		return TM_Ok;			/* aborted or crashed */

	/* xmax transaction committed */

	if (HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask))
		return TM_Ok;

	if (!ItemPointerEquals(self, &tuple->t_ctid))
		return TM_Updated;		/* updated by other */
	else
		return TM_Deleted;		/* deleted by other */
}

/*
 * heap's HeapTupleSatisfiesVacuum: a row deleted by a transaction that
 * precedes oldest_xmin is dead to everyone.
 */
HTSV_Result
lsm_row_satisfies_vacuum(LsmRow *row, TransactionId oldest_xmin)
{
	TransactionId dead_after;
	HTSV_Result res;

	res = lsm_row_satisfies_vacuum_horizon(row, &dead_after);

	if (res == HEAPTUPLE_RECENTLY_DEAD)
	{
		Assert(TransactionIdIsValid(dead_after));

		if (TransactionIdPrecedes(dead_after, oldest_xmin))
			res = HEAPTUPLE_DEAD;
	}
	else
		Assert(!TransactionIdIsValid(dead_after));

	return res;
}
