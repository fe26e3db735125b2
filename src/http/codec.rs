//! The HTTP/1.1 side of the serve layer, message by message: a request
//! head is framed (`message.rs`) and handed to the dialect that claims it
//! (`dialects.rs` says which), which makes it an [`Operation`](crate::serve::Operation)
//! and keeps what its answer needs; replies become responses, the framing
//! ones (`100 Continue`, body bytes, errors) here, the others by the
//! dialect. Sans-IO.
//!
//! [`Exchange`] keeps the per-exchange state in between: whether the
//! connection closes after the answer, HEAD (fields only), HTTP/1.0's
//! keep-alive, `Expect: 100-continue`, and the dialect's answer.

use super::cors::{self, Cors};
use super::dialect::{Client, Decision, Early, Message};
use super::dialects::{self, Answering};
use super::message::{self, HttpError, Parsed, Resume};
use super::origin::Site;
use super::response::{self, ALLOW_FILE, Framing, Persistence};
use crate::serve::decoded::{Decoded, Refusal, after_blank_lines};
use crate::serve::{Body, ErrorKind, Failure, Reply};
use crate::wire::Protocol;

/// Per-request HTTP facts the answer depends on.
#[derive(Debug)]
pub struct Exchange {
    /// Close the connection once this answer is out.
    pub close: bool,
    /// What the request's head said that the answer depends on.
    said: Said,
    /// How the dialect that took the request answers it (`None`: no
    /// dialect did, the head was refused first).
    answer: Option<Answering>,
    /// The listener the connection came from, which says what dialects
    /// it serves ([`dialects::of`]).
    listener: Protocol,
    /// The CORS fields its answer carries (a page of another origin the
    /// operator allowed asked).
    cors: Cors,
}

impl Exchange {
    /// A connection's first exchange, on a listener of `listener`.
    pub fn new(listener: Protocol) -> Exchange {
        Exchange {
            close: false,
            said: Said::default(),
            answer: None,
            listener,
            cors: Cors::None,
        }
    }

    /// The listener's protocol (HTTP, or S3 on a port of its own).
    pub fn listener(&self) -> Protocol {
        self.listener
    }

    /// How an error answer to this exchange is framed.
    fn framing(&self) -> Framing {
        Framing {
            persistence: self.persistence(),
            head_only: self.said.head(),
            allow: self.answer.as_ref().map_or(ALLOW_FILE, |a| a.get().allow()),
        }
    }

    /// What the answer's `Connection` header says.
    fn persistence(&self) -> Persistence {
        match (self.close, self.said.http10()) {
            (true, _) => Persistence::Close,
            (false, true) => Persistence::KeepAlive,
            (false, false) => Persistence::Open,
        }
    }

    /// Decodes the next request head of `data`, remembering what its
    /// answer will need; `site`: the web origin's rules it must meet;
    /// `room`: the most bytes of a large body it may hold in hand now
    /// ([`message::parse_holding`]).
    pub fn decode(&mut self, data: &[u8], site: Site<'_>, room: u64) -> Decoded {
        let listener = self.listener;
        let mut cors = Cors::None;
        let client = self.said.client();
        let mut after = client;
        let decided = message::parse_holding(
            data,
            room,
            |head| dialects::of(listener, head, client).body_in_hand(head, site),
            |head, resume| {
                cors = cors::of(head, site.web);
                let dialect = dialects::of(listener, head, client);
                after = dialect.client_after(head, client);
                dialect.decode(head, resume, site)
            },
        );
        let decoded = match decided {
            Ok(Parsed::Partial { awaits_go_ahead }) => return self.partial(awaits_go_ahead),
            Ok(Parsed::Whole(decision, resume)) => self.start(decision, &resume, after),
            Err(err) => self.refused(err, after),
        };
        self.cors = cors;
        decoded
    }

    /// A request not all there yet: [`Decoded::GoAhead`] once for a head
    /// whose client waits for `100 Continue` to send the body the dialect
    /// wants in hand (docs/webdav.md (a)); the exchange then says it as
    /// it says it before any body (a PUT's), with [`Reply::GoAhead`].
    fn partial(&mut self, awaits_go_ahead: bool) -> Decoded {
        if !awaits_go_ahead || self.said.continued() {
            return Decoded::Incomplete;
        }
        // The previous answer is out: these bits are the new request's.
        let bits = Said::EXPECT_CONTINUE | Said::CONTINUED;
        self.said = Said(bits).with_client(self.said.client());
        Decoded::GoAhead
    }

    fn start(&mut self, decision: Decision<Answering>, resume: &Resume, client: Client) -> Decoded {
        let (refused, answer) = match decision {
            Decision::Serve(request, answer) => (Err(request), answer),
            Decision::Refuse(code, message, answer) => (Ok((code, message)), answer),
        };
        *self = Exchange {
            close: resume.close,
            said: Said::of(resume).with_client(client),
            answer: Some(answer),
            listener: self.listener,
            cors: Cors::None,
        };
        match refused {
            Err(request) => Decoded::Request(request, resume.used),
            Ok((code, message)) => Decoded::Refused(Refusal {
                code,
                message,
                skip: Some((resume.used, body(resume))),
            }),
        }
    }

    /// A request the message layer or its dialect refused: answered so
    /// that the client can tell, then skipped (head and body) or the
    /// connection's last.
    fn refused(&mut self, err: HttpError, client: Client) -> Decoded {
        let skip = match err.resume {
            Some(resume) => {
                *self = Exchange {
                    close: resume.close,
                    // Nobody waits for 100 Continue: the body is skipped.
                    said: Said::of(&Resume {
                        expect_continue: false,
                        ..resume
                    })
                    .with_client(client),
                    answer: dialects::refusals(self.listener),
                    ..Exchange::new(self.listener)
                };
                Some((resume.used, body(&resume)))
            }
            None => {
                *self = Exchange {
                    close: true,
                    answer: dialects::refusals(self.listener),
                    ..Exchange::new(self.listener)
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
        let start = out.len();
        if self.said.started() && !matches!(reply, Reply::Nothing | Reply::GoAhead) {
            return self.end_early(reply, out);
        }
        match reply {
            Reply::Nothing => {}
            Reply::GoAhead if self.said.expect_continue() => {
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            Reply::GoAhead => {}
            Reply::More(bytes) if !self.said.head() => out.extend_from_slice(bytes),
            Reply::More(_) => {}
            Reply::Failed(failure) => {
                self.failure(failure, out);
                cors::add_fields(self.cors, start, out);
            }
            reply => match &self.answer {
                Some(answer) => {
                    let message = Message {
                        persistence: self.persistence(),
                        head: self.said.head(),
                    };
                    answer.get().encode(reply, message, out);
                    cors::add_fields(self.cors, start, out);
                }
                None => {
                    debug_assert!(false, "{reply:?} to a request no dialect took");
                    self.failure(&Failure::new(ErrorKind::Internal, "unexpected answer"), out);
                }
            },
        }
    }

    /// Whether the answer to the request being served may begin before
    /// its reply ([`dialect::Answer::early`]), with a chunked body: not
    /// for HEAD nor HTTP/1.0.
    pub fn fills(&self) -> bool {
        !self.said.head() && !self.said.http10() && self.early().is_some()
    }

    fn early(&self) -> Option<Early> {
        self.answer.as_ref().and_then(|answer| answer.get().early())
    }

    /// Appends what an answer that [`Self::fills`] sends while its reply
    /// is awaited: at first its head and opening, then a space.
    pub fn fill(&mut self, out: &mut Vec<u8>) {
        let Some(early) = self.early().filter(|_| self.fills()) else {
            return;
        };
        if self.said.started() {
            return chunk(out, b" ");
        }
        let start = out.len();
        response::Head::new(out, 200)
            .header("Content-Type", early.content_type)
            .finish_chunked(self.persistence());
        cors::add_fields(self.cors, start, out);
        chunk(out, early.opening.as_bytes());
        self.said = Said(self.said.0 | Said::STARTED);
    }

    /// The end of an answer begun early: the body the dialect writes for
    /// `reply` (a failure's too: its status can no longer be sent, the
    /// document says it), without the head and opening already sent, as
    /// the last chunks.
    fn end_early(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        let mut whole = Vec::new();
        match (reply, &self.answer) {
            (Reply::Failed(failure), _) => self.failure(failure, &mut whole),
            (reply, Some(answer)) => {
                let message = Message {
                    persistence: self.persistence(),
                    head: false,
                };
                answer.get().encode(reply, message, &mut whole);
            }
            (_, None) => {}
        }
        let body_at = whole
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(whole.len(), |at| at + 4);
        let body = &whole[body_at..];
        let opening = self
            .early()
            .map_or(&[][..], |early| early.opening.as_bytes());
        chunk(out, body.strip_prefix(opening).unwrap_or(body));
        out.extend_from_slice(b"0\r\n\r\n");
    }

    fn failure(&self, failure: &Failure, out: &mut Vec<u8>) {
        match &self.answer {
            Some(answer) => answer.get().failed(failure, self.framing(), out),
            None => self.error(failure.kind.code(), &failure.message, out),
        }
    }

    /// The status a failure of `kind` is answered with, as the dialect
    /// that took the request says.
    pub fn status(&self, kind: ErrorKind) -> u16 {
        match &self.answer {
            Some(answer) => answer.get().status(kind),
            None => kind.code(),
        }
    }

    /// The answer to a refused request head; `last` as for [`Self::encode`].
    pub fn refuse(&mut self, refusal: &Refusal, last: bool, out: &mut Vec<u8>) {
        self.close |= last;
        let start = out.len();
        self.error(refusal.code, &refusal.message, out);
        cors::add_fields(self.cors, start, out);
    }

    /// An error answer, as the dialect that took the request writes one
    /// (the message layer's own where none did).
    fn error(&self, status: u16, message: &str, out: &mut Vec<u8>) {
        match &self.answer {
            Some(answer) => answer.get().error(status, message, self.framing(), out),
            None => response::error(out, status, message, self.framing()),
        }
    }
}

/// What a request's head said that its answer depends on, a bit each,
/// and what the connection's requests showed of its client ([`Client`],
/// kept from one exchange to the next): every connection holds an
/// exchange, so it stays small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Said(u8);

impl Said {
    /// The request was HEAD: headers only.
    const HEAD: u8 = 1;
    /// HTTP/1.0: a connection kept open says so.
    const HTTP10: u8 = 2;
    /// The client waits for `100 Continue` before sending its body.
    const EXPECT_CONTINUE: u8 = 4;
    /// The client spoke WebDAV on the connection ([`Client::dav`]).
    const DAV_CLIENT: u8 = 8;
    /// `100 Continue` went out for a request still being gathered.
    const CONTINUED: u8 = 16;
    /// The answer began before its reply ([`Exchange::fill`]).
    const STARTED: u8 = 32;

    fn of(resume: &Resume) -> Said {
        let bit = |set: bool, bit: u8| if set { bit } else { 0 };
        Said(
            bit(resume.head, Said::HEAD)
                | bit(resume.http10, Said::HTTP10)
                | bit(resume.expect_continue, Said::EXPECT_CONTINUE),
        )
    }

    /// These bits, with what `client` says of the connection's client.
    fn with_client(self, client: Client) -> Said {
        match client.dav {
            true => Said(self.0 | Said::DAV_CLIENT),
            false => Said(self.0 & !Said::DAV_CLIENT),
        }
    }

    fn client(self) -> Client {
        Client {
            dav: self.0 & Said::DAV_CLIENT != 0,
        }
    }

    fn head(self) -> bool {
        self.0 & Said::HEAD != 0
    }

    fn http10(self) -> bool {
        self.0 & Said::HTTP10 != 0
    }

    fn expect_continue(self) -> bool {
        self.0 & Said::EXPECT_CONTINUE != 0
    }

    fn continued(self) -> bool {
        self.0 & Said::CONTINUED != 0
    }

    fn started(self) -> bool {
        self.0 & Said::STARTED != 0
    }
}

/// Appends `data` as one chunk of a chunked body (none if empty: an empty
/// chunk would end it).
fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if !data.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
}

/// The body a framed head announces, to read or to skip.
fn body(resume: &Resume) -> Body {
    Body {
        length: resume.body,
        awaits_go_ahead: resume.expect_continue,
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
