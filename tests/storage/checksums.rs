//! Checksums off the hot path: a file placed in the root by other means has
//! no recorded CRC-32C, and computing one reads the whole file. A FERRY/1
//! GET (whole or not), a range or a HEAD never waits for that: it says `-`
//! (or sends no header) and has the CRC computed behind it, for the next
//! answer; answers that state the CRC (STAT, HTTP's whole GET) wait for it
//! on checksum threads of their own, where it cannot hold up STAT, LIST or
//! opens; one computation serves every request for a version; the ETag
//! does not change when the CRC becomes known.
//!
//! Every computation is held at the `Checksum` test gate, so "the
//! computation is still running" is certain, not a matter of file size or
//! speed, and computations are counted (`ferry_checksum_computations_total`
//! and the gate's arrivals), not timed.

use crate::support;

use std::fs;
use std::net::SocketAddr;
use std::sync::Arc;

use ferry::storage::gate::{Gate, Point};
use support::http::{Answer, exchange};
use support::{Raw, TestServer, crc_hex, pattern};

/// A server whose checksum computations wait at a closed gate, with HTTP
/// and metrics listeners and an I/O pool of `io_threads`.
fn held_server(io_threads: usize) -> (TestServer, Arc<Gate>) {
    let gate = Arc::new(Gate::new(Point::Checksum));
    let server = TestServer::start_with(|config| {
        config.gate = Some(Arc::clone(&gate));
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.io_threads = io_threads;
    });
    (server, gate)
}

/// Places `name` in the root behind the server's back: no CRC recorded.
fn place(server: &TestServer, name: &str, seed: u64) -> Vec<u8> {
    let data = pattern(256 * 1024, seed);
    fs::write(server.path(name), &data).unwrap();
    data
}

fn http_addr(server: &TestServer) -> SocketAddr {
    server.http.expect("an HTTP listener")
}

/// `GET /<name>` over HTTP with the header lines `headers`.
fn get(server: &TestServer, name: &str, headers: &str) -> Answer {
    let headers = format!("Host: localhost\r\n{headers}");
    exchange(http_addr(server), "GET", &format!("/{name}"), &headers, b"")
}

/// `ferry_checksum_computations_total`, scraped.
fn computations(server: &TestServer) -> u64 {
    let addr = server.metrics.expect("a metrics listener");
    let answer = exchange(addr, "GET", "/metrics", "Host: localhost\r\n", b"");
    assert_eq!(answer.status, 200);
    let text = String::from_utf8(answer.body).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("ferry_checksum_computations_total "))
        .unwrap_or_else(|| panic!("no checksum metric in:\n{text}"))
        .parse()
        .unwrap()
}

/// Asks for `STAT name` over FERRY/1, whose answer states the CRC-32C
/// (and so waits for it).
fn ferry_stat(server: &TestServer, name: &str) -> Raw {
    let mut raw = server.raw();
    raw.send(format!("STAT {name}\n"));
    raw
}

/// Reads the answer to [`ferry_stat`] and checks it against `data`.
fn ferry_stated(raw: &mut Raw, data: &[u8]) {
    let line = raw.line();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert_eq!(fields[1], data.len().to_string(), "{line}");
    assert_eq!(fields[3], crc_hex(data), "{line}");
}

#[test]
fn a_one_byte_range_of_a_cold_file_is_answered_while_its_checksum_is_held() {
    let (server, gate) = held_server(4);
    let data = place(&server, "cold.bin", 1);
    let mut stat = ferry_stat(&server, "cold.bin");
    gate.wait_for_arrivals(1);

    let part = get(&server, "cold.bin", "Range: bytes=0-0\r\n");
    assert_eq!(part.status, 206, "{}", part.head);
    assert_eq!(part.body, &data[..1]);
    assert_eq!(
        part.header("Content-Range"),
        Some(format!("bytes 0-0/{}", data.len()).as_str())
    );
    assert_eq!(part.header("X-Checksum-Crc32c"), None, "not known yet");
    assert_eq!(gate.held(), 1, "the computation finished early");

    gate.open();
    ferry_stated(&mut stat, &data);
    assert_eq!(computations(&server), 1);
}

#[test]
fn a_stat_and_a_list_are_answered_while_checksums_are_held() {
    let (server, gate) = held_server(2);
    let mut other = server.raw();
    other.send("PUT other.txt 5\nhello");
    assert_eq!(other.line(), format!("OK 5 {}", crc_hex(b"hello")));
    // More first STATs of cold files than the I/O pool has threads.
    let cold: Vec<_> = (0..6)
        .map(|n| {
            let name = format!("cold-{n}.bin");
            let data = place(&server, &name, n);
            (ferry_stat(&server, &name), data)
        })
        .collect();
    gate.wait_for_arrivals(2);

    // Not cached: both are answered on the I/O pool.
    other.send("STAT other.txt\n");
    let stat = other.line();
    assert!(stat.starts_with("OK 5 "), "{stat}");
    assert!(stat.ends_with(&crc_hex(b"hello")), "{stat}");
    other.send("LIST other\n");
    let listing = other.line();
    let len: usize = listing.strip_prefix("OK ").unwrap().parse().unwrap();
    let body = String::from_utf8(other.bytes(len)).unwrap();
    assert!(body.ends_with(" other.txt\n"), "{body}");
    assert_eq!(gate.held(), 2, "the computations finished early");

    gate.open();
    for (mut raw, data) in cold {
        ferry_stated(&mut raw, &data);
    }
    assert_eq!(computations(&server), 6);
}

#[test]
fn two_whole_gets_of_one_cold_file_compute_its_checksum_once() {
    let (server, gate) = held_server(4);
    let data = place(&server, "cold.bin", 2);
    let crc = crc_hex(&data);
    let addr = http_addr(&server);
    let whole = || {
        std::thread::spawn(move || exchange(addr, "GET", "/cold.bin", "Host: localhost\r\n", b""))
    };
    let first = whole();
    gate.wait_for_arrivals(1);
    let second = whole();
    let mut also = ferry_stat(&server, "cold.bin");
    assert_eq!(gate.held(), 1);

    gate.open();
    for answer in [first, second].map(|t| t.join().unwrap()) {
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert_eq!(answer.body, data);
        assert_eq!(answer.header("X-Checksum-Crc32c"), Some(crc.as_str()));
    }
    ferry_stated(&mut also, &data);
    assert_eq!(computations(&server), 1);
    assert_eq!(gate.arrivals(), 1);
}

#[test]
fn a_whole_get_after_a_range_finds_the_checksum_computed_behind_it() {
    let (server, gate) = held_server(4);
    let data = place(&server, "cold.bin", 3);
    let part = get(&server, "cold.bin", "Range: bytes=10-19\r\n");
    assert_eq!(part.status, 206, "{}", part.head);
    assert_eq!(part.body, &data[10..20]);
    assert_eq!(part.header("X-Checksum-Crc32c"), None);
    // Computed behind the range, with nobody waiting for it.
    gate.wait_for_arrivals(1);
    gate.open();

    let whole = get(&server, "cold.bin", "");
    assert_eq!(whole.status, 200, "{}", whole.head);
    assert_eq!(whole.body, data);
    assert_eq!(
        whole.header("X-Checksum-Crc32c"),
        Some(crc_hex(&data).as_str())
    );
    let again = get(&server, "cold.bin", "Range: bytes=0-0\r\n");
    assert_eq!(
        again.header("X-Checksum-Crc32c"),
        Some(crc_hex(&data).as_str())
    );
    assert_eq!(computations(&server), 1);
    assert_eq!(gate.arrivals(), 1);
}

#[test]
fn the_etag_is_the_same_before_and_after_the_checksum_is_known() {
    let (server, gate) = held_server(4);
    let data = place(&server, "cold.bin", 4);
    let head = exchange(
        http_addr(&server),
        "HEAD",
        "/cold.bin",
        "Host: localhost\r\n",
        b"",
    );
    assert_eq!(head.status, 200, "{}", head.head);
    assert_eq!(head.header("X-Checksum-Crc32c"), None);
    let before = head.header("ETag").expect("an ETag").to_owned();
    gate.open();

    let whole = get(&server, "cold.bin", "");
    assert_eq!(
        whole.header("X-Checksum-Crc32c"),
        Some(crc_hex(&data).as_str())
    );
    assert_eq!(whole.header("ETag"), Some(before.as_str()));
    let part = get(
        &server,
        "cold.bin",
        &format!("Range: bytes=1-2\r\nIf-Range: {before}\r\n"),
    );
    assert_eq!(part.status, 206, "{}", part.head);
    assert_eq!(part.body, &data[1..3]);
    let unchanged = get(&server, "cold.bin", &format!("If-None-Match: {before}\r\n"));
    assert_eq!(unchanged.status, 304, "{}", unchanged.head);

    // A new version (same size, same second) is another tag: If-Range no
    // longer holds and the whole new file comes.
    let newer = pattern(data.len(), 5);
    let mut raw = server.raw();
    let mtime = support::mtime_secs(&server.path("cold.bin"));
    raw.send(format!("PUT cold.bin {} - mtime={mtime}\n", newer.len()));
    raw.send(&newer);
    raw.send(format!("CRC {}\n", crc_hex(&newer)));
    assert!(raw.line().starts_with("OK "));
    let replaced = get(
        &server,
        "cold.bin",
        &format!("Range: bytes=1-2\r\nIf-Range: {before}\r\n"),
    );
    assert_eq!(replaced.status, 200, "{}", replaced.head);
    assert_eq!(replaced.body, newer);
    assert_ne!(replaced.header("ETag"), Some(before.as_str()));
}

#[test]
fn a_ferry_get_of_a_cold_file_sends_its_bytes_before_its_checksum_is_known() {
    let (server, gate) = held_server(4);
    let total: u64 = 4 << 30;
    fs::File::create(server.path("big.bin"))
        .unwrap()
        .set_len(total)
        .unwrap();
    let mut raw = server.raw();
    raw.send("GET big.bin\n");
    assert_eq!(raw.get_line(), format!("OK {total} {total} -"));
    assert_eq!(raw.bytes(64 * 1024), vec![0; 64 * 1024]);
    assert_eq!(computations(&server), 0, "the file was read whole first");
    // Computed behind the answer, for the next one.
    gate.wait_for_arrivals(1);
    drop(raw);
    gate.open();

    let mut raw = server.raw();
    let deadline = std::time::Instant::now() + 6 * support::PATIENCE;
    let line = loop {
        raw.send("GET big.bin 0 0\n");
        let line = raw.get_line();
        if !line.ends_with(" -") {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the CRC-32C was never recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    raw.send("STAT big.bin\n");
    let stat = raw.line();
    let crc = stat.rsplit(' ').next().unwrap();
    assert_eq!(line, format!("OK 0 {total} {crc}"));
    assert_eq!(computations(&server), 1);
    assert_eq!(gate.arrivals(), 1);
}

#[test]
fn clients_download_a_cold_file_whose_checksum_is_not_known_yet() {
    let (server, gate) = held_server(4);
    let data = place(&server, "cold.bin", 6);
    assert_eq!(server.client().get_bytes("cold.bin").unwrap(), data);

    let work = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "--server",
            &server.addr.to_string(),
            "get",
            "cold.bin",
            "out",
        ])
        .current_dir(work.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert_eq!(fs::read(work.path().join("out")).unwrap(), data);
    assert!(
        !said.contains("crc"),
        "it named a checksum it never had: {said}"
    );
    assert_eq!(computations(&server), 0, "a client waited for the checksum");
    // The computation behind the download reaches the gate on its own
    // thread, maybe after the client is done: waited for, not raced.
    gate.wait_for_arrivals(1);
    assert_eq!(gate.arrivals(), 1);
}

/// Ranged reads of files without a recorded CRC queue computations nobody
/// waits for; at most `LATER_THREADS` of them run at once, and the crew
/// keeps a thread beyond them, so a STAT that waits for its own checksum
/// is answered while they are held (issue 49: eight 1-byte reads of cold
/// 2 GiB files held a STAT 2-10 s when they took every checksum thread).
#[test]
fn a_stat_never_waits_behind_computations_nobody_waits_for() {
    let gate = Arc::new(Gate::new(Point::LaterChecksum));
    let server = TestServer::start_with(|config| {
        config.gate = Some(Arc::clone(&gate));
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    for n in 0..8 {
        place(&server, &format!("big{n}"), n);
        let ranged = get(&server, &format!("big{n}"), "Range: bytes=0-0\r\n");
        assert_eq!(ranged.status, 206, "{}", ranged.head);
    }
    gate.wait_for_arrivals(1);
    let data = place(&server, "small", 99);
    let mut stat = ferry_stat(&server, "small");
    ferry_stated(&mut stat, &data);
    assert_eq!(
        gate.held(),
        ferry::pool::checksums::LATER_THREADS,
        "more computations nobody waits for ran at once than their share"
    );
    gate.open();
}
