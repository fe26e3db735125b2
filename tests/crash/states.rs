//! Crash-state enumeration (issue 30, ALICE-style): each commit path runs
//! once with `--fsync` on a recording mount of the power-cut simulator
//! (`tests/support/powercut/record.rs`), then every state a power cut
//! could have left at any point of it (`states.rs`; the model, the bound
//! and the counts in docs/reliability.md, "Crash states") is written out
//! as a folder, the real binary is started on it, and the promises are
//! checked:
//!
//! - the server starts (and finishes its start-up sweep);
//! - no temp file is left;
//! - the visible files are those of an acknowledged step at or after the
//!   last one acknowledged before the crash: an acknowledged operation is
//!   whole, an unacknowledged one absent or whole (old or new version),
//!   never partial under its name;
//! - a session resumes at or past the bytes its `APPEND`s acknowledged
//!   (unless its `COMMIT` landed).
//!
//! **Every new commit path must be added to [`PATHS`]**: one line, and a
//! function that sets up what it replaces, calls [`Run::begin`], and says
//! after each acknowledgement what the files are now.
//!
//! Needs `/dev/fuse` and root (as CI has); elsewhere it says "skipping" on
//! stderr and passes. `FERRY_CRASH_LOG=1` prints each path's log (the
//! events a failing state's line numbers).

#[path = "../support/powercut/check.rs"]
mod check;
use crate::powercut;
use crate::support;

use check::{CommitPath, Probe, Run, TUS, check_path, ferry_put_on};
use support::{Raw, pattern};

/// The commit paths, in the order the issue names them: each runs once
/// on a recording mount, then every crash state of it is checked.
const PATHS: &[(&str, CommitPath)] = &[
    ("FERRY/1 PUT", ferry_put),
    ("HTTP PUT", http_put),
    ("FERRY/1 UPLOAD+APPEND+COMMIT", ferry_session),
    ("FERRY/1 MOVE", ferry_move),
    ("FERRY/1 DEL", ferry_del),
    ("tus creation+PATCH", tus_finish),
    ("WebDAV MOVE+COPY", dav_move_copy),
    ("WebDAV LOCK", dav_lock),
    ("WebDAV folder COPY+DELETE", dav_folder_copy_delete),
    ("S3 PutObject", s3_put),
    ("S3 CopyObject", s3_copy),
    ("S3 multipart completion", s3_multipart),
];

/// A new file in a new folder, then a new version over an old one.
fn ferry_put(run: &mut Run) {
    run.put("kept", &pattern(3_000, 1));
    run.put("d/old", &pattern(5_000, 2));
    run.begin();
    let mut ferry = run.ferry();
    let new = pattern(6_000, 3);
    assert!(ferry_put_on(&mut ferry, "e/new", &new).starts_with("OK "));
    run.acked("e/new", Some(new));
    let version = pattern(7_000, 4);
    assert!(ferry_put_on(&mut ferry, "d/old", &version).starts_with("OK "));
    run.acked("d/old", Some(version));
}

/// The same over HTTP: a new file, then a new version.
fn http_put(run: &mut Run) {
    run.put("d/old", &pattern(5_000, 5));
    run.begin();
    let new = pattern(6_000, 6);
    assert_eq!(run.http("PUT", "/e/new", &new), 201);
    run.acked("e/new", Some(new));
    let version = pattern(7_000, 7);
    let status = run.http("PUT", "/d/old", &version);
    assert!((200..300).contains(&status), "{status}");
    run.acked("d/old", Some(version));
}

/// Sessions: one into a new folder, then one in two APPENDs over an old
/// version.
fn ferry_session(run: &mut Run) {
    run.put("s/f", &pattern(2_000, 8));
    run.begin();
    let mut ferry = run.ferry();
    session(run, &mut ferry, "t/new", &pattern(3_000, 15), &[3_000]);
    session(run, &mut ferry, "s/f", &pattern(9_000, 9), &[5_000, 9_000]);
}

/// UPLOAD of `data` as `name`, an APPEND up to each of `ends`, COMMIT.
fn session(run: &mut Run, ferry: &mut Raw, name: &str, data: &[u8], ends: &[usize]) {
    let (id, at) = support::upload(ferry, name, data);
    assert_eq!(at, 0);
    run.acked_session(name, data, 0);
    let mut from = 0;
    for &end in ends {
        let answer = support::append(ferry, &id, from, &data[from..end]);
        assert_eq!(answer, format!("OK {end}"));
        run.acked_session(name, data, end as u64);
        from = end;
    }
    ferry.send(format!("COMMIT {id}\n"));
    assert!(ferry.line().starts_with(&format!("OK {} ", data.len())));
    run.acked(name, Some(data.to_vec()));
}

/// A move into a new folder, then over an existing file.
fn ferry_move(run: &mut Run) {
    let (a, b) = (pattern(4_000, 10), pattern(3_000, 11));
    run.put("m/a", &a);
    run.put("m/b", &b);
    run.begin();
    let mut ferry = run.ferry();
    ferry.send("MOVE m/a n/a\n");
    assert_eq!(ferry.line(), "OK");
    run.changed(&[("m/a", None), ("n/a", Some(a.clone()))]);
    ferry.send("MOVE n/a m/b\n");
    assert_eq!(ferry.line(), "OK");
    run.changed(&[("n/a", None), ("m/b", Some(a))]);
}

/// A delete that empties its folder, then one beside a file that stays.
fn ferry_del(run: &mut Run) {
    run.put("x/only", &pattern(1_000, 12));
    run.put("y/one", &pattern(1_500, 13));
    run.put("y/two", &pattern(2_500, 14));
    run.begin();
    let mut ferry = run.ferry();
    for name in ["x/only", "y/one"] {
        ferry.send(format!("DEL {name}\n"));
        assert_eq!(ferry.line(), "OK");
        run.acked(name, None);
    }
}

/// A tus upload in two PATCHes into a new folder: the last one stores it.
fn tus_finish(run: &mut Run) {
    run.begin();
    let data = pattern(8_000, 16);
    let filename = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "f");
    let headers = format!(
        "Host: localhost\r\n{TUS}Upload-Length: {}\r\nUpload-Metadata: filename {filename}\r\n",
        data.len()
    );
    let created = run.exchange("POST", "/u/", &headers, b"");
    assert_eq!(created.status, 201, "{}", created.head);
    let url = created.header("Location").expect("a Location").to_owned();
    run.acked_probe(Probe::Tus {
        url: url.clone(),
        at_least: 0,
    });
    for (from, to) in [(0, 5_000), (5_000, data.len())] {
        let headers = format!(
            "Host: localhost\r\n{TUS}Content-Type: application/offset+octet-stream\r\nUpload-Offset: {from}\r\n"
        );
        let patched = run.exchange("PATCH", &url, &headers, &data[from..to]);
        assert_eq!(patched.status, 204, "{}", patched.head);
        if to < data.len() {
            let at_least = to as u64;
            let url = url.clone();
            run.acked_probe(Probe::Tus { url, at_least });
        }
    }
    run.acked("u/f", Some(data));
}

/// WebDAV: a MOVE into another folder, then a COPY over an old version.
fn dav_move_copy(run: &mut Run) {
    let (a, b) = (pattern(4_000, 17), pattern(5_000, 18));
    run.put("w/a", &a);
    run.put("w/b", &b);
    run.put("v/old", &pattern(1_000, 19));
    run.begin();
    let host = "Host: localhost\r\n";
    let moved = run.exchange("MOVE", "/w/a", &format!("{host}Destination: /v/a\r\n"), b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    run.changed(&[("w/a", None), ("v/a", Some(a))]);
    let copied = run.exchange(
        "COPY",
        "/w/b",
        &format!("{host}Destination: /v/old\r\n"),
        b"",
    );
    assert_eq!(copied.status, 204, "{}", copied.head);
    run.acked("v/old", Some(b));
}

/// WebDAV: a LOCK on an existing file; the lock must outlive the cut.
fn dav_lock(run: &mut Run) {
    run.put("l/f", &pattern(1_000, 20));
    run.begin();
    let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:tester</D:href></D:owner></D:lockinfo>";
    let headers = "Host: localhost\r\nTimeout: Second-3600\r\n";
    let locked = run.exchange("LOCK", "/l/f", headers, body.as_bytes());
    assert_eq!(locked.status, 200, "{}", locked.head);
    run.acked_probe(Probe::Locked {
        target: "/l/f".into(),
    });
}

/// WebDAV: a folder's COPY (two files and a subfolder) to a new name,
/// then the source folder's DELETE; neither is atomic (RFC 4918), so
/// before its answer each file may be as before or as after, but whole.
fn dav_folder_copy_delete(run: &mut Run) {
    let files = [
        ("c/a", pattern(1_000, 26)),
        ("c/b", pattern(1_500, 27)),
        ("c/s/x", pattern(2_000, 28)),
    ];
    for (name, data) in &files {
        run.put(name, data);
    }
    run.begin();
    let host = "Host: localhost\r\n";
    let headers = format!("{host}Destination: /k/\r\nDepth: infinity\r\n");
    let copied = run.exchange("COPY", "/c/", &headers, b"");
    assert_eq!(copied.status, 201, "{}", copied.head);
    let copies: Vec<(String, Option<Vec<u8>>)> = files
        .iter()
        .map(|(name, data)| (name.replacen("c/", "k/", 1), Some(data.clone())))
        .collect();
    let copies: Vec<(&str, Option<Vec<u8>>)> = copies
        .iter()
        .map(|(n, d)| (n.as_str(), d.clone()))
        .collect();
    run.changed_piecewise(&copies);
    let deleted = run.exchange("DELETE", "/c/", host, b"");
    assert_eq!(deleted.status, 204, "{}", deleted.head);
    let gone: Vec<(&str, Option<Vec<u8>>)> = files.iter().map(|(n, _)| (*n, None)).collect();
    run.changed_piecewise(&gone);
}

/// S3 CopyObject: an object copied to a new key.
fn s3_copy(run: &mut Run) {
    let data = pattern(5_000, 29);
    run.put("bkt/src", &data);
    run.begin();
    let copied = run.s3_with("PUT", "/bkt/dst", "x-amz-copy-source: /bkt/src\r\n", b"");
    assert_eq!(copied.status, 200, "{}", copied.text());
    run.acked("bkt/dst", Some(data));
}

/// S3 PutObject (unsigned: anonymous grants): a new object, then a new
/// version of one.
fn s3_put(run: &mut Run) {
    run.put("bkt/old", &pattern(5_000, 21));
    run.begin();
    let new = pattern(6_000, 22);
    assert_eq!(run.s3("PUT", "/bkt/new", &new).status, 200);
    run.acked("bkt/new", Some(new));
    let version = pattern(7_000, 23);
    assert_eq!(run.s3("PUT", "/bkt/old", &version).status, 200);
    run.acked("bkt/old", Some(version));
}

/// S3 multipart: create, one part (the last may be small; two would need
/// a 5 MiB first part, 1,280 pages of crash points), complete.
fn s3_multipart(run: &mut Run) {
    run.put("bkt/keep", &pattern(1_000, 24));
    run.begin();
    let made = run.s3("POST", "/bkt/m?uploads", b"");
    assert_eq!(made.status, 200, "{}", made.text());
    let text = made.text();
    let id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("an UploadId")
        .to_owned();
    let parts = format!("/bkt/m?uploadId={id}");
    run.acked_probe(Probe::Parts {
        url: parts.clone(),
        count: 0,
    });
    let data = pattern(6_000, 25);
    let part = run.s3("PUT", &format!("/bkt/m?partNumber=1&uploadId={id}"), &data);
    assert_eq!(part.status, 200, "{}", part.text());
    let etag = part.header("ETag").expect("an ETag").to_owned();
    run.acked_probe(Probe::Parts {
        url: parts.clone(),
        count: 1,
    });
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = run.s3("POST", &parts, body.as_bytes());
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text().contains("CompleteMultipartUploadResult"),
        "{}",
        done.text()
    );
    run.acked("bkt/m", Some(data));
}

#[test]
fn every_crash_state_of_every_commit_path_keeps_the_promises() {
    if let Some(why) = powercut::unavailable() {
        eprintln!("skipping: the power-cut simulator cannot run here ({why})");
        return;
    }
    let mut broken = Vec::new();
    for (name, path) in PATHS {
        let outcome = check_path(name, *path);
        eprintln!(
            "{name}: {} events, {} crash points, {} combinations, {} distinct states, {} broken, {:.1} s",
            outcome.events,
            outcome.crash_points,
            outcome.combinations,
            outcome.states,
            outcome.broken.len(),
            outcome.took.as_secs_f64()
        );
        broken.extend(outcome.broken);
    }
    for line in &broken {
        eprintln!("{line}");
    }
    assert!(
        broken.is_empty(),
        "{} crash states broke a promise",
        broken.len()
    );
}

/// The model's own rules, on logs written by hand (no FUSE needed).
mod model {
    use std::ffi::OsString;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use crate::powercut::record::Event;
    use crate::powercut::states::{Image, enumerate};

    fn ino(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().ino()
    }

    /// Every state of `events` on `dir`, each as the sorted list of
    /// `(path, bytes)` of its files.
    fn states(dir: &Path, events: &[Event]) -> Vec<Vec<(String, Vec<u8>)>> {
        let found = enumerate(&Image::scan(dir).unwrap(), events);
        let mut all = Vec::new();
        for (i, state) in found.states.iter().enumerate() {
            let out = tempfile::tempdir().unwrap();
            let to = out.path().join(i.to_string());
            state.materialise(&to).unwrap();
            let mut files = Vec::new();
            let mut dirs = vec![to.clone()];
            while let Some(d) = dirs.pop() {
                for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
                    let path = entry.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else {
                        let name = path.strip_prefix(&to).unwrap().display().to_string();
                        files.push((name, std::fs::read(&path).unwrap()));
                    }
                }
            }
            files.sort();
            all.push(files);
        }
        all.sort();
        all
    }

    fn name(text: &str) -> OsString {
        text.into()
    }

    #[test]
    fn an_atomic_replace_never_shows_a_partial_or_empty_file_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = ino(dir.path());
        let temp = 1 << 40; // an inode the log makes
        let events = [
            Event::Create {
                dir: root,
                name: name("t"),
                ino: temp,
                mode: 0o644,
            },
            Event::Write {
                ino: temp,
                at: 0,
                data: b"abc".to_vec(),
            },
            Event::Flush { ino: temp },
            Event::Rename {
                from: (root, name("t")),
                to: (root, name("f")),
            },
            Event::Flush { ino: root },
        ];
        let t = |data: &[u8]| vec![("t".to_owned(), data.to_vec())];
        let f = vec![("f".to_owned(), b"abc".to_vec())];
        assert_eq!(
            states(dir.path(), &events),
            vec![vec![], f, t(b""), t(b"abc")]
        );
    }

    #[test]
    fn a_rename_between_folders_is_in_both_or_neither() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("a/x"), b"x").unwrap();
        let (a, b) = (ino(&dir.path().join("a")), ino(&dir.path().join("b")));
        let events = [Event::Rename {
            from: (a, name("x")),
            to: (b, name("x")),
        }];
        let at = |path: &str| vec![(path.to_owned(), b"x".to_vec())];
        assert_eq!(states(dir.path(), &events), vec![at("a/x"), at("b/x")]);
    }

    #[test]
    fn a_files_pages_persist_in_order_and_a_flush_keeps_them_all() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"").unwrap();
        let f = ino(&dir.path().join("f"));
        let write = |at: u64, byte: u8| Event::Write {
            ino: f,
            at,
            data: vec![byte; 2],
        };
        let events = [write(0, b'a'), write(2, b'b'), Event::Flush { ino: f }];
        let f = |data: &[u8]| vec![("f".to_owned(), data.to_vec())];
        // Never "\0\0bb": the second page without the first.
        assert_eq!(
            states(dir.path(), &events),
            vec![f(b""), f(b"aa"), f(b"aabb")]
        );
    }
}
