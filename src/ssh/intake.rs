//! The ciphertext a session takes from its socket (`session.rs` drives
//! it): read within the turn's share, handed to sunset, and held where
//! sunset takes none yet (it holds one packet at a time). What is held is
//! taken from the front by an offset, never copied down: a read of 256
//! KiB is eight packets of 32 KiB, and copying the rest down after each
//! one moved four times the data (4% of an upload's CPU).
//!
//! The share bounds one connection's work per turn of the reactor
//! (`wire/turn_share.rs`, TLS's too): every loop of the session reads
//! through this one door, so neither a fast upload nor a stream of
//! packets that carry no channel data (`SSH_MSG_IGNORE`, keepalives, a
//! key exchange's) holds the loop from the other connections.

use mio::net::TcpStream;
use sunset::Runner;

use crate::wire::socket::Outcome;
use crate::wire::turn_share::TurnShare;

use super::events::ssh_error;

/// Most ciphertext one read takes: a few packets, so that what sunset
/// has not taken yet stays small.
pub(super) const READ_MOST: usize = 256 * 1024;

/// A session's ciphertext on its way in.
#[derive(Debug)]
pub(super) struct Intake {
    /// Ciphertext read from the socket; sunset has taken `held[..at]`.
    held: Vec<u8>,
    at: usize,
    /// What the socket may still give this turn.
    share: TurnShare,
}

impl Intake {
    pub(super) fn new() -> Intake {
        Intake::with_share(TurnShare::default())
    }

    /// An intake that reads at most `share` a turn.
    pub(super) fn with_share(share: TurnShare) -> Intake {
        Intake {
            held: Vec::new(),
            at: 0,
            share,
        }
    }

    /// A turn of the reactor begins: the socket may give a share more.
    pub(super) fn begin_turn(&mut self) {
        self.share.begin_turn();
    }

    /// Whether a read stopped this turn for want of allowance.
    pub(super) fn spent(&self) -> bool {
        self.share.spent()
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
        self.share.read(stream, spare)
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
