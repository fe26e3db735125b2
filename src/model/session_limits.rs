//! What bounds upload sessions, as serve/ asks them and every engine
//! keeps them: how long one is kept untouched ([`SessionTtl`]), the caps
//! on how many one client, owner or share link may begin
//! ([`SessionLimits`]), and which cap a refused one passed
//! ([`SessionCap`]).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How long a session untouched is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTtl {
    /// A session that holds staged bytes (`--upload-ttl`).
    pub staged: Duration,
    /// A session that never received a byte: no longer than `staged`.
    /// Kept briefly, so that a flood of `UPLOAD`s that send nothing gives
    /// its slots back soon; a client that means to send begins at once.
    pub empty: Duration,
}

impl SessionTtl {
    /// `staged` for sessions with bytes, and `empty` (or `staged`, if
    /// shorter) for those without.
    pub fn new(staged: Duration, empty: Duration) -> SessionTtl {
        SessionTtl {
            staged,
            empty: empty.min(staged),
        }
    }

    /// When a session last used at `used` (seconds since the epoch) that
    /// holds `received` bytes expires, unless used again.
    pub fn expires(&self, used: i64, received: u64) -> i64 {
        let keep = self.keep(received);
        used.saturating_add(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX))
    }

    /// How long a session that holds `received` bytes is kept unused.
    fn keep(&self, received: u64) -> Duration {
        match received {
            0 => self.empty,
            _ => self.staged,
        }
    }

    /// Whether a session last used at `used` that holds `received` bytes
    /// has expired by now: once the second it expires in has passed.
    /// `used` is rounded down to its second, so a session used at 10.999
    /// with a 1 s TTL would else expire at 11.000, a millisecond later:
    /// judged so, it is kept its TTL at least, and a second more at most
    /// (what it is told, [`SessionTtl::expires`], stays the earlier).
    pub fn has_expired(&self, used: i64, received: u64) -> bool {
        self.expired_at(used, received, now_seconds())
    }

    /// As [`SessionTtl::has_expired`], at second `now`.
    fn expired_at(&self, used: i64, received: u64, now: i64) -> bool {
        // A TTL of nothing keeps nothing, whatever the second.
        self.keep(received).is_zero() || now > self.expires(used, received)
    }

    /// When a session used just now that holds `received` bytes expires.
    pub fn expires_from_now(&self, received: u64) -> i64 {
        self.expires(now_seconds(), received)
    }
}

/// What bounds the sessions an `UPLOAD` may begin.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Sessions untouched for longer are removed.
    pub ttl: SessionTtl,
    /// Most sessions at once.
    pub total: usize,
    /// Most sessions begun by one client address.
    pub per_client: usize,
    /// Most sessions begun by one owner (a token, or the clients without
    /// one).
    pub per_owner: usize,
    /// The client asking.
    pub client: IpAddr,
    /// Whose share it counts against: `None` where there are no tokens.
    pub owner: Option<String>,
    /// The share link it is made through (its id) and that link's cap on
    /// live uploads (`--share-max-uploads`): a stranger holding the link
    /// may fill that much of the owner's share, never all of it.
    pub link: Option<(LinkId, usize)>,
    /// `--fsync`: a new session's record and names are flushed before
    /// `UPLOAD` answers, so that the bytes its `APPEND`s acknowledge (each
    /// flushed) are still a session after a power cut.
    pub durable: bool,
}

/// Which cap a new session would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCap {
    /// The server's (`--max-upload-sessions`).
    Server,
    /// The client address's (`--max-upload-sessions-per-client`), which is this.
    Client(usize),
    /// The token's (`--max-upload-sessions-per-token`), which is this.
    Token(usize),
    /// The share link's (`--share-max-uploads`), which is this.
    #[cfg(feature = "shares")]
    Link(usize),
}

/// The id of the share link a session is begun through (docs/shares.md).
#[cfg(feature = "shares")]
pub type LinkId = String;

/// Without the `shares` feature there are no links: a type with no value,
/// so that every `Option` of it is `None` and what counts a link's
/// sessions is compiled out of the build that serves none (the embedded
/// one's size).
#[cfg(not(feature = "shares"))]
pub type LinkId = NoLink;

/// No share link (see [`LinkId`]).
#[cfg(not(feature = "shares"))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NoLink {}

#[cfg(not(feature = "shares"))]
impl std::fmt::Display for NoLink {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

/// Now, in seconds since 1970 (0 for a clock before it).
pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_kept_its_ttl_whatever_the_second_it_was_used_in() {
        let ttl = SessionTtl::new(Duration::from_secs(1), Duration::from_secs(600));
        // Used in second 10, perhaps at its very end: in second 11 less
        // than the TTL may have passed; in second 12 more has.
        assert!(!ttl.expired_at(10, 1, 10));
        assert!(!ttl.expired_at(10, 1, 11));
        assert!(ttl.expired_at(10, 1, 12));
        // What it is told is the earlier second.
        assert_eq!(ttl.expires(10, 1), 11);
        // An empty one's TTL, no longer than the staged one's.
        assert!(ttl.expired_at(10, 0, 12));
        // A TTL of nothing: gone at once.
        let none = SessionTtl::new(Duration::ZERO, Duration::ZERO);
        assert!(none.expired_at(10, 1, 10));
    }
}
