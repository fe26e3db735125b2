//! The HTTP/1.1 message layer (RFC 9112): where a request head ends, how
//! its body is framed, whether the connection persists. It knows nothing of
//! what a request asks: a *dialect* (ferry's own files and listings in
//! `files/`; WebDAV, tus and S3) is handed the parsed head and
//! turns it into its own request, or refuses it. Sans-IO: bytes in, a
//! request (or "need more", or an error with its status) out.
//!
//! The head is cut into a request line and fields by `httparse`; the
//! fields are lent to the dialect, not copied, so a request costs no
//! allocation here (but a chunked body in hand that came in several
//! chunks, joined once it is whole).

use std::ops::Range;

use crate::formats::chunked::{ChunkDecoder, ChunkError};
use crate::serve::BodyLength;

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// The usual cap on a body a dialect asks to have in hand with the head
/// (WebDAV's XML requests, S3's small ones): held in the connection's
/// input buffer until whole, so it is bounded like a head (docs/webdav.md
/// (a)). A dialect may give one request a larger cap ([`parse_holding`]:
/// S3's CompleteMultipartUpload), which is then held only while the
/// server has room for it.
pub const MAX_BODY_IN_HAND: u64 = 64 * 1024;

/// A request that is answered with an error status instead of served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// Status code.
    pub status: u16,
    /// Reason, for the body.
    pub message: String,
    /// How to go on past a complete, soundly framed head; `None` when the
    /// framing is lost and the connection must close.
    pub resume: Option<Resume>,
}

/// What the message layer makes of a complete head whatever it asks: its
/// length and body framing (to read or skip both) and how the answer must
/// be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Bytes of the head.
    pub used: usize,
    /// The body to read or skip.
    pub body: BodyLength,
    /// The client asked for the connection to close, or HTTP/1.0 default
    /// (or an `Expect` that cannot be met: the body may be on its way).
    pub close: bool,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
    /// The request was HEAD: the answer has no body.
    pub head: bool,
    /// HTTP/1.0.
    pub http10: bool,
}

impl HttpError {
    /// An error after which the connection cannot go on.
    pub fn fatal(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
            resume: None,
        }
    }
}

/// A complete request head, lent to a dialect.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The method, a token such as `GET` (any token: the dialect decides).
    pub method: &'a str,
    /// The request target as sent.
    pub target: &'a str,
    /// HTTP/1.0 (else HTTP/1.1).
    pub http10: bool,
    fields: &'a [httparse::Header<'a>],
    /// The whole body, for a request whose dialect asked to have it in
    /// hand (see [`parse`]); empty otherwise.
    pub body: &'a [u8],
}

impl<'a> Head<'a> {
    /// Every field as (name, value), in the order sent, values untrimmed.
    pub fn fields(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.fields.iter().map(|field| (field.name, field.value))
    }
}

/// A refusal decided on a sound head: its status and reason.
pub type Refused = (u16, String);

/// What [`parse`] found at the front of the buffer.
#[derive(Debug)]
pub enum Parsed<T> {
    /// More bytes are needed. `awaits_go_ahead`: the head is whole, the
    /// body to be held with it is not, and its client waits for
    /// `100 Continue` before sending that body (RFC 9110 10.1.1): the
    /// caller says it once, as it would before reading any body.
    Partial {
        /// The client waits for `100 Continue`.
        awaits_go_ahead: bool,
    },
    /// A whole request (with its body, where one is held), and its framing.
    Whole(T, Resume),
}

/// [`parse_holding`] for a caller that holds any body in hand up to
/// [`MAX_BODY_IN_HAND`] whatever else the server holds: `in_hand` says
/// whether the head wants its body.
///
/// # Errors
/// Those of [`parse_holding`].
pub fn parse<T>(
    buf: &[u8],
    in_hand: impl FnOnce(&Head<'_>) -> bool,
    dialect: impl FnOnce(&Head<'_>, &Resume) -> Result<T, Refused>,
) -> Result<Parsed<T>, HttpError> {
    let in_hand = |head: &Head<'_>| in_hand(head).then_some(MAX_BODY_IN_HAND);
    parse_holding(buf, u64::MAX, in_hand, dialect)
}

/// Parses one request head from the front of `buf` and hands it to
/// `dialect`. [`Parsed::Partial`] until the head is complete, and, for a
/// head whose body `in_hand` says to hold (at most the bytes it returns,
/// the dialect's cap for that request), until the body is complete too:
/// then it is lent with the head ([`Head::body`]) and counted in
/// [`Resume::used`], and no body is left to read. `room`: the most bytes
/// of body the caller can hold now (what its server holds for other
/// connections taken off its budget); a body over [`MAX_BODY_IN_HAND`]
/// and over `room` is refused with 503, to be sent again later.
///
/// # Errors
/// 431 beyond [`MAX_HEAD`] bytes or too many headers, 400 for malformed
/// heads or framing, 501 for transfer codings other than chunked, 505 for
/// other versions (all without [`Resume`]: the framing is lost); 400 for a
/// missing or bad `Host` or more than one `Authorization`;
/// 413 for a body in hand over its cap, 503 over `room`; and whatever
/// `dialect` refuses (these with [`Resume`]).
pub fn parse_holding<T>(
    buf: &[u8],
    room: u64,
    in_hand: impl FnOnce(&Head<'_>) -> Option<u64>,
    dialect: impl FnOnce(&Head<'_>, &Resume) -> Result<T, Refused>,
) -> Result<Parsed<T>, HttpError> {
    let partial = Parsed::Partial {
        awaits_go_ahead: false,
    };
    // A chunked body in hand that came in several chunks, made one.
    let mut joined = Vec::new();
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    let used = match parsed.parse(window) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) if window.len() >= MAX_HEAD => {
            return Err(HttpError::fatal(431, "request head larger than 8 KiB"));
        }
        Ok(httparse::Status::Partial) => return Ok(partial),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::fatal(431, "too many headers"));
        }
        Err(httparse::Error::Version) => {
            return Err(HttpError::fatal(
                505,
                "only HTTP/1.0 and HTTP/1.1 are served",
            ));
        }
        Err(err) => return Err(HttpError::fatal(400, format!("malformed request: {err}"))),
    };
    let mut head = Head {
        method: parsed.method.unwrap_or_default(),
        target: parsed.path.unwrap_or_default(),
        http10: parsed.version.unwrap_or(1) == 0,
        fields: parsed.headers,
        body: &[],
    };
    let (mut resume, refusal) = frame(&head, used)?;
    let refuse = |(status, message): Refused, resume| HttpError {
        status,
        message,
        resume: Some(resume),
    };
    if let Some(refusal) = refusal {
        return Err(refuse(refusal, resume));
    }
    if let Some(cap) = in_hand(&head) {
        match body_in_hand(buf, &resume, (cap, room), &mut joined) {
            Err(refusal) => return Err(refuse(refusal, resume)),
            Ok(None) => {
                return Ok(Parsed::Partial {
                    awaits_go_ahead: resume.expect_continue,
                });
            }
            Ok(Some((body, wire))) => {
                head.body = body;
                resume = Resume {
                    used: used + wire,
                    body: BodyLength::Fixed(0),
                    // The body is here: nothing to wait for.
                    expect_continue: false,
                    ..resume
                };
            }
        }
    }
    match dialect(&head, &resume) {
        Ok(request) => Ok(Parsed::Whole(request, resume)),
        Err(refusal) => Err(refuse(refusal, resume)),
    }
}

/// The body that follows the head framed by `resume`, once all of it is
/// in `buf` (`None` before), and the bytes it takes there; `joined`
/// holds a chunked payload that came in more than one chunk.
///
/// # Errors
/// [`within_cap`]'s, known from `Content-Length` before a byte is held;
/// for a chunked body, [`chunked_in_hand`]'s.
fn body_in_hand<'a>(
    buf: &'a [u8],
    resume: &Resume,
    limits: (u64, u64),
    joined: &'a mut Vec<u8>,
) -> Result<Option<(&'a [u8], usize)>, Refused> {
    let len = match resume.body {
        BodyLength::Fixed(len) => {
            within_cap(len, limits)?;
            len as usize
        }
        BodyLength::Chunked => return chunked_in_hand(&buf[resume.used..], limits, joined),
        BodyLength::UntilEof => unreachable!("HTTP/1.1 frames every request body"),
    };
    Ok(buf
        .get(resume.used..resume.used + len)
        .map(|body| (body, len)))
}

/// Whether `len` bytes of body may be held under `cap` and `room`.
///
/// # Errors
/// 413 over `cap`; 503 over [`MAX_BODY_IN_HAND`] and `room` (the server
/// holds too much for others now: to be sent again later).
fn within_cap(len: u64, (cap, room): (u64, u64)) -> Result<(), Refused> {
    if len > cap {
        let limit = cap / 1024;
        return Err((413, format!("this request's body is at most {limit} KiB")));
    }
    if len > MAX_BODY_IN_HAND && len > room {
        let busy = "the server holds too many large request bodies now; send it again later";
        return Err((503, busy.into()));
    }
    Ok(())
}

/// A chunked body held whole, in any number of chunks, once its last
/// chunk and trailer section are in `rest` (`None` before; the trailers
/// are taken and ignored). Its payload is lent from the buffer where it
/// is one run of bytes (one chunk, as boto3 frames a small body); in more
/// chunks (Go's net/http, Java's and Node's clients streaming a body of
/// unknown length) it is copied into `joined`, once, when all is there.
/// The caps count its bytes on the wire, framing too: what is held.
///
/// # Errors
/// [`within_cap`]'s as the body grows, 400 for malformed framing (the
/// decoder's limits on size lines, extensions and trailers included).
fn chunked_in_hand<'a>(
    rest: &'a [u8],
    limits: (u64, u64),
    joined: &'a mut Vec<u8>,
) -> Result<Option<(&'a [u8], usize)>, Refused> {
    let (mut runs, mut first, mut payload) = (0, 0..0, 0);
    let walked = walk_chunks(rest, limits, |run| {
        runs += 1;
        payload += run.len();
        if runs == 1 {
            first = run;
        }
    })?;
    let Some(wire) = walked else {
        return Ok(None);
    };
    if runs <= 1 {
        return Ok(Some((&rest[first], wire)));
    }
    // The same bytes walked again, now known to be whole and sound.
    joined.reserve_exact(payload);
    walk_chunks(&rest[..wire], limits, |run| {
        joined.extend_from_slice(&rest[run]);
    })?;
    Ok(Some((joined.as_slice(), wire)))
}

/// Decodes the chunked body at the front of `rest`, telling `run` where
/// each chunk's payload lies in it; the bytes the body takes once it is
/// whole, `None` before.
fn walk_chunks(
    rest: &[u8],
    limits: (u64, u64),
    mut run: impl FnMut(Range<usize>),
) -> Result<Option<usize>, Refused> {
    let mut decoder = ChunkDecoder::default();
    let mut at = 0;
    while !decoder.is_done() {
        if at == rest.len() {
            return Ok(None);
        }
        let (used, data) = decoder
            .decode(&rest[at..])
            .map_err(|ChunkError(why)| (400, why.to_owned()))?;
        if !data.is_empty() {
            let start = at + used - data.len();
            run(start..start + data.len());
        }
        at += used;
        within_cap(at as u64, limits)?;
    }
    Ok(Some(at))
}

/// The framing fields of `head` (RFC 9112 6, 9.3, RFC 9110 10.1.1, 7.2):
/// its body, persistence and `Expect`, with a refusal that leaves the
/// framing intact (answered once the whole head is read, so the connection
/// can go on past the body).
fn frame(head: &Head<'_>, used: usize) -> Result<(Resume, Option<Refused>), HttpError> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    // RFC 9112 9.3: `close` anywhere among the options wins, whatever order
    // they come in; HTTP/1.0 stays open only when asked.
    let (mut close_asked, mut keep_alive_asked) = (false, false);
    let mut expect_continue = false;
    let (mut hosts, mut authorizations) = (0, 0);
    let mut refusal: Option<(u16, &str)> = None;
    for (name, value) in head.fields() {
        let value = value.trim_ascii();
        if name.eq_ignore_ascii_case("content-length") {
            let parsed =
                decimal(value).ok_or_else(|| HttpError::fatal(400, "bad Content-Length"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(HttpError::fatal(400, "conflicting Content-Length"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case(b"chunked") {
                return Err(HttpError::fatal(
                    501,
                    "only chunked transfer coding is supported",
                ));
            }
            // RFC 9112 6.1: chunked twice, or in HTTP/1.0, is faulty framing.
            if chunked || head.http10 {
                return Err(HttpError::fatal(400, "bad Transfer-Encoding"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close_asked |= option.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !value.iter().all(|&b| b.is_ascii_graphic() && b != b'/') {
                refusal.get_or_insert((400, "bad Host"));
            }
        } else if name.eq_ignore_ascii_case("authorization") {
            authorizations += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            // Another expectation (or none: an empty list) is ignored,
            // as S3 and nginx do; RFC 9110 10.1.1 allows a 417, which
            // would only fail a client that expects nothing we lack.
            if value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = !head.http10;
            }
        }
    }
    if chunked && length.is_some() {
        // RFC 9112 6.3: a message with both is suspect; refuse it.
        return Err(HttpError::fatal(400, "both Content-Length and chunked"));
    }
    // RFC 9112 3.2: exactly one Host in HTTP/1.1.
    if !head.http10 && hosts != 1 {
        refusal.get_or_insert((400, "an HTTP/1.1 request needs exactly one Host"));
    }
    // RFC 9110 5.3, 11.6.2: one credential per request. Each dialect reads
    // the field (a token, S3's signature); two would leave one of them
    // unchecked and let the order of fields pick the other, so neither is
    // taken: refused here, once for every dialect.
    if authorizations > 1 {
        refusal.get_or_insert((400, "one Authorization field at most"));
    }
    let close = close_asked || (head.http10 && !keep_alive_asked);
    let resume = Resume {
        used,
        body: match chunked {
            true => BodyLength::Chunked,
            false => BodyLength::Fixed(length.unwrap_or(0)),
        },
        // An unmet `Expect`: the body may come at once or never, so the
        // connection cannot be kept in step past it.
        close,
        expect_continue,
        head: head.method == "HEAD",
        http10: head.http10,
    };
    Ok((
        resume,
        refusal.map(|(status, message)| (status, message.to_owned())),
    ))
}

/// A decimal value such as `Content-Length`: digits only (no sign, no
/// spaces), as a u64.
pub fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`parse_holding`] makes of a POST with a body of `len` bytes
    /// (all of them there) under `cap` and `room`: the body's length, or
    /// the refusal's status.
    fn held(len: usize, cap: u64, room: u64) -> Result<usize, u16> {
        let mut buf =
            format!("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        buf.resize(buf.len() + len, b'a');
        match parse_holding(&buf, room, |_| Some(cap), |head, _| Ok(head.body.len())) {
            Ok(Parsed::Whole(len, resume)) => {
                assert_eq!(resume.used, buf.len());
                Ok(len)
            }
            Ok(Parsed::Partial { .. }) => panic!("the body is all there"),
            Err(err) => {
                assert!(err.resume.is_some(), "a refusal keeps the framing");
                Err(err.status)
            }
        }
    }

    #[test]
    fn a_body_in_hand_is_held_to_its_dialects_cap_and_the_room_left() {
        let big = 2 << 20;
        assert_eq!(held(big, big as u64, u64::MAX), Ok(big));
        assert_eq!(held(big + 1, big as u64, u64::MAX), Err(413));
        // No room for it now: 503, to be sent again (not a 413).
        assert_eq!(held(big, big as u64, big as u64 - 1), Err(503));
        // The usual 64 KiB is always taken, room or not.
        let usual = MAX_BODY_IN_HAND as usize;
        assert_eq!(held(usual, big as u64, 0), Ok(usual));
        assert_eq!(held(usual + 1, big as u64, 0), Err(503));
        assert_eq!(held(usual + 1, MAX_BODY_IN_HAND, u64::MAX), Err(413));
    }

    /// What [`parse_holding`] makes of a chunked PUT with `body` (then
    /// the next request) under `cap` and `room`: the body in hand (`None`
    /// while more is awaited), or the refusal's status.
    fn chunked(body: &str, cap: u64, room: u64) -> Result<Option<Vec<u8>>, u16> {
        let head = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        let buf = format!("{head}{body}GET /next");
        let parsed = parse_holding(
            buf.as_bytes(),
            room,
            |_| Some(cap),
            |head, _| Ok(head.body.to_vec()),
        );
        match parsed {
            Ok(Parsed::Whole(body, resume)) => {
                assert_eq!(&buf.as_bytes()[resume.used..], b"GET /next");
                assert_eq!(resume.body, BodyLength::Fixed(0));
                Ok(Some(body))
            }
            Ok(Parsed::Partial { .. }) => Ok(None),
            Err(err) => {
                assert!(err.resume.is_some(), "a refusal keeps the framing");
                Err(err.status)
            }
        }
    }

    /// A chunked body in hand: whole once its last chunk and trailer are
    /// there, in one chunk or many, empty or not; 413 past the cap (its
    /// bytes on the wire), 503 past the room beyond the usual 64 KiB, 400
    /// for bad framing (long size lines and extensions too).
    #[test]
    fn a_chunked_body_in_hand_is_held_in_any_number_of_chunks() {
        let one = "5\r\nhello\r\n0\r\nx-t: 1\r\n\r\n";
        assert_eq!(chunked(one, 1024, 0), Ok(Some(b"hello".to_vec())));
        assert_eq!(chunked("0\r\n\r\n", 1024, 0), Ok(Some(Vec::new())));
        let many = "2;a=b\r\nhe\r\n3\r\nllo\r\n1\r\n!\r\n0\r\nx-t: 1\r\n\r\n";
        assert_eq!(chunked(many, 1024, 0), Ok(Some(b"hello!".to_vec())));
        assert_eq!(
            chunked(many, many.len() as u64, 0),
            Ok(Some(b"hello!".to_vec()))
        );
        assert_eq!(chunked(many, many.len() as u64 - 1, 0), Err(413));
        assert_eq!(chunked(one, 8, 0), Err(413));
        assert_eq!(chunked("zz\r\n", 1024, 0), Err(400));
        let long_extension = format!("1;{}\r\n", "e".repeat(5000));
        assert_eq!(chunked(&long_extension, 1024 * 1024, 0), Err(400));
        // Many small chunks past the usual 64 KiB: within the room, or 503.
        let usual = MAX_BODY_IN_HAND as usize;
        let big = format!("{}0\r\n\r\n", "1\r\na\r\n".repeat(usual / 6 + 1));
        let cap = 1 << 20;
        assert_eq!(chunked(&big, cap, cap), Ok(Some(vec![b'a'; usual / 6 + 1])));
        assert_eq!(chunked(&big, cap, MAX_BODY_IN_HAND), Err(503));
    }

    /// At every split of a chunked body in hand more is awaited, and the
    /// whole body is read the same however it came (the message layer is
    /// called again with all that has arrived).
    #[test]
    fn a_chunked_body_in_hand_is_awaited_at_every_split() {
        let many = "2;a=b\r\nhe\r\n3\r\nllo\r\n0\r\nx-t: 1\r\n\r\n";
        let head = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        let whole = format!("{head}{many}");
        for end in 0..whole.len() {
            let parsed = parse_holding(
                &whole.as_bytes()[..end],
                u64::MAX,
                |_| Some(1024),
                |_, _| Ok(()),
            );
            assert!(matches!(parsed, Ok(Parsed::Partial { .. })), "{end}");
        }
        assert_eq!(chunked(many, 1024, 0), Ok(Some(b"hello".to_vec())));
    }

    /// One chunk's payload is lent from the buffer, not copied.
    #[test]
    fn a_body_in_one_chunk_is_lent() {
        let buf = b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let lent =
            |head: &Head<'_>, _: &Resume| Ok(buf.as_ptr_range().contains(&head.body.as_ptr()));
        let parsed = parse_holding(buf, u64::MAX, |_| Some(1024), lent);
        assert!(matches!(parsed, Ok(Parsed::Whole(true, _))));
    }
}
