/*
 * lsm_workers.h - the background workers: the flusher
 * (lsm_flush_worker.c), which writes frozen memtables so that writers do
 * not, and the compaction launcher with its per-database workers
 * (lsm_compact_worker.c).  Both serve the storage layer through the hooks
 * of lsm_background.h, which their init functions install.
 */
#ifndef LSM_WORKERS_H
#define LSM_WORKERS_H

#include "postgres.h"

/* Called from _PG_init: register the workers and their shared memory. */
extern void lsm_flusher_init(void);
extern void lsm_compact_workers_init(void);

/* Whether a compaction request for the table waits for a worker (lsm_stats). */
extern bool lsm_compact_requested(Oid dbid, Oid relid);

#endif							/* LSM_WORKERS_H */
