#!/usr/bin/env bash
# scripts/setup.sh - on a fresh Debian 12 machine, as root: installs every
# package lsm_am needs to build and test, builds and installs the extension,
# and runs the demo (scripts/demo.sh).
#
#   scripts/setup.sh            as root
#   sudo scripts/setup.sh       as a user with sudo
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/cluster.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/setup.sh installs packages and the extension: run it as root (sudo)." >&2
	exit 1
fi

lsm_log "installing packages: ${LSM_PACKAGES[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y "${LSM_PACKAGES[@]}"

lsm_log "building and installing lsm_am"
make -j"$(nproc)"
make -C lsm -j"$(nproc)"
make install

exec scripts/demo.sh
