/*
 * level_iter.h - an iterator over one sorted level.
 *
 * The runs of a level >= 1 are disjoint and kept in key order, so a scan
 * of the level is their concatenation.  lsm_level_iter opens a run's
 * iterator only when the scan reaches it, so a seek costs one run per level
 * rather than one per run.  The caller says where run i's table and largest
 * internal key are; what it points at must outlive the iterator.  A caller
 * that opens tables on demand (and closes idle ones) gets each table it
 * handed out back through release, if given, once the iterator is done
 * with it.
 */
#ifndef LSM_LEVEL_ITER_H
#define LSM_LEVEL_ITER_H

#include "iter.h"
#include "sstable.h"

typedef struct lsm_level_runs
{
	int			n;				/* runs, in key order */
	const void *arg;			/* passed to the accessors */
	lsm_sst    *(*sst) (const void *arg, int i);
	lsm_slice	(*largest) (const void *arg, int i);	/* internal key */
	void		(*release) (const void *arg, int i);	/* may be NULL */
} lsm_level_runs;

/* NULL when out of memory. */
lsm_iter   *lsm_level_iter_new(const lsm_level_runs *runs);

/*
 * The run of the level that may hold user_key: the index of the first run
 * whose largest user key is >= user_key (binary search over runs->largest;
 * runs->sst is not used), or runs->n when every run ends before it.  The
 * caller still checks that run's key range (lsm_run_meta_covers).
 */
int			lsm_level_find(const lsm_level_runs *runs, lsm_slice user_key);

#endif							/* LSM_LEVEL_ITER_H */
