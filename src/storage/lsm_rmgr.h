/*
 * lsm_rmgr.h - lsm_am's own WAL records (a custom resource manager).
 *
 * Everything an lsm table stores is logged as generic WAL or full pages;
 * this resource manager carries only what those cannot: the recovery
 * conflicts a hot standby must raise when the primary removes row versions.
 */
#ifndef LSM_RMGR_H
#define LSM_RMGR_H

#include "postgres.h"

#include "access/rmgr.h"
#include "storage/relfilenode.h"

/*
 * PostgreSQL's id for extensions under development; a released lsm_am
 * would register an id of its own (wiki: CustomWALResourceManagers).  Two
 * extensions loaded together must not share one.
 */
#define LSM_RMGR_ID		RM_EXPERIMENTAL_ID

/* Called from _PG_init (shared_preload_libraries). */
extern void lsm_rmgr_init(void);

/*
 * Before a compaction whose filter may remove row versions installs its
 * output: row versions whose deleters committed before horizon (an xid)
 * may be gone, so standby queries whose snapshots are older get a
 * recovery conflict, as heap's pruning gives them.
 */
extern void lsm_log_removal_horizon(const RelFileNode *node, bool needs_wal,
									TransactionId horizon);

#endif							/* LSM_RMGR_H */
