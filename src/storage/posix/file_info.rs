//! A stored file's facts as one `fstat` tells them ([`FileInfo`] and
//! [`Stamp`], `crate::model`'s values, made from a `stat` here); and what a
//! stored file is given: its mode, and the times that set its
//! modification time alone.
//!
//! Plain values: nothing here opens, reads or writes a file.

use rustix::fs::{Mode, Stat};

use crate::model::{FileInfo, Stamp};

impl FileInfo {
    pub(super) fn of(stat: &Stat) -> FileInfo {
        FileInfo {
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: stat.st_mtime,
        }
    }
}

/// Nanoseconds of a `stat` time, whatever integer the target gives them
/// (`i64` on 64-bit Linux, `u32` on 32-bit ARM); 0 if out of range.
pub(super) fn nanos(nsec: impl TryInto<u32>) -> u32 {
    nsec.try_into().unwrap_or(0)
}

impl Stamp {
    pub(super) fn of(stat: &Stat) -> Stamp {
        Stamp {
            inode: stat.st_ino,
            nanos: nanos(stat.st_mtime_nsec),
        }
    }
}

/// The times that set a file's modification time to `seconds` (Unix)
/// and leave its access time as it is.
pub(super) fn mtime_only(seconds: i64) -> rustix::fs::Timestamps {
    rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    }
}

/// Permissions of a stored file, as the umask leaves them: uploads and
/// committed sessions alike, so how a file arrived does not show.
pub(super) fn stored_file_mode() -> Mode {
    Mode::from_raw_mode(0o644)
}
