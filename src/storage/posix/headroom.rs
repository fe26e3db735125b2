//! The room a recent look at the root's file system left above the disk
//! reserve (`--min-free`), spent by the writes admitted against it: a
//! stream of small writes asks the file system (`fstatvfs`) about once a
//! second, not once each. The reserve's rule is `reserve.rs`'s; this
//! only remembers its last answer.
//!
//! Why a remembered answer is safe to admit against:
//! - Only half the room a look found is spent. The other half is left for
//!   what no count here sees: other processes on the same file system
//!   (another node spends half of its own look's room, so three or more
//!   writing at once can reach into the reserve within a second, as
//!   concurrent uploads that each fit already can: docs/reliability.md)
//!   and appends.
//! - A look is trusted for [`TRUSTED_FOR`] only. After it, or for a write
//!   larger than what is left, the file system is asked again.
//! - Near the reserve, the room left is small, so every write of any size
//!   asks, as before.
//! - What is freed (a delete) is never added: a look finds it.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a look's room may be spent.
pub(super) const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// The room left to admit writes against, and until when.
#[derive(Debug, Default)]
pub(super) struct Headroom(Mutex<Option<Room>>);

#[derive(Debug, Clone, Copy)]
struct Room {
    bytes: u64,
    until: Instant,
}

impl Headroom {
    /// Takes `size` bytes from the room a look left, at `now`: `false`
    /// where the look is too old or the room too small (then ask).
    pub(super) fn spend(&self, size: u64, now: Instant) -> bool {
        let mut room = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *room {
            Some(left) if now < left.until && size <= left.bytes => {
                left.bytes -= size;
                true
            }
            _ => false,
        }
    }

    /// Notes what a look at `now` found: `room` bytes above the reserve
    /// once the write it admitted is taken. Half of it is spent.
    pub(super) fn note(&self, room: u64, now: Instant) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *kept = Some(Room {
            bytes: room / 2,
            until: now + TRUSTED_FOR,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_a_looks_room_is_spent_within_its_time_and_none_after() {
        let headroom = Headroom::default();
        let now = Instant::now();
        assert!(!headroom.spend(0, now), "nothing looked at yet");
        headroom.note(1000, now);
        assert!(headroom.spend(300, now));
        assert!(headroom.spend(200, now));
        assert!(!headroom.spend(1, now), "half of 1000 spent");
        headroom.note(1000, now);
        assert!(!headroom.spend(501, now), "a write beyond the half asks");
        assert!(headroom.spend(500, now + TRUSTED_FOR / 2));
        headroom.note(1000, now);
        assert!(!headroom.spend(1, now + TRUSTED_FOR), "too old a look");
    }
}
