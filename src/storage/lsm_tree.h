/*
 * lsm_tree.h - one LSM relation's tree inside PostgreSQL: the API of the
 * storage layer, under the table access method.  (Its comments and
 * structures say "table" for the relation, the only kind so far.)
 *
 * Storage (all in the relation's main fork, through the buffer manager):
 *   block 0      metapage: magic, format version, id high-water mark, the
 *                core's serialised lsm_manifest (runs per level, free extents,
 *                log head, flushed_seq, last_seq) and overflow pointers when
 *                the manifest outgrows the metapage.  Changed only under a
 *                generic WAL record.
 *   log pages    a chain holding the entries still only in the memtable, in
 *                the core's log-record format (lsm/logrec.h); appended under
 *                generic WAL in batches, each transaction's records before
 *                its commit record (lsm_storage.h).
 *   run extents  immutable runs (lsm/sstable.h), written once as new pages
 *                and WAL-logged with log_newpage; a run's byte stream is laid
 *                over the payloads of its pages (page header and the 8-byte
 *                special space that names the page kind excluded).
 * Every page is a standard PostgreSQL page (PageInit, checksums), so crash
 * recovery, replication, base backups and data checksums just work.
 *
 * Shared memory (allocated at server start): a fixed pool of memtable
 * regions (lsm.memtable_pool_size / lsm.memtable_size) and a directory of
 * tables keyed by relfilenode, each with its active memtable, frozen
 * memtables waiting for flush, next sequence number and id, log tail,
 * and a writer LWLock.  After a restart the directory is empty: the first
 * backend to open a table replays its log into a fresh memtable.
 *
 * Keys are byte strings in memcmp order and values are opaque: what they
 * mean is the relation kind's (for tables: lsm_keys.h and lsm_rowid.h in
 * src/table/).  The bloom filter of a run hashes a key's bloom prefix, as
 * lsm/format.h defines it.
 */
#ifndef LSM_TREE_H
#define LSM_TREE_H

#include "postgres.h"

#include "utils/rel.h"

#include "lsm/format.h"
#include "lsm/iter.h"
#include "lsm/ikey.h"

/*
 * The key description a relation stores in its metapage when its
 * relfilenode is formatted, fixed for the relfilenode's life: the column
 * its keys are made of, that column's type and collation then, and an
 * encoder number whose meaning is the relation kind's (for tables:
 * lsm_keys.h).  The storage layer keeps it and never reads keys.
 */
typedef struct LsmKeyInfo
{
	AttrNumber	attnum;
	Oid			typid;
	Oid			collation;
	uint16		encoder;
} LsmKeyInfo;

/* Backend-local handle on one table's tree; cached per relfilenode. */
typedef struct LsmTree LsmTree;

/*
 * Returns the tree of rel (a cheap, backend-local lookup).  Each operation
 * below attaches to (or creates) the table's shared state and, on first use
 * since server start, replays its log into a memtable.
 */
extern LsmTree *lsm_tree_open(Relation rel);

/* Formats the metapage of a new, empty relfilenode (CREATE, TRUNCATE, rewrite). */
extern int	lsm_max_open_runs;
extern void lsm_tree_init(void);
extern void lsm_tree_init_storage(Relation rel, SMgrRelation srel, char persistence,
								  const LsmKeyInfo *ki);

/* The key description of t's relfilenode, read once per handle. */
extern const LsmKeyInfo *lsm_tree_key_info(LsmTree *t);

/*
 * Forgets rel's shared state and memtables (its storage is being dropped or
 * replaced), after writing this backend's pending log records for it.
 */
extern void lsm_tree_forget(RelFileNode rnode);

/*
 * The relation's id counter: sets *id to a new id below limit, unique for
 * the relation forever (ids are reserved in batches via the metapage and
 * never handed out twice); false once every id below limit is taken.
 */
extern bool lsm_tree_new_id(LsmTree *t, uint64 limit, uint64 *id);

/* Every id handed out so far is below this (the metapage's reservation). */
extern uint64 lsm_tree_id_limit(LsmTree *t);

/* One entry to write. */
typedef struct LsmWrite
{
	lsm_kind	kind;
	const uint8 *key;
	Size		keylen;
	const uint8 *value;
	Size		vallen;
} LsmWrite;

/*
 * Adds the entries to the memtable, in order, holding the table's writer
 * lock, and keeps their log records pending in this backend: they reach the
 * log pages under generic WAL in batches of nearly full pages, at the latest
 * before the transaction commits or prepares (lsm_storage.h).  Freezes a
 * full memtable and flushes it (or waits for a free memtable, with a wait
 * event) as needed.  Errors on entries larger than lsm_tree_max_entry().
 */
extern void lsm_tree_write(LsmTree *t, const LsmWrite *w, int n);
extern Size lsm_tree_max_entry(void);

/*
 * This backend's pending log records for a relfilenode: written to its log
 * before its pages are copied (SET TABLESPACE), dropped when its log is
 * thrown away (TRUNCATE of a relfilenode created in the same
 * subtransaction).
 */
extern void lsm_tree_write_pending(const RelFileNode *node);
extern void lsm_tree_discard_pending(const RelFileNode *node);

/*
 * Calls cb for every entry of user key key, newest first (any kind), across
 * memtables and runs, until cb returns false.  Returns whether any entry
 * was found.
 */
typedef bool (*LsmVersionCallback) (void *arg, uint64 seq, lsm_kind kind,
									const uint8 *value, Size vallen);
extern bool lsm_tree_versions(LsmTree *t, const uint8 *key, Size keylen,
							  LsmVersionCallback cb, void *arg);

/*
 * An ordered iteration over internal entries (all versions, newest first
 * within a user key) of memtables and runs as they are now.  The sources stay valid
 * until lsm_tree_iter_end (also released at transaction abort).
 */
typedef struct LsmTreeIter LsmTreeIter;

extern LsmTreeIter *lsm_tree_iter_begin(LsmTree *t);

/*
 * A bounded iteration reads the user keys k with start <= k < end (memcmp
 * order) of each span.  A span whose keys all share one bloom key (a point: one
 * key value, any row id) gives a key with that bloom key in probe, so that
 * runs whose filter rules it out are left out; probe is empty otherwise.
 */
typedef struct LsmKeySpan
{
	lsm_slice	start;
	lsm_slice	end;
	lsm_slice	probe;
} LsmKeySpan;

/* What a bounded iteration's choice of sources did, for EXPLAIN. */
typedef struct LsmTreeIterCounts
{
	uint64		runs_read;		/* runs merged */
	uint64		runs_skipped;	/* runs whose key range misses every span */
	uint64		bloom_probes;	/* filter probes for point spans */
	uint64		bloom_skips;	/* ... that ruled a run out for a span */
} LsmTreeIterCounts;

/*
 * An iteration as lsm_tree_iter_begin's, merging only the memtables and the runs
 * that may hold a key of one of the n spans (sorted, disjoint); the caller
 * reads within the spans only.  The spans' bytes need not outlive the call.
 * counts, if not NULL, is added to.
 */
extern LsmTreeIter *lsm_tree_iter_begin_spans(LsmTree *t,
											  const LsmKeySpan *spans, int n,
											  LsmTreeIterCounts *counts);

/*
 * The sources an iteration over rel's tree would merge now (memtables, level-0 runs,
 * non-empty deeper levels) and its runs in all, for the planner.
 */
extern void lsm_tree_shape(Relation rel, int *nsources, int *nruns);
extern lsm_iter *lsm_tree_iter_get(LsmTreeIter *s);
extern void lsm_tree_iter_end(LsmTreeIter *s);

/* Freezes the active memtable and writes it to a level-0 run. */
extern void lsm_tree_flush(LsmTree *t);

/* Entries (in memtables and runs, all versions) and pages, for the planner. */
extern void lsm_tree_estimate(Relation rel, BlockNumber *pages, double *entries);

#endif							/* LSM_TREE_H */
