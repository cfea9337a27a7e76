#!/usr/bin/env bash
# test/pending/regress.sh - runs pg_regress tests of test/pending against the
# running server that PGHOST/PGPORT name (which must preload lsm_am), the same
# way `make installcheck-regress` runs sql/.
#
#   test/pending/regress.sh [--heap] [--inputdir DIR] TEST...
#
# --heap sets LSM_TEST_AM=heap, which makes the tests create their "lsm"
# tables as heap tables: the expected output comes from that run.  Results go
# to $OUT (default /tmp/lsm_pending_regress).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -n "$PG_CONFIG" ] || PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
inputdir=$here
if [ "${1:-}" = --heap ]; then export LSM_TEST_AM=heap; shift; fi
if [ "${1:-}" = --inputdir ]; then inputdir=$2; shift 2; fi
OUT=${OUT:-/tmp/lsm_pending_regress}
mkdir -p "$OUT"
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
exec "$pgxs/test/regress/pg_regress" --inputdir="$inputdir" --outputdir="$OUT" \
	--bindir="$("$PG_CONFIG" --bindir)" --dbname=contrib_regression "$@"
