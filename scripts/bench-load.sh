#!/usr/bin/env bash
# bench-load.sh - load benchmark of the lsm table access method against heap.
#
# Starts a throwaway cluster (shared_preload_libraries = 'lsm_am', fsync on,
# the settings below), then loads N rows of (random bigint key, 100-byte
# text) with INSERT ... SELECT and with COPY into
#   lsm          CREATE TABLE ... USING lsm
#   heap+btree   a heap table with a btree index on the key
#   heap         a heap table without an index
# each into a fresh table, one after the other, in the same run, and reports
# per load: seconds and rows/s of the load statement (until its COMMIT
# returned), the ratio to heap+btree, WAL bytes per row
# (pg_current_wal_insert_lsn before and after), and the same again
# including what it takes to make the data checkpointed (lsm_flush() of the
# memtable for lsm, then CHECKPOINT, for every table), and the table's size
# on disk at the end (pg_total_relation_size).  Prints a markdown table and
# writes it to test/bench/results-load.md.  Before the first load it writes
# more WAL than the largest load will, and checkpoints, so that every load
# recycles WAL segments instead of the first one creating them.
#
#   scripts/bench-load.sh                      1M and 5M rows
#   scripts/bench-load.sh --quick              100k rows
#   scripts/bench-load.sh --rows 1M [--rows 5M ...] [--tables "lsm heap+btree heap"]
#                         [--methods "insert copy"] [--set "NAME = VALUE" ...]
#                         [--dir DIR] [--out FILE] [--no-install] [--keep]
#
# Run as root (the server runs as $LSM_PG_USER, default lsmci) or as a user
# that can run PostgreSQL and write its install directories (make install).
# --set adds a setting to the server's configuration (the results list the
# lsm.* ones).  --no-install uses the lsm_am already installed.  The cluster
# lives in DIR (default: a new directory under $TMPDIR or /tmp), removed at
# the end unless --keep.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/cluster.sh

rows_list=()
extra_settings=()
tables="lsm heap+btree heap"
methods="insert copy"
dir=""
out=$REPO/test/bench/results-load.md
install=1
keep=0
cmdline="scripts/bench-load.sh${*:+ $*}"

usage()
{
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
		--quick) rows_list=(100k) ;;
		--rows) rows_list+=("$2"); shift ;;
		--tables) tables=$2; shift ;;
		--methods) methods=$2; shift ;;
		--dir) dir=$2; shift ;;
		--out) out=$2; shift ;;
		--no-install) install=0 ;;
		--keep) keep=1 ;;
		--set) extra_settings+=("$2"); shift ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
	esac
	shift
done
[ ${#rows_list[@]} -gt 0 ] || rows_list=(1M 5M)

lsm_bench_prepare bench-load "$install" "$dir"
dir=$LSM_BENCH_DIR
conf=$dir/bench.conf
cat >"$conf" <<'EOF'
# scripts/bench-load.sh: the same settings for every table
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 1GB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 30min
wal_buffers = 64MB
maintenance_work_mem = 256MB
max_parallel_workers_per_gather = 0
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

psql_q -c "CREATE EXTENSION lsm_am"
if ! psql_q -c "SELECT 1 FROM pg_am WHERE amname = 'lsm'" | grep -q 1; then
	echo "NOTE: this lsm_am has no lsm access method yet; lsm skipped" >&2
	tables=$(echo " $tables " | sed 's/ lsm / /; s/^ *//; s/ *$//')
fi
pgver=$(psql_q -c "SHOW server_version")
settings=$(psql_q -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
	FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout',
		'synchronous_commit', 'fsync', 'full_page_writes', 'wal_buffers', 'wal_compression')")
lsm_settings=$(psql_q -c "SELECT coalesce(string_agg(name || '=' || current_setting(name), ', ' ORDER BY name), '')
	FROM pg_settings WHERE name LIKE 'lsm.%'")

# The rows: key = hashint8extended(g, 42), a 64-bit hash of g (random-looking,
# reproducible); value = 100 characters of hex digits from md5.
gen_sql()
{
	local n=$1
	echo "SELECT hashint8extended(g, 42) AS k, rpad(md5(g::text), 100, md5((-g)::text)) AS v
		FROM generate_series(1, $n) g"
}

# WAL segments: the first load of a fresh cluster creates (and zero-fills)
# the segments that the loads after it recycle, so whichever table went first
# would pay for that alone.  Writing more WAL than the largest load writes,
# then a checkpoint, leaves recycled segments for every load.
max_n=0
for r in "${rows_list[@]}"; do
	n=$(lsm_count "$r")
	[ "$n" -gt "$max_n" ] && max_n=$n
done
lsm_log "warming up: $((max_n * 500 / 1048576 + 64)) MB of WAL for the loads to recycle"
psql_q -c "SELECT count(pg_logical_emit_message(false, 'bench-load warm-up', repeat('x', 1048576)))
	FROM generate_series(1, $((max_n * 500 / 1048576 + 64)))" >/dev/null
psql_q -c "CHECKPOINT"

results=$dir/results.tsv
: >"$results"

# load TABLEKIND METHOD N: one measurement; appends a line to $results.
load()
{
	local kind=$1 method=$2 n=$3 using=heap index="" stmt flush=""
	case "$kind" in
		lsm) using=lsm; flush="SELECT lsm_flush('bench');" ;;
		heap+btree) index="CREATE INDEX bench_k ON bench (k);" ;;
		heap) ;;
		*) echo "unknown table kind $kind" >&2; exit 2 ;;
	esac
	case "$method" in
		insert) stmt="INSERT INTO bench $(gen_sql "$n");" ;;
		copy) stmt="COPY bench FROM '$dir/data_$n.tsv';" ;;
	esac
	psql_q <<-EOF
		SET client_min_messages = warning;
		DROP TABLE IF EXISTS bench;
		CREATE TABLE bench (k bigint, v text) USING $using;
		$index
	EOF
	psql_q -c "CHECKPOINT"
	# One psql session; every statement commits on its own.
	local res
	res=$(psql_q <<-EOF
		SELECT clock_timestamp() AS t0, pg_current_wal_insert_lsn() AS l0 \gset
		$stmt
		SELECT clock_timestamp() AS t1, pg_current_wal_insert_lsn() AS l1 \gset
		$flush
		CHECKPOINT;
		SELECT clock_timestamp() AS t2, pg_current_wal_insert_lsn() AS l2 \gset
		SELECT extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz),
			pg_wal_lsn_diff(:'l1', :'l0'),
			extract(epoch FROM :'t2'::timestamptz - :'t0'::timestamptz),
			pg_wal_lsn_diff(:'l2', :'l0'),
			pg_total_relation_size('bench'),
			(SELECT count(*) FROM bench);
	EOF
	)
	res=$(tail -n 1 <<<"$res")	# lsm_flush() prints an empty line first
	local secs wal secs2 wal2 size cnt
	IFS='|' read -r secs wal secs2 wal2 size cnt <<<"$res"
	if [ "$cnt" != "$n" ]; then
		echo "ERROR: $kind/$method loaded $cnt rows, not $n" >&2
		exit 1
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$method" "$kind" "$secs" "$wal" "$secs2" "$wal2" "$size" >>"$results"
	printf '  %-10s %-6s %9s rows: %8.2fs %10.0f rows/s, %6.1f WAL B/row; with flush+checkpoint %8.2fs; %8.1f MB\n' \
		"$kind" "$method" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$wal / $n" | bc -l)" \
		"$secs2" "$(echo "$size / 1048576" | bc -l)"
	psql_q -c "DROP TABLE bench"
}

for r in "${rows_list[@]}"; do
	n=$(lsm_count "$r")
	lsm_log "$n rows"
	case " $methods " in *" copy "*)
		psql_q -c "COPY ($(gen_sql "$n")) TO '$dir/data_$n.tsv'" ;;
	esac
	for m in $methods; do
		for k in $tables; do
			load "$k" "$m" "$n"
		done
	done
	rm -f "$dir/data_$n.tsv"
done

# The markdown table.
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
mem=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "# Load benchmark: lsm vs heap"
	echo
	echo "Produced by \`$cmdline\` on $(date -u '+%Y-%m-%d %H:%M UTC'), lsm_am at commit $commit."
	echo "PostgreSQL $pgver; $(nproc 2>/dev/null || echo '?') CPUs ($cpu), $mem RAM."
	echo "Settings: $settings${lsm_settings:+; $lsm_settings}."
	echo
	echo "Each load goes into a fresh table \`(k bigint, v text)\`: k a random-looking 64-bit key"
	echo "(\`hashint8extended(g, 42)\`), v 100 characters. *insert* is one \`INSERT ... SELECT\` from"
	echo "\`generate_series\`, *copy* one \`COPY ... FROM\` a server-side file of the same rows. *load* is"
	echo "the statement until its COMMIT returned; *+ckpt* adds what makes the rows checkpointed:"
	echo "\`lsm_flush()\` (lsm only: the memtable to a run) and then \`CHECKPOINT\`. WAL is"
	echo "\`pg_current_wal_insert_lsn()\` before and after. Size is \`pg_total_relation_size\` at the end."
	echo "*vs heap+btree* is load rows/s divided by heap+btree's for the same rows and method."
	echo "Before the first load, more WAL than the largest load writes was written and checkpointed,"
	echo "so that every load recycles WAL segments (none pays for creating them)."
	echo
	echo "| rows | method | table | load s | rows/s | vs heap+btree | WAL B/row | +ckpt s | rows/s +ckpt | WAL B/row +ckpt | size MB |"
	echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '
		{ key = $1 SUBSEP $2; line[NR] = $0; if ($3 == "heap+btree") base[key] = $1 / $4 }
		END {
			for (i = 1; i <= NR; i++) {
				split(line[i], f, "\t")
				n = f[1]; rate = n / f[4]; key = n SUBSEP f[2]
				ratio = (key in base) ? sprintf("%.2fx", rate / base[key]) : "-"
				printf "| %s | %s | %s | %.2f | %.0f | %s | %.1f | %.2f | %.0f | %.1f | %.1f |\n", \
					n, f[2], f[3], f[4], rate, ratio, f[5] / n, f[6], n / f[6], f[7] / n, f[8] / 1048576
			}
		}' "$results"
} >"$out.tmp"
mv "$out.tmp" "$out"
lsm_log "results (also in ${out#"$REPO"/})"
cat "$out"
