/*
 * lsm_compact.h - leveled compaction of an LSM relation inside PostgreSQL
 * (lsm_compact.c), with the filter its relation kind runs over the entries
 * merged.
 */
#ifndef LSM_COMPACT_H
#define LSM_COMPACT_H

#include "postgres.h"

#include "lsm/compaction.h"
#include "lsm_storage.h"

/* Settings (lsm.l0_compaction_trigger, lsm.compaction_target_run_size). */
extern int	lsm_l0_compaction_trigger;
extern int	lsm_compaction_target_kb;

/* Called from _PG_init, before the lsm prefix is reserved. */
extern void lsm_compact_init(void);

/* The picker's options from the settings. */
extern void lsm_compact_options(lsm_compaction_options *o);

/*
 * What a relation kind does to the entries a merge reads (for a table: the
 * MVCC garbage collection of lsm_gc.c).  The storage layer passes entries
 * through the core's filter and, after the merge, asks finish for the
 * horizon a hot standby's queries must pass (InvalidTransactionId if
 * nothing they could see went) and for bits to set in the manifest's aux;
 * it never looks inside an entry itself.
 */
typedef struct LsmCompactFilter LsmCompactFilter;
struct LsmCompactFilter
{
	const lsm_compaction_filter *entries;
	void		(*finish) (LsmCompactFilter *f, TransactionId *conflict_horizon,
						   uint64 *manifest_aux);
};

/*
 * Asks the picker (or with full, the next step of a full compaction) what
 * to compact in the table whose store s is; false if nothing.  The caller
 * makes sure no other compaction of the table runs (ShareUpdateExclusiveLock
 * on the relation) until the compaction is installed or given up.
 */
extern bool lsm_compact_pick(LsmStore *s, bool full, lsm_compaction *c);

/*
 * One compaction step with the relation kind's filter (for tables:
 * lsm_table_compact_step), which a writer stopped by level 0 runs itself
 * when no worker does (lsm_stall.c).  Set when the kind registers
 * (lsm_tableam_init); the caller holds ShareUpdateExclusiveLock.
 */
typedef bool (*LsmCompactStepFn) (LsmStore *s, bool full);
extern LsmCompactStepFn lsm_compact_step_hook;

/* Moves c's one run down a level as it is (c->move). */
extern void lsm_compact_move(LsmStore *s, const lsm_compaction *c);

/*
 * Merges the runs c names through filter f (everything kept if NULL) and
 * installs the result; *stats gets the merge's numbers.
 */
extern void lsm_compact_run(LsmStore *s, lsm_compaction *c,
							LsmCompactFilter *f, lsm_compaction_stats *stats);

#endif							/* LSM_COMPACT_H */
