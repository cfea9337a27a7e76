/*
 * test_random.c - the whole core against a reference model.
 *
 * Millions of random puts, deletes, gets and range scans go to an lsm_db
 * with a small memtable, so flushes and compactions happen all the time, and
 * to a plain array indexed by key rank.  Every answer is compared.  Now and
 * then the store is flushed, fully compacted, closed and reopened (replaying
 * its log), and verified; iterators are held across writes to check that
 * they keep their snapshot.
 *
 * LSM_TEST_OPS overrides the operation count; LSM_TEST_SCALE=small runs a
 * short version (for valgrind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "tap.h"

#define NKEYS 20000
#define MAX_VALUE 300

typedef struct model
{
	char	   *keys[NKEYS];	/* sorted by memcmp */
	size_t		klen[NKEYS];
	uint8_t    *val[NKEYS];		/* NULL: absent */
	size_t		vlen[NKEYS];
} model;

static uint64_t rng = 0x9e3779b97f4a7c15;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
cmp_keys(const void *a, const void *b)
{
	const char *x = *(char *const *) a;
	const char *y = *(char *const *) b;

	return lsm_slice_compare(lsm_slice_make(x, strlen(x)), lsm_slice_make(y, strlen(y)));
}

/* Keys of varying length, many sharing prefixes, some prefixes of others. */
static void
model_init(model *m)
{
	for (int i = 0; i < NKEYS; i++)
	{
		char		buf[64];
		int			n = snprintf(buf, sizeof(buf), "user%0*d", (int) (rnd() % 3) * 2 + 1,
								 (int) (rnd() % (NKEYS * 4)));

		if (rnd() % 5 == 0)
			n += snprintf(buf + n, sizeof(buf) - n, "/%llx", (unsigned long long) (rnd() % 4096));
		m->keys[i] = strdup(buf);
	}
	qsort(m->keys, NKEYS, sizeof(char *), cmp_keys);
	/* make duplicates unique with a suffix (runs of equal keys are adjacent) */
	for (int i = 1, first = 0; i < NKEYS; i++)
	{
		char		buf[80];

		if (strcmp(m->keys[i], m->keys[first]) != 0)
		{
			first = i;
			continue;
		}
		snprintf(buf, sizeof(buf), "%s~%d", m->keys[i], i);
		free(m->keys[i]);
		m->keys[i] = strdup(buf);
	}
	qsort(m->keys, NKEYS, sizeof(char *), cmp_keys);
	for (int i = 0; i < NKEYS; i++)
	{
		m->klen[i] = strlen(m->keys[i]);
		m->val[i] = NULL;
	}
}

static lsm_slice
key_of(model *m, int i)
{
	return lsm_slice_make(m->keys[i], m->klen[i]);
}

static int	mismatches;
static uint64_t total_flushes;
static uint64_t total_compactions;

static void
mismatch(const char *what, int k, unsigned long op)
{
	if (mismatches++ < 10)
		diag("mismatch in %s for key %d at op %lu", what, k, op);
}

static void
do_put(lsm_db *db, model *m, int k)
{
	size_t		len = rnd() % MAX_VALUE;
	uint8_t    *v = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t) (rnd() % 16 + 'a');
	if (lsm_db_put(db, key_of(m, k), lsm_slice_make(v, len)) != LSM_OK)
		mismatch("put status", k, 0);
	free(m->val[k]);
	m->val[k] = v;
	m->vlen[k] = len;
}

static void
do_delete(lsm_db *db, model *m, int k)
{
	if (lsm_db_delete(db, key_of(m, k)) != LSM_OK)
		mismatch("delete status", k, 0);
	free(m->val[k]);
	m->val[k] = NULL;
}

static void
do_get(lsm_db *db, model *m, int k, unsigned long op)
{
	lsm_buf		v = {0};
	lsm_status	st = lsm_db_get(db, key_of(m, k), &v);

	if (m->val[k] == NULL)
	{
		if (st != LSM_NOT_FOUND)
			mismatch("get of absent key", k, op);
	}
	else if (st != LSM_OK || v.len != m->vlen[k] ||
			 (v.len && memcmp(v.data, m->val[k], v.len) != 0))
		mismatch("get", k, op);
	lsm_buf_free(&v);
}

/* A random range of ranks [lo, hi) or [lo, hi] (up to 400 keys). */
static lsm_range
random_range(model *m, int *lo, int *hi)
{
	lsm_range	r = {0};

	*lo = (int) (rnd() % NKEYS);
	*hi = *lo + (int) (rnd() % 400);
	r.upper_inclusive = rnd() % 2;
	if (*hi >= NKEYS)
		*hi = NKEYS - 1;
	r.has_lower = true;
	r.lower = key_of(m, *lo);
	r.has_upper = true;
	r.upper = key_of(m, *hi);
	return r;
}

/* Scans [lo, hi) or [lo, hi] by rank, up to limit rows, against the model. */
static void
do_scan(lsm_db *db, model *m, unsigned long op)
{
	int			lo,
				hi;
	lsm_range	r = random_range(m, &lo, &hi);
	bool		incl = r.upper_inclusive;
	lsm_dbiter *it;
	int			k = lo;

	if (lsm_db_iter(db, &r, &it) != LSM_OK)
	{
		mismatch("scan open", lo, op);
		return;
	}
	for (;; lsm_dbiter_next(it))
	{
		while (k < hi + (incl ? 1 : 0) && m->val[k] == NULL)
			k++;
		if (k >= hi + (incl ? 1 : 0))
			break;
		if (!lsm_dbiter_valid(it))
		{
			mismatch("scan ended early", k, op);
			break;
		}
		if (lsm_slice_compare(lsm_dbiter_key(it), key_of(m, k)) != 0 ||
			lsm_dbiter_value(it).len != m->vlen[k] ||
			(m->vlen[k] && memcmp(lsm_dbiter_value(it).data, m->val[k], m->vlen[k]) != 0))
		{
			mismatch("scan row", k, op);
			break;
		}
		k++;
	}
	if (k >= hi + (incl ? 1 : 0) && lsm_dbiter_valid(it))
		mismatch("scan went past its bound", k, op);
	if (lsm_dbiter_status(it) != LSM_OK)
		mismatch("scan status", k, op);
	lsm_dbiter_destroy(it);
}

/* Does the iterator stand on model key k with its value? */
static bool
at_model_key(lsm_dbiter *it, model *m, int k)
{
	return lsm_dbiter_valid(it) &&
		lsm_slice_compare(lsm_dbiter_key(it), key_of(m, k)) == 0 &&
		lsm_dbiter_value(it).len == m->vlen[k] &&
		(m->vlen[k] == 0 || memcmp(lsm_dbiter_value(it).data, m->val[k], m->vlen[k]) == 0);
}

/* The same range as do_scan, read backward from its end. */
static void
do_scan_back(lsm_db *db, model *m, unsigned long op)
{
	int			lo,
				hi;
	lsm_range	r = random_range(m, &lo, &hi);
	bool		incl = r.upper_inclusive;
	lsm_dbiter *it;
	int			k;

	if (lsm_db_iter(db, &r, &it) != LSM_OK)
	{
		mismatch("backward scan open", lo, op);
		return;
	}
	k = incl ? hi : hi - 1;
	for (lsm_dbiter_seek_for_prev(it, NULL);; lsm_dbiter_prev(it))
	{
		while (k >= lo && m->val[k] == NULL)
			k--;
		if (k < lo)
			break;
		if (!at_model_key(it, m, k))
		{
			mismatch("backward scan row", k, op);
			break;
		}
		k--;
	}
	if (k < lo && lsm_dbiter_valid(it))
		mismatch("backward scan went past its bound", k, op);
	if (lsm_dbiter_status(it) != LSM_OK)
		mismatch("backward scan status", k, op);
	lsm_dbiter_destroy(it);
}

/*
 * A walk over the whole key space that turns often: nexts and prevs, and
 * seeks and seeks-for-prev to model keys, live or deleted.
 */
static void
do_walk(lsm_db *db, model *m, unsigned long op)
{
	lsm_dbiter *it;
	int			k = -1;			/* model position; -1: not valid */

	if (lsm_db_iter(db, NULL, &it) != LSM_OK)
	{
		mismatch("walk open", 0, op);
		return;
	}
	for (int step = 0; step < 60; step++)
	{
		int			t = (int) (rnd() % NKEYS);
		unsigned	what = (unsigned) (rnd() % 6);
		lsm_slice	key = key_of(m, t);

		if (k < 0)
			what = 4 + what % 2;
		switch (what)
		{
			case 0:
			case 1:
				lsm_dbiter_next(it);
				for (k++; k < NKEYS && m->val[k] == NULL; k++)
					;
				if (k >= NKEYS)
					k = -1;
				break;
			case 2:
			case 3:
				lsm_dbiter_prev(it);
				for (k--; k >= 0 && m->val[k] == NULL; k--)
					;
				break;
			case 4:
				lsm_dbiter_seek(it, &key);
				for (k = t; k < NKEYS && m->val[k] == NULL; k++)
					;
				if (k >= NKEYS)
					k = -1;
				break;
			default:
				lsm_dbiter_seek_for_prev(it, &key);
				for (k = t; k >= 0 && m->val[k] == NULL; k--)
					;
				break;
		}
		if (k < 0 ? lsm_dbiter_valid(it) : !at_model_key(it, m, k))
		{
			mismatch("walk both ways", k, op);
			break;
		}
	}
	if (lsm_dbiter_status(it) != LSM_OK)
		mismatch("walk status", k, op);
	lsm_dbiter_destroy(it);
}

/* Copies the model's live keys, so an iterator's snapshot can be checked later. */
static int *
live_ranks(model *m, int *n)
{
	int		   *r = malloc(sizeof(int) * NKEYS);

	*n = 0;
	for (int i = 0; i < NKEYS; i++)
		if (m->val[i])
			r[(*n)++] = i;
	return r;
}

/* An iterator opened before a burst of writes sees none of them. */
static void
check_snapshot(lsm_db *db, model *m, unsigned long op)
{
	int			n,
				seen = 0;
	int		   *ranks = live_ranks(m, &n);
	lsm_dbiter *it;

	if (lsm_db_iter(db, NULL, &it) != LSM_OK)
	{
		mismatch("snapshot open", 0, op);
		free(ranks);
		return;
	}
	for (int i = 0; i < 3000; i++)
	{
		int			k = (int) (rnd() % NKEYS);

		if (rnd() % 3)
			do_put(db, m, k);
		else
			do_delete(db, m, k);
	}
	lsm_db_flush(db);
	for (; lsm_dbiter_valid(it); lsm_dbiter_next(it), seen++)
		if (seen >= n || lsm_slice_compare(lsm_dbiter_key(it), key_of(m, ranks[seen])) != 0)
		{
			mismatch("snapshot iterator", seen, op);
			break;
		}
	if (seen != n || lsm_dbiter_status(it) != LSM_OK)
		mismatch("snapshot iterator count", seen, op);
	/* and backward, still at its snapshot */
	for (lsm_dbiter_seek_for_prev(it, NULL); lsm_dbiter_valid(it); lsm_dbiter_prev(it))
		if (--seen < 0 || lsm_slice_compare(lsm_dbiter_key(it), key_of(m, ranks[seen])) != 0)
		{
			mismatch("snapshot iterator backward", seen, op);
			break;
		}
	if (seen != 0 || lsm_dbiter_status(it) != LSM_OK)
		mismatch("snapshot iterator backward count", seen, op);
	lsm_dbiter_destroy(it);
	free(ranks);
}

static lsm_db *
reopen(lsm_db *db, const char *path, const lsm_db_options *o)
{
	lsm_db	   *fresh = NULL;
	lsm_status	st;

	if (db)
	{
		total_flushes += lsm_db_get_stats(db).flushes;
		total_compactions += lsm_db_get_stats(db).compactions;
		lsm_db_close(db);
	}
	if ((st = lsm_db_open(path, o, &fresh)) != LSM_OK)
	{
		ok(0, "reopen %s: %s", path, lsm_status_str(st));
		exit(done_testing());
	}
	return fresh;
}

static void
verify(lsm_db *db, const char *when)
{
	char		msg[256] = "";
	lsm_status	st = lsm_db_verify(db, msg, sizeof(msg));

	if (st != LSM_OK)
		ok(0, "verify %s: %s (%s)", when, lsm_status_str(st), msg);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");
	const char *ops_env = getenv("LSM_TEST_OPS");
	unsigned long nops = scale && strcmp(scale, "small") == 0 ? 60000 : 2000000;
	char		path[] = "/tmp/lsm_random_XXXXXX";
	int			fd = mkstemp(path);
	lsm_db_options o;
	lsm_db	   *db;
	model	   *m = calloc(1, sizeof(model));
	unsigned long counts[5] = {0};
	int			reopens = 0;

	if (ops_env)
		nops = strtoul(ops_env, NULL, 10);
	close(fd);
	unlink(path);
	model_init(m);
	lsm_db_options_default(&o);
	o.memtable_size = 256 << 10;	/* small: many flushes */
	o.compaction.level1_bytes = 1 << 20;
	o.compaction.target_run_bytes = 128 << 10;
	o.compaction.l0_trigger = 3;
	db = reopen(NULL, path, &o);

	for (unsigned long op = 0; op < nops; op++)
	{
		int			k = (int) (rnd() % NKEYS);
		unsigned	r = (unsigned) (rnd() % 1000);

		if (r < 400)
			do_put(db, m, k), counts[0]++;
		else if (r < 550)
			do_delete(db, m, k), counts[1]++;
		else if (r < 980)
			do_get(db, m, k, op), counts[2]++;
		else if (r < 992)
			do_scan(db, m, op), counts[3]++;
		else if (r < 996)
			do_scan_back(db, m, op), counts[3]++;
		else if (r < 998)
			do_walk(db, m, op), counts[3]++;
		else
		{
			switch (rnd() % 100)
			{
				case 0:
					db = reopen(db, path, &o);
					verify(db, "after reopen");
					reopens++;
					break;
				case 1:
					check_snapshot(db, m, op);
					break;
				case 2:
					if (lsm_db_compact_all(db) != LSM_OK)
						mismatch("compact_all", 0, op);
					verify(db, "after full compaction");
					break;
				default:
					if (lsm_db_flush(db) != LSM_OK)
						mismatch("flush", 0, op);
			}
			counts[4]++;
		}
	}
	/* a last full pass over every key and one full scan */
	for (int k = 0; k < NKEYS; k++)
		do_get(db, m, k, nops);
	verify(db, "at the end");
	db = reopen(db, path, &o);
	for (int k = 0; k < NKEYS; k++)
		do_get(db, m, k, nops);
	verify(db, "after the last reopen");

	diag("%lu ops: %lu puts, %lu deletes, %lu gets, %lu scans (forward, backward, "
		 "both ways), %lu maintenance, %d reopens; "
		 "%llu flushes, %llu compactions",
		 nops, counts[0], counts[1], counts[2], counts[3], counts[4], reopens,
		 (unsigned long long) (total_flushes + lsm_db_get_stats(db).flushes),
		 (unsigned long long) (total_compactions + lsm_db_get_stats(db).compactions));
	ok(mismatches == 0, "%lu random operations agree with the reference model (%d mismatches)",
	   nops, mismatches);
	ok(total_flushes + lsm_db_get_stats(db).flushes > 0 &&
	   total_compactions + lsm_db_get_stats(db).compactions > 0,
	   "flushes and compactions happened");
	lsm_db_close(db);
	unlink(path);
	for (int i = 0; i < NKEYS; i++)
	{
		free(m->keys[i]);
		free(m->val[i]);
	}
	free(m);
	return done_testing();
}
