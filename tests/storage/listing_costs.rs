//! What a listing costs the server, counted in directory entries read
//! (`ferry_walk_entries_total`), never in time: a listing reads only the
//! folders that lead to something its client may read, whatever else the
//! root holds, and a walk whose client has gone is dropped from the queue
//! or stopped at its next folder (docs/security.md, "Listing costs").

use crate::support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use ferry::access::{AccessConfig, Grant};
use ferry::storage::gate::{Gate, Point};
use support::TestServer;
use support::http::{exchange, metric};
use support::tokens::tokens_in;

const WALKED: &str = "ferry_walk_entries_total";
/// The walks one address may have queued or running (docs/security.md).
const MAX_WALKS: usize = ferry::access::per_client::DEFAULT_WALKS_PER_CLIENT;

/// `folders` folders of `files` empty files each, under `dir`.
fn plant_tree(server: &TestServer, dir: &str, folders: usize, files: usize) {
    for folder in 0..folders {
        let path = server.path(&format!("{dir}/f{folder:03}"));
        std::fs::create_dir_all(&path).unwrap();
        for file in 0..files {
            std::fs::File::create(path.join(format!("{file:05}.csv"))).unwrap();
        }
    }
}

/// A server with metrics, an admin token that reads everything and
/// anonymous clients that may read `public/`.
fn guarded_with_metrics(gate: Option<Arc<Gate>>) -> (TestServer, Vec<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (path, tokens) = tokens_in(dir.path(), &[("admin", &["read:/"])]);
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.access = AccessConfig {
            tokens: Some(path),
            anonymous: vec![Grant::parse("read:public").unwrap()],
            no_auth: false,
        };
        c.gate = gate;
    });
    (server, tokens, dir)
}

#[test]
fn an_anonymous_listing_reads_only_what_it_may_see() {
    let (server, tokens, _dir) = guarded_with_metrics(None);
    let metrics = server.metrics.unwrap();
    plant_tree(&server, "secret", 20, 1000);
    plant_tree(&server, "public", 1, 3);
    let walked = || metric(metrics, WALKED);

    // LIST of the whole tree, without a token.
    let before = walked();
    let files = server.client().list("").unwrap();
    assert_eq!(files.len(), 3);
    let cost = walked() - before;
    // The root (public/, secret/, the server's own .ferry-*), public/
    // (f000/) and public/f000/ (3): never the 20,000 below secret/.
    assert!(cost <= 20, "an anonymous LIST read {cost} entries");

    // The same as an archive, and a folder's page, over HTTP.
    let http = server.http.unwrap();
    for target in ["/?tar", "/", "/?format=json"] {
        let before = walked();
        let answer = exchange(http, "GET", target, "Host: localhost\r\n", b"");
        assert_eq!(answer.status, 200, "{target}");
        let cost = walked() - before;
        // An archive walks twice: once for its length, once to send it.
        let walks = if target == "/?tar" { 2 } else { 1 };
        assert!(cost <= 20 * walks, "GET {target} read {cost} entries");
    }

    // The counter counts: the admin's LIST reads all of it.
    let before = walked();
    let mut admin = server.client();
    admin.auth(&tokens[0]).unwrap();
    assert_eq!(admin.list("").unwrap().len(), 20_003);
    assert!(walked() - before >= 20_000);
}

#[test]
fn a_walk_whose_client_has_gone_is_dropped() {
    let gate = Arc::new(Gate::new(Point::Walk));
    let (server, tokens, _dir) = guarded_with_metrics(Some(Arc::clone(&gate)));
    let metrics = server.metrics.unwrap();
    plant_tree(&server, "tree", 20, 500);
    // One client's walk is held on the disk...
    let mut waiting = server.raw();
    waiting.send(format!("AUTH {}\n", tokens[0]));
    assert!(waiting.line().starts_with("OK "));
    waiting.send("LIST\n");
    gate.wait_for_arrivals(1);
    let jobs = metric(metrics, "ferry_io_jobs_total");
    let walked = metric(metrics, WALKED);
    // ... while the rest of its address's share of walks ask for the whole
    // tree from other connections, and once their walks
    // are queued (or held too, on a host with more listing threads) are
    // killed: their sockets reset, as a process's are when it dies with an
    // answer unread.
    let quitters: Vec<_> = (1..MAX_WALKS)
        .map(|_| {
            let mut quitter = std::net::TcpStream::connect(server.addr).unwrap();
            write!(quitter, "AUTH {}\nLIST\n", tokens[0]).unwrap();
            quitter
        })
        .collect();
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while metric(metrics, "ferry_io_queue_depth") + (gate.arrivals() as u64) < MAX_WALKS as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the walks never queued"
        );
        std::thread::yield_now();
    }
    for quitter in quitters {
        rustix::net::sockopt::set_socket_linger(&quitter, Some(Duration::ZERO)).unwrap();
    }
    while metric(metrics, "ferry_connections_open{protocol=\"ferry\"}") > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the quitters stay open"
        );
        std::thread::yield_now();
    }
    gate.open();
    let head = waiting.line();
    let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
    assert_eq!(waiting.bytes(len).split(|&b| b == b'\n').count(), 10_001);
    // Every job has ended (run or dropped)...
    while metric(metrics, "ferry_io_jobs_total") < jobs + MAX_WALKS as u64 {
        assert!(std::time::Instant::now() < deadline, "jobs still queued");
        std::thread::yield_now();
    }
    // ... and only the walk somebody waited for read the tree: a dropped
    // walk reads nothing, one already under way stops at its next folder.
    let cost = metric(metrics, WALKED) - walked;
    let before = metric(metrics, WALKED);
    waiting.send("LIST\n");
    let head = waiting.line();
    let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
    waiting.bytes(len);
    let one_walk = metric(metrics, WALKED) - before;
    assert!(
        cost < one_walk + one_walk / 2,
        "{MAX_WALKS} walks read {cost} entries, one reads {one_walk}"
    );
}

#[test]
fn one_address_cannot_queue_more_than_its_share_of_walks() {
    let gate = Arc::new(Gate::new(Point::Walk));
    let server = TestServer::start_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.gate = Some(Arc::clone(&gate));
    });
    let metrics = server.metrics.unwrap();
    plant_tree(&server, "tree", 2, 3);
    let greeted = |from: &str| {
        let mut raw = support::Raw::connect_from(server.addr, from.parse().unwrap());
        assert!(raw.line().starts_with("OK FERRY/1 "));
        raw
    };
    let queued = || metric(metrics, "ferry_io_queue_depth") + gate.arrivals() as u64;
    let deadline = std::time::Instant::now() + support::PATIENCE;
    let wait_for_queued = |count: u64| {
        while queued() < count {
            assert!(std::time::Instant::now() < deadline, "walks never queued");
            std::thread::yield_now();
        }
    };
    // One address fills its share with walks held on the disk...
    let mut hogs: Vec<_> = (0..MAX_WALKS as u64)
        .map(|n| {
            let mut raw = greeted("127.0.0.2");
            raw.send("LIST\n");
            wait_for_queued(n + 1);
            raw
        })
        .collect();
    // ... and its next is refused at once, as an archive would be.
    let mut over = greeted("127.0.0.2");
    over.send("LIST\n");
    let refused = over.line();
    assert!(
        refused.starts_with("ERR 503 ") && refused.contains("listings and archives"),
        "{refused}"
    );
    // Another address still gets its walk queued.
    let mut other = greeted("127.0.0.3");
    other.send("LIST\n");
    wait_for_queued(MAX_WALKS as u64 + 1);
    gate.open();
    for raw in hogs.iter_mut().chain([&mut other]) {
        let head = raw.line();
        let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
        raw.bytes(len);
    }
    // Their places are given back: the first address walks again.
    over.send("LIST\n");
    assert!(over.line().starts_with("OK "));
}

#[test]
fn twenty_slow_readers_of_a_big_folders_archive_hold_bounded_memory() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("big");
    std::fs::create_dir(&folder).unwrap();
    for file in 0..20_000 {
        std::fs::File::create(folder.join(format!("reading-{file:05}.csv"))).unwrap();
    }
    let server = support::process::Process::start(root.path(), &["--http", "127.0.0.1:0"]);
    let http = server.http_addr();
    let before = server.resident_bytes();
    // Twenty clients, each from an address of its own, start the archive
    // and read no further than its head: each archive is measured and its
    // sending under way while its bytes wait in the socket.
    let readers: Vec<_> = (2..22)
        .map(|n| {
            let mut reader =
                support::Raw::connect_from(http, format!("127.0.0.{n}").parse().unwrap());
            reader.send("GET /big/?tar HTTP/1.1\r\nHost: localhost\r\n\r\n");
            assert!(reader.line().starts_with("HTTP/1.1 200 "));
            reader
        })
        .collect();
    let held = server.resident_bytes();
    eprintln!(
        "resident: {} MiB idle, {} MiB with 20 archives of 20,000 members under way",
        before >> 20,
        held >> 20
    );
    assert!(held < 64 << 20, "{} MiB", held >> 20);
    // What an archive holds does not grow with its folder: a walk's
    // position and a batch of headers, well under 1 MiB each (a list of
    // the 20,000 members took 37 MiB for the twenty).
    let grown = held.saturating_sub(before);
    assert!(grown < 16 << 20, "{} MiB for 20 archives", grown >> 20);
    drop(readers);
}
