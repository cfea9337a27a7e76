/*
 * lsm_tableam.h - what the table access method's modules (lsm_tableam.c,
 * lsm_scan.c, lsm_rowid_scan.c, lsm_fetch.c, lsm_modify.c, lsm_index_build.c)
 * share.
 *
 * Rows are resolved from the tree as LsmRow (lsm_tuple.h) and handed to the
 * executor in heap tuple slots (TTSOpsHeapTuple): the row's VALUE is a heap
 * tuple, so slots, system columns and tuple deforming work as on heap.
 */
#ifndef LSM_TABLEAM_H
#define LSM_TABLEAM_H

#include "postgres.h"

#include "access/tableam.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "lsm_rowid.h"
#include "lsm_tree.h"
#include "lsm_tuple.h"

/* The table access method's routine (lsm_tableam.c). */
extern const TableAmRoutine lsm_tableam_methods;

/* Whether rel is an lsm table. */
static inline bool
lsm_is_lsm_relation(Relation rel)
{
	return rel->rd_tableam == &lsm_tableam_methods;
}

/* Pages and rows of rel, for the planner, ANALYZE and VACUUM. */
extern void lsm_table_estimate(Relation rel, BlockNumber *pages, double *tuples);

/*
 * Installs the planner hook that keeps parallel scans off lsm tables, and
 * the table's compaction step for stalled writers.
 */
extern void lsm_tableam_init(void);

/*
 * A row looked up by TID: the row-map entry gives the data key, whose
 * versions give the row.  datakey stays valid until the next lookup with the
 * same LsmFetch; row.tuple.t_data is palloc'd in the caller's context.
 */
typedef struct LsmFetch
{
	StringInfoData datakey;
	LsmRow		row;
} LsmFetch;

/* lsm_fetch.c */
extern void lsm_fetch_init(LsmFetch *f);
extern bool lsm_fetch_row(Relation rel, LsmTree *tree, ItemPointer tid,
						  LsmFetch *f);
extern void lsm_row_release(LsmRow *row);
extern void lsm_store_row(TupleTableSlot *slot, Relation rel, LsmRow *row);
extern void lsm_check_serializable_conflict_out(bool visible, Relation rel,
												LsmRow *row, Snapshot snapshot);

/*
 * Sequential scans (lsm_scan.c): the scan callbacks, plus a row-at-a-time
 * interface over the same scan for index builds.
 */
extern TableScanDesc lsm_scan_begin(Relation rel, Snapshot snapshot,
									int nkeys, struct ScanKeyData *key,
									ParallelTableScanDesc pscan, uint32 flags);
extern void lsm_scan_end(TableScanDesc sscan);
extern void lsm_scan_rescan(TableScanDesc sscan, struct ScanKeyData *key,
							bool set_params, bool allow_strat,
							bool allow_sync, bool allow_pagemode);
extern bool lsm_scan_getnextslot(TableScanDesc sscan, ScanDirection direction,
								 TupleTableSlot *slot);
extern LsmRow *lsm_scan_next_row(TableScanDesc sscan);

/*
 * A range of the key column for a bounded scan, over encoded column parts
 * (tag byte and encoding, lsm_keys.h): from lower (NULL: the first key) to
 * upper (NULL: the last, NULL keys included), each end inclusive or not.
 */
typedef struct LsmKeyRange
{
	const uint8 *lower;
	Size		lowerlen;
	bool		lower_inclusive;
	const uint8 *upper;
	Size		upperlen;
	bool		upper_inclusive;
} LsmKeyRange;

extern void lsm_scan_set_ranges(TableScanDesc sscan, const LsmKeyRange *ranges,
								int n);
extern void lsm_scan_set_backward(TableScanDesc sscan, bool backward);
extern const LsmTreeIterCounts *lsm_scan_counts(TableScanDesc sscan);
extern bool lsm_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
										BufferAccessStrategy bstrategy);
extern bool lsm_scan_analyze_next_tuple(TableScanDesc sscan,
										TransactionId OldestXmin,
										double *liverows, double *deadrows,
										TupleTableSlot *slot);

/* The state of a scan by row ids (lsm_rowid_scan.c) a scan carries (lsm_scan.c). */
typedef struct LsmRowidScan LsmRowidScan;
extern LsmRowidScan **lsm_scan_rowid_state(TableScanDesc sscan);

/* Bitmap heap scans and TABLESAMPLE (lsm_rowid_scan.c). */
extern bool lsm_bitmap_scan_possible(Relation rel);
extern bool lsm_scan_bitmap_next_block(TableScanDesc scan,
									   struct TBMIterateResult *tbmres);
extern bool lsm_scan_bitmap_next_tuple(TableScanDesc scan,
									   struct TBMIterateResult *tbmres,
									   TupleTableSlot *slot);
extern bool lsm_scan_sample_next_block(TableScanDesc scan,
									   struct SampleScanState *scanstate);
extern bool lsm_scan_sample_next_tuple(TableScanDesc scan,
									   struct SampleScanState *scanstate,
									   TupleTableSlot *slot);
extern void lsm_rowid_scan_reset(LsmRowidScan *st);
extern void lsm_rowid_scan_end(LsmRowidScan *st);

/* Single-row reads (lsm_fetch.c). */
extern struct IndexFetchTableData *lsm_index_fetch_begin(Relation rel);
extern void lsm_index_fetch_reset(struct IndexFetchTableData *scan);
extern void lsm_index_fetch_end(struct IndexFetchTableData *scan);
extern bool lsm_index_fetch_tuple(struct IndexFetchTableData *scan,
								  ItemPointer tid, Snapshot snapshot,
								  TupleTableSlot *slot,
								  bool *call_again, bool *all_dead);
extern bool lsm_tuple_fetch_row_version(Relation rel, ItemPointer tid,
										Snapshot snapshot, TupleTableSlot *slot);
extern bool lsm_tuple_tid_valid(TableScanDesc scan, ItemPointer tid);
extern void lsm_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid);
extern bool lsm_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot,
										 Snapshot snapshot);
extern TransactionId lsm_index_delete_tuples(Relation rel,
											 TM_IndexDeleteOp *delstate);

/* Writes (lsm_modify.c). */
extern void lsm_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
							 int options, struct BulkInsertStateData *bistate);
extern void lsm_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
										 CommandId cid, int options,
										 struct BulkInsertStateData *bistate,
										 uint32 specToken);
extern void lsm_tuple_complete_speculative(Relation rel, TupleTableSlot *slot,
										   uint32 specToken, bool succeeded);
extern void lsm_multi_insert(Relation rel, TupleTableSlot **slots, int nslots,
							 CommandId cid, int options,
							 struct BulkInsertStateData *bistate);
extern TM_Result lsm_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
								  Snapshot snapshot, Snapshot crosscheck,
								  bool wait, TM_FailureData *tmfd,
								  bool changingPart);
extern TM_Result lsm_tuple_update(Relation rel, ItemPointer otid,
								  TupleTableSlot *slot, CommandId cid,
								  Snapshot snapshot, Snapshot crosscheck,
								  bool wait, TM_FailureData *tmfd,
								  LockTupleMode *lockmode, bool *update_indexes);
extern TM_Result lsm_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot,
								TupleTableSlot *slot, CommandId cid,
								LockTupleMode mode, LockWaitPolicy wait_policy,
								uint8 flags, TM_FailureData *tmfd);

/* VACUUM (lsm_vacuum.c). */
extern void lsm_relation_vacuum(Relation rel, struct VacuumParams *params,
								BufferAccessStrategy bstrategy);

/* Index builds (lsm_index_build.c). */
extern double lsm_index_build_range_scan(Relation table_rel, Relation index_rel,
										 struct IndexInfo *index_info,
										 bool allow_sync, bool anyvisible,
										 bool progress,
										 BlockNumber start_blockno,
										 BlockNumber numblocks,
										 IndexBuildCallback callback,
										 void *callback_state,
										 TableScanDesc scan);
extern void lsm_index_validate_scan(Relation table_rel, Relation index_rel,
									struct IndexInfo *index_info,
									Snapshot snapshot,
									struct ValidateIndexState *state);

#endif							/* LSM_TABLEAM_H */
