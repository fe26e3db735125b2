//! Many files deleted in one request (S3's DeleteObjects), each by the
//! rules of a DELETE: its `delete` grant, the WebDAV locks on it (a file
//! a lock guards is left, told as locked), a file already gone counted as
//! deleted (S3's DELETE is idempotent), and the folders it leaves empty
//! pruned as its `Folders` say. One request, one log line and one
//! metric; `--read-only` refuses it whole in `admit` (its verb writes).
//! On the pool: a thousand unlinks are slow file-system work.

use log::debug;

use crate::access::{Perm, Who};
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::Folders;
use crate::serve::{Ctx, Failure, Outcome, Reply, access, locks};
use crate::storage::{DavLock, StorageError};

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
        if let Err(err) = ctx.storage.resource(folder, true) {
            return crate::serve::storage_refusal(ctx, "DELETE", folder, err);
        }
        let dav = ctx.storage.dav_locks();
        // Without the lock table no delete can be judged: each fails alike.
        let table = dav.current().map_err(Failure::from);
        let now = dav.now();
        let mut each = Vec::with_capacity(names.len());
        for name in names {
            let result = match &table {
                Ok(table) => delete_one(ctx, &who, (table, now), &name, folders),
                Err(failure) => Err(failure.clone()),
            };
            each.push((name.as_str().to_owned(), result));
        }
        let failed = each.iter().filter(|(_, r)| r.is_err()).count();
        debug!("#{} DELETE {} names, {failed} left", ctx.client, each.len());
        Outcome::answer(Reply::Each(each))
    })
}

/// One name's DELETE.
fn delete_one(
    ctx: &crate::serve::Ctx<'_>,
    who: &Who,
    (table, now): (&[DavLock], i64),
    name: &Name,
    folders: Folders,
) -> Result<(), Failure> {
    if !who.allows(Perm::Delete, name.as_str()) {
        return Err(access::refusal(who, Perm::Delete, name.as_str()));
    }
    locks::check(table, now, Needs::Delete(name.as_str()), &[])?;
    match ctx.storage.delete(name, folders) {
        Ok(()) | Err(StorageError::NotFound) => {
            locks::release(ctx, name.as_str(), false);
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}
