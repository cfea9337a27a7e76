/*
 * format.h - the on-disk format of an lsm_am relation: the single authority
 * for its page layout, page kinds, metapage and log page headers, key
 * families and row-id width.  Plain C, no PostgreSQL header: the storage
 * layer (src/storage/lsm_storage.h, src/storage/lsm_tree.h) defines its structs from these
 * and checks them with static assertions; the offline tool (lsm_inspect.c)
 * reads files with them.  doc/design.md explains what each field is for.
 *
 * Every page of the relation's main fork is a standard PostgreSQL page of
 * 8192 bytes (little-endian, as on every machine PostgreSQL runs lsm_am):
 *
 *   OFFSET  SIZE  DESCRIPTION
 *        0    24  PostgreSQL page header; the u16 pd_lower at 12 marks the
 *                 end of the payload in use (24 + bytes used)
 *       24  8160  payload (LSM_FORMAT_PAYLOAD_SIZE)
 *     8184     4  special space: reserved
 *     8188     2  page kind (LSM_FORMAT_PAGE_META ... _MANIFEST)
 *     8190     2  page id, LSM_FORMAT_PAGE_ID
 *
 * Block 0 is the metapage.  Its payload:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *        0     4  magic, LSM_FORMAT_META_MAGIC ("LSMT")
 *        4     4  format version, LSM_FORMAT_META_VERSION
 *        8     8  id_hwm: no id at or above it was handed out (a table's row ids)
 *       16     8  manifest version
 *       24     4  bytes of serialised manifest
 *       28     4  first page of the manifest's overflow extent; 0: inline
 *       32     4  pages of that extent
 *       36     4  reserved
 *       40     2  key encoder (lsm_keys.h)
 *       42     2  key column's attribute number
 *       44     4  key column's type OID
 *       48     4  key column's collation OID
 *       52     4  reserved
 *       56     -  the manifest, when inline (manifest.h's serialisation)
 *
 * A log page's payload: the next page of the chain (u32, 0 at the tail),
 * a reserved u32, then log records (logrec.h) to pd_lower.  Run and
 * overflow-manifest pages carry a byte stream over their payloads
 * (sstable.h, manifest.h).
 *
 * User keys (ikey.h) of a table start with a family byte:
 *
 *   LSM_FORMAT_FAMILY_ROWMAP | row id                   -> the row's data key
 *   LSM_FORMAT_FAMILY_DATA   | encoded key column | row id  -> row, deltas
 *
 * A run's bloom filter hashes a user key's bloom prefix: a data key
 * without its row id (so that a lookup by key value, any row id, can use
 * it), any other key whole (lsm_format_bloom_len).
 *
 * A row id is LSM_FORMAT_ROWID_BYTES bytes, big-endian; a row's TID is
 * (row id / LSM_FORMAT_TIDS_PER_BLOCK, row id % LSM_FORMAT_TIDS_PER_BLOCK
 * + 1).  The relation's file is cut into segments of
 * LSM_FORMAT_SEGMENT_PAGES pages, as PostgreSQL's default RELSEG_SIZE.
 */
#ifndef LSM_FORMAT_H
#define LSM_FORMAT_H

#include "lsm_base.h"

#define LSM_FORMAT_PAGE_SIZE		8192
#define LSM_FORMAT_PAGE_HEADER		24
#define LSM_FORMAT_PD_LOWER			12
#define LSM_FORMAT_SPECIAL_SIZE		8
#define LSM_FORMAT_PAYLOAD_SIZE \
	(LSM_FORMAT_PAGE_SIZE - LSM_FORMAT_PAGE_HEADER - LSM_FORMAT_SPECIAL_SIZE)
#define LSM_FORMAT_KIND_OFFSET		(LSM_FORMAT_PAGE_SIZE - 4)
#define LSM_FORMAT_ID_OFFSET		(LSM_FORMAT_PAGE_SIZE - 2)

#define LSM_FORMAT_PAGE_ID			0xFF8B
#define LSM_FORMAT_PAGE_META		1
#define LSM_FORMAT_PAGE_LOG			2
#define LSM_FORMAT_PAGE_RUN			3
#define LSM_FORMAT_PAGE_MANIFEST	4

#define LSM_FORMAT_META_BLKNO		0
#define LSM_FORMAT_META_MAGIC		0x4C534D54	/* "LSMT" */
#define LSM_FORMAT_META_VERSION		3
/* offsets of the metapage's fields in its payload */
#define LSM_FORMAT_META_MAGIC_OFF		0
#define LSM_FORMAT_META_VERSION_OFF		4
#define LSM_FORMAT_META_ID_HWM_OFF		8
#define LSM_FORMAT_META_MVERSION_OFF	16
#define LSM_FORMAT_META_MLEN_OFF		24
#define LSM_FORMAT_META_MFIRST_OFF		28
#define LSM_FORMAT_META_MNPAGES_OFF		32
#define LSM_FORMAT_META_KEY_ENCODER_OFF 40
#define LSM_FORMAT_META_KEY_ATTNUM_OFF	42
#define LSM_FORMAT_META_KEY_TYPID_OFF	44
#define LSM_FORMAT_META_KEY_COLL_OFF	48
#define LSM_FORMAT_META_SIZE			56
#define LSM_FORMAT_META_INLINE			56

#define LSM_FORMAT_LOG_HEADER		8

#define LSM_FORMAT_FAMILY_ROWMAP	0x01
#define LSM_FORMAT_FAMILY_DATA		0x02
#define LSM_FORMAT_ROWID_BYTES		6
#define LSM_FORMAT_TIDS_PER_BLOCK	291
#define LSM_FORMAT_SEGMENT_PAGES	131072

/* The bloom prefix of user_key; the sstable option bloom_key_len. */
static inline size_t
lsm_format_bloom_len(lsm_slice user_key)
{
	if (user_key.len >= 1 + LSM_FORMAT_ROWID_BYTES &&
		user_key.data[0] == LSM_FORMAT_FAMILY_DATA)
		return user_key.len - LSM_FORMAT_ROWID_BYTES;
	return user_key.len;
}

#endif							/* LSM_FORMAT_H */
