/*
 * engine_lsm.c - the benchmark's engine for our own core: lsm_db (lsm/db.h)
 * over the file pager, one file of 8 KiB pages.
 *
 * Settings: 64 MiB memtable, bloom filter 10 bits/key, lz4 data blocks,
 * no sync (the log pages are written with pwrite, no fsync), automatic
 * compaction.  lsm_db is single-threaded: flushes and compactions run inline
 * in the put that fills the memtable, so their cost is inside the fill
 * numbers.  finish_writes runs any compaction step still due (normally
 * none); the memtable is not flushed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#include "bench.h"

typedef struct lsmb
{
	lsm_db	   *db;
	lsm_buf		value;
} lsmb;

static int
check(lsm_status st, const char *what)
{
	if (st == LSM_OK)
		return 0;
	fprintf(stderr, "lsm %s: %s\n", what, lsm_status_str(st));
	return -1;
}

static void *
lsmb_open(const char *dir)
{
	lsmb	   *d = calloc(1, sizeof(lsmb));
	lsm_db_options o;
	char		path[4200];

	lsm_db_options_default(&o);
	o.memtable_size = (size_t) 64 << 20;
	o.sst.bloom_bits_per_key = 10;
	o.sst.compress = true;
	o.sync = false;
	o.auto_compact = true;
	snprintf(path, sizeof(path), "%s/lsm.db", dir);
	if (check(lsm_db_open(path, &o, &d->db), "open") != 0)
	{
		free(d);
		return NULL;
	}
	return d;
}

static int
lsmb_put(void *h, const char *k, size_t kl, const char *v, size_t vl)
{
	lsmb	   *d = h;

	return check(lsm_db_put(d->db, lsm_slice_make(k, kl), lsm_slice_make(v, vl)), "put");
}

static int
lsmb_get(void *h, const char *k, size_t kl, bool *found, size_t *vlen)
{
	lsmb	   *d = h;
	lsm_status	st = lsm_db_get(d->db, lsm_slice_make(k, kl), &d->value);

	*found = false;
	*vlen = 0;
	if (st == LSM_NOT_FOUND)
		return 0;
	if (check(st, "get") != 0)
		return -1;
	*found = true;
	*vlen = d->value.len;
	return 0;
}

static int
lsmb_finish(void *h)
{
	lsmb	   *d = h;
	bool		did = true;

	while (did)
	{
		if (check(lsm_db_compact_step(d->db, &did), "compact_step") != 0)
			return -1;
	}
	return 0;
}

static int
lsmb_close(void *h)
{
	lsmb	   *d = h;
	int			rc = check(lsm_db_close(d->db), "close");

	lsm_buf_free(&d->value);
	free(d);
	return rc;
}

static void *
lsmb_iter_new(void *h)
{
	lsmb	   *d = h;
	lsm_dbiter *it = NULL;

	if (check(lsm_db_iter(d->db, NULL, &it), "iter") != 0)
		return NULL;
	return it;
}

static void
lsmb_iter_seek(void *it, const char *k, size_t kl)
{
	lsm_slice	key = lsm_slice_make(k, kl);

	lsm_dbiter_seek(it, k ? &key : NULL);
}

static bool
lsmb_iter_valid(void *it)
{
	return lsm_dbiter_valid(it);
}

static void
lsmb_iter_next(void *it)
{
	lsm_dbiter_next(it);
}

static const char *
lsmb_iter_key(void *it, size_t *len)
{
	lsm_slice	s = lsm_dbiter_key(it);

	*len = s.len;
	return (const char *) s.data;
}

static const char *
lsmb_iter_value(void *it, size_t *len)
{
	lsm_slice	s = lsm_dbiter_value(it);

	*len = s.len;
	return (const char *) s.data;
}

static int
lsmb_iter_free(void *it)
{
	int			rc = check(lsm_dbiter_status(it), "iterator");

	lsm_dbiter_destroy(it);
	return rc;
}

const bench_engine bench_engine_impl = {
	.name = "lsm",
	.settings = "lsm core (lsm/db.h, file pager): memtable 64 MiB, bloom 10 bits/key, "
	"lz4, log on, no sync, single-threaded with inline flush and compaction; "
	"settle = run any compaction step still due",
	.open = lsmb_open,
	.put = lsmb_put,
	.get = lsmb_get,
	.finish_writes = lsmb_finish,
	.close = lsmb_close,
	.iter_new = lsmb_iter_new,
	.iter_seek = lsmb_iter_seek,
	.iter_valid = lsmb_iter_valid,
	.iter_next = lsmb_iter_next,
	.iter_key = lsmb_iter_key,
	.iter_value = lsmb_iter_value,
	.iter_free = lsmb_iter_free,
};
