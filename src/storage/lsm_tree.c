/*
 * lsm_tree.c - the storage layer's API (lsm_tree.h): a backend's handle on
 * a table's tree, writes, point reads of all versions of a key, row ids,
 * flushes and size estimates.
 *
 * Views of a table's versions and the run cache are in lsm_view.c, the
 * log records a backend holds back until commit in lsm_pending.c, ordered
 * scans in lsm_tree_scan.c; the structures they share are in
 * lsm_tree_int.h.
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

/* Row ids reserved per metapage change. */
#define LSM_ROWID_BATCH 4096

/*
 * Row ids a backend takes from the shared counter at a time, so that most
 * inserts find theirs without attaching to the table's shared state.
 */
#define LSM_ROWID_LOCAL 64


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
		t->rowid_next = t->rowid_end = 0;	/* and counts row ids from 0 */
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
static void
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
		t->rowid_next = 0;
		t->rowid_end = 0;
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

Size
lsm_tree_max_entry(void)
{
	return LSM_MAX_ENTRY;
}

/* ----------------------------------------------------------------
 * Writes
 * ----------------------------------------------------------------
 */

/*
 * What a memtable node may take beyond its internal key and value: the
 * core's node header and its links at the tallest height, aligned.  The
 * core's own node overhead is well below this, so a batch whose summed
 * sizes pass lsm_memtable_has_room with this slack per extra entry fits.
 */
#define LSM_NODE_SLACK 128

typedef enum LsmWriteStep
{
	LSM_WROTE,					/* added some entries */
	LSM_FROZE,					/* froze the active memtable: flush it */
	LSM_NO_ROOM					/* no memtable room and no free region */
} LsmWriteStep;

/* How many of the n entries (from the first) the memtable mt has room for. */
static int
write_fits_memtable(lsm_memtable *mt, const LsmWrite *w, int n)
{
	Size		keys = 0;
	Size		vals = 0;
	int			k;

	for (k = 0; k < n; k++)
	{
		keys += w[k].keylen;
		vals += w[k].vallen;
		if (!lsm_memtable_has_room(mt, keys + (Size) k * LSM_NODE_SLACK, vals))
			break;
	}
	return k;
}

/*
 * Batches at least this large are added to the memtable in key order: the
 * memtable's writer then finds each entry's place from the previous one's
 * (lsm/memtable.c), touching few nodes that are not in the CPU caches
 * already, where random keys would each cost a search from the top.
 */
#define LSM_SORT_BATCH 16

/* A batch entry's place in key order: its key's first 8 bytes, and where it is. */
typedef struct LsmWriteOrder
{
	uint64		prefix;			/* big-endian, zero-padded: compares as memcmp */
	int			pos;
} LsmWriteOrder;

static inline int
lsm_write_order_cmp(const LsmWriteOrder *a, const LsmWriteOrder *b,
					const LsmWrite *w)
{
	const LsmWrite *x;
	const LsmWrite *y;
	int			c;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	x = &w[a->pos];
	y = &w[b->pos];
	c = memcmp(x->key, y->key, Min(x->keylen, y->keylen));
	if (c != 0)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

#define ST_SORT lsm_sort_write_order
#define ST_ELEMENT_TYPE LsmWriteOrder
#define ST_COMPARE_ARG_TYPE const LsmWrite
#define ST_COMPARE(a, b, w) lsm_write_order_cmp(a, b, w)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* The positions of w[0..n) in key order. */
static LsmWriteOrder *
lsm_write_order(const LsmWrite *w, int n)
{
	LsmWriteOrder *order = palloc(n * sizeof(LsmWriteOrder));

	for (int j = 0; j < n; j++)
	{
		uint64		prefix = 0;

		for (Size b = 0; b < 8; b++)
			prefix = (prefix << 8) | (b < w[j].keylen ? w[j].key[b] : 0);
		order[j].prefix = prefix;
		order[j].pos = j;
	}
	lsm_sort_write_order(order, n, w);
	return order;
}

/*
 * One step of lsm_tree_write, under the writer lock: adds as many of the
 * entries w[0..n) as the active memtable has room for, with the next
 * sequence numbers in the order given (the first returned in *seq), or
 * freezes the full memtable.  order, if not NULL, lists the positions of
 * the whole batch, of which w[0] is position first, in key order; the
 * entries are added in that order.
 */
static LsmWriteStep
lsm_write_step(LsmStore *s, LsmTableShared *e, const LsmWrite *w, int n,
			   const LsmWriteOrder *order, int first, int total, int *done,
			   uint64 *seq)
{
	lsm_memtable *mt;
	int			k;
	int			region;

	*done = 0;
	if (e->active.region < 0)
	{
		region = lsm_region_try_alloc();
		if (region < 0)
			return LSM_NO_ROOM;
		SpinLockAcquire(&e->mutex);
		e->active.region = region;
		SpinLockRelease(&e->mutex);
	}
	mt = lsm_region_memtable(e->active.region);
	k = write_fits_memtable(mt, w, n);
	if (k > 0)
	{
		/*
		 * Sequence numbers are taken and the entries added under the same
		 * lock hold, so a frozen memtable has every entry up to its max_seq.
		 */
		*seq = e->next_seq;
		e->next_seq += k;
		for (int o = 0; o < (order ? total : k); o++)
		{
			int			j = order ? order[o].pos - first : o;
			lsm_status	st;

			if (j < 0 || j >= k)
				continue;
			st = lsm_memtable_add(mt, lsm_slice_make(w[j].key, w[j].keylen),
								  *seq + j, w[j].kind,
								  lsm_slice_make(w[j].value, w[j].vallen));
			if (st != LSM_OK)
				elog(ERROR, "lsm table \"%s\": could not add an entry to the memtable: %s",
					 s->relname, lsm_status_str(st));
		}
		pg_atomic_write_u64(&e->write_tick, lsm_write_clock_tick());
		*done = k;
		return LSM_WROTE;
	}
	if (e->nfrozen < Min(lsm_max_frozen_memtables, LSM_MAX_FROZEN) &&
		(region = lsm_region_try_alloc()) >= 0)
	{
		if (lsm_freeze_locked(e, region))
			return LSM_FROZE;
		lsm_region_free_unused(region);
	}
	return LSM_NO_ROOM;
}

/*
 * Counts what users wrote: key and value bytes of every entry (rows, row-map
 * entries, deltas; those of transactions that later abort too, since they
 * are flushed all the same).
 */
static void
lsm_count_user_bytes(LsmTableShared *e, const LsmWrite *w, int n)
{
	uint64		bytes = 0;

	for (int j = 0; j < n; j++)
		bytes += w[j].keylen + w[j].vallen;
	lsm_counter_add(e, LSM_CTR_BYTES_WRITTEN_BY_USERS, bytes);
}

void
lsm_tree_write(LsmTree *t, const LsmWrite *w, int n)
{
	LsmUse	   *u;
	LsmTableShared *e;
	Size		need = 0;
	Size		bytes = 0;
	LsmWriteOrder *order = NULL;
	int			i = 0;

	for (int j = 0; j < n; j++)
	{
		if (w[j].keylen == 0 || w[j].keylen + w[j].vallen > LSM_MAX_ENTRY)
			ereport(ERROR,
					errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					errmsg("lsm table entry of %zu bytes exceeds the maximum of %zu bytes",
						   w[j].keylen + w[j].vallen, (Size) LSM_MAX_ENTRY));
		if ((unsigned) w[j].kind > LSM_KIND_MAX)
			elog(ERROR, "invalid lsm entry kind %d", (int) w[j].kind);
		need += lsm_logrec_size(w[j].keylen, w[j].vallen, LSM_MAX_SEQ);
		bytes += w[j].keylen + w[j].vallen;
	}

	lsm_tree_check_writable(t);
	/* Room for the records first: once the entries are in the memtable,
	 * encoding their records must not fail. */
	lsm_pending_reserve(t, need);

	if (n >= LSM_SORT_BATCH)
		order = lsm_write_order(w, n);

	lsm_cover_xid();
	u = lsm_tree_use(t, true);
	e = u->entry;
	/* Slowed down or stopped while flushes or compaction fall behind. */
	lsm_write_throttle(&t->store, u, bytes, !lsm_pending_committing());
	while (i < n)
	{
		LsmWriteStep step;
		int			done;
		uint64		seq = 0;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(&e->writer, LW_EXCLUSIVE);
		step = lsm_write_step(&t->store, e, w + i, n - i, order, i, n,
							  &done, &seq);
		LWLockRelease(&e->writer);

		lsm_pending_add(t, w + i, done, seq);
		i += done;

		if (step == LSM_FROZE)
			lsm_flush_frozen(&t->store, u);	/* the flusher's job, usually */
		else if (step == LSM_NO_ROOM)
			lsm_make_room(&t->store, u, &w[i]);
	}

	lsm_pending_written(t, e);
	lsm_count_user_bytes(e, w, n);
	lsm_use_release(u);
	if (order)
		pfree(order);
}

LsmRowId
lsm_tree_new_rowid(LsmTree *t)
{
	LsmUse	   *u;
	LsmTableShared *e;

	if (t->rowid_next < t->rowid_end)
		return t->rowid_next++;
	lsm_tree_check_writable(t);

	/*
	 * A few at a time; those this backend does not use are never handed
	 * out again (a reload of the table starts from the high-water mark in
	 * the metapage, past every id taken).
	 */
	u = lsm_tree_use(t, true);
	e = u->entry;
	for (;;)
	{
		bool		have;

		SpinLockAcquire(&e->mutex);
		have = e->next_rowid < e->rowid_limit;
		if (have)
		{
			t->rowid_next = e->next_rowid;
			t->rowid_end = Min(e->rowid_limit, e->next_rowid + LSM_ROWID_LOCAL);
			e->next_rowid = t->rowid_end;
		}
		SpinLockRelease(&e->mutex);
		if (have)
			break;
		lsm_meta_reserve_rowids(&t->store, e, LSM_ROWID_BATCH);
	}
	lsm_use_release(u);
	return t->rowid_next++;
}

LsmRowId
lsm_tree_rowid_limit(LsmTree *t)
{
	LsmUse	   *u = lsm_tree_use(t, true);
	LsmTableShared *e = u->entry;
	LsmRowId	limit;

	if (t->in_recovery)
	{
		LsmMetaTx	tx;

		/*
		 * Nothing is loaded during recovery: the metapage's reservation,
		 * replayed before any row that uses it, bounds every row id a
		 * standby can see.
		 */
		lsm_meta_begin(&t->store, &tx, false, false);
		limit = tx.meta.rowid_hwm;
		lsm_meta_end(&tx);
	}
	else
	{
		SpinLockAcquire(&e->mutex);
		limit = e->rowid_limit;
		SpinLockRelease(&e->mutex);
	}
	lsm_use_release(u);
	return limit;
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
 * Point reads
 * ----------------------------------------------------------------
 */

typedef struct LsmVersionsCall
{
	LsmTree    *t;
	LsmView		view;
	lsm_iter   *it;				/* the source being read */
	LsmRun	   *pinned;			/* its run, if it is one */
	uint8	   *target;			/* key + trailer to seek to */
	lsm_slice	key;
	LsmVersionCallback cb;
	void	   *arg;
	bool		found;
	bool		stop;
	uint64		bloom_probes;	/* runs whose filter was checked */
	uint64		bloom_skips;	/* ... and said the key is absent */
} LsmVersionsCall;

/* Delivers the entries of the user key from it, newest first. */
static void
lsm_versions_from(LsmVersionsCall *c, const char *what, uint64 runid)
{
	lsm_iter   *it = c->it;
	lsm_status	st;

	for (lsm_iter_seek(it, lsm_slice_make(c->target, c->key.len + LSM_IKEY_TRAILER));
		 lsm_iter_valid(it); lsm_iter_next(it))
	{
		lsm_slice	ikey = lsm_iter_key(it);
		lsm_slice	value;
		uint64		trailer;

		if (ikey.len != c->key.len + LSM_IKEY_TRAILER ||
			memcmp(ikey.data, c->key.data, c->key.len) != 0)
			break;
		trailer = lsm_ikey_trailer(ikey);
		value = lsm_iter_value(it);
		c->found = true;
		if (!c->cb(c->arg, trailer >> 8, (lsm_kind) (trailer & 0xff),
				   value.data, value.len))
		{
			c->stop = true;
			break;
		}
	}
	st = lsm_iter_status(it);
	lsm_store_check(&c->t->store, st, "reading %s %llu", what,
					(unsigned long long) runid);
}

/* The largest internal key of run i of a level's runs (level_iter.h). */
lsm_slice
lsm_level_run_largest(const void *arg, int i)
{
	return lsm_buf_slice(&((LsmRun *const *) arg)[i]->meta.largest);
}

/* The run of a sorted level (>= 1) whose key range may hold key. */
static LsmRun *
lsm_level_find_run(LsmRun **runs, int n, lsm_slice key)
{
	lsm_level_runs lr = {n, runs, NULL, lsm_level_run_largest, NULL};
	int			i = lsm_level_find(&lr, key);

	return i < n && lsm_run_meta_covers(&runs[i]->meta, key) ? runs[i] : NULL;
}

/* Whether the run of sst may hold the key, after its bloom filter. */
static bool
lsm_versions_may_be_in(LsmVersionsCall *c, lsm_sst *sst)
{
	if (!lsm_sst_has_bloom(sst))
		return true;
	c->bloom_probes++;
	if (lsm_sst_may_contain(sst, c->key))
		return true;
	c->bloom_skips++;
	return false;
}

/* Ends reading the current source (also at an error: lsm_tree_versions). */
static void
lsm_versions_done(LsmVersionsCall *c)
{
	lsm_iter_destroy(c->it);
	c->it = NULL;
	if (c->pinned)
		lsm_run_unpin(c->pinned);
	c->pinned = NULL;
}

static void
lsm_versions_run(LsmVersionsCall *c, LsmRun *r)
{
	lsm_sst    *sst;

	if (c->stop || !lsm_run_meta_covers(&r->meta, c->key))
		return;
	sst = lsm_run_pin(r);
	c->pinned = r;
	if (lsm_versions_may_be_in(c, sst))
	{
		c->it = lsm_sst_iter_new(sst);
		if (c->it == NULL)
			lsm_store_raise(&c->t->store, LSM_NO_MEMORY, "reading run %llu",
							(unsigned long long) r->id);
		lsm_versions_from(c, "run", r->id);
	}
	lsm_versions_done(c);
}

static void
lsm_versions_search(LsmVersionsCall *c)
{
	LsmVersion *v = c->view.version;
	lsm_memtable *mts[LSM_MAX_MEMS + 1];
	int			nmts = lsm_view_memtables(&c->view, mts);

	for (int i = 0; i < nmts && !c->stop; i++)
	{
		c->it = lsm_memtable_iter_new(mts[i]);
		if (c->it == NULL)
			lsm_store_raise(&c->t->store, LSM_NO_MEMORY, "reading a memtable");
		lsm_versions_from(c, "memtable", i);
		lsm_iter_destroy(c->it);
		c->it = NULL;
	}
	/* Level 0 is newest first; deeper levels hold older entries. */
	for (int i = 0; i < v->nruns[0] && !c->stop; i++)
		lsm_versions_run(c, v->runs[0][i]);
	for (int l = 1; l < LSM_MAX_LEVELS && !c->stop; l++)
	{
		LsmRun	   *r = lsm_level_find_run(v->runs[l], v->nruns[l], c->key);

		if (r)
			lsm_versions_run(c, r);
	}
}

bool
lsm_tree_versions(LsmTree *t, const uint8 *key, Size keylen,
				  LsmVersionCallback cb, void *arg)
{
	LsmVersionsCall *c = palloc0(sizeof(LsmVersionsCall));
	LsmUse	   *u = lsm_tree_use(t, true);
	bool		found;

	c->t = t;
	c->key = lsm_slice_make(key, keylen);
	c->cb = cb;
	c->arg = arg;
	c->target = palloc(keylen + LSM_IKEY_TRAILER);
	lsm_ikey_write(c->target, c->key, LSM_MAX_SEQ, LSM_KIND_MAX);
	lsm_view_acquire(t, u, &c->view);
	PG_TRY();
	{
		lsm_versions_search(c);
	}
	PG_FINALLY();
	{
		lsm_versions_done(c);
		lsm_view_release(t, &c->view);
		lsm_counter_add(u->entry, LSM_CTR_BLOOM_PROBES, c->bloom_probes);
		lsm_counter_add(u->entry, LSM_CTR_BLOOM_SKIPS, c->bloom_skips);
		lsm_use_release(u);
	}
	PG_END_TRY();
	found = c->found;
	pfree(c->target);
	pfree(c);
	return found;
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
 * Tuples: entries in runs and memtables, halved, since an inserted row has
 * a data entry and a row-map entry; updates and deletes add delta entries
 * and old versions linger until compaction, so this overestimates tables
 * with many changes.  Approximate, as the planner's inputs are.
 */
void
lsm_tree_estimate(Relation rel, BlockNumber *pages, double *tuples)
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
	*tuples = entries / 2;
}
