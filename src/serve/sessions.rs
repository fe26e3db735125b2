//! Serving resumable uploads: UPLOAD, APPEND, PROGRESS, COMMIT, ABORT and
//! SESSIONS (see `storage/sessions.rs` for where the bytes are staged),
//! whether FERRY/1 or tus asked. An APPEND's body streams like a PUT's,
//! into the session instead of a temp file; a COMMIT (or an APPEND that
//! commits once it makes the upload whole: tus's last `PATCH`) then goes
//! through the same commit path as a PUT.

use std::time::Instant;

use log::{debug, warn};

use super::access::authorize_session;
use super::commit::{Commit, commit_now};
use super::op::FirstBytes;
use super::piece::{PieceCheck, PieceChecksum};
use super::{
    Body, Ctx, ErrorKind, Failure, Next, Outcome, Receive, Reply, Sink, check_size, refuse,
    skip_body,
};
use crate::access::{Owner, Who};
use crate::formats::upload_metadata;
use crate::name::Name;
use crate::storage::{Appender, Appending, SessionInfo, SessionLimits, SessionTtl, StorageError};

/// UPLOAD: finds or begins the session of `name` (`size` bytes, `crc`;
/// `None`: a size declared later); without a CRC (tus), begins one of its
/// own, `meta` kept with it, and stages the `first` bytes that follow at
/// once.
pub(super) fn upload(
    ctx: &Ctx<'_>,
    who: &Who,
    name: Name,
    size: Option<u64>,
    (crc, meta, first): (Option<u32>, Option<String>, Option<Box<FirstBytes>>),
) -> Outcome {
    let first_len = first.as_ref().map_or(0, |first| first.0);
    let body = Body::fixed(first_len);
    // A size to come is checked when it comes, and the bytes staged on
    // the way at every APPEND ([`append`]); these first ones now.
    if let Err(failure) = check_size(ctx.config, size.unwrap_or(first_len)) {
        let next = skip_body(body, ctx.config);
        return refuse(ctx, "UPLOAD", name.as_str(), failure, next);
    }
    if crc.is_some() && size.is_none() {
        // No codec asks it: a CRC is FERRY/1's, whose UPLOAD states a size.
        debug_assert!(false, "an UPLOAD with a CRC-32C and no size");
        let failure = Failure::new(ErrorKind::BadRequest, "a CRC-32C needs its size");
        return refuse(
            ctx,
            "UPLOAD",
            name.as_str(),
            failure,
            skip_body(body, ctx.config),
        );
    }
    let owner = who.owner().map(|owner| owner.as_str().to_owned());
    let user = super::user_of(ctx, who);
    Outcome::on_pool(move |ctx| {
        let limits = session_limits(ctx, owner);
        let begun = match (crc, size) {
            (Some(crc), Some(size)) => ctx.storage.begin_session(&name, size, crc, &limits),
            _ => ctx
                .storage
                .begin_new_session(&name, size, meta.as_deref(), &limits),
        };
        match begun {
            // Nothing to send: whole at once, and stored now (a tus client
            // sends no PATCH for an empty file).
            Ok(session) if crc.is_none() && size == Some(0) => {
                commit_session(ctx, &session.id, None, user)
            }
            Ok(session) if let Some((len, checksum)) = first.map(|first| *first) => {
                // Its own, just begun.
                let piece = ((0, len, checksum), None, None);
                append_now(ctx, &session.id, piece, Some(user), |_| Ok(()))
            }
            Ok(session) => {
                let size = size.map_or("?".to_owned(), |size| size.to_string());
                debug!(
                    "#{} UPLOAD {name} session {} at {} of {size} bytes",
                    ctx.client, session.id, session.received
                );
                Outcome::answer(Reply::Session(Box::new(session)))
            }
            Err(err) => {
                let next = skip_body(body, ctx.config);
                refuse(ctx, "UPLOAD", name.as_str(), err.into(), next)
            }
        }
    })
}

/// What bounds a new session of `owner`'s (a token's name), asked for by
/// this request's client: the server's settings (one home for them).
pub(super) fn session_limits(ctx: &Ctx<'_>, owner: Option<String>) -> SessionLimits {
    SessionLimits {
        ttl: ctx.config.session_ttl(),
        total: ctx.config.max_upload_sessions,
        per_client: ctx.config.max_upload_sessions_per_client,
        per_owner: ctx.config.max_upload_sessions_per_token,
        client: ctx.peer,
        owner,
        durable: ctx.config.fsync,
    }
}

/// Whether `who` may write what session `id` is for: its record is read
/// only where access control is on (on the pool: it is disk work). An
/// unknown id is left for the operation itself to answer (there is nothing
/// to write to); any other failure to read the record refuses, as the
/// storage failure it is (EMFILE a 503, EIO a 500), since without the
/// record nobody can tell whose session it is. (An APPEND asks this of
/// the record it reads anyway: [`append`].)
fn may_write_session(ctx: &Ctx<'_>, who: &Who, id: &str) -> Result<(), Failure> {
    if who.is_everyone() {
        return Ok(());
    }
    match ctx.storage.session(id) {
        Ok(session) => authorize_session(who, session.name.as_str()),
        Err(StorageError::NoSuchUpload) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The bytes of an APPEND: where they go, how many, what they must add up
/// to (tus's `Upload-Checksum`).
type Piece = (u64, u64, Option<PieceChecksum>);

/// APPEND: stages `len` bytes at `offset` of session `id` (taken back if
/// they do not match `checksum`); with `commit` (tus), commits it as
/// `user`'s once they make it whole; with `size`, declares the upload's
/// size first (tus's creation-defer-length), within the server's size
/// limit as any upload's; the bytes it stages are within that limit too.
/// The session's record is read once, by
/// [`Storage::append`](crate::storage::Storage::append), and `who`'s
/// right to write it judged on what it says.
pub(super) fn append(
    who: Who,
    id: String,
    piece: Piece,
    commit: Option<Option<Owner>>,
    size: Option<u64>,
) -> Outcome {
    let body = Body::fixed(piece.1);
    // Where the upload's bytes would reach: held to the limit whether its
    // size is known or still to come (else an upload of a size to come
    // could stage any number of bytes), before a byte of them is staged.
    let reach = piece.0.saturating_add(piece.1);
    Outcome::on_pool(move |ctx| {
        if let Err(failure) = check_size(ctx.config, size.unwrap_or(0).max(reach)) {
            return refuse(ctx, "APPEND", &id, failure, skip_body(body, ctx.config));
        }
        let asked = (piece, Some(ctx.config.session_ttl()), size);
        append_now(ctx, &id, asked, commit, |session| {
            authorize_session(&who, session.name.as_str())
        })
    })
}

/// Stages an APPEND's bytes (`piece`; `size` declared first) in session
/// `id`, unexpired by `ttl`, if `admit` lets its client write what the
/// session is for.
fn append_now(
    ctx: &Ctx<'_>,
    id: &str,
    ((offset, len, checksum), ttl, size): (Piece, Option<SessionTtl>, Option<u64>),
    commit: Option<Option<Owner>>,
    admit: impl FnOnce(&SessionInfo) -> Result<(), Failure>,
) -> Outcome {
    let body = Body::fixed(len);
    let asked = Appending {
        offset,
        len,
        ttl,
        size,
    };
    match ctx.storage.append(id, asked, admit) {
        Ok((appender, session)) => {
            let mut receive = Receive::new(Sink::Session(appender), session.name, Some(len), None)
                .deferred(ctx.config.pool_writes.on(ctx.storage, false));
            if let Some(user) = commit {
                receive.commit_when_whole(session.size, user);
            }
            if let Some(checksum) = checksum {
                receive.check_piece(PieceCheck::new(checksum));
            }
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(failure) => refuse(ctx, "APPEND", id, failure, skip_body(body, ctx.config)),
    }
}

pub(super) fn commit(who: Who, id: String, mtime: Option<i64>) -> Outcome {
    Outcome::on_pool(move |ctx| {
        if let Err(failure) = may_write_session(ctx, &who, &id) {
            return refuse(ctx, "COMMIT", &id, failure, Next::Request);
        }
        commit_session(ctx, &id, mtime, super::user_of(ctx, &who))
    })
}

/// What an APPEND's end needs to know of it.
pub(super) struct AppendEnd {
    /// The file the session is for.
    pub(super) name: Name,
    /// Bytes this APPEND staged.
    pub(super) size: u64,
    /// Commit the session once it holds this many bytes (tus).
    pub(super) commit_at: Option<u64>,
    /// Whose upload it is, for the hooks of that commit.
    pub(super) user: Option<Owner>,
    /// The checksum its bytes must match (tus's `Upload-Checksum`).
    pub(super) piece: Option<Box<PieceCheck>>,
}

/// An APPEND's whole body has been staged (on the pool): bytes that do not
/// match their stated checksum are taken back; else they are recorded
/// (with `--fsync`, flushed before the answer) and, if they make the
/// upload whole where that was asked, the session is committed.
pub(super) fn finish_append(
    ctx: &Ctx<'_>,
    client: u64,
    appender: Appender,
    end: AppendEnd,
) -> Outcome {
    let AppendEnd {
        name,
        size,
        commit_at,
        user,
        piece,
    } = end;
    if let Some(piece) = piece {
        let algorithm = piece.algorithm();
        if !piece.holds() {
            warn!(
                "#{client} APPEND {name}: its {algorithm} does not match; its {size} bytes taken back"
            );
            if let Err(err) = appender.discard() {
                return Outcome::failed(err.into(), Next::Request);
            }
            let message =
                format!("the {algorithm} of the bytes sent does not match Upload-Checksum");
            return Outcome::failed(
                Failure::new(ErrorKind::ChecksumMismatch, message),
                Next::Request,
            );
        }
    }
    let id = appender.id().to_owned();
    // Records the CRC on the staged bytes; with --fsync, the answer waits
    // for them to be on stable storage.
    match appender.finish(ctx.config.fsync) {
        Ok(received) if commit_at == Some(received) => {
            debug!("#{client} APPEND {name} {size} bytes, now whole: committing");
            commit_session(ctx, &id, None, user)
        }
        Ok(received) => {
            debug!("#{client} APPEND {name} {size} bytes, now at {received}");
            Outcome::answer(Reply::Appended {
                session: id,
                received,
                appended: size,
                expires: ctx.config.session_ttl().expires_from_now(received),
            })
        }
        Err(err) => {
            log::log!(
                err.log_level(),
                "#{client} APPEND {name} could not be flushed: {err}"
            );
            Outcome::failed(err.into(), Next::Request)
        }
    }
}

/// Verifies and commits session `id` (on the pool), as `user`'s.
pub(super) fn commit_session(
    ctx: &Ctx<'_>,
    id: &str,
    mtime: Option<i64>,
    user: Option<Owner>,
) -> Outcome {
    match ctx.storage.finish_session(id) {
        Ok((_, session, _))
            if let Err(failure) = super::locks::unlocked(ctx, session.name.as_str()) =>
        {
            // The upload dropped uncommitted: the session stays, to be
            // committed once the lock is gone.
            refuse(ctx, "COMMIT", id, failure, Next::Request)
        }
        Ok((mut upload, session, crc)) => {
            // A time the COMMIT gives, else one the client gave with the
            // session (tus's metadata).
            let said = session.meta.as_deref().and_then(upload_metadata::mtime);
            upload.set_mtime(mtime.or(said));
            // Already on the pool: the commit runs here too.
            let commit = Commit {
                upload,
                name: session.name,
                size: session.size,
                crc,
                started: Instant::now(),
                user,
                session: Some(id.to_owned()),
                meta: session.meta,
                checksum: None,
                preconditions: None,
            };
            commit_now(ctx, commit)
        }
        Err(err) => refuse(ctx, "COMMIT", id, err.into(), Next::Request),
    }
}

/// PROGRESS: how far session `id` has come, for a client that may write
/// it (tus's `HEAD`).
pub(super) fn progress(who: Who, id: String) -> Outcome {
    Outcome::on_pool(move |ctx| {
        if let Err(failure) = may_write_session(ctx, &who, &id) {
            return refuse(ctx, "PROGRESS", &id, failure, Next::Request);
        }
        match ctx.storage.live_session(&id, ctx.config.session_ttl()) {
            Ok(session) => Outcome::answer(Reply::Session(Box::new(session))),
            Err(err) => refuse(ctx, "PROGRESS", &id, err.into(), Next::Request),
        }
    })
}

/// Most sessions one `SESSIONS` answer lists (as many as one token may
/// hold by default): a client that aborts them all asks again for the rest.
pub const MAX_LISTED_SESSIONS: usize = 1024;

/// `SESSIONS`: the sessions whose files `who` may write, most recently
/// used first. Allowed on a read-only server (it writes nothing), where
/// there is nothing to list but what an earlier run left.
pub(super) fn list(who: Who) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let may_write = |name: &Name| authorize_session(&who, name.as_str()).is_ok();
        let ttl = ctx.config.session_ttl();
        match ctx
            .storage
            .list_sessions(ttl, MAX_LISTED_SESSIONS, &may_write)
        {
            Ok(sessions) => Outcome::answer(Reply::Sessions(sessions)),
            Err(err) => refuse(ctx, "SESSIONS", "", err.into(), Next::Request),
        }
    })
}

pub(super) fn abort(who: Who, id: String) -> Outcome {
    Outcome::on_pool(move |ctx| {
        if let Err(failure) = may_write_session(ctx, &who, &id) {
            return refuse(ctx, "ABORT", &id, failure, Next::Request);
        }
        match ctx.storage.abort_session(&id) {
            Ok(()) => {
                debug!("#{} ABORT {id}", ctx.client);
                Outcome::answer(Reply::Done)
            }
            Err(err) => refuse(ctx, "ABORT", &id, err.into(), Next::Request),
        }
    })
}
