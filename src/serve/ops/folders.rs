//! Folders as wholes: MKCOL and an empty folder's removal (S3's
//! DeleteBucket), the DELETE of a folder with what it holds (RFC 4918
//! 9.6.1: its walk, member by member, in `folder_removal.rs`), its MOVE
//! (one rename; its COPY: `folder_copy.rs`), and the checks of a COPY's
//! or MOVE's source and destination. One rule set with a file's DELETE:
//! `--read-only` refuses them in `admit` (their verbs write). The walks
//! run on the pool's listing threads like a listing's (one directory's
//! names held per level, stopped when its client goes).

use log::debug;

use super::at_change::judged_again;
use super::folder_removal::{clear, refused};
use crate::access::Who;
use crate::model::Folders;
use crate::model::Occupant;
use crate::name::{Name, Prefix};
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{
    Ctx, ErrorKind, Failure, Making, Next, Outcome, Reply, refuse, storage_refusal,
};
use crate::storage::{Parents, StorageError};

/// Remove the folder `prefix` and everything in it that the client may
/// delete (WebDAV's `DELETE` of a collection; FERRY/1's `DEL <folder>/`).
#[derive(Debug)]
pub struct DeleteFolder {
    /// The folder (ending in `/`; the root is refused).
    pub prefix: Prefix,
    /// How folders come and go: where they are things of their own (HTTP,
    /// WebDAV), each folder's removal needs `delete` on its name; where
    /// they are implicit (FERRY/1), they go with the last file in them.
    pub folders: Folders,
    /// The request's preconditions and lock tokens, for the lock rule
    /// judged member by member: kept from its conditions
    /// ([`Operate::keep`]), not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for DeleteFolder {
    /// One verb with a file's DELETE: each file is checked on the pool as
    /// the walk finds it.
    fn aim(&self) -> Aim<'_> {
        let prefix = self.prefix.as_str();
        Aim::at(prefix, Needs::DeleteUnder(prefix))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        let removal = (self.prefix, self.folders);
        super::folder_removal::delete(ctx, who, removal, self.preconditions)
    }
}

/// Make the folder `name`, whose parent exists (WebDAV's `MKCOL`; FERRY/1
/// has no verb for it yet).
#[derive(Debug)]
pub struct MakeFolder {
    /// The folder's name.
    pub name: Name,
    /// Alone, with the missing folders above it, or as S3's bucket.
    pub making: Making,
    /// The request's preconditions and lock tokens, judged again where
    /// the folder is made: kept from its conditions ([`Operate::keep`]),
    /// not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for MakeFolder {
    /// `write` on the folder's name, or anywhere within it: a token
    /// granted `cams/` makes `cams` (MKCOL, MKD, CreateBucket), as its
    /// first upload there would make it (FERRY/1's folders); never
    /// removes it (that is `delete` on the name itself).
    fn aim(&self) -> Aim<'_> {
        let name = self.name.as_str();
        Aim::at(name, Needs::WriteOrWithin(name))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        make_folder(self)
    }
}

/// Remove the folder `name` if it holds nothing (S3's `DeleteBucket`;
/// FERRY/1 has no verb for it yet).
#[derive(Debug)]
pub struct RemoveFolder {
    /// The folder's name.
    pub name: Name,
}

impl Operate for RemoveFolder {
    /// One verb with a file's DELETE, and its permission on the folder's
    /// own name (a grant on `a/` does not cover `a`).
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Delete(self.name.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        remove_folder(self.name)
    }
}

/// Move folder `from` to `to` in one rename (WebDAV's `MOVE` of a
/// collection).
#[derive(Debug)]
pub struct MoveFolder {
    /// The folder (ending in `/`; never the root).
    pub from: Prefix,
    /// Its new name (ending in `/`), whose parent folder exists.
    pub to: Prefix,
    /// Replace what has the name `to` (removed as DELETE would).
    pub overwrite: bool,
    /// The request's preconditions and lock tokens, judged again at the
    /// rename: kept from its conditions ([`Operate::keep`]), not set by a
    /// codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for MoveFolder {
    fn aim(&self) -> Aim<'_> {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        Aim::onto(from, to, Needs::MoveWhole(from, to))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        rename(ctx, who, self)
    }
}

/// Refuses a COPY or MOVE (`verb`) whose source `from` is not there as
/// the kind it is asked as (`folder`): before anything at the destination
/// is touched.
///
/// # Errors
/// As [`judge_source`].
pub(in crate::serve) fn check_source(
    ctx: &Ctx<'_>,
    verb: &str,
    from: &Name,
    folder: bool,
) -> Result<(), Box<Outcome>> {
    judge_source(ctx, (verb, from), ctx.store.occupant(from), folder)
}

/// What a lookup found at a name.
pub(in crate::serve) type Found = Result<Occupant, StorageError>;

/// Judges a COPY's or MOVE's source as a file, on what `found` says
/// (else looked up now).
pub(in crate::serve) fn judge_file_source(
    ctx: &Ctx<'_>,
    verb: &str,
    from: &Name,
    found: Option<Found>,
) -> Result<(), Box<Outcome>> {
    let found = found.unwrap_or_else(|| ctx.store.occupant(from));
    judge_source(ctx, (verb, from), found, false)
}

/// [`check_source`] on what was `found` at `from` already.
///
/// # Errors
/// The refusal to answer: `404`, or `409` for a file asked as a folder or
/// the other way round.
pub(in crate::serve) fn judge_source(
    ctx: &Ctx<'_>,
    (verb, from): (&str, &Name),
    found: Result<Occupant, StorageError>,
    folder: bool,
) -> Result<(), Box<Outcome>> {
    let wanted = if folder {
        Occupant::Folder
    } else {
        Occupant::File
    };
    match found {
        Ok(found) if found == wanted => Ok(()),
        Ok(Occupant::Nothing) | Err(StorageError::NotFound) => {
            let failure = Failure::new(ErrorKind::NotFound, "no such file or folder");
            Err(refused(ctx, verb, from.as_str(), failure))
        }
        Ok(_) => {
            let failure = Failure::new(
                ErrorKind::Conflict,
                "a file is not a folder, nor the other way round",
            );
            Err(refused(ctx, verb, from.as_str(), failure))
        }
        Err(err) => Err(Box::new(storage_refusal(ctx, verb, from.as_str(), err))),
    }
}

/// The name of folder `prefix` (without its `/`); `None` for the root.
pub(in crate::serve) fn folder_name(prefix: &Prefix) -> Option<Name> {
    Name::new(prefix.as_str().trim_end_matches('/').to_owned()).ok()
}

/// Refuses a COPY or MOVE of folder `from` to `to` that could not be
/// done: of the root, or onto itself (RFC 4918 9.8.5: 403). Into itself
/// or onto what holds it, `admit` has refused already (`invariants.rs`).
pub(in crate::serve) fn check_folders(from: &Prefix, to: &Prefix) -> Result<(Name, Name), Failure> {
    let forbidden = |message: &str| Failure::new(ErrorKind::Forbidden, message);
    let (Some(source), Some(target)) = (folder_name(from), folder_name(to)) else {
        return Err(forbidden(
            "the root is neither copied nor moved, nor replaced",
        ));
    };
    if source == target {
        return Err(forbidden("a folder is not copied or moved onto itself"));
    }
    Ok((source, target))
}

/// MOVE of folder `from` to `to`: one rename, atomic (whatever has the
/// name `to` removed first if `overwrite`, as DELETE would). Admitted
/// only with `delete` on all of `from` and `write` on all of `to`
/// (`access.rs`), as nothing in it is looked at on the way.
fn rename(ctx: &Ctx<'_>, who: Who, op: MoveFolder) -> Outcome {
    let MoveFolder {
        from,
        to,
        overwrite,
        preconditions,
    } = op;
    let (source, target) = match check_folders(&from, &to) {
        Ok(names) => names,
        Err(failure) => return refuse(ctx, "MOVE", from.as_str(), failure, Next::Request),
    };
    Outcome::on_pool(move |ctx| {
        let subject = format!("{} -> {}", from.as_str(), to.as_str());
        if let Err(outcome) = check_source(ctx, "MOVE", &source, true) {
            return *outcome;
        }
        // Into quota'd folders it fills: judged before anything at the
        // target is cleared.
        if let Err(err) = ctx.store.judge_folder_move(&from, &target) {
            return storage_refusal(ctx, "MOVE", &subject, err);
        }
        let kept = preconditions.as_deref();
        let replaced = match clear(ctx, (&who, "MOVE"), &target, (overwrite, false), kept) {
            Ok(replaced) => replaced,
            Err(outcome) => return *outcome,
        };
        let needs = Needs::MoveWhole(from.as_str(), to.as_str());
        let renamed = match judged_again(ctx, needs, preconditions.as_deref()) {
            Ok(_steady) => ctx.store.rename_folder(&from, &target),
            Err(failure) => return refuse(ctx, "MOVE", &subject, failure, Next::Request),
        };
        match renamed {
            Ok(()) => {
                debug!("#{} MOVE {subject}", ctx.client);
                super::lock_release::release(ctx, from.as_str(), true);
                Outcome::answer(Reply::Moved { replaced })
            }
            Err(err) => storage_refusal(ctx, "MOVE", &subject, err),
        }
    })
}

/// MKCOL: make a folder whose parent exists (or, as `making` says, the
/// folders on the way, one there already being no error), on the pool.
/// Written for the read-only mode like PUT, with PUT's permission
/// (`access.rs`). S3's bucket is made only by `who` with that permission
/// on its name; one that may write only within it is told it is there,
/// or refused as the grant check would have refused it.
fn make_folder(op: MakeFolder) -> Outcome {
    let MakeFolder {
        name,
        making,
        preconditions,
    } = op;
    Outcome::on_pool(move |ctx| {
        let needs = Needs::WriteOrWithin(name.as_str());
        let steady = match judged_again(ctx, needs, preconditions.as_deref()) {
            Ok(steady) => steady,
            Err(failure) => return refuse(ctx, "MKCOL", name.as_str(), failure, Next::Request),
        };
        let made = match making {
            Making::Alone => ctx.store.make_folder(&name, Parents::No),
            // A marker's bucket is made by CreateBucket only.
            Making::WithParents => ctx.store.make_folder(&name, Parents::Made { kept: 1 }),
            Making::Bucket => ctx.store.make_folder(&name, Parents::Made { kept: 0 }),
        };
        drop(steady);
        made.map_or_else(
            |err| match (making, err) {
                // Made alone, its parent must be there: that is what is not.
                (Making::Alone, StorageError::NotFound) => {
                    let missing = "the parent folder does not exist";
                    let failure = Failure::new(ErrorKind::NotFound, missing);
                    refuse(ctx, "MKCOL", name.as_str(), failure, Next::Request)
                }
                (_, err) => storage_refusal(ctx, "MKCOL", name.as_str(), err),
            },
            |()| {
                debug!("#{} MKCOL {name}", ctx.client);
                Outcome::answer(Reply::Done)
            },
        )
    })
}

/// A folder's removal if it is empty (S3's `DeleteBucket`), on the pool.
/// Written for the read-only mode like DELETE, with its permission on
/// the folder's name (`access.rs`).
fn remove_folder(name: Name) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let removed = match judged_again(ctx, Needs::Delete(name.as_str()), None) {
            Ok(_steady) => ctx.store.remove_folder(&name),
            Err(failure) => return refuse(ctx, "RMDIR", name.as_str(), failure, Next::Request),
        };
        removed_folder(ctx, &name, removed)
    })
}

/// What an empty folder's removal answers.
fn removed_folder(ctx: &Ctx<'_>, name: &Name, removed: Result<(), StorageError>) -> Outcome {
    match removed {
        Ok(()) => {
            debug!("#{} RMDIR {name}", ctx.client);
            Outcome::answer(Reply::Done)
        }
        Err(err) => crate::serve::folder_refusal(ctx, "RMDIR", name.as_str(), err),
    }
}
