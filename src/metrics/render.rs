//! The Prometheus text exposition (format 0.0.4) of the counters
//! (`mod.rs`): every family a scrape shows, with its help text, summed over
//! the reactors, with the pool's and the storage layer's figures.

use std::fmt::Write;
use std::sync::Arc;

use super::{BOUNDS, OUTCOMES, PoolMetrics, ReactorMetrics};
use crate::serve::Verb;
use crate::wire::Protocol;

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
#[derive(Debug, Default, Clone)]
pub struct Stored {
    /// Upload sessions open.
    pub sessions: u64,
    /// Directory entries read by walks.
    pub walked: u64,
    /// CRC-32Cs computed from files' bytes.
    pub checksums: u64,
    /// Durable changes' flush batches, the waits they answered, and the
    /// folders they flushed.
    pub flushes: (u64, u64, u64),
    /// Storage failures met, by kind (`crate::storage::storage_failures`).
    pub failures: [(&'static str, u64); crate::storage::STORAGE_FAILURES.len()],
    /// Quota accounts' usage as this node last saw it, and the recounts.
    pub usage: crate::storage::UsageSeen,
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
    node: &str,
) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // The node as a label of one sample (Prometheus's "info" pattern, as
    // node_exporter's `node_uname_info`), not of every series: joined on
    // `instance` where several nodes' figures are summed or compared.
    let info = [(
        format!(
            "{},{}",
            label("node", node),
            label("version", env!("CARGO_PKG_VERSION"))
        ),
        1,
    )];
    let help = "This server: its node id (--node-id) and version; always 1.";
    family(&mut out, "ferry_node_info", "gauge", help, &info);
    render_connections(&mut out, reactors);
    let uploads = render_requests(&mut out, reactors);
    render_usage(&mut out, &storage.usage);
    render_totals(&mut out, reactors, pool.0, storage, uploads);
    // What the pool's crews hold now (started as jobs queue up).
    let lanes = [("short", pool.1.short), ("long", pool.1.long)];
    let threads = lanes.map(|(lane, n)| (label("lane", lane), n as u64));
    let help = "I/O pool threads running now, by lane (short: file-system calls; long: listings).";
    family(&mut out, "ferry_io_threads", "gauge", help, &threads);
    render_histograms(&mut out, reactors, pool.0);
    out
}

/// The quota accounts' usage (`storage/posix/usage.rs`), by token or folder, as
/// this node last read or changed it; the recounts and what they healed.
fn render_usage(out: &mut String, usage: &crate::storage::UsageSeen) {
    let by_account = |get: fn(&crate::model::Usage) -> u64| -> Vec<(String, u64)> {
        let accounts = usage.accounts.iter();
        accounts
            .map(|((kind, name), used)| (label(kind, name), get(used)))
            .collect()
    };
    let help = "Bytes a token's uploads, or a quota'd folder, hold (as this node last counted: the ledger is shared by every node on the root).";
    family(
        out,
        "ferry_quota_used_bytes",
        "gauge",
        help,
        &by_account(|u| u.bytes),
    );
    let help = "Files a token's uploads, or a quota'd folder, hold (as this node last counted).";
    family(
        out,
        "ferry_quota_used_files",
        "gauge",
        help,
        &by_account(|u| u.files),
    );
    let help = "Recounts of quota usage by a walk of the root (at start-up, then hourly).";
    family(
        out,
        "ferry_quota_recounts_total",
        "counter",
        help,
        &[(String::new(), usage.recounts)],
    );
    let help = "Bytes by which recounts found the usage ledger off (what single writes' counts missed), summed over accounts.";
    let drift = [(String::new(), usage.drift)];
    family(
        out,
        "ferry_quota_recount_drift_bytes_total",
        "counter",
        help,
        &drift,
    );
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
    family(
        out,
        "ferry_connections_displaced_total",
        "counter",
        "Connections that had sent nothing, or HTTP connections resting between requests, closed to make room for a newcomer at --max-connections.",
        &[(String::new(), sum(reactors, &|r| r.displaced.get()))],
    );
    family(
        out,
        "ferry_connections_handed_over_total",
        "counter",
        "HTTP connections resting between requests that one event loop handed to a busier one (--hand-over).",
        &[(String::new(), sum(reactors, &|r| r.handed_over.get()))],
    );
    family(
        out,
        "ferry_connections_passed_for_room_total",
        "counter",
        "Newcomers at --max-connections that an event loop with no connection to displace passed to another.",
        &[(String::new(), sum(reactors, &|r| r.passed_for_room.get()))],
    );
    family(
        out,
        "ferry_ssh_rests_total",
        "counter",
        "Times an SSH session, quiet a moment between requests, gave back its packet buffers' memory.",
        &[(String::new(), sum(reactors, &|r| r.ssh_rests.get()))],
    );
    family(
        out,
        "ferry_ssh_bare_rests_total",
        "counter",
        "SSH connections whose client had sent nothing once the server's version line was out: their packet buffers' memory given back until it speaks.",
        &[(String::new(), sum(reactors, &|r| r.ssh_bare_rests.get()))],
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
            crate::threads::stderr_relay::dropped_bytes(),
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
        (
            "ferry_folder_flushes_total",
            "Folders flushed for durable changes (--fsync): each change's own, and those above it whose entries are not known durable yet.",
            storage.flushes.2,
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

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
