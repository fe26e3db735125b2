//! What `put` and `get` show on stderr: progress bars (forced on with the
//! hidden `--progress=always`, and under a real pseudo-terminal when
//! `script` is installed), nothing with `--quiet` or into a pipe, and the
//! per-request log of `--verbose`.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::process::Command;

use binary::{ferry, run, stderr, stdout, success};
use support::{TestServer, crc_hex, pattern};

/// The end of the last frame of the bar of a 3,000,000-byte file (the bar
/// is as wide as the terminal leaves it).
const FULL_BAR: &str = "=] 2.86 MiB/2.86 MiB";

#[test]
fn put_and_get_draw_a_bar_with_bytes_rate_and_eta() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("big.bin"), pattern(3_000_000, 1)).unwrap();

    // The bar is named after the remote file.
    for (args, name) in [
        (&["put", "big.bin", "--progress=always"][..], "big.bin"),
        (
            &["get", "big.bin", "copy.bin", "--progress=always"],
            "big.bin",
        ),
        (
            &[
                "put",
                "--resume",
                "big.bin",
                "again.bin",
                "--progress=always",
            ],
            "again.bin",
        ),
        (
            &[
                "get",
                "--resume",
                "again.bin",
                "copy2.bin",
                "--progress=always",
            ],
            "again.bin",
        ),
    ] {
        let output = run(work.path(), server.addr, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let err = stderr(&output);
        let last = err
            .rsplit(['\r', '\n'])
            .find(|frame| frame.contains(FULL_BAR))
            .unwrap_or_else(|| panic!("{args:?}: no full bar in {err:?}"));
        assert!(last.contains(&format!("{name} [=")), "{last:?}");
        assert!(last.contains(&format!("{FULL_BAR} ")), "{last:?}");
        assert!(last.contains("/s ETA "), "{last:?}");
        // Frames are redrawn in place, and the result line stays on stdout.
        assert!(err.contains("\r\x1b[2K"), "{args:?}");
        assert_eq!(stdout(&output).lines().count(), 1, "{args:?}");
    }
}

#[test]
fn folders_show_overall_progress() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    for i in 0..50 {
        fs::create_dir_all(work.path().join("t/sub")).unwrap();
        fs::write(work.path().join(format!("t/sub/{i}")), pattern(1000, i)).unwrap();
    }
    let output = run(
        work.path(),
        server.addr,
        &["put", "-r", "t", "--progress=always"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("total [==="), "{err:?}");
    assert!(err.contains("48.83 KiB/48.83 KiB"), "{err:?}");
    assert!(err.contains(" 50/50 files "), "{err:?}");

    let output = run(
        work.path(),
        server.addr,
        &["get", "-r", "t/", "back", "--progress=always"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(" 50/50 files "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn quiet_shows_nothing_and_a_pipe_gets_no_bar() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("f"), pattern(100_000, 2)).unwrap();
    let output = run(
        work.path(),
        server.addr,
        &["put", "f", "--quiet", "--progress=always"],
    );
    assert!(output.status.success());
    assert_eq!(
        (stdout(&output), stderr(&output)),
        (String::new(), String::new())
    );
    // stderr is a pipe here: no bar unless forced.
    success(&run(work.path(), server.addr, &["get", "f", "g"]));
}

#[test]
fn on_a_terminal_the_bar_appears_by_itself() {
    // `script` runs the command under a pseudo-terminal (util-linux).
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` is not installed");
        return;
    }
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("big.bin"), pattern(3_000_000, 3)).unwrap();
    let command = format!(
        "{} put big.bin --server {}",
        env!("CARGO_BIN_EXE_ferry"),
        server.addr
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(work.path())
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains(FULL_BAR), "{screen:?}");
    assert!(screen.contains("stored big.bin"), "{screen:?}");
}

#[test]
fn verbose_logs_every_request_and_answer() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = b"hello, verbose\n";
    fs::write(work.path().join("v.txt"), data).unwrap();
    let output = ferry(work.path())
        .args(["put", "v.txt", "dir/v 1.txt", "-v", "--server"])
        .arg(server.addr.to_string())
        .output()
        .unwrap();
    assert!(output.status.success());
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    let crc = crc_hex(data);
    assert_eq!(lines.len(), 3, "{err}");
    let id = lines[0].rsplit(' ').next().unwrap();
    assert_eq!(lines[0], format!("ferry: #{id} < OK FERRY/1 {id}"));
    // The checksum follows the body; the line carries the file's time.
    let mtime = support::mtime_secs(&work.path().join("v.txt"));
    assert_eq!(
        lines[1],
        format!("ferry: #{id} > PUT dir/v%201.txt 15 - mtime={mtime}")
    );
    assert_eq!(lines[2], format!("ferry: #{id} < OK 15 {crc}"));
}

/// What a terminal shows of `stderr`'s frames: split where the cursor goes
/// back to the start of a line or moves (an escape sequence).
fn frames(stderr: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = stderr.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: `[`, parameters, one final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            plain.push('\n');
        } else {
            plain.push(c);
        }
    }
    plain
        .split(['\r', '\n'])
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bars_fit_the_line_and_leave_with_the_result_line() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("big.bin"), pattern(3_000_000, 3)).unwrap();
    fs::create_dir_all(work.path().join("t")).unwrap();
    let long = format!("{}.bin", "n".repeat(150));
    fs::write(work.path().join("t").join(&long), pattern(9_000_000, 4)).unwrap();
    let remote = format!("deep/{long}");
    for args in [
        &["put", "big.bin", &remote, "--progress=always"][..],
        &["get", &remote, "copy.bin", "--progress=always"],
        &["put", "-r", "t", "--progress=always"],
    ] {
        let output = run(work.path(), server.addr, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        let err = stderr(&output);
        // `--progress=always` draws for 120 columns, each bar's line padded
        // to the full width (the terminal wraps to the next): every line of
        // 120 holds a whole bar, none the wrapped end of one.
        for frame in frames(&err) {
            let chars: Vec<char> = frame.chars().collect();
            for line in chars.chunks(120) {
                let line: String = line.iter().collect();
                if !line.trim().is_empty() {
                    assert!(
                        line.contains(" [") && line.contains("] "),
                        "{args:?}: {line:?}"
                    );
                }
            }
        }
        assert!(err.contains("…nnn"), "{args:?}: the name is cut: {err:?}");
        // Once the result line is out, no bar is drawn again below it.
        let after = err.rsplit("\x1b[2K").next().unwrap_or_default();
        assert!(!after.contains('['), "{args:?}: {after:?}");
        assert_eq!(stdout(&output).lines().count(), 1, "{args:?}");
    }
}

#[test]
fn put_shows_progress_from_the_first_byte_and_checksums_first_only_to_resume() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("big.bin"), pattern(3_000_000, 5)).unwrap();
    // A plain put sends the checksum after the body: no reading first.
    let output = run(
        work.path(),
        server.addr,
        &["put", "big.bin", "--progress=always"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(!err.contains("checksumming"), "{err:?}");
    assert!(err.contains("big.bin [="), "{err:?}");
    // A resumable session names its checksum up front.
    let output = run(
        work.path(),
        server.addr,
        &["put", "--resume", "big.bin", "--progress=always"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let checking = err
        .find("checksumming big.bin [")
        .expect("a checksumming bar");
    let sending = err.find("big.bin [=").expect("the upload's bar");
    assert!(checking < sending, "{err:?}");
}
