/*
 * lsm_gc.h - MVCC garbage collection and freezing in compaction: the
 * filter a table's compactions (lsm_table_compact.c) and VACUUM
 * (lsm_vacuum.c) hand to the storage layer's merge (lsm_compact.h), and the oldest xid and multixact each run it writes
 * still holds (the run's aux in the manifest).
 *
 * What goes, per data key (its versions arrive newest first):
 *   - every delta but the newest of the stream (the newest xmax state is the
 *     whole state: lsm_tuple.h);
 *   - the newest delta when its xmax no longer matters: aborted, lockers
 *     that are all gone, invalid;
 *   - the row, when its newest delta is an update or delete committed before
 *     the removal horizon: that delta becomes a tombstone, which shadows the
 *     VALUE and older deltas (and goes itself at the bottommost level);
 *   - the VALUE of an aborted insert, and a killed speculative insertion
 *     (super-deleted, as heap_abort_speculative leaves it).
 * A delta that confirms a speculative insertion stays while it is the
 * newest: without it the VALUE would show its speculative token again.
 * What changes: a committed VALUE older than the freeze limit is frozen
 * (HEAP_XMIN_FROZEN), a younger one gets HEAP_XMIN_COMMITTED, a committed
 * updater's delta HEAP_XMAX_COMMITTED, so that readers skip the commit log;
 * a multixact older than the multixact cutoff with a committed updater
 * becomes that plain xid.  Rows in progress, recently dead rows, live
 * lockers and prepared transactions keep everything (heap's
 * HeapTupleSatisfiesVacuum and heap_prepare_freeze_tuple).
 *
 * Row-map entries are dropped only by VACUUM (lsm_vacuum.c), after it has
 * removed the index entries of those row ids: a rowid set marks, in one
 * merge, every row id whose map entry was written while no VALUE of its
 * row was, and a later merge drops the map entries of the marked ids.
 */
#ifndef LSM_GC_H
#define LSM_GC_H

#include "postgres.h"

#include "access/multixact.h"
#include "utils/rel.h"

#include "lsm/compaction.h"
#include "lsm_compact.h"
#include "lsm_rowid.h"
#include "lsm_storage.h"

/* What decides removal and freezing. */
typedef struct LsmGcCutoffs
{
	TransactionId oldest_xmin;	/* committed deleters before it: row dead */
	TransactionId freeze_limit; /* committed xmins before it: frozen */
	MultiXactId oldest_mxact;	/* no multixact before it is in use */
	MultiXactId multi_cutoff;	/* multixacts before it are replaced */
} LsmGcCutoffs;

/*
 * The cutoffs of background compaction: the removal horizon of rel (of
 * every database if rel is NULL) and vacuum_freeze_min_age /
 * vacuum_multixact_freeze_min_age, as VACUUM computes them by default.
 */
extern void lsm_gc_cutoffs_default(Relation rel, LsmGcCutoffs *cut);

/* A set of row ids, a bitmap over the range seen. */
typedef struct LsmRowidSet
{
	LsmRowId	base;			/* row id of bit 0 */
	uint64	   *words;
	Size		nwords;
	uint64		count;			/* bits set */
} LsmRowidSet;

extern void lsm_rowid_set_init(LsmRowidSet *set);
extern void lsm_rowid_set_add(LsmRowidSet *set, LsmRowId id);
extern void lsm_rowid_set_remove(LsmRowidSet *set, LsmRowId id);
extern bool lsm_rowid_set_contains(const LsmRowidSet *set, LsmRowId id);
extern void lsm_rowid_set_free(LsmRowidSet *set);

/* What a merge's filter did. */
typedef struct LsmGcStats
{
	uint64		rows_removed;	/* dead rows made tombstones */
	uint64		aborted_removed;	/* VALUEs of aborted inserts dropped */
	uint64		deltas_removed; /* superseded or finished xmax entries */
	uint64		rowmaps_removed;	/* row-map entries dropped (VACUUM) */
	uint64		frozen;			/* VALUEs frozen */
	uint64		rows_kept;		/* VALUEs written */
	uint64		recently_dead;	/* rows kept for snapshots that may see them */
} LsmGcStats;

/* Row-map handling of a merge (VACUUM only). */
typedef enum LsmGcMapMode
{
	LSM_GC_MAP_KEEP,			/* keep every row-map entry */
	LSM_GC_MAP_MARK,			/* mark map entries, unmark rows kept */
	LSM_GC_MAP_DROP				/* drop the map entries of marked ids */
} LsmGcMapMode;

typedef struct LsmGc LsmGc;

/*
 * A filter for one merge of s's runs.  set is used as map_mode says (NULL
 * with LSM_GC_MAP_KEEP).  Errors inside the filter are kept in s and stop
 * the merge (LSM_ABORTED); lsm_store_raise rethrows them.
 */
extern LsmGc *lsm_gc_begin(LsmStore *s, const LsmGcCutoffs *cut,
						   LsmGcMapMode map_mode, LsmRowidSet *set);
extern LsmCompactFilter *lsm_gc_filter(LsmGc *gc);
extern void lsm_gc_end(LsmGc *gc, LsmGcStats *stats);

/* Whether a merge of run under cut could change any of its entries. */
extern bool lsm_gc_run_has_work(const lsm_run_meta *run, const LsmGcCutoffs *cut);

/*
 * A run's aux: the oldest unfrozen xid (low 32 bits; FrozenTransactionId if
 * none) and oldest multixact (high 32 bits; InvalidMultiXactId if none).
 * aux 0 means unknown (runs written by flushes).  Its aux2: the oldest xid
 * whose end (or passing the removal horizon) may let a merge remove one of
 * its entries; InvalidTransactionId if none.
 */
static inline bool
lsm_run_aux_known(uint64 aux)
{
	return (TransactionId) (aux & 0xFFFFFFFF) != InvalidTransactionId;
}

static inline TransactionId
lsm_run_aux_xid(uint64 aux)
{
	return (TransactionId) (aux & 0xFFFFFFFF);
}

static inline MultiXactId
lsm_run_aux_mxid(uint64 aux)
{
	return (MultiXactId) (aux >> 32);
}

static inline TransactionId
lsm_run_aux2_pending(uint64 aux2)
{
	return (TransactionId) (aux2 & 0xFFFFFFFF);
}

/*
 * The manifest's aux (of the whole table): set when a merge removed rows
 * whose row-map entries only VACUUM removes.
 */
#define LSM_MANIFEST_MAP_GARBAGE	UINT64CONST(0x1)

/*
 * Compaction of a table (lsm_table_compact.c): one step as the picker (or,
 * with full, a full compaction) asks, through the filter above with the
 * cutoffs of background compaction.  False if there was nothing to do.  The
 * caller holds ShareUpdateExclusiveLock on the relation.
 */
extern bool lsm_table_compact_step(LsmStore *s, bool full);

/* Accounts for the garbage collection of one merge in the table's counters. */
extern void lsm_table_compact_count(LsmStore *s,
									const lsm_compaction_stats *stats,
									const LsmGcStats *gstats);

#endif							/* LSM_GC_H */
