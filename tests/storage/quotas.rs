//! Quotas (issue 52): a folder's (`--quota`) and a token's (the tokens
//! file's `quota:`), counted by the usage ledger in the root. A write past
//! one is refused with 507 `quota …` before its bytes are taken where its
//! size is known, and at its commit where it is not (or where uploads ran
//! side by side); nothing of it is stored; a delete frees room; a
//! resumable upload refused at its commit stays, to commit once there is
//! room; a restart and a second node on the root see the same usage.
//! (S3's answer: `tests/s3/objects.rs`; the rule's edge: the unit tests
//! of `serve/room.rs`.)

use crate::support;

use ferry::access::quota::FolderQuota;
use ferry::config::Config;
use support::http::{Conn, exchange};
use support::{Raw, TestServer, crc_hex, listen_http};

/// `box/` may hold 100 bytes in at most 3 files.
fn box_quota(config: &mut Config) {
    listen_http(config);
    config.quotas = vec![FolderQuota::parse("box/=100,files=3").unwrap()];
}

/// A FERRY/1 PUT of `len` bytes to `name`: its answer line.
pub(crate) fn put(raw: &mut Raw, name: &str, len: usize) -> String {
    raw.send(format!("PUT {name} {len}\n"));
    raw.send(vec![b'x'; len]);
    raw.line()
}

#[test]
fn a_folders_quota_refuses_every_protocols_write_past_it_and_a_delete_frees_room() {
    let server = TestServer::start_with(box_quota);
    let http = server.http.unwrap();
    let host = format!("Host: {http}\r\n");
    let mut raw = server.raw();
    assert!(put(&mut raw, "box/a", 60).starts_with("OK"));
    let over = put(&mut raw, "box/b", 41);
    assert!(over.starts_with("ERR 507 quota: 41 more bytes"), "{over}");
    assert!(over.contains("folder box/"), "{over}");
    // Up to the edge, and anywhere outside the folder, writes go on.
    assert!(put(&mut raw, "box/b", 40).starts_with("OK"));
    assert!(put(&mut raw, "elsewhere", 500).starts_with("OK"));

    let put = exchange(http, "PUT", "/box/c", &host, b"y");
    assert_eq!(put.status, 507, "{}", put.head);
    let copy = exchange(
        http,
        "COPY",
        "/elsewhere",
        &format!("{host}Destination: /box/copy\r\n"),
        b"",
    );
    assert_eq!(copy.status, 507, "{}", copy.head);
    let tus = exchange(
        http,
        "POST",
        "/box/",
        // The filename `t`, in base64.
        &format!(
            "{host}Tus-Resumable: 1.0.0\r\nUpload-Length: 5\r\nUpload-Metadata: filename dA==\r\n"
        ),
        b"",
    );
    assert_eq!(tus.status, 507, "{}", tus.head);
    raw.send(format!("UPLOAD box/u 5 {}\n", crc_hex(b"hello")));
    assert!(raw.line().starts_with("ERR 507 quota"));
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0", "a refused UPLOAD leaves no session");
    // A move into the folder is judged as a write there; one out of it
    // frees its room.
    raw.send("MOVE elsewhere box/moved\n");
    assert!(raw.line().starts_with("ERR 507 quota"));
    raw.send("MOVE box/b elsewhere-b\n");
    assert_eq!(raw.line(), "OK");
    assert!(self::put(&mut raw, "box/b", 40).starts_with("OK"));
    assert_eq!(
        server.settled_files_on_disk(),
        ["box/a", "box/b", "elsewhere", "elsewhere-b"]
    );

    raw.send("DEL box/a\n");
    assert_eq!(raw.line(), "OK");
    let put = exchange(http, "PUT", "/box/c", &host, &[b'z'; 60]);
    assert_eq!(put.status, 201, "{}", put.head);
    // Three files: the fourth is one too many, however small.
    assert!(self::put(&mut raw, "box/d", 0).starts_with("OK"));
    let fourth = self::put(&mut raw, "box/e", 0);
    assert!(
        fourth.starts_with("ERR 507 quota: folder box/ holds its 3 files"),
        "{fourth}"
    );
}

#[test]
fn a_resumable_upload_refused_at_its_commit_stays_to_commit_once_there_is_room() {
    let server = TestServer::start_with(box_quota);
    let mut raw = server.raw();
    let body = [b'q'; 60];
    raw.send(format!("UPLOAD box/one 60 {}\n", crc_hex(&body)));
    let begun = raw.line();
    let id = begun.split(' ').nth(1).unwrap().to_owned();
    raw.send(format!("APPEND {id} 0 60\n"));
    raw.send(body);
    assert_eq!(raw.line(), "OK 60");
    // Its staged bytes count: a second upload side by side that would
    // pass the quota with them is refused before a byte is sent.
    raw.send(format!("UPLOAD box/two 41 {}\n", crc_hex(&[b'r'; 41])));
    let refused = raw.line();
    assert!(
        refused.starts_with("ERR 507 quota: 41 more bytes"),
        "{refused}"
    );
    assert!(refused.contains("(60 used)"), "{refused}");
    // Files fill the folder's three meanwhile: the session's commit, one
    // file more, is refused, and the session stays.
    for name in ["box/a", "box/b", "box/c"] {
        assert!(put(&mut raw, name, 10).starts_with("OK"));
    }
    raw.send(format!("COMMIT {id}\n"));
    let refused = raw.line();
    assert!(refused.starts_with("ERR 507 quota"), "{refused}");
    assert!(refused.contains("3 files already"), "{refused}");
    assert_eq!(
        server
            .settled_files_on_disk()
            .iter()
            .filter(|f| f.starts_with("box/"))
            .count(),
        3
    );
    raw.send("DEL box/a\n");
    assert_eq!(raw.line(), "OK");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("OK 60 "), "the session stayed");
    // Committed, its bytes count once, as the file's.
    assert_eq!(df(&mut raw, "box"), [20, 80, 0, 3]);
}

/// Staged bytes count as they are staged, in the token's and the
/// folder's accounts, and leave them when their session goes: aborted,
/// expired, or committed into its file (counted once). An S3 part sent
/// again replaces the old one's count; a completion from fewer parts
/// frees the rest.
#[test]
fn staged_bytes_count_until_their_session_goes() {
    let mut server = TestServer::start_with(box_quota);
    std::fs::create_dir(server.root.path().join("box")).unwrap();
    let mut raw = server.raw();
    let staged = |raw: &mut Raw, name: &str, bytes: &[u8]| {
        raw.send(format!("UPLOAD {name} 50 {}\n", crc_hex(&[b's'; 50])));
        let begun = raw.line();
        let id = begun.split(' ').nth(1).unwrap().to_owned();
        raw.send(format!("APPEND {id} 0 {}\n", bytes.len()));
        raw.send(bytes);
        assert_eq!(raw.line(), format!("OK {}", bytes.len()));
        id
    };
    let id = staged(&mut raw, "box/s", &[b's'; 20]);
    assert_eq!(df(&mut raw, "box"), [80, 20, 3, 0]);
    raw.send(format!("ABORT {id}\n"));
    assert_eq!(raw.line(), "OK");
    assert_eq!(df(&mut raw, "box"), [100, 0, 3, 0]);

    // Expired (untouched past --upload-ttl): its next APPEND finds it
    // gone, and its bytes with it.
    let id = staged(&mut raw, "box/s", &[b's'; 20]);
    let record = server.root.path().join(format!(".ferry-uploads/{id}.meta"));
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    let file = std::fs::File::options().write(true).open(record).unwrap();
    file.set_modified(two_days_ago).unwrap();
    raw.send(format!("APPEND {id} 20 30\n"));
    raw.send([b's'; 30]);
    let expired = raw.line();
    assert!(expired.starts_with("ERR 404 upload expired"), "{expired}");
    assert_eq!(df(&mut raw, "box"), [100, 0, 3, 0]);

    let id = staged(&mut raw, "box/s", &[b's'; 20]);
    raw.send(format!("APPEND {id} 20 30\n"));
    raw.send([b's'; 30]);
    assert_eq!(raw.line(), "OK 50");
    assert_eq!(df(&mut raw, "box"), [50, 50, 3, 0]);
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("OK 50 "));
    assert_eq!(df(&mut raw, "box"), [50, 50, 2, 1]);

    // One left staged across a restart: the start-up recount finds what
    // the counts had counted (no drift), staged bytes and all.
    staged(&mut raw, "box/t", &[b's'; 20]);
    drop(raw);
    let root = server.root.path().to_path_buf();
    server.handle().shutdown();
    server.wait_for_exit().unwrap();
    let again = TestServer::start_with(|config| {
        box_quota(config);
        config.root = root;
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    });
    assert_eq!(df(&mut again.raw(), "box"), [30, 70, 2, 1]);
    let metric = |name: &str| support::http::metric(again.metrics.unwrap(), name);
    assert_eq!(metric("ferry_quota_recounts_total"), 1);
    assert_eq!(metric("ferry_quota_recount_drift_bytes_total"), 0);
}

/// Two PUTs that each fit alone, both past the check before their
/// bodies (each has its `100 Continue`): the first to commit lands, the
/// second is judged again at its rename, under the ledger's lock, and
/// refused with nothing stored.
#[test]
fn puts_side_by_side_cannot_together_pass_a_quota() {
    let server = TestServer::start_with(box_quota);
    let http = server.http.unwrap();
    let begun = |name: &str| {
        let mut conn = Conn::open(http);
        conn.send(format!(
            "PUT /box/{name} HTTP/1.1\r\nHost: {http}\r\nContent-Length: 60\r\nExpect: 100-continue\r\n\r\n"
        ));
        assert_eq!(conn.reply_to("HEAD").status, 100);
        conn
    };
    let (mut first, mut second) = (begun("first"), begun("second"));
    first.send([b'f'; 60]);
    assert_eq!(first.reply().status, 201);
    second.send([b's'; 60]);
    let refused = second.reply();
    assert_eq!(refused.status, 507, "{}", refused.head);
    assert!(
        refused
            .text()
            .contains("60 more bytes would pass the 100-byte quota of folder box/ (60 used)"),
        "{}",
        refused.text()
    );
    assert_eq!(server.settled_files_on_disk(), ["box/first"]);
    assert_eq!(df(&mut server.raw(), "box"), [40, 60, 2, 1]);
}

#[test]
fn a_restart_a_second_node_and_a_recount_see_the_same_usage() {
    let mut first = TestServer::start_with(box_quota);
    let root = first.root.path().to_path_buf();
    let on_root = |node: &'static str| {
        let root = root.clone();
        move |config: &mut Config| {
            box_quota(config);
            config.root = root;
            config.node_id = node.to_owned();
        }
    };
    let second = TestServer::start_with(on_root("second"));
    // Written on the first node after the second started: the second
    // knows it from the ledger, not from a walk of its own.
    assert!(put(&mut first.raw(), "box/a", 90).starts_with("OK"));
    assert!(put(&mut second.raw(), "box/b", 11).starts_with("ERR 507 quota"));
    drop(second);

    first.handle().shutdown();
    first.wait_for_exit().unwrap();
    // Bytes put there behind the server's back: the start-up recount
    // finds them.
    std::fs::write(root.join("box/behind"), [0u8; 5]).unwrap();
    let again = TestServer::start_with(on_root("first"));
    let mut raw = again.raw();
    assert!(put(&mut raw, "box/b", 6).starts_with("ERR 507 quota"));
    assert!(put(&mut raw, "box/b", 5).starts_with("OK"));
}

/// Each node judges a write by the ledger as it is, not by what it
/// counted itself: what another node wrote since is refused (nothing
/// stored), and room another node freed is found.
#[test]
fn what_another_node_wrote_or_freed_is_judged_on_the_ledger() {
    let first = TestServer::start_with(box_quota);
    let root = first.root.path().to_path_buf();
    let second = TestServer::start_with(move |config: &mut Config| {
        box_quota(config);
        config.root = root;
        config.node_id = "second".to_owned();
    });
    let (mut here, mut there) = (first.raw(), second.raw());
    assert!(put(&mut here, "box/a", 60).starts_with("OK"));
    assert!(put(&mut there, "box/b", 30).starts_with("OK"));
    // The first node counted 60 itself; the ledger holds 90.
    let over = put(&mut here, "box/c", 20);
    assert!(
        over.starts_with(
            "ERR 507 quota: 20 more bytes would pass the 100-byte quota of folder box/ (90 used)"
        ),
        "{over}"
    );
    assert_eq!(first.settled_files_on_disk(), ["box/a", "box/b"]);
    // Freed on the second node: the first finds the room.
    raw_delete(&second, "box/a");
    assert!(put(&mut here, "box/c", 50).starts_with("OK"));
    assert_eq!(df(&mut here, "box"), [20, 80, 1, 2]);
}

#[test]
fn a_tokens_quota_counts_its_own_uploads_wherever_they_are_and_whoever_removes_them() {
    let holders: &[(&str, &[&str])] = &[
        ("cam", &["write:/", "read:/"]),
        ("admin", &["write:/", "read:/", "delete:/"]),
    ];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        support::tokens::set_quota(config, 0, "100");
    });
    let http = server.http.unwrap();
    let as_cam = format!("Host: {http}\r\nAuthorization: Bearer {}\r\n", tokens[0]);
    let mut cam = server.raw();
    cam.send(format!("AUTH {}\n", tokens[0]));
    assert!(cam.line().starts_with("OK"));
    let mut admin = server.raw();
    admin.send(format!("AUTH {}\n", tokens[1]));
    assert!(admin.line().starts_with("OK"));

    assert!(put(&mut cam, "a/one", 70).starts_with("OK"));
    let over = exchange(http, "PUT", "/b/two", &as_cam, &[b'c'; 31]);
    assert_eq!(over.status, 507, "{}", over.head);
    assert!(String::from_utf8_lossy(&over.body).contains("token cam"));
    // Another token's uploads are its own.
    assert!(put(&mut admin, "b/big", 500).starts_with("OK"));
    // Replacing its file takes the old one's bytes off (once stored).
    assert!(put(&mut cam, "a/one", 30).starts_with("OK"));
    assert!(put(&mut cam, "b/two", 70).starts_with("OK"));
    assert!(put(&mut cam, "b/three", 1).starts_with("ERR 507 quota"));
    // Removed by another token, its bytes leave its owner's account.
    admin.send("DEL b/two\n");
    assert_eq!(admin.line(), "OK");
    assert!(put(&mut cam, "b/three", 70).starts_with("OK"));
}

/// `DF`'s answer for `folder` (the root for `""`): `[free, used, files
/// free, files used]`.
pub(crate) fn df(raw: &mut Raw, folder: &str) -> [u64; 4] {
    match folder {
        "" => raw.send("DF\n"),
        folder => raw.send(format!("DF {folder}\n")),
    }
    let line = raw.line();
    let fields = line.strip_prefix("OK ").unwrap_or_else(|| panic!("{line}"));
    let numbers: Vec<u64> = fields.split(' ').map(|n| n.parse().unwrap()).collect();
    numbers.try_into().unwrap()
}

/// What a quota leaves is what DF, WebDAV's quota properties (davfs2's
/// `df`), the JSON listing, the page's usage bar and the metrics tell, where it is tighter than the disk: the
/// folder's for a folder below a quota'd one, the token's own for it.
#[test]
fn df_webdav_listings_and_the_metrics_tell_the_tightest_quota() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        box_quota(config);
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        support::tokens::set_quota(config, 0, "1000,files=50");
    });
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert!(raw.line().starts_with("OK"));
    assert!(put(&mut raw, "box/a", 30).starts_with("OK"));
    assert!(put(&mut raw, "top", 200).starts_with("OK"));
    // In box/: the folder's 100 bytes and 3 files are the tightest.
    assert_eq!(df(&mut raw, "box"), [70, 30, 2, 1]);
    // Elsewhere: the token's own 1000 bytes and 50 files.
    assert_eq!(df(&mut raw, ""), [770, 230, 48, 2]);

    let http = server.http.unwrap();
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;
    let headers = format!(
        "Host: {http}\r\nDepth: 0\r\nAuthorization: Bearer {}\r\n",
        tokens[0]
    );
    let found = exchange(http, "PROPFIND", "/box/", &headers, ask.as_bytes());
    assert_eq!(found.status, 207, "{}", found.head);
    let text = found.text();
    assert!(text.contains("quota-available-bytes>70<"), "{text}");
    assert!(text.contains("quota-used-bytes>30<"), "{text}");

    // The JSON listing and the page's usage bar.
    let json = exchange(
        http,
        "GET",
        "/box/",
        &format!("{headers}Accept: application/json\r\n"),
        b"",
    );
    assert!(
        json.text().contains(
            "\"space\":{\"free\":70,\"used\":30,\"size\":100,\"files_free\":2,\"files_used\":1}}"
        ),
        "{}",
        json.text()
    );
    let page = exchange(http, "GET", "/box/", &headers, b"");
    assert!(
        page.text()
            .contains("<meter min=\"0\" max=\"100\" value=\"30\"></meter> 70 B free of 100 B")
    );

    let metrics = server.metrics.unwrap();
    let metric = |name: &str| support::http::metric(metrics, name);
    assert_eq!(metric("ferry_quota_used_bytes{folder=\"box/\"}"), 30);
    assert_eq!(metric("ferry_quota_used_bytes{token=\"cam\"}"), 230);
    assert_eq!(metric("ferry_quota_used_files{token=\"cam\"}"), 2);
    assert_eq!(metric("ferry_quota_recounts_total"), 1);
}

/// A folder's COPY is judged whole before anything is copied (its size
/// takes a walk of the source), and what it copies is the copier's.
#[test]
fn a_folder_copy_is_judged_whole_and_its_copies_are_the_copiers() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        support::tokens::set_quota(config, 0, "100");
    });
    // Stored behind the server's back: nobody's.
    std::fs::create_dir_all(server.path("src/in")).unwrap();
    std::fs::write(server.path("src/a"), [1u8; 40]).unwrap();
    std::fs::write(server.path("src/in/b"), [2u8; 40]).unwrap();
    let http = server.http.unwrap();
    let copy = |to: &str| {
        let headers = format!(
            "Host: {http}\r\nAuthorization: Bearer {}\r\nDestination: {to}\r\n",
            tokens[0]
        );
        exchange(http, "COPY", "/src/", &headers, b"")
    };
    assert_eq!(copy("/one/").status, 201);
    let over = copy("/two/");
    assert_eq!(over.status, 507, "{}", over.head);
    assert!(
        over.text().contains("quota: 80 more bytes"),
        "{}",
        over.text()
    );
    assert!(!server.path("two").exists(), "nothing of a refused copy");
    let mut raw = server.raw();
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert!(raw.line().starts_with("OK"));
    assert_eq!(df(&mut raw, "")[1], 80, "the copies are cam's");
}

/// A folder's MOVE into a quota'd folder it was not in is judged by all it
/// holds, before anything is cleared at the target; once in, it counts.
#[test]
fn a_folder_moved_into_a_quotad_folder_is_judged_whole() {
    let server = TestServer::start_with(box_quota);
    std::fs::create_dir_all(server.path("big/in")).unwrap();
    std::fs::write(server.path("big/a"), [1u8; 60]).unwrap();
    std::fs::write(server.path("big/in/b"), [2u8; 50]).unwrap();
    std::fs::create_dir_all(server.path("small")).unwrap();
    std::fs::create_dir_all(server.path("box")).unwrap();
    std::fs::write(server.path("small/c"), [3u8; 30]).unwrap();
    let http = server.http.unwrap();
    let move_to = |from: &str, to: &str| dav_move(http, from, to);
    let over = move_to("/big/", "/box/big/");
    assert_eq!(over.status, 507, "{}", over.head);
    assert!(
        over.text().contains("quota: 110 more bytes"),
        "{}",
        over.text()
    );
    assert!(server.path("big/in/b").exists(), "nothing moved");
    assert_eq!(move_to("/small/", "/box/small/").status, 201);
    let mut raw = server.raw();
    assert!(put(&mut raw, "box/d", 71).starts_with("ERR 507 quota"));
    assert!(put(&mut raw, "box/d", 70).starts_with("OK"));
}

/// An upload of a length still to come (tus's `Upload-Defer-Length`) is
/// judged at each PATCH by all it would then hold: past the quota, the
/// PATCH is refused, nothing of it staged, and the upload stays where it
/// was, to go on once there is room.
#[test]
fn an_upload_of_a_length_to_come_is_judged_at_each_patch() {
    let server = TestServer::start_with(box_quota);
    let http = server.http.unwrap();
    let tus = format!("Host: {http}\r\nTus-Resumable: 1.0.0\r\n");
    assert!(put(&mut server.raw(), "box/kept", 30).starts_with("OK"));
    let created = exchange(
        http,
        "POST",
        "/box/",
        // The filename `t`, in base64.
        &format!("{tus}Upload-Defer-Length: 1\r\nUpload-Metadata: filename dA==\r\n"),
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.head);
    let url = created.header("Location").unwrap().to_owned();
    let patch = |offset: u64, bytes: &[u8]| {
        let headers = format!(
            "{tus}Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
        );
        exchange(http, "PATCH", &url, &headers, bytes)
    };
    assert_eq!(patch(0, &[1u8; 50]).status, 204);
    let over = patch(50, &[2u8; 21]);
    assert_eq!(over.status, 507, "{}", over.head);
    // The 50 staged count with the 30 stored.
    assert!(
        over.text().contains("quota: 21 more bytes") && over.text().contains("(80 used)"),
        "{}",
        over.text()
    );
    raw_delete(&server, "box/kept");
    let resumed = patch(50, &[2u8; 21]);
    assert_eq!(resumed.status, 204, "{}", resumed.head);
    assert_eq!(resumed.header("Upload-Offset"), Some("71"));
}

/// FERRY/1's DEL of `name`, which must succeed.
fn raw_delete(server: &TestServer, name: &str) {
    let mut raw = server.raw();
    raw.send(format!("DEL {name}\n"));
    assert_eq!(raw.line(), "OK");
}

/// Uploads of a length to come (an HTTP chunked PUT, FTP's `STOR`) count
/// their bytes as they are written: one past the folder's quota is
/// refused at the write that would pass it (507, 552), its bytes given
/// back; one that fits is counted once, its bytes netted at its commit;
/// a cut `STOR` kept to go on with counts what it kept.
#[test]
fn uploads_of_a_length_to_come_count_as_written() {
    use std::io::Write;
    let server = TestServer::start_with(|config| {
        listen_http(config);
        support::listen_ftp(config);
        config.quotas = vec![FolderQuota::parse("box/=1000000,files=10").unwrap()];
    });
    std::fs::create_dir(server.path("box")).unwrap();
    let http = server.http.unwrap();
    let (big, small) = (support::pattern(3 << 20, 1), support::pattern(200_000, 2));
    // Sends the chunked body beside the answer's read: a refusal may come
    // before it is all sent. Without its last chunk where `whole` is not
    // set: then only a refusal as the bytes are written answers.
    let chunked = |name: &str, body: &[u8], whole: bool| {
        let mut conn = std::net::TcpStream::connect(http).unwrap();
        let head =
            format!("PUT /{name} HTTP/1.1\r\nHost: {http}\r\nTransfer-Encoding: chunked\r\n\r\n");
        conn.write_all(head.as_bytes()).unwrap();
        let mut chunks = Vec::new();
        for piece in body.chunks(64 << 10) {
            chunks.extend(format!("{:x}\r\n", piece.len()).as_bytes());
            chunks.extend(piece);
            chunks.extend(b"\r\n");
        }
        if whole {
            chunks.extend(b"0\r\n\r\n");
        }
        let mut sending = conn.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = sending.write_all(&chunks);
        });
        let answer = Conn::on(conn.try_clone().unwrap()).reply();
        let _ = conn.shutdown(std::net::Shutdown::Both);
        sender.join().unwrap();
        answer
    };
    // 1.5 MB of a body of a length to come, and no end: past the 1 MB
    // quota already, it is refused as it is written.
    let refused = chunked("box/big", &big[..1_500_000], false);
    assert_eq!(refused.status, 507, "{}", refused.head);
    assert!(
        refused.text().contains("quota of folder box/"),
        "{}",
        refused.text()
    );
    assert_eq!(df(&mut server.raw(), "box")[1], 0, "nothing counted");
    assert_eq!(chunked("box/small", &small, true).status, 201);
    assert_eq!(df(&mut server.raw(), "box")[1..], [200_000, 9, 1]);

    let mut ftp = support::ftp::connect(&server);
    support::ftp::log_in(&mut ftp, "me", "x");
    let (_, stored) = support::ftp::store(&mut ftp, "box/ftp-small", &small);
    assert_eq!(stored, "226 done");
    assert_eq!(df(&mut server.raw(), "box")[1], 400_000);
    let root = server.path("box");
    support::ftp::cut_after(&mut ftp, "STOR box/cut", &big[..600_000], (&root, 1));
    let kept = support::ftp::size(&mut ftp, "box/cut");
    assert!(kept > 0);
    assert_eq!(
        df(&mut server.raw(), "box")[1],
        400_000 + kept,
        "what was kept"
    );
    assert!(support::temp_files(server.root.path()).is_empty());
}

/// Every node's metrics show the ledger as every node counts it: what
/// one node wrote shows in another's `ferry_quota_used_bytes` within a
/// sweep period (each reads the accounts afresh then). Before, a node
/// showed what it had counted itself, until it was restarted.
#[test]
fn every_nodes_metrics_show_what_any_node_counted() {
    let first = TestServer::start_with(box_quota);
    let root = first.root.path().to_path_buf();
    let second = TestServer::start_with(move |config| {
        box_quota(config);
        config.root = root;
        config.node_id = "second".to_owned();
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.sweep_period = std::time::Duration::from_millis(50);
    });
    // Its start-up recount over (it found nothing) before the write.
    second.wait_for_sweep();
    assert!(put(&mut first.raw(), "box/a", 60).starts_with("OK"));
    let metrics = second.metrics.unwrap();
    let used = || support::http::metric(metrics, "ferry_quota_used_bytes{folder=\"box/\"}");
    // A sweep period or two: polled, the period being the event.
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while used() != 60 {
        assert!(std::time::Instant::now() < deadline, "still {}", used());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A node that starts (and recounts, walking the root) while another
/// node's APPEND is in flight keeps the bytes that APPEND counted before
/// they arrive: no walk can see them. Issue 75: a restart under traffic
/// set the ledger to what the walk found, the APPEND's reservation lost,
/// and a second upload passed the quota beside it (the cluster's history
/// with faults found the ledger below the disk).
#[test]
fn a_recount_beside_an_append_in_flight_keeps_what_it_counted_ahead() {
    let first = TestServer::start_with(box_quota);
    std::fs::create_dir(first.path("box")).unwrap();
    let mut raw = first.raw();
    raw.send(format!("UPLOAD box/a 60 {}\n", crc_hex(&[b'a'; 60])));
    let begun = raw.line();
    let id = begun.split(' ').nth(1).unwrap().to_owned();
    // Its head alone: the 60 bytes are counted, none has arrived.
    raw.send(format!("APPEND {id} 0 60\n"));
    let mut watch = first.raw();
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while df(&mut watch, "box")[1] != 60 {
        assert!(std::time::Instant::now() < deadline, "never counted ahead");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let root = first.root.path().to_path_buf();
    let second = TestServer::start_with(move |config| {
        box_quota(config);
        config.root = root;
        config.node_id = "second".to_owned();
    });
    second.wait_for_sweep();
    let mut other = second.raw();
    assert_eq!(df(&mut other, "box"), [40, 60, 3, 0], "the recount kept it");
    let refused = put(&mut other, "box/b", 60);
    assert!(refused.starts_with("ERR 507 quota"), "{refused}");
    raw.send([b'a'; 60]);
    assert_eq!(raw.line(), "OK 60");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("OK 60 "));
    assert_eq!(df(&mut other, "box"), [40, 60, 2, 1]);
}

/// An upload session is the token's that began it: what it stages counts
/// in that token's account, judged against that token's quota, so no other
/// token adds to it or commits it, and a FERRY/1 UPLOAD of the same file,
/// size and CRC by another token is a session of its own. Before, a token
/// of a 100-byte quota found an unlimited token's session of a 300-byte
/// file, staged its last bytes (judged against its own quota, counted in
/// the other's account) and committed it: a 300-byte file judged against
/// its quota for the 100 bytes still to come.
#[test]
fn an_upload_session_counts_for_the_token_that_began_it_alone() {
    let holders: &[(&str, &[&str])] = &[
        ("cam", &["write:/", "read:/"]),
        ("admin", &["write:/", "read:/"]),
    ];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        support::tokens::set_quota(config, 0, "100");
    });
    let login = |token: &str| {
        let mut raw = server.raw();
        raw.send(format!("AUTH {token}\n"));
        assert!(raw.line().starts_with("OK"));
        raw
    };
    let (mut cam, mut admin) = (login(&tokens[0]), login(&tokens[1]));
    let data = support::pattern(300, 3);
    let (id, _) = support::upload(&mut admin, "shared/f", &data);
    assert_eq!(support::append(&mut admin, &id, 0, &data[..200]), "OK 200");

    // The same upload by the other token is its own, judged for all of it.
    let line = format!("UPLOAD shared/f 300 {}\n", crc_hex(&data));
    cam.send(&line);
    let refused = cam.line();
    assert!(refused.starts_with("ERR 507 quota"), "{refused}");
    // The first token's session, by its id: neither added to nor committed.
    let theirs = "ERR 403 token cam may not write an upload session another token began";
    cam.send(format!("APPEND {id} 200 100\n"));
    assert_eq!(cam.line(), theirs);
    cam.send(&data[200..]);
    cam.send(format!("COMMIT {id}\n"));
    assert_eq!(cam.line(), theirs);
    assert!(!server.path("shared/f").exists());

    // Its owner goes on with it; the other token's account is untouched.
    assert_eq!(
        support::append(&mut admin, &id, 200, &data[200..]),
        "OK 300"
    );
    admin.send(format!("COMMIT {id}\n"));
    assert!(admin.line().starts_with("OK 300"));
    assert_eq!(std::fs::read(server.path("shared/f")).unwrap(), data);
    assert!(put(&mut cam, "mine", 100).starts_with("OK"));
    assert!(put(&mut cam, "more", 1).starts_with("ERR 507 quota"));
}

/// An UPLOAD (FERRY/1's, tus's creation) refused for room is judged
/// before a session is made: it leaves no trace, even where the store
/// could not take one back. (A session made is read back: every read of
/// a record passes [`Point::ReadSession`], where the gate would hold
/// it.) Before, the session was made, then taken back; under the
/// cluster recipe's faults the take-back failed and the session stayed.
#[test]
fn a_refused_upload_is_judged_before_a_session_is_made() {
    use ferry::storage::gate::{Gate, Point};
    let gate = std::sync::Arc::new(Gate::new(Point::ReadSession));
    let server = TestServer::start_with(|config| {
        box_quota(config);
        config.gate = Some(std::sync::Arc::clone(&gate));
    });
    let mut raw = server.raw();
    raw.send(format!("UPLOAD box/u 101 {}\n", crc_hex(&[b'u'; 101])));
    let refused = raw.line();
    assert!(refused.starts_with("ERR 507 quota"), "{refused}");
    let http = server.http.unwrap();
    let tus = exchange(
        http,
        "POST",
        "/box/",
        // The filename `t`, in base64.
        &format!(
            "Host: {http}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 101\r\nUpload-Metadata: filename dA==\r\n"
        ),
        b"",
    );
    assert_eq!(tus.status, 507, "{}", tus.head);
    assert_eq!(gate.arrivals(), 0, "a refused UPLOAD made a session");
    gate.open();
    raw.send("SESSIONS\n");
    assert_eq!(raw.line(), "OK 0");
}

/// An UPLOAD refused for room takes back only a session it made: one it
/// found stays, for another client of the token may be staging into it.
/// Before, a second connection's UPLOAD of the same file, refused for
/// want of room while the first's APPEND had its bytes counted ahead,
/// aborted the session under that APPEND, which then failed. (The
/// UPLOAD owes no room for what that APPEND counted: only the rest.)
#[test]
fn a_refused_upload_leaves_a_session_it_found_to_the_append_in_it() {
    let holders: &[(&str, &[&str])] = &[("cam", &["write:/", "read:/", "delete:/"])];
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], |config| {
        support::tokens::set_quota(config, 0, "150");
    });
    let login = || {
        let mut raw = server.raw();
        raw.send(format!("AUTH {}\n", tokens[0]));
        assert!(raw.line().starts_with("OK"));
        raw
    };
    let (mut streaming, mut second) = (login(), login());
    assert!(put(&mut second, "g", 50).starts_with("OK"));
    let data = support::pattern(100, 5);
    let (id, _) = support::upload(&mut streaming, "f", &data);
    // Its first 50 bytes counted before they arrive (DF tells the
    // ledger), none of them staged yet.
    streaming.send(format!("APPEND {id} 0 50\n"));
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while df(&mut second, "")[1] != 100 {
        assert!(std::time::Instant::now() < deadline, "never counted ahead");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // The other 50 do not fit, once one byte more is taken.
    assert!(put(&mut second, "h", 1).starts_with("OK"));
    second.send(format!("UPLOAD f 100 {}\n", crc_hex(&data)));
    let refused = second.line();
    assert!(
        refused.starts_with("ERR 507 quota: 50 more bytes"),
        "{refused}"
    );
    streaming.send(&data[..50]);
    assert_eq!(streaming.line(), "OK 50");
    second.send("DEL h\n");
    assert_eq!(second.line(), "OK");
    assert_eq!(
        support::append(&mut streaming, &id, 50, &data[50..]),
        "OK 100"
    );
    streaming.send(format!("COMMIT {id}\n"));
    assert!(streaming.line().starts_with("OK 100"));
    assert_eq!(std::fs::read(server.path("f")).unwrap(), data);
}

/// A commit's rename that fails but may have happened (a network file
/// system's client killed before it answered; here a failing gate just
/// after the rename) keeps its count: the ledger is high until a
/// recount, never low. Before, the count was taken back with the file
/// in place (the cluster recipe's history: "the ledger counts less than
/// the disk"), and the folder's quota could be passed by that much. A
/// PUT's and a session's commit alike (what each replaced stays counted
/// too), and a file's or a folder's move into the folder.
#[test]
fn a_rename_that_failed_but_happened_stays_counted() {
    use ferry::storage::gate::{Gate, Point};
    use rustix::io::Errno;
    let gate = std::sync::Arc::new(Gate::failing(Point::Renamed, Errno::NOTCONN));
    let server = TestServer::start_with(|config| {
        listen_http(config);
        config.quotas = vec![FolderQuota::parse("box/=1000,files=10").unwrap()];
        config.gate = Some(std::sync::Arc::clone(&gate));
    });
    let mut raw = server.raw();
    let failed = put(&mut raw, "box/a", 30);
    assert!(failed.starts_with("ERR 503 "), "{failed}");
    assert_eq!(df(&mut raw, "box")[1], 30);
    let data = support::pattern(20, 4);
    let (id, _) = support::upload(&mut raw, "box/a", &data);
    assert_eq!(support::append(&mut raw, &id, 0, &data), "OK 20");
    raw.send(format!("COMMIT {id}\n"));
    let failed = raw.line();
    assert!(failed.starts_with("ERR 503 "), "{failed}");
    // In place, as the failure hid; counted, with the file it replaced.
    assert_eq!(std::fs::read(server.path("box/a")).unwrap(), data);
    assert_eq!(df(&mut raw, "box")[1], 50);
    // A file's move into the folder, and a folder's, alike.
    assert!(put(&mut raw, "out", 5).starts_with("ERR 503 "));
    raw.send("MOVE out box/moved\n");
    let failed = raw.line();
    assert!(failed.starts_with("ERR 503 "), "{failed}");
    assert!(server.path("box/moved").exists());
    assert_eq!(df(&mut raw, "box")[1], 55);
    assert!(put(&mut raw, "dir/f", 7).starts_with("ERR 503 "));
    let http = server.http.unwrap();
    let head = format!("Host: {http}\r\nDestination: /box/dir/\r\n");
    let moved = exchange(http, "MOVE", "/dir/", &head, b"");
    assert_eq!(moved.status, 503, "{}", moved.head);
    assert!(server.path("box/dir/f").exists());
    assert_eq!(df(&mut raw, "box")[1], 62);
}

/// A `--fsync` commit whose folder was pruned under it walks to the
/// folder again, makes it, renames the file into it, then flushes the
/// folders made; a flush that fails there fails the COMMIT's answer
/// (503, to try again), but the file is in place: it stays counted as
/// it is (before, the count was undone and the ledger drifted from the
/// tree), and the session that held it goes.
#[test]
fn a_flush_that_fails_after_the_rename_keeps_the_file_counted() {
    use ferry::storage::gate::{Gate, Point};
    use rustix::io::Errno;
    use std::sync::Arc;

    let gate = Arc::new(Gate::failing(Point::FlushWalked, Errno::IO).holding(Point::Commit));
    let server = TestServer::start_with(|config| {
        box_quota(config);
        config.fsync = true;
        config.gate = Some(gate.clone());
    });
    let mut raw = server.raw();
    let data = support::pattern(50, 9);
    let (id, _) = support::upload(&mut raw, "box/sub/f", &data);
    assert_eq!(support::append(&mut raw, &id, 0, &data), "OK 50");
    raw.send(format!("COMMIT {id}\n"));
    // Held before its rename, its folder walked to: the folder goes (a
    // prune of the emptied folder, or a client's RMD) meanwhile.
    gate.wait_for_arrivals(1);
    std::fs::remove_dir(server.path("box/sub")).unwrap();
    gate.open();
    let failed = raw.line();
    assert!(failed.starts_with("ERR 503 "), "{failed}");
    assert_eq!(std::fs::read(server.path("box/sub/f")).unwrap(), data);
    assert_eq!(df(&mut raw, "box"), [50, 50, 2, 1], "counted as it is");
    // Begun again, it is a new session (its id the same, by its name,
    // size and CRC), none of its bytes kept.
    let (_, offset) = support::upload(&mut raw, "box/sub/f", &data);
    assert_eq!(offset, 0, "the session went");
}

/// A server on `root` whose `box/` may hold 150 bytes, with two I/O
/// threads at least, and a gate closed at its renames (after their checks).
fn held_at_renames(
    root: &std::path::Path,
) -> (TestServer, std::sync::Arc<ferry::storage::gate::Gate>) {
    use ferry::storage::gate::{Gate, Point};
    let gate = std::sync::Arc::new(Gate::new(Point::Commit));
    let server = TestServer::start_with(|config| {
        listen_http(config);
        config.root = root.to_path_buf();
        config.quotas = vec![FolderQuota::parse("box/=150").unwrap()];
        config.io_threads = config.io_threads.max(2);
        config.gate = Some(std::sync::Arc::clone(&gate));
    });
    (server, gate)
}

/// Two MOVEs side by side into a quota'd folder, each of which fits
/// alone and not both: held after the check before the rename, they
/// rename at once, and the folder's count is judged and changed with
/// each in one step, so one is refused (507) and stays where it was.
/// Before, both moved: 200 bytes counted against 150.
#[test]
fn moves_side_by_side_cannot_together_pass_a_folders_quota() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("box")).unwrap();
    std::fs::create_dir_all(root.path().join("out")).unwrap();
    for name in ["a", "b"] {
        std::fs::write(root.path().join("out").join(name), [b'm'; 100]).unwrap();
    }
    let (server, gate) = held_at_renames(root.path());
    let moves: Vec<_> = ["a", "b"]
        .map(|name| {
            let mut raw = server.raw();
            std::thread::spawn(move || {
                raw.send(format!("MOVE out/{name} box/{name}\n"));
                raw.line()
            })
        })
        .into_iter()
        .collect();
    gate.wait_for_arrivals(2);
    gate.open();
    let answers: Vec<String> = moves.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        answers.iter().filter(|a| *a == "OK").count(),
        1,
        "{answers:?}"
    );
    let refused = answers.iter().find(|a| *a != "OK").unwrap();
    assert!(refused.starts_with("ERR 507 quota"), "{refused}");
    let moved = ["a", "b"].map(|name| root.path().join("box").join(name).exists());
    let stayed = ["a", "b"].map(|name| root.path().join("out").join(name).exists());
    assert_eq!(moved.map(|m| !m), stayed, "each file in one place");
    // Free and used bytes (no file limit: the rest tells the disk's).
    assert_eq!(df(&mut server.raw(), "box")[..2], [50, 100]);
}

/// Two folders moved side by side into a quota'd folder (WebDAV MOVE),
/// each of which fits alone and not both: held after the check of the
/// walked tree, the first to rename is judged and counted with it in one
/// step, and the second is refused (507) and stays where it was. Before,
/// both moved: 200 bytes counted against 150.
#[test]
fn folders_moved_side_by_side_cannot_together_pass_a_folders_quota() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("box")).unwrap();
    for name in ["a", "b"] {
        std::fs::create_dir_all(root.path().join(name)).unwrap();
        std::fs::write(root.path().join(name).join("f"), [b'm'; 100]).unwrap();
    }
    let (server, gate) = held_at_renames(root.path());
    let http = server.http.unwrap();
    let moves: Vec<_> = ["a", "b"]
        .map(|name| {
            std::thread::spawn(move || {
                let to = format!("Host: {http}\r\nDestination: /box/{name}/\r\n");
                exchange(http, "MOVE", &format!("/{name}/"), &to, b"").status
            })
        })
        .into_iter()
        .collect();
    gate.wait_for_arrivals(2);
    gate.open();
    let mut statuses: Vec<u16> = moves.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 507]);
    let moved = ["a", "b"].map(|name| root.path().join("box").join(name).exists());
    let stayed = ["a", "b"].map(|name| root.path().join(name).exists());
    assert_eq!(moved.map(|m| !m), stayed, "each folder in one place");
    assert_eq!(df(&mut server.raw(), "box")[..2], [50, 100]);
}

/// A folder's MOVE fills a quota'd folder below its target (`drop/in/`,
/// not there before it) with what lies at the same path below its
/// source, and is judged by that: past the quota, 507 and nothing
/// moved. A quota'd folder below a moved one loses the files that moved
/// and keeps the bytes its sessions staged there (before, a moved
/// folder's nested quota'd folders were counted afresh from a walk, which
/// dropped them: a quota passed by what was staged).
#[test]
fn a_folder_move_is_judged_in_the_quotad_folders_its_tree_fills() {
    let root = laid_out(&[("big/a", 60), ("big/in/b", 150), ("src/in/c", 30)]);
    let server = TestServer::start_with(|config| {
        listen_http(config);
        config.root = root.path().to_path_buf();
        config.quotas = ["drop/in/=100", "src/in/=100"]
            .map(|quota| FolderQuota::parse(quota).unwrap())
            .to_vec();
    });
    let http = server.http.unwrap();
    let move_to = |from: &str, to: &str| dav_move(http, from, to);
    let over = move_to("/big/", "/drop/");
    assert_eq!(over.status, 507, "{}", over.head);
    assert!(over.text().contains("folder drop/in/"), "{}", over.text());
    assert!(root.path().join("big/in/b").exists(), "nothing moved");
    assert!(!root.path().join("drop").exists());

    let mut raw = server.raw();
    // 20 bytes staged for `src/in/s`, beside the 30 of `src/in/c`.
    raw.send(format!("UPLOAD src/in/s 50 {}\n", crc_hex(&[b's'; 50])));
    let begun = raw.line();
    let id = begun.split(' ').nth(1).unwrap().to_owned();
    raw.send(format!("APPEND {id} 0 20\n"));
    raw.send([b's'; 20]);
    assert_eq!(raw.line(), "OK 20");
    assert_eq!(df(&mut raw, "src/in")[1], 50);
    assert_eq!(move_to("/src/", "/drop/").status, 201);
    assert_eq!(df(&mut raw, "drop/in")[..2], [70, 30]);
    // Made again, for DF to answer of it.
    std::fs::create_dir_all(root.path().join("src/in")).unwrap();
    assert_eq!(
        df(&mut raw, "src/in")[1],
        20,
        "the staged bytes stay counted"
    );
    raw.send(format!("ABORT {id}\n"));
    assert_eq!(raw.line(), "OK");
    assert_eq!(df(&mut raw, "src/in")[1], 0);
}

/// A file's MOVE onto a file of its size in a full quota'd folder adds
/// nothing and is let through (before, the serve layer judged its whole
/// size and refused it with 507); one that adds is refused.
#[test]
fn a_file_moved_over_one_of_its_size_in_a_full_folder_fits() {
    let root = laid_out(&[("box/f", 80), ("out/f", 80), ("out/g", 30)]);
    let server = TestServer::start_with(|config| {
        box_quota(config);
        config.root = root.path().to_path_buf();
    });
    let http = server.http.unwrap();
    let move_to = |from: &str, to: &str| dav_move(http, from, to);
    let over = move_to("/out/g", "/box/g");
    assert_eq!(over.status, 507, "{}", over.head);
    let replaced = move_to("/out/f", "/box/f");
    assert_eq!(replaced.status, 204, "{}", replaced.head);
    assert_eq!(df(&mut server.raw(), "box")[..2], [20, 80]);
    assert!(!root.path().join("out/f").exists());
}

/// A root holding files of these names and sizes, for a server started
/// on it to count.
fn laid_out(files: &[(&str, usize)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (name, len) in files {
        let path = root.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, vec![b'n'; *len]).unwrap();
    }
    root
}

/// A WebDAV MOVE of `from` to `to` (`Overwrite` left to its default, T).
fn dav_move(http: std::net::SocketAddr, from: &str, to: &str) -> support::http::Answer {
    let headers = format!("Host: {http}\r\nDestination: {to}\r\n");
    exchange(http, "MOVE", from, &headers, b"")
}
