//! What stands in for [`crate::metrics`] in a build without the `metrics`
//! feature (`lib.rs` puts this file at its path): the same names, holding
//! and counting nothing. The reactors, the connections and the I/O pool
//! count in every build through the same lines; here each count is an
//! empty function on a type of no size, so it compiles to nothing, and the
//! exposition and its listener (`server/reactor/scrape.rs`) are not built at all.
//! `--metrics` is refused when the server starts
//! ([`crate::config::Config::unbuilt`]).

use std::sync::Arc;
use std::time::Duration;

use crate::wire::Protocol;

/// A counter that counts nothing.
#[derive(Debug, Default)]
pub struct Counter;

impl Counter {
    /// Counts nothing.
    pub fn add(&self, _n: u64) {}

    /// Counts nothing.
    pub fn add_shared(&self, _n: u64) {}
}

/// A gauge that holds nothing.
#[derive(Debug, Default)]
pub struct Gauge;

impl Gauge {
    /// Holds nothing.
    pub fn up(&self) {}

    /// Holds nothing.
    pub fn down(&self) {}
}

/// A histogram that records nothing.
#[derive(Debug, Default)]
pub struct Histogram;

impl Histogram {
    /// Records nothing.
    pub fn observe(&self, _took: Duration) {}

    /// Records nothing.
    pub fn observe_shared(&self, _took: Duration) {}
}

/// What a reactor would count.
#[derive(Debug, Default)]
pub struct ReactorMetrics {
    /// Connections accepted, by protocol.
    pub accepted: [Counter; Protocol::ALL.len()],
    /// Connections closed, by protocol.
    pub closed: [Counter; Protocol::ALL.len()],
    /// Connections refused over the caps.
    pub refused_busy: Counter,
    /// Connections refused for want of a descriptor.
    pub refused_descriptors: Counter,
    /// Bare or resting connections closed to make room for a newcomer.
    pub displaced: Counter,
    /// Resting connections handed to another reactor.
    pub handed_over: Counter,
    /// Newcomers passed to another reactor for room.
    pub passed_for_room: Counter,
    /// SSH sessions that gave back their packet buffers' memory at rest.
    pub ssh_rests: Counter,
    /// SSH connections that gave it back before their client spoke.
    pub ssh_bare_rests: Counter,
    /// Bytes read from connections.
    pub bytes_received: Counter,
    /// Bytes written to connections.
    pub bytes_sent: Counter,
    /// The event loop's turns.
    pub loop_turn: Histogram,
}

/// What the I/O pool would count.
#[derive(Debug, Default)]
pub struct PoolMetrics {
    /// Jobs queued.
    pub queued: Gauge,
    /// Jobs run.
    pub jobs: Counter,
    /// Jobs' latency.
    pub job_seconds: Histogram,
}

/// The I/O pool's threads by lane, as a scrape would read them.
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolThreads {
    /// The short jobs' threads.
    pub short: usize,
    /// The long jobs' threads.
    pub long: usize,
}

/// Nothing to count into.
pub fn count_on_this_thread(_metrics: Arc<ReactorMetrics>) {}

/// Counts nothing.
pub fn count_request(_operation: u8, _code: Option<u16>) {}

/// Counts nothing.
pub fn count_ssh_bare_rest() {}
