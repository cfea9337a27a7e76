/*
 * lsm_tree_read.c - point reads of a relation's tree (lsm_tree_versions):
 * every entry of one user key, newest first, from the memtables, then the
 * level-0 runs, then at most one run per deeper level, each run ruled out
 * by its key range and bloom filter when it can be.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "lsm/level_iter.h"
#include "lsm/sstable.h"
#include "lsm_storage.h"
#include "lsm_tree_int.h"

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
