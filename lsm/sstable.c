/*
 * sstable.c - building and reading immutable sorted runs (see sstable.h).
 *
 * Footer (LSM_SST_FOOTER_SIZE bytes, all little-endian):
 *    0  magic u64            8  version u32          12  data block count u32
 *   16  index offset u64    24  index size u64       32  bloom offset u64
 *   40  bloom size u64      48  entry count u64      56  xxh3-64 of bytes 0..55
 *
 * The stream is laid out strictly: data blocks back to back from offset 0,
 * then the bloom block, then the index block, then the footer.  The reader
 * insists on exactly that, so any handle that points elsewhere is corrupt.
 *
 * An open run is read-only and holds copies of its index block and bloom
 * filter; data blocks are read per call into caller-owned (usually stack)
 * buffers, which is what makes concurrent readers safe.
 */
#include <limits.h>
#include <stdarg.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "sstable.h"

#define SST_VERSION 1
#define BLOCK_TRAILER 9			/* type byte + xxh3-64 */
#define BLOCK_RAW 0
#define BLOCK_LZ4 1
#define STACK_BLOCK 8192		/* blocks up to this size need no malloc */
#define MAX_PLAIN_BLOCK (256u << 20)	/* sanity bound on a stored size */
#define INDEX_RESTART_INTERVAL 1	/* index lookups binary-search every key */

void
lsm_sst_options_default(lsm_sst_options *o)
{
	memset(o, 0, sizeof(*o));
	o->block_size = 4096;
	o->restart_interval = 16;
	o->bloom_bits_per_key = 10;
	o->compress = true;
	o->bloom_key_len = NULL;
}

/* dst is overwritten as if uninitialised: free it first if it owns keys. */
lsm_status
lsm_run_meta_copy(lsm_run_meta *dst, const lsm_run_meta *src)
{
	lsm_run_meta m = *src;

	if (dst == src)
		return LSM_OK;
	memset(&m.smallest, 0, sizeof(lsm_buf));
	memset(&m.largest, 0, sizeof(lsm_buf));
	memset(&m.split_lo, 0, sizeof(lsm_buf));
	memset(&m.split_hi, 0, sizeof(lsm_buf));
	if (lsm_buf_set(&m.smallest, src->smallest.data, src->smallest.len) != LSM_OK ||
		lsm_buf_set(&m.largest, src->largest.data, src->largest.len) != LSM_OK ||
		lsm_buf_set(&m.split_lo, src->split_lo.data, src->split_lo.len) != LSM_OK ||
		lsm_buf_set(&m.split_hi, src->split_hi.data, src->split_hi.len) != LSM_OK)
	{
		lsm_run_meta_free(&m);
		return LSM_NO_MEMORY;
	}
	*dst = m;
	return LSM_OK;
}

void
lsm_run_meta_free(lsm_run_meta *m)
{
	lsm_buf_free(&m->smallest);
	lsm_buf_free(&m->largest);
	lsm_buf_free(&m->split_lo);
	lsm_buf_free(&m->split_hi);
}

bool
lsm_run_meta_has_split(const lsm_run_meta *meta)
{
	return meta->split_lo.len > 0 && meta->split_hi.len > 0;
}

bool
lsm_run_meta_gap_holds(const lsm_run_meta *meta, lsm_slice lo, lsm_slice hi,
					   bool hi_inclusive)
{
	int			above;

	if (!lsm_run_meta_has_split(meta) ||
		lsm_slice_compare(lo, lsm_buf_slice(&meta->split_lo)) <= 0)
		return false;
	above = lsm_slice_compare(hi, lsm_buf_slice(&meta->split_hi));
	return hi_inclusive ? above < 0 : above <= 0;
}

bool
lsm_run_meta_covers(const lsm_run_meta *meta, lsm_slice user_key)
{
	lsm_slice	smallest = lsm_ikey_user_key(lsm_buf_slice(&meta->smallest));
	lsm_slice	largest = lsm_ikey_user_key(lsm_buf_slice(&meta->largest));

	return lsm_slice_compare(user_key, smallest) >= 0 &&
		lsm_slice_compare(user_key, largest) <= 0 &&
		!lsm_run_meta_gap_holds(meta, user_key, user_key, true);
}

bool
lsm_run_meta_meets(const lsm_run_meta *meta, lsm_slice start, lsm_slice end)
{
	lsm_slice	smallest = lsm_ikey_user_key(lsm_buf_slice(&meta->smallest));
	lsm_slice	largest = lsm_ikey_user_key(lsm_buf_slice(&meta->largest));

	return lsm_slice_compare(largest, start) >= 0 &&
		lsm_slice_compare(smallest, end) < 0 &&
		!lsm_run_meta_gap_holds(meta, start, end, false);
}

static lsm_slice
bloom_key(const lsm_sst_options *o, lsm_slice user_key)
{
	size_t		n = o->bloom_key_len ? o->bloom_key_len(user_key) : user_key.len;

	return lsm_slice_make(user_key.data, n < user_key.len ? n : user_key.len);
}

static bool
slice_eq(lsm_slice a, lsm_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* ---------------------------------------------------------------- builder */

struct lsm_sst_builder
{
	lsm_sst_options opts;
	lsm_buf		out;			/* the stream so far */
	lsm_block_builder data;
	lsm_block_builder index;
	lsm_bloom_builder bloom;
	lsm_buf		last_key;
	lsm_buf		last_bloom_key;
	lsm_buf		smallest;
	int			nfamilies;		/* distinct first bytes of user keys so far */
	lsm_buf		split_lo;		/* user keys where the family first changed */
	lsm_buf		split_hi;
	lsm_buf		scratch;		/* compressed block, handle encoding */
	uint64_t	nentries;
	uint32_t	nblocks;
	uint64_t	min_seq;
	uint64_t	max_seq;
	bool		finished;
};

lsm_status
lsm_sst_builder_new(const lsm_sst_options *opts, lsm_sst_builder **out)
{
	lsm_sst_builder *b = calloc(1, sizeof(lsm_sst_builder));

	*out = NULL;
	if (b == NULL)
		return LSM_NO_MEMORY;
	if (opts)
		b->opts = *opts;
	else
		lsm_sst_options_default(&b->opts);
	if (b->opts.block_size == 0)
		b->opts.block_size = 4096;
	lsm_block_builder_init(&b->data, b->opts.restart_interval);
	lsm_block_builder_init(&b->index, INDEX_RESTART_INTERVAL);
	lsm_bloom_builder_init(&b->bloom, b->opts.bloom_bits_per_key);
	*out = b;
	return LSM_OK;
}

void
lsm_sst_builder_free(lsm_sst_builder *b)
{
	if (b == NULL)
		return;
	lsm_buf_free(&b->out);
	lsm_block_builder_free(&b->data);
	lsm_block_builder_free(&b->index);
	lsm_bloom_builder_free(&b->bloom);
	lsm_buf_free(&b->last_key);
	lsm_buf_free(&b->last_bloom_key);
	lsm_buf_free(&b->smallest);
	lsm_buf_free(&b->split_lo);
	lsm_buf_free(&b->split_hi);
	lsm_buf_free(&b->scratch);
	free(b);
}

/* Appends payload | type | xxh3 to the stream; *off gets its offset. */
static lsm_status
append_framed(lsm_sst_builder *b, lsm_slice payload, uint8_t type,
			  uint64_t *off)
{
	lsm_status	st = lsm_buf_reserve(&b->out, payload.len + BLOCK_TRAILER);
	uint8_t    *p;

	if (st != LSM_OK)
		return st;
	*off = b->out.len;
	p = b->out.data + b->out.len;
	if (payload.len)
		memcpy(p, payload.data, payload.len);
	p[payload.len] = type;
	lsm_put_u64(p + payload.len + 1, XXH3_64bits(p, payload.len + 1));
	b->out.len += payload.len + BLOCK_TRAILER;
	return LSM_OK;
}

/*
 * lz4-compresses raw into b->scratch (uncompressed size varint first).
 * Returns false when compression does not save at least an eighth.
 */
static bool
try_compress(lsm_sst_builder *b, lsm_slice raw)
{
	int			bound;
	int			n;
	size_t		hdr;

	/* The reader refuses stored sizes past MAX_PLAIN_BLOCK. */
	if (raw.len > LZ4_MAX_INPUT_SIZE || raw.len > MAX_PLAIN_BLOCK)
		return false;
	bound = LZ4_compressBound((int) raw.len);
	b->scratch.len = 0;
	if (lsm_buf_reserve(&b->scratch, (size_t) bound + 10) != LSM_OK)
		return false;
	hdr = (size_t) (lsm_put_varint(b->scratch.data, raw.len) - b->scratch.data);
	n = LZ4_compress_default((const char *) raw.data,
							 (char *) b->scratch.data + hdr, (int) raw.len, bound);
	if (n <= 0 || hdr + (size_t) n > raw.len - raw.len / 8)
		return false;
	b->scratch.len = hdr + (size_t) n;
	return true;
}

static lsm_status
flush_data_block(lsm_sst_builder *b)
{
	lsm_slice	raw;
	lsm_slice	payload;
	uint8_t		type = BLOCK_RAW;
	uint8_t		handle[20];
	uint8_t    *h = handle;
	uint64_t	off;
	lsm_status	st;

	if ((st = lsm_block_builder_finish(&b->data, &raw)) != LSM_OK)
		return st;
	payload = raw;
	if (b->opts.compress && try_compress(b, raw))
	{
		payload = lsm_buf_slice(&b->scratch);
		type = BLOCK_LZ4;
	}
	if ((st = append_framed(b, payload, type, &off)) != LSM_OK)
		return st;
	h = lsm_put_varint(h, off);
	h = lsm_put_varint(h, payload.len);
	st = lsm_block_builder_add(&b->index, lsm_buf_slice(&b->last_key),
							   lsm_slice_make(handle, (size_t) (h - handle)));
	if (st != LSM_OK)
		return st;
	lsm_block_builder_reset(&b->data);
	b->nblocks++;
	return LSM_OK;
}

static lsm_status
add_bloom_key(lsm_sst_builder *b, lsm_slice user_key)
{
	lsm_slice	bk;
	lsm_status	st;

	if (b->opts.bloom_bits_per_key <= 0)
		return LSM_OK;
	bk = bloom_key(&b->opts, user_key);
	/* Versions of one key are adjacent: hash each distinct key once. */
	if (b->nentries > 0 && slice_eq(bk, lsm_buf_slice(&b->last_bloom_key)))
		return LSM_OK;
	if ((st = lsm_bloom_builder_add_hash(&b->bloom, lsm_bloom_hash(bk))) != LSM_OK)
		return st;
	return lsm_buf_set(&b->last_bloom_key, bk.data, bk.len);
}

/*
 * Counts the families (first bytes) of the user keys added, remembering the
 * keys on either side of the first change (see lsm_run_meta.split_lo).
 * Called before last_key moves on to user_key.
 */
static lsm_status
note_family(lsm_sst_builder *b, lsm_slice user_key)
{
	lsm_slice	prev;
	lsm_status	st;

	if (b->nentries == 0)
	{
		b->nfamilies = 1;
		return LSM_OK;
	}
	prev = lsm_ikey_user_key(lsm_buf_slice(&b->last_key));
	if ((prev.len == 0) == (user_key.len == 0) &&
		(user_key.len == 0 || prev.data[0] == user_key.data[0]))
		return LSM_OK;
	if (++b->nfamilies == 2 &&
		((st = lsm_buf_set(&b->split_lo, prev.data, prev.len)) != LSM_OK ||
		 (st = lsm_buf_set(&b->split_hi, user_key.data, user_key.len)) != LSM_OK))
		return st;
	return LSM_OK;
}

lsm_status
lsm_sst_builder_add(lsm_sst_builder *b, lsm_slice ikey, lsm_slice value)
{
	lsm_ikey	k;
	lsm_status	st;

	if (b->finished || !lsm_ikey_parse(ikey, &k))
		return LSM_INVALID;
	if (b->nentries > 0 &&
		lsm_ikey_compare(lsm_buf_slice(&b->last_key), ikey) >= 0)
		return LSM_INVALID;

	if ((st = note_family(b, k.user_key)) != LSM_OK)
		return st;

	/* Cut the block before it would outgrow block_size. */
	if (!lsm_block_builder_empty(&b->data) &&
		lsm_block_builder_size(&b->data) + ikey.len + value.len + 34 > b->opts.block_size &&
		(st = flush_data_block(b)) != LSM_OK)
		return st;

	if ((st = lsm_block_builder_add(&b->data, ikey, value)) != LSM_OK ||
		(st = add_bloom_key(b, k.user_key)) != LSM_OK ||
		(st = lsm_buf_set(&b->last_key, ikey.data, ikey.len)) != LSM_OK)
		return st;
	if (b->nentries == 0)
	{
		if ((st = lsm_buf_set(&b->smallest, ikey.data, ikey.len)) != LSM_OK)
			return st;
		b->min_seq = b->max_seq = k.seq;
	}
	if (k.seq < b->min_seq)
		b->min_seq = k.seq;
	if (k.seq > b->max_seq)
		b->max_seq = k.seq;
	b->nentries++;
	return LSM_OK;
}

uint64_t
lsm_sst_builder_size(const lsm_sst_builder *b)
{
	return b->out.len + (lsm_block_builder_empty(&b->data) ? 0 :
						 lsm_block_builder_size(&b->data));
}

uint64_t
lsm_sst_builder_count(const lsm_sst_builder *b)
{
	return b->nentries;
}

static void
encode_footer(uint8_t *f, uint32_t nblocks, uint64_t index_off,
			  uint64_t index_len, uint64_t bloom_off, uint64_t bloom_len,
			  uint64_t nentries)
{
	lsm_put_u64(f, LSM_SST_MAGIC);
	lsm_put_u32(f + 8, SST_VERSION);
	lsm_put_u32(f + 12, nblocks);
	lsm_put_u64(f + 16, index_off);
	lsm_put_u64(f + 24, index_len);
	lsm_put_u64(f + 32, bloom_off);
	lsm_put_u64(f + 40, bloom_len);
	lsm_put_u64(f + 48, nentries);
	lsm_put_u64(f + 56, XXH3_64bits(f, 56));
}

lsm_status
lsm_sst_builder_finish(lsm_sst_builder *b, lsm_slice *stream,
					   lsm_run_meta *meta)
{
	lsm_slice	index;
	uint64_t	bloom_off,
				index_off;
	size_t		bloom_len;
	uint8_t		footer[LSM_SST_FOOTER_SIZE];
	lsm_status	st;

	if (b->finished)
		return LSM_INVALID;
	if (!lsm_block_builder_empty(&b->data) &&
		(st = flush_data_block(b)) != LSM_OK)
		return st;

	/* An empty bloom payload means "no filter". */
	b->scratch.len = 0;
	if (b->opts.bloom_bits_per_key > 0 && b->nentries > 0 &&
		(st = lsm_bloom_builder_finish(&b->bloom, &b->scratch)) != LSM_OK)
		return st;
	bloom_len = b->scratch.len;
	if ((st = append_framed(b, lsm_buf_slice(&b->scratch), BLOCK_RAW, &bloom_off)) != LSM_OK)
		return st;

	if ((st = lsm_block_builder_finish(&b->index, &index)) != LSM_OK ||
		(st = append_framed(b, index, BLOCK_RAW, &index_off)) != LSM_OK)
		return st;

	encode_footer(footer, b->nblocks, index_off, index.len, bloom_off,
				  bloom_len, b->nentries);
	if ((st = lsm_buf_append(&b->out, footer, sizeof(footer))) != LSM_OK)
		return st;

	if ((st = lsm_buf_set(&meta->smallest, b->smallest.data, b->smallest.len)) != LSM_OK ||
		(st = lsm_buf_set(&meta->largest, b->last_key.data, b->last_key.len)) != LSM_OK)
		return st;
	meta->split_lo.len = 0;
	meta->split_hi.len = 0;
	if (b->nfamilies == 2 &&
		((st = lsm_buf_set(&meta->split_lo, b->split_lo.data, b->split_lo.len)) != LSM_OK ||
		 (st = lsm_buf_set(&meta->split_hi, b->split_hi.data, b->split_hi.len)) != LSM_OK))
		return st;
	meta->nbytes = b->out.len;
	meta->nentries = b->nentries;
	meta->min_seq = b->min_seq;
	meta->max_seq = b->max_seq;
	b->finished = true;
	*stream = lsm_buf_slice(&b->out);
	return LSM_OK;
}

/* ----------------------------------------------------------------- reader */

struct lsm_sst
{
	lsm_pager  *pager;
	lsm_sst_options opts;
	lsm_run_meta meta;			/* our own copy */
	uint64_t	data_end;		/* data blocks occupy [0, data_end) */
	uint32_t	nblocks;
	uint8_t    *index_data;		/* framed copy of the index block */
	lsm_block	index;
	uint8_t    *bloom_data;		/* framed copy of the filter, or NULL */
	lsm_bloom	bloom;
};

/*
 * Where a block is read to: the caller's buffer if it is big enough, else a
 * heap buffer kept for reuse.
 */
typedef struct blockbuf
{
	uint8_t    *stack;
	size_t		stack_len;
	lsm_buf		heap;
} blockbuf;

static uint8_t *
blockbuf_get(blockbuf *b, size_t need)
{
	if (b->stack != NULL && need <= b->stack_len)
		return b->stack;
	b->heap.len = 0;
	if (lsm_buf_reserve(&b->heap, need + 1) != LSM_OK)
		return NULL;
	return b->heap.data;
}

/* A block [off, off + size + trailer) must lie within [0, limit). */
static bool
handle_in(uint64_t off, uint64_t size, uint64_t limit)
{
	return off <= limit && size <= limit - off &&
		BLOCK_TRAILER <= limit - off - size;
}

static bool
decode_handle(lsm_slice v, uint64_t *off, uint64_t *size)
{
	const uint8_t *end = v.data + v.len;
	const uint8_t *p = lsm_get_varint(v.data, end, off);

	if (p != NULL)
		p = lsm_get_varint(p, end, size);
	return p == end;
}

/* Reads a framed block into dst (size + trailer bytes) and checks it. */
static lsm_status
read_framed(const lsm_sst *t, uint64_t off, uint64_t size, uint8_t *dst,
			uint8_t *type)
{
	lsm_status	st = lsm_pager_read_stream(t->pager, t->meta.first_page, off,
										   dst, (size_t) size + BLOCK_TRAILER);

	if (st != LSM_OK)
		return st;
	if (lsm_get_u64(dst + size + 1) != XXH3_64bits(dst, (size_t) size + 1))
		return LSM_CORRUPT;
	*type = dst[size];
	return LSM_OK;
}

/* Reads, checks and if need be decompresses the data block at a handle. */
static lsm_status
read_data_block(const lsm_sst *t, lsm_slice handle, blockbuf *raw,
				blockbuf *plain, lsm_slice *out)
{
	uint64_t	off = 0,
				size = 0,
				plain_len;
	uint8_t    *p,
			   *q;
	const uint8_t *body;
	uint8_t		type;
	lsm_status	st;

	if (!decode_handle(handle, &off, &size) || !handle_in(off, size, t->data_end))
		return LSM_CORRUPT;
	if ((p = blockbuf_get(raw, (size_t) size + BLOCK_TRAILER)) == NULL)
		return LSM_NO_MEMORY;
	if ((st = read_framed(t, off, size, p, &type)) != LSM_OK)
		return st;
	if (type == BLOCK_RAW)
	{
		*out = lsm_slice_make(p, (size_t) size);
		return LSM_OK;
	}
	if (type != BLOCK_LZ4)
		return LSM_CORRUPT;
	body = lsm_get_varint(p, p + size, &plain_len);
	if (body == NULL || plain_len > MAX_PLAIN_BLOCK ||
		(uint64_t) (p + size - body) > INT_MAX)
		return LSM_CORRUPT;
	if ((q = blockbuf_get(plain, (size_t) plain_len)) == NULL)
		return LSM_NO_MEMORY;
	if (LZ4_decompress_safe((const char *) body, (char *) q,
							(int) (p + size - body), (int) plain_len) != (int) plain_len)
		return LSM_CORRUPT;
	*out = lsm_slice_make(q, (size_t) plain_len);
	return LSM_OK;
}

/* Reads a metadata block (uncompressed by construction) into a malloc'd copy. */
static lsm_status
load_meta_block(const lsm_sst *t, uint64_t off, uint64_t size,
				uint64_t limit, uint8_t **copy)
{
	uint8_t		type;
	lsm_status	st;

	*copy = NULL;
	if (!handle_in(off, size, limit) || off + size + BLOCK_TRAILER != limit)
		return LSM_CORRUPT;
	if ((*copy = malloc((size_t) size + BLOCK_TRAILER)) == NULL)
		return LSM_NO_MEMORY;
	st = read_framed(t, off, size, *copy, &type);
	if (st == LSM_OK && type != BLOCK_RAW)
		st = LSM_CORRUPT;
	return st;
}

static lsm_status
open_footer(lsm_sst *t, uint64_t *index_off, uint64_t *index_len,
			uint64_t *bloom_off, uint64_t *bloom_len)
{
	uint8_t		f[LSM_SST_FOOTER_SIZE];
	lsm_status	st;

	/* The manifest's extent must exist and hold the stream. */
	if (t->meta.nbytes < LSM_SST_FOOTER_SIZE ||
		t->meta.nbytes > (uint64_t) t->meta.npages * t->pager->payload_size ||
		(uint64_t) t->meta.first_page + t->meta.npages > t->pager->ops->npages(t->pager))
		return LSM_CORRUPT;
	st = lsm_pager_read_stream(t->pager, t->meta.first_page,
							   t->meta.nbytes - LSM_SST_FOOTER_SIZE, f, sizeof(f));
	if (st != LSM_OK)
		return st;
	if (lsm_get_u64(f + 56) != XXH3_64bits(f, 56) ||
		lsm_get_u64(f) != LSM_SST_MAGIC ||
		lsm_get_u32(f + 8) != SST_VERSION ||
		lsm_get_u64(f + 48) != t->meta.nentries)
		return LSM_CORRUPT;
	t->nblocks = lsm_get_u32(f + 12);
	*index_off = lsm_get_u64(f + 16);
	*index_len = lsm_get_u64(f + 24);
	*bloom_off = lsm_get_u64(f + 32);
	*bloom_len = lsm_get_u64(f + 40);
	if ((t->nblocks == 0) != (t->meta.nentries == 0))
		return LSM_CORRUPT;
	return LSM_OK;
}

lsm_status
lsm_sst_open(lsm_pager *pager, const lsm_run_meta *meta,
			 const lsm_sst_options *opts, lsm_sst **out)
{
	lsm_sst    *t = calloc(1, sizeof(lsm_sst));
	uint64_t	index_off,
				index_len,
				bloom_off,
				bloom_len;
	lsm_status	st;

	*out = NULL;
	if (t == NULL)
		return LSM_NO_MEMORY;
	t->pager = pager;
	if (opts)
		t->opts = *opts;
	else
		lsm_sst_options_default(&t->opts);
	if ((st = lsm_run_meta_copy(&t->meta, meta)) != LSM_OK)
	{
		free(t);
		return st;
	}
	if ((st = open_footer(t, &index_off, &index_len, &bloom_off, &bloom_len)) != LSM_OK ||
		(st = load_meta_block(t, index_off, index_len,
							  t->meta.nbytes - LSM_SST_FOOTER_SIZE, &t->index_data)) != LSM_OK ||
		(st = load_meta_block(t, bloom_off, bloom_len, index_off, &t->bloom_data)) != LSM_OK)
		goto fail;
	t->data_end = bloom_off;
	if (lsm_block_open(&t->index, lsm_slice_make(t->index_data, (size_t) index_len)) != LSM_OK ||
		(bloom_len > 0 &&
		 lsm_bloom_open(&t->bloom, lsm_slice_make(t->bloom_data, (size_t) bloom_len)) != LSM_OK))
	{
		st = LSM_CORRUPT;
		goto fail;
	}
	if (bloom_len == 0)
	{
		free(t->bloom_data);
		t->bloom_data = NULL;
	}
	*out = t;
	return LSM_OK;

fail:
	lsm_sst_close(t);
	return st;
}

void
lsm_sst_close(lsm_sst *t)
{
	if (t == NULL)
		return;
	free(t->index_data);
	free(t->bloom_data);
	lsm_run_meta_free(&t->meta);
	free(t);
}

bool
lsm_sst_has_bloom(const lsm_sst *t)
{
	return t->bloom_data != NULL;
}

bool
lsm_sst_may_contain(const lsm_sst *t, lsm_slice user_key)
{
	if (t->bloom_data == NULL)
		return true;
	return lsm_bloom_may_contain_hash(&t->bloom,
									  lsm_bloom_hash(bloom_key(&t->opts, user_key)));
}

/*
 * Finds the first entry >= target in the run: the index names the one block
 * that can hold it, and because index keys are the blocks' last keys, that
 * block must have such an entry.
 */
static lsm_status
get_in_block(lsm_sst *t, lsm_slice target, lsm_slice user_key,
			 uint64_t *seq, lsm_kind *kind, lsm_buf *value)
{
	uint8_t		raw_stack[STACK_BLOCK];
	uint8_t		plain_stack[STACK_BLOCK];
	blockbuf	raw = {raw_stack, sizeof(raw_stack), {0}};
	blockbuf	plain = {plain_stack, sizeof(plain_stack), {0}};
	lsm_block_cursor idx;
	lsm_block_cursor cur;
	lsm_block	blk;
	lsm_slice	data;
	lsm_ikey	k;
	lsm_status	st;

	lsm_block_cursor_init(&idx, &t->index);
	lsm_block_cursor_init(&cur, &blk);
	lsm_block_cursor_seek(&idx, target);
	if (!idx.valid)
		st = idx.status != LSM_OK ? idx.status : LSM_NOT_FOUND;
	else if ((st = read_data_block(t, idx.value, &raw, &plain, &data)) != LSM_OK)
		;
	else if (lsm_block_open(&blk, data) != LSM_OK)
		st = LSM_CORRUPT;
	else
	{
		lsm_block_cursor_seek(&cur, target);
		if (!cur.valid)
			st = cur.status != LSM_OK ? cur.status : LSM_CORRUPT;
		else if (!lsm_ikey_parse(lsm_buf_slice(&cur.key), &k))
			st = LSM_CORRUPT;
		else if (!slice_eq(k.user_key, user_key))
			st = LSM_NOT_FOUND;
		else if ((st = lsm_buf_set(value, cur.value.data, cur.value.len)) == LSM_OK)
		{
			*seq = k.seq;
			*kind = k.kind;
		}
	}
	lsm_block_cursor_free(&cur);
	lsm_block_cursor_free(&idx);
	lsm_buf_free(&raw.heap);
	lsm_buf_free(&plain.heap);
	return st;
}

lsm_status
lsm_sst_get(lsm_sst *t, lsm_slice user_key, uint64_t snapshot_seq,
			uint64_t *seq, lsm_kind *kind, lsm_buf *value, bool *bloom_skipped)
{
	uint8_t		small[256];
	uint8_t    *target = small;
	size_t		tlen = user_key.len + LSM_IKEY_TRAILER;
	lsm_status	st;

	if (bloom_skipped)
		*bloom_skipped = false;
	if (!lsm_sst_may_contain(t, user_key))
	{
		if (bloom_skipped)
			*bloom_skipped = true;
		return LSM_NOT_FOUND;
	}
	if (t->meta.nentries == 0)
		return LSM_NOT_FOUND;
	if (tlen > sizeof(small) && (target = malloc(tlen)) == NULL)
		return LSM_NO_MEMORY;
	/* The kind byte sorts descending too: KIND_MAX lands before every kind. */
	lsm_ikey_write(target, user_key,
				   snapshot_seq < LSM_MAX_SEQ ? snapshot_seq : LSM_MAX_SEQ,
				   LSM_KIND_MAX);
	st = get_in_block(t, lsm_slice_make(target, tlen), user_key, seq, kind, value);
	if (target != small)
		free(target);
	return st;
}

/* --------------------------------------------------------------- iterator */

typedef struct sst_iter
{
	lsm_iter	base;
	lsm_sst    *t;
	lsm_block_cursor idx;
	lsm_block	blk;
	lsm_block_cursor data;
	blockbuf	raw;
	blockbuf	plain;
	lsm_status	status;
} sst_iter;

static void
si_fail(sst_iter *it, lsm_status st)
{
	it->status = st;
	it->data.valid = false;
}

/* Loads the block the index cursor points at. */
static bool
si_load(sst_iter *it)
{
	lsm_slice	data;
	lsm_status	st;

	it->data.valid = false;
	if (!it->idx.valid)
	{
		if (it->idx.status != LSM_OK)
			si_fail(it, it->idx.status);
		return false;
	}
	st = read_data_block(it->t, it->idx.value, &it->raw, &it->plain, &data);
	if (st == LSM_OK && lsm_block_open(&it->blk, data) != LSM_OK)
		st = LSM_CORRUPT;
	if (st != LSM_OK)
	{
		si_fail(it, st);
		return false;
	}
	return true;
}

/* Moves past the end of exhausted blocks to the next entry, if any. */
static void
si_settle(sst_iter *it)
{
	while (it->status == LSM_OK && !it->data.valid)
	{
		if (it->data.status != LSM_OK)
		{
			si_fail(it, it->data.status);
			return;
		}
		lsm_block_cursor_next(&it->idx);
		if (!si_load(it))
			return;
		lsm_block_cursor_seek_first(&it->data);
	}
}

/* Moves before the start of exhausted blocks to the previous entry, if any. */
static void
si_settle_back(sst_iter *it)
{
	while (it->status == LSM_OK && !it->data.valid)
	{
		if (it->data.status != LSM_OK)
		{
			si_fail(it, it->data.status);
			return;
		}
		lsm_block_cursor_prev(&it->idx);
		if (!si_load(it))
			return;
		lsm_block_cursor_seek_last(&it->data);
	}
}

static bool
si_valid(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	return it->status == LSM_OK && it->data.valid;
}

static void
si_seek_first(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	it->status = LSM_OK;
	lsm_block_cursor_seek_first(&it->idx);
	if (!si_load(it))
		return;
	lsm_block_cursor_seek_first(&it->data);
	si_settle(it);
}

static void
si_seek(lsm_iter *base, lsm_slice target)
{
	sst_iter   *it = (sst_iter *) base;

	it->status = LSM_OK;
	lsm_block_cursor_seek(&it->idx, target);
	if (!si_load(it))
		return;
	lsm_block_cursor_seek(&it->data, target);
	si_settle(it);
}

static void
si_next(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	if (!si_valid(base))
		return;
	lsm_block_cursor_next(&it->data);
	si_settle(it);
}

static void
si_seek_last(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	it->status = LSM_OK;
	lsm_block_cursor_seek_last(&it->idx);
	if (!si_load(it))
		return;
	lsm_block_cursor_seek_last(&it->data);
	si_settle_back(it);
}

static void
si_prev(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	if (!si_valid(base))
		return;
	lsm_block_cursor_prev(&it->data);
	si_settle_back(it);
}

static lsm_slice
si_key(lsm_iter *base)
{
	return lsm_buf_slice(&((sst_iter *) base)->data.key);
}

static lsm_slice
si_value(lsm_iter *base)
{
	return ((sst_iter *) base)->data.value;
}

static lsm_status
si_status(lsm_iter *base)
{
	return ((sst_iter *) base)->status;
}

static void
si_destroy(lsm_iter *base)
{
	sst_iter   *it = (sst_iter *) base;

	lsm_block_cursor_free(&it->idx);
	lsm_block_cursor_free(&it->data);
	lsm_buf_free(&it->raw.heap);
	lsm_buf_free(&it->plain.heap);
	free(it);
}

static const lsm_iter_ops sst_iter_ops = {
	si_valid, si_seek_first, si_seek, si_next, si_key, si_value, si_status,
	si_destroy, si_seek_last, si_prev
};

lsm_iter *
lsm_sst_iter_new(lsm_sst *t)
{
	sst_iter   *it = calloc(1, sizeof(sst_iter));

	if (it == NULL)
		return NULL;
	it->base.ops = &sst_iter_ops;
	it->t = t;
	lsm_block_cursor_init(&it->idx, &t->index);
	lsm_block_cursor_init(&it->data, &it->blk);
	it->status = LSM_OK;
	return &it->base;
}

/* ----------------------------------------------------------------- verify */

/*
 * A run check walks the run one step at a time: the footer, the index block,
 * the bloom filter, then one data block per step, then the run as a whole.
 * Every problem goes to the caller's function and the check goes on where
 * it still can: a data block that fails its checksum is skipped (the index
 * block says where the next one starts), a damaged bloom filter only stops
 * the bloom checks.  A damaged footer or index block ends the check: nothing
 * then says where the blocks are.  Steps are small so that a caller that must
 * clean up after a failed page read (PostgreSQL rolls back a subtransaction)
 * can do so between them.
 */
typedef enum check_stage
{
	STAGE_FOOTER,
	STAGE_INDEX,
	STAGE_BLOOM,
	STAGE_BLOCKS,
	STAGE_RUN,
	STAGE_DONE
} check_stage;

struct lsm_sst_check
{
	lsm_sst		t;				/* opened piece by piece */
	lsm_sst_problem_fn fn;
	void	   *arg;
	check_stage stage;
	uint64_t	index_off;
	uint64_t	index_len;
	uint64_t	bloom_off;
	uint64_t	bloom_len;
	bool		bloom_ok;		/* the filter loaded: entries are probed */
	lsm_block_cursor idx;
	bool		idx_started;
	uint32_t	blockno;		/* the next data block */
	uint64_t	expect_off;		/* where it should start */
	bool		expect_unknown; /* not known: the handle before was bad */
	lsm_buf		prev;			/* the last well-formed key seen */
	bool		have_prev;
	uint64_t	nentries;		/* entries decoded */
	bool		incomplete;		/* some data could not be read or decoded */
	uint64_t	entry_problems; /* of entries, including those not listed */
	int			nproblems;
	blockbuf	raw;
	blockbuf	plain;
};

static void check_problem(lsm_sst_check *c, lsm_sst_part part, lsm_status st,
						  int64_t block, uint64_t off, uint64_t len,
						  const char *fmt,...)
			__attribute__((format(printf, 7, 8)));

/*
 * Reports a problem with the stream bytes [off, off + len) (len 0: no bytes
 * in particular), naming the pages that hold them.
 */
static void
check_problem(lsm_sst_check *c, lsm_sst_part part, lsm_status st,
			  int64_t block, uint64_t off, uint64_t len, const char *fmt,...)
{
	lsm_sst_problem p;
	va_list		ap;
	size_t		psize = c->t.pager->payload_size;

	memset(&p, 0, sizeof(p));
	p.part = part;
	p.status = st;
	p.block = block;
	if (len > 0 && off < c->t.meta.nbytes)
	{
		uint64_t	last = off + len - 1 < c->t.meta.nbytes ? off + len - 1 :
			c->t.meta.nbytes - 1;

		p.first_page = c->t.meta.first_page + (lsm_pageno) (off / psize);
		p.last_page = c->t.meta.first_page + (lsm_pageno) (last / psize);
	}
	va_start(ap, fmt);
	vsnprintf(p.msg, sizeof(p.msg), fmt, ap);
	va_end(ap);
	c->nproblems++;
	c->fn(c->arg, &p);
}

static const char *
read_failure(lsm_status st)
{
	return st == LSM_CORRUPT ? "bad checksum, framing or compression" :
		lsm_status_str(st);
}

lsm_status
lsm_sst_check_new(lsm_pager *pager, const lsm_run_meta *meta,
				  const lsm_sst_options *opts, lsm_sst_problem_fn fn,
				  void *arg, lsm_sst_check **out)
{
	lsm_sst_check *c = calloc(1, sizeof(lsm_sst_check));

	*out = NULL;
	if (c == NULL)
		return LSM_NO_MEMORY;
	c->t.pager = pager;
	if (opts)
		c->t.opts = *opts;
	else
		lsm_sst_options_default(&c->t.opts);
	if (lsm_run_meta_copy(&c->t.meta, meta) != LSM_OK)
	{
		free(c);
		return LSM_NO_MEMORY;
	}
	c->fn = fn;
	c->arg = arg;
	lsm_block_cursor_init(&c->idx, &c->t.index);
	*out = c;
	return LSM_OK;
}

void
lsm_sst_check_free(lsm_sst_check *c)
{
	if (c == NULL)
		return;
	lsm_block_cursor_free(&c->idx);
	lsm_buf_free(&c->prev);
	lsm_buf_free(&c->raw.heap);
	lsm_buf_free(&c->plain.heap);
	free(c->t.index_data);
	free(c->t.bloom_data);
	lsm_run_meta_free(&c->t.meta);
	free(c);
}

int
lsm_sst_check_problems(const lsm_sst_check *c)
{
	return c->nproblems;
}

uint64_t
lsm_sst_check_entries(const lsm_sst_check *c)
{
	return c->nentries;
}

/* The footer, and that the index and bloom handles it holds fit the run. */
static check_stage
check_footer(lsm_sst_check *c)
{
	lsm_sst    *t = &c->t;
	uint64_t	nbytes = t->meta.nbytes;
	uint64_t	foff = nbytes - LSM_SST_FOOTER_SIZE;
	uint8_t		f[LSM_SST_FOOTER_SIZE];
	lsm_status	st;

	if (nbytes < LSM_SST_FOOTER_SIZE ||
		nbytes > (uint64_t) t->meta.npages * t->pager->payload_size ||
		(uint64_t) t->meta.first_page + t->meta.npages > t->pager->ops->npages(t->pager))
	{
		check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, 0, 0,
					  "the run's %llu bytes do not fit its %u pages at page %u of the store's %u",
					  (unsigned long long) nbytes, t->meta.npages, t->meta.first_page,
					  t->pager->ops->npages(t->pager));
		return STAGE_DONE;
	}
	st = lsm_pager_read_stream(t->pager, t->meta.first_page, foff, f, sizeof(f));
	if (st != LSM_OK)
		check_problem(c, LSM_SST_PART_FOOTER, st, -1, foff, sizeof(f),
					  "footer cannot be read: %s", lsm_status_str(st));
	else if (lsm_get_u64(f + 56) != XXH3_64bits(f, 56))
		check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, foff, sizeof(f),
					  "footer: bad checksum");
	else if (lsm_get_u64(f) != LSM_SST_MAGIC || lsm_get_u32(f + 8) != SST_VERSION)
		check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, foff, sizeof(f),
					  "footer: not a run of format version %d", SST_VERSION);
	else
	{
		uint64_t	nentries = lsm_get_u64(f + 48);

		t->nblocks = lsm_get_u32(f + 12);
		c->index_off = lsm_get_u64(f + 16);
		c->index_len = lsm_get_u64(f + 24);
		c->bloom_off = lsm_get_u64(f + 32);
		c->bloom_len = lsm_get_u64(f + 40);
		if (nentries != t->meta.nentries)
			check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, foff, sizeof(f),
						  "footer says %llu entries, the manifest %llu",
						  (unsigned long long) nentries,
						  (unsigned long long) t->meta.nentries);
		else if ((t->nblocks == 0) != (nentries == 0))
			check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, foff, sizeof(f),
						  "footer says %u data blocks for %llu entries",
						  t->nblocks, (unsigned long long) nentries);
		else if (!handle_in(c->index_off, c->index_len, foff) ||
				 c->index_off + c->index_len + BLOCK_TRAILER != foff ||
				 !handle_in(c->bloom_off, c->bloom_len, c->index_off) ||
				 c->bloom_off + c->bloom_len + BLOCK_TRAILER != c->index_off)
			check_problem(c, LSM_SST_PART_FOOTER, LSM_CORRUPT, -1, foff, sizeof(f),
						  "footer: the index block (offset %llu, %llu bytes) and bloom filter (offset %llu, %llu bytes) do not end where the next part begins",
						  (unsigned long long) c->index_off, (unsigned long long) c->index_len,
						  (unsigned long long) c->bloom_off, (unsigned long long) c->bloom_len);
		else
			return STAGE_INDEX;
	}
	return STAGE_DONE;
}

static check_stage
check_index(lsm_sst_check *c)
{
	lsm_sst    *t = &c->t;
	uint64_t	limit = t->meta.nbytes - LSM_SST_FOOTER_SIZE;
	lsm_status	st;

	st = load_meta_block(t, c->index_off, c->index_len, limit, &t->index_data);
	if (st == LSM_OK &&
		lsm_block_open(&t->index, lsm_slice_make(t->index_data, (size_t) c->index_len)) != LSM_OK)
		st = LSM_CORRUPT;
	if (st == LSM_OK)
		return STAGE_BLOOM;
	check_problem(c, LSM_SST_PART_INDEX, st, -1, c->index_off,
				  c->index_len + BLOCK_TRAILER,
				  "index block at offset %llu (%llu bytes): %s; the data blocks cannot be found",
				  (unsigned long long) c->index_off, (unsigned long long) c->index_len,
				  read_failure(st));
	return STAGE_DONE;
}

static check_stage
check_bloom(lsm_sst_check *c)
{
	lsm_sst    *t = &c->t;
	lsm_status	st;

	t->data_end = c->bloom_off;
	st = load_meta_block(t, c->bloom_off, c->bloom_len, c->index_off, &t->bloom_data);
	if (st == LSM_OK && c->bloom_len > 0 &&
		lsm_bloom_open(&t->bloom, lsm_slice_make(t->bloom_data, (size_t) c->bloom_len)) != LSM_OK)
		st = LSM_CORRUPT;
	if (st != LSM_OK)
		check_problem(c, LSM_SST_PART_BLOOM, st, -1, c->bloom_off,
					  c->bloom_len + BLOCK_TRAILER,
					  "bloom filter at offset %llu (%llu bytes): %s; entries are checked without it",
					  (unsigned long long) c->bloom_off, (unsigned long long) c->bloom_len,
					  read_failure(st));
	c->bloom_ok = st == LSM_OK && c->bloom_len > 0;
	if (!c->bloom_ok)
	{
		free(t->bloom_data);
		t->bloom_data = NULL;
	}
	return STAGE_BLOCKS;
}

/* Counts a problem of an entry; true if it is to be listed. */
static bool
entry_problem_listed(lsm_sst_check *c)
{
	return ++c->entry_problems <= LSM_SST_CHECK_ENTRY_PROBLEMS;
}

/* Checks one entry against the one before it and against the run's meta. */
static lsm_status
check_entry(lsm_sst_check *c, lsm_slice key, uint32_t blockno, uint64_t n,
			uint64_t off, uint64_t len)
{
	const lsm_run_meta *m = &c->t.meta;
	lsm_ikey	k;

	if (!lsm_ikey_parse(key, &k))
	{
		if (entry_problem_listed(c))
			check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
						  "data block %u: entry %llu has an unknown kind or is too short",
						  blockno, (unsigned long long) n);
		return LSM_OK;
	}
	if (blockno == 0 && n == 0 && !slice_eq(key, lsm_buf_slice(&m->smallest)) &&
		entry_problem_listed(c))
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
					  "first key differs from the manifest's smallest key");
	if (c->have_prev && lsm_ikey_compare(lsm_buf_slice(&c->prev), key) >= 0 &&
		entry_problem_listed(c))
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
					  "data block %u: entry %llu is out of order (not after the key before it)",
					  blockno, (unsigned long long) n);
	if ((k.seq < m->min_seq || k.seq > m->max_seq) && entry_problem_listed(c))
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
					  "data block %u: entry %llu has sequence %llu outside [%llu, %llu]",
					  blockno, (unsigned long long) n, (unsigned long long) k.seq,
					  (unsigned long long) m->min_seq, (unsigned long long) m->max_seq);
	if (lsm_run_meta_gap_holds(m, k.user_key, k.user_key, true) &&
		entry_problem_listed(c))
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
					  "data block %u: entry %llu lies between the manifest's split keys",
					  blockno, (unsigned long long) n);
	if (c->bloom_ok && !lsm_sst_may_contain(&c->t, k.user_key) &&
		entry_problem_listed(c))
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, blockno, off, len,
					  "data block %u: bloom filter misses entry %llu",
					  blockno, (unsigned long long) n);
	c->have_prev = true;
	return lsm_buf_set(&c->prev, key.data, key.len);
}

/* Checks every entry of one decoded data block. */
static lsm_status
check_block_entries(lsm_sst_check *c, const lsm_block *blk, lsm_slice index_key,
					uint64_t off, uint64_t len)
{
	lsm_block_cursor cur;
	lsm_status	st = LSM_OK;
	uint64_t	n = 0;
	bool		last_ok = false;

	lsm_block_cursor_init(&cur, blk);
	for (lsm_block_cursor_seek_first(&cur); cur.valid && st == LSM_OK;
		 lsm_block_cursor_next(&cur), n++)
	{
		lsm_ikey	k;

		last_ok = lsm_ikey_parse(lsm_buf_slice(&cur.key), &k);
		st = check_entry(c, lsm_buf_slice(&cur.key), c->blockno, n, off, len);
		c->nentries++;
	}
	if (st != LSM_OK)
		;
	else if (cur.status != LSM_OK)
	{
		c->incomplete = true;
		check_problem(c, LSM_SST_PART_BLOCK, LSM_CORRUPT, c->blockno, off, len,
					  "data block %u: entry %llu cannot be decoded; the rest of the block is skipped",
					  c->blockno, (unsigned long long) n);
	}
	else if (n == 0)
		check_problem(c, LSM_SST_PART_BLOCK, LSM_CORRUPT, c->blockno, off, len,
					  "data block %u is empty", c->blockno);
	else if (!last_ok || !slice_eq(lsm_buf_slice(&c->prev), index_key))
		check_problem(c, LSM_SST_PART_INDEX, LSM_CORRUPT, c->blockno, off, len,
					  "index entry %u: its key is not the last key of data block %u",
					  c->blockno, c->blockno);
	lsm_block_cursor_free(&cur);
	return st;
}

/* The next data block the index names, or the end of the index. */
static check_stage
check_next_block(lsm_sst_check *c)
{
	lsm_sst    *t = &c->t;
	uint64_t	off = 0,
				size = 0;
	lsm_slice	data;
	lsm_block	blk;
	lsm_status	st;

	if (!c->idx_started)
		lsm_block_cursor_seek_first(&c->idx);
	else
		lsm_block_cursor_next(&c->idx);
	c->idx_started = true;
	if (!c->idx.valid)
	{
		if (c->idx.status != LSM_OK)
		{
			c->incomplete = true;
			check_problem(c, LSM_SST_PART_INDEX, c->idx.status, -1, c->index_off,
						  c->index_len + BLOCK_TRAILER,
						  "index block: entry %u cannot be decoded; the data blocks after it are not checked",
						  c->blockno);
		}
		return STAGE_RUN;
	}
	if (!decode_handle(c->idx.value, &off, &size) ||
		!handle_in(off, size, t->data_end))
	{
		c->incomplete = true;
		check_problem(c, LSM_SST_PART_INDEX, LSM_CORRUPT, c->blockno, c->index_off,
					  c->index_len + BLOCK_TRAILER,
					  "index entry %u: its block handle is undecodable or outside the data blocks [0, %llu); the block is skipped",
					  c->blockno, (unsigned long long) t->data_end);
		c->blockno++;
		c->expect_unknown = true;
		return STAGE_BLOCKS;
	}
	if (off != c->expect_off && !c->expect_unknown)
		check_problem(c, LSM_SST_PART_INDEX, LSM_CORRUPT, c->blockno, off,
					  size + BLOCK_TRAILER,
					  "index entry %u: data block at offset %llu, expected at %llu",
					  c->blockno, (unsigned long long) off,
					  (unsigned long long) c->expect_off);
	c->expect_off = off + size + BLOCK_TRAILER;
	c->expect_unknown = false;
	st = read_data_block(t, c->idx.value, &c->raw, &c->plain, &data);
	if (st == LSM_OK && lsm_block_open(&blk, data) != LSM_OK)
	{
		c->incomplete = true;
		check_problem(c, LSM_SST_PART_BLOCK, LSM_CORRUPT, c->blockno, off,
					  size + BLOCK_TRAILER,
					  "data block %u at offset %llu (%llu bytes): bad restart array",
					  c->blockno, (unsigned long long) off, (unsigned long long) size);
	}
	else if (st != LSM_OK)
	{
		c->incomplete = true;
		check_problem(c, LSM_SST_PART_BLOCK, st, c->blockno, off,
					  size + BLOCK_TRAILER,
					  "data block %u at offset %llu (%llu bytes): %s",
					  c->blockno, (unsigned long long) off, (unsigned long long) size,
					  read_failure(st));
		if (st == LSM_NO_MEMORY)
			return STAGE_DONE;
	}
	else if (check_block_entries(c, &blk, lsm_buf_slice(&c->idx.key),
								 off, size + BLOCK_TRAILER) != LSM_OK)
	{
		check_problem(c, LSM_SST_PART_RUN, LSM_NO_MEMORY, -1, 0, 0, "out of memory");
		return STAGE_DONE;
	}
	c->blockno++;
	return STAGE_BLOCKS;
}

/* The run as a whole: what the index, footer and manifest say about it. */
static check_stage
check_run(lsm_sst_check *c)
{
	lsm_sst    *t = &c->t;

	if (!c->incomplete && c->expect_off != t->data_end)
		check_problem(c, LSM_SST_PART_INDEX, LSM_CORRUPT, -1, c->index_off,
					  c->index_len + BLOCK_TRAILER,
					  "data blocks end at %llu, the bloom filter starts at %llu",
					  (unsigned long long) c->expect_off, (unsigned long long) t->data_end);
	if (c->blockno != t->nblocks)
		check_problem(c, LSM_SST_PART_INDEX, LSM_CORRUPT, -1, c->index_off,
					  c->index_len + BLOCK_TRAILER,
					  "index has %u blocks, footer says %u", c->blockno, t->nblocks);
	if (c->entry_problems > LSM_SST_CHECK_ENTRY_PROBLEMS)
		check_problem(c, LSM_SST_PART_ENTRY, LSM_CORRUPT, -1, 0, 0,
					  "%llu more problems of entries not listed (the first %d are)",
					  (unsigned long long) (c->entry_problems - LSM_SST_CHECK_ENTRY_PROBLEMS),
					  LSM_SST_CHECK_ENTRY_PROBLEMS);
	/* Skipped data says nothing about the count or the last key. */
	if (c->incomplete)
		return STAGE_DONE;
	if (c->nentries != t->meta.nentries)
		check_problem(c, LSM_SST_PART_RUN, LSM_CORRUPT, -1, 0, 0,
					  "%llu entries, footer says %llu",
					  (unsigned long long) c->nentries,
					  (unsigned long long) t->meta.nentries);
	else if (t->meta.nentries > 0 &&
			 !slice_eq(lsm_buf_slice(&c->prev), lsm_buf_slice(&t->meta.largest)))
		check_problem(c, LSM_SST_PART_RUN, LSM_CORRUPT, -1, 0, 0,
					  "last key differs from the manifest's largest key");
	return STAGE_DONE;
}

bool
lsm_sst_check_step(lsm_sst_check *c)
{
	switch (c->stage)
	{
		case STAGE_FOOTER:
			c->stage = check_footer(c);
			break;
		case STAGE_INDEX:
			c->stage = check_index(c);
			break;
		case STAGE_BLOOM:
			c->stage = check_bloom(c);
			break;
		case STAGE_BLOCKS:
			c->stage = check_next_block(c);
			break;
		case STAGE_RUN:
			c->stage = check_run(c);
			break;
		case STAGE_DONE:
			break;
	}
	return c->stage != STAGE_DONE;
}

typedef struct first_problem
{
	lsm_status	st;
	char	   *msg;
	size_t		msglen;
} first_problem;

static void
keep_first(void *arg, const lsm_sst_problem *p)
{
	first_problem *fp = (first_problem *) arg;

	if (fp->st != LSM_OK)
		return;
	fp->st = p->status;
	if (fp->msg != NULL && fp->msglen > 0)
		snprintf(fp->msg, fp->msglen, "%s", p->msg);
}

lsm_status
lsm_sst_verify(lsm_sst *t, char *msg, size_t msglen)
{
	first_problem fp = {LSM_OK, msg, msglen};
	lsm_sst_check *c;
	lsm_status	st;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if ((st = lsm_sst_check_new(t->pager, &t->meta, &t->opts, keep_first, &fp, &c)) != LSM_OK)
		return st;
	while (lsm_sst_check_step(c))
		;
	lsm_sst_check_free(c);
	return fp.st;
}
