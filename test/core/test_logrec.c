/*
 * test_logrec.c - log record round trips, the end marker, and that every
 * single-byte corruption and every truncation is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "logrec.h"
#include "tap.h"

typedef struct sample
{
	uint64_t	seq;
	lsm_kind	kind;
	const char *key;
	size_t		value_len;
} sample;

static const sample samples[] = {
	{1, LSM_KIND_VALUE, "a", 5},
	{127, LSM_KIND_TOMBSTONE, "key-two", 0},
	{128, LSM_KIND_XMAX, "", 3},
	{LSM_MAX_SEQ, LSM_KIND_LOCK, "max-seq", 300},
	{UINT64_C(1) << 40, LSM_KIND_VALUE, "big", 70000},
};
#define NSAMPLES ((int) (sizeof(samples) / sizeof(samples[0])))

static void
fill_value(uint8_t *v, size_t n, int salt)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t) (i * 31 + salt);
}

static int
rec_equals(const lsm_logrec *r, const sample *s, const uint8_t *value)
{
	return r->seq == s->seq && r->kind == s->kind &&
		r->key.len == strlen(s->key) &&
		(r->key.len == 0 || memcmp(r->key.data, s->key, r->key.len) == 0) &&
		r->value.len == s->value_len &&
		(s->value_len == 0 || memcmp(r->value.data, value, s->value_len) == 0);
}

/* Encodes every sample into one page-like buffer followed by zeroes. */
static void
test_round_trip(void)
{
	lsm_buf		page = {0};
	uint8_t    *values[NSAMPLES];
	size_t		off = 0;
	int			good = 1;

	for (int i = 0; i < NSAMPLES; i++)
	{
		size_t		before = page.len;

		values[i] = malloc(samples[i].value_len + 1);
		fill_value(values[i], samples[i].value_len, i);
		ok(lsm_logrec_append(&page, samples[i].seq, samples[i].kind,
							 lsm_slice_make(samples[i].key, strlen(samples[i].key)),
							 lsm_slice_make(values[i], samples[i].value_len)) == LSM_OK,
		   "append sample %d", i);
		is_int(page.len - before,
			   lsm_logrec_size(strlen(samples[i].key), samples[i].value_len,
							   samples[i].seq),
			   "logrec_size matches the encoding of sample %d", i);
	}
	/* A zeroed tail, as on a fresh page. */
	lsm_buf_append(&page, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);

	for (int i = 0; i < NSAMPLES; i++)
	{
		lsm_logrec	r;
		size_t		used = 0;

		if (lsm_logrec_decode(page.data + off, page.len - off, &r, &used) != LSM_OK ||
			!rec_equals(&r, &samples[i], values[i]))
			good = 0;
		off += used;
	}
	ok(good, "every record decodes to what was appended");
	{
		lsm_logrec	r;
		size_t		used = 0;

		is_int(lsm_logrec_decode(page.data + off, page.len - off, &r, &used),
			   LSM_NOT_FOUND, "zero length word is the end marker");
		is_int(lsm_logrec_decode(page.data + off, 3, &r, &used),
			   LSM_NOT_FOUND, "fewer than 4 bytes left is the end");
		is_int(lsm_logrec_decode(page.data, 0, &r, &used),
			   LSM_NOT_FOUND, "nothing left is the end");
	}
	for (int i = 0; i < NSAMPLES; i++)
		free(values[i]);
	lsm_buf_free(&page);
}

static void
test_bad_arguments(void)
{
	lsm_buf		b = {0};

	is_int(lsm_logrec_append(&b, LSM_MAX_SEQ + 1, LSM_KIND_VALUE,
							 lsm_slice_make("k", 1), lsm_slice_make("v", 1)),
		   LSM_INVALID, "a sequence above LSM_MAX_SEQ is refused");
	is_int(lsm_logrec_append(&b, 1, (lsm_kind) 9,
							 lsm_slice_make("k", 1), lsm_slice_make("v", 1)),
		   LSM_INVALID, "an unknown kind is refused");
	is_int(b.len, 0, "refused appends write nothing");
	lsm_buf_free(&b);
}

/*
 * Flips every byte of a record, one at a time and to several values, and
 * decodes: a changed record must never decode as LSM_OK.  (A length word
 * changed to zero reads as the end marker, which is also a refusal.)
 */
static void
test_corruption(void)
{
	static const uint8_t deltas[] = {0x01, 0x80, 0xff, 0x55};
	lsm_buf		rec = {0};
	uint8_t		value[40];
	int			accepted = 0;
	int			tried = 0;
	int			bad_status = 0;

	fill_value(value, sizeof(value), 7);
	lsm_logrec_append(&rec, 123456, LSM_KIND_VALUE,
					  lsm_slice_make("corrupt-me", 10),
					  lsm_slice_make(value, sizeof(value)));
	/* Room after the record so a larger length is not merely truncation. */
	lsm_buf_append(&rec, value, sizeof(value));

	for (size_t pos = 0; pos < rec.len - sizeof(value); pos++)
	{
		for (size_t d = 0; d < sizeof(deltas); d++)
		{
			uint8_t    *copy = malloc(rec.len);
			lsm_logrec	r;
			size_t		used;
			lsm_status	st;

			memcpy(copy, rec.data, rec.len);
			copy[pos] ^= deltas[d];
			st = lsm_logrec_decode(copy, rec.len, &r, &used);
			tried++;
			if (st == LSM_OK)
				accepted++;
			else if (st != LSM_CORRUPT && st != LSM_NOT_FOUND)
				bad_status++;
			free(copy);
		}
	}
	is_int(accepted, 0, "none of %d single-byte corruptions decodes", tried);
	is_int(bad_status, 0, "corruptions report CORRUPT or end-of-records");
	lsm_buf_free(&rec);
}

static void
test_truncation(void)
{
	lsm_buf		rec = {0};
	int			accepted = 0;
	int			not_corrupt = 0;

	lsm_logrec_append(&rec, 99, LSM_KIND_TOMBSTONE,
					  lsm_slice_make("truncated", 9), lsm_slice_make("", 0));
	for (size_t n = 4; n < rec.len; n++)
	{
		/* A heap copy of exactly n bytes, so ASan sees any overread. */
		uint8_t    *copy = malloc(n);
		lsm_logrec	r;
		size_t		used;
		lsm_status	st;

		memcpy(copy, rec.data, n);
		st = lsm_logrec_decode(copy, n, &r, &used);
		if (st == LSM_OK)
			accepted++;
		if (st != LSM_CORRUPT)
			not_corrupt++;
		free(copy);
	}
	is_int(accepted, 0, "no truncated record decodes");
	is_int(not_corrupt, 0, "every truncation of 4+ bytes is CORRUPT");
	lsm_buf_free(&rec);
}

/* A valid checksum over a body that does not parse is still refused. */
static void
test_forged_body(void)
{
	uint8_t		buf[32];
	uint8_t		body[] = {0x05, 0x09, 0x00, 0x00};	/* kind 9 is unknown */
	lsm_logrec	r;
	size_t		used;

	lsm_put_u32(buf, sizeof(body));
	lsm_put_u32(buf + 4, (uint32_t) XXH3_64bits(body, sizeof(body)));
	memcpy(buf + 8, body, sizeof(body));
	is_int(lsm_logrec_decode(buf, 8 + sizeof(body), &r, &used), LSM_CORRUPT,
		   "checksummed body with an unknown kind is CORRUPT");

	body[1] = LSM_KIND_VALUE;
	body[2] = 0x05;				/* key length runs past the payload */
	lsm_put_u32(buf + 4, (uint32_t) XXH3_64bits(body, sizeof(body)));
	memcpy(buf + 8, body, sizeof(body));
	is_int(lsm_logrec_decode(buf, 8 + sizeof(body), &r, &used), LSM_CORRUPT,
		   "checksummed body with an overlong key is CORRUPT");

	body[2] = 0x00;
	body[3] = 0x00;
	lsm_put_u32(buf + 4, (uint32_t) XXH3_64bits(body, sizeof(body)));
	memcpy(buf + 8, body, sizeof(body));
	is_int(lsm_logrec_decode(buf, 8 + sizeof(body), &r, &used), LSM_OK,
		   "the same body with lengths fixed decodes");
	is_int(used, 8 + sizeof(body), "and consumes header plus payload");
}

int
main(void)
{
	test_round_trip();
	test_bad_arguments();
	test_corruption();
	test_truncation();
	test_forged_body();
	return done_testing();
}
