//! The reactor never waits on the disk: while one client's file-system call
//! is in progress (held at a test gate, so "slow" is certain rather than
//! likely), other clients are answered, over both protocols. Then the held
//! call finishes and its client gets a correct answer.
//!
//! Each test holds one storage point (see `ferry::storage::gate`): a
//! checksum of a file placed by other means, a commit (the rename that frees
//! a replaced file's blocks), a delete, a directory walk, session
//! bookkeeping, an open, a temp-file creation, the start-up sweep.

use crate::support;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};
use support::http::exchange;
use support::{Raw, TestServer, crc_hex, pattern};

/// A server whose storage holds every call at `point` until the gate opens.
fn held_at(point: Point, adjust: impl FnOnce(&mut ferry::Config)) -> (TestServer, Arc<Gate>) {
    let gate = Arc::new(Gate::new(point));
    let server = TestServer::start_with(|config| {
        config.gate = Some(Arc::clone(&gate));
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        adjust(config);
    });
    (server, gate)
}

/// Stores `data` as `name` before any gate matters (PUT over FERRY/1).
fn put(raw: &mut Raw, name: &str, data: &[u8]) {
    raw.send(format!("PUT {name} {}\n", data.len()));
    raw.send(data);
    assert_eq!(raw.line(), format!("OK {} {}", data.len(), crc_hex(data)));
}

/// Another client is served, over FERRY/1 and HTTP, while a call is held:
/// operations that do not reach `point` are answered in full.
fn others_are_served(server: &TestServer, point: Point) {
    let mut other = server.raw();
    other.send("ECHO 3\nabc");
    assert_eq!(other.line(), "OK 3");
    assert_eq!(other.bytes(3), b"abc");
    if point != Point::Open {
        // Cached: answered on the reactor.
        other.send("STAT warm\n");
        assert!(other.line().starts_with("OK 4 "));
        other.send("GET warm\n");
        assert_eq!(other.get_line(), format!("OK 4 4 {}", crc_hex(b"warm")));
        assert_eq!(other.bytes(4), b"warm");
        let addr = server.http.expect("http");
        let answer = exchange(addr, "GET", "/warm", "Host: localhost\r\n", b"");
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert_eq!(answer.body, b"warm");
    }
    if !matches!(point, Point::Create | Point::Commit | Point::Write) {
        put(&mut other, "other/new", b"fresh");
    }
}

/// A started server with a cached file `warm`, and its gate.
fn started(point: Point, adjust: impl FnOnce(&mut ferry::Config)) -> (TestServer, Arc<Gate>) {
    let (server, gate) = held_at(point, adjust);
    let mut raw = server.raw();
    match point {
        // Creating, writing and committing are what the gate holds: plant it.
        Point::Create | Point::Write | Point::Commit => {
            fs::write(server.path("warm"), b"warm").unwrap()
        }
        _ => put(&mut raw, "warm", b"warm"),
    }
    if point != Point::Open {
        // Opened once on the pool: the fast path knows it from now on.
        raw.send("STAT warm\n");
        assert!(raw.line().starts_with("OK 4 "));
    }
    (server, gate)
}

#[test]
fn a_checksum_of_a_file_placed_by_other_means_stalls_only_its_own_client() {
    let (server, gate) = started(Point::Checksum, |_| {});
    let data = pattern(3 << 20, 1);
    fs::write(server.path("placed.bin"), &data).unwrap();

    // A STAT states the CRC-32C, so it waits for the computation (a GET
    // would not: tests/storage/checksums.rs).
    let mut slow = server.raw();
    slow.send("STAT placed.bin\n");
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Checksum);
    assert_eq!(gate.held(), 1, "the checksum finished early");

    gate.open();
    let line = slow.line();
    assert!(line.starts_with(&format!("OK {} ", data.len())), "{line}");
    assert!(line.ends_with(&crc_hex(&data)), "{line}");
}

/// A file written in place (by other means) while its CRC-32C is being
/// computed: the computation, over the size it had, is not kept for the
/// file as it is now; the next asking computes the new file's.
#[test]
fn a_checksum_of_a_file_that_changed_meanwhile_is_not_kept_for_it() {
    let (server, gate) = started(Point::Checksum, |_| {});
    let data = pattern(200_000, 2);
    fs::write(server.path("placed.bin"), &data).unwrap();
    let mut slow = server.raw();
    slow.send("STAT placed.bin\n");
    gate.wait_for_arrivals(1);
    let grown = [&data[..], b"more"].concat();
    fs::OpenOptions::new()
        .append(true)
        .open(server.path("placed.bin"))
        .unwrap()
        .write_all(b"more")
        .unwrap();
    gate.open();
    let first = slow.line();
    assert!(first.starts_with(&format!("OK {} ", data.len())), "{first}");
    slow.send("STAT placed.bin\n");
    let again = slow.line();
    let now = format!("OK {} ", grown.len());
    assert!(again.starts_with(&now), "{again}");
    assert!(again.ends_with(&crc_hex(&grown)), "{again}");
}

#[test]
fn a_whole_gets_checksum_holds_no_io_thread() {
    // One I/O thread. A whole HTTP GET of a file placed by other means
    // states its CRC-32C, so it waits for the computation: on the
    // checksum threads (its `Send::Checksum` step). Waited for on the I/O
    // pool, it would take that one thread, and the PUT below (its temp
    // file made and its commit run there) would never be answered.
    let (server, gate) = started(Point::Checksum, |c| c.io_threads = 1);
    let data = pattern(1 << 20, 3);
    fs::write(server.path("placed.bin"), &data).unwrap();
    let addr = server.http.expect("http");
    let slow = std::thread::spawn(move || {
        exchange(addr, "GET", "/placed.bin", "Host: localhost\r\n", b"")
    });
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Checksum);
    assert_eq!(gate.held(), 1, "the checksum finished early");

    gate.open();
    let answer = slow.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.body, data);
    let crc = crc_hex(&data);
    assert_eq!(answer.header("X-Checksum-Crc32c"), Some(crc.as_str()));
}

/// `data` stored as `name` and opened and checksummed once (its GETs
/// are answered on the reactor from then on), then written back to the
/// disk, so that it can be dropped from the page cache: the file, opened.
fn stored_and_written_back(
    server: &TestServer,
    raw: &mut Raw,
    name: &str,
    data: &[u8],
) -> fs::File {
    put(raw, name, data);
    raw.send(format!("STAT {name}\n"));
    assert!(raw.line().starts_with("OK "));
    let file = fs::File::open(server.path(name)).unwrap();
    file.sync_all().unwrap();
    file
}

/// A cold file several read-ahead windows long (8 MiB each,
/// `serve/send.rs`) arrives whole; so does it with only a stretch inside a
/// window dropped from the page cache (the window's first and last bytes
/// still cached), whichever bytes the reactor sends and the pool reads in.
#[test]
fn a_cold_download_of_several_read_ahead_windows_arrives_whole() {
    use rustix::fs::{Advice, fadvise};
    let server = TestServer::start();
    let data = pattern(21 << 20, 5);
    let mut raw = server.raw();
    let file = stored_and_written_back(&server, &mut raw, "long.bin", &data);
    let crc = crc_hex(&data);
    let stretch = std::num::NonZeroU64::new(4 << 20);
    for (from, len) in [(0, None), (9 << 20, stretch)] {
        fadvise(&file, from, len, Advice::DontNeed).unwrap();
        raw.send("GET long.bin\n");
        assert_eq!(raw.get_line(), format!("OK {0} {0} {crc}", data.len()));
        assert_eq!(raw.bytes(data.len()), data, "dropped from {from}");
    }
}

#[test]
fn a_download_not_in_the_page_cache_is_read_in_on_the_pool() {
    let (server, gate) = started(Point::ReadAhead, |_| {});
    let data = pattern(6 << 20, 3);
    let mut slow = server.raw();
    // Out of the page cache: written back, then dropped.
    let file = stored_and_written_back(&server, &mut slow, "cold.bin", &data);
    if !support::dropped_from_page_cache(&file) {
        gate.open();
        return;
    }

    slow.send("GET cold.bin\n");
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::ReadAhead);
    assert_eq!(gate.held(), 1, "the read finished early");
    gate.open();
    let crc = crc_hex(&data);
    assert_eq!(slow.get_line(), format!("OK {0} {0} {crc}", data.len()));
    assert_eq!(slow.bytes(data.len()), data);
}

#[test]
fn a_slow_write_through_the_pool_stalls_only_its_own_upload() {
    let (server, gate) = started(Point::Write, |config| {
        config.pool_writes = ferry::config::PoolWrites::Always;
    });
    let data = pattern(700_000, 4);
    let mut slow = server.raw();
    slow.send(format!("PUT written.bin {}\n", data.len()));
    slow.send(&data);
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Write);
    assert_eq!(gate.held(), 1, "the write finished early");
    gate.open();
    assert_eq!(slow.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
    assert_eq!(fs::read(server.path("written.bin")).unwrap(), data);
}

/// The rate window of [`a_held_upload`]'s server: short, as its tests are
/// about time passing.
const WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

/// A server whose body writes are held at the gate, with a rate window
/// of [`WINDOW`] and a minimum of 1 byte/s, and a 3 MiB PUT of `name` sent
/// to it whose first write is held: more than the server gathers behind
/// a held write, the rest in the sockets' buffers. The upload, its bytes.
fn a_held_upload(name: &str) -> (TestServer, Arc<Gate>, Raw, Vec<u8>) {
    let (server, gate) = started(Point::Write, |config| {
        config.pool_writes = ferry::config::PoolWrites::Always;
        config.min_rate = 1;
        config.rate_window = WINDOW;
    });
    let data = pattern(3 << 20, 5);
    let mut slow = server.raw();
    slow.send(format!("PUT {name} {}\n", data.len()));
    slow.send(&data);
    gate.wait_for_arrivals(1);
    (server, gate, slow, data)
}

#[test]
fn a_write_held_past_the_rate_window_neither_cuts_the_upload_nor_stalls_the_loop() {
    let (server, gate, mut slow, data) = a_held_upload("slow-disk.bin");
    // The subject is time passing: the upload's rate window comes due while
    // its write is held. The disk is slow, not the client: it is not cut,
    // and the loop that checked it serves everyone else.
    std::thread::sleep(WINDOW * 3);
    others_are_served(&server, Point::Write);
    gate.open();
    assert_eq!(slow.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
}

#[test]
fn a_write_that_frees_a_buffer_while_the_next_is_held_lets_the_body_flow_again() {
    let (_server, gate, mut slow, data) = a_held_upload("freed.bin");
    // Time for the server to fill every buffer it has behind the held
    // write (it reads what has arrived at once) and to wait for the disk.
    std::thread::sleep(WINDOW * 3);
    // One write goes: the next buffer goes to the pool and is held, and a
    // full one waits while another gathers. The bytes have all arrived,
    // so no event will say so: the server must read on by itself, not sit
    // with room to read until the rate window judges the client slow.
    gate.let_one_go();
    gate.wait_for_arrivals(2);
    std::thread::sleep(WINDOW * 3);
    gate.open();
    assert_eq!(slow.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
}

#[test]
fn a_burst_of_first_downloads_computes_one_checksum() {
    let (server, gate) = started(Point::Checksum, |_| {});
    let data = pattern(1 << 20, 2);
    fs::write(server.path("placed.bin"), &data).unwrap();
    let mut first = server.raw();
    first.send("STAT placed.bin\n");
    gate.wait_for_arrivals(1);
    // Asked while the first computation is held: the STAT waits for it (or,
    // if it reaches the pool after it, finds its result); the GET goes
    // without it, and adds no computation of its own.
    let mut second = server.raw();
    second.send("GET placed.bin\n");
    assert_eq!(second.get_line(), format!("OK {0} {0} -", data.len()));
    assert_eq!(second.bytes(data.len()), data);
    let mut third = server.raw();
    third.send("STAT placed.bin\n");
    others_are_served(&server, Point::Checksum);
    gate.open();
    let crc = crc_hex(&data);
    assert!(first.line().ends_with(&crc));
    assert!(third.line().ends_with(&crc));
    let mut again = server.raw();
    again.send("STAT placed.bin\n");
    assert!(again.line().ends_with(&crc));
    assert_eq!(gate.arrivals(), 1, "the checksum was computed twice");
}

#[test]
fn a_commit_replacing_a_file_stalls_only_its_own_client() {
    for fsync in [false, true] {
        let (server, gate) = started(Point::Commit, |c| c.fsync = fsync);
        fs::write(server.path("big"), pattern(1 << 20, 3)).unwrap();
        let mut slow = server.raw();
        slow.send("PUT big 5\nnewer");
        gate.wait_for_arrivals(1);
        others_are_served(&server, Point::Commit);
        assert_eq!(fs::read(server.path("big")).unwrap().len(), 1 << 20);
        gate.open();
        assert_eq!(slow.line(), format!("OK 5 {}", crc_hex(b"newer")));
        assert_eq!(fs::read(server.path("big")).unwrap(), b"newer");
    }
}

#[test]
fn removing_an_abandoned_upload_stalls_nobody() {
    let (server, gate) = started(Point::Discard, |_| {});
    let mut cut = server.raw();
    cut.send("PUT big/cut.bin 1000000\n");
    cut.send(pattern(100_000, 5));
    // Reset mid-body, once the temp file exists: the server closes the
    // connection and its temp file must go, on the pool.
    wait_for_a_temp_file(&server);
    rustix::net::sockopt::set_socket_linger(&cut.stream, Some(std::time::Duration::ZERO)).unwrap();
    drop(cut);
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Discard);
    let mut truncated = server.raw();
    truncated.send("PUT half.bin 10\nhalf");
    truncated.finish_sending();
    gate.wait_for_arrivals(2);
    others_are_served(&server, Point::Discard);
    gate.open();
    // The answer to a truncated body comes once its temp file is gone.
    assert!(truncated.line().starts_with("ERR 400 "));
    truncated.expect_closed();
    // The directory made for the cut upload is gone with its temp file.
    assert_eq!(server.settled_files_on_disk(), ["other/new", "warm"]);
}

/// Waits until an upload's temp file exists. Nothing signals that moment
/// to a client, so this polls, within 20 seconds.
fn wait_for_a_temp_file(server: &TestServer) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !server
        .files_on_disk()
        .iter()
        .any(|f| f.contains(".ferry-tmp-"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no temp file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_delete_stalls_only_its_own_client() {
    let (server, gate) = started(Point::Delete, |_| {});
    let mut slow = server.raw();
    put(&mut slow, "doomed", b"x");
    slow.send("DEL doomed\n");
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Delete);
    gate.open();
    assert_eq!(slow.line(), "OK");
    assert!(!server.path("doomed").exists());
}

#[test]
fn a_listing_stalls_only_its_own_client_over_both_protocols() {
    // One I/O thread: listings run on threads of their own, so a held walk
    // keeps no other job waiting.
    let (server, gate) = started(Point::Walk, |c| c.io_threads = 1);
    let mut slow = server.raw();
    slow.send("LIST\n");
    gate.wait_for_arrivals(1);
    let http_slow = {
        let addr = server.http.unwrap();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
    };
    // On a small host the HTTP listing waits for a listing thread; on a
    // bigger one it may be held at the gate too.
    others_are_served(&server, Point::Walk);
    gate.open();
    let head = slow.line();
    let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
    let listing = String::from_utf8(slow.bytes(len)).unwrap();
    assert!(listing.ends_with(" warm\n"), "{listing}");
    let answer = http_slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("\"warm\""), "{answer}");
}

#[test]
fn session_bookkeeping_stalls_only_its_own_client() {
    let (server, gate) = started(Point::Session, |_| {});
    let data = b"resumable";
    let mut slow = server.raw();
    slow.send(format!("UPLOAD r {} {}\n", data.len(), crc_hex(data)));
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Session);
    gate.open();
    let line = slow.line();
    assert!(line.starts_with("OK ") && line.ends_with(" 0"), "{line}");
}

#[test]
fn an_open_off_the_fast_path_stalls_only_its_own_client() {
    let (server, gate) = started(Point::Open, |_| {});
    let mut slow = server.raw();
    slow.send("GET warm\n");
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Open);
    gate.open();
    assert_eq!(slow.get_line(), format!("OK 4 4 {}", crc_hex(b"warm")));
    assert_eq!(slow.bytes(4), b"warm");
}

#[test]
fn creating_a_temp_file_stalls_only_its_own_client_and_keeps_its_body_waiting() {
    let (server, gate) = started(Point::Create, |_| {});
    let mut slow = server.raw();
    // The body follows the request line at once; it must wait, unread, for
    // the temp file, and then arrive whole.
    let data = pattern(100_000, 4);
    slow.send(format!("PUT sent/early {}\n", data.len()));
    slow.send(&data);
    gate.wait_for_arrivals(1);
    others_are_served(&server, Point::Create);
    gate.open();
    assert_eq!(slow.line(), format!("OK {} {}", data.len(), crc_hex(&data)));
    assert_eq!(fs::read(server.path("sent/early")).unwrap(), data);
}

#[test]
fn the_startup_sweep_runs_while_the_server_serves() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("deep/er")).unwrap();
    let stale = root.path().join("deep/er/.ferry-tmp-1-1");
    fs::write(&stale, b"partial").unwrap();
    let gate = Arc::new(Gate::new(Point::Sweep));
    let server = TestServer::start_in(root, |config| {
        config.gate = Some(Arc::clone(&gate));
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    gate.wait_for_arrivals(1);
    let mut raw = server.raw();
    put(&mut raw, "deep/er/done", b"done");
    // An upload under way, its temp file made (the go-ahead says so): the
    // sweep must spare it.
    let mut upload = TcpStream::connect(server.http.unwrap()).unwrap();
    upload
        .write_all(b"PUT /deep/er/new HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut go_ahead = [0; 25];
    upload.read_exact(&mut go_ahead).unwrap();
    assert_eq!(&go_ahead, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(stale.exists(), "swept before the gate opened");

    gate.open();
    server.wait_for_sweep();
    assert!(!stale.exists(), "the stale temp file survived the sweep");
    upload.write_all(b"hello").unwrap();
    let mut answer = String::new();
    upload.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    assert_eq!(fs::read(server.path("deep/er/new")).unwrap(), b"hello");
    assert_eq!(fs::read(server.path("deep/er/done")).unwrap(), b"done");
}

#[test]
fn jobs_beyond_the_queue_wait_their_turn_and_all_are_answered() {
    // One I/O thread, held: its queue (64 jobs) fills and the rest wait in
    // the reactor's backlog, each connection reading nothing meanwhile.
    let (server, gate) = started(Point::Delete, |c| c.io_threads = 1);
    let mut clients: Vec<Raw> = (0..100)
        .map(|i| {
            let mut raw = server.raw();
            put(&mut raw, &format!("many/{i}"), b"x");
            raw
        })
        .collect();
    for (i, raw) in clients.iter_mut().enumerate() {
        raw.send(format!("DEL many/{i}\nECHO 1\nz"));
    }
    gate.wait_for_arrivals(1);
    let mut other = server.raw();
    other.send("ECHO 2\nok");
    assert_eq!(other.line(), "OK 2");
    gate.open();
    for raw in &mut clients {
        assert_eq!(raw.line(), "OK");
        assert_eq!(raw.line(), "OK 1");
        assert_eq!(raw.bytes(1), b"z");
    }
    assert!(!server.path("many").exists());
}
