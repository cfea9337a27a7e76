/*
 * db.c - the standalone store: the core's pieces over the file pager.
 *
 * File layout (pages of LSM_PAGE_SIZE):
 *   page 0        metapage: where the current manifest's extent is
 *   log pages     a chain holding the entries still only in the memtable
 *   run extents   immutable runs, written once
 *   a manifest    the serialised lsm_manifest, rewritten to a fresh extent on
 *                 every change; the metapage write is the commit point
 *
 * Every page past 0 belongs to exactly one of: a run, the free list, the
 * manifest extent, the log chain.  Pages that belong to none after a crash
 * (a run written but never committed) are returned to the free list on open.
 *
 * Readers that outlive a change (iterators) pin what they read: the memtable
 * region, the open runs, and the manifest version, so that extents freed
 * after it are not reused under them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "db.h"
#include "file_pager.h"
#include "level_iter.h"
#include "logrec.h"
#include "memtable.h"
#include "owners.h"

#define DB_META_MAGIC UINT32_C(0x4c534d44)	/* "LSMD" */
#define DB_META_VERSION 1
#define DB_META_SIZE 32			/* magic, version, first, npages, nbytes, xxh3 */
#define LOG_PAGE_HEADER 8		/* next page (u32), reserved (u32) */

/* A memtable region, shared with the iterators that still read it. */
typedef struct db_mem
{
	uint8_t    *region;
	int			refs;
} db_mem;

/* An open run, shared with the iterators that still read it. */
typedef struct db_table
{
	uint64_t	id;
	lsm_sst    *sst;
	lsm_run_meta meta;			/* own copy: key range and split keys */
	int			refs;
} db_table;

/* What one live iterator holds on to. */
typedef struct db_pin
{
	struct db_pin *prev;
	struct db_pin *next;
	uint64_t	version;
	db_mem	   *mem;
	db_table  **tables;
	int			ntables;
} db_pin;

struct lsm_db
{
	lsm_db_options opts;
	lsm_file_pager *fp;
	lsm_pager  *pager;
	lsm_manifest m;				/* the committed manifest */
	lsm_pageno	manifest_first; /* its extent */
	uint32_t	manifest_npages;
	lsm_pageno	end_page;		/* first page never allocated */

	db_mem	   *mem;
	uint64_t	last_seq;

	/* open runs, parallel to m.levels[l].runs */
	db_table  **tables[LSM_MAX_LEVELS];

	/* the log chain of the current memtable */
	lsm_pageno *log_pages;
	int			nlog_pages;
	int			log_cap;
	size_t		log_off;		/* write offset in the last log page */
	lsm_buf		scratch;

	db_pin	   *pins;
	lsm_db_stats stats;
};

static lsm_status db_commit(lsm_db *db);

/* ---------- shared memtable regions and runs ---------- */

static db_mem *
mem_new(size_t size)
{
	db_mem	   *mem = calloc(1, sizeof(db_mem));

	if (mem == NULL)
		return NULL;
	mem->region = malloc(size);
	if (mem->region == NULL || lsm_memtable_init(mem->region, size) != LSM_OK)
	{
		free(mem->region);
		free(mem);
		return NULL;
	}
	mem->refs = 1;
	return mem;
}

static void
mem_unref(db_mem *mem)
{
	if (mem && --mem->refs == 0)
	{
		free(mem->region);
		free(mem);
	}
}

static void
table_unref(db_table *t)
{
	if (t && --t->refs == 0)
	{
		lsm_sst_close(t->sst);
		lsm_run_meta_free(&t->meta);
		free(t);
	}
}

static lsm_status
table_open(lsm_db *db, const lsm_run_meta *meta, db_table **out)
{
	db_table   *t = calloc(1, sizeof(db_table));
	lsm_status	st;

	if (t == NULL)
		return LSM_NO_MEMORY;
	st = lsm_sst_open(db->pager, meta, &db->opts.sst, &t->sst);
	if (st == LSM_OK)
		st = lsm_run_meta_copy(&t->meta, meta);
	if (st != LSM_OK)
	{
		if (t->sst)
			lsm_sst_close(t->sst);
		free(t);
		return st;
	}
	t->id = meta->id;
	t->refs = 1;
	*out = t;
	return LSM_OK;
}

/* Finds an already open table by id among the current ones. */
static db_table *
table_find(lsm_db *db, uint64_t id)
{
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		if (db->tables[l] == NULL)
			continue;
		/* the manifest is unchanged in old arrays only by id; scan */
		for (int i = 0; db->tables[l][i] != NULL; i++)
			if (db->tables[l][i]->id == id)
				return db->tables[l][i];
	}
	return NULL;
}

/*
 * Rebuilds the per-level arrays of open runs after the manifest changed,
 * keeping runs that are still there open.  Arrays are NULL-terminated.
 */
static lsm_status
tables_refresh(lsm_db *db)
{
	db_table  **fresh[LSM_MAX_LEVELS] = {0};
	lsm_status	st = LSM_OK;

	for (int l = 0; l < LSM_MAX_LEVELS && st == LSM_OK; l++)
	{
		const lsm_level *lv = &db->m.levels[l];

		fresh[l] = calloc((size_t) lv->nruns + 1, sizeof(db_table *));
		if (fresh[l] == NULL)
		{
			st = LSM_NO_MEMORY;
			break;
		}
		for (int i = 0; i < lv->nruns; i++)
		{
			db_table   *t = table_find(db, lv->runs[i].id);

			if (t)
				t->refs++;
			else if ((st = table_open(db, &lv->runs[i], &t)) != LSM_OK)
				break;
			fresh[l][i] = t;
		}
	}
	if (st != LSM_OK)
	{
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
		{
			for (int i = 0; fresh[l] && fresh[l][i]; i++)
				table_unref(fresh[l][i]);
			free(fresh[l]);
		}
		return st;
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		for (int i = 0; db->tables[l] && db->tables[l][i]; i++)
			table_unref(db->tables[l][i]);
		free(db->tables[l]);
		db->tables[l] = fresh[l];
	}
	return LSM_OK;
}

/* ---------- extents ---------- */

/* Oldest manifest version an iterator may still read. */
static uint64_t
reusable_horizon(lsm_db *db)
{
	uint64_t	h = db->m.version;

	for (db_pin *p = db->pins; p; p = p->next)
		if (p->version < h)
			h = p->version;
	return h;
}

static lsm_status
db_alloc(void *arg, uint32_t npages, lsm_pageno *first)
{
	lsm_db	   *db = arg;

	if (lsm_manifest_take_extent(&db->m, npages, reusable_horizon(db), first) == LSM_OK)
		return LSM_OK;
	if ((uint64_t) db->end_page + npages > UINT32_MAX)
		return LSM_IO_ERROR;
	*first = db->end_page;
	db->end_page += npages;
	return LSM_OK;
}

static lsm_run_writer
run_writer(lsm_db *db)
{
	lsm_run_writer w = {db->pager, &db->opts.sst, db_alloc, db};

	return w;
}

/* Writes page p as all zeros (an empty log page, or manifest padding). */
static lsm_status
write_zero_page(lsm_db *db, lsm_pageno p)
{
	uint8_t    *zero = calloc(1, db->pager->payload_size);
	lsm_status	st;

	if (zero == NULL)
		return LSM_NO_MEMORY;
	st = db->pager->ops->write(db->pager, p, zero);
	free(zero);
	return st;
}

/* ---------- metapage and manifest ---------- */

static lsm_status
meta_write(lsm_db *db, lsm_pageno first, uint32_t npages, uint64_t nbytes)
{
	uint8_t    *page = calloc(1, db->pager->payload_size);
	lsm_status	st;

	if (page == NULL)
		return LSM_NO_MEMORY;
	lsm_put_u32(page, DB_META_MAGIC);
	lsm_put_u32(page + 4, DB_META_VERSION);
	lsm_put_u32(page + 8, first);
	lsm_put_u32(page + 12, npages);
	lsm_put_u64(page + 16, nbytes);
	lsm_put_u64(page + 24, XXH3_64bits(page, 24));
	st = db->pager->ops->write(db->pager, 0, page);
	free(page);
	return st;
}

static lsm_status
meta_read(lsm_db *db, lsm_pageno *first, uint32_t *npages, uint64_t *nbytes)
{
	const uint8_t *page;
	void	   *h;
	lsm_status	st = db->pager->ops->get(db->pager, 0, &page, &h);

	if (st != LSM_OK)
		return st;
	if (lsm_get_u32(page) != DB_META_MAGIC || lsm_get_u32(page + 4) != DB_META_VERSION ||
		lsm_get_u64(page + 24) != XXH3_64bits(page, 24))
		st = LSM_CORRUPT;
	*first = lsm_get_u32(page + 8);
	*npages = lsm_get_u32(page + 12);
	*nbytes = lsm_get_u64(page + 16);
	db->pager->ops->release(db->pager, h);
	return st;
}

/*
 * Saves db->m as the new committed manifest: a fresh extent, then the
 * metapage.  The old manifest extent is freed in the new manifest (taken
 * before it is freed, so a crash before the metapage write leaves the old
 * manifest intact).
 */
static lsm_status
db_commit(lsm_db *db)
{
	lsm_buf		img = {0};
	lsm_pageno	first;
	uint32_t	npages;
	lsm_status	st;

	db->m.last_seq = db->last_seq;
	st = lsm_manifest_serialize(&db->m, &img);
	if (st != LSM_OK)
		goto out;
	/*
	 * Slack: taking an extent can lengthen the free list's encoding.  The
	 * extent is taken before the version moves on, so nothing freed by the
	 * change being committed is overwritten before the commit.
	 */
	npages = lsm_stream_pages(db->pager, img.len + 64);
	if ((st = db_alloc(db, npages, &first)) != LSM_OK)
		goto out;
	db->m.version++;
	if (db->manifest_npages &&
		(st = lsm_manifest_free_extent(&db->m, db->manifest_first,
									   db->manifest_npages, db->m.version)) != LSM_OK)
		goto out;
	img.len = 0;
	if ((st = lsm_manifest_serialize(&db->m, &img)) != LSM_OK)
		goto out;
	if (lsm_stream_pages(db->pager, img.len) > npages)
	{
		st = LSM_INVALID;
		goto out;
	}
	if ((st = lsm_pager_write_stream(db->pager, first, lsm_buf_slice(&img))) != LSM_OK)
		goto out;
	/* write_stream covers only the pages the image needs; pad the rest */
	for (uint32_t i = lsm_stream_pages(db->pager, img.len); i < npages && st == LSM_OK; i++)
		st = write_zero_page(db, first + i);
	if (st == LSM_OK)
		st = meta_write(db, first, npages, img.len);
	if (st == LSM_OK && db->opts.sync)
		st = lsm_file_pager_sync(db->fp);
	if (st == LSM_OK)
	{
		db->manifest_first = first;
		db->manifest_npages = npages;
	}
out:
	lsm_buf_free(&img);
	return st;
}

static lsm_status
manifest_load(lsm_db *db)
{
	lsm_pageno	first;
	uint32_t	npages;
	uint64_t	nbytes;
	uint8_t    *img;
	lsm_status	st = meta_read(db, &first, &npages, &nbytes);

	if (st != LSM_OK)
		return st;
	if (first == 0 || nbytes > (uint64_t) npages * db->pager->payload_size ||
		(uint64_t) first + npages > db->end_page)
		return LSM_CORRUPT;
	img = malloc(nbytes ? nbytes : 1);
	if (img == NULL)
		return LSM_NO_MEMORY;
	st = lsm_pager_read_stream(db->pager, first, 0, img, nbytes);
	if (st == LSM_OK)
		st = lsm_manifest_deserialize(lsm_slice_make(img, nbytes), &db->m);
	free(img);
	if (st == LSM_OK)
	{
		db->manifest_first = first;
		db->manifest_npages = npages;
	}
	return st;
}

/* ---------- the log ---------- */

static lsm_status
log_push_page(lsm_db *db, lsm_pageno p)
{
	if (db->nlog_pages == db->log_cap)
	{
		int			cap = db->log_cap ? db->log_cap * 2 : 16;
		lsm_pageno *a = realloc(db->log_pages, (size_t) cap * sizeof(lsm_pageno));

		if (a == NULL)
			return LSM_NO_MEMORY;
		db->log_pages = a;
		db->log_cap = cap;
	}
	db->log_pages[db->nlog_pages++] = p;
	return LSM_OK;
}

/* Allocates and zeroes a log page and links it after the current last one. */
static lsm_status
log_new_page(lsm_db *db)
{
	lsm_pageno	p;
	uint8_t		link[4];
	lsm_status	st = db_alloc(db, 1, &p);

	if (st != LSM_OK)
		return st;
	/* a page may have held old records: start it empty */
	if ((st = write_zero_page(db, p)) != LSM_OK)
		return st;
	if (db->nlog_pages > 0)
	{
		lsm_put_u32(link, p);
		st = lsm_file_pager_write_partial(db->fp, db->log_pages[db->nlog_pages - 1],
										  0, link, sizeof(link));
		if (st != LSM_OK)
			return st;
	}
	db->log_off = LOG_PAGE_HEADER;
	return log_push_page(db, p);
}

static lsm_status
log_append(lsm_db *db, uint64_t seq, lsm_kind kind, lsm_slice key, lsm_slice value)
{
	lsm_status	st;

	db->scratch.len = 0;
	if ((st = lsm_logrec_append(&db->scratch, seq, kind, key, value)) != LSM_OK)
		return st;
	/* keep room for the 4-byte end marker: pages are zero-filled */
	if (db->log_off + db->scratch.len + 4 > db->pager->payload_size &&
		(st = log_new_page(db)) != LSM_OK)
		return st;
	st = lsm_file_pager_write_partial(db->fp, db->log_pages[db->nlog_pages - 1],
									  db->log_off, db->scratch.data, db->scratch.len);
	if (st != LSM_OK)
		return st;
	db->log_off += db->scratch.len;
	if (db->opts.sync)
		return lsm_file_pager_sync(db->fp);
	return LSM_OK;
}

/*
 * Removes page p from the free list if it is there.  Log pages are taken from
 * the free list between commits, so the committed manifest may still list
 * the newest pages of the live chain as free.
 */
static lsm_status
claim_page(lsm_manifest *m, lsm_pageno p)
{
	for (int i = 0; i < m->nfree; i++)
	{
		lsm_extent	e = m->free[i];
		lsm_status	st = LSM_OK;

		if (p < e.first || p >= e.first + e.npages)
			continue;
		memmove(&m->free[i], &m->free[i + 1], (size_t) (m->nfree - i - 1) * sizeof(lsm_extent));
		m->nfree--;
		if (p > e.first)
			st = lsm_manifest_free_extent(m, e.first, p - e.first, e.horizon);
		if (st == LSM_OK && p + 1 < e.first + e.npages)
			st = lsm_manifest_free_extent(m, p + 1, e.first + e.npages - p - 1, e.horizon);
		return st;
	}
	return LSM_OK;
}

/*
 * Replays the log chain from log_head into the memtable.  A record that
 * fails its checksum is a write torn by a crash: the log ends there.
 */
static lsm_status
log_replay(lsm_db *db)
{
	lsm_pageno	p = db->m.log_head;
	lsm_status	st = LSM_OK;

	while (p != 0 && st == LSM_OK)
	{
		const uint8_t *page;
		size_t		off = LOG_PAGE_HEADER;
		lsm_logrec	rec;
		size_t		used;

		if (p >= db->end_page || db->nlog_pages > (int) db->end_page)
			return LSM_CORRUPT;
		if ((st = lsm_file_pager_get_raw(db->fp, p, &page)) != LSM_OK)
			return st;
		if ((st = log_push_page(db, p)) != LSM_OK ||
			(st = claim_page(&db->m, p)) != LSM_OK)
			return st;
		while (lsm_logrec_decode(page + off, db->pager->payload_size - off,
								 &rec, &used) == LSM_OK)
		{
			if (rec.seq > db->m.flushed_seq)
			{
				st = lsm_memtable_add(lsm_memtable_at(db->mem->region), rec.key,
									  rec.seq, rec.kind, rec.value);
				if (st != LSM_OK)
					return st == LSM_FULL ? LSM_CORRUPT : st;
			}
			if (rec.seq > db->last_seq)
				db->last_seq = rec.seq;
			off += used;
		}
		db->log_off = off;
		p = lsm_get_u32(page);
	}
	return st;
}

/* ---------- open and close ---------- */

void
lsm_db_options_default(lsm_db_options *o)
{
	memset(o, 0, sizeof(*o));
	o->memtable_size = 64 << 20;
	lsm_sst_options_default(&o->sst);
	lsm_compaction_options_default(&o->compaction);
	o->sync = false;
	o->auto_compact = true;
}

static lsm_status
db_create(lsm_db *db)
{
	lsm_status	st;

	lsm_manifest_init(&db->m);
	db->end_page = 1;
	if ((st = log_new_page(db)) != LSM_OK)
		return st;
	db->m.log_head = db->log_pages[0];
	return db_commit(db);
}

/*
 * Builds the page ownership map (owners.h): runs, free extents, the
 * manifest extent and the log chain.  LSM_CORRUPT names the first extent
 * that lies outside the store or meets another.  The caller frees
 * o->owner.
 */
static lsm_status
ownership_map(lsm_db *db, lsm_page_owners *o, char *msg, size_t msglen)
{
	uint32_t   *map = calloc(db->end_page ? db->end_page : 1, sizeof(uint32_t));
	const lsm_manifest *m = &db->m;

	if (map == NULL)
		return LSM_NO_MEMORY;
	lsm_owners_init(o, map, db->end_page);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
		{
			const lsm_run_meta *r = &m->levels[l].runs[i];

			if (lsm_owners_claim(o, r->first_page, r->npages, 1, 0, NULL, NULL) > 0)
			{
				snprintf(msg, msglen, "run %llu (pages %u..%u) overlaps other storage",
						 (unsigned long long) r->id, r->first_page,
						 r->first_page + r->npages - 1);
				free(map);
				return LSM_CORRUPT;
			}
		}
	for (int i = 0; i < m->nfree; i++)
		if (lsm_owners_claim(o, m->free[i].first, m->free[i].npages, 2, 0, NULL, NULL) > 0)
		{
			snprintf(msg, msglen, "free extent at page %u overlaps other storage",
					 m->free[i].first);
			free(map);
			return LSM_CORRUPT;
		}
	if (lsm_owners_claim(o, db->manifest_first, db->manifest_npages, 3, 0, NULL, NULL) > 0)
	{
		snprintf(msg, msglen, "manifest extent at page %u overlaps other storage",
				 db->manifest_first);
		free(map);
		return LSM_CORRUPT;
	}
	for (int i = 0; i < db->nlog_pages; i++)
		if (lsm_owners_claim(o, db->log_pages[i], 1, 4, 0, NULL, NULL) > 0)
		{
			snprintf(msg, msglen, "log page %u overlaps other storage", db->log_pages[i]);
			free(map);
			return LSM_CORRUPT;
		}
	return LSM_OK;
}

/* Returns pages nobody owns (a run written but not committed) to the free list. */
static lsm_status
reclaim_orphans(lsm_db *db)
{
	char		msg[160];
	lsm_page_owners o;
	lsm_pageno	from = 1;
	lsm_pageno	first;
	lsm_pageno	end;
	lsm_status	st = ownership_map(db, &o, msg, sizeof(msg));

	if (st != LSM_OK)
		return st;
	while (st == LSM_OK && lsm_owners_next_unowned(&o, &from, &first, &end))
		st = lsm_manifest_free_extent(&db->m, first, end - first, 0);
	free(o.owner);
	return st;
}

static lsm_status
db_load(lsm_db *db)
{
	lsm_status	st;

	if ((st = manifest_load(db)) != LSM_OK)
		return st;
	db->last_seq = db->m.last_seq;
	if ((st = log_replay(db)) != LSM_OK)
		return st;
	if (db->nlog_pages == 0)
		return LSM_CORRUPT;
	return reclaim_orphans(db);
}

lsm_status
lsm_db_open(const char *path, const lsm_db_options *opts, lsm_db **out)
{
	lsm_db	   *db = calloc(1, sizeof(lsm_db));
	lsm_status	st;

	if (db == NULL)
		return LSM_NO_MEMORY;
	if (opts)
		db->opts = *opts;
	else
		lsm_db_options_default(&db->opts);
	if (db->opts.memtable_size < LSM_MEMTABLE_MIN_SIZE)
	{
		free(db);
		return LSM_INVALID;
	}
	lsm_manifest_init(&db->m);
	st = lsm_file_pager_open(path, &db->fp);
	if (st == LSM_OK)
	{
		db->pager = lsm_file_pager_base(db->fp);
		db->end_page = db->pager->ops->npages(db->pager);
		db->mem = mem_new(db->opts.memtable_size);
		if (db->mem == NULL)
			st = LSM_NO_MEMORY;
	}
	if (st == LSM_OK)
		st = db->end_page == 0 ? db_create(db) : db_load(db);
	if (st == LSM_OK)
		st = tables_refresh(db);
	if (st != LSM_OK)
	{
		lsm_db_close(db);
		return st;
	}
	*out = db;
	return LSM_OK;
}

lsm_status
lsm_db_close(lsm_db *db)
{
	if (db == NULL)
		return LSM_OK;
	/* iterators must be destroyed first; their pins point into db */
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		for (int i = 0; db->tables[l] && db->tables[l][i]; i++)
			table_unref(db->tables[l][i]);
		free(db->tables[l]);
	}
	mem_unref(db->mem);
	lsm_manifest_free(&db->m);
	if (db->fp)
		lsm_file_pager_close(db->fp);
	free(db->log_pages);
	lsm_buf_free(&db->scratch);
	free(db);
	return LSM_OK;
}

/* ---------- writes, flush, compaction ---------- */

/*
 * Writes the memtable to a level-0 run, starts a new log chain and commits.
 * The old memtable region is reused unless an iterator still reads it.
 */
static lsm_status
memtable_flush(lsm_db *db)
{
	lsm_memtable *mt = lsm_memtable_at(db->mem->region);
	lsm_run_writer w = run_writer(db);
	lsm_pageno *old_log = db->log_pages;
	int			nold = db->nlog_pages;
	lsm_run_meta meta = {0};
	lsm_iter   *it;
	lsm_status	st = LSM_OK;

	if (lsm_memtable_count(mt) == 0)
		return LSM_OK;
	if ((it = lsm_memtable_iter_new(mt)) == NULL)
		return LSM_NO_MEMORY;
	st = lsm_flush_iter(&w, it, &meta);
	lsm_iter_destroy(it);
	if (st != LSM_OK)
		goto out;
	meta.id = db->m.next_run_id++;
	meta.level = 0;
	if ((st = lsm_manifest_add_run(&db->m, &meta)) != LSM_OK)
		goto out;
	db->stats.flushes++;
	db->stats.bytes_flushed += meta.nbytes;

	/* a new log chain for the next memtable; the old one is freed */
	db->log_pages = NULL;
	db->nlog_pages = db->log_cap = 0;
	if ((st = log_new_page(db)) != LSM_OK)
		goto out;
	for (int i = 0; i < nold && st == LSM_OK; i++)
		st = lsm_manifest_free_extent(&db->m, old_log[i], 1, db->m.version + 1);
	db->m.log_head = db->log_pages[0];
	db->m.flushed_seq = db->last_seq;
	if (st == LSM_OK)
		st = db_commit(db);
	if (st == LSM_OK)
		st = tables_refresh(db);
	if (st == LSM_OK)
	{
		if (db->mem->refs == 1)
			st = lsm_memtable_init(db->mem->region, db->opts.memtable_size);
		else
		{
			db_mem	   *fresh = mem_new(db->opts.memtable_size);

			if (fresh == NULL)
				st = LSM_NO_MEMORY;
			else
			{
				mem_unref(db->mem);
				db->mem = fresh;
			}
		}
	}
out:
	free(old_log);
	lsm_run_meta_free(&meta);
	return st;
}

/* Moves c's one run down a level (c->move) and commits that. */
static lsm_status
run_move(lsm_db *db, const lsm_compaction *c)
{
	lsm_status	st = lsm_manifest_apply_move(&db->m, c);

	if (st == LSM_OK)
		st = db_commit(db);
	if (st == LSM_OK)
		st = tables_refresh(db);
	if (st == LSM_OK)
		db->stats.moves++;
	return st;
}

/* Runs compaction c and commits its result. */
static lsm_status
run_compaction(lsm_db *db, lsm_compaction *c)
{
	lsm_run_writer w = run_writer(db);
	lsm_run_meta *outs = NULL;
	int			nouts = 0;
	lsm_compaction_stats cs = {0};
	lsm_status	st;

	if (c->move)
		return run_move(db, c);
	/* nothing else reads older versions: the store keeps no snapshots */
	st = lsm_compaction_merge(&w, c, db->last_seq, NULL, &outs, &nouts, &cs);
	if (st == LSM_OK)
		st = lsm_manifest_apply_compaction(&db->m, c, outs, nouts, db->m.version + 1);
	if (st == LSM_OK)
		st = db_commit(db);
	if (st == LSM_OK)
		st = tables_refresh(db);
	if (st == LSM_OK)
	{
		db->stats.compactions++;
		db->stats.bytes_compacted += cs.bytes_written;
	}
	for (int i = 0; i < nouts; i++)
		lsm_run_meta_free(&outs[i]);
	free(outs);
	return st;
}

/* Runs the compactions the picker asks for, if automatic compaction is on. */
static lsm_status
maybe_compact(lsm_db *db)
{
	bool		did = db->opts.auto_compact;
	lsm_status	st = LSM_OK;

	while (did && st == LSM_OK)
		st = lsm_db_compact_step(db, &did);
	return st;
}

lsm_status
lsm_db_flush(lsm_db *db)
{
	lsm_status	st = memtable_flush(db);

	return st == LSM_OK ? maybe_compact(db) : st;
}

lsm_status
lsm_db_compact_step(lsm_db *db, bool *did)
{
	lsm_compaction c;
	lsm_status	st = LSM_OK;

	*did = lsm_compaction_pick(&db->m, &db->opts.compaction, &c);
	if (*did)
	{
		st = run_compaction(db, &c);
		lsm_compaction_free(&c);
	}
	return st;
}

lsm_status
lsm_db_compact_all(lsm_db *db)
{
	lsm_compaction c;
	lsm_status	st = memtable_flush(db);

	/* each pick folds one level into the next non-empty one below it */
	while (st == LSM_OK && lsm_compaction_pick_all(&db->m, &db->opts.compaction, &c))
	{
		st = run_compaction(db, &c);
		lsm_compaction_free(&c);
	}
	return st;
}

static lsm_status
db_write(lsm_db *db, lsm_slice key, lsm_kind kind, lsm_slice value)
{
	lsm_memtable *mt = lsm_memtable_at(db->mem->region);
	uint64_t	seq = db->last_seq + 1;
	lsm_status	st;

	/* a record never spans log pages, nor can an entry outgrow a memtable */
	if (lsm_logrec_size(key.len, value.len, seq) + LOG_PAGE_HEADER + 4 >
		db->pager->payload_size || key.len == 0)
		return LSM_INVALID;
	if (!lsm_memtable_has_room(mt, key.len, value.len))
	{
		if ((st = lsm_db_flush(db)) != LSM_OK)
			return st;
		mt = lsm_memtable_at(db->mem->region);
	}
	if ((st = log_append(db, seq, kind, key, value)) != LSM_OK)
		return st;
	if ((st = lsm_memtable_add(mt, key, seq, kind, value)) != LSM_OK)
		return st;
	db->last_seq = seq;
	db->stats.user_bytes += key.len + value.len;
	return LSM_OK;
}

lsm_status
lsm_db_put(lsm_db *db, lsm_slice key, lsm_slice value)
{
	return db_write(db, key, LSM_KIND_VALUE, value);
}

lsm_status
lsm_db_delete(lsm_db *db, lsm_slice key)
{
	return db_write(db, key, LSM_KIND_TOMBSTONE, lsm_slice_make("", 0));
}

/* ---------- point reads ---------- */

static lsm_slice pinned_run_largest(const void *arg, int i);

/* The run of a sorted level (>= 1) whose range may hold key, or NULL. */
static db_table *
level_find(db_table **tables, int n, lsm_slice key)
{
	lsm_level_runs runs = {n, tables, NULL, pinned_run_largest, NULL};
	int			i = lsm_level_find(&runs, key);

	return i < n && lsm_run_meta_covers(&tables[i]->meta, key) ? tables[i] : NULL;
}

/* Looks key up in one run; LSM_NOT_FOUND means "look further". */
static lsm_status
table_get(lsm_db *db, db_table *t, lsm_slice key, lsm_kind *kind, lsm_buf *value)
{
	uint64_t	seq;
	bool		skipped = false;
	lsm_status	st;

	st = lsm_sst_get(t->sst, key, db->last_seq, &seq, kind, value, &skipped);
	db->stats.bloom_probes++;
	if (skipped)
		db->stats.bloom_skips++;
	return st;
}

/* Turns the newest entry found into the answer. */
static lsm_status
found(lsm_kind kind)
{
	return kind == LSM_KIND_VALUE ? LSM_OK : LSM_NOT_FOUND;
}

lsm_status
lsm_db_get(lsm_db *db, lsm_slice key, lsm_buf *value)
{
	uint64_t	seq;
	lsm_kind	kind;
	lsm_slice	v;
	lsm_status	st;

	st = lsm_memtable_get(lsm_memtable_at(db->mem->region), key, db->last_seq,
						  &seq, &kind, &v);
	if (st == LSM_OK)
		return kind == LSM_KIND_VALUE ? lsm_buf_set(value, v.data, v.len) : LSM_NOT_FOUND;
	if (st != LSM_NOT_FOUND)
		return st;
	for (int i = 0; db->tables[0][i]; i++)
	{
		if (!lsm_run_meta_covers(&db->tables[0][i]->meta, key))
			continue;
		st = table_get(db, db->tables[0][i], key, &kind, value);
		if (st != LSM_NOT_FOUND)
			return st == LSM_OK ? found(kind) : st;
	}
	for (int l = 1; l < LSM_MAX_LEVELS; l++)
	{
		db_table   *t = level_find(db->tables[l], db->m.levels[l].nruns, key);

		if (t == NULL)
			continue;
		st = table_get(db, t, key, &kind, value);
		if (st != LSM_NOT_FOUND)
			return st == LSM_OK ? found(kind) : st;
	}
	return LSM_NOT_FOUND;
}

/* ---------- iterators ---------- */

/* A pinned level's runs, for lsm_level_iter. */
static lsm_sst *
pinned_run_sst(const void *arg, int i)
{
	return ((db_table *const *) arg)[i]->sst;
}

static lsm_slice
pinned_run_largest(const void *arg, int i)
{
	return lsm_buf_slice(&((db_table *const *) arg)[i]->meta.largest);
}

static lsm_iter *
level_iter_new(db_table **tables, int n)
{
	lsm_level_runs runs = {n, tables, pinned_run_sst, pinned_run_largest, NULL};

	return lsm_level_iter_new(&runs);
}

/*
 * A pinned iterator wraps the merge of all sources and, when destroyed,
 * releases the pin that kept those sources alive.
 */
typedef struct pinned_iter
{
	lsm_iter	base;
	lsm_iter   *inner;
	lsm_db	   *db;
	db_pin	   *pin;
} pinned_iter;

static void
pin_release(lsm_db *db, db_pin *pin)
{
	if (pin->prev)
		pin->prev->next = pin->next;
	else
		db->pins = pin->next;
	if (pin->next)
		pin->next->prev = pin->prev;
	for (int i = 0; i < pin->ntables; i++)
		table_unref(pin->tables[i]);
	mem_unref(pin->mem);
	free(pin->tables);
	free(pin);
}

static bool
pinned_valid(lsm_iter *it)
{
	return lsm_iter_valid(((pinned_iter *) it)->inner);
}
static void
pinned_seek_first(lsm_iter *it)
{
	lsm_iter_seek_first(((pinned_iter *) it)->inner);
}
static void
pinned_seek(lsm_iter *it, lsm_slice t)
{
	lsm_iter_seek(((pinned_iter *) it)->inner, t);
}
static void
pinned_next(lsm_iter *it)
{
	lsm_iter_next(((pinned_iter *) it)->inner);
}
static void
pinned_seek_last(lsm_iter *it)
{
	lsm_iter_seek_last(((pinned_iter *) it)->inner);
}
static void
pinned_prev(lsm_iter *it)
{
	lsm_iter_prev(((pinned_iter *) it)->inner);
}
static lsm_slice
pinned_key(lsm_iter *it)
{
	return lsm_iter_key(((pinned_iter *) it)->inner);
}
static lsm_slice
pinned_value(lsm_iter *it)
{
	return lsm_iter_value(((pinned_iter *) it)->inner);
}
static lsm_status
pinned_status(lsm_iter *it)
{
	return lsm_iter_status(((pinned_iter *) it)->inner);
}

static void
pinned_destroy(lsm_iter *it)
{
	pinned_iter *pi = (pinned_iter *) it;

	lsm_iter_destroy(pi->inner);
	pin_release(pi->db, pi->pin);
	free(pi);
}

static const lsm_iter_ops pinned_iter_ops = {
	pinned_valid, pinned_seek_first, pinned_seek, pinned_next,
	pinned_key, pinned_value, pinned_status, pinned_destroy,
	pinned_seek_last, pinned_prev
};

/* Pins the current memtable, runs and version. */
static db_pin *
pin_new(lsm_db *db)
{
	db_pin	   *pin = calloc(1, sizeof(db_pin));
	int			n = lsm_manifest_nruns(&db->m);

	if (pin == NULL || (pin->tables = calloc((size_t) n + 1, sizeof(db_table *))) == NULL)
	{
		free(pin);
		return NULL;
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; db->tables[l][i]; i++)
		{
			db->tables[l][i]->refs++;
			pin->tables[pin->ntables++] = db->tables[l][i];
		}
	pin->mem = db->mem;
	pin->mem->refs++;
	pin->version = db->m.version;
	pin->next = db->pins;
	if (db->pins)
		db->pins->prev = pin;
	db->pins = pin;
	return pin;
}

/* Children: memtable, each L0 run, one level iterator per deeper level. */
static lsm_iter *
sources_iter(lsm_db *db, db_pin *pin)
{
	lsm_iter   *children[1 + 64 + LSM_MAX_LEVELS];
	lsm_iter  **kids = children;
	int			nl0 = db->m.levels[0].nruns;
	int			n = 0,
				t = 0;
	lsm_iter   *merged;
	bool		failed = false;

	if (nl0 > 64 && (kids = calloc((size_t) nl0 + 1 + LSM_MAX_LEVELS, sizeof(lsm_iter *))) == NULL)
		return NULL;
	kids[n++] = lsm_memtable_iter_new(lsm_memtable_at(pin->mem->region));
	for (int i = 0; i < nl0; i++)
		kids[n++] = lsm_sst_iter_new(pin->tables[t++]->sst);
	for (int l = 1; l < LSM_MAX_LEVELS; l++)
	{
		int			nr = db->m.levels[l].nruns;

		if (nr > 0)
			kids[n++] = level_iter_new(pin->tables + t, nr);
		t += nr;
	}
	for (int i = 0; i < n; i++)
		failed |= kids[i] == NULL;
	merged = failed ? NULL : lsm_merge_iter_new(kids, n);
	if (merged == NULL)
		for (int i = 0; i < n; i++)
			lsm_iter_destroy(kids[i]);
	if (kids != children)
		free(kids);
	return merged;
}

lsm_status
lsm_db_iter(lsm_db *db, const lsm_range *range, lsm_dbiter **out)
{
	db_pin	   *pin = pin_new(db);
	pinned_iter *pi;

	if (pin == NULL)
		return LSM_NO_MEMORY;
	pi = calloc(1, sizeof(pinned_iter));
	if (pi == NULL || (pi->inner = sources_iter(db, pin)) == NULL)
	{
		free(pi);
		pin_release(db, pin);
		return LSM_NO_MEMORY;
	}
	pi->base.ops = &pinned_iter_ops;
	pi->db = db;
	pi->pin = pin;
	*out = lsm_dbiter_new(&pi->base, db->last_seq, range);
	if (*out == NULL)
	{
		pinned_destroy(&pi->base);
		return LSM_NO_MEMORY;
	}
	lsm_dbiter_seek(*out, NULL);
	return LSM_OK;
}

/* ---------- verification and stats ---------- */

lsm_status
lsm_db_verify(lsm_db *db, char *msg, size_t msglen)
{
	lsm_page_owners o;
	lsm_pageno	from = 1;
	lsm_pageno	first;
	lsm_pageno	end;
	lsm_status	st = lsm_manifest_check(&db->m, msg, msglen);

	if (st != LSM_OK)
		return st;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; db->tables[l][i]; i++)
			if ((st = lsm_sst_verify(db->tables[l][i]->sst, msg, msglen)) != LSM_OK)
				return st;
	if ((st = ownership_map(db, &o, msg, msglen)) != LSM_OK)
		return st;
	if (lsm_owners_next_unowned(&o, &from, &first, &end))
	{
		snprintf(msg, msglen, "page %u is owned by nothing (leaked)", first);
		st = LSM_CORRUPT;
	}
	free(o.owner);
	return st;
}

const lsm_manifest *
lsm_db_manifest(lsm_db *db)
{
	return &db->m;
}

lsm_db_stats
lsm_db_get_stats(lsm_db *db)
{
	return db->stats;
}
