/*
 * lsm_meta.c - an lsm table's metapage (block 0) and its manifest.
 *
 * The metapage holds LsmMetaData (format version, id high-water mark,
 * where the manifest is, the key description fixed when it was formatted)
 * and, when it fits, the core's serialised manifest (lsm/manifest.h: runs
 * per level, free extents, log head, flushed and last sequence numbers).
 * A larger manifest lives on an extent of overflow pages: every change
 * writes it to a fresh extent (new pages, logged whole) and then switches
 * the metapage to it, freeing the old extent, in one generic WAL record on
 * the metapage.  So a manifest change is atomic whatever its size, and a
 * crash before the switch leaves the old manifest intact.
 *
 * The metapage's buffer lock serialises manifest changes.  Readers hold it
 * in share mode while they read the manifest, overflow pages included,
 * which is why the old overflow extent may be reused as soon as the switch
 * is made.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/pg_class.h"
#include "catalog/storage_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"

#include "lsm_storage.h"

/* Bytes of room kept for the free-list changes of switching extents. */
#define LSM_MANIFEST_SLACK 256

static void lsm_meta_corrupt(LsmStore *s, const char *detail) pg_attribute_noreturn();

static void
lsm_meta_corrupt(LsmStore *s, const char *detail)
{
	ereport(ERROR,
			errcode(ERRCODE_DATA_CORRUPTED),
			errmsg("lsm table \"%s\" is corrupt", s->relname),
			errdetail_internal("%s", detail));
}

/* Copies the metapage header out of page and checks it. */
static void
lsm_meta_header(LsmStore *s, Page page, LsmMetaData *meta)
{
	memcpy(meta, LsmPagePayload(page), sizeof(LsmMetaData));
	if (meta->magic != LSM_META_MAGIC)
		lsm_meta_corrupt(s, "Its metapage has a bad magic number.");
	if (meta->format_version != LSM_META_VERSION)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("lsm table \"%s\" has storage format version %u, but this lsm_am reads version %u",
					   s->relname, meta->format_version, LSM_META_VERSION),
				errhint("Install the lsm_am version that wrote the table, or reload the table from a dump."));
	if (meta->manifest_first == 0 ?
		meta->manifest_len > LSM_META_INLINE_MAX :
		(uint64) meta->manifest_len > (uint64) meta->manifest_npages * LSM_PAYLOAD_SIZE)
		lsm_meta_corrupt(s, "Its metapage gives an impossible manifest length.");
}

/* Reads the manifest the metapage describes into m. */
static void
lsm_meta_read_manifest(LsmStore *s, Page metapage, const LsmMetaData *meta,
					   lsm_manifest *m)
{
	uint8	   *img;
	lsm_status	st;

	if (meta->manifest_first == 0)
		img = LsmPagePayload(metapage) + LSM_META_INLINE_OFFSET;
	else
	{
		uint32		off = 0;

		img = palloc(Max(meta->manifest_len, 1));
		for (uint32 i = 0; off < meta->manifest_len; i++)
		{
			Buffer		buf;
			uint32		n = Min(LSM_PAYLOAD_SIZE, meta->manifest_len - off);

			if (i >= meta->manifest_npages)
				lsm_meta_corrupt(s, "Its manifest is longer than its extent.");
			buf = lsm_read_page(s, meta->manifest_first + i, LSM_PAGE_MANIFEST,
								BUFFER_LOCK_SHARE);
			memcpy(img + off, LsmPagePayload(BufferGetPage(buf)), n);
			UnlockReleaseBuffer(buf);
			off += n;
		}
	}
	st = lsm_manifest_deserialize(lsm_slice_make(img, meta->manifest_len), m);
	if (img != LsmPagePayload(metapage) + LSM_META_INLINE_OFFSET)
		pfree(img);
	if (st != LSM_OK || m->version != meta->manifest_version)
	{
		lsm_manifest_free(m);
		lsm_meta_corrupt(s, st != LSM_OK ?
						 "Its manifest fails its checksum or invariant checks." :
						 "Its manifest is not the version its metapage names.");
	}
}

/*
 * Locks the metapage (exclusively to change it) and reads its header and,
 * if asked, the manifest into tx.  End with lsm_meta_end, or on error paths
 * free tx->m (the buffer goes with the transaction's abort).
 */
void
lsm_meta_begin(LsmStore *s, LsmMetaTx *tx, bool exclusive, bool read_manifest)
{
	Page		page;

	lsm_manifest_init(&tx->m);
	tx->buf = lsm_read_page(s, LSM_META_BLKNO, LSM_PAGE_META,
							exclusive ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
	page = BufferGetPage(tx->buf);
	lsm_meta_header(s, page, &tx->meta);
	if (read_manifest)
		lsm_meta_read_manifest(s, page, &tx->meta, &tx->m);
}

/* Reads the manifest of a metapage locked by lsm_meta_begin without it. */
void
lsm_meta_read(LsmStore *s, LsmMetaTx *tx)
{
	lsm_manifest_free(&tx->m);
	lsm_meta_read_manifest(s, BufferGetPage(tx->buf), &tx->meta, &tx->m);
}

void
lsm_meta_end(LsmMetaTx *tx)
{
	lsm_manifest_free(&tx->m);
	UnlockReleaseBuffer(tx->buf);
}

/* Turns a failed manifest operation into an error. */
void
lsm_meta_check_status(LsmStore *s, lsm_status st, const char *what)
{
	if (st == LSM_OK)
		return;
	if (st == LSM_NO_MEMORY)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Failed while %s of lsm table \"%s\".", what, s->relname));
	elog(ERROR, "lsm table \"%s\": %s failed: %s", s->relname, what,
		 lsm_status_str(st));
}

/* Writes img over the overflow extent [first, first + npages). */
static void
lsm_meta_write_overflow(LsmStore *s, const lsm_buf *img, BlockNumber first,
						uint32 npages)
{
	PGAlignedBlock chunk;

	for (uint32 i = 0; i < npages; i++)
	{
		size_t		off = (size_t) i * LSM_PAYLOAD_SIZE;
		size_t		n = off < img->len ? Min(LSM_PAYLOAD_SIZE, img->len - off) : 0;

		memset(chunk.data, 0, LSM_PAYLOAD_SIZE);
		if (n > 0)
			memcpy(chunk.data, img->data + off, n);
		lsm_write_page(s, first + i, LSM_PAGE_MANIFEST, (uint8 *) chunk.data);
	}
}

/*
 * lsm_meta_commit's work; img is the caller's, freed by it whatever
 * happens.
 */
static pg_noinline void
lsm_meta_commit_into(LsmStore *s, LsmMetaTx *tx, LsmCommitHook hook, void *arg,
					 lsm_buf *img)
{
	BlockNumber old_first = tx->meta.manifest_first;
	uint32		old_npages = tx->meta.manifest_npages;
	BlockNumber new_first = 0;
	uint32		new_npages = 0;
	GenericXLogState *state;
	Page		page;
	LsmMetaData *meta;

	tx->m.version++;
	lsm_meta_check_status(s, lsm_manifest_serialize(&tx->m, img),
						  "saving the manifest");
	if (img->len + LSM_MANIFEST_SLACK / 4 > LSM_META_INLINE_MAX)
	{
		/* A fresh extent: the old one holds the manifest until the switch. */
		new_npages = lsm_stream_pages(&s->pager, img->len + LSM_MANIFEST_SLACK);
		if (lsm_manifest_take_extent(&tx->m, new_npages, 0, &new_first) != LSM_OK)
			new_first = lsm_extend(s, new_npages);
	}
	if (old_first != 0)
		lsm_meta_check_status(s, lsm_manifest_free_extent(&tx->m, old_first,
														  old_npages, 0),
							  "freeing the old manifest extent");
	img->len = 0;
	lsm_meta_check_status(s, lsm_manifest_serialize(&tx->m, img),
						  "saving the manifest");
	if (new_first == 0 ? img->len > LSM_META_INLINE_MAX :
		img->len > (size_t) new_npages * LSM_PAYLOAD_SIZE)
		elog(ERROR, "lsm table \"%s\": manifest of %zu bytes outgrew its room",
			 s->relname, img->len);
	if (new_first != 0)
		lsm_meta_write_overflow(s, img, new_first, new_npages);

	state = lsm_xlog_start(s);
	page = GenericXLogRegisterBuffer(state, tx->buf, 0);
	meta = (LsmMetaData *) LsmPagePayload(page);
	meta->manifest_version = tx->m.version;
	meta->manifest_len = (uint32) img->len;
	meta->manifest_first = new_first;
	meta->manifest_npages = new_npages;
	if (new_first == 0)
	{
		memcpy(LsmPagePayload(page) + LSM_META_INLINE_OFFSET, img->data, img->len);
		LsmPageSetUsed(page, LSM_META_INLINE_OFFSET + img->len);
	}
	else
		LsmPageSetUsed(page, LSM_META_INLINE_OFFSET);
	GenericXLogFinish(state);

	memcpy(&tx->meta, LsmPagePayload(BufferGetPage(tx->buf)), sizeof(LsmMetaData));
	if (s->entry)
	{
		SpinLockAcquire(&s->entry->mutex);
		s->entry->manifest_version = tx->m.version;
		lsm_stall_adapt(s->entry, s->entry->l0_runs, tx->m.levels[0].nruns);
		s->entry->l0_runs = tx->m.levels[0].nruns;
		if (hook)
			hook(s->entry, arg);
		SpinLockRelease(&s->entry->mutex);
		/* Writers stopped for level 0 look again (lsm_stall.c). */
		ConditionVariableBroadcast(&s->entry->stall_cv);
	}
}

/*
 * Saves tx->m (changed by the caller) as the table's manifest, bumping its
 * version.  The caller holds the metapage exclusively (lsm_meta_begin).
 * hook, if given, runs right after the change, under the directory entry's
 * mutex and still under the metapage lock, to change the entry's memtable
 * list in step with the manifest.
 */
void
lsm_meta_commit(LsmStore *s, LsmMetaTx *tx, LsmCommitHook hook, void *arg)
{
	lsm_buf		img = {0};

	PG_TRY();
	{
		lsm_meta_commit_into(s, tx, hook, arg, &img);
	}
	PG_CATCH();
	{
		lsm_buf_free(&img);
		PG_RE_THROW();
	}
	PG_END_TRY();
	lsm_buf_free(&img);
}

/*
 * Raises the id high-water mark by batch, but not past limit, if the
 * entry's reserved range is used up (another backend may have raised it
 * meanwhile).  False if every id below limit is reserved already.
 */
bool
lsm_meta_reserve_ids(LsmStore *s, LsmTableShared *e, uint64 batch,
					 uint64 limit)
{
	LsmMetaTx	tx;
	uint64		base;
	bool		need;

	lsm_meta_begin(s, &tx, true, false);
	SpinLockAcquire(&e->mutex);
	need = e->next_id >= e->id_limit;
	base = Max(tx.meta.id_hwm, e->id_limit);
	SpinLockRelease(&e->mutex);
	if (need && base >= limit)
	{
		lsm_meta_end(&tx);
		return false;
	}
	if (need)
	{
		GenericXLogState *state;
		Page		page;

		/* the last batch is what is left */
		batch = Min(batch, limit - base);
		state = lsm_xlog_start(s);
		page = GenericXLogRegisterBuffer(state, tx.buf, 0);
		((LsmMetaData *) LsmPagePayload(page))->id_hwm = base + batch;
		GenericXLogFinish(state);

		SpinLockAcquire(&e->mutex);
		e->id_limit = base + batch;
		if (e->next_id < base)
			e->next_id = base;
		SpinLockRelease(&e->mutex);
	}
	lsm_meta_end(&tx);
	return true;
}

/*
 * The key description stored in the metapage: what every key of the
 * relation is encoded with (checked by the relation kind: lsm_keys.c).
 */
void
lsm_meta_read_key(LsmStore *s, LsmKeyInfo *ki)
{
	LsmMetaTx	tx;

	lsm_meta_begin(s, &tx, false, false);
	ki->encoder = tx.meta.key_encoder;
	ki->attnum = tx.meta.key_attnum;
	ki->typid = tx.meta.key_typid;
	ki->collation = tx.meta.key_collation;
	lsm_meta_end(&tx);
}

/* The metapage and first log page of an empty table whose key is ki. */
static void
lsm_build_empty(Page metapage, Page logpage, const LsmKeyInfo *ki)
{
	lsm_manifest m;
	lsm_buf		img = {0};
	LsmMetaData *meta;
	LsmLogPageHeader *lh;
	lsm_status	st;

	lsm_manifest_init(&m);
	m.version = 1;
	m.log_head = LSM_META_BLKNO + 1;
	st = lsm_manifest_serialize(&m, &img);
	lsm_manifest_free(&m);
	if (st != LSM_OK || img.len > LSM_META_INLINE_MAX)
	{
		lsm_buf_free(&img);
		elog(ERROR, "could not serialise an empty lsm manifest: %s", lsm_status_str(st));
	}

	lsm_page_init(metapage, LSM_PAGE_META);
	meta = (LsmMetaData *) LsmPagePayload(metapage);
	memset(meta, 0, sizeof(LsmMetaData));
	meta->magic = LSM_META_MAGIC;
	meta->format_version = LSM_META_VERSION;
	meta->id_hwm = 0;
	meta->manifest_version = 1;
	meta->manifest_len = (uint32) img.len;
	meta->manifest_first = 0;
	meta->manifest_npages = 0;
	meta->key_encoder = ki->encoder;
	meta->key_attnum = ki->attnum;
	meta->key_typid = ki->typid;
	meta->key_collation = ki->collation;
	memcpy(LsmPagePayload(metapage) + LSM_META_INLINE_OFFSET, img.data, img.len);
	LsmPageSetUsed(metapage, LSM_META_INLINE_OFFSET + img.len);
	lsm_buf_free(&img);

	lsm_page_init(logpage, LSM_PAGE_LOG);
	lh = (LsmLogPageHeader *) LsmPagePayload(logpage);
	lh->next = 0;
	lh->reserved = 0;
	LsmPageSetUsed(logpage, LSM_LOG_HEADER);
}

/*
 * lsm_tree_init_storage: formats a new, empty relfilenode (srel's, which is
 * not yet rel's during CREATE TABLE, TRUNCATE and rewrites): the metapage,
 * with the key description ki (fixed for the life of the relfilenode), and an empty first log page, through shared
 * buffers and WAL-logged unless the relfilenode skips WAL; and for an
 * unlogged table the same two pages in its init fork, which recovery copies
 * over the main fork.
 */
void
lsm_tree_init_storage(Relation rel, SMgrRelation srel, char persistence,
					  const LsmKeyInfo *ki)
{
	RelFileNode node = srel->smgr_rnode.node;
	PGAlignedBlock pages[2];
	bool		needs_wal;

	if (persistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("lsm tables cannot be temporary"),
				errdetail("The memtables of lsm tables live in shared memory, "
						  "keyed by relation file, and temporary tables are private to one session."),
				errhint("Use an unlogged lsm table, or a temporary heap table.  "
						"REFRESH MATERIALIZED VIEW CONCURRENTLY makes a temporary table of the view's access method: "
						"refresh an lsm materialized view without CONCURRENTLY."));

	/* A reused relfilenode (TRUNCATE in the creating transaction) starts afresh. */
	lsm_tree_forget(node);

	if (smgrnblocks(srel, MAIN_FORKNUM) != 0)
		elog(ERROR, "storage of lsm table \"%s\" is not empty",
			 RelationGetRelationName(rel));

	/*
	 * The new relfilenode needs WAL unless it is unlogged, or wal_level is
	 * minimal, in which case its creation registered a sync at commit.
	 */
	needs_wal = persistence == RELPERSISTENCE_PERMANENT && XLogIsNeeded();

	lsm_build_empty((Page) pages[0].data, (Page) pages[1].data, ki);
	for (BlockNumber blkno = 0; blkno < 2; blkno++)
	{
		Buffer		buf = ReadBufferWithoutRelcache(node, MAIN_FORKNUM, P_NEW,
												RBM_ZERO_AND_LOCK, NULL,
												persistence == RELPERSISTENCE_PERMANENT);

		if (BufferGetBlockNumber(buf) != blkno)
			elog(ERROR, "storage of lsm table \"%s\" was extended concurrently",
				 RelationGetRelationName(rel));
		START_CRIT_SECTION();
		memcpy(BufferGetPage(buf), pages[blkno].data, BLCKSZ);
		MarkBufferDirty(buf);
		if (needs_wal)
			log_newpage_buffer(buf, true);
		END_CRIT_SECTION();
		UnlockReleaseBuffer(buf);
	}

	if (persistence == RELPERSISTENCE_UNLOGGED)
	{
		if (!smgrexists(srel, INIT_FORKNUM))
		{
			smgrcreate(srel, INIT_FORKNUM, false);
			log_smgrcreate(&node, INIT_FORKNUM);
		}
		if (smgrnblocks(srel, INIT_FORKNUM) == 0)
		{
			/*
			 * Written past shared buffers, so logged even at wal_level =
			 * minimal and synced at once, as contrib/bloom's empty index is.
			 */
			for (BlockNumber blkno = 0; blkno < 2; blkno++)
			{
				PageSetChecksumInplace((Page) pages[blkno].data, blkno);
				smgrextend(srel, INIT_FORKNUM, blkno, pages[blkno].data, true);
				log_newpage(&node, INIT_FORKNUM, blkno, (Page) pages[blkno].data, true);
			}
			smgrimmedsync(srel, INIT_FORKNUM);
		}
	}
}
