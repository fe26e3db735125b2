//! One FTPS login's TLS: the control connection's session and the
//! configuration its data connections' sessions are made with, sharing a
//! session store of the login's own.
//!
//! vsftpd requires a data connection to resume the control connection's
//! TLS session (`require_ssl_reuse`, on by default), and so does ferry:
//! otherwise whoever reaches a passive port first (anyone able to connect
//! from the client's address: a NAT's other users, a client's other
//! programs) could take or feed the transfer with a TLS session of its
//! own. Because the store holds only the sessions this login's control
//! connection began, a data connection that resumed at all resumed one of
//! them: rustls's unbuffered API tells resumed from full handshakes and
//! nothing more, which is all the check needs. The check itself is the
//! data connection's (`connection/tls_session.rs`), unless
//! `--ftp-tls-reuse-optional` lets clients that never resume (Python's
//! ftplib) through.
//!
//! A client that opens a new control connection begins a new session in
//! full: a login's sessions are not offered to the next one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::ServerConfig;
use rustls::server::{StoresServerSessions, UnbufferedServerConnection};

/// Sessions one login keeps: the control connection's (two TLS 1.3
/// tickets, or a TLS 1.2 session id) with room to spare.
const LOGIN_SESSIONS: usize = 4;

/// The configuration an FTPS login's data connections are served with.
#[derive(Clone)]
pub struct LoginTls {
    data: Arc<ServerConfig>,
}

impl LoginTls {
    /// The control connection's session (`AUTH TLS`) on `control`'s
    /// terms, and what its data connections' sessions will be made with
    /// (`data`'s terms); both keep sessions in a new store of their own.
    ///
    /// # Errors
    /// Only if rustls cannot set up a session (out of memory, in effect).
    pub fn begin(
        control: &ServerConfig,
        data: &ServerConfig,
    ) -> Result<(UnbufferedServerConnection, LoginTls), rustls::Error> {
        let store: Arc<dyn StoresServerSessions> = Arc::new(LoginSessions::default());
        let mut control = control.clone();
        control.session_storage = Arc::clone(&store);
        let mut data = data.clone();
        data.session_storage = store;
        let session = UnbufferedServerConnection::new(Arc::new(control))?;
        Ok((
            session,
            LoginTls {
                data: Arc::new(data),
            },
        ))
    }

    /// A session for one of the login's data connections: it may resume
    /// the control connection's session, and no other.
    ///
    /// # Errors
    /// As [`LoginTls::begin`].
    pub fn data_session(&self) -> Result<UnbufferedServerConnection, rustls::Error> {
        UnbufferedServerConnection::new(Arc::clone(&self.data))
    }
}

/// The sessions of one login, oldest first.
#[derive(Debug, Default)]
struct LoginSessions {
    held: Mutex<VecDeque<(Vec<u8>, Vec<u8>)>>,
}

impl StoresServerSessions for LoginSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(old, _)| *old != key);
        if held.len() == LOGIN_SESSIONS {
            held.pop_front();
        }
        held.push_back((key, value));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.iter()
            .find(|(old, _)| old == key)
            .map(|(_, value)| value.clone())
    }

    /// Leaves the session in place: a TLS 1.3 ticket is for one use in
    /// rustls's own store, but the data connections issue none (an
    /// uploading client never reads them), so each transfer of the login
    /// resumes from the control connection's two. Reuse is safe here: no
    /// early data is taken, so a replayed hello replays nothing, and
    /// finishing the handshake still needs the session's secret.
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_keeps_its_newest_sessions_and_each_resumes_again() {
        let store = LoginSessions::default();
        for n in 0..=LOGIN_SESSIONS as u8 {
            assert!(store.put(vec![n], vec![n, n]));
        }
        assert_eq!(store.get(&[0]), None, "the oldest goes");
        let last = [LOGIN_SESSIONS as u8];
        assert_eq!(store.take(&last), Some(vec![last[0], last[0]]));
        assert_eq!(store.take(&last), Some(vec![last[0], last[0]]));
    }
}
