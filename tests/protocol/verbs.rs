//! FERRY/1 over real sockets, checked byte for byte: every verb, ranges,
//! pipelining, fragmentation down to single bytes, half-closes, and what
//! happens to malformed input.

use crate::support;

use std::fs;

use support::{Raw, TestServer, crc_hex, pattern};

#[test]
fn greeting_carries_unique_increasing_client_ids() {
    let server = TestServer::start();
    let ids: Vec<u64> = (0..5)
        .map(|_| {
            let mut raw = Raw::connect(server.addr);
            let line = raw.line();
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(&fields[..2], ["OK", "FERRY/1"], "{line:?}");
            fields[2].parse().unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn every_verb_answers_exactly_as_specified() {
    let server = TestServer::start();
    let mut raw = server.raw();

    raw.send("PUT dir/hello%20world.txt 5 9a71bb4c\nhello");
    assert_eq!(raw.line(), "OK 5 9a71bb4c");
    assert_eq!(
        std::fs::read(server.path("dir/hello world.txt")).unwrap(),
        b"hello"
    );

    raw.send("GET dir/hello%20world.txt\n");
    assert_eq!(raw.get_line(), "OK 5 5 9a71bb4c");
    assert_eq!(raw.bytes(5), b"hello");

    raw.send("STAT dir/hello%20world.txt\n");
    let mtime = support::mtime_secs(&server.path("dir/hello world.txt"));
    assert_eq!(raw.line(), format!("OK 5 {mtime} 9a71bb4c"));

    raw.send("LIST\n");
    let listing = format!("5 {mtime} dir/hello%20world.txt\n");
    assert_eq!(raw.line(), format!("OK {}", listing.len()));
    assert_eq!(raw.bytes(listing.len()), listing.as_bytes());

    raw.send("ECHO 4\nping");
    assert_eq!(raw.line(), "OK 4");
    assert_eq!(raw.bytes(4), b"ping");

    raw.send("DEL dir/hello%20world.txt\n");
    assert_eq!(raw.line(), "OK");
    raw.send("STAT dir/hello%20world.txt\n");
    assert!(raw.line().starts_with("ERR 404 "));

    raw.send("QUIT\n");
    assert_eq!(raw.line(), "OK");
    raw.expect_closed();
}

#[test]
fn put_without_checksum_reports_the_one_computed() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let body = pattern(1000, 1);
    raw.send(format!("PUT x {}\n", body.len()));
    raw.send(&body);
    assert_eq!(raw.line(), format!("OK 1000 {}", crc_hex(&body)));
}

#[test]
fn ranged_gets_follow_offset_and_length() {
    let server = TestServer::start();
    let body = pattern(10_000, 2);
    server.client().put_bytes("r", &body).unwrap();
    let mut raw = server.raw();
    for (request, start, len) in [
        ("GET r 0\n", 0, 10_000),
        ("GET r 9000\n", 9000, 1000),
        ("GET r 100 50\n", 100, 50),
        ("GET r 9990 50\n", 9990, 10),
        ("GET r 10000\n", 10_000, 0),
        ("GET r 0 0\n", 0, 0),
    ] {
        raw.send(request);
        let crc = crc_hex(&body);
        assert_eq!(
            raw.get_line(),
            format!("OK {len} 10000 {crc}"),
            "{request:?}"
        );
        assert_eq!(raw.bytes(len), &body[start..start + len], "{request:?}");
    }
    raw.send("GET r 10001\n");
    assert!(raw.line().starts_with("ERR 416 "));
    raw.send("ECHO 1\n!");
    assert_eq!(raw.line(), "OK 1", "416 leaves the connection usable");
}

#[test]
fn empty_and_binary_files_round_trip() {
    let server = TestServer::start();
    let mut client = server.client();
    client.put_bytes("empty", b"").unwrap();
    assert_eq!(client.get_bytes("empty").unwrap(), b"");
    assert_eq!(client.stat("empty").unwrap().size, 0);
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(256 * 40).collect();
    client.put_bytes("bin/all-bytes", &every_byte).unwrap();
    assert_eq!(client.get_bytes("bin/all-bytes").unwrap(), every_byte);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start();
    let big = pattern(3 * 1024 * 1024, 3);
    server.client().put_bytes("big", &big).unwrap();

    let mut raw = server.raw();
    let mut batch = Vec::new();
    batch.extend_from_slice(b"PUT a 3\nabcGET big\nSTAT a\nGET a 1\nECHO 2\nxyDEL a\nGET a\n");
    raw.send(&batch);
    assert_eq!(raw.line(), format!("OK 3 {}", crc_hex(b"abc")));
    assert_eq!(
        raw.get_line(),
        format!("OK {0} {0} {1}", big.len(), crc_hex(&big))
    );
    assert!(raw.bytes(big.len()) == big, "big body intact");
    assert!(raw.line().starts_with("OK 3 "));
    assert_eq!(raw.get_line(), format!("OK 2 3 {}", crc_hex(b"abc")));
    assert_eq!(raw.bytes(2), b"bc");
    assert_eq!(raw.line(), "OK 2");
    assert_eq!(raw.bytes(2), b"xy");
    assert_eq!(raw.line(), "OK");
    assert!(raw.line().starts_with("ERR 404 "));
}

#[test]
fn many_pipelined_small_puts_in_one_write() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..300 {
        let body = format!("file number {i}");
        batch.extend_from_slice(format!("PUT many/{i:03} {}\n{body}", body.len()).as_bytes());
    }
    raw.send(&batch);
    for i in 0..300 {
        let body = format!("file number {i}");
        assert_eq!(
            raw.line(),
            format!("OK {} {}", body.len(), crc_hex(body.as_bytes()))
        );
    }
    assert_eq!(server.client().list("many/").unwrap().len(), 300);
}

#[test]
fn a_client_sending_one_byte_at_a_time_is_served() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let body = pattern(300, 4);
    let mut script = format!("PUT slow/one {} {}\r\n", body.len(), crc_hex(&body)).into_bytes();
    script.extend_from_slice(&body);
    script.extend_from_slice(b"GET slow/one 10 20\n");
    for byte in script {
        raw.send([byte]);
    }
    assert_eq!(raw.line(), format!("OK 300 {}", crc_hex(&body)));
    assert_eq!(raw.get_line(), format!("OK 20 300 {}", crc_hex(&body)));
    assert_eq!(raw.bytes(20), &body[10..30]);
}

#[test]
fn half_closing_after_a_put_body_still_gets_the_answer() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send("PUT hc 4\ndata");
    raw.finish_sending();
    assert_eq!(raw.line(), format!("OK 4 {}", crc_hex(b"data")));
    raw.expect_closed();
    assert_eq!(std::fs::read(server.path("hc")).unwrap(), b"data");
}

#[test]
fn eof_inside_a_body_stores_nothing_and_says_why() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send("PUT cut 100\nonly-part");
    raw.finish_sending();
    assert!(raw.line().starts_with("ERR 400 "));
    raw.expect_closed();
    // The temp file goes once a write still out behind the connection is
    // back, which may be after the answer.
    let files = server.settled_files_on_disk();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn unparseable_lines_get_400_and_close() {
    let server = TestServer::start();
    for garbage in [
        &b"HELLO\n"[..],
        b"put x 1\n",
        b"PUT x notanumber\n",
        b"GET  x\n",
        b"\x00\x01\x02\xff\n",
        b"PUT x 1 nothex!!\n",
    ] {
        let mut raw = server.raw();
        raw.send(garbage);
        let line = raw.line();
        assert!(line.starts_with("ERR 400 "), "{garbage:?} -> {line:?}");
        raw.expect_closed();
    }
}

#[test]
fn overlong_request_lines_get_431_and_close() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(vec![b'A'; 5000]);
    assert!(raw.line().starts_with("ERR 431 "));
    raw.expect_closed();

    // A line of exactly 4096 bytes with its newline is still parsed.
    let mut raw = server.raw();
    let name = "n".repeat(4096 - "STAT \n".len());
    raw.send(format!("STAT {name}\n"));
    assert!(
        raw.line().starts_with("ERR 400 "),
        "name too long, but the line was read"
    );
}

#[test]
fn echo_streams_bodies_larger_than_any_buffer() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let body = pattern(8 * 1024 * 1024, 5);
    raw.send(format!("ECHO {}\n", body.len()));
    // Write from another thread: the echo comes back while we still send.
    let mut writer = raw.stream.try_clone().unwrap();
    let to_send = body.clone();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&to_send).unwrap();
    });
    assert_eq!(raw.line(), format!("OK {}", body.len()));
    assert!(raw.bytes(body.len()) == body);
    sender.join().unwrap();
}

#[test]
fn move_renames_within_the_root_creating_and_pruning_folders() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let data = pattern(1000, 7);
    raw.send("PUT a/b/one 1000\n");
    raw.send(&data);
    assert_eq!(raw.line(), format!("OK 1000 {}", crc_hex(&data)));
    let mut ask = |line: &str| {
        raw.send(format!("{line}\n"));
        raw.line()
    };
    // Into a folder that is not there yet; the emptied ones go.
    assert_eq!(ask("MOVE a/b/one x/y/two%20words"), "OK");
    assert!(!server.path("a").exists(), "a/ and a/b/ were pruned");
    assert_eq!(fs::read(server.path("x/y/two words")).unwrap(), data);
    assert_eq!(
        ask("STAT x/y/two%20words").split(' ').nth(3),
        Some(crc_hex(&data).as_str()),
        "the checksum moved with the file"
    );
    // Over a file, as PUT would.
    fs::write(server.path("x/old"), b"old").unwrap();
    assert_eq!(ask("MOVE x/y/two%20words x/old"), "OK");
    assert_eq!(fs::read(server.path("x/old")).unwrap(), data);
    assert_eq!(ask("MOVE x/old x/old"), "OK");
    // Not onto a folder, not from a folder, not from nothing, not below a
    // file; the source stays where it was.
    fs::create_dir_all(server.path("dir/sub")).unwrap();
    fs::write(server.path("dir/sub/f"), b"f").unwrap();
    assert!(ask("MOVE x/old dir").starts_with("ERR 409 "));
    assert!(ask("MOVE dir x/new").starts_with("ERR 409 "));
    assert!(ask("MOVE nothere x/new").starts_with("ERR 404 "));
    assert!(ask("MOVE x/old x/old/below").starts_with("ERR 409 "));
    assert!(ask("MOVE x/old .ferry-x").starts_with("ERR 403 "));
    assert!(ask("MOVE ../x y").starts_with("ERR 400 "));
    assert_eq!(fs::read(server.path("x/old")).unwrap(), data);
    assert!(ask("MOVE x/old").starts_with("ERR 400 "));
    raw.expect_closed();
}

#[test]
fn move_is_refused_on_a_read_only_server() {
    let server = TestServer::start_with(|c| c.read_only = true);
    fs::write(server.path("f"), b"f").unwrap();
    let mut raw = server.raw();
    raw.send("MOVE f g\n");
    assert!(raw.line().starts_with("ERR 403 "));
    assert!(server.path("f").exists() && !server.path("g").exists());
}

#[test]
fn an_upload_may_give_its_file_a_modification_time() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    let mut raw = server.raw();
    let data = pattern(300, 3);
    let crc = crc_hex(&data);
    let put = |raw: &mut Raw, line: String| {
        raw.send(line);
        raw.send(&data);
        raw.line()
    };
    assert_eq!(
        put(&mut raw, format!("PUT old 300 {crc} mtime=1000000000\n")),
        format!("OK 300 {crc}")
    );
    assert_eq!(
        put(&mut raw, "PUT older 300 mtime=86400\n".into()),
        format!("OK 300 {crc}")
    );
    raw.send("STAT old\n");
    assert_eq!(raw.line(), format!("OK 300 1000000000 {crc}"));
    raw.send("LIST old\n");
    assert_eq!(raw.line(), "OK 35");
    assert_eq!(raw.bytes(35), b"300 1000000000 old\n300 86400 older\n");
    // A resumable upload takes it at COMMIT, where the file lands.
    let (id, _) = support::upload(&mut raw, "resumed", &data);
    assert_eq!(support::append(&mut raw, &id, 0, &data), "OK 300");
    raw.send(format!("COMMIT {id} mtime=1234567890\n"));
    assert_eq!(raw.line(), format!("OK 300 {crc}"));
    raw.send("STAT resumed\n");
    assert_eq!(raw.line(), format!("OK 300 1234567890 {crc}"));
    // Over HTTP: X-Ferry-Mtime; it shows as Last-Modified.
    let url = format!("http://{}/web", server.http.unwrap());
    ureq::put(&url)
        .header("X-Ferry-Mtime", "1000000000")
        .send(&data[..])
        .unwrap();
    let got = ureq::get(&url).call().unwrap();
    assert_eq!(
        got.headers().get("last-modified").unwrap(),
        "Sun, 09 Sep 2001 01:46:40 GMT"
    );
    match ureq::put(&url)
        .header("X-Ferry-Mtime", "-1")
        .send(&data[..])
    {
        Err(ureq::Error::StatusCode(400)) => {}
        other => panic!("{other:?}"),
    }
    // Without one, the file gets the time it was written.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        put(&mut raw, "PUT new 300\n".into()),
        format!("OK 300 {crc}")
    );
    raw.send("STAT new\n");
    let mtime: u64 = raw.line().split(' ').nth(2).unwrap().parse().unwrap();
    assert!(mtime + 5 >= now, "{mtime} vs {now}");
}

#[test]
fn a_checksum_may_follow_the_body() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let data = pattern(100_000, 9);
    let crc = crc_hex(&data);
    // The CRC comes in a 13-byte trailer after the body; sent a byte at a
    // time where the body meets it.
    raw.send("PUT t 100000 - mtime=86400\n");
    raw.send(&data[..99_990]);
    for byte in data[99_990..]
        .iter()
        .chain(format!("CRC {crc}\n").as_bytes())
    {
        raw.send([*byte]);
    }
    assert_eq!(raw.line(), format!("OK 100000 {crc}"));
    assert_eq!(fs::read(server.path("t")).unwrap(), data);
    raw.send("STAT t\n");
    assert_eq!(raw.line(), format!("OK 100000 86400 {crc}"));
    // A trailer that does not match, or is malformed, discards the upload;
    // the stream stays in step.
    raw.send("PUT u 5 -\nhelloCRC 00000000\n");
    assert!(raw.line().starts_with("ERR 422 "));
    raw.send(format!(
        "PUT u 5 -\nhelloCRC {}\r\n",
        &crc_hex(b"hello")[..7]
    ));
    assert!(raw.line().starts_with("ERR 400 "));
    raw.send("PUT ../u 5 -\nhelloCRC 00000000\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.send(format!("PUT e 0 -\nCRC {}\n", crc_hex(b"")));
    assert_eq!(raw.line(), "OK 0 00000000");
    raw.send("STAT u\n");
    assert!(raw.line().starts_with("ERR 404 "));
    assert!(support::temp_files(&server.path("")).is_empty());
    raw.send("QUIT\n");
    assert_eq!(raw.line(), "OK");
}

#[test]
fn a_refused_upload_skips_its_trailer_too() {
    let server = TestServer::start_with(|c| c.read_only = true);
    let mut raw = server.raw();
    raw.send("PUT t 5 -\nhelloCRC 00000000\nQUIT\n");
    assert!(raw.line().starts_with("ERR 403 "));
    assert_eq!(raw.line(), "OK");
}

/// A name with a Unicode direction control (`invoice<RLO>fdp.exe` shows as
/// `invoiceexe.pdf`) is refused like one with a control character, sent raw
/// or percent-encoded, by every verb that takes a name or a prefix; the
/// connection goes on and nothing is stored.
#[test]
fn names_with_direction_controls_are_refused_by_every_verb() {
    let server = TestServer::start();
    fs::write(server.path("plain"), b"p").unwrap();
    let mut raw = server.raw();
    for name in [
        "invoice\u{202E}fdp.exe",
        "invoice%E2%80%AEfdp.exe",
        "a\u{2067}/b",
        "x\u{200F}",
    ] {
        let lines = [
            format!("PUT {name} 5\nhello"),
            format!("PUT {name} 5 -\nhelloCRC {}\n", crc_hex(b"hello")),
            format!("UPLOAD {name} 5 {}\n", crc_hex(b"hello")),
            format!("GET {name}\n"),
            format!("STAT {name}\n"),
            format!("DEL {name}\n"),
            format!("MOVE plain {name}\n"),
            format!("MOVE {name} plain2\n"),
            format!("LIST {name}\n"),
        ];
        for line in lines {
            raw.send(&line);
            let answer = raw.line();
            assert!(
                answer.starts_with("ERR 400 Unicode direction control"),
                "{line:?}: {answer}"
            );
        }
    }
    raw.send("STAT plain\n");
    assert!(raw.line().starts_with("OK 1 "), "still in step");
    assert_eq!(support::entries(&server.path("")), ["plain"]);
}

/// What the FERRY/1 port sends an HTTP client after its greeting.
fn answer_to_http(server: &TestServer, request: &str) -> String {
    let all = support::http::send_raw(server.addr, request.as_bytes());
    let (greeting, rest) = all.split_once('\n').unwrap();
    assert!(greeting.starts_with("OK FERRY/1 "), "{all:?}");
    rest.to_owned()
}

#[test]
fn an_http_request_on_the_ferry_port_gets_an_http_400_naming_the_http_port() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    let http_port = server.http.unwrap().port();
    let body = format!("this is ferry's FERRY/1 port; HTTP is on port {http_port}\n");
    for request in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD /a.txt HTTP/1.0\r\n\r\n",
        "POST /in HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    ] {
        let answer = answer_to_http(&server, request);
        assert_eq!(
            answer,
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            "{request:?}"
        );
    }
    // A FERRY/1 mistake is still answered in FERRY/1.
    let mut raw = server.raw();
    raw.send("GET / 0 1\n");
    assert!(raw.line().starts_with("ERR 400 "));

    // curl sees the greeting first (HTTP/0.9 to it), then the answer.
    let curl = std::process::Command::new("curl")
        .args(["-s", "--http0.9", "--max-time", "20"])
        .arg(format!("http://{}/", server.addr))
        .output();
    match curl {
        Ok(out) => assert!(
            String::from_utf8_lossy(&out.stdout).contains(&body),
            "{out:?}"
        ),
        Err(err) => eprintln!("curl not run: {err}"),
    }
}

#[test]
fn without_an_http_listener_the_answer_says_there_is_none() {
    let server = TestServer::start();
    let answer = answer_to_http(&server, "GET / HTTP/1.1\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("this server serves no HTTP: use a FERRY/1 client (ferry --server)\n")
    );
}
