//! Dialects: what HTTP/1.1 messages mean. The message layer
//! (`message.rs`, `codec.rs`) frames requests and responses; a dialect
//! turns a framed head into a request for the serve layer and writes the
//! answers to it (status and fields). ferry's own files, listings and
//! archives (`files/`) are the first; WebDAV, tus and S3 are each a file
//! or folder of their own that `dialects.rs` lists, so that no method or
//! field of one leaks into another. This file knows none of them.

use std::fmt;

use super::message::{Head, Refused, Resume};
use super::origin::Site;
use super::response::{self, ALLOW_FILE, Framing, Head as ResponseHead, Persistence};
use crate::serve::{ErrorKind, Failure, Reply, Request};

/// A way of reading HTTP requests.
pub trait Dialect: Sync {
    /// How it answers a request it took.
    type Answer: Answer;

    /// Whether this dialect takes the request (by its method, target or
    /// fields). The first in its listener's list (`dialects.rs`) that does is
    /// asked to decode it.
    fn claims(&self, head: &Head<'_>) -> bool;

    /// Whether it takes the request of a client whose earlier requests on
    /// the connection showed `client`: [`Dialect::claims`], unless the
    /// dialect claims by the client too (WebDAV takes a DAV client's
    /// `PUT`, docs/webdav.md (e)).
    fn claims_from(&self, head: &Head<'_>, client: Client) -> bool {
        let _ = client;
        self.claims(head)
    }

    /// What a request it claims tells of its client, for the requests
    /// that follow on the connection.
    fn client_after(&self, _head: &Head<'_>, client: Client) -> Client {
        client
    }

    /// Whether the request's meaning is in its (small) body, which the
    /// message layer then gathers before [`Dialect::decode`] sees the head
    /// ([`Head::body`]; docs/webdav.md (a)): the most bytes of it to take
    /// (usually [`MAX_BODY_IN_HAND`](super::message::MAX_BODY_IN_HAND);
    /// over it, a 413), or `None` where the body is not in hand.
    /// `site`: the operator's settings (S3's domain, whose `Host` may name
    /// the bucket the request is on).
    fn body_in_hand(&self, _head: &Head<'_>, _site: Site<'_>) -> Option<u64> {
        None
    }

    /// The methods it serves on `target`, for the one `OPTIONS` answer's
    /// `Allow` (`dialects.rs`), as `"A, B"`.
    fn methods(&self, _target: Asked) -> &'static str {
        ""
    }

    /// Adds its own fields to the one `OPTIONS` answer; `max_file_size`:
    /// the server's upload limit, if any.
    fn offers<'a>(&self, _max_file_size: Option<u64>, head: ResponseHead<'a>) -> ResponseHead<'a> {
        head
    }

    /// How it answers a request the message layer refused before any
    /// dialect took it (a body in hand over its cap, a framing it cannot
    /// read), where it writes every error of its listener itself (S3's
    /// XML); `None`: the message layer's own answer.
    fn refusals(&self) -> Option<Self::Answer> {
        None
    }

    /// What the request asks, and how its answer will be written.
    ///
    /// # Errors
    /// A refusal that leaves the framing intact (the message layer answers
    /// it with the dialect's default headers); a refusal whose answer the
    /// dialect writes itself is a [`Decision::Refuse`].
    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<Self::Answer>, Refused>;
}

/// What a connection's earlier requests showed of its client, kept by the
/// exchange from one request to the next ([`Dialect::client_after`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Client {
    /// It spoke WebDAV: a method no other client sends (`PROPFIND`,
    /// `MKCOL`, `COPY`, ...), so its uploads get WebDAV's semantics.
    pub dav: bool,
}

/// What a dialect makes of a request head; `A`: its answer.
#[derive(Debug)]
pub enum Decision<A> {
    /// Serve it; the answer writes the replies.
    Serve(Request, A),
    /// Refuse it with this status and reason, framed by the answer (its
    /// `Allow`, say), then go on past its body.
    Refuse(u16, String, A),
}

impl<A> Decision<A> {
    /// The same decision with its answer made another's (a listener's
    /// answer of any dialect, `dialects.rs`; WebDAV's of the files').
    pub fn map<B>(self, into: impl FnOnce(A) -> B) -> Decision<B> {
        match self {
            Decision::Serve(request, answer) => Decision::Serve(request, into(answer)),
            Decision::Refuse(code, message, answer) => {
                Decision::Refuse(code, message, into(answer))
            }
        }
    }
}

/// What an `OPTIONS` asks about, as far as the dialects' offers differ
/// ([`Dialect::methods`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// A folder (a path ending in `/`) or `*`.
    Folder,
    /// Anything else: a file, or a folder named without its `/`.
    Other,
}

/// How an answer that begins early begins: a `200` of this type whose
/// body opens with `opening` (which the dialect's answer, when it comes,
/// also opens with: it is not sent twice), then a space now and then.
#[derive(Debug, Clone, Copy)]
pub struct Early {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The first bytes of its body.
    pub opening: &'static str,
}

/// The message layer's facts an answer is written with.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// What the `Connection` field says.
    pub persistence: Persistence,
    /// The request was HEAD: fields only.
    pub head: bool,
}

/// How a dialect answers one request: what it remembers of the request,
/// and the responses to the serve layer's replies.
pub trait Answer: fmt::Debug + Send {
    /// Appends the response to `reply`. Never given the replies the
    /// message layer writes itself (`Nothing`, `GoAhead`, `More`,
    /// `Failed`).
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>);

    /// Whether the answer may begin before the serve layer's reply, while
    /// long work runs, and how: S3's CompleteMultipartUpload answers
    /// `200` at once and fills its body with spaces until the result or
    /// an `<Error>` document ends it, so that no client's read timeout
    /// passes while a big object is assembled. `None`: the answer waits.
    fn early(&self) -> Option<Early> {
        None
    }

    /// The methods the request's target allows (a 405's `Allow`).
    fn allow(&self) -> &'static str {
        ALLOW_FILE
    }

    /// The status a failure of `kind` is answered with.
    fn status(&self, kind: ErrorKind) -> u16 {
        kind.code()
    }

    /// Appends the answer to a failure of the serve layer: by default
    /// [`Answer::error`] with [`Answer::status`]'s code. A dialect whose
    /// errors name more than a status (S3's codes) writes its own.
    fn failed(&self, failure: &Failure, framing: Framing, out: &mut Vec<u8>) {
        self.error(self.status(failure.kind), &failure.message, framing, out);
    }

    /// Appends an error answer (a failure, or the request refused):
    /// ferry's one-line text, with whatever fields the dialect adds.
    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        response::error(out, status, message, framing);
    }
}
