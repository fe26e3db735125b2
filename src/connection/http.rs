//! Serving HTTP/1.1 requests: GET and HEAD of files (ranges, conditional
//! requests) and of directory listings, PUT (fixed-length or chunked, with
//! `100-continue`) and DELETE. The same states and storage calls as FERRY/1;
//! only the framing of requests and responses differs.

use std::time::Instant;

use log::{info, warn};

use super::requests::{Receive, Sink, refused_body};
use super::{Connection, Env, State};
use crate::http::request::{HttpError, resolve_range, url_path};
use crate::http::response::{self, Framing, Head, Listing, Persistence};
use crate::http::{BodyLength, ChunkDecoder, HttpRequest, Method, Range, Target};
use crate::name::{Name, Prefix};
use crate::storage::{OpenFile, StorageError};

/// Per-request HTTP facts the response depends on.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Exchange {
    /// Close the connection once this response is out.
    pub(super) close: bool,
    /// The request was HEAD: headers only.
    pub(super) head: bool,
    /// HTTP/1.0: a connection kept open says so.
    pub(super) http10: bool,
    /// The target was a listing: only GET and HEAD are allowed.
    pub(super) listing: bool,
}

impl Exchange {
    /// How an error answer to this exchange is framed.
    pub(super) fn framing(&self) -> Framing {
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
    pub(super) fn persistence(&self) -> Persistence {
        match (self.close, self.http10) {
            (true, _) => Persistence::Close,
            (false, true) => Persistence::KeepAlive,
            (false, false) => Persistence::Open,
        }
    }
}

impl Connection {
    /// Acts on a parsed HTTP request: answers it or enters a body state.
    pub(super) fn start_http(&mut self, request: HttpRequest, env: &mut Env<'_>) -> State {
        self.exchange = Exchange {
            close: request.close,
            head: request.method == Method::Head,
            http10: request.http10,
            listing: matches!(request.target, Target::Listing(_)),
        };
        let target = request.target.clone();
        match (request.method, target) {
            (Method::Get | Method::Head, Target::File(name)) => self.http_get(&request, name, env),
            (Method::Get | Method::Head, Target::Listing(prefix)) => {
                self.http_listing(&request, &prefix, env)
            }
            (Method::Put, Target::File(name)) => self.http_put(&request, name, env),
            (Method::Delete, Target::File(name)) => {
                if env.config.read_only {
                    self.queue_error(403, "server is read-only");
                } else {
                    match env.storage.delete(&name) {
                        Ok(()) => {
                            info!("#{} DELETE {name}", self.id);
                            Head::new(&mut self.output, 204).finish(0, self.exchange.persistence());
                        }
                        Err(err) => self.refuse("DELETE", &name, &err),
                    }
                }
                State::AwaitHeader
            }
            (Method::Put | Method::Delete, Target::Listing(_)) => {
                let next = self.skip_body(request.body, request.expect_continue, env);
                self.queue_error(405, "a name ending in / is a directory listing");
                next
            }
        }
    }

    /// An HTTP request refused by the parser: answer, then skip its body or
    /// close. Returns the next state and the bytes to skip.
    pub(super) fn refuse_http(&mut self, err: HttpError, env: &mut Env<'_>) -> (State, usize) {
        warn!(
            "#{} bad HTTP request: {} {}",
            self.id, err.status, err.message
        );
        match err.resume {
            Some(resume) => {
                self.exchange = Exchange {
                    close: resume.close,
                    head: resume.head,
                    http10: resume.http10,
                    listing: false,
                };
                let next = self.skip_body(resume.body, resume.expect_continue, env);
                self.queue_error(err.status, &err.message);
                (next, resume.used)
            }
            None => {
                self.exchange.close = true;
                self.queue_error(err.status, &err.message);
                (State::Done, 0)
            }
        }
    }

    fn http_get(&mut self, request: &HttpRequest, name: Name, env: &mut Env<'_>) -> State {
        let OpenFile { file, info, crc } = match env.storage.open_read(&name) {
            Ok(found) => found,
            Err(StorageError::IsDirectory) => {
                // What a browser expects of `/dir`: go to its listing.
                Head::new(&mut self.output, 301)
                    .header("Location", format!("/{}/", url_path(name.as_str())))
                    .finish(0, self.exchange.persistence());
                return State::AwaitHeader;
            }
            Err(err) => {
                self.refuse("GET", &name, &err);
                return State::AwaitHeader;
            }
        };
        let etag = response::etag(&info, crc);
        let persistence = self.exchange.persistence();
        if response::not_modified(
            request.if_none_match.as_deref(),
            request.if_modified_since.as_deref(),
            &etag,
            info.mtime,
        ) {
            Head::new(&mut self.output, 304)
                .header("ETag", &etag)
                .finish(0, persistence);
            return State::AwaitHeader;
        }
        // Ranges are for GET alone (RFC 9110 14.2), and only of the version
        // the client already holds part of.
        let range = request.range.as_deref().filter(|_| {
            !self.exchange.head
                && response::if_range_holds(request.if_range.as_deref(), &etag, info.mtime)
        });
        let (status, start, len) = match resolve_range(range, info.size) {
            Range::Whole => (200, 0, info.size),
            Range::Part { start, len } => (206, start, len),
            Range::Unsatisfiable => {
                Head::new(&mut self.output, 416)
                    .header("Content-Range", format!("bytes */{}", info.size))
                    .finish(0, persistence);
                return State::AwaitHeader;
            }
        };
        // One allocation for the head and a body sent inline.
        self.output
            .reserve(512 + len.min(super::requests::INLINE_BODY) as usize);
        let mut head = Head::new(&mut self.output, status)
            .header("Content-Type", response::content_type(name.as_str()))
            .header("Last-Modified", response::http_date(info.mtime))
            .header("ETag", &etag)
            .header("Accept-Ranges", "bytes")
            .header("X-Checksum-Crc32c", format!("{crc:08x}"));
        if status == 206 {
            head = head.header(
                "Content-Range",
                format!("bytes {start}-{}/{}", start + len - 1, info.size),
            );
        }
        head.finish(len, persistence);
        if self.exchange.head || len == 0 {
            info!(
                "#{} {} {name} headers only",
                self.id,
                if self.exchange.head { "HEAD" } else { "GET" }
            );
            return State::AwaitHeader;
        }
        self.send_body_of(file, name, start, len)
    }

    fn http_listing(&mut self, request: &HttpRequest, prefix: &Prefix, env: &mut Env<'_>) -> State {
        let entries = match env.storage.list(prefix) {
            Ok(entries) => entries,
            Err(err) => {
                self.queue_error(err.code(), &err.to_string());
                return State::AwaitHeader;
            }
        };
        // Directories exist only through the files in them.
        if entries.is_empty() && !prefix.as_str().is_empty() {
            self.queue_error(404, "no such directory");
            return State::AwaitHeader;
        }
        let listing = Listing::of(prefix.as_str(), &entries);
        let (body, kind) = if request.wants_json {
            (listing.json(), "application/json")
        } else {
            (listing.html(), "text/html; charset=utf-8")
        };
        info!(
            "#{} listing /{} ({} files)",
            self.id,
            prefix.as_str(),
            entries.len()
        );
        Head::new(&mut self.output, 200)
            .header("Content-Type", kind)
            .header("Vary", "Accept")
            .finish(body.len() as u64, self.exchange.persistence());
        if !self.exchange.head {
            self.output.extend_from_slice(body.as_bytes());
        }
        State::AwaitHeader
    }

    fn http_put(&mut self, request: &HttpRequest, name: Name, env: &mut Env<'_>) -> State {
        if env.config.read_only {
            let next = self.skip_body(request.body, request.expect_continue, env);
            self.queue_error(403, "server is read-only");
            return next;
        }
        let limit = env.config.max_file_size;
        if let (BodyLength::Fixed(size), Some(max)) = (request.body, limit)
            && size > max
        {
            self.exchange.close = true;
            self.queue_error(413, &format!("file larger than the {max}-byte limit"));
            return State::Done;
        }
        let upload = match env.storage.begin_upload(&name) {
            Ok(upload) => upload,
            Err(err) => {
                let next = self.skip_body(request.body, request.expect_continue, env);
                self.refuse("PUT", &name, &err);
                return next;
            }
        };
        if request.expect_continue {
            self.output
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let (size, chunked) = match request.body {
            BodyLength::Fixed(size) => (size, None),
            BodyLength::Chunked => (0, Some(Box::new(ChunkDecoder::default()))),
        };
        let receive = Receive {
            sink: Sink::File(upload),
            name,
            size,
            left: size,
            crc: 0,
            expected_crc: request.checksum,
            started: Instant::now(),
            chunked,
        };
        if size == 0 && receive.chunked.is_none() {
            return self.finish_receive(receive, env.config);
        }
        State::ReceivingBody(Box::new(receive))
    }

    /// Before refusing a request that may carry a body: read and discard it
    /// after the answer where its length is known and the client is sending
    /// it anyway; otherwise mark the answer as the connection's last.
    fn skip_body(&mut self, body: BodyLength, expect_continue: bool, env: &Env<'_>) -> State {
        match body {
            BodyLength::Fixed(0) => State::AwaitHeader,
            // The client waits for a 100 that will not come: it may or may
            // not send the body, so the only safe framing is the close.
            _ if expect_continue => self.close_after_answer(),
            BodyLength::Fixed(size) => match refused_body(size, env.config) {
                State::Done => self.close_after_answer(),
                other => other,
            },
            BodyLength::Chunked => self.close_after_answer(),
        }
    }

    fn close_after_answer(&mut self) -> State {
        self.exchange.close = true;
        State::Done
    }

    /// Answers a committed HTTP PUT.
    pub(super) fn http_stored(&mut self, replaced: bool, crc: u32) {
        Head::new(&mut self.output, if replaced { 204 } else { 201 })
            .header("X-Checksum-Crc32c", format!("{crc:08x}"))
            .finish(0, self.exchange.persistence());
    }

    /// Feeds chunked body bytes to the upload. Returns the next state and
    /// the bytes used.
    pub(super) fn receive_chunked(
        &mut self,
        mut receive: Box<Receive>,
        data: &[u8],
        env: &mut Env<'_>,
    ) -> (State, usize) {
        let Some(decoder) = receive.chunked.as_mut() else {
            unreachable!("receive_chunked without a decoder");
        };
        let (used, payload) = match decoder.decode(data) {
            Ok(decoded) => decoded,
            Err(err) => {
                warn!("#{} PUT {}: {}", self.id, receive.name, err.0);
                self.exchange.close = true;
                self.queue_error(400, err.0);
                return (State::Done, data.len());
            }
        };
        let done = decoder.is_done();
        receive.size += payload.len() as u64;
        if let Some(max) = env.config.max_file_size.filter(|&max| receive.size > max) {
            self.exchange.close = true;
            self.queue_error(413, &format!("file larger than the {max}-byte limit"));
            return (State::Done, used);
        }
        if !payload.is_empty()
            && let Err(err) = receive.write(payload)
        {
            warn!("#{} PUT {} failed: {err}", self.id, receive.name);
            self.exchange.close = true;
            self.queue_error(err.code(), &err.to_string());
            return (State::Done, used);
        }
        if done {
            return (self.finish_receive(*receive, env.config), used);
        }
        (State::ReceivingBody(receive), used)
    }
}
