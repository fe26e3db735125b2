//! The ciphertext a session takes from its socket (`session.rs` drives
//! it): read within the turn's share, handed to sunset, and held where
//! sunset takes none yet (it holds one packet at a time).
//!
//! The share bounds one connection's work per turn of the reactor: at
//! most [`TURN_CIPHERTEXT`] is read between two calls of
//! [`Intake::begin_turn`]; past it a read stops as if the socket had
//! nothing more, [`Intake::spent`] says so, and the connection takes its
//! next turn from the ready list, not from an event (none would come for
//! bytes already arrived). Every loop of the session reads through this
//! one door, so neither a fast upload nor a stream of packets that carry
//! no channel data (`SSH_MSG_IGNORE`, keepalives, a key exchange's) holds
//! the loop from the other connections.

use std::io::Read;

use mio::net::TcpStream;
use sunset::Runner;

use crate::wire::socket::{self, Outcome};

use super::events::ssh_error;

/// Most ciphertext read from the socket in one turn (see the module's
/// docs): half the connection's own turn budget of bytes, so a transfer
/// yields every millisecond or so of decryption and pays one more
/// `epoll_wait` per MiB for it.
pub(super) const TURN_CIPHERTEXT: usize = 1024 * 1024;

/// A session's ciphertext on its way in.
#[derive(Debug)]
pub(super) struct Intake {
    /// Ciphertext read from the socket that sunset has not taken yet.
    held: Vec<u8>,
    /// What the socket may give in a turn ([`TURN_CIPHERTEXT`]).
    share: usize,
    /// What is left of it this turn.
    allowance: usize,
    /// A read stopped this turn for want of allowance, with the socket
    /// not known to be drained.
    spent: bool,
}

impl Intake {
    pub(super) fn new() -> Intake {
        Intake::with_share(TURN_CIPHERTEXT)
    }

    /// An intake that reads at most `share` bytes a turn.
    pub(super) fn with_share(share: usize) -> Intake {
        Intake {
            held: Vec::new(),
            share,
            allowance: share,
            spent: false,
        }
    }

    /// A turn of the reactor begins: the socket may give a share more.
    pub(super) fn begin_turn(&mut self) {
        self.allowance = self.share;
        self.spent = false;
    }

    /// Whether a read stopped this turn for want of allowance.
    pub(super) fn spent(&self) -> bool {
        self.spent
    }

    /// Whether ciphertext waits here for sunset.
    pub(super) fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// Drops the held buffer if it holds nothing: a session at rest holds
    /// no buffer of its own.
    pub(super) fn rest(&mut self) {
        if self.held.is_empty() {
            self.held = Vec::new();
        }
    }

    /// Reads ciphertext into `spare` (not empty), at most what is left of
    /// the turn's share: `Done(n)`, or the socket's outcome; `WouldBlock`
    /// once the share is spent.
    pub(super) fn read(&mut self, stream: &TcpStream, spare: &mut [u8]) -> Outcome {
        if self.allowance == 0 {
            self.spent = true;
            return Outcome::WouldBlock;
        }
        let most = spare.len().min(self.allowance);
        let read = socket::retry(|| (&mut &*stream).read(&mut spare[..most]));
        match read {
            Ok(0) => Outcome::Eof,
            Ok(n) => {
                self.allowance -= n;
                Outcome::Done(n)
            }
            Err(err) => socket::classify(err),
        }
    }

    /// Hands sunset what it takes of the held ciphertext.
    pub(super) fn feed_held(
        &mut self,
        runner: &mut Runner<'static, sunset::Server>,
    ) -> Result<(), Outcome> {
        let held = std::mem::take(&mut self.held);
        self.feed(runner, &held)
    }

    /// Hands `bytes` to sunset, holding what it does not take yet.
    pub(super) fn feed(
        &mut self,
        runner: &mut Runner<'static, sunset::Server>,
        mut bytes: &[u8],
    ) -> Result<(), Outcome> {
        while !bytes.is_empty() && runner.is_input_ready() {
            match runner.input(bytes) {
                Ok(0) => break,
                Ok(n) => bytes = &bytes[n..],
                Err(err) => return Err(Outcome::Error(ssh_error(err))),
            }
        }
        self.held.extend_from_slice(bytes);
        Ok(())
    }
}
