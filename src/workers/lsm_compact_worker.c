/*
 * lsm_compact_worker.c - background compaction: a launcher and one worker per
 * database.
 *
 * A flush that leaves a table needing compaction (the picker says so: level
 * 0 at lsm.l0_compaction_trigger runs, or a level over its size) records a
 * request -- database, relation, relfilenode -- in a small array in shared
 * memory and sets the launcher's latch.  The launcher, a static background
 * worker started with the server, starts one dynamic worker ("lsm worker")
 * for each database that has requests and no worker yet.  A worker connects
 * to its database and, for each request of it, locks the table with
 * ShareUpdateExclusiveLock without waiting (a table busy with VACUUM, DDL or
 * another compaction is retried later), compacts until the picker has
 * nothing more or another table's request waits (tables take turns, so that
 * one under a steady load does not keep the others' writers stopped), and
 * exits once its database has no request left.  Flushes are not theirs:
 * the flusher (lsm_flush_worker.c) does them, never waiting behind a
 * compaction.  Both
 * restart after a crash of their own (the launcher after 5 seconds; workers
 * are started again by the launcher while requests remain).
 *
 * Requests are hints: losing them (a restart, a full array) costs only a
 * delay until the next flush of the table asks again.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "lsm/compaction.h"
#include "lsm_background.h"
#include "lsm_compact.h"
#include "lsm_gc.h"
#include "lsm_tableam.h"
#include "lsm_workers.h"

#define LSM_MAX_REQUESTS	64
#define LSM_MAX_WORKERS		8

typedef struct LsmRequest
{
	Oid			dbid;			/* InvalidOid: slot unused */
	Oid			relid;
	RelFileNode node;
} LsmRequest;

typedef struct LsmWorkerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	Oid			worker_db[LSM_MAX_WORKERS];	/* InvalidOid: free */
	LsmRequest	requests[LSM_MAX_REQUESTS];
} LsmWorkerShared;

static LsmWorkerShared *lsm_worker_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void lsm_launcher_main(Datum arg);
PGDLLEXPORT void lsm_worker_main(Datum arg);
static void lsm_compact_request(LsmStore *s, const lsm_manifest *m);
static bool lsm_compaction_worker_running(Oid dbid);

static void
lsm_worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LsmWorkerShared)));
}

static void
lsm_worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lsm_worker_shared = ShmemInitStruct("lsm_am compaction requests",
										sizeof(LsmWorkerShared), &found);
	if (!found)
	{
		memset(lsm_worker_shared, 0, sizeof(LsmWorkerShared));
		SpinLockInit(&lsm_worker_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init: shared memory, the launcher, hooks. */
void
lsm_compact_workers_init(void)
{
	BackgroundWorker bgw;

	lsm_background.compact_request = lsm_compact_request;
	lsm_background.compaction_running = lsm_compaction_worker_running;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lsm_worker_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lsm_worker_shmem_startup;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "lsm_am");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "lsm_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "lsm launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "lsm launcher");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Asks for a compaction of the table of store s if m (its manifest, just
 * committed) needs one.  Cheap when it does not; never errors.
 */
static void
lsm_compact_request(LsmStore *s, const lsm_manifest *m)
{
	lsm_compaction_options o;
	lsm_compaction c;
	LsmTableShared *e = s->entry;
	Oid			dbid;
	Oid			relid;
	int			freeslot = -1;
	Latch	   *latch = NULL;

	if (lsm_worker_shared == NULL || e == NULL)
		return;
	lsm_compact_options(&o);
	if (!lsm_compaction_pick(m, &o, &c))
		return;
	lsm_compaction_free(&c);

	SpinLockAcquire(&e->mutex);
	dbid = e->dbid;
	relid = e->relid;
	SpinLockRelease(&e->mutex);
	if (!OidIsValid(dbid) || !OidIsValid(relid))
		return;

	SpinLockAcquire(&lsm_worker_shared->mutex);
	for (int i = 0; i < LSM_MAX_REQUESTS; i++)
	{
		LsmRequest *r = &lsm_worker_shared->requests[i];

		if (r->dbid == dbid && r->relid == relid)
		{
			freeslot = -2;		/* already asked */
			break;
		}
		if (!OidIsValid(r->dbid) && freeslot == -1)
			freeslot = i;
	}
	if (freeslot >= 0)
	{
		LsmRequest *r = &lsm_worker_shared->requests[freeslot];

		r->dbid = dbid;
		r->relid = relid;
		r->node = s->node;
	}
	latch = lsm_worker_shared->launcher_latch;
	SpinLockRelease(&lsm_worker_shared->mutex);
	if (freeslot >= 0 && latch)
		SetLatch(latch);
}

bool
lsm_compact_requested(Oid dbid, Oid relid)
{
	bool		found = false;

	if (lsm_worker_shared == NULL)
		return false;
	SpinLockAcquire(&lsm_worker_shared->mutex);
	for (int i = 0; i < LSM_MAX_REQUESTS && !found; i++)
		found = lsm_worker_shared->requests[i].dbid == dbid &&
			lsm_worker_shared->requests[i].relid == relid;
	SpinLockRelease(&lsm_worker_shared->mutex);
	return found;
}

/* ----------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------
 */

/* Starts a worker for db; false if none could be started. */
static BackgroundWorkerHandle *lsm_worker_handles[LSM_MAX_WORKERS];

static bool
lsm_start_worker(Oid dbid, int slot)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "lsm_am");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "lsm_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "lsm worker for database %u", dbid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "lsm worker");
	bgw.bgw_main_arg = Int32GetDatum(slot);
	bgw.bgw_notify_pid = MyProcPid;
	lsm_worker_handles[slot] = NULL;
	return RegisterDynamicBackgroundWorker(&bgw, &lsm_worker_handles[slot]);
}

void
lsm_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	/* No database, but visible in pg_stat_activity, as autovacuum's launcher. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&lsm_worker_shared->mutex);
	lsm_worker_shared->launcher_latch = MyLatch;
	/* Workers of a launcher that crashed are gone with it or soon will be. */
	SpinLockRelease(&lsm_worker_shared->mutex);

	while (!ShutdownRequestPending)
	{
		long		timeout = 10000L;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * Slots of workers that are gone, even those that never ran their
		 * exit callback (they failed to start), are free again.
		 */
		for (int w = 0; w < LSM_MAX_WORKERS; w++)
		{
			pid_t		pid;

			if (lsm_worker_handles[w] == NULL ||
				GetBackgroundWorkerPid(lsm_worker_handles[w], &pid) != BGWH_STOPPED)
				continue;
			pfree(lsm_worker_handles[w]);
			lsm_worker_handles[w] = NULL;
			SpinLockAcquire(&lsm_worker_shared->mutex);
			lsm_worker_shared->worker_db[w] = InvalidOid;
			SpinLockRelease(&lsm_worker_shared->mutex);
		}

		/* A worker for each database with requests and no worker. */
		for (int i = 0; i < LSM_MAX_REQUESTS; i++)
		{
			Oid			dbid;
			int			slot = -1;
			bool		running = false;

			SpinLockAcquire(&lsm_worker_shared->mutex);
			dbid = lsm_worker_shared->requests[i].dbid;
			if (OidIsValid(dbid))
			{
				for (int w = 0; w < LSM_MAX_WORKERS; w++)
				{
					if (lsm_worker_shared->worker_db[w] == dbid)
						running = true;
					else if (!OidIsValid(lsm_worker_shared->worker_db[w]) &&
							 lsm_worker_handles[w] == NULL && slot < 0)
						slot = w;
				}
				if (!running && slot >= 0)
					lsm_worker_shared->worker_db[slot] = dbid;
			}
			SpinLockRelease(&lsm_worker_shared->mutex);
			if (!OidIsValid(dbid) || running)
				continue;
			if (slot < 0 || !lsm_start_worker(dbid, slot))
			{
				if (slot >= 0)
				{
					SpinLockAcquire(&lsm_worker_shared->mutex);
					lsm_worker_shared->worker_db[slot] = InvalidOid;
					SpinLockRelease(&lsm_worker_shared->mutex);
				}
				timeout = 1000L;	/* try again soon */
			}
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* Procsignal barriers (DROP DATABASE waits for them), among others. */
		CHECK_FOR_INTERRUPTS();
	}
	SpinLockAcquire(&lsm_worker_shared->mutex);
	lsm_worker_shared->launcher_latch = NULL;
	SpinLockRelease(&lsm_worker_shared->mutex);
	proc_exit(0);
}

/* ----------------------------------------------------------------
 * Workers
 * ----------------------------------------------------------------
 */

static int	lsm_worker_slot = -1;

/* Frees the worker's slot and wakes the launcher, however the worker ends. */
static void
lsm_worker_exit(int code, Datum arg)
{
	Latch	   *latch;

	SpinLockAcquire(&lsm_worker_shared->mutex);
	lsm_worker_shared->worker_db[lsm_worker_slot] = InvalidOid;
	latch = lsm_worker_shared->launcher_latch;
	SpinLockRelease(&lsm_worker_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* Whether a request of db for a table other than relid is waiting. */
static bool
lsm_worker_others_wait(Oid dbid, Oid relid)
{
	bool		found = false;

	SpinLockAcquire(&lsm_worker_shared->mutex);
	for (int i = 0; i < LSM_MAX_REQUESTS && !found; i++)
		found = lsm_worker_shared->requests[i].dbid == dbid &&
			lsm_worker_shared->requests[i].relid != relid;
	SpinLockRelease(&lsm_worker_shared->mutex);
	return found;
}

/*
 * Whether a compaction worker runs (or is being started) for database
 * dbid; writers stopped for level 0 compact themselves when none does.
 */
static bool
lsm_compaction_worker_running(Oid dbid)
{
	bool		running = false;

	if (lsm_worker_shared == NULL)
		return false;
	SpinLockAcquire(&lsm_worker_shared->mutex);
	for (int w = 0; w < LSM_MAX_WORKERS && !running; w++)
		running = lsm_worker_shared->worker_db[w] == dbid;
	SpinLockRelease(&lsm_worker_shared->mutex);
	return running;
}

/*
 * A table under a steady load always has another compaction step, so the
 * worker's transaction may last as long as the load.  Compaction reads no
 * table through a snapshot, but opening the relation and the catalog
 * lookups of a step take a catalog snapshot, and its xmin would hold back
 * the horizon that both garbage collection and the reuse of freed pages
 * wait for: nothing would be collected and every page compaction freed
 * would stay unusable, the file growing by all that compaction writes.
 * Dropped before each step, so the worker holds no xmin between steps.
 */
static void
lsm_worker_drop_xmin(void)
{
	InvalidateCatalogSnapshot();
	Assert(!TransactionIdIsValid(MyProc->xmin));
}

typedef enum LsmWorkerOutcome
{
	LSM_WORKER_DONE,			/* nothing more to compact (or no table) */
	LSM_WORKER_BUSY,			/* locked by someone else: retry later */
	LSM_WORKER_YIELDED			/* more to do, but other tables wait */
} LsmWorkerOutcome;

/*
 * Compacts one table until the picker has nothing, or, after a step, until
 * another table of the database waits: a table under a steady load always
 * has more, and the others' writers may be stopped meanwhile.
 */
static LsmWorkerOutcome
lsm_worker_compact(Oid dbid, Oid relid, RelFileNode node)
{
	LsmWorkerOutcome outcome = LSM_WORKER_DONE;

	Relation	rel;
	LsmStore	store;
	LsmUse	   *u;

	if (!ConditionalLockRelationOid(relid, ShareUpdateExclusiveLock))
		return LSM_WORKER_BUSY;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return LSM_WORKER_DONE; /* dropped: nothing to do */
	if (!lsm_is_lsm_relation(rel) || !RelFileNodeEquals(rel->rd_node, node))
	{
		/* Rewritten meanwhile: the new relfilenode asks for itself. */
		relation_close(rel, NoLock);
		return LSM_WORKER_DONE;
	}
	u = lsm_store_open(&store, rel, true);
	pgstat_report_activity(STATE_RUNNING, RelationGetRelationName(rel));
	lsm_worker_drop_xmin();
	while (lsm_table_compact_step(&store, false))
	{
		CHECK_FOR_INTERRUPTS();
		lsm_worker_drop_xmin();
		if (lsm_worker_others_wait(dbid, relid))
		{
			outcome = LSM_WORKER_YIELDED;
			break;
		}
	}
	lsm_store_free(&store);
	lsm_use_release(u);
	relation_close(rel, NoLock);
	return outcome;
}

void
lsm_worker_main(Datum arg)
{
	Oid			dbid;
	int			busy_rounds = 0;
	int			next = 0;

	lsm_worker_slot = DatumGetInt32(arg);
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&lsm_worker_shared->mutex);
	dbid = lsm_worker_shared->worker_db[lsm_worker_slot];
	SpinLockRelease(&lsm_worker_shared->mutex);
	before_shmem_exit(lsm_worker_exit, (Datum) 0);
	if (!OidIsValid(dbid))
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	lsm_write_back_as_bgwriter();

	for (;;)
	{
		int			idx = -1;
		Oid			relid = InvalidOid;
		RelFileNode node = {0};
		LsmWorkerOutcome outcome;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			lsm_write_back_as_bgwriter();
		}

		/*
		 * The request leaves the array before the work: a flush meanwhile
		 * asks again, so nothing that arrives during the compaction is lost.
		 * The search starts after the last one taken, so that tables take
		 * turns.
		 */
		SpinLockAcquire(&lsm_worker_shared->mutex);
		for (int n = 0; n < LSM_MAX_REQUESTS; n++)
		{
			int			i = (next + n) % LSM_MAX_REQUESTS;
			LsmRequest *r = &lsm_worker_shared->requests[i];

			if (r->dbid == dbid)
			{
				idx = i;
				relid = r->relid;
				node = r->node;
				r->dbid = InvalidOid;
				next = i + 1;
				break;
			}
		}
		SpinLockRelease(&lsm_worker_shared->mutex);
		if (idx < 0)
			break;				/* idle: exit */

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		outcome = lsm_worker_compact(dbid, relid, node);
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		if (outcome == LSM_WORKER_DONE)
		{
			busy_rounds = 0;
			continue;
		}

		/*
		 * Yielded to another table, or busy (VACUUM, DDL, lsm_compact): ask
		 * again, and when busy retry a bit later.
		 */
		SpinLockAcquire(&lsm_worker_shared->mutex);
		for (int i = 0; i < LSM_MAX_REQUESTS; i++)
		{
			LsmRequest *r = &lsm_worker_shared->requests[i];

			if (r->dbid == dbid && r->relid == relid)
				break;
			if (!OidIsValid(r->dbid))
			{
				r->dbid = dbid;
				r->relid = relid;
				r->node = node;
				break;
			}
		}
		SpinLockRelease(&lsm_worker_shared->mutex);
		if (outcome == LSM_WORKER_YIELDED)
			continue;
		if (++busy_rounds > 50)
			break;				/* the launcher starts another one later */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
