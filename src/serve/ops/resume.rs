//! Uploads that go on where they stopped (FTP's `REST` + `STOR`, `APPE`,
//! and the `SIZE` that tells a client where): [`Resume`] streams the bytes
//! to the stream's end into the upload kept for the token and name
//! (`storage/posix/session_kept.rs`) and commits it at that end, through the
//! same commit as every session's; [`ResumeFrom`] says where it would go
//! on from; [`keep_cut`] keeps what a `STOR` cut off had sent, for them,
//! and [`drop_kept`] drops it. [`Reopen`] opens a file for writing
//! anywhere (SFTP's `OPEN`) as that same kept upload, so a connection cut
//! before its `CLOSE` leaves it to go on with.
//!
//! Must never let a resumed upload grow past the size limit, let one
//! token go on with another's bytes (the kept upload's id is keyed by
//! its owner), nor tell a token the size of a file it may not read.

use log::{info, warn};

use super::open_checks::{Looks, check_seed, judge_presence, owner_of};
pub use super::open_checks::{Presence, Seed};
use super::session_admin::{Rule, if_own_session};
use super::session_commit::commit_session;
use super::sessions::session_limits;
use crate::access::{Perm, Who};
use crate::model::DEFERRED_SIZE;
use crate::name::Name;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{
    Asked, Body, BodyLength, Ctx, Job, Next, Outcome, Receive, Reply, SessionStep, Sink, refuse,
    storage_refusal, user_of,
};
use crate::storage::{Appending, StorageError};

/// Store the bytes to the stream's end as `name`, going on from `offset`
/// of the upload kept for the client's token (`None`: from its end, or
/// the file's end where none is kept: `APPE`).
#[derive(Debug)]
pub struct Resume {
    /// Target name.
    pub name: Name,
    /// Where the bytes go (`REST`), or `None` for the end (`APPE`).
    pub offset: Option<u64>,
}

impl Operate for Resume {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn body(&self) -> Body {
        Body {
            length: BodyLength::UntilEof,
            awaits_go_ahead: false,
        }
    }

    /// On the pool: finds (or makes, from the file as it is) the kept
    /// upload, cut back to `offset`, and streams the body into it; it is
    /// committed at the stream's end, its size then known.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Resume(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Resume`] (on the pool): the kept upload found or made,
/// then the stream received into it.
pub(in crate::serve) fn resume(ctx: &Ctx<'_>, asked: Asked<Resume>) -> Outcome {
    let Asked {
        op: Resume { name, offset },
        who,
        ..
    } = asked;
    let user = user_of(ctx, &who);
    let owner = owner_of(&who);
    let limits = session_limits(ctx, owner.clone());
    let read = who.allows(Perm::Read, name.as_str());
    let looks = Looks::new(ctx, &who, &name);
    let resumed = check_seed(ctx, (&who, read), offset, &looks).and_then(|_| {
        let sessions = ctx.store.sessions();
        let quota = who.quota().unwrap_or_default();
        let session = sessions.resume_upload(&name, (offset, read, None, quota), &limits)?;
        let asked = Appending {
            offset: session.received,
            len: DEFERRED_SIZE - session.received,
            ttl: None,
            size: None,
            // A length to come: counted write by write.
            ahead: None,
            anywhere: false,
        };
        Ok(sessions.append(&session.id, asked, &mut |_| true)?)
    });
    match resumed {
        Ok((mut appender, session)) => {
            let from = session.received;
            appender.reserve_as_written(ctx.store.reserve_as_written());
            appender.count_as_written(who.quota().unwrap_or_default());
            // Committed, as `user`'s, once its stream ends.
            let receive = Receive::until_eof(Sink::Session(appender), session.name, owner)
                .from(from)
                .by(user)
                .deferred(ctx.config.pool_writes.on(ctx.store, false));
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(failure) => refuse(ctx, "APPEND", name.as_str(), failure, Next::Close),
    }
}

/// Open `name` for writing anywhere: the upload kept for the client's
/// token and name, begun (or cut back) to hold what `seed` says.
#[derive(Debug)]
pub struct Reopen {
    /// Target name.
    pub name: Name,
    /// What it holds to begin with.
    pub seed: Seed,
    /// What it asks of a file at its name.
    pub presence: Presence,
    /// The open of the handle that cuts its own file short (SFTP's
    /// `FSETSTAT` size), which must still be the newest; `None` for an
    /// open.
    pub held: Option<u64>,
}

impl Operate for Reopen {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    /// On the pool: the kept upload's session ([`Reply::Reopened`]), or
    /// a refusal. Bytes of the file are taken only by a client that may
    /// read it: another is refused as a read would be.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        let read = who.allows(Perm::Read, self.name.as_str());
        if self.seed != Seed::Nothing && !read {
            let refused = crate::serve::access::refusal(&who, Perm::Read, self.name.as_str());
            return Outcome::failed(refused, Next::Request);
        }
        Outcome::pending(Job::session(SessionStep::Reopen(Asked::judged(
            self, who, read,
        ))))
    }
}

/// [`SessionStep::Reopen`] (on the pool): the kept upload begun (or cut
/// back) to hold what its seed says, within the caps and the room.
#[cfg_attr(not(feature = "sftp"), allow(dead_code))]
pub(in crate::serve) fn reopen(ctx: &Ctx<'_>, asked: Asked<Reopen, bool>) -> Outcome {
    // Whether the token may read the file: judged on the reactor.
    let Asked {
        op,
        who,
        judged: read,
    } = asked;
    let owner = owner_of(&who);
    let Reopen {
        name,
        seed,
        presence,
        held,
    } = op;
    let limits = session_limits(ctx, owner);
    let refused = |failure| refuse(ctx, "UPLOAD", name.as_str(), failure, Next::Request);
    let looks = Looks::new(ctx, &who, &name);
    if let Err(failure) = judge_presence(ctx, (presence, seed), &looks) {
        return refused(failure);
    }
    let from = match seed {
        Seed::Nothing => Some(0),
        Seed::KeptUpTo(len) => Some(len),
        Seed::Kept | Seed::InPlace => None,
    };
    let (sessions, quota) = (ctx.store.sessions(), who.quota().unwrap_or_default());
    let opened = check_seed(ctx, (&who, read), from, &looks).and_then(|copied| {
        let session = sessions.resume_upload(&name, (from, read, held, quota), &limits)?;
        Ok((session, copied))
    });
    match opened {
        Ok((session, copied)) => Outcome::answer(Reply::Reopened {
            session: Box::new(session),
            copied,
        }),
        Err(failure) => refused(failure),
    }
}

/// Commit a file open for writing (SFTP's `CLOSE`): the upload, whole at
/// what it holds.
#[derive(Debug)]
pub struct Close {
    /// Its session's id.
    pub id: String,
    /// What it holds: its size.
    pub size: u64,
    /// The modification time to give the file (Unix seconds).
    pub mtime: Option<i64>,
    /// The commit's rename must not replace a file (SFTP's `EXCL`): the
    /// check and the change are one step.
    pub create_only: bool,
    /// The open of the session its handle made, which must still be the
    /// newest ([`SessionInfo::opened_by`](crate::model::SessionInfo)).
    pub opener: u64,
}

impl Operate for Close {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    /// On the pool, if `who` may write the session: its size declared,
    /// then committed as every session is.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Close(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Close`] (on the pool): the size declared, then the
/// session committed, if its client may write it.
#[cfg_attr(not(feature = "sftp"), allow(dead_code))]
pub(in crate::serve) fn close(ctx: &Ctx<'_>, asked: Asked<Close>) -> Outcome {
    let Asked { op, who, .. } = asked;
    let Close {
        id,
        size,
        mtime,
        create_only,
        opener,
    } = op;
    let user = user_of(ctx, &who);
    let opener = Some(opener);
    if_own_session(ctx, (&who, Rule::Began), "COMMIT", &id, |ctx, id| match ctx
        .store
        .sessions()
        .declare_session_size(id, size, opener)
    {
        Ok(()) => commit_session(ctx, id, (mtime, create_only, opener), user),
        Err(err) => refuse(ctx, "COMMIT", id, err.into(), Next::Request),
    })
}

/// Where an upload of `name` goes on from: the bytes kept for the
/// client's token (a `STOR` cut off), else the file's size (FTP's `SIZE`,
/// which curl's and lftp's resume ask first). A token that may write the
/// file but not read it (a camera's) is told of its own kept upload
/// only: of the file, or of an upload begun from the file's bytes,
/// nothing (refused as a read, whether the file is there or not).
#[derive(Debug)]
pub struct ResumeFrom {
    /// The file.
    pub name: Name,
}

impl Operate for ResumeFrom {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::ReadOrWrite(self.name.as_str()))
    }

    /// On the pool: the kept upload's session ([`Reply::Session`]), else
    /// the file's description ([`Reply::Stat`], its checksum not
    /// computed).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::ResumeFrom(Asked::boxed(
            self, who,
        ))))
    }
}

/// [`SessionStep::ResumeFrom`] (on the pool): the kept upload's session,
/// else the file's description, as `who` may be told.
pub(in crate::serve) fn resume_from(ctx: &Ctx<'_>, asked: Asked<ResumeFrom>) -> Outcome {
    let Asked {
        op: ResumeFrom { name },
        who,
        ..
    } = asked;
    let owner = owner_of(&who);
    let reads = who.allows(Perm::Read, name.as_str());
    match ctx.store.sessions().kept_upload(owner.as_deref(), &name) {
        Ok(Some(kept)) if reads || !kept.holds_unread_bytes() => {
            return Outcome::answer(Reply::Session(Box::new(kept)));
        }
        Ok(_) => {}
        Err(err) => return storage_refusal(ctx, "STAT", name.as_str(), err),
    }
    if !reads {
        let refused = crate::serve::access::refusal(&who, Perm::Read, name.as_str());
        return Outcome::failed(refused, Next::Request);
    }
    match ctx.store.look_up(&name) {
        Ok(version) => Outcome::answer(Reply::Stat { version }),
        Err(err) => storage_refusal(ctx, "STAT", name.as_str(), err),
    }
}

/// A `STOR` whose connection was cut (reset, not ended: an end is the
/// file's end) keeps what it had sent as the upload kept for its token
/// and name, for `REST` + `STOR` or `APPE` to go on with; where it cannot
/// be kept (the caps, the disk), it goes as any cut upload's. Any other
/// receive ends as a cut one does. On the pool.
pub(in crate::serve) fn keep_cut(ctx: &Ctx<'_>, mut receive: Box<Receive>) {
    let Some((upload, staged)) = receive.take_cut_file() else {
        receive.settle();
        return;
    };
    let name = receive.name.clone();
    let limits = session_limits(ctx, receive.kept_for().map(str::to_owned));
    match ctx
        .store
        .sessions()
        .keep_upload(upload, &name, staged, &limits)
    {
        Ok(id) => info!(
            "#{} STOR {name} cut off after {} bytes: kept as upload session {id} (REST or APPE go on with it)",
            ctx.client, staged.0
        ),
        Err(err) => warn!(
            "#{} STOR {name} cut off after {} bytes, not kept: {err}",
            ctx.client, staged.0
        ),
    }
}

/// Drops what was kept of a cut `STOR` of `name` for `who`: a fresh
/// `STOR` (no `REST`) starts over, and a delete of the name ends it, so
/// that its bytes no longer count against a quota. Returns whether
/// something was kept. On the pool.
pub(in crate::serve) fn drop_kept(ctx: &Ctx<'_>, who: &Who, name: &Name) -> bool {
    match ctx
        .store
        .sessions()
        .drop_kept_upload(owner_of(who).as_deref(), name)
    {
        Ok(dropped) => dropped,
        // Busy: a STOR of it under way (it keeps its own); gone: nothing
        // kept.
        Err(StorageError::SessionBusy | StorageError::InUseElsewhere | StorageError::NotFound) => {
            false
        }
        Err(err) => {
            warn!("#{} {name}: the kept upload stays: {err}", ctx.client);
            false
        }
    }
}
