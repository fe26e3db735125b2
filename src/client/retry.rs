//! How patiently to reconnect: a bounded number of failures in a row, with
//! exponential backoff between them. Progress resets the count, so a long
//! transfer over a flaky link goes on as long as each connection moves it
//! forward, and a dead server is given up on after a few seconds.

use std::io::ErrorKind;
use std::net::ToSocketAddrs;
use std::time::Duration;

use super::{Client, ClientError, Endpoint, Result};

/// Limits on retrying after connection failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failures in a row, without progress between them, that are retried.
    pub retries: u32,
    /// Wait after the first failure; it doubles with each further one.
    pub first_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries, waiting 0.25 s, 0.5 s, 1 s, 2 s, 4 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 5,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure in a row (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// Failures in a row under a [`RetryPolicy`].
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    connected_once: bool,
}

impl Backoff {
    /// No failures yet.
    pub fn new(policy: RetryPolicy) -> Backoff {
        Backoff {
            policy,
            failures: 0,
            connected_once: false,
        }
    }

    /// The transfer moved forward: the next failure is the first again.
    pub fn progressed(&mut self) {
        self.failures = 0;
    }

    /// Decides about a failure: waits and returns `Ok` if another attempt is
    /// due, or hands `err` back if not. Only transient errors are retried,
    /// and a refused very first connection is not (nothing listens there:
    /// most likely a wrong address, not a hiccup).
    ///
    /// # Errors
    /// `err`, when it is not to be retried.
    pub fn after(&mut self, err: ClientError) -> Result<()> {
        let refused =
            matches!(&err, ClientError::Io(io) if io.kind() == ErrorKind::ConnectionRefused);
        if !err.is_transient() || (refused && !self.connected_once) {
            return Err(err);
        }
        self.failures += 1;
        if self.failures > self.policy.retries {
            return Err(err);
        }
        log::warn!(
            target: "ferry::client",
            "{err}; retrying in {:.2} s",
            self.policy.delay(self.failures).as_secs_f64()
        );
        std::thread::sleep(self.policy.delay(self.failures));
        Ok(())
    }

    /// Connects, retrying as the policy allows.
    ///
    /// # Errors
    /// The last failure, once no more attempts are due.
    pub fn connect(&mut self, endpoint: &Endpoint) -> Result<Client> {
        let addr = endpoint.addr.as_str();
        loop {
            match endpoint.connect() {
                Ok(client) => {
                    self.connected_once = true;
                    return Ok(client);
                }
                Err(ClientError::Io(err)) => {
                    // Name the server: "connection refused" alone does not
                    // say where.
                    let named = std::io::Error::new(
                        err.kind(),
                        format!("cannot connect to {}: {err}", describe(addr)),
                    );
                    self.after(ClientError::Io(named))?;
                }
                Err(err) => self.after(err)?,
            }
        }
    }
}

/// An address for messages: as the user gave it, and what it resolves to
/// where that differs (`localhost:5010 (127.0.0.1:5010)`).
fn describe(addr: &str) -> String {
    match addr.to_socket_addrs().map(|mut all| all.next()) {
        Ok(Some(first)) if first.to_string() != addr => format!("{addr} ({first})"),
        _ => addr.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server is named as it was given, with its address where a name
    /// resolved to one.
    #[test]
    fn a_server_is_named_as_given() {
        assert_eq!(describe("127.0.0.1:5010"), "127.0.0.1:5010");
        assert!(
            describe("localhost:5010").starts_with("localhost:5010 ("),
            "{}",
            describe("localhost:5010")
        );
        // Not an address at all (no port): as given, no lookup made.
        assert_eq!(describe("no-port-here"), "no-port-here");
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (1..=7)
            .map(|n| policy.delay(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 8000, 8000]);
        assert_eq!(policy.delay(u32::MAX), policy.max_delay);
    }

    #[test]
    fn only_transient_errors_are_retried_and_only_so_often() {
        let policy = RetryPolicy {
            retries: 2,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        };
        let reset = || ClientError::Io(std::io::Error::from(ErrorKind::ConnectionReset));
        let mut backoff = Backoff::new(policy);
        assert!(backoff.after(reset()).is_ok());
        assert!(backoff.after(reset()).is_ok());
        assert!(backoff.after(reset()).is_err());
        backoff.progressed();
        assert!(backoff.after(reset()).is_ok());
        let refused = ClientError::Remote {
            code: 404,
            message: "no such file".into(),
        };
        assert!(Backoff::new(policy).after(refused).is_err());
        let not_listening = ClientError::Io(std::io::Error::from(ErrorKind::ConnectionRefused));
        assert!(Backoff::new(policy).after(not_listening).is_err());
    }
}
