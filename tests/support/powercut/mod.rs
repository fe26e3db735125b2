//! A power-cut simulator: a FUSE file system over a backing folder that
//! remembers what has been made durable, so that a power cut can throw
//! the rest away.
//!
//! ```text
//! Simulator::mount(MOUNT, BACKING, seed)  the mount shows BACKING, written through
//! sim.cut()                                the power goes: every call fails with EIO
//! sim.stop()                               unmounts; after a cut, rolls BACKING back to
//!                                          the durable image (a clean stop keeps it all,
//!                                          as a clean unmount flushes)
//! ```
//!
//! The model and its sources: `model.rs` and docs/reliability.md ("Power
//! cuts"). Used by `tests/crash/power_cuts.rs` and by hand through
//! `cargo run --example powercut`; recording (`record.rs`, from
//! [`Simulator::record`]) and the crash states of a log (`states.rs`) by
//! `tests/crash/states.rs`. Needs `/dev/fuse` and the right to
//! mount (root): [`Simulator::mount`] says why it cannot.
#![allow(dead_code)] // the tool and the tests each use a part

pub mod fs;
pub mod model;
pub mod record;
pub mod states;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use fuser::{Config, MountOption};

use self::fs::{PowerFs, State};
pub use self::model::{Dice, Restored};

/// A mounted simulator. Dropping it unmounts (lazily if the mount is
/// busy) without restoring anything.
pub struct Simulator {
    mountpoint: PathBuf,
    state: Arc<Mutex<State>>,
    session: Option<fuser::BackgroundSession>,
    /// Partial writeback after a cut: keep a random prefix of each file's
    /// unflushed writes, drawn from this seed.
    seed: Option<u64>,
}

impl Simulator {
    /// Mounts the simulator at `mountpoint` over `backing`, everything in
    /// which counts as durable. With `seed`, a cut keeps a seeded-random
    /// prefix of each file's unflushed writes (partial writeback); without,
    /// none.
    ///
    /// # Errors
    /// No `/dev/fuse`, no right to mount, or the folders cannot be used.
    pub fn mount(mountpoint: &Path, backing: &Path, seed: Option<u64>) -> io::Result<Simulator> {
        let state = Arc::new(Mutex::new(State::new(backing, seed.is_some())?));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("powercut".into()),
            MountOption::Subtype("powercut".into()),
            MountOption::DefaultPermissions,
        ];
        let session = fuser::spawn_mount(PowerFs(Arc::clone(&state)), mountpoint, &config)?;
        Ok(Simulator {
            mountpoint: mountpoint.to_path_buf(),
            state,
            session: Some(session),
            seed,
        })
    }

    /// Where it is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Starts recording the operation log: what the backing folder holds
    /// now (counted as durable, as after a `sync`) and every change from
    /// the next call on. Call it while nothing uses the mount.
    ///
    /// # Errors
    /// The backing folder cannot be read.
    pub fn record(&self) -> io::Result<states::Image> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let image = states::Image::scan(&state.backing)?;
        state.log = Some(record::Log::default());
        Ok(image)
    }

    /// A point in the log: how many events are recorded so far (0 when
    /// not recording).
    pub fn mark(&self) -> usize {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.log.as_mut().map_or(0, record::Log::mark)
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<record::Event> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .log
            .as_ref()
            .map_or_else(Vec::new, |log| log.events.clone())
    }

    /// Cuts the power: from the next call on, every call fails with `EIO`,
    /// and what was not durable by now is lost at [`Simulator::stop`].
    pub fn cut(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).off = true;
    }

    /// Unmounts; after a cut, rolls the backing folder back to the durable
    /// image and says what that dropped (`None` after a clean stop: all is
    /// kept). Whoever uses the mount must be gone (killed) first.
    ///
    /// # Errors
    /// The unmount or the restore failed.
    pub fn stop(mut self) -> io::Result<Option<Restored>> {
        // Unmounted before the session is let go: if this fails, drop
        // still finds the session and detaches the mount.
        self.unmount()?;
        let session = self.session.take().expect("mounted");
        match session.join() {
            // The kernel may end the connection by aborting it once the
            // mount is gone (a killed client left requests behind).
            Err(err) if err.kind() != io::ErrorKind::ConnectionAborted => return Err(err),
            _ => {}
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.off {
            std::fs::remove_dir_all(&state.durable.store)?;
            return Ok(None);
        }
        let detached = state.durable.detached();
        let mut durable = std::mem::replace(&mut state.durable, detached);
        let dice = self.seed.map(|seed| Dice(seed | 1));
        let restored = durable.restore(|ino| state.path(ino), dice)?;
        Ok(Some(restored))
    }
}

impl Simulator {
    /// Unmounts, waiting (10 s at most) while the mount is busy: a file
    /// just closed is released by the kernel a moment later, and a child
    /// process another test forks holds copies of every descriptor until
    /// it execs.
    fn unmount(&self) -> io::Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let status = Command::new("umount")
                .arg(&self.mountpoint)
                .stderr(std::process::Stdio::null())
                .status()?;
            if status.success() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "{} stayed busy",
                    self.mountpoint.display()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Simulator {
    /// A test that failed must leave nothing mounted: unmount, lazily if
    /// something still holds the mount.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.state.lock().unwrap_or_else(|p| p.into_inner()).off = true;
            if self.unmount().is_err() {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&self.mountpoint)
                    .status();
            }
            // Not joined: a lazily detached mount serves its last users
            // until they let go, and a failing test must not wait for them.
            drop(session);
        }
    }
}

/// Whether this machine can run the simulator; if not, why (for a test's
/// "skipping" line).
pub fn unavailable() -> Option<String> {
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse".into());
    }
    if !rustix::process::geteuid().is_root() {
        return Some("mounting needs root".into());
    }
    None
}
