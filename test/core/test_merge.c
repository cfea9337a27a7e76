/*
 * test_merge.c - the merging iterator against a sorted reference, and
 * lsm_dbiter against a reference model of snapshot reads.  Children are
 * test-local array-backed iterators, so nothing here needs runs on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "tap.h"

static int	scale_small;

static int
rnd_int(int n)
{
	return (int) (tap_rand() % (uint64_t) n);
}

/* ---------------------------------------------------------------------
 * An array-backed iterator
 * ---------------------------------------------------------------------
 */

typedef struct entry
{
	lsm_buf		ikey;
	lsm_buf		value;
	int			child;			/* which child it was given to */
} entry;

typedef struct array_iter
{
	lsm_iter	base;
	entry	   *e;				/* borrowed, sorted */
	int			n;
	int			pos;
	int			fail_at;		/* become invalid with CORRUPT here; -1 never */
	lsm_status	status;
} array_iter;

static bool
ai_valid(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	return a->status == LSM_OK && a->pos < a->n;
}

static void
ai_check_fail(array_iter *a)
{
	if (a->fail_at >= 0 && a->pos >= a->fail_at)
		a->status = LSM_CORRUPT;
}

static void
ai_seek_first(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	a->pos = 0;
	a->status = LSM_OK;
	ai_check_fail(a);
}

static void
ai_seek(lsm_iter *it, lsm_slice target)
{
	array_iter *a = (array_iter *) it;
	int			lo = 0,
				hi = a->n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (lsm_ikey_compare(lsm_buf_slice(&a->e[mid].ikey), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	a->pos = lo;
	a->status = LSM_OK;
	ai_check_fail(a);
}

static void
ai_next(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	a->pos++;
	ai_check_fail(a);
}

static void
ai_seek_last(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	a->pos = a->n > 0 ? a->n - 1 : a->n;
	a->status = LSM_OK;
	ai_check_fail(a);
}

static void
ai_prev(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	a->pos = a->pos > 0 ? a->pos - 1 : a->n;
	ai_check_fail(a);
}

static lsm_slice
ai_key(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	return lsm_buf_slice(&a->e[a->pos].ikey);
}

static lsm_slice
ai_value(lsm_iter *it)
{
	array_iter *a = (array_iter *) it;

	return lsm_buf_slice(&a->e[a->pos].value);
}

static lsm_status
ai_status(lsm_iter *it)
{
	return ((array_iter *) it)->status;
}

static void
ai_destroy(lsm_iter *it)
{
	free(it);
}

static const lsm_iter_ops ai_ops = {
	ai_valid, ai_seek_first, ai_seek, ai_next, ai_key, ai_value, ai_status,
	ai_destroy, ai_seek_last, ai_prev
};

static lsm_iter *
array_iter_new(entry *e, int n, int fail_at)
{
	array_iter *a = calloc(1, sizeof(*a));

	a->base.ops = &ai_ops;
	a->e = e;
	a->n = n;
	a->fail_at = fail_at;
	a->pos = n;
	return &a->base;
}

static void
entry_set(entry *e, lsm_slice uk, uint64_t seq, lsm_kind kind,
		  const char *value, int child)
{
	memset(e, 0, sizeof(*e));
	lsm_ikey_append(&e->ikey, uk, seq, kind);
	lsm_buf_set(&e->value, value, strlen(value));
	e->child = child;
}

static void
entries_free(entry *e, int n)
{
	for (int i = 0; i < n; i++)
	{
		lsm_buf_free(&e[i].ikey);
		lsm_buf_free(&e[i].value);
	}
	free(e);
}

/* Internal order, ties by child: what the merge must produce. */
static int
entry_cmp(const void *pa, const void *pb)
{
	const entry *a = pa;
	const entry *b = pb;
	int			c = lsm_ikey_compare(lsm_buf_slice(&a->ikey),
									 lsm_buf_slice(&b->ikey));

	if (c != 0)
		return c;
	return (a->child > b->child) - (a->child < b->child);
}

/* ---------------------------------------------------------------------
 * Children built from one pool of entries
 * ---------------------------------------------------------------------
 */

typedef struct children
{
	int			nchildren;
	entry	   *per[16];		/* each child's sorted entries */
	int			count[16];
} children;

static void
children_build(children *ch, entry *all, int n, int nchildren)
{
	ch->nchildren = nchildren;
	for (int c = 0; c < nchildren; c++)
	{
		ch->per[c] = calloc((size_t) n + 1, sizeof(entry));
		ch->count[c] = 0;
	}
	/* Shallow copies: the pool owns the buffers. */
	for (int i = 0; i < n; i++)
		ch->per[all[i].child][ch->count[all[i].child]++] = all[i];
	for (int c = 0; c < nchildren; c++)
		qsort(ch->per[c], (size_t) ch->count[c], sizeof(entry), entry_cmp);
}

static lsm_iter *
children_merge(children *ch, int failing_child, int fail_at)
{
	lsm_iter   *its[16];

	for (int c = 0; c < ch->nchildren; c++)
		its[c] = array_iter_new(ch->per[c], ch->count[c],
								c == failing_child ? fail_at : -1);
	return lsm_merge_iter_new(its, ch->nchildren);
}

static void
children_free(children *ch)
{
	for (int c = 0; c < ch->nchildren; c++)
		free(ch->per[c]);
}

static void
make_user_key(char *buf, size_t len, int k)
{
	snprintf(buf, len, "key%05d", k);
}

/* ---------------------------------------------------------------------
 * Merge iterator tests
 * ---------------------------------------------------------------------
 */

static bool
same_entry(lsm_iter *it, const entry *e)
{
	lsm_slice	k = lsm_iter_key(it);
	lsm_slice	v = lsm_iter_value(it);

	return lsm_slice_compare(k, lsm_buf_slice(&e->ikey)) == 0 &&
		lsm_slice_compare(v, lsm_buf_slice(&e->value)) == 0;
}

/*
 * A random walk both ways over m against all (n entries in merge order):
 * nexts and prevs that turn often, seeks and seeks-for-prev to entries'
 * keys (a key several children hold is found at its first occurrence by
 * both), seek_first and seek_last.
 * Entries are compared with their values, so the order of ties shows.
 */
static bool
walk_both_ways(lsm_iter *m, entry *all, int n, int steps)
{
	int			pos = -1;

	for (int s = 0; s < steps; s++)
	{
		int			op = rnd_int(8);
		int			j = n > 0 ? rnd_int(n) : 0;

		if (pos < 0 || pos >= n)
			op = 4 + rnd_int(4);
		switch (op)
		{
			case 0:
			case 1:
				lsm_iter_next(m);
				pos = pos + 1 < n ? pos + 1 : -1;
				break;
			case 2:
			case 3:
				lsm_iter_prev(m);
				pos--;
				break;
			case 4:
				if (n == 0)
					break;
				lsm_iter_seek(m, lsm_buf_slice(&all[j].ikey));
				while (j > 0 && lsm_ikey_compare(lsm_buf_slice(&all[j - 1].ikey),
												 lsm_buf_slice(&all[j].ikey)) == 0)
					j--;
				pos = j;
				break;
			case 5:
				if (n == 0)
					break;
				lsm_iter_seek_for_prev(m, lsm_buf_slice(&all[j].ikey));
				while (j > 0 && lsm_ikey_compare(lsm_buf_slice(&all[j - 1].ikey),
												 lsm_buf_slice(&all[j].ikey)) == 0)
					j--;
				pos = j;
				break;
			case 6:
				lsm_iter_seek_first(m);
				pos = n > 0 ? 0 : -1;
				break;
			default:
				lsm_iter_seek_last(m);
				pos = n - 1;
				break;
		}
		if (pos < 0 || pos >= n)
		{
			if (lsm_iter_valid(m) || lsm_iter_status(m) != LSM_OK)
				return false;
		}
		else if (!lsm_iter_valid(m) || !same_entry(m, &all[pos]))
			return false;
	}
	return true;
}

/*
 * One random round: entries with random user keys and sequence numbers,
 * some internal keys deliberately repeated across children (the value names
 * the child so the tie order is visible).
 */
static bool
merge_round(int nchildren, int n, int nseeks)
{
	entry	   *all = calloc((size_t) n + 1, sizeof(entry));
	children	ch;
	lsm_iter   *m;
	bool		good = true;
	int			i;

	for (i = 0; i < n; i++)
	{
		char		uk[32];
		char		val[32];
		int			child = rnd_int(nchildren);

		/* Children 0 and 1 are sometimes left empty. */
		if (nchildren > 2 && child < 2 && rnd_int(4) != 0)
			child = 2 + rnd_int(nchildren - 2);
		snprintf(val, sizeof(val), "v%d-c%d", i, child);
		if (i > 0 && rnd_int(10) == 0)
		{
			/* Same internal key as an earlier entry, in another child. */
			int			j = rnd_int(i);

			memset(&all[i], 0, sizeof(entry));
			lsm_buf_set(&all[i].ikey, all[j].ikey.data, all[j].ikey.len);
			lsm_buf_set(&all[i].value, val, strlen(val));
			all[i].child = (all[j].child + 1) % nchildren;
			/* Keep each child's keys unique. */
			if (all[i].child == all[j].child)
			{
				lsm_buf_free(&all[i].ikey);
				lsm_buf_free(&all[i].value);
				make_user_key(uk, sizeof(uk), rnd_int(n));
				entry_set(&all[i], lsm_slice_make(uk, strlen(uk)),
						  1000000 + (uint64_t) i, LSM_KIND_VALUE, val, child);
			}
			continue;
		}
		make_user_key(uk, sizeof(uk), rnd_int(n / 3 + 1));
		entry_set(&all[i], lsm_slice_make(uk, strlen(uk)),
				  (uint64_t) i + 1, (lsm_kind) rnd_int(4), val, child);
	}
	/* A duplicate chain may still collide within a child: drop those. */
	qsort(all, (size_t) n, sizeof(entry), entry_cmp);
	for (i = 1; i < n; i++)
	{
		if (entry_cmp(&all[i - 1], &all[i]) == 0)
		{
			lsm_buf_free(&all[i].ikey);
			lsm_buf_free(&all[i].value);
			memmove(&all[i], &all[i + 1], (size_t) (n - i - 1) * sizeof(entry));
			n--;
			i--;
		}
	}

	children_build(&ch, all, n, nchildren);
	m = children_merge(&ch, -1, -1);

	lsm_iter_seek_first(m);
	for (i = 0; i < n && lsm_iter_valid(m); i++, lsm_iter_next(m))
		if (!same_entry(m, &all[i]))
			good = false;
	if (i != n || lsm_iter_valid(m) || lsm_iter_status(m) != LSM_OK)
		good = false;

	for (int s = 0; s < nseeks && good; s++)
	{
		entry		probe;
		char		uk[32];
		int			lo;

		make_user_key(uk, sizeof(uk), rnd_int(n / 3 + 2));
		entry_set(&probe, lsm_slice_make(uk, strlen(uk)),
				  (uint64_t) rnd_int(n + 2), (lsm_kind) rnd_int(4), "", -1);
		for (lo = 0; lo < n; lo++)
			if (lsm_ikey_compare(lsm_buf_slice(&all[lo].ikey),
								 lsm_buf_slice(&probe.ikey)) >= 0)
				break;
		lsm_iter_seek(m, lsm_buf_slice(&probe.ikey));
		for (i = lo; i < n && i < lo + 5; i++, lsm_iter_next(m))
			if (!lsm_iter_valid(m) || !same_entry(m, &all[i]))
				good = false;
		if (i == n && lsm_iter_valid(m))
			good = false;
		lsm_buf_free(&probe.ikey);
		lsm_buf_free(&probe.value);
	}

	/* The same stream backward, then both ways at random. */
	lsm_iter_seek_last(m);
	for (i = n - 1; i >= 0 && lsm_iter_valid(m); i--, lsm_iter_prev(m))
		if (!same_entry(m, &all[i]))
			good = false;
	if (i != -1 || lsm_iter_valid(m) || lsm_iter_status(m) != LSM_OK)
		good = false;
	if (good && !walk_both_ways(m, all, n, 40 * nseeks))
		good = false;

	lsm_iter_destroy(m);
	children_free(&ch);
	entries_free(all, n);
	return good;
}

static void
test_merge_random(void)
{
	int			rounds = scale_small ? 40 : 300;
	int			failed = 0;

	for (int r = 0; r < rounds; r++)
	{
		int			nchildren = 1 + rnd_int(8);
		int			n = rnd_int(scale_small ? 200 : 800);

		if (!merge_round(nchildren, n, 20))
		{
			failed++;
			diag("round %d (%d children, %d entries) differs", r, nchildren, n);
		}
	}
	is_int(failed, 0, "%d random merges (1-8 children) match the sorted reference, "
		   "including seeks, backward and random walks both ways", rounds);
}

static void
test_merge_edge(void)
{
	lsm_iter   *m = lsm_merge_iter_new(NULL, 0);
	entry	   *e = calloc(4, sizeof(entry));
	lsm_iter   *one;
	lsm_iter   *kids[3];
	int			n = 0;

	ok(m != NULL, "a merge of no children can be made");
	lsm_iter_seek_first(m);
	ok(!lsm_iter_valid(m) && lsm_iter_status(m) == LSM_OK,
	   "and is empty without error");
	lsm_iter_destroy(m);

	entry_set(&e[0], lsm_slice_make("a", 1), 5, LSM_KIND_VALUE, "a5", 0);
	entry_set(&e[1], lsm_slice_make("a", 1), 3, LSM_KIND_VALUE, "a3", 0);
	entry_set(&e[2], lsm_slice_make("b", 1), 4, LSM_KIND_VALUE, "b4", 0);
	kids[0] = array_iter_new(e, 3, -1);
	one = lsm_merge_iter_new(kids, 1);
	for (lsm_iter_seek_first(one); lsm_iter_valid(one); lsm_iter_next(one))
		n++;
	is_int(n, 3, "a merge of one child yields that child");
	lsm_iter_destroy(one);

	/* A child failing midway stops the stream with its status. */
	kids[0] = array_iter_new(e, 3, 1);
	kids[1] = array_iter_new(e, 0, -1);
	kids[2] = array_iter_new(e + 2, 1, -1);
	m = lsm_merge_iter_new(kids, 3);
	n = 0;
	for (lsm_iter_seek_first(m); lsm_iter_valid(m); lsm_iter_next(m))
		n++;
	is_int(lsm_iter_status(m), LSM_CORRUPT, "a child's error reaches status()");
	is_int(n, 1, "and the stream stops instead of skipping the bad child");

	/* An error already present at seek time. */
	lsm_iter_seek(m, lsm_buf_slice(&e[2].ikey));
	ok(!lsm_iter_valid(m) && lsm_iter_status(m) == LSM_CORRUPT,
	   "an error on seek makes the merge invalid with that status");
	lsm_iter_destroy(m);
	entries_free(e, 3);
}

/* ---------------------------------------------------------------------
 * dbiter: reference model
 * ---------------------------------------------------------------------
 */

typedef struct version
{
	int			key;			/* user key number */
	uint64_t	seq;
	lsm_kind	kind;
	int			valno;
} version;

/* What a reader at snap sees for key k: the value number, or -1. */
static int
model_get(const version *v, int n, int k, uint64_t snap)
{
	uint64_t	best_seq = 0;
	int			best = -1;
	bool		found = false;

	for (int i = 0; i < n; i++)
	{
		if (v[i].key != k || v[i].seq > snap || v[i].kind >= LSM_KIND_DELTA_FIRST)
			continue;
		if (!found || v[i].seq > best_seq)
		{
			found = true;
			best_seq = v[i].seq;
			best = v[i].kind == LSM_KIND_VALUE ? v[i].valno : -1;
		}
	}
	return best;
}

typedef struct db_case
{
	version    *v;
	int			n;
	int			nkeys;
	entry	   *all;
	children	ch;
} db_case;

static void
db_case_build(db_case *dc, int nkeys, int n, int nchildren)
{
	dc->v = calloc((size_t) n + 1, sizeof(version));
	dc->all = calloc((size_t) n + 1, sizeof(entry));
	dc->n = n;
	dc->nkeys = nkeys;
	for (int i = 0; i < n; i++)
	{
		char		uk[32];
		char		val[32];
		int			r = rnd_int(10);

		dc->v[i].key = rnd_int(nkeys);
		/* Keys 0..2 get long version chains (exercise the skip seek). */
		if (i % 5 == 0)
			dc->v[i].key = rnd_int(3);
		dc->v[i].seq = (uint64_t) i + 1;
		dc->v[i].kind = r < 6 ? LSM_KIND_VALUE :
			r < 8 ? LSM_KIND_TOMBSTONE :
			r < 9 ? LSM_KIND_XMAX : LSM_KIND_LOCK;
		dc->v[i].valno = i;
		make_user_key(uk, sizeof(uk), dc->v[i].key);
		snprintf(val, sizeof(val), "val%d", i);
		entry_set(&dc->all[i], lsm_slice_make(uk, strlen(uk)), dc->v[i].seq,
				  dc->v[i].kind, val, rnd_int(nchildren));
	}
	children_build(&dc->ch, dc->all, n, nchildren);
}

static void
db_case_free(db_case *dc)
{
	children_free(&dc->ch);
	entries_free(dc->all, dc->n);
	free(dc->v);
}

/* Expected visible keys in [lo, hi] (key numbers), from the model. */
static bool
check_scan(db_case *dc, uint64_t snap, int lo, int hi, bool upper_incl,
		   bool use_lower, bool use_upper, int seek_to)
{
	char		lower[32],
				upper[32],
				seek[32];
	lsm_range	range = {0};
	lsm_dbiter *it;
	bool		good = true;
	int			k;
	int			start;
	int			end;

	make_user_key(lower, sizeof(lower), lo);
	make_user_key(upper, sizeof(upper), hi);
	range.has_lower = use_lower;
	range.lower = lsm_slice_make(lower, strlen(lower));
	range.has_upper = use_upper;
	range.upper = lsm_slice_make(upper, strlen(upper));
	range.upper_inclusive = upper_incl;
	it = lsm_dbiter_new(children_merge(&dc->ch, -1, -1), snap, &range);

	start = use_lower ? lo : 0;
	if (seek_to >= 0)
	{
		lsm_slice	s;

		make_user_key(seek, sizeof(seek), seek_to);
		s = lsm_slice_make(seek, strlen(seek));
		lsm_dbiter_seek(it, &s);
		if (seek_to > start)
			start = seek_to;
	}
	else
		lsm_dbiter_seek(it, NULL);
	end = !use_upper ? dc->nkeys : upper_incl ? hi + 1 : hi;

	for (k = start; k < end; k++)
	{
		int			want = model_get(dc->v, dc->n, k, snap);
		char		uk[32];
		char		val[32];

		if (want < 0)
			continue;
		make_user_key(uk, sizeof(uk), k);
		snprintf(val, sizeof(val), "val%d", want);
		if (!lsm_dbiter_valid(it) ||
			lsm_slice_compare(lsm_dbiter_key(it), lsm_slice_make(uk, strlen(uk))) != 0 ||
			lsm_slice_compare(lsm_dbiter_value(it), lsm_slice_make(val, strlen(val))) != 0)
		{
			good = false;
			break;
		}
		lsm_dbiter_next(it);
	}
	if (good && (lsm_dbiter_valid(it) || lsm_dbiter_status(it) != LSM_OK))
		good = false;
	lsm_dbiter_destroy(it);
	return good;
}

static void
test_dbiter_random(void)
{
	int			rounds = scale_small ? 10 : 60;
	int			failed = 0;
	int			scans = 0;

	for (int r = 0; r < rounds; r++)
	{
		db_case		dc;
		int			nkeys = 5 + rnd_int(60);
		int			n = 20 + rnd_int(scale_small ? 200 : 600);

		db_case_build(&dc, nkeys, n, 1 + rnd_int(6));
		for (int s = 0; s < 20; s++)
		{
			uint64_t	snap = (uint64_t) rnd_int(n + 5);
			int			lo = rnd_int(nkeys);
			int			hi = lo + rnd_int(nkeys - lo + 1);
			int			seek_to = rnd_int(3) == 0 ? rnd_int(nkeys + 1) : -1;

			scans++;
			if (!check_scan(&dc, snap, lo, hi, rnd_int(2), rnd_int(3) != 0,
							rnd_int(3) != 0, seek_to))
			{
				failed++;
				diag("round %d scan %d differs (snap %llu, [%d, %d])", r, s,
					 (unsigned long long) snap, lo, hi);
			}
		}
		db_case_free(&dc);
	}
	is_int(failed, 0, "%d random dbiter scans (snapshots, bounds, seeks, "
		   "tombstones, deltas) match the model", scans);
}

/* Hand-written cases whose expected output is stated, not computed. */
static void
test_dbiter_cases(void)
{
	entry	   *e = calloc(16, sizeof(entry));
	lsm_iter   *kids[2];
	lsm_dbiter *it;
	lsm_range	range = {0};
	char		got[256];
	int			n = 0;

	/* child 0: newer data; child 1: older */
	entry_set(&e[n++], lsm_slice_make("apple", 5), 10, LSM_KIND_TOMBSTONE, "", 0);
	entry_set(&e[n++], lsm_slice_make("banana", 6), 12, LSM_KIND_XMAX, "x", 0);
	entry_set(&e[n++], lsm_slice_make("cherry", 6), 11, LSM_KIND_VALUE, "c11", 0);
	entry_set(&e[n++], lsm_slice_make("apple", 5), 2, LSM_KIND_VALUE, "a2", 1);
	entry_set(&e[n++], lsm_slice_make("banana", 6), 3, LSM_KIND_VALUE, "b3", 1);
	entry_set(&e[n++], lsm_slice_make("cherry", 6), 4, LSM_KIND_VALUE, "c4", 1);
	entry_set(&e[n++], lsm_slice_make("date", 4), 5, LSM_KIND_LOCK, "l", 1);

#define SCAN(snap, rangep, seekp) \
	do { \
		got[0] = '\0'; \
		kids[0] = array_iter_new(e, 3, -1); \
		kids[1] = array_iter_new(e + 3, 4, -1); \
		it = lsm_dbiter_new(lsm_merge_iter_new(kids, 2), (snap), (rangep)); \
		for (lsm_dbiter_seek(it, (seekp)); lsm_dbiter_valid(it); lsm_dbiter_next(it)) \
		{ \
			strncat(got, (const char *) lsm_dbiter_key(it).data, lsm_dbiter_key(it).len); \
			strcat(got, "="); \
			strncat(got, (const char *) lsm_dbiter_value(it).data, lsm_dbiter_value(it).len); \
			strcat(got, " "); \
		} \
		lsm_dbiter_destroy(it); \
	} while (0)

	SCAN(100, NULL, NULL);
	ok(strcmp(got, "banana=b3 cherry=c11 ") == 0,
	   "latest: tombstone hides apple, xmax delta skipped, lock-only key absent (%s)", got);
	SCAN(9, NULL, NULL);
	ok(strcmp(got, "apple=a2 banana=b3 cherry=c4 ") == 0,
	   "snapshot 9 sees the old versions (%s)", got);
	SCAN(2, NULL, NULL);
	ok(strcmp(got, "apple=a2 ") == 0, "snapshot 2 sees only apple (%s)", got);
	SCAN(0, NULL, NULL);
	ok(strcmp(got, "") == 0, "snapshot 0 sees nothing");

	range.has_lower = true;
	range.lower = lsm_slice_make("b", 1);
	range.has_upper = true;
	range.upper = lsm_slice_make("cherry", 6);
	range.upper_inclusive = false;
	SCAN(100, &range, NULL);
	ok(strcmp(got, "banana=b3 ") == 0, "[b, cherry) excludes cherry (%s)", got);
	range.upper_inclusive = true;
	SCAN(100, &range, NULL);
	ok(strcmp(got, "banana=b3 cherry=c11 ") == 0, "[b, cherry] includes it (%s)", got);
	{
		lsm_slice	s = lsm_slice_make("banana\x01", 7);

		SCAN(100, &range, &s);
		ok(strcmp(got, "cherry=c11 ") == 0, "seek past banana lands on cherry (%s)", got);
		s = lsm_slice_make("a", 1);
		SCAN(100, &range, &s);
		ok(strcmp(got, "banana=b3 cherry=c11 ") == 0,
		   "a seek below the lower bound starts at the bound (%s)", got);
	}
	range.has_lower = false;
	range.upper = lsm_slice_make("banana", 6);
	range.upper_inclusive = false;
	SCAN(9, &range, NULL);
	ok(strcmp(got, "apple=a2 ") == 0, "upper bound only (%s)", got);
#undef SCAN

	/* Corrupt internal key (shorter than a trailer) is reported. */
	{
		entry	   *bad = calloc(1, sizeof(entry));

		lsm_buf_set(&bad[0].ikey, "abc", 3);
		lsm_buf_set(&bad[0].value, "v", 1);
		kids[0] = array_iter_new(bad, 1, -1);
		it = lsm_dbiter_new(lsm_merge_iter_new(kids, 1), 100, NULL);
		/* The array iterator's seek_first does not compare keys. */
		lsm_dbiter_seek(it, NULL);
		ok(!lsm_dbiter_valid(it) && lsm_dbiter_status(it) == LSM_CORRUPT,
		   "an unparsable internal key makes the dbiter CORRUPT");
		lsm_dbiter_destroy(it);
		entries_free(bad, 1);
	}
	entries_free(e, n);
}

/* A key with hundreds of versions is skipped correctly (seek path). */
static void
test_dbiter_long_chain(void)
{
	int			n = 500;
	entry	   *e = calloc((size_t) n + 2, sizeof(entry));
	lsm_iter   *kids[1];
	lsm_dbiter *it;
	int			count = 0;
	bool		right = true;

	for (int i = 0; i < n; i++)
	{
		char		val[16];

		snprintf(val, sizeof(val), "m%d", i);
		entry_set(&e[i], lsm_slice_make("m", 1), (uint64_t) (n - i),
				  i % 2 ? LSM_KIND_VALUE : LSM_KIND_XMAX, val, 0);
	}
	/* seq 0 tombstone: the exact key skip_user_key seeks to */
	entry_set(&e[n], lsm_slice_make("m", 1), 0, LSM_KIND_TOMBSTONE, "", 0);
	entry_set(&e[n + 1], lsm_slice_make("n", 1), 1, LSM_KIND_VALUE, "n1", 0);
	kids[0] = array_iter_new(e, n + 2, -1);
	it = lsm_dbiter_new(lsm_merge_iter_new(kids, 1), 1000, NULL);
	for (lsm_dbiter_seek(it, NULL); lsm_dbiter_valid(it); lsm_dbiter_next(it))
	{
		const char *want = count == 0 ? "m1" : "n1";

		if (lsm_slice_compare(lsm_dbiter_value(it), lsm_slice_make(want, 2)) != 0)
			right = false;
		count++;
	}
	is_int(count, 2, "a key with %d versions yields once, then the next key", n + 1);
	ok(right, "with the newest value (the delta on top is skipped)");
	lsm_dbiter_destroy(it);
	entries_free(e, n + 2);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");

	scale_small = scale && strcmp(scale, "small") == 0;
	test_merge_edge();
	test_merge_random();
	test_dbiter_cases();
	test_dbiter_long_chain();
	test_dbiter_random();
	return done_testing();
}
