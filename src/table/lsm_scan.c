/*
 * lsm_scan.c - sequential scans of lsm tables, and ANALYZE's sampling.
 *
 * A sequential scan merges the table's memtables and runs (lsm_tree_iter_*)
 * and walks the data family in key order.  The merged iterator yields
 * internal entries, all versions of a user key together and newest first; the
 * entries of one data key are fed to an LsmRowBuilder, and the resulting row
 * is returned if the scan's snapshot sees it.  Rows inserted by the scanning
 * command itself may show up in the memtable during the scan; their command
 * id makes them invisible, as on heap.
 *
 * The merged iterator only moves forward.  Backward moves (SCROLL cursors)
 * are served from a list of the rows returned so far, built on the first
 * backward step by scanning again up to the current row (see
 * scan_build_history); only scans that go backward pay for it.  Parallel
 * scans are never planned (lsm_tableam.c).
 *
 * A bounded scan (lsm_scan_set_ranges, used by the custom scan) reads only
 * the key ranges it is given, in order: it merges only the sources that may
 * hold keys in them, seeks to the start of each range and stops at its end.
 * Visibility and everything else are the sequential scan's.
 *
 * A bounded scan may also read its ranges backward, last key first
 * (lsm_scan_set_backward: ORDER BY key DESC).  The merged iterator then
 * meets a data key's entries oldest first, so they are collected and fed to
 * the row builder newest first, as forward.
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/valid.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "lsm_keys.h"
#include "lsm_tableam.h"

typedef struct LsmScanDescData
{
	TableScanDescData base;
	LsmTree    *tree;
	LsmTreeIter *tscan;			/* NULL until the first row is asked for */
	lsm_iter   *iter;
	MemoryContext scancxt;		/* lives as long as the scan */
	MemoryContext rowcxt;		/* the current row; reset per row */
	StringInfoData ukey;		/* user key of the entries being consumed */
	LsmRow		row;

	/*
	 * A bounded scan: the user-key spans to read, in order, their bytes in
	 * spanbuf, and the span being read.
	 */
	bool		bounded;
	LsmKeySpan *spans;
	int			nspans;
	int			span;
	StringInfoData spanbuf;
	LsmTreeIterCounts counts;
	bool		backward;		/* read the spans from their ends */

	/*
	 * Backward moves: the data keys of the rows returned, in order, once a
	 * scan has gone backward; hist_pos is the current row (-1 before the
	 * first, hist_n after the last).
	 */
	bool		returned_any;	/* a row was returned since the (re)start */
	bool		at_end;			/* the iterator ran off the end */
	bool		have_history;
	StringInfoData hist_keys;	/* the keys, one after the other */
	int		   *hist_off;		/* key i is hist_off[i] .. hist_off[i + 1] */
	int			hist_n;
	int			hist_max;
	int			hist_pos;

	/*
	 * ANALYZE samples blocks, but our rows are not stored in blocks.  The
	 * scan order is cut into as many virtual blocks as the relation has
	 * pages: row number i (counting every data key) belongs to block
	 * i * nblocks / total, with total the storage layer's row estimate.  So
	 * analyze.c's "live rows per sampled block times blocks" estimates the
	 * live rows, and its sampled blocks give a uniform sample of rows.
	 */
	BlockNumber an_nblocks;
	double		an_total;
	double		an_ordinal;
	BlockNumber an_block;

	/* A scan by row ids (bitmap, TABLESAMPLE): lsm_rowid_scan.c, made on first use. */
	LsmRowidScan *rowid_scan;
} LsmScanDescData;

typedef LsmScanDescData *LsmScanDesc;

static void
scan_release_sources(LsmScanDesc scan)
{
	if (scan->tscan != NULL)
		lsm_tree_iter_end(scan->tscan);
	scan->tscan = NULL;
	scan->iter = NULL;
}

/* Positions the iterator at the first entry of a user key >= key. */
static void
scan_seek(LsmScanDesc scan, lsm_slice key)
{
	uint8		small[64];
	uint8	   *target = small;
	Size		len = key.len + LSM_IKEY_TRAILER;

	if (len > sizeof(small))
		target = palloc(len);
	lsm_ikey_write(target, key, LSM_MAX_SEQ, LSM_KIND_MAX);
	lsm_iter_seek(scan->iter, lsm_slice_make(target, len));
	if (target != small)
		pfree(target);
}

/* Positions the iterator at the last entry of a user key < key. */
static void
scan_seek_before(LsmScanDesc scan, lsm_slice key)
{
	scan_seek(scan, key);
	if (lsm_iter_valid(scan->iter))
		lsm_iter_prev(scan->iter);
	else if (lsm_iter_status(scan->iter) == LSM_OK)
		lsm_iter_seek_last(scan->iter);
}

/* Opens the merged iterator on the first data key, if not done yet. */
static void
scan_start(LsmScanDesc scan)
{
	uint8		family = LSM_FAMILY_DATA;
	uint8		target[1 + LSM_IKEY_TRAILER];
	MemoryContext oldcxt;

	if (scan->iter != NULL)
		return;

	/*
	 * The first row is often asked for in a per-tuple context (ALTER TABLE's
	 * rewrite, for one) that is reset before the next: the sources must live
	 * in the scan's own context.
	 */
	oldcxt = MemoryContextSwitchTo(scan->scancxt);
	if (scan->bounded)
		scan->tscan = lsm_tree_iter_begin_spans(scan->tree, scan->spans,
												scan->nspans, &scan->counts);
	else
		scan->tscan = lsm_tree_iter_begin(scan->tree);
	scan->iter = lsm_tree_iter_get(scan->tscan);
	MemoryContextSwitchTo(oldcxt);

	if (scan->bounded && scan->backward)
	{
		scan->span = scan->nspans - 1;
		scan_seek_before(scan, scan->spans[scan->span].end);
		return;
	}
	if (scan->bounded)
	{
		scan->span = 0;
		scan_seek(scan, scan->spans[0].start);
		return;
	}

	/* The family byte alone sorts before every data key. */
	lsm_ikey_write(target, lsm_slice_make(&family, 1), LSM_MAX_SEQ,
				   LSM_KIND_MAX);
	lsm_iter_seek(scan->iter, lsm_slice_make(target, sizeof(target)));
}

/*
 * Parses the entry the iterator is at into *pk.  Returns false at the end of
 * the data family (the end of the table).
 */
static bool
scan_current_entry(LsmScanDesc scan, lsm_ikey *pk)
{
	lsm_iter   *it = scan->iter;
	Relation	rel = scan->base.rs_rd;

	if (!lsm_iter_valid(it))
	{
		lsm_status st = lsm_iter_status(it);

		if (st != LSM_OK)
			ereport(ERROR,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("could not scan lsm table \"%s\": %s",
						   RelationGetRelationName(rel), lsm_status_str(st)));
		return false;
	}

	if (!lsm_ikey_parse(lsm_iter_key(it), pk))
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("invalid internal key in lsm table \"%s\"",
					   RelationGetRelationName(rel)));
	if (pk->user_key.len == 0 || pk->user_key.data[0] != LSM_FAMILY_DATA)
		return false;
	if (pk->user_key.len < 1 + LSM_ROWID_BYTES)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("data key of %zu bytes in lsm table \"%s\" is too short",
					   pk->user_key.len, RelationGetRelationName(rel)));
	return true;
}

/*
 * Like scan_current_entry, for the scan as a whole: a bounded scan moves on
 * to the start of the next span when the entry is past the end of its own,
 * and ends after the last.
 */
static bool
scan_current(LsmScanDesc scan, lsm_ikey *pk)
{
	if (!scan->bounded)
		return scan_current_entry(scan, pk);

	while (scan->span < scan->nspans)
	{
		if (!scan_current_entry(scan, pk))
			break;
		if (lsm_slice_compare(pk->user_key, scan->spans[scan->span].end) < 0)
			return true;
		if (++scan->span < scan->nspans)
			scan_seek(scan, scan->spans[scan->span].start);
	}
	scan->span = scan->nspans;
	return false;
}

/*
 * scan_current for a backward scan: a span is left before its start, for
 * the end of the one before, and the scan ends before the first.
 */
static bool
scan_current_back(LsmScanDesc scan, lsm_ikey *pk)
{
	while (scan->span >= 0)
	{
		if (!scan_current_entry(scan, pk))
			break;
		if (lsm_slice_compare(pk->user_key, scan->spans[scan->span].start) >= 0)
			return true;
		if (--scan->span >= 0)
			scan_seek_before(scan, scan->spans[scan->span].end);
	}
	scan->span = -1;
	return false;
}

/* An entry met going backward, kept until its key's newer ones are read. */
typedef struct LsmBackEntry
{
	uint64		seq;
	lsm_kind	kind;
	void	   *value;
	Size		len;
} LsmBackEntry;

/*
 * scan_consume_key going backward: the key's entries come oldest first, so
 * they are copied (into the current memory context, the row's) and fed to
 * b newest first once the key is behind the iterator.
 */
static void
scan_consume_key_back(LsmScanDesc scan, lsm_ikey *pk, LsmRowBuilder *b)
{
	lsm_iter   *it = scan->iter;
	LsmBackEntry *e = NULL;
	int			n = 0;
	int			cap = 0;

	resetStringInfo(&scan->ukey);
	appendBinaryStringInfo(&scan->ukey, (const char *) pk->user_key.data,
						   (int) pk->user_key.len);
	for (;;)
	{
		if (b != NULL)
		{
			lsm_slice	v = lsm_iter_value(it);

			if (n == cap)
			{
				cap = cap ? 2 * cap : 4;
				e = e ? repalloc(e, sizeof(LsmBackEntry) * cap) :
					palloc(sizeof(LsmBackEntry) * cap);
			}
			e[n].seq = pk->seq;
			e[n].kind = pk->kind;
			e[n].len = v.len;
			e[n].value = palloc(Max(v.len, 1));
			memcpy(e[n].value, v.data, v.len);
			n++;
		}
		lsm_iter_prev(it);
		if (!scan_current_back(scan, pk) ||
			pk->user_key.len != (size_t) scan->ukey.len ||
			memcmp(pk->user_key.data, scan->ukey.data, scan->ukey.len) != 0)
			break;
	}
	for (int i = n - 1; i >= 0; i--)
		if (!lsm_row_builder_add(b, e[i].seq, e[i].kind, e[i].value, e[i].len))
			break;
}

/*
 * Moves past every entry of the user key the iterator is at (described by
 * *pk), feeding them to b unless b is NULL.  On return *pk describes the next
 * entry, if scan_current says there is one.
 */
static void
scan_consume_key(LsmScanDesc scan, lsm_ikey *pk, LsmRowBuilder *b)
{
	lsm_iter   *it = scan->iter;
	bool		feed = (b != NULL);

	resetStringInfo(&scan->ukey);
	appendBinaryStringInfo(&scan->ukey, (const char *) pk->user_key.data,
						   (int) pk->user_key.len);

	for (;;)
	{
		if (feed)
		{
			lsm_slice	v = lsm_iter_value(it);

			feed = lsm_row_builder_add(b, pk->seq, pk->kind, v.data, v.len);
		}
		lsm_iter_next(it);
		if (!scan_current(scan, pk) ||
			pk->user_key.len != (size_t) scan->ukey.len ||
			memcmp(pk->user_key.data, scan->ukey.data, scan->ukey.len) != 0)
			break;
	}
}

/*
 * Builds the row of the user key the iterator is at into scan->row (in
 * rowcxt).  Returns false if the key has no VALUE left (garbage collected).
 */
static bool
scan_build_row(LsmScanDesc scan, lsm_ikey *pk)
{
	MemoryContext oldcxt;
	LsmRowBuilder b;
	bool		found;

	MemoryContextReset(scan->rowcxt);
	oldcxt = MemoryContextSwitchTo(scan->rowcxt);
	lsm_row_builder_init(&b, &scan->row,
						 lsm_key_rowid(pk->user_key.data, pk->user_key.len));
	if (scan->backward)
		scan_consume_key_back(scan, pk, &b);
	else
		scan_consume_key(scan, pk, &b);
	found = lsm_row_builder_finish(&b);
	MemoryContextSwitchTo(oldcxt);

	if (found)
		scan->row.tuple.t_tableOid = RelationGetRelid(scan->base.rs_rd);
	return found;
}

/* Does the scan return this row: visible to its snapshot, passing its keys? */
static bool
scan_row_qualifies(LsmScanDesc scan, LsmRow *row)
{
	Relation	rel = scan->base.rs_rd;
	Snapshot	snapshot = scan->base.rs_snapshot;
	bool		valid;

	valid = lsm_row_satisfies(row, snapshot);
	lsm_check_serializable_conflict_out(valid, rel, row, snapshot);

	if (valid && scan->base.rs_nkeys > 0)
		HeapKeyTest(&row->tuple, RelationGetDescr(rel),
					scan->base.rs_nkeys, scan->base.rs_key, valid);
	return valid;
}

/*
 * The next row the scan returns, or NULL at the end.  The row stays valid
 * until the next call.
 */
LsmRow *
lsm_scan_next_row(TableScanDesc sscan)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;
	lsm_ikey	pk;

	if (scan->bounded && scan->nspans == 0)
		return NULL;			/* nothing can match */
	scan_start(scan);

	while (scan->backward ? scan_current_back(scan, &pk) :
		   scan_current(scan, &pk))
	{
		CHECK_FOR_INTERRUPTS();

		if (scan_build_row(scan, &pk) && scan_row_qualifies(scan, &scan->row))
			return &scan->row;
	}
	return NULL;
}

TableScanDesc
lsm_scan_begin(Relation rel, Snapshot snapshot, int nkeys,
			   struct ScanKeyData *key, ParallelTableScanDesc pscan,
			   uint32 flags)
{
	LsmScanDesc scan;

	if (pscan != NULL)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("parallel scans of lsm table \"%s\" are not supported",
					   RelationGetRelationName(rel)));

	RelationIncrementReferenceCount(rel);

	scan = palloc0(sizeof(LsmScanDescData));
	scan->base.rs_rd = rel;
	scan->base.rs_snapshot = snapshot;
	scan->base.rs_nkeys = nkeys;
	scan->base.rs_flags = flags;
	scan->base.rs_parallel = NULL;
	if (nkeys > 0)
	{
		scan->base.rs_key = palloc(sizeof(ScanKeyData) * nkeys);
		memcpy(scan->base.rs_key, key, sizeof(ScanKeyData) * nkeys);
	}

	scan->tree = lsm_tree_open(rel);
	scan->scancxt = CurrentMemoryContext;
	scan->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "lsm scan row",
										 ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&scan->ukey);
	scan->an_block = InvalidBlockNumber;

	/*
	 * A sequential scan under SERIALIZABLE reads the whole relation: lock it
	 * all, which also conflicts with later inserts (see heap_beginscan).
	 */
	if (flags & (SO_TYPE_SEQSCAN | SO_TYPE_SAMPLESCAN))
		PredicateLockRelation(rel, snapshot);
	if (flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(rel);

	return &scan->base;
}

void
lsm_scan_rescan(TableScanDesc sscan, struct ScanKeyData *key, bool set_params,
				bool allow_strat, bool allow_sync, bool allow_pagemode)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;

	if (set_params)
	{
		if (allow_strat)
			scan->base.rs_flags |= SO_ALLOW_STRAT;
		else
			scan->base.rs_flags &= ~SO_ALLOW_STRAT;
		if (allow_sync)
			scan->base.rs_flags |= SO_ALLOW_SYNC;
		else
			scan->base.rs_flags &= ~SO_ALLOW_SYNC;
		if (allow_pagemode)
			scan->base.rs_flags |= SO_ALLOW_PAGEMODE;
		else
			scan->base.rs_flags &= ~SO_ALLOW_PAGEMODE;
	}
	if (key != NULL && scan->base.rs_nkeys > 0)
		memcpy(scan->base.rs_key, key,
			   sizeof(ScanKeyData) * scan->base.rs_nkeys);

	/* Start over from fresh sources on the next row. */
	scan_release_sources(scan);
	if (scan->rowid_scan != NULL)
		lsm_rowid_scan_reset(scan->rowid_scan);
	MemoryContextReset(scan->rowcxt);
	scan->an_ordinal = 0;
	scan->returned_any = false;
	scan->at_end = false;
	scan->have_history = false;
	scan->hist_n = 0;
	if (scan->hist_off != NULL)
		resetStringInfo(&scan->hist_keys);
	if (scan->base.rs_flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(scan->base.rs_rd);
}

LsmRowidScan **
lsm_scan_rowid_state(TableScanDesc sscan)
{
	return &((LsmScanDesc) sscan)->rowid_scan;
}

void
lsm_scan_end(TableScanDesc sscan)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;

	if (scan->rowid_scan != NULL)
		lsm_rowid_scan_end(scan->rowid_scan);
	scan_release_sources(scan);
	MemoryContextDelete(scan->rowcxt);
	pfree(scan->ukey.data);
	if (scan->spans != NULL)
	{
		pfree(scan->spans);
		pfree(scan->spanbuf.data);
	}
	if (scan->hist_off != NULL)
	{
		pfree(scan->hist_off);
		pfree(scan->hist_keys.data);
	}

	RelationDecrementReferenceCount(scan->base.rs_rd);
	if (scan->base.rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(scan->base.rs_snapshot);
	if (scan->base.rs_key)
		pfree(scan->base.rs_key);
	pfree(scan);
}

/*
 * Appends to spanbuf the user key of a bound on the key column part (tag and
 * encoding, see lsm_keys.h): the family byte, the bound's bytes and, to pass
 * every row id of the bound's value, seven 0xFF bytes (row ids take six).
 * Encodings are self-delimiting, so a greater value differs from the bound
 * within the bound's bytes and sorts after that.  Returns its offset.
 */
static int
span_key(StringInfo buf, const uint8 *bound, Size len, bool past_rowids)
{
	int			off = buf->len;

	appendStringInfoCharMacro(buf, LSM_FAMILY_DATA);
	if (len > 0)
		appendBinaryStringInfo(buf, (const char *) bound, len);
	if (past_rowids)
	{
		for (int i = 0; i <= LSM_ROWID_BYTES; i++)
			appendStringInfoCharMacro(buf, (char) 0xFF);
	}
	return off;
}

/*
 * Makes the scan read only the given ranges of the key column, which must
 * be sorted and disjoint; none at all reads nothing.  For a scan that has
 * not returned a row yet (right after lsm_scan_begin or a rescan).
 */
void
lsm_scan_set_ranges(TableScanDesc sscan, const LsmKeyRange *ranges, int n)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->scancxt);
	int		   *offs = palloc(sizeof(int) * 3 * Max(n, 1));
	int			nspans = 0;
	uint8		family_end = LSM_FAMILY_DATA + 1;

	scan_release_sources(scan);
	if (scan->spans == NULL)
		initStringInfo(&scan->spanbuf);
	else
	{
		pfree(scan->spans);
		resetStringInfo(&scan->spanbuf);
	}

	/* Offsets first: spanbuf may move while it grows. */
	for (int i = 0; i < n; i++)
	{
		const LsmKeyRange *r = &ranges[i];
		int		   *o = &offs[3 * i];

		/* no lower bound: the family byte alone; no upper: the next family */
		o[0] = span_key(&scan->spanbuf, r->lower, r->lower ? r->lowerlen : 0,
						r->lower && !r->lower_inclusive);
		if (r->upper)
			o[1] = span_key(&scan->spanbuf, r->upper, r->upperlen,
							r->upper_inclusive);
		else
		{
			o[1] = scan->spanbuf.len;
			appendStringInfoCharMacro(&scan->spanbuf, (char) family_end);
		}
		o[2] = -1;
		if (r->lower && r->upper && r->lower_inclusive && r->upper_inclusive &&
			r->lowerlen == r->upperlen &&
			memcmp(r->lower, r->upper, r->lowerlen) == 0)
		{
			uint8		rowid[LSM_ROWID_BYTES] = {0};

			o[2] = span_key(&scan->spanbuf, r->lower, r->lowerlen, false);
			appendBinaryStringInfo(&scan->spanbuf, (const char *) rowid,
								   LSM_ROWID_BYTES);
		}
	}

	scan->spans = palloc(sizeof(LsmKeySpan) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		int		   *o = &offs[3 * i];
		const uint8 *base = (const uint8 *) scan->spanbuf.data;
		int			end_end = i + 1 < n ? offs[3 * (i + 1)] : scan->spanbuf.len;
		LsmKeySpan *sp = &scan->spans[nspans];

		/* each key ends where the next begins */
		sp->start = lsm_slice_make(base + o[0], o[1] - o[0]);
		if (o[2] >= 0)
		{
			sp->end = lsm_slice_make(base + o[1], o[2] - o[1]);
			sp->probe = lsm_slice_make(base + o[2], end_end - o[2]);
		}
		else
		{
			sp->end = lsm_slice_make(base + o[1], end_end - o[1]);
			sp->probe = lsm_slice_make(NULL, 0);
		}
		if (lsm_slice_compare(sp->start, sp->end) < 0)
			nspans++;
	}
	pfree(offs);
	MemoryContextSwitchTo(oldcxt);

	scan->nspans = nspans;
	scan->span = 0;
	scan->bounded = true;
}

/*
 * Makes a bounded scan read its ranges backward (or forward again), from
 * the next row on after a rescan or lsm_scan_set_ranges.
 */
void
lsm_scan_set_backward(TableScanDesc sscan, bool backward)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;

	if (!scan->bounded)
		elog(ERROR, "only a bounded lsm scan can read backward");
	scan_release_sources(scan);
	scan->backward = backward;
}

/* What a bounded scan's choice of sources did so far. */
const LsmTreeIterCounts *
lsm_scan_counts(TableScanDesc sscan)
{
	return &((LsmScanDesc) sscan)->counts;
}

/* Appends the user key in scan->ukey (the row just returned) to the list. */
static void
history_append(LsmScanDesc scan)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->scancxt);

	if (scan->hist_off == NULL)
	{
		scan->hist_max = 64;
		scan->hist_off = palloc(sizeof(int) * (scan->hist_max + 1));
		scan->hist_off[0] = 0;
		initStringInfo(&scan->hist_keys);
	}
	else if (scan->hist_n == scan->hist_max)
	{
		scan->hist_max *= 2;
		scan->hist_off = repalloc_huge(scan->hist_off,
									   sizeof(int) * (scan->hist_max + 1));
	}
	appendBinaryStringInfo(&scan->hist_keys, scan->ukey.data, scan->ukey.len);
	scan->hist_n++;
	scan->hist_off[scan->hist_n] = scan->hist_keys.len;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The first backward step: scan again from the start up to the current row
 * (the snapshot sees the same rows), remembering every row returned.  The
 * new iterator ends up just where the old one was, so forward moves past
 * the list continue from it.
 */
static void
scan_build_history(LsmScanDesc scan)
{
	bool		was_at_end = scan->at_end;
	bool		found = false;
	StringInfoData current;

	scan->have_history = true;
	scan->hist_n = 0;
	scan->hist_pos = -1;
	if (!scan->returned_any && !was_at_end)
		return;					/* before the first row: nothing to list */

	initStringInfo(&current);
	appendBinaryStringInfo(&current, scan->ukey.data, scan->ukey.len);

	scan_release_sources(scan);
	scan->at_end = false;
	while (lsm_scan_next_row(&scan->base) != NULL)
	{
		history_append(scan);
		if (!was_at_end && scan->ukey.len == current.len &&
			memcmp(scan->ukey.data, current.data, current.len) == 0)
		{
			found = true;
			break;
		}
	}
	if (found)
		scan->hist_pos = scan->hist_n - 1;
	else
	{
		scan->at_end = true;
		scan->hist_pos = scan->hist_n;
	}
	pfree(current.data);
}

/* Resolves listed row i again; NULL if the snapshot no longer returns it. */
static LsmRow *
history_row(LsmScanDesc scan, int i)
{
	const uint8 *key = (const uint8 *) scan->hist_keys.data + scan->hist_off[i];
	Size		keylen = scan->hist_off[i + 1] - scan->hist_off[i];
	MemoryContext oldcxt;
	LsmRowBuilder b;
	bool		found;

	MemoryContextReset(scan->rowcxt);
	oldcxt = MemoryContextSwitchTo(scan->rowcxt);
	lsm_row_builder_init(&b, &scan->row, lsm_key_rowid(key, keylen));
	(void) lsm_tree_versions(scan->tree, key, keylen, lsm_row_builder_add, &b);
	found = lsm_row_builder_finish(&b);
	MemoryContextSwitchTo(oldcxt);

	if (!found)
		return NULL;
	scan->row.tuple.t_tableOid = RelationGetRelid(scan->base.rs_rd);
	return scan_row_qualifies(scan, &scan->row) ? &scan->row : NULL;
}

/* One move of a scan that has gone backward before. */
static LsmRow *
history_move(LsmScanDesc scan, ScanDirection direction)
{
	for (;;)
	{
		LsmRow	   *row;

		if (ScanDirectionIsBackward(direction))
		{
			if (scan->hist_pos <= 0)
			{
				scan->hist_pos = -1;
				return NULL;
			}
			scan->hist_pos--;
		}
		else if (scan->hist_pos + 1 < scan->hist_n)
			scan->hist_pos++;
		else if (scan->at_end)
		{
			scan->hist_pos = scan->hist_n;
			return NULL;
		}
		else
		{
			/* past the list: carry on with the iterator */
			row = lsm_scan_next_row(&scan->base);
			if (row == NULL)
			{
				scan->at_end = true;
				scan->hist_pos = scan->hist_n;
				return NULL;
			}
			history_append(scan);
			scan->hist_pos = scan->hist_n - 1;
			return row;
		}

		CHECK_FOR_INTERRUPTS();
		row = history_row(scan, scan->hist_pos);
		if (row != NULL)
			return row;
	}
}

bool
lsm_scan_getnextslot(TableScanDesc sscan, ScanDirection direction,
					 TupleTableSlot *slot)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;
	LsmRow	   *row;

	if (ScanDirectionIsNoMovement(direction))
		row = NULL;
	else if (!scan->have_history && ScanDirectionIsForward(direction))
	{
		row = lsm_scan_next_row(sscan);
		if (row != NULL)
			scan->returned_any = true;
		else
			scan->at_end = true;
	}
	else
	{
		if (!scan->have_history)
			scan_build_history(scan);
		row = history_move(scan, direction);
	}

	if (row == NULL)
	{
		ExecClearTuple(slot);
		return false;
	}

	pgstat_count_heap_getnext(sscan->rs_rd);
	lsm_store_row(slot, sscan->rs_rd, row);
	return true;
}

/* ------------------------------------------------------------------------
 * ANALYZE
 * ------------------------------------------------------------------------
 */

bool
lsm_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
							BufferAccessStrategy bstrategy)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;

	if (scan->iter == NULL)
	{
		BlockNumber pages;
		double		tuples;

		scan->an_nblocks = RelationGetNumberOfBlocks(sscan->rs_rd);
		lsm_table_estimate(sscan->rs_rd, &pages, &tuples);
		scan->an_total = Max(tuples, 1.0);
		scan->an_ordinal = 0;
		scan_start(scan);
	}
	scan->an_block = blockno;
	return true;
}

/* The virtual block of the next row in scan order (see LsmScanDescData). */
static BlockNumber
analyze_block_of_next(LsmScanDesc scan)
{
	double		b = floor(scan->an_ordinal * scan->an_nblocks / scan->an_total);

	if (scan->an_nblocks == 0)
		return 0;
	if (b >= (double) (scan->an_nblocks - 1))
		return scan->an_nblocks - 1;
	return (BlockNumber) b;
}

/*
 * heapam_scan_analyze_next_tuple's counting, over the rows of the current
 * virtual block: live rows are sampled; dead and recently dead ones counted;
 * rows our own transaction inserted count as live, those it deleted as dead,
 * and rows other transactions are inserting are skipped.
 */
bool
lsm_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin,
							double *liverows, double *deadrows,
							TupleTableSlot *slot)
{
	LsmScanDesc scan = (LsmScanDesc) sscan;
	lsm_ikey	pk;

	while (scan_current(scan, &pk))
	{
		BlockNumber block = analyze_block_of_next(scan);
		LsmRow	   *row = &scan->row;
		bool		sample_it = false;

		CHECK_FOR_INTERRUPTS();

		if (block > scan->an_block)
			break;				/* belongs to a later block */
		scan->an_ordinal += 1;
		if (block < scan->an_block)
		{
			/* a block the sampler skipped */
			scan_consume_key(scan, &pk, NULL);
			continue;
		}

		if (!scan_build_row(scan, &pk))
			continue;

		switch (lsm_row_satisfies_vacuum(row, OldestXmin))
		{
			case HEAPTUPLE_LIVE:
				sample_it = true;
				*liverows += 1;
				break;
			case HEAPTUPLE_DEAD:
			case HEAPTUPLE_RECENTLY_DEAD:
				*deadrows += 1;
				break;
			case HEAPTUPLE_INSERT_IN_PROGRESS:
				if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(row->tuple.t_data)))
				{
					sample_it = true;
					*liverows += 1;
				}
				break;
			case HEAPTUPLE_DELETE_IN_PROGRESS:
				if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetUpdateXid(row->tuple.t_data)))
					*deadrows += 1;
				else
				{
					sample_it = true;
					*liverows += 1;
				}
				break;
			default:
				elog(ERROR, "unexpected lsm_row_satisfies_vacuum result");
				break;
		}

		if (sample_it)
		{
			lsm_store_row(slot, sscan->rs_rd, row);
			return true;
		}
	}

	ExecClearTuple(slot);
	return false;
}
