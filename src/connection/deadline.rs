//! Connection deadlines: the idle timeout, the first-byte deadline, the
//! request-line deadline and the minimum body rate, which together bound
//! what a slow or stalled peer can hold (slowloris and slow-POST style
//! attacks included).
//!
//! The first-byte deadline (`--first-byte-timeout`, shorter than the idle
//! timeout) cuts a connection that has sent nothing at all: a client that
//! means to be served asks at once, and bare connections are the cheapest
//! way to hold the connection slots (a TLS handshake has the request-line
//! deadline, then the first-byte one again for its first request).
//!
//! An SSH connection has the login grace time (`--ssh-login-grace`) from
//! its opening to its SFTP subsystem instead of the request-line
//! deadline: its key exchange and login are its first request, and a
//! person may be at the password prompt (OpenSSH's `LoginGraceTime`), so
//! the grace time stands in for the idle timeout there too.
//!
//! A logged-in SFTP session resting between requests, nothing owed
//! either way, has `--ssh-idle-timeout` (15 minutes) in place of the idle
//! timeout (`Codec::resting_timeout`): a mount or a file manager sits
//! quiet for minutes and its user loses a cut session, where an HTTP
//! client opens another connection unseen.
//!
//! An SSH connection resting between requests, quiet for
//! `Config::ssh_rest`, lets its session rest: the memory of its packet
//! buffers is given back (`ssh/rest.rs`) until traffic passes again. A
//! transfer moves more often than that and never pays for it.
//!
//! An FTPS data connection whose TLS session resumed a sibling login's,
//! not logged in yet, has no deadline of its own while it waits: it is
//! looked at again every [`SIBLING_LOOK`], and the wait ends by itself
//! (`tls_login::SIBLING_GRACE`).
//!
//! A connection only records times here; the reactor keeps one timer-heap
//! entry per connection at [`Connection::deadline`] and calls
//! [`Connection::expired`] when it comes due, so checking costs O(log n)
//! per deadline rather than a scan of every connection.

use std::time::{Duration, Instant};

use super::{Connection, State, Wait};
use crate::config::Config;
use crate::wire::Protocol;

/// How often a data connection whose TLS session resumed a sibling FTPS
/// login's looks again at whether that login is judged (its `PASS`
/// comes a round trip after the `USER` whose reply carried the session).
const SIBLING_LOOK: Duration = Duration::from_millis(20);

/// What a connection is doing, as far as its deadlines care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing received yet since the connection opened (or since its TLS
    /// handshake).
    Fresh,
    /// Waiting for a request, nothing of it received yet.
    BetweenRequests,
    /// Between requests with every answer out: nothing owed either way.
    Resting,
    /// Part of a request line received.
    PartialHeader,
    /// An SSH connection that has not reached SFTP yet.
    Login,
    /// A body moving in either direction.
    Body,
    /// Waiting for the pool with an answer that may begin early.
    Filling,
    /// Closing down.
    Closing,
}

/// The deadline of the current phase, besides the idle timeout.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// None: resting between requests, or closing.
    Off,
    /// Nothing received since this instant.
    FirstByte(Instant),
    /// A request line began arriving at this instant.
    Header(Instant),
    /// An SSH connection opened at this instant, not logged in yet.
    Login(Instant),
    /// A body is moving: bytes moved since this rate window began.
    Body { started: Instant, bytes: u64 },
    /// An answer that may begin early waits: since this instant, when the
    /// wait began or its last filler was queued (`Config::early_answer`).
    Filling(Instant),
    /// Resting between requests since this instant (the idle timeout
    /// alone applies; a newcomer may displace it, `Connection::resting_since`).
    Resting(Instant),
}

/// The times a connection's deadlines are computed from.
#[derive(Debug)]
pub(super) struct Timing {
    last_progress: Instant,
    clock: Clock,
    /// When the reactor's timer heap will next look at this connection, in
    /// the heap's own unit (see `server/reactor/timers.rs`).
    scheduled: u64,
}

impl Timing {
    pub(super) fn new(now: Instant) -> Timing {
        Timing {
            last_progress: now,
            clock: Clock::FirstByte(now),
            scheduled: 0,
        }
    }

    /// Bytes moved: resets the idle timer and counts towards the rate.
    pub(super) fn progressed(&mut self, now: Instant, moved: usize) {
        self.last_progress = now;
        if let Clock::Body { bytes, .. } = &mut self.clock {
            *bytes += moved as u64;
        }
    }

    /// The server kept the client waiting (for the disk, a job, a TLS
    /// verdict): its idle time and its rate window start again, so the
    /// server's own wait never counts against the client (a window left
    /// behind would also keep the connection's deadline in the past).
    fn server_waited(&mut self, now: Instant) {
        self.progressed(now, 0);
        if let Clock::Body { .. } = self.clock {
            self.clock = Clock::Body {
                started: now,
                bytes: 0,
            };
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) {
        self.clock = match (phase, self.clock) {
            (Phase::Fresh, clock @ Clock::FirstByte(_)) => clock,
            (Phase::Fresh, _) => Clock::FirstByte(now),
            (Phase::PartialHeader, clock @ Clock::Header(_)) => clock,
            (Phase::PartialHeader, _) => Clock::Header(now),
            (Phase::Login, clock @ Clock::Login(_)) => clock,
            // The grace time counts from the connection's opening.
            (Phase::Login, Clock::FirstByte(since)) => Clock::Login(since),
            (Phase::Login, _) => Clock::Login(now),
            (Phase::Body, clock @ Clock::Body { .. }) => clock,
            (Phase::Body, _) => Clock::Body {
                started: now,
                bytes: 0,
            },
            (Phase::Filling, clock @ Clock::Filling(_)) => clock,
            (Phase::Filling, _) => Clock::Filling(now),
            (Phase::Resting, clock @ Clock::Resting(_)) => clock,
            (Phase::Resting, _) => Clock::Resting(now),
            (Phase::BetweenRequests | Phase::Closing, _) => Clock::Off,
        };
    }
}

impl Connection {
    /// Records which deadlines apply now; called at the end of every drive,
    /// `heard` whether bytes came in during it.
    pub(super) fn note_phase(&mut self, now: Instant, heard: bool) {
        let phase = match &self.state {
            // The PROXY header is the first part of the first request.
            State::ProxyHeader => Phase::PartialHeader,
            State::AwaitHeader if self.transport.is_logging_in() => Phase::Login,
            // A TLS handshake is the first part of the first request.
            State::AwaitHeader if self.transport.is_handshaking() => Phase::PartialHeader,
            // Whole requests waiting behind queued output are not late.
            State::AwaitHeader if !self.input.is_empty() && !self.holds_whole_head() => {
                Phase::PartialHeader
            }
            State::AwaitHeader if self.bytes_in == 0 => Phase::Fresh,
            State::AwaitHeader if self.input.is_empty() && !self.has_output() => Phase::Resting,
            // The client owes the data connection its command needs: it is
            // the rest of that request.
            // (A link asked for this turn is taken by the reactor once the
            // turn ends: it is waited on from now.)
            State::Waiting(Wait::Link(_) | Wait::Linked) => Phase::PartialHeader,
            State::Waiting(_) if self.codec.fills() => Phase::Filling,
            State::AwaitHeader | State::Waiting(_) => Phase::BetweenRequests,
            State::ReceivingBody(_)
            | State::SendingBody(_)
            | State::SendingHeld(_)
            | State::DrainingBody { .. }
            | State::EchoingBody { .. } => Phase::Body,
            State::Ended | State::Done | State::Lingering { .. } => Phase::Closing,
        };
        if heard && phase == Phase::Resting {
            // Asked and answered (or refused) within the drive: a new rest
            // begins, not the one before the request (a client just
            // answered has had no time to speak, `resting_since`).
            self.timing.clock = Clock::Off;
        }
        self.timing.enter(phase, now);
    }

    /// Whether the held input has a whole request head (the codec's rule).
    fn holds_whole_head(&self) -> bool {
        self.codec.holds_whole_head(&self.input)
    }

    /// Since when the connection has received nothing at all (since it
    /// opened, or since its TLS handshake), if it has not: a bare
    /// connection, which a newcomer may displace when the server is full.
    /// Never an FTP data connection: it waits for its login's transfer.
    pub fn bare_since(&self) -> Option<Instant> {
        if self.linked_to().is_some() {
            return None;
        }
        match self.timing.clock {
            Clock::FirstByte(since) => Some(since),
            Clock::Login(since) if self.bytes_in == 0 => Some(since),
            _ => None,
        }
    }

    /// Since when an HTTP connection has rested between requests, every
    /// answer out and nothing of the next request in, if it has: one a
    /// newcomer may displace when the server is full. HTTP/1.1 lets a
    /// server close an idle persistent connection at any time, and its
    /// clients open another (RFC 9112 9.3, 9.8; nginx drains them so);
    /// FERRY/1 and FTP sessions hold a login and a place a close would
    /// lose, and rest until the idle timeout.
    pub fn resting_since(&self) -> Option<Instant> {
        let http = matches!(self.protocol(), Protocol::Http | Protocol::S3);
        match self.timing.clock {
            Clock::Resting(since) if http && self.input.is_empty() && !self.has_output() => {
                Some(since)
            }
            _ => None,
        }
    }

    /// Whether it may move to another reactor now (`--hand-over`): an
    /// HTTP connection at rest with nothing held anywhere (no job under
    /// way, no turn queued, no bytes in its TLS session), so all it is
    /// is its socket and its session's state.
    pub fn may_move(&self) -> bool {
        self.resting_since().is_some()
            && matches!(self.state, State::AwaitHeader)
            && !self.is_queued()
            && !self.transport.holds_bytes()
    }

    /// The idle timeout that holds now: a connection resting between
    /// requests, its session holding nothing either way, has its
    /// protocol's (`Codec::resting_timeout`); one owed a byte either way
    /// (an answer its client does not read, a packet's part), or not
    /// logged in, `--idle-timeout`.
    fn idle_timeout(&self, config: &Config) -> Duration {
        match self.timing.clock {
            Clock::Resting(_) if !self.transport.holds_bytes() => {
                self.codec.resting_timeout(config)
            }
            _ => config.idle_timeout,
        }
    }

    /// The earliest moment one of this connection's deadlines can pass.
    pub fn deadline(&self, config: &Config) -> Instant {
        if self.tls_resumption_waits() {
            // Looked at again shortly; the wait itself is bounded
            // (`tls_login::SIBLING_GRACE`).
            return Instant::now() + SIBLING_LOOK;
        }
        let timing = &self.timing;
        let idle = timing.last_progress + self.idle_timeout(config);
        match timing.clock {
            Clock::FirstByte(since) => idle.min(since + config.first_byte_timeout),
            Clock::Header(started) => idle.min(started + config.header_timeout),
            Clock::Login(since) => since + config.ssh_login_grace,
            Clock::Body { started, .. } if config.min_rate > 0 => {
                idle.min(started + config.rate_window)
            }
            Clock::Filling(since) => idle.min(since + config.early_answer),
            Clock::Resting(_) if self.transport.may_rest() => {
                idle.min(timing.last_progress + config.ssh_rest)
            }
            _ => idle,
        }
    }

    /// Lets an SSH session rest if the connection has rested between
    /// requests, quiet for `Config::ssh_rest`, since its last traffic:
    /// whether its packet buffers' memory was given back.
    pub fn rest_if_due(&mut self, now: Instant, config: &Config) -> bool {
        matches!(self.timing.clock, Clock::Resting(_))
            && now >= self.timing.last_progress + config.ssh_rest
            && self.transport.may_rest()
            && self.transport.rest()
    }

    /// Checks the deadlines at `now`: `Some(reason)` if the connection must
    /// be closed. A rate window that passed its check starts anew; an
    /// answer that may begin early and whose time has come queues its
    /// head or a filler (for the reactor to send: [`Self::has_output`]).
    pub fn expired(&mut self, now: Instant, config: &Config) -> Option<String> {
        if let Some(from) = self.transport.resumption_waits_for() {
            // The server's wait (5 s at most), unless the verdict was
            // somehow never looked at (a backstop).
            if from.overdue(now) {
                return Some("TLS resumption never judged".into());
            }
            self.timing.server_waited(now);
            return None;
        }
        if let (State::Waiting(_), Clock::Filling(since)) = (&self.state, self.timing.clock)
            && now >= since + config.early_answer
        {
            self.codec.fill(&mut self.output);
            self.timing.clock = Clock::Filling(now);
        }
        if let (State::Waiting(Wait::Linked), Clock::Header(started)) =
            (&self.state, self.timing.clock)
            && now >= started + config.header_timeout
        {
            // No data connection came: the transfer is refused, the
            // control connection goes on (the reactor takes the link).
            self.abandon_link();
            self.timing.progressed(now, 0);
            self.timing.enter(Phase::BetweenRequests, now);
            return None;
        }
        let idle_timeout = self.idle_timeout(config);
        let backlogged = self.output_backlogged();
        let timing = &mut self.timing;
        let server_is_slow = match &self.state {
            State::Waiting(Wait::Linked) => false,
            // Its next job waits for the client to read what is queued.
            State::Waiting(Wait::Job(_)) if backlogged => false,
            State::Waiting(_) => true,
            // Its body waits for the disk, not for the client.
            State::ReceivingBody(receive) => receive.waits_for_write(),
            _ => false,
        };
        if server_is_slow {
            // The client is owed its answer, or the room to send more.
            timing.server_waited(now);
            return None;
        }
        let at_the_prompt = matches!(timing.clock, Clock::Login(_));
        if now >= timing.last_progress + idle_timeout && !at_the_prompt {
            return Some(format!("no progress for {}", secs(idle_timeout)));
        }
        match timing.clock {
            Clock::FirstByte(since) if now >= since + config.first_byte_timeout => Some(format!(
                "nothing received in {}",
                secs(config.first_byte_timeout)
            )),
            Clock::Header(started) if now >= started + config.header_timeout => {
                let what = match self.state {
                    State::ProxyHeader => "trusted proxy: no PROXY header",
                    _ => "request not complete",
                };
                Some(format!("{what} after {}", secs(config.header_timeout)))
            }
            Clock::Login(since) if now >= since + config.ssh_login_grace => Some(format!(
                "not logged in after {}",
                secs(config.ssh_login_grace)
            )),
            Clock::Body { started, bytes } if config.min_rate > 0 => {
                let elapsed = now.duration_since(started);
                if elapsed < config.rate_window {
                    return None;
                }
                let rate = bytes as f64 / elapsed.as_secs_f64();
                if rate < config.min_rate as f64 {
                    return Some(format!(
                        "body moving at {rate:.0} bytes/s, under the {} bytes/s minimum",
                        config.min_rate
                    ));
                }
                timing.clock = Clock::Body {
                    started: now,
                    bytes: 0,
                };
                None
            }
            _ => None,
        }
    }

    /// When the timer heap will next look at this connection.
    pub fn scheduled(&self) -> u64 {
        self.timing.scheduled
    }

    /// Records that the timer heap has an entry for this connection at `at`.
    pub fn set_scheduled(&mut self, at: u64) {
        self.timing.scheduled = at;
    }
}

fn secs(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
