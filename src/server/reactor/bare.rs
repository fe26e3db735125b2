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
//! The two queues are threaded through one table indexed by slab key
//! (as nginx's `ngx_queue_t` threads its own through each connection): 8
//! bytes, its neighbours' keys, for every key up to the highest ever
//! queued (the table grows as the slab does, and neither shrinks). A
//! connection stands in one queue at most, at the place of its accept or
//! of its latest rest (a new rest moves it to the back; a close takes it
//! out), so the queues never hold more than the connections and need no
//! sweeping. A TLS connection waits bare from the end of its handshake:
//! it goes to the back then (`Reactor::note_bare_again`), as does any
//! connection whose bare wait begins later than its accept. Since when a
//! connection has been bare or rested is the connection's own
//! (`Connection::bare_since`, `Connection::resting_since`); one that has
//! spoken or been asked again since it was queued is taken out when it
//! reaches the front.

use std::time::{Duration, Instant};

use log::debug;

use super::Reactor;
#[cfg(doc)]
use crate::config::Config;
use crate::connection::Connection;

/// The two queues.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Queue {
    /// Connections accepted that may still be bare.
    Bare,
    /// HTTP connections that began to rest between requests.
    Resting,
}

const QUEUES: usize = 2;

/// The link of a key in no queue.
const OUT: u32 = u32::MAX;

/// What stands past an end of `queue`: its front's `prev` and its back's
/// `next`. Keys from the lowest end up are never queued (a slab that
/// large would hold as many connections, far past any open-files limit).
const fn end(queue: Queue) -> u32 {
    u32::MAX - 1 - queue as u32
}

/// The lowest key never queued.
const FIRST_END: u32 = end(Queue::Resting);

/// The queue whose end `link` is, if it is one.
fn end_of(link: u32) -> Option<Queue> {
    match link {
        _ if link == end(Queue::Bare) => Some(Queue::Bare),
        _ if link == end(Queue::Resting) => Some(Queue::Resting),
        _ => None,
    }
}

/// A queued key's neighbours: slab keys, or an [`end`]. [`OUT`] both
/// where the key is in no queue.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Link {
    prev: u32,
    next: u32,
}

/// The link of a key in no queue.
const UNLINKED: Link = Link {
    prev: OUT,
    next: OUT,
};

/// A queue's front and back keys, each the queue's [`end`] while empty.
#[derive(Clone, Copy, Debug)]
struct Ends {
    front: u32,
    back: u32,
}

/// Connections a newcomer may displace: [`QUEUES`] queues of slab keys,
/// each oldest first, a key in one at most.
#[derive(Debug)]
pub(in crate::server) struct Bare {
    /// Each slab key's link, as far as the highest key queued.
    links: Vec<Link>,
    /// Each queue's ends, by [`Queue`].
    ends: [Ends; QUEUES],
}

impl Bare {
    /// Empty queues.
    pub(super) fn new() -> Bare {
        let empty = |queue| Ends {
            front: end(queue),
            back: end(queue),
        };
        Bare {
            links: Vec::new(),
            ends: [empty(Queue::Bare), empty(Queue::Resting)],
        }
    }

    /// Puts `key` at the back of `queue`, out of any queue it was in.
    fn push_back(&mut self, queue: Queue, key: usize) {
        let Some(key) = u32::try_from(key).ok().filter(|&key| key < FIRST_END) else {
            return;
        };
        self.take_out(key as usize);
        if self.links.len() <= key as usize {
            self.links.resize(key as usize + 1, UNLINKED);
        }
        let ends = &mut self.ends[queue as usize];
        let back = ends.back;
        // Behind the old back, or behind the end where the queue was empty.
        self.links[key as usize] = Link {
            prev: back,
            next: end(queue),
        };
        match end_of(back) {
            Some(_) => ends.front = key,
            None => self.links[back as usize].next = key,
        }
        ends.back = key;
    }

    /// Takes `key` out of the queue it is in, if any.
    fn take_out(&mut self, key: usize) {
        let Some(&Link { prev, next }) = self.links.get(key) else {
            return;
        };
        if prev == OUT {
            return;
        }
        match end_of(prev) {
            Some(queue) => self.ends[queue as usize].front = next,
            None => self.links[prev as usize].next = next,
        }
        match end_of(next) {
            Some(queue) => self.ends[queue as usize].back = prev,
            None => self.links[next as usize].prev = prev,
        }
        self.links[key] = UNLINKED;
    }

    /// Whether `key` stands in a queue.
    fn is_queued(&self, key: usize) -> bool {
        self.links.get(key).is_some_and(|&link| link != UNLINKED)
    }

    /// The key at the front of `queue`, if it holds one.
    fn front(&self, queue: Queue) -> Option<usize> {
        let front = self.ends[queue as usize].front;
        end_of(front).is_none().then_some(front as usize)
    }

    /// The oldest connection of `queue` still idle (since when, and its
    /// id, as `idle` tells of a key), taken out if it has been idle for
    /// the grace period at `now` (`waited`): its key, id and how long.
    /// Connections no longer idle are taken out on the way.
    fn oldest(
        &mut self,
        queue: Queue,
        idle: impl Fn(usize) -> Option<(Instant, u64)>,
        (now, grace): (Instant, Duration),
    ) -> Option<(usize, u64, Duration)> {
        while let Some(key) = self.front(queue) {
            let Some((since, id)) = idle(key) else {
                self.take_out(key);
                continue;
            };
            if now < since + grace {
                return None;
            }
            self.take_out(key);
            return Some((key, id, now.duration_since(since)));
        }
        None
    }
}

impl Reactor {
    /// Notes connection `key`, just accepted, as bare.
    pub(super) fn note_bare(&mut self, key: usize) {
        // Every close takes its key out (`Reactor::close`).
        debug_assert!(
            !self.bare.is_queued(key),
            "key {key} queued before its accept"
        );
        self.bare.push_back(Queue::Bare, key);
    }

    /// Notes connection `key` as bare from now: its TLS handshake is
    /// through and its first request is awaited.
    pub(super) fn note_bare_again(&mut self, key: usize) {
        self.bare.push_back(Queue::Bare, key);
    }

    /// Notes connection `key` as having begun to rest between requests (an
    /// HTTP connection whose answers are all out).
    pub(super) fn note_resting(&mut self, key: usize) {
        self.bare.push_back(Queue::Resting, key);
    }

    /// Takes connection `key` out of the queues; every close does, before
    /// its slab key can be given to another connection.
    pub(super) fn forget_idle(&mut self, key: usize) {
        self.bare.take_out(key);
    }

    /// Closes the oldest bare connection if it has been bare for the grace
    /// period at `now`, else the HTTP connection that has rested longest if
    /// it has rested as long; whether it closed one. (Younger ones are left
    /// alone: a client that has just connected, or just been answered, has
    /// had no time to speak.)
    pub(super) fn displace_idle(&mut self, now: Instant) -> bool {
        let waited = (now, self.shared.config.bare_grace);
        let (bare, connections) = (&mut self.bare, &self.connections);
        let idle = |since: fn(&Connection) -> Option<Instant>| {
            move |key| {
                let conn: &Connection = connections.get(key)?;
                Some((since(conn)?, conn.id()))
            }
        };
        let victim = bare
            .oldest(Queue::Bare, idle(Connection::bare_since), waited)
            .map(|found| (found, "sent nothing"))
            .or_else(|| {
                let found = bare.oldest(Queue::Resting, idle(Connection::resting_since), waited);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of `queue`, front to back, each checked against its
    /// neighbours' links.
    fn keys(bare: &Bare, queue: Queue) -> Vec<usize> {
        let mut keys = Vec::new();
        let mut prev = end(queue);
        let mut at = bare.ends[queue as usize].front;
        while end_of(at).is_none() {
            assert_eq!(bare.links[at as usize].prev, prev, "key {at}'s prev");
            keys.push(at as usize);
            prev = at;
            at = bare.links[at as usize].next;
        }
        assert_eq!(at, end(queue), "the back's next is its queue's end");
        assert_eq!(bare.ends[queue as usize].back, prev, "the back");
        keys
    }

    #[test]
    fn keys_queue_in_order_and_leave_from_the_front_the_middle_or_the_back() {
        let mut bare = Bare::new();
        for key in [4, 0, 9, 2] {
            bare.push_back(Queue::Bare, key);
        }
        assert_eq!(keys(&bare, Queue::Bare), [4, 0, 9, 2]);
        bare.take_out(0);
        assert_eq!(keys(&bare, Queue::Bare), [4, 9, 2]);
        bare.take_out(4);
        assert_eq!(keys(&bare, Queue::Bare), [9, 2]);
        bare.take_out(2);
        assert_eq!(keys(&bare, Queue::Bare), [9]);
        bare.take_out(9);
        assert_eq!(keys(&bare, Queue::Bare), [] as [usize; 0]);
        assert_eq!(bare.front(Queue::Bare), None);
        bare.push_back(Queue::Bare, 9);
        assert_eq!(keys(&bare, Queue::Bare), [9]);
    }

    #[test]
    fn a_key_stands_in_one_queue_once_at_its_latest_place() {
        let mut bare = Bare::new();
        for key in [1, 2, 3] {
            bare.push_back(Queue::Bare, key);
        }
        bare.push_back(Queue::Resting, 2);
        bare.push_back(Queue::Resting, 1);
        assert_eq!(keys(&bare, Queue::Bare), [3]);
        assert_eq!(keys(&bare, Queue::Resting), [2, 1]);
        // A new rest moves it to the back.
        bare.push_back(Queue::Resting, 2);
        assert_eq!(keys(&bare, Queue::Resting), [1, 2]);
        bare.push_back(Queue::Resting, 2);
        assert_eq!(keys(&bare, Queue::Resting), [1, 2]);
        assert_eq!(
            (bare.front(Queue::Bare), bare.front(Queue::Resting)),
            (Some(3), Some(1))
        );
    }

    #[test]
    fn keys_never_queued_or_past_the_ends_are_left_alone() {
        let mut bare = Bare::new();
        bare.take_out(5);
        bare.push_back(Queue::Bare, 1);
        bare.take_out(7);
        bare.take_out(0);
        assert_eq!(keys(&bare, Queue::Bare), [1]);
        for key in [FIRST_END as usize, OUT as usize, usize::MAX] {
            bare.push_back(Queue::Resting, key);
            bare.take_out(key);
        }
        assert_eq!(keys(&bare, Queue::Resting), [] as [usize; 0]);
        assert_eq!(bare.links.len(), 2, "no table for keys never queued");
    }

    #[test]
    fn the_oldest_idle_long_enough_is_taken_and_the_no_longer_idle_dropped() {
        let mut bare = Bare::new();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        for key in [1, 2, 3] {
            bare.push_back(Queue::Resting, key);
        }
        // 1 has been asked again (no longer resting); 2 rests since 10 ms,
        // 3 since 20 ms.
        let idle = |key| match key {
            2 => Some((at(10), 22)),
            3 => Some((at(20), 33)),
            _ => None,
        };
        let grace = Duration::from_millis(5);
        assert_eq!(bare.oldest(Queue::Resting, idle, (at(14), grace)), None);
        assert_eq!(keys(&bare, Queue::Resting), [2, 3], "1 dropped on the way");
        let found = bare.oldest(Queue::Resting, idle, (at(15), grace));
        assert_eq!(found, Some((2, 22, Duration::from_millis(5))));
        assert_eq!(keys(&bare, Queue::Resting), [3]);
        assert_eq!(bare.oldest(Queue::Bare, idle, (at(99), grace)), None);
    }
}
