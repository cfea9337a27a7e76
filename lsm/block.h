/*
 * block.h - sorted blocks of (internal key, value) entries, LevelDB-style:
 * keys prefix-compressed against the previous key, a restart point (full
 * key) every restart_interval entries, and a trailing array of restart
 * offsets for binary search.
 *
 * Entry:   shared varint | unshared varint | value_len varint | key suffix | value
 * Trailer: restart offsets (u32 LE each) | number of restarts (u32 LE)
 *
 * The framing around a block inside a run (compression byte, checksum) is
 * sstable.c's business.
 */
#ifndef LSM_BLOCK_H
#define LSM_BLOCK_H

#include "iter.h"
#include "lsm_base.h"

typedef struct lsm_block_builder
{
	lsm_buf		buf;
	lsm_buf		last_key;
	uint32_t   *restarts;
	size_t		nrestarts;
	size_t		restarts_cap;
	int			restart_interval;
	int			counter;		/* entries since the last restart */
	size_t		nentries;
} lsm_block_builder;

void		lsm_block_builder_init(lsm_block_builder *b, int restart_interval);
/* Keys must be added in strictly increasing internal-key order. */
lsm_status	lsm_block_builder_add(lsm_block_builder *b, lsm_slice key, lsm_slice value);
/* Size of the block if finished now. */
size_t		lsm_block_builder_size(const lsm_block_builder *b);
bool		lsm_block_builder_empty(const lsm_block_builder *b);
/* Appends the restart trailer; the result is valid until reset. */
lsm_status	lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out);
void		lsm_block_builder_reset(lsm_block_builder *b);
void		lsm_block_builder_free(lsm_block_builder *b);

/* A validated, read-only view of a finished block (does not copy data). */
typedef struct lsm_block
{
	const uint8_t *data;
	size_t		len;			/* up to the restart array */
	const uint8_t *restarts;
	uint32_t	nrestarts;
} lsm_block;

lsm_status	lsm_block_open(lsm_block *blk, lsm_slice data);

/*
 * A cursor over a block that can live on the stack (no allocation), for the
 * point-lookup path.  Decoding errors make it invalid with status CORRUPT.
 */
typedef struct lsm_block_cursor
{
	const lsm_block *blk;
	size_t		off;			/* offset of the current entry */
	size_t		next_off;		/* offset of the entry after it */
	lsm_buf		key;			/* current key, reconstructed */
	lsm_slice	value;
	bool		valid;
	lsm_status	status;
} lsm_block_cursor;

void		lsm_block_cursor_init(lsm_block_cursor *c, const lsm_block *blk);
void		lsm_block_cursor_seek_first(lsm_block_cursor *c);
/* First entry with internal key >= target (binary search over restarts). */
void		lsm_block_cursor_seek(lsm_block_cursor *c, lsm_slice target);
void		lsm_block_cursor_next(lsm_block_cursor *c);
/* The last entry; the entry before the current one (invalid before the first). */
void		lsm_block_cursor_seek_last(lsm_block_cursor *c);
void		lsm_block_cursor_prev(lsm_block_cursor *c);
void		lsm_block_cursor_free(lsm_block_cursor *c);

/* The same as a heap-allocated lsm_iter; data must outlive it.  If owned is
 * non-NULL the iterator frees it (a decompressed copy) on destroy. */
lsm_iter   *lsm_block_iter_new(lsm_slice data, void *owned);

#endif							/* LSM_BLOCK_H */
