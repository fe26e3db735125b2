#!/usr/bin/env bash
# benches/tus.sh: ferry's tus 1.0.0 uploads (issue 27, "Measure it"), on
# 127.0.0.1, files on a tmpfs.
#
# Mode: ferry runs with --no-fsync (benches/lib.sh `no_fsync`): this bench
# is not about durability. What durable acknowledgements (ferry's default)
# cost: benches/durable.sh.
#
#   benches/tus.sh [--quick] [--reps N] [--size BYTES] [--chunk BYTES]
#                  [--open "1000 5000"] [--no-node]
#
# Builds ferry in release mode (honouring CARGO_TARGET_DIR; FERRY_BIN skips
# the build), makes a work directory on a tmpfs (a private one mounted for
# the run when root, else /dev/shm, else $TMPDIR), serves it with `ferry
# serve --workers 1 --http ...` and measures, with benches/tus_client.py
# (standard library Python; bodies sent with sendfile(2) from the page
# cache, so the client costs little and is the same for every server):
#
#   1. one 1 GiB upload on one keep-alive connection: a plain HTTP PUT
#      against tus (POST, then PATCHes of 8 MiB), N interleaved repetitions
#      (default 5, the order alternating): GB/s, the ratio tus / PUT taken
#      within each repetition (target >= 0.9), and the server's CPU seconds
#      per GiB (utime+stime of all its threads from /proc/<pid>/stat, the
#      steadier figure), the client's CPU beside it. Every stored file is
#      compared with the source (cmp) and the staging folder is checked for
#      leftovers. With @tus/server and @tus/file-store installed (Node's
#      reference tus server: `npm install @tus/server @tus/file-store` in
#      $TUS_NODE_DIR, default /tmp/tusnode), its tus upload is a third
#      interleaved contender, same client (--no-node leaves it out).
#  1b. what a PATCH costs: 256 MiB as one PUT and as tus uploads in PATCHes
#      of 64 KiB, 256 KiB, 1 MiB and 8 MiB, 3 interleaved repetitions: the
#      server CPU over the PUT's divided by the number of PATCHes.
#   2. 50 concurrent tus uploads of 2 MiB (POST, then 512 KiB PATCHes) from
#      one asyncio client, 20 rounds, interleaved with 20 rounds of 50 plain
#      2 MiB PUTs from the same client (the control), while a probe process
#      GETs a 4 KiB file in a loop on one keep-alive connection (1 ms
#      apart): time per round, uploads verified byte for byte, and the
#      probe's p50/p99/max alone (3 s before) and over the GETs that began
#      during the rounds of each kind (pooled). A round takes ~0.15 s, so
#      the probe's figures under load are dominated by who gets the two
#      CPUs (server loop, Python client, probe): read them against the PUT
#      control, not as absolutes.
#   3. open tus uploads: K uploads (default 1000 and 5000) of 1 MiB created,
#      each given one 4 KiB PATCH and left unfinished, on a fresh server for
#      each K and each of two ways: every upload's connection closed
#      (sessions alone), and every upload on a connection of its own held
#      open idle (sessions plus keep-alive connections). The server's VmRSS
#      growth per upload, and the staging files (count, bytes on the tmpfs)
#      per upload.
#
# Figures are medians over the repetitions (range in brackets); a markdown
# table comes last on standard output, progress before it. A default run
# takes about 3 minutes (--quick: 1 repetition, 4 rounds, 256 MiB, K = 1000,
# under a minute); it is bounded by a watchdog (TUS_MAX_SECONDS, default
# 900), and servers, the tmpfs and the work directory go on exit.
#
# Environment: TUS_TMPDIR (use this directory instead of a tmpfs: to put
# the disk in the picture), TUS_NODE_DIR, TUS_MAX_SECONDS, FERRY_BIN,
# CARGO_TARGET_DIR.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
CLIENT="$SCRIPT_DIR/tus_client.py"

QUICK=0 NODE=1 NREPS="" SIZE="" CHUNK=$((8 << 20)) OPEN="" ROUNDS=20
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-node) NODE=0 ;;
    --reps) NREPS=${2:?--reps needs a number}; shift ;;
    --size) SIZE=${2:?--size needs bytes}; shift ;;
    --chunk) CHUNK=${2:?--chunk needs bytes}; shift ;;
    --open) OPEN=${2:?--open needs counts}; shift ;;
    -h | --help)
      sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "tus.sh: unknown argument: $1 (try --help)" >&2
      exit 2
      ;;
  esac
  shift
done
if [[ $QUICK -eq 1 ]]; then
  NREPS=${NREPS:-1} SIZE=${SIZE:-$((256 << 20))} OPEN=${OPEN:-1000} ROUNDS=4
else
  NREPS=${NREPS:-5} SIZE=${SIZE:-$((1 << 30))} OPEN=${OPEN:-"1000 5000"}
fi
[[ $NREPS =~ ^[1-9][0-9]*$ && $SIZE =~ ^[1-9][0-9]*$ && $CHUNK =~ ^[1-9][0-9]*$ ]] ||
  { echo "tus.sh: --reps, --size and --chunk take positive integers" >&2; exit 2; }
MAX_SECONDS=${TUS_MAX_SECONDS:-900}
NODE_DIR=${TUS_NODE_DIR:-/tmp/tusnode}

STARTED=$SECONDS
NAME=tus.sh
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
REPS=$NREPS
SAY_FD=1 # progress goes to standard output, with the table

# ---------------------------------------------------------------- cleanup

FERRY_PID="" NODE_PID=""
PID_VARS=(FERRY_PID NODE_PID)
clean_up_at_exit "$MAX_SECONDS"

# ---------------------------------------------------------------- setup

find_ferry
need_kb=$(((2 * SIZE + (700 << 20)) / 1024))
make_work tus "${TUS_TMPDIR:-}" "$((need_kb + (256 << 10)))k"
avail_kb=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
((avail_kb > need_kb)) || die "$WORK has ${avail_kb} KiB free, needs ${need_kb}"
FSTYPE=$(stat -f -c %T "$WORK")
say "work directory $WORK ($FSTYPE), ferry $FERRY"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

SRC="$WORK/source.bin"
timeout 120 head -c "$SIZE" /dev/urandom >"$SRC"
ROOT="$WORK/root"

# start_ferry [flags...]: a fresh server on an empty root.
start_ferry() {
  stop_pid "$FERRY_PID"
  rm -rf -- "$ROOT"
  mkdir -p "$ROOT/bench"
  head -c 4096 /dev/urandom >"$ROOT/bench/probe-4k.bin"
  # Each server's log on its own (`served` reads the new one's), all
  # of them counted at the end.
  [[ ! -f $WORK/ferry.log ]] || cat "$WORK/ferry.log" >>"$WORK/ferry.earlier.log"
  launch FERRY_PID "$WORK/ferry.log" \
    "$FERRY" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 $(no_fsync "$FERRY") \
    --root "$ROOT" --workers 1 "$@"
  HTTP_PORT=$(port_of HTTP "$SERVED")
}

NODE_OK=0
if [[ $NODE -eq 1 && -d $NODE_DIR/node_modules/@tus/server && -d $NODE_DIR/node_modules/@tus/file-store ]] &&
  command -v node >/dev/null; then
  NODE_OK=1
  NODE_FILES="$WORK/node-files"
  mkdir -p "$NODE_FILES"
  NODE_VERSION=$(node -e 'console.log(process.version)')
  TUS_SERVER_VERSION=$(jget "$NODE_DIR/node_modules/@tus/server/package.json" version)
  cat >"$NODE_DIR/ferry-bench-server.mjs" <<'EOF'
// @tus/server with @tus/file-store on 127.0.0.1:PORT, uploads kept in DIR,
// creation endpoint /bench/ (written by ferry's benches/tus.sh).
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';
const [port, dir] = process.argv.slice(2);
const tus = new Server({ path: '/bench', relativeLocation: true, datastore: new FileStore({ directory: dir }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), '127.0.0.1');
EOF
  NODE_PORT=$(free_port)
  spawn NODE_PID "$NODE_PORT" "$WORK/node.log" \
    node "$NODE_DIR/ferry-bench-server.mjs" "$NODE_PORT" "$NODE_FILES"
  say "@tus/server $TUS_SERVER_VERSION on Node $NODE_VERSION, port $NODE_PORT"
elif [[ $NODE -eq 1 ]]; then
  say "no @tus/server in $NODE_DIR/node_modules: its row is left out"
fi

# ---------------------------------------------------------------- 1. throughput

LEFTOVER=0 MISMATCH=0
one() { # kind rep: one upload, its JSON line in $WORK/<kind>.<rep>.json
  local kind=$1 rep=$2 out="$WORK/$1.$2.json" stored
  case $kind in
    put) timeout 300 python3 "$CLIENT" put --port "$HTTP_PORT" --pid "$FERRY_PID" \
      --file "$SRC" --size "$SIZE" --name "put-$rep.bin" >"$out" 2>>"$WORK/client.err"
      stored="$ROOT/bench/put-$rep.bin" ;;
    tus) timeout 300 python3 "$CLIENT" tus --port "$HTTP_PORT" --pid "$FERRY_PID" \
      --file "$SRC" --size "$SIZE" --chunk "$CHUNK" --name "tus-$rep.bin" >"$out" 2>>"$WORK/client.err"
      stored="$ROOT/bench/tus-$rep.bin" ;;
    node) timeout 300 python3 "$CLIENT" tus --port "$NODE_PORT" --pid "$NODE_PID" \
      --file "$SRC" --size "$SIZE" --chunk "$CHUNK" --name "tus-$rep.bin" >"$out" 2>>"$WORK/client.err"
      stored="$NODE_FILES/$(basename "$(jget "$out" location)")" ;;
  esac
  if ! cmp -s "$SRC" "$stored"; then
    MISMATCH=$((MISMATCH + 1))
    say "  $kind $rep: the stored file differs from the source"
  fi
  rm -f -- "$stored" "$stored.json"
  if [[ $kind == tus ]]; then
    local left
    left=$(find "$ROOT/.ferry-uploads" -type f ! -name lock 2>/dev/null | wc -l)
    if ((left > 0)); then
      LEFTOVER=$((LEFTOVER + left))
      say "  tus $rep: $left files left in .ferry-uploads after completion"
    fi
  fi
  say "  $kind $rep: $(calc "$(jget "$out" gbps)" 3) GB/s, server CPU $(jget "$out" server_cpu) s, client CPU $(calc "$(jget "$out" client_cpu)" 2) s"
}

say "1. ${SIZE}-byte upload: PUT vs tus in $CHUNK-byte PATCHes, $REPS repetitions"
start_ferry
# One upload unmeasured first: a fresh server's and tmpfs's first GiB costs more.
timeout 300 python3 "$CLIENT" put --port "$HTTP_PORT" --file "$SRC" --size "$SIZE" --name warm.bin \
  >/dev/null 2>>"$WORK/client.err"
rm -f -- "$ROOT/bench/warm.bin"
KINDS=(put tus)
[[ $NODE_OK -eq 1 ]] && KINDS+=(node)
for ((rep = 1; rep <= REPS; rep++)); do
  if ((rep % 2)); then order=("${KINDS[@]}"); else order=(); for ((k = ${#KINDS[@]} - 1; k >= 0; k--)); do order+=("${KINDS[k]}"); done; fi
  for kind in "${order[@]}"; do one "$kind" "$rep"; done
done
GIB=$(calc "$SIZE / 1073741824" 6)
declare -A GBPS SCPU CCPU
for kind in "${KINDS[@]}"; do
  g=() s=() c=()
  for ((rep = 1; rep <= REPS; rep++)); do
    g+=("$(jget "$WORK/$kind.$rep.json" gbps)")
    s+=("$(calc "$(jget "$WORK/$kind.$rep.json" server_cpu) / $GIB" 4)")
    c+=("$(calc "$(jget "$WORK/$kind.$rep.json" client_cpu) / $GIB" 4)")
  done
  GBPS[$kind]="${g[*]}" SCPU[$kind]="${s[*]}" CCPU[$kind]="${c[*]}"
done
ratio() { # kindA kindB field(GBPS|SCPU): median over repetitions of A/B
  local -n arr=$3
  ratio_of "${arr[$1]}" "${arr[$2]}"
}
TUS_RATIO=$(ratio tus put GBPS)
TUS_CPU_RATIO=$(ratio tus put SCPU)
if [[ $NODE_OK -eq 1 ]]; then
  NODE_RATIO=$(ratio node put GBPS)
  NODE_CPU_RATIO=$(ratio node put SCPU)
fi
PATCHES=$(((SIZE + CHUNK - 1) / CHUNK))

# ---------------------------------------------------------------- 1b. per-PATCH cost

# The same server: SWEEP_SIZE bytes as one PUT and as tus uploads in PATCHes
# of 64 KiB to 8 MiB, interleaved; what a PATCH adds is the server CPU over
# the PUT's, divided by the number of PATCHes.
SWEEP_SIZE=$((SIZE < (256 << 20) ? SIZE : (256 << 20)))
SWEEP_REPS=$((REPS < 3 ? REPS : 3))
SWEEP=(put $((64 << 10)) $((256 << 10)) $((1 << 20)) $((8 << 20)))
say "1b. ${SWEEP_SIZE}-byte uploads, PUT and tus in PATCHes of ${SWEEP[*]:1} bytes, $SWEEP_REPS repetitions"
declare -A SW_CPU SW_GBPS
for ((rep = 1; rep <= SWEEP_REPS; rep++)); do
  for kind in "${SWEEP[@]}"; do
    out="$WORK/sweep.$kind.$rep.json"
    if [[ $kind == put ]]; then
      timeout 300 python3 "$CLIENT" put --port "$HTTP_PORT" --pid "$FERRY_PID" --file "$SRC" \
        --size "$SWEEP_SIZE" --name sweep.bin >"$out" 2>>"$WORK/client.err"
    else
      timeout 300 python3 "$CLIENT" tus --port "$HTTP_PORT" --pid "$FERRY_PID" --file "$SRC" \
        --size "$SWEEP_SIZE" --chunk "$kind" --name sweep.bin >"$out" 2>>"$WORK/client.err"
    fi
    cmp -s -n "$SWEEP_SIZE" "$SRC" "$ROOT/bench/sweep.bin" || { MISMATCH=$((MISMATCH + 1)); say "  sweep $kind $rep: stored file differs"; }
    rm -f -- "$ROOT/bench/sweep.bin"
    SW_CPU[$kind]+="$(jget "$out" server_cpu) "
    SW_GBPS[$kind]+="$(jget "$out" gbps) "
  done
done
SW_ROWS=()
put_cpu=$(median ${SW_CPU[put]})
for kind in "${SWEEP[@]}"; do
  cpu=$(median ${SW_CPU[$kind]})
  if [[ $kind == put ]]; then
    SW_ROWS+=("PUT|1|$(spread 3 ${SW_GBPS[$kind]})|$(calc "$cpu" 2)|")
  else
    n=$(((SWEEP_SIZE + kind - 1) / kind))
    # (CPU time is counted in 10 ms ticks: with few PATCHes the difference
    # is below what it can tell.)
    per="– (below resolution)"
    ((n >= 500)) && per=$(calc "($cpu - $put_cpu) * 1e6 / $n" 0)
    SW_ROWS+=("tus, $(calc "$kind / 1024" 0) KiB PATCHes|$n|$(spread 3 ${SW_GBPS[$kind]})|$(calc "$cpu" 2)|$per")
  fi
  say "  $kind: server CPU $(calc "$cpu" 2) s, $(spread 3 ${SW_GBPS[$kind]}) GB/s"
done

# ---------------------------------------------------------------- 2. 50 concurrent uploads

say "2. 50 concurrent 2 MiB uploads, tus (512 KiB PATCHes) and plain PUTs, beside a 4 KiB GET probe, $ROUNDS rounds each"
start_ferry
LOAD="$WORK/load.json"
timeout 300 python3 "$CLIENT" load --port "$HTTP_PORT" --pid "$FERRY_PID" --root "$ROOT" \
  --folder bench/load --probe-path /bench/probe-4k.bin --stop-file "$WORK/probe.stop" \
  --count 50 --size $((2 << 20)) --chunk $((512 << 10)) --idle 3 --rounds "$ROUNDS" \
  >"$LOAD" 2>>"$WORK/client.err"
python3 - "$LOAD" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for i, r in enumerate(d["rounds"], 1):
    bad = f", FAILED {r['failed']}" if r["failed"] else ""
    print(f"[  --]   round {i} {r['mode']}: {r['verified']}/50 verified in {r['seconds']:.3f} s "
          f"(each upload p50 {r['upload_p50']:.3f} s, max {r['upload_max']:.3f} s), "
          f"server CPU {r['server_cpu']:.2f} s, staging files left {r['staging_left']}{bad}")
print(f"[  --]   probe alone: {d['probe_idle']}")
for mode in ("tus", "put"):
    print(f"[  --]   probe during {mode}: {d[mode]['probe']}")
PY
MIN_VER=$(jget "$LOAD" tus.verified_min)
PUT_VER=$(jget "$LOAD" put.verified_min)
L_ERR=$(($(jget "$LOAD" probe_load_errors) + $(jget "$LOAD" probe_idle_errors)))
LEFTOVER=$((LEFTOVER + $(jget "$LOAD" tus.staging_left)))
rounds_of() { # mode field: that field of the mode's rounds, one a line
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["rounds"]:
    if r["mode"] == sys.argv[2]: print(r[sys.argv[3]])' "$LOAD" "$1" "$2"
}
mapfile -t L_SECS < <(rounds_of tus seconds)
mapfile -t L_CPU < <(rounds_of tus server_cpu)
mapfile -t P_SECS < <(rounds_of put seconds)
mapfile -t P_CPU < <(rounds_of put server_cpu)

# ---------------------------------------------------------------- 3. open uploads

say "3. open tus uploads (1 MiB each, one 4 KiB PATCH), K = $OPEN"
OPEN_ROWS=()
for k in $OPEN; do
  for mode in closed held; do
    # Caps raised so that K uploads (and K connections) from one address fit.
    start_ferry --max-upload-sessions $((k + 1000)) --max-upload-sessions-per-client $((k + 1000)) \
      --max-connections-per-client 0 --max-connections $((k + 1000))
    out="$WORK/open.$k.$mode.json"
    hold=()
    [[ $mode == held ]] && hold=(--hold)
    timeout 300 python3 "$CLIENT" open --port "$HTTP_PORT" --pid "$FERRY_PID" --root "$ROOT" \
      --count "$k" --length $((1 << 20)) --patch 4096 "${hold[@]}" >"$out" 2>>"$WORK/client.err"
    OPEN_ROWS+=("$k|$mode|$(jget "$out" ok)|$(jget "$out" errors)|$(jget "$out" rss_before_kb)|$(jget "$out" rss_after_kb)|$(calc "$(jget "$out" rss_per_upload_bytes)" 0)|$(calc "$(jget "$out" disk_files_per_upload)" 2)|$(calc "$(jget "$out" disk_bytes_per_upload)" 0)|$(calc "$(jget "$out" apparent_bytes_per_upload)" 0)|$(calc "$(jget "$out" seconds)" 2)")
    say "  K=$k $mode: $(jget "$out" ok) open, RSS $(jget "$out" rss_before_kb) -> $(jget "$out" rss_after_kb) KiB ($(calc "$(jget "$out" rss_per_upload_bytes)" 0) B per upload), staging $(calc "$(jget "$out" disk_files_per_upload)" 2) files and $(calc "$(jget "$out" disk_bytes_per_upload)" 0) B per upload"
  done
done
stop_pid "$FERRY_PID"
FERRY_PID=""
ERRLINES=$(cat "$WORK"/ferry*.log | grep -c -E ' (ERROR|WARN) ' || true)

# ---------------------------------------------------------------- table

echo
echo "tus.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), files on $FSTYPE, ferry --workers 1"
echo
echo "| # | measurement | value | ratio | target | result |"
echo "|---|---|---|---|---|---|"
echo "| 1 | PUT $(calc "$SIZE / 1048576" 0) MiB, 1 connection (GB/s) | $(spread 3 ${GBPS[put]}) | | | |"
echo "| 1 | tus $(calc "$SIZE / 1048576" 0) MiB in $PATCHES PATCHes of $(calc "$CHUNK / 1048576" 1) MiB (GB/s) | $(spread 3 ${GBPS[tus]}) | ×$TUS_RATIO PUT | ≥0.9× PUT | $(verdict "$TUS_RATIO >= 0.9") |"
echo "| 1 | server CPU per GiB, PUT (s) | $(spread 3 ${SCPU[put]}) | | | |"
echo "| 1 | server CPU per GiB, tus (s) | $(spread 3 ${SCPU[tus]}) | ×$TUS_CPU_RATIO PUT | | |"
echo "| 1 | client CPU per GiB, PUT / tus (s) | $(spread 3 ${CCPU[put]}) / $(spread 3 ${CCPU[tus]}) | | | |"
if [[ $NODE_OK -eq 1 ]]; then
  echo "| 1 | @tus/server $TUS_SERVER_VERSION + file-store (Node $NODE_VERSION), same tus upload (GB/s) | $(spread 3 ${GBPS[node]}) | ×$NODE_RATIO ferry PUT | | |"
  echo "| 1 | @tus/server: server CPU per GiB (s) | $(spread 3 ${SCPU[node]}) | ×$NODE_CPU_RATIO ferry PUT | | |"
fi
echo "| 1 | stored files differing from the source / staging files left | $MISMATCH / $LEFTOVER | | 0 / 0 | $(verdict "$MISMATCH == 0 && $LEFTOVER == 0") |"
for row in "${SW_ROWS[@]}"; do
  IFS='|' read -r what n gbps cpu per <<<"$row"
  echo "| 1b | $(calc "$SWEEP_SIZE / 1048576" 0) MiB, $what ($n requests): GB/s; server CPU (s)$([[ -n $per ]] && echo "; per PATCH over the PUT (µs)") | $gbps; $cpu$([[ -n $per ]] && echo "; $per") | | | |"
done
echo "| 2 | 50 × 2 MiB tus, 512 KiB PATCHes: time per round (s) | $(spread 3 "${L_SECS[@]}") | | | |"
echo "| 2 | 50 × 2 MiB plain PUT (control): time per round (s) | $(spread 3 "${P_SECS[@]}") | | | |"
echo "| 2 | tus uploads verified byte for byte (fewest of $ROUNDS rounds; PUT: $PUT_VER) | $MIN_VER / 50 | | all | $(verdict "$MIN_VER == 50") |"
echo "| 2 | server CPU per round, tus / PUT (s) | $(spread 2 "${L_CPU[@]}") / $(spread 2 "${P_CPU[@]}") | | | |"
probe() { # key: "p50 / p99 / max (n GETs)"
  echo "$(calc "$(jget "$LOAD" "$1.p50")" 2) / $(calc "$(jget "$LOAD" "$1.p99")" 2) / $(calc "$(jget "$LOAD" "$1.max")" 2) ($(jget "$LOAD" "$1.n") GETs)"
}
echo "| 2 | probe 4 KiB GET alone (3 s): p50 / p99 / max (ms) | $(probe probe_idle) | | | |"
echo "| 2 | probe 4 KiB GET during the tus rounds: p50 / p99 / max (ms) | $(probe tus.probe) | | | |"
echo "| 2 | probe 4 KiB GET during the PUT rounds: p50 / p99 / max (ms) | $(probe put.probe) | | | |"
echo "| 2 | probe errors | $L_ERR | | 0 | $(verdict "$L_ERR == 0") |"
for row in "${OPEN_ROWS[@]}"; do
  IFS='|' read -r k mode ok errs before after per files bytes apparent secs <<<"$row"
  what="connections closed"
  [[ $mode == held ]] && what="each on an idle keep-alive connection"
  echo "| 3 | $k open uploads, $what: RSS $before → $after KiB, per upload (B) | $per | | | ($ok made, $errs refused, in $secs s) |"
  echo "| 3 | $k open uploads, $what: staging files / bytes on $FSTYPE / apparent bytes, per upload | $files / $bytes / $apparent | | | |"
done
echo
echo "Server log: $ERRLINES WARN/ERROR lines."
if [[ -s $WORK/client.err ]]; then
  echo "Client errors (first lines):"
  head -n 5 "$WORK/client.err"
fi
