//! Deleting files: one (`DELETE`, `DEL`, FTP's `DELE`), or many in one
//! request (S3's DeleteObjects), each by the rules of a DELETE: its `delete` grant, the WebDAV locks on it (a file
//! a lock guards is left, told as locked), a file already gone counted as
//! deleted (S3's DELETE is idempotent), and the folders it leaves empty
//! pruned as its `Folders` say. One request, one log line and one
//! metric; `--read-only` refuses it whole in `admit` (its verb writes).
//! On the pool: a thousand unlinks are slow file-system work.

use log::debug;

use super::at_change::judged_again;
use super::files::own_folders;
use super::folders::DeleteFolder;
use crate::access::{Perm, Who};
use crate::name::{Name, Prefix};
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::Folders;
use crate::serve::{Ctx, Failure, Next, Outcome, Reply, access, refuse, storage_refusal};
use crate::storage::StorageError;

/// Remove `name`.
#[derive(Debug)]
pub struct Delete {
    /// File to remove.
    pub name: Name,
    /// Whether the folders it leaves empty go with it.
    pub folders: Folders,
    /// A folder of that name goes whole, where folders are things of
    /// their own (HTTP's DELETE of a folder's URL without its slash, RFC
    /// 4918 9.6.1); `false`: a folder's name is refused (FTP's `DELE`
    /// takes a file alone: `RMD` an empty folder).
    pub folder_whole: bool,
    /// The request's preconditions and lock tokens, judged again at the
    /// unlink: kept from its conditions ([`Operate::keep`]), not set by a
    /// codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for Delete {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Delete(self.name.as_str()))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    /// On the pool; the folders it leaves empty go with it only where
    /// `folders` are implicit (FERRY/1): over HTTP a folder a user emptied
    /// is still there, as in a file manager (docs/webdav.md (e)).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        delete(who, self)
    }
}

fn delete(who: Who, delete: Delete) -> Outcome {
    Outcome::on_pool(move |ctx| {
        // What a cut `STOR` of the name kept for the token goes with it,
        // so that every protocol can free the bytes it counts against a
        // quota (where none is counted, it is left to expire: no look
        // into the sessions on every delete).
        let kept = ctx.store.counts_usage() && super::resume::drop_kept(ctx, &who, &delete.name);
        deleted(ctx, who, delete, kept)
    })
}

/// What a delete of `name` came to, `kept` telling whether it dropped an
/// upload kept for the client (then a name with no file is deleted too).
/// Its preconditions and the lock rule are judged again at the unlink,
/// the lock table held still through it; its locks are let go after.
fn deleted(ctx: &Ctx<'_>, who: Who, delete: Delete, kept: bool) -> Outcome {
    let Delete {
        name,
        folders,
        folder_whole,
        preconditions,
    } = delete;
    let removed = match judged_again(ctx, Needs::Delete(name.as_str()), preconditions.as_deref()) {
        Ok(_steady) => ctx.store.remove(&name, folders),
        Err(failure) => return refuse(ctx, "DELETE", name.as_str(), failure, Next::Request),
    };
    match removed {
        Ok(()) => {
            debug!("#{} DELETE {name}", ctx.client);
            super::lock_release::release(ctx, name.as_str(), false);
            Outcome::answer(Reply::Done)
        }
        Err(StorageError::IsDirectory) if folder_whole && own_folders(folders) => {
            let prefix = Prefix::of_folder(&name);
            DeleteFolder {
                prefix,
                folders,
                preconditions,
            }
            .serve(ctx, who)
        }
        // A lock-null name (a lock's reservation, nothing written): its
        // DELETE, by the lock's holder (the lock rule let it through), is
        // the lock's end (RFC 2518 7.4).
        Err(StorageError::NotFound) if super::reservations::reserved(ctx, name.as_str()) => {
            super::lock_release::release(ctx, name.as_str(), false);
            Outcome::answer(Reply::Done)
        }
        Err(StorageError::NotFound) if kept => Outcome::answer(Reply::Done),
        Err(err) => storage_refusal(ctx, "DELETE", name.as_str(), err),
    }
}

/// Remove each of `names`, all in the folder `prefix`, that the client
/// may delete, as `Delete` would, telling each one's outcome (S3's
/// `DeleteObjects`).
#[derive(Debug)]
pub struct DeleteEach {
    /// The folder they are in (S3's bucket), ending in `/`.
    pub prefix: Prefix,
    /// The files, each in `prefix`.
    pub names: Vec<Name>,
    /// Whether the folders each leaves empty go with it.
    pub folders: Folders,
}

impl Operate for DeleteEach {
    /// Each name's grant and locks are checked on the pool.
    fn aim(&self) -> Aim<'_> {
        Aim::at(
            self.prefix.as_str(),
            Needs::DeleteEach(self.prefix.as_str()),
        )
    }

    /// Deletes each of `names` (in the folder `prefix`) that `who` may
    /// delete; the answer tells each name's outcome, in the order asked. A
    /// folder that is not there (S3's bucket) is "not found" whole, rather
    /// than a name deleted for each (they are all gone, but the client
    /// named the wrong place).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        delete_each(who, self.prefix, self.names, self.folders)
    }
}

fn delete_each(who: Who, prefix: Prefix, names: Vec<Name>, folders: Folders) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let folder = prefix.as_str().trim_end_matches('/');
        if let Err(err) = ctx.store.resource(folder, true) {
            return crate::serve::storage_refusal(ctx, "DELETE", folder, err);
        }
        let mut each = Vec::with_capacity(names.len());
        for name in names {
            let result = delete_one(ctx, &who, &name, folders);
            each.push((name.as_str().to_owned(), result));
        }
        let failed = each.iter().filter(|(_, r)| r.is_err()).count();
        debug!("#{} DELETE {} names, {failed} left", ctx.client, each.len());
        Outcome::answer(Reply::Each(each))
    })
}

/// One name's DELETE: the lock rule judged at its unlink, the lock table
/// held still through it (each name's hold let go before the next, and
/// before its locks are).
fn delete_one(ctx: &Ctx<'_>, who: &Who, name: &Name, folders: Folders) -> Result<(), Failure> {
    if !who.allows(Perm::Delete, name.as_str()) {
        return Err(access::refusal(who, Perm::Delete, name.as_str()));
    }
    // As one name's delete: what a cut `STOR` kept of it goes too.
    if ctx.store.counts_usage() {
        super::resume::drop_kept(ctx, who, name);
    }
    let removed = {
        let _steady = judged_again(ctx, Needs::Delete(name.as_str()), None)?;
        ctx.store.remove(name, folders)
    };
    match removed {
        Ok(()) | Err(StorageError::NotFound) => {
            super::lock_release::release(ctx, name.as_str(), false);
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}
