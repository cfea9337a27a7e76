/*
 * bloom.c - a cache-local bloom filter in the style of RocksDB's
 * FastLocalBloom.
 *
 * The upper 32 bits of a key's XXH3 hash pick one 512-bit line (fastrange:
 * a multiply and a shift instead of a modulo); the lower 32 bits, remixed by
 * a golden-ratio multiply before each probe, give the bit positions within
 * it.  Multiplying by an odd constant is a bijection on 32-bit values, so
 * successive probes stay well spread, and taking the top 9 bits uses the
 * best-mixed part of each product.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bloom.h"
#include "coding.h"

#define BLOOM_LINE_BITS		(LSM_BLOOM_LINE * 8)
#define BLOOM_TAIL			5
#define BLOOM_MAX_PROBES	30

uint64_t
lsm_bloom_hash(lsm_slice key)
{
	return XXH3_64bits(key.data, key.len);
}

static inline uint32_t
bloom_line(uint64_t h, uint32_t nlines)
{
	return (uint32_t) (((h >> 32) * (uint64_t) nlines) >> 32);
}

/*
 * Probes per key: bits_per_key * ln 2 minimises the false-positive rate of
 * a classic filter, rounded down here.  Confining a key's probes to one line
 * makes the crowded lines the main source of false positives, which pulls
 * the best probe count below the classic optimum as bits per key grow
 * (measured over 1M keys: 16 bits/key is best at 10 probes, not 11).  At
 * the default 10 bits/key, 6 and 7 probes both give about 0.97%, and 6 is
 * one probe cheaper; RocksDB's tuned table also picks 6.
 */
static int
bloom_probes(int bits_per_key)
{
	int64_t		k = (int64_t) bits_per_key * 693 / 1000;

	if (k < 1)
		k = 1;
	if (k > BLOOM_MAX_PROBES)
		k = BLOOM_MAX_PROBES;
	return (int) k;
}

void
lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key)
{
	b->hashes = NULL;
	b->n = 0;
	b->cap = 0;
	b->bits_per_key = bits_per_key < 1 ? 1 : bits_per_key;
}

lsm_status
lsm_bloom_builder_add_hash(lsm_bloom_builder *b, uint64_t h)
{
	if (b->n == b->cap)
	{
		size_t		cap = b->cap ? b->cap * 2 : 256;
		uint64_t   *p = realloc(b->hashes, cap * sizeof(uint64_t));

		if (p == NULL)
			return LSM_NO_MEMORY;
		b->hashes = p;
		b->cap = cap;
	}
	b->hashes[b->n++] = h;
	return LSM_OK;
}

static inline void
bloom_set(uint8_t *lines, uint32_t nlines, int nprobes, uint64_t h)
{
	uint8_t    *line = lines + (size_t) bloom_line(h, nlines) * LSM_BLOOM_LINE;
	uint32_t	p = (uint32_t) h;

	for (int i = 0; i < nprobes; i++)
	{
		uint32_t	bit = p >> 23;	/* top 9 bits: 0..511 */

		line[bit >> 3] |= (uint8_t) (1u << (bit & 7));
		p *= 0x9e3779b9u;
	}
}

lsm_status
lsm_bloom_builder_finish(lsm_bloom_builder *b, lsm_buf *out)
{
	uint64_t	bits = (uint64_t) b->n * (uint64_t) b->bits_per_key;
	uint64_t	nlines = (bits + BLOOM_LINE_BITS - 1) / BLOOM_LINE_BITS;
	int			nprobes = bloom_probes(b->bits_per_key);
	size_t		len;
	uint8_t    *lines;
	lsm_status	st;

	if (nlines == 0)
		nlines = 1;
	if (nlines > UINT32_MAX || nlines > (SIZE_MAX - BLOOM_TAIL) / LSM_BLOOM_LINE)
		return LSM_INVALID;
	len = (size_t) nlines * LSM_BLOOM_LINE;
	st = lsm_buf_reserve(out, len + BLOOM_TAIL);
	if (st != LSM_OK)
		return st;
	lines = out->data + out->len;
	memset(lines, 0, len);
	for (size_t i = 0; i < b->n; i++)
		bloom_set(lines, (uint32_t) nlines, nprobes, b->hashes[i]);
	lsm_put_u32(lines + len, (uint32_t) nlines);
	lines[len + 4] = (uint8_t) nprobes;
	out->len += len + BLOOM_TAIL;
	return LSM_OK;
}

void
lsm_bloom_builder_free(lsm_bloom_builder *b)
{
	free(b->hashes);
	b->hashes = NULL;
	b->n = b->cap = 0;
}

lsm_status
lsm_bloom_open(lsm_bloom *f, lsm_slice data)
{
	uint32_t	nlines;
	int			nprobes;

	if (data.data == NULL || data.len < BLOOM_TAIL)
		return LSM_CORRUPT;
	nlines = lsm_get_u32(data.data + data.len - BLOOM_TAIL);
	nprobes = data.data[data.len - 1];
	if (nlines == 0 || nprobes < 1 || nprobes > BLOOM_MAX_PROBES ||
		(uint64_t) data.len != (uint64_t) nlines * LSM_BLOOM_LINE + BLOOM_TAIL)
		return LSM_CORRUPT;
	f->lines = data.data;
	f->nlines = nlines;
	f->nprobes = nprobes;
	return LSM_OK;
}

bool
lsm_bloom_may_contain_hash(const lsm_bloom *f, uint64_t h)
{
	const uint8_t *line = f->lines + (size_t) bloom_line(h, f->nlines) * LSM_BLOOM_LINE;
	uint32_t	p = (uint32_t) h;

	for (int i = 0; i < f->nprobes; i++)
	{
		uint32_t	bit = p >> 23;

		if (!(line[bit >> 3] & (1u << (bit & 7))))
			return false;
		p *= 0x9e3779b9u;
	}
	return true;
}
