//! Folder archives as people fetch them, over real sockets: `?zip` parsed
//! byte for byte (local headers, data, descriptors and CRC-32s, central
//! directory, end record) and by Python's `zipfile`, `unzip -t` and `7z t`
//! (where installed), members of many sizes sent to three clients at once
//! (each CRC-32 computed beside its send, and recorded with its file for
//! the next zip, not on a read-only server), a zip64 archive as `zipfile`
//! reads it, what a token may read only partly, `curl -OJ`
//! naming the download, and `wget -r -np` mirroring the page without
//! fetching any archive. (The tar format's own tests: `tests/web/ui.rs`.)
#![cfg(feature = "web")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::net::SocketAddr;
use std::process::Command;

use ferry::formats::zip::{self, Zip64};
use support::TestServer;
use support::http::{Answer, exchange};
use support::tar::untar_sorted;
use support::tokens::guarded;

fn http_server() -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    })
}

fn plant(server: &TestServer, name: &str, body: &[u8]) {
    let path = server.path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn fetch(addr: SocketAddr, target: &str, headers: &str) -> Answer {
    exchange(
        addr,
        "GET",
        target,
        &format!("Host: localhost\r\n{headers}"),
        b"",
    )
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A zip member as the parser found it: path and data.
type Entry = (String, Vec<u8>);

/// Parses a stored zip front to back as ferry writes it (classic
/// records), checking every field a reader relies on: each local header
/// agrees with its central header, each file's data matches the CRC-32 in
/// its descriptor, and the end record counts and places the central
/// directory. Returns the members in archive order.
fn unzip(bytes: &[u8]) -> Vec<Entry> {
    let mut at = 0;
    let mut locals = Vec::new();
    while u32_at(bytes, at) == 0x0403_4b50 {
        let flags = u16_at(bytes, at + 6);
        assert_eq!(u16_at(bytes, at + 8), 0, "stored");
        let size = u32_at(bytes, at + 18) as usize;
        assert_eq!(u32_at(bytes, at + 22) as usize, size);
        let name_len = u16_at(bytes, at + 26);
        let extra_len = u16_at(bytes, at + 28);
        let path = String::from_utf8(bytes[at + 30..at + 30 + name_len].to_vec()).unwrap();
        assert_ne!(flags & 0x800, 0, "UTF-8 names");
        let data_at = at + 30 + name_len + extra_len;
        let data = bytes[data_at..data_at + size].to_vec();
        let mut end = data_at + size;
        let crc = if flags & 8 != 0 {
            assert!(size > 0, "only files with data have descriptors");
            assert_eq!(u32_at(bytes, end), 0x0807_4b50);
            assert_eq!(u32_at(bytes, end + 8) as usize, size);
            assert_eq!(u32_at(bytes, end + 12) as usize, size);
            end += 16;
            u32_at(bytes, end - 12)
        } else {
            assert_eq!(size, 0);
            0
        };
        assert_eq!(crc, crc32fast::hash(&data), "{path}");
        locals.push((at, path, data, crc));
        at = end;
    }
    let central_at = at;
    for (offset, path, data, crc) in &locals {
        assert_eq!(u32_at(bytes, at), 0x0201_4b50);
        assert_eq!(u32_at(bytes, at + 16), *crc);
        assert_eq!(u32_at(bytes, at + 24) as usize, data.len());
        let name_len = u16_at(bytes, at + 28);
        assert_eq!(u32_at(bytes, at + 42) as usize, *offset);
        assert_eq!(&bytes[at + 46..at + 46 + name_len], path.as_bytes());
        let mode = u32_at(bytes, at + 38) >> 16;
        let want = if path.ends_with('/') {
            0o40755
        } else {
            0o100644
        };
        assert_eq!(mode, want, "{path}");
        at += 46 + name_len + u16_at(bytes, at + 30);
    }
    assert_eq!(u32_at(bytes, at), 0x0605_4b50);
    assert_eq!(u16_at(bytes, at + 10), locals.len());
    assert_eq!(u32_at(bytes, at + 12) as usize, at - central_at);
    assert_eq!(u32_at(bytes, at + 16) as usize, central_at);
    assert_eq!(at + 22, bytes.len(), "nothing after the end record");
    locals.into_iter().map(|(_, p, d, _)| (p, d)).collect()
}

fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort();
    entries
}

fn entry(path: &str, data: &[u8]) -> Entry {
    (path.to_owned(), data.to_vec())
}

/// Python's `zipfile` on `archive`: `testzip()`, then every member's path
/// and bytes as a sorted list, printed as JSON; `None` without python3.
fn python_unzip(archive: &std::path::Path) -> Option<Vec<Entry>> {
    let script = r#"
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None, z.testzip()
    print(json.dumps(sorted([i.filename, list(z.read(i))] for i in z.infolist())))
"#;
    let out = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(archive)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipped: no python3 on this machine for zipfile");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<(String, Vec<u8>)> = serde_json::from_slice(&out.stdout).unwrap();
    Some(parsed)
}

fn tool_missing(tool: &str) -> bool {
    // `unzip` has no `--version`; `-v` alone prints its version.
    if Command::new(tool).arg("-v").output().is_err() {
        eprintln!("skipped: no {tool} on this machine");
        return true;
    }
    false
}

/// Info-ZIP's `unzip -t` and 7-Zip's `7z t` (either of its commands:
/// Debian's `7zip` installs `7zz`, `p7zip-full` `7z`), each where it is
/// installed, test every member's CRC of the zip at `path`, as Windows'
/// and macOS' tools do.
fn tools_test(path: &std::path::Path) {
    let mut tested = Vec::new();
    for (tool, test) in [("unzip", "-t"), ("7z", "t"), ("7zz", "t")] {
        let Ok(out) = Command::new(tool).arg(test).arg(path).output() else {
            continue;
        };
        assert!(
            out.status.success(),
            "{tool} {test}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        tested.push(tool);
    }
    if !tested.contains(&"unzip") {
        eprintln!("skipped: no unzip on this machine (apt-get install unzip)");
    }
    if !tested.iter().any(|tool| tool.starts_with("7z")) {
        eprintln!("skipped: no 7z or 7zz on this machine (apt-get install 7zip)");
    }
}

#[test]
fn a_folder_downloads_as_a_zip_with_exact_contents() {
    let server = http_server();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    let long = format!("{}/{}.txt", "l".repeat(90), "n".repeat(70));
    plant(&server, "top/a.txt", b"alpha");
    plant(&server, "top/sub/deeper/b.bin", &big);
    plant(&server, "top/sub/empty.txt", b"");
    plant(&server, &format!("top/{long}"), b"long");
    plant(&server, "top/\u{e9}t\u{e9} x&y.txt", b"odd");
    plant(&server, "elsewhere.txt", b"not in it");
    std::fs::create_dir_all(server.path("top/nothing/inside")).unwrap();

    let answer = fetch(server.http.unwrap(), "/top/?zip", "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("Content-Type"), Some("application/zip"));
    assert_eq!(
        answer.header("Content-Disposition"),
        Some("attachment; filename=\"top.zip\"; filename*=UTF-8''top.zip")
    );
    let length: usize = answer.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(answer.body.len(), length);
    let members = unzip(&answer.body);
    // The folder asked for comes first, like `zip -r top.zip top`.
    assert_eq!(members[0], entry("top/", b""));
    let (dir, _) = long.split_once('/').unwrap();
    let expected = vec![
        entry("top/", b""),
        entry("top/a.txt", b"alpha"),
        entry(&format!("top/{dir}/"), b""),
        entry(&format!("top/{long}"), b"long"),
        entry("top/nothing/", b""),
        entry("top/nothing/inside/", b""),
        entry("top/sub/", b""),
        entry("top/sub/deeper/", b""),
        entry("top/sub/deeper/b.bin", &big),
        entry("top/sub/empty.txt", b""),
        entry("top/\u{e9}t\u{e9} x&y.txt", b"odd"),
    ];
    assert_eq!(sorted(members), expected);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("top.zip");
    std::fs::write(&path, &answer.body).unwrap();
    if let Some(read) = python_unzip(&path) {
        assert_eq!(read, expected);
    }
    tools_test(&path);

    // `?format=zip` is the same; the top is `ferry.zip`, with no folder
    // entry above its members.
    let again = fetch(server.http.unwrap(), "/top/?format=zip", "");
    assert_eq!(again.body, answer.body);
    let all = fetch(server.http.unwrap(), "/?zip", "");
    assert!(
        all.header("Content-Disposition")
            .unwrap()
            .contains("filename=\"ferry.zip\"")
    );
    let all = sorted(unzip(&all.body));
    assert_eq!(all[0], entry("elsewhere.txt", b"not in it"));
    assert_eq!(all[1], entry("top/", b""));
    assert_eq!(fetch(server.http.unwrap(), "/none/?zip", "").status, 404);
}

#[test]
fn a_zip_holds_only_what_the_token_may_read() {
    // Grants are folders: the token reads two folders inside `z/`, and
    // nothing else there (neither `z/one.txt` nor `z/deep/x.txt`).
    let (server, tokens, _dir) = guarded(&[("part", &["read:z/pub/", "read:z/deep/in/"])], &[]);
    plant(&server, "z/one.txt", b"1");
    plant(&server, "z/deep/x.txt", b"x");
    plant(&server, "z/deep/in/y.txt", b"y");
    plant(&server, "z/pub/p.txt", b"p");
    plant(&server, "z/secret/s.txt", b"s");
    let addr = server.http.unwrap();
    let auth = support::http::bearer(&tokens[0]);
    let answer = fetch(addr, "/z/?zip", &auth);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(
        sorted(unzip(&answer.body)),
        vec![
            entry("z/", b""),
            entry("z/deep/", b""),
            entry("z/deep/in/", b""),
            entry("z/deep/in/y.txt", b"y"),
            entry("z/pub/", b""),
            entry("z/pub/p.txt", b"p"),
        ]
    );
    assert_eq!(fetch(addr, "/z/secret/?zip", &auth).status, 403);
    assert_eq!(fetch(addr, "/z/?zip", "").status, 401);
}

#[test]
fn python_reads_a_zip64_archive_as_ferry_writes_it() {
    // A zip64 archive needs 4 GiB or 65,535 members to happen on its
    // own: its records are written here with the same functions, forced.
    let zip64 = Zip64(true);
    let members = [
        ("d/", &b""[..]),
        ("d/a.txt", &b"hello"[..]),
        ("d/e", &b""[..]),
    ];
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (path, data) in members {
        let member = zip::Member {
            path,
            size: data.len() as u64,
            mtime: 1_700_000_000,
        };
        let offset = out.len() as u64;
        member.local(zip64, &mut out);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(data);
        member.descriptor(crc, zip64, &mut out);
        member.central(crc, offset, zip64, &mut central);
    }
    let central_at = out.len() as u64;
    out.extend_from_slice(&central);
    zip::end(3, central_at, central.len() as u64, zip64, &mut out);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z64.zip");
    std::fs::write(&path, &out).unwrap();
    if let Some(read) = python_unzip(&path) {
        assert_eq!(
            read,
            vec![
                entry("d/", b""),
                entry("d/a.txt", b"hello"),
                entry("d/e", b"")
            ]
        );
    }
    tools_test(&path);
}

/// Members of many sizes (empty, a byte, around the 256 KiB the CRC reads
/// at once and the 2 MiB the send reads ahead), by three clients at once:
/// each member's CRC-32, computed beside its send on the two checksum
/// threads (or by the send's end when none has started it), is its own.
#[test]
fn zips_of_many_members_sent_at_once_keep_each_members_crc() {
    let server = http_server();
    let sizes = [
        0,
        1,
        4095,
        262_143,
        262_144,
        262_145,
        1 << 20,
        (2 << 20) + 1,
    ];
    let mut want = vec![entry("many/", b"")];
    for round in 0..4 {
        for (at, size) in sizes.iter().enumerate() {
            let name = format!("many/r{round}-{at}.bin");
            let data: Vec<u8> = (0..*size)
                .map(|i| (i * 31 + at * 7 + round) as u8)
                .collect();
            plant(&server, &name, &data);
            want.push(entry(&name, &data));
        }
    }
    let addr = server.http.unwrap();
    let clients: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || fetch(addr, "/many/?zip", "")))
        .collect();
    let answers: Vec<Answer> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.head);
        // `unzip` checks each descriptor's CRC-32 against the data.
        assert_eq!(sorted(unzip(&answer.body)), sorted(want.clone()));
        assert_eq!(answer.body, answers[0].body);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.zip");
    std::fs::write(&path, &answers[0].body).unwrap();
    if let Some(read) = python_unzip(&path) {
        assert_eq!(read, sorted(want));
    }
    tools_test(&path);
}

#[test]
fn curl_names_archives_from_content_disposition() {
    if tool_missing("curl") {
        return;
    }
    let server = http_server();
    plant(&server, "site/index.html", b"<p>hi</p>");
    let out = tempfile::tempdir().unwrap();
    for (query, name) in [("tar", "site.tar"), ("zip", "site.zip")] {
        let url = format!("http://{}/site/?{query}", server.http.unwrap());
        let status = Command::new("curl")
            .args(["-sSf", "-OJ", &url])
            .current_dir(out.path())
            .status()
            .unwrap();
        assert!(status.success(), "curl -OJ {url}");
        let saved = std::fs::read(out.path().join(name)).unwrap();
        assert!(!saved.is_empty(), "{name}");
    }
}

#[test]
fn wget_mirrors_the_pages_without_fetching_archives() {
    if tool_missing("wget") {
        return;
    }
    let server = http_server();
    plant(&server, "site/a.txt", b"a");
    plant(&server, "site/sub/b.txt", b"b");
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://{}/site/", server.http.unwrap());
    let status = Command::new("wget")
        .args(["-q", "-r", "-np", "-nH", "--tries=1", "--timeout=20", &url])
        .current_dir(out.path())
        .status()
        .unwrap();
    assert!(status.code().is_some(), "wget ran");
    let mut fetched = Vec::new();
    let mut stack = vec![out.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                fetched.push(path.strip_prefix(out.path()).unwrap().display().to_string());
            }
        }
    }
    assert!(fetched.iter().any(|f| f == "site/a.txt"), "{fetched:?}");
    assert!(fetched.iter().any(|f| f == "site/sub/b.txt"), "{fetched:?}");
    assert!(
        !fetched
            .iter()
            .any(|f| f.contains("?tar") || f.contains("?zip")),
        "an archive was fetched: {fetched:?}"
    );
}

/// Each member's path and the CRC-32 its central header gives, read from
/// the end record on, trusting nothing else.
fn central_crcs(bytes: &[u8]) -> Vec<(String, u32)> {
    let end = bytes.len() - 22;
    assert_eq!(u32_at(bytes, end), 0x0605_4b50);
    let mut at = u32_at(bytes, end + 16) as usize;
    let mut crcs = Vec::new();
    while at < end {
        let name_len = u16_at(bytes, at + 28);
        let path = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        crcs.push((path, u32_at(bytes, at + 16)));
        at += 46 + name_len + u16_at(bytes, at + 30) + u16_at(bytes, at + 32);
    }
    crcs
}

const ZIP_CRC: &str = "user.ferry.crc32";

/// The zip CRC-32 record on `path`, `"<size> <mtime> <hex>"`; `None`
/// without one.
fn zip_crc_record(path: &std::path::Path) -> Option<String> {
    let mut buf = [0u8; 96];
    let len = rustix::fs::getxattr(path, ZIP_CRC, &mut buf).ok()?;
    Some(String::from_utf8(buf[..len].to_vec()).unwrap())
}

#[test]
fn a_zip_records_each_members_crc_and_the_next_zip_reads_it_back() {
    let server = http_server();
    let big = support::pattern(700_000, 3);
    plant(&server, "z/big.bin", &big);
    plant(&server, "z/small.txt", b"small");
    if !takes_records(&server.path("z/small.txt")) {
        return;
    }
    let addr = server.http.unwrap();
    let first = fetch(addr, "/z/?zip", "");
    assert_eq!(first.status, 200, "{}", first.head);
    unzip(&first.body);
    // Recorded with each file as it is: size, time and the CRC-32.
    let record = zip_crc_record(&server.path("z/big.bin")).expect("a record");
    assert!(
        record.starts_with("700000 ")
            && record.ends_with(&format!(" {:08x}", crc32fast::hash(&big))),
        "{record}"
    );
    // The next zip reads the record, not the file: a record that lies
    // (same size and time, another CRC) is what it sends.
    let (version, _) = record.rsplit_once(' ').unwrap();
    let lie = format!("{version} 0badc0de");
    let path = server.path("z/big.bin");
    rustix::fs::setxattr(
        &path,
        ZIP_CRC,
        lie.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let second = fetch(addr, "/z/?zip", "");
    assert!(central_crcs(&second.body).contains(&("z/big.bin".to_owned(), 0x0bad_c0de)));
    // A file changed since its record was made is read again, and its
    // record made anew.
    let newer = support::pattern(700_001, 4);
    std::fs::write(&path, &newer).unwrap();
    let third = fetch(addr, "/z/?zip", "");
    assert!(sorted(unzip(&third.body)).contains(&entry("z/big.bin", &newer)));
    let record = zip_crc_record(&path).unwrap();
    assert!(
        record.ends_with(&format!(" {:08x}", crc32fast::hash(&newer))),
        "{record}"
    );
}

/// Whether files in `path` take user extended attributes, where the zip
/// CRC-32 records live; says why a test is skipped if not.
fn takes_records(path: &std::path::Path) -> bool {
    let flags = rustix::fs::XattrFlags::empty();
    let taken = rustix::fs::setxattr(path, "user.ferry.probe", b"1", flags).is_ok();
    if !taken {
        eprintln!("skipped: the temporary root takes no user extended attributes");
    }
    taken
}

/// Three files of 24 MiB in `z/` (larger than what the loopback's socket
/// buffers and the disk's read-ahead take, so that a send stalls inside
/// the first), out of the page cache as in a folder nobody has read
/// lately; `None` (and why) where the root cannot show a read ahead.
fn cold_folder(server: &TestServer) -> Option<Vec<(&'static str, Vec<u8>)>> {
    if on_tmpfs(server) {
        return None;
    }
    let files = three_files(server, 24 << 20, 10);
    for (name, _) in &files {
        let file = std::fs::File::open(server.path(name)).unwrap();
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        if is_cached(&server.path(name)) {
            eprintln!("skipped: the file system kept {name} in the page cache");
            return None;
        }
    }
    Some(files)
}

/// Files `z/a.bin`, `z/b.bin` and `z/c.bin` of `size` bytes each (patterns
/// from `seed` on), planted in the root; their names and bytes.
fn three_files(server: &TestServer, size: usize, seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    let files: Vec<_> = ["z/a.bin", "z/b.bin", "z/c.bin"]
        .into_iter()
        .zip(seed..)
        .map(|(name, seed)| (name, support::pattern(size, seed)))
        .collect();
    for (name, body) in &files {
        plant(server, name, body);
    }
    files
}

/// What a zip of `z/` holding `files` unzips to, sorted.
fn zipped(files: &[(&str, Vec<u8>)]) -> Vec<Entry> {
    let mut want = vec![entry("z/", b"")];
    want.extend(files.iter().map(|(name, body)| entry(name, body)));
    sorted(want)
}

/// Whether the server's root is a tmpfs, where archives do not look
/// ahead (nothing to read from a disk); says the test is skipped if so.
fn on_tmpfs(server: &TestServer) -> bool {
    const TMPFS_MAGIC: u32 = 0x0102_1994;
    let tmpfs = rustix::fs::statfs(server.path("")).is_ok_and(|fs| fs.f_type as u32 == TMPFS_MAGIC);
    if tmpfs {
        eprintln!("skipped: the temporary root is a tmpfs, where archives do not look ahead");
    }
    tmpfs
}

/// Whether every page of the file at `path` is in the page cache, as
/// `mincore` of a mapping of it tells (a mapping faults nothing in, where
/// even a `RWF_NOWAIT` read that misses starts reading the page in).
fn is_cached(path: &std::path::Path) -> bool {
    let file = std::fs::File::open(path).unwrap();
    let len = usize::try_from(file.metadata().unwrap().len()).unwrap();
    let page = 4096;
    let mut resident = vec![0u8; len.div_ceil(page)];
    // SAFETY: a read-only shared mapping of a file this test holds open,
    // never read through, unmapped before it returns; `resident` has a
    // byte per page of it, as mincore(2) wants.
    unsafe {
        use std::os::fd::AsRawFd;
        let map = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(map, libc::MAP_FAILED);
        assert_eq!(libc::mincore(map, len, resident.as_mut_ptr()), 0);
        libc::munmap(map, len);
    }
    resident.iter().all(|&page| page & 1 == 1)
}

/// GET `target` that stops reading 64 KiB in, until `ahead()` (or the
/// test's patience runs out), then reads the rest: whether `ahead()` came
/// true while the server could send no more, and the answer's body.
fn stalled_download(addr: SocketAddr, target: &str, ahead: impl Fn() -> bool) -> (bool, Vec<u8>) {
    use std::io::{Read, Write};
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    client.write_all(head.as_bytes()).unwrap();
    let mut answer = vec![0; 64 * 1024];
    client.read_exact(&mut answer).unwrap();
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while !ahead() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let came = ahead();
    client.read_to_end(&mut answer).unwrap();
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    (came, answer.split_off(at))
}

/// While one member is sent from the disk, the next file with data is
/// opened and its CRC-32 computed (and recorded) before its turn, so that
/// its read from the disk overlaps the send; the one after it waits for
/// its own turn. A client that stops reading inside the first member
/// shows it: two of three files get their records, and the third only
/// once it reads on.
#[test]
fn a_zip_computes_the_next_members_crc_while_one_is_sent() {
    let server = http_server();
    let Some(files) = cold_folder(&server) else {
        return;
    };
    if !takes_records(&server.path(files[0].0)) {
        return;
    }
    let recorded = || {
        let records = files
            .iter()
            .map(|(name, _)| zip_crc_record(&server.path(name)));
        records.flatten().count()
    };
    let (came, body) = stalled_download(server.http.unwrap(), "/z/?zip", || recorded() >= 2);
    assert!(came, "the next member's CRC-32 was not computed ahead");
    assert_eq!(sorted(unzip(&body)), zipped(&files));
    assert_eq!(recorded(), 3);
}

/// A tar reads its next member into the page cache while one is sent,
/// as a zip does with its CRC-32: with the client stalled inside the first
/// member, one file (the second) is wholly cached, and the archive is
/// whole once read.
#[test]
fn a_tar_reads_the_next_member_in_while_one_is_sent() {
    let server = http_server();
    let Some(files) = cold_folder(&server) else {
        return;
    };
    let cached = || {
        let paths = files.iter().map(|(name, _)| server.path(name));
        paths.filter(|path| is_cached(path)).count()
    };
    let (came, body) = stalled_download(server.http.unwrap(), "/z/?tar", || cached() >= 1);
    assert!(came, "the next member was not read in ahead");
    let members = untar_sorted(&body);
    let got: Vec<_> = members
        .iter()
        .map(|m| (m.path.as_str(), &m.data[..]))
        .collect();
    let mut want = vec![("z/", &b""[..])];
    want.extend(files.iter().map(|(name, body)| (*name, &body[..])));
    assert_eq!(got, want);
}

/// An open that fails while looking ahead (the process a descriptor
/// short for a moment, EMFILE) is not the member's failure: the file is
/// opened again at its turn, and the archive is whole.
#[test]
fn an_open_that_fails_ahead_of_its_turn_is_tried_again_at_it() {
    use ferry::storage::gate::{Gate, Point};
    // The first open is the first member's, at its turn; the second, the
    // next member's, ahead of it.
    let gate = std::sync::Arc::new(Gate::failing_call(Point::Open, rustix::io::Errno::MFILE, 2));
    let failing = std::sync::Arc::clone(&gate);
    let server = TestServer::start_with(|c| {
        c.gate = Some(failing);
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    if on_tmpfs(&server) {
        return;
    }
    let files = three_files(&server, 100_000, 20);
    let answer = fetch(server.http.unwrap(), "/z/?zip", "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(sorted(unzip(&answer.body)), zipped(&files));
    assert_eq!(gate.arrivals(), 4, "three opens and the one that failed");
}

#[test]
fn a_read_only_server_records_no_zip_crc() {
    let server = TestServer::start_with(|c| {
        c.read_only = true;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap())
    });
    plant(&server, "z/a.bin", &support::pattern(100_000, 5));
    let answer = fetch(server.http.unwrap(), "/z/?zip", "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    unzip(&answer.body);
    assert_eq!(zip_crc_record(&server.path("z/a.bin")), None);
}

/// A `.tar` of many empty files is headers alone, made job after job into
/// the connection's output; a job waits while more than 128 KiB of it is
/// unsent. A client that reads the head and stops is the one owing: it is
/// closed at the idle timeout, where the wait once counted as the
/// server's and kept it open for good. (Twelve thousand headers are 6 MiB:
/// more than the kernel's send buffer takes before the output backs up.)
#[cfg(feature = "metrics")]
#[test]
fn a_tar_reader_that_stops_reading_is_closed_at_the_idle_timeout() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let timeout = Duration::from_millis(300);
    let server = TestServer::start_with(|c| {
        support::listen_http(c);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        c.idle_timeout = timeout;
    });
    for i in 0..12_000 {
        plant(&server, &format!("e/empty-{i:05}"), b"");
    }
    let open = || {
        let metrics = server.metrics.expect("a metrics listener");
        support::http::metric(metrics, "ferry_connections_open{protocol=\"http\"}")
    };
    let mut client = support::Raw::connect_narrow(server.http.unwrap(), 4096);
    let started = Instant::now();
    client.send("GET /e/?tar HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut first = [0; 12];
    client.stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    while open() > 0 && started.elapsed() < support::PATIENCE {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open(), 0, "the stalled reader's connection is still open");
    assert!(
        started.elapsed() >= timeout,
        "closed before its idle timeout"
    );
}
