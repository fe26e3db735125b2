//! What the access log needs to know of the request being answered, kept
//! from its head to its answer (which may come back from the I/O pool),
//! and the one place its line is made. Kept only while the access log is
//! on: a connection with it off carries an empty `Option`.

use std::sync::Arc;
use std::time::Instant;

use super::Connection;
use crate::access::Principal;
use crate::metrics;
use crate::request_log::{self, Entry};
use crate::serve::{Operation, Reply};

/// The request being answered.
pub(super) struct Note {
    name: String,
    to: Option<String>,
    /// The holder of the token it was made with.
    user: Option<Arc<Principal>>,
    started: Instant,
}

impl Note {
    /// The note of `operation`, whose head has just arrived; `None` while
    /// this loop keeps no access log.
    pub(super) fn of(operation: &Operation) -> Option<Box<Note>> {
        if !request_log::is_on() {
            return None;
        }
        let (name, to) = operation.subject();
        Some(Box::new(Note {
            name: name.to_owned(),
            to: to.map(str::to_owned),
            user: None,
            started: Instant::now(),
        }))
    }

    /// The request turned out to be made by `user`.
    pub(super) fn made_by(&mut self, user: Option<Arc<Principal>>) {
        self.user = user;
    }
}

/// The file size an answer states: stored, or (about to be) sent.
fn answered_bytes(reply: &Reply) -> u64 {
    match reply {
        Reply::Stored { size, .. } => *size,
        Reply::File { len, .. } => *len,
        _ => 0,
    }
}

impl Connection {
    /// Writes the access-log line of the request `reply` answers with
    /// `code` (`None`: success). A request the codec refused has no note.
    pub(super) fn log_answer(&mut self, code: Option<u16>, reply: Option<&Reply>) {
        if !request_log::is_on() {
            return;
        }
        let note = self.note.take();
        let (name, to, user, took) = match &note {
            Some(note) => (
                note.name.as_str(),
                note.to.as_deref(),
                note.user.as_ref().map(|user| user.entry.name.as_str()),
                note.started.elapsed(),
            ),
            None => ("", None, None, std::time::Duration::ZERO),
        };
        request_log::record_here(&Entry {
            peer: self.peer(),
            client: self.id,
            user,
            protocol: metrics::protocol_name(self.protocol()),
            operation: metrics::OPERATIONS
                .get(usize::from(self.operation))
                .copied()
                .unwrap_or("invalid"),
            name,
            to,
            code,
            bytes: reply.map_or(0, answered_bytes),
            took,
        });
    }
}
