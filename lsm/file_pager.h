/*
 * file_pager.h - a pager over one file of 8 KiB pages, like a relation's
 * main fork, so the core can be tested and benchmarked without PostgreSQL.
 *
 * Each page starts with a 16-byte header (magic, page number, xxh3 of the
 * payload) which is checked on first read of the page, the way data checksums
 * work in PostgreSQL.  Reads go through a read-only mmap of the file; writes
 * use pwrite.  Not thread-safe: one user at a time.
 */
#ifndef LSM_FILE_PAGER_H
#define LSM_FILE_PAGER_H

#include "pager.h"

#define LSM_FILE_PAGE_HEADER 16

typedef struct lsm_file_pager lsm_file_pager;

/* Opens (creating if needed) path.  *out's first member is an lsm_pager. */
lsm_status	lsm_file_pager_open(const char *path, lsm_file_pager **out);
lsm_pager  *lsm_file_pager_base(lsm_file_pager *fp);

/* Writes only bytes [off, off + len) of page pageno's payload, leaving the
 * rest as it is (used to append log records without rewriting the page).
 * The page header checksum is not maintained for such pages: pages written
 * this way must be read with get_raw. */
lsm_status	lsm_file_pager_write_partial(lsm_file_pager *fp, lsm_pageno pageno,
										 size_t off, const void *src, size_t len);
/* Like pager get, without verifying the page checksum (for log pages). */
lsm_status	lsm_file_pager_get_raw(lsm_file_pager *fp, lsm_pageno pageno,
								   const uint8_t **payload);

/* fsync the file. */
lsm_status	lsm_file_pager_sync(lsm_file_pager *fp);
void		lsm_file_pager_close(lsm_file_pager *fp);

#endif							/* LSM_FILE_PAGER_H */
