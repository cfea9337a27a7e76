/*
 * manifest.h - which runs exist at which level, plus the free-extent list
 * and the counters that must survive a restart, and its checksummed
 * serialisation.
 *
 * Level 0 holds runs that may overlap, newest first (by max_seq).  Every
 * deeper level holds runs sorted by smallest key whose user-key ranges do not
 * overlap.  Freed extents carry a horizon: the owner reuses an extent only
 * once nobody who could still read the old run remains (the table AM compares
 * it with the oldest snapshot xmin and standby feedback; the standalone db
 * uses the manifest version).
 */
#ifndef LSM_MANIFEST_H
#define LSM_MANIFEST_H

#include "sstable.h"

#define LSM_MAX_LEVELS 7
#define LSM_MANIFEST_MAGIC UINT32_C(0x4c534d32)	/* "LSM2": runs with split keys */
#define LSM_MANIFEST_MAGIC_V1 UINT32_C(0x4c534d4d)	/* "LSMM": read, never written */

typedef struct lsm_extent
{
	lsm_pageno	first;
	uint32_t	npages;
	uint64_t	horizon;		/* reusable once the owner's horizon passes this */
} lsm_extent;

typedef struct lsm_level
{
	lsm_run_meta *runs;
	int			nruns;
	int			cap;
} lsm_level;

typedef struct lsm_manifest
{
	uint64_t	version;		/* bumped by every change that is saved */
	uint64_t	next_run_id;
	uint64_t	last_seq;		/* highest sequence number handed out and logged */
	uint64_t	flushed_seq;	/* every entry with seq <= this is in a run */
	lsm_pageno	log_head;		/* first live log page, 0 if none */
	uint64_t	aux;			/* opaque to the core */
	lsm_level	levels[LSM_MAX_LEVELS];
	lsm_extent *free;			/* sorted by first page, coalesced */
	int			nfree;
	int			free_cap;
} lsm_manifest;

void		lsm_manifest_init(lsm_manifest *m);
void		lsm_manifest_free(lsm_manifest *m);
lsm_status	lsm_manifest_copy(lsm_manifest *dst, const lsm_manifest *src);

/* Adds a copy of run (run->level says where); keeps each level's order. */
lsm_status	lsm_manifest_add_run(lsm_manifest *m, const lsm_run_meta *run);
/* Removes run id from level; LSM_NOT_FOUND if absent. */
lsm_status	lsm_manifest_remove_run(lsm_manifest *m, int level, uint64_t id);
uint64_t	lsm_manifest_level_bytes(const lsm_manifest *m, int level);
int			lsm_manifest_nruns(const lsm_manifest *m);

/* Records a freed extent, coalescing with neighbours of equal horizon. */
lsm_status	lsm_manifest_free_extent(lsm_manifest *m, lsm_pageno first,
									 uint32_t npages, uint64_t horizon);

/*
 * Takes npages contiguous pages from a free extent whose horizon is <=
 * reusable_horizon (first fit).  LSM_NOT_FOUND if none fits; the owner then
 * extends the store.
 */
lsm_status	lsm_manifest_take_extent(lsm_manifest *m, uint32_t npages,
									 uint64_t reusable_horizon, lsm_pageno *first);

/*
 * Forgets the free pages at or past npages (the store's size): a free list
 * must never hand out a page the store does not have.  Returns how many
 * pages were dropped.
 */
uint64_t	lsm_manifest_clip_free(lsm_manifest *m, lsm_pageno npages);

/*
 * Serialisation: magic | body length | body | xxh3-64 of body.  deserialize
 * rejects anything malformed with LSM_CORRUPT (and never reads past data),
 * then runs lsm_manifest_check.
 */
lsm_status	lsm_manifest_serialize(const lsm_manifest *m, lsm_buf *out);
lsm_status	lsm_manifest_deserialize(lsm_slice data, lsm_manifest *m);

/*
 * Invariants: levels ordered and (below L0) non-overlapping, smallest <=
 * largest in every run, run ids unique and < next_run_id, extents of runs
 * and free extents pairwise disjoint and not touching page 0.  The first
 * problem goes to msg.
 */
lsm_status	lsm_manifest_check(const lsm_manifest *m, char *msg, size_t msglen);

#endif							/* LSM_MANIFEST_H */
