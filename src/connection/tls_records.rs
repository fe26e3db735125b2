//! What a TLS session does at each state rustls comes to as it processes
//! records: decrypted data handed on, records to send kept in order, what
//! waits to be sealed sealed once the session may, and, where a session
//! must resume one begun before (an FTPS data connection's), nothing moved
//! until its handshake is through and seen to have resumed (and, where it
//! resumed a sibling login's session, until that login is judged).
//!
//! `tls_session.rs` drives this over the socket; this file never touches
//! one.

use std::io;
use std::mem;
use std::time::Instant;

use rustls::HandshakeKind;
use rustls::server::ServerConnectionData;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus, WriteTraffic};

use super::tls_held::{Decrypted, Held, tls_error};
use crate::tls_login::{ResumedFrom, Verdict};

/// Whether a session must be a resumed one (an FTPS data connection's,
/// `tls_login.rs`), and what is known of that so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Resumption {
    /// Any handshake will do (or it was seen to resume).
    Any,
    /// Nothing is read or sealed until the handshake is through and seen
    /// to have resumed.
    Required,
    /// Resumed a sibling login's session, and that login is not judged
    /// yet: nothing is read or sealed, and the session is looked at
    /// again on a later turn (`TlsSession::resumption_waits`).
    Pending,
    /// It did not resume: to be told to the connection, once.
    NotResumed,
    /// Told: the session only ends (`close_notify`), what comes dropped.
    Told,
}

/// What to seal once the session may: `data` (of which `taken` so far),
/// then `close_notify` if `close`.
pub(super) struct Seal<'a> {
    pub(super) data: &'a [u8],
    pub(super) taken: usize,
    pub(super) close: bool,
}

impl Seal<'_> {
    pub(super) fn nothing() -> Seal<'static> {
        Seal {
            data: &[],
            taken: 0,
            close: false,
        }
    }
}

/// Processes the complete records at the front of `buf`, answering each
/// state rustls comes to: decrypted data goes to `out`, records to send
/// to `held.outgoing`, and once the session may seal, what was handed over
/// early and then `seal`. Returns how many bytes of `buf` are done with,
/// once the session needs more from the peer to go on (or is closed).
/// Where `resumption` requires it, no data moves until the handshake is
/// through and seen to have resumed a session; if it did not, none ever
/// does (what arrives is dropped) but `close_notify`.
///
/// # Errors
/// A TLS failure (a bad record, a refused handshake); the session then
/// holds the alert that says why (`TlsSession::send_alert`).
pub(super) fn process(
    (session, resumption, from): (
        &mut UnbufferedServerConnection,
        &mut Resumption,
        Option<&ResumedFrom>,
    ),
    held: &mut Held,
    buf: &mut [u8],
    out: &mut Decrypted<'_>,
    seal: &mut Seal<'_>,
) -> io::Result<usize> {
    let (mut used, mut write_waits) = (0, false);
    loop {
        if matches!(*resumption, Resumption::Required | Resumption::Pending) {
            judge_resumption(session, resumption, from);
            // Still handshaking after a round that offered sealing: stop
            // for more from the peer. (rustls offers that only once the
            // handshake is through, unless half-RTT data, which ferry
            // never turns on, is allowed: a guard, not a path.) Pending:
            // what came stays unread for a later turn.
            if matches!(*resumption, Resumption::NotResumed | Resumption::Pending)
                || (*resumption == Resumption::Required && write_waits)
            {
                return Ok(used);
            }
        }
        let UnbufferedStatus { mut discard, state } = session.process_tls_records(&mut buf[used..]);
        let stopped = match state.map_err(tls_error)? {
            // The handshake is through: judged next round, data unread.
            ConnectionState::ReadTraffic(_) if *resumption == Resumption::Required => false,
            ConnectionState::ReadTraffic(mut traffic) => {
                while let Some(record) = traffic.next_record() {
                    let record = record.map_err(tls_error)?;
                    discard += record.discard;
                    if *resumption == Resumption::Any {
                        held.deliver(record.payload, out);
                    }
                }
                false
            }
            ConnectionState::WriteTraffic(_) if *resumption == Resumption::Required => {
                write_waits = true;
                false
            }
            ConnectionState::EncodeTlsData(mut encode) => {
                held.append_encoded(|buf| encode.encode(buf))?;
                false
            }
            ConnectionState::TransmitTlsData(transmit) => {
                // Kept in order in `outgoing`; sent by the caller.
                transmit.done();
                false
            }
            ConnectionState::BlockedHandshake => true,
            ConnectionState::WriteTraffic(mut traffic) => {
                let data_moves = *resumption == Resumption::Any;
                seal_what_waits(&mut traffic, held, seal, data_moves)?;
                true
            }
            // Reported once; data may still be sent after it.
            ConnectionState::PeerClosed => {
                held.peer_closed = true;
                false
            }
            ConnectionState::Closed => true,
            // Early data is never offered (`max_early_data_size` is 0).
            _ => return Err(tls_error("unexpected TLS state")),
        };
        used += discard;
        if stopped {
            return Ok(used);
        }
    }
}

/// Seals what waits (what was handed over early, then `seal`'s data, then
/// `close_notify`); where `data_moves` is false (a session refused for
/// not resuming), only the `close_notify`, the rest dropped.
fn seal_what_waits(
    traffic: &mut WriteTraffic<'_, ServerConnectionData>,
    held: &mut Held,
    seal: &mut Seal<'_>,
    data_moves: bool,
) -> io::Result<()> {
    if !data_moves {
        held.early.clear();
    } else if !held.early.is_empty() {
        let early = mem::take(&mut held.early);
        held.append_sealed(|buf| traffic.encrypt(&early, buf), early.len())?;
    }
    if data_moves && !seal.data.is_empty() && seal.taken == 0 {
        held.append_sealed(|buf| traffic.encrypt(seal.data, buf), seal.data.len())?;
        seal.taken = seal.data.len();
    }
    if seal.close {
        held.append_sealed(|buf| traffic.queue_close_notify(buf), 0)?;
        seal.close = false;
    }
    Ok(())
}

/// Judges a session that must resume once its handshake is through (not
/// before: the client is told in a session it can read, and after a
/// retry request the second hello may still resume), and what it resumed
/// from (`from`'s verdict: a sibling login's may have to wait).
fn judge_resumption(
    session: &UnbufferedServerConnection,
    resumption: &mut Resumption,
    from: Option<&ResumedFrom>,
) {
    if !session.is_handshaking() {
        let verdict = from.map_or(Verdict::Resumed, |from| from.verdict(Instant::now()));
        *resumption = match (session.handshake_kind(), verdict) {
            (Some(HandshakeKind::Resumed), Verdict::Resumed) => Resumption::Any,
            (Some(HandshakeKind::Resumed), Verdict::Waits) => Resumption::Pending,
            _ => Resumption::NotResumed,
        };
    }
}
