/*
 * lsm_stall.c - write stalls: writers slow down, then stop, when flushes
 * or compaction fall behind, so that level 0 and the frozen memtables stay
 * bounded under any sustained load (RocksDB's delayed and stopped writes).
 *
 * Each write to a table (lsm_tree_write) first looks at two numbers of its
 * directory entry, without a lock: the level-0 runs of its manifest and its
 * frozen memtables waiting for the flusher.
 *
 *   Slowdown.  From lsm.l0_slowdown_trigger level-0 runs, or from
 *   lsm.max_frozen_memtables - 1 frozen memtables (when that setting is 3
 *   or more), the table's writes together go at the table's delayed write
 *   rate (divided by how far past their threshold the frozen memtables
 *   are: 1 at it, 2 one past): each write reserves its bytes' share of
 *   time in a schedule kept in the entry, and sleeps until its slot once
 *   that is a millisecond or more ahead.
 *
 *   The delayed write rate adapts to what compaction keeps up with, as
 *   RocksDB's does: it starts at lsm.delayed_write_rate, is cut by a fifth
 *   each time level 0 grows at or past the slowdown trigger (by two fifths
 *   one run short of the stop trigger), and raised by a quarter each time
 *   level 0 shrinks, never above the setting.  So a table whose level 0
 *   keeps reaching the slowdown trigger is held a little under the rate its
 *   compaction sustains, and writes go slower rather than stop: a stop
 *   waits for a whole level-0 compaction, seconds on a large table.  A
 *   fixed rate is either too fast for a busy table (it reaches the stop
 *   trigger anyway) or too slow for an idle one.
 *
 *   Stop.  From lsm.l0_stop_trigger level-0 runs a write waits (condition
 *   variable, wait event Extension) until compaction brings level 0 below
 *   it; when the active memtable is full and lsm.max_frozen_memtables are
 *   frozen (or the memtable pool has no free region), the write waits for
 *   the flusher (lsm_flush.c calls lsm_stall_for_flush).
 *
 * A stop never waits for what cannot come.  When this transaction holds a
 * lock that keeps compaction out (it created, truncated or locked the
 * table), or no compaction worker runs for the database for a second, the
 * writer compacts level 0 itself.  When a DDL statement waits for this
 * transaction's lock on the table, or nothing changed the manifest for ten
 * seconds (a CREATE INDEX CONCURRENTLY holding the table's compaction lock
 * while it waits for this transaction, say), the writer goes on without
 * stopping until the manifest next changes.  Writers that flush or compact
 * for themselves are the last resort; waiting is the rule.
 *
 * The trigger settings are used as given when they are ordered
 * l0_compaction_trigger <= l0_slowdown_trigger <= l0_stop_trigger; a
 * smaller one acts as the one before it (a stop below the compaction
 * trigger would wait for a compaction nobody asks for).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "lsm_background.h"
#include "lsm_compact.h"
#include "lsm_counters.h"
#include "lsm_storage.h"

int			lsm_l0_slowdown_trigger = 20;
int			lsm_l0_stop_trigger = 36;
int			lsm_max_frozen_memtables = 4;
int			lsm_delayed_write_rate_kb = 16 * 1024;

/* A slowed write sleeps once it is this far behind its schedule. */
#define LSM_DELAY_MIN_US	1000
/* ... and at most this long. */
#define LSM_DELAY_MAX_US	1000000
/* The delayed write rate: cut while level 0 grows, raised as it shrinks. */
#define LSM_RATE_CUT		0.8
#define LSM_RATE_CUT_NEAR_STOP	0.6
#define LSM_RATE_RAISE		1.25
/* ... never below this many bytes/s (RocksDB's floor). */
#define LSM_RATE_MIN		(16 * 1024)
/* A stopped write looks again this often. */
#define LSM_STOP_POLL_MS	100
/* No compaction worker for this long: the writer compacts. */
#define LSM_STOP_NO_WORKER_US	1000000
/* No manifest change for this long: the writer stops stopping. */
#define LSM_STOP_NO_PROGRESS_US	10000000

/*
 * This backend's current write: whether its stop was counted yet, and when
 * it began (a write can wait for several flushes).
 */
static bool lsm_stop_counted = false;
static TimestampTz lsm_stop_began = 0;

/* Stops skipped for this entry while its manifest stays at this version. */
static uint64 lsm_giveup_generation = 0;
static uint64 lsm_giveup_version = 0;

void
lsm_stall_init(void)
{
	DefineCustomIntVariable("lsm.l0_slowdown_trigger",
							"Number of level-0 runs of an lsm table from which its writes are slowed down.",
							"Writes then go at the table's delayed write rate, cut each time level 0 grows from here.",
							&lsm_l0_slowdown_trigger,
							20, 2, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.l0_stop_trigger",
							"Number of level-0 runs of an lsm table from which its writes wait for compaction.",
							NULL,
							&lsm_l0_stop_trigger,
							36, 2, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.max_frozen_memtables",
							"Number of frozen memtables an lsm table may have waiting for a flush.",
							"A write that finds the active memtable full and this many frozen waits for the flusher; "
							"from one less (when this is 3 or more) writes are slowed down.",
							&lsm_max_frozen_memtables,
							4, 1, LSM_MAX_FROZEN,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.delayed_write_rate",
							"Bytes per second an lsm table's slowed-down writes may write together, at most.",
							"Each table's rate starts here and adapts below it to what its compaction keeps up with.",
							&lsm_delayed_write_rate_kb,
							16 * 1024, 64, MAX_KILOBYTES,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);
}

static int
lsm_slowdown_l0(void)
{
	return Max(lsm_l0_slowdown_trigger, lsm_l0_compaction_trigger);
}

static int
lsm_stop_l0(void)
{
	return Max(lsm_l0_stop_trigger, lsm_slowdown_l0());
}

/*
 * Whether the table's writes are slowed down: at or past the level-0
 * slowdown trigger, or with the frozen memtables at or past theirs.
 */
static bool
lsm_slowed(int l0, int nfrozen)
{
	return l0 >= lsm_slowdown_l0() ||
		(lsm_max_frozen_memtables >= 3 && nfrozen >= lsm_max_frozen_memtables - 1);
}

/* What a slowed write's rate is divided by for the frozen memtables. */
static int
lsm_frozen_factor(int nfrozen)
{
	int			maxf = lsm_max_frozen_memtables;

	if (maxf < 3 || nfrozen < maxf - 1)
		return 1;
	return nfrozen - (maxf - 1) + 1;
}

/* The most a delayed write rate may be, in bytes/s: the setting. */
static double
lsm_rate_max(void)
{
	return (double) lsm_delayed_write_rate_kb * 1024;
}

/* The delayed write rate of the entry in bytes/s; caller holds its mutex. */
static double
lsm_rate_locked(LsmTableShared *e)
{
	return e->delay_rate > 0 ? Min((double) e->delay_rate, lsm_rate_max()) :
		lsm_rate_max();
}

/*
 * The manifest of the entry's table changes level 0 from old_l0 to new_l0
 * runs: adapts the table's delayed write rate (see the file comment).
 * Called under the entry's mutex, so plain arithmetic only.
 */
void
lsm_stall_adapt(LsmTableShared *e, int old_l0, int new_l0)
{
	double		rate = lsm_rate_locked(e);

	if (new_l0 > old_l0 && new_l0 >= lsm_slowdown_l0())
		rate *= new_l0 >= lsm_stop_l0() - 1 ? LSM_RATE_CUT_NEAR_STOP : LSM_RATE_CUT;
	else if (new_l0 < old_l0)
		rate *= LSM_RATE_RAISE;
	e->delay_rate = (uint64) Max(Min(rate, lsm_rate_max()), (double) LSM_RATE_MIN);
}

/* The table's delayed write rate now, in bytes/s (lsm_stats). */
uint64
lsm_stall_rate(LsmTableShared *e)
{
	double		rate;

	SpinLockAcquire(&e->mutex);
	rate = lsm_rate_locked(e);
	SpinLockRelease(&e->mutex);
	return (uint64) rate;
}

/*
 * Counts a stall of this write, and its time in microseconds: a write that
 * waits several times (for several flushes) counts as one stop.
 */
static void
lsm_stall_count(LsmTableShared *e, bool stop, int64 usec)
{
	if (!stop)
		lsm_counter_add(e, LSM_CTR_STALL_SLOWDOWNS, 1);
	else if (!lsm_stop_counted)
		lsm_counter_add(e, LSM_CTR_STALL_STOPS, 1);
	if (stop)
		lsm_stop_counted = true;
	lsm_counter_add(e, LSM_CTR_STALL_USEC, (uint64) Max(usec, 0));
}

/* Sleeps usec microseconds, visibly (wait event Extension), interruptibly. */
static void
lsm_stall_sleep(int64 usec)
{
	while (usec > 0)
	{
		long		n = (long) Min(usec, 100000);

		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		pg_usleep(n);
		pgstat_report_wait_end();
		CHECK_FOR_INTERRUPTS();
		usec -= n;
	}
}

/*
 * A slowed-down write of bytes: takes its share of time in the table's
 * schedule, at the delayed rate divided by factor, and sleeps until its
 * slot if that is far enough ahead.
 */
static void
lsm_stall_delay(LsmTableShared *e, Size bytes, int factor)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz end;
	double		cost;

	SpinLockAcquire(&e->mutex);
	cost = (double) bytes * factor * USECS_PER_SEC / lsm_rate_locked(e);
	end = Max(now, e->delay_next) + (int64) Min(cost, (double) LSM_DELAY_MAX_US);
	e->delay_next = end;
	SpinLockRelease(&e->mutex);
	if (end - now < LSM_DELAY_MIN_US)
		return;
	lsm_stall_sleep(Min(end - now, LSM_DELAY_MAX_US));
	lsm_stall_count(e, false, GetCurrentTimestamp() - now);
}

/* Whether this transaction holds a lock on relid that keeps compaction out. */
static bool
lsm_holds_compaction_out(LOCKTAG *tag)
{
	static const LOCKMODE modes[] = {ShareUpdateExclusiveLock, ShareLock,
	ShareRowExclusiveLock, ExclusiveLock, AccessExclusiveLock};

	for (int i = 0; i < (int) lengthof(modes); i++)
		if (LockHeldByMe(tag, modes[i]))
			return true;
	return false;
}

/*
 * Whether a lock request on the table waits for a lock this transaction
 * holds on it (a DDL statement, say): compaction cannot take the table
 * while such a request is queued, so a stop would never end.  Reads the
 * lock manager's state; only done while stopped, a few times a second.
 */
static bool
lsm_ddl_waits_for_me(const LOCKTAG *tag)
{
	static const LOCKMODE modes[] = {AccessShareLock, RowShareLock, RowExclusiveLock};
	LOCKMASK	held = 0;
	LockData   *ld;
	bool		found = false;

	for (int i = 0; i < (int) lengthof(modes); i++)
		if (LockHeldByMe(tag, modes[i]))
			held |= LOCKBIT_ON(modes[i]);
	if (held == 0)
		return false;

	ld = GetLockStatusData();
	for (int i = 0; i < ld->nelements && !found; i++)
	{
		LockInstanceData *li = &ld->locks[i];

		if (li->waitLockMode == NoLock || li->pid == MyProcPid ||
			li->locktag.locktag_type != tag->locktag_type ||
			li->locktag.locktag_lockmethodid != tag->locktag_lockmethodid ||
			li->locktag.locktag_field1 != tag->locktag_field1 ||
			li->locktag.locktag_field2 != tag->locktag_field2)
			continue;
		for (int m = 0; m < (int) lengthof(modes) && !found; m++)
			found = (held & LOCKBIT_ON(modes[m])) != 0 &&
				DoLockModesConflict(li->waitLockMode, modes[m]);
	}
	pfree(ld->locks);
	pfree(ld);
	return found;
}

/* Asks the background workers to compact the table, as a flush does. */
static void
lsm_stall_ask_compaction(LsmStore *s)
{
	LsmMetaTx	tx;

	lsm_meta_begin(s, &tx, false, true);
	lsm_background_compact(s, &tx.m);
	lsm_meta_end(&tx);
}

/*
 * One compaction step by the writer, with the table's compaction lock
 * taken without waiting; false if that lock is taken or there was nothing
 * to compact.
 */
static bool
lsm_stall_compact(LsmStore *s, Oid relid)
{
	bool		done;

	if (lsm_compact_step_hook == NULL ||
		!ConditionalLockRelationOid(relid, ShareUpdateExclusiveLock))
		return false;
	done = lsm_compact_step_hook(s, false);
	UnlockRelationOid(relid, ShareUpdateExclusiveLock);
	return done;
}

/*
 * A write that found level 0 at the stop threshold: waits until compaction
 * brings it below (see the file comment for when it does not).
 */
static void
lsm_stall_l0(LsmStore *s, LsmUse *u)
{
	LsmTableShared *e = u->entry;
	TimestampTz began = GetCurrentTimestamp();
	TimestampTz no_worker_since = 0;
	TimestampTz asked = began;
	TimestampTz changed = began;
	uint64		version;
	Oid			relid;
	LOCKTAG		tag;

	SpinLockAcquire(&e->mutex);
	version = e->manifest_version;
	relid = e->relid;
	SpinLockRelease(&e->mutex);
	if (e->generation == lsm_giveup_generation && version == lsm_giveup_version)
		return;
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);

	lsm_stall_ask_compaction(s);
	ConditionVariablePrepareToSleep(&e->stall_cv);
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		uint64		v;
		int			l0;

		SpinLockAcquire(&e->mutex);
		v = e->manifest_version;
		l0 = e->l0_runs;
		SpinLockRelease(&e->mutex);
		if (l0 < lsm_stop_l0())
			break;
		if (v != version)
		{
			version = v;
			changed = now;
		}

		/*
		 * Nobody else can compact the table while this transaction runs;
		 * the lock it holds keeps other compactions out, as theirs would.
		 */
		if (lsm_holds_compaction_out(&tag) && lsm_compact_step_hook != NULL &&
			lsm_compact_step_hook(s, false))
			continue;
		if (lsm_holds_compaction_out(&tag) || lsm_ddl_waits_for_me(&tag) ||
			now - changed >= LSM_STOP_NO_PROGRESS_US)
		{
			lsm_giveup_generation = e->generation;
			lsm_giveup_version = version;
			break;
		}
		if (!IsUnderPostmaster || !lsm_background_compacts(MyDatabaseId))
		{
			if (no_worker_since == 0)
				no_worker_since = now;
			if (!IsUnderPostmaster || now - no_worker_since >= LSM_STOP_NO_WORKER_US)
			{
				if (lsm_stall_compact(s, relid))
					continue;
			}
		}
		else
			no_worker_since = 0;
		/* A request taken by a worker that then found the table busy. */
		if (now - asked >= USECS_PER_SEC)
		{
			lsm_stall_ask_compaction(s);
			asked = now;
		}
		(void) ConditionVariableTimedSleep(&e->stall_cv, LSM_STOP_POLL_MS,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	lsm_stall_count(e, true, GetCurrentTimestamp() - began);
}

/*
 * Before a write of bytes to the table of s (attached as u): slows it down
 * or stops it while flushes or compaction are behind, unless it may not
 * wait (it is part of a commit).
 */
void
lsm_write_throttle(LsmStore *s, LsmUse *u, Size bytes, bool may_wait)
{
	LsmTableShared *e = u->entry;
	int			l0 = *((volatile int *) &e->l0_runs);
	int			nfrozen = *((volatile int *) &e->nfrozen);

	lsm_stop_counted = false;
	lsm_stop_began = 0;
	if (!lsm_slowed(l0, nfrozen))
		return;

	/* Not while holding LWLocks or inside a critical section. */
	if (!may_wait || CritSectionCount > 0 || InterruptHoldoffCount > 0)
		return;
	if (l0 >= lsm_stop_l0())
		lsm_stall_l0(s, u);
	else
		lsm_stall_delay(e, bytes, lsm_frozen_factor(nfrozen));
}

/*
 * A write whose table has no room for it until the flusher flushes a frozen
 * memtable: wakes the flusher and waits for a flush to end (at most a
 * moment; the caller looks again).  Returns false, without waiting, when
 * this write has waited for the flusher for ten seconds: the caller then
 * flushes itself.
 */
bool
lsm_stall_for_flush(LsmStore *s, LsmUse *u)
{
	LsmTableShared *e = u->entry;
	TimestampTz now = GetCurrentTimestamp();
	int			nfrozen;

	if (lsm_stop_began == 0)
		lsm_stop_began = now;
	else if (now - lsm_stop_began >= LSM_STOP_NO_PROGRESS_US)
		return false;

	ConditionVariablePrepareToSleep(&e->flush_cv);
	lsm_background_wake_flusher();
	SpinLockAcquire(&e->mutex);
	nfrozen = e->nfrozen;
	SpinLockRelease(&e->mutex);
	if (nfrozen >= Min(lsm_max_frozen_memtables, LSM_MAX_FROZEN) ||
		lsm_regions_free() == 0)
		(void) ConditionVariableTimedSleep(&e->flush_cv, LSM_STOP_POLL_MS,
										   PG_WAIT_EXTENSION);
	ConditionVariableCancelSleep();
	lsm_stall_count(e, true, GetCurrentTimestamp() - now);
	return true;
}

/*
 * A write that found no free region in the memtable pool, and nothing to
 * flush or reclaim for one: waits a moment for a region (lsm_shmem.c).
 */
void
lsm_stall_for_region(LsmTableShared *e)
{
	TimestampTz began = GetCurrentTimestamp();

	lsm_wait_for_region();
	lsm_stall_count(e, true, GetCurrentTimestamp() - began);
}
