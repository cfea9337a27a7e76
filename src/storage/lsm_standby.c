/*
 * lsm_standby.c - reading lsm tables on a hot standby: a backend-local
 * memtable built from the log pages.
 *
 * A standby has every page of an lsm table (metapage, manifest, log pages,
 * runs), replicated by WAL, but not the primary's memtables, which live in
 * the primary's shared memory.  What they hold beyond the runs is in the
 * log pages: every entry of a committed or prepared transaction reaches the
 * log before its commit or prepare record (lsm_storage.h), so a standby
 * snapshot that sees a transaction as committed finds all its entries in
 * the runs and the log.  Entries of transactions still running on the
 * primary may be in the log too; they are invisible to the snapshot, as on
 * the primary.
 *
 * So each backend reading on a standby keeps, per table, a memtable in its
 * own memory holding the log's records above the manifest's flushed_seq,
 * and catches it up before each read: with the metapage share-locked (so
 * that no manifest change, in particular the flush that frees log pages,
 * can be replayed meanwhile), it reads the records appended since it last
 * looked, from the page and offset where it stopped.  Log pages are only
 * ever appended to, and a page gets its successor link in the WAL record
 * that formats the successor, so a record once read stays valid until a
 * flush moves the log's head or raises flushed_seq; then the memtable is
 * rebuilt from the new head.  Readers that still use the old one (an open
 * cursor) keep it until they are done.
 *
 * Nothing here writes: no page, no shared state.  The shared directory
 * entry a standby backend attaches to stays unloaded, so after promotion
 * the new primary's first use replays the log into a shared memtable as
 * after a crash.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "lsm_storage.h"

/*
 * A backend's memtable of a table's log starts this small and doubles as
 * it fills (copying its entries), so that a session reading many tables
 * with short logs stays small.
 */
#define LSM_STANDBY_MEM_INITIAL (1024 * 1024)

/* A freshly made memtable of size bytes (refs 1). */
static LsmStandbyMem *
lsm_standby_mem_new(Size size)
{
	LsmStandbyMem *mem;

	if (size > (Size) PG_UINT32_MAX)
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("the log of an lsm table is too large to be read on a standby"),
				errdetail("Its unflushed entries need more than 4 GB of memory."),
				errhint("Flush the table on the primary server (lsm_flush)."));
	mem = MemoryContextAllocZero(TopMemoryContext, sizeof(LsmStandbyMem));
	mem->region = MemoryContextAllocExtended(TopMemoryContext, size,
											 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (mem->region == NULL)
	{
		pfree(mem);
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Failed on request of size %zu for the memtable of an lsm table on a standby.",
						  size));
	}
	if (lsm_memtable_init(mem->region, size) != LSM_OK)
		elog(ERROR, "could not format a memtable of %zu bytes", size);
	mem->size = size;
	mem->mt = lsm_memtable_at(mem->region);
	mem->refs = 1;
	return mem;
}

void
lsm_standby_mem_unref(LsmStandbyMem *mem)
{
	if (mem == NULL || --mem->refs > 0)
		return;
	pfree(mem->region);
	pfree(mem);
}

/* Forgets what sl has read; the next catch-up starts from the log's head. */
void
lsm_standby_reset(LsmStandbyLog *sl)
{
	lsm_standby_mem_unref(sl->mem);
	sl->mem = NULL;
	sl->head = InvalidBlockNumber;
	sl->flushed_seq = 0;
	sl->page = InvalidBlockNumber;
	sl->off = 0;
	sl->npages = 0;
	sl->meta_lsn = InvalidXLogRecPtr;
}

/*
 * Replaces sl's full memtable by one twice its size holding the same
 * entries.  Readers of the old one keep it.
 */
static void
lsm_standby_grow(LsmStore *s, LsmStandbyLog *sl)
{
	LsmStandbyMem *old = sl->mem;
	LsmStandbyMem *mem = lsm_standby_mem_new(old->size * 2);
	lsm_iter   *it = lsm_memtable_iter_new(old->mt);

	if (it == NULL)
	{
		lsm_standby_mem_unref(mem);
		lsm_store_raise(s, LSM_NO_MEMORY, "reading the log on a standby");
	}
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
	{
		lsm_slice	ikey = lsm_iter_key(it);
		uint64		trailer = lsm_ikey_trailer(ikey);

		if (lsm_memtable_add(mem->mt, lsm_ikey_user_key(ikey), trailer >> 8,
							 (lsm_kind) (trailer & 0xff), lsm_iter_value(it)) != LSM_OK)
		{
			lsm_iter_destroy(it);
			lsm_standby_mem_unref(mem);
			elog(ERROR, "could not copy a memtable into one twice its size");
		}
	}
	lsm_iter_destroy(it);
	sl->mem = mem;
	lsm_standby_mem_unref(old);
}

static void lsm_standby_corrupt(LsmStore *s, BlockNumber blkno, const char *what)
			pg_attribute_noreturn();

static void
lsm_standby_corrupt(LsmStore *s, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			errcode(ERRCODE_DATA_CORRUPTED),
			errmsg("lsm table \"%s\" is corrupt", s->relname),
			errdetail("Log page %u: %s.", blkno, what));
}

/*
 * Adds the records of the log page copied in page, from sl->off on, that
 * are above sl->flushed_seq; advances sl->off past them.
 */
static void
lsm_standby_read_page(LsmStore *s, LsmStandbyLog *sl, Page page)
{
	uint32		used = LsmPageUsed(page);
	const uint8 *payload = LsmPagePayload(page);

	if (used < LSM_LOG_HEADER || used > LSM_PAYLOAD_SIZE || used < sl->off)
		lsm_standby_corrupt(s, sl->page, "its fill is impossible");
	while (sl->off < used)
	{
		lsm_logrec	rec;
		size_t		len;

		if (lsm_logrec_decode(payload + sl->off, used - sl->off, &rec, &len) != LSM_OK)
			lsm_standby_corrupt(s, sl->page,
								psprintf("the record at offset %u is damaged", sl->off));
		if (rec.seq > sl->flushed_seq)
		{
			while (!lsm_memtable_has_room(sl->mem->mt, rec.key.len, rec.value.len))
				lsm_standby_grow(s, sl);
			if (lsm_memtable_add(sl->mem->mt, rec.key, rec.seq, rec.kind,
								 rec.value) != LSM_OK)
				lsm_standby_corrupt(s, sl->page,
									psprintf("the record at offset %u cannot be added to a memtable",
											 sl->off));
		}
		sl->off += (uint32) len;
	}
}

/*
 * Follows the log from where sl stopped to its tail.  The caller holds the
 * metapage share-locked, which keeps the chain as it is but for appends.
 */
static void
lsm_standby_follow(LsmStore *s, LsmStandbyLog *sl)
{
	BlockNumber nblocks = InvalidBlockNumber;
	PGAlignedBlock copy;

	for (;;)
	{
		Buffer		buf = lsm_read_page(s, sl->page, LSM_PAGE_LOG, BUFFER_LOCK_SHARE);
		Page		page = BufferGetPage(buf);
		BlockNumber next = ((LsmLogPageHeader *) LsmPagePayload(page))->next;

		/* Most reads find nothing new: no copy then. */
		if (next == 0 && LsmPageUsed(page) == sl->off)
		{
			UnlockReleaseBuffer(buf);
			break;
		}
		memcpy(copy.data, page, BLCKSZ);
		UnlockReleaseBuffer(buf);
		lsm_standby_read_page(s, sl, (Page) copy.data);
		if (next == 0)
			break;
		if (nblocks == InvalidBlockNumber)
			nblocks = lsm_store_nblocks(s);
		if (++sl->npages >= nblocks)
			lsm_standby_corrupt(s, sl->head, "the chain from it loops");
		sl->page = next;
		sl->off = LSM_LOG_HEADER;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Brings sl's memtable up to date with the log whose head and flushed_seq
 * the manifest (read under the metapage share lock the caller still holds)
 * gives.  After an error sl starts afresh next time.
 */
void
lsm_standby_catch_up(LsmStore *s, LsmStandbyLog *sl, BlockNumber log_head,
					 uint64 flushed_seq)
{
	if (log_head == 0)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Its manifest has no log."));
	if (sl->mem == NULL || sl->head != log_head || sl->flushed_seq != flushed_seq)
	{
		LsmStandbyMem *mem = lsm_standby_mem_new(LSM_STANDBY_MEM_INITIAL);

		lsm_standby_reset(sl);
		sl->mem = mem;
		sl->head = log_head;
		sl->flushed_seq = flushed_seq;
		sl->page = log_head;
		sl->off = LSM_LOG_HEADER;
	}
	PG_TRY();
	{
		lsm_standby_follow(s, sl);
	}
	PG_CATCH();
	{
		lsm_standby_reset(sl);
		PG_RE_THROW();
	}
	PG_END_TRY();
}
