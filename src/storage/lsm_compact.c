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
 * Garbage.  Relations keep their MVCC in the values, not in sequence
 * numbers, so compaction passes oldest_snapshot LSM_MAX_SEQ, under which
 * the core's rule only lets a tombstone shadow what lies beneath it, as
 * readers do, and the filter the relation kind passes decides everything
 * else (for tables: lsm_gc.c, through lsm_table_compact.c and VACUUM).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"

#include "lsm/compaction.h"
#include "lsm_compact.h"
#include "lsm_rmgr.h"

LsmCompactStepFn lsm_compact_step_hook = NULL;
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
 * is now, under the metapage lock, which also sets the filter's bits aux.
 */
static void
lsm_compact_install(LsmStore *s, LsmCompactJob *job, uint64 aux)
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
			tx.m.aux |= aux;
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
lsm_compact_run(LsmStore *s, lsm_compaction *c, LsmCompactFilter *f,
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
		TransactionId horizon = InvalidTransactionId;
		uint64		aux = 0;

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
								  f ? f->entries : NULL,
								  &job->outs, &job->nouts, stats);
		lsm_store_check(s, st, "compacting level %d into level %d",
						c->level, c->out_level);
		/* Standby queries that may see what the filter removed: conflict. */
		if (f != NULL)
			f->finish(f, &horizon, &aux);
		lsm_log_removal_horizon(&s->node, s->needs_wal, horizon);
		lsm_compact_install(s, job, aux);
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
void
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

bool
lsm_compact_pick(LsmStore *s, bool full, lsm_compaction *c)
{
	lsm_compaction_options o;
	LsmMetaTx	tx;
	bool		picked;

	Assert(s->entry != NULL);
	lsm_compact_options(&o);
	lsm_meta_begin(s, &tx, false, true);
	picked = full ? lsm_compaction_pick_all(&tx.m, &o, c) :
		lsm_compaction_pick(&tx.m, &o, c);
	lsm_meta_end(&tx);
	return picked;
}
