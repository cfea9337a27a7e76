/*
 * lsm_compact.h - leveled compaction of an lsm table inside PostgreSQL
 * (lsm_compact.c), and the horizon that decides when the pages of runs it
 * removed may be reused.
 */
#ifndef LSM_COMPACT_H
#define LSM_COMPACT_H

#include "postgres.h"

#include "lsm/compaction.h"
#include "lsm_gc.h"
#include "lsm_storage.h"

/* Settings (lsm.l0_compaction_trigger, lsm.compaction_target_run_size). */
extern int	lsm_l0_compaction_trigger;
extern int	lsm_compaction_target_kb;

/* Called from _PG_init, before the lsm prefix is reserved. */
extern void lsm_compact_init(void);

/* The picker's options from the settings. */
extern void lsm_compact_options(lsm_compaction_options *o);

/*
 * Runs one compaction of the table whose store s is (s->entry set): the one
 * the picker asks for, or with full, the next step of a full compaction.
 * Returns false if there was nothing to do.  The caller makes sure no other
 * compaction of the table runs (ShareUpdateExclusiveLock on the relation).
 */
extern bool lsm_compact_step(LsmStore *s, bool full);

/*
 * Merges the runs c names through gc's filter (none if NULL) and installs
 * the result; *stats gets the merge's numbers.  The same conditions as for
 * lsm_compact_step apply.  lsm_compact_count accounts for one merge.
 */
extern void lsm_compact_run(LsmStore *s, lsm_compaction *c, LsmGc *gc,
							lsm_compaction_stats *stats);
extern void lsm_compact_count(LsmStore *s, const lsm_compaction_stats *stats,
							  const LsmGcStats *gstats);

/*
 * Background compaction (lsm_compact_worker.c): the launcher is registered from
 * lsm_compact_init; a flush that leaves the table needing compaction (its
 * manifest m just committed) asks for it with lsm_compact_request.
 */
extern void lsm_worker_init(void);
extern void lsm_compact_request(LsmStore *s, const lsm_manifest *m);
extern bool lsm_compaction_worker_running(Oid dbid);

/* Whether a request for the table waits for a worker (for lsm_stats). */
extern bool lsm_compact_requested(Oid dbid, Oid relid);

#endif							/* LSM_COMPACT_H */
