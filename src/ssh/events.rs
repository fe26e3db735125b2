//! Answers to what sunset asks as a session runs (`session.rs` drives
//! it): the host key, whether a login is good, which channel may open and
//! which runs SFTP, and the refusal of a shell or command. Each answer is
//! given at once, as sunset wants, from what the session holds.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use log::{debug, info, warn};
use sunset::{ChanFail, ChanHandle, ServEvent};

use super::SshTerms;
use crate::access::{Principal, Rejection, Secret};
use crate::wire::socket::Outcome;

/// Failed logins on one connection before it is cut (OpenSSH's
/// `MaxAuthTries`).
pub const MAX_AUTH_TRIES: u32 = 6;

/// What answering an event may change of the session: its fields, apart
/// from the runner that lends the event.
pub(super) struct Answering<'s> {
    pub(super) terms: &'s SshTerms,
    pub(super) peer: IpAddr,
    pub(super) sftp: &'s mut Option<ChanHandle>,
    pub(super) opened: &'s mut Vec<ChanHandle>,
    pub(super) login: &'s mut Option<Arc<Principal>>,
    pub(super) failures: &'s mut u32,
    pub(super) ended: &'s mut Option<&'static str>,
    /// A channel to end with exit status 1 once the event is answered.
    pub(super) refused: Option<sunset::ChanNum>,
}

/// Answers one of sunset's events; `true`: it moved the session on.
pub(super) fn answer(
    event: ServEvent<'_, '_>,
    session: &mut Answering<'_>,
) -> Result<bool, Outcome> {
    let failed = |err: sunset::Error| Outcome::Error(ssh_error(err));
    match event {
        ServEvent::Hostkeys(keys) => keys
            .hostkeys(&[&session.terms.host_key.key])
            .map_err(failed)?,
        ServEvent::FirstAuth(mut first) => {
            if session.terms.access.is_on() {
                first.set_auth_methods(true, false).map_err(failed)?;
                first.reject().map_err(failed)?;
            } else {
                first.allow().map_err(failed)?;
            }
        }
        ServEvent::PasswordAuth(attempt) => {
            let password = attempt.password().unwrap_or_default().to_owned();
            match log_in(session, password) {
                true => attempt.allow().map_err(failed)?,
                false => attempt.reject().map_err(failed)?,
            }
        }
        // Keys on tokens are not served yet; an open server lets in
        // whoever comes, whatever it tries first.
        ServEvent::PubkeyAuth(attempt) if !session.terms.access.is_on() => {
            attempt.allow().map_err(failed)?;
        }
        ServEvent::PubkeyAuth(attempt) => attempt.reject().map_err(failed)?,
        ServEvent::Authenticated => info!("SSH login from {}", session.peer),
        ServEvent::OpenSession(open) => {
            if session.sftp.is_some() || !session.opened.is_empty() {
                open.reject(ChanFail::SSH_OPEN_RESOURCE_SHORTAGE)
                    .map_err(failed)?;
            } else {
                session.opened.push(open.accept().map_err(failed)?);
            }
        }
        ServEvent::SessionSubsystem(request) => {
            let num = request.channel();
            let at = session.opened.iter().position(|c| c.num() == num);
            match (request.command(), at, session.sftp.is_some()) {
                (Ok("sftp"), Some(at), false) => {
                    request.succeed().map_err(failed)?;
                    *session.sftp = Some(session.opened.remove(at));
                }
                // Another subsystem, or a second SFTP: told so, as a
                // command is.
                _ => {
                    session.refused = Some(num);
                    request.succeed().map_err(failed)?;
                }
            }
        }
        ServEvent::SessionExec(request) => {
            session.refused = Some(request.channel());
            request.succeed().map_err(failed)?;
        }
        ServEvent::SessionShell(request) => {
            session.refused = Some(request.channel());
            request.succeed().map_err(failed)?;
        }
        ServEvent::SessionPty(request) => request.fail().map_err(failed)?,
        ServEvent::SessionEnv(request) => request.fail().map_err(failed)?,
        ServEvent::Defunct => *session.ended = Some("the peer closed the session"),
        ServEvent::PollAgain => {}
    }
    Ok(true)
}

/// Whether `password` logs in (a token, or anything on an open server);
/// a failure counts against the session and the address.
fn log_in(session: &mut Answering<'_>, password: String) -> bool {
    let access = &session.terms.access;
    if !access.is_on() {
        return true;
    }
    match access.authenticate(&Secret::new(password), session.peer) {
        Ok(principal) => {
            debug!(
                "SSH login from {} as {}",
                session.peer, principal.entry.name
            );
            *session.login = Some(principal);
            true
        }
        Err(Rejection::Throttled(_)) => {
            warn!("SSH login from {}: throttled, disconnected", session.peer);
            *session.ended = Some("too many failed logins from its address");
            false
        }
        Err(_) => {
            *session.failures += 1;
            debug!(
                "SSH login from {} refused ({} failed)",
                session.peer, session.failures
            );
            if *session.failures >= MAX_AUTH_TRIES {
                *session.ended = Some("too many failed logins");
            }
            false
        }
    }
}

/// sunset's error as an I/O error (it is not `std::error::Error` without
/// its `std` feature's Display alone).
pub(super) fn ssh_error(err: sunset::Error) -> io::Error {
    io::Error::other(format!("SSH: {err}"))
}
