/*
 * lsm_tree_write.c - writes into a relation's tree (lsm_tree_write): entries
 * go into the active memtable under the writer lock, their log records are
 * held back for the log (lsm_pending.c), and a full memtable is frozen and
 * flushed or waited for; and the relation's id counter (lsm_tree_new_id).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "lsm/logrec.h"
#include "lsm_storage.h"
#include "lsm_tree_int.h"

/* Ids reserved per metapage change. */
#define LSM_ID_BATCH 4096

/*
 * Ids a backend takes from the shared counter at a time, so that most
 * inserts find theirs without attaching to the relation's shared state.
 */
#define LSM_ID_LOCAL 64

Size
lsm_tree_max_entry(void)
{
	return LSM_MAX_ENTRY;
}

/* ----------------------------------------------------------------
 * Writes
 * ----------------------------------------------------------------
 */

/*
 * What a memtable node may take beyond its internal key and value: the
 * core's node header and its links at the tallest height, aligned.  The
 * core's own node overhead is well below this, so a batch whose summed
 * sizes pass lsm_memtable_has_room with this slack per extra entry fits.
 */
#define LSM_NODE_SLACK 128

typedef enum LsmWriteStep
{
	LSM_WROTE,					/* added some entries */
	LSM_FROZE,					/* froze the active memtable: flush it */
	LSM_NO_ROOM					/* no memtable room and no free region */
} LsmWriteStep;

/* How many of the n entries (from the first) the memtable mt has room for. */
static int
write_fits_memtable(lsm_memtable *mt, const LsmWrite *w, int n)
{
	Size		keys = 0;
	Size		vals = 0;
	int			k;

	for (k = 0; k < n; k++)
	{
		keys += w[k].keylen;
		vals += w[k].vallen;
		if (!lsm_memtable_has_room(mt, keys + (Size) k * LSM_NODE_SLACK, vals))
			break;
	}
	return k;
}

/*
 * Batches at least this large are added to the memtable in key order: the
 * memtable's writer then finds each entry's place from the previous one's
 * (lsm/memtable.c), touching few nodes that are not in the CPU caches
 * already, where random keys would each cost a search from the top.
 */
#define LSM_SORT_BATCH 16

/* A batch entry's place in key order: its key's first 8 bytes, and where it is. */
typedef struct LsmWriteOrder
{
	uint64		prefix;			/* big-endian, zero-padded: compares as memcmp */
	int			pos;
} LsmWriteOrder;

static inline int
lsm_write_order_cmp(const LsmWriteOrder *a, const LsmWriteOrder *b,
					const LsmWrite *w)
{
	const LsmWrite *x;
	const LsmWrite *y;
	int			c;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	x = &w[a->pos];
	y = &w[b->pos];
	c = memcmp(x->key, y->key, Min(x->keylen, y->keylen));
	if (c != 0)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

#define ST_SORT lsm_sort_write_order
#define ST_ELEMENT_TYPE LsmWriteOrder
#define ST_COMPARE_ARG_TYPE const LsmWrite
#define ST_COMPARE(a, b, w) lsm_write_order_cmp(a, b, w)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* The positions of w[0..n) in key order. */
static LsmWriteOrder *
lsm_write_order(const LsmWrite *w, int n)
{
	LsmWriteOrder *order = palloc(n * sizeof(LsmWriteOrder));

	for (int j = 0; j < n; j++)
	{
		uint64		prefix = 0;

		for (Size b = 0; b < 8; b++)
			prefix = (prefix << 8) | (b < w[j].keylen ? w[j].key[b] : 0);
		order[j].prefix = prefix;
		order[j].pos = j;
	}
	lsm_sort_write_order(order, n, w);
	return order;
}

/*
 * One step of lsm_tree_write, under the writer lock: adds as many of the
 * entries w[0..n) as the active memtable has room for, with the next
 * sequence numbers in the order given (the first returned in *seq), or
 * freezes the full memtable.  order, if not NULL, lists the positions of
 * the whole batch, of which w[0] is position first, in key order; the
 * entries are added in that order.
 */
static LsmWriteStep
lsm_write_step(LsmStore *s, LsmTableShared *e, const LsmWrite *w, int n,
			   const LsmWriteOrder *order, int first, int total, int *done,
			   uint64 *seq)
{
	lsm_memtable *mt;
	int			k;
	int			region;

	*done = 0;
	if (e->active.region < 0)
	{
		region = lsm_region_try_alloc();
		if (region < 0)
			return LSM_NO_ROOM;
		SpinLockAcquire(&e->mutex);
		e->active.region = region;
		SpinLockRelease(&e->mutex);
	}
	mt = lsm_region_memtable(e->active.region);
	k = write_fits_memtable(mt, w, n);
	if (k > 0)
	{
		/*
		 * Sequence numbers are taken and the entries added under the same
		 * lock hold, so a frozen memtable has every entry up to its max_seq.
		 */
		*seq = e->next_seq;
		e->next_seq += k;
		for (int o = 0; o < (order ? total : k); o++)
		{
			int			j = order ? order[o].pos - first : o;
			lsm_status	st;

			if (j < 0 || j >= k)
				continue;
			st = lsm_memtable_add(mt, lsm_slice_make(w[j].key, w[j].keylen),
								  *seq + j, w[j].kind,
								  lsm_slice_make(w[j].value, w[j].vallen));
			if (st != LSM_OK)
				elog(ERROR, "lsm table \"%s\": could not add an entry to the memtable: %s",
					 s->relname, lsm_status_str(st));
		}
		pg_atomic_write_u64(&e->write_tick, lsm_write_clock_tick());
		*done = k;
		return LSM_WROTE;
	}
	if (e->nfrozen < Min(lsm_max_frozen_memtables, LSM_MAX_FROZEN) &&
		(region = lsm_region_try_alloc()) >= 0)
	{
		if (lsm_freeze_locked(e, region))
			return LSM_FROZE;
		lsm_region_free_unused(region);
	}
	return LSM_NO_ROOM;
}

/*
 * Counts what users wrote: key and value bytes of every entry (rows, row-map
 * entries, deltas; those of transactions that later abort too, since they
 * are flushed all the same).
 */
static void
lsm_count_user_bytes(LsmTableShared *e, const LsmWrite *w, int n)
{
	uint64		bytes = 0;

	for (int j = 0; j < n; j++)
		bytes += w[j].keylen + w[j].vallen;
	lsm_counter_add(e, LSM_CTR_BYTES_WRITTEN_BY_USERS, bytes);
}

void
lsm_tree_write(LsmTree *t, const LsmWrite *w, int n)
{
	LsmUse	   *u;
	LsmTableShared *e;
	Size		need = 0;
	Size		bytes = 0;
	LsmWriteOrder *order = NULL;
	int			i = 0;

	for (int j = 0; j < n; j++)
	{
		if (w[j].keylen == 0 || w[j].keylen + w[j].vallen > LSM_MAX_ENTRY)
			ereport(ERROR,
					errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					errmsg("lsm table entry of %zu bytes exceeds the maximum of %zu bytes",
						   w[j].keylen + w[j].vallen, (Size) LSM_MAX_ENTRY));
		if ((unsigned) w[j].kind > LSM_KIND_MAX)
			elog(ERROR, "invalid lsm entry kind %d", (int) w[j].kind);
		need += lsm_logrec_size(w[j].keylen, w[j].vallen, LSM_MAX_SEQ);
		bytes += w[j].keylen + w[j].vallen;
	}

	lsm_tree_check_writable(t);
	/* Room for the records first: once the entries are in the memtable,
	 * encoding their records must not fail. */
	lsm_pending_reserve(t, need);

	if (n >= LSM_SORT_BATCH)
		order = lsm_write_order(w, n);

	lsm_cover_xid();
	u = lsm_tree_use(t, true);
	e = u->entry;
	/* Slowed down or stopped while flushes or compaction fall behind. */
	lsm_write_throttle(&t->store, u, bytes, !lsm_pending_committing());
	while (i < n)
	{
		LsmWriteStep step;
		int			done;
		uint64		seq = 0;

		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(&e->writer, LW_EXCLUSIVE);
		step = lsm_write_step(&t->store, e, w + i, n - i, order, i, n,
							  &done, &seq);
		LWLockRelease(&e->writer);

		lsm_pending_add(t, w + i, done, seq);
		i += done;

		if (step == LSM_FROZE)
			lsm_flush_frozen(&t->store, u);	/* the flusher's job, usually */
		else if (step == LSM_NO_ROOM)
			lsm_make_room(&t->store, u, &w[i]);
	}

	lsm_pending_written(t, e);
	lsm_count_user_bytes(e, w, n);
	lsm_use_release(u);
	if (order)
		pfree(order);
}

bool
lsm_tree_new_id(LsmTree *t, uint64 limit, uint64 *id)
{
	LsmUse	   *u;
	LsmTableShared *e;

	if (t->id_next < t->id_end)
	{
		*id = t->id_next++;
		return true;
	}
	lsm_tree_check_writable(t);

	/*
	 * A few at a time; those this backend does not use are never handed
	 * out again (a reload of the table starts from the high-water mark in
	 * the metapage, past every id taken).
	 */
	u = lsm_tree_use(t, true);
	e = u->entry;
	for (;;)
	{
		bool		have;

		SpinLockAcquire(&e->mutex);
		have = e->next_id < e->id_limit;
		if (have)
		{
			t->id_next = e->next_id;
			t->id_end = Min(e->id_limit, e->next_id + LSM_ID_LOCAL);
			e->next_id = t->id_end;
		}
		SpinLockRelease(&e->mutex);
		if (have)
			break;
		if (!lsm_meta_reserve_ids(&t->store, e, LSM_ID_BATCH, limit))
		{
			lsm_use_release(u);
			return false;
		}
	}
	lsm_use_release(u);
	*id = t->id_next++;
	return true;
}

uint64
lsm_tree_id_limit(LsmTree *t)
{
	LsmUse	   *u = lsm_tree_use(t, true);
	LsmTableShared *e = u->entry;
	uint64		limit;

	if (t->in_recovery)
	{
		LsmMetaTx	tx;

		/*
		 * Nothing is loaded during recovery: the metapage's reservation,
		 * replayed before any entry that uses it, bounds every id a standby
		 * can see.
		 */
		lsm_meta_begin(&t->store, &tx, false, false);
		limit = tx.meta.id_hwm;
		lsm_meta_end(&tx);
	}
	else
	{
		SpinLockAcquire(&e->mutex);
		limit = e->id_limit;
		SpinLockRelease(&e->mutex);
	}
	lsm_use_release(u);
	return limit;
}
