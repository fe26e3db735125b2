//! The jail's lookups: every path beneath the root opened from the held
//! root descriptor, in one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! where the kernel allows it, else one segment at a time with
//! `O_NOFOLLOW`; the walks to a name's folder (made on the way where asked)
//! and the second look a network file system needs.
//!
//! Every other file here opens through these. They must never follow a
//! symlink, resolve a path from anywhere but the root's descriptor, or let
//! `..` out: a name that reaches them is already checked ([`Name`]), and
//! they still refuse what would leave the root.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

use super::{Storage, StorageError};
use crate::name::Name;

/// Flags for opening a directory: never through a symlink. Readable (not
/// `O_PATH`) so that the same descriptor can be listed and fsynced.
pub(super) const DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Flags for opening a file to read: never through a symlink, NONBLOCK so
/// that a FIFO planted in the root cannot hang the server, NOCTTY so that a
/// terminal device left there never becomes our controlling terminal
/// (special files are refused after the `fstat` that tells them apart).
pub(super) const READ_FILE: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// Opens directory `path` (not empty) beneath `root` without following any
/// symlink: one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the
/// kernel has it and allows it, else segment by segment with `O_NOFOLLOW`,
/// which also gives the precise error.
pub(super) fn open_dir_beneath(root: &OwnedFd, path: &str) -> Result<OwnedFd, StorageError> {
    open_dir_at(root, path).map_err(|errno| match errno {
        Errno::NOENT | Errno::NOTDIR => StorageError::NotFound,
        errno => errno.into(),
    })
}

/// [`open_dir_beneath`] with the system's error.
pub(super) fn open_dir_at(root: &OwnedFd, path: &str) -> Result<OwnedFd, Errno> {
    open_beneath(root, path, DIR)
}

/// Directory `path` beneath `root` ("" for the root itself, a new
/// descriptor of it).
pub(super) fn dir_at(root: &OwnedFd, path: &str) -> Result<OwnedFd, Errno> {
    match path {
        "" => rustix::io::fcntl_dupfd_cloexec(root, 0),
        path => open_dir_at(root, path),
    }
}

/// The folder `name` is in, from the root ("" for the root).
pub(super) fn dir_of(name: &Name) -> &str {
    name.as_str().rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Opens `path` beneath `root` in one call, refusing any symlink on the way
/// and any escape from `root`. Where `openat2` is refused (a kernel before
/// 5.6 or a seccomp filter answers `ENOSYS` or `EPERM`, and so does
/// valgrind), or refuses this path (a symlink on the way), the path is
/// opened one segment at a time with `O_NOFOLLOW`, which refuses the same
/// and gives the precise error: every caller, a dead-property record's
/// read too, finds what is there whatever the kernel.
pub(super) fn open_beneath(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    match rustix::fs::openat2(root, path, flags, Mode::empty(), BENEATH) {
        Err(errno) if !matches!(errno, Errno::NOENT | Errno::NOTDIR) => {
            open_by_segments(root, path, flags)
        }
        opened => opened,
    }
}

/// [`open_beneath`] without `openat2`: each folder on the way opened
/// with `O_NOFOLLOW`, then the last segment with `flags` and `O_NOFOLLOW`.
fn open_by_segments(root: &OwnedFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    // `O_PATH | O_NOFOLLOW` would open a symlink itself: no caller asks.
    debug_assert!(!flags.contains(OFlags::PATH), "{path}");
    let (dirs, leaf) = path.rsplit_once('/').unwrap_or(("", path));
    let mut folder: Option<OwnedFd> = None;
    for segment in dirs.split('/').filter(|s| !s.is_empty()) {
        folder = Some(open_segment(folder.as_ref().unwrap_or(root), segment, DIR)?);
    }
    let flags = flags.union(OFlags::NOFOLLOW);
    open_segment(folder.as_ref().unwrap_or(root), leaf, flags)
}

fn open_segment(parent: &OwnedFd, segment: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    if segment == ".." {
        // Names have none; `RESOLVE_BENEATH` refuses an escape so.
        return Err(Errno::XDEV);
    }
    rustix::fs::openat(parent, segment, flags, Mode::empty())
}

/// Path resolution that stays beneath the root and follows no symlink.
pub(super) const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

pub(super) fn check_regular(stat: &Stat) -> Result<(), StorageError> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(()),
        FileType::Directory => Err(StorageError::IsDirectory),
        FileType::Symlink => Err(StorageError::Symlink),
        _ => Err(StorageError::NotFound),
    }
}

/// Whether `leaf` of `dir` is a file an upload may replace (`false`:
/// nothing has the name). The one home of what an upload may replace.
///
/// # Errors
/// 409 for a directory or special file, 403 for a symlink; what `statat`
/// fails with.
pub(super) fn looks_replaceable(dir: impl AsFd, leaf: &str) -> Result<bool, StorageError> {
    match rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => check_regular(&stat)
            .map(|()| true)
            .map_err(|err| match err {
                StorageError::NotFound => StorageError::NotRegular,
                other => other,
            }),
        Err(Errno::NOENT) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

impl Storage {
    /// Opens the directories of a name for reading; `None` is the root.
    ///
    /// One `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` resolves the
    /// whole path in the kernel without ever following a symlink. Where it
    /// refuses (a symlink on the way, or a kernel without `openat2`), the
    /// segment-by-segment walk decides and gives the precise error.
    pub(super) fn walk<'a>(
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
        Ok(Some(open_dir_beneath(&self.root, &path)?))
    }

    /// As [`Storage::walk`], creating missing directories but the first
    /// `kept` (S3's bucket: only CreateBucket makes one); also returns
    /// how many leading segments were there already (not made by this
    /// call: the floor below which its undoing prunes nothing).
    ///
    /// # Errors
    /// [`StorageError::NoBucket`] for a missing one of the first `kept`;
    /// as [`Storage::walk`].
    pub(super) fn walk_creating<'a>(
        &self,
        dirs: impl Iterator<Item = &'a str>,
        kept: usize,
    ) -> Result<(Option<OwnedFd>, usize), StorageError> {
        walk_creating(&self.root, dirs, kept)
    }

    pub(super) fn fd<'a>(&'a self, dir: &'a Option<OwnedFd>) -> BorrowedFd<'a> {
        dir.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd())
    }

    /// Runs a lookup again if it found nothing, on a network or FUSE file
    /// system only: there another node's upload may have just renamed a new
    /// version over the name, and the file system can answer `ENOENT` or
    /// `ESTALE` in that instant for a name that is never absent. On a local
    /// file system a rename is atomic, so a miss is final and costs one
    /// lookup. A second miss is a 404.
    pub(super) fn once_more_if_gone<T>(
        &self,
        mut lookup: impl FnMut() -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        match lookup() {
            Err(StorageError::NotFound) if self.round_trips => lookup(),
            found => found,
        }
    }
}

/// [`Storage::walk_creating`] from `root`: for an upload whose folder
/// must be walked to again (`upload_landing.rs`), which holds the root
/// but not the storage.
pub(super) fn walk_creating<'a>(
    root: &OwnedFd,
    dirs: impl Iterator<Item = &'a str>,
    kept: usize,
) -> Result<(Option<OwnedFd>, usize), StorageError> {
    let not_a_dir = |errno| match errno {
        Errno::NOTDIR => StorageError::ParentNotDirectory,
        other => other.into(),
    };
    let mut current: Option<OwnedFd> = None;
    let (mut found, mut making) = (0, false);
    for (at, segment) in dirs.enumerate() {
        let parent = current.as_ref().map_or(root.as_fd(), |fd| fd.as_fd());
        let next = match rustix::fs::openat(parent, segment, DIR, Mode::empty()) {
            Err(Errno::NOENT) if at < kept => return Err(StorageError::NoBucket),
            Err(Errno::NOENT) => {
                match rustix::fs::mkdirat(parent, segment, Mode::from_raw_mode(0o755)) {
                    Ok(()) => making = true,
                    // Made by another request meanwhile: not ours.
                    Err(Errno::EXIST) => {}
                    Err(errno) => return Err(errno.into()),
                }
                rustix::fs::openat(parent, segment, DIR, Mode::empty()).map_err(not_a_dir)?
            }
            other => other.map_err(not_a_dir)?,
        };
        if !making {
            found += 1;
        }
        current = Some(next);
    }
    Ok((current, found))
}
