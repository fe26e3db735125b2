//! Copying folders with `ferry put -r` and `ferry get -r`: names on both
//! sides, pipelining, `--parallel`, `--skip-existing`, files that cannot be
//! named, per-file failures, and connections cut in the middle of a batch.
#![cfg(feature = "client")] // the client commands it runs (Cargo.toml [features])

use crate::binary;
use crate::support;

use std::fs;
use std::path::{Path, PathBuf};

use binary::{failure, run, stderr, stdout, success};
use support::proxy::CuttingProxy;
use support::{TestServer, crc_hex, pattern};

/// A folder of `count` files of assorted sizes (0 to ~40 KB, one of
/// 300 KB), some nested, some with spaces and non-ASCII names.
fn make_tree(root: &Path, count: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for i in 0..count {
        let relative = match i % 4 {
            0 => format!("file {i}.txt"),
            1 => format!("sub/data-{i}.bin"),
            2 => format!("sub/deeper/ünï {i}.csv"),
            _ => format!("z/{i}"),
        };
        let len = if i == 3 { 300_000 } else { (i * 997) % 40_000 };
        let data = pattern(len, seed + i as u64);
        let path = root.join(&relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &data).unwrap();
        files.push((relative, data));
    }
    files.sort();
    files
}

/// Every file below `root` with its bytes, relative names, sorted.
fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut dirs = vec![PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with(".ferry-nodes") || path.ends_with(".ferry-dav") {
                continue; // the server's locks and journals
            }
            if path.is_dir() {
                dirs.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.push((relative, fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

/// Asserts two trees hold the same names with the same bytes, printing
/// names (not bytes) when they do not.
#[track_caller]
fn assert_same(got: &[(String, Vec<u8>)], want: &[(String, Vec<u8>)], what: &str) {
    let names =
        |tree: &[(String, Vec<u8>)]| tree.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: names differ");
    for ((name, a), (_, b)) in got.iter().zip(want) {
        assert!(
            a == b,
            "{what}: {name} differs ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }
}

/// The server's tree once the uploads it saw cut off are cleaned up (see
/// [`TestServer::settled_files_on_disk`]).
fn settled_server_tree(server: &TestServer) -> Vec<(String, Vec<u8>)> {
    server.settled_files_on_disk();
    read_tree(server.root.path())
}

fn under(prefix: &str, files: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|(name, data)| (format!("{prefix}{name}"), data.clone()))
        .collect()
}

#[test]
fn a_folder_goes_up_and_comes_back_identical() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let files = make_tree(&work.path().join("photos"), 40, 1);

    // The prefix defaults to the folder's name.
    let out = success(&run(work.path(), server.addr, &["put", "-r", "photos"]));
    assert!(out.starts_with("stored 40 files ("), "{out}");
    assert_same(
        &read_tree(server.root.path()),
        &under("photos/", &files),
        "tree",
    );

    // An explicit prefix; then back down, with and without a trailing /.
    success(&run(
        work.path(),
        server.addr,
        &["put", "-r", "photos", "backup/2026"],
    ));
    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "-r", "backup/2026/", "restored"],
    ));
    assert!(out.starts_with("saved 40 files ("), "{out}");
    assert_same(&read_tree(&work.path().join("restored")), &files, "tree");
    success(&run(
        work.path(),
        server.addr,
        &["get", "-r", "photos", "again"],
    ));
    assert_same(
        &read_tree(&work.path().join("again")),
        &under("photos/", &files),
        "tree",
    );
}

#[test]
fn many_requests_are_in_flight_on_one_connection() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    make_tree(&work.path().join("t"), 200, 2);
    let output = run(work.path(), server.addr, &["put", "-r", "t", "-v"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (most, connections) = most_in_flight(&stderr(&output), "PUT");
    assert_eq!(connections, 1);
    assert!(most >= 8, "at most {most} PUTs in flight");
    assert_eq!(server.files_on_disk().len(), 200);

    let back = work.path().join("back");
    let output = run(
        work.path(),
        server.addr,
        &["get", "-r", "t/", back.to_str().unwrap(), "-v"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let (most, _) = most_in_flight(&stderr(&output), "GET");
    assert!(most >= 8, "at most {most} GETs in flight");
    assert_same(
        &read_tree(&back),
        &read_tree(&work.path().join("t")),
        "tree",
    );
}

/// From a `--verbose` log: the most requests of `verb` sent on one
/// connection and not yet answered, and on how many connections they went.
fn most_in_flight(log: &str, verb: &str) -> (usize, usize) {
    let mut in_flight = std::collections::HashMap::<&str, usize>::new();
    let mut most = 0;
    for line in log.lines() {
        // "ferry: #<connection> > <request>" or "ferry: #<connection> < <answer>"
        let mut words = line.split(' ').skip(1);
        let (Some(id), Some(arrow)) = (words.next(), words.next()) else {
            continue;
        };
        if arrow == ">" && words.next() == Some(verb) {
            let count = in_flight.entry(id).or_default();
            *count += 1;
            most = most.max(*count);
        } else if let (Some(count), "<") = (in_flight.get_mut(id), arrow) {
            *count = count.saturating_sub(1);
        }
    }
    (most, in_flight.len())
}

#[test]
fn parallel_connections_share_the_work() {
    let server = TestServer::start();
    // A proxy that never cuts, to count connections.
    let counter = CuttingProxy::start(server.addr, 0, u64::MAX / 2..=u64::MAX / 2);
    let work = tempfile::tempdir().unwrap();
    let files = make_tree(&work.path().join("t"), 300, 3);
    let out = success(&run(
        work.path(),
        counter.addr,
        &["put", "-r", "t", "", "--parallel", "4"],
    ));
    assert!(out.starts_with("stored 300 files"), "{out}");
    assert!(
        (2..=4).contains(&counter.connections()),
        "{}",
        counter.connections()
    );
    assert_same(&read_tree(server.root.path()), &files, "tree");

    let before = counter.connections();
    success(&run(
        work.path(),
        counter.addr,
        &["get", "-r", "", "copy", "--parallel", "3"],
    ));
    assert!((2..=3).contains(&(counter.connections() - before - 1)));
    assert_same(&read_tree(&work.path().join("copy")), &files, "tree");
}

#[test]
fn skip_existing_sends_only_what_changed() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("t");
    make_tree(&tree, 30, 4);
    success(&run(work.path(), server.addr, &["put", "-r", "t"]));

    let out = success(&run(
        work.path(),
        server.addr,
        &["put", "-r", "t", "--skip-existing"],
    ));
    assert!(
        out.starts_with("stored 0 files (0 B)") && out.ends_with("; 30 unchanged\n"),
        "{out}"
    );
    // Same size, different bytes: the checksum tells.
    let changed = tree.join("sub/data-1.bin");
    let mut data = fs::read(&changed).unwrap();
    data[0] ^= 1;
    fs::write(&changed, &data).unwrap();
    fs::write(tree.join("new.txt"), "new").unwrap();
    let out = success(&run(
        work.path(),
        server.addr,
        &["put", "-r", "t", "--skip-existing", "--parallel", "2"],
    ));
    assert!(
        out.starts_with("stored 2 files") && out.ends_with("; 29 unchanged\n"),
        "{out}"
    );
    assert_eq!(fs::read(server.path("t/sub/data-1.bin")).unwrap(), data);

    // Downloads the same way round.
    success(&run(work.path(), server.addr, &["get", "-r", "t", "copy"]));
    let local = work.path().join("copy/t/z/3");
    let mut bytes = fs::read(&local).unwrap();
    bytes[100] ^= 1;
    fs::write(&local, &bytes).unwrap();
    let out = success(&run(
        work.path(),
        server.addr,
        &["get", "-r", "t", "copy", "--skip-existing"],
    ));
    assert!(
        out.starts_with("saved 1 file (") && out.ends_with("; 30 unchanged\n"),
        "{out}"
    );
    assert_same(
        &read_tree(&work.path().join("copy/t")),
        &read_tree(&tree),
        "tree",
    );

    // A single file too.
    let out = success(&run(
        work.path(),
        server.addr,
        &["put", "t/new.txt", "t/new.txt", "--skip-existing"],
    ));
    assert_eq!(
        out,
        format!(
            "unchanged t/new.txt (3 bytes, crc32c {})\n",
            crc_hex(b"new")
        )
    );
}

#[test]
fn files_that_cannot_be_named_are_skipped_with_a_warning() {
    let server = TestServer::start();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("t");
    fs::create_dir_all(tree.join(".ferry-tmp-dir")).unwrap();
    fs::write(tree.join("good.txt"), "good").unwrap();
    fs::write(tree.join("bad\u{7}bell.txt"), "bad").unwrap();
    fs::write(tree.join(".ferry-tmp-dir/x"), "x").unwrap();
    std::os::unix::fs::symlink("good.txt", tree.join("link")).unwrap();

    let output = run(work.path(), server.addr, &["put", "-r", "t"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let warnings: Vec<String> = stderr(&output).lines().map(str::to_owned).collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    for (warning, what) in warnings
        .iter()
        // The control character is written escaped (README: errors).
        .zip([".ferry-tmp-dir", "bad\\u{7}bell.txt", "link"])
    {
        assert!(
            warning.starts_with("ferry: warning: skipping "),
            "{warning}"
        );
        assert!(warning.contains(what), "{warning}");
    }
    assert!(warnings[1].contains("control character"), "{warnings:?}");
    assert!(stdout(&output).starts_with("stored 1 file ("));
    assert_eq!(server.files_on_disk(), ["t/good.txt"]);
}

#[test]
fn a_file_that_fails_is_reported_and_the_others_go_on() {
    let server = TestServer::start();
    server
        .client()
        .put_bytes("dst/a", b"a file where a folder would go")
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("t");
    fs::create_dir_all(tree.join("a")).unwrap();
    fs::write(tree.join("a/x"), "x").unwrap();
    fs::write(tree.join("b"), "b").unwrap();
    fs::write(tree.join("c"), "c").unwrap();

    let output = run(work.path(), server.addr, &["put", "-r", "t", "dst"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("ferry: dst/a/x: "), "{err}");
    assert_eq!(lines[1], "ferry: 1 of 3 files failed");
    assert!(stdout(&output).starts_with("stored 2 files"));
    assert_eq!(server.files_on_disk(), ["dst/a", "dst/b", "dst/c"]);
}

#[test]
fn folders_survive_connections_cut_at_random_points() {
    for seed in 1..=2 {
        let server = TestServer::start();
        // Each connection can carry more than what a connection may have
        // unanswered (1 MiB) and the largest file (300 KB): a folder
        // transfer resends cut and unanswered files whole. And less than
        // half the tree (4.3 MB), so that however the two connections
        // share it, one of them is cut.
        let proxy = CuttingProxy::start(server.addr, seed, 1_400_000..=2_000_000);
        let work = tempfile::tempdir().unwrap();
        let files = make_tree(&work.path().join("t"), 200, seed);
        let patient = ["--retries", "50", "--retry-delay", "0.01"];

        let mut args = vec!["put", "-r", "t", "", "--parallel", "2"];
        args.extend(patient);
        let output = run(work.path(), proxy.addr, &args);
        assert!(output.status.success(), "seed {seed}: {}", stderr(&output));
        assert_same(
            &settled_server_tree(&server),
            &files,
            &format!("seed {seed} up"),
        );
        let cuts_up = proxy.cuts();
        let connections_up = proxy.connections();

        let mut args = vec!["get", "-r", "", "back"];
        args.extend(patient);
        let output = run(work.path(), proxy.addr, &args);
        assert!(output.status.success(), "seed {seed}: {}", stderr(&output));
        assert_same(
            &read_tree(&work.path().join("back")),
            &files,
            &format!("seed {seed} down"),
        );
        assert!(
            cuts_up >= 1 && proxy.cuts() > cuts_up,
            "seed {seed}: {cuts_up} cuts over {connections_up} connections up, {} in all over {}",
            proxy.cuts(),
            proxy.connections()
        );
    }
}

#[test]
fn folder_usage_errors_exit_2() {
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("file"), "x").unwrap();
    fs::create_dir(work.path().join("dir")).unwrap();
    let nowhere: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    // Ours: one line.
    for args in [
        &["put", "-r", "file"][..],
        &["put", "dir"],
        &["get", "-r", "x", "-"],
        &["get", "--resume", "x", "-"],
    ] {
        failure(&run(work.path(), nowhere, args), 2);
    }
    // clap's: its own usage message.
    for args in [
        &["put", "-r", "--resume", "dir"][..],
        &["put", "--parallel", "0", "-r", "dir"],
        &["put", "-q", "-v", "file"],
    ] {
        let output = run(work.path(), nowhere, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
}
