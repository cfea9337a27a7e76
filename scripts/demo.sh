#!/usr/bin/env bash
# scripts/demo.sh - shows what lsm_am does today, on a throwaway cluster.
#
# Needs lsm_am built and installed (scripts/setup.sh does both).  Starts a
# server as an unprivileged user in a temporary directory (its own port,
# unix socket in that directory, shared_preload_libraries = 'lsm_am'), runs
# scripts/demo.sql in it, runs the LSM core's standalone tool if it has been
# built, then stops the server and removes the directory.
#
# What the demo shows lives in scripts/demo.sql: add new features there.
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/cluster.sh

lsm_setup_user
lsm_make_scratch demo
cleanup() {
	lsm_cluster_stop
	rm -rf "$LSM_SCRATCH"
}
trap cleanup EXIT

lsm_log "starting a throwaway PostgreSQL $LSM_PG_VERSION cluster in $LSM_SCRATCH (as $LSM_RUN_USER)"
lsm_cluster_start "$LSM_SCRATCH"
echo "listening on port $PGPORT, socket directory $PGHOST"

lsm_log "running scripts/demo.sql"
# The SQL is fed on stdin so the server user needs no access to this tree.
lsm_as_pg_in "$LSM_SCRATCH" psql -X -q -v ON_ERROR_STOP=1 --echo-queries -d postgres <scripts/demo.sql 2>&1

# The table's relation file, read offline by the core's inspection tool
# (built by "make -C lsm"): metapage, key description, runs, verification.
lsm_log "lsm_inspect: the events table's relation file, read without the server"
if [ -x lsm/build/lsm_inspect ]; then
	lsm_as_pg_in "$LSM_SCRATCH" psql -X -q -d postgres -c CHECKPOINT
	relfile=$(lsm_as_pg_in "$LSM_SCRATCH" psql -X -At -d postgres \
		-c "SELECT current_setting('data_directory') || '/' || pg_relation_filepath('events')")
	lsm/build/lsm_inspect --runs --verify "$relfile" || true
else
	echo "lsm/build/lsm_inspect is not built; build it with: make -C lsm"
fi

lsm_log "stopping the cluster"
