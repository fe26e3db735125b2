//! An upload in progress, and its atomic commit (plain or durable): the
//! bytes are staged in a hidden temp file beside the target (a PUT), or in
//! a complete upload session's data file (a COMMIT), and one rename puts
//! them in place. Dropping an [`FileUpload`] uncommitted removes a PUT's temp
//! file (a session keeps its data) and any directories left empty.
//!
//! Where an upload begins (its target found or made) is `upload_target.rs`;
//! the commit's rename itself, checked and counted, `upload_landing.rs`.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::gate::{Gate, Point};
use super::reserve::ReserveAsWritten;
use super::staging::Staging;
use super::usage_commit::Counted;
use super::{StorageError, checksum, prune_empty_dirs};
use crate::model::Md5Tag;
use crate::model::NewProps;
use crate::model::{FileInfo, Stamp};

/// What a committed file is: its size and time, its inode and the time's
/// nanoseconds (what an HTTP `ETag` is made of), as its records name it.
pub type Landed = (FileInfo, Stamp);

/// What a plain commit ([`FileUpload::commit`]) made.
#[derive(Debug)]
pub struct Committed {
    /// The version the file became (`None` where it could not be
    /// stat'ed: then it has no records either).
    pub landed: Option<Landed>,
    /// Whether it replaced a file of that name (HTTP's `204`, not `201`).
    pub replaced: bool,
}

/// Where an upload's bytes wait for the commit.
#[derive(Debug)]
pub(super) enum Staged {
    /// This upload's own temp file of this name, in the target's
    /// directory: removed if the upload is not committed.
    Temp(String),
    /// A complete upload session's data file: the session keeps it if the
    /// upload is not committed, and forgets it once it is.
    Session(Staging),
}

/// An upload in progress: bytes staged for a target.
///
/// Dropping it without [`FileUpload::commit`] removes a temp file and the
/// directories left empty by that (as DEL does).
#[derive(Debug)]
pub struct FileUpload {
    /// The target's directory, and its name there.
    pub(super) dir: OwnedFd,
    pub(super) leaf: String,
    pub(super) staged: Staged,
    pub(super) file: File,
    pub(super) committed: bool,
    /// The root, and the target's directory relative to it ("" for the
    /// root), for pruning empty directories and flushing new ones.
    pub(super) root: Arc<OwnedFd>,
    pub(super) dir_path: String,
    /// Leading segments of `dir_path` an upload undone never prunes: those
    /// it found rather than made (0 where folders are implicit).
    pub(super) floor: usize,
    /// Whether a file has the name, as looked at the upload's begin
    /// ([`Look`](super::Look)), and once committed as its rename found;
    /// `None` until looked.
    pub(super) replaces: Option<bool>,
    /// A test's hold on commits (see [`super::gate`]).
    pub(super) gate: Option<Arc<Gate>>,
    /// Folders whose entries are durable already ([`super::settled`]).
    pub(super) settled: Option<Arc<super::settled::SettledDirs>>,
    /// The root's device where the root is in memory (tmpfs, ramfs); once
    /// the upload has landed ([`FileUpload::land`]), kept only where its file
    /// is on that device: then a flush of it or of its folders would do
    /// nothing, and a durable commit owes none (`durable_commit.rs`).
    pub(super) memory_dev: Option<u64>,
    /// The modification time (Unix seconds) the client asked for, set on
    /// the staged file just before the commit.
    pub(super) mtime: Option<i64>,
    /// The body's MD5, where it was computed (an S3 upload's `ETag`), or
    /// the source's recorded tag (a copy's): recorded with the file as
    /// its CRC-32C is.
    pub(super) md5: Option<Md5Tag>,
    /// The additional checksum the body was verified against
    /// (`<algorithm>:<base64>`, S3's `x-amz-checksum-*`), recorded with
    /// the file as its MD5 is.
    pub(super) stated: Option<String>,
    /// What is recorded of the parts it was assembled from (a multipart
    /// upload's), with the file as its MD5 is (boxed: rare).
    pub(super) parts: Option<Box<PartRecords>>,
    /// Dead properties the new version is written with (S3's object
    /// metadata), recorded for its inode just before the commit.
    pub(super) props: Option<Box<NewProps>>,
    /// The ledger's part in its commit, where usage is counted (32 bytes,
    /// not boxed: see [`Counted`]).
    pub(super) counted: Option<Counted>,
    /// Renamed into place only where no file has the name
    /// ([`FileUpload::create_only`]).
    pub(super) create_only: bool,
    /// Where a length to come takes room for each write
    /// ([`FileUpload::reserve_as_written`]).
    pub(super) reserve: ReserveAsWritten,
    /// A length to come counts each write in the usage ledger before it
    /// is made ([`FileUpload::count_as_written`]); `ahead` is what is counted
    /// so, netted by the commit, given back if there is none.
    pub(super) counts_ahead: bool,
    pub(super) ahead: u64,
}

/// What is recorded of the parts a multipart upload's object was
/// assembled from (`part_sizes.rs`).
#[derive(Debug)]
pub(super) struct PartRecords {
    /// Their sizes, in order.
    pub(super) sizes: Vec<u64>,
    /// Their checksums (`<algorithm>:<base64>` each), where the upload
    /// had one.
    pub(super) checksums: Option<Vec<String>>,
}

impl FileUpload {
    /// Appends body bytes to the temp file.
    ///
    /// # Errors
    /// [`StorageError::NoRoom`] where an upload of a length to come would
    /// write into the disk reserve, [`StorageError::OverQuota`] where it
    /// would pass a quota, [`StorageError::NoSpace`] on a full
    /// disk, [`StorageError::Io`] on other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.pause(Point::Write);
        self.reserve.take(data.len())?;
        if self.counts_ahead {
            self.count_ahead(data.len() as u64)?;
        }
        self.file
            .write_all(data)
            .map_err(|err| self.vanished_or(StorageError::from(err)))
    }

    /// Makes an upload of a length to come take room from the disk
    /// reserve for each write before it makes it (`reserve.rs`): its
    /// size was judged for nothing at its begin.
    pub fn reserve_as_written(&mut self, reserve: ReserveAsWritten) {
        self.reserve = reserve;
    }

    /// A PUT's temp file that a file system reports gone (`ENOENT`, or
    /// `ESTALE` on a network file system) was removed by another process:
    /// say so, rather than "no such file" about a name the client is
    /// creating.
    pub(super) fn vanished_or(&self, err: StorageError) -> StorageError {
        match (&self.staged, err) {
            (Staged::Temp(_), StorageError::NotFound) => StorageError::TempFileRemoved,
            (_, err) => err,
        }
    }

    /// Makes the commit's rename never replace a file
    /// (`RENAME_NOREPLACE`): where one took the name since the upload
    /// began, the commit fails with [`StorageError::Exists`] and the
    /// upload is not stored (`If-None-Match: *`).
    pub fn create_only(&mut self) {
        self.create_only = true;
    }

    /// Gives the file this modification time (Unix seconds) when it is
    /// committed, instead of the time its last byte was written.
    pub fn set_mtime(&mut self, mtime: Option<i64>) {
        self.mtime = mtime;
    }

    /// Records `md5` (the body's, computed as it arrived) with the file
    /// when it is committed.
    pub fn set_md5(&mut self, md5: [u8; 16]) {
        self.md5 = Some(Md5Tag { md5, parts: None });
    }

    /// Records `md5`, the MD5 of the MD5s of a multipart upload's
    /// `parts`, with the file when it is committed (as `<hex>-<parts>`).
    pub fn set_multipart_md5(&mut self, md5: [u8; 16], parts: u32) {
        self.md5 = Some(Md5Tag {
            md5,
            parts: Some(parts),
        });
    }

    /// Gives the new version these dead properties (S3's object
    /// metadata) when it is committed.
    pub fn set_props(&mut self, props: Option<Box<NewProps>>) {
        self.props = props;
    }

    /// The tag recorded with the file: the body's MD5 where it was
    /// computed, a multipart upload's, or the source's (a copy's).
    pub fn md5(&self) -> Option<Md5Tag> {
        self.md5
    }

    /// Records `stated` (`<algorithm>:<base64>`), the additional checksum
    /// the body was verified against, with the file when it is committed.
    pub fn set_stated_checksum(&mut self, stated: String) {
        self.stated = Some(stated);
    }

    /// Records the sizes of the parts it is assembled from (a multipart
    /// upload's) with the file when it is committed.
    pub(super) fn set_part_sizes(&mut self, sizes: Vec<u64>) {
        self.parts = Some(Box::new(PartRecords {
            sizes,
            checksums: None,
        }));
    }

    /// Records the checksums of the parts it was assembled from (each
    /// `<algorithm>:<base64>`) with the file when it is committed.
    pub fn set_part_checksums(&mut self, checksums: Vec<String>) {
        if let Some(parts) = &mut self.parts {
            parts.checksums = Some(checksums);
        }
    }

    /// Records the checksums with the staged file, after its time is set
    /// (the records name the time).
    fn record(&self, stat: &rustix::fs::Stat, crc: u32) {
        checksum::record_as(&self.file, stat, crc);
        if let Some(owner) = self.counted.as_ref().and_then(Counted::owner) {
            super::usage::record_owner(&self.file, owner);
        }
        if let Some(tag) = &self.md5 {
            checksum::record_md5_tag_as(&self.file, stat, tag);
        }
        if let Some(stated) = &self.stated {
            checksum::record_stated_as(&self.file, stat, stated);
        }
        if let Some(parts) = &self.parts {
            super::part_sizes::record_as(&self.file, stat, &parts.sizes);
            if let Some(checksums) = &parts.checksums {
                super::part_sizes::record_checksums_as(&self.file, stat, checksums);
            }
        }
    }

    /// Sets the asked-for modification time on the staged file: before
    /// its checksum is recorded (the record names the time) and before
    /// the rename, so the file appears with it.
    fn stamp(&self) -> Result<(), StorageError> {
        let Some(seconds) = self.mtime else {
            return Ok(());
        };
        let times = super::mtime_only(seconds);
        rustix::fs::futimens(&self.file, &times)?;
        Ok(())
    }

    /// Whether the upload replaces a file of the target's name: as its
    /// begin looked, or once committed as its rename found (an upload
    /// that looks at its commit, [`Look::AtCommit`](super::Look), says
    /// `false` until then).
    pub fn replaces_existing(&self) -> bool {
        self.replaces == Some(true)
    }

    /// Says the upload replaces what had its name, gone since it began (a
    /// folder a WebDAV COPY removed first): its answer is "replaced".
    pub fn note_replacing(&mut self) {
        self.replaces = Some(true);
    }

    /// The target's name from the root.
    pub(super) fn name(&self) -> String {
        match self.dir_path.as_str() {
            "" => self.leaf.clone(),
            dir => format!("{dir}/{}", self.leaf),
        }
    }

    /// Where the staged bytes are, relative to the root: a PUT's temp
    /// file, or a session's data file (for a before-commit hook, which
    /// reads the complete upload there).
    pub fn staged_path(&self) -> PathBuf {
        match &self.staged {
            Staged::Temp(temp) => Path::new(&self.dir_path).join(temp),
            Staged::Session(staging) => {
                Path::new(super::session_files::SESSIONS_DIR).join(staging.data_name())
            }
        }
    }

    /// Ends an upload that was refused before its commit (a before-commit
    /// hook said no): nothing of it stays. A PUT's temp file goes, as on
    /// drop; a session goes too, with its staged bytes (a refused upload is
    /// not one to resume), and the file of that name is left as it was.
    pub fn discard(self) {
        if let Staged::Session(staging) = &self.staged {
            self.pause(Point::Discard);
            // Its staged bytes leave the ledger with it, counted after (a
            // crash between leaves the ledger high, never low); a commit
            // nets them into the file's count instead.
            if staging.discard()
                && let Some(counted) = &self.counted
                && let Some((owner, staged)) = counted.unstaged.as_deref()
            {
                let gone = super::usage::Change::staged(*staged, -1);
                counted.ledger.count(&self.name(), owner.as_deref(), gone);
            }
        }
    }

    /// Records the upload's CRC-32C with it and renames the staged bytes
    /// over the target: the upload becomes visible, in one step, to every
    /// later reader. Returns the version it became, and whether it
    /// replaced a file ([`Committed`]).
    ///
    /// # Errors
    /// 409 if the target became a directory meanwhile (or was one, for an
    /// upload that had not looked), [`StorageError::TempFileRemoved`] if
    /// another process removed the temp file, 500 otherwise; a temp file
    /// is removed either way, a session stays.
    pub fn commit(mut self, crc: u32) -> Result<Committed, StorageError> {
        let landed = self.land(crc, false)?;
        self.rename_into_place(false)?;
        self.forget_session();
        Ok(Committed {
            landed,
            replaced: self.replaces_existing(),
        })
    }

    /// What every commit does before its rename: the file's time and
    /// records, and with `sync` its bytes flushed. Returns the version it
    /// becomes, as the records name it (`None` where it could not be
    /// stat'ed: then it has no records either).
    pub(super) fn land(&mut self, crc: u32, sync: bool) -> Result<Option<Landed>, StorageError> {
        self.pause(Point::Commit);
        self.stamp()?;
        let stat = rustix::fs::fstat(&self.file).ok();
        if stat.as_ref().map(|stat| stat.st_dev) != self.memory_dev {
            self.memory_dev = None;
        }
        if let Some(stat) = &stat {
            self.record(stat, crc);
            if let Some(counted) = &mut self.counted {
                counted.size = u64::try_from(stat.st_size).unwrap_or(0);
            }
        }
        if sync {
            self.file.sync_all()?;
        }
        Ok(stat.map(|stat| (FileInfo::of(&stat), Stamp::of(&stat))))
    }

    /// As [`FileUpload::commit`], its bytes on stable storage before the
    /// rename, but its directory entries left for the caller to flush (a
    /// folder's copy flushes every folder it made at once, at its end).
    /// Only for a temp file: a session's commit flushes its folders too.
    pub(super) fn commit_unflushed_name(mut self, crc: u32) -> Result<(), StorageError> {
        debug_assert!(matches!(self.staged, Staged::Temp(_)), "a copy's upload");
        self.land(crc, true)?;
        self.rename_into_place(true)
    }

    pub(super) fn forget_session(&self) {
        if let Staged::Session(staging) = &self.staged {
            self.pause(Point::Forget);
            staging.forget();
        }
    }
}

impl FileUpload {
    pub(super) fn pause(&self, point: Point) {
        if let Some(gate) = &self.gate {
            gate.pass(point);
        }
    }

    /// Fails at `point` if a test's failing gate says so.
    pub(super) fn injected_fault(&self, point: Point) -> Result<(), StorageError> {
        match self.gate.as_ref().and_then(|gate| gate.fault(point)) {
            Some(errno) => Err(errno.into()),
            None => Ok(()),
        }
    }
}

impl Drop for FileUpload {
    fn drop(&mut self) {
        self.give_back_ahead();
        if self.committed {
            return;
        }
        if let Staged::Temp(temp) = &self.staged {
            self.pause(Point::Discard);
            match rustix::fs::unlinkat(&self.dir, temp.as_str(), AtFlags::empty()) {
                // Gone already: what failed the upload (see `vanished_or`).
                Ok(()) | Err(Errno::NOENT | Errno::STALE) => {}
                Err(errno) => log::error!("could not remove temp file {temp}: {errno}"),
            }
        }
        prune_empty_dirs(&self.root, &self.dir_path, self.floor);
    }
}
