//! The sweeps' thread: at start-up it probes the file system and removes
//! expired upload sessions and stale temp files; then, every
//! [`Config::sweep_period`] give or take a fifth, it looks for nodes that
//! died since and removes their temp files (`storage/posix/sweep.rs`), so a dead
//! node's leftovers go without any node restarting, and expires the upload
//! sessions it knows of that outlived their TTL (as every `UPLOAD` does:
//! this is for a node that gets none); counts quota usage afresh at
//! start-up and every hour (`storage/posix/usage_recount.rs`); and reads the
//! ledger's accounts afresh each period for the metrics, so that every
//! node's show what any node counted. Never on an event
//! loop: a pass reads journals and unlinks files, each a round trip on a
//! network file system.
//!
//! The jitter keeps nodes started together from trying each other's locks
//! at the same instant. The thread stops when the server does: a periodic
//! pass takes milliseconds and is waited for; a start-up sweep still
//! walking a wide tree is not (the thread ends after it).
//!
//! ```text
//! start-up   probe, sweep own + gone nodes, expire sessions,
//!            recount usage                                  -> StartupSweep done
//! then       wait period ±20% (or stop) -> try each other node's lock ->
//!            gone: remove its journaled temp files, release ->
//!            expire sessions -> read the usage metrics -> wait ...
//! ```

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

#[cfg(doc)]
use crate::config::Config;
use crate::pool::Shared;

/// The start-up sweep of stale temp files and expired upload sessions,
/// which runs while the server already serves.
#[derive(Debug, Clone, Default)]
pub struct StartupSweep {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl StartupSweep {
    /// Waits until the sweep has finished.
    pub fn wait(&self) {
        let (done, finished) = &*self.done;
        let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = finished.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn finished(&self) -> bool {
        *self.done.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self) {
        let (done, finished) = &*self.done;
        *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        finished.notify_all();
    }
}

/// The sweeps' thread, told to stop when dropped.
pub(super) struct Sweeps {
    startup: StartupSweep,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

/// Set when the server stops; the thread waits on it between passes.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    told: Condvar,
}

impl Stop {
    /// Waits until `until` or a stop; whether it was a stop.
    fn wait_until(&self, until: Instant) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            if *stopped || now >= until {
                return *stopped;
            }
            stopped = self
                .told
                .wait_timeout(stopped, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Sweeps {
    /// Starts the thread: the start-up sweep, then the periodic one.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(super) fn start(shared: Arc<Shared>) -> std::io::Result<Sweeps> {
        let startup = StartupSweep::default();
        let stop = Arc::new(Stop::default());
        let (done, stopped) = (startup.clone(), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("ferry-sweep".into())
            .stack_size(crate::threads::crew::STACK)
            .spawn(move || {
                sweep_at_start(&shared);
                done.finish();
                if !shared.config.read_only {
                    sweep_periodically(&shared, &stopped);
                }
            })?;
        Ok(Sweeps {
            startup,
            stop,
            thread: Some(thread),
        })
    }

    /// The start-up sweep, to wait for.
    pub(super) fn startup(&self) -> StartupSweep {
        self.startup.clone()
    }
}

impl Drop for Sweeps {
    fn drop(&mut self) {
        *self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stop.told.notify_all();
        // Joined only between passes: the thread holds the storage, hence
        // this node's lock, and a server started again in this process
        // must find it free. A start-up walk is not waited for.
        if self.startup.finished()
            && let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!("the sweeps' thread panicked");
        }
    }
}

/// Probes the file system, then removes expired upload sessions and the
/// temp files of this node's earlier runs and of gone nodes.
fn sweep_at_start(shared: &Shared) {
    let engine = &shared.engine;
    for warning in engine.probe_file_system() {
        warn!("{warning}");
    }
    if shared.config.read_only {
        // Read-only writes nothing, not even to clean up.
        info!("read-only: stale temp files and expired upload sessions are left alone");
        return;
    }
    // Both may come after the first requests (the server serves from
    // before this thread starts): a new upload's temp file is named by
    // this run, which the sweep spares, and a session asked for first is
    // judged by its own record (`live_session`, or an APPEND's one read
    // of it: an expired one is removed then, never resumed) and counted in the caps by an index read whole
    // by whichever comes first, that request or this sweep
    // (`tests/protocol/sessions.rs`, "before the start-up sweep").
    let swept = engine.remove_stale_temp_files();
    let expired = engine.expire_upload_sessions(shared.config.session_ttl());
    info!("start-up sweep done: {swept} and {expired} expired upload sessions removed");
    recount_usage(shared);
}

/// Counts quota usage afresh (`storage/posix/usage_recount.rs`), where it is
/// counted: at start-up, after the temp files and expired sessions are
/// gone, then every [`RECOUNT_PERIOD`].
fn recount_usage(shared: &Shared) {
    if !shared.engine.counts_usage() {
        return;
    }
    match shared.engine.recount_usage() {
        Ok(recount) if recount.drift > 0 => info!(
            "usage recounted: {} accounts, off by {} bytes before{}",
            recount.accounts,
            recount.drift,
            busy(recount.busy)
        ),
        Ok(recount) => info!(
            "usage recounted: {} accounts, none off{}",
            recount.accounts,
            busy(recount.busy)
        ),
        Err(err) => {
            warn!("usage could not be recounted (quotas go by the counts as they are): {err}")
        }
    }
}

/// What a recount's line says of the accounts it left (busy meanwhile).
fn busy(accounts: usize) -> String {
    match accounts {
        0 => String::new(),
        n => format!("; {n} left as counted (changed during the walk: the next recount sets them)"),
    }
}

/// How often usage is counted afresh by a walk of the whole root: rarely,
/// as each write counts itself; the recount only heals what was missed.
const RECOUNT_PERIOD: Duration = Duration::from_secs(3600);

/// Every period (jittered) until `stop`, removes the temp files of nodes
/// that died since, and expired upload sessions.
fn sweep_periodically(shared: &Shared, stop: &Stop) {
    let period = shared.config.sweep_period;
    let mut recounted = Instant::now();
    while !stop.wait_until(Instant::now() + jittered(period)) {
        if recounted.elapsed() >= RECOUNT_PERIOD {
            recount_usage(shared);
            recounted = Instant::now();
        }
        // What other nodes counted (their writes, their recounts) shows
        // in this node's metrics too.
        if let Err(err) = shared.engine.refresh_usage_seen() {
            warn!("the usage metrics could not be read afresh: {err}");
        }
        let swept = shared.engine.remove_gone_nodes_temp_files();
        match swept.gone.is_empty() {
            true => debug!("periodic sweep: no gone node left temp files"),
            false => info!("periodic sweep done: {swept} removed"),
        }
        let expired = shared
            .engine
            .expire_upload_sessions(shared.config.session_ttl());
        if expired > 0 {
            info!("periodic sweep: {expired} expired upload sessions removed");
        }
    }
}

/// `period` scaled by a random factor between 0.8 and 1.2 (`period` as
/// it is if no random bytes can be had).
fn jittered(period: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let factor = match rustix::rand::getrandom(&mut byte, rustix::rand::GetRandomFlags::NONBLOCK) {
        Ok(1) => 0.8 + 0.4 * f64::from(byte[0]) / 255.0,
        _ => 1.0,
    };
    period.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_jittered_by_at_most_a_fifth() {
        let period = Duration::from_secs(30);
        let waits: Vec<Duration> = (0..64).map(|_| jittered(period)).collect();
        for wait in &waits {
            assert!(
                (Duration::from_secs(24)..=Duration::from_secs(36)).contains(wait),
                "{wait:?}"
            );
        }
        assert!(waits.iter().any(|w| *w != waits[0]), "no jitter: {waits:?}");
    }

    #[test]
    fn a_stop_ends_a_wait_at_once() {
        let stop = Arc::new(Stop::default());
        let told = Arc::clone(&stop);
        let started = Instant::now();
        let waiter = std::thread::spawn(move || told.wait_until(started + Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        *stop.stopped.lock().unwrap() = true;
        stop.told.notify_all();
        assert!(waiter.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!Stop::default().wait_until(Instant::now() + Duration::from_millis(5)));
    }
}
