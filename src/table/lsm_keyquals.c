/*
 * lsm_keyquals.c - key restrictions for bounded scans (lsm_keyquals.h).
 *
 * Plan time: lsm_keyqual_match decides whether a clause compares the key
 * column in the order the stored key encoding has.  Run time: lsm_key_ranges
 * encodes the clauses' values with the table's key encoder and intersects
 * what they allow into ranges of encoded keys.  Encoded keys compare with
 * memcmp, shorter first on a common prefix (lsm_keys.h: each encoding is
 * self-delimiting, so that never decides between two values).
 */
#include "postgres.h"

#include "access/nbtree.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "lsm_keyquals.h"

/* The key column (attribute 1 of relid) under binary-compatible relabels. */
static bool
is_key_var(Node *node, Index relid)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return false;
	return ((Var *) node)->varno == (int) relid &&
		((Var *) node)->varattno == 1 &&
		((Var *) node)->varlevelsup == 0;
}

/*
 * A value the scan can evaluate once before reading: it does not reference
 * the scanned table, does not change between rows and needs no subplan.
 */
static bool
is_scan_constant(PlannerInfo *root, Node *value, Index relid)
{
	return !bms_is_member(relid, pull_varnos(root, value)) &&
		!contain_volatile_functions(value) &&
		!contain_subplans(value);
}

/* The default btree operator family of type, whose order encodings keep. */
static Oid
default_btree_family(Oid type)
{
	Oid			opclass = GetDefaultOpClass(getBaseType(type), BTREE_AM_OID);

	return OidIsValid(opclass) ? get_opclass_family(opclass) : InvalidOid;
}

static bool
is_integer_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/*
 * Whether a value of valtype compared with the key as keyside converts to
 * a key value exactly (lsm_key_ranges' convert_value).
 */
static bool
value_type_ok(LsmKeyEncoder encoder, Oid keyside, Oid valtype)
{
	switch (encoder)
	{
		case LSM_ENC_INT2:
		case LSM_ENC_INT4:
		case LSM_ENC_INT8:
			return is_integer_type(keyside) && is_integer_type(valtype);
		case LSM_ENC_FLOAT8:
			return keyside == FLOAT8OID &&
				(valtype == FLOAT8OID || valtype == FLOAT4OID);
		default:
			return valtype == keyside;
	}
}

/*
 * An operator comparing the key (as type keyexpr's) with a value: its
 * strategy with the key on the left, if it belongs to the key type's
 * default btree family, in an order the encoding has.
 */
static bool
match_operator(const LsmKeyInfo *ki, Oid opno, Oid inputcollid, Node *keyexpr,
			   bool key_on_left, LsmKeyQual *q)
{
	Oid			family = default_btree_family(exprType(keyexpr));
	int			strategy;
	Oid			lefttype;
	Oid			righttype;
	Oid			keyside;

	if (!OidIsValid(family) || !op_in_opfamily(opno, family))
		return false;
	get_op_opfamily_properties(opno, family, false, &strategy, &lefttype,
							   &righttype);
	keyside = key_on_left ? lefttype : righttype;
	q->valtype = key_on_left ? righttype : lefttype;
	if (!lsm_key_order_matches(ki, keyside, inputcollid) ||
		!value_type_ok(ki->encoder, keyside, q->valtype))
		return false;
	q->strategy = key_on_left ? strategy : BTCommuteStrategyNumber(strategy);
	return true;
}

bool
lsm_keyqual_match(PlannerInfo *root, Expr *clause, Index relid,
				  const LsmKeyInfo *ki, Oid keytype, LsmKeyQual *q)
{
	if (ki->encoder == LSM_ENC_NONE)
		return false;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left;
		Node	   *right;
		bool		key_on_left;

		if (list_length(op->args) != 2)
			return false;
		left = linitial(op->args);
		right = lsecond(op->args);
		if (is_key_var(left, relid) && is_scan_constant(root, right, relid))
			key_on_left = true;
		else if (is_key_var(right, relid) && is_scan_constant(root, left, relid))
			key_on_left = false;
		else
			return false;
		q->kind = LSM_KQ_OP;
		q->valarg = key_on_left ? 1 : 0;
		return match_operator(ki, op->opno, op->inputcollid,
							  key_on_left ? left : right, key_on_left, q);
	}

	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Node	   *key;
		Node	   *array;

		if (!sa->useOr || list_length(sa->args) != 2)
			return false;
		key = linitial(sa->args);
		array = lsecond(sa->args);
		if (!is_key_var(key, relid) || !is_scan_constant(root, array, relid))
			return false;
		q->kind = LSM_KQ_IN;
		q->valarg = 1;
		return match_operator(ki, sa->opno, sa->inputcollid, key, true, q) &&
			q->strategy == BTEqualStrategyNumber;
	}

	if (IsA(clause, NullTest))
	{
		NullTest   *nt = (NullTest *) clause;

		if (nt->argisrow || !is_key_var((Node *) nt->arg, relid) ||
			!lsm_key_order_matches(ki, keytype, exprCollation((Node *) nt->arg)))
			return false;
		q->kind = nt->nulltesttype == IS_NULL ? LSM_KQ_IS_NULL : LSM_KQ_NOT_NULL;
		q->strategy = 0;
		q->valarg = -1;
		q->valtype = InvalidOid;
		return true;
	}

	return false;
}

Expr *
lsm_keyqual_value(Expr *clause, const LsmKeyQual *q)
{
	switch (q->kind)
	{
		case LSM_KQ_OP:
			return (Expr *) list_nth(((OpExpr *) clause)->args, q->valarg);
		case LSM_KQ_IN:
			return (Expr *) lsecond(((ScalarArrayOpExpr *) clause)->args);
		case LSM_KQ_IS_NULL:
		case LSM_KQ_NOT_NULL:
			break;
	}
	return NULL;
}

/* ----------------------------------------------------------------
 * Run time: ranges
 * ----------------------------------------------------------------
 */

/* An encoded key value. */
typedef struct EncKey
{
	uint8	   *data;
	int			len;
} EncKey;

/* One end of a range. */
typedef struct Bound
{
	bool		set;
	bool		inclusive;
	EncKey		key;
} Bound;

typedef enum Conversion
{
	CONV_EXACT,					/* the value is a key value */
	CONV_ALL,					/* every key satisfies the comparison */
	CONV_NONE					/* no key does */
} Conversion;

static int
enckey_cmp(const EncKey *a, const EncKey *b)
{
	int			c = memcmp(a->data, b->data, Min(a->len, b->len));

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static int
enckey_qsort_cmp(const void *a, const void *b)
{
	return enckey_cmp((const EncKey *) a, (const EncKey *) b);
}

static EncKey
encode(const LsmKeyInfo *ki, Datum value, bool isnull)
{
	StringInfoData buf;
	EncKey		k;

	initStringInfo(&buf);
	lsm_key_encode_value(&buf, ki, value, isnull);
	k.data = (uint8 *) buf.data;
	k.len = buf.len;
	return k;
}

/*
 * The value as a value of the key's type, when the comparison is
 * cross-type: integers of another width (out of the key type's range, the
 * comparison holds for all keys or none), a real for a double precision key
 * (widened exactly).  Other values are of the key's type already.
 */
static Conversion
convert_value(const LsmKeyInfo *ki, Oid valtype, Datum v, int strategy,
			  Datum *out)
{
	int64		x;
	int64		lo;
	int64		hi;

	*out = v;
	switch (ki->encoder)
	{
		case LSM_ENC_INT2:
		case LSM_ENC_INT4:
		case LSM_ENC_INT8:
			break;
		case LSM_ENC_FLOAT8:
			if (valtype == FLOAT4OID)
				*out = Float8GetDatum((float8) DatumGetFloat4(v));
			return CONV_EXACT;
		default:
			return CONV_EXACT;
	}

	if (valtype == INT2OID)
		x = DatumGetInt16(v);
	else if (valtype == INT4OID)
		x = DatumGetInt32(v);
	else if (valtype == INT8OID)
		x = DatumGetInt64(v);
	else
		elog(ERROR, "unexpected type %u compared with an integer lsm key",
			 valtype);

	if (ki->encoder == LSM_ENC_INT2)
	{
		lo = PG_INT16_MIN;
		hi = PG_INT16_MAX;
	}
	else if (ki->encoder == LSM_ENC_INT4)
	{
		lo = PG_INT32_MIN;
		hi = PG_INT32_MAX;
	}
	else
	{
		lo = PG_INT64_MIN;
		hi = PG_INT64_MAX;
	}
	if (x > hi)
		return (strategy == BTLessStrategyNumber ||
				strategy == BTLessEqualStrategyNumber) ? CONV_ALL : CONV_NONE;
	if (x < lo)
		return (strategy == BTGreaterStrategyNumber ||
				strategy == BTGreaterEqualStrategyNumber) ? CONV_ALL : CONV_NONE;

	if (ki->encoder == LSM_ENC_INT2)
		*out = Int16GetDatum((int16) x);
	else if (ki->encoder == LSM_ENC_INT4)
		*out = Int32GetDatum((int32) x);
	else
		*out = Int64GetDatum(x);
	return CONV_EXACT;
}

/* Narrows a lower bound to k (inclusive or not) if that is tighter. */
static void
tighten_lower(Bound *b, EncKey k, bool inclusive)
{
	int			c = b->set ? enckey_cmp(&k, &b->key) : 1;

	if (c > 0 || (c == 0 && b->inclusive && !inclusive))
	{
		b->set = true;
		b->key = k;
		b->inclusive = inclusive;
	}
}

static void
tighten_upper(Bound *b, EncKey k, bool inclusive)
{
	int			c = b->set ? enckey_cmp(&k, &b->key) : -1;

	if (c < 0 || (c == 0 && b->inclusive && !inclusive))
	{
		b->set = true;
		b->key = k;
		b->inclusive = inclusive;
	}
}

static bool
above_lower(const Bound *b, const EncKey *k)
{
	int			c;

	if (!b->set)
		return true;
	c = enckey_cmp(k, &b->key);
	return c > 0 || (c == 0 && b->inclusive);
}

static bool
below_upper(const Bound *b, const EncKey *k)
{
	int			c;

	if (!b->set)
		return true;
	c = enckey_cmp(k, &b->key);
	return c < 0 || (c == 0 && b->inclusive);
}

/*
 * The sorted, distinct encoded keys of the non-NULL elements of an array
 * (compared with the key by =).
 */
static int
array_points(const LsmKeyInfo *ki, const LsmKeyQualValue *qv, EncKey **out)
{
	ArrayType  *arr = DatumGetArrayTypeP(qv->value);
	Oid			elemtype = ARR_ELEMTYPE(arr);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			n = 0;
	EncKey	   *keys;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, &nulls, &nelems);
	keys = palloc(sizeof(EncKey) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		Datum		v;

		if (nulls[i] ||
			convert_value(ki, qv->qual.valtype, elems[i], BTEqualStrategyNumber,
						  &v) != CONV_EXACT)
			continue;			/* = NULL, or out of range: matches nothing */
		keys[n++] = encode(ki, v, false);
	}
	if (n > 1)
	{
		int			d = 1;

		qsort(keys, n, sizeof(EncKey), enckey_qsort_cmp);
		for (int i = 1; i < n; i++)
			if (enckey_cmp(&keys[i], &keys[d - 1]) != 0)
				keys[d++] = keys[i];
		n = d;
	}
	*out = keys;
	return n;
}

/* Keeps the points of a (sorted, distinct) that are also in b. */
static int
intersect_points(EncKey *a, int na, const EncKey *b, int nb)
{
	int			i = 0;
	int			j = 0;
	int			n = 0;

	while (i < na && j < nb)
	{
		int			c = enckey_cmp(&a[i], &b[j]);

		if (c == 0)
		{
			a[n++] = a[i];
			i++;
			j++;
		}
		else if (c < 0)
			i++;
		else
			j++;
	}
	return n;
}

static void
set_range(LsmKeyRange *r, const Bound *lower, const Bound *upper)
{
	r->lower = lower->set ? lower->key.data : NULL;
	r->lowerlen = lower->set ? lower->key.len : 0;
	r->lower_inclusive = lower->inclusive;
	r->upper = upper->set ? upper->key.data : NULL;
	r->upperlen = upper->set ? upper->key.len : 0;
	r->upper_inclusive = upper->inclusive;
}

int
lsm_key_ranges(const LsmKeyInfo *ki, const LsmKeyQualValue *quals, int n,
			   LsmKeyRange **ranges)
{
	Bound		lower = {0};
	Bound		upper = {0};
	bool		want_null = false;
	bool		want_value = false;
	bool		have_points = false;
	EncKey	   *points = NULL;
	int			npoints = 0;
	int			nranges = 0;

	*ranges = palloc(sizeof(LsmKeyRange));
	for (int i = 0; i < n; i++)
	{
		const LsmKeyQualValue *qv = &quals[i];
		Datum		v;
		EncKey		k;
		int			strategy = qv->qual.strategy;

		switch (qv->qual.kind)
		{
			case LSM_KQ_IS_NULL:
				want_null = true;
				continue;
			case LSM_KQ_NOT_NULL:
				want_value = true;
				continue;
			case LSM_KQ_IN:
				want_value = true;
				if (qv->isnull)
					return 0;	/* = ANY (NULL) is never true */
				if (!have_points)
					npoints = array_points(ki, qv, &points);
				else
				{
					EncKey	   *more;
					int			nmore = array_points(ki, qv, &more);

					npoints = intersect_points(points, npoints, more, nmore);
				}
				have_points = true;
				continue;
			case LSM_KQ_OP:
				want_value = true;
				if (qv->isnull)
					return 0;	/* strict operators: NULL matches nothing */
				break;
		}

		switch (convert_value(ki, qv->qual.valtype, qv->value, strategy, &v))
		{
			case CONV_NONE:
				return 0;
			case CONV_ALL:
				continue;
			case CONV_EXACT:
				break;
		}
		k = encode(ki, v, false);
		switch (strategy)
		{
			case BTLessStrategyNumber:
				tighten_upper(&upper, k, false);
				break;
			case BTLessEqualStrategyNumber:
				tighten_upper(&upper, k, true);
				break;
			case BTEqualStrategyNumber:
				tighten_lower(&lower, k, true);
				tighten_upper(&upper, k, true);
				break;
			case BTGreaterEqualStrategyNumber:
				tighten_lower(&lower, k, true);
				break;
			case BTGreaterStrategyNumber:
				tighten_lower(&lower, k, false);
				break;
			default:
				elog(ERROR, "unexpected btree strategy %d", strategy);
		}
	}

	if (want_null && want_value)
		return 0;
	if (want_null)
	{
		/* IS NULL: the one NULL encoding */
		EncKey		k = encode(ki, (Datum) 0, true);

		tighten_lower(&lower, k, true);
		tighten_upper(&upper, k, true);
	}
	else if (want_value)
	{
		/* comparisons and IS NOT NULL: NULL keys, which sort last, are out */
		tighten_upper(&upper, encode(ki, (Datum) 0, true), false);
	}

	if (have_points)
	{
		*ranges = palloc(sizeof(LsmKeyRange) * Max(npoints, 1));
		for (int i = 0; i < npoints; i++)
		{
			Bound		p = {true, true, points[i]};

			if (above_lower(&lower, &points[i]) && below_upper(&upper, &points[i]))
				set_range(&(*ranges)[nranges++], &p, &p);
		}
		return nranges;
	}

	if (lower.set && upper.set)
	{
		int			c = enckey_cmp(&lower.key, &upper.key);

		if (c > 0 || (c == 0 && !(lower.inclusive && upper.inclusive)))
			return 0;
	}
	set_range(&(*ranges)[0], &lower, &upper);
	return 1;
}
