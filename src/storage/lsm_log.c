/*
 * lsm_log.c - the log pages of an lsm table: appending records, walking the
 * chain, and loading a table's memtable from its log.
 *
 * The log is a chain of pages from the manifest's log_head to the table's
 * tail page; each holds core log records (lsm/logrec.h) up to pd_lower.
 * A write adds its entries to the memtable at once, but its log records go
 * to a backend-local buffer of pending records (lsm_pending.c) that
 * reaches the log pages in batches: when it has a few pages' worth, and at
 * the latest before the transaction's commit or prepare record.  So the log holds every
 * entry of every committed or prepared transaction that is not yet in a run,
 * and the memtables are a cache of the log plus the pending records of
 * transactions still running (see lsm_storage.h).  After a restart or crash
 * (or when the directory evicted the table) the first backend to use the
 * table replays the chain into a fresh memtable.
 *
 * Records reach the log in the order their batches are written, not in
 * sequence order: a transaction's records are written after those of a
 * transaction that began writing later but committed first.  Nothing depends
 * on the order of records in the log: the memtable orders entries by key and
 * sequence number, and replay takes the highest sequence number it finds.
 *
 * Each memtable owns a segment of the chain, from the page its first
 * record may be on (seg_first) up to the next memtable's seg_first.  A
 * memtable is frozen under the writer lock, at the log's tail page, so
 * every record of a newer memtable lies in a later segment; records of an
 * older memtable may still come later, from transactions that committed
 * after the freeze.  A flush frees the pages before the next segment's first
 * page, and the records of the flushed memtable found past it, on the shared
 * page or later, are skipped by sequence number (flushed_seq) when the log is
 * replayed.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "lsm/coding.h"
#include "lsm_storage.h"

/*
 * How far a log page is filled by appends to it.  A generic WAL record
 * carries the difference between a page's old and new image, which
 * PostgreSQL finds by comparing every byte in use: appending one row to a
 * full page costs a scan of 8 kB.  Small appends to the tail page (a short
 * transaction's records at its commit) therefore stop at half a page and go
 * on on a new page (logged as an image of the bytes in use, no comparison);
 * an append that fills the rest of the tail page anyway fills it up, since
 * it pays the comparison once for many records.  Half a page makes
 * single-row inserts about a fifth faster for twice the pages of live log.
 */
#define LSM_LOG_TAIL_FILL (LSM_PAYLOAD_SIZE / 2)

/* Most pages set aside for the log at a time. */
#define LSM_LOG_CHUNK 64

static void lsm_log_corrupt(LsmStore *s, BlockNumber blkno, const char *what)
			pg_attribute_noreturn();

static void
lsm_log_corrupt(LsmStore *s, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			errcode(ERRCODE_DATA_CORRUPTED),
			errmsg("lsm table \"%s\" is corrupt", s->relname),
			errdetail("Log page %u: %s.", blkno, what));
}

/* The length of the encoded record at p (lsm/logrec.h). */
static inline uint32
lsm_logrec_len_at(const uint8 *p)
{
	return LSM_LOGREC_HEADER + lsm_get_u32(p);
}

/*
 * Plans one generic WAL record for the encoded records recs[0..len): how
 * many bytes go on the tail page (filled from tail_off) and on each of up to
 * MAX_GENERIC_XLOG_PAGES - 1 new pages, in bytes[]; their number is returned
 * in *nnew.  Returns the bytes the record takes (whole records), or 0 when
 * !all and the records would not fill the record's last page: those wait
 * for more to come.
 */
static size_t
lsm_log_plan(uint32 tail_off, const uint8 *recs, size_t len, bool all,
			 uint32 *bytes, int *nnew)
{
	uint32		limit;
	uint32		off = tail_off;
	size_t		pos = 0;
	int			p = 0;

	if (tail_off <= LSM_LOG_HEADER || len >= LSM_PAYLOAD_SIZE - tail_off)
		limit = LSM_PAYLOAD_SIZE;
	else
		limit = LSM_LOG_TAIL_FILL;
	memset(bytes, 0, MAX_GENERIC_XLOG_PAGES * sizeof(uint32));
	while (pos < len)
	{
		uint32		rl = lsm_logrec_len_at(recs + pos);

		if (off + rl > limit)
		{
			if (p == MAX_GENERIC_XLOG_PAGES - 1)
				break;
			p++;
			off = LSM_LOG_HEADER;
			limit = LSM_PAYLOAD_SIZE;
		}
		bytes[p] += rl;
		off += rl;
		pos += rl;
	}
	if (pos == len && !all)
		return 0;
	*nnew = p;
	return pos;
}

/*
 * Sets pages aside for the log: a free extent of the manifest (taken in a
 * manifest change), so that log pages are recycled like the pages of
 * flushed logs they mostly are, else new pages at the end of the relation,
 * fewer for small tables.  Set-aside pages nothing links yet are found
 * unowned and freed again when the table is next loaded.  Writer lock
 * held, no buffer locked.
 */
static void
lsm_log_refill(LsmStore *s, LsmTableShared *e)
{
	static const uint32 sizes[] = {LSM_LOG_CHUNK, 16, 4, 1};
	LsmMetaTx	tx;
	lsm_pageno	first = InvalidBlockNumber;
	volatile uint32 n = 0;

	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		for (int i = 0; i < (int) lengthof(sizes) && n == 0; i++)
			if (lsm_manifest_take_extent(&tx.m, sizes[i], 0, &first) == LSM_OK)
				n = sizes[i];
		if (n > 0)
			lsm_meta_commit(s, &tx, NULL, NULL);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
	if (n == 0)
	{
		n = Min(LSM_LOG_CHUNK, Max(1, lsm_store_nblocks(s) / 16));
		first = lsm_extend(s, n);
	}
	e->log_spare = first;
	e->log_nspare = n;
}

/* A page for the log (see lsm_log_refill). */
static BlockNumber
lsm_log_take_page(LsmStore *s, LsmTableShared *e)
{
	if (e->log_nspare == 0)
		lsm_log_refill(s, e);
	e->log_nspare--;
	return e->log_spare++;
}

/*
 * Appends the records at recs to the log in one generic WAL record, as
 * lsm_log_plan planned them: bytes[0] on the tail page, bytes[i] on new
 * page i.  Writer lock held.
 */
static void
lsm_log_append(LsmStore *s, LsmTableShared *e, const uint8 *recs,
			   const uint32 *bytes, int nnew)
{
	Buffer		newbufs[MAX_GENERIC_XLOG_PAGES - 1];
	BlockNumber newblks[MAX_GENERIC_XLOG_PAGES - 1];
	Page		pages[MAX_GENERIC_XLOG_PAGES];
	Buffer		tailbuf;
	GenericXLogState *state;
	uint32		off = e->log_tail_off;

	Assert(nnew < MAX_GENERIC_XLOG_PAGES);

	/*
	 * New pages are private until linked, so lock them before the tail;
	 * finding them may change the manifest, so that comes first.
	 */
	for (int i = 0; i < nnew; i++)
		newblks[i] = lsm_log_take_page(s, e);
	for (int i = 0; i < nnew; i++)
		newbufs[i] = ReadBufferWithoutRelcache(s->node, MAIN_FORKNUM, newblks[i],
											   RBM_ZERO_AND_LOCK, NULL, s->permanent);
	tailbuf = lsm_read_page(s, e->log_tail, LSM_PAGE_LOG, BUFFER_LOCK_EXCLUSIVE);

	state = lsm_xlog_start(s);
	pages[0] = GenericXLogRegisterBuffer(state, tailbuf, 0);
	for (int i = 0; i < nnew; i++)
	{
		LsmLogPageHeader *lh;

		pages[i + 1] = GenericXLogRegisterBuffer(state, newbufs[i],
												 GENERIC_XLOG_FULL_IMAGE);
		lsm_page_init(pages[i + 1], LSM_PAGE_LOG);
		lh = (LsmLogPageHeader *) LsmPagePayload(pages[i + 1]);
		lh->next = 0;
		lh->reserved = 0;
		LsmPageSetUsed(pages[i + 1], LSM_LOG_HEADER);
	}
	if (LsmPageUsed(pages[0]) != off)
	{
		GenericXLogAbort(state);
		lsm_log_corrupt(s, e->log_tail, "its fill does not match the table's log tail");
	}
	for (int p = 0; p <= nnew; p++)
	{
		if (p > 0)
		{
			((LsmLogPageHeader *) LsmPagePayload(pages[p - 1]))->next = newblks[p - 1];
			off = LSM_LOG_HEADER;
		}
		Assert(off + bytes[p] <= LSM_PAYLOAD_SIZE);
		memcpy(LsmPagePayload(pages[p]) + off, recs, bytes[p]);
		recs += bytes[p];
		off += bytes[p];
		LsmPageSetUsed(pages[p], off);
	}
	GenericXLogFinish(state);

	if (nnew > 0)
		e->log_tail = newblks[nnew - 1];
	e->log_tail_off = off;

	UnlockReleaseBuffer(tailbuf);
	for (int i = 0; i < nnew; i++)
		UnlockReleaseBuffer(newbufs[i]);
}

/*
 * Writes the encoded records buf[*start..end) to the log pages, in as few
 * generic WAL records as they fit (each the tail page and up to
 * MAX_GENERIC_XLOG_PAGES - 1 new ones), advancing *start past each record
 * once it is logged, so that after an error *start says what is in the log.
 * Without all, stops at what would not fill a WAL record's pages.  Writer
 * lock held.
 */
void
lsm_log_write(LsmStore *s, LsmTableShared *e, const uint8 *buf, size_t *start,
			  size_t end, bool all)
{
	Assert(LWLockHeldByMeInMode(&e->writer, LW_EXCLUSIVE));

	while (*start < end)
	{
		uint32		bytes[MAX_GENERIC_XLOG_PAGES];
		int			nnew;
		size_t		n;

		n = lsm_log_plan(e->log_tail_off, buf + *start, end - *start, all,
						 bytes, &nnew);
		if (n == 0)
			break;
		lsm_log_append(s, e, buf + *start, bytes, nnew);
		*start += n;
	}
}

/* The next-page link of a log page. */
static BlockNumber
lsm_log_next(LsmStore *s, BlockNumber blkno)
{
	Buffer		buf = lsm_read_page(s, blkno, LSM_PAGE_LOG, BUFFER_LOCK_SHARE);
	BlockNumber next = ((LsmLogPageHeader *) LsmPagePayload(BufferGetPage(buf)))->next;

	UnlockReleaseBuffer(buf);
	return next;
}

/*
 * The pages of the log chain from first up to, not including, stop (which
 * the chain must reach).  palloc'd.
 */
BlockNumber *
lsm_log_pages_between(LsmStore *s, BlockNumber first, BlockNumber stop,
					  int *npages)
{
	BlockNumber nblocks = lsm_store_nblocks(s);
	int			cap = 64;
	int			n = 0;
	BlockNumber *pages = palloc(cap * sizeof(BlockNumber));

	for (BlockNumber p = first; p != stop; p = lsm_log_next(s, p))
	{
		if (p == 0 || (BlockNumber) n >= nblocks)
			lsm_log_corrupt(s, first, psprintf("the chain from it does not reach block %u", stop));
		if (n == cap)
		{
			cap *= 2;
			pages = repalloc(pages, cap * sizeof(BlockNumber));
		}
		pages[n++] = p;
	}
	*npages = n;
	return pages;
}

/* ----------------------------------------------------------------
 * Moving an empty log
 * ----------------------------------------------------------------
 */

/* Whether every record in the log is in a run.  Writer lock held. */
static bool
lsm_log_all_flushed(LsmTableShared *e)
{
	bool		flushed;

	SpinLockAcquire(&e->mutex);
	flushed = e->loaded && e->nfrozen == 0 && !e->flushing;
	SpinLockRelease(&e->mutex);

	/*
	 * Writers add to the active memtable under the writer lock.  Records
	 * of flushed memtables that reach the log later are skipped by sequence
	 * number wherever they are.
	 */
	return flushed && (e->active.region < 0 ||
					   lsm_memtable_count(lsm_region_memtable(e->active.region)) == 0);
}

/* Formats block blkno, a free page, as an empty log page, WAL-logged. */
static void
lsm_log_format_page(LsmStore *s, BlockNumber blkno)
{
	Buffer		buf = ReadBufferWithoutRelcache(s->node, MAIN_FORKNUM, blkno,
												RBM_ZERO_AND_LOCK, NULL,
												s->permanent);
	GenericXLogState *state = lsm_xlog_start(s);
	Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	LsmLogPageHeader *lh;

	lsm_page_init(page, LSM_PAGE_LOG);
	lh = (LsmLogPageHeader *) LsmPagePayload(page);
	lh->next = 0;
	lh->reserved = 0;
	LsmPageSetUsed(page, LSM_LOG_HEADER);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* Commit hook: the active memtable's segment starts on the new log page. */
static void
lsm_log_moved(LsmTableShared *e, void *arg)
{
	e->active.seg_first = *(BlockNumber *) arg;
}

/*
 * lsm_log_move_down's work, on the manifest in tx (metapage locked
 * exclusively) and under the writer lock.
 */
static bool
lsm_log_move_locked(LsmStore *s, LsmTableShared *e, LsmMetaTx *tx)
{
	BlockNumber *chain;
	int			nchain;
	BlockNumber highest = 0;
	lsm_pageno	newpage;

	if (tx->m.log_head != e->active.seg_first)
		elog(ERROR, "lsm table \"%s\": log head %u is not where the active memtable starts (%u)",
			 s->relname, tx->m.log_head, e->active.seg_first);
	chain = lsm_log_pages_between(s, tx->m.log_head, 0, &nchain);
	for (int i = 0; i < nchain; i++)
		highest = Max(highest, chain[i]);
	if (e->log_nspare > 0)
		highest = Max(highest, e->log_spare + e->log_nspare - 1);
	if (!lsm_take_reusable_extent(&tx->m, 1, &newpage) || newpage >= highest)
	{
		pfree(chain);
		return false;
	}

	lsm_log_format_page(s, newpage);
	tx->m.log_head = newpage;
	lsm_free_log_pages(s, &tx->m, chain, nchain);
	pfree(chain);
	if (e->log_nspare > 0)
		lsm_meta_check_status(s,
							  lsm_manifest_free_extent(&tx->m, e->log_spare,
													   e->log_nspare, 0),
							  "freeing the pages set aside for the log");
	lsm_meta_commit(s, tx, lsm_log_moved, &newpage);
	e->log_tail = newpage;
	e->log_tail_off = LSM_LOG_HEADER;
	e->log_nspare = 0;
	return true;
}

/*
 * When the log holds nothing a run does not (VACUUM flushed the memtables
 * and nobody wrote since), starts a new, empty log on the lowest reusable
 * free page, if that is below some page of the log or of the pages set
 * aside for it, and frees those: otherwise the log's pages, which stay
 * where they were allocated however long the table is idle, would keep the
 * end of the file from being truncated.  One manifest change (log_head, the
 * free list), after the new page is written; a crash before it leaves the
 * new page unowned, to be reclaimed at the next load.  Returns whether the
 * log moved.
 */
bool
lsm_log_move_down(LsmStore *s, LsmTableShared *e)
{
	LsmMetaTx	tx;
	volatile bool moved = false;

	LWLockAcquire(&e->writer, LW_EXCLUSIVE);
	if (!lsm_log_all_flushed(e))
	{
		LWLockRelease(&e->writer);
		return false;
	}
	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		moved = lsm_log_move_locked(s, e, &tx);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
	LWLockRelease(&e->writer);
	return moved;
}

/* ----------------------------------------------------------------
 * Loading
 * ----------------------------------------------------------------
 */

/* Marks [first, first + n) owned; what owns them names them in errors. */
static void
lsm_own_pages(LsmStore *s, uint8 *owned, BlockNumber nblocks,
			  BlockNumber first, uint32 n, const char *what)
{
	if (first == 0 || (uint64) first + n > nblocks)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Its %s at blocks %u..%u lies outside the relation (%u blocks).",
						  what, first, first + n - 1, nblocks));
	for (uint32 i = 0; i < n; i++)
	{
		BlockNumber b = first + i;

		if (owned[b / 8] & (1 << (b % 8)))
			ereport(ERROR,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("lsm table \"%s\" is corrupt", s->relname),
					errdetail("Block %u of its %s is also used by something else.", b, what));
		owned[b / 8] |= 1 << (b % 8);
	}
}

/*
 * Returns pages that nothing owns to the free list: pages of runs whose
 * flush failed or was interrupted by a crash before its manifest change,
 * extents taken for them, log pages added but never linked.  Runs while
 * the table is being loaded, when nothing else can be writing to it.
 */
static void
lsm_reclaim_orphans(LsmStore *s)
{
	BlockNumber nblocks = lsm_store_nblocks(s);
	uint8	   *owned = palloc0(nblocks / 8 + 1);
	LsmMetaTx	tx;
	uint32		nfreed = 0;
	uint64		nclipped;

	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		lsm_manifest *m = &tx.m;
		BlockNumber p;
		BlockNumber steps = 0;

		/*
		 * Free pages past the end hold no row: forget them rather than lock
		 * users out of the table (a file shorter than its free list was left
		 * by releases that did not WAL-log relation extension).
		 */
		nclipped = lsm_manifest_clip_free(m, nblocks);
		if (nclipped > 0)
			ereport(WARNING,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("lsm table \"%s\" listed " UINT64_FORMAT " free pages past its end",
						   s->relname, nclipped),
					errdetail("The relation has %u blocks; the free list no longer names the pages past them.",
							  nblocks));
		owned[0] |= 1;
		if (tx.meta.manifest_first != 0)
			lsm_own_pages(s, owned, nblocks, tx.meta.manifest_first,
						  tx.meta.manifest_npages, "manifest");
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			for (int i = 0; i < m->levels[l].nruns; i++)
				lsm_own_pages(s, owned, nblocks, m->levels[l].runs[i].first_page,
							  m->levels[l].runs[i].npages, "run");
		for (int i = 0; i < m->nfree; i++)
			lsm_own_pages(s, owned, nblocks, m->free[i].first, m->free[i].npages,
						  "free extent");
		for (p = m->log_head; p != 0; p = lsm_log_next(s, p))
		{
			if (++steps > nblocks)
				lsm_log_corrupt(s, m->log_head, "the chain from it loops");
			lsm_own_pages(s, owned, nblocks, p, 1, "log");
		}

		for (BlockNumber b = 1; b < nblocks;)
		{
			BlockNumber first = b;

			while (b < nblocks && !(owned[b / 8] & (1 << (b % 8))))
				b++;
			if (b > first)
			{
				lsm_meta_check_status(s, lsm_manifest_free_extent(m, first, b - first, 0),
									  "freeing unused pages");
				nfreed += b - first;
			}
			else
				b++;
		}
		if (nfreed > 0 || nclipped > 0)
			lsm_meta_commit(s, &tx, NULL, NULL);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
	pfree(owned);
	if (nfreed > 0)
		ereport(DEBUG1,
				errmsg_internal("lsm table \"%s\": returned %u unused pages to the free list",
								s->relname, nfreed));
}

/* Where a log record is, for replaying in sequence order. */
typedef struct LsmRecPos
{
	uint64		seq;
	uint32		page;			/* index into the chain */
	uint32		off;			/* payload offset of the record */
} LsmRecPos;

/* A replay in progress. */
typedef struct LsmReplay
{
	LsmStore   *s;
	LsmTableShared *e;
	int			region;
	uint64		flushed_seq;	/* records up to this are in runs */
	uint64		max_seq;		/* the highest sequence number seen */
	BlockNumber *chain;			/* the log's pages, head first */
	int			npages;
	int			head;			/* chain index of the log's head */
	uint32		tail_off;		/* fill of the last page */
	int			copied;			/* chain index of the page in copy, or -1 */
	PGAlignedBlock copy;
} LsmReplay;

/*
 * Makes r->copy a copy of log page chain[i] and returns its payload and
 * fill.  Replay works on copies: a flush during replay must not find a log
 * page locked.
 */
static uint8 *
lsm_replay_page(LsmReplay *r, int i, uint32 *used)
{
	if (r->copied != i)
	{
		Buffer		buf = lsm_read_page(r->s, r->chain[i], LSM_PAGE_LOG,
										BUFFER_LOCK_SHARE);

		memcpy(r->copy.data, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);
		r->copied = i;
		if (LsmPageUsed(r->copy.data) < LSM_LOG_HEADER)
			lsm_log_corrupt(r->s, r->chain[i], "its fill is too small");
	}
	*used = LsmPageUsed(r->copy.data);
	return LsmPagePayload(r->copy.data);
}

/* Decodes the record at off of the copied page; returns its length. */
static uint32
lsm_replay_decode(LsmReplay *r, const uint8 *payload, uint32 used, uint32 off,
				  lsm_logrec *rec)
{
	size_t		len;

	if (lsm_logrec_decode(payload + off, used - off, rec, &len) != LSM_OK)
		lsm_log_corrupt(r->s, r->chain[r->copied],
						psprintf("the record at offset %u is damaged", off));
	return (uint32) len;
}

static void
lsm_replay_add(LsmReplay *r, lsm_memtable *mt, const lsm_logrec *rec,
			   uint32 off)
{
	lsm_status	st = lsm_memtable_add(mt, rec->key, rec->seq, rec->kind,
									  rec->value);

	if (st != LSM_OK)
		lsm_log_corrupt(r->s, r->chain[r->copied],
						psprintf("the record at offset %u cannot be replayed: %s",
								 off, lsm_status_str(st)));
}

/*
 * Adds the records above flushed_seq to the memtable mt in log order.
 * Returns false, leaving a partly filled memtable, if they do not all fit.
 */
static bool
lsm_replay_in_log_order(LsmReplay *r, lsm_memtable *mt)
{
	for (int i = 0; i < r->npages; i++)
	{
		uint32		used;
		uint8	   *payload = lsm_replay_page(r, i, &used);

		for (uint32 off = LSM_LOG_HEADER; off < used;)
		{
			lsm_logrec	rec;
			uint32		len = lsm_replay_decode(r, payload, used, off, &rec);

			if (rec.seq > r->flushed_seq)
			{
				if (!lsm_memtable_has_room(mt, rec.key.len, rec.value.len))
					return false;
				lsm_replay_add(r, mt, &rec, off);
			}
			r->max_seq = Max(r->max_seq, rec.seq);
			off += len;
		}
		r->tail_off = used;
	}
	return true;
}

static int
lsm_recpos_cmp(const void *a, const void *b)
{
	uint64		x = ((const LsmRecPos *) a)->seq;
	uint64		y = ((const LsmRecPos *) b)->seq;

	return (x > y) - (x < y);
}

/*
 * Replays a log that holds more than one memtable (frozen memtables were
 * waiting for their flush, or lsm.memtable_size shrank): the records in
 * sequence order, flushing the memtable in place whenever it is full, which
 * no reader can see yet.  A flush in log order would be wrong, since a
 * record later in the log may have a lower sequence number than one already
 * flushed, and replay skips everything up to flushed_seq.  In sequence
 * order, when the memtable fills every record up to the last one added is
 * in it; the log's head moves to the first page that holds a record still
 * to be added, and the pages before it are freed, since all their records
 * are in the run or in earlier ones.
 */
static void
lsm_replay_in_seq_order(LsmReplay *r, lsm_memtable *mt)
{
	Size		cap = 1024;
	Size		n = 0;
	LsmRecPos  *pos = MemoryContextAllocHuge(CurrentMemoryContext,
											 cap * sizeof(LsmRecPos));
	uint32	   *minpage;
	uint64		last_added = r->flushed_seq;

	/* Where the records to replay are. */
	for (int i = 0; i < r->npages; i++)
	{
		uint32		used;
		uint8	   *payload = lsm_replay_page(r, i, &used);

		for (uint32 off = LSM_LOG_HEADER; off < used;)
		{
			lsm_logrec	rec;
			uint32		len = lsm_replay_decode(r, payload, used, off, &rec);

			if (rec.seq > r->flushed_seq)
			{
				if (n == cap)
				{
					cap *= 2;
					pos = repalloc_huge(pos, cap * sizeof(LsmRecPos));
				}
				pos[n].seq = rec.seq;
				pos[n].page = i;
				pos[n].off = off;
				n++;
			}
			r->max_seq = Max(r->max_seq, rec.seq);
			off += len;
		}
		r->tail_off = used;
	}
	qsort(pos, n, sizeof(LsmRecPos), lsm_recpos_cmp);

	/* minpage[j]: the first page holding any of the records j.. */
	minpage = MemoryContextAllocHuge(CurrentMemoryContext,
									 (n + 1) * sizeof(uint32));
	minpage[n] = r->npages - 1;
	for (Size j = n; j > 0; j--)
		minpage[j - 1] = Min(minpage[j], pos[j - 1].page);

	for (Size j = 0; j < n; j++)
	{
		uint32		used;
		uint8	   *payload = lsm_replay_page(r, pos[j].page, &used);
		lsm_logrec	rec;

		(void) lsm_replay_decode(r, payload, used, pos[j].off, &rec);
		if (j > 0 && pos[j].seq == pos[j - 1].seq)
			lsm_log_corrupt(r->s, r->chain[pos[j].page],
							psprintf("the record at offset %u repeats sequence number %llu",
									 pos[j].off, (unsigned long long) rec.seq));
		if (!lsm_memtable_has_room(mt, rec.key.len, rec.value.len))
		{
			lsm_flush_memtable(r->s, r->e, r->region, last_added,
							   r->chain[r->head], r->chain[minpage[j]], false);
			if (lsm_memtable_init(lsm_region_ptr(r->region), lsm_region_bytes()) != LSM_OK)
				elog(ERROR, "could not format a memtable region");
			r->head = minpage[j];
		}
		lsm_replay_add(r, mt, &rec, pos[j].off);
		last_added = rec.seq;
	}
	pfree(minpage);
	pfree(pos);
}

/*
 * Replays the log chain into the memtable in region; writer lock held and
 * the table not loaded.  Records at or below the manifest's flushed_seq are
 * in runs already; the others may come in any order (see the file comment).
 */
static void
lsm_replay(LsmStore *s, LsmTableShared *e, int region)
{
	lsm_memtable *mt = lsm_region_memtable(region);
	LsmReplay  *r = palloc0(sizeof(LsmReplay));
	LsmMetaTx	tx;
	uint64		hwm;
	BlockNumber log_head;
	BlockNumber nblocks;
	int			cap = 64;

	lsm_meta_begin(s, &tx, false, true);
	r->flushed_seq = tx.m.flushed_seq;
	r->max_seq = tx.m.last_seq;
	log_head = tx.m.log_head;
	hwm = tx.meta.id_hwm;
	SpinLockAcquire(&e->mutex);
	e->manifest_version = tx.m.version;
	e->l0_runs = tx.m.levels[0].nruns;
	SpinLockRelease(&e->mutex);
	lsm_meta_end(&tx);

	if (log_head == 0)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Its manifest has no log."));

	r->s = s;
	r->e = e;
	r->region = region;
	r->copied = -1;
	r->tail_off = LSM_LOG_HEADER;
	r->chain = palloc(cap * sizeof(BlockNumber));
	nblocks = lsm_store_nblocks(s);
	for (BlockNumber p = log_head; p != 0; p = lsm_log_next(s, p))
	{
		if ((BlockNumber) r->npages >= nblocks)
			lsm_log_corrupt(s, log_head, "the chain from it loops");
		if (r->npages == cap)
		{
			cap *= 2;
			r->chain = repalloc(r->chain, cap * sizeof(BlockNumber));
		}
		r->chain[r->npages++] = p;
	}

	if (!lsm_replay_in_log_order(r, mt))
	{
		if (lsm_memtable_init(lsm_region_ptr(region), lsm_region_bytes()) != LSM_OK)
			elog(ERROR, "could not format a memtable region");
		lsm_replay_in_seq_order(r, mt);
	}

	lsm_reclaim_orphans(s);

	e->next_seq = r->max_seq + 1;
	e->log_tail = r->chain[r->npages - 1];
	e->log_tail_off = r->tail_off;
	SpinLockAcquire(&e->mutex);
	e->active.region = region;
	e->active.seg_first = r->chain[r->head];
	e->active.max_seq = 0;
	e->nfrozen = 0;
	e->next_id = hwm;
	e->id_limit = hwm;
	e->loaded = true;
	SpinLockRelease(&e->mutex);

	pfree(r->chain);
	pfree(r);
}

/*
 * Opens relation rel's storage for an operation on the whole table
 * (compaction, VACUUM, verification): attaches to its shared entry, for as
 * long as the returned use lasts, and sets up s in the current memory
 * context; with load, loads the table.  Being attached keeps the table
 * loaded, so that no later load frees the pages of a merge in progress
 * (a load frees pages no run owns).
 */
LsmUse *
lsm_store_open(LsmStore *s, Relation rel, bool load)
{
	LsmUse	   *u = lsm_use_attach(&rel->rd_node);

	lsm_store_init_rel(s, rel, CurrentMemoryContext);
	s->entry = u->entry;
	if (load)
		lsm_load(s, u);
	return u;
}

/*
 * Makes sure the table's memtables hold its whole live log: on first use
 * since server start (or since the directory evicted it), replays the log.
 */
void
lsm_load(LsmStore *s, LsmUse *u)
{
	LsmTableShared *e = u->entry;
	volatile int region;
	bool		loaded;

	SpinLockAcquire(&e->mutex);
	loaded = e->loaded;
	SpinLockRelease(&e->mutex);
	if (loaded)
		return;

	/*
	 * A standby's readers read the log themselves (lsm_standby.c): the
	 * shared memtables are the primary's, and one loaded now would miss
	 * what replay appends to the log later.
	 */
	if (RecoveryInProgress())
		elog(ERROR, "lsm table \"%s\" cannot be loaded during recovery", s->relname);

	region = lsm_region_acquire(u);
	LWLockAcquire(&e->writer, LW_EXCLUSIVE);
	SpinLockAcquire(&e->mutex);
	loaded = e->loaded;
	SpinLockRelease(&e->mutex);
	if (loaded)
	{
		LWLockRelease(&e->writer);
		lsm_region_free_unused(region);
		return;
	}
	PG_TRY();
	{
		lsm_replay(s, e, region);
	}
	PG_CATCH();
	{
		/* Nobody else knows the region yet. */
		lsm_region_free_unused(region);
		PG_RE_THROW();
	}
	PG_END_TRY();
	LWLockRelease(&e->writer);
}
