/*
 * lsm_encode_key.c - the SQL function that shows the key encoding of a
 * value (src/table/lsm_keys.c does the encoding).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"

#include "lsm_keys.h"

PG_FUNCTION_INFO_V1(lsm_encode_key);

/*
 * lsm_encode_key(anyelement) returns bytea
 *
 * The column part of a data key (tag byte and encoding) for a value, under
 * the collation of the call: what an lsm table whose first column has the
 * value's type and collation stores.  For inspecting keys and for testing
 * that byte order is the type's order.  Types (and collations) that have no
 * encoder are an error: such tables are ordered by row id.
 */
Datum
lsm_encode_key(PG_FUNCTION_ARGS)
{
	LsmKeyInfo	ki;
	StringInfoData buf;
	bytea	   *result;

	ki.attnum = 1;
	ki.typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	ki.collation = PG_GET_COLLATION();
	if (!OidIsValid(ki.typid))
		elog(ERROR, "could not determine the argument type of lsm_encode_key");
	ki.encoder = lsm_key_encoder_for(ki.typid, ki.collation);
	if (ki.encoder == LSM_ENC_NONE && OidIsValid(ki.collation) &&
		!lc_collate_is_c(ki.collation))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("type %s has no order-preserving lsm key encoding under collation \"%s\"",
					   format_type_be(ki.typid), get_collation_name(ki.collation)),
				errhint("Text keys are encoded only under the \"C\" or \"POSIX\" collation; other lsm tables are ordered by row id."));
	if (ki.encoder == LSM_ENC_NONE)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("type %s has no order-preserving lsm key encoding",
					   format_type_be(ki.typid)),
				errhint("An lsm table whose first column has no key encoding is ordered by row id."));

	initStringInfo(&buf);
	lsm_key_encode_value(&buf, &ki, PG_GETARG_DATUM(0), PG_ARGISNULL(0));

	result = (bytea *) palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	PG_RETURN_BYTEA_P(result);
}
