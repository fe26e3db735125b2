//! Serving resumable uploads: UPLOAD, APPEND and COMMIT (PROGRESS,
//! SESSIONS and ABORT: `session_admin.rs`; where the bytes are staged:
//! `storage/posix/sessions.rs`), whether FERRY/1 or tus asked. An APPEND's body streams like a PUT's,
//! into the session instead of a temp file; a COMMIT (or an APPEND that
//! commits once it makes the upload whole: tus's last `PATCH`) then goes
//! through the same commit path as a PUT (`session_commit.rs`). Each
//! verb's work on the pool is a named step (`session_steps.rs`:
//! [`begin`], [`stage`], [`commit`]).

use log::{debug, warn};

use super::session_admin::{Rule, if_own_session};
use super::session_commit::commit_session;
use crate::access::{Owner, Who};
use crate::model::SessionInfo;
use crate::model::SessionLimits;
use crate::name::Name;
use crate::serve::access::authorize_own_session;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::piece::{PieceCheck, PieceChecksum};
use crate::serve::terms::FirstBytes;
use crate::serve::{
    Asked, Body, Ctx, ErrorKind, Failure, Job, Next, Outcome, Receive, Reply, SessionStep, Sink,
    check_room, check_size, check_space, refuse, skip_body,
};
use crate::storage::{Appender, Appending, StorageError};

/// Start (or find) a resumable upload of `size` bytes to `name`.
#[derive(Debug)]
pub struct Upload {
    /// Target name.
    pub name: Name,
    /// Full size of the file; `None` until an APPEND declares it (tus's
    /// creation-defer-length). An option, not a marker value: no size a
    /// client sends can stand for "not known yet".
    pub size: Option<u64>,
    /// Its CRC-32C, checked on commit. `None` where the client does not
    /// say (tus): then nothing could find the upload again by what it is,
    /// so each is a session of its own, and the staged bytes' own CRC is
    /// recorded.
    pub crc: Option<u32>,
    /// What the client says of it, kept with it (tus's `Upload-Metadata`,
    /// checked by the dialect: one printable line).
    pub meta: Option<String>,
    /// Bytes that follow the request, staged at once (tus's
    /// creation-with-upload), and what they must add up to; the session
    /// commits once whole.
    pub first: Option<Box<FirstBytes>>,
    /// The share link it is made through (its id), if any: its commit
    /// never replaces a file (judged at the commit, whichever APPEND
    /// makes it whole), and it counts against the link's cap on open
    /// uploads (`--share-max-uploads`).
    pub link: Option<crate::model::LinkId>,
}

impl Operate for Upload {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn body(&self) -> Body {
        Body::fixed(self.first.as_ref().map_or(0, |first| first.len))
    }

    /// Finds or begins the session of `name` (`size` bytes, `crc`; `None`:
    /// a size declared later); without a CRC (tus), begins one of its own,
    /// `meta` kept with it, and stages the `first` bytes that follow at
    /// once.
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        let first_len = self.first.as_ref().map_or(0, |first| first.len);
        // A size to come is checked when it comes, and the bytes staged on
        // the way at every APPEND ([`stage`]); these first ones now.
        if let Err(failure) = check_size(ctx.config, self.size.unwrap_or(first_len)) {
            let next = skip_body(self.body(), ctx.config);
            return refuse(ctx, "UPLOAD", self.name.as_str(), failure, next);
        }
        if self.crc.is_some() && self.size.is_none() {
            // No codec asks it: a CRC is FERRY/1's, whose UPLOAD states a size.
            debug_assert!(false, "an UPLOAD with a CRC-32C and no size");
            let failure = Failure::new(ErrorKind::BadRequest, "a CRC-32C needs its size");
            let next = skip_body(self.body(), ctx.config);
            return refuse(ctx, "UPLOAD", self.name.as_str(), failure, next);
        }
        Outcome::pending(Job::session(SessionStep::Begin(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Begin`] (on the pool): the session found or begun
/// where there is room for it, an empty tus upload committed at once,
/// first bytes received as an APPEND's.
pub(in crate::serve) fn begin(ctx: &Ctx<'_>, asked: Asked<Upload>) -> Outcome {
    let Asked {
        op, who: writer, ..
    } = asked;
    let Upload {
        name,
        size,
        crc,
        meta,
        first,
        link,
    } = op;
    let create_only = link.is_some();
    let first_len = first.as_ref().map_or(0, |first| first.len);
    let body = Body::fixed(first_len);
    let owner = writer.owner().map(|owner| owner.as_str().to_owned());
    let user = crate::serve::user_of(ctx, &writer);
    let mut limits = session_limits(ctx, owner);
    limits.link = link.map(|id| (id, ctx.config.shares.max_uploads));
    let begun = match (crc, size) {
        (Some(crc), Some(size)) => found_or_begun(ctx, (&writer, &name), (size, crc), &limits),
        // Always a new one: the room for it judged before it is made.
        _ => check_space(ctx, &writer, name.as_str(), size.unwrap_or(first_len)).and_then(|()| {
            let sessions = ctx.store.sessions();
            Ok(sessions.begin_new_session(&name, size, meta.as_deref(), &limits)?)
        }),
    };
    match begun {
        // Nothing to send: whole at once, and stored now (a tus client
        // sends no PATCH for an empty file).
        Ok(session) if crc.is_none() && size == Some(0) => {
            commit_session(ctx, &session.id, (None, create_only, None), user)
        }
        Ok(session) if let Some(first) = first => {
            // Its own, just begun.
            let asked = Appending {
                offset: 0,
                len: first.len,
                ttl: None,
                size: None,
                ahead: Some(writer.quota().unwrap_or_default()),
                anywhere: false,
            };
            let (checksum, commit) = (first.checksum, Some((user, create_only)));
            append_now(ctx, &session.id, asked, checksum, commit, |_| Ok(()))
        }
        Ok(session) => {
            let size = size.map_or("?".to_owned(), |size| size.to_string());
            debug!(
                "#{} UPLOAD {name} session {} at {} of {size} bytes",
                ctx.client, session.id, session.received
            );
            Outcome::answer(Reply::Session(Box::new(session)))
        }
        Err(failure) => {
            let next = skip_body(body, ctx.config);
            refuse(ctx, "UPLOAD", name.as_str(), failure, next)
        }
    }
}

/// The session of a FERRY/1 UPLOAD of `name` (`size` bytes, `crc`),
/// where the disk and the quotas have room for what it still owes
/// ([`check_space`]). One begun owes the whole size, judged before it is
/// made: a refused UPLOAD leaves no trace, even where the store could
/// not have taken a session back. One found owes only the rest (less
/// what an APPEND under way counted already), so where the whole does
/// not fit it is looked for; refused, it stays (to go on once room is
/// made; another client of its token may be staging into it).
fn found_or_begun(
    ctx: &Ctx<'_>,
    (who, name): (&Who, &Name),
    (size, crc): (u64, u32),
    limits: &SessionLimits,
) -> Result<SessionInfo, Failure> {
    let sessions = ctx.store.sessions();
    let Err(whole) = check_space(ctx, who, name.as_str(), size) else {
        return Ok(sessions.begin_session(name, size, crc, limits)?);
    };
    match sessions.find_session(name, size, crc, limits) {
        Ok(session) => {
            let owed = size.saturating_sub(session.received.saturating_add(session.counted_ahead));
            check_space(ctx, who, name.as_str(), owed).map(|()| session)
        }
        Err(StorageError::NoSuchUpload) => Err(whole),
        Err(err) => Err(err.into()),
    }
}

/// What bounds a new session of `owner`'s (a token's name), asked for by
/// this request's client: the server's settings (one home for them).
pub(in crate::serve) fn session_limits(ctx: &Ctx<'_>, owner: Option<String>) -> SessionLimits {
    SessionLimits {
        ttl: ctx.config.session_ttl(),
        total: ctx.config.max_upload_sessions,
        per_client: ctx.config.max_upload_sessions_per_client,
        per_owner: ctx.config.max_upload_sessions_per_token,
        client: ctx.peer,
        owner,
        link: None,
        durable: ctx.config.fsync,
    }
}

/// Stage the `len` body bytes that follow at `offset` of upload `id`.
#[derive(Debug)]
pub struct Append {
    /// Upload id, as the codec accepted it.
    pub id: String,
    /// Where the bytes go; must be where the upload stands.
    pub offset: u64,
    /// Body length.
    pub len: u64,
    /// Commit the upload once these bytes make it whole (tus: the last
    /// `PATCH` ends an upload; FERRY/1 has its `COMMIT`).
    pub commit: bool,
    /// What the bytes must add up to, or they are taken back (tus's
    /// `Upload-Checksum`).
    pub checksum: Option<PieceChecksum>,
    /// The upload's size, declared with these bytes where it was begun
    /// without one (tus's creation-defer-length).
    pub size: Option<u64>,
    /// The bytes go at `offset` wherever it is (`Appending::anywhere`).
    pub anywhere: bool,
    /// The open of the session this APPEND's handle made (SFTP's), which
    /// must still be its newest ([`SessionInfo::opened_by`]); `None`
    /// for every other protocol's.
    pub opener: Option<u64>,
    /// With `commit`, the commit never replaces a file (an upload
    /// through a share link).
    pub create_only: bool,
}

impl Operate for Append {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    fn body(&self) -> Body {
        Body::fixed(self.len)
    }

    /// Stages `len` bytes at `offset` of session `id` (taken back if they
    /// do not match `checksum`); with `commit` (tus), commits it as the
    /// client's once they make it whole; with `size`, declares the
    /// upload's size first (tus's creation-defer-length), within the
    /// server's size limit as any upload's; the bytes it stages are within
    /// that limit too. The session's record is read once, by
    /// [`SessionStore::append`](crate::storage::SessionStore::append), and `who`'s
    /// right to write it judged on what it says.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Append(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Append`] (on the pool): the APPEND judged (the size
/// limit, the room, the quotas, who may write the session), then its
/// bytes received.
pub(in crate::serve) fn stage(ctx: &Ctx<'_>, asked: Asked<Append>) -> Outcome {
    let Asked { op, who, .. } = asked;
    let body = op.body();
    // Where the upload's bytes would reach: held to the limit whether
    // its size is known or still to come (else an upload of a size to
    // come could stage any number of bytes), before a byte of them is
    // staged.
    let reach = op.offset.saturating_add(op.len);
    let Append {
        id,
        offset,
        len,
        commit,
        checksum,
        size,
        anywhere,
        opener,
        create_only,
    } = op;
    let commit = commit.then(|| (crate::serve::user_of(ctx, &who), create_only));
    let fits =
        check_size(ctx.config, size.unwrap_or(0).max(reach)).and_then(|()| check_room(ctx, len));
    if let Err(failure) = fits {
        return refuse(ctx, "APPEND", &id, failure, skip_body(body, ctx.config));
    }
    let ttl = Some(ctx.config.session_ttl());
    // The session's bytes count before they are staged: this
    // APPEND's are judged against the quotas with what is stored
    // and staged already, and counted in the same step (a size to
    // come has no other check).
    let asked = Appending {
        offset,
        len,
        ttl,
        size,
        ahead: Some(who.quota().unwrap_or_default()),
        anywhere,
    };
    append_now(ctx, &id, asked, checksum, commit, |session| {
        authorize_own_session(&who, session)?;
        // Judged with the record, under the session's hold: an
        // open after this handle's took the file over.
        session.opened_by(opener).map_err(Failure::from)
    })
}

/// Stages an APPEND's bytes (`asked`, its size declared first where it
/// has one) in session `id`, if `admit` lets its client write what the
/// session is for; they are taken back if they do not match `checksum`,
/// and with `commit`, the session is committed as its user's once whole.
fn append_now(
    ctx: &Ctx<'_>,
    id: &str,
    asked: Appending,
    checksum: Option<PieceChecksum>,
    commit: Option<(Option<Owner>, bool)>,
    mut admit: impl FnMut(&SessionInfo) -> Result<(), Failure>,
) -> Outcome {
    let len = asked.len;
    let body = Body::fixed(len);
    // The engine asks whether the client may write the session of the
    // record it reads; why not is kept here, for the answer.
    let mut refusal = None;
    let mut judge = |session: &SessionInfo| match admit(session) {
        Ok(()) => true,
        Err(failure) => {
            refusal = Some(failure);
            false
        }
    };
    let appended = ctx.store.sessions().append(id, asked, &mut judge);
    match appended {
        Ok((appender, session)) => {
            let mut receive = Receive::new(Sink::Session(appender), session.name, Some(len), None)
                .deferred(ctx.config.pool_writes.on(ctx.store, false));
            if let Some((user, create_only)) = commit {
                receive.commit_when_whole(session.size, user, create_only);
            }
            if let Some(checksum) = checksum {
                receive.check_piece(PieceCheck::new(checksum));
            }
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(err) => {
            let failure = match (err, refusal) {
                (StorageError::NotAdmitted, Some(refused)) => refused,
                (err, _) => err.into(),
            };
            refuse(ctx, "APPEND", id, failure, skip_body(body, ctx.config))
        }
    }
}

/// Verify and commit a complete upload.
#[derive(Debug)]
pub struct Commit {
    /// Upload id.
    pub id: String,
    /// The modification time to give the file (Unix seconds).
    pub mtime: Option<i64>,
}

impl Operate for Commit {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Commit(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Commit`] (on the pool): the session committed as its
/// client's, if that client may write it.
pub(in crate::serve) fn commit(ctx: &Ctx<'_>, asked: Asked<Commit>) -> Outcome {
    let Asked {
        op: Commit { id, mtime },
        who,
        ..
    } = asked;
    let user = crate::serve::user_of(ctx, &who);
    if_own_session(ctx, (&who, Rule::Began), "COMMIT", &id, |ctx, id| {
        commit_session(ctx, id, (mtime, false, None), user)
    })
}

/// What an APPEND's end needs to know of it.
pub(in crate::serve) struct AppendEnd {
    /// The file the session is for.
    pub(in crate::serve) name: Name,
    /// Bytes this APPEND staged.
    pub(in crate::serve) size: u64,
    /// Commit the session once it holds this many bytes (tus).
    pub(in crate::serve) commit_at: Option<u64>,
    /// Its size is declared as it commits: what it holds once its
    /// stream ended (a resumed FTP upload: `resume.rs`).
    pub(in crate::serve) declare: bool,
    /// Its commit never replaces a file.
    pub(in crate::serve) create_only: bool,
    /// Whose upload it is, for the hooks of that commit.
    pub(in crate::serve) user: Option<Owner>,
    /// The checksum its bytes must match (tus's `Upload-Checksum`).
    pub(in crate::serve) piece: Option<Box<PieceCheck>>,
}

/// An APPEND's whole body has been staged (on the pool): bytes that do not
/// match their stated checksum are taken back; else they are recorded
/// (with `--fsync`, flushed before the answer) and, if they make the
/// upload whole where that was asked, the session is committed.
pub(in crate::serve) fn finish_append(
    ctx: &Ctx<'_>,
    client: u64,
    appender: Appender,
    end: AppendEnd,
) -> Outcome {
    let AppendEnd {
        name,
        size,
        commit_at,
        declare,
        user,
        piece,
        create_only,
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
        Ok(received) if declare && commit_at == Some(received) => {
            debug!("#{client} APPEND {name} {size} bytes, its end: committing {received}");
            match ctx
                .store
                .sessions()
                .declare_session_size(&id, received, None)
            {
                Ok(()) => commit_session(ctx, &id, (None, create_only, None), user),
                Err(err) => Outcome::failed(err.into(), Next::Request),
            }
        }
        Ok(received) if commit_at == Some(received) => {
            debug!("#{client} APPEND {name} {size} bytes, now whole: committing");
            commit_session(ctx, &id, (None, create_only, None), user)
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
