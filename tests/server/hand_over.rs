//! `--hand-over`: an HTTP connection that comes to rest between requests
//! may move to another worker (`server/reactor/share.rs`). With `always`
//! every rest moves it to the next worker, so each request of a
//! keep-alive connection is served by another loop than the one before:
//! what it sends, what it is answered and its deadlines survive each move.
#![cfg(feature = "hand-over")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::time::{Duration, Instant};

use ferry::config::HandOver;
use support::http::Conn;
use support::{PATIENCE, TestServer, pattern};

fn start(adjust: impl FnOnce(&mut ferry::config::Config)) -> TestServer {
    TestServer::start_with(|config| {
        config.workers = 2;
        config.hand_over = HandOver::Always;
        support::listen_http(config);
        if cfg!(feature = "metrics") {
            config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        }
        adjust(config);
    })
}

/// Connections handed over so far (0 in a build without metrics).
fn handed_over(server: &TestServer) -> u64 {
    counted(server, "ferry_connections_handed_over_total")
}

/// Newcomers passed to another worker for room so far (0 in a build
/// without metrics).
fn passed_for_room(server: &TestServer) -> u64 {
    counted(server, "ferry_connections_passed_for_room_total")
}

/// The counter `name` of `server`'s metrics (0 in a build without them).
fn counted(server: &TestServer, name: &str) -> u64 {
    #[cfg(feature = "metrics")]
    return support::http::metric(server.metrics.expect("a metrics listener"), name);
    #[cfg(not(feature = "metrics"))]
    {
        let _ = (server, name);
        0
    }
}

#[test]
fn a_keep_alive_connection_moving_at_every_rest_is_served_whole() {
    let server = start(|_| {});
    let addr = server.http.expect("an HTTP listener");
    let mut conn = Conn::open(addr);
    for n in 0..40u64 {
        // Sizes around the reactor's burst read and a small GET's cut-off.
        let body = pattern(1_000 + (n as usize * 7_919) % 70_000, n);
        let put = conn.ask("PUT", &format!("/moved/{n}"), "", &body);
        assert!(put.status == 201 || put.status == 204, "{}", put.head);
        let got = conn.ask("GET", &format!("/moved/{n}"), "", b"");
        assert_eq!(got.status, 200, "{}", got.head);
        assert!(got.body == body, "body {n} differs");
    }
    // Two requests in one write: the second is read with the first, so the
    // connection does not rest between them; it answers both, in order.
    conn.send(
        "GET /moved/1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /moved/2 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(conn.reply().body, pattern(1_000 + 7_919, 1));
    assert_eq!(conn.reply().body, pattern(1_000 + 2 * 7_919, 2));
    if cfg!(feature = "metrics") {
        // 81 rests (after each answer but the pipelined first): each one
        // a move, but for a rest that found the next request read with it.
        assert!(handed_over(&server) >= 40, "{}", handed_over(&server));
    }
}

#[test]
fn a_moved_connection_keeps_its_idle_deadline() {
    let server = start(|config| config.idle_timeout = Duration::from_millis(300));
    let addr = server.http.expect("an HTTP listener");
    let mut conn = Conn::open(addr);
    let answer = conn.ask("GET", "/", "", b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
    // It rests on the worker it moved to, whose timers close it: not at
    // once (a failed move would close it), and not never.
    let rested = Instant::now();
    conn.expect_closed();
    let waited = rested.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < PATIENCE,
        "{waited:?}"
    );
    if cfg!(feature = "metrics") {
        assert!(handed_over(&server) >= 1);
    }
}

#[test]
fn connections_stay_put_with_hand_over_never() {
    let server = start(|config| config.hand_over = HandOver::Never);
    let addr = server.http.expect("an HTTP listener");
    let mut conn = Conn::open(addr);
    for n in 0..10 {
        let answer = conn.ask("PUT", &format!("/stay/{n}"), "", b"here");
        assert!(
            answer.status == 201 || answer.status == 204,
            "{}",
            answer.head
        );
    }
    assert_eq!(handed_over(&server), 0);
}

/// curl's uploads and downloads of several files on one kept-open
/// connection, plain and over TLS: each moves between the workers at
/// every rest, and every byte comes back.
#[test]
fn curl_keeps_its_connection_across_workers_plain_and_over_tls() {
    if !support::tools::have("curl", &["--version"], "apt-get install curl") {
        return;
    }
    for tls in support::with_tls_where_built() {
        let certs = tempfile::tempdir().unwrap();
        let files = tls.then(|| support::certificate_in(certs.path())).flatten();
        let server = start(|config| {
            if let Some(files) = files {
                config.tls = Some(files);
                config.listeners.last_mut().unwrap().tls = true;
            }
        });
        let scheme = if tls { "https" } else { "http" };
        let base = format!("{scheme}://{}/up/", server.http.expect("an HTTP listener"));
        let work = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..8).map(|n| format!("f{n}")).collect();
        let mut all = Vec::new();
        for (n, name) in names.iter().enumerate() {
            let data = pattern(3_000 + n * 40_000, n as u64);
            std::fs::write(work.path().join(name), &data).unwrap();
            all.extend(data);
        }
        let curl = |args: &[String]| {
            let out = std::process::Command::new("curl")
                .args(["-s", "-S", "-f", "-k"])
                .args(args)
                .current_dir(work.path())
                .output()
                .unwrap();
            support::tools::check(&out, "curl");
            out.stdout
        };
        let before = handed_over(&server);
        // One upload per file, globbed: curl keeps one connection.
        let glob = format!("{{{}}}", names.join(","));
        curl(&[
            "-o".into(),
            "/dev/null".into(),
            "-T".into(),
            glob,
            base.clone(),
        ]);
        let urls: Vec<String> = names.iter().map(|name| format!("{base}{name}")).collect();
        assert!(curl(&urls) == all, "tls {tls}: the downloads differ");
        if cfg!(feature = "metrics") {
            let moved = handed_over(&server) - before;
            assert!(moved >= 8, "tls {tls}: {moved} moves");
        }
    }
}

/// A shutdown while connections move: those resting are closed, wherever
/// they rest, and the server stops.
#[test]
fn a_shutdown_closes_connections_that_moved() {
    let server = start(|_| {});
    let addr = server.http.expect("an HTTP listener");
    let mut conns: Vec<Conn> = (0..8).map(|_| Conn::open(addr)).collect();
    for conn in &mut conns {
        assert_eq!(conn.ask("GET", "/", "", b"").status, 200);
    }
    server.stop().unwrap();
    for conn in &mut conns {
        conn.expect_closed();
    }
}

/// At `--max-connections`, a newcomer accepted by a worker with no
/// connection to give way takes the place of one resting on another
/// worker, as it would on one loop. Before, it was refused 503 while a
/// connection that could give way stayed open: the resting one had been
/// handed over, and a worker made room only among its own.
#[test]
fn at_the_cap_a_newcomer_takes_the_place_of_a_connection_resting_on_another_worker() {
    // Which worker accepts a newcomer is the kernel's choice; each gives
    // way to the other after an accept, so the newcomer mostly meets the
    // worker the resting connection left. Rounds until one has.
    const ROUNDS: usize = 50;
    for _ in 0..ROUNDS {
        let server = start(|config| {
            config.max_connections = 2;
            config.bare_grace = Duration::ZERO;
        });
        a_newcomer_at_the_cap_is_served(&server);
        if passed_for_room(&server) > 0 {
            return;
        }
    }
    // Without metrics the passes cannot be counted: the rounds served are
    // the test.
    #[cfg(feature = "metrics")]
    panic!("in {ROUNDS} rounds no newcomer met the worker without a resting connection");
}

/// Fills a server that holds two connections with one resting (handed
/// to the other worker) and one at work; a newcomer is served in the
/// resting one's place.
fn a_newcomer_at_the_cap_is_served(server: &TestServer) {
    let http = server.http.expect("an HTTP listener");
    let mut resting = Conn::open(http);
    assert_eq!(resting.ask("GET", "/", "", b"").status, 200);
    // At work: its upload has begun, and waits for the rest of its body.
    let mut uploading = Conn::open(http);
    uploading.send(
        "PUT /busy HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\
         Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(uploading.reply().status, 100);
    let mut newcomer = Conn::open(http);
    assert_eq!(newcomer.ask("GET", "/", "", b"").status, 200);
    resting.expect_closed();
    uploading.send("0123456789");
    let stored = uploading.reply().status;
    assert!(stored == 201 || stored == 204, "{stored}");
}
