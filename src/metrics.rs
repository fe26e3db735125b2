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
//! Why it is long: every family a scrape shows is written here, each with
//! its help text, beside the counters they read; one place to see (and
//! keep consistent) all that `/metrics` says.

use std::cell::RefCell;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::serve::Verb;
use crate::wire::Protocol;

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

/// Escapes a label value (backslash, double quote, newline), as the text
/// format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `# HELP` and `# TYPE` for `name`.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, counts: &([u64; 17], u64, u64)) {
    header(out, name, "histogram", help);
    let mut cumulative = 0;
    for (bound, count) in BOUNDS.iter().zip(&counts.0) {
        cumulative += count;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += counts.0[BOUNDS.len()];
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum {}", counts.1 as f64 / 1e9);
    let _ = writeln!(out, "{name}_count {}", counts.2);
}

/// Writes a family of samples: `# HELP`, `# TYPE`, then one line per
/// `(labels, value)` (labels as written between braces; empty for none).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    header(out, name, kind, help);
    for (labels, value) in samples {
        match labels.is_empty() {
            true => writeln!(out, "{name} {value}"),
            false => writeln!(out, "{name}{{{labels}}} {value}"),
        }
        .unwrap_or_default();
    }
}

/// `key="value"`, the value escaped.
fn label(key: &str, value: &str) -> String {
    format!("{key}=\"{}\"", escape(value))
}

/// What the storage layer counts, read when a scrape is answered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stored {
    /// Upload sessions open.
    pub sessions: u64,
    /// Directory entries read by walks.
    pub walked: u64,
    /// CRC-32Cs computed from files' bytes.
    pub checksums: u64,
    /// Durable changes' flush batches, and the waits they answered.
    pub flushes: (u64, u64),
    /// Storage failures met, by kind (`crate::storage::storage_failures`).
    pub failures: [(&'static str, u64); crate::storage::STORAGE_FAILURES.len()],
}

/// The I/O pool's threads running now, by lane, read when a scrape is
/// answered (`Pool::threads`).
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolThreads {
    /// The short jobs' threads (`ferry-io-N`).
    pub short: usize,
    /// The long jobs' threads (`ferry-long-N`: listings).
    pub long: usize,
}

/// The exposition of every reactor's counters summed, the pool's, and
/// the storage layer's figures.
pub fn render(
    reactors: &[Arc<ReactorMetrics>],
    pool: (&PoolMetrics, PoolThreads),
    storage: Stored,
) -> String {
    let mut out = String::with_capacity(16 * 1024);
    render_connections(&mut out, reactors);
    let uploads = render_requests(&mut out, reactors);
    render_totals(&mut out, reactors, pool.0, storage, uploads);
    // What the pool's crews hold now (started as jobs queue up).
    let lanes = [("short", pool.1.short), ("long", pool.1.long)];
    let threads = lanes.map(|(lane, n)| (label("lane", lane), n as u64));
    let help = "I/O pool threads running now, by lane (short: file-system calls; long: listings).";
    family(&mut out, "ferry_io_threads", "gauge", help, &threads);
    render_histograms(&mut out, reactors, pool.0);
    out
}

/// `get` of every reactor, summed.
fn sum(reactors: &[Arc<ReactorMetrics>], get: &dyn Fn(&ReactorMetrics) -> u64) -> u64 {
    reactors.iter().map(|r| get(r)).sum()
}

/// Connections open, accepted (by protocol) and refused (by reason).
fn render_connections(out: &mut String, reactors: &[Arc<ReactorMetrics>]) {
    let by_protocol = |get: &dyn Fn(&ReactorMetrics, usize) -> u64| {
        let each = Protocol::ALL.iter().map(|p| (p.index(), p.name()));
        each.map(|(i, p)| (label("protocol", p), sum(reactors, &|r| get(r, i))))
            .collect::<Vec<_>>()
    };
    // Closed before accepted: a reactor's closed count never passes the
    // accepted count read after it.
    let closed = by_protocol(&|r, i| r.closed[i].get());
    let accepted = by_protocol(&|r, i| r.accepted[i].get());
    let open: Vec<_> = accepted
        .iter()
        .zip(&closed)
        .map(|((labels, accepted), (_, closed))| (labels.clone(), accepted.saturating_sub(*closed)))
        .collect();
    family(
        out,
        "ferry_connections_open",
        "gauge",
        "Connections open now.",
        &open,
    );
    family(
        out,
        "ferry_connections_accepted_total",
        "counter",
        "Connections accepted.",
        &accepted,
    );
    let refused = [
        (
            label("reason", "busy"),
            sum(reactors, &|r| r.refused_busy.get()),
        ),
        (
            label("reason", "descriptors"),
            sum(reactors, &|r| r.refused_descriptors.get()),
        ),
    ];
    family(
        out,
        "ferry_connections_refused_total",
        "counter",
        "Connections refused: over --max-connections or --max-connections-per-client (busy), or out of descriptors.",
        &refused,
    );
}

/// Requests by operation and outcome; returns the uploads committed and
/// failed (PUTs and COMMITs), which are counted from them.
fn render_requests(out: &mut String, reactors: &[Arc<ReactorMetrics>]) -> (u64, u64) {
    let (mut requests, mut committed, mut failed) = (Vec::new(), 0, 0);
    for op in 0..=Verb::ALL.len() {
        let operation = Verb::label_at(op as u8);
        for outcome in 0..=OUTCOMES.len() {
            let count = sum(reactors, &|r| r.requests[op][outcome].get());
            if count == 0 {
                continue; // only what happened: the matrix is mostly empty
            }
            if matches!(operation, "put" | "commit") {
                match outcome {
                    0 => committed += count,
                    _ => failed += count,
                }
            }
            let code = OUTCOMES.get(outcome).copied().unwrap_or("other");
            let labels = format!(
                "{},{}",
                label("operation", operation),
                label("outcome", code)
            );
            requests.push((labels, count));
        }
    }
    family(
        out,
        "ferry_requests_total",
        "counter",
        "Requests answered, by operation and outcome (ok or the status code), over both protocols.",
        &requests,
    );
    (committed, failed)
}

/// The unlabelled counters and gauges.
fn render_totals(
    out: &mut String,
    reactors: &[Arc<ReactorMetrics>],
    pool: &PoolMetrics,
    storage: Stored,
    (committed, failed): (u64, u64),
) {
    let counters = [
        (
            "ferry_bytes_received_total",
            "Bytes read from clients.",
            sum(reactors, &|r| r.bytes_received.get()),
        ),
        (
            "ferry_bytes_sent_total",
            "Bytes written to clients.",
            sum(reactors, &|r| r.bytes_sent.get()),
        ),
        (
            "ferry_uploads_committed_total",
            "Uploads stored: PUTs and COMMITs answered ok.",
            committed,
        ),
        (
            "ferry_uploads_failed_total",
            "PUTs and COMMITs answered with an error.",
            failed,
        ),
        (
            "ferry_io_jobs_total",
            "I/O jobs run by the pool.",
            pool.jobs.get(),
        ),
        (
            "ferry_walk_entries_total",
            "Directory entries read by listings, archives and sweeps (what listing costs: a listing reads only folders that lead to something its client may read).",
            storage.walked,
        ),
        (
            "ferry_log_bytes_dropped_total",
            "Bytes of log output standard error did not take (a closed pipe, a full disk): dropped so that the server serves on.",
            crate::stderr_relay::dropped_bytes(),
        ),
        (
            "ferry_checksum_computations_total",
            "CRC-32Cs computed from files' bytes (files with no recorded checksum), on the checksum threads.",
            storage.checksums,
        ),
        (
            "ferry_flush_batches_total",
            "Flush batches made for durable changes (--fsync): group commit's, and each flush of a change made alone.",
            storage.flushes.0,
        ),
        (
            "ferry_flush_waits_total",
            "Durable changes' waits for a flush batch (an upload waits for two or more); waits per batch is how many changes shared each.",
            storage.flushes.1,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help, &[(String::new(), value)]);
    }
    let failures: Vec<(String, u64)> = storage
        .failures
        .iter()
        .map(|(errno, seen)| (label("errno", errno), *seen))
        .collect();
    family(
        out,
        "ferry_storage_failures_total",
        "counter",
        "Failures of the root's storage (answered 503: an I/O error, a network file system or FUSE client that lost its server), by the error the system gave.",
        &failures,
    );
    let gauges = [
        (
            "ferry_upload_sessions",
            "Resumable upload sessions open (begun, neither committed, aborted nor expired).",
            storage.sessions,
        ),
        (
            "ferry_io_queue_depth",
            "I/O jobs queued for the pool's threads.",
            pool.queued.get(),
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help, &[(String::new(), value)]);
    }
}

/// The pool's job durations and the reactors' loop turns.
fn render_histograms(out: &mut String, reactors: &[Arc<ReactorMetrics>], pool: &PoolMetrics) {
    let mut counts = ([0; BOUNDS.len() + 1], 0, 0);
    pool.job_seconds.add_to(&mut counts);
    histogram(
        out,
        "ferry_io_job_seconds",
        "From a reactor asking for an I/O job to the job's end.",
        &counts,
    );
    let mut counts = ([0; BOUNDS.len() + 1], 0, 0);
    for reactor in reactors {
        reactor.loop_turn.add_to(&mut counts);
    }
    histogram(
        out,
        "ferry_loop_turn_seconds",
        "Duration of each event-loop turn, from poll returning to the next poll.",
        &counts,
    );
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
        );
        assert_lines(
            &text,
            &[
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

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
