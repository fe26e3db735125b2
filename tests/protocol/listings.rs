//! Listings: FERRY/1 `LIST` walks the tree in name order and streams what
//! it finds into a spool file it then sends, so a listing of any size holds
//! no memory in the server while a client is slow to read it; an HTTP
//! listing reads one directory, not the tree below it.

use crate::support;

use std::fs;

use support::process::Process;
use support::{Raw, TestServer};

/// Puts empty files at `names` beneath the server's root by other means.
fn plant(server: &TestServer, names: &[&str]) {
    for name in names {
        let path = server.path(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"").unwrap();
    }
}

#[test]
fn list_is_in_byte_order_of_full_names_at_any_depth() {
    let server = TestServer::start();
    // '-' < '.' < '/' < '0' < 'a': a directory's files sort where "x/"
    // does, between "x.txt" and "x0".
    let names = [
        "xa",
        "x0",
        "x/z/w",
        "x/y",
        "x.txt",
        "x-1",
        "x/y.d/q",
        "x/y-",
        "w",
        "x/ü",
        "x/z/.ferry-tmp-9-9",
    ];
    plant(&server, &names);
    let mut expected: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !name.contains(".ferry-"))
        .collect();
    expected.sort_unstable();
    let listed = |prefix: &str| -> Vec<String> {
        let entries = server.client().list(prefix).unwrap();
        entries.into_iter().map(|entry| entry.name).collect()
    };
    assert_eq!(listed(""), expected);
    assert_eq!(listed("x/"), ["x/y", "x/y-", "x/y.d/q", "x/z/w", "x/ü"]);
    assert_eq!(listed("x/y"), ["x/y", "x/y-", "x/y.d/q"]);
    assert_eq!(listed("x"), expected[1..]);
}

#[test]
fn a_listing_larger_than_the_spool_buffer_arrives_whole_and_sorted() {
    let server = TestServer::start();
    let mut names: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "batch/{:02}/reading-{:05}-{}.json",
                (i * 7) % 41,
                i,
                "z".repeat(i % 13)
            )
        })
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    plant(&server, &refs);
    names.sort_unstable();

    let mut raw = server.raw();
    raw.send("LIST batch/\n");
    let head = raw.line();
    let len: usize = head.strip_prefix("OK ").unwrap().parse().unwrap();
    assert!(len > 2 * 64 * 1024, "{len}");
    let body = String::from_utf8(raw.bytes(len)).unwrap();
    let listed: Vec<&str> = body
        .lines()
        .map(|line| line.splitn(3, ' ').nth(2).unwrap())
        .collect();
    assert_eq!(listed, names);
    // The connection goes on.
    raw.send("STAT nothing\n");
    assert!(raw.line().starts_with("ERR 404 "));
}

#[test]
fn listings_nobody_reads_hold_no_memory_in_the_server() {
    const FILES: usize = 10_000;
    const READERS: usize = 20;
    let root = tempfile::tempdir().unwrap();
    for i in 0..FILES {
        let dir = root.path().join(format!("sensor-{:03}", i % 100));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("reading-{i:06}.csv")), b"1").unwrap();
    }
    let server = Process::start(root.path(), &[]);
    let list = || {
        let mut raw = Raw::connect_narrow(server.addr, 4096);
        assert!(raw.line().starts_with("OK FERRY/1 "));
        raw.send("LIST\n");
        let head = raw.line();
        let len: u64 = head.strip_prefix("OK ").unwrap().parse().unwrap();
        assert!(len > 300_000, "{head}");
        raw
    };
    // Warm up the pool's threads and the allocator.
    let warm: Vec<Raw> = (0..4).map(|_| list()).collect();
    let before = server.resident_bytes();
    let readers: Vec<Raw> = (0..READERS).map(|_| list()).collect();
    let grown = server.resident_bytes().saturating_sub(before);
    // Built in memory, each unread listing held about 350 KB here.
    assert!(
        grown < 3 << 20,
        "server memory grew by {:.1} MiB for {READERS} unread listings",
        grown as f64 / f64::from(1 << 20)
    );
    drop((warm, readers));
}

#[test]
fn an_http_listing_reads_only_its_own_directory() {
    let server = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    plant(
        &server,
        &[
            "d/file.txt",
            "d/sub/deep/x",
            "d/late/.ferry-tmp-9-9",
            "d/.ferry-tmp-9-8",
        ],
    );
    let url = format!("http://{}/d/", server.http.unwrap());
    let json: String = ureq::get(&url)
        .header("Accept", "application/json")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    // "late/" holds only an upload in progress: a listing that walked below
    // its directory would know there is no file in it; this one does not
    // look.
    let expected = "{\"prefix\":\"d/\",\"dirs\":[\"d/late/\",\"d/sub/\"],\"files\":[{\"name\":\"d/file.txt\",\"size\":0,\"mtime\":";
    // Then the room to write there (docs/quotas.md).
    assert!(
        json.starts_with(expected)
            && json.contains("}],\"space\":{\"free\":")
            && json.ends_with("}}\n"),
        "{json}"
    );
    assert_eq!(json.matches("\"name\"").count(), 1, "{json}");
    // HEAD announces the length GET sends, and sends nothing.
    let head = ureq::head(&url).call().unwrap();
    let get = ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    assert_eq!(
        head.headers()
            .get("content-length")
            .unwrap()
            .to_str()
            .unwrap(),
        get.len().to_string()
    );
}

#[test]
fn dir_lists_one_folder_level_with_folders_marked() {
    let server = TestServer::start();
    plant(
        &server,
        &[
            "d/file.txt",
            "d/my file",
            "d/sub/deep/x",
            "d/late/.ferry-tmp-9-9",
            "d/.ferry-tmp-9-8",
            "top",
        ],
    );
    fs::write(server.path("d/file.txt"), b"hello").unwrap();
    let mut raw = server.raw();
    let read_dir = |raw: &mut Raw, line: &str| -> Vec<String> {
        raw.send(line);
        let answer = raw.line();
        let len: usize = answer.strip_prefix("OK ").expect(&answer).parse().unwrap();
        let body = String::from_utf8(raw.bytes(len)).unwrap();
        body.lines()
            .map(|line| {
                let (kind, rest) = line.split_once(' ').unwrap();
                let (mtime, name) = rest.split_once(' ').unwrap();
                assert!(mtime.parse::<i64>().unwrap() > 0, "{line}");
                format!("{kind} {name}")
            })
            .collect()
    };
    // Folders first (marked `-`, ending in `/`), then files with sizes;
    // nothing below the sub-folders is read.
    assert_eq!(
        read_dir(&mut raw, "DIR d\n"),
        ["- d/late/", "- d/sub/", "5 d/file.txt", "0 d/my%20file"]
    );
    assert_eq!(read_dir(&mut raw, "DIR\n"), ["- d/", "0 top"]);
    assert_eq!(read_dir(&mut raw, "DIR d/sub/deep\n"), ["0 d/sub/deep/x"]);
    // A folder that is not there (or is a file) is an error, not an empty
    // listing; a bad name keeps the connection.
    raw.send("DIR nothere\n");
    assert!(raw.line().starts_with("ERR 404 "));
    raw.send("DIR top\n");
    assert!(raw.line().starts_with("ERR 404 "));
    raw.send("DIR .ferry-x\n");
    assert!(raw.line().starts_with("ERR 403 "));
    raw.send("DIR d/\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.send("DIR a b\n");
    assert!(raw.line().starts_with("ERR 400 "));
    raw.expect_closed();
}

#[test]
fn an_http_listing_is_json_with_format_json_in_the_query() {
    let server = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    plant(&server, &["d/a", "d/e/f"]);
    let url = format!("http://{}/d/?format=json", server.http.unwrap());
    let mut answer = ureq::get(&url).call().unwrap();
    assert_eq!(
        answer.headers().get("content-type").unwrap(),
        "application/json"
    );
    let json = answer.body_mut().read_to_string().unwrap();
    assert!(
        json.starts_with("{\"prefix\":\"d/\",\"dirs\":[\"d/e/\"],\"files\":[{\"name\":\"d/a\""),
        "{json}"
    );
    let missing = format!("http://{}/nothere/?format=json", server.http.unwrap());
    match ureq::get(&missing).call() {
        Err(ureq::Error::StatusCode(404)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_folder_named_as_long_as_a_name_may_be_is_listed() {
    // 1024 bytes: as long as any name may be; its entries' prefix is one
    // byte longer, which DIR and HTTP listings once refused as too long.
    let server = TestServer::start_with(|config| {
        config.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    let folder = [
        &"a".repeat(255)[..],
        &"b".repeat(255),
        &"c".repeat(255),
        &"d".repeat(254),
        "e",
    ]
    .join("/");
    assert_eq!(folder.len(), 1024);
    std::fs::create_dir_all(server.path(&folder)).unwrap();
    let mut raw = server.raw();
    raw.send(format!("DIR {folder}\n"));
    assert_eq!(raw.line(), "OK 0");
    let answer = support::http::exchange(
        server.http.unwrap(),
        "GET",
        &format!("/{folder}/?format=json"),
        "Host: localhost\r\n",
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.head);
}
