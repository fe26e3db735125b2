//! What a hostile or careless SFTP client tries, over real sockets: a
//! packet length no request needs, more connections from one address
//! than the cap, paths and symlinks out of the root, legacy `scp`, port
//! forwarding. (Wrong passwords and names outside grants: `openssh.rs`.)

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

use crate::support::sftp::{Login, have_openssh, said};
use crate::support::{PATIENCE, TestServer, listen_sftp};

fn sftp_server() -> TestServer {
    TestServer::start_with(listen_sftp)
}

#[test]
fn a_10_mb_packet_length_ends_its_session_while_another_is_served() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["kept.txt"]);
    let login = Login::open(server.sftp.unwrap());
    let mut other = login.sftp_raw();
    let mut hostile = login.sftp_raw();
    // A WRITE's length of 10 MB, and 64 KiB of it: the server must not
    // wait for the rest (nor keep it) before it ends the session. The
    // stream stays open: only the server can end it.
    let mut packet = (10u32 << 20).to_be_bytes().to_vec();
    packet.extend_from_slice(&[6, 0, 0, 0, 1]);
    packet.resize(64 * 1024, b'x');
    hostile.send(&packet);
    // Ended by the server (the channel closed; `end` fails the test if
    // `timeout` had to stop it), with exit status 1: a failure, as
    // OpenSSH's sftp-server's (11 there) is.
    let output = hostile.end(false);
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    // The other session is served on, before and after.
    assert_eq!(other.stat("/kept.txt"), 105);
    assert_eq!(other.stat("/kept.txt"), 105);
    let output = other.end(true);
    assert!(output.status.success(), "{}", said(&output));
}

/// A client that writes requests and never reads their answers gets no
/// further than the channel's window (1 MiB) past what the server has
/// served: the window re-opens as the server takes requests, not as they
/// arrive, so the server holds no more than that for it. And the server
/// reads on whatever it holds: once the client reads, the window it opens
/// for the answers comes behind all those requests (a server that stopped
/// reading at a limit of its own, as ferry's did at 256 KiB, never saw it
/// and the session hung).
#[test]
fn a_client_that_does_not_read_its_answers_is_held_to_the_window() {
    if !crate::support::tools::python_has("paramiko", "pip install paramiko==5.1.0") {
        return;
    }
    let server = sftp_server();
    std::fs::write(server.root.path().join("big.bin"), vec![7u8; 256 * 1024]).unwrap();
    let output = std::process::Command::new("timeout")
        .arg(PATIENCE.as_secs().to_string())
        .args(["python3", "-c", include_str!("window.py")])
        .arg(server.sftp.unwrap().port().to_string())
        .output()
        .unwrap();
    let said = crate::support::tools::check(&output, "window.py");
    let sent: usize = said
        .lines()
        .find_map(|line| line.strip_prefix("sent "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    const WINDOW: usize = 1 << 20;
    // Three READs and what the server read of the rest before its
    // answers filled its output (a few KB of requests) come on top.
    assert!(
        sent <= WINDOW + 64 * 1024,
        "{sent} bytes sent past a window of {WINDOW}"
    );
    assert!(sent >= WINDOW / 2, "the window was open: {sent}");
    assert!(said.contains("answers 1003"), "{said}");
}

/// The server's SSH identification line on `stream`, or `None` if it is
/// closed first.
fn identification(stream: &TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(n) if n > 0 => Some(line),
        _ => None,
    }
}

#[test]
fn the_301st_connection_from_one_address_is_refused_and_the_300_stay() {
    if !have_openssh() {
        return;
    }
    let server = TestServer::start_with(|config| {
        listen_sftp(config);
        config.max_connections_per_client = 300;
    });
    let addr = server.sftp.unwrap();
    server.write_files(&["kept.txt"]);
    let login = Login::open(addr);
    // One real session among them, and 299 that only say hello.
    let mut session = login.sftp_raw();
    let held: Vec<TcpStream> = (1..300)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            let line = identification(&stream);
            assert!(
                line.as_deref().is_some_and(|l| l.starts_with("SSH-2.0-")),
                "{line:?}"
            );
            stream
        })
        .collect();
    // The 301st is closed before a word of SSH.
    let mut over = TcpStream::connect(addr).unwrap();
    over.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut said_first = Vec::new();
    let _ = over.read_to_end(&mut said_first);
    assert!(
        said_first.is_empty(),
        "{}",
        String::from_utf8_lossy(&said_first)
    );
    let output = login.sftp_batch("pwd\n");
    assert!(!output.status.success(), "{}", said(&output));
    // Those admitted stay served.
    assert_eq!(session.stat("/kept.txt"), 105);
    let output = session.end(true);
    assert!(output.status.success(), "{}", said(&output));
    drop(held);
}

#[test]
fn paths_and_symlinks_out_of_the_root_are_never_followed() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"outside").unwrap();
    let link = |target: &std::path::Path, name: &str| {
        std::os::unix::fs::symlink(target, server.path(name)).unwrap();
    };
    link(outside.path(), "out-folder");
    link(&outside.path().join("secret.txt"), "out-file");
    server.write_files(&["inside.txt"]);
    let got = tempfile::tempdir().unwrap();
    let up = got.path().join("up.txt");
    std::fs::write(&up, b"up").unwrap();
    let login = Login::open(server.sftp.unwrap());
    let escape = server.root.path().parent().unwrap().join("escaped.txt");
    // Listings show neither link, and `/..` is the root.
    let output = login.sftp("ls -l /\nls /..\nbye\n");
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(!listed.contains("out-"), "{}", said(&output));
    assert!(listed.contains("/../inside.txt"), "{}", said(&output));
    let commands = format!(
        "ls out-folder\nget out-file {0}/\nget out-folder/secret.txt {0}/\n\
         get ../../../../etc/hostname {0}/\nget /etc/hostname {0}/\nget /../etc/hostname {0}/\n\
         put {1} out-folder/planted.txt\nmkdir out-folder/made\nrm out-folder/secret.txt\n\
         rename out-folder/secret.txt taken.txt\nrename inside.txt out-folder/moved.txt\n\
         rm out-file\nput {1} ../escaped.txt\nbye\n",
        got.path().display(),
        up.display()
    );
    let output = login.sftp(&commands);
    let text = said(&output);
    // Nothing was read through them...
    let fetched: Vec<_> = std::fs::read_dir(got.path()).unwrap().collect();
    assert_eq!(fetched.len(), 1, "only up.txt: {text}");
    // ...nor changed through them, nor outside the root.
    let outside_now: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(outside_now.len(), 1, "{text}");
    assert_eq!(
        std::fs::read(outside.path().join("secret.txt")).unwrap(),
        b"outside"
    );
    assert!(
        std::fs::symlink_metadata(server.path("out-file")).is_ok(),
        "{text}"
    );
    assert!(server.path("inside.txt").exists() && !server.path("taken.txt").exists());
    assert!(!escape.exists(), "{text}");
    // `..` above the root stays there: the upload landed inside.
    assert_eq!(std::fs::read(server.path("escaped.txt")).unwrap(), b"up");
}

#[test]
fn legacy_scp_and_port_forwarding_are_refused_and_change_nothing() {
    if !have_openssh() {
        return;
    }
    let server = sftp_server();
    server.write_files(&["keep.txt"]);
    let login = Login::open(server.sftp.unwrap());
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("up.txt");
    std::fs::write(&local, b"legacy").unwrap();
    // `scp -O` runs `scp -t` on the server: a command, refused.
    let output = login.scp_put(&["-O"], &local, "legacy.txt");
    assert!(!output.status.success(), "{}", said(&output));
    assert!(
        said(&output).contains("ferry serves SFTP only"),
        "{}",
        said(&output)
    );
    assert!(!server.path("legacy.txt").exists());
    let output = login.scp_get(&["-O"], "keep.txt", &here.path().join("got.txt"));
    assert!(!output.status.success(), "{}", said(&output));
    assert!(!here.path().join("got.txt").exists());
    // A forwarded port (`-W`: what `-L` opens per connection) and a
    // remote one (`-R`) are refused by the SSH layer.
    let target = server.addr.to_string();
    let output = login.ssh(&["-W", &target]);
    assert_eq!(output.status.code(), Some(255), "{}", said(&output));
    assert!(
        said(&output).contains("forwarding failed"),
        "{}",
        said(&output)
    );
    let output = login.ssh(&[
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-R",
        &format!("0:{target}"),
    ]);
    assert_eq!(output.status.code(), Some(255), "{}", said(&output));
    assert!(
        said(&output).contains("forwarding failed"),
        "{}",
        said(&output)
    );
    assert_eq!(std::fs::read(server.path("keep.txt")).unwrap(), b"keep.txt");
}
