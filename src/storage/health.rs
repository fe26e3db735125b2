//! Whether the storage can serve files now, for a balancer's check
//! (`HEALTH`, `/.ferry-health`): a probe of the root, cached for a second
//! so that checks cost no disk, and never run twice at once. A writable
//! server's probe writes, flushes and removes a file of its own under
//! `.ferry-nodes/` (what an upload needs); a read-only one's looks at the
//! root. A probe that does not come back (a network file system gone
//! silent) makes every check fail after [`OVERDUE`], without another
//! probe piling up behind it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::gate::Point;
use super::{Storage, StorageError};

/// How long a probe's answer stands.
const FRESH: Duration = Duration::from_secs(1);
/// How long a probe may take before the storage counts as not answering.
pub const OVERDUE: Duration = Duration::from_secs(2);

/// What the last probe said, and whether one is under way.
#[derive(Debug, Default)]
pub(super) struct Health(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    last: Option<(Instant, Result<(), String>)>,
    probing_since: Option<Instant>,
}

impl Storage {
    /// The storage's health if it is known without a probe: the last
    /// answer while fresh (or while a probe not yet overdue runs), an
    /// error once a probe is overdue. `None`: a probe is due, and the
    /// caller runs it ([`Storage::probe_health`], on the I/O pool).
    pub fn health_known(&self) -> Option<Result<(), String>> {
        let mut state = self.health.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(since) = state.probing_since {
            let waited = now.duration_since(since);
            if waited > OVERDUE {
                return Some(Err(format!(
                    "the storage has not answered a probe for {:.1} s",
                    waited.as_secs_f64()
                )));
            }
            // No second probe behind the first: its answer stands, or,
            // before any, not ready yet.
            return Some(match &state.last {
                Some((_, last)) => last.clone(),
                None => Err("the storage's first probe is under way".into()),
            });
        }
        match &state.last {
            Some((when, last)) if now.duration_since(*when) < FRESH => Some(last.clone()),
            _ => {
                state.probing_since = Some(now);
                None
            }
        }
    }

    /// Probes the storage (blocks on the disk: the I/O pool's work) and
    /// keeps the answer.
    pub fn probe_health(&self) -> Result<(), String> {
        let answer = self.probe().map_err(|err| err.to_string());
        let mut state = self.health.0.lock().unwrap_or_else(|e| e.into_inner());
        state.last = Some((Instant::now(), answer.clone()));
        state.probing_since = None;
        answer
    }

    fn probe(&self) -> Result<(), StorageError> {
        self.pause(Point::Health);
        self.injected_fault(Point::Health)?;
        rustix::fs::statat(&*self.root, ".", AtFlags::empty())?;
        let Some(nodes) = &self.nodes else {
            return Ok(()); // read-only: nothing to write
        };
        let name = format!("{}.health", self.node);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = rustix::fs::openat(nodes, name.as_str(), flags, Mode::from_raw_mode(0o600))?;
        let written = rustix::io::write(&file, b"ok\n")
            .and_then(|_| rustix::fs::fdatasync(&file))
            .map_err(StorageError::from);
        drop(file);
        let removed = rustix::fs::unlinkat(nodes, name.as_str(), AtFlags::empty());
        written?;
        removed?;
        Ok(())
    }
}
