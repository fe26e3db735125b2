//! What stands in for the hook runner (`runner.rs`) in a build without
//! the `hooks` feature (`hooks/mod.rs` puts this file at its path):
//! [`Hooks`] that has none and a [`Runner`] with no thread. Every
//! question the serve layer asks is answered "no hook" by a function the
//! compiler sees through, so the commit's hook branches, the children
//! (`child.rs`) and the runner's queue are not in the binary. Hook flags
//! are refused when the server starts
//! ([`crate::config::Config::unbuilt`]).

use std::io;
use std::path::{Path, PathBuf};

use super::{Facts, HookConfig, Verdict};
use crate::access::Owner;

/// The server's hooks, in a build without them: none.
#[derive(Debug, Clone)]
pub struct Hooks;

impl Hooks {
    /// No hooks, whatever `config` says (it was refused at start).
    pub fn new(_config: HookConfig, _root: &Path) -> Hooks {
        Hooks
    }

    /// None is configured.
    pub fn configured(&self) -> bool {
        false
    }

    /// No upload waits for a hook.
    pub fn vetoes(&self) -> bool {
        false
    }

    /// No upload is told to a hook.
    pub fn notifies(&self) -> bool {
        false
    }

    /// `relative` as it is: no hook is told a path.
    pub fn path_of(&self, relative: &Path) -> PathBuf {
        relative.to_path_buf()
    }

    /// Accepts: there is no hook to ask.
    pub fn veto(&self, _facts: &Facts) -> Verdict {
        Verdict::Accept
    }

    /// Nothing to tell.
    pub fn uploaded(&self, _facts: Facts, _owner: Option<Owner>) {}

    /// A place that holds nothing (never asked for: nothing vetoes).
    ///
    /// # Errors
    /// Never.
    pub fn reserve(&self, _owner: Option<&Owner>) -> Result<Slot, ShareFull> {
        Ok(Slot)
    }

    /// Never called: only a before-commit hook's job comes here, and no
    /// upload waits for one in this build.
    pub fn submit(&self, _veto: impl FnOnce() + Send + 'static) {
        unreachable!("no before-commit hook in a build without hooks")
    }
}

/// A place in an owner's share: nothing to hold.
#[derive(Debug)]
pub struct Slot;

/// Given back when dropped, as the runner's is (the commit drops it once
/// the hook has ended): here there is nothing to give back.
impl Drop for Slot {
    fn drop(&mut self) {}
}

/// An owner's share is full (never, here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareFull;

/// The hook runner, in a build without hooks: no thread.
pub struct Runner;

impl Runner {
    /// No thread to start.
    ///
    /// # Errors
    /// Never; kept for the caller's `?`.
    pub fn start(_hooks: &Hooks) -> io::Result<Runner> {
        Ok(Runner)
    }

    /// Nothing to close.
    pub fn close(&self) {}
}
