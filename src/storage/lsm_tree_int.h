/*
 * lsm_tree_int.h - what the files behind lsm_tree.h share: lsm_tree.c
 * (a backend's handles), lsm_tree_write.c, lsm_tree_read.c,
 * lsm_tree_iter.c, lsm_pending.c (the log records a backend holds back)
 * and lsm_view.c (the versions readers see, the run cache): the
 * backend-local structures of a tree.  Not for other files:
 * they use lsm_tree.h.
 */
#ifndef LSM_TREE_INT_H
#define LSM_TREE_INT_H

#include "lsm/sstable.h"
#include "lsm_storage.h"
#include "lsm_tree.h"

/*
 * A run of the versions that contain it.  Its table (index block and bloom
 * filter, read into backend memory: some 300 kB for a run of 8 MB) is
 * opened when a reader first needs it and stays open while readers hold it
 * (pins).  An open run nobody holds waits in lsm_idle_runs, most recently
 * used first; past lsm.max_open_runs of them the backend closes the least
 * recently used, so its memory does not grow with the size of the tables
 * it reads (LevelDB's table cache).
 */
typedef struct LsmRun
{
	uint64		id;
	lsm_sst    *sst;			/* NULL while closed */
	LsmRunPager rpager;			/* what sst reads through */
	lsm_run_meta meta;			/* our copy: key range for skipping */
	int			refs;			/* versions containing the run */
	int			pins;			/* readers of sst now */
	bool		idle;			/* open, unpinned, in lsm_idle_runs */
	dlist_node	idle_node;
} LsmRun;


/* The runs of one manifest version. */
typedef struct LsmVersion
{
	uint64		version;
	int			refs;
	int			nruns[LSM_MAX_LEVELS];
	LsmRun	  **runs[LSM_MAX_LEVELS];
	uint64		nentries;
} LsmVersion;

struct LsmTree
{
	RelFileNode node;			/* hash key; must be first */
	Oid			relid;
	Oid			owner_relid;	/* the relation that owns node (lsm_tree_open) */
	LsmStore	store;
	MemoryContext cxt;
	uint64		generation;		/* of the shared entry the caches match */
	LsmVersion *current;
	int			nuses;			/* uses in progress (scans, calls) */
	bool		check;			/* relcache said the relation changed */
	bool		key_valid;		/* key holds the metapage's key description */
	LsmKeyInfo	key;
	uint64		described;		/* entry generation lsm_tree_describe told */
	bool		described_wal;	/* ... and the needs_wal it told */

	/*
	 * Log records of this transaction's writes that are not on log pages
	 * yet (lsm_pending.c): pending.data[pending_start..
	 * pending.len).  The tree is in lsm_pending_trees while it has any.
	 */
	lsm_buf		pending;
	size_t		pending_start;
	bool		pending_listed;
	dlist_node	pending_node;

	/* Ids taken from the shared counter and not used yet. */
	uint64		id_next;
	uint64		id_end;

	/* On a hot standby: the log read into backend-local memory. */
	bool		in_recovery;	/* the operation begun last runs in recovery */
	LsmStandbyLog standby;
};

/* What a reader sees. */
typedef struct LsmView
{
	LsmVersion *version;
	int			nmems;
	int			mems[LSM_MAX_MEMS]; /* regions, newest first */
	LsmStandbyMem *smem;		/* on a standby, the log's records instead */
} LsmView;

/* lsm_tree.c */
extern LsmUse *lsm_tree_use(LsmTree *t, bool load);
extern void lsm_tree_check_writable(LsmTree *t);
extern void lsm_tree_reset_cache(LsmTree *t);
extern lsm_slice lsm_level_run_largest(const void *arg, int i);

extern LsmTree *lsm_tree_find_local(const RelFileNode *node);
extern void lsm_tree_recheck(void);

/* lsm_pending.c */
extern void lsm_cover_xid(void);
extern void lsm_pending_reset(LsmTree *t);
extern void lsm_pending_reserve(LsmTree *t, Size need);
extern bool lsm_pending_committing(void);
extern void lsm_pending_add(LsmTree *t, const LsmWrite *w, int n, uint64 seq);
extern void lsm_pending_written(LsmTree *t, LsmTableShared *e);

/* lsm_view.c */
extern lsm_sst *lsm_run_pin(LsmRun *r);
extern void lsm_run_unpin(LsmRun *r);
extern void lsm_version_unref(LsmTree *t, LsmVersion *v);
extern void lsm_view_acquire(LsmTree *t, LsmUse *u, LsmView *view);
extern void lsm_view_release(LsmTree *t, LsmView *view);
extern int	lsm_view_memtables(const LsmView *view, lsm_memtable **mts);

#endif							/* LSM_TREE_INT_H */
