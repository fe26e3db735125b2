//! Where data connections are listened for: `--ftp-passive-ports`
//! (taken ports skipped, none free a `425`), `--ftp-public-address` (what
//! `PASV` names behind NAT), and the request deadline for a data
//! connection that never comes (`425`, and the control connection goes
//! on), which a transfer under way is not held to.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use crate::support::ftp::{ask, line, logged_in, logged_in_with, passive, transfer, transfer_at};

#[test]
fn passive_listeners_take_a_free_port_of_the_range() {
    // A port of our own, held: the range's one port is taken.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let (server, mut raw) = logged_in_with(|config| {
        config.ftp.passive_ports = Some(port..=port);
    });
    let taken = ask(&mut raw, "PASV");
    assert!(taken.starts_with("425 "), "{taken}");
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok");
    drop(held);
    let addr = passive(&mut raw);
    assert_eq!(addr.port(), port, "the range's port, free now");
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    let (bytes, _, ended) = transfer_at(&mut raw, addr, "RETR a.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"hello"[..], "226 done")
    );
    // Its one data connection came: the port is free again for the next.
    assert_eq!(passive(&mut raw).port(), port);
}

#[test]
fn pasv_names_the_public_address_and_epsv_the_port() {
    let public = Ipv4Addr::new(203, 0, 113, 7);
    let (server, mut raw) = logged_in_with(|config| {
        config.ftp.public_address = Some(public);
    });
    let addr = passive(&mut raw);
    assert_eq!(addr.ip(), public);
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    // What EPSV names is the port alone; the client keeps the address it
    // reached the server at.
    let answer = ask(&mut raw, "EPSV");
    let port: u16 = answer
        .strip_prefix("229 Entering Extended Passive Mode (|||")
        .and_then(|rest| rest.strip_suffix("|)"))
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{answer}"));
    let at = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (bytes, _, ended) = transfer_at(&mut raw, at, "RETR a.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"hello"[..], "226 done")
    );
    // After `EPSV ALL` (RFC 2428 §4) every other way to a data
    // connection is refused; EPSV itself goes on.
    assert!(ask(&mut raw, "EPSV ALL").starts_with("200 "));
    for other in ["PASV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"] {
        let refused = ask(&mut raw, other);
        assert!(refused.starts_with("503 "), "{other}: {refused}");
    }
    assert!(ask(&mut raw, "EPSV").starts_with("229 "));
}

/// A transfer refused before its data connection is used (a name ferry
/// does not take) leaves that connection; the next `PASV` or `EPSV` lets
/// it go and is answered itself (it was answered `426`, the old data
/// connection's end, and its own `229` was lost).
#[test]
fn a_new_pasv_lets_an_unused_data_connection_go_quietly() {
    let (server, mut raw) = logged_in();
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    for refused in ["RETR .ferry-x", "LIST .ferry-x/", "STOR .ferry-x"] {
        let addr = passive(&mut raw);
        let _data = std::net::TcpStream::connect(addr).unwrap();
        let answer = ask(&mut raw, refused);
        assert!(answer.starts_with("553 "), "{refused}: {answer}");
        let next = ask(&mut raw, "EPSV");
        assert!(next.starts_with("229 "), "after {refused}: {next}");
    }
    let (bytes, _, ended) = transfer(&mut raw, "RETR a.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"hello"[..], "226 done")
    );
    assert_eq!(ask(&mut raw, "NOOP"), "200 ok", "nothing more was said");
}

#[test]
fn a_data_connection_that_never_comes_is_refused_by_the_request_deadline() {
    let (server, mut raw) = logged_in_with(|config| {
        config.header_timeout = Duration::from_secs(1);
    });
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    let addr = passive(&mut raw);
    raw.send("RETR a.txt\r\n");
    let refused = line(&mut raw);
    assert_eq!(refused, "425 no data connection came in 1 s");
    assert_eq!(
        ask(&mut raw, "NOOP"),
        "200 ok",
        "the control connection goes on"
    );
    assert!(TcpStream::connect(addr).is_err(), "its listener is gone");
    let (bytes, _, ended) = transfer(&mut raw, "RETR a.txt");
    assert_eq!(
        (bytes.as_slice(), ended.as_str()),
        (&b"hello"[..], "226 done")
    );
}

#[test]
fn a_transfer_under_way_outlasts_the_request_deadline() {
    let (server, mut raw) = logged_in_with(|config| {
        config.header_timeout = Duration::from_secs(1);
    });
    let addr = passive(&mut raw);
    let mut data = TcpStream::connect(addr).unwrap();
    assert!(ask(&mut raw, "STOR slow.bin").starts_with("150 "));
    data.write_all(b"first half, ").unwrap();
    // A slow device: its next bytes come after the request deadline.
    std::thread::sleep(Duration::from_millis(1500));
    data.write_all(b"second half").unwrap();
    drop(data);
    assert_eq!(line(&mut raw), "226 done");
    let stored = std::fs::read(server.root.path().join("slow.bin")).unwrap();
    assert_eq!(stored, b"first half, second half");
}
