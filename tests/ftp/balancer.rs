//! FTP behind a load balancer (`--trusted-proxy`, docs/scaling.md): the
//! balancer begins the control connection and each passive data
//! connection with a PROXY header, and a data connection counts as the
//! control connection's client's when its header names that client; one
//! naming another client is refused (`425`, nothing stored), as one from
//! another address is without a balancer.
//!
//! The "balancer" connects from 127.0.0.2, the only trusted address.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use crate::support::ftp::{ask, line, log_in, passive};
use crate::support::{PATIENCE, Raw, TestServer, listen_ftp};

const BALANCER: &str = "127.0.0.2";
const CLIENT: &str = "203.0.113.9";

fn balancer() -> IpAddr {
    BALANCER.parse().unwrap()
}

/// A PROXY v1 header naming `client` (port `port`).
fn header(client: &str, port: u16) -> String {
    format!("PROXY TCP4 {client} 127.0.0.1 {port} 21\r\n")
}

/// A server with FTP that trusts the balancer, and a control connection
/// through it for [`CLIENT`], logged in.
fn through_balancer() -> (TestServer, Raw) {
    let server = TestServer::start_with(|config| {
        listen_ftp(config);
        config.trusted_proxies = vec![BALANCER.parse().unwrap()];
    });
    let mut control = Raw::connect_from(server.ftp.unwrap(), balancer());
    control.send(header(CLIENT, 40000));
    let greeting = line(&mut control);
    assert!(greeting.starts_with("220 "), "{greeting}");
    log_in(&mut control, "me", "x");
    (server, control)
}

/// A data connection from the balancer to `addr`, its header naming
/// `client`.
fn data_via_balancer(addr: SocketAddr, client: &str) -> TcpStream {
    let mut data = Raw::connect_from(addr, balancer()).stream;
    data.set_read_timeout(Some(PATIENCE)).unwrap();
    data.write_all(header(client, 40001).as_bytes()).unwrap();
    data
}

#[test]
fn passive_transfers_through_the_balancer_are_the_clients() {
    let (server, mut control) = through_balancer();
    let addr = passive(&mut control);
    let mut data = data_via_balancer(addr, CLIENT);
    assert!(ask(&mut control, "STOR up.bin").starts_with("150 "));
    data.write_all(b"through the balancer").unwrap();
    drop(data);
    let done = line(&mut control);
    assert!(done.starts_with("226 "), "{done}");
    let stored = std::fs::read(server.root.path().join("up.bin")).unwrap();
    assert_eq!(stored, b"through the balancer");

    // The transfer asked before its data connection's header arrived
    // waits for it.
    let addr = passive(&mut control);
    control.send("RETR up.bin\r\n");
    let mut data = data_via_balancer(addr, CLIENT);
    assert!(line(&mut control).starts_with("150 "));
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"through the balancer");
    assert!(line(&mut control).starts_with("226 "));
}

#[test]
fn a_data_connection_naming_another_client_is_refused() {
    let (server, mut control) = through_balancer();
    let addr = passive(&mut control);
    // Asked first: it waits for its data connection, which is refused.
    control.send("STOR stolen.bin\r\n");
    let mut data = data_via_balancer(addr, "198.51.100.7");
    // Written in vain: the server closes it once the header is read.
    let _ = data.write_all(b"not yours");
    // Whichever came first to the server, the STOR or the header.
    let refused = line(&mut control);
    assert!(
        refused.starts_with("425 the data connection came from another address"),
        "{refused}"
    );
    assert!(!server.root.path().join("stolen.bin").exists());
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    assert!(rest.is_empty());
    // The control connection goes on; the refused connection's listener
    // is gone, as after any data connection.
    assert_eq!(ask(&mut control, "NOOP"), "200 ok");
    let addr = passive(&mut control);
    let mut data = data_via_balancer(addr, "198.51.100.7");
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    let late = ask(&mut control, "STOR stolen.bin");
    assert_eq!(
        late,
        "425 the data connection came from another address: PASV again"
    );
    assert!(!server.root.path().join("stolen.bin").exists());
}
