/*
 * lsm_keys.c - order-preserving encoding of an lsm table's key column.
 *
 * The LSM core orders keys by memcmp alone, so every encoding here must make
 * memcmp order equal the type's default btree order, make equal values
 * encode equally, and be self-delimiting (the row id appended after it must
 * never decide between two different values).  The layout of each encoding
 * is described in lsm_keys.h; the encodings are part of the on-disk format.
 *
 * Anything we cannot encode correctly gets LSM_ENC_NONE: such a table is
 * ordered by row id, which is slower for key lookups but never wrong.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "lsm_keys.h"

/*
 * Numeric class bytes: the first byte of a numeric key, in numeric btree
 * order (-Infinity < negatives < zero < positives < +Infinity < NaN).
 */
#define LSM_NUM_NINF	0x10
#define LSM_NUM_NEG		0x20
#define LSM_NUM_ZERO	0x30
#define LSM_NUM_POS		0x40
#define LSM_NUM_PINF	0x50
#define LSM_NUM_NAN		0x60

/*
 * The numeric on-disk format (numeric.c keeps these private; the format
 * itself is fixed, since pg_upgrade keeps numeric values as they are).
 * After the varlena header comes a uint16 header word, then for the long
 * format an int16 weight, then base-10000 digits as int16.
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_NAN					0xC000
#define NUM_PINF				0xD000
#define NUM_NINF				0xF000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_NBASE				10000

/* Terminators of the numeric digit string (see encode_numeric). */
#define NUM_POS_END				0x0000
#define NUM_NEG_END				0xFFFF

/* Terminator of an escaped byte string: sorts before any escaped byte. */
#define BYTES_ESCAPE			0x00
#define BYTES_ESCAPED_ZERO		0xFF
#define BYTES_END				0x01

static void
put_be16(StringInfo buf, uint16 v)
{
	char		b[2];

	b[0] = (char) (v >> 8);
	b[1] = (char) v;
	appendBinaryStringInfo(buf, b, 2);
}

static void
put_be32(StringInfo buf, uint32 v)
{
	char		b[4];

	for (int i = 3; i >= 0; i--)
	{
		b[i] = (char) v;
		v >>= 8;
	}
	appendBinaryStringInfo(buf, b, 4);
}

static void
put_be64(StringInfo buf, uint64 v)
{
	char		b[8];

	for (int i = 7; i >= 0; i--)
	{
		b[i] = (char) v;
		v >>= 8;
	}
	appendBinaryStringInfo(buf, b, 8);
}

/*
 * IEEE floats: flipping the sign bit of non-negative values and every bit of
 * negative ones makes unsigned order numeric order.  -0 is first turned into
 * +0 (they are equal to btree), and every NaN becomes all-ones, above
 * +Infinity, because float btree ordering treats all NaNs as equal and
 * greater than everything else.
 */
static void
encode_float4(StringInfo buf, float4 f)
{
	uint32		bits;

	if (isnan(f))
		bits = PG_UINT32_MAX;
	else
	{
		if (f == 0.0f)
			f = 0.0f;
		memcpy(&bits, &f, sizeof(bits));
		if (bits & 0x80000000U)
			bits = ~bits;
		else
			bits |= 0x80000000U;
	}
	put_be32(buf, bits);
}

static void
encode_float8(StringInfo buf, float8 f)
{
	uint64		bits;

	if (isnan(f))
		bits = PG_UINT64_MAX;
	else
	{
		if (f == 0.0)
			f = 0.0;
		memcpy(&bits, &f, sizeof(bits));
		if (bits & UINT64CONST(0x8000000000000000))
			bits = ~bits;
		else
			bits |= UINT64CONST(0x8000000000000000);
	}
	put_be64(buf, bits);
}

/*
 * Bytes with 0x00 escaped as 0x00 0xFF and a 0x00 0x01 terminator.  The
 * terminator sorts below every byte and every escaped zero, so a string
 * sorts before its extensions, as memcmp-then-length comparison wants.
 */
static void
encode_bytes(StringInfo buf, const char *p, Size len)
{
	const char *end = p + len;

	while (p < end)
	{
		const char *zero = memchr(p, 0, end - p);

		if (zero == NULL)
		{
			appendBinaryStringInfo(buf, p, end - p);
			break;
		}
		appendBinaryStringInfo(buf, p, zero - p);
		appendStringInfoCharMacro(buf, BYTES_ESCAPE);
		appendStringInfoCharMacro(buf, (char) BYTES_ESCAPED_ZERO);
		p = zero + 1;
	}
	appendStringInfoCharMacro(buf, BYTES_ESCAPE);
	appendStringInfoCharMacro(buf, BYTES_END);
}

/*
 * A varlena of the bytes family.  bpchar compares ignoring trailing spaces
 * (bpcharcmp works on bcTruelen), so with strip_spaces they are not part of
 * the key.
 */
static void
encode_varlena_bytes(StringInfo buf, Datum value, bool strip_spaces)
{
	struct varlena *orig = (struct varlena *) DatumGetPointer(value);
	struct varlena *v = pg_detoast_datum_packed(orig);
	const char *p = VARDATA_ANY(v);
	Size		len = VARSIZE_ANY_EXHDR(v);

	if (strip_spaces)
	{
		while (len > 0 && p[len - 1] == ' ')
			len--;
	}
	encode_bytes(buf, p, len);

	if (v != orig)
		pfree(v);
}

/*
 * numeric: a class byte, then for finite non-zero values the base-10000
 * weight of the first non-zero digit and the significant digits, without
 * leading or trailing zero digits, so that the display scale (1.0 vs 1.00)
 * never shows.
 *
 * With the first digit non-zero, a larger weight means a larger magnitude;
 * at equal weights the digit strings compare digit by digit, and a string
 * that is a prefix of another is the smaller magnitude.  Positive values
 * store weight + 32768 and each digit + 1 (1..10000) as big-endian uint16,
 * then 0x0000, below every digit.  Negative values, where a larger magnitude
 * is the smaller number, store the bitwise complement of all of that,
 * terminator included (0xFFFF, above every complemented digit).
 */
static void
encode_numeric(StringInfo buf, Datum value)
{
	struct varlena *orig = (struct varlena *) DatumGetPointer(value);
	struct varlena *v = pg_detoast_datum_packed(orig);
	const char *p = VARDATA_ANY(v);
	Size		len = VARSIZE_ANY_EXHDR(v);
	uint16		header;
	int			weight;
	bool		neg;
	const char *digits;
	int			ndigits;
	uint16		flip;

	if (len < sizeof(uint16))
		elog(ERROR, "invalid numeric datum of %zu bytes", len);
	memcpy(&header, p, sizeof(uint16));

	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
	{
		if (header == NUM_NAN)
			appendStringInfoCharMacro(buf, LSM_NUM_NAN);
		else if (header == NUM_PINF)
			appendStringInfoCharMacro(buf, LSM_NUM_PINF);
		else if (header == NUM_NINF)
			appendStringInfoCharMacro(buf, LSM_NUM_NINF);
		else
			elog(ERROR, "invalid numeric header 0x%04x", header);
		goto done;
	}

	if (header & NUM_SHORT)
	{
		neg = (header & NUM_SHORT_SIGN_MASK) != 0;
		weight = (header & NUM_SHORT_WEIGHT_MASK);
		if (header & NUM_SHORT_WEIGHT_SIGN)
			weight |= ~NUM_SHORT_WEIGHT_MASK;
		digits = p + sizeof(uint16);
	}
	else
	{
		int16		w16;

		if (len < sizeof(uint16) + sizeof(int16))
			elog(ERROR, "invalid numeric datum of %zu bytes", len);
		neg = (header & NUM_SIGN_MASK) == NUM_NEG;
		memcpy(&w16, p + sizeof(uint16), sizeof(int16));
		weight = w16;
		digits = p + sizeof(uint16) + sizeof(int16);
	}
	ndigits = (p + len - digits) / sizeof(int16);

	/* numeric.c stores values stripped, but do not rely on it. */
	for (;;)
	{
		int16		d;

		if (ndigits == 0)
			break;
		memcpy(&d, digits, sizeof(int16));
		if (d != 0)
			break;
		digits += sizeof(int16);
		ndigits--;
		weight--;
	}
	for (;;)
	{
		int16		d;

		if (ndigits == 0)
			break;
		memcpy(&d, digits + (ndigits - 1) * sizeof(int16), sizeof(int16));
		if (d != 0)
			break;
		ndigits--;
	}

	if (ndigits == 0)
	{
		appendStringInfoCharMacro(buf, LSM_NUM_ZERO);
		goto done;
	}
	if (weight < PG_INT16_MIN || weight > PG_INT16_MAX)
		elog(ERROR, "numeric weight %d out of range", weight);

	flip = neg ? 0xFFFF : 0;
	appendStringInfoCharMacro(buf, neg ? LSM_NUM_NEG : LSM_NUM_POS);
	put_be16(buf, (uint16) (weight + 0x8000) ^ flip);
	for (int i = 0; i < ndigits; i++)
	{
		int16		d;

		memcpy(&d, digits + i * sizeof(int16), sizeof(int16));
		if (d < 0 || d >= NUM_NBASE)
			elog(ERROR, "invalid numeric digit %d", d);
		put_be16(buf, (uint16) (d + 1) ^ flip);
	}
	put_be16(buf, NUM_POS_END ^ flip);
	StaticAssertStmt((NUM_POS_END ^ 0xFFFF) == NUM_NEG_END,
					 "numeric terminators must be complements");

done:
	if (v != orig)
		pfree(v);
}

/* The encoder of a built-in base type (LSM_ENC_NONE for anything else). */
static LsmKeyEncoder
encoder_for_base(Oid base, Oid collation)
{
	switch (base)
	{
		case INT2OID:
			return LSM_ENC_INT2;
		case INT4OID:
			return LSM_ENC_INT4;
		case INT8OID:
			return LSM_ENC_INT8;
		case FLOAT4OID:
			return LSM_ENC_FLOAT4;
		case FLOAT8OID:
			return LSM_ENC_FLOAT8;
		case BOOLOID:
			return LSM_ENC_BOOL;
		case UUIDOID:
			return LSM_ENC_UUID;
		case BYTEAOID:
			return LSM_ENC_BYTES;
		case NUMERICOID:
			return LSM_ENC_NUMERIC;
		case DATEOID:
			return LSM_ENC_DATE;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return LSM_ENC_TIMESTAMP;
		case BPCHAROID:
		case TEXTOID:
		case VARCHAROID:

			/*
			 * Byte order is the collation's order only for C/POSIX; any
			 * other collation (libc or ICU, deterministic or not) sorts
			 * linguistically.
			 */
			if (!OidIsValid(collation) || !lc_collate_is_c(collation))
				return LSM_ENC_NONE;
			return base == BPCHAROID ? LSM_ENC_BPCHAR : LSM_ENC_BYTES;
		default:
			return LSM_ENC_NONE;
	}
}

/*
 * Which encoder serves typid under collation.  Domains use their base
 * type's encoder (their order is the base type's).
 */
LsmKeyEncoder
lsm_key_encoder_for(Oid typid, Oid collation)
{
	LsmKeyEncoder enc;
	Oid			base;

	/*
	 * Types of the initial catalog (below FirstGenbkiObjectId) are never
	 * domains: no catalog lookup for them on the insert path.
	 */
	enc = encoder_for_base(typid, collation);
	if (enc != LSM_ENC_NONE || typid < FirstGenbkiObjectId)
		return enc;

	base = getBaseType(typid);
	if (base == typid)
		return LSM_ENC_NONE;
	return encoder_for_base(base, collation);
}

const LsmKeyInfo *
lsm_key_info(Relation rel, LsmTree *t)
{
	const LsmKeyInfo *ki = lsm_tree_key_info(t);

	if (ki->encoder > LSM_ENC_MAX ||
		(ki->encoder != LSM_ENC_NONE && ki->attnum != 1))
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("lsm table \"%s\" is corrupt", RelationGetRelationName(rel)),
				errdetail_internal("Its metapage has an invalid key description."));
	return ki;
}

void
lsm_key_info_catalog(Relation rel, LsmKeyInfo *ki)
{
	TupleDesc	desc = RelationGetDescr(rel);

	ki->attnum = 1;
	ki->typid = InvalidOid;
	ki->collation = InvalidOid;
	ki->encoder = LSM_ENC_NONE;

	/* A table may have no columns, or a dropped first column. */
	if (desc->natts < 1)
		return;
	if (TupleDescAttr(desc, 0)->attisdropped)
		return;

	ki->typid = TupleDescAttr(desc, 0)->atttypid;
	ki->collation = TupleDescAttr(desc, 0)->attcollation;
	ki->encoder = lsm_key_encoder_for(ki->typid, ki->collation);
}

/*
 * The stored order serves the column as typid under collation when that
 * type and collation would get the same encoder: every encoder is one
 * order, and one equality, of its own (the bytes of text under "C" and
 * under "POSIX" alike; timestamp's and timestamptz's microseconds alike,
 * which is why ALTER COLUMN TYPE between them may skip the rewrite).  A
 * text key whose collation became linguistic, or whose type became bpchar
 * (which ignores trailing spaces), does not match.
 */
bool
lsm_key_order_matches(const LsmKeyInfo *stored, Oid typid, Oid collation)
{
	if (stored->encoder == LSM_ENC_NONE || !OidIsValid(typid))
		return false;
	return lsm_key_encoder_for(typid, collation) == stored->encoder;
}

/*
 * Whether values of a type with this length and pass-by-value flag are what
 * encoder reads.  ALTER COLUMN TYPE skips the rewrite only for binary
 * coercions, which keep the representation, so a mismatch is not expected.
 */
static bool
encoder_accepts(LsmKeyEncoder encoder, int16 len, bool byval)
{
	switch (encoder)
	{
		case LSM_ENC_NONE:
			return true;
		case LSM_ENC_BOOL:
			return len == 1 && byval;
		case LSM_ENC_INT2:
			return len == 2 && byval;
		case LSM_ENC_INT4:
		case LSM_ENC_DATE:
		case LSM_ENC_FLOAT4:
			return len == 4 && byval;
		case LSM_ENC_INT8:
		case LSM_ENC_FLOAT8:
		case LSM_ENC_TIMESTAMP:
			return len == 8 && byval == FLOAT8PASSBYVAL;
		case LSM_ENC_UUID:
			return len == UUID_LEN && !byval;
		case LSM_ENC_BYTES:
		case LSM_ENC_BPCHAR:
		case LSM_ENC_NUMERIC:
			return len == -1 && !byval;
	}
	return false;
}

Datum
lsm_key_value(const LsmKeyInfo *ki, Relation rel, HeapTuple tuple,
			  bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Form_pg_attribute att;

	*isnull = true;
	if (ki->encoder == LSM_ENC_NONE || ki->attnum < 1 || ki->attnum > desc->natts)
		return (Datum) 0;

	/* Dropped since the description was taken: NULL, which sorts last. */
	att = TupleDescAttr(desc, ki->attnum - 1);
	if (att->attisdropped)
		return (Datum) 0;

	if (!encoder_accepts(ki->encoder, att->attlen, att->attbyval))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("cannot encode the key of lsm table \"%s\"",
					   RelationGetRelationName(rel)),
				errdetail("Its first column was changed to type %s, whose representation differs from that of type %s, which its key encoding was made for.",
						  format_type_be(att->atttypid),
						  format_type_extended(ki->typid, -1, FORMAT_TYPE_ALLOW_INVALID)),
				errhint("Copy the rows into a new lsm table."));

	return heap_getattr(tuple, ki->attnum, desc, isnull);
}

void
lsm_key_encode_value(StringInfo buf, const LsmKeyInfo *ki, Datum value,
					 bool isnull)
{
	if (ki->encoder == LSM_ENC_NONE)
		return;

	if (isnull)
	{
		appendStringInfoCharMacro(buf, LSM_KEY_NULL);
		return;
	}
	appendStringInfoCharMacro(buf, LSM_KEY_NOTNULL);

	switch (ki->encoder)
	{
		case LSM_ENC_NONE:
			break;
		case LSM_ENC_INT2:
			put_be16(buf, (uint16) DatumGetInt16(value) ^ 0x8000);
			break;
		case LSM_ENC_INT4:
			put_be32(buf, (uint32) DatumGetInt32(value) ^ 0x80000000U);
			break;
		case LSM_ENC_INT8:
			put_be64(buf, (uint64) DatumGetInt64(value) ^
					 UINT64CONST(0x8000000000000000));
			break;
		case LSM_ENC_FLOAT4:
			encode_float4(buf, DatumGetFloat4(value));
			break;
		case LSM_ENC_FLOAT8:
			encode_float8(buf, DatumGetFloat8(value));
			break;
		case LSM_ENC_BOOL:
			appendStringInfoCharMacro(buf, DatumGetBool(value) ? 1 : 0);
			break;
		case LSM_ENC_UUID:
			appendBinaryStringInfo(buf, (const char *) DatumGetUUIDP(value)->data,
								   UUID_LEN);
			break;
		case LSM_ENC_BYTES:
			encode_varlena_bytes(buf, value, false);
			break;
		case LSM_ENC_BPCHAR:
			encode_varlena_bytes(buf, value, true);
			break;
		case LSM_ENC_NUMERIC:
			encode_numeric(buf, value);
			break;
		case LSM_ENC_DATE:
			put_be32(buf, (uint32) DatumGetDateADT(value) ^ 0x80000000U);
			break;
		case LSM_ENC_TIMESTAMP:
			/* timestamp and timestamptz are both int64 microseconds */
			put_be64(buf, (uint64) DatumGetInt64(value) ^
					 UINT64CONST(0x8000000000000000));
			break;
		default:
			elog(ERROR, "unknown lsm key encoder %d", (int) ki->encoder);
	}
}

/* Resets buf to hold exactly the data key. */
void
lsm_key_make_data(StringInfo buf, const LsmKeyInfo *ki, Datum value,
				  bool isnull, LsmRowId rowid)
{
	uint8		id[LSM_ROWID_BYTES];

	resetStringInfo(buf);
	appendStringInfoCharMacro(buf, LSM_FAMILY_DATA);
	lsm_key_encode_value(buf, ki, value, isnull);
	lsm_rowid_put(id, rowid);
	appendBinaryStringInfo(buf, (const char *) id, LSM_ROWID_BYTES);
}

void
lsm_key_make_rowmap(uint8 *dst, LsmRowId rowid)
{
	dst[0] = LSM_FAMILY_ROWMAP;
	lsm_rowid_put(dst + 1, rowid);
}
