/*
 * engine_rocksdb.c - the benchmark's RocksDB engine, through its C API.
 *
 * Settings: 64 MiB write buffer, full bloom filter 10 bits/key (block-based
 * table), lz4 compression, 8 MiB LRU block cache (as LevelDB), 4 KiB
 * blocks (default), max_background_jobs 2 (two cores), max_open_files -1,
 * WAL on, no sync.  Everything else is RocksDB's default (level-style
 * compaction, L0 trigger 4, 64 MiB target files, 256 MiB level 1).
 *
 * finish_writes: polls rocksdb.num-running-flushes, num-running-compactions,
 * mem-table-flush-pending and compaction-pending until all are zero, i.e.
 * until RocksDB itself has no compaction it wants to run.  The memtable is
 * not flushed and compact_range is not used: the tree keeps its shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "bench.h"

typedef struct rdb
{
	rocksdb_t  *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *topts;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
} rdb;

static int
check(char *err, const char *what)
{
	if (err == NULL)
		return 0;
	fprintf(stderr, "rocksdb %s: %s\n", what, err);
	rocksdb_free(err);
	return -1;
}

static void *
rdb_open(const char *dir)
{
	rdb		   *d = calloc(1, sizeof(rdb));
	char	   *err = NULL;

	d->opts = rocksdb_options_create();
	d->topts = rocksdb_block_based_options_create();
	d->cache = rocksdb_cache_create_lru(8 << 20);
	rocksdb_block_based_options_set_filter_policy(d->topts,
												  rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_block_cache(d->topts, d->cache);
	rocksdb_options_set_block_based_table_factory(d->opts, d->topts);
	rocksdb_options_set_create_if_missing(d->opts, 1);
	rocksdb_options_set_write_buffer_size(d->opts, 64 << 20);
	rocksdb_options_set_compression(d->opts, rocksdb_lz4_compression);
	rocksdb_options_set_max_background_jobs(d->opts, 2);
	rocksdb_options_set_max_open_files(d->opts, -1);
	d->ropts = rocksdb_readoptions_create();
	d->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(d->wopts, 0);
	rocksdb_writeoptions_disable_WAL(d->wopts, 0);
	d->db = rocksdb_open(d->opts, dir, &err);
	if (check(err, "open") != 0)
		return NULL;
	return d;
}

static int
rdb_put(void *h, const char *k, size_t kl, const char *v, size_t vl)
{
	rdb		   *d = h;
	char	   *err = NULL;

	rocksdb_put(d->db, d->wopts, k, kl, v, vl, &err);
	return check(err, "put");
}

static int
rdb_get(void *h, const char *k, size_t kl, bool *found, size_t *vlen)
{
	rdb		   *d = h;
	char	   *err = NULL;
	rocksdb_pinnableslice_t *v = rocksdb_get_pinned(d->db, d->ropts, k, kl, &err);

	if (check(err, "get") != 0)
		return -1;
	*found = v != NULL;
	*vlen = 0;
	if (v)
	{
		rocksdb_pinnableslice_value(v, vlen);
		rocksdb_pinnableslice_destroy(v);
	}
	return 0;
}

static long
rdb_prop(rdb *d, const char *name)
{
	char	   *s = rocksdb_property_value(d->db, name);
	long		v;

	if (s == NULL)
		return -1;
	v = atol(s);
	rocksdb_free(s);
	return v;
}

static int
rdb_finish(void *h)
{
	rdb		   *d = h;

	for (int i = 0; i < 60000; i++)
	{
		if (rdb_prop(d, "rocksdb.num-running-flushes") == 0 &&
			rdb_prop(d, "rocksdb.num-running-compactions") == 0 &&
			rdb_prop(d, "rocksdb.mem-table-flush-pending") == 0 &&
			rdb_prop(d, "rocksdb.compaction-pending") == 0)
			return 0;
		usleep(10 * 1000);
	}
	fprintf(stderr, "rocksdb: compactions did not settle in 600 s\n");
	return 0;
}

static int
rdb_close(void *h)
{
	rdb		   *d = h;

	rocksdb_close(d->db);
	rocksdb_options_destroy(d->opts);
	rocksdb_block_based_options_destroy(d->topts);
	rocksdb_cache_destroy(d->cache);
	rocksdb_readoptions_destroy(d->ropts);
	rocksdb_writeoptions_destroy(d->wopts);
	free(d);
	return 0;
}

static void *
rdb_iter_new(void *h)
{
	rdb		   *d = h;

	return rocksdb_create_iterator(d->db, d->ropts);
}

static void
rdb_iter_seek(void *it, const char *k, size_t kl)
{
	if (k == NULL)
		rocksdb_iter_seek_to_first(it);
	else
		rocksdb_iter_seek(it, k, kl);
}

static bool
rdb_iter_valid(void *it)
{
	return rocksdb_iter_valid(it) != 0;
}

static void
rdb_iter_next(void *it)
{
	rocksdb_iter_next(it);
}

static const char *
rdb_iter_key(void *it, size_t *len)
{
	return rocksdb_iter_key(it, len);
}

static const char *
rdb_iter_value(void *it, size_t *len)
{
	return rocksdb_iter_value(it, len);
}

static int
rdb_iter_free(void *it)
{
	char	   *err = NULL;
	int			rc;

	rocksdb_iter_get_error(it, &err);
	rc = check(err, "iterator");
	rocksdb_iter_destroy(it);
	return rc;
}

const bench_engine bench_engine_impl = {
	.name = "rocksdb",
	.settings = "RocksDB 7.8.3 (Debian): write_buffer 64 MiB, full bloom 10 bits/key, "
	"lz4, block cache 8 MiB, max_background_jobs 2, max_open_files -1, "
	"WAL on, no sync; settle = wait until no flush/compaction is running or pending",
	.open = rdb_open,
	.put = rdb_put,
	.get = rdb_get,
	.finish_writes = rdb_finish,
	.close = rdb_close,
	.iter_new = rdb_iter_new,
	.iter_seek = rdb_iter_seek,
	.iter_valid = rdb_iter_valid,
	.iter_next = rdb_iter_next,
	.iter_key = rdb_iter_key,
	.iter_value = rdb_iter_value,
	.iter_free = rdb_iter_free,
};
