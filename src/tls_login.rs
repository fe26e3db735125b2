//! One FTPS login's TLS: the control connection's session and the
//! configuration its data connections' sessions are made with, and which
//! sessions those may resume.
//!
//! vsftpd requires a data connection to resume the control connection's
//! TLS session (`require_ssl_reuse`, on by default), and so does ferry:
//! otherwise whoever reaches a passive port first (anyone able to connect
//! from the client's address: a NAT's other users, a client's other
//! programs) could take or feed the transfer with a TLS session of its
//! own, begun by an `AUTH TLS` that needs no password. Each login keeps
//! the sessions its control connection began in a store of its own; its
//! data connections resume from that store, or from the store of another
//! login from the same address under the same token (a client's parallel
//! logins share one session cache: rclone's do), and from no other. So a
//! data connection that resumed at all resumed one of those: rustls's
//! unbuffered API tells resumed from full handshakes and nothing more,
//! which is all the check needs. The check itself is the data
//! connection's (`connection/tls_records.rs`), unless
//! `--ftp-tls-reuse-optional` lets clients that never resume (Python's
//! ftplib) through.
//!
//! A client that opens a new control connection begins a new session in
//! full: a login's sessions are not offered to the next one.
//!
//! A sibling not yet logged in (its `PASS` not judged) may hold the
//! session a data connection offers: Go's clients (rclone) cache a
//! login's TLS 1.3 ticket as they read the reply to `USER`, and offer it
//! on another login's data connection straight away. Such a session is
//! resumed, but the data connection moves nothing until the sibling is
//! judged ([`ResumedFrom::verdict`]): logged in under the same token, the
//! transfer goes on; under another token, gone, or not logged in within
//! [`SIBLING_GRACE`] (a refused `PASS` may be tried again, so it waits
//! the grace out too), it is refused as a full handshake is. So an
//! `AUTH TLS` and `USER` without the password never carry a transfer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::server::{StoresServerSessions, UnbufferedServerConnection};

use crate::threads::lock;

/// Sessions one login keeps: the control connection's (two TLS 1.3
/// tickets, or a TLS 1.2 session id) with room to spare.
const LOGIN_SESSIONS: usize = 4;

/// How long a data connection that resumed a sibling's session waits for
/// that sibling's `PASS` to be judged: a client sends it as soon as it
/// reads the reply to `USER`, so this is round trips, with room for a
/// slow link and a slow token check.
pub const SIBLING_GRACE: Duration = Duration::from_secs(5);

/// Who an FTPS login is, and on what terms its data connections are
/// served.
#[derive(Clone, Copy, Debug)]
pub struct LoginTerms {
    /// The client's address.
    pub address: IpAddr,
    /// The server checks no tokens (anyone may log in as anyone), so
    /// every login from an address is every other's sibling.
    pub open: bool,
    /// Data connections must resume a session (not with
    /// `--ftp-tls-reuse-optional`).
    pub must_resume: bool,
}

/// The configuration an FTPS login's data connections are served with.
pub struct LoginTls {
    data: Arc<ServerConfig>,
    must_resume: bool,
    sessions: Arc<LoginSessions>,
    logins: Arc<Logins>,
}

impl LoginTls {
    /// The control connection's session (`AUTH TLS`) on `control`'s
    /// terms, and what its data connections' sessions will be made with
    /// (`data`'s terms), the login counted among `logins`.
    ///
    /// # Errors
    /// Only if rustls cannot set up a session (out of memory, in effect).
    pub fn begin(
        (control, data): (&ServerConfig, &ServerConfig),
        logins: &Arc<Logins>,
        terms: LoginTerms,
    ) -> Result<(UnbufferedServerConnection, LoginTls), rustls::Error> {
        // What "resumed" proves rests on these: sessions only in the
        // stores (no stateless tickets any server could decrypt), and no
        // early data (`take` leaves a session for the next transfer).
        debug_assert!(!control.ticketer.enabled() && !data.ticketer.enabled());
        debug_assert!(control.max_early_data_size == 0 && data.max_early_data_size == 0);
        let sessions = Arc::new(LoginSessions::from(terms.address));
        if terms.open {
            *lock(&sessions.holder) = Some(String::new());
        }
        let mut control = control.clone();
        control.session_storage = Arc::clone(&sessions) as Arc<dyn StoresServerSessions>;
        let mut data = data.clone();
        data.session_storage = Arc::new(Resumable::new(&sessions, logins));
        let session = UnbufferedServerConnection::new(Arc::new(control))?;
        logins.join(&sessions);
        let login = LoginTls {
            data: Arc::new(data),
            must_resume: terms.must_resume,
            sessions,
            logins: Arc::clone(logins),
        };
        Ok((session, login))
    }

    /// A session for one of the login's data connections, and, where it
    /// must resume one (`TlsSession::require_resumption`), what it
    /// resumed from, to be judged once its handshake is through.
    ///
    /// # Errors
    /// As [`LoginTls::begin`].
    pub fn data_session(
        &self,
    ) -> Result<(UnbufferedServerConnection, Option<ResumedFrom>), rustls::Error> {
        if !self.must_resume {
            let session = UnbufferedServerConnection::new(Arc::clone(&self.data))?;
            return Ok((session, None));
        }
        // A store of its own per data connection: it records which
        // sibling's session it handed out (rustls says only "resumed").
        let resumable = Arc::new(Resumable::new(&self.sessions, &self.logins));
        let mut data = (*self.data).clone();
        data.session_storage = Arc::clone(&resumable) as Arc<dyn StoresServerSessions>;
        let session = UnbufferedServerConnection::new(Arc::new(data))?;
        Ok((session, Some(ResumedFrom(resumable))))
    }

    /// The login is (now) under the token named `holder` (`None`: no
    /// token, whose logins share nothing).
    pub fn held_by(&self, holder: Option<&str>) {
        let mut owner = lock(&self.sessions.holder);
        if owner.as_deref() != holder {
            *owner = holder.map(str::to_owned);
        }
    }
}

impl Drop for LoginTls {
    fn drop(&mut self) {
        self.sessions.ended.store(true, Ordering::Relaxed);
        self.logins.leave();
    }
}

/// Every FTPS login of the server, for its siblings' data connections.
/// (A list, not a map by address: the small build's size, and a lookup
/// only where a data connection offers a session not its login's.)
#[derive(Debug, Default)]
pub struct Logins {
    all: Mutex<Vec<Weak<LoginSessions>>>,
    /// Logins ended since the list was last swept.
    ended: std::sync::atomic::AtomicUsize,
}

impl Logins {
    fn join(&self, sessions: &Arc<LoginSessions>) {
        lock(&self.all).push(Arc::downgrade(sessions));
    }

    /// A login ended: once as many have as are listed live, the list is
    /// swept (each ending pays for one entry's look, not the list's).
    fn leave(&self) {
        let ended = self.ended.fetch_add(1, Ordering::Relaxed) + 1;
        let mut all = lock(&self.all);
        if ended * 2 >= all.len() {
            all.retain(|login| login.strong_count() > 0);
            self.ended.store(0, Ordering::Relaxed);
        }
    }

    /// The session stored under `key` by a login other than `own` from
    /// its address, held by the same token or not logged in yet (the
    /// login, for the latter: judged when the handshake is through).
    fn sibling_session(
        &self,
        own: &Arc<LoginSessions>,
        key: &[u8],
    ) -> Option<(Vec<u8>, Option<Arc<LoginSessions>>)> {
        let holder = lock(&own.holder).clone()?;
        let all = lock(&self.all);
        all.iter()
            .filter_map(Weak::upgrade)
            .filter(|login| login.address == own.address && !Arc::ptr_eq(login, own))
            .filter(|login| !login.ended.load(Ordering::Relaxed))
            .find_map(|login| {
                let pending = match lock(&login.holder).as_deref() {
                    Some(theirs) if theirs == holder => false,
                    Some(_) => return None,
                    None => true,
                };
                let session = login.get(key)?;
                Some((session, pending.then_some(login)))
            })
    }
}

/// The sessions of one login, oldest first, and whose they are.
#[derive(Debug)]
struct LoginSessions {
    held: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
    address: IpAddr,
    /// The token the login is under, once logged in with one.
    holder: Mutex<Option<String>>,
    /// Its control connection has ended (its sessions are no one's to
    /// hand out; a wait on its login is over).
    ended: AtomicBool,
}

impl From<IpAddr> for LoginSessions {
    fn from(address: IpAddr) -> LoginSessions {
        LoginSessions {
            held: Mutex::default(),
            address,
            holder: Mutex::default(),
            ended: AtomicBool::new(false),
        }
    }
}

impl StoresServerSessions for LoginSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut held = lock(&self.held);
        held.retain(|(old, _)| *old != key);
        if held.len() == LOGIN_SESSIONS {
            held.remove(0);
        }
        held.push((key, value));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.held)
            .iter()
            .find(|(old, _)| old == key)
            .map(|(_, value)| value.clone())
    }

    /// Leaves the session in place: a TLS 1.3 ticket is for one use in
    /// rustls's own store, but the data connections issue none (why:
    /// `tls.rs`), so each transfer of the login resumes from the control
    /// connection's two. Reuse is safe here: no early data is taken, so a
    /// replayed hello replays nothing, and finishing the handshake still
    /// needs the session's secret.
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// What a login's data connections may resume: its own sessions, then
/// its siblings'.
#[derive(Debug)]
struct Resumable {
    own: Arc<LoginSessions>,
    logins: Arc<Logins>,
    /// The sibling, not logged in yet, whose session was handed out, and
    /// when. (Held, not weakly: a sibling that logs in and quits between
    /// two looks has still logged in.)
    pending: Mutex<Option<(Arc<LoginSessions>, Instant)>>,
}

impl Resumable {
    fn new(own: &Arc<LoginSessions>, logins: &Arc<Logins>) -> Resumable {
        Resumable {
            own: Arc::clone(own),
            logins: Arc::clone(logins),
            pending: Mutex::default(),
        }
    }
}

/// What a data connection's handshake resumed from, as far as it needs
/// judging once the handshake is through.
#[derive(Debug)]
pub struct ResumedFrom(Arc<Resumable>);

/// Whether a data connection that resumed a session may move data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its login's session, or a sibling's under the same token.
    Resumed,
    /// A sibling's that is not logged in yet: judged again later.
    Waits,
    /// A sibling's that logged in under another token, failed to log in
    /// in time, or has gone: as good as a full handshake.
    Refused,
}

impl ResumedFrom {
    /// The verdict as it stands at `now`.
    pub fn verdict(&self, now: Instant) -> Verdict {
        let Some((sibling, since)) = lock(&self.0.pending).clone() else {
            return Verdict::Resumed;
        };
        let theirs = lock(&sibling.holder).clone();
        let ended = sibling.ended.load(Ordering::Relaxed);
        match theirs {
            Some(theirs) if Some(&theirs) == lock(&self.0.own.holder).as_ref() => Verdict::Resumed,
            None if !ended && now < since + SIBLING_GRACE => Verdict::Waits,
            _ => Verdict::Refused,
        }
    }

    /// Whether a wait has gone on well past [`SIBLING_GRACE`]: its
    /// verdict was due and never looked at (a backstop for the
    /// connection's deadlines, which a wait otherwise holds off).
    pub fn overdue(&self, now: Instant) -> bool {
        lock(&self.0.pending)
            .as_ref()
            .is_some_and(|(_, since)| now >= *since + 2 * SIBLING_GRACE)
    }
}

/// Read-only: a data connection's own session is never kept, or a full
/// TLS 1.2 handshake (refused, but only once through) would leave a
/// session id its client could resume on the next data connection, and
/// push the control connection's out.
impl StoresServerSessions for Resumable {
    fn put(&self, _key: Vec<u8>, _value: Vec<u8>) -> bool {
        false
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(session) = self.own.get(key) {
            // The last session handed out is the one resumed (rustls
            // stops at the first it takes): a sibling's offered before it
            // was not.
            *lock(&self.pending) = None;
            return Some(session);
        }
        let (session, pending) = self.logins.sibling_session(&self.own, key)?;
        *lock(&self.pending) = pending.map(|login| (login, Instant::now()));
        Some(session)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    fn can_cache(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_keeps_its_newest_sessions_and_each_resumes_again() {
        let store = LoginSessions::from(IpAddr::from([127, 0, 0, 1]));
        for n in 0..=LOGIN_SESSIONS as u8 {
            assert!(store.put(vec![n], vec![n, n]));
        }
        assert_eq!(store.get(&[0]), None, "the oldest goes");
        let last = [LOGIN_SESSIONS as u8];
        assert_eq!(store.take(&last), Some(vec![last[0], last[0]]));
        assert_eq!(store.take(&last), Some(vec![last[0], last[0]]));
    }

    #[test]
    fn a_login_resumes_its_siblings_under_the_same_token_only() {
        let logins = Arc::new(Logins::default());
        let login = |address: [u8; 4], holder: Option<&str>| {
            let sessions = Arc::new(LoginSessions::from(IpAddr::from(address)));
            *lock(&sessions.holder) = holder.map(str::to_owned);
            logins.join(&sessions);
            sessions
        };
        let own = login([10, 0, 0, 1], Some("sync"));
        let sibling = login([10, 0, 0, 1], Some("sync"));
        let stranger = login([10, 0, 0, 1], Some("other"));
        let elsewhere = login([10, 0, 0, 2], Some("sync"));
        let anonymous = login([10, 0, 0, 1], None);
        for (n, store) in [&sibling, &stranger, &elsewhere, &anonymous]
            .into_iter()
            .enumerate()
        {
            store.put(vec![n as u8], vec![1]);
        }
        let resumable = Arc::new(Resumable::new(&own, &logins));
        let from = ResumedFrom(Arc::clone(&resumable));
        let now = Instant::now();
        assert!(resumable.take(&[0]).is_some(), "the same token's");
        assert_eq!(from.verdict(now), Verdict::Resumed);
        for key in 1..3 {
            assert_eq!(resumable.take(&[key]), None, "key {key}");
        }
        assert!(resumable.take(&[3]).is_some(), "not logged in yet");
        assert_eq!(from.verdict(now), Verdict::Waits);
        let past_grace = Instant::now() + SIBLING_GRACE;
        assert_eq!(from.verdict(past_grace), Verdict::Refused, "too late");
        *lock(&anonymous.holder) = Some("other".into());
        assert_eq!(from.verdict(now), Verdict::Refused, "another token's");
        *lock(&anonymous.holder) = Some("sync".into());
        assert_eq!(from.verdict(now), Verdict::Resumed, "logged in as own");
        anonymous.ended.store(true, Ordering::Relaxed);
        assert_eq!(from.verdict(now), Verdict::Resumed, "logged in, then quit");
        *lock(&anonymous.holder) = None;
        assert_eq!(from.verdict(now), Verdict::Refused, "quit before its PASS");
        assert_eq!(resumable.take(&[3]), None, "an ended login's: no one's");
        drop(sibling);
        assert_eq!(resumable.take(&[0]), None, "gone with its login");
        *lock(&own.holder) = None;
        assert_eq!(resumable.take(&[3]), None, "no token: its own alone");
    }
}
