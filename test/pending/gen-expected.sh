#!/usr/bin/env bash
# test/pending/gen-expected.sh - produces the expected output of pg_regress
# tests from heap: runs each test with LSM_TEST_AM=heap (its "lsm" tables
# become heap tables) against the server PGHOST/PGPORT name, and writes the
# result to test/pending/expected/NAME.out (or expected/NAME.out for a test
# already in sql/).
#
#   test/pending/gen-expected.sh NAME...   (test/pending/sql/NAME.sql or sql/NAME.sql)
#
# A heap table has no scan order, so a query marked
#     SELECT ... FROM t_x; -- in key order
# runs as `SELECT ... FROM t_x ORDER BY k NULLS LAST, seq; -- in key order`
# (the order an lsm table's sequential scan gives) and is written back
# unchanged in the expected output.  Nothing else is rewritten.  Review the
# result before using it: sections that only an lsm table has (errors of the
# lsm access method) cannot come from heap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/lsm_gen_expected.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/sql" "$tmp/expected" "$tmp/out"
order='s/^\(SELECT .* FROM t_[a-z0-9_]*\); -- in key order$/\1 ORDER BY k NULLS LAST, seq; -- in key order/'
unorder='s/^\(SELECT .* FROM t_[a-z0-9_]*\) ORDER BY k NULLS LAST, seq; -- in key order$/\1; -- in key order/'
# A test still in test/pending, or already in the suite (sql/, expected/).
src() { [ -f "$here/sql/$1.sql" ] && echo "$here/sql/$1.sql" || echo "$here/../../sql/$1.sql"; }
dst() { [ -f "$here/sql/$1.sql" ] && echo "$here/expected/$1.out" || echo "$here/../../expected/$1.out"; }
# The helpers every test may use (sql/test_setup.sql) are created first.
cp "$here/../../sql/test_setup.sql" "$tmp/sql/"
cp "$here/../../expected/test_setup.out" "$tmp/expected/"
for t in "$@"; do
	sed "$order" "$(src "$t")" >"$tmp/sql/$t.sql"
	touch "$tmp/expected/$t.out"
done
[ "$(id -u)" -eq 0 ] && chown -R "${LSM_PG_USER:-lsmci}" "$tmp"
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u "${LSM_PG_USER:-lsmci}" --)
"${as_pg[@]}" env OUT="$tmp/out" PGHOST="$PGHOST" PGPORT="$PGPORT" PG_CONFIG="${PG_CONFIG:-}" \
	"$here/regress.sh" --heap --inputdir "$tmp" test_setup "$@" >/dev/null || true
for t in "$@"; do
	sed "$unorder" "$tmp/out/results/$t.out" >"$(dst "$t")"
	echo "wrote $(realpath --relative-to="$here/../.." "$(dst "$t")")"
done
rm -rf "$tmp"
