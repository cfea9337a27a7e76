#!/bin/bash
# bench-core.sh - db_bench-style benchmark of the LSM core against LevelDB
# and RocksDB (test/bench/).  Builds lsm/ and the benchmark, runs every
# engine at each key count, prints a markdown table and writes it to
# test/bench/results-core.md.
#
#   scripts/bench-core.sh                 1M and 10M keys (10M takes a while)
#   scripts/bench-core.sh --quick         100k keys
#   scripts/bench-core.sh --num 1M [--num 10M ...] [--reads N] [--seeks N]
#                         [--engines "lsm leveldb rocksdb"] [--dir DIR] [--out FILE]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/cluster.sh"
bench=$root/test/bench
nums=()
reads=""
seeks=""
engines="lsm leveldb rocksdb"
dir=/work/bench-tmp
out=$bench/results-core.md
cmdline="scripts/bench-core.sh${*:+ $*}"

usage()
{
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
		--quick) nums=(100000) ;;
		--num) nums+=("$2"); shift ;;
		--reads) reads=$2; shift ;;
		--seeks) seeks=$2; shift ;;
		--engines) engines=$2; shift ;;
		--dir) dir=$2; shift ;;
		--out) out=$2; shift ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
	esac
	shift
done
[ ${#nums[@]} -gt 0 ] || nums=(1000000 10000000)


ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$dir"

# Build.  Without a working core (lsm/db.c not there yet, or a build error)
# the lsm engine is skipped and the table says so.
want_lsm=0
case " $engines " in *" lsm "*) want_lsm=1 ;; esac
lsm_note=""
if [ $want_lsm = 1 ]; then
	if ! make -s -C "$root/lsm" >/dev/null 2>"$dir/lsm-build.err"; then
		lsm_note="lsm core did not build (see $dir/lsm-build.err); lsm skipped"
	elif ! make -s -C "$bench" bench_lsm >/dev/null 2>"$dir/bench-lsm-build.err"; then
		lsm_note="bench_lsm did not link (is lsm/db.c there?; see $dir/bench-lsm-build.err); lsm skipped"
	fi
	if [ -n "$lsm_note" ]; then
		echo "NOTE: $lsm_note" >&2
		engines=$(echo " $engines " | sed 's/ lsm / /; s/^ *//; s/ *$//')
	fi
fi
for e in $engines; do
	[ "$e" = lsm ] && continue
	make -s -C "$bench" "bench_$e" >/dev/null
done

logdir=$dir/logs
mkdir -p "$logdir"
rm -f "$logdir"/*.log

status=0
for n in "${nums[@]}"; do
	n=$(lsm_count "$n")
	r=${reads:-$(( n < 1000000 ? n : 1000000 ))}
	s=${seeks:-$(( r / 10 ))}
	for e in $engines; do
		echo "== $e, $n keys, $(lsm_count "$r") reads, $(lsm_count "$s") seeks" >&2
		if ! "$bench/bench_$e" --num "$n" --reads "$(lsm_count "$r")" --seeks "$(lsm_count "$s")" \
			--dir "$dir" | tee "$logdir/$e-$n.log"; then
			echo "bench_$e exited with an error at $n keys" >&2
			echo "EXIT $e $n" >> "$logdir/$e-$n.log"
			status=1
		fi
	done
done

# The table: one section per key count.
{
	echo "# Core benchmark: lsm vs LevelDB vs RocksDB"
	echo
	lsm_rev=$(git -C "$root" log -1 --format=%h -- lsm 2>/dev/null || echo unknown)
	git -C "$root" diff --quiet HEAD -- lsm 2>/dev/null || lsm_rev="$lsm_rev + uncommitted changes"
	echo "Command: \`$cmdline\` ($(date -u +%Y-%m-%d), lsm/ at $lsm_rev)"
	echo
	echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(. /etc/os-release; echo "$PRETTY_NAME"); databases on $(df -P "$dir" | awk 'NR==2 {print $1}'), hot in the page cache."
	echo
	echo "Keys 16 bytes (zero-padded decimal), values 100 bytes (about 50% compressible), one thread."
	echo "fillseq and fillrandom each load a fresh database; the reads run on the fillrandom one"
	echo "after the engine settles (see below). readrandom: uniform over loaded keys, all must hit;"
	echo "readmissing: keys interleaved with the loaded ones, never written; fullscan: every entry"
	echo "(count checked); seekrandom: a fresh iterator, a seek to a loaded key, then 100 nexts."
	echo "\"fillrandom + settle\" counts the fill and the wait for background compaction together."
	echo
	[ -n "$lsm_note" ] && { echo "**$lsm_note.**"; echo; }
	for e in $engines; do
		f=$(ls "$logdir/$e"-*.log 2>/dev/null | head -1)
		[ -n "$f" ] && sed -n 's/^engine \([a-z]*\): /- **\1**: /p' "$f"
	done
	echo
	for n in "${nums[@]}"; do
		n=$(lsm_count "$n")
		awk -v n="$n" -v engines="$engines" -v logdir="$logdir" '
			function fmt(x,    s, o) {
				if (x == "") return "-"
				s = sprintf("%d", x + 0.5); o = ""
				while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
				return s o
			}
			function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
			BEGIN {
				ne = split(engines, eng, " ")
				nw = split("fillseq fillrandom fillrandom+settle readrandom readmissing fullscan seekrandom", wl, " ")
				for (i = 1; i <= ne; i++) {
					file = logdir "/" eng[i] "-" n ".log"
					while ((getline line < file) > 0) {
						split(line, f, " ")
						if (f[1] == "RESULT") {
							ops[f[2], f[3]] = f[6]; mb[f[2], f[3]] = f[7]
							secs[f[2], f[3]] = f[5]; cnt[f[2], f[3]] = f[4]
						} else if (f[1] == "SETTLE") {
							settle[f[2], f[3]] = f[4]; size[f[2], f[3]] = f[5]
						} else if (f[1] == "FAILED") {
							failed[f[2], f[3]] = 1
						}
					}
					close(file)
					if ((eng[i], "fillrandom") in ops)
						ops[eng[i], "fillrandom+settle"] = cnt[eng[i], "fillrandom"] / (secs[eng[i], "fillrandom"] + settle[eng[i], "fillrandom"])
				}
				printf "## %s keys\n\n", fmt(n)
				printf "| workload | lsm ops/s | LevelDB ops/s | RocksDB ops/s | lsm/LevelDB | lsm/RocksDB |\n"
				printf "|---|---:|---:|---:|---:|---:|\n"
				for (w = 1; w <= nw; w++) {
					k = wl[w]
					row = "| " k
					split("lsm leveldb rocksdb", all, " ")
					for (i = 1; i <= 3; i++) {
						e = all[i]
						c = ((e, k) in ops) ? fmt(ops[e, k]) : "-"
						if ((e, k) in mb && mb[e, k] != "-")
							c = c sprintf(" (%.1f MiB/s)", mb[e, k])
						if ((e, k) in failed)
							c = c " **FAILED**"
						row = row " | " c
					}
					row = row " | " ratio(ops["lsm", k], ops["leveldb", k]) " | " ratio(ops["lsm", k], ops["rocksdb", k]) " |"
					print row
				}
				row = "| settle after fillrandom (s) / size (MiB)"
				for (i = 1; i <= 3; i++) {
					e = all[i]
					row = row " | " (((e, "fillrandom") in settle) ? sprintf("%.1f / %.0f", settle[e, "fillrandom"], size[e, "fillrandom"] / 1048576) : "-")
				}
				print row " | | |"
				print ""
			}'
	done
	echo "Settle: LevelDB has no wait-for-compaction call, so the bench polls until no memtable"
	echo "flush is pending (one *.log file) and leveldb.stats shows no level over its compaction"
	echo "trigger; RocksDB waits until no flush or compaction is running or pending. Neither"
	echo "flushes the memtable nor calls compact_range, which would reshape the tree. The lsm core"
	echo "is single-threaded and flushes and compacts inline during puts, so its fill numbers"
	echo "include all of its flush and compaction work; LevelDB and RocksDB do theirs on the"
	echo "second core."
	echo "Size is the database's apparent size right after settling, memtables not flushed, so it"
	echo "includes the write-ahead log (for lsm: log pages, and free pages inside its one file,"
	echo "which never shrinks)."
	echo "LevelDB uses snappy: Debian's LevelDB has no lz4. LevelDB and RocksDB have an 8 MiB cache"
	echo "of uncompressed blocks; the lsm core reads pages through mmap and has no block cache, so"
	echo "it decompresses a block on every access (this dominates its seekrandom profile)."
	echo "Numbers are from one run on a shared 2-core machine; repeated runs differed by up to"
	echo "about 15% on the fills."
	echo
	echo "Raw output: $logdir/"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo
cat "$out"
exit $status
