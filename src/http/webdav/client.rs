//! A DAV client's requests on the files dialect's methods
//! (docs/webdav.md (e)). The same `PUT` means two things: the web page,
//! `curl -T` and the CLI upload into folders that are not there yet and
//! expect them made; a DAV client expects `409` (RFC 4918 9.7.1), having
//! made its collections with `MKCOL`. The request tells which: a field
//! only WebDAV has, or a method only a DAV client sends earlier on the
//! connection (davfs2, Finder, Explorer, rclone and litmus all `PROPFIND`
//! or `MKCOL` first). Such a `PUT` is the files dialect's with explicit
//! folders; such a file's `MOVE` is WebDAV's (`copymove.rs`: its parent
//! must exist, a folder there is replaced).
//!
//! ```text
//! PUT  /<name>  from a DAV client   -> as the files dialect's, but 409 without its parent folder
//! MOVE /<name>  from a DAV client   -> WebDAV's MOVE (409 without the parent, nothing made)
//! ```

use super::super::dialect::{Client, Decision, Dialect};
use super::super::files::Files;
use super::super::message::{Head, Refused, Resume};
use super::super::origin::Site;
use super::WebdavAnswer;
use crate::serve::ops;
use crate::serve::{Folders, Operation, Request};

/// The methods only a DAV client sends: one of them marks the connection's
/// client as one. Not `MOVE` or `DELETE`: the web page sends those, and
/// its later uploads on the connection must still make their folders.
const DAV_METHODS: [&str; 6] = ["PROPFIND", "PROPPATCH", "MKCOL", "COPY", "LOCK", "UNLOCK"];

/// The fields only a DAV client sends (RFC 4918 10).
const DAV_FIELDS: [&str; 4] = ["if", "lock-token", "overwrite", "depth"];

/// What `head` tells of its client: a DAV client's method marks it.
pub(super) fn after(head: &Head<'_>, client: Client) -> Client {
    Client {
        dav: client.dav || DAV_METHODS.contains(&head.method),
    }
}

/// Whether `head` is a DAV client's `PUT` or `MOVE` (a file's, the
/// files dialect's otherwise): it carries a WebDAV field, or its client
/// spoke WebDAV before.
pub(super) fn claims(head: &Head<'_>, client: Client) -> bool {
    matches!(head.method, "PUT" | "MOVE")
        && (client.dav
            || head
                .fields()
                .any(|(name, _)| DAV_FIELDS.iter().any(|f| name.eq_ignore_ascii_case(f))))
}

/// A DAV client's `PUT`: the files dialect's, whose missing parent folder
/// is a conflict rather than made.
///
/// # Errors
/// As the files dialect's.
pub(super) fn put(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
) -> Result<Decision<WebdavAnswer>, Refused> {
    let mut decision = Files.decode(head, resume, site)?;
    if let Decision::Serve(
        Request {
            operation: Operation::Put(ops::Put { folders, .. }),
            ..
        },
        _,
    ) = &mut decision
    {
        *folders = Folders::Explicit;
    }
    Ok(decision.map(WebdavAnswer::Files))
}
