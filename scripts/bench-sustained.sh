#!/usr/bin/env bash
# bench-sustained.sh - sustained random-key insert load: an lsm table against
# a heap table with a btree on the key, from several concurrent sessions.
#
# Starts a throwaway cluster (shared_preload_libraries = 'lsm_am', fsync and
# synchronous_commit on, a small shared_buffers so that the btree outgrows
# it), then for each number of sessions and each table, in the same run:
#   1. a fresh table (k bigint, v text): USING lsm, or heap + btree on k
#      (or, with --tables "... heap", a heap table with no index: the
#      cheapest durable table there is, a bound for any table's rate),
#      prefilled with PREFILL rows (one INSERT ... SELECT), checkpointed, and
#      for lsm left until background compaction is idle;
#   2. pgbench with a custom script (each transaction one INSERT of BATCH
#      rows with random keys and 100-character values) from that many
#      sessions for DURATION seconds, with per-interval progress (-P);
#   3. a CHECKPOINT, then the measurements.
# Every run starts on a freshly restarted server.  With --memory-limit, the
# server runs in a memory cgroup of that size (its processes, shared memory
# and the page cache of its files), with the machine's caches dropped
# before each run: the way to see, on a machine with plenty of RAM, what
# happens once the btree no longer fits in memory, which a short run cannot
# otherwise reach (needs root and cgroup v1 or v2 with the memory
# controller).
# Reports per run: rows/s over the run and over its second half (once the
# btree has outgrown what memory holds, with --memory-limit); the server's
# CPU time per row (all server processes, from /proc: robust to other load on
# the machine, which rows/s is not); WAL bytes per row inserted; bytes the
# server wrote to data files per row (pg_stat_bgwriter: checkpointer, bgwriter
# and backends, the final checkpoint included); for lsm, the bytes flushed and
# compacted per byte users wrote (lsm_stats counters, the run's difference)
# and the write stalls; the table's size on disk at the end.  Writes
#   test/bench/results-sustained.md    the tables, the command, the machine
#   test/bench/results-sustained.csv   rows/s per progress interval
#   test/bench/results-sustained.svg   the same as a plot (gnuplot), also
#                                      drawn in text in the .md (gnuplot's
#                                      dumb terminal, or awk without gnuplot)
#
#   scripts/bench-sustained.sh                     600 s per run, 2 and 4 sessions
#   scripts/bench-sustained.sh --duration 120      shortened
#   scripts/bench-sustained.sh [--clients "2 4"] [--tables "lsm heap+btree"]
#       [--prefill 2M] [--batch 100] [--interval 10] [--shared-buffers 64MB]
#       [--memory-limit 512M]
#       [--set "NAME = VALUE" ...] [--dir DIR] [--out PREFIX] [--no-install] [--keep]
#
# Run as root (the server runs as $LSM_PG_USER, default lsmci) or as a user
# that can run PostgreSQL and write its install directories (make install).
# --out PREFIX writes PREFIX.md, .csv and .svg instead.  The cluster lives in
# DIR (default: a new directory under $TMPDIR or /tmp), removed at the end
# unless --keep.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/cluster.sh

duration=600
clients_list="2 4"
tables="lsm heap+btree"
prefill=2M
batch=100
interval=10
shared_buffers=64MB
memory_limit=""
extra_settings=()
dir=""
out=$REPO/test/bench/results-sustained
install=1
keep=0
cmdline="scripts/bench-sustained.sh${*:+ $*}"

usage()
{
	awk 'NR > 1 && /^set -e/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
		--duration) duration=$2; shift ;;
		--clients) clients_list=$2; shift ;;
		--tables) tables=$2; shift ;;
		--prefill) prefill=$2; shift ;;
		--batch) batch=$2; shift ;;
		--interval) interval=$2; shift ;;
		--shared-buffers) shared_buffers=$2; shift ;;
		--memory-limit) memory_limit=$2; shift ;;
		--set) extra_settings+=("$2"); shift ;;
		--dir) dir=$2; shift ;;
		--out) out=$2; shift ;;
		--no-install) install=0 ;;
		--keep) keep=1 ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
	esac
	shift
done

prefill_n=$(lsm_count "$prefill")
if [ $((duration % interval)) -ne 0 ]; then
	echo "--duration ($duration) must be a multiple of --interval ($interval)" >&2
	exit 2
fi

lsm_bench_prepare bench-sustained "$install" "$dir"
dir=$LSM_BENCH_DIR
conf=$dir/bench.conf
cat >"$conf" <<EOF
# scripts/bench-sustained.sh: the same settings for every table
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = $shared_buffers
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 30min
wal_buffers = 16MB
maintenance_work_mem = 256MB
max_parallel_workers_per_gather = 0
autovacuum = off
EOF
for setting in ${extra_settings[@]+"${extra_settings[@]}"}; do
	echo "$setting" >>"$conf"
done

# The memory cgroup the server runs in with --memory-limit: cgroup v2 when
# the unified hierarchy is mounted at /sys/fs/cgroup, else v1's memory
# controller.  Sets cgroup_procs (the file a process joins by).
cgroup=""
cgroup_procs=""
memory_cgroup_create()
{
	local bytes
	bytes=$(numfmt --from=iec "${memory_limit%B}")
	if [ "$(id -u)" -ne 0 ]; then
		echo "--memory-limit needs root (it creates a memory cgroup)" >&2
		exit 2
	fi
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
			echo +memory >/sys/fs/cgroup/cgroup.subtree_control
		cgroup=/sys/fs/cgroup/lsm_bench.$$
		mkdir "$cgroup"
		echo "$bytes" >"$cgroup/memory.max"
		cgroup_procs=$cgroup/cgroup.procs
	elif [ -d /sys/fs/cgroup/memory ]; then
		cgroup=/sys/fs/cgroup/memory/lsm_bench.$$
		mkdir "$cgroup"
		echo "$bytes" >"$cgroup/memory.limit_in_bytes"
		cgroup_procs=$cgroup/cgroup.procs
	else
		echo "--memory-limit: no cgroup memory controller at /sys/fs/cgroup" >&2
		exit 2
	fi
}

# Restarts the server so that every run starts alike: with --memory-limit,
# inside the memory cgroup and with the machine's caches dropped.
server_restart()
{
	local data=$dir/cluster/data
	lsm_as_pg_in "$dir" pg_ctl -w -D "$data" stop -m fast >/dev/null
	if [ -n "$cgroup" ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
		(echo "$BASHPID" >"$cgroup_procs" &&
			lsm_as_pg_in "$dir" pg_ctl -w -t 60 -D "$data" -l "$dir/cluster/server.log" start >/dev/null)
	else
		lsm_as_pg_in "$dir" pg_ctl -w -t 60 -D "$data" -l "$dir/cluster/server.log" start >/dev/null
	fi
}

cleanup()
{
	lsm_cluster_stop
	if [ -n "$cgroup" ]; then
		rmdir "$cgroup" 2>/dev/null || true
	fi
	if [ $keep = 0 ] && [ -n "${LSM_SCRATCH:-}" ]; then
		rm -rf "$LSM_SCRATCH"
	fi
}
trap cleanup EXIT

lsm_log "starting a cluster in $dir"
mkdir -p "$dir/cluster"
[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$dir/cluster"
lsm_cluster_start "$dir/cluster" "$conf"
[ -n "$memory_limit" ] && memory_cgroup_create

psql_q()
{
	lsm_as_pg_in "$dir" psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

psql_q -c "CREATE EXTENSION lsm_am"
pgver=$(psql_q -c "SHOW server_version")
settings=$(psql_q -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name)
	FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout',
		'synchronous_commit', 'fsync', 'full_page_writes', 'wal_buffers', 'autovacuum')")
lsm_settings=$(psql_q -c "SELECT coalesce(string_agg(name || '=' || current_setting(name), ', ' ORDER BY name), '')
	FROM pg_settings WHERE name LIKE 'lsm.%'")

# Keys: random 64-bit integers; values: 100 hex characters.
script=$dir/insert.sql
cat >"$script" <<EOF
INSERT INTO bench
SELECT (random() * 1.8e19 - 9.0e18)::bigint,
       rpad(md5(random()::text), 100, md5(random()::text))
  FROM generate_series(1, $batch);
EOF
chmod 644 "$script"

# Bytes written to data files so far (checkpointer, bgwriter, backends).
written_sql="SELECT (buffers_checkpoint + buffers_clean + buffers_backend)
	* current_setting('block_size')::bigint FROM pg_stat_bgwriter"

# CPU seconds (user + system) the server has used: the postmaster, its live
# children, and the children it has reaped (backends of finished sessions,
# workers that exited).  Robust to other load on the machine, unlike rows/s.
server_cpu()
{
	local pm
	pm=$(head -n 1 "$dir/cluster/data/postmaster.pid")
	{
		cut -d' ' -f14-17 "/proc/$pm/stat"
		for p in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
			cut -d' ' -f14-15 "/proc/$p/stat" 2>/dev/null || true
		done
	} | awk -v hz="$(getconf CLK_TCK)" '{ for (i = 1; i <= NF; i++) t += $i } END { printf "%.2f\n", t / hz }'
}

results=$dir/results.tsv
csv=$dir/progress.csv
: >"$results"
echo "table,clients,seconds,tps,rows_per_s" >"$csv"

# run KIND CLIENTS: one measurement; appends to $results and $csv.
run()
{
	local kind=$1 c=$2 using=heap index=""
	case "$kind" in
		lsm) using=lsm ;;
		heap+btree) index="CREATE INDEX bench_k ON bench (k);" ;;
		heap) ;;
		*) echo "unknown table kind $kind" >&2; exit 2 ;;
	esac
	server_restart
	lsm_log "$kind, $c sessions: prefill $prefill_n rows"
	psql_q <<-EOF
		SET client_min_messages = warning;
		DROP TABLE IF EXISTS bench;
		CREATE TABLE bench (k bigint, v text) USING $using;
		$index
		INSERT INTO bench
		SELECT (random() * 1.8e19 - 9.0e18)::bigint,
		       rpad(md5(random()::text), 100, md5(random()::text))
		  FROM generate_series(1, $prefill_n);
		CHECKPOINT;
	EOF
	if [ "$kind" = lsm ]; then
		# Start from a settled tree: no compaction running or asked for.
		for _ in $(seq 1 300); do
			[ "$(psql_q -c "SELECT compacting_pid IS NULL AND NOT compaction_requested FROM lsm_stats('bench')")" = t ] && break
			sleep 1
		done
		psql_q -c "CHECKPOINT"
	fi

	# Rows, WAL position, data written, size, and for lsm its counters.
	local measure="SELECT (SELECT count(*) FROM bench), pg_current_wal_insert_lsn(), ($written_sql),
		pg_total_relation_size('bench'), "
	if [ "$kind" = lsm ]; then
		measure+="s.bytes_flushed + s.bytes_compacted_written, s.user_bytes_written,
			s.stall_slowdowns, s.stall_stops, s.stall_time FROM lsm_stats('bench') s"
	else
		measure+="0, 0, 0, 0, 0"
	fi
	local before after
	before=$(psql_q -c "$measure")
	local cpu0 cpu1
	cpu0=$(server_cpu)

	lsm_log "$kind, $c sessions: pgbench for $duration s"
	local log=$dir/pgbench_${kind}_$c.log
	rm -f "$dir"/agg_"${kind}"_"$c".*
	lsm_as_pg_in "$dir" pgbench -n -f "$script" -c "$c" -j "$c" -T "$duration" -P "$interval" \
		-l --aggregate-interval="$interval" --log-prefix="agg_${kind}_$c" \
		postgres >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	# The slowest transaction of the run (pgbench's per-interval maxima, us).
	local maxlat
	maxlat=$(cat "$dir"/agg_"${kind}"_"$c".* | awk '$6 > m { m = $6 } END { print m + 0 }')
	grep -E '^progress:' "$log" | sed -E 's/^progress: ([0-9.]+) s, ([0-9.]+) tps.*/\1 \2/' |
		awk -v k="$kind" -v c="$c" -v b="$batch" '{ printf "%s,%s,%s,%s,%.0f\n", k, c, $1, $2, $2 * b }' >>"$csv"
	local tps
	tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$log")

	psql_q -c "CHECKPOINT"
	cpu1=$(server_cpu)
	after=$(psql_q -c "$measure")
	local n0 l0 w0 f0 u0 sl0 st0 stt0 n1 l1 w1 f1 u1 sl1 st1 stt1 size
	IFS='|' read -r n0 l0 w0 size f0 u0 sl0 st0 stt0 <<<"$before"
	IFS='|' read -r n1 l1 w1 size f1 u1 sl1 st1 stt1 <<<"$after"
	local wal rows
	wal=$(psql_q -c "SELECT pg_wal_lsn_diff('$l1', '$l0')")
	rows=$((n1 - n0))
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$c" "$rows" "$tps" \
		"$wal" "$((w1 - w0))" "$((f1 - f0))" "$((u1 - u0))" "$((sl1 - sl0))" "$((st1 - st0))" \
		"$(echo "$stt1 - $stt0" | bc -l)" "$size" "$n1" "$(echo "$cpu1 - $cpu0" | bc -l)" \
		"$maxlat" >>"$results"
	printf '  %-10s %s sessions: %9d rows, %8.0f rows/s, %6.1f server CPU us/row, %6.0f WAL B/row, %6.0f data B/row, %8.1f MB\n' \
		"$kind" "$c" "$rows" "$(echo "$tps * $batch" | bc -l)" "$(echo "($cpu1 - $cpu0) * 1000000 / $rows" | bc -l)" \
		"$(echo "$wal / $rows" | bc -l)" "$(echo "($w1 - $w0) / $rows" | bc -l)" "$(echo "$size / 1048576" | bc -l)"
	psql_q -c "DROP TABLE bench"
}

for c in $clients_list; do
	for k in $tables; do
		run "$k" "$c"
	done
done

# The plot: rows/s per interval, one line per table and session count.
plot_txt=$dir/plot.txt
if command -v gnuplot >/dev/null 2>&1; then
	plotcmd=""
	for c in $clients_list; do
		for k in $tables; do
			awk -F, -v k="$k" -v c="$c" '$1 == k && $2 == c { print $3, $5 }' "$csv" >"$dir/series_${k}_$c.dat"
			plotcmd+="${plotcmd:+, }'$dir/series_${k}_$c.dat' using 1:2 with lines title '$k, $c sessions'"
		done
	done
	gnuplot <<-EOF
		set terminal svg size 900,500 dynamic background rgb 'white'
		set output '$dir/plot.svg'
		set title 'Random-key inserts: rows/s per ${interval}-second interval'
		set xlabel 'seconds'
		set ylabel 'rows/s'
		set key outside bottom center horizontal
		set grid
		plot $plotcmd
		set terminal dumb size 100,30
		set output '$plot_txt'
		set key outside bottom center horizontal
		plot $plotcmd
	EOF
else
	# No gnuplot: a text chart, one bar per interval and series.
	awk -F, 'NR > 1 { v[NR] = $0; if ($5 > max) max = $5 }
		END {
			for (i = 2; i in v; i++) {
				split(v[i], f, ",")
				printf "%-10s %s s %6s s %9d rows/s |%s\n", f[1], f[2], f[3], f[5],
					substr("##################################################", 1, int(50 * f[5] / max))
			}
		}' "$csv" >"$plot_txt"
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown)
mem=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "# Sustained insert benchmark: lsm vs heap+btree"
	echo
	echo "Produced by \`$cmdline\` on $(date -u '+%Y-%m-%d %H:%M UTC'), lsm_am at commit $commit."
	echo "PostgreSQL $pgver; $(nproc 2>/dev/null || echo '?') CPUs ($cpu), $mem RAM."
	echo "Settings: $settings${lsm_settings:+; $lsm_settings}."
	echo
	echo "Each run: a fresh table \`(k bigint, v text)\` (lsm, heap with a btree on k, or heap with"
	echo "no index) prefilled"
	echo "with $prefill_n rows, then pgbench from N sessions for $duration s, each transaction one"
	echo "\`INSERT\` of $batch rows with random 64-bit keys and 100-character values. *rows/s* is"
	echo "pgbench's tps times $batch; *rows/s, 2nd half* is the mean of its progress intervals in"
	echo "the second half of the run. *server CPU us/row*: user + system CPU time of every server"
	echo "process (postmaster, backends, background workers, checkpointer, ...; not pgbench) during"
	echo "the run and the checkpoint after it, per row inserted; its *vs heap+btree* is heap+btree's"
	echo "CPU per row divided by this one's (higher is better), which other load on the machine"
	echo "disturbs much less than rows/s. *WAL B/row* is WAL written during the run per row inserted."
	echo "*data B/row* is what the server wrote to data files (pg_stat_bgwriter: checkpoints,"
	echo "bgwriter, backends; a checkpoint after the run included) per row inserted. *flush+compact"
	echo "per user byte* (lsm): bytes of runs written by flushes and compactions per byte of entries"
	echo "written (lsm_stats counters). *stalls*: writes slowed down / writes that waited, and the"
	echo "time waited in all sessions. *slowest txn*: the longest transaction of the run (pgbench's"
	echo "aggregate log). *size*: pg_total_relation_size at the end (memtable excluded)."
	if [ -n "$memory_limit" ]; then
		echo
		echo "The server ran in a memory cgroup of $memory_limit (its processes, shared memory and the"
		echo "page cache of what it reads and writes), restarted with the machine's caches dropped"
		echo "before each run, so that the btree outgrows the memory it may use, as it would on a"
		echo "machine whose RAM is small next to the table."
	fi
	echo
	echo "| sessions | table | rows inserted | rows/s | vs heap+btree | rows/s, 2nd half | vs heap+btree | server CPU us/row | vs heap+btree | WAL B/row | data B/row | flush+compact per user byte | stalls (slowed/stopped, s) | slowest txn ms | rows at end | size MB |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
	awk -F'\t' -v b="$batch" -v half="$((duration / 2))" -v csv="$csv" '
		BEGIN {
			# rows/s over the second half of each run, from its intervals
			while ((getline l < csv) > 0) {
				split(l, p, ",")
				if (p[3] + 0 > half) { hsum[p[1] SUBSEP p[2]] += p[5]; hn[p[1] SUBSEP p[2]]++ }
			}
		}
		{
			line[NR] = $0
			if ($1 == "heap+btree") {
				base[$2] = $4 * b; cbase[$2] = $14 / $3
				k = $1 SUBSEP $2
				if (hn[k] > 0) hbase[$2] = hsum[k] / hn[k]
			}
		}
		END {
			for (i = 1; i <= NR; i++) {
				split(line[i], f, "\t")
				rate = f[4] * b
				cpu = f[14] / f[3]
				k = f[1] SUBSEP f[2]
				hrate = hn[k] > 0 ? hsum[k] / hn[k] : 0
				ratio = (f[2] in base) ? sprintf("%.2fx", rate / base[f[2]]) : "-"
				hratio = (f[2] in hbase) ? sprintf("%.2fx", hrate / hbase[f[2]]) : "-"
				cratio = (f[2] in cbase) ? sprintf("%.2fx", cbase[f[2]] / cpu) : "-"
				wa = f[8] > 0 ? sprintf("%.2f", f[7] / f[8]) : "-"
				st = f[1] == "lsm" ? sprintf("%d/%d, %.1f", f[9], f[10], f[11] / 1000) : "-"
				printf "| %s | %s | %d | %.0f | %s | %.0f | %s | %.1f | %s | %.0f | %.0f | %s | %s | %.0f | %d | %.1f |\n", \
					f[2], f[1], f[3], rate, ratio, hrate, hratio, cpu * 1000000, cratio, f[5] / f[3], \
					f[6] / f[3], wa, st, f[15] / 1000, f[13], f[12] / 1048576
			}
		}' "$results"
	echo
	echo "Rows/s per ${interval}-second interval ($(basename "$out").csv, plotted in $(basename "$out").svg):"
	echo
	echo '```'
	cat "$plot_txt"
	echo '```'
} >"$out.md.tmp"
mv "$out.md.tmp" "$out.md"
cp "$csv" "$out.csv"
[ -f "$dir/plot.svg" ] && cp "$dir/plot.svg" "$out.svg"
lsm_log "results (also in ${out#"$REPO"/}.md, .csv$([ -f "$dir/plot.svg" ] && echo ', .svg'))"
cat "$out.md"
