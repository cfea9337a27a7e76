/*
 * lsm_table_compact.c - compaction of an lsm table: the storage layer's
 * compaction step (lsm_compact.c) with the table's MVCC garbage collection
 * (lsm_gc.c) as its filter.
 *
 * The filter's horizon is the oldest xmin of all databases
 * (GetOldestNonRemovableTransactionId without a relation), read after the
 * pick; VACUUM (lsm_vacuum.c) uses the table's own.
 */
#include "postgres.h"

#include "lsm/compaction.h"
#include "lsm_compact.h"
#include "lsm_gc.h"

void
lsm_table_compact_count(LsmStore *s, const lsm_compaction_stats *stats,
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

/* Merges c's runs through the garbage-collecting filter of cut. */
static void
lsm_table_compact_merge(LsmStore *s, lsm_compaction *c, const LsmGcCutoffs *cut)
{
	/* The inputs are read once: through a ring, not into shared buffers. */
	s->read_strategy = lsm_bulk_read_strategy();
	PG_TRY();
	{
		LsmGc	   *gc = lsm_gc_begin(s, cut, LSM_GC_MAP_KEEP, NULL);
		lsm_compaction_stats stats;
		LsmGcStats	gstats;

		lsm_compact_run(s, c, lsm_gc_filter(gc), &stats);
		lsm_gc_end(gc, &gstats);
		lsm_table_compact_count(s, &stats, &gstats);
	}
	PG_FINALLY();
	{
		s->read_strategy = NULL;
	}
	PG_END_TRY();
}

bool
lsm_table_compact_step(LsmStore *s, bool full)
{
	lsm_compaction *c = palloc0(sizeof(lsm_compaction));
	LsmGcCutoffs cut;

	if (!lsm_compact_pick(s, full, c))
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
			lsm_table_compact_merge(s, c, &cut);
	}
	PG_FINALLY();
	{
		lsm_compaction_free(c);
	}
	PG_END_TRY();
	pfree(c);
	return true;
}
