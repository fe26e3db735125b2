//! Things a client address holds at once, counted across every reactor so
//! that one address cannot take every slot while others get `busy`: the
//! connections it has open (`--max-connections-per-client`, counted by the
//! server's Hub) and the walks it has queued or running (listings and
//! folder archives, `--max-walks-per-client`, counted by the serve layer
//! with a [`Permit`] each).
//!
//! The count is a table of counters keyed by the address's
//! [`client_key`] (IPv6 by its /64), split into shards, each behind its
//! own lock: an accept or a close locks one shard for one hash-map
//! operation, and reactors accepting from different addresses rarely meet.
//! An entry is removed when its count falls to zero, so the table holds
//! one entry per address with a connection open, never more than the
//! connections themselves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::access::client_key::client_key;

/// Shards of the table: a power of two, well above the reactors' count.
const SHARDS: usize = 64;

/// Walks (listings, `.tar` archives) one client address may have queued or
/// running at once by default (`--max-walks-per-client`): a folder's page,
/// a few archives downloading together. An archive holds its place until
/// its last byte is out, since its member list is memory held for it.
pub const DEFAULT_WALKS_PER_CLIENT: usize = 8;

/// What each client address holds.
#[derive(Debug)]
pub struct PerClient {
    /// Most connections one address may have open; 0: no cap.
    cap: usize,
    shards: Box<[Mutex<HashMap<u128, usize>>]>,
}

impl PerClient {
    /// A table that lets each address hold `cap` places (0: no cap).
    pub fn new(cap: usize) -> PerClient {
        PerClient {
            cap,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The cap in force; 0 when there is none.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counts a connection from `addr` in, unless the address has its cap.
    pub fn admit(&self, addr: IpAddr) -> bool {
        if self.cap == 0 {
            return true;
        }
        let key = client_key(addr);
        let mut shard = self.shard(key);
        let open = shard.entry(key).or_default();
        if *open >= self.cap {
            return false;
        }
        *open += 1;
        true
    }

    /// Counts a connection from `addr` (one [`PerClient::admit`] let in)
    /// out.
    pub fn release(&self, addr: IpAddr) {
        if self.cap == 0 {
            return;
        }
        let key = client_key(addr);
        let mut shard = self.shard(key);
        match shard.get_mut(&key) {
            Some(open) if *open > 1 => *open -= 1,
            Some(_) => {
                shard.remove(&key);
            }
            None => debug_assert!(false, "a connection released that was never admitted"),
        }
    }

    /// A place for `addr`, held until the permit is dropped; `None` when
    /// the address has its cap.
    pub fn permit(self: &Arc<Self>, addr: IpAddr) -> Option<Permit> {
        self.admit(addr).then(|| Permit {
            table: Arc::clone(self),
            addr,
        })
    }

    fn shard(&self, key: u128) -> std::sync::MutexGuard<'_, HashMap<u128, usize>> {
        // Fold both halves (an IPv6 key's low half is constant) and mix, so
        // neighbouring addresses spread over the shards.
        let folded = (key as u64) ^ ((key >> 64) as u64);
        let index = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        self.shards[index % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

/// One place an address holds in a [`PerClient`] table, given back when
/// dropped (wherever that happens: a job run or dropped on the I/O pool, an
/// archive finished or cut short).
#[derive(Debug)]
pub struct Permit {
    table: Arc<PerClient>,
    addr: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.table.release(self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_capped_and_its_entry_goes_with_its_last_connection() {
        let table = PerClient::new(2);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        assert!(table.admit(one) && table.admit(one));
        assert!(!table.admit(one), "a third over the cap");
        assert!(table.admit(other) && table.admit(same_64));
        assert!(!table.admit(other), "a /64 is one client");
        table.release(one);
        assert!(table.admit(one));
        for addr in [one, one, other, same_64] {
            table.release(addr);
        }
        assert_eq!(table.entries(), 0, "memory held by closed connections");
    }

    #[test]
    fn a_cap_of_zero_counts_nothing() {
        let table = PerClient::new(0);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| table.admit(one)));
        assert_eq!(table.entries(), 0);
    }
}
