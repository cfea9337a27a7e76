/*
 * merge.h - merging iterators.
 *
 * lsm_merge_iter merges internal-key-ordered children into one ordered
 * stream with all versions (a binary heap; equal internal keys, which should
 * not occur, come from the lower-numbered child first).
 *
 * lsm_dbiter turns an internal stream into what a reader at one snapshot
 * sees: for each user key, the newest entry with seq <= snapshot that is a
 * VALUE or TOMBSTONE decides (delta kinds are skipped); tombstoned keys are
 * hidden.  Bounds restrict user keys to [lower, upper) or [lower, upper].
 */
#ifndef LSM_MERGE_H
#define LSM_MERGE_H

#include "ikey.h"
#include "iter.h"

/* Takes ownership of the children (and the array is copied). */
lsm_iter   *lsm_merge_iter_new(lsm_iter **children, int n);

typedef struct lsm_dbiter lsm_dbiter;

typedef struct lsm_range
{
	bool		has_lower;
	lsm_slice	lower;			/* inclusive */
	bool		has_upper;
	lsm_slice	upper;
	bool		upper_inclusive;
} lsm_range;

/* Takes ownership of the internal iterator.  Bounds' bytes are copied. */
lsm_dbiter *lsm_dbiter_new(lsm_iter *internal, uint64_t snapshot_seq,
						   const lsm_range *range);
/* Positions at the first user key in range (>= key if key is non-NULL). */
void		lsm_dbiter_seek(lsm_dbiter *it, const lsm_slice *key);
/*
 * Positions at the last user key in range (<= key if key is non-NULL): the
 * start of a backward scan.
 */
void		lsm_dbiter_seek_for_prev(lsm_dbiter *it, const lsm_slice *key);
bool		lsm_dbiter_valid(lsm_dbiter *it);
void		lsm_dbiter_next(lsm_dbiter *it);
/* The user key before the current one; directions may be mixed. */
void		lsm_dbiter_prev(lsm_dbiter *it);
lsm_slice	lsm_dbiter_key(lsm_dbiter *it);	/* user key */
lsm_slice	lsm_dbiter_value(lsm_dbiter *it);
lsm_status	lsm_dbiter_status(lsm_dbiter *it);
void		lsm_dbiter_destroy(lsm_dbiter *it);

#endif							/* LSM_MERGE_H */
