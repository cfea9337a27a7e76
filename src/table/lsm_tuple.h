/*
 * lsm_tuple.h - how a row and its later changes are stored, and MVCC
 * visibility over them.
 *
 * A data key's VALUE entry holds the row as a heap tuple: a
 * HeapTupleHeaderData (xmin and cmin set, xmax invalid, infomask describing
 * nulls/varwidth only, natts) followed by the data, as heap_form_tuple makes
 * it, fully detoasted.  The row is never rewritten: a DELETE, the old half
 * of an UPDATE and a row lock each add an LSM_KIND_XMAX delta entry under the
 * same data key (newer sequence number), holding an LsmXmaxDelta.
 *
 * The newest delta decides the row's xmax, as on heap where a new xmax may
 * only replace one that aborted or only locked (multixacts keep several
 * lockers, and an updater together with lockers, in one xmax).
 *
 * Visibility rules are heap's (heapam_visibility.c) without hint bits:
 * commit status comes from the CLOG each time (TransactionIdDidCommit etc.).
 * Because cmin and cmax are stored separately, no combo command ids are needed.
 */
#ifndef LSM_TUPLE_H
#define LSM_TUPLE_H

#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "utils/snapshot.h"

#include "lsm_rowid.h"
#include "lsm_tree.h"

/* The value of an XMAX delta entry. */
typedef struct LsmXmaxDelta
{
	TransactionId xmax;			/* xid, or MultiXactId if HEAP_XMAX_IS_MULTI */
	CommandId	cmax;
	uint16		infomask;		/* only HEAP_XMAX_* bits and HEAP_KEYS_UPDATED via infomask2 */
	uint16		infomask2;		/* only HEAP_KEYS_UPDATED */
	ItemPointerData ctid;		/* updated: the new version's TID; else the row's own */
	uint16		flags;			/* LSM_DELTA_* (in what was padding: 0 before) */
} LsmXmaxDelta;

/*
 * Speculative insertions (INSERT ... ON CONFLICT).  The VALUE of a row
 * inserted speculatively carries the speculative token in its t_ctid, as
 * heap's tuple does, until a delta follows it:
 *
 * - confirming it (heap_finish_speculative) writes a delta with no xmax
 *   (HEAP_XMAX_INVALID) and the row's own TID as ctid, which clears the
 *   token;
 * - killing it (heap_abort_speculative, "super-delete") writes a delta with
 *   LSM_DELTA_SUPER_DELETED, which makes the row's xmin invalid: invisible
 *   to every snapshot, dirty and any included, and dead for VACUUM and
 *   garbage collection whatever its inserter's fate.
 */
#define LSM_DELTA_SUPER_DELETED		0x0001

/*
 * One row as resolved from its VALUE and newest delta.  tuple.t_data is a
 * palloc'd header+data whose xmax, infomask and t_ctid reflect the delta;
 * t_self is the row's TID.
 */
typedef struct LsmRow
{
	HeapTupleData tuple;
	LsmRowId	rowid;
	CommandId	cmin;
	CommandId	cmax;			/* valid only if has_xmax */
	bool		has_xmax;
} LsmRow;

/* Builds the VALUE bytes of a new row inserted by the current transaction. */
extern HeapTuple lsm_tuple_form_value(TupleTableSlot *slot, TransactionId xmin,
									  CommandId cmin, LsmRowId rowid);

/* Gives slot's tuple the header of the version just written (RETURNING). */
extern void lsm_tuple_set_slot_header(TupleTableSlot *slot, ItemPointer tid,
									  TransactionId xmin, CommandId cmin,
									  TransactionId xmax, uint16 infomask,
									  uint16 infomask2);

/*
 * Resolves a row from the versions of its data key (as lsm_tree_versions
 * delivers them, newest first).  Returns false if there is no VALUE (the
 * row was removed by garbage collection).
 */
typedef struct LsmRowBuilder
{
	LsmRow	   *row;
	bool		have_delta;
	LsmXmaxDelta delta;
	bool		found;
} LsmRowBuilder;

extern void lsm_row_builder_init(LsmRowBuilder *b, LsmRow *row, LsmRowId rowid);
/* An LsmVersionCallback: feed it the versions, newest first. */
extern bool lsm_row_builder_add(void *arg, uint64 seq, lsm_kind kind,
								const uint8 *value, Size vallen);
extern bool lsm_row_builder_finish(LsmRowBuilder *b);

/* heap's HeapTupleSatisfiesVisibility, for every snapshot type heap supports. */
extern bool lsm_row_satisfies(LsmRow *row, Snapshot snapshot);

/* heap's HeapTupleSatisfiesUpdate: may the current command update/delete/lock it? */
extern TM_Result lsm_row_satisfies_update(LsmRow *row, CommandId curcid);

/* heap's HeapTupleSatisfiesVacuum. */
extern HTSV_Result lsm_row_satisfies_vacuum(LsmRow *row, TransactionId oldest_xmin);

#endif							/* LSM_TUPLE_H */
