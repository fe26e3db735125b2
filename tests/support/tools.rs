//! Real command-line clients for tests: whether one is installed (a test
//! without it says it was skipped and why) and its output checked.

use std::process::{Command, Output};

/// Whether `program` runs here with `args`; says why not if it cannot.
pub fn have(program: &str, args: &[&str], install: &str) -> bool {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("skipped: {program} {args:?} fails ({install})");
    }
    found
}

/// `output`'s stdout, after asserting that `what` succeeded (its stdout
/// and stderr in the failure message).
pub fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
