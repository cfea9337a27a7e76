/*
 * lsm_tableam.c - the lsm table access method: its TableAmRoutine, the DDL
 * callbacks (storage creation, TRUNCATE, SET TABLESPACE, VACUUM, CLUSTER),
 * sizes and planner estimates, and what lsm tables do not support yet.
 *
 * The callbacks themselves live by responsibility in lsm_scan.c (sequential
 * scans, ANALYZE), lsm_rowid_scan.c (bitmap heap scans, TABLESAMPLE),
 * lsm_fetch.c (reads by TID), lsm_modify.c (writes and row locks) and
 * lsm_index_build.c (CREATE INDEX).
 *
 * Parallel scans: a block-range split of the relation means nothing for a
 * tree whose rows are ordered by key across memtables and runs, so lsm tables
 * never get a parallel (partial) scan.  A get_relation_info hook sets the
 * table's parallel worker count to zero, exactly as the parallel_workers = 0
 * storage parameter would: the planner then builds no partial path on the
 * table (parallel seq, index or bitmap scans) and no parallel index build.
 * Queries may still run in parallel elsewhere; a parallel worker can read an
 * lsm table whole (e.g. the inner side of a join), which needs nothing
 * special.  The same hook turns off index-only scans: there is no visibility
 * map to skip the table with.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/storage.h"
#include "catalog/storage_xlog.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "lsm_compact.h"
#include "lsm_gc.h"
#include "lsm_keys.h"
#include "lsm_tableam.h"

PG_FUNCTION_INFO_V1(lsm_tableam_handler);

static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

static const TupleTableSlotOps *
lsm_slot_callbacks(Relation rel)
{
	/* A row's VALUE is a heap tuple (lsm_tuple.h). */
	return &TTSOpsHeapTuple;
}

/* ------------------------------------------------------------------------
 * Parallel scans (never planned; see the file comment)
 * ------------------------------------------------------------------------
 */

static Size
lsm_parallelscan_estimate(Relation rel)
{
	return table_block_parallelscan_estimate(rel);
}

static Size
lsm_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	return table_block_parallelscan_initialize(rel, pscan);
}

static void
lsm_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
	table_block_parallelscan_reinitialize(rel, pscan);
}

static void
lsm_get_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
					  RelOptInfo *rel)
{
	Relation	relation;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relationObjectId, inhparent, rel);

	/* The planner holds a lock on the relation already. */
	relation = table_open(relationObjectId, NoLock);
	if (lsm_is_lsm_relation(relation))
	{
		ListCell   *lc;

		rel->rel_parallel_workers = 0;

		/* No bitmap paths where the executor's prefetch would fail. */
		if (!lsm_bitmap_scan_possible(relation))
		{
			foreach(lc, rel->indexlist)
				((IndexOptInfo *) lfirst(lc))->amhasgetbitmap = false;
		}

		/*
		 * No visibility map: an index-only scan would visit every row
		 * anyway, while being costed as if it did not need to.
		 */
		foreach(lc, rel->indexlist)
		{
			IndexOptInfo *index = (IndexOptInfo *) lfirst(lc);

			for (int i = 0; i < index->ncolumns; i++)
				index->canreturn[i] = false;
		}
	}
	table_close(relation, NoLock);
}

void
lsm_tableam_init(void)
{
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = lsm_get_relation_info;

	/* A stalled writer compacts a table with the table's filter. */
	lsm_compact_step_hook = lsm_table_compact_step;
}

/* ------------------------------------------------------------------------
 * DDL
 * ------------------------------------------------------------------------
 */

/*
 * Formats srel, a new relfilenode of rel, keyed as rel's first column is
 * now: the key description is fixed for the relfilenode's life.
 */
static void
lsm_format_storage(Relation rel, SMgrRelation srel, char persistence)
{
	LsmKeyInfo	ki;

	lsm_key_info_catalog(rel, &ki);
	lsm_tree_init_storage(rel, srel, persistence, &ki);
}

/*
 * CREATE TABLE, TRUNCATE (transactional), table rewrites: create the new
 * relfilenode and format its metapage.  rel may still describe the old
 * relfilenode, so everything goes through srel.
 */
static void
lsm_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode,
							  char persistence, TransactionId *freezeXid,
							  MultiXactId *minmulti)
{
	SMgrRelation srel;

	/*
	 * No transaction older than RecentXmin is still running, so no row can
	 * carry an older xid; and no multixact older than the oldest one anyone
	 * can still use (heap's reasoning, see heapam_handler.c).
	 */
	*freezeXid = RecentXmin;
	*minmulti = GetOldestMultiXactId();

	srel = RelationCreateStorage(*newrnode, persistence, true);

	/*
	 * The metapage and first log page; for an unlogged table also its init
	 * fork, which recovery copies over the main fork after a crash.
	 */
	lsm_format_storage(rel, srel, persistence);

	smgrclose(srel);
}

/*
 * TRUNCATE of a table created or truncated in the same transaction (and ON
 * COMMIT DELETE ROWS): empty the relfilenode in place.  Its memtables go
 * first: they hold entries of the log being thrown away.
 */
static void
lsm_relation_nontransactional_truncate(Relation rel)
{
	lsm_tree_discard_pending(&rel->rd_node);
	lsm_tree_forget(rel->rd_node);
	RelationTruncate(rel, 0);
	lsm_format_storage(rel, RelationGetSmgr(rel), rel->rd_rel->relpersistence);
}

/*
 * ALTER TABLE SET TABLESPACE: copy every fork page by page, as heap does.
 * All durable state is in the pages (the memtable is a cache of the log
 * pages, and of this transaction's pending log records, written first), so
 * the copy is complete once shared buffers are flushed; the new relfilenode
 * replays its log on first use.
 */
static void
lsm_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	SMgrRelation dstrel;

	dstrel = smgropen(*newrnode, rel->rd_backend);

	/*
	 * We hold AccessExclusiveLock: nothing changes the pages meanwhile, and
	 * only this transaction can have log records not yet on them.
	 */
	lsm_tree_write_pending(&rel->rd_node);
	FlushRelationBuffers(rel);

	RelationCreateStorage(*newrnode, rel->rd_rel->relpersistence, true);

	RelationCopyStorage(RelationGetSmgr(rel), dstrel, MAIN_FORKNUM,
						rel->rd_rel->relpersistence);

	for (ForkNumber forkNum = MAIN_FORKNUM + 1; forkNum <= MAX_FORKNUM;
		 forkNum++)
	{
		if (smgrexists(RelationGetSmgr(rel), forkNum))
		{
			smgrcreate(dstrel, forkNum, false);

			/* WAL-log the creation if persistent, or the unlogged init fork */
			if (RelationIsPermanent(rel) ||
				(rel->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED &&
				 forkNum == INIT_FORKNUM))
				log_smgrcreate(newrnode, forkNum);
			RelationCopyStorage(RelationGetSmgr(rel), dstrel, forkNum,
								rel->rd_rel->relpersistence);
		}
	}

	/* The old relfilenode goes at commit; its shared state goes now. */
	lsm_tree_forget(rel->rd_node);
	RelationDropStorage(rel);
	smgrclose(dstrel);
}

static void
lsm_relation_copy_for_cluster(Relation OldTable, Relation NewTable,
							  Relation OldIndex, bool use_sort,
							  TransactionId OldestXmin,
							  TransactionId *xid_cutoff,
							  MultiXactId *multi_cutoff,
							  double *num_tuples, double *tups_vacuumed,
							  double *tups_recently_dead)
{
	ereport(ERROR,
			errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			errmsg("CLUSTER and VACUUM FULL are not supported on lsm table \"%s\" yet",
				   RelationGetRelationName(OldTable)),
			errhint("Rows of lsm tables are always kept in key order of their first column."));
}

/* ------------------------------------------------------------------------
 * Sizes
 * ------------------------------------------------------------------------
 */

/*
 * The main fork's size covers every TID a row can have (row id / 291, see
 * lsm_tree.h), not just the file's pages: BRIN, bitmap heap scans and
 * anything else that walks block numbers up to RelationGetNumberOfBlocks
 * would otherwise miss rows whose TIDs lie past the file's end, and row ids
 * run ahead of the file (those reserved but not used when the table is
 * reloaded are skipped).  Costs and VACUUM's page counts use the file.
 */
static uint64
lsm_relation_size(Relation rel, ForkNumber forkNumber)
{
	uint64		nbytes = table_block_relation_size(rel, forkNumber);
	uint64		file_bytes;
	uint64		tid_bytes;
	LsmRowId	limit;

	if (forkNumber != MAIN_FORKNUM && forkNumber != InvalidForkNumber)
		return nbytes;
	file_bytes = forkNumber == MAIN_FORKNUM ? nbytes :
		table_block_relation_size(rel, MAIN_FORKNUM);
	limit = lsm_rowid_limit(lsm_tree_open(rel));
	tid_bytes = (limit + LSM_TIDS_PER_BLOCK - 1) / LSM_TIDS_PER_BLOCK * BLCKSZ;
	return nbytes + (tid_bytes > file_bytes ? tid_bytes - file_bytes : 0);
}

/*
 * Rows are stored inline, fully detoasted, up to lsm_tree_max_entry() bytes
 * of key plus row (lsm_modify.c enforces it); no TOAST table.
 */
static bool
lsm_relation_needs_toast_table(Relation rel)
{
	return false;
}

static void
lsm_relation_estimate_size(Relation rel, int32 *attr_widths,
						   BlockNumber *pages, double *tuples,
						   double *allvisfrac)
{
	lsm_table_estimate(rel, pages, tuples);

	/* No visibility map: index-only scans always visit the table. */
	*allvisfrac = 0;
}

/*
 * The table's pages, and its rows: a row is a VALUE and a row-map entry,
 * so about half the tree's entries (versions and deltas not yet
 * collected count too).
 */
void
lsm_table_estimate(Relation rel, BlockNumber *pages, double *tuples)
{
	double		entries;

	lsm_tree_estimate(rel, pages, &entries);
	*tuples = entries / 2;
}

/*
 * Bitmap heap scans and TABLESAMPLE: lsm_rowid_scan.c.  TID range scans are
 * left out (their callbacks are optional, so the planner never builds one).
 */
const TableAmRoutine lsm_tableam_methods = {
	.type = T_TableAmRoutine,

	.slot_callbacks = lsm_slot_callbacks,

	.scan_begin = lsm_scan_begin,
	.scan_end = lsm_scan_end,
	.scan_rescan = lsm_scan_rescan,
	.scan_getnextslot = lsm_scan_getnextslot,

	.parallelscan_estimate = lsm_parallelscan_estimate,
	.parallelscan_initialize = lsm_parallelscan_initialize,
	.parallelscan_reinitialize = lsm_parallelscan_reinitialize,

	.index_fetch_begin = lsm_index_fetch_begin,
	.index_fetch_reset = lsm_index_fetch_reset,
	.index_fetch_end = lsm_index_fetch_end,
	.index_fetch_tuple = lsm_index_fetch_tuple,

	.tuple_fetch_row_version = lsm_tuple_fetch_row_version,
	.tuple_tid_valid = lsm_tuple_tid_valid,
	.tuple_get_latest_tid = lsm_tuple_get_latest_tid,
	.tuple_satisfies_snapshot = lsm_tuple_satisfies_snapshot,
	.index_delete_tuples = lsm_index_delete_tuples,

	.tuple_insert = lsm_tuple_insert,
	.tuple_insert_speculative = lsm_tuple_insert_speculative,
	.tuple_complete_speculative = lsm_tuple_complete_speculative,
	.multi_insert = lsm_multi_insert,
	.tuple_delete = lsm_tuple_delete,
	.tuple_update = lsm_tuple_update,
	.tuple_lock = lsm_tuple_lock,

	.relation_set_new_filenode = lsm_relation_set_new_filenode,
	.relation_nontransactional_truncate = lsm_relation_nontransactional_truncate,
	.relation_copy_data = lsm_relation_copy_data,
	.relation_copy_for_cluster = lsm_relation_copy_for_cluster,
	.relation_vacuum = lsm_relation_vacuum,
	.scan_analyze_next_block = lsm_scan_analyze_next_block,
	.scan_analyze_next_tuple = lsm_scan_analyze_next_tuple,
	.index_build_range_scan = lsm_index_build_range_scan,
	.index_validate_scan = lsm_index_validate_scan,

	.relation_size = lsm_relation_size,
	.relation_needs_toast_table = lsm_relation_needs_toast_table,

	.relation_estimate_size = lsm_relation_estimate_size,

	.scan_bitmap_next_block = lsm_scan_bitmap_next_block,
	.scan_bitmap_next_tuple = lsm_scan_bitmap_next_tuple,

	.scan_sample_next_block = lsm_scan_sample_next_block,
	.scan_sample_next_tuple = lsm_scan_sample_next_tuple,
};

/*
 * lsm_tableam_handler(internal) returns table_am_handler
 */
Datum
lsm_tableam_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&lsm_tableam_methods);
}
