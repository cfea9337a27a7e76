/*
 * lsm_space.c - where an lsm table's pages come from and when freed pages
 * may be used again: new extents at the end of the relation, free extents
 * of the manifest whose reuse horizon has passed, and the free tail VACUUM
 * gives back to the file system.
 *
 * Reuse of freed pages.  A reader reads runs of the manifest version it
 * found when its operation began (lsm_view.c), possibly for as long as a
 * cursor stays open, and a standby's reader the same.  So the extents a
 * compaction frees are tagged with the next full transaction id at the time
 * of the change, and an extent is taken for a new run only once that tag is
 * older than the oldest xmin of any backend (GetOldestNonRemovable-
 * TransactionId over all databases, which includes walsenders' xmin from
 * hot_standby_feedback and replication slots).  Every reader reads inside a
 * statement with a snapshot, so its xmin is set and is no newer than the
 * next transaction id when it read the manifest, hence no newer than the
 * tag of any extent freed after that; as long as it reads, the extent stays
 * free.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xloginsert.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "storage/smgr.h"

#include "lsm_storage.h"

/* ----------------------------------------------------------------
 * New pages
 * ----------------------------------------------------------------
 */

/*
 * Adds npages pages at the end of the relation and returns the first.  The
 * pages are zero-filled.  Extension is serialised by the table's extension
 * lock, which also covers flushes done on behalf of other backends.
 *
 * Only the last page is written, past the end of the file: the file system
 * fills the pages before it with zeros, so a run's or the log's new extent
 * costs one write instead of one per page through shared buffers.  The
 * extension is WAL-logged as an image of that zero page, as hash indexes
 * log their bucket pages (_hash_alloc_buckets): pages of the extent may be
 * named by the manifest (a free extent, the log's spare pages freed at the
 * next load) without ever being written, and redo -- crash recovery after a
 * truncation, a standby, a restored base backup -- must leave a file that
 * holds them.
 */
BlockNumber
lsm_extend(LsmStore *s, uint32 npages)
{
	LWLock	   *lock = s->entry ? &s->entry->extend : NULL;
	SMgrRelation srel = smgropen(s->node, InvalidBackendId);
	PGAlignedBlock zero;
	BlockNumber first;
	BlockNumber last;

	Assert(npages > 0);
	memset(zero.data, 0, BLCKSZ);
	if (lock)
		LWLockAcquire(lock, LW_EXCLUSIVE);
	first = smgrnblocks(srel, MAIN_FORKNUM);
	if ((uint64) first + npages > MaxBlockNumber)
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("cannot extend lsm table \"%s\" beyond %u blocks",
					   s->relname, MaxBlockNumber));
	last = first + npages - 1;
	/* WAL first: redo then never has a shorter file than this one. */
	if (s->needs_wal)
		log_newpage(&s->node, MAIN_FORKNUM, last, zero.data, true);
	smgrextend(srel, MAIN_FORKNUM, last, zero.data, false);
	if (lock)
		LWLockRelease(lock);
	s->nblocks = Max(s->nblocks, first + npages);
	return first;
}

/*
 * Where a new run of npages goes: a free extent of the manifest (taken in a
 * manifest change of its own, so that nobody else takes it; if the run is
 * never committed, the pages are found unowned and freed again when the
 * table is next loaded), else new pages at the end of the relation.
 */
static BlockNumber
lsm_alloc_pages(LsmStore *s, uint32 npages)
{
	LsmMetaTx	tx;
	lsm_pageno	first = InvalidBlockNumber;
	volatile bool taken = false;

	lsm_meta_begin(s, &tx, true, true);
	PG_TRY();
	{
		/*
		 * Extents freed at once (log pages, manifest overflow pages) have
		 * horizon 0; those of runs replaced by compaction wait until no
		 * reader can still be reading them (see the top of this file).
		 */
		if (lsm_take_reusable_extent(&tx.m, npages, &first))
		{
			taken = true;
			lsm_meta_commit(s, &tx, NULL, NULL);
		}
	}
	PG_FINALLY();
	{
		lsm_manifest_free(&tx.m);
	}
	PG_END_TRY();
	UnlockReleaseBuffer(tx.buf);
	if (!taken)
		first = lsm_extend(s, npages);
	return first;
}

/* The core's lsm_alloc_fn for runs. */
lsm_status
lsm_alloc_extent(void *arg, uint32_t npages, lsm_pageno *first)
{
	LsmStore   *s = (LsmStore *) arg;
	volatile lsm_status st = LSM_OK;

	if (s->error)
		return LSM_IO_ERROR;
	PG_TRY();
	{
		*first = lsm_alloc_pages(s, npages);
	}
	PG_CATCH();
	{
		lsm_store_catch(s);
		st = LSM_IO_ERROR;
	}
	PG_END_TRY();
	return st;
}

/* ----------------------------------------------------------------
 * Reuse horizons
 * ----------------------------------------------------------------
 */

uint64
lsm_free_horizon(void)
{
	return U64FromFullTransactionId(ReadNextFullTransactionId());
}

uint64
lsm_reusable_horizon(void)
{
	TransactionId oldest;
	FullTransactionId next;
	uint32		behind;

	/*
	 * The oldest xmin first: the next xid read after it is never older, so
	 * the distance below is what it seems.
	 */
	oldest = GetOldestNonRemovableTransactionId(NULL);
	next = ReadNextFullTransactionId();
	if (!TransactionIdIsNormal(oldest))
		return 0;
	behind = XidFromFullTransactionId(next) - oldest;
	if ((uint64) behind >= U64FromFullTransactionId(next))
		return 0;
	/* Tags strictly older than the oldest xmin are past every reader. */
	return U64FromFullTransactionId(next) - behind - 1;
}

/*
 * Extents become reusable one by one as the horizon passes them, but the
 * core coalesces free extents only when their horizons are equal, so
 * neighbours freed by different changes would stay apart and a run larger
 * than each of them would extend the relation instead.  Reusable extents
 * are therefore relabelled horizon 0 and coalesced before taking one.
 */
static void
lsm_free_list_settle(lsm_manifest *m, uint64 reusable)
{
	int			n = 0;

	for (int i = 0; i < m->nfree; i++)
	{
		lsm_extent	e = m->free[i];
		lsm_extent *prev = n > 0 ? &m->free[n - 1] : NULL;

		if (e.horizon <= reusable)
			e.horizon = 0;
		if (prev && prev->horizon == e.horizon &&
			(uint64) prev->first + prev->npages == e.first &&
			(uint64) prev->npages + e.npages <= PG_UINT32_MAX)
			prev->npages += e.npages;
		else
			m->free[n++] = e;
	}
	m->nfree = n;
}

bool
lsm_take_reusable_extent(lsm_manifest *m, uint32 npages, lsm_pageno *first)
{
	uint64		reusable = lsm_reusable_horizon();

	lsm_free_list_settle(m, reusable);
	return lsm_manifest_take_extent(m, npages, reusable, first) == LSM_OK;
}

uint64
lsm_reusable_pages_below(lsm_manifest *m, BlockNumber end, uint32 *largest)
{
	uint64		n = 0;

	*largest = 0;
	lsm_free_list_settle(m, lsm_reusable_horizon());
	for (int i = 0; i < m->nfree; i++)
		if (m->free[i].horizon == 0 && m->free[i].first < end)
		{
			uint32		below = Min(m->free[i].npages, end - m->free[i].first);

			n += below;
			*largest = Max(*largest, below);
		}
	return n;
}

BlockNumber
lsm_free_tail(lsm_manifest *m, BlockNumber nblocks)
{
	BlockNumber end = nblocks;

	lsm_free_list_settle(m, lsm_reusable_horizon());
	/* sorted by first page and coalesced: only the last can end there */
	while (m->nfree > 0)
	{
		lsm_extent *e = &m->free[m->nfree - 1];

		if (e->horizon != 0 || (uint64) e->first + e->npages != end)
			break;
		end = e->first;
		m->nfree--;
	}
	return end;
}
