//! The tests' one FTP client (tests/ftp/, the model test): a control connection read line by line
//! (each reply must end in CRLF), the login, `PASV`, and a transfer over
//! a data connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::{Raw, TestServer, listen_ftp};

/// A control connection to `server`, its greeting read.
pub fn connect(server: &TestServer) -> Raw {
    connect_to(server.ftp.expect("an FTP listener"))
}

/// A control connection to the FTP listener at `addr`, its greeting read.
pub fn connect_to(addr: SocketAddr) -> Raw {
    let mut raw = Raw::connect(addr);
    let greeting = line(&mut raw);
    assert!(greeting.starts_with("220 "), "{greeting}");
    raw
}

/// The next reply line, which must end in CRLF, without it.
pub fn line(raw: &mut Raw) -> String {
    let line = raw.line();
    match line.strip_suffix('\r') {
        Some(line) => line.to_owned(),
        None => panic!("a reply line without its CR: {line:?}"),
    }
}

/// A reply of one line or several (RFC 959 4.2: `213-` begins it, the
/// line that begins with `213 ` ends it), each without its CRLF.
pub fn reply(raw: &mut Raw) -> Vec<String> {
    let first = line(raw);
    let mut lines = vec![first.clone()];
    if first.as_bytes().get(3) == Some(&b'-') {
        let end = format!("{} ", &first[..3]);
        while !lines.last().is_some_and(|l| l.starts_with(&end)) {
            lines.push(line(raw));
        }
    }
    lines
}

/// Sends `command` and returns the answer's line.
pub fn ask(raw: &mut Raw, command: &str) -> String {
    raw.send(format!("{command}\r\n"));
    line(raw)
}

/// Logs in as `user` with `password`, which must succeed.
pub fn log_in(raw: &mut Raw, user: &str, password: &str) {
    assert!(ask(raw, &format!("USER {user}")).starts_with("331 "));
    let logged = ask(raw, &format!("PASS {password}"));
    assert!(logged.starts_with("230 "), "{logged}");
}

/// A server with an FTP listener (its config adjusted by `adjust`), and a
/// control connection logged in to it (no access control: any password).
pub fn logged_in_with(adjust: impl FnOnce(&mut ferry::config::Config)) -> (TestServer, Raw) {
    let server = TestServer::start_with(|config| {
        listen_ftp(config);
        adjust(config);
    });
    let mut raw = connect(&server);
    log_in(&mut raw, "me", "x");
    (server, raw)
}

/// [`logged_in_with`] the default config.
pub fn logged_in() -> (TestServer, Raw) {
    logged_in_with(|_| {})
}

/// `PASV`: the address its answer names.
pub fn passive(raw: &mut Raw) -> SocketAddr {
    pasv_address(&ask(raw, "PASV"))
}

/// The address a `227` answer names.
pub fn pasv_address(answer: &str) -> SocketAddr {
    let numbers = answer
        .strip_prefix("227 Entering Passive Mode (")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{answer}"));
    let n: Vec<u16> = numbers.split(',').map(|n| n.parse().unwrap()).collect();
    let ip = std::net::Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
    SocketAddr::from((ip, n[4] * 256 + n[5]))
}

/// Runs `command` over a new data connection: its bytes, and the control
/// connection's two answers.
pub fn transfer(raw: &mut Raw, command: &str) -> (Vec<u8>, String, String) {
    let addr = passive(raw);
    transfer_at(raw, addr, command)
}

/// Runs `command` over a data connection to `addr` (where `PASV` or
/// `EPSV` said): its bytes, and the control connection's two answers.
pub fn transfer_at(raw: &mut Raw, addr: SocketAddr, command: &str) -> (Vec<u8>, String, String) {
    let mut data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(super::PATIENCE)).unwrap();
    let began = ask(raw, command);
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    let ended = line(raw);
    (bytes, began, ended)
}

/// Runs `command` (`STOR`, `APPE`) with `body` over a new data
/// connection: the control connection's two answers (the second empty if
/// the first refused).
pub fn store_with(raw: &mut Raw, command: &str, body: &[u8]) -> (String, String) {
    let addr = passive(raw);
    let mut data = TcpStream::connect(addr).unwrap();
    let began = ask(raw, command);
    if !began.starts_with("150 ") {
        return (began, String::new());
    }
    data.write_all(body).unwrap();
    drop(data);
    (began, line(raw))
}

/// `STOR name` with `body`: [`store_with`].
pub fn store(raw: &mut Raw, name: &str, body: &[u8]) -> (String, String) {
    store_with(raw, &format!("STOR {name}"), body)
}

/// Sends `sent` as `command`'s data (`STOR`), then resets the data
/// connection once the server has written at least `seen` bytes of it to
/// `temp_dir` (the upload's temp file there: more than a write behind
/// gathers, 512 KiB, must be sent for that): the control connection says
/// `426`.
pub fn cut_after(
    raw: &mut Raw,
    command: &str,
    sent: &[u8],
    (temp_dir, seen): (&std::path::Path, u64),
) {
    let addr = passive(raw);
    let mut data = TcpStream::connect(addr).unwrap();
    assert!(ask(raw, command).starts_with("150 "));
    data.write_all(sent).unwrap();
    wait_for_temp_file(temp_dir, seen);
    // SO_LINGER 0: the close is a reset, not the stream's end.
    rustix::net::sockopt::set_socket_linger(&data, Some(std::time::Duration::ZERO)).unwrap();
    drop(data);
    let cut = line(raw);
    assert!(cut.starts_with("426 "), "{cut}");
}

/// Waits until a temp file in `dir` holds `seen` bytes: the server has
/// them, whatever the reset drops of what is still on its way. (Nothing
/// tells a client how far the server has read: this polls, within
/// [`PATIENCE`](super::PATIENCE).)
pub fn wait_for_temp_file(dir: &std::path::Path, seen: u64) {
    let deadline = std::time::Instant::now() + super::PATIENCE;
    loop {
        let written = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".ferry-tmp-"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max();
        if written.is_some_and(|n| n >= seen) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached {seen} bytes"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `SIZE name`'s number.
pub fn size(raw: &mut Raw, name: &str) -> u64 {
    let answer = ask(raw, &format!("SIZE {name}"));
    answer
        .strip_prefix("213 ")
        .unwrap_or_else(|| panic!("{answer}"))
        .parse()
        .unwrap()
}

/// A connection read a byte at a time (nothing is read past a line: a
/// control connection turns to TLS right after one), plain or under TLS.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
pub struct Lines<S> {
    pub stream: S,
}

#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
impl<S: std::io::Read + Write> Lines<S> {
    /// The next reply line, without its CRLF.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        let mut byte = [0u8];
        while !line.ends_with(b"\r\n") {
            match self.stream.read(&mut byte) {
                Ok(1) => line.push(byte[0]),
                other => panic!("the line ended early: {other:?} after {line:?}"),
            }
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("UTF-8")
    }

    /// Sends `command`; the answer's line.
    pub fn ask(&mut self, command: &str) -> String {
        self.stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.stream.flush().unwrap();
        self.line()
    }

    /// `PASV`'s address, from its answer.
    pub fn passive(&mut self) -> SocketAddr {
        pasv_address(&self.ask("PASV"))
    }
}

/// A plain control connection to `server` (its greeting read), to turn
/// to TLS.
#[cfg(any(feature = "tls-aws-lc", feature = "tls-ring"))]
pub fn connect_lines(server: &TestServer) -> Lines<TcpStream> {
    let stream = TcpStream::connect(server.ftp.expect("an FTP listener")).unwrap();
    stream.set_read_timeout(Some(super::PATIENCE)).unwrap();
    let mut lines = Lines { stream };
    let greeting = lines.line();
    assert!(greeting.starts_with("220 "), "{greeting}");
    lines
}
