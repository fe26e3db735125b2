//! Each node's rules beside its lock (`.ferry-nodes/<node>.rules`, the
//! text of `crate::node_rules::NodeRules`): written by a starting node
//! once it holds its lock, read by the next to start, which compares them
//! with its own (`server/mod.rs`) and refuses to serve by other rules.
//! A gone node's rules are removed by whoever sweeps its leftovers.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::lock::{self, Claim};
use super::nodes;

impl Claim {
    /// Records this node's rules (`rules`, the text of
    /// `crate::node_rules::NodeRules`) beside its lock and returns every
    /// live peer's, `(node, text)`, to be compared. Ours are written first:
    /// of two nodes that start at once, the later to look sees the other's.
    /// A read-only server records none and is given none: it takes no
    /// node lock, and stores nothing a rule could guard.
    ///
    /// # Errors
    /// The rules cannot be written, or the peers' read.
    pub fn agree(&mut self, rules: &str) -> io::Result<Vec<(String, String)>> {
        if self.read_only {
            return Ok(Vec::new());
        }
        self.rules = Some(rules.to_owned());
        let Some(nodes) = self.held.as_ref().and_then(|held| held.nodes.as_ref()) else {
            // No nodes' directory yet: no peer to agree with; the open
            // writes ours when it makes the directory.
            return Ok(Vec::new());
        };
        write_rules(nodes, &self.node, rules)?;
        live_rules(nodes, &self.node)
    }
}

/// The name of node `node`'s rules in `.ferry-nodes` (see `crate::node_rules`).
fn rules_file(node: &str) -> String {
    format!("{node}.rules")
}

/// Records node `node`'s rules (`text`), under a new name renamed over
/// the old, so that a peer reads the old rules or the new, whole. Called
/// with the node's lock held.
///
/// # Errors
/// The file cannot be written or renamed.
pub(super) fn write_rules(nodes: &OwnedFd, node: &str, text: &str) -> io::Result<()> {
    let fresh = format!("{}.new", rules_file(node));
    let flags =
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(nodes, &fresh, flags, Mode::from_raw_mode(0o600))?;
    File::from(fd).write_all(text.as_bytes())?;
    rustix::fs::renameat(nodes, &fresh, nodes, rules_file(node))?;
    Ok(())
}

/// The recorded rules of every live node but `ours`: `(node, text)` for
/// each whose lock is held and whose rules are on file. A node whose lock
/// can be taken is gone, and its rules bind no one.
///
/// # Errors
/// The nodes' directory or a rules file cannot be read.
fn live_rules(nodes: &OwnedFd, ours: &str) -> io::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    for node in nodes::other_nodes(nodes, ours)? {
        if lock::claim(nodes, &lock::lock_file(&node)).is_some() {
            continue;
        }
        if let Some(text) = nodes::read_file(nodes, &rules_file(&node))? {
            found.push((node, text));
        }
    }
    Ok(found)
}

/// Removes gone node `node`'s rules (its lock held by the caller): a
/// node starting meanwhile, which finds that lock held, must not take
/// them for a live peer's.
pub(super) fn forget_rules(nodes: &OwnedFd, node: &str) {
    match rustix::fs::unlinkat(nodes, rules_file(node), AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(errno) => log::debug!("cannot remove gone node {node}'s rules: {errno}"),
    }
}
