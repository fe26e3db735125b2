//! The disk reserve (`--min-free`), the one home of its rule: no write
//! lands that would leave the root's file system with less than the
//! reserve free, so logs, the system and crash recovery keep their room.
//! A delete needs no room and is never refused for it. With no reserve
//! (`--min-free 0`) nothing is asked: a full disk is then the file
//! system's `ENOSPC`, answered as every storage failure.
//!
//! Judged before a write's bytes are taken where its size is known
//! (`serve/room.rs` asks [`Storage::take_room`]), and write by write where
//! it is not: an upload of a length to come (a chunked PUT, FTP's `STOR`,
//! `ferry put -`, a resumed `STOR`) takes room for each buffer before it
//! writes it ([`ReserveAsWritten`]), and is refused the moment one does
//! not fit, its temp file gone. Before, such an upload was judged for
//! nothing at its begin and then wrote into the reserve (issue 75).
//!
//! A write that fits in half the room a look less than a second ago
//! found is admitted without asking the file system again
//! (`headroom.rs`), so a stream of buffers asks about once a second.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use super::headroom::Headroom;
use super::{Storage, StorageError, space_of};

/// The reserve no write may eat into (`--min-free`): a write that would
/// leave the root's file system with less free is refused (507) before
/// its bytes are taken, so the disk never fills to the brim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinFree {
    /// The default: 1 % of the file system's size, at most 1 GiB (a
    /// 32 GB card keeps 320 MB; a large disk, 1 GiB).
    #[default]
    Default,
    /// This many bytes (`--min-free 2G`; 0 turns the reserve off).
    Bytes(u64),
    /// This share of the file system's size, in percent (`--min-free 5%`).
    Percent(u8),
}

/// The most the default reserve keeps: 1 GiB.
pub const DEFAULT_MIN_FREE_CAP: u64 = 1 << 30;

impl MinFree {
    /// Whether there is no reserve (`--min-free 0`): writes are not
    /// judged for room at all, and a full disk is the file system's.
    pub fn is_off(self) -> bool {
        matches!(self, MinFree::Bytes(0) | MinFree::Percent(0))
    }

    /// The reserve in bytes on a file system of `size` bytes.
    pub fn bytes(self, size: u64) -> u64 {
        match self {
            MinFree::Default => (size / 100).min(DEFAULT_MIN_FREE_CAP),
            MinFree::Bytes(bytes) => bytes,
            MinFree::Percent(percent) => size / 100 * u64::from(percent),
        }
    }
}

/// The reserve of one root, and the room its last look found.
#[derive(Debug)]
pub(super) struct Reserve {
    min_free: MinFree,
    root: Arc<OwnedFd>,
    headroom: Headroom,
}

/// A write refused for the reserve: its size, and the reserve's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom {
    /// The bytes the write would have added.
    pub size: u64,
    /// The reserve, in bytes, on this file system.
    pub reserve: u64,
}

impl fmt::Display for NoRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no room: {} more bytes would leave less than the {}-byte reserve free (--min-free)",
            self.size, self.reserve
        )
    }
}

impl Reserve {
    /// The reserve `min_free` of the file system of `root`.
    pub(super) fn new(min_free: MinFree, root: Arc<OwnedFd>) -> Reserve {
        Reserve {
            min_free,
            root,
            headroom: Headroom::default(),
        }
    }

    /// Takes room for `size` more bytes (see the module's header).
    ///
    /// # Errors
    /// [`StorageError::NoRoom`] where they do not fit above the reserve;
    /// the file system could not be asked.
    pub(super) fn take(&self, size: u64) -> Result<(), StorageError> {
        let now = Instant::now();
        if self.min_free.is_off() || self.headroom.spend(size, now) {
            return Ok(());
        }
        let space = space_of(&self.root)?;
        let reserve = self.min_free.bytes(space.size);
        if !fits_above(space.available, reserve, size) {
            return Err(StorageError::NoRoom(NoRoom { size, reserve }));
        }
        let room = space.available.saturating_sub(reserve.saturating_add(size));
        self.headroom.note(room, now);
        Ok(())
    }

    /// Whether no reserve is kept (`--min-free 0`): nothing to take.
    pub(super) fn is_off(&self) -> bool {
        self.min_free.is_off()
    }
}

/// Whether `size` more bytes leave `reserve` of `available` free.
fn fits_above(available: u64, reserve: u64, size: u64) -> bool {
    available
        .checked_sub(size)
        .is_some_and(|left| left >= reserve)
}

/// An upload of a length to come, taking room for each write before it
/// makes it; nothing where there is no reserve.
#[derive(Debug, Clone, Default)]
pub struct ReserveAsWritten(Option<Arc<Reserve>>);

impl ReserveAsWritten {
    /// Room for the `size` bytes about to be written.
    ///
    /// # Errors
    /// As [`Reserve::take`].
    pub(super) fn take(&self, size: usize) -> Result<(), StorageError> {
        match &self.0 {
            Some(reserve) => reserve.take(size as u64),
            None => Ok(()),
        }
    }
}

impl Storage {
    /// Keeps `min_free` free on the root's file system from now on (the
    /// default: [`MinFree::Default`]).
    pub fn keep_reserve(&mut self, min_free: MinFree) {
        self.reserve = Arc::new(Reserve::new(min_free, Arc::clone(&self.root)));
    }

    /// Takes room for a write of `size` bytes whose size is known, before
    /// its bytes are taken (see the module's header).
    ///
    /// # Errors
    /// [`StorageError::NoRoom`] where it does not fit above the reserve;
    /// the file system could not be asked (a storage failure).
    pub(super) fn take_room(&self, size: u64) -> Result<(), StorageError> {
        self.reserve.take(size)
    }

    /// What an upload of a length to come takes its room from, write by
    /// write.
    pub fn reserve_as_written(&self) -> ReserveAsWritten {
        ReserveAsWritten((!self.reserve.is_off()).then(|| Arc::clone(&self.reserve)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_fits_only_above_the_reserve() {
        assert!(fits_above(100, 40, 60));
        assert!(!fits_above(100, 40, 61));
        assert!(fits_above(100, 0, 100));
        assert!(!fits_above(100, 0, 101));
        // Below the reserve already: not even an empty write.
        assert!(!fits_above(30, 40, 0));
        assert!(!fits_above(0, 0, u64::MAX));
    }
}
