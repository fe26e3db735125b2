//! One descriptor per stored file, however many transfers read it: a file
//! opened to be read is looked up by its identity (device and inode) among
//! those open already, and where one is, the new descriptor is closed and
//! the open one shared ([`SharedFiles::share`]).
//!
//! Why: a download holds its socket and its file. Ten thousand devices
//! fetching one firmware image held twenty thousand descriptors, past the
//! open-files limit that the connection cap leaves an eighth of for files,
//! and the last of them were refused (`503 server out of file
//! descriptors`). Shared, they hold one more than their sockets. nginx's
//! `open_file_cache` does the same.
//!
//! It is safe because every reader of a stored file reads by offset
//! (`pread`, `sendfile` with an offset): no one moves the shared file
//! position, and a reader that would must open its own descriptor. The
//! identity is checked on a descriptor opened through the jail, so a
//! shared one is the file a fresh open finds: on a local file system an
//! inode cannot be reused while a descriptor holds it. Where it can (NFS,
//! whose server may give a replaced file's number to the next; FUSE, whose
//! numbers may follow the path), the size, modification and change times
//! tell the files apart too: only a descriptor whose file looked the same
//! when it was opened is shared. Entries whose descriptor is closed (the
//! last reader done) are swept as the table grows, so it holds at most
//! about twice the files open at once.

use std::fs::File;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rustix::fs::Stat;

use super::file_info::nanos;
use super::inode_map::InodeMap;
use crate::model::{FileInfo, Stamp};

/// Entries below which the table is never swept.
const FIRST_SWEEP: usize = 64;

/// The stored files open for reading, by identity; see the module's header.
#[derive(Debug, Default)]
pub(super) struct SharedFiles {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    open: InodeMap<Shared>,
    /// Sweep closed entries once the table holds this many.
    sweep_at: usize,
}

/// A descriptor in the table, and how its file looked when opened.
#[derive(Debug)]
struct Shared {
    file: Weak<File>,
    looked: Looks,
}

/// Size and modification time, what else tells versions apart (as
/// conditional requests compare them), the change time and its
/// nanoseconds.
type Looks = (FileInfo, Stamp, i64, u32);

fn looks(stat: &Stat) -> Looks {
    (
        FileInfo::of(stat),
        Stamp::of(stat),
        stat.st_ctime,
        nanos(stat.st_ctime_nsec),
    )
}

impl SharedFiles {
    /// `file`, just opened and described by `stat`, as a descriptor
    /// shared with every reader of the same file: one open already
    /// (`file` is then closed), else `file` itself, now shared.
    pub(super) fn share(&self, file: File, stat: &Stat) -> Arc<File> {
        let (identity, looked) = ((stat.st_dev, stat.st_ino), looks(stat));
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let same = table
            .open
            .get(&identity)
            .filter(|open| open.looked == looked);
        if let Some(open) = same.and_then(|open| open.file.upgrade()) {
            drop(table);
            drop(file); // closed outside the lock
            return open;
        }
        // A file changed since (written in place) gets a descriptor of its
        // own; those reading the one before keep theirs.
        let file = Arc::new(file);
        let shared = Shared {
            file: Arc::downgrade(&file),
            looked,
        };
        table.open.insert(identity, shared);
        if table.open.len() >= table.sweep_at {
            table.open.retain(|_, open| open.file.strong_count() > 0);
            table.sweep_at = (table.open.len() * 2).max(FIRST_SWEEP);
        }
        file
    }

    /// How many files the table holds open now, for tests.
    #[cfg(test)]
    fn open_now(&self) -> usize {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .open
            .values()
            .filter(|open| open.file.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    use super::SharedFiles;

    fn opened(path: &std::path::Path) -> (std::fs::File, rustix::fs::Stat) {
        let file = std::fs::File::open(path).unwrap();
        let stat = rustix::fs::fstat(&file).unwrap();
        (file, stat)
    }

    #[test]
    fn one_file_opened_twice_is_one_descriptor_and_two_files_are_two() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::File::create(&a).unwrap().write_all(b"a").unwrap();
        std::fs::File::create(&b).unwrap().write_all(b"b").unwrap();
        let shared = SharedFiles::default();
        let (file, stat) = opened(&a);
        let first = shared.share(file, &stat);
        let (file, stat) = opened(&a);
        let again = shared.share(file, &stat);
        assert_eq!(first.as_raw_fd(), again.as_raw_fd());
        let (file, stat) = opened(&b);
        let other = shared.share(file, &stat);
        assert_ne!(first.as_raw_fd(), other.as_raw_fd());
        assert_eq!(shared.open_now(), 2);
        drop((first, again));
        assert_eq!(shared.open_now(), 1);
    }

    #[test]
    fn a_file_replaced_under_its_name_is_opened_anew() {
        let dir = tempfile::tempdir().unwrap();
        let (path, temp) = (dir.path().join("f"), dir.path().join("t"));
        std::fs::write(&path, b"old").unwrap();
        let shared = SharedFiles::default();
        let (file, stat) = opened(&path);
        let old = shared.share(file, &stat);
        std::fs::write(&temp, b"new").unwrap();
        std::fs::rename(&temp, &path).unwrap();
        let (file, stat) = opened(&path);
        let new = shared.share(file, &stat);
        assert_eq!(
            std::fs::read(format!("/proc/self/fd/{}", new.as_raw_fd())).unwrap(),
            b"new"
        );
        assert_eq!(
            std::fs::read(format!("/proc/self/fd/{}", old.as_raw_fd())).unwrap(),
            b"old"
        );
    }

    #[test]
    fn a_file_written_in_place_is_opened_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let shared = SharedFiles::default();
        let (file, stat) = opened(&path);
        let before = shared.share(file, &stat);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"two")
            .unwrap();
        let (file, stat) = opened(&path);
        let after = shared.share(file, &stat);
        assert_ne!(before.as_raw_fd(), after.as_raw_fd());
        let (file, stat) = opened(&path);
        assert_eq!(shared.share(file, &stat).as_raw_fd(), after.as_raw_fd());
    }

    #[test]
    fn closed_entries_are_swept_as_the_table_grows() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SharedFiles::default();
        for i in 0..1000 {
            let path = dir.path().join(i.to_string());
            std::fs::write(&path, b"x").unwrap();
            let (file, stat) = opened(&path);
            drop(shared.share(file, &stat));
        }
        let table = shared.table.lock().unwrap();
        assert!(
            table.open.len() <= super::FIRST_SWEEP,
            "{}",
            table.open.len()
        );
    }
}
