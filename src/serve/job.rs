//! A [`Job`]: the part of an operation that may wait on the disk, and
//! where it runs (the I/O pool, the listing threads, the hook runner, the
//! checksum threads, or after a group commit's flush), and the [`Ticket`]
//! that tells a long job its connection has gone.
//!
//! A job's work is a named step where it is an upload's, a session
//! upload's or a send's ([`UploadStep`], [`SessionStep`], [`SendStep`],
//! each variant holding exactly its data, so that a reader or a log line
//! can follow a PUT, an APPEND or a GET past a thread hand-off), else a
//! closure; a job whose connection has gone before it ran is
//! [`Job::orphaned`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use log::debug;

use super::{Ctx, Next, Outcome, Reply, SendStep, SessionStep, UploadStep};
use crate::storage::{StorageError, Unflushed};

/// The part of an operation that may wait on the disk, for the I/O pool.
/// One pointer wide, so that a connection waiting for one stays small.
pub struct Job(Box<Work>);

struct Work {
    /// Where it runs.
    kind: Kind,
    /// What it does, given how the flush it waited for went (`Ok` for a
    /// job that waited for none).
    work: Then,
}

/// Another operation's work (none waits for a flush).
type Continuation = dyn FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send;

/// What a job does: a named step of an upload, a session upload or a
/// send, the drop of an orphan, or a closure (every other operation's).
enum Then {
    /// A step of an upload (`upload_steps.rs`).
    Upload(UploadStep),
    /// A step of a session upload (`session_steps.rs`).
    Session(SessionStep),
    /// A step of a send (`send_steps.rs`).
    Send(SendStep),
    /// A job whose connection has gone before it ran ([`Job::orphaned`]).
    Orphaned(Job),
    /// Any other operation's work.
    Closure(Box<Continuation>),
}

/// Where a named step runs, as the [`Job`] constructors for a closure
/// say; a step that waits for a flush is [`Job::upload_after_flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The I/O pool ([`Job::new`]).
    Pool,
    /// The I/O pool, or in place on a memory file system ([`Job::brief`]).
    Brief,
    /// The hook runner (see [`Job::is_hook`]): never the I/O pool, whose
    /// threads a slow hook would take from everyone's file-system work.
    Hook,
    /// The checksum threads ([`Job::checksum`]).
    Checksum,
    /// The pool's listing threads ([`Job::long`]).
    Long,
}

impl Place {
    fn kind(self) -> Kind {
        match self {
            Place::Pool => Kind::Io,
            Place::Brief => Kind::Brief,
            Place::Hook => Kind::Hook,
            Place::Checksum => Kind::Checksum,
            Place::Long => Kind::Long(Arc::default()),
        }
    }
}

/// Where a job runs, and what it carries for that.
enum Kind {
    /// The I/O pool.
    Io,
    /// The I/O pool, or in place on a memory file system (see
    /// [`Job::brief`]).
    Brief,
    /// The pool's listing threads (see [`Job::is_long`]), with the flag set
    /// once nobody waits for it (see [`Ticket`]).
    Long(Arc<AtomicBool>),
    /// The hook runner (see [`Job::is_hook`]).
    Hook,
    /// The checksum threads (see [`Job::is_checksum`]).
    Checksum,
    /// The group commit's flusher, after a batch with these directories
    /// (see [`Job::upload_after_flush`]); taken out when the job is handed over.
    Flush(Option<Unflushed>),
}

impl Job {
    fn of(kind: Kind, work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Job {
        Job(Box::new(Work {
            kind,
            work: Then::Closure(Box::new(work)),
        }))
    }

    /// An upload's `step` as a job that runs where that step runs
    /// ([`UploadStep::place`]: one place per step, so none is sent to
    /// another thread by mistake); a flush's wait is
    /// [`Job::upload_after_flush`].
    pub fn upload(step: UploadStep) -> Job {
        debug_assert!(
            !matches!(step, UploadStep::Flushed(_)),
            "a flush's wait handed to a thread"
        );
        Job(Box::new(Work {
            kind: step.place().kind(),
            work: Then::Upload(step),
        }))
    }

    /// An upload's `step` as a job that waits for the group commit to
    /// flush `dirs` (what a step of a durable commit owes,
    /// [`crate::storage::Durable::step`]): no thread waits for it, the
    /// connection does, in its `Waiting` state; `step` runs on the flusher
    /// thread once the batch is done, given how it went, and must be short
    /// (an answer; more disk work is a job of its own).
    pub fn upload_after_flush(dirs: Unflushed, step: UploadStep) -> Job {
        Job(Box::new(Work {
            kind: Kind::Flush(Some(dirs)),
            work: Then::Upload(step),
        }))
    }

    /// For a job that waits for a flush, the directories it waits for
    /// (once: the job is then handed to the flusher with them).
    pub fn take_flush(&mut self) -> Option<Unflushed> {
        match &mut self.0.kind {
            Kind::Flush(dirs) => dirs.take(),
            _ => None,
        }
    }

    /// A send's `step` as a job that runs where that step runs
    /// ([`SendStep::place`]).
    pub fn send(step: SendStep) -> Job {
        Job(Box::new(Work {
            kind: step.place().kind(),
            work: Then::Send(step),
        }))
    }

    /// A session upload's `step` as a job that runs where that step runs
    /// ([`SessionStep::place`]).
    pub(crate) fn session(step: SessionStep) -> Job {
        Job(Box::new(Work {
            kind: step.place().kind(),
            work: Then::Session(step),
        }))
    }

    /// A job whose connection has gone before it ran (any step's: a
    /// before-commit hook's, whose upload goes with it; a GET's checksum):
    /// never run, dropped on the pool, where dropping what it holds (an
    /// upload's temp file) is disk work.
    pub fn orphaned(job: Job) -> Job {
        Job(Box::new(Work {
            kind: Kind::Io,
            work: Then::Orphaned(job),
        }))
    }

    /// `work` as a job.
    pub fn new(work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Job {
        Job::of(Kind::Io, work)
    }

    /// `work` as a job of a few file-system calls on one name (a PUT's
    /// temp file made, an upload committed, a file opened): the I/O pool
    /// runs it where a call may wait on a device; on a memory file system,
    /// where none does, the reactor runs it in place (as it writes an
    /// upload's bytes there: `config.rs`'s `PoolWrites`), saving the two
    /// thread switches of a round trip through the pool.
    pub fn brief(work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Job {
        Job::of(Kind::Brief, work)
    }

    /// Whether the job is [`Job::brief`].
    pub fn is_brief(&self) -> bool {
        matches!(self.0.kind, Kind::Brief)
    }

    /// `work` as a job that computes a file's CRC-32C from its bytes (a
    /// read of the whole file): it runs on the checksum threads
    /// ([`crate::pool::checksums`]), never on the I/O pool, so that first
    /// downloads of large files cannot hold back the opens, STATs and
    /// listings everyone waits on.
    pub fn checksum(work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Job {
        Job::of(Kind::Checksum, work)
    }

    /// Whether the job computes a checksum (and so goes to the checksum
    /// threads).
    pub fn is_checksum(&self) -> bool {
        matches!(self.0.kind, Kind::Checksum)
    }

    /// Whether the job waits for a hook (and so goes to the hook runner).
    pub fn is_hook(&self) -> bool {
        matches!(self.0.kind, Kind::Hook)
    }

    /// `work` as a job that may keep a CPU busy for long: a walk of a
    /// whole tree, whose directories are usually cached.
    pub fn long(work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Job {
        Job::of(Kind::Long(Arc::default()), work)
    }

    /// Whether the job may keep a CPU busy for long; the pool runs only a
    /// few of those at once, so that they cannot crowd the reactor off the
    /// host's CPUs.
    pub fn is_long(&self) -> bool {
        matches!(self.0.kind, Kind::Long(_))
    }

    /// For a long job, what the connection keeps while the job is on the
    /// pool: dropped with the connection, it tells the job that nobody
    /// waits for it any more.
    pub fn ticket(&self) -> Option<Ticket> {
        match &self.0.kind {
            Kind::Long(flag) => Some(Ticket(Arc::clone(flag))),
            _ => None,
        }
    }

    /// Runs the job (on an I/O thread: it may block on the disk). A long
    /// job whose connection has gone is not run at all (and stops at its
    /// next step if it goes while the job runs, see [`Ctx::is_abandoned`]).
    pub fn run(self, ctx: &Ctx<'_>) -> Outcome {
        self.run_flushed(ctx, Ok(()))
    }

    /// Runs the job given how the flush it waited for went
    /// ([`Job::upload_after_flush`]; [`Job::run`] for any other).
    pub fn run_flushed(self, ctx: &Ctx<'_>, flushed: Result<(), StorageError>) -> Outcome {
        let Work { kind, work } = *self.0;
        let Kind::Long(flag) = kind else {
            return work.run(ctx, flushed);
        };
        if flag.load(Ordering::Acquire) {
            debug!("#{} a queued walk dropped: its client has gone", ctx.client);
            return Outcome::new(Reply::Nothing, Next::Close);
        }
        let ctx = Ctx {
            abandoned: Some(&flag),
            ..*ctx
        };
        work.run(&ctx, flushed)
    }
}

impl Then {
    fn run(self, ctx: &Ctx<'_>, flushed: Result<(), StorageError>) -> Outcome {
        match self {
            Then::Upload(step) => step.run(ctx, flushed),
            Then::Session(step) => step.run(ctx),
            Then::Send(step) => step.run(ctx),
            Then::Orphaned(job) => {
                drop(job);
                Outcome::answer(Reply::Nothing)
            }
            Then::Closure(work) => work(ctx),
        }
    }
}

/// Where the job runs and its step by name (a closure's work shows as
/// `work`): what a debug log line needs to follow a request.
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.0.kind {
            Kind::Io => "pool",
            Kind::Brief => "brief",
            Kind::Long(_) => "long",
            Kind::Hook => "hook",
            Kind::Checksum => "checksum",
            Kind::Flush(_) => "after flush",
        };
        match &self.0.work {
            Then::Upload(step) => write!(f, "{place} {step:?}"),
            Then::Session(step) => write!(f, "{place} {step:?}"),
            Then::Send(step) => write!(f, "{place} {step:?}"),
            Then::Orphaned(job) => write!(f, "{place} Orphaned ({job:?})"),
            Then::Closure(_) => write!(f, "{place} work"),
        }
    }
}

/// A connection's hold on the long job it waits for (see [`Job::ticket`]).
#[derive(Debug)]
pub struct Ticket(Arc<AtomicBool>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_jobs_debug_names_where_it_runs_and_its_step() {
        let closure = Job::brief(|_| Outcome::answer(Reply::Nothing));
        assert_eq!(format!("{closure:?}"), "brief work");
        let orphan = Job::orphaned(closure);
        assert_eq!(format!("{orphan:?}"), "pool Orphaned (brief work)");
    }
}
