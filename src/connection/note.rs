//! What the access log needs to know of the request being answered, kept
//! from its head until its exchange is over, and the one place its line is
//! made. Kept only while the access log is on: a connection with it off
//! carries an empty `Option`.
//!
//! The answer is noted where requests are counted ([`Connection::apply`]),
//! but the line is written once the exchange is over: when the connection
//! is ready for the next request (a download's body sent, a refused
//! upload's body drained, an echo echoed) or closes. So `seconds` covers
//! the whole exchange, and a download cut short logs the bytes that went.

use crate::serve::ops;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(doc)]
use super::codec::Codec;
use super::{Connection, State};
use crate::access::Principal;
use crate::request_log::{self, Entry};
use crate::serve::{Operation, Reply, Source, Verb};

/// The request being answered.
#[derive(Default)]
pub(super) struct Note {
    name: String,
    to: Option<String>,
    /// The holder of the token it was made with.
    user: Option<Arc<Principal>>,
    /// When its head arrived (`None`: the codec refused it as it came).
    started: Option<Instant>,
    /// How it was answered: the code (`None`: success) and the file bytes
    /// the answer stated.
    answer: Option<(Option<u16>, u64)>,
    /// An APPEND's (a tus PATCH's) body length: the bytes it moves.
    appending: Option<u64>,
}

impl Note {
    /// The note of `operation`, whose head has just arrived; `None` while
    /// this loop keeps no access log.
    pub(super) fn of(operation: &Operation) -> Option<Box<Note>> {
        if !request_log::is_on() {
            return None;
        }
        let declared = operation.declared();
        let (name, to) = (declared.subject, declared.to);
        let appending = match operation {
            Operation::Append(ops::Append { len, .. }) => Some(*len),
            // A tus PATCH through an upload link.
            #[cfg(feature = "shares")]
            Operation::ViaLink(ops::ViaLink {
                ask: ops::LinkAsk::Tus(asked),
                ..
            }) => match &**asked {
                Operation::Append(ops::Append { len, .. }) => Some(*len),
                _ => None,
            },
            _ => None,
        };
        Some(Box::new(Note {
            name: name.to_owned(),
            to: to.map(str::to_owned),
            started: Some(Instant::now()),
            appending,
            ..Note::default()
        }))
    }

    /// The request turned out to be made by `user`.
    pub(super) fn made_by(&mut self, user: Option<Arc<Principal>>) {
        self.user = user;
    }
}

/// The file bytes an answer moves: stored, or to be sent (none for a
/// HEAD: only the length is told, without `body_follows`). An APPEND
/// moves its body (`appending`), also the tus PATCH that completes its
/// upload and is answered as the file stored: its line counts what it
/// brought, as every other PATCH's does, not the whole file.
fn answered_bytes(reply: &Reply, body_follows: bool, appending: Option<u64>) -> u64 {
    match reply {
        Reply::Stored { size, .. } => appending.unwrap_or(*size),
        Reply::Appended { appended, .. } => *appended,
        Reply::File { len, .. } | Reply::Archive { len, .. } if body_follows => *len,
        _ => 0,
    }
}

impl Connection {
    /// Notes that the request is answered by `reply` (`None`: a request
    /// the codec refused) with `code` (`None`: success), a body following
    /// if `body_follows`; the line follows when the exchange is over
    /// ([`Connection::log_exchange`]).
    pub(super) fn note_answer(
        &mut self,
        code: Option<u16>,
        reply: Option<&Reply>,
        body_follows: bool,
    ) {
        if !request_log::is_on() {
            return;
        }
        let note = self.note.get_or_insert_default();
        let bytes = reply.map_or(0, |reply| {
            answered_bytes(reply, body_follows, note.appending)
        });
        note.answer = Some((code, bytes));
    }

    /// The upload being received ends unanswered: its client went, with
    /// `arrived` body bytes in (the codec's code: [`Codec::cut_code`]).
    pub fn note_client_went(&mut self, arrived: u64) {
        self.note_cut(self.codec.cut_code(), arrived);
    }

    /// The upload being received ends unanswered with `code`: its client
    /// went ([`Connection::note_client_went`]) or the server is shutting
    /// down (503). Its line says so, with the body bytes that arrived
    /// (which a cut FTP upload keeps for `REST` or `APPE`), in place of
    /// any interim answer noted (FTP's `150`).
    pub(super) fn note_cut(&mut self, code: u16, arrived: u64) {
        if let Some(note) = self.note.as_mut() {
            note.answer = Some((Some(code), arrived));
        }
    }

    /// `unsent` bytes of the body the answer announced do not go after
    /// all (they could not be read): the line counts only what went.
    pub(super) fn not_sent(&mut self, unsent: u64) {
        if let Some((_, bytes)) = self.note.as_mut().and_then(|note| note.answer.as_mut()) {
            *bytes = bytes.saturating_sub(unsent);
        }
    }

    /// Writes the access-log line of the request answered, if one was:
    /// its exchange is over (or the connection is closing). A body still
    /// being sent counts only what went.
    pub(super) fn log_exchange(&mut self) {
        let Some(note) = self.note.take_if(|note| note.answer.is_some()) else {
            return;
        };
        let Some((code, mut bytes)) = note.answer else {
            return;
        };
        // (An archive is sent in parts: what is left of the whole is not
        // known here, so it counts as stated.)
        if let State::SendingBody(send) = &self.state
            && !matches!(send.source, Source::Archive(_))
        {
            bytes = bytes.saturating_sub(send.left);
        }
        if let State::SendingHeld(held) = &self.state {
            bytes = bytes.saturating_sub(held.left());
        }
        request_log::record_here(&Entry {
            peer: self.peer(),
            client: self.id,
            user: note.user.as_ref().map(|user| user.entry.name.as_str()),
            protocol: self.protocol().name(),
            operation: Verb::label_at(self.operation),
            name: &note.name,
            to: note.to.as_deref(),
            code,
            bytes,
            took: note.started.map_or(Duration::ZERO, |at| at.elapsed()),
        });
    }
}

/// When a connection opened, in milliseconds since the first one did,
/// wrapping every 49.7 days: 4 bytes where an `Instant` takes 16. Only the
/// close line's duration reads it, which a wrapping subtraction gets right
/// for any connection younger than that.
#[derive(Debug, Clone, Copy)]
pub(super) struct Opened(u32);

impl Opened {
    pub(super) fn at(now: Instant) -> Opened {
        Opened(wrapping_millis(now))
    }

    /// Seconds since the connection opened.
    pub(super) fn age_secs(self) -> f64 {
        f64::from(wrapping_millis(Instant::now()).wrapping_sub(self.0)) / 1000.0
    }
}

/// `at` in milliseconds since the process's first call, truncated to 32
/// bits (the wrap [`Opened`] allows for).
fn wrapping_millis(at: Instant) -> u32 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| at);
    at.saturating_duration_since(epoch).as_millis() as u32
}
