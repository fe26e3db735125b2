//! The walk an archive's members come from ([`Walk`]): the folder
//! itself, then the folders `who` may list and the files it may read
//! below, in directory order, by a `TreeCursor` (a few KiB per level of
//! depth, whatever the number of members).

use crate::access::{Perm, Who};
use crate::name::Prefix;
use crate::storage::{Found, Storage, StorageError, TreeCursor};

/// A walk of the folder for `who`: the folder itself (unless it is the
/// root), then the folders it may list and the files it may read below
/// (the cursor prunes the folders; files are checked here).
pub(super) struct Walk {
    /// The folder's own entry, until it is returned.
    own: Option<Prefix>,
    cursor: TreeCursor,
}

impl Walk {
    pub(super) fn new(prefix: &Prefix) -> Walk {
        Walk {
            own: (!prefix.as_str().is_empty()).then(|| prefix.clone()),
            cursor: TreeCursor::new(prefix),
        }
    }

    pub(super) fn next(
        &mut self,
        who: &Who,
        storage: &Storage,
    ) -> Result<Option<Found>, StorageError> {
        if let Some(own) = self.own.take() {
            let folder = storage.resource(own.as_str().trim_end_matches('/'), true)?;
            return Ok(Some(Found::Folder {
                name: own.as_str().to_owned(),
                mtime: folder.info.mtime,
            }));
        }
        loop {
            match self.cursor.next(storage, |folder| who.may_list(folder))? {
                Some(Found::File { name, .. }) if !who.allows(Perm::Read, &name) => continue,
                found => return Ok(found),
            }
        }
    }
}
