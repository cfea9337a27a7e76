/*
 * lsm_am.c - module entry point of the lsm_am extension.
 *
 * lsm_am keeps its memtables in shared memory allocated at server start, so
 * the library only works when it is listed in shared_preload_libraries.
 * _PG_init refuses any other way of loading it (CREATE EXTENSION, LOAD, a C
 * function call in a backend) with an error that says how to fix it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "lsm/version.h"
#include "lsm_compact.h"
#include "lsm_rmgr.h"
#include "lsm_customscan.h"
#include "lsm_storage.h"
#include "lsm_tableam.h"
#include "lsm_workers.h"

PG_MODULE_MAGIC;

/* Must match default_version in lsm_am.control. */
#define LSM_AM_VERSION "0.1"

void		_PG_init(void);

PG_FUNCTION_INFO_V1(lsm_am_version);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("lsm_am must be loaded via shared_preload_libraries"),
				errhint("Add lsm_am to shared_preload_libraries in postgresql.conf and restart the server."));

	/*
	 * The storage layer: its settings (lsm.memtable_size,
	 * lsm.memtable_pool_size, lsm.max_tables, lsm.bloom_bits_per_key), its
	 * shared memory (memtable pool, table directory) and its hooks.
	 */
	lsm_storage_init();

	/* WAL records of our own: recovery conflicts for removed row versions. */
	lsm_rmgr_init();

	/* Compaction settings (lsm.l0_compaction_trigger and the run size). */
	lsm_compact_init();

	/*
	 * The background workers: the lsm flusher and the compaction launcher,
	 * which start its per-database workers.
	 */
	lsm_flusher_init();
	lsm_compact_workers_init();

	/*
	 * Write stalls (lsm.l0_slowdown_trigger, lsm.l0_stop_trigger,
	 * lsm.max_frozen_memtables, lsm.delayed_write_rate).
	 */
	lsm_stall_init();
	lsm_tree_init();

	/*
	 * The lsm.* settings (memtable pool and per-table memtable size, bloom
	 * bits per key, compaction knobs) are defined here by the issues that
	 * implement what they control; a setting that changes nothing is not
	 * defined.  Reserving the prefix now makes a misspelt lsm.* setting an
	 * error instead of a silently ignored placeholder.
	 */
	MarkGUCPrefixReserved("lsm");

	/* Keep the planner from splitting scans of lsm tables across workers. */
	lsm_tableam_init();

	/* Key ranges and key order: the LsmScan custom scan. */
	lsm_customscan_init();
}

/*
 * lsm_am_version() returns text
 *
 * "lsm_am <extension library version> (core <LSM core version>)".
 */
Datum
lsm_am_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text("lsm_am " LSM_AM_VERSION
									 " (core " LSM_CORE_VERSION ")"));
}
