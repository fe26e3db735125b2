//! WebDAV judged by a real client's suite: litmus 0.13 (Debian `litmus`),
//! one suite at a time on a fresh root, and several in sequence on one
//! root as litmus runs them by default. Skipped, saying so, where litmus
//! is not installed (`.ci/run` installs it where apt works).
//!
//! Issue 28 asserts only what passes now; the goal is every test of all
//! five suites (basic, copymove, props, locks, http). Now: basic 16 of
//! 16; copymove 13 of 13; http 4 of 4 (`expect100` is told `100
//! Continue` as its PUT's head arrives); props 30 of 30 (with PROPPATCH
//! and dead properties; `propget` runs ten times and each is asserted
//! by its place). basic, copymove and props in sequence on one root
//! pass as each does alone: a folder a DELETE empties over HTTP stays
//! (docs/webdav.md (g)), so no suite's collection vanishes under the next.
//! locks (class 2, docs/webdav.md (d), (h)): every test.
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::Write;
use std::process::Command;

use support::TestServer;

/// Runs litmus suite `suite` against a fresh root; its lines of results,
/// or `None` where litmus is missing.
fn litmus(suite: &str) -> Option<String> {
    litmus_suites(&[suite])
}

/// Runs litmus suites `suites` in sequence (one run of litmus, as its
/// users run it) against one fresh root; its lines of results, or `None`
/// where litmus is missing.
fn litmus_suites(suites: &[&str]) -> Option<String> {
    if Command::new("litmus").arg("--version").output().is_err() {
        // Straight to stderr, past the harness's capture, so the skip
        // shows in a plain `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: litmus is not installed (apt-get install litmus)"
        );
        return None;
    }
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    std::fs::create_dir(server.path("litmus")).unwrap();
    let url = format!("http://{}/litmus/", server.http.unwrap());
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new("litmus")
        .arg("-k")
        .arg(&url)
        .env("TESTS", suites.join(" "))
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    for suite in suites {
        assert!(
            report.contains(&format!("<- summary for `{suite}'")),
            "litmus did not run {suite}:\n{report}"
        );
    }
    Some(report)
}

/// The part of a report of several suites that is `suite`'s.
fn section<'a>(report: &'a str, suite: &str) -> &'a str {
    let start = report
        .find(&format!("-> running `{suite}'"))
        .unwrap_or_else(|| panic!("no {suite} in:\n{report}"));
    let rest = &report[start..];
    let end = rest.find("<- summary for").map_or(rest.len(), |at| {
        at + rest[at..].find('\n').unwrap_or(rest.len() - at)
    });
    &rest[..end]
}

/// Asserts that each of `tests` passed in `report`.
fn assert_passed(report: &str, tests: &[&str]) {
    for test in tests {
        assert!(passed(report, test), "{test} did not pass:\n{report}");
    }
}

/// Whether litmus's report says test `name` passed: the first verdict
/// after its last mention (a warning may put it on a line of its own).
fn passed(report: &str, name: &str) -> bool {
    let Some(at) = report.rfind(&format!(" {name}.")) else {
        return false;
    };
    let rest = &report[at..];
    let verdict = ["pass", "FAIL", "SKIPPED"]
        .into_iter()
        .filter_map(|word| rest.find(word).map(|at| (at, word)))
        .min();
    verdict.is_some_and(|(_, word)| word == "pass")
}

/// Every test of the basic suite.
const BASIC: [&str; 16] = [
    "init",
    "begin",
    "options",
    "put_get",
    "put_get_utf8_segment",
    "put_no_parent",
    "mkcol_over_plain",
    "delete",
    "delete_null",
    "delete_fragment",
    "mkcol",
    "mkcol_again",
    "mkcol_no_parent",
    "mkcol_with_body",
    "delete_coll",
    "finish",
];

/// Every test of the copymove suite.
const COPYMOVE: [&str; 13] = [
    "init",
    "begin",
    "copy_init",
    "copy_simple",
    "copy_overwrite",
    "copy_nodestcoll",
    "copy_cleanup",
    "copy_coll",
    "copy_shallow",
    "move",
    "move_coll",
    "move_cleanup",
    "finish",
];

/// Every test of the http suite.
const HTTP: [&str; 4] = ["init", "begin", "expect100", "finish"];

#[test]
fn litmus_basic() {
    let Some(report) = litmus("basic") else {
        return;
    };
    assert_passed(&report, &BASIC);
}

#[test]
fn litmus_props() {
    let Some(report) = litmus("props") else {
        return;
    };
    for test in [
        "init",
        "begin",
        "propfind_invalid",
        "propfind_invalid2",
        "propfind_d0",
        "propset",
        "propextended",
        "propmove",
        "propdeletes",
        "propreplace",
        "propnullns",
        "prophighunicode",
        "propremoveset",
        "propsetremove",
        "propvalnspace",
        "propwformed",
        "propmanyns",
        "propcleanup",
        "finish",
    ] {
        assert!(passed(&report, test), "{test} did not pass:\n{report}");
    }
    // Tests that run more than once (`propget` after each change,
    // `propinit` twice): every run, by its number.
    for (at, test) in [
        (5, "propinit"),
        (7, "propget"),
        (10, "propget"),
        (12, "propget"),
        (14, "propget"),
        (16, "propget"),
        (18, "propget"),
        (20, "propget"),
        (22, "propget"),
        (25, "propinit"),
        (27, "propget"),
    ] {
        assert!(
            passed_run(&report, at, test),
            "{at}. {test} did not pass:\n{report}"
        );
    }
    assert!(
        report.contains("of 30 tests run: 30 passed"),
        "props:\n{report}"
    );
}

/// Whether run `at` of test `name` passed: its verdict on its own line
/// (a test that runs several times is told apart by its number).
fn passed_run(report: &str, at: usize, name: &str) -> bool {
    let Some(start) = report.rfind(&format!("{at}. {name}.")) else {
        return false;
    };
    let line = report[start..].lines().next().unwrap_or_default();
    line.ends_with("pass") || line.contains(" pass (")
}

#[test]
fn litmus_copymove() {
    let Some(report) = litmus("copymove") else {
        return;
    };
    assert_passed(&report, &COPYMOVE);
}

#[test]
fn litmus_http() {
    let Some(report) = litmus("http") else {
        return;
    };
    assert_passed(&report, &HTTP);
}

/// basic, copymove and props on one root, one after the other, as litmus
/// runs them by default: each suite's collection survives what the one
/// before it did (a folder emptied by a DELETE stays).
#[test]
fn litmus_suites_in_sequence_on_one_root() {
    let Some(report) = litmus_suites(&["basic", "copymove", "props"]) else {
        return;
    };
    assert_passed(section(&report, "basic"), &BASIC);
    assert_passed(section(&report, "copymove"), &COPYMOVE);
    let props = section(&report, "props");
    assert!(
        props.contains("of 30 tests run: 30 passed"),
        "props:\n{props}"
    );
}

#[test]
fn litmus_locks() {
    let Some(report) = litmus("locks") else {
        return;
    };
    for test in [
        "init",
        "begin",
        "options",
        "precond",
        "init_locks",
        "put",
        "lock_excl",
        "discover",
        "refresh",
        "notowner_modify",
        "notowner_lock",
        "copy",
        "cond_put",
        "fail_cond_put",
        "cond_put_with_not",
        "cond_put_corrupt_token",
        "complex_cond_put",
        "fail_complex_cond_put",
        "unlock",
        "fail_cond_put_unlocked",
        "lock_shared",
        "double_sharedlock",
        "prep_collection",
        "lock_collection",
        "indirect_refresh",
        "unmapped_lock",
        "finish",
    ] {
        // A name as long as litmus's column has no dots after it.
        let full_width = report.contains(&format!(" {test} pass"));
        assert!(
            passed(&report, test) || full_width,
            "{test} did not pass:\n{report}"
        );
    }
    // Tests that run more than once (notowner_modify, unlock, refresh...)
    // are judged above by their last run; every run passes.
    assert!(
        report.contains("of 41 tests run: 41 passed"),
        "locks summary:\n{report}"
    );
}
