//! Bare connections (accepted, nothing received yet) and HTTP
//! connections resting between requests, each oldest first: when the
//! server is full, a newcomer takes the place of the oldest bare one that
//! has sent nothing for [`Config::bare_grace`], else of the HTTP
//! connection that has rested longest (as long at least), instead of
//! being refused.
//!
//! Why: a bare connection costs ferry a few hundred bytes, so it may wait
//! as long as an idle one (`--first-byte-timeout` defaults to the idle
//! timeout, nginx's 60 s): a pool or a proxy that opens its connections
//! at once and uses them later is served, not cut after a few seconds.
//! What a short first-byte deadline bought — slots back from clients that
//! never speak (a slowloris of bare connects) — this buys only when the
//! slots are wanted, and at once: nginx drains idle keep-alive
//! connections the same way when it runs out (`ngx_drain_connections`).
//!
//! A resting HTTP connection costs as little, and HTTP/1.1 lets a server
//! close one at any time (its client opens another: RFC 9112 9.8), so a
//! storm of newcomers is served while thousands of keep-alive connections
//! idle (nginx closes those first). FERRY/1 and FTP sessions keep their
//! place: a close would lose their login and working folder.
//!
//! Each queue holds a connection's slab key and id and the instant it was
//! noted, in 16 bytes, as every idle connection has one or two entries:
//! the key and the id's low half in 4 each (the pair tells a connection
//! from a later one in its slot), the instant as nanoseconds since the
//! reactor began (exact: a rest is told from a later one by it). An entry
//! whose connection has gone, has spoken or has been asked again is
//! dropped when it reaches the front, and a queue is swept whenever it
//! grows past twice the connections, so it never holds more than that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use log::debug;
use slab::Slab;

use super::Reactor;
#[cfg(doc)]
use crate::config::Config;
use crate::connection::Connection;

/// One queue entry: a connection's slab key, its id's low 32 bits, and
/// when it was noted (its accept; or when it began to rest) in
/// nanoseconds since [`Bare::epoch`].
type Entry = (u32, u32, u64);
const _: () = assert!(std::mem::size_of::<Entry>() == 16);

/// What a queue's entries are checked against.
#[derive(Clone, Copy)]
struct Check<'a> {
    connections: &'a Slab<Connection>,
    /// The queues' [`Bare::epoch`].
    epoch: Instant,
    /// Since when a connection is idle the queue's way, given when it was
    /// noted.
    since: fn(&Connection, Instant) -> Option<Instant>,
}

/// Connections a newcomer may displace, each queue oldest first.
#[derive(Debug)]
pub(in crate::server) struct Bare {
    /// When the reactor began: entries' instants are counted from it.
    epoch: Instant,
    /// Connections accepted by this reactor, some of which may still be
    /// bare.
    queue: VecDeque<Entry>,
    /// HTTP connections that began to rest between requests.
    resting: VecDeque<Entry>,
}

impl Bare {
    /// Empty queues, counting instants from now.
    pub(super) fn new() -> Bare {
        Bare {
            epoch: Instant::now(),
            queue: VecDeque::new(),
            resting: VecDeque::new(),
        }
    }

    /// The entry of connection `key`/`id` noted at `at`. (A slab key past
    /// `u32::MAX` would take as many connections, far past the open-files
    /// limit; 2^64 ns are 584 years.)
    fn entry(&self, key: usize, id: u64, at: Instant) -> Entry {
        debug_assert!(at >= self.epoch, "noted before its reactor began");
        let key = u32::try_from(key).unwrap_or(u32::MAX);
        let nanos = at.saturating_duration_since(self.epoch).as_nanos();
        (key, id as u32, u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl Reactor {
    /// Notes connection `key`/`id`, just accepted at `now`, as bare.
    pub(super) fn note_bare(&mut self, key: usize, id: u64, now: Instant) {
        let entry = self.bare.entry(key, id, now);
        let check = Check::new(&self.connections, self.bare.epoch, bare);
        push_swept(&mut self.bare.queue, check, entry);
    }

    /// Notes connection `key`/`id` as resting between requests since
    /// `since` (an HTTP connection whose answers are all out).
    pub(super) fn note_resting(&mut self, key: usize, id: u64, since: Instant) {
        let entry = self.bare.entry(key, id, since);
        let check = Check::new(&self.connections, self.bare.epoch, resting);
        push_swept(&mut self.bare.resting, check, entry);
    }

    /// Closes the oldest bare connection if it has been bare for the grace
    /// period at `now`, else the HTTP connection that has rested longest if
    /// it has rested as long; whether it closed one. (Younger ones are left
    /// alone: a client that has just connected, or just been answered, has
    /// had no time to speak.)
    pub(super) fn displace_idle(&mut self, now: Instant) -> bool {
        let waited = (now, self.shared.config.bare_grace);
        let (connections, epoch) = (&self.connections, self.bare.epoch);
        let bare_check = Check::new(connections, epoch, bare);
        let resting_check = Check::new(connections, epoch, resting);
        let victim = oldest(&mut self.bare.queue, bare_check, waited)
            .map(|found| (found, "sent nothing"))
            .or_else(|| {
                let found = oldest(&mut self.bare.resting, resting_check, waited);
                found.map(|found| (found, "rested between requests"))
            });
        let Some(((key, id, for_how_long), what)) = victim else {
            return false;
        };
        debug!(
            "#{id} {what} for {} ms: closed for a newcomer (server full)",
            for_how_long.as_millis()
        );
        self.metrics.displaced.add(1);
        self.close(key);
        true
    }
}

impl<'a> Check<'a> {
    fn new(
        connections: &'a Slab<Connection>,
        epoch: Instant,
        since: fn(&Connection, Instant) -> Option<Instant>,
    ) -> Check<'a> {
        Check {
            connections,
            epoch,
            since,
        }
    }
}

/// Since when `conn` has been bare, whenever it was noted.
fn bare(conn: &Connection, _noted: Instant) -> Option<Instant> {
    conn.bare_since()
}

/// Since when `conn` has rested, if it still rests since it was noted
/// (a request since then began another rest, noted anew).
fn resting(conn: &Connection, noted: Instant) -> Option<Instant> {
    conn.resting_since().filter(|&since| since == noted)
}

/// Whether the connection of `entry` is still there and still idle as
/// `check` sees it; since when and its whole id, if so.
fn idle_since(check: Check<'_>, (key, id, noted): Entry) -> Option<(Instant, u64)> {
    let conn = check
        .connections
        .get(key as usize)
        .filter(|conn| conn.id() as u32 == id)?;
    let since = (check.since)(conn, check.epoch + Duration::from_nanos(noted))?;
    Some((since, conn.id()))
}

/// Queues `entry`, first sweeping out entries no longer idle if the queue
/// has grown past twice the connections.
fn push_swept(queue: &mut VecDeque<Entry>, check: Check<'_>, entry: Entry) {
    if queue.len() > 2 * check.connections.len() + 64 {
        queue.retain(|&entry| idle_since(check, entry).is_some());
    }
    queue.push_back(entry);
}

/// The oldest connection of `queue` still idle, taken off the queue if it
/// has been idle for the grace period at `now` (`waited`): its key, id
/// and how long. Entries no longer idle are dropped on the way.
fn oldest(
    queue: &mut VecDeque<Entry>,
    check: Check<'_>,
    (now, grace): (Instant, Duration),
) -> Option<(usize, u64, Duration)> {
    while let Some(&entry) = queue.front() {
        let Some((since, id)) = idle_since(check, entry) else {
            queue.pop_front();
            continue;
        };
        if now < since + grace {
            return None;
        }
        queue.pop_front();
        return Some((entry.0 as usize, id, now.duration_since(since)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_keeps_its_instant_to_the_nanosecond() {
        let bare = Bare::new();
        let at = Instant::now() + Duration::from_nanos(123_456_789);
        let (key, id, nanos) = bare.entry(7, (1 << 40) + 5, at);
        assert_eq!((key, id), (7, 5));
        assert_eq!(bare.epoch + Duration::from_nanos(nanos), at);
    }

    #[test]
    fn two_rests_a_nanosecond_apart_are_two_entries() {
        let bare = Bare::new();
        let first = Instant::now();
        let second = first + Duration::from_nanos(1);
        let (early, late) = (bare.entry(3, 9, first), bare.entry(3, 9, second));
        assert_ne!(early, late);
        assert_eq!(bare.epoch + Duration::from_nanos(late.2), second);
    }
}
