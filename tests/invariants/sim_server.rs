//! The simulated server (`simulation.rs`): its store, the memory store
//! or a POSIX root opened as a server opens it, and what a start makes
//! anew (the access control, the walks per client, the hooks); and its
//! restart after a crash (`sim_crash.rs`), as a killed process's: no
//! destructor of the old one's runs, the kernel's part (closing its
//! descriptors, which lets go of its locks) done by hand, then a start and
//! the start-up sweep.
#![cfg(all(feature = "webdav", feature = "tus"))] // the simulation's (simulation.rs)

use std::mem;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use ferry::Config;
use ferry::access::Access;
use ferry::access::per_client::PerClient;
use ferry::hooks::Hooks;
use ferry::serve::Served;
use ferry::storage::memory::MemoryStore;
use ferry::storage::{Claim, Storage, Store};

use super::sim_conn::World;

/// The node id the server serves a POSIX root as.
const NODE: &str = "sim";

/// The simulated server: its store, and what a start makes anew (the
/// access control, the walks per client, the hooks).
pub struct Server<'a> {
    pub config: &'a Config,
    engine: Engine<'a>,
    /// Where the hooks run (the root, or a folder of the test's).
    dir: &'a Path,
    access: Arc<Access>,
    hooks: Hooks,
    walks: Arc<PerClient>,
    /// Restarts so far.
    pub(super) restarts: u64,
}

enum Engine<'a> {
    /// The memory store, which outlives a crash as a disk does.
    Memory(&'a MemoryStore),
    /// A POSIX root, and the storage open on it (`None` only while it
    /// restarts).
    Posix(&'a Path, Option<Box<Storage>>),
}

impl<'a> Server<'a> {
    pub fn memory(store: &'a MemoryStore, config: &'a Config, dir: &'a Path) -> Server<'a> {
        Server::of(Engine::Memory(store), config, dir)
    }

    /// A server of `root`, started (and swept) as a server starts.
    pub fn posix(root: &'a Path, config: &'a Config) -> Server<'a> {
        let storage = Box::new(start_posix(root, config).unwrap());
        Server::of(Engine::Posix(root, Some(storage)), config, root)
    }

    fn of(engine: Engine<'a>, config: &'a Config, dir: &'a Path) -> Server<'a> {
        Server {
            config,
            engine,
            dir,
            access: Arc::new(Access::new(&config.access).unwrap()),
            hooks: Hooks::new(config.hooks.clone(), dir),
            walks: Arc::new(PerClient::new(0)),
            restarts: 0,
        }
    }

    pub fn store(&self) -> &dyn Store {
        match &self.engine {
            Engine::Memory(store) => *store,
            Engine::Posix(_, storage) => &**storage.as_ref().expect("a storage once started"),
        }
    }

    /// What the serve layer is lent, and the access control.
    pub fn world(&self) -> World<'_> {
        World {
            served: Served {
                store: self.store(),
                config: self.config,
                hooks: &self.hooks,
                walks: &self.walks,
            },
            access: &self.access,
        }
    }

    /// Kills the server (its connections and jobs forgotten by the
    /// caller) and starts it again.
    ///
    /// # Errors
    /// The start-up sweep left an account busy, or the root could not be
    /// opened again.
    pub(super) fn restart(&mut self) -> Result<(), String> {
        match &mut self.engine {
            Engine::Memory(store) => store.restart(),
            Engine::Posix(root, storage) => {
                mem::forget(storage.take());
                close_descriptors_under(root);
                *storage = Some(Box::new(start_again(root, self.config)?));
            }
        }
        // The process's memory, gone with it, as it was: no destructor.
        let access = Access::new(&self.config.access).map_err(|e| e.to_string())?;
        mem::forget(mem::replace(&mut self.access, Arc::new(access)));
        let hooks = Hooks::new(self.config.hooks.clone(), self.dir);
        mem::forget(mem::replace(&mut self.hooks, hooks));
        mem::forget(mem::replace(&mut self.walks, Arc::new(PerClient::new(0))));
        self.restarts += 1;
        Ok(())
    }

    /// A temp file of the server's beneath the POSIX root, if one is left
    /// (`.ferry-tmp-<node>-<run>-…` and the like in ferry's own folders).
    pub(super) fn leftover_temp_file(&self) -> Option<String> {
        let Engine::Posix(root, _) = &self.engine else {
            return None;
        };
        let mark = format!("-{NODE}-");
        let mut folders = vec![root.to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let entry = entry.unwrap();
                match entry.file_type().unwrap().is_dir() {
                    true => folders.push(entry.path()),
                    false if entry.file_name().to_string_lossy().contains(&mark) => {
                        return Some(entry.path().display().to_string());
                    }
                    false => {}
                }
            }
        }
        None
    }
}

/// Starts a server on `root`, as `server/mod.rs` does as far as storage
/// goes (the root claimed before anything else, then opened with the
/// claim: a new run id, the journal moved aside; usage counted), then
/// sweeps it as `server/sweeps.rs`'s `sweep_at_start` does.
///
/// # Errors
/// The root cannot be claimed or opened, or the recount failed or left
/// an account busy (nothing else runs meanwhile here).
fn start_posix(root: &Path, config: &Config) -> Result<Storage, String> {
    let claim = Claim::take(root, NODE, false).map_err(|e| format!("claim: {e}"))?;
    let mut storage = Storage::open_claimed(claim).map_err(|e| format!("open: {e}"))?;
    storage.set_durable(config.fsync);
    let tokens = config.access.tokens.is_some();
    let counted = storage.count_usage(&config.quotas, tokens);
    counted.map_err(|e| format!("count usage: {e}"))?;
    let _ = storage.probe_file_system();
    storage.remove_stale_temp_files();
    storage.expire_upload_sessions(config.session_ttl());
    let recount = storage
        .recount_usage()
        .map_err(|e| format!("recount: {e}"))?;
    if recount.busy > 0 {
        return Err(format!("the start-up recount left {recount:?}"));
    }
    Ok(storage)
}

/// [`start_posix`] after a crash. A test beside this one that spawns a
/// process (the model test's OpenSSH clients) holds, in the child, a copy
/// of every descriptor until the child's `exec` closes it, the crashed
/// server's claim of the root among them: its `flock` is let go only then.
/// No event tells when, so the claim is tried again for a while (at most
/// [`CLAIM_PATIENCE`]), as `ferry up` starts a node again until its lock
/// is free; a claim still held after that is a descriptor the crash left
/// open, and fails the run.
fn start_again(root: &Path, config: &Config) -> Result<Storage, String> {
    let started = std::time::Instant::now();
    loop {
        match start_posix(root, config) {
            Err(err) if err.starts_with("claim:") && started.elapsed() < CLAIM_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            started => return started,
        }
    }
}

/// How long a restart waits for a spawned child to let go of the crashed
/// server's claim ([`start_again`]): an `exec` takes microseconds to
/// milliseconds, even on a loaded machine well under this.
const CLAIM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes every descriptor of this process open on `root` or beneath it,
/// as the kernel closes a killed process's, letting go of the locks they
/// hold: here those of the server's state the crash forgot. Nothing else
/// holds one there (the tests beside this one have folders of their own).
fn close_descriptors_under(root: &Path) {
    let root = root.canonicalize().unwrap();
    let mut under = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // Closed since it was listed (the listing's own): not the root's.
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        // A file unlinked since says so after its path: still beneath.
        if target.starts_with(&root) {
            under.push(fd);
        }
    }
    for fd in under {
        // SAFETY: `fd` is open beneath the root, where only the server's
        // forgotten state holds descriptors: nothing will close or use it
        // again.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}
