//! Whether the storage can serve files now, for a balancer's check
//! (`HEALTH`, `/.ferry-health`): a probe of the root, cached for a second
//! so that checks cost no disk, and never run twice at once. A writable
//! server's probe writes, flushes and removes a file of its own under
//! `.ferry-nodes/` (what an upload needs); a read-only one's looks at the
//! root. A probe that does not come back (a network file system gone
//! silent) makes every check fail after [`OVERDUE`], without another
//! probe piling up behind it.
//!
//! A storage that stops answering is logged once, when a probe first
//! fails (or is first overdue), and once more when one answers again,
//! with how long it was out: not once per check, which is once a second
//! per protocol behind a balancer.

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
    /// Since when the probes fail (logged then, and when they stop).
    failing_since: Option<Instant>,
}

/// What a probe's answer changes in `failing_since`, and the line to log
/// (a warning when the failures begin, a note when they end); `None`
/// while nothing changes.
fn transition(
    failing_since: Option<Instant>,
    answer: &Result<(), String>,
    now: Instant,
) -> (Option<Instant>, Option<(log::Level, String)>) {
    match (failing_since, answer) {
        (None, Err(reason)) => {
            let said = format!(
                "the storage is not ready: {reason}; health checks fail until it answers (logged once)"
            );
            (Some(now), Some((log::Level::Warn, said)))
        }
        (Some(since), Ok(())) => {
            let out = now.duration_since(since).as_secs_f64();
            let said = format!("the storage answers again, after {out:.1} s; health checks pass");
            (None, Some((log::Level::Info, said)))
        }
        (since, _) => (since, None),
    }
}

impl State {
    /// Keeps `answer`'s place in the failures, logging a change.
    fn note(&mut self, answer: &Result<(), String>, now: Instant) {
        let (since, said) = transition(self.failing_since, answer, now);
        self.failing_since = since;
        if let Some((level, said)) = said {
            log::log!(level, "{said}");
        }
    }
}

impl Storage {
    /// The storage's health if it is known without a probe: the last
    /// answer while fresh (or while a probe not yet overdue runs), an
    /// error once a probe is overdue. `None`: a probe is due, and the
    /// caller runs it ([`Storage::probe_health`], on the I/O pool).
    pub(super) fn health_known(&self) -> Option<Result<(), String>> {
        let mut state = self.health.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(since) = state.probing_since {
            let waited = now.duration_since(since);
            if waited > OVERDUE {
                let overdue = Err(format!(
                    "the storage has not answered a probe for {:.1} s",
                    waited.as_secs_f64()
                ));
                state.note(&overdue, now);
                return Some(overdue);
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
    pub(super) fn probe_health(&self) -> Result<(), String> {
        let answer = self.probe().map_err(|err| err.to_string());
        let mut state = self.health.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        state.note(&answer, now);
        state.last = Some((now, answer.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_when_they_begin_and_end_only() {
        let start = Instant::now();
        let failed: Result<(), String> = Err("not connected".into());
        let (since, said) = transition(None, &failed, start);
        assert_eq!(since, Some(start));
        let (level, said) = said.unwrap();
        assert_eq!(level, log::Level::Warn);
        assert!(
            said.starts_with("the storage is not ready: not connected;"),
            "{said}"
        );
        // Every later failure: nothing said, the start kept.
        let later = start + Duration::from_secs(5);
        assert_eq!(transition(since, &failed, later), (since, None));
        let (since, said) = transition(since, &Ok(()), start + Duration::from_millis(7250));
        assert_eq!(since, None);
        let (level, said) = said.unwrap();
        assert_eq!(level, log::Level::Info);
        assert_eq!(
            said,
            "the storage answers again, after 7.2 s; health checks pass"
        );
        assert_eq!(transition(None, &Ok(()), later), (None, None));
    }
}
