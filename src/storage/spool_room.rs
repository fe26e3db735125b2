//! The memory listings' answers may be held in, server-wide: a listing
//! takes room as its answer grows (`serve/spool.rs`) and gives it back
//! once the answer has been sent, or is dropped with its connection. What
//! does not fit goes to the listing's spool file (the POSIX root's
//! `Storage::listing_spool`), as every listing did before: the room
//! bounds memory, it never refuses a listing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The room by default: 64 MiB for the whole server.
pub const DEFAULT_LISTING_MEMORY: usize = 64 * 1024 * 1024;

/// What one listing may hold of the room: an eighth, so that a few
/// clients' large answers cannot take it all from everyone else's small
/// ones (those spill to their files, as any larger listing does).
const SHARE: usize = 8;

/// Buffers kept for the next listings once their answers are sent: their
/// pages stay mapped, where a fresh buffer costs a page fault per 4 KiB
/// written and the allocator's `madvise` when it is freed (10 % and 2 %
/// of a 2.3 MB PROPFIND's CPU).
const SPARES: usize = 2;

/// The server-wide room and what of it is taken.
#[derive(Debug)]
pub struct SpoolRoom {
    pub(super) cap: AtomicUsize,
    /// Bytes taken: listings' buffers and the spares.
    pub(super) taken: AtomicUsize,
    /// Empty buffers kept for the next listings, within `taken`.
    spares: Mutex<Vec<Vec<u8>>>,
}

impl SpoolRoom {
    pub(super) fn new(cap: usize) -> SpoolRoom {
        SpoolRoom {
            cap: AtomicUsize::new(cap),
            taken: AtomicUsize::new(0),
            spares: Mutex::default(),
        }
    }

    /// An empty part of it, for one listing to grow.
    pub(super) fn part(self: &Arc<Self>) -> Room {
        Room {
            of: Arc::clone(self),
            taken: 0,
        }
    }

    /// Takes `n` bytes if they fit under the cap.
    fn take(&self, n: usize) -> bool {
        let cap = self.cap.load(Ordering::Relaxed);
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(n).filter(|&sum| sum <= cap)
            })
            .is_ok()
    }
}

/// One listing's part of the room, given back when dropped.
#[derive(Debug)]
pub struct Room {
    of: Arc<SpoolRoom>,
    taken: usize,
}

impl Room {
    /// Bytes it holds.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// The most one listing may hold.
    pub fn share(&self) -> usize {
        self.of.cap.load(Ordering::Relaxed) / SHARE
    }

    /// Grows it to `to` bytes (within [`Room::share`]); `false`, and
    /// nothing taken, where the share or the server's room has not that
    /// much left.
    pub fn grow_to(&mut self, to: usize) -> bool {
        if to <= self.taken {
            return true;
        }
        if to > self.share() || !self.of.take(to - self.taken) {
            return false;
        }
        self.taken = to;
        true
    }

    /// A spare buffer to start with (empty: none was kept), whose
    /// capacity it then holds.
    pub fn take_spare(&mut self) -> Vec<u8> {
        let spare = match self.of.spares.lock() {
            Ok(mut spares) => spares.pop(),
            Err(_) => None,
        };
        let spare = spare.unwrap_or_default();
        self.taken += spare.capacity();
        spare
    }

    /// Keeps `buffer`, whose capacity it holds, for the next listing if
    /// few are kept and it is no larger than a listing's share; what it
    /// holds beyond is given back when it is dropped.
    pub fn keep_spare(&mut self, mut buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if capacity == 0 || capacity > self.share() || capacity > self.taken {
            return;
        }
        let Ok(mut spares) = self.of.spares.lock() else {
            return;
        };
        if spares.len() < SPARES {
            buffer.clear();
            spares.push(buffer);
            self.taken -= capacity;
        }
    }

    /// Gives back all it holds.
    pub fn give_back(&mut self) {
        self.of.taken.fetch_sub(self.taken, Ordering::AcqRel);
        self.taken = 0;
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl Default for SpoolRoom {
    fn default() -> SpoolRoom {
        SpoolRoom::new(DEFAULT_LISTING_MEMORY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_is_shared_and_given_back() {
        let room = Arc::new(SpoolRoom::new(800));
        let part = || Room {
            of: Arc::clone(&room),
            taken: 0,
        };
        let mut a = part();
        assert!(a.grow_to(100));
        // Past its share (an eighth), whatever is left.
        assert!(!a.grow_to(101));
        assert_eq!(a.taken(), 100);
        let mut others: Vec<Room> = (0..7).map(|_| part()).collect();
        assert!(others.iter_mut().all(|room| room.grow_to(100)));
        // The server's room is all taken.
        let mut last = part();
        assert!(!last.grow_to(1));
        drop(a);
        assert!(last.grow_to(100));
        drop(others);
        drop(last);
        assert_eq!(room.taken.load(Ordering::Acquire), 0);
        // A buffer kept stays counted until a listing takes it again.
        let mut a = part();
        assert!(a.grow_to(64));
        a.keep_spare(Vec::with_capacity(64));
        drop(a);
        assert_eq!(room.taken.load(Ordering::Acquire), 64);
        let mut b = part();
        assert_eq!(b.take_spare().capacity(), 64);
        assert_eq!(b.taken(), 64);
        drop(b);
        assert_eq!(room.taken.load(Ordering::Acquire), 0);
    }
}
