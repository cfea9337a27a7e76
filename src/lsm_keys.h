/*
 * lsm_keys.h - order-preserving encoding of an lsm table's key (its first
 * column) into bytes whose memcmp order is the column's btree order.
 *
 * Encoding of the column part of a data key:
 *   non-NULL: 0x01 followed by the type's encoding
 *   NULL:     0x02 (sorts after every value: NULLS LAST, like btree ASC)
 * Type encodings are self-delimiting, so the row id that follows never
 * changes the order of two different values:
 *   int2/int4/int8, date, timestamp, timestamptz: big-endian with the sign bit
 *     flipped (fixed width)
 *   float4/float8: IEEE bits, sign-flipped for positives and all bits flipped
 *     for negatives; -0 encoded as +0; NaN after +Infinity (as btree sorts it)
 *   bool: one byte
 *   uuid: its 16 bytes
 *   bytea, and text/varchar/bpchar only under a collation whose order is
 *     byte order ("C"/"POSIX", or a deterministic collation provider that
 *     sorts by bytes): bytes with 0x00 escaped as 0x00 0xFF, terminated by
 *     0x00 0x01
 *   numeric: sign/class byte, then base-10000 exponent and digits so that
 *     memcmp order is numeric order; NaN after every number; trailing zeros
 *     stripped so equal values (1.0, 1.00) encode equally
 * A first column of any other type (or text under a linguistic collation)
 * has no encoder: the table is then ordered by row id alone and the key part
 * is empty.  Never a wrong order.
 */
#ifndef LSM_KEYS_H
#define LSM_KEYS_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "lsm_tree.h"

#define LSM_KEY_NOTNULL 0x01
#define LSM_KEY_NULL 0x02

typedef enum LsmKeyEncoder
{
	LSM_ENC_NONE = 0,			/* row-id order */
	LSM_ENC_INT2,
	LSM_ENC_INT4,
	LSM_ENC_INT8,
	LSM_ENC_FLOAT4,
	LSM_ENC_FLOAT8,
	LSM_ENC_BOOL,
	LSM_ENC_UUID,
	LSM_ENC_BYTES,				/* bytea, and text types under a byte-order collation */
	LSM_ENC_NUMERIC,
	LSM_ENC_DATE,
	LSM_ENC_TIMESTAMP,			/* timestamp and timestamptz */
} LsmKeyEncoder;

typedef struct LsmKeyInfo
{
	AttrNumber	attnum;			/* always 1 */
	Oid			typid;
	Oid			collation;
	LsmKeyEncoder encoder;
} LsmKeyInfo;

/* The key description of rel (first column's type and collation). */
extern void lsm_key_info(Relation rel, LsmKeyInfo *ki);

/* Which encoder serves typid under collation (LSM_ENC_NONE if none). */
extern LsmKeyEncoder lsm_key_encoder_for(Oid typid, Oid collation);

/* Appends the encoded column part (tag byte + encoding) to buf. */
extern void lsm_key_encode_value(StringInfo buf, const LsmKeyInfo *ki,
								 Datum value, bool isnull);

/* Builds a whole data key: family byte, encoded column part, row id. */
extern void lsm_key_make_data(StringInfo buf, const LsmKeyInfo *ki,
							  Datum value, bool isnull, LsmRowId rowid);

/* Builds a row-map key: family byte, row id. */
extern void lsm_key_make_rowmap(uint8 *dst /* 1 + LSM_ROWID_BYTES */ , LsmRowId rowid);

/* The row id at the end of a data or row-map key. */
static inline LsmRowId
lsm_key_rowid(const uint8 *key, Size keylen)
{
	return lsm_rowid_get(key + keylen - LSM_ROWID_BYTES);
}

/*
 * The prefix the bloom filter hashes: a data key without its row id, a
 * row-map key whole.  Plain C signature: it is the core's bloom_key_len hook.
 */
extern size_t lsm_key_bloom_len(lsm_slice user_key);

#endif							/* LSM_KEYS_H */
