//! A connection's turn: moving bytes until the socket would block, the
//! state waits for the I/O pool, or the turn's budget is spent. Queued
//! output goes first; then the state says what moves next (a request head
//! read, a body received or sent, a closing connection's last bytes).

use std::mem;

use log::{debug, warn};
use mio::Interest;

use super::{
    Connection, Env, FAREWELL, HEADER_READ, HELD_INPUT_BUDGET, KEEP_CAPACITY, LAST_REQUEST_DUE,
    LEAN_READ, MIN_OPERATION_COST, PEER_EOF, REQUEST_COST, SEND_CHUNK, State, Step, TURN_BUDGET,
    Wait,
};
use crate::serve;
use crate::wire::socket::{self, Outcome};

/// What a read made only to move a TLS handshake on takes of data that
/// may follow it (kept as input for the state).
const HANDSHAKE_ROOM: usize = 4096;

impl Connection {
    /// Makes as much progress as the socket, the disk and this turn's
    /// budget allow. `scratch` is the reactor-wide I/O buffer.
    pub fn drive(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Step {
        // During the turn the count is the other connections': what this
        // one may add to (a body in hand asks how much room is left).
        let held_before = self.held_input();
        *env.held_input = env.held_input.saturating_sub(held_before);
        let received_before = self.bytes_in;
        self.transport.begin_turn();
        let step = match self.transport.send_held() {
            // What TLS holds goes out whatever the state waits for.
            outcome @ (Outcome::Closed | Outcome::Error(_)) => self.socket_failed(outcome),
            _ => match self.drive_until_blocked(scratch, env) {
                // The session read its turn's share: the rest next turn.
                Step::Wait(_) if self.transport.spent() => Step::Yield,
                Step::Wait(wanted) => Step::Wait(self.transport.interest(wanted)),
                other => other,
            },
        };
        self.note_phase(env.now, self.bytes_in != received_before);
        if self.output.is_empty() && self.output.capacity() > 0 {
            // Nothing queued: an idle connection keeps no buffer at all.
            self.output = Vec::new();
        }
        self.transport.shed();
        *env.held_input += self.held_input();
        step
    }

    /// Bytes of input this connection holds (its buffer's capacity).
    pub fn held_input(&self) -> usize {
        self.input.capacity()
    }

    fn drive_until_blocked(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Step {
        let mut budget = TURN_BUDGET;
        loop {
            let requests_before = self.requests;
            let moved = match self.move_once(scratch, env) {
                Ok(moved) => moved,
                Err(step) => return step,
            };
            if moved > 0 {
                self.timing.progressed(env.now, moved);
            }
            // Work, not only bytes: a buffer of small pipelined requests is
            // many system calls for few bytes.
            let served = self.requests.saturating_sub(requests_before) as usize;
            let cost = moved.max(served * REQUEST_COST).max(MIN_OPERATION_COST);
            budget = budget.saturating_sub(cost);
            if budget == 0 {
                return Step::Yield;
            }
        }
    }

    /// One move: queued output first, else what the state asks for.
    /// `Ok(bytes moved)`, or the step that ends this turn.
    fn move_once(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Result<usize, Step> {
        let unsent = (self.sent as usize) < self.output.len();
        // States that may send before the client's handshake is through
        // (an FTP data connection's, handed its transfer as it connects):
        // the handshake is read first, since output sealed early waits in
        // the session, which holds only so much (a big listing would wait
        // forever). (Not the PROXY header's: it comes before TLS.)
        if self.transport.is_handshaking()
            && matches!(
                self.state,
                State::SendingBody(_)
                    | State::SendingHeld(_)
                    | State::Waiting(_)
                    | State::Done
                    | State::Ended
            )
        {
            if let Some(moved) = self.shake_hands(scratch) {
                return moved;
            }
            if !unsent
                && matches!(self.state, State::Done | State::Ended)
                && self.transport.is_handshaking()
            {
                // Its last answer, sealed once the handshake is through,
                // goes before the goodbye.
                return Err(Step::Wait(Interest::READABLE));
            }
        }
        if unsent {
            return self.flush();
        }
        match self.state {
            State::Done => self.after_last_answer(),
            State::Lingering { .. } if env.shutting_down && !self.flag(FAREWELL) => {
                Err(Step::Close)
            }
            State::Lingering { left } => self.linger(scratch, left),
            // A walk nobody will read is dropped: a client that reset the
            // connection has gone (one that half-closed still reads its
            // answers, PROTOCOL.md §8.4).
            State::Waiting(Wait::Asked { _ticket: Some(_) })
                if matches!(
                    socket::peek(self.transport.stream(), &mut scratch[..1]),
                    Outcome::Closed | Outcome::Error(_)
                ) =>
            {
                Err(Step::Close)
            }
            // Handed a request by another connection: served now.
            State::Waiting(Wait::Handed(_)) => {
                let State::Waiting(Wait::Handed(request)) =
                    mem::replace(&mut self.state, State::Done)
                else {
                    unreachable!("matched above");
                };
                self.state = self.serve_request(*request, env);
                Ok(0)
            }
            // The answer that TLS begins after is out.
            State::Waiting(Wait::Securing(_)) => {
                let State::Waiting(Wait::Securing(session)) =
                    mem::replace(&mut self.state, State::Done)
                else {
                    unreachable!("matched above");
                };
                self.state = self.begin_tls(*session);
                Ok(0)
            }
            // A transfer under way on its data connection, or waiting for
            // it to come: what comes is read (a line's worth at most) for
            // a command that stops it.
            State::Waiting(Wait::Transfer | Wait::Linked) => self.read_for_interrupt(scratch),
            // Nothing to do until the I/O pool (or the reactor) reports back.
            State::Waiting(_) => Err(Step::Wait(self.interest)),
            // A peer that has gone waits too while a write is away: its
            // temp file goes (`on_eof`) only once the sink is back, before
            // the answer is queued.
            State::ReceivingBody(ref receive)
                if receive.waits_for_write() || (self.flag(PEER_EOF) && receive.is_writing()) =>
            {
                Err(Step::Wait(self.interest))
            }
            State::SendingBody(_) => self.send_body(scratch, env.alone),
            State::SendingHeld(_) => self.send_held(),
            State::AwaitHeader | State::ProxyHeader
                if env.shutting_down && !self.flag(LAST_REQUEST_DUE) =>
            {
                Err(Step::Close)
            }
            State::ProxyHeader => self.read_proxy_header(scratch),
            // The last answer said it was the last (HTTP).
            State::AwaitHeader if self.codec.is_closing() => {
                self.state = State::Ended;
                Ok(0)
            }
            State::Ended => self.end_after_last(scratch),
            _ => self.pump_input(scratch, env),
        }
    }

    /// A TLS handshake goes on by reading, even where the state reads
    /// nothing: a download may begin before its client's handshake is
    /// through (an FTP data connection's, handed its `RETR` as it
    /// connects). `None` when nothing more has come: the state's turn.
    /// Bytes of data that follow the handshake are kept for the state.
    fn shake_hands(&mut self, scratch: &mut [u8]) -> Option<Result<usize, Step>> {
        let (room, spare) = scratch.split_at_mut(scratch.len() / 2);
        match self.transport.read(&mut room[..HANDSHAKE_ROOM], spare) {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.input.extend_from_slice(&room[..n]);
                Some(Ok(n))
            }
            Outcome::WouldBlock => None,
            // An FTP data connection's (PROT P), whose transfer was handed
            // to it before its client said a word.
            Outcome::NotTls => {
                self.spoke_plaintext();
                Some(Ok(0))
            }
            other => Some(Err(self.socket_failed(other))),
        }
    }

    /// The peer spoke plaintext where TLS was due (or ended before its
    /// handshake was through): whatever the state was about ends unanswered
    /// in TLS (nothing sealed goes out in the clear), and the codec says
    /// why in plaintext, which is what the peer understands.
    fn spoke_plaintext(&mut self) {
        debug!(
            "#{} spoke plaintext to a TLS port, or left mid-handshake",
            self.id
        );
        self.transport.drop_tls();
        // What was queued to be sealed (a listing's lines) is dropped.
        self.output.clear();
        self.sent = 0;
        self.codec.plaintext_on_tls_port(&mut self.output);
        self.state = State::Done;
    }

    /// The peer's TLS session did not resume the one it had to (an FTPS
    /// data connection's): the state ends with nothing moved, the codec
    /// says why (to the control connection), and the session ends with
    /// `close_notify` as any: the client reads a clean end, then the reason.
    fn not_resumed(&mut self) {
        warn!("#{} TLS session not resumed where it had to be", self.id);
        self.output.clear();
        self.sent = 0;
        self.codec.tls_not_resumed();
        self.state = State::Done;
    }

    /// Sends queued output. `Ok(bytes)` on progress.
    fn flush(&mut self) -> Result<usize, Step> {
        let more = matches!(self.state, State::SendingBody(_) | State::SendingHeld(_));
        debug_assert!(
            u32::try_from(self.output.len()).is_ok(),
            "output over 4 GiB"
        );
        match self
            .transport
            .write(&self.output[self.sent as usize..], more)
        {
            Outcome::Done(n) => {
                self.sent += n as u32;
                self.bytes_out += n as u64;
                if self.sent as usize == self.output.len() {
                    self.output.clear();
                    self.sent = 0;
                    if self.output.capacity() > KEEP_CAPACITY {
                        self.output = Vec::new();
                    }
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::WRITABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Sends what is left of a listing's answer held in memory; once it
    /// is out, its room is given back and the next request is welcome.
    fn send_held(&mut self) -> Result<usize, Step> {
        let State::SendingHeld(held) = &mut self.state else {
            unreachable!("send_held outside SendingHeld");
        };
        let rest = held.rest();
        match self
            .transport
            .write(&rest[..rest.len().min(TURN_BUDGET)], false)
        {
            Outcome::Done(n) => {
                held.advance(n);
                self.bytes_out += n as u64;
                if held.left() == 0 {
                    self.state = self.enter(serve::Next::Request);
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::WRITABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Sends the next piece of a GET body; `alone`: the loop's last
    /// drives were all of this connection (a big piece may go corked).
    fn send_body(&mut self, scratch: &mut [u8], alone: bool) -> Result<usize, Step> {
        let State::SendingBody(send) = &mut self.state else {
            unreachable!("send_body outside SendingBody");
        };
        let Some(cached) = send.cached_ahead() else {
            let State::SendingBody(send) = mem::replace(&mut self.state, State::Done) else {
                unreachable!("matched above");
            };
            self.state = self.enter(serve::read_ahead(*send));
            return Ok(0);
        };
        let chunk = send.left.min(cached).min(SEND_CHUNK) as usize;
        match self
            .transport
            .send_body(&send.body, (send.offset, chunk), scratch, alone)
        {
            Outcome::Done(n) => {
                send.advance(n as u64);
                self.bytes_out += n as u64;
                if send.left == 0 {
                    let State::SendingBody(send) = mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("matched above");
                    };
                    self.state = self.enter(serve::sent(self.id, *send));
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::WRITABLE)),
            other => Err(self.socket_failed(other)),
        }
    }

    /// Feeds buffered input to the state machine, reading more if needed.
    fn pump_input(&mut self, scratch: &mut [u8], env: &mut Env<'_>) -> Result<usize, Step> {
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
                Ok(n)
            }
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.input.extend_from_slice(&scratch[..n]);
                let input = mem::take(&mut self.input);
                let used = self.consume(&input, env);
                self.keep_held(input, used);
                Ok(n)
            }
            other => self.read_ended(other, env),
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

    /// Logs a socket failure and says to close (a TLS session that did not
    /// resume as it had to says goodbye first).
    pub(super) fn socket_failed(&mut self, outcome: Outcome) -> Step {
        let busy = !matches!(
            self.state,
            State::ProxyHeader
                | State::AwaitHeader
                | State::Ended
                | State::Done
                | State::Lingering { .. }
        );
        match outcome {
            Outcome::Error(err) => warn!("#{} socket error: {err}", self.id),
            Outcome::NotResumed => {
                self.not_resumed();
                // Its goodbye (`close_notify`, then the linger) next turn.
                return Step::Yield;
            }
            _ if busy => warn!("#{} peer went away mid-request", self.id),
            _ => debug!("#{} peer went away", self.id),
        }
        Step::Close
    }
}
