//! The seam between the rules and the engine that keeps the files: the
//! [`Store`] trait, which serve/ calls as `ctx.store`, and today's one
//! engine, [`Storage`](super::Storage) (a POSIX root), behind it
//! (`posix/store_posix.rs`).
//!
//! A caller of the trait gets model values ([`crate::model`]) and never a
//! path or a descriptor, so another engine (one in memory for the
//! simulation test, an object store) can stand where the root does. The
//! verbs come over from `ctx.storage` a group at a time
//! (docs/store-plan.md): so far looking things up, listing and walking,
//! the file system's space, room and quotas, and the namespace (removing,
//! renaming, copying and making), dead properties and WebDAV's lock table
//! ([`LockTable`]), uploads (begun as an [`Upload`], which only the
//! engine that began it commits) and their sessions ([`SessionStore`]). Every verb is what the engine does,
//! never a rule: grants, quotas, locks and the wire's words stay in
//! serve/.
//!
//! The trait is used as `&dyn Store`: walks that call back take
//! `&mut dyn FnMut`, and a walk that stops between steps keeps its
//! engine's state in an opaque [`Cursor`].
//!
//! Why it is long: the trait is the whole seam, each verb with the
//! contract every engine keeps; split, an engine would implement traits
//! that only make sense together.

use std::fmt;
use std::io;

use super::store_values::{
    CopyTree, Cursor, GoOn, Judge, Landable, Open, Opened, Parents, PropEdit, Removable, Spill,
};
use super::{
    Ahead, Committing, Left, LockTable, Look, OverQuota, ReserveAsWritten, Room, SessionStore,
    StorageError, Upload, ZipCrc,
};
use crate::access::quota::Quota;
use crate::model::{
    Account, DeadProperty, DirectoryListing, FileInfo, Folders, Found, Holder, ListEntry, Md5Tag,
    Occupant, Recorded, Resource, Space, Usage, Version, VersionRecords,
};
use crate::name::{Name, Prefix};
use crate::wire::content::Content;

/// What a tree walk asks of its caller about a name: go on with it?
pub type Wanted<'a> = &'a mut dyn FnMut(&str) -> bool;

/// What a tree walk asks of its caller before entering a folder (given
/// its name ending in `/` and its time): enter it? An error stops the walk.
pub type Enter<'a> = &'a mut dyn FnMut(&str, &FileInfo) -> io::Result<bool>;

/// What a tree walk gives its caller: each file it found. An error stops
/// the walk.
pub type Take<'a> = &'a mut dyn FnMut(&ListEntry) -> io::Result<()>;

/// Whether names under directory `dir` can start with `prefix`.
pub(super) fn could_contain(dir: &str, prefix: &str) -> bool {
    let dir_len = dir.len() + 1;
    if prefix.len() >= dir_len {
        prefix.starts_with(dir) && prefix.as_bytes()[dir.len()] == b'/'
    } else {
        dir.starts_with(prefix)
    }
}

/// Where the files are kept, as the serve layer sees it; see the module's
/// header. Every call may block on the disk (or the network an engine
/// keeps its files on), so the reactor makes them through the I/O pool.
pub trait Store: Send + Sync {
    /// The version of regular file `name`: size, time, stamp, and its
    /// CRC-32C and MD5 tag where known without reading it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if absent, [`StorageError::IsDirectory`]
    /// for a folder, [`StorageError::Symlink`] and
    /// [`StorageError::NotRegular`] for what ferry never serves.
    fn look_up(&self, name: &Name) -> Result<Version, StorageError>;

    /// Regular file `name` opened, as `how` says: its version and its
    /// bytes. `Ok(None)` only for [`Open::IfCached`], where opening it
    /// would wait (ask again on the pool).
    ///
    /// # Errors
    /// As [`Store::look_up`]'s.
    fn open(&self, name: &Name, how: Open) -> Result<Option<Opened>, StorageError>;

    /// What is recorded with `opened`'s version besides its CRC-32C and
    /// MD5 tag: the checksum it was uploaded with (if `checksum`), its
    /// parts' sizes and checksums (if `parts`). None that cannot be read.
    fn records(&self, opened: &Opened, checksum: bool, parts: bool) -> VersionRecords;

    /// The CRC-32C of `opened` as it is now: known, or computed from all
    /// its bytes and recorded for next time (for the checksum threads:
    /// this reads the whole file).
    ///
    /// # Errors
    /// Its bytes cannot be read, or the server is stopping.
    fn checksum(&self, opened: &Opened) -> Result<u32, StorageError>;

    /// Has the CRC-32C of `opened` computed and recorded behind the
    /// answer, for the next reader, where it is not known yet.
    fn checksum_later(&self, opened: &Opened);

    /// What has `name`, whose parent folder must exist (a copy or move
    /// makes none).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] without the parent folder;
    /// [`StorageError::Symlink`] or [`StorageError::NotRegular`] for what
    /// ferry never touches.
    fn occupant(&self, name: &Name) -> Result<Occupant, StorageError>;

    /// What `path` is (a file, a folder, or only a folder if `folder`),
    /// with its time and inode; `""` is the root.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if nothing of that kind has the name;
    /// [`StorageError::Symlink`] and [`StorageError::NotRegular`] as above.
    fn resource(&self, path: &str, folder: bool) -> Result<Resource, StorageError>;

    /// Whether a folder has `name`.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if none has.
    fn find_folder(&self, name: &Name) -> Result<(), StorageError>;

    /// Whether the bucket (first segment) of `name` is there, where it
    /// has one.
    ///
    /// # Errors
    /// [`StorageError::NoBucket`] if it is not.
    fn check_bucket(&self, name: &Name) -> Result<(), StorageError>;

    /// Folder `dir`'s (its name ending in `/`) size (0) and time if it
    /// shows nothing, `None` if it shows something.
    ///
    /// # Errors
    /// It cannot be read (gone: [`StorageError::NotFound`]).
    fn empty_folder(&self, dir: &str) -> Result<Option<FileInfo>, StorageError>;

    /// Whether folder `dir` shows nothing, as [`Store::empty_folder`] tells.
    ///
    /// # Errors
    /// As [`Store::empty_folder`]'s.
    fn is_empty_folder(&self, dir: &str) -> Result<bool, StorageError> {
        self.empty_folder(dir).map(|found| found.is_some())
    }

    /// Walks the files whose names start with `prefix`, sorted, giving
    /// each to `take`; a name `wanted` refuses is skipped without a look
    /// at it, a folder `enter` refuses is not read. Reserved, symlinked,
    /// special and unnameable entries are never shown.
    ///
    /// # Errors
    /// A folder on the way cannot be read, or a callback failed (its
    /// error, as [`StorageError::Io`]).
    fn list(
        &self,
        prefix: &Prefix,
        wanted: Wanted<'_>,
        enter: Enter<'_>,
        take: Take<'_>,
    ) -> Result<(), StorageError>;

    /// The files (if `files`) and folders directly in folder `prefix`,
    /// each in name order.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if `prefix` is not a folder.
    fn list_directory(
        &self,
        prefix: &Prefix,
        files: bool,
    ) -> Result<DirectoryListing, StorageError>;

    /// A walk of the tree below folder `prefix` that stops between any
    /// two steps ([`Store::walk_on`]), holding no descriptor meanwhile.
    fn cursor(&self, prefix: &Prefix) -> Cursor;

    /// The next folder or file of `cursor`'s walk, or `None` at its end.
    /// A folder is returned, and entered, only if `enter` says so.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if the starting folder is not there (the
    /// first step only); a folder on the way cannot be read.
    fn walk_on(
        &self,
        cursor: &mut Cursor,
        enter: Wanted<'_>,
    ) -> Result<Option<Found>, StorageError>;

    /// Reads `len` bytes of `body` (opened by this store) from `offset`
    /// ahead of the reactor, so that sending them then never waits: into
    /// the page cache for a file; nothing to do for bytes in memory.
    ///
    /// # Errors
    /// The read failed.
    fn read_ahead(&self, body: &Content, offset: u64, len: u64) -> io::Result<()>;

    /// The zip CRC-32 recorded with `body`'s version (an archive's member
    /// about to be sent), or whether one computed from it may be recorded.
    fn zip_crc(&self, body: &Content) -> ZipCrc;

    /// Hands `work` (reading a member ahead, or its CRC-32) to the
    /// threads that compute checksums; `false` if it was not taken (then
    /// the sender does it when it must). Never blocks.
    fn compute_ahead(&self, work: Ahead) -> bool;

    /// Has the first `len` bytes of `body` read ahead of their send (an
    /// archive's next member, while the one before goes out). Never blocks.
    fn cache_ahead(&self, body: &Content, len: u64);

    /// A part of the server's room for listings held in memory, for one
    /// listing to grow in.
    fn spool_room(&self) -> Room;

    /// Where a listing that outgrew its room is written, then sent from:
    /// unnamed, gone once sent.
    ///
    /// # Errors
    /// None could be made (out of descriptors: [`StorageError::Busy`]).
    fn spill(&self) -> Result<Box<dyn Spill>, StorageError>;

    /// The store's health if it is known without a probe (the last
    /// answer while fresh); `None`: a probe is due ([`Store::probe_health`],
    /// on the pool).
    fn health_known(&self) -> Option<Result<(), String>>;

    /// Probes the store (blocks) and keeps the answer.
    ///
    /// # Errors
    /// What is wrong, in words.
    fn probe_health(&self) -> Result<(), String>;

    /// Whether the store itself is gone (the root removed under the
    /// server): then a "not found" is the store's failure, not the name's.
    fn is_gone(&self) -> bool;

    /// The room on the file system the files are kept on.
    ///
    /// # Errors
    /// It cannot be asked.
    fn space(&self) -> Result<Space, StorageError>;

    /// Takes `size` bytes of room above the disk reserve for a write
    /// whose length is known.
    ///
    /// # Errors
    /// [`StorageError::NoRoom`] if they would reach into the reserve.
    fn reserve(&self, size: u64) -> Result<(), StorageError>;

    /// Whether the usage ledger counts bytes and files per account (only
    /// then do quotas apply).
    fn counts_usage(&self) -> bool;

    /// What `account` holds (nothing where the ledger does not count).
    ///
    /// # Errors
    /// Its record cannot be read.
    fn usage(&self, account: Account<'_>) -> Result<Usage, StorageError>;

    /// What the files below `prefix` add up to, by a walk.
    ///
    /// # Errors
    /// A folder on the way cannot be read.
    fn tree_usage(&self, prefix: &Prefix) -> Result<Usage, StorageError>;

    /// Which quota, if any, a write of `more` to `name` by `writer` (its
    /// token's name and quota) would pass.
    ///
    /// # Errors
    /// An account's record cannot be read.
    fn quota_refuses(
        &self,
        writer: (Option<&str>, Option<Quota>),
        name: &str,
        more: Usage,
    ) -> Result<Option<OverQuota>, StorageError>;

    /// Begins an upload to `name`: its folders found, or made where
    /// `folders` says (they show while the body arrives), and what has
    /// the name looked at now where `look` says. The bytes go to the
    /// [`Upload`] returned, which only [`Store::commit`] puts in place.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for a missing parent where folders are
    /// not made, [`StorageError::ParentNotDirectory`] for a file on the
    /// way, [`StorageError::NoBucket`]; looked at now,
    /// [`StorageError::IsDirectory`] for a folder (and, on a POSIX root,
    /// the refusals of a symlink or special file); the engine's (no
    /// space, I/O).
    fn begin_upload(
        &self,
        name: &Name,
        folders: Folders,
        look: Look,
    ) -> Result<Upload, StorageError>;

    /// Puts `upload` (this engine's) in place with its CRC-32C `crc`, its
    /// terms and dead properties, in one step readers see as the old file
    /// or the new; `durably`: on stable storage before it is answered
    /// (`--fsync`), in the steps the engine needs ([`Committing`]).
    /// Asks `may_land` first, with the lock table held still
    /// ([`LockTable::steady`]) through the rename where the commit renames
    /// at once ([`Committing::Done`]); where the rename is a later step
    /// (a POSIX root's durable commit flushes first), the table is let go
    /// after the judgement, so that no LOCK waits for a flush, and the
    /// step's caller judges again.
    ///
    /// # Errors
    /// [`StorageError::NotAdmitted`] where `may_land` refused;
    /// [`StorageError::FolderMoved`] if its folder was moved or removed
    /// meanwhile, [`StorageError::IsDirectory`] if a folder took the
    /// name, [`StorageError::Exists`] for a create-only upload whose name
    /// a file took, [`StorageError::OverQuota`]; the table could not be
    /// held; the engine's. Nothing is in place then.
    fn commit(
        &self,
        upload: Upload,
        crc: u32,
        durably: bool,
        may_land: Landable<'_>,
    ) -> Result<Committing<'_>, StorageError>;

    /// Stages a copy of file `from`, opened as `source` ([`Open::Read`]),
    /// as an upload to `to` (its folders as [`Store::begin_upload`] finds
    /// or makes them): the upload, with `from`'s MD5 tag and dead
    /// properties to be recorded with it, its size and CRC-32C. The caller
    /// judged `source`'s version first; the bytes copied are that
    /// version's.
    ///
    /// # Errors
    /// As [`Store::begin_upload`] for `to`; [`StorageError::Io`] if `from`
    /// changed while it was read.
    fn stage_copy(
        &self,
        from: &Name,
        source: &Opened,
        to: &Name,
        folders: Folders,
    ) -> Result<(Upload, u64, u32), StorageError>;

    /// What an upload of a length to come takes its room from as it is
    /// written (`--min-free`'s reserve; nothing where there is no disk).
    fn reserve_as_written(&self) -> ReserveAsWritten;

    /// Whether a write never waits (the files are in memory): the loop
    /// then writes bodies itself (`--pool-writes auto`).
    fn writes_never_wait(&self) -> bool;

    /// Removes file `name`, and the folders above it that `folders` says
    /// go once empty.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if no file has the name.
    fn remove(&self, name: &Name, folders: Folders) -> Result<(), StorageError>;

    /// Removes folder `prefix` with what it holds, each member only if
    /// `may_remove` says so (what it refuses stays, with the folders above
    /// it), stopping when `go_on` says no more. Each member is judged
    /// with the lock table held still until it is removed, so no lock is
    /// granted on it between its judgement and its removal (held in
    /// stretches where the walk takes time: a LOCK waits for one
    /// stretch, not the walk).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if no folder has the name.
    fn remove_tree(
        &self,
        prefix: &Prefix,
        may_remove: Removable<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError>;

    /// Removes folder `name` if it shows nothing.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if no folder has the name, or
    /// [`StorageError::NotEmpty`] if it holds something.
    fn remove_folder(&self, name: &Name) -> Result<(), StorageError>;

    /// Renames file `from` to `to`, over a file there only if `overwrite`,
    /// making and pruning folders as `folders` says; whether it replaced
    /// one.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] without the source,
    /// [`StorageError::Exists`] where it may not overwrite.
    fn rename(
        &self,
        from: &Name,
        to: &Name,
        overwrite: bool,
        folders: Folders,
    ) -> Result<bool, StorageError>;

    /// Renames folder `from` to `to`, whose parent must exist and which
    /// must be free.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] without the source or the parent.
    fn rename_folder(&self, from: &Prefix, to: &Name) -> Result<(), StorageError>;

    /// Whether folder `from` moved to `to` would fit in the quota'd
    /// folders it fills, judged as [`Store::rename_folder`] judges it but
    /// nothing counted or moved: asked before whatever is at `to` is
    /// removed, which a refusal after could not give back. Only a first
    /// look: the rename judges again under the names' locks.
    ///
    /// # Errors
    /// [`StorageError::OverQuota`]; a folder in `from` cannot be read.
    fn judge_folder_move(&self, from: &Prefix, to: &Name) -> Result<(), StorageError>;

    /// Copies folder `from` to a new folder `to`, as `how` says, each
    /// member as `judge` (given its source and copy names) says, stopping
    /// when `go_on` says no more; what it left out.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] without the source or the target's parent.
    fn copy_tree(
        &self,
        from: &Prefix,
        to: &Name,
        how: CopyTree<'_>,
        judge: Judge<'_>,
        go_on: GoOn<'_>,
    ) -> Result<Left, StorageError>;

    /// Makes folder `name`: its parent must exist, or the folders on the
    /// way are made too as `parents` says.
    ///
    /// # Errors
    /// [`StorageError::Exists`] if something has the name (a folder where
    /// parents are made is no error), [`StorageError::NotFound`] without
    /// the parent.
    fn make_folder(&self, name: &Name, parents: Parents) -> Result<(), StorageError>;

    /// The dead properties recorded for `holder`, whose version is
    /// `inode` (a record of another inode is stale: none).
    ///
    /// # Errors
    /// The record cannot be read.
    fn props(&self, holder: Holder<'_>, inode: u64) -> Result<Vec<DeadProperty>, StorageError>;

    /// Whether file `name` surely has no dead properties, told without
    /// waiting (on the reactor); `false` when not known.
    fn surely_no_props(&self, name: &str) -> bool;

    /// Notes that file `name` was found with no dead properties, so that
    /// [`Store::surely_no_props`] may tell it next time.
    fn note_no_props(&self, name: &str);

    /// Sets `found`'s (`holder`'s) time to `mtime` (where given) and
    /// changes its dead properties as `edit` (where given) says, given
    /// them as they stand under the records' lock: one check-and-change,
    /// so that patches side by side, on this node or another, each see
    /// what the one before wrote; and of what has the name then (a
    /// version that replaced `found` meanwhile: as if served after its
    /// upload). All of it, or nothing.
    ///
    /// # Errors
    /// It could not be done; nothing was changed.
    fn patch_props(
        &self,
        holder: Holder<'_>,
        found: &Resource,
        mtime: Option<i64>,
        edit: Option<PropEdit<'_>>,
    ) -> Result<(), StorageError>;

    /// Which members of folder `path` may have dead properties (a listing
    /// looks up only theirs).
    ///
    /// # Errors
    /// The records cannot be read.
    fn props_members(&self, path: &str) -> Result<Recorded, StorageError>;

    /// The MD5 tag (S3's ETag) recorded with file `name`, and the
    /// checksum it was uploaded with, if they still match it.
    fn recorded_tags(&self, name: &str) -> Option<(Md5Tag, Option<String>)>;

    /// The MD5 tag recorded with file `name`, as [`Store::recorded_tags`]
    /// (a listing's ETag).
    fn recorded_md5(&self, name: &str) -> Option<Md5Tag> {
        self.recorded_tags(name).map(|(tag, _)| tag)
    }

    /// WebDAV's lock table.
    fn locks(&self) -> &dyn LockTable;

    /// The resumable uploads' sessions.
    fn sessions(&self) -> &dyn SessionStore;

    /// The share links.
    #[cfg(feature = "shares")]
    fn links(&self) -> &dyn super::LinkTable;

    /// Whether every write is a round trip to a server (FUSE, NFS): then
    /// even a check that could run on the reactor goes to the pool.
    fn writes_are_round_trips(&self) -> bool;
}

/// A store shows as its kind's name alone in `Ctx`'s `Debug` (not as a
/// supertrait: each engine's derived `Debug`, all its fields', would then
/// sit in the binary through the trait's vtable, 60 KB of it for the
/// POSIX root's).
impl fmt::Debug for dyn Store + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Store")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_pruning() {
        assert!(could_contain("logs", ""));
        assert!(could_contain("logs", "lo"));
        assert!(could_contain("logs", "logs/2026"));
        assert!(!could_contain("logs", "logsx"));
        assert!(!could_contain("other", "logs/"));
        assert!(could_contain("logs/a", "logs/"));
    }
}
