/*
 * lsm_verify.c - checks everything an LSM relation holds and returns one
 * problem per thing found wrong (none when it is healthy); the SQL function
 * lsm_verify(regclass) shows them (lsm_maintenance.c):
 *
 *   manifest   the metapage and the manifest must be readable (its checksum
 *              and invariants: levels below 0 sorted and disjoint, level 0
 *              newest first, unique run ids, extents disjoint); every run
 *              inside the relation, its extent large enough for its bytes,
 *              its sequence numbers flushed
 *   log        the chain from the manifest's log head: log pages only, no
 *              loop, every record intact, ending at the table's log tail
 *   run        every run's footer, index block and bloom filter, every data
 *              block's checksum, every entry (key order, sequence range,
 *              bloom filter), the entry count, smallest and largest key the
 *              manifest records.  Each problem is a row: after a bad data
 *              block the check goes on with the next one (the index says
 *              where it is); entry problems are listed up to
 *              LSM_SST_CHECK_ENTRY_PROBLEMS per run, then one row counts
 *              the rest; only a bad footer or index block ends a run's check
 *   pages      every page of the relation belongs to exactly one of: the
 *              metapage, the manifest's overflow extent, the log chain, the
 *              pages set aside for the log, a run, a free extent.  Pages of
 *              nothing (leaked) and pages of two owners are reported
 *
 * Nothing here may turn corruption into an error or a crash: each step that
 * reads pages runs in a subtransaction, so that a page the buffer manager
 * refuses (a data checksum failure, a broken page header) becomes a problem
 * row and verification goes on with the next step.
 *
 * Locking.  ShareUpdateExclusiveLock keeps compaction, VACUUM and DDL away
 * (it conflicts with itself), and the table's flushing flag, held as a
 * flush would hold it, keeps flushes away; the manifest then changes only
 * when a writer takes pages for the log.  The manifest, the relation's size
 * and the log's tail and spare pages are read together under the table's
 * writer lock: the ownership check is of that moment.  Writers go on
 * meanwhile (they wait only if their memtables fill up before the check
 * ends).
 *
 * On a standby only AccessShareLock can be taken, and nothing is loaded:
 * the check is of the pages redo has built.  Replay goes on meanwhile, so
 * a run the primary compacts away while it is checked may show up as a
 * problem there; a standby whose primary is idle checks what it replayed.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/wait_event.h"

#include "lsm/logrec.h"
#include "lsm/owners.h"
#include "lsm/sstable.h"
#include "lsm_storage.h"

/* Kinds of page owners. */
typedef enum LsmOwnerKind
{
	OWN_META,
	OWN_MANIFEST,
	OWN_LOG,
	OWN_LOG_SPARE,
	OWN_RUN,
	OWN_FREE
} LsmOwnerKind;

/* Something that owns an extent of pages. */
typedef struct LsmOwner
{
	LsmOwnerKind kind;
	int			level;			/* runs */
	uint64		run;			/* runs */
	BlockNumber first;
	uint32		npages;
} LsmOwner;

typedef struct LsmVerify
{
	Relation	rel;
	LsmStore	store;
	LsmUse	   *use;
	MemoryContext cxt;			/* problems and everything that outlives a step */
	List	   *problems;

	/* The moment checked (lsm_verify_snapshot). */
	bool		have_snapshot;
	LsmMetaData meta;
	lsm_manifest m;
	BlockNumber nblocks;
	bool		loaded;			/* the shared state knows the log's tail */
	bool		standby;		/* in recovery when the check began */
	BlockNumber log_tail;
	uint32		log_tail_off;
	BlockNumber log_spare;
	uint32		log_nspare;

	/* The log chain as walked. */
	BlockNumber *log_pages;
	int			nlog;

	/* Owners, and per block the index + 1 of its first owner (0: none). */
	LsmOwner   *owners;
	int			nowners;
	int			owners_cap;
	lsm_page_owners owner_map;
} LsmVerify;

static void lsm_problem(LsmVerify *v, const char *problem, int level, int64 run,
						int64 block, const char *fmt,...) pg_attribute_printf(6, 7);

static void
lsm_problem(LsmVerify *v, const char *problem, int level, int64 run,
			int64 block, const char *fmt,...)
{
	MemoryContext old = MemoryContextSwitchTo(v->cxt);
	LsmProblem *p = palloc(sizeof(LsmProblem));
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		ap;
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	p->problem = problem;
	p->level = level;
	p->run = run;
	p->block = block;
	p->detail = buf.data;
	v->problems = lappend(v->problems, p);
	MemoryContextSwitchTo(old);
}

/* ----------------------------------------------------------------
 * Steps that may meet corruption
 * ----------------------------------------------------------------
 */

typedef void (*LsmVerifyStep) (LsmVerify *v, void *arg);

/*
 * Runs step in a subtransaction.  Returns the error it raised, or the one
 * the pager caught inside a core call and kept (v->store.error), copied
 * into v->cxt; NULL if none.  Either way the subtransaction is rolled back
 * after an error, which releases what the failed read held (buffer pins
 * and locks, the buffer's I/O state, LWLocks): no LWLock may be held when
 * a step begins.  Cancels and shutdowns are not problems of the table:
 * they are raised again.
 */
static ErrorData *
lsm_verify_step(LsmVerify *v, LsmVerifyStep step, void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		step(v, arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(v->cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	/* The pager's copy lives in v->cxt already (the store's context). */
	if (edata == NULL)
		edata = v->store.error;
	else if (v->store.error != NULL)
		FreeErrorData(v->store.error);
	v->store.error = NULL;
	if (edata != NULL)
		RollbackAndReleaseCurrentSubTransaction();
	else
		ReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;

	if (edata != NULL &&
		(edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		 edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		 edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY))
		ReThrowError(edata);
	return edata;
}

/* An error's message and detail as one string. */
static char *
lsm_error_text(ErrorData *edata)
{
	if (edata->detail)
		return psprintf("%s: %s", edata->message, edata->detail);
	return pstrdup(edata->message);
}

/* ----------------------------------------------------------------
 * Loading and the moment checked
 * ----------------------------------------------------------------
 */

static void
lsm_verify_load_step(LsmVerify *v, void *arg)
{
	lsm_load(&v->store, v->use);
}

/*
 * Sets the table's flushing flag as a flush does (waiting for one under
 * way), so that no flush changes the manifest until the use is released.
 */
static void
lsm_verify_hold_flushes(LsmVerify *v)
{
	LsmTableShared *e = v->use->entry;

	ConditionVariablePrepareToSleep(&e->flush_cv);
	for (;;)
	{
		bool		mine = false;

		SpinLockAcquire(&e->mutex);
		if (!e->flushing)
		{
			e->flushing = true;
			v->use->flushing = true;
			mine = true;
		}
		SpinLockRelease(&e->mutex);
		if (mine)
			break;
		ConditionVariableSleep(&e->flush_cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/* Reads the manifest, the relation's size and the log's state together. */
static void
lsm_verify_snapshot_step(LsmVerify *v, void *arg)
{
	LsmTableShared *e = v->use->entry;
	LsmMetaTx	tx;
	MemoryContext old;

	LWLockAcquire(&e->writer, LW_EXCLUSIVE);
	lsm_meta_begin(&v->store, &tx, false, true);
	v->meta = tx.meta;
	v->m = tx.m;				/* the core's allocations: freed at the end */
	lsm_manifest_init(&tx.m);
	UnlockReleaseBuffer(tx.buf);
	v->nblocks = lsm_store_nblocks(&v->store);
	SpinLockAcquire(&e->mutex);
	v->loaded = e->loaded;
	SpinLockRelease(&e->mutex);
	v->log_tail = e->log_tail;
	v->log_tail_off = e->log_tail_off;
	v->log_spare = e->log_spare;
	v->log_nspare = e->log_nspare;
	LWLockRelease(&e->writer);

	old = MemoryContextSwitchTo(v->cxt);
	lsm_owners_init(&v->owner_map, palloc0(sizeof(uint32) * Max(v->nblocks, 1)),
					v->nblocks);
	MemoryContextSwitchTo(old);
	v->have_snapshot = true;
}

/* ----------------------------------------------------------------
 * Pages
 * ----------------------------------------------------------------
 */

/* What a page is; the negative values are not lsm page types. */
#define PAGE_NEW		0
#define PAGE_FOREIGN	(-1)

/* Reads block blkno into copy and returns its kind (may raise an error). */
static int
lsm_verify_read(LsmVerify *v, BlockNumber blkno, PGAlignedBlock *copy)
{
	Buffer		buf;
	Page		page;
	int			kind = PAGE_FOREIGN;

	buf = ReadBufferWithoutRelcache(v->store.node, MAIN_FORKNUM, blkno,
									RBM_NORMAL, NULL, v->store.permanent);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(copy->data, BufferGetPage(buf), BLCKSZ);
	UnlockReleaseBuffer(buf);

	page = (Page) copy->data;
	if (PageIsNew(page))
		kind = PAGE_NEW;
	else
	{
		for (uint16 t = LSM_PAGE_META; t <= LSM_PAGE_MANIFEST; t++)
			if (lsm_page_is(page, t))
				kind = t;
	}
	return kind;
}

static const char *
lsm_page_kind_name(int kind)
{
	switch (kind)
	{
		case PAGE_NEW:
			return "new (all zero)";
		case LSM_PAGE_META:
			return "a metapage";
		case LSM_PAGE_LOG:
			return "a log page";
		case LSM_PAGE_RUN:
			return "a run page";
		case LSM_PAGE_MANIFEST:
			return "a manifest page";
	}
	return "not an lsm page";
}

/* ----------------------------------------------------------------
 * The log chain
 * ----------------------------------------------------------------
 */

typedef struct LsmLogStep
{
	BlockNumber blkno;
	int			kind;
	BlockNumber next;
	uint32		used;
	uint32		bad_off;		/* offset of an undecodable record, or 0 */
} LsmLogStep;

static void
lsm_verify_log_page_step(LsmVerify *v, void *arg)
{
	LsmLogStep *ls = (LsmLogStep *) arg;
	PGAlignedBlock copy;
	const uint8 *payload;

	ls->kind = lsm_verify_read(v, ls->blkno, &copy);
	if (ls->kind != LSM_PAGE_LOG)
		return;
	payload = LsmPagePayload(copy.data);
	ls->used = LsmPageUsed(copy.data);
	ls->next = ((const LsmLogPageHeader *) payload)->next;
	if (ls->used < LSM_LOG_HEADER || ls->used > LSM_PAYLOAD_SIZE)
		return;
	for (uint32 off = LSM_LOG_HEADER; off < ls->used;)
	{
		lsm_logrec rec;
		size_t		len;

		if (lsm_logrec_decode(payload + off, ls->used - off, &rec, &len) != LSM_OK)
		{
			ls->bad_off = off;
			return;
		}
		off += len;
	}
}

/* Walks the log chain from the manifest's head; collects its pages. */
static void
lsm_verify_log(LsmVerify *v)
{
	BlockNumber p = v->m.log_head;
	uint8	   *seen = palloc0(v->nblocks / 8 + 1);
	int			cap = 64;

	v->log_pages = MemoryContextAlloc(v->cxt, cap * sizeof(BlockNumber));
	if (p == 0)
	{
		lsm_problem(v, "log", -1, -1, -1, "the manifest names no log head page");
		return;
	}
	for (;;)
	{
		LsmLogStep ls = {p, PAGE_FOREIGN, 0, 0, 0};
		ErrorData  *edata;

		CHECK_FOR_INTERRUPTS();
		if (p == LSM_META_BLKNO || p >= v->nblocks)
		{
			lsm_problem(v, "log", -1, -1, p,
						"the log chain leads to block %u, outside the relation's %u blocks",
						p, v->nblocks);
			return;
		}
		if (seen[p / 8] & (1 << (p % 8)))
		{
			lsm_problem(v, "log", -1, -1, p,
						"the log chain loops back to block %u", p);
			return;
		}
		seen[p / 8] |= 1 << (p % 8);
		if (v->nlog == cap)
		{
			cap *= 2;
			v->log_pages = repalloc(v->log_pages, cap * sizeof(BlockNumber));
		}
		v->log_pages[v->nlog++] = p;

		edata = lsm_verify_step(v, lsm_verify_log_page_step, &ls);
		if (edata != NULL)
		{
			lsm_problem(v, "log", -1, -1, p, "log page %u cannot be read: %s",
						p, lsm_error_text(edata));
			return;
		}
		if (ls.kind != LSM_PAGE_LOG)
		{
			lsm_problem(v, "log", -1, -1, p, "block %u of the log chain is %s",
						p, lsm_page_kind_name(ls.kind));
			return;
		}
		if (ls.used < LSM_LOG_HEADER || ls.used > LSM_PAYLOAD_SIZE)
			lsm_problem(v, "log", -1, -1, p,
						"log page %u claims %u payload bytes in use", p, ls.used);
		else if (ls.bad_off != 0)
			lsm_problem(v, "log", -1, -1, p,
						"log page %u: the record at offset %u is damaged (bad length, checksum or body)",
						p, ls.bad_off);

		/* Writers append past the tail read with the manifest: stop there. */
		if (v->loaded && p == v->log_tail)
		{
			if (ls.used < v->log_tail_off)
				lsm_problem(v, "log", -1, -1, p,
							"the log's tail page %u holds %u bytes, fewer than the %u the table has written to it",
							p, ls.used, v->log_tail_off);
			return;
		}
		if (ls.next == 0)
		{
			if (v->loaded)
				lsm_problem(v, "log", -1, -1, p,
							"the log chain ends at block %u, not at the table's log tail, block %u",
							p, v->log_tail);
			return;
		}
		p = ls.next;
	}
}

/* ----------------------------------------------------------------
 * Page ownership
 * ----------------------------------------------------------------
 */

static char *
lsm_owner_name(const LsmOwner *o)
{
	switch (o->kind)
	{
		case OWN_META:
			return pstrdup("the metapage");
		case OWN_MANIFEST:
			return psprintf("the manifest's overflow extent (blocks %u..%u)",
							o->first, o->first + o->npages - 1);
		case OWN_LOG:
			return pstrdup("the log chain");
		case OWN_LOG_SPARE:
			return psprintf("the pages set aside for the log (blocks %u..%u)",
							o->first, o->first + o->npages - 1);
		case OWN_RUN:
			return psprintf("run " UINT64_FORMAT " (level %d, blocks %u..%u)",
							o->run, o->level, o->first, o->first + o->npages - 1);
		case OWN_FREE:
			return psprintf("the free extent at blocks %u..%u",
							o->first, o->first + o->npages - 1);
	}
	return pstrdup("?");
}

/* lsm_owners_claim's report: o's extent outside, or met by another owner. */
static void
lsm_own_report(void *arg, lsm_pageno first, lsm_pageno last, uint32 other)
{
	LsmVerify  *v = (LsmVerify *) arg;
	const LsmOwner *o = &v->owners[v->nowners - 1];

	if (other == 0)
		lsm_problem(v, "pages", o->kind == OWN_RUN ? o->level : -1,
					o->kind == OWN_RUN ? (int64) o->run : -1, o->first,
					"%s is not inside the relation's blocks 1..%u",
					lsm_owner_name(o), v->nblocks - 1);
	else
	{
		const LsmOwner *a = &v->owners[other - 1];
		const LsmOwner *run = o->kind == OWN_RUN ? o :
			a->kind == OWN_RUN ? a : NULL;

		lsm_problem(v, "pages", run ? run->level : -1,
					run ? (int64) run->run : -1, first,
					"blocks %u..%u belong to both %s and %s",
					first, last, lsm_owner_name(a), lsm_owner_name(o));
	}
}

/*
 * Records that o owns its extent (lsm/owners.h): reports the part outside
 * the relation, and each stretch of blocks that already belong to the same
 * other owner.
 */
static void
lsm_own(LsmVerify *v, LsmOwner o)
{
	if (v->nowners == v->owners_cap)
	{
		v->owners_cap = Max(16, v->owners_cap * 2);
		v->owners = v->owners == NULL ?
			MemoryContextAlloc(v->cxt, v->owners_cap * sizeof(LsmOwner)) :
			repalloc(v->owners, v->owners_cap * sizeof(LsmOwner));
	}
	v->owners[v->nowners++] = o;
	(void) lsm_owners_claim(&v->owner_map, o.first, o.npages, v->nowners,
							o.kind == OWN_META, lsm_own_report, v);
}

typedef struct LsmKindStep
{
	BlockNumber blkno;
	int			kind;
} LsmKindStep;

static void
lsm_verify_kind_step(LsmVerify *v, void *arg)
{
	LsmKindStep *ks = (LsmKindStep *) arg;
	PGAlignedBlock copy;

	ks->kind = lsm_verify_read(v, ks->blkno, &copy);
}

/* Reports each stretch of blocks that nothing owns, with what they hold. */
static void
lsm_verify_unowned(LsmVerify *v)
{
	lsm_pageno	from = 1;
	lsm_pageno	first;
	lsm_pageno	end;

	while (lsm_owners_next_unowned(&v->owner_map, &from, &first, &end))
	{
		int			kinds[LSM_PAGE_MANIFEST + 2] = {0};
		int			unreadable = 0;
		StringInfoData what;

		for (BlockNumber b = first; b < end; b++)
		{
			LsmKindStep ks = {b, PAGE_FOREIGN};

			CHECK_FOR_INTERRUPTS();
			if (lsm_verify_step(v, lsm_verify_kind_step, &ks) != NULL)
				unreadable++;
			else
				kinds[ks.kind + 1]++;
		}
		initStringInfo(&what);
		for (int k = PAGE_FOREIGN; k <= LSM_PAGE_MANIFEST; k++)
			if (kinds[k + 1] > 0)
				appendStringInfo(&what, "%s%d %s", what.len ? ", " : "",
								 kinds[k + 1], lsm_page_kind_name(k));
		if (unreadable > 0)
			appendStringInfo(&what, "%s%d unreadable", what.len ? ", " : "",
							 unreadable);
		lsm_problem(v, "pages", -1, -1, first,
					"blocks %u..%u (%u pages) belong to nothing: not the metapage, the manifest, the log, a run or the free list (%s)",
					first, end - 1, end - first, what.data);
	}
}

static void
lsm_verify_ownership(LsmVerify *v)
{
	LsmOwner	o = {0};

	o.kind = OWN_META;
	o.first = LSM_META_BLKNO;
	o.npages = 1;
	lsm_own(v, o);
	if (v->meta.manifest_first != 0)
	{
		o.kind = OWN_MANIFEST;
		o.first = v->meta.manifest_first;
		o.npages = v->meta.manifest_npages;
		lsm_own(v, o);
	}
	for (int i = 0; i < v->nlog; i++)
	{
		o.kind = OWN_LOG;
		o.first = v->log_pages[i];
		o.npages = 1;
		lsm_own(v, o);
	}
	if (v->loaded && v->log_nspare > 0)
	{
		o.kind = OWN_LOG_SPARE;
		o.first = v->log_spare;
		o.npages = v->log_nspare;
		lsm_own(v, o);
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->m.levels[l].nruns; i++)
		{
			const lsm_run_meta *r = &v->m.levels[l].runs[i];

			o.kind = OWN_RUN;
			o.level = l;
			o.run = r->id;
			o.first = r->first_page;
			o.npages = r->npages;
			lsm_own(v, o);
		}
	for (int i = 0; i < v->m.nfree; i++)
	{
		o.kind = OWN_FREE;
		o.first = v->m.free[i].first;
		o.npages = v->m.free[i].npages;
		lsm_own(v, o);
	}
	/*
	 * A standby's unowned pages are normal: the primary keeps its log's
	 * spare pages in memory, and a flush or compaction under way has
	 * written pages its manifest change has not named yet.
	 */
	if (!v->standby)
		lsm_verify_unowned(v);
}

/* ----------------------------------------------------------------
 * Runs
 * ----------------------------------------------------------------
 */

/* The manifest's record of one run, before its contents are read. */
static bool
lsm_verify_run_meta(LsmVerify *v, int level, const lsm_run_meta *r)
{
	uint32		need = lsm_stream_pages(&v->store.pager, r->nbytes);

	if (r->nbytes < LSM_SST_FOOTER_SIZE || need > r->npages)
	{
		lsm_problem(v, "manifest", level, (int64) r->id, r->first_page,
					"run " UINT64_FORMAT " has " UINT64_FORMAT " bytes, which do not fit its %u pages",
					r->id, r->nbytes, r->npages);
		return false;
	}
	if ((uint64) r->first_page + r->npages > v->nblocks)
		return false;			/* reported with the pages */
	if (r->max_seq > v->m.flushed_seq)
		lsm_problem(v, "manifest", level, (int64) r->id, r->first_page,
					"run " UINT64_FORMAT " holds sequence numbers up to " UINT64_FORMAT ", past the manifest's flushed sequence " UINT64_FORMAT,
					r->id, r->max_seq, v->m.flushed_seq);
	return true;
}

/* One run's check (lsm/sstable.h), run step by step. */
typedef struct LsmRunCheck
{
	LsmVerify  *v;
	int			level;
	const lsm_run_meta *r;
	lsm_sst_check *check;
	bool		more;			/* steps remain */
	bool		read_failed;	/* the pager caught an error, reported */

	/*
	 * The row of the last page PostgreSQL refused, held back while the next
	 * data blocks fail on that same page (one 8 kB page holds several).
	 */
	LsmProblem *refused;
	BlockNumber refused_page;
	int64		refused_first;	/* the data blocks that failed on it */
	int64		refused_last;
} LsmRunCheck;

/* Adds to the held-back row the data blocks after the first, if any. */
static void
lsm_verify_run_refused_done(LsmRunCheck *rc)
{
	LsmProblem *p = rc->refused;

	if (p != NULL && rc->refused_last > rc->refused_first)
	{
		MemoryContext old = MemoryContextSwitchTo(rc->v->cxt);

		p->detail = psprintf("%s; data blocks " INT64_FORMAT ".." INT64_FORMAT " are on block %u too and cannot be read either",
							 p->detail, rc->refused_first + 1, rc->refused_last,
							 rc->refused_page);
		MemoryContextSwitchTo(old);
	}
	rc->refused = NULL;
}

/*
 * A problem the core found in a run: a row naming the run and the block.
 * When a page read failed, PostgreSQL's error (kept by the pager) says why
 * and names the page; the step then ends and lsm_verify_run rolls back.
 * The data blocks that fail next on the same page join that page's row.
 */
static void
lsm_verify_run_problem(void *arg, const lsm_sst_problem *p)
{
	LsmRunCheck *rc = (LsmRunCheck *) arg;
	LsmVerify  *v = rc->v;
	const lsm_run_meta *r = rc->r;
	int64		block = p->first_page != 0 ? (int64) p->first_page : -1;
	BlockNumber bad = v->store.bad_block;
	char	   *pages = "";

	v->store.bad_block = InvalidBlockNumber;
	if (bad != InvalidBlockNumber)
		block = bad;
	if (p->first_page != 0)
		pages = psprintf(" (blocks %u..%u)", p->first_page, p->last_page);
	if (v->store.error != NULL)
	{
		rc->read_failed = true;
		if (rc->refused != NULL && bad == rc->refused_page &&
			p->part == LSM_SST_PART_BLOCK && p->block == rc->refused_last + 1)
		{
			rc->refused_last = p->block;
			return;
		}
		lsm_verify_run_refused_done(rc);
		lsm_problem(v, "run", rc->level, (int64) r->id, block,
					"run " UINT64_FORMAT " (blocks %u..%u): %s%s: %s",
					r->id, r->first_page, r->first_page + r->npages - 1,
					p->msg, pages, lsm_error_text(v->store.error));
		if (p->part == LSM_SST_PART_BLOCK && bad != InvalidBlockNumber)
		{
			rc->refused = (LsmProblem *) llast(v->problems);
			rc->refused_page = bad;
			rc->refused_first = rc->refused_last = p->block;
		}
		return;
	}
	lsm_verify_run_refused_done(rc);
	if (bad != InvalidBlockNumber)
		lsm_problem(v, "run", rc->level, (int64) r->id, block,
					"run " UINT64_FORMAT " (blocks %u..%u): block %u is not a run page (%s)",
					r->id, r->first_page, r->first_page + r->npages - 1,
					bad, p->msg);
	else
		lsm_problem(v, "run", rc->level, (int64) r->id, block,
					"run " UINT64_FORMAT " (blocks %u..%u): %s%s",
					r->id, r->first_page, r->first_page + r->npages - 1,
					p->msg, pages);
}

/* Runs the check's steps until it ends or a page read fails. */
static void
lsm_verify_run_steps(LsmVerify *v, void *arg)
{
	LsmRunCheck *rc = (LsmRunCheck *) arg;

	v->store.bad_block = InvalidBlockNumber;
	while (rc->more && v->store.error == NULL)
	{
		CHECK_FOR_INTERRUPTS();
		rc->more = lsm_sst_check_step(rc->check);
	}
}

/*
 * Checks a run and reports each problem found.  A failed page read (a data
 * checksum failure, say) needs its subtransaction rolled back before the
 * buffer manager is used again, so the steps run in subtransactions: after
 * such a failure the check resumes in a new one with the next block.
 */
static void
lsm_verify_run(LsmVerify *v, int level, const lsm_run_meta *r)
{
	LsmRunCheck rc;
	lsm_sst_options opts;

	memset(&rc, 0, sizeof(rc));
	rc.v = v;
	rc.level = level;
	rc.r = r;
	if (!lsm_verify_run_meta(v, level, r))
		return;
	lsm_store_run_options(&opts, false);
	if (lsm_sst_check_new(&v->store.pager, r, &opts, lsm_verify_run_problem,
						  &rc, &rc.check) != LSM_OK)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"));
	rc.more = true;
	PG_TRY();
	{
		while (rc.more)
		{
			ErrorData  *edata;

			rc.read_failed = false;
			edata = lsm_verify_step(v, lsm_verify_run_steps, &rc);
			if (edata != NULL && !rc.read_failed)
			{
				/* Not a read the core reported: the check cannot go on. */
				lsm_problem(v, "run", level, (int64) r->id, -1,
							"run " UINT64_FORMAT " (blocks %u..%u) cannot be checked: %s",
							r->id, r->first_page, r->first_page + r->npages - 1,
							lsm_error_text(edata));
				break;
			}
		}
	}
	PG_FINALLY();
	{
		lsm_sst_check_free(rc.check);
	}
	PG_END_TRY();
	lsm_verify_run_refused_done(&rc);
}

static void
lsm_verify_runs(LsmVerify *v)
{
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->m.levels[l].nruns; i++)
		{
			CHECK_FOR_INTERRUPTS();
			lsm_verify_run(v, l, &v->m.levels[l].runs[i]);
		}
}

/* ----------------------------------------------------------------
 * The check
 * ----------------------------------------------------------------
 */

static void
lsm_verify_table(LsmVerify *v)
{
	ErrorData  *edata;

	v->use = lsm_use_attach(&v->rel->rd_node);
	v->store.entry = v->use->entry;

	/*
	 * Loaded first: loading frees pages a crash left without an owner.  A
	 * standby never loads (its readers read the log themselves), so what it
	 * checks is what redo built.
	 */
	if (!v->standby)
	{
		edata = lsm_verify_step(v, lsm_verify_load_step, NULL);
		if (edata != NULL)
			lsm_problem(v, "log", -1, -1, -1,
						"the table's log cannot be loaded: %s", lsm_error_text(edata));
	}

	lsm_verify_hold_flushes(v);
	edata = lsm_verify_step(v, lsm_verify_snapshot_step, NULL);
	if (edata != NULL)
	{
		lsm_problem(v, "manifest", -1, -1, LSM_META_BLKNO,
					"the metapage or the manifest cannot be read: %s",
					lsm_error_text(edata));
		return;
	}
	lsm_verify_log(v);
	lsm_verify_ownership(v);
	lsm_verify_runs(v);
}

List *
lsm_verify_relation(Relation rel, bool standby)
{
	LsmVerify  *v = palloc0(sizeof(LsmVerify));
	List	   *problems;

	v->cxt = CurrentMemoryContext;
	v->standby = standby;
	v->rel = rel;
	lsm_store_init_rel(&v->store, v->rel, v->cxt);
	lsm_manifest_init(&v->m);
	PG_TRY();
	{
		lsm_verify_table(v);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&v->m);
	}
	PG_END_TRY();
	lsm_use_release(v->use);
	lsm_store_free(&v->store);
	problems = v->problems;
	pfree(v);
	return problems;
}
