//! tus 1.0.0 (<https://tus.io/protocols/resumable-upload>): resumable
//! uploads over HTTP, as a dialect over ferry's upload sessions. A tus
//! upload is a session like a FERRY/1 `UPLOAD`'s: the same staging,
//! expiry, caps, crash safety and locking across nodes, committed
//! atomically and verified when its last byte arrives, with the hooks of
//! any upload. Every folder URL is a creation endpoint; an upload's URL is
//! under the sessions' own reserved folder, which no file can be named.
//!
//! ```text
//! OPTIONS <any URL>                     -> 204 Tus-Version, Tus-Extension[, Tus-Max-Size]
//!                                          X
//! POST /<folder>/  Upload-Length: <n> | Upload-Defer-Length: 1,
//!                  Upload-Metadata: filename <base64>[,<key> <base64>]...
//!                  [Content-Type: application/offset+octet-stream, the first bytes]
//!                                       -> 201 Location: /.ferry-uploads/<id>[, Upload-Offset]
//! HEAD /.ferry-uploads/<id>             -> 200 Upload-Offset, Upload-Length | Upload-Defer-Length: 1
//!                                          [, Upload-Metadata], Upload-Expires
//! PATCH /.ferry-uploads/<id>  Upload-Offset: <at>, Content-Type: application/offset+octet-stream
//!                             [Upload-Length: <n>, once, where it was deferred]
//!                             [Upload-Checksum: crc32c|sha1|md5 <base64>: else 460, the bytes taken back]
//!                                       -> 204 Upload-Offset (the PATCH that completes it stores the file;
//!                                          an empty upload is stored as it is created)
//! DELETE /.ferry-uploads/<id>           -> 204
//! once stored, for the short TTL:   HEAD -> 200 Upload-Offset = Upload-Length; PATCH -> 409;
//!                                   DELETE -> 204, the mark gone (the file stays)
//! every request but OPTIONS carries Tus-Resumable: 1.0.0 (else 412); every answer does
//! ```
//!
//! Extensions: creation, creation-with-upload, termination, checksum and
//! expiration (`Upload-Expires` on every answer about an unfinished
//! upload: its last use plus the session TTL; an expired one is `410`,
//! removed with its bytes), creation-defer-length (`Upload-Defer-Length:
//! 1` instead of `Upload-Length`; a `PATCH` declares it, once, with
//! `Upload-Length`, checked against `--max-file-size` then). Not served:
//! concatenation (see docs/http.md for why). A `filename` is one segment (no `/`), checked as
//! every name is; the file is `<folder>/<filename>`. Metadata is kept with
//! the session (`upload_metadata.rs`): an `mtime` key (decimal seconds)
//! becomes the file's modification time, and every key reaches the hooks
//! as `FERRY_META_<KEY>`.

use crate::serve::ops;

mod request;

use request::Fields;

use super::dialect::{Answer, Asked as Target, Decision, Dialect, Message};
use super::fields::{self, path_of};
use super::message::{Head, Refused, Resume};
use super::origin::{self, Site};
use super::response::{self, Framing, Head as ResponseHead};
use crate::formats::hex::CrcHex;
use crate::formats::upload_metadata;
use crate::model::SessionInfo;
use crate::name::Name;
use crate::protocol::is_upload_id;
use crate::serve::ops::FirstBytes;
use crate::serve::piece;
use crate::serve::{BodyLength, ErrorKind, Operation, Reply, Request};

/// The protocol version served, the only one.
pub const VERSION: &str = "1.0.0";
/// The extensions served.
pub const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";
/// The media type of a `PATCH` body.
const PATCH_TYPE: &str = "application/offset+octet-stream";

/// The dialect: tus requests on the HTTP listener.
#[derive(Debug)]
pub struct Tus;

/// What a tus request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Create,
    Progress,
    Append,
    Terminate,
    /// A method tus does not serve there: refused, never served.
    Unserved,
}

/// How a tus request is answered: what it asked, and whether its
/// uploads' addresses are told relative to where it was asked (through a
/// share link: `.ferry-uploads/<id>` below the link's own address).
#[derive(Debug, Clone, Copy)]
pub struct TusAnswer {
    asked: Asked,
    relative: bool,
}

/// Where upload URLs live: a reserved name, which no file's URL can be.
const UPLOADS: &str = ".ferry-uploads";

/// The path of upload `id`'s URL (its `Location`).
pub fn upload_path(id: &str) -> String {
    format!("/{UPLOADS}/{id}")
}

impl TusAnswer {
    /// Where upload `id` is, as its `Location` says.
    fn location(&self, id: &str) -> String {
        match self.relative {
            true => format!("{UPLOADS}/{id}"),
            false => upload_path(id),
        }
    }
}

/// The upload id a target names, if it is under the uploads' folder (the
/// id itself is checked by [`decode_at`]: one not of the server's shape
/// is 404).
fn upload_id(path: &str) -> Option<&str> {
    path.strip_prefix('/')?
        .strip_prefix(UPLOADS)?
        .strip_prefix('/')
}

impl Dialect for Tus {
    type Answer = TusAnswer;

    fn methods(&self, target: Target) -> &'static str {
        match target {
            Target::Folder => "POST, OPTIONS",
            Target::Other => "OPTIONS",
        }
    }

    fn offers<'a>(&self, max_file_size: Option<u64>, head: ResponseHead<'a>) -> ResponseHead<'a> {
        let head = head
            .header("Tus-Resumable", VERSION)
            .header("Tus-Version", VERSION)
            .header("Tus-Extension", EXTENSIONS)
            .header("Tus-Checksum-Algorithm", piece::ALGORITHMS);
        match max_file_size {
            Some(max) => head.header("Tus-Max-Size", max),
            None => head,
        }
    }

    /// An upload's URL, and a `POST` that is a tus creation: one with
    /// `Tus-Resumable`, or with a length field only tus has (so that a
    /// creation that forgot `Tus-Resumable` is answered `412` as tus says,
    /// not `405` by the files dialect; a `POST` with none of them may mean
    /// something else and is left to the others).
    fn claims(&self, head: &Head<'_>) -> bool {
        const CREATION_FIELDS: [&str; 3] =
            ["tus-resumable", "upload-length", "upload-defer-length"];
        let creation = || {
            head.fields()
                .any(|(n, _)| CREATION_FIELDS.iter().any(|f| n.eq_ignore_ascii_case(f)))
        };
        upload_id(path_of(head.target)).is_some() || (head.method == "POST" && creation())
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<TusAnswer>, Refused> {
        Ok(decode_at(head, resume, site, (path_of(head.target), false)))
    }
}

/// A tus request through a share link, at `below` (what follows the
/// link's `/s/<id>`: `/` to create an upload, `/.ferry-uploads/<id>` for
/// one): its operation as if asked at the root (a creation's name is its
/// filename alone, which `serve/ops/via_link.rs` puts in the link's
/// folder), answered with addresses relative to the link's.
pub fn through_link(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
    below: &str,
) -> Result<(Operation, TusAnswer), (u16, String, TusAnswer)> {
    match decode_at(head, resume, site, (below, true)) {
        Decision::Serve(request, answer) => Ok((request.operation, answer)),
        Decision::Refuse(code, message, answer) => Err((code, message, answer)),
    }
}

/// Whether a request through a share link at `below` (as
/// [`through_link`]) is tus's: a creation at the link's own address, or
/// anything at an upload's.
pub fn is_through_link(method: &str, below: &str) -> bool {
    (method == "POST" && below == "/") || upload_id(below).is_some()
}

/// A tus request at `path`, its uploads' addresses `relative` or not.
fn decode_at(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
    (path, relative): (&str, bool),
) -> Decision<TusAnswer> {
    let asked = match (head.method, upload_id(path)) {
        ("POST", None) => Asked::Create,
        ("HEAD", Some(_)) => Asked::Progress,
        ("PATCH", Some(_)) => Asked::Append,
        ("DELETE", Some(_)) => Asked::Terminate,
        _ => Asked::Unserved,
    };
    let answer = TusAnswer { asked, relative };
    if asked == Asked::Unserved {
        let message = "method not allowed on a tus upload".to_owned();
        return Decision::Refuse(405, message, answer);
    }
    let fields = match Fields::read(head) {
        Ok(fields) => fields,
        Err((code, message)) => return Decision::Refuse(code, message, answer),
    };
    if fields.resumable.as_deref() != Some(VERSION) {
        let message = format!("Tus-Resumable: {VERSION} is required");
        return Decision::Refuse(412, message, answer);
    }
    let writes = matches!(asked, Asked::Create | Asked::Append | Asked::Terminate);
    if let Err((code, message)) = origin::check(writes, &fields.provenance, site) {
        return Decision::Refuse(code, message, answer);
    }
    let id = upload_id(path).unwrap_or_default().to_owned();
    if asked != Asked::Create && !is_upload_id(id.as_bytes()) {
        // Not an id the server hands out: no upload has it.
        return Decision::Refuse(404, "no such upload".to_owned(), answer);
    }
    let token = fields.token.clone();
    match operation(asked, id, path, fields, resume) {
        Ok(operation) => Decision::Serve(Request::new(operation, token), answer),
        Err((code, message)) => Decision::Refuse(code, message, answer),
    }
}

/// The operation a tus request asks for.
///
/// # Errors
/// What the request lacks or gets wrong, with its status.
fn operation(
    asked: Asked,
    id: String,
    path: &str,
    fields: Fields,
    resume: &Resume,
) -> Result<Operation, Refused> {
    let body = resume.body;
    let carries_body = body != BodyLength::Fixed(0);
    if carries_body && !matches!(asked, Asked::Append | Asked::Create) {
        return Err((400, "only PATCH and POST carry upload bytes".into()));
    }
    Ok(match asked {
        Asked::Unserved => unreachable!("refused in decode"),
        Asked::Create => {
            let first = match carries_body {
                true => Some(FirstBytes {
                    len: upload_bytes(body, &fields)?,
                    checksum: fields.checksum.clone(),
                }),
                false => None,
            };
            create(path, fields, first.map(Box::new))?
        }
        Asked::Progress => Operation::Progress(ops::Progress { id }),
        Asked::Terminate => Operation::Abort(ops::Abort { id, opener: None }),
        Asked::Append => {
            let len = upload_bytes(body, &fields)?;
            let offset = fields
                .offset
                .ok_or((400, "Upload-Offset is required".to_owned()))?;
            Operation::Append(ops::Append {
                id,
                offset,
                len,
                commit: true,
                checksum: fields.checksum,
                size: fields.length,
                anywhere: false,
                opener: None,
                create_only: false,
            })
        }
    })
}

/// How many upload bytes a request's body holds (a `PATCH`'s, or a
/// `POST`'s with creation-with-upload): it must say it is upload bytes
/// (415), and how many (411).
fn upload_bytes(body: BodyLength, fields: &Fields) -> Result<u64, Refused> {
    if !fields
        .content_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(PATCH_TYPE))
    {
        return Err((415, format!("upload bytes are sent as {PATCH_TYPE}")));
    }
    match body {
        BodyLength::Fixed(len) => Ok(len),
        BodyLength::Chunked | BodyLength::UntilEof => {
            Err((411, "upload bytes need a Content-Length".into()))
        }
    }
}

/// `POST /<folder>/`: the upload of `<folder>/<filename>`, its `first`
/// bytes in the request's body (creation-with-upload) with the checksum
/// they must match.
fn create(
    path: &str,
    fields: Fields,
    first: Option<Box<FirstBytes>>,
) -> Result<Operation, Refused> {
    let size = match (fields.length, fields.defer_length) {
        (Some(size), false) => Some(size),
        // Declared by a later PATCH.
        (None, true) => None,
        (Some(_), true) => {
            return Err((400, "Upload-Length or Upload-Defer-Length, not both".into()));
        }
        (None, false) => {
            return Err((
                400,
                "Upload-Length or Upload-Defer-Length: 1 is required".into(),
            ));
        }
    };
    if let (Some(first), Some(size)) = (&first, size)
        && first.len > size
    {
        return Err((400, "more bytes than Upload-Length".into()));
    }
    let meta = fields.metadata.unwrap_or_default();
    upload_metadata::check(&meta).map_err(|message| (400, message))?;
    let filename = upload_metadata::text(&meta, "filename")
        .ok()
        .flatten()
        .ok_or((400, "Upload-Metadata must give a filename".to_owned()))?;
    if filename.contains('/') {
        return Err((400, "a filename is one name, without /".into()));
    }
    // The trailing `/` may be left out: `/photos` creates in `photos/`.
    let folder = path.strip_prefix('/').unwrap_or(path);
    let folder = fields::folder_prefix(folder.strip_suffix('/').unwrap_or(folder))?;
    let name = Name::new(format!("{}{filename}", folder.as_str())).map_err(fields::bad_name)?;
    Ok(Operation::Upload(ops::Upload {
        name,
        size,
        crc: None,
        meta: Some(meta).filter(|m| !m.is_empty()),
        first,
        link: None,
    }))
}

impl Answer for TusAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match (self.asked, reply) {
            (Asked::Create, Reply::Session(session)) => {
                let head = ResponseHead::new(out, 201)
                    .header("Tus-Resumable", VERSION)
                    .header("Location", self.location(&session.id));
                expiring(head, session.expires).finish(0, persistence);
            }
            // Created with its first bytes (creation-with-upload).
            (
                Asked::Create,
                Reply::Appended {
                    session,
                    received,
                    expires,
                    ..
                },
            ) => {
                let head = ResponseHead::new(out, 201)
                    .header("Tus-Resumable", VERSION)
                    .header("Location", self.location(session))
                    .header("Upload-Offset", received);
                expiring(head, Some(*expires)).finish(0, persistence);
            }
            // Stored as it was created: empty, or all its bytes with it.
            (
                Asked::Create,
                Reply::Stored {
                    session: Some(id),
                    size,
                    crc,
                    ..
                },
            ) => ResponseHead::new(out, 201)
                .header("Tus-Resumable", VERSION)
                .header("Location", self.location(id))
                .header("Upload-Offset", size)
                .header("X-Checksum-Crc32c", CrcHex::of(*crc))
                .finish(0, persistence),
            (Asked::Progress, Reply::Session(session)) => {
                progress(session, out).finish(0, persistence)
            }
            (
                Asked::Append,
                Reply::Appended {
                    received, expires, ..
                },
            ) => {
                let head = ResponseHead::new(out, 204)
                    .header("Tus-Resumable", VERSION)
                    .header("Upload-Offset", received);
                expiring(head, Some(*expires)).finish(0, persistence);
            }
            // The last PATCH: the file is stored.
            (Asked::Append, Reply::Stored { size, crc, .. }) => ResponseHead::new(out, 204)
                .header("Tus-Resumable", VERSION)
                .header("Upload-Offset", size)
                .header("X-Checksum-Crc32c", CrcHex::of(*crc))
                .finish(0, persistence),
            (Asked::Terminate, Reply::Done) => ResponseHead::new(out, 204)
                .header("Tus-Resumable", VERSION)
                .finish(0, persistence),
            (_, other) => {
                debug_assert!(false, "no tus request leads to {other:?}");
                let framing = Framing {
                    persistence,
                    head_only: message.head,
                    allow: "",
                };
                self.error(500, "unexpected answer", framing, out);
            }
        }
    }

    fn allow(&self) -> &'static str {
        "HEAD, PATCH, DELETE, OPTIONS"
    }

    /// tus's own statuses: for a piece that does not match its checksum,
    /// and for an upload that expired (expiration: 410, where an unknown
    /// one is 404).
    fn status(&self, kind: ErrorKind) -> u16 {
        match kind {
            ErrorKind::ChecksumMismatch => 460,
            ErrorKind::Expired => 410,
            kind => kind.code(),
        }
    }

    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        let mut fields = vec![("Tus-Resumable", VERSION)];
        if status == 412 {
            fields.push(("Tus-Version", VERSION));
        }
        response::error_with(out, status, message, framing, &fields);
    }
}

/// `HEAD`'s answer: how far the upload has come (never cached).
fn progress<'a>(session: &SessionInfo, out: &'a mut Vec<u8>) -> ResponseHead<'a> {
    let mut head = ResponseHead::new(out, 200)
        .header("Tus-Resumable", VERSION)
        .header("Upload-Offset", session.received)
        .header("Cache-Control", "no-store");
    head = match session.known_size() {
        None => head.header("Upload-Defer-Length", 1),
        Some(size) => head.header("Upload-Length", size),
    };
    if let Some(meta) = &session.meta {
        head = head.header("Upload-Metadata", meta);
    }
    expiring(head, session.expires)
}

/// `head` with `Upload-Expires`, if the upload expires at a known time
/// (expiration: every answer about an unfinished upload says when).
fn expiring(head: ResponseHead<'_>, expires: Option<i64>) -> ResponseHead<'_> {
    match expires {
        Some(at) => head.header("Upload-Expires", response::http_date(at)),
        None => head,
    }
}
