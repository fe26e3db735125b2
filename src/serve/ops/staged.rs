//! A READ of a file open for writing (SFTP's `O_RDWR`): the bytes staged
//! in its upload session, which replace the file's at its commit, read
//! back for the client writing them. Only the token that began the
//! session reads it (`if_own_session`, [`Rule::Began`]), as only one that
//! may read the file began it from the file's bytes (`resume.rs`).

use super::session_admin::{Rule, if_own_session};
use crate::access::Who;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Asked, Ctx, Job, Outcome, Reply, SessionStep, storage_refusal};

/// Read `len` staged bytes from `offset` of upload session `id`.
#[derive(Debug)]
pub struct ReadStaged {
    /// The session's id.
    pub id: String,
    /// Where the bytes begin.
    pub offset: u64,
    /// How many, at most (a `READ`'s, capped by the codec).
    pub len: u32,
    /// The open of the session its handle made, which must still be the
    /// newest: a superseded handle reads nothing more.
    pub opener: u64,
}

impl Operate for ReadStaged {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Session)
    }

    /// On the pool: the bytes ([`Reply::Staged`]; none past its end).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::ReadStaged(Asked::boxed(
            self, who,
        ))))
    }
}

/// [`SessionStep::ReadStaged`] (on the pool): the bytes, if the client
/// may write the session.
#[cfg_attr(not(feature = "sftp"), allow(dead_code))]
pub(in crate::serve) fn read_staged(ctx: &Ctx<'_>, asked: Asked<ReadStaged>) -> Outcome {
    let Asked { op, who, .. } = asked;
    let ReadStaged {
        id,
        offset,
        len,
        opener,
    } = op;
    if_own_session(ctx, (&who, Rule::Began), "READ", &id, |ctx, id| {
        let mut bytes = vec![0; len as usize];
        match ctx
            .store
            .sessions()
            .read_staged(id, Some(opener), offset, &mut bytes)
        {
            Ok(read) => {
                bytes.truncate(read);
                Outcome::answer(Reply::Staged(bytes))
            }
            Err(err) => storage_refusal(ctx, "READ", id, err),
        }
    })
}
