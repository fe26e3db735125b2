//! How crowded a turn of the loop is: whether the connection about to be
//! driven is the only one the loop serves now. Only then may a big
//! `sendfile` run corked (`wire/socket.rs`, issue 76).
//!
//! Why the loop asks: corked, a `sendfile` leaves full segments and its
//! tail at the uncork, and the sender's own call does the transmit work
//! (over loopback, the reader's receive work too) that the reader's ACKs
//! would have done. One stream on a loop with CPU to spare gains by it
//! (a 1 GiB GET by curl: ×1.29 the rate, ×0.54 the segments, ×0.78 the
//! server CPU per GiB); a loop serving a hundred streams runs out of CPU
//! and serves half as many 1 MiB GETs (benches/notes/compare.md). No
//! socket option tells whether the loop has CPU to spare; how many
//! connections it drives does. A loop that drove at most one connection
//! last turn and has at most one event or ready entry now is serving one
//! stream; the first connection driven in such a turn is alone.

/// The loop's count of connections driven, this turn and the last.
#[derive(Debug, Default)]
pub(super) struct Crowd {
    /// Readiness events and ready-list entries this turn began with.
    seen: usize,
    /// Connections driven this turn so far.
    driven: usize,
    /// Connections driven last turn.
    driven_last: usize,
}

impl Crowd {
    /// A turn begins with `seen` events from the poll and entries on the
    /// ready list.
    pub(super) fn begin_turn(&mut self, seen: usize) {
        self.driven_last = std::mem::take(&mut self.driven);
        self.seen = seen;
    }

    /// A connection is about to be driven: whether it is the only one the
    /// loop serves now.
    pub(super) fn drive_one(&mut self) -> bool {
        self.driven += 1;
        self.driven == 1 && self.seen <= 1 && self.driven_last <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::Crowd;

    #[test]
    fn one_stream_turn_after_turn_is_alone() {
        let mut crowd = Crowd::default();
        for _ in 0..3 {
            crowd.begin_turn(1);
            assert!(crowd.drive_one());
        }
    }

    #[test]
    fn a_second_connection_in_the_turn_is_not_alone() {
        let mut crowd = Crowd::default();
        crowd.begin_turn(1);
        assert!(crowd.drive_one());
        // One event (the waker) can bring many finished jobs.
        assert!(!crowd.drive_one());
    }

    #[test]
    fn a_turn_after_a_busy_one_is_not_alone() {
        let mut crowd = Crowd::default();
        crowd.begin_turn(40);
        assert!(!crowd.drive_one());
        assert!(!crowd.drive_one());
        crowd.begin_turn(1);
        assert!(!crowd.drive_one(), "last turn drove two");
        crowd.begin_turn(1);
        assert!(crowd.drive_one(), "last turn drove one");
    }

    #[test]
    fn many_events_are_not_alone() {
        let mut crowd = Crowd::default();
        crowd.begin_turn(2);
        assert!(!crowd.drive_one());
    }
}
