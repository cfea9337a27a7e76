/*
 * lsm_log.c - the log pages of an lsm table: appending entries, walking the
 * chain, and loading a table's memtable from its log.
 *
 * The log is a chain of pages from the manifest's log_head to the table's
 * tail page; each holds core log records (lsm/logrec.h) up to pd_lower.
 * Every entry reaches a log page under a generic WAL record before the
 * memtable sees it, so the memtables are only a cache of the log: after a
 * restart or crash (or when the directory evicted the table) the first
 * backend to use the table replays the chain into a fresh memtable.
 *
 * Each memtable owns a segment of the chain, from the page its first
 * record may be on (seg_first) up to the next memtable's seg_first.  A
 * segment boundary may fall inside a page: a flush frees the pages before
 * the next segment's first page, and the records of the flushed memtable
 * that share that page are skipped by sequence number (flushed_seq) when
 * the log is replayed.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

#include "lsm_storage.h"

/*
 * What a memtable node may take beyond its internal key and value: the
 * core's node header and its links at the tallest height, aligned.  The
 * core's own node overhead is well below this, so a batch whose summed
 * sizes pass lsm_memtable_has_room with this slack per extra entry fits.
 */
#define LSM_NODE_SLACK 128

/*
 * How far a log page is filled by appends to it.  A generic WAL record
 * carries the difference between a page's old and new image, which
 * PostgreSQL finds by comparing every byte in use: appending one row to a
 * full page costs a scan of 8 kB.  Appends to the tail page therefore stop
 * at half a page and go on on a new page (logged as an image of the bytes
 * in use, no comparison); a page started within a record may be filled up,
 * since a batch that fills pages pays the comparison once for many rows.
 * Half a page makes single-row inserts about a fifth faster for twice the
 * pages of live log.
 */
#define LSM_LOG_TAIL_FILL (LSM_PAYLOAD_SIZE / 2)

/* The payload offset records of page number p of a record may reach. */
static inline uint32
lsm_log_limit(int p, uint32 off)
{
	return p == 0 && off > LSM_LOG_HEADER ? LSM_LOG_TAIL_FILL : LSM_PAYLOAD_SIZE;
}

/* Most pages set aside for the log at a time. */
#define LSM_LOG_CHUNK 64

/* Reused buffer for encoding log records. */
static lsm_buf lsm_log_scratch;

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

/*
 * How many of the n entries (at least one, unless the active memtable mt
 * cannot take w[0]) go into one WAL record: they must fit the memtable and
 * the tail page plus up to MAX_GENERIC_XLOG_PAGES - 1 new log pages, whose
 * number is returned in *nnew.  Writer lock held.
 */
int
lsm_log_plan(LsmTableShared *e, const LsmWrite *w, int n, lsm_memtable *mt,
			 int *nnew)
{
	uint32		off = e->log_tail_off;
	int			pages = 0;
	Size		keys = 0;
	Size		vals = 0;
	int			k;

	for (k = 0; k < n; k++)
	{
		size_t		rec = lsm_logrec_size(w[k].keylen, w[k].vallen, e->next_seq + k);
		int			p = pages;
		uint32		o = off;

		if (o + rec > lsm_log_limit(p, o))
		{
			if (p == MAX_GENERIC_XLOG_PAGES - 1)
				break;
			p++;
			o = LSM_LOG_HEADER;
		}
		keys += w[k].keylen;
		vals += w[k].vallen;
		if (!lsm_memtable_has_room(mt, keys + (Size) k * LSM_NODE_SLACK, vals))
			break;
		pages = p;
		off = o + (uint32) rec;
	}
	*nnew = pages;
	return k;
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
		first = lsm_extend(s, n, NULL);
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
 * Appends w[0..k) to the log in one generic WAL record, as lsm_log_plan
 * planned it, then adds the entries to the memtable mt.  Writer lock held.
 */
void
lsm_log_append(LsmStore *s, LsmTableShared *e, const LsmWrite *w, int k,
			   int nnew, lsm_memtable *mt)
{
	Buffer		newbufs[MAX_GENERIC_XLOG_PAGES - 1];
	BlockNumber newblks[MAX_GENERIC_XLOG_PAGES - 1];
	Page		pages[MAX_GENERIC_XLOG_PAGES];
	Buffer		tailbuf;
	GenericXLogState *state;
	uint64		seq = e->next_seq;
	uint32		off = e->log_tail_off;
	size_t		pos = 0;
	int			cur = 0;

	Assert(k > 0 && nnew < MAX_GENERIC_XLOG_PAGES);

	/* Encode first: nothing has changed if this fails. */
	lsm_log_scratch.len = 0;
	for (int j = 0; j < k; j++)
	{
		lsm_status	st = lsm_logrec_append(&lsm_log_scratch, seq + j, w[j].kind,
										   lsm_slice_make(w[j].key, w[j].keylen),
										   lsm_slice_make(w[j].value, w[j].vallen));

		if (st != LSM_OK)
			lsm_store_raise(s, st, "encoding a log record");
	}

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
	for (int j = 0; j < k; j++)
	{
		uint32		len = (uint32) lsm_logrec_size(w[j].keylen, w[j].vallen, seq + j);

		if (off + len > lsm_log_limit(cur, off))
		{
			if (cur == nnew)
				break;
			((LsmLogPageHeader *) LsmPagePayload(pages[cur]))->next = newblks[cur];
			cur++;
			off = LSM_LOG_HEADER;
		}
		memcpy(LsmPagePayload(pages[cur]) + off, lsm_log_scratch.data + pos, len);
		off += len;
		pos += len;
		LsmPageSetUsed(pages[cur], off);
	}
	if (pos != lsm_log_scratch.len || cur != nnew)
	{
		GenericXLogAbort(state);
		elog(ERROR, "lsm table \"%s\": log records do not fit as planned", s->relname);
	}
	GenericXLogFinish(state);

	/*
	 * The log now has the entries; the memtable must have them too, or the
	 * cache would disagree with the log.  lsm_log_plan made sure they fit.
	 */
	START_CRIT_SECTION();
	for (int j = 0; j < k; j++)
	{
		lsm_status	st = lsm_memtable_add(mt, lsm_slice_make(w[j].key, w[j].keylen),
										  seq + j, w[j].kind,
										  lsm_slice_make(w[j].value, w[j].vallen));

		if (st != LSM_OK)
			elog(PANIC, "lsm table \"%s\": could not add a logged entry to the memtable: %s",
				 s->relname, lsm_status_str(st));
	}
	END_CRIT_SECTION();

	if (cur > 0)
		e->log_tail = newblks[cur - 1];
	e->log_tail_off = off;
	e->next_seq = seq + k;
	pg_atomic_write_u64(&e->write_tick, lsm_write_clock_tick());

	UnlockReleaseBuffer(tailbuf);
	for (int i = 0; i < nnew; i++)
		UnlockReleaseBuffer(newbufs[i]);
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

	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		lsm_manifest *m = &tx.m;
		BlockNumber p;
		BlockNumber steps = 0;

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
				lsm_manifest_check_status(s, lsm_manifest_free_extent(m, first, b - first, 0),
										  "freeing unused pages");
				nfreed += b - first;
			}
			else
				b++;
		}
		if (nfreed > 0)
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

/*
 * Replays the log chain into the memtable in region; writer lock held and
 * the table not loaded.  Records at or below the manifest's flushed_seq are
 * in runs already.  If the memtable fills (the log held frozen memtables
 * too), it is flushed in place, which no reader can see yet.
 */
static void
lsm_replay(LsmStore *s, LsmTableShared *e, int region)
{
	lsm_memtable *mt = lsm_region_memtable(region);
	LsmMetaTx	tx;
	uint64		flushed_seq;
	uint64		max_seq;
	uint64		prev_seq = 0;
	uint64		last_added = 0;
	LsmRowId	hwm;
	BlockNumber log_head;
	BlockNumber seg_first;
	BlockNumber tail;
	BlockNumber nblocks;
	BlockNumber steps = 0;
	uint32		tail_off = LSM_LOG_HEADER;
	PGAlignedBlock copy;

	lsm_meta_begin(s, &tx, false, true);
	flushed_seq = tx.m.flushed_seq;
	max_seq = tx.m.last_seq;
	log_head = tx.m.log_head;
	hwm = tx.meta.rowid_hwm;
	SpinLockAcquire(&e->mutex);
	e->manifest_version = tx.m.version;
	SpinLockRelease(&e->mutex);
	lsm_meta_end(&tx);

	if (log_head == 0)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Its manifest has no log."));

	nblocks = lsm_store_nblocks(s);
	seg_first = tail = log_head;
	for (BlockNumber p = log_head; p != 0;)
	{
		Buffer		buf;
		uint8	   *payload = LsmPagePayload(copy.data);
		uint32		used;
		uint32		off = LSM_LOG_HEADER;

		if (++steps > nblocks)
			lsm_log_corrupt(s, log_head, "the chain from it loops");
		/* Work on a copy: a flush below must not find this page locked. */
		buf = lsm_read_page(s, p, LSM_PAGE_LOG, BUFFER_LOCK_SHARE);
		memcpy(copy.data, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);
		used = LsmPageUsed(copy.data);
		if (used < LSM_LOG_HEADER)
			lsm_log_corrupt(s, p, "its fill is too small");

		while (off < used)
		{
			lsm_logrec	rec;
			size_t		len;
			lsm_status	st = lsm_logrec_decode(payload + off, used - off, &rec, &len);

			if (st != LSM_OK)
				lsm_log_corrupt(s, p, psprintf("the record at offset %u is damaged", off));
			if (rec.seq <= prev_seq)
				lsm_log_corrupt(s, p, psprintf("the record at offset %u is out of sequence", off));
			prev_seq = rec.seq;
			if (rec.seq > flushed_seq)
			{
				if (!lsm_memtable_has_room(mt, rec.key.len, rec.value.len))
				{
					lsm_flush_memtable(s, e, region, last_added, seg_first, p, false);
					if (lsm_memtable_init(lsm_region_ptr(region), lsm_region_bytes()) != LSM_OK)
						elog(ERROR, "could not format a memtable region");
					seg_first = p;
				}
				st = lsm_memtable_add(mt, rec.key, rec.seq, rec.kind, rec.value);
				if (st != LSM_OK)
					lsm_log_corrupt(s, p, psprintf("the record at offset %u cannot be replayed: %s",
												   off, lsm_status_str(st)));
				last_added = rec.seq;
			}
			max_seq = Max(max_seq, rec.seq);
			off += (uint32) len;
		}
		tail = p;
		tail_off = used;
		p = ((LsmLogPageHeader *) payload)->next;
	}

	lsm_reclaim_orphans(s);

	e->next_seq = max_seq + 1;
	e->log_tail = tail;
	e->log_tail_off = tail_off;
	SpinLockAcquire(&e->mutex);
	e->active.region = region;
	e->active.seg_first = seg_first;
	e->active.max_seq = 0;
	e->nfrozen = 0;
	e->next_rowid = hwm;
	e->rowid_limit = hwm;
	e->loaded = true;
	SpinLockRelease(&e->mutex);
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

	if (RecoveryInProgress())
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("lsm table \"%s\" cannot be read during recovery", s->relname),
				errdetail("Reading lsm tables on a hot standby is not supported yet."));

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
