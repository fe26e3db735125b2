//! A connection's last moves: its last answer out, then a FIN and a
//! linger over what the peer still sends (so no reset overtakes the
//! answer), or a close at once where nothing is unread.
//!
//! And the last word to a connection closed mid-upload when the shutdown's
//! grace period ends: `503` (try again; HTTP's with `Retry-After`), where
//! a bare close left the client with a broken pipe and no status. The
//! upload is taken from it (the reactor ends it as a cut one), the answer
//! queued as its last, and the connection lingers (reading and dropping
//! what its client still sends, so no reset overtakes the answer) for
//! the short farewell the reactor gives it before it closes everything.

use mio::Interest;

use super::{Connection, FAREWELL, LINGER_LIMIT, PEER_EOF, State, Step, clamp_to};
use crate::serve::Receive;
use crate::serve::decoded::Refusal;
use crate::wire::socket::Outcome;

impl Connection {
    /// The upload a connection was still receiving as the grace period
    /// ended, taken for the reactor to end; the connection then says
    /// `503` and lingers. `None` (and nothing changed) for any other.
    pub fn refuse_unfinished_upload(&mut self) -> Option<Box<Receive>> {
        let receive = self.abandon_upload()?;
        self.note_cut(503, receive.progress().0);
        let refusal = Refusal {
            code: 503,
            message: "the server is shutting down: send it again".to_owned(),
            skip: None,
        };
        self.codec.refuse(&refusal, true, &mut self.output);
        self.set_flag(FAREWELL, true);
        Some(receive)
    }
}

impl Connection {
    /// `Done`: the last answer is out. Close, or if the peer may still be
    /// sending, say so with a FIN and linger over what it sends.
    pub(super) fn after_last_answer(&mut self) -> Result<usize, Step> {
        match self.transport.finish() {
            Outcome::Done(_) => {}
            Outcome::WouldBlock => return Err(Step::Wait(Interest::WRITABLE)),
            Outcome::NotResumed => return Err(self.socket_failed(Outcome::NotResumed)),
            _ => return Err(Step::Close),
        }
        if self.flag(PEER_EOF) {
            return Err(Step::Close);
        }
        // The peer then sees our FIN after the last byte.
        let _ = self.transport.stream().shutdown(std::net::Shutdown::Write);
        self.state = State::Lingering { left: LINGER_LIMIT };
        Ok(0)
    }

    /// `Ended`: the answer said it was the last (HTTP's `Connection:
    /// close`). Nothing unread: closing now sends no reset; something
    /// after all: linger over it, as `Done` does.
    pub(super) fn end_after_last(&mut self, scratch: &mut [u8]) -> Result<usize, Step> {
        match self.transport.finish() {
            Outcome::Done(_) => {}
            Outcome::WouldBlock => return Err(Step::Wait(Interest::WRITABLE)),
            Outcome::NotResumed => return Err(self.socket_failed(Outcome::NotResumed)),
            _ => return Err(Step::Close),
        }
        match self.transport.read_raw(scratch) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.state = State::Done;
                Ok(n)
            }
            _ => Err(Step::Close),
        }
    }

    /// Reads and discards input until the peer closes or `left` runs out.
    pub(super) fn linger(&mut self, scratch: &mut [u8], left: u64) -> Result<usize, Step> {
        let want = clamp_to(left, scratch.len());
        if want == 0 {
            return Err(Step::Close);
        }
        match self.transport.read_raw(&mut scratch[..want]) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.state = State::Lingering {
                    left: left - n as u64,
                };
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::READABLE)),
            _ => Err(Step::Close),
        }
    }
}
