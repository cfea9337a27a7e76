/*
 * lsm_vacuum.c - VACUUM of lsm tables.
 *
 * Compaction collects garbage in the background (lsm_gc.h); VACUUM is how a
 * user reclaims it now, and how relfrozenxid and relminmxid advance.  With
 * the table's ShareUpdateExclusiveLock (which keeps background compaction
 * out) it:
 *
 *   1. computes heap's cutoffs (vacuum_set_xid_limits: the table's removal
 *      horizon, the freeze limits of VACUUM's settings or of FREEZE);
 *   2. flushes the memtables, so that every entry written before the
 *      cutoffs is in a run; bound_seq is the manifest's flushed_seq then;
 *   3. compacts every run at or below bound_seq into one level through the
 *      garbage-collecting, freezing filter (runs flushed meanwhile stay on
 *      level 0, above); the last merge sees every such entry, and marks the
 *      row ids whose row-map entry it read but whose VALUE it did not write:
 *      those rows are gone (removed now, or by an earlier compaction).  When
 *      one level already holds everything, it is rewritten only if that can
 *      gain something (level_needs_rewrite);
 *   4. deletes the index entries of the marked row ids (ambulkdelete), then
 *      runs each index's cleanup;
 *   5. rewrites the runs holding the row map without the marked ids' map
 *      entries;
 *   6. sets relfrozenxid and relminmxid to the oldest xid and multixact any
 *      run still holds (each run records them: lsm_gc.h), bounded by the
 *      cutoffs, which entries written after step 2 cannot precede;
 *   7. gives the free pages at the end of the file back (truncation),
 *      after moving down what would stop it there: when nothing else was
 *      merged, the runs of the deepest level that end highest, into free
 *      pages below them (a later VACUUM cuts what they leave); the log,
 *      when it holds nothing a run does not, to a fresh page low in the
 *      file (lsm_log_move_down); an overflow manifest into a lower free
 *      extent.  Freed pages are reused or cut
 *      only once no reader can still read them (lsm_space.c), so the
 *      pages a VACUUM frees itself are given back by a later one: after a
 *      workload that rewrote most rows, the first VACUUM removes the dead
 *      versions, the second moves the rest into the pages the first freed,
 *      the third cuts the pages the second freed.
 *
 * Crash safety: every merge is one manifest change, as for any compaction,
 * so a crash leaves the table as the last completed step left it.  Index
 * entries go before the map entries that prove their rows gone, so a crash
 * between steps 4 and 5 leaves only map entries, which the next VACUUM
 * finds again.  Row ids are never reused, so an index entry left behind
 * never points at another row.
 *
 * Row ids of concurrent inserts: a row's VALUE has a lower sequence number
 * than its map entry (lsm_modify.c writes them in that order in one call),
 * so a map entry at or below bound_seq has its VALUE in the last merge too,
 * unless the row is gone.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/multixact.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/storage.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "commands/dbcommands.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "lsm/compaction.h"
#include "lsm/ikey.h"
#include "lsm_compact.h"
#include "lsm_gc.h"
#include "lsm_tableam.h"

typedef struct LsmVacuum
{
	Relation	rel;
	int			elevel;
	LsmGcCutoffs cut;
	LsmStore	store;
	LsmUse	   *use;
	uint64		bound_seq;
	int			last_level;		/* where the last merge put everything */
	LsmRowidSet gone;			/* row ids whose rows are gone */
	LsmGcStats	gc;				/* summed over the merges */
	bool		final_merge;	/* step 3 merged everything (marking) */
	bool		relocated;		/* step 7a moved runs of the deepest level */
	uint64		rows_kept;		/* by the last merge of step 3 */
	uint64		recently_dead;	/* likewise */
	uint64		bytes_read;
	uint64		bytes_written;
	uint64		entries_dropped;
	int			merges;
	int			index_scans;
	double		index_removed;
	BlockNumber pages_before;
} LsmVacuum;

static void
add_stats(LsmVacuum *v, const lsm_compaction_stats *cs, const LsmGcStats *gs)
{
	v->gc.rows_removed += gs->rows_removed;
	v->gc.aborted_removed += gs->aborted_removed;
	v->gc.deltas_removed += gs->deltas_removed;
	v->gc.rowmaps_removed += gs->rowmaps_removed;
	v->gc.frozen += gs->frozen;
	v->bytes_read += cs->bytes_read;
	v->bytes_written += cs->bytes_written;
	v->entries_dropped += cs->dropped;
	v->merges++;
}

/*
 * Runs one merge of c through the filter and accounts for it; c's inputs
 * are freed whatever happens.
 */
static void
vacuum_merge(LsmVacuum *v, lsm_compaction *c, LsmGcMapMode mode,
			 LsmGcStats *gstats)
{
	PG_TRY();
	{
		LsmGc	   *gc = lsm_gc_begin(&v->store, &v->cut, mode, &v->gone);
		lsm_compaction_stats cs;

		memset(&cs, 0, sizeof(cs));
		lsm_compact_run(&v->store, c, lsm_gc_filter(gc), &cs);
		lsm_gc_end(gc, gstats);
		lsm_table_compact_count(&v->store, &cs, gstats);
		add_stats(v, &cs, gstats);
	}
	PG_CATCH();
	{
		lsm_compaction_free(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
	lsm_compaction_free(c);
}

/* Runs of m at or below bound (level-0 runs flushed later do not count). */
static int
bounded_runs(const lsm_manifest *m, uint64 bound, int *deepest)
{
	int			n = 0;

	*deepest = -1;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
		{
			if (l == 0 && m->levels[l].runs[i].max_seq > bound)
				continue;
			n++;
			*deepest = l;
		}
	return n;
}

/*
 * When one level already holds every run, whether rewriting it can gain
 * anything: a merge since the last VACUUM removed rows (their map and index
 * entries wait for one), or a run has work for the filter (its content is
 * unknown, it has xids or multixacts to freeze, or entries that waited on a
 * transaction now behind the removal horizon).
 */
static bool
level_needs_rewrite(LsmVacuum *v, const lsm_manifest *m, int level)
{
	if (m->aux & LSM_MANIFEST_MAP_GARBAGE)
		return true;
	for (int i = 0; i < m->levels[level].nruns; i++)
		if (lsm_gc_run_has_work(&m->levels[level].runs[i], &v->cut))
			return true;
	return false;
}

/*
 * Picks the next merge of step 3 into *c; *final says whether it is the
 * last (it takes every bounded run).  False when there is nothing to merge.
 */
static bool
vacuum_pick(LsmVacuum *v, lsm_compaction *c, bool *final)
{
	lsm_compaction_options o;
	LsmMetaTx	tx;
	int			nbounded;
	int			deepest;
	bool		picked;

	lsm_compact_options(&o);
	lsm_meta_begin(&v->store, &tx, false, true);
	nbounded = bounded_runs(&tx.m, v->bound_seq, &deepest);
	picked = lsm_compaction_pick_all_upto(&tx.m, &o, v->bound_seq, c);
	if (picked)
		*final = c->ninputs[0] + c->ninputs[1] == nbounded;
	else if (nbounded > 0 && level_needs_rewrite(v, &tx.m, deepest))
	{
		/* one level holds them all: rewrite it in place */
		picked = lsm_compaction_pick_rewrite(&tx.m, &o, deepest,
											 lsm_slice_make(NULL, 0),
											 lsm_slice_make(NULL, 0), c);
		*final = true;
	}
	lsm_meta_end(&tx);
	return picked;
}

/* Step 3. */
static void
vacuum_compact(LsmVacuum *v)
{
	lsm_compaction *c = palloc0(sizeof(lsm_compaction));
	bool		final = false;

	while (!final)
	{
		LsmGcStats	gs;

		CHECK_FOR_INTERRUPTS();
		if (!vacuum_pick(v, c, &final))
			break;
		v->last_level = c->out_level;
		vacuum_merge(v, c, final ? LSM_GC_MAP_MARK : LSM_GC_MAP_KEEP, &gs);
		v->rows_kept = gs.rows_kept;
		v->recently_dead = gs.recently_dead;
		v->final_merge = final;
	}
	pfree(c);
}

/* Step 5: the runs holding row-map keys, without the map entries of gone rows. */
static void
vacuum_drop_map_entries(LsmVacuum *v)
{
	static const uint8 lo[1] = {LSM_FAMILY_ROWMAP};
	static const uint8 hi[1] = {LSM_FAMILY_ROWMAP + 1};
	lsm_compaction *c = palloc0(sizeof(lsm_compaction));
	lsm_compaction_options o;
	LsmMetaTx	tx;
	bool		picked;

	lsm_compact_options(&o);
	lsm_meta_begin(&v->store, &tx, false, true);
	picked = v->last_level > 0 &&
		lsm_compaction_pick_rewrite(&tx.m, &o, v->last_level,
									lsm_slice_make(lo, 1),
									lsm_slice_make(hi, 1), c);
	lsm_meta_end(&tx);
	if (picked)
	{
		LsmGcStats	gs;

		vacuum_merge(v, c, LSM_GC_MAP_DROP, &gs);
	}
	pfree(c);
}

/* ambulkdelete's callback: is the row at this TID gone? */
static bool
vacuum_tid_gone(ItemPointer tid, void *state)
{
	LsmRowidSet *gone = (LsmRowidSet *) state;

	return lsm_tid_valid(tid) &&
		lsm_rowid_set_contains(gone, lsm_tid_to_rowid(tid));
}

/* Step 4 for one index; returns its stats after cleanup. */
static void
vacuum_index(LsmVacuum *v, Relation index, BufferAccessStrategy bstrategy,
			 double reltuples, bool bulkdelete)
{
	IndexVacuumInfo ivinfo;
	IndexBulkDeleteResult *stats = NULL;

	memset(&ivinfo, 0, sizeof(ivinfo));
	ivinfo.index = index;
	ivinfo.analyze_only = false;
	ivinfo.report_progress = false;
	ivinfo.estimated_count = false;
	ivinfo.message_level = v->elevel;
	ivinfo.num_heap_tuples = reltuples;
	ivinfo.strategy = bstrategy;

	if (bulkdelete)
	{
		stats = index_bulk_delete(&ivinfo, NULL, vacuum_tid_gone, &v->gone);
		if (stats)
			v->index_removed += stats->tuples_removed;
	}
	stats = index_vacuum_cleanup(&ivinfo, stats);
	if (stats == NULL)
		return;

	ereport(v->elevel,
			errmsg("index \"%s\": removed %.0f entries",
				   RelationGetRelationName(index), stats->tuples_removed),
			errdetail("%.0f entries remain in %u pages; %u pages are deleted, %u reusable.",
					  stats->num_index_tuples, stats->num_pages,
					  stats->pages_deleted, stats->pages_free));
	if (!stats->estimated_count)
		vac_update_relstats(index, stats->num_pages, stats->num_index_tuples,
							0, false, InvalidTransactionId,
							InvalidMultiXactId, NULL, NULL, false);
	pfree(stats);
}

/* Step 4; returns whether the index entries of gone rows were deleted. */
static bool
vacuum_indexes(LsmVacuum *v, VacuumParams *params,
			   BufferAccessStrategy bstrategy, double reltuples)
{
	Relation   *indrels;
	int			nindexes;
	bool		bulkdelete;

	if (params->index_cleanup == VACOPTVALUE_DISABLED)
		return false;
	vac_open_indexes(v->rel, RowExclusiveLock, &nindexes, &indrels);
	bulkdelete = v->gone.count > 0 && nindexes > 0;
	if (bulkdelete)
		v->index_scans++;
	for (int i = 0; i < nindexes; i++)
		vacuum_index(v, indrels[i], bstrategy, reltuples, bulkdelete);
	vac_close_indexes(nindexes, indrels, NoLock);
	return true;
}

/*
 * Step 6: the oldest xid and multixact any run holds.  Runs written after
 * bound_seq without a record hold only entries newer than the cutoffs; an
 * older one without a record (there should be none after step 3) keeps the
 * table's values as they are.
 */
static void
vacuum_horizons(LsmVacuum *v, TransactionId *frozenxid, MultiXactId *minmulti)
{
	LsmMetaTx	tx;

	*frozenxid = v->cut.oldest_xmin;
	*minmulti = v->cut.oldest_mxact;
	lsm_meta_begin(&v->store, &tx, false, true);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < tx.m.levels[l].nruns; i++)
		{
			const lsm_run_meta *run = &tx.m.levels[l].runs[i];
			TransactionId xid = lsm_run_aux_xid(run->aux);
			MultiXactId mxid = lsm_run_aux_mxid(run->aux);

			if (!lsm_run_aux_known(run->aux))
			{
				if (run->min_seq > v->bound_seq)
					continue;
				*frozenxid = InvalidTransactionId;
				*minmulti = InvalidMultiXactId;
				goto done;
			}
			if (TransactionIdIsNormal(xid) &&
				TransactionIdPrecedes(xid, *frozenxid))
				*frozenxid = xid;
			if (MultiXactIdIsValid(mxid) &&
				MultiXactIdPrecedes(mxid, *minmulti))
				*minmulti = mxid;
		}
done:
	lsm_meta_end(&tx);
}

/*
 * After step 5: every row removed so far has lost its map and index
 * entries.
 */
static void
vacuum_clear_map_garbage(LsmVacuum *v)
{
	LsmMetaTx	tx;

	lsm_meta_begin(&v->store, &tx, true, true);
	PG_TRY();
	{
		if (tx.m.aux & LSM_MANIFEST_MAP_GARBAGE)
		{
			tx.m.aux &= ~LSM_MANIFEST_MAP_GARBAGE;
			lsm_meta_commit(&v->store, &tx, NULL, NULL);
		}
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
}

/*
 * Picks into *c the rewrite of the run of level that ends highest in the
 * file, if that is worth it and possible: the level's runs end at least
 * heap's truncation threshold (1000 pages or a sixteenth of the relation)
 * above their total size, and reusable free pages below the run could hold
 * it with some to spare.  The new run is cut to fit the largest free piece
 * (with room for index, bloom filter and footer), so that pieces smaller
 * than the run are used too.  Only the highest run is moved each time:
 * moving a lower one frees nothing at the end.
 */
static bool
vacuum_pick_relocation(LsmVacuum *v, const lsm_compaction_options *o,
					   int level, lsm_compaction *c)
{
	LsmMetaTx	tx;
	const lsm_run_meta *top = NULL;
	uint64		pages = 0;
	BlockNumber end = 0;
	BlockNumber nblocks;
	bool		picked = false;

	lsm_meta_begin(&v->store, &tx, false, true);
	nblocks = smgrnblocks(RelationGetSmgr(v->rel), MAIN_FORKNUM);
	for (int i = 0; i < tx.m.levels[level].nruns; i++)
	{
		const lsm_run_meta *run = &tx.m.levels[level].runs[i];

		pages += run->npages;
		if (run->first_page + run->npages > end)
		{
			end = run->first_page + run->npages;
			top = run;
		}
	}
	if (top != NULL && end - Min(pages, end) >= Min(1000, nblocks / 16))
	{
		uint32		largest_free;
		uint64		free_below = lsm_reusable_pages_below(&tx.m, top->first_page,
														  &largest_free);

		if (free_below >= (uint64) top->npages + top->npages / 8 &&
			largest_free >= Min(32, top->npages))
		{
			lsm_slice	small = lsm_ikey_user_key(lsm_buf_slice(&top->smallest));
			lsm_slice	large = lsm_ikey_user_key(lsm_buf_slice(&top->largest));
			uint8	   *above = palloc(large.len + 1);

			/* [small, large + "\0"): that run's user keys and no other's */
			memcpy(above, large.data, large.len);
			above[large.len] = 0;
			picked = lsm_compaction_pick_rewrite(&tx.m, o, level, small,
												 lsm_slice_make(above, large.len + 1),
												 c);
			if (picked && largest_free < top->npages)
				c->target_run_bytes = (uint64) largest_free * LSM_PAYLOAD_SIZE / 4 * 3;
			pfree(above);
		}
	}
	lsm_meta_end(&tx);
	return picked;
}

/*
 * Step 7a: when nothing was merged, moves the runs of the deepest level that
 * end highest in the file down into reusable free pages, one merge each,
 * highest first, while that can shorten the file; a later VACUUM gives the
 * pages above them back to the file system.  At most one rewrite per run
 * the level had, should the pieces found lie above the runs after all.
 */
static void
vacuum_relocate(LsmVacuum *v)
{
	lsm_compaction *c = palloc0(sizeof(lsm_compaction));
	lsm_compaction_options o;
	LsmMetaTx	tx;
	int			level = -1;
	int			nruns = 0;

	lsm_compact_options(&o);
	lsm_meta_begin(&v->store, &tx, false, true);
	for (int l = LSM_MAX_LEVELS - 1; l > 0 && level < 0; l--)
		if (tx.m.levels[l].nruns > 0)
		{
			level = l;
			nruns = tx.m.levels[l].nruns;
		}
	lsm_meta_end(&tx);

	for (int i = 0; i < nruns; i++)
	{
		LsmGcStats	gs;

		CHECK_FOR_INTERRUPTS();
		if (!vacuum_pick_relocation(v, &o, level, c))
			break;
		vacuum_merge(v, c, LSM_GC_MAP_KEEP, &gs);
		v->relocated = true;
	}
	pfree(c);
}

/*
 * Step 7b: a manifest too large for the metapage lives on an extent of
 * overflow pages that every manifest change rewrites into the lowest free
 * extent that fits; when one below the current extent would take it, a
 * change (with nothing else to change) moves it there, so that it does not
 * stop the truncation.
 */
static void
vacuum_move_manifest(LsmVacuum *v)
{
	LsmMetaTx	tx;

	lsm_meta_begin(&v->store, &tx, true, true);
	PG_TRY();
	{
		uint32		largest;

		if (tx.meta.manifest_first != 0 &&
			lsm_reusable_pages_below(&tx.m, tx.meta.manifest_first, &largest) > 0 &&
			largest > tx.meta.manifest_npages)
			lsm_meta_commit(&v->store, &tx, NULL, NULL);
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
}

/*
 * Whether enough pages at the end are free and reusable to be worth the
 * exclusive lock: heap's thresholds (1000 pages or a sixteenth).
 */
static bool
vacuum_tail_worth_truncating(LsmVacuum *v)
{
	LsmMetaTx	tx;
	BlockNumber nblocks;
	BlockNumber end;

	lsm_meta_begin(&v->store, &tx, false, true);
	nblocks = smgrnblocks(RelationGetSmgr(v->rel), MAIN_FORKNUM);
	end = lsm_free_tail(&tx.m, nblocks);	/* on this copy only */
	lsm_meta_end(&tx);
	return end < nblocks &&
		(nblocks - end >= 1000 || nblocks - end >= nblocks / 16);
}

/*
 * With old_snapshot_threshold set, vacuum_set_xid_limits moves the removal
 * horizon past snapshots older than the threshold: heap then removes rows
 * they still see, and its readers, which test every page they read
 * against the threshold (TestForOldSnapshot), fail with "snapshot too old".
 * lsm readers have no page to test, so lsm tables keep what any snapshot
 * still sees: the horizon goes back to the oldest xmin, and freezing stays
 * behind it.  old_snapshot_threshold then removes nothing early from lsm
 * tables, and no snapshot reads a row set with rows missing.
 */
static void
vacuum_keep_old_snapshots(Relation rel, LsmGcCutoffs *cut)
{
	TransactionId oldest = GetOldestNonRemovableTransactionId(rel);

	if (!TransactionIdPrecedes(oldest, cut->oldest_xmin))
		return;
	cut->oldest_xmin = oldest;
	if (TransactionIdFollows(cut->freeze_limit, oldest))
		cut->freeze_limit = oldest;
}

/* Waits up to about 5 s for the lock truncation needs, as heap's VACUUM. */
static bool
vacuum_truncate_lock(Relation rel)
{
	for (int i = 0; i < 100; i++)
	{
		if (ConditionalLockRelation(rel, AccessExclusiveLock))
			return true;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(50 * 1000L);
	}
	return false;
}

/*
 * The truncation's own manifest change writes an overflow manifest to a
 * fresh extent before freeing the old one; when no free extent below the
 * new end can take it, the change would extend the relation and undo the
 * truncation.  Then the first pages of the tail stay free for it.  Returns
 * where the relation may end.
 */
static BlockNumber
vacuum_keep_manifest_room(LsmMetaTx *tx, BlockNumber new_end,
						  BlockNumber nblocks)
{
	uint32		need = tx->meta.manifest_npages + 1;
	uint32		largest;

	if (tx->meta.manifest_first == 0 || new_end >= nblocks)
		return new_end;
	(void) lsm_reusable_pages_below(&tx->m, new_end, &largest);
	if (largest >= need)
		return new_end;
	if (nblocks - new_end <= need ||
		lsm_manifest_free_extent(&tx->m, new_end, need, 0) != LSM_OK)
		return nblocks;
	return new_end + need;
}

/*
 * Step 7: gives the free pages at the end of the relation back to the file
 * system, once no reader can still read them (their reuse horizon passed:
 * those a merge of this VACUUM freed wait for a later one).  Under
 * AccessExclusiveLock, as heap truncates, so that standbys cancel queries
 * that might still read them.  The manifest forgets the pages first; should
 * a flush have extended the relation meanwhile, they go back into it.
 */
static void
vacuum_truncate(LsmVacuum *v)
{
	LsmStore   *s = &v->store;
	SMgrRelation srel = RelationGetSmgr(v->rel);
	LsmMetaTx	tx;
	BlockNumber nblocks;
	BlockNumber new_end;

	if (!vacuum_truncate_lock(v->rel))
	{
		ereport(v->elevel,
				errmsg("lsm table \"%s\": free pages at the end not truncated: the table is in use",
					   RelationGetRelationName(v->rel)));
		return;
	}
	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		nblocks = smgrnblocks(srel, MAIN_FORKNUM);
		new_end = lsm_free_tail(&tx.m, nblocks);
		new_end = vacuum_keep_manifest_room(&tx, new_end, nblocks);
		if (new_end < nblocks)
		{
			lsm_meta_commit(s, &tx, NULL, NULL);

			/*
			 * The manifest that no longer names the pages must be durable
			 * before the file loses them: older PostgreSQL 15 minor releases
			 * flush WAL in RelationTruncate only for relations with a free
			 * space map or visibility map, which an lsm table has not.
			 */
			if (s->needs_wal)
				XLogFlush(XactLastRecEnd);
			LWLockAcquire(&s->entry->extend, LW_EXCLUSIVE);
			if (smgrnblocks(srel, MAIN_FORKNUM) == nblocks)
			{
				RelationTruncate(v->rel, new_end);
				LWLockRelease(&s->entry->extend);
			}
			else
			{
				LWLockRelease(&s->entry->extend);
				lsm_meta_check_status(s,
									  lsm_manifest_free_extent(&tx.m, new_end,
															   nblocks - new_end, 0),
									  "giving back pages not truncated");
				lsm_meta_commit(s, &tx, NULL, NULL);
			}
		}
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
	UnlockRelation(v->rel, AccessExclusiveLock);
}

static void
vacuum_report(LsmVacuum *v, BlockNumber pages, double live,
			  TransactionId frozenxid, bool frozenxid_updated,
			  MultiXactId minmulti, bool minmulti_updated)
{
	ereport(v->elevel,
			errmsg("lsm table \"%s\": removed %llu dead and %llu aborted row versions, %.0f row versions remain",
				   RelationGetRelationName(v->rel),
				   (unsigned long long) v->gc.rows_removed,
				   (unsigned long long) v->gc.aborted_removed, live),
			errdetail("Removed %llu xmax entries and %llu row-map entries, %.0f index entries in %d index scans; froze %llu row versions; %llu recently dead row versions are not yet removable.\n"
					  "Merged %llu bytes into %llu bytes in %d compactions; %u pages before, %u after.\n"
					  "Removable cutoff: %u; new relfrozenxid: %u%s; new relminmxid: %u%s.",
					  (unsigned long long) v->gc.deltas_removed,
					  (unsigned long long) v->gc.rowmaps_removed,
					  v->index_removed, v->index_scans,
					  (unsigned long long) v->gc.frozen,
					  (unsigned long long) v->recently_dead,
					  (unsigned long long) v->bytes_read,
					  (unsigned long long) v->bytes_written, v->merges,
					  v->pages_before, pages,
					  v->cut.oldest_xmin, frozenxid,
					  frozenxid_updated ? " (advanced)" : " (unchanged)",
					  minmulti, minmulti_updated ? " (advanced)" : " (unchanged)"));
}



void
lsm_relation_vacuum(Relation rel, VacuumParams *params,
					BufferAccessStrategy bstrategy)
{
	LsmVacuum  *v = palloc0(sizeof(LsmVacuum));
	TransactionId frozenxid;
	MultiXactId minmulti;
	bool		frozenxid_updated = false;
	bool		minmulti_updated = false;
	BlockNumber pages;
	double		live;
	LsmMetaTx	tx;

	v->rel = rel;
	v->elevel = (params->options & VACOPT_VERBOSE) ? INFO : DEBUG2;
	lsm_rowid_set_init(&v->gone);
	ereport(v->elevel,
			errmsg("vacuuming \"%s.%s.%s\"",
				   get_database_name(MyDatabaseId),
				   get_namespace_name(RelationGetNamespace(rel)),
				   RelationGetRelationName(rel)));

	/* 1 */
	vacuum_set_xid_limits(rel, params->freeze_min_age,
						  params->freeze_table_age,
						  params->multixact_freeze_min_age,
						  params->multixact_freeze_table_age,
						  &v->cut.oldest_xmin, &v->cut.oldest_mxact,
						  &v->cut.freeze_limit, &v->cut.multi_cutoff);
	vacuum_keep_old_snapshots(rel, &v->cut);
	v->pages_before = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);

	/* 2 */
	lsm_tree_flush(lsm_tree_open(rel));
	v->use = lsm_store_open(&v->store, rel, true);
	lsm_meta_begin(&v->store, &tx, false, true);
	v->bound_seq = tx.m.flushed_seq;
	lsm_meta_end(&tx);

	/* 3 */
	vacuum_compact(v);
	if (v->final_merge)
		live = (double) v->rows_kept;
	else
	{
		BlockNumber est_pages;

		/* nothing merged: the runs hold a VALUE and a map entry per row */
		lsm_table_estimate(rel, &est_pages, &live);
	}

	/* 4, 5 */
	if (vacuum_indexes(v, params, bstrategy, live))
	{
		if (v->gone.count > 0)
			vacuum_drop_map_entries(v);
		if (v->final_merge)
			vacuum_clear_map_garbage(v);
	}

	/* 6 */
	vacuum_horizons(v, &frozenxid, &minmulti);

	/* 7 */
	if (params->truncate != VACOPTVALUE_DISABLED && v->merges == 0)
		vacuum_relocate(v);
	if (params->truncate != VACOPTVALUE_DISABLED)
	{
		lsm_log_move_down(&v->store, v->store.entry);
		vacuum_move_manifest(v);
	}
	if (params->truncate != VACOPTVALUE_DISABLED &&
		vacuum_tail_worth_truncating(v))
		vacuum_truncate(v);
	pages = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);

	/* relpages as ANALYZE and CREATE INDEX set it: the TID space */
	vac_update_relstats(rel, RelationGetNumberOfBlocks(rel), live, 0,
						RelationGetForm(rel)->relhasindex,
						frozenxid, minmulti,
						&frozenxid_updated, &minmulti_updated, false);
	pgstat_report_vacuum(RelationGetRelid(rel), rel->rd_rel->relisshared,
						 (PgStat_Counter) (live - v->recently_dead),
						 (PgStat_Counter) v->recently_dead);
	vacuum_report(v, pages, live, frozenxid, frozenxid_updated,
				  minmulti, minmulti_updated);

	lsm_rowid_set_free(&v->gone);
	lsm_store_free(&v->store);
	lsm_use_release(v->use);
	pfree(v);
}
