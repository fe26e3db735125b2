//! What a walk over a folder left undone ([`Left`]: what
//! [`Store::remove_tree`](super::Store::remove_tree) and
//! [`Store::copy_tree`](super::Store::copy_tree) answer), and a
//! folder's removal's account of it ([`Removal`]), kept alike by every
//! engine (the POSIX root's `posix/remove.rs` and `posix/copy.rs`, the
//! memory store's `memory/namespace.rs`).

use std::collections::HashSet;

use super::StorageError;

/// The most members a folder's removal or copy names in what it left;
/// the rest are counted, not named. The names are held in memory until
/// the answer is written, so they are bounded whatever the folder holds.
pub const MAX_NAMED: usize = 10_000;

/// What a walk over a folder (a removal, a copy) left undone: nothing
/// when it all went; the names at most [`MAX_NAMED`], the rest counted.
#[derive(Debug, Default)]
pub struct Left {
    /// Files the judge kept (the caller's grants), by name.
    pub kept: Vec<String>,
    /// Members that failed, by name (a folder's ends in `/`), and why.
    pub failed: Vec<(String, StorageError)>,
    /// Members left beyond the [`MAX_NAMED`] named above.
    pub more: u64,
}

impl Left {
    /// Whether nothing was left.
    pub fn is_complete(&self) -> bool {
        self.kept.is_empty() && self.failed.is_empty() && self.more == 0
    }

    /// Whether [`MAX_NAMED`] members are named already (then one more
    /// is only counted).
    fn full(&mut self) -> bool {
        let full = self.kept.len() + self.failed.len() >= MAX_NAMED;
        self.more += u64::from(full);
        full
    }

    /// Tells of `name`, which the judge kept.
    pub(super) fn keep(&mut self, name: &str) {
        if !self.full() {
            self.kept.push(name.to_owned());
        }
    }

    /// Tells of `name`, which failed with `err`.
    pub(super) fn fail(&mut self, name: String, err: StorageError) {
        if !self.full() {
            self.failed.push((name, err));
        }
    }
}

/// What a folder's removal left behind (nothing, when it is all gone).
#[derive(Debug, Default)]
pub struct Removal {
    /// What stayed, and why.
    pub left: Left,
    /// The folders (ending in `/`) above something told of: they stay
    /// without a word of their own.
    pub(super) holding: HashSet<String>,
}

impl Removal {
    /// Notes that `name` stays: every folder above it stays too (each
    /// noted once, so a walk costs one pass however much stays).
    pub(super) fn note(&mut self, name: &str) {
        let mut dir = name.strip_suffix('/').unwrap_or(name);
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if !self.holding.insert(format!("{parent}/")) {
                break;
            }
            dir = parent;
        }
    }

    pub(super) fn keep(&mut self, name: &str) {
        self.note(name);
        self.left.keep(name);
    }

    pub(super) fn fail(&mut self, name: String, err: StorageError) {
        self.note(&name);
        if name.ends_with('/') {
            // Told of itself: not again when it cannot be removed.
            self.holding.insert(name.clone());
        }
        self.left.fail(name, err);
    }
}
