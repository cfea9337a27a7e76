/*
 * lsm_view.c - what a reader of an lsm table sees: views of its memtables
 * and of the runs of one manifest version, and the backend's cache of
 * opened runs (lsm.max_open_runs).
 *
 * A reader takes a view: the memtables (pinned, so their regions are not
 * reused under it) and the runs of one manifest version.  The two must
 * agree -- a flush removes a memtable and adds its run in one step -- so a
 * view is taken either under the entry's mutex, when this backend's cached
 * manifest is the current version, or under the metapage's share lock
 * while reading the manifest afresh.
 *
 * Opened runs (their index block and bloom filter in memory) are cached per
 * backend with the manifest version they belong to, so that a point lookup
 * costs a bloom probe per run and at most a data block read, not a reopen.
 * The cache is dropped when the table's relfilenode goes away (relcache
 * invalidation) or the shared entry was recreated.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "lsm_tree_int.h"

int			lsm_max_open_runs = 256;

/* This backend's open, unpinned runs (of every tree), newest use first. */
static dlist_head lsm_idle_runs = DLIST_STATIC_INIT(lsm_idle_runs);
static int	lsm_nidle_runs = 0;

/* ----------------------------------------------------------------
 * Versions and views
 * ----------------------------------------------------------------
 */

void
lsm_tree_init(void)
{
	DefineCustomIntVariable("lsm.max_open_runs",
							"Runs of lsm tables a backend keeps open when no scan or lookup reads them.",
							"An open run holds its index block and bloom filter in the backend's memory.",
							&lsm_max_open_runs,
							256, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

static void
lsm_run_leave_idle(LsmRun *r)
{
	if (!r->idle)
		return;
	dlist_delete(&r->idle_node);
	r->idle = false;
	lsm_nidle_runs--;
}

/* Closes least recently used idle runs down to lsm.max_open_runs. */
static void
lsm_close_idle_runs(void)
{
	while (lsm_nidle_runs > lsm_max_open_runs)
	{
		LsmRun	   *r = dlist_tail_element(LsmRun, idle_node, &lsm_idle_runs);

		lsm_run_leave_idle(r);
		lsm_sst_close(r->sst);
		r->sst = NULL;
	}
}

/* Opens the run's table if it is closed (an ERROR if it cannot). */
static void
lsm_run_open_sst(LsmRun *r)
{
	lsm_sst_options opts;
	lsm_status	st;

	if (r->sst)
		return;
	lsm_store_run_options(&opts, false);
	st = lsm_sst_open(&r->rpager.pager, &r->meta, &opts, &r->sst);
	if (st != LSM_OK)
	{
		r->sst = NULL;
		lsm_store_raise(r->rpager.store, st, "opening run %llu (blocks %u..%u)",
						(unsigned long long) r->id, r->meta.first_page,
						r->meta.first_page + r->meta.npages - 1);
	}
}

/* The run's table, open and held until lsm_run_unpin. */
lsm_sst *
lsm_run_pin(LsmRun *r)
{
	lsm_run_open_sst(r);
	lsm_run_leave_idle(r);
	r->pins++;
	return r->sst;
}

void
lsm_run_unpin(LsmRun *r)
{
	Assert(r->pins > 0);
	if (--r->pins > 0)
		return;
	dlist_push_head(&lsm_idle_runs, &r->idle_node);
	r->idle = true;
	lsm_nidle_runs++;
	lsm_close_idle_runs();
}

static void
lsm_run_unref(LsmRun *r)
{
	if (--r->refs > 0)
		return;
	lsm_run_leave_idle(r);
	if (r->sst)
		lsm_sst_close(r->sst);
	lsm_run_meta_free(&r->meta);
	pfree(r);
}

void
lsm_version_unref(LsmTree *t, LsmVersion *v)
{
	if (--v->refs > 0)
		return;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		for (int i = 0; i < v->nruns[l]; i++)
			if (v->runs[l][i])
				lsm_run_unref(v->runs[l][i]);
		if (v->runs[l])
			pfree(v->runs[l]);
	}
	pfree(v);
}

/* An open run of the current version with this id, if any. */
static LsmRun *
lsm_find_run(LsmVersion *v, uint64 id)
{
	if (v == NULL)
		return NULL;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->nruns[l]; i++)
			if (v->runs[l][i]->id == id)
				return v->runs[l][i];
	return NULL;
}

/*
 * A run of a manifest read from a metapage whose LSN was lsn_limit
 * (InvalidXLogRecPtr: its pages are not checked; see LsmRunPager).
 */
static LsmRun *
lsm_open_run(LsmTree *t, const lsm_run_meta *meta, XLogRecPtr lsn_limit)
{
	LsmRun	   *r = MemoryContextAllocZero(t->cxt, sizeof(LsmRun));
	lsm_status	st;

	st = lsm_run_meta_copy(&r->meta, meta);
	if (st != LSM_OK)
	{
		pfree(r);
		lsm_store_raise(&t->store, st, "opening run %llu",
						(unsigned long long) meta->id);
	}
	lsm_run_pager_init(&r->rpager, &t->store, lsn_limit);
	r->id = meta->id;
	r->refs = 1;
	return r;
}

/*
 * Builds the version of manifest m, reusing runs the current version has
 * open, and makes it current.  lsn_limit is for the runs it opens.
 */
static void
lsm_install_version(LsmTree *t, const lsm_manifest *m, XLogRecPtr lsn_limit)
{
	LsmVersion *v = MemoryContextAllocZero(t->cxt, sizeof(LsmVersion));

	v->version = m->version;
	v->refs = 1;
	PG_TRY();
	{
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
		{
			const lsm_level *lv = &m->levels[l];

			if (lv->nruns == 0)
				continue;
			v->runs[l] = MemoryContextAllocZero(t->cxt, lv->nruns * sizeof(LsmRun *));
			for (int i = 0; i < lv->nruns; i++)
			{
				LsmRun	   *r = lsm_find_run(t->current, lv->runs[i].id);

				if (r)
					r->refs++;
				else
					r = lsm_open_run(t, &lv->runs[i], lsn_limit);
				v->runs[l][i] = r;
				v->nruns[l] = i + 1;
				v->nentries += lv->runs[i].nentries;
			}
		}
	}
	PG_CATCH();
	{
		lsm_version_unref(t, v);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (t->current)
		lsm_version_unref(t, t->current);
	t->current = v;
}

/*
 * A view on a hot standby: the runs of the manifest in the metapage and
 * this backend's memtable of the log, caught up under the metapage's share
 * lock so that the two agree (lsm_standby.c).  The manifest is read again
 * only when the metapage changed.  Runs first seen now are checked against
 * the metapage's LSN as they are read: the primary may reuse their pages
 * once they are gone from the manifest (LsmRunPager).
 */
static void
lsm_view_acquire_standby(LsmTree *t, LsmView *view)
{
	LsmMetaTx	tx;
	XLogRecPtr	lsn;
	volatile bool read = false;

	view->nmems = 0;
	lsm_meta_begin(&t->store, &tx, false, false);
	PG_TRY();
	{
		lsn = PageGetLSN(BufferGetPage(tx.buf));
		if (t->current == NULL || t->standby.mem == NULL ||
			lsn != t->standby.meta_lsn)
		{
			lsm_meta_read(&t->store, &tx);
			read = true;
			lsm_standby_catch_up(&t->store, &t->standby, tx.m.log_head,
								 tx.m.flushed_seq);
		}
		else
			lsm_standby_catch_up(&t->store, &t->standby, t->standby.head,
								 t->standby.flushed_seq);
		UnlockReleaseBuffer(tx.buf);
		if (read && (t->current == NULL || t->current->version != tx.m.version))
			lsm_install_version(t, &tx.m, lsn);
		/* Only now: after an error the manifest is read again. */
		t->standby.meta_lsn = lsn;
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	view->version = t->current;
	view->version->refs++;
	view->smem = t->standby.mem;
	view->smem->refs++;
}

/*
 * Takes a view of the table for use u: pinned memtables and the runs of
 * the matching manifest version.
 */
void
lsm_view_acquire(LsmTree *t, LsmUse *u, LsmView *view)
{
	LsmMetaTx	tx;
	uint64		version;

	view->smem = NULL;
	if (t->in_recovery)
	{
		lsm_view_acquire_standby(t, view);
		return;
	}

	/* Fast path: the version pinned along with the memtables is cached. */
	version = lsm_use_pin_mems(u, view->mems, &view->nmems);
	if (t->current != NULL && t->current->version == version)
	{
		view->version = t->current;
		view->version->refs++;
		return;
	}
	lsm_use_unpin_all(u);

	/* Slow path: read the manifest; pin while the metapage is share-locked. */
	lsm_meta_begin(&t->store, &tx, false, true);
	PG_TRY();
	{
		version = lsm_use_pin_mems(u, view->mems, &view->nmems);
		UnlockReleaseBuffer(tx.buf);
		if (version != tx.m.version)
			elog(ERROR, "lsm table \"%s\": shared manifest version %llu differs from the metapage's %llu",
				 t->store.relname, (unsigned long long) version,
				 (unsigned long long) tx.m.version);
		if (t->current == NULL || t->current->version != tx.m.version)
			lsm_install_version(t, &tx.m, InvalidXLogRecPtr);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	view->version = t->current;
	view->version->refs++;
}

void
lsm_view_release(LsmTree *t, LsmView *view)
{
	if (view->version)
		lsm_version_unref(t, view->version);
	view->version = NULL;
	lsm_standby_mem_unref(view->smem);
	view->smem = NULL;
}

/* The view's memtables, newest first; returns how many. */
int
lsm_view_memtables(const LsmView *view, lsm_memtable **mts)
{
	int			n = 0;

	for (int i = 0; i < view->nmems; i++)
		mts[n++] = lsm_region_memtable(view->mems[i]);
	if (view->smem)
		mts[n++] = view->smem->mt;
	return n;
}
