//! Active mode (`PORT`, `EPRT`): off unless `--ftp-active`; then the
//! server connects to its client for the next transfer, to the control
//! connection's own address and ports from 1024 only (no FTP bounce,
//! RFC 2577).

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::support::ftp::{ask, line, logged_in, logged_in_with};

/// `PORT`'s argument for `addr` (IPv4).
fn port_arg(addr: std::net::SocketAddr) -> String {
    let std::net::IpAddr::V4(ip) = addr.ip() else {
        panic!("IPv4 only");
    };
    let [a, b, c, d] = ip.octets();
    format!(
        "{a},{b},{c},{d},{},{}",
        addr.port() >> 8,
        addr.port() & 0xff
    )
}

/// `FEAT`'s lines, without the first and the last.
fn features(raw: &mut crate::support::Raw) -> Vec<String> {
    raw.send("FEAT\r\n");
    let mut lines = vec![line(raw)];
    while !lines.last().unwrap().starts_with("211 ") {
        lines.push(line(raw));
    }
    lines[1..lines.len() - 1].to_vec()
}

#[test]
fn active_mode_is_off_unless_asked_for() {
    let (_server, mut raw) = logged_in();
    let refused = ask(&mut raw, "PORT 127,0,0,1,195,80");
    assert!(refused.starts_with("502 "), "{refused}");
    assert!(ask(&mut raw, "EPRT |1|127.0.0.1|50000|").starts_with("502 "));
    // FEAT lists EPSV, and EPRT only where it is served.
    let listed = features(&mut raw);
    assert!(listed.contains(&" EPSV".to_owned()), "{listed:?}");
    assert!(!listed.contains(&" EPRT".to_owned()), "{listed:?}");
    let (_server, mut raw) = logged_in_with(|config| config.ftp.active = true);
    assert!(features(&mut raw).contains(&" EPRT".to_owned()));
}

#[test]
fn with_ftp_active_the_server_connects_to_its_client() {
    let (server, mut raw) = logged_in_with(|config| config.ftp.active = true);
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = ask(&mut raw, &format!("PORT {}", port_arg(addr)));
    assert_eq!(answer, "200 the next transfer connects to you");
    raw.send("RETR a.txt\r\n");
    let (mut data, _) = listener.accept().unwrap();
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello");
    assert!(line(&mut raw).starts_with("150 "));
    assert_eq!(line(&mut raw), "226 done");

    // EPRT, an upload.
    let answer = ask(&mut raw, &format!("EPRT |1|127.0.0.1|{}|", addr.port()));
    assert!(answer.starts_with("200 "), "{answer}");
    raw.send("STOR up.txt\r\n");
    let (mut data, _) = listener.accept().unwrap();
    data.write_all(b"from the device").unwrap();
    drop(data);
    assert!(line(&mut raw).starts_with("150 "));
    assert_eq!(line(&mut raw), "226 done");
    let stored = std::fs::read(server.root.path().join("up.txt")).unwrap();
    assert_eq!(stored, b"from the device");
}

#[test]
fn no_ftp_bounce_to_another_host_or_a_services_port() {
    let (_server, mut raw) = logged_in_with(|config| config.ftp.active = true);
    for bounce in [
        "PORT 127,0,0,2,195,80",
        "PORT 10,0,0,9,0,25",
        "PORT 127,0,0,1,0,25",
        "EPRT |1|127.0.0.2|50000|",
        "EPRT |1|127.0.0.1|80|",
        "EPRT |2|::1|50000|",
    ] {
        let refused = ask(&mut raw, bounce);
        assert!(refused.starts_with("501 "), "{bounce}: {refused}");
    }
    assert!(ask(&mut raw, "PORT 1,2,3").starts_with("501 "));
    // Nothing was set: a transfer still needs PASV.
    assert!(ask(&mut raw, "RETR a.txt").starts_with("425 "));
}
