#!/usr/bin/env bash
# test/pending/isolation.sh - runs isolation specs of test/pending/specs
# against the running server that PGHOST/PGPORT name (which must preload
# lsm_am), as `make installcheck-isolation` runs test/isolation.
#
#   test/pending/isolation.sh [--heap] SPEC...
#
# --heap runs each spec (of test/pending/specs, or else test/isolation/specs)
# with "USING lsm" replaced by "USING heap" and writes its output to the
# expected/SPEC.out next to it: the expected output of the
# lsm spec is heap's (setup blocks, where the table is created, are not part
# of the output).  Results of a normal run go to $OUT (default
# /tmp/lsm_pending_isolation).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pgxs=$(dirname "$("$PG_CONFIG" --pgxs)")/..
heap=0
if [ "${1:-}" = --heap ]; then heap=1; shift; fi
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u "${LSM_PG_USER:-lsmci}" --)
run() {
	"${as_pg[@]}" env PGHOST="$PGHOST" PGPORT="$PGPORT" \
		"$pgxs/test/isolation/pg_isolation_regress" --inputdir="$1" --outputdir="$2" \
		--bindir="$("$PG_CONFIG" --bindir)" --dbname=isolation_regression "${@:3}"
}
if [ $heap -eq 1 ]; then
	tmp=$(mktemp -d /tmp/lsm_gen_iso.XXXXXX)
	declare -A dst
	mkdir -p "$tmp/specs" "$tmp/expected" "$tmp/out"
	for s in "$@"; do
		if [ -f "$here/specs/$s.spec" ]; then
			dst[$s]=$here/expected/$s.out
			sed 's/USING lsm\b/USING heap/' "$here/specs/$s.spec" >"$tmp/specs/$s.spec"
		else
			dst[$s]=$here/../isolation/expected/$s.out
			sed 's/USING lsm\b/USING heap/' "$here/../isolation/specs/$s.spec" >"$tmp/specs/$s.spec"
		fi
		touch "$tmp/expected/$s.out"
	done
	chmod -R a+rwX "$tmp"
	run "$tmp" "$tmp/out" "$@" >/dev/null || true
	for s in "$@"; do
		cp "$tmp/out/results/$s.out" "${dst[$s]}"
		echo "wrote $(realpath --relative-to="$here/../.." "${dst[$s]}")"
	done
	rm -rf "$tmp"
else
	OUT=${OUT:-/tmp/lsm_pending_isolation}
	mkdir -p "$OUT"
	[ "$(id -u)" -eq 0 ] && chown "${LSM_PG_USER:-lsmci}" "$OUT"
	run "$here" "$OUT" "$@"
fi
