#!/usr/bin/env bash
# The history test (tests/invariants/history.rs) on three nodes of the
# cluster recipe (cluster.sh: JuiceFS + Redis + HAProxy), twice: eight
# clients at once through FERRY/1, HTTP and WebDAV, spread over the
# nodes, first without faults (every answer must be an acknowledgement
# or a quota's refusal, the ledger exact at the end), then with faults,
# injected one after another as the requests go on:
#
#   node 2 is killed (-9), then started again (it recounts at start);
#   Redis is paused (SIGSTOP) for 3 s;
#   node 3's JuiceFS client is killed (-9), then `up` mounts it again;
#
# then the ledger must count at least what the disk holds, the cluster
# is made whole (`up`), node 1 restarted (a recount) and the checker
# proves: no quota passed by acknowledged bytes (the ledger sampled all
# along through node 1), the ledger equal to the files on the shared
# disk, no session or temp file left but the ones cut by a fault,
# every file an acknowledged (or cut) upload's bytes, at most one
# exclusive lock per name at any time. It starts its own cluster in a
# state folder of its own and removes it at the end. `.ci/run` runs it
# where JuiceFS installs (deploy/cluster/install.sh).
#
#   deploy/cluster/history.sh
#   deploy/cluster/history.sh heal    (the test's own step: see below)
#
# Environment: FERRY_BIN (default: the test build, target/debug/ferry,
# which `cargo test` builds), FERRY_HISTORY_OPS (requests per client,
# default 60), FERRY_HISTORY_SEED, FERRY_CLUSTER_DIR (default: a new
# folder under /tmp), FERRY_CLUSTER_TEST_KEEP (set: leave the cluster up),
# FERRY_HISTORY_TIMEOUT (the whole run's bound, default 600 s).
set -euo pipefail

if [ -z "${FERRY_HISTORY_INNER:-}" ]; then
    export FERRY_HISTORY_INNER=1
    exec timeout -k 15 "${FERRY_HISTORY_TIMEOUT:-600}" bash "$0" "$@"
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLUSTER="$HERE/cluster.sh"
export FERRY_BIN=${FERRY_BIN:-$REPO/target/debug/ferry}
export FERRY_CLUSTER_DIR=${FERRY_CLUSTER_DIR:-/tmp/ferry-history.$$}
# The quota tests/invariants/history.rs checks against (QUOTA_BYTES,
# QUOTA_FILES): the same on every node.
if [ -z "${FERRY_HISTORY_QUOTA:-}" ]; then
    export FERRY_HISTORY_QUOTA=1
    export FERRY_SERVE_ARGS="--quota q/=200000,files=6 ${FERRY_SERVE_ARGS:-}"
fi

# `history.sh heal` (the test runs it once its clients have ended): the
# cluster made whole, node 1 restarted, and back once its start-up
# recount is done (its log says so), up to a minute.
if [ "${1:-}" = heal ]; then
    "$CLUSTER" up >/dev/null
    log=$FERRY_CLUSTER_DIR/logs/ferry-node1.log
    before=$(grep -c 'usage recounted' "$log" || true)
    "$CLUSTER" node stop 1 >/dev/null
    "$CLUSTER" node start 1 >/dev/null
    for _ in $(seq 300); do
        [ "$(grep -c 'usage recounted' "$log" || true)" -gt "$before" ] && exit 0
        sleep 0.2
    done
    echo "history.sh: node 1 did not recount within a minute of its start" >&2
    exit 1
fi

cleanup() {
    if [ -n "${FERRY_CLUSTER_TEST_KEEP:-}" ]; then
        echo "history.sh: cluster left up under $FERRY_CLUSTER_DIR; $CLUSTER down --purge removes it" >&2
    else
        "$CLUSTER" down --purge >/dev/null 2>&1 || "$CLUSTER" down --purge || true
    fi
}
trap cleanup EXIT
trap 'echo "history.sh: interrupted (time limit?)" >&2; exit 124' TERM INT

(cd "$REPO" && cargo test --quiet --test invariants --no-run)
"$CLUSTER" up --nodes 3 >"/tmp/ferry-history-up.$$" 2>&1 || {
    cat "/tmp/ferry-history-up.$$" >&2
    echo "history.sh: the cluster did not start" >&2
    exit 1
}
rm -f "/tmp/ferry-history-up.$$"

cd "$REPO"
export FERRY_HISTORY_CLUSTER=$FERRY_CLUSTER_DIR
history() {
    cargo test --test invariants -- --exact --nocapture \
        history::a_concurrent_history_on_the_cluster_keeps_every_promise
}
echo "history.sh: three nodes, no faults"
history

redis_pid="\$(cat '$FERRY_CLUSTER_DIR/pids/redis.pid')"
# One command a line, each run once a further share of the requests has
# been made; each must succeed.
export FERRY_HISTORY_FAULTS="'$CLUSTER' node kill 2
'$CLUSTER' node start 2
kill -STOP $redis_pid && sleep 3 && kill -CONT $redis_pid
'$CLUSTER' mount kill 3
'$CLUSTER' up"
export FERRY_HISTORY_HEAL="'$HERE/history.sh' heal"
echo "history.sh: three nodes, with faults"
history
