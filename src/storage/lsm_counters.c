/*
 * lsm_counters.c - per-table activity counters in shared memory (see
 * lsm_counters.h for what each one counts).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "lsm_counters.h"
#include "lsm_storage.h"

void
lsm_counters_init(LsmCounters *c)
{
	for (int i = 0; i < LSM_NUM_COUNTERS; i++)
		pg_atomic_init_u64(&c->ctr[i], 0);
	for (int i = 0; i < LSM_NUM_TIMESTAMPS; i++)
		pg_atomic_init_u64(&c->ts[i], 0);
	pg_atomic_write_u64(&c->ts[LSM_TS_RESET], (uint64) GetCurrentTimestamp());
	pg_atomic_init_u32(&c->compacting_pid, 0);
}

void
lsm_counter_add(LsmTableShared *e, LsmCounter ctr, uint64 n)
{
	Assert(ctr >= 0 && ctr < LSM_NUM_COUNTERS);
	if (e == NULL || n == 0)
		return;
	pg_atomic_fetch_add_u64(&e->counters.ctr[ctr], n);
}

void
lsm_counter_set_time(LsmTableShared *e, LsmTimestamp ts)
{
	Assert(ts >= 0 && ts < LSM_NUM_TIMESTAMPS);
	if (e == NULL)
		return;
	pg_atomic_write_u64(&e->counters.ts[ts], (uint64) GetCurrentTimestamp());
}

void
lsm_counter_set_compacting(LsmTableShared *e, bool on)
{
	if (e == NULL)
		return;
	pg_atomic_write_u32(&e->counters.compacting_pid, on ? (uint32) MyProcPid : 0);
}

uint64
lsm_counter_get(LsmTableShared *e, LsmCounter ctr)
{
	Assert(ctr >= 0 && ctr < LSM_NUM_COUNTERS);
	return pg_atomic_read_u64(&e->counters.ctr[ctr]);
}

TimestampTz
lsm_counter_get_time(LsmTableShared *e, LsmTimestamp ts)
{
	Assert(ts >= 0 && ts < LSM_NUM_TIMESTAMPS);
	return (TimestampTz) pg_atomic_read_u64(&e->counters.ts[ts]);
}

int
lsm_counter_get_compacting(LsmTableShared *e)
{
	return (int) pg_atomic_read_u32(&e->counters.compacting_pid);
}
