//! Answers to what sunset asks as a session runs (`session.rs` drives
//! it): the host key, whether a login is good, which channel may open and
//! which runs SFTP, and the refusal of a shell or command. Each answer is
//! given at once, as sunset wants, from what the session holds.
//!
//! Logins, where access control is on (who a secret or key names, and the
//! throttle, are `access/`'s):
//!
//! ```text
//! password         a ferry token (the user name is free)
//! public key       a key on a token (`ferry token key add`); the user name
//!                  is free, or a token's name: then only its keys count
//! user anonymous   (or ftp) with no password or any: the --anonymous
//!                  grants, only where some are given; never a token
//! ```

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use log::{debug, info, warn};
use sunset::event::ServPubkeyAuth;
use sunset::{ChanData, ChanFail, ChanHandle, PubKey, Runner, ServEvent};

use super::SshTerms;
use crate::access::ssh_keys::SshKey;
use crate::access::{Principal, Rejection, Secret, is_anonymous_user};
use crate::wire::socket::Outcome;

/// Failed logins on one connection before it is cut (OpenSSH's
/// `MaxAuthTries`).
pub const MAX_AUTH_TRIES: u32 = 6;

/// Keys one connection may offer that are not taken before it is cut.
/// Apart from [`MAX_AUTH_TRIES`], and more: an OpenSSH client offers every
/// key of its agent and `~/.ssh`, one by one, each as a query before it
/// signs with the one the server takes (OpenSSH's sshd counts them with
/// the passwords, so an agent of six keys meets "Too many authentication
/// failures"). A key guesses nothing, so they are not counted against the
/// address either (`Access::authenticate_key`); this bound and the login
/// grace time only keep one connection from asking forever.
pub const MAX_KEY_OFFERS: u32 = 20;

/// What one connection has tried and failed to log in with.
#[derive(Debug, Default)]
pub(super) struct Tries {
    /// Passwords (tokens) refused, and anonymous logins where none are.
    failures: u32,
    /// Public keys not taken, queried or signed.
    keys: u32,
}

/// What answering an event may change of the session: its fields, apart
/// from the runner that lends the event.
pub(super) struct Answering<'s> {
    pub(super) terms: &'s SshTerms,
    pub(super) peer: IpAddr,
    pub(super) sftp: &'s mut Option<ChanHandle>,
    pub(super) opened: &'s mut Vec<ChanHandle>,
    pub(super) login: &'s mut Option<Arc<Principal>>,
    pub(super) tries: &'s mut Tries,
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
        // The first attempt ("none", as OpenSSH's clients begin): an open
        // server lets in whoever comes; `anonymous` comes in without a
        // password where anonymous grants are given.
        ServEvent::FirstAuth(first) => {
            let anonymous = first.username().is_ok_and(is_anonymous_user);
            let access = &session.terms.access;
            if !access.is_on() || (anonymous && access.login().anonymous) {
                first.allow().map_err(failed)?;
            } else {
                first.reject().map_err(failed)?;
            }
        }
        ServEvent::PasswordAuth(attempt) => {
            let password = attempt.password().unwrap_or_default().to_owned();
            let anonymous = attempt.username().is_ok_and(is_anonymous_user);
            match log_in(session, password, anonymous) {
                true => attempt.allow().map_err(failed)?,
                false if *session.ended == Some(THROTTLED) => return Err(Outcome::Closed),
                false => attempt.reject().map_err(failed)?,
            }
        }
        ServEvent::PubkeyAuth(attempt) => match key_logs_in(session, &attempt) {
            true => attempt.allow().map_err(failed)?,
            false if *session.ended == Some(THROTTLED) => return Err(Outcome::Closed),
            false => attempt.reject().map_err(failed)?,
        },
        ServEvent::Authenticated => match session.login.as_ref() {
            Some(principal) => info!(
                "SSH login from {} as {}",
                session.peer, principal.entry.name
            ),
            None if session.terms.access.is_on() => {
                info!("SSH login from {} without a token", session.peer);
            }
            None => info!("SSH login from {}", session.peer),
        },
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

/// What a refused shell or command is told, on its stderr.
const SFTP_ONLY: &[u8] =
    b"ferry serves SFTP only (sftp, scp, sshfs, rclone): no shell or commands\r\n";

/// Tells the channel `num`, which asked for a shell or a command, that
/// this server runs none, and ends it (exit status 1).
pub(super) fn refuse(
    runner: &mut Runner<'static, sunset::Server>,
    opened: &mut Vec<ChanHandle>,
    peer: IpAddr,
    num: sunset::ChanNum,
) -> Result<(), Outcome> {
    let Some(at) = opened.iter().position(|c| c.num() == num) else {
        return Ok(());
    };
    let channel = opened.remove(at);
    info!("SSH session from {peer}: a shell or command refused");
    let failed = |err: sunset::Error| Outcome::Error(ssh_error(err));
    // The message is short: it fits any window a client opens with.
    let _ = runner.write_channel(&channel, ChanData::Stderr, SFTP_ONLY);
    runner.finish_channel(&channel, Some(1)).map_err(failed)?;
    runner.channel_done(channel).map_err(failed)
}

/// Whether `password` logs in (a token, or anything on an open server;
/// for an `anonymous` user, anything where anonymous grants are given); a
/// failure counts against the session, a wrong token against the address
/// too.
fn log_in(session: &mut Answering<'_>, password: String, anonymous: bool) -> bool {
    let access = &session.terms.access;
    if !access.is_on() {
        return true;
    }
    if anonymous {
        // The anonymous grants, or nothing: a token is never looked up
        // under this name, so nothing is guessed and the address is not
        // counted (as FTP's `USER anonymous`).
        if access.login().anonymous {
            return true;
        }
        count_failure(session);
        return false;
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
            throttled(session);
            false
        }
        Err(_) => {
            count_failure(session);
            false
        }
    }
}

/// A refused password or anonymous login: the session is cut at
/// [`MAX_AUTH_TRIES`].
fn count_failure(session: &mut Answering<'_>) {
    session.tries.failures += 1;
    debug!(
        "SSH login from {} refused ({} failed)",
        session.peer, session.tries.failures
    );
    if session.tries.failures >= MAX_AUTH_TRIES {
        *session.ended = Some("too many failed logins");
    }
}

/// The address must wait: the session is cut.
fn throttled(session: &mut Answering<'_>) {
    warn!("SSH login from {}: throttled, disconnected", session.peer);
    *session.ended = Some(THROTTLED);
}

/// Why a throttled session ends: at once, its attempt unanswered (the
/// client sees the connection closed, not one more "denied" to retry).
const THROTTLED: &str = "too many failed logins from its address";

/// Whether the key `attempt` presents logs in: on an open server any key;
/// else a key on a token, for the user name given (see the module's
/// docs). The same answer comes for the client's query and for its signed
/// attempt (sunset has checked the signature before asking); the holder
/// is recorded on the signed one only.
fn key_logs_in(session: &mut Answering<'_>, attempt: &ServPubkeyAuth<'_, '_>) -> bool {
    let access = &session.terms.access;
    if !access.is_on() {
        return true;
    }
    let user = attempt.username().unwrap_or_default();
    // sunset verifies Ed25519 signatures only (as ferry builds it); it
    // refuses other kinds before asking.
    let key = match attempt.pubkey() {
        Ok(PubKey::Ed25519(key)) => Some(SshKey::Ed25519(key.key.0)),
        _ => None,
    };
    let found = match key {
        // `anonymous` never names a token, by key or by password.
        Some(key) if !is_anonymous_user(user) => access.authenticate_key(&key, user, session.peer),
        _ => Err(Rejection::UnknownKey),
    };
    match found {
        Ok(principal) => {
            if attempt.is_signed() {
                debug!(
                    "SSH login from {} as {} by key",
                    session.peer, principal.entry.name
                );
                *session.login = Some(principal);
            }
            true
        }
        Err(Rejection::Throttled(_)) => {
            throttled(session);
            false
        }
        Err(_) => {
            session.tries.keys += 1;
            debug!(
                "SSH key from {} not taken ({} offered)",
                session.peer, session.tries.keys
            );
            if session.tries.keys >= MAX_KEY_OFFERS {
                *session.ended = Some("too many keys offered");
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
