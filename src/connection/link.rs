//! A connection's part in a link the reactor makes beyond it (FTP's
//! data connection): the link it asked for, taken once; the reactor's
//! answers to it; a request another connection hands it; what a linked
//! connection reports back, as it goes and as it closes. Each is a call
//! of the reactor's, between turns, as `jobs.rs`'s are; but for the read
//! of a connection waiting on its transfer, for a command that stops it
//! (`turn.rs` calls it).

use std::mem;
use std::sync::Arc;

use mio::Interest;
use rustls::server::UnbufferedServerConnection;

use super::{CUT, Connection, PEER_EOF, State, Step, Wait};
use crate::access::Principal;
use crate::serve::Request;
use crate::serve::decoded::{Link, Relay};
use crate::tls_login::ResumedFrom;
use crate::wire::socket::Outcome;

/// Most bytes a connection holds, read while a transfer it handed on is
/// under way ([`Connection::read_for_interrupt`]): more than a command
/// that stops one.
const INTERRUPT_ROOM: usize = 1024;

impl Connection {
    /// The link this connection waits for, once: the reactor makes it
    /// and answers with [`Connection::relayed`].
    pub fn take_link(&mut self) -> Option<Link> {
        match &mut self.state {
            State::Waiting(wait @ Wait::Link(_)) => match mem::replace(wait, Wait::Linked) {
                Wait::Link(link) => Some(link),
                _ => unreachable!("matched above"),
            },
            _ => None,
        }
    }

    /// The reactor's answer to the link it waits for: queued; the wait
    /// ends unless it only began (a transfer under way). Nothing is said
    /// unasked: a data connection that closes with no transfer handed to
    /// it (its client opened it and went) tells its client nothing.
    pub fn relayed(&mut self, relay: Relay) {
        if !matches!(self.state, State::Waiting(Wait::Linked | Wait::Transfer)) {
            return;
        }
        self.codec.relayed(&relay, &mut self.output);
        self.state = match relay {
            Relay::Began => State::Waiting(Wait::Transfer),
            _ => self.enter(crate::serve::Next::Request),
        };
    }

    /// The TLS session its link asked for (FTP's `AUTH TLS`): its answer
    /// is queued, and the session begins once that is out (`turn.rs`).
    pub fn secure(&mut self, session: UnbufferedServerConnection) {
        if !matches!(self.state, State::Waiting(Wait::Linked)) {
            return;
        }
        self.codec.relayed(&Relay::Secured, &mut self.output);
        self.state = State::Waiting(Wait::Securing(Box::new(session)));
    }

    /// Its TLS session must resume one its control connection began (an
    /// FTPS data connection's, `tls_login.rs`; `from` judges a sibling
    /// login's): a full handshake ends the connection, its transfer
    /// refused, before any data moves.
    pub fn require_tls_resumption(&mut self, from: ResumedFrom) {
        self.transport.require_resumption(from);
    }

    /// Whether its TLS session resumed a sibling login's session and
    /// waits for that login to be judged: the reactor gives it a turn on
    /// each [`Connection::deadline`] until then.
    pub fn tls_resumption_waits(&self) -> bool {
        self.transport.resumption_waits_for().is_some()
    }

    /// Begins the TLS session its answer went out ahead of. Plaintext read
    /// behind the command that asked for it is refused, not taken as the
    /// client's (a command injected before the handshake would pass for
    /// its: CVE-2011-0411): the connection closes. (What is still in the
    /// socket is the handshake's to read: plaintext there fails it.)
    pub(super) fn begin_tls(&mut self, session: UnbufferedServerConnection) -> State {
        if !self.input.is_empty() {
            log::warn!("#{} plaintext after AUTH TLS: closed", self.id);
            return State::Done;
        }
        self.transport.begin_tls(session);
        State::AwaitHeader
    }

    /// Whether it asks the reactor for a link not yet taken (one a
    /// deadline asked for waits for the connection's next turn).
    pub fn has_link(&self) -> bool {
        matches!(self.state, State::Waiting(Wait::Link(_)))
    }

    /// Its client never came for the link it waits on (FTP's data
    /// connection, by the request deadline): the reactor is asked to let
    /// it go ([`Link::Abandon`]), which refuses the transfer.
    pub(super) fn abandon_link(&mut self) {
        if let State::Waiting(wait @ Wait::Linked) = &mut self.state {
            *wait = Wait::Link(Link::Abandon);
        }
    }

    /// The address the client reached this connection at (where FTP's
    /// passive listener listens for its data connection).
    ///
    /// # Errors
    /// The socket's address cannot be read.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.transport.stream().local_addr()
    }

    /// The token it logged in with, for the connection it hands work to.
    pub fn held_token(&self) -> Option<Arc<Principal>> {
        self.held.clone()
    }

    /// Takes `request`, handed over by another connection, to serve as
    /// that connection's (`held`: its token). Only a fresh connection
    /// takes one; `false` otherwise.
    pub fn hand(&mut self, request: Box<Request>, held: Option<Arc<Principal>>) -> bool {
        if !matches!(self.state, State::AwaitHeader) {
            return false;
        }
        self.held = held;
        self.state = State::Waiting(Wait::Handed(request));
        true
    }

    /// The connection this one serves for (FTP's control connection, of a
    /// data connection), as `(slab key, id)`.
    pub fn linked_to(&self) -> Option<(usize, u64)> {
        self.codec.linked_to()
    }

    /// What it has to report to the connection it serves for, once.
    pub fn take_relay(&mut self) -> Option<Relay> {
        self.codec.take_relay()
    }

    /// The connection it serves for has let it go (FTP's control
    /// connection, asking for another data connection): it reports
    /// nothing more, as it closes or before.
    pub fn let_go(&mut self) {
        self.codec.let_go();
    }

    /// What it reports as it closes: whether what it sent or received is
    /// whole (all of it out, the peer's end reached) or was cut.
    pub fn closing_relay(&mut self) -> Option<Relay> {
        let whole = !self.flag(CUT)
            && matches!(
                self.state,
                State::Ended | State::Done | State::Lingering { .. }
            )
            && self.sent as usize == self.output.len()
            && !self.transport.holds_output()
            && !self.tls_resumption_waits();
        self.codec.closing_relay(whole)
    }

    /// Reads while a transfer this connection handed on is under way, for
    /// a command that stops it (FTP's `ABOR`: the reactor then cuts the
    /// data connection, [`Link::Interrupt`]); what else comes waits in
    /// `input` for the transfer's end, [`INTERRUPT_ROOM`] bytes at most
    /// (the rest in the socket).
    pub(super) fn read_for_interrupt(&mut self, scratch: &mut [u8]) -> Result<usize, Step> {
        // Read already, behind the command that began the wait.
        if self.codec.interrupts(&self.input) {
            self.state = State::Waiting(Wait::Link(Link::Interrupt));
            return Ok(0);
        }
        let room = INTERRUPT_ROOM.saturating_sub(self.input.len());
        if room == 0 || self.flag(PEER_EOF) {
            return Err(Step::Wait(self.interest));
        }
        let (into, spare) = scratch.split_at_mut(scratch.len() / 2);
        match self
            .transport
            .read(&mut into[..room.min(spare.len())], spare)
        {
            Outcome::Done(n) => {
                self.bytes_in += n as u64;
                self.input.extend_from_slice(&into[..n]);
                if self.codec.interrupts(&self.input) {
                    self.state = State::Waiting(Wait::Link(Link::Interrupt));
                }
                Ok(n)
            }
            Outcome::WouldBlock => Err(Step::Wait(Interest::READABLE)),
            Outcome::Eof => {
                self.set_flag(PEER_EOF, true);
                Err(Step::Wait(self.interest))
            }
            other => Err(self.socket_failed(other)),
        }
    }
}
