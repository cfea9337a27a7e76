/*
 * lsm_background.h - how the storage layer asks for background work
 * without knowing who does it.
 */
#ifndef LSM_BACKGROUND_H
#define LSM_BACKGROUND_H

#include "postgres.h"

#include "lsm/manifest.h"
#include "lsm_storage.h"

/*
 * Background work (the workers layer) is asked for through these hooks, which
 * the workers install from _PG_init.  Unset (a backend that did not load
 * them), nothing is asked and writers do the work themselves.
 *
 * compact_request: a flush or stall committed manifest m of the table of
 * store s; ask for a compaction if m needs one.  Cheap when it does not,
 * never errors.  compaction_running: whether a compaction worker serves
 * database dbid.  flusher_takes / flusher_wake: whether the flusher takes
 * the flushes of table e, and wake it.
 */
typedef struct LsmBackgroundHooks
{
	void		(*compact_request) (LsmStore *s, const lsm_manifest *m);
	bool		(*compaction_running) (Oid dbid);
	bool		(*flusher_takes) (LsmTableShared *e);
	void		(*flusher_wake) (void);
} LsmBackgroundHooks;

extern LsmBackgroundHooks lsm_background;

static inline void
lsm_background_compact(LsmStore *s, const lsm_manifest *m)
{
	if (lsm_background.compact_request)
		lsm_background.compact_request(s, m);
}

static inline bool
lsm_background_compacts(Oid dbid)
{
	return lsm_background.compaction_running &&
		lsm_background.compaction_running(dbid);
}

static inline bool
lsm_background_flushes(LsmTableShared *e)
{
	return lsm_background.flusher_takes && lsm_background.flusher_takes(e);
}

static inline void
lsm_background_wake_flusher(void)
{
	if (lsm_background.flusher_wake)
		lsm_background.flusher_wake();
}

#endif							/* LSM_BACKGROUND_H */
