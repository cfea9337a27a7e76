/*
 * test_memtable.c - the shared-memory skip list: versions and snapshots,
 * order against a sorted reference, seek, LSM_FULL, relocation of the
 * region, insertion patterns that the writer's fingers serve (ascending
 * runs interleaved with other inserts, sorted batches), and one writer
 * racing two lock-free readers.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ikey.h"
#include "memtable.h"
#include "tap.h"
#include "iter_check.h"

static bool small_scale;

static uint64_t
rnd(uint64_t *s)
{
	uint64_t	x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

static void *
region_alloc(size_t size)
{
	void	   *p = NULL;

	if (posix_memalign(&p, 64, size) != 0)
		abort();
	return p;
}

static bool
slice_eq(lsm_slice s, const void *p, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.data, p, n) == 0);
}

#define S(str) lsm_slice_make(str, sizeof(str) - 1)

static void
test_versions(void)
{
	void	   *region = region_alloc(LSM_MEMTABLE_MIN_SIZE * 4);
	lsm_memtable *mt;
	uint64_t	seq;
	lsm_kind	kind;
	lsm_slice	v;
	int			bad = 0;

	is_int(lsm_memtable_init(region, LSM_MEMTABLE_MIN_SIZE - 1), LSM_INVALID,
		   "init rejects a region below the minimum size");
	is_int(lsm_memtable_init((char *) region + 1, LSM_MEMTABLE_MIN_SIZE), LSM_INVALID,
		   "init rejects a misaligned region");
	is_int(lsm_memtable_init(region, LSM_MEMTABLE_MIN_SIZE * 4), LSM_OK, "init");
	mt = lsm_memtable_at(region);
	is_int(lsm_memtable_count(mt), 0, "empty memtable has no entries");
	is_int(lsm_memtable_size(mt), LSM_MEMTABLE_MIN_SIZE * 4, "size reported");
	ok(lsm_memtable_bytes_used(mt) > 0 &&
	   lsm_memtable_bytes_used(mt) < 256, "header and head node are small");
	is_int(lsm_memtable_get(mt, S("a"), 100, &seq, &kind, &v), LSM_NOT_FOUND,
		   "get on an empty memtable");

	is_int(lsm_memtable_add(mt, S("a"), 1, LSM_KIND_VALUE, S("v1")), LSM_OK, "add a@1");
	is_int(lsm_memtable_add(mt, S("a"), 7, LSM_KIND_TOMBSTONE, S("")), LSM_OK, "add a@7 tombstone");
	is_int(lsm_memtable_add(mt, S("a"), 5, LSM_KIND_VALUE, S("v5")), LSM_OK, "add a@5");
	is_int(lsm_memtable_add(mt, S("ab"), 3, LSM_KIND_VALUE, S("ab3")), LSM_OK, "add ab@3");
	is_int(lsm_memtable_add(mt, S(""), 2, LSM_KIND_VALUE, S("empty")), LSM_OK, "add empty key");
	is_int(lsm_memtable_add(mt, S("a"), 5, LSM_KIND_LOCK, S("lock")), LSM_OK,
		   "add a@5 LOCK (same seq, other kind)");
	is_int(lsm_memtable_count(mt), 6, "six entries");

	is_int(lsm_memtable_add(mt, S("a"), 5, LSM_KIND_VALUE, S("dup")), LSM_INVALID,
		   "adding an existing internal key is refused");
	is_int(lsm_memtable_add(mt, S("z"), LSM_MAX_SEQ + 1, LSM_KIND_VALUE, S("")),
		   LSM_INVALID, "seq beyond LSM_MAX_SEQ is refused");
	is_int(lsm_memtable_add(mt, S("z"), 1, (lsm_kind) 9, S("")), LSM_INVALID,
		   "unknown kind is refused");
	is_int(lsm_memtable_count(mt), 6, "refused adds changed nothing");

	is_int(lsm_memtable_get(mt, S("a"), 0, &seq, &kind, &v), LSM_NOT_FOUND,
		   "a at snapshot 0: not yet written");
	for (uint64_t snap = 1; snap <= 10; snap++)
	{
		lsm_status	st = lsm_memtable_get(mt, S("a"), snap, &seq, &kind, &v);

		if (snap < 5)
			bad += !(st == LSM_OK && seq == 1 && kind == LSM_KIND_VALUE &&
					 slice_eq(v, "v1", 2));
		else if (snap < 7)
			bad += !(st == LSM_OK && seq == 5 && kind == LSM_KIND_LOCK &&
					 slice_eq(v, "lock", 4));
		else
			bad += !(st == LSM_OK && seq == 7 && kind == LSM_KIND_TOMBSTONE &&
					 v.len == 0);
	}
	is_int(bad, 0, "each snapshot 1..10 sees the right version of a");
	ok(lsm_memtable_get(mt, S("a"), UINT64_MAX, &seq, &kind, &v) == LSM_OK &&
	   seq == 7, "snapshot UINT64_MAX sees the newest");
	ok(lsm_memtable_get(mt, S(""), 2, &seq, &kind, &v) == LSM_OK &&
	   seq == 2 && slice_eq(v, "empty", 5), "empty user key readable");
	is_int(lsm_memtable_get(mt, S("ab"), 2, &seq, &kind, &v), LSM_NOT_FOUND,
		   "ab at snapshot 2: not yet written, and a's versions don't leak");
	ok(lsm_memtable_get(mt, S("ab"), 3, &seq, &kind, &v) == LSM_OK &&
	   slice_eq(v, "ab3", 3), "ab at snapshot 3");
	is_int(lsm_memtable_get(mt, S("b"), 100, &seq, &kind, &v), LSM_NOT_FOUND,
		   "a key after all entries");
	is_int(lsm_memtable_get(mt, lsm_slice_make("a\0", 2), 100, &seq, &kind, &v),
		   LSM_NOT_FOUND, "a key between a and ab");
	free(region);
}

/* A reference entry: internal key and value in fixed storage. */
typedef struct ref_entry
{
	uint8_t		ik[24];
	uint32_t	iklen;
	uint8_t		val[16];
	uint32_t	vlen;
} ref_entry;

static int
ref_cmp(const void *a, const void *b)
{
	const ref_entry *x = a;
	const ref_entry *y = b;

	return lsm_ikey_compare(lsm_slice_make(x->ik, x->iklen),
							lsm_slice_make(y->ik, y->iklen));
}

/* Random entries over a pool of user keys, so most keys have versions. */
static ref_entry *
make_entries(int n, uint64_t seed)
{
	ref_entry  *e = calloc((size_t) n, sizeof(ref_entry));
	int			npool = n / 4 + 1;
	uint8_t    (*pool)[16] = malloc((size_t) npool * 16);
	int		   *plen = malloc((size_t) npool * sizeof(int));
	uint64_t   *seqs = malloc((size_t) n * sizeof(uint64_t));
	uint64_t	s = seed;

	for (int i = 0; i < npool; i++)
	{
		plen[i] = (int) (rnd(&s) % 17);
		for (int j = 0; j < plen[i]; j++)
		{
			uint64_t	r = rnd(&s);

			/* a narrow alphabet yields prefixes and shared bytes */
			pool[i][j] = (r & 7) == 0 ? 0 : (r & 7) == 1 ? 0xff : (uint8_t) ('a' + (r >> 8) % 3);
		}
	}
	for (int i = 0; i < n; i++)
		seqs[i] = (uint64_t) i + 1;
	for (int i = n - 1; i > 0; i--)
	{
		int			j = (int) (rnd(&s) % (uint64_t) (i + 1));
		uint64_t	t = seqs[i];

		seqs[i] = seqs[j];
		seqs[j] = t;
	}
	for (int i = 0; i < n; i++)
	{
		int			p = (int) (rnd(&s) % (uint64_t) npool);
		uint64_t	r = rnd(&s);

		lsm_ikey_write(e[i].ik, lsm_slice_make(pool[p], (size_t) plen[p]),
					   seqs[i], (lsm_kind) (r & 3));
		e[i].iklen = (uint32_t) plen[p] + LSM_IKEY_TRAILER;
		e[i].vlen = (uint32_t) ((r >> 8) % 17);
		for (uint32_t j = 0; j < e[i].vlen; j++)
			e[i].val[j] = (uint8_t) (r >> (16 + j));
	}
	free(pool);
	free(plen);
	free(seqs);
	return e;
}

static lsm_status
add_entry(lsm_memtable *mt, const ref_entry *e)
{
	lsm_ikey	p;

	if (!lsm_ikey_parse(lsm_slice_make(e->ik, e->iklen), &p))
		return LSM_CORRUPT;
	return lsm_memtable_add(mt, p.user_key, p.seq, p.kind,
							lsm_slice_make(e->val, e->vlen));
}

/* Counts positions where a full iteration differs from the sorted ref. */
static int
iter_mismatches(lsm_memtable *mt, const ref_entry *ref, int n)
{
	lsm_iter   *it = lsm_memtable_iter_new(mt);
	int			i = 0;
	int			bad = 0;

	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++)
	{
		if (i >= n ||
			!slice_eq(lsm_iter_key(it), ref[i].ik, ref[i].iklen) ||
			!slice_eq(lsm_iter_value(it), ref[i].val, ref[i].vlen))
			bad++;
	}
	if (lsm_iter_status(it) != LSM_OK || i != n)
		bad++;
	lsm_iter_destroy(it);
	return bad;
}

/* Index of the first ref entry >= target (binary search). */
static int
lower_bound(const ref_entry *ref, int n, lsm_slice target)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (lsm_ikey_compare(lsm_slice_make(ref[mid].ik, ref[mid].iklen), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
test_random(void)
{
	int			n = small_scale ? 20000 : 100000;
	size_t		size = (size_t) n * 96 + 65536;
	void	   *region = region_alloc(size);
	void	   *moved;
	lsm_memtable *mt;
	ref_entry  *ref = make_entries(n, 12345);
	int			add_bad = 0;
	int			get_bad = 0;
	int			older_bad = 0;
	int			seek_bad = 0;
	uint64_t	s = 777;
	lsm_iter   *it;

	lsm_memtable_init(region, size);
	mt = lsm_memtable_at(region);
	for (int i = 0; i < n; i++)
		add_bad += add_entry(mt, &ref[i]) != LSM_OK;
	is_int(add_bad, 0, "added %d random entries", n);
	is_int(lsm_memtable_count(mt), n, "count matches");
	is_int(lsm_memtable_verify(mt), LSM_OK, "every level is in order");

	qsort(ref, (size_t) n, sizeof(ref_entry), ref_cmp);
	is_int(iter_mismatches(mt, ref, n), 0,
		   "iteration equals the qsort'ed reference, keys and values");

	/* get(user key, seq) finds that exact entry; seq - 1 finds the older one */
	for (int i = 0; i < n; i++)
	{
		lsm_ikey	p;
		lsm_ikey	q;
		uint64_t	seq;
		lsm_kind	kind;
		lsm_slice	v;
		lsm_status	st;

		lsm_ikey_parse(lsm_slice_make(ref[i].ik, ref[i].iklen), &p);
		st = lsm_memtable_get(mt, p.user_key, p.seq, &seq, &kind, &v);
		if (st != LSM_OK || seq != p.seq || kind != p.kind ||
			!slice_eq(v, ref[i].val, ref[i].vlen))
			get_bad++;
		st = lsm_memtable_get(mt, p.user_key, p.seq - 1, &seq, &kind, &v);
		if (i + 1 < n && lsm_ikey_parse(lsm_slice_make(ref[i + 1].ik, ref[i + 1].iklen), &q) &&
			lsm_slice_compare(p.user_key, q.user_key) == 0)
			older_bad += !(st == LSM_OK && seq == q.seq);
		else
			older_bad += st != LSM_NOT_FOUND;
	}
	is_int(get_bad, 0, "every entry is found by get at its own seq");
	is_int(older_bad, 0, "get at seq-1 finds the next older version or nothing");

	/* seek to existing keys, to keys between entries and past the end */
	it = lsm_memtable_iter_new(mt);
	for (int i = 0; i < 2000; i++)
	{
		uint8_t		t[24];
		size_t		tlen;
		int			want;
		const ref_entry *base = &ref[rnd(&s) % (uint64_t) n];

		memcpy(t, base->ik, base->iklen);
		tlen = base->iklen;
		if (i % 3 == 1)			/* same user key, a random trailer */
			lsm_put_u64(t + tlen - 8, rnd(&s) >> 4);
		else if (i % 3 == 2 && tlen > 8)	/* a shorter user key */
		{
			tlen--;
			lsm_put_u64(t + tlen - 8, rnd(&s));
		}
		lsm_iter_seek(it, lsm_slice_make(t, tlen));
		want = lower_bound(ref, n, lsm_slice_make(t, tlen));
		if (want == n ? lsm_iter_valid(it) :
			!lsm_iter_valid(it) ||
			!slice_eq(lsm_iter_key(it), ref[want].ik, ref[want].iklen))
			seek_bad++;
		/* next after seek continues in order */
		if (want + 1 < n && lsm_iter_valid(it))
		{
			lsm_iter_next(it);
			if (!lsm_iter_valid(it) ||
				!slice_eq(lsm_iter_key(it), ref[want + 1].ik, ref[want + 1].iklen))
				seek_bad++;
		}
	}
	is_int(seek_bad, 0, "2000 seeks land on the reference lower bound");
	{
		uint8_t		maxk[8];

		lsm_put_u64(maxk, UINT64_MAX);
		lsm_iter_seek(it, lsm_slice_make(maxk, 8));
		ok(lsm_iter_valid(it) && slice_eq(lsm_iter_key(it), ref[0].ik, ref[0].iklen),
		   "seek to the smallest possible key lands on the first entry");
		lsm_iter_seek(it, lsm_slice_make("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 26));
		ok(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK,
		   "seek past the last entry is invalid, status ok");
		lsm_iter_seek(it, lsm_slice_make("short", 5));
		ok(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_INVALID,
		   "seek to a target shorter than a trailer reports LSM_INVALID");
	}
	lsm_iter_destroy(it);

	/* backward, and both ways at random (predecessor search, last node) */
	{
		lsm_slice  *keys = malloc((size_t) n * sizeof(lsm_slice));

		for (int i = 0; i < n; i++)
			keys[i] = lsm_slice_make(ref[i].ik, ref[i].iklen);
		it = lsm_memtable_iter_new(mt);
		iter_check_both_ways(it, keys, (size_t) n, 5000, "memtable");
		lsm_iter_destroy(it);
		free(keys);
	}

	/* relocation: copy the region, wipe the original, read the copy */
	moved = region_alloc(size);
	memcpy(moved, region, lsm_memtable_bytes_used(mt));
	memset(region, 0xAB, size);
	free(region);
	mt = lsm_memtable_at(moved);
	is_int(lsm_memtable_count(mt), n, "relocated: count");
	is_int(iter_mismatches(mt, ref, n), 0,
		   "relocated region iterates identically (links are offsets)");
	get_bad = 0;
	for (int i = 0; i < n; i += 7)
	{
		lsm_ikey	p;
		uint64_t	seq;
		lsm_kind	kind;
		lsm_slice	v;

		lsm_ikey_parse(lsm_slice_make(ref[i].ik, ref[i].iklen), &p);
		if (lsm_memtable_get(mt, p.user_key, p.seq, &seq, &kind, &v) != LSM_OK ||
			seq != p.seq || !slice_eq(v, ref[i].val, ref[i].vlen))
			get_bad++;
	}
	is_int(get_bad, 0, "relocated region: gets agree");
	/* and the copy is still writable */
	is_int(lsm_memtable_add(mt, S("zzzz-after-move"), (uint64_t) n + 10,
							LSM_KIND_VALUE, S("x")), LSM_OK, "add after relocation");
	is_int(lsm_memtable_count(mt), n + 1, "count after relocation add");
	free(moved);
	free(ref);
}

/* An 8-byte big-endian key with a one-byte family prefix, as lsm_am's are. */
static void
pattern_key(ref_entry *e, uint8_t family, uint64_t k, uint64_t seq)
{
	uint8_t		uk[9];

	uk[0] = family;
	for (int i = 0; i < 8; i++)
		uk[1 + i] = (uint8_t) (k >> (56 - 8 * i));
	lsm_ikey_write(e->ik, lsm_slice_make(uk, 9), seq, LSM_KIND_VALUE);
	e->iklen = 9 + LSM_IKEY_TRAILER;
	e->vlen = 8;
	memcpy(e->val, e->ik + 1, 8);
}

/*
 * Inserts n entries in one of several orders and checks the list: the
 * order they come in decides which fingers the writer can use, never what
 * the list holds.
 */
static void
test_pattern(const char *name, int pattern, int n)
{
	size_t		size = (size_t) n * 96 + 65536;
	void	   *region = region_alloc(size);
	lsm_memtable *mt;
	ref_entry  *ref = calloc((size_t) n, sizeof(ref_entry));
	uint64_t	s = 4242 + (uint64_t) pattern;
	int			add_bad = 0;
	int			dup_bad = 0;
	int			get_bad = 0;
	int			i = 0;

	lsm_memtable_init(region, size);
	mt = lsm_memtable_at(region);
	while (i < n)
	{
		switch (pattern)
		{
			case 0:				/* one ascending run and random keys, alternating */
				pattern_key(&ref[i], 1, (uint64_t) i, (uint64_t) i + 1);
				i++;
				if (i < n)
				{
					pattern_key(&ref[i], 2, rnd(&s), (uint64_t) i + 1);
					i++;
				}
				break;
			case 1:				/* sorted batches of random keys after ascending runs */
				{
					int			b = (int) (rnd(&s) % 300) + 1;
					int			start = i;

					for (int j = 0; j < b && i < n; j++, i++)
						pattern_key(&ref[i], 1, (uint64_t) i, (uint64_t) i + 1);
					for (int j = 0; j < b && i < n; j++, i++)
						pattern_key(&ref[i], 2, rnd(&s), (uint64_t) i + 1);
					qsort(&ref[start], (size_t) (i - start), sizeof(ref_entry), ref_cmp);
					break;
				}
			case 2:				/* three ascending runs, interleaved */
				pattern_key(&ref[i], (uint8_t) (1 + i % 3), (uint64_t) i / 3 * 1000 + rnd(&s) % 1000,
							(uint64_t) i + 1);
				i++;
				break;
			case 3:				/* descending */
				pattern_key(&ref[i], 2, (uint64_t) (n - i) * 7, (uint64_t) i + 1);
				i++;
				break;
			case 4:				/* an ascending run, each key followed by one just below it */
				pattern_key(&ref[i], 2, (uint64_t) (i / 2 + 1) * 1000 - (uint64_t) (i % 2),
							(uint64_t) i + 1);
				i++;
				break;
			default:			/* one user key, rising and falling sequence numbers */
				pattern_key(&ref[i], 2, 42, i % 2 ? (uint64_t) i + 1 : (uint64_t) (2 * n - i));
				i++;
				break;
		}
	}
	for (i = 0; i < n; i++)
		add_bad += add_entry(mt, &ref[i]) != LSM_OK;
	is_int(add_bad, 0, "%s: added %d entries", name, n);
	/* adding any of them again is refused, and changes nothing */
	for (i = 0; i < n; i += 97)
		dup_bad += add_entry(mt, &ref[i]) != LSM_INVALID;
	is_int(dup_bad, 0, "%s: adding an entry again is refused", name);
	is_int(lsm_memtable_count(mt), n, "%s: count matches", name);
	is_int(lsm_memtable_verify(mt), LSM_OK, "%s: every level is in order", name);
	for (i = 0; i < n; i++)
	{
		lsm_ikey	p;
		uint64_t	seq;
		lsm_kind	kind;
		lsm_slice	v;

		lsm_ikey_parse(lsm_slice_make(ref[i].ik, ref[i].iklen), &p);
		if (lsm_memtable_get(mt, p.user_key, p.seq, &seq, &kind, &v) != LSM_OK ||
			seq != p.seq || !slice_eq(v, ref[i].val, ref[i].vlen))
			get_bad++;
	}
	is_int(get_bad, 0, "%s: every entry is found by get", name);
	qsort(ref, (size_t) n, sizeof(ref_entry), ref_cmp);
	is_int(iter_mismatches(mt, ref, n), 0, "%s: iteration equals the sorted reference", name);
	free(ref);
	free(region);
}

static void
test_patterns(void)
{
	int			n = small_scale ? 20000 : 100000;

	test_pattern("ascending run and random keys", 0, n);
	test_pattern("sorted batches", 1, n);
	test_pattern("three ascending runs", 2, n);
	test_pattern("descending", 3, n);
	test_pattern("ascending, each key followed by one just below", 4, n);
	test_pattern("one key, many versions", 5, small_scale ? 2000 : 10000);
}

static void
test_full(void)
{
	size_t		size = 8192;
	void	   *region = region_alloc(size);
	lsm_memtable *mt;
	int			added = 0;
	int			room_lied = 0;
	int			bad = 0;
	lsm_status	st = LSM_OK;
	char		key[32];
	char		val[40];
	size_t		used;
	uint64_t	seq;
	lsm_kind	kind;
	lsm_slice	v;
	static uint8_t big[8192];

	lsm_memtable_init(region, size);
	mt = lsm_memtable_at(region);
	is_int(lsm_memtable_add(mt, S("big"), 1, LSM_KIND_VALUE,
							lsm_slice_make(big, sizeof(big))), LSM_INVALID,
		   "an entry larger than an empty memtable is LSM_INVALID, not FULL");
	for (;;)
	{
		bool		room;

		snprintf(key, sizeof(key), "key%06d", added * 7919 % 10007);
		memset(val, 'a' + added % 26, sizeof(val));
		room = lsm_memtable_has_room(mt, strlen(key), sizeof(val));
		st = lsm_memtable_add(mt, lsm_slice_make(key, strlen(key)),
							  (uint64_t) added + 1, LSM_KIND_VALUE,
							  lsm_slice_make(val, sizeof(val)));
		if (room && st != LSM_OK)
			room_lied++;
		if (st != LSM_OK)
			break;
		added++;
	}
	is_int(st, LSM_FULL, "a small region fills up with LSM_FULL");
	is_int(room_lied, 0, "has_room never promised room that add lacked");
	ok(added > 50, "added %d entries before FULL", added);
	ok(!lsm_memtable_has_room(mt, strlen(key), sizeof(val)), "has_room agrees it is full");
	used = lsm_memtable_bytes_used(mt);
	ok(used <= size, "bytes used %zu within the region", used);
	is_int(lsm_memtable_add(mt, lsm_slice_make(key, strlen(key)), 100000,
							LSM_KIND_VALUE, lsm_slice_make(val, sizeof(val))),
		   LSM_FULL, "FULL again");
	is_int(lsm_memtable_bytes_used(mt), used, "FULL changed no bytes");
	is_int(lsm_memtable_count(mt), added, "count matches what was added");
	for (int i = 0; i < added; i++)
	{
		snprintf(key, sizeof(key), "key%06d", i * 7919 % 10007);
		memset(val, 'a' + i % 26, sizeof(val));
		if (lsm_memtable_get(mt, lsm_slice_make(key, strlen(key)), UINT64_MAX,
							 &seq, &kind, &v) != LSM_OK ||
			seq != (uint64_t) i + 1 || !slice_eq(v, val, sizeof(val)))
			bad++;
	}
	is_int(bad, 0, "everything added before FULL is still readable");
	{
		lsm_iter   *it = lsm_memtable_iter_new(mt);
		int			n = 0;
		int			unsorted = 0;
		lsm_slice	prev = {0};

		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++)
		{
			if (n > 0 && lsm_ikey_compare(prev, lsm_iter_key(it)) >= 0)
				unsorted++;
			prev = lsm_iter_key(it);
		}
		is_int(n, added, "iteration after FULL sees every entry");
		is_int(unsorted, 0, "and in order");
		lsm_iter_destroy(it);
	}
	free(region);
}

/* One writer, two readers. */
typedef struct race
{
	lsm_memtable *mt;
	int			n;
	const uint32_t *order;		/* the writer inserts ids in this order */
	atomic_int	readers_ready;
	atomic_bool done;
} race;

typedef struct reader_result
{
	race	   *r;
	uint64_t	seed;
	long		scans;
	long		mid_scans;		/* scans that saw a partly written list */
	long		gets;
	long		unsorted;
	long		lost;			/* an id seen before missing later */
	long		torn;			/* a value that doesn't match its key */
	long		get_bad;
	long		final_seen;
} reader_result;

static void
id_key(uint32_t id, uint8_t *k)
{
	/* big-endian, scrambled, so insertion spreads across the list */
	uint32_t	x = id * 2654435761u;

	k[0] = (uint8_t) (x >> 24);
	k[1] = (uint8_t) (x >> 16);
	k[2] = (uint8_t) (x >> 8);
	k[3] = (uint8_t) x;
}

static void
id_value(uint32_t id, uint8_t *v)
{
	for (int i = 0; i < 12; i++)
		v[i] = (uint8_t) (id * 31 + (uint32_t) i * 7);
}

static uint32_t
key_id(const uint8_t *k)
{
	uint32_t	x = (uint32_t) k[0] << 24 | (uint32_t) k[1] << 16 |
		(uint32_t) k[2] << 8 | k[3];

	return x * 244002641u;		/* inverse of 2654435761 mod 2^32 */
}

static void *
writer_main(void *arg)
{
	race	   *r = arg;

	while (atomic_load(&r->readers_ready) < 2)
		sched_yield();
	for (int i = 0; i < r->n; i++)
	{
		uint8_t		k[4];
		uint8_t		v[12];

		id_key(r->order[i], k);
		id_value(r->order[i], v);
		if (lsm_memtable_add(r->mt, lsm_slice_make(k, 4), (uint64_t) i + 1,
							 LSM_KIND_VALUE, lsm_slice_make(v, 12)) != LSM_OK)
			abort();
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void *
reader_main(void *arg)
{
	reader_result *res = arg;
	race	   *r = res->r;
	lsm_iter   *it = lsm_memtable_iter_new(r->mt);
	uint8_t    *seen = calloc((size_t) r->n, 1);
	uint32_t   *seen_list = malloc((size_t) r->n * sizeof(uint32_t));
	int			nseen = 0;
	int		   *scan_no = calloc((size_t) r->n, sizeof(int));
	bool		last = false;

	atomic_fetch_add(&r->readers_ready, 1);
	while (!last)
	{
		lsm_slice	prev = {0};
		int			count = 0;

		last = atomic_load(&r->done);
		res->scans++;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		{
			lsm_slice	k = lsm_iter_key(it);
			lsm_slice	v = lsm_iter_value(it);
			uint8_t		want[12];
			uint32_t	id;

			if (k.len != 12 || v.len != 12)
			{
				res->torn++;
				continue;
			}
			id = key_id(k.data);
			id_value(id, want);
			if (id >= (uint32_t) r->n || memcmp(v.data, want, 12) != 0)
			{
				res->torn++;
				continue;
			}
			if (count > 0 && lsm_ikey_compare(prev, k) >= 0)
				res->unsorted++;
			prev = k;
			count++;
			scan_no[id] = (int) res->scans;
			if (!seen[id])
			{
				seen[id] = 1;
				seen_list[nseen++] = id;
			}
		}
		for (int i = 0; i < nseen; i++)
			if (scan_no[seen_list[i]] != (int) res->scans)
				res->lost++;
		res->final_seen = count;
		if (count > 0 && count < r->n)
			res->mid_scans++;

		/* point reads of ids seen so far */
		for (int i = 0; i < 200 && nseen > 0; i++)
		{
			uint32_t	id = seen_list[rnd(&res->seed) % (uint64_t) nseen];
			uint8_t		k[4];
			uint8_t		want[12];
			uint64_t	seq;
			lsm_kind	kind;
			lsm_slice	v;

			id_key(id, k);
			id_value(id, want);
			if (lsm_memtable_get(r->mt, lsm_slice_make(k, 4), UINT64_MAX,
								 &seq, &kind, &v) != LSM_OK ||
				kind != LSM_KIND_VALUE || !slice_eq(v, want, 12))
				res->get_bad++;
			res->gets++;
		}
	}
	lsm_iter_destroy(it);
	free(seen);
	free(seen_list);
	free(scan_no);
	return NULL;
}

static void
test_concurrency(void)
{
	int			n = small_scale ? 5000 : 200000;
	size_t		size = (size_t) n * 96 + 65536;
	void	   *region = region_alloc(size);
	uint32_t   *order = malloc((size_t) n * sizeof(uint32_t));
	race		r;
	reader_result res[2];
	pthread_t	w;
	pthread_t	rd[2];
	uint64_t	s = 99;

	for (int i = 0; i < n; i++)
		order[i] = (uint32_t) i;
	for (int i = n - 1; i > 0; i--)
	{
		int			j = (int) (rnd(&s) % (uint64_t) (i + 1));
		uint32_t	t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	lsm_memtable_init(region, size);
	r.mt = lsm_memtable_at(region);
	r.n = n;
	r.order = order;
	atomic_init(&r.readers_ready, 0);
	atomic_init(&r.done, false);
	memset(res, 0, sizeof(res));
	for (int i = 0; i < 2; i++)
	{
		res[i].r = &r;
		res[i].seed = 1000 + (uint64_t) i;
		pthread_create(&rd[i], NULL, reader_main, &res[i]);
	}
	pthread_create(&w, NULL, writer_main, &r);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(rd[i], NULL);

	for (int i = 0; i < 2; i++)
	{
		diag("reader %d: %ld scans (%ld of a partly written list), %ld gets",
			 i, res[i].scans, res[i].mid_scans, res[i].gets);
		/* valgrind serialises threads, so only a full run can insist on overlap */
		ok(small_scale || res[i].mid_scans >= 1,
		   "reader %d scanned while the writer ran", i);
		is_int(res[i].unsorted, 0, "reader %d: every scan was sorted", i);
		is_int(res[i].torn, 0, "reader %d: no half-published entry seen", i);
		is_int(res[i].lost, 0, "reader %d: no key vanished once seen", i);
		is_int(res[i].get_bad, 0, "reader %d: every get of a seen key succeeded", i);
		is_int(res[i].final_seen, n, "reader %d: the final scan saw all %d", i, n);
	}
	is_int(lsm_memtable_count(r.mt), n, "count after the race");
	free(order);
	free(region);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");

	small_scale = scale && strcmp(scale, "small") == 0;
	test_versions();
	test_random();
	test_patterns();
	test_full();
	test_concurrency();
	return done_testing();
}
