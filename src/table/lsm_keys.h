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
 *   bytea, and text/varchar under a collation whose order is byte order
 *     ("C"/"POSIX"): bytes with 0x00 escaped as 0x00 0xFF, terminated by
 *     0x00 0x01
 *   bpchar under "C"/"POSIX": the same, without trailing spaces (which
 *     bpchar comparisons ignore)
 *   numeric: sign/class byte, then base-10000 exponent and digits so that
 *     memcmp order is numeric order; NaN after every number; trailing zeros
 *     stripped so equal values (1.0, 1.00) encode equally
 * A first column of any other type (or text under a linguistic collation)
 * has no encoder: the table is then ordered by row id alone and the key part
 * is empty.  Never a wrong order.
 *
 * The key description of a table (encoder, type, collation) is fixed when
 * its relfilenode's metapage is formatted (CREATE TABLE, TRUNCATE, table
 * rewrites) and stored there; every row of that relfilenode is encoded with
 * it, whatever the catalog says later.  DDL that changes the first column
 * without a rewrite (a collation change, a binary-coercible type change such
 * as varchar(10) -> varchar(20) or text -> varchar, DROP COLUMN) therefore
 * never mixes two encodings in one table: new rows keep the stored encoder
 * (a collation change leaves the table in byte order), and once the column
 * is dropped new rows get a NULL key.  Whether the stored order serves a
 * query on the column as it is now is lsm_key_order_matches()'s question.
 */
#ifndef LSM_KEYS_H
#define LSM_KEYS_H

#include "postgres.h"

#include "access/htup.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "lsm_rowid.h"
#include "lsm_tree.h"

#define LSM_KEY_NOTNULL 0x01
#define LSM_KEY_NULL 0x02

/* Stored in metapages: never renumber. */
typedef enum LsmKeyEncoder
{
	LSM_ENC_NONE = 0,			/* row-id order */
	LSM_ENC_INT2 = 1,
	LSM_ENC_INT4 = 2,
	LSM_ENC_INT8 = 3,
	LSM_ENC_FLOAT4 = 4,
	LSM_ENC_FLOAT8 = 5,
	LSM_ENC_BOOL = 6,
	LSM_ENC_UUID = 7,
	LSM_ENC_BYTES = 8,			/* bytea, and text/varchar under a byte-order
								 * collation */
	LSM_ENC_NUMERIC = 9,
	LSM_ENC_DATE = 10,
	LSM_ENC_TIMESTAMP = 11,		/* timestamp and timestamptz */
	LSM_ENC_BPCHAR = 12,		/* bpchar under a byte-order collation */
} LsmKeyEncoder;

#define LSM_ENC_MAX LSM_ENC_BPCHAR

/*
 * The key description the catalog gives rel now (its first column's type
 * and collation): only for formatting a new metapage.  Rows are encoded
 * with the stored description, lsm_key_info().
 */
extern void lsm_key_info_catalog(Relation rel, LsmKeyInfo *ki);

/*
 * The key description stored in the metapage of t's relfilenode, rel's
 * (lsm_tree_key_info), checked: an encoder this build does not know is
 * corruption.
 */
extern const LsmKeyInfo *lsm_key_info(Relation rel, LsmTree *t);

/*
 * Whether a table stored under description stored is in the order of its
 * key column compared as type typid under collation (btree order, NULLS
 * LAST), with equal encodings for equal values: the question a key
 * restriction or a key ordering must ask before using the stored order.
 */
extern bool lsm_key_order_matches(const LsmKeyInfo *stored, Oid typid,
								  Oid collation);

/*
 * The key value of tuple, a row of rel formed with rel's descriptor as it
 * is now, to encode under the stored description ki: NULL (*isnull) when
 * the table has no encoder or its key column was dropped since.
 */
extern Datum lsm_key_value(const LsmKeyInfo *ki, Relation rel,
						   HeapTuple tuple, bool *isnull);

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

#endif							/* LSM_KEYS_H */
