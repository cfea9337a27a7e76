/*
 * test_sstable.c - runs built in memory, written through a file pager and
 * read back: point lookups at many snapshots against a reference, iteration,
 * seeks, the bloom filter, lz4, verify, and corruption of every region of
 * the stream (which must come back as LSM_CORRUPT, never a crash or a wrong
 * answer).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "file_pager.h"
#include "level_iter.h"
#include "sstable.h"
#include "tap.h"
#include "iter_check.h"


static bool small_scale;

/* ------------------------------------------------------------- reference */

/*
 * The reference data: user key k is "user:" + 10 digits of 2k (so odd
 * numbers are absent keys), with versions in descending seq order.  Values
 * are derived from (k, seq), so nothing but the entry list is stored.
 */
typedef struct ent
{
	uint32_t	k;
	uint8_t		kind;
	uint64_t	seq;
} ent;

typedef struct dataset
{
	ent		   *e;
	size_t		n;
	size_t	   *first;			/* first entry index of key k */
	uint32_t	nkeys;
} dataset;

static size_t
user_key(char *buf, uint32_t k)
{
	return (size_t) sprintf(buf, "user:%010u", 2 * k);
}

static void
make_ikey(lsm_buf *b, uint32_t k, uint64_t seq, lsm_kind kind)
{
	char		u[32];
	size_t		n = user_key(u, k);

	b->len = 0;
	lsm_ikey_append(b, lsm_slice_make(u, n), seq, kind);
}

/* Mostly small, compressible values; now and then one bigger than a block. */
static void
make_value(lsm_buf *b, uint32_t k, uint64_t seq, uint8_t kind)
{
	uint64_t	h = XXH3_64bits_withSeed(&seq, sizeof(seq), k);
	size_t		len = h % 97 == 0 ? 9000 + h % 5000 : h % 120;
	char		head[48];
	int			hl = snprintf(head, sizeof(head), "%u/%llu:", k, (unsigned long long) seq);

	b->len = 0;
	if (kind == LSM_KIND_TOMBSTONE)
		return;
	lsm_buf_append(b, head, (size_t) hl);
	for (size_t i = 0; i < len; i++)
	{
		uint8_t		c = (uint8_t) ("the quick brown fox "[i % 20] + (i % 64 == 63 ? h & 7 : 0));

		lsm_buf_append(b, &c, 1);
	}
}

static dataset
make_dataset(size_t target)
{
	dataset		d = {0};
	size_t		cap = target + 3;

	d.e = malloc(cap * sizeof(ent));
	d.first = malloc((target + 1) * sizeof(size_t));
	while (d.n < target)
	{
		int			nv = 1 + (int) (tap_rand() % 3);
		uint64_t	seqs[3];

		if (target == 1)
			nv = 1;
		for (int i = 0; i < nv; i++)
			seqs[i] = 1 + tap_rand() % 1000000;
		/* descending, distinct */
		for (int i = 0; i < nv; i++)
			for (int j = i + 1; j < nv; j++)
				if (seqs[j] > seqs[i])
				{
					uint64_t	t = seqs[i];

					seqs[i] = seqs[j];
					seqs[j] = t;
				}
		d.first[d.nkeys] = d.n;
		for (int i = 0; i < nv; i++)
		{
			uint64_t	r = tap_rand() % 10;

			if (i > 0 && seqs[i] == seqs[i - 1])
				continue;
			d.e[d.n].k = d.nkeys;
			d.e[d.n].seq = seqs[i];
			d.e[d.n].kind = r < 6 ? LSM_KIND_VALUE : r < 8 ? LSM_KIND_TOMBSTONE :
				r < 9 ? LSM_KIND_XMAX : LSM_KIND_LOCK;
			d.n++;
		}
		d.nkeys++;
	}
	d.first[d.nkeys] = d.n;
	return d;
}

static void
free_dataset(dataset *d)
{
	free(d->e);
	free(d->first);
}

/* Index of the newest entry of key k with seq <= snap, or -1. */
static long
ref_get(const dataset *d, uint32_t k, uint64_t snap)
{
	if (k >= d->nkeys)
		return -1;
	for (size_t i = d->first[k]; i < d->first[k + 1]; i++)
		if (d->e[i].seq <= snap)
			return (long) i;
	return -1;
}

/* ------------------------------------------------------------- fixtures */

typedef struct run
{
	lsm_run_meta meta;
	uint8_t    *stream;			/* a private copy of the built stream */
	size_t		len;
	lsm_sst_options opts;
	uint64_t	bloom_off;
	uint64_t	index_off;
} run;

static lsm_file_pager *fp;
static lsm_pager *pager;
static char path[] = "/tmp/lsm_test_sstable_XXXXXX";

static lsm_status
build_run(const dataset *d, const lsm_sst_options *o, run *r)
{
	lsm_sst_builder *b;
	lsm_buf		k = {0},
				v = {0};
	lsm_slice	s;
	lsm_status	st;

	memset(r, 0, sizeof(*r));
	r->opts = *o;
	lsm_sst_builder_new(o, &b);
	for (size_t i = 0; i < d->n; i++)
	{
		make_ikey(&k, d->e[i].k, d->e[i].seq, d->e[i].kind);
		make_value(&v, d->e[i].k, d->e[i].seq, d->e[i].kind);
		if ((st = lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_buf_slice(&v))) != LSM_OK)
			goto done;
	}
	if ((st = lsm_sst_builder_finish(b, &s, &r->meta)) != LSM_OK)
		goto done;
	r->len = s.len;
	r->stream = malloc(s.len);
	memcpy(r->stream, s.data, s.len);
	r->bloom_off = lsm_get_u64(r->stream + r->len - LSM_SST_FOOTER_SIZE + 32);
	r->index_off = lsm_get_u64(r->stream + r->len - LSM_SST_FOOTER_SIZE + 16);
	/* the run goes at the end of the file; page 0 is someone's metapage */
	r->meta.first_page = pager->ops->npages(pager) ? pager->ops->npages(pager) : 1;
	r->meta.npages = lsm_stream_pages(pager, s.len);
	st = lsm_pager_write_stream(pager, r->meta.first_page, s);
done:
	lsm_buf_free(&k);
	lsm_buf_free(&v);
	lsm_sst_builder_free(b);
	return st;
}

static void
free_run(run *r)
{
	lsm_run_meta_free(&r->meta);
	free(r->stream);
}

/* Rewrites the run's pages with (possibly altered) stream bytes. */
static void
rewrite(const run *r, const uint8_t *bytes)
{
	lsm_pager_write_stream(pager, r->meta.first_page, lsm_slice_make(bytes, r->len));
}

static bool
slice_eq(lsm_slice a, lsm_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/*
 * One point lookup checked against the reference.  Returns 0 if the answer
 * is right, 1 if it is wrong, 2 if the run said CORRUPT.
 */
static int
check_get(lsm_sst *t, const dataset *d, uint32_t key2, uint64_t snap, lsm_buf *val,
		  lsm_buf *want, bool *skipped)
{
	char		u[32];
	size_t		ul = (size_t) sprintf(u, "user:%010u", key2);
	uint64_t	seq = 0;
	lsm_kind	kind = LSM_KIND_VALUE;
	lsm_status	st = lsm_sst_get(t, lsm_slice_make(u, ul), snap, &seq, &kind, val, skipped);
	long		ri = key2 % 2 ? -1 : ref_get(d, key2 / 2, snap);

	if (st == LSM_CORRUPT)
		return 2;
	if (ri < 0)
		return st == LSM_NOT_FOUND ? 0 : 1;
	make_value(want, d->e[ri].k, d->e[ri].seq, d->e[ri].kind);
	return st == LSM_OK && seq == d->e[ri].seq && kind == d->e[ri].kind &&
		slice_eq(lsm_buf_slice(val), lsm_buf_slice(want)) ? 0 : 1;
}

/*
 * Iterates the whole run checking each entry against the reference, from
 * the first entry on, or with backward from the last entry back.  Returns
 * the number of entries that matched before the end or the first problem;
 * *wrong counts entries that differ, *status gets the final status.
 */
static size_t
check_iter_dir(lsm_sst *t, const dataset *d, bool backward, size_t *wrong,
			   lsm_status *status)
{
	lsm_iter   *it = lsm_sst_iter_new(t);
	lsm_buf		k = {0},
				v = {0};
	size_t		i = 0;

	*wrong = 0;
	if (backward)
		lsm_iter_seek_last(it);
	else
		lsm_iter_seek_first(it);
	for (; lsm_iter_valid(it); i++)
	{
		size_t		j = backward ? d->n - 1 - i : i;

		if (i >= d->n)
		{
			(*wrong)++;
			break;
		}
		make_ikey(&k, d->e[j].k, d->e[j].seq, d->e[j].kind);
		make_value(&v, d->e[j].k, d->e[j].seq, d->e[j].kind);
		if (!slice_eq(lsm_iter_key(it), lsm_buf_slice(&k)) ||
			!slice_eq(lsm_iter_value(it), lsm_buf_slice(&v)))
			(*wrong)++;
		if (backward)
			lsm_iter_prev(it);
		else
			lsm_iter_next(it);
	}
	*status = lsm_iter_status(it);
	lsm_iter_destroy(it);
	lsm_buf_free(&k);
	lsm_buf_free(&v);
	return i;
}

static size_t
check_iter(lsm_sst *t, const dataset *d, size_t *wrong, lsm_status *status)
{
	return check_iter_dir(t, d, false, wrong, status);
}

/* Checks it backward and both ways at random against d's entries. */
static void
check_both_ways(lsm_iter *it, const dataset *d, int steps, const char *what)
{
	lsm_buf    *bufs = calloc(d->n ? d->n : 1, sizeof(lsm_buf));
	lsm_slice  *keys = malloc((d->n ? d->n : 1) * sizeof(lsm_slice));

	for (size_t i = 0; i < d->n; i++)
	{
		make_ikey(&bufs[i], d->e[i].k, d->e[i].seq, d->e[i].kind);
		keys[i] = lsm_buf_slice(&bufs[i]);
	}
	iter_check_both_ways(it, keys, d->n, steps, what);
	for (size_t i = 0; i < d->n; i++)
		lsm_buf_free(&bufs[i]);
	free(bufs);
	free(keys);
}

/* ------------------------------------------------------------------ tests */

static void
test_run(size_t target, bool compress, int bloom_bits)
{
	dataset		d = make_dataset(target);
	lsm_sst_options o;
	run			r;
	lsm_sst    *t = NULL;
	lsm_buf		val = {0},
				want = {0},
				k = {0};
	size_t		wrong = 0,
				nseen,
				probes,
				bloom_skips = 0,
				absent = 0;
	lsm_status	ist;
	char		msg[200];
	const char *label;
	char		lbuf[64];

	lsm_sst_options_default(&o);
	o.compress = compress;
	o.bloom_bits_per_key = bloom_bits;
	snprintf(lbuf, sizeof(lbuf), "%zu entries%s%s", d.n, compress ? ", lz4" : "",
			 bloom_bits ? "" : ", no bloom");
	label = lbuf;

	is_int(build_run(&d, &o, &r), LSM_OK, "%s: build and write", label);
	is_int(r.meta.nentries, d.n, "%s: meta entry count", label);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "%s: open", label);
	if (t == NULL)
	{
		free_run(&r);
		free_dataset(&d);
		return;
	}
	is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "%s: verify passes (%s)", label, msg);
	{
		lsm_iter   *bit = lsm_sst_iter_new(t);

		check_both_ways(bit, &d, 3000, label);
		lsm_iter_destroy(bit);
	}

	/* Point lookups: every key at the newest, at a random and at each version's snapshot. */
	probes = 0;
	for (uint32_t key = 0; key < d.nkeys; key += small_scale && d.nkeys > 5000 ? 7 : 1)
	{
		wrong += check_get(t, &d, 2 * key, LSM_MAX_SEQ, &val, &want, NULL) != 0;
		wrong += check_get(t, &d, 2 * key, tap_rand() % 1000001, &val, &want, NULL) != 0;
		for (size_t i = d.first[key]; i < d.first[key + 1]; i++)
		{
			wrong += check_get(t, &d, 2 * key, d.e[i].seq, &val, &want, NULL) != 0;
			wrong += check_get(t, &d, 2 * key, d.e[i].seq - 1, &val, &want, NULL) != 0;
			probes += 2;
		}
		wrong += check_get(t, &d, 2 * key, 0, &val, &want, NULL) != 0;
		probes += 3;
	}
	is_int(wrong, 0, "%s: %zu lookups at many snapshots match the reference", label, probes);

	/* Absent keys: between, before and after the present ones. */
	wrong = 0;
	for (uint32_t i = 0; i < 20000 && i < 4 * d.nkeys + 100; i++)
	{
		bool		skipped;
		uint32_t	key2 = 2 * (uint32_t) (tap_rand() % (d.nkeys + 10)) + 1;

		wrong += check_get(t, &d, key2, LSM_MAX_SEQ, &val, &want, &skipped) != 0;
		absent++;
		bloom_skips += skipped;
	}
	{
		bool		skipped = true;
		uint64_t	seq;
		lsm_kind	kind;

		is_int(lsm_sst_get(t, lsm_slice_make("", 0), LSM_MAX_SEQ, &seq, &kind, &val, &skipped),
			   LSM_NOT_FOUND, "%s: empty user key is absent", label);
		wrong += check_get(t, &d, 2 * d.nkeys + 1000, LSM_MAX_SEQ, &val, &want, NULL) != 0;
	}
	is_int(wrong, 0, "%s: %zu absent keys are NOT_FOUND", label, absent);
	if (bloom_bits)
		ok(bloom_skips * 100 >= absent * 97,
		   "%s: bloom filter answers %zu of %zu absent-key lookups", label, bloom_skips, absent);
	else
		is_int(bloom_skips, 0, "%s: without a filter nothing is skipped", label);

	/* Iteration equals the input. */
	nseen = check_iter(t, &d, &wrong, &ist);
	ok(nseen == d.n && wrong == 0 && ist == LSM_OK, "%s: iteration yields all %zu entries in order",
	   label, nseen);

	/* Seeks: to each entry, and to keys between. */
	{
		lsm_iter   *it = lsm_sst_iter_new(t);
		size_t		bad = 0,
					nseek = 0;

		for (size_t i = 0; i < d.n; i += 1 + d.n / 3000)
		{
			make_ikey(&k, d.e[i].k, d.e[i].seq, d.e[i].kind);
			lsm_iter_seek(it, lsm_buf_slice(&k));
			if (!lsm_iter_valid(it) || !slice_eq(lsm_iter_key(it), lsm_buf_slice(&k)))
				bad++;
			/* just below this version: lands on it too */
			make_ikey(&k, d.e[i].k, d.e[i].seq + (i == d.first[d.e[i].k] ? 1 : 0), LSM_KIND_MAX);
			lsm_iter_seek(it, lsm_buf_slice(&k));
			if (!lsm_iter_valid(it) || lsm_ikey_trailer(lsm_iter_key(it)) !=
				lsm_pack_trailer(d.e[i].seq, (lsm_kind) d.e[i].kind))
				bad++;
			/* an absent key just after user key k: lands on key k+1 */
			{
				char		u[32];
				size_t		ul = (size_t) sprintf(u, "user:%010u", 2 * d.e[i].k + 1);

				k.len = 0;
				lsm_ikey_append(&k, lsm_slice_make(u, ul), LSM_MAX_SEQ, LSM_KIND_MAX);
				lsm_iter_seek(it, lsm_buf_slice(&k));
				if (d.e[i].k + 1 == d.nkeys)
					bad += lsm_iter_valid(it) || lsm_iter_status(it) != LSM_OK;
				else
				{
					const ent  *nx = &d.e[d.first[d.e[i].k + 1]];

					make_ikey(&want, nx->k, nx->seq, nx->kind);
					bad += !lsm_iter_valid(it) ||
						!slice_eq(lsm_iter_key(it), lsm_buf_slice(&want));
				}
			}
			nseek += 3;
		}
		make_ikey(&k, d.nkeys + 5, 1, LSM_KIND_VALUE);
		lsm_iter_seek(it, lsm_buf_slice(&k));
		bad += lsm_iter_valid(it);
		lsm_iter_destroy(it);
		is_int(bad, 0, "%s: %zu seeks land where they should", label, nseek);
	}

	lsm_sst_close(t);
	lsm_buf_free(&val);
	lsm_buf_free(&want);
	lsm_buf_free(&k);
	free_run(&r);
	free_dataset(&d);
}

static void
test_compression_saves(void)
{
	dataset		d = make_dataset(small_scale ? 3000 : 20000);
	lsm_sst_options o;
	run			plain,
				packed;

	lsm_sst_options_default(&o);
	o.compress = false;
	build_run(&d, &o, &plain);
	o.compress = true;
	build_run(&d, &o, &packed);
	ok(packed.len < plain.len * 3 / 4, "lz4 shrinks a compressible run: %zu -> %zu bytes",
	   plain.len, packed.len);
	ok(plain.meta.nbytes == plain.len && packed.meta.nbytes == packed.len, "meta nbytes is the stream length");
	free_run(&plain);
	free_run(&packed);
	free_dataset(&d);
}

static size_t
prefix5(lsm_slice user_key)
{
	/* "user:00000000NN": hash only the first 14 bytes, so 5 keys share a hash */
	(void) user_key;
	return 14;
}

static void
test_options_and_edges(void)
{
	lsm_sst_options o;
	lsm_sst_builder *b;
	lsm_buf		k = {0},
				v = {0};
	lsm_slice	s;
	lsm_run_meta m = {0};
	run			r;
	lsm_sst    *t;
	dataset		d;
	char		msg[200];

	/* Builder argument checks. */
	lsm_sst_options_default(&o);
	is_int(o.block_size, 4096, "default block size");
	is_int(o.bloom_bits_per_key, 10, "default bloom bits per key");
	lsm_sst_builder_new(&o, &b);
	make_ikey(&k, 5, 10, LSM_KIND_VALUE);
	is_int(lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_slice_make("x", 1)), LSM_OK, "add");
	is_int(lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_slice_make("x", 1)), LSM_INVALID, "duplicate key refused");
	make_ikey(&k, 4, 10, LSM_KIND_VALUE);
	is_int(lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_slice_make("x", 1)), LSM_INVALID, "smaller key refused");
	is_int(lsm_sst_builder_add(b, lsm_slice_make("short", 5), lsm_slice_make("x", 1)), LSM_INVALID,
		   "key shorter than a trailer refused");
	make_ikey(&k, 5, 9, LSM_KIND_TOMBSTONE);
	is_int(lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_slice_make(NULL, 0)), LSM_OK, "older version of the same key");
	is_int(lsm_sst_builder_count(b), 2, "count 2");
	ok(lsm_sst_builder_size(b) > 0, "size grows before finish");
	is_int(lsm_sst_builder_finish(b, &s, &m), LSM_OK, "finish");
	is_int(lsm_sst_builder_finish(b, &s, &m), LSM_INVALID, "second finish refused");
	ok(m.min_seq == 9 && m.max_seq == 10, "meta seq range [9, 10]");
	lsm_sst_builder_free(b);
	lsm_run_meta_free(&m);

	/* An empty run is a valid run. */
	d = make_dataset(0);
	is_int(build_run(&d, &o, &r), LSM_OK, "empty run builds");
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "empty run opens");
	{
		lsm_iter   *it = lsm_sst_iter_new(t);
		uint64_t	seq;
		lsm_kind	kind;

		lsm_iter_seek_first(it);
		ok(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK, "empty run iterates nothing");
		lsm_iter_destroy(it);
		is_int(lsm_sst_get(t, lsm_slice_make("user:", 5), LSM_MAX_SEQ, &seq, &kind, &v, NULL),
			   LSM_NOT_FOUND, "empty run finds nothing");
		is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "empty run verifies");
	}
	lsm_sst_close(t);
	free_run(&r);
	free_dataset(&d);

	/* Big user keys (heap seek key) and big values (heap block buffers). */
	lsm_sst_builder_new(&o, &b);
	{
		uint8_t		big[1000];
		lsm_sst_options o2 = o;
		uint64_t	seq;
		lsm_kind	kind;
		bool		good = true;

		memset(big, 'k', sizeof(big));
		for (int i = 0; i < 50; i++)
		{
			big[999] = (uint8_t) i;
			k.len = 0;
			lsm_ikey_append(&k, lsm_slice_make(big, 1000), 7, LSM_KIND_VALUE);
			v.len = 0;
			for (int j = 0; j < 3000 * (i % 7); j++)
			{
				uint8_t		c = (uint8_t) (tap_rand() >> 3);

				lsm_buf_append(&v, &c, 1);
			}
			lsm_buf_append(&v, &i, sizeof(i));
			lsm_sst_builder_add(b, lsm_buf_slice(&k), lsm_buf_slice(&v));
		}
		memset(&m, 0, sizeof(m));
		lsm_sst_builder_finish(b, &s, &m);
		m.first_page = pager->ops->npages(pager);
		m.npages = lsm_stream_pages(pager, s.len);
		lsm_pager_write_stream(pager, m.first_page, s);
		is_int(lsm_sst_open(pager, &m, &o2, &t), LSM_OK, "run of 1000-byte keys and 18 KB values opens");
		for (int i = 0; i < 50; i++)
		{
			big[999] = (uint8_t) i;
			if (lsm_sst_get(t, lsm_slice_make(big, 1000), 7, &seq, &kind, &v, NULL) != LSM_OK ||
				v.len != 3000 * (size_t) (i % 7) + sizeof(i) ||
				memcmp(v.data + v.len - sizeof(i), &i, sizeof(i)) != 0)
				good = false;
		}
		ok(good, "all 50 big entries found with the right values");
		big[999] = 200;
		is_int(lsm_sst_get(t, lsm_slice_make(big, 1000), 7, &seq, &kind, &v, NULL), LSM_NOT_FOUND,
			   "absent big key");
		is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "big run verifies");
		lsm_sst_close(t);
		lsm_run_meta_free(&m);
	}
	lsm_sst_builder_free(b);

	/* A bloom key prefix: keys sharing it are all "maybe". */
	d = make_dataset(small_scale ? 2000 : 10000);
	o.bloom_key_len = prefix5;
	build_run(&d, &o, &r);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "run with a bloom key prefix opens");
	{
		char		u[32];
		size_t		ul;
		size_t		yes = 0,
					far_no = 0;

		for (uint32_t i = 0; i < 100; i++)
		{
			ul = (size_t) sprintf(u, "user:%010u", 2 * i + 1);
			yes += lsm_sst_may_contain(t, lsm_slice_make(u, ul));
			ul = (size_t) sprintf(u, "user:%010u", 2 * (d.nkeys + 1000) + 200 * i);
			far_no += !lsm_sst_may_contain(t, lsm_slice_make(u, ul));
		}
		is_int(yes, 100, "absent keys sharing a present prefix pass the filter");
		ok(far_no >= 95, "keys with absent prefixes are rejected (%zu of 100)", far_no);
		is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "prefix-bloom run verifies");
	}
	lsm_sst_close(t);
	free_run(&r);
	free_dataset(&d);

	/* run_meta_copy */
	memset(&m, 0, sizeof(m));
	m.id = 42;
	m.level = 3;
	lsm_buf_set(&m.smallest, "aaaaaaaaa", 9);
	lsm_buf_set(&m.largest, "zzzzzzzzz", 9);
	{
		lsm_run_meta c;

		is_int(lsm_run_meta_copy(&c, &m), LSM_OK, "meta copy");
		ok(c.id == 42 && c.level == 3 && c.smallest.data != m.smallest.data &&
		   slice_eq(lsm_buf_slice(&c.largest), lsm_buf_slice(&m.largest)), "copy is deep and equal");
		lsm_run_meta_free(&c);
		ok(c.smallest.data == NULL && c.largest.len == 0, "free clears the keys");
	}
	lsm_run_meta_free(&m);
	lsm_buf_free(&k);
	lsm_buf_free(&v);
}

/*
 * Reads an opened run every way and classifies the outcome.  Returns true if
 * some read (gets, a scan forward, a scan backward, verify) reported
 * LSM_CORRUPT; *wrong counts answers that were neither right nor CORRUPT.
 */
static bool
read_everything(lsm_sst *t, const dataset *d, size_t *wrong)
{
	lsm_buf		val = {0},
				want = {0};
	bool		corrupt = false;
	size_t		iwrong;
	lsm_status	ist;
	char		msg[200];
	size_t		nseen;

	for (uint32_t key = 0; key < d->nkeys; key++)
	{
		int			r = check_get(t, d, 2 * key, LSM_MAX_SEQ, &val, &want, NULL);

		corrupt |= r == 2;
		*wrong += r == 1;
		r = check_get(t, d, 2 * key + 1, LSM_MAX_SEQ, &val, &want, NULL);
		corrupt |= r == 2;
		*wrong += r == 1;
	}
	nseen = check_iter(t, d, &iwrong, &ist);
	*wrong += iwrong;
	if (ist == LSM_CORRUPT)
		corrupt = true;
	else if (ist != LSM_OK || nseen != d->n)
		(*wrong)++;
	nseen = check_iter_dir(t, d, true, &iwrong, &ist);
	*wrong += iwrong;
	if (ist == LSM_CORRUPT)
		corrupt = true;
	else if (ist != LSM_OK || nseen != d->n)
		(*wrong)++;
	if (lsm_sst_verify(t, msg, sizeof(msg)) == LSM_CORRUPT)
		corrupt = true;
	lsm_buf_free(&val);
	lsm_buf_free(&want);
	return corrupt;
}

/*
 * Flips random bytes of the stream, one flip per fresh copy, written through
 * the pager (so the page checksums are good and only the run's own checks
 * can notice).  Every flip is inside some checksummed region, so every one
 * must be reported, and no read may ever return a wrong answer.
 */
static void
test_flips(bool compress)
{
	dataset		d = make_dataset(small_scale ? 300 : 1500);
	lsm_sst_options o;
	run			r;
	uint8_t    *copy;
	int			nflips = small_scale ? 60 : 500;
	const char *names[] = {"data", "bloom", "index", "footer"};
	size_t		detected[4] = {0},
				tried[4] = {0},
				wrong = 0;

	lsm_sst_options_default(&o);
	o.compress = compress;
	build_run(&d, &o, &r);
	copy = malloc(r.len);
	for (int f = 0; f < nflips; f++)
	{
		int			region = f % 4;
		uint64_t	lo[4] = {0, r.bloom_off, r.index_off, r.len - LSM_SST_FOOTER_SIZE};
		uint64_t	hi[4] = {r.bloom_off, r.index_off, r.len - LSM_SST_FOOTER_SIZE, r.len};
		size_t		pos = (size_t) (lo[region] + tap_rand() % (hi[region] - lo[region]));
		lsm_sst    *t;
		lsm_status	st;

		memcpy(copy, r.stream, r.len);
		copy[pos] ^= (uint8_t) (1 + tap_rand() % 255);
		rewrite(&r, copy);
		tried[region]++;
		st = lsm_sst_open(pager, &r.meta, &o, &t);
		if (st == LSM_CORRUPT)
			detected[region]++;
		else if (st != LSM_OK)
			wrong++;
		else
		{
			if (read_everything(t, &d, &wrong))
				detected[region]++;
			lsm_sst_close(t);
		}
	}
	for (int i = 0; i < 4; i++)
		is_int(detected[i], tried[i], "%s: all %zu byte flips in the %s region are reported CORRUPT",
			   compress ? "lz4" : "raw", tried[i], names[i]);
	is_int(wrong, 0, "%s: no read returned a wrong answer", compress ? "lz4" : "raw");
	rewrite(&r, r.stream);
	free(copy);
	free_run(&r);
	free_dataset(&d);
}

/*
 * Flips with the block checksum recomputed, so the structural checks of the
 * block decoder, lz4 and the index are all that stand between a reader and
 * garbage.  Values can change undetectably here, so only survival and clean
 * statuses are checked (ASan does the rest).
 */
static void
test_forged_flips(bool compress)
{
	dataset		d = make_dataset(small_scale ? 300 : 1500);
	lsm_sst_options o;
	run			r;
	uint8_t    *copy;
	int			nflips = small_scale ? 60 : 500;
	size_t		corrupt = 0;

	lsm_sst_options_default(&o);
	o.compress = compress;
	build_run(&d, &o, &r);
	copy = malloc(r.len);
	for (int f = 0; f < nflips; f++)
	{
		/* pick the first data block or the index block, and forge its checksum */
		bool		index = f % 3 == 2;
		uint64_t	off = index ? r.index_off : 0;
		uint64_t	size;
		lsm_sst    *t;
		lsm_status	st;

		memcpy(copy, r.stream, r.len);
		size = index ? r.len - LSM_SST_FOOTER_SIZE - 9 - r.index_off : 0;
		if (!index)
		{
			/* the first data block ends where the second begins; find its size
			 * from the first index entry's handle */
			const uint8_t *p = copy + r.index_off;
			uint64_t	shared = 0,
						unshared = 0,
						vlen = 0,
						hoff = 0;
			const uint8_t *end = copy + r.len;

			p = lsm_get_varint(p, end, &shared);
			p = lsm_get_varint(p, end, &unshared);
			p = lsm_get_varint(p, end, &vlen);
			p += unshared;
			p = lsm_get_varint(p, end, &hoff);
			lsm_get_varint(p, end, &size);
		}
		copy[off + tap_rand() % (size + 1)] ^= (uint8_t) (1 + tap_rand() % 255);
		lsm_put_u64(copy + off + size + 1, XXH3_64bits(copy + off, size + 1));
		rewrite(&r, copy);
		st = lsm_sst_open(pager, &r.meta, &o, &t);
		if (st == LSM_OK)
		{
			size_t		wrong = 0;

			corrupt += read_everything(t, &d, &wrong);
			lsm_sst_close(t);
		}
		else
			corrupt += st == LSM_CORRUPT;
	}
	ok(1, "%s: %d forged-checksum flips in data and index blocks read without a crash (%zu reported CORRUPT)",
	   compress ? "lz4" : "raw", nflips, corrupt);
	rewrite(&r, r.stream);
	free(copy);
	free_run(&r);
	free_dataset(&d);
}

static void
test_bad_meta_and_pages(void)
{
	dataset		d = make_dataset(small_scale ? 1000 : 5000);
	lsm_sst_options o;
	run			r;
	lsm_sst    *t;
	lsm_run_meta m;
	uint8_t    *copy;
	char		msg[200];
	uint8_t    *f;

	lsm_sst_options_default(&o);
	build_run(&d, &o, &r);
	copy = malloc(r.len);
	f = copy + r.len - LSM_SST_FOOTER_SIZE;

	lsm_run_meta_copy(&m, &r.meta);
	m.nbytes = r.len - 100;
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_CORRUPT, "truncated run (nbytes too small): CORRUPT");
	m.nbytes = 10;
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_CORRUPT, "run shorter than a footer: CORRUPT");
	m.nbytes = (uint64_t) m.npages * pager->payload_size + 1;
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_CORRUPT, "nbytes beyond the extent: CORRUPT");
	m.nbytes = r.len;
	m.nentries++;
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_CORRUPT, "entry count differs from the footer: CORRUPT");
	m.nentries--;
	m.first_page++;
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_CORRUPT, "wrong first page: CORRUPT");
	m.first_page--;
	lsm_buf_set(&m.largest, "zz", 2);
	lsm_ikey_append(&m.largest, lsm_slice_make("zz", 2), 1, LSM_KIND_VALUE);
	is_int(lsm_sst_open(pager, &m, &o, &t), LSM_OK, "meta with a wrong largest key opens");
	is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_CORRUPT, "and verify reports it: %s", msg);
	lsm_sst_close(t);
	lsm_run_meta_free(&m);

	/* Magic and version checked even when the footer checksum is right. */
	memcpy(copy, r.stream, r.len);
	f[0] ^= 1;
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
	rewrite(&r, copy);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_CORRUPT, "wrong magic: CORRUPT");
	memcpy(copy, r.stream, r.len);
	lsm_put_u32(f + 8, 2);
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
	rewrite(&r, copy);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_CORRUPT, "unknown version: CORRUPT");
	/* handles pointing outside their place */
	memcpy(copy, r.stream, r.len);
	lsm_put_u64(f + 16, lsm_get_u64(f + 16) + 1);
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
	rewrite(&r, copy);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_CORRUPT, "index handle off by one: CORRUPT");
	memcpy(copy, r.stream, r.len);
	lsm_put_u64(f + 40, UINT64_MAX - 3);
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
	rewrite(&r, copy);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_CORRUPT, "huge bloom size: CORRUPT");
	memcpy(copy, r.stream, r.len);
	lsm_put_u32(f + 12, lsm_get_u32(f + 12) + 1);
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
	rewrite(&r, copy);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "wrong block count passes open");
	is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_CORRUPT, "verify catches it: %s", msg);
	lsm_sst_close(t);
	rewrite(&r, r.stream);
	free(copy);

	/* File page checksum mismatches, found by the pager on a fresh open. */
	{
		lsm_pageno	first = r.meta.first_page;
		lsm_pageno	last = first + r.meta.npages - 1;
		int			fd;
		uint8_t		b;

		lsm_file_pager_close(fp);
		fd = open(path, O_RDWR);
		/* a byte in the first page's payload (a data block) */
		if (pread(fd, &b, 1, (off_t) first * LSM_PAGE_SIZE + 100) == 1)
		{
			b ^= 0x20;
			if (pwrite(fd, &b, 1, (off_t) first * LSM_PAGE_SIZE + 100) != 1)
				diag("pwrite failed");
		}
		close(fd);
		lsm_file_pager_open(path, &fp);
		pager = lsm_file_pager_base(fp);
		is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "run with a bad data page opens");
		is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_CORRUPT, "verify reports the bad page: %s", msg);
		{
			lsm_iter   *it = lsm_sst_iter_new(t);

			lsm_iter_seek_first(it);
			ok(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_CORRUPT, "iterator over it: CORRUPT");
			lsm_iter_destroy(it);
		}
		{
			lsm_buf		v = {0},
						w = {0};

			is_int(check_get(t, &d, 0, LSM_MAX_SEQ, &v, &w, NULL), 2, "get in that page: CORRUPT");
			lsm_buf_free(&v);
			lsm_buf_free(&w);
		}
		lsm_sst_close(t);

		lsm_file_pager_close(fp);
		fd = open(path, O_RDWR);
		if (pread(fd, &b, 1, (off_t) last * LSM_PAGE_SIZE + 20) == 1)
		{
			b ^= 0x01;
			if (pwrite(fd, &b, 1, (off_t) last * LSM_PAGE_SIZE + 20) != 1)
				diag("pwrite failed");
		}
		close(fd);
		lsm_file_pager_open(path, &fp);
		pager = lsm_file_pager_base(fp);
		is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_CORRUPT, "bad page under the footer: open CORRUPT");
	}
	rewrite(&r, r.stream);
	is_int(lsm_sst_open(pager, &r.meta, &o, &t), LSM_OK, "rewritten run opens again");
	is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "and verifies");
	lsm_sst_close(t);
	free_run(&r);
	free_dataset(&d);
}

/* ------------------------------------------------------ listing problems */

/* The problems a run check reported. */
typedef struct problems
{
	lsm_sst_problem p[64];
	int			n;
} problems;

static void
collect_problem(void *arg, const lsm_sst_problem *p)
{
	problems   *ps = (problems *) arg;

	if (ps->n < (int) (sizeof(ps->p) / sizeof(ps->p[0])))
		ps->p[ps->n] = *p;
	ps->n++;
}

/* Checks the run as it is on the pager now; the steps are counted too. */
static problems
check_run_now(const run *r)
{
	problems	ps = {0};
	lsm_sst_check *c;
	int			steps = 0;

	if (lsm_sst_check_new(pager, &r->meta, &r->opts, collect_problem, &ps, &c) != LSM_OK)
	{
		ps.n = -1;
		return ps;
	}
	while (lsm_sst_check_step(c) && steps < 1000000)
		steps++;
	if (lsm_sst_check_problems(c) != ps.n)
		ps.n = -2;
	lsm_sst_check_free(c);
	return ps;
}

/* The index of the problem of part at data block block, or -1. */
static int
find_problem(const problems *ps, lsm_sst_part part, int64_t block, const char *text)
{
	for (int i = 0; i < ps->n && i < 64; i++)
		if (ps->p[i].part == part && ps->p[i].block == block &&
			(text == NULL || strstr(ps->p[i].msg, text) != NULL))
			return i;
	return -1;
}

/* Where data block i lies, from the run's index block (restart interval 1). */
static void
data_block_at(const run *r, const uint8_t *stream, uint32_t i, uint64_t *off, uint64_t *size)
{
	uint64_t	index_len = r->len - LSM_SST_FOOTER_SIZE - 9 - r->index_off;
	const uint8_t *idx = stream + r->index_off;
	uint32_t	nrestarts = lsm_get_u32(idx + index_len - 4);
	const uint8_t *p = idx + lsm_get_u32(idx + index_len - 4 - 4 * nrestarts + 4 * i);
	const uint8_t *end = idx + index_len;
	uint64_t	shared = 0,
				unshared = 0,
				vlen = 0;

	p = lsm_get_varint(p, end, &shared);
	p = lsm_get_varint(p, end, &unshared);
	p = lsm_get_varint(p, end, &vlen);
	p += unshared;
	p = lsm_get_varint(p, end, off);
	lsm_get_varint(p, end, size);
}

/* Recomputes the frame checksum of the block [off, off + size + 9). */
static void
reframe(uint8_t *stream, uint64_t off, uint64_t size)
{
	lsm_put_u64(stream + off + size + 1, XXH3_64bits(stream + off, size + 1));
}

/*
 * Makes entry 1 of raw data block i (built with restart interval 1, so every
 * key is whole) sort before entry 0 by lowering its first byte, with the
 * block's checksum recomputed: a key-order break and nothing else.  The
 * block must have three entries, so that the broken one is not its last.
 */
static bool
break_order(const run *r, uint8_t *stream, uint32_t i)
{
	uint64_t	off,
				size,
				unshared = 0,
				vlen = 0,
				shared = 0;
	uint8_t    *b;
	uint32_t	n;
	const uint8_t *p;

	data_block_at(r, stream, i, &off, &size);
	b = stream + off;
	n = lsm_get_u32(b + size - 4);
	if (n < 3 || b[size] != 0)
		return false;
	p = b + lsm_get_u32(b + size - 4 - 4 * n + 4);
	p = lsm_get_varint(p, b + size, &shared);
	p = lsm_get_varint(p, b + size, &unshared);
	p = lsm_get_varint(p, b + size, &vlen);
	if (shared != 0 || unshared < 1)
		return false;
	((uint8_t *) p)[0] = 'a';	/* "user:..." becomes "aser:...": before "user:" */
	reframe(stream, off, size);
	return true;
}

/* Whether the problem names pages that hold stream offset pos. */
static bool
names_offset(const run *r, const lsm_sst_problem *p, uint64_t pos)
{
	lsm_pageno	page = r->meta.first_page + (lsm_pageno) (pos / pager->payload_size);

	return p->first_page <= page && page <= p->last_page;
}

/* Entries between the manifest's split keys are reported. */
static void
test_check_split(void)
{
	dataset		d = make_dataset(1000);
	lsm_sst_options o;
	run			r;
	problems	ps;
	lsm_slice	lo,
				hi;

	lsm_sst_options_default(&o);
	build_run(&d, &o, &r);
	ok(!lsm_run_meta_has_split(&r.meta), "one family of keys: no split");
	ps = check_run_now(&r);
	is_int(ps.n, 0, "the run checks clean");
	lo = lsm_ikey_user_key(lsm_buf_slice(&r.meta.smallest));
	hi = lsm_ikey_user_key(lsm_buf_slice(&r.meta.largest));
	lsm_buf_set(&r.meta.split_lo, lo.data, lo.len);
	lsm_buf_set(&r.meta.split_hi, hi.data, hi.len);
	ps = check_run_now(&r);
	/*
	 * The first entry between them is in block 0, or later when the first
	 * key's versions fill block 0 (values are now and then larger than a
	 * block).
	 */
	ok(ps.n == LSM_SST_CHECK_ENTRY_PROBLEMS + 1 && ps.n > 0 &&
	   ps.p[0].part == LSM_SST_PART_ENTRY &&
	   strstr(ps.p[0].msg, "between the manifest's split keys") != NULL,
	   "split keys that say nothing lies between its first and last key: %d problems", ps.n);
	free_run(&r);
	free_dataset(&d);
}

/*
 * The check lists every problem of a run: two data blocks with bad
 * checksums and two key-order breaks (one run); a bad bloom filter and a bad
 * data block (another); a bad index or footer ends the check with one
 * problem; entry problems past the limit are counted, not listed; index
 * garbage (handles past the run's end) is reported without a crash.
 */
static void
test_check_lists_every_problem(void)
{
	dataset		d = make_dataset(small_scale ? 2000 : 6000);
	lsm_sst_options o;
	run			r,
				r2;
	uint8_t    *copy;
	problems	ps;
	uint64_t	off1,
				size1,
				off3,
				size3,
				off,
				size;
	uint32_t	nblocks;
	int			i,
				orders;

	lsm_sst_options_default(&o);
	o.compress = false;
	o.restart_interval = 1;
	o.bloom_bits_per_key = 0;
	build_run(&d, &o, &r);
	nblocks = lsm_get_u32(r.stream + r.len - LSM_SST_FOOTER_SIZE + 12);
	ok(nblocks >= 40, "the run has %u data blocks", nblocks);
	copy = malloc(r.len);

	ps = check_run_now(&r);
	is_int(ps.n, 0, "an intact run has no problem");

	/* Two bad checksums, two order breaks: four problems, in block order. */
	memcpy(copy, r.stream, r.len);
	data_block_at(&r, copy, 1, &off1, &size1);
	data_block_at(&r, copy, 3, &off3, &size3);
	copy[off1 + size1 / 2] ^= 0x40;
	copy[off3 + 1] ^= 0x40;
	for (i = 5, orders = 0; orders < 2 && i < (int) nblocks; i++)
		if (break_order(&r, copy, (uint32_t) i))
			orders++;
	rewrite(&r, copy);
	ps = check_run_now(&r);
	is_int(ps.n, 4, "two bad data blocks and two order breaks: four problems");
	i = find_problem(&ps, LSM_SST_PART_BLOCK, 1, "bad checksum");
	ok(i >= 0 && names_offset(&r, &ps.p[i], off1 + size1 / 2),
	   "data block 1's checksum, naming its pages: %s", i >= 0 ? ps.p[i].msg : "");
	i = find_problem(&ps, LSM_SST_PART_BLOCK, 3, "bad checksum");
	ok(i >= 0 && names_offset(&r, &ps.p[i], off3 + 1),
	   "data block 3's checksum, naming its pages: %s", i >= 0 ? ps.p[i].msg : "");
	orders = 0;
	for (int k = 0; k < ps.n && k < 64; k++)
		orders += ps.p[k].part == LSM_SST_PART_ENTRY && strstr(ps.p[k].msg, "entry 1 is out of order") != NULL;
	is_int(orders, 2, "both key-order breaks, each in its block");

	/* Every data block broken in order: ten listed, the rest counted. */
	memcpy(copy, r.stream, r.len);
	orders = 0;
	for (uint32_t b = 0; b < nblocks; b++)
		orders += break_order(&r, copy, b);
	rewrite(&r, copy);
	ps = check_run_now(&r);
	is_int(ps.n, LSM_SST_CHECK_ENTRY_PROBLEMS + 1,
		   "%d order breaks: %d listed and one that counts the rest", orders,
		   LSM_SST_CHECK_ENTRY_PROBLEMS);
	if (ps.n == LSM_SST_CHECK_ENTRY_PROBLEMS + 1)
	{
		char		want[64];

		snprintf(want, sizeof(want), "%d more problems of entries not listed",
				 orders - LSM_SST_CHECK_ENTRY_PROBLEMS);
		ok(strstr(ps.p[LSM_SST_CHECK_ENTRY_PROBLEMS].msg, want) != NULL,
		   "the last says so: %s", ps.p[LSM_SST_CHECK_ENTRY_PROBLEMS].msg);
	}
	else
		ok(0, "the last says how many more");

	/* A bad index block: one problem, nothing else can be found. */
	memcpy(copy, r.stream, r.len);
	copy[r.index_off + 2] ^= 1;
	rewrite(&r, copy);
	ps = check_run_now(&r);
	ok(ps.n == 1 && ps.p[0].part == LSM_SST_PART_INDEX &&
	   names_offset(&r, &ps.p[0], r.index_off + 2),
	   "a bad index block: one problem, naming its pages: %s", ps.n > 0 ? ps.p[0].msg : "");
	/* A bad footer, the same. */
	memcpy(copy, r.stream, r.len);
	copy[r.len - 3] ^= 1;
	rewrite(&r, copy);
	ps = check_run_now(&r);
	ok(ps.n == 1 && ps.p[0].part == LSM_SST_PART_FOOTER,
	   "a bad footer: one problem: %s", ps.n > 0 ? ps.p[0].msg : "");

	/* An index entry whose handle points elsewhere: reported, the check goes on. */
	memcpy(copy, r.stream, r.len);
	{
		uint64_t	index_len = r.len - LSM_SST_FOOTER_SIZE - 9 - r.index_off;
		uint8_t    *idx = copy + r.index_off;
		uint32_t	nr = lsm_get_u32(idx + index_len - 4);
		uint8_t    *p = idx + lsm_get_u32(idx + index_len - 4 - 4 * nr + 4 * 2);
		uint64_t	unshared = 0,
					vlen = 0,
					shared = 0;

		p = (uint8_t *) lsm_get_varint(p, idx + index_len, &shared);
		p = (uint8_t *) lsm_get_varint(p, idx + index_len, &unshared);
		p = (uint8_t *) lsm_get_varint(p, idx + index_len, &vlen);
		p += unshared;
		/* the offset varint's low bits all set: a wrong offset */
		p[0] |= 0x7f;
		reframe(copy, r.index_off, index_len);
	}
	rewrite(&r, copy);
	ps = check_run_now(&r);
	ok(ps.n >= 1 && find_problem(&ps, LSM_SST_PART_INDEX, 2, NULL) >= 0,
	   "an index handle pointing elsewhere is reported at index entry 2 (%d problems): %s",
	   ps.n, ps.n > 0 ? ps.p[0].msg : "");
	ok(find_problem(&ps, LSM_SST_PART_BLOCK, 3, NULL) < 0 &&
	   find_problem(&ps, LSM_SST_PART_ENTRY, 3, NULL) < 0,
	   "and the blocks after it are still checked, cleanly");

	/* Index garbage with a good checksum: no crash, no endless loop. */
	{
		uint64_t	index_len = r.len - LSM_SST_FOOTER_SIZE - 9 - r.index_off;
		int			n = small_scale ? 30 : 200;
		int			reported = 0;

		for (int f = 0; f < n; f++)
		{
			memcpy(copy, r.stream, r.len);
			for (int k = 0; k < 1 + f % 8; k++)
				copy[r.index_off + tap_rand() % index_len] = (uint8_t) tap_rand();
			reframe(copy, r.index_off, index_len);
			rewrite(&r, copy);
			ps = check_run_now(&r);
			reported += ps.n > 0;
			if (ps.n < 0)
				break;
		}
		ok(1, "%d runs with forged index garbage checked without a crash (%d with problems)",
		   n, reported);
	}
	rewrite(&r, r.stream);

	/* Another run, with a bloom filter: a bad filter and a bad data block. */
	lsm_sst_options_default(&o);
	build_run(&d, &o, &r2);
	free(copy);
	copy = malloc(r2.len);
	memcpy(copy, r2.stream, r2.len);
	copy[r2.bloom_off + 3] ^= 0x10;
	data_block_at(&r2, copy, 2, &off, &size);
	(void) size;
	copy[off + 4] ^= 0x10;
	rewrite(&r2, copy);
	ps = check_run_now(&r2);
	is_int(ps.n, 2, "second run, bad bloom filter and bad data block 2: two problems");
	ok(find_problem(&ps, LSM_SST_PART_BLOOM, -1, "bloom filter") >= 0,
	   "the bloom filter is one");
	i = find_problem(&ps, LSM_SST_PART_BLOCK, 2, NULL);
	ok(i >= 0 && names_offset(&r2, &ps.p[i], off + 4), "data block 2 the other: %s",
	   i >= 0 ? ps.p[i].msg : "");
	rewrite(&r2, r2.stream);
	ps = check_run_now(&r2);
	is_int(ps.n, 0, "rewritten, it has no problem");

	free(copy);
	free_run(&r);
	free_run(&r2);
	free_dataset(&d);
}

/*
 * Concurrent readers of one open run: gets and iterators from several
 * threads at once must all see the right data.  The file pager itself is
 * single-user, so every page is mapped and verified first (verify does
 * that); after that its get path only reads.
 */
typedef struct reader_arg
{
	lsm_sst    *t;
	const dataset *d;
	uint64_t	seed;
	size_t		wrong;
} reader_arg;

static void *
reader_main(void *p)
{
	reader_arg *a = p;
	lsm_buf		val = {0},
				want = {0};
	uint64_t	x = a->seed;
	size_t		iwrong;
	lsm_status	ist;
	int			rounds = small_scale ? 2000 : 30000;

	for (int i = 0; i < rounds; i++)
	{
		uint32_t	key;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		key = (uint32_t) (x % (2 * a->d->nkeys + 2));
		a->wrong += check_get(a->t, a->d, key, x % 1000001, &val, &want, NULL) != 0;
		if (i % 5000 == 0 && check_iter(a->t, a->d, &iwrong, &ist) != a->d->n)
			a->wrong++;
	}
	lsm_buf_free(&val);
	lsm_buf_free(&want);
	return NULL;
}

static void
test_concurrent_readers(void)
{
	dataset		d = make_dataset(small_scale ? 2000 : 50000);
	lsm_sst_options o;
	run			r;
	lsm_sst    *t;
	pthread_t	th[4];
	reader_arg	args[4];
	size_t		wrong = 0;
	char		msg[200];

	lsm_sst_options_default(&o);
	build_run(&d, &o, &r);
	lsm_sst_open(pager, &r.meta, &o, &t);
	is_int(lsm_sst_verify(t, msg, sizeof(msg)), LSM_OK, "run for concurrent readers verifies");
	for (int i = 0; i < 4; i++)
	{
		args[i] = (reader_arg) {t, &d, 0x1234567ULL * (uint64_t) (i + 1), 0};
		pthread_create(&th[i], NULL, reader_main, &args[i]);
	}
	for (int i = 0; i < 4; i++)
	{
		pthread_join(th[i], NULL);
		wrong += args[i].wrong;
	}
	is_int(wrong, 0, "4 threads of concurrent gets and scans on one run all see the right data");
	lsm_sst_close(t);
	free_run(&r);
	free_dataset(&d);
}

/* ------------------------------------------------------- level iterator */

typedef struct level_slot
{
	lsm_sst    *sst;
	const run  *r;
} level_slot;

/* Tables the level iterator holds now, and the most it held at once. */
static int	level_held = 0;
static int	level_held_max = 0;

static lsm_sst *
level_sst(const void *arg, int i)
{
	if (++level_held > level_held_max)
		level_held_max = level_held;
	return ((const level_slot *) arg)[i].sst;
}

static void
level_release(const void *arg, int i)
{
	(void) arg;
	(void) i;
	level_held--;
}

static lsm_slice
level_largest(const void *arg, int i)
{
	return lsm_buf_slice(&((const level_slot *) arg)[i].r->meta.largest);
}

/*
 * Entries of the dataset's keys [k0, k1) as their own dataset (shares e),
 * so that cut at key boundaries the runs of a level are disjoint.
 */
static dataset
dataset_slice(const dataset *d, uint32_t k0, uint32_t k1)
{
	dataset		s = *d;

	s.e = d->e + d->first[k0];
	s.n = d->first[k1] - d->first[k0];
	return s;
}

/* Index of the first entry of d whose internal key is >= target. */
static size_t
ref_lower_bound(const dataset *d, lsm_slice target, lsm_buf *k)
{
	size_t		lo = 0,
				hi = d->n;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		make_ikey(k, d->e[mid].k, d->e[mid].seq, d->e[mid].kind);
		if (lsm_ikey_compare(lsm_buf_slice(k), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A level of three disjoint runs read through lsm_level_iter: a full scan
 * gives every entry in order, and seeks to existing keys, to keys between
 * runs and past the end land where a seek in the whole dataset would.
 */
static void
test_level_iter(void)
{
	dataset		d = make_dataset(6000);
	uint32_t	cut[4] = {0, d.nkeys / 3, 2 * d.nkeys / 3, d.nkeys};
	run			r[3];
	level_slot	slots[3];
	lsm_sst_options o;
	lsm_level_runs lr;
	lsm_iter   *it;
	lsm_buf		k = {0},
				t = {0};
	size_t		n = 0,
				wrong = 0;
	int			opened = 0;

	lsm_sst_options_default(&o);
	for (int i = 0; i < 3; i++)
	{
		dataset		part = dataset_slice(&d, cut[i], cut[i + 1]);

		is_int(build_run(&part, &o, &r[i]), LSM_OK, "level run %d builds", i);
		slots[i].r = &r[i];
		opened += lsm_sst_open(pager, &r[i].meta, &o, &slots[i].sst) == LSM_OK;
	}
	is_int(opened, 3, "level runs open");
	lr = (lsm_level_runs)
	{
		3, slots, level_sst, level_largest, level_release
	};
	it = lsm_level_iter_new(&lr);

	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++)
	{
		if (n >= d.n)
			break;
		make_ikey(&k, d.e[n].k, d.e[n].seq, d.e[n].kind);
		wrong += lsm_slice_compare(lsm_iter_key(it), lsm_buf_slice(&k)) != 0;
	}
	is_int(n, d.n, "level scan sees every entry of its three runs");
	is_int(wrong, 0, "level scan is in key order");
	is_int(lsm_iter_status(it), LSM_OK, "level scan ends cleanly");
	check_both_ways(it, &d, 3000, "level of three runs");

	wrong = 0;
	for (int i = 0; i < 3000; i++)
	{
		uint32_t	key = (uint32_t) (tap_rand() % (d.nkeys + 2));
		uint64_t	seq = tap_rand() % 1000001;
		char		u[32];
		size_t		ul = (size_t) sprintf(u, "user:%010u", 2 * key + (i % 3 == 0));
		size_t		want;

		t.len = 0;
		lsm_ikey_append(&t, lsm_slice_make(u, ul), seq, LSM_KIND_VALUE);
		want = ref_lower_bound(&d, lsm_buf_slice(&t), &k);
		lsm_iter_seek(it, lsm_buf_slice(&t));
		if (want == d.n)
			wrong += lsm_iter_valid(it) || lsm_iter_status(it) != LSM_OK;
		else
		{
			make_ikey(&k, d.e[want].k, d.e[want].seq, d.e[want].kind);
			wrong += !lsm_iter_valid(it) ||
				lsm_slice_compare(lsm_iter_key(it), lsm_buf_slice(&k)) != 0;
		}
	}
	is_int(wrong, 0, "3000 seeks (on keys, between keys, between runs, past the end) agree with the dataset");
	is_int(level_held_max, 1, "the level iterator holds one run's table at a time");

	lsm_iter_destroy(it);
	is_int(level_held, 0, "and gives back every table it was handed");
	for (int i = 0; i < 3; i++)
	{
		lsm_sst_close(slots[i].sst);
		free_run(&r[i]);
	}
	lsm_buf_free(&k);
	lsm_buf_free(&t);
	free_dataset(&d);
}

int
main(void)
{
	int			tmp = mkstemp(path);
	size_t		sizes[] = {1, 2, 50, 3000, 200000};

	tap_rng = 0x853c49e6748fea9bULL;	/* this test's own sequence */
	small_scale = getenv("LSM_TEST_SCALE") != NULL;
	if (small_scale)
		sizes[4] = 20000;
	close(tmp);
	if (lsm_file_pager_open(path, &fp) != LSM_OK)
	{
		ok(0, "open file pager at %s", path);
		return done_testing();
	}
	pager = lsm_file_pager_base(fp);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
	{
		test_run(sizes[i], false, 10);
		test_run(sizes[i], true, 10);
	}
	test_run(3000, true, 0);
	test_compression_saves();
	test_options_and_edges();
	test_flips(false);
	test_flips(true);
	test_forged_flips(false);
	test_forged_flips(true);
	test_bad_meta_and_pages();
	test_check_lists_every_problem();
	test_check_split();
	test_concurrent_readers();
	test_level_iter();

	lsm_file_pager_close(fp);
	unlink(path);
	return done_testing();
}
