/*
 * compaction.h - leveled compaction: choosing what to merge and merging it.
 *
 * Picker: level 0 is scored by run count / l0_trigger, level n >= 1 by its
 * bytes / (level1_bytes * ratio^(n-1)); the highest score >= 1 wins.  An L0
 * compaction takes every L0 run plus the L1 runs they overlap; a deeper one
 * takes one run (the one overlapping the fewest next-level bytes per byte of
 * its own) plus the overlapped runs of the next level; when it overlaps none,
 * the run can move down without a merge (c->move).
 *
 * Merge: all versions of the inputs in internal-key order.  For one user key,
 * versions older than the newest version visible to every snapshot
 * (seq <= oldest_snapshot) are dropped; a tombstone visible to every
 * snapshot is dropped at the bottommost level; and the caller's filter may
 * drop any other entry or rewrite it (kind and value; the table AM's MVCC
 * garbage collection and freezing).  An entry the filter turns into a
 * tombstone shadows the older versions of its user key like any other.
 * Output runs are cut near target_run_bytes, only between user keys, so runs
 * of one level never share a user key; the filter may label each output run
 * (lsm_run_meta.aux) from the entries that went into it.
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

	/*
	 * Key families (false): user keys fall into families by their first
	 * byte.  Outputs are then cut where the family changes, so no run of a
	 * level >= 1 spans two, and the runs of the next level a level-0
	 * compaction takes are those meeting its inputs' keys family by family
	 * (with the inputs' split keys), not one range over all of them: a run
	 * holding the newest keys of two families does not drag in everything
	 * that sorts between them.
	 */
	bool		families;
} lsm_compaction_options;

void		lsm_compaction_options_default(lsm_compaction_options *o);

typedef struct lsm_compaction
{
	int			level;			/* input level */
	int			out_level;
	lsm_run_meta *inputs[2];	/* copies: [0] from level, [1] from out_level */
	int			ninputs[2];
	bool		bottommost;		/* nothing below out_level overlaps: tombstones may go */
	bool		families;		/* from the options: cut outputs per family */

	/*
	 * Set by lsm_compaction_pick for one run of a level >= 1 that no run of
	 * out_level overlaps: merged alone it would come out as the same run,
	 * so the caller may move it down as it is (lsm_manifest_apply_move)
	 * instead of rewriting it, as LevelDB's "trivial move" does.  A caller
	 * whose filter would still find garbage or work in it merges it.
	 */
	bool		move;
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

/*
 * The same, for the runs whose entries are all at or below max_seq: level-0
 * runs with a larger max_seq (flushed later, hence newer than everything
 * else) are left where they are and do not count.
 */
bool		lsm_compaction_pick_all_upto(const lsm_manifest *m,
										 const lsm_compaction_options *o,
										 uint64_t max_seq, lsm_compaction *c);

/*
 * Rewrites runs of one level >= 1 in place (out_level == level): those whose
 * user keys meet [lo, hi) (an empty lo or hi leaves that side open), or all
 * of them.  False if none does.  With a filter this is garbage collection or
 * freezing of data that has nowhere deeper to go.
 */
bool		lsm_compaction_pick_rewrite(const lsm_manifest *m,
										const lsm_compaction_options *o,
										int level, lsm_slice lo, lsm_slice hi,
										lsm_compaction *c);
void		lsm_compaction_free(lsm_compaction *c);

/* What a filter does with one entry. */
typedef enum lsm_filter_action
{
	LSM_FILTER_KEEP,			/* write it as it is */
	LSM_FILTER_DROP,			/* leave it out */
	LSM_FILTER_REWRITE,			/* write *kind and *value instead (same seq) */
	LSM_FILTER_FAIL				/* stop: the merge returns LSM_ABORTED */
} lsm_filter_action;

/*
 * The caller's say in a merge.  decide sees every entry the sequence-number
 * rules keep, newest first within a user key; for LSM_FILTER_REWRITE it
 * sets *kind and *value (the bytes stay the filter's until its next call).
 * kept, if set, is told each entry written (after any rewrite), in order;
 * run_aux, if set, gives the aux and aux2 of each output run as it is
 * finished (from the entries kept since the last one).  Any member may be
 * NULL.
 */
typedef struct lsm_compaction_filter
{
	lsm_filter_action (*decide) (void *arg, const lsm_ikey *key,
								 lsm_slice value, lsm_kind *kind,
								 lsm_slice *new_value);
	void		(*kept) (void *arg, const lsm_ikey *key, lsm_slice value);
	void		(*run_aux) (void *arg, uint64_t *aux, uint64_t *aux2);
	void	   *arg;
} lsm_compaction_filter;

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
	uint64_t	dropped;		/* by the rules and by the filter */
	uint64_t	rewritten;		/* by the filter */
} lsm_compaction_stats;

/*
 * Merges c's inputs into new runs at c->out_level.  *outs (malloc'd array of
 * *nouts metas, ids left 0 for the caller) is set on success.  Nothing in the
 * manifest changes: the caller installs the result with
 * lsm_manifest_apply_compaction.
 */
lsm_status	lsm_compaction_merge(const lsm_run_writer *w, const lsm_compaction *c,
								 uint64_t oldest_snapshot,
								 const lsm_compaction_filter *filter,
								 lsm_run_meta **outs, int *nouts,
								 lsm_compaction_stats *stats);

/*
 * Removes c's inputs from m, frees their extents with horizon, and adds outs
 * (assigning ids from next_run_id; an in-place rewrite puts them back in the
 * same level).  On error m is unchanged.
 */
lsm_status	lsm_manifest_apply_compaction(lsm_manifest *m, const lsm_compaction *c,
										  lsm_run_meta *outs, int nouts,
										  uint64_t horizon);

/*
 * Installs a move (c->move): the one input run leaves c->level for
 * c->out_level with its id, pages and keys unchanged.  On error (the run is
 * gone) m is unchanged.
 */
lsm_status	lsm_manifest_apply_move(lsm_manifest *m, const lsm_compaction *c);

#endif							/* LSM_COMPACTION_H */
