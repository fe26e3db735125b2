//! The server's metrics and their Prometheus text exposition (format
//! 0.0.4), served by `--metrics ADDR` (see `server/reactor/scrape.rs`).
//!
//! Owns the counters, not where they are counted. Each reactor has its own
//! [`ReactorMetrics`], written only by that reactor's thread: a single
//! writer needs no atomic read-modify-write, so [`Counter::add`] is a
//! relaxed load and store (a plain `mov` on x86, no lock prefix, a few
//! nanoseconds). A scrape reads every reactor's set with relaxed loads and
//! sums them; a total read mid-turn is at most one turn old, as any scrape
//! is. The I/O pool's threads share [`PoolMetrics`], with real atomic adds
//! (one per job, next to a job's microseconds).
//!
//! Requests are counted at one place, where a connection queues the reply
//! that answers them (`connection/advance.rs`, [`count_request`]). That
//! place is deep in the connection, which must stay small (it carries no
//! pointer to its reactor's counters), so the reactor's set is found
//! through a thread-local that the reactor sets before it runs: every
//! reactor is one thread, and a connection only ever runs on its own.
//! Without the `metrics` feature, `metrics_absent.rs` stands in here.
//!
//! Every family a scrape shows, with its help text, is written in
//! `render.rs`, one place to see (and keep consistent) all that
//! `/metrics` says; the counters they read are here.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::serve::Verb;
use crate::wire::Protocol;

pub use render::{PoolThreads, Stored, render};

mod render;

/// The outcomes of `ferry_requests_total`: `ok` or the status code sent.
const OUTCOMES: [&str; 26] = [
    "ok", "207", "400", "401", "403", "404", "405", "409", "411", "412", "413", "414", "415",
    "416", "417", "422", "423", "424", "429", "431", "500", "501", "502", "503", "505", "507",
];
/// The status codes of [`OUTCOMES`] after `ok`, in the same order.
const CODES: [u16; 25] = [
    207, 400, 401, 403, 404, 405, 409, 411, 412, 413, 414, 415, 416, 417, 422, 423, 424, 429, 431,
    500, 501, 502, 503, 505, 507,
];
/// The outcome of a code [`OUTCOMES`] does not list.
const OTHER: usize = OUTCOMES.len();

/// The bucket bounds of both latency histograms, in seconds: 100 µs (a
/// turn that did little) to 10 s (a job stuck on a dead disk).
const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// [`BOUNDS`] in nanoseconds, for the comparisons of an observation.
const BOUNDS_NS: [u64; 16] = {
    let mut ns = [0; 16];
    let mut i = 0;
    while i < ns.len() {
        ns[i] = (BOUNDS[i] * 1e9) as u64;
        i += 1;
    }
    ns
};

/// A counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`, from the counter's only writer.
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Adds `n`, from one of several writers.
    pub fn add_shared(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A gauge several threads move up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// One more.
    pub fn up(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// One fewer.
    pub fn down(&self) {
        self.0.fetch_sub(1, Relaxed);
    }

    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A latency histogram over [`BOUNDS`]: a count per bucket (not yet
/// cumulative: one add per observation), the sum in nanoseconds, and the
/// count of observations.
#[derive(Debug, Default)]
pub struct Histogram {
    /// `buckets[i]`: observations in `(BOUNDS[i-1], BOUNDS[i]]`; the last
    /// one is above every bound (`+Inf`).
    buckets: [Counter; BOUNDS.len() + 1],
    sum_ns: Counter,
    count: Counter,
}

impl Histogram {
    fn bucket(took: Duration) -> usize {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        BOUNDS_NS
            .iter()
            .position(|&bound| ns <= bound)
            .unwrap_or(BOUNDS.len())
    }

    /// Records `took`, from the histogram's only writer.
    pub fn observe(&self, took: Duration) {
        self.buckets[Histogram::bucket(took)].add(1);
        self.sum_ns
            .add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        self.count.add(1);
    }

    /// Records `took`, from one of several writers.
    pub fn observe_shared(&self, took: Duration) {
        self.buckets[Histogram::bucket(took)].add_shared(1);
        self.sum_ns
            .add_shared(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        self.count.add_shared(1);
    }

    /// Adds this histogram's counts to `into` (buckets, sum in ns, count).
    fn add_to(&self, into: &mut ([u64; BOUNDS.len() + 1], u64, u64)) {
        for (total, bucket) in into.0.iter_mut().zip(&self.buckets) {
            *total += bucket.get();
        }
        into.1 += self.sum_ns.get();
        into.2 += self.count.get();
    }
}

/// What one reactor counts; only that reactor's thread writes it.
#[derive(Debug, Default)]
pub struct ReactorMetrics {
    /// Connections accepted, by protocol (see [`Protocol::index`]).
    pub accepted: [Counter; Protocol::ALL.len()],
    /// Connections closed, by protocol: open = accepted - closed.
    pub closed: [Counter; Protocol::ALL.len()],
    /// Connections refused over `--max-connections` or
    /// `--max-connections-per-client`.
    pub refused_busy: Counter,
    /// Connections refused for want of a descriptor.
    pub refused_descriptors: Counter,
    /// Bare or resting connections closed to make room for a newcomer.
    pub displaced: Counter,
    /// Resting connections handed to another reactor (`--hand-over`).
    pub handed_over: Counter,
    /// Newcomers a full reactor with none of its connections to displace
    /// passed to another (`share.rs`).
    pub passed_for_room: Counter,
    /// SSH sessions that gave back their packet buffers' memory at rest.
    pub ssh_rests: Counter,
    /// SSH connections that gave it back as their client had sent nothing
    /// yet (`SshSession::shed`).
    pub ssh_bare_rests: Counter,
    /// Answered requests by operation and outcome.
    requests: [[Counter; OUTCOMES.len() + 1]; Verb::ALL.len() + 1],
    /// Bytes read from and written to connections (TLS records included).
    pub bytes_received: Counter,
    /// See [`ReactorMetrics::bytes_received`].
    pub bytes_sent: Counter,
    /// How long each turn of the event loop took.
    pub loop_turn: Histogram,
}

/// What the I/O pool counts (its threads share it).
#[derive(Debug, Default)]
pub struct PoolMetrics {
    /// Jobs queued and not yet taken by a thread.
    pub queued: Gauge,
    /// Jobs run.
    pub jobs: Counter,
    /// From the reactor asking to the job's end.
    pub job_seconds: Histogram,
}

thread_local! {
    /// The counters of the reactor running on this thread.
    static CURRENT: RefCell<Option<Arc<ReactorMetrics>>> = const { RefCell::new(None) };
}

/// Makes `metrics` the counters that [`count_request`] on this thread
/// counts into (a reactor, before it runs).
pub fn count_on_this_thread(metrics: Arc<ReactorMetrics>) {
    CURRENT.with(|current| *current.borrow_mut() = Some(metrics));
}

/// Counts an answered request: `operation` is its verb's index
/// ([`Verb::index`], or [`Verb::INVALID`]), `code`
/// is the status sent (`None` for success). Not counted off a reactor's
/// thread (unit tests drive connections without one).
pub fn count_request(operation: u8, code: Option<u16>) {
    let outcome = match code {
        None => 0,
        Some(code) => {
            let label = CODES.iter().position(|&c| c == code);
            label.map_or(OTHER, |i| i + 1)
        }
    };
    CURRENT.with(|current| {
        if let Some(metrics) = &*current.borrow()
            && let Some(row) = metrics.requests.get(usize::from(operation))
        {
            row[outcome].add(1);
        }
    });
}

/// Counts an SSH connection that rested as its client had sent nothing
/// yet (`SshSession::shed`); as [`count_request`], only on a reactor's
/// thread.
pub fn count_ssh_bare_rest() {
    CURRENT.with(|current| {
        if let Some(metrics) = &*current.borrow() {
            metrics.ssh_bare_rests.add(1);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(text.lines().any(|l| l == *line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let reactor = Arc::new(ReactorMetrics::default());
        reactor.loop_turn.observe(Duration::from_micros(100));
        reactor.loop_turn.observe(Duration::from_millis(3));
        reactor.loop_turn.observe(Duration::from_secs(20));
        let text = render(
            &[reactor],
            (&PoolMetrics::default(), PoolThreads::default()),
            Stored::default(),
            "node",
        );
        assert_lines(
            &text,
            &[
                "ferry_loop_turn_seconds_bucket{le=\"0.0001\"} 1",
                "ferry_loop_turn_seconds_bucket{le=\"0.005\"} 2",
                "ferry_loop_turn_seconds_bucket{le=\"10\"} 2",
                "ferry_loop_turn_seconds_bucket{le=\"+Inf\"} 3",
                "ferry_loop_turn_seconds_count 3",
            ],
        );
    }

    #[test]
    fn requests_sum_over_reactors_and_unknown_codes_are_other() {
        let reactors = [Arc::default(), Arc::default()];
        for reactor in &reactors {
            count_on_this_thread(Arc::clone(reactor));
            count_request(1, None);
            count_request(1, Some(404));
            count_request(0, Some(599));
        }
        let text = render(
            &reactors,
            (&PoolMetrics::default(), PoolThreads { short: 3, long: 1 }),
            Stored::default(),
            "web-1",
        );
        assert_lines(
            &text,
            &[
                concat!(
                    "ferry_node_info{node=\"web-1\",version=\"",
                    env!("CARGO_PKG_VERSION"),
                    "\"} 1"
                ),
                "ferry_requests_total{operation=\"get\",outcome=\"ok\"} 2",
                "ferry_requests_total{operation=\"get\",outcome=\"404\"} 2",
                "ferry_requests_total{operation=\"put\",outcome=\"other\"} 2",
                "ferry_uploads_failed_total 2",
                "ferry_io_threads{lane=\"short\"} 3",
                "ferry_io_threads{lane=\"long\"} 1",
            ],
        );
    }

    #[test]
    fn codes_and_outcome_labels_agree() {
        for (code, label) in CODES.iter().zip(&OUTCOMES[1..]) {
            assert_eq!(code.to_string(), *label);
        }
        assert_eq!(Verb::label_at(Verb::INVALID), "invalid");
        assert_eq!(Verb::label_at(Verb::Put.index() as u8), "put");
    }
}
