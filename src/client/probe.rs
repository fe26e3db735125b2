//! What a silent port speaks, when a plaintext FERRY/1 connection gets no
//! greeting: a FERRY/1 server greets at once, so a port that says nothing
//! is most often an HTTP listener (ferry's own `--http` or `--metrics`,
//! given to `--server` by mistake) or a TLS port, both of which wait for
//! the client to speak first.
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

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use super::ClientError;

/// How long the connection waits for a greeting before the probe asks
/// what the port speaks: long beyond a healthy server's greeting, short
/// enough that a wrong port is named within a second.
pub(crate) const SILENCE: Duration = Duration::from_millis(500);

/// How long the probe waits for an answer: an HTTP server answers a
/// malformed or unknown request at once.
const PATIENCE: Duration = Duration::from_millis(500);

/// Most bytes of the answer read: the status line and a short body (the
/// TLS ports' answers are a line or two).
const ANSWER_BYTES: u64 = 4096;

/// What a silent port turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaks {
    Http,
    Tls,
    /// FERRY/1 after all, or nothing the probe recognises.
    Unknown,
}

/// Asks `server` on a connection of its own what it speaks.
///
/// # Errors
/// An HTTP or TLS port: a [`ClientError::WrongPort`] saying what to use
/// instead. Nothing else is an error: an unanswered probe leaves the
/// waiting connection to tell.
pub(crate) fn refuse_other_protocols(server: SocketAddr) -> Result<(), ClientError> {
    match ask(server) {
        Speaks::Http => Err(ClientError::WrongPort(format!(
            "{server} speaks HTTP, not FERRY/1: use --server with the FERRY/1 port"
        ))),
        Speaks::Tls => Err(ClientError::WrongPort(format!(
            "{server} speaks TLS: connect with --tls or --ca"
        ))),
        Speaks::Unknown => Ok(()),
    }
}

fn ask(server: SocketAddr) -> Speaks {
    let Ok(mut probe) = std::net::TcpStream::connect_timeout(&server, PATIENCE) else {
        return Speaks::Unknown;
    };
    let request = format!("HEAD / HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let asked = probe
        .set_read_timeout(Some(PATIENCE))
        .and_then(|()| probe.set_write_timeout(Some(PATIENCE)))
        .and_then(|()| std::io::Write::write_all(&mut probe, request.as_bytes()));
    if asked.is_ok() {
        // Up to the end of the answer (`Connection: close`), a timeout or
        // the limit: what arrived is enough to tell.
        let _ = (&mut probe).take(ANSWER_BYTES).read_to_end(&mut answer);
    }
    classify(&answer)
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
