//! What an open for writing must pass before its upload is begun (SFTP's
//! `OPEN`, FTP's `REST` + `STOR` and `APPE`: `resume.rs`): what it asks
//! of a file at its name (SFTP's `CREAT`, `EXCL`), and room for the copy
//! of the file it may begin with; the looks at the name they share, each
//! taken once and only where a rule asks (on a network file system each
//! is a round trip). On the pool.

use std::cell::Cell;

use crate::access::Who;
use crate::name::Name;
use crate::serve::{Ctx, ErrorKind, Failure, check_space};
use crate::storage::StorageError;

/// What a file open for writing holds as it is opened ([`Reopen`](super::Reopen)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Nothing: the file is written anew (`TRUNCATE`).
    Nothing,
    /// The upload kept for the token, else the file's bytes (`APPEND`:
    /// OpenSSH's `reput`, `put -a`).
    Kept,
    /// An open in place (neither `TRUNCATE` nor `APPEND`): where a file
    /// is at the name, its bytes as they are, an upload kept of it
    /// dropped (sshfs's `O_RDWR`, `rsync --inplace`: their writes are made
    /// against the file they read, never a stale upload's bytes); where
    /// none is, the upload kept for the token, whose size its `STAT` told
    /// (WinSCP's resume of a cut `.filepart` writes on from there).
    InPlace,
    /// The first bytes, so many, of the upload kept for the token (a file
    /// open for writing cut short: `FSETSTAT`'s size).
    KeptUpTo(u64),
}

/// What an open for writing asks of a file already at its name (SFTP's
/// `OPEN` flags, as `open(2)`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Anything: made where none is (`CREAT`).
    Any,
    /// None: refused where the file is there (`CREAT|EXCL`; judged again
    /// by the commit's rename: [`Close::create_only`](super::Close::create_only)).
    Absent,
    /// The file, or an upload kept of it for the token (which stands for
    /// it to that token: its `STAT` tells the kept size): refused where
    /// neither is (no `CREAT`, as `open(2)` without `O_CREAT`, which
    /// Linux's `O_EXCL` alone does not change).
    Present,
}

/// Whose kept uploads `who` goes on with: its token's name (`None`
/// without access control), as the sessions' caps count them.
pub(super) fn owner_of(who: &Who) -> Option<String> {
    who.owner().map(|owner| owner.as_str().to_owned())
}

/// What an open asks of a file at its name ([`Presence`]), judged before
/// anything is copied or counted; for an open in place of a file, the
/// upload kept of it dropped ([`drop_kept_under_a_file`]). On the pool.
///
/// # Errors
/// The file is there (`EXCL`); neither it nor a kept upload is (no
/// `CREAT`); as [`Looks`] and [`drop_kept_under_a_file`].
pub(super) fn judge_presence(
    ctx: &Ctx<'_>,
    (presence, seed): (Presence, Seed),
    looks: &Looks<'_>,
) -> Result<(), Failure> {
    match presence {
        Presence::Absent if looks.file()?.is_some() => {
            let there = "the file is there (EXCL)";
            return Err(Failure::new(ErrorKind::PreconditionFailed, there));
        }
        Presence::Present if looks.file()?.is_none() && !looks.kept()? => {
            return Err(StorageError::NotFound.into());
        }
        _ => {}
    }
    if seed == Seed::InPlace && looks.file()?.is_some() {
        drop_kept_under_a_file(ctx, looks.who, looks.name)?;
        looks.dropped();
    }
    Ok(())
}

/// Room for the kept upload that `looks`' token goes on with from
/// `from` (`None`: its end): where none is kept, one is begun with a copy
/// of the file's first bytes up to there, judged as any copy of that many
/// bytes is ([`check_space`]: the reserve, the quotas) before it is made.
/// Before, the copy was counted after it was made: an open of a large
/// file could fill the disk past the reserve, or put a token over its
/// quota. (The quotas are judged again where the copy is counted, with
/// the count: opens side by side that each pass here cannot together copy
/// past one; `resume_upload`.) Returns whether the upload begins as a
/// copy of the file.
/// A client that may not `read` the file goes on from it at its end only
/// (the engine refuses another offset): no size of it is judged then, so
/// a refusal never tells it. On the pool.
///
/// # Errors
/// As [`check_space`]; as [`Looks`].
pub(super) fn check_seed(
    ctx: &Ctx<'_>,
    (who, read): (&Who, bool),
    from: Option<u64>,
    looks: &Looks<'_>,
) -> Result<bool, Failure> {
    let copied = match from {
        Some(0) => None,
        Some(_) if !read => None,
        _ if looks.kept()? => None,
        _ => looks
            .file()?
            .map(|size| from.map_or(size, |at| at.min(size))),
    };
    check_space(ctx, who, looks.name.as_str(), copied.unwrap_or(0))?;
    Ok(copied.is_some())
}

/// What an open for writing asks of its name, each looked at once and
/// only where a rule asks (on a network file system each look is a round
/// trip): the file's size (`None`: no file) and whether an upload of it
/// is kept for the token. On the pool.
pub(super) struct Looks<'a> {
    ctx: &'a Ctx<'a>,
    who: &'a Who,
    name: &'a Name,
    file: Cell<Option<Option<u64>>>,
    kept: Cell<Option<bool>>,
}

impl<'a> Looks<'a> {
    pub(super) fn new(ctx: &'a Ctx<'a>, who: &'a Who, name: &'a Name) -> Looks<'a> {
        Looks {
            ctx,
            who,
            name,
            file: Cell::new(None),
            kept: Cell::new(None),
        }
    }

    /// The size of the file at the name, `None` where none is.
    ///
    /// # Errors
    /// The name could not be looked up (a folder there, a parent that is
    /// a file, a storage failure).
    fn file(&self) -> Result<Option<u64>, Failure> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let file = match self.ctx.store.look_up(self.name) {
            Ok(version) => Some(version.info.size),
            Err(StorageError::NotFound) => None,
            Err(err) => return Err(err.into()),
        };
        self.file.set(Some(file));
        Ok(file)
    }

    /// Whether an upload of the name is kept for the token.
    ///
    /// # Errors
    /// The kept uploads could not be read.
    fn kept(&self) -> Result<bool, Failure> {
        if let Some(kept) = self.kept.get() {
            return Ok(kept);
        }
        let owner = owner_of(self.who);
        let kept = (self.ctx.store.sessions()).kept_upload(owner.as_deref(), self.name)?;
        self.kept.set(Some(kept.is_some()));
        Ok(kept.is_some())
    }

    /// The kept upload was dropped (an open in place of a file).
    fn dropped(&self) {
        self.kept.set(Some(false));
    }
}

/// For an open in place ([`Seed::InPlace`]) where a file is at `name`:
/// the upload kept of it for `who` is dropped, so that the open begins
/// with the file's bytes; one being written or committed is refused
/// (busy), never taken up in the file's place. On the pool.
fn drop_kept_under_a_file(ctx: &Ctx<'_>, who: &Who, name: &Name) -> Result<(), Failure> {
    match ctx
        .store
        .sessions()
        .drop_kept_upload(owner_of(who).as_deref(), name)
    {
        Ok(_) | Err(StorageError::NotFound) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
