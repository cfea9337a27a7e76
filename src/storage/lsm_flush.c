/*
 * lsm_flush.c - freezing memtables, flushing them to level-0 runs, and
 * finding room in the memtable pool.
 *
 * A full active memtable is frozen: it joins the table's list of frozen
 * memtables and a fresh region becomes active (or none, when the pool is
 * empty; the next write then waits for one).  A flush writes the oldest
 * frozen memtable as a run and then, in one manifest change, adds the run,
 * advances flushed_seq, moves log_head to the next memtable's first log
 * page and frees the flushed memtable's log pages (they are never read
 * again); the memtable leaves the list in the same step.  Its region
 * returns to the pool once no reader has it pinned.
 *
 * Flushing is the flusher's job (lsm_flush_worker.c): a writer that froze a
 * memtable wakes it and goes on writing into the fresh one.  A writer
 * flushes itself only when the flusher cannot: it is not running, or it
 * could not lock the table lately, or this transaction holds a lock that
 * keeps it out (the table was created, truncated or locked exclusively in
 * it), or the relfilenode skips WAL (wal_level minimal; only the creating
 * transaction may write it).
 *
 * When the pool has no free region, a writer waits for the flusher to flush
 * its table's frozen memtables (a write stall, lsm_stall.c), or flushes them
 * itself if the flusher cannot; else freezes its full active memtable
 * without a successor and does the same; else frees idle tables' empty
 * memtables, else flushes the memtable of the table written longest ago,
 * else sleeps until a region is freed.  Never a crash, never a lost row:
 * every entry is in the log.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "lsm/compaction.h"
#include "lsm_background.h"
#include "lsm_compact.h"
#include "lsm_storage.h"

LsmBackgroundHooks lsm_background;

/* How long writers pass over a victim they could not flush. */
#define LSM_VICTIM_SKIP_MS	1000

/*
 * Freezes the active memtable if it holds entries and a frozen slot is
 * free; new_region (a fresh region, or -1 for none) becomes active.
 * Writer lock held.
 */
bool
lsm_freeze_locked(LsmTableShared *e, int new_region)
{
	Assert(LWLockHeldByMeInMode(&e->writer, LW_EXCLUSIVE));

	if (e->active.region < 0 || e->nfrozen >= LSM_MAX_FROZEN ||
		lsm_memtable_count(lsm_region_memtable(e->active.region)) == 0)
		return false;
	SpinLockAcquire(&e->mutex);
	e->active.max_seq = e->next_seq - 1;
	e->frozen[e->nfrozen++] = e->active;
	e->active.region = new_region;
	e->active.seg_first = e->log_tail;
	e->active.max_seq = 0;
	SpinLockRelease(&e->mutex);
	return true;
}

/* Commit hook: the flushed memtable leaves the list with the manifest change. */
static void
lsm_remove_flushed(LsmTableShared *e, void *arg)
{
	Assert(e->nfrozen > 0 && e->frozen[0].region == *(int *) arg);
	memmove(&e->frozen[0], &e->frozen[1], (e->nfrozen - 1) * sizeof(LsmMem));
	e->nfrozen--;
}

/* Counts a flush that wrote a run of nbytes. */
static void
lsm_count_flush(LsmTableShared *e, uint64 nbytes)
{
	lsm_counter_add(e, LSM_CTR_FLUSHES, 1);
	lsm_counter_add(e, LSM_CTR_BYTES_FLUSHED, nbytes);
	lsm_counter_set_time(e, LSM_TS_LAST_FLUSH);
}

static int
lsm_blockno_cmp(const void *a, const void *b)
{
	BlockNumber x = *(const BlockNumber *) a;
	BlockNumber y = *(const BlockNumber *) b;

	return (x > y) - (x < y);
}

/* Adds log pages (sorted here) to m's free list as coalesced extents. */
void
lsm_free_log_pages(LsmStore *s, lsm_manifest *m, BlockNumber *pages, int n)
{
	qsort(pages, n, sizeof(BlockNumber), lsm_blockno_cmp);
	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		while (j < n && pages[j] == pages[j - 1] + 1)
			j++;
		lsm_meta_check_status(s, lsm_manifest_free_extent(m, pages[i], j - i, 0),
							  "freeing log pages");
		i = j;
	}
}

/*
 * Writes the memtable in region (entries up to max_seq, log pages from
 * seg_first) as a level-0 run and commits it: the run, flushed_seq,
 * log_head = next_seg, the segment's log pages freed.  With remove_frozen
 * the memtable is the table's oldest frozen one and leaves the list in the
 * same step; without, nobody else can see it (replay).
 */
void
lsm_flush_memtable(LsmStore *s, LsmTableShared *e, int region, uint64 max_seq,
				   BlockNumber seg_first, BlockNumber next_seg, bool remove_frozen)
{
	lsm_sst_options opts;
	lsm_run_writer w;
	lsm_run_meta meta;
	lsm_iter   *it;
	lsm_status	st;
	BlockNumber *logpages;
	int			nlog;
	LsmMetaTx	tx;

	/* The segment's log pages, found before anything is written. */
	logpages = lsm_log_pages_between(s, seg_first, next_seg, &nlog);

	memset(&meta, 0, sizeof(meta));
	lsm_store_run_options(&opts, true);
	w.pager = &s->pager;
	w.sst_opts = &opts;
	w.alloc = lsm_alloc_extent;
	w.alloc_arg = s;
	it = lsm_memtable_iter_new(lsm_region_memtable(region));
	if (it == NULL)
		lsm_store_raise(s, LSM_NO_MEMORY, "flushing a memtable");
	st = lsm_flush_iter(&w, it, &meta);
	lsm_iter_destroy(it);
	if (st != LSM_OK && st != LSM_NOT_FOUND)
	{
		lsm_run_meta_free(&meta);
		lsm_store_raise(s, st, "flushing a memtable to a run");
	}

	lsm_manifest_init(&tx.m);
	PG_TRY();
	{
		lsm_meta_begin(s, &tx, true, true);
		if (tx.m.log_head != seg_first)
			ereport(ERROR,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("lsm table \"%s\" is corrupt", s->relname),
					errdetail("Its log starts at block %u, not at block %u where the memtable being flushed starts.",
							  tx.m.log_head, seg_first));
		if (st == LSM_OK)
		{
			meta.id = tx.m.next_run_id++;
			meta.level = 0;
			meta.aux = 0;
			lsm_meta_check_status(s, lsm_manifest_add_run(&tx.m, &meta),
								  "adding a run to the manifest");
		}
		tx.m.flushed_seq = Max(tx.m.flushed_seq, max_seq);
		tx.m.last_seq = Max(tx.m.last_seq, max_seq);
		tx.m.log_head = next_seg;
		lsm_free_log_pages(s, &tx.m, logpages, nlog);
		lsm_meta_commit(s, &tx, remove_frozen ? lsm_remove_flushed : NULL, &region);
		if (st == LSM_OK)
			lsm_count_flush(e, meta.nbytes);
		/* Level 0 may now need the background worker. */
		lsm_background_compact(s, &tx.m);
		UnlockReleaseBuffer(tx.buf);
		elog(DEBUG1, "lsm table \"%s\": flushed a memtable into a level-0 run of %llu entries, %llu bytes",
			 s->relname, (unsigned long long) meta.nentries,
			 (unsigned long long) (st == LSM_OK ? meta.nbytes : 0));
	}
	PG_FINALLY();
	{
		lsm_run_meta_free(&meta);
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	pfree(logpages);
}

/*
 * Flushes the table's oldest frozen memtable.  Returns false if it has
 * none.  If another backend is flushing, returns false at once, or with
 * wait, waits for that flush to end and returns true.
 */
bool
lsm_flush_one(LsmStore *s, LsmUse *u, bool wait)
{
	LsmTableShared *e = u->entry;
	LsmMem		m;
	BlockNumber next_seg;

	SpinLockAcquire(&e->mutex);
	if (e->nfrozen == 0)
	{
		SpinLockRelease(&e->mutex);
		return false;
	}
	if (e->flushing)
	{
		SpinLockRelease(&e->mutex);
		if (!wait)
			return false;
		ConditionVariablePrepareToSleep(&e->flush_cv);
		for (;;)
		{
			bool		busy;

			SpinLockAcquire(&e->mutex);
			busy = e->flushing;
			SpinLockRelease(&e->mutex);
			if (!busy)
				break;
			ConditionVariableSleep(&e->flush_cv, PG_WAIT_EXTENSION);
		}
		ConditionVariableCancelSleep();
		return true;
	}
	e->flushing = true;
	u->flushing = true;
	m = e->frozen[0];
	next_seg = e->nfrozen > 1 ? e->frozen[1].seg_first : e->active.seg_first;
	SpinLockRelease(&e->mutex);

	lsm_flush_memtable(s, e, m.region, m.max_seq, m.seg_first, next_seg, true);

	SpinLockAcquire(&e->mutex);
	e->flushing = false;
	SpinLockRelease(&e->mutex);
	u->flushing = false;
	ConditionVariableBroadcast(&e->flush_cv);
	lsm_region_retire(m.region);
	return true;
}

/*
 * Flushes the oldest frozen memtable of another backend's table v, attached
 * to as vu, with its relation (and, for another database, that database)
 * locked against DROP, TRUNCATE and ALTER TABLE, without waiting for them:
 * this is called by backends busy with another table and by the flusher,
 * and waiting could deadlock.  With freeze_active, freezes the active
 * memtable first if nothing is frozen.
 */
LsmFlushOutcome
lsm_flush_other(LsmUse *vu, const LsmVictim *v, bool freeze_active)
{
	LsmTableShared *e = vu->entry;
	LOCKTAG		dbtag;
	LOCKTAG		reltag;
	bool		db_locked = false;
	LsmFlushOutcome outcome = LSM_FLUSH_BUSY;

	if (v->dbid != MyDatabaseId)
	{
		SET_LOCKTAG_OBJECT(dbtag, InvalidOid, DatabaseRelationId, v->dbid, 0);
		if (LockAcquire(&dbtag, AccessShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
			return LSM_FLUSH_BUSY;
		db_locked = true;
	}
	SET_LOCKTAG_RELATION(reltag, v->dbid, v->relid);
	if (LockAcquire(&reltag, AccessShareLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
	{
		bool		have = false;

		outcome = LSM_FLUSH_NOTHING;
		if (lsm_relfilenode_alive(&v->node))
		{
			SpinLockAcquire(&e->mutex);
			have = e->nfrozen > 0;
			SpinLockRelease(&e->mutex);
			if (!have && freeze_active &&
				LWLockConditionalAcquire(&e->writer, LW_EXCLUSIVE))
			{
				have = lsm_freeze_locked(e, -1);
				LWLockRelease(&e->writer);
			}
		}
		if (have)
		{
			LsmStore	store;

			lsm_store_init(&store, &v->node, v->persistence, v->needs_wal,
						   NameStr(v->relname), CurrentMemoryContext);
			store.entry = e;
			if (lsm_flush_one(&store, vu, false))
				outcome = LSM_FLUSH_DONE;
			lsm_store_free(&store);
		}
		LockRelease(&reltag, AccessShareLock, false);
	}
	if (db_locked)
		LockRelease(&dbtag, AccessShareLock, false);
	return outcome;
}

/*
 * Flushes the memtable of the table (other than self) written longest ago
 * that nobody is using, to free its region and make its directory entry
 * evictable.  A victim that cannot be flushed now (DDL or LOCK TABLE holds
 * it, its database is being dropped) is passed over by every writer for a
 * while, and the next one is tried: one locked idle table must not stop
 * the writers of all the others.
 */
bool
lsm_flush_idle_table(LsmTableShared *self)
{
	for (int tries = 0; tries < lsm_max_tables; tries++)
	{
		LsmVictim	v;
		LsmUse	   *vu = lsm_use_attach_victim(self, &v, false);
		LsmFlushOutcome outcome;

		if (vu == NULL)
			return false;
		outcome = lsm_flush_other(vu, &v, true);
		if (outcome != LSM_FLUSH_DONE)
		{
			TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															LSM_VICTIM_SKIP_MS);

			SpinLockAcquire(&vu->entry->mutex);
			vu->entry->victim_skip_until = until;
			SpinLockRelease(&vu->entry->mutex);
		}
		lsm_use_release(vu);
		if (outcome == LSM_FLUSH_DONE)
			return true;
	}
	return false;
}

/*
 * Called by a writer that froze a memtable of its table: the flusher takes
 * it if it can, else the writer flushes what is frozen (unless another
 * backend already is).
 */
void
lsm_flush_frozen(LsmStore *s, LsmUse *u)
{
	if (lsm_background_flushes(u->entry))
		lsm_background_wake_flusher();
	else
		while (lsm_flush_one(s, u, false))
			;
}

/*
 * Called by a writer whose active memtable has no room for next and for
 * which no free region was found (writer lock not held).  Makes progress
 * towards a free region, or waits a little for the flusher; the caller
 * retries.
 */
void
lsm_make_room(LsmStore *s, LsmUse *u, const LsmWrite *next)
{
	LsmTableShared *e = u->entry;
	bool		have_frozen;
	bool		froze;

	CHECK_FOR_INTERRUPTS();

	/* Our frozen memtables: a flush of one frees a region. */
	SpinLockAcquire(&e->mutex);
	have_frozen = e->nfrozen > 0;
	SpinLockRelease(&e->mutex);
	if (have_frozen)
	{
		if (lsm_background_flushes(e) && lsm_stall_for_flush(s, u))
			return;
		if (lsm_flush_one(s, u, true))
			return;
	}

	/* Our full active memtable: frozen without a successor, then as above. */
	LWLockAcquire(&e->writer, LW_EXCLUSIVE);
	froze = e->active.region >= 0 &&
		!lsm_memtable_has_room(lsm_region_memtable(e->active.region),
							   next->keylen, next->vallen) &&
		lsm_freeze_locked(e, -1);
	LWLockRelease(&e->writer);
	if (froze)
	{
		lsm_flush_frozen(s, u);
		return;
	}

	/* Other tables' idle memtables. */
	if (lsm_reclaim_regions() || lsm_flush_idle_table(e))
		return;

	lsm_stall_for_region(e);
}

/* A region for a table being loaded (it holds none yet). */
int
lsm_region_acquire(LsmUse *u)
{
	for (;;)
	{
		int			region = lsm_region_try_alloc();

		if (region >= 0)
			return region;
		CHECK_FOR_INTERRUPTS();
		if (lsm_reclaim_regions() || lsm_flush_idle_table(u->entry))
			continue;
		lsm_wait_for_region();
	}
}
