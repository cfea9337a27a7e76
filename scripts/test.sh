#!/usr/bin/env bash
# scripts/test.sh - builds lsm_am and runs every test suite; .ci/run calls it.
#
#   scripts/test.sh             as root
#   sudo scripts/test.sh        as a user with sudo
#
# As an ordinary user without sudo it also runs, once the packages are
# installed, if the user may write PostgreSQL's install directories.
#
# Installs the packages it needs if they are missing, builds with warnings as
# errors, then runs, in order:
#   1. the LSM core's unit and randomized tests      make -C lsm check
#   2. the same under AddressSanitizer + UBSan       make -C lsm check-asan
#   3. the core's tests under valgrind               make -C lsm check-valgrind
#   4. make install
#   5. pg_regress (sql/, expected/)                  make installcheck-regress
#   6. isolation (test/isolation)                    make installcheck-isolation
#   7. TAP, PostgreSQL::Test::Cluster (test/t)       make prove_installcheck
#   8. pgTAP (test/pgtap) with pg_prove
# 5, 6 and 8 run against a throwaway cluster started with
# shared_preload_libraries = 'lsm_am'; 7 starts its own clusters.  PostgreSQL
# runs as an unprivileged user (lsmci, created if missing) when this runs as
# root, in a scratch copy of the tree that user owns.
#
# Every suite runs even if an earlier one failed; a summary follows, and the
# exit status is non-zero if anything failed.  Set LSM_TEST_KEEP=1 to keep
# the scratch directory (it is always kept when something failed).
# LSM_TEST_NO_CORE=1 leaves out steps 1-3 (for changes outside lsm/; CI never
# sets it).  PG_CONFIG and LSM_PG_BINDIR pick another PostgreSQL 15
# installation than Debian's.
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/cluster.sh

START=$SECONDS
RESULTS=()
FAILED=0
JOBS=$(nproc 2>/dev/null || echo 2)

# step NAME COMMAND...: runs COMMAND, records PASS or FAIL and its duration.
step() {
	local name=$1 t0=$SECONDS rc
	shift
	lsm_log "$name: $*"
	"$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		RESULTS+=("$(printf 'PASS  %-34s %5ss' "$name" $((SECONDS - t0)))")
	else
		RESULTS+=("$(printf 'FAIL  %-34s %5ss  (exit %s)' "$name" $((SECONDS - t0)) $rc)")
		FAILED=1
	fi
	return $rc
}

skip() {
	RESULTS+=("$(printf 'SKIP  %-34s        (%s)' "$1" "$2")")
	FAILED=1
}

summary() {
	lsm_log "summary"
	printf '%s\n' "${RESULTS[@]}"
	echo "total: $((SECONDS - START))s"
	if [ $FAILED -ne 0 ]; then
		echo "RESULT: FAILED"
		[ -n "${LSM_SCRATCH:-}" ] && echo "test outputs kept in $LSM_SCRATCH/tree"
	else
		echo "RESULT: all suites passed"
	fi
}

cleanup() {
	lsm_cluster_stop
	if [ -n "${LSM_SCRATCH:-}" ] && [ $FAILED -eq 0 ] && [ -z "${LSM_TEST_KEEP:-}" ]; then
		rm -rf "$LSM_SCRATCH"
	fi
}
trap cleanup EXIT

# --- packages, user, build -------------------------------------------------
lsm_install_packages || { echo "cannot install the required packages" >&2; exit 1; }
lsm_setup_user

# The core on its own (C11, its own flags) and the module (src/ plus the core,
# with PostgreSQL's flags); the PostgreSQL suites need only the module.
BUILD_OK=1
step "layers (scripts/check_layers.pl)" scripts/check_layers.pl
step "build core (C11, -Werror)" make -C lsm -j"$JOBS"
step "build lsm_am.so (-Werror)" make -j"$JOBS" || BUILD_OK=0

# --- the core ---------------------------------------------------------------
if [ -z "${LSM_TEST_NO_CORE:-}" ]; then
	step "core tests" make -C lsm check
	step "core tests, ASan+UBSan" make -C lsm check-asan
	step "core tests, valgrind" make -C lsm check-valgrind
else
	RESULTS+=("$(printf 'SKIP  %-34s        (LSM_TEST_NO_CORE)' "core tests")")
fi

# --- PostgreSQL suites -----------------------------------------------------
PG_SUITES=("pg_regress" "isolation" "TAP (PostgreSQL::Test::Cluster)" "pgTAP (pg_prove)")
if [ $BUILD_OK -eq 0 ]; then
	skip "make install" "build failed"
	for s in "${PG_SUITES[@]}"; do skip "$s" "build failed"; done
	summary
	exit 1
fi
if ! step "make install" make install; then
	for s in "${PG_SUITES[@]}"; do skip "$s" "make install failed"; done
	summary
	exit 1
fi

# A copy of the tree owned by the server user: pg_regress, the isolation
# tester and the TAP tests write their results next to the sources.
lsm_make_scratch test
TREE=$LSM_SCRATCH/tree
mkdir -p "$TREE"
tar -C "$REPO" --exclude=./.git --exclude='./lsm/build*' --exclude=./results \
	--exclude=./output_iso --exclude=./tmp_check -cf - . | tar -C "$TREE" -xf -
# The core's offline tool, for the TAP test that inspects a relation file.
mkdir -p "$TREE/lsm/build"
cp lsm/build/lsm_inspect "$TREE/lsm/build/" 2>/dev/null || true
[ "$(id -u)" -eq 0 ] && chown -R "$LSM_RUN_USER" "$TREE"

lsm_log "starting a throwaway cluster in $LSM_SCRATCH/cluster (as $LSM_RUN_USER)"
mkdir -p "$LSM_SCRATCH/cluster"
[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$LSM_SCRATCH/cluster"
if lsm_cluster_start "$LSM_SCRATCH/cluster" "$TREE/test/regress.conf"; then
	echo "port $PGPORT, socket directory $PGHOST"

	cd "$TREE"
	step "pg_regress" lsm_as_pg make installcheck-regress ||
		cat regression.diffs 2>/dev/null | head -200
	step "isolation" lsm_as_pg make installcheck-isolation ||
		cat output_iso/regression.diffs 2>/dev/null | head -200

	# The TAP tests start (and stop) their own clusters.
	step "TAP (PostgreSQL::Test::Cluster)" lsm_as_pg make prove_installcheck PROVE_FLAGS=--timer ||
		echo "TAP logs: $TREE/tmp_check/log"

	run_pgtap() {
		lsm_as_pg dropdb --if-exists lsm_pgtap &&
			lsm_as_pg createdb lsm_pgtap &&
			lsm_as_pg pg_prove --timer -d lsm_pgtap test/pgtap/*.sql
	}
	step "pgTAP (pg_prove)" run_pgtap

	lsm_cluster_stop
	cd "$REPO"
else
	for s in "${PG_SUITES[@]}"; do skip "$s" "cluster did not start"; done
fi

summary
exit $FAILED
