#!/usr/bin/env bash
# bench-builds.sh - one benchmark on two builds of lsm_am in one run: a base
# revision against this working tree, taking turns, so that a change that
# should not change speed (a restructuring) shows that it does not.
#
#   scripts/bench-builds.sh BASE core [--num N] [--rounds R]
#       the core's bench_lsm (test/bench) of each build, R times each
#       (default 3), at N keys (default 1M); per workload the median ops/s
#       of each build and new / base (above 1: the working tree faster)
#   scripts/bench-builds.sh BASE read [--rows N] [--seconds S] [--workloads LIST] [--rounds R]
#       installs each build in turn and runs this tree's bench-read.sh
#       --no-install with the same arguments (default --quick), R times each
#       (default 2); per workload lsm's backend CPU time per query for each
#       build, also relative to heap's in the same run (the machine's speed
#       drifts between runs), and base / new of that (above 1: the working
#       tree cheaper)
#
# BASE is any git revision; it is checked out in a scratch worktree.  Writes
# test/bench/results-builds-core.md or results-builds-read.md.  Leaves this
# tree's build installed.  Run as bench-read.sh is run (root, or a user who
# can make install).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/cluster.sh

usage()
{
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

[ $# -ge 2 ] || usage
base=$1
what=$2
shift 2
rounds=""
num=1M
bench_args=()
while [ $# -gt 0 ]; do
	case "$1" in
		--rounds) rounds=$2; shift ;;
		--num) num=$2; shift ;;
		--rows|--seconds|--workloads) bench_args+=("$1" "$2"); shift ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
	esac
	shift
done
case "$what" in
	core) rounds=${rounds:-3} ;;
	read) rounds=${rounds:-2}; bench_args=(--quick "${bench_args[@]}") ;;
	*) usage ;;
esac

base_rev=$(git rev-parse --short "$base^{commit}")
new_rev="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lsm src test/bench/*.[ch] test/bench/Makefile || echo '+changes')"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-builds.XXXXXX")
cleanup()
{
	git -C "$REPO" worktree remove --force "$scratch/base" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
git worktree add -q --detach "$scratch/base" "$base_rev"
declare -A tree=([base]=$scratch/base [new]=$REPO)
out=$REPO/test/bench/results-builds-$what.md
results=$scratch/results.tsv
: >"$results"

# The builds take turns, the first going first in odd rounds.
order_of()
{
	if [ $(($1 % 2)) = 1 ]; then echo "base new"; else echo "new base"; fi
}

if [ "$what" = core ]; then
	for b in base new; do
		make -s -C "${tree[$b]}/lsm" >/dev/null
		make -s -C "${tree[$b]}/test/bench" bench_lsm >/dev/null
	done
	n=$(lsm_count "$num")
	r=$((n < 1000000 ? n : 1000000))
	for round in $(seq 1 "$rounds"); do
		for b in $(order_of "$round"); do
			lsm_log "core, $b build, round $round"
			mkdir -p "$scratch/db"
			"${tree[$b]}/test/bench/bench_lsm" --num "$n" --reads "$r" --seeks $((r / 10)) \
				--dir "$scratch/db" | awk -v b="$b" -v r="$round" \
				'$1 == "RESULT" { printf "%s\t%s\t%s\t%s\n", b, r, $3, $6 }' >>"$results"
			rm -rf "$scratch/db"
		done
	done
	{
		echo "# Core benchmark, two builds: $base_rev (base) and $new_rev (new)"
		echo
		echo "Produced by \`scripts/bench-builds.sh $base core --num $num --rounds $rounds\` on"
		echo "$(date -u '+%Y-%m-%d %H:%M UTC'): bench_lsm of each build at $n keys, $rounds round(s), the builds"
		echo "taking turns. Median ops/s per workload; *new / base* above 1: the new build faster."
		echo
		echo "| workload | base ops/s | new ops/s | new / base |"
		echo "|---|---:|---:|---:|"
		sort -t$'\t' -k3,3 -k1,1 -k4,4g "$results" | awk -F'\t' '
			function median(k,   m) { m = cnt[k]; return (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2 }
			{ k = $3 SUBSEP $1; v[k, ++cnt[k]] = $4; if (!($3 in seen)) { seen[$3] = 1; order[++nw] = $3 } }
			END {
				for (i = 1; i <= nw; i++) {
					w = order[i]; b = median(w SUBSEP "base"); n = median(w SUBSEP "new")
					printf "| %s | %.0f | %.0f | %.2f |\n", w, b, n, n / b
				}
			}'
	} >"$out"
else
	for round in $(seq 1 "$rounds"); do
		for b in $(order_of "$round"); do
			lsm_log "read, $b build, round $round"
			make -s -C "${tree[$b]}" install >/dev/null
			scripts/bench-read.sh --no-install "${bench_args[@]}" --rounds 1 \
				--out "$scratch/read-$b-$round.md" >/dev/null
			# the CPU table: | workload | queries | lsm us | heap us | ...
			awk -F' *[|] *' -v b="$b" -v r="$round" '
				/^[|] workload [|] queries per run/ { t = 1; next }
				t && /^[|][-]/ { next }
				t && /^[|]/ { printf "%s\t%s\t%s\t%s\t%s\n", b, r, $2, $4, $5 }
				t && !/^[|]/ { t = 0 }' "$scratch/read-$b-$round.md" >>"$results"
		done
	done
	make -s -C "$REPO" install >/dev/null
	{
		echo "# Read benchmark, two builds: $base_rev (base) and $new_rev (new)"
		echo
		args=$(printf '%q ' "${bench_args[@]}")
		echo "Produced by \`scripts/bench-builds.sh $base read ${args}--rounds $rounds\` on"
		echo "$(date -u '+%Y-%m-%d %H:%M UTC'): \`scripts/bench-read.sh --no-install ${args}--rounds 1\` with"
		echo "each build installed in turn, $rounds runs each, the builds taking turns. Backend CPU time"
		echo "per query (us), the mean over the runs. The machine's speed drifts between runs, so each"
		echo "run's lsm time is also taken relative to heap's in that run (*lsm / heap*, the mean over"
		echo "a build's runs); *base / new* compares those (above 1: the new build cheaper)."
		echo
		echo "| workload | lsm base | lsm new | heap (base runs) | heap (new runs) | lsm / heap, base | lsm / heap, new | base / new |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' '
			{ k = $3; if (!(k in seen)) { seen[k] = 1; order[++nw] = k }
			  l[k, $1] += $4; h[k, $1] += $5; q[k, $1] += $4 / $5; c[k, $1]++ }
			END {
				for (i = 1; i <= nw; i++) {
					w = order[i]; cb = c[w, "base"]; cn = c[w, "new"]
					qb = q[w, "base"] / cb; qn = q[w, "new"] / cn
					printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |\n", w,
						l[w, "base"] / cb, l[w, "new"] / cn, h[w, "base"] / cb, h[w, "new"] / cn, qb, qn, qb / qn
				}
			}' "$results"
	} >"$out"
fi
lsm_log "results (also in ${out#"$REPO"/})"
cat "$out"
