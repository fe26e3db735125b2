//! One HTTP exchange over a raw socket, for tests that check the exact
//! status and header fields an answer carries: the request is written as
//! given (so a test can send any `Host`, `Origin` or `Authorization`), on a
//! connection that closes after it, and the answer is read to its end.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::PATIENCE;

/// An answer, read to the end of its connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The value of header `name` (the first, should there be several).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }
}

/// Sends `method target` with the header lines `headers` (each ending in
/// CRLF; `Host` among them, or none at all) and `body`, and reads the
/// answer.
pub fn exchange(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let length = match body.is_empty() {
        true => String::new(),
        false => format!("Content-Length: {}\r\n", body.len()),
    };
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nConnection: close\r\n{length}{headers}\r\n"
    )
    .unwrap();
    stream.write_all(body).unwrap();
    read_answer(&mut stream)
}

/// Reads an answer to the end of its connection.
pub fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8(all[..at].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head,
        body: all[at..].to_vec(),
    }
}

/// An `Authorization` header line that presents `token`.
pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

/// The value of the unlabelled sample `name` on the metrics listener at
/// `addr`.
pub fn metric(addr: SocketAddr, name: &str) -> u64 {
    let answer = exchange(addr, "GET", "/metrics", "Host: localhost\r\n", b"");
    assert_eq!(answer.status, 200, "{}", answer.head);
    let text = String::from_utf8(answer.body).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .parse()
        .unwrap()
}
