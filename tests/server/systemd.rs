//! Service integration as systemd drives it, without systemd: readiness and
//! stopping notifications on `$NOTIFY_SOCKET` (a path or an abstract name),
//! and listeners passed as descriptors 3.. (`$LISTEN_FDS`), served with one
//! worker or several.

use crate::support;

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::process::Signal;
use support::process::{Process, serve_args};
use support::{PATIENCE, Raw};

/// Waits for the next notification, at most [`PATIENCE`].
fn next_notification(socket: &UnixDatagram) -> String {
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn notified_ready_then_stopping(socket: &UnixDatagram, notify_socket: &str) {
    let root = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command.env("NOTIFY_SOCKET", notify_socket);
    let mut server = Process::start_with(command, root.path(), &[]);
    let ready = next_notification(socket);
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(
        ready.contains(&format!("STATUS=serving on {}", server.addr)),
        "{ready:?}"
    );
    let mut raw = Raw::connect(server.addr);
    assert!(raw.line().starts_with("OK FERRY/1 "));
    server.signal(Signal::TERM);
    assert_eq!(next_notification(socket), "STOPPING=1");
    assert!(server.wait().success());
}

#[test]
fn readiness_and_stopping_are_notified_on_a_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    notified_ready_then_stopping(&socket, path.to_str().unwrap());
}

#[test]
fn readiness_is_notified_on_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("ferry-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    notified_ready_then_stopping(&socket, &format!("@{name}"));
}

/// `ferry serve` started as systemd starts a socket-activated service: the
/// `listeners` as descriptors 3, 4, ... and `LISTEN_PID` naming the server
/// (a shell that sets it to its own pid and execs the server).
fn activated(listeners: &[&TcpListener], names: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "LISTEN_PID=$$ exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_ferry"),
        ])
        .env("LISTEN_FDS", listeners.len().to_string())
        .env("LISTEN_FDNAMES", names);
    // Copies above the descriptors they go to, so that a listener that is
    // already 3 or 4 is still moved (dup2 onto itself would keep its
    // close-on-exec flag).
    let copies: Vec<OwnedFd> = listeners
        .iter()
        .map(|l| rustix::io::fcntl_dupfd_cloexec(l, 64).unwrap())
        .collect();
    let raw: Vec<i32> = copies.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: dup2 only, which is async-signal-safe; `copies` outlives
    // the spawn (the closure owns it).
    unsafe {
        command.pre_exec(move || {
            let _keep = &copies;
            for (index, fd) in raw.iter().enumerate() {
                let target = 3 + i32::try_from(index).unwrap_or(0);
                let mut target = std::mem::ManuallyDrop::new(OwnedFd::from_raw_fd(target));
                let source = std::os::fd::BorrowedFd::borrow_raw(*fd);
                rustix::io::dup2(source, &mut target)?;
            }
            Ok(())
        });
    }
    command
}

fn serves_the_passed_sockets(workers: &str) {
    let root = tempfile::tempdir().unwrap();
    let ferry = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ferry_addr, http_addr) = (ferry.local_addr().unwrap(), http.local_addr().unwrap());
    // Named out of order: the names say which is which.
    let command = activated(&[&http, &ferry], "http:ferry");
    let server = Process::start_with(command, root.path(), &["--workers", workers]);
    drop((ferry, http)); // the server holds its own copies
    assert_eq!(server.addr, ferry_addr);
    server.wait_for_log(&format!("(HTTP on {http_addr})"));
    for _ in 0..8 {
        let mut client = ferry::Client::connect(ferry_addr).unwrap();
        client.put_bytes("a.txt", b"activated").unwrap();
    }
    let mut raw = Raw::connect(http_addr);
    raw.send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(raw.line().trim_end(), "HTTP/1.1 200 OK");
}

#[test]
fn passed_sockets_are_served_by_one_worker() {
    serves_the_passed_sockets("1");
}

#[test]
fn passed_sockets_are_served_by_every_worker() {
    serves_the_passed_sockets("2");
}

#[test]
fn a_passed_socket_with_an_unknown_name_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = activated(&[&listener], "gopher");
    let output = serve_args(&mut command, root.path(), &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "socket activation: socket named \"gopher\" passed (name them ferry or http or s3 or ftp or sftp)"
        ),
        "{stderr}"
    );
}
