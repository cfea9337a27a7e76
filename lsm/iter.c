/*
 * iter.c - what every iterator gets from its seek, prev and seek_last.
 */
#include "iter.h"

#include "ikey.h"

void
lsm_iter_seek_for_prev(lsm_iter *it, lsm_slice target)
{
	lsm_iter_seek(it, target);
	if (lsm_iter_valid(it))
	{
		if (lsm_ikey_compare(lsm_iter_key(it), target) > 0)
			lsm_iter_prev(it);
	}
	else if (lsm_iter_status(it) == LSM_OK)
		lsm_iter_seek_last(it);
}
