/*
 * lsm_rowid.h - row ids: every row version of an lsm table has one, taken
 * from the storage layer's id counter (lsm_tree_new_id), and it is the
 * row's TID.
 *
 * Keys of a table (all memcmp-ordered; lsm/format.h, lsm_keys.h):
 *   LSM_FAMILY_DATA   | encoded first column | row id (6 bytes, big-endian)
 *                     -> VALUE: the row (lsm_tuple.h); XMAX/LOCK deltas
 *   LSM_FAMILY_ROWMAP | row id (6 bytes, big-endian)
 *                     -> VALUE: the data key of that row (for TID lookups)
 * The bloom filter of a run hashes a data key without its row id, so point
 * lookups by column value can use it.
 */
#ifndef LSM_ROWID_H
#define LSM_ROWID_H

#include "postgres.h"

#include "storage/itemptr.h"

#include "lsm/format.h"
#include "lsm_tree.h"

#define LSM_FAMILY_ROWMAP LSM_FORMAT_FAMILY_ROWMAP
#define LSM_FAMILY_DATA LSM_FORMAT_FAMILY_DATA
#define LSM_ROWID_BYTES LSM_FORMAT_ROWID_BYTES

/* TIDs: block = rowid / 291, offset = rowid % 291 + 1 (doc/design.md). */
#define LSM_TIDS_PER_BLOCK LSM_FORMAT_TIDS_PER_BLOCK

/*
 * The last row id whose TID has a valid block number (MaxBlockNumber):
 * about 1.25 * 10^12, well inside the 48 bits a row id is stored in.  A
 * table refuses new row ids past it rather than give two rows one TID.
 */
#define LSM_MAX_ROWID \
	((UINT64CONST(1) + MaxBlockNumber) * LSM_TIDS_PER_BLOCK - 1)

typedef uint64 LsmRowId;

static inline void
lsm_rowid_to_tid(LsmRowId id, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (id / LSM_TIDS_PER_BLOCK),
				   (OffsetNumber) (id % LSM_TIDS_PER_BLOCK + 1));
}

static inline LsmRowId
lsm_tid_to_rowid(ItemPointer tid)
{
	return (LsmRowId) ItemPointerGetBlockNumberNoCheck(tid) * LSM_TIDS_PER_BLOCK +
		ItemPointerGetOffsetNumberNoCheck(tid) - 1;
}

static inline bool
lsm_tid_valid(ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	return off >= 1 && off <= LSM_TIDS_PER_BLOCK;
}

/* Big-endian row id, so row-id order is memcmp order. */
static inline void
lsm_rowid_put(uint8 *dst, LsmRowId id)
{
	for (int i = LSM_ROWID_BYTES - 1; i >= 0; i--)
	{
		dst[i] = (uint8) id;
		id >>= 8;
	}
}

static inline LsmRowId
lsm_rowid_get(const uint8 *src)
{
	LsmRowId	id = 0;

	for (int i = 0; i < LSM_ROWID_BYTES; i++)
		id = (id << 8) | src[i];
	return id;
}

/*
 * The table's row ids are its storage's ids below LSM_MAX_ROWID + 1
 * (lsm_tree.h); the tree's id limit bounds every row id handed out.
 */
extern LsmRowId lsm_rowid_new(Relation rel, LsmTree *tree);

static inline LsmRowId
lsm_rowid_limit(LsmTree *tree)
{
	return (LsmRowId) lsm_tree_id_limit(tree);
}

#endif							/* LSM_ROWID_H */
