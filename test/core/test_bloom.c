/*
 * test_bloom.c - the blocked bloom filter: no false negatives, the measured
 * false-positive rate, the serialised layout and rejection of corrupt
 * filters.
 */
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "coding.h"
#include "tap.h"

static int	nkeys;

static uint64_t
present_hash(int i)
{
	char		k[32];
	int			len = snprintf(k, sizeof(k), "user-key-%09d", i);

	return lsm_bloom_hash(lsm_slice_make(k, (size_t) len));
}

static uint64_t
absent_hash(int i)
{
	char		k[32];
	int			len = snprintf(k, sizeof(k), "absent-%09d", i);

	return lsm_bloom_hash(lsm_slice_make(k, (size_t) len));
}

/* Builds a filter over nkeys present keys into out. */
static lsm_status
build(int bits_per_key, int n, lsm_buf *out)
{
	lsm_bloom_builder b;
	lsm_status	st = LSM_OK;

	lsm_bloom_builder_init(&b, bits_per_key);
	for (int i = 0; i < n && st == LSM_OK; i++)
		st = lsm_bloom_builder_add_hash(&b, present_hash(i));
	if (st == LSM_OK)
		st = lsm_bloom_builder_finish(&b, out);
	lsm_bloom_builder_free(&b);
	return st;
}

static double
fp_rate(const lsm_bloom *f, int n)
{
	long		fp = 0;

	for (int i = 0; i < n; i++)
		fp += lsm_bloom_may_contain_hash(f, absent_hash(i));
	return (double) fp / n;
}

static void
test_main_filter(void)
{
	lsm_buf		out = {0};
	lsm_bloom	f;
	long		fn = 0;
	double		fp;
	uint32_t	want_lines = (uint32_t) (((uint64_t) nkeys * 10 + 511) / 512);
	uint8_t    *shifted;

	is_int(build(10, nkeys, &out), LSM_OK, "built a filter over %d keys", nkeys);
	is_int(out.len, (size_t) want_lines * 64 + 5,
		   "length is ceil(n*10/512) lines of 64 bytes + 5");
	is_int(lsm_bloom_open(&f, lsm_buf_slice(&out)), LSM_OK, "filter opens");
	is_int(f.nlines, want_lines, "line count from the tail");
	is_int(lsm_get_u32(out.data + out.len - 5), want_lines, "tail: nlines u32 LE");
	is_int(f.nprobes, 6, "10 bits/key uses 6 probes");

	for (int i = 0; i < nkeys; i++)
		fn += !lsm_bloom_may_contain_hash(&f, present_hash(i));
	is_int(fn, 0, "no false negatives on %d keys", nkeys);

	fp = fp_rate(&f, nkeys);
	diag("false-positive rate at 10 bits/key over %d absent keys: %.3f%%",
		 nkeys, fp * 100);
	ok(fp <= 0.012, "false-positive rate %.3f%% <= 1.2%%", fp * 100);
	ok(fp >= 0.005, "false-positive rate is plausible (>= 0.5%%)");

	/* the reader must not assume the filter is aligned */
	shifted = malloc(out.len + 1);
	memcpy(shifted + 1, out.data, out.len);
	fn = 0;
	if (lsm_bloom_open(&f, lsm_slice_make(shifted + 1, out.len)) == LSM_OK)
		for (int i = 0; i < nkeys; i += 3)
			fn += !lsm_bloom_may_contain_hash(&f, present_hash(i));
	else
		fn = -1;
	is_int(fn, 0, "an unaligned copy opens and finds every key");
	free(shifted);
	lsm_buf_free(&out);
}

static void
test_other_sizes(void)
{
	int			n = nkeys / 10;
	lsm_buf		out = {0};
	lsm_bloom	f;
	double		fp5;
	double		fp20;
	long		fn = 0;

	build(5, n, &out);
	lsm_bloom_open(&f, lsm_buf_slice(&out));
	is_int(f.nprobes, 3, "5 bits/key uses 3 probes");
	fp5 = fp_rate(&f, n);
	lsm_buf_free(&out);

	build(20, n, &out);
	lsm_bloom_open(&f, lsm_buf_slice(&out));
	is_int(f.nprobes, 13, "20 bits/key uses 13 probes");
	for (int i = 0; i < n; i++)
		fn += !lsm_bloom_may_contain_hash(&f, present_hash(i));
	fp20 = fp_rate(&f, n);
	lsm_buf_free(&out);
	diag("false-positive rate over %d keys: 5 bits/key %.3f%%, 20 bits/key %.4f%%",
		 n, fp5 * 100, fp20 * 100);
	is_int(fn, 0, "no false negatives at 20 bits/key");
	ok(fp5 < 0.12, "5 bits/key: fp under 12%%");
	ok(fp20 < 0.002, "20 bits/key: fp under 0.2%%");
	ok(fp20 < fp5, "more bits per key, fewer false positives");

	/* extremes of bits_per_key clamp the probe count to 1..30 */
	build(0, 100, &out);
	ok(lsm_bloom_open(&f, lsm_buf_slice(&out)) == LSM_OK && f.nprobes == 1,
	   "bits_per_key 0 clamps to 1 probe");
	lsm_buf_free(&out);
	build(100, 100, &out);
	ok(lsm_bloom_open(&f, lsm_buf_slice(&out)) == LSM_OK && f.nprobes == 30,
	   "bits_per_key 100 clamps to 30 probes");
	fn = 0;
	for (int i = 0; i < 100; i++)
		fn += !lsm_bloom_may_contain_hash(&f, present_hash(i));
	is_int(fn, 0, "30 probes: no false negatives");
	lsm_buf_free(&out);
}

static void
test_empty_and_append(void)
{
	lsm_buf		out = {0};
	lsm_bloom	f;
	long		hits = 0;

	is_int(build(10, 0, &out), LSM_OK, "a filter over no keys");
	is_int(out.len, 64 + 5, "has one line");
	is_int(lsm_bloom_open(&f, lsm_buf_slice(&out)), LSM_OK, "and opens");
	for (int i = 0; i < 1000; i++)
		hits += lsm_bloom_may_contain_hash(&f, absent_hash(i));
	is_int(hits, 0, "and contains nothing");
	lsm_buf_free(&out);

	/* finish appends after what is already in the buffer */
	lsm_buf_append(&out, "prefix", 6);
	build(10, 1000, &out);
	is_int(out.len, 6 + 20 * 64 + 5, "finish appends: 1000 keys -> 20 lines");
	ok(memcmp(out.data, "prefix", 6) == 0, "existing bytes kept");
	is_int(lsm_bloom_open(&f, lsm_slice_make(out.data + 6, out.len - 6)), LSM_OK,
		   "appended filter opens");
	hits = 0;
	for (int i = 0; i < 1000; i++)
		hits += lsm_bloom_may_contain_hash(&f, present_hash(i));
	is_int(hits, 1000, "appended filter finds all 1000 keys");
	lsm_buf_free(&out);

	ok(lsm_bloom_hash(lsm_slice_make("abc", 3)) == lsm_bloom_hash(lsm_slice_make("abc", 3)) &&
	   lsm_bloom_hash(lsm_slice_make("abc", 3)) != lsm_bloom_hash(lsm_slice_make("abd", 3)),
	   "hash is deterministic and key-sensitive");
	ok(lsm_bloom_hash(lsm_slice_make(NULL, 0)) == lsm_bloom_hash(lsm_slice_make("x", 0)),
	   "empty key hashes without touching memory");
}

static void
test_corrupt(void)
{
	lsm_buf		out = {0};
	lsm_bloom	f;
	uint8_t    *d;
	size_t		len;
	int			accepted = 0;

	build(10, 1000, &out);
	d = out.data;
	len = out.len;
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_OK, "intact filter opens");

	is_int(lsm_bloom_open(&f, lsm_slice_make(NULL, 0)), LSM_CORRUPT, "NULL rejected");
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, 4)), LSM_CORRUPT, "4 bytes rejected");
	is_int(lsm_bloom_open(&f, lsm_slice_make(d + len - 5, 5)), LSM_CORRUPT,
		   "a tail alone (no lines) rejected");
	is_int(lsm_bloom_open(&f, lsm_slice_make(d + 1, len - 1)), LSM_CORRUPT,
		   "one byte short rejected");
	for (size_t cut = 1; cut < len; cut += 7)
		accepted += lsm_bloom_open(&f, lsm_slice_make(d + cut, len - cut)) != LSM_CORRUPT;
	is_int(accepted, 0, "every truncation from the front rejected");

	d[len - 1] = 0;
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT, "0 probes rejected");
	d[len - 1] = 31;
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT, "31 probes rejected");
	d[len - 1] = 255;
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT, "255 probes rejected");
	d[len - 1] = 30;
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_OK, "30 probes accepted");
	d[len - 1] = 6;

	lsm_put_u32(d + len - 5, 0);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT, "0 lines rejected");
	lsm_put_u32(d + len - 5, 21);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT,
		   "line count larger than the data rejected");
	lsm_put_u32(d + len - 5, 19);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT,
		   "line count smaller than the data rejected");
	/* 2^26 + 20 lines: 64 * nlines wraps to 20 * 64 in 32-bit arithmetic */
	lsm_put_u32(d + len - 5, (UINT32_C(1) << 26) + 20);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT,
		   "line count that wraps 32-bit arithmetic rejected");
	lsm_put_u32(d + len - 5, UINT32_MAX);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_CORRUPT,
		   "line count UINT32_MAX rejected");
	lsm_put_u32(d + len - 5, 20);
	is_int(lsm_bloom_open(&f, lsm_slice_make(d, len)), LSM_OK, "restored filter opens");
	lsm_buf_free(&out);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");

	nkeys = scale && strcmp(scale, "small") == 0 ? 100000 : 1000000;
	test_main_filter();
	test_other_sizes();
	test_empty_and_append();
	test_corrupt();
	return done_testing();
}
