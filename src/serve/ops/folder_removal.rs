//! A folder's removal, member by member: its DELETE (RFC 4918 9.6.1),
//! and the folder a COPY or MOVE replaces at its destination, removed as
//! its DELETE would be (9.8.4, 9.9.3). Each member is judged as the walk
//! reaches it: `who`'s `delete` grant, then the lock rule with the tokens
//! the request submitted, on the lock table as the engine holds it still
//! through that member's removal (`Store::remove_tree`), so a LOCK
//! granted inside the folder while the walk runs keeps what it locks.
//! What either keeps stays and is reported, with every member that
//! failed; the rest goes.

use std::collections::HashMap;

use log::debug;

use super::at_change::judged_again;
use crate::access::{Perm, Who};
use crate::model::{DavLock, Folders, Occupant};
use crate::name::{Name, Prefix};
use crate::serve::conditions::Conditions;
use crate::serve::operate::Needs;
use crate::serve::walk_permit;
use crate::serve::{
    Ctx, ErrorKind, Failure, Next, Outcome, Reply, abandoned, refuse, storage_refusal,
};
use crate::storage::{Left, MAX_NAMED, StorageError};

/// DELETE of folder `prefix`: everything in it that `who` may delete and
/// no lock keeps (but with its token among those `kept`), then the
/// folders left empty. [`Reply::Done`] when all is gone, else
/// [`Reply::Remains`] naming what stayed and why.
pub(super) fn delete(
    ctx: &Ctx<'_>,
    who: Who,
    (prefix, folders): (Prefix, Folders),
    kept: Option<Box<Conditions>>,
) -> Outcome {
    if prefix.as_str().is_empty() {
        let failure = Failure::new(ErrorKind::Forbidden, "the root is not removed");
        return refuse(ctx, "DEL", "/", failure, Next::Request);
    }
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "DEL", prefix.as_str(), failure, Next::Request),
    };
    Outcome::on_pool_long(move |ctx| {
        let _permit = permit;
        let locked_below = super::lock_release::below(ctx, prefix.as_str());
        let mut judge = Members::new(ctx, &who, folders, kept.as_deref());
        let removed = ctx.store.remove_tree(
            &prefix,
            &mut |name, table| judge.may_remove(name, table),
            &mut || !ctx.is_abandoned(),
        );
        match removed {
            Ok(left) if left.is_complete() => {
                debug!("#{} DEL {}", ctx.client, prefix.as_str());
                super::lock_release::release(ctx, prefix.as_str(), true);
                Outcome::answer(Reply::Done)
            }
            Ok(left) => {
                super::lock_release::release_removed(ctx, prefix.as_str(), &locked_below);
                let remains = remains(&who, (Perm::Delete, &prefix), left, judge.refused);
                debug!("#{} DEL {}: members remain", ctx.client, prefix.as_str());
                Outcome::answer(remains)
            }
            Err(_) if ctx.is_abandoned() => abandoned(ctx, "DEL", prefix.as_str()),
            Err(err) => crate::serve::folder_refusal(ctx, "DEL", prefix.as_str(), err),
        }
    })
}

/// The judge of each member of a folder's removal.
struct Members<'a> {
    who: &'a Who,
    folders: Folders,
    /// The lock tokens the request submitted.
    submitted: Vec<&'a str>,
    now: i64,
    /// The members kept by a lock, or for want of the lock table, and
    /// why: told so rather than as the grant's refusal (as many as the
    /// answer names: [`MAX_NAMED`]).
    refused: HashMap<String, Failure>,
}

impl<'a> Members<'a> {
    fn new(
        ctx: &Ctx<'_>,
        who: &'a Who,
        folders: Folders,
        kept: Option<&'a Conditions>,
    ) -> Members<'a> {
        Members {
            who,
            folders,
            submitted: kept.iter().flat_map(|c| c.submitted()).collect(),
            now: ctx.store.locks().now(),
            refused: HashMap::new(),
        }
    }

    /// Whether member `name` (a folder's ends in `/`) may go: by the
    /// grants ([`may_delete`]), then by the lock rule on `table` (what
    /// is below a folder member too: a reservation of a free name in it).
    fn may_remove(&mut self, name: &str, table: Result<&[DavLock], StorageError>) -> bool {
        if !may_delete(self.who, name, self.folders) {
            return false;
        }
        let judged = table.map_err(Failure::from).and_then(|table| {
            let needs = Needs::Delete(name.trim_end_matches('/'));
            super::locks::check(table, self.now, needs, &self.submitted)
        });
        let Err(failure) = judged else {
            return true;
        };
        if self.refused.len() < MAX_NAMED {
            self.refused.insert(name.to_owned(), failure);
        }
        false
    }
}

/// Whether `who` may remove `name` in a folder's removal (a folder's
/// ends in `/`): a file by its grant; a folder by the grant on its name
/// (one on `e/` is on what `e` holds, not on `e`) where folders are
/// things of their own, else it goes with its files.
fn may_delete(who: &Who, name: &str, folders: Folders) -> bool {
    match name.strip_suffix('/') {
        Some(_) if folders.pruned_below().is_some() => true,
        Some(folder) => who.allows(Perm::Delete, folder),
        None => who.allows(Perm::Delete, name),
    }
}

/// What a removal or copy of folder `asked` left, as the client is told
/// it: the members the grants kept (`who` lacks `perm` on them) with the
/// grant's refusal, or what `refused` says kept them (a lock), then the
/// failures, then how many more were not named. A member `who` may not
/// read is never named (a 207 or JSON body would tell a name the token
/// could not list): it is counted with the rest.
pub(in crate::serve) fn remains(
    who: &Who,
    (perm, asked): (Perm, &Prefix),
    left: Left,
    mut refused: HashMap<String, Failure>,
) -> Reply {
    let mut hidden = 0;
    let mut seen = |name: &String| {
        let seen = name == asked.as_str() || visible(who, name);
        hidden += u64::from(!seen);
        seen
    };
    let kept: Vec<_> = left.kept.into_iter().filter(&mut seen).collect();
    let failed: Vec<_> = left
        .failed
        .into_iter()
        .filter(|(name, _)| seen(name))
        .collect();
    let kept = kept.into_iter().map(|name| {
        let failure = refused.remove(&name);
        let failure = failure.unwrap_or_else(|| crate::serve::access::refusal(who, perm, &name));
        (name, failure)
    });
    let failed = failed
        .into_iter()
        .map(|(name, err)| (name, Failure::from(err)));
    Reply::Remains(kept.chain(failed).collect(), left.more + hidden)
}

/// [`refuse`], then the next request, boxed as steps that return
/// `Result<_, Box<Outcome>>` give it (an [`Outcome`] is large; their `Ok`
/// side is small): here and in `folders.rs`.
pub(super) fn refused(ctx: &Ctx<'_>, verb: &str, subject: &str, failure: Failure) -> Box<Outcome> {
    Box::new(refuse(ctx, verb, subject, failure, Next::Request))
}

/// Whether `who` may be told of `name` (a folder's ends in `/`): it may
/// read the file, or list something in the folder.
fn visible(who: &Who, name: &str) -> bool {
    match name.ends_with('/') {
        true => who.may_list(name),
        false => who.allows(Perm::Read, name),
    }
}

/// Makes room at `to` for a COPY or MOVE (`verb`), on the pool: its parent
/// folder must exist (else `409`); what has the name is refused unless
/// `overwrite` (`412` in WebDAV), else removed as DELETE would remove it,
/// each member by `who`'s `delete` grant and the lock rule with the
/// tokens `kept` from the request (a file there judged again at its
/// unlink as a DELETE of it is). A file there is left to be replaced
/// atomically where the source is a file (`file_source`). Returns
/// whether something was (or is to be) replaced.
///
/// # Errors
/// The outcome to answer instead: the refusal, or what a removal left.
pub(in crate::serve) fn clear(
    ctx: &Ctx<'_>,
    (who, verb): (&Who, &str),
    to: &Name,
    (overwrite, file_source): (bool, bool),
    kept: Option<&Conditions>,
) -> Result<bool, Box<Outcome>> {
    let refused_to = |failure| refused(ctx, verb, to.as_str(), failure);
    let occupant = match super::destination::destination(ctx, to, overwrite) {
        Ok(occupant) => occupant,
        Err(failure) => return Err(refused_to(failure)),
    };
    match occupant {
        Occupant::Nothing => Ok(false),
        Occupant::File if file_source => Ok(true),
        Occupant::File => {
            if !who.allows(Perm::Delete, to.as_str()) {
                let failure = crate::serve::access::refusal(who, Perm::Delete, to.as_str());
                return Err(refused_to(failure));
            }
            // Its folder stays: the name is about to be taken again.
            let removed = match judged_again(ctx, Needs::Delete(to.as_str()), kept) {
                Ok(_steady) => ctx.store.remove(to, Folders::Explicit),
                Err(failure) => return Err(refused_to(failure)),
            };
            match removed {
                Ok(()) => Ok(true),
                Err(err) => Err(Box::new(storage_refusal(ctx, verb, to.as_str(), err))),
            }
        }
        Occupant::Folder => clear_folder(ctx, (who, verb), to, kept),
    }
}

/// [`clear`] of a folder at `to`, as its DELETE would remove it.
fn clear_folder(
    ctx: &Ctx<'_>,
    (who, verb): (&Who, &str),
    to: &Name,
    kept: Option<&Conditions>,
) -> Result<bool, Box<Outcome>> {
    let prefix = Prefix::of_folder(to);
    let mut judge = Members::new(ctx, who, Folders::Explicit, kept);
    let removed = ctx.store.remove_tree(
        &prefix,
        &mut |name, table| judge.may_remove(name, table),
        &mut || !ctx.is_abandoned(),
    );
    match removed {
        Ok(left) if left.is_complete() => Ok(true),
        Ok(left) => {
            let remains = remains(who, (Perm::Delete, &prefix), left, judge.refused);
            Err(Box::new(Outcome::answer(remains)))
        }
        Err(_) if ctx.is_abandoned() => Err(Box::new(abandoned(ctx, verb, to.as_str()))),
        Err(err) => Err(Box::new(storage_refusal(ctx, verb, to.as_str(), err))),
    }
}
