//! `ferry bench` against servers that guard their door: with access
//! control (`--token` or FERRY_TOKEN, each connection authenticated before
//! it counts) and over TLS (`--ca`, `--insecure`), every run tiny (a few
//! connections for a fraction of a second) and checked for zero errors
//! and some requests done; a refused token or an untrusted certificate is
//! one clear line and a non-zero exit, not a count of failed requests;
//! failed requests are reported by kind, with the first one's message.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use binary::{failure, ferry, stderr, stdout};
use ferry::access::AccessConfig;
use support::TestServer;
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
use support::tls::self_signed;
use support::tokens::tokens_in;

/// A run short enough for a test, long enough to do some requests.
const QUICK: [&str; 5] = ["--duration", "0.2", "--connections", "3", "--json"];

/// Runs `ferry bench --server <server> <QUICK> <args>` in `dir`, with
/// FERRY_TOKEN set to `env` if given.
fn bench(dir: &Path, server: &str, env: Option<&str>, args: &[&str]) -> Output {
    let mut command = ferry(dir);
    command
        .env_remove("FERRY_CA")
        .args(["bench", "--server", server])
        .args(QUICK)
        .args(args);
    if let Some(token) = env {
        command.env("FERRY_TOKEN", token);
    }
    command.output().expect("run ferry bench")
}

/// The number after `"<key>":` in bench's JSON line.
fn field(json: &str, key: &str) -> u64 {
    let at = json.find(&format!("\"{key}\":")).expect(key) + key.len() + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect(key)
}

/// Asserts a clean run: every connection connected, requests done, no
/// errors, nothing on stderr.
fn clean(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {:?} {}",
        output.status,
        stderr(output)
    );
    assert_eq!(stderr(output), "", "{what}");
    let json = stdout(output);
    assert_eq!(field(&json, "connected"), 3, "{what}: {json}");
    assert_eq!(field(&json, "errors"), 0, "{what}: {json}");
    assert!(field(&json, "ops") > 0, "{what}: {json}");
}

#[test]
fn bench_authenticates_every_connection_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let (path, tokens) = tokens_in(
        dir.path(),
        &[
            ("bench", &["write:bench/", "read:bench/"]),
            ("reader", &["read:/"]),
        ],
    );
    let server = TestServer::start_with(|c| {
        c.access = AccessConfig {
            tokens: Some(path),
            anonymous: Vec::new(),
            no_auth: false,
        };
    });
    let addr = server.addr.to_string();
    let token = tokens[0].as_str();

    for op in ["get", "put", "echo"] {
        let output = bench(dir.path(), &addr, None, &["--op", op, "--token", token]);
        clean(&output, op);
    }
    let output = bench(
        dir.path(),
        &addr,
        Some(token),
        &["--op", "put", "--size", "64K"],
    );
    clean(&output, "FERRY_TOKEN");
    // Before the command's name, as the client commands take it.
    let output = ferry(dir.path())
        .args(["--token", token, "bench", "--server", &addr, "--op", "get"])
        .args(QUICK)
        .output()
        .unwrap();
    clean(&output, "--token before bench");

    // A token the server does not know: refused at once, said once, and
    // never echoed.
    let output = bench(
        dir.path(),
        &addr,
        None,
        &["--op", "put", "--token", "ferry_wrong"],
    );
    let line = failure(&output, 1);
    assert!(line.contains("unknown token"), "{line}");
    assert!(!line.contains("ferry_wrong"), "{line}");
    assert_eq!(stdout(&output), "", "no report of a run that did not run");
    // A token that may not write where GET's object goes: the set-up says so.
    let output = bench(dir.path(), &addr, Some(&tokens[1]), &["--op", "get"]);
    let line = failure(&output, 1);
    assert!(line.contains("may not write"), "{line}");
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // needs a TLS provider
#[test]
fn bench_runs_over_tls_and_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let ca = files.cert.to_str().unwrap().to_owned();
    let server = TestServer::start_with(|c| {
        c.serve_tls(files);
        // A plaintext client waits for a greeting until this cuts it off.
        c.header_timeout = std::time::Duration::from_secs(1);
    });
    let addr = format!("localhost:{}", server.addr.port());

    // Bodies from one record to many, and requests in flight, so partial
    // writes into the session and the socket both happen.
    for (op, size) in [
        ("get", "4K"),
        ("get", "1M"),
        ("put", "256K"),
        ("echo", "64K"),
    ] {
        let args = ["--op", op, "--size", size, "--pipeline", "2", "--ca", &ca];
        clean(
            &bench(dir.path(), &addr, None, &args),
            &format!("{op} {size}"),
        );
    }
    clean(
        &bench(dir.path(), &addr, None, &["--op", "put", "--insecure"]),
        "--insecure",
    );

    // The system's authorities do not know a self-signed certificate.
    let line = failure(&bench(dir.path(), &addr, None, &["--tls"]), 3);
    assert!(line.contains("certificate"), "{line}");
    // A plaintext bench on a TLS port is told so.
    let line = failure(&bench(dir.path(), &addr, None, &[]), 3);
    assert!(line.contains("--tls"), "{line}");
}

#[test]
fn a_bench_connection_whose_token_is_refused_ends_the_run_with_the_answer() {
    // A stand-in server that accepts the token on the first connection
    // (bench's set-up) and refuses it on every later one, as a token
    // revoked in between would be: the run stops with the refusal rather
    // than counting failed connections.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
                let mut out = &stream;
                out.write_all(format!("OK FERRY/1 {} auth\n", n + 1).as_bytes())
                    .unwrap();
                while let Some(Ok(line)) = lines.next() {
                    let answer = match (n, line.starts_with("AUTH ")) {
                        (0, true) => "OK bench\n",
                        (_, true) => "ERR 401 token revoked\n",
                        _ => "ERR 400 not in this test\n",
                    };
                    if out.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let output = bench(dir.path(), &addr, Some("ferry_t"), &["--op", "put"]);
    let line = failure(&output, 1);
    assert!(line.contains("token revoked"), "{line}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn failed_requests_are_counted_by_kind_with_the_first_message() {
    let server = TestServer::start_with(|c| c.read_only = true);
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr.to_string();
    let mut command = ferry(dir.path());
    command
        .args(["bench", "--server", &addr, "--op", "put", "--size", "16"])
        .args(["--duration", "0.2", "--connections", "2"]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let errors = text
        .lines()
        .find(|line| line.trim_start().starts_with("errors"))
        .expect("an errors line");
    // "errors    <n> (ERR 403: <n>; first: ERR 403 ...read-only...)"
    assert!(errors.contains("(ERR 403: "), "{errors}");
    assert!(errors.contains("; first: ERR 403 "), "{errors}");
    assert!(errors.contains("read-only"), "{errors}");
    let json = stdout(&bench(dir.path(), &addr, None, &["--op", "put"]));
    assert!(json.contains(r#""error_kinds":{"ERR 403":"#), "{json}");
    assert!(json.contains(r#""first_error":"ERR 403 "#), "{json}");
}
