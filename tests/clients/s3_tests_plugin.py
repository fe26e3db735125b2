"""pytest plugin for tests/clients/s3_tests.sh: runs ceph/s3-tests against
a ferry this plugin starts, on the selection in s3_tests_selection.txt.

Loaded with `-p s3_tests_plugin` (tests/clients on PYTHONPATH); it reads
its settings from the environment the script sets:

  S3T_SELECTION  the selection file (groups left out, each with a reason)
  S3T_FERRY      the ferry binary
  S3T_ROOT       the served root (made by the script, empty)
  S3T_TOKENS     the tokens file with the two S3 keys
  S3T_PORT       the S3 port (127.0.0.1), the one s3tests.conf names
  S3T_LOG        where the server's standard error goes (appended)
  S3T_RESULTS    where each selected test's outcome is written (TSV)

What it does:

- Deselects the tests the selection leaves out (by pytest marker or by
  name, each group with its reason) and says how many of each.
- Starts ferry before the first test and stops it after the last.
- Restarts it (same port, same root, same keys: the objects stay)
  before a test whenever the test before made an authentication fail.
  ferry throttles failed authentications per client address
  (src/access/throttle.rs, docs/security.md: 5 free, then each attempt
  spaced 1 s, 2 s, 4 s..., locked out after 20), and the spacing refuses
  every request from the address, good ones too. The suite makes bad
  signatures on purpose (test_headers.py, the *_aws2 and bad-auth
  tests, expired presigned URLs), all from 127.0.0.1, so without a
  fresh throttle the tests after them, and their teardowns, answer
  SlowDown. S3 has no such throttle; a restart measures S3 semantics
  and leaves the throttle as it is for everyone else. The restarts are
  counted and named in the summary.
- Restarts it too if it died, and says so loudly (a crash is a failure
  of its own, whatever the test's outcome).
- Writes each selected test's outcome and first error line to
  S3T_RESULTS, and prints the counts and the percentage over the
  selection.
"""
import fnmatch
import os
import re
import socket
import subprocess
import time

import pytest

_state = {
    "proc": None,
    "log_offset": 0,
    "restarts": [],
    "deaths": [],
    "out": {},  # group -> count
    "in_scope": 0,
    "outcome": {},  # nodeid -> (outcome, message)
}

AUTH_REFUSED = re.compile(rb"authentication from \S+ refused")


def _base(name):
    return name.split("[", 1)[0]


def read_selection(path):
    """Groups of the selection file: [(group, reason, marks, names)].

    A line `[group] reason` opens a group; then `mark:NAME` (every test
    with that pytest marker) or a test's name (or a shell pattern such as
    `test_post_object_*`), one a line; `#` starts a comment, to the
    line's end. A test is in the first group that names it, else in the
    first whose marker it carries."""
    groups = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.match(r"\[([\w.-]+)\]\s*(.*)", line)
            if m:
                groups.append((m.group(1), m.group(2), set(), set()))
                continue
            if not groups:
                raise ValueError(f"{path}: {line!r} before any [group]")
            if line.startswith("mark:"):
                groups[-1][2].add(line[5:].strip())
            else:
                groups[-1][3].add(line.split()[0])
    return groups


def group_of(item, groups):
    marks = {m.name for m in item.iter_markers()}
    base = _base(item.name)
    for name, _reason, gmarks, gnames in groups:
        if any(fnmatch.fnmatchcase(base, n) or n == item.name for n in gnames):
            return name
    for name, _reason, gmarks, gnames in groups:
        if marks & gmarks:
            return name
    return None


# ---- the server


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_server():
    port = int(os.environ["S3T_PORT"])
    log = open(os.environ["S3T_LOG"], "ab")
    _state["log_offset"] = log.tell()
    proc = subprocess.Popen(
        [
            os.environ["S3T_FERRY"],
            "serve",
            "--root",
            os.environ["S3T_ROOT"],
            "--tokens",
            os.environ["S3T_TOKENS"],
            "--s3",
            f"127.0.0.1:{port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 20
    while not _port_open(port):
        if proc.poll() is not None:
            raise RuntimeError(
                f"ferry exited with {proc.returncode} at start: see {os.environ['S3T_LOG']}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("ferry did not listen within 20 s")
        time.sleep(0.02)
    _state["proc"] = proc


def stop_server():
    proc = _state["proc"]
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _state["proc"] = None
    # The port is free again once nothing listens on it.
    port = int(os.environ["S3T_PORT"])
    for _ in range(100):
        if not _port_open(port):
            break
        time.sleep(0.05)


def auth_refusals_since_start():
    try:
        with open(os.environ["S3T_LOG"], "rb") as f:
            f.seek(_state["log_offset"])
            return len(AUTH_REFUSED.findall(f.read()))
    except OSError:
        return 0


# ---- pytest hooks


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(session, config, items):
    # Every test collected, before -k or -m take any away: what the
    # selection's names are checked against. Then, once they have, the
    # selection.
    _state["collected"] = {_base(i.name) for i in items} | {i.name for i in items}
    yield
    select(config, items)


def select(config, items):
    groups = read_selection(os.environ["S3T_SELECTION"])
    keep, drop = [], []
    for item in items:
        g = group_of(item, groups)
        if g is None:
            keep.append(item)
        else:
            drop.append(item)
            _state["out"][g] = _state["out"].get(g, 0) + 1
    # A name or pattern that matches no test is a typo, or a test the
    # suite renamed: said, so that the selection is kept true.
    bases = _state["collected"]
    _state["unmatched"] = sorted(
        n
        for _g, _r, _m, gnames in groups
        for n in gnames
        if not any(fnmatch.fnmatchcase(b, n) for b in bases)
    )
    items[:] = keep
    if drop:
        config.hook.pytest_deselected(items=drop)
    _state["reasons"] = {g: r for g, r, _m, _n in groups}


def pytest_collection_finish(session):
    # What runs: the selection, less what -k or -m left out besides.
    _state["in_scope"] = len(session.items)


def pytest_sessionstart(session):
    if os.environ.get("S3T_FERRY"):
        start_server()


def pytest_sessionfinish(session, exitstatus):
    stop_server()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if not os.environ.get("S3T_FERRY"):
        return
    proc = _state["proc"]
    if proc is not None and proc.poll() is not None:
        _state["deaths"].append((item.name, proc.returncode))
        _state["proc"] = None
        start_server()
    elif auth_refusals_since_start() > 0:
        _state["restarts"].append(item.name)
        stop_server()
        start_server()


def pytest_runtest_logreport(report):
    if report.when not in ("setup", "call", "teardown"):
        return
    name = report.nodeid.split("::")[-1]
    prev = _state["outcome"].get(name)
    if report.failed:
        msg = ""
        if report.longrepr is not None:
            text = str(report.longrepr)
            lines = [l for l in text.splitlines() if l.startswith("E ")]
            msg = (lines[0] if lines else text.splitlines()[-1] if text else "")[:300]
            msg = re.sub(r"^E\s+", "", msg)
        what = "failed" if report.when == "call" else f"error in {report.when}"
        if prev is None or prev[0] == "passed":
            _state["outcome"][name] = (what, msg)
    elif report.skipped and prev is None:
        _state["outcome"][name] = ("skipped", "")
    elif report.passed and report.when == "call" and prev is None:
        _state["outcome"][name] = ("passed", "")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    outcomes = _state["outcome"]
    passed = sum(1 for o, _ in outcomes.values() if o == "passed")
    skipped = sum(1 for o, _ in outcomes.values() if o == "skipped")
    failed = sum(1 for o, _ in outcomes.values() if o not in ("passed", "skipped"))
    total = _state["in_scope"]
    not_run = total - len(outcomes)
    path = os.environ.get("S3T_RESULTS")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            for name in sorted(outcomes):
                o, m = outcomes[name]
                f.write(f"{name}\t{o}\t{m}\n")
    tr.section("ferry: ceph/s3-tests selection")
    reasons = _state.get("reasons", {})
    for g, n in sorted(_state["out"].items(), key=lambda kv: -kv[1]):
        tr.write_line(f"left out  {n:4d}  [{g}] {reasons.get(g, '')}")
    for n in _state.get("unmatched", []):
        tr.write_line(f"the selection names {n}, which matches no test of this checkout", yellow=True)
    restarts = _state["restarts"]
    tr.write_line(
        f"server restarted before {len(restarts)} tests "
        "(the test before made an authentication fail: ferry's throttle)"
        + (": " + ", ".join(restarts) if restarts else "")
    )
    for name, rc in _state["deaths"]:
        tr.write_line(f"SERVER DIED (status {rc}) before {name}: see the server log", red=True)
    for name in sorted(outcomes):
        o, m = outcomes[name]
        if o not in ("passed", "skipped"):
            tr.write_line(f"FAIL {name}: {o}: {m}")
    # The restarts keep the throttle out of the count; a SlowDown that
    # still got through means the rule above missed a failed
    # authentication (say, the log's wording changed): said, not hidden.
    throttled = [n for n, (o, m) in outcomes.items() if "SlowDown" in m]
    if throttled:
        tr.write_line(
            f"{len(throttled)} tests met ferry's throttle (SlowDown) all the same: "
            + ", ".join(sorted(throttled)),
            red=True,
        )
    denom = total if total else 1
    tr.write_line(
        f"s3-tests: {passed} passed, {failed + not_run} failed, {skipped} skipped "
        f"of {total} in scope: {100.0 * passed / denom:.1f} %"
    )
    with open(os.environ.get("S3T_SUMMARY", os.devnull), "w") as f:
        f.write(f"{passed} {failed + not_run} {skipped} {total} {len(_state['restarts'])} {len(_state['deaths'])}\n")
