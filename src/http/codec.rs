//! The HTTP/1.1 side of the serve layer: request heads become
//! protocol-neutral [`Operation`]s, [`Reply`]s become responses. Sans-IO.
//!
//! HTTP keeps per-exchange state between the two ([`Exchange`]): whether
//! the connection closes after the answer, HEAD (headers only), HTTP/1.0's
//! keep-alive, `Expect: 100-continue`, the listing format. Conditional and
//! range requests (`If-None-Match`, `If-Modified-Since`, `Range`,
//! `If-Range`) travel with the GET as a [`Choose`] rule (`Conditions`),
//! which the serve layer applies once the file's version is known.

use super::listing;
use super::origin::{self, Presentation, Site};
use super::request::{
    HttpError, HttpRequest, Method, Range, Target, parse_request, resolve_range, url_path,
};
use super::response::{self, Framing, Head, MediaType, Persistence};
use crate::codec::{Decoded, Refusal, after_blank_lines};
use crate::serve::op::Choose;
use crate::serve::{
    Body, ErrorKind, Failure, Operation, Reply, Request, Scope, Selection, Version, Want,
};

/// The HTTP status for a kind of failure.
pub fn status(kind: ErrorKind) -> u16 {
    kind.code()
}

/// Per-request HTTP facts the answer depends on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Exchange {
    /// Close the connection once this answer is out.
    pub close: bool,
    /// The request was HEAD: headers only.
    head: bool,
    /// HTTP/1.0: a connection kept open says so.
    http10: bool,
    /// The target was a listing: only GET and HEAD are allowed.
    listing: bool,
    /// A listing is wanted as JSON rather than HTML.
    wants_json: bool,
    /// A folder is wanted as a tar archive (kept across the redirect from
    /// `/dir` to `/dir/`).
    wants_tar: bool,
    /// The client waits for `100 Continue` before sending its body.
    expect_continue: bool,
    /// The `Content-Type` of the file asked for, from its name.
    media_type: MediaType,
    /// How that file is shown to a browser.
    presentation: Presentation,
}

impl Exchange {
    /// What a redirect from `/dir` to `/dir/` keeps of the query, so that
    /// `/dir?tar` still ends in an archive and `/dir?format=json` in JSON.
    fn redirect_query(&self) -> &'static str {
        if self.wants_tar {
            "?tar"
        } else if self.wants_json {
            "?format=json"
        } else {
            ""
        }
    }

    /// How an error answer to this exchange is framed.
    fn framing(&self) -> Framing {
        Framing {
            persistence: self.persistence(),
            head_only: self.head,
            allow: if self.listing {
                response::ALLOW_LISTING
            } else {
                response::ALLOW_FILE
            },
        }
    }

    /// What the answer's `Connection` header says.
    fn persistence(&self) -> Persistence {
        match (self.close, self.http10) {
            (true, _) => Persistence::Close,
            (false, true) => Persistence::KeepAlive,
            (false, false) => Persistence::Open,
        }
    }

    /// Decodes the next request head of `data`, remembering what its
    /// answer will need; `site`: the web origin's rules it must meet.
    pub fn decode(&mut self, data: &[u8], site: Site<'_>) -> Decoded {
        match parse_request(data) {
            Ok(None) => Decoded::Incomplete,
            Ok(Some((request, used))) => self.start(request, used, site),
            Err(err) => self.refused(err),
        }
    }

    fn start(&mut self, request: HttpRequest, used: usize, site: Site<'_>) -> Decoded {
        let media_type = match &request.target {
            Target::File(name) => MediaType::of(name.as_str()),
            Target::Listing(_) => MediaType::default(),
        };
        *self = Exchange {
            close: request.close,
            head: request.method == Method::Head,
            http10: request.http10,
            listing: matches!(request.target, Target::Listing(_)),
            wants_json: request.wants_json,
            wants_tar: request.wants_tar,
            expect_continue: request.expect_continue,
            media_type,
            presentation: Presentation::of(media_type, site.web),
        };
        let body = Body {
            length: request.body,
            awaits_go_ahead: request.expect_continue,
        };
        if let Err((code, message)) = origin::check(request.method, &request.provenance, site) {
            return Decoded::Refused(Refusal {
                code,
                message,
                skip: Some((used, body)),
            });
        }
        let token = request.token;
        let operation = match (request.method, request.target) {
            (Method::Get | Method::Head, Target::File(name)) => {
                let conditions = Conditions {
                    head: self.head,
                    range: request.range,
                    if_range: request.if_range,
                    if_none_match: request.if_none_match,
                    if_modified_since: request.if_modified_since,
                };
                let want = if conditions.is_plain() {
                    Want::Whole { body: !self.head }
                } else {
                    Want::Chosen(Box::new(conditions))
                };
                Operation::Get { name, want }
            }
            (Method::Get | Method::Head, Target::Listing(prefix)) if request.wants_tar => {
                Operation::Archive {
                    prefix,
                    body: !self.head,
                }
            }
            (Method::Get | Method::Head, Target::Listing(prefix)) => Operation::List {
                prefix,
                scope: Scope::Directory,
                format: listing::format(self.wants_json),
                body: !self.head,
            },
            (Method::Put, Target::File(name)) => Operation::Put {
                name,
                body,
                crc: request.checksum,
                mtime: request.mtime,
                trailer: None,
            },
            (Method::Delete, Target::File(name)) => Operation::Delete { name },
            (Method::Move, Target::File(from)) => match request.destination {
                Some(to) => Operation::Move { from, to },
                None => unreachable!("the parser refuses a MOVE without a Destination"),
            },
            (Method::Put | Method::Delete | Method::Move, Target::Listing(_)) => {
                return Decoded::Refused(Refusal {
                    code: 405,
                    message: "a name ending in / is a directory listing".into(),
                    skip: Some((used, body)),
                });
            }
        };
        Decoded::Request(Request { operation, token }, used)
    }

    /// A request the parser refused: answered so that the client can tell,
    /// then skipped (head and body) or the connection's last.
    fn refused(&mut self, err: HttpError) -> Decoded {
        let skip = match err.resume {
            Some(resume) => {
                *self = Exchange {
                    close: resume.close,
                    head: resume.head,
                    http10: resume.http10,
                    ..Exchange::default()
                };
                let body = Body {
                    length: resume.body,
                    awaits_go_ahead: resume.expect_continue,
                };
                Some((resume.used, body))
            }
            None => {
                *self = Exchange {
                    close: true,
                    ..Exchange::default()
                };
                None
            }
        };
        Decoded::Refused(Refusal {
            code: err.status,
            message: err.message,
            skip,
        })
    }

    /// Appends the answer to `reply` to `out`; `last`: the connection
    /// closes after it.
    pub fn encode(&mut self, reply: &Reply, last: bool, out: &mut Vec<u8>) {
        self.close |= last;
        let persistence = self.persistence();
        match reply {
            Reply::Nothing => {}
            Reply::GoAhead if self.expect_continue => {
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            Reply::GoAhead => {}
            Reply::Done => Head::new(out, 204).finish(0, persistence),
            // RFC 4918 9.9.4: 201 for a new name, 204 for one replaced.
            Reply::Moved { replaced } => {
                Head::new(out, if *replaced { 204 } else { 201 }).finish(0, persistence);
            }
            Reply::Stored { crc, replaced, .. } => {
                Head::new(out, if *replaced { 204 } else { 201 })
                    .header("X-Checksum-Crc32c", format!("{crc:08x}"))
                    .finish(0, persistence);
            }
            Reply::File {
                version,
                start,
                len,
                part,
            } => {
                let info = &version.info;
                let head = Head::new(out, if *part { 206 } else { 200 })
                    .header("Content-Type", self.media_type.as_str());
                let mut head = self
                    .presentation
                    .headers(head)
                    .header("Last-Modified", response::http_date(info.mtime))
                    .header("ETag", response::etag(version))
                    .header("Accept-Ranges", "bytes");
                // Only when known: a range or a HEAD of a file placed by
                // other means does not wait for a read of all of it.
                if let Some(crc) = version.crc {
                    head = head.header("X-Checksum-Crc32c", format!("{crc:08x}"));
                }
                if *part {
                    head = head.header(
                        "Content-Range",
                        format!("bytes {start}-{}/{}", start + len - 1, info.size),
                    );
                }
                head.finish(*len, persistence);
            }
            Reply::NotModified { version } => Head::new(out, 304)
                .header("ETag", response::etag(version))
                .finish(0, persistence),
            Reply::Unsatisfiable { size } => Head::new(out, 416)
                .header("Content-Range", format!("bytes */{size}"))
                .finish(0, persistence),
            // What a browser expects of `/dir`: go to its listing.
            Reply::Directory { name } => Head::new(out, 301)
                .header(
                    "Location",
                    format!("/{}/{}", url_path(name.as_str()), self.redirect_query()),
                )
                .finish(0, persistence),
            Reply::Listing { len } if self.wants_json => Head::new(out, 200)
                .header("Content-Type", listing::media_type(true))
                .header("Vary", "Accept")
                .finish(*len, persistence),
            // The web interface: its own script and style, nothing else.
            Reply::Listing { len } => Head::new(out, 200)
                .header("Content-Type", listing::media_type(false))
                .header("Vary", "Accept")
                .header("Content-Security-Policy", super::page::interface_policy())
                .header("X-Frame-Options", "DENY")
                .header("Referrer-Policy", "same-origin")
                .finish(*len, persistence),
            // RFC 6266: the UTF-8 name for browsers, escaped, as the only
            // form (every current browser reads `filename*`).
            Reply::Archive { len, name } => Head::new(out, 200)
                .header("Content-Type", "application/x-tar")
                .header(
                    "Content-Disposition",
                    format!("attachment; filename*=UTF-8''{}", url_path(name)),
                )
                .finish(*len, persistence),
            Reply::More(bytes) if !self.head => out.extend_from_slice(bytes),
            Reply::More(_) => {}
            Reply::Failed(failure) => self.failure(failure, out),
            Reply::Stat { .. }
            | Reply::Echo { .. }
            | Reply::Appended { .. }
            | Reply::Session { .. }
            | Reply::Sessions(_)
            | Reply::Authenticated { .. } => {
                debug_assert!(false, "no HTTP request leads to {reply:?}");
                self.failure(&Failure::new(ErrorKind::Internal, "unexpected answer"), out);
            }
        }
    }

    fn failure(&self, failure: &Failure, out: &mut Vec<u8>) {
        let status = status(failure.kind);
        response::error(out, status, &failure.message, self.framing());
    }

    /// The answer to a refused request head; `last` as for [`Self::encode`].
    pub fn refuse(&mut self, refusal: &Refusal, last: bool, out: &mut Vec<u8>) {
        self.close |= last;
        response::error(out, refusal.code, &refusal.message, self.framing());
    }
}

/// Whether `input` holds a whole request head: everything up to the empty
/// line (blank lines before the request do not count).
pub fn holds_whole_head(input: &[u8]) -> bool {
    let held = after_blank_lines(input);
    held.windows(2)
        .enumerate()
        .any(|(at, pair)| pair == b"\n\n" || (pair == b"\n\r" && held.get(at + 2) == Some(&b'\n')))
}

/// `503 Service Unavailable`, for a connection over the cap.
pub fn busy(out: &mut Vec<u8>) {
    response::error(out, 503, "busy", Framing::LAST);
}

/// The answer for a plain HTTP request sent to a TLS port.
pub fn plaintext_on_tls_port(out: &mut Vec<u8>) {
    response::error(
        out,
        400,
        "plain HTTP request sent to a TLS port: use https://",
        Framing::LAST,
    );
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
        match resolve_range(range, info.size) {
            Range::Whole => Selection::Bytes {
                start: 0,
                len: info.size,
                part: false,
                body: !self.head,
            },
            Range::Part { start, len } => Selection::Bytes {
                start,
                len,
                part: true,
                body: true,
            },
            Range::Unsatisfiable => Selection::Unsatisfiable,
        }
    }
}
