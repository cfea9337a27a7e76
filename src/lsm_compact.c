/*
 * lsm_compact.c - leveled compaction of an lsm table (the pages of the runs
 * it replaces are reused as lsm_space.c says).
 *
 * A compaction step reads the manifest, asks the core's picker what to
 * merge (lsm/compaction.h: level 0 by run count, deeper levels by size),
 * merges the input runs into new runs of the output level, written through
 * the buffer-manager pager as new, WAL-logged pages exactly as a flush
 * writes its run, and installs the result with one manifest change: the
 * inputs leave, the outputs arrive, the inputs' extents join the free list.
 * A crash before that change leaves the old manifest intact; the extents
 * the outputs took are then owned by no run and are freed again when the
 * table is next loaded.
 *
 * Concurrency.  The merge runs without the metapage lock, so flushes keep
 * adding level-0 runs meanwhile; they only add runs newer than every input,
 * which stay above the outputs, so the change is re-applied to the manifest
 * as it is when the metapage is locked again.  Only compaction removes runs,
 * and only one compaction of a table runs at a time: callers hold
 * ShareUpdateExclusiveLock on the relation, which conflicts with itself
 * (and with VACUUM, ANALYZE and DDL, as it does for VACUUM).  Should the
 * inputs still be gone, the core refuses the change and the outputs' pages
 * are given back.
 *
 * Garbage.  This AM keeps its MVCC in the values (xmin/xmax of each row and
 * XMAX deltas), not in sequence numbers, and every row version has a user
 * key of its own (key + row id) whose VALUE is its oldest entry.  So
 * compaction passes oldest_snapshot LSM_MAX_SEQ, under which the core's
 * rule only lets a tombstone shadow what lies beneath it, as readers do,
 * and the garbage-collecting filter of lsm_gc.c decides everything else:
 * dead and aborted rows, finished xmax entries, freezing.  Its horizon is
 * the oldest xmin of all databases (GetOldestNonRemovableTransactionId
 * without a relation), read after the pick; VACUUM (lsm_vacuum.c) uses the
 * table's own.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/objectaddress.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "lsm/compaction.h"
#include "lsm_compact.h"
#include "lsm_rmgr.h"
#include "lsm_gc.h"
#include "lsm_tableam.h"

PG_FUNCTION_INFO_V1(lsm_compact);

int			lsm_l0_compaction_trigger = 4;
int			lsm_compaction_target_kb = 8 * 1024;

void
lsm_compact_init(void)
{
	DefineCustomIntVariable("lsm.l0_compaction_trigger",
							"Number of level-0 runs of an lsm table that triggers their compaction into level 1.",
							NULL,
							&lsm_l0_compaction_trigger,
							4, 2, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("lsm.compaction_target_run_size",
							"Size at which compaction cuts its output runs.",
							NULL,
							&lsm_compaction_target_kb,
							8 * 1024, 64, 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* The launcher of background compaction workers. */
	lsm_worker_init();
}

/* ----------------------------------------------------------------
 * Compaction
 * ----------------------------------------------------------------
 */

void
lsm_compact_options(lsm_compaction_options *o)
{
	lsm_compaction_options_default(o);
	o->l0_trigger = lsm_l0_compaction_trigger;
	/* Level 1 holds about ten memtables; each level ten times the last. */
	o->level1_bytes = (uint64) lsm_memtable_size_kb * 1024 * 10;
	o->ratio = 10;
	o->target_run_bytes = (uint64) lsm_compaction_target_kb * 1024;

	/*
	 * Row-map and data keys are two families (lsm_tree.h): a level-0 run
	 * holds the newest of both, and judged as one range it would take in
	 * every data key that sorts below its newest ones (all of level 1
	 * under ascending keys).
	 */
	o->families = true;
}

/*
 * Accounts for the garbage collection of one merge: the table's counters of
 * entries dropped (by the filter and by the shadowing it caused) and frozen.
 */
void
lsm_compact_count(LsmStore *s, const lsm_compaction_stats *stats,
				  const LsmGcStats *gstats)
{
	lsm_counter_add(s->entry, LSM_CTR_ENTRIES_GC_DROPPED, stats->dropped);
	lsm_counter_add(s->entry, LSM_CTR_ENTRIES_FROZEN, gstats->frozen);
	elog(DEBUG1, "lsm table \"%s\": garbage collection removed %llu dead rows, %llu aborted rows, %llu xmax entries, %llu row-map entries; froze %llu rows",
		 s->relname,
		 (unsigned long long) gstats->rows_removed,
		 (unsigned long long) gstats->aborted_removed,
		 (unsigned long long) gstats->deltas_removed,
		 (unsigned long long) gstats->rowmaps_removed,
		 (unsigned long long) gstats->frozen);
}

/* The outputs of one merge, freed whatever happens. */
typedef struct LsmCompactJob
{
	lsm_compaction *c;
	lsm_run_meta *outs;			/* malloc'd by the core */
	int			nouts;
	lsm_compaction_stats *stats;	/* the caller's */
} LsmCompactJob;

static void
lsm_compact_job_free(LsmCompactJob *job)
{
	for (int i = 0; i < job->nouts; i++)
		lsm_run_meta_free(&job->outs[i]);
	free(job->outs);
	job->outs = NULL;
	job->nouts = 0;
}

/* Counts an installed compaction step. */
static void
lsm_count_compaction(LsmTableShared *e, const LsmCompactJob *job)
{
	lsm_counter_add(e, LSM_CTR_COMPACTIONS, 1);
	lsm_counter_add(e, LSM_CTR_BYTES_COMPACTED_READ, job->stats->bytes_read);
	lsm_counter_add(e, LSM_CTR_BYTES_COMPACTED_WRITTEN, job->stats->bytes_written);
	lsm_counter_set_time(e, LSM_TS_LAST_COMPACTION);
}

/*
 * Installs the merged runs: one manifest change made to the manifest as it
 * is now, under the metapage lock.  If the merge removed rows, the manifest
 * notes that row-map entries wait for VACUUM.
 */
static void
lsm_compact_install(LsmStore *s, LsmCompactJob *job, bool removed_rows)
{
	LsmMetaTx	tx;

	lsm_manifest_init(&tx.m);
	PG_TRY();
	{
		lsm_status	st;

		lsm_meta_begin(s, &tx, true, true);
		st = lsm_manifest_apply_compaction(&tx.m, job->c, job->outs, job->nouts,
										   lsm_free_horizon());
		if (st == LSM_INVALID)
		{
			/*
			 * An input is gone (only another compaction could have removed
			 * it, which the relation lock should have prevented).  Nobody
			 * has seen the outputs: their pages are free at once.
			 */
			for (int i = 0; i < job->nouts; i++)
				lsm_meta_check_status(s,
									  lsm_manifest_free_extent(&tx.m, job->outs[i].first_page,
															   job->outs[i].npages, 0),
									  "freeing the output of an abandoned compaction");
			lsm_meta_commit(s, &tx, NULL, NULL);
			ereport(WARNING,
					errcode(ERRCODE_OBJECT_IN_USE),
					errmsg("compaction of lsm table \"%s\" abandoned: its input runs changed meanwhile",
						   s->relname));
		}
		else
		{
			lsm_meta_check_status(s, st, "installing a compaction");
			if (removed_rows)
				tx.m.aux |= LSM_MANIFEST_MAP_GARBAGE;
			lsm_meta_commit(s, &tx, NULL, NULL);
			lsm_count_compaction(s->entry, job);
		}
		UnlockReleaseBuffer(tx.buf);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
}

void
lsm_compact_run(LsmStore *s, lsm_compaction *c, LsmGc *gc,
				lsm_compaction_stats *stats)
{
	LsmCompactJob *job = palloc0(sizeof(LsmCompactJob));

	job->c = c;
	job->stats = stats;
	lsm_counter_set_compacting(s->entry, true);
	PG_TRY();
	{
		lsm_sst_options opts;
		lsm_run_writer w;
		lsm_status	st;

		lsm_store_run_options(&opts, true);
		w.pager = &s->pager;
		w.sst_opts = &opts;
		w.alloc = lsm_alloc_extent;
		w.alloc_arg = s;

		/*
		 * Sequence numbers are not snapshots here (see the file comment):
		 * every version counts as visible to all, so a tombstone the filter
		 * makes shadows the older versions of its key.
		 */
		st = lsm_compaction_merge(&w, c, LSM_MAX_SEQ,
								  gc ? lsm_gc_filter(gc) : NULL,
								  &job->outs, &job->nouts, stats);
		lsm_store_check(s, st, "compacting level %d into level %d",
						c->level, c->out_level);
		/* Standby queries that may see what the filter removed: conflict. */
		if (gc != NULL)
			lsm_log_removal_horizon(&s->node, s->needs_wal,
									lsm_gc_conflict_horizon(gc));
		lsm_compact_install(s, job, gc != NULL && lsm_gc_removed_rows(gc));
		elog(DEBUG1, "lsm table \"%s\": compacted %d+%d runs of levels %d and %d into %d runs (%llu bytes read, %llu written, %llu entries dropped)",
			 s->relname, c->ninputs[0], c->ninputs[1], c->level,
			 c->out_level, job->nouts,
			 (unsigned long long) stats->bytes_read,
			 (unsigned long long) stats->bytes_written,
			 (unsigned long long) stats->dropped);
	}
	PG_FINALLY();
	{
		lsm_counter_set_compacting(s->entry, false);
		lsm_compact_job_free(job);
	}
	PG_END_TRY();
	pfree(job);
}

/*
 * Moves c's one run down a level as it is (c->move): one manifest change, no
 * page read or written, so nothing for a standby's queries to conflict with.
 */
static void
lsm_compact_move(LsmStore *s, const lsm_compaction *c)
{
	LsmMetaTx	tx;

	lsm_manifest_init(&tx.m);
	PG_TRY();
	{
		lsm_meta_begin(s, &tx, true, true);
		lsm_meta_check_status(s, lsm_manifest_apply_move(&tx.m, c),
							  "moving a run down a level");
		lsm_meta_commit(s, &tx, NULL, NULL);
		UnlockReleaseBuffer(tx.buf);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	lsm_counter_add(s->entry, LSM_CTR_COMPACTIONS, 1);
	lsm_counter_add(s->entry, LSM_CTR_RUNS_MOVED, 1);
	lsm_counter_set_time(s->entry, LSM_TS_LAST_COMPACTION);
	elog(DEBUG1, "lsm table \"%s\": moved run %llu from level %d to level %d",
		 s->relname, (unsigned long long) c->inputs[0][0].id, c->level,
		 c->out_level);
}

/* Merges c's runs through the garbage-collecting filter of cut. */
static void
lsm_compact_merge(LsmStore *s, lsm_compaction *c, const LsmGcCutoffs *cut)
{
	/* The inputs are read once: through a ring, not into shared buffers. */
	s->read_strategy = lsm_bulk_read_strategy();
	PG_TRY();
	{
		LsmGc	   *gc = lsm_gc_begin(s, cut, LSM_GC_MAP_KEEP, NULL);
		lsm_compaction_stats stats;
		LsmGcStats	gstats;

		lsm_compact_run(s, c, gc, &stats);
		lsm_gc_end(gc, &gstats);
		lsm_compact_count(s, &stats, &gstats);
	}
	PG_FINALLY();
	{
		s->read_strategy = NULL;
	}
	PG_END_TRY();
}

bool
lsm_compact_step(LsmStore *s, bool full)
{
	lsm_compaction *c = palloc0(sizeof(lsm_compaction));
	lsm_compaction_options o;
	LsmGcCutoffs cut;
	LsmMetaTx	tx;
	bool		picked;

	Assert(s->entry != NULL);
	lsm_compact_options(&o);
	lsm_meta_begin(s, &tx, false, true);
	picked = full ? lsm_compaction_pick_all(&tx.m, &o, c) :
		lsm_compaction_pick(&tx.m, &o, c);
	lsm_meta_end(&tx);
	if (!picked)
	{
		pfree(c);
		return false;
	}

	/* After the pick: the horizon may only have advanced meanwhile. */
	lsm_gc_cutoffs_default(NULL, &cut);
	PG_TRY();
	{
		/*
		 * A run that nothing below overlaps moves down as it is, unless the
		 * filter would collect garbage or freeze in it: then it is merged.
		 */
		if (c->move && !lsm_gc_run_has_work(&c->inputs[0][0], &cut))
			lsm_compact_move(s, c);
		else
			lsm_compact_merge(s, c, &cut);
	}
	PG_FINALLY();
	{
		lsm_compaction_free(c);
	}
	PG_END_TRY();
	pfree(c);
	return true;
}

/*
 * lsm_compact(regclass) returns void
 *
 * Compacts every run of the table into one level (memtables are not
 * flushed; lsm_flush does that).  For the table's owner (or the
 * database's).  Waits for a compaction of the table already running.
 */
Datum
lsm_compact(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = relation_open(relid, ShareUpdateExclusiveLock);
	LsmStore	store;
	LsmUse	   *u;
	int			write_back;

	if (!lsm_is_lsm_relation(rel))
		ereport(ERROR,
				errcode(ERRCODE_WRONG_OBJECT_TYPE),
				errmsg("\"%s\" is not an lsm table", RelationGetRelationName(rel)),
				rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
				errhint("Compact its partitions.") : 0);
	if (!pg_class_ownercheck(relid, GetUserId()) &&
		!pg_database_ownercheck(MyDatabaseId, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	/* Attached, so that readers learn of each manifest change; loaded. */
	u = lsm_store_open(&store, rel, true);
	write_back = lsm_write_back_begin();
	while (lsm_compact_step(&store, true))
		CHECK_FOR_INTERRUPTS();
	AtEOXact_GUC(true, write_back);
	lsm_store_free(&store);
	lsm_use_release(u);

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}
