//! The memory store as a [`Store`]: each verb one call on the tree under
//! its lock (so every verb is one check-and-change, as the POSIX engine's
//! are under their locks), or on the lock table.

use std::sync::Arc;

use super::walks::Walk;
use super::{CAPACITY, Entry, MemoryStore, dir_of, folder_key};
use crate::access::quota::Quota;
use crate::model::{
    Account, DeadProperty, DirectoryListing, FileInfo, Folders, Found, Holder, Md5Tag, Occupant,
    Recorded, Resource, Space, Stamp, Usage, Version, VersionRecords,
};
use crate::name::{Name, Prefix};
use crate::storage::upload_handle::another_engine;
use crate::storage::{
    Ahead, Committing, Left, LockTable, Look, NoRoom, OverQuota, ReserveAsWritten, Room,
    SessionStore, StorageError, Upload, ZipCrc,
};
use crate::storage::{
    CopyTree, Cursor, Enter, GoOn, Judge, Landable, Open, Opened, Parents, PropEdit, Removable,
    Spill, Store, Take, Wanted,
};
use crate::wire::content::Content;

/// A listing spilled in memory (the store has nowhere else).
struct Spilled(Vec<u8>);

impl std::io::Write for Spilled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Spill for Spilled {
    fn into_content(self: Box<Self>) -> Content {
        Content::Bytes(self.0.into())
    }
}

impl Store for MemoryStore {
    fn look_up(&self, name: &Name) -> Result<Version, StorageError> {
        let tree = self.tree();
        tree.walk(dir_of(name.as_str()))?;
        match (tree.file(name.as_str()), tree.folder(name.as_str())) {
            (Some(file), _) => Ok(file.version()),
            (None, Some(_)) => Err(StorageError::IsDirectory),
            (None, None) => Err(StorageError::NotFound),
        }
    }

    fn open(&self, name: &Name, _how: Open) -> Result<Option<Opened>, StorageError> {
        let version = self.look_up(name)?;
        let tree = self.tree();
        let bytes = tree.file(name.as_str()).map(|file| Arc::clone(&file.bytes));
        let bytes = bytes.ok_or(StorageError::NotFound)?;
        Ok(Some(Opened {
            version,
            body: Content::Bytes(bytes),
        }))
    }

    fn records(&self, _opened: &Opened, _checksum: bool, _parts: bool) -> VersionRecords {
        VersionRecords::default()
    }

    fn checksum(&self, opened: &Opened) -> Result<u32, StorageError> {
        if let Some(crc) = opened.version.crc {
            return Ok(crc);
        }
        let Content::Bytes(bytes) = &opened.body else {
            return Err(StorageError::Io(std::io::Error::other(
                "not this store's file",
            )));
        };
        let crc = crate::formats::castagnoli::checksum(bytes);
        let mut tree = self.tree();
        tree.record_crc(opened.version.stamp.inode, crc);
        Ok(crc)
    }

    fn checksum_later(&self, opened: &Opened) {
        let _ = self.checksum(opened);
    }

    fn occupant(&self, name: &Name) -> Result<Occupant, StorageError> {
        let tree = self.tree();
        tree.walk(dir_of(name.as_str()))?;
        Ok(
            match (tree.file(name.as_str()), tree.folder(name.as_str())) {
                (Some(_), _) => Occupant::File,
                (None, Some(_)) => Occupant::Folder,
                (None, None) => Occupant::Nothing,
            },
        )
    }

    fn resource(&self, path: &str, folder: bool) -> Result<Resource, StorageError> {
        let tree = self.tree();
        tree.walk(dir_of(path))?;
        if let Some(found) = tree.folder(path) {
            let info = FileInfo {
                size: 0,
                mtime: found.mtime,
            };
            let stamp = Stamp {
                inode: found.inode,
                nanos: 0,
            };
            return Ok(Resource {
                folder: true,
                info,
                stamp,
            });
        }
        match tree.file(path) {
            Some(file) if !folder => Ok(Resource {
                folder: false,
                info: file.info(),
                stamp: file.stamp(),
            }),
            _ => Err(StorageError::NotFound),
        }
    }

    fn find_folder(&self, name: &Name) -> Result<(), StorageError> {
        self.tree().walk(name.as_str()).map(drop)
    }

    fn check_bucket(&self, name: &Name) -> Result<(), StorageError> {
        let Some((bucket, _)) = name.as_str().split_once('/') else {
            return Ok(());
        };
        self.tree().check_bucket(bucket)
    }

    fn empty_folder(&self, dir: &str) -> Result<Option<FileInfo>, StorageError> {
        let tree = self.tree();
        let path = dir.trim_end_matches('/');
        let folder = tree.walk(path)?;
        Ok((!tree.holds_anything(path)).then_some(FileInfo {
            size: 0,
            mtime: folder.mtime,
        }))
    }

    fn list(
        &self,
        prefix: &Prefix,
        wanted: Wanted<'_>,
        enter: Enter<'_>,
        take: Take<'_>,
    ) -> Result<(), StorageError> {
        self.tree().list(prefix, wanted, enter, take)
    }

    fn list_directory(
        &self,
        prefix: &Prefix,
        files: bool,
    ) -> Result<DirectoryListing, StorageError> {
        self.tree().list_directory(prefix, files)
    }

    fn cursor(&self, prefix: &Prefix) -> Cursor {
        Cursor::new(Walk::new(prefix))
    }

    fn walk_on(
        &self,
        cursor: &mut Cursor,
        enter: Wanted<'_>,
    ) -> Result<Option<Found>, StorageError> {
        self.tree().walk_on(cursor.state::<Walk>()?, enter)
    }

    fn read_ahead(&self, _body: &Content, _offset: u64, _len: u64) -> std::io::Result<()> {
        Ok(()) // in memory already
    }

    fn zip_crc(&self, _body: &Content) -> ZipCrc {
        ZipCrc::Unknown(None)
    }

    fn compute_ahead(&self, _work: Ahead) -> bool {
        false // no threads of its own: the sender computes what it needs
    }

    fn cache_ahead(&self, _body: &Content, _len: u64) {}

    fn spool_room(&self) -> Room {
        self.spool_room.part()
    }

    fn spill(&self) -> Result<Box<dyn Spill>, StorageError> {
        Ok(Box::new(Spilled(Vec::new())))
    }

    fn health_known(&self) -> Option<Result<(), String>> {
        Some(Ok(()))
    }

    fn probe_health(&self) -> Result<(), String> {
        Ok(())
    }

    fn is_gone(&self) -> bool {
        false
    }

    fn space(&self) -> Result<Space, StorageError> {
        let tree = self.tree();
        let used = tree.usage_below("", None);
        Ok(Space {
            available: CAPACITY.saturating_sub(used.bytes),
            used: used.bytes,
            size: CAPACITY,
            files_available: CAPACITY,
            files_used: used.files,
        })
    }

    fn reserve(&self, size: u64) -> Result<(), StorageError> {
        match self.space()?.available >= size {
            true => Ok(()),
            false => Err(StorageError::NoRoom(NoRoom { size, reserve: 0 })),
        }
    }

    fn counts_usage(&self) -> bool {
        self.tree().counting.is_some()
    }

    fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError> {
        Ok(self.tree().usage(account))
    }

    fn tree_usage(&self, prefix: &Prefix) -> Result<Usage, StorageError> {
        Ok(self.tree().usage_below(prefix.as_str(), None))
    }

    fn quota_refuses(
        &self,
        (token, quota): (Option<&str>, Option<Quota>),
        name: &str,
        more: Usage,
    ) -> Result<Option<OverQuota>, StorageError> {
        Ok(self.tree().refusal((token, quota), name, more))
    }

    fn remove(&self, name: &Name, folders: Folders) -> Result<(), StorageError> {
        self.tree().remove(name, folders)
    }

    fn remove_tree(
        &self,
        prefix: &Prefix,
        may_remove: Removable<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        // The table held through the whole removal, a moment under the
        // tree's mutex: taken first, as a write's change takes them.
        let (_steady, table) = self.locks.steady()?;
        let mut judged = |name: &str| may_remove(name, Ok(&table));
        self.tree().remove_tree(prefix, &mut judged, go_on)
    }

    fn remove_folder(&self, name: &Name) -> Result<(), StorageError> {
        self.tree().remove_folder(name)
    }

    fn rename(
        &self,
        from: &Name,
        to: &Name,
        overwrite: bool,
        folders: Folders,
    ) -> Result<bool, StorageError> {
        self.tree().rename((from, to), overwrite, folders)
    }

    fn rename_folder(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        self.tree().rename_folder(from, to)
    }

    fn judge_folder_move(&self, from: &Prefix, to: &Name) -> Result<(), StorageError> {
        self.tree().judge_folder_move(from, to)
    }

    fn copy_tree(
        &self,
        from: &Prefix,
        to: &Name,
        how: CopyTree<'_>,
        judge: Judge<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError> {
        self.tree().copy_tree((from, to), how, judge, go_on)
    }

    fn make_folder(&self, name: &Name, parents: Parents) -> Result<(), StorageError> {
        self.tree().make_folder(name, parents)
    }

    fn props(&self, _holder: Holder<'_>, inode: u64) -> Result<Vec<DeadProperty>, StorageError> {
        Ok(self.tree().props.get(&inode).cloned().unwrap_or_default())
    }

    fn surely_no_props(&self, name: &str) -> bool {
        let tree = self.tree();
        tree.file(name)
            .is_some_and(|file| !tree.props.contains_key(&file.inode))
    }

    fn note_no_props(&self, _name: &str) {}

    fn patch_props(
        &self,
        holder: Holder<'_>,
        found: &Resource,
        mtime: Option<i64>,
        edit: Option<PropEdit<'_>>,
    ) -> Result<(), StorageError> {
        let mut tree = self.tree();
        let path = match holder {
            Holder::File(path) | Holder::Folder(path) => path,
        };
        if let Some(time) = mtime {
            match tree.entries.get_mut(path) {
                Some(Entry::File(file)) => (file.mtime, file.nanos) = (time, 0),
                _ => match tree.entries.get_mut(&folder_key(path)) {
                    Some(Entry::Folder(folder)) => folder.mtime = time,
                    _ if path.is_empty() => tree.root.mtime = time,
                    _ => return Err(StorageError::NotFound),
                },
            }
        }
        // Read and changed under the tree's lock: one check-and-change.
        let Some(edit) = edit else {
            return Ok(());
        };
        // What has the name now: a file replaced since `found` was
        // looked at is patched as its new version (as the POSIX engine).
        let inode = match holder {
            Holder::File(path) => tree.file(path).map(|file| file.inode),
            Holder::Folder(_) => Some(found.stamp.inode),
        };
        let inode = inode.ok_or(StorageError::NotFound)?;
        let mut props = tree.props.get(&inode).cloned().unwrap_or_default();
        edit(&mut props);
        match props.is_empty() {
            true => drop(tree.props.remove(&inode)),
            false => drop(tree.props.insert(inode, props)),
        }
        Ok(())
    }

    fn props_members(&self, path: &str) -> Result<Recorded, StorageError> {
        let tree = self.tree();
        let own = tree.walk(path)?;
        let mut recorded = Recorded {
            own: tree.props.contains_key(&own.inode),
            ..Recorded::default()
        };
        let dir = folder_key(path);
        for (key, entry) in tree.below(&dir) {
            let inode = match entry {
                Entry::File(file) => file.inode,
                Entry::Folder(folder) => folder.inode,
            };
            if !tree.props.contains_key(&inode) {
                continue;
            }
            let rest = key[dir.len()..].trim_end_matches('/');
            match rest.split_once('/') {
                Some((first, _)) => drop(recorded.folders.insert(first.to_owned())),
                None if key.ends_with('/') => drop(recorded.folders.insert(rest.to_owned())),
                None => drop(recorded.files.insert(rest.to_owned())),
            }
        }
        Ok(recorded)
    }

    fn recorded_tags(&self, name: &str) -> Option<(Md5Tag, Option<String>)> {
        let tree = self.tree();
        let file = tree.file(name)?;
        Some((file.md5?, file.stated.clone()))
    }

    fn locks(&self) -> &dyn LockTable {
        &self.locks
    }

    fn sessions(&self) -> &dyn SessionStore {
        self
    }

    #[cfg(feature = "shares")]
    fn links(&self) -> &dyn crate::storage::LinkTable {
        &self.links
    }

    fn writes_are_round_trips(&self) -> bool {
        false
    }

    fn begin_upload(
        &self,
        name: &Name,
        folders: Folders,
        look: Look,
    ) -> Result<Upload, StorageError> {
        let upload = self.begin(name, folders, look)?;
        Ok(Upload::Other(Box::new(upload)))
    }

    /// In place at once, under the lock table's hold: memory has
    /// nothing to flush.
    fn commit(
        &self,
        upload: Upload,
        crc: u32,
        _durably: bool,
        may_land: Landable<'_>,
    ) -> Result<Committing<'_>, StorageError> {
        let Upload::Other(upload) = upload else {
            return Err(another_engine());
        };
        // Taken before the tree's mutex, as every change takes them.
        let (_steady, table) = self.locks.steady()?;
        if !may_land(&table) {
            return Err(StorageError::NotAdmitted);
        }
        upload.commit(crc).map(Committing::Done)
    }

    fn stage_copy(
        &self,
        from: &Name,
        source: &Opened,
        to: &Name,
        folders: Folders,
    ) -> Result<(Upload, u64, u32), StorageError> {
        let (upload, size, crc) = self.stage_copy_of((from, source), to, folders)?;
        Ok((Upload::Other(Box::new(upload)), size, crc))
    }

    fn reserve_as_written(&self) -> ReserveAsWritten {
        ReserveAsWritten::default()
    }

    fn writes_never_wait(&self) -> bool {
        true
    }
}
