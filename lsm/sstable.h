/*
 * sstable.h - immutable sorted runs.
 *
 * A run is a byte stream laid over the payloads of a contiguous extent of
 * pages (see pager.h).  Stream layout:
 *
 *   data block 0 | ... | data block n-1 | bloom filter | index block | footer
 *
 * Every block (data, bloom, index) is framed as
 *   payload | compression byte (0 none, 1 lz4) | xxh3-64 of payload+byte (u64 LE)
 * and addressed by a handle (offset varint, payload size varint).  An lz4
 * payload starts with the uncompressed size as a varint.  The index block
 * maps the last internal key of each data block to its handle.  The footer
 * is LSM_SST_FOOTER_SIZE bytes at the end of the stream: magic, format
 * version, index and bloom handles, entry count, and its own xxh3.
 *
 * The bloom filter hashes each entry's bloom key: the user key, or the prefix
 * of it that opts->bloom_key_len selects (the table AM hashes the encoded
 * column value, not the row id that follows it).
 */
#ifndef LSM_SSTABLE_H
#define LSM_SSTABLE_H

#include "ikey.h"
#include "iter.h"
#include "pager.h"

#define LSM_SST_MAGIC UINT64_C(0x4c534d52554e3031)	/* "LSMRUN01" */
#define LSM_SST_FOOTER_SIZE 64

typedef struct lsm_sst_options
{
	size_t		block_size;		/* target uncompressed data block size (4096) */
	int			restart_interval;	/* 16 */
	int			bloom_bits_per_key; /* 10; 0 disables the filter */
	bool		compress;		/* lz4 data blocks when it saves >= 1/8 */
	/* Length of the prefix of a user key that the bloom filter hashes; NULL
	 * means the whole user key. */
	size_t		(*bloom_key_len) (lsm_slice user_key);
} lsm_sst_options;

void		lsm_sst_options_default(lsm_sst_options *o);

/* What the manifest records about a run. */
typedef struct lsm_run_meta
{
	uint64_t	id;
	uint32_t	level;
	lsm_pageno	first_page;
	uint32_t	npages;
	uint64_t	nbytes;			/* stream length */
	uint64_t	nentries;
	uint64_t	min_seq;
	uint64_t	max_seq;
	uint64_t	aux;			/* opaque to the core (table AM: oldest xid and */
	uint64_t	aux2;			/* multixact; xid whose end may free entries) */
	lsm_buf		smallest;		/* internal keys */
	lsm_buf		largest;

	/*
	 * User keys.  When the run's user keys begin with exactly two different
	 * first bytes ("families"), the last key of the first family and the
	 * first of the second: the run holds no key strictly between them.
	 * Empty otherwise.  A table AM that keeps two kinds of keys under two
	 * prefixes (lsm_am: row map and data) lets the picker see that a
	 * level-0 run spanning both does not cover the keys in between.
	 */
	lsm_buf		split_lo;
	lsm_buf		split_hi;
} lsm_run_meta;

/* Whether meta says its run holds no user key strictly inside (lo, hi). */
bool		lsm_run_meta_has_split(const lsm_run_meta *meta);

/*
 * Whether every user key from lo up to hi (hi itself only if hi_inclusive)
 * lies strictly between meta's split keys, so that its run holds none of
 * them: readers skip such a run without probing its bloom filter.
 */
bool		lsm_run_meta_gap_holds(const lsm_run_meta *meta, lsm_slice lo,
								   lsm_slice hi, bool hi_inclusive);

/*
 * Whether meta's run may hold user_key (inside its key range, not between
 * its split keys), and whether it may hold a user key k, start <= k < end.
 */
bool		lsm_run_meta_covers(const lsm_run_meta *meta, lsm_slice user_key);
bool		lsm_run_meta_meets(const lsm_run_meta *meta, lsm_slice start,
							   lsm_slice end);

lsm_status	lsm_run_meta_copy(lsm_run_meta *dst, const lsm_run_meta *src);
void		lsm_run_meta_free(lsm_run_meta *m);

/*
 * Builds a run in memory.  Add entries in strictly increasing internal-key
 * order, then finish: the result is the whole stream, which the caller places
 * on an extent of lsm_stream_pages() pages with lsm_pager_write_stream.
 */
typedef struct lsm_sst_builder lsm_sst_builder;

lsm_status	lsm_sst_builder_new(const lsm_sst_options *opts, lsm_sst_builder **out);
lsm_status	lsm_sst_builder_add(lsm_sst_builder *b, lsm_slice ikey, lsm_slice value);
/* Bytes of stream produced so far (for splitting compaction output). */
uint64_t	lsm_sst_builder_size(const lsm_sst_builder *b);
uint64_t	lsm_sst_builder_count(const lsm_sst_builder *b);
/*
 * Finishes the stream.  *stream stays valid until the builder is freed; meta
 * gets nbytes, nentries, min/max seq, smallest, largest and the split keys
 * filled in (the caller sets id, level, first_page, npages, aux).
 */
lsm_status	lsm_sst_builder_finish(lsm_sst_builder *b, lsm_slice *stream,
								   lsm_run_meta *meta);
void		lsm_sst_builder_free(lsm_sst_builder *b);

/*
 * An open run: footer checked, index block and bloom filter read into memory.
 * Safe for concurrent readers once opened (it is read-only).
 */
typedef struct lsm_sst lsm_sst;

lsm_status	lsm_sst_open(lsm_pager *pager, const lsm_run_meta *meta,
						 const lsm_sst_options *opts, lsm_sst **out);
void		lsm_sst_close(lsm_sst *t);

/* False if the bloom filter says user_key is absent. */
bool		lsm_sst_may_contain(const lsm_sst *t, lsm_slice user_key);
/* Whether the run has a bloom filter (lsm_sst_may_contain then probes it). */
bool		lsm_sst_has_bloom(const lsm_sst *t);

/*
 * Point lookup: the newest entry for user_key with seq <= snapshot_seq, of
 * any kind, consulting the bloom filter first.  LSM_NOT_FOUND if none.
 * value is copied into *value.  *bloom_skipped (may be NULL) is set true
 * when the filter alone answered.
 */
lsm_status	lsm_sst_get(lsm_sst *t, lsm_slice user_key, uint64_t snapshot_seq,
						uint64_t *seq, lsm_kind *kind, lsm_buf *value,
						bool *bloom_skipped);

/* An iterator over all entries in internal-key order (malloc'd). */
lsm_iter   *lsm_sst_iter_new(lsm_sst *t);

/*
 * Checks a run and reports every problem found, not only the first: the
 * footer, the index block, the bloom filter, every data block's checksum,
 * framing and entries (kind, key order, sequence range, bloom membership),
 * and the entry count, smallest and largest key against the manifest.
 *
 * A data block that cannot be read or decoded is reported and skipped (the
 * index block says where the next one starts); a damaged bloom filter is
 * reported and the entries are checked without it; a damaged footer or index
 * block is reported and ends the check.  Problems of single entries are
 * listed up to LSM_SST_CHECK_ENTRY_PROBLEMS per run, then one more problem
 * says how many were not listed.  Nothing read is trusted: offsets and
 * lengths are bounds-checked against the run before use.
 *
 * The check runs in steps (each reads at most one block), so that a pager
 * owner can clean up after a failed page read between them; the problems of
 * a step go to fn before lsm_sst_check_step returns.
 */
#define LSM_SST_CHECK_ENTRY_PROBLEMS 10

typedef enum lsm_sst_part
{
	LSM_SST_PART_FOOTER,
	LSM_SST_PART_INDEX,
	LSM_SST_PART_BLOOM,
	LSM_SST_PART_BLOCK,			/* a data block's checksum, framing, decoding */
	LSM_SST_PART_ENTRY,			/* an entry: kind, order, sequence, bloom */
	LSM_SST_PART_RUN			/* the run against its footer and manifest */
} lsm_sst_part;

typedef struct lsm_sst_problem
{
	lsm_sst_part part;
	lsm_status	status;			/* LSM_CORRUPT, or the pager's failure */
	int64_t		block;			/* data block number (index entry); -1: none */
	lsm_pageno	first_page;		/* the pages holding what failed; 0: none */
	lsm_pageno	last_page;
	char		msg[256];
} lsm_sst_problem;

typedef void (*lsm_sst_problem_fn) (void *arg, const lsm_sst_problem *p);
typedef struct lsm_sst_check lsm_sst_check;

lsm_status	lsm_sst_check_new(lsm_pager *pager, const lsm_run_meta *meta,
							  const lsm_sst_options *opts, lsm_sst_problem_fn fn,
							  void *arg, lsm_sst_check **out);
/* Runs the next step; false once the check is over. */
bool		lsm_sst_check_step(lsm_sst_check *c);
int			lsm_sst_check_problems(const lsm_sst_check *c);
uint64_t	lsm_sst_check_entries(const lsm_sst_check *c);
void		lsm_sst_check_free(lsm_sst_check *c);

/* The whole check of an open run; the first problem goes to msg. */
lsm_status	lsm_sst_verify(lsm_sst *t, char *msg, size_t msglen);

#endif							/* LSM_SSTABLE_H */
