//! The seam between the rules and the engine that keeps the files: the
//! [`Store`] trait, which serve/ calls as `ctx.store`, and today's one
//! engine, [`Storage`] (a POSIX root), behind it.
//!
//! A caller of the trait gets model values ([`crate::model`]) and never a
//! path or a descriptor, so another engine (one in memory for the
//! simulation test, an object store) can stand where the root does. The
//! verbs come over from `ctx.storage` a group at a time
//! (docs/store-plan.md): so far looking things up, listing and walking,
//! and the file system's space. Every verb is what the engine does, never
//! a rule: grants, quotas, locks and the wire's words stay in serve/.
//!
//! The trait is used as `&dyn Store`: walks that call back take
//! `&mut dyn FnMut`, and a walk that stops between steps keeps its
//! engine's state in an opaque [`Cursor`].

use std::any::Any;
use std::fmt;
use std::io;

use super::cursor::TreeCursor;
use super::{Storage, StorageError};
use crate::model::{
    DirectoryListing, FileInfo, Found, ListEntry, Occupant, Resource, Space, Version,
};
use crate::name::{Name, Prefix};

/// What a tree walk asks of its caller about a name: go on with it?
pub type Wanted<'a> = &'a mut dyn FnMut(&str) -> bool;

/// What a tree walk asks of its caller before entering a folder (given
/// its name ending in `/` and its time): enter it? An error stops the walk.
pub type Enter<'a> = &'a mut dyn FnMut(&str, &FileInfo) -> io::Result<bool>;

/// What a tree walk gives its caller: each file it found. An error stops
/// the walk.
pub type Take<'a> = &'a mut dyn FnMut(&ListEntry) -> io::Result<()>;

/// Where the files are kept, as the serve layer sees it; see the module's
/// header. Every call may block on the disk (or the network an engine
/// keeps its files on), so the reactor makes them through the I/O pool.
pub trait Store: Send + Sync + fmt::Debug {
    /// The version of regular file `name`: size, time, stamp, and its
    /// CRC-32C and MD5 tag where known without reading it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if absent, [`StorageError::IsDirectory`]
    /// for a folder, [`StorageError::Symlink`] and
    /// [`StorageError::NotRegular`] for what ferry never serves.
    fn look_up(&self, name: &Name) -> Result<Version, StorageError>;

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

    /// The room on the file system the files are kept on.
    ///
    /// # Errors
    /// It cannot be asked.
    fn space(&self) -> Result<Space, StorageError>;
}

/// Where a walk of [`Store::cursor`] stands between two steps: the
/// engine's own state, which only the engine that made it reads.
pub struct Cursor(Box<dyn Any + Send>);

impl Cursor {
    /// A cursor holding an engine's `state`.
    pub(crate) fn new(state: impl Any + Send) -> Cursor {
        Cursor(Box::new(state))
    }

    /// The engine's state, if this cursor holds a `T`.
    pub(crate) fn state<T: Any>(&mut self) -> Option<&mut T> {
        self.0.downcast_mut()
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cursor")
    }
}

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
}
