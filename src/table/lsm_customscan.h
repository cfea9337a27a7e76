/*
 * lsm_customscan.h - LsmScan, the custom scan that reads key ranges of lsm
 * tables and returns rows in key order (lsm_customscan.c).
 */
#ifndef LSM_CUSTOMSCAN_H
#define LSM_CUSTOMSCAN_H

/* Defines lsm.enable_lsmscan and installs the planner hook (from _PG_init). */
extern void lsm_customscan_init(void);

#endif							/* LSM_CUSTOMSCAN_H */
