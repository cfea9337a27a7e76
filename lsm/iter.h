/*
 * iter.h - the one iterator interface every sorted source implements
 * (memtable, block, run, merging iterator), over internal keys.
 *
 * key() and value() stay valid until the next call that moves the iterator.
 * An iterator that hits corrupt data becomes invalid and reports it through
 * status(); callers must check status() when valid() turns false.
 *
 * Every iterator moves both ways: prev() from a valid position goes to the
 * entry before it (invalid before the first), seek_last() to the last
 * entry, and lsm_iter_seek_for_prev() below to the last entry <= a target.
 * Directions may be mixed freely.
 */
#ifndef LSM_ITER_H
#define LSM_ITER_H

#include "lsm_base.h"

typedef struct lsm_iter lsm_iter;

typedef struct lsm_iter_ops
{
	bool		(*valid) (lsm_iter *it);
	void		(*seek_first) (lsm_iter *it);
	/* Position at the first entry whose internal key is >= target. */
	void		(*seek) (lsm_iter *it, lsm_slice target);
	void		(*next) (lsm_iter *it);
	lsm_slice	(*key) (lsm_iter *it);
	lsm_slice	(*value) (lsm_iter *it);
	lsm_status	(*status) (lsm_iter *it);
	void		(*destroy) (lsm_iter *it);
	void		(*seek_last) (lsm_iter *it);
	void		(*prev) (lsm_iter *it);
} lsm_iter_ops;

struct lsm_iter
{
	const lsm_iter_ops *ops;
};

static inline bool
lsm_iter_valid(lsm_iter *it)
{
	return it->ops->valid(it);
}
static inline void
lsm_iter_seek_first(lsm_iter *it)
{
	it->ops->seek_first(it);
}
static inline void
lsm_iter_seek(lsm_iter *it, lsm_slice target)
{
	it->ops->seek(it, target);
}
static inline void
lsm_iter_next(lsm_iter *it)
{
	it->ops->next(it);
}
static inline void
lsm_iter_seek_last(lsm_iter *it)
{
	it->ops->seek_last(it);
}
static inline void
lsm_iter_prev(lsm_iter *it)
{
	it->ops->prev(it);
}

/*
 * Position at the last entry whose internal key is <= target (of entries
 * with equal internal keys, which only a merge of sources that repeat one
 * can show, the first).
 */
void		lsm_iter_seek_for_prev(lsm_iter *it, lsm_slice target);

static inline lsm_slice
lsm_iter_key(lsm_iter *it)
{
	return it->ops->key(it);
}
static inline lsm_slice
lsm_iter_value(lsm_iter *it)
{
	return it->ops->value(it);
}
static inline lsm_status
lsm_iter_status(lsm_iter *it)
{
	return it->ops->status(it);
}
static inline void
lsm_iter_destroy(lsm_iter *it)
{
	if (it)
		it->ops->destroy(it);
}

#endif							/* LSM_ITER_H */
