/*
 * test_block.c - data block builder and reader: round trips, seeks against a
 * reference binary search, and corrupt or truncated blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "coding.h"
#include "ikey.h"
#include "tap.h"
#include "iter_check.h"


typedef struct entry
{
	lsm_buf		key;			/* internal key */
	lsm_buf		val;
} entry;

static int
entry_cmp(const void *a, const void *b)
{
	return lsm_ikey_compare(lsm_buf_slice(&((const entry *) a)->key),
							lsm_buf_slice(&((const entry *) b)->key));
}

/* A random user key with long shared prefixes: "tenant/NN/item/NNNN..." */
static void
random_user_key(char *out, size_t cap)
{
	int			n = snprintf(out, cap, "tenant/%02d/item/%04d",
							 (int) (tap_rand() % 7), (int) (tap_rand() % 300));

	if (tap_rand() % 3 == 0)
		snprintf(out + n, cap - (size_t) n, "/%x", (unsigned) (tap_rand() % 4096));
}

static void
make_ikey(lsm_buf *b, const char *user, uint64_t seq, lsm_kind kind)
{
	b->len = 0;
	lsm_ikey_append(b, lsm_slice_make(user, strlen(user)), seq, kind);
}

/* Sorted, duplicate-free entries. */
static entry *
make_entries(size_t want, size_t *nout)
{
	entry	   *e = calloc(want, sizeof(entry));
	size_t		n = 0;
	char		user[64];

	for (size_t i = 0; i < want; i++)
	{
		char		v[48];
		int			vl;

		random_user_key(user, sizeof(user));
		make_ikey(&e[i].key, user, tap_rand() % 1000, (lsm_kind) (tap_rand() % 4));
		vl = snprintf(v, sizeof(v), "value-%zu-%.*s", i, (int) (tap_rand() % 20),
					  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		lsm_buf_set(&e[i].val, v, (size_t) vl);
	}
	qsort(e, want, sizeof(entry), entry_cmp);
	for (size_t i = 0; i < want; i++)
	{
		if (n > 0 && entry_cmp(&e[n - 1], &e[i]) == 0)
		{
			lsm_buf_free(&e[i].key);
			lsm_buf_free(&e[i].val);
			continue;
		}
		e[n++] = e[i];
	}
	*nout = n;
	return e;
}

static void
free_entries(entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		lsm_buf_free(&e[i].key);
		lsm_buf_free(&e[i].val);
	}
	free(e);
}

static bool
slice_eq(lsm_slice a, lsm_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Index of the first entry >= target, or n. */
static size_t
ref_lower_bound(entry *e, size_t n, lsm_slice target)
{
	size_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (lsm_ikey_compare(lsm_buf_slice(&e[mid].key), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t last_estimate;

static lsm_slice
build_block(lsm_block_builder *b, entry *e, size_t n, int interval)
{
	lsm_slice	out = {0};

	lsm_block_builder_init(b, interval);
	for (size_t i = 0; i < n; i++)
		if (lsm_block_builder_add(b, lsm_buf_slice(&e[i].key),
								  lsm_buf_slice(&e[i].val)) != LSM_OK)
			return out;
	last_estimate = lsm_block_builder_size(b);
	lsm_block_builder_finish(b, &out);
	return out;
}

static void
test_round_trip(entry *e, size_t n, int interval)
{
	lsm_block_builder b;
	lsm_slice	data = build_block(&b, e, n, interval);
	lsm_block	blk;
	lsm_block_cursor c;
	size_t		i = 0;
	bool		same = true;
	size_t		seek_bad = 0,
				rand_bad = 0;
	size_t		raw = 0;

	for (size_t k = 0; k < n; k++)
		raw += e[k].key.len + e[k].val.len;
	is_int(lsm_block_open(&blk, data), LSM_OK, "interval %d: block of %zu entries opens", interval, n);
	is_int(blk.nrestarts, (n + interval - 1) / interval, "interval %d: restart count", interval);
	ok(data.len == last_estimate, "interval %d: size estimate before finish is exact", interval);
	if (interval == 16)
		ok(data.len < raw, "prefix compression shrinks %zu bytes to %zu", raw, data.len);

	lsm_block_cursor_init(&c, &blk);
	for (lsm_block_cursor_seek_first(&c); c.valid; lsm_block_cursor_next(&c), i++)
		if (i >= n || !slice_eq(lsm_buf_slice(&c.key), lsm_buf_slice(&e[i].key)) ||
			!slice_eq(c.value, lsm_buf_slice(&e[i].val)))
			same = false;
	ok(same && i == n && c.status == LSM_OK, "interval %d: iteration returns all %zu entries in order", interval, n);

	/* Seek to every key exactly. */
	for (i = 0; i < n; i++)
	{
		lsm_block_cursor_seek(&c, lsm_buf_slice(&e[i].key));
		if (!c.valid || !slice_eq(lsm_buf_slice(&c.key), lsm_buf_slice(&e[i].key)) ||
			!slice_eq(c.value, lsm_buf_slice(&e[i].val)))
			seek_bad++;
	}
	is_int(seek_bad, 0, "interval %d: seek to each of %zu keys lands on it", interval, n);

	/* Seek to random targets, most of them between keys. */
	for (i = 0; i < 5000; i++)
	{
		char		user[64];
		lsm_buf		t = {0};
		size_t		want;

		if (i % 4 == 0)
			snprintf(user, sizeof(user), "%c", (char) ('a' + tap_rand() % 26));
		else
			random_user_key(user, sizeof(user));
		make_ikey(&t, user, tap_rand() % 1100, (lsm_kind) (tap_rand() % 4));
		want = ref_lower_bound(e, n, lsm_buf_slice(&t));
		lsm_block_cursor_seek(&c, lsm_buf_slice(&t));
		if (want == n ? c.valid || c.status != LSM_OK :
			!c.valid || !slice_eq(lsm_buf_slice(&c.key), lsm_buf_slice(&e[want].key)))
			rand_bad++;
		lsm_buf_free(&t);
	}
	is_int(rand_bad, 0, "interval %d: 5000 random seeks match a reference lower bound", interval);

	lsm_block_cursor_free(&c);
	lsm_block_builder_free(&b);
}

static void
test_iter_wrapper(entry *e, size_t n)
{
	lsm_block_builder b;
	lsm_slice	data = build_block(&b, e, n, 16);
	uint8_t    *copy = malloc(data.len);
	lsm_iter   *it;
	size_t		i = 0;
	bool		same = true;

	memcpy(copy, data.data, data.len);
	lsm_block_builder_free(&b);
	/* The iterator owns the copy and frees it on destroy. */
	it = lsm_block_iter_new(lsm_slice_make(copy, data.len), copy);
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++)
		if (i >= n || !slice_eq(lsm_iter_key(it), lsm_buf_slice(&e[i].key)))
			same = false;
	ok(same && i == n && lsm_iter_status(it) == LSM_OK, "lsm_iter over a block yields all %zu entries", n);
	lsm_iter_seek(it, lsm_buf_slice(&e[n / 2].key));
	ok(lsm_iter_valid(it) && slice_eq(lsm_iter_value(it), lsm_buf_slice(&e[n / 2].val)),
	   "lsm_iter seek finds the middle entry");
	lsm_iter_seek(it, lsm_buf_slice(&e[n - 1].key));
	lsm_iter_next(it);
	ok(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK, "lsm_iter runs off the end cleanly");
	lsm_iter_destroy(it);
}

static void
test_empty_block(void)
{
	lsm_block_builder b;
	lsm_slice	data;
	lsm_block	blk;
	lsm_block_cursor c;
	lsm_buf		t = {0};

	lsm_block_builder_init(&b, 16);
	ok(lsm_block_builder_empty(&b), "new builder is empty");
	lsm_block_builder_finish(&b, &data);
	is_int(data.len, 4, "empty block is just a restart count");
	is_int(lsm_block_open(&blk, data), LSM_OK, "empty block opens");
	lsm_block_cursor_init(&c, &blk);
	lsm_block_cursor_seek_first(&c);
	ok(!c.valid && c.status == LSM_OK, "empty block: seek_first invalid, status ok");
	make_ikey(&t, "k", 1, LSM_KIND_VALUE);
	lsm_block_cursor_seek(&c, lsm_buf_slice(&t));
	ok(!c.valid && c.status == LSM_OK, "empty block: seek invalid, status ok");
	lsm_buf_free(&t);
	lsm_block_cursor_free(&c);

	/* reset lets the builder be reused */
	lsm_block_builder_reset(&b);
	make_ikey(&t, "k", 1, LSM_KIND_VALUE);
	lsm_block_builder_add(&b, lsm_buf_slice(&t), lsm_slice_make("v", 1));
	lsm_block_builder_finish(&b, &data);
	is_int(lsm_block_open(&blk, data), LSM_OK, "reused builder makes a valid block");
	is_int(blk.nrestarts, 1, "one entry, one restart");
	lsm_buf_free(&t);
	lsm_block_builder_free(&b);
}

/*
 * Walks a possibly corrupt block every way a reader can: a full scan and
 * seeks.  Returns false if a cursor claimed corruption; ASan catches reads
 * out of bounds, which is what these tests are about.
 */
static bool
exercise(const uint8_t *p, size_t len, entry *e, size_t n, size_t *nseen)
{
	lsm_block	blk;
	lsm_block_cursor c;
	bool		clean = true;

	*nseen = 0;
	if (lsm_block_open(&blk, lsm_slice_make(p, len)) != LSM_OK)
		return false;
	lsm_block_cursor_init(&c, &blk);
	for (lsm_block_cursor_seek_first(&c); c.valid; lsm_block_cursor_next(&c))
		(*nseen)++;
	if (c.status != LSM_OK)
		clean = false;
	/* backward too, with a bound in case a bug made it loop */
	{
		size_t		back = 0;

		for (lsm_block_cursor_seek_last(&c); c.valid && back <= *nseen;
			 lsm_block_cursor_prev(&c))
			back++;
		if (c.status != LSM_OK || c.valid)
			clean = false;
	}
	for (size_t i = 0; i < n; i += 7)
	{
		lsm_block_cursor_seek(&c, lsm_buf_slice(&e[i].key));
		if (c.status != LSM_OK)
			clean = false;
		else if (c.valid)
		{
			lsm_block_cursor_prev(&c);
			if (c.status != LSM_OK)
				clean = false;
		}
	}
	lsm_block_cursor_free(&c);
	return clean;
}

static void
test_corruption(entry *e, size_t n)
{
	lsm_block_builder b;
	lsm_slice	data = build_block(&b, e, n, 4);
	size_t		len = data.len;
	uint32_t	nr = lsm_get_u32(data.data + len - 4);
	size_t		rstart = len - 4 - 4 * (size_t) nr;
	uint8_t    *buf;
	lsm_block	blk;
	size_t		seen;
	size_t		trunc_open = 0,
				trunc_rejected = 0,
				flips_detected = 0;
	int			flips = getenv("LSM_TEST_SCALE") ? 300 : 3000;

	/* A restart count larger than the block can hold. */
	buf = malloc(len);
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + len - 4, (uint32_t) (len / 4));
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "restart count too large");
	lsm_put_u32(buf + len - 4, UINT32_MAX);
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "restart count 2^32-1");

	/* Offsets out of range, not increasing, first not zero. */
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + rstart + 4, (uint32_t) rstart);
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "restart offset past the entries");
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + rstart + 8, lsm_get_u32(buf + rstart + 4));
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "restart offsets not increasing");
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + rstart, 1);
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "first restart not at 0");
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + len - 4, 0);
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_CORRUPT, "entries but no restarts");

	/* A restart pointing into the middle of an entry (still increasing). */
	memcpy(buf, data.data, len);
	lsm_put_u32(buf + rstart + 4, lsm_get_u32(buf + rstart + 4) - 3);
	is_int(lsm_block_open(&blk, lsm_slice_make(buf, len)), LSM_OK, "restart into an entry passes open");
	exercise(buf, len, e, n, &seen);
	ok(1, "and reading it does not crash");

	/* A restart whose entry claims a shared prefix: there is none to share. */
	memcpy(buf, data.data, len);
	buf[lsm_get_u32(buf + rstart + 4)] = 3;
	ok(!exercise(buf, len, e, n, &seen), "shared > 0 at a restart point is CORRUPT");

	/* A non-restart entry sharing more than the previous key's length. */
	memcpy(buf, data.data, len);
	{
		lsm_block_cursor c;

		lsm_block_open(&blk, lsm_slice_make(buf, len));
		lsm_block_cursor_init(&c, &blk);
		lsm_block_cursor_seek_first(&c);
		buf[c.next_off] = 120;	/* second entry: shared = 120 > first key length */
		lsm_block_cursor_next(&c);
		ok(!c.valid && c.status == LSM_CORRUPT, "shared > previous key length is CORRUPT");
		lsm_block_cursor_free(&c);
	}

	/* A value length running past the entries, in a one-entry block. */
	{
		lsm_block_builder one;
		lsm_slice	d;
		lsm_block_cursor c;
		uint8_t    *t;

		lsm_block_builder_init(&one, 16);
		lsm_block_builder_add(&one, lsm_buf_slice(&e[0].key), lsm_slice_make("vv", 2));
		lsm_block_builder_finish(&one, &d);
		t = malloc(d.len);
		memcpy(t, d.data, d.len);
		t[2] = 0x7f;			/* value length 127: far past the block */
		lsm_block_open(&blk, lsm_slice_make(t, d.len));
		lsm_block_cursor_init(&c, &blk);
		lsm_block_cursor_seek_first(&c);
		ok(!c.valid && c.status == LSM_CORRUPT, "value length past the block is CORRUPT");
		t[2] = 2;
		t[1] = 0x7f;			/* key length 127 */
		lsm_block_cursor_seek_first(&c);
		ok(!c.valid && c.status == LSM_CORRUPT, "key length past the block is CORRUPT");
		t[1] = 0x80;			/* a varint that never ends within the entry */
		t[2] = 0x80;
		lsm_block_cursor_seek_first(&c);
		ok(!c.valid && c.status == LSM_CORRUPT, "runaway varint is CORRUPT");
		t[1] = 3;				/* key shorter than an internal-key trailer */
		t[2] = 0;
		lsm_block_cursor_seek_first(&c);
		ok(!c.valid && c.status == LSM_CORRUPT, "3-byte key is CORRUPT");
		lsm_block_cursor_free(&c);
		free(t);
		lsm_block_builder_free(&one);
	}
	free(buf);

	/* Every truncation of the block, each in an exact-size allocation. */
	for (size_t l = 0; l < len; l++)
	{
		uint8_t    *t = malloc(l ? l : 1);

		memcpy(t, data.data, l);
		if (lsm_block_open(&blk, lsm_slice_make(t, l)) != LSM_OK)
			trunc_rejected++;
		else
		{
			trunc_open++;
			exercise(t, l, e, n, &seen);
		}
		free(t);
	}
	ok(trunc_rejected + trunc_open == len, "all %zu truncations handled (%zu rejected at open)",
	   len, trunc_rejected);
	ok(trunc_rejected > len * 9 / 10, "most truncations fail open's restart check");

	/*
	 * Entry areas cut short under a still-consistent restart array, so the
	 * entry decoder itself meets the truncation.
	 */
	{
		size_t		cut_corrupt = 0,
					cut_total = 0,
					cut_wrong = 0;
		bool	   *is_boundary = calloc(rstart + 1, sizeof(bool));
		lsm_block_cursor bc;

		lsm_block_open(&blk, data);
		lsm_block_cursor_init(&bc, &blk);
		for (lsm_block_cursor_seek_first(&bc); bc.valid; lsm_block_cursor_next(&bc))
			is_boundary[bc.next_off] = true;
		lsm_block_cursor_free(&bc);

		for (size_t l = 1; l < rstart; l++)
		{
			uint8_t    *t = malloc(l + 4 * (size_t) nr + 4);
			uint32_t	k = 0;
			bool		clean;

			memcpy(t, data.data, l);
			for (uint32_t r = 0; r < nr; r++)
			{
				uint32_t	off = lsm_get_u32(data.data + rstart + 4 * (size_t) r);

				if (off < l)
					lsm_put_u32(t + l + 4 * (size_t) k++, off);
			}
			lsm_put_u32(t + l + 4 * (size_t) k, k);
			cut_total++;
			clean = exercise(t, l + 4 * (size_t) k + 4, e, n, &seen);
			cut_corrupt += !clean;
			/* a cut at an entry boundary is a valid, shorter block */
			if (clean != is_boundary[l])
				cut_wrong++;
			free(t);
		}
		is_int(cut_wrong, 0, "%zu entry-area truncations: all %zu cut mid-entry are CORRUPT, the rest read cleanly",
			   cut_total, cut_corrupt);
		free(is_boundary);
	}

	/* Random byte flips anywhere in the block. */
	for (int f = 0; f < flips; f++)
	{
		uint8_t    *t = malloc(len);
		size_t		pos = tap_rand() % len;

		memcpy(t, data.data, len);
		t[pos] ^= (uint8_t) (1 + tap_rand() % 255);
		if (!exercise(t, len, e, n, &seen) || seen != n)
			flips_detected++;
		free(t);
	}
	ok(1, "%d random byte flips: no crash (%zu noticed as corrupt or short)", flips, flips_detected);
	lsm_block_builder_free(&b);
}

static void
test_large_values(void)
{
	lsm_block_builder b;
	lsm_block	blk;
	lsm_block_cursor c;
	lsm_buf		k = {0};
	uint8_t    *big = malloc(100000);
	lsm_slice	data;

	memset(big, 'z', 100000);
	lsm_block_builder_init(&b, 16);
	make_ikey(&k, "a", 5, LSM_KIND_VALUE);
	lsm_block_builder_add(&b, lsm_buf_slice(&k), lsm_slice_make(big, 100000));
	make_ikey(&k, "a", 4, LSM_KIND_TOMBSTONE);
	lsm_block_builder_add(&b, lsm_buf_slice(&k), lsm_slice_make(NULL, 0));
	lsm_block_builder_finish(&b, &data);
	lsm_block_open(&blk, data);
	lsm_block_cursor_init(&c, &blk);
	lsm_block_cursor_seek(&c, lsm_buf_slice(&k));
	ok(c.valid && c.value.len == 0 && lsm_ikey_trailer(lsm_buf_slice(&c.key)) == lsm_pack_trailer(4, LSM_KIND_TOMBSTONE),
	   "seek to an empty-valued tombstone after a 100 KB value");
	lsm_block_cursor_seek_first(&c);
	ok(c.valid && c.value.len == 100000 && c.value.data[99999] == 'z', "100 KB value round trips");
	lsm_block_cursor_free(&c);
	lsm_block_builder_free(&b);
	lsm_buf_free(&k);
	free(big);
}

/* Backward, and both ways at random, for several restart intervals. */
static void
test_both_ways(entry *e, size_t n, int interval)
{
	lsm_block_builder b;
	lsm_slice	data = build_block(&b, e, n, interval);
	lsm_slice  *keys = malloc((n ? n : 1) * sizeof(lsm_slice));
	lsm_iter   *it = lsm_block_iter_new(data, NULL);
	char		what[64];

	for (size_t i = 0; i < n; i++)
		keys[i] = lsm_buf_slice(&e[i].key);
	snprintf(what, sizeof(what), "block of %zu, restart interval %d", n, interval);
	iter_check_both_ways(it, keys, n, 2000, what);
	lsm_iter_destroy(it);
	lsm_block_builder_free(&b);
	free(keys);
}

int
main(void)
{
	size_t		n;
	entry	   *e = make_entries(getenv("LSM_TEST_SCALE") ? 600 : 3000, &n);
	int			intervals[] = {1, 2, 16, 1000};

	diag("%zu distinct entries", n);
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++)
		test_round_trip(e, n, intervals[i]);
	test_iter_wrapper(e, n);
	for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++)
		test_both_ways(e, n, intervals[i]);
	test_both_ways(e, 1, 16);
	test_both_ways(e, 0, 16);
	test_empty_block();
	test_large_values();
	{
		size_t		small = n < 200 ? n : 200;

		test_corruption(e, small);
	}
	free_entries(e, n);
	return done_testing();
}
