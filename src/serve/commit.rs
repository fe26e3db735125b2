//! The commit of a verified upload, a PUT's and a resumable upload's
//! COMMIT alike (one home for the rule): the before-commit hook's veto,
//! the rename that publishes the file, and the on-upload hook after it.
//!
//! ```text
//! verified upload --(--before-commit?)--> the token's share of the runner full?
//!     (the preconditions and the lock rule judged before the hook and
//!      again just before the rename, the quotas by the rename)
//!     yes     -> drop (temp file gone, a session kept to retry) -> 503, nothing stored
//!     no      -> hook runner: run the hook
//!     exit 0  -> publish (rename; --fsync) -> answer; queue --on-upload
//!     else    -> discard (temp file or session gone) -> 403, nothing stored
//! ```
//!
//! Without a before-commit hook the commit runs where it was asked (on the
//! I/O pool). With one, the connection waits for the hook runner
//! ([`UploadStep::BeforeCommit`]), which runs the hook and then the commit
//! or the discard itself: the I/O pool never waits for a hook.

use std::time::Instant;

use log::error;

use super::conditions::Conditions;
use super::digest::Checksum;
use super::operate::Needs;
use super::ops::at_change::{judged_again, judged_under};
use super::ops::makes_only::MakesOnly;
use super::published::{Published, refusal_of};
use super::{Ctx, ErrorKind, Failure, Job, Next, Outcome, Reply, UploadStep};
use crate::access::Owner;
use crate::formats::upload_metadata;
use crate::hooks::{Event, Facts, Slot, Verdict};
use crate::name::Name;
use crate::storage::{Committing, Durable, LoneCommit, StorageError, Unflushed, Upload};

/// A verified upload to make visible.
pub(super) struct Commit {
    pub(super) upload: Upload,
    /// The file it becomes.
    pub(super) name: Name,
    pub(super) size: u64,
    pub(super) crc: u32,
    /// When the request began.
    pub(super) started: Instant,
    /// Whose upload it is, for the hooks (their `FERRY_USER` and their
    /// share of the runner); `None` without hooks or access control.
    pub(super) user: Option<Owner>,
    /// The upload session it was staged in (`None` for a PUT).
    pub(super) session: Option<String>,
    /// What its client said of it (the session's metadata), for the hooks.
    pub(super) meta: Option<String>,
    /// The additional checksum its body was verified against (S3's), for
    /// the answer.
    pub(super) checksum: Option<Box<Checksum>>,
    /// The request's preconditions on its target and the lock tokens it
    /// submits, judged again just before the rename
    /// ([`Conditions::at_commit`]).
    pub(super) preconditions: Option<Box<Conditions>>,
    /// A session's commit that may only make its file: what goes if the
    /// rename finds the name taken.
    pub(super) makes_only: Option<MakesOnly>,
}

impl Commit {
    /// The commit of a whole upload staged by one request (a PUT, a
    /// COPY's staged bytes): no session, no client metadata.
    pub(super) fn whole(
        upload: Upload,
        (name, size, crc): (Name, u64, u32),
        started: Instant,
        user: Option<Owner>,
    ) -> Commit {
        Commit {
            upload,
            name,
            size,
            crc,
            started,
            user,
            session: None,
            meta: None,
            checksum: None,
            preconditions: None,
            makes_only: None,
        }
    }

    /// What a hook is told about this upload, whose bytes are at `path`
    /// (relative to the root).
    fn facts(&self, ctx: &Ctx<'_>, event: Event, path: &std::path::Path) -> Facts {
        Facts {
            event,
            name: self.name.as_str().to_owned(),
            size: self.size,
            crc: self.crc,
            path: ctx.hooks.path_of(path),
            final_path: ctx.hooks.path_of(self.name.as_str().as_ref()),
            user: self.user.as_ref().and_then(Owner::token).map(str::to_owned),
            client: ctx.client,
            peer: ctx.peer,
            protocol: ctx.protocol,
            meta: self
                .meta
                .as_deref()
                .map(upload_metadata::hook_vars)
                .unwrap_or_default(),
        }
    }
}

/// Commits a verified upload (off the loop: it blocks on the disk), after
/// the before-commit hook, if there is one, has let it through.
pub(super) fn commit_now(ctx: &Ctx<'_>, commit: Commit) -> Outcome {
    if !ctx.hooks.vetoes() {
        return publish(ctx, commit);
    }
    // No hook is run for an upload bound to be refused (judged again
    // after it, as the hook takes time: the table is let go at once).
    let write = Needs::Write(commit.name.as_str());
    if let Err(failure) = judged_again(ctx, write, commit.preconditions.as_deref()) {
        return not_stored(ctx, commit, failure);
    }
    let Ok(slot) = ctx.hooks.reserve(commit.user.as_ref()) else {
        return share_full(ctx, commit);
    };
    // An engine with no place for the staged bytes (the memory store, which
    // serves tests: hooks are a POSIX root's) names the file instead.
    let staged = commit.upload.staged_path();
    let staged = staged.as_deref().unwrap_or(commit.name.as_str().as_ref());
    let facts = commit.facts(ctx, Event::BeforeCommit, staged);
    let vetting = Vetting {
        commit,
        facts,
        slot,
    };
    Outcome::pending(Job::upload(UploadStep::BeforeCommit(Box::new(vetting))))
}

/// A verified upload waiting for the before-commit hook's verdict
/// ([`UploadStep::BeforeCommit`]).
pub struct Vetting {
    /// The upload.
    pub(super) commit: Commit,
    /// What the hook is told.
    facts: Facts,
    /// Its owner's place in the hook runner, held while the hook runs.
    slot: Slot,
}

/// [`UploadStep::BeforeCommit`] (on the hook runner): the hook runs, then
/// the upload is published or discarded.
pub(super) fn vet(ctx: &Ctx<'_>, vetting: Vetting) -> Outcome {
    let Vetting {
        commit,
        facts,
        slot,
    } = vetting;
    let verdict = ctx.hooks.veto(&facts);
    // The place is given back once the hook has ended: the commit
    // after it still runs here, on the hook runner, but it is disk work,
    // not a hook's wait, and holds no hook's place.
    drop(slot);
    match verdict {
        Verdict::Accept => publish(ctx, commit),
        Verdict::Refuse(why) => refused(ctx, commit, Failure::new(ErrorKind::Vetoed, why)),
        Verdict::Failed(err) => {
            error!("#{} before-commit hook could not run: {err}", ctx.client);
            let failure = Failure::new(ErrorKind::Internal, "before-commit hook could not run");
            refused(ctx, commit, failure)
        }
    }
}

/// An upload whose owner's share of the hook runner is full: not stored.
fn share_full(ctx: &Ctx<'_>, commit: Commit) -> Outcome {
    let busy = "hooks of this token are busy (its share of --hook-concurrency): try again";
    not_stored(ctx, commit, Failure::new(ErrorKind::Busy, busy))
}

/// An upload not stored for now: a PUT's temp file goes; a session stays
/// as it was (dropped, not discarded), so that its commit (a COMMIT, an
/// S3 multipart completion) can be tried again.
fn not_stored(ctx: &Ctx<'_>, commit: Commit, failure: Failure) -> Outcome {
    super::log_refusal(ctx.client, "PUT", commit.name.as_str(), &failure);
    drop(commit);
    Outcome::failed(failure, Next::Request)
}

/// An upload the before-commit hook refused: nothing of it is kept.
fn refused(ctx: &Ctx<'_>, commit: Commit, failure: Failure) -> Outcome {
    super::log_refusal(ctx.client, "PUT", commit.name.as_str(), &failure);
    commit.upload.discard();
    Outcome::failed(failure, Next::Request)
}

/// Renames a verified upload into place, and with `--fsync` flushes it to
/// stable storage first, before the answer; then queues the on-upload
/// hook. With `--fsync` every flush is the group commit's
/// (`storage/posix/flush.rs`): the answer waits for its batches, no thread
/// does (a PUT's, a COMMIT's, a tus upload's last PATCH's, an S3
/// multipart completion's alike); but a commit with no other in flight
/// flushes its steps itself, on this I/O thread ([`LoneCommit`]).
fn publish(ctx: &Ctx<'_>, commit: Commit) -> Outcome {
    // Only made when there is a hook to tell: a PUT pays nothing else.
    let facts = ctx
        .hooks
        .notifies()
        .then(|| commit.facts(ctx, Event::Uploaded, commit.name.as_str().as_ref()));
    let Commit {
        mut upload,
        name,
        size,
        crc,
        started,
        user,
        session,
        meta: _,
        checksum,
        preconditions,
        makes_only,
    } = commit;
    // The quotas, judged at the start where the size was known, are
    // judged again by the rename itself, under the ledger's lock
    // (`storage/posix/usage_commit.rs`): uploads that ran side by side and each
    // fitted alone cannot all land past a quota. Refused, a session stays
    // to commit once room is made.
    upload.set_owner(
        user.as_ref().and_then(Owner::token),
        user.as_ref().and_then(Owner::quota),
    );
    // The checksum it was verified against is recorded with its CRC-32C.
    if let Some(checksum) = &checksum {
        upload.set_stated_checksum(checksum.record());
    }
    let mut published = Published {
        facts,
        user,
        name,
        started,
        preconditions,
        makes_only,
        stored: Reply::Stored {
            size,
            crc,
            replaced: upload.replaces_existing(),
            session,
            md5: upload.md5(),
            checksum,
            version: None,
        },
    };
    // Judged before the body too; judged again now that it is in (the
    // file may have changed while it arrived), by the engine's commit,
    // under the lock table's hold through the rename where it renames at
    // once. A durable commit that flushes first lets the table go after
    // the judgement, and its rename is judged again under a hold of its
    // own ([`Published::before_step`]), so a LOCK never waits for a
    // flush. The new version's dead properties (S3's metadata) are
    // recorded by the commit, for its inode: it appears with them.
    let write = Needs::Write(published.name.as_str());
    let mut refused = None;
    let committing = ctx
        .store
        .commit(upload, crc, ctx.config.fsync, &mut |table| {
            let judged = judged_under(ctx, table, write, published.preconditions.as_deref());
            judged.map_err(|failure| refused = Some(failure)).is_ok()
        });
    match committing {
        Ok(Committing::Done(committed)) => {
            published.landed(committed.landed);
            published.found(committed.replaced);
            published.answer(ctx, Ok(()))
        }
        Ok(Committing::Alone(durable, lone)) => {
            let committed = steps_alone(ctx, &lone, durable, &mut published);
            drop(lone);
            published.answer(ctx, committed)
        }
        Ok(Committing::Grouped(durable, owed)) => {
            published.landed(durable.landed());
            let flushing = Box::new(Flushing { durable, published });
            Outcome::pending(step_after_flush(flushing, owed))
        }
        Err(StorageError::NotAdmitted) if let Some(failure) = refused => {
            published.answer(ctx, Err(failure))
        }
        Err(err) => {
            let failure = published.refusal(err);
            published.answer(ctx, Err(failure))
        }
    }
}

/// Takes a durable commit's steps on this I/O thread, flushing what each
/// owes itself ([`LoneCommit`]: no other durable change is in flight), in
/// the order the group commit would. A failed commit is dropped before
/// the answer, as there.
fn steps_alone(
    ctx: &Ctx<'_>,
    lone: &LoneCommit<'_>,
    mut durable: Durable,
    published: &mut Published,
) -> Result<(), Failure> {
    published.landed(durable.landed());
    while published.step_alone(ctx, &mut durable, lone)? {}
    Ok(())
}

/// A durable commit under way: the commit, and the upload it answers for.
pub struct Flushing {
    durable: Durable,
    pub(super) published: Published,
}

/// The job that waits for the group commit to flush `owed`, then takes
/// the durable commit's next step ([`UploadStep::Flushed`]).
fn step_after_flush(flushing: Box<Flushing>, owed: Unflushed) -> Job {
    Job::upload_after_flush(owed, UploadStep::Flushed(flushing))
}

/// [`UploadStep::Flushed`] (on the flusher thread, which only hands it
/// on): once durable, the answer, given here once the last flush is done
/// (nothing is left to do on the disk: a trip through the pool would only
/// delay it); else the next step on the pool ([`UploadStep::Durable`]:
/// what the step does, and dropping the commit if the flush failed, is
/// file-system work).
pub(super) fn flushed(
    ctx: &Ctx<'_>,
    flushing: Box<Flushing>,
    flushed: Result<(), StorageError>,
) -> Outcome {
    if flushed.is_ok() && flushing.durable.is_durable() {
        flushing.durable.flushed();
        return flushing.published.answer(ctx, Ok(()));
    }
    let step = UploadStep::Durable { flushing, flushed };
    Outcome::pending(Job::upload(step))
}

/// [`UploadStep::Durable`] (on the pool): the durable commit's next step,
/// given how the flush before it went, until it is durable.
pub(super) fn step_durable(
    ctx: &Ctx<'_>,
    flushing: Flushing,
    flushed: Result<(), StorageError>,
) -> Outcome {
    let Flushing {
        mut durable,
        mut published,
    } = flushing;
    let stepped = flushed
        .map_err(refusal_of)
        .and_then(|()| published.step(ctx, &mut durable));
    match stepped {
        Ok(Some(owed)) => {
            let flushing = Box::new(Flushing { durable, published });
            Outcome::pending(step_after_flush(flushing, owed))
        }
        Ok(None) => published.answer(ctx, Ok(())),
        Err(failure) => {
            drop(durable);
            published.answer(ctx, Err(failure))
        }
    }
}
