//! Failed authentications, per client address: a few are free, then each
//! further attempt must wait longer, and then the address is refused for a
//! while. An attempt that comes too early is refused at once, without its
//! token being looked at, so guessing is slowed to a crawl while the event
//! loop never waits and nobody else is slowed.
//!
//! The figures (documented in docs/security.md):
//!
//! ```text
//! FREE_FAILURES   5 failures in a row are answered plainly
//! then            the next attempt waits 1 s after the last failure,
//!                 doubling with each failure up to MAX_SPACING (60 s)
//! LOCKOUT_AFTER   20 failures: every attempt is refused for LOCKOUT (15 min)
//! FORGET_AFTER    an address with no failure for 15 min starts afresh
//! ```
//!
//! IPv6 addresses count by their /64, which one host usually holds whole
//! (the rule of every per-client limit: `client_key.rs`).
//! A success does not wipe the record: a client holding one good token
//! could otherwise reset its count between guesses.
//!
//! # The table, and what a flood of addresses can do to it
//!
//! At most [`MAX_ADDRESSES`] records are kept, in [`SHARDS`] shards that
//! each have a lock of their own, so the reactors' failures from different
//! addresses rarely meet on one lock. An address's shard is chosen by a
//! hash with a key drawn at start, so nobody can aim their addresses at
//! another address's shard.
//!
//! When a shard is full, a new address takes the place of a record that
//! is stale (no failure for [`FORGET_AFTER`]), else of one with the fewest
//! failures, the oldest of those. This is the rule the table always had;
//! what changed is its cost. It used to scan every record (65,536, under
//! one lock, on an event loop) per new address once the table was full;
//! now a shard keeps its records in one list per failure count (all counts
//! from [`LOCKOUT_AFTER`] up share one), each in the order of their last
//! failure, since a failure moves its record to the end of the next
//! count's list. So the stale records of a count are at the front of its
//! list, and the fewest-failures oldest record is the front of the first
//! list that is not empty: making room looks at the fronts only, at most
//! [`LEVELS`] records, whatever the table holds.
//!
//! Why this rule, and not time buckets (drop the oldest bucket whole) or a
//! random eviction: both evict a locked-out address (20 failures, the one
//! worth remembering) as readily as an address that failed once, so a
//! flood of 65,536 new addresses, one failure each, would free a locked-out
//! guesser within seconds. Here a locked-out record goes only when every
//! record of its shard is stale or locked out too: the flood must lock out
//! a whole shard's worth of its own addresses first (20 paced failures
//! each, about 10 minutes), and, not knowing the shard, about every shard's
//! worth, as before.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::client_key::client_key as key;

/// Failures answered without delay.
pub const FREE_FAILURES: u32 = 5;
/// The wait after the first failure beyond the free ones; it doubles.
pub const FIRST_SPACING: Duration = Duration::from_secs(1);
/// The longest wait between attempts before the lockout.
pub const MAX_SPACING: Duration = Duration::from_secs(60);
/// Failures after which an address is locked out.
pub const LOCKOUT_AFTER: u32 = 20;
/// How long a lockout lasts (from the last failure).
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// How long a record is kept after its last failure.
pub const FORGET_AFTER: Duration = LOCKOUT;
/// Most addresses remembered at once (about 128 bytes each, index and
/// lists included: 8 MiB when full).
pub const MAX_ADDRESSES: usize = 65_536;
/// Shards of the table, each with its own lock.
pub const SHARDS: usize = 32;
/// Records in one shard.
const SHARD_CAPACITY: usize = MAX_ADDRESSES / SHARDS;
/// Lists of records by failure count: 1, 2, ... and [`LOCKOUT_AFTER`] or
/// more.
pub const LEVELS: usize = LOCKOUT_AFTER as usize;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

impl Record {
    /// When this address may try again.
    fn next_attempt(&self) -> Instant {
        if self.failures >= LOCKOUT_AFTER {
            return self.last + LOCKOUT;
        }
        match self.failures.checked_sub(FREE_FAILURES) {
            None => self.last,
            Some(beyond) => {
                let spacing = FIRST_SPACING.saturating_mul(1 << beyond.min(16));
                self.last + spacing.min(MAX_SPACING)
            }
        }
    }

    /// The list it belongs to.
    fn level(&self) -> usize {
        (self.failures.clamp(1, LOCKOUT_AFTER) - 1) as usize
    }

    fn is_stale(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) > FORGET_AFTER
    }
}

/// The failures of recent addresses.
#[derive(Debug)]
pub struct Throttle {
    shards: Box<[Mutex<Shard>]>,
    /// Picks an address's shard (keyed at random per process).
    spread: RandomState,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            spread: RandomState::new(),
        }
    }
}

/// One address's attempt: its shard locked, so that the attempt is
/// admitted and its failure counted as one step.
#[derive(Debug)]
pub struct Attempt<'a> {
    shard: MutexGuard<'a, Shard>,
    key: u128,
}

impl Throttle {
    /// Starts an attempt to authenticate from `addr` (its shard is locked
    /// until the attempt is dropped).
    pub fn attempt(&self, addr: IpAddr) -> Attempt<'_> {
        let key = key(addr);
        let at = (self.spread.hash_one(key) % SHARDS as u64) as usize;
        let shard = self.shards[at]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Attempt { shard, key }
    }

    /// Records looked at to make room, in all (for tests of the bound).
    #[cfg(test)]
    fn examined(&self) -> u64 {
        let shards = self.shards.iter();
        shards.map(|s| s.lock().unwrap().examined).sum()
    }

    /// Records kept, in all.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap().index.len())
            .sum()
    }
}

impl Attempt<'_> {
    /// Whether the address may try to authenticate now; if not, how long
    /// until it may.
    ///
    /// # Errors
    /// The wait, for a `Retry-After`.
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        match self.shard.get(self.key) {
            Some(record) if record.next_attempt() > now => Err(record.next_attempt() - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt.
    pub fn failed(&mut self, now: Instant) {
        self.shard.failed(self.key, now);
    }
}

/// No slot: the end of a list.
const NIL: u32 = u32::MAX;

/// A record in its level's list.
#[derive(Debug)]
struct Slot {
    key: u128,
    record: Record,
    prev: u32,
    next: u32,
}

/// The two ends of one level's list.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// One shard: the records of some addresses, found by key, and linked in
/// one list per level, each in the order of the records' last failures.
#[derive(Debug)]
struct Shard {
    index: HashMap<u128, u32>,
    slots: Vec<Slot>,
    /// Slots of forgotten records, to be used again.
    free: Vec<u32>,
    levels: [List; LEVELS],
    /// Records looked at to make room, in all.
    examined: u64,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            levels: [List {
                head: NIL,
                tail: NIL,
            }; LEVELS],
            examined: 0,
        }
    }
}

impl Shard {
    fn get(&self, key: u128) -> Option<&Record> {
        let at = *self.index.get(&key)?;
        Some(&self.slots[at as usize].record)
    }

    /// Counts a failure of `key`: its record moves to the end of the next
    /// level's list (or of the first, for a new or forgotten one).
    fn failed(&mut self, key: u128, now: Instant) {
        let at = match self.index.get(&key) {
            Some(&at) => {
                self.unlink(at);
                at
            }
            None => {
                if self.index.len() >= SHARD_CAPACITY {
                    self.make_room(now);
                }
                let at = self.new_slot(key, now);
                self.index.insert(key, at);
                at
            }
        };
        let record = &mut self.slots[at as usize].record;
        if record.is_stale(now) {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last = now;
        self.push_back(at);
    }

    /// Forgets the front of the first list whose front is stale, or else
    /// the front of the first list that is not empty: the oldest record
    /// with the fewest failures. Looks at [`LEVELS`] records at most.
    fn make_room(&mut self, now: Instant) {
        let mut fewest = None;
        let mut stale = None;
        for list in self.levels {
            if list.head == NIL {
                continue;
            }
            self.examined += 1;
            fewest = fewest.or(Some(list.head));
            if self.slots[list.head as usize].record.is_stale(now) {
                stale = Some(list.head);
                break;
            }
        }
        if let Some(at) = stale.or(fewest) {
            self.unlink(at);
            self.index.remove(&self.slots[at as usize].key);
            self.free.push(at);
        }
    }

    /// A slot for a new record of `key` (its failures counted by the
    /// caller), not yet in a list.
    fn new_slot(&mut self, key: u128, now: Instant) -> u32 {
        let slot = Slot {
            key,
            record: Record {
                failures: 0,
                last: now,
            },
            prev: NIL,
            next: NIL,
        };
        match self.free.pop() {
            Some(at) => {
                self.slots[at as usize] = slot;
                at
            }
            None => {
                self.slots.push(slot);
                // At most SHARD_CAPACITY slots, far below NIL.
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Takes slot `at` out of its level's list.
    fn unlink(&mut self, at: u32) {
        let slot = &self.slots[at as usize];
        let (prev, next, level) = (slot.prev, slot.next, slot.record.level());
        match prev {
            NIL => self.levels[level].head = next,
            prev => self.slots[prev as usize].next = next,
        }
        match next {
            NIL => self.levels[level].tail = prev,
            next => self.slots[next as usize].prev = prev,
        }
    }

    /// Puts slot `at` at the end of its level's list.
    fn push_back(&mut self, at: u32) {
        let level = self.slots[at as usize].record.level();
        let tail = self.levels[level].tail;
        let slot = &mut self.slots[at as usize];
        slot.prev = tail;
        slot.next = NIL;
        match tail {
            NIL => self.levels[level].head = at,
            tail => self.slots[tail as usize].next = at,
        }
        self.levels[level].tail = at;
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn fail(throttle: &Throttle, addr: IpAddr, now: Instant) {
        throttle.attempt(addr).failed(now);
    }

    fn admit(throttle: &Throttle, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        throttle.attempt(addr).admit(now)
    }

    /// The `n`th address of a flood (never 192.0.2.0/24).
    fn flood(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + n))
    }

    #[test]
    fn failures_space_attempts_then_lock_the_address_out() {
        let throttle = Throttle::default();
        let addr: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(admit(&throttle, addr, t0).is_ok());
            fail(&throttle, addr, t0);
        }
        assert_eq!(admit(&throttle, addr, t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(admit(&throttle, addr, t1).is_ok());
        fail(&throttle, addr, t1);
        assert_eq!(admit(&throttle, addr, t1), Err(Duration::from_secs(2)));
        assert!(admit(&throttle, other, t0).is_ok(), "others are not slowed");
        let mut now = t1;
        for _ in FREE_FAILURES + 1..LOCKOUT_AFTER {
            now += MAX_SPACING;
            assert!(admit(&throttle, addr, now).is_ok());
            fail(&throttle, addr, now);
        }
        assert_eq!(admit(&throttle, addr, now), Err(LOCKOUT));
        assert!(admit(&throttle, addr, now + LOCKOUT).is_ok());
        // Forgotten after a quiet spell: free failures again.
        let later = now + FORGET_AFTER + Duration::from_secs(1);
        fail(&throttle, addr, later);
        assert!(admit(&throttle, addr, later).is_ok());
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for last in 0..FREE_FAILURES {
            let addr: IpAddr = format!("2001:db8::{last}").parse().unwrap();
            fail(&throttle, addr, t0);
        }
        let same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let other_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(admit(&throttle, same_64, t0).is_err());
        assert!(admit(&throttle, other_64, t0).is_ok());
    }

    /// Once a shard is full, a new address costs a look at no more than
    /// one record per level (the old table scanned every record: 65,536),
    /// however the records are spread over the levels.
    #[test]
    fn making_room_looks_at_one_record_per_level_at_most() {
        let mut shard = Shard::default();
        let t0 = Instant::now();
        let levels = (1..=LOCKOUT_AFTER + 3).cycle();
        for (key, failures) in (0..SHARD_CAPACITY as u128).zip(levels) {
            for _ in 0..failures {
                shard.failed(key, t0);
            }
        }
        assert_eq!(shard.examined, 0, "no room was made while there was some");
        let more = 10_000;
        for key in 0..more {
            shard.failed(1 << 64 | key, t0 + Duration::from_secs(1));
            assert!(shard.examined <= (key as u64 + 1) * LEVELS as u64);
        }
        assert_eq!(shard.index.len(), SHARD_CAPACITY);
    }

    /// The same over the whole table: full, it stays full, and each new
    /// address looks at a bounded number of records.
    #[test]
    fn a_full_table_makes_room_at_a_bounded_cost() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let mut n = 0;
        while throttle.len() < MAX_ADDRESSES {
            fail(&throttle, flood(n), t0);
            n += 1;
        }
        let before = throttle.examined();
        let more = 10_000;
        for m in 0..more {
            fail(&throttle, flood(n + m), t0);
        }
        let examined = throttle.examined() - before;
        assert!(examined <= u64::from(more) * LEVELS as u64, "{examined}");
        assert_eq!(throttle.len(), MAX_ADDRESSES);
    }

    /// A flood of new addresses, each failing up to just short of the
    /// lockout (more than a shard holds), does not free a locked-out
    /// address of the shard before its lockout ends; once stale, it may go.
    #[test]
    fn a_flood_of_addresses_does_not_evict_a_locked_out_one() {
        let mut shard = Shard::default();
        let guesser = 1 << 100;
        let mut now = Instant::now();
        for _ in 0..LOCKOUT_AFTER {
            now += MAX_SPACING;
            shard.failed(guesser, now);
        }
        let locked_at = now;
        let until = |shard: &Shard| shard.get(guesser).map(Record::next_attempt);
        assert_eq!(until(&shard), Some(locked_at + LOCKOUT));
        for round in 1..LOCKOUT_AFTER {
            now += Duration::from_secs(1);
            for key in 0..SHARD_CAPACITY as u128 + 128 {
                shard.failed(key, now);
            }
            let left = until(&shard);
            assert_eq!(left, Some(locked_at + LOCKOUT), "round {round}");
        }
        // Once the lockout has passed, the shard may forget it.
        let after = locked_at + FORGET_AFTER + Duration::from_secs(1);
        for key in 0..SHARD_CAPACITY as u128 {
            shard.failed(1 << 64 | key, after);
        }
        assert_eq!(until(&shard), None);
    }

    #[test]
    fn a_shard_keeps_its_lists_in_step_with_its_records() {
        let mut shard = Shard::default();
        let t0 = Instant::now();
        for key in 0..SHARD_CAPACITY as u128 * 3 {
            for _ in 0..=(key % 4) {
                shard.failed(key % (SHARD_CAPACITY as u128 + 7), t0);
            }
        }
        let mut listed = 0;
        for (level, list) in shard.levels.iter().enumerate() {
            let mut at = list.head;
            let mut prev = NIL;
            while at != NIL {
                let slot = &shard.slots[at as usize];
                assert_eq!(slot.record.level(), level);
                assert_eq!(slot.prev, prev);
                assert_eq!(shard.index[&slot.key], at);
                listed += 1;
                (prev, at) = (at, slot.next);
            }
            assert_eq!(list.tail, prev);
        }
        assert_eq!(listed, shard.index.len());
        assert_eq!(shard.index.len(), SHARD_CAPACITY);
    }
}
