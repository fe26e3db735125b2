//! Serving resumable uploads: UPLOAD, APPEND, PROGRESS, COMMIT, ABORT and
//! SESSIONS (see `storage/sessions.rs` for where the bytes are staged),
//! whether FERRY/1 or tus asked. An APPEND's body streams like a PUT's,
//! into the session instead of a temp file; a COMMIT (or an APPEND that
//! commits once it makes the upload whole: tus's last `PATCH`) then goes
//! through the same commit path as a PUT.

use std::time::Instant;

use log::debug;

use super::access::authorize_session;
use super::commit::{Commit, commit_now};
use super::{
    Body, Ctx, Failure, Next, Outcome, Receive, Reply, Sink, check_size, refuse, skip_body,
};
use crate::access::{Owner, Who};
use crate::name::Name;
use crate::storage::{SessionLimits, StorageError};

/// UPLOAD: finds or begins the session of `name` (`size` bytes, `crc`);
/// without a CRC (tus), begins one of its own, `meta` kept with it, and
/// stages the `first` bytes that follow at once.
pub(super) fn upload(
    ctx: &Ctx<'_>,
    who: &Who,
    name: Name,
    size: u64,
    (crc, meta, first): (Option<u32>, Option<String>, Option<u64>),
) -> Outcome {
    let body = Body::fixed(first.unwrap_or(0));
    if let Err(failure) = check_size(ctx.config, size) {
        let next = skip_body(body, ctx.config);
        return refuse(ctx, "UPLOAD", name.as_str(), failure, next);
    }
    let owner = who.owner().map(|owner| owner.as_str().to_owned());
    let user = super::user_of(ctx, who);
    Outcome::on_pool(move |ctx| {
        let limits = SessionLimits {
            ttl: ctx.config.session_ttl(),
            total: ctx.config.max_upload_sessions,
            per_client: ctx.config.max_upload_sessions_per_client,
            per_owner: ctx.config.max_upload_sessions_per_token,
            client: ctx.peer,
            owner,
        };
        let begun = match crc {
            Some(crc) => ctx.storage.begin_session(&name, size, crc, &limits),
            None => ctx
                .storage
                .begin_new_session(&name, size, meta.as_deref(), &limits),
        };
        match begun {
            // Nothing to send: whole at once, and stored now (a tus client
            // sends no PATCH for an empty file).
            Ok(session) if crc.is_none() && size == 0 => {
                commit_session(ctx, &session.id, None, user)
            }
            Ok(session) if let Some(len) = first => {
                append_now(ctx, &session.id, 0, len, Some(user))
            }
            Ok(session) => {
                debug!(
                    "#{} UPLOAD {name} session {} at {} of {size} bytes",
                    ctx.client, session.id, session.received
                );
                Outcome::answer(Reply::Session(session))
            }
            Err(err) => {
                let next = skip_body(body, ctx.config);
                refuse(ctx, "UPLOAD", name.as_str(), err.into(), next)
            }
        }
    })
}

/// Whether `who` may write what session `id` is for: its record is read
/// only where access control is on (on the pool: it is disk work). An
/// unknown id is left for the operation itself to answer (there is nothing
/// to write to); any other failure to read the record refuses, as the
/// storage failure it is (EMFILE a 503, EIO a 500), since without the
/// record nobody can tell whose session it is.
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

/// APPEND: stages `len` bytes at `offset` of session `id`; with `commit`
/// (tus), commits it as `user`'s once they make it whole.
pub(super) fn append(
    who: Who,
    id: String,
    offset: u64,
    len: u64,
    commit: Option<Option<Owner>>,
) -> Outcome {
    let body = Body::fixed(len);
    Outcome::on_pool(move |ctx| {
        if let Err(failure) = may_write_session(ctx, &who, &id) {
            return refuse(ctx, "APPEND", &id, failure, skip_body(body, ctx.config));
        }
        append_now(ctx, &id, offset, len, commit)
    })
}

fn append_now(
    ctx: &Ctx<'_>,
    id: &str,
    offset: u64,
    len: u64,
    commit: Option<Option<Owner>>,
) -> Outcome {
    let body = Body::fixed(len);
    match ctx.storage.append(id, offset, len) {
        Ok((appender, session)) => {
            let mut receive = Receive::new(Sink::Session(appender), session.name, Some(len), None)
                .deferred(ctx.config.pool_writes.on(ctx.storage));
            if let Some(user) = commit {
                receive.commit_when_whole(session.size, user);
            }
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(err) => refuse(ctx, "APPEND", id, err.into(), skip_body(body, ctx.config)),
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

/// Verifies and commits session `id` (on the pool), as `user`'s.
pub(super) fn commit_session(
    ctx: &Ctx<'_>,
    id: &str,
    mtime: Option<i64>,
    user: Option<Owner>,
) -> Outcome {
    match ctx.storage.finish_session(id) {
        Ok((mut upload, session, crc)) => {
            upload.set_mtime(mtime);
            // Already on the pool: the commit runs here too.
            let commit = Commit {
                upload,
                name: session.name,
                size: session.size,
                crc,
                started: Instant::now(),
                user,
                session: Some(id.to_owned()),
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
        match ctx.storage.session(&id) {
            Ok(session) => Outcome::answer(Reply::Session(session)),
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
