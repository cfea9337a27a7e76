/*
 * block.c - prefix-compressed sorted blocks with restart points.
 *
 * The format is LevelDB's (see block.h).  The reader trusts nothing: the
 * restart array is validated once in lsm_block_open, and every entry decode
 * checks its lengths against the block, so a corrupt block yields
 * LSM_CORRUPT and never an out-of-bounds read.
 */
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "coding.h"
#include "ikey.h"

/* ---------------------------------------------------------------- builder */

void
lsm_block_builder_init(lsm_block_builder *b, int restart_interval)
{
	memset(b, 0, sizeof(*b));
	b->restart_interval = restart_interval > 0 ? restart_interval : 16;
}

static lsm_status
push_restart(lsm_block_builder *b, uint32_t off)
{
	if (b->nrestarts == b->restarts_cap)
	{
		size_t		cap = b->restarts_cap ? b->restarts_cap * 2 : 16;
		uint32_t   *p = realloc(b->restarts, cap * sizeof(uint32_t));

		if (p == NULL)
			return LSM_NO_MEMORY;
		b->restarts = p;
		b->restarts_cap = cap;
	}
	b->restarts[b->nrestarts++] = off;
	return LSM_OK;
}

static size_t
shared_prefix(lsm_slice a, lsm_slice b)
{
	size_t		n = a.len < b.len ? a.len : b.len;
	size_t		i = 0;

	while (i < n && a.data[i] == b.data[i])
		i++;
	return i;
}

lsm_status
lsm_block_builder_add(lsm_block_builder *b, lsm_slice key, lsm_slice value)
{
	size_t		shared = 0;
	uint8_t		hdr[30];
	uint8_t    *p = hdr;
	lsm_status	st;

	/* Offsets in the restart array are u32; refuse to build past that. */
	if (key.len > UINT32_MAX || value.len > UINT32_MAX ||
		b->buf.len + key.len + value.len + sizeof(hdr) > UINT32_MAX)
		return LSM_INVALID;

	if (b->nentries == 0 || b->counter >= b->restart_interval)
	{
		st = push_restart(b, (uint32_t) b->buf.len);
		if (st != LSM_OK)
			return st;
		b->counter = 0;
	}
	else
		shared = shared_prefix(lsm_buf_slice(&b->last_key), key);

	p = lsm_put_varint(p, shared);
	p = lsm_put_varint(p, key.len - shared);
	p = lsm_put_varint(p, value.len);
	if ((st = lsm_buf_append(&b->buf, hdr, (size_t) (p - hdr))) != LSM_OK ||
		(st = lsm_buf_append(&b->buf, key.data + shared, key.len - shared)) != LSM_OK ||
		(st = lsm_buf_append(&b->buf, value.data, value.len)) != LSM_OK ||
		(st = lsm_buf_set(&b->last_key, key.data, key.len)) != LSM_OK)
		return st;
	b->counter++;
	b->nentries++;
	return LSM_OK;
}

size_t
lsm_block_builder_size(const lsm_block_builder *b)
{
	return b->buf.len + 4 * b->nrestarts + 4;
}

bool
lsm_block_builder_empty(const lsm_block_builder *b)
{
	return b->nentries == 0;
}

lsm_status
lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out)
{
	lsm_status	st = lsm_buf_reserve(&b->buf, 4 * b->nrestarts + 4);

	if (st != LSM_OK)
		return st;
	for (size_t i = 0; i < b->nrestarts; i++)
	{
		lsm_put_u32(b->buf.data + b->buf.len, b->restarts[i]);
		b->buf.len += 4;
	}
	lsm_put_u32(b->buf.data + b->buf.len, (uint32_t) b->nrestarts);
	b->buf.len += 4;
	*out = lsm_buf_slice(&b->buf);
	return LSM_OK;
}

void
lsm_block_builder_reset(lsm_block_builder *b)
{
	b->buf.len = 0;
	b->last_key.len = 0;
	b->nrestarts = 0;
	b->counter = 0;
	b->nentries = 0;
}

void
lsm_block_builder_free(lsm_block_builder *b)
{
	lsm_buf_free(&b->buf);
	lsm_buf_free(&b->last_key);
	free(b->restarts);
	memset(b, 0, sizeof(*b));
}

/* ----------------------------------------------------------------- reader */

/*
 * A block is well formed if its restart array fits, the first restart is at
 * offset 0 and the offsets increase strictly within the entry area.  An empty
 * block has no restarts and no entries.
 */
lsm_status
lsm_block_open(lsm_block *blk, lsm_slice data)
{
	uint32_t	n;
	size_t		len;
	uint32_t	prev = 0;

	memset(blk, 0, sizeof(*blk));
	if (data.len < 4)
		return LSM_CORRUPT;
	n = lsm_get_u32(data.data + data.len - 4);
	if (n > (data.len - 4) / 4)
		return LSM_CORRUPT;
	len = data.len - 4 - 4 * (size_t) n;
	if ((n == 0) != (len == 0))
		return LSM_CORRUPT;
	for (uint32_t i = 0; i < n; i++)
	{
		uint32_t	off = lsm_get_u32(data.data + len + 4 * (size_t) i);

		if (i == 0 ? off != 0 : off <= prev)
			return LSM_CORRUPT;
		if (off >= len)
			return LSM_CORRUPT;
		prev = off;
	}
	blk->data = data.data;
	blk->len = len;
	blk->restarts = data.data + len;
	blk->nrestarts = n;
	return LSM_OK;
}

static inline uint32_t
restart_at(const lsm_block *blk, uint32_t i)
{
	return lsm_get_u32(blk->restarts + 4 * (size_t) i);
}

void
lsm_block_cursor_init(lsm_block_cursor *c, const lsm_block *blk)
{
	memset(c, 0, sizeof(*c));
	c->blk = blk;
	c->status = LSM_OK;
}

void
lsm_block_cursor_free(lsm_block_cursor *c)
{
	lsm_buf_free(&c->key);
	c->valid = false;
}

static void
cursor_corrupt(lsm_block_cursor *c)
{
	c->valid = false;
	c->status = LSM_CORRUPT;
}

/*
 * Decodes the entry at off, whose key shares a prefix with the key now in
 * c->key.  Every length is checked against the end of the entry area, and a
 * key must be long enough to be an internal key, since the comparator reads
 * its trailer.
 */
static bool
decode_at(lsm_block_cursor *c, size_t off)
{
	const uint8_t *base = c->blk->data;
	const uint8_t *end = base + c->blk->len;
	const uint8_t *p = base + off;
	uint64_t	shared,
				unshared,
				vlen;

	if (off >= c->blk->len ||
		(p = lsm_get_varint(p, end, &shared)) == NULL ||
		(p = lsm_get_varint(p, end, &unshared)) == NULL ||
		(p = lsm_get_varint(p, end, &vlen)) == NULL ||
		shared > c->key.len ||
		unshared > (uint64_t) (end - p) ||
		vlen > (uint64_t) (end - p) - unshared ||
		shared + unshared < LSM_IKEY_TRAILER)
	{
		cursor_corrupt(c);
		return false;
	}
	c->key.len = (size_t) shared;
	if (lsm_buf_append(&c->key, p, (size_t) unshared) != LSM_OK)
	{
		c->valid = false;
		c->status = LSM_NO_MEMORY;
		return false;
	}
	p += unshared;
	c->value = lsm_slice_make(p, (size_t) vlen);
	c->off = off;
	c->next_off = (size_t) (p + vlen - base);
	c->valid = true;
	return true;
}

/* Decodes the full key stored at restart point i (its shared length is 0). */
static bool
decode_restart(lsm_block_cursor *c, uint32_t i)
{
	c->key.len = 0;
	return decode_at(c, restart_at(c->blk, i));
}

void
lsm_block_cursor_seek_first(lsm_block_cursor *c)
{
	c->valid = false;
	c->status = LSM_OK;
	if (c->blk->nrestarts == 0)
		return;
	decode_restart(c, 0);
}

void
lsm_block_cursor_next(lsm_block_cursor *c)
{
	if (!c->valid)
		return;
	if (c->next_off >= c->blk->len)
	{
		c->valid = false;
		return;
	}
	decode_at(c, c->next_off);
}

/*
 * The key at restart point i, in place: a restart entry shares nothing, so
 * the binary search can compare it without copying it out.
 */
static bool
restart_key(const lsm_block *blk, uint32_t i, lsm_slice *key)
{
	const uint8_t *end = blk->data + blk->len;
	const uint8_t *p = blk->data + restart_at(blk, i);
	uint64_t	shared,
				unshared,
				vlen;

	if ((p = lsm_get_varint(p, end, &shared)) == NULL ||
		(p = lsm_get_varint(p, end, &unshared)) == NULL ||
		(p = lsm_get_varint(p, end, &vlen)) == NULL ||
		shared != 0 ||
		unshared < LSM_IKEY_TRAILER ||
		unshared > (uint64_t) (end - p) ||
		vlen > (uint64_t) (end - p) - unshared)
		return false;
	*key = lsm_slice_make(p, (size_t) unshared);
	return true;
}

void
lsm_block_cursor_seek(lsm_block_cursor *c, lsm_slice target)
{
	uint32_t	lo = 0;
	uint32_t	hi;

	c->valid = false;
	c->status = LSM_OK;
	if (c->blk->nrestarts == 0)
		return;

	/* Find the last restart whose key is < target (or restart 0). */
	hi = c->blk->nrestarts - 1;
	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo + 1) / 2;
		lsm_slice	key;

		if (!restart_key(c->blk, mid, &key))
		{
			cursor_corrupt(c);
			return;
		}
		if (lsm_ikey_compare(key, target) < 0)
			lo = mid;
		else
			hi = mid - 1;
	}

	/* Scan forward from there to the first key >= target. */
	if (!decode_restart(c, lo))
		return;
	while (c->valid && lsm_ikey_compare(lsm_buf_slice(&c->key), target) < 0)
		lsm_block_cursor_next(c);
}

/*
 * Decodes forward from restart point i to the entry that ends at end (the
 * last of the block when end is its length): entries are prefix-compressed,
 * so going back means going forward from the restart before, as LevelDB's
 * Block::Iter::Prev does.
 */
static void
decode_up_to(lsm_block_cursor *c, uint32_t i, size_t end)
{
	if (!decode_restart(c, i))
		return;
	while (c->next_off < end)
		if (!decode_at(c, c->next_off))
			return;
	if (c->next_off != end)
		cursor_corrupt(c);
}

void
lsm_block_cursor_seek_last(lsm_block_cursor *c)
{
	c->valid = false;
	c->status = LSM_OK;
	if (c->blk->nrestarts == 0)
		return;
	decode_up_to(c, c->blk->nrestarts - 1, c->blk->len);
}

void
lsm_block_cursor_prev(lsm_block_cursor *c)
{
	size_t		here = c->off;
	uint32_t	lo = 0;
	uint32_t	hi;

	if (!c->valid)
		return;
	if (here == 0)
	{
		c->valid = false;
		return;
	}
	/* The last restart point before the current entry. */
	hi = c->blk->nrestarts - 1;
	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo + 1) / 2;

		if (restart_at(c->blk, mid) < here)
			lo = mid;
		else
			hi = mid - 1;
	}
	decode_up_to(c, lo, here);
}

/* --------------------------------------------------------------- iterator */

typedef struct block_iter
{
	lsm_iter	base;
	lsm_block	blk;
	lsm_block_cursor cur;
	lsm_status	open_status;
	void	   *owned;
} block_iter;

static bool
bi_valid(lsm_iter *it)
{
	return ((block_iter *) it)->cur.valid;
}

static void
bi_seek_first(lsm_iter *it)
{
	block_iter *bi = (block_iter *) it;

	if (bi->open_status == LSM_OK)
		lsm_block_cursor_seek_first(&bi->cur);
}

static void
bi_seek(lsm_iter *it, lsm_slice target)
{
	block_iter *bi = (block_iter *) it;

	if (bi->open_status == LSM_OK)
		lsm_block_cursor_seek(&bi->cur, target);
}

static void
bi_next(lsm_iter *it)
{
	lsm_block_cursor_next(&((block_iter *) it)->cur);
}

static lsm_slice
bi_key(lsm_iter *it)
{
	return lsm_buf_slice(&((block_iter *) it)->cur.key);
}

static lsm_slice
bi_value(lsm_iter *it)
{
	return ((block_iter *) it)->cur.value;
}

static lsm_status
bi_status(lsm_iter *it)
{
	block_iter *bi = (block_iter *) it;

	return bi->open_status != LSM_OK ? bi->open_status : bi->cur.status;
}

static void
bi_destroy(lsm_iter *it)
{
	block_iter *bi = (block_iter *) it;

	lsm_block_cursor_free(&bi->cur);
	free(bi->owned);
	free(bi);
}

static void
bi_seek_last(lsm_iter *it)
{
	block_iter *bi = (block_iter *) it;

	if (bi->open_status == LSM_OK)
		lsm_block_cursor_seek_last(&bi->cur);
}

static void
bi_prev(lsm_iter *it)
{
	lsm_block_cursor_prev(&((block_iter *) it)->cur);
}

static const lsm_iter_ops block_iter_ops = {
	bi_valid, bi_seek_first, bi_seek, bi_next, bi_key, bi_value, bi_status,
	bi_destroy, bi_seek_last, bi_prev
};

/*
 * A corrupt block still gives an iterator: one that is never valid and
 * reports LSM_CORRUPT.  Returns NULL only when out of memory, and then frees
 * owned too, so the caller never has to.
 */
lsm_iter *
lsm_block_iter_new(lsm_slice data, void *owned)
{
	block_iter *bi = malloc(sizeof(block_iter));

	if (bi == NULL)
	{
		free(owned);
		return NULL;
	}
	bi->base.ops = &block_iter_ops;
	bi->owned = owned;
	bi->open_status = lsm_block_open(&bi->blk, data);
	lsm_block_cursor_init(&bi->cur, &bi->blk);
	return &bi->base;
}
