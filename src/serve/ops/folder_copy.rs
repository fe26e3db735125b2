//! A folder's COPY (WebDAV's of a collection, RFC 4918 9.8.3: the tree,
//! or the folder alone), by the rules of `folders.rs` (the source judged,
//! the destination cleared as its DELETE would be): every member the
//! client may read and write as the copy is copied, the rest told. The
//! walk runs on the pool's listing threads like a listing's.

use std::collections::HashMap;

use log::debug;

use super::folder_removal::{clear, remains};
use super::folders::{check_folders, check_source};
use crate::access::{Perm, Who};
use crate::model::Usage;
use crate::name::Prefix;
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::walk_permit;
use crate::serve::{
    Ctx, Failure, Next, Outcome, Reply, abandoned, check_space_for, quota_applies, refuse,
    storage_refusal,
};
use crate::storage::{CopyTree, Member};

/// Copy folder `from` to `to` (WebDAV's `COPY` of a collection).
#[derive(Debug)]
pub struct CopyFolder {
    /// The folder (ending in `/`; never the root).
    pub from: Prefix,
    /// The copy (ending in `/`), whose parent folder exists.
    pub to: Prefix,
    /// Everything in it (`Depth: infinity`), or the folder alone.
    pub deep: bool,
    /// Replace what has the name `to` (removed as DELETE would).
    pub overwrite: bool,
    /// The request's preconditions and lock tokens, for the lock rule
    /// judged as what has the name `to` is removed: kept from its
    /// conditions ([`Operate::keep`]), not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for CopyFolder {
    fn aim(&self) -> Aim<'_> {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        Aim::onto(from, to, Needs::CopyUnder(from, to))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        copy(ctx, who, self)
    }
}

/// COPY of folder `from` to `to`: the folder, and if `deep` every folder
/// and every file in it that `who` may read and write as the copy (the
/// rest is told, the copy goes on), on the pool's listing threads with a
/// walk permit like a listing's. [`Reply::Moved`] (201 or 204) when all
/// was copied, else [`Reply::Remains`] naming what was not.
fn copy(ctx: &Ctx<'_>, who: Who, op: CopyFolder) -> Outcome {
    let CopyFolder {
        from,
        to,
        deep,
        overwrite,
        preconditions,
    } = op;
    let (source, target) = match check_folders(&from, &to) {
        Ok(names) => names,
        Err(failure) => return refuse(ctx, "COPY", from.as_str(), failure, Next::Request),
    };
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "COPY", from.as_str(), failure, Next::Request),
    };
    Outcome::on_pool_long(move |ctx| {
        let _permit = permit;
        if let Err(outcome) = check_source(ctx, "COPY", &source, true) {
            return *outcome;
        }
        // The reserve and the quotas are judged once, before anything is
        // copied, by what the whole copy adds (a file that then finds the
        // disk full is told among what was not copied): where a quota
        // applies, that takes a walk of the source first.
        let adds = match quota_applies(ctx, &who, target.as_str()) {
            true => ctx.store.tree_usage(&from),
            false => Ok(Usage::default()),
        };
        let fits = adds.map_err(Failure::from);
        if let Err(failure) =
            fits.and_then(|adds| check_space_for(ctx, &who, target.as_str(), adds))
        {
            return refuse(ctx, "COPY", from.as_str(), failure, Next::Request);
        }
        let kept = preconditions.as_deref();
        let replaced = match clear(ctx, (&who, "COPY"), &target, (overwrite, false), kept) {
            Ok(replaced) => replaced,
            Err(outcome) => return *outcome,
        };
        let how = CopyTree {
            deep,
            durable: ctx.config.fsync,
            owner: who.name(),
            quota: who.quota(),
        };
        let copied = ctx.store.copy_tree(
            &from,
            &target,
            how,
            &mut |source, copy| member(&who, source, copy),
            &mut || !ctx.is_abandoned(),
        );
        let subject = format!("{} -> {}", from.as_str(), to.as_str());
        match copied {
            Ok(copied) if copied.is_complete() => {
                debug!("#{} COPY {subject}", ctx.client);
                Outcome::answer(Reply::Moved { replaced })
            }
            Ok(copied) => {
                let left = (copied.kept.len() + copied.failed.len()) as u64 + copied.more;
                debug!("#{} COPY {subject}: {left} left out", ctx.client);
                let remains = remains(&who, (Perm::Write, &from), copied, HashMap::new());
                Outcome::answer(remains)
            }
            Err(_) if ctx.is_abandoned() => abandoned(ctx, "COPY", &subject),
            Err(err) => storage_refusal(ctx, "COPY", &subject, err),
        }
    })
}

/// What a folder's copy by `who` does with member `source` (a folder's
/// name ending in `/`) as `copy`: what `who` may not see is passed over
/// without a word (neither made nor named), what it may see but not write
/// as the copy is told, the rest copied.
fn member(who: &Who, source: &str, copy: &str) -> Member {
    let (seen, written) = match source.strip_suffix('/') {
        Some(_) => (
            who.may_list(source),
            who.allows(Perm::Write, copy.trim_end_matches('/')),
        ),
        None => (
            who.allows(Perm::Read, source),
            who.allows(Perm::Write, copy),
        ),
    };
    match (seen, written) {
        (false, _) => Member::Pass,
        (true, false) => Member::Tell,
        (true, true) => Member::Copy,
    }
}
