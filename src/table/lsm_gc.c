/*
 * lsm_gc.c - the garbage-collecting, freezing filter of compaction (see
 * lsm_gc.h for what it removes and rewrites), the per-run summary of the
 * xids and multixacts that stay, and row-id sets for VACUUM.
 *
 * The decisions follow heap's: HeapTupleSatisfiesVacuum for what is dead
 * (a row is removed only once its deleter committed before the horizon
 * that VACUUM would use; an aborted insert at once), heap_prepare_freeze_
 * tuple for freezing.  As everywhere in this AM the commit log is asked in
 * heap's order (TransactionIdIsInProgress before TransactionIdDidCommit).
 * Prepared transactions count as in progress, so their rows and locks stay.
 *
 * The core calls the filter from C code that knows nothing of PostgreSQL's
 * error handling, so each call catches its errors into the store, and the
 * merge stops (LSM_ABORTED) for the caller to rethrow them.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/transam.h"
#include "access/xact.h"
#include "commands/vacuum.h"
#include "postmaster/autovacuum.h"
#include "storage/procarray.h"

#include "lsm_gc.h"
#include "lsm_keys.h"
#include "lsm_tuple.h"

/* What to do with a row's newest delta. */
typedef enum LsmXmaxVerdict
{
	XMAX_KEEP,					/* still matters as it is */
	XMAX_GONE,					/* matters no more: drop it */
	XMAX_DEAD,					/* the row is dead to everyone */
	XMAX_REWRITE				/* keep gc->delta instead */
} LsmXmaxVerdict;

struct LsmGc
{
	LsmStore   *store;
	MemoryContext cxt;			/* of valbuf */
	LsmGcCutoffs cut;
	LsmGcMapMode map_mode;
	LsmRowidSet *set;
	LsmCompactFilter filter;	/* what storage's merge calls */
	lsm_compaction_filter entries;	/* the core's per-entry filter */

	/* the data key being decided, and whether its newest delta was seen */
	StringInfoData cur;
	bool		seen_delta;

	/* rewritten values (valid until the next call) */
	LsmXmaxDelta delta;
	char	   *valbuf;
	Size		valcap;

	/* oldest xid and multixact of the output run being written */
	TransactionId run_xid;
	MultiXactId run_mxid;

	/*
	 * The oldest xid whose end may let a later merge remove something from
	 * that run (a running or recently committed xmin or xmax); pending is
	 * the one of the entry just decided, counted once it is written.
	 */
	TransactionId run_pending;
	TransactionId pending;

	LsmGcStats	stats;
};

/* ----------------------------------------------------------------
 * Cutoffs
 * ----------------------------------------------------------------
 */

void
lsm_gc_cutoffs_default(Relation rel, LsmGcCutoffs *cut)
{
	int			freeze_min_age;
	int			mxid_min_age;

	cut->oldest_xmin = GetOldestNonRemovableTransactionId(rel);
	Assert(TransactionIdIsNormal(cut->oldest_xmin));

	/* as vacuum_set_xid_limits: at most half of autovacuum_freeze_max_age */
	freeze_min_age = Min(vacuum_freeze_min_age, autovacuum_freeze_max_age / 2);
	cut->freeze_limit = cut->oldest_xmin - freeze_min_age;
	if (!TransactionIdIsNormal(cut->freeze_limit))
		cut->freeze_limit = FirstNormalTransactionId;

	cut->oldest_mxact = GetOldestMultiXactId();
	mxid_min_age = Min(vacuum_multixact_freeze_min_age,
					   MultiXactMemberFreezeThreshold() / 2);
	cut->multi_cutoff = cut->oldest_mxact - mxid_min_age;
	if (cut->multi_cutoff < FirstMultiXactId)
		cut->multi_cutoff = FirstMultiXactId;
	if (MultiXactIdPrecedes(cut->oldest_mxact, cut->multi_cutoff))
		cut->multi_cutoff = cut->oldest_mxact;
}

/* ----------------------------------------------------------------
 * Row-id sets
 * ----------------------------------------------------------------
 */

void
lsm_rowid_set_init(LsmRowidSet *set)
{
	memset(set, 0, sizeof(*set));
}

void
lsm_rowid_set_add(LsmRowidSet *set, LsmRowId id)
{
	Size		word;

	if (set->words == NULL)
	{
		set->base = id & ~UINT64CONST(63);
		set->nwords = 64;
		set->words = MemoryContextAllocHuge(CurrentMemoryContext,
											set->nwords * sizeof(uint64));
		memset(set->words, 0, set->nwords * sizeof(uint64));
	}
	/* ids are added in ascending order (the row map's order) */
	if (id < set->base)
		elog(ERROR, "row id " UINT64_FORMAT " added below the set's base " UINT64_FORMAT,
			 id, set->base);
	word = (id - set->base) / 64;
	if (word >= set->nwords)
	{
		Size		n = Max(set->nwords * 2, word + 1);

		set->words = repalloc_huge(set->words, n * sizeof(uint64));
		memset(set->words + set->nwords, 0, (n - set->nwords) * sizeof(uint64));
		set->nwords = n;
	}
	if ((set->words[word] & (UINT64CONST(1) << (id % 64))) == 0)
	{
		set->words[word] |= UINT64CONST(1) << (id % 64);
		set->count++;
	}
}

void
lsm_rowid_set_remove(LsmRowidSet *set, LsmRowId id)
{
	Size		word;

	if (set->words == NULL || id < set->base)
		return;
	word = (id - set->base) / 64;
	if (word < set->nwords &&
		(set->words[word] & (UINT64CONST(1) << (id % 64))) != 0)
	{
		set->words[word] &= ~(UINT64CONST(1) << (id % 64));
		set->count--;
	}
}

bool
lsm_rowid_set_contains(const LsmRowidSet *set, LsmRowId id)
{
	Size		word;

	if (set->words == NULL || id < set->base)
		return false;
	word = (id - set->base) / 64;
	return word < set->nwords &&
		(set->words[word] & (UINT64CONST(1) << (id % 64))) != 0;
}

void
lsm_rowid_set_free(LsmRowidSet *set)
{
	if (set->words)
		pfree(set->words);
	lsm_rowid_set_init(set);
}

/* ----------------------------------------------------------------
 * Deciding
 * ----------------------------------------------------------------
 */

static bool
xid_in_progress(TransactionId xid)
{
	return TransactionIdIsCurrentTransactionId(xid) ||
		TransactionIdIsInProgress(xid);
}

/* The updater of a multixact xmax (InvalidTransactionId if only lockers). */
static TransactionId
multi_update_xid(TransactionId multi, uint16 infomask)
{
	HeapTupleHeaderData hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.t_infomask = infomask;
	HeapTupleHeaderSetXmax(&hdr, multi);
	return HeapTupleGetUpdateXid(&hdr);
}

/* heap_prepare_freeze_tuple and HeapTupleSatisfiesVacuum on a multixact. */
static LsmXmaxVerdict
judge_multi(LsmGc *gc, const LsmXmaxDelta *d)
{
	TransactionId update;

	if (HEAP_LOCKED_UPGRADED(d->infomask))
		return XMAX_GONE;

	/*
	 * While lockers run, the entry stays; it may go once the horizon has
	 * passed where it is now (a rough stand-in for the lockers' end).
	 */
	gc->pending = gc->cut.oldest_xmin;
	if (HEAP_XMAX_IS_LOCKED_ONLY(d->infomask))
		return MultiXactIdIsRunning(d->xmax, true) ? XMAX_KEEP : XMAX_GONE;

	update = multi_update_xid(d->xmax, d->infomask);
	if (!TransactionIdIsValid(update))
		return MultiXactIdIsRunning(d->xmax, false) ? XMAX_KEEP : XMAX_GONE;
	gc->pending = update;
	if (xid_in_progress(update))
		return XMAX_KEEP;
	if (TransactionIdDidCommit(update))
	{
		if (TransactionIdPrecedes(update, gc->cut.oldest_xmin))
			return XMAX_DEAD;

		/*
		 * Recently dead.  A multixact this old has no running member, so the
		 * updater alone can stand for it, as heap's FreezeMultiXactId does.
		 */
		gc->stats.recently_dead++;
		if (MultiXactIdPrecedes(d->xmax, gc->cut.multi_cutoff))
		{
			gc->delta = *d;
			gc->delta.xmax = update;
			gc->delta.infomask &= ~HEAP_XMAX_BITS;
			gc->delta.infomask |= HEAP_XMAX_COMMITTED;
			return XMAX_REWRITE;
		}
		return XMAX_KEEP;
	}
	/* the updater aborted: only lockers may still matter */
	return MultiXactIdIsRunning(d->xmax, false) ? XMAX_KEEP : XMAX_GONE;
}

/* The fate of a row's newest delta. */
static LsmXmaxVerdict
judge_xmax(LsmGc *gc, const LsmXmaxDelta *d)
{
	/* a killed speculative insertion is dead to everyone at once */
	if (d->flags & LSM_DELTA_SUPER_DELETED)
		return XMAX_DEAD;
	/* it confirms a speculative insertion whose VALUE keeps its token */
	if (d->infomask & HEAP_XMAX_INVALID)
		return XMAX_KEEP;
	if (!TransactionIdIsValid(d->xmax))
		return XMAX_GONE;
	if (d->infomask & HEAP_XMAX_IS_MULTI)
		return judge_multi(gc, d);

	gc->pending = d->xmax;
	if (xid_in_progress(d->xmax))
		return XMAX_KEEP;
	/* a locker that ended leaves nothing behind */
	if (HEAP_XMAX_IS_LOCKED_ONLY(d->infomask))
		return XMAX_GONE;
	if ((d->infomask & HEAP_XMAX_COMMITTED) || TransactionIdDidCommit(d->xmax))
	{
		if (TransactionIdPrecedes(d->xmax, gc->cut.oldest_xmin))
			return XMAX_DEAD;
		gc->stats.recently_dead++;
		if (d->infomask & HEAP_XMAX_COMMITTED)
			return XMAX_KEEP;
		gc->delta = *d;
		gc->delta.infomask |= HEAP_XMAX_COMMITTED;
		return XMAX_REWRITE;
	}
	return XMAX_GONE;			/* aborted or crashed */
}

static lsm_filter_action
decide_delta(LsmGc *gc, lsm_slice value, lsm_kind *kind, lsm_slice *new_value)
{
	LsmXmaxDelta d;

	if (gc->seen_delta)
	{
		/* superseded by the newer delta already decided */
		gc->stats.deltas_removed++;
		return LSM_FILTER_DROP;
	}
	if (value.len != sizeof(LsmXmaxDelta))
	{
		gc->seen_delta = true;
		return LSM_FILTER_KEEP; /* readers report it */
	}
	memcpy(&d, value.data, sizeof(d));

	switch (judge_xmax(gc, &d))
	{
		case XMAX_KEEP:
			gc->seen_delta = true;
			return LSM_FILTER_KEEP;
		case XMAX_GONE:

			/*
			 * An aborted deleter or an ended locker leaves the row as the
			 * delta before it did, which is judged next as the newest.  That
			 * one can only be a confirmation of a speculative insertion (its
			 * VALUE keeps the token: dropped too, the row would look
			 * speculative again while its inserter runs, after a rolled-back
			 * savepoint deleted it) or lockers that ended: any live locker
			 * would have gone into this delta's multixact.
			 */
			gc->stats.deltas_removed++;
			return LSM_FILTER_DROP;
		case XMAX_DEAD:
			gc->seen_delta = true;
			gc->stats.rows_removed++;
			*kind = LSM_KIND_TOMBSTONE;
			*new_value = lsm_slice_make(NULL, 0);
			return LSM_FILTER_REWRITE;
		case XMAX_REWRITE:
			gc->seen_delta = true;
			*new_value = lsm_slice_make(&gc->delta, sizeof(gc->delta));
			return LSM_FILTER_REWRITE;
	}
	return LSM_FILTER_KEEP;		/* keep compiler quiet */
}

/* A copy of value whose header's infomask gets bits. */
static lsm_slice
value_with_hint(LsmGc *gc, lsm_slice value, uint16 bits)
{
	HeapTupleHeaderData hdr;

	if (gc->valcap < value.len)
	{
		if (gc->valbuf)
			pfree(gc->valbuf);
		gc->valcap = Max(value.len, BLCKSZ);
		gc->valbuf = MemoryContextAlloc(gc->cxt, gc->valcap);
	}
	memcpy(gc->valbuf, value.data, value.len);
	memcpy(&hdr, gc->valbuf, SizeofHeapTupleHeader);
	hdr.t_infomask |= bits;
	memcpy(gc->valbuf, &hdr, SizeofHeapTupleHeader);
	return lsm_slice_make(gc->valbuf, value.len);
}

static lsm_filter_action
decide_value(LsmGc *gc, lsm_slice value, lsm_kind *kind, lsm_slice *new_value)
{
	HeapTupleHeaderData hdr;
	TransactionId xmin;

	if (value.len < SizeofHeapTupleHeader)
		return LSM_FILTER_KEEP; /* readers report it */
	memcpy(&hdr, value.data, SizeofHeapTupleHeader);
	if (HeapTupleHeaderXminFrozen(&hdr))
		return LSM_FILTER_KEEP;
	if (HeapTupleHeaderXminInvalid(&hdr))
	{
		gc->stats.aborted_removed++;
		return LSM_FILTER_DROP;
	}
	xmin = HeapTupleHeaderGetRawXmin(&hdr);
	if (!TransactionIdIsNormal(xmin))
		return LSM_FILTER_KEEP;
	if (!HeapTupleHeaderXminCommitted(&hdr))
	{
		if (xid_in_progress(xmin))
		{
			gc->pending = xmin;
			return LSM_FILTER_KEEP;
		}
		if (!TransactionIdDidCommit(xmin))
		{
			/* aborted or crashed: never visible to anyone */
			gc->stats.aborted_removed++;
			return LSM_FILTER_DROP;
		}
	}
	if (TransactionIdPrecedes(xmin, gc->cut.freeze_limit))
	{
		gc->stats.frozen++;
		*new_value = value_with_hint(gc, value, HEAP_XMIN_FROZEN);
		return LSM_FILTER_REWRITE;
	}
	if (!HeapTupleHeaderXminCommitted(&hdr))
	{
		*new_value = value_with_hint(gc, value, HEAP_XMIN_COMMITTED);
		return LSM_FILTER_REWRITE;
	}
	return LSM_FILTER_KEEP;
}

static lsm_filter_action
decide_data(LsmGc *gc, const lsm_ikey *key, lsm_slice value, lsm_kind *kind,
			lsm_slice *new_value)
{
	if (key->user_key.len != (Size) gc->cur.len ||
		memcmp(key->user_key.data, gc->cur.data, gc->cur.len) != 0)
	{
		resetStringInfo(&gc->cur);
		appendBinaryStringInfo(&gc->cur, (const char *) key->user_key.data,
							   (int) key->user_key.len);
		gc->seen_delta = false;
	}
	switch (key->kind)
	{
		case LSM_KIND_XMAX:
		case LSM_KIND_LOCK:
			return decide_delta(gc, value, kind, new_value);
		case LSM_KIND_VALUE:
			return decide_value(gc, value, kind, new_value);
		case LSM_KIND_TOMBSTONE:
			break;
	}
	return LSM_FILTER_KEEP;
}

static lsm_filter_action
decide_rowmap(LsmGc *gc, const lsm_ikey *key)
{
	LsmRowId	id;

	if (key->user_key.len != 1 + LSM_ROWID_BYTES || key->kind != LSM_KIND_VALUE)
		return LSM_FILTER_KEEP;
	id = lsm_rowid_get(key->user_key.data + 1);
	if (gc->map_mode == LSM_GC_MAP_DROP && lsm_rowid_set_contains(gc->set, id))
	{
		gc->stats.rowmaps_removed++;
		return LSM_FILTER_DROP;
	}
	if (gc->map_mode == LSM_GC_MAP_MARK)
		lsm_rowid_set_add(gc->set, id);
	return LSM_FILTER_KEEP;
}

static lsm_filter_action
lsm_gc_decide(void *arg, const lsm_ikey *key, lsm_slice value, lsm_kind *kind,
			  lsm_slice *new_value)
{
	LsmGc	   *gc = (LsmGc *) arg;
	volatile lsm_filter_action action = LSM_FILTER_KEEP;

	if (gc->store->error)
		return LSM_FILTER_FAIL;
	gc->pending = InvalidTransactionId;
	if (key->user_key.len == 0)
		return LSM_FILTER_KEEP;
	PG_TRY();
	{
		if (key->user_key.data[0] == LSM_FAMILY_DATA)
			action = decide_data(gc, key, value, kind, new_value);
		else if (key->user_key.data[0] == LSM_FAMILY_ROWMAP)
			action = decide_rowmap(gc, key);
	}
	PG_CATCH();
	{
		lsm_store_catch(gc->store);
		action = LSM_FILTER_FAIL;
	}
	PG_END_TRY();
	return action;
}

/* ----------------------------------------------------------------
 * What stays: the run summary, and rows kept (VACUUM)
 * ----------------------------------------------------------------
 */

static void
note_pending(LsmGc *gc, TransactionId xid)
{
	if (!TransactionIdIsNormal(xid))
		return;
	if (!TransactionIdIsValid(gc->run_pending) ||
		TransactionIdPrecedes(xid, gc->run_pending))
		gc->run_pending = xid;
}

static void
note_xid(LsmGc *gc, TransactionId xid)
{
	if (!TransactionIdIsNormal(xid))
		return;
	if (!TransactionIdIsValid(gc->run_xid) ||
		TransactionIdPrecedes(xid, gc->run_xid))
		gc->run_xid = xid;
}

/* A multixact stays: it and every member count (heap: FreezeMultiXactId). */
static void
note_multi(LsmGc *gc, MultiXactId multi, uint16 infomask)
{
	MultiXactMember *members;
	int			n;

	if (!MultiXactIdIsValid(gc->run_mxid) ||
		MultiXactIdPrecedes(multi, gc->run_mxid))
		gc->run_mxid = multi;
	n = GetMultiXactIdMembers(multi, &members, false,
							  HEAP_XMAX_IS_LOCKED_ONLY(infomask));
	for (int i = 0; i < n; i++)
		note_xid(gc, members[i].xid);
	if (n > 0)
		pfree(members);
}

static void
kept_data(LsmGc *gc, const lsm_ikey *key, lsm_slice value)
{
	note_pending(gc, gc->pending);
	gc->pending = InvalidTransactionId;
	if (key->kind == LSM_KIND_VALUE && value.len >= SizeofHeapTupleHeader)
	{
		HeapTupleHeaderData hdr;

		memcpy(&hdr, value.data, SizeofHeapTupleHeader);
		if (!HeapTupleHeaderXminFrozen(&hdr))
			note_xid(gc, HeapTupleHeaderGetRawXmin(&hdr));
		gc->stats.rows_kept++;
		if (gc->map_mode == LSM_GC_MAP_MARK &&
			key->user_key.len >= 1 + LSM_ROWID_BYTES)
			lsm_rowid_set_remove(gc->set,
								 lsm_key_rowid(key->user_key.data,
											   key->user_key.len));
	}
	else if ((key->kind == LSM_KIND_XMAX || key->kind == LSM_KIND_LOCK) &&
			 value.len == sizeof(LsmXmaxDelta))
	{
		LsmXmaxDelta d;

		memcpy(&d, value.data, sizeof(d));
		if ((d.infomask & HEAP_XMAX_INVALID) || !TransactionIdIsValid(d.xmax))
			return;
		if (d.infomask & HEAP_XMAX_IS_MULTI)
			note_multi(gc, d.xmax, d.infomask);
		else
			note_xid(gc, d.xmax);
	}
}

static void
lsm_gc_kept(void *arg, const lsm_ikey *key, lsm_slice value)
{
	LsmGc	   *gc = (LsmGc *) arg;

	if (gc->store->error || key->user_key.len == 0 ||
		key->user_key.data[0] != LSM_FAMILY_DATA)
		return;
	PG_TRY();
	{
		kept_data(gc, key, value);
	}
	PG_CATCH();
	{
		/* the next decision stops the merge; a last entry is checked after */
		lsm_store_catch(gc->store);
	}
	PG_END_TRY();
}

static void
lsm_gc_run_aux(void *arg, uint64_t *aux, uint64_t *aux2)
{
	LsmGc	   *gc = (LsmGc *) arg;
	TransactionId xid = TransactionIdIsValid(gc->run_xid) ?
		gc->run_xid : FrozenTransactionId;

	*aux = ((uint64) gc->run_mxid << 32) | xid;
	*aux2 = gc->run_pending;
	gc->run_xid = InvalidTransactionId;
	gc->run_mxid = InvalidMultiXactId;
	gc->run_pending = InvalidTransactionId;
}

static void lsm_gc_finish(LsmCompactFilter *f, TransactionId *conflict_horizon,
						  uint64 *manifest_aux);

/* ----------------------------------------------------------------
 * Life cycle
 * ----------------------------------------------------------------
 */

LsmGc *
lsm_gc_begin(LsmStore *s, const LsmGcCutoffs *cut, LsmGcMapMode map_mode,
			 LsmRowidSet *set)
{
	LsmGc	   *gc = palloc0(sizeof(LsmGc));

	Assert(map_mode == LSM_GC_MAP_KEEP || set != NULL);
	gc->store = s;
	gc->cxt = CurrentMemoryContext;
	gc->cut = *cut;
	gc->map_mode = map_mode;
	gc->set = set;
	initStringInfo(&gc->cur);
	gc->entries.decide = lsm_gc_decide;
	gc->entries.kept = lsm_gc_kept;
	gc->entries.run_aux = lsm_gc_run_aux;
	gc->entries.arg = gc;
	gc->filter.entries = &gc->entries;
	gc->filter.finish = lsm_gc_finish;
	return gc;
}

LsmCompactFilter *
lsm_gc_filter(LsmGc *gc)
{
	return &gc->filter;
}

/*
 * The horizon a hot standby's queries must be past for what the merge did
 * so far (lsm_rmgr.h): the removal horizon if it removed or froze anything
 * a snapshot could still see, else InvalidTransactionId (aborted rows are
 * invisible to every snapshot).
 */
static TransactionId
lsm_gc_conflict_horizon(LsmGc *gc)
{
	if (gc->stats.rows_removed > 0 || gc->stats.deltas_removed > 0 ||
		gc->stats.rowmaps_removed > 0 || gc->stats.frozen > 0)
		return gc->cut.oldest_xmin;
	return InvalidTransactionId;
}

/*
 * After the merge: the standby conflict horizon, and when rows went, the
 * manifest's note that their row-map entries wait for VACUUM.
 */
static void
lsm_gc_finish(LsmCompactFilter *f, TransactionId *conflict_horizon,
			  uint64 *manifest_aux)
{
	LsmGc	   *gc = (LsmGc *) ((char *) f - offsetof(LsmGc, filter));

	*conflict_horizon = lsm_gc_conflict_horizon(gc);
	if (gc->stats.rows_removed > 0 || gc->stats.aborted_removed > 0)
		*manifest_aux |= LSM_MANIFEST_MAP_GARBAGE;
}

void
lsm_gc_end(LsmGc *gc, LsmGcStats *stats)
{
	if (stats)
		*stats = gc->stats;
	pfree(gc->cur.data);
	if (gc->valbuf)
		pfree(gc->valbuf);
	pfree(gc);
}

/*
 * Whether a merge of run under cut could change any of its entries: its
 * content is unknown (a flush wrote it), it holds xids or multixacts old
 * enough to freeze, or entries that waited on a transaction now behind the
 * removal horizon.  If not, merging it alone would write it back as it is.
 */
bool
lsm_gc_run_has_work(const lsm_run_meta *run, const LsmGcCutoffs *cut)
{
	TransactionId xid = lsm_run_aux_xid(run->aux);
	MultiXactId mxid = lsm_run_aux_mxid(run->aux);
	TransactionId pending = lsm_run_aux2_pending(run->aux2);

	if (!lsm_run_aux_known(run->aux))
		return true;
	if (TransactionIdIsNormal(xid) &&
		TransactionIdPrecedes(xid, cut->freeze_limit))
		return true;
	if (MultiXactIdIsValid(mxid) &&
		MultiXactIdPrecedes(mxid, cut->multi_cutoff))
		return true;
	return TransactionIdIsNormal(pending) &&
		TransactionIdPrecedes(pending, cut->oldest_xmin);
}
