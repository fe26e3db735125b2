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

/// Whether `python3` has `modules` (`"zxingcpp, PIL"`); says why not,
/// with `install` (the `pip install` that brings them).
pub fn python_has(modules: &str, install: &str) -> bool {
    have("python3", &["-c", &format!("import {modules}")], install)
}

/// What `python3 -c script args...` prints, after asserting it succeeded.
pub fn python(script: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3 runs");
    check(&output, "python3")
}

/// A file made immutable (`chattr +i`: even root may not change it or
/// its times) while this lives; `None` where the file system or the tool
/// does not have it (the test then says it was skipped).
pub struct Immutable(std::path::PathBuf);

impl Immutable {
    pub fn made(path: &std::path::Path) -> Option<Immutable> {
        let made = Command::new("chattr").arg("+i").arg(path).output().ok()?;
        made.status.success().then(|| Immutable(path.to_owned()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).output();
    }
}
