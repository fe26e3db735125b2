//! Access control in the serve layer: who a request is from, and which
//! permission each operation needs, written once for every protocol. The
//! state (tokens, grants, throttle) is [`crate::access`]'s; this file only
//! decides and says why.
//!
//! | operation | needs |
//! |---|---|
//! | GET, HEAD, STAT | `read` on the name |
//! | LIST, DIR, listings | `read` on something under the prefix; entries filtered |
//! | PUT, UPLOAD, PROPPATCH | `write` on the name |
//! | APPEND, COMMIT, ABORT | `write` on the session's name (checked on the pool) |
//! | DEL | `delete` on the name |
//! | DEL of a folder | `delete` on something in it; each file and folder checked as found |
//! | MOVE | `delete` on the old name and `write` on the new one |
//! | MOVE of a folder | `delete` on its name and `write` on the new one (grants above both) |
//! | COPY of a folder | `read` on something in it, `write` on the new name; each member checked |
//! | ECHO | any token (it moves bytes, not files) |
//! | AUTH, QUIT | nothing |
//!
//! A client without a token that lacks a permission is told `401` (a token
//! may help); a token's holder is told `403`.

use std::net::IpAddr;
use std::sync::Arc;

use log::{debug, warn};

use super::{Ctx, Declared, ErrorKind, Failure, Needs, Next, Outcome, Reply};
use crate::access::{Access, Owner, Perm, Principal, Rejection, Secret, Who};
use crate::model::SessionInfo;

/// The reason given for a signed request whose access key id is not in
/// force (S3 answers it with its own code: `http/s3/error.rs`).
pub const UNKNOWN_KEY: &str = "unknown access key id";
/// The reason given for a signed request whose signature is not its key's.
pub const BAD_SIGNATURE: &str = "the request's signature does not match";

/// What serving a request may consult and change about who the client is:
/// the server's access control, and the token this connection has
/// authenticated with (FERRY/1's `AUTH`; HTTP sends one per request).
pub struct Guard<'a> {
    /// The server's access control.
    pub access: &'a Arc<Access>,
    /// The token the connection holds, if any.
    pub held: &'a mut Option<Arc<Principal>>,
    /// Set by serving: the holder of the token the request was made with
    /// (the connection's or its own), for the access log.
    pub user: Option<Arc<Principal>>,
}

/// Who sends a body: the connection's id (for the log) and address, and
/// the access control a refused chunk signature counts against.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    /// The connection's id.
    pub client: u64,
    /// Its address.
    pub peer: IpAddr,
    /// The server's access control.
    pub access: &'a Access,
}

impl Sender<'_> {
    /// Notes a body refused by its coding: a chunk signature that does
    /// not match is a failed authentication, for the throttle.
    pub(super) fn refused(self, failure: &Failure) {
        if failure.kind == ErrorKind::Unauthorized {
            self.access.failed_later(self.peer);
        }
    }
}

/// Who sent a request that presented `token` (HTTP's `Authorization`) or
/// none (then the connection's own).
///
/// # Errors
/// The token is unknown, revoked or throttled.
pub(super) fn identify(
    ctx: &Ctx<'_>,
    guard: &mut Guard<'_>,
    token: Option<&Secret>,
) -> Result<Who, Failure> {
    match token {
        Some(token) if guard.access.is_on() => guard
            .access
            .authenticate(token, ctx.peer)
            .map(Who::Holder)
            .map_err(|rejection| rejected(ctx, rejection)),
        _ => guard
            .access
            .identify(guard.held)
            .map_err(|rejection| rejected(ctx, rejection)),
    }
}

/// `AUTH <token>`: the connection holds the token from now on (a failed
/// `AUTH` drops whatever it held).
pub(super) fn auth(ctx: &Ctx<'_>, guard: &mut Guard<'_>, token: &Secret) -> Outcome {
    *guard.held = None;
    if !guard.access.is_on() {
        let failure = Failure::new(
            ErrorKind::BadRequest,
            "access control is off: no token is needed",
        );
        return Outcome::failed(failure, Next::Request);
    }
    match guard.access.authenticate(token, ctx.peer) {
        Ok(principal) => {
            debug!("#{} AUTH as {}", ctx.client, principal.entry.name);
            let name = principal.entry.name.clone();
            *guard.held = Some(principal);
            Outcome::answer(Reply::Authenticated { name })
        }
        Err(rejection) => Outcome::failed(rejected(ctx, rejection), Next::Request),
    }
}

/// The answer to a token that was not accepted (logged without it).
fn rejected(ctx: &Ctx<'_>, rejection: Rejection) -> Failure {
    let failure = match rejection {
        Rejection::Unknown => Failure::new(ErrorKind::Unauthorized, "unknown token"),
        Rejection::UnknownKey => Failure::new(ErrorKind::Unauthorized, UNKNOWN_KEY),
        Rejection::BadSignature => Failure::new(ErrorKind::Unauthorized, BAD_SIGNATURE),
        Rejection::Revoked => Failure::new(ErrorKind::Unauthorized, "token revoked"),
        Rejection::Throttled(wait) => Failure::new(
            ErrorKind::Throttled,
            format!(
                "too many failed authentications from this address: try again in {} s",
                wait.as_secs().max(1)
            ),
        ),
    };
    warn!(
        "#{} authentication from {} refused: {failure}",
        ctx.client, ctx.peer
    );
    failure
}

/// Whether `who` may do what an operation `declared` it needs (listings
/// and sessions are checked further where their names are known:
/// `listing.rs`, `sessions.rs`).
///
/// # Errors
/// 401 or 403, naming what is missing.
pub(super) fn authorize(who: &Who, declared: Declared<'_>) -> Result<(), Failure> {
    let (perm, subject) = match declared.needs {
        Needs::Read(name) => (Perm::Read, name),
        Needs::Write(name) => (Perm::Write, name),
        Needs::ReadOrWrite(name) if who.allows(Perm::Write, name) => return Ok(()),
        Needs::ReadOrWrite(name) => (Perm::Read, name),
        // A folder made by the grant on what it will hold.
        Needs::WriteOrWithin(name) if !who.allows(Perm::Write, name) => {
            return match who.reaches(Perm::Write, &format!("{name}/")) {
                true => Ok(()),
                false => Err(refusal(who, Perm::Write, name)),
            };
        }
        Needs::WriteOrWithin(name) => (Perm::Write, name),
        Needs::Delete(name) => (Perm::Delete, name),
        // As DEL of the one and PUT of the other would.
        Needs::Move(from, to) => {
            if !who.allows(Perm::Delete, from) {
                return Err(refusal(who, Perm::Delete, from));
            }
            (Perm::Write, to)
        }
        Needs::Copy(from, to) => {
            if !who.allows(Perm::Read, from) {
                return Err(refusal(who, Perm::Read, from));
            }
            (Perm::Write, to)
        }
        // The copy is made as a folder (its own name written) with what
        // may be read in it: a grant on `to/` alone does not cover `to`.
        Needs::CopyUnder(from, to) => {
            if !who.reaches(Perm::Read, from) {
                return Err(refusal(who, Perm::Read, from));
            }
            (Perm::Write, to.trim_end_matches('/'))
        }
        // The folder itself goes and comes, by its name: a grant on
        // `from/` is on what is inside it, not on `from`.
        Needs::MoveWhole(from, to) => {
            let from = from.trim_end_matches('/');
            if !who.allows(Perm::Delete, from) {
                return Err(refusal(who, Perm::Delete, from));
            }
            (Perm::Write, to.trim_end_matches('/'))
        }
        Needs::DeleteUnder(prefix) | Needs::DeleteEach(prefix) => {
            return match who.reaches(Perm::Delete, prefix) {
                true => Ok(()),
                false => Err(refusal(who, Perm::Delete, prefix)),
            };
        }
        Needs::Listing(prefix) => {
            return match who.may_list(prefix) {
                true => Ok(()),
                false => Err(refusal(who, Perm::Read, prefix)),
            };
        }
        Needs::Within(prefix) => {
            let reached = [Perm::Read, Perm::Write, Perm::Delete]
                .into_iter()
                .any(|perm| who.reaches(perm, prefix));
            return match reached {
                true => Ok(()),
                false => Err(refusal(who, Perm::Read, prefix)),
            };
        }
        Needs::Token => {
            return match who.is_everyone() || who.is_holder() {
                true => Ok(()),
                false => Err(Failure::new(
                    ErrorKind::Unauthorized,
                    format!("{} needs a token", declared.verb.name()),
                )),
            };
        }
        // Their names are known once the session is found (on the pool).
        Needs::Session | Needs::Nothing => return Ok(()),
    };
    match who.allows(perm, subject) {
        true => Ok(()),
        false => Err(refusal(who, perm, subject)),
    }
}

/// Whether `who` may write the session target `name` (APPEND, COMMIT,
/// ABORT). The refusal does not say `name`: the client sent only the
/// session's id, and a client that may not write the file may not be able
/// to read its name either.
///
/// # Errors
/// As for [`authorize`].
pub(super) fn authorize_session(who: &Who, name: &str) -> Result<(), Failure> {
    match who.allows(Perm::Write, name) {
        true => Ok(()),
        false => Err(refusal_to(
            who,
            Perm::Write,
            "the file of this upload session",
        )),
    }
}

/// Whether `who` may add to or commit `session` (APPEND, COMMIT): it may
/// write the session's file ([`authorize_session`]) and began the
/// session. What a session stages counts in the account of the token that
/// began it, judged against that token's quota, and is judged again only
/// for what is still to come at its commit: another token's bytes there
/// would be judged against one quota and counted in another's account, and
/// its commit would store a file judged for a part of it.
///
/// # Errors
/// As for [`authorize`]; the same refusal where another token began it.
pub(super) fn authorize_own_session(who: &Who, session: &SessionInfo) -> Result<(), Failure> {
    authorize_session(who, session.name.as_str())?;
    let owner = who.owner();
    // Without access control there are no tokens to tell apart.
    match who.is_everyone() || session.owner.as_deref() == owner.as_ref().map(Owner::as_str) {
        true => Ok(()),
        false => Err(refusal_to(
            who,
            Perm::Write,
            "an upload session another token began",
        )),
    }
}

/// What a client may do in one folder, as a listing tells it to the web
/// page (which then offers only those actions): each flag is the grant
/// check its operation meets in [`authorize`] (a name directly in the
/// folder), and the read-only mode (`writable` false) takes away the
/// writes, as [`super::admit`] does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    /// It may list the folder.
    pub read: bool,
    /// It may create files and folders in it (upload, new folder, the
    /// target of a rename).
    pub write: bool,
    /// It may delete what is in it (a rename needs this and `write`).
    pub delete: bool,
    /// It may remove (or rename away) the folder itself, by the grant on
    /// its name, as the server judges a folder's DELETE and MOVE (a grant
    /// on `a/` is on what it holds, not on `a`); never the root.
    pub remove: bool,
    /// The server is read-only (`--read-only`): nobody may write.
    pub read_only: bool,
}

impl Rights {
    /// What may be done with a folder listed in this one where no grant
    /// lies below it: the same in it, and its removal a deletion here.
    pub fn inherited(self) -> Rights {
        Rights {
            remove: self.delete,
            ..self
        }
    }
}

/// What `who` may do in the folder `prefix` (empty for the root, else
/// ending in `/`) on a server that is `writable` or not.
pub(super) fn rights(who: &Who, prefix: &str, writable: bool) -> Rights {
    Rights {
        read: who.may_list(prefix),
        write: writable && who.allows(Perm::Write, prefix),
        delete: writable && who.allows(Perm::Delete, prefix),
        remove: writable
            && !prefix.is_empty()
            && who.allows(Perm::Delete, prefix.trim_end_matches('/')),
        read_only: !writable,
    }
}

/// The nearest folder above `name` (a file's or a folder's) that `who`
/// may list: where a refused page sends its reader back to (the root if
/// no other).
pub(super) fn nearest_listable(who: &Who, name: &str) -> String {
    let mut folder = name.trim_end_matches('/');
    while let Some((up, _)) = folder.rsplit_once('/') {
        let prefix = format!("{up}/");
        if who.may_list(&prefix) {
            return prefix;
        }
        folder = up;
    }
    String::new()
}

/// The refusal of `perm` on the name `subject`: 401 without a token, 403
/// with one.
pub(super) fn refusal(who: &Who, perm: Perm, subject: &str) -> Failure {
    let mut failure = refusal_to(who, perm, &format!("{subject:?}"));
    failure.back = Some(nearest_listable(who, subject));
    failure
}

/// [`refusal`] in words: `what` says what may not be done to, as the
/// client may be told it.
fn refusal_to(who: &Who, perm: Perm, what: &str) -> Failure {
    match who.name() {
        None => Failure::new(
            ErrorKind::Unauthorized,
            format!("a token is required to {} {what}", perm.as_str()),
        ),
        Some(name) => Failure::new(
            ErrorKind::Forbidden,
            format!("token {name} may not {} {what}", perm.as_str()),
        ),
    }
}
