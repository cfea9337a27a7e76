/*
 * lsm_inspect.c - prints and verifies an lsm table's relation file offline.
 *
 *   lsm_inspect [--runs] [--verify] FILE
 *
 * FILE is the main fork of an lsm table (base/<db>/<relfilenode>, found with
 * pg_relation_filepath()); its 1 GB segments FILE.1, FILE.2, ... are read
 * too.  Stop the server, or CHECKPOINT first: the tool reads the file, not
 * shared buffers.  It prints the metapage, the key description and the
 * manifest (runs per level); --runs lists every run; --verify checks every
 * run's footer, index, bloom filter, every data block's checksum and every
 * entry (key order, sequence range, bloom filter), printing each problem with
 * the run, the data block and its pages (a bad data block is skipped, the
 * check goes on with the next; the first LSM_SST_CHECK_ENTRY_PROBLEMS
 * problems of entries per run are printed, then how many more), checks the
 * manifest's invariants, walks the log chain (log pages only, no loop, every
 * record's checksum), and checks that no page has two owners among the
 * metapage, the manifest's overflow pages, the log, the runs and the free
 * list and that all of them lie inside the file.  Pages of none of them are
 * counted but are no problem: a live table keeps pages set aside for its log
 * in shared memory only, and an interrupted flush leaves pages behind; the
 * table's next load gives them to the free list.  Exit status: 0 fine, 1
 * problems found, 2 usage or I/O error.
 *
 * The core includes no PostgreSQL header, so the page layout the table AM
 * uses (src/storage/lsm_storage.h) is restated here: a 24-byte page header, the
 * payload, and an 8-byte special space whose last two bytes are 0xFF8B.
 * The metapage's payload starts with LsmMetaData; the manifest follows it
 * or lives on an extent of overflow pages.  Little-endian, as written on
 * the machines PostgreSQL runs this extension on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coding.h"
#include "format.h"
#include "logrec.h"
#include "manifest.h"
#include "owners.h"
#include "sstable.h"

_Static_assert(LSM_PAGE_SIZE == LSM_FORMAT_PAGE_SIZE, "the core pages lsm_am files");

/* The owners of pages (owners.h), as numbered for the map. */
enum
{
	OWN_LOG = 1, OWN_MANIFEST, OWN_RUN, OWN_FREE
};

/* The relation file, read whole into memory (segments concatenated). */
typedef struct relfile
{
	lsm_pager	base;			/* must be first */
	uint8_t    *data;
	lsm_pageno	npages;
	lsm_pageno	bad_page;		/* a page handed out that was not a run page */
} relfile;

static const char *const encoders[] = {
	"none (row-id order)", "int2", "int4", "int8", "float4", "float8", "bool",
	"uuid", "bytes", "numeric", "date", "timestamp", "bpchar"
};

static const uint8_t *
page_at(const relfile *rf, lsm_pageno p)
{
	return rf->data + (size_t) p * LSM_PAGE_SIZE;
}

static int
page_type(const relfile *rf, lsm_pageno p)
{
	const uint8_t *page = page_at(rf, p);

	if (lsm_get_u16(page + LSM_FORMAT_ID_OFFSET) != LSM_FORMAT_PAGE_ID)
		return -1;
	return lsm_get_u16(page + LSM_FORMAT_KIND_OFFSET);
}

/* The pager the core reads runs through: only run pages are handed out. */
static lsm_status
rf_get(lsm_pager *p, lsm_pageno pageno, const uint8_t **payload, void **handle)
{
	relfile    *rf = (relfile *) p;

	if (pageno >= rf->npages)
		return LSM_IO_ERROR;
	if (page_type(rf, pageno) != LSM_FORMAT_PAGE_RUN && page_type(rf, pageno) != LSM_FORMAT_PAGE_MANIFEST)
	{
		rf->bad_page = pageno;
		return LSM_CORRUPT;
	}
	*payload = page_at(rf, pageno) + LSM_FORMAT_PAGE_HEADER;
	*handle = NULL;
	return LSM_OK;
}

static void
rf_release(lsm_pager *p, void *handle)
{
}

static lsm_status
rf_write(lsm_pager *p, lsm_pageno pageno, const uint8_t *payload)
{
	return LSM_INVALID;			/* read-only */
}

static lsm_pageno
rf_npages(lsm_pager *p)
{
	return ((relfile *) p)->npages;
}

static const lsm_pager_ops rf_ops = {rf_get, rf_release, rf_write, rf_npages, NULL};

/* Appends one segment file to rf; false if it does not exist. */
static bool
read_segment(relfile *rf, const char *path)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t    *grown;
	size_t		off;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || st.st_size % LSM_PAGE_SIZE != 0)
	{
		fprintf(stderr, "lsm_inspect: %s: not a whole number of 8 KiB pages\n", path);
		exit(2);
	}
	off = (size_t) rf->npages * LSM_PAGE_SIZE;
	grown = realloc(rf->data, off + (size_t) st.st_size + 1);
	if (grown == NULL)
	{
		fprintf(stderr, "lsm_inspect: out of memory\n");
		exit(2);
	}
	rf->data = grown;
	for (size_t done = 0; done < (size_t) st.st_size;)
	{
		ssize_t		n = read(fd, rf->data + off + done, (size_t) st.st_size - done);

		if (n <= 0)
		{
			fprintf(stderr, "lsm_inspect: %s: %s\n", path, n < 0 ? strerror(errno) : "short read");
			exit(2);
		}
		done += (size_t) n;
	}
	close(fd);
	rf->npages += (lsm_pageno) (st.st_size / LSM_PAGE_SIZE);
	return true;
}

static void
relfile_open(relfile *rf, const char *path)
{
	char		seg[4096];

	memset(rf, 0, sizeof(*rf));
	rf->base.ops = &rf_ops;
	rf->base.payload_size = LSM_FORMAT_PAYLOAD_SIZE;
	if (!read_segment(rf, path))
	{
		fprintf(stderr, "lsm_inspect: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (int i = 1; rf->npages == (lsm_pageno) i * LSM_FORMAT_SEGMENT_PAGES; i++)
	{
		snprintf(seg, sizeof(seg), "%s.%d", path, i);
		if (!read_segment(rf, seg))
			break;
	}
}

/* Reads the metapage and the manifest; returns false after printing why. */
static bool
load_manifest(relfile *rf, lsm_manifest *m)
{
	const uint8_t *meta;
	uint32_t	len,
				first,
				npages,
				enc;
	uint8_t    *img;
	lsm_status	st;

	if (rf->npages == 0 || page_type(rf, 0) != LSM_FORMAT_PAGE_META)
	{
		printf("page 0 is not an lsm metapage\n");
		return false;
	}
	meta = page_at(rf, 0) + LSM_FORMAT_PAGE_HEADER;
	if (lsm_get_u32(meta + LSM_FORMAT_META_MAGIC_OFF) != LSM_FORMAT_META_MAGIC)
	{
		printf("metapage: bad magic %08x\n", lsm_get_u32(meta));
		return false;
	}
	len = lsm_get_u32(meta + LSM_FORMAT_META_MLEN_OFF);
	first = lsm_get_u32(meta + LSM_FORMAT_META_MFIRST_OFF);
	npages = lsm_get_u32(meta + LSM_FORMAT_META_MNPAGES_OFF);
	enc = lsm_get_u16(meta + LSM_FORMAT_META_KEY_ENCODER_OFF);
	printf("metapage: format version %u, %u pages, row ids handed out below %llu\n",
		   lsm_get_u32(meta + LSM_FORMAT_META_VERSION_OFF), rf->npages,
		   (unsigned long long) lsm_get_u64(meta + LSM_FORMAT_META_ID_HWM_OFF));
	printf("key: attribute %d, type oid %u, collation oid %u, encoder %s\n",
		   (int16_t) lsm_get_u16(meta + LSM_FORMAT_META_KEY_ATTNUM_OFF),
		   lsm_get_u32(meta + LSM_FORMAT_META_KEY_TYPID_OFF),
		   lsm_get_u32(meta + LSM_FORMAT_META_KEY_COLL_OFF),
		   enc < sizeof(encoders) / sizeof(encoders[0]) ? encoders[enc] : "unknown");
	printf("manifest: version %llu, %u bytes, %s",
		   (unsigned long long) lsm_get_u64(meta + LSM_FORMAT_META_MVERSION_OFF), len,
		   first == 0 ? "in the metapage\n" : "");
	if (first == 0)
	{
		if (len > LSM_FORMAT_PAYLOAD_SIZE - LSM_FORMAT_META_INLINE)
			return printf("manifest length is impossible\n"), false;
		return lsm_manifest_deserialize(lsm_slice_make(meta + LSM_FORMAT_META_INLINE, len), m) == LSM_OK ||
			(printf("manifest does not deserialize (checksum or invariants)\n"), false);
	}
	printf("on pages %u..%u\n", first, first + npages - 1);
	if ((uint64_t) len > (uint64_t) npages * LSM_FORMAT_PAYLOAD_SIZE)
		return printf("manifest length is impossible\n"), false;
	img = malloc(len ? len : 1);
	st = lsm_pager_read_stream(&rf->base, first, 0, img, len);
	if (st == LSM_OK)
		st = lsm_manifest_deserialize(lsm_slice_make(img, len), m);
	free(img);
	if (st != LSM_OK)
		printf("manifest: %s\n", lsm_status_str(st));
	return st == LSM_OK;
}

static void
print_user_key(const char *label, const lsm_buf *key)
{
	printf("%s ", label);
	for (size_t i = 0; i < key->len && i < 24; i++)
		printf("%02x", key->data[i]);
	if (key->len > 24)
		printf("..");
}

/* An internal key's user key (its trailer left out). */
static void
print_key(const char *label, const lsm_buf *ikey)
{
	lsm_buf		user = *ikey;

	user.len = ikey->len > LSM_IKEY_TRAILER ? ikey->len - LSM_IKEY_TRAILER : 0;
	print_user_key(label, &user);
}

static void
print_levels(const lsm_manifest *m, bool runs)
{
	printf("log head page %u, flushed up to sequence %llu, last sequence %llu, %d free extents\n",
		   m->log_head, (unsigned long long) m->flushed_seq,
		   (unsigned long long) m->last_seq, m->nfree);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		const lsm_level *lv = &m->levels[l];

		if (lv->nruns == 0)
			continue;
		uint64_t	entries = 0;

		for (int i = 0; i < lv->nruns; i++)
			entries += lv->runs[i].nentries;
		printf("level %d: %d runs, %llu entries, %llu bytes\n", l, lv->nruns,
			   (unsigned long long) entries,
			   (unsigned long long) lsm_manifest_level_bytes(m, l));
		for (int i = 0; runs && i < lv->nruns; i++)
		{
			const lsm_run_meta *r = &lv->runs[i];

			printf("  run %llu: pages %u..%u, %llu bytes, %llu entries, seq %llu..%llu, ",
				   (unsigned long long) r->id, r->first_page, r->first_page + r->npages - 1,
				   (unsigned long long) r->nbytes, (unsigned long long) r->nentries,
				   (unsigned long long) r->min_seq, (unsigned long long) r->max_seq);
			print_key("keys", &r->smallest);
			print_key(" ..", &r->largest);
			if (lsm_run_meta_has_split(r))
			{
				print_user_key(", none between", &r->split_lo);
				print_user_key(" and", &r->split_hi);
			}
			printf("\n");
		}
	}
}

static const char *const parts[] = {
	"footer", "index", "bloom filter", "data block", "entry", "run"
};

/* What a run's check reports to. */
typedef struct run_report
{
	relfile    *rf;
	const lsm_run_meta *r;
	int			level;
} run_report;

/* Prints one problem of a run, naming its pages. */
static void
print_run_problem(void *arg, const lsm_sst_problem *p)
{
	run_report *rr = (run_report *) arg;
	const lsm_run_meta *r = rr->r;

	printf("run %llu (level %d, pages %u..%u): %s: %s",
		   (unsigned long long) r->id, rr->level, r->first_page,
		   r->first_page + r->npages - 1, parts[p->part], p->msg);
	if (rr->rf->bad_page != 0)
		printf(" (page %u is not a run page)", rr->rf->bad_page);
	else if (p->first_page != 0 && p->first_page == p->last_page)
		printf(" (on page %u)", p->first_page);
	else if (p->first_page != 0)
		printf(" (on pages %u..%u)", p->first_page, p->last_page);
	printf("\n");
	rr->rf->bad_page = 0;
}

/*
 * Checks every run and prints each problem found (a run's check goes on
 * after a bad data block, see lsm_sst_check_new); returns their number.
 */
static int
verify_runs(relfile *rf, const lsm_manifest *m)
{
	lsm_sst_options o;
	int			problems = 0;
	int			nruns = 0;
	int			intact = 0;
	uint64_t	entries = 0;

	lsm_sst_options_default(&o);
	o.bloom_key_len = lsm_format_bloom_len;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
		{
			run_report	rr = {rf, &m->levels[l].runs[i], l};
			lsm_sst_check *c;

			nruns++;
			rf->bad_page = 0;
			if (lsm_sst_check_new(&rf->base, rr.r, &o, print_run_problem, &rr, &c) != LSM_OK)
			{
				fprintf(stderr, "lsm_inspect: out of memory\n");
				exit(2);
			}
			while (lsm_sst_check_step(c))
				;
			problems += lsm_sst_check_problems(c);
			if (lsm_sst_check_problems(c) == 0)
			{
				intact++;
				entries += lsm_sst_check_entries(c);
			}
			lsm_sst_check_free(c);
		}
	printf("runs: %d checked, %d intact with %llu entries\n", nruns, intact,
		   (unsigned long long) entries);
	return problems;
}

/* Payload bytes in use on page p (pd_lower less the page header). */
static uint32_t
page_used(const relfile *rf, lsm_pageno p)
{
	uint32_t	lower = lsm_get_u16(page_at(rf, p) + LSM_FORMAT_PD_LOWER);

	return lower < LSM_FORMAT_PAGE_HEADER ? 0 : lower - LSM_FORMAT_PAGE_HEADER;
}

/*
 * Walks the log chain from its head: log pages only, no loop, every record
 * intact.  Claims its pages for OWN_LOG.  Returns the number of
 * problems.
 */
static int
verify_log(const relfile *rf, const lsm_manifest *m, lsm_page_owners *o)
{
	int			problems = 0;
	uint32_t	npages = 0;
	uint64_t	nrecords = 0;

	for (lsm_pageno p = m->log_head;;)
	{
		const uint8_t *payload;
		uint32_t	used;

		if (p == 0 || p >= rf->npages)
		{
			printf("log: the chain leads to page %u, outside the file's %u pages\n", p, rf->npages);
			return problems + 1;
		}
		if (o->owner[p] == OWN_LOG)
		{
			printf("log: the chain loops back to page %u\n", p);
			return problems + 1;
		}
		o->owner[p] = OWN_LOG;
		npages++;
		if (page_type(rf, p) != LSM_FORMAT_PAGE_LOG)
		{
			printf("log: page %u of the chain is not a log page\n", p);
			return problems + 1;
		}
		payload = page_at(rf, p) + LSM_FORMAT_PAGE_HEADER;
		used = page_used(rf, p);
		if (used < LSM_FORMAT_LOG_HEADER || used > LSM_FORMAT_PAYLOAD_SIZE)
		{
			printf("log: page %u claims %u payload bytes in use\n", p, used);
			problems++;
		}
		else
		{
			for (uint32_t off = LSM_FORMAT_LOG_HEADER; off < used;)
			{
				lsm_logrec	rec;
				size_t		len;

				if (lsm_logrec_decode(payload + off, used - off, &rec, &len) != LSM_OK)
				{
					printf("log: page %u, the record at offset %u is damaged\n", p, off);
					problems++;
					break;
				}
				nrecords++;
				off += (uint32_t) len;
			}
		}
		p = lsm_get_u32(payload);
		if (p == 0)
			break;
	}
	printf("log: %u pages from page %u, %llu records\n", npages, m->log_head,
		   (unsigned long long) nrecords);
	return problems;
}

typedef struct claim
{
	const relfile *rf;
	const char *name;			/* of the extent being claimed */
} claim;

static void
report_claim(void *arg, lsm_pageno first, lsm_pageno last, uint32_t other)
{
	const claim *c = arg;

	if (other == 0)
		printf("pages: %s at pages %u..%u is not inside the file's pages 1..%u\n",
			   c->name, first, last, c->rf->npages - 1);
	else
		printf("pages: pages %u..%u of %s also belong to %s\n", first, last, c->name,
			   other == OWN_MANIFEST ? "the manifest" : other == OWN_LOG ? "the log" :
			   other == OWN_RUN ? "a run" : "the free list");
}

static int
own_pages(const relfile *rf, lsm_page_owners *o, uint32_t what, const char *name,
		  lsm_pageno first, uint32_t n)
{
	claim		c = {rf, name};

	return lsm_owners_claim(o, first, n, what, 0, report_claim, &c);
}

/* Checks that every page has at most one owner; counts those with none. */
static int
verify_pages(const relfile *rf, const lsm_manifest *m, lsm_page_owners *o)
{
	const uint8_t *meta = page_at(rf, 0) + LSM_FORMAT_PAGE_HEADER;
	uint32_t	mfirst = lsm_get_u32(meta + LSM_FORMAT_META_MFIRST_OFF);
	uint32_t	mpages = lsm_get_u32(meta + LSM_FORMAT_META_MNPAGES_OFF);
	int			problems = 0;
	uint32_t	unowned = 0;
	char		name[96];
	lsm_pageno	from = 1;
	lsm_pageno	first;
	lsm_pageno	end;

	if (mfirst != 0)
		problems += own_pages(rf, o, OWN_MANIFEST, "the manifest's overflow extent", mfirst, mpages);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
		{
			const lsm_run_meta *r = &m->levels[l].runs[i];

			snprintf(name, sizeof(name), "run %llu", (unsigned long long) r->id);
			problems += own_pages(rf, o, OWN_RUN, name, r->first_page, r->npages);
		}
	for (int i = 0; i < m->nfree; i++)
		problems += own_pages(rf, o, OWN_FREE, "a free extent", m->free[i].first,
							  m->free[i].npages);
	while (lsm_owners_next_unowned(o, &from, &first, &end))
		unowned += end - first;
	printf("pages: %u in the file, %u belonging to nothing (pages set aside for the log, or left by an interrupted flush or compaction: the table's next load frees them)\n",
		   rf->npages, unowned);
	return problems;
}

int
main(int argc, char **argv)
{
	bool		runs = false;
	bool		verify = false;
	const char *path = NULL;
	relfile		rf;
	lsm_manifest m;
	int			problems = 0;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--runs") == 0)
			runs = true;
		else if (strcmp(argv[i], "--verify") == 0)
			verify = true;
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
		{
			path = NULL;
			break;
		}
	}
	if (path == NULL)
	{
		fprintf(stderr, "usage: lsm_inspect [--runs] [--verify] RELATION-FILE\n"
				"  prints an lsm table's metapage and manifest; --runs lists its runs,\n"
				"  --verify checks every run, the manifest's invariants, the log chain\n"
				"  and that no page has two owners\n");
		return 2;
	}
	relfile_open(&rf, path);
	lsm_manifest_init(&m);
	if (!load_manifest(&rf, &m))
		problems++;
	else
	{
		char		msg[256] = "";

		print_levels(&m, runs);
		if (verify)
		{
			uint32_t   *owner = calloc(rf.npages ? rf.npages : 1, sizeof(uint32_t));
			lsm_page_owners o;

			if (owner == NULL)
			{
				fprintf(stderr, "lsm_inspect: out of memory\n");
				return 2;
			}
			if (lsm_manifest_check(&m, msg, sizeof(msg)) != LSM_OK)
			{
				printf("manifest: %s\n", msg);
				problems++;
			}
			problems += verify_runs(&rf, &m);
			lsm_owners_init(&o, owner, rf.npages);
			problems += verify_log(&rf, &m, &o);
			problems += verify_pages(&rf, &m, &o);
			free(owner);
			printf("verify: %d problem%s\n", problems, problems == 1 ? "" : "s");
		}
	}
	lsm_manifest_free(&m);
	free(rf.data);
	return problems ? 1 : 0;
}
