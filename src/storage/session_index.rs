//! The index of upload sessions: every session in the sessions directory,
//! when it was last used and which client began it, held in memory so that
//! expiry and the session caps cost no directory scan per `UPLOAD`. Only a
//! cache of the directory: read from it once (by the start-up sweep, or by
//! the first session request if that comes sooner), then kept in step by
//! every change, all made under one lock.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// The sessions this process knows of (see the module header).
#[derive(Debug, Default)]
pub(super) struct Index {
    loaded: bool,
    known: HashMap<String, Known>,
    /// The same sessions by last use, oldest first: expiry looks only at
    /// the front.
    by_age: BTreeSet<(i64, String)>,
    /// How many sessions each client began.
    per_client: HashMap<IpAddr, usize>,
}

#[derive(Debug, Clone, Copy)]
struct Known {
    /// Last use, in seconds since the epoch (the meta file's mtime).
    used: i64,
    /// Who began it, if known (sessions of older versions do not say).
    client: Option<IpAddr>,
}

impl Index {
    /// Whether the directory has been read into the index.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Records that it has.
    pub fn set_loaded(&mut self) {
        self.loaded = true;
    }

    /// Adds session `id`, or updates it if known.
    pub fn insert(&mut self, id: &str, used: i64, client: Option<IpAddr>) {
        self.remove(id);
        self.known.insert(id.to_owned(), Known { used, client });
        self.by_age.insert((used, id.to_owned()));
        if let Some(client) = client {
            *self.per_client.entry(client).or_default() += 1;
        }
    }

    /// Marks session `id` as used at `now` (adding it, owner unknown, if
    /// it was made by other means).
    pub fn touch(&mut self, id: &str, now: i64) {
        let client = self.known.get(id).and_then(|known| known.client);
        self.insert(id, now, client);
    }

    /// Forgets session `id`.
    pub fn remove(&mut self, id: &str) {
        let Some(known) = self.known.remove(id) else {
            return;
        };
        self.by_age.remove(&(known.used, id.to_owned()));
        if let Some(client) = known.client
            && let Some(count) = self.per_client.get_mut(&client)
        {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&client);
            }
        }
    }

    /// Sessions last used before `cutoff`, oldest first.
    pub fn used_before(&self, cutoff: i64) -> impl Iterator<Item = &str> {
        self.by_age
            .iter()
            .take_while(move |(used, _)| *used < cutoff)
            .map(|(_, id)| id.as_str())
    }

    /// Sessions known in all.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Sessions `client` began.
    pub fn of_client(&self, client: IpAddr) -> usize {
        self.per_client.get(&client).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_counts_follow_every_change() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        let mut index = Index::default();
        index.insert("s1", 100, Some(a));
        index.insert("s2", 50, Some(a));
        index.insert("s3", 200, Some(b));
        index.insert("s4", 10, None);
        assert_eq!(
            (index.len(), index.of_client(a), index.of_client(b)),
            (4, 2, 1)
        );
        assert_eq!(
            index.used_before(101).collect::<Vec<_>>(),
            ["s4", "s2", "s1"]
        );

        index.touch("s2", 300);
        index.touch("s9", 5); // made by other means
        assert_eq!(
            index.used_before(101).collect::<Vec<_>>(),
            ["s9", "s4", "s1"]
        );
        assert_eq!(index.of_client(a), 2, "a touch keeps the owner");

        index.remove("s1");
        index.remove("s1");
        index.remove("s3");
        assert_eq!(
            (index.len(), index.of_client(a), index.of_client(b)),
            (3, 1, 0)
        );
        assert_eq!(
            index.used_before(i64::MAX).collect::<Vec<_>>(),
            ["s9", "s4", "s2"]
        );
    }
}
