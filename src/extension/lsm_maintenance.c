/*
 * lsm_maintenance.c - the SQL functions that flush, compact and verify an
 * lsm table on demand: lsm_flush(regclass), lsm_compact(regclass) and
 * lsm_verify(regclass).  Each is for the table's owner (or the database's).
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "lsm_gc.h"
#include "lsm_storage.h"
#include "lsm_tableam.h"

PG_FUNCTION_INFO_V1(lsm_flush);
PG_FUNCTION_INFO_V1(lsm_compact);
PG_FUNCTION_INFO_V1(lsm_verify);

/*
 * Opens relid under lockmode for a maintenance function: an lsm table (of a
 * partitioned table, hint says to do it to its partitions), and the caller
 * owns it or the database.
 */
static Relation
lsm_open_for_maintenance(Oid relid, LOCKMODE lockmode, const char *hint)
{
	Relation	rel = relation_open(relid, lockmode);

	if (!lsm_is_lsm_relation(rel))
		ereport(ERROR,
				errcode(ERRCODE_WRONG_OBJECT_TYPE),
				errmsg("\"%s\" is not an lsm table", RelationGetRelationName(rel)),
				rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
				errhint("%s", hint) : 0);
	if (!pg_class_ownercheck(relid, GetUserId()) &&
		!pg_database_ownercheck(MyDatabaseId, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	return rel;
}

/*
 * lsm_flush(regclass) returns void
 *
 * Freezes the table's memtable and writes it, and any memtable still
 * waiting, to level-0 runs.
 */
Datum
lsm_flush(PG_FUNCTION_ARGS)
{
	Relation	rel = lsm_open_for_maintenance(PG_GETARG_OID(0), AccessShareLock,
											   "Flush its partitions.");
	int			write_back;

	write_back = lsm_write_back_begin();
	lsm_tree_flush(lsm_tree_open(rel));
	AtEOXact_GUC(true, write_back);

	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

/*
 * lsm_compact(regclass) returns void
 *
 * Compacts every run of the table into one level (memtables are not
 * flushed; lsm_flush does that).  Waits for a compaction of the table
 * already running (ShareUpdateExclusiveLock conflicts with itself).
 */
Datum
lsm_compact(PG_FUNCTION_ARGS)
{
	Relation	rel = lsm_open_for_maintenance(PG_GETARG_OID(0),
											   ShareUpdateExclusiveLock,
											   "Compact its partitions.");
	LsmStore	store;
	LsmUse	   *u;
	int			write_back;

	/* Attached, so that readers learn of each manifest change; loaded. */
	u = lsm_store_open(&store, rel, true);
	write_back = lsm_write_back_begin();
	while (lsm_table_compact_step(&store, true))
		CHECK_FOR_INTERRUPTS();
	AtEOXact_GUC(true, write_back);
	lsm_store_free(&store);
	lsm_use_release(u);

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * lsm_verify(regclass) returns setof (problem text, level int, run bigint,
 * block bigint, detail text)
 *
 * One row per problem lsm_verify_relation finds.
 */
Datum
lsm_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		standby = RecoveryInProgress();
	Relation	rel;
	List	   *problems;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	rel = lsm_open_for_maintenance(PG_GETARG_OID(0),
								   standby ? AccessShareLock : ShareUpdateExclusiveLock,
								   "Verify its partitions.");
	problems = lsm_verify_relation(rel, standby);
	relation_close(rel, NoLock);

	foreach(lc, problems)
	{
		LsmProblem *p = (LsmProblem *) lfirst(lc);
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(p->problem);
		values[1] = Int32GetDatum(p->level);
		nulls[1] = p->level < 0;
		values[2] = Int64GetDatum(p->run);
		nulls[2] = p->run < 0;
		values[3] = Int64GetDatum(p->block);
		nulls[3] = p->block < 0;
		values[4] = CStringGetTextDatum(p->detail);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
