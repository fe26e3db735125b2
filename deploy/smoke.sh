#!/usr/bin/env bash
# Starts a ferry binary on a temporary root with an HTTP listener on port
# 0, PUTs a file of random bytes, GETs it back and compares them byte for
# byte (curl). For a build that cannot run its test programs here: the
# armv7 one under qemu-user in .ci/run, and each release artifact
# (deploy/release.sh).
#
#   deploy/smoke.sh path/to/ferry [RUNNER...]
#       RUNNER: what runs the binary, e.g. qemu-arm-static (default: none,
#       or the kernel's binfmt_misc). SIZE=bytes (default 1000000).
# Prints the time to the listener's line and the transfer's; exits 0 when
# the bytes came back the same.
set -euo pipefail
binary=$1
shift
size=${SIZE:-1000000}
work=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

started=$(date +%s%N)
"$@" "$binary" serve --root "$work/root" --http 127.0.0.1:0 2>"$work/log" &
pid=$!
# The port is in the "serving ... on 127.0.0.1:PORT (HTTP)" line
# (stderr); qemu takes a moment to start.
port=
for _ in $(seq 200); do
  port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\) (HTTP).*/\1/p' "$work/log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "smoke: $binary exited" >&2; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { cat "$work/log" >&2; echo "smoke: no HTTP listener within 10 s" >&2; exit 1; }
listening=$(( ($(date +%s%N) - started) / 1000000 ))

head -c "$size" /dev/urandom >"$work/sent"
began=$(date +%s%N)
curl -sS -f -o /dev/null -T "$work/sent" "http://127.0.0.1:$port/smoke/file.bin"
curl -sS -f -o "$work/got" "http://127.0.0.1:$port/smoke/file.bin"
took=$(( ($(date +%s%N) - began) / 1000000 ))
cmp "$work/sent" "$work/got"
echo "smoke: $binary${1:+ under $*}: listening after ${listening} ms; PUT and GET of $size bytes in ${took} ms, byte for byte"
