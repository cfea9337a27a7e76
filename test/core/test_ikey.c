/*
 * test_ikey.c - internal key ordering and parsing, and the coding.h
 * fixed-width and varint codecs they are built on.
 */
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "ikey.h"
#include "tap.h"

/* An internal key in a small static-sized holder, for building test cases. */
typedef struct tkey
{
	uint8_t		buf[64];
	size_t		len;
} tkey;

static tkey
mk(const char *uk, size_t uklen, uint64_t seq, lsm_kind kind)
{
	tkey		k;

	lsm_ikey_write(k.buf, lsm_slice_make(uk, uklen), seq, kind);
	k.len = uklen + LSM_IKEY_TRAILER;
	return k;
}

static int
cmp(const tkey *a, const tkey *b)
{
	return lsm_ikey_compare(lsm_slice_make(a->buf, a->len),
							lsm_slice_make(b->buf, b->len));
}

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

static void
test_ordering(void)
{
	tkey		a = mk("abc", 3, 5, LSM_KIND_VALUE);
	tkey		b = mk("abd", 3, 5, LSM_KIND_VALUE);
	tkey		ab = mk("ab", 2, 5, LSM_KIND_VALUE);
	tkey		empty = mk("", 0, 5, LSM_KIND_VALUE);
	tkey		a_old = mk("abc", 3, 4, LSM_KIND_VALUE);
	tkey		a_new = mk("abc", 3, 6, LSM_KIND_VALUE);
	tkey		a_tomb = mk("abc", 3, 5, LSM_KIND_TOMBSTONE);
	tkey		a_lock = mk("abc", 3, 5, LSM_KIND_LOCK);
	tkey		a_max = mk("abc", 3, LSM_MAX_SEQ, LSM_KIND_MAX);
	tkey		a_zero = mk("abc", 3, 0, LSM_KIND_TOMBSTONE);
	tkey		hi = mk("\xff", 1, 0, LSM_KIND_TOMBSTONE);
	tkey		lo = mk("\x00", 1, LSM_MAX_SEQ, LSM_KIND_MAX);
	tkey		nul2 = mk("\x00\x00", 2, 0, LSM_KIND_VALUE);

	ok(cmp(&a, &b) < 0, "user keys compare ascending");
	ok(cmp(&b, &a) > 0, "comparison is antisymmetric");
	is_int(cmp(&a, &a), 0, "equal keys compare equal");
	ok(cmp(&ab, &a) < 0, "a prefix sorts before the longer key");
	ok(cmp(&a, &ab) > 0, "the longer key sorts after its prefix");
	ok(cmp(&empty, &ab) < 0, "the empty user key sorts first");
	ok(cmp(&a_new, &a) < 0, "higher seq sorts first");
	ok(cmp(&a_old, &a) > 0, "lower seq sorts later");
	ok(cmp(&a, &a_tomb) < 0, "same seq: VALUE sorts before TOMBSTONE");
	ok(cmp(&a_lock, &a) < 0, "same seq: LOCK sorts before VALUE");
	ok(cmp(&a_max, &a_new) < 0, "(max seq, KIND_MAX) is the first key of a user key");
	ok(cmp(&a_zero, &a_tomb) > 0, "(0, TOMBSTONE) is the last key of a user key");
	ok(cmp(&a_zero, &b) < 0, "the user key dominates the trailer");
	ok(cmp(&ab, &a_max) < 0, "the prefix dominates the trailer");
	ok(cmp(&lo, &hi) < 0, "bytes compare unsigned");
	ok(cmp(&lo, &nul2) < 0, "\\x00 sorts before \\x00\\x00 despite trailers");
	ok(lsm_pack_trailer(LSM_MAX_SEQ, LSM_KIND_MAX) ==
	   (((UINT64_C(1) << 56) - 1) << 8 | 3), "trailer packing");
}

/* qsort callback over tkeys. */
static int
qcmp(const void *a, const void *b)
{
	return cmp(a, b);
}

/* A reference order: user key via slice compare, then seq desc, kind desc. */
static int
ref_cmp(const tkey *a, const tkey *b, const uint64_t *sa, const uint64_t *sb)
{
	int			c = lsm_slice_compare(lsm_slice_make(a->buf, a->len - 8),
									  lsm_slice_make(b->buf, b->len - 8));

	if (c)
		return c;
	if (*sa != *sb)
		return *sa > *sb ? -1 : 1;
	return 0;
}

static void
test_random_order(void)
{
	enum
	{
		N = 2000
	};
	static tkey keys[N];
	static uint64_t trailers[N];
	int			bad = 0;
	int			bad_trans = 0;

	srand(42);
	for (int i = 0; i < N; i++)
	{
		char		uk[6];
		size_t		len = (size_t) (rand() % 6);

		for (size_t j = 0; j < len; j++)
			uk[j] = "ab\x00\xff"[rand() % 4];
		keys[i] = mk(uk, len, (uint64_t) (rand() % 4), (lsm_kind) (rand() % 4));
	}
	for (int i = 0; i < N; i++)
		trailers[i] = lsm_ikey_trailer(lsm_slice_make(keys[i].buf, keys[i].len));
	for (int i = 0; i < N; i++)
		for (int j = 0; j < 50; j++)
		{
			int			k = (i * 31 + j * 17) % N;

			if (sign(cmp(&keys[i], &keys[k])) !=
				sign(ref_cmp(&keys[i], &keys[k], &trailers[i], &trailers[k])))
				bad++;
		}
	is_int(bad, 0, "compare agrees with the reference order on random keys");

	qsort(keys, N, sizeof(tkey), qcmp);
	for (int i = 1; i < N; i++)
		if (cmp(&keys[i - 1], &keys[i]) > 0)
			bad_trans++;
	is_int(bad_trans, 0, "qsort with lsm_ikey_compare yields a consistent order");
}

static void
test_parse(void)
{
	tkey		k = mk("hello", 5, 123456789, LSM_KIND_LOCK);
	tkey		e = mk("", 0, LSM_MAX_SEQ, LSM_KIND_TOMBSTONE);
	lsm_ikey	p;
	uint8_t		bad[12];
	lsm_buf		b = {0};

	ok(lsm_ikey_parse(lsm_slice_make(k.buf, k.len), &p), "parse a key");
	ok(p.user_key.len == 5 && memcmp(p.user_key.data, "hello", 5) == 0,
	   "parsed user key");
	ok(p.seq == 123456789, "parsed seq");
	is_int(p.kind, LSM_KIND_LOCK, "parsed kind");

	ok(lsm_ikey_parse(lsm_slice_make(e.buf, e.len), &p), "parse an empty user key");
	ok(p.user_key.len == 0 && p.seq == LSM_MAX_SEQ && p.kind == LSM_KIND_TOMBSTONE,
	   "empty user key, max seq, tombstone");

	ok(!lsm_ikey_parse(lsm_slice_make(k.buf, 7), &p), "7-byte key rejected");
	ok(!lsm_ikey_parse(lsm_slice_make(k.buf, 0), &p), "empty key rejected");
	ok(!lsm_ikey_parse(lsm_slice_make(NULL, 0), &p), "NULL key rejected");

	memcpy(bad, "abcd", 4);
	lsm_put_u64(bad + 4, lsm_pack_trailer(1, (lsm_kind) 4));
	ok(!lsm_ikey_parse(lsm_slice_make(bad, 12), &p), "unknown kind 4 rejected");
	lsm_put_u64(bad + 4, (UINT64_C(7) << 8) | 0xff);
	ok(!lsm_ikey_parse(lsm_slice_make(bad, 12), &p), "unknown kind 255 rejected");

	ok(lsm_ikey_append(&b, lsm_slice_make("xy", 2), 9, LSM_KIND_VALUE) == LSM_OK &&
	   lsm_ikey_append(&b, lsm_slice_make("z", 1), 10, LSM_KIND_TOMBSTONE) == LSM_OK,
	   "append two keys");
	is_int(b.len, 2 + 8 + 1 + 8, "append does not reset the buffer");
	ok(lsm_ikey_parse(lsm_slice_make(b.data + 10, 9), &p) &&
	   p.seq == 10 && p.kind == LSM_KIND_TOMBSTONE &&
	   p.user_key.len == 1 && p.user_key.data[0] == 'z',
	   "second appended key parses");
	ok(lsm_ikey_parse(lsm_slice_make(b.data, 10), &p) && p.seq == 9 &&
	   memcmp(p.user_key.data, "xy", 2) == 0, "first appended key parses");
	lsm_buf_free(&b);
}

static void
test_coding(void)
{
	static const uint64_t vals[] = {
		0, 1, 127, 128, 255, 256, 16383, 16384, 2097151, 2097152,
		UINT32_MAX, (uint64_t) UINT32_MAX + 1, UINT64_C(1) << 56,
		UINT64_MAX - 1, UINT64_MAX
	};
	int			nvals = (int) (sizeof(vals) / sizeof(vals[0]));
	int			rt_bad = 0;
	int			trunc_bad = 0;
	int			len_bad = 0;
	uint8_t		buf[16];
	uint64_t	v;
	lsm_buf		b = {0};
	lsm_slice	s;
	const uint8_t *p;

	for (int i = 0; i < nvals; i++)
	{
		uint8_t    *end = lsm_put_varint(buf, vals[i]);
		int			n = (int) (end - buf);

		if (n != lsm_varint_len(vals[i]))
			len_bad++;
		if (lsm_get_varint(buf, end, &v) != end || v != vals[i])
			rt_bad++;
		for (int cut = 0; cut < n; cut++)
			if (lsm_get_varint(buf, buf + cut, &v) != NULL)
				trunc_bad++;
	}
	is_int(rt_bad, 0, "varint round trips at boundaries");
	is_int(len_bad, 0, "lsm_varint_len matches the encoded length");
	is_int(trunc_bad, 0, "every truncated varint is rejected");
	is_int(lsm_varint_len(UINT64_MAX), 10, "UINT64_MAX takes 10 bytes");

	memset(buf, 0x80, sizeof(buf));
	ok(lsm_get_varint(buf, buf + 16, &v) == NULL,
	   "a varint of more than 10 bytes is rejected");

	lsm_put_u16(buf, 0xbeef);
	is_int(lsm_get_u16(buf), 0xbeef, "u16 round trip");
	ok(buf[0] == 0xef && buf[1] == 0xbe, "u16 is little-endian");
	lsm_put_u32(buf, 0xdeadbeefu);
	ok(lsm_get_u32(buf) == 0xdeadbeefu, "u32 round trip");
	ok(buf[0] == 0xef && buf[3] == 0xde, "u32 is little-endian");
	lsm_put_u64(buf, UINT64_C(0x0123456789abcdef));
	ok(lsm_get_u64(buf) == UINT64_C(0x0123456789abcdef), "u64 round trip");
	ok(buf[0] == 0xef && buf[7] == 0x01, "u64 is little-endian");

	ok(lsm_buf_put_slice(&b, lsm_slice_make("hello", 5)) == LSM_OK &&
	   lsm_buf_put_varint(&b, 300) == LSM_OK, "buf_put_slice + put_varint");
	p = lsm_get_slice(b.data, b.data + b.len, &s);
	ok(p != NULL && s.len == 5 && memcmp(s.data, "hello", 5) == 0,
	   "get_slice reads it back");
	ok(p && lsm_get_varint(p, b.data + b.len, &v) == b.data + b.len && v == 300,
	   "varint after the slice");
	for (size_t cut = 0; cut < 6; cut++)
		if (lsm_get_slice(b.data, b.data + cut, &s) != NULL)
			trunc_bad++;
	is_int(trunc_bad, 0, "every truncated slice is rejected");
	/* a length prefix claiming more bytes than exist */
	buf[0] = 0xff;
	buf[1] = 0xff;
	buf[2] = 0x03;
	ok(lsm_get_slice(buf, buf + 8, &s) == NULL, "oversized slice length rejected");
	lsm_buf_free(&b);
}

int
main(void)
{
	test_ordering();
	test_random_order();
	test_parse();
	test_coding();
	return done_testing();
}
