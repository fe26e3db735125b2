//! The one raw HTTP client of the tests, for tests that check the exact
//! status and header fields an answer carries: the request is written as
//! given (so a test can send any `Host`, `Origin` or `Authorization`).
//! [`exchange`] asks once on a connection that closes after it and reads
//! the answer to its end; [`Conn`] keeps a connection open, as a browser or
//! a DAV client does, and reads each answer by its length.

use std::io::{BufRead, BufReader, Read, Write};
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

    /// The body as text (lossy: a test reads it to compare or to print).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
    exchange_on(&mut stream, method, target, headers, body)
}

/// [`exchange`] on a connection the caller opened (from another source
/// address, say).
pub fn exchange_on(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &str,
    body: &[u8],
) -> Answer {
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
    read_answer(stream)
}

/// [`exchange`] with `body` framed `Transfer-Encoding: chunked` in
/// chunks of `chunk` bytes (the last shorter), each written on its own,
/// and a trailer field: as Go's net/http, Java's and Node's clients send
/// a body whose length they do not know beforehand.
pub fn exchange_chunked(
    addr: SocketAddr,
    (method, target): (&str, &str),
    headers: &str,
    body: &[u8],
    chunk: usize,
) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    // Each chunk its own segment, not gathered behind an unacked one.
    stream.set_nodelay(true).unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n{headers}\r\n"
    )
    .unwrap();
    for piece in body.chunks(chunk) {
        write!(stream, "{:x}\r\n", piece.len()).unwrap();
        stream.write_all(piece).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(b"0\r\nX-Trailer: end\r\n\r\n").unwrap();
    read_answer(&mut stream)
}

/// Writes `request` exactly as given on a new connection and reads all the
/// server sends until it closes: for answers that are not HTTP's, or
/// framing a test must see byte for byte.
pub fn send_raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    String::from_utf8_lossy(&all).into_owned()
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

/// A kept-open HTTP connection: what a browser or a DAV client holds, for
/// keep-alive, pipelining and requests that depend on the one before.
pub struct Conn {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        Conn::on(TcpStream::connect(addr).unwrap())
    }

    /// Over `stream`, connected already (from another address:
    /// [`super::Raw::connect_from`]).
    pub fn on(stream: TcpStream) -> Conn {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn { stream, reader }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).unwrap();
    }

    /// Sends `method target` with `Host`, a `Content-Length` and `headers`
    /// (each ending in CRLF) and `body`, and reads the answer.
    pub fn ask(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> Answer {
        let length = format!("Content-Length: {}\r\n", body.len());
        self.send(format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{length}{headers}\r\n"
        ));
        self.send(body);
        self.reply()
    }

    /// Reads one answer: its head, then the body its length says (none
    /// after a `100 Continue` or a `304`).
    pub fn reply(&mut self) -> Answer {
        self.reply_to("GET")
    }

    /// Reads the answer to a request of `method`: to a HEAD, its head only,
    /// whatever its length says.
    pub fn reply_to(&mut self, method: &str) -> Answer {
        let head_only = method == "HEAD";
        let mut head = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "closed after {head:?}");
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let mut answer = Answer {
            status,
            head,
            body: Vec::new(),
        };
        let length = answer
            .header("Content-Length")
            .map_or(0, |v| v.parse().unwrap());
        if !head_only && status != 100 && status != 304 {
            answer.body = vec![0; length];
            self.reader.read_exact(&mut answer.body).unwrap();
        }
        answer
    }

    /// Reads what the server sends until it closes.
    pub fn rest(&mut self) -> std::io::Result<Vec<u8>> {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).map(|_| rest)
    }

    /// Checks the server closed the connection with nothing more to say
    /// (a reset counts as closed: the server may close with bytes unread)
    /// within [`PATIENCE`]; still open after it fails.
    pub fn expect_closed(&mut self) {
        match self.rest() {
            Ok(rest) => assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest)),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(err) => panic!("expected the server to close the connection: {err}"),
        }
    }
}
