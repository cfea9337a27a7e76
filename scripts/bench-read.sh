#!/usr/bin/env bash
# bench-read.sh - read benchmark of lsm tables (LsmScan) against heap + btree.
#
# Starts a throwaway cluster (shared_preload_libraries = 'lsm_am', the
# settings below), loads the same N rows of (random bigint key, 100-byte
# text) into
#   lsm          CREATE TABLE ... USING lsm, flushed and fully compacted
#   heap+btree   a heap table with a btree index on the key, vacuumed
# loads both into shared buffers (pg_prewarm), then runs each read workload
# with pgbench (one client, prepared statements, SECONDS seconds per table,
# in ROUNDS rounds that alternate the tables), in the same run:
#   point hit       k = a key that exists
#   point miss      k = a key that does not exist
#   range 100       k BETWEEN x AND x + w, w chosen so a range holds 100
#                   rows on average (the same ranges on both tables)
#   order limit 10  k > x ORDER BY k LIMIT 10
#   first 10        ORDER BY k LIMIT 10
#   last 10         ORDER BY k DESC LIMIT 10
#   range 100 desc  the 100-row ranges again, ORDER BY k DESC
#   full scan       count(*) and sum(length(v)) over the whole table
# and reports transactions per second, mean latency, the ratio lsm / heap
# (the median over the rounds; above 1: lsm faster) and the plan each
# table's query got.  Then the same workloads again in a PL/pgSQL loop in
# the server, measured in the backend's CPU time per query: on a shared
# machine, where wall-clock rates swing with other work, the steadier
# comparison.  Prints a
# markdown table and writes it to test/bench/results-read.md.
#
#   scripts/bench-read.sh                  1M rows, 10 s per workload and table
#   scripts/bench-read.sh --quick          200k rows, 4 s
#   scripts/bench-read.sh [--rows N] [--seconds S] [--rounds R] [--set "NAME = VALUE" ...]
#                         [--workloads "point_hit ..."] [--dir DIR] [--out FILE]
#                         [--no-install] [--keep]
#
# Run as root (the server runs as $LSM_PG_USER, default lsmci) or as a user
# that can run PostgreSQL and write its install directories (make install).
# --no-install uses the lsm_am already installed.  The cluster lives in DIR
# (default: a new directory under $TMPDIR or /tmp), removed at the end
# unless --keep.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/cluster.sh

rows=1M
seconds=10
rounds=5
extra_settings=()
dir=""
out=$REPO/test/bench/results-read.md
install=1
keep=0
only_workloads=""
cmdline="scripts/bench-read.sh${*:+ $*}"

usage()
{
	sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
		--quick) rows=200k; seconds=4; rounds=2 ;;
		--rows) rows=$2; shift ;;
		--seconds) seconds=$2; shift ;;
		--rounds) rounds=$2; shift ;;
		--dir) dir=$2; shift ;;
		--out) out=$2; shift ;;
		--no-install) install=0 ;;
		--keep) keep=1 ;;
		--set) extra_settings+=("$2"); shift ;;
		--workloads) only_workloads=$2; shift ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
	esac
	shift
done

n=$(lsm_count "$rows")

lsm_bench_prepare bench-read "$install" "$dir"
dir=$LSM_BENCH_DIR
conf=$dir/bench.conf
cat >"$conf" <<'EOF'
# scripts/bench-read.sh: the same settings for both tables
shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 30min
maintenance_work_mem = 256MB
max_parallel_workers_per_gather = 0
jit = off
EOF
for setting in ${extra_settings[@]+"${extra_settings[@]}"}; do
	echo "$setting" >>"$conf"
done

cleanup()
{
	lsm_cluster_stop
	if [ $keep = 0 ] && [ -n "${LSM_SCRATCH:-}" ]; then
		rm -rf "$LSM_SCRATCH"
	fi
}
trap cleanup EXIT

lsm_log "starting a cluster in $dir"
mkdir -p "$dir/cluster"
[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$dir/cluster"
lsm_cluster_start "$dir/cluster" "$conf"

psql_q()
{
	lsm_as_pg_in "$dir" psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

pgver=$(psql_q -c "SHOW server_version")
settings=$(psql_q -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
	FROM pg_settings WHERE name IN ('shared_buffers', 'jit', 'random_page_cost', 'seq_page_cost')")
lsm_settings=$(psql_q -c "SELECT coalesce(string_agg(name || '=' || current_setting(name), ', ' ORDER BY name), '')
	FROM pg_settings WHERE name LIKE 'lsm.%'")

# The rows: key = hashint8extended(g, 42) for g in 1..n (random-looking,
# reproducible); value = 100 characters of hex digits from md5.  Keys of g
# in n+1..2n are (with overwhelming probability) in neither table.
lsm_log "loading $n rows into both tables"
psql_q <<EOF
CREATE EXTENSION lsm_am;
CREATE EXTENSION pg_prewarm;
CREATE TABLE bench_lsm (k bigint, v text) USING lsm;
CREATE TABLE bench_heap (k bigint, v text);
INSERT INTO bench_lsm SELECT hashint8extended(g, 42), rpad(md5(g::text), 100, md5((-g)::text))
	FROM generate_series(1, $n) g;
INSERT INTO bench_heap SELECT hashint8extended(g, 42), rpad(md5(g::text), 100, md5((-g)::text))
	FROM generate_series(1, $n) g;
CREATE INDEX bench_heap_k ON bench_heap (k);
SELECT lsm_flush('bench_lsm');
SELECT lsm_compact('bench_lsm');
VACUUM ANALYZE bench_heap;
ANALYZE bench_lsm;
CHECKPOINT;
EOF
levels=$(psql_q -c "SELECT string_agg(format('L%s: %s runs, %s MB', level, runs, round(bytes / 1048576.0, 1)), '; ' ORDER BY level)
	FROM lsm_levels('bench_lsm') WHERE runs > 0")
sizes=$(psql_q -c "SELECT format('lsm %s MB, heap %s MB + btree %s MB',
	round(pg_relation_size('bench_lsm') / 1048576.0, 1), round(pg_relation_size('bench_heap') / 1048576.0, 1),
	round(pg_relation_size('bench_heap_k') / 1048576.0, 1))")
psql_q -c "SELECT pg_prewarm('bench_lsm'), pg_prewarm('bench_heap'), pg_prewarm('bench_heap_k')" >/dev/null

# The workloads: name, pgbench script (TBL for the table), a query for EXPLAIN.
half=2305843009213693952
width=$(echo "100 * 2^64 / $n" | bc)
workloads=(point_hit point_miss range_100 order_limit_10 first_10 last_10 range_100_desc full_scan)
if [ -n "$only_workloads" ]; then
	read -r -a workloads <<<"$only_workloads"
fi
declare -A title script explain plan
title[point_hit]="point hit"
script[point_hit]="\\set r random(1, $n)
SELECT v FROM TBL WHERE k = hashint8extended(:r, 42);"
explain[point_hit]="SELECT v FROM TBL WHERE k = hashint8extended(7, 42)"
title[point_miss]="point miss"
script[point_miss]="\\set r random($((n + 1)), $((2 * n)))
SELECT v FROM TBL WHERE k = hashint8extended(:r, 42);"
explain[point_miss]="SELECT v FROM TBL WHERE k = hashint8extended($((n + 7)), 42)"
title[range_100]="range 100 rows"
script[range_100]="\\set r random(-$half, $half)
SELECT count(*), sum(length(v)) FROM TBL WHERE k BETWEEN :r AND :r + $width;"
explain[range_100]="SELECT count(*), sum(length(v)) FROM TBL WHERE k BETWEEN 0 AND $width"
title[order_limit_10]="k > x ORDER BY k LIMIT 10"
script[order_limit_10]="\\set r random(-$half, $half)
SELECT k, v FROM TBL WHERE k > :r ORDER BY k LIMIT 10;"
explain[order_limit_10]="SELECT k, v FROM TBL WHERE k > 0 ORDER BY k LIMIT 10"
title[first_10]="ORDER BY k LIMIT 10"
script[first_10]="SELECT k, v FROM TBL ORDER BY k LIMIT 10;"
explain[first_10]="SELECT k, v FROM TBL ORDER BY k LIMIT 10"
title[last_10]="ORDER BY k DESC LIMIT 10"
script[last_10]="SELECT k, v FROM TBL ORDER BY k DESC LIMIT 10;"
explain[last_10]="SELECT k, v FROM TBL ORDER BY k DESC LIMIT 10"
title[range_100_desc]="range 100 rows DESC"
script[range_100_desc]="\\set r random(-$half, $half)
SELECT k, v FROM TBL WHERE k BETWEEN :r AND :r + $width ORDER BY k DESC;"
explain[range_100_desc]="SELECT k, v FROM TBL WHERE k BETWEEN 0 AND $width ORDER BY k DESC"
title[full_scan]="full scan"
script[full_scan]="SELECT count(*), sum(length(v)) FROM TBL;"
explain[full_scan]="SELECT count(*), sum(length(v)) FROM TBL"

# The same workloads in a PL/pgSQL loop inside the server (cached plans, no
# client round trips), timed by the backend's own CPU time (utime + stime of
# /proc/self/stat): waiting for a CPU that other work holds does not count,
# which makes this the steadier measure on a shared machine.
declare -A body iters
body[point_hit]="r := 1 + floor(random() * $n)::bigint;
	PERFORM v FROM TBL WHERE k = hashint8extended(r, 42);"
iters[point_hit]=100000
body[point_miss]="r := $n + 1 + floor(random() * $n)::bigint;
	PERFORM v FROM TBL WHERE k = hashint8extended(r, 42);"
iters[point_miss]=100000
body[range_100]="r := floor((random() * 2 - 1) * $half)::bigint;
	PERFORM count(*), sum(length(v)) FROM TBL WHERE k BETWEEN r AND r + $width;"
iters[range_100]=20000
body[order_limit_10]="r := floor((random() * 2 - 1) * $half)::bigint;
	PERFORM k, v FROM TBL WHERE k > r ORDER BY k LIMIT 10;"
iters[order_limit_10]=50000
body[first_10]="PERFORM k, v FROM TBL ORDER BY k LIMIT 10;"
iters[first_10]=50000
body[last_10]="PERFORM k, v FROM TBL ORDER BY k DESC LIMIT 10;"
iters[last_10]=50000
body[range_100_desc]="r := floor((random() * 2 - 1) * $half)::bigint;
	PERFORM k, v FROM TBL WHERE k BETWEEN r AND r + $width ORDER BY k DESC;"
iters[range_100_desc]=20000
body[full_scan]="PERFORM count(*), sum(length(v)) FROM TBL;"
iters[full_scan]=3
clk_tck=$(getconf CLK_TCK)
psql_q <<'EOF'
CREATE TABLE bench_cpu (w text, round int, t text, iters int, ticks bigint, wall_ms float8);
CREATE FUNCTION cpu_ticks() RETURNS bigint LANGUAGE sql AS $$
	SELECT split_part(s, ' ', 12)::bigint + split_part(s, ' ', 13)::bigint
	FROM split_part(pg_read_file('/proc/self/stat'), ') ', 2) s $$;
EOF

# run_loop WORKLOAD TABLE ROUND: one in-server timing into bench_cpu.
run_loop()
{
	local w=$1 t=$2 r=$3 b=${body[$1]//TBL/bench_$2}
	psql_q <<-EOF
		DO \$\$
		DECLARE
			r bigint;
			c0 bigint := cpu_ticks();
			w0 timestamptz := clock_timestamp();
		BEGIN
			FOR i IN 1..${iters[$w]} LOOP
				$b
			END LOOP;
			INSERT INTO bench_cpu VALUES ('$w', $r, '$t', ${iters[$w]}, cpu_ticks() - c0,
				extract(epoch FROM clock_timestamp() - w0) * 1000);
		END \$\$;
	EOF
}

# The plan of a query, as its scan nodes: "Custom Scan (LsmScan)", "Index Scan".
plan_of()
{
	psql_q -c "EXPLAIN (COSTS OFF) $1" |
		grep -oE '(Custom Scan \([A-Za-z]+\)|Seq Scan|Index Only Scan|Bitmap Index Scan|Index Scan|Bitmap Heap Scan|Sort)' |
		paste -sd '+' -
}

# One pgbench run of workload $1 on table $2 for $3 seconds: "tps<TAB>ms".
run_pgbench()
{
	local w=$1 t=$2 secs=$3 f=$dir/$1.$2.sql res tps lat
	printf '%s\n' "${script[$w]//TBL/bench_$t}" >"$f"
	[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$f"
	res=$(lsm_as_pg_in "$dir" pgbench -n -M prepared -c 1 -T "$secs" -f "$f" 2>&1) || true
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$res")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$res")
	if [ -z "$tps" ]; then
		echo "$res" >&2
		exit 1
	fi
	printf '%s\t%s\n' "$tps" "$lat"
}

# The machine is shared, so its speed drifts: each workload runs in $rounds
# rounds of $seconds / $rounds seconds per table, the tables alternating
# which goes first; a round's ratio compares runs seconds apart.
results=$dir/results.tsv
: >"$results"
round_secs=$(( (seconds + rounds - 1) / rounds ))
for w in "${workloads[@]}"; do
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) = 1 ]; then order="lsm heap"; else order="heap lsm"; fi
		for t in $order; do
			printf '%s\t%s\t%s\t%s\n' "$w" "$r" "$t" "$(run_pgbench "$w" "$t" "$round_secs")" >>"$results"
		done
	done
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) = 1 ]; then order="lsm heap"; else order="heap lsm"; fi
		for t in $order; do
			run_loop "$w" "$t" "$r"
		done
	done
	for t in lsm heap; do
		plan[$w.$t]=$(plan_of "${explain[$w]//TBL/bench_$t}")
	done
	awk -F'\t' -v w="$w" -v lp="${plan[$w.lsm]}" -v hp="${plan[$w.heap]}" '
		$1 == w { tps[$2, $3] = $4; rounds[$2] = 1 }
		END {
			for (r in rounds) { l += tps[r, "lsm"]; h += tps[r, "heap"]; n++ }
			printf "  %-16s lsm %10.1f tps (%s), heap+btree %10.1f tps (%s)\n", w, l / n, lp, h / n, hp
		}' "$results"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
mem=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "# Read benchmark: lsm (LsmScan) vs heap + btree"
	echo
	echo "Produced by \`$cmdline\` on $(date -u '+%Y-%m-%d %H:%M UTC'), lsm_am at commit $commit."
	echo "PostgreSQL $pgver; $(nproc 2>/dev/null || echo '?') CPUs ($cpu), $mem RAM, shared with other"
	echo "work while it ran: read the ratios (both tables measured in the same run, one after the"
	echo "other), not the absolute numbers. Settings: $settings${lsm_settings:+; $lsm_settings}."
	echo
	echo "$n rows \`(k bigint, v text)\`: k = \`hashint8extended(g, 42)\`, v 100 characters, the same rows"
	echo "in both tables. The lsm table was flushed and fully compacted ($levels); the heap table"
	echo "has a btree on k and was vacuumed. Sizes: $sizes. Both were read into shared buffers"
	echo "(\`pg_prewarm\`) first. Each workload ran with pgbench (1 client, \`-M prepared\`) in $rounds"
	echo "rounds of $round_secs s per table, the tables taking turns to go first; tps and ms are the"
	echo "means over the rounds, *lsm / heap* the median (and range) of the rounds' ratios of"
	echo "lsm's transactions per second to heap's (above 1: lsm faster)."
	echo
	echo "| workload | lsm tps | heap+btree tps | lsm / heap | lsm ms | heap ms | lsm plan | heap plan |"
	echo "|---|---:|---:|---:|---:|---:|---|---|"
	for w in "${workloads[@]}"; do
		awk -F'\t' -v w="$w" -v title="${title[$w]}" -v lp="${plan[$w.lsm]}" -v hp="${plan[$w.heap]}" '
			$1 == w { tps[$2, $3] = $4; lat[$2, $3] = $5; rounds[$2] = 1 }
			END {
				n = 0
				for (r in rounds) {
					lt += tps[r, "lsm"]; ht += tps[r, "heap"]
					ll += lat[r, "lsm"]; hl += lat[r, "heap"]
					ratio[++n] = tps[r, "lsm"] / tps[r, "heap"]
				}
				# the median of the rounds ratios
				for (i = 1; i <= n; i++)
					for (j = i + 1; j <= n; j++)
						if (ratio[j] < ratio[i]) { x = ratio[i]; ratio[i] = ratio[j]; ratio[j] = x }
				med = (n % 2) ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
				printf "| %s | %.1f | %.1f | %.2f (%.2f..%.2f) | %.3f | %.3f | %s | %s |\n", \
					title, lt / n, ht / n, med, ratio[1], ratio[n], ll / n, hl / n, lp, hp
			}' "$results"
	done
	echo
	echo "Backend CPU time per query, the same workloads run $rounds times per table in a PL/pgSQL loop"
	echo "inside the server (cached plans, no client round trips; CPU time from \`/proc/self/stat\`,"
	echo "in ticks of $((1000000 / clk_tck)) us, so waiting for a CPU does not count); *heap / lsm* is heap's CPU time"
	echo "per query over lsm's, the median (and range) of the rounds (above 1: lsm cheaper)."
	echo
	echo "| workload | queries per run | lsm CPU us/query | heap+btree CPU us/query | heap / lsm | lsm wall us/query | heap wall us/query |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for w in "${workloads[@]}"; do
		psql_q -F ' | ' -c "
			WITH r AS (
				SELECT round, sum(ticks) FILTER (WHERE t = 'lsm') AS l, sum(ticks) FILTER (WHERE t = 'heap') AS h
				FROM bench_cpu WHERE w = '$w' GROUP BY round)
			SELECT '| ${title[$w]}', ${iters[$w]},
				round(avg(ticks) FILTER (WHERE t = 'lsm') * 1000000.0 / $clk_tck / ${iters[$w]}, 1),
				round(avg(ticks) FILTER (WHERE t = 'heap') * 1000000.0 / $clk_tck / ${iters[$w]}, 1),
				(SELECT format('%s (%s..%s)',
					round((percentile_cont(0.5) WITHIN GROUP (ORDER BY h::float8 / nullif(l, 0)))::numeric, 2),
					round(min(h::float8 / nullif(l, 0))::numeric, 2), round(max(h::float8 / nullif(l, 0))::numeric, 2))
				 FROM r),
				round((avg(wall_ms) FILTER (WHERE t = 'lsm') * 1000 / ${iters[$w]})::numeric, 1),
				round((avg(wall_ms) FILTER (WHERE t = 'heap') * 1000 / ${iters[$w]})::numeric, 1) || ' |'
			FROM bench_cpu WHERE w = '$w'"
	done
} >"$out.tmp"
mv "$out.tmp" "$out"
lsm_log "results (also in ${out#"$REPO"/})"
cat "$out"
