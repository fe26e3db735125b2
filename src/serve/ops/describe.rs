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
}

impl Describe {
    /// What `name` is.
    pub fn of(name: &Name) -> Describe {
        Describe {
            path: name.as_str().to_owned(),
            within: Prefix::of_folder(name),
        }
    }

    /// What the root is.
    pub fn root() -> Describe {
        Describe {
            path: String::new(),
            within: Prefix::root(),
        }
    }
}

impl Operate for Describe {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.path, Needs::Within(self.within.as_str()))
    }

    /// On the pool: one `stat` of the name.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::brief(move |ctx| match ctx.store.resource(&self.path, false) {
            Ok(found) if !found.folder && !who.allows(Perm::Read, &self.path) => {
                storage_refusal(ctx, "DESCRIBE", &self.path, StorageError::NotFound)
            }
            Ok(found) => {
                debug!("#{} DESCRIBE {:?}", ctx.client, self.path);
                Outcome::answer(Reply::Described(found))
            }
            Err(err) => storage_refusal(ctx, "DESCRIBE", &self.path, err),
        })
    }
}
