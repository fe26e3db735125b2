//! FTPS (RFC 4217) on the wire: `AUTH TLS` turns the control connection
//! to TLS, `PROT P` its data connections, each ended with `close_notify`
//! (clients check it); plaintext sent behind `AUTH TLS` is not taken as
//! the client's; `--ftp-require-tls` refuses a login and a transfer
//! without TLS; a server without a certificate offers none; a data
//! connection must resume its control connection's TLS session
//! (`--ftp-tls-reuse-optional` aside).
#![cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use crate::support::ftp::{Lines, connect_lines};
use support::tls::{client_config, self_signed, tls_with};
use support::{TestServer, listen_ftp, pattern};

type Secure = Lines<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;
/// A client's TLS set-up: one per login, shared by its data connections.
type Client = Arc<rustls::ClientConfig>;

/// A server with a certificate (and `adjust`ed), and the certificate's
/// folder.
fn with_tls(adjust: impl FnOnce(&mut ferry::config::Config)) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let files = self_signed(dir.path(), "server");
    let server = TestServer::start_with(|config| {
        listen_ftp(config);
        config.tls = Some(files);
        adjust(config);
    });
    (server, dir)
}

/// A client's TLS set-up trusting the test certificate, on TLS 1.3 and
/// 1.2 (a data connection resumes a TLS 1.3 session with a ticket, each
/// good for one: the control connection gets two).
fn client(certs: &tempfile::TempDir) -> Client {
    client_config(
        &certs.path().join("server-cert.pem"),
        rustls::DEFAULT_VERSIONS,
    )
}

/// A client's TLS set-up on TLS 1.2 only, whose session every data
/// connection of a login may resume.
fn client_tls12(certs: &tempfile::TempDir) -> Client {
    client_config(
        &certs.path().join("server-cert.pem"),
        &[&rustls::version::TLS12],
    )
}

/// `AUTH TLS` on a new control connection, and the handshake: `client`'s
/// session, which its data connections resume.
fn secured(server: &TestServer, client: &Client) -> Secure {
    let mut plain = connect_lines(server);
    assert_eq!(plain.ask("AUTH TLS"), "234 AUTH TLS ok: TLS begins");
    Lines {
        stream: tls_with(plain.stream, client),
    }
}

/// `secured`, logged in with `PROT P`.
fn logged_in(server: &TestServer, client: &Client) -> Secure {
    let mut control = secured(server, client);
    assert_eq!(control.ask("USER me"), "331 any password");
    assert_eq!(control.ask("PASS x"), "230 logged in");
    assert_eq!(control.ask("PBSZ 0"), "200 PBSZ=0");
    assert_eq!(control.ask("PROT P"), "200 data connections go over TLS");
    control
}

/// A data connection to `addr`, under TLS on `client`'s terms.
fn data_over_tls(
    addr: std::net::SocketAddr,
    client: &Client,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(support::PATIENCE)).unwrap();
    tls_with(tcp, client)
}

/// `RETR name` over a data connection on `client`'s TLS: the file's
/// bytes, the transfer answered `226`.
fn retr_over_tls(control: &mut Secure, client: &Client, name: &str) -> Vec<u8> {
    let mut data = data_over_tls(control.passive(), client);
    assert!(control.ask(&format!("RETR {name}")).starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(control.line(), "226 done");
    got
}

/// A `PROT P` data connection whose handshake is through waits for its
/// login's transfer, not as a bare connection: at `--max-connections` a
/// newcomer is refused rather than served in its place, and the transfer
/// goes on it.
#[test]
fn a_data_connection_waiting_for_its_transfer_keeps_its_place() {
    let (server, certs) = with_tls(|config| {
        config.max_connections = 2;
        config.bare_grace = std::time::Duration::ZERO;
        config.workers = 1;
    });
    std::fs::write(server.root.path().join("kept.txt"), b"kept").unwrap();
    let client = client(&certs);
    let mut control = logged_in(&server, &client);
    let mut data = data_over_tls(control.passive(), &client);
    data.conn.complete_io(&mut data.sock).unwrap();
    // Read after the handshake's last bytes (on one loop, in order).
    assert!(control.ask("NOOP").starts_with("200 "));
    let newcomer = TcpStream::connect(server.ftp.unwrap()).unwrap();
    newcomer.set_read_timeout(Some(support::PATIENCE)).unwrap();
    let mut newcomer = Lines { stream: newcomer };
    assert!(newcomer.line().starts_with("421 "));
    assert!(control.ask("RETR kept.txt").starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"kept");
    assert_eq!(control.line(), "226 done");
}

#[test]
fn auth_tls_secures_the_login_and_prot_p_the_transfers() {
    let (server, certs) = with_tls(|_| {});
    let mut plain = connect_lines(&server);
    let feat = {
        plain.stream.write_all(b"FEAT\r\n").unwrap();
        let mut lines = vec![plain.line()];
        while !lines.last().unwrap().starts_with("211 ") {
            lines.push(plain.line());
        }
        lines
    };
    assert!(feat.iter().any(|l| l == " AUTH TLS"), "{feat:?}");
    drop(plain);
    // Three transfers resume the control connection's session: TLS 1.2's
    // session id, good for any number (TLS 1.3: the next test).
    let client = client_tls12(&certs);
    let mut control = logged_in(&server, &client);
    let body = pattern(500_000, 4);
    std::fs::write(server.root.path().join("big.bin"), &body).unwrap();

    // A download: the file, then close_notify (read_to_end fails on a
    // TLS stream cut without it).
    let mut data = data_over_tls(control.passive(), &client);
    assert!(control.ask("RETR big.bin").starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got)
        .expect("the whole file and close_notify");
    assert!(got == body, "the file whole");
    assert_eq!(control.line(), "226 done");

    // An upload ended by the client's close_notify, answered by the
    // server's (Python's ftplib waits for it).
    let mut data = data_over_tls(control.passive(), &client);
    assert!(control.ask("STOR up.bin").starts_with("150 "));
    data.write_all(&body[..300_000]).unwrap();
    data.conn.send_close_notify();
    data.flush().unwrap();
    let mut rest = Vec::new();
    data.read_to_end(&mut rest)
        .expect("the server's close_notify");
    assert_eq!(control.line(), "226 done");
    let stored = std::fs::read(server.root.path().join("up.bin")).unwrap();
    assert!(stored == body[..300_000], "stored whole");

    // A listing, short enough to be queued before the handshake ends.
    let mut data = data_over_tls(control.passive(), &client);
    assert!(control.ask("NLST").starts_with("150 "));
    let mut names = String::new();
    data.read_to_string(&mut names).unwrap();
    assert_eq!(names, "big.bin\r\nup.bin\r\n");
    assert_eq!(control.line(), "226 done");

    // A listing on the control connection itself (STAT), over TLS,
    // bigger than one TLS record.
    for i in 0..500 {
        std::fs::write(server.root.path().join(format!("n{i:03}")), b"").unwrap();
    }
    assert_eq!(control.ask("STAT /"), "213-Status of \"/\":");
    let lines: Vec<String> = (0..502).map(|_| control.line()).collect();
    assert!(lines[0].ends_with(" big.bin") && lines[501].ends_with(" up.bin"));
    assert_eq!(control.line(), "213 End of status");
    assert_eq!(control.ask("QUIT"), "221 goodbye");
}

#[test]
fn plaintext_behind_auth_tls_is_not_taken_as_the_clients() {
    let (server, _certs) = with_tls(|_| {});
    let mut plain = connect_lines(&server);
    // An attacker's command rides behind the client's AUTH TLS.
    plain
        .stream
        .write_all(b"AUTH TLS\r\nDELE precious\r\n")
        .unwrap();
    std::fs::write(server.root.path().join("precious"), b"keep").unwrap();
    assert_eq!(plain.line(), "234 AUTH TLS ok: TLS begins");
    let mut rest = Vec::new();
    let _ = plain.stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed, nothing more said");
    assert!(server.root.path().join("precious").exists());
}

#[test]
fn require_tls_refuses_a_login_and_a_transfer_without_it() {
    let (server, certs) = with_tls(|config| config.ftp.require_tls = true);
    let mut plain = connect_lines(&server);
    let refused = plain.ask("USER me");
    assert!(
        refused.starts_with("530 ") && refused.contains("TLS"),
        "{refused}"
    );
    assert!(plain.ask("PASS x").starts_with("530 "));
    drop(plain);
    let client = client(&certs);
    let mut control = secured(&server, &client);
    assert_eq!(control.ask("USER me"), "331 any password");
    assert_eq!(control.ask("PASS x"), "230 logged in");
    std::fs::write(server.root.path().join("a.txt"), b"hello").unwrap();
    let _listening = control.passive();
    let refused = control.ask("RETR a.txt");
    assert!(refused.starts_with("521 "), "{refused}");
    assert!(control.ask("PROT C").starts_with("534 "));
    assert_eq!(control.ask("PROT P"), "200 data connections go over TLS");
    assert_eq!(retr_over_tls(&mut control, &client, "a.txt"), b"hello");
}

#[test]
fn without_a_certificate_no_tls_is_offered() {
    let server = TestServer::start_with(listen_ftp);
    let mut plain = connect_lines(&server);
    plain.stream.write_all(b"FEAT\r\n").unwrap();
    let mut line = plain.line();
    while !line.starts_with("211 ") {
        assert!(!line.contains("AUTH"), "{line}");
        line = plain.line();
    }
    assert!(plain.ask("AUTH TLS").starts_with("534 "));
    assert!(plain.ask("PBSZ 0").starts_with("503 "));
    assert!(plain.ask("PROT P").starts_with("503 "));
    assert!(plain.ask("AUTH KERBEROS").starts_with("504 "));
}

/// Under `PROT P` a data connection that sends plaintext (or anything
/// but a TLS handshake) is no transfer: the STOR is answered `425`,
/// nothing is stored and nothing is kept, and a RETR sends nothing; the
/// control connection goes on. vsftpd answers so; before, the STOR was
/// answered `226 done` with nothing stored.
#[test]
fn under_prot_p_a_data_connection_in_the_clear_transfers_nothing() {
    let (server, certs) = with_tls(|_| {});
    let mut control = logged_in(&server, &client(&certs));
    let mut data = TcpStream::connect(control.passive()).unwrap();
    data.set_read_timeout(Some(support::PATIENCE)).unwrap();
    assert!(control.ask("STOR clear.txt").starts_with("150 "));
    data.write_all(b"these bytes are in the clear\r\n").unwrap();
    data.shutdown(std::net::Shutdown::Write).unwrap();
    let ended = control.line();
    assert!(
        ended.starts_with("425 ") || ended.starts_with("426 "),
        "{ended}"
    );
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    assert!(!server.root.path().join("clear.txt").exists());
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
    // RETR of a file: nothing in the clear.
    std::fs::write(server.root.path().join("secret.txt"), b"not for the wire").unwrap();
    let mut data = TcpStream::connect(control.passive()).unwrap();
    data.set_read_timeout(Some(support::PATIENCE)).unwrap();
    assert!(control.ask("RETR secret.txt").starts_with("150 "));
    data.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = data.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("not for the wire"));
    let ended = control.line();
    assert!(
        ended.starts_with("425 ") || ended.starts_with("426 "),
        "{ended}"
    );
    // A listing, short enough to be queued whole before the handshake:
    // none of it goes out in the clear either.
    let mut data = TcpStream::connect(control.passive()).unwrap();
    data.set_read_timeout(Some(support::PATIENCE)).unwrap();
    assert!(control.ask("NLST").starts_with("150 "));
    data.write_all(b"hello\r\n").unwrap();
    let mut got = Vec::new();
    let _ = data.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("secret"), "{got:?}");
    let ended = control.line();
    assert!(
        ended.starts_with("425 ") || ended.starts_with("426 "),
        "{ended}"
    );
    assert_eq!(control.ask("NOOP"), "200 ok");
}

/// TLS 1.3: each data connection resumes with a ticket of the control
/// connection's (rustls's client spends one per connection).
#[test]
fn data_connections_resume_the_control_connections_tls13_session() {
    let (server, certs) = with_tls(|_| {});
    let client = client(&certs);
    let mut control = logged_in(&server, &client);
    let body = pattern(100_000, 7);
    let mut data = data_over_tls(control.passive(), &client);
    assert!(control.ask("STOR t.bin").starts_with("150 "));
    data.write_all(&body).unwrap();
    data.conn.send_close_notify();
    data.flush().unwrap();
    let _ = data.read_to_end(&mut Vec::new());
    assert_eq!(control.line(), "226 done");
    assert_eq!(
        data.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    let mut data = data_over_tls(control.passive(), &client);
    assert!(control.ask("RETR t.bin").starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert!(got == body, "the file whole");
    assert_eq!(control.line(), "226 done");
}

/// As vsftpd's `require_ssl_reuse`: a data connection whose TLS session
/// is new moves nothing (whoever reaches a passive port first from the
/// client's address cannot take or feed the transfer); its handshake
/// ends, it is told goodbye with `close_notify`, and the control
/// connection says why with `425`, then goes on. (Another token's login:
/// the next test but one.)
#[test]
fn a_data_connection_that_does_not_resume_moves_nothing() {
    let (server, certs) = with_tls(|_| {});
    let client = client_tls12(&certs);
    let mut control = logged_in(&server, &client);
    let not_resumed = |control: &mut Secure| {
        let ended = control.line();
        assert!(
            ended.starts_with("425 ") && ended.contains("did not resume"),
            "{ended}"
        );
    };
    // An upload on a session of its own: nothing stored or kept. (TLS
    // 1.2, whose full handshake would leave a session id the intruder
    // could resume next time, were it kept: the download below.)
    let intruder = client_tls12(&certs);
    let mut data = data_over_tls(control.passive(), &intruder);
    assert!(control.ask("STOR fresh.txt").starts_with("150 "));
    let _ = data.write_all(b"bytes from a stranger");
    let _ = data.flush();
    not_resumed(&mut control);
    let _ = data.read_to_end(&mut Vec::new());
    assert!(!server.root.path().join("fresh.txt").exists());
    assert_eq!(server.settled_files_on_disk(), Vec::<String>::new());
    // A download: nothing sent, a clean end.
    std::fs::write(server.root.path().join("secret.txt"), b"not for them").unwrap();
    let mut data = data_over_tls(control.passive(), &intruder);
    assert!(control.ask("RETR secret.txt").starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).expect("close_notify");
    assert!(got.is_empty(), "{got:?}");
    assert_ne!(
        data.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    not_resumed(&mut control);
    // A client that finishes its handshake before it asks: the transfer
    // asked is told why all the same.
    let mut data = data_over_tls(control.passive(), &client_tls12(&certs));
    while data.conn.is_handshaking() {
        data.conn.complete_io(&mut data.sock).unwrap();
    }
    let _ = data.read_to_end(&mut Vec::new());
    let refused = control.ask("RETR secret.txt");
    assert!(
        refused.starts_with("425 ") && refused.contains("did not resume"),
        "{refused}"
    );
    // The login's own session goes on as ever.
    assert_eq!(
        retr_over_tls(&mut control, &client, "secret.txt"),
        b"not for them"
    );
}

/// `--ftp-tls-reuse-optional`, for clients that never resume (Python's
/// ftplib): a data connection's own session transfers.
#[test]
fn reuse_optional_lets_a_session_of_its_own_transfer() {
    let (server, certs) = with_tls(|config| config.ftp.tls_reuse_optional = true);
    let mut control = logged_in(&server, &client(&certs));
    let mut data = data_over_tls(control.passive(), &client(&certs));
    assert!(control.ask("STOR own.txt").starts_with("150 "));
    data.write_all(b"mine").unwrap();
    data.conn.send_close_notify();
    data.flush().unwrap();
    let _ = data.read_to_end(&mut Vec::new());
    assert_eq!(control.line(), "226 done");
    assert_eq!(
        std::fs::read(server.root.path().join("own.txt")).unwrap(),
        b"mine"
    );
}

/// A client's parallel logins share one session cache (rclone's do): a
/// data connection may resume a sibling login's session, from the same
/// address under the same token, and never another token's nor one of a
/// control connection that never logged in (`AUTH TLS` needs no token).
#[test]
fn a_data_connection_may_resume_a_sibling_login_of_the_same_token() {
    let holders: &[(&str, &[&str])] = &[("sync", &["read:/"]), ("other", &["read:/"])];
    let (server, tokens, dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        config.tls =
            support::certificate_in(config.access.tokens.as_ref().unwrap().parent().unwrap());
    });
    std::fs::write(server.root.path().join("f.txt"), b"shared").unwrap();
    let ca = dir.path().join("server-cert.pem");
    let login = |client: &Client, (user, token): (&str, &str)| {
        let mut control = secured(&server, client);
        assert!(control.ask(&format!("USER {user}")).starts_with("331 "));
        assert!(control.ask(&format!("PASS {token}")).starts_with("230 "));
        assert_eq!(control.ask("PROT P"), "200 data connections go over TLS");
        control
    };
    let (mine, sibling, other) = (
        client_config(&ca, &[&rustls::version::TLS12]),
        client_config(&ca, &[&rustls::version::TLS12]),
        client_config(&ca, &[&rustls::version::TLS12]),
    );
    let mut control = login(&mine, ("sync", &tokens[0]));
    let _sibling = login(&sibling, ("sync", &tokens[0]));
    let _other = login(&other, ("other", &tokens[1]));
    let stranger = client_config(&ca, &[&rustls::version::TLS12]);
    let mut unnamed = secured(&server, &stranger);
    assert_eq!(unnamed.ask("NOOP"), "200 ok");
    assert_eq!(retr_over_tls(&mut control, &sibling, "f.txt"), b"shared");
    for not_mine in [&other, &stranger] {
        let mut data = data_over_tls(control.passive(), not_mine);
        assert!(control.ask("RETR f.txt").starts_with("150 "));
        let mut got = Vec::new();
        let _ = data.read_to_end(&mut got);
        assert!(got.is_empty(), "{got:?}");
        let ended = control.line();
        assert!(ended.starts_with("425 "), "{ended}");
    }
}

/// A sibling login that has said `USER` but not yet `PASS` already holds
/// a session its client may offer on another login's data connection
/// (Go caches a TLS 1.3 ticket as it reads the reply to `USER`: rclone's
/// parallel logins did, and were refused `425`). The data connection
/// resumes it, moves nothing until the sibling is judged, then goes on
/// if the sibling logged in under the same token; under another token,
/// or gone before its `PASS`, the transfer is refused as a session of
/// its own is. (Never logged in at all: the test above, after the grace.)
#[test]
fn a_sibling_session_offered_before_its_pass_waits_for_its_login() {
    let holders: &[(&str, &[&str])] = &[("sync", &["read:/", "write:/"]), ("other", &["read:/"])];
    let (server, tokens, dir) = support::tokens::guarded_with(holders, &[], |config| {
        listen_ftp(config);
        config.tls =
            support::certificate_in(config.access.tokens.as_ref().unwrap().parent().unwrap());
    });
    std::fs::write(server.root.path().join("f.txt"), b"shared").unwrap();
    // More than a session holds before it may seal (64 KiB).
    let big = pattern(1 << 20, 3);
    std::fs::write(server.root.path().join("big.bin"), &big).unwrap();
    let ca = dir.path().join("server-cert.pem");
    let tls12 = || client_config(&ca, &[&rustls::version::TLS12]);
    let (sync, other) = (("sync", tokens[0].as_str()), ("other", tokens[1].as_str()));
    // A login as far as its `USER`: its client holds the session.
    let named = |client: &Client, user: &str| {
        let mut control = secured(&server, client);
        assert!(control.ask(&format!("USER {user}")).starts_with("331 "));
        control
    };
    let pass = |control: &mut Secure, token: &str| {
        assert!(control.ask(&format!("PASS {token}")).starts_with("230 "));
    };
    // A data connection for `command`, its handshake on `client`'s
    // session through.
    let handshaken = |control: &mut Secure, client: &Client, command: &str| {
        let mut data = data_over_tls(control.passive(), client);
        assert!(control.ask(command).starts_with("150 "));
        while data.conn.is_handshaking() {
            data.conn.complete_io(&mut data.sock).unwrap();
        }
        data
    };
    let mine = tls12();
    let mut control = named(&mine, "sync");
    pass(&mut control, sync.1);
    assert_eq!(control.ask("PROT P"), "200 data connections go over TLS");

    // A download, on a TLS 1.3 ticket (Go's case): its handshake through,
    // it waits for the sibling's PASS, then comes whole.
    let sibling = client_config(&ca, &[&rustls::version::TLS13]);
    let mut pending = named(&sibling, sync.0);
    let mut data = handshaken(&mut control, &sibling, "RETR big.bin");
    pass(&mut pending, sync.1);
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert!(got == big, "{} bytes of {}", got.len(), big.len());
    assert_eq!(control.line(), "226 done");
    assert_eq!(
        data.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );

    // A listing bigger than a session holds unsealed, asked before the
    // handshake; and a sibling that logs in and quits at once (it did
    // log in): both come whole.
    std::fs::create_dir(server.root.path().join("many")).unwrap();
    for i in 0..4000 {
        let name = format!("many/a-long-enough-name-{i:05}");
        std::fs::write(server.root.path().join(name), b"").unwrap();
    }
    let sibling = tls12();
    let mut pending = named(&sibling, sync.0);
    let mut data = handshaken(&mut control, &sibling, "NLST many");
    pass(&mut pending, sync.1);
    drop(pending);
    let mut listing = String::new();
    data.read_to_string(&mut listing).unwrap();
    assert_eq!(listing.lines().count(), 4000);
    assert_eq!(control.line(), "226 done");

    // An upload sent whole before the sibling's PASS: held, then stored.
    let sibling = tls12();
    let mut pending = named(&sibling, sync.0);
    let mut data = data_over_tls(control.passive(), &sibling);
    assert!(control.ask("STOR up.txt").starts_with("150 "));
    data.write_all(b"sent early").unwrap();
    data.conn.send_close_notify();
    data.flush().unwrap();
    pass(&mut pending, sync.1);
    let _ = data.read_to_end(&mut Vec::new());
    assert_eq!(control.line(), "226 done");
    assert_eq!(
        data.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    let stored = std::fs::read(server.root.path().join("up.txt")).unwrap();
    assert_eq!(stored, b"sent early");

    // A sibling that logs in as another token, or goes before its PASS:
    // nothing moves, the transfer is refused.
    for logs_in_as_other in [true, false] {
        let sibling = tls12();
        let mut pending = named(&sibling, other.0);
        let mut data = handshaken(&mut control, &sibling, "RETR big.bin");
        match logs_in_as_other {
            true => pass(&mut pending, other.1),
            false => drop(pending),
        }
        let mut got = Vec::new();
        let _ = data.read_to_end(&mut got);
        assert!(got.is_empty(), "{got:?}");
        let ended = control.line();
        assert!(ended.starts_with("425 "), "{ended}");
    }
    assert_eq!(control.ask("NOOP"), "200 ok");
}

/// Under `PROT P` a data connection that ends before its TLS handshake
/// is through (a FIN at once, or part of a hello) is no upload: the file
/// it names keeps its content, nothing is kept, and the `STOR` is `425`.
#[test]
fn a_data_connection_that_ends_before_its_handshake_stores_nothing() {
    let (server, certs) = with_tls(|_| {});
    let mut control = logged_in(&server, &client(&certs));
    let keep = server.root.path().join("keep.txt");
    std::fs::write(&keep, b"precious").unwrap();
    for sent in [&b""[..], &[0x16, 0x03, 0x01, 0x00]] {
        let mut data = TcpStream::connect(control.passive()).unwrap();
        data.set_read_timeout(Some(support::PATIENCE)).unwrap();
        assert!(control.ask("STOR keep.txt").starts_with("150 "));
        data.write_all(sent).unwrap();
        data.shutdown(std::net::Shutdown::Write).unwrap();
        let ended = control.line();
        let _ = data.read_to_end(&mut Vec::new());
        assert_eq!(std::fs::read(&keep).unwrap(), b"precious", "{ended}");
        assert!(ended.starts_with("425 "), "{ended}");
        assert_eq!(server.settled_files_on_disk(), vec!["keep.txt".to_owned()]);
    }
    assert_eq!(control.ask("NOOP"), "200 ok");
}

/// A listing bigger than a TLS session holds before its handshake ends
/// (64 KiB), asked before the client begins TLS on its data connection:
/// the handshake goes on while the listing waits, and all of it comes.
#[test]
fn a_big_listing_asked_before_the_handshake_comes_whole() {
    let (server, certs) = with_tls(|_| {});
    let names: Vec<String> = (0..4000)
        .map(|i| format!("a-long-enough-name-{i:05}"))
        .collect();
    for name in &names {
        std::fs::write(server.root.path().join(name), b"").unwrap();
    }
    let client = client(&certs);
    let mut control = logged_in(&server, &client);
    let tcp = TcpStream::connect(control.passive()).unwrap();
    tcp.set_read_timeout(Some(support::PATIENCE)).unwrap();
    assert!(control.ask("NLST").starts_with("150 "));
    let mut data = tls_with(tcp, &client);
    let mut listing = String::new();
    data.read_to_string(&mut listing).unwrap();
    assert_eq!(listing.lines().count(), names.len());
    assert_eq!(control.line(), "226 done");
}
