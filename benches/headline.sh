#!/usr/bin/env bash
# benches/headline.sh: docs/performance.md's headline table from one run
# (issue 76). Runs, one after another on one build, the scripts that
# measure its rows, each of which adds its rows through lib.sh's
# `headline`:
#
#   get_segments.sh     a 1 GiB GET by curl against nginx: rate, segments
#                       per GiB, server CPU per GiB (loopback and veth;
#                       as fast as curl reads and at one pace)
#   storm.sh            10,000 connections at once and opened first, FTP
#                       logins opened first, against nginx
#   storm_sftp.sh       10,000 SSH connections opened first, an SFTP login
#                       on each later (paramiko), against OpenSSH's sshd
#   put_cpu.sh          a 1 GiB PUT's server CPU against the C sink
#   ftp.sh              a 1 GiB STOR in ftplib's 8 KiB sends against vsftpd
#   compare_workers.sh  4 KiB and 1 MiB keep-alive GETs, wrk -t1 -c100, each
#                       server with its defaults, and ferry 2 loops / 1
#
# and prints the table (markdown) with the machine, date and build. Each
# script's own tables go to OUT/<script>.txt beside it.
#
#   benches/headline.sh [--reps N] [--out DIR] [--only "get_segments storm ..."]
#
# --reps: repetitions for every script (default 5; storm.sh and
# storm_sftp.sh take 3 of their minute-long rounds). FERRY_BIN, CARGO_TARGET_DIR: as for
# compare.sh; built once here. Needs root (each script says why). Takes
# about 35 minutes on this project's machine; run it on a quiet one: the
# scripts compare ratios within their own runs, but not against a build
# compiling beside them.

set -euo pipefail
shopt -s inherit_errexit

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
NAME=headline.sh
STARTED=$SECONDS
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

REPS=5 OUT="" ONLY="get_segments storm storm_sftp put_cpu ftp compare_workers"
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --only) ONLY=${2:?}; shift ;;
    -h | --help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "--reps takes a positive integer"
[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/ferry-headline.XXXXXX")
mkdir -p "$OUT"
find_ferry
export FERRY_BIN=$FERRY
export HEADLINE_FILE=$OUT/headline.rows
: >"$HEADLINE_FILE"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

run() { # script arguments...: its output to OUT/<script>.txt
  local script=$1
  shift
  [[ " $ONLY " == *" $script "* ]] || return 0
  say "$script.sh $*"
  local begun=$SECONDS
  if ! bash "$SCRIPT_DIR/$script.sh" "$@" >"$OUT/$script.txt" 2>&1; then
    say "$script.sh failed (its output: $OUT/$script.txt); its rows are missing"
    headline "$script.sh failed" "" "" "" "" "**failed**"
  fi
  say "$script.sh took $((SECONDS - begun)) s"
}

run get_segments --reps "$REPS"
run storm --reps "$(((REPS + 1) / 2))"
run storm_sftp --reps "$(((REPS + 1) / 2))"
run put_cpu --reps "$REPS" --modes auto
run ftp --sections 1 --stor-block 8192 --no-durable --reps "$REPS"
run compare_workers --reps "$REPS" --wrk-threads 1

echo
echo "## Headline ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "- $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r);" \
  "load average at start / end: $LOAD_START / $(cut -d' ' -f1-3 /proc/loadavg); run took $((SECONDS - STARTED)) s"
echo "- $("$FERRY" --version 2>/dev/null | head -n 1) ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))," \
  "$(nginx -v 2>&1 | sed 's/^nginx version: //'), vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?')"
echo "- $REPS repetitions each (storm.sh, storm_sftp.sh $(((REPS + 1) / 2))), interleaved; cells: median [min–max] (storm.sh, put_cpu.sh: medians, and ratios of them); other ratios: medians of the per-repetition ratios"
echo "- each script's own tables: $OUT"
echo
echo "| measurement | ferry | other | ratio | target | result |"
echo "|---|---|---|---|---|---|"
cat "$HEADLINE_FILE"
