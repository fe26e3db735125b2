//! A reactor's shutdown: on the first request it stops accepting, closes
//! idle connections and lets transfers in flight finish for the grace
//! period (the server's count said once, by the last reactor to count);
//! then an upload still arriving is told `503` and given a short farewell
//! to read it (`connection/farewell.rs`), and what is left is closed. A
//! second request ends the wait at once.

use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::Reactor;
use crate::server::listen;

/// How long an upload told `503` as the grace period ended may linger to
/// read it (`say_farewell`).
const FAREWELL: Duration = Duration::from_secs(1);

impl Reactor {
    /// Acts on shutdown requests; returns true when the server should exit.
    pub(super) fn shutdown_step(&mut self, now: Instant) -> bool {
        let requests = self.hub.shutdown.requests();
        if requests > self.shutdowns_seen && self.shutdowns_seen == 0 {
            self.begin_shutdown(now);
        }
        self.shutdowns_seen = requests;
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        // Handed over before the shutdown was seen: treated as these were
        // at its start (`share.rs`).
        self.take_arrivals();
        if self.connections.is_empty() && self.close_lane() {
            return true;
        }
        if requests > 1 || (now >= deadline && self.farewell) {
            self.close_all();
            return true;
        }
        if now >= deadline {
            self.say_farewell(now);
            return self.connections.is_empty() && self.close_lane();
        }
        false
    }

    /// Closes every connection, those handed over meanwhile too, and the
    /// lane they came by. Every way out of `shutdown_step` closes the
    /// lane: a reactor that had not yet seen the shutdown may still hand
    /// a connection over, and one pushed into the lane of a reactor gone
    /// would be neither served nor closed (`share.rs`).
    pub(super) fn close_all(&mut self) {
        self.seal_lane();
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.close(key);
        }
    }

    /// The grace period is over: an upload still arriving is told `503`
    /// and its connection lingers for [`FAREWELL`] to let it read that
    /// (its upload ended as a cut one); every other connection closes.
    fn say_farewell(&mut self, now: Instant) {
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        warn!("closing {} unfinished connections", keys.len());
        self.farewell = true;
        self.shutdown_deadline = Some(now + FAREWELL);
        for key in keys {
            let Some(conn) = self.connections.get_mut(key) else {
                continue;
            };
            let id = conn.id();
            match conn.refuse_unfinished_upload() {
                Some(receive) => {
                    let report = conn.linked_to().zip(conn.closing_relay());
                    let whose = (id, conn.peer(), conn.protocol());
                    if let Some(report) = self.cut_off(whose, receive, report) {
                        self.report(report.0, report.1);
                    }
                    self.drive(key, Some(id));
                }
                None => self.close(key),
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        for listener in self.listeners.drain(..) {
            listen::unwatch(self.poll.registry(), &listener.socket);
        }
        if let Some(mut scrape) = self.scrape.take() {
            let _ = self.poll.registry().deregister(scrape.listener_mut());
        }
        self.shutdown_deadline = Some(now + self.shared.config.grace_period);
        let idle: Vec<usize> = self
            .connections
            .iter()
            .filter(|(_, conn)| conn.is_idle())
            .map(|(key, _)| key)
            .collect();
        for key in idle {
            self.close(key);
        }
        for (_, conn) in self.connections.iter_mut() {
            conn.answer_is_last();
        }
        let mine = self.connections.len();
        let (reported, left) = {
            let mut draining = self.hub.draining.lock().unwrap_or_else(|e| e.into_inner());
            *draining = (draining.0 + 1, draining.1 + mine);
            *draining
        };
        debug!("shutting down: {mine} transfers in flight on this worker");
        // The last reactor to count says the server's total, once.
        if reported != self.hub.metrics.len().max(1) {
            return;
        }
        let (transfers, get) = if left == 1 {
            ("transfer", "gets")
        } else {
            ("transfers", "get")
        };
        info!(
            "shutting down: no new connections; {left} {transfers} {get} up to {:?} to finish",
            self.shared.config.grace_period
        );
    }
}
