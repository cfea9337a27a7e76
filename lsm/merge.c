/*
 * merge.c - the merging iterator (a binary min-heap over child iterators)
 * and lsm_dbiter, which turns an internal stream into one snapshot's view.
 */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

/* ---------------------------------------------------------------------
 * Merging iterator
 * ---------------------------------------------------------------------
 */

typedef struct merge_iter
{
	lsm_iter	base;
	lsm_iter  **children;
	int			nchildren;
	int		   *heap;			/* child indexes; heap[0] comes first */
	int			nheap;
	bool		backward;		/* moving by prev: heap[0] is the largest */
	lsm_buf		key;			/* the current key, while children move */
	lsm_status	status;
} merge_iter;

/*
 * Does child a come before child b in the direction of travel?  Forward,
 * equal keys give the lower index first; backward is the exact reverse.
 */
static bool
child_less(merge_iter *mi, int a, int b)
{
	int			c = lsm_ikey_compare(lsm_iter_key(mi->children[a]),
									 lsm_iter_key(mi->children[b]));

	if (mi->backward)
		return c != 0 ? c > 0 : a > b;
	return c != 0 ? c < 0 : a < b;
}

static void
sift_down(merge_iter *mi, int pos)
{
	int		   *h = mi->heap;

	for (;;)
	{
		int			l = 2 * pos + 1;
		int			r = l + 1;
		int			min = pos;
		int			tmp;

		if (l < mi->nheap && child_less(mi, h[l], h[min]))
			min = l;
		if (r < mi->nheap && child_less(mi, h[r], h[min]))
			min = r;
		if (min == pos)
			return;
		tmp = h[pos];
		h[pos] = h[min];
		h[min] = tmp;
		pos = min;
	}
}

/*
 * A child that stopped being valid either ran out or failed; remember the
 * first failure so the merged stream does not silently lose entries.
 */
static void
note_child_status(merge_iter *mi, int child)
{
	lsm_status	st = lsm_iter_status(mi->children[child]);

	if (st != LSM_OK && mi->status == LSM_OK)
		mi->status = st;
}

/* Rebuilds the heap from every valid child after a seek. */
static void
rebuild_heap(merge_iter *mi)
{
	mi->nheap = 0;
	mi->status = LSM_OK;
	for (int i = 0; i < mi->nchildren; i++)
	{
		if (lsm_iter_valid(mi->children[i]))
			mi->heap[mi->nheap++] = i;
		else
			note_child_status(mi, i);
	}
	for (int i = mi->nheap / 2 - 1; i >= 0; i--)
		sift_down(mi, i);
}

static bool
merge_valid(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	return mi->status == LSM_OK && mi->nheap > 0;
}

static void
merge_seek_first(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	mi->backward = false;
	for (int i = 0; i < mi->nchildren; i++)
		lsm_iter_seek_first(mi->children[i]);
	rebuild_heap(mi);
}

static void
merge_seek(lsm_iter *it, lsm_slice target)
{
	merge_iter *mi = (merge_iter *) it;

	mi->backward = false;
	for (int i = 0; i < mi->nchildren; i++)
		lsm_iter_seek(mi->children[i], target);
	rebuild_heap(mi);
}

static void
merge_seek_last(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	mi->backward = true;
	for (int i = 0; i < mi->nchildren; i++)
		lsm_iter_seek_last(mi->children[i]);
	rebuild_heap(mi);
}

/* Moves the first child on and restores the heap. */
static void
merge_advance(merge_iter *mi)
{
	int			top = mi->heap[0];

	if (mi->backward)
		lsm_iter_prev(mi->children[top]);
	else
		lsm_iter_next(mi->children[top]);
	if (!lsm_iter_valid(mi->children[top]))
	{
		note_child_status(mi, top);
		mi->heap[0] = mi->heap[--mi->nheap];
	}
	if (mi->nheap > 0)
		sift_down(mi, 0);
}

/*
 * Turns the direction of travel at the current entry (of child top): every
 * other child is put where the merged stream would have it in the new
 * direction, around the current key (LevelDB's MergingIterator does the
 * same).  Ties are placed by child index, as child_less orders them.
 */
static void
merge_turn(merge_iter *mi, bool backward)
{
	int			top = mi->heap[0];
	lsm_slice	key;

	if (lsm_buf_set(&mi->key, lsm_iter_key(mi->children[top]).data,
					lsm_iter_key(mi->children[top]).len) != LSM_OK)
	{
		mi->status = LSM_NO_MEMORY;
		return;
	}
	key = lsm_buf_slice(&mi->key);
	for (int i = 0; i < mi->nchildren; i++)
	{
		lsm_iter   *c = mi->children[i];
		bool		at_key;

		if (i == top)
			continue;
		lsm_iter_seek(c, key);
		at_key = lsm_iter_valid(c) && lsm_ikey_compare(lsm_iter_key(c), key) == 0;
		if (backward)
		{
			/* entries < key, and = key from children that come before top */
			if (!lsm_iter_valid(c))
			{
				if (lsm_iter_status(c) == LSM_OK)
					lsm_iter_seek_last(c);
			}
			else if (!(at_key && i < top))
				lsm_iter_prev(c);
		}
		else if (at_key && i < top)
			lsm_iter_next(c);	/* came before top: already passed */
	}
	mi->backward = backward;

	/*
	 * Every other child is now past the current key in the new direction
	 * (or at it, behind top in the tie order), so top, still at the current
	 * key, heads the rebuilt heap and the caller's move steps it on.
	 */
	rebuild_heap(mi);
}

static void
merge_next(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	if (!merge_valid(it))
		return;
	if (mi->backward)
		merge_turn(mi, false);
	if (merge_valid(it))
		merge_advance(mi);
}

static void
merge_prev(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	if (!merge_valid(it))
		return;
	if (!mi->backward)
		merge_turn(mi, true);
	if (merge_valid(it))
		merge_advance(mi);
}

static lsm_slice
merge_key(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	return lsm_iter_key(mi->children[mi->heap[0]]);
}

static lsm_slice
merge_value(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	return lsm_iter_value(mi->children[mi->heap[0]]);
}

static lsm_status
merge_status(lsm_iter *it)
{
	return ((merge_iter *) it)->status;
}

static void
merge_destroy(lsm_iter *it)
{
	merge_iter *mi = (merge_iter *) it;

	for (int i = 0; i < mi->nchildren; i++)
		lsm_iter_destroy(mi->children[i]);
	free(mi->children);
	free(mi->heap);
	lsm_buf_free(&mi->key);
	free(mi);
}

static const lsm_iter_ops merge_ops = {
	.valid = merge_valid,
	.seek_first = merge_seek_first,
	.seek = merge_seek,
	.next = merge_next,
	.key = merge_key,
	.value = merge_value,
	.status = merge_status,
	.destroy = merge_destroy,
	.seek_last = merge_seek_last,
	.prev = merge_prev,
};

lsm_iter *
lsm_merge_iter_new(lsm_iter **children, int n)
{
	merge_iter *mi;
	size_t		alloc_n = n > 0 ? (size_t) n : 1;

	if (n < 0)
		return NULL;
	mi = calloc(1, sizeof(*mi));
	if (mi == NULL)
		goto fail;
	mi->children = malloc(alloc_n * sizeof(lsm_iter *));
	mi->heap = malloc(alloc_n * sizeof(int));
	if (mi->children == NULL || mi->heap == NULL)
		goto fail;
	mi->base.ops = &merge_ops;
	if (n > 0)
		memcpy(mi->children, children, (size_t) n * sizeof(lsm_iter *));
	mi->nchildren = n;
	mi->nheap = 0;
	mi->status = LSM_OK;
	return &mi->base;

fail:
	/* We own the children even when we cannot build the iterator. */
	for (int i = 0; i < n; i++)
		lsm_iter_destroy(children[i]);
	if (mi)
	{
		free(mi->children);
		free(mi->heap);
		free(mi);
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * lsm_dbiter: one snapshot's view of user keys
 * ---------------------------------------------------------------------
 */

/* How many next() calls to try before seeking past a user key's versions. */
#define DBITER_SKIP_NEXTS 8

struct lsm_dbiter
{
	lsm_iter   *internal;
	uint64_t	snapshot;
	bool		has_lower;
	bool		has_upper;
	bool		upper_inclusive;
	lsm_buf		lower;
	lsm_buf		upper;
	lsm_buf		skip_key;		/* user key whose remaining versions we skip */
	lsm_buf		target;			/* scratch for seek keys */
	bool		valid;
	lsm_status	status;

	/*
	 * Moving backward, the internal iterator reads a user key's versions
	 * oldest first and ends up before them, so the key and the deciding
	 * value are copied here (LevelDB's DBIter does the same).
	 */
	bool		backward;
	lsm_buf		saved_key;
	lsm_buf		saved_value;
};

lsm_dbiter *
lsm_dbiter_new(lsm_iter *internal, uint64_t snapshot_seq,
			   const lsm_range *range)
{
	lsm_dbiter *it = calloc(1, sizeof(*it));

	if (it == NULL)
	{
		lsm_iter_destroy(internal);
		return NULL;
	}
	it->internal = internal;
	it->snapshot = snapshot_seq;
	it->status = LSM_OK;
	if (range)
	{
		it->has_lower = range->has_lower;
		it->has_upper = range->has_upper;
		it->upper_inclusive = range->upper_inclusive;
		if ((it->has_lower &&
			 lsm_buf_set(&it->lower, range->lower.data, range->lower.len) != LSM_OK) ||
			(it->has_upper &&
			 lsm_buf_set(&it->upper, range->upper.data, range->upper.len) != LSM_OK))
			it->status = LSM_NO_MEMORY;
	}
	return it;
}

/* Is user key uk past the upper bound? */
static bool
past_upper(lsm_dbiter *it, lsm_slice uk)
{
	int			c;

	if (!it->has_upper)
		return false;
	c = lsm_slice_compare(uk, lsm_buf_slice(&it->upper));
	return it->upper_inclusive ? c > 0 : c >= 0;
}

/*
 * Moves the internal iterator past every version of user key skip_key.  A
 * few next() calls usually suffice; a key with many versions is skipped
 * with one seek to its oldest possible internal key.
 */
/*
 * Is the internal iterator on a version of user key skip_key?  A key too
 * short to carry a trailer is corrupt (and stops the skipping).
 */
static bool
on_skip_key(lsm_dbiter *it)
{
	lsm_slice	k;

	if (!lsm_iter_valid(it->internal))
		return false;
	k = lsm_iter_key(it->internal);
	if (k.len < LSM_IKEY_TRAILER)
	{
		it->status = LSM_CORRUPT;
		return false;
	}
	return lsm_slice_compare(lsm_ikey_user_key(k),
							 lsm_buf_slice(&it->skip_key)) == 0;
}

static void
skip_user_key(lsm_dbiter *it)
{
	lsm_slice	skip = lsm_buf_slice(&it->skip_key);
	lsm_iter   *in = it->internal;

	for (int i = 0; i < DBITER_SKIP_NEXTS; i++)
	{
		if (!on_skip_key(it))
			return;
		lsm_iter_next(in);
	}
	it->target.len = 0;
	if (lsm_ikey_append(&it->target, skip, 0, LSM_KIND_TOMBSTONE) != LSM_OK)
	{
		it->status = LSM_NO_MEMORY;
		return;
	}
	lsm_iter_seek(in, lsm_buf_slice(&it->target));
	/* The seek lands on (skip, 0, TOMBSTONE) if it exists; step over it. */
	while (on_skip_key(it))
		lsm_iter_next(in);
}

static bool
remember_skip_key(lsm_dbiter *it, lsm_slice uk)
{
	if (lsm_buf_set(&it->skip_key, uk.data, uk.len) != LSM_OK)
	{
		it->status = LSM_NO_MEMORY;
		return false;
	}
	return true;
}

/*
 * From the internal iterator's position, finds the next user key whose
 * deciding version (newest non-delta with seq <= snapshot) is a VALUE, and
 * stays on that entry.  Versions come newest first within a user key, so
 * the first eligible entry decides.
 */
static void
find_visible(lsm_dbiter *it)
{
	lsm_iter   *in = it->internal;

	it->valid = false;
	while (it->status == LSM_OK && lsm_iter_valid(in))
	{
		lsm_ikey	ik;

		if (!lsm_ikey_parse(lsm_iter_key(in), &ik))
		{
			it->status = LSM_CORRUPT;
			return;
		}
		if (past_upper(it, ik.user_key))
			return;
		if (ik.seq > it->snapshot || ik.kind >= LSM_KIND_DELTA_FIRST)
		{
			lsm_iter_next(in);
			continue;
		}
		if (ik.kind == LSM_KIND_VALUE)
		{
			it->valid = true;
			return;
		}
		/* A tombstone hides the key: skip its older versions. */
		if (!remember_skip_key(it, ik.user_key))
			return;
		skip_user_key(it);
	}
}

void
lsm_dbiter_seek(lsm_dbiter *it, const lsm_slice *key)
{
	lsm_slice	start;
	bool		have_start = false;

	it->valid = false;
	it->backward = false;
	if (it->status != LSM_OK)
		return;
	if (it->has_lower)
	{
		start = lsm_buf_slice(&it->lower);
		have_start = true;
	}
	if (key && (!have_start || lsm_slice_compare(*key, start) > 0))
	{
		start = *key;
		have_start = true;
	}
	if (!have_start)
		lsm_iter_seek_first(it->internal);
	else
	{
		/* The largest trailer sorts first: land before every version. */
		it->target.len = 0;
		if (lsm_ikey_append(&it->target, start, LSM_MAX_SEQ,
							LSM_KIND_MAX) != LSM_OK)
		{
			it->status = LSM_NO_MEMORY;
			return;
		}
		lsm_iter_seek(it->internal, lsm_buf_slice(&it->target));
	}
	find_visible(it);
}

bool
lsm_dbiter_valid(lsm_dbiter *it)
{
	return it->valid && it->status == LSM_OK;
}

/* Sets the scratch target to the first internal key of user key uk. */
static bool
target_first_version(lsm_dbiter *it, lsm_slice uk)
{
	it->target.len = 0;
	if (lsm_ikey_append(&it->target, uk, LSM_MAX_SEQ, LSM_KIND_MAX) != LSM_OK)
	{
		it->status = LSM_NO_MEMORY;
		return false;
	}
	return true;
}

void
lsm_dbiter_next(lsm_dbiter *it)
{
	if (!lsm_dbiter_valid(it))
		return;
	if (it->backward)
	{
		/* Turn: back onto the current key's versions, then past them. */
		if (!remember_skip_key(it, lsm_buf_slice(&it->saved_key)) ||
			!target_first_version(it, lsm_buf_slice(&it->saved_key)))
		{
			it->valid = false;
			return;
		}
		it->backward = false;
		lsm_iter_seek(it->internal, lsm_buf_slice(&it->target));
	}
	else if (!remember_skip_key(it, lsm_ikey_user_key(lsm_iter_key(it->internal))))
	{
		it->valid = false;
		return;
	}
	skip_user_key(it);
	find_visible(it);
}

/* Is user key uk below the lower bound? */
static bool
before_lower(lsm_dbiter *it, lsm_slice uk)
{
	return it->has_lower && lsm_slice_compare(uk, lsm_buf_slice(&it->lower)) < 0;
}

/*
 * From the internal iterator's position, moving backward, finds the
 * previous user key whose deciding version (newest non-delta with seq <=
 * snapshot) is a VALUE.  A user key's versions arrive oldest first, so all
 * of them are read and the newest eligible one decides; the internal
 * iterator ends up on the user key before it.
 */
static void
find_prev_visible(lsm_dbiter *it)
{
	lsm_iter   *in = it->internal;

	it->valid = false;
	it->backward = true;
	while (it->status == LSM_OK && lsm_iter_valid(in))
	{
		lsm_ikey	ik;
		lsm_kind	decided = LSM_KIND_TOMBSTONE;
		bool		have = false;

		if (!lsm_ikey_parse(lsm_iter_key(in), &ik))
		{
			it->status = LSM_CORRUPT;
			return;
		}
		if (before_lower(it, ik.user_key))
			return;
		if (past_upper(it, ik.user_key))
		{
			lsm_iter_prev(in);
			continue;
		}
		if (lsm_buf_set(&it->saved_key, ik.user_key.data, ik.user_key.len) != LSM_OK)
		{
			it->status = LSM_NO_MEMORY;
			return;
		}
		do
		{
			if (ik.seq <= it->snapshot && ik.kind < LSM_KIND_DELTA_FIRST)
			{
				decided = ik.kind;
				have = true;
				if (ik.kind == LSM_KIND_VALUE &&
					lsm_buf_set(&it->saved_value, lsm_iter_value(in).data,
								lsm_iter_value(in).len) != LSM_OK)
				{
					it->status = LSM_NO_MEMORY;
					return;
				}
			}
			lsm_iter_prev(in);
			if (!lsm_iter_valid(in))
				break;
			if (!lsm_ikey_parse(lsm_iter_key(in), &ik))
			{
				it->status = LSM_CORRUPT;
				return;
			}
		} while (lsm_slice_compare(ik.user_key, lsm_buf_slice(&it->saved_key)) == 0);
		if (have && decided == LSM_KIND_VALUE)
		{
			it->valid = lsm_iter_status(in) == LSM_OK;
			return;
		}
	}
}

void
lsm_dbiter_seek_for_prev(lsm_dbiter *it, const lsm_slice *key)
{
	lsm_slice	end;
	bool		have_end = false;

	it->valid = false;
	if (it->status != LSM_OK)
		return;
	if (it->has_upper)
	{
		end = lsm_buf_slice(&it->upper);
		have_end = true;
	}
	if (key && (!have_end || lsm_slice_compare(*key, end) < 0))
	{
		end = *key;
		have_end = true;
	}
	if (!have_end)
		lsm_iter_seek_last(it->internal);
	else
	{
		/* The smallest trailer sorts last: land on the oldest version. */
		it->target.len = 0;
		if (lsm_ikey_append(&it->target, end, 0, LSM_KIND_TOMBSTONE) != LSM_OK)
		{
			it->status = LSM_NO_MEMORY;
			return;
		}
		lsm_iter_seek_for_prev(it->internal, lsm_buf_slice(&it->target));
	}
	find_prev_visible(it);
}

void
lsm_dbiter_prev(lsm_dbiter *it)
{
	if (!lsm_dbiter_valid(it))
		return;
	if (!it->backward)
	{
		/* Turn: before the first version of the current key. */
		if (!target_first_version(it, lsm_ikey_user_key(lsm_iter_key(it->internal))))
		{
			it->valid = false;
			return;
		}
		lsm_iter_seek(it->internal, lsm_buf_slice(&it->target));
		if (lsm_iter_valid(it->internal))
			lsm_iter_prev(it->internal);
		else if (lsm_iter_status(it->internal) == LSM_OK)
			lsm_iter_seek_last(it->internal);
	}
	find_prev_visible(it);
}

/*
 * Moving forward, the internal iterator stays on the deciding entry, so key
 * and value point straight into it; moving backward they are the copies.
 * Either way they remain valid until the next move, as the interface
 * promises.
 */
lsm_slice
lsm_dbiter_key(lsm_dbiter *it)
{
	if (it->backward)
		return lsm_buf_slice(&it->saved_key);
	return lsm_ikey_user_key(lsm_iter_key(it->internal));
}

lsm_slice
lsm_dbiter_value(lsm_dbiter *it)
{
	if (it->backward)
		return lsm_buf_slice(&it->saved_value);
	return lsm_iter_value(it->internal);
}

lsm_status
lsm_dbiter_status(lsm_dbiter *it)
{
	if (it->status != LSM_OK)
		return it->status;
	return lsm_iter_status(it->internal);
}

void
lsm_dbiter_destroy(lsm_dbiter *it)
{
	if (it == NULL)
		return;
	lsm_iter_destroy(it->internal);
	lsm_buf_free(&it->lower);
	lsm_buf_free(&it->upper);
	lsm_buf_free(&it->skip_key);
	lsm_buf_free(&it->target);
	lsm_buf_free(&it->saved_key);
	lsm_buf_free(&it->saved_value);
	free(it);
}
