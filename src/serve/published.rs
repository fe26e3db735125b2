//! An upload's commit from its last look to its answer: the
//! preconditions and the lock rule judged with the lock table held still
//! until the rename ([`judged_again`]), what a failed rename answers, and
//! the renamed upload answered for once it is as durable as asked
//! ([`Published`], a durable commit's steps taken through it).
//! `commit.rs` decides when; this file holds what each step judges.

use std::time::Instant;

use log::debug;

use super::conditions::Conditions;
use super::operate::Needs;
use super::ops::at_change::judged_again;
use super::ops::makes_only::MakesOnly;
use super::{Ctx, ErrorKind, Failure, Next, Outcome, Reply, Version};
use crate::access::Owner;
use crate::hooks::Facts;
use crate::name::Name;
use crate::storage::{Durable, Landed, LoneCommit, Steady, StorageError, Unflushed};

/// Why an upload that was to create its file (`If-None-Match: *`) was not
/// stored: another took the name while its body arrived.
pub const TAKEN: &str = "a file of that name was stored before the commit (If-None-Match: *)";

/// What a commit that failed in storage answers.
pub(super) fn refusal_of(err: StorageError) -> Failure {
    match err {
        // Only an upload that creates its file only fails so
        // (`If-None-Match: *`): a plain rename replaces.
        StorageError::Exists => Failure::new(ErrorKind::PreconditionFailed, TAKEN),
        err => Failure::from(err),
    }
}

/// An upload renamed into place, to answer for once it is as durable as
/// asked.
pub(super) struct Published {
    pub(super) facts: Option<Facts>,
    pub(super) user: Option<Owner>,
    pub(super) name: Name,
    pub(super) started: Instant,
    /// The write's preconditions on its target, judged a last time once
    /// its bytes are flushed, just before the rename.
    pub(super) preconditions: Option<Box<Conditions>>,
    /// What goes if the rename finds the name taken ([`MakesOnly`]).
    pub(super) makes_only: Option<MakesOnly>,
    /// The answer if it is.
    pub(super) stored: Reply,
}

impl Published {
    /// The version the file became (`landed`), for the answer's `ETag`.
    pub(super) fn landed(&mut self, landed: Option<Landed>) {
        if let Reply::Stored {
            version, crc, md5, ..
        } = &mut self.stored
        {
            *version = landed.map(|(info, stamp)| {
                Box::new(Version {
                    info,
                    stamp,
                    crc: Some(*crc),
                    md5: *md5,
                })
            });
        }
    }

    /// Whether the commit replaced a file, as its rename found (an
    /// upload that looked at its begin knew already: see
    /// `storage::Look`).
    pub(super) fn found(&mut self, replaced: bool) {
        if let Reply::Stored {
            replaced: answer, ..
        } = &mut self.stored
        {
            *answer = replaced;
        }
    }

    /// Takes `durable`'s next step, its bytes (or what the step before
    /// changed) being flushed; before the rename, its preconditions are
    /// judged once more (a flush is long enough for another writer to
    /// store the name), and the file is not renamed if they fail.
    pub(super) fn step(
        &mut self,
        ctx: &Ctx<'_>,
        durable: &mut Durable,
    ) -> Result<Option<Unflushed>, Failure> {
        let _steady = self.before_step(ctx, durable)?;
        let owed = durable.step().map_err(|err| self.refusal(err))?;
        self.found(durable.replaced());
        Ok(owed)
    }

    /// As [`Published::step`] for a commit alone: the step's flush made
    /// here too, after the lock table is let go. Returns whether a step
    /// is left.
    pub(super) fn step_alone(
        &mut self,
        ctx: &Ctx<'_>,
        durable: &mut Durable,
        lone: &LoneCommit<'_>,
    ) -> Result<bool, Failure> {
        let steady = self.before_step(ctx, durable)?;
        let left = durable
            .step_alone(lone, || drop(steady))
            .map_err(|err| self.refusal(err))?;
        self.found(durable.replaced());
        Ok(left)
    }

    /// What a commit's failure `err` answers: [`refusal_of`], but a name
    /// found taken where the commit may only make it ([`MakesOnly`]).
    pub(super) fn refusal(&mut self, err: StorageError) -> Failure {
        match self.makes_only.as_mut().is_some_and(|m| m.taken(&err)) {
            true => StorageError::Exists.into(),
            false => refusal_of(err),
        }
    }

    /// Before the rename, the preconditions and the lock rule judged once
    /// more, the lock table held still until the step is taken.
    fn before_step<'c>(
        &self,
        ctx: &Ctx<'c>,
        durable: &Durable,
    ) -> Result<Option<Steady<'c>>, Failure> {
        match durable.renames_next() {
            true => {
                let write = Needs::Write(self.name.as_str());
                judged_again(ctx, write, self.preconditions.as_deref()).map(Some)
            }
            false => Ok(None),
        }
    }

    /// The answer, given how the commit (and its flush) went; queues the
    /// on-upload hook if it is stored. Short: it may run on the flusher
    /// thread.
    pub(super) fn answer(self, ctx: &Ctx<'_>, result: Result<(), Failure>) -> Outcome {
        let client = ctx.client;
        let name = self.name;
        if let Some(makes_only) = &self.makes_only {
            makes_only.end_if_taken(ctx);
        }
        if let Err(failure) = result {
            super::log_refusal(client, "PUT", name.as_str(), &failure);
            return Outcome::failed(failure, Next::Request);
        }
        if let Reply::Stored { size, .. } = &self.stored {
            debug!(
                "#{client} PUT {name} {size} bytes {:.3}s",
                self.started.elapsed().as_secs_f64()
            );
        }
        if let Some(facts) = self.facts {
            ctx.hooks.uploaded(facts, self.user);
        }
        Outcome::answer(self.stored)
    }
}
