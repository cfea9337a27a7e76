# scripts/cluster.sh - helpers shared by scripts/setup.sh, demo.sh, test.sh and
# the PostgreSQL benchmarks (bench-load.sh, bench-read.sh, bench-sustained.sh):
# the package list, the PostgreSQL user, throwaway clusters.  Source it; it
# defines functions and variables, it runs nothing.
#
# PostgreSQL refuses to run as root, so when these scripts run as root the
# server and every client that writes files run as an unprivileged user
# ($LSM_PG_USER, default lsmci, created if missing).  Run as any other user,
# they run as that user.

LSM_PG_VERSION=15
LSM_PG_BINDIR=${LSM_PG_BINDIR:-/usr/lib/postgresql/$LSM_PG_VERSION/bin}
LSM_PG_CONFIG=${PG_CONFIG:-$LSM_PG_BINDIR/pg_config}
LSM_PG_USER=${LSM_PG_USER:-lsmci}

# Everything setup.sh installs and test.sh needs.
LSM_PACKAGES=(postgresql-15 postgresql-server-dev-15 build-essential
	libxxhash-dev liblz4-dev postgresql-15-pgtap libipc-run-perl
	libleveldb-dev librocksdb-dev clang valgrind gnuplot-nox)

lsm_log() { printf '\n==> %s\n' "$*"; }

# Installs the packages above that are missing (apt-get, root only).
lsm_install_packages() {
	local missing=() p
	for p in "${LSM_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	lsm_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y "${missing[@]}"
}

# Sets LSM_RUN (prefix that runs a command as the PostgreSQL user) and
# LSM_RUN_USER, creating the user when running as root.
lsm_setup_user() {
	if [ "$(id -u)" -eq 0 ]; then
		if ! id -u "$LSM_PG_USER" >/dev/null 2>&1; then
			useradd --system --create-home --shell /bin/bash "$LSM_PG_USER"
		fi
		LSM_RUN=(runuser -u "$LSM_PG_USER" --)
		LSM_RUN_USER=$LSM_PG_USER
	else
		LSM_RUN=()
		LSM_RUN_USER=$(id -un)
	fi
}

# Runs "$@" as the PostgreSQL user, with the PostgreSQL binaries first in PATH,
# in the current directory (which that user must be able to enter).
lsm_as_pg() {
	"${LSM_RUN[@]}" env PATH="$LSM_PG_BINDIR:$PATH" "$@"
}

# Same, from directory $1 (the caller's directory may be one only root can
# enter, e.g. a clone under /root).
lsm_as_pg_in() {
	local dir=$1
	shift
	(cd "$dir" && lsm_as_pg "$@")
}

# A scratch directory owned by the PostgreSQL user; sets LSM_SCRATCH.
lsm_make_scratch() {
	LSM_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/lsm_am.$1.XXXXXX")
	chmod 755 "$LSM_SCRATCH"
	[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$LSM_SCRATCH"
	return 0
}

# Prints a TCP port nothing listens on.
lsm_free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# lsm_cluster_start DIR [CONF_FILE]: initdb in DIR/data and start a server
# listening on a free port and on a unix socket in DIR only, with
# shared_preload_libraries = 'lsm_am' and CONF_FILE appended to its
# configuration.  Exports PGHOST, PGPORT, PGDATABASE, PGUSER.
lsm_cluster_start() {
	local dir=$1 conf=${2:-} port
	port=$(lsm_free_port)
	lsm_as_pg_in "$dir" initdb --no-sync -A trust -E UTF8 --locale=C.UTF-8 \
		-D "$dir/data" >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "# added by scripts/cluster.sh"
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'lsm_am'"
		echo "fsync = off"
		echo "max_prepared_transactions = 10"
		if [ -n "$conf" ]; then cat "$conf"; fi
	} | lsm_as_pg_in "$dir" tee -a "$dir/data/postgresql.conf" >/dev/null
	lsm_as_pg_in "$dir" pg_ctl -w -t 60 -D "$dir/data" -l "$dir/server.log" start >/dev/null || {
		cat "$dir/server.log" >&2
		return 1
	}
	export PGHOST=$dir PGPORT=$port PGDATABASE=postgres PGUSER=$LSM_RUN_USER
	LSM_CLUSTER_DIR=$dir
}

lsm_cluster_stop() {
	[ -n "${LSM_CLUSTER_DIR:-}" ] || return 0
	lsm_as_pg_in "$LSM_CLUSTER_DIR" pg_ctl -w -D "$LSM_CLUSTER_DIR/data" stop -m fast >/dev/null 2>&1 || true
	LSM_CLUSTER_DIR=
}

# Prints N with a k or M suffix (5k, 2M) as a plain number.
lsm_count() {
	case "$1" in
		*[kK]) echo $(( ${1%?} * 1000 )) ;;
		*[mM]) echo $(( ${1%?} * 1000000 )) ;;
		*) echo "$1" ;;
	esac
}

# The start of a PostgreSQL benchmark: sets up the PostgreSQL user, builds
# and installs lsm_am unless $2 is 0, and sets LSM_BENCH_DIR to directory $3
# (made and handed to that user) or, if $3 is empty, to a new scratch
# directory named for benchmark $1.
lsm_bench_prepare() {
	local name=$1 install=$2 dir=$3
	lsm_setup_user
	if [ "$install" = 1 ]; then
		lsm_log "building and installing lsm_am"
		make -s -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
		make -s install >/dev/null
	fi
	if [ -z "$dir" ]; then
		lsm_make_scratch "$name"
		dir=$LSM_SCRATCH
	else
		mkdir -p "$dir"
		[ "$(id -u)" -eq 0 ] && chown "$LSM_RUN_USER" "$dir"
	fi
	LSM_BENCH_DIR=$dir
}
