/*
 * owners.h - which owner each page of a store belongs to.
 *
 * A store's pages are owned by exactly one of: the metapage, the manifest's
 * overflow extent, the log, a run, a free extent.  Checking that (the
 * offline tool, lsm_verify, the load that frees unowned pages, the core's
 * own store) is the same walk everywhere: claim each owner's extent in a
 * map, learn what lies outside the store and what was claimed twice, then
 * list what nobody claimed.  The caller provides the map's memory (one
 * uint32_t per page, zeroed) and numbers its owners from 1.
 */
#ifndef LSM_OWNERS_H
#define LSM_OWNERS_H

#include <stdint.h>

#include "pager.h"

typedef struct lsm_page_owners
{
	uint32_t   *owner;			/* per page: 0 (none) or the owner's number */
	lsm_pageno	npages;			/* pages in the store */
} lsm_page_owners;

/*
 * What lsm_owners_claim found: part of an extent outside pages 1..npages-1
 * (other is 0; first..last is the whole extent), or a stretch first..last
 * already claimed by owner other.
 */
typedef void (*lsm_owners_report) (void *arg, lsm_pageno first, lsm_pageno last,
								   uint32_t other);

void		lsm_owners_init(lsm_page_owners *o, uint32_t *map, lsm_pageno npages);

/*
 * Claims [first, first + n) for owner (>= 1), page 0 excepted unless
 * allow_zero: pages already claimed keep their owner.  Reports each problem
 * (if report is not NULL) and returns how many there were.
 */
int			lsm_owners_claim(lsm_page_owners *o, lsm_pageno first, uint32_t n,
							 uint32_t owner, int allow_zero,
							 lsm_owners_report report, void *arg);

/*
 * The next stretch of pages at or after *from that nobody claimed, page 0
 * excepted: [*first, *end); false when there is none.  *from moves past it.
 */
int			lsm_owners_next_unowned(const lsm_page_owners *o, lsm_pageno *from,
									lsm_pageno *first, lsm_pageno *end);

#endif							/* LSM_OWNERS_H */
