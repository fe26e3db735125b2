#!/usr/bin/env bash
# tests/clients/s3_tests.sh: the peer suite ceph/s3-tests against ferry's
# S3 listener, on the tests a POSIX tree can honour (issue 50's "Done
# when"; what is in and out, and why: docs/s3-tests.md and the selection,
# tests/clients/s3_tests_selection.txt).
#
#   tests/clients/s3_tests.sh [S3_TESTS_DIR] [-- PYTEST_ARGS...]
#
#   S3_TESTS_DIR (or the variable of that name): a checkout of
#       ceph/s3-tests (its s3tests/functional/test_s3.py). It is not
#       fetched: GitHub is out of reach of CI and of the developers'
#       machines, so without one the script says "skipped: ..." and
#       exits 0.
#   FERRY_BIN: the ferry binary; without it, `cargo build --release`'s.
#   S3_TESTS_VENV: the Python venv to use (made and filled from PyPI
#       with the checkout's requirements.txt and pytest-timeout where
#       missing); default ~/.cache/ferry/s3-tests-venv.
#   S3_TESTS_MIN: the pass rate (percent of the selection) below which
#       the script exits 1; default 95 (issue 50).
#   S3_TESTS_OUT: a folder to keep the run's files in (pytest's output,
#       the server's log, results.tsv: one line per selected test with
#       its outcome and first error line); default a temporary one,
#       removed at the end.
#   PYTEST_ARGS: passed on, e.g. `-- -k multipart` to run part of the
#       selection (the percentage is then over that part).
#
# What it does: a temporary root, two S3 keys ("main" and "alt", read,
# write and delete on /) made with `ferry token add --s3`, the suite's
# s3tests.conf naming them (its "s3 tenant" and IAM sections reuse them:
# ferry has no tenants and no IAM, and those tests are left out), a free
# port on 127.0.0.1; then pytest on test_s3.py and test_headers.py with
# tests/clients/s3_tests_plugin.py, which starts ferry, deselects what
# the selection leaves out and prints the counts:
#
#   s3-tests: P passed, F failed, S skipped of N in scope: X %
#
# Failed authentications: ferry throttles them per client address
# (src/access/throttle.rs, docs/security.md: 5 free, then spaced, locked
# out at 20), and while an address must wait, every request from it is
# refused (SlowDown), good ones too. The suite signs badly on purpose
# (test_headers.py, the *_aws2 tests, expired presigned URLs), all from
# 127.0.0.1, so the tests after those, and their teardowns, would fail on
# the throttle rather than on what they test. The plugin therefore
# restarts the server (same port, root and keys) before any test that
# follows one that made an authentication fail (it reads the server's
# log), so each test meets a fresh throttle; how many restarts is
# printed. The throttle itself is tested by ferry's own tests.
#
# The suite's teardown lists every bucket with the test prefix and
# empties it with ListObjectVersions and DeleteObjects (ferry answers
# ListObjectVersions with one null version per object), so a test that
# fails still leaves nothing behind for the next.
#
# Why here and not in benches/: it is a conformance check that passes or
# fails, beside the other real clients' scripts; benches/ measure speed.
# It is not run by .ci/run or cargo test (no checkout there); run it by
# hand against the checkout the selection was made on (commit 8f0ae7b),
# or a newer one: names the selection gives that no test has are said.
#
# Takes about 2 minutes on two cores (one ferry, one client; the venv once:
# about a minute of pip).

set -euo pipefail
NAME=s3_tests.sh
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

die() { echo "$NAME: $*" >&2; exit 1; }

S3T=${S3_TESTS_DIR:-}
if [[ $# -gt 0 && $1 != -- ]]; then S3T=$1; shift; fi
[[ ${1:-} == -- ]] && shift
if [[ -z $S3T ]]; then
  echo "skipped: no ceph/s3-tests checkout given (S3_TESTS_DIR or the first argument); it cannot be fetched here"
  exit 0
fi
if [[ ! -f $S3T/s3tests/functional/test_s3.py ]]; then
  echo "skipped: $S3T is not a ceph/s3-tests checkout (no s3tests/functional/test_s3.py)"
  exit 0
fi
S3T=$(cd "$S3T" && pwd)
MIN=${S3_TESTS_MIN:-95}

# ---- ferry
if [[ -n ${FERRY_BIN:-} ]]; then
  FERRY=$FERRY_BIN
else
  echo "building ferry (cargo build --release)" >&2
  (cd "$REPO" && cargo build --release --bin ferry >&2)
  FERRY=${CARGO_TARGET_DIR:-$REPO/target}/release/ferry
fi
[[ -x $FERRY ]] || die "no ferry binary at $FERRY"

# ---- the work folder
if [[ -n ${S3_TESTS_OUT:-} ]]; then
  mkdir -p "$S3_TESTS_OUT"
  OUT=$(cd "$S3_TESTS_OUT" && pwd)
  KEEP=1
else
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/ferry-s3-tests.XXXXXX")
  KEEP=0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-s3-tests-root.XXXXXX")
cleanup() {
  local rc=$?
  rm -rf -- "$WORK"
  [[ $KEEP -eq 1 ]] || rm -rf -- "$OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A copy, so that a rebuild during the run does not change it under us.
cp "$FERRY" "$WORK/ferry"
mkdir -p "$WORK/root"

# ---- the venv (PyPI)
VENV=${S3_TESTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/s3-tests-venv}
if ! "$VENV/bin/python" -c 'import boto3, pytest, pytest_timeout, munch, lxml, isodate, gevent, httplib2, pytz, yaml, requests' 2>/dev/null; then
  echo "making the venv $VENV (pip, from PyPI)" >&2
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q -r "$S3T/requirements.txt" pytest-timeout >&2 \
    || die "pip install failed"
fi
PY=$VENV/bin/python

# ---- keys, port, conf
key() { # name -> "key_id secret"
  "$WORK/ferry" token add --tokens "$WORK/tokens.txt" \
    --grant read:/ --grant write:/ --grant delete:/ --s3 "$1" 2>>"$WORK/token.log" |
    sed -n 's/^AWS_ACCESS_KEY_ID=//p; s/^AWS_SECRET_ACCESS_KEY=//p' | tr '\n' ' '
}
read -r MAIN_ID MAIN_SECRET <<<"$(key main)"
read -r ALT_ID ALT_SECRET <<<"$(key alt)"
[[ -n $MAIN_SECRET && -n $ALT_SECRET ]] || die "ferry token add --s3 printed no key pair"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

section() { # title key_id secret user
  cat <<EOF
[$1]
display_name = $4
user_id = $4
email = $4@example.com
access_key = $2
secret_key = $3
EOF
}
{
  cat <<EOF
[DEFAULT]
host = 127.0.0.1
port = $PORT
is_secure = False
ssl_verify = False

[fixtures]
bucket prefix = ferry-{random}-
iam name prefix = s3-tests-
iam path prefix = /s3-tests/

EOF
  # No api_name: it is an rgw zonegroup's name (test_bucket_get_location,
  # left out: ferry states us-east-1, whose LocationConstraint is empty).
  section "s3 main" "$MAIN_ID" "$MAIN_SECRET" main
  section "s3 alt" "$ALT_ID" "$ALT_SECRET" alt
  section "s3 tenant" "$ALT_ID" "$ALT_SECRET" alt
  echo "tenant = testx"
  section "iam" "$MAIN_ID" "$MAIN_SECRET" main
  section "iam root" "$MAIN_ID" "$MAIN_SECRET" main
  section "iam alt root" "$ALT_ID" "$ALT_SECRET" alt
} >"$OUT/s3tests.conf"

# ---- run
echo "ceph/s3-tests at $S3T ($(git -C "$S3T" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')), ferry $("$WORK/ferry" --version), boto3 $("$PY" -c 'import boto3; print(boto3.__version__)'), port $PORT" >&2
set +e
(
  cd "$S3T" &&
    S3TEST_CONF="$OUT/s3tests.conf" PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" \
      S3T_SELECTION="$HERE/s3_tests_selection.txt" S3T_FERRY="$WORK/ferry" \
      S3T_ROOT="$WORK/root" S3T_TOKENS="$WORK/tokens.txt" S3T_PORT="$PORT" \
      S3T_LOG="$OUT/server.log" S3T_RESULTS="$OUT/results.tsv" S3T_SUMMARY="$OUT/summary" \
      timeout 3600 "$PY" -m pytest -q --timeout 60 -p no:cacheprovider -p s3_tests_plugin \
      -o addopts= -rN \
      s3tests/functional/test_s3.py s3tests/functional/test_headers.py "$@"
) >"$OUT/pytest.txt" 2>&1
status=$?
set -e
sed -n '/ferry: ceph\/s3-tests selection/,$p' "$OUT/pytest.txt"
[[ -s $OUT/summary ]] || { tail -30 "$OUT/pytest.txt"; die "pytest ended with $status before its summary"; }
read -r P F S N R D <"$OUT/summary"
[[ $KEEP -eq 1 ]] && echo "the run's files: $OUT (pytest.txt, server.log, results.tsv)"
echo "$P passed, $F failed"
if [[ $D -gt 0 ]]; then
  echo "$NAME: the server died $D times" >&2
  exit 1
fi
if [[ $N -gt 0 ]] && "$PY" -c "import sys; sys.exit(0 if 100 * $P / $N >= $MIN else 1)"; then
  exit 0
fi
echo "$NAME: below $MIN % of the selection" >&2
exit 1
