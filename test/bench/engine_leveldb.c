/*
 * engine_leveldb.c - the benchmark's LevelDB engine, through its C API.
 *
 * Settings: 64 MiB write buffer, bloom filter 10 bits/key, snappy
 * compression (Debian's LevelDB has no lz4), 8 MiB block cache (the
 * default, set explicitly), max_open_files 10000, WAL always on, no sync
 * (default write options).  Everything else is LevelDB's default (4 KiB
 * blocks, 2 MiB tables, L0 trigger 4).
 *
 * finish_writes: LevelDB has no "wait for compaction" call, so we poll
 * until no memtable flush is pending (a single *.log file) and leveldb.stats
 * shows no level over its compaction threshold (level 0 under 4 files,
 * level n under 10^n MB), or until the stats stop changing for ten seconds.
 * compact_range would flush the memtable and reshape the tree, so it is not
 * used.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "bench.h"

typedef struct ldb
{
	leveldb_t  *db;
	leveldb_options_t *opts;
	leveldb_filterpolicy_t *filter;
	leveldb_cache_t *cache;
	leveldb_readoptions_t *ropts;
	leveldb_writeoptions_t *wopts;
	char	   *dir;
} ldb;

typedef struct ldb_iter
{
	leveldb_iterator_t *it;
} ldb_iter;

static int
check(char *err, const char *what)
{
	if (err == NULL)
		return 0;
	fprintf(stderr, "leveldb %s: %s\n", what, err);
	leveldb_free(err);
	return -1;
}

static void *
ldb_open(const char *dir)
{
	ldb		   *d = calloc(1, sizeof(ldb));
	char	   *err = NULL;

	d->opts = leveldb_options_create();
	d->filter = leveldb_filterpolicy_create_bloom(10);
	d->cache = leveldb_cache_create_lru(8 << 20);
	leveldb_options_set_create_if_missing(d->opts, 1);
	leveldb_options_set_write_buffer_size(d->opts, 64 << 20);
	leveldb_options_set_filter_policy(d->opts, d->filter);
	leveldb_options_set_cache(d->opts, d->cache);
	leveldb_options_set_compression(d->opts, leveldb_snappy_compression);
	leveldb_options_set_max_open_files(d->opts, 10000);
	d->ropts = leveldb_readoptions_create();
	d->wopts = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(d->wopts, 0);
	d->dir = strdup(dir);
	d->db = leveldb_open(d->opts, dir, &err);
	if (check(err, "open") != 0)
		return NULL;
	return d;
}

static int
ldb_put(void *h, const char *k, size_t kl, const char *v, size_t vl)
{
	ldb		   *d = h;
	char	   *err = NULL;

	leveldb_put(d->db, d->wopts, k, kl, v, vl, &err);
	return check(err, "put");
}

static int
ldb_get(void *h, const char *k, size_t kl, bool *found, size_t *vlen)
{
	ldb		   *d = h;
	char	   *err = NULL;
	size_t		len = 0;
	char	   *v = leveldb_get(d->db, d->ropts, k, kl, &len, &err);

	if (check(err, "get") != 0)
		return -1;
	*found = v != NULL;
	*vlen = len;
	if (v)
		leveldb_free(v);
	return 0;
}

/*
 * LevelDB keeps the log of an immutable memtable until that memtable is
 * flushed, so more than one *.log file means a flush is pending.
 */
static int
ldb_log_files(const char *dir)
{
	DIR		   *dp = opendir(dir);
	struct dirent *de;
	int			n = 0;

	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0)
			n++;
	}
	closedir(dp);
	return n;
}

/*
 * True when no memtable flush is pending and no level is over LevelDB's
 * compaction thresholds.
 */
static bool
ldb_settled(const char *dir, const char *stats)
{
	const char *p;

	if (ldb_log_files(dir) > 1)
		return false;
	p = strstr(stats, "--------------------------------------------------\n");

	if (p == NULL)
		return false;
	p = strchr(p, '\n') + 1;
	while (*p)
	{
		int			level,
					files;
		double		size;

		if (sscanf(p, "%d %d %lf", &level, &files, &size) == 3)
		{
			if (level == 0 && files >= 4)
				return false;
			if (level > 0)
			{
				double		limit = 10;

				for (int i = 1; i < level; i++)
					limit *= 10;
				if (size >= limit)
					return false;
			}
		}
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return true;
}

static int
ldb_finish(void *h)
{
	ldb		   *d = h;
	char	   *last = NULL;
	int			same = 0;

	for (int i = 0; i < 6000; i++)
	{
		char	   *stats = leveldb_property_value(d->db, "leveldb.stats");

		if (stats == NULL)
			return -1;
		if (ldb_settled(d->dir, stats))
		{
			leveldb_free(stats);
			break;
		}
		if (last && strcmp(last, stats) == 0)
			same++;
		else
			same = 0;
		if (last)
			leveldb_free(last);
		last = stats;
		if (same >= 100)
			break;
		usleep(100 * 1000);
	}
	if (last)
		leveldb_free(last);
	return 0;
}

static int
ldb_close(void *h)
{
	ldb		   *d = h;

	leveldb_close(d->db);
	leveldb_options_destroy(d->opts);
	leveldb_filterpolicy_destroy(d->filter);
	leveldb_cache_destroy(d->cache);
	leveldb_readoptions_destroy(d->ropts);
	leveldb_writeoptions_destroy(d->wopts);
	free(d->dir);
	free(d);
	return 0;
}

static void *
ldb_iter_new(void *h)
{
	ldb		   *d = h;

	return leveldb_create_iterator(d->db, d->ropts);
}

static void
ldb_iter_seek(void *it, const char *k, size_t kl)
{
	if (k == NULL)
		leveldb_iter_seek_to_first(it);
	else
		leveldb_iter_seek(it, k, kl);
}

static bool
ldb_iter_valid(void *it)
{
	return leveldb_iter_valid(it) != 0;
}

static void
ldb_iter_next(void *it)
{
	leveldb_iter_next(it);
}

static const char *
ldb_iter_key(void *it, size_t *len)
{
	return leveldb_iter_key(it, len);
}

static const char *
ldb_iter_value(void *it, size_t *len)
{
	return leveldb_iter_value(it, len);
}

static int
ldb_iter_free(void *it)
{
	char	   *err = NULL;
	int			rc;

	leveldb_iter_get_error(it, &err);
	rc = check(err, "iterator");
	leveldb_iter_destroy(it);
	return rc;
}

const bench_engine bench_engine_impl = {
	.name = "leveldb",
	.settings = "LevelDB 1.23 (Debian): write_buffer 64 MiB, bloom 10 bits/key, "
	"snappy (no lz4 in LevelDB), block cache 8 MiB, max_open_files 10000, "
	"WAL on, no sync; settle = poll until no memtable flush is pending and no level is over its trigger",
	.open = ldb_open,
	.put = ldb_put,
	.get = ldb_get,
	.finish_writes = ldb_finish,
	.close = ldb_close,
	.iter_new = ldb_iter_new,
	.iter_seek = ldb_iter_seek,
	.iter_valid = ldb_iter_valid,
	.iter_next = ldb_iter_next,
	.iter_key = ldb_iter_key,
	.iter_value = ldb_iter_value,
	.iter_free = ldb_iter_free,
};
