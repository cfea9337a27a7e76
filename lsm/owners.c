/*
 * owners.c - which owner each page of a store belongs to (owners.h).
 */
#include "owners.h"

void
lsm_owners_init(lsm_page_owners *o, uint32_t *map, lsm_pageno npages)
{
	o->owner = map;
	o->npages = npages;
}

int
lsm_owners_claim(lsm_page_owners *o, lsm_pageno first, uint32_t n,
				 uint32_t owner, int allow_zero,
				 lsm_owners_report report, void *arg)
{
	uint64_t	end = (uint64_t) first + n;
	int			problems = 0;

	if (n == 0)
		return 0;
	if ((first == 0 && !allow_zero) || end > o->npages)
	{
		if (report)
			report(arg, first, (lsm_pageno) (end - 1), 0);
		problems++;
	}
	/* What lies inside is still claimed (the rest was reported above). */
	if (end > o->npages)
		end = o->npages;
	for (uint64_t p = (first == 0 && !allow_zero) ? 1 : first; p < end;)
	{
		uint32_t	other = o->owner[p];
		lsm_pageno	start = (lsm_pageno) p;

		if (other == 0)
		{
			o->owner[p++] = owner;
			continue;
		}
		while (p < end && o->owner[p] == other)
			p++;
		if (report)
			report(arg, start, (lsm_pageno) (p - 1), other);
		problems++;
	}
	return problems;
}

int
lsm_owners_next_unowned(const lsm_page_owners *o, lsm_pageno *from,
						lsm_pageno *first, lsm_pageno *end)
{
	lsm_pageno	p = *from > 0 ? *from : 1;

	while (p < o->npages && o->owner[p] != 0)
		p++;
	if (p >= o->npages)
	{
		*from = o->npages;
		return 0;
	}
	*first = p;
	while (p < o->npages && o->owner[p] == 0)
		p++;
	*end = p;
	*from = p;
	return 1;
}
