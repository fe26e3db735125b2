//! Running the `ferry` binary from a test as a user would, and checking
//! what it says: one success with nothing on stderr, or one `ferry: ` line
//! and the right exit code. Included with `#[path]` by the test crates that
//! run the binary.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A `ferry` command run in `dir`, with no `FERRY_SERVER` from outside.
pub fn ferry(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .current_dir(dir)
        .env_remove("FERRY_SERVER")
        .env_remove("FERRY_TOKEN")
        .env_remove("RUST_BACKTRACE")
        .env("TZ", "UTC")
        .stdin(Stdio::null());
    command
}

/// Runs `ferry <args> --server <addr>` in `dir`.
pub fn run(dir: &Path, addr: SocketAddr, args: &[&str]) -> Output {
    ferry(dir)
        .args(args)
        .arg("--server")
        .arg(addr.to_string())
        .output()
        .expect("run ferry")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts success with nothing on stderr; returns stdout.
pub fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "ferry failed ({:?}): {}",
        output.status,
        stderr(output)
    );
    assert_eq!(stderr(output), "", "stderr of a successful command");
    stdout(output)
}

/// Asserts the process exited with `code` and wrote exactly one
/// `ferry: ...` line to stderr (no panic, no backtrace); returns that line.
pub fn failure(output: &Output, code: i32) -> String {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status {:?}, stderr {err:?}",
        output.status
    );
    assert!(
        err.starts_with("ferry: ") && err.ends_with('\n') && err.lines().count() == 1,
        "stderr is not one `ferry: ` line: {err:?}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err:?}"
    );
    err.trim_end().to_owned()
}
