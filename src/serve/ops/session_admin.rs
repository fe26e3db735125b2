//! The upload sessions looked at and discarded: PROGRESS (tus's `HEAD`),
//! SESSIONS and ABORT, each by a client that may write the session's
//! file (`sessions.rs`'s rule, which also begins, stages and commits
//! them), and that check itself for every verb on a session by its id
//! (`if_own_session`). Each verb's work on the pool is a named step
//! (`session_steps.rs`: [`progress`], [`sessions`], [`abort`]).

use log::debug;

use crate::access::{Perm, Who};
use crate::model::SessionInfo;
use crate::name::Name;
use crate::serve::access::{authorize_own_session, authorize_session};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Asked, Ctx, Failure, Job, Next, Outcome, Reply, SessionStep, refuse};
use crate::storage::StorageError;

/// How far upload `id` has come (tus's `HEAD`), for a client that may
/// write it.
#[derive(Debug)]
pub struct Progress {
    /// Upload id.
    pub id: String,
}

impl Operate for Progress {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Progress(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Progress`] (on the pool): the session as it stands,
/// for a client that may write it.
pub(in crate::serve) fn progress(ctx: &Ctx<'_>, asked: Asked<Progress>) -> Outcome {
    let Asked { op, who, .. } = asked;
    if_own_session(
        ctx,
        (&who, Rule::MayWrite),
        "PROGRESS",
        &op.id,
        |ctx, id| match ctx
            .store
            .sessions()
            .live_session(id, ctx.config.session_ttl())
        {
            Ok(session) => Outcome::answer(Reply::Session(Box::new(session))),
            Err(err) => refuse(ctx, "PROGRESS", id, err.into(), Next::Request),
        },
    )
}

/// Most sessions one `SESSIONS` answer lists (as many as one token may
/// hold by default): a client that aborts them all asks again for the rest.
pub const MAX_LISTED_SESSIONS: usize = 1024;

/// List the upload sessions the client may write.
#[derive(Debug)]
pub struct Sessions;

impl Operate for Sessions {
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Token)
    }

    /// The sessions whose files `who` may write, most recently used first
    /// (of those it may not read, only its own: [`told`]). Allowed on a
    /// read-only server (it writes nothing), where there is nothing to
    /// list but what an earlier run left.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Sessions(who)))
    }
}

/// [`SessionStep::Sessions`] (on the pool): the sessions `who` is told
/// of.
pub(in crate::serve) fn sessions(ctx: &Ctx<'_>, who: Who) -> Outcome {
    let may_write = |name: &Name| authorize_session(&who, name.as_str()).is_ok();
    let ttl = ctx.config.session_ttl();
    let sessions = ctx.store.sessions();
    match sessions.list_sessions(ttl, MAX_LISTED_SESSIONS, &may_write) {
        Ok(mut sessions) => {
            let owner = who.owner().map(|owner| owner.as_str().to_owned());
            sessions.retain(|listed| told(&who, owner.as_deref(), &listed.info));
            Outcome::answer(Reply::Sessions(sessions))
        }
        Err(err) => refuse(ctx, "SESSIONS", "", err.into(), Next::Request),
    }
}

/// Whether `session` is listed to `who` (whose token is `owner`), which
/// may write its file: a session staged by someone else, or begun from
/// the bytes of a file (FTP's `APPE`), tells how far the file has come,
/// which only a client that may read it may learn.
fn told(who: &Who, owner: Option<&str>, session: &SessionInfo) -> bool {
    who.allows(Perm::Read, session.name.as_str())
        || (session.owner.as_deref() == owner && !session.holds_unread_bytes())
}

/// Discard an upload.
#[derive(Debug)]
pub struct Abort {
    /// Upload id.
    pub id: String,
    /// The open of the session its handle made (SFTP's), which must still
    /// be the newest; `None` for every other protocol's.
    pub opener: Option<u64>,
}

impl Operate for Abort {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::Abort(Asked::boxed(self, who))))
    }
}

/// [`SessionStep::Abort`] (on the pool): the session discarded, if its
/// client may write it.
pub(in crate::serve) fn abort(ctx: &Ctx<'_>, asked: Asked<Abort>) -> Outcome {
    let Asked {
        op: Abort { id, opener },
        who,
        ..
    } = asked;
    if_own_session(
        ctx,
        (&who, Rule::MayWrite),
        "ABORT",
        &id,
        |ctx, id| match ctx.store.sessions().abort_session(id, opener) {
            Ok(()) => {
                debug!("#{} ABORT {id}", ctx.client);
                Outcome::answer(Reply::Done)
            }
            Err(err) => refuse(ctx, "ABORT", id, err.into(), Next::Request),
        },
    )
}

/// Who may ask a verb of a session by its id.
#[derive(Debug, Clone, Copy)]
pub(in crate::serve) enum Rule {
    /// A client that may write the session's file (PROGRESS, ABORT).
    MayWrite,
    /// That client, if its token began the session (COMMIT:
    /// [`authorize_own_session`]).
    Began,
}

/// Whether `who` may ask what `rule` says of session `id`: its record is
/// read only where access control is on (on the pool: it is disk work). An
/// unknown id is left for the operation itself to answer (there is nothing
/// to write to); any other failure to read the record refuses, as the
/// storage failure it is (EMFILE a 503, EIO a 500), since without the
/// record nobody can tell whose session it is. (An APPEND asks this of
/// the record it reads anyway: `sessions.rs`'s `Append`.)
fn may_write_session(ctx: &Ctx<'_>, (who, rule): (&Who, Rule), id: &str) -> Result<(), Failure> {
    if who.is_everyone() {
        return Ok(());
    }
    match (ctx.store.sessions().session(id), rule) {
        (Ok(session), Rule::MayWrite) => authorize_session(who, session.name.as_str()),
        (Ok(session), Rule::Began) => authorize_own_session(who, &session),
        (Err(StorageError::NoSuchUpload), _) => Ok(()),
        (Err(err), _) => Err(err.into()),
    }
}

/// `verb` of session `id` by `who` (on the pool, in its step): refused
/// unless `who` may ask it by the [`Rule`] it comes with
/// ([`may_write_session`]), else `then`.
pub(in crate::serve) fn if_own_session(
    ctx: &Ctx<'_>,
    who: (&Who, Rule),
    verb: &'static str,
    id: &str,
    then: impl FnOnce(&Ctx<'_>, &str) -> Outcome,
) -> Outcome {
    match may_write_session(ctx, who, id) {
        Ok(()) => then(ctx, id),
        Err(failure) => refuse(ctx, verb, id, failure, Next::Request),
    }
}
