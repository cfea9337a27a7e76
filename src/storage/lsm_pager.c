/*
 * lsm_pager.c - an lsm table's pages through the buffer manager: the page
 * format, page reads and writes, and the core's pager (lsm/pager.h);
 * new pages come from lsm_space.c.
 *
 * The core calls the pager from deep inside its own code, which allocates
 * with malloc and reports failure by status codes.  An ERROR raised by the
 * buffer manager there would unwind through the core and leak what it
 * holds, so the pager callbacks catch errors, keep a copy in the store, and
 * return LSM_IO_ERROR; once the core has returned, lsm_store_raise re-throws
 * the saved error.  After an error has been caught, the callbacks fail
 * without touching PostgreSQL again.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xloginsert.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "lsm_storage.h"

/* The page format as lsm/format.h, the authority lsm_inspect reads by, has it. */
StaticAssertDecl(BLCKSZ == LSM_FORMAT_PAGE_SIZE, "lsm pages are 8 kB");
StaticAssertDecl(LSM_PAYLOAD_OFFSET == LSM_FORMAT_PAGE_HEADER &&
				 offsetof(PageHeaderData, pd_lower) == LSM_FORMAT_PD_LOWER &&
				 LSM_SPECIAL_SIZE == LSM_FORMAT_SPECIAL_SIZE &&
				 LSM_PAYLOAD_SIZE == LSM_FORMAT_PAYLOAD_SIZE,
				 "page layout differs from lsm/format.h");
StaticAssertDecl(BLCKSZ - LSM_SPECIAL_SIZE + offsetof(LsmPageOpaqueData, lsm_type) ==
				 LSM_FORMAT_KIND_OFFSET &&
				 BLCKSZ - LSM_SPECIAL_SIZE + offsetof(LsmPageOpaqueData, lsm_page_id) ==
				 LSM_FORMAT_ID_OFFSET,
				 "special space differs from lsm/format.h");
StaticAssertDecl(offsetof(LsmMetaData, magic) == LSM_FORMAT_META_MAGIC_OFF &&
				 offsetof(LsmMetaData, format_version) == LSM_FORMAT_META_VERSION_OFF &&
				 offsetof(LsmMetaData, id_hwm) == LSM_FORMAT_META_ID_HWM_OFF &&
				 offsetof(LsmMetaData, manifest_version) == LSM_FORMAT_META_MVERSION_OFF &&
				 offsetof(LsmMetaData, manifest_len) == LSM_FORMAT_META_MLEN_OFF &&
				 offsetof(LsmMetaData, manifest_first) == LSM_FORMAT_META_MFIRST_OFF &&
				 offsetof(LsmMetaData, manifest_npages) == LSM_FORMAT_META_MNPAGES_OFF &&
				 offsetof(LsmMetaData, key_encoder) == LSM_FORMAT_META_KEY_ENCODER_OFF &&
				 offsetof(LsmMetaData, key_attnum) == LSM_FORMAT_META_KEY_ATTNUM_OFF &&
				 offsetof(LsmMetaData, key_typid) == LSM_FORMAT_META_KEY_TYPID_OFF &&
				 offsetof(LsmMetaData, key_collation) == LSM_FORMAT_META_KEY_COLL_OFF &&
				 sizeof(LsmMetaData) == LSM_FORMAT_META_SIZE &&
				 LSM_META_INLINE_OFFSET == LSM_FORMAT_META_INLINE,
				 "metapage differs from lsm/format.h");
StaticAssertDecl(LSM_LOG_HEADER == LSM_FORMAT_LOG_HEADER,
				 "log page header differs from lsm/format.h");
StaticAssertDecl(RELSEG_SIZE == LSM_FORMAT_SEGMENT_PAGES,
				 "lsm_inspect reads files of 1 GB segments");

static lsm_status store_page_get(lsm_pager *p, lsm_pageno pageno,
								 const uint8_t **payload, void **handle);
static void store_page_release(lsm_pager *p, void *handle);
static lsm_status store_page_write(lsm_pager *p, lsm_pageno pageno,
								   const uint8_t *payload);
static lsm_pageno store_npages(lsm_pager *p);
static void store_pages_reading(lsm_pager *p, lsm_pageno first, lsm_pageno last);

static const lsm_pager_ops lsm_buffer_pager_ops = {
	store_page_get,
	store_page_release,
	store_page_write,
	store_npages,
	store_pages_reading
};

/* ----------------------------------------------------------------
 * The storage handle
 * ----------------------------------------------------------------
 */

void
lsm_store_init(LsmStore *s, const RelFileNode *node, char persistence,
			   bool needs_wal, const char *relname, MemoryContext cxt)
{
	memset(s, 0, sizeof(LsmStore));
	s->pager.ops = &lsm_buffer_pager_ops;
	s->pager.payload_size = LSM_PAYLOAD_SIZE;
	s->node = *node;
	s->cxt = cxt;
	s->bad_block = InvalidBlockNumber;
	s->read_first = InvalidBlockNumber;
	s->read_last = InvalidBlockNumber;
	strlcpy(s->relname, relname, NAMEDATALEN);
	s->xlogrel = MemoryContextAllocZero(cxt, sizeof(RelationData));
	s->xlogrel->rd_rel = MemoryContextAllocZero(cxt, sizeof(FormData_pg_class));
	lsm_store_set_wal(s, persistence, needs_wal);
}

/* The store of relation rel, as it is now. */
void
lsm_store_init_rel(LsmStore *s, Relation rel, MemoryContext cxt)
{
	lsm_store_init(s, &rel->rd_node, rel->rd_rel->relpersistence,
				   RelationNeedsWAL(rel), RelationGetRelationName(rel), cxt);
}

/*
 * GenericXLogStart only asks RelationNeedsWAL of its relation; the stand-in
 * answers what the real relation answered when the store was set up (false
 * for unlogged tables, and for a permanent relfilenode created in the
 * current transaction under wal_level = minimal).
 */
void
lsm_store_set_wal(LsmStore *s, char persistence, bool needs_wal)
{
	s->persistence = persistence;
	s->permanent = persistence == RELPERSISTENCE_PERMANENT;
	s->needs_wal = needs_wal;
	s->xlogrel->rd_node = s->node;
	s->xlogrel->rd_rel->relpersistence = persistence;
	s->xlogrel->rd_createSubid = InvalidSubTransactionId;
	s->xlogrel->rd_firstRelfilenodeSubid =
		needs_wal ? InvalidSubTransactionId : TopSubTransactionId;
}

void
lsm_store_free(LsmStore *s)
{
	pfree(s->xlogrel->rd_rel);
	pfree(s->xlogrel);
	s->xlogrel = NULL;
	if (s->error)
		FreeErrorData(s->error);
	s->error = NULL;
}

/*
 * The buffer rings a process writes runs through and reads a compaction's
 * inputs through.  A flush or compaction streams tens of megabytes of
 * pages that nobody needs soon; through a ring (as COPY and VACUUM do)
 * they recycle a few buffers, written out by the process that made them
 * dirty, instead of evicting the metapage, log pages and index pages every
 * backend needs and leaving the writes to whoever evicts them.
 */
static BufferAccessStrategy
lsm_ring(BufferAccessStrategy *ring, BufferAccessStrategyType type)
{
	if (*ring == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		*ring = GetAccessStrategy(type);
		MemoryContextSwitchTo(old);
	}
	return *ring;
}

static BufferAccessStrategy
lsm_bulk_write_strategy(void)
{
	static BufferAccessStrategy ring = NULL;

	return lsm_ring(&ring, BAS_BULKWRITE);
}

/*
 * Sets backend_flush_after to bgwriter_flush_after from source, by action:
 * the run pages this process's ring evicts then go through to the disk as
 * it goes, every that many pages, as the background writer's own do.
 */
static void
lsm_set_write_back(GucSource source, GucAction action)
{
	char		pages[16];

	snprintf(pages, sizeof(pages), "%d", bgwriter_flush_after);
	(void) set_config_option("backend_flush_after", pages, PGC_USERSET,
							 source, action, true, 0, false);
}

/*
 * For the flusher and the compaction workers, which write nearly every run,
 * for good.  With backend_flush_after at its default of 0 the kernel keeps
 * their pages dirty in its page cache (gigabytes under a sustained insert
 * load) until a checkpoint's fsync or its own writeback sends them in one
 * burst, and every commit's WAL flush queues behind it: commits of over a
 * second in scripts/bench-sustained.sh, about 0.1 s with this.  Called
 * again after each configuration reload.
 */
void
lsm_write_back_as_bgwriter(void)
{
	lsm_set_write_back(PGC_S_OVERRIDE, GUC_ACTION_SET);
}

/*
 * The same for a session's lsm_flush or lsm_compact call, until
 * AtEOXact_GUC(true, level) with the level returned (or the end of the
 * transaction, on an error): the session's own setting comes back after.
 */
int
lsm_write_back_begin(void)
{
	int			level = NewGUCNestLevel();

	lsm_set_write_back(PGC_S_SESSION, GUC_ACTION_SAVE);
	return level;
}

BufferAccessStrategy
lsm_bulk_read_strategy(void)
{
	static BufferAccessStrategy ring = NULL;

	return lsm_ring(&ring, BAS_BULKREAD);
}

GenericXLogState *
lsm_xlog_start(LsmStore *s)
{
	return GenericXLogStart(s->xlogrel);
}

/* Keeps a copy of the error being thrown and cancels the throw. */
void
lsm_store_catch(LsmStore *s)
{
	MemoryContext old = MemoryContextSwitchTo(s->cxt);
	ErrorData  *edata = CopyErrorData();

	FlushErrorState();
	MemoryContextSwitchTo(old);
	if (s->error == NULL)
		s->error = edata;
	else
		FreeErrorData(edata);
}

static void
lsm_store_vraise(LsmStore *s, lsm_status st, const char *fmt, va_list ap)
	pg_attribute_printf(3, 0);

static void
lsm_store_vraise(LsmStore *s, lsm_status st, const char *fmt, va_list ap)
{
	char		what[256];
	BlockNumber bad = s->bad_block;
	BlockNumber read_first = s->read_first;
	BlockNumber read_last = s->read_last;

	vsnprintf(what, sizeof(what), fmt, ap);
	s->bad_block = InvalidBlockNumber;
	s->read_first = InvalidBlockNumber;
	s->read_last = InvalidBlockNumber;
	if (s->error)
	{
		ErrorData  *edata = s->error;

		s->error = NULL;

		/*
		 * A page the buffer manager refused (data checksum or page header):
		 * its message names the block and the file; say which table and
		 * what was being read.
		 */
		if (edata->sqlerrcode == ERRCODE_DATA_CORRUPTED)
			ereport(ERROR,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("lsm table \"%s\" is corrupt", s->relname),
					errdetail("%s, while %s.", edata->message, what));
		ReThrowError(edata);
	}
	if (st == LSM_CORRUPT && bad != InvalidBlockNumber)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Block %u, needed while %s, is not a page of that kind.",
						  bad, what));
	if (st == LSM_CORRUPT && read_first != InvalidBlockNumber)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				read_first == read_last ?
				errdetail("A checksum, length or order check failed while %s; the data last read is in block %u.",
						  what, read_first) :
				errdetail("A checksum, length or order check failed while %s; the data last read is in blocks %u..%u.",
						  what, read_first, read_last));
	if (st == LSM_CORRUPT)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("A checksum, length or order check failed while %s.", what));
	if (st == LSM_NO_MEMORY)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Failed while %s of lsm table \"%s\".", what, s->relname));
	elog(ERROR, "lsm table \"%s\": %s failed: %s", s->relname, what,
		 lsm_status_str(st));
}

/* Raises the error behind a failed core call: a caught one, or st's. */
void
lsm_store_raise(LsmStore *s, lsm_status st, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	lsm_store_vraise(s, st, fmt, ap);
	va_end(ap);
}

/* lsm_store_raise unless st is LSM_OK and nothing was caught. */
void
lsm_store_check(LsmStore *s, lsm_status st, const char *fmt,...)
{
	va_list		ap;

	if (st == LSM_OK && s->error == NULL)
		return;
	va_start(ap, fmt);
	lsm_store_vraise(s, st == LSM_OK ? LSM_IO_ERROR : st, fmt, ap);
	va_end(ap);
}

BlockNumber
lsm_store_nblocks(LsmStore *s)
{
	s->nblocks = smgrnblocks(smgropen(s->node, InvalidBackendId), MAIN_FORKNUM);
	return s->nblocks;
}

static bool
lsm_block_exists(LsmStore *s, BlockNumber blkno)
{
	return blkno < s->nblocks || blkno < lsm_store_nblocks(s);
}

/* ----------------------------------------------------------------
 * Pages
 * ----------------------------------------------------------------
 */

/*
 * Formats page as an lsm page of the given type with no payload in use;
 * the caller sets pd_lower (LsmPageSetUsed) as it fills it.
 */
void
lsm_page_init(Page page, uint16 type)
{
	LsmPageOpaqueData *op;

	PageInit(page, BLCKSZ, LSM_SPECIAL_SIZE);
	op = (LsmPageOpaqueData *) PageGetSpecialPointer(page);
	op->lsm_reserved = 0;
	op->lsm_type = type;
	op->lsm_page_id = LSM_PAGE_ID;
	Assert(((PageHeader) page)->pd_lower == LSM_PAYLOAD_OFFSET);
	Assert(((PageHeader) page)->pd_upper == LSM_PAYLOAD_OFFSET + LSM_PAYLOAD_SIZE);
}

bool
lsm_page_is(Page page, uint16 type)
{
	PageHeader	ph = (PageHeader) page;
	LsmPageOpaqueData *op;

	if (PageIsNew(page) || ph->pd_special != BLCKSZ - LSM_SPECIAL_SIZE ||
		ph->pd_lower < LSM_PAYLOAD_OFFSET || ph->pd_lower > ph->pd_upper)
		return false;
	op = (LsmPageOpaqueData *) PageGetSpecialPointer(page);
	return op->lsm_page_id == LSM_PAGE_ID && op->lsm_type == type;
}

static const char *
lsm_page_type_name(uint16 type)
{
	switch (type)
	{
		case LSM_PAGE_META:
			return "metapage";
		case LSM_PAGE_LOG:
			return "log page";
		case LSM_PAGE_RUN:
			return "run page";
		case LSM_PAGE_MANIFEST:
			return "manifest page";
	}
	return "page";
}

/*
 * Reads block blkno into a pinned buffer.  A page the buffer manager
 * refuses (data checksum, page header) is reported as corruption of the
 * table, naming the page's role and block.
 */
static Buffer
lsm_read_buffer(LsmStore *s, BlockNumber blkno, uint16 type)
{
	MemoryContext cxt = CurrentMemoryContext;
	Buffer		buf = InvalidBuffer;

	PG_TRY();
	{
		buf = ReadBufferWithoutRelcache(s->node, MAIN_FORKNUM, blkno, RBM_NORMAL,
										NULL, s->permanent);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_DATA_CORRUPTED)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("%s, reading its %s at block %u.", edata->message,
						  lsm_page_type_name(type), blkno));
	}
	PG_END_TRY();
	return buf;
}

/* Reads and locks block blkno, which must be an lsm page of type. */
Buffer
lsm_read_page(LsmStore *s, BlockNumber blkno, uint16 type, int lockmode)
{
	Buffer		buf;

	if (!lsm_block_exists(s, blkno))
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("It refers to block %u, past its end (%u blocks).",
						  blkno, s->nblocks));
	buf = lsm_read_buffer(s, blkno, type);
	LockBuffer(buf, lockmode);
	if (!lsm_page_is(BufferGetPage(buf), type))
	{
		UnlockReleaseBuffer(buf);
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", s->relname),
				errdetail("Block %u is not a valid %s.", blkno,
						  lsm_page_type_name(type)));
	}
	return buf;
}

/*
 * Writes a whole page once (run and manifest pages): formatted as type, its
 * payload copied, WAL-logged as a full page image, through the bulk-write
 * ring.
 */
void
lsm_write_page(LsmStore *s, BlockNumber blkno, uint16 type, const uint8 *payload)
{
	Buffer		buf;
	Page		page;

	if (blkno == LSM_META_BLKNO || !lsm_block_exists(s, blkno))
		elog(ERROR, "lsm table \"%s\": block %u was not allocated", s->relname, blkno);
	buf = ReadBufferWithoutRelcache(s->node, MAIN_FORKNUM, blkno,
									RBM_ZERO_AND_LOCK,
									lsm_bulk_write_strategy(), s->permanent);
	page = BufferGetPage(buf);

	START_CRIT_SECTION();
	lsm_page_init(page, type);
	memcpy(LsmPagePayload(page), payload, LSM_PAYLOAD_SIZE);
	LsmPageSetUsed(page, LSM_PAYLOAD_SIZE);
	MarkBufferDirty(buf);
	if (s->needs_wal)
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();

	UnlockReleaseBuffer(buf);
}

/* ----------------------------------------------------------------
 * The core's pager
 * ----------------------------------------------------------------
 */

/*
 * A run page (of a run read since metapage LSN lsn_limit, if valid; see
 * LsmRunPager) that was rewritten after the run was seen: its extent was
 * freed and reused by the primary while this standby still read it.
 */
static void
lsm_run_page_reused(LsmStore *s, BlockNumber pageno)
{
	ereport(ERROR,
			errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			errmsg("canceling statement due to conflict with recovery"),
			errdetail("The primary server reused block %u of lsm table \"%s\", which holds a run this statement was still reading.",
					  pageno, s->relname),
			errhint("Turn on hot_standby_feedback on the standby so that the primary keeps the runs standby queries read, then retry."));
}

/* Reads and share-locks a run page for the core (see store_page_get). */
static lsm_status
lsm_run_page_get(LsmStore *s, lsm_pageno pageno, XLogRecPtr lsn_limit,
				 const uint8_t **payload, void **handle)
{
	volatile lsm_status st = LSM_OK;

	if (s->error)
		return LSM_IO_ERROR;
	PG_TRY();
	{
		Buffer		buf;

		if (pageno == LSM_META_BLKNO || !lsm_block_exists(s, pageno))
		{
			s->bad_block = pageno;
			st = LSM_CORRUPT;
		}
		else
		{
			Page		page;

			buf = ReadBufferWithoutRelcache(s->node, MAIN_FORKNUM, pageno,
											RBM_NORMAL, s->read_strategy,
											s->permanent);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			/* A reused page may be of any kind now: checked first. */
			if (!XLogRecPtrIsInvalid(lsn_limit) && PageGetLSN(page) > lsn_limit)
			{
				UnlockReleaseBuffer(buf);
				lsm_run_page_reused(s, pageno);
			}
			if (!lsm_page_is(page, LSM_PAGE_RUN))
			{
				UnlockReleaseBuffer(buf);
				s->bad_block = pageno;
				st = LSM_CORRUPT;
			}
			else
			{
				*payload = LsmPagePayload(page);
				*handle = (void *) (uintptr_t) buf;
			}
		}
	}
	PG_CATCH();
	{
		lsm_store_catch(s);
		s->bad_block = pageno;
		st = LSM_IO_ERROR;
	}
	PG_END_TRY();
	return st;
}

static lsm_status
store_page_get(lsm_pager *p, lsm_pageno pageno, const uint8_t **payload,
			  void **handle)
{
	return lsm_run_page_get((LsmStore *) p, pageno, InvalidXLogRecPtr,
							payload, handle);
}

static void
store_pages_reading(lsm_pager *p, lsm_pageno first, lsm_pageno last)
{
	LsmStore   *s = (LsmStore *) p;

	s->read_first = first;
	s->read_last = last;
}

static void
store_page_release(lsm_pager *p, void *handle)
{
	/* Unlocking and unpinning a buffer we hold cannot fail. */
	UnlockReleaseBuffer((Buffer) (uintptr_t) handle);
}

static lsm_status
store_page_write(lsm_pager *p, lsm_pageno pageno, const uint8_t *payload)
{
	LsmStore   *s = (LsmStore *) p;
	volatile lsm_status st = LSM_OK;

	if (s->error)
		return LSM_IO_ERROR;
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
		lsm_write_page(s, pageno, LSM_PAGE_RUN, payload);
	}
	PG_CATCH();
	{
		lsm_store_catch(s);
		st = LSM_IO_ERROR;
	}
	PG_END_TRY();
	return st;
}

static lsm_pageno
store_npages(lsm_pager *p)
{
	LsmStore   *s = (LsmStore *) p;
	volatile lsm_pageno n = 0;

	if (s->error)
		return 0;
	PG_TRY();
	{
		n = lsm_store_nblocks(s);
	}
	PG_CATCH();
	{
		lsm_store_catch(s);
	}
	PG_END_TRY();
	return n;
}

/*
 * The pager of a run being read (LsmRunPager): the store's pages, checked
 * against the run's LSN limit.  Runs are never written through it.
 */
static lsm_status
lsm_run_pager_get(lsm_pager *p, lsm_pageno pageno, const uint8_t **payload,
				  void **handle)
{
	LsmRunPager *rp = (LsmRunPager *) p;

	return lsm_run_page_get(rp->store, pageno, rp->lsn_limit, payload, handle);
}

static lsm_status
lsm_run_pager_write(lsm_pager *p, lsm_pageno pageno, const uint8_t *payload)
{
	return LSM_INVALID;
}

static lsm_pageno
lsm_run_pager_npages(lsm_pager *p)
{
	return store_npages(&((LsmRunPager *) p)->store->pager);
}

static void
lsm_run_pager_reading(lsm_pager *p, lsm_pageno first, lsm_pageno last)
{
	store_pages_reading(&((LsmRunPager *) p)->store->pager, first, last);
}

static const lsm_pager_ops lsm_run_pager_ops = {
	lsm_run_pager_get,
	store_page_release,
	lsm_run_pager_write,
	lsm_run_pager_npages,
	lsm_run_pager_reading
};

void
lsm_run_pager_init(LsmRunPager *rp, LsmStore *s, XLogRecPtr lsn_limit)
{
	rp->pager.ops = &lsm_run_pager_ops;
	rp->pager.payload_size = LSM_PAYLOAD_SIZE;
	rp->store = s;
	rp->lsn_limit = lsn_limit;
}

/* Run options: bloom keys are as lsm/format.h says. */
void
lsm_store_run_options(lsm_sst_options *o, bool writing)
{
	lsm_sst_options_default(o);
	o->bloom_key_len = lsm_format_bloom_len;
	if (writing)
	{
		o->bloom_bits_per_key = lsm_bloom_bits_per_key;
		o->compress = true;
	}
}
