/*
 * lsm_xmax.h - xmax arithmetic for row locks, deletes and updates of lsm
 * tables: which xmax an operation leaves, when lockers conflict, how to wait
 * for a MultiXactId.  The rules are heap's (heapam.c); lsm_modify.c applies
 * them to the XMAX deltas of a row.
 */
#ifndef LSM_XMAX_H
#define LSM_XMAX_H

#include "postgres.h"

#include "access/multixact.h"
#include "nodes/lockoptions.h"
#include "storage/itemptr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

/* The heavyweight lock that queues waiters for a row lock strength. */
extern LOCKMODE lsm_tuplock_lockmode(LockTupleMode mode);

/* The MultiXactStatus of a lock (or of an update, if is_update). */
extern MultiXactStatus lsm_mxact_status_for_lock(LockTupleMode mode,
												 bool is_update);

/* The row lock strength a MultiXactStatus stands for. */
extern LockTupleMode lsm_tuplock_from_mxstatus(MultiXactStatus status);

/*
 * heap's compute_new_xmax_infomask: the xmax, infomask and infomask2 that
 * a lock of mode (or an update, if is_update) by add_to_xmax (the current
 * (sub)transaction) leaves on a row whose xmax is (xmax, old_infomask,
 * old_infomask2), creating or expanding a MultiXactId when lockers must be
 * kept together.
 */
extern void lsm_compute_new_xmax(TransactionId xmax, uint16 old_infomask,
								 uint16 old_infomask2,
								 TransactionId add_to_xmax,
								 LockTupleMode mode, bool is_update,
								 TransactionId *result_xmax,
								 uint16 *result_infomask,
								 uint16 *result_infomask2);

/* heap's GetMultiXactIdHintBits: infomask bits describing multi. */
extern void lsm_multixact_hint_bits(MultiXactId multi, uint16 *new_infomask,
									uint16 *new_infomask2);

/* heap's DoesMultiXactIdConflict. */
extern bool lsm_multixact_conflicts(MultiXactId multi, uint16 infomask,
									LockTupleMode lockmode,
									bool *current_is_member);

/*
 * heap's MultiXactIdWait and ConditionalMultiXactIdWait: sleep on the members
 * of multi that conflict with status.  *remaining (if not NULL) gets the
 * number still running, our own (sub)transactions included.  The conditional
 * form returns false instead of sleeping.
 */
extern void lsm_multixact_wait(MultiXactId multi, MultiXactStatus status,
							   uint16 infomask, Relation rel, ItemPointer ctid,
							   XLTW_Oper oper, int *remaining);
extern bool lsm_multixact_wait_conditional(MultiXactId multi,
										   MultiXactStatus status,
										   uint16 infomask, Relation rel,
										   int *remaining);

#endif							/* LSM_XMAX_H */
