/*
 * lsm_tree_iter.c - ordered iteration over a relation's tree
 * (lsm_tree_iter_* of lsm_tree.h): a merge of the view's memtables, its
 * level-0 runs and one iterator per sorted level, limited to key spans when
 * the reader gives them, skipping runs the spans or bloom filters rule out.
 * ("Scan" is kept for the table access method's scans, which use these.)
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "lsm/level_iter.h"
#include "lsm/merge.h"
#include "lsm_tree_int.h"

/* ----------------------------------------------------------------
 * Scans
 * ----------------------------------------------------------------
 */

/*
 * The iterator the caller sees: the merging iterator, raising a proper
 * error (a caught one, or corruption naming the table) as soon as a move
 * fails, instead of leaving the caller a bare status.
 */
typedef struct LsmCheckedIter
{
	lsm_iter	base;
	lsm_iter   *inner;
	LsmStore   *store;
} LsmCheckedIter;

struct LsmTreeIter
{
	LsmTree    *t;
	LsmUse	   *use;
	LsmView		view;
	lsm_iter   *children[LSM_MAX_MEMS + 64];
	lsm_iter  **kids;			/* children, or a bigger palloc'd array */
	int			nkids;
	lsm_iter   *merged;
	LsmCheckedIter outer;
	LsmRun	  **level_runs[LSM_MAX_LEVELS]; /* a bounded scan's chosen runs */
	LsmRun	  **pinned;			/* level-0 runs its children read */
	int			npinned;
};

/* The run of view v whose extent holds block blk, and its level; NULL if none. */
static LsmRun *
lsm_view_run_at(const LsmView *v, BlockNumber blk, int *level)
{
	if (blk == InvalidBlockNumber || v->version == NULL)
		return NULL;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->version->nruns[l]; i++)
		{
			LsmRun	   *r = v->version->runs[l][i];

			if (blk >= r->meta.first_page &&
				blk - r->meta.first_page < r->meta.npages)
			{
				*level = l;
				return r;
			}
		}
	return NULL;
}

/*
 * Raises the error of a scan whose move failed, naming the run it was
 * reading when the block last read (or refused) belongs to one.
 */
static void
lsm_checked_after_move(LsmCheckedIter *ci)
{
	LsmTreeIter *scan;
	LsmStore   *store = ci->store;
	LsmRun	   *r;
	int			level = 0;

	if (lsm_iter_valid(ci->inner) ||
		(lsm_iter_status(ci->inner) == LSM_OK && store->error == NULL))
		return;
	scan = (LsmTreeIter *) ((char *) ci - offsetof(LsmTreeIter, outer));
	r = lsm_view_run_at(&scan->view,
						store->bad_block != InvalidBlockNumber ?
						store->bad_block : store->read_first, &level);
	if (r != NULL)
		lsm_store_check(store, lsm_iter_status(ci->inner),
						"scanning run %llu (level %d, blocks %u..%u)",
						(unsigned long long) r->id, level, r->meta.first_page,
						r->meta.first_page + r->meta.npages - 1);
	lsm_store_check(store, lsm_iter_status(ci->inner), "scanning");
}

static bool
lsm_checked_valid(lsm_iter *it)
{
	return lsm_iter_valid(((LsmCheckedIter *) it)->inner);
}

static void
lsm_checked_seek_first(lsm_iter *it)
{
	LsmCheckedIter *ci = (LsmCheckedIter *) it;

	lsm_iter_seek_first(ci->inner);
	lsm_checked_after_move(ci);
}

static void
lsm_checked_seek(lsm_iter *it, lsm_slice target)
{
	LsmCheckedIter *ci = (LsmCheckedIter *) it;

	lsm_iter_seek(ci->inner, target);
	lsm_checked_after_move(ci);
}

static void
lsm_checked_next(lsm_iter *it)
{
	LsmCheckedIter *ci = (LsmCheckedIter *) it;

	lsm_iter_next(ci->inner);
	lsm_checked_after_move(ci);
}

static void
lsm_checked_seek_last(lsm_iter *it)
{
	LsmCheckedIter *ci = (LsmCheckedIter *) it;

	lsm_iter_seek_last(ci->inner);
	lsm_checked_after_move(ci);
}

static void
lsm_checked_prev(lsm_iter *it)
{
	LsmCheckedIter *ci = (LsmCheckedIter *) it;

	lsm_iter_prev(ci->inner);
	lsm_checked_after_move(ci);
}

static lsm_slice
lsm_checked_key(lsm_iter *it)
{
	return lsm_iter_key(((LsmCheckedIter *) it)->inner);
}

static lsm_slice
lsm_checked_value(lsm_iter *it)
{
	return lsm_iter_value(((LsmCheckedIter *) it)->inner);
}

static lsm_status
lsm_checked_status(lsm_iter *it)
{
	return lsm_iter_status(((LsmCheckedIter *) it)->inner);
}

static void
lsm_checked_destroy(lsm_iter *it)
{
	/* Owned by the scan: lsm_tree_iter_end frees it. */
}

static const lsm_iter_ops lsm_checked_ops = {
	lsm_checked_valid, lsm_checked_seek_first, lsm_checked_seek, lsm_checked_next,
	lsm_checked_key, lsm_checked_value, lsm_checked_status, lsm_checked_destroy,
	lsm_checked_seek_last, lsm_checked_prev
};

/* A version's level runs, for the core's level iterator. */
static lsm_sst *
lsm_level_run_sst(const void *arg, int i)
{
	return lsm_run_pin(((LsmRun *const *) arg)[i]);
}

static void
lsm_level_run_release(const void *arg, int i)
{
	lsm_run_unpin(((LsmRun *const *) arg)[i]);
}

/* The runs of one sorted level (>= 1), held by the scan's version. */
static lsm_iter *
lsm_level_iter_of(LsmRun **runs, int n)
{
	lsm_level_runs lr = {n, runs, lsm_level_run_sst, lsm_level_run_largest,
	lsm_level_run_release};

	return lsm_level_iter_new(&lr);
}

/* Releases what a scan holds; also run at abort through its use. */
static void
tree_iter_cleanup(void *arg)
{
	LsmTreeIter *s = (LsmTreeIter *) arg;

	if (s->merged)
		lsm_iter_destroy(s->merged);
	else
	{
		for (int i = 0; i < s->nkids; i++)
			lsm_iter_destroy(s->kids[i]);
	}
	if (s->kids && s->kids != s->children)
		pfree(s->kids);
	for (int i = 0; i < s->npinned; i++)
		lsm_run_unpin(s->pinned[i]);
	if (s->pinned)
		pfree(s->pinned);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		if (s->level_runs[l])
			pfree(s->level_runs[l]);
	lsm_view_release(s->t, &s->view);
	pfree(s);
}

/* Adds a child iterator; a NULL one (malloc failed) is an error. */
static void
tree_iter_add(LsmTreeIter *s, lsm_iter *it)
{
	if (it == NULL)
		lsm_store_raise(&s->t->store, LSM_NO_MEMORY, "starting a scan");
	s->kids[s->nkids++] = it;
}

/*
 * Adds a child reading run r, held until the scan ends; pinned says whether
 * the caller pinned it already for the scan.
 */
static void
tree_iter_add_run(LsmTreeIter *s, LsmRun *r, bool pinned)
{
	lsm_sst    *sst = pinned ? r->sst : lsm_run_pin(r);

	s->pinned[s->npinned++] = r;
	tree_iter_add(s, lsm_sst_iter_new(sst));
}

/*
 * Whether a bounded scan must read run r: its key range meets a span, and
 * for a point span its bloom filter does not rule the point out.  Every
 * entry of one data key has the same bloom key, so a run the filter rules
 * out holds no version of any row of that point.  The run is pinned once
 * for all its probes; a needed run stays pinned for the caller when keep_pin
 * is not NULL (and *keep_pin is set), since with lsm.max_open_runs at 0
 * unpinning would close it and reading it would open it again.
 */
static bool
lsm_run_needed(LsmRun *r, const LsmKeySpan *spans, int n,
			   LsmTreeIterCounts *counts, bool *keep_pin)
{
	lsm_sst    *sst = NULL;
	bool		in_range = false;
	bool		needed = false;

	for (int i = 0; i < n && !needed; i++)
	{
		const LsmKeySpan *sp = &spans[i];

		if (!lsm_run_meta_meets(&r->meta, sp->start, sp->end))
			continue;
		in_range = true;
		if (sp->probe.len == 0)
		{
			needed = true;
			break;
		}
		if (sst == NULL)
			sst = lsm_run_pin(r);
		counts->bloom_probes++;
		if (lsm_sst_may_contain(sst, sp->probe))
			needed = true;
		else
			counts->bloom_skips++;
	}
	if (!in_range)
		counts->runs_skipped++;
	if (sst != NULL && needed && keep_pin != NULL)
		*keep_pin = true;
	else if (sst != NULL)
		lsm_run_unpin(r);
	return needed;
}

LsmTreeIter *
lsm_tree_iter_begin(LsmTree *t)
{
	return lsm_tree_iter_begin_spans(t, NULL, 0, NULL);
}

LsmTreeIter *
lsm_tree_iter_begin_spans(LsmTree *t, const LsmKeySpan *spans, int n,
						  LsmTreeIterCounts *counts)
{
	LsmUse	   *u = lsm_tree_use(t, true);
	LsmTreeIter *s = MemoryContextAllocZero(TopMemoryContext, sizeof(LsmTreeIter));
	LsmTreeIterCounts local;
	LsmTreeIterCounts before;
	LsmVersion *v;
	lsm_memtable *mts[LSM_MAX_MEMS + 1];
	int			nmts;
	int			nkids;

	if (counts == NULL)
	{
		memset(&local, 0, sizeof(local));
		counts = &local;
	}
	before = *counts;
	s->t = t;
	s->use = u;
	s->kids = s->children;
	u->cleanup = tree_iter_cleanup;
	u->cleanup_arg = s;

	lsm_view_acquire(t, u, &s->view);
	v = s->view.version;
	nmts = lsm_view_memtables(&s->view, mts);
	nkids = nmts + v->nruns[0] + LSM_MAX_LEVELS;
	if (v->nruns[0] > 0)
		s->pinned = MemoryContextAlloc(TopMemoryContext,
									   v->nruns[0] * sizeof(LsmRun *));
	if (nkids > (int) lengthof(s->children))
		s->kids = MemoryContextAlloc(TopMemoryContext, nkids * sizeof(lsm_iter *));

	/* Newest sources first: on equal keys the merge prefers lower children. */
	for (int i = 0; i < nmts; i++)
		tree_iter_add(s, lsm_memtable_iter_new(mts[i]));
	for (int i = 0; i < v->nruns[0]; i++)
	{
		bool		pinned = false;

		if (n > 0 && !lsm_run_needed(v->runs[0][i], spans, n, counts, &pinned))
			continue;
		counts->runs_read++;
		tree_iter_add_run(s, v->runs[0][i], pinned);
	}
	for (int l = 1; l < LSM_MAX_LEVELS; l++)
	{
		LsmRun	  **runs = v->runs[l];
		int			nruns = v->nruns[l];

		/* A sorted level's runs are disjoint: keep the needed ones, in order. */
		if (n > 0 && nruns > 0)
		{
			LsmRun	  **chosen = MemoryContextAlloc(TopMemoryContext,
													nruns * sizeof(LsmRun *));
			int			nchosen = 0;

			s->level_runs[l] = chosen;
			for (int i = 0; i < nruns; i++)
				if (lsm_run_needed(runs[i], spans, n, counts, NULL))
					chosen[nchosen++] = runs[i];
			runs = chosen;
			nruns = nchosen;
		}
		counts->runs_read += nruns;
		if (nruns > 0)
			tree_iter_add(s, lsm_level_iter_of(runs, nruns));
	}

	/* The table's bloom counters count point ranges' probes too. */
	lsm_counter_add(u->entry, LSM_CTR_BLOOM_PROBES,
					counts->bloom_probes - before.bloom_probes);
	lsm_counter_add(u->entry, LSM_CTR_BLOOM_SKIPS,
					counts->bloom_skips - before.bloom_skips);

	s->merged = lsm_merge_iter_new(s->kids, s->nkids);
	if (s->merged == NULL)
	{
		/* lsm_merge_iter_new destroyed the children */
		s->nkids = 0;
		lsm_store_raise(&t->store, LSM_NO_MEMORY, "starting a scan");
	}
	s->outer.base.ops = &lsm_checked_ops;
	s->outer.inner = s->merged;
	s->outer.store = &t->store;
	return s;
}

lsm_iter *
lsm_tree_iter_get(LsmTreeIter *s)
{
	return &s->outer.base;
}

void
lsm_tree_iter_end(LsmTreeIter *s)
{
	/* Releasing the use runs tree_iter_cleanup, which frees s. */
	lsm_use_release(s->use);
}
