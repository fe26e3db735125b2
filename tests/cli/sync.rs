//! The client's folder commands over a real server: `ls` one level at a
//! time (`DIR`) and `-R`, `mv` (`MOVE`), `rm -r`, `sync` both ways with
//! `--delete`, and the options that make them do less: `--dry-run`,
//! `--exclude`/`--include`, `-n`/`--no-clobber`.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::path::Path;

use binary::{failure, run, success};
use support::TestServer;

/// Lists every file on the server, recursively, by name.
fn names(server: &TestServer) -> Vec<String> {
    let mut client = server.client();
    client
        .list("")
        .unwrap()
        .into_iter()
        .map(|file| file.name)
        .collect()
}

fn write(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

#[test]
fn ls_shows_one_level_with_folders_as_entries() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut client = server.client();
    client.put_bytes("top.txt", b"abc").unwrap();
    client.put_bytes("sensors/a.csv", b"12345").unwrap();
    client.put_bytes("sensors/site-7/b.csv", b"1").unwrap();
    client.put_bytes("sensors-old/c.csv", b"1").unwrap();

    let ls = |args: &[&str]| success(&run(work.path(), server.addr, args));
    let rows = |out: String| -> Vec<String> {
        out.lines()
            .map(|line| {
                let (size, rest) = line.trim_start().split_once("  ").unwrap();
                let (_, name) = rest.split_once("  ").unwrap();
                format!("{size} {name}")
            })
            .collect()
    };
    // Folders first, each with `-` for a size and a trailing `/`.
    assert_eq!(
        rows(ls(&["ls"])),
        ["- sensors-old/", "- sensors/", "3 B top.txt"]
    );
    // `sensors` is the folder, not every name starting with it.
    assert_eq!(
        rows(ls(&["ls", "sensors"])),
        ["- sensors/site-7/", "5 B sensors/a.csv"]
    );
    assert_eq!(rows(ls(&["ls", "sensors/"])), rows(ls(&["ls", "sensors"])));
    // A file is its own line.
    assert_eq!(rows(ls(&["ls", "sensors/a.csv"])), ["5 B sensors/a.csv"]);
    // -R is every file below, as LIST gives it.
    assert_eq!(
        rows(ls(&["ls", "-R", "sensors/"])),
        ["5 B sensors/a.csv", "1 B sensors/site-7/b.csv"]
    );

    let out = ls(&["ls", "sensors", "--json"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].starts_with(r#"  {"name": "sensors/site-7/", "folder": true, "mtime": "#),
        "{out}"
    );
    assert!(
        lines[2].starts_with(r#"  {"name": "sensors/a.csv", "size": 5, "mtime": "#),
        "{out}"
    );

    // Nothing there is an error, not an empty listing.
    let missing = |args: &[&str]| failure(&run(work.path(), server.addr, args), 1);
    assert_eq!(
        missing(&["ls", "nope"]),
        "ferry: nope: no such file or folder"
    );
    assert_eq!(missing(&["ls", "nope/"]), "ferry: nope/: no such folder");
    assert_eq!(
        missing(&["ls", "top.txt/"]),
        "ferry: top.txt/: no such folder"
    );
    assert_eq!(
        missing(&["ls", "-R", "nope"]),
        "ferry: nope: no such file or folder"
    );
}

#[test]
fn an_empty_server_lists_as_empty() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    assert_eq!(success(&run(work.path(), server.addr, &["ls"])), "");
    assert_eq!(success(&run(work.path(), server.addr, &["ls", "-R"])), "");
    assert_eq!(
        success(&run(work.path(), server.addr, &["ls", "--json"])),
        "[]\n"
    );
}

#[test]
fn mv_renames_files_and_folders_on_the_server() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut client = server.client();
    client.put_bytes("a.txt", b"a").unwrap();
    client.put_bytes("docs/b.txt", b"b").unwrap();
    client.put_bytes("photos/1.jpg", b"1").unwrap();
    client.put_bytes("photos/sub/2.jpg", b"2").unwrap();
    let mv = |args: &[&str]| success(&run(work.path(), server.addr, args));

    // Into an existing folder, as shells do.
    assert_eq!(mv(&["mv", "a.txt", "docs"]), "moved a.txt -> docs/a.txt\n");
    assert_eq!(
        mv(&["mv", "docs/a.txt", "new/"]),
        "moved docs/a.txt -> new/a.txt\n"
    );
    assert_eq!(
        mv(&["mv", "new/a.txt", "c.txt"]),
        "moved new/a.txt -> c.txt\n"
    );

    // A dry run says what it would do and changes nothing.
    let before = names(&server);
    assert_eq!(
        mv(&["mv", "--dry-run", "photos", "album"]),
        "would move photos/1.jpg -> album/1.jpg\n\
         would move photos/sub/2.jpg -> album/sub/2.jpg\n"
    );
    assert_eq!(names(&server), before);

    mv(&["mv", "photos", "album"]);
    mv(&["mv", "album", "docs/"]);
    assert_eq!(
        names(&server),
        [
            "c.txt",
            "docs/album/1.jpg",
            "docs/album/sub/2.jpg",
            "docs/b.txt"
        ]
    );
    assert_eq!(client.get_bytes("docs/album/sub/2.jpg").unwrap(), b"2");

    let refused = |args: &[&str], code| failure(&run(work.path(), server.addr, args), code);
    assert_eq!(
        refused(&["mv", "nope.txt", "x"], 1),
        "ferry: nope.txt: no such file or folder"
    );
    assert_eq!(
        refused(&["mv", "c.txt", "c.txt/inside"], 1),
        "ferry: c.txt/inside: cannot be made: it is a folder, or a file stands where one of its folders would be"
    );
    assert_eq!(
        refused(&["mv", "docs", "docs/deeper"], 2),
        "ferry: docs: cannot move a folder into itself (docs/deeper/)"
    );
}

#[test]
fn rm_r_removes_a_folder_pipelined() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut client = server.client();
    for i in 0..150 {
        client
            .put_bytes(&format!("old/{}/f{i}.log", i % 3), b"x")
            .unwrap();
    }
    client.put_bytes("old/keep.txt", b"k").unwrap();
    client.put_bytes("old-not/x", b"x").unwrap();

    let line = failure(&run(work.path(), server.addr, &["rm", "old"]), 2);
    assert_eq!(
        line,
        "ferry: old: is a folder (use rm -r to remove it and every file below it)"
    );
    let line = failure(&run(work.path(), server.addr, &["rm", "old/"]), 2);
    assert!(line.contains("use rm -r"), "{line}");

    let out = success(&run(
        work.path(),
        server.addr,
        &["rm", "-r", "--dry-run", "old", "--exclude", "*.txt"],
    ));
    assert_eq!(out.lines().count(), 150, "{out}");
    assert!(
        out.lines()
            .all(|line| line.starts_with("would remove old/"))
    );
    assert_eq!(names(&server).len(), 152);

    let out = success(&run(
        work.path(),
        server.addr,
        &["rm", "-r", "-q", "old", "--exclude", "*.txt"],
    ));
    assert_eq!(out, "");
    assert_eq!(names(&server), ["old-not/x", "old/keep.txt"]);

    let line = failure(&run(work.path(), server.addr, &["rm", "-r", "nope"]), 1);
    assert_eq!(line, "ferry: nope/: no such folder");
    // Without --exclude, one `DEL old/`: the folder with all it holds.
    let out = success(&run(work.path(), server.addr, &["rm", "-r", "old/"]));
    assert_eq!(out, "removed old/\n");
    assert_eq!(names(&server), ["old-not/x"]);
}

#[test]
fn rm_r_names_what_the_token_may_not_delete_and_exits_1() {
    let (server, tokens, _dir) =
        support::tokens::guarded(&[("t", &["read:/", "delete:d/open/"])], &[]);
    for name in ["d/open/a", "d/shut/b"] {
        fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        fs::write(server.path(name), b"x").unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let out = binary::ferry(work.path())
        .args(["rm", "-r", "d", "--server", &server.addr.to_string()])
        .env("FERRY_TOKEN", &tokens[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("ferry: d/shut/b: "), "{err}");
    assert_eq!(lines[1], "ferry: 1 file not removed");
    assert!(!server.path("d/open").exists() && server.path("d/shut/b").exists());
}

#[test]
fn sync_uploads_only_what_differs_and_deletes_with_delete() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("site");
    write(&local.join("same.txt"), b"same");
    write(&local.join("changed.txt"), b"AAAA");
    write(&local.join("deep/new.bin"), b"new");
    write(&local.join("skip.log"), b"log");
    let mut client = server.client();
    client.put_bytes("mirror/same.txt", b"same").unwrap();
    // Same size, other bytes: only the CRC-32C tells them apart.
    client.put_bytes("mirror/changed.txt", b"BBBB").unwrap();
    client.put_bytes("mirror/stale.txt", b"old").unwrap();
    client.put_bytes("mirror/kept.log", b"old").unwrap();

    let sync = |args: &[&str]| success(&run(work.path(), server.addr, args));
    let out = sync(&[
        "sync",
        "site",
        "mirror/",
        "--delete",
        "--exclude",
        "*.log",
        "--dry-run",
    ]);
    assert_eq!(
        out,
        format!(
            "would upload {0}/changed.txt -> mirror/changed.txt\n\
             would upload {0}/deep/new.bin -> mirror/deep/new.bin\n\
             would remove mirror/stale.txt\n\
             sync (dry run): 2 to upload, 1 up to date, 1 to delete\n",
            "site"
        )
    );
    assert_eq!(client.get_bytes("mirror/changed.txt").unwrap(), b"BBBB");

    let out = sync(&["sync", "site", "mirror/", "--delete", "--exclude", "*.log"]);
    assert!(
        out.ends_with("removed mirror/stale.txt\nsync: 2 uploaded, 1 up to date, 1 deleted\n"),
        "{out}"
    );
    // Excluded files are neither sent nor deleted.
    assert_eq!(
        names(&server),
        [
            "mirror/changed.txt",
            "mirror/deep/new.bin",
            "mirror/kept.log",
            "mirror/same.txt"
        ]
    );
    assert_eq!(client.get_bytes("mirror/changed.txt").unwrap(), b"AAAA");
    let out = sync(&["sync", "site", "mirror/", "--exclude", "*.log"]);
    assert_eq!(out, "sync: 0 uploaded, 3 up to date, 0 deleted\n");

    let line = failure(
        &run(work.path(), server.addr, &["sync", "site", "mirror"]),
        2,
    );
    assert!(
        line.contains("end the remote folder's name with /"),
        "{line}"
    );
}

#[test]
fn sync_downloads_only_what_differs_and_deletes_with_delete() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut client = server.client();
    client.put_bytes("mirror/same.txt", b"same").unwrap();
    client.put_bytes("mirror/changed.txt", b"BBBB").unwrap();
    client.put_bytes("mirror/deep/new.bin", b"new").unwrap();
    let local = work.path().join("copy");
    write(&local.join("same.txt"), b"same");
    write(&local.join("changed.txt"), b"AAAA");
    write(&local.join("extra/stale.txt"), b"stale");

    let sync = |args: &[&str]| success(&run(work.path(), server.addr, args));
    let out = sync(&["sync", "mirror/", "copy", "--delete", "--dry-run"]);
    assert!(
        out.ends_with("would remove copy/extra/stale.txt\nsync (dry run): 2 to download, 1 up to date, 1 to delete\n"),
        "{out}"
    );
    assert!(local.join("extra/stale.txt").exists());

    let out = sync(&["sync", "mirror/", "copy", "--delete"]);
    assert!(
        out.ends_with("sync: 2 downloaded, 1 up to date, 1 deleted\n"),
        "{out}"
    );
    assert_eq!(fs::read(local.join("changed.txt")).unwrap(), b"BBBB");
    assert_eq!(fs::read(local.join("deep/new.bin")).unwrap(), b"new");
    assert!(!local.join("extra/stale.txt").exists());

    let line = failure(
        &run(work.path(), server.addr, &["sync", "nope/", "copy"]),
        1,
    );
    assert_eq!(line, "ferry: nope/: no such folder");
}

#[test]
fn folder_transfers_take_exclude_include_and_dry_run() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("tree");
    write(&local.join("a.csv"), b"a");
    write(&local.join("b.txt"), b"b");
    write(&local.join("cache/c.csv"), b"c");
    write(&local.join("sub/d.csv"), b"d");

    let out = success(&run(
        work.path(),
        server.addr,
        &["put", "-r", "tree", "--dry-run", "--exclude", "cache"],
    ));
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.ends_with("dry run: 3 files (3 B) would be stored under \"tree\"\n"),
        "{out}"
    );
    assert!(names(&server).is_empty());

    success(&run(
        work.path(),
        server.addr,
        &["put", "-r", "tree", "--exclude", "*", "--include", "*.csv"],
    ));
    assert_eq!(
        names(&server),
        ["tree/a.csv", "tree/cache/c.csv", "tree/sub/d.csv"]
    );
    success(&run(work.path(), server.addr, &["rm", "-r", "tree/cache"]));

    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "-r", "tree", "back", "--dry-run"],
    ));
    assert_eq!(
        out,
        "would download tree/a.csv -> back/tree/a.csv\n\
         would download tree/sub/d.csv -> back/tree/sub/d.csv\n\
         dry run: 2 files (2 B) would be saved into back\n"
    );
    assert!(!work.path().join("back").exists());
    success(&run(
        work.path(),
        server.addr,
        &["get", "-r", "tree/", "back", "--exclude", "sub"],
    ));
    assert_eq!(fs::read_dir(work.path().join("back")).unwrap().count(), 1);
}

#[test]
fn no_clobber_skips_existing_destinations() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("a.txt"), b"local");
    write(&work.path().join("dir/x.txt"), b"local x");
    write(&work.path().join("dir/y.txt"), b"local y");
    let mut client = server.client();
    client.put_bytes("a.txt", b"remote").unwrap();
    client.put_bytes("dir/x.txt", b"remote x").unwrap();
    let ferry = |args: &[&str]| success(&run(work.path(), server.addr, args));

    assert_eq!(ferry(&["put", "-n", "a.txt"]), "skipped a.txt (exists)\n");
    assert_eq!(client.get_bytes("a.txt").unwrap(), b"remote");
    assert_eq!(
        ferry(&["get", "--no-clobber", "a.txt"]),
        "skipped a.txt (exists)\n"
    );
    assert_eq!(fs::read(work.path().join("a.txt")).unwrap(), b"local");

    let out = ferry(&["put", "-r", "-n", "dir"]);
    assert!(
        out.starts_with("skipped dir/x.txt (exists)\nstored 1 file"),
        "{out}"
    );
    assert_eq!(client.get_bytes("dir/x.txt").unwrap(), b"remote x");
    assert_eq!(client.get_bytes("dir/y.txt").unwrap(), b"local y");

    client.put_bytes("dir/z.txt", b"remote z").unwrap();
    let out = ferry(&["get", "-r", "-n", "dir", "."]);
    assert!(
        out.starts_with("skipped ./dir/x.txt (exists)\nskipped ./dir/y.txt (exists)\nsaved 1 file"),
        "{out}"
    );
    assert_eq!(fs::read(work.path().join("dir/x.txt")).unwrap(), b"local x");
    assert_eq!(
        fs::read(work.path().join("dir/z.txt")).unwrap(),
        b"remote z"
    );

    let line = failure(
        &run(work.path(), server.addr, &["put", "--dry-run", "a.txt"]),
        2,
    );
    assert_eq!(line, "ferry: --dry-run goes with -r");
    let line = failure(
        &run(
            work.path(),
            server.addr,
            &["get", "a.txt", "--exclude", "*.txt"],
        ),
        2,
    );
    assert_eq!(line, "ferry: --exclude goes with -r");
}
