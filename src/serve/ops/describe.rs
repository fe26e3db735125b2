//! DESCRIBE (SFTP's `STAT`, `LSTAT`, `FSTAT`): what a name is, a file or a
//! folder, with its size and time, without a checksum (FERRY/1's `STAT`
//! states one, read from the whole file where none is recorded; a client
//! that stats every name it lists must not cost a read of each).
//!
//! Needs some grant, of any kind, on the name as a folder or below it (a
//! grant on `reports-public/` reaches no `reports`), as DF's folder does:
//! a name out of the client's reach is refused before it is looked for, so
//! the answer never tells whether it is there. A file is told only to a
//! client that may read it (a writer learns nothing of the files beside
//! its upload): to any other it is not there. A symlink or a special file
//! is not there, as everywhere (the jail).
//!
//! An upload of the name kept for the client's token (an SFTP file open
//! for writing, its connection cut before `CLOSE`) is what that token is
//! told, with the size it holds, so OpenSSH's `reput` goes on from there;
//! no other token is told of it (its id is keyed by the token).

use log::debug;

use crate::access::{Perm, Who};
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, Outcome, Reply, storage_refusal};
use crate::storage::StorageError;

/// What a name is: the root, or a name below it.
#[derive(Debug)]
pub struct Describe {
    /// The name (`""`: the root).
    path: String,
    /// The name as a folder (`path/`; `""`: the root): what a grant must
    /// reach.
    within: Prefix,
    /// The name, where an upload kept of it is told instead (a `STAT`'s,
    /// not an `OPEN`'s: a file is read as it is).
    name: Option<Name>,
}

impl Describe {
    /// What `name` is.
    pub fn of(name: &Name) -> Describe {
        Describe {
            path: name.as_str().to_owned(),
            within: Prefix::of_folder(name),
            name: None,
        }
    }

    /// What `name` is, or the upload of it kept for the client's token.
    pub fn kept_or(name: &Name) -> Describe {
        Describe {
            name: Some(name.clone()),
            ..Describe::of(name)
        }
    }

    /// What the root is.
    pub fn root() -> Describe {
        Describe {
            path: String::new(),
            within: Prefix::root(),
            name: None,
        }
    }
}

impl Operate for Describe {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.path, Needs::Within(self.within.as_str()))
    }

    /// On the pool: one `stat` of the name (for a client that may write
    /// it, a look for the upload kept of it first).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        let owner = who.owner().map(|owner| owner.as_str().to_owned());
        let reads = who.allows(Perm::Read, &self.path);
        let kept_for = self
            .name
            .clone()
            .filter(|_| who.allows(Perm::Write, &self.path));
        Outcome::brief(move |ctx| {
            if let Some(kept) = kept_for.and_then(|name| kept_of(ctx, owner.as_deref(), &name))
                && (reads || !kept.holds_unread_bytes())
            {
                debug!(
                    "#{} DESCRIBE {:?}: kept, {} bytes",
                    ctx.client, self.path, kept.received
                );
                return Outcome::answer(Reply::Described(being_written(kept.received)));
            }
            describe(ctx, &who, &self.path)
        })
    }
}

/// The upload of `name` kept for `owner`, if there is one (a failure to
/// look is none: the file is described instead).
fn kept_of(ctx: &Ctx<'_>, owner: Option<&str>, name: &Name) -> Option<crate::model::SessionInfo> {
    ctx.store.sessions().kept_upload(owner, name).ok().flatten()
}

/// A file being written: the `size` bytes it holds so far, written now.
pub fn being_written(size: u64) -> crate::model::Resource {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    crate::model::Resource {
        folder: false,
        info: crate::model::FileInfo { size, mtime: now },
        stamp: crate::model::Stamp::default(),
    }
}

/// What `path` is, as told to `who`.
fn describe(ctx: &Ctx<'_>, who: &Who, path: &str) -> Outcome {
    match ctx.store.resource(path, false) {
        Ok(found) if !found.folder && !who.allows(Perm::Read, path) => {
            storage_refusal(ctx, "DESCRIBE", path, StorageError::NotFound)
        }
        Ok(found) => {
            debug!("#{} DESCRIBE {path:?}", ctx.client);
            Outcome::answer(Reply::Described(found))
        }
        Err(err) => storage_refusal(ctx, "DESCRIBE", path, err),
    }
}
