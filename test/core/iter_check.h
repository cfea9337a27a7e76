/*
 * iter_check.h - checks any iterator against the sorted internal keys it
 * should yield: the whole sequence backward from seek_last, then a random
 * walk of nexts, prevs, seeks, seeks-for-prev, seek_first and seek_last,
 * every position compared with a model index into keys.  Include after
 * tap.h.
 */
#ifndef LSM_ITER_CHECK_H
#define LSM_ITER_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "ikey.h"
#include "iter.h"

static inline bool
iter_check_at(lsm_iter *it, const lsm_slice *keys, size_t n, long pos)
{
	lsm_slice	k;

	if (pos < 0 || pos >= (long) n)
		return !lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK;
	if (!lsm_iter_valid(it))
		return false;
	k = lsm_iter_key(it);
	return k.len == keys[pos].len && memcmp(k.data, keys[pos].data, k.len) == 0;
}

/* Runs the checks; what names the iterator in the test output. */
static inline void
iter_check_both_ways(lsm_iter *it, const lsm_slice *keys, size_t n,
					 int steps, const char *what)
{
	long		pos;
	bool		good = true;
	int			step;

	/* The whole sequence backward. */
	lsm_iter_seek_last(it);
	for (pos = (long) n - 1; pos >= 0 && good; pos--)
	{
		good = iter_check_at(it, keys, n, pos);
		lsm_iter_prev(it);
	}
	ok(good && iter_check_at(it, keys, n, -1),
	   "%s: backward from seek_last yields all %zu entries in reverse", what, n);

	/* A random walk that turns often. */
	pos = -1;
	for (step = 0; step < steps && good; step++)
	{
		int			op = (int) (tap_rand() % 10);
		long		j = n > 0 ? (long) (tap_rand() % n) : 0;

		if (pos < 0 || pos >= (long) n)
			op = op < 5 ? 6 : 7;	/* reposition */
		switch (op)
		{
			case 0:
			case 1:
			case 2:
				lsm_iter_next(it);
				pos = pos + 1 < (long) n ? pos + 1 : -1;
				break;
			case 3:
			case 4:
			case 5:
				lsm_iter_prev(it);
				pos--;
				break;
			case 6:
				if (n == 0)
				{
					lsm_iter_seek_first(it);
					pos = -1;
				}
				else
				{
					lsm_iter_seek(it, keys[j]);
					pos = j;
				}
				break;
			case 7:
				if (n == 0)
				{
					lsm_iter_seek_last(it);
					pos = -1;
				}
				else
				{
					lsm_iter_seek_for_prev(it, keys[j]);
					pos = j;
				}
				break;
			case 8:
				lsm_iter_seek_first(it);
				pos = n > 0 ? 0 : -1;
				break;
			default:
				lsm_iter_seek_last(it);
				pos = (long) n - 1;
				break;
		}
		good = iter_check_at(it, keys, n, pos);
	}
	ok(good, "%s: a random walk of %d moves both ways matches (stopped at move %d)",
	   what, steps, step);
}

#endif							/* LSM_ITER_CHECK_H */
