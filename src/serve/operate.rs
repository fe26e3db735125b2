//! What every operation is to the serve layer ([`Operate`]): what it is
//! about and what it needs of the client's grants ([`Aim`], [`Needs`]),
//! the body that follows it, and its serve function. Each operation's
//! type implements it in the serve file that serves it (`files.rs`'s
//! `Put`, `sessions.rs`'s `Upload`, ...); `ops.rs` lists them. This file
//! names no operation, so each of those files can read it without a
//! circle.

use super::conditions::Conditions;
use super::{Body, Ctx, Outcome};
use crate::access::Who;

/// An operation, whatever protocol carried it: a type with its fields
/// named, whose facts sit beside it.
pub trait Operate {
    /// What it is about and what it needs of the client's grants, judged
    /// before it is served ([`super::serve`]).
    fn aim(&self) -> Aim<'_>;

    /// The body that follows the request (none for most).
    fn body(&self) -> Body {
        Body::fixed(0)
    }

    /// Keeps what of the request's `conditions` it judges again as it
    /// ends (a PUT's `If-Match` at its commit, a LOCK's submitted tokens
    /// for a refresh), once they have held; most keep nothing.
    fn keep(&mut self, _conditions: &Conditions) {}

    /// Runs it, once the serve layer has admitted it (who it is from,
    /// their grants, the invariants, read-only, the lock rule).
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome;
}

/// What an operation is about: for the log, the grants and the
/// invariants.
#[derive(Debug, Clone, Copy)]
pub struct Aim<'a> {
    /// The file, the listing's prefix or the session id it is about (empty
    /// for none), for the log.
    pub subject: &'a str,
    /// A move's or copy's new name.
    pub to: Option<&'a str>,
    /// What it needs of the client's grants.
    pub needs: Needs<'a>,
}

impl<'a> Aim<'a> {
    /// About `subject`, needing `needs`.
    pub fn at(subject: &'a str, needs: Needs<'a>) -> Aim<'a> {
        Aim {
            subject,
            to: None,
            needs,
        }
    }

    /// From `from` to `to`, needing `needs`.
    pub fn onto(from: &'a str, to: &'a str, needs: Needs<'a>) -> Aim<'a> {
        Aim {
            subject: from,
            to: Some(to),
            needs,
        }
    }

    /// About nothing in the tree, needing `needs` (a token, or nothing).
    pub fn none(needs: Needs<'a>) -> Aim<'a> {
        Aim::at("", needs)
    }
}

/// What an operation needs of the client's grants before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs<'a> {
    /// Nothing (authenticating, closing).
    Nothing,
    /// To read the file.
    Read(&'a str),
    /// To write the file.
    Write(&'a str),
    /// To read the file or to write it: what a writer that may not read
    /// it learns (only of its own upload) is the serve function's to say.
    ReadOrWrite(&'a str),
    /// To write the folder's own name, or something within it (a
    /// folder's making: a grant on `a/` makes `a`).
    WriteOrWithin(&'a str),
    /// To delete the file.
    Delete(&'a str),
    /// To delete something under the prefix (each file is checked as it
    /// is found).
    DeleteUnder(&'a str),
    /// To delete something under the prefix: each named file is checked,
    /// grants and locks, as its turn comes (`deletes.rs`).
    DeleteEach(&'a str),
    /// To delete the one and write the other, as DEL and PUT would.
    Move(&'a str, &'a str),
    /// To read the one and write the other, as GET and PUT would.
    Copy(&'a str, &'a str),
    /// To read something under the one and write something under the
    /// other (each file is checked as the walk finds it).
    CopyUnder(&'a str, &'a str),
    /// To delete everything under the one and write everything under the
    /// other: one rename moves it all.
    MoveWhole(&'a str, &'a str),
    /// To see something under the prefix (see `Who::may_list`).
    Listing(&'a str),
    /// Some grant, of any kind, on something under the prefix (the root:
    /// anywhere): a question about the folder, not its files, that must
    /// not tell whether a folder out of the client's reach is there.
    Within(&'a str),
    /// A token, when access control is on.
    Token,
    /// To write the file of the session, checked once it is found.
    Session,
}
