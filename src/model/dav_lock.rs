//! A WebDAV lock as every layer sees it (RFC 4918 6): what it covers and
//! for how long. The table of locks, its records and their rules are
//! storage's (`storage/posix/dav_locks.rs`) and serve's (`serve/ops/locks.rs`).

use std::sync::Arc;

/// One lock, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavLock {
    /// `opaquelocktoken:<uuid>`.
    pub token: String,
    /// The locked name (a folder's without its `/`).
    pub root: String,
    /// `Depth: infinity` on a folder: everything in it is locked too.
    pub deep: bool,
    /// A shared lock (else exclusive).
    pub shared: bool,
    /// The owner's XML, as given (may be empty); shared, not copied,
    /// by every copy of the table (up to 4 KiB each, a thousand locks).
    pub owner: Arc<str>,
    /// The timeout granted, in seconds.
    pub timeout: u64,
    /// When it ends (Unix seconds, by the lock table's clock, `LockTable::now`).
    pub expires: i64,
    /// Who took it, as the caps count (see `storage/posix/dav_locks.rs`'s
    /// header).
    pub holder: String,
}

impl DavLock {
    /// Whether the lock covers `name` (a file's, or a folder's without its
    /// `/`): its root, or anything below a deep lock's root.
    pub fn covers(&self, name: &str) -> bool {
        name == self.root || (self.deep && is_below(name, &self.root))
    }

    /// Seconds left at `now` (0 once expired).
    pub fn left(&self, now: i64) -> u64 {
        u64::try_from(self.expires.saturating_sub(now)).unwrap_or(0)
    }
}

/// Whether `name` is strictly below folder `folder` (`""`: the root).
pub fn is_below(name: &str, folder: &str) -> bool {
    folder.is_empty() && !name.is_empty()
        || name
            .strip_prefix(folder)
            .is_some_and(|rest| rest.starts_with('/'))
}
