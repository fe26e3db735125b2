//! Whether the connection about to be driven is the only one its loop
//! serves now. Only then may a big `sendfile` run corked
//! (`wire/socket.rs`, issue 76).
//!
//! Why the loop asks: corked, a `sendfile` leaves full segments and its
//! tail at the uncork, and the sender's own call does the transmit work
//! (over loopback, the reader's receive work too) that the reader's ACKs
//! would have done. One stream on a loop gains by it (a 1 GiB GET by
//! curl: ×1.29 the rate, ×0.54 the segments, ×0.78 the server CPU per
//! GiB); a loop serving a hundred streams runs out of CPU and serves half
//! as many 1 MiB GETs (benches/notes/compare.md). No socket option tells
//! whether the loop has CPU to spare. How many connections it drives in a
//! turn did not tell either: two loops sharing the two CPUs with the
//! client, fifty streams each, often found one event a turn and corked
//! (×0.89 the uncorked build's 1 MiB GETs). What tells is the streak: a
//! loop whose last [`ALONE_AFTER`] drives were all of one connection is
//! serving that one stream; one other connection's drive breaks it.

/// Drives in a row of one connection after which it counts as alone. A
/// 1 GiB GET is about five hundred drives; a loop with two streams never
/// drives one of them this often in a row.
const ALONE_AFTER: u32 = 16;

/// The loop's last connection driven, and how many times in a row.
#[derive(Debug, Default)]
pub(super) struct Crowd {
    /// The client id of the connection driven last.
    last: u64,
    /// Drives of it in a row, after the first.
    streak: u32,
}

impl Crowd {
    /// The connection with client id `id` is about to be driven: whether
    /// it is the only one the loop serves now.
    pub(super) fn drive_one(&mut self, id: u64) -> bool {
        if id == self.last {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.last = id;
            self.streak = 0;
        }
        self.streak >= ALONE_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::{ALONE_AFTER, Crowd};

    #[test]
    fn one_connection_driven_again_and_again_is_alone() {
        let mut crowd = Crowd::default();
        for _ in 0..ALONE_AFTER {
            assert!(!crowd.drive_one(7));
        }
        assert!(crowd.drive_one(7));
        assert!(crowd.drive_one(7));
    }

    #[test]
    fn another_connection_breaks_the_streak() {
        let mut crowd = Crowd::default();
        for _ in 0..=ALONE_AFTER {
            crowd.drive_one(7);
        }
        assert!(!crowd.drive_one(8));
        assert!(!crowd.drive_one(7), "the streak starts again");
    }

    #[test]
    fn two_streams_taking_turns_are_never_alone() {
        let mut crowd = Crowd::default();
        for round in 0..1000 {
            assert!(!crowd.drive_one(1 + round % 2));
        }
    }
}
