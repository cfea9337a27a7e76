/*
 * test_manifest.c - run order per level, the free-extent list, invariant
 * checks, serialisation round trips, and a deserialisation fuzz (run under
 * ASan by make check-asan) that must never crash or accept a broken image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "manifest.h"
#include "tap.h"

static int	scale_small;


static void
make_run(lsm_run_meta *r, uint64_t id, uint32_t level, const char *lo,
		 const char *hi, lsm_pageno first, uint32_t npages, uint64_t max_seq)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->level = level;
	r->first_page = first;
	r->npages = npages;
	r->nbytes = (uint64_t) npages * 8000;
	r->nentries = id * 10;
	r->min_seq = max_seq / 2;
	r->max_seq = max_seq;
	r->aux = id + 1000;
	r->aux2 = (id << 40) + 7;
	lsm_ikey_append(&r->smallest, lsm_slice_make(lo, strlen(lo)), max_seq, LSM_KIND_VALUE);
	lsm_ikey_append(&r->largest, lsm_slice_make(hi, strlen(hi)), r->min_seq, LSM_KIND_TOMBSTONE);
}

/* Adds a run built from the arguments; returns add_run's status. */
static lsm_status
add(lsm_manifest *m, uint64_t id, uint32_t level, const char *lo,
	const char *hi, lsm_pageno first, uint32_t npages, uint64_t max_seq)
{
	lsm_run_meta r;
	lsm_status	st;

	make_run(&r, id, level, lo, hi, first, npages, max_seq);
	st = lsm_manifest_add_run(m, &r);
	lsm_run_meta_free(&r);
	if (id >= m->next_run_id)
		m->next_run_id = id + 1;
	return st;
}

static bool
check_ok(const lsm_manifest *m)
{
	char		msg[256];
	lsm_status	st = lsm_manifest_check(m, msg, sizeof(msg));

	if (st != LSM_OK)
		diag("check: %s", msg);
	return st == LSM_OK;
}

static bool
check_fails(const lsm_manifest *m, const char *expect_substr)
{
	char		msg[256];
	lsm_status	st = lsm_manifest_check(m, msg, sizeof(msg));

	if (st == LSM_OK)
		return false;
	if (strstr(msg, expect_substr) == NULL)
	{
		diag("message \"%s\" lacks \"%s\"", msg, expect_substr);
		return false;
	}
	return true;
}

/* A manifest with runs on three levels and a few free extents. */
static void
build_sample(lsm_manifest *m)
{
	lsm_manifest_init(m);
	add(m, 1, 0, "d", "m", 10, 2, 50);
	add(m, 2, 0, "a", "z", 12, 3, 90);
	add(m, 3, 0, "c", "k", 15, 1, 70);
	add(m, 4, 1, "m", "p", 20, 4, 30);
	add(m, 5, 1, "a", "f", 24, 4, 20);
	add(m, 6, 1, "g", "k", 28, 4, 25);
	add(m, 7, 3, "b", "y", 40, 8, 10);
	lsm_manifest_free_extent(m, 100, 5, 3);
	lsm_manifest_free_extent(m, 60, 2, 4);
	m->version = 17;
	m->last_seq = 99;
	m->flushed_seq = 90;
	m->log_head = 77;
	m->aux = 12345;
}

static void
test_order(void)
{
	lsm_manifest m;
	int			order_ok;

	build_sample(&m);
	order_ok = m.levels[0].nruns == 3 && m.levels[0].runs[0].id == 2 &&
		m.levels[0].runs[1].id == 3 && m.levels[0].runs[2].id == 1;
	ok(order_ok, "L0 is newest first by max_seq");
	order_ok = m.levels[1].nruns == 3 && m.levels[1].runs[0].id == 5 &&
		m.levels[1].runs[1].id == 6 && m.levels[1].runs[2].id == 4;
	ok(order_ok, "L1 is sorted by smallest key");
	add(&m, 8, 0, "e", "f", 70, 1, 70);
	ok(m.levels[0].runs[1].id == 8 && m.levels[0].runs[2].id == 3,
	   "equal max_seq in L0: higher id first");
	is_int(lsm_manifest_nruns(&m), 8, "nruns counts every level");
	is_int(lsm_manifest_level_bytes(&m, 1), 12 * 8000, "level_bytes sums nbytes");
	ok(check_ok(&m), "sample manifest passes check");

	is_int(lsm_manifest_remove_run(&m, 1, 6), LSM_OK, "remove a run");
	is_int(lsm_manifest_remove_run(&m, 1, 6), LSM_NOT_FOUND, "removing it again: NOT_FOUND");
	is_int(lsm_manifest_remove_run(&m, 0, 4), LSM_NOT_FOUND, "a run is removed only from its level");
	ok(m.levels[1].nruns == 2 && m.levels[1].runs[0].id == 5 &&
	   m.levels[1].runs[1].id == 4, "L1 order kept after removal");

	{
		lsm_run_meta bad;

		make_run(&bad, 9, LSM_MAX_LEVELS, "a", "b", 200, 1, 1);
		is_int(lsm_manifest_add_run(&m, &bad), LSM_INVALID, "a level past the last is refused");
		lsm_run_meta_free(&bad);
	}
	lsm_manifest_free(&m);
}

static void
test_check(void)
{
	lsm_manifest m;

	build_sample(&m);
	add(&m, 9, 1, "f", "g", 200, 1, 5);
	ok(check_fails(&m, "overlap"), "check: L1 runs sharing a user key at the edges");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 9, 3, "x", "zz", 200, 1, 5);
	ok(check_fails(&m, "overlap"), "check: L3 runs overlapping");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 5, 2, "a", "b", 200, 1, 5);
	ok(check_fails(&m, "twice"), "check: duplicate run id across levels");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 9, 2, "a", "b", 13, 1, 5);
	ok(check_fails(&m, "overlap"), "check: a run's extent overlapping another run");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 9, 2, "a", "b", 104, 2, 5);
	ok(check_fails(&m, "overlap"), "check: a run's extent overlapping a free extent");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 9, 2, "a", "b", 0, 2, 5);
	ok(check_fails(&m, "page 0"), "check: an extent on the metapage");
	lsm_manifest_free(&m);

	build_sample(&m);
	m.next_run_id = 7;
	ok(check_fails(&m, "next_run_id"), "check: run id >= next_run_id");
	lsm_manifest_free(&m);

	build_sample(&m);
	add(&m, 9, 2, "q", "b", 200, 1, 5);
	ok(check_fails(&m, "smallest key > largest"), "check: smallest > largest");
	lsm_manifest_free(&m);

	build_sample(&m);
	{
		lsm_run_meta tmp = m.levels[0].runs[0];

		m.levels[0].runs[0] = m.levels[0].runs[1];
		m.levels[0].runs[1] = tmp;
	}
	ok(check_fails(&m, "out of order"), "check: L0 not newest first");
	lsm_manifest_free(&m);

	build_sample(&m);
	m.levels[1].runs[1].level = 2;
	ok(check_fails(&m, "says level"), "check: a run's level field disagrees");
	lsm_manifest_free(&m);
}

static void
test_free_extents(void)
{
	lsm_manifest m;
	lsm_pageno	p = 0;

	lsm_manifest_init(&m);
	lsm_manifest_free_extent(&m, 10, 5, 1);
	lsm_manifest_free_extent(&m, 20, 5, 1);
	is_int(m.nfree, 2, "two separate extents");
	lsm_manifest_free_extent(&m, 15, 5, 1);
	ok(m.nfree == 1 && m.free[0].first == 10 && m.free[0].npages == 15,
	   "the gap filled with the same horizon coalesces all three");
	lsm_manifest_free_extent(&m, 25, 3, 2);
	lsm_manifest_free_extent(&m, 5, 5, 2);
	ok(m.nfree == 3 && m.free[0].first == 5 && m.free[1].first == 10 &&
	   m.free[2].first == 25, "different horizons do not coalesce; list stays sorted");
	lsm_manifest_free_extent(&m, 28, 2, 2);
	ok(m.nfree == 3 && m.free[2].npages == 5, "appending to an equal-horizon neighbour");
	is_int(lsm_manifest_free_extent(&m, 12, 1, 1), LSM_INVALID, "freeing a free page is refused");
	is_int(lsm_manifest_free_extent(&m, 3, 3, 2), LSM_INVALID, "overlapping the next extent is refused");
	is_int(lsm_manifest_free_extent(&m, 0, 1, 0), LSM_INVALID, "page 0 is never free");
	is_int(lsm_manifest_free_extent(&m, 40, 0, 0), LSM_INVALID, "empty extents are refused");
	ok(check_ok(&m), "free list passes check");

	is_int(lsm_manifest_take_extent(&m, 4, 0, &p), LSM_NOT_FOUND,
		   "nothing is reusable below every horizon");
	is_int(lsm_manifest_take_extent(&m, 4, 1, &p), LSM_OK, "horizon 1 makes [10, 25) reusable");
	is_int(p, 10, "first fit takes from the front of the extent");
	ok(m.free[1].first == 14 && m.free[1].npages == 11, "and splits it");
	is_int(lsm_manifest_take_extent(&m, 6, 2, &p), LSM_OK, "6 pages at horizon 2");
	is_int(p, 14, "first fit skips the 5-page extent at 5");
	is_int(lsm_manifest_take_extent(&m, 5, 2, &p), LSM_OK, "exactly 5 pages");
	is_int(p, 5, "the 5-page extent fits now");
	is_int(m.nfree, 2, "an exhausted extent leaves the list");
	is_int(lsm_manifest_take_extent(&m, 100, 9, &p), LSM_NOT_FOUND, "too large: NOT_FOUND");
	lsm_manifest_free(&m);
}

static void
test_clip_free(void)
{
	lsm_manifest m;

	lsm_manifest_init(&m);
	lsm_manifest_free_extent(&m, 10, 5, 0);
	lsm_manifest_free_extent(&m, 20, 10, 1);
	lsm_manifest_free_extent(&m, 40, 4, 0);
	is_int((int) lsm_manifest_clip_free(&m, 50), 0, "nothing past the end: nothing dropped");
	is_int(m.nfree, 3, "and the list is whole");
	is_int((int) lsm_manifest_clip_free(&m, 25), 4 + 5, "pages 25..29 and 40..43 dropped");
	ok(m.nfree == 2 && m.free[1].first == 20 && m.free[1].npages == 5,
	   "the extent across the end is cut at it, the one past it is gone");
	is_int((int) lsm_manifest_clip_free(&m, 10), 5 + 5, "an end at an extent's first page drops it");
	is_int(m.nfree, 0, "no free extent is left");
	ok(check_ok(&m), "the clipped list passes check");
	lsm_manifest_free(&m);
}

static bool
runs_equal(const lsm_run_meta *a, const lsm_run_meta *b)
{
	return a->id == b->id && a->level == b->level &&
		a->first_page == b->first_page && a->npages == b->npages &&
		a->nbytes == b->nbytes && a->nentries == b->nentries &&
		a->min_seq == b->min_seq && a->max_seq == b->max_seq &&
		a->aux == b->aux && a->aux2 == b->aux2 &&
		lsm_slice_compare(lsm_buf_slice(&a->smallest), lsm_buf_slice(&b->smallest)) == 0 &&
		lsm_slice_compare(lsm_buf_slice(&a->largest), lsm_buf_slice(&b->largest)) == 0 &&
		lsm_slice_compare(lsm_buf_slice(&a->split_lo), lsm_buf_slice(&b->split_lo)) == 0 &&
		lsm_slice_compare(lsm_buf_slice(&a->split_hi), lsm_buf_slice(&b->split_hi)) == 0;
}

static bool
manifests_equal(const lsm_manifest *a, const lsm_manifest *b)
{
	if (a->version != b->version || a->next_run_id != b->next_run_id ||
		a->last_seq != b->last_seq || a->flushed_seq != b->flushed_seq ||
		a->log_head != b->log_head || a->aux != b->aux || a->nfree != b->nfree)
		return false;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
	{
		if (a->levels[l].nruns != b->levels[l].nruns)
			return false;
		for (int i = 0; i < a->levels[l].nruns; i++)
			if (!runs_equal(&a->levels[l].runs[i], &b->levels[l].runs[i]))
				return false;
	}
	for (int i = 0; i < a->nfree; i++)
		if (a->free[i].first != b->free[i].first ||
			a->free[i].npages != b->free[i].npages ||
			a->free[i].horizon != b->free[i].horizon)
			return false;
	return true;
}

static void
test_serialize(void)
{
	lsm_manifest m,
				back,
				copy,
				empty;
	lsm_buf		img = {0},
				img2 = {0};

	build_sample(&m);
	is_int(lsm_manifest_serialize(&m, &img), LSM_OK, "serialize");
	is_int(lsm_get_u32(img.data), LSM_MANIFEST_MAGIC, "image starts with the magic");
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_OK, "deserialize");
	ok(manifests_equal(&m, &back), "round trip keeps every field");
	lsm_manifest_serialize(&back, &img2);
	ok(img.len == img2.len && memcmp(img.data, img2.data, img.len) == 0,
	   "re-serialising gives the same bytes");
	lsm_manifest_free(&back);

	is_int(lsm_manifest_copy(&copy, &m), LSM_OK, "copy");
	ok(manifests_equal(&m, &copy), "copy is equal");
	lsm_manifest_remove_run(&copy, 0, 2);
	ok(m.levels[0].nruns == 3, "and independent of the original");
	lsm_manifest_free(&copy);

	/* Zero tail, as when the image is read back as whole pages. */
	lsm_buf_append(&img, "\0\0\0\0\0\0\0\0", 8);
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_OK,
		   "bytes after the checksum are ignored");
	lsm_manifest_free(&back);
	img.len -= 9;
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_CORRUPT,
		   "a truncated image is CORRUPT");
	ok(lsm_manifest_nruns(&back) == 0, "and leaves an empty manifest");

	lsm_manifest_init(&empty);
	img.len = 0;
	lsm_manifest_serialize(&empty, &img);
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_OK,
		   "an empty manifest round-trips");
	ok(manifests_equal(&empty, &back), "equal after the trip");
	lsm_manifest_free(&back);

	/* Structurally sound, checksummed, but breaking an invariant. */
	{
		lsm_manifest broken;

		build_sample(&broken);
		add(&broken, 9, 1, "f", "g", 200, 1, 5);	/* overlaps run 5 */
		img.len = 0;
		lsm_manifest_serialize(&broken, &img);
		is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_CORRUPT,
			   "deserialize runs check: an overlapping image is CORRUPT");
		lsm_manifest_free(&broken);
	}
	lsm_manifest_free(&m);
	lsm_buf_free(&img);
	lsm_buf_free(&img2);
}

/* Recomputes length and checksum so the mutation reaches the parser. */
static void
fix_frame(uint8_t *p, size_t len)
{
	uint32_t	body;

	if (len < 16)
		return;
	body = (uint32_t) (len - 16);
	lsm_put_u32(p + 4, body);
	lsm_put_u64(p + 8 + body, XXH3_64bits(p + 8, body));
}

/* A run's split keys: checked, serialised, and absent from first-format images. */
static void
test_splits(void)
{
	lsm_manifest m,
				back;
	lsm_run_meta r;
	lsm_buf		img = {0};

	lsm_manifest_init(&m);
	make_run(&r, 1, 0, "a5", "b99", 10, 2, 50);
	lsm_buf_set(&r.split_lo, "a9", 2);
	lsm_buf_set(&r.split_hi, "b90", 3);
	is_int(lsm_manifest_add_run(&m, &r), LSM_OK, "a run with split keys a9 | b90");
	lsm_run_meta_free(&r);
	m.next_run_id = 2;
	ok(check_ok(&m), "passes check");
	ok(lsm_run_meta_has_split(&m.levels[0].runs[0]), "has its split");
	lsm_manifest_serialize(&m, &img);
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_OK, "round trip");
	ok(manifests_equal(&m, &back), "keeps the split keys");
	lsm_manifest_free(&back);

	/* One split key, or split keys outside the run or out of order. */
	lsm_buf_set(&m.levels[0].runs[0].split_hi, "", 0);
	ok(check_fails(&m, "one split key"), "one split key fails check");
	lsm_buf_set(&m.levels[0].runs[0].split_hi, "c", 1);
	ok(check_fails(&m, "split keys not inside"), "a split key past largest fails check");
	lsm_buf_set(&m.levels[0].runs[0].split_lo, "a1", 2);
	lsm_buf_set(&m.levels[0].runs[0].split_hi, "a0", 2);
	ok(check_fails(&m, "split keys not inside"), "split keys out of order fail check");
	lsm_manifest_free(&m);

	/*
	 * A first-format image: one run without split keys is the current
	 * image less the two empty split keys (before six empty levels and
	 * the free-extent count), under the old magic.
	 */
	lsm_manifest_init(&m);
	add(&m, 1, 0, "a", "z", 10, 2, 50);
	img.len = 0;
	lsm_manifest_serialize(&m, &img);
	{
		size_t		end = img.len - 8;	/* the checksum follows the body */

		ok(img.data[end - 9] == 0 && img.data[end - 8] == 0, "two empty split keys");
		memmove(img.data + end - 9, img.data + end - 7, img.len - (end - 7));
		img.len -= 2;
		lsm_put_u32(img.data, LSM_MANIFEST_MAGIC_V1);
		fix_frame(img.data, img.len);
	}
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_OK,
		   "a first-format image reads");
	ok(manifests_equal(&m, &back) && !lsm_run_meta_has_split(&back.levels[0].runs[0]),
	   "as the same runs, without split keys");
	lsm_manifest_free(&back);
	lsm_put_u32(img.data, LSM_MANIFEST_MAGIC);
	is_int(lsm_manifest_deserialize(lsm_buf_slice(&img), &back), LSM_CORRUPT,
		   "the same body under the current magic is CORRUPT");
	lsm_manifest_free(&back);
	lsm_manifest_free(&m);
	lsm_buf_free(&img);
}

static void
test_fuzz(void)
{
	lsm_manifest m;
	lsm_buf		img = {0};
	int			iters = scale_small ? 5000 : 100000;
	int			accepted = 0,
				bad_accept = 0,
				bad_status = 0;

	build_sample(&m);
	lsm_manifest_serialize(&m, &img);
	lsm_manifest_free(&m);

	for (int i = 0; i < iters; i++)
	{
		size_t		len = img.len;
		uint8_t    *buf = malloc(img.len + 64);
		int			what = (int) (tap_rand() % 4);
		lsm_status	st;

		memcpy(buf, img.data, img.len);
		if (what == 0)			/* truncate */
			len = (size_t) (tap_rand() % img.len);
		else if (what == 3)		/* insert or delete a body byte */
		{
			size_t		pos = 8 + (size_t) (tap_rand() % (img.len - 16));

			if (tap_rand() % 2)
			{
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = (uint8_t) tap_rand();
				len++;
			}
			else
			{
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
			}
		}
		else
		{
			int			nflips = 1 + (int) (tap_rand() % 4);

			for (int f = 0; f < nflips; f++)
			{
				size_t		pos = (size_t) (tap_rand() % len);

				buf[pos] = (tap_rand() % 3) ? (uint8_t) (buf[pos] ^ (1u << (tap_rand() % 8))) : (uint8_t) tap_rand();
			}
		}
		/* Most mutations also get a valid frame, to exercise the parser. */
		if (what != 0 && tap_rand() % 8 != 0)
			fix_frame(buf, len);

		{
			/* Exactly len bytes on the heap, so ASan sees overreads. */
			uint8_t    *exact = malloc(len ? len : 1);

			memcpy(exact, buf, len);
			st = lsm_manifest_deserialize(lsm_slice_make(exact, len), &m);
			free(exact);
		}
		if (st == LSM_OK)
		{
			accepted++;
			if (lsm_manifest_check(&m, NULL, 0) != LSM_OK)
				bad_accept++;
			lsm_manifest_free(&m);
		}
		else if (st != LSM_CORRUPT)
			bad_status++;
		free(buf);
	}
	diag("fuzz: %d of %d mutated images accepted (all must pass check)", accepted, iters);
	is_int(bad_accept, 0, "%d mutations: every accepted image passes check", iters);
	is_int(bad_status, 0, "every rejection is LSM_CORRUPT");
	lsm_buf_free(&img);
}

int
main(void)
{
	const char *scale = getenv("LSM_TEST_SCALE");

	tap_rng = 0x243f6a8885a308d3ULL;	/* this test's own sequence */
	scale_small = scale && strcmp(scale, "small") == 0;
	test_order();
	test_check();
	test_free_extents();
	test_clip_free();
	test_serialize();
	test_splits();
	test_fuzz();
	return done_testing();
}
