//! Connection deadlines: a binary heap with one authoritative entry per
//! connection, so checking them costs O(log n) per deadline, never a scan
//! of every connection per turn.
//!
//! A connection records when its entry is due ([`Connection::scheduled`]).
//! When its deadline moves later (it made progress), nothing happens until
//! the entry comes due and is pushed back; when it moves earlier (a request
//! line began, a body started), a new, earlier entry is pushed and the old
//! one is skipped when it surfaces. Entries are 16 bytes: milliseconds since
//! the server started, the slab key and the low half of the client id (a
//! stale entry that matched a newer connection would only make it check its
//! own deadlines early).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use log::warn;

use super::Reactor;
#[cfg(doc)]
use crate::connection::Connection;

/// The heap.
pub(in crate::server) struct Timers {
    epoch: Instant,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
}

impl Timers {
    pub(in crate::server) fn new(epoch: Instant) -> Timers {
        Timers {
            epoch,
            heap: BinaryHeap::new(),
        }
    }

    /// Adds an entry for connection `key`/`id` due at `at` (rounded up to
    /// the millisecond); returns the time it was stored as, in milliseconds
    /// since the epoch, for [`Connection::set_scheduled`].
    pub(in crate::server) fn push(&mut self, at: Instant, key: usize, id: u64) -> u64 {
        let millis = self.due_millis(at);
        let key = u32::try_from(key).unwrap_or(u32::MAX);
        self.heap.push(Reverse((millis, key, id as u32)));
        millis
    }

    /// Pushes an entry for a deadline `at` only if it falls before the one
    /// the connection has (`scheduled`); returns the new one if pushed.
    /// Compared in the unit and rounding entries are stored in: a deadline
    /// that did not move must never count as earlier, or a busy connection
    /// would add an entry on every turn.
    pub(in crate::server) fn advance(
        &mut self,
        at: Instant,
        scheduled: u64,
        key: usize,
        id: u64,
    ) -> Option<u64> {
        (self.due_millis(at) < scheduled).then(|| self.push(at, key, id))
    }

    /// `at` in the heap's unit: milliseconds since the epoch, rounded up so
    /// an entry never comes due before its deadline.
    fn due_millis(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            + u64::from(!since.subsec_nanos().is_multiple_of(1_000_000))
    }

    /// When the earliest entry is due.
    pub(in crate::server) fn next(&self) -> Option<Instant> {
        self.heap
            .peek()
            .map(|Reverse((millis, _, _))| self.instant(*millis))
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<(u64, usize, u32)> {
        let &Reverse((millis, key, id)) = self.heap.peek()?;
        if self.instant(millis) > now {
            return None;
        }
        self.heap.pop();
        Some((millis, key as usize, id))
    }

    fn instant(&self, millis: u64) -> Instant {
        self.epoch + Duration::from_millis(millis)
    }
}

impl Reactor {
    /// Closes connections past one of their deadlines (idle, request line,
    /// body rate); pushes back the entries of the others.
    pub(in crate::server) fn expire_deadlines(&mut self, now: Instant) {
        while let Some((at, key, id)) = self.timers.pop_due(now) {
            let Some(conn) = self
                .connections
                .get_mut(key)
                .filter(|c| c.id() as u32 == id && c.scheduled() == at)
            else {
                continue; // closed, or superseded by an earlier entry
            };
            if conn.rest_if_due(now, &self.shared.config) {
                self.metrics.ssh_rests.add(1);
            }
            match conn.expired(now, &self.shared.config) {
                Some(reason) => {
                    warn!("#{} {reason}; closing", conn.id());
                    self.close(key);
                }
                None => {
                    // What a deadline queued (an early answer's filler,
                    // a link given up: FTP's data connection that never
                    // came) is done on the connection's next turn, as is
                    // another look at a sibling login's verdict.
                    let due_a_turn =
                        conn.has_output() || conn.has_link() || conn.tls_resumption_waits();
                    if due_a_turn && !conn.is_queued() {
                        conn.set_queued(true);
                        self.ready.push_back((key, conn.id()));
                    }
                    // A deadline that passed its check lies ahead of `now`;
                    // were it not, this loop would never end (the reactor
                    // would spin here, deaf to the pool's answers).
                    let deadline = conn.deadline(&self.shared.config);
                    debug_assert!(deadline > now, "#{} deadline not moved", conn.id());
                    let deadline = deadline.max(now + Duration::from_millis(1));
                    let next = self.timers.push(deadline, key, conn.id());
                    conn.set_scheduled(next);
                }
            }
        }
    }

    /// Adds an entry if a connection's deadline moved earlier than its
    /// current one.
    pub(in crate::server) fn reschedule(&mut self, key: usize) {
        let Some(conn) = self.connections.get_mut(key) else {
            return;
        };
        let deadline = conn.deadline(&self.shared.config);
        if let Some(stored) = self
            .timers
            .advance(deadline, conn.scheduled(), key, conn.id())
        {
            conn.set_scheduled(stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_that_did_not_move_adds_no_entry() {
        let epoch = Instant::now();
        let mut timers = Timers::new(epoch);
        // Not a whole millisecond: stored rounded up.
        let deadline = epoch + Duration::from_micros(30_000_400);
        let scheduled = timers.push(deadline, 1, 7);
        assert_eq!(scheduled, 30_001);
        for _ in 0..1000 {
            assert_eq!(timers.advance(deadline, scheduled, 1, 7), None);
        }
        assert_eq!(timers.heap.len(), 1);
        // Earlier by a whole millisecond: a new entry, due first.
        let earlier = deadline - Duration::from_millis(1);
        assert_eq!(timers.advance(earlier, scheduled, 1, 7), Some(30_000));
        assert_eq!(timers.heap.len(), 2);
        assert_eq!(timers.next(), Some(epoch + Duration::from_millis(30_000)));
    }
}
