/*
 * memtable.c - a skip list of internal keys inside one caller-provided
 * region, in the manner of LevelDB's SkipList but with 32-bit offsets in
 * place of pointers so that the region can be mapped anywhere.
 *
 * Layout: the header (struct lsm_memtable) at offset 0, the head node right
 * after it, then nodes bump-allocated upwards, each 8-byte aligned:
 *
 *	key_len u32 | value_len u32 | height u32 | next[height] u32 |
 *	internal key (user key + 8-byte trailer) | value
 *
 * Every link and counter a reader looks at is a 32-bit C11 atomic, which is
 * lock-free on every platform PostgreSQL runs on, so the atomics work across
 * processes sharing the region.  The single writer fills a node completely,
 * then splices it in bottom-up with release stores; a reader that loads a
 * link with acquire therefore sees the node's contents.  A reader may see a
 * node at level 0 before the upper levels, which only makes its search a
 * little longer.
 *
 * Fingers.  A search from the head costs a cache miss on nearly every node it
 * visits once the list outgrows the CPU caches.  Inserts often come in
 * ascending runs (row ids, a sorted batch) interleaved with other inserts, so
 * the writer remembers where its last MT_FINGERS inserts went: the node and,
 * at each level, the last node at or before it.  An insert above a finger
 * climbs from it only as many levels as the distance to the new key needs and
 * descends from there, touching nodes the previous insert left in the cache.
 * Every insert keeps the other fingers exact.  Only the writer reads or
 * writes them.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memtable.h"

#define MT_MAGIC		0x4c534d4du	/* "LSMM" */
#define MT_MAX_HEIGHT	12
#define MT_ALIGN		8
/* Offsets are u32, so the usable part of a region stops short of 4 GiB. */
#define MT_MAX_OFFSET	(UINT32_MAX & ~(uint32_t) (MT_ALIGN - 1))
#define MT_FINGERS		2

_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
			   "shared-memory links need lock-free 32-bit atomics");

struct lsm_memtable
{
	uint32_t	magic;
	uint32_t	head;			/* offset of the head node */
	uint64_t	size;			/* region size as given to init */
	uint32_t	limit;			/* allocation may not pass this offset */
	_Atomic uint32_t max_height;	/* tallest node so far */
	_Atomic uint32_t alloc;		/* next free offset */
	_Atomic uint32_t count;		/* published entries */
	uint64_t	rng;			/* PRNG state; only the writer touches it */
	uint32_t	inserts;		/* writer's clock for finger replacement */

	/*
	 * The writer's fingers (see the file comment): node is an inserted node
	 * (0: unused) and prev[i] the last node at or before it on level i (the
	 * node itself below its height, the head where none).
	 */
	struct
	{
		uint32_t	node;
		uint32_t	used;		/* inserts when last used or set */
		uint32_t	prev[MT_MAX_HEIGHT];
	}			fingers[MT_FINGERS];
};

typedef struct mt_node
{
	uint32_t	key_len;		/* internal key: user key + trailer */
	uint32_t	value_len;
	uint32_t	height;
	_Atomic uint32_t next[];	/* level 0 first; 0 means end of list */
} mt_node;

#if defined(__GNUC__) || defined(__clang__)
#define mt_prefetch(p) __builtin_prefetch(p)
#else
#define mt_prefetch(p) ((void) (p))
#endif

static inline mt_node *
node_at(const lsm_memtable *mt, uint32_t off)
{
	return (mt_node *) ((char *) mt + off);
}

static inline const uint8_t *
node_key(const mt_node *n)
{
	return (const uint8_t *) &n->next[n->height];
}

static inline uint32_t
next_at(const lsm_memtable *mt, uint32_t off, int level)
{
	return atomic_load_explicit(&node_at(mt, off)->next[level],
								memory_order_acquire);
}

/*
 * Bytes a node takes, computed in 64 bits so that absurd lengths cannot wrap
 * around and appear to fit.
 */
static inline uint64_t
node_size(int height, uint64_t key_len, uint64_t value_len)
{
	uint64_t	n = sizeof(mt_node) + (uint64_t) height * sizeof(uint32_t) +
		key_len + value_len;

	return (n + MT_ALIGN - 1) & ~(uint64_t) (MT_ALIGN - 1);
}

/*
 * Compares node n's internal key with the target (user key, trailer) in
 * place: user key bytes first, then trailer descending.
 */
static inline int
node_cmp(const mt_node *n, const uint8_t *ukey, size_t ulen, uint64_t trailer)
{
	const uint8_t *k = node_key(n);
	size_t		nlen = n->key_len - LSM_IKEY_TRAILER;
	size_t		m = nlen < ulen ? nlen : ulen;
	int			c = m ? memcmp(k, ukey, m) : 0;
	uint64_t	t;

	if (c != 0)
		return c;
	if (nlen != ulen)
		return nlen < ulen ? -1 : 1;
	t = lsm_get_u64(k + nlen);
	return (t < trailer) - (t > trailer);
}

/* Compares node a's internal key with node b's. */
static inline int
node_cmp_node(const mt_node *a, const mt_node *b)
{
	size_t		blen = b->key_len - LSM_IKEY_TRAILER;

	return node_cmp(a, node_key(b), blen, lsm_get_u64(node_key(b) + blen));
}

/*
 * The descent of a search: from node x (< target) on level, moving right
 * while the next node is < target and down otherwise, down to level 0.
 * known_ge is a node already known to be >= target (0 if none), which
 * needs no comparison when met again.  Returns the first node >= target (0
 * if none); fills prev[level] as find_ge does.
 */
static inline uint32_t
descend(const lsm_memtable *mt, const uint8_t *ukey, size_t ulen,
		uint64_t trailer, uint32_t *prev, uint32_t x, int level,
		uint32_t known_ge)
{
	for (;;)
	{
		uint32_t	next = next_at(mt, x, level);

		/*
		 * The node below, where the search goes if next is not < target:
		 * fetch it while next is compared, so that the two cache misses
		 * overlap.
		 */
		if (level > 0)
		{
			uint32_t	below = next_at(mt, x, level - 1);

			if (below != 0)
				mt_prefetch(node_at(mt, below));
		}
		if (next != 0 && next != known_ge &&
			node_cmp(node_at(mt, next), ukey, ulen, trailer) < 0)
			x = next;
		else
		{
			if (prev)
				prev[level] = x;
			if (level == 0)
				return next;
			known_ge = next;
			level--;
		}
	}
}

/*
 * Returns the first node >= target (0 if none).  If prev is not NULL, fills
 * prev[level] with the last node < target at every level below the current
 * height, which is where the writer splices a new node in.
 */
static uint32_t
find_ge(const lsm_memtable *mt, const uint8_t *ukey, size_t ulen,
		uint64_t trailer, uint32_t *prev)
{
	int			top = (int) atomic_load_explicit(&mt->max_height,
												 memory_order_relaxed) - 1;

	return descend(mt, ukey, ulen, trailer, prev, mt->head, top, 0);
}

/*
 * find_ge for the writer, from a finger whose node is < target (fprev is
 * the finger's prev[]).  For levels from 0 up, while the node after
 * fprev[i] is < target, the new key lies beyond it; at the first level
 * where it is not, no higher level has a node between the finger and the
 * target either (the node after fprev[i + 1] is never before the node after
 * fprev[i]), so prev[] from there up is the finger's, and the search
 * descends from the level below.
 * Returns the first node >= target; *near says whether the finger was of
 * use (the target is not beyond it on every level).
 */
static uint32_t
find_ge_from(const lsm_memtable *mt, const uint8_t *ukey, size_t ulen,
			 uint64_t trailer, const uint32_t *fprev, uint32_t *prev,
			 bool *near)
{
	int			height = (int) atomic_load_explicit(&mt->max_height,
													memory_order_relaxed);
	uint32_t	next = 0;
	int			m;

	for (m = 0; m < height; m++)
	{
		next = next_at(mt, fprev[m], m);
		if (next == 0 || node_cmp(node_at(mt, next), ukey, ulen, trailer) >= 0)
			break;
	}
	*near = m < height;
	if (m == height)
		return descend(mt, ukey, ulen, trailer, prev, fprev[height - 1],
					   height - 1, 0);
	for (int i = m; i < height; i++)
		prev[i] = fprev[i];
	if (m == 0)
		return next;
	return descend(mt, ukey, ulen, trailer, prev, fprev[m - 1], m - 1, next);
}

/* The finger whose node is the greatest one below the target, or -1. */
static int
finger_pick(const lsm_memtable *mt, const uint8_t *ukey, size_t ulen,
			uint64_t trailer)
{
	int			best = -1;

	for (int f = 0; f < MT_FINGERS; f++)
	{
		uint32_t	node = mt->fingers[f].node;

		if (node == 0 || node_cmp(node_at(mt, node), ukey, ulen, trailer) >= 0)
			continue;
		if (best < 0 ||
			node_cmp_node(node_at(mt, node), node_at(mt, mt->fingers[best].node)) > 0)
			best = f;
	}
	return best;
}

/*
 * After inserting node off (of height, key ukey/trailer) with predecessors
 * prev: keeps the other fingers exact, and makes finger slot "into" point
 * at the new node.  A finger's prev[i] changes only if the new node landed
 * right after it on level i and before the finger's node.
 */
static void
fingers_update(lsm_memtable *mt, int into, uint32_t off, int height,
			   const uint32_t *prev, int max_height, const uint8_t *ukey,
			   size_t ulen, uint64_t trailer)
{
	for (int f = 0; f < MT_FINGERS; f++)
	{
		int			below = -1; /* new node before the finger's: unknown */

		if (f == into || mt->fingers[f].node == 0)
			continue;
		for (int i = 0; i < height; i++)
		{
			if (prev[i] != mt->fingers[f].prev[i])
				continue;
			if (below < 0)
				below = node_cmp(node_at(mt, mt->fingers[f].node), ukey, ulen,
								 trailer) > 0;
			if (below)
				mt->fingers[f].prev[i] = off;
		}
	}
	mt->fingers[into].node = off;
	mt->fingers[into].used = mt->inserts;
	for (int i = 0; i < MT_MAX_HEIGHT; i++)
		mt->fingers[into].prev[i] = i < height ? off :
			i < max_height ? prev[i] : mt->head;
}

/* xorshift64*: small, fast, and its state fits in the header. */
static inline uint64_t
rng_next(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Height h with probability (1/4)^(h-1), capped at MT_MAX_HEIGHT. */
static int
random_height(uint64_t *state)
{
	uint64_t	r = rng_next(state) >> 32;
	int			height = 1;

	while (height < MT_MAX_HEIGHT && (r & 3) == 0)
	{
		height++;
		r >>= 2;
	}
	return height;
}

lsm_status
lsm_memtable_init(void *region, size_t size)
{
	lsm_memtable *mt = region;
	uint32_t	head = (uint32_t) ((sizeof(lsm_memtable) + MT_ALIGN - 1) &
								   ~(size_t) (MT_ALIGN - 1));
	mt_node    *h;

	if (region == NULL || ((uintptr_t) region % MT_ALIGN) != 0 ||
		size < LSM_MEMTABLE_MIN_SIZE || (uint64_t) size > (UINT64_C(1) << 32))
		return LSM_INVALID;

	mt->magic = MT_MAGIC;
	mt->head = head;
	mt->size = size;
	mt->limit = size > MT_MAX_OFFSET ? MT_MAX_OFFSET : (uint32_t) size;
	mt->rng = UINT64_C(0x9E3779B97F4A7C15);
	mt->inserts = 0;
	memset(mt->fingers, 0, sizeof(mt->fingers));
	h = node_at(mt, head);
	h->key_len = 0;
	h->value_len = 0;
	h->height = MT_MAX_HEIGHT;
	for (int i = 0; i < MT_MAX_HEIGHT; i++)
		atomic_init(&h->next[i], 0);
	atomic_init(&mt->max_height, 1);
	atomic_init(&mt->count, 0);
	atomic_init(&mt->alloc, head + (uint32_t) node_size(MT_MAX_HEIGHT, 0, 0));
	return LSM_OK;
}

bool
lsm_memtable_has_room(lsm_memtable *mt, size_t key_len, size_t value_len)
{
	uint32_t	used = atomic_load_explicit(&mt->alloc, memory_order_relaxed);

	/* Assume the tallest node so that a true answer guarantees add works. */
	return node_size(MT_MAX_HEIGHT, (uint64_t) key_len + LSM_IKEY_TRAILER,
					 value_len) <= (uint64_t) (mt->limit - used);
}

lsm_status
lsm_memtable_add(lsm_memtable *mt, lsm_slice user_key, uint64_t seq,
				 lsm_kind kind, lsm_slice value)
{
	uint64_t	trailer = lsm_pack_trailer(seq, kind);
	uint64_t	rng = mt->rng;
	int			height = random_height(&rng);
	uint64_t	need = node_size(height, (uint64_t) user_key.len + LSM_IKEY_TRAILER,
								 value.len);
	uint32_t	off = atomic_load_explicit(&mt->alloc, memory_order_relaxed);
	int			max_height = (int) atomic_load_explicit(&mt->max_height,
														memory_order_relaxed);
	uint32_t	prev[MT_MAX_HEIGHT];
	uint32_t	found;
	int			finger;
	bool		near = false;
	mt_node    *n;
	uint8_t    *p;

	if (mt->magic != MT_MAGIC)
		return LSM_CORRUPT;
	if (seq > LSM_MAX_SEQ || (unsigned) kind > LSM_KIND_MAX)
		return LSM_INVALID;
	/* An entry no empty memtable could hold is not "full": retrying won't help. */
	if (node_size(MT_MAX_HEIGHT, (uint64_t) user_key.len + LSM_IKEY_TRAILER,
				  value.len) > mt->limit - mt->head - node_size(MT_MAX_HEIGHT, 0, 0))
		return LSM_INVALID;
	if (need > (uint64_t) (mt->limit - off))
		return LSM_FULL;

	finger = finger_pick(mt, user_key.data, user_key.len, trailer);
	if (finger >= 0)
		found = find_ge_from(mt, user_key.data, user_key.len, trailer,
							 mt->fingers[finger].prev, prev, &near);
	else
		found = find_ge(mt, user_key.data, user_key.len, trailer, prev);
	if (found != 0 &&
		node_cmp(node_at(mt, found), user_key.data, user_key.len, trailer) == 0)
		return LSM_INVALID;

	/*
	 * The finger used, if it was of use, follows this insert; else the one
	 * least recently of use does.
	 */
	mt->inserts++;
	if (finger < 0 || !near)
	{
		finger = 0;
		for (int f = 1; f < MT_FINGERS; f++)
			if (mt->fingers[f].node == 0 ||
				(int32_t) (mt->fingers[f].used - mt->fingers[finger].used) < 0)
				finger = f;
	}

	/* Fill the node completely before any reader can reach it. */
	n = node_at(mt, off);
	n->key_len = (uint32_t) (user_key.len + LSM_IKEY_TRAILER);
	n->value_len = (uint32_t) value.len;
	n->height = (uint32_t) height;
	p = (uint8_t *) node_key(n);
	lsm_ikey_write(p, user_key, seq, kind);
	if (value.len)
		memcpy(p + n->key_len, value.data, value.len);
	for (int i = max_height; i < height; i++)
		prev[i] = mt->head;
	for (int i = 0; i < height; i++)
		atomic_store_explicit(&n->next[i], next_at(mt, prev[i], i),
							  memory_order_relaxed);

	atomic_store_explicit(&mt->alloc, off + (uint32_t) need, memory_order_relaxed);
	mt->rng = rng;
	/*
	 * A reader that sees the new height before the head's new links finds
	 * null links there and just descends.
	 */
	if (height > max_height)
		atomic_store_explicit(&mt->max_height, (uint32_t) height,
							  memory_order_relaxed);
	for (int i = 0; i < height; i++)
		atomic_store_explicit(&node_at(mt, prev[i])->next[i], off,
							  memory_order_release);
	atomic_fetch_add_explicit(&mt->count, 1, memory_order_release);
	fingers_update(mt, finger, off, height, prev,
				   height > max_height ? height : max_height,
				   user_key.data, user_key.len, trailer);
	return LSM_OK;
}

lsm_status
lsm_memtable_get(lsm_memtable *mt, lsm_slice user_key, uint64_t snapshot_seq,
				 uint64_t *seq, lsm_kind *kind, lsm_slice *value)
{
	uint32_t	off;
	mt_node    *n;
	const uint8_t *k;
	uint64_t	trailer;

	if (mt->magic != MT_MAGIC)
		return LSM_CORRUPT;
	if (snapshot_seq > LSM_MAX_SEQ)
		snapshot_seq = LSM_MAX_SEQ;
	off = find_ge(mt, user_key.data, user_key.len,
				  lsm_pack_trailer(snapshot_seq, LSM_KIND_MAX), NULL);
	if (off == 0)
		return LSM_NOT_FOUND;
	n = node_at(mt, off);
	k = node_key(n);
	if (n->key_len - LSM_IKEY_TRAILER != user_key.len ||
		(user_key.len && memcmp(k, user_key.data, user_key.len) != 0))
		return LSM_NOT_FOUND;
	trailer = lsm_get_u64(k + user_key.len);
	*seq = trailer >> 8;
	*kind = (lsm_kind) (trailer & 0xff);
	*value = lsm_slice_make(k + n->key_len, n->value_len);
	return LSM_OK;
}

lsm_status
lsm_memtable_verify(lsm_memtable *mt)
{
	int			height = (int) atomic_load_explicit(&mt->max_height,
													memory_order_acquire);
	uint32_t	alloc = atomic_load_explicit(&mt->alloc, memory_order_acquire);
	uint64_t	n = 0;

	if (mt->magic != MT_MAGIC || height < 1 || height > MT_MAX_HEIGHT)
		return LSM_CORRUPT;
	for (int level = height - 1; level >= 0; level--)
	{
		uint32_t	prev = 0;
		uint64_t	count = 0;

		for (uint32_t x = next_at(mt, mt->head, level); x != 0;
			 x = next_at(mt, x, level))
		{
			mt_node    *node = node_at(mt, x);

			if (x < mt->head || x >= alloc || (int) node->height <= level ||
				(prev != 0 && node_cmp_node(node_at(mt, prev), node) >= 0) ||
				++count > (uint64_t) alloc)
				return LSM_CORRUPT;
			prev = x;
		}
		if (level == 0)
			n = count;
	}
	return n == atomic_load_explicit(&mt->count, memory_order_acquire) ?
		LSM_OK : LSM_CORRUPT;
}

uint64_t
lsm_memtable_count(lsm_memtable *mt)
{
	return atomic_load_explicit(&mt->count, memory_order_acquire);
}

size_t
lsm_memtable_bytes_used(lsm_memtable *mt)
{
	return atomic_load_explicit(&mt->alloc, memory_order_relaxed);
}

size_t
lsm_memtable_size(lsm_memtable *mt)
{
	return (size_t) mt->size;
}

/* The iterator: a cursor on one node. */
typedef struct mt_iter
{
	lsm_iter	base;
	lsm_memtable *mt;
	uint32_t	node;			/* 0 when not valid */
	lsm_status	status;
} mt_iter;

static bool
mt_iter_valid(lsm_iter *it)
{
	return ((mt_iter *) it)->node != 0;
}

static void
mt_iter_seek_first(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;

	mi->node = mi->status == LSM_OK ? next_at(mi->mt, mi->mt->head, 0) : 0;
}

static void
mt_iter_seek(lsm_iter *it, lsm_slice target)
{
	mt_iter    *mi = (mt_iter *) it;

	if (mi->status != LSM_OK)
		return;
	if (target.len < LSM_IKEY_TRAILER)
	{
		mi->status = LSM_INVALID;
		mi->node = 0;
		return;
	}
	mi->node = find_ge(mi->mt, target.data, target.len - LSM_IKEY_TRAILER,
					   lsm_ikey_trailer(target), NULL);
}

static void
mt_iter_next(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;

	if (mi->node != 0)
	{
		mi->node = next_at(mi->mt, mi->node, 0);

		/*
		 * Nodes lie in the region in insertion order, not key order: fetch
		 * the one after this while the caller works on this one (a flush
		 * builds a block from it), so that walking the list does not stall
		 * on a cache miss at every entry.
		 */
		if (mi->node != 0)
		{
			uint32_t	after = next_at(mi->mt, mi->node, 0);

			if (after != 0)
				mt_prefetch(node_at(mi->mt, after));
		}
	}
}

/*
 * The node before mi's (prev[0] of a search for its key: the last node
 * below it, as LevelDB's FindLessThan), 0 if it is the first.
 */
static void
mt_iter_prev(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;
	uint32_t	prev[MT_MAX_HEIGHT];
	mt_node    *n;
	size_t		ulen;

	if (mi->node == 0)
		return;
	n = node_at(mi->mt, mi->node);
	ulen = n->key_len - LSM_IKEY_TRAILER;
	(void) find_ge(mi->mt, node_key(n), ulen, lsm_get_u64(node_key(n) + ulen),
				   prev);
	mi->node = prev[0] == mi->mt->head ? 0 : prev[0];
}

/* The last node: right as far as each level goes, then down. */
static void
mt_iter_seek_last(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;
	const lsm_memtable *mt = mi->mt;
	uint32_t	x = mt->head;

	if (mi->status != LSM_OK)
	{
		mi->node = 0;
		return;
	}
	for (int level = (int) atomic_load_explicit(&mt->max_height,
												memory_order_relaxed) - 1;
		 level >= 0; level--)
	{
		uint32_t	next;

		while ((next = next_at(mt, x, level)) != 0)
			x = next;
	}
	mi->node = x == mt->head ? 0 : x;
}

static lsm_slice
mt_iter_key(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;
	mt_node    *n;

	if (mi->node == 0)
		return lsm_slice_make(NULL, 0);
	n = node_at(mi->mt, mi->node);
	return lsm_slice_make(node_key(n), n->key_len);
}

static lsm_slice
mt_iter_value(lsm_iter *it)
{
	mt_iter    *mi = (mt_iter *) it;
	mt_node    *n;

	if (mi->node == 0)
		return lsm_slice_make(NULL, 0);
	n = node_at(mi->mt, mi->node);
	return lsm_slice_make(node_key(n) + n->key_len, n->value_len);
}

static lsm_status
mt_iter_status(lsm_iter *it)
{
	return ((mt_iter *) it)->status;
}

static void
mt_iter_destroy(lsm_iter *it)
{
	free(it);
}

static const lsm_iter_ops mt_iter_ops = {
	.valid = mt_iter_valid,
	.seek_first = mt_iter_seek_first,
	.seek = mt_iter_seek,
	.next = mt_iter_next,
	.key = mt_iter_key,
	.value = mt_iter_value,
	.status = mt_iter_status,
	.destroy = mt_iter_destroy,
	.seek_last = mt_iter_seek_last,
	.prev = mt_iter_prev,
};

lsm_iter *
lsm_memtable_iter_new(lsm_memtable *mt)
{
	mt_iter    *mi = malloc(sizeof(mt_iter));

	if (mi == NULL)
		return NULL;
	mi->base.ops = &mt_iter_ops;
	mi->mt = mt;
	mi->node = 0;
	mi->status = mt->magic == MT_MAGIC ? LSM_OK : LSM_CORRUPT;
	return &mi->base;
}
