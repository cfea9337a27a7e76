/*
 * level_iter.c - the concatenation of a sorted level's runs (level_iter.h).
 */
#include "level_iter.h"

#include <stdlib.h>

#include "ikey.h"

typedef struct level_iter
{
	lsm_iter	base;
	lsm_level_runs runs;
	int			idx;			/* the run cur reads */
	lsm_iter   *cur;			/* NULL past the last run */
	bool		held;			/* the table of run idx was handed out */
	lsm_status	status;
} level_iter;

/* Gives back the table of the current run, if it was handed out. */
static void
level_close(level_iter *li)
{
	lsm_iter_destroy(li->cur);
	li->cur = NULL;
	if (li->held && li->runs.release)
		li->runs.release(li->runs.arg, li->idx);
	li->held = false;
}

static void
level_open(level_iter *li, int idx)
{
	lsm_sst    *sst;

	level_close(li);
	li->idx = idx;
	if (idx >= li->runs.n)
		return;
	if ((sst = li->runs.sst(li->runs.arg, idx)) == NULL)
	{
		li->status = LSM_NO_MEMORY;
		return;
	}
	li->held = true;
	if ((li->cur = lsm_sst_iter_new(sst)) == NULL)
	{
		level_close(li);
		li->status = LSM_NO_MEMORY;
	}
}

/* Moves to following runs while the current one is exhausted. */
static void
level_skip_empty(level_iter *li)
{
	while (li->cur && !lsm_iter_valid(li->cur))
	{
		if (lsm_iter_status(li->cur) != LSM_OK)
		{
			li->status = lsm_iter_status(li->cur);
			return;
		}
		level_open(li, li->idx + 1);
		if (li->cur)
			lsm_iter_seek_first(li->cur);
	}
}

/* Moves to preceding runs while the current one is exhausted. */
static void
level_skip_empty_back(level_iter *li)
{
	while (li->cur && !lsm_iter_valid(li->cur))
	{
		if (lsm_iter_status(li->cur) != LSM_OK)
		{
			li->status = lsm_iter_status(li->cur);
			return;
		}
		if (li->idx == 0)
		{
			level_close(li);
			return;
		}
		level_open(li, li->idx - 1);
		if (li->cur)
			lsm_iter_seek_last(li->cur);
	}
}

static bool
level_valid(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	return li->status == LSM_OK && li->cur && lsm_iter_valid(li->cur);
}

static void
level_seek_first(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	li->status = LSM_OK;
	level_open(li, 0);
	if (li->cur)
		lsm_iter_seek_first(li->cur);
	level_skip_empty(li);
}

int
lsm_level_find(const lsm_level_runs *runs, lsm_slice user_key)
{
	int			lo = 0,
				hi = runs->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		lsm_slice	largest = lsm_ikey_user_key(runs->largest(runs->arg, mid));

		if (lsm_slice_compare(largest, user_key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first run whose largest key is >= target holds target, if any does. */
static void
level_seek(lsm_iter *it, lsm_slice target)
{
	level_iter *li = (level_iter *) it;
	int			lo = 0,
				hi = li->runs.n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (lsm_ikey_compare(li->runs.largest(li->runs.arg, mid), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	li->status = LSM_OK;
	level_open(li, lo);
	if (li->cur)
		lsm_iter_seek(li->cur, target);
	level_skip_empty(li);
}

static void
level_next(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	if (!level_valid(it))
		return;
	lsm_iter_next(li->cur);
	level_skip_empty(li);
}

static void
level_seek_last(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	li->status = LSM_OK;
	if (li->runs.n == 0)
	{
		level_close(li);
		return;
	}
	level_open(li, li->runs.n - 1);
	if (li->cur)
		lsm_iter_seek_last(li->cur);
	level_skip_empty_back(li);
}

static void
level_prev(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	if (!level_valid(it))
		return;
	lsm_iter_prev(li->cur);
	level_skip_empty_back(li);
}

static lsm_slice
level_key(lsm_iter *it)
{
	return lsm_iter_key(((level_iter *) it)->cur);
}

static lsm_slice
level_value(lsm_iter *it)
{
	return lsm_iter_value(((level_iter *) it)->cur);
}

static lsm_status
level_status(lsm_iter *it)
{
	level_iter *li = (level_iter *) it;

	if (li->status != LSM_OK)
		return li->status;
	return li->cur ? lsm_iter_status(li->cur) : LSM_OK;
}

static void
level_destroy(lsm_iter *it)
{
	level_close((level_iter *) it);
	free(it);
}

static const lsm_iter_ops level_iter_ops = {
	level_valid, level_seek_first, level_seek, level_next,
	level_key, level_value, level_status, level_destroy,
	level_seek_last, level_prev
};

lsm_iter *
lsm_level_iter_new(const lsm_level_runs *runs)
{
	level_iter *li = calloc(1, sizeof(level_iter));

	if (li == NULL)
		return NULL;
	li->base.ops = &level_iter_ops;
	li->runs = *runs;
	li->status = LSM_OK;
	return &li->base;
}
