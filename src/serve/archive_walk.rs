//! The walk an archive's members come from ([`Walk`]): the folder
//! itself, then the folders `who` may list and the files it may read
//! below, in directory order, by a store's [`Cursor`] (a few KiB per level of
//! depth, whatever the number of members).

use crate::access::{Perm, Who};
use crate::model::Found;
use crate::name::Prefix;
use crate::storage::{Cursor, StorageError, Store};

/// A walk of the folder for `who`: the folder itself (unless it is the
/// root), then the folders it may list and the files it may read below
/// (the cursor prunes the folders; files are checked here).
pub(super) struct Walk {
    /// The folder walked.
    prefix: Prefix,
    /// Whether its own entry is still to be returned.
    own: bool,
    /// Where the walk below stands, once begun: made by the store it
    /// walks, at the first step.
    cursor: Option<Cursor>,
}

impl Walk {
    pub(super) fn new(prefix: &Prefix) -> Walk {
        Walk {
            prefix: prefix.clone(),
            own: !prefix.as_str().is_empty(),
            cursor: None,
        }
    }

    pub(super) fn next(
        &mut self,
        who: &Who,
        store: &dyn Store,
    ) -> Result<Option<Found>, StorageError> {
        let own = self.prefix.as_str();
        if std::mem::take(&mut self.own) {
            let folder = store.resource(own.trim_end_matches('/'), true)?;
            return Ok(Some(Found::Folder {
                name: own.to_owned(),
                mtime: folder.info.mtime,
            }));
        }
        let cursor = self
            .cursor
            .get_or_insert_with(|| store.cursor(&self.prefix));
        loop {
            match store.walk_on(cursor, &mut |folder| who.may_list(folder))? {
                Some(Found::File { name, .. }) if !who.allows(Perm::Read, &name) => continue,
                found => return Ok(found),
            }
        }
    }
}
