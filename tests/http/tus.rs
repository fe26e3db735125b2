//! tus 1.0.0 on the HTTP listener (issue 27), over real sockets: discovery
//! (`OPTIONS`), creation on any folder URL, progress (`HEAD`), appending
//! (`PATCH`, the last of which stores the file atomically and verified),
//! termination (`DELETE`); every refusal with its status (409, 412, 415,
//! 404, 400 for hostile filenames) and nothing stored by one; a `PATCH`
//! cut mid-body keeps what arrived; uploads survive a restart, and a node
//! killed mid-`PATCH` (another node on the same root finishes the upload);
//! grants per request.
#![cfg(feature = "tus")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use base64::Engine;
use ferry::storage::gate::{Gate, Point};
use support::http::{Answer, bearer, exchange};
use support::tokens::{guarded, guarded_with};
use support::{PATIENCE, TestServer, pattern};

const TUS: &str = "Tus-Resumable: 1.0.0\r\n";
const PATCH_TYPE: &str = "Content-Type: application/offset+octet-stream\r\n";

fn b64(text: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// `POST <folder>` creating the upload of `filename`, `len` bytes, with
/// `extra` header lines.
fn create(addr: SocketAddr, folder: &str, filename: &[u8], len: u64, extra: &str) -> Answer {
    create_carrying(addr, folder, filename, len, extra, b"")
}

/// [`create`] with `body`, the upload's first bytes, in the request.
fn create_carrying(
    addr: SocketAddr,
    folder: &str,
    filename: &[u8],
    len: u64,
    extra: &str,
    body: &[u8],
) -> Answer {
    let headers = format!(
        "Host: localhost\r\n{TUS}Upload-Length: {len}\r\nUpload-Metadata: filename {},kind {}\r\n{extra}",
        b64(filename),
        b64(b"test")
    );
    exchange(addr, "POST", folder, &headers, body)
}

/// The upload URL a creation answered with.
fn location(answer: &Answer) -> String {
    assert_eq!(answer.status, 201, "{}", answer.head);
    let location = answer.header("Location").expect("a Location").to_owned();
    assert!(location.starts_with("/.ferry-uploads/"), "{location}");
    location
}

fn head(addr: SocketAddr, url: &str, extra: &str) -> Answer {
    exchange(
        addr,
        "HEAD",
        url,
        &format!("Host: localhost\r\n{TUS}{extra}"),
        b"",
    )
}

fn patch(addr: SocketAddr, url: &str, offset: u64, bytes: &[u8], extra: &str) -> Answer {
    let headers = format!("Host: localhost\r\n{TUS}{PATCH_TYPE}Upload-Offset: {offset}\r\n{extra}");
    exchange(addr, "PATCH", url, &headers, bytes)
}

fn offset(answer: &Answer) -> u64 {
    answer
        .header("Upload-Offset")
        .unwrap_or_else(|| panic!("no Upload-Offset: {}", answer.head))
        .parse()
        .unwrap()
}

#[test]
fn options_say_what_is_served() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.max_file_size = Some(1 << 20);
    });
    let answer = exchange(
        server.http.unwrap(),
        "OPTIONS",
        "/photos/",
        "Host: localhost\r\n",
        b"",
    );
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert_eq!(answer.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(answer.header("Tus-Resumable"), Some("1.0.0"));
    assert_eq!(
        answer.header("Tus-Extension"),
        Some("creation,creation-with-upload,creation-defer-length,termination,checksum,expiration")
    );
    assert_eq!(
        answer.header("Tus-Checksum-Algorithm"),
        Some("crc32c,sha1,md5")
    );
    assert_eq!(answer.header("Tus-Max-Size"), Some("1048576"));
    // Over the limit, a creation is refused before any byte is sent.
    let refused = create(
        server.http.unwrap(),
        "/photos/",
        b"big.bin",
        (1 << 20) + 1,
        "",
    );
    assert_eq!(refused.status, 413, "{}", refused.head);
}

#[test]
fn an_upload_in_patches_is_stored_whole_when_its_last_byte_arrives() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let data = pattern(300_000, 27);
    let url = location(&create(
        http,
        "/photos/",
        "cat pic ü.jpg".as_bytes(),
        300_000,
        "",
    ));
    let before = head(http, &url, "");
    assert_eq!(before.status, 200, "{}", before.head);
    assert_eq!(offset(&before), 0);
    assert_eq!(before.header("Upload-Length"), Some("300000"));
    assert_eq!(before.header("Cache-Control"), Some("no-store"));
    let meta = before.header("Upload-Metadata").unwrap();
    assert!(meta.contains(&b64("cat pic ü.jpg".as_bytes())), "{meta}");
    let first = patch(http, &url, 0, &data[..100_000], "");
    assert_eq!(
        (first.status, offset(&first)),
        (204, 100_000),
        "{}",
        first.head
    );
    assert_eq!(offset(&head(http, &url, "")), 100_000);
    // Nothing is at the name until the upload is whole.
    assert!(!server.path("photos/cat pic ü.jpg").exists());
    let last = patch(http, &url, 100_000, &data[100_000..], "");
    assert_eq!(
        (last.status, offset(&last)),
        (204, 300_000),
        "{}",
        last.head
    );
    let crc = format!("{:08x}", crc32c::crc32c(&data));
    assert_eq!(last.header("X-Checksum-Crc32c"), Some(crc.as_str()));
    assert_eq!(
        std::fs::read(server.path("photos/cat pic ü.jpg")).unwrap(),
        data
    );
    // The upload is over, and its URL says so to a client that lost the
    // last answer: every byte arrived, nothing expires, nothing more goes.
    let after = head(http, &url, "");
    assert_eq!(
        (after.status, offset(&after)),
        (200, 300_000),
        "{}",
        after.head
    );
    assert_eq!(after.header("Upload-Length"), Some("300000"));
    assert_eq!(after.header("Upload-Expires"), None);
    for (at, bytes) in [(300_000, &b""[..]), (100_000, &data[100_000..])] {
        let again = patch(http, &url, at, bytes, "");
        assert_eq!(again.status, 409, "{}", again.head);
    }
    assert_eq!(server.settled_files_on_disk(), vec!["photos/cat pic ü.jpg"]);
    assert_eq!(marks(&server).len(), 1);
}

/// A server's settings for an HTTP listener on `root`, which outlives
/// the server (a [`TestServer`] started in a folder of its own with them
/// deletes that one, not `root`).
fn on(root: &std::path::Path) -> impl Fn(&mut ferry::Config) + Copy + '_ {
    move |c: &mut ferry::Config| {
        c.root = root.to_path_buf();
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    }
}

/// The marks of stored uploads the server keeps.
fn marks(server: &TestServer) -> Vec<String> {
    marks_in(server.root.path())
}

fn marks_in(root: &std::path::Path) -> Vec<String> {
    let mut marks: Vec<String> = std::fs::read_dir(root.join(".ferry-uploads"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".stored"))
        .collect();
    marks.sort();
    marks
}

#[test]
fn the_mark_of_a_stored_upload_goes_after_a_while_or_with_a_delete() {
    let root = tempfile::tempdir().unwrap();
    let on_root = on(root.path());
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let http = server.http.unwrap();
    let old = location(&create(http, "/", b"old.bin", 0, ""));
    let deleted = location(&create(http, "/", b"deleted.bin", 0, ""));
    let kept = location(&create(http, "/", b"kept.bin", 0, ""));
    assert_eq!(marks_in(root.path()).len(), 3);
    let delete = format!("Host: localhost\r\n{TUS}");
    assert_eq!(exchange(http, "DELETE", &deleted, &delete, b"").status, 204);
    assert_eq!(head(http, &deleted, "").status, 404);
    assert!(root.path().join("deleted.bin").exists(), "the file stays");
    server.stop().unwrap();
    // One mark older than the short TTL (15 minutes): the next server's
    // start-up sweep takes it, and keeps the other.
    let id = old.rsplit('/').next().unwrap();
    let mark = root.path().join(format!(".ferry-uploads/{id}.stored"));
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let file = std::fs::File::options().write(true).open(&mark).unwrap();
    file.set_modified(hour_ago).unwrap();
    drop(file);
    let again = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let http = again.http.unwrap();
    assert_eq!(head(http, &old, "").status, 404);
    assert_eq!(offset(&head(http, &kept, "")), 0);
    assert_eq!(marks_in(root.path()).len(), 1);
}

#[test]
fn an_empty_upload_is_stored_as_it_is_created() {
    // tus clients send no PATCH for an empty file.
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let created = create(http, "/", b"empty.txt", 0, "");
    location(&created);
    assert_eq!(created.header("Upload-Offset"), Some("0"));
    assert_eq!(std::fs::read(server.path("empty.txt")).unwrap(), b"");
    assert_eq!(server.settled_files_on_disk(), vec!["empty.txt"]);
}

#[test]
fn each_creation_is_an_upload_of_its_own() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let one = location(&create(http, "/", b"same.bin", 10, ""));
    let two = location(&create(http, "/", b"same.bin", 10, ""));
    assert_ne!(one, two);
    assert_eq!(patch(http, &one, 0, b"01234", "").status, 204);
    assert_eq!(offset(&head(http, &two, "")), 0);
}

#[test]
fn mistakes_are_refused_with_their_status_and_move_nothing() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let url = location(&create(http, "/", b"a.bin", 10, ""));
    assert_eq!(patch(http, &url, 0, b"01234", "").status, 204);
    // The wrong offset: 409, and the upload stays where it was.
    let wrong = patch(http, &url, 3, b"xx", "");
    assert_eq!(wrong.status, 409, "{}", wrong.head);
    assert_eq!(wrong.header("Tus-Resumable"), Some("1.0.0"));
    assert_eq!(offset(&head(http, &url, "")), 5);
    // Another media type: 415.
    let headers =
        format!("Host: localhost\r\n{TUS}Content-Type: text/plain\r\nUpload-Offset: 5\r\n");
    assert_eq!(
        exchange(http, "PATCH", &url, &headers, b"56789").status,
        415
    );
    // No Upload-Offset: 400.
    let headers = format!("Host: localhost\r\n{TUS}{PATCH_TYPE}");
    assert_eq!(
        exchange(http, "PATCH", &url, &headers, b"56789").status,
        400
    );
    // Another protocol version: 412, naming the one served.
    let headers = "Host: localhost\r\nTus-Resumable: 0.2.2\r\nUpload-Length: 3\r\n";
    let old = exchange(http, "POST", "/", headers, b"");
    assert_eq!(old.status, 412, "{}", old.head);
    assert_eq!(old.header("Tus-Version"), Some("1.0.0"));
    let headers = format!("Host: localhost\r\n{PATCH_TYPE}Upload-Offset: 5\r\n");
    assert_eq!(
        exchange(http, "PATCH", &url, &headers, b"56789").status,
        412
    );
    // An upload that is not there, or never was.
    // A method tus does not serve on an upload: 405, naming those it does.
    let get = exchange(http, "GET", &url, &format!("Host: localhost\r\n{TUS}"), b"");
    assert_eq!(get.status, 405, "{}", get.head);
    assert_eq!(get.header("Allow"), Some("HEAD, PATCH, DELETE, OPTIONS"));
    for missing in [
        "/.ferry-uploads/0123456789abcdef",
        "/.ferry-uploads/..",
        "/.ferry-uploads/",
    ] {
        assert_eq!(head(http, missing, "").status, 404, "{missing}");
    }
    // An id not of the shape the server hands out names no upload: 404
    // as the request is read, before what else it gets wrong (a media
    // type, 415 at an id of the right shape).
    let wrong_type =
        format!("Host: localhost\r\n{TUS}Content-Type: text/plain\r\nUpload-Offset: 0\r\n");
    for (id, status) in [
        ("0123456789abcdef", 415),
        ("0123456789ABCDEF", 404),
        ("0123456789abcdef0", 404),
        ("0123%E2%80%A8#9%20DELETE", 404),
    ] {
        let target = format!("/.ferry-uploads/{id}");
        let patched = exchange(http, "PATCH", &target, &wrong_type, b"abc");
        assert_eq!(patched.status, status, "{id}");
        assert_eq!(patched.header("Tus-Resumable"), Some("1.0.0"));
        assert_eq!(head(http, &target, "").status, 404, "{id}");
        let headers = format!("Host: localhost\r\n{TUS}");
        let delete = exchange(http, "DELETE", &target, &headers, b"");
        assert_eq!(delete.status, 404, "{id}");
    }
    // The offset held through all of it, and the upload can finish.
    assert_eq!(patch(http, &url, 5, b"56789", "").status, 204);
    assert_eq!(std::fs::read(server.path("a.bin")).unwrap(), b"0123456789");
}

/// `POST /` creating `filename` of `len` bytes with `body` as its first
/// bytes, sent as `content_type`.
fn create_with(
    addr: SocketAddr,
    filename: &[u8],
    len: u64,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let content_type = format!("Content-Type: {content_type}\r\n");
    create_carrying(addr, "/", filename, len, &content_type, body)
}

#[test]
fn creation_with_upload_stages_the_first_bytes() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let octets = "application/offset+octet-stream";
    // Part of the file with the creation, the rest by PATCH.
    let created = create_with(http, b"part.bin", 10, octets, b"01234");
    let url = location(&created);
    assert_eq!(offset(&created), 5);
    assert_eq!(offset(&head(http, &url, "")), 5);
    assert_eq!(patch(http, &url, 5, b"56789", "").status, 204);
    assert_eq!(
        std::fs::read(server.path("part.bin")).unwrap(),
        b"0123456789"
    );
    // All of it with the creation: stored at once.
    let whole = create_with(http, b"whole.bin", 3, octets, b"abc");
    location(&whole);
    assert_eq!(offset(&whole), 3);
    assert_eq!(std::fs::read(server.path("whole.bin")).unwrap(), b"abc");
    // Bytes of another type, or more than the upload has: refused, and
    // the connection stays in step (the body is skipped).
    assert_eq!(
        create_with(http, b"typed.bin", 3, "text/plain", b"abc").status,
        415
    );
    assert_eq!(
        create_with(http, b"over.bin", 2, octets, b"abc").status,
        400
    );
    assert!(!server.path("typed.bin").exists() && !server.path("over.bin").exists());
}

#[test]
fn hostile_filenames_are_refused_and_nothing_is_stored() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    for filename in [
        &b"../escape"[..],
        b"sub/dir.txt",
        b"..",
        b".",
        b"",
        b"bell\x07.txt",
        "right\u{202e}txt.exe".as_bytes(),
        b".ferry-uploads",
        b"\xff\xfe",
    ] {
        let answer = create(http, "/photos/", filename, 3, "");
        assert!(
            answer.status == 400 || answer.status == 403,
            "{filename:?}: {}",
            answer.head
        );
    }
    // No filename, or one that is not base64.
    let headers = format!(
        "Host: localhost\r\n{TUS}Upload-Length: 3\r\nUpload-Metadata: kind {}\r\n",
        b64(b"x")
    );
    assert_eq!(exchange(http, "POST", "/", &headers, b"").status, 400);
    let headers =
        format!("Host: localhost\r\n{TUS}Upload-Length: 3\r\nUpload-Metadata: filename !!!\r\n");
    assert_eq!(exchange(http, "POST", "/", &headers, b"").status, 400);
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn termination_removes_the_upload_and_its_bytes() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let url = location(&create(http, "/", b"gone.bin", 10, ""));
    assert_eq!(patch(http, &url, 0, b"01234", "").status, 204);
    let answer = exchange(
        http,
        "DELETE",
        &url,
        &format!("Host: localhost\r\n{TUS}"),
        b"",
    );
    assert_eq!(answer.status, 204, "{}", answer.head);
    assert_eq!(answer.header("Tus-Resumable"), Some("1.0.0"));
    assert_eq!(head(http, &url, "").status, 404);
    assert_eq!(patch(http, &url, 5, b"56789", "").status, 404);
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
}

#[test]
fn a_patch_cut_mid_body_keeps_what_arrived() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let data = pattern(200_000, 3);
    let url = location(&create(http, "/", b"cut.bin", 200_000, ""));
    let mut stream = TcpStream::connect(http).unwrap();
    write!(
        stream,
        "PATCH {url} HTTP/1.1\r\nHost: localhost\r\n{TUS}{PATCH_TYPE}Upload-Offset: 0\r\nContent-Length: 200000\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&data[..70_000]).unwrap();
    drop(stream);
    // The server keeps the bytes once it has seen the connection go.
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut at = offset(&head(http, &url, ""));
    while at != 70_000 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
        at = offset(&head(http, &url, ""));
    }
    assert_eq!(at, 70_000);
    assert_eq!(patch(http, &url, at, &data[70_000..], "").status, 204);
    assert_eq!(std::fs::read(server.path("cut.bin")).unwrap(), data);
}

#[test]
fn an_upload_goes_on_after_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let on_root = on(root.path());
    let server = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let http = server.http.unwrap();
    let url = location(&create(http, "/", b"long.bin", 10, ""));
    assert_eq!(patch(http, &url, 0, b"01234", "").status, 204);
    server.stop().unwrap();
    let again = TestServer::start_in(tempfile::tempdir().unwrap(), on_root);
    let http = again.http.unwrap();
    assert_eq!(offset(&head(http, &url, "")), 5);
    assert_eq!(patch(http, &url, 5, b"56789", "").status, 204);
    assert_eq!(
        std::fs::read(root.path().join("long.bin")).unwrap(),
        b"0123456789"
    );
}

#[test]
fn every_request_needs_write_on_the_uploads_name() {
    let (server, tokens, _dir) = guarded(
        &[("writer", &["write:/photos/"]), ("reader", &["read:/"])],
        &[],
    );
    let http = server.http.unwrap();
    let (writer, reader) = (bearer(&tokens[0]), bearer(&tokens[1]));
    assert_eq!(create(http, "/photos/", b"a.jpg", 3, "").status, 401);
    assert_eq!(create(http, "/photos/", b"a.jpg", 3, &reader).status, 403);
    assert_eq!(create(http, "/other/", b"a.jpg", 3, &writer).status, 403);
    let url = location(&create(http, "/photos/", b"a.jpg", 3, &writer));
    // The Location is no use without write on its name.
    assert_eq!(head(http, &url, "").status, 401);
    assert_eq!(head(http, &url, &reader).status, 403);
    assert_eq!(patch(http, &url, 0, b"abc", &reader).status, 403);
    let delete = format!("Host: localhost\r\n{TUS}{reader}");
    assert_eq!(exchange(http, "DELETE", &url, &delete, b"").status, 403);
    assert_eq!(offset(&head(http, &url, &writer)), 0);
    assert_eq!(patch(http, &url, 0, b"abc", &writer).status, 204);
    assert_eq!(std::fs::read(server.path("photos/a.jpg")).unwrap(), b"abc");
}

/// A PATCH reads its session's record once: who may write it, whether
/// it has expired and where its bytes go are all judged on that read.
/// The last PATCH reads it once more, to commit the upload under the
/// commit's own hold.
#[test]
fn a_patch_reads_its_sessions_record_once() {
    // An open gate holds nothing: it counts the reads.
    let gate = Arc::new(Gate::new(Point::ReadSession));
    gate.open();
    let (server, tokens, _dir) = guarded_with(&[("writer", &["write:/"])], &[], |c| {
        c.gate = Some(gate.clone());
    });
    server.wait_for_sweep();
    let http = server.http.unwrap();
    let writer = bearer(&tokens[0]);
    let url = location(&create(http, "/", b"a.bin", 6, &writer));
    let before = gate.arrivals();
    assert_eq!(patch(http, &url, 0, b"abc", &writer).status, 204);
    assert_eq!(gate.arrivals() - before, 1, "the record read once");
    let before = gate.arrivals();
    assert_eq!(patch(http, &url, 3, b"def", &writer).status, 204);
    assert_eq!(gate.arrivals() - before, 2, "once, and once to commit");
    assert_eq!(std::fs::read(server.path("a.bin")).unwrap(), b"abcdef");
}

#[test]
fn an_upload_begun_on_a_node_killed_mid_patch_is_finished_on_another() {
    let root = tempfile::tempdir().unwrap();
    let node = |id: &str| {
        let args = ["--node-id", id, "--workers", "1", "--http", "127.0.0.1:0"];
        support::process::Process::start(root.path(), &args)
    };
    let (mut a, b) = (node("node-a"), node("node-b"));
    let (on_a, on_b) = (a.http_addr(), b.http_addr());
    let data = pattern(400_000, 11);
    let url = location(&create(on_a, "/shared/", b"both.bin", 400_000, ""));
    assert_eq!(patch(on_a, &url, 0, &data[..100_000], "").status, 204);
    // A second PATCH is under way on node A when it is killed.
    let mut stream = TcpStream::connect(on_a).unwrap();
    write!(
        stream,
        "PATCH {url} HTTP/1.1\r\nHost: localhost\r\n{TUS}{PATCH_TYPE}Upload-Offset: 100000\r\nContent-Length: 300000\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&data[100_000..250_000]).unwrap();
    a.signal(rustix::process::Signal::KILL);
    a.wait();
    drop(stream);
    // Node B tells how far it got (what A staged before it died, at least
    // what A acknowledged), and takes the rest from there.
    let at = offset(&head(on_b, &url, ""));
    assert!((100_000..=250_000).contains(&at), "{at}");
    let rest = usize::try_from(at).unwrap();
    let last = patch(on_b, &url, at, &data[rest..], "");
    assert_eq!(
        (last.status, offset(&last)),
        (204, 400_000),
        "{}",
        last.head
    );
    assert_eq!(
        std::fs::read(root.path().join("shared/both.bin")).unwrap(),
        data
    );
}

/// A stored upload is no open session on any node: a node that indexed
/// it while it was open (a `SESSIONS` through it) lists it no more once
/// another node stored it, though the mark kept for a client that lost
/// the last answer is still there. (Issue 75's history test on two nodes
/// found it left over, about one run in four.)
#[test]
fn an_upload_stored_through_one_node_is_listed_by_none() {
    let root = tempfile::tempdir().unwrap();
    let node = |id: &str| {
        let args = ["--node-id", id, "--workers", "1", "--http", "127.0.0.1:0"];
        support::process::Process::start(root.path(), &args)
    };
    let (a, b) = (node("node-a"), node("node-b"));
    let sessions = |node: &support::process::Process| {
        let mut raw = support::Raw::connect(node.addr);
        assert!(raw.line().starts_with("OK FERRY/1 "));
        raw.send("SESSIONS\n");
        let answer = raw.line();
        let len = answer.strip_prefix("OK ").unwrap().parse().unwrap();
        String::from_utf8(raw.bytes(len)).unwrap()
    };
    let url = location(&create(a.http_addr(), "/", b"done.bin", 6, ""));
    let id = url.rsplit('/').next().unwrap().to_owned();
    assert!(sessions(&b).starts_with(&id), "node b lists it open");
    let stored = patch(a.http_addr(), &url, 0, b"abcdef", "");
    assert_eq!(stored.status, 204, "{}", stored.head);
    assert_eq!(marks_in(root.path()).len(), 1);
    assert_eq!(sessions(&b), "", "a stored upload listed as open");
    assert_eq!(sessions(&a), "");
}

#[test]
fn a_piece_that_does_not_match_its_checksum_is_taken_back() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let url = location(&create(http, "/", b"checked.bin", 9, ""));
    let crc = b64(&crc32c::crc32c(b"abc").to_be_bytes());
    let good = patch(
        http,
        &url,
        0,
        b"abc",
        &format!("Upload-Checksum: crc32c {crc}\r\n"),
    );
    assert_eq!((good.status, offset(&good)), (204, 3), "{}", good.head);
    // SHA-1 of "def" stated, other bytes sent: 460, and the offset stays.
    let sha1 = b64(&[
        0x58, 0x9c, 0x22, 0x33, 0x5a, 0x38, 0x1f, 0x12, 0x2d, 0x12, 0x92, 0x25, 0xf5, 0xc0, 0xba,
        0x30, 0x56, 0xed, 0x58, 0x11,
    ]);
    let sha1 = format!("Upload-Checksum: sha1 {sha1}\r\n");
    let bad = patch(http, &url, 3, b"dex", &sha1);
    assert_eq!(bad.status, 460, "{}", bad.head);
    assert_eq!(bad.header("Tus-Resumable"), Some("1.0.0"));
    assert_eq!(offset(&head(http, &url, "")), 3);
    assert_eq!(patch(http, &url, 3, b"def", &sha1).status, 204);
    // An algorithm not served, or a digest not of it: 400, nothing moves.
    for stated in ["sha256 AAAA", "md5 AAAA", "crc32c !!"] {
        let answer = patch(
            http,
            &url,
            6,
            b"ghi",
            &format!("Upload-Checksum: {stated}\r\n"),
        );
        assert_eq!(answer.status, 400, "{stated}: {}", answer.head);
    }
    let md5 = b64(&[
        0x82, 0x6b, 0xbc, 0x5d, 0x05, 0x22, 0xf5, 0xf2, 0x0a, 0x1d, 0xa4, 0xb6, 0x0f, 0xa8, 0xc8,
        0x71,
    ]);
    let last = patch(
        http,
        &url,
        6,
        b"ghi",
        &format!("Upload-Checksum: md5 {md5}\r\n"),
    );
    assert_eq!((last.status, offset(&last)), (204, 9), "{}", last.head);
    assert_eq!(
        std::fs::read(server.path("checked.bin")).unwrap(),
        b"abcdefghi"
    );
}

/// Seconds since the epoch an `Upload-Expires` names.
fn expires(answer: &Answer) -> i64 {
    let date = answer.header("Upload-Expires").expect("Upload-Expires");
    ferry::http::response::parse_http_date(date).expect("an HTTP date")
}

fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_secs() as i64
}

#[test]
fn every_answer_about_an_unfinished_upload_says_when_it_expires() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.upload_ttl = std::time::Duration::from_secs(3600);
        c.upload_empty_ttl = std::time::Duration::from_secs(600);
    });
    let http = server.http.unwrap();
    // Without a byte yet, the shorter TTL; with bytes, the TTL.
    let created = create(http, "/", b"soon.bin", 10, "");
    let url = location(&created);
    let near = |answer: &Answer, ttl: i64| {
        let left = expires(answer) - now();
        assert!(
            (ttl - 5..=ttl).contains(&left),
            "{left} s left: {}",
            answer.head
        );
    };
    near(&created, 600);
    near(&head(http, &url, ""), 600);
    near(&patch(http, &url, 0, b"01234", ""), 3600);
    near(&head(http, &url, ""), 3600);
    // Finished: nothing left to expire.
    let stored = patch(http, &url, 5, b"56789", "");
    assert_eq!(stored.status, 204, "{}", stored.head);
    assert_eq!(stored.header("Upload-Expires"), None);
}

#[test]
fn an_expired_upload_is_gone_with_its_bytes() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        // Expired as soon as it is made: no waiting for a clock.
        c.upload_ttl = std::time::Duration::ZERO;
    });
    let http = server.http.unwrap();
    let url = location(&create_carrying(
        http,
        "/",
        b"late.bin",
        10,
        PATCH_TYPE,
        b"01234",
    ));
    assert!(!server.settled_files_on_disk().is_empty());
    let answer = patch(http, &url, 5, b"56789", "");
    assert_eq!(answer.status, 410, "{}", answer.head);
    let text = String::from_utf8_lossy(&answer.body);
    assert!(text.contains("expired"), "{text}");
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
    // Gone: now it is as unknown as any other.
    assert_eq!(head(http, &url, "").status, 404);
    assert!(!server.path("late.bin").exists());
}

#[test]
fn an_upload_of_a_length_not_yet_known_is_stored_once_a_patch_declares_it() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    let url = location(&create_deferred(http, "/", b"stream.log", ""));
    let asked = head(http, &url, "");
    assert_eq!(
        asked.header("Upload-Defer-Length"),
        Some("1"),
        "{}",
        asked.head
    );
    assert_eq!(asked.header("Upload-Length"), None, "{}", asked.head);
    assert_eq!(patch(http, &url, 0, b"01234", "").status, 204);
    assert!(!server.path("stream.log").exists());
    // Declared with the last bytes: now whole, and stored.
    let last = patch(http, &url, 5, b"56789", "Upload-Length: 10\r\n");
    assert_eq!(last.status, 204, "{}", last.head);
    assert_eq!(offset(&last), 10);
    assert_eq!(
        std::fs::read(server.path("stream.log")).unwrap(),
        b"0123456789"
    );

    // Declared by an empty PATCH once every byte is sent.
    let url = location(&create_deferred(http, "/", b"late.log", ""));
    assert_eq!(patch(http, &url, 0, b"abc", "").status, 204);
    let declared = patch(http, &url, 3, b"", "Upload-Length: 3\r\n");
    assert_eq!(declared.status, 204, "{}", declared.head);
    assert_eq!(std::fs::read(server.path("late.log")).unwrap(), b"abc");
}

/// `POST <folder>` creating the upload of `filename`, its length to come.
fn create_deferred(addr: SocketAddr, folder: &str, filename: &[u8], extra: &str) -> Answer {
    let headers = format!(
        "Host: localhost\r\n{TUS}Upload-Defer-Length: 1\r\nUpload-Metadata: filename {}\r\n{extra}",
        b64(filename),
    );
    exchange(addr, "POST", folder, &headers, b"")
}

#[test]
fn a_deferred_length_is_declared_once_within_the_limits() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.max_file_size = Some(100);
    });
    let http = server.http.unwrap();
    for defer in ["Upload-Defer-Length: 2\r\n", "Upload-Length: 3\r\n"] {
        let answer = create_deferred(http, "/", b"x", defer);
        assert_eq!(answer.status, 400, "{defer}: {}", answer.head);
    }
    let url = location(&create_deferred(http, "/", b"d.bin", ""));
    assert_eq!(patch(http, &url, 0, b"0123", "").status, 204);
    // Over the server's limit; shorter than what is staged: nothing moves.
    let big = patch(http, &url, 4, b"4", "Upload-Length: 101\r\n");
    assert_eq!(big.status, 413, "{}", big.head);
    let short = patch(http, &url, 4, b"4", "Upload-Length: 3\r\n");
    assert_eq!(short.status, 400, "{}", short.head);
    let asked = head(http, &url, "");
    assert_eq!(
        asked.header("Upload-Defer-Length"),
        Some("1"),
        "{}",
        asked.head
    );
    assert_eq!(offset(&asked), 4);
    // Declared once; then it stays.
    assert_eq!(
        patch(http, &url, 4, b"4", "Upload-Length: 8\r\n").status,
        204
    );
    let changed = patch(http, &url, 5, b"5", "Upload-Length: 9\r\n");
    assert_eq!(changed.status, 400, "{}", changed.head);
    assert_eq!(head(http, &url, "").header("Upload-Length"), Some("8"));
    assert_eq!(
        patch(http, &url, 5, b"567", "Upload-Length: 8\r\n").status,
        204
    );
    assert_eq!(std::fs::read(server.path("d.bin")).unwrap(), b"01234567");
}

#[test]
fn a_creation_without_tus_resumable_is_412_naming_the_version() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    // A tus creation by its fields, but without Tus-Resumable: the tus
    // spec's 412 with the versions served, not the files dialect's 405.
    let meta = format!("Upload-Metadata: filename {}\r\n", b64(b"a.bin"));
    for length in ["Upload-Length: 3\r\n", "Upload-Defer-Length: 1\r\n"] {
        let headers = format!("Host: localhost\r\n{length}{meta}");
        let answer = exchange(http, "POST", "/", &headers, b"");
        assert_eq!(answer.status, 412, "{length}: {}", answer.head);
        assert_eq!(answer.header("Tus-Version"), Some("1.0.0"), "{length}");
        assert_eq!(answer.header("Tus-Resumable"), Some("1.0.0"), "{length}");
    }
    // A POST with none of tus's fields is not taken for one.
    let plain = exchange(http, "POST", "/", "Host: localhost\r\n", b"");
    assert_eq!(plain.status, 405, "{}", plain.head);
    assert!(server.settled_files_on_disk().is_empty());
    assert_eq!(sessions(&server), 0);
}

/// How many sessions the server stages (their records; a stored
/// upload's mark is not one).
fn sessions(server: &TestServer) -> usize {
    std::fs::read_dir(server.root.path().join(".ferry-uploads"))
        .map(|dir| {
            dir.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".meta")
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_largest_u64_is_no_length() {
    // 2^64 - 1 is larger than any file can be; it was once also storage's
    // mark of a length to come, so this created a session of unknown length.
    for max_file_size in [None, Some(1 << 20)] {
        let server = TestServer::start_with(|c| {
            c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
            c.max_file_size = max_file_size;
        });
        let http = server.http.unwrap();
        let refused = create(http, "/", b"huge.bin", u64::MAX, "");
        assert_eq!(refused.status, 413, "{max_file_size:?}: {}", refused.head);
        // So is the largest a file can be plus one; the largest itself
        // only over a limit.
        let over = create(http, "/", b"huge.bin", i64::MAX as u64 + 1, "");
        assert_eq!(over.status, 413, "{max_file_size:?}: {}", over.head);
        assert_eq!(sessions(&server), 0, "{max_file_size:?}");
    }
}

#[test]
fn an_upload_of_a_length_to_come_is_held_to_the_size_limit_at_every_patch() {
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.max_file_size = Some(1 << 20);
    });
    let http = server.http.unwrap();
    let url = location(&create_deferred(http, "/", b"stream.log", ""));
    let data = pattern((1 << 20) + 1, 49);
    assert_eq!(patch(http, &url, 0, &data[..1000], "").status, 204);
    // The PATCH that would pass the limit: refused whole, nothing of it staged.
    let over = patch(http, &url, 1000, &data[1000..], "");
    assert_eq!(over.status, 413, "{}", over.head);
    assert_eq!(offset(&head(http, &url, "")), 1000);
    // Up to the limit, it goes on and is stored once declared.
    let last = patch(
        http,
        &url,
        1000,
        &data[1000..1 << 20],
        "Upload-Length: 1048576\r\n",
    );
    assert_eq!(last.status, 204, "{}", last.head);
    assert_eq!(
        std::fs::read(server.path("stream.log")).unwrap(),
        &data[..1 << 20]
    );
    // Its first bytes with the creation too.
    let headers = format!(
        "Host: localhost\r\n{TUS}{PATCH_TYPE}Upload-Defer-Length: 1\r\nUpload-Metadata: filename {}\r\n",
        b64(b"first.log")
    );
    let first = exchange(http, "POST", "/", &headers, &data);
    assert_eq!(first.status, 413, "{}", first.head);
    assert_eq!(sessions(&server), 0);
}

/// Completing PATCHes of uploads in one quota'd folder, side by side: the
/// first is held as it writes; each of the others is refused at once
/// (507), since the first one's bytes were counted before they arrived.
/// Before, each PATCH passed its check while the others were in flight,
/// and together they staged past the quota (issue 75). Without the fix
/// the second PATCH is held at the gate too and its answer never comes.
#[test]
fn completing_patches_side_by_side_cannot_together_pass_a_quota() {
    const LEN: usize = 90_000;
    let gate = Arc::new(Gate::new(Point::Write));
    let server = TestServer::start_with(|config| {
        support::listen_http(config);
        let quota = ferry::access::quota::FolderQuota::parse("box/=100000,files=10").unwrap();
        config.quotas = vec![quota];
        config.gate = Some(Arc::clone(&gate));
        config.pool_writes = ferry::config::PoolWrites::Always;
    });
    let http = server.http.unwrap();
    std::fs::create_dir(server.path("box")).unwrap();
    let body = pattern(LEN, 7);
    let urls: Vec<String> = (0..4)
        .map(|n| {
            location(&create(
                http,
                "/box/",
                format!("f{n}").as_bytes(),
                LEN as u64,
                "",
            ))
        })
        .collect();
    let first = {
        let (url, body) = (urls[0].clone(), body.clone());
        std::thread::spawn(move || patch(http, &url, 0, &body, ""))
    };
    gate.wait_for_arrivals(1);
    for url in &urls[1..] {
        let refused = patch(http, url, 0, &body, "");
        assert_eq!(refused.status, 507, "{}", refused.head);
        assert!(
            refused.text().contains("quota of folder box/"),
            "{}",
            refused.text()
        );
    }
    gate.open();
    assert_eq!(first.join().unwrap().status, 204);
    assert_eq!(std::fs::read(server.path("box/f0")).unwrap(), body);
    // The refused ones stay, empty, to go on once there is room.
    assert_eq!(support::entries(&server.path("box")), ["f0"]);
}
