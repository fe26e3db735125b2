//! ferry as a network drive, judged by the WebDAV clients people mount and
//! sync with (issue 28), each driven as a user's script would drive it:
//!
//! - **rclone** (webdav backend, vendor `other`): copies a tree with a
//!   30 MiB file and nested folders, `check --download` finds it identical,
//!   `lsjson` shows the sizes and the server's times, `sync` removes on
//!   ferry what went locally; a wrong token is refused.
//! - **davfs2** (`mount -t davfs`, FUSE): a tree copied into the mount is
//!   on ferry's root byte for byte after `umount`, read back identical
//!   through a second mount with an empty cache, moved (a folder and a
//!   file), removed with `rm -r`, unmounted; with its default
//!   `delay_upload 10`, files renamed before they are sent (`cp f a; mv a
//!   b`, an editor's save over a file) end on ferry's root under their
//!   new names; a token granted only `team/` makes `team` (`mkdir` on a
//!   mount of the root) and then mounts `/team/` itself.
//! - **cadaver**: a script on its standard input (`mkcol`, `put`, `ls`,
//!   `get`, `move`, `delete`), its credentials from `~/.netrc`.
//!
//! Every client logs in as file managers do: HTTP Basic with the token as
//! the password, to a server that requires one. Every external command is
//! bounded by coreutils `timeout` (a stuck FUSE mount or a client waiting
//! on a server must fail the test, not hang the run), and a mount is
//! always unmounted, the test failing or not (`Mount`'s `Drop`).
//!
//! Each test is skipped, saying so on stderr, where its tool is missing
//! (Debian: `apt-get install -y rclone davfs2 cadaver`; `.ci/run` installs
//! them where apt works) and, for davfs2, without root, `/dev/fuse` or the
//! `davfs2` group. Run them alone with
//! `cargo test --test clients webdav_mounts:: -- --nocapture` (as root for
//! davfs2).
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::dav::propfind;
use support::http::{bearer, exchange};
use support::tokens::guarded_with;
use support::{TestServer, pattern};
use tempfile::TempDir;

/// Longest one external command may run, in seconds: generous for a
/// 30 MiB copy on a loaded two-core machine, short enough that a hang
/// fails the test in minutes.
const STEP: u64 = 120;

/// Says on stderr, past the harness's capture, that a test was skipped.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Whether `program` runs here (`--version` or the like is `probe`); says
/// which Debian package to install if not.
fn installed(program: &str, probe: &[&str], package: &str) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdin(Stdio::null())
        .output()
        .is_ok();
    if !found {
        skip(&format!(
            "{program} is not installed (apt-get install {package})"
        ));
    }
    found
}

/// `program` under coreutils `timeout`: TERM after `limit` seconds, KILL 5 s
/// later. The exit status is then 124 (or 137), which [`succeeded`] names.
fn bounded(limit: u64, program: &str) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-k", "5", &limit.to_string(), program])
        .stdin(Stdio::null());
    command
}

/// Asserts that `what` exited 0; its standard output.
fn succeeded(output: &Output, what: &str) -> String {
    let code = output.status.code();
    assert!(
        output.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        match code {
            Some(124) | Some(137) | None => "timed out".to_owned(),
            Some(code) => format!("exit status {code}"),
        },
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A server that requires a token, with one token that may read, write
/// and delete everywhere; the folder holding the tokens file goes with it.
fn dav_server() -> (TestServer, String, TempDir) {
    dav_server_with(|_| {})
}

/// [`dav_server`], with the rest of the configuration as `adjust` makes it.
fn dav_server_with(adjust: impl FnOnce(&mut ferry::Config)) -> (TestServer, String, TempDir) {
    let (server, mut tokens, dir) =
        guarded_with(&[("me", &["read:/", "write:/", "delete:/"])], &[], |c| {
            c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
            adjust(c);
        });
    // Without the token nothing is listed: these clients really log in.
    let anonymous = propfind(server.http.unwrap(), "/", Some("1"), "", "");
    assert_eq!(anonymous.status, 401, "{}", anonymous.head);
    let token = tokens.remove(0);
    let listing = propfind(server.http.unwrap(), "/", Some("1"), &bearer(&token), "");
    // Clients ignore the phrase, but people read it in their dumps.
    assert!(
        listing.head.starts_with("HTTP/1.1 207 Multi-Status\r\n"),
        "{}",
        listing.head
    );
    (server, token, dir)
}

/// Writes files `(relative name, length)` below `dir`, each a pattern of
/// its own, making folders as needed.
fn make_tree(dir: &Path, files: &[(&str, usize)]) {
    for (seed, (name, len)) in files.iter().enumerate() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, pattern(*len, seed as u64 + 1)).unwrap();
    }
}

/// Every file below `dir` by relative name, with its bytes; at the top,
/// ferry's reserved names (`.ferry-*`: bookkeeping, uploads under way)
/// are left out.
fn files_below(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if dir == root && name.starts_with(".ferry-") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, found);
            } else {
                found.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// Asserts that two trees hold the same names with the same bytes (a
/// difference is named, not dumped: the files are megabytes).
fn assert_same_tree(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) {
    let names = |tree: &BTreeMap<String, Vec<u8>>| tree.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want));
    for (name, bytes) in want {
        assert!(got[name] == *bytes, "{name}: the bytes differ");
    }
}

/// A work folder that the `davfs2` user may traverse (a cache inside it
/// must be reachable) and whose contents tests look at.
fn work_dir() -> TempDir {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    work
}

// ------------------------------------------------------------------ rclone

/// rclone with a remote `ferry:` for `server`, configured wholly from the
/// environment (no config file), logging in with `password` (clear text;
/// rclone wants it obscured).
fn rclone_for(server: &TestServer, password: &str) -> impl Fn(&[&str]) -> Output {
    let obscured = succeeded(
        &bounded(STEP, "rclone")
            .args(["obscure", password])
            .output()
            .unwrap(),
        "rclone obscure",
    );
    let url = format!("http://{}/", server.http.unwrap());
    let obscured = obscured.trim().to_owned();
    move |args: &[&str]| {
        bounded(STEP, "rclone")
            .args(args)
            // One try: a retry would hide a failed request.
            .args(["--retries", "1", "--low-level-retries", "1"])
            .env("RCLONE_CONFIG", "/nonexistent")
            .env("RCLONE_CONFIG_FERRY_TYPE", "webdav")
            .env("RCLONE_CONFIG_FERRY_URL", &url)
            .env("RCLONE_CONFIG_FERRY_VENDOR", "other")
            .env("RCLONE_CONFIG_FERRY_USER", "me")
            .env("RCLONE_CONFIG_FERRY_PASS", &obscured)
            .output()
            .unwrap()
    }
}

#[test]
fn rclone_copies_checks_and_syncs_a_tree() {
    if !installed("rclone", &["version"], "rclone") {
        return;
    }
    let (server, token, _tokens) = dav_server();
    let work = work_dir();
    let src = work.path().join("src");
    make_tree(
        &src,
        &[
            ("big.bin", 30 << 20),
            ("top.txt", 1000),
            ("empty.txt", 0),
            ("a/one.bin", 100 << 10),
            ("a/b/c/deep.txt", 5000),
            ("a/b/c/deeper.txt", 17),
            ("with space/é.txt", 300),
        ],
    );
    let rclone = rclone_for(&server, &token);
    let src_arg = src.to_str().unwrap();

    succeeded(&rclone(&["copy", src_arg, "ferry:dst"]), "rclone copy");
    assert_same_tree(&files_below(&server.path("dst")), &files_below(&src));
    // --download compares the bytes read back through ferry: WebDAV
    // "other" has no hashes, and a size-only check would prove little.
    let check = rclone(&["check", "--download", src_arg, "ferry:dst"]);
    succeeded(&check, "rclone check");
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(said.contains("0 differences found"), "{said}");

    // lsjson: each file's size, and its time as ferry's root has it (rclone
    // cannot set times on a vendor-other server: the upload's time, to the
    // second of getlastmodified).
    let listing = succeeded(
        &rclone(&["lsjson", "-R", "--files-only", "ferry:dst"]),
        "rclone lsjson",
    );
    let listing: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
    let local = files_below(&src);
    assert_eq!(listing.len(), local.len(), "{listing:?}");
    for entry in &listing {
        let name = entry["Path"].as_str().unwrap();
        assert_eq!(
            entry["Size"].as_u64(),
            Some(local[name].len() as u64),
            "{name}"
        );
        let listed = time::OffsetDateTime::parse(
            entry["ModTime"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let on_disk: time::OffsetDateTime = std::fs::metadata(server.path(&format!("dst/{name}")))
            .unwrap()
            .modified()
            .unwrap()
            .into();
        assert_eq!(listed.unix_timestamp(), on_disk.unix_timestamp(), "{name}");
    }

    // Changes, then sync: what went locally goes on ferry (a whole folder
    // tree among it), what changed is sent again.
    std::fs::remove_dir_all(src.join("a/b")).unwrap();
    std::fs::remove_file(src.join("top.txt")).unwrap();
    std::fs::write(src.join("a/one.bin"), pattern(200 << 10, 99)).unwrap();
    std::fs::write(src.join("new.txt"), b"new").unwrap();
    succeeded(
        &rclone(&["sync", "--delete-during", src_arg, "ferry:dst"]),
        "rclone sync",
    );
    assert_same_tree(&files_below(&server.path("dst")), &files_below(&src));
    assert!(
        !server.path("dst/a/b").exists(),
        "the removed folder stayed"
    );
    succeeded(
        &rclone(&["check", "--download", src_arg, "ferry:dst"]),
        "rclone check after sync",
    );

    // A wrong token: refused (401), nothing listed.
    let wrong = rclone_for(&server, "ferry_not_a_token")(&["lsf", "ferry:dst"]);
    assert!(!wrong.status.success(), "a wrong token listed the folder");
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("401"), "{said}");
}

// ------------------------------------------------------------------ davfs2

/// The `davfs2` group's id (mount.davfs wants its cache directory in that
/// group, group-writable), or `None`, saying why the test is skipped.
fn davfs2_ready() -> Option<u32> {
    if !installed("mount.davfs", &["-V"], "davfs2") {
        return None;
    }
    if !rustix::process::geteuid().is_root() {
        skip("davfs2 mounts need root");
        return None;
    }
    if !Path::new("/dev/fuse").exists() {
        skip("davfs2 needs /dev/fuse (FUSE)");
        return None;
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let gid = groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some("davfs2")).then(|| fields.nth(1)?.parse().ok())?
    });
    if gid.is_none() {
        skip("the davfs2 group is missing (reinstall davfs2)");
    }
    gid
}

/// A davfs2 mount of a ferry server, unmounted when dropped: a failing
/// test must not leave a mount behind (the next run's temporary folders,
/// `umount -a`, a shutdown would trip over it).
struct Mount {
    point: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts `url` logging in with `token`, on a fresh mount point and a
    /// fresh cache below `work` (`tag` tells several mounts apart): what is
    /// read through it comes from the server, not an earlier mount's cache.
    /// Files are sent as they are closed (`delay_upload 0`).
    fn new(work: &Path, url: &str, token: &str, gid: u32, tag: &str) -> Mount {
        let at_close = "# Upload on close, so `umount` and the root agree at once.\n\
                        delay_upload 0\n";
        Mount::configured(work, url, token, gid, tag, at_close)
    }

    /// [`Mount::new`], with `more` lines in davfs2's configuration (none:
    /// its defaults, `delay_upload 10` among them).
    fn configured(work: &Path, url: &str, token: &str, gid: u32, tag: &str, more: &str) -> Mount {
        let point = work.join(format!("mnt-{tag}"));
        let cache = work.join(format!("cache-{tag}"));
        std::fs::create_dir(&point).unwrap();
        std::fs::create_dir(&cache).unwrap();
        // mount.davfs refuses a cache directory not in its group with
        // group rwx ("can't access directory"), as /var/cache/davfs2 is.
        std::os::unix::fs::chown(&cache, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o775)).unwrap();
        let secrets = work.join(format!("secrets-{tag}"));
        std::fs::write(&secrets, format!("{url} me {token}\n")).unwrap();
        // davfs2 refuses a secrets file others may read.
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = work.join(format!("davfs2-{tag}.conf"));
        std::fs::write(
            &conf,
            format!(
                "secrets {}\n\
                 cache_dir {}\n\
                 # Without it `ls` fails with EINVAL on recent kernels (davfs2 #22).\n\
                 buf_size 64\n\
                 # davfs2 LOCKs each file it opens for writing (and a new\n\
                 # name first, expecting 201): ferry's locks are real.\n\
                 use_locks 1\n\
                 {more}",
                secrets.display(),
                cache.display()
            ),
        )
        .unwrap();
        let mut mount = Mount {
            point,
            mounted: false,
        };
        let output = bounded(60, "mount")
            .args(["-t", "davfs", url])
            .arg(&mount.point)
            .arg("-o")
            .arg(format!("conf={}", conf.display()))
            .output()
            .unwrap();
        // Set before the assertion: mount may have half-succeeded.
        mount.mounted = true;
        succeeded(&output, "mount -t davfs");
        mount
    }

    /// `name` inside the mount.
    fn path(&self, name: &str) -> PathBuf {
        self.point.join(name)
    }

    /// Unmounts, asserting it worked: `umount` waits for davfs2 to send
    /// what it still holds, so the root is final afterwards.
    fn unmount(mut self) {
        let output = bounded(STEP, "umount").arg(&self.point).output().unwrap();
        succeeded(&output, "umount");
        self.mounted = false;
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        let unmounted = bounded(STEP, "umount")
            .arg(&self.point)
            .output()
            .is_ok_and(|output| output.status.success());
        if !unmounted {
            // A stuck mount: detach it so nothing else waits on it.
            let _ = bounded(10, "umount").arg("-l").arg(&self.point).output();
        }
    }
}

/// Runs `program args` (a shell tool working on the mount) bounded by
/// [`STEP`], and asserts it succeeded.
fn on_mount(program: &str, args: &[&Path]) -> Output {
    let output = bounded(STEP, program).args(args).output().unwrap();
    succeeded(&output, &format!("{program} {args:?}"));
    output
}

/// `rm -r folder` on the mount, bounded by [`STEP`].
///
/// `rm -r` through the mount: each file's DELETE, then each folder's.
/// Folders stay when their last file goes (docs/webdav.md (g)), so every
/// step succeeds.
fn rm_r(folder: &Path) {
    let output = bounded(STEP, "rm").arg("-r").arg(folder).output().unwrap();
    succeeded(&output, &format!("rm -r {folder:?}"));
}

/// How many LOCK requests `server` granted, from its metrics.
fn locks_granted(server: &TestServer) -> u64 {
    let answer = exchange(
        server.metrics.unwrap(),
        "GET",
        "/metrics",
        "Host: localhost\r\n",
        b"",
    );
    let text = String::from_utf8(answer.body).unwrap();
    text.lines()
        .filter(|line| line.starts_with("ferry_requests_total{"))
        .filter(|line| line.contains("operation=\"lock\"") && line.contains("outcome=\"ok\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn davfs2_mounts_copies_moves_and_removes() {
    let Some(gid) = davfs2_ready() else {
        return;
    };
    let (server, token, _tokens) = dav_server();
    let url = format!("http://{}/", server.http.unwrap());
    // Declared before the mounts, so dropped after them: a mount point is
    // never removed while mounted.
    let work = work_dir();
    let src = work.path().join("tree");
    make_tree(
        &src,
        &[
            ("top.txt", 1000),
            ("empty.txt", 0),
            ("a/one.bin", 3 << 20),
            ("a/b/deep.txt", 5000),
            ("a/b/c/deeper.bin", 300 << 10),
        ],
    );

    // Copy in, unmount: the tree is on ferry's root.
    let mount = Mount::new(work.path(), &url, &token, gid, "in");
    on_mount("cp", &[Path::new("-r"), &src, &mount.path("tree")]);
    mount.unmount();
    // davfs2 (use_locks 1) locked what it wrote: class 2 is in use.
    assert!(locks_granted(&server) > 0, "davfs2 took no lock");
    assert_same_tree(&files_below(&server.path("tree")), &files_below(&src));

    // A second mount with an empty cache reads it back from the server.
    let mount = Mount::new(work.path(), &url, &token, gid, "back");
    let back = work.path().join("back");
    on_mount("cp", &[Path::new("-r"), &mount.path("tree"), &back]);
    assert_same_tree(&files_below(&back), &files_below(&src));

    // A folder and a file moved: renames send MOVE at once.
    on_mount("mv", &[&mount.path("tree/a"), &mount.path("tree/moved")]);
    on_mount(
        "mv",
        &[
            &mount.path("tree/top.txt"),
            &mount.path("tree/moved/top.txt"),
        ],
    );
    let moved: BTreeMap<String, Vec<u8>> = files_below(&src)
        .into_iter()
        .map(|(name, bytes)| match name.strip_prefix("a/") {
            Some(rest) => (format!("moved/{rest}"), bytes),
            None if name == "top.txt" => ("moved/top.txt".to_owned(), bytes),
            None => (name, bytes),
        })
        .collect();
    assert_same_tree(&files_below(&server.path("tree")), &moved);

    // rm -r of a nested folder, then of everything.
    rm_r(&mount.path("tree/moved/b"));
    let kept: BTreeMap<String, Vec<u8>> = moved
        .into_iter()
        .filter(|(name, _)| !name.starts_with("moved/b/"))
        .collect();
    assert_same_tree(&files_below(&server.path("tree")), &kept);
    rm_r(&mount.path("tree"));
    mount.unmount();
    assert!(
        files_below(server.root.path()).is_empty(),
        "left on the root: {:?}",
        files_below(server.root.path()).keys().collect::<Vec<_>>()
    );
    assert!(!server.path("tree").exists(), "the tree's folder stayed");
}

/// davfs2 with a token granted only `team/` (read, write, delete), on a
/// root where `team` is not. davfs2 makes no folder at its mount point's
/// URL (a mount of `/team/` before `team` is there fails: its PROPFIND
/// is 404), so the holder mounts the root: `mkdir team` makes it (MKCOL,
/// by the grant on what it will hold), a file copied in lands, and
/// `mkdir` beside the grant is refused. Then `/team/` itself mounts with
/// an empty cache: the file reads back, another goes in. After `umount`
/// both are on ferry's root, and nothing else is.
#[test]
fn davfs2_makes_and_mounts_a_folder_its_grant_holds() {
    let Some(gid) = davfs2_ready() else {
        return;
    };
    let holders: &[(&str, &[&str])] = &[("team", &["read:team/", "write:team/", "delete:team/"])];
    let (server, tokens, _tokens) = guarded_with(holders, &[], |_| {});
    let root = server.root.path();
    assert_eq!(support::names_under(root), Vec::<String>::new());
    let work = work_dir();
    let (report, notes) = (pattern(2 << 20, 11), pattern(3000, 12));
    std::fs::write(work.path().join("report.bin"), &report).unwrap();
    std::fs::write(work.path().join("notes.txt"), &notes).unwrap();
    let http = server.http.unwrap();

    let mount = Mount::new(
        work.path(),
        &format!("http://{http}/"),
        &tokens[0],
        gid,
        "root",
    );
    on_mount("mkdir", &[&mount.path("team")]);
    on_mount(
        "cp",
        &[&work.path().join("report.bin"), &mount.path("team")],
    );
    let beside = bounded(STEP, "mkdir")
        .arg(mount.path("other"))
        .output()
        .unwrap();
    assert!(!beside.status.success(), "mkdir beside the grant");
    mount.unmount();
    assert_eq!(support::names_under(root), ["team/", "team/report.bin"]);

    let url = format!("http://{http}/team/");
    let mount = Mount::new(work.path(), &url, &tokens[0], gid, "team");
    let back = work.path().join("back.bin");
    on_mount("cp", &[&mount.path("report.bin"), &back]);
    assert!(std::fs::read(&back).unwrap() == report, "read back whole");
    on_mount(
        "cp",
        &[&work.path().join("notes.txt"), &mount.path("notes.txt")],
    );
    mount.unmount();
    let want: BTreeMap<String, Vec<u8>> = [("notes.txt", notes), ("report.bin", report)]
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .into();
    assert_same_tree(&files_below(&server.path("team")), &want);
    assert_eq!(
        support::names_under(root),
        ["team/", "team/notes.txt", "team/report.bin"]
    );
}

/// With davfs2's default `delay_upload 10`, a file is sent up to 10 s
/// after it is closed, and its new name only LOCKed meanwhile (a
/// reservation: nothing on ferry's root). `cp f mnt/a; mv mnt/a mnt/b`
/// then MOVEs the reservation before any PUT (it was "Input/output
/// error" while ferry answered that MOVE 404), and an editor's save (a
/// temporary file renamed over the file) MOVEs one onto a file. After
/// `umount` (which sends what davfs2 still holds) the new names have the
/// bytes and the old ones are gone; meanwhile no reader sees a 0-byte
/// or partial version of either destination.
#[test]
fn davfs2_renames_files_it_has_not_sent_yet() {
    let Some(gid) = davfs2_ready() else {
        return;
    };
    let (server, token, _tokens) = dav_server();
    let http = server.http.unwrap();
    let headers = format!("Host: {http}\r\n{}", bearer(&token));
    let old = exchange(http, "PUT", "/saved.txt", &headers, b"the version before");
    assert_eq!(old.status, 201, "{}", old.head);
    let work = work_dir();
    let (copied, saved) = (pattern(100_000, 3), pattern(5000, 4));
    std::fs::write(work.path().join("f"), &copied).unwrap();
    std::fs::write(work.path().join("edit"), &saved).unwrap();
    let url = format!("http://{http}/");
    let mount = Mount::configured(work.path(), &url, &token, gid, "delayed", "");
    on_mount("cp", &[&work.path().join("f"), &mount.path("a")]);
    on_mount("mv", &[&mount.path("a"), &mount.path("b")]);
    on_mount(
        "cp",
        &[&work.path().join("edit"), &mount.path(".saved.txt.tmp")],
    );
    on_mount(
        "mv",
        &[&mount.path(".saved.txt.tmp"), &mount.path("saved.txt")],
    );
    // Sent or not yet (davfs2's 10 s may have passed on a slow machine),
    // never a 0-byte or partial version.
    for (name, whole, before) in [
        ("/b", &copied, None),
        ("/saved.txt", &saved, Some(&b"the version before"[..])),
    ] {
        let got = exchange(http, "GET", name, &headers, b"");
        let seen = got.status == 200 && (got.body == *whole || Some(&got.body[..]) == before);
        let unsent = got.status == 404 && before.is_none();
        assert!(
            seen || unsent,
            "{name}: {} {} bytes",
            got.status,
            got.body.len()
        );
    }
    mount.unmount();
    let want: BTreeMap<String, Vec<u8>> = [("b", copied), ("saved.txt", saved)]
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .into();
    assert_same_tree(&files_below(server.root.path()), &want);
}

/// davfs2's `df` on a mount shows the token's quota (RFC 4331's
/// quota-available-bytes and quota-used-bytes): its limit as the size,
/// what its uploads hold as used (docs/quotas.md).
#[test]
fn davfs2_df_shows_the_tokens_quota_and_use() {
    let Some(gid) = davfs2_ready() else {
        return;
    };
    let (server, token, _tokens) = dav_server_with(|c| {
        let path = c.access.tokens.clone().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file = ferry::access::tokens::TokensFile::parse(&text).unwrap();
        file.entries[0].quota = Some(ferry::access::quota::Quota::parse("10M").unwrap());
        std::fs::write(&path, file.render()).unwrap();
    });
    let http = server.http.unwrap();
    let headers = format!("Host: {http}\r\n{}", bearer(&token));
    let put = exchange(http, "PUT", "/used.bin", &headers, &pattern(1 << 20, 7));
    assert_eq!(put.status, 201, "{}", put.head);
    let work = work_dir();
    let mount = Mount::new(work.path(), &format!("http://{http}/"), &token, gid, "df");
    let df = on_mount(
        "df",
        &[
            Path::new("-B1"),
            Path::new("--output=size,used,avail"),
            &mount.point,
        ],
    );
    let text = String::from_utf8_lossy(&df.stdout).into_owned();
    let figures: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("df said {text:?}"))
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(figures, [10 << 20, 1 << 20, 9 << 20], "df said {text:?}");
    mount.unmount();
}

// ----------------------------------------------------------------- cadaver

#[test]
fn cadaver_runs_a_script_with_netrc_credentials() {
    // `-V` prints the version and exits (255).
    if !installed("cadaver", &["-V"], "cadaver") {
        return;
    }
    let (server, token, _tokens) = dav_server();
    let work = work_dir();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let netrc = home.join(".netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1\nlogin me\npassword {token}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let data = pattern(100 << 10, 7);
    std::fs::write(work.path().join("local.bin"), &data).unwrap();

    // Two files in the folder, so that deleting one leaves it (see the
    // davfs2 test on folders pruned by a DELETE).
    let script = "mkcol docs\n\
                  put local.bin docs/report.bin\n\
                  put local.bin docs/keep.bin\n\
                  ls docs\n\
                  get docs/report.bin back.bin\n\
                  move docs/report.bin docs/renamed.bin\n\
                  delete docs/renamed.bin\n\
                  ls docs\n\
                  quit\n";
    let mut child = bounded(STEP, "cadaver")
        .arg(format!("http://{}/", server.http.unwrap()))
        .env("HOME", &home)
        .current_dir(work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // cadaver exits 0 whatever its commands did: each says `succeeded.`
    // or `failed:` on a line of its own.
    let said = succeeded(&output, "cadaver");
    assert!(!said.contains("failed"), "{said}");
    for step in [
        "Creating `docs': succeeded.",
        "Uploading local.bin to `/docs/report.bin':",
        "Downloading `/docs/report.bin' to back.bin:",
        "Moving `/docs/report.bin' to `/docs/renamed.bin':  succeeded.",
        "Deleting `docs/renamed.bin': succeeded.",
    ] {
        assert!(said.contains(step), "no {step:?} in:\n{said}");
    }
    assert_eq!(said.matches("succeeded.").count(), 8, "{said}");
    // Both listings name the files with their sizes: first both, then one.
    let listings: Vec<&str> = said
        .split("Listing collection `/docs/': succeeded.")
        .skip(1)
        .collect();
    assert_eq!(listings.len(), 2, "{said}");
    let size = data.len().to_string();
    for (listing, names) in listings
        .iter()
        .zip([&["keep.bin", "report.bin"][..], &["keep.bin"]])
    {
        let mut listed: Vec<(String, String)> = listing
            .lines()
            .skip(1) // the rest of the line that said "succeeded."
            .map_while(|line| line.strip_prefix("        "))
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields[0].to_owned(), fields[1].to_owned())
            })
            .collect();
        listed.sort();
        let want: Vec<(String, String)> = names
            .iter()
            .map(|n| (n.to_string(), size.clone()))
            .collect();
        assert_eq!(listed, want, "{listing}");
    }

    assert!(std::fs::read(work.path().join("back.bin")).unwrap() == data);
    let mut want = BTreeMap::new();
    want.insert("docs/keep.bin".to_owned(), data);
    assert_same_tree(&files_below(server.root.path()), &want);
}
