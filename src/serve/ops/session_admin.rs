//! The upload sessions looked at and discarded: PROGRESS (tus's `HEAD`),
//! SESSIONS and ABORT, each by a client that may write the session's
//! file (`sessions.rs`'s rule, which also begins, stages and commits
//! them).

use log::debug;

use super::sessions::on_own_session;
use crate::access::Who;
use crate::name::Name;
use crate::serve::access::authorize_session;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, Next, Outcome, Reply, refuse};

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
        on_own_session(who, "PROGRESS", self.id, |ctx, id| {
            match ctx.storage.live_session(id, ctx.config.session_ttl()) {
                Ok(session) => Outcome::answer(Reply::Session(Box::new(session))),
                Err(err) => refuse(ctx, "PROGRESS", id, err.into(), Next::Request),
            }
        })
    }
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

    /// The sessions whose files `who` may write, most recently used first.
    /// Allowed on a read-only server (it writes nothing), where there is
    /// nothing to list but what an earlier run left.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
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
}

/// Discard an upload.
#[derive(Debug)]
pub struct Abort {
    /// Upload id.
    pub id: String,
}

impl Operate for Abort {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        on_own_session(who, "ABORT", self.id, |ctx, id| {
            match ctx.storage.abort_session(id) {
                Ok(()) => {
                    debug!("#{} ABORT {id}", ctx.client);
                    Outcome::answer(Reply::Done)
                }
                Err(err) => refuse(ctx, "ABORT", id, err.into(), Next::Request),
            }
        })
    }
}
