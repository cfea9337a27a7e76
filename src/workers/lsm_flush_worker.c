/*
 * lsm_flush_worker.c - the flusher: a background worker ("lsm flusher" in
 * pg_stat_activity) that writes frozen memtables to level-0 runs, so that
 * writers do not.
 *
 * A writer whose active memtable is full freezes it, takes a fresh region
 * and sets the flusher's latch (lsm_flush.c).  The flusher looks through
 * the directory of tables for frozen memtables -- the table with the most
 * of them first -- and flushes them one at a time, each in a transaction of
 * its own, with the table's relation and database locked against DROP,
 * TRUNCATE and ALTER TABLE without waiting (lsm_flush_other).  A flush needs
 * only the directory entry (relfilenode, persistence, name), not a catalog
 * lookup, so one flusher, connected to no database, serves every database,
 * and it never waits behind a compaction, which the per-database workers
 * run (lsm_compact_worker.c).
 *
 * When the flusher cannot lock a table (a DDL statement holds or awaits a
 * lock that conflicts), it marks the table for a second, during which its
 * writers flush it themselves; waiting for the flusher could then deadlock,
 * since the DDL may be waiting for the writer's transaction.  An error while
 * flushing (a corrupt page, say) marks the table for ten seconds, so its
 * writers meet the error themselves, and ends the flusher, which the
 * postmaster starts again a second later.  Writers also flush themselves
 * while no flusher runs (during its restart, in single-user mode).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "lsm_background.h"
#include "lsm_storage.h"
#include "lsm_workers.h"

/* How long writers flush a table themselves after the flusher failed on it. */
#define LSM_FLUSHER_BUSY_MS		1000
#define LSM_FLUSHER_ERROR_MS	10000

typedef struct LsmFlusherShared
{
	slock_t		mutex;
	Latch	   *latch;			/* the running flusher's, else NULL */
} LsmFlusherShared;

static LsmFlusherShared *lsm_flusher = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void lsm_flusher_main(Datum arg);
static bool lsm_flusher_takes(LsmTableShared *e);
static void lsm_flusher_wake(void);

static void
lsm_flusher_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LsmFlusherShared)));
}

static void
lsm_flusher_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lsm_flusher = ShmemInitStruct("lsm_am flusher", sizeof(LsmFlusherShared),
								  &found);
	if (!found)
	{
		SpinLockInit(&lsm_flusher->mutex);
		lsm_flusher->latch = NULL;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init: shared memory, the worker's registration, hooks. */
void
lsm_flusher_init(void)
{
	BackgroundWorker bgw;

	lsm_background.flusher_takes = lsm_flusher_takes;
	lsm_background.flusher_wake = lsm_flusher_wake;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lsm_flusher_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lsm_flusher_shmem_startup;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "lsm_am");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "lsm_flusher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "lsm flusher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "lsm flusher");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Whether the flusher will flush the frozen memtables of e, a table this
 * backend is writing: it runs, it was not lately unable to, the
 * relfilenode is WAL-logged as usual, and this transaction holds no lock
 * that keeps it out (it created, truncated, rewrote or LOCKed the table).
 */
static bool
lsm_flusher_takes(LsmTableShared *e)
{
	bool		running;
	bool		ok;
	Oid			relid;
	TimestampTz blocked_until;
	LOCKTAG		tag;

	if (lsm_flusher == NULL)
		return false;
	SpinLockAcquire(&lsm_flusher->mutex);
	running = lsm_flusher->latch != NULL;
	SpinLockRelease(&lsm_flusher->mutex);
	if (!running)
		return false;

	SpinLockAcquire(&e->mutex);
	ok = !e->wal_skipped && OidIsValid(e->relid) && e->dbid == MyDatabaseId;
	relid = e->relid;
	blocked_until = e->flusher_blocked_until;
	SpinLockRelease(&e->mutex);
	if (!ok || (blocked_until != 0 && blocked_until > GetCurrentTimestamp()))
		return false;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
	return !LockHeldByMe(&tag, AccessExclusiveLock);
}

/* Tells the flusher there is work. */
static void
lsm_flusher_wake(void)
{
	Latch	   *latch;

	SpinLockAcquire(&lsm_flusher->mutex);
	latch = lsm_flusher->latch;
	SpinLockRelease(&lsm_flusher->mutex);
	if (latch)
		SetLatch(latch);
}

/* Lets e's writers flush it themselves for ms milliseconds, and wakes them. */
static void
lsm_flusher_block(LsmTableShared *e, int ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	SpinLockAcquire(&e->mutex);
	e->flusher_blocked_until = until;
	SpinLockRelease(&e->mutex);
	ConditionVariableBroadcast(&e->flush_cv);
}

/*
 * Flushes one frozen memtable of the table that has the most.  Returns
 * false when there was none it could flush.
 */
static bool
lsm_flusher_step(void)
{
	LsmVictim	v;
	LsmUse	   *vu;
	LsmFlushOutcome outcome = LSM_FLUSH_NOTHING;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	vu = lsm_use_attach_victim(NULL, &v, true);
	if (vu != NULL)
	{
		char		activity[NAMEDATALEN + 32];

		snprintf(activity, sizeof(activity), "flushing lsm table \"%s\"",
				 NameStr(v.relname));
		pgstat_report_activity(STATE_RUNNING, activity);
		PG_TRY();
		{
			outcome = lsm_flush_other(vu, &v, false);
		}
		PG_CATCH();
		{
			/* Its writers get the error themselves for a while. */
			lsm_flusher_block(vu->entry, LSM_FLUSHER_ERROR_MS);
			PG_RE_THROW();
		}
		PG_END_TRY();

		/*
		 * Locked (or its relation file is gone, or a writer began to flush
		 * it meanwhile): skipped for a while, its writers flush it.
		 */
		if (outcome != LSM_FLUSH_DONE)
			lsm_flusher_block(vu->entry, LSM_FLUSHER_BUSY_MS);
		lsm_use_release(vu);
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return vu != NULL;
}

/* Withdraws the latch however the flusher ends. */
static void
lsm_flusher_exit(int code, Datum arg)
{
	SpinLockAcquire(&lsm_flusher->mutex);
	lsm_flusher->latch = NULL;
	SpinLockRelease(&lsm_flusher->mutex);
}

void
lsm_flusher_main(Datum arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	/* No database: it flushes tables of every database. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	lsm_write_back_as_bgwriter();

	before_shmem_exit(lsm_flusher_exit, (Datum) 0);
	SpinLockAcquire(&lsm_flusher->mutex);
	lsm_flusher->latch = MyLatch;
	SpinLockRelease(&lsm_flusher->mutex);

	while (!ShutdownRequestPending)
	{
		/* Reset first: a wakeup during the pass below is not lost. */
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			lsm_write_back_as_bgwriter();
		}
		/* Procsignal barriers (DROP DATABASE waits for them), among others. */
		CHECK_FOR_INTERRUPTS();
		if (lsm_flusher_step())
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
	}
	proc_exit(0);
}
