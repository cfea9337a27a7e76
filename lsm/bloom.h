/*
 * bloom.h - a cache-local ("blocked") bloom filter: every probe for a key
 * falls within one 64-byte line, so a lookup costs one cache miss.
 *
 * Keys are hashed with XXH3-64.  Serialised form: the bit lines followed by a
 * 5-byte tail (number of lines, u32 LE; probes per key, u8).
 */
#ifndef LSM_BLOOM_H
#define LSM_BLOOM_H

#include "lsm_base.h"

#define LSM_BLOOM_LINE 64

uint64_t	lsm_bloom_hash(lsm_slice key);

/* Collects key hashes, then builds the filter. */
typedef struct lsm_bloom_builder
{
	uint64_t   *hashes;
	size_t		n;
	size_t		cap;
	int			bits_per_key;
} lsm_bloom_builder;

void		lsm_bloom_builder_init(lsm_bloom_builder *b, int bits_per_key);
lsm_status	lsm_bloom_builder_add_hash(lsm_bloom_builder *b, uint64_t h);
/* Appends the serialised filter to out. */
lsm_status	lsm_bloom_builder_finish(lsm_bloom_builder *b, lsm_buf *out);
void		lsm_bloom_builder_free(lsm_bloom_builder *b);

/* A read-only view of a serialised filter (no copy). */
typedef struct lsm_bloom
{
	const uint8_t *lines;
	uint32_t	nlines;
	int			nprobes;
} lsm_bloom;

/* LSM_CORRUPT if data is not a well-formed filter. */
lsm_status	lsm_bloom_open(lsm_bloom *f, lsm_slice data);

/* False means definitely absent. */
bool		lsm_bloom_may_contain_hash(const lsm_bloom *f, uint64_t h);

#endif							/* LSM_BLOOM_H */
