//! ferry's own HTTP dialect: files (GET, HEAD, PUT, DELETE, MOVE), folder
//! listings (HTML, the web interface, or JSON), a folder's search
//! (`?q=`, `search.rs`) and folders as `.tar`. Its
//! request heads are read by `request.rs`; here they become operations,
//! and replies become its responses. Sans-IO.
//!
//! Conditional and range requests (`If-None-Match`, `If-Modified-Since`,
//! `Range`, `If-Range`) travel with the GET as a [`Choose`] rule
//! (`Conditions`), which the serve layer applies once the file's version
//! is known.

pub mod request;
mod search;

use crate::formats::hex::CrcHex;
use crate::http::dialect::{Answer, Asked, Decision, Dialect, Message};
use crate::http::fields::{Target, url_path};
use crate::http::listing;
use crate::http::message::{Head, Refused, Resume};
use crate::http::origin::{self, Presentation, Site};
use crate::http::range::selection;
use crate::http::response::{self, Head as ResponseHead, MediaType};
use crate::serve::ops;
use crate::serve::terms::Choose;
use crate::serve::{
    ArchiveFormat, Body, ErrorKind, Failure, Folders, Operation, Overwrite, Reply, Request, Scope,
    Search, Selection, Version, Want,
};
use request::{HttpRequest, Method, interpret};

/// The dialect: it takes every request no other dialect claims.
#[derive(Debug)]
pub struct Files;

impl Dialect for Files {
    type Answer = FilesAnswer;

    fn claims(&self, _head: &Head<'_>) -> bool {
        true
    }

    fn methods(&self, target: Asked) -> &'static str {
        match target {
            Asked::Folder => response::ALLOW_LISTING,
            Asked::Other => response::ALLOW_FILE,
        }
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<FilesAnswer>, Refused> {
        let request = interpret(head, resume)?;
        let answer = FilesAnswer::new(&request, site);
        if let Err((code, message)) =
            origin::check(request.method.changes_state(), &request.provenance, site)
        {
            return Ok(Decision::Refuse(code, message, answer));
        }
        let token = request.token.clone();
        // WebDAV clients' PUT, DELETE and MOVE come here, with their
        // lock tokens and conditions (`if_header.rs`).
        let conditions = match crate::http::if_header::conditions(head) {
            Ok(conditions) => conditions,
            Err((code, message)) => return Ok(Decision::Refuse(code, message, answer)),
        };
        match operation(request, resume) {
            Ok(operation) => {
                let request = Request {
                    conditions,
                    ..Request::new(operation, token)
                };
                Ok(Decision::Serve(request, answer))
            }
            Err((code, message)) => Ok(Decision::Refuse(code, message, answer)),
        }
    }
}

/// What folders are over HTTP (docs/http.md): made for an upload that
/// needs them (the page, `curl -T`, the CLI), kept when a DELETE or MOVE
/// empties them, as a file manager keeps them. A DAV client's uploads
/// need their parent (`webdav/`).
const FOLDERS: Folders = Folders::Made;

/// The operation a request asks for.
///
/// # Errors
/// 405: a write to a listing's name.
fn operation(request: HttpRequest, resume: &Resume) -> Result<Operation, Refused> {
    let body = Body {
        length: resume.body,
        awaits_go_ahead: resume.expect_continue,
    };
    let head = request.method == Method::Head;
    let want = want_of(&request);
    Ok(match (request.method, request.target) {
        (Method::Get | Method::Head, Target::File(name)) => Operation::Get(ops::Get { name, want }),
        (Method::Get | Method::Head, Target::Listing(prefix))
            if request.wants_archive.is_some() =>
        {
            Operation::ArchiveFolder(ops::ArchiveFolder {
                prefix,
                format: request.wants_archive.unwrap_or(ArchiveFormat::Tar),
                body: !head,
            })
        }
        (Method::Get | Method::Head, Target::Listing(prefix)) if request.search.is_some() => {
            let term = request.search.unwrap_or_default();
            Operation::List(ops::List {
                prefix,
                scope: Scope::Search(Box::new(Search::new(&term))),
                format: search::format(&term),
                body: !head,
            })
        }
        (Method::Get | Method::Head, Target::Listing(prefix)) => Operation::List(ops::List {
            prefix,
            scope: Scope::Directory,
            format: listing::format(request.wants_json, request.plain),
            body: !head,
        }),
        (Method::Put, Target::File(name)) => Operation::Put(ops::Put {
            name,
            body,
            crc: request.checksum,
            mtime: request.mtime,
            trailer: None,
            digests: None,
            folders: FOLDERS,
            props: None,
            preconditions: None,
        }),
        (Method::Delete, Target::File(name)) => Operation::Delete(ops::Delete {
            name,
            folders: FOLDERS,
            folder_whole: true,
            preconditions: None,
        }),
        (Method::Delete, Target::Listing(prefix)) => Operation::DeleteFolder(ops::DeleteFolder {
            prefix,
            folders: FOLDERS,
            preconditions: None,
        }),
        (Method::Move, Target::File(from)) => match request.destination {
            Some(to) => Operation::MoveFile(ops::MoveFile {
                from,
                to,
                overwrite: match request.overwrite {
                    true => Overwrite::Files,
                    false => Overwrite::Nothing,
                },
                folders: FOLDERS,
                preconditions: None,
            }),
            None => unreachable!("the parser refuses a MOVE without a Destination"),
        },
        (Method::Put | Method::Move, Target::Listing(_)) => {
            return Err((405, "a name ending in / is a directory listing".into()));
        }
    })
}

/// Which bytes of a file a GET or HEAD wants: its range and conditions,
/// applied once the file's version is known.
pub(crate) fn want_of(request: &HttpRequest) -> Want {
    let head = request.method == Method::Head;
    let conditions = Conditions {
        head,
        range: request.range.clone(),
        if_range: request.if_range.clone(),
        if_none_match: request.if_none_match.clone(),
        if_modified_since: request.if_modified_since.clone(),
    };
    match conditions.is_plain() {
        true => Want::Whole { body: !head },
        false => Want::Chosen(Box::new(conditions)),
    }
}

/// What the dialect's answers depend on, from the request.
#[derive(Debug, Clone, Copy)]
pub struct FilesAnswer {
    /// The target was a listing: only GET and HEAD are allowed.
    listing: bool,
    /// Who reads the answer: a listing as JSON, or a refusal as a page.
    reader: Reader,
    /// A folder is wanted as an archive (kept across the redirect from
    /// `/dir` to `/dir/`).
    wants_archive: Option<ArchiveFormat>,
    /// A listing asked for as rows without script (`?plain`).
    plain: bool,
    /// A MOVE that must not replace a file (`Overwrite: F`): a name taken
    /// is `412` (RFC 4918 9.9.4).
    keeps_destination: bool,
    /// The `Content-Type` of the file asked for, from its name.
    media_type: MediaType,
    /// How that file is shown to a browser.
    presentation: Presentation,
}

/// Who reads an answer, as far as its form goes (one byte: every
/// connection holds an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// A program that asked for JSON (`Accept: application/json`,
    /// `?format=json`): a listing as JSON.
    Program,
    /// A browser's GET (`Accept: text/html`): a refusal as a page.
    Person,
    /// Anyone else (curl, API clients): HTML listings, one-line errors.
    Plain,
}

impl Reader {
    fn of(request: &HttpRequest) -> Reader {
        let navigates = matches!(request.method, Method::Get | Method::Head);
        // A search's results are JSON whatever was asked.
        let json = request.wants_json || request.search.is_some();
        match (json, request.wants_page && navigates) {
            (true, _) => Reader::Program,
            (false, true) => Reader::Person,
            (false, false) => Reader::Plain,
        }
    }
}

impl FilesAnswer {
    pub(crate) fn new(request: &HttpRequest, site: Site<'_>) -> FilesAnswer {
        let media_type = match &request.target {
            Target::File(name) => MediaType::of(name.as_str()),
            Target::Listing(_) => MediaType::default(),
        };
        FilesAnswer {
            listing: matches!(request.target, Target::Listing(_)),
            reader: Reader::of(request),
            wants_archive: request.wants_archive,
            plain: request.plain,
            keeps_destination: request.method == Method::Move && !request.overwrite,
            media_type,
            presentation: Presentation::of(media_type, site.web),
        }
    }

    /// What a redirect from `/dir` to `/dir/` keeps of the query, so that
    /// `/dir?tar` still ends in an archive, `/dir?format=json` in JSON and
    /// `/dir?plain` in the listing without script.
    fn redirect_query(&self) -> &'static str {
        if let Some(format) = self.wants_archive {
            match format {
                ArchiveFormat::Tar => "?tar",
                ArchiveFormat::Zip => "?zip",
            }
        } else if self.reader == Reader::Program {
            "?format=json"
        } else if self.plain {
            "?plain"
        } else {
            ""
        }
    }

    /// A file's response head; `download`: saved, never shown (a share
    /// link's: under the name its address ends in, as browsers and
    /// `curl -O` take it), else presented as its type says.
    pub(crate) fn file(
        &self,
        (version, start, len, part): (&Version, u64, u64, bool),
        download: bool,
        out: &mut Vec<u8>,
        message: Message,
    ) {
        let info = &version.info;
        let head = ResponseHead::new(out, if part { 206 } else { 200 })
            .header("Content-Type", self.media_type.as_str());
        let head = match download {
            // A link's download: kept by no shared cache, which would
            // serve it on after the link stops.
            true => Presentation::Attachment
                .headers(head)
                .header("Cache-Control", "private"),
            false => self.presentation.headers(head),
        };
        let mut head = head
            .header("Last-Modified", response::http_date(info.mtime))
            .header("ETag", response::etag(version))
            .header("Accept-Ranges", "bytes");
        // Only when known: a range or a HEAD of a file placed by other
        // means does not wait for a read of all of it.
        if let Some(crc) = version.crc {
            head = head.header("X-Checksum-Crc32c", CrcHex::of(crc));
        }
        if part {
            head = head.header(
                "Content-Range",
                format!("bytes {start}-{}/{}", start + len - 1, info.size),
            );
        }
        head.finish(len, message.persistence);
    }
}

impl Answer for FilesAnswer {
    /// A browser's refused GET gets a page for people (the interface's
    /// style, the reason, a way back); everyone else the one-line text.
    fn failed(&self, failure: &Failure, framing: response::Framing, out: &mut Vec<u8>) {
        let status = self.status(failure.kind);
        if !(self.reader == Reader::Person && matches!(status, 401 | 403 | 404)) {
            return self.error(status, &failure.message, framing, out);
        }
        // Back to the nearest folder the grants let it list, where the
        // serve layer knew it (a refusal); else up one: the folder of a
        // file (`./`), the parent of a folder (`../`).
        let (back, shown) = match (&failure.back, self.listing) {
            (Some(folder), _) => (format!("/{}", url_path(folder)), format!("/{folder}")),
            (None, false) => ("./".to_owned(), "the folder".to_owned()),
            (None, true) => ("../".to_owned(), "the folder above".to_owned()),
        };
        let page = crate::http::page::refusal_page(status, &failure.message, &back, &shown);
        let mut head = ResponseHead::new(out, status)
            .header("Content-Type", listing::media_type(false))
            .header(
                "Content-Security-Policy",
                crate::http::page::interface_policy(),
            )
            .header("X-Frame-Options", "DENY");
        if status == 401 {
            head = head.header("WWW-Authenticate", crate::http::auth::CHALLENGE);
        }
        head.finish(page.len() as u64, framing.persistence);
        if !framing.head_only {
            out.extend_from_slice(page.as_bytes());
        }
    }

    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match reply {
            Reply::Done => ResponseHead::new(out, 204).finish(0, persistence),
            // What a folder's DELETE left: RFC 4918 9.6.1's multistatus for
            // WebDAV clients, JSON for those that ask for it (the page).
            Reply::Remains(remains, more) => {
                crate::http::remains::answer(
                    (remains, *more),
                    self.reader == Reader::Program,
                    message,
                    out,
                );
            }
            // RFC 4918 9.9.4: 201 for a new name, 204 for one replaced.
            Reply::Moved { replaced } => {
                ResponseHead::new(out, if *replaced { 204 } else { 201 }).finish(0, persistence);
            }
            Reply::Stored {
                crc,
                replaced,
                version,
                ..
            } => {
                let head = ResponseHead::new(out, if *replaced { 204 } else { 201 })
                    .header("X-Checksum-Crc32c", CrcHex::of(*crc));
                match version {
                    Some(version) => head.header("ETag", response::etag(version)),
                    None => head,
                }
                .finish(0, persistence);
            }
            Reply::File {
                version,
                start,
                len,
                part,
                ..
            } => self.file((version, *start, *len, *part), false, out, message),
            Reply::NotModified { version } => ResponseHead::new(out, 304)
                .header("ETag", response::etag(version))
                .finish(0, persistence),
            Reply::Unsatisfiable { size } => ResponseHead::new(out, 416)
                .header("Content-Range", format!("bytes */{size}"))
                .finish(0, persistence),
            // What a browser expects of `/dir`: go to its listing.
            Reply::Directory { name } => ResponseHead::new(out, 301)
                .header(
                    "Location",
                    format!("/{}/{}", url_path(name.as_str()), self.redirect_query()),
                )
                .finish(0, persistence),
            Reply::Listing { len } if self.reader == Reader::Program => ResponseHead::new(out, 200)
                .header("Content-Type", listing::media_type(true))
                .header("Vary", "Accept")
                .finish(*len, persistence),
            // The web interface: its own script and style, nothing else.
            Reply::Listing { len } => ResponseHead::new(out, 200)
                .header("Content-Type", listing::media_type(false))
                .header("Vary", "Accept")
                .header(
                    "Content-Security-Policy",
                    crate::http::page::interface_policy(),
                )
                .header("X-Frame-Options", "DENY")
                .header("Referrer-Policy", "same-origin")
                .finish(*len, persistence),
            Reply::Archive { len, name, format } => ResponseHead::new(out, 200)
                .header("Content-Type", format.media_type())
                .header("Content-Disposition", attachment(name))
                .finish(*len, persistence),
            other => {
                debug_assert!(false, "no HTTP request leads to {other:?}");
                response::error(
                    out,
                    500,
                    "unexpected answer",
                    response::Framing {
                        persistence,
                        head_only: message.head,
                        allow: self.allow(),
                    },
                );
            }
        }
    }

    fn status(&self, kind: ErrorKind) -> u16 {
        match kind {
            ErrorKind::Exists if self.keeps_destination => 412,
            kind => kind.code(),
        }
    }

    fn allow(&self) -> &'static str {
        if self.listing {
            response::ALLOW_LISTING
        } else {
            response::ALLOW_FILE
        }
    }
}

/// A GET's conditions and range, applied once the file's version is known.
#[derive(Debug)]
struct Conditions {
    /// HEAD: the description only, never a range.
    head: bool,
    range: Option<String>,
    if_range: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

impl Conditions {
    /// No range and no condition: the whole file, no rule needed.
    fn is_plain(&self) -> bool {
        self.range.is_none() && self.if_none_match.is_none() && self.if_modified_since.is_none()
    }
}

impl Choose for Conditions {
    fn choose(&self, version: &Version) -> Selection {
        let info = &version.info;
        let etag = response::etag(version);
        if response::not_modified(
            self.if_none_match.as_deref(),
            self.if_modified_since.as_deref(),
            &etag,
            info.mtime,
        ) {
            return Selection::NotModified;
        }
        // Ranges are for GET alone (RFC 9110 14.2), and only of the version
        // the client already holds part of.
        let range = self.range.as_deref().filter(|_| {
            !self.head && response::if_range_holds(self.if_range.as_deref(), &etag, info.mtime)
        });
        selection(range, info.size, self.head)
    }
}

/// `Content-Disposition` of a download saved as `name` (RFC 6266): an
/// ASCII `filename` for clients that read only that one (`curl -OJ`,
/// `wget --content-disposition`), then the exact UTF-8 name as
/// `filename*`, which browsers prefer.
fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        url_path(name)
    )
}
