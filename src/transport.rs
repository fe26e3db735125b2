//! A connection's byte pipe: the socket itself, or the socket under a
//! rustls session. The server's connection state machine reads, writes
//! and sends file data through it the same way either way, and so do
//! `ferry bench`'s connections; only this file knows which.
//!
//! Under TLS this is the rustls `tlsserver-mio` pattern: ciphertext moves
//! between the socket and the session on every call, and the interest the
//! connection waits with is widened by what the session wants
//! ([`Transport::interest`]): to write records it holds, or to read the
//! rest of a handshake. Every call first sends what the session holds, so
//! a writable event always finds work. It is generic over the session's
//! side (the server's `ServerConnection`, bench's `ClientConnection`), so
//! both share one adapter and the server's calls stay direct.
//!
//! Without kernel TLS, `sendfile` cannot encrypt: file data is read into
//! the reactor-wide scratch buffer (only from ranges the connection has
//! found cached, as for `sendfile`) and handed to the session, which keeps
//! at most [`crate::tls::SEND_BUFFER_LIMIT`] of ciphertext unsent. Kernel
//! TLS would be a third variant that hands the session's keys to the
//! socket and goes back to `sendfile`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

use std::ops::DerefMut;

use mio::Interest;
use mio::net::TcpStream;
use rustls::{ConnectionCommon, ServerConnection};

use crate::socket::{self, Outcome, retry};

/// The first byte of every TLS handshake record; anything else at the
/// start of a TLS connection is a peer speaking plaintext.
const HANDSHAKE_RECORD: u8 = 0x16;
/// Largest piece of a file encrypted at once: one full TLS record.
const TLS_FILE_CHUNK: usize = 16 * 1024;

/// A socket, with or without a TLS session (`S`: a rustls
/// `ServerConnection` or `ClientConnection`) on it.
pub(crate) struct Transport<S = ServerConnection> {
    stream: TcpStream,
    tls: Option<Box<Tls<S>>>,
}

struct Tls<S> {
    session: S,
    /// Nothing has been read yet: the first byte tells TLS from plaintext.
    first_read: bool,
    /// `close_notify` is queued.
    closing: bool,
}

impl<S, D> Transport<S>
where
    S: DerefMut<Target = ConnectionCommon<D>>,
{
    pub(crate) fn new(stream: TcpStream, tls: Option<S>) -> Transport<S> {
        Transport {
            stream,
            tls: tls.map(|session| {
                Box::new(Tls {
                    session,
                    first_read: true,
                    closing: false,
                })
            }),
        }
    }

    /// The socket, for registration and options.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Whether the TLS handshake is still going on (the connection treats
    /// it like a request line being received: the header deadline runs).
    pub(crate) fn is_handshaking(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.session.is_handshaking())
    }

    /// The peer spoke plaintext to a TLS port: forget the session, so the
    /// connection can tell it so in plaintext and close.
    pub(crate) fn drop_tls(&mut self) {
        self.tls = None;
    }

    /// `wanted`, widened by what the TLS session needs to move on.
    pub(crate) fn interest(&self, wanted: Interest) -> Interest {
        let Some(tls) = &self.tls else {
            return wanted;
        };
        let mut interest = wanted;
        if tls.session.wants_write() {
            interest |= Interest::WRITABLE;
        }
        if tls.session.is_handshaking() {
            interest |= Interest::READABLE;
        }
        interest
    }

    /// Whether output handed over is still held here, not yet sent.
    pub(crate) fn holds_output(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.session.wants_write())
    }

    /// Reads into `buf` (not empty).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return socket::read(&mut self.stream, buf);
        };
        loop {
            match tls.session.reader().read(buf) {
                Ok(0) => return Outcome::Eof, // close_notify
                Ok(n) => return Outcome::Done(n),
                // A peer gone without close_notify; bodies carry their
                // lengths and checksums, so a cut is seen either way.
                Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Outcome::Eof,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Outcome::Error(err),
            }
            match tls.receive(&self.stream) {
                Outcome::Done(_) => continue,
                Outcome::Eof => continue, // the reader says how it ended
                other => return other,
            }
        }
    }

    /// Reads and throws away raw bytes (lingering: nothing more is
    /// decrypted once the connection is closing).
    pub(crate) fn read_raw(&mut self, buf: &mut [u8]) -> Outcome {
        socket::read(&mut self.stream, buf)
    }

    /// Writes from `buf` (not empty). With `more`, further data follows at
    /// once.
    pub(crate) fn write(&mut self, buf: &[u8], more: bool) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return socket::write(&self.stream, buf, more);
        };
        tls.seal(&self.stream, buf)
    }

    /// Sends up to `len` bytes of `file` from `offset`, from a range known
    /// to be cached. `scratch` is the reactor-wide buffer, used under TLS.
    pub(crate) fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        len: usize,
        scratch: &mut [u8],
    ) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return socket::send_file(&self.stream, file, offset, len);
        };
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = tls.send_held(&self.stream) {
            return outcome;
        }
        let piece = &mut scratch[..len.min(TLS_FILE_CHUNK)];
        match file.read_at(piece, offset) {
            Ok(0) => Outcome::Error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being sent",
            )),
            Ok(n) => tls.seal(&self.stream, &piece[..n]),
            Err(err) => Outcome::Error(err),
        }
    }

    /// Sends what the TLS session holds, as far as the socket takes it.
    pub(crate) fn send_held(&mut self) -> Outcome {
        match &mut self.tls {
            Some(tls) => tls.send_held(&self.stream),
            None => Outcome::Done(0),
        }
    }

    /// Ends the TLS session politely (`close_notify`) and sends what it
    /// holds: `Done` once all is out, `WouldBlock` until then. Nothing to
    /// do on a plain socket.
    pub(crate) fn finish(&mut self) -> Outcome {
        let Some(tls) = &mut self.tls else {
            return Outcome::Done(0);
        };
        if !tls.closing {
            tls.closing = true;
            tls.session.send_close_notify();
        }
        match tls.send_held(&self.stream) {
            Outcome::Done(_) if tls.session.wants_write() => Outcome::WouldBlock,
            Outcome::Done(n) => Outcome::Done(n),
            other => other,
        }
    }
}

impl<S, D> Tls<S>
where
    S: DerefMut<Target = ConnectionCommon<D>>,
{
    /// Reads ciphertext from the socket and processes it; sends what the
    /// session answers (handshake messages, alerts).
    fn receive(&mut self, stream: &TcpStream) -> Outcome {
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
            return outcome;
        }
        let first_read = self.first_read;
        let mut sniffing = Sniff {
            stream,
            first_read,
            plaintext: false,
        };
        let read = self.session.read_tls(&mut sniffing);
        if sniffing.plaintext {
            return Outcome::NotTls;
        }
        let n = match read {
            Ok(0) => return Outcome::Eof,
            Ok(n) => n,
            Err(err) => return socket::classify(err),
        };
        self.first_read = false;
        let processed = self.session.process_new_packets();
        // Handshake messages, or the alert that explains a failure.
        let sent = self.send_held(stream);
        if let Err(err) = processed {
            return Outcome::Error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("TLS: {err}"),
            ));
        }
        match sent {
            Outcome::Closed | Outcome::Error(_) => sent,
            _ => Outcome::Done(n),
        }
    }

    /// Encrypts as much of `buf` as the session takes and sends what it
    /// can: `Done(taken)`, or `WouldBlock` if it takes nothing until the
    /// socket drains.
    fn seal(&mut self, stream: &TcpStream, buf: &[u8]) -> Outcome {
        if let outcome @ (Outcome::Closed | Outcome::Error(_)) = self.send_held(stream) {
            return outcome;
        }
        let taken = match self.session.writer().write(buf) {
            Ok(taken) => taken,
            Err(err) => return Outcome::Error(err),
        };
        match self.send_held(stream) {
            outcome @ (Outcome::Closed | Outcome::Error(_)) => outcome,
            _ if taken == 0 => Outcome::WouldBlock,
            _ => Outcome::Done(taken),
        }
    }

    /// Sends ciphertext the session holds until it holds none or the socket
    /// is full: `Done(bytes)` or `WouldBlock` (nothing moved).
    fn send_held(&mut self, stream: &TcpStream) -> Outcome {
        let mut total = 0;
        while self.session.wants_write() {
            match self.session.write_tls(&mut SocketWriter(stream)) {
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
}

/// The socket as rustls reads it, noting a first byte that cannot begin a
/// TLS connection.
struct Sniff<'a> {
    stream: &'a TcpStream,
    first_read: bool,
    plaintext: bool,
}

impl Read for Sniff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = retry(|| (&mut &*self.stream).read(buf))?;
        if self.first_read && n > 0 && buf[0] != HANDSHAKE_RECORD {
            self.plaintext = true;
            return Err(io::Error::new(io::ErrorKind::InvalidData, "plaintext"));
        }
        Ok(n)
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
