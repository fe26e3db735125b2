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
//! Each queue holds a connection's slab key and id (and, resting, since
//! when); an entry whose connection has gone, has spoken or has been
//! asked again is dropped when it reaches the front, and a queue is swept
//! whenever it grows past twice the connections, so it never holds more
//! than that.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use log::debug;
use slab::Slab;

use super::Reactor;
#[cfg(doc)]
use crate::config::Config;
use crate::connection::Connection;

/// One queue entry: a connection's slab key and id, and the instant it
/// was noted at (its accept; or when it began to rest).
type Entry = (usize, u64, Instant);

/// Connections a newcomer may displace, each queue oldest first.
#[derive(Debug, Default)]
pub(in crate::server) struct Bare {
    /// Connections accepted by this reactor, some of which may still be
    /// bare.
    queue: VecDeque<Entry>,
    /// HTTP connections that began to rest between requests.
    resting: VecDeque<Entry>,
}

impl Reactor {
    /// Notes connection `key`/`id`, just accepted at `now`, as bare.
    pub(super) fn note_bare(&mut self, key: usize, id: u64, now: Instant) {
        push_swept(
            &mut self.bare.queue,
            &self.connections,
            (key, id, now),
            bare,
        );
    }

    /// Notes connection `key`/`id` as resting between requests since
    /// `since` (an HTTP connection whose answers are all out).
    pub(super) fn note_resting(&mut self, key: usize, id: u64, since: Instant) {
        push_swept(
            &mut self.bare.resting,
            &self.connections,
            (key, id, since),
            resting,
        );
    }

    /// Closes the oldest bare connection if it has been bare for the grace
    /// period at `now`, else the HTTP connection that has rested longest if
    /// it has rested as long; whether it closed one. (Younger ones are left
    /// alone: a client that has just connected, or just been answered, has
    /// had no time to speak.)
    pub(super) fn displace_idle(&mut self, now: Instant) -> bool {
        let waited = (now, self.shared.config.bare_grace);
        let connections = &self.connections;
        let victim = oldest(&mut self.bare.queue, connections, waited, bare)
            .map(|found| (found, "sent nothing"))
            .or_else(|| {
                let found = oldest(&mut self.bare.resting, connections, waited, resting);
                found.map(|found| (found, "rested between requests"))
            });
        let Some(((key, id, idle), what)) = victim else {
            return false;
        };
        debug!(
            "#{id} {what} for {} ms: closed for a newcomer (server full)",
            idle.as_millis()
        );
        self.metrics.displaced.add(1);
        self.close(key);
        true
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
/// `idle_since` sees it; since when, if so.
fn idle_since(
    connections: &Slab<Connection>,
    (key, id, noted): Entry,
    idle_since: fn(&Connection, Instant) -> Option<Instant>,
) -> Option<Instant> {
    let conn = connections.get(key).filter(|conn| conn.id() == id)?;
    idle_since(conn, noted)
}

/// Queues `entry`, first sweeping out entries no longer idle if the queue
/// has grown past twice the connections.
fn push_swept(
    queue: &mut VecDeque<Entry>,
    connections: &Slab<Connection>,
    entry: Entry,
    idle: fn(&Connection, Instant) -> Option<Instant>,
) {
    if queue.len() > 2 * connections.len() + 64 {
        queue.retain(|&entry| idle_since(connections, entry, idle).is_some());
    }
    queue.push_back(entry);
}

/// The oldest connection of `queue` still idle, taken off the queue if it
/// has been idle for the grace period at `now` (`waited`): its key, id
/// and how long. Entries no longer idle are dropped on the way.
fn oldest(
    queue: &mut VecDeque<Entry>,
    connections: &Slab<Connection>,
    (now, grace): (Instant, Duration),
    idle: fn(&Connection, Instant) -> Option<Instant>,
) -> Option<(usize, u64, Duration)> {
    while let Some(&entry) = queue.front() {
        let Some(since) = idle_since(connections, entry, idle) else {
            queue.pop_front();
            continue;
        };
        if now < since + grace {
            return None;
        }
        queue.pop_front();
        return Some((entry.0, entry.1, now.duration_since(since)));
    }
    None
}
