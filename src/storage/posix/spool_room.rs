//! The POSIX root's hold on the memory listings' answers may be held in
//! (`storage/spool_room.rs`): its size set from the configuration, a
//! listing's part of it, what is held now.

use std::sync::atomic::Ordering;

use super::{Room, Storage};

impl Storage {
    /// Sets the room listings' answers may be held in, server-wide
    /// (`Config::listing_memory`; 0: none, every listing goes to its file).
    pub fn set_listing_memory(&self, bytes: usize) {
        self.spool_room.cap.store(bytes, Ordering::Relaxed);
    }

    /// An empty part of the room, for one listing to grow.
    pub(super) fn spool_room(&self) -> Room {
        self.spool_room.part()
    }

    /// Bytes of the room held now (the tests read it).
    pub fn spool_room_taken(&self) -> usize {
        self.spool_room.taken.load(Ordering::Acquire)
    }
}
