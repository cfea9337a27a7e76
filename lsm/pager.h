/*
 * pager.h - how the core reads and writes 8 KiB pages.
 *
 * The core never sees a page header: a pager exposes each page's payload
 * (payload_size bytes).  In PostgreSQL the pager sits on the buffer manager
 * and WAL-logs what it writes; in lsm/file_pager.c it is a plain file.  Page
 * 0 is the metapage and belongs to the pager's owner, not to runs.
 *
 * Allocation of extents is not the pager's job: the owner of the metapage
 * (the standalone lsm_db, or the table AM) decides where a run goes.
 */
#ifndef LSM_PAGER_H
#define LSM_PAGER_H

#include "lsm_base.h"

#define LSM_PAGE_SIZE 8192

typedef uint32_t lsm_pageno;
typedef struct lsm_pager lsm_pager;

typedef struct lsm_pager_ops
{
	/*
	 * Pins page pageno and sets *payload to its payload (read-only) and
	 * *handle to what release() needs.  Pages past the end read as an error.
	 */
	lsm_status	(*get) (lsm_pager *p, lsm_pageno pageno,
						const uint8_t **payload, void **handle);
	void		(*release) (lsm_pager *p, void *handle);

	/*
	 * Writes a whole page's payload (payload_size bytes), extending the file
	 * if pageno is at or past its end.  Runs use this for pages written once.
	 */
	lsm_status	(*write) (lsm_pager *p, lsm_pageno pageno, const uint8_t *payload);

	/* Number of pages the store holds now. */
	lsm_pageno	(*npages) (lsm_pager *p);

	/*
	 * Optional (may be NULL): told the pages [first, last] of each stream
	 * read before they are got, so that an owner whose checksum check of
	 * what was read fails can name the pages that hold it.
	 */
	void		(*reading) (lsm_pager *p, lsm_pageno first, lsm_pageno last);
} lsm_pager_ops;

struct lsm_pager
{
	const lsm_pager_ops *ops;
	size_t		payload_size;	/* usable bytes per page, same for every page */
};

/* Copies len bytes of the byte stream laid over pages [first, ...) starting
 * at stream offset off into dst.  A stream of a run spans payloads of
 * consecutive pages. */
lsm_status	lsm_pager_read_stream(lsm_pager *p, lsm_pageno first,
								  uint64_t off, void *dst, size_t len);

/* Writes a whole byte stream over pages [first, first + npages); the tail
 * of the last page is zero-filled.  npages must be lsm_stream_pages(). */
lsm_status	lsm_pager_write_stream(lsm_pager *p, lsm_pageno first,
								   lsm_slice stream);

static inline uint32_t
lsm_stream_pages(const lsm_pager *p, uint64_t nbytes)
{
	return (uint32_t) ((nbytes + p->payload_size - 1) / p->payload_size);
}

#endif							/* LSM_PAGER_H */
