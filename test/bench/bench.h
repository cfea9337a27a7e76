/*
 * bench.h - the engine interface of the db_bench-style benchmark.
 *
 * bench_main.c drives the workloads; each engine_*.c file defines
 * bench_engine_impl, and the Makefile links one engine into each binary.
 * Every function returns 0 on success; on failure it prints why and
 * returns -1.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bench_engine
{
	const char *name;
	/* One line describing the settings used, printed with the results. */
	const char *settings;

	/* Creates a fresh database inside dir (which exists and is empty). */
	void	   *(*open) (const char *dir);
	int			(*put) (void *db, const char *key, size_t klen,
						const char *val, size_t vlen);
	/* *found says whether key exists; *vlen is its value's length. */
	int			(*get) (void *db, const char *key, size_t klen,
						bool *found, size_t *vlen);
	/*
	 * Called after a fill phase: finish whatever write work is pending, as
	 * the engine defines it (background compaction settling, nothing for an
	 * engine that compacts inline).
	 */
	int			(*finish_writes) (void *db);
	int			(*close) (void *db);

	/* Iterators: new, seek (NULL key: first), valid, next, key, free. */
	void	   *(*iter_new) (void *db);
	void		(*iter_seek) (void *it, const char *key, size_t klen);
	bool		(*iter_valid) (void *it);
	void		(*iter_next) (void *it);
	const char *(*iter_key) (void *it, size_t *klen);
	const char *(*iter_value) (void *it, size_t *vlen);
	/* Returns -1 if the iterator stopped on an error. */
	int			(*iter_free) (void *it);
} bench_engine;

extern const bench_engine bench_engine_impl;

#endif							/* BENCH_H */
