//! Resuming interrupted transfers with the `ferry` binary: `put --resume`
//! (upload sessions) and `get --resume` (ranged GETs into the partial file).
//!
//! The core check runs each through a proxy that cuts every connection after
//! a seeded-random number of bytes: the result must be byte-identical, and
//! nothing may be left behind (no session under `.ferry-uploads`, no
//! `.ferry-part` file). Around it: a session or partial file from an earlier
//! run is continued, not restarted; a partial that does not belong to the
//! file is detected and removed; a failed `--resume` download keeps its
//! partial and a plain one does not; staged bytes that do not match are
//! refused; a server that is not there is given up on at once.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;

use binary::{failure, run, stderr, success};
use ferry::client::Endpoint;
use support::proxy::CuttingProxy;
use support::{TestServer, crc_hex, entries, pattern};

/// Flags that make retries quick and plentiful, for runs through the proxy.
const PATIENT: [&str; 4] = ["--retries", "50", "--retry-delay", "0.01"];

fn session_files(server: &TestServer) -> Vec<String> {
    server
        .files_on_disk()
        .into_iter()
        .filter(|f| f.starts_with(".ferry-uploads/"))
        .collect()
}

#[test]
fn put_resume_survives_connections_cut_at_random_points() {
    for seed in 1..=3 {
        let server = TestServer::start();
        let proxy = CuttingProxy::start(server.addr, seed, 20_000..=300_000);
        let work = tempfile::tempdir().unwrap();
        let data = pattern(2_000_000 + seed as usize * 7, seed);
        fs::write(work.path().join("big.bin"), &data).unwrap();

        let mut args = vec![
            "put",
            "--resume",
            "--chunk-size",
            "16K",
            "big.bin",
            "up/big.bin",
        ];
        args.extend(PATIENT);
        let out = success_allowing_retry_notes(&run(work.path(), proxy.addr, &args));
        assert_eq!(
            out,
            format!(
                "stored up/big.bin ({} bytes, crc32c {})\n",
                data.len(),
                crc_hex(&data)
            )
        );
        assert!(proxy.cuts() >= 3, "seed {seed}: only {} cuts", proxy.cuts());
        assert!(
            fs::read(server.path("up/big.bin")).unwrap() == data,
            "seed {seed}"
        );
        assert_eq!(session_files(&server), Vec::<String>::new(), "seed {seed}");
        assert_eq!(server.files_on_disk(), ["up/big.bin"], "seed {seed}");
    }
}

#[test]
fn get_resume_survives_connections_cut_at_random_points() {
    for seed in 1..=3 {
        let server = TestServer::start();
        let data = pattern(2_000_000 + seed as usize * 13, seed + 10);
        server.client().put_bytes("down/big.bin", &data).unwrap();
        let proxy = CuttingProxy::start(server.addr, seed, 1_000..=300_000);
        let work = tempfile::tempdir().unwrap();

        let mut args = vec!["get", "--resume", "down/big.bin", "copy.bin"];
        args.extend(PATIENT);
        let out = success_allowing_retry_notes(&run(work.path(), proxy.addr, &args));
        assert_eq!(out, format!("saved copy.bin ({} bytes)\n", data.len()));
        assert!(proxy.cuts() >= 3, "seed {seed}: only {} cuts", proxy.cuts());
        assert!(fs::read(work.path().join("copy.bin")).unwrap() == data);
        assert_eq!(entries(work.path()), ["copy.bin"], "seed {seed}: leftovers");
    }
}

#[test]
fn put_resume_continues_a_session_where_it_stands() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(1_500_000, 5);
    fs::write(work.path().join("f.bin"), &data).unwrap();
    // An earlier, interrupted run staged the first 600,000 bytes.
    let mut client = server.client();
    let session = client
        .upload("f.bin", data.len() as u64, crc32c::crc32c(&data))
        .unwrap();
    assert_eq!(session.received, 0);
    let staged = client
        .append(&session.id, 0, &mut &data[..600_000], 600_000)
        .unwrap();
    assert_eq!(staged, 600_000);

    let output = run(
        work.path(),
        server.addr,
        &["put", "--resume", "f.bin", "-v"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    let appends: Vec<&str> = log.lines().filter(|l| l.contains("> APPEND ")).collect();
    assert_eq!(appends.len(), 1, "{log}");
    let want = format!("> APPEND {} 600000 900000", session.id);
    assert!(appends[0].ends_with(&want), "{log}");
    assert!(fs::read(server.path("f.bin")).unwrap() == data);
    assert_eq!(session_files(&server), Vec::<String>::new());
}

#[test]
fn put_resume_of_staged_bytes_that_do_not_match_fails_and_leaves_nothing() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(300_000, 6);
    fs::write(work.path().join("f.bin"), &data).unwrap();
    let mut wrong = data[..100_000].to_vec();
    wrong[5] ^= 0x40;
    let mut client = server.client();
    let session = client
        .upload("f.bin", data.len() as u64, crc32c::crc32c(&data))
        .unwrap();
    client
        .append(&session.id, 0, &mut &wrong[..], 100_000)
        .unwrap();

    let output = run(work.path(), server.addr, &["put", "--resume", "f.bin"]);
    let line = failure(&output, 1);
    assert!(
        line.starts_with("ferry: f.bin: checksum mismatch"),
        "{line}"
    );
    assert_eq!(server.files_on_disk(), Vec::<String>::new());
    // Running again starts a fresh session and succeeds.
    success(&run(
        work.path(),
        server.addr,
        &["put", "--resume", "f.bin"],
    ));
    assert!(fs::read(server.path("f.bin")).unwrap() == data);
}

#[test]
fn get_resume_continues_a_partial_file() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(1_000_000, 7);
    server.client().put_bytes("d/file.bin", &data).unwrap();
    fs::write(work.path().join(".file.bin.ferry-part"), &data[..400_000]).unwrap();

    let output = run(
        work.path(),
        server.addr,
        &["get", "--resume", "d/file.bin", "-v"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("> GET d/file.bin 400000\n"),
        "{}",
        stderr(&output)
    );
    assert!(fs::read(work.path().join("file.bin")).unwrap() == data);
    assert_eq!(entries(work.path()), ["file.bin"]);
}

#[test]
fn get_resume_with_a_partial_of_other_bytes_fails_and_removes_it() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(200_000, 8);
    server.client().put_bytes("file.bin", &data).unwrap();
    fs::write(
        work.path().join(".file.bin.ferry-part"),
        pattern(50_000, 99),
    )
    .unwrap();

    let output = run(work.path(), server.addr, &["get", "--resume", "file.bin"]);
    let line = failure(&output, 3);
    assert!(
        line.starts_with("ferry: file.bin: checksum mismatch"),
        "{line}"
    );
    assert_eq!(entries(work.path()), Vec::<String>::new());
    // A partial longer than the file cannot be its start either: start over.
    fs::write(
        work.path().join(".file.bin.ferry-part"),
        pattern(300_000, 99),
    )
    .unwrap();
    let output = run(work.path(), server.addr, &["get", "--resume", "file.bin"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("starting over"),
        "{}",
        stderr(&output)
    );
    assert!(fs::read(work.path().join("file.bin")).unwrap() == data);
    assert_eq!(entries(work.path()), ["file.bin"]);
}

#[test]
fn a_failed_resume_download_keeps_its_partial_and_a_plain_one_does_not() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(1_000_000, 9);
    server.client().put_bytes("file.bin", &data).unwrap();
    // Every connection dies after 100,000 bytes; no retries allowed.
    let proxy = CuttingProxy::start(server.addr, 1, 100_000..=100_000);

    let output = run(work.path(), proxy.addr, &["get", "file.bin"]);
    failure(&output, 3);
    assert_eq!(
        entries(work.path()),
        Vec::<String>::new(),
        "plain get left a file"
    );

    let output = run(
        work.path(),
        proxy.addr,
        &["get", "--resume", "--retries", "0", "file.bin"],
    );
    let line = failure(&output, 3);
    assert!(
        line.contains("run the same command again to resume"),
        "{line}"
    );
    let partial = work.path().join(".file.bin.ferry-part");
    let kept = fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept < 100_000, "{kept}");

    // The next run, over a good connection, finishes it.
    let output = run(
        work.path(),
        server.addr,
        &["get", "--resume", "file.bin", "-v"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains(&format!("> GET file.bin {kept}\n")));
    assert!(fs::read(work.path().join("file.bin")).unwrap() == data);
    assert_eq!(entries(work.path()), ["file.bin"]);
}

#[test]
fn a_plain_put_is_sent_again_whole_after_its_connection_drops_mid_body() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let data = pattern(1_000_000, 21);
    fs::write(work.path().join("big.bin"), &data).unwrap();
    server.client().put_bytes("big.bin", b"old").unwrap();
    // The first connection dies 200,000 bytes into the body, as when the
    // node behind a balancer is killed; the next one goes through.
    let proxy = CuttingProxy::cutting_first(server.addr, 1, 200_000);
    let quick = ["--retries", "1", "--retry-delay", "0.01"];

    let mut args = vec!["put", "big.bin"];
    args.extend(quick);
    let out = success_allowing_retry_notes(&run(work.path(), proxy.addr, &args));
    assert_eq!(
        out,
        format!(
            "stored big.bin (1000000 bytes, crc32c {})\n",
            crc_hex(&data)
        )
    );
    assert_eq!((proxy.cuts(), proxy.connections()), (1, 2));
    assert!(fs::read(server.path("big.bin")).unwrap() == data);
    assert_eq!(
        server.settled_files_on_disk(),
        ["big.bin"],
        "a temp file stayed"
    );

    // Without retries the drop is the answer (exit 3), and the old file stays.
    let proxy = CuttingProxy::cutting_first(server.addr, 1, 200_000);
    server.client().put_bytes("big.bin", b"old").unwrap();
    let line = failure(
        &run(
            work.path(),
            proxy.addr,
            &["put", "--retries", "0", "big.bin"],
        ),
        3,
    );
    assert!(line.starts_with("ferry: big.bin: "), "{line}");
    assert_eq!(fs::read(server.path("big.bin")).unwrap(), b"old");
}

/// `get --resume` of a file the server replaced (same size, other bytes)
/// since the first run kept a partial download: the next run sees it in
/// the first answer's line and starts over at once, over `addr` (the
/// server, plain or TLS, as `host:port`) with `extra` arguments.
fn replaced_file_is_downloaded_afresh(server: &TestServer, endpoint: Endpoint, extra: &[&str]) {
    let work = tempfile::tempdir().unwrap();
    let old = pattern(1_000_000, 31);
    let new = pattern(1_000_000, 32);
    let addr = endpoint.addr.clone();
    let store = |data: &[u8]| {
        endpoint
            .connect()
            .unwrap()
            .put_bytes("file.bin", data)
            .unwrap()
    };
    store(&old);
    let run_here = |to: &str, args: &[&str]| {
        binary::ferry(work.path())
            .args(args)
            .args(extra)
            .args(["--server", to])
            .output()
            .unwrap()
    };
    let proxy = CuttingProxy::cutting_first(server.addr, 1, 300_000);
    let to_proxy = addr.replace(
        &server.addr.port().to_string(),
        &proxy.addr.port().to_string(),
    );
    let line = failure(
        &run_here(
            &to_proxy,
            &["get", "--resume", "--retries", "0", "file.bin"],
        ),
        3,
    );
    assert!(
        line.contains("run the same command again to resume"),
        "{line}"
    );
    let kept = fs::metadata(work.path().join(".file.bin.ferry-part"))
        .unwrap()
        .len();
    assert!(kept > 0 && kept < 1_000_000, "{kept}");

    store(&new);
    let output = run_here(&addr, &["get", "--resume", "-v", "file.bin"]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains(
            "file.bin changed on the server since the partial download began; starting over"
        ),
        "{err}"
    );
    // Asked from where the partial stood, then, told of another file, at
    // once from 0: no checksum of a mixed whole to fail.
    let from_kept = err.find(&format!("> GET file.bin {kept}\n")).expect(&err);
    let from_zero = err.find("> GET file.bin\n").expect(&err);
    assert!(from_kept < from_zero, "{err}");
    assert!(!err.contains("checksum mismatch"), "{err}");
    assert!(fs::read(work.path().join("file.bin")).unwrap() == new);
    assert_eq!(entries(work.path()), ["file.bin"]);
}

#[test]
fn get_resume_of_a_replaced_file_starts_over_at_once() {
    let server = TestServer::start();
    let endpoint = Endpoint::new(server.addr.to_string());
    replaced_file_is_downloaded_afresh(&server, endpoint, &[]);
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // needs a TLS provider
#[test]
fn get_resume_of_a_replaced_file_starts_over_at_once_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let files = support::tls::self_signed(dir.path(), "server");
    let ca = files.cert.to_str().unwrap().to_owned();
    let server = TestServer::start_with(|c| c.serve_tls(files));
    let addr = format!("localhost:{}", server.addr.port());
    let endpoint = support::tls::endpoint(&addr, std::path::Path::new(&ca));
    replaced_file_is_downloaded_afresh(&server, endpoint, &["--ca", &ca]);
}

#[test]
fn resume_gives_up_at_once_when_nothing_listens() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("f"), "data").unwrap();
    for args in [&["put", "--resume", "f"][..], &["get", "--resume", "f"]] {
        let started = std::time::Instant::now();
        let line = failure(&run(work.path(), addr, args), 3);
        assert!(line.contains(&addr.to_string()), "{line}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    assert_eq!(entries(work.path()), ["f"]);
}

/// Asserts success; stderr may only hold retry notes. Returns stdout.
fn success_allowing_retry_notes(output: &std::process::Output) -> String {
    let err = stderr(output);
    assert!(output.status.success(), "ferry failed: {err}");
    for line in err.lines() {
        assert!(
            line.starts_with("ferry: ") && line.contains("retrying in"),
            "{err}"
        );
    }
    binary::stdout(output)
}
