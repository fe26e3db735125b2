//! A connection and the I/O pool: the job it waits for, handed over once;
//! the upload and the body it drops as it closes; and what it does with a
//! job's outcome. Each is a call of the reactor's, between turns.

use std::mem;

use log::error;

use super::{Connection, JOB_OUTPUT_BACKLOG, State};
use crate::serve::decoded::Link;
use crate::serve::{self, Job, Next, Request, Ticket};

/// What a waiting connection waits for.
pub(super) enum Wait {
    /// The job, until the reactor takes it to the pool.
    Job(Job),
    /// On the pool; a long job's ticket, whose drop (the connection gone)
    /// tells the job that nobody waits for it.
    Asked {
        /// Held for its drop.
        _ticket: Option<Ticket>,
    },
    /// Work beyond the connection, until the reactor takes it (`link.rs`).
    Link(Link),
    /// The reactor's answer to its link (FTP's passive listener, or its
    /// data connection to come): the client owes it, so the request
    /// deadline runs (`deadline.rs`).
    Linked,
    /// The transfer it handed on is under way on its data connection,
    /// which reports its end: the control connection waits on it as on
    /// the I/O pool, with no deadline of its own, reading only for a
    /// command that stops it (FTP's `ABOR`: `turn.rs`).
    Transfer,
    /// The TLS session its `AUTH TLS` asked for (FTP's), begun once the
    /// answer (`234`) is out in plaintext.
    Securing(Box<rustls::server::UnbufferedServerConnection>),
    /// A request handed to it by another connection (FTP's control
    /// connection hands its data connection a transfer), to serve.
    Handed(Box<Request>),
}

impl Connection {
    /// The job this connection waits for, or a write behind its upload,
    /// once: the reactor hands it to the I/O pool.
    pub fn take_job(&mut self) -> Option<Job> {
        let backlogged = self.output_backlogged();
        match &mut self.state {
            // A job may queue more output (a folder's `.tar` headers, job
            // after job): it waits until most of what is queued is out,
            // so a peer that reads slowly holds a bounded queue.
            State::Waiting(_) if backlogged => None,
            State::Waiting(wait) => match mem::replace(wait, Wait::Asked { _ticket: None }) {
                Wait::Job(job) => {
                    *wait = Wait::Asked {
                        _ticket: job.ticket(),
                    };
                    Some(job)
                }
                asked => {
                    *wait = asked;
                    None
                }
            },
            // What it gathered is written behind it while it reads on.
            State::ReceivingBody(receive) => serve::write_behind(receive),
            _ => None,
        }
    }

    /// Whether more than [`JOB_OUTPUT_BACKLOG`] of its output is unsent: a
    /// job then waits for the peer to read, not for the server.
    pub(super) fn output_backlogged(&self) -> bool {
        self.output.len().saturating_sub(self.sent as usize) > JOB_OUTPUT_BACKLOG
    }

    /// The connection is closing: the upload it was receiving, for the
    /// reactor to end on the pool (`serve::discard`: removing a temp file
    /// is disk work; a `STOR`'s bytes are kept).
    pub fn abandon_upload(&mut self) -> Option<Box<serve::Receive>> {
        self.abandon(|state| match state {
            State::ReceivingBody(receive) => Ok(receive),
            other => Err(other),
        })
    }

    /// The connection is closing: the body it was sending, for the reactor
    /// to close where it closes (`serve::send::closing_job`: a file on a
    /// network file system on the pool). Taken after its exchange is
    /// logged, which counts what of it went.
    pub fn abandon_send(&mut self) -> Option<Box<serve::Send>> {
        self.abandon(|state| match state {
            State::SendingBody(send) => Ok(send),
            other => Err(other),
        })
    }

    /// What `take` takes out of the state as the connection closes (the
    /// state is then `Done`); where it takes nothing (`Err`, the state
    /// given back), the state stays as it was.
    fn abandon<T>(&mut self, take: impl FnOnce(State) -> Result<T, State>) -> Option<T> {
        match take(mem::replace(&mut self.state, State::Done)) {
            Ok(taken) => Some(taken),
            Err(other) => {
                self.state = other;
                None
            }
        }
    }

    /// The I/O pool finished this connection's job: act on its outcome.
    /// Returns a job for the pool if what came back is not wanted any more
    /// (a write behind an upload that has ended meanwhile).
    pub fn job_finished(&mut self, outcome: serve::Outcome) -> Option<Job> {
        let serve::Outcome {
            reply,
            next,
            acting_as,
        } = outcome;
        match (mem::replace(&mut self.state, State::Done), next) {
            (State::ReceivingBody(mut receive), Next::Wrote(write)) => {
                receive.wrote(*write);
                self.state = self.enter(Next::Receive(receive));
                None
            }
            (state, Next::Wrote(write)) => {
                self.state = state;
                Some(serve::dispose(write))
            }
            (State::Waiting(Wait::Asked { .. }), next) => {
                let mut outcome = serve::Outcome::new(reply, next);
                outcome.acting_as = acting_as;
                self.state = self.apply(outcome);
                None
            }
            (state, _) => {
                error!("#{} a job finished in an unexpected state", self.id);
                self.state = state;
                None
            }
        }
    }
}
