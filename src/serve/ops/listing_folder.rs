//! A folder's listing, one level (`Scope::Directory`: an HTTP listing,
//! FTP's `LIST`), and a listing of one name (`Scope::Named`: WebDAV's
//! `PROPFIND` of a name, FTP's `MLST` and `STAT <path>`): the folder of
//! that name, one level (or alone, where its format wants only it:
//! `Wants::itself`), else the file of that name alone. Spooled like any
//! listing (`listing.rs`), so that an answer holds nothing of it.

use super::folders::folder_name;
use super::props::Describer;
use crate::access::{Perm, Who};
use crate::model::DirectoryListing;
use crate::model::ListEntry;
use crate::name::Prefix;
use crate::serve::spool::{Spool, Spooled};
use crate::serve::terms::Wants;
use crate::serve::{Ctx, Piece};
use crate::storage::StorageError;

/// The name `prefix` is without its `/`: the folder's listing, one
/// level, or that file alone, if `who` may read it.
pub(super) fn spool_named(
    ctx: &Ctx<'_>,
    who: &Who,
    prefix: &Prefix,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    if spool.format.wants().itself {
        match find_folder(ctx, prefix) {
            Err(StorageError::NotFound) => {}
            found => return found.and_then(|()| spool_folder_alone(ctx, who, spool)),
        }
    } else {
        match ctx.store.list_directory(prefix, true) {
            Err(StorageError::NotFound) => {}
            listed => return spool_directory(ctx, who, listed?, spool),
        }
    }
    let name = folder_name(prefix).ok_or(StorageError::NotFound)?;
    // As a listing shows it: what the token may not read is not there.
    if !who.allows(Perm::Read, name.as_str()) {
        return Err(StorageError::NotFound);
    }
    let found = ctx.store.look_up(&name)?;
    let entry = ListEntry {
        name: name.as_str().to_owned(),
        info: found.info,
        stamp: found.stamp,
    };
    let wants = Wants {
        members: false,
        ..spool.format.wants()
    };
    if let Some(describer) = Describer::new(ctx, (who, wants), name.as_str()) {
        spool.format.details(describer.only(ctx.store, &entry));
    }
    spool.put(Piece::Only(&entry))?;
    spool.finish(1)
}

/// Whether the folder `prefix` names is there (the root always is).
fn find_folder(ctx: &Ctx<'_>, prefix: &Prefix) -> Result<(), StorageError> {
    if prefix.as_str().is_empty() {
        return Ok(());
    }
    let name = folder_name(prefix).ok_or(StorageError::NotFound)?;
    ctx.store.find_folder(&name)
}

/// The folder a [`Scope::Named`] listing names, alone ([`Wants::itself`]):
/// its own details, between `Start` and `End`, and none of its members.
fn spool_folder_alone(
    ctx: &Ctx<'_>,
    who: &Who,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    let path = spool.prefix.trim_end_matches('/');
    if let Some(describer) = Describer::new(ctx, (who, spool.format.wants()), path) {
        spool.format.details(describer.folder(ctx.store, path));
    }
    spool.put(Piece::Start)?;
    spool.put(Piece::End)?;
    spool.finish(0)
}

/// The directory of `listing`, one level: its subdirectories, then its
/// files.
pub(super) fn spool_directory(
    ctx: &Ctx<'_>,
    who: &Who,
    listing: DirectoryListing,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    let (store, path) = (ctx.store, spool.prefix.trim_end_matches('/'));
    // Only for a format that shows more than names and sizes (PROPFIND).
    let describer = Describer::new(ctx, (who, spool.format.wants()), path);
    if let Some(describer) = &describer {
        spool.format.details(describer.folder(store, path));
    }
    spool
        .format
        .entries(listing.dirs.len() + listing.files.len());
    spool.put(Piece::Start)?;
    let writable = crate::serve::check_writable(ctx.config).is_ok();
    let listed = crate::serve::access::rights(who, spool.prefix, writable);
    let dirs = listing.dirs.iter().filter(|(dir, ..)| who.may_list(dir));
    for (at, (name, mtime, inode)) in dirs.enumerate() {
        if let Some(describer) = &describer {
            spool
                .format
                .details(describer.subfolder(store, name, *inode));
        }
        // A few comparisons per grant: what `listed` gives it unless a
        // grant lies below the listed folder.
        let rights = crate::serve::access::rights(who, name, writable);
        if rights != listed.inherited() {
            spool.format.row_rights(rights);
        }
        spool.put(Piece::Directory {
            name,
            mtime: *mtime,
            first: at == 0,
        })?;
    }
    spool.put(Piece::Files)?;
    let files = listing
        .files
        .iter()
        .filter(|entry| who.allows(Perm::Read, &entry.name));
    let mut count = 0;
    for (at, entry) in files.enumerate() {
        if let Some(describer) = &describer {
            spool.format.details(describer.file(store, entry));
        }
        spool.put(Piece::File {
            entry,
            first: at == 0,
        })?;
        count += 1;
    }
    spool.put(Piece::End)?;
    spool.finish(count)
}
