//! A connection's share of its socket per turn of the reactor: what a
//! session that reads ahead of the connection (TLS's records, SSH's
//! packets) may take from the socket between two calls of
//! [`TurnShare::begin_turn`]. Past it a read stops as if the socket had
//! nothing more, [`TurnShare::spent`] says so, and the connection takes
//! its next turn from the ready list, not from an event (none would come
//! for bytes already arrived).
//!
//! Why it is needed beside the connection's own budget of bytes: that
//! counts what reaches the connection, and a peer can send much that never
//! does (TLS records without data, SSH's `IGNORE` packets, keepalives, a
//! key exchange's), which a session's read loop would take for as long as
//! the peer keeps sending, the other connections of the loop waiting.
//! Every read of such a session goes through this one door.

use std::io::Read;

use mio::net::TcpStream;

use super::socket::{self, Outcome};

/// Most a session reads from its socket in one turn: half the
/// connection's own turn budget of bytes (`connection/mod.rs`), so a
/// transfer yields every millisecond or so of decryption and pays one
/// more `epoll_wait` per MiB for it.
pub const TURN_SHARE: usize = 1024 * 1024;

/// What is left of a session's share this turn.
#[derive(Debug)]
pub struct TurnShare {
    /// What the socket may give in a turn ([`TURN_SHARE`]).
    share: usize,
    /// What is left of it this turn.
    allowance: usize,
    /// A read stopped this turn for want of allowance, with the socket
    /// not known to be drained.
    spent: bool,
}

impl Default for TurnShare {
    fn default() -> TurnShare {
        TurnShare::new(TURN_SHARE)
    }
}

impl TurnShare {
    /// A share of `share` bytes a turn.
    pub fn new(share: usize) -> TurnShare {
        TurnShare {
            share,
            allowance: share,
            spent: false,
        }
    }

    /// A turn of the reactor begins: the socket may give a share more.
    pub fn begin_turn(&mut self) {
        self.allowance = self.share;
        self.spent = false;
    }

    /// Whether a read stopped this turn for want of allowance.
    pub fn spent(&self) -> bool {
        self.spent
    }

    /// Reads into `buf` (not empty), at most what is left of the turn's
    /// share: `Done(n)`, `Eof`, or the socket's outcome; `WouldBlock` once
    /// the share is spent.
    pub fn read(&mut self, stream: &TcpStream, buf: &mut [u8]) -> Outcome {
        if self.allowance == 0 {
            self.spent = true;
            return Outcome::WouldBlock;
        }
        let most = buf.len().min(self.allowance);
        match socket::retry(|| (&mut &*stream).read(&mut buf[..most])) {
            Ok(0) => Outcome::Eof,
            Ok(n) => {
                self.allowance -= n;
                Outcome::Done(n)
            }
            Err(err) => socket::classify(err),
        }
    }
}
