//! The upload the serve layer holds ([`Upload`]): one engine's bytes
//! staged for a target, and the terms its commit is made on, set as serve
//! learns them (the time asked, the owner, the digests, the properties).
//! Only the engine that began it reads what is inside, and only it
//! commits it ([`Store::commit`](super::Store::commit)), which answers
//! with how far the commit got ([`Committing`]).
//!
//! The POSIX root's upload is held as it is: a PUT allocates nothing
//! more for it. Another engine's is a box of [`EngineUpload`], so that a
//! build that never makes one (the server's: the memory store serves the
//! tests) carries none of its code (the embedded build's 3 MiB).

use std::any::Any;
use std::fmt;
use std::io;
use std::path::PathBuf;

use super::{
    Committed, Durable, FileUpload, LoneCommit, ReserveAsWritten, StorageError, Unflushed,
};
use crate::access::quota::Quota;
use crate::model::{Md5Tag, NewProps};

/// An upload in progress: bytes staged for a target by the engine that
/// began it ([`Store::begin_upload`](super::Store::begin_upload)).
/// Dropped uncommitted, nothing of it stays (a session's bytes stay
/// staged, to commit again).
#[derive(Debug)]
// The large variant is the one every PUT holds: boxing it would cost an
// allocation per PUT to spare the rare other engine's a few bytes.
#[allow(clippy::large_enum_variant)]
pub enum Upload {
    /// A POSIX root's: a temp file beside its target, or a session's data
    /// file.
    File(FileUpload),
    /// Another engine's (the memory store's).
    Other(Box<dyn EngineUpload>),
}

/// What an engine's upload does besides the POSIX root's: the handle's
/// verbs (see [`Upload`]), and its commit, which it makes itself.
pub trait EngineUpload: Send {
    /// As [`Upload::write`].
    ///
    /// # Errors
    /// The engine's.
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError>;
    /// As [`Upload::reserve_as_written`].
    fn reserve_as_written(&mut self, reserve: ReserveAsWritten);
    /// As [`Upload::count_as_written`].
    fn count_as_written(&mut self, owner: Option<&str>, quota: Option<Quota>);
    /// As [`Upload::set_owner`].
    fn set_owner(&mut self, owner: Option<&str>, quota: Option<Quota>);
    /// As [`Upload::create_only`].
    fn create_only(&mut self);
    /// As [`Upload::note_replacing`].
    fn note_replacing(&mut self);
    /// As [`Upload::replaces_existing`].
    fn replaces_existing(&self) -> bool;
    /// As [`Upload::set_mtime`].
    fn set_mtime(&mut self, mtime: Option<i64>);
    /// As [`Upload::set_md5`].
    fn set_md5(&mut self, md5: [u8; 16]);
    /// As [`Upload::set_multipart_md5`].
    fn set_multipart_md5(&mut self, md5: [u8; 16], parts: u32);
    /// As [`Upload::md5`].
    fn md5(&self) -> Option<Md5Tag>;
    /// As [`Upload::set_stated_checksum`].
    fn set_stated_checksum(&mut self, stated: String);
    /// As [`Upload::set_part_checksums`].
    fn set_part_checksums(&mut self, checksums: Vec<String>);
    /// As [`Upload::set_props`].
    fn set_props(&mut self, props: Option<Box<NewProps>>);
    /// Puts it in place with its CRC-32C `crc` (the engine's part of
    /// [`Store::commit`](super::Store::commit)).
    ///
    /// # Errors
    /// As [`Store::commit`](super::Store::commit).
    fn commit(self: Box<Self>, crc: u32) -> Result<Committed, StorageError>;
    /// Itself, for its engine to take back as its own type (an upload
    /// kept as a session: [`SessionStore::keep_upload`](super::SessionStore::keep_upload)).
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// An engine's upload shows as its kind alone (no derived `Debug` of
/// every engine's fields in the binary).
impl fmt::Debug for dyn EngineUpload + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineUpload")
    }
}

/// What a commit ([`Store::commit`](super::Store::commit)) has done, and
/// what is left of it.
pub enum Committing<'s> {
    /// In place (no flush asked, or none needed: a memory engine's).
    Done(Committed),
    /// A durable commit that flushes its steps on this thread, as no other
    /// is in flight ([`LoneCommit`]).
    Alone(Durable, LoneCommit<'s>),
    /// A durable commit whose steps wait for the group commit to flush
    /// what each owes.
    Grouped(Durable, Unflushed),
}

/// Runs `$body` with `$each` bound to whichever engine's upload it is.
macro_rules! each {
    ($upload:expr, $each:ident => $body:expr) => {
        match $upload {
            Upload::File($each) => $body,
            Upload::Other($each) => $body,
        }
    };
}

impl Upload {
    /// Appends body bytes.
    ///
    /// # Errors
    /// As [`FileUpload::write`]: no room, over a quota, a full disk, I/O.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        each!(self, upload => upload.write(data))
    }

    /// Makes an upload of a length to come take room from the disk
    /// reserve for each write before it makes it (`posix/reserve.rs`).
    pub fn reserve_as_written(&mut self, reserve: ReserveAsWritten) {
        each!(self, upload => upload.reserve_as_written(reserve));
    }

    /// Makes an upload of a length to come count each write against the
    /// quotas before it makes it (`posix/usage_commit.rs`).
    pub fn count_as_written(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        each!(self, upload => upload.count_as_written(owner, quota));
    }

    /// The token the file counts for, and that token's quota, judged
    /// again by the commit.
    pub fn set_owner(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        each!(self, upload => upload.set_owner(owner, quota));
    }

    /// Makes the commit never replace a file: where one took the name
    /// since the upload began, it fails with [`StorageError::Exists`].
    pub fn create_only(&mut self) {
        each!(self, upload => upload.create_only());
    }

    /// Says the upload replaces what had its name, gone since it began.
    pub fn note_replacing(&mut self) {
        each!(self, upload => upload.note_replacing());
    }

    /// Whether the upload replaces a file of the target's name, as its
    /// begin looked (or its commit found).
    pub fn replaces_existing(&self) -> bool {
        each!(self, upload => upload.replaces_existing())
    }

    /// Gives the file this modification time (Unix seconds) when it is
    /// committed.
    pub fn set_mtime(&mut self, mtime: Option<i64>) {
        each!(self, upload => upload.set_mtime(mtime));
    }

    /// Records `md5` (the body's) with the file.
    pub fn set_md5(&mut self, md5: [u8; 16]) {
        each!(self, upload => upload.set_md5(md5));
    }

    /// Records a multipart upload's MD5 of its `parts`' MD5s.
    pub fn set_multipart_md5(&mut self, md5: [u8; 16], parts: u32) {
        each!(self, upload => upload.set_multipart_md5(md5, parts));
    }

    /// The tag recorded with the file, where there is one.
    pub fn md5(&self) -> Option<Md5Tag> {
        each!(self, upload => upload.md5())
    }

    /// Records the additional checksum the body was verified against.
    pub fn set_stated_checksum(&mut self, stated: String) {
        each!(self, upload => upload.set_stated_checksum(stated));
    }

    /// Records the checksums of the parts it was assembled from.
    pub fn set_part_checksums(&mut self, checksums: Vec<String>) {
        each!(self, upload => upload.set_part_checksums(checksums));
    }

    /// Gives the new version these dead properties.
    pub fn set_props(&mut self, props: Option<Box<NewProps>>) {
        each!(self, upload => upload.set_props(props));
    }

    /// Where the staged bytes are, relative to the root, for a
    /// before-commit hook: only a POSIX root's uploads have a place.
    pub fn staged_path(&self) -> Option<PathBuf> {
        match self {
            Upload::File(upload) => Some(upload.staged_path()),
            Upload::Other(_) => None,
        }
    }

    /// Ends an upload refused before its commit: nothing of it stays, a
    /// session's bytes included.
    pub fn discard(self) {
        match self {
            Upload::File(upload) => upload.discard(),
            Upload::Other(upload) => drop(upload),
        }
    }

    /// The POSIX root's upload inside.
    ///
    /// # Errors
    /// It is another engine's: only a caller mixing two engines gets that.
    pub(super) fn into_file(self) -> Result<FileUpload, StorageError> {
        match self {
            Upload::File(upload) => Ok(upload),
            Upload::Other(_) => Err(another_engine()),
        }
    }
}

/// An upload handed to an engine that did not begin it.
pub(super) fn another_engine() -> StorageError {
    StorageError::Io(io::Error::other("an upload of another store"))
}
