/*
 * db.h - a standalone key-value store built from the core over the file
 * pager: a file of 8 KiB pages whose page 0 is a metapage, like a relation.
 *
 * It exists so the core can be tested against a reference model and
 * benchmarked against LevelDB and RocksDB without PostgreSQL; the table AM
 * assembles the same pieces over the buffer manager instead.
 *
 * Writes are appended to log pages in the file (no fsync unless asked), then
 * to the memtable.  A full memtable is flushed to a level-0 run and the
 * manifest (written to a fresh extent, its location in the metapage) is
 * replaced; compaction runs when the picker asks for it.  Opening an
 * existing file replays the live log into the memtable.  Single-threaded.
 */
#ifndef LSM_DB_H
#define LSM_DB_H

#include "compaction.h"
#include "merge.h"

typedef struct lsm_db_options
{
	size_t		memtable_size;	/* 64 MiB */
	lsm_sst_options sst;
	lsm_compaction_options compaction;
	bool		sync;			/* fsync the log on every write (false) */
	bool		auto_compact;	/* compact after flushes when needed (true) */
} lsm_db_options;

void		lsm_db_options_default(lsm_db_options *o);

typedef struct lsm_db lsm_db;

typedef struct lsm_db_stats
{
	uint64_t	flushes;
	uint64_t	compactions;	/* merges */
	uint64_t	moves;			/* runs moved down a level as they were */
	uint64_t	bytes_flushed;
	uint64_t	bytes_compacted;
	uint64_t	bloom_probes;
	uint64_t	bloom_skips;
	uint64_t	user_bytes;		/* key + value bytes written by the user */
} lsm_db_stats;

lsm_status	lsm_db_open(const char *path, const lsm_db_options *opts, lsm_db **out);
lsm_status	lsm_db_close(lsm_db *db);

lsm_status	lsm_db_put(lsm_db *db, lsm_slice key, lsm_slice value);
lsm_status	lsm_db_delete(lsm_db *db, lsm_slice key);
/* LSM_NOT_FOUND if absent or deleted; the value is copied into *value. */
lsm_status	lsm_db_get(lsm_db *db, lsm_slice key, lsm_buf *value);

/* A snapshot-consistent iterator over range (NULL: everything). */
lsm_status	lsm_db_iter(lsm_db *db, const lsm_range *range, lsm_dbiter **out);

/* Freezes and flushes the memtable to a level-0 run. */
lsm_status	lsm_db_flush(lsm_db *db);
/* Runs one picked compaction if any is due; *did says whether it did. */
lsm_status	lsm_db_compact_step(lsm_db *db, bool *did);
/* Compacts everything into one level. */
lsm_status	lsm_db_compact_all(lsm_db *db);

/* Checks the manifest, every run, and that no page is owned twice or lost. */
lsm_status	lsm_db_verify(lsm_db *db, char *msg, size_t msglen);

const lsm_manifest *lsm_db_manifest(lsm_db *db);
lsm_db_stats lsm_db_get_stats(lsm_db *db);

#endif							/* LSM_DB_H */
