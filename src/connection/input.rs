//! A connection's input: reading what the state asks for and feeding it
//! to the state machine. Bytes go behind what the connection holds, or
//! into its own buffer once a large body is in hand, or straight into an
//! upload's write buffer (read in place); what a read that moved nothing
//! means; how much to ask for. A large read that an upload wrote to its
//! file here, on the loop, is followed by another at once: its sender
//! refilled the socket during the write.

use std::mem;

use mio::Interest;

use super::{
    Connection, Env, HEADER_READ, HELD_INPUT_BUDGET, KEEP_CAPACITY, LAST_REQUEST_DUE, LEAN_READ,
    PEER_EOF, State, Step,
};
use crate::serve;
use crate::wire::socket::Outcome;

/// A read at least this large, written to its file on the loop, is read
/// after at once (`Connection::after_burst_written`): a burst's sender
/// refills the socket during the write. curl's PUT of 1 GiB to a memory
/// root, loopback: 98 KB a read and one `epoll_wait` each before; with
/// this, 3.3k `epoll_wait` per GiB against 10.9k, and 3 % of the reads
/// answered `EAGAIN`. A run of reads ends at one below this size, which
/// is why the waits did not fall further. Below it, a trickle (a few
/// segments a read) waits for its event, not for an `EAGAIN` after every
/// write.
const BURST_READ: usize = 16 * 1024;

impl Connection {
    /// Feeds buffered input to the state machine, reading more if needed.
    pub(super) fn pump_input(
        &mut self,
        scratch: &mut [u8],
        env: &mut Env<'_>,
    ) -> Result<usize, Step> {
        if !self.input.is_empty() {
            let queued = self.output.len();
            let before = mem::discriminant(&self.state);
            let input = mem::take(&mut self.input);
            let used = self.consume(&input, env);
            self.keep_held(input, used);
            // A fatal error uses no bytes but queues an answer and ends the
            // connection: that is progress too, to be flushed, not a reason
            // to wait for more input.
            if used > 0 || self.output.len() > queued || mem::discriminant(&self.state) != before {
                return Ok(used);
            }
        }
        if self.flag(PEER_EOF) {
            self.on_eof();
            return Ok(0);
        }
        if self.input.is_empty()
            && let Some(read) = self.read_body_in_place(scratch, env.served.config)
        {
            return read.or_else(|outcome| self.read_ended(outcome, env));
        }
        // Not enough buffered to act on: read more behind what we hold,
        // a copy of it in scratch; or, past a quarter of scratch (a large
        // body in hand), into its own buffer, which is not copied again.
        let held = self.input.len();
        let behind = held <= scratch.len() / 4;
        let at = if behind { held } else { 0 };
        scratch[..at].copy_from_slice(&self.input[..at]);
        let room = self.transport.read_room(scratch.len() - at);
        let want = self.read_size(*env.held_input).min(room);
        let (read_into, spare) = scratch[at..].split_at_mut(want);
        let read = self.transport.read(read_into, spare);
        self.take_session_news(env.now);
        match read {
            Outcome::Done(n) if behind => {
                self.bytes_in += n as u64;
                let data = &scratch[..held + n];
                let used = self.consume(data, env);
                self.keep_input(&data[used..]);
                self.after_burst_written(n);
                Ok(n)
            }
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.input.extend_from_slice(&scratch[..n]);
                let input = mem::take(&mut self.input);
                let used = self.consume(&input, env);
                self.keep_held(input, used);
                self.after_burst_written(n);
                Ok(n)
            }
            other => self.read_ended(other, env),
        }
    }

    /// A read of `n` bytes went on to its file here, on the loop: if it was
    /// a burst (a peer sending faster than one read takes), more has
    /// likely arrived during the write, and the next read asks the socket
    /// at once (`Transport::may_have_more`). A trickle's short read still
    /// waits for its event, not for an `EAGAIN`.
    fn after_burst_written(&mut self, n: usize) {
        if n >= BURST_READ
            && let State::ReceivingBody(receive) = &self.state
            && receive.writes_as_fed()
        {
            self.transport.may_have_more();
        }
    }

    /// A body written behind is read straight into the pool's buffer
    /// ([`serve::Receive::read_target`]), not into `scratch` and a copy:
    /// `None` where the state takes no such read, else what the read did.
    fn read_body_in_place(
        &mut self,
        scratch: &mut [u8],
        config: &crate::config::Config,
    ) -> Option<Result<usize, Outcome>> {
        let State::ReceivingBody(receive) = &mut self.state else {
            return None;
        };
        let target = receive.read_target(config)?;
        Some(match self.transport.read(target, scratch) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                receive.took_in_place(n);
                let State::ReceivingBody(receive) = mem::replace(&mut self.state, State::Done)
                else {
                    unreachable!("matched above");
                };
                self.state = self.enter(serve::Next::Receive(receive));
                Ok(n)
            }
            other => Err(other),
        })
    }

    /// What a read that moved no bytes means: the peer finished or
    /// failed, spoke plaintext to TLS, or all that has arrived is in.
    fn read_ended(&mut self, outcome: Outcome, env: &Env<'_>) -> Result<usize, Step> {
        match outcome {
            Outcome::Done(_) => unreachable!("a read that moved bytes is taken by its caller"),
            Outcome::Eof => {
                self.set_flag(PEER_EOF, true);
                Ok(0)
            }
            Outcome::NotTls => {
                self.spoke_plaintext();
                Ok(0)
            }
            // Shutting down, all that has arrived is in, and what seemed a
            // request beginning was none (blank lines, a TLS alert): the
            // connection is idle after all.
            Outcome::WouldBlock
                if env.shutting_down
                    && self.flag(LAST_REQUEST_DUE)
                    && matches!(self.state, State::AwaitHeader)
                    && crate::serve::decoded::after_blank_lines(&self.input).is_empty() =>
            {
                Err(Step::Close)
            }
            // All that has arrived is in. A session's gathered bytes are
            // written now (`take_job`), not once more comes (it may never: a
            // link gone silent), so staged bytes are on disk as promptly as
            // when written directly; a PUT's wait for a full buffer
            // (`Receive::take_write`).
            Outcome::WouldBlock => Err(Step::Wait(Interest::READABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Keeps what `consume` left of `input`, the connection's own buffer:
    /// as it is where nothing was used (a body in hand still arriving is
    /// not copied on every read).
    fn keep_held(&mut self, input: Vec<u8>, used: usize) {
        match used {
            0 => self.input = input,
            _ => self.keep_input(&input[used..]),
        }
    }

    fn keep_input(&mut self, rest: &[u8]) {
        if self.input.capacity() > KEEP_CAPACITY.max(rest.len()) {
            // No large buffer kept for a small remainder.
            self.input = Vec::new();
        }
        self.input.clear();
        self.input.extend_from_slice(rest);
    }

    /// How much to read now: enough for the body in hand plus what follows
    /// it, as much as [`HEADER_READ`] while the server holds little input.
    fn read_size(&self, held_input: usize) -> usize {
        let ahead = if held_input < HELD_INPUT_BUDGET {
            HEADER_READ
        } else {
            LEAN_READ
        };
        let body_left = match &self.state {
            // Deferred writes: no more than the buffers take.
            State::ReceivingBody(receive) => receive.wanted(),
            State::DrainingBody { left } => *left,
            _ => 0,
        };
        // A body's own bytes are never held: they go to their file at once.
        usize::try_from(body_left).unwrap_or(usize::MAX).max(ahead)
    }
}
