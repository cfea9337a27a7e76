/*
 * memtable.h - a skip list of internal keys living entirely inside one
 * caller-provided memory region.
 *
 * Links are 32-bit offsets from the region's start, never pointers, so the
 * region may sit in PostgreSQL shared memory mapped at different addresses.
 * Entries are bump-allocated from the region and never freed; the whole
 * region is reset when the memtable is recycled.
 *
 * Concurrency: one writer at a time (the caller serialises writers, e.g.
 * with an LWLock), any number of concurrent readers without locks.  A node
 * is fully written before it is published with a release store; readers
 * follow links with acquire loads.
 */
#ifndef LSM_MEMTABLE_H
#define LSM_MEMTABLE_H

#include "ikey.h"
#include "iter.h"

typedef struct lsm_memtable lsm_memtable;

/* Smallest region lsm_memtable_init accepts. */
#define LSM_MEMTABLE_MIN_SIZE 4096

/* Formats region as an empty memtable; size must be <= 4 GiB. */
lsm_status	lsm_memtable_init(void *region, size_t size);

/* The memtable stored at region (after init, in any process). */
static inline lsm_memtable *
lsm_memtable_at(void *region)
{
	return (lsm_memtable *) region;
}

/*
 * Adds an entry.  Returns LSM_FULL, changing nothing, when the region has no
 * room; the caller then freezes this memtable and starts another.  Adding an
 * internal key (user key, seq, kind) that is already present is a caller bug.
 */
lsm_status	lsm_memtable_add(lsm_memtable *mt, lsm_slice user_key,
							 uint64_t seq, lsm_kind kind, lsm_slice value);

/* Whether an entry of this size could still fit (for batching). */
bool		lsm_memtable_has_room(lsm_memtable *mt, size_t key_len,
								  size_t value_len);

/*
 * Finds the newest entry for user_key with seq <= snapshot_seq, of any kind.
 * On LSM_OK sets *seq, *kind and *value (pointing into the region).
 */
lsm_status	lsm_memtable_get(lsm_memtable *mt, lsm_slice user_key,
							 uint64_t snapshot_seq, uint64_t *seq,
							 lsm_kind *kind, lsm_slice *value);

/*
 * Checks the list's structure: every level in strictly ascending order and
 * made of nodes that tall, and as many entries as counted.  LSM_CORRUPT if
 * not.  For the writer, or with no writer running.
 */
lsm_status	lsm_memtable_verify(lsm_memtable *mt);

uint64_t	lsm_memtable_count(lsm_memtable *mt);
size_t		lsm_memtable_bytes_used(lsm_memtable *mt);	/* including header */
size_t		lsm_memtable_size(lsm_memtable *mt);

/* An iterator over all entries in internal-key order (malloc'd). */
lsm_iter   *lsm_memtable_iter_new(lsm_memtable *mt);

#endif							/* LSM_MEMTABLE_H */
