//! FTP's data connection: `PASV`/`EPSV`, then `RETR` (from `REST`'s
//! offset), `LIST`, `NLST` and `MLSD` on it, answered `150` as it begins and
//! `226` once it is whole; a data connection from another address is
//! refused; a transfer without `PASV` is `425`; what one protocol
//! stores the others read.

use crate::support;

use std::io::Read;
use std::net::TcpStream;

use crate::support::ftp::{ask, line, logged_in, logged_in_with, passive, store, transfer};
use support::{Raw, pattern};

#[test]
fn retr_sends_a_file_whole_or_from_rest() {
    let (server, mut raw) = logged_in();
    let body = pattern(300_000, 7);
    std::fs::create_dir(server.root.path().join("dcim")).unwrap();
    std::fs::write(server.root.path().join("dcim/big.bin"), &body).unwrap();
    std::fs::write(server.root.path().join("dcim/small.txt"), b"hello").unwrap();
    let (bytes, began, ended) = transfer(&mut raw, "RETR dcim/big.bin");
    assert!(began.starts_with("150 "), "{began}");
    assert_eq!(ended, "226 done");
    assert!(bytes == body, "the file whole");
    let (bytes, _, ended) = transfer(&mut raw, "RETR /dcim/small.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"hello"[..], "226 done")
    );
    // A folder is no file: refused, and nothing is left waiting.
    let addr = passive(&mut raw);
    let _data = TcpStream::connect(addr).unwrap();
    let folder = ask(&mut raw, "RETR dcim");
    assert!(folder.starts_with("550 "), "{folder}");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    assert!(ask(&mut raw, "REST 100000").starts_with("350 "));
    let (bytes, _, _) = transfer(&mut raw, "RETR dcim/big.bin");
    assert!(bytes == body[100_000..], "from REST's offset");
    // At the file's end: nothing to send. Past it: refused, and the
    // server serves on (a debug build's assertion took it down).
    assert!(ask(&mut raw, "REST 5").starts_with("350 "));
    let (bytes, _, ended) = transfer(&mut raw, "RETR dcim/small.txt");
    assert_eq!((bytes.len(), ended.as_str()), (0, "226 done"));
    assert!(ask(&mut raw, "REST 6").starts_with("350 "));
    let addr = passive(&mut raw);
    let _data = TcpStream::connect(addr).unwrap();
    let past = ask(&mut raw, "RETR dcim/small.txt");
    assert_eq!(past, "501 REST is past the file's end: it holds 5 bytes");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    // A REST is for the transfer that follows it: a listing takes it.
    assert!(ask(&mut raw, "REST 2").starts_with("350 "));
    let _ = transfer(&mut raw, "LIST dcim");
    let (bytes, _, _) = transfer(&mut raw, "RETR dcim/small.txt");
    assert_eq!(bytes, b"hello", "whole");
    // Refused on the data connection: its code, no 150.
    let addr = passive(&mut raw);
    let data = TcpStream::connect(addr).unwrap();
    let missing = ask(&mut raw, "RETR dcim/none");
    assert!(missing.starts_with("550 "), "{missing}");
    drop(data);
    assert!(
        ask(&mut raw, "RETR dcim/small.txt").starts_with("425 "),
        "PASV first"
    );
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    // A data connection opened and left, no transfer asked: nothing is
    // said of it on the control connection; a transfer asked after it
    // went is refused, not left waiting.
    let addr = passive(&mut raw);
    let mut left = Raw::connect(addr);
    left.finish_sending();
    left.expect_closed();
    let gone = ask(&mut raw, "RETR dcim/small.txt");
    assert!(gone.starts_with("425 "), "{gone}");
    let (bytes, began, ended) = transfer(&mut raw, "RETR dcim/small.txt");
    assert_eq!(bytes, b"hello");
    assert!(
        began.starts_with("150 ") && ended == "226 done",
        "{began} {ended}"
    );
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
}

#[test]
fn list_and_nlst_name_a_folders_entries() {
    let (server, mut raw) = logged_in();
    std::fs::create_dir_all(server.root.path().join("logs/2026")).unwrap();
    std::fs::write(server.root.path().join("logs/a.csv"), b"1,2\n").unwrap();
    let (bytes, began, ended) = transfer(&mut raw, "LIST -la logs");
    assert!(
        began.starts_with("150 ") && ended == "226 done",
        "{began} {ended}"
    );
    let listing = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "{listing}");
    assert!(
        lines[0].starts_with("drwxr-xr-x 1 ferry ferry ") && lines[0].ends_with(" 2026"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with("-rw-r--r-- 1 ferry ferry            4 ")
            && lines[1].ends_with(" a.csv"),
        "{listing}"
    );
    assert!(ask(&mut raw, "CWD logs").starts_with("250 "));
    let (bytes, _, _) = transfer(&mut raw, "NLST");
    assert_eq!(String::from_utf8(bytes).unwrap(), "2026\r\na.csv\r\n");
    // MLSD: each entry's facts (RFC 3659 §7), what lftp and rclone read;
    // `perm`: without access control, everything.
    let (bytes, _, ended) = transfer(&mut raw, "MLSD");
    let facts = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = facts.lines().collect();
    assert_eq!(lines[0], "type=dir;perm=elcmdpf; 2026", "{facts}");
    assert!(
        lines[1].starts_with("type=file;size=4;modify=20")
            && lines[1].ends_with(";perm=rawdf; a.csv"),
        "{facts}"
    );
    assert_eq!((lines.len(), ended.as_str()), (2, "226 done"));
    let addr = passive(&mut raw);
    let mut data = TcpStream::connect(addr).unwrap();
    let refused = ask(&mut raw, "LIST /nowhere");
    assert!(refused.starts_with("550 "), "{refused}");
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    assert!(bytes.is_empty());
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok", "nothing more was said");
}

/// `LIST` and `NLST` of a file are that file (RFC 959); a wildcard in the
/// last step lists what it matches (`mget *.csv`, as vsftpd and ProFTPD
/// answer it); `NLST`'s names begin with the folder written, so each is
/// a path `RETR` takes.
#[test]
fn a_listing_names_a_file_or_what_a_wildcard_matches() {
    let (server, mut raw) = logged_in();
    let root = server.root.path();
    std::fs::create_dir_all(root.join("logs/2026")).unwrap();
    for name in [
        "logs/a.csv",
        "logs/b.csv",
        "logs/notes.txt",
        "logs/.hidden.csv",
    ] {
        std::fs::write(root.join(name), b"1,2\n").unwrap();
    }
    let text = |raw: &mut Raw, command: &str| {
        let (bytes, began, ended) = transfer(raw, command);
        assert!(
            began.starts_with("150 ") && ended == "226 done",
            "{command}: {began} {ended}"
        );
        String::from_utf8(bytes).unwrap()
    };
    let file = text(&mut raw, "LIST logs/a.csv");
    assert!(
        file.starts_with("-rw-r--r-- 1 ferry ferry            4 ")
            && file.ends_with(" logs/a.csv\r\n")
            && file.lines().count() == 1,
        "{file}"
    );
    assert_eq!(text(&mut raw, "NLST logs/a.csv"), "logs/a.csv\r\n");
    assert_eq!(
        text(&mut raw, "NLST logs"),
        "logs/2026\r\nlogs/.hidden.csv\r\nlogs/a.csv\r\nlogs/b.csv\r\nlogs/notes.txt\r\n"
    );
    assert_eq!(
        text(&mut raw, "NLST logs/*.csv"),
        "logs/a.csv\r\nlogs/b.csv\r\n",
        "a leading dot is matched only by a dot"
    );
    let listed = text(&mut raw, "LIST -la /logs/?.csv");
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["a.csv", "b.csv"], "{listed}");
    assert!(ask(&mut raw, "CWD logs").starts_with("250 "));
    assert_eq!(text(&mut raw, "NLST *.txt"), "notes.txt\r\n");
    assert_eq!(text(&mut raw, "NLST *.none"), "", "nothing matches");
    // Each name NLST gave is a path RETR takes from the same folder.
    assert!(ask(&mut raw, "CWD /").starts_with("250 "));
    for name in text(&mut raw, "NLST logs/*.csv").lines() {
        let (bytes, _, ended) = transfer(&mut raw, &format!("RETR {name}"));
        assert_eq!(
            (bytes.as_slice(), ended.as_str()),
            (&b"1,2\n"[..], "226 done")
        );
    }
    // A wildcard in a folder that is not there, or not in the last step.
    for missing in ["NLST nowhere/*.csv", "NLST l*/a.csv"] {
        let addr = passive(&mut raw);
        let _data = TcpStream::connect(addr).unwrap();
        let refused = ask(&mut raw, missing);
        assert!(refused.starts_with("550 "), "{missing}: {refused}");
    }
    // A pattern longer than any name may be is no pattern (its walk's
    // cost is bounded), nor a name.
    let addr = passive(&mut raw);
    let _data = TcpStream::connect(addr).unwrap();
    let long = ask(&mut raw, &format!("NLST logs/{}", "*".repeat(300)));
    assert_eq!(long, "553 not a name ferry takes");
    let addr = passive(&mut raw);
    let _data = TcpStream::connect(addr).unwrap();
    let file = ask(&mut raw, "LIST logs/none.csv");
    assert_eq!(file, "550 no such file or folder", "not only a folder");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
}

#[test]
fn a_data_connection_from_another_address_is_refused() {
    let (server, mut raw) = logged_in();
    std::fs::write(server.root.path().join("secret"), b"mine").unwrap();
    let addr = passive(&mut raw);
    let mut thief = Raw::connect_from(addr, "127.0.0.2".parse().unwrap());
    thief.expect_closed();
    // The listener waits on for the client's own.
    let mut data = TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "RETR secret").starts_with("150 "));
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"mine");
    assert_eq!(line(&mut raw), "226 done");
}

/// A small file that shrinks while its `RETR` waits for it to be read in
/// (held at the read-ahead gate) leaves short: `426`, never `226`, so the
/// client does not take what arrived for the whole file.
#[test]
fn a_retr_whose_file_shrank_before_it_was_read_is_426() {
    use ferry::storage::gate::{Gate, Point};
    let gate = std::sync::Arc::new(Gate::new(Point::ReadAhead));
    let held = std::sync::Arc::clone(&gate);
    let (server, mut raw) = logged_in_with(move |config| config.gate = Some(held));
    // Stored through the server, which records its CRC: the RETR then
    // has no reason to read it before it sends.
    let (_, stored) = store(&mut raw, "small.bin", &pattern(12_000, 3));
    assert_eq!(stored, "226 done");
    let path = server.root.path().join("small.bin");
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    // Out of the page cache, so the read goes to the pool and waits there.
    if !support::dropped_from_page_cache(&file) {
        gate.open();
        return;
    }
    let addr = passive(&mut raw);
    let mut data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(support::PATIENCE)).unwrap();
    raw.send("RETR small.bin\r\n");
    if !held_before_its_bytes(&gate, &data) {
        eprintln!("skipped: the file was in the page cache again when the RETR read it");
        gate.open();
        return;
    }
    file.set_len(100).unwrap();
    gate.open();
    assert!(line(&mut raw).starts_with("150 "));
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    // As clients do at the data's end (the server lingers until then).
    drop(data);
    let ended = line(&mut raw);
    assert!(
        ended.starts_with("426 "),
        "{ended} after {} bytes",
        bytes.len()
    );
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
}

/// Whether the read of a `RETR` reached `gate` (a read-ahead held there)
/// before any of its bytes came on `data`: false where the file was read
/// without waiting (something brought it into the page cache again since
/// the test dropped it: about one run in eight on a busy machine).
fn held_before_its_bytes(gate: &ferry::storage::gate::Gate, data: &TcpStream) -> bool {
    let deadline = std::time::Instant::now() + support::PATIENCE;
    data.set_read_timeout(Some(std::time::Duration::from_millis(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    let held = loop {
        if gate.arrivals() > 0 {
            break true;
        }
        match data.peek(&mut byte) {
            Ok(_) => break false,
            Err(_) if std::time::Instant::now() < deadline => {}
            Err(err) => panic!("neither held nor sent: {err}"),
        }
    };
    data.set_read_timeout(Some(support::PATIENCE)).unwrap();
    held
}

#[test]
fn stor_stores_a_file_whole_and_a_cut_one_leaves_the_old() {
    let (server, mut raw) = logged_in();
    std::fs::create_dir(server.root.path().join("dcim")).unwrap();
    let body = pattern(3 << 20, 9);
    let (began, ended) = store(&mut raw, "dcim/shot.jpg", &body);
    assert!(began.starts_with("150 "), "{began}");
    assert_eq!(ended, "226 done");
    assert!(std::fs::read(server.root.path().join("dcim/shot.jpg")).unwrap() == body);
    let (bytes, _, _) = transfer(&mut raw, "RETR dcim/shot.jpg");
    assert!(bytes == body, "read back whole");
    let (_, ended) = store(&mut raw, "dcim/empty", b"");
    assert_eq!(ended, "226 done");
    assert_eq!(
        std::fs::read(server.root.path().join("dcim/empty")).unwrap(),
        b""
    );

    // Cut: the data connection reset midway; the old file stays.
    let addr = passive(&mut raw);
    let data = TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "STOR dcim/shot.jpg").starts_with("150 "));
    {
        use std::io::Write;
        let mut data = data;
        data.write_all(&[1u8; 100_000]).unwrap();
        // SO_LINGER 0: the close is a reset, not the stream's end.
        rustix::net::sockopt::set_socket_linger(&data, Some(std::time::Duration::ZERO)).unwrap();
        drop(data);
    }
    let cut = line(&mut raw);
    assert!(cut.starts_with("426 "), "{cut}");
    assert!(std::fs::read(server.root.path().join("dcim/shot.jpg")).unwrap() == body);
    // Its folder must be there.
    let (refused, _) = store(&mut raw, "nowhere/x", b"x");
    assert!(refused.starts_with("550 "), "{refused}");
    // What the cut one sent is kept to go on with (tests/ftp/resume.rs),
    // as a session; no temp file is left.
    let files = server.settled_files_on_disk();
    let stored: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(".ferry-uploads/"))
        .collect();
    assert_eq!(stored, ["dcim/empty", "dcim/shot.jpg"]);
}

/// `QUIT` during a `STOR` (RFC 959): the transfer goes on to its data
/// connection's end, its `226` is sent, then `221`, and the file is whole.
#[test]
fn a_stor_outlives_a_quit_sent_midway() {
    use std::io::Write;
    let (server, mut raw) = logged_in();
    let body = pattern(3 << 20, 4);
    let addr = passive(&mut raw);
    let mut data = TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "STOR log.bin").starts_with("150 "));
    data.write_all(&body[..1 << 20]).unwrap();
    raw.send("QUIT\r\n");
    data.write_all(&body[1 << 20..]).unwrap();
    drop(data);
    assert_eq!(line(&mut raw), "226 done");
    assert_eq!(line(&mut raw), "221 goodbye");
    raw.expect_closed();
    assert!(std::fs::read(server.root.path().join("log.bin")).unwrap() == body);
}

/// Paths stay inside the root whatever they say: `..` above the root is
/// the root, ferry's own folders are no names, a link out of the root is
/// not followed.
#[test]
fn traversal_stays_inside_the_root() {
    let (server, mut raw) = logged_in();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(outside.path(), server.root.path().join("link")).unwrap();
    std::fs::write(server.root.path().join("mine"), b"inside").unwrap();
    // `..` above the root stays at the root: the root's own file.
    let (bytes, _, ended) = transfer(&mut raw, "RETR ../../../mine");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"inside"[..], "226 done")
    );
    for refused in [
        "SIZE /link/secret",
        "SIZE link/../../secret",
        "MKD .ferry-uploads/x",
    ] {
        let answer = ask(&mut raw, refused);
        assert!(
            answer.starts_with("550 ") || answer.starts_with("553 "),
            "{refused}: {answer}"
        );
    }
    let addr = passive(&mut raw);
    let _data = TcpStream::connect(addr).unwrap();
    let refused = ask(&mut raw, "RETR /link/secret");
    assert!(refused.starts_with("550 "), "{refused}");
    let (refused, _) = store(&mut raw, "link/planted", b"x");
    assert!(refused.starts_with("550 "), "{refused}");
    assert!(!outside.path().join("planted").exists());
    assert!(ask(&mut raw, "CWD /link").starts_with("550 "));
}

/// One root whatever the protocol: a `STOR` by FTP is a `GET` by HTTP
/// and a line of `ferry ls` (FERRY/1), a `PUT` by HTTP is a `RETR`.
#[test]
fn a_file_stored_by_one_protocol_is_read_by_the_others() {
    let (server, mut raw) = crate::support::ftp::logged_in_with(support::listen_http);
    let http = server.http.unwrap();
    let body = pattern(700_000, 11);
    let (_, ended) = store(&mut raw, "from-ftp.bin", &body);
    assert_eq!(ended, "226 done");
    let got = support::http::exchange(http, "GET", "/from-ftp.bin", "Host: localhost\r\n", b"");
    assert_eq!(got.status, 200);
    assert!(got.body == body, "HTTP reads what FTP stored");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["ls", "--server", &server.addr.to_string()])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.lines().any(|l| l.ends_with("  from-ftp.bin")),
        "{listed}"
    );
    let put = support::http::exchange(
        http,
        "PUT",
        "/from-http.txt",
        "Host: localhost\r\n",
        b"put by HTTP",
    );
    assert!(put.status == 201 || put.status == 204, "{}", put.status);
    let (bytes, _, ended) = transfer(&mut raw, "RETR from-http.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"put by HTTP"[..], "226 done")
    );
}
