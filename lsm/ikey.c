/*
 * ikey.c - internal keys: user key followed by an 8-byte little-endian
 * trailer (seq << 8 | kind).
 */
#include <string.h>

#include "ikey.h"

lsm_status
lsm_ikey_append(lsm_buf *b, lsm_slice user_key, uint64_t seq, lsm_kind kind)
{
	lsm_status	st = lsm_buf_reserve(b, user_key.len + LSM_IKEY_TRAILER);

	if (st != LSM_OK)
		return st;
	lsm_ikey_write(b->data + b->len, user_key, seq, kind);
	b->len += user_key.len + LSM_IKEY_TRAILER;
	return LSM_OK;
}

void
lsm_ikey_write(uint8_t *dst, lsm_slice user_key, uint64_t seq, lsm_kind kind)
{
	if (user_key.len)
		memcpy(dst, user_key.data, user_key.len);
	lsm_put_u64(dst + user_key.len, lsm_pack_trailer(seq, kind));
}

bool
lsm_ikey_parse(lsm_slice ikey, lsm_ikey *out)
{
	uint64_t	trailer;
	uint64_t	kind;

	if (ikey.data == NULL || ikey.len < LSM_IKEY_TRAILER)
		return false;
	trailer = lsm_ikey_trailer(ikey);
	kind = trailer & 0xff;
	if (kind > LSM_KIND_MAX)
		return false;
	out->user_key = lsm_ikey_user_key(ikey);
	out->seq = trailer >> 8;
	out->kind = (lsm_kind) kind;
	return true;
}

/*
 * The hot comparator of every search: compare the user keys in place, then
 * the trailers in reverse so that, for one user key, the highest sequence
 * number (the newest version) comes first.
 */
int
lsm_ikey_compare(lsm_slice a, lsm_slice b)
{
	size_t		alen = a.len - LSM_IKEY_TRAILER;
	size_t		blen = b.len - LSM_IKEY_TRAILER;
	size_t		n = alen < blen ? alen : blen;
	int			c = n ? memcmp(a.data, b.data, n) : 0;
	uint64_t	ta;
	uint64_t	tb;

	if (c != 0)
		return c;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	ta = lsm_get_u64(a.data + alen);
	tb = lsm_get_u64(b.data + blen);
	return (ta < tb) - (ta > tb);
}
