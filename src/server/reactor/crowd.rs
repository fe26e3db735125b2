//! Whether the connection about to be driven is alone: the loop's last
//! drives were all of it. Only then may a big `sendfile` run corked
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
//! serving that one stream; one other connection's drive breaks it. A
//! fast stream beside stalled ones makes a streak too, by design: the
//! stalled ones take no CPU. An idle client that speaks often (a probe
//! every few milliseconds) keeps a stream from corking: the safe side.

/// Drives in a row of one connection after which it counts as alone. A
/// 1 GiB GET is about five hundred drives; two streams served evenly
/// take turns long before this.
const ALONE_AFTER: u32 = 16;

/// The loop's last connection driven, and how many times in a row.
#[derive(Debug, Default)]
pub(super) struct Crowd {
    /// The client id of the connection driven last (ids start at 1: the
    /// 0 of a new loop is no connection's).
    last: u64,
    /// Drives of it in a row, after the first.
    streak: u32,
}

impl Crowd {
    /// Counts a drive of the connection with client id `id`, about to
    /// happen: whether it is alone (the last drives were all of it).
    pub(super) fn alone_when_driving(&mut self, id: u64) -> bool {
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
            assert!(!crowd.alone_when_driving(7));
        }
        assert!(crowd.alone_when_driving(7));
        assert!(crowd.alone_when_driving(7));
    }

    #[test]
    fn another_connection_breaks_the_streak() {
        let mut crowd = Crowd::default();
        for _ in 0..=ALONE_AFTER {
            crowd.alone_when_driving(7);
        }
        assert!(!crowd.alone_when_driving(8));
        assert!(!crowd.alone_when_driving(7), "the streak starts again");
    }

    #[test]
    fn two_streams_taking_turns_are_never_alone() {
        let mut crowd = Crowd::default();
        for round in 0..1000 {
            assert!(!crowd.alone_when_driving(1 + round % 2));
        }
    }
}
