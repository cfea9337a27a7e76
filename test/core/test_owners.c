/*
 * test_owners.c - the page-ownership map: claims, pages outside the store,
 * pages claimed twice, unowned stretches.
 */
#include <stdlib.h>

#include "owners.h"
#include "tap.h"

typedef struct seen
{
	int			n;
	lsm_pageno	first[8];
	lsm_pageno	last[8];
	uint32_t	other[8];
} seen;

static void
record(void *arg, lsm_pageno first, lsm_pageno last, uint32_t other)
{
	seen	   *s = arg;

	if (s->n < 8)
	{
		s->first[s->n] = first;
		s->last[s->n] = last;
		s->other[s->n] = other;
	}
	s->n++;
}

int
main(void)
{
	uint32_t	map[20] = {0};
	lsm_page_owners o;
	seen		s = {0};
	lsm_pageno	from = 0;
	lsm_pageno	first = 0;
	lsm_pageno	end = 0;

	lsm_owners_init(&o, map, 20);
	is_int(lsm_owners_claim(&o, 0, 1, 1, 1, record, &s), 0, "the metapage may claim page 0");
	is_int(lsm_owners_claim(&o, 2, 4, 2, 0, record, &s), 0, "a free extent claims 2..5");
	is_int(s.n, 0, "no problem reported");

	is_int(lsm_owners_claim(&o, 4, 4, 3, 0, record, &s), 1, "4..7 overlaps 2..5 once");
	ok(s.n == 1 && s.first[0] == 4 && s.last[0] == 5 && s.other[0] == 2,
	   "the stretch 4..5 is reported with its owner");
	ok(map[6] == 3 && map[7] == 3 && map[4] == 2, "the rest is claimed, the overlap kept");

	s.n = 0;
	is_int(lsm_owners_claim(&o, 0, 2, 4, 0, record, &s), 1,
		   "page 0 for a non-metapage owner is outside; page 1 is free to take");
	ok(s.n == 1 && s.first[0] == 0 && s.last[0] == 1 && s.other[0] == 0,
	   "the whole extent is reported as outside");
	ok(map[1] == 4 && map[0] == 1, "page 1 claimed, page 0 kept by the metapage");

	s.n = 0;
	is_int(lsm_owners_claim(&o, 18, 4, 5, 0, record, &s), 1, "18..21 runs past the end");
	ok(s.n == 1 && s.first[0] == 18 && s.last[0] == 21 && s.other[0] == 0,
	   "reported as outside");
	ok(map[18] == 5 && map[19] == 5, "what lies inside is claimed");
	is_int(lsm_owners_claim(&o, 30, 2, 6, 0, NULL, NULL), 1, "wholly outside, no report callback");

	ok(lsm_owners_next_unowned(&o, &from, &first, &end) && first == 8 && end == 18,
	   "pages 8..17 are owned by nobody");
	ok(!lsm_owners_next_unowned(&o, &from, &first, &end), "and nothing after them");
	is_int(lsm_owners_claim(&o, 3, 0, 7, 0, record, &s), 0, "an empty extent claims nothing");
	return done_testing();
}
