/*
 * ikey.h - internal keys: a user key followed by an 8-byte trailer holding
 * (sequence << 8 | kind), little-endian.
 *
 * Internal keys sort by user key (memcmp, shorter prefix first), then by
 * trailer descending, so the newest version of a user key comes first.  The
 * table AM encodes its keys so that memcmp order is the SQL order; the core
 * therefore needs no comparator callback.
 */
#ifndef LSM_IKEY_H
#define LSM_IKEY_H

#include "coding.h"
#include "lsm_base.h"

#define LSM_IKEY_TRAILER 8
#define LSM_MAX_SEQ ((UINT64_C(1) << 56) - 1)

/*
 * Entry kinds.  VALUE and TOMBSTONE are what the core interprets; kinds from
 * LSM_KIND_DELTA_FIRST up are opaque deltas (the table AM's xmax and lock
 * records): the core stores, merges and garbage-collects them like other
 * entries but a user-level read (lsm_dbiter, lsm_db_get) skips over them.
 */
typedef enum lsm_kind
{
	LSM_KIND_TOMBSTONE = 0,
	LSM_KIND_VALUE = 1,
	LSM_KIND_DELTA_FIRST = 2,
	LSM_KIND_XMAX = 2,
	LSM_KIND_LOCK = 3,
	LSM_KIND_MAX = 3			/* seek keys use this to land before all kinds */
} lsm_kind;

static inline uint64_t
lsm_pack_trailer(uint64_t seq, lsm_kind kind)
{
	return (seq << 8) | (uint64_t) kind;
}

/* Appends user_key + trailer to b (b is not reset first). */
lsm_status	lsm_ikey_append(lsm_buf *b, lsm_slice user_key, uint64_t seq,
							lsm_kind kind);

/* Writes user_key + trailer into dst, which has user_key.len + 8 bytes. */
void		lsm_ikey_write(uint8_t *dst, lsm_slice user_key, uint64_t seq,
						   lsm_kind kind);

/* Parsed view of an internal key.  Returns false if ikey is too short or the kind is unknown. */
typedef struct lsm_ikey
{
	lsm_slice	user_key;
	uint64_t	seq;
	lsm_kind	kind;
} lsm_ikey;

bool		lsm_ikey_parse(lsm_slice ikey, lsm_ikey *out);

static inline lsm_slice
lsm_ikey_user_key(lsm_slice ikey)
{
	return lsm_slice_make(ikey.data, ikey.len - LSM_IKEY_TRAILER);
}

static inline uint64_t
lsm_ikey_trailer(lsm_slice ikey)
{
	return lsm_get_u64(ikey.data + ikey.len - LSM_IKEY_TRAILER);
}

/* The total order on internal keys (both must be at least 8 bytes). */
int			lsm_ikey_compare(lsm_slice a, lsm_slice b);

#endif							/* LSM_IKEY_H */
