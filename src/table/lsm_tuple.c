/*
 * lsm_tuple.c - the stored form of an lsm row: the VALUE entry written once
 * at insert, and the row resolved from it and its newest XMAX delta.
 *
 * A VALUE is a heap tuple as heap_form_tuple makes it, with the inserting
 * transaction's xmin and cmin and no xmax.  It is never rewritten: deletes,
 * updates and row locks add deltas under the same data key, and a reader
 * rebuilds the header heap's visibility rules expect from the VALUE and the
 * newest delta (see lsm_tuple.h).  Visibility itself is in lsm_visibility.c.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/tuptable.h"
#include "storage/procarray.h"

#include "lsm_tuple.h"

/* The header fields of a version just written, as heap_update sets them. */
static void
set_new_header(HeapTupleHeader hdr, TransactionId xmin, CommandId cmin,
			   TransactionId xmax, uint16 infomask, uint16 infomask2)
{
	hdr->t_infomask &= ~HEAP_XACT_MASK;
	hdr->t_infomask2 &= ~HEAP2_XACT_MASK;
	hdr->t_infomask |= infomask;
	hdr->t_infomask2 |= infomask2;
	HeapTupleHeaderSetXmin(hdr, xmin);
	HeapTupleHeaderSetCmin(hdr, cmin);
	HeapTupleHeaderSetXmax(hdr, xmax);
}

/*
 * Gives the tuple in slot the header of the version just written at tid, as
 * heap_insert and heap_update leave it in the executor's slot (infomask
 * and infomask2: the xmax's bits and HEAP_UPDATED): RETURNING
 * xmin, xmax and cmin read it (an ORM's row-version token is xmin).  Like
 * heap's, the header goes into the slot's own tuple when it has one; a slot
 * that copies (virtual) shows no system columns anyway.
 */
void
lsm_tuple_set_slot_header(TupleTableSlot *slot, ItemPointer tid,
						  TransactionId xmin, CommandId cmin,
						  TransactionId xmax, uint16 infomask, uint16 infomask2)
{
	bool		should_free;
	HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, true, &should_free);

	if (!TransactionIdIsValid(xmax))
		infomask |= HEAP_XMAX_INVALID;
	set_new_header(tuple->t_data, xmin, cmin, xmax, infomask, infomask2);
	tuple->t_data->t_ctid = *tid;
	tuple->t_self = *tid;
	tuple->t_tableOid = slot->tts_tableOid;
	if (should_free)
		heap_freetuple(tuple);
}

/*
 * Builds the VALUE of a new row: the slot's values, every varlena inlined
 * and decompressed (an lsm table has no toast table, and a row must be
 * readable on its own), then the insert-time header fields as
 * heap_prepare_insert sets them.
 */
HeapTuple
lsm_tuple_form_value(TupleTableSlot *slot, TransactionId xmin,
					 CommandId cmin, LsmRowId rowid)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	int			natts = desc->natts;
	Datum	   *values;
	bool	   *detoasted;
	HeapTuple	tuple;
	HeapTupleHeader hdr;

	slot_getallattrs(slot);

	values = palloc(natts * sizeof(Datum));
	detoasted = palloc0(natts * sizeof(bool));
	memcpy(values, slot->tts_values, natts * sizeof(Datum));

	for (int i = 0; i < natts; i++)
	{
		struct varlena *v;

		if (slot->tts_isnull[i] || TupleDescAttr(desc, i)->attlen != -1)
			continue;
		v = (struct varlena *) DatumGetPointer(values[i]);
		if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		{
			values[i] = PointerGetDatum(detoast_attr(v));
			detoasted[i] = true;
		}
	}

	tuple = heap_form_tuple(desc, values, slot->tts_isnull);

	for (int i = 0; i < natts; i++)
	{
		if (detoasted[i])
			pfree(DatumGetPointer(values[i]));
	}
	pfree(detoasted);
	pfree(values);

	hdr = tuple->t_data;
	set_new_header(hdr, xmin, cmin, InvalidTransactionId, HEAP_XMAX_INVALID, 0);

	lsm_rowid_to_tid(rowid, &tuple->t_self);
	hdr->t_ctid = tuple->t_self;
	tuple->t_tableOid = slot->tts_tableOid;

	return tuple;
}

void
lsm_row_builder_init(LsmRowBuilder *b, LsmRow *row, LsmRowId rowid)
{
	memset(b, 0, sizeof(*b));
	memset(row, 0, sizeof(*row));
	b->row = row;
	row->rowid = rowid;
	row->cmin = InvalidCommandId;
	row->cmax = InvalidCommandId;
	lsm_rowid_to_tid(rowid, &row->tuple.t_self);
}

/*
 * Takes the versions of one data key, newest first.  Only the newest delta
 * counts (a newer xmax always supersedes an older one, see lsm_tuple.h);
 * the walk ends at the VALUE, which is the oldest entry of a row, or at a
 * tombstone, which means the row was removed.
 */
bool
lsm_row_builder_add(void *arg, uint64 seq, lsm_kind kind,
					const uint8 *value, Size vallen)
{
	LsmRowBuilder *b = (LsmRowBuilder *) arg;

	switch (kind)
	{
		case LSM_KIND_XMAX:
		case LSM_KIND_LOCK:
			if (b->have_delta)
				return true;
			if (vallen != sizeof(LsmXmaxDelta))
				ereport(ERROR,
						errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("lsm row " UINT64_FORMAT " has an xmax entry of %zu bytes, expected %zu",
							   b->row->rowid, vallen, sizeof(LsmXmaxDelta)));
			memcpy(&b->delta, value, sizeof(LsmXmaxDelta));
			b->have_delta = true;
			return true;

		case LSM_KIND_VALUE:
			{
				HeapTupleHeader copy;

				if (vallen < SizeofHeapTupleHeader)
					ereport(ERROR,
							errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("lsm row " UINT64_FORMAT " has a value of %zu bytes, shorter than a tuple header",
								   b->row->rowid, vallen));
				/* palloc'd, hence MAXALIGNed as tuple access requires */
				copy = (HeapTupleHeader) palloc(vallen);
				memcpy(copy, value, vallen);
				b->row->tuple.t_data = copy;
				b->row->tuple.t_len = (uint32) vallen;
				b->found = true;
				return false;
			}

		case LSM_KIND_TOMBSTONE:
			return false;
	}

	ereport(ERROR,
			errcode(ERRCODE_DATA_CORRUPTED),
			errmsg("lsm row " UINT64_FORMAT " has an entry of unknown kind %d",
				   b->row->rowid, (int) kind));
	return false;				/* keep compiler quiet */
}

/*
 * Does the VALUE carry the token of a speculative insertion that may still
 * be confirmed or killed?  Only while its inserter runs: afterwards the
 * token means nothing, and garbage collection may drop the confirming delta
 * along with a newer one that no longer matters.  Only VALUEs that carry a
 * token pay for the check.
 */
static bool
speculation_in_progress(HeapTupleHeader hdr)
{
	TransactionId xmin;

	if (!HeapTupleHeaderIsSpeculative(hdr))
		return false;
	xmin = HeapTupleHeaderGetRawXmin(hdr);
	return TransactionIdIsCurrentTransactionId(xmin) ||
		TransactionIdIsInProgress(xmin);
}

/*
 * Completes the row: the header gets the newest delta's xmax, xmax infomask
 * bits and ctid, as heap's header would after the same operations.  The
 * header's t_cid keeps cmin; cmax is kept in the LsmRow (no combo ids).
 * The caller sets tuple.t_tableOid.
 */
bool
lsm_row_builder_finish(LsmRowBuilder *b)
{
	LsmRow	   *row = b->row;
	HeapTupleHeader hdr;

	if (!b->found)
		return false;

	hdr = row->tuple.t_data;
	row->cmin = HeapTupleHeaderGetRawCommandId(hdr);

	hdr->t_infomask &= ~HEAP_XMAX_BITS;
	hdr->t_infomask2 &= ~HEAP_KEYS_UPDATED;
	if (b->have_delta && (b->delta.flags & LSM_DELTA_SUPER_DELETED))
	{
		/*
		 * heap_abort_speculative sets xmin invalid; the hint makes that
		 * hold even if compaction froze the VALUE's own xmin.
		 */
		hdr->t_infomask &= ~HEAP_XMIN_FROZEN;
		hdr->t_infomask |= HEAP_XMIN_INVALID;
		HeapTupleHeaderSetXmin(hdr, InvalidTransactionId);
		HeapTupleHeaderSetXmax(hdr, InvalidTransactionId);
		hdr->t_ctid = row->tuple.t_self;
		row->cmax = InvalidCommandId;
		row->has_xmax = false;
	}
	else if (b->have_delta)
	{
		/*
		 * An xmax (a confirmed speculative insertion's delta has none: its
		 * HEAP_XMAX_INVALID and own TID clear the token).
		 */
		hdr->t_infomask |= b->delta.infomask & HEAP_XMAX_BITS;
		hdr->t_infomask2 |= b->delta.infomask2 & HEAP_KEYS_UPDATED;
		HeapTupleHeaderSetXmax(hdr, b->delta.xmax);
		hdr->t_ctid = b->delta.ctid;
		row->cmax = b->delta.cmax;
		row->has_xmax = true;
	}
	else
	{
		hdr->t_infomask |= HEAP_XMAX_INVALID;
		HeapTupleHeaderSetXmax(hdr, InvalidTransactionId);
		if (!speculation_in_progress(hdr))
			hdr->t_ctid = row->tuple.t_self;
		row->cmax = InvalidCommandId;
		row->has_xmax = false;
	}
	return true;
}
