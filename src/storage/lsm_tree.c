/*
 * lsm_tree.c - the storage layer's API (lsm_tree.h): a backend's handles on
 * relations' trees and their cache, the key description, flushes on
 * demand and size estimates.
 *
 * Writes and the id counter are in lsm_tree_write.c, point reads in
 * lsm_tree_read.c, ordered iteration in lsm_tree_iter.c, views of a
 * relation's versions and the run cache in lsm_view.c, the log records a
 * backend holds back until commit in lsm_pending.c; the structures they
 * share are in lsm_tree_int.h.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "lsm/level_iter.h"
#include "lsm/logrec.h"
#include "lsm/sstable.h"
#include "lsm_storage.h"
#include "lsm_tree_int.h"


static HTAB *lsm_trees = NULL;
static bool lsm_trees_check = false;

static void lsm_tree_describe(LsmTree *t, LsmTableShared *e);

/* ----------------------------------------------------------------
 * Backend-local trees
 * ----------------------------------------------------------------
 */

static void
lsm_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	LsmTree    *t;

	if (lsm_trees == NULL)
		return;
	hash_seq_init(&status, lsm_trees);
	while ((t = hash_seq_search(&status)) != NULL)
	{
		if (!OidIsValid(relid) || t->relid == relid)
		{
			t->check = true;
			lsm_trees_check = true;
		}
	}
}

/* Drops the cached manifest version and runs. */
void
lsm_tree_reset_cache(LsmTree *t)
{
	if (t->current)
		lsm_version_unref(t, t->current);
	t->current = NULL;
}

static void
lsm_tree_free(LsmTree *t)
{
	Assert(t->nuses == 0);
	lsm_tree_reset_cache(t);
	lsm_standby_reset(&t->standby);
	lsm_pending_reset(t);
	lsm_buf_free(&t->pending);
	if (t->store.error)
		FreeErrorData(t->store.error);
	MemoryContextDelete(t->cxt);
	hash_search(lsm_trees, &t->node, HASH_REMOVE, NULL);
}

/*
 * Frees the trees of relations that were dropped or got a new relfilenode
 * since a relcache invalidation flagged them.
 */
static void
lsm_trees_sweep(void)
{
	HASH_SEQ_STATUS status;
	LsmTree    *t;

	lsm_trees_check = false;
	hash_seq_init(&status, lsm_trees);
	while ((t = hash_seq_search(&status)) != NULL)
	{
		HeapTuple	tuple;
		bool		gone = true;

		if (!t->check)
			continue;

		/*
		 * A tree in use, or with pending records (which its transaction's
		 * end writes or drops), stays flagged for a later sweep.
		 */
		if (t->nuses > 0 || t->pending_listed)
			continue;
		t->check = false;
		tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(t->relid));
		if (HeapTupleIsValid(tuple))
		{
			Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

			gone = form->relfilenode != t->node.relNode;
			ReleaseSysCache(tuple);
		}
		if (gone)
			lsm_tree_free(t);
	}
}

/* This backend's tree of node, if it has one. */
LsmTree *
lsm_tree_find_local(const RelFileNode *node)
{
	if (lsm_trees == NULL)
		return NULL;
	return hash_search(lsm_trees, node, HASH_FIND, NULL);
}

/* Makes the next lsm_tree_open sweep the trees the relcache flagged. */
void
lsm_tree_recheck(void)
{
	lsm_trees_check = true;
}

/* Called when the storage of node is dropped or replaced (lsm_tree_forget). */
void
lsm_forget_local(const RelFileNode *node)
{
	LsmTree    *t;

	if (lsm_trees == NULL)
		return;
	t = hash_search(lsm_trees, node, HASH_FIND, NULL);
	if (t == NULL)
		return;
	if (t->nuses == 0)
		lsm_tree_free(t);
	else
	{
		t->generation = 0;
		t->key_valid = false;	/* the relfilenode is formatted afresh */
		t->id_next = t->id_end = 0;	/* and counts ids from 0 */
		lsm_standby_reset(&t->standby);
	}
}

/*
 * Begins an operation on t: attaches to the shared entry (creating it),
 * drops caches that belong to an older incarnation of the entry, and, with
 * load, replays the log if the entry is not loaded.  During recovery
 * nothing is loaded: readers read the log themselves (lsm_standby.c).
 */
LsmUse *
lsm_tree_use(LsmTree *t, bool load)
{
	LsmUse	   *u;
	LsmTableShared *e;

	/* Decided once per operation: promotion may end recovery meanwhile. */
	t->in_recovery = RecoveryInProgress();
	if (!t->in_recovery && t->standby.mem != NULL)
		lsm_standby_reset(&t->standby);
	u = lsm_use_attach(&t->node);
	e = u->entry;

	u->holder_count = &t->nuses;
	t->nuses++;
	t->store.entry = e;
	if (e->generation != t->generation)
	{
		lsm_tree_reset_cache(t);
		t->key_valid = false;
		t->generation = e->generation;
	}
	if (t->described != e->generation || t->described_wal != t->store.needs_wal)
	{
		lsm_tree_describe(t, e);
		t->described = e->generation;
		t->described_wal = t->store.needs_wal;
	}
	if (load && !t->in_recovery)
		lsm_load(&t->store, u);
	return u;
}

/* Writes are for the primary; PostgreSQL refuses them earlier on a standby. */
void
lsm_tree_check_writable(LsmTree *t)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				errmsg("cannot change lsm table \"%s\" during recovery",
					   t->store.relname),
				errhint("Flush and write lsm tables on the primary server."));
}

/* Records who the table is, for flushes done on its behalf by others. */
static void
lsm_tree_describe(LsmTree *t, LsmTableShared *e)
{
	SpinLockAcquire(&e->mutex);
	e->dbid = MyDatabaseId;
	e->relid = t->owner_relid;
	e->persistence = t->store.persistence;
	e->wal_skipped = t->store.persistence == RELPERSISTENCE_PERMANENT &&
		!t->store.needs_wal;
	namestrcpy(&e->relname, t->store.relname);
	SpinLockRelease(&e->mutex);
}

static Oid
lsm_owner_of(Relation rel)
{
	return OidIsValid(rel->rd_rel->relrewrite) ? rel->rd_rel->relrewrite :
		RelationGetRelid(rel);
}

LsmTree *
lsm_tree_open(Relation rel)
{
	LsmTree    *t;
	bool		found;

	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("lsm tables cannot be temporary"));
	if (lsm_trees == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(RelFileNode);
		info.entrysize = sizeof(LsmTree);
		info.hcxt = TopMemoryContext;
		lsm_trees = hash_create("lsm trees", 16, &info,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(lsm_relcache_callback, (Datum) 0);
	}
	if (lsm_trees_check)
		lsm_trees_sweep();

	t = hash_search(lsm_trees, &rel->rd_node, HASH_ENTER, &found);
	if (!found)
	{
		t->cxt = AllocSetContextCreate(TopMemoryContext, "lsm tree",
									   ALLOCSET_SMALL_SIZES);
		t->generation = 0;
		t->current = NULL;
		t->nuses = 0;
		t->check = false;
		t->key_valid = false;
		t->described = 0;
		t->described_wal = false;
		t->relid = InvalidOid;
		t->owner_relid = InvalidOid;
		memset(&t->pending, 0, sizeof(t->pending));
		t->pending_start = 0;
		t->pending_listed = false;
		t->id_next = 0;
		t->id_end = 0;
		t->in_recovery = false;
		t->standby.mem = NULL;
		lsm_standby_reset(&t->standby);
		lsm_store_init_rel(&t->store, rel, t->cxt);
	}
	else
		lsm_store_set_wal(&t->store, rel->rd_rel->relpersistence,
						  RelationNeedsWAL(rel));
	/*
	 * A table rewrite (ALTER TABLE, REFRESH MATERIALIZED VIEW) fills a
	 * transient relation whose relfilenode then goes to the table it
	 * rewrites (pg_class.relrewrite), and the transient relation is dropped.
	 * The shared entry names that table: flushes by other processes lock it,
	 * and must wait for whoever holds it.
	 */
	if (t->relid != RelationGetRelid(rel) || t->owner_relid != lsm_owner_of(rel))
	{
		t->relid = RelationGetRelid(rel);
		t->owner_relid = lsm_owner_of(rel);
		t->described = 0;
	}
	strlcpy(t->store.relname, RelationGetRelationName(rel), NAMEDATALEN);

	/*
	 * The shared state is attached to (and the log replayed, on first use)
	 * by each operation; an open alone costs no shared-memory access, as
	 * the table AM opens the tree for every row it inserts.
	 */
	return t;
}

/*
 * The key description never changes for a relfilenode (lsm_keys.h), so it
 * is read from the metapage once per handle.
 */
const LsmKeyInfo *
lsm_tree_key_info(LsmTree *t)
{
	if (!t->key_valid)
	{
		lsm_meta_read_key(&t->store, &t->key);
		t->key_valid = true;
	}
	return &t->key;
}

void
lsm_tree_flush(LsmTree *t)
{
	LsmUse	   *u;
	LsmTableShared *e;

	lsm_tree_check_writable(t);
	u = lsm_tree_use(t, true);
	e = u->entry;

	for (;;)
	{
		bool		frozen = false;

		LWLockAcquire(&e->writer, LW_EXCLUSIVE);
		if (e->active.region < 0 ||
			lsm_memtable_count(lsm_region_memtable(e->active.region)) == 0)
			frozen = true;		/* nothing to freeze */
		else if (e->nfrozen < LSM_MAX_FROZEN)
		{
			int			region = lsm_region_try_alloc();

			frozen = lsm_freeze_locked(e, region);
			if (!frozen && region >= 0)
				lsm_region_free_unused(region);
		}
		LWLockRelease(&e->writer);
		if (frozen)
			break;
		(void) lsm_flush_one(&t->store, u, true);
	}
	while (lsm_flush_one(&t->store, u, true))
		CHECK_FOR_INTERRUPTS();
	lsm_use_release(u);
}

/* ----------------------------------------------------------------
 * Estimates
 * ----------------------------------------------------------------
 */

void
lsm_tree_shape(Relation rel, int *nsources, int *nruns)
{
	LsmTree    *t = lsm_tree_open(rel);
	LsmUse	   *u = lsm_tree_use(t, true);
	LsmView		view;
	lsm_memtable *mts[LSM_MAX_MEMS + 1];

	lsm_view_acquire(t, u, &view);
	*nsources = lsm_view_memtables(&view, mts) + view.version->nruns[0];
	*nruns = view.version->nruns[0];
	for (int l = 1; l < LSM_MAX_LEVELS; l++)
	{
		if (view.version->nruns[l] > 0)
			(*nsources)++;
		*nruns += view.version->nruns[l];
	}
	lsm_view_release(t, &view);
	lsm_use_release(u);
}

/*
 * Pages: the relation's size (runs, log pages and free pages alike).
 * Entries: in runs and memtables, every version and delta until compaction
 * collects it.  Approximate, as the planner's inputs are.
 */
void
lsm_tree_estimate(Relation rel, BlockNumber *pages, double *nentries)
{
	LsmTree    *t = lsm_tree_open(rel);
	LsmUse	   *u = lsm_tree_use(t, true);
	LsmView		view;
	lsm_memtable *mts[LSM_MAX_MEMS + 1];
	int			nmts;
	double		entries;

	lsm_view_acquire(t, u, &view);
	entries = (double) view.version->nentries;
	nmts = lsm_view_memtables(&view, mts);
	for (int i = 0; i < nmts; i++)
		entries += (double) lsm_memtable_count(mts[i]);
	lsm_view_release(t, &view);
	lsm_use_release(u);

	/* the file's pages, not the TID space (lsm_relation_size): a cost */
	*pages = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);
	*nentries = entries;
}
