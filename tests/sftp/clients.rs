//! The SFTP clients beside OpenSSH's that people point at a server:
//! sshfs (a FUSE mount), rclone's and restic's sftp backends, paramiko
//! (Python), each as its users run it (Debian's packages, paramiko from
//! PyPI; `.ci/run` installs them, and a test without its client says it
//! was skipped), with the flags their users give them and no other.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::sftp::{Login, Sshfs, have_openssh, have_sshfs, said};
use crate::support::tools::{check, have, python, python_has};
use crate::support::trees::{assert_same_tree, files, tree};
use crate::support::{PATIENCE, TestServer, http, listen_http, listen_sftp, pattern, tokens};

/// Waits until `right` holds what `left` does: sshfs sends a file's
/// `CLOSE` (the commit) after `cp` has returned (FUSE's release is
/// asynchronous), so the root catches up a moment later. Bounded.
fn settle_same_tree(left: &Path, right: &Path) {
    let deadline = Instant::now() + PATIENCE;
    while files(left) != files(right) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_same_tree(left, right);
}

/// Waits until the file at `path` holds `bytes` (as [`settle_same_tree`]).
fn settle(path: &Path, bytes: &[u8]) {
    let deadline = Instant::now() + PATIENCE;
    while std::fs::read(path).ok().as_deref() != Some(bytes) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::fs::read(path).unwrap() == bytes, "{}", path.display());
}

#[test]
fn sshfs_copies_moves_removes_and_df_shows_the_quota() {
    if !have_openssh() || !have_sshfs() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("owner", &["read:/", "write:/", "delete:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], |config| {
        listen_sftp(config);
        // 1000 blocks of 4096 bytes, as statvfs counts them.
        tokens::set_quota(config, 0, "4096000");
    });
    server.write_files(&["old/a.txt", "old/b.txt"]);
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("tree");
    tree(&local, 300_000);
    let login = Login::with_password(server.sftp.unwrap(), &tokens[0]);
    let mount = Sshfs::mount(&login, &[]);

    // New files: OPEN WRITE|CREAT|EXCL (0x2a), as `cp` asks (O_EXCL),
    // from sshfs's threads.
    let copied = mount.run("cp", &["-r", &local.display().to_string(), "tree"]);
    check(&copied, "cp -r");
    settle_same_tree(&local, &server.path("tree"));
    // Over a file that is there (OPEN WRITE|CREAT|TRUNC, written in order
    // from sshfs's threads).
    let big = local.join("a/b/big.bin").display().to_string();
    check(&mount.run("cp", &[&big, "old/a.txt"]), "cp over a file");
    settle(&server.path("old/a.txt"), &pattern(300_000, 5));
    // A new file as a shell's `>` makes it (OPEN WRITE|CREAT|TRUNC, no
    // EXCL): sshfs checks it with an LSTAT of its name beside the OPEN.
    let made = mount.run("sh", &["-c", &format!("cat {big} > old/made.bin")]);
    check(&made, "a shell's redirection");
    settle(&server.path("old/made.bin"), &pattern(300_000, 5));
    check(&mount.run("mv", &["old/b.txt", "old/c.txt"]), "mv a file");
    check(&mount.run("mv", &["tree/c", "tree/d"]), "mv a folder");
    check(&mount.run("rm", &["tree/a/one.txt"]), "rm");
    assert!(server.path("old/c.txt").exists() && !server.path("old/b.txt").exists());
    assert!(server.path("tree/d/three.txt").exists() && !server.path("tree/c").exists());
    assert!(!server.path("tree/a/one.txt").exists());
    let listed = check(&mount.run("ls", &["-R"]), "ls -R");
    for name in [
        "./old:",
        "c.txt",
        "./tree/d:",
        "three.txt",
        "big.bin",
        "empty",
    ] {
        assert!(listed.lines().any(|l| l == name), "{name} in {listed}");
    }
    assert!(!listed.contains("one.txt"), "{listed}");
    // Read back through the mount, byte for byte.
    let read = std::fs::read(mount.path("tree/a/b/big.bin")).unwrap();
    assert_eq!(
        read,
        std::fs::read(server.path("tree/a/b/big.bin")).unwrap()
    );
    // `df` counts the token's quota: its size, and what is left of it.
    let df = check(&mount.run("df", &["-B1", "--output=size,avail", "."]), "df");
    let numbers: Vec<u64> = df
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(numbers.first(), Some(&4_096_000), "{df}");
    // What came through the mount counts (the tree only if sshfs made it).
    assert!(numbers[1] <= 4_096_000 - 300_000, "{df}");
}

/// `program args` under `timeout`, with `env`; its output.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new("timeout")
        .args(["-k", "5", &PATIENCE.as_secs().to_string(), program])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("timeout runs")
}

#[test]
fn rclone_copies_checks_and_syncs_and_http_serves_the_same_bytes() {
    if !have("rclone", &["version"], "apt-get install rclone") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("sync", &["read:/", "write:/", "delete:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("tree");
    tree(&local, 300_000);
    let obscured = check(&run("rclone", &["obscure", &tokens[0]], &[]), "obscure");
    let port = server.sftp.unwrap().port().to_string();
    // No `shell_type`: rclone asks for a shell once, is refused, and goes
    // on without remote hashes (`check` compares sizes, or bytes with
    // `--download`).
    let env = [
        ("RCLONE_CONFIG", "/nonexistent"),
        ("RCLONE_CONFIG_FERRY_TYPE", "sftp"),
        ("RCLONE_CONFIG_FERRY_HOST", "127.0.0.1"),
        ("RCLONE_CONFIG_FERRY_PORT", port.as_str()),
        ("RCLONE_CONFIG_FERRY_USER", "sync"),
        ("RCLONE_CONFIG_FERRY_PASS", obscured.trim()),
    ];
    let once = ["--retries", "1", "--low-level-retries", "1"];
    let rclone = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(once);
        run("rclone", &all, &env)
    };
    let local_str = local.display().to_string();
    // rclone's default writes a file from several goroutines at once; the
    // last packet of such a file carries more bytes than its WRITE's data
    // length says (pkg/sftp): they are skipped, as OpenSSH's server does.
    check(&rclone(&["copy", &local_str, "ferry:up"]), "copy");
    assert_same_tree(&local, &server.path("up"));
    check(
        &rclone(&["check", "--download", &local_str, "ferry:up"]),
        "check",
    );
    // The same bytes over HTTP.
    let got = http::exchange(
        server.http.unwrap(),
        "GET",
        "/up/a/b/big.bin",
        &bearer(&tokens[0]),
        b"",
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, pattern(300_000, 5));
    // A change and a removal, synced up; then the whole tree back.
    std::fs::write(local.join("c/three.txt"), b"three, changed\n").unwrap();
    std::fs::remove_file(local.join("a/one.txt")).unwrap();
    check(&rclone(&["sync", &local_str, "ferry:up"]), "sync");
    assert_same_tree(&local, &server.path("up"));
    let back = here.path().join("back");
    check(
        &rclone(&["sync", "ferry:up", &back.display().to_string()]),
        "sync back",
    );
    assert_same_tree(&local, &back);
}

/// The header lines of an HTTP request that carries `token`.
fn bearer(token: &str) -> String {
    format!("Host: localhost\r\n{}", http::bearer(token))
}

#[test]
fn restic_backs_up_checks_and_restores_over_sftp() {
    if !have_openssh() || !have("restic", &["version"], "apt-get install restic") {
        return;
    }
    let server = TestServer::start_with(listen_sftp);
    let login = Login::open(server.sftp.unwrap());
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("tree");
    tree(&local, 300_000);
    let command = format!("sftp.command={}", login.sftp_command_line());
    let repo = "sftp:tester@127.0.0.1:/backups";
    let env = [("RESTIC_PASSWORD", "not a secret")];
    let restic = |args: &[&str]| {
        let mut all = vec!["-r", repo, "-o", &command, "--no-cache"];
        all.extend(args);
        run("restic", &all, &env)
    };
    // restic writes its key, config and packs with O_CREAT|O_EXCL.
    check(&restic(&["init"]), "init");
    check(&restic(&["backup", &local.display().to_string()]), "backup");
    check(&restic(&["check", "--read-data"]), "check");
    let restored = here.path().join("restored");
    let target = restored.display().to_string();
    check(
        &restic(&["restore", "latest", "--target", &target]),
        "restore",
    );
    assert_same_tree(&local, &restored.join(local.strip_prefix("/").unwrap()));
}

/// paramiko: a 5,000-entry folder listed with its attributes, a file of a
/// few MB written with pipelined writes, read back with prefetching.
const PARAMIKO: &str = r#"
import sys, paramiko
port, password, local = int(sys.argv[1]), sys.argv[2], sys.argv[3]
transport = paramiko.Transport(("127.0.0.1", port))
transport.banner_timeout = transport.auth_timeout = 20
transport.connect(username="tester", password=password)
sftp = paramiko.SFTPClient.from_transport(transport)
sftp.get_channel().settimeout(20)
entries = sftp.listdir_attr("/many")
print(len(entries), sum(1 for e in entries if e.st_size == 0))
data = open(local, "rb").read()
with sftp.open("/up/pipelined.bin", "wb") as f:
    f.set_pipelined(True)
    for at in range(0, len(data), 32768):
        f.write(data[at:at + 32768])
with sftp.open("/up/pipelined.bin", "rb") as f:
    f.prefetch()
    print(f.read() == data)
transport.close()
"#;

#[test]
fn paramiko_lists_5000_entries_and_pipelines_writes_and_reads() {
    if !python_has("paramiko", "pip install paramiko") {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("script", &["read:/", "write:/up/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    let many = server.path("many");
    std::fs::create_dir_all(&many).unwrap();
    for n in 0..5000 {
        std::fs::write(many.join(format!("f{n:05}")), b"").unwrap();
    }
    let here = tempfile::tempdir().unwrap();
    let data = pattern(3 * 1024 * 1024 + 5, 9);
    let local = here.path().join("data.bin");
    std::fs::write(&local, &data).unwrap();
    let port = server.sftp.unwrap().port().to_string();
    let args: [&std::ffi::OsStr; 3] = [port.as_ref(), tokens[0].as_ref(), local.as_os_str()];
    let printed = python(PARAMIKO, &args);
    assert_eq!(printed, "5000 5000\nTrue\n");
    assert_eq!(
        std::fs::read(server.path("up/pipelined.bin")).unwrap(),
        data
    );
}

#[test]
fn an_sftp_put_is_http_get_byte_equal_and_an_http_put_is_sftp_get() {
    if !have_openssh() {
        return;
    }
    let server = TestServer::start_with(|config| {
        listen_sftp(config);
        listen_http(config);
    });
    let here = tempfile::tempdir().unwrap();
    let up = pattern(1024 * 1024 + 3, 21);
    std::fs::write(here.path().join("up.bin"), &up).unwrap();
    let login = Login::open(server.sftp.unwrap());
    let output = login.sftp_batch(&format!("put {}/up.bin up.bin\n", here.path().display()));
    assert!(output.status.success(), "{}", said(&output));
    let got = http::exchange(
        server.http.unwrap(),
        "GET",
        "/up.bin",
        "Host: localhost\r\n",
        b"",
    );
    assert_eq!(got.status, 200);
    assert!(
        got.body == up,
        "the bytes HTTP serves are the ones SFTP put"
    );

    let down = pattern(700_001, 22);
    let put = http::exchange(
        server.http.unwrap(),
        "PUT",
        "/down.bin",
        "Host: localhost\r\n",
        &down,
    );
    assert!(put.status < 300, "{put:?}");
    let output = login.sftp_batch(&format!(
        "get down.bin {}/down.bin\n",
        here.path().display()
    ));
    assert!(output.status.success(), "{}", said(&output));
    assert!(std::fs::read(here.path().join("down.bin")).unwrap() == down);
}
