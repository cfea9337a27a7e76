/*
 * bench_main.c - a db_bench-style benchmark driver, one engine per binary.
 *
 * Workloads, in this order:
 *   fillseq      num puts in ascending key order into a fresh database
 *   fillrandom   num puts of a random permutation of the same keys into a
 *                fresh database; then the engine's finish_writes ("settle")
 *   readrandom   reads gets of keys chosen uniformly from the loaded set
 *                (every one must be found)
 *   readmissing  reads gets of keys that were never written, interleaved with
 *                the written ones (none may be found)
 *   fullscan     iterate everything; the count must equal num
 *   seekrandom   seeks random seeks to a loaded key, each followed by up to
 *                nexts next() calls, with a fresh iterator per seek
 * The read workloads run on the database that fillrandom built.
 *
 * Keys are 16 bytes: the zero-padded decimal of 2*i for the loaded keys
 * (i in [0, num)) and of 2*i+1 for missing ones, so missing keys have the
 * same length and are spread over the same range.  Values are 100 bytes:
 * 50 pseudo-random bytes followed by the same 50 bytes again, so lz4 (or
 * snappy) halves them.  All random streams have fixed seeds.
 *
 * Each result is printed as a human-readable line and as a line
 *   RESULT <engine> <workload> <ops> <seconds> <ops/s> <MiB/s or ->
 * that scripts/bench-core.sh parses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define KEY_LEN 16
#define VALUE_LEN 100
#define VALUE_RANDOM 50
#define POOL_SIZE (1 << 20)

static const bench_engine *engine = &bench_engine_impl;

static uint64_t num = 1000000;
static uint64_t reads = 1000000;
static uint64_t seeks = 100000;
static int	nexts = 100;
static const char *basedir = "/work/bench-tmp";
static bool keep = false;
static int	failures = 0;
static bool progress = false;	/* stderr is a terminal */

static uint8_t *value_pool;

/* splitmix64: small, fast and good enough for choosing keys. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The 16-byte key for key number n: zero-padded decimal, no terminator. */
static void
make_key(char *buf, uint64_t n)
{
	char		tmp[32];

	snprintf(tmp, sizeof(tmp), "%016" PRIu64, n);
	memcpy(buf, tmp, KEY_LEN);
}

/* The value for the j-th put: 50 bytes from the pool, twice. */
static void
make_value(char *buf, uint64_t j)
{
	size_t		off = (size_t) ((j * VALUE_RANDOM) % (POOL_SIZE - VALUE_RANDOM));

	memcpy(buf, value_pool + off, VALUE_RANDOM);
	memcpy(buf + VALUE_RANDOM, value_pool + off, VALUE_LEN - VALUE_RANDOM);
}

static void
init_value_pool(void)
{
	uint64_t	state = 301;

	value_pool = malloc(POOL_SIZE);
	if (value_pool == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < POOL_SIZE; i += 8)
	{
		uint64_t	r = rng_next(&state);

		memcpy(value_pool + i, &r, 8);
	}
}

static void
report(const char *workload, uint64_t ops, double secs, bool bytes)
{
	double		rate = secs > 0 ? ops / secs : 0;

	if (bytes)
	{
		double		mib = ops * (double) (KEY_LEN + VALUE_LEN) / (1024.0 * 1024.0);

		printf("%-8s %-18s %10" PRIu64 " ops %9.3f s %12.0f ops/s %8.1f MiB/s\n",
			   engine->name, workload, ops, secs, rate, secs > 0 ? mib / secs : 0);
		printf("RESULT %s %s %" PRIu64 " %.6f %.1f %.2f\n",
			   engine->name, workload, ops, secs, rate, secs > 0 ? mib / secs : 0);
	}
	else
	{
		printf("%-8s %-18s %10" PRIu64 " ops %9.3f s %12.0f ops/s\n",
			   engine->name, workload, ops, secs, rate);
		printf("RESULT %s %s %" PRIu64 " %.6f %.1f -\n",
			   engine->name, workload, ops, secs, rate);
	}
	fflush(stdout);
}

static void
fail(const char *workload, const char *fmt,...)
{
	va_list		ap;

	printf("%-8s %-18s FAILED: ", engine->name, workload);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	printf("FAILED %s %s\n", engine->name, workload);
	fflush(stdout);
	failures++;
}

/* Removing and sizing database directories. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	if (remove(path) != 0)
		fprintf(stderr, "remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t du_total;

static int
du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) path;
	(void) ftw;
	if (flag == FTW_F)
		du_total += (uint64_t) sb->st_size;
	return 0;
}

static uint64_t
du_tree(const char *dir)
{
	du_total = 0;
	nftw(dir, du_entry, 16, FTW_PHYS);
	return du_total;
}

static void *
fresh_db(const char *dir)
{
	void	   *db;

	rm_tree(dir);
	if (mkdir(dir, 0700) != 0)
	{
		fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	db = engine->open(dir);
	if (db == NULL)
	{
		fprintf(stderr, "%s: cannot open a database in %s\n", engine->name, dir);
		exit(1);
	}
	return db;
}

/* Puts keys in the order given by perm (NULL: ascending); returns 0 if ok. */
static int
fill(void *db, const char *workload, const uint32_t *perm)
{
	char		key[KEY_LEN];
	char		val[VALUE_LEN];
	double		t0 = now_sec();
	uint64_t	step = num >= 10 ? num / 10 : 1;

	for (uint64_t j = 0; j < num; j++)
	{
		uint64_t	i = perm ? perm[j] : j;

		make_key(key, 2 * i);
		make_value(val, j);
		if (engine->put(db, key, KEY_LEN, val, VALUE_LEN) != 0)
		{
			fail(workload, "put %" PRIu64 " of %" PRIu64 " failed", j, num);
			return -1;
		}
		if (progress && (j + 1) % step == 0)
			fprintf(stderr, "\r%s %s: %" PRIu64 "%%  ", engine->name, workload,
					(j + 1) * 100 / num);
	}
	if (progress)
		fprintf(stderr, "\r%*s\r", 40, "");
	report(workload, num, now_sec() - t0, true);
	return 0;
}

static double
settle(void *db, const char *workload, const char *dir)
{
	double		t0 = now_sec();
	double		secs;

	if (engine->finish_writes(db) != 0)
		fail(workload, "finish_writes failed");
	secs = now_sec() - t0;
	printf("%-8s %-18s settle %.3f s, on disk %.1f MiB\n",
		   engine->name, workload, secs, du_tree(dir) / (1024.0 * 1024.0));
	printf("SETTLE %s %s %.6f %" PRIu64 "\n", engine->name, workload, secs,
		   du_tree(dir));
	return secs;
}

static void
read_keys(void *db, const char *workload, bool missing)
{
	char		key[KEY_LEN];
	uint64_t	state = missing ? 1002 : 1001;
	uint64_t	found = 0;
	uint64_t	badlen = 0;
	double		t0 = now_sec();
	double		secs;

	for (uint64_t j = 0; j < reads; j++)
	{
		uint64_t	i = rng_next(&state) % num;
		bool		f = false;
		size_t		vlen = 0;

		make_key(key, 2 * i + (missing ? 1 : 0));
		if (engine->get(db, key, KEY_LEN, &f, &vlen) != 0)
		{
			fail(workload, "get %" PRIu64 " of %" PRIu64 " failed", j, reads);
			return;
		}
		if (f)
		{
			found++;
			if (vlen != VALUE_LEN)
				badlen++;
		}
	}
	secs = now_sec() - t0;
	report(workload, reads, secs, false);
	if (!missing && found != reads)
		fail(workload, "found %" PRIu64 " of %" PRIu64 " loaded keys", found, reads);
	if (missing && found != 0)
		fail(workload, "found %" PRIu64 " of %" PRIu64 " missing keys", found, reads);
	if (badlen != 0)
		fail(workload, "%" PRIu64 " values of wrong length (of %" PRIu64 ")", badlen, found);
}

static void
fullscan(void *db)
{
	void	   *it = engine->iter_new(db);
	char		prev[KEY_LEN];
	uint64_t	count = 0;
	uint64_t	disorder = 0;
	uint64_t	bytes = 0;
	double		t0 = now_sec();
	double		secs;

	if (it == NULL)
	{
		fail("fullscan", "cannot create an iterator");
		return;
	}
	for (engine->iter_seek(it, NULL, 0); engine->iter_valid(it); engine->iter_next(it))
	{
		size_t		klen;
		size_t		vlen;
		const char *k = engine->iter_key(it, &klen);

		engine->iter_value(it, &vlen);
		bytes += klen + vlen;
		if (klen != KEY_LEN || (count > 0 && memcmp(prev, k, KEY_LEN) >= 0))
			disorder++;
		if (klen == KEY_LEN)
			memcpy(prev, k, KEY_LEN);
		count++;
	}
	if (engine->iter_free(it) != 0)
		fail("fullscan", "iterator error after %" PRIu64 " of %" PRIu64 " entries", count, num);
	secs = now_sec() - t0;
	report("fullscan", count, secs, false);
	if (count != num)
		fail("fullscan", "counted %" PRIu64 " entries, loaded %" PRIu64, count, num);
	if (disorder != 0)
		fail("fullscan", "%" PRIu64 " keys out of order or of wrong length (of %" PRIu64 ")",
			 disorder, count);
	(void) bytes;
}

static void
seekrandom(void *db)
{
	char		key[KEY_LEN];
	uint64_t	state = 1003;
	uint64_t	entries = 0;
	uint64_t	expected = 0;
	double		t0 = now_sec();
	double		secs;

	for (uint64_t j = 0; j < seeks; j++)
	{
		uint64_t	i = rng_next(&state) % num;
		void	   *it = engine->iter_new(db);
		int			n;

		if (it == NULL)
		{
			fail("seekrandom", "cannot create iterator %" PRIu64 " of %" PRIu64, j, seeks);
			return;
		}
		make_key(key, 2 * i);
		engine->iter_seek(it, key, KEY_LEN);
		for (n = 0; n <= nexts && engine->iter_valid(it); n++)
		{
			size_t		klen;

			engine->iter_key(it, &klen);
			entries++;
			if (n < nexts)
				engine->iter_next(it);
		}
		/* The seek's own entry plus nexts more, fewer near the end. */
		expected += (num - i) < (uint64_t) nexts + 1 ? (num - i) : (uint64_t) nexts + 1;
		if (engine->iter_free(it) != 0)
		{
			fail("seekrandom", "iterator error at seek %" PRIu64 " of %" PRIu64, j, seeks);
			return;
		}
	}
	secs = now_sec() - t0;
	report("seekrandom", seeks, secs, false);
	if (entries != expected)
		fail("seekrandom", "saw %" PRIu64 " entries, expected %" PRIu64, entries, expected);
}

static void
usage(const char *prog)
{
	fprintf(stderr,
			"usage: %s [--num N] [--reads N] [--seeks N] [--nexts N] [--dir DIR] [--keep]\n"
			"  --num    keys loaded by fillseq and fillrandom (1000000)\n"
			"  --reads  gets for readrandom and readmissing (1000000)\n"
			"  --seeks  seeks for seekrandom (100000)\n"
			"  --nexts  next() calls after each seek (100)\n"
			"  --dir    scratch directory, a subdirectory per engine (/work/bench-tmp)\n"
			"  --keep   keep the fillrandom database instead of deleting it\n",
			prog);
	exit(2);
}

static uint64_t
parse_count(const char *s, const char *prog)
{
	char	   *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1000000, end++;
	if (*s == '\0' || *end != '\0')
		usage(prog);
	return v;
}

int
main(int argc, char **argv)
{
	char		dir[4096];
	char		path[4200];
	uint32_t   *perm;
	uint64_t	state = 1000;
	void	   *db;

	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "--keep") == 0)
			keep = true;
		else if (i + 1 >= argc)
			usage(argv[0]);
		else if (strcmp(a, "--num") == 0)
			num = parse_count(argv[++i], argv[0]);
		else if (strcmp(a, "--reads") == 0)
			reads = parse_count(argv[++i], argv[0]);
		else if (strcmp(a, "--seeks") == 0)
			seeks = parse_count(argv[++i], argv[0]);
		else if (strcmp(a, "--nexts") == 0)
			nexts = (int) parse_count(argv[++i], argv[0]);
		else if (strcmp(a, "--dir") == 0)
			basedir = argv[++i];
		else
			usage(argv[0]);
	}
	if (num == 0 || num > UINT32_MAX / 2)
	{
		fprintf(stderr, "--num must be between 1 and %u\n", UINT32_MAX / 2);
		return 2;
	}

	mkdir(basedir, 0700);
	snprintf(dir, sizeof(dir), "%s/%s", basedir, engine->name);
	rm_tree(dir);
	if (mkdir(dir, 0700) != 0)
	{
		fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	init_value_pool();
	progress = isatty(2);

	printf("engine %s: %s\n", engine->name, engine->settings);
	printf("keys %d bytes, values %d bytes (~50%% compressible), num %" PRIu64
		   ", reads %" PRIu64 ", seeks %" PRIu64 " x %d nexts\n",
		   KEY_LEN, VALUE_LEN, num, reads, seeks, nexts);
	fflush(stdout);

	/* fillseq into its own database, dropped afterwards. */
	snprintf(path, sizeof(path), "%s/fillseq", dir);
	db = fresh_db(path);
	fill(db, "fillseq", NULL);
	settle(db, "fillseq", path);
	if (engine->close(db) != 0)
		fail("fillseq", "close failed");
	rm_tree(path);

	/* fillrandom: a random permutation of [0, num). */
	perm = malloc(num * sizeof(uint32_t));
	if (perm == NULL)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (uint64_t i = 0; i < num; i++)
		perm[i] = (uint32_t) i;
	for (uint64_t i = num - 1; i > 0; i--)
	{
		uint64_t	j = rng_next(&state) % (i + 1);
		uint32_t	t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	snprintf(path, sizeof(path), "%s/fillrandom", dir);
	db = fresh_db(path);
	if (fill(db, "fillrandom", perm) == 0)
	{
		free(perm);
		settle(db, "fillrandom", path);
		read_keys(db, "readrandom", false);
		read_keys(db, "readmissing", true);
		fullscan(db);
		seekrandom(db);
	}
	if (engine->close(db) != 0)
		fail("close", "close failed");
	if (!keep)
		rm_tree(dir);

	if (failures)
		printf("%s: %d check(s) FAILED\n", engine->name, failures);
	return failures ? 3 : 0;
}
