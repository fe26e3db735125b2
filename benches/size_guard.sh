#!/usr/bin/env bash
# benches/size_guard.sh: the binaries' ceilings (issue 56; docs/operating.md,
# "Footprint"): fails when the default x86-64 build passes 8.7 MB (8,700,000
# bytes; 8 MB until SFTP's SSH came into it, issue 80, 8.5 MB until share
# links did, issue 81) or the embedded one,
# static on musl, 3 MiB (3,145,728 bytes), as built (both profiles strip).
# Prints both sizes either way. CI runs it.
#
#   benches/size_guard.sh [--build] [DEFAULT_BINARY [EMBEDDED_BINARY]]
#
# --build: builds both first (`cargo build --release`, and the embedded
# profile for x86_64-unknown-linux-musl where that target and musl-gcc are
# installed: docs/operating.md, "Builds"). Without a musl target the
# embedded ceiling is not checked, and the script says so.
set -euo pipefail

musl=x86_64-unknown-linux-musl
target=${CARGO_TARGET_DIR:-target}
build=false
[[ ${1:-} == --build ]] && { build=true; shift; }
default_bin=${1:-$target/release/ferry}
embedded_bin=${2:-$target/$musl/embedded/ferry}

has_musl() {
  command -v musl-gcc >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$musl"
}

if $build; then
  cargo build --release --quiet
  if has_musl; then
    cargo build --quiet --profile embedded --no-default-features --features embedded --target "$musl"
  fi
fi

failed=0
# check <what> <binary> <ceiling in bytes> <ceiling in words>
check() {
  local what=$1 binary=$2 ceiling=$3 words=$4 size
  if [[ ! -f $binary ]]; then
    echo "skipped: the $what build's ceiling ($words): no binary at $binary"
    return
  fi
  size=$(stat -c %s "$binary")
  if ((size > ceiling)); then
    echo "FAILED: the $what build is $size bytes, over its ceiling of $words ($ceiling bytes): $binary"
    failed=1
  else
    echo "ok: the $what build is $size bytes, $((ceiling - size)) under its ceiling of $words: $binary"
  fi
}

check default "$default_bin" 8700000 "8.7 MB"
check "embedded (musl)" "$embedded_bin" 3145728 "3 MiB"
exit "$failed"
