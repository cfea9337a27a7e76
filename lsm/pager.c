/*
 * pager.c - byte streams laid over consecutive page payloads.
 *
 * A run is one stream over an extent of pages; these helpers hide the page
 * boundaries so sstable.c deals only in stream offsets.
 */
#include <string.h>

#include "pager.h"

lsm_status
lsm_pager_read_stream(lsm_pager *p, lsm_pageno first, uint64_t off,
					  void *dst, size_t len)
{
	uint8_t    *out = dst;
	uint64_t	page = first + off / p->payload_size;
	size_t		poff = (size_t) (off % p->payload_size);

	if (p->ops->reading != NULL && len > 0)
	{
		uint64_t	last = first + (off + len - 1) / p->payload_size;

		if (last <= UINT32_MAX)
			p->ops->reading(p, (lsm_pageno) page, (lsm_pageno) last);
	}
	while (len > 0)
	{
		size_t		n = p->payload_size - poff;
		const uint8_t *payload;
		void	   *handle;
		lsm_status	st;

		/* A wild offset must not wrap around to some other page. */
		if (page > UINT32_MAX)
			return LSM_CORRUPT;
		st = p->ops->get(p, (lsm_pageno) page, &payload, &handle);
		if (st != LSM_OK)
			return st;
		if (n > len)
			n = len;
		memcpy(out, payload + poff, n);
		p->ops->release(p, handle);
		out += n;
		len -= n;
		poff = 0;
		page++;
	}
	return LSM_OK;
}

lsm_status
lsm_pager_write_stream(lsm_pager *p, lsm_pageno first, lsm_slice stream)
{
	uint8_t		last[LSM_PAGE_SIZE];
	uint32_t	npages = lsm_stream_pages(p, stream.len);

	if (p->payload_size == 0 || p->payload_size > LSM_PAGE_SIZE ||
		(uint64_t) first + npages > (uint64_t) UINT32_MAX + 1)
		return LSM_INVALID;
	for (uint32_t i = 0; i < npages; i++)
	{
		size_t		off = (size_t) i * p->payload_size;
		size_t		n = stream.len - off;
		const uint8_t *src = stream.data + off;
		lsm_status	st;

		/* Only the last page needs a zero-filled copy. */
		if (n < p->payload_size)
		{
			memcpy(last, src, n);
			memset(last + n, 0, p->payload_size - n);
			src = last;
		}
		st = p->ops->write(p, first + i, src);
		if (st != LSM_OK)
			return st;
	}
	return LSM_OK;
}
