//! `--metrics ADDR`: Prometheus text at `GET /metrics` on a listener of its
//! own; requests counted once per answer over both protocols, summed over
//! workers; the loop-turn histogram; nothing else served there.
#![cfg(feature = "metrics")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::http::send_raw;
use support::{Raw, TestServer};

fn start(workers: usize) -> TestServer {
    TestServer::start_with(|config| {
        config.workers = workers;
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
}

/// The body of a scrape, after checking its head.
fn scrape(server: &TestServer) -> String {
    let addr = server.metrics.expect("a metrics listener");
    let answer = send_raw(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    body.to_owned()
}

/// The value of the sample `name` (with its labels, as written).
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .parse()
        .unwrap()
}

/// 3 PUTs, 2 GETs, a GET of a missing file and a DEL: over FERRY/1 on one
/// connection, over HTTP on two.
fn workload(server: &TestServer) {
    let mut raw = Raw::connect(server.addr);
    raw.line(); // greeting
    raw.send(format!("PUT a 100\n{}", "a".repeat(100)));
    assert!(raw.line().starts_with("OK 100 "));
    raw.send(format!("PUT b 200\n{}", "b".repeat(200)));
    assert!(raw.line().starts_with("OK 200 "));
    raw.send("GET a\n");
    assert!(raw.line().starts_with("OK 100 100 "));
    assert_eq!(raw.bytes(100), "a".repeat(100).as_bytes());
    raw.send("GET missing\n");
    assert!(raw.line().starts_with("ERR 404 "));
    raw.send("DEL b\n");
    assert_eq!(raw.line(), "OK");
    let http = server.http.unwrap();
    let put = format!(
        "PUT /c HTTP/1.1\r\nHost: localhost\r\nContent-Length: 300\r\nConnection: close\r\n\r\n{}",
        "c".repeat(300)
    );
    assert!(send_raw(http, put.as_bytes()).starts_with("HTTP/1.1 201"));
    let get = "GET /c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert!(send_raw(http, get.as_bytes()).starts_with("HTTP/1.1 200"));
}

fn check_counts(workers: usize) {
    let server = start(workers);
    workload(&server);
    let text = scrape(&server);
    let requests = |op: &str, outcome: &str| {
        sample(
            &text,
            &format!("ferry_requests_total{{operation=\"{op}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(requests("put", "ok"), 3, "{text}");
    assert_eq!(requests("get", "ok"), 2);
    assert_eq!(requests("get", "404"), 1);
    assert_eq!(requests("delete", "ok"), 1);
    let total: u64 = text
        .lines()
        .filter(|l| l.starts_with("ferry_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 7, "nothing else counted:\n{text}");
    let accepted = |protocol: &str| {
        sample(
            &text,
            &format!("ferry_connections_accepted_total{{protocol=\"{protocol}\"}}"),
        )
    };
    assert_eq!(accepted("ferry"), 1);
    assert_eq!(accepted("http"), 2);
    assert_eq!(sample(&text, "ferry_uploads_committed_total"), 3);
    assert_eq!(sample(&text, "ferry_uploads_failed_total"), 0);
    assert!(sample(&text, "ferry_bytes_received_total") >= 600);
    assert!(sample(&text, "ferry_bytes_sent_total") >= 400);
    assert!(sample(&text, "ferry_io_jobs_total") > 0);
    assert_eq!(
        sample(&text, "ferry_connections_refused_total{reason=\"busy\"}"),
        0
    );
}

#[test]
fn the_node_is_named_and_health_checks_are_counted() {
    let server = TestServer::start_with(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.node_id = "web-7".into();
    });
    let mut raw = Raw::connect(server.addr);
    raw.line();
    raw.send("HEALTH\n");
    assert_eq!(raw.line(), "OK");
    let get = "GET /.ferry-health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert!(send_raw(server.http.unwrap(), get.as_bytes()).starts_with("HTTP/1.1 200"));
    let text = scrape(&server);
    let version = env!("CARGO_PKG_VERSION");
    let info = format!("ferry_node_info{{node=\"web-7\",version=\"{version}\"}}");
    assert_eq!(sample(&text, &info), 1, "{text}");
    // Left out of the access log by default, never out of the counts.
    let health = "ferry_requests_total{operation=\"health\",outcome=\"ok\"}";
    assert_eq!(sample(&text, health), 2, "{text}");
}

#[test]
fn a_scrape_counts_a_known_workload_exactly() {
    check_counts(1);
}

#[test]
fn a_scrape_sums_the_counters_of_every_worker() {
    check_counts(2);
}

#[test]
fn open_connections_and_refusals_over_the_cap_are_counted() {
    let server = TestServer::start_with(|config| {
        config.max_connections = 1;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let mut held = Raw::connect(server.addr);
    assert!(held.line().starts_with("OK FERRY/1 "));
    let mut refused = Raw::connect(server.addr);
    assert!(refused.line().starts_with("ERR 503 "));
    let text = scrape(&server);
    assert_eq!(
        sample(&text, "ferry_connections_open{protocol=\"ferry\"}"),
        1
    );
    assert_eq!(
        sample(&text, "ferry_connections_refused_total{reason=\"busy\"}"),
        1
    );
}

#[test]
fn the_upload_sessions_gauge_follows_upload_commit_and_abort() {
    let server = start(2);
    let sessions = || sample(&scrape(&server), "ferry_upload_sessions");
    assert_eq!(sessions(), 0);
    let mut raw = Raw::connect(server.addr);
    raw.line(); // greeting
    let (first, _) = support::upload(&mut raw, "one", b"first");
    let (second, _) = support::upload(&mut raw, "two", b"second");
    assert_eq!(sessions(), 2);
    support::upload(&mut raw, "one", b"first"); // found again, not a third
    assert_eq!(sessions(), 2);
    assert_eq!(support::append(&mut raw, &first, 0, b"first"), "OK 5");
    raw.send(format!("COMMIT {first}\n"));
    assert!(raw.line().starts_with("OK 5 "));
    assert_eq!(sessions(), 1);
    raw.send(format!("ABORT {second}\n"));
    assert_eq!(raw.line(), "OK");
    assert_eq!(sessions(), 0);
}

#[test]
fn the_loop_turn_histogram_grows_and_its_buckets_are_cumulative() {
    let server = start(1);
    let first = sample(&scrape(&server), "ferry_loop_turn_seconds_count");
    workload(&server);
    let text = scrape(&server);
    let count = sample(&text, "ferry_loop_turn_seconds_count");
    assert!(count > first, "{count} turns after {first}");
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("ferry_loop_turn_seconds_bucket{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.len() > 10);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&count), "+Inf is the count");
}

#[test]
fn a_scrape_gets_through_beside_twenty_half_sent_requests() {
    let server = start(1);
    let addr = server.metrics.expect("a metrics listener");
    // More than the listener's places, each with half a request head that
    // never ends.
    let half_open: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(b"GET /metr").unwrap();
            stream
        })
        .collect();
    let body = scrape(&server);
    assert!(body.contains("ferry_connections_open"), "{body}");
    // Answered while the newest half-sent requests still wait for the
    // rest of their heads: not because their deadlines passed.
    let newest = half_open.last().unwrap();
    newest.set_nonblocking(true).unwrap();
    let err = (&*newest).read(&mut [0; 1]).expect_err("closed already");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn only_get_metrics_is_served_and_not_on_the_data_listeners() {
    let server = start(1);
    let addr = server.metrics.unwrap();
    let other = send_raw(addr, b"GET /other HTTP/1.1\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404 Not Found\r\n"), "{other}");
    // The data listeners know no /metrics: a file of that name is missing.
    let http = server.http.unwrap();
    let data = send_raw(
        http,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(data.starts_with("HTTP/1.1 404"), "{data}");
    assert!(!data.contains("ferry_requests_total"));
}

#[test]
fn the_metrics_listener_does_not_speak_ferry() {
    let server = start(1);
    let addr = server.metrics.unwrap();
    // No greeting...
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0; 1];
    let err = stream.read(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    // ...and a FERRY/1 request is no GET /metrics.
    let answer = send_raw(addr, b"STAT a\n\n");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[test]
fn promtool_accepts_a_scrape() {
    let Ok(status) = std::process::Command::new("promtool")
        .arg("--version")
        .output()
    else {
        println!("SKIPPED: promtool not found (apt-get install prometheus)");
        return;
    };
    assert!(status.status.success());
    let server = start(2);
    workload(&server);
    let text = scrape(&server);
    let mut check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_pool_threads_running_are_a_gauge_by_lane() {
    let server = start(1);
    // Idle: the short lane's one kept thread, no listing thread yet.
    let text = scrape(&server);
    assert_eq!(sample(&text, "ferry_io_threads{lane=\"short\"}"), 1);
    assert_eq!(sample(&text, "ferry_io_threads{lane=\"long\"}"), 0);
    // A listing starts a long-lane thread, which stays for a while idle;
    // however long this took, the lane never passes its cap.
    let mut raw = Raw::connect(server.addr);
    raw.line();
    raw.send("LIST\n");
    assert!(raw.line().starts_with("OK "));
    let text = scrape(&server);
    let long = sample(&text, "ferry_io_threads{lane=\"long\"}");
    assert!(long <= ferry::pool::Pool::long_threads() as u64, "{long}");
    assert!(sample(&text, "ferry_io_threads{lane=\"short\"}") >= 1);
}

#[test]
fn durable_uploads_count_their_flush_batches_and_the_waits_they_share() {
    let server = TestServer::start_with(|config| {
        config.fsync = true;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let counts = |text: &str| {
        (
            sample(text, "ferry_flush_batches_total"),
            sample(text, "ferry_flush_waits_total"),
        )
    };
    let before = counts(&scrape(&server));
    let put = |raw: &mut Raw, name: &str| {
        raw.send(format!("PUT {name} 5\nbytes"));
        assert!(raw.line().starts_with("OK 5 "));
    };
    let mut alone = Raw::connect(server.addr);
    alone.line();
    // Nothing else in flight: its bytes, then its folder, each a batch
    // of its own.
    put(&mut alone, "one");
    let after_one = counts(&scrape(&server));
    assert_eq!((after_one.0 - before.0, after_one.1 - before.1), (2, 2));

    // Uploads at once: at least two waits each, never fewer waits than
    // batches (a batch answers one wait or more).
    std::thread::scope(|scope| {
        for n in 0..8 {
            scope.spawn(move || {
                let mut raw = Raw::connect(server.addr);
                raw.line();
                put(&mut raw, &format!("f{n}"));
            });
        }
    });
    let (batches, waits) = counts(&scrape(&server));
    assert!(waits - after_one.1 >= 16, "{waits}");
    assert!(
        batches - after_one.0 <= waits - after_one.1,
        "{batches} {waits}"
    );
}

/// A durable upload flushes its folder and, of the folders above it,
/// those whose entries are not known durable: all of them where they were
/// just made; on a file system whose change times the kernel keeps, not
/// once a flush made them durable at a settled change time and nothing
/// changed in them since (`storage/posix/settled.rs`).
#[test]
fn durable_uploads_flush_the_folders_above_only_until_they_are_known_durable() {
    let server = TestServer::start_with(|config| {
        config.fsync = true;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    let root = server.root.path();
    let kind = rustix::fs::statfs(root).unwrap().f_type as u64;
    let keeps_times = [0xef53, 0x5846_5342, 0x9123_683e, 0xf2f5_2010].contains(&kind);
    let mut raw = Raw::connect(server.addr);
    raw.line();
    let mut folders_flushed = |name: &str| {
        let before = sample(&scrape(&server), "ferry_folder_flushes_total");
        raw.send(format!("PUT {name} 5\nbytes"));
        assert!(raw.line().starts_with("OK 5 "));
        sample(&scrape(&server), "ferry_folder_flushes_total") - before
    };
    assert_eq!(
        folders_flushed("a/b/1"),
        3,
        "a/b, a and the root: all just made"
    );
    // A change time is trusted once a second old (the kernel stamps with
    // a coarse clock): the time itself is what is waited for.
    let changed = |path: &std::path::Path| {
        let stat = rustix::fs::stat(path).unwrap();
        std::time::UNIX_EPOCH
            + Duration::new(stat.st_ctime as u64, 0)
            + Duration::from_millis(2_100)
    };
    let settled = changed(root).max(changed(&root.join("a")));
    while std::time::SystemTime::now() < settled {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        folders_flushed("a/b/2"),
        3,
        "not yet known: flushed and known"
    );
    let expected = if keeps_times { 1 } else { 3 };
    assert_eq!(folders_flushed("a/b/3"), expected, "kind {kind:#x}");
    assert!(server.path("a/b/3").exists());
}
