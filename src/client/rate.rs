//! `--limit-rate`: a token bucket that every body byte of a command passes
//! through, sent or received, on all of its connections together (so a
//! folder copy with `--parallel 4` stays under the limit as a whole).
//!
//! The bucket may go into debt: a caller takes what it is about to move and
//! sleeps off the debt, so a large read is paid for in time whatever its
//! size. Callers move at most [`RateLimit::quantum`] bytes at a time, so
//! the flow is even rather than one large burst a second. The bucket holds
//! at most a twentieth of a second's worth, so an idle moment does not buy
//! a burst.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Copy buffer for bodies, the most a caller moves at a time (all of it
/// when no limit is set); also the size of the reply buffer
/// (`wire.rs`), which takes a body's bytes in the same steps.
pub(crate) const CHUNK: usize = 256 * 1024;
/// The least a limited caller moves at a time: below this, system calls
/// cost more than the evenness gains.
const MIN_QUANTUM: usize = 1024;

/// Bytes per second for everything that shares it.
#[derive(Debug)]
pub struct RateLimit {
    per_second: u64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes that may pass now; negative: the debt to sleep off.
    tokens: f64,
    refilled: Instant,
}

impl RateLimit {
    /// A limit of `per_second` bytes a second (at least 1).
    pub fn new(per_second: u64) -> RateLimit {
        RateLimit {
            per_second: per_second.max(1),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                refilled: Instant::now(),
            }),
        }
    }

    /// The most a caller should move between two calls to [`RateLimit::take`].
    pub fn quantum(&self) -> usize {
        let twentieth = usize::try_from(self.per_second / 20).unwrap_or(usize::MAX);
        twentieth.clamp(MIN_QUANTUM, CHUNK)
    }

    /// Accounts for `n` bytes, sleeping as long as the limit asks.
    pub fn take(&self, n: usize) {
        let wait = {
            let mut bucket = self
                .bucket
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let rate = self.per_second as f64;
            let earned = now.duration_since(bucket.refilled).as_secs_f64() * rate;
            bucket.tokens = (bucket.tokens + earned).min(rate / 20.0) - n as f64;
            bucket.refilled = now;
            if bucket.tokens < 0.0 {
                Duration::from_secs_f64(-bucket.tokens / rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// How many bytes to move next under an optional limit.
pub(crate) fn quantum(limit: Option<&RateLimit>) -> usize {
    limit.map_or(CHUNK, RateLimit::quantum)
}

#[cfg(test)]
mod tests {
    use super::RateLimit;
    use std::time::{Duration, Instant};

    #[test]
    fn moving_a_second_of_bytes_takes_about_a_second_at_least() {
        let limit = RateLimit::new(100_000);
        let started = Instant::now();
        for _ in 0..20 {
            limit.take(limit.quantum());
        }
        // 20 × 5000 bytes at 100 kB/s; a lower bound only: a busy machine
        // may be slower, never faster.
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    #[test]
    fn the_quantum_is_a_twentieth_of_a_second_within_bounds() {
        assert_eq!(RateLimit::new(100_000).quantum(), 5000);
        assert_eq!(RateLimit::new(10).quantum(), 1024);
        assert_eq!(RateLimit::new(u64::MAX).quantum(), 256 * 1024);
    }
}
