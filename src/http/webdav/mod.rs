//! WebDAV (RFC 4918) on the HTTP listener, as a dialect over ferry's
//! operations: the same URLs, grants, read-only mode and I/O pool as the
//! files dialect, which keeps `GET`, `HEAD`, `PUT`, `DELETE` and `MOVE`
//! (a plain `GET` of a folder is still the web page). Design:
//! docs/webdav.md.
//!
//! Why it is long: the dialect's decoding, its answers and the
//! multistatus of every live property live together, as they share the
//! `Asked` each answer is written by; LOCK and UNLOCK are `lock.rs`'s.
//!
//! ```text
//! OPTIONS <any>                      -> 204 DAV: 1, 2, MS-Author-Via: DAV (options.rs)
//! PROPFIND /<folder>/  Depth: 0|1    -> 207 the folder [and its members], a listing spooled on the pool
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
//! LOCK, UNLOCK                       -> lock.rs (serve/locks.rs holds the rules)
//! If: (<token>) [etag] ... on any request (if_header.rs)
//!                                    -> 412 when no list holds; writes without a
//!                                       covering lock's token 423
//! ```
//!
//! Why it is long: the dialect's decoding and answers, and PROPFIND's
//! multistatus format (`Item`, `response_of`, `Multistatus`), which is to
//! move to a `propfind.rs` of its own once the WebDAV branches that all
//! edit it (properties, locks, semantics) have merged; `PROPPATCH` is in
//! `proppatch.rs` already.

mod proppatch;

mod client;
mod lock;

use std::sync::Arc;

use super::copymove::Transfer;
use super::dialect::{Answer, Answering, Client, Decision, Dialect, Message};
use super::message::{Head, Refused, Resume};
use super::options::Target;
use super::origin::{self, Provenance, Site};
use super::request::{bad_name, folder_prefix, overwrite, path_of, url_path};
use super::response::{self, Framing, Head as ResponseHead, MediaType};
use super::xml::{self, DAV, MEDIA_TYPE as XML, MULTISTATUS, Property, Propfind};
use crate::access::Secret;
use crate::name::Name;
use crate::serve::terms::{Details, Format, Wants};
use crate::serve::{BodyLength, ErrorKind, Operation, Piece, Reply, Request, Scope, Version};
use crate::storage::{DavLock, FileInfo, Stamp};

/// The dialect: WebDAV's own methods on the HTTP listener.
#[derive(Debug)]
pub struct Webdav;

/// The methods WebDAV adds (the files dialect's are served beside them).
const METHODS: &str = "OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";
/// The live properties ferry answers, in the order `allprop` lists them.
const LIVE: [&str; 9] = [
    "resourcetype",
    "displayname",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "creationdate",
    "supportedlock",
    "lockdiscovery",
];

/// RFC 4331's live properties: answered when named, never in `allprop`.
const QUOTA: [&str; 2] = ["quota-available-bytes", "quota-used-bytes"];

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
    },
    /// LOCK.
    Lock,
    /// UNLOCK.
    Unlock,
}

/// How a WebDAV request is answered: a byte, as every connection holds
/// one exchange (what a multistatus needs travels with its listing).
#[derive(Debug)]
pub struct WebdavAnswer {
    asked: Asked,
}

impl WebdavAnswer {
    fn answering(asked: Asked) -> Answering {
        Answering::Webdav(WebdavAnswer { asked })
    }
}

impl Dialect for Webdav {
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

    fn body_in_hand(&self, head: &Head<'_>) -> bool {
        matches!(head.method, "PROPFIND" | "PROPPATCH" | "LOCK")
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
    ) -> Result<Decision, Refused> {
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
        if let Err(refused) = origin::check_writes(writes, &fields.provenance, site) {
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
                asked
                    .operation(path, resume)
                    .map(|(operation, keep)| (operation, Asked::Transfer { keep }))
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
    let format = Multistatus {
        asked,
        depth,
        locks: None,
        next: Details::default(),
    };
    let operation = Operation::List {
        prefix,
        scope,
        format: Box::new(format),
        body: true,
    };
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
    Ok(Operation::MakeFolder { name })
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
            }
        }
        fields
    }
}

impl Answer for WebdavAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match (self.asked, reply) {
            (Asked::Listing, Reply::Listing { len }) => {
                ResponseHead::new(out, 207)
                    .header("Content-Type", XML)
                    .finish(*len, persistence);
            }
            (Asked::Transfer { .. }, Reply::Remains(remains, more)) => {
                super::files::remains_answer((remains, *more), message, out);
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
            (Asked::Transfer { keep: true }, ErrorKind::Exists) => 412,
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

/// The last segment of a name or folder name (without its `/`).
fn leaf(name: &str) -> &str {
    let name = name.strip_suffix('/').unwrap_or(name);
    name.rsplit('/').next().unwrap_or(name)
}

/// What a response tells of one file or folder.
struct Item {
    /// Its URL path, percent-encoded (a folder's ends in `/`).
    href: String,
    display: String,
    /// A file's size and type, and its version's tag.
    file: Option<(u64, &'static str, String)>,
    mtime: Option<i64>,
    /// Its `lockdiscovery` (the live locks covering it), as XML.
    locks: String,
    /// What the walk read for it: dead properties, the space.
    details: Details,
}

impl Item {
    fn folder(href: String, display: &str, mtime: Option<i64>, details: Details) -> Item {
        Item {
            href,
            display: display.to_owned(),
            file: None,
            mtime: mtime.or(details.mtime),
            locks: String::new(),
            details,
        }
    }

    fn file(name: &str, info: FileInfo, stamp: Stamp, details: Details) -> Item {
        let version = Version {
            info,
            stamp,
            crc: None,
            md5: None,
        };
        Item {
            href: format!("/{}", url_path(name)),
            display: leaf(name).to_owned(),
            file: Some((
                info.size,
                MediaType::of(name).as_str(),
                response::etag(&version),
            )),
            mtime: Some(info.mtime),
            locks: String::new(),
            details,
        }
    }

    /// The value of live property `local` (XML), if it has one here.
    fn live(&self, local: &str) -> Option<String> {
        let rfc3339 = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        };
        let space = self.details.space;
        Some(match (local, &self.file) {
            ("resourcetype", None) => "<D:collection/>".to_owned(),
            ("resourcetype", Some(_)) => String::new(),
            ("displayname", _) if !self.display.is_empty() => xml::escape(&self.display).into(),
            ("getcontentlength", Some((size, ..))) => size.to_string(),
            ("getcontenttype", Some((_, media, _))) => (*media).to_owned(),
            ("getetag", Some((.., etag))) => xml::escape(etag).into(),
            ("getlastmodified", _) => response::http_date(self.mtime?),
            ("creationdate", _) => rfc3339(self.mtime?)?,
            ("supportedlock", _) => lock::SUPPORTED.to_owned(),
            ("lockdiscovery", _) => self.locks.clone(),
            ("quota-available-bytes", _) => space?.available.to_string(),
            ("quota-used-bytes", _) => space?.used.to_string(),
            _ => return None,
        })
    }

    /// Its dead property `property`, as kept (the element itself).
    fn dead(&self, property: &Property) -> Option<&str> {
        let props = self.details.props.iter();
        props
            .filter(|p| p.ns == property.ns && p.local == property.local)
            .map(|p| p.value.as_str())
            .next()
    }
}

/// Appends one `<D:response>` for `item`: what it has of what was asked in
/// a `200` propstat, what it lacks in a `404` one. `allprop` and
/// `propname` give the live properties (not the quota: RFC 4331 3) and
/// the dead ones.
fn response_of(asked: &Propfind, item: &Item, out: &mut String) {
    out.push_str("<D:response><D:href>");
    out.push_str(&xml::escape(&item.href));
    out.push_str("</D:href>");
    let dav = |local: &str| Property {
        ns: DAV.to_owned(),
        local: local.to_owned(),
    };
    let (mut found, mut missing) = (String::new(), String::new());
    match asked {
        Propfind::AllProp | Propfind::PropName => {
            let values = matches!(asked, Propfind::AllProp);
            for local in LIVE {
                if let Some(value) = item.live(local) {
                    let value = values.then_some(value.as_str());
                    xml::element(&dav(local), value.filter(|v| !v.is_empty()), &mut found);
                }
            }
            for dead in &item.details.props {
                match values {
                    true => found.push_str(&dead.value),
                    false => {
                        let name = Property {
                            ns: dead.ns.clone(),
                            local: dead.local.clone(),
                        };
                        xml::element(&name, None, &mut found);
                    }
                }
            }
        }
        Propfind::Prop(list) => {
            for property in list {
                let live = (property.ns == DAV)
                    .then(|| item.live(&property.local))
                    .flatten();
                match (live, item.dead(property)) {
                    (Some(value), _) => xml::element(
                        property,
                        Some(&value).filter(|v| !v.is_empty()).map(|v| v.as_str()),
                        &mut found,
                    ),
                    (None, Some(dead)) => found.push_str(dead),
                    (None, None) => xml::element(property, None, &mut missing),
                }
            }
        }
    }
    for (props, status) in [(found, "200 OK"), (missing, "404 Not Found")] {
        if !props.is_empty() {
            out.push_str(&format!(
                "<D:propstat><D:prop>{props}</D:prop><D:status>HTTP/1.1 {status}</D:status></D:propstat>"
            ));
        }
    }
    out.push_str("</D:response>\n");
}

/// A folder's PROPFIND as a listing format: the multistatus written piece
/// by piece into the spool on the pool (docs/webdav.md (c)). Depth 0
/// writes the folder alone.
#[derive(Debug)]
struct Multistatus {
    asked: Propfind,
    depth: u8,
    /// The live locks and the time, when `lockdiscovery` is asked for.
    locks: Option<(Arc<[DavLock]>, i64)>,
    /// What the walk read for the next piece.
    next: Details,
}

impl Multistatus {
    /// Appends `item`'s response, with the locks covering `name`.
    fn respond(&self, mut item: Item, name: &str, text: &mut String) {
        if let Some((locks, now)) = &self.locks {
            item.locks = lock::discovery(locks, *now, name.trim_end_matches('/'));
        }
        response_of(&self.asked, &item, text);
    }
}

impl Format for Multistatus {
    fn wants_locks(&self) -> bool {
        match &self.asked {
            Propfind::AllProp => true,
            Propfind::PropName => false,
            Propfind::Prop(list) => list.iter().any(|p| p.is_dav("lockdiscovery")),
        }
    }

    fn locks(&mut self, locks: Arc<[DavLock]>, now: i64) {
        self.locks = Some((locks, now));
    }

    /// Dead properties where some may be asked for (not for a `prop` of
    /// live ones alone), members' only at depth 1; the space for a quota
    /// property named.
    fn wants(&self) -> Wants {
        let (dead, space) = match &self.asked {
            Propfind::Prop(list) => (
                list.iter()
                    .any(|p| p.ns != DAV || !(LIVE.contains(&p.local.as_str()))),
                list.iter()
                    .any(|p| p.ns == DAV && QUOTA.contains(&p.local.as_str())),
            ),
            Propfind::AllProp | Propfind::PropName => (true, false),
        };
        Wants {
            own: true,
            members: dead && self.depth > 0,
            space,
            md5: false,
        }
    }

    fn details(&mut self, details: Details) {
        self.next = details;
    }

    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = String::new();
        let details = std::mem::take(&mut self.next);
        match piece {
            Piece::Start => {
                text.push_str(MULTISTATUS);
                let href = format!("/{}", url_path(prefix));
                let item = Item::folder(href, leaf(prefix), None, details);
                self.respond(item, prefix, &mut text);
            }
            Piece::Directory { name, mtime, .. } if self.depth > 0 => {
                let href = format!("/{}", url_path(name));
                let item = Item::folder(href, leaf(name), Some(mtime), details);
                self.respond(item, name, &mut text);
            }
            Piece::File { entry, .. } if self.depth > 0 => {
                let item = Item::file(&entry.name, entry.info, entry.stamp, details);
                self.respond(item, &entry.name, &mut text);
            }
            Piece::End => text.push_str("</D:multistatus>\n"),
            Piece::Only(entry) => {
                text.push_str(MULTISTATUS);
                let item = Item::file(&entry.name, entry.info, entry.stamp, details);
                self.respond(item, &entry.name, &mut text);
                text.push_str("</D:multistatus>\n");
            }
            Piece::Directory { .. } | Piece::File { .. } | Piece::Files => {}
        }
        out.extend_from_slice(text.as_bytes());
    }
}
