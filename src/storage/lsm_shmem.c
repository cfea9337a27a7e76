/*
 * lsm_shmem.c - what lsm tables share across backends: the settings that
 * size it, the memtable pool, and the directory of tables; plus each
 * backend's bookkeeping of its uses of directory entries, released at
 * transaction end.
 *
 * The pool is a fixed array of lsm.memtable_size regions carved out of
 * shared memory at server start.  A region is USED while it is some table's
 * active or frozen memtable; after its flush it is RETIRED and goes back to
 * the free list when the last reader unpins it.  Backends that need a region
 * when none is free sleep on pool_cv (wait event Extension) after trying to
 * reclaim idle memtables and to flush another table's memtable.
 *
 * The directory is a fixed-size shared hash table keyed by relfilenode.  An
 * entry is in use while some backend is inside an operation on the table
 * (users > 0); only unused entries are evicted, and only when the directory
 * is full: first entries of relfilenodes that no longer exist, then entries
 * with no unflushed memtable (their next use replays the log again).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/shmem.h"
#include "storage/smgr.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"

#include "lsm_storage.h"

/* Settings. */
int			lsm_memtable_size_kb = 16 * 1024;
int			lsm_memtable_pool_kb = 128 * 1024;
int			lsm_max_tables = 128;
int			lsm_bloom_bits_per_key = 10;
int			lsm_region_wait_timeout_ms = 60 * 1000;

#define LSM_REGION_FREE		0
#define LSM_REGION_USED		1
#define LSM_REGION_RETIRED	2
#define LSM_REGION_FREEING	3

typedef struct LsmRegion
{
	pg_atomic_uint32 pins;		/* readers holding the region */
	pg_atomic_uint32 state;		/* LSM_REGION_* */
	int			next_free;
} LsmRegion;

typedef struct LsmSharedState
{
	int			writer_tranche;
	int			extend_tranche;
	slock_t		pool_mutex;		/* protects free_head, nfree, next_free */
	int			free_head;
	int			nfree;
	int			nregions;
	Size		region_bytes;
	ConditionVariable pool_cv;	/* broadcast when a region becomes free */
	pg_atomic_uint64 next_generation;
	pg_atomic_uint64 write_clock;
	LsmRegion	regions[FLEXIBLE_ARRAY_MEMBER];
} LsmSharedState;

static LsmSharedState *lsm_state = NULL;
static char *lsm_region_base = NULL;
static HTAB *lsm_directory = NULL;
static LWLock *lsm_dir_lock = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

/* This backend's uses of directory entries. */
static dlist_head lsm_uses = DLIST_STATIC_INIT(lsm_uses);
static bool lsm_resowner_callback_registered = false;

static void lsm_shmem_request(void);
static void lsm_shmem_startup(void);
static void lsm_object_access(ObjectAccessType access, Oid classId,
							  Oid objectId, int subId, void *arg);
static void lsm_forget_database(Oid dbid);
static void lsm_process_utility(PlannedStmt *pstmt, const char *queryString,
								bool readOnlyTree, ProcessUtilityContext context,
								ParamListInfo params, QueryEnvironment *queryEnv,
								DestReceiver *dest, QueryCompletion *qc);
static void lsm_resowner_release(ResourceReleasePhase phase, bool isCommit,
								 bool isTopLevel, void *arg);
static int	lsm_regions_pinned_by_me(void);

/* ----------------------------------------------------------------
 * Settings and hooks
 * ----------------------------------------------------------------
 */

void
lsm_storage_init(void)
{
	DefineCustomIntVariable("lsm.memtable_size",
							"Size of the memtable of one lsm table.",
							"A full memtable is frozen and flushed to a level-0 run; "
							"each memtable takes one region of lsm.memtable_pool_size.",
							&lsm_memtable_size_kb,
							16 * 1024, 1024, 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.memtable_pool_size",
							"Shared memory for the memtables of all lsm tables.",
							"Divided into regions of lsm.memtable_size (at least two). "
							"Tables with unflushed writes hold one region each, more while "
							"a frozen memtable waits for its flush.",
							&lsm_memtable_pool_kb,
							128 * 1024, 2 * 1024, MAX_KILOBYTES,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.max_tables",
							"Number of lsm tables whose state shared memory can hold at once.",
							"Tables with no unflushed writes are evicted when the directory is full.",
							&lsm_max_tables,
							128, 8, 65536,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.bloom_bits_per_key",
							"Bloom filter bits per key in newly written runs.",
							"10 gives about 1% false positives; 0 writes runs without a filter.",
							&lsm_bloom_bits_per_key,
							10, 0, 64,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.region_wait_timeout",
							"How long a write waits for a memtable region that scans still hold.",
							"When no region of lsm.memtable_pool_size is free and flushed "
							"memtables that open scans (cursors, long queries) still read "
							"hold some, a write waits this long for them, then fails. "
							"0 waits as long as it takes.",
							&lsm_region_wait_timeout_ms,
							60 * 1000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lsm_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lsm_shmem_startup;
	prev_object_access_hook = object_access_hook;
	object_access_hook = lsm_object_access;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = lsm_process_utility;
}

int
lsm_region_count(void)
{
	return Max(2, lsm_memtable_pool_kb / lsm_memtable_size_kb);
}

Size
lsm_region_bytes(void)
{
	return (Size) lsm_memtable_size_kb * 1024;
}

static Size
lsm_state_size(void)
{
	return add_size(offsetof(LsmSharedState, regions),
					mul_size(lsm_region_count(), sizeof(LsmRegion)));
}

static Size
lsm_pool_size(void)
{
	/* one extra region's worth of slack is not needed: regions are 1 kB multiples */
	return add_size(mul_size(lsm_region_count(), lsm_region_bytes()), PG_CACHE_LINE_SIZE);
}

static void
lsm_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(lsm_state_size());
	RequestAddinShmemSpace(lsm_pool_size());
	RequestAddinShmemSpace(hash_estimate_size(lsm_max_tables,
											  sizeof(LsmTableShared)));
	RequestNamedLWLockTranche("lsm_directory", 1);
}

static void
lsm_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;
	bool		found_pool;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	lsm_state = ShmemInitStruct("lsm_am state", lsm_state_size(), &found);
	lsm_region_base = ShmemInitStruct("lsm_am memtable pool", lsm_pool_size(),
									  &found_pool);
	lsm_region_base = (char *) TYPEALIGN(PG_CACHE_LINE_SIZE, lsm_region_base);
	if (!found)
	{
		int			n = lsm_region_count();

		lsm_state->writer_tranche = LWLockNewTrancheId();
		lsm_state->extend_tranche = LWLockNewTrancheId();
		SpinLockInit(&lsm_state->pool_mutex);
		lsm_state->nregions = n;
		lsm_state->region_bytes = lsm_region_bytes();
		ConditionVariableInit(&lsm_state->pool_cv);
		pg_atomic_init_u64(&lsm_state->next_generation, 1);
		pg_atomic_init_u64(&lsm_state->write_clock, 1);
		lsm_state->free_head = -1;
		lsm_state->nfree = 0;
		for (int i = n - 1; i >= 0; i--)
		{
			pg_atomic_init_u32(&lsm_state->regions[i].pins, 0);
			pg_atomic_init_u32(&lsm_state->regions[i].state, LSM_REGION_FREE);
			lsm_state->regions[i].next_free = lsm_state->free_head;
			lsm_state->free_head = i;
			lsm_state->nfree++;
		}
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RelFileNode);
	info.entrysize = sizeof(LsmTableShared);
	lsm_directory = ShmemInitHash("lsm_am directory",
								  lsm_max_tables, lsm_max_tables,
								  &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);

	LWLockRelease(AddinShmemInitLock);

	lsm_dir_lock = &(GetNamedLWLockTranche("lsm_directory"))->lock;
	LWLockRegisterTranche(lsm_state->writer_tranche, "lsm_writer");
	LWLockRegisterTranche(lsm_state->extend_tranche, "lsm_extend");
}

/* ----------------------------------------------------------------
 * The memtable pool
 * ----------------------------------------------------------------
 */

void *
lsm_region_ptr(int region)
{
	Assert(region >= 0 && region < lsm_state->nregions);
	return lsm_region_base + (Size) region * lsm_state->region_bytes;
}

int
lsm_regions_free(void)
{
	int			n;

	SpinLockAcquire(&lsm_state->pool_mutex);
	n = lsm_state->nfree;
	SpinLockRelease(&lsm_state->pool_mutex);
	return n;
}

static void
lsm_region_push_free(int region)
{
	LsmRegion  *r = &lsm_state->regions[region];

	pg_atomic_write_u32(&r->state, LSM_REGION_FREE);
	SpinLockAcquire(&lsm_state->pool_mutex);
	r->next_free = lsm_state->free_head;
	lsm_state->free_head = region;
	lsm_state->nfree++;
	SpinLockRelease(&lsm_state->pool_mutex);
	ConditionVariableBroadcast(&lsm_state->pool_cv);
}

/*
 * Takes a free region and formats it as an empty memtable; -1 if none is
 * free.
 */
int
lsm_region_try_alloc(void)
{
	int			region;

	SpinLockAcquire(&lsm_state->pool_mutex);
	region = lsm_state->free_head;
	if (region >= 0)
	{
		lsm_state->free_head = lsm_state->regions[region].next_free;
		lsm_state->nfree--;
	}
	SpinLockRelease(&lsm_state->pool_mutex);
	if (region < 0)
		return -1;

	Assert(pg_atomic_read_u32(&lsm_state->regions[region].pins) == 0);
	pg_atomic_write_u32(&lsm_state->regions[region].state, LSM_REGION_USED);
	if (lsm_memtable_init(lsm_region_ptr(region), lsm_state->region_bytes) != LSM_OK)
	{
		lsm_region_push_free(region);
		elog(ERROR, "could not format a memtable region of %zu bytes",
			 lsm_state->region_bytes);
	}
	return region;
}

/* Returns a region nobody can have pinned straight to the free list. */
void
lsm_region_free_unused(int region)
{
	Assert(pg_atomic_read_u32(&lsm_state->regions[region].pins) == 0);
	lsm_region_push_free(region);
}

static void
lsm_region_try_free(int region)
{
	uint32		expected = LSM_REGION_RETIRED;

	/* The retirer and the last unpinner may race; one of them wins. */
	if (pg_atomic_compare_exchange_u32(&lsm_state->regions[region].state,
									   &expected, LSM_REGION_FREEING))
		lsm_region_push_free(region);
}

/*
 * A flushed memtable's region: no new reader can find it any more, so it is
 * free as soon as the readers that pinned it are done.
 */
void
lsm_region_retire(int region)
{
	LsmRegion  *r = &lsm_state->regions[region];

	pg_atomic_write_u32(&r->state, LSM_REGION_RETIRED);
	pg_memory_barrier();
	if (pg_atomic_read_u32(&r->pins) == 0)
		lsm_region_try_free(region);
}

static void
lsm_region_unpin(int region)
{
	LsmRegion  *r = &lsm_state->regions[region];

	if (pg_atomic_sub_fetch_u32(&r->pins, 1) == 0 &&
		pg_atomic_read_u32(&r->state) == LSM_REGION_RETIRED)
		lsm_region_try_free(region);
}

/* Regions of flushed memtables that scans still read. */
static int
lsm_regions_retired(void)
{
	int			n = 0;

	for (int i = 0; i < lsm_state->nregions; i++)
		if (pg_atomic_read_u32(&lsm_state->regions[i].state) == LSM_REGION_RETIRED)
			n++;
	return n;
}

/*
 * Sleeps until a region may have become free (or 100 ms, so that the caller
 * retries reclaiming and flushing other tables' memtables).  If this
 * session's own open scans pin every region, waiting cannot help: error.
 * Scans of other sessions free theirs when they end, but a cursor can stay
 * open for hours: a write that has waited lsm.region_wait_timeout while
 * such regions existed fails instead of hanging, as would every writer
 * that needs a region.  (Calls at most a second apart are one wait; each
 * sleeps 100 ms at most.)
 */
void
lsm_wait_for_region(void)
{
	static TimestampTz began = 0;
	static TimestampTz last = 0;
	TimestampTz now = GetCurrentTimestamp();
	int			retired;

	if (lsm_regions_pinned_by_me() >= lsm_state->nregions)
		ereport(ERROR,
				errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				errmsg("no memtable region is free for an lsm table"),
				errdetail("Scans of lsm tables open in this session hold all %d regions of the memtable pool.",
						  lsm_state->nregions),
				errhint("Close cursors on lsm tables first, or increase lsm.memtable_pool_size."));

	/* the clock runs while scans hold regions, through one wait */
	retired = lsm_regions_retired();
	if (retired == 0 || TimestampDifferenceExceeds(last, now, 1000))
		began = now;
	last = now;
	if (lsm_region_wait_timeout_ms > 0 && retired > 0 &&
		TimestampDifferenceExceeds(began, now, lsm_region_wait_timeout_ms))
	{
		last = 0;				/* the next call begins a new wait */
		ereport(ERROR,
				errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				errmsg("no memtable region is free for an lsm table"),
				errdetail("%d of the %d regions of the memtable pool hold flushed memtables that open scans still read; waited %d ms for them.",
						  retired, lsm_state->nregions, lsm_region_wait_timeout_ms),
				errhint("Close long-running cursors and transactions that read lsm tables, or increase lsm.memtable_pool_size or lsm.region_wait_timeout."));
	}

	ConditionVariablePrepareToSleep(&lsm_state->pool_cv);
	if (lsm_regions_free() == 0)
		(void) ConditionVariableTimedSleep(&lsm_state->pool_cv, 100,
										   PG_WAIT_EXTENSION);
	ConditionVariableCancelSleep();
}

/* ----------------------------------------------------------------
 * The directory
 * ----------------------------------------------------------------
 */

static void
lsm_entry_init(LsmTableShared *e)
{
	e->generation = pg_atomic_fetch_add_u64(&lsm_state->next_generation, 1);
	pg_atomic_init_u32(&e->users, 0);
	pg_atomic_init_u64(&e->write_tick, 0);
	LWLockInitialize(&e->writer, lsm_state->writer_tranche);
	LWLockInitialize(&e->extend, lsm_state->extend_tranche);
	ConditionVariableInit(&e->flush_cv);
	ConditionVariableInit(&e->stall_cv);
	SpinLockInit(&e->mutex);
	e->loaded = false;
	e->flushing = false;
	e->wal_skipped = false;
	e->persistence = RELPERSISTENCE_PERMANENT;
	e->dbid = InvalidOid;
	e->relid = InvalidOid;
	memset(&e->relname, 0, sizeof(e->relname));
	e->active.region = -1;
	e->active.seg_first = InvalidBlockNumber;
	e->active.max_seq = 0;
	e->nfrozen = 0;
	e->manifest_version = 0;
	e->l0_runs = 0;
	e->flusher_blocked_until = 0;
	e->victim_skip_until = 0;
	e->delay_next = 0;
	e->delay_rate = 0;
	e->next_id = 0;
	e->id_limit = 0;
	e->next_seq = 1;
	e->log_tail = InvalidBlockNumber;
	e->log_tail_off = 0;
	e->log_spare = InvalidBlockNumber;
	e->log_nspare = 0;
	lsm_counters_init(&e->counters);
}

/* Whether the relation file still exists with at least its metapage. */
bool
lsm_relfilenode_alive(const RelFileNode *node)
{
	SMgrRelation srel = smgropen(*node, InvalidBackendId);

	return smgrexists(srel, MAIN_FORKNUM) &&
		smgrnblocks(srel, MAIN_FORKNUM) > 0;
}

/* Gives every region of an unused entry back to the pool. */
static void
lsm_entry_free_regions(LsmTableShared *e)
{
	Assert(pg_atomic_read_u32(&e->users) == 0);
	if (e->active.region >= 0)
		lsm_region_free_unused(e->active.region);
	e->active.region = -1;
	for (int i = 0; i < e->nfrozen; i++)
		lsm_region_free_unused(e->frozen[i].region);
	e->nfrozen = 0;
}

/* Removes an unused entry, its regions back to the pool (directory lock held). */
static void
lsm_entry_remove(LsmTableShared *e)
{
	lsm_entry_free_regions(e);
	hash_search(lsm_directory, &e->node, HASH_REMOVE, NULL);
}

static bool
lsm_entry_memtables_empty(LsmTableShared *e)
{
	return e->nfrozen == 0 && !e->flushing &&
		(e->active.region < 0 ||
		 lsm_memtable_count(lsm_region_memtable(e->active.region)) == 0);
}

/*
 * With the directory lock held exclusively: removes unused entries whose
 * relation file is gone, and, when need_entry, unused entries that hold no
 * unflushed memtable.  Returns whether anything was freed.
 */
static bool
lsm_dir_evict(bool need_entry)
{
	HASH_SEQ_STATUS status;
	LsmTableShared *e;
	bool		freed = false;

	hash_seq_init(&status, lsm_directory);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (pg_atomic_read_u32(&e->users) != 0)
			continue;
		if ((need_entry && (!e->loaded || lsm_entry_memtables_empty(e))) ||
			!lsm_relfilenode_alive(&e->node))
		{
			lsm_entry_remove(e);
			freed = true;
		}
	}
	return freed;
}

/*
 * Attaches to rel's entry, creating it when missing; the caller must
 * detach (lsm_use_release).  When the directory is full and no entry can
 * be evicted, flushes an idle table's memtable (its entry then can be) or
 * waits a little for other backends' operations to end, and only then
 * gives up.
 */
static LsmTableShared *
lsm_dir_attach(const RelFileNode *node)
{
	LsmTableShared *e;
	bool		found;

	if (lsm_state == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("lsm_am shared memory is not initialized"),
				errhint("Add lsm_am to shared_preload_libraries and restart the server."));

	LWLockAcquire(lsm_dir_lock, LW_SHARED);
	e = hash_search(lsm_directory, node, HASH_FIND, NULL);
	if (e != NULL)
		pg_atomic_fetch_add_u32(&e->users, 1);
	LWLockRelease(lsm_dir_lock);
	if (e != NULL)
		return e;

	for (int attempt = 0;; attempt++)
	{
		LWLockAcquire(lsm_dir_lock, LW_EXCLUSIVE);
		e = hash_search(lsm_directory, node, HASH_ENTER_NULL, &found);
		if (e == NULL && lsm_dir_evict(true))
			e = hash_search(lsm_directory, node, HASH_ENTER_NULL, &found);
		if (e != NULL)
		{
			if (!found)
				lsm_entry_init(e);
			pg_atomic_fetch_add_u32(&e->users, 1);
			LWLockRelease(lsm_dir_lock);
			return e;
		}
		LWLockRelease(lsm_dir_lock);

		if (lsm_flush_idle_table(NULL))
			continue;
		if (attempt >= 100)
			ereport(ERROR,
					errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					errmsg("too many lsm tables in use"),
					errdetail("All %d entries of the lsm table directory are in use.",
							  lsm_max_tables),
					errhint("Increase lsm.max_tables."));
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

/*
 * Frees the regions of idle tables: the empty active memtables of unused
 * entries, and all memtables of unused entries whose relation file is gone
 * (dropped in another database, or before the drop hook saw it; those
 * entries are removed).  Returns whether a region was freed.
 */
bool
lsm_reclaim_regions(void)
{
	HASH_SEQ_STATUS status;
	LsmTableShared *e;
	bool		freed = false;

	LWLockAcquire(lsm_dir_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, lsm_directory);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (pg_atomic_read_u32(&e->users) != 0 ||
			(e->active.region < 0 && e->nfrozen == 0))
			continue;
		if (lsm_entry_memtables_empty(e))
		{
			lsm_region_free_unused(e->active.region);
			e->active.region = -1;
			freed = true;
		}
		else if (!lsm_relfilenode_alive(&e->node))
		{
			lsm_entry_remove(e);
			freed = true;
		}
	}
	LWLockRelease(lsm_dir_lock);
	return freed;
}

/*
 * Picks another table whose memtable is worth flushing.  For a backend that
 * needs a region (frozen_only false): unused, loaded, no flush under way,
 * holding entries, not lately found locked (lsm_flush_idle_table), the
 * oldest last write.  For the flusher (frozen_only):
 * loaded, no flush under way, with frozen memtables, the most of them (then
 * the oldest last write), unless the flusher was lately unable to flush it.
 * Attaches to it (as a use of the current resource owner) and describes it
 * in *v.
 */
LsmUse *
lsm_use_attach_victim(LsmTableShared *self, LsmVictim *v, bool frozen_only)
{
	HASH_SEQ_STATUS status;
	LsmTableShared *e;
	LsmTableShared *best = NULL;
	uint64		best_tick = PG_UINT64_MAX;
	int			best_frozen = 0;
	TimestampTz now = GetCurrentTimestamp();
	LsmUse	   *u;

	u = MemoryContextAllocZero(TopMemoryContext, sizeof(LsmUse));
	LWLockAcquire(lsm_dir_lock, LW_SHARED);
	hash_seq_init(&status, lsm_directory);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		bool		ok;
		int			nfrozen;
		uint64		tick;

		if (e == self || (!frozen_only && pg_atomic_read_u32(&e->users) != 0))
			continue;
		SpinLockAcquire(&e->mutex);
		nfrozen = e->nfrozen;
		ok = e->loaded && !e->flushing && !e->wal_skipped &&
			OidIsValid(e->relid);
		if (frozen_only)
			ok = ok && nfrozen > 0 && e->flusher_blocked_until <= now;
		else
			ok = ok && e->victim_skip_until <= now &&
				(nfrozen > 0 ||
				 (e->active.region >= 0 &&
				  lsm_memtable_count(lsm_region_memtable(e->active.region)) > 0));
		SpinLockRelease(&e->mutex);
		if (!ok)
			continue;
		if (!frozen_only)
			nfrozen = 0;		/* the oldest write decides alone */
		tick = pg_atomic_read_u64(&e->write_tick);
		if (nfrozen > best_frozen || (nfrozen == best_frozen && tick < best_tick))
		{
			best = e;
			best_frozen = nfrozen;
			best_tick = tick;
		}
	}
	if (best != NULL)
	{
		pg_atomic_fetch_add_u32(&best->users, 1);
		SpinLockAcquire(&best->mutex);
		v->node = best->node;
		v->generation = best->generation;
		v->dbid = best->dbid;
		v->relid = best->relid;
		v->persistence = best->persistence;
		v->needs_wal = best->persistence == RELPERSISTENCE_PERMANENT;
		v->relname = best->relname;
		SpinLockRelease(&best->mutex);
	}
	LWLockRelease(lsm_dir_lock);

	if (best == NULL)
	{
		pfree(u);
		return NULL;
	}
	u->entry = best;
	u->owner = CurrentResourceOwner;
	dlist_push_head(&lsm_uses, &u->node);
	return u;
}

/* ----------------------------------------------------------------
 * Uses of entries
 * ----------------------------------------------------------------
 */

LsmUse *
lsm_use_attach(const RelFileNode *node)
{
	LsmUse	   *u;

	if (!lsm_resowner_callback_registered)
	{
		RegisterResourceReleaseCallback(lsm_resowner_release, NULL);
		lsm_resowner_callback_registered = true;
	}
	if (CurrentResourceOwner == NULL)
		elog(ERROR, "lsm table storage used outside a transaction");

	/* Registered before attaching, so that an error cannot leak the count. */
	u = MemoryContextAllocZero(TopMemoryContext, sizeof(LsmUse));
	u->owner = CurrentResourceOwner;
	dlist_push_head(&lsm_uses, &u->node);
	u->entry = lsm_dir_attach(node);
	return u;
}

/*
 * Pins the memtables a reader sees: the active one, then the frozen ones,
 * newest first (regions gets them in that order), and returns the manifest
 * version they go with.  Both are read under the entry's mutex, which a
 * flush holds while it swaps a memtable for its run.
 */
uint64
lsm_use_pin_mems(LsmUse *u, int *regions, int *nregions)
{
	LsmTableShared *e = u->entry;
	uint64		version;
	int			n = 0;

	Assert(u->npins == 0);
	SpinLockAcquire(&e->mutex);
	if (e->active.region >= 0)
		regions[n++] = e->active.region;
	for (int i = e->nfrozen - 1; i >= 0; i--)
		regions[n++] = e->frozen[i].region;
	for (int i = 0; i < n; i++)
	{
		pg_atomic_fetch_add_u32(&lsm_state->regions[regions[i]].pins, 1);
		u->pins[u->npins++] = regions[i];
	}
	version = e->manifest_version;
	SpinLockRelease(&e->mutex);
	*nregions = n;
	return version;
}

void
lsm_use_unpin_all(LsmUse *u)
{
	for (int i = 0; i < u->npins; i++)
		lsm_region_unpin(u->pins[i]);
	u->npins = 0;
}

static void
lsm_use_cleanup(LsmUse *u)
{
	LsmTableShared *e = u->entry;

	if (u->cleanup)
	{
		void		(*fn) (void *) = u->cleanup;

		u->cleanup = NULL;
		fn(u->cleanup_arg);
	}
	lsm_use_unpin_all(u);
	if (u->holder_count)
		(*u->holder_count)--;
	if (e == NULL)
		return;
	if (u->flushing)
	{
		SpinLockAcquire(&e->mutex);
		e->flushing = false;
		SpinLockRelease(&e->mutex);
		u->flushing = false;
		ConditionVariableBroadcast(&e->flush_cv);
	}
	pg_atomic_fetch_sub_u32(&e->users, 1);
}

void
lsm_use_release(LsmUse *u)
{
	dlist_delete(&u->node);
	lsm_use_cleanup(u);
	pfree(u);
}

/*
 * Releases the uses taken under the resource owner being released: at
 * abort, after LWLocks are released, so that no entry is evicted while this
 * backend still holds one of its locks.  A use left when a subtransaction
 * or portal commits moves to the parent owner, as locks do; one left at
 * transaction commit is a bug.
 */
static void
lsm_resowner_release(ResourceReleasePhase phase, bool isCommit,
					 bool isTopLevel, void *arg)
{
	dlist_mutable_iter iter;

	if (phase != RESOURCE_RELEASE_AFTER_LOCKS)
		return;
	dlist_foreach_modify(iter, &lsm_uses)
	{
		LsmUse	   *u = dlist_container(LsmUse, node, iter.cur);

		if (u->owner != CurrentResourceOwner)
			continue;
		if (isCommit && !isTopLevel &&
			ResourceOwnerGetParent(CurrentResourceOwner) != NULL)
		{
			u->owner = ResourceOwnerGetParent(CurrentResourceOwner);
			continue;
		}
		if (isCommit)
			elog(WARNING, "lsm_am: table storage still in use at commit");
		lsm_use_release(u);
	}
}

/* How many distinct regions this session's uses pin. */
static int
lsm_regions_pinned_by_me(void)
{
	dlist_iter	iter;
	int			n = 0;
	bool	   *seen = palloc0(lsm_state->nregions * sizeof(bool));

	dlist_foreach(iter, &lsm_uses)
	{
		LsmUse	   *u = dlist_container(LsmUse, node, iter.cur);

		for (int i = 0; i < u->npins; i++)
			if (!seen[u->pins[i]])
			{
				seen[u->pins[i]] = true;
				n++;
			}
	}
	pfree(seen);
	return n;
}

static bool
lsm_entry_used_by_me(LsmTableShared *e)
{
	dlist_iter	iter;

	dlist_foreach(iter, &lsm_uses)
	{
		if (dlist_container(LsmUse, node, iter.cur)->entry == e)
			return true;
	}
	return false;
}

/*
 * lsm_tree_forget: drops the shared state of a relfilenode whose storage is
 * being dropped or replaced.  The memtables are only a cache of the log
 * pages and of running transactions' pending log records; the caller's lock
 * excludes every other transaction that could have any, and this backend's
 * are written first, so this is safe even if the dropping transaction (or a
 * subtransaction) rolls back: the next use replays the log.  Waits for
 * other backends' operations on the table to end (the caller's lock keeps
 * new ones out).
 */
void
lsm_tree_forget(RelFileNode rnode)
{
	if (lsm_state == NULL)
		return;
	lsm_tree_write_pending(&rnode);
	for (;;)
	{
		LsmTableShared *e;

		LWLockAcquire(lsm_dir_lock, LW_EXCLUSIVE);
		e = hash_search(lsm_directory, &rnode, HASH_FIND, NULL);
		if (e != NULL && pg_atomic_read_u32(&e->users) == 0)
		{
			lsm_entry_remove(e);
			e = NULL;
		}
		if (e != NULL && lsm_entry_used_by_me(e))
		{
			LWLockRelease(lsm_dir_lock);
			elog(ERROR, "cannot drop the storage of an lsm table this session is using");
		}
		LWLockRelease(lsm_dir_lock);
		if (e == NULL)
			break;
		/* another backend is finishing an operation on it */
		CHECK_FOR_INTERRUPTS();
		pg_usleep(1000L);
	}
	lsm_forget_local(&rnode);
}

/*
 * DROP TABLE of an lsm table: release its shared state right away (the
 * table AM has no callback for dropping storage).
 */
static void
lsm_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	HeapTuple	tuple;

	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	/* A new database: nobody can use it yet (lsm_forget_database). */
	if (access == OAT_POST_CREATE && classId == DatabaseRelationId &&
		lsm_state != NULL)
		lsm_forget_database(objectId);

	if (access != OAT_DROP || classId != RelationRelationId || subId != 0 ||
		lsm_state == NULL)
		return;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

		if ((form->relkind == RELKIND_RELATION || form->relkind == RELKIND_MATVIEW) &&
			form->relpersistence != RELPERSISTENCE_TEMP &&
			OidIsValid(form->relfilenode) && OidIsValid(form->relam) &&
			form->relam == get_table_am_oid("lsm", true))
		{
			RelFileNode rnode;

			rnode.spcNode = OidIsValid(form->reltablespace) ?
				form->reltablespace : MyDatabaseTableSpace;
			rnode.dbNode = MyDatabaseId;
			rnode.relNode = form->relfilenode;
			lsm_tree_forget(rnode);
		}
		ReleaseSysCache(tuple);
	}
}

/*
 * Drops the directory entries of tables of database dbid, which has just
 * been dropped or created: a database created with the OID of a dropped
 * one (OIDs wrap; CREATE DATABASE ... OID) could have tables with the
 * relfilenodes of the dropped one's, and would attach to their entries and
 * read their memtables.  Entries still in use (a flush on another's behalf
 * finishing) are left for lsm_reclaim_regions, which removes entries whose
 * relation file is gone.
 */
static void
lsm_forget_database(Oid dbid)
{
	HASH_SEQ_STATUS status;
	LsmTableShared *e;

	LWLockAcquire(lsm_dir_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, lsm_directory);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (e->node.dbNode != dbid || pg_atomic_read_u32(&e->users) != 0)
			continue;
		lsm_entry_remove(e);
	}
	LWLockRelease(lsm_dir_lock);
}

/*
 * DROP DATABASE: the database's directory entries go once it is gone.  (Its
 * drop hook runs before DROP DATABASE may still fail; any entry left in use
 * now goes when a database takes the OID, see lsm_object_access.)
 */
static void
lsm_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	Oid			dropped = InvalidOid;

	if (IsA(stmt, DropdbStmt))
		dropped = get_database_oid(((DropdbStmt *) stmt)->dbname, true);
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (OidIsValid(dropped) && lsm_state != NULL)
		lsm_forget_database(dropped);
}

/* A timestamp of writes, for choosing which idle table to flush under pressure. */
uint64
lsm_write_clock_tick(void)
{
	return pg_atomic_fetch_add_u64(&lsm_state->write_clock, 1);
}
