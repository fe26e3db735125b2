//! Bare connections (accepted, nothing received yet), oldest first: when
//! the server is full, a newcomer takes the place of the oldest one that
//! has sent nothing for [`Config::bare_grace`] instead of being refused.
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
//! The queue holds a connection's slab key and id from its accept; an
//! entry whose connection has gone or has spoken is dropped when it
//! reaches the front, and the queue is swept whenever it grows past
//! twice the connections, so it never holds more than that.

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
            self.metrics.displaced_bare.add(1);
            self.close(key);
            return true;
        }
        false
    }
}

/// Since when `conn`, if it is connection `id`, has been bare.
fn bare_since(conn: Option<&Connection>, id: u64) -> Option<Instant> {
    conn.filter(|conn| conn.id() == id)
        .and_then(Connection::bare_since)
}
