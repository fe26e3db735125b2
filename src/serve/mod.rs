//! The serve layer: what every operation does, whichever protocol asked.
//!
//! One function per operation (`files.rs`: PUT, GET, STAT, DELETE, MOVE,
//! ECHO; `folders.rs`: a folder's DELETE; `listing.rs`: LIST and directory listings; `archive.rs`: a
//! folder as a `.tar` or `.zip`, `archive_layout.rs` what differs between the two; `sessions.rs`: UPLOAD,
//! APPEND, COMMIT, ABORT) holds every rule once: names (already validated by [`crate::name`]), the read-only mode,
//! the size limit, the storage calls and the per-request log line. Each
//! returns an [`Outcome`]: the [`Reply`] to encode now and what the
//! connection does [`Next`] (receive a body, send a file range, drain,
//! close...).
//!
//! Nothing here knows a wire format, touches a socket or matches on the
//! protocol: codecs turn bytes into an [`Operation`] and a [`Reply`] into
//! bytes, and the connection moves the bytes.
//!
//! Nor does anything here wait on the disk on the reactor's thread. An
//! operation checks its rules at once and hands its file-system work to the
//! I/O pool as a [`Job`] ([`Next::Pool`]); the job runs the rest of the
//! same function there, where blocking is allowed, and comes back with the
//! real [`Outcome`]. Only what promises not to wait is done inline: a GET
//! or STAT whose name and checksum are cached. Computing a file's
//! checksum is a job for the checksum threads ([`Job::checksum`]), asked
//! for only by an answer that states it.

mod access;
mod admission;
mod archive_layout;
mod archive_walk;
mod arrived;
mod choose;
mod coded;
mod commit;
pub mod conditions;
pub mod decoded;
pub mod digest;
mod hash_lane;
mod invariants;
mod job;
mod operate;
pub mod ops;
mod part_asks;
pub mod piece;
mod published;
mod receive;
mod reply;
mod room;
mod search;
mod send;
mod send_steps;
mod session_steps;
mod sink;
mod size_limit;
mod spool;
pub mod terms;
pub mod upload_checksum;
mod upload_steps;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use log::debug;

use crate::access::Who;
use crate::access::per_client::PerClient;
use crate::config::Config;
use crate::hooks::Hooks;
/// The words of a missing bucket (a not-found failure): S3 answers them
/// with a code of its own.
pub use crate::storage::NO_BUCKET;
use crate::storage::{StorageError, Store};
use crate::wire::Protocol;
pub use access::{BAD_SIGNATURE, Guard, Rights, Sender, UNKNOWN_KEY};
pub use archive_layout::Format as ArchiveFormat;
pub use arrived::{
    abandon, discard, dispose, finish_receive, leftover, write_behind, write_failed,
};
pub use job::{Job, Place, Ticket};
pub use operate::{Aim, Needs, Operate};
pub use ops::archive::Archive;
pub use ops::file_copy::SOURCE_RANGE;
pub use ops::get::{NO_SUCH_PART, PART_SIZES_UNKNOWN, sent};
pub use ops::locks::NOTHING_THERE;
pub use ops::props::{Change, PatchStatus, Patched, PropTarget, PropUpdate};
pub use ops::uploads::UploadsPage;
pub use ops::{Declared, Operation, Request, Verb, locks, multipart};
pub use receive::Receive;
pub use reply::{ErrorKind, Failure, PartsKept, Reply};
use room::{check_room, check_space, check_space_for, quota_applies, room_for};
pub use send::{Send, Source, closing_job, read_ahead};
pub use send_steps::SendStep;
pub(crate) use session_steps::{Asked, SessionStep};
pub use sink::{Sink, WriteBehind};
pub use size_limit::{LARGEST_FILE, check_size, size_room};
pub use spool::Held;
pub use terms::{
    Body, BodyLength, CopyTime, Folders, ListingFormat, Making, Overwrite, Page, Piece, Scope,
    Search, Selection, Trailer, Version, Want,
};
pub use upload_steps::UploadStep;

/// What an operation borrows while it is served, on the reactor or on an
/// I/O thread.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Where the files are kept, through the seam an engine plugs into:
    /// the root, or a store in memory.
    pub store: &'a dyn Store,
    /// Limits and modes.
    pub config: &'a Config,
    /// The upload hooks.
    pub hooks: &'a Hooks,
    /// The client's id, for the log.
    pub client: u64,
    /// The client's address, for per-client limits.
    pub peer: IpAddr,
    /// The protocol it speaks (for the hooks' `FERRY_PROTOCOL`; nothing
    /// here serves a protocol differently).
    pub protocol: Protocol,
    /// The walks each client address has queued or running.
    pub walks: &'a Arc<PerClient>,
    /// Set once nobody waits for the long job running in this context
    /// (its connection has gone): the job stops at its next step.
    pub abandoned: Option<&'a AtomicBool>,
}

/// What the server lends the serve layer for every request, whichever
/// thread serves it: the connection layer hands it over without a look
/// inside (it names no store).
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    /// Where the files are kept.
    pub store: &'a dyn Store,
    /// Limits and modes.
    pub config: &'a Config,
    /// The upload hooks.
    pub hooks: &'a Hooks,
    /// The walks each client address has queued or running.
    pub walks: &'a Arc<PerClient>,
}

impl<'a> Ctx<'a> {
    /// The context of a request of client `client` (at `peer`, speaking
    /// `protocol`) served with `served`.
    pub fn of(served: Served<'a>, (client, peer): (u64, IpAddr), protocol: Protocol) -> Ctx<'a> {
        Ctx {
            store: served.store,
            config: served.config,
            hooks: served.hooks,
            client,
            peer,
            protocol,
            walks: served.walks,
            abandoned: None,
        }
    }
}

impl Ctx<'_> {
    /// Whether the connection this job works for has gone.
    pub fn is_abandoned(&self) -> bool {
        self.abandoned
            .is_some_and(|flag| flag.load(Ordering::Acquire))
    }
}

/// The answer to an operation and what the connection does after it.
pub struct Outcome {
    /// What to tell the client now.
    pub reply: Reply,
    /// What happens next.
    pub next: Next,
    /// The token a request without one acted as, once known on the pool
    /// (a share link's creator): the access log names it.
    pub acting_as: Option<Arc<crate::access::Principal>>,
}

/// Where an outcome goes ([`Outcome::handoff`]).
pub enum Handoff {
    /// A job that waits for the group commit to flush what it owes.
    Flusher(Job, crate::storage::Unflushed),
    /// Anything else: to the connection.
    Reactor(Outcome),
}

/// What the connection does once the reply is queued.
pub enum Next {
    /// Wait for the next request.
    Request,
    /// Receive a body into its sink; hand it to [`finish_receive`] once
    /// complete.
    Receive(Box<Receive>),
    /// Send a file range.
    Send(Send),
    /// Send these bytes held in memory (a listing's answer), then the
    /// next request.
    Held(Box<Held>),
    /// Send back this many body bytes.
    Echo {
        /// Bytes still to echo.
        left: u64,
    },
    /// Read and discard this many body bytes, then go on.
    Drain {
        /// Bytes still to discard.
        left: u64,
    },
    /// Wait while the I/O pool runs this job; its outcome comes next.
    Pool(Job),
    /// A write behind a receive came back from the I/O pool: for that
    /// receive (it is no step of its own).
    Wrote(Box<WriteBehind>),
    /// The reply is the connection's last: close after it.
    Close,
    /// A body going out cannot go on (its file shrank, or the disk
    /// failed, after its answer began): the connection closes, and what
    /// it reports of its transfer (FTP's `426`) says it was cut; `unsent`
    /// of its bytes never went.
    Cut {
        /// Bytes of the body that did not go out.
        unsent: u64,
    },
}

impl Outcome {
    /// `reply`, then `next`.
    pub fn new(reply: Reply, next: Next) -> Outcome {
        Outcome {
            reply,
            next,
            acting_as: None,
        }
    }

    /// `reply`, then the next request.
    pub fn answer(reply: Reply) -> Outcome {
        Outcome::new(reply, Next::Request)
    }

    /// Where the outcome goes from the thread that made it: one that
    /// says nothing yet and only waits for a group-commit flush (a
    /// durable commit's step, [`Job::upload_after_flush`]) straight to the
    /// flusher, as the connection has nothing to do with it; any other
    /// to the connection's reactor.
    pub fn handoff(mut self) -> Handoff {
        if let (Reply::Nothing, Next::Pool(job)) = (&self.reply, &mut self.next)
            && let Some(owed) = job.take_flush()
            && let Next::Pool(job) = self.next
        {
            // Only a link's first outcome names whom it acts as.
            debug_assert!(self.acting_as.is_none(), "a flush's wait acting as a token");
            return Handoff::Flusher(job, owed);
        }
        Handoff::Reactor(self)
    }

    /// A failure, then `next`.
    pub fn failed(failure: Failure, next: Next) -> Outcome {
        Outcome::new(Reply::Failed(failure), next)
    }

    /// Nothing to say yet: `job` (a named step's, [`Job::upload`],
    /// [`Job::send`]) runs where it says and its outcome is the answer.
    pub fn pending(job: Job) -> Outcome {
        Outcome::new(Reply::Nothing, Next::Pool(job))
    }

    /// Nothing to say yet: `work` runs on the I/O pool and its outcome is
    /// the answer.
    pub fn on_pool(
        work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static,
    ) -> Outcome {
        Outcome::new(Reply::Nothing, Next::Pool(Job::new(work)))
    }

    /// As [`Outcome::on_pool`], for a few file-system calls on one name
    /// ([`Job::brief`]: in place on a memory file system).
    pub fn brief(work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static) -> Outcome {
        Outcome::new(Reply::Nothing, Next::Pool(Job::brief(work)))
    }

    /// Nothing to say yet: `work` runs on a checksum thread (it computes a
    /// file's CRC-32C, [`Job::checksum`]) and its outcome is the answer.
    pub fn on_checksum(
        work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static,
    ) -> Outcome {
        Outcome::new(Reply::Nothing, Next::Pool(Job::checksum(work)))
    }

    /// As [`Outcome::on_pool`], for work that may keep a CPU busy for long
    /// ([`Job::long`]).
    pub fn on_pool_long(
        work: impl FnOnce(&Ctx<'_>) -> Outcome + std::marker::Send + 'static,
    ) -> Outcome {
        Outcome::new(Reply::Nothing, Next::Pool(Job::long(work)))
    }
}

/// Serves one decoded request (on the reactor: what may wait on the disk
/// comes back as a [`Job`]): who it is from, whether they may, then the
/// operation's own function.
pub fn serve(request: Request, ctx: &Ctx<'_>, guard: &mut Guard<'_>) -> Outcome {
    let Request {
        operation,
        token,
        conditions,
    } = request;
    // The verb and the names, not the whole operation: its every field
    // formatted linked a Debug of every operation's type (77 KB).
    debug!(
        "#{} {} {}",
        ctx.client,
        operation.declared().verb.name(),
        for_log(&subject_of(operation.declared()))
    );
    if let Operation::Auth(ops::Auth { token }) = &operation {
        let outcome = access::auth(ctx, guard, token);
        guard.user = guard.held.clone();
        return outcome;
    }
    #[cfg(feature = "shares")]
    if let Operation::ViaLink(via) = operation {
        return ops::via_link::serve(guard.access, via);
    }
    let body = operation.body();
    let who = match access::identify(ctx, guard, token.as_ref()) {
        Ok(who) => who,
        Err(failure) => return Outcome::failed(failure, skip_body(body, ctx.config)),
    };
    if let Who::Holder(principal) = &who {
        guard.user = Some(Arc::clone(principal));
    }
    if let Err(refused) = admit(ctx, &who, operation.declared()) {
        return Outcome::failed(refused, skip_body(body, ctx.config));
    }
    admission::admitted(ctx, who, operation, conditions)
}

/// The rules every operation meets before its own function runs, each
/// once: the client's grants for what it `declared`, the tree's invariants
/// (`invariants.rs`: nothing moved onto what holds it), and the read-only
/// mode for a verb that writes.
///
/// # Errors
/// 401 or 403 (grants), 409 or 403 (invariants), 403 (read-only); logged
/// here.
fn admit(ctx: &Ctx<'_>, who: &Who, declared: Declared<'_>) -> Result<(), Failure> {
    let verb = declared.verb.name();
    if let Err(failure) = access::authorize(who, declared) {
        log_refusal(ctx.client, verb, "", &failure);
        return Err(failure);
    }
    if let Err(failure) = invariants::check(declared) {
        log_refusal(ctx.client, verb, &subject_of(declared), &failure);
        return Err(failure);
    }
    if declared.verb.writes()
        && let Err(failure) = check_writable(ctx.config)
    {
        log_refusal(ctx.client, verb, &subject_of(declared), &failure);
        return Err(failure);
    }
    Ok(())
}

/// What an operation is about, for its log lines: its name, or both of
/// a move's or a copy's.
fn subject_of(declared: Declared<'_>) -> String {
    match declared.to {
        Some(to) => format!("{} -> {to}", declared.subject),
        None => declared.subject.to_owned(),
    }
}

/// A subject as a log line shows it: escaped as a string's `Debug`
/// escapes it. A name holds no control character (name.rs), but not every
/// subject is a name (an upload's or a link's id as the client sent it),
/// and none may break a line or turn it around (U+2028, U+202E). The
/// request's debug line and [`log_refusal`] (every refusal [`refuse`]
/// logs) escape through here.
fn for_log(subject: &str) -> std::str::EscapeDebug<'_> {
    subject.escape_debug()
}

/// Whose upload it is, for the hooks (the token's name they are told, and
/// the share of the hook runner it counts against) and for the usage
/// ledger (the file's owner): copied only for a server with hooks or
/// that counts usage.
fn user_of(ctx: &Ctx<'_>, who: &Who) -> Option<crate::access::Owner> {
    match ctx.hooks.configured() || ctx.store.counts_usage() {
        true => who.owner(),
        false => None,
    }
}

/// What to do with the body of a request that is answered without being
/// served: read and discard it when its length is known and it is on its
/// way; close after the answer when it may never come (the client awaits a
/// go-ahead), has no known end (chunked), or is over the size limit (which
/// we would not read for a stored file either).
pub fn skip_body(body: Body, config: &Config) -> Next {
    match body.length {
        BodyLength::Fixed(0) => Next::Request,
        _ if body.awaits_go_ahead => Next::Close,
        BodyLength::Fixed(size) if check_size(config, size).is_err() => Next::Close,
        BodyLength::Fixed(size) => Next::Drain { left: size },
        BodyLength::Chunked | BodyLength::UntilEof => Next::Close,
    }
}

/// A place for one more walk (a listing, an archive) of the client's
/// address: each address may have `--max-walks-per-client` queued or
/// running, so one client cannot fill the listing threads' queue for all.
///
/// # Errors
/// 503 while the address has its share.
fn walk_permit(ctx: &Ctx<'_>) -> Result<crate::access::per_client::Permit, Failure> {
    ctx.walks.permit(ctx.peer).ok_or_else(|| {
        Failure::new(
            ErrorKind::Busy,
            format!(
                "too many listings and archives at once from this address (at most {}): try again when one has finished",
                ctx.walks.cap()
            ),
        )
    })
}

/// The read-only mode (`--read-only`): one home for the rule, checked by
/// every operation that writes.
fn check_writable(config: &Config) -> Result<(), Failure> {
    if config.read_only {
        return Err(Failure::new(ErrorKind::ReadOnly, "server is read-only"));
    }
    Ok(())
}

/// The end of a walk whose client has gone (`verb` on `subject`): nothing
/// to answer, and the connection, if it is still there, closes.
fn abandoned(ctx: &Ctx<'_>, verb: &str, subject: &str) -> Outcome {
    debug!(
        "#{} {verb} {subject:?} stopped: its client has gone",
        ctx.client
    );
    Outcome::new(Reply::Nothing, Next::Close)
}

/// Logs a refused operation on `subject` and answers it, then `next`.
/// A "not found" where the root itself is gone (removed under the
/// server) is the storage's failure, to be tried again on another node
/// (503), not the name's (404): checked here, on error paths only.
fn refuse(ctx: &Ctx<'_>, verb: &str, subject: &str, failure: Failure, next: Next) -> Outcome {
    let failure = match failure.kind {
        ErrorKind::NotFound if ctx.store.is_gone() => {
            let gone = rustix::io::Errno::NOENT;
            StorageError::Unavailable(gone, log::Level::Warn).into()
        }
        _ => failure,
    };
    log_refusal(ctx.client, verb, subject, &failure);
    Outcome::failed(failure, next)
}

/// The diagnostic of a refusal: the access log has its code already, so
/// the reason is a debug line, unless the server is at fault (a 5xx: a
/// full disk, a limit reached), which operators should see, and a warning
/// where its storage failed, which they must see even with `--log-level
/// warn` (an error when it keeps failing: `storage::failure_level`).
fn log_refusal(client: u64, verb: &str, subject: &str, failure: &Failure) {
    let level = match failure.kind {
        ErrorKind::Unavailable | ErrorKind::Internal => failure.level.unwrap_or(log::Level::Warn),
        kind if kind.code() >= 500 => log::Level::Info,
        _ => log::Level::Debug,
    };
    log::log!(level, "#{client} {verb} {}: {failure}", for_log(subject));
}

/// [`refuse`] for a storage error.
fn storage_refusal(ctx: &Ctx<'_>, verb: &str, subject: &str, err: StorageError) -> Outcome {
    refuse(ctx, verb, subject, err.into(), Next::Request)
}

/// What a client is told of a folder that is not there (a listing, an
/// archive, a folder's DELETE): the storage's "no such file" would name
/// the wrong thing.
const NO_SUCH_FOLDER: &str = "no such folder";

/// [`storage_refusal`] for an operation on the folder `subject`: one
/// that is not there is "no such folder".
fn folder_refusal(ctx: &Ctx<'_>, verb: &str, subject: &str, err: StorageError) -> Outcome {
    match err {
        StorageError::NotFound => {
            let failure = Failure::new(ErrorKind::NotFound, NO_SUCH_FOLDER);
            refuse(ctx, verb, subject, failure, Next::Request)
        }
        err => storage_refusal(ctx, verb, subject, err),
    }
}

#[cfg(test)]
mod tests {
    use super::size_limit::tests::limited;
    use super::*;
    use crate::model::{FileInfo, Stamp};

    #[test]
    fn a_subject_from_the_client_cannot_break_a_log_line() {
        let declared = |subject, to| Declared {
            verb: Verb::Abort,
            subject,
            to,
            needs: Needs::Nothing,
        };
        // A tus upload id as a target may carry what a name may not.
        let forged = "0123\u{2028}#9 DELETE all\u{202e}";
        let logged = |declared| for_log(&subject_of(declared)).to_string();
        assert_eq!(
            logged(declared(forged, None)),
            "0123\\u{2028}#9 DELETE all\\u{202e}"
        );
        assert_eq!(
            logged(declared("a/x.txt", Some("a/\u{85}y.txt"))),
            "a/x.txt -> a/\\u{85}y.txt"
        );
    }

    #[test]
    fn refused_bodies_are_skipped_only_when_they_surely_come_and_end() {
        let config = limited(100);
        let skip = |length, awaits_go_ahead| {
            skip_body(
                Body {
                    length,
                    awaits_go_ahead,
                },
                &config,
            )
        };
        assert!(matches!(skip(BodyLength::Fixed(0), true), Next::Request));
        assert!(matches!(
            skip(BodyLength::Fixed(100), false),
            Next::Drain { left: 100 }
        ));
        assert!(matches!(skip(BodyLength::Fixed(101), false), Next::Close));
        assert!(matches!(skip(BodyLength::Fixed(5), true), Next::Close));
        assert!(matches!(skip(BodyLength::Chunked, false), Next::Close));
    }

    #[test]
    fn spans_may_start_at_the_end_but_not_beyond() {
        let version = Version {
            info: FileInfo { size: 10, mtime: 0 },
            stamp: Stamp::default(),
            crc: None,
            md5: None,
        };
        let span = |offset, length| Want::Span { offset, length }.select(&version);
        assert_eq!(
            span(4, Some(100)),
            Selection::Bytes {
                start: 4,
                len: 6,
                part: false,
                body: true
            }
        );
        assert!(matches!(span(10, None), Selection::Bytes { len: 0, .. }));
        assert_eq!(span(11, None), Selection::Unsatisfiable);
        let head = Want::Whole { body: false }.select(&version);
        assert!(matches!(
            head,
            Selection::Bytes {
                len: 10,
                body: false,
                ..
            }
        ));
    }

    #[test]
    fn only_answers_that_state_the_checksum_wait_for_it() {
        let version = Version {
            info: FileInfo { size: 10, mtime: 0 },
            stamp: Stamp::default(),
            crc: None,
            md5: None,
        };
        let needs = |want: Want| want.needs_checksum(&want.select(&version));
        assert!(!needs(Want::Span {
            offset: 0,
            length: None
        }));
        assert!(!needs(Want::Span {
            offset: 9,
            length: Some(1)
        }));
        assert!(!needs(Want::Span {
            offset: 11,
            length: None
        }));
        assert!(needs(Want::Whole { body: true }));
        assert!(!needs(Want::Whole { body: false }));
    }
}
