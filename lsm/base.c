/*
 * base.c - status strings, slice comparison and the growable buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "lsm_base.h"

const char *
lsm_status_str(lsm_status st)
{
	switch (st)
	{
		case LSM_OK:
			return "ok";
		case LSM_NOT_FOUND:
			return "not found";
		case LSM_CORRUPT:
			return "corrupt data";
		case LSM_IO_ERROR:
			return "I/O error";
		case LSM_FULL:
			return "memtable full";
		case LSM_INVALID:
			return "invalid argument";
		case LSM_NO_MEMORY:
			return "out of memory";
		case LSM_ABORTED:
			return "aborted by a callback";
	}
	return "unknown status";
}

int
lsm_slice_compare(lsm_slice a, lsm_slice b)
{
	size_t		n = a.len < b.len ? a.len : b.len;
	int			c = n ? memcmp(a.data, b.data, n) : 0;

	if (c != 0)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

lsm_status
lsm_buf_reserve(lsm_buf *b, size_t extra)
{
	size_t		need = b->len + extra;
	size_t		cap;
	uint8_t    *p;

	if (need <= b->cap)
		return LSM_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return LSM_NO_MEMORY;
	b->data = p;
	b->cap = cap;
	return LSM_OK;
}

lsm_status
lsm_buf_append(lsm_buf *b, const void *p, size_t n)
{
	lsm_status	st = lsm_buf_reserve(b, n);

	if (st != LSM_OK)
		return st;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return LSM_OK;
}

lsm_status
lsm_buf_set(lsm_buf *b, const void *p, size_t n)
{
	b->len = 0;
	return lsm_buf_append(b, p, n);
}

void
lsm_buf_free(lsm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

lsm_status
lsm_buf_put_varint(lsm_buf *b, uint64_t v)
{
	lsm_status	st = lsm_buf_reserve(b, 10);

	if (st != LSM_OK)
		return st;
	b->len = (size_t) (lsm_put_varint(b->data + b->len, v) - b->data);
	return LSM_OK;
}

lsm_status
lsm_buf_put_slice(lsm_buf *b, lsm_slice s)
{
	lsm_status	st = lsm_buf_put_varint(b, s.len);

	if (st != LSM_OK)
		return st;
	return lsm_buf_append(b, s.data, s.len);
}

const uint8_t *
lsm_get_slice(const uint8_t *p, const uint8_t *end, lsm_slice *s)
{
	uint64_t	len;

	p = lsm_get_varint(p, end, &len);
	if (p == NULL || len > (uint64_t) (end - p))
		return NULL;
	*s = lsm_slice_make(p, (size_t) len);
	return p + len;
}
