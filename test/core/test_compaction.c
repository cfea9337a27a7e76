/*
 * test_compaction.c - the picker on synthetic manifests, and the merge on
 * real runs (memtable -> lsm_flush_iter -> file pager) against a reference
 * model of the drop rules, plus installing the result in a manifest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compaction.h"
#include "db.h"
#include "file_pager.h"
#include "memtable.h"
#include "merge.h"
#include "tap.h"

static int	scale_small;


static int
rnd_int(int n)
{
	return (int) (tap_rand() % (uint64_t) n);
}

/* ---------------------------------------------------------------------
 * Picker
 * ---------------------------------------------------------------------
 */

static void
synth_run(lsm_manifest *m, uint64_t id, uint32_t level, const char *lo,
		  const char *hi, uint64_t nbytes, uint64_t max_seq)
{
	lsm_run_meta r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.level = level;
	r.first_page = (lsm_pageno) (id * 100);
	r.npages = 10;
	r.nbytes = nbytes;
	r.min_seq = 1;
	r.max_seq = max_seq;
	lsm_ikey_append(&r.smallest, lsm_slice_make(lo, strlen(lo)), max_seq, LSM_KIND_VALUE);
	lsm_ikey_append(&r.largest, lsm_slice_make(hi, strlen(hi)), 1, LSM_KIND_VALUE);
	if (lsm_manifest_add_run(m, &r) != LSM_OK)
		diag("synth_run %llu failed", (unsigned long long) id);
	lsm_run_meta_free(&r);
	if (id >= m->next_run_id)
		m->next_run_id = id + 1;
}

static bool
has_input(const lsm_compaction *c, int s, uint64_t id)
{
	for (int i = 0; i < c->ninputs[s]; i++)
		if (c->inputs[s][i].id == id)
			return true;
	return false;
}

static void
test_picker(void)
{
	lsm_compaction_options o;
	lsm_manifest m;
	lsm_compaction c;
	const uint64_t MiB = 1024 * 1024;

	lsm_compaction_options_default(&o);
	ok(o.l0_trigger == 4 && o.level1_bytes == 10 * MiB && o.ratio == 10 &&
	   o.target_run_bytes == 2 * MiB && o.nlevels == LSM_MAX_LEVELS,
	   "default options");

	lsm_manifest_init(&m);
	ok(!lsm_compaction_pick(&m, &o, &c), "empty manifest: nothing to do");

	synth_run(&m, 1, 0, "c", "f", MiB, 10);
	synth_run(&m, 2, 0, "e", "h", MiB, 20);
	synth_run(&m, 3, 0, "d", "e", MiB, 30);
	synth_run(&m, 10, 1, "a", "b", MiB, 5);
	synth_run(&m, 11, 1, "c", "d", MiB, 5);
	synth_run(&m, 12, 1, "g", "j", MiB, 5);
	synth_run(&m, 13, 1, "k", "m", MiB, 5);
	ok(!lsm_compaction_pick(&m, &o, &c), "3 L0 runs, trigger 4, L1 at 4 of 10 MiB: nothing");

	synth_run(&m, 4, 0, "f", "g", MiB, 40);
	ok(lsm_compaction_pick(&m, &o, &c), "4th L0 run triggers");
	ok(c.level == 0 && c.out_level == 1, "L0 -> L1");
	is_int(c.ninputs[0], 4, "every L0 run is an input");
	ok(c.ninputs[1] == 2 && has_input(&c, 1, 11) && has_input(&c, 1, 12),
	   "L1 inputs are exactly the runs overlapping [c, h]");
	ok(c.score >= 1.0 && c.score < 1.01, "score 4/4 = 1");
	ok(c.bottommost, "nothing deeper: bottommost");
	is_int(c.target_run_bytes, 2 * MiB, "target run size comes from the options");
	lsm_compaction_free(&c);

	synth_run(&m, 30, 3, "h", "i", MiB, 1);
	ok(lsm_compaction_pick(&m, &o, &c) && !c.bottommost,
	   "a run at L3 overlapping the key range: not bottommost");
	lsm_compaction_free(&c);
	lsm_manifest_remove_run(&m, 3, 30);
	synth_run(&m, 31, 3, "x", "z", MiB, 1);
	ok(lsm_compaction_pick(&m, &o, &c) && c.bottommost,
	   "a deeper run elsewhere in the key space does not matter");
	lsm_compaction_free(&c);

	/* L1 over its target with a higher score than L0. */
	synth_run(&m, 14, 1, "n", "o", 8 * MiB, 5);
	synth_run(&m, 20, 2, "a", "b", MiB, 2);
	synth_run(&m, 21, 2, "c", "e", MiB, 2);
	synth_run(&m, 22, 2, "f", "g", MiB, 2);
	ok(lsm_compaction_pick(&m, &o, &c), "L1 at 12 MiB of 10 MiB");
	ok(c.level == 1, "L1's score 1.2 beats L0's 1.0");
	lsm_compaction_free(&c);
	lsm_manifest_remove_run(&m, 0, 1);
	lsm_manifest_remove_run(&m, 0, 2);
	ok(lsm_compaction_pick(&m, &o, &c), "with L0 below its trigger, L1 is picked");
	ok(c.level == 1 && c.out_level == 2, "L1 -> L2");
	ok(c.ninputs[0] == 1 && c.inputs[0][0].id == 13,
	   "one run: 13 [k, m] and 14 [n, o] overlap no L2 bytes, 13 waited longer");
	is_int(c.ninputs[1], 0, "no L2 input");
	ok(c.move, "so the run may move down as it is");
	ok(c.score > 1.19 && c.score < 1.21, "score 12/10");
	{
		lsm_manifest moved;
		int			nfree = m.nfree;

		lsm_manifest_copy(&moved, &m);
		is_int(lsm_manifest_apply_move(&moved, &c), LSM_OK, "apply the move");
		ok(moved.levels[1].nruns == m.levels[1].nruns - 1 &&
		   moved.levels[2].nruns == m.levels[2].nruns + 1,
		   "one run fewer at L1, one more at L2");
		ok(moved.levels[2].runs[3].id == 13 &&
		   moved.levels[2].runs[3].first_page == 1300 &&
		   moved.levels[2].runs[3].npages == 10,
		   "run 13 sits at L2 in key order (after a..g), same id and pages");
		is_int(moved.nfree, nfree, "no extent freed");
		ok(lsm_manifest_check(&moved, NULL, 0) == LSM_OK, "the result passes check");
		is_int(lsm_manifest_apply_move(&moved, &c), LSM_INVALID,
			   "moving it again: the run is no longer at L1, refused");
		ok(moved.levels[2].nruns == m.levels[2].nruns + 1, "and nothing changed");
		lsm_manifest_free(&moved);
	}
	lsm_compaction_free(&c);

	/* 4 MiB of L2 under 13 (1 MiB) and under 14 (8 MiB): 14's 0.5 wins. */
	synth_run(&m, 23, 2, "k", "l", 4 * MiB, 2);
	synth_run(&m, 24, 2, "n", "n", 4 * MiB, 2);
	ok(lsm_compaction_pick(&m, &o, &c) && c.level == 1, "L1 again");
	ok(c.ninputs[0] == 1 && c.inputs[0][0].id == 14,
	   "the fewest L2 bytes per own byte, not the fewest L2 bytes (10-12 have 1 per 1)");
	ok(c.ninputs[1] == 1 && c.inputs[1][0].id == 24, "plus the overlapping L2 run");
	ok(!c.move, "an L2 run in its keys: a merge, not a move");
	is_int(lsm_manifest_apply_move(&m, &c), LSM_INVALID, "apply_move refuses a merge");
	lsm_compaction_free(&c);
	lsm_manifest_remove_run(&m, 2, 23);
	lsm_manifest_remove_run(&m, 2, 24);
	lsm_manifest_remove_run(&m, 1, 13);
	lsm_manifest_remove_run(&m, 1, 14);
	synth_run(&m, 15, 1, "p", "q", 9 * MiB, 5);
	ok(lsm_compaction_pick(&m, &o, &c) && c.level == 1 &&
	   c.ninputs[0] == 1 && c.inputs[0][0].id == 15,
	   "a run over nothing beats runs over L2 data");
	lsm_compaction_free(&c);

	/* The last level is never picked, however big. */
	{
		lsm_manifest big;

		lsm_manifest_init(&big);
		synth_run(&big, 1, 2, "a", "z", 1000 * MiB, 1);
		o.nlevels = 3;
		ok(!lsm_compaction_pick(&big, &o, &c), "the last level (nlevels 3: L2) is not scored");
		o.nlevels = LSM_MAX_LEVELS;
		ok(lsm_compaction_pick(&big, &o, &c) && c.level == 2 && c.out_level == 3,
		   "with more levels it moves down");
		lsm_compaction_free(&c);
		lsm_manifest_free(&big);
	}
	lsm_manifest_free(&m);
}

/* Builds a run in memory from user keys (seq 1..n) and returns its meta. */
static void
meta_of_keys(const char *const *keys, int n, lsm_run_meta *meta)
{
	lsm_sst_builder *b;
	lsm_buf		ik = {0};
	lsm_slice	stream;

	memset(meta, 0, sizeof(*meta));
	lsm_sst_builder_new(NULL, &b);
	for (int i = 0; i < n; i++)
	{
		ik.len = 0;
		lsm_ikey_append(&ik, lsm_slice_make(keys[i], strlen(keys[i])),
						(uint64_t) i + 1, LSM_KIND_VALUE);
		lsm_sst_builder_add(b, lsm_buf_slice(&ik), lsm_slice_make("v", 1));
	}
	lsm_sst_builder_finish(b, &stream, meta);
	lsm_sst_builder_free(b);
	lsm_buf_free(&ik);
}

#define S(s) lsm_slice_make((s), strlen(s))

static bool
slice_is(lsm_buf *b, const char *s)
{
	return lsm_slice_compare(lsm_buf_slice(b), lsm_slice_make(s, strlen(s))) == 0;
}

/* The builder records where a run's keys change family (first byte). */
static void
test_split_keys(void)
{
	static const char *const two[] = {"a1", "a2", "b1", "b2"};
	static const char *const one[] = {"a1", "a2", "a3"};
	static const char *const three[] = {"a1", "b1", "c1"};
	lsm_run_meta meta;

	meta_of_keys(two, 4, &meta);
	ok(lsm_run_meta_has_split(&meta) && slice_is(&meta.split_lo, "a2") &&
	   slice_is(&meta.split_hi, "b1"), "two families: split a2 | b1");
	ok(lsm_run_meta_gap_holds(&meta, S("a3"), S("a3"), true) &&
	   lsm_run_meta_gap_holds(&meta, S("a20"), S("b0"), true) &&
	   lsm_run_meta_gap_holds(&meta, S("a3"), S("b1"), false),
	   "keys strictly between a2 and b1 (end excluded) are in the gap");
	ok(!lsm_run_meta_gap_holds(&meta, S("a2"), S("a2"), true) &&
	   !lsm_run_meta_gap_holds(&meta, S("b1"), S("b1"), true) &&
	   !lsm_run_meta_gap_holds(&meta, S("a3"), S("b1"), true) &&
	   !lsm_run_meta_gap_holds(&meta, S("a1"), S("a3"), true) &&
	   !lsm_run_meta_gap_holds(&meta, S("a3"), S("b2"), false),
	   "the split keys themselves, and ranges reaching past them, are not");
	lsm_run_meta_free(&meta);
	meta_of_keys(one, 3, &meta);
	ok(!lsm_run_meta_has_split(&meta), "one family: no split");
	ok(!lsm_run_meta_gap_holds(&meta, S("a15"), S("a15"), true),
	   "no split: no gap");
	lsm_run_meta_free(&meta);
	meta_of_keys(three, 3, &meta);
	ok(!lsm_run_meta_has_split(&meta), "three families: no split");
	lsm_run_meta_free(&meta);
}

/*
 * With families, a level-0 compaction takes the level-1 runs that meet its
 * inputs family by family: a run of keys sorting between a level-0 run's
 * two families stays out.
 */
static void
test_pick_families(void)
{
	lsm_compaction_options o;
	lsm_manifest m;
	lsm_compaction c;
	lsm_run_meta r;

	lsm_compaction_options_default(&o);
	lsm_manifest_init(&m);
	for (int i = 0; i < 4; i++)
	{
		char		lo[16],
					hi[16];

		memset(&r, 0, sizeof(r));
		snprintf(lo, sizeof(lo), "a%d", 5 + i);
		snprintf(hi, sizeof(hi), "b9%d", i);
		r.id = (uint64_t) i + 1;
		r.first_page = (lsm_pageno) (i * 10 + 10);
		r.npages = 10;
		r.nbytes = 1000;
		r.min_seq = r.max_seq = (uint64_t) i + 100;
		lsm_ikey_append(&r.smallest, lsm_slice_make(lo, 2), r.max_seq, LSM_KIND_VALUE);
		lsm_ikey_append(&r.largest, lsm_slice_make(hi, 3), r.max_seq, LSM_KIND_VALUE);
		lsm_buf_set(&r.split_lo, "a9", 2);
		lsm_buf_set(&r.split_hi, "b90", 3);
		lsm_manifest_add_run(&m, &r);
		lsm_run_meta_free(&r);
	}
	m.next_run_id = 5;
	synth_run(&m, 10, 1, "a1", "a4", 1000, 1);	/* below the level-0 keys */
	synth_run(&m, 11, 1, "b10", "b20", 1000, 1);	/* between the families */
	synth_run(&m, 12, 1, "b905", "b915", 1000, 1);	/* among the newest b keys */
	ok(lsm_manifest_check(&m, NULL, 0) == LSM_OK, "4 level-0 runs a5..a9 | b90..b9x");

	ok(lsm_compaction_pick(&m, &o, &c) && c.level == 0 && c.ninputs[1] == 2 &&
	   has_input(&c, 1, 11) && has_input(&c, 1, 12),
	   "without families: one range a5..b93 takes runs 11 and 12");
	lsm_compaction_free(&c);
	o.families = true;
	ok(lsm_compaction_pick(&m, &o, &c) && c.level == 0 && c.families &&
	   c.ninputs[1] == 1 && has_input(&c, 1, 12),
	   "with families: a5..a9 and b90..b93 take only run 12");
	lsm_compaction_free(&c);

	/* The gap within one family is covered: b10..b20 lies inside b05..b93. */
	memset(&r, 0, sizeof(r));
	r.id = 5;
	r.first_page = 200;
	r.npages = 10;
	r.nbytes = 1000;
	r.min_seq = r.max_seq = 200;
	lsm_ikey_append(&r.smallest, lsm_slice_make("b05", 3), 200, LSM_KIND_VALUE);
	lsm_ikey_append(&r.largest, lsm_slice_make("b06", 3), 200, LSM_KIND_VALUE);
	lsm_manifest_add_run(&m, &r);
	lsm_run_meta_free(&r);
	m.next_run_id = 13;
	ok(lsm_compaction_pick(&m, &o, &c) && c.ninputs[1] == 2 &&
	   has_input(&c, 1, 11) && has_input(&c, 1, 12),
	   "a level-0 run b05..b06 joins the b spans: run 11 taken too");
	lsm_compaction_free(&c);
	lsm_manifest_free(&m);
}

static void
test_pick_all(void)
{
	lsm_compaction_options o;
	lsm_manifest m;
	lsm_compaction c;

	lsm_compaction_options_default(&o);
	lsm_manifest_init(&m);
	ok(!lsm_compaction_pick_all(&m, &o, &c), "pick_all on nothing: false");
	synth_run(&m, 1, 0, "a", "c", 100, 10);
	ok(lsm_compaction_pick_all(&m, &o, &c) && c.level == 0 && c.out_level == 1 &&
	   c.ninputs[0] == 1 && c.ninputs[1] == 0 && c.bottommost,
	   "only L0: into L1");
	lsm_compaction_free(&c);

	synth_run(&m, 2, 2, "x", "z", 100, 2);
	synth_run(&m, 3, 2, "d", "e", 100, 2);
	synth_run(&m, 4, 4, "a", "z", 100, 1);
	ok(lsm_compaction_pick_all(&m, &o, &c) && c.level == 0 && c.out_level == 2,
	   "L0 folds into the next non-empty level (L2), skipping empty L1");
	ok(c.ninputs[1] == 2, "taking all of L2, overlapping or not");
	ok(!c.bottommost, "L4 below still holds the keys");
	lsm_compaction_free(&c);

	lsm_manifest_remove_run(&m, 0, 1);
	ok(lsm_compaction_pick_all(&m, &o, &c) && c.level == 2 && c.out_level == 4 &&
	   c.ninputs[0] == 2 && c.ninputs[1] == 1 && c.bottommost,
	   "then L2 folds into L4, bottommost");
	lsm_compaction_free(&c);

	lsm_manifest_remove_run(&m, 2, 2);
	lsm_manifest_remove_run(&m, 2, 3);
	ok(!lsm_compaction_pick_all(&m, &o, &c), "one level >= 1 holds everything: done");

	/* Bounded by a sequence number: newer level-0 runs stay out. */
	synth_run(&m, 5, 0, "b", "c", 100, 50);
	synth_run(&m, 6, 0, "c", "d", 100, 60);
	ok(!lsm_compaction_pick_all_upto(&m, &o, 40, &c),
	   "upto 40: both L0 runs are newer, L4 alone holds the rest: done");
	ok(lsm_compaction_pick_all_upto(&m, &o, 55, &c) && c.level == 0 &&
	   c.out_level == 4 && c.ninputs[0] == 1 && c.inputs[0][0].id == 5 &&
	   c.ninputs[1] == 1 && c.bottommost,
	   "upto 55: only the older L0 run folds into L4");
	lsm_compaction_free(&c);
	ok(lsm_compaction_pick_all_upto(&m, &o, 60, &c) && c.ninputs[0] == 2,
	   "upto 60: both");
	lsm_compaction_free(&c);

	/* In-place rewrites of one level. */
	synth_run(&m, 7, 4, "\x01" "a", "\x01z", 100, 1);
	ok(!lsm_compaction_pick_rewrite(&m, &o, 0, lsm_slice_make("", 0),
									lsm_slice_make("", 0), &c),
	   "rewrite: not level 0");
	ok(!lsm_compaction_pick_rewrite(&m, &o, 3, lsm_slice_make("", 0),
									lsm_slice_make("", 0), &c),
	   "rewrite of an empty level: false");
	ok(lsm_compaction_pick_rewrite(&m, &o, 4, lsm_slice_make("", 0),
								   lsm_slice_make("", 0), &c) &&
	   c.level == 4 && c.out_level == 4 && c.ninputs[0] == 2 &&
	   c.ninputs[1] == 0 && c.bottommost, "rewrite of all of L4, bottommost");
	lsm_compaction_free(&c);
	ok(lsm_compaction_pick_rewrite(&m, &o, 4, lsm_slice_make("\x01", 1),
								   lsm_slice_make("\x02", 1), &c) &&
	   c.ninputs[0] == 1 && c.inputs[0][0].id == 7,
	   "rewrite of the runs meeting [\\x01, \\x02): just that one");
	lsm_compaction_free(&c);
	ok(!lsm_compaction_pick_rewrite(&m, &o, 4, lsm_slice_make("\x03", 1),
									lsm_slice_make("\x04", 1), &c),
	   "a range no run meets: false");
	lsm_manifest_free(&m);
}

/* ---------------------------------------------------------------------
 * Runs on a file pager
 * ---------------------------------------------------------------------
 */

typedef struct env
{
	char		path[64];
	lsm_file_pager *fp;
	lsm_sst_options so;
	lsm_run_writer w;
	lsm_pageno	next_page;
	void	   *region;
	size_t		region_size;
} env;

static lsm_status
bump_alloc(void *arg, uint32_t npages, lsm_pageno *first)
{
	env		   *e = arg;

	*first = e->next_page;
	e->next_page += npages;
	return LSM_OK;
}

static void
env_open(env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "/tmp/test_compaction_%d.lsm", (int) getpid());
	unlink(e->path);
	if (lsm_file_pager_open(e->path, &e->fp) != LSM_OK)
		diag("cannot open %s", e->path);
	lsm_sst_options_default(&e->so);
	e->so.block_size = 1024;	/* several blocks per run */
	e->w.pager = lsm_file_pager_base(e->fp);
	e->w.sst_opts = &e->so;
	e->w.alloc = bump_alloc;
	e->w.alloc_arg = e;
	e->next_page = 1;			/* page 0 is the metapage */
	e->region_size = 8 * 1024 * 1024;
	e->region = malloc(e->region_size);
}

static void
env_close(env *e)
{
	lsm_file_pager_close(e->fp);
	unlink(e->path);
	free(e->region);
}

/* One version in the reference model. */
typedef struct ver
{
	int			key;
	uint64_t	seq;
	lsm_kind	kind;
	int			vlen;
} ver;

static void
key_of(char *buf, size_t n, int k)
{
	snprintf(buf, n, "key%06d", k);
}

static size_t
value_of(char *buf, size_t n, const ver *v)
{
	int			len = snprintf(buf, n, "v%llu:", (unsigned long long) v->seq);

	while (len < v->vlen && (size_t) len < n - 1)
	{
		buf[len] = (char) ('a' + (v->seq + (uint64_t) len) % 26);
		len++;
	}
	buf[len] = '\0';
	return (size_t) len;
}

/* Internal order: key ascending, seq descending (seqs are unique). */
static int
ver_cmp(const void *pa, const void *pb)
{
	const ver  *a = pa;
	const ver  *b = pb;

	if (a->key != b->key)
		return (a->key > b->key) - (a->key < b->key);
	return (a->seq < b->seq) - (a->seq > b->seq);
}

/* Builds one run at level from versions via the memtable and flush_iter. */
static bool
build_run(env *e, ver *v, int n, uint64_t id, uint32_t level, lsm_run_meta *meta)
{
	lsm_memtable *mt;
	lsm_iter   *it;
	lsm_status	st;

	if (lsm_memtable_init(e->region, e->region_size) != LSM_OK)
		return false;
	mt = lsm_memtable_at(e->region);
	for (int i = 0; i < n; i++)
	{
		char		k[32],
					val[256];
		size_t		vl = value_of(val, sizeof(val), &v[i]);

		key_of(k, sizeof(k), v[i].key);
		if (lsm_memtable_add(mt, lsm_slice_make(k, strlen(k)), v[i].seq, v[i].kind,
							 lsm_slice_make(val, vl)) != LSM_OK)
			return false;
	}
	it = lsm_memtable_iter_new(mt);
	memset(meta, 0, sizeof(*meta));
	st = lsm_flush_iter(&e->w, it, meta);
	lsm_iter_destroy(it);
	if (st != LSM_OK)
	{
		diag("flush_iter: %s", lsm_status_str(st));
		return false;
	}
	meta->id = id;
	meta->level = level;
	return true;
}

/*
 * The reference: for each key, versions newest first; find the newest
 * VALUE/TOMBSTONE with seq <= S; keep everything before it, keep it unless
 * it is a tombstone at the bottommost level, drop everything after it.
 */
static int
reference(const ver *sorted, int n, uint64_t S, bool bottommost, ver *out)
{
	int			nout = 0;

	for (int i = 0; i < n;)
	{
		int			j = i;
		int			decider = -1;

		while (j < n && sorted[j].key == sorted[i].key)
			j++;
		for (int x = i; x < j; x++)
			if (sorted[x].seq <= S && sorted[x].kind <= LSM_KIND_VALUE)
			{
				decider = x;
				break;
			}
		for (int x = i; x < j; x++)
		{
			if (decider >= 0 && x > decider)
				break;
			if (x == decider && bottommost && sorted[x].kind == LSM_KIND_TOMBSTONE)
				continue;
			out[nout++] = sorted[x];
		}
		i = j;
	}
	return nout;
}

/* Reads every entry of the outputs, in order, checking run boundaries. */
static int
read_outputs(env *e, lsm_run_meta *outs, int nouts, ver *got, int max,
			 bool *split_ok, bool *meta_ok)
{
	int			n = 0;
	lsm_buf		prev_largest_uk = {0};

	*split_ok = true;
	*meta_ok = true;
	for (int r = 0; r < nouts; r++)
	{
		lsm_sst    *t;
		lsm_iter   *it;
		uint64_t	count = 0;

		if (lsm_sst_open(lsm_file_pager_base(e->fp), &outs[r], &e->so, &t) != LSM_OK)
		{
			*meta_ok = false;
			continue;
		}
		if (r > 0 &&
			lsm_slice_compare(lsm_buf_slice(&prev_largest_uk),
							  lsm_ikey_user_key(lsm_buf_slice(&outs[r].smallest))) >= 0)
			*split_ok = false;
		lsm_buf_set(&prev_largest_uk, outs[r].largest.data, outs[r].largest.len - 8);
		it = lsm_sst_iter_new(t);
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		{
			lsm_ikey	ik;
			char		val[256];
			size_t		vl;

			if (!lsm_ikey_parse(lsm_iter_key(it), &ik) || n >= max)
			{
				*meta_ok = false;
				break;
			}
			got[n].key = 0;
			for (size_t d = 3; d < ik.user_key.len; d++)
				got[n].key = got[n].key * 10 + (ik.user_key.data[d] - '0');
			got[n].seq = ik.seq;
			got[n].kind = ik.kind;
			got[n].vlen = (int) lsm_iter_value(it).len;
			vl = value_of(val, sizeof(val), &got[n]);
			if (vl != lsm_iter_value(it).len ||
				memcmp(val, lsm_iter_value(it).data, vl) != 0)
				*meta_ok = false;
			n++;
			count++;
		}
		if (lsm_iter_status(it) != LSM_OK || count != outs[r].nentries ||
			outs[r].level != 1 || outs[r].id != 0)
			*meta_ok = false;
		lsm_iter_destroy(it);
		lsm_sst_close(t);
	}
	lsm_buf_free(&prev_largest_uk);
	return n;
}

static bool
same_versions(const ver *a, int na, const ver *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].key != b[i].key || a[i].seq != b[i].seq || a[i].kind != b[i].kind)
			return false;
	return true;
}

/* What a reader at snap sees through lsm_dbiter over a set of runs. */
static char *
snapshot_view(env *e, lsm_run_meta *runs, int nruns, uint64_t snap)
{
	lsm_iter  **kids = calloc((size_t) nruns + 1, sizeof(lsm_iter *));
	lsm_sst   **ssts = calloc((size_t) nruns + 1, sizeof(lsm_sst *));
	lsm_buf		out = {0};
	lsm_dbiter *it;

	for (int i = 0; i < nruns; i++)
	{
		lsm_sst_open(lsm_file_pager_base(e->fp), &runs[i], &e->so, &ssts[i]);
		kids[i] = lsm_sst_iter_new(ssts[i]);
	}
	it = lsm_dbiter_new(lsm_merge_iter_new(kids, nruns), snap, NULL);
	for (lsm_dbiter_seek(it, NULL); lsm_dbiter_valid(it); lsm_dbiter_next(it))
	{
		lsm_buf_append(&out, lsm_dbiter_key(it).data, lsm_dbiter_key(it).len);
		lsm_buf_append(&out, "=", 1);
		lsm_buf_append(&out, lsm_dbiter_value(it).data, lsm_dbiter_value(it).len);
		lsm_buf_append(&out, ";", 1);
	}
	if (lsm_dbiter_status(it) != LSM_OK)
		lsm_buf_append(&out, "ERROR", 5);
	lsm_buf_append(&out, "", 1);
	lsm_dbiter_destroy(it);
	for (int i = 0; i < nruns; i++)
		lsm_sst_close(ssts[i]);
	free(kids);
	free(ssts);
	return (char *) out.data;
}

typedef struct drop_ctx
{
	int			calls;
	int			modulus;		/* drop entries whose seq is a multiple */
} drop_ctx;

static lsm_filter_action
drop_multiples(void *arg, const lsm_ikey *key, lsm_slice value, lsm_kind *kind,
			   lsm_slice *new_value)
{
	drop_ctx   *d = arg;

	d->calls++;
	return d->modulus > 0 && key->seq % (uint64_t) d->modulus == 0 ?
		LSM_FILTER_DROP : LSM_FILTER_KEEP;
}

/*
 * A filter in the style of the table AM's garbage collection: XMAX deltas
 * whose seq is a multiple of 3 become tombstones (keeping their value, so
 * that the outputs stay checkable), LOCK deltas whose seq is a multiple of
 * 4 go; each output run is labelled with how many entries it got.
 */
typedef struct gc_ctx
{
	uint64_t	kept_total;
	uint64_t	kept_run;
	bool		order_ok;
	lsm_buf		last;
} gc_ctx;

static lsm_filter_action
gc_decide(void *arg, const lsm_ikey *key, lsm_slice value, lsm_kind *kind,
		  lsm_slice *new_value)
{
	if (key->kind == LSM_KIND_XMAX && key->seq % 3 == 0)
	{
		*kind = LSM_KIND_TOMBSTONE;
		*new_value = value;
		return LSM_FILTER_REWRITE;
	}
	if (key->kind == LSM_KIND_LOCK && key->seq % 4 == 0)
		return LSM_FILTER_DROP;
	return LSM_FILTER_KEEP;
}

static void
gc_kept(void *arg, const lsm_ikey *key, lsm_slice value)
{
	gc_ctx	   *g = arg;
	lsm_buf		cur = {0};

	lsm_ikey_append(&cur, key->user_key, key->seq, key->kind);
	if (g->last.len > 0 &&
		lsm_ikey_compare(lsm_buf_slice(&g->last), lsm_buf_slice(&cur)) >= 0)
		g->order_ok = false;
	lsm_buf_set(&g->last, cur.data, cur.len);
	lsm_buf_free(&cur);
	g->kept_total++;
	g->kept_run++;
}

static void
gc_run_aux(void *arg, uint64_t *aux, uint64_t *aux2)
{
	gc_ctx	   *g = arg;

	*aux = g->kept_run;
	*aux2 = g->kept_run * 2 + 1;
	g->kept_run = 0;
}

/* The model of gc_decide: applied to every version before the rules. */
static int
gc_model(const ver *sorted, int n, ver *out)
{
	int			nout = 0;

	for (int i = 0; i < n; i++)
	{
		ver			v = sorted[i];

		if (v.kind == LSM_KIND_XMAX && v.seq % 3 == 0)
			v.kind = LSM_KIND_TOMBSTONE;
		else if (v.kind == LSM_KIND_LOCK && v.seq % 4 == 0)
			continue;
		out[nout++] = v;
	}
	return nout;
}

/* A workload: older versions in three non-overlapping L1 runs, newer ones in two overlapping L0 runs. */
typedef struct workload
{
	ver		   *all;
	int			n;
	lsm_run_meta runs[5];
	lsm_compaction c;
} workload;

static bool
workload_build(env *e, workload *wl, int nkeys, int n)
{
	ver		   *l1[3];
	int			nl1[3] = {0};
	ver		   *l0[2];
	int			nl0[2] = {0};
	bool		good = true;

	wl->all = calloc((size_t) n, sizeof(ver));
	wl->n = n;
	for (int i = 0; i < 3; i++)
		l1[i] = calloc((size_t) n, sizeof(ver));
	for (int i = 0; i < 2; i++)
		l0[i] = calloc((size_t) n, sizeof(ver));
	for (int i = 0; i < n; i++)
	{
		ver		   *v = &wl->all[i];
		int			r = rnd_int(10);

		/* key 7 gets a long chain that no output may split */
		v->key = i % 6 == 0 ? 7 : rnd_int(nkeys);
		v->seq = (uint64_t) i + 1;
		v->kind = r < 6 ? LSM_KIND_VALUE : r < 8 ? LSM_KIND_TOMBSTONE :
			r < 9 ? LSM_KIND_XMAX : LSM_KIND_LOCK;
		v->vlen = 10 + rnd_int(60);
		if (i < n / 2)
		{
			int			part = v->key * 3 / nkeys;

			l1[part][nl1[part]++] = *v;
		}
		else
		{
			int			part = rnd_int(2);

			l0[part][nl0[part]++] = *v;
		}
	}
	for (int i = 0; i < 3 && good; i++)
		good = build_run(e, l1[i], nl1[i], (uint64_t) (10 + i), 1, &wl->runs[i]);
	for (int i = 0; i < 2 && good; i++)
		good = build_run(e, l0[i], nl0[i], (uint64_t) (20 + i), 0, &wl->runs[3 + i]);
	for (int i = 0; i < 3; i++)
		free(l1[i]);
	for (int i = 0; i < 2; i++)
		free(l0[i]);
	qsort(wl->all, (size_t) n, sizeof(ver), ver_cmp);

	memset(&wl->c, 0, sizeof(wl->c));
	wl->c.level = 0;
	wl->c.out_level = 1;
	wl->c.inputs[0] = &wl->runs[3];
	wl->c.ninputs[0] = 2;
	wl->c.inputs[1] = &wl->runs[0];
	wl->c.ninputs[1] = 3;
	wl->c.target_run_bytes = 8 * 1024;
	return good;
}

static void
workload_free(workload *wl)
{
	for (int i = 0; i < 5; i++)
		lsm_run_meta_free(&wl->runs[i]);
	free(wl->all);
}

static void
free_outs(lsm_run_meta *outs, int nouts)
{
	for (int i = 0; i < nouts; i++)
		lsm_run_meta_free(&outs[i]);
	free(outs);
}

static void
test_merge_rules(env *e)
{
	workload	wl;
	int			n = scale_small ? 1500 : 6000;
	uint64_t	snaps[5];
	ver		   *want = calloc((size_t) n, sizeof(ver));
	ver		   *got = calloc((size_t) n, sizeof(ver));
	int			cases = 0,
				model_bad = 0,
				split_bad = 0,
				meta_bad = 0,
				view_bad = 0,
				stats_bad = 0,
				multi_out = 0;

	ok(workload_build(e, &wl, 150, n), "5 input runs built through memtable + flush_iter");
	snaps[0] = 0;
	snaps[1] = (uint64_t) n / 3;
	snaps[2] = (uint64_t) n / 2;
	snaps[3] = (uint64_t) n * 9 / 10;
	snaps[4] = (uint64_t) n + 100;

	for (int s = 0; s < 5; s++)
		for (int bottom = 0; bottom < 2; bottom++)
		{
			lsm_run_meta *outs = NULL;
			int			nouts = 0;
			lsm_compaction_stats stats;
			int			nwant,
						ngot;
			bool		split_ok,
						meta_ok;
			lsm_status	st;

			cases++;
			wl.c.bottommost = bottom;
			st = lsm_compaction_merge(&e->w, &wl.c, snaps[s], NULL,
									  &outs, &nouts, &stats);
			if (st != LSM_OK)
			{
				diag("merge: %s", lsm_status_str(st));
				model_bad++;
				continue;
			}
			nwant = reference(wl.all, n, snaps[s], bottom, want);
			ngot = read_outputs(e, outs, nouts, got, n, &split_ok, &meta_ok);
			if (!same_versions(want, nwant, got, ngot))
			{
				model_bad++;
				diag("snapshot %llu bottommost %d: %d entries, model %d",
					 (unsigned long long) snaps[s], bottom, ngot, nwant);
			}
			if (!split_ok)
				split_bad++;
			if (!meta_ok)
				meta_bad++;
			if (nouts > 1)
				multi_out++;
			if (stats.entries_in != (uint64_t) n ||
				stats.entries_out != (uint64_t) nwant ||
				stats.dropped != (uint64_t) (n - nwant) ||
				stats.bytes_read != wl.runs[0].nbytes + wl.runs[1].nbytes +
				wl.runs[2].nbytes + wl.runs[3].nbytes + wl.runs[4].nbytes)
				stats_bad++;
			{
				uint64_t	written = 0;

				for (int i = 0; i < nouts; i++)
					written += outs[i].nbytes;
				if (written != stats.bytes_written)
					stats_bad++;
			}

			/* Every reader at or after the horizon sees the same rows. */
			for (int k = 0; k < 3; k++)
			{
				uint64_t	snap = k == 0 ? snaps[s] : k == 1 ? snaps[s] + 37 : (uint64_t) n + 1;
				char	   *before = snapshot_view(e, wl.runs, 5, snap);
				char	   *after = snapshot_view(e, outs, nouts, snap);

				if (strcmp(before, after) != 0 || strstr(before, "ERROR"))
				{
					view_bad++;
					diag("view at %llu differs (horizon %llu, bottommost %d)",
						 (unsigned long long) snap, (unsigned long long) snaps[s], bottom);
				}
				free(before);
				free(after);
			}
			free_outs(outs, nouts);
		}
	is_int(model_bad, 0, "%d merges (5 horizons x bottommost or not) match the model", cases);
	is_int(split_bad, 0, "outputs are ordered and never share a user key "
		   "(a key with %d versions included)", n / 6);
	ok(multi_out >= cases / 2, "small target size gives several outputs (%d of %d merges)",
	   multi_out, cases);
	is_int(meta_bad, 0, "output metas: level, id 0, entry counts, values intact");
	is_int(stats_bad, 0, "stats: entries in/out/dropped and bytes read/written add up");
	is_int(view_bad, 0, "readers at and after the horizon see identical rows before and after");

	/* Tombstones: bottommost drops those visible to all, otherwise kept. */
	{
		lsm_run_meta *outs;
		int			nouts,
					tomb[2] = {0, 0};
		bool		s1,
					s2;

		for (int bottom = 0; bottom < 2; bottom++)
		{
			int			ng;

			wl.c.bottommost = bottom;
			lsm_compaction_merge(&e->w, &wl.c, (uint64_t) n + 100, NULL,
								 &outs, &nouts, NULL);
			ng = read_outputs(e, outs, nouts, got, n, &s1, &s2);
			for (int i = 0; i < ng; i++)
				if (got[i].kind == LSM_KIND_TOMBSTONE)
					tomb[bottom]++;
			free_outs(outs, nouts);
		}
		ok(tomb[0] > 0, "not bottommost: newest tombstones survive (%d)", tomb[0]);
		is_int(tomb[1], 0, "bottommost with every version visible: no tombstone survives");
	}

	/* The drop callback sees exactly the entries the rules keep. */
	{
		drop_ctx	d = {0, 0};
		lsm_run_meta *outs;
		int			nouts,
					nwant,
					ngot,
					nfilt = 0;
		bool		s1,
					s2;
		uint64_t	S = (uint64_t) n / 2;

		lsm_compaction_filter f = {drop_multiples, NULL, NULL, &d};

		wl.c.bottommost = false;
		lsm_compaction_merge(&e->w, &wl.c, S, &f, &outs, &nouts, NULL);
		nwant = reference(wl.all, n, S, false, want);
		is_int(d.calls, nwant, "callback called once per entry that survives the rules");
		free_outs(outs, nouts);

		d.calls = 0;
		d.modulus = 5;
		lsm_compaction_merge(&e->w, &wl.c, S, &f, &outs, &nouts, NULL);
		/* a dropped entry is as if it never was: it shadows nothing */
		nwant = 0;
		for (int i = 0; i < n; i++)
			if (wl.all[i].seq % 5 != 0)
				got[nwant++] = wl.all[i];
		nfilt = reference(got, nwant, S, false, want);
		nwant = reference(wl.all, n, S, false, got);
		ngot = read_outputs(e, outs, nouts, got, n, &s1, &s2);
		ok(same_versions(want, nfilt, got, ngot) && nfilt < nwant,
		   "entries the callback drops are gone, the rest kept (%d of %d)", ngot, nwant);
		free_outs(outs, nouts);
	}

	/*
	 * Rewrites: a delta turned into a tombstone shadows the older versions
	 * of its key and goes at the bottommost level; labels count the entries
	 * of each output.
	 */
	for (int bottom = 0; bottom < 2; bottom++)
	{
		gc_ctx		g = {0, 0, true, {0}};
		lsm_compaction_filter f = {gc_decide, gc_kept, gc_run_aux, &g};
		lsm_compaction_stats cs;
		ver		   *model = calloc((size_t) n, sizeof(ver));
		lsm_run_meta *outs;
		int			nouts,
					nmodel,
					nwant,
					ngot;
		bool		s1,
					s2,
					aux_ok = true;
		uint64_t	entries = 0;

		wl.c.bottommost = bottom;
		wl.c.target_run_bytes = 1024;
		is_int(lsm_compaction_merge(&e->w, &wl.c, LSM_MAX_SEQ, &f, &outs, &nouts, &cs),
			   LSM_OK, "merge with a rewriting filter (bottommost %d)", bottom);
		nmodel = gc_model(wl.all, n, model);
		nwant = reference(model, nmodel, LSM_MAX_SEQ, bottom, want);
		ngot = read_outputs(e, outs, nouts, got, n, &s1, &s2);
		ok(same_versions(want, nwant, got, ngot) && s1 && s2,
		   "outputs equal the model: rewrites shadow, drops do not (%d entries)", ngot);
		for (int i = 0; i < nouts; i++)
		{
			if (outs[i].aux != outs[i].nentries ||
				outs[i].aux2 != outs[i].nentries * 2 + 1)
				aux_ok = false;
			entries += outs[i].nentries;
		}
		ok(aux_ok && nouts > 1, "each of %d outputs is labelled from its own entries", nouts);
		ok(g.kept_total == entries && g.kept_run == 0 && g.order_ok,
		   "kept sees every entry written, in order");
		ok(cs.rewritten > 0 && cs.entries_out == entries &&
		   cs.entries_in == cs.entries_out + cs.dropped,
		   "stats count rewrites (%llu) and drops", (unsigned long long) cs.rewritten);
		free_outs(outs, nouts);
		lsm_buf_free(&g.last);
		free(model);
		wl.c.target_run_bytes = 8 * 1024;
	}

	free(want);
	free(got);
	workload_free(&wl);
}

static void
test_apply(env *e)
{
	workload	wl;
	lsm_manifest m;
	lsm_run_meta *outs;
	int			nouts;
	lsm_buf		before = {0},
				after = {0};
	char		msg[256];
	bool		ok_ids = true;

	workload_build(e, &wl, 80, scale_small ? 800 : 3000);
	lsm_manifest_init(&m);
	for (int i = 0; i < 5; i++)
		lsm_manifest_add_run(&m, &wl.runs[i]);
	m.next_run_id = 30;
	ok(lsm_manifest_check(&m, msg, sizeof(msg)) == LSM_OK, "input manifest is valid %s", msg);

	wl.c.bottommost = true;
	is_int(lsm_compaction_merge(&e->w, &wl.c, 0, NULL, &outs, &nouts, NULL),
		   LSM_OK, "merge for apply");

	/* A compaction naming a run the manifest lacks changes nothing. */
	{
		lsm_manifest other;
		uint64_t	saved = wl.runs[1].id;

		lsm_manifest_copy(&other, &m);
		lsm_manifest_serialize(&other, &before);
		wl.runs[1].id = 99;
		is_int(lsm_manifest_apply_compaction(&other, &wl.c, outs, nouts, 5),
			   LSM_INVALID, "apply with an unknown input run fails");
		lsm_manifest_serialize(&other, &after);
		ok(before.len == after.len && memcmp(before.data, after.data, before.len) == 0,
		   "and leaves the manifest unchanged");
		wl.runs[1].id = saved;
		lsm_manifest_free(&other);
	}

	is_int(lsm_manifest_apply_compaction(&m, &wl.c, outs, nouts, 5), LSM_OK, "apply");
	is_int(m.levels[0].nruns, 0, "L0 emptied");
	is_int(m.levels[1].nruns, nouts, "L1 holds exactly the outputs");
	for (int i = 0; i < nouts; i++)
		if (outs[i].id != 30 + (uint64_t) i || m.levels[1].runs[i].id != 30 + (uint64_t) i)
			ok_ids = false;
	ok(ok_ids, "outputs got ids from next_run_id, in key order");
	is_int(m.next_run_id, 30 + nouts, "next_run_id advanced");
	{
		uint64_t	freed = 0;
		bool		horizons = true;

		for (int i = 0; i < m.nfree; i++)
		{
			freed += m.free[i].npages;
			if (m.free[i].horizon != 5)
				horizons = false;
		}
		is_int(freed, wl.runs[0].npages + wl.runs[1].npages + wl.runs[2].npages +
			   wl.runs[3].npages + wl.runs[4].npages, "every input page is freed");
		ok(horizons, "with the given horizon");
	}
	ok(lsm_manifest_check(&m, msg, sizeof(msg)) == LSM_OK, "result passes check %s", msg);

	free_outs(outs, nouts);
	lsm_buf_free(&before);
	lsm_buf_free(&after);
	lsm_manifest_free(&m);
	workload_free(&wl);
}

/* A pick -> merge -> apply loop keeps the manifest valid and the data intact. */
static void
test_loop(env *e)
{
	lsm_compaction_options o;
	lsm_manifest m;
	int			nflush = scale_small ? 10 : 24;
	int			per = 400;
	int			compactions = 0;
	int			moves = 0;
	bool		valid = true;
	ver		   *all = calloc((size_t) (nflush * per), sizeof(ver));
	int			nall = 0;
	char	   *expect;
	char	   *got;
	lsm_compaction c;

	lsm_compaction_options_default(&o);
	o.l0_trigger = 3;
	o.level1_bytes = 40 * 1024;
	o.ratio = 3;
	o.target_run_bytes = 16 * 1024;
	o.nlevels = 4;
	lsm_manifest_init(&m);

	for (int f = 0; f < nflush; f++)
	{
		lsm_run_meta meta;
		ver		   *batch = &all[nall];

		for (int i = 0; i < per; i++)
		{
			ver		   *v = &all[nall++];

			v->key = rnd_int(20000);
			v->seq = (uint64_t) nall;
			v->kind = rnd_int(5) == 0 ? LSM_KIND_TOMBSTONE : LSM_KIND_VALUE;
			v->vlen = 20 + rnd_int(40);
		}
		build_run(e, batch, per, m.next_run_id++, 0, &meta);
		lsm_manifest_add_run(&m, &meta);
		lsm_run_meta_free(&meta);
		while (lsm_compaction_pick(&m, &o, &c))
		{
			lsm_run_meta *outs = NULL;
			int			nouts = 0;

			if (c.move)
			{
				moves++;
				if (lsm_manifest_apply_move(&m, &c) != LSM_OK ||
					lsm_manifest_check(&m, NULL, 0) != LSM_OK)
					valid = false;
			}
			else if (lsm_compaction_merge(&e->w, &c, (uint64_t) nall, NULL,
										  &outs, &nouts, NULL) != LSM_OK ||
					 lsm_manifest_apply_compaction(&m, &c, outs, nouts, 0) != LSM_OK ||
					 lsm_manifest_check(&m, NULL, 0) != LSM_OK)
				valid = false;
			free_outs(outs, nouts);
			lsm_compaction_free(&c);
			compactions++;
			if (!valid || compactions > 1000)
				break;
		}
	}
	ok(valid && compactions > 0,
	   "%d picked compactions (%d of them moves) kept the manifest valid",
	   compactions, moves);
	ok(m.levels[2].nruns > 0, "data reached L2");

	/* Everything the levels hold now reads like the model. */
	{
		int			nr = lsm_manifest_nruns(&m),
					k = 0;
		lsm_run_meta *runs = calloc((size_t) nr + 1, sizeof(lsm_run_meta));
		lsm_buf		b = {0};

		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			for (int i = 0; i < m.levels[l].nruns; i++)
				runs[k++] = m.levels[l].runs[i];
		got = snapshot_view(e, runs, nr, (uint64_t) nall);
		free(runs);

		qsort(all, (size_t) nall, sizeof(ver), ver_cmp);
		for (int i = 0; i < nall; i++)
		{
			char		key[32],
						val[256];

			if (i > 0 && all[i].key == all[i - 1].key)
				continue;
			if (all[i].kind != LSM_KIND_VALUE)
				continue;
			key_of(key, sizeof(key), all[i].key);
			value_of(val, sizeof(val), &all[i]);
			lsm_buf_append(&b, key, strlen(key));
			lsm_buf_append(&b, "=", 1);
			lsm_buf_append(&b, val, strlen(val));
			lsm_buf_append(&b, ";", 1);
		}
		lsm_buf_append(&b, "", 1);
		expect = (char *) b.data;
		ok(strcmp(expect, got) == 0, "after %d flushes the levels read like the model", nflush);
		free(expect);
		free(got);
	}
	while (lsm_compaction_pick_all(&m, &o, &c))
	{
		lsm_run_meta *outs;
		int			nouts;

		lsm_compaction_merge(&e->w, &c, (uint64_t) nall, NULL, &outs, &nouts, NULL);
		lsm_manifest_apply_compaction(&m, &c, outs, nouts, 0);
		free_outs(outs, nouts);
		lsm_compaction_free(&c);
	}
	{
		int			nonempty = 0;
		uint64_t	entries = 0;
		int			last = 0;

		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			if (m.levels[l].nruns)
			{
				nonempty++;
				last = l;
			}
		for (int i = 0; i < m.levels[last].nruns; i++)
			entries += m.levels[last].runs[i].nentries;
		ok(nonempty == 1 && last > 0, "pick_all loop leaves one level (L%d)", last);
		ok(lsm_manifest_check(&m, NULL, 0) == LSM_OK, "which passes check");
		{
			int			live = 0;

			for (int i = 0; i < nall; i++)
				if ((i == 0 || all[i].key != all[i - 1].key) &&
					all[i].kind == LSM_KIND_VALUE)
					live++;
			is_int(entries, live, "holding exactly one entry per live key, no tombstones");
		}
	}
	lsm_manifest_free(&m);
	free(all);
}

static void
test_flush_empty(env *e)
{
	lsm_memtable *mt;
	lsm_iter   *it;
	lsm_run_meta meta;

	lsm_memtable_init(e->region, e->region_size);
	mt = lsm_memtable_at(e->region);
	it = lsm_memtable_iter_new(mt);
	memset(&meta, 0, sizeof(meta));
	is_int(lsm_flush_iter(&e->w, it, &meta), LSM_NOT_FOUND,
		   "flushing an empty iterator writes nothing: NOT_FOUND");
	lsm_iter_destroy(it);
	lsm_run_meta_free(&meta);
}

/*
 * A fresh store at a new name made from template path (XXXXXX), in a small
 * configuration (64 kB memtables, level 1 of 640 kB, 32 kB runs, no
 * compression) so that a few hundred thousand entries reach level 2.
 */
static lsm_db *
open_small_db(char *path, bool families)
{
	int			fd = mkstemp(path);
	lsm_db_options o;
	lsm_db	   *db;

	close(fd);
	unlink(path);
	lsm_db_options_default(&o);
	o.memtable_size = 64 << 10;
	o.compaction.level1_bytes = 640 << 10;
	o.compaction.target_run_bytes = 32 << 10;
	o.compaction.families = families;
	o.sst.compress = false;
	return lsm_db_open(path, &o, &db) == LSM_OK ? db : NULL;
}

/*
 * Puts rows entries (8-byte keys: random, or ascending) into a small-config
 * store and returns its write amplification; *moves gets the runs moved
 * down without a merge, *readable whether every key put reads back.
 */
static double
put_rows(long rows, bool ascending, uint64_t *moves, bool *readable)
{
	char		path[] = "/tmp/lsm_wa_XXXXXX";
	lsm_db	   *db = open_small_db(path, false);
	lsm_db_stats st;
	bool		fine = true;
	uint64_t	seed = tap_rand();
	uint64_t	rng;
	lsm_buf		val = {0};

	if (db == NULL)
		return -1;
	for (int pass = 0; pass < 2 && fine; pass++)
	{
		rng = seed;
		for (long i = 0; i < rows && fine; i++)
		{
			uint8_t		key[8];
			uint8_t		v[24];

			for (int j = 0; j < 8; j++)
			{
				rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
				key[j] = ascending ? (uint8_t) ((uint64_t) i >> (56 - 8 * j)) :
					(uint8_t) (rng >> 56);
			}
			memset(v, (int) (i & 0xFF), sizeof(v));
			if (pass == 0)
				fine = lsm_db_put(db, lsm_slice_make(key, 8),
								  lsm_slice_make(v, 24)) == LSM_OK;
			else
				fine = lsm_db_get(db, lsm_slice_make(key, 8), &val) == LSM_OK &&
					val.len == 24 && val.data[0] == (uint8_t) (i & 0xFF);
		}
	}
	*readable = fine;
	st = lsm_db_get_stats(db);
	*moves = st.moves;
	lsm_db_close(db);
	lsm_buf_free(&val);
	unlink(path);
	return (double) (st.bytes_flushed + st.bytes_compacted) /
		(double) (st.user_bytes ? st.user_bytes : 1);
}

/*
 * Write amplification under uniform random keys stays where leveled
 * compaction with ratio 10 puts it: about 1.4 for the flush, ~3.5 into
 * L1 and at most ~11 per deeper level, so under 16 with data reaching L2.
 * Picking L1 runs in id order took the lowest keys again and again and
 * reached 19 at 100000 rows and 41 at 250000, growing with the data.
 * Under ascending keys no run overlaps the next level, so runs move down
 * without a merge: a flush and the level-0 merge, 2.4 here (each writes
 * 1.2 bytes per user byte of 32), where rewriting them at every level gave
 * 3.4 at 100000 rows and 3.8 at 250000, one more rewrite with each level.
 */
static void
test_write_amplification(void)
{
	long		rows = scale_small ? 100000 : 250000;
	uint64_t	moves;
	bool		readable;
	double		wa;

	wa = put_rows(rows, false, &moves, &readable);
	diag("random keys: write amplification %.2f over %ld rows, %llu runs moved",
		 wa, rows, (unsigned long long) moves);
	ok(readable, "%ld random-key puts, each reads back", rows);
	ok(wa > 0 && wa < 16.0, "write amplification %.2f < 16", wa);

	wa = put_rows(rows, true, &moves, &readable);
	diag("ascending keys: write amplification %.2f over %ld rows, %llu runs moved",
		 wa, rows, (unsigned long long) moves);
	ok(readable, "%ld ascending-key puts, each reads back", rows);
	ok(moves > 0, "runs moved down without a merge (%llu)", (unsigned long long) moves);
	ok(wa > 0 && wa < 2.5, "write amplification %.2f < 2.5", wa);
}

/*
 * Rows as lsm_am stores them: per row a data key (family 2: random, or
 * ascending) and a row-map key (family 1: the ascending row number), in a
 * small-config store with or without families.  Returns the bytes
 * compaction wrote per byte flushes wrote; *readable says whether every
 * key reads back (a level that broke its order would not).
 */
static double
put_two_families(long rows, bool ascending, bool families, bool *readable)
{
	char		path[] = "/tmp/lsm_fam_XXXXXX";
	lsm_db	   *db = open_small_db(path, families);
	lsm_db_stats st;
	bool		fine = true;
	uint64_t	seed = tap_rand();
	lsm_buf		val = {0};

	if (db == NULL)
		return -1;
	for (int pass = 0; pass < 2 && fine; pass++)
	{
		uint64_t	rng = seed;

		for (long i = 0; i < rows && fine; i++)
		{
			uint8_t		dkey[9],
						mkey[9];
			uint8_t		v[16];

			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			dkey[0] = 2;
			mkey[0] = 1;
			for (int j = 0; j < 8; j++)
			{
				dkey[j + 1] = ascending ? (uint8_t) ((uint64_t) i >> (56 - 8 * j)) :
					(uint8_t) (rng >> (56 - 8 * j));
				mkey[j + 1] = (uint8_t) ((uint64_t) i >> (56 - 8 * j));
			}
			memset(v, (int) (i & 0xFF), sizeof(v));
			if (pass == 0)
				fine = lsm_db_put(db, lsm_slice_make(dkey, 9), lsm_slice_make(v, 16)) == LSM_OK &&
					lsm_db_put(db, lsm_slice_make(mkey, 9), lsm_slice_make(dkey, 9)) == LSM_OK;
			else
				fine = lsm_db_get(db, lsm_slice_make(dkey, 9), &val) == LSM_OK &&
					val.len == 16 && val.data[0] == (uint8_t) (i & 0xFF) &&
					lsm_db_get(db, lsm_slice_make(mkey, 9), &val) == LSM_OK &&
					val.len == 9 && memcmp(val.data, dkey, 9) == 0;
		}
	}
	*readable = fine;
	st = lsm_db_get_stats(db);
	lsm_db_close(db);
	lsm_buf_free(&val);
	unlink(path);
	return (double) st.bytes_compacted / (double) (st.bytes_flushed ? st.bytes_flushed : 1);
}

/*
 * Two families, each ascending: every level-0 run spans the newest keys of
 * both.  Judged as one range it takes in all of level 1's data keys; with
 * families only the runs it meets, so compaction writes about what flushes
 * wrote (level 0 merged once, then moves).  Random data keys: the same
 * store reads back either way.
 */
static void
test_two_families(void)
{
	long		rows = scale_small ? 40000 : 100000;
	bool		readable;
	double		one,
				fam;

	one = put_two_families(rows, true, false, &readable);
	ok(readable, "ascending, one range: every key reads back");
	fam = put_two_families(rows, true, true, &readable);
	ok(readable, "ascending, families: every key reads back");
	diag("ascending two-family rows: compaction wrote %.2f (one range) and %.2f "
		 "(families) bytes per byte flushed", one, fam);
	ok(fam < 1.5, "with families compaction writes %.2f < 1.5 bytes per byte flushed", fam);
	ok(one > 2 * fam, "one range writes over twice that (%.2f)", one);
	fam = put_two_families(rows, false, true, &readable);
	ok(readable, "random data keys, families: every key reads back (%.2f)", fam);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");
	env			e;

	tap_rng = 0x853c49e6748fea9bULL;	/* this test's own sequence */
	scale_small = scale && strcmp(scale, "small") == 0;
	test_picker();
	test_split_keys();
	test_pick_families();
	test_pick_all();
	test_write_amplification();
	test_two_families();
	env_open(&e);
	test_flush_empty(&e);
	test_merge_rules(&e);
	test_apply(&e);
	test_loop(&e);
	env_close(&e);
	return done_testing();
}
