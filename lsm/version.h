/*
 * version.h - the LSM core's version.
 *
 * Bump it when the core's behaviour or on-disk formats change; the extension
 * reports it through lsm_am_version().
 */
#ifndef LSM_VERSION_H
#define LSM_VERSION_H

#define LSM_CORE_VERSION "0.1.0"

#endif							/* LSM_VERSION_H */
