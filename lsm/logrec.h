/*
 * logrec.h - the record format of the memtable's log.
 *
 * A record is   payload length (u32 LE) | xxh3-64 of payload, low 32 bits (u32 LE) | payload
 * with payload  seq varint | kind byte | key (varint length + bytes) | value (same).
 * A zero length word marks the end of the records on a page (pages are
 * zero-filled), so a log page needs no separate fill counter.  A record never
 * spans pages.
 */
#ifndef LSM_LOGREC_H
#define LSM_LOGREC_H

#include "ikey.h"

#define LSM_LOGREC_HEADER 8

typedef struct lsm_logrec
{
	uint64_t	seq;
	lsm_kind	kind;
	lsm_slice	key;
	lsm_slice	value;
} lsm_logrec;

/* Encoded size of a record. */
size_t		lsm_logrec_size(size_t key_len, size_t value_len, uint64_t seq);

lsm_status	lsm_logrec_append(lsm_buf *out, uint64_t seq, lsm_kind kind,
							  lsm_slice key, lsm_slice value);

/*
 * Decodes the record at p (avail bytes available).  LSM_OK sets *rec
 * (pointing into p) and *consumed; LSM_NOT_FOUND means the end marker (or
 * fewer than 4 bytes left); LSM_CORRUPT means a bad length, checksum or body.
 */
lsm_status	lsm_logrec_decode(const uint8_t *p, size_t avail, lsm_logrec *rec,
							  size_t *consumed);

#endif							/* LSM_LOGREC_H */
