//! The steps of an upload, by name: every hand-off of a PUT (and of the
//! end every upload shares: an APPEND's, an S3 part's, a session's
//! commit) from one thread to another is an [`UploadStep`], a value that
//! holds exactly what the step needs, run by [`UploadStep::run`] where
//! its [`Job`] says. The steps' own work stays where its rule lives
//! (`ops/files.rs`, `arrived.rs`, `commit.rs`); this file only names them
//! and calls that work, so the variants read as the path:
//!
//! ```text
//! PUT admitted --Open (brief)--> temp file made, GoAhead, receive the body
//!     (Write (pool): a write behind the connection, as often as it gathers)
//! body in --Finish (brief)--> flushed, verified, then commit (or an APPEND
//!     or a part reported)
//! commit --BeforeCommit (hook runner)--> the before-commit hook's verdict
//! publish (rename; --fsync with others in flight: Flushed (flusher) then
//!     Durable (pool), step by step, until it is durable) --> answer
//! ends: Abandon (a failed body), Discard (a connection gone mid-body),
//!     Dispose (a write back after its receive ended); a job whose
//!     connection has gone before it ran is dropped as
//!     Job::orphaned, whatever its step
//! ```

use std::fmt;

use super::commit::{Flushing, Vetting};
use super::ops::files::Opening;
use super::{Ctx, Failure, Next, Outcome, Place, Receive, Reply, WriteBehind};
use crate::storage::StorageError;

/// One step of an upload, with what it needs.
pub enum UploadStep {
    /// A PUT admitted: its temp file made where there is room, then its
    /// body received (`ops/files.rs`). Brief.
    Open(Box<Opening>),
    /// Gathered bytes written (and hashed) behind the connection while
    /// it reads on; the sink comes back as [`Next::Wrote`]. On the pool.
    Write(Box<WriteBehind>),
    /// The whole body has arrived: what is gathered written, the body
    /// verified, then committed (a PUT) or reported (an APPEND, an S3
    /// part) (`arrived.rs`). Brief.
    Finish {
        /// The body received.
        receive: Box<Receive>,
        /// The client's id, for the log.
        client: u64,
    },
    /// The before-commit hook judges a verified upload, then it is
    /// published or discarded (`commit.rs`). On the hook runner.
    BeforeCommit(Box<Vetting>),
    /// A durable commit waits for the group commit to flush what its
    /// step owes; answered once durable, else on to [`UploadStep::Durable`]
    /// (`commit.rs`). On the flusher thread.
    Flushed(Box<Flushing>),
    /// A durable commit's next step, given how the flush before it went
    /// (`commit.rs`). On the pool.
    Durable {
        /// The commit.
        flushing: Box<Flushing>,
        /// How the flush it waited for went.
        flushed: Result<(), StorageError>,
    },
    /// A body that failed: its receive ended (a PUT's temp file goes, an
    /// APPEND keeps what arrived), then the failure answered. On the pool.
    Abandon {
        /// The receive.
        receive: Box<Receive>,
        /// The answer.
        failure: Failure,
        /// What the connection does after it.
        next: Next,
    },
    /// A receive whose connection has gone: ended, a `STOR` cut off kept
    /// to go on with (`ops/resume.rs`). On the pool.
    Discard(Box<Receive>),
    /// A write behind a receive that ended meanwhile: its sink ended. On
    /// the pool.
    Dispose(Box<WriteBehind>),
}

impl UploadStep {
    /// Where this step runs: one place per step, read by [`Job::upload`]
    /// (a hook's wait never on the I/O pool, disk work never on the
    /// reactor). [`UploadStep::Flushed`] waits on the flusher instead
    /// ([`Job::upload_after_flush`]).
    pub fn place(&self) -> Place {
        match self {
            UploadStep::Open(_) | UploadStep::Finish { .. } => Place::Brief,
            UploadStep::BeforeCommit(_) => Place::Hook,
            UploadStep::Write(_)
            | UploadStep::Flushed(_)
            | UploadStep::Durable { .. }
            | UploadStep::Abandon { .. }
            | UploadStep::Discard(_)
            | UploadStep::Dispose(_) => Place::Pool,
        }
    }

    /// Takes the step (where its job runs), given how the flush it waited
    /// for went: only [`UploadStep::Flushed`] waits for one.
    pub fn run(self, ctx: &Ctx<'_>, flushed: Result<(), StorageError>) -> Outcome {
        match self {
            UploadStep::Open(opening) => super::ops::files::open(ctx, *opening),
            UploadStep::Write(mut write) => {
                // Back in the box it went in.
                *write = (*write).run();
                Outcome::new(Reply::Nothing, Next::Wrote(write))
            }
            UploadStep::Finish { receive, client } => super::arrived::finish(ctx, receive, client),
            UploadStep::BeforeCommit(vetting) => super::commit::vet(ctx, *vetting),
            UploadStep::Flushed(flushing) => super::commit::flushed(ctx, flushing, flushed),
            UploadStep::Durable { flushing, flushed } => {
                super::commit::step_durable(ctx, *flushing, flushed)
            }
            UploadStep::Abandon {
                receive,
                failure,
                next,
            } => {
                receive.settle();
                Outcome::failed(failure, next)
            }
            UploadStep::Discard(receive) => {
                super::ops::resume::keep_cut(ctx, receive);
                Outcome::answer(Reply::Nothing)
            }
            UploadStep::Dispose(write) => {
                write.settle();
                Outcome::answer(Reply::Nothing)
            }
        }
    }
}

/// The step's name and the file it is for, where it knows it (never a
/// secret: a name the client gave).
impl fmt::Debug for UploadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadStep::Open(opening) => write!(f, "Upload::Open {}", opening.put.name),
            UploadStep::Write(_) => write!(f, "Upload::Write"),
            UploadStep::Finish { receive, .. } => write!(f, "Upload::Finish {}", receive.name),
            UploadStep::BeforeCommit(vetting) => {
                write!(f, "Upload::BeforeCommit {}", vetting.commit.name)
            }
            UploadStep::Flushed(flushing) => {
                write!(f, "Upload::Flushed {}", flushing.published.name)
            }
            UploadStep::Durable { flushing, .. } => {
                write!(f, "Upload::Durable {}", flushing.published.name)
            }
            UploadStep::Abandon { receive, .. } => write!(f, "Upload::Abandon {}", receive.name),
            UploadStep::Discard(receive) => write!(f, "Upload::Discard {}", receive.name),
            UploadStep::Dispose(_) => write!(f, "Upload::Dispose"),
        }
    }
}
