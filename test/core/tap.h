/*
 * tap.h - a minimal Test Anything Protocol producer for the core's tests,
 * read by prove(1).  Each test binary calls plan-free checks and ends with
 * done_testing(), whose return value is main's exit status.
 */
#ifndef LSM_TAP_H
#define LSM_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int	tap_count;
static int	tap_failed;

static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list		ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Compares two integers and prints both on failure. */
#define is_int(got, want, ...) \
	do { \
		long long g_ = (long long) (got), w_ = (long long) (want); \
		if (!ok(g_ == w_, __VA_ARGS__)) \
			printf("#   got %lld, want %lld\n", g_, w_); \
	} while (0)

static inline void
diag(const char *fmt, ...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * xorshift64*: a deterministic generator, so a failure reproduces.  A test
 * that wants its own sequence sets tap_rng before drawing.
 */
static uint64_t tap_rng = 0x9e3779b97f4a7c15ULL;

static inline uint64_t
tap_rand(void)
{
	tap_rng ^= tap_rng >> 12;
	tap_rng ^= tap_rng << 25;
	tap_rng ^= tap_rng >> 27;
	return tap_rng * 0x2545f4914f6cdd1dULL;
}

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif							/* LSM_TAP_H */
