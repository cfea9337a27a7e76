/*
 * lsm_rowid.c - handing out row ids (lsm_rowid.h).
 */
#include "postgres.h"

#include "utils/rel.h"

#include "lsm_rowid.h"

/*
 * A new row id for a row of rel: the storage's next id, as long as its TID
 * has a valid block number.
 */
LsmRowId
lsm_rowid_new(Relation rel, LsmTree *tree)
{
	uint64		id;

	if (!lsm_tree_new_id(tree, LSM_MAX_ROWID + 1, &id))
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("lsm table \"%s\" has used up its row ids",
					   RelationGetRelationName(rel)),
				errdetail("A table hands out " UINT64_FORMAT " row ids, one per row inserted or updated, so that each row has its own TID.",
						  (uint64) LSM_MAX_ROWID + 1),
				errhint("Copy the rows into a new lsm table (CREATE TABLE ... AS, or INSERT ... SELECT), which starts again from the first row id."));
	return (LsmRowId) id;
}
