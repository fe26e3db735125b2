//! The POSIX root ([`Storage`]) as a [`Store`]: each verb is the call of
//! `Storage` that does it, found by concern in the files beside this one.

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::Decide;
use super::SessionStore;
use super::cursor::TreeCursor;
use super::{
    Ahead, Committing, DavLocks, Left, LockTable, Look, OverQuota, ReserveAsWritten, Room, Steady,
    Storage, StorageError, Upload, ZipCrc,
};
use super::{
    CopyTree, Cursor, Enter, GoOn, Judge, Open, Opened, Parents, PropEdit, Spill, Store, Take,
    Wanted,
};
use crate::access::quota::Quota;
use crate::model::{
    Account, DavLock, DeadProperty, DirectoryListing, FileInfo, Folders, Found, Holder, Md5Tag,
    Occupant, Recorded, Resource, Space, Usage, Version, VersionRecords,
};
use crate::name::{Name, Prefix};
#[cfg(feature = "shares")]
use crate::storage::LinkTable;
use crate::storage::lock_table::Stretches;
use crate::storage::{Landable, Removable};
use crate::wire::content::Content;

impl Store for Storage {
    fn look_up(&self, name: &Name) -> Result<Version, StorageError> {
        Ok(self.stat(name)?.into_opened().version)
    }

    fn open(&self, name: &Name, how: Open) -> Result<Option<Opened>, StorageError> {
        let found = match how {
            Open::Describe => self.stat(name)?,
            Open::Read => self.open_read(name)?,
            Open::Unchecked => self.open_read_unchecked(name)?,
            Open::IfCached => match self.open_read_cached(name)? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        Ok(Some(found.into_opened()))
    }

    fn records(&self, opened: &Opened, checksum: bool, parts: bool) -> VersionRecords {
        match opened.body.as_file() {
            Some(file) => self.recorded(file, checksum, parts),
            None => VersionRecords::default(),
        }
    }

    fn checksum(&self, opened: &Opened) -> Result<u32, StorageError> {
        match opened.body.as_file() {
            Some(file) => Storage::checksum(self, file),
            None => Err(StorageError::Io(io::Error::other("not this store's file"))),
        }
    }

    fn checksum_later(&self, opened: &Opened) {
        if let Some(file) = opened.body.as_file() {
            Storage::checksum_later(self, file);
        }
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
        cursor.state::<TreeCursor>()?.next(self, enter)
    }

    fn read_ahead(&self, body: &Content, offset: u64, len: u64) -> io::Result<()> {
        match body.as_file() {
            Some(file) => Storage::read_ahead(self, file, offset, len),
            None => Ok(()),
        }
    }

    fn zip_crc(&self, body: &Content) -> ZipCrc {
        match body.as_file() {
            Some(file) => Storage::zip_crc(self, file),
            None => ZipCrc::Unknown(None),
        }
    }

    fn compute_ahead(&self, work: Ahead) -> bool {
        Storage::compute_ahead(self, work)
    }

    fn cache_ahead(&self, body: &Content, len: u64) {
        if let Some(file) = body.as_file() {
            Storage::cache_ahead(self, file, len);
        }
    }

    fn spool_room(&self) -> Room {
        Storage::spool_room(self)
    }

    fn spill(&self) -> Result<Box<dyn Spill>, StorageError> {
        Ok(Box::new(self.listing_spool()?))
    }

    fn health_known(&self) -> Option<Result<(), String>> {
        Storage::health_known(self)
    }

    fn probe_health(&self) -> Result<(), String> {
        Storage::probe_health(self)
    }

    fn is_gone(&self) -> bool {
        self.root_is_gone()
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
        may_remove: Removable<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        // Each member judged with the table held at least until the next
        // member's judgement, so through its removal, which follows at
        // once (`remove.rs`), in stretches a LOCK waits for one of.
        let mut stretches = Stretches::new(self.dav_locks());
        let judged = |name: &str| may_remove(name, stretches.table());
        Ok(self.delete_folder(prefix, judged, go_on)?.left)
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

    fn judge_folder_move(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        Storage::judge_folder_move(self, from, to)
    }

    fn copy_tree(
        &self,
        from: &Prefix,
        to: &Name,
        how: CopyTree<'_>,
        judge: Judge<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        self.copy_folder(from, to, how, judge, go_on)
    }

    fn make_folder(&self, name: &Name, parents: Parents) -> Result<(), StorageError> {
        match parents {
            Parents::No => Storage::make_folder(self, name),
            Parents::Made { kept } => self.make_folders(name, kept),
        }
    }

    fn props(&self, holder: Holder<'_>, inode: u64) -> Result<Vec<DeadProperty>, StorageError> {
        self.dead_properties(holder, inode)
    }

    fn surely_no_props(&self, name: &str) -> bool {
        self.surely_unrecorded(name)
    }

    fn note_no_props(&self, name: &str) {
        self.note_unrecorded(name);
    }

    fn patch_props(
        &self,
        holder: Holder<'_>,
        found: &Resource,
        mtime: Option<i64>,
        edit: Option<PropEdit<'_>>,
    ) -> Result<(), StorageError> {
        let path = match holder {
            Holder::File(path) | Holder::Folder(path) => path,
        };
        match edit {
            Some(edit) => self.patch_dead_properties((holder, found.folder), mtime, edit),
            // The time alone (MFMT, SETSTAT, getlastmodified): no record.
            None => mtime.map_or(Ok(()), |time| self.set_mtime(path, time)),
        }
    }

    fn props_members(&self, path: &str) -> Result<Recorded, StorageError> {
        self.recorded_members(path)
    }

    fn recorded_tags(&self, name: &str) -> Option<(Md5Tag, Option<String>)> {
        Storage::recorded_tags(self, name)
    }

    fn locks(&self) -> &dyn LockTable {
        self.dav_locks()
    }

    fn sessions(&self) -> &dyn SessionStore {
        self
    }

    #[cfg(feature = "shares")]
    fn links(&self) -> &dyn LinkTable {
        &self.share_links
    }

    fn writes_are_round_trips(&self) -> bool {
        Storage::writes_are_round_trips(self)
    }

    fn begin_upload(
        &self,
        name: &Name,
        folders: Folders,
        look: Look,
    ) -> Result<Upload, StorageError> {
        Storage::begin_upload(self, name, folders, look).map(Upload::File)
    }

    /// The dead properties first, for the new inode (it appears with
    /// them); then the judgement and the rename under the lock table's
    /// hold, or the judgement alone and a durable commit's steps (the
    /// rename a step after a flush), alone where no other is in flight.
    fn commit(
        &self,
        upload: Upload,
        crc: u32,
        durably: bool,
        may_land: Landable<'_>,
    ) -> Result<Committing<'_>, StorageError> {
        let mut upload = upload.into_file()?;
        self.record_props(&mut upload)?;
        let (steady, table) = Store::locks(self).steady()?;
        if !may_land(&table) {
            return Err(StorageError::NotAdmitted);
        }
        if !durably {
            let renamed = upload.commit(crc);
            drop(steady);
            return renamed.map(Committing::Done);
        }
        drop(steady);
        match self.lone_commit() {
            Some(lone) => {
                let durable = upload.commit_alone(crc, &lone)?;
                Ok(Committing::Alone(durable, lone))
            }
            None => {
                let (durable, owed) = upload.commit_durably(crc)?;
                Ok(Committing::Grouped(durable, owed))
            }
        }
    }

    fn stage_copy(
        &self,
        from: &Name,
        source: &Opened,
        to: &Name,
        folders: Folders,
    ) -> Result<(Upload, u64, u32), StorageError> {
        let (upload, size, crc) = Storage::stage_copy(self, (from, source), to, folders)?;
        Ok((Upload::File(upload), size, crc))
    }

    fn reserve_as_written(&self) -> ReserveAsWritten {
        Storage::reserve_as_written(self)
    }

    fn writes_never_wait(&self) -> bool {
        self.is_in_memory()
    }
}

/// A spool file: unnamed in the root (or a memfd), sent by `sendfile`.
impl Spill for File {
    fn into_content(self: Box<Self>) -> Content {
        Content::file(*self, (false, false))
    }
}

impl LockTable for DavLocks {
    fn now(&self) -> i64 {
        DavLocks::now(self)
    }

    fn fresh(&self) -> Option<Arc<[DavLock]>> {
        DavLocks::fresh(self)
    }

    fn current(&self) -> Result<Arc<[DavLock]>, StorageError> {
        DavLocks::current(self)
    }

    fn steady(&self) -> Result<(Steady<'_>, Arc<[DavLock]>), StorageError> {
        DavLocks::steady(self)
    }

    fn edit(&self, decide: Decide<'_>) -> Result<(), StorageError> {
        /// Why a change stopped: refused (nothing to do) or failed.
        enum Stop {
            Refused,
            Failed(StorageError),
        }
        impl From<StorageError> for Stop {
            fn from(err: StorageError) -> Stop {
                Stop::Failed(err)
            }
        }
        let changed = self.change(|locks, now| match decide(locks, now) {
            Some(edit) => Ok(((), edit)),
            None => Err(Stop::Refused),
        });
        match changed {
            Ok(()) | Err(Stop::Refused) => Ok(()),
            Err(Stop::Failed(err)) => Err(err),
        }
    }
}
