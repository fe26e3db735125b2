//! The steps of a session upload, by name: every hand-off of an upload
//! kept across requests (FERRY/1's UPLOAD, APPEND, COMMIT, ABORT and
//! SESSIONS; tus's POST, PATCH, HEAD and DELETE; FTP's resumed `STOR`,
//! SFTP's open and `CLOSE`; S3's multipart uploads and their parts) from
//! the reactor to the I/O pool is a [`SessionStep`], a value that holds
//! exactly what the step needs (the operation, and who asks where its
//! rule needs that: [`Asked`]), run by [`SessionStep::run`] where its
//! [`Job`](super::Job) says. The steps' own work stays where its rule
//! lives (`ops/sessions.rs`, `ops/resume.rs`, `ops/session_admin.rs`,
//! `ops/staged.rs`, `ops/uploads.rs`, `ops/multipart/`); this
//! file only names them and calls that work:
//!
//! ```text
//! UPLOAD / tus POST --Begin--> a session found or begun (first bytes:
//!     GoAhead, the body received as an APPEND's)
//! APPEND / tus PATCH --Append--> staged: GoAhead, the body received
//! APPE, REST+STOR --Resume--> the kept upload: GoAhead, received to EOF
//! SFTP open --Reopen--> the kept upload's session;  SIZE --ResumeFrom
//! COMMIT --Commit--, SFTP CLOSE --Close-->  the commit every session's is
//! tus HEAD --Progress--, ABORT / tus DELETE --Abort--, SESSIONS
//!     --Sessions--, SFTP READ of a file open for writing --ReadStaged--,
//!     S3 ListMultipartUploads --ListUploads-->  an answer
//! S3: BeginParts, PutPart (GoAhead, the part received), CopyPart (long),
//!     CompleteParts (long: assembled, then the commit every upload's
//!     is), AbortParts, ListParts
//! ```
//!
//! A body received (an APPEND's, a resumed `STOR`'s, a part's) goes on
//! as a PUT's does, by [`super::UploadStep`]'s `Write` and `Finish`; a
//! commit by its `BeforeCommit`, `Flushed` and `Durable`. An enum of its
//! own, not more variants of `UploadStep`: those are the steps of a body
//! on its way to a commit, each at a place of its own, where these are
//! the verbs that open (or answer about) a kept upload, each once, on the
//! pool (a part's copy and a completion among its long jobs), and would
//! double `UploadStep`'s matches with variants no body passes through.

use std::fmt;

use super::ops::multipart::{
    AbortParts, BeginParts, Completing, CopyPart, ListParts, PartLengths, PutPart,
};
use super::ops::resume::{self, Close, Reopen, Resume, ResumeFrom};
use super::ops::session_admin::{self, Abort, Progress};
use super::ops::sessions::{self, Append, Commit, Upload};
use super::ops::staged::ReadStaged;
use super::ops::uploads::ListUploads;
use super::{Ctx, Outcome, Place};
use crate::access::Who;

/// An operation, who asks it (what its rule judges), and what the reactor
/// judged of it that the step goes on from (`J`: a part's lengths, whether
/// an open may read the file), so that no rule is judged twice.
pub(crate) struct Asked<T, J = ()> {
    /// The operation.
    pub(in crate::serve) op: T,
    /// Who asks it.
    pub(in crate::serve) who: Who,
    /// What the reactor judged of it.
    pub(in crate::serve) judged: J,
}

impl<T> Asked<T> {
    /// `op`, asked by `who`, as a step's box.
    pub(in crate::serve) fn boxed(op: T, who: Who) -> Box<Asked<T>> {
        Asked::judged(op, who, ())
    }
}

impl<T, J> Asked<T, J> {
    /// `op`, asked by `who` and judged so on the reactor, as a step's box.
    pub(in crate::serve) fn judged(op: T, who: Who, judged: J) -> Box<Asked<T, J>> {
        Box::new(Asked { op, who, judged })
    }
}

/// One step of a session upload, with what it needs.
pub(crate) enum SessionStep {
    /// A session found or begun (FERRY/1's UPLOAD, tus's POST), its first
    /// bytes received where some follow (`ops/sessions.rs`). On the pool.
    Begin(Box<Asked<Upload>>),
    /// Bytes to stage in a session (FERRY/1's APPEND, tus's PATCH, SFTP's
    /// writes): admitted, then received (`ops/sessions.rs`). On the pool.
    Append(Box<Asked<Append>>),
    /// An upload that goes on where it stopped (FTP's `APPE`, `REST` +
    /// `STOR`): the kept upload found or begun, then the stream received
    /// (`ops/resume.rs`). On the pool.
    Resume(Box<Asked<Resume>>),
    /// A file opened for writing (SFTP's `OPEN`) as the kept upload
    /// (`ops/resume.rs`). On the pool.
    Reopen(Box<Asked<Reopen, bool>>),
    /// Where an upload would go on from (FTP's `SIZE`): the kept upload,
    /// else the file (`ops/resume.rs`). On the pool.
    ResumeFrom(Box<Asked<ResumeFrom>>),
    /// A session committed (FERRY/1's COMMIT; `ops/sessions.rs`). On the
    /// pool.
    Commit(Box<Asked<Commit>>),
    /// A file open for writing committed (SFTP's `CLOSE`;
    /// `ops/resume.rs`). On the pool.
    Close(Box<Asked<Close>>),
    /// How far a session has come (tus's HEAD;
    /// `ops/session_admin.rs`). On the pool.
    Progress(Box<Asked<Progress>>),
    /// A session discarded (`ops/session_admin.rs`). On the pool.
    Abort(Box<Asked<Abort>>),
    /// Bytes staged in a session read back (SFTP's `READ` of a file open
    /// for writing; `ops/staged.rs`). On the pool.
    ReadStaged(Box<Asked<ReadStaged>>),
    /// The sessions `who` may write, listed (`ops/session_admin.rs`). On
    /// the pool.
    Sessions(Who),
    /// A page of S3's multipart uploads (`ops/uploads.rs`). On the pool.
    ListUploads(Box<Asked<ListUploads>>),
    /// A multipart upload begun (`ops/multipart/parts.rs`). On the pool.
    BeginParts(Box<Asked<BeginParts>>),
    /// A part's temp file made, then its body received
    /// (`ops/multipart/parts.rs`). On the pool.
    PutPart(Box<Asked<PutPart, PartLengths>>),
    /// A part copied from a file (`ops/multipart/parts.rs`). On the
    /// pool's long jobs: it copies bytes.
    CopyPart(Box<Asked<CopyPart>>),
    /// A multipart upload's parts checked, assembled and committed as
    /// the object (`ops/multipart/complete.rs`). On the pool's long jobs:
    /// it copies the object's bytes.
    CompleteParts(Box<Completing>),
    /// A multipart upload discarded (`ops/multipart/parts.rs`). On the
    /// pool.
    AbortParts(Box<AbortParts>),
    /// A page of a multipart upload's parts (`ops/multipart/parts.rs`).
    /// On the pool.
    ListParts(Box<ListParts>),
}

impl SessionStep {
    /// Where this step runs: one place per step, read by
    /// [`Job::session`](super::Job::session).
    pub(crate) fn place(&self) -> Place {
        match self {
            SessionStep::CopyPart(_) | SessionStep::CompleteParts(_) => Place::Long,
            SessionStep::Begin(_)
            | SessionStep::Append(_)
            | SessionStep::Resume(_)
            | SessionStep::Reopen(_)
            | SessionStep::ResumeFrom(_)
            | SessionStep::Commit(_)
            | SessionStep::Close(_)
            | SessionStep::Progress(_)
            | SessionStep::Abort(_)
            | SessionStep::ReadStaged(_)
            | SessionStep::Sessions(_)
            | SessionStep::ListUploads(_)
            | SessionStep::BeginParts(_)
            | SessionStep::PutPart(_)
            | SessionStep::AbortParts(_)
            | SessionStep::ListParts(_) => Place::Pool,
        }
    }

    /// Takes the step (where its job runs).
    pub(crate) fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            SessionStep::Begin(asked) => sessions::begin(ctx, *asked),
            SessionStep::Append(asked) => sessions::stage(ctx, *asked),
            SessionStep::Resume(asked) => resume::resume(ctx, *asked),
            SessionStep::ResumeFrom(asked) => resume::resume_from(ctx, *asked),
            SessionStep::Commit(asked) => sessions::commit(ctx, *asked),
            SessionStep::Progress(asked) => session_admin::progress(ctx, *asked),
            SessionStep::Abort(asked) => session_admin::abort(ctx, *asked),
            SessionStep::Sessions(who) => session_admin::sessions(ctx, who),
            // A protocol's own steps are called only where it is built
            // in: else its work is left out of the binary (the embedded
            // build's), as its codec is, and nothing makes the step.
            #[cfg(feature = "sftp")]
            SessionStep::Reopen(asked) => resume::reopen(ctx, *asked),
            #[cfg(feature = "sftp")]
            SessionStep::Close(asked) => resume::close(ctx, *asked),
            #[cfg(feature = "sftp")]
            SessionStep::ReadStaged(asked) => super::ops::staged::read_staged(ctx, *asked),
            #[cfg(not(feature = "sftp"))]
            SessionStep::Reopen(_) | SessionStep::Close(_) | SessionStep::ReadStaged(_) => {
                unreachable!("an SFTP step in a build without SFTP")
            }
            #[cfg(feature = "s3")]
            SessionStep::ListUploads(asked) => super::ops::uploads::list_uploads(ctx, *asked),
            #[cfg(feature = "s3")]
            SessionStep::BeginParts(asked) => super::ops::multipart::begin_parts(ctx, *asked),
            #[cfg(feature = "s3")]
            SessionStep::PutPart(asked) => super::ops::multipart::put_part(ctx, *asked),
            #[cfg(feature = "s3")]
            SessionStep::CopyPart(asked) => super::ops::multipart::copy_part(ctx, *asked),
            #[cfg(feature = "s3")]
            SessionStep::CompleteParts(completing) => {
                super::ops::multipart::complete(ctx, *completing)
            }
            #[cfg(feature = "s3")]
            SessionStep::AbortParts(abort) => super::ops::multipart::abort_parts(ctx, *abort),
            #[cfg(feature = "s3")]
            SessionStep::ListParts(list) => super::ops::multipart::list_parts(ctx, *list),
            #[cfg(not(feature = "s3"))]
            SessionStep::ListUploads(_)
            | SessionStep::BeginParts(_)
            | SessionStep::PutPart(_)
            | SessionStep::CopyPart(_)
            | SessionStep::CompleteParts(_)
            | SessionStep::AbortParts(_)
            | SessionStep::ListParts(_) => unreachable!("an S3 step in a build without S3"),
        }
    }
}

/// The step's name and the file or session it is for (a name the client
/// gave, or a session's id, which it knows already: never a secret).
impl fmt::Debug for SessionStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (step, of): (&str, Option<&dyn fmt::Display>) = match self {
            SessionStep::Begin(asked) => ("Begin", Some(&asked.op.name)),
            SessionStep::Append(asked) => ("Append", Some(&asked.op.id)),
            SessionStep::Resume(asked) => ("Resume", Some(&asked.op.name)),
            SessionStep::Reopen(asked) => ("Reopen", Some(&asked.op.name)),
            SessionStep::ResumeFrom(asked) => ("ResumeFrom", Some(&asked.op.name)),
            SessionStep::Commit(asked) => ("Commit", Some(&asked.op.id)),
            SessionStep::Close(asked) => ("Close", Some(&asked.op.id)),
            SessionStep::Progress(asked) => ("Progress", Some(&asked.op.id)),
            SessionStep::Abort(asked) => ("Abort", Some(&asked.op.id)),
            SessionStep::ReadStaged(asked) => ("ReadStaged", Some(&asked.op.id)),
            SessionStep::Sessions(_) => ("Sessions", None),
            SessionStep::ListUploads(asked) => ("ListUploads", Some(&asked.op.prefix.as_str())),
            SessionStep::BeginParts(asked) => ("BeginParts", Some(&asked.op.name)),
            SessionStep::PutPart(asked) => ("PutPart", Some(&asked.op.name)),
            SessionStep::CopyPart(asked) => ("CopyPart", Some(&asked.op.name)),
            SessionStep::CompleteParts(completing) => ("CompleteParts", Some(&completing.op.name)),
            SessionStep::AbortParts(abort) => ("AbortParts", Some(&abort.id)),
            SessionStep::ListParts(list) => ("ListParts", Some(&list.id)),
        };
        match of {
            Some(of) => write!(f, "Session::{step} {of}"),
            None => write!(f, "Session::{step}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::serve::Job;

    #[test]
    fn a_pending_session_jobs_debug_names_its_step_and_what_it_is_for() {
        let commit = Commit {
            id: "0123abcd".to_owned(),
            mtime: None,
        };
        let job = Job::session(SessionStep::Commit(Asked::boxed(commit, Who::Everyone)));
        assert_eq!(format!("{job:?}"), "pool Session::Commit 0123abcd");
        let upload = Upload {
            name: Name::new("a/b.txt".to_owned()).unwrap(),
            size: Some(3),
            crc: None,
            meta: None,
            first: None,
            link: None,
        };
        let job = Job::session(SessionStep::Begin(Asked::boxed(upload, Who::Everyone)));
        assert_eq!(format!("{job:?}"), "pool Session::Begin a/b.txt");
    }
}
