//! The root directory jail: every file operation the server performs.
//!
//! Names reach this module already validated ([`Name`]), and every path is
//! walked one segment at a time with `openat(O_NOFOLLOW)` from a descriptor
//! of the root, so no name and no symlink planted inside the root can lead
//! outside it. Symlinks are never followed: a symlinked file reads as
//! forbidden, a symlinked directory as absent, and LIST skips both.
//!
//! Uploads are atomic: bytes go to a hidden temp file (`.ferry-tmp-*`) in the
//! target's directory, which is renamed over the target only once complete
//! and verified. Readers see the old file or the new one, never a mix. A
//! [`Upload`] that is dropped without [`Upload::commit`] removes its temp
//! file, so every abort path (reset, timeout, shutdown) cleans up; temp files
//! left by a killed process are removed by [`Storage::remove_stale_temp_files`]
//! at startup.
//!
//! All calls here block the calling thread on the disk, never on a peer.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::name::{Name, Prefix, RESERVED_PREFIX};

mod checksum;
mod sessions;

pub use sessions::{Appender, SESSIONS_DIR, SessionInfo, is_session_id, session_id};

/// Flags for opening a directory: never through a symlink. Readable (not
/// `O_PATH`) so that the same descriptor can be listed and fsynced.
const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Flags for opening a file to read. NONBLOCK so that a FIFO planted in the
/// root cannot hang the server.
const READ_FILE: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK);

/// Opens `path` beneath `root` in one call, refusing any symlink on the way
/// and any escape from `root`.
fn open_beneath(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    use rustix::fs::ResolveFlags;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    rustix::fs::openat2(root, path, flags, Mode::empty(), resolve)
}

/// Why a storage operation failed, with the FERRY/1 code it answers with.
#[derive(Debug)]
pub enum StorageError {
    /// No such file (404).
    NotFound,
    /// The name is a directory (409).
    IsDirectory,
    /// A parent of the name is a file (or a symlink), so it cannot be
    /// created (409).
    ParentNotDirectory,
    /// The name is a special file (FIFO, socket, device) (409).
    NotRegular,
    /// The name is a symlink, which ferry never follows (403).
    Symlink,
    /// The disk or quota is full (507).
    NoSpace,
    /// Out of file descriptors (503).
    Busy,
    /// No upload session with that id (404).
    NoSuchUpload,
    /// An APPEND at the wrong offset; the session stands at this one (409).
    WrongOffset(u64),
    /// An APPEND past the session's declared size (400).
    PastEnd(u64),
    /// A COMMIT before all bytes arrived: received, size (409).
    Incomplete(u64, u64),
    /// Another APPEND is streaming into the session (409).
    SessionBusy,
    /// Staged bytes do not match the declared CRC-32C: staged, declared (422).
    ChecksumMismatch(u32, u32),
    /// Anything else the filesystem said (500).
    Io(io::Error),
}

impl StorageError {
    /// The FERRY/1 error code.
    pub fn code(&self) -> u16 {
        match self {
            StorageError::NotFound => 404,
            StorageError::IsDirectory
            | StorageError::ParentNotDirectory
            | StorageError::NotRegular => 409,
            StorageError::Symlink => 403,
            StorageError::NoSpace => 507,
            StorageError::Busy => 503,
            StorageError::NoSuchUpload => 404,
            StorageError::WrongOffset(_)
            | StorageError::Incomplete(..)
            | StorageError::SessionBusy => 409,
            StorageError::PastEnd(_) => 400,
            StorageError::ChecksumMismatch(..) => 422,
            StorageError::Io(_) => 500,
        }
    }

    fn from_errno(errno: Errno) -> StorageError {
        match errno {
            // ENXIO: a Unix socket (or a device without a driver) was opened.
            Errno::NOENT | Errno::NOTDIR | Errno::NXIO => StorageError::NotFound,
            Errno::ISDIR => StorageError::IsDirectory,
            Errno::LOOP => StorageError::Symlink,
            Errno::NOSPC | Errno::DQUOT => StorageError::NoSpace,
            Errno::MFILE | Errno::NFILE => StorageError::Busy,
            other => StorageError::Io(other.into()),
        }
    }
}

impl From<Errno> for StorageError {
    fn from(errno: Errno) -> StorageError {
        StorageError::from_errno(errno)
    }
}

impl From<io::Error> for StorageError {
    fn from(err: io::Error) -> StorageError {
        match err.raw_os_error() {
            Some(raw) => StorageError::from_errno(Errno::from_raw_os_error(raw)),
            None => StorageError::Io(err),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFound => f.write_str("no such file"),
            StorageError::IsDirectory => f.write_str("is a directory"),
            StorageError::ParentNotDirectory => {
                f.write_str("a parent of the name is not a directory")
            }
            StorageError::NotRegular => f.write_str("not a regular file"),
            StorageError::Symlink => f.write_str("symlinks are not followed"),
            StorageError::NoSpace => f.write_str("no space left on device"),
            StorageError::Busy => f.write_str("server out of file descriptors"),
            StorageError::NoSuchUpload => f.write_str("no such upload"),
            StorageError::WrongOffset(at) => write!(f, "upload is at offset {at}"),
            StorageError::PastEnd(size) => write!(f, "past the upload's {size} bytes"),
            StorageError::Incomplete(received, size) => {
                write!(f, "upload incomplete: {received} of {size} bytes")
            }
            StorageError::SessionBusy => f.write_str("another APPEND is in progress"),
            StorageError::ChecksumMismatch(staged, declared) => write!(
                f,
                "checksum mismatch: received {staged:08x}, expected {declared:08x}; upload discarded"
            ),
            StorageError::Io(err) => write!(f, "I/O error: {err}"),
        }
    }
}

impl std::error::Error for StorageError {}

/// Size and modification time of a stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

impl FileInfo {
    fn of(stat: &Stat) -> FileInfo {
        FileInfo {
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: stat.st_mtime,
        }
    }
}

/// A stored file opened for reading, with its checksum.
#[derive(Debug)]
pub struct OpenFile {
    /// The file, positioned nowhere in particular (read it by offset).
    pub file: File,
    /// Its size and modification time when opened.
    pub info: FileInfo,
    /// CRC-32C of the whole file.
    pub crc: u32,
}

/// One LIST result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Decoded name relative to the root.
    pub name: String,
    /// Size and modification time.
    pub info: FileInfo,
}

/// The root directory and everything done beneath it.
#[derive(Debug)]
pub struct Storage {
    root: OwnedFd,
    temp_serial: u64,
    sessions: sessions::Sessions,
    checksums: checksum::Cache,
}

impl Storage {
    /// Opens `root`, creating it (and its parents) if missing.
    ///
    /// # Errors
    /// The directory cannot be created or opened.
    pub fn open(root: &Path) -> io::Result<Storage> {
        std::fs::create_dir_all(root)?;
        let root = rustix::fs::open(root, DIR, Mode::empty())?;
        Ok(Storage {
            root,
            temp_serial: 0,
            sessions: sessions::Sessions::default(),
            checksums: checksum::Cache::default(),
        })
    }

    /// Size, modification time and CRC-32C of `name`. Special files are
    /// refused before they are opened.
    ///
    /// # Errors
    /// 404 if absent, 409 for a directory, 403 for a symlink.
    pub fn stat(&mut self, name: &Name) -> Result<(FileInfo, u32), StorageError> {
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        check_regular(&rustix::fs::statat(
            self.fd(&dir),
            leaf,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)?;
        let file = File::from(rustix::fs::openat(
            self.fd(&dir),
            leaf,
            READ_FILE,
            Mode::empty(),
        )?);
        let found = self.opened(file)?;
        Ok((found.info, found.crc))
    }

    /// Opens `name` for reading.
    ///
    /// # Errors
    /// As [`Storage::stat`], and 500 if its CRC has to be computed and the
    /// file cannot be read.
    pub fn open_read(&mut self, name: &Name) -> Result<OpenFile, StorageError> {
        // The whole name in one call where the kernel can (see `walk`).
        match open_beneath(&self.root, name.as_str(), READ_FILE) {
            Ok(fd) => return self.opened(File::from(fd)),
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(StorageError::NotFound),
            Err(_) => {}
        }
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        let file = File::from(rustix::fs::openat(
            self.fd(&dir),
            leaf,
            READ_FILE,
            Mode::empty(),
        )?);
        self.opened(file)
    }

    fn opened(&mut self, file: File) -> Result<OpenFile, StorageError> {
        let stat = rustix::fs::fstat(&file)?;
        check_regular(&stat)?;
        let crc = self.checksums.of(&file, &stat)?;
        Ok(OpenFile {
            file,
            info: FileInfo::of(&stat),
            crc,
        })
    }

    /// Starts an upload to `name`, creating missing parent directories.
    /// If the upload is dropped uncommitted, the directories it created are
    /// removed again (when still empty).
    ///
    /// # Errors
    /// 409 if `name` is a directory or special file or a parent is not a
    /// directory; 403 if it is a symlink; 507, 503 or 500 if the temp file
    /// cannot be created.
    pub fn begin_upload(&mut self, name: &Name) -> Result<Upload, StorageError> {
        let (dirs, leaf) = name.split_parent();
        let mut created = CreatedDirs(Vec::new());
        let dir = match self.walk_creating(dirs, &mut created)? {
            Some(dir) => dir,
            None => rustix::io::dup(&self.root)?,
        };
        let replaces = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => {
                check_regular(&stat).map_err(|err| match err {
                    StorageError::NotFound => StorageError::NotRegular,
                    other => other,
                })?;
                true
            }
            Err(Errno::NOENT) => false,
            Err(errno) => return Err(errno.into()),
        };
        self.temp_serial += 1;
        let temp = format!(
            "{RESERVED_PREFIX}tmp-{}-{}",
            std::process::id(),
            self.temp_serial
        );
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, temp.as_str(), flags, Mode::from_raw_mode(0o644))?;
        Ok(Upload {
            dir,
            temp,
            leaf: leaf.to_owned(),
            file: File::from(fd),
            committed: false,
            created,
            replaces,
        })
    }

    /// Refuses (as a PUT would) a name that cannot become a file: one that
    /// is a directory, symlink or special file, or lies beneath a file.
    /// Missing parents are fine: they would be created.
    fn check_can_be_file(&self, name: &Name) -> Result<(), StorageError> {
        let (dirs, leaf) = name.split_parent();
        let mut current: Option<OwnedFd> = None;
        for segment in dirs {
            match rustix::fs::openat(self.fd(&current), segment, DIR, Mode::empty()) {
                Ok(fd) => current = Some(fd),
                Err(Errno::NOENT) => return Ok(()),
                Err(Errno::NOTDIR | Errno::LOOP) => return Err(StorageError::ParentNotDirectory),
                Err(errno) => return Err(errno.into()),
            }
        }
        match rustix::fs::statat(self.fd(&current), leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => check_regular(&stat).map_err(|err| match err {
                StorageError::NotFound => StorageError::NotRegular,
                other => other,
            }),
            Err(Errno::NOENT) => Ok(()),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Removes upload sessions untouched for longer than `ttl` (at startup;
    /// later, whenever a session begins). Returns how many went.
    pub fn expire_upload_sessions(&mut self, ttl: std::time::Duration) -> usize {
        match rustix::fs::openat(&self.root, SESSIONS_DIR, DIR, Mode::empty()) {
            Ok(dir) => self.expire_sessions(&dir, ttl),
            Err(_) => 0,
        }
    }

    /// Removes `name`, then any parent directories this left empty.
    ///
    /// # Errors
    /// 404 if absent, 409 for a directory, 403 for a symlink: only regular
    /// files are removed.
    pub fn delete(&self, name: &Name) -> Result<(), StorageError> {
        let (dirs, leaf) = name.split_parent();
        let dirs: Vec<&str> = dirs.collect();
        let mut chain = Vec::with_capacity(dirs.len());
        for segment in &dirs {
            let parent = chain.last().unwrap_or(&self.root);
            chain.push(rustix::fs::openat(parent, *segment, DIR, Mode::empty())?);
        }
        let parent = chain.last().unwrap_or(&self.root);
        check_regular(&rustix::fs::statat(
            parent,
            leaf,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)?;
        rustix::fs::unlinkat(parent, leaf, AtFlags::empty())?;
        // Directories are implicit in names: prune the ones this emptied.
        // Stops at the first that is not empty (or cannot be removed).
        while let Some(dir) = chain.pop() {
            drop(dir);
            let parent = chain.last().unwrap_or(&self.root);
            let segment = dirs[chain.len()];
            if rustix::fs::unlinkat(parent, segment, AtFlags::REMOVEDIR).is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Every regular file whose name starts with `prefix`, sorted by name.
    /// Reserved, symlinked, special and unnameable entries are skipped.
    ///
    /// # Errors
    /// A directory on the way cannot be read (500, 503).
    pub fn list(&self, prefix: &Prefix) -> Result<Vec<ListEntry>, StorageError> {
        let mut base = String::new();
        let mut start: Option<OwnedFd> = None;
        for segment in prefix.dir_segments() {
            let parent = self.fd(&start);
            match rustix::fs::openat(parent, segment, DIR, Mode::empty()) {
                Ok(fd) => start = Some(fd),
                Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Vec::new()),
                Err(errno) => return Err(errno.into()),
            }
            base.push_str(segment);
            base.push('/');
        }
        let mut found = Vec::new();
        let mut pending = vec![(
            rustix::fs::openat(self.fd(&start), ".", DIR, Mode::empty())?,
            base,
        )];
        while let Some((dir, base)) = pending.pop() {
            for entry in Dir::new(dir.try_clone()?)? {
                let entry = entry?;
                let Ok(leaf) = entry.file_name().to_str() else {
                    continue;
                };
                if leaf == "." || leaf == ".." || leaf.starts_with(RESERVED_PREFIX) {
                    continue;
                }
                let full = format!("{base}{leaf}");
                let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => stat,
                    Err(Errno::NOENT) => continue, // removed while we looked
                    Err(errno) => return Err(errno.into()),
                };
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory if could_contain(&full, prefix.as_str()) => {
                        let sub = rustix::fs::openat(&dir, leaf, DIR, Mode::empty())?;
                        pending.push((sub, full + "/"));
                    }
                    FileType::RegularFile
                        if full.starts_with(prefix.as_str()) && Name::new(full.clone()).is_ok() =>
                    {
                        found.push(ListEntry {
                            name: full,
                            info: FileInfo::of(&stat),
                        });
                    }
                    _ => {}
                }
            }
        }
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// Removes every `.ferry-` file beneath the root: temp files of uploads
    /// that a killed process never finished. Returns how many went.
    ///
    /// # Errors
    /// The tree cannot be read.
    pub fn remove_stale_temp_files(&self) -> io::Result<usize> {
        let mut removed = 0;
        let mut pending = vec![rustix::fs::openat(&self.root, ".", DIR, Mode::empty())?];
        while let Some(dir) = pending.pop() {
            for entry in Dir::new(dir.try_clone()?)? {
                let entry = entry?;
                let leaf = entry.file_name();
                if leaf == c"." || leaf == c".." {
                    continue;
                }
                let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => stat,
                    Err(_) => continue,
                };
                let is_temp = leaf.to_bytes().starts_with(RESERVED_PREFIX.as_bytes());
                match FileType::from_raw_mode(stat.st_mode) {
                    FileType::Directory => {
                        pending.push(rustix::fs::openat(&dir, leaf, DIR, Mode::empty())?);
                    }
                    FileType::RegularFile if is_temp => {
                        rustix::fs::unlinkat(&dir, leaf, AtFlags::empty())?;
                        removed += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(removed)
    }

    /// Opens the directories of a name for reading; `None` is the root.
    ///
    /// One `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` resolves the
    /// whole path in the kernel without ever following a symlink. Where it
    /// refuses (a symlink on the way, or a kernel without `openat2`), the
    /// segment-by-segment walk decides and gives the precise error.
    fn walk<'a>(
        &self,
        dirs: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<Option<OwnedFd>, StorageError> {
        let mut path = String::new();
        for segment in dirs.clone() {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(segment);
        }
        if path.is_empty() {
            return Ok(None);
        }
        match open_beneath(&self.root, &path, DIR) {
            Ok(fd) => return Ok(Some(fd)),
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(StorageError::NotFound),
            Err(_) => {}
        }
        let mut current: Option<OwnedFd> = None;
        for segment in dirs {
            let next = rustix::fs::openat(self.fd(&current), segment, DIR, Mode::empty())?;
            current = Some(next);
        }
        Ok(current)
    }

    /// As [`Storage::walk`], creating missing directories and recording
    /// them in `created` (which removes them again unless disarmed).
    fn walk_creating<'a>(
        &self,
        dirs: impl Iterator<Item = &'a str>,
        created: &mut CreatedDirs,
    ) -> Result<Option<OwnedFd>, StorageError> {
        let not_a_dir = |errno| match errno {
            Errno::NOTDIR => StorageError::ParentNotDirectory,
            other => other.into(),
        };
        let mut current: Option<OwnedFd> = None;
        for segment in dirs {
            let parent = self.fd(&current);
            let next = match rustix::fs::openat(parent, segment, DIR, Mode::empty()) {
                Err(Errno::NOENT) => {
                    let made =
                        match rustix::fs::mkdirat(parent, segment, Mode::from_raw_mode(0o755)) {
                            Ok(()) => true,
                            Err(Errno::EXIST) => false,
                            Err(errno) => return Err(errno.into()),
                        };
                    let next = rustix::fs::openat(parent, segment, DIR, Mode::empty())
                        .map_err(not_a_dir)?;
                    if made {
                        let parent = match current.take() {
                            Some(fd) => fd,
                            None => rustix::io::dup(&self.root)?,
                        };
                        created.0.push((parent, segment.to_owned()));
                    }
                    next
                }
                other => other.map_err(not_a_dir)?,
            };
            current = Some(next);
        }
        Ok(current)
    }

    fn fd<'a>(&'a self, dir: &'a Option<OwnedFd>) -> BorrowedFd<'a> {
        dir.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd())
    }
}

/// Whether names under directory `dir` can start with `prefix`.
fn could_contain(dir: &str, prefix: &str) -> bool {
    let dir_len = dir.len() + 1;
    if prefix.len() >= dir_len {
        prefix.starts_with(dir) && prefix.as_bytes()[dir.len()] == b'/'
    } else {
        dir.starts_with(prefix)
    }
}

fn check_regular(stat: &Stat) -> Result<(), StorageError> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(()),
        FileType::Directory => Err(StorageError::IsDirectory),
        FileType::Symlink => Err(StorageError::Symlink),
        _ => Err(StorageError::NotFound),
    }
}

/// Directories an upload created, each as (descriptor of its parent, its
/// name), outermost first. Dropped armed, it removes those still empty,
/// innermost first, so a failed upload leaves no empty directories behind.
#[derive(Debug)]
struct CreatedDirs(Vec<(OwnedFd, String)>);

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        while let Some((parent, name)) = self.0.pop() {
            if rustix::fs::unlinkat(&parent, name.as_str(), AtFlags::REMOVEDIR).is_err() {
                break; // not empty: someone else's upload is using it
            }
        }
    }
}

/// An upload in progress: a temp file beside its target.
///
/// Dropping it without [`Upload::commit`] removes the temp file and the
/// directories created for it.
#[derive(Debug)]
pub struct Upload {
    dir: OwnedFd,
    temp: String,
    leaf: String,
    file: File,
    committed: bool,
    /// Dropped after `Drop::drop` has removed the temp file.
    created: CreatedDirs,
    /// A file of that name existed when the upload began.
    replaces: bool,
}

impl Upload {
    /// Appends body bytes to the temp file.
    ///
    /// # Errors
    /// 507 on a full disk, 500 on other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.file.write_all(data).map_err(StorageError::from)
    }

    /// Whether a file of the target's name existed when the upload began.
    pub fn replaces_existing(&self) -> bool {
        self.replaces
    }

    /// Replaces the (empty) temp file with the file `name` in `dir`: how a
    /// completed upload session becomes an upload ready to commit.
    fn adopt(&mut self, dir: &OwnedFd, name: &str) -> Result<(), StorageError> {
        rustix::fs::renameat(dir, name, &self.dir, self.temp.as_str())?;
        let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        self.file = File::from(rustix::fs::openat(
            &self.dir,
            self.temp.as_str(),
            flags,
            Mode::empty(),
        )?);
        Ok(())
    }

    /// Records the upload's CRC-32C with it and renames the temp file over
    /// the target: the upload becomes visible, in one step, to every later
    /// reader.
    ///
    /// # Errors
    /// 409 if the target became a directory meanwhile, 500 otherwise; the
    /// temp file is removed either way.
    pub fn commit(mut self, crc: u32) -> Result<(), StorageError> {
        checksum::record(&self.file, crc);
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        self.created.0.clear(); // they hold the file now: keep them
        Ok(())
    }

    /// As [`Upload::commit`], and on stable storage when it returns: the
    /// data is flushed before the rename, then the directory entry (and the
    /// entries of any directories this upload created) after it. Blocks
    /// for as long as the disk takes: call it off the reactor thread.
    ///
    /// # Errors
    /// As [`Upload::commit`], plus any error flushing (507, 500).
    pub fn commit_durably(mut self, crc: u32) -> Result<(), StorageError> {
        checksum::record(&self.file, crc);
        self.file.sync_all()?;
        rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.leaf.as_str())?;
        self.committed = true;
        rustix::fs::fsync(&self.dir)?;
        for (parent, _) in self.created.0.drain(..) {
            rustix::fs::fsync(&parent)?;
        }
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(errno) = rustix::fs::unlinkat(&self.dir, self.temp.as_str(), AtFlags::empty()) {
            log::error!("could not remove temp file {}: {errno}", self.temp);
        }
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
