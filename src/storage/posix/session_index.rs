//! The index of upload sessions: every session in the sessions directory,
//! when it was last used, whether it holds any byte yet, and which client
//! (and token, and share link) began it, held in memory so that
//! expiry and the session caps cost no directory scan per `UPLOAD`. Only a
//! cache of the directory: read from it once (by the start-up sweep, or by
//! the first session request if that comes sooner), then kept in step by
//! every change, all made under one lock.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use crate::model::LinkId;

/// The sessions this process knows of (see the module header).
#[derive(Debug, Default)]
pub(super) struct Index {
    loaded: bool,
    known: HashMap<String, Known>,
    /// The same sessions by last use, oldest first: expiry looks only at
    /// the front.
    by_age: BTreeSet<(i64, String)>,
    /// Those of them that held no byte when last looked at, by last use:
    /// they expire sooner.
    empty_by_age: BTreeSet<(i64, String)>,
    /// How many sessions each client began.
    per_client: Counts<IpAddr>,
    /// How many sessions each owner (token) began.
    per_owner: Counts<String>,
    /// How many sessions were begun through each share link.
    #[cfg(feature = "shares")]
    per_link: Counts<LinkId>,
    /// The marks of tus uploads stored (`<id>.stored`), by when they were
    /// stored: no session, counted in no cap, removed after the short TTL.
    stored_by_age: BTreeSet<(i64, String)>,
}

#[derive(Debug, Clone)]
struct Known {
    /// Last use, in seconds since the epoch (the meta file's mtime).
    used: i64,
    /// Who began it, if known (sessions of older versions do not say).
    begun_by: BegunBy,
    /// No byte was staged when last looked at.
    empty: bool,
}

/// Who began a session, as far as its record says: the client's address
/// and the owner (a token's name, or the clients without one) it counts
/// against; either is absent in sessions of older versions, and the owner
/// where access control was off. `link`: the share link it was begun
/// through, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct BegunBy {
    pub client: Option<IpAddr>,
    pub owner: Option<String>,
    pub link: Option<LinkId>,
}

/// How many sessions each of some keys began; a key with none is not kept.
#[derive(Debug)]
struct Counts<K>(HashMap<K, usize>);

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts(HashMap::new())
    }
}

impl<K: std::hash::Hash + Eq> Counts<K> {
    fn add(&mut self, key: Option<K>) {
        if let Some(key) = key {
            *self.0.entry(key).or_default() += 1;
        }
    }

    fn subtract(&mut self, key: Option<K>) {
        if let Some(key) = key
            && let Some(count) = self.0.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                self.0.remove(&key);
            }
        }
    }

    fn of<Q>(&self, key: &Q) -> usize
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.get(key).copied().unwrap_or(0)
    }
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

    /// Adds session `id`, or updates it if known; `empty` if it holds no
    /// byte.
    pub fn insert(&mut self, id: &str, used: i64, begun_by: BegunBy, empty: bool) {
        self.remove(id);
        self.per_client.add(begun_by.client);
        self.per_owner.add(begun_by.owner.clone());
        #[cfg(feature = "shares")]
        self.per_link.add(begun_by.link.clone());
        self.known.insert(
            id.to_owned(),
            Known {
                used,
                begun_by,
                empty,
            },
        );
        self.by_age.insert((used, id.to_owned()));
        if empty {
            self.empty_by_age.insert((used, id.to_owned()));
        }
    }

    /// Records that session `id` holds bytes (they are never taken back
    /// but with the session itself).
    pub fn mark_staged(&mut self, id: &str) {
        if let Some(known) = self.known.get_mut(id)
            && std::mem::take(&mut known.empty)
        {
            self.empty_by_age.remove(&(known.used, id.to_owned()));
        }
    }

    /// Marks session `id` as used at `now` (adding it, owner unknown, if
    /// it was made by other means).
    pub fn touch(&mut self, id: &str, now: i64) {
        let (begun_by, empty) = self
            .known
            .get(id)
            .map_or((BegunBy::default(), false), |known| {
                (known.begun_by.clone(), known.empty)
            });
        self.insert(id, now, begun_by, empty);
    }

    /// Forgets session `id`.
    pub fn remove(&mut self, id: &str) {
        let Some(known) = self.known.remove(id) else {
            return;
        };
        self.by_age.remove(&(known.used, id.to_owned()));
        self.empty_by_age.remove(&(known.used, id.to_owned()));
        self.per_client.subtract(known.begun_by.client);
        self.per_owner.subtract(known.begun_by.owner);
        #[cfg(feature = "shares")]
        self.per_link.subtract(known.begun_by.link);
    }

    /// Records the mark of upload `id`, stored at `when`.
    pub fn add_stored(&mut self, id: &str, when: i64) {
        self.stored_by_age.insert((when, id.to_owned()));
    }

    /// Takes the marks of uploads stored before `cutoff`, oldest first.
    pub fn take_stored_before(&mut self, cutoff: i64) -> Vec<String> {
        let mut taken = Vec::new();
        while let Some((when, _)) = self.stored_by_age.first()
            && *when < cutoff
        {
            let Some((_, id)) = self.stored_by_age.pop_first() else {
                break;
            };
            taken.push(id);
        }
        taken
    }

    /// Sessions last used before `cutoff`, oldest first.
    pub fn used_before(&self, cutoff: i64) -> impl Iterator<Item = &str> {
        self.by_age
            .iter()
            .take_while(move |(used, _)| *used < cutoff)
            .map(|(_, id)| id.as_str())
    }

    /// Sessions that held no byte when last looked at, last used at
    /// `from` or later but before `to`, oldest first.
    pub fn empty_used_between(&self, from: i64, to: i64) -> impl Iterator<Item = &str> {
        self.empty_by_age
            .range((from, String::new())..)
            .take_while(move |(used, _)| *used < to)
            .map(|(_, id)| id.as_str())
    }

    /// When session `id` was last used, if known.
    pub fn used(&self, id: &str) -> Option<i64> {
        self.known.get(id).map(|known| known.used)
    }

    /// Every session with its last use, most recent first.
    pub fn newest_first(&self) -> impl Iterator<Item = (&str, i64)> {
        self.by_age
            .iter()
            .rev()
            .map(|(used, id)| (id.as_str(), *used))
    }

    /// Sessions known in all.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Sessions `client` began.
    pub fn of_client(&self, client: IpAddr) -> usize {
        self.per_client.of(&client)
    }

    /// Sessions begun by `owner`'s clients.
    pub fn of_owner(&self, owner: &str) -> usize {
        self.per_owner.of(owner)
    }

    /// Sessions begun through share link `link`.
    #[cfg(feature = "shares")]
    pub fn of_link(&self, link: &LinkId) -> usize {
        self.per_link.of(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_counts_follow_every_change() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        let by = |client: IpAddr, owner: &str| BegunBy {
            client: Some(client),
            owner: Some(owner.to_owned()),
            #[cfg(feature = "shares")]
            link: (owner == "t").then(|| "L".to_owned()),
            #[cfg(not(feature = "shares"))]
            link: None,
        };
        let mut index = Index::default();
        index.insert("s1", 100, by(a, "t"), false);
        index.insert("s2", 50, by(a, "u"), true);
        index.insert("s3", 200, by(b, "t"), true);
        index.insert("s4", 10, BegunBy::default(), false);
        assert_eq!(
            (index.len(), index.of_client(a), index.of_client(b)),
            (4, 2, 1)
        );
        assert_eq!((index.of_owner("t"), index.of_owner("u")), (2, 1));
        #[cfg(feature = "shares")]
        assert_eq!(index.of_link(&"L".to_owned()), 2);
        assert_eq!(
            index.empty_used_between(0, 201).collect::<Vec<_>>(),
            ["s2", "s3"]
        );
        assert_eq!(
            index.empty_used_between(51, 201).collect::<Vec<_>>(),
            ["s3"]
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
        assert_eq!(index.of_client(a), 2, "a touch keeps the client");
        assert_eq!(index.of_owner("u"), 1, "and the owner");
        assert_eq!(
            index.empty_used_between(0, 301).collect::<Vec<_>>(),
            ["s3", "s2"],
            "and whether it is empty"
        );
        index.mark_staged("s3");
        index.mark_staged("s3");
        assert_eq!(index.empty_used_between(0, 301).collect::<Vec<_>>(), ["s2"]);
        index.touch("s3", 150);
        assert_eq!(index.empty_used_between(0, 301).collect::<Vec<_>>(), ["s2"]);

        index.remove("s1");
        index.remove("s1");
        index.remove("s3");
        assert_eq!(
            (index.len(), index.of_client(a), index.of_client(b)),
            (3, 1, 0)
        );
        assert_eq!((index.of_owner("t"), index.of_owner("u")), (0, 1));
        #[cfg(feature = "shares")]
        assert_eq!(index.of_link(&"L".to_owned()), 0);
        assert_eq!(
            index.used_before(i64::MAX).collect::<Vec<_>>(),
            ["s9", "s4", "s2"]
        );
    }
}
