/*
 * compaction.h - leveled compaction: choosing what to merge and merging it.
 *
 * Picker: level 0 is scored by run count / l0_trigger, level n >= 1 by its
 * bytes / (level1_bytes * ratio^(n-1)); the highest score >= 1 wins.  An L0
 * compaction takes every L0 run plus the L1 runs they overlap; a deeper one
 * takes one run (rotating through the key space) plus the overlapped runs of
 * the next level.
 *
 * Merge: all versions of the inputs in internal-key order.  For one user key,
 * versions older than the newest version visible to every snapshot
 * (seq <= oldest_snapshot) are dropped; a tombstone visible to every
 * snapshot is dropped at the bottommost level; and the caller's drop callback
 * may drop any other entry (the table AM's MVCC garbage collection).  Output
 * runs are cut near target_run_bytes, only between user keys, so runs of one
 * level never share a user key.
 */
#ifndef LSM_COMPACTION_H
#define LSM_COMPACTION_H

#include "manifest.h"

typedef struct lsm_compaction_options
{
	int			l0_trigger;		/* 4 */
	uint64_t	level1_bytes;	/* 10 MiB */
	int			ratio;			/* 10 */
	uint64_t	target_run_bytes;	/* 2 MiB */
	int			nlevels;		/* <= LSM_MAX_LEVELS */
} lsm_compaction_options;

void		lsm_compaction_options_default(lsm_compaction_options *o);

typedef struct lsm_compaction
{
	int			level;			/* input level */
	int			out_level;
	lsm_run_meta *inputs[2];	/* copies: [0] from level, [1] from out_level */
	int			ninputs[2];
	bool		bottommost;		/* nothing below out_level overlaps: tombstones may go */
	double		score;
	/* Output runs are cut near this size; the pickers copy it from the
	 * options, 0 means the default (2 MiB). */
	uint64_t	target_run_bytes;
} lsm_compaction;

/* Fills c and returns true if some level needs compaction. */
bool		lsm_compaction_pick(const lsm_manifest *m,
								const lsm_compaction_options *o,
								lsm_compaction *c);

/*
 * A full compaction of everything into the last non-empty level, one level
 * at a time: each call folds the shallowest non-empty level (whole) into the
 * next non-empty one below it (whole; L1 if only L0 holds runs).  Call it
 * until it returns false, which it does once a single level >= 1 holds
 * every run.
 */
bool		lsm_compaction_pick_all(const lsm_manifest *m,
									const lsm_compaction_options *o,
									lsm_compaction *c);
void		lsm_compaction_free(lsm_compaction *c);

/* Return true to drop the entry. */
typedef bool (*lsm_drop_fn) (void *arg, const lsm_ikey *key, lsm_slice value);

/* Gives the caller's extent for a run of npages pages. */
typedef lsm_status (*lsm_alloc_fn) (void *arg, uint32_t npages, lsm_pageno *first);

typedef struct lsm_run_writer
{
	lsm_pager  *pager;
	const lsm_sst_options *sst_opts;
	lsm_alloc_fn alloc;
	void	   *alloc_arg;
} lsm_run_writer;

/*
 * Writes the stream of a finished builder to a fresh extent and completes
 * meta (first_page, npages).  Used by memtable flush and by compaction.
 */
lsm_status	lsm_run_write(const lsm_run_writer *w, lsm_sst_builder *b,
						  lsm_run_meta *meta);

/* Writes all entries of it (internal order) as one run at level 0. */
lsm_status	lsm_flush_iter(const lsm_run_writer *w, lsm_iter *it,
						   lsm_run_meta *meta);

typedef struct lsm_compaction_stats
{
	uint64_t	bytes_read;
	uint64_t	bytes_written;
	uint64_t	entries_in;
	uint64_t	entries_out;
	uint64_t	dropped;
} lsm_compaction_stats;

/*
 * Merges c's inputs into new runs at c->out_level.  *outs (malloc'd array of
 * *nouts metas, ids left 0 for the caller) is set on success.  Nothing in the
 * manifest changes: the caller installs the result with
 * lsm_manifest_apply_compaction.
 */
lsm_status	lsm_compaction_merge(const lsm_run_writer *w, const lsm_compaction *c,
								 uint64_t oldest_snapshot, lsm_drop_fn drop,
								 void *drop_arg, lsm_run_meta **outs, int *nouts,
								 lsm_compaction_stats *stats);

/*
 * Removes c's inputs from m, frees their extents with horizon, and adds outs
 * (assigning ids from next_run_id).  On error m is unchanged.
 */
lsm_status	lsm_manifest_apply_compaction(lsm_manifest *m, const lsm_compaction *c,
										  lsm_run_meta *outs, int nouts,
										  uint64_t horizon);

#endif							/* LSM_COMPACTION_H */
