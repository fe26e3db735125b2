//! The state machine's transitions over input: decode a request with the
//! codec, serve it, encode the reply and enter the state the serve layer
//! asked for; stream body bytes into their sink (fixed-length or chunked),
//! echo or discard them. Part of the connection (see `mod.rs`); everything
//! here runs inside [`Connection::drive`].

use std::mem;

use log::{info, warn};

use super::note::Note;
use super::{
    CUT, Connection, Env, HELD_INPUT_BUDGET, LAST_REQUEST_DUE, OUTPUT_HIGH_WATER, REQUEST_COST,
    State, TURN_BUDGET, Wait, clamp_to,
};
use crate::connection::codec::Decoded;
use crate::http::origin::Site;
use crate::metrics;
use crate::serve::{
    self, Ctx, ErrorKind, Failure, Guard, Next, Outcome, Reply, Request, Send, Sender, Verb,
};

/// GET bodies up to this size are sent from the output queue together with
/// the response head, not with `sendfile`.
const INLINE_BODY: u64 = 16 * 1024;
/// Requests served from one buffer before the turn budget is consulted:
/// the most one turn allows anyway.
const REQUESTS_PER_PASS: usize = TURN_BUDGET / REQUEST_COST;

/// Room reserved for a response head, so that the head and an inline body
/// take one allocation.
const HEAD_ROOM: usize = 512;

impl Connection {
    /// Runs the state machine over `data`; returns the bytes it used. Stops
    /// after [`REQUESTS_PER_PASS`] requests, so that a buffer full of tiny
    /// pipelined requests is served a share at a time (the rest stays
    /// buffered for the next pass, and the turn budget counts each one).
    pub(super) fn consume(&mut self, data: &[u8], env: &mut Env<'_>) -> usize {
        let mut used = 0;
        let first_request = self.requests;
        while used < data.len()
            && (self.requests.saturating_sub(first_request) as usize) < REQUESTS_PER_PASS
        {
            let state = mem::replace(&mut self.state, State::Done);
            let (next, n) = self.advance(state, &data[used..], env);
            self.state = next;
            if n == 0 {
                break;
            }
            if n > data.len() - used {
                // A codec that claims more than it was given is broken: this
                // connection ends, not every one (a slice past the input's
                // end would abort the server).
                debug_assert!(false, "{n} bytes used of {}", data.len() - used);
                log::error!(
                    "{}: {n} bytes used of {}: closed",
                    self.peer(),
                    data.len() - used
                );
                self.state = State::Done;
                return data.len();
            }
            used += n;
        }
        used
    }

    /// One transition: returns the next state and the bytes of `data` used;
    /// 0 means nothing more can happen with input until output drains.
    fn advance(&mut self, state: State, data: &[u8], env: &mut Env<'_>) -> (State, usize) {
        match state {
            State::AwaitHeader => {
                // Shutting down, only a request that had begun to arrive is
                // still taken.
                let stopped = env.shutting_down && !self.flag(LAST_REQUEST_DUE);
                if self.output.len() >= OUTPUT_HIGH_WATER || stopped {
                    return (State::AwaitHeader, 0);
                }
                if self.codec.is_closing() {
                    return (State::Ended, 0);
                }
                self.next_request(data, env)
            }
            State::ReceivingBody(receive) => {
                let sender = Sender {
                    client: self.id,
                    peer: self.peer(),
                    access: env.access,
                };
                match receive.feed(data, env.served.config, sender) {
                    (used, Ok(receive)) => (self.enter(Next::Receive(receive)), used),
                    (used, Err(ended)) => (self.apply(ended), used),
                }
            }
            State::DrainingBody { left } => {
                let take = clamp_to(left, data.len());
                let next = match left - take as u64 {
                    0 => self.enter(Next::Request),
                    left => State::DrainingBody { left },
                };
                (next, take)
            }
            State::EchoingBody { left } => {
                let room = OUTPUT_HIGH_WATER.saturating_sub(self.output.len());
                let take = clamp_to(left, data.len().min(room));
                self.output.extend_from_slice(&data[..take]);
                let next = match left - take as u64 {
                    0 => self.enter(Next::Request),
                    left => State::EchoingBody { left },
                };
                (next, take)
            }
            state @ (State::ProxyHeader
            | State::SendingBody(_)
            | State::SendingHeld(_)
            | State::Waiting(_)
            | State::Ended
            | State::Done
            | State::Lingering { .. }) => (state, 0),
        }
    }

    /// AwaitHeader: decode the next request and serve it, or answer the
    /// codec's refusal.
    fn next_request(&mut self, data: &[u8], env: &mut Env<'_>) -> (State, usize) {
        let site = Site {
            web: &env.served.config.web,
            access_on: env.access.is_on(),
            tls: env.served.config.tls.is_some(),
        };
        // A large body in hand fits beside what the others hold.
        let room = HELD_INPUT_BUDGET.saturating_sub(*env.held_input) as u64;
        let decoded = self.codec.decode(data, site, room);
        if !matches!(decoded, Decoded::Incomplete | Decoded::GoAhead) {
            // A new exchange: the last one's line is written (already, as
            // each ends in `enter`; this is the net under it).
            self.log_exchange();
            if self.flag(LAST_REQUEST_DUE) {
                self.set_flag(LAST_REQUEST_DUE, false);
                // The request the server took while shutting down: its
                // answer is the last, and says so.
                self.codec.answer_is_last();
            }
        }
        match decoded {
            Decoded::Incomplete => (State::AwaitHeader, 0),
            Decoded::GoAhead => {
                self.codec.encode(&Reply::GoAhead, false, &mut self.output);
                (State::AwaitHeader, 0)
            }
            Decoded::Request(request, used) => (self.serve_request(request, env), used),
            Decoded::Link(link, used) => {
                // The reactor takes it after this turn (`link.rs`).
                self.requests = self.requests.saturating_add(1);
                (State::Waiting(Wait::Link(link)), used)
            }
            Decoded::Answered(used) => {
                // Counted against the turn's budget as any request: a
                // buffer of pipelined NOOPs is served a share at a time.
                self.requests = self.requests.saturating_add(1);
                self.codec.answered(&mut self.output);
                let next = match self.codec.is_closing() {
                    true => Next::Close,
                    false => Next::Request,
                };
                (self.enter(next), used)
            }
            Decoded::Refused(refusal) => {
                warn!(
                    "#{} bad request: {} {}",
                    self.id, refusal.code, refusal.message
                );
                let (used, next) = match refusal.skip {
                    Some((used, body)) => (used, serve::skip_body(body, env.served.config)),
                    None => (0, Next::Close),
                };
                let last = matches!(next, Next::Close);
                self.operation = Verb::INVALID;
                self.note = None;
                metrics::count_request(Verb::INVALID, Some(refusal.code));
                self.note_answer(Some(refusal.code), None, false);
                self.codec.refuse(&refusal, last, &mut self.output);
                (self.enter(next), used)
            }
        }
    }

    /// Serves `request` (decoded here, or handed over by another
    /// connection) and enters the state its outcome leads to.
    pub(super) fn serve_request(&mut self, request: Request, env: &mut Env<'_>) -> State {
        self.requests = self.requests.saturating_add(1);
        self.operation = request.operation.declared().verb.index() as u8;
        self.note = Note::of(&request.operation);
        let ctx = Ctx::of(env.served, (self.id, self.peer()), self.protocol());
        let mut guard = Guard {
            access: env.access,
            held: &mut self.held,
            user: None,
        };
        let outcome = serve::serve(request, &ctx, &mut guard);
        let user = guard.user;
        if let Some(note) = &mut self.note {
            note.made_by(user);
        }
        self.apply(outcome)
    }

    /// Queues the reply of `outcome` and enters the state it leads to.
    /// Every answer to an operation passes here, whichever protocol asked
    /// and whether it came from the reactor or the I/O pool: the one place
    /// requests are counted.
    pub(super) fn apply(&mut self, outcome: Outcome) -> State {
        let Outcome {
            reply,
            next,
            acting_as,
        } = outcome;
        if let (Some(note), Some(user)) = (&mut self.note, acting_as) {
            note.made_by(Some(user));
        }
        if let Some(code) = self.codec.answer_code(&reply) {
            metrics::count_request(self.operation, code);
            // A body follows unless the exchange ends here (a HEAD).
            let body_follows = !matches!(next, Next::Request | Next::Close);
            self.note_answer(code, Some(&reply), body_follows);
        }
        if let Next::Send(send) = &next {
            // One allocation for the head and a body sent inline.
            self.output
                .reserve(HEAD_ROOM + send.len.min(INLINE_BODY) as usize);
        }
        let last = matches!(next, Next::Close | Next::Cut { .. });
        self.codec.encode(&reply, last, &mut self.output);
        self.enter(next)
    }

    /// The state for what the serve layer said comes next.
    pub(super) fn enter(&mut self, next: Next) -> State {
        match next {
            Next::Request => {
                self.log_exchange();
                State::AwaitHeader
            }
            Next::Receive(mut receive) => match receive.take_failure() {
                Some(err) => self.apply(serve::write_failed(receive, err, self.id)),
                // Complete, once a write behind it is back.
                None if receive.is_complete() && !receive.is_writing() => {
                    let outcome = serve::finish_receive(receive, self.id);
                    self.apply(outcome)
                }
                None => State::ReceivingBody(receive),
            },
            Next::Send(send) => self.start_send(send),
            Next::Held(held) if held.left() == 0 => self.enter(Next::Request),
            Next::Held(held) => State::SendingHeld(held),
            Next::Echo { left } => State::EchoingBody { left },
            Next::Drain { left } => State::DrainingBody { left },
            Next::Pool(job) => State::Waiting(Wait::Job(job)),
            Next::Wrote(_) => unreachable!("a write behind goes to its receive (job_finished)"),
            Next::Close => {
                self.log_exchange();
                State::Done
            }
            Next::Cut { unsent } => {
                self.not_sent(unsent);
                self.set_flag(CUT, true);
                self.enter(Next::Close)
            }
        }
    }

    /// The body of a GET: small ones are read straight behind the response
    /// head so both leave in one write (cheaper than a second system call
    /// for `sendfile`); larger ones go out with `sendfile` from
    /// `SendingBody`. A small body that is not in memory is read in by the
    /// I/O pool first: the reactor reads only what cannot make it wait.
    fn start_send(&mut self, send: Send) -> State {
        if send.len > INLINE_BODY {
            return State::SendingBody(Box::new(send));
        }
        let start = self.output.len();
        self.output.resize(start + send.len as usize, 0);
        let read = send.read_cached(&mut self.output[start..]);
        match read {
            Ok(true) => self.enter(serve::sent(self.id, send)),
            Ok(false) => {
                self.output.truncate(start);
                self.enter(serve::read_ahead(send))
            }
            Err(err) => {
                // The head is queued: the only honest answer left is to
                // stop sending, as when sendfile fails.
                warn!("#{} {}: {err}", self.id, send.source);
                self.output.truncate(start);
                self.enter(Next::Cut { unsent: send.len })
            }
        }
    }

    /// The peer finished sending: answer what can be answered, then close.
    pub(super) fn on_eof(&mut self) {
        let state = mem::replace(&mut self.state, State::Done);
        let message = match state {
            State::AwaitHeader if self.input.iter().all(|b| b.is_ascii_whitespace()) => None,
            State::AwaitHeader => {
                warn!("#{} connection closed inside a request line", self.id);
                Some("incomplete request line")
            }
            // A body that ends with its stream: whole now (FTP's STOR).
            State::ReceivingBody(mut receive) if receive.ends_at_eof() => {
                receive.reach_eof();
                self.state = self.enter(Next::Receive(receive));
                return;
            }
            State::ReceivingBody(receive) => {
                let (received, declared) = receive.progress();
                match receive.is_resumable() {
                    // Expected of a resumable upload: a client cut it.
                    true => info!(
                        "#{} APPEND to {} cut after {received} of {declared} bytes; the upload goes on from what arrived",
                        self.id, receive.name,
                    ),
                    false => warn!(
                        "#{} PUT {} truncated after {received} of {declared} bytes; discarded",
                        self.id, receive.name,
                    ),
                }
                // Answered once the temp file is gone (on the pool); then
                // this runs again and finds nothing more to say.
                let message = "connection closed before the whole body arrived";
                let failure = Failure::new(ErrorKind::BadRequest, message);
                self.state = self.apply(serve::abandon(receive, failure, Next::Request));
                self.input = Vec::new();
                return;
            }
            _ => None,
        };
        if let Some(message) = message {
            let reply = Reply::Failed(Failure::new(ErrorKind::BadRequest, message));
            let code = ErrorKind::BadRequest.code();
            self.operation = Verb::INVALID;
            self.note = None;
            metrics::count_request(Verb::INVALID, Some(code));
            self.note_answer(Some(code), None, false); // its line comes at the close
            // Not marked as the last answer: the peer has gone, and the
            // answer stays the one it always was.
            self.codec.encode(&reply, false, &mut self.output);
        }
        self.input = Vec::new();
    }
}
