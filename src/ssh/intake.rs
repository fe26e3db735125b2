//! The ciphertext a session takes from its socket (`session.rs` drives
//! it): read within the turn's share, handed to sunset, and held where
//! sunset takes none yet (it holds one packet at a time). What is held is
//! taken from the front by an offset, never copied down: a read of 256
//! KiB is eight packets of 32 KiB, and copying the rest down after each
//! one moved four times the data (4% of an upload's CPU).
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

/// Most ciphertext one read takes: a few packets, so that what sunset
/// has not taken yet stays small.
pub(super) const READ_MOST: usize = 256 * 1024;

/// A session's ciphertext on its way in.
#[derive(Debug)]
pub(super) struct Intake {
    /// Ciphertext read from the socket; sunset has taken `held[..at]`.
    held: Vec<u8>,
    at: usize,
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
            at: 0,
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
        self.at < self.held.len()
    }

    /// How many bytes wait here for sunset.
    pub(super) fn held(&self) -> usize {
        self.held.len() - self.at
    }

    /// Drops the held buffer if it holds nothing: a session at rest holds
    /// no buffer of its own.
    pub(super) fn rest(&mut self) {
        if !self.holds() {
            self.held = Vec::new();
            self.at = 0;
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
        let taken = input(runner, &self.held[self.at..])?;
        self.at += taken;
        if self.at == self.held.len() {
            // All taken: no buffer is kept between reads (as at rest).
            self.rest();
        }
        Ok(())
    }

    /// Hands `bytes` (read with nothing held) to sunset, holding what it
    /// does not take yet.
    pub(super) fn feed(
        &mut self,
        runner: &mut Runner<'static, sunset::Server>,
        bytes: &[u8],
    ) -> Result<(), Outcome> {
        debug_assert!(!self.holds(), "read past ciphertext held");
        let taken = input(runner, bytes)?;
        // The one copy of what sunset has not taken: `bytes` are the
        // reactor's, lent for this read only.
        self.held = bytes[taken..].to_vec();
        self.at = 0;
        Ok(())
    }
}

/// Hands sunset what it takes of `bytes`: how many it took.
fn input(runner: &mut Runner<'static, sunset::Server>, bytes: &[u8]) -> Result<usize, Outcome> {
    let mut taken = 0;
    while taken < bytes.len() && runner.is_input_ready() {
        match runner.input(&bytes[taken..]) {
            Ok(0) => break,
            Ok(n) => taken += n,
            Err(err) => return Err(Outcome::Error(ssh_error(err))),
        }
    }
    Ok(taken)
}
