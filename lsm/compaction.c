/*
 * compaction.c - leveled compaction: the picker, writing runs, the merge
 * with its garbage-collection rules, and installing the result.
 */
#include <stdlib.h>
#include <string.h>

#include "compaction.h"
#include "merge.h"

void
lsm_compaction_options_default(lsm_compaction_options *o)
{
	o->l0_trigger = 4;
	o->level1_bytes = UINT64_C(10) * 1024 * 1024;
	o->ratio = 10;
	o->target_run_bytes = UINT64_C(2) * 1024 * 1024;
	o->nlevels = LSM_MAX_LEVELS;
	o->families = false;
}

static int
clamp_nlevels(const lsm_compaction_options *o)
{
	if (o->nlevels < 2)
		return 2;
	if (o->nlevels > LSM_MAX_LEVELS)
		return LSM_MAX_LEVELS;
	return o->nlevels;
}

/* ---------------------------------------------------------------------
 * Picking
 * ---------------------------------------------------------------------
 */

/* A user-key range [lo, hi], borrowed from run metas. */
typedef struct ukrange
{
	lsm_slice	lo;
	lsm_slice	hi;
	bool		empty;
} ukrange;

static void
range_add(ukrange *r, const lsm_run_meta *run)
{
	lsm_slice	lo = lsm_ikey_user_key(lsm_buf_slice(&run->smallest));
	lsm_slice	hi = lsm_ikey_user_key(lsm_buf_slice(&run->largest));

	if (r->empty || lsm_slice_compare(lo, r->lo) < 0)
		r->lo = lo;
	if (r->empty || lsm_slice_compare(hi, r->hi) > 0)
		r->hi = hi;
	r->empty = false;
}

static bool
run_overlaps(const lsm_run_meta *run, const ukrange *r)
{
	if (r->empty)
		return false;
	return lsm_slice_compare(lsm_ikey_user_key(lsm_buf_slice(&run->smallest)), r->hi) <= 0 &&
		lsm_slice_compare(lsm_ikey_user_key(lsm_buf_slice(&run->largest)), r->lo) >= 0;
}

void
lsm_compaction_free(lsm_compaction *c)
{
	for (int s = 0; s < 2; s++)
	{
		for (int i = 0; i < c->ninputs[s]; i++)
			lsm_run_meta_free(&c->inputs[s][i]);
		free(c->inputs[s]);
		c->inputs[s] = NULL;
		c->ninputs[s] = 0;
	}
}

/* Appends a copy of run to input slot s (room was reserved). */
static bool
add_input(lsm_compaction *c, int s, const lsm_run_meta *run)
{
	lsm_run_meta *dst = &c->inputs[s][c->ninputs[s]];

	memset(dst, 0, sizeof(*dst));
	if (lsm_run_meta_copy(dst, run) != LSM_OK)
	{
		lsm_run_meta_free(dst);
		return false;
	}
	c->ninputs[s]++;
	return true;
}

static bool
reserve_inputs(lsm_compaction *c, int s, int n)
{
	c->inputs[s] = calloc((size_t) n + 1, sizeof(lsm_run_meta));
	return c->inputs[s] != NULL;
}

/* The user keys all of c's inputs cover. */
static ukrange
inputs_range(const lsm_compaction *c)
{
	ukrange		r = {.empty = true};

	for (int s = 0; s < 2; s++)
		for (int i = 0; i < c->ninputs[s]; i++)
			range_add(&r, &c->inputs[s][i]);
	return r;
}

/* Tombstones may go only if no deeper level could hold an older version. */
static void
set_bottommost(const lsm_manifest *m, lsm_compaction *c)
{
	ukrange		r = inputs_range(c);

	c->bottommost = true;
	for (int l = c->out_level + 1; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < m->levels[l].nruns; i++)
			if (run_overlaps(&m->levels[l].runs[i], &r))
				c->bottommost = false;
}

/* A key's family: its first byte, or -1 for the empty key. */
static int
family_of(lsm_slice user_key)
{
	return user_key.len > 0 ? user_key.data[0] : -1;
}

/* The spans of user keys a run holds: two if its split keys say so. */
static int
run_spans(const lsm_run_meta *run, ukrange *spans)
{
	lsm_slice	lo = lsm_ikey_user_key(lsm_buf_slice(&run->smallest));
	lsm_slice	hi = lsm_ikey_user_key(lsm_buf_slice(&run->largest));

	if (!lsm_run_meta_has_split(run))
	{
		spans[0] = (ukrange) {lo, hi, false};
		return 1;
	}
	spans[0] = (ukrange) {lo, lsm_buf_slice(&run->split_lo), false};
	spans[1] = (ukrange) {lsm_buf_slice(&run->split_hi), hi, false};
	return 2;
}

static int
span_cmp(const void *a, const void *b)
{
	return lsm_slice_compare(((const ukrange *) a)->lo, ((const ukrange *) b)->lo);
}

/*
 * The ranges of user keys whose out_level runs must join c's inputs[0]:
 * without families one range over all inputs (as LevelDB); with them, the
 * inputs' spans sorted and joined wherever they overlap or the gap between
 * two lies within one family.  A gap between families stays open: outputs
 * are cut where the family changes, so none can reach over a run in it.
 * Returns the number of ranges (at most 2 * ninputs[0]), or -1.
 */
static int
input_ranges(const lsm_compaction *c, ukrange **out)
{
	ukrange    *spans = calloc((size_t) c->ninputs[0] * 2 + 1, sizeof(ukrange));
	int			n = 0;
	int			k = 0;

	*out = spans;
	if (spans == NULL)
		return -1;
	if (!c->families)
	{
		spans[0] = inputs_range(c);
		return spans[0].empty ? 0 : 1;
	}
	for (int i = 0; i < c->ninputs[0]; i++)
		n += run_spans(&c->inputs[0][i], &spans[n]);
	qsort(spans, (size_t) n, sizeof(ukrange), span_cmp);
	for (int i = 1; i < n; i++)
	{
		if (lsm_slice_compare(spans[i].lo, spans[k].hi) <= 0 ||
			family_of(spans[i].lo) == family_of(spans[k].hi))
		{
			if (lsm_slice_compare(spans[i].hi, spans[k].hi) > 0)
				spans[k].hi = spans[i].hi;
		}
		else
			spans[++k] = spans[i];
	}
	return n > 0 ? k + 1 : 0;
}

/*
 * Completes c once inputs[0] is chosen: adds the runs of out_level that
 * meet the inputs' user keys (all of them if whole_out), then decides
 * whether anything deeper could still hold one of those keys.
 */
static bool
finish_pick(const lsm_manifest *m, lsm_compaction *c, bool whole_out)
{
	const lsm_level *out = &m->levels[c->out_level];
	ukrange    *ranges;
	int			nranges = input_ranges(c, &ranges);
	bool		fine = nranges >= 0 && reserve_inputs(c, 1, out->nruns);

	for (int i = 0; i < out->nruns && fine; i++)
	{
		bool		meets = whole_out;

		for (int j = 0; j < nranges && !meets; j++)
			meets = run_overlaps(&out->runs[i], &ranges[j]);
		if (meets)
			fine = add_input(c, 1, &out->runs[i]);
	}
	free(ranges);
	if (fine)
		set_bottommost(m, c);
	return fine;
}

/* Whether a run takes part in a compaction bounded by max_seq. */
static bool
run_upto(const lsm_run_meta *run, int level, uint64_t max_seq)
{
	return level > 0 || run->max_seq <= max_seq;
}

static int
level_nruns_upto(const lsm_manifest *m, int level, uint64_t max_seq)
{
	int			n = 0;

	for (int i = 0; i < m->levels[level].nruns; i++)
		if (run_upto(&m->levels[level].runs[i], level, max_seq))
			n++;
	return n;
}

static bool
pick_whole_level(const lsm_manifest *m, lsm_compaction *c, int level,
				 int out_level, bool whole_out, uint64_t max_seq)
{
	const lsm_level *lv = &m->levels[level];

	c->level = level;
	c->out_level = out_level;
	if (!reserve_inputs(c, 0, lv->nruns))
		return false;
	for (int i = 0; i < lv->nruns; i++)
		if (run_upto(&lv->runs[i], level, max_seq) &&
			!add_input(c, 0, &lv->runs[i]))
			return false;
	return finish_pick(m, c, whole_out);
}

/* Bytes of the runs of level that share user keys with run. */
static uint64_t
overlap_bytes(const lsm_manifest *m, int level, const lsm_run_meta *run)
{
	ukrange		r = {.empty = true};
	uint64_t	sum = 0;

	range_add(&r, run);
	for (int i = 0; i < m->levels[level].nruns; i++)
		if (run_overlaps(&m->levels[level].runs[i], &r))
			sum += m->levels[level].runs[i].nbytes;
	return sum;
}

/*
 * One run of a level >= 1: the one whose key range holds the fewest bytes
 * of the next level per byte of its own, so each compaction rewrites as
 * little of the next level as the level allows (RocksDB's "min overlapping
 * ratio").  Taking runs in id order instead keeps taking the lowest keys,
 * since a compaction numbers its outputs in key order: that part of the
 * next level then takes every push while the rest of this level grows,
 * and write amplification climbs.  Ties go to the run waiting longest.
 */
static bool
pick_one_run(const lsm_manifest *m, lsm_compaction *c, int level)
{
	const lsm_level *lv = &m->levels[level];
	int			best = -1;
	double		best_ratio = 0;

	for (int i = 0; i < lv->nruns; i++)
	{
		const lsm_run_meta *run = &lv->runs[i];
		double		ratio = (double) overlap_bytes(m, level + 1, run) /
			(double) (run->nbytes > 0 ? run->nbytes : 1);

		if (best < 0 || ratio < best_ratio ||
			(ratio == best_ratio && run->id < lv->runs[best].id))
		{
			best = i;
			best_ratio = ratio;
		}
	}
	c->level = level;
	c->out_level = level + 1;
	if (!reserve_inputs(c, 0, 1) || !add_input(c, 0, &lv->runs[best]) ||
		!finish_pick(m, c, false))
		return false;
	c->move = c->ninputs[1] == 0;
	return true;
}

static double
level_score(const lsm_manifest *m, const lsm_compaction_options *o, int level)
{
	double		target;

	if (level == 0)
		return (double) m->levels[0].nruns / (o->l0_trigger > 0 ? o->l0_trigger : 1);
	target = (double) (o->level1_bytes ? o->level1_bytes : 1);
	for (int i = 1; i < level; i++)
		target *= o->ratio > 1 ? o->ratio : 1;
	return (double) lsm_manifest_level_bytes(m, level) / target;
}

bool
lsm_compaction_pick(const lsm_manifest *m, const lsm_compaction_options *o,
					lsm_compaction *c)
{
	int			nlevels = clamp_nlevels(o);
	int			best = -1;
	double		best_score = 0;
	bool		done;

	memset(c, 0, sizeof(*c));
	c->families = o->families;
	/* The last level has nowhere to go, so it is never scored. */
	for (int l = 0; l < nlevels - 1; l++)
	{
		double		s = level_score(m, o, l);

		if (m->levels[l].nruns > 0 && s >= 1.0 && s > best_score)
		{
			best = l;
			best_score = s;
		}
	}
	if (best < 0)
		return false;
	done = best == 0 ? pick_whole_level(m, c, 0, 1, false, UINT64_MAX) :
		pick_one_run(m, c, best);
	if (!done)
	{
		lsm_compaction_free(c);
		return false;
	}
	c->score = best_score;
	c->target_run_bytes = o->target_run_bytes;
	return true;
}

/*
 * Each call merges the shallowest non-empty level with the next non-empty
 * level below it (whole levels), so repeated calls end with everything in
 * the last non-empty level; it returns false once one level >= 1 holds all.
 * Merging past a non-empty level would put newer versions beneath older
 * ones, so the levels are folded one at a time.
 */
bool
lsm_compaction_pick_all(const lsm_manifest *m, const lsm_compaction_options *o,
						lsm_compaction *c)
{
	return lsm_compaction_pick_all_upto(m, o, UINT64_MAX, c);
}

/*
 * Level-0 runs above max_seq hold only entries newer than every run taken,
 * so leaving them above the outputs keeps newer versions over older ones.
 */
bool
lsm_compaction_pick_all_upto(const lsm_manifest *m,
							 const lsm_compaction_options *o,
							 uint64_t max_seq, lsm_compaction *c)
{
	int			top = -1;
	int			below = -1;

	memset(c, 0, sizeof(*c));
	c->families = o->families;
	for (int l = 0; l < LSM_MAX_LEVELS && below < 0; l++)
	{
		if (level_nruns_upto(m, l, max_seq) == 0)
			continue;
		if (top < 0)
			top = l;
		else
			below = l;
	}
	if (top < 0 || (top > 0 && below < 0))
		return false;
	if (below < 0)
		below = 1;				/* only L0 holds runs: merge them into L1 */
	/* Whole levels: a full compaction rewrites every run it reaches. */
	if (!pick_whole_level(m, c, top, below, true, max_seq))
	{
		lsm_compaction_free(c);
		return false;
	}
	c->score = 1.0;
	c->target_run_bytes = o->target_run_bytes;
	return true;
}

bool
lsm_compaction_pick_rewrite(const lsm_manifest *m,
							const lsm_compaction_options *o, int level,
							lsm_slice lo, lsm_slice hi, lsm_compaction *c)
{
	const lsm_level *lv;

	memset(c, 0, sizeof(*c));
	c->families = o->families;
	if (level < 1 || level >= LSM_MAX_LEVELS)
		return false;
	lv = &m->levels[level];
	c->level = level;
	c->out_level = level;
	if (!reserve_inputs(c, 0, lv->nruns) || !reserve_inputs(c, 1, 0))
		goto fail;
	for (int i = 0; i < lv->nruns; i++)
	{
		const lsm_run_meta *run = &lv->runs[i];
		lsm_slice	small = lsm_ikey_user_key(lsm_buf_slice(&run->smallest));
		lsm_slice	large = lsm_ikey_user_key(lsm_buf_slice(&run->largest));

		if (lo.len > 0 && lsm_slice_compare(large, lo) < 0)
			continue;
		if (hi.len > 0 && lsm_slice_compare(small, hi) >= 0)
			continue;
		if (!add_input(c, 0, run))
			goto fail;
	}
	if (c->ninputs[0] == 0)
		goto fail;
	set_bottommost(m, c);
	c->score = 1.0;
	c->target_run_bytes = o->target_run_bytes;
	return true;

fail:
	lsm_compaction_free(c);
	return false;
}

/* ---------------------------------------------------------------------
 * Writing runs
 * ---------------------------------------------------------------------
 */

lsm_status
lsm_run_write(const lsm_run_writer *w, lsm_sst_builder *b, lsm_run_meta *meta)
{
	lsm_slice	stream;
	lsm_pageno	first;
	uint32_t	npages;
	lsm_status	st;

	if ((st = lsm_sst_builder_finish(b, &stream, meta)) != LSM_OK)
		return st;
	npages = lsm_stream_pages(w->pager, stream.len);
	if ((st = w->alloc(w->alloc_arg, npages, &first)) != LSM_OK)
		return st;
	if ((st = lsm_pager_write_stream(w->pager, first, stream)) != LSM_OK)
		return st;
	meta->first_page = first;
	meta->npages = npages;
	return LSM_OK;
}

lsm_status
lsm_flush_iter(const lsm_run_writer *w, lsm_iter *it, lsm_run_meta *meta)
{
	lsm_sst_builder *b;
	lsm_status	st;

	if ((st = lsm_sst_builder_new(w->sst_opts, &b)) != LSM_OK)
		return st;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
		if ((st = lsm_sst_builder_add(b, lsm_iter_key(it), lsm_iter_value(it))) != LSM_OK)
			goto done;
	if ((st = lsm_iter_status(it)) != LSM_OK)
		goto done;
	/* An empty run has no key range; there is nothing to flush. */
	if (lsm_sst_builder_count(b) == 0)
	{
		st = LSM_NOT_FOUND;
		goto done;
	}
	st = lsm_run_write(w, b, meta);
	if (st == LSM_OK)
		meta->level = 0;
done:
	lsm_sst_builder_free(b);
	return st;
}

/* ---------------------------------------------------------------------
 * Merging
 * ---------------------------------------------------------------------
 */

typedef struct merge_state
{
	const lsm_run_writer *w;
	const lsm_compaction *c;
	lsm_sst_builder *builder;
	uint64_t	target;			/* cut outputs at about this many bytes */
	lsm_buf		last_added;		/* user key of the builder's last entry */
	lsm_run_meta *outs;
	int			nouts;
	int			cap;
	const lsm_compaction_filter *filter;
	lsm_buf		rewritten;		/* the internal key of a rewritten entry */
	lsm_compaction_stats stats;
} merge_state;

/* Finishes the current output run, if it has entries. */
static lsm_status
finish_output(merge_state *ms)
{
	lsm_run_meta *meta;
	lsm_status	st;

	if (ms->builder == NULL)
		return LSM_OK;
	if (lsm_sst_builder_count(ms->builder) == 0)
		goto done;
	if (ms->nouts == ms->cap)
	{
		int			cap = ms->cap ? ms->cap * 2 : 4;
		lsm_run_meta *p = realloc(ms->outs, (size_t) cap * sizeof(lsm_run_meta));

		if (p == NULL)
			return LSM_NO_MEMORY;
		ms->outs = p;
		ms->cap = cap;
	}
	meta = &ms->outs[ms->nouts];
	memset(meta, 0, sizeof(*meta));
	st = lsm_run_write(ms->w, ms->builder, meta);
	if (st != LSM_OK)
	{
		lsm_run_meta_free(meta);
		return st;
	}
	meta->id = 0;
	meta->level = (uint32_t) ms->c->out_level;
	meta->aux = 0;
	meta->aux2 = 0;
	if (ms->filter && ms->filter->run_aux)
		ms->filter->run_aux(ms->filter->arg, &meta->aux, &meta->aux2);
	ms->stats.bytes_written += meta->nbytes;
	ms->nouts++;
done:
	lsm_sst_builder_free(ms->builder);
	ms->builder = NULL;
	return LSM_OK;
}

/*
 * Adds a surviving entry, first cutting the output if it is big enough and
 * the entry starts a new user key (runs of a level never share a user key),
 * or, with families, if the entry starts a new family.
 */
static lsm_status
emit(merge_state *ms, const lsm_ikey *ik, lsm_slice ikey, lsm_slice value)
{
	lsm_status	st;

	if (ms->builder &&
		lsm_sst_builder_count(ms->builder) > 0 &&
		((lsm_sst_builder_size(ms->builder) >= ms->target &&
		  lsm_slice_compare(ik->user_key, lsm_buf_slice(&ms->last_added)) != 0) ||
		 (ms->c->families &&
		  family_of(ik->user_key) != family_of(lsm_buf_slice(&ms->last_added)))))
	{
		if ((st = finish_output(ms)) != LSM_OK)
			return st;
	}
	if (ms->builder == NULL &&
		(st = lsm_sst_builder_new(ms->w->sst_opts, &ms->builder)) != LSM_OK)
		return st;
	if ((st = lsm_sst_builder_add(ms->builder, ikey, value)) != LSM_OK)
		return st;
	ms->stats.entries_out++;
	if (ms->filter && ms->filter->kept)
		ms->filter->kept(ms->filter->arg, ik, value);
	return lsm_buf_set(&ms->last_added, ik->user_key.data, ik->user_key.len);
}

/*
 * Lets the filter decide about an entry.  Returns false to drop it;
 * otherwise *ik, *key and *value describe what to write (a rewritten entry
 * keeps its user key and sequence number).
 */
static bool
apply_filter(merge_state *ms, lsm_ikey *ik, lsm_slice *key, lsm_slice *value,
			 lsm_status *st)
{
	lsm_kind	kind = ik->kind;
	lsm_slice	nv = *value;

	*st = LSM_OK;
	if (ms->filter == NULL || ms->filter->decide == NULL)
		return true;
	switch (ms->filter->decide(ms->filter->arg, ik, *value, &kind, &nv))
	{
		case LSM_FILTER_KEEP:
			return true;
		case LSM_FILTER_DROP:
			return false;
		case LSM_FILTER_REWRITE:
			break;
		case LSM_FILTER_FAIL:
			*st = LSM_ABORTED;
			return false;
	}
	if ((unsigned) kind > LSM_KIND_MAX)
	{
		*st = LSM_INVALID;
		return false;
	}
	ms->rewritten.len = 0;
	if ((*st = lsm_ikey_append(&ms->rewritten, ik->user_key, ik->seq, kind)) != LSM_OK)
		return false;
	*key = lsm_buf_slice(&ms->rewritten);
	ik->user_key = lsm_ikey_user_key(*key);
	ik->kind = kind;
	*value = nv;
	ms->stats.rewritten++;
	return true;
}

/*
 * Applies the drop rules to the merged stream.  Within one user key the
 * versions arrive newest first: everything newer than oldest_snapshot is
 * kept, as is every delta down to and including the newest VALUE or
 * TOMBSTONE at or below it, which shadows all that follows.  A delta does
 * not shadow: it annotates the value beneath it.  The filter decides first,
 * so that what it turns into a tombstone shadows like one; what it drops
 * shadows nothing.
 */
static lsm_status
merge_loop(merge_state *ms, lsm_iter *it, uint64_t oldest_snapshot)
{
	lsm_buf		cur = {0};
	bool		have_cur = false;
	bool		shadowed = false;
	lsm_status	st = LSM_OK;

	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
	{
		lsm_slice	key = lsm_iter_key(it);
		lsm_slice	value = lsm_iter_value(it);
		lsm_ikey	ik;

		if (!lsm_ikey_parse(key, &ik))
		{
			st = LSM_CORRUPT;
			break;
		}
		ms->stats.entries_in++;
		if (!have_cur || lsm_slice_compare(ik.user_key, lsm_buf_slice(&cur)) != 0)
		{
			if ((st = lsm_buf_set(&cur, ik.user_key.data, ik.user_key.len)) != LSM_OK)
				break;
			have_cur = true;
			shadowed = false;
		}
		else if (shadowed)
		{
			ms->stats.dropped++;
			continue;
		}
		if (!apply_filter(ms, &ik, &key, &value, &st))
		{
			if (st != LSM_OK)
				break;
			ms->stats.dropped++;
			continue;
		}
		if (ik.seq <= oldest_snapshot && ik.kind < LSM_KIND_DELTA_FIRST)
		{
			shadowed = true;
			if (ik.kind == LSM_KIND_TOMBSTONE && ms->c->bottommost)
			{
				ms->stats.dropped++;
				continue;
			}
		}
		if ((st = emit(ms, &ik, key, value)) != LSM_OK)
			break;
	}
	if (st == LSM_OK)
		st = lsm_iter_status(it);
	lsm_buf_free(&cur);
	return st;
}

/* Opens every input run and merges their iterators (inputs[0] first). */
static lsm_status
open_inputs(const lsm_run_writer *w, const lsm_compaction *c, lsm_sst **ssts,
			lsm_iter **merged, uint64_t *bytes_read)
{
	int			n = c->ninputs[0] + c->ninputs[1];
	lsm_iter  **kids = calloc((size_t) n + 1, sizeof(lsm_iter *));
	lsm_status	st = LSM_OK;
	int			k = 0;

	if (kids == NULL)
		return LSM_NO_MEMORY;
	for (int s = 0; s < 2 && st == LSM_OK; s++)
		for (int i = 0; i < c->ninputs[s] && st == LSM_OK; i++, k++)
		{
			st = lsm_sst_open(w->pager, &c->inputs[s][i], w->sst_opts, &ssts[k]);
			if (st != LSM_OK)
			{
				ssts[k] = NULL;
				break;
			}
			kids[k] = lsm_sst_iter_new(ssts[k]);
			if (kids[k] == NULL)
				st = LSM_NO_MEMORY;
			*bytes_read += c->inputs[s][i].nbytes;
		}
	if (st != LSM_OK)
	{
		for (int i = 0; i < n; i++)
			lsm_iter_destroy(kids[i]);
		free(kids);
		return st;
	}
	*merged = lsm_merge_iter_new(kids, n);
	free(kids);
	return *merged ? LSM_OK : LSM_NO_MEMORY;
}

lsm_status
lsm_compaction_merge(const lsm_run_writer *w, const lsm_compaction *c,
					 uint64_t oldest_snapshot,
					 const lsm_compaction_filter *filter,
					 lsm_run_meta **outs, int *nouts,
					 lsm_compaction_stats *stats)
{
	int			n = c->ninputs[0] + c->ninputs[1];
	lsm_sst   **ssts = calloc((size_t) n + 1, sizeof(lsm_sst *));
	lsm_iter   *merged = NULL;
	merge_state ms;
	lsm_status	st;

	*outs = NULL;
	*nouts = 0;
	if (ssts == NULL)
		return LSM_NO_MEMORY;
	memset(&ms, 0, sizeof(ms));
	ms.w = w;
	ms.c = c;
	ms.filter = filter;
	ms.target = c->target_run_bytes ? c->target_run_bytes : UINT64_C(2) * 1024 * 1024;

	st = open_inputs(w, c, ssts, &merged, &ms.stats.bytes_read);
	if (st == LSM_OK)
		st = merge_loop(&ms, merged, oldest_snapshot);
	if (st == LSM_OK)
		st = finish_output(&ms);

	/* Iterators read their runs: destroy them before closing the runs. */
	lsm_iter_destroy(merged);
	for (int i = 0; i < n; i++)
		if (ssts[i])
			lsm_sst_close(ssts[i]);
	free(ssts);
	lsm_sst_builder_free(ms.builder);
	lsm_buf_free(&ms.last_added);
	lsm_buf_free(&ms.rewritten);

	if (stats)
		*stats = ms.stats;
	if (st != LSM_OK)
	{
		for (int i = 0; i < ms.nouts; i++)
			lsm_run_meta_free(&ms.outs[i]);
		free(ms.outs);
		return st;
	}
	*outs = ms.outs;
	*nouts = ms.nouts;
	return LSM_OK;
}

/* ---------------------------------------------------------------------
 * Installing the result
 * ---------------------------------------------------------------------
 */

static lsm_status
remove_inputs(lsm_manifest *m, int level, const lsm_run_meta *runs, int n,
			  uint64_t horizon)
{
	lsm_status	st;

	for (int i = 0; i < n; i++)
	{
		if ((st = lsm_manifest_remove_run(m, level, runs[i].id)) != LSM_OK)
			return st;
		st = lsm_manifest_free_extent(m, runs[i].first_page, runs[i].npages,
									  horizon);
		if (st != LSM_OK)
			return st;
	}
	return LSM_OK;
}

/*
 * Makes next (a changed copy of m) m if st says the change went well and
 * next passes the checks; frees it otherwise.  A run that is gone or a
 * change that breaks an invariant is LSM_INVALID.
 */
static lsm_status
replace_if_sound(lsm_manifest *m, lsm_manifest *next, lsm_status st)
{
	if (st == LSM_OK)
		st = lsm_manifest_check(next, NULL, 0);
	if (st != LSM_OK)
	{
		lsm_manifest_free(next);
		return st == LSM_NOT_FOUND || st == LSM_CORRUPT ? LSM_INVALID : st;
	}
	lsm_manifest_free(m);
	*m = *next;
	return LSM_OK;
}

lsm_status
lsm_manifest_apply_compaction(lsm_manifest *m, const lsm_compaction *c,
							  lsm_run_meta *outs, int nouts, uint64_t horizon)
{
	lsm_manifest next;
	uint64_t	first_id;
	lsm_status	st;

	if ((st = lsm_manifest_copy(&next, m)) != LSM_OK)
		return st;
	st = remove_inputs(&next, c->level, c->inputs[0], c->ninputs[0], horizon);
	if (st == LSM_OK)
		st = remove_inputs(&next, c->out_level, c->inputs[1], c->ninputs[1],
						   horizon);
	first_id = next.next_run_id;
	for (int i = 0; i < nouts && st == LSM_OK; i++)
	{
		lsm_run_meta run = outs[i];	/* shallow: add_run copies the keys */

		run.id = next.next_run_id++;
		run.level = (uint32_t) c->out_level;
		st = lsm_manifest_add_run(&next, &run);
	}
	if ((st = replace_if_sound(m, &next, st)) != LSM_OK)
		return st;
	for (int i = 0; i < nouts; i++)
	{
		outs[i].id = first_id + (uint64_t) i;
		outs[i].level = (uint32_t) c->out_level;
	}
	return LSM_OK;
}

lsm_status
lsm_manifest_apply_move(lsm_manifest *m, const lsm_compaction *c)
{
	lsm_manifest next;
	lsm_run_meta run;
	lsm_status	st;

	if (!c->move || c->ninputs[0] != 1 || c->ninputs[1] != 0)
		return LSM_INVALID;
	if ((st = lsm_manifest_copy(&next, m)) != LSM_OK)
		return st;
	run = c->inputs[0][0];		/* shallow: add_run copies the keys */
	run.level = (uint32_t) c->out_level;
	st = lsm_manifest_remove_run(&next, c->level, run.id);
	if (st == LSM_OK)
		st = lsm_manifest_add_run(&next, &run);
	return replace_if_sound(m, &next, st);
}
