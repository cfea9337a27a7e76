/*
 * lsm_base.h - status codes, byte slices and growable buffers shared by the
 * whole LSM core.  Plain C11; the core never includes a PostgreSQL header.
 */
#ifndef LSM_BASE_H
#define LSM_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every fallible core function returns one of these. */
typedef enum lsm_status
{
	LSM_OK = 0,
	LSM_NOT_FOUND = 1,			/* not an error: key absent */
	LSM_CORRUPT = -1,			/* checksum, magic, length or order check failed */
	LSM_IO_ERROR = -2,			/* the pager could not read or write */
	LSM_FULL = -3,				/* memtable region has no room for the entry */
	LSM_INVALID = -4,			/* bad argument from the caller */
	LSM_NO_MEMORY = -5,			/* malloc failed */
	LSM_ABORTED = -6			/* a caller's callback asked to stop */
} lsm_status;

const char *lsm_status_str(lsm_status st);

/* A borrowed byte range; never owns its memory. */
typedef struct lsm_slice
{
	const uint8_t *data;
	size_t		len;
} lsm_slice;

static inline lsm_slice
lsm_slice_make(const void *data, size_t len)
{
	lsm_slice	s = {(const uint8_t *) data, len};

	return s;
}

/* memcmp order, a shorter prefix sorting first. */
int			lsm_slice_compare(lsm_slice a, lsm_slice b);

/* A growable, owned byte buffer. Zero-initialise, then use. */
typedef struct lsm_buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} lsm_buf;

lsm_status	lsm_buf_reserve(lsm_buf *b, size_t extra);
lsm_status	lsm_buf_append(lsm_buf *b, const void *p, size_t n);
lsm_status	lsm_buf_set(lsm_buf *b, const void *p, size_t n);
void		lsm_buf_free(lsm_buf *b);

static inline lsm_slice
lsm_buf_slice(const lsm_buf *b)
{
	return lsm_slice_make(b->data, b->len);
}

#endif							/* LSM_BASE_H */
