/*
 * manifest.c - the in-memory manifest, its free-extent list, its
 * invariants, and a checksummed, bounds-checked serialisation.
 *
 * Body layout (all integers varints):
 *   version next_run_id last_seq flushed_seq log_head aux
 *   nlevels, then per level: nruns, then per run:
 *     id first_page npages nbytes nentries min_seq max_seq aux aux2
 *     smallest (length + bytes) largest (length + bytes)
 *     split_lo (length + bytes) split_hi (length + bytes)
 *   nfree, then per extent: first npages horizon
 * A run's level is implied by where it sits.  Manifests of the first format
 * (LSM_MANIFEST_MAGIC_V1) have no split keys; they are read as runs without
 * a split and written back in the current format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "manifest.h"

#define MANIFEST_HEADER 8		/* magic u32 + body length u32 */
#define MANIFEST_TRAILER 8		/* xxh3-64 of the body */

void
lsm_manifest_init(lsm_manifest *m)
{
	memset(m, 0, sizeof(*m));
	/* Run id 0 means "not assigned yet" (compaction outputs). */
	m->next_run_id = 1;
}

void
lsm_manifest_free(lsm_manifest *m)
{
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		for (int i = 0; i < m->levels[l].nruns; i++)
			lsm_run_meta_free(&m->levels[l].runs[i]);
		free(m->levels[l].runs);
	}
	free(m->free);
	lsm_manifest_init(m);
}

static lsm_status
level_reserve(lsm_level *lv, int n)
{
	lsm_run_meta *p;
	int			cap;

	if (n <= lv->cap)
		return LSM_OK;
	cap = lv->cap ? lv->cap : 8;
	while (cap < n)
		cap *= 2;
	p = realloc(lv->runs, (size_t) cap * sizeof(lsm_run_meta));
	if (p == NULL)
		return LSM_NO_MEMORY;
	lv->runs = p;
	lv->cap = cap;
	return LSM_OK;
}

static lsm_status
free_reserve(lsm_manifest *m, int n)
{
	lsm_extent *p;
	int			cap;

	if (n <= m->free_cap)
		return LSM_OK;
	cap = m->free_cap ? m->free_cap : 8;
	while (cap < n)
		cap *= 2;
	p = realloc(m->free, (size_t) cap * sizeof(lsm_extent));
	if (p == NULL)
		return LSM_NO_MEMORY;
	m->free = p;
	m->free_cap = cap;
	return LSM_OK;
}

lsm_status
lsm_manifest_copy(lsm_manifest *dst, const lsm_manifest *src)
{
	lsm_status	st;

	lsm_manifest_init(dst);
	dst->version = src->version;
	dst->next_run_id = src->next_run_id;
	dst->last_seq = src->last_seq;
	dst->flushed_seq = src->flushed_seq;
	dst->log_head = src->log_head;
	dst->aux = src->aux;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		const lsm_level *sl = &src->levels[l];
		lsm_level  *dl = &dst->levels[l];

		if ((st = level_reserve(dl, sl->nruns)) != LSM_OK)
			goto fail;
		for (int i = 0; i < sl->nruns; i++)
		{
			memset(&dl->runs[i], 0, sizeof(lsm_run_meta));
			if ((st = lsm_run_meta_copy(&dl->runs[i], &sl->runs[i])) != LSM_OK)
				goto fail;
			dl->nruns++;
		}
	}
	if ((st = free_reserve(dst, src->nfree)) != LSM_OK)
		goto fail;
	if (src->nfree)
		memcpy(dst->free, src->free, (size_t) src->nfree * sizeof(lsm_extent));
	dst->nfree = src->nfree;
	return LSM_OK;

fail:
	lsm_manifest_free(dst);
	return st;
}

/* ---------------------------------------------------------------------
 * Runs
 * ---------------------------------------------------------------------
 */

static bool
run_keys_sane(const lsm_run_meta *r)
{
	return r->smallest.len >= LSM_IKEY_TRAILER &&
		r->largest.len >= LSM_IKEY_TRAILER;
}

/*
 * Does run a belong before run b in level l?  L0 is newest first (max_seq
 * descending, then id descending); deeper levels go by smallest key.
 */
static bool
run_before(int level, const lsm_run_meta *a, const lsm_run_meta *b)
{
	if (level == 0)
	{
		if (a->max_seq != b->max_seq)
			return a->max_seq > b->max_seq;
		return a->id > b->id;
	}
	return lsm_ikey_compare(lsm_buf_slice(&a->smallest),
							lsm_buf_slice(&b->smallest)) < 0;
}

lsm_status
lsm_manifest_add_run(lsm_manifest *m, const lsm_run_meta *run)
{
	lsm_level  *lv;
	lsm_run_meta copy;
	lsm_status	st;
	int			pos;

	if (run->level >= LSM_MAX_LEVELS || !run_keys_sane(run))
		return LSM_INVALID;
	lv = &m->levels[run->level];
	if ((st = level_reserve(lv, lv->nruns + 1)) != LSM_OK)
		return st;
	memset(&copy, 0, sizeof(copy));
	if ((st = lsm_run_meta_copy(&copy, run)) != LSM_OK)
		return st;

	pos = lv->nruns;
	while (pos > 0 && run_before((int) run->level, &copy, &lv->runs[pos - 1]))
		pos--;
	memmove(&lv->runs[pos + 1], &lv->runs[pos],
			(size_t) (lv->nruns - pos) * sizeof(lsm_run_meta));
	lv->runs[pos] = copy;
	lv->nruns++;
	return LSM_OK;
}

lsm_status
lsm_manifest_remove_run(lsm_manifest *m, int level, uint64_t id)
{
	lsm_level  *lv;

	if (level < 0 || level >= LSM_MAX_LEVELS)
		return LSM_INVALID;
	lv = &m->levels[level];
	for (int i = 0; i < lv->nruns; i++)
	{
		if (lv->runs[i].id != id)
			continue;
		lsm_run_meta_free(&lv->runs[i]);
		memmove(&lv->runs[i], &lv->runs[i + 1],
				(size_t) (lv->nruns - i - 1) * sizeof(lsm_run_meta));
		lv->nruns--;
		return LSM_OK;
	}
	return LSM_NOT_FOUND;
}

uint64_t
lsm_manifest_level_bytes(const lsm_manifest *m, int level)
{
	uint64_t	sum = 0;

	if (level < 0 || level >= LSM_MAX_LEVELS)
		return 0;
	for (int i = 0; i < m->levels[level].nruns; i++)
		sum += m->levels[level].runs[i].nbytes;
	return sum;
}

int
lsm_manifest_nruns(const lsm_manifest *m)
{
	int			n = 0;

	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		n += m->levels[l].nruns;
	return n;
}

/* ---------------------------------------------------------------------
 * Free extents
 * ---------------------------------------------------------------------
 */

static uint64_t
extent_end(const lsm_extent *e)
{
	return (uint64_t) e->first + e->npages;
}

/* Can a be extended by b (which starts where a ends)? */
static bool
can_merge(const lsm_extent *a, const lsm_extent *b)
{
	return extent_end(a) == b->first && a->horizon == b->horizon &&
		(uint64_t) a->npages + b->npages <= UINT32_MAX;
}

static void
free_remove_at(lsm_manifest *m, int i)
{
	memmove(&m->free[i], &m->free[i + 1],
			(size_t) (m->nfree - i - 1) * sizeof(lsm_extent));
	m->nfree--;
}

lsm_status
lsm_manifest_free_extent(lsm_manifest *m, lsm_pageno first, uint32_t npages,
						 uint64_t horizon)
{
	lsm_extent	e = {first, npages, horizon};
	lsm_status	st;
	int			pos = 0;

	if (first == 0 || npages == 0 || extent_end(&e) > (uint64_t) UINT32_MAX + 1)
		return LSM_INVALID;
	while (pos < m->nfree && m->free[pos].first < first)
		pos++;
	/* Freeing pages that are already free is a caller bug. */
	if ((pos > 0 && extent_end(&m->free[pos - 1]) > first) ||
		(pos < m->nfree && extent_end(&e) > m->free[pos].first))
		return LSM_INVALID;

	if (pos > 0 && can_merge(&m->free[pos - 1], &e))
	{
		lsm_extent *prev = &m->free[pos - 1];

		prev->npages += npages;
		if (pos < m->nfree && can_merge(prev, &m->free[pos]))
		{
			prev->npages += m->free[pos].npages;
			free_remove_at(m, pos);
		}
		return LSM_OK;
	}
	if (pos < m->nfree && can_merge(&e, &m->free[pos]))
	{
		m->free[pos].first = first;
		m->free[pos].npages += npages;
		return LSM_OK;
	}
	if ((st = free_reserve(m, m->nfree + 1)) != LSM_OK)
		return st;
	memmove(&m->free[pos + 1], &m->free[pos],
			(size_t) (m->nfree - pos) * sizeof(lsm_extent));
	m->free[pos] = e;
	m->nfree++;
	return LSM_OK;
}

lsm_status
lsm_manifest_take_extent(lsm_manifest *m, uint32_t npages,
						 uint64_t reusable_horizon, lsm_pageno *first)
{
	if (npages == 0)
		return LSM_INVALID;
	for (int i = 0; i < m->nfree; i++)
	{
		lsm_extent *e = &m->free[i];

		if (e->horizon > reusable_horizon || e->npages < npages)
			continue;
		*first = e->first;
		e->first += npages;
		e->npages -= npages;
		if (e->npages == 0)
			free_remove_at(m, i);
		return LSM_OK;
	}
	return LSM_NOT_FOUND;
}

uint64_t
lsm_manifest_clip_free(lsm_manifest *m, lsm_pageno npages)
{
	uint64_t	dropped = 0;

	/* The list is sorted by first page: what lies past the end is its tail. */
	while (m->nfree > 0 && extent_end(&m->free[m->nfree - 1]) > npages)
	{
		lsm_extent *e = &m->free[m->nfree - 1];

		if (e->first >= npages)
		{
			dropped += e->npages;
			m->nfree--;
			continue;
		}
		dropped += extent_end(e) - npages;
		e->npages = npages - e->first;
	}
	return dropped;
}

/* ---------------------------------------------------------------------
 * Invariants
 * ---------------------------------------------------------------------
 */

static lsm_status
fail(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static lsm_status
fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list		ap;

	if (msg && msglen)
	{
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return LSM_CORRUPT;
}

static lsm_status
check_run(const lsm_manifest *m, int level, const lsm_run_meta *r,
		  char *msg, size_t msglen)
{
	unsigned long long id = (unsigned long long) r->id;

	if (r->level != (uint32_t) level)
		return fail(msg, msglen, "run %llu at level %d says level %u", id,
					level, r->level);
	if (!run_keys_sane(r))
		return fail(msg, msglen, "run %llu has a key shorter than a trailer", id);
	if (lsm_ikey_compare(lsm_buf_slice(&r->smallest),
						 lsm_buf_slice(&r->largest)) > 0)
		return fail(msg, msglen, "run %llu: smallest key > largest key", id);
	if (r->id == 0 || r->id >= m->next_run_id)
		return fail(msg, msglen, "run %llu: id not in [1, next_run_id %llu)",
					id, (unsigned long long) m->next_run_id);
	if (r->npages == 0)
		return fail(msg, msglen, "run %llu has no pages", id);
	if (r->min_seq > r->max_seq)
		return fail(msg, msglen, "run %llu: min_seq > max_seq", id);
	if ((r->split_lo.len > 0) != (r->split_hi.len > 0))
		return fail(msg, msglen, "run %llu has one split key", id);
	if (lsm_run_meta_has_split(r) &&
		(lsm_slice_compare(lsm_ikey_user_key(lsm_buf_slice(&r->smallest)),
						   lsm_buf_slice(&r->split_lo)) > 0 ||
		 lsm_slice_compare(lsm_buf_slice(&r->split_lo),
						   lsm_buf_slice(&r->split_hi)) >= 0 ||
		 lsm_slice_compare(lsm_buf_slice(&r->split_hi),
						   lsm_ikey_user_key(lsm_buf_slice(&r->largest))) > 0))
		return fail(msg, msglen, "run %llu: split keys not inside its key range", id);
	return LSM_OK;
}

static lsm_status
check_level(const lsm_manifest *m, int level, char *msg, size_t msglen)
{
	const lsm_level *lv = &m->levels[level];

	if (lv->nruns < 0 || lv->nruns > lv->cap)
		return fail(msg, msglen, "level %d: bad run count", level);
	for (int i = 0; i < lv->nruns; i++)
	{
		const lsm_run_meta *r = &lv->runs[i];
		const lsm_run_meta *prev = i ? &lv->runs[i - 1] : NULL;
		lsm_status	st = check_run(m, level, r, msg, msglen);

		if (st != LSM_OK)
			return st;
		if (prev == NULL)
			continue;
		if (level == 0 && run_before(0, r, prev))
			return fail(msg, msglen, "level 0: run %llu out of order",
						(unsigned long long) r->id);
		if (level > 0 &&
			lsm_slice_compare(lsm_ikey_user_key(lsm_buf_slice(&prev->largest)),
							  lsm_ikey_user_key(lsm_buf_slice(&r->smallest))) >= 0)
			return fail(msg, msglen,
						"level %d: runs %llu and %llu overlap or are out of order",
						level, (unsigned long long) prev->id,
						(unsigned long long) r->id);
	}
	return LSM_OK;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return (x > y) - (x < y);
}

static int
extent_cmp(const void *a, const void *b)
{
	const lsm_extent *x = a;
	const lsm_extent *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/* Collects every run id and every extent (runs' and free) into arrays. */
static lsm_status
check_ids_and_extents(const lsm_manifest *m, char *msg, size_t msglen)
{
	int			nruns = lsm_manifest_nruns(m);
	uint64_t   *ids = malloc(((size_t) nruns + 1) * sizeof(uint64_t));
	lsm_extent *ext = malloc(((size_t) nruns + (size_t) m->nfree + 1) * sizeof(lsm_extent));
	lsm_status	st = LSM_OK;
	int			n = 0;
	int			ne = 0;

	if (ids == NULL || ext == NULL)
	{
		st = LSM_NO_MEMORY;
		goto done;
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
		{
			const lsm_run_meta *r = &m->levels[l].runs[i];
			lsm_extent	e = {r->first_page, r->npages, 0};

			ids[n++] = r->id;
			ext[ne++] = e;
		}
	for (int i = 0; i < m->nfree; i++)
	{
		if (m->free[i].npages == 0)
		{
			st = fail(msg, msglen, "free extent at page %u is empty", m->free[i].first);
			goto done;
		}
		if (i > 0 && m->free[i - 1].first >= m->free[i].first)
		{
			st = fail(msg, msglen, "free list not sorted at page %u", m->free[i].first);
			goto done;
		}
		ext[ne++] = m->free[i];
	}

	qsort(ids, (size_t) n, sizeof(uint64_t), u64_cmp);
	for (int i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
		{
			st = fail(msg, msglen, "run id %llu appears twice",
					  (unsigned long long) ids[i]);
			goto done;
		}

	qsort(ext, (size_t) ne, sizeof(lsm_extent), extent_cmp);
	for (int i = 0; i < ne; i++)
	{
		if (ext[i].first == 0)
		{
			st = fail(msg, msglen, "an extent covers page 0 (the metapage)");
			goto done;
		}
		if (extent_end(&ext[i]) > (uint64_t) UINT32_MAX + 1)
		{
			st = fail(msg, msglen, "extent at page %u runs past the last page number",
					  ext[i].first);
			goto done;
		}
		if (i > 0 && extent_end(&ext[i - 1]) > ext[i].first)
		{
			st = fail(msg, msglen, "extents at pages %u and %u overlap",
					  ext[i - 1].first, ext[i].first);
			goto done;
		}
	}
done:
	free(ids);
	free(ext);
	return st;
}

lsm_status
lsm_manifest_check(const lsm_manifest *m, char *msg, size_t msglen)
{
	lsm_status	st;

	if (msg && msglen)
		msg[0] = '\0';
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		if ((st = check_level(m, l, msg, msglen)) != LSM_OK)
			return st;
	if (m->nfree < 0 || m->nfree > m->free_cap)
		return fail(msg, msglen, "bad free extent count");
	return check_ids_and_extents(m, msg, msglen);
}

/* ---------------------------------------------------------------------
 * Serialisation
 * ---------------------------------------------------------------------
 */

static lsm_status
put_run(lsm_buf *b, const lsm_run_meta *r)
{
	const uint64_t fields[] = {
		r->id, r->first_page, r->npages, r->nbytes, r->nentries,
		r->min_seq, r->max_seq, r->aux, r->aux2
	};
	lsm_status	st;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((st = lsm_buf_put_varint(b, fields[i])) != LSM_OK)
			return st;
	if ((st = lsm_buf_put_slice(b, lsm_buf_slice(&r->smallest))) != LSM_OK ||
		(st = lsm_buf_put_slice(b, lsm_buf_slice(&r->largest))) != LSM_OK ||
		(st = lsm_buf_put_slice(b, lsm_buf_slice(&r->split_lo))) != LSM_OK)
		return st;
	return lsm_buf_put_slice(b, lsm_buf_slice(&r->split_hi));
}

static lsm_status
put_body(lsm_buf *b, const lsm_manifest *m)
{
	const uint64_t head[] = {
		m->version, m->next_run_id, m->last_seq, m->flushed_seq,
		m->log_head, m->aux, LSM_MAX_LEVELS
	};
	lsm_status	st;

	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		if ((st = lsm_buf_put_varint(b, head[i])) != LSM_OK)
			return st;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		if ((st = lsm_buf_put_varint(b, (uint64_t) m->levels[l].nruns)) != LSM_OK)
			return st;
		for (int i = 0; i < m->levels[l].nruns; i++)
			if ((st = put_run(b, &m->levels[l].runs[i])) != LSM_OK)
				return st;
	}
	if ((st = lsm_buf_put_varint(b, (uint64_t) m->nfree)) != LSM_OK)
		return st;
	for (int i = 0; i < m->nfree; i++)
	{
		if ((st = lsm_buf_put_varint(b, m->free[i].first)) != LSM_OK ||
			(st = lsm_buf_put_varint(b, m->free[i].npages)) != LSM_OK ||
			(st = lsm_buf_put_varint(b, m->free[i].horizon)) != LSM_OK)
			return st;
	}
	return LSM_OK;
}

lsm_status
lsm_manifest_serialize(const lsm_manifest *m, lsm_buf *out)
{
	size_t		start = out->len;
	size_t		body_len;
	lsm_status	st;
	uint8_t		word[8];

	if ((st = lsm_buf_reserve(out, MANIFEST_HEADER)) != LSM_OK)
		return st;
	out->len += MANIFEST_HEADER;
	if ((st = put_body(out, m)) != LSM_OK)
		goto fail;
	body_len = out->len - start - MANIFEST_HEADER;
	if (body_len > UINT32_MAX)
	{
		st = LSM_INVALID;
		goto fail;
	}
	lsm_put_u32(out->data + start, LSM_MANIFEST_MAGIC);
	lsm_put_u32(out->data + start + 4, (uint32_t) body_len);
	lsm_put_u64(word, XXH3_64bits(out->data + start + MANIFEST_HEADER, body_len));
	if ((st = lsm_buf_append(out, word, sizeof(word))) != LSM_OK)
		goto fail;
	return LSM_OK;

fail:
	out->len = start;
	return st;
}

/* A bounds-checked reader over the body. */
typedef struct reader
{
	const uint8_t *p;
	const uint8_t *end;
	bool		bad;
} reader;

static uint64_t
get_u64(reader *r)
{
	uint64_t	v = 0;

	if (r->bad)
		return 0;
	r->p = lsm_get_varint(r->p, r->end, &v);
	if (r->p == NULL)
	{
		r->bad = true;
		return 0;
	}
	return v;
}

static uint32_t
get_u32(reader *r)
{
	uint64_t	v = get_u64(r);

	if (v > UINT32_MAX)
		r->bad = true;
	return (uint32_t) v;
}

/*
 * Reads a count of items, each needing at least min_bytes of body: a count
 * the remaining bytes cannot hold is corrupt, which bounds every allocation
 * by the input's size.
 */
static int
get_count(reader *r, size_t min_bytes)
{
	uint64_t	v = get_u64(r);

	if (r->bad || v > (uint64_t) (r->end - r->p) / min_bytes || v > INT32_MAX / 2)
	{
		r->bad = true;
		return 0;
	}
	return (int) v;
}

static void
get_key(reader *r, lsm_buf *dst)
{
	lsm_slice	s;

	if (r->bad)
		return;
	r->p = lsm_get_slice(r->p, r->end, &s);
	if (r->p == NULL)
	{
		r->bad = true;
		return;
	}
	if (lsm_buf_set(dst, s.data, s.len) != LSM_OK)
		r->bad = true;
}

/* Smallest encoding of a run: eight one-byte varints and two keys. */
#define MIN_RUN_BYTES (8 + 2 * (1 + LSM_IKEY_TRAILER))

static lsm_status
get_level(reader *r, lsm_manifest *m, int level, bool splits)
{
	lsm_level  *lv = &m->levels[level];
	int			n = get_count(r, MIN_RUN_BYTES);

	if (r->bad || level_reserve(lv, n) != LSM_OK)
		return LSM_CORRUPT;
	for (int i = 0; i < n; i++)
	{
		lsm_run_meta *run = &lv->runs[i];

		memset(run, 0, sizeof(*run));
		lv->nruns++;			/* counted now so free() releases its keys */
		run->level = (uint32_t) level;
		run->id = get_u64(r);
		run->first_page = get_u32(r);
		run->npages = get_u32(r);
		run->nbytes = get_u64(r);
		run->nentries = get_u64(r);
		run->min_seq = get_u64(r);
		run->max_seq = get_u64(r);
		run->aux = get_u64(r);
		run->aux2 = get_u64(r);
		get_key(r, &run->smallest);
		get_key(r, &run->largest);
		if (splits)
		{
			get_key(r, &run->split_lo);
			get_key(r, &run->split_hi);
		}
		if (r->bad)
			return LSM_CORRUPT;
	}
	return LSM_OK;
}

static lsm_status
get_body(reader *r, lsm_manifest *m, bool splits)
{
	int			nlevels;

	m->version = get_u64(r);
	m->next_run_id = get_u64(r);
	m->last_seq = get_u64(r);
	m->flushed_seq = get_u64(r);
	m->log_head = get_u32(r);
	m->aux = get_u64(r);
	nlevels = get_count(r, 1);
	if (r->bad || nlevels > LSM_MAX_LEVELS)
		return LSM_CORRUPT;
	for (int l = 0; l < nlevels; l++)
		if (get_level(r, m, l, splits) != LSM_OK)
			return LSM_CORRUPT;

	m->nfree = 0;
	{
		int			n = get_count(r, 3);

		if (r->bad || free_reserve(m, n) != LSM_OK)
			return LSM_CORRUPT;
		for (int i = 0; i < n; i++)
		{
			m->free[i].first = get_u32(r);
			m->free[i].npages = get_u32(r);
			m->free[i].horizon = get_u64(r);
		}
		m->nfree = n;
	}
	if (r->bad || r->p != r->end)
		return LSM_CORRUPT;
	return LSM_OK;
}

lsm_status
lsm_manifest_deserialize(lsm_slice data, lsm_manifest *m)
{
	uint32_t	body_len;
	uint32_t	magic;
	reader		r;
	lsm_status	st;

	lsm_manifest_init(m);
	if (data.len < MANIFEST_HEADER + MANIFEST_TRAILER)
		return LSM_CORRUPT;
	magic = lsm_get_u32(data.data);
	if (magic != LSM_MANIFEST_MAGIC && magic != LSM_MANIFEST_MAGIC_V1)
		return LSM_CORRUPT;
	body_len = lsm_get_u32(data.data + 4);
	/* Bytes after the checksum (a page's zero tail) are ignored. */
	if (body_len > data.len - MANIFEST_HEADER - MANIFEST_TRAILER)
		return LSM_CORRUPT;
	r.p = data.data + MANIFEST_HEADER;
	r.end = r.p + body_len;
	r.bad = false;
	if (XXH3_64bits(r.p, body_len) != lsm_get_u64(r.end))
		return LSM_CORRUPT;

	st = get_body(&r, m, magic == LSM_MANIFEST_MAGIC);
	if (st == LSM_OK)
		st = lsm_manifest_check(m, NULL, 0);
	if (st != LSM_OK)
	{
		lsm_manifest_free(m);
		return st == LSM_NO_MEMORY ? st : LSM_CORRUPT;
	}
	return LSM_OK;
}
