#!/usr/bin/env bash
# test/pending/tap.sh - runs TAP tests (of test/pending/t, or any) the way
# `make prove_installcheck` runs test/t (PostgreSQL::Test::Cluster; each test
# starts its own servers).  Logs go to $TESTDIR/tmp_check/log (default
# TESTDIR=/tmp/lsm_pending_tap).  LSM_TEST_AM=heap makes the tests use heap
# tables where they would use lsm ones (to check the tests themselves).
#
#   test/pending/tap.sh [TEST.pl ...]     (default: test/pending/t/*.pl)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
TESTDIR=${TESTDIR:-/tmp/lsm_pending_tap}
rm -rf "$TESTDIR/tmp_check"
mkdir -p "$TESTDIR/tmp_check"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	as_pg=(runuser -u "${LSM_PG_USER:-lsmci}" --)
	chown -R "${LSM_PG_USER:-lsmci}" "$TESTDIR"
fi
if [ $# -eq 0 ]; then
	shopt -s nullglob
	set -- "$here"/t/*.pl
	[ $# -gt 0 ] || { echo "no test in $here/t; name the tests to run (e.g. test/t/010_*.pl)" >&2; exit 2; }
fi
cd "$here/../.."
"${as_pg[@]}" env TESTDIR="$TESTDIR" PATH="$("$PG_CONFIG" --bindir):$PATH" \
	PG_REGRESS="$pgxs/test/regress/pg_regress" LSM_TEST_AM="${LSM_TEST_AM:-}" \
	prove -I "$pgxs/test/perl/" -I . ${PROVE_FLAGS:-} "$@"
