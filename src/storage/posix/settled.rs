//! A folder's change time as the witness of its entries: any name made,
//! removed or renamed in it sets the time to the moment of the change.
//! Two users, one rule: the WebDAV lock table (`dav_locks.rs`) trusts its
//! copy while its folder's time is unchanged, and a durable commit
//! ([`SettledDirs`]) skips the flush of a folder above its target whose
//! entries a flush has already made durable and which has not changed
//! since.
//!
//! The time is trusted only once it is [`SETTLED`]: the kernel stamps a
//! change with a coarse clock, so a second change within the same tick
//! could carry the same time as the first; one that is a second old
//! cannot be matched by a change made after it was read.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};

use rustix::fs::Stat;
use rustix::io::Errno;

/// How long ago a change time must be for a later change to be sure to
/// carry another (nanoseconds).
pub(super) const SETTLED: i128 = 1_000_000_000;

/// Folders [`SettledDirs`] remembers at most; past it, it starts afresh
/// (each folder then costs one flush more).
const MAX_KNOWN: usize = 4096;

/// A change time: Unix seconds and nanoseconds past them.
pub(super) type Changed = (i64, i64);

/// The change time of `dir`.
///
/// # Errors
/// `fstat` failed.
pub(super) fn changed_at(dir: impl AsFd) -> Result<Changed, Errno> {
    Ok(change_of(&rustix::fs::fstat(dir)?))
}

fn change_of(stat: &Stat) -> Changed {
    (
        stat.st_ctime,
        i64::from(super::file_info::nanos(stat.st_ctime_nsec)),
    )
}

/// The system's time, as a change time.
pub(super) fn system_now() -> Changed {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    #[cfg(test)]
    let secs = secs.saturating_add(AHEAD.with(std::cell::Cell::get));
    (secs, i64::from(since.subsec_nanos()))
}

#[cfg(test)]
thread_local! {
    /// A test's clock, this many seconds ahead of the system's: folders
    /// changed a moment ago are then settled without waiting a second.
    pub(super) static AHEAD: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Whether `changed`, read at `now`, is [`SETTLED`].
pub(super) fn is_settled(changed: Changed, now: Changed) -> bool {
    let nanos = |(secs, nanos): Changed| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    nanos(changed) + SETTLED < nanos(now)
}

/// A folder as a commit saw it before flushing it: its identity and its
/// change time, which was settled then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    key: (u64, u64),
    changed: Changed,
}

impl Seen {
    /// `dir` as it is now; `None` where it cannot be read, or changed too
    /// recently to be told apart from a change to come.
    pub(super) fn of(dir: impl AsFd, now: Changed) -> Option<Seen> {
        let stat = rustix::fs::fstat(dir).ok()?;
        let changed = change_of(&stat);
        is_settled(changed, now).then_some(Seen {
            key: (stat.st_dev, stat.st_ino),
            changed,
        })
    }
}

/// Folders whose entries a durable commit flushed, each with the change
/// time it had before that flush, which was settled. A folder that still
/// has that time has had no name made, removed or renamed in it since: its
/// entries are durable, and a commit below it need not flush it again
/// (`durable_commit.rs`: a commit flushes its file, its folder and, of the
/// folders above, those not known here). Only where the kernel itself
/// keeps the times (`Storage::open`: ext4, XFS, btrfs, f2fs), never
/// through FUSE or NFS, whose attributes may be cached or another host's.
#[derive(Debug, Default)]
pub struct SettledDirs {
    known: Mutex<HashMap<(u64, u64), Changed>>,
}

impl SettledDirs {
    /// Whether `seen` is a folder flushed at this change time.
    pub(super) fn unchanged(&self, seen: Seen) -> bool {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(&seen.key) == Some(&seen.changed)
    }

    /// Remembers folders seen before a flush that has now succeeded.
    pub(super) fn flushed(&self, seen: &[Seen]) {
        if seen.is_empty() {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() + seen.len() > MAX_KNOWN {
            known.clear();
        }
        for folder in seen {
            known.insert(folder.key, folder.changed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_settled_a_second_after_it() {
        let at = (1_795_000_000, 500_000_000);
        assert!(!is_settled(at, at));
        assert!(!is_settled(at, (1_795_000_001, 500_000_000)));
        assert!(is_settled(at, (1_795_000_001, 500_000_001)));
    }

    /// A folder flushed is known while its time stays, and not once it
    /// has another (a name made in it since).
    #[test]
    fn a_folder_is_known_while_its_time_stays() {
        let dir = tempfile::tempdir().unwrap();
        let folder = std::fs::File::open(dir.path()).unwrap();
        let later = |(secs, nanos): Changed| (secs + 2, nanos);
        let changed = changed_at(&folder).unwrap();
        assert_eq!(Seen::of(&folder, changed), None, "changed just now");
        let seen = Seen::of(&folder, later(changed)).expect("settled, two seconds on");
        let settled = SettledDirs::default();
        assert!(!settled.unchanged(seen), "never flushed");
        settled.flushed(&[seen]);
        assert!(settled.unchanged(Seen::of(&folder, later(changed)).unwrap()));
        let touched = Seen {
            changed: (changed.0, changed.1 + 1),
            ..seen
        };
        assert!(!settled.unchanged(touched));
        let other = Seen {
            key: (seen.key.0, seen.key.1 + 1),
            ..seen
        };
        assert!(!settled.unchanged(other), "another folder");
    }
}
