//! OpenSSH's clients against ferry's SFTP listener.

use std::process::Command;

use crate::support::sftp::{Login, have_openssh, said};
use crate::support::{TestServer, listen_sftp, tokens};

fn sftp_server() -> TestServer {
    TestServer::start_with(listen_sftp)
}

#[test]
fn an_open_server_serves_files_and_folders_to_sftp() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["hello.txt", "docs/a.txt"]);
    let got = tempfile::tempdir().unwrap();
    let login = Login::open(server.sftp.unwrap());
    let commands = format!(
        "pwd\nget hello.txt {0}/hello.txt\ncd docs\npwd\nget a.txt {0}/a.txt\nbye\n",
        got.path().display()
    );
    let output = login.sftp_batch(&commands);
    assert!(output.status.success(), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Remote working directory: /\n"), "{stdout}");
    assert!(
        stdout.contains("Remote working directory: /docs\n"),
        "{stdout}"
    );
    for name in ["hello.txt", "a.txt"] {
        let local = std::fs::read(got.path().join(name)).unwrap();
        let stored = if name == "a.txt" { "docs/a.txt" } else { name };
        assert_eq!(local, std::fs::read(server.path(stored)).unwrap(), "{name}");
    }
    // Not there: a clean refusal, and the batch stops there.
    let output = login.sftp_batch("cd missing\n");
    assert!(!output.status.success(), "{}", said(&output));
    let output = login.sftp_batch(&format!("get missing.txt {}/m\n", got.path().display()));
    assert!(!output.status.success(), "{}", said(&output));
    assert!(!got.path().join("m").exists());
}

#[test]
fn a_token_is_the_password_and_its_grants_hold() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("docs-reader", &["read:/docs/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    server.write_files(&["secret.txt", "docs/a.txt"]);
    let addr = server.sftp.unwrap();
    let got = tempfile::tempdir().unwrap();
    let get = |login: &Login, name: &str| {
        login.sftp(&format!("get {name} {}/\nbye\n", got.path().display()))
    };

    let wrong = Login::with_password(addr, "not-a-token");
    let output = get(&wrong, "docs/a.txt");
    assert!(!output.status.success(), "{}", said(&output));
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );

    let reader = Login::with_password(addr, &tokens[0]);
    let output = get(&reader, "docs/a.txt");
    assert!(output.status.success(), "{}", said(&output));
    assert!(got.path().join("a.txt").exists(), "{}", said(&output));
    // Outside its grants: refused as if not there (a name out of reach is
    // never confirmed), and nothing fetched.
    let output = get(&reader, "secret.txt");
    assert!(said(&output).contains("not found"), "{}", said(&output));
    assert!(!got.path().join("secret.txt").exists());
}

#[test]
fn scp_downloads_through_sftp() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["report.csv"]);
    let got = tempfile::tempdir().unwrap();
    let local = got.path().join("report.csv");
    let output = Login::open(server.sftp.unwrap()).scp_get(&[], "report.csv", &local);
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(
        std::fs::read(&local).unwrap(),
        std::fs::read(server.path("report.csv")).unwrap()
    );
}

#[test]
fn scp_uploads_through_sftp() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["old.csv"]);
    let here = tempfile::tempdir().unwrap();
    let data = crate::support::pattern(200_003, 3);
    let local = here.path().join("up.csv");
    std::fs::write(&local, &data).unwrap();
    let login = Login::open(server.sftp.unwrap());
    for remote in ["new.csv", "old.csv"] {
        // scp (OpenSSH 9) writes in place, as legacy scp did: OPEN
        // WRITE|CREAT without TRUNC, then its size set at the end.
        let output = login.scp_put(&[], &local, remote);
        assert!(output.status.success(), "{}", said(&output));
        assert_eq!(std::fs::read(server.path(remote)).unwrap(), data);
    }
}

#[test]
fn a_shell_or_command_is_refused_with_a_message() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["keep.txt"]);
    let login = Login::open(server.sftp.unwrap());
    for args in [&["rm", "keep.txt"][..], &["-T"][..]] {
        let output = login.ssh(args);
        assert_eq!(output.status.code(), Some(1), "{}", said(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("ferry serves SFTP only"), "{stderr}");
    }
    assert!(server.path("keep.txt").exists());
}

#[test]
fn put_stores_a_file_whole_and_replaces_one_atomically() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let local = tempfile::tempdir().unwrap();
    let data = crate::support::pattern(3 * 1024 * 1024 + 7, 80);
    std::fs::write(local.path().join("data.bin"), &data).unwrap();
    std::fs::write(local.path().join("empty"), b"").unwrap();
    let login = Login::open(server.sftp.unwrap());
    let commands = format!(
        "put {0}/data.bin data.bin\nput {0}/data.bin data.bin\nput {0}/empty photos/empty\nbye\n",
        local.path().display()
    );
    let output = login.sftp_batch(&commands);
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(std::fs::read(server.path("data.bin")).unwrap(), data);
    assert_eq!(std::fs::read(server.path("photos/empty")).unwrap(), b"");
    // No temp file is left beside them.
    assert!(crate::support::temp_files(server.root.path()).is_empty());
}

#[test]
fn writes_need_the_write_grant_and_stay_within_the_quota() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] =
        &[("reader", &["read:/"]), ("writer", &["read:/", "write:/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], |config| {
        listen_sftp(config);
        tokens::set_quota(config, 1, "100000");
    });
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("small"), b"small").unwrap();
    std::fs::write(
        local.path().join("big"),
        crate::support::pattern(200_000, 1),
    )
    .unwrap();
    let addr = server.sftp.unwrap();
    let put = |token: &str, file: &str| {
        let login = Login::with_password(addr, token);
        login.sftp(&format!(
            "put {}/{file} {file}\nbye\n",
            local.path().display()
        ))
    };
    let output = put(&tokens[0], "small");
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );
    assert!(!server.path("small").exists());

    let output = put(&tokens[1], "small");
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(std::fs::read(server.path("small")).unwrap(), b"small");
    // Past the quota: refused as it arrives, and nothing stored.
    let output = put(&tokens[1], "big");
    assert!(!server.path("big").exists(), "{}", said(&output));
    assert!(crate::support::temp_files(server.root.path()).is_empty());
}

#[test]
fn the_host_key_is_made_once_kept_and_shown_as_ssh_keygen_shows_it() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let key = server.path(".ferry-ssh/ssh_host_ed25519_key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let keygen = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&key)
        .output()
        .unwrap();
    let keygen = String::from_utf8_lossy(&keygen.stdout).into_owned();
    let ours = ferry::ssh::HostKey::load(&key).unwrap().fingerprint;
    assert!(keygen.contains(&ours), "{keygen} vs {ours}");
    // The key the server proves itself with is that one.
    let port = server.sftp.unwrap().port().to_string();
    let scanned = Command::new("ssh-keyscan")
        .args(["-p", &port, "-t", "ed25519", "127.0.0.1"])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&scanned.stdout);
    let public = ssh_key_line_fingerprint(&line);
    assert_eq!(public, ours, "{line}");
}

/// The fingerprint of the key on an `ssh-keyscan` line, as `ssh-keygen
/// -lf -` says it.
fn ssh_key_line_fingerprint(line: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("ssh-keygen")
        .args(["-lf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn folders_are_listed_a_page_at_a_time_and_only_what_grants_show() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[("docs-reader", &["read:/docs/"])];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    // Three pages of 400 (`sftp/listing.rs`), and a file beside them.
    let names: Vec<String> = (0..1000).map(|n| format!("docs/n{n:04}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    server.write_files(&names);
    server.write_files(&["secret.txt"]);
    let login = Login::with_password(server.sftp.unwrap(), &tokens[0]);

    let output = login.sftp("ls -1 /docs\nbye\n");
    assert!(output.status.success(), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("/docs/")).collect();
    let expected: Vec<String> = (0..1000).map(|n| format!("/docs/n{n:04}")).collect();
    assert_eq!(listed, expected);

    // The root shows the folder the token may read in, and nothing else.
    let output = login.sftp("ls -1 /\nbye\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l.trim() == "/docs"), "{stdout}");
    assert!(!stdout.contains("secret"), "{stdout}");
    // `ls -l` prints the long names of a folder's entries.
    let output = login.sftp("ls -l /docs\nbye\n");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.ends_with(" n0001"));
    assert!(
        line.is_some_and(|l| l.starts_with("-rw-r--r-- 1 ferry ferry")),
        "{stdout}"
    );
}

#[test]
fn folders_are_made_and_removed_and_names_moved_under_the_grants() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[
        ("writer", &["read:/", "write:/"]),
        ("owner", &["read:/", "write:/", "delete:/"]),
    ];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    server.write_files(&["keep.txt", "old.txt"]);
    let addr = server.sftp.unwrap();
    let writer = Login::with_password(addr, &tokens[0]);
    let owner = Login::with_password(addr, &tokens[1]);

    // Without `delete`, nothing goes.
    let output = writer.sftp("rm keep.txt\nrename old.txt new.txt\nbye\n");
    assert!(
        said(&output).contains("Permission denied"),
        "{}",
        said(&output)
    );
    assert!(server.path("keep.txt").exists() && server.path("old.txt").exists());

    let output = owner.sftp_batch(
        "mkdir made\nrename old.txt made/new.txt\nls -1 made\nrm keep.txt\nchmod 600 made/new.txt\nbye\n",
    );
    assert!(output.status.success(), "{}", said(&output));
    assert!(server.path("made").is_dir());
    assert!(server.path("made/new.txt").exists() && !server.path("old.txt").exists());
    assert!(!server.path("keep.txt").exists());
    // A folder with something in it stays; an empty one goes.
    let output = owner.sftp_batch("rmdir made\n");
    assert!(!output.status.success(), "{}", said(&output));
    let output = owner.sftp_batch("rm made/new.txt\nrmdir made\n");
    assert!(output.status.success(), "{}", said(&output));
    assert!(!server.path("made").exists());
    // A folder moved into itself is refused, and nothing is lost.
    server.write_files(&["tree/a.txt"]);
    let output = owner.sftp_batch("rename tree tree/inside\n");
    assert!(!output.status.success(), "{}", said(&output));
    assert!(server.path("tree/a.txt").exists());
}

#[test]
fn df_tells_the_room_and_limits_are_offered() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let output = Login::open(server.sftp.unwrap()).sftp_batch("df\n");
    assert!(output.status.success(), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = stdout
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|word| word.trim_end_matches('%').parse().ok())
        .collect();
    assert!(numbers.len() >= 4 && numbers[0] > 0, "{stdout}");
}

#[test]
fn nothing_out_of_reach_is_named_or_read() {
    if !have_openssh() {
        return;
    }
    let holders: &[(&str, &[&str])] = &[
        ("public", &["read:reports-public/"]),
        ("camera", &["write:drop/"]),
    ];
    let (server, tokens, _dir) = tokens::guarded_with(holders, &[], listen_sftp);
    server.write_files(&["reports", "reports-public/a.csv", "drop/other.jpg"]);
    let addr = server.sftp.unwrap();
    let got = tempfile::tempdir().unwrap();
    let fetch = |login: &Login, name: &str| {
        login.sftp(&format!("get {name} {}/\nbye\n", got.path().display()))
    };
    // A grant on `reports-public/` reaches no `reports`.
    let public = Login::with_password(addr, &tokens[0]);
    let output = fetch(&public, "/reports");
    assert!(!got.path().join("reports").exists(), "{}", said(&output));
    let output = public.sftp("ls -l /reports\nbye\n");
    assert!(!said(&output).contains("-rw-r--r--"), "{}", said(&output));
    // A writer learns nothing of the files beside its own.
    let camera = Login::with_password(addr, &tokens[1]);
    let output = camera.sftp("ls -l /drop/other.jpg\nbye\n");
    assert!(said(&output).contains("not found"), "{}", said(&output));
    // ferry's own files are never there, even on an open server.
    let server = sftp_server();
    let open = Login::open(server.sftp.unwrap());
    let output = fetch(&open, "/.ferry-ssh/ssh_host_ed25519_key");
    assert!(
        !got.path().join("ssh_host_ed25519_key").exists(),
        "{}",
        said(&output)
    );
    let output = open.sftp("ls /.ferry-ssh\nbye\n");
    assert!(said(&output).contains("not found"), "{}", said(&output));
}

/// `put -p` keeps the file's modification time (a SETSTAT after the
/// upload, which ferry honours for times), and `get -p` brings it back.
#[test]
fn put_and_get_with_p_keep_the_modification_time() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("old.txt");
    std::fs::write(&source, b"kept in time").unwrap();
    crate::support::set_mtime(&source, 1_600_000_000);
    let back = local.path().join("back.txt");
    let login = Login::open(server.sftp.unwrap());
    let commands = format!(
        "put -p {} old.txt\nget -p old.txt {}\nbye\n",
        source.display(),
        back.display()
    );
    let output = login.sftp_batch(&commands);
    assert!(output.status.success(), "{}", said(&output));
    assert_eq!(
        crate::support::mtime_secs(&server.path("old.txt")),
        1_600_000_000
    );
    assert_eq!(crate::support::mtime_secs(&back), 1_600_000_000);
    assert_eq!(std::fs::read(&back).unwrap(), b"kept in time");
}

/// Every upload takes and lets go of its session's lock several times (at
/// its open, each write, its close). A lock let go by closing its
/// descriptor alone stayed held, for a moment, by every child the
/// server's process was spawning (a hook; in tests, other tests' clients),
/// and the upload's next step was refused as "in use by another node"
/// (`storage/posix/flock.rs`): puts, one after another, while this process
/// spawns children without pause.
#[test]
fn puts_hold_while_the_servers_process_spawns_children() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("one.bin");
    std::fs::write(&file, vec![7u8; 200_000]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = Command::new("true").status();
                }
            })
        })
        .collect();
    let names: Vec<String> = (0..60).map(|i| format!("f{i}.bin")).collect();
    let commands: String = names
        .iter()
        .map(|name| format!("put {} {name}\n", file.display()))
        .collect();
    let output = Login::open(server.sftp.unwrap()).sftp_batch(&commands);
    stop.store(true, Ordering::Relaxed);
    for spawner in spawners {
        spawner.join().unwrap();
    }
    assert!(output.status.success(), "{}", said(&output));
    for name in &names {
        let stored = std::fs::read(server.path(name)).unwrap();
        assert_eq!(stored.len(), 200_000, "{name}");
    }
}

/// `ssh -s sftp` exits with the session's exit status: 0 where the
/// client ended the session (its EOF), not 0 where the server did, here
/// by shutting down while the client waits (OpenSSH's sshd, stopped,
/// sends none either: the client says the connection closed).
#[test]
fn only_a_session_the_client_ends_exits_0() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["kept.txt"]);
    let login = Login::open(server.sftp.unwrap());
    let mut ended = login.sftp_raw();
    assert_eq!(ended.stat("/kept.txt"), 105);
    let output = ended.end(true);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));

    let mut cut = login.sftp_raw();
    assert_eq!(cut.stat("/kept.txt"), 105);
    server.stop().unwrap();
    let output = cut.end(false);
    assert_eq!(output.status.code(), Some(255), "{}", said(&output));
}

/// A session the idle timeout cuts gets no exit status either: the
/// connection closes, and `ssh -s sftp` exits 255 as when sshd's
/// `ClientAliveCountMax` gives up on a client.
#[test]
fn a_session_cut_for_idleness_exits_255() {
    if !have_openssh() {
        return;
    }
    let server = TestServer::start_with(|c| {
        listen_sftp(c);
        // Resting between requests, a session has its own idle time;
        // long enough that a loaded machine logs in and asks within it.
        c.ssh_idle_timeout = std::time::Duration::from_millis(1500);
    });
    server.write_files(&["kept.txt"]);
    let login = Login::open(server.sftp.unwrap());
    let mut idle = login.sftp_raw();
    assert_eq!(idle.stat("/kept.txt"), 105);
    let output = idle.end(false);
    assert_eq!(output.status.code(), Some(255), "{}", said(&output));
}
