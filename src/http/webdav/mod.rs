//! WebDAV (RFC 4918) on the HTTP listener, as a dialect over ferry's
//! operations: the same URLs, grants, read-only mode and I/O pool as the
//! files dialect, which keeps `GET`, `HEAD`, `PUT`, `DELETE` and `MOVE`
//! (a plain `GET` of a folder is still the web page). Design:
//! docs/webdav.md. PROPFIND's multistatus is `propfind.rs`'s, PROPPATCH's
//! `proppatch.rs`'s, LOCK and UNLOCK `lock.rs`'s.
//!
//! ```text
//! OPTIONS <any>                      -> 204 DAV: 1, 2, MS-Author-Via: DAV (dialects.rs)
//! PROPFIND /<folder>/  Depth: 0|1    -> 207 the folder [and its members], a listing spooled on the pool (propfind.rs)
//! PROPFIND /<name>     Depth: 0|1    -> 207 the file (or the folder named without its /, as above)
//! PROPFIND, no Depth or infinity     -> 403 <D:propfind-finite-depth/>
//!   body: empty (allprop) | <propfind> allprop | propname | prop, at most 64 KiB (413);
//!   dead properties too, quota-available-bytes and quota-used-bytes when named
//! PROPPATCH /<name>[/]  <propertyupdate> set/remove, at most 64 KiB (413)
//!                                    -> 207 each property 200, or none applied: 403 for a
//!                                       protected one, 424 for the rest (proppatch.rs);
//!                                       getlastmodified, Win32LastModifiedTime set the mtime
//! MKCOL /<name>[/]                   -> 201; 405 if the name exists, 409 without its parent,
//!                                       415 with a body
//! COPY /<name>[/]  Destination: <url or path>  [Overwrite: T|F]  [Depth: 0|infinity]
//! MOVE /<folder>/, or to a Destination ending in / (the files dialect moves files)
//!                                    -> 201 new, 204 replaced (a folder there removed first);
//!                                       412 Overwrite: F over a name, 409 without the
//!                                       parent folder, 403 onto or into itself, 502 to
//!                                       another host, 207 naming what a folder's copy
//!                                       (or a replaced folder's removal) left
//! PUT /<name>, MOVE /<name> from a DAV client (a WebDAV field, or a WebDAV method
//!   before on the connection)         -> 409 without the parent folder (client.rs)
//! Depth: other than 0, 1, infinity   -> 400, whatever the method
//! Expect: 100-continue with a body   -> 100 once the head is in (the message layer)
//! LOCK, UNLOCK                       -> lock.rs (serve/ops/locks.rs holds the rules)
//! If: (<token>) [etag] ... on any request (if_header.rs)
//!                                    -> 412 when no list holds; writes without a
//!                                       covering lock's token 423
//! ```

mod propfind;
mod proppatch;

mod client;
mod lock;

use super::copymove::Transfer;
use super::dialect::{Answer, Asked as Target, Client, Decision, Dialect, Early, Message};
use super::fields::{bad_name, folder_prefix, overwrite, path_of};
use super::files::FilesAnswer;
use super::message::{Head, Refused, Resume};
use super::origin::{self, Provenance, Site};
use super::response::{self, Framing, Head as ResponseHead};
use super::xml::{self, MEDIA_TYPE as XML};
use crate::access::Secret;
use crate::name::Name;
use crate::serve::ops;
use crate::serve::{BodyLength, ErrorKind, Failure, Making, Operation, Reply, Request, Scope};

/// The dialect: WebDAV's own methods on the HTTP listener.
#[derive(Debug)]
pub struct Webdav;

/// The methods WebDAV adds (the files dialect's are served beside them).
const METHODS: &str = "OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";
/// What a WebDAV request asked, as its answer needs it.
#[derive(Debug, Clone, Copy)]
enum Asked {
    /// A folder's PROPFIND: its listing is the multistatus.
    Listing,
    /// MKCOL.
    MakeFolder,
    /// A PROPFIND without a finite depth: refused.
    InfiniteDepth,
    /// PROPPATCH.
    Patch,
    /// COPY or MOVE; `Overwrite: F` if it must not replace what has the
    /// name (then a name taken is `412`).
    Transfer {
        /// `Overwrite: F`.
        keep: bool,
        /// `Accept: application/json`: what was left is told in JSON
        /// (the page), not as a multistatus.
        json: bool,
    },
    /// LOCK.
    Lock,
    /// UNLOCK.
    Unlock,
}

/// How a WebDAV request is answered: its own way, or as ferry's files
/// answer the `PUT` and `MOVE` of a DAV client, which the files dialect
/// decodes (`client.rs`).
#[derive(Debug)]
pub enum WebdavAnswer {
    /// WebDAV's own methods.
    Dav(DavAnswer),
    /// A DAV client's `PUT` or `MOVE`.
    Files(FilesAnswer),
}

impl WebdavAnswer {
    fn answering(asked: Asked) -> WebdavAnswer {
        WebdavAnswer::Dav(DavAnswer { asked })
    }

    fn inner(&self) -> &dyn Answer {
        match self {
            WebdavAnswer::Dav(answer) => answer,
            WebdavAnswer::Files(answer) => answer,
        }
    }
}

impl Answer for WebdavAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        self.inner().encode(reply, message, out);
    }

    fn early(&self) -> Option<Early> {
        self.inner().early()
    }

    fn allow(&self) -> &'static str {
        self.inner().allow()
    }

    fn status(&self, kind: ErrorKind) -> u16 {
        self.inner().status(kind)
    }

    fn failed(&self, failure: &Failure, framing: Framing, out: &mut Vec<u8>) {
        self.inner().failed(failure, framing, out);
    }

    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        self.inner().error(status, message, framing, out);
    }
}

/// How a WebDAV method is answered: a byte, as every connection holds
/// one exchange (what a multistatus needs travels with its listing).
#[derive(Debug)]
pub struct DavAnswer {
    asked: Asked,
}

impl Dialect for Webdav {
    type Answer = WebdavAnswer;

    fn claims(&self, head: &Head<'_>) -> bool {
        match head.method {
            "PROPFIND" | "PROPPATCH" | "MKCOL" | "COPY" | "LOCK" | "UNLOCK" => true,
            // A folder's MOVE, or one onto a folder; a file's stays the
            // files dialect's (the web page's rename).
            "MOVE" => {
                path_of(head.target).ends_with('/')
                    || head.fields().any(|(name, value)| {
                        name.eq_ignore_ascii_case("destination")
                            && value.trim_ascii().ends_with(b"/")
                    })
            }
            _ => false,
        }
    }

    /// A DAV client's `PUT` and file `MOVE` too (`client.rs`).
    fn claims_from(&self, head: &Head<'_>, client: Client) -> bool {
        self.claims(head) || client::claims(head, client)
    }

    fn client_after(&self, head: &Head<'_>, client: Client) -> Client {
        client::after(head, client)
    }

    fn body_in_hand(&self, head: &Head<'_>, _site: Site<'_>) -> Option<u64> {
        matches!(head.method, "PROPFIND" | "PROPPATCH" | "LOCK")
            .then_some(super::message::MAX_BODY_IN_HAND)
    }

    fn methods(&self, _target: Target) -> &'static str {
        METHODS
    }

    fn offers<'a>(&self, _max_file_size: Option<u64>, head: ResponseHead<'a>) -> ResponseHead<'a> {
        // Class 2: LOCK is real (docs/webdav.md (b), (d)).
        head.header("DAV", "1, 2").header("MS-Author-Via", "DAV")
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<WebdavAnswer>, Refused> {
        if head.method == "PUT" {
            return client::put(head, resume, site);
        }
        let fields = Fields::read(head);
        let path = path_of(head.target);
        let writes = matches!(
            head.method,
            "MKCOL" | "COPY" | "MOVE" | "PROPPATCH" | "LOCK" | "UNLOCK"
        );
        let refuse = |(code, message): Refused, asked| {
            Ok(Decision::Refuse(
                code,
                message,
                WebdavAnswer::answering(asked),
            ))
        };
        if let Err(refused) = origin::check(writes, &fields.provenance, site) {
            return refuse(refused, Asked::MakeFolder);
        }
        if fields.bad_depth {
            return Err((400, "Depth is 0, 1 or infinity".into()));
        }
        let conditions = match super::if_header::conditions(head) {
            Ok(conditions) => conditions,
            Err(refused) => return refuse(refused, Asked::MakeFolder),
        };
        let decided = match head.method {
            "MKCOL" => make_folder(path, resume).map(|op| (op, Asked::MakeFolder)),
            "LOCK" => lock::lock(head, path, fields.depth).map(|op| (op, Asked::Lock)),
            "UNLOCK" => lock::unlock(head, path, resume.body).map(|op| (op, Asked::Unlock)),
            "PROPPATCH" => proppatch::operation(path, head.body).map(|op| (op, Asked::Patch)),
            "COPY" | "MOVE" => {
                let asked = Transfer {
                    moves: head.method == "MOVE",
                    destination: fields.destination.as_deref(),
                    overwrite: fields.overwrite,
                    depth: fields.depth,
                    host: fields.provenance.host.as_deref(),
                };
                asked.operation(path, resume).map(|(operation, keep)| {
                    let json = fields.json;
                    (operation, Asked::Transfer { keep, json })
                })
            }
            _ => match fields.depth {
                None => {
                    let message = "Depth: infinity is not served; ask for 0 or 1".to_owned();
                    return refuse((403, message), Asked::InfiniteDepth);
                }
                Some(depth) => propfind(path, depth, head.body),
            },
        };
        match decided {
            Ok((operation, asked)) => {
                let request = Request {
                    operation,
                    token: fields.token,
                    conditions,
                };
                Ok(Decision::Serve(request, WebdavAnswer::answering(asked)))
            }
            Err(refused) => refuse(refused, Asked::MakeFolder),
        }
    }
}

/// `PROPFIND` of `path` at `depth` (0 or 1): the listing of the folder it
/// names (with or without its trailing `/`), or of the file alone, at
/// either depth; spooled on the pool either way, since the answer cannot
/// hold what a description needs (docs/webdav.md (c)).
fn propfind(path: &str, depth: u8, body: &[u8]) -> Result<(Operation, Asked), Refused> {
    let asked = xml::propfind(body).map_err(|message| (400, message))?;
    let inner = path.strip_prefix('/').unwrap_or(path);
    // A name without its `/` may be a file or a folder: the pool finds out.
    let (folder, scope) = match inner.strip_suffix('/') {
        Some(folder) => (folder, Scope::Directory),
        None if inner.is_empty() => (inner, Scope::Directory),
        None => (inner, Scope::Named),
    };
    let prefix = folder_prefix(folder)?;
    let format = propfind::Multistatus::new(asked, depth);
    let operation = Operation::List(ops::List {
        prefix,
        scope,
        format: Box::new(format),
        body: true,
    });
    Ok((operation, Asked::Listing))
}

/// `MKCOL` of `path` (its trailing `/` may be there or not).
fn make_folder(path: &str, resume: &Resume) -> Result<Operation, Refused> {
    if resume.body != BodyLength::Fixed(0) {
        return Err((415, "MKCOL takes no body".into()));
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    let name = Name::decode(inner.as_bytes()).map_err(bad_name)?;
    Ok(Operation::MakeFolder(ops::MakeFolder {
        name,
        making: Making::Alone,
        preconditions: None,
    }))
}

/// The fields a WebDAV request is read by.
#[derive(Debug, Default)]
struct Fields {
    /// `Depth`: 0 or 1; `None` for infinity (also when absent).
    depth: Option<u8>,
    /// A `Depth` that is none of `0`, `1`, `infinity` (RFC 4918 10.2):
    /// `400`, whatever the method.
    bad_depth: bool,
    token: Option<Secret>,
    /// `Destination`, as sent (COPY).
    destination: Option<String>,
    /// `Overwrite`: `None` for a value that is neither `T` nor `F`.
    overwrite: Option<bool>,
    /// `Accept` lists JSON: a COPY's or MOVE's report is JSON.
    json: bool,
    provenance: Provenance,
}

impl Fields {
    fn read(head: &Head<'_>) -> Fields {
        let mut fields = Fields {
            overwrite: Some(true),
            ..Fields::default()
        };
        for (name, value) in head.fields() {
            if fields.provenance.read(name, value) {
                continue;
            }
            if name.eq_ignore_ascii_case("depth") {
                fields.depth = match value.trim_ascii() {
                    b"0" => Some(0),
                    b"1" => Some(1),
                    infinity if infinity.eq_ignore_ascii_case(b"infinity") => None,
                    _ => {
                        fields.bad_depth = true;
                        None
                    }
                };
            } else if name.eq_ignore_ascii_case("destination") {
                let text = std::str::from_utf8(value).unwrap_or_default().trim();
                fields.destination = Some(text.to_owned());
            } else if name.eq_ignore_ascii_case("overwrite") {
                fields.overwrite = overwrite(value);
            } else if name.eq_ignore_ascii_case("authorization") {
                fields.token = Some(super::auth::token(value));
            } else if name.eq_ignore_ascii_case("accept") {
                let text = std::str::from_utf8(value).unwrap_or_default();
                fields.json |= super::fields::accepts(text, "application/json");
            }
        }
        fields
    }
}

impl Answer for DavAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match (self.asked, reply) {
            (Asked::Listing, Reply::Listing { len }) => {
                ResponseHead::new(out, 207)
                    .header("Content-Type", XML)
                    .finish(*len, persistence);
            }
            (Asked::Transfer { json, .. }, Reply::Remains(remains, more)) => {
                super::remains::answer((remains, *more), json, message, out);
            }
            (Asked::Patch, Reply::Patched(patched)) => {
                let body = proppatch::multistatus(patched);
                ResponseHead::new(out, 207)
                    .header("Content-Type", XML)
                    .finish(body.len() as u64, persistence);
                out.extend_from_slice(body.as_bytes());
            }
            (Asked::MakeFolder, Reply::Done) => {
                ResponseHead::new(out, 201).finish(0, persistence);
            }
            (Asked::Unlock, Reply::Done) => {
                ResponseHead::new(out, 204).finish(0, persistence);
            }
            (Asked::Lock, Reply::Locked(granted)) => lock::answer(granted, message, out),
            // RFC 4918 9.8.5: 201 for a new name, 204 for one replaced.
            (
                Asked::Transfer { .. },
                Reply::Stored { replaced, .. } | Reply::Moved { replaced },
            ) => {
                ResponseHead::new(out, if *replaced { 204 } else { 201 }).finish(0, persistence);
            }
            (_, other) => {
                debug_assert!(false, "no WebDAV request leads to {other:?}");
                let framing = Framing {
                    persistence,
                    head_only: message.head,
                    allow: self.allow(),
                };
                self.error(500, "unexpected answer", framing, out);
            }
        }
    }

    fn allow(&self) -> &'static str {
        "GET, HEAD, PUT, DELETE, MOVE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, LOCK, UNLOCK"
    }

    /// MKCOL's statuses (RFC 4918 9.3.1): a name that exists is 405, a
    /// missing parent 409.
    fn status(&self, kind: ErrorKind) -> u16 {
        match (self.asked, kind) {
            (Asked::MakeFolder, ErrorKind::Exists) => 405,
            (Asked::MakeFolder, ErrorKind::NotFound) => 409,
            (Asked::Transfer { keep: true, .. }, ErrorKind::Exists) => 412,
            (_, kind) => kind.code(),
        }
    }

    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        // RFC 4918 16: the precondition a refusal breaks, where it has one.
        let condition = match (self.asked, status) {
            (Asked::InfiniteDepth, _) => "propfind-finite-depth",
            (Asked::Lock, 423) => "no-conflicting-lock",
            (Asked::Unlock, 409) => "lock-token-matches-request-uri",
            _ => return response::error(out, status, message, framing),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:{condition}/></D:error>\n"
        );
        ResponseHead::new(out, status)
            .header("Content-Type", XML)
            .finish(body.len() as u64, framing.persistence);
        if !framing.head_only {
            out.extend_from_slice(body.as_bytes());
        }
    }
}
