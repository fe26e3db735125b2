//! Files known to have no dead-property record, told on the loop without
//! waiting: so that S3's GetObject and HeadObject of an object without
//! metadata (most of them) skip the pool's read of a record that is not
//! there, as an HTTP GET does.
//!
//! A record is `.ferry-dav/props/<folder>/.ferry-files/<leaf>`
//! (`dead_props.rs`). When the pool finds a file's record missing, it
//! notes the deepest folder on that path that exists, the first name
//! beneath it that does not, and the folder's stamp (device, inode,
//! modification and change times). Later, the loop opens that folder from
//! the kernel's lookup cache (`RESOLVE_CACHED`: it fails rather than wait)
//! and compares its stamp: unchanged, the missing name is still missing,
//! because making it (a record written by PROPPATCH, PutObject or
//! CopyObject with metadata, by this process or another on the same root;
//! a folder's mirror renamed into place) changes that folder's times.
//!
//! Why this is right on a shared root:
//! - Several nodes or workers on one host share the kernel's view of a
//!   local file system, so a change by any of them moves the stamp.
//! - On file systems where each call is a round trip (NFS, FUSE: several
//!   hosts on one root, docs/scaling.md), a stamp may come from an
//!   attribute cache: nothing is noted there, every read goes to the pool
//!   as before.
//! - Where `openat2` is refused (a kernel before 5.6, a seccomp filter,
//!   valgrind 3.19, which answers `ENOSYS`), no folder can be opened
//!   without maybe waiting: the check says no, and every read goes to the
//!   pool (where the record is read segment by segment, `open_beneath`),
//!   as an HTTP GET's open does there.
//! - Times are coarse (a clock tick): a name made in the same tick as the
//!   stamp was read could leave it unchanged. A stamp is noted only when
//!   both its times are at least [`SETTLED`] older than the moment before
//!   it was read, so any later change carries a later time ("racy git").

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{Mode, OFlags, ResolveFlags, Stat};

use super::{BENEATH, Storage};

/// How much older than the moment it is read a folder's times must be for
/// its stamp to be trusted: far more than a clock tick.
pub(super) const SETTLED: Duration = Duration::from_secs(1);
/// The most files noted; past it the notes start over (a burst of
/// distinct names costs pool reads, never memory).
const MAX_NOTED: usize = 4096;

/// What identifies one state of a folder's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStamp {
    dev: u64,
    inode: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl DirStamp {
    fn of(stat: &Stat) -> DirStamp {
        DirStamp {
            dev: stat.st_dev,
            inode: stat.st_ino,
            modified: (stat.st_mtime, stat.st_mtime_nsec as i64),
            changed: (stat.st_ctime, stat.st_ctime_nsec as i64),
        }
    }

    /// Whether both times are at least [`SETTLED`] before `before`.
    fn settled(&self, before: SystemTime) -> bool {
        let Ok(since_epoch) = before.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let limit = since_epoch.saturating_sub(SETTLED);
        let limit = (limit.as_secs() as i64, i64::from(limit.subsec_nanos()));
        self.modified <= limit && self.changed <= limit
    }
}

/// Where a file's record is missing: a folder (from the root, "" for the
/// root) as it was stamped when a name beneath it was missing.
#[derive(Debug, Clone)]
struct Absence {
    /// Shared: a check clones it out of the notes, which it does not
    /// hold locked over its system calls, without an allocation.
    folder: Arc<str>,
    stamp: DirStamp,
}

/// The notes, by file name; shared by the reactors and the pool.
#[derive(Debug, Default)]
pub(super) struct Absences(Mutex<HashMap<String, Absence>>);

impl Storage {
    /// Whether file `name` certainly has no dead-property record, known
    /// without waiting on the disk: `false` when it may have one, or when
    /// nothing noted tells (the pool's read says, then notes it).
    pub(super) fn surely_unrecorded(&self, name: &str) -> bool {
        let noted = {
            let notes = self
                .unrecorded
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            notes.get(name).cloned()
        };
        let Some(Absence { folder, stamp }) = noted else {
            return false;
        };
        let stat = match &*folder {
            "" => rustix::fs::fstat(&*self.root),
            path => {
                let flags = BENEATH.union(ResolveFlags::CACHED);
                let dir = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                match rustix::fs::openat2(&*self.root, path, dir, Mode::empty(), flags) {
                    Ok(fd) => rustix::fs::fstat(&fd),
                    Err(_) => return false,
                }
            }
        };
        stat.is_ok_and(|stat| DirStamp::of(&stat) == stamp)
    }

    /// Notes that file `name` has no record, if that is so and its
    /// folder's stamp can be trusted (see the module's header). Blocks:
    /// for the pool, after a read found no record.
    pub(super) fn note_unrecorded(&self, name: &str) {
        if self.round_trips {
            return;
        }
        let (dir, leaf) = name.rsplit_once('/').unwrap_or(("", name));
        let mut path: Vec<&str> = super::PROPS_DIR.split('/').collect();
        path.extend(dir.split('/').filter(|s| !s.is_empty()));
        path.extend([super::dead_props::FILES, leaf]);
        let before = SystemTime::now();
        if let Some(absence) = self.absence(&path, before) {
            let mut notes = self
                .unrecorded
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if notes.len() >= MAX_NOTED {
                notes.clear();
            }
            notes.insert(name.to_owned(), absence);
        }
    }

    /// The deepest folder on `path` (segments from the root) that exists,
    /// stamped before its next segment was found missing; none if the
    /// whole path exists, a step fails otherwise, or the stamp is not
    /// settled by `before`.
    fn absence(&self, path: &[&str], before: SystemTime) -> Option<Absence> {
        let mut folder: Option<OwnedFd> = None;
        for (at, segment) in path.iter().enumerate() {
            let base = folder.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
            let stat = rustix::fs::fstat(base).ok()?;
            let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(base, *segment, flags, Mode::empty()) {
                Ok(fd) => folder = Some(fd),
                Err(rustix::io::Errno::NOENT) => {
                    let stamp = DirStamp::of(&stat);
                    return stamp.settled(before).then(|| Absence {
                        folder: path[..at].join("/").into(),
                        stamp,
                    });
                }
                Err(_) => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeadProperty, Holder};
    use crate::storage::posix::no_openat2::openat2_or_skip;

    fn storage() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/f"), b"x").unwrap();
        let storage = Storage::open(dir.path(), "n1", false).unwrap();
        (dir, storage)
    }

    fn prop() -> DeadProperty {
        DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: "1".into(),
        }
    }

    #[test]
    fn nothing_noted_tells_nothing() {
        let (_dir, storage) = storage();
        assert!(!storage.surely_unrecorded("b/f"));
    }

    /// The ctime cannot be set back: a folder changed a moment ago is not
    /// trusted, so nothing is noted.
    #[test]
    fn a_folder_changed_just_now_is_not_trusted() {
        let (_dir, storage) = storage();
        storage.note_unrecorded("b/f");
        assert!(!storage.surely_unrecorded("b/f"));
    }

    /// Notes `absence` for `name` as the pool would once its folder's
    /// times are settled (the tests give the check a later moment).
    fn note_settled(storage: &Storage, name: &str, absence: Absence) {
        storage
            .unrecorded
            .0
            .lock()
            .unwrap()
            .insert(name.into(), absence);
    }

    /// A stamp noted as settled (the check is given a moment well after
    /// the folder's times) holds until a record is written, by this
    /// storage or another on the root, and is gone with it.
    #[test]
    fn a_record_written_anywhere_ends_the_note() {
        if !openat2_or_skip("a_record_written_anywhere_ends_the_note") {
            return;
        }
        let (dir, storage) = storage();
        let later = SystemTime::now() + Duration::from_secs(5);
        let path = [".ferry-dav", "props", "b", ".ferry-files", "f"];
        let absence = storage.absence(&path, later).unwrap();
        // The root or `.ferry-dav` (made at the start, for locks).
        assert!(
            ".ferry-dav/props".starts_with(&*absence.folder),
            "{absence:?}"
        );
        note_settled(&storage, "b/f", absence);
        assert!(storage.surely_unrecorded("b/f"));
        // Another node on the root writes the record.
        let other = Storage::open(dir.path(), "n2", false).unwrap();
        let inode = std::fs::metadata(dir.path().join("b/f")).map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        });
        other
            .write_dead_properties(Holder::File("b/f"), inode.unwrap(), &[prop()])
            .unwrap();
        assert!(!storage.surely_unrecorded("b/f"));
        // With the record there, nothing is noted.
        assert!(storage.absence(&path, later).is_none());
    }

    /// A sibling's record makes the mirror: the file's own absence is
    /// noted in its `.ferry-files`, and ends when its record comes.
    #[test]
    fn a_siblings_record_leaves_the_file_unrecorded() {
        if !openat2_or_skip("a_siblings_record_leaves_the_file_unrecorded") {
            return;
        }
        let (dir, storage) = storage();
        std::fs::write(dir.path().join("b/g"), b"y").unwrap();
        storage
            .write_dead_properties(Holder::File("b/g"), 1, &[prop()])
            .unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        let path = [".ferry-dav", "props", "b", ".ferry-files", "f"];
        let absence = storage.absence(&path, later).unwrap();
        assert_eq!(&*absence.folder, ".ferry-dav/props/b/.ferry-files");
        note_settled(&storage, "b/f", absence);
        assert!(storage.surely_unrecorded("b/f"));
        storage
            .write_dead_properties(Holder::File("b/f"), 2, &[prop()])
            .unwrap();
        assert!(!storage.surely_unrecorded("b/f"));
    }
}
