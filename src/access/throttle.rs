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

use std::collections::HashMap;
use std::net::IpAddr;
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
/// Most addresses remembered at once (about 48 bytes each).
const MAX_ADDRESSES: usize = 65_536;

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
}

/// The failures of recent addresses.
#[derive(Debug, Default)]
pub struct Throttle {
    records: HashMap<u128, Record>,
}

impl Throttle {
    /// Whether `addr` may try to authenticate now; if not, how long until
    /// it may.
    ///
    /// # Errors
    /// The wait, for a `Retry-After`.
    pub fn admit(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.records.get(&key(addr)) {
            Some(record) if record.next_attempt() > now => Err(record.next_attempt() - now),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt from `addr`.
    pub fn failed(&mut self, addr: IpAddr, now: Instant) {
        if self.records.len() >= MAX_ADDRESSES && !self.records.contains_key(&key(addr)) {
            self.make_room(now);
        }
        let record = self.records.entry(key(addr)).or_insert(Record {
            failures: 0,
            last: now,
        });
        if now.duration_since(record.last) > FORGET_AFTER {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last = now;
    }

    /// Forgets stale records; if none is stale, the one with fewest
    /// failures (a flood of new addresses must not evict a locked-out one).
    fn make_room(&mut self, now: Instant) {
        self.records
            .retain(|_, r| now.duration_since(r.last) <= FORGET_AFTER);
        if self.records.len() >= MAX_ADDRESSES {
            let least = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.failures)
                .map(|(k, _)| *k);
            if let Some(least) = least {
                self.records.remove(&least);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_space_attempts_then_lock_the_address_out() {
        let mut throttle = Throttle::default();
        let addr: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(throttle.admit(addr, t0).is_ok());
            throttle.failed(addr, t0);
        }
        assert_eq!(throttle.admit(addr, t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(throttle.admit(addr, t1).is_ok());
        throttle.failed(addr, t1);
        assert_eq!(throttle.admit(addr, t1), Err(Duration::from_secs(2)));
        assert!(throttle.admit(other, t0).is_ok(), "others are not slowed");
        let mut now = t1;
        for _ in FREE_FAILURES + 1..LOCKOUT_AFTER {
            now += MAX_SPACING;
            assert!(throttle.admit(addr, now).is_ok());
            throttle.failed(addr, now);
        }
        assert_eq!(throttle.admit(addr, now), Err(LOCKOUT));
        assert!(throttle.admit(addr, now + LOCKOUT).is_ok());
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64() {
        let mut throttle = Throttle::default();
        let t0 = Instant::now();
        for last in 0..FREE_FAILURES {
            let addr: IpAddr = format!("2001:db8::{last}").parse().unwrap();
            throttle.failed(addr, t0);
        }
        let same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let other_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(throttle.admit(same_64, t0).is_err());
        assert!(throttle.admit(other_64, t0).is_ok());
    }
}
