//! Connection deadlines: the idle timeout, the request-line deadline and the
//! minimum body rate, which together bound what a slow or stalled peer can
//! hold (slowloris and slow-POST style attacks included).
//!
//! A connection only records times here; the reactor keeps one timer-heap
//! entry per connection at [`Connection::deadline`] and calls
//! [`Connection::expired`] when it comes due, so checking costs O(log n)
//! per deadline rather than a scan of every connection.

use std::time::{Duration, Instant};

use super::{Connection, State};
use crate::config::Config;

/// What a connection is doing, as far as its deadlines care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request, nothing of it received yet.
    BetweenRequests,
    /// Part of a request line received.
    PartialHeader,
    /// A body moving in either direction.
    Body,
    /// Closing down.
    Closing,
}

/// Bytes moved since a window of the rate check began.
#[derive(Debug, Clone, Copy)]
struct RateWindow {
    started: Instant,
    bytes: u64,
}

/// The times a connection's deadlines are computed from.
#[derive(Debug)]
pub(super) struct Timing {
    last_progress: Instant,
    header_started: Option<Instant>,
    window: Option<RateWindow>,
    /// When the reactor's timer heap will next look at this connection.
    scheduled: Instant,
}

impl Timing {
    pub(super) fn new(now: Instant) -> Timing {
        Timing {
            last_progress: now,
            header_started: None,
            window: None,
            scheduled: now,
        }
    }

    /// Bytes moved: resets the idle timer and counts towards the rate.
    pub(super) fn progressed(&mut self, now: Instant, bytes: usize) {
        self.last_progress = now;
        if let Some(window) = &mut self.window {
            window.bytes += bytes as u64;
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) {
        match phase {
            Phase::PartialHeader => {
                self.header_started.get_or_insert(now);
                self.window = None;
            }
            Phase::Body => {
                self.header_started = None;
                self.window.get_or_insert(RateWindow {
                    started: now,
                    bytes: 0,
                });
            }
            Phase::BetweenRequests | Phase::Closing => {
                self.header_started = None;
                self.window = None;
            }
        }
    }
}

impl Connection {
    /// Records which deadlines apply now; called at the end of every drive.
    pub(super) fn note_phase(&mut self, now: Instant) {
        let phase = match &self.state {
            // Whole requests waiting behind queued output are not late.
            State::AwaitHeader if !self.input.is_empty() && !self.input.contains(&b'\n') => {
                Phase::PartialHeader
            }
            State::AwaitHeader | State::Committing(_) => Phase::BetweenRequests,
            State::ReceivingBody(_)
            | State::SendingBody(_)
            | State::DrainingBody { .. }
            | State::EchoingBody { .. } => Phase::Body,
            State::Done | State::Lingering { .. } => Phase::Closing,
        };
        self.timing.enter(phase, now);
    }

    /// The earliest moment one of this connection's deadlines can pass.
    pub fn deadline(&self, config: &Config) -> Instant {
        let timing = &self.timing;
        let mut at = timing.last_progress + config.idle_timeout;
        if let Some(started) = timing.header_started {
            at = at.min(started + config.header_timeout);
        }
        if let Some(window) = timing.window.filter(|_| config.min_rate > 0) {
            at = at.min(window.started + config.rate_window);
        }
        at
    }

    /// Checks the deadlines at `now`: `Some(reason)` if the connection must
    /// be closed. A rate window that passed its check starts anew.
    pub fn expired(&mut self, now: Instant, config: &Config) -> Option<String> {
        let timing = &mut self.timing;
        if now >= timing.last_progress + config.idle_timeout {
            return Some(format!("no progress for {}", secs(config.idle_timeout)));
        }
        if let Some(started) = timing.header_started
            && now >= started + config.header_timeout
        {
            return Some(format!(
                "request line not complete after {}",
                secs(config.header_timeout)
            ));
        }
        if let Some(window) = timing.window.filter(|_| config.min_rate > 0) {
            let elapsed = now.duration_since(window.started);
            if elapsed >= config.rate_window {
                let needed = config.min_rate as f64 * elapsed.as_secs_f64();
                if (window.bytes as f64) < needed {
                    return Some(format!(
                        "body moving at {:.0} bytes/s, under the {} bytes/s minimum",
                        window.bytes as f64 / elapsed.as_secs_f64(),
                        config.min_rate
                    ));
                }
                timing.window = Some(RateWindow {
                    started: now,
                    bytes: 0,
                });
            }
        }
        None
    }

    /// When the timer heap will next look at this connection.
    pub fn scheduled(&self) -> Instant {
        self.timing.scheduled
    }

    /// Records that the timer heap has an entry for this connection at `at`.
    pub fn set_scheduled(&mut self, at: Instant) {
        self.timing.scheduled = at;
    }
}

fn secs(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
