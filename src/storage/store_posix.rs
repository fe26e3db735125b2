//! The POSIX root ([`Storage`]) as a [`Store`]: each verb is the call of
//! `Storage` that does it, found by concern in the files beside this one.

use std::io;

use super::cursor::TreeCursor;
use super::store::{CopyTree, Cursor, Enter, GoOn, Judge, Parents, Store, Take, Wanted};
use super::{Left, OverQuota, Storage, StorageError};
use crate::access::quota::Quota;
use crate::model::{
    Account, DirectoryListing, FileInfo, Folders, Found, Occupant, Resource, Space, Usage, Version,
};
use crate::name::{Name, Prefix};

impl Store for Storage {
    fn look_up(&self, name: &Name) -> Result<Version, StorageError> {
        let found = self.stat(name)?;
        Ok(Version {
            info: found.info,
            stamp: found.stamp,
            crc: found.crc,
            md5: found.md5,
        })
    }

    fn occupant(&self, name: &Name) -> Result<Occupant, StorageError> {
        Storage::occupant(self, name)
    }

    fn resource(&self, path: &str, folder: bool) -> Result<Resource, StorageError> {
        Storage::resource(self, path, folder)
    }

    fn find_folder(&self, name: &Name) -> Result<(), StorageError> {
        Storage::find_folder(self, name)
    }

    fn check_bucket(&self, name: &Name) -> Result<(), StorageError> {
        Storage::check_bucket(self, name)
    }

    fn empty_folder(&self, dir: &str) -> Result<Option<FileInfo>, StorageError> {
        Storage::empty_folder(self, dir)
    }

    fn list(
        &self,
        prefix: &Prefix,
        wanted: Wanted<'_>,
        enter: Enter<'_>,
        take: Take<'_>,
    ) -> Result<(), StorageError> {
        Storage::list(self, prefix, wanted, enter, take)
    }

    fn list_directory(
        &self,
        prefix: &Prefix,
        files: bool,
    ) -> Result<DirectoryListing, StorageError> {
        Storage::list_directory(self, prefix, files)
    }

    fn cursor(&self, prefix: &Prefix) -> Cursor {
        Cursor::new(TreeCursor::new(prefix))
    }

    fn walk_on(
        &self,
        cursor: &mut Cursor,
        enter: Wanted<'_>,
    ) -> Result<Option<Found>, StorageError> {
        let Some(cursor) = cursor.state::<TreeCursor>() else {
            // Only a caller mixing two engines could get here.
            debug_assert!(false, "a cursor made by another store");
            return Err(StorageError::Io(io::Error::other(
                "a cursor of another store",
            )));
        };
        cursor.next(self, enter)
    }

    fn space(&self) -> Result<Space, StorageError> {
        Storage::space(self)
    }

    fn reserve(&self, size: u64) -> Result<(), StorageError> {
        self.take_room(size)
    }

    fn counts_usage(&self) -> bool {
        Storage::counts_usage(self)
    }

    fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError> {
        Storage::usage(self, account)
    }

    fn tree_usage(&self, prefix: &Prefix) -> Result<Usage, StorageError> {
        Storage::tree_usage(self, prefix)
    }

    fn quota_refuses(
        &self,
        writer: (Option<&str>, Option<Quota>),
        name: &str,
        more: Usage,
    ) -> Result<Option<OverQuota>, StorageError> {
        Storage::quota_refuses(self, writer, name, more)
    }

    fn remove(&self, name: &Name, folders: Folders) -> Result<(), StorageError> {
        self.delete(name, folders)
    }

    fn remove_tree(
        &self,
        prefix: &Prefix,
        may_remove: Wanted<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        Ok(self.delete_folder(prefix, may_remove, go_on)?.left)
    }

    fn remove_folder(&self, name: &Name) -> Result<(), StorageError> {
        self.remove_empty_folder(name)
    }

    fn rename(
        &self,
        from: &Name,
        to: &Name,
        overwrite: bool,
        folders: Folders,
    ) -> Result<bool, StorageError> {
        Storage::rename(self, from, to, overwrite, folders)
    }

    fn rename_folder(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        Storage::rename_folder(self, from, to)
    }

    fn copy_tree(
        &self,
        from: &Prefix,
        to: &Name,
        how: CopyTree<'_>,
        judge: Judge<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        let how = (how.deep, how.durable, how.owner);
        self.copy_folder(from, to, how, judge, go_on)
    }

    fn make_folder(&self, name: &Name, parents: Parents) -> Result<(), StorageError> {
        match parents {
            Parents::No => Storage::make_folder(self, name),
            Parents::Made { kept } => self.make_folders(name, kept),
        }
    }
}
