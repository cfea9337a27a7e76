/*
 * coding.h - little-endian fixed-width integers and LEB128 varints.
 *
 * Decoders take an end pointer and return NULL instead of reading past it, so
 * every parser built on them is bounds-checked by construction.
 */
#ifndef LSM_CODING_H
#define LSM_CODING_H

#include <string.h>

#include "lsm_base.h"

static inline void
lsm_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

static inline void
lsm_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline void
lsm_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint16_t
lsm_get_u16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
lsm_get_u32(const uint8_t *p)
{
	uint32_t	v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t
lsm_get_u64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Writes v at p (which needs 10 bytes of room); returns the byte after. */
static inline uint8_t *
lsm_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* Reads a varint from [p, end); NULL if truncated or longer than 10 bytes. */
static inline const uint8_t *
lsm_get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t	result = 0;

	for (int shift = 0; shift <= 63 && p < end; shift += 7)
	{
		uint64_t	byte = *p++;

		result |= (byte & 0x7f) << shift;
		if (!(byte & 0x80))
		{
			*v = result;
			return p;
		}
	}
	return NULL;
}

static inline int
lsm_varint_len(uint64_t v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/* Appends a varint to a buffer. */
lsm_status	lsm_buf_put_varint(lsm_buf *b, uint64_t v);

/* Appends varint length + bytes. */
lsm_status	lsm_buf_put_slice(lsm_buf *b, lsm_slice s);

/* Reads varint length + bytes from [p, end) into *s; NULL if truncated. */
const uint8_t *lsm_get_slice(const uint8_t *p, const uint8_t *end, lsm_slice *s);

#endif							/* LSM_CODING_H */
