/*
 * lsm_rmgr.c - lsm_am's custom WAL resource manager: recovery conflicts for
 * row versions that compaction removes.
 *
 * Heap readers on a hot standby are protected by the primary's prune and
 * vacuum records, whose redo cancels the queries that could still see the
 * removed rows (ResolveRecoveryConflictWithSnapshot).  An lsm table's
 * compaction writes its output as new pages and swaps the manifest with
 * generic WAL, which carries no such horizon; without one, a standby
 * query with an old snapshot would read runs (or, through an index whose
 * entries VACUUM then removed, nothing) without the rows it should see.
 * So a compaction that may remove row versions first logs this record with
 * its removal horizon, and its redo resolves the conflict exactly as heap's
 * prune record does: queries whose xmin is not past the newest xid that
 * may have been removed are cancelled (after max_standby_streaming_delay),
 * unless hot_standby_feedback kept the primary's horizon behind them.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#include "access/xlogutils.h"
#include "storage/standby.h"

#include "lsm_rmgr.h"

#define XLOG_LSM_REMOVAL_HORIZON	0x00

typedef struct xl_lsm_removal_horizon
{
	RelFileNode node;
	TransactionId latest_removed_xid;	/* newest xid a removed row may have */
} xl_lsm_removal_horizon;

static void
lsm_rmgr_redo(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	xl_lsm_removal_horizon *xlrec;

	if (info != XLOG_LSM_REMOVAL_HORIZON)
		elog(PANIC, "lsm_am redo: unknown WAL record type %u", info);
	xlrec = (xl_lsm_removal_horizon *) XLogRecGetData(record);
	if (InHotStandby)
		ResolveRecoveryConflictWithSnapshot(xlrec->latest_removed_xid, xlrec->node);
}

static void
lsm_rmgr_desc(StringInfo buf, XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;

	if (info == XLOG_LSM_REMOVAL_HORIZON)
	{
		xl_lsm_removal_horizon *xlrec = (xl_lsm_removal_horizon *) XLogRecGetData(record);

		appendStringInfo(buf, "rel %u/%u/%u; latest removed xid %u",
						 xlrec->node.spcNode, xlrec->node.dbNode,
						 xlrec->node.relNode, xlrec->latest_removed_xid);
	}
}

static const char *
lsm_rmgr_identify(uint8 info)
{
	if ((info & ~XLR_INFO_MASK) == XLOG_LSM_REMOVAL_HORIZON)
		return "REMOVAL_HORIZON";
	return NULL;
}

static RmgrData lsm_rmgr = {
	.rm_name = "lsm_am",
	.rm_redo = lsm_rmgr_redo,
	.rm_desc = lsm_rmgr_desc,
	.rm_identify = lsm_rmgr_identify,
};

void
lsm_rmgr_init(void)
{
	RegisterCustomRmgr(LSM_RMGR_ID, &lsm_rmgr);
}

void
lsm_log_removal_horizon(const RelFileNode *node, bool needs_wal,
						TransactionId horizon)
{
	xl_lsm_removal_horizon xlrec;

	/* Only hot standbys need it, as for heap's conflict horizons. */
	if (!needs_wal || !XLogStandbyInfoActive() || !TransactionIdIsNormal(horizon))
		return;
	xlrec.node = *node;
	xlrec.latest_removed_xid = horizon;
	TransactionIdRetreat(xlrec.latest_removed_xid);
	XLogBeginInsert();
	XLogRegisterData((char *) &xlrec, sizeof(xlrec));
	(void) XLogInsert(LSM_RMGR_ID, XLOG_LSM_REMOVAL_HORIZON);
}
