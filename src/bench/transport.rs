//! A load-generator connection's byte pipe: the socket itself, or the
//! socket under a rustls client session, with the socket adapter's
//! outcomes either way.
//!
//! This is the client side of the rustls `tlsclient-mio` pattern, with
//! rustls's buffered API: a bench process holds thousands of connections
//! for a short run, so the 4 KiB a buffered session keeps does not matter
//! here as it does for the server (`connection/tls_session.rs`). Every
//! call first sends what the session holds, so a connection registered
//! once for both readiness kinds never has to re-register for the
//! session's wants.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ClientConnection;

use crate::wire::socket::{self, Outcome, retry};

/// A socket, with or without a TLS client session on it.
pub(super) struct Transport {
    stream: TcpStream,
    tls: Option<Box<ClientConnection>>,
}

impl Transport {
    pub(super) fn new(stream: TcpStream, tls: Option<ClientConnection>) -> Transport {
        Transport {
            stream,
            tls: tls.map(Box::new),
        }
    }

    /// The socket, for registration.
    pub(super) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads into `buf` (not empty).
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return socket::read(&mut self.stream, buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(0) => return Outcome::Eof, // close_notify
                Ok(n) => return Outcome::Done(n),
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Outcome::Eof,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Outcome::Error(err),
            }
            if let outcome @ (Outcome::Closed | Outcome::Error(_)) = send_held(tls, &self.stream) {
                return outcome;
            }
            match tls.read_tls(&mut SocketReader(&self.stream)) {
                Ok(0) => return Outcome::Eof,
                Ok(_) => {}
                Err(err) => return socket::classify(err),
            }
            let processed = tls.process_new_packets();
            // Handshake messages, or the alert that explains a failure.
            if let outcome @ (Outcome::Closed | Outcome::Error(_)) = send_held(tls, &self.stream) {
                return outcome;
            }
            if let Err(err) = processed {
                return Outcome::Error(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("TLS: {err}"),
                ));
            }
        }
    }

    /// Writes from `buf` (not empty). With `more`, further data follows at
    /// once.
    pub(super) fn write(&mut self, buf: &[u8], more: bool) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return socket::write(&self.stream, buf, more);
        };
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = send_held(tls, &self.stream) {
            return outcome;
        }
        let taken = match tls.writer().write(buf) {
            Ok(taken) => taken,
            Err(err) => return Outcome::Error(err),
        };
        match send_held(tls, &self.stream) {
            outcome @ (Outcome::Closed | Outcome::Error(_)) => outcome,
            _ if taken == 0 => Outcome::WouldBlock,
            _ => Outcome::Done(taken),
        }
    }
}

/// Sends ciphertext the session holds until it holds none or the socket
/// is full: `Done(bytes)`, or `WouldBlock` if none moved.
fn send_held(tls: &mut ClientConnection, stream: &TcpStream) -> Outcome {
    let mut total = 0;
    while tls.wants_write() {
        match tls.write_tls(&mut SocketWriter(stream)) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(err) => match socket::classify(err) {
                Outcome::WouldBlock if total > 0 => break,
                other => return other,
            },
        }
    }
    Outcome::Done(total)
}

/// The socket as rustls reads it.
struct SocketReader<'a>(&'a TcpStream);

impl Read for SocketReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| (&mut &*self.0).read(buf))
    }
}

/// The socket as rustls writes to it (vectored: one call per flight).
struct SocketWriter<'a>(&'a TcpStream);

impl Write for SocketWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        use rustix::net::{SendAncillaryBuffer, SendFlags, sendmsg};
        retry(|| {
            let mut no_control = SendAncillaryBuffer::default();
            sendmsg(self.0, bufs, &mut no_control, SendFlags::NOSIGNAL).map_err(io::Error::from)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
