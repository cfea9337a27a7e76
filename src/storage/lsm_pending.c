/*
 * lsm_pending.c - the log's batching: a backend's log records of the
 * entries it wrote, held back and written in few generic WAL records, and
 * the transaction callbacks that write or drop them.
 *
 * lsm_tree_write adds entries to the shared memtable at once but keeps
 * their log records here, one buffer per table, so that a transaction that
 * writes many rows pays for the log in generic WAL records of nearly full
 * pages instead of one per row (lsm_storage.h states the rule this keeps).
 * The records are written when a table has LSM_PENDING_FLUSH bytes of them,
 * before this backend's transaction commits or prepares, and before this
 * backend drops or copies the table's storage (lsm_tree_write_pending).
 * They are dropped when the transaction aborts, when a subtransaction that
 * created the relfilenode aborts, and when the relfilenode goes away at
 * commit or is emptied in place.  A subtransaction that aborts keeps its
 * records otherwise: its entries are invisible anyway, and writing them is
 * simpler than telling them apart.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xact.h"
#include "catalog/storage.h"
#include "replication/message.h"

#include "lsm/logrec.h"
#include "lsm_tree_int.h"

/* Trees with pending log records. */
static dlist_head lsm_pending_trees = DLIST_STATIC_INIT(lsm_pending_trees);

/*
 * Pending records are written once a table has enough of them to fill the
 * tail page and the new pages of a generic WAL record.
 */
#define LSM_PENDING_FLUSH \
	(MAX_GENERIC_XLOG_PAGES * (LSM_PAYLOAD_SIZE - LSM_LOG_HEADER))

/* A buffer that grew past this (a huge batch) is freed when it empties. */
#define LSM_PENDING_KEEP	(1024 * 1024)

static bool lsm_pending_callbacks = false;

/* Past XACT_EVENT_PRE_COMMIT or PRE_PREPARE: records go to the log at once. */
static bool lsm_xact_committing = false;

static void lsm_xact_callback(XactEvent event, void *arg);
static void lsm_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								 SubTransactionId parentSubid, void *arg);

/*
 * After a crash, recovery hands out transaction ids from just past the
 * highest one it finds in the WAL (or the last checkpoint's nextXid).  The
 * entries of a transaction reach the WAL in runs that another process
 * flushes, and in log records written under the top-level xid, so without
 * more an xid of ours could be missing from the WAL while its entries are
 * durable: recovery would hand it out again, and its new owner's commit
 * would make a dead transaction's rows visible.  So before the first entry
 * of a (sub)transaction id newer than any this backend has covered goes into
 * a memtable, a WAL record carrying that id as its xl_xid is inserted; WAL
 * order puts it before every run or log record that holds the entry, and it
 * covers every older id too.  A non-transactional logical decoding message
 * is the smallest such record PostgreSQL has (its redo does nothing; logical
 * decoding clients see an empty "lsm_am" message).
 */
void
lsm_cover_xid(void)
{
	static FullTransactionId covered = {0};
	FullTransactionId fxid = GetCurrentFullTransactionIdIfAny();

	if (!FullTransactionIdIsValid(fxid) ||
		(FullTransactionIdIsValid(covered) &&
		 FullTransactionIdPrecedesOrEquals(fxid, covered)))
		return;
	LogLogicalMessage("lsm_am", "", 0, false);
	covered = fxid;
}

/* Forgets t's pending records. */
void
lsm_pending_reset(LsmTree *t)
{
	t->pending.len = 0;
	t->pending_start = 0;
	if (t->pending.cap > LSM_PENDING_KEEP)
		lsm_buf_free(&t->pending);
	if (t->pending_listed)
	{
		dlist_delete(&t->pending_node);
		t->pending_listed = false;
		/* a relcache flag the sweep skipped for the records counts again */
		if (t->check)
			lsm_tree_recheck();
	}
}

/*
 * Writes t's pending records to the log: all of them, or without all those
 * that fill whole WAL records (the rest waits for more).  The caller has a
 * use of t's entry e, loaded.  After an error, what did not reach the log
 * stays pending.
 */
static void
lsm_pending_write(LsmTree *t, LsmTableShared *e, bool all)
{
	LWLockAcquire(&e->writer, LW_EXCLUSIVE);
	lsm_log_write(&t->store, e, t->pending.data, &t->pending_start,
				  t->pending.len, all);
	LWLockRelease(&e->writer);

	if (t->pending_start == t->pending.len)
		lsm_pending_reset(t);
	else if (t->pending_start > 0)
	{
		memmove(t->pending.data, t->pending.data + t->pending_start,
				t->pending.len - t->pending_start);
		t->pending.len -= t->pending_start;
		t->pending_start = 0;
	}
}

/* Writes all of t's pending records, attaching to (and loading) its entry. */
static void
lsm_pending_write_all(LsmTree *t)
{
	LsmUse	   *u = lsm_tree_use(t, true);

	lsm_pending_write(t, u->entry, true);
	lsm_use_release(u);
}

/*
 * Before the transaction commits or prepares: every table's pending records
 * to the log, except those of relfilenodes that go away with the commit.
 * An error here aborts the transaction, which drops what is left.
 */
static void
lsm_pending_write_at_commit(void)
{
	RelFileNode *dropped = NULL;
	int			ndropped = 0;
	dlist_mutable_iter iter;

	if (dlist_is_empty(&lsm_pending_trees))
		return;
	ndropped = smgrGetPendingDeletes(true, &dropped);
	dlist_foreach_modify(iter, &lsm_pending_trees)
	{
		LsmTree    *t = dlist_container(LsmTree, pending_node, iter.cur);
		bool		gone = false;

		for (int i = 0; i < ndropped && !gone; i++)
			gone = RelFileNodeEquals(dropped[i], t->node);
		if (gone)
			lsm_pending_reset(t);
		else
			lsm_pending_write_all(t);
	}
	if (dropped)
		pfree(dropped);
}

/* Drops every table's pending records. */
static void
lsm_pending_reset_all(void)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &lsm_pending_trees)
		lsm_pending_reset(dlist_container(LsmTree, pending_node, iter.cur));
}

static void
lsm_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			lsm_pending_write_at_commit();

			/*
			 * Writes that still come (from callbacks called after this one)
			 * go to the log at once.
			 */
			lsm_xact_committing = true;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (!dlist_is_empty(&lsm_pending_trees))
				elog(WARNING, "lsm_am: log records still pending at commit");
			lsm_pending_reset_all();
			lsm_xact_committing = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			lsm_pending_reset_all();
			lsm_xact_committing = false;
			break;
	}
}

/*
 * A subtransaction that aborts deletes the relfilenodes it created; their
 * pending records must not be written at commit.
 */
static void
lsm_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	RelFileNode *dropped = NULL;
	int			ndropped;

	if (event != SUBXACT_EVENT_ABORT_SUB || dlist_is_empty(&lsm_pending_trees))
		return;
	ndropped = smgrGetPendingDeletes(false, &dropped);
	for (int i = 0; i < ndropped; i++)
		lsm_tree_discard_pending(&dropped[i]);
	if (dropped)
		pfree(dropped);
}

/* This backend's pending records for node, if it has any. */
static LsmTree *
lsm_pending_find(const RelFileNode *node)
{
	LsmTree    *t;

	if (dlist_is_empty(&lsm_pending_trees))
		return NULL;
	t = lsm_tree_find_local(node);
	return t != NULL && t->pending_listed ? t : NULL;
}

/*
 * Writes this backend's pending records for node to its log: before its
 * storage is dropped (the drop may yet roll back to a savepoint, and the
 * shared memtables go now) or copied page by page.
 */
void
lsm_tree_write_pending(const RelFileNode *node)
{
	LsmTree    *t = lsm_pending_find(node);

	if (t != NULL)
		lsm_pending_write_all(t);
}

/* Drops this backend's pending records for node (its log is thrown away). */
void
lsm_tree_discard_pending(const RelFileNode *node)
{
	LsmTree    *t = lsm_pending_find(node);

	if (t != NULL)
		lsm_pending_reset(t);
}

/*
 * Before lsm_tree_write puts entries of t into a memtable: makes room for
 * need bytes of their records, so that encoding them cannot fail later,
 * and sets up the transaction callbacks on first use.
 */
void
lsm_pending_reserve(LsmTree *t, Size need)
{
	if (!lsm_pending_callbacks)
	{
		RegisterXactCallback(lsm_xact_callback, NULL);
		RegisterSubXactCallback(lsm_subxact_callback, NULL);
		lsm_pending_callbacks = true;
	}
	if (lsm_buf_reserve(&t->pending, need) != LSM_OK)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Failed while buffering %zu bytes of log records for lsm table \"%s\".",
						  need, t->store.relname));
}

/* Whether this transaction is past its pre-commit: records go out at once. */
bool
lsm_pending_committing(void)
{
	return lsm_xact_committing;
}

/* Holds back the records of the n entries w, numbered from seq. */
void
lsm_pending_add(LsmTree *t, const LsmWrite *w, int n, uint64 seq)
{
	for (int j = 0; j < n; j++)
	{
		lsm_status	st = lsm_logrec_append(&t->pending, seq + j, w[j].kind,
										   lsm_slice_make(w[j].key, w[j].keylen),
										   lsm_slice_make(w[j].value, w[j].vallen));

		if (st != LSM_OK)
			lsm_store_raise(&t->store, st, "encoding a log record");
	}
	if (n > 0 && !t->pending_listed)
	{
		dlist_push_tail(&lsm_pending_trees, &t->pending_node);
		t->pending_listed = true;
	}
}

/*
 * After a write of t (its entry e attached and loaded): past pre-commit its
 * records go to the log now, and otherwise those that fill whole WAL records.
 */
void
lsm_pending_written(LsmTree *t, LsmTableShared *e)
{
	if (lsm_xact_committing)
		lsm_pending_write(t, e, true);
	else if (t->pending.len - t->pending_start >= LSM_PENDING_FLUSH)
		lsm_pending_write(t, e, false);
}
