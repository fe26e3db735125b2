//! What a TLS session holds between calls (`tls_session.rs`): a partial
//! record coming in, plaintext the connection had no room for, sealed
//! records the socket has not taken, plaintext waiting for the handshake
//! to allow encryption; and how records are written into them.

use std::io;

use rustls::unbuffered::{EncodeError, EncryptError};

/// Bytes a record adds to the data it carries (TLS 1.2 GCM adds 29, TLS
/// 1.3 22), rounded up: a first guess at the room sealing needs.
const RECORD_OVERHEAD: usize = 32;
/// Plaintext per record.
const MAX_FRAGMENT: usize = 16 * 1024;

/// What a session holds between calls; see the module header.
#[derive(Default)]
pub(super) struct Held {
    pub(super) incoming: Vec<u8>,
    pub(super) plaintext: Vec<u8>,
    /// How much of `plaintext` the connection has taken.
    pub(super) plaintext_taken: usize,
    pub(super) outgoing: Vec<u8>,
    /// How much of `outgoing` the socket has taken.
    pub(super) sent: usize,
    pub(super) early: Vec<u8>,
    /// The peer's `close_notify` has arrived.
    pub(super) peer_closed: bool,
}

/// Where decrypted application data goes: the connection's room first,
/// `Held::plaintext` for what does not fit.
pub(super) struct Decrypted<'a> {
    pub(super) room: &'a mut [u8],
    pub(super) filled: usize,
}

impl Held {
    /// Hands on plaintext kept from an earlier record, if any.
    pub(super) fn take_plaintext(&mut self, room: &mut [u8]) -> Option<usize> {
        let kept = &self.plaintext[self.plaintext_taken..];
        if kept.is_empty() {
            return None;
        }
        let n = kept.len().min(room.len());
        room[..n].copy_from_slice(&kept[..n]);
        self.plaintext_taken += n;
        if self.plaintext_taken == self.plaintext.len() {
            self.plaintext.clear();
            self.plaintext_taken = 0;
        }
        Some(n)
    }

    /// A decrypted record: into the connection's room while it has some
    /// (and nothing kept is waiting in front), the rest kept.
    pub(super) fn deliver(&mut self, payload: &[u8], out: &mut Decrypted<'_>) {
        let fits = if self.plaintext.is_empty() {
            payload.len().min(out.room.len() - out.filled)
        } else {
            0
        };
        out.room[out.filled..out.filled + fits].copy_from_slice(&payload[..fits]);
        out.filled += fits;
        self.plaintext.extend_from_slice(&payload[fits..]);
    }

    /// Appends a handshake record to `outgoing`.
    pub(super) fn append_encoded(
        &mut self,
        mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> io::Result<()> {
        append(&mut self.outgoing, 1024, |buf| {
            encode(buf).map_err(|err| match err {
                EncodeError::InsufficientSize(size) => Ok(size.required_size),
                other => Err(tls_error(other)),
            })
        })
    }

    /// Appends sealed records carrying `len` bytes to `outgoing`.
    pub(super) fn append_sealed(
        &mut self,
        mut encrypt: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
        len: usize,
    ) -> io::Result<()> {
        let guess = len + (len / MAX_FRAGMENT + 1) * RECORD_OVERHEAD;
        append(&mut self.outgoing, guess, |buf| {
            encrypt(buf).map_err(|err| match err {
                EncryptError::InsufficientSize(size) => Ok(size.required_size),
                other => Err(tls_error(other)),
            })
        })
    }
}

/// Appends to `out` what `write` writes, giving it the room it asks for:
/// `write` fails with `Ok(size)` when it needs `size` bytes of room.
fn append(
    out: &mut Vec<u8>,
    guess: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Result<usize, io::Error>>,
) -> io::Result<()> {
    let start = out.len();
    let mut room = guess;
    loop {
        out.resize(start + room, 0);
        match write(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(Ok(needed)) if needed > room => room = needed,
            Err(Ok(_)) => {
                out.truncate(start);
                return Err(tls_error("rustls asked for less room than it was given"));
            }
            Err(Err(err)) => {
                out.truncate(start);
                return Err(err);
            }
        }
    }
}

pub(super) fn tls_error(err: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {err}"))
}
