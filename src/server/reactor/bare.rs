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
use std::time::Instant;

use log::debug;

use super::Reactor;
#[cfg(doc)]
use crate::config::Config;
use crate::connection::Connection;

/// Connections accepted by this reactor, oldest first, some of which may
/// still be bare.
#[derive(Debug, Default)]
pub(in crate::server) struct Bare {
    queue: VecDeque<(usize, u64)>,
    /// HTTP connections that began to rest between requests: key, id and
    /// since when, oldest first.
    resting: VecDeque<(usize, u64, Instant)>,
}

impl Reactor {
    /// Notes connection `key`/`id`, just accepted, as bare.
    pub(super) fn note_bare(&mut self, key: usize, id: u64) {
        let connections = &self.connections;
        let queue = &mut self.bare.queue;
        if queue.len() > 2 * connections.len() + 64 {
            queue.retain(|&(key, id)| bare_since(connections.get(key), id).is_some());
        }
        queue.push_back((key, id));
    }

    /// Closes the oldest bare connection if it has been bare for the
    /// grace period at `now`; whether it did. (Younger ones are left
    /// alone: a client that has just connected has had no time to speak.)
    pub(super) fn displace_bare(&mut self, now: Instant) -> bool {
        while let Some(&(key, id)) = self.bare.queue.front() {
            let Some(since) = bare_since(self.connections.get(key), id) else {
                self.bare.queue.pop_front();
                continue;
            };
            if now < since + self.shared.config.bare_grace {
                return false;
            }
            self.bare.queue.pop_front();
            debug!(
                "#{id} sent nothing in {} ms: closed for a newcomer (server full)",
                now.duration_since(since).as_millis()
            );
            self.metrics.displaced.add(1);
            self.close(key);
            return true;
        }
        false
    }
}

impl Reactor {
    /// Notes connection `key`/`id` as resting between requests since
    /// `since` (an HTTP connection whose answers are all out).
    pub(super) fn note_resting(&mut self, key: usize, id: u64, since: Instant) {
        let connections = &self.connections;
        let resting = &mut self.bare.resting;
        if resting.len() > 2 * connections.len() + 64 {
            resting.retain(|&(key, id, since)| rests(connections.get(key), id, since));
        }
        resting.push_back((key, id, since));
    }

    /// Closes the HTTP connection that has rested longest if it has
    /// rested for the grace period at `now`; whether it did.
    pub(super) fn displace_resting(&mut self, now: Instant) -> bool {
        while let Some(&(key, id, since)) = self.bare.resting.front() {
            if !rests(self.connections.get(key), id, since) {
                self.bare.resting.pop_front();
                continue;
            }
            if now < since + self.shared.config.bare_grace {
                return false;
            }
            self.bare.resting.pop_front();
            debug!(
                "#{id} rested {} ms between requests: closed for a newcomer (server full)",
                now.duration_since(since).as_millis()
            );
            self.metrics.displaced.add(1);
            self.close(key);
            return true;
        }
        false
    }
}

/// Whether `conn`, if it is connection `id`, still rests since `since`.
fn rests(conn: Option<&Connection>, id: u64, since: Instant) -> bool {
    conn.filter(|conn| conn.id() == id)
        .and_then(Connection::resting_since)
        == Some(since)
}

/// Since when `conn`, if it is connection `id`, has been bare.
fn bare_since(conn: Option<&Connection>, id: u64) -> Option<Instant> {
    conn.filter(|conn| conn.id() == id)
        .and_then(Connection::bare_since)
}
