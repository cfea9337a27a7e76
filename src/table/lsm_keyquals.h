/*
 * lsm_keyquals.h - restrictions on an lsm table's key column that a bounded
 * scan can serve: which clauses qualify (at plan time) and the key ranges
 * their values give (at run time).
 *
 * A clause qualifies when it compares the key column, as a plain Var, with
 * an expression that does not reference the scanned table and is not
 * volatile (a constant, a $n parameter, a nestloop parameter): an operator
 * of the column type's default btree operator family (=, <, <=, >, >=; a
 * BETWEEN is two of them) under a collation whose order the stored key
 * encoding has (lsm_key_order_matches), `= ANY (array)` (and so IN lists),
 * or IS [NOT] NULL.  The comparison value must be of the key's type, or a
 * type whose values convert to it exactly (integers of another width, a
 * real for a double precision key).
 *
 * The ranges are never narrower than what the clauses accept, so the
 * clauses themselves are kept and rechecked on every row the scan returns.
 */
#ifndef LSM_KEYQUALS_H
#define LSM_KEYQUALS_H

#include "postgres.h"

#include "nodes/pathnodes.h"

#include "lsm_keys.h"
#include "lsm_tableam.h"

typedef enum LsmKeyQualKind
{
	LSM_KQ_OP,					/* key <strategy> value */
	LSM_KQ_IN,					/* key = ANY (value), value an array */
	LSM_KQ_IS_NULL,
	LSM_KQ_NOT_NULL
} LsmKeyQualKind;

/* A qualifying clause, as the plan keeps it. */
typedef struct LsmKeyQual
{
	LsmKeyQualKind kind;
	int			strategy;		/* LSM_KQ_OP: BT*StrategyNumber, key on the
								 * left */
	int			valarg;			/* which argument of the clause is the value
								 * (-1 for null tests) */
	Oid			valtype;		/* the value's type (element type for IN) */
} LsmKeyQual;

/*
 * Whether clause (of the scanned relation relid, whose key is stored under
 * ki and whose first column now has type keytype) qualifies; if so, fills
 * *q.
 */
extern bool lsm_keyqual_match(PlannerInfo *root, Expr *clause, Index relid,
							  const LsmKeyInfo *ki, Oid keytype, LsmKeyQual *q);

/* The value expression of a qualifying clause (NULL for null tests). */
extern Expr *lsm_keyqual_value(Expr *clause, const LsmKeyQual *q);

/* A qualifying clause with its value evaluated, at run time. */
typedef struct LsmKeyQualValue
{
	LsmKeyQual	qual;
	Datum		value;
	bool		isnull;
} LsmKeyQualValue;

/*
 * The sorted, disjoint ranges of encoded keys that hold every row the n
 * clauses can accept, allocated in the current memory context; returns how
 * many (0: no row can match).
 */
extern int	lsm_key_ranges(const LsmKeyInfo *ki, const LsmKeyQualValue *quals,
						   int n, LsmKeyRange **ranges);

#endif							/* LSM_KEYQUALS_H */
