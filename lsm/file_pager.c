/*
 * file_pager.c - the pager over a plain file of 8 KiB pages.
 *
 * Page layout: magic (u32) | page number (u32) | xxh3-64 of the payload (u64)
 * | payload.  The page number catches pages written to the wrong place, the
 * checksum catches everything else.  A page is verified the first time it is
 * read after open, then remembered in a byte map, so the hot read path is a
 * bounds check and a pointer into the mapping.
 *
 * Reads go through a read-only shared mapping of the file.  When the file
 * outgrows it we map it again, larger, but keep the old mapping until close:
 * callers may still hold payload pointers into it.  Mappings grow by
 * doubling, so the retired ones add up to less than the live one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "coding.h"
#include "file_pager.h"

#define PAGE_MAGIC UINT32_C(0x504d534c)	/* "LSMP" */
#define PAYLOAD_SIZE (LSM_PAGE_SIZE - LSM_FILE_PAGE_HEADER)

typedef struct old_map
{
	void	   *addr;
	size_t		len;
} old_map;

struct lsm_file_pager
{
	lsm_pager	base;
	int			fd;
	lsm_pageno	npages;
	uint8_t    *map;
	size_t		maplen;
	old_map    *old;
	size_t		nold;
	uint8_t    *verified;		/* one byte per page: checksum seen good */
	size_t		nverified;
};

static lsm_status
pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len > 0)
	{
		ssize_t		n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return LSM_IO_ERROR;
		p += n;
		len -= (size_t) n;
		off += n;
	}
	return LSM_OK;
}

/* Picks up pages another handle on the file may have added. */
static lsm_status
refresh_npages(lsm_file_pager *fp)
{
	struct stat sb;
	uint64_t	n;

	if (fstat(fp->fd, &sb) != 0)
		return LSM_IO_ERROR;
	n = (uint64_t) sb.st_size / LSM_PAGE_SIZE;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	if (n > fp->npages)
		fp->npages = (lsm_pageno) n;
	return LSM_OK;
}

/* Maps at least the first npages pages. */
static lsm_status
remap(lsm_file_pager *fp)
{
	size_t		need = (size_t) fp->npages * LSM_PAGE_SIZE;
	size_t		len = fp->maplen ? fp->maplen * 2 : 64 * LSM_PAGE_SIZE;
	void	   *addr;

	while (len < need)
		len *= 2;
	if (fp->map != NULL)
	{
		old_map    *o = realloc(fp->old, (fp->nold + 1) * sizeof(old_map));

		if (o == NULL)
			return LSM_NO_MEMORY;
		fp->old = o;
	}
	addr = mmap(NULL, len, PROT_READ, MAP_SHARED, fp->fd, 0);
	if (addr == MAP_FAILED)
		return LSM_IO_ERROR;
	if (fp->map != NULL)
		fp->old[fp->nold++] = (old_map) {fp->map, fp->maplen};
	fp->map = addr;
	fp->maplen = len;
	return LSM_OK;
}

/* Address of page pageno in the mapping, or an error if it does not exist. */
static lsm_status
page_addr(lsm_file_pager *fp, lsm_pageno pageno, const uint8_t **page)
{
	lsm_status	st;

	if (pageno >= fp->npages)
	{
		if ((st = refresh_npages(fp)) != LSM_OK)
			return st;
		if (pageno >= fp->npages)
			return LSM_IO_ERROR;
	}
	if (((size_t) pageno + 1) * LSM_PAGE_SIZE > fp->maplen &&
		(st = remap(fp)) != LSM_OK)
		return st;
	*page = fp->map + (size_t) pageno * LSM_PAGE_SIZE;
	return LSM_OK;
}

static bool
page_ok(const uint8_t *page, lsm_pageno pageno)
{
	return lsm_get_u32(page) == PAGE_MAGIC &&
		lsm_get_u32(page + 4) == pageno &&
		lsm_get_u64(page + 8) == XXH3_64bits(page + LSM_FILE_PAGE_HEADER, PAYLOAD_SIZE);
}

/* Remembers that pageno checked out; failure to grow the map only costs a
 * re-check later. */
static void
mark_verified(lsm_file_pager *fp, lsm_pageno pageno)
{
	if (pageno >= fp->nverified)
	{
		size_t		n = fp->nverified ? fp->nverified : 1024;
		uint8_t    *v;

		while (n <= pageno)
			n *= 2;
		v = realloc(fp->verified, n);
		if (v == NULL)
			return;
		memset(v + fp->nverified, 0, n - fp->nverified);
		fp->verified = v;
		fp->nverified = n;
	}
	fp->verified[pageno] = 1;
}

static void
forget_verified(lsm_file_pager *fp, lsm_pageno pageno)
{
	if (pageno < fp->nverified)
		fp->verified[pageno] = 0;
}

static lsm_status
fp_get(lsm_pager *p, lsm_pageno pageno, const uint8_t **payload, void **handle)
{
	lsm_file_pager *fp = (lsm_file_pager *) p;
	const uint8_t *page;
	lsm_status	st = page_addr(fp, pageno, &page);

	if (st != LSM_OK)
		return st;
	if (pageno >= fp->nverified || !fp->verified[pageno])
	{
		/* A page never written is all zeros and fails the magic check. */
		if (!page_ok(page, pageno))
			return LSM_CORRUPT;
		mark_verified(fp, pageno);
	}
	*payload = page + LSM_FILE_PAGE_HEADER;
	*handle = NULL;
	return LSM_OK;
}

static void
fp_release(lsm_pager *p, void *handle)
{
	(void) p;
	(void) handle;
}

static void
fill_header(uint8_t *page, lsm_pageno pageno)
{
	lsm_put_u32(page, PAGE_MAGIC);
	lsm_put_u32(page + 4, pageno);
	lsm_put_u64(page + 8, XXH3_64bits(page + LSM_FILE_PAGE_HEADER, PAYLOAD_SIZE));
}

static lsm_status
fp_write(lsm_pager *p, lsm_pageno pageno, const uint8_t *payload)
{
	lsm_file_pager *fp = (lsm_file_pager *) p;
	uint8_t		page[LSM_PAGE_SIZE];
	lsm_status	st;

	memcpy(page + LSM_FILE_PAGE_HEADER, payload, PAYLOAD_SIZE);
	fill_header(page, pageno);
	forget_verified(fp, pageno);
	st = pwrite_all(fp->fd, page, LSM_PAGE_SIZE, (off_t) pageno * LSM_PAGE_SIZE);
	if (st != LSM_OK)
		return st;
	if (pageno >= fp->npages)
		fp->npages = pageno + 1;
	return LSM_OK;
}

static lsm_pageno
fp_npages(lsm_pager *p)
{
	lsm_file_pager *fp = (lsm_file_pager *) p;

	refresh_npages(fp);
	return fp->npages;
}

static const lsm_pager_ops file_pager_ops = {
	fp_get, fp_release, fp_write, fp_npages, NULL
};

lsm_status
lsm_file_pager_open(const char *path, lsm_file_pager **out)
{
	lsm_file_pager *fp = calloc(1, sizeof(lsm_file_pager));
	lsm_status	st;

	*out = NULL;
	if (fp == NULL)
		return LSM_NO_MEMORY;
	fp->base.ops = &file_pager_ops;
	fp->base.payload_size = PAYLOAD_SIZE;
	fp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fp->fd < 0)
	{
		free(fp);
		return LSM_IO_ERROR;
	}
	if ((st = refresh_npages(fp)) != LSM_OK)
	{
		close(fp->fd);
		free(fp);
		return st;
	}
	*out = fp;
	return LSM_OK;
}

lsm_pager *
lsm_file_pager_base(lsm_file_pager *fp)
{
	return &fp->base;
}

/*
 * Log pages are appended to in place.  A page past the end is first written
 * whole (header, zero payload) so the file always ends on a page boundary and
 * the mapping never covers a partial page.
 */
lsm_status
lsm_file_pager_write_partial(lsm_file_pager *fp, lsm_pageno pageno,
							 size_t off, const void *src, size_t len)
{
	lsm_status	st;

	if (off > PAYLOAD_SIZE || len > PAYLOAD_SIZE - off)
		return LSM_INVALID;
	if (pageno >= fp->npages)
	{
		uint8_t		zero[PAYLOAD_SIZE];

		memset(zero, 0, sizeof(zero));
		if ((st = fp_write(&fp->base, pageno, zero)) != LSM_OK)
			return st;
	}
	forget_verified(fp, pageno);
	return pwrite_all(fp->fd, src, len,
					  (off_t) pageno * LSM_PAGE_SIZE + LSM_FILE_PAGE_HEADER + (off_t) off);
}

lsm_status
lsm_file_pager_get_raw(lsm_file_pager *fp, lsm_pageno pageno,
					   const uint8_t **payload)
{
	const uint8_t *page;
	lsm_status	st = page_addr(fp, pageno, &page);

	if (st != LSM_OK)
		return st;
	*payload = page + LSM_FILE_PAGE_HEADER;
	return LSM_OK;
}

lsm_status
lsm_file_pager_sync(lsm_file_pager *fp)
{
	return fsync(fp->fd) == 0 ? LSM_OK : LSM_IO_ERROR;
}

void
lsm_file_pager_close(lsm_file_pager *fp)
{
	if (fp == NULL)
		return;
	for (size_t i = 0; i < fp->nold; i++)
		munmap(fp->old[i].addr, fp->old[i].len);
	if (fp->map != NULL)
		munmap(fp->map, fp->maplen);
	close(fp->fd);
	free(fp->old);
	free(fp->verified);
	free(fp);
}
