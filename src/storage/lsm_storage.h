/*
 * lsm_storage.h - internals of the storage layer under lsm_tree.h, shared by
 * lsm_shmem.c (settings, shared memory, the table directory, the memtable
 * pool), lsm_pager.c (pages through the buffer manager), lsm_meta.c
 * (metapage and manifest), lsm_log.c (log pages and replay), lsm_flush.c
 * (freezing and flushing memtables), lsm_standby.c (reading the log on a
 * hot standby) and lsm_tree.c (the lsm_tree.h API).
 *
 * Page format.  Every page of an lsm relation is a standard page: the page
 * header, a payload, and an 8-byte special space that names the page's kind
 * (metapage, log page, run page, manifest overflow page), so that a reader
 * can tell an lsm page from anything else and a run page from a log page.
 * The payload is the same size on every page (LSM_PAYLOAD_SIZE); it is what
 * the core's pager exposes (lsm/pager.h).  pd_lower marks the end of the
 * payload bytes in use (the whole payload on run pages), so full-page images
 * and generic WAL never drop data.
 *
 *   block 0    metapage: LsmMetaData (with the key description), then the
 *              serialised manifest when it fits (else the manifest lives on
 *              an extent of overflow pages, rewritten to a fresh extent on
 *              each change)
 *   log page   LsmLogPageHeader (next page of the chain), then core log
 *              records (lsm/logrec.h) up to pd_lower
 *   run page   a slice of a run's byte stream (lsm/sstable.h)
 *
 * The memtables and the log.  The memtables hold every entry not yet in a
 * run.  A write adds its entries to the active memtable under the table's
 * writer lock, with the next sequence numbers, and keeps their log records
 * in a backend-local buffer of pending records (lsm_pending.c).  Pending
 * records reach the log pages under generic WAL, in batches of nearly full
 * pages, when the buffer holds a few pages' worth, before this backend
 * drops or copies the table's storage, and at the latest at
 * XACT_EVENT_PRE_COMMIT or XACT_EVENT_PRE_PREPARE.  At abort they are
 * dropped: the entries stay in the memtable, invisible as an aborted
 * transaction's rows and deltas are, until a flush or the next replay.  The
 * rule everything else relies on:
 *
 *   Every entry of a committed or prepared transaction is in the log or in
 *   a run before the transaction's commit or prepare record is written.
 *
 * So a memtable may be flushed at any time (the run is WAL-logged, and
 * replay skips records at or below flushed_seq wherever in the log they
 * are); the shared state of a table whose memtables hold entries may only be
 * dropped when no running transaction has pending records for it
 * (lsm_tree_forget writes this backend's first; no other backend can have
 * any under the lock that DROP, TRUNCATE and rewrites take; the directory
 * evicts only tables whose memtables are empty); and the log's records are
 * not in sequence order (lsm_log.c), so replay takes the highest sequence
 * number it finds, or the manifest's last_seq if that is higher.
 */
#ifndef LSM_STORAGE_H
#define LSM_STORAGE_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "lib/ilist.h"
#include "port/atomics.h"
#include "storage/block.h"
#include "storage/buf.h"
#include "storage/bufpage.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/relfilenode.h"
#include "storage/spin.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "lsm/format.h"
#include "lsm/logrec.h"
#include "lsm/manifest.h"
#include "lsm/memtable.h"
#include "lsm/pager.h"

#include "lsm_counters.h"
#include "lsm_tree.h"

/* ----------------------------------------------------------------
 * Settings (lsm_shmem.c)
 * ----------------------------------------------------------------
 */
extern int	lsm_memtable_size_kb;
extern int	lsm_memtable_pool_kb;
extern int	lsm_max_tables;
extern int	lsm_bloom_bits_per_key;
extern int	lsm_region_wait_timeout_ms;

/* Called from _PG_init: settings, shared memory and hooks. */
extern void lsm_storage_init(void);

/* ----------------------------------------------------------------
 * Page format (lsm_pager.c)
 * ----------------------------------------------------------------
 */
/* The on-disk format's authority is lsm/format.h; lsm_pager.c checks it. */
#define LSM_PAGE_ID			LSM_FORMAT_PAGE_ID	/* last two bytes of every page */

#define LSM_PAGE_META		LSM_FORMAT_PAGE_META
#define LSM_PAGE_LOG		LSM_FORMAT_PAGE_LOG
#define LSM_PAGE_RUN		LSM_FORMAT_PAGE_RUN
#define LSM_PAGE_MANIFEST	LSM_FORMAT_PAGE_MANIFEST

typedef struct LsmPageOpaqueData
{
	uint32		lsm_reserved;
	uint16		lsm_type;		/* LSM_PAGE_* */
	uint16		lsm_page_id;	/* LSM_PAGE_ID */
} LsmPageOpaqueData;

#define LSM_PAYLOAD_OFFSET	MAXALIGN(SizeOfPageHeaderData)
#define LSM_SPECIAL_SIZE	MAXALIGN(sizeof(LsmPageOpaqueData))
#define LSM_PAYLOAD_SIZE	(BLCKSZ - LSM_PAYLOAD_OFFSET - LSM_SPECIAL_SIZE)

#define LsmPagePayload(page)	((uint8 *) (page) + LSM_PAYLOAD_OFFSET)
/* Payload bytes in use, as pd_lower says. */
#define LsmPageUsed(page)	(((PageHeader) (page))->pd_lower - LSM_PAYLOAD_OFFSET)
#define LsmPageSetUsed(page, used) \
	(((PageHeader) (page))->pd_lower = LSM_PAYLOAD_OFFSET + (used))

#define LSM_META_BLKNO		LSM_FORMAT_META_BLKNO

/* The metapage's payload starts with this. */
#define LSM_META_MAGIC		LSM_FORMAT_META_MAGIC	/* "LSMT" */
#define LSM_META_VERSION	LSM_FORMAT_META_VERSION

typedef struct LsmMetaData
{
	uint32		magic;
	uint32		format_version;
	uint64		id_hwm;			/* ids below this may have been handed out */
	uint64		manifest_version;	/* the manifest's version field */
	uint32		manifest_len;	/* bytes of serialised manifest */
	BlockNumber manifest_first; /* its overflow extent; 0: inline after this */
	uint32		manifest_npages;
	uint32		reserved;

	/*
	 * The key description (lsm_keys.h: LsmKeyInfo), set when the metapage
	 * is formatted and never changed: every key of this relfilenode is
	 * encoded with key_encoder.
	 */
	uint16		key_encoder;	/* LsmKeyEncoder */
	int16		key_attnum;
	Oid			key_typid;
	Oid			key_collation;
	uint32		key_reserved;
} LsmMetaData;

#define LSM_META_INLINE_OFFSET	MAXALIGN(sizeof(LsmMetaData))
#define LSM_META_INLINE_MAX		(LSM_PAYLOAD_SIZE - LSM_META_INLINE_OFFSET)

/* A log page's payload starts with this; records follow. */
typedef struct LsmLogPageHeader
{
	BlockNumber next;			/* next page of the chain, 0 at the tail */
	uint32		reserved;
} LsmLogPageHeader;

#define LSM_LOG_HEADER		MAXALIGN(sizeof(LsmLogPageHeader))

/*
 * Largest key + value of one entry: a log record never spans pages, so an
 * entry must fit an empty log page with the record header and the worst
 * case varints (sequence number, key and value lengths).
 */
#define LSM_MAX_ENTRY	(LSM_PAYLOAD_SIZE - LSM_LOG_HEADER - LSM_LOGREC_HEADER - 16)

/* ----------------------------------------------------------------
 * Shared state (lsm_shmem.c)
 * ----------------------------------------------------------------
 */

/*
 * Frozen memtables a table can have waiting for a flush; writers freeze
 * only up to lsm.max_frozen_memtables of them (lsm_stall.c).
 */
#define LSM_MAX_FROZEN		8
#define LSM_MAX_MEMS		(1 + LSM_MAX_FROZEN)

/* One memtable of a table: a pool region and where its log starts. */
typedef struct LsmMem
{
	int			region;			/* pool region, -1 if none */
	BlockNumber seg_first;		/* first log page that may hold its records */
	uint64		max_seq;		/* frozen: the highest sequence number in it */
} LsmMem;

/*
 * A table's shared state, one directory entry per relfilenode.  The writer
 * lock serialises everything that appends to the log or changes the active
 * memtable; mutex protects the fields readers look at.  The manifest itself
 * lives in the metapage, whose buffer lock serialises manifest changes; a
 * change and the matching change of the memtable list happen under both, so
 * a reader that holds either sees them consistently.
 */
typedef struct LsmTableShared
{
	RelFileNode node;			/* hash key; must be first */
	uint64		generation;		/* distinguishes reuses of the entry */
	pg_atomic_uint32 users;		/* backends inside an operation on it */
	pg_atomic_uint64 write_tick;	/* when it was last written (for victims) */
	LWLock		writer;
	LWLock		extend;			/* serialises extension of the relation */
	ConditionVariable flush_cv; /* broadcast when a flush ends */
	ConditionVariable stall_cv; /* broadcast when the manifest changes */
	slock_t		mutex;

	/* protected by mutex */
	bool		loaded;			/* the memtables hold the whole live log */
	bool		flushing;		/* a backend is flushing frozen[0] */
	bool		wal_skipped;	/* last opener saw a new, not-logged relfilenode */
	char		persistence;
	Oid			dbid;
	Oid			relid;
	NameData	relname;
	LsmMem		active;
	int			nfrozen;
	LsmMem		frozen[LSM_MAX_FROZEN];	/* oldest first */
	uint64		manifest_version;	/* of the manifest in the metapage */
	int			l0_runs;		/* level-0 runs in that manifest */
	TimestampTz flusher_blocked_until;	/* writers flush it themselves till then */
	TimestampTz victim_skip_until;	/* no writer picks it as a victim till then */
	TimestampTz delay_next;		/* slowed writes may go on from then */
	uint64		delay_rate;		/* their bytes/s now; 0: lsm.delayed_write_rate */
	uint64		next_id;		/* the relation's id counter (lsm_tree_new_id) */
	uint64		id_limit;		/* reserved in the metapage up to here */

	/* protected by writer */
	uint64		next_seq;
	BlockNumber log_tail;		/* last page of the log chain */
	uint32		log_tail_off;	/* payload offset where the next record goes */
	BlockNumber log_spare;		/* pages set aside for the log: */
	uint32		log_nspare;		/* [log_spare, log_spare + log_nspare) */

	/* atomics, no lock: activity since the entry was created */
	LsmCounters counters;
} LsmTableShared;

/* Memtable pool regions. */
extern int	lsm_region_try_alloc(void);
extern void *lsm_region_ptr(int region);
extern void lsm_region_retire(int region);
extern void lsm_region_free_unused(int region);
extern int	lsm_region_count(void);
extern Size lsm_region_bytes(void);
extern bool lsm_reclaim_regions(void);
extern void lsm_wait_for_region(void);
extern int	lsm_regions_free(void);
extern uint64 lsm_write_clock_tick(void);

static inline lsm_memtable *
lsm_region_memtable(int region)
{
	return lsm_memtable_at(lsm_region_ptr(region));
}

/*
 * A backend's use of a table's shared state: attached (the entry cannot be
 * evicted), possibly with memtable regions pinned (scans) or the flushing
 * flag held.  Released explicitly, or by the resource owner it was taken
 * under when that is released (transaction or subtransaction abort), after
 * LWLocks are gone.
 */
typedef struct LsmUse
{
	dlist_node	node;
	LsmTableShared *entry;
	ResourceOwner owner;
	bool		flushing;		/* this use set entry->flushing */
	int			npins;
	int			pins[LSM_MAX_MEMS];
	int		   *holder_count;	/* decremented on release (LsmTree->nuses) */
	void		(*cleanup) (void *arg); /* run on release (scans) */
	void	   *cleanup_arg;
} LsmUse;

extern LsmUse *lsm_use_attach(const RelFileNode *node);
extern void lsm_use_release(LsmUse *u);
extern uint64 lsm_use_pin_mems(LsmUse *u, int *regions, int *nregions);
extern void lsm_use_unpin_all(LsmUse *u);

/* Another table's memtable to flush when the pool is exhausted. */
typedef struct LsmVictim
{
	RelFileNode node;
	uint64		generation;
	Oid			dbid;
	Oid			relid;
	char		persistence;
	bool		needs_wal;
	NameData	relname;
} LsmVictim;

extern LsmUse *lsm_use_attach_victim(LsmTableShared *self, LsmVictim *v,
									  bool frozen_only);
extern bool lsm_relfilenode_alive(const RelFileNode *node);

/* ----------------------------------------------------------------
 * Storage handle and pager (lsm_pager.c)
 * ----------------------------------------------------------------
 */

/*
 * Where one table's pages are and how to write them.  Built from a Relation
 * (lsm_tree.c) or, for a flush on behalf of another backend, from the
 * directory entry (lsm_flush.c).
 */
typedef struct LsmStore
{
	lsm_pager	pager;			/* must be first: the core sees this */
	RelFileNode node;
	char		persistence;
	bool		permanent;		/* buffers are permanent (not unlogged) */
	bool		needs_wal;
	char		relname[NAMEDATALEN];
	LsmTableShared *entry;		/* NULL only while formatting */
	Relation	xlogrel;		/* stand-in relation for GenericXLogStart */
	BlockNumber nblocks;		/* known size; refreshed past it */
	MemoryContext cxt;			/* keeps xlogrel and a caught error */
	ErrorData  *error;			/* an error caught inside a core callback */
	BlockNumber bad_block;		/* a page that failed verification */
	BlockNumber read_first;		/* the pages of the last stream read, */
	BlockNumber read_last;		/* for naming them when a check fails */
	BufferAccessStrategy read_strategy; /* run pages read (a compaction's
										 * inputs), or NULL */
} LsmStore;

extern void lsm_store_init(LsmStore *s, const RelFileNode *node,
						   char persistence, bool needs_wal,
						   const char *relname, MemoryContext cxt);
extern void lsm_store_init_rel(LsmStore *s, Relation rel, MemoryContext cxt);
extern void lsm_store_set_wal(LsmStore *s, char persistence, bool needs_wal);
extern void lsm_store_free(LsmStore *s);
extern void lsm_store_catch(LsmStore *s);
extern void lsm_store_raise(LsmStore *s, lsm_status st, const char *fmt,...)
			pg_attribute_printf(3, 4);
extern void lsm_store_check(LsmStore *s, lsm_status st, const char *fmt,...)
			pg_attribute_printf(3, 4);
extern struct GenericXLogState *lsm_xlog_start(LsmStore *s);
extern BufferAccessStrategy lsm_bulk_read_strategy(void);
extern void lsm_write_back_as_bgwriter(void);
extern int	lsm_write_back_begin(void);

extern void lsm_page_init(Page page, uint16 type);
extern bool lsm_page_is(Page page, uint16 type);
extern Buffer lsm_read_page(LsmStore *s, BlockNumber blkno, uint16 type, int lockmode);
extern void lsm_write_page(LsmStore *s, BlockNumber blkno, uint16 type,
						   const uint8 *payload);
extern BlockNumber lsm_store_nblocks(LsmStore *s);

/* Page allocation and reuse (lsm_space.c). */
extern BlockNumber lsm_extend(LsmStore *s, uint32 npages);
/* The core's lsm_alloc_fn for runs: a reusable free extent, else new pages. */
extern lsm_status lsm_alloc_extent(void *arg, uint32_t npages, lsm_pageno *first);

/*
 * Extents freed by a manifest change are tagged with the next full
 * transaction id at the time of the change (lsm_free_horizon); an extent is
 * reused only once its tag is older than every backend's xmin, standby
 * feedback and replication slots included (lsm_reusable_horizon).
 */
extern uint64 lsm_free_horizon(void);
extern uint64 lsm_reusable_horizon(void);

/*
 * Takes npages contiguous free pages of m whose horizon has passed (first
 * fit); false if none fit.
 */
extern bool lsm_take_reusable_extent(lsm_manifest *m, uint32 npages,
									 lsm_pageno *first);

/*
 * Removes from m's free list the reusable free pages at the end of a
 * relation of nblocks pages; returns where the relation may then end.
 */
extern BlockNumber lsm_free_tail(lsm_manifest *m, BlockNumber nblocks);

/* Free pages of m below page end that may be reused now, and the most of them in one piece. */
extern uint64 lsm_reusable_pages_below(lsm_manifest *m, BlockNumber end,
									   uint32 *largest);

/*
 * The pager a run is read through: the store's, checking that each page
 * is still the run's.  A run's pages are written before the manifest
 * change that adds the run, so their LSN is at most that of the metapage
 * from which the run was first seen (lsn_limit); a page with a later LSN
 * was rewritten after the run's extent was freed and reused.  On the
 * primary that cannot happen while anyone reads the run (lsm_compact.c),
 * but a standby without hot_standby_feedback may see it: the reader gets a
 * recovery conflict error, as a heap reader whose rows were vacuumed away
 * would.  lsn_limit is InvalidXLogRecPtr where no check is needed.
 */
typedef struct LsmRunPager
{
	lsm_pager	pager;			/* must be first: the core sees this */
	LsmStore   *store;
	XLogRecPtr	lsn_limit;
} LsmRunPager;

extern void lsm_run_pager_init(LsmRunPager *rp, LsmStore *s, XLogRecPtr lsn_limit);
extern void lsm_store_run_options(lsm_sst_options *o, bool writing);

/* ----------------------------------------------------------------
 * Metapage and manifest (lsm_meta.c)
 * ----------------------------------------------------------------
 */
typedef struct LsmMetaTx
{
	Buffer		buf;			/* the metapage, locked */
	LsmMetaData meta;			/* its header as read */
	lsm_manifest m;				/* the manifest, if read */
} LsmMetaTx;

/* Changes the directory entry together with a manifest commit. */
typedef void (*LsmCommitHook) (LsmTableShared *e, void *arg);

extern void lsm_meta_begin(LsmStore *s, LsmMetaTx *tx, bool exclusive,
						   bool read_manifest);
extern void lsm_meta_commit(LsmStore *s, LsmMetaTx *tx, LsmCommitHook hook,
							void *arg);
extern void lsm_meta_end(LsmMetaTx *tx);
extern void lsm_meta_read(LsmStore *s, LsmMetaTx *tx);
extern bool lsm_meta_reserve_ids(LsmStore *s, LsmTableShared *e, uint64 batch,
								 uint64 limit);
extern void lsm_meta_read_key(LsmStore *s, LsmKeyInfo *ki);
extern void lsm_meta_check_status(LsmStore *s, lsm_status st, const char *what);

/* ----------------------------------------------------------------
 * Log (lsm_log.c)
 * ----------------------------------------------------------------
 */
extern void lsm_log_write(LsmStore *s, LsmTableShared *e, const uint8 *buf,
						  size_t *start, size_t end, bool all);
extern BlockNumber *lsm_log_pages_between(LsmStore *s, BlockNumber first,
										  BlockNumber stop, int *npages);
extern void lsm_load(LsmStore *s, LsmUse *u);
extern LsmUse *lsm_store_open(LsmStore *s, Relation rel, bool load);
extern bool lsm_log_move_down(LsmStore *s, LsmTableShared *e);

/* ----------------------------------------------------------------
 * Reading on a hot standby (lsm_standby.c)
 * ----------------------------------------------------------------
 */

/* A backend-local memtable of log records, shared by the views using it. */
typedef struct LsmStandbyMem
{
	int			refs;
	Size		size;
	void	   *region;
	lsm_memtable *mt;
} LsmStandbyMem;

/* How far a standby backend has read a table's log. */
typedef struct LsmStandbyLog
{
	LsmStandbyMem *mem;			/* the log's records above flushed_seq */
	BlockNumber head;			/* the log head it was built from */
	uint64		flushed_seq;	/* ... and the manifest's flushed_seq */
	BlockNumber page;			/* the page read last */
	uint32		off;			/* its payload offset read up to */
	BlockNumber npages;			/* pages followed (to catch loops) */
	XLogRecPtr	meta_lsn;		/* metapage LSN of the manifest read last */
} LsmStandbyLog;

extern void lsm_standby_catch_up(LsmStore *s, LsmStandbyLog *sl,
								 BlockNumber log_head, uint64 flushed_seq);
extern void lsm_standby_reset(LsmStandbyLog *sl);
extern void lsm_standby_mem_unref(LsmStandbyMem *mem);

/* ----------------------------------------------------------------
 * Freezing and flushing (lsm_flush.c)
 * ----------------------------------------------------------------
 */
extern bool lsm_freeze_locked(LsmTableShared *e, int new_region);
extern void lsm_flush_memtable(LsmStore *s, LsmTableShared *e, int region,
							   uint64 max_seq, BlockNumber seg_first,
							   BlockNumber next_seg, bool remove_frozen);
extern void lsm_free_log_pages(LsmStore *s, lsm_manifest *m,
							   BlockNumber *pages, int n);
extern bool lsm_flush_one(LsmStore *s, LsmUse *u, bool wait);
extern void lsm_flush_frozen(LsmStore *s, LsmUse *u);
extern void lsm_make_room(LsmStore *s, LsmUse *u, const LsmWrite *next);
extern int	lsm_region_acquire(LsmUse *u);
extern bool lsm_flush_idle_table(LsmTableShared *self);
extern void lsm_forget_local(const RelFileNode *node);

/* What lsm_flush_other did. */
typedef enum LsmFlushOutcome
{
	LSM_FLUSH_DONE,				/* flushed a memtable */
	LSM_FLUSH_NOTHING,			/* nothing (left) to flush */
	LSM_FLUSH_BUSY				/* the table or its database is locked */
} LsmFlushOutcome;

extern LsmFlushOutcome lsm_flush_other(LsmUse *vu, const LsmVictim *v,
									   bool freeze_active);

/* ----------------------------------------------------------------
 * Verification (lsm_verify.c)
 * ----------------------------------------------------------------
 */

/* One problem found. */
typedef struct LsmProblem
{
	const char *problem;		/* what was checked: manifest, log, run, pages */
	int			level;			/* -1: none */
	int64		run;			/* -1: none */
	int64		block;			/* -1: none */
	char	   *detail;
} LsmProblem;

/*
 * Checks rel's pages, log and runs and returns the problems found (a List
 * of LsmProblem, in the caller's memory context).  The caller holds
 * ShareUpdateExclusiveLock on rel, or AccessShareLock in recovery
 * (standby), where nothing is loaded: the pages redo built are checked.
 */
extern List *lsm_verify_relation(Relation rel, bool standby);

/* ----------------------------------------------------------------
 * Write stalls (lsm_stall.c)
 * ----------------------------------------------------------------
 */
extern int	lsm_l0_slowdown_trigger;
extern int	lsm_l0_stop_trigger;
extern int	lsm_max_frozen_memtables;
extern int	lsm_delayed_write_rate_kb;

extern void lsm_stall_init(void);
extern void lsm_write_throttle(LsmStore *s, LsmUse *u, Size bytes,
							   bool may_wait);
extern bool lsm_stall_for_flush(LsmStore *s, LsmUse *u);
extern void lsm_stall_for_region(LsmTableShared *e);
extern void lsm_stall_adapt(LsmTableShared *e, int old_l0, int new_l0);
extern uint64 lsm_stall_rate(LsmTableShared *e);

#endif							/* LSM_STORAGE_H */
