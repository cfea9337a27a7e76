/*
 * lsm_xmax.c - xmax arithmetic shared by deletes, updates and row locks of
 * lsm tables.
 *
 * A row's xmax (from its newest XMAX delta) is exactly what heap would have
 * in the tuple header after the same operations: a single xid, or a
 * MultiXactId when several transactions lock the row together or lockers
 * coexist with an updater.  These functions are heapam.c's static helpers
 * for that, written for our use: heap is the reference for the semantics.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/transam.h"
#include "access/xact.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"

#include "lsm_xmax.h"

/* Per row lock strength: its queueing lock and MultiXactStatus (heap's). */
static const struct
{
	LOCKMODE	hwlock;
	int			lockstatus;
	int			updstatus;
}			tuplock_info[MaxLockTupleMode + 1] =
{
	/* LockTupleKeyShare: key share does not allow updating */
	{AccessShareLock, MultiXactStatusForKeyShare, -1},
	/* LockTupleShare: share does not allow updating */
	{RowShareLock, MultiXactStatusForShare, -1},
	/* LockTupleNoKeyExclusive */
	{ExclusiveLock, MultiXactStatusForNoKeyUpdate, MultiXactStatusNoKeyUpdate},
	/* LockTupleExclusive */
	{AccessExclusiveLock, MultiXactStatusForUpdate, MultiXactStatusUpdate}
};

/* Per MultiXactStatus: the row lock strength it holds. */
static const LockTupleMode mxstatus_tuplock[MaxMultiXactStatus + 1] =
{
	LockTupleKeyShare,			/* ForKeyShare */
	LockTupleShare,				/* ForShare */
	LockTupleNoKeyExclusive,	/* ForNoKeyUpdate */
	LockTupleExclusive,			/* ForUpdate */
	LockTupleNoKeyExclusive,	/* NoKeyUpdate */
	LockTupleExclusive			/* Update */
};

#define LOCKMODE_from_mxstatus(status) \
	(tuplock_info[mxstatus_tuplock[(status)]].hwlock)

LOCKMODE
lsm_tuplock_lockmode(LockTupleMode mode)
{
	return tuplock_info[mode].hwlock;
}

LockTupleMode
lsm_tuplock_from_mxstatus(MultiXactStatus status)
{
	return mxstatus_tuplock[status];
}

MultiXactStatus
lsm_mxact_status_for_lock(LockTupleMode mode, bool is_update)
{
	int			status;

	status = is_update ? tuplock_info[mode].updstatus :
		tuplock_info[mode].lockstatus;
	if (status == -1)
		elog(ERROR, "invalid lock tuple mode %d/%s", mode,
			 is_update ? "true" : "false");
	return (MultiXactStatus) status;
}

/* The updater of a multi xmax that is not LOCK_ONLY (heap's). */
static TransactionId
multixact_update_xid(TransactionId xmax, uint16 infomask)
{
	TransactionId update_xact = InvalidTransactionId;
	MultiXactMember *members;
	int			nmembers;

	Assert(!(infomask & HEAP_XMAX_LOCK_ONLY));
	Assert(infomask & HEAP_XMAX_IS_MULTI);

	nmembers = GetMultiXactIdMembers(xmax, &members, false, false);
	for (int i = 0; i < nmembers; i++)
	{
		if (ISUPDATE_from_mxstatus(members[i].status))
		{
			/* there is at most one updater */
			update_xact = members[i].xid;
			break;
		}
	}
	if (nmembers > 0)
		pfree(members);
	return update_xact;
}

/* The MultiXactStatus a single-xid xmax stands for. */
static MultiXactStatus
single_xmax_status(uint16 infomask, uint16 infomask2, bool *valid)
{
	*valid = true;
	if (HEAP_XMAX_IS_LOCKED_ONLY(infomask))
	{
		if (HEAP_XMAX_IS_KEYSHR_LOCKED(infomask))
			return MultiXactStatusForKeyShare;
		if (HEAP_XMAX_IS_SHR_LOCKED(infomask))
			return MultiXactStatusForShare;
		if (HEAP_XMAX_IS_EXCL_LOCKED(infomask))
			return (infomask2 & HEAP_KEYS_UPDATED) ?
				MultiXactStatusForUpdate : MultiXactStatusForNoKeyUpdate;
		/* LOCK_ONLY alone: a pg_upgrade'd share lock, long gone */
		*valid = false;
		return MultiXactStatusForKeyShare;
	}
	return (infomask2 & HEAP_KEYS_UPDATED) ?
		MultiXactStatusUpdate : MultiXactStatusNoKeyUpdate;
}

void
lsm_compute_new_xmax(TransactionId xmax, uint16 old_infomask,
					 uint16 old_infomask2, TransactionId add_to_xmax,
					 LockTupleMode mode, bool is_update,
					 TransactionId *result_xmax, uint16 *result_infomask,
					 uint16 *result_infomask2)
{
	TransactionId new_xmax;
	uint16		new_infomask;
	uint16		new_infomask2;

	Assert(TransactionIdIsCurrentTransactionId(add_to_xmax));

	for (;;)
	{
		new_infomask = 0;
		new_infomask2 = 0;

		if ((old_infomask & HEAP_XMAX_INVALID) || !TransactionIdIsValid(xmax))
		{
			/*
			 * No previous locker or updater: just our xid.  Several branches
			 * below come back here after deciding the old xmax is gone.
			 */
			new_xmax = add_to_xmax;
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
			break;
		}

		if (old_infomask & HEAP_XMAX_IS_MULTI)
		{
			MultiXactStatus new_status;

			/* A pg_upgrade'd share lock cannot be running any more. */
			if (HEAP_LOCKED_UPGRADED(old_infomask))
			{
				old_infomask &= ~HEAP_XMAX_IS_MULTI;
				old_infomask |= HEAP_XMAX_INVALID;
				continue;
			}

			/*
			 * If every member is gone (lockers only, or lockers and an
			 * updater that did not commit), start from scratch; else add us.
			 */
			if (!MultiXactIdIsRunning(xmax, HEAP_XMAX_IS_LOCKED_ONLY(old_infomask)))
			{
				if (HEAP_XMAX_IS_LOCKED_ONLY(old_infomask) ||
					!TransactionIdDidCommit(multixact_update_xid(xmax, old_infomask)))
				{
					old_infomask &= ~HEAP_XMAX_IS_MULTI;
					old_infomask |= HEAP_XMAX_INVALID;
					continue;
				}
			}

			new_status = lsm_mxact_status_for_lock(mode, is_update);
			new_xmax = MultiXactIdExpand((MultiXactId) xmax, add_to_xmax,
										 new_status);
			lsm_multixact_hint_bits(new_xmax, &new_infomask, &new_infomask2);
			break;
		}

		if (TransactionIdIsInProgress(xmax))
		{
			bool		valid;
			MultiXactStatus old_status;
			LockTupleMode old_mode;
			MultiXactStatus new_status;

			old_status = single_xmax_status(old_infomask, old_infomask2,
											&valid);
			if (!valid)
			{
				elog(WARNING, "LOCK_ONLY found for Xid in progress %u", xmax);
				old_infomask |= HEAP_XMAX_INVALID;
				old_infomask &= ~HEAP_XMAX_LOCK_ONLY;
				continue;
			}
			old_mode = mxstatus_tuplock[old_status];

			/*
			 * Our own lock at the same level: keep only the stronger of the
			 * two.  (It cannot be an update by us: the row would have been
			 * invisible to us.)
			 */
			if (xmax == add_to_xmax)
			{
				Assert(HEAP_XMAX_IS_LOCKED_ONLY(old_infomask));
				if (mode < old_mode)
					mode = old_mode;
				old_infomask |= HEAP_XMAX_INVALID;
				continue;
			}

			/* Anyone else, or another level of our transaction: both stay. */
			new_status = lsm_mxact_status_for_lock(mode, is_update);
			new_xmax = MultiXactIdCreate(xmax, old_status, add_to_xmax,
										 new_status);
			lsm_multixact_hint_bits(new_xmax, &new_infomask, &new_infomask2);
			break;
		}

		if (!HEAP_XMAX_IS_LOCKED_ONLY(old_infomask) &&
			TransactionIdDidCommit(xmax))
		{
			/* A committed update stays the row's updater, beside our lock. */
			MultiXactStatus status;
			MultiXactStatus new_status;

			status = (old_infomask2 & HEAP_KEYS_UPDATED) ?
				MultiXactStatusUpdate : MultiXactStatusNoKeyUpdate;
			new_status = lsm_mxact_status_for_lock(mode, is_update);
			new_xmax = MultiXactIdCreate(xmax, status, add_to_xmax, new_status);
			lsm_multixact_hint_bits(new_xmax, &new_infomask, &new_infomask2);
			break;
		}

		/*
		 * The locker or updater ended after we looked (an updater that did
		 * not commit): as if there had been none.
		 */
		old_infomask |= HEAP_XMAX_INVALID;
	}

	*result_infomask = new_infomask;
	*result_infomask2 = new_infomask2;
	*result_xmax = new_xmax;
}

void
lsm_multixact_hint_bits(MultiXactId multi, uint16 *new_infomask,
						uint16 *new_infomask2)
{
	int			nmembers;
	MultiXactMember *members;
	uint16		bits = HEAP_XMAX_IS_MULTI;
	uint16		bits2 = 0;
	bool		has_update = false;
	LockTupleMode strongest = LockTupleKeyShare;

	/* Only used on multis we just made, never pre-pg_upgrade ones. */
	nmembers = GetMultiXactIdMembers(multi, &members, false, false);

	for (int i = 0; i < nmembers; i++)
	{
		LockTupleMode mode = mxstatus_tuplock[members[i].status];

		if (mode > strongest)
			strongest = mode;

		switch (members[i].status)
		{
			case MultiXactStatusForKeyShare:
			case MultiXactStatusForShare:
			case MultiXactStatusForNoKeyUpdate:
				break;
			case MultiXactStatusForUpdate:
				bits2 |= HEAP_KEYS_UPDATED;
				break;
			case MultiXactStatusNoKeyUpdate:
				has_update = true;
				break;
			case MultiXactStatusUpdate:
				bits2 |= HEAP_KEYS_UPDATED;
				has_update = true;
				break;
		}
	}

	if (strongest == LockTupleExclusive ||
		strongest == LockTupleNoKeyExclusive)
		bits |= HEAP_XMAX_EXCL_LOCK;
	else if (strongest == LockTupleShare)
		bits |= HEAP_XMAX_SHR_LOCK;
	else if (strongest == LockTupleKeyShare)
		bits |= HEAP_XMAX_KEYSHR_LOCK;

	if (!has_update)
		bits |= HEAP_XMAX_LOCK_ONLY;

	if (nmembers > 0)
		pfree(members);

	*new_infomask = bits;
	*new_infomask2 = bits2;
}

bool
lsm_multixact_conflicts(MultiXactId multi, uint16 infomask,
						LockTupleMode lockmode, bool *current_is_member)
{
	int			nmembers;
	MultiXactMember *members;
	bool		result = false;
	LOCKMODE	wanted = tuplock_info[lockmode].hwlock;

	if (HEAP_LOCKED_UPGRADED(infomask))
		return false;

	nmembers = GetMultiXactIdMembers(multi, &members, false,
									 HEAP_XMAX_IS_LOCKED_ONLY(infomask));
	for (int i = 0; i < nmembers; i++)
	{
		TransactionId memxid = members[i].xid;

		if (result && (current_is_member == NULL || *current_is_member))
			break;

		/* our own members never conflict, but tell the caller about them */
		if (TransactionIdIsCurrentTransactionId(memxid))
		{
			if (current_is_member != NULL)
				*current_is_member = true;
			continue;
		}
		if (result)
			continue;

		if (!DoLockModesConflict(LOCKMODE_from_mxstatus(members[i].status),
								 wanted))
			continue;

		/* aborted updaters and ended lockers do not count */
		if (ISUPDATE_from_mxstatus(members[i].status))
		{
			if (TransactionIdDidAbort(memxid))
				continue;
		}
		else if (!TransactionIdIsInProgress(memxid))
			continue;

		result = true;
	}
	if (nmembers > 0)
		pfree(members);

	return result;
}

/*
 * Sleeps on (or, if nowait, tries) each member that conflicts with status,
 * never on our own (sub)transactions.  Members cannot be added to an
 * existing multi, so when this returns true every conflicting member of
 * another backend has ended; the row's xmax may have changed meanwhile,
 * which the caller rechecks.
 */
static bool
multixact_wait(MultiXactId multi, MultiXactStatus status, uint16 infomask,
			   bool nowait, Relation rel, ItemPointer ctid, XLTW_Oper oper,
			   int *remaining)
{
	bool		result = true;
	MultiXactMember *members;
	int			nmembers;
	int			remain = 0;

	/* pg_upgrade'd share locks are gone: nothing to sleep on */
	nmembers = HEAP_LOCKED_UPGRADED(infomask) ? -1 :
		GetMultiXactIdMembers(multi, &members, false,
							  HEAP_XMAX_IS_LOCKED_ONLY(infomask));

	for (int i = 0; i < nmembers; i++)
	{
		TransactionId memxid = members[i].xid;
		MultiXactStatus memstatus = members[i].status;

		if (TransactionIdIsCurrentTransactionId(memxid))
		{
			remain++;
			continue;
		}

		if (!DoLockModesConflict(LOCKMODE_from_mxstatus(memstatus),
								 LOCKMODE_from_mxstatus(status)))
		{
			if (remaining && TransactionIdIsInProgress(memxid))
				remain++;
			continue;
		}

		if (nowait)
		{
			result = ConditionalXactLockTableWait(memxid);
			if (!result)
				break;
		}
		else
			XactLockTableWait(memxid, rel, ctid, oper);
	}
	if (nmembers > 0)
		pfree(members);

	if (remaining)
		*remaining = remain;
	return result;
}

void
lsm_multixact_wait(MultiXactId multi, MultiXactStatus status, uint16 infomask,
				   Relation rel, ItemPointer ctid, XLTW_Oper oper,
				   int *remaining)
{
	(void) multixact_wait(multi, status, infomask, false, rel, ctid, oper,
						  remaining);
}

bool
lsm_multixact_wait_conditional(MultiXactId multi, MultiXactStatus status,
							   uint16 infomask, Relation rel, int *remaining)
{
	return multixact_wait(multi, status, infomask, true, rel, NULL,
						  XLTW_None, remaining);
}
