/*
 * logrec.c - encoding and checked decoding of log records.
 */
#include <xxhash.h>

#include "logrec.h"

/* The checksum stored with a record: the low half of xxh3-64. */
static uint32_t
logrec_checksum(const uint8_t *payload, size_t len)
{
	return (uint32_t) XXH3_64bits(payload, len);
}

static size_t
payload_size(size_t key_len, size_t value_len, uint64_t seq)
{
	return (size_t) lsm_varint_len(seq) + 1 +
		(size_t) lsm_varint_len(key_len) + key_len +
		(size_t) lsm_varint_len(value_len) + value_len;
}

size_t
lsm_logrec_size(size_t key_len, size_t value_len, uint64_t seq)
{
	return LSM_LOGREC_HEADER + payload_size(key_len, value_len, seq);
}

lsm_status
lsm_logrec_append(lsm_buf *out, uint64_t seq, lsm_kind kind,
				  lsm_slice key, lsm_slice value)
{
	size_t		plen = payload_size(key.len, value.len, seq);
	size_t		start = out->len;
	uint8_t    *p;
	lsm_status	st;

	if (seq > LSM_MAX_SEQ || (unsigned) kind > LSM_KIND_MAX ||
		plen > UINT32_MAX)
		return LSM_INVALID;
	st = lsm_buf_reserve(out, LSM_LOGREC_HEADER + plen);
	if (st != LSM_OK)
		return st;

	p = out->data + start + LSM_LOGREC_HEADER;
	p = lsm_put_varint(p, seq);
	*p++ = (uint8_t) kind;
	p = lsm_put_varint(p, key.len);
	if (key.len)
		memcpy(p, key.data, key.len);
	p += key.len;
	p = lsm_put_varint(p, value.len);
	if (value.len)
		memcpy(p, value.data, value.len);

	lsm_put_u32(out->data + start, (uint32_t) plen);
	lsm_put_u32(out->data + start + 4,
				logrec_checksum(out->data + start + LSM_LOGREC_HEADER, plen));
	out->len = start + LSM_LOGREC_HEADER + plen;
	return LSM_OK;
}

/* Parses a payload whose checksum already matched; it must be used exactly. */
static lsm_status
parse_payload(const uint8_t *p, const uint8_t *end, lsm_logrec *rec)
{
	uint64_t	seq;

	p = lsm_get_varint(p, end, &seq);
	if (p == NULL || seq > LSM_MAX_SEQ || p >= end || *p > LSM_KIND_MAX)
		return LSM_CORRUPT;
	rec->seq = seq;
	rec->kind = (lsm_kind) *p++;
	p = lsm_get_slice(p, end, &rec->key);
	if (p == NULL)
		return LSM_CORRUPT;
	p = lsm_get_slice(p, end, &rec->value);
	if (p == NULL || p != end)
		return LSM_CORRUPT;
	return LSM_OK;
}

lsm_status
lsm_logrec_decode(const uint8_t *p, size_t avail, lsm_logrec *rec,
				  size_t *consumed)
{
	uint32_t	len;

	if (avail < 4)
		return LSM_NOT_FOUND;
	len = lsm_get_u32(p);
	if (len == 0)
		return LSM_NOT_FOUND;
	if (avail < LSM_LOGREC_HEADER || len > avail - LSM_LOGREC_HEADER)
		return LSM_CORRUPT;
	if (lsm_get_u32(p + 4) != logrec_checksum(p + LSM_LOGREC_HEADER, len))
		return LSM_CORRUPT;
	if (parse_payload(p + LSM_LOGREC_HEADER, p + LSM_LOGREC_HEADER + len,
					  rec) != LSM_OK)
		return LSM_CORRUPT;
	*consumed = LSM_LOGREC_HEADER + len;
	return LSM_OK;
}
