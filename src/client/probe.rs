//! What a silent port speaks, when a FERRY/1 connection gets no greeting:
//! a FERRY/1 server greets at once (over TLS, right after the handshake),
//! so a port that says nothing is most often an HTTP listener (ferry's own
//! `--http` or `--metrics`, given to `--server` by mistake; over TLS, an
//! HTTPS port) or, to a plaintext client, a TLS port: all of them wait
//! for the client to speak first.
//!
//! The question is asked on a connection of its own, never on the one
//! that waits for its greeting: a FERRY/1 server that is merely slow
//! would close that one on an HTTP request line. The probe sends a small
//! HTTP request and reads the first bytes of the answer:
//!
//! ```text
//! -> HEAD / HTTP/1.1\r\nHost: <addr>\r\nConnection: close\r\n\r\n
//! <- ... TLS ... | ... HTTPS ...  a TLS port answering in plaintext
//!                                 (ferry's: `ERR 400 this port speaks
//!                                 TLS`, or an HTTP 400; nginx's HTTP 400)
//! <- OK FERRY/1 ... | ERR ...     a FERRY/1 server, slow to greet: wait on
//! <- HTTP/1.x ...                 an HTTP server
//! <- 0x15 ...                     a TLS alert: a TLS port
//! <- anything else, or nothing    unknown: wait on, as before
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::ClientError;
use super::stream::ClientTls;

/// How long the connection waits for a greeting before the probe asks
/// what the port speaks: long beyond a healthy server's greeting, short
/// enough that a wrong port is named within a second.
pub(crate) const SILENCE: Duration = Duration::from_millis(500);

/// Longest the probe waits to connect and for an answer: an HTTP server
/// answers a malformed or unknown request at once. Less when the caller's
/// own time runs out sooner (`--connect-timeout`).
pub(crate) const PATIENCE: Duration = Duration::from_millis(500);

/// Most bytes of the answer read: the status line and a short body (the
/// TLS ports' answers are a line or two).
const ANSWER_BYTES: usize = 4096;

/// What a silent port turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaks {
    Http,
    Tls,
    /// FERRY/1 after all, or nothing the probe recognises.
    Unknown,
}

/// Asks `server` on a plaintext connection of its own what it speaks,
/// waiting at most `patience` for each step.
///
/// # Errors
/// An HTTP or TLS port: a [`ClientError::WrongPort`] saying what to use
/// instead. Nothing else is an error: an unanswered probe leaves the
/// waiting connection to tell.
pub(crate) fn refuse_other_protocols(
    server: SocketAddr,
    patience: Duration,
) -> Result<(), ClientError> {
    let answer = connect(server, patience)
        .map(|tcp| ask(server, tcp, patience))
        .unwrap_or_default();
    match classify(&answer) {
        Speaks::Http => Err(ClientError::WrongPort(format!(
            "{server} speaks HTTP, not FERRY/1: use --server with the FERRY/1 port"
        ))),
        Speaks::Tls => Err(ClientError::WrongPort(format!(
            "{server} speaks TLS: connect with --tls or --ca"
        ))),
        Speaks::Unknown => Ok(()),
    }
}

/// [`refuse_other_protocols`] for a connection over TLS, whose handshake
/// went through but that gets no greeting: the probe asks over TLS too
/// (`addr` as the client names the server, for its certificate).
///
/// # Errors
/// An HTTPS port: a [`ClientError::WrongPort`]. Nothing else.
pub(crate) fn refuse_https(
    server: SocketAddr,
    addr: &str,
    tls: &ClientTls,
    patience: Duration,
) -> Result<(), ClientError> {
    let answer = connect(server, patience)
        .and_then(|tcp| {
            tcp.set_read_timeout(Some(patience))?;
            tcp.set_write_timeout(Some(patience))?;
            tls.handshake(tcp, addr)
        })
        .map(|halves| ask(server, Duplex(halves.read, halves.write), patience))
        .unwrap_or_default();
    match classify(&answer) {
        Speaks::Http => Err(ClientError::WrongPort(format!(
            "{server} speaks HTTP over TLS, not FERRY/1: use --server with the FERRY/1 port"
        ))),
        Speaks::Tls | Speaks::Unknown => Ok(()),
    }
}

fn connect(server: SocketAddr, patience: Duration) -> std::io::Result<std::net::TcpStream> {
    let tcp = std::net::TcpStream::connect_timeout(&server, patience)?;
    tcp.set_read_timeout(Some(patience))?;
    tcp.set_write_timeout(Some(patience))?;
    Ok(tcp)
}

/// A TLS connection's two halves as one stream, for the probe.
struct Duplex<R, W>(R, W);

impl<R: Read, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.1.flush()
    }
}

/// Sends the probe's request over `conn` (whose timeouts are set) and
/// returns the first bytes of the answer.
fn ask(server: SocketAddr, mut conn: impl Read + Write, patience: Duration) -> Vec<u8> {
    let request = format!("HEAD / HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    if conn
        .write_all(request.as_bytes())
        .and_then(|()| conn.flush())
        .is_ok()
    {
        // Up to the end of the answer (`Connection: close`), a timeout or
        // the limit: what arrived is enough to tell.
        let started = std::time::Instant::now();
        let mut chunk = [0; 1024];
        while answer.len() < ANSWER_BYTES && started.elapsed() < patience {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    }
    answer
}

/// What the first bytes of a port's answer to the probe say it speaks.
fn classify(answer: &[u8]) -> Speaks {
    if answer.first() == Some(&0x15) {
        return Speaks::Tls;
    }
    let http = answer.starts_with(b"HTTP/");
    // A FERRY/1 server greets before it answers: a first line of `ERR`
    // is a refusal instead of a greeting, about TLS or not.
    if !http && !answer.starts_with(b"ERR ") {
        return Speaks::Unknown;
    }
    let text = String::from_utf8_lossy(answer).to_ascii_uppercase();
    if text.contains("TLS") || text.contains("HTTPS") {
        Speaks::Tls
    } else if http {
        Speaks::Http
    } else {
        Speaks::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_told_apart() {
        for (answer, speaks) in [
            (&b"OK FERRY/1 7\n"[..], Speaks::Unknown),
            (b"ERR 503 busy\n", Speaks::Unknown),
            (
                b"ERR 400 this port speaks TLS: connect with TLS (ferry --tls)\n",
                Speaks::Tls,
            ),
            (b"", Speaks::Unknown),
            (b"HTTP/1.1 400 Bad Request\r\n\r\nmalformed", Speaks::Http),
            (
                b"HTTP/1.1 404 Not Found\r\n\r\nonly GET /metrics",
                Speaks::Http,
            ),
            (
                b"HTTP/1.1 400 Bad Request\r\n\r\nplain HTTP request sent to a TLS port",
                Speaks::Tls,
            ),
            (
                b"HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port",
                Speaks::Tls,
            ),
            (&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46], Speaks::Tls),
        ] {
            assert_eq!(
                classify(answer),
                speaks,
                "{:?}",
                String::from_utf8_lossy(answer)
            );
        }
    }
}
