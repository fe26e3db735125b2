//! The disk reserve (`--min-free`): a write that would leave the root's
//! file system with less free is refused with 507 before its bytes are
//! taken, through every protocol's write, and nothing of it is stored;
//! reads and deletes go on; a resumable upload refused for room goes on
//! once there is room. (S3's writes: `tests/s3/objects.rs`. Where exactly
//! the line falls: the unit tests of `serve/room.rs`.)

use crate::support;

use ferry::config::{Config, MinFree};
use support::http::exchange;
use support::{TestServer, crc_hex, listen_http, pattern};

/// More than any disk: every write is into the reserve.
const ALL_OF_IT: MinFree = MinFree::Bytes(u64::MAX / 2);

fn reserving(config: &mut Config) {
    listen_http(config);
    config.min_free = ALL_OF_IT;
}

#[test]
fn every_protocols_write_into_the_reserve_is_refused_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("kept"), b"kept bytes").unwrap();
    let server = TestServer::start_in(root, reserving);
    let http = server.http.unwrap();

    let mut raw = server.raw();
    raw.send("PUT new 5\nhello");
    let refused = raw.line();
    assert!(refused.starts_with("ERR 507 no room"), "{refused}");
    // The small body was skipped: the connection goes on.
    raw.send("STAT kept\n");
    assert!(raw.line().starts_with("OK 10 "));
    raw.send(format!("UPLOAD big 5 {}\n", crc_hex(b"hello")));
    assert!(raw.line().starts_with("ERR 507 "));
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0", "a refused UPLOAD leaves no session");

    let host = format!("Host: {http}\r\n");
    let put = exchange(http, "PUT", "/new", &host, b"hello");
    assert_eq!(put.status, 507, "{}", put.head);
    let copy = exchange(
        http,
        "COPY",
        "/kept",
        &format!("{host}Destination: /copy\r\n"),
        b"",
    );
    assert_eq!(copy.status, 507, "{}", copy.head);
    let tus = exchange(
        http,
        "POST",
        "/",
        // The filename `x`, in base64.
        &format!(
            "{host}Tus-Resumable: 1.0.0\r\nUpload-Length: 5\r\nUpload-Metadata: filename eA==\r\n"
        ),
        b"",
    );
    assert_eq!(tus.status, 507, "{}", tus.head);
    assert_eq!(server.settled_files_on_disk(), ["kept"]);

    // Reads and deletes need no room.
    let got = exchange(http, "GET", "/kept", &host, b"");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"kept bytes"[..]));
    raw.send("DEL kept\n");
    assert_eq!(raw.line(), "OK");
    assert!(server.settled_files_on_disk().is_empty());
}

#[test]
fn a_streamed_put_of_a_length_to_come_is_refused_before_its_body() {
    let server = TestServer::start_with(reserving);
    let mut raw = server.raw();
    raw.send("PUT new * -\n");
    assert!(raw.line().starts_with("ERR 507 "));
    let http = server.http.unwrap();
    let chunked = exchange(
        http,
        "PUT",
        "/new",
        &format!("Host: {http}\r\nTransfer-Encoding: chunked\r\n"),
        b"",
    );
    assert_eq!(chunked.status, 507, "{}", chunked.head);
    assert!(server.settled_files_on_disk().is_empty());
}

/// Stops `server` and starts another on its root with `min_free`.
fn restart(server: TestServer, min_free: MinFree) -> TestServer {
    restart_with(server, |c| c.min_free = min_free)
}

/// Stops `server` and starts another on its root, configured by `adjust`.
fn restart_with(mut server: TestServer, adjust: impl FnOnce(&mut Config)) -> TestServer {
    server.handle().shutdown();
    server.wait_for_exit().unwrap();
    let root = std::mem::replace(&mut server.root, tempfile::tempdir().unwrap());
    TestServer::start_in(root, adjust)
}

#[test]
fn a_resumable_upload_refused_for_room_goes_on_once_there_is_room() {
    let data = pattern(64 << 10, 5);
    let crc = crc_hex(&data);
    let half = data.len() / 2;
    let server = TestServer::start_with(|c| c.min_free = MinFree::Bytes(0));
    let (id, _) = support::upload(&mut server.raw(), "big", &data);
    let staged = support::append(&mut server.raw(), &id, 0, &data[..half]);
    assert_eq!(staged, format!("OK {half}"));

    // The disk is "full" now: the session is neither lost nor grown.
    let server = restart(server, ALL_OF_IT);
    let mut raw = server.raw();
    let refused = support::append(&mut raw, &id, half, &data[half..]);
    assert!(refused.starts_with("ERR 507 "), "{refused}");
    raw.send(format!("UPLOAD big {} {crc}\n", data.len()));
    assert!(raw.line().starts_with("ERR 507 "));
    raw.send("SESSIONS\n");
    let listed = raw.line();
    let len: usize = listed.strip_prefix("OK ").unwrap().parse().unwrap();
    let sessions = String::from_utf8(raw.bytes(len)).unwrap();
    assert_eq!(
        sessions.lines().count(),
        1,
        "the session with bytes in it stays"
    );
    assert!(sessions.starts_with(&id), "{sessions}");

    // Room again: it goes on where it stood.
    let server = restart(server, MinFree::Bytes(0));
    let mut raw = server.raw();
    raw.send(format!("UPLOAD big {} {crc}\n", data.len()));
    assert_eq!(raw.line(), format!("OK {id} {half}"));
    let staged = support::append(&mut raw, &id, half, &data[half..]);
    assert_eq!(staged, format!("OK {}", data.len()));
    raw.send(format!("COMMIT {id}\n"));
    assert_eq!(raw.line(), format!("OK {} {crc}", data.len()));
    assert_eq!(std::fs::read(server.path("big")).unwrap(), data);
}

/// `DF`'s answer: `OK <free> <used> <files free> <files used>`.
fn df(raw: &mut support::Raw, folder: &str) -> Result<[u64; 4], String> {
    raw.send(format!("DF{folder}\n"));
    let line = raw.line();
    let Some(fields) = line.strip_prefix("OK ") else {
        return Err(line);
    };
    let numbers: Vec<u64> = fields.split(' ').map(|n| n.parse().unwrap()).collect();
    Ok(numbers.try_into().unwrap())
}

#[test]
fn df_tells_the_room_above_the_reserve() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    std::fs::write(root.path().join("file"), b"x").unwrap();
    let disk = rustix::fs::statvfs(root.path()).unwrap();
    let server = TestServer::start_in(root, |c| c.min_free = MinFree::Bytes(0));
    let mut raw = server.raw();
    let [free, used, files_free, files_used] = df(&mut raw, "").unwrap();
    // The disk's own figures, give or take what other tests write meanwhile.
    let near = |a: u64, b: u64| a.abs_diff(b) < 1 << 30;
    assert!(near(free, disk.f_bavail * disk.f_frsize), "{free}");
    assert!(near(used, (disk.f_blocks - disk.f_bfree) * disk.f_frsize));
    assert!(files_free > 0 && files_used > 0);
    assert!(df(&mut raw, " sub").is_ok());
    assert!(df(&mut raw, " nosuch").unwrap_err().starts_with("ERR 404 "));
    let not_a_folder = df(&mut raw, " file").unwrap_err();
    assert!(not_a_folder.starts_with("ERR 404 "), "{not_a_folder}");
    assert!(df(&mut raw, " a/").unwrap_err().starts_with("ERR 400 "));

    // With all of the disk kept in reserve, there is no room at all.
    let server = restart(server, ALL_OF_IT);
    let [free, used, ..] = df(&mut server.raw(), "").unwrap();
    assert_eq!(free, 0);
    assert!(used > 0);
}

#[test]
fn df_needs_a_grant_within_the_folder_and_tells_nothing_beyond_it() {
    let (server, tokens, _dir) = support::tokens::guarded(&[("camera", &["write:/inbox/"])], &[]);
    std::fs::create_dir(server.path("inbox")).unwrap();
    std::fs::create_dir(server.path("secret")).unwrap();
    let mut raw = server.raw();
    assert!(df(&mut raw, "").unwrap_err().starts_with("ERR 401 "));
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert!(raw.line().starts_with("OK"));
    assert!(df(&mut raw, "").is_ok(), "a write-only token may ask");
    assert!(df(&mut raw, " inbox").is_ok());
    // A folder out of reach is refused alike whether it is there or not.
    let there = df(&mut raw, " secret").unwrap_err();
    let absent = df(&mut raw, " nosuch").unwrap_err();
    assert!(there.starts_with("ERR 403 "), "{there}");
    assert_eq!(there.replace("secret", "nosuch"), absent);
}

/// WebDAV's quota properties (RFC 4331; davfs2's `df`) tell the same room
/// as `DF`: with all of the disk kept in reserve, none is available.
#[test]
fn webdav_tells_the_room_above_the_reserve() {
    let server = TestServer::start_with(reserving);
    let http = server.http.unwrap();
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;
    let found = exchange(
        http,
        "PROPFIND",
        "/",
        &format!("Host: {http}\r\nDepth: 0\r\n"),
        ask.as_bytes(),
    );
    assert_eq!(found.status, 207, "{}", found.head);
    let text = found.text();
    assert!(text.contains("quota-available-bytes>0<"), "{text}");
    assert!(!text.contains("quota-used-bytes>0<"), "{text}");
}

/// Uploads of a length to come (FERRY/1's `PUT name * -`, which `ferry
/// put -` sends; an HTTP chunked PUT; FTP's `STOR`) take room from the
/// reserve write by write: on a 16 MiB disk keeping 8 MiB free, one of
/// 12 MiB is refused once it reaches the reserve, nothing of it is kept,
/// and the reserve is still free; one of 2 MiB lands. Before, they were
/// judged for nothing at their begin and wrote into the reserve (issue
/// 75: a camera's FTP upload filled it).
#[test]
fn uploads_of_a_length_to_come_stop_at_the_reserve() {
    use std::io::Write;
    let Some(fs) = support::tmpfs::Tmpfs::mount("16m", "") else {
        return;
    };
    const RESERVE: u64 = 8 << 20;
    let root = tempfile::Builder::new().tempdir_in(fs.path()).unwrap();
    let server = TestServer::start_in(root, |c| {
        listen_http(c);
        support::listen_ftp(c);
        c.min_free = MinFree::Bytes(RESERVE);
    });
    let free = || {
        let fs = rustix::fs::statvfs(server.root.path()).unwrap();
        fs.f_bavail * fs.f_frsize
    };
    let (big, small) = (pattern(12 << 20, 1), pattern(2 << 20, 2));
    // Sends `body`, then the stream's end, beside the answer's read: the
    // server may answer, and stop reading, before it is all sent. Ended
    // by `done` once the answer is in.
    let aside = |stream: &std::net::TcpStream, body: Vec<u8>| {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = stream.write_all(&body);
            let _ = stream.shutdown(std::net::Shutdown::Write);
        })
    };
    let done = |stream: &std::net::TcpStream, sender: std::thread::JoinHandle<()>| {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        sender.join().unwrap();
    };
    let streamed = |name: &str, body: &[u8]| {
        let mut raw = server.raw();
        raw.send(format!("PUT {name} * -\n"));
        let mut chunks = Vec::new();
        for piece in body.chunks(1 << 20) {
            chunks.extend(format!("{:x}\r\n", piece.len()).as_bytes());
            chunks.extend(piece);
            chunks.extend(b"\r\n");
        }
        chunks.extend(format!("0\r\nCRC {}\r\n\r\n", crc_hex(body)).as_bytes());
        let sender = aside(&raw.stream, chunks);
        let answer = raw.line();
        done(&raw.stream, sender);
        answer
    };
    let refused = streamed("ferry-big", &big);
    assert!(refused.starts_with("ERR 507 no room"), "{refused}");
    assert!(streamed("ferry-small", &small).starts_with("OK "));

    let http = server.http.unwrap();
    let chunked = |name: &str, body: &[u8]| {
        let mut conn = std::net::TcpStream::connect(http).unwrap();
        conn.write_all(
            format!("PUT /{name} HTTP/1.1\r\nHost: {http}\r\nTransfer-Encoding: chunked\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let mut chunks = Vec::new();
        for piece in body.chunks(1 << 20) {
            chunks.extend(format!("{:x}\r\n", piece.len()).as_bytes());
            chunks.extend(piece);
            chunks.extend(b"\r\n");
        }
        chunks.extend(b"0\r\n\r\n");
        let sender = aside(&conn, chunks);
        let answer = support::http::read_answer(&mut conn);
        done(&conn, sender);
        answer.status
    };
    assert_eq!(chunked("http-big", &big), 507);
    assert_eq!(chunked("http-small", &small), 201);

    let mut ftp = support::ftp::connect(&server);
    support::ftp::log_in(&mut ftp, "me", "x");
    let mut stor = |name: &str, body: &[u8]| {
        let addr = support::ftp::passive(&mut ftp);
        let data = std::net::TcpStream::connect(addr).unwrap();
        let began = support::ftp::ask(&mut ftp, &format!("STOR {name}"));
        assert!(began.starts_with("150 "), "{began}");
        let sender = aside(&data, body.to_vec());
        let answer = support::ftp::line(&mut ftp);
        done(&data, sender);
        answer
    };
    let refused = stor("ftp-big", &big);
    assert!(refused.starts_with("552 no room"), "{refused}");
    assert!(stor("ftp-small", &small).starts_with("226 "));

    assert_eq!(
        server.settled_files_on_disk(),
        ["ferry-small", "ftp-small", "http-small"]
    );
    assert!(free() >= RESERVE, "{} bytes free", free());
    // Nothing of the refused ones is kept for a resume either.
    let mut raw = server.raw();
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0");
    // A refused upload's temp file goes as its request ends, maybe just
    // after the answer.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !support::temp_files(server.root.path()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "temp files left");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A folder's COPY takes each file's room from the reserve before it
/// copies it: on a 16 MiB disk keeping 8 MiB free, a tree of four files
/// of 1.5 MiB, with 10 MiB free, copies what fits above the reserve, and
/// tells the rest (207, each `507`). Before, the copy was judged for
/// nothing where no quota applied, and all of it landed in the reserve.
#[test]
fn a_folder_copy_stops_at_the_reserve_and_tells_what_it_left() {
    let Some(fs) = support::tmpfs::Tmpfs::mount("16m", "") else {
        return;
    };
    const RESERVE: u64 = 8 << 20;
    let root = tempfile::Builder::new().tempdir_in(fs.path()).unwrap();
    std::fs::create_dir(root.path().join("tree")).unwrap();
    for n in 0..4 {
        let file = root.path().join(format!("tree/f{n}"));
        std::fs::write(file, pattern(3 << 19, n)).unwrap();
    }
    let server = TestServer::start_in(root, |c| {
        listen_http(c);
        c.min_free = MinFree::Bytes(RESERVE);
    });
    let free = || {
        let fs = rustix::fs::statvfs(server.root.path()).unwrap();
        fs.f_bavail * fs.f_frsize
    };
    assert!(
        free() > RESERVE + (1 << 20),
        "room for a file above the reserve"
    );
    let http = server.http.unwrap();
    let headers = format!("Host: {http}\r\nDestination: /copy/\r\n");
    let copied = exchange(http, "COPY", "/tree/", &headers, b"");
    assert_eq!(copied.status, 207, "{}", copied.head);
    assert!(copied.text().contains("507"), "{}", copied.text());
    assert!(free() >= RESERVE, "{} bytes free", free());
    // What was copied is whole; what was not, not there.
    for n in 0..4 {
        if let Ok(bytes) = std::fs::read(server.path(&format!("copy/f{n}"))) {
            assert_eq!(bytes, pattern(3 << 19, n));
        }
    }
}

/// A PROPPATCH that grows a file's record of dead properties is a write
/// like any other: refused (507, in its multistatus) where the disk is
/// into the reserve, and nothing of it is kept; one that removes goes on,
/// as a delete does.
#[test]
fn a_proppatch_that_grows_its_record_stops_at_the_reserve() {
    use support::dav::{parse, propfind};
    const Z: &str = "urn:ferry:test";
    let patch = |http, set: &str, remove: &str| {
        let body = format!(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}">{set}{remove}</D:propertyupdate>"#
        );
        exchange(
            http,
            "PROPPATCH",
            "/kept",
            "Host: localhost\r\n",
            body.as_bytes(),
        )
    };
    let set = |value: &str| format!("<D:set><D:prop><Z:color>{value}</Z:color></D:prop></D:set>");
    let remove = "<D:remove><D:prop><Z:color/></D:prop></D:remove>";
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("kept"), b"kept bytes").unwrap();
    let server = TestServer::start_in(root, |c| {
        listen_http(c);
        c.min_free = MinFree::Bytes(0);
    });
    let answer = parse(&patch(server.http.unwrap(), &set("red"), ""));
    assert_eq!(answer.status("/kept", Z, "color"), Some(200));

    let server = restart_with(server, reserving);
    let http = server.http.unwrap();
    let color = |http| {
        let body = format!(
            r#"<D:propfind xmlns:D="DAV:" xmlns:Z="{Z}"><D:prop><Z:color/></D:prop></D:propfind>"#
        );
        let found = parse(&propfind(http, "/kept", Some("0"), "", &body));
        found
            .get("/kept", Z, "color")
            .map(|value| value.text.clone())
    };
    let grown = patch(http, &set(&"a longer value".repeat(64)), "");
    assert_eq!(grown.status, 207, "{}", grown.head);
    assert_eq!(parse(&grown).status("/kept", Z, "color"), Some(507));
    assert_eq!(color(http).as_deref(), Some("red"), "nothing of it kept");
    // The time alone takes no room: it goes on (FTP's MFMT, SFTP's
    // SETSTAT and Windows Explorer's times take this way).
    let time = "<D:set><D:prop><D:getlastmodified>Mon, 01 Jan 2024 00:00:00 GMT</D:getlastmodified></D:prop></D:set>";
    let timed = parse(&patch(http, time, ""));
    assert_eq!(timed.status("/kept", "DAV:", "getlastmodified"), Some(200));
    let modified = std::fs::metadata(server.path("kept"))
        .unwrap()
        .modified()
        .unwrap();
    let epoch = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(epoch, 1_704_067_200);
    // With a record that grows, all or nothing: the time stays too.
    let later = time.replace("2024", "2025");
    let both = parse(&patch(http, &format!("{}{later}", set("blue")), ""));
    assert_eq!(both.status("/kept", Z, "color"), Some(507));
    assert_eq!(both.status("/kept", "DAV:", "getlastmodified"), Some(424));
    let kept = std::fs::metadata(server.path("kept"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(kept, modified, "the time is as it was");
    let removed = parse(&patch(http, "", remove));
    assert_eq!(removed.status("/kept", Z, "color"), Some(200));
    assert_eq!(color(http), None);
}
