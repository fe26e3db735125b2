//! A connection's turn: moving bytes until the socket would block, the
//! state waits for the I/O pool, or the turn's budget is spent. Queued
//! output goes first; then the state says what moves next (a request head
//! read, a body received or sent, a closing connection's last bytes).

use std::mem;

use log::{debug, warn};
use mio::Interest;

use super::{
    Connection, Env, FAREWELL, KEEP_CAPACITY, LAST_REQUEST_DUE, MIN_OPERATION_COST, PEER_EOF,
    REQUEST_COST, SEND_CHUNK, State, Step, TURN_BUDGET, Wait,
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
    pub(super) fn spoke_plaintext(&mut self) {
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
