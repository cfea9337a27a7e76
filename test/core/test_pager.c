/*
 * test_pager.c - the file pager (page checksums, growth, partial writes) and
 * the stream helpers that lay runs over page payloads.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_pager.h"
#include "tap.h"

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* What the reading hook was last told. */
static lsm_pageno seen_first;
static lsm_pageno seen_last;
static int	seen_calls;

static void
note_reading(lsm_pager *p, lsm_pageno first, lsm_pageno last)
{
	seen_first = first;
	seen_last = last;
	seen_calls++;
}

static void
poke(const char *path, off_t off, uint8_t xor)
{
	int			fd = open(path, O_RDWR);
	uint8_t		b;

	if (pread(fd, &b, 1, off) != 1)
		b = 0;
	b ^= xor;
	if (pwrite(fd, &b, 1, off) != 1)
		diag("poke failed");
	close(fd);
}

int
main(void)
{
	char		path[] = "/tmp/lsm_test_pager_XXXXXX";
	int			tmpfd = mkstemp(path);
	lsm_file_pager *fp;
	lsm_pager  *p;
	const uint8_t *payload;
	void	   *h;
	size_t		psz;
	size_t		slen;
	uint8_t    *src;
	uint8_t    *dst;
	size_t		bad = 0;
	uint8_t		page1_copy[LSM_PAGE_SIZE];
	const uint8_t *held;

	close(tmpfd);
	is_int(lsm_file_pager_open(path, &fp), LSM_OK, "open an empty file");
	p = lsm_file_pager_base(fp);
	psz = p->payload_size;
	is_int(psz, LSM_PAGE_SIZE - LSM_FILE_PAGE_HEADER, "payload is the page minus its header");
	is_int(p->ops->npages(p), 0, "empty file has no pages");
	is_int(p->ops->get(p, 0, &payload, &h), LSM_IO_ERROR, "reading past the end fails");

	/* A stream of 3.5 pages at page 1; page 0 stays a hole. */
	slen = psz * 3 + psz / 2;
	src = malloc(slen);
	dst = malloc(slen);
	for (size_t i = 0; i < slen; i++)
		src[i] = (uint8_t) rnd();
	is_int(lsm_stream_pages(p, slen), 4, "3.5 payloads need 4 pages");
	is_int(lsm_pager_write_stream(p, 1, lsm_slice_make(src, slen)), LSM_OK, "write a stream");
	is_int(p->ops->npages(p), 5, "file has 5 pages");
	for (int i = 0; i < 2000; i++)
	{
		size_t		off = rnd() % slen;
		size_t		len = rnd() % (slen - off + 1);

		if (lsm_pager_read_stream(p, 1, off, dst, len) != LSM_OK ||
			memcmp(dst, src + off, len) != 0)
			bad++;
	}
	is_int(bad, 0, "2000 random stream reads across page boundaries match");
	is_int(lsm_pager_read_stream(p, 1, 0, dst, slen), LSM_OK, "read the whole stream");
	ok(memcmp(dst, src, slen) == 0, "whole stream matches");
	{
		/* The reading hook names exactly the pages of each stream read. */
		const lsm_pager_ops *plain = p->ops;
		lsm_pager_ops hooked = *plain;

		hooked.reading = note_reading;
		p->ops = &hooked;
		lsm_pager_read_stream(p, 1, psz - 10, dst, 20);
		ok(seen_first == 1 && seen_last == 2, "a read across a page boundary names both pages");
		lsm_pager_read_stream(p, 1, psz * 2, dst, psz);
		ok(seen_first == 3 && seen_last == 3, "a read of one whole payload names one page");
		lsm_pager_read_stream(p, 1, 5, dst, 0);
		is_int(seen_calls, 2, "an empty read reads no page and is not reported");
		p->ops = plain;
	}
	is_int(p->ops->get(p, 4, &payload, &h), LSM_OK, "last page reads");
	{
		bool		zeros = true;

		for (size_t i = psz / 2; i < psz; i++)
			zeros &= payload[i] == 0;
		ok(zeros, "tail of the last page is zero-filled");
	}
	p->ops->release(p, h);
	is_int(lsm_pager_read_stream(p, 1, slen, dst, psz), LSM_IO_ERROR, "reading past the file fails");
	is_int(lsm_pager_read_stream(p, 1, (uint64_t) psz * UINT32_MAX, dst, 1), LSM_CORRUPT,
		   "stream offset beyond 2^32 pages is rejected");
	is_int(p->ops->get(p, 0, &payload, &h), LSM_CORRUPT, "a never-written page is CORRUPT");
	is_int(lsm_pager_write_stream(p, 9, lsm_slice_make(src, 0)), LSM_OK, "empty stream writes nothing");
	is_int(p->ops->npages(p), 5, "still 5 pages");

	/* Pointers handed out stay valid when the file outgrows the mapping. */
	p->ops->get(p, 1, &held, &h);
	memcpy(page1_copy, held, psz);
	for (lsm_pageno pg = 5; pg < 400; pg++)
	{
		memset(dst, (int) pg, psz);
		if (p->ops->write(p, pg, dst) != LSM_OK)
			bad++;
	}
	is_int(p->ops->get(p, 399, &payload, &h), LSM_OK, "page 399 reads after growth");
	ok(payload[0] == (uint8_t) 399 && payload[psz - 1] == (uint8_t) 399, "page 399 has its contents");
	ok(memcmp(held, page1_copy, psz) == 0, "pointer from before the remap still reads page 1");

	/* Rewriting a verified page: the new contents are what a get sees. */
	memset(dst, 0xab, psz);
	p->ops->write(p, 7, dst);
	p->ops->get(p, 7, &payload, &h);
	ok(payload[100] == 0xab, "rewritten page reads new contents");

	/* Partial writes: log pages, read raw. */
	is_int(lsm_file_pager_write_partial(fp, 500, 100, "hello", 5), LSM_OK, "partial write past the end");
	is_int(p->ops->npages(p), 501, "file extended to whole pages");
	is_int(lsm_file_pager_get_raw(fp, 500, &payload), LSM_OK, "get_raw of the log page");
	ok(memcmp(payload + 100, "hello", 5) == 0 && payload[99] == 0 && payload[105] == 0,
	   "partial bytes in place, rest zero");
	lsm_file_pager_write_partial(fp, 500, 105, " world", 6);
	lsm_file_pager_get_raw(fp, 500, &payload);
	ok(memcmp(payload + 100, "hello world", 11) == 0, "second append lands after the first");
	is_int(p->ops->get(p, 500, &payload, &h), LSM_CORRUPT, "checked get of a partially written page fails its checksum");
	is_int(lsm_file_pager_write_partial(fp, 500, psz - 2, "abc", 3), LSM_INVALID, "partial write past the payload refused");
	is_int(lsm_file_pager_get_raw(fp, 501, &payload), LSM_IO_ERROR, "get_raw past the end fails");
	is_int(lsm_file_pager_sync(fp), LSM_OK, "sync");
	lsm_file_pager_close(fp);

	/* Reopen: page count from the file size; corruption caught on read. */
	poke(path, 2 * LSM_PAGE_SIZE + 5000, 0x01);	/* payload byte of page 2 */
	poke(path, 3 * LSM_PAGE_SIZE + 1, 0x10);	/* magic of page 3 */
	poke(path, 6 * LSM_PAGE_SIZE + 4, 0x01);	/* page number of page 6 */
	poke(path, 8 * LSM_PAGE_SIZE + 9, 0x80);	/* checksum of page 8 */
	is_int(lsm_file_pager_open(path, &fp), LSM_OK, "reopen");
	p = lsm_file_pager_base(fp);
	is_int(p->ops->npages(p), 501, "501 pages after reopen");
	is_int(p->ops->get(p, 2, &payload, &h), LSM_CORRUPT, "flipped payload bit: CORRUPT");
	is_int(p->ops->get(p, 3, &payload, &h), LSM_CORRUPT, "bad magic: CORRUPT");
	is_int(p->ops->get(p, 6, &payload, &h), LSM_CORRUPT, "wrong page number: CORRUPT");
	is_int(p->ops->get(p, 8, &payload, &h), LSM_CORRUPT, "bad stored checksum: CORRUPT");
	is_int(lsm_pager_read_stream(p, 1, 0, dst, slen), LSM_CORRUPT, "stream over a corrupt page: CORRUPT");
	is_int(p->ops->get(p, 1, &payload, &h), LSM_OK, "intact page 1 still reads");
	ok(memcmp(payload, src, psz) == 0, "with its contents");
	is_int(p->ops->get(p, 1, &payload, &h), LSM_OK, "second read of a verified page");
	lsm_file_pager_close(fp);

	/* A torn extension (file not a multiple of the page size) is ignored. */
	{
		int			fd = open(path, O_RDWR);

		if (ftruncate(fd, 501 * LSM_PAGE_SIZE + 100) != 0)
			diag("ftruncate failed");
		close(fd);
	}
	lsm_file_pager_open(path, &fp);
	p = lsm_file_pager_base(fp);
	is_int(p->ops->npages(p), 501, "partial trailing page not counted");
	memset(dst, 7, psz);
	is_int(p->ops->write(p, 501, dst), LSM_OK, "overwrite the torn page");
	is_int(p->ops->get(p, 501, &payload, &h), LSM_OK, "and read it back");
	ok(payload[0] == 7, "with its contents");
	lsm_file_pager_close(fp);

	unlink(path);
	free(src);
	free(dst);
	is_int(bad, 0, "no write failed");
	return done_testing();
}
