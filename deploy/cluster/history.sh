#!/usr/bin/env bash
# The history test (tests/invariants/history.rs) on three nodes of the
# cluster recipe (cluster.sh: JuiceFS + Redis + HAProxy), twice: eight
# clients at once through FERRY/1, HTTP, WebDAV, tus, S3 and FTP (its
# passive data through the balancer), spread over the nodes, writing with two tokens that each have a quota of their own
# beside the folder's (`--quota q/=200000,files=6`), first without faults (every answer must be an acknowledgement
# or a quota's refusal, the ledger exact at the end), then with faults,
# injected one after another as the requests go on:
#
#   node 2 is killed (-9), then started again (it recounts at start);
#   Redis is paused (SIGSTOP) for 3 s;
#   node 3 is killed (-9), then started again;
#   node 3's JuiceFS client is killed, then the cluster made whole (`up`);
#
# then the ledger must count at least what the disk holds, the cluster
# is made whole (`up`), node 1 restarted (a recount) and the checker
# proves: no quota passed by acknowledged bytes (each account sampled
# all along through node 1), each account equal to its files on the
# shared disk through every node, no session or temp file left but the ones cut by a fault,
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
export FERRY_CLUSTER_DIR=${FERRY_CLUSTER_DIR:-${TMPDIR:-/tmp}/ferry-history.$$}
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

# The test program and the server binary it drives, built first.
(cd "$REPO" && cargo test --quiet --test invariants --no-run)

# The folder quota tests/invariants/history.rs checks against
# (QUOTA_BYTES, QUOTA_FILES): the same on every node.
# And its tokens (TOKEN_BYTES, TOKEN_FILES): two writers with a quota of
# their own each, a watcher that only reads; their tokens go to the test
# in FERRY_HISTORY_TOKENS, the writers' S3 keys (ID:SECRET) in
# FERRY_HISTORY_S3_KEYS.
if [ -z "${FERRY_HISTORY_TOKENS:-}" ]; then
    tokens=$(mktemp -d -t ferry-history-tokens.XXXXXX)/tokens
    writer=(--grant read:/ --grant write:/ --grant delete:/ --quota-bytes 120000 --quota-files 4 --s3)
    # A writer's token and S3 key, "TOKEN ID:SECRET" (token add prints
    # them as shell assignments).
    add_writer() {
        local out
        out=$("$FERRY_BIN" token add --tokens "$tokens" "${writer[@]}" "$1" 2>/dev/null)
        echo "$(sed -n 's/^FERRY_TOKEN=//p' <<<"$out")" \
            "$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$out"):$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$out")"
    }
    read -r t0 k0 <<<"$(add_writer t0)"
    read -r t1 k1 <<<"$(add_writer t1)"
    watch=$("$FERRY_BIN" token add --tokens "$tokens" --grant read:/ watch 2>/dev/null | sed -n 's/^FERRY_TOKEN=//p')
    export FERRY_HISTORY_TOKENS="$t0 $t1 $watch" FERRY_HISTORY_S3_KEYS="$k0 $k1"
    export FERRY_SERVE_ARGS="--quota q/=200000,files=6 --tokens $tokens ${FERRY_SERVE_ARGS:-}"
fi

cleanup() {
    [ -z "${tokens:-}" ] || rm -rf "$(dirname "$tokens")"
    if [ -n "${FERRY_CLUSTER_TEST_KEEP:-}" ]; then
        echo "history.sh: cluster left up under $FERRY_CLUSTER_DIR; $CLUSTER down --purge removes it" >&2
    else
        "$CLUSTER" down --purge >/dev/null 2>&1 || "$CLUSTER" down --purge || true
    fi
}
trap cleanup EXIT
trap 'echo "history.sh: interrupted (time limit?)" >&2; exit 124' TERM INT

up_log=$("$CLUSTER" up --nodes 3 2>&1) || {
    echo "$up_log" >&2
    echo "history.sh: the cluster did not start" >&2
    exit 1
}

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
# Node 3's JuiceFS client killed, then `up`, last: the requests go on
# while `up` waits for the dead client's session to let go of the
# node's flocks.
export FERRY_HISTORY_FAULTS="'$CLUSTER' node kill 2
'$CLUSTER' node start 2
kill -STOP $redis_pid && sleep 3 && kill -CONT $redis_pid
'$CLUSTER' node kill 3
'$CLUSTER' node start 3
'$CLUSTER' mount kill 3
'$CLUSTER' up"
export FERRY_HISTORY_HEAL="'$HERE/history.sh' heal"
echo "history.sh: three nodes, with faults"
history
