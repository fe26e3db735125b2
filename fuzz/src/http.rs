//! Invariants of the HTTP/1.1 parsers, written once and checked twice: by the
//! cargo-fuzz targets `http_request` and `chunked` and by
//! `tests/http/properties.rs` (which includes this file with `#[path]`), so
//! the fuzzers and the proptest suite hold `ferry::http::parse_request` and
//! `ferry::http::ChunkDecoder` to exactly the same rules.
//!
//! Every check panics on a violation (libFuzzer keeps the input as a crash,
//! proptest shrinks it). Besides fixed invariants (no panic, byte counts
//! within the input and the caps, answers that more bytes cannot change,
//! names that cannot leave the root) the checks compare the code with small
//! *references*:
//!
//! - for a request head, what its fields mean: framing (RFC 9112 §6: digits
//!   only and agreeing `Content-Length`s, `chunked` as the only transfer
//!   coding, never both), persistence (§9.3), and the refusals documented in
//!   `src/http/message.rs` and `request.rs` (405, Host, Expect, checksum, bodies on methods
//!   other than PUT, targets). httparse is trusted to cut the head into a
//!   request line and fields; what the fields mean is judged here.
//! - for a chunked body, the grammar of RFC 9112 §7.1 as `chunked.rs` narrows
//!   it (at most 16 size digits, no whitespace before `;`, extensions and
//!   trailer lines any bytes but CR and LF, CRLF line ends), with its 4 KiB
//!   cap on each run of framing.
//!
//! This file stands alone (only `ferry`, `httparse` and `std`): the
//! properties include it directly, not through `lib.rs`.

use std::path::{Component, Path};

use ferry::http::message::{HttpError, MAX_HEAD, Resume};
use ferry::http::{BodyLength, ChunkDecoder, HttpRequest, Method, Target, parse_request};
use ferry::name::{MAX_NAME, MAX_SEGMENT, Name, Prefix, RESERVED_PREFIX};
use ferry::serve::ErrorKind;

/// Every status `parse_request` may refuse a head with: malformed heads,
/// framing and names (400), reserved names (403), methods (405), `Expect`
/// (417), size and header count (431), transfer codings (501), versions
/// (505).
pub const STATUSES: [u16; 7] = [400, 403, 405, 417, 431, 501, 505];

/// `request.rs`'s header limit (private there): a 65th header is a 431.
pub const MAX_HEADERS: usize = 64;

/// `chunked.rs`'s framing cap (private there): a chunk-size line, or the
/// last chunk's line with the trailer section after it, is at most this
/// many bytes, CRLFs included.
pub const MAX_FRAMING: usize = 4096;

/// A root to join names onto; only ever used as a path, never touched.
const ROOT: &str = "/srv/ferry-root";

/// Appended to inputs whose answer is decided: a pipelined request must not
/// change the answer to the one before it.
const NEXT: &[u8] = b"PUT /next HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";

/// What `parse_request` answers.
pub type Answer = Result<Option<(HttpRequest, usize)>, HttpError>;

// ---------------------------------------------------------------------------
// Request heads

/// Feeds `input` to `parse_request` and checks its answer.
///
/// - no panic; `Ok(None)` only below `MAX_HEAD` bytes;
/// - a head (served, or refused with a `Resume`) is `input[..used]` with
///   `used <= input.len()` and `<= MAX_HEAD`, and ends at its first blank
///   line; parsed alone it gives the same answer;
/// - refusals carry a documented status; those that lose the framing (431,
///   501, 505) never let the connection go on, those decided on a sound head
///   (403, 405, 417) always do, and a 417 closes;
/// - a request has a name that stays beneath a root, a listing prefix that
///   is empty or ends in `/`, and a body only if it is a PUT;
/// - the answer is the reference's for the head's fields (see the module
///   docs);
/// - cutting the input before the head ends gives `Ok(None)`, and anywhere
///   `Ok(None)` or the same answer; bytes after a decided answer (a pipelined
///   request, a body) do not change it.
pub fn check_parse_request(input: &[u8]) {
    let answer = parse_request(input);
    check_answer(input, &answer);
    let split = split_head(input);
    check_reference(&answer, &split);
    let head_end = match &split {
        Split::Head(head) => Some(head.used),
        Split::Incomplete | Split::Refused(_) => None,
    };
    check_cuts(input, &answer, head_end);
    if answer != Ok(None) {
        let mut longer = input.to_vec();
        longer.extend_from_slice(NEXT);
        assert_eq!(
            parse_request(&longer),
            answer,
            "bytes after a decided answer changed it"
        );
    }
}

/// The fixed invariants, whatever the head says.
fn check_answer(input: &[u8], answer: &Answer) {
    match answer {
        Ok(None) => assert!(
            input.len() < MAX_HEAD,
            "{} bytes still wait for more",
            input.len()
        ),
        Ok(Some((request, used))) => {
            check_head_end(input, *used);
            check_request(request);
        }
        Err(err) => {
            assert!(
                STATUSES.contains(&err.status),
                "{err:?}: undocumented status"
            );
            assert!(!err.message.is_empty(), "{err:?}: empty message");
            match (err.status, err.resume) {
                (431 | 501 | 505, Some(_)) => {
                    panic!("{err:?}: the framing is lost, yet the connection would go on")
                }
                (403 | 405 | 417, None) => {
                    panic!("{err:?}: refused on a sound head, yet the connection closes")
                }
                (status, Some(resume)) => check_resume(input, status, &resume),
                (_, None) => {}
            }
        }
    }
}

fn check_resume(input: &[u8], status: u16, resume: &Resume) {
    check_head_end(input, resume.used);
    if status == 417 {
        // The body it announced will not come: nothing to skip it by.
        assert!(resume.close, "a 417 must close: {resume:?}");
    }
    assert!(
        !(resume.http10 && resume.expect_continue),
        "an HTTP/1.0 client is never sent 100 Continue: {resume:?}"
    );
}

/// A head is `input[..used]`, within the cap, and ends at its first blank
/// line (after the empty lines httparse skips before the request line).
fn check_head_end(input: &[u8], used: usize) {
    assert!(
        used <= input.len() && used <= MAX_HEAD,
        "a head of {used} bytes in {} (cap {MAX_HEAD})",
        input.len()
    );
    assert_eq!(
        first_blank_line(&input[..used]),
        Some(used),
        "a head must end at its first blank line"
    );
}

/// The end of the first blank line after the request line, LF included.
fn first_blank_line(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        match &bytes[start..] {
            [b'\r', b'\n', ..] => start += 2,
            [b'\n', ..] => start += 1,
            _ => break,
        }
    }
    (start..bytes.len())
        .filter(|&at| bytes[at] == b'\n')
        .find_map(|at| match &bytes[at + 1..] {
            [b'\n', ..] => Some(at + 2),
            [b'\r', b'\n', ..] => Some(at + 3),
            _ => None,
        })
}

fn check_request(request: &HttpRequest) {
    if request.body != BodyLength::Fixed(0) {
        assert_eq!(
            request.method,
            Method::Put,
            "only PUT may carry a body: {request:?}"
        );
    }
    assert!(
        !(request.http10 && request.expect_continue),
        "an HTTP/1.0 client is never sent 100 Continue: {request:?}"
    );
    match &request.target {
        Target::File(name) => check_name(name),
        Target::Listing(prefix) => check_listing(prefix),
    }
}

/// What every served file name must be: 1..=1024 bytes of segments that are
/// 1..=255 bytes, not `.`, `..` or reserved, without control characters;
/// joined onto a root they stay beneath it as plain components.
pub fn check_name(name: &Name) {
    let text = name.as_str();
    assert!((1..=MAX_NAME).contains(&text.len()), "{name:?}: length");
    assert!(
        !text.chars().any(|c| c.is_control()),
        "{name:?}: control character"
    );
    let segments: Vec<&str> = text.split('/').collect();
    for segment in &segments {
        assert!(
            (1..=MAX_SEGMENT).contains(&segment.len())
                && *segment != "."
                && *segment != ".."
                && !segment.starts_with(RESERVED_PREFIX),
            "{name:?}: segment {segment:?}"
        );
    }
    let root = Path::new(ROOT);
    let path = segments
        .iter()
        .fold(root.to_path_buf(), |path, segment| path.join(segment));
    let inside = path
        .strip_prefix(root)
        .unwrap_or_else(|_| panic!("{name:?} leaves the root: {path:?}"));
    let components: Vec<Component> = inside.components().collect();
    assert!(
        components.len() == segments.len()
            && components.iter().all(|c| matches!(c, Component::Normal(_))),
        "{name:?} gives {components:?}"
    );
    assert_eq!(
        Name::decode(name.encoded().as_bytes()).as_ref(),
        Ok(name),
        "{name:?}: encoding"
    );
}

/// A listing is of the root (empty prefix) or of a directory, `name/`.
pub fn check_listing(prefix: &Prefix) {
    let text = prefix.as_str();
    if text.is_empty() {
        return;
    }
    let dir = text
        .strip_suffix('/')
        .unwrap_or_else(|| panic!("{prefix:?}: a listing prefix must end in /"));
    match Name::new(dir.to_owned()) {
        Ok(name) => check_name(&name),
        Err(err) => panic!("{prefix:?}: the directory is not a valid name: {err:?}"),
    }
}

/// Every cut below the head's end waits for more; every cut at all gives
/// "need more" or the same answer; the head alone gives the answer.
fn check_cuts(input: &[u8], answer: &Answer, head_end: Option<usize>) {
    let used = match answer {
        Ok(Some((_, used))) => Some(*used),
        Err(err) => err.resume.map(|resume| resume.used),
        Ok(None) => None,
    };
    if let Some(used) = used {
        assert_eq!(
            &parse_request(&input[..used]),
            answer,
            "the head alone, {used} bytes"
        );
    }
    let limit = head_end.unwrap_or(input.len());
    for cut in cut_points(input, limit) {
        let got = parse_request(&input[..cut]);
        if head_end.is_some() {
            assert_eq!(got, Ok(None), "cut at {cut}, before the head's end {limit}");
        } else {
            assert!(
                got == Ok(None) || got == *answer,
                "cut at {cut}: {got:?}, whole: {answer:?}"
            );
        }
    }
}

/// Every position below `limit` for short inputs; for long ones, the edges,
/// the middle and around each of the first line ends (a head cut there
/// looks most complete).
fn cut_points(input: &[u8], limit: usize) -> Vec<usize> {
    if limit <= 256 {
        return (0..limit).collect();
    }
    let mut cuts = vec![0, 1, limit / 2, limit - 2, limit - 1, MAX_HEAD - 1];
    cuts.extend(
        input[..limit]
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .take(80)
            .flat_map(|(at, _)| [at, at + 1]),
    );
    cuts.retain(|&cut| cut < limit);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

// ---------------------------------------------------------------------------
// The head reference

/// httparse's view of the front of an input, with the same window and
/// header limit as `request.rs`.
enum Split<'a> {
    /// No complete head yet, and room for one.
    Incomplete,
    /// Bytes that are no head, or no room left: the status, and the
    /// connection closes.
    Refused(u16),
    /// A complete head.
    Head(Head<'a>),
}

/// A complete head cut into its parts.
struct Head<'a> {
    used: usize,
    method: &'a str,
    path: &'a str,
    http10: bool,
    fields: Vec<(&'a str, &'a [u8])>,
}

fn split_head(input: &[u8]) -> Split<'_> {
    let window = &input[..input.len().min(MAX_HEAD)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(window) {
        Ok(httparse::Status::Complete(used)) => Split::Head(Head {
            used,
            method: request.method.unwrap_or_default(),
            path: request.path.unwrap_or_default(),
            http10: request.version == Some(0),
            fields: request.headers.iter().map(|h| (h.name, h.value)).collect(),
        }),
        Ok(httparse::Status::Partial) if window.len() == MAX_HEAD => Split::Refused(431),
        Ok(httparse::Status::Partial) => Split::Incomplete,
        Err(httparse::Error::TooManyHeaders) => Split::Refused(431),
        Err(httparse::Error::Version) => Split::Refused(505),
        Err(_) => Split::Refused(400),
    }
}

/// What a complete head's fields say.
struct Meaning {
    /// The body's framing, or the statuses allowed when it is lost.
    framing: Result<BodyLength, Vec<u16>>,
    method: Option<Method>,
    /// The refusals that apply (any one may be answered).
    refusals: Vec<u16>,
    target: Result<Target, Vec<u16>>,
    close: bool,
    expect_continue: bool,
    checksum: Option<u32>,
}

fn meaning(head: &Head<'_>) -> Meaning {
    let fields = |name: &'static str| {
        head.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| trim_ows(value))
    };
    let framing = framing(head.http10, &head.fields);
    let method = match head.method {
        "GET" => Some(Method::Get),
        "HEAD" => Some(Method::Head),
        "PUT" => Some(Method::Put),
        "DELETE" => Some(Method::Delete),
        _ => None,
    };
    let mut refusals = Vec::new();
    if method.is_none() {
        refusals.push(405);
    }
    let hosts: Vec<&[u8]> = fields("host").collect();
    let bad_host = |host: &[u8]| host.iter().any(|&b| !b.is_ascii_graphic() || b == b'/');
    if hosts.iter().copied().any(bad_host) || (!head.http10 && hosts.len() != 1) {
        refusals.push(400);
    }
    // Expectations other than 100-continue are ignored, never a 417.
    let expects: Vec<&[u8]> = fields("expect").collect();
    let continues = |value: &[u8]| value.trim_ascii().eq_ignore_ascii_case(b"100-continue");
    let (checksum, bad_checksum) = checksum(fields("x-checksum-crc32c"));
    if bad_checksum {
        refusals.push(400);
    }
    if method.is_some_and(|m| m != Method::Put)
        && framing.as_ref().is_ok_and(|&b| b != BodyLength::Fixed(0))
    {
        refusals.push(400);
    }
    let close = persistence(head.http10, fields("connection"));
    Meaning {
        framing,
        method,
        refusals,
        target: target(head.path),
        close,
        expect_continue: !head.http10 && expects.iter().copied().any(continues),
        checksum,
    }
}

/// RFC 9112 §6.1-6.3 as ferry narrows it: `Content-Length` is digits only
/// (after optional whitespace) and every copy agrees; `chunked` is the only
/// transfer coding (501 for others), given once, not in HTTP/1.0, and never
/// beside a `Content-Length`. `Ok`: the body; `Err`: the framing is lost and
/// the connection closes with one of these statuses.
pub fn framing(http10: bool, fields: &[(&str, &[u8])]) -> Result<BodyLength, Vec<u16>> {
    let values = |name: &'static str| {
        fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| trim_ows(value))
    };
    let lengths: Vec<Option<u64>> = values("content-length").map(digits).collect();
    let codings: Vec<&[u8]> = values("transfer-encoding").collect();
    let mut lost = Vec::new();
    if lengths.contains(&None) || lengths.windows(2).any(|pair| pair[0] != pair[1]) {
        lost.push(400);
    }
    if codings.iter().any(|c| !c.eq_ignore_ascii_case(b"chunked")) {
        lost.push(501);
    }
    if codings.len() > 1 || (!codings.is_empty() && (http10 || !lengths.is_empty())) {
        lost.push(400);
    }
    if !lost.is_empty() {
        return Err(lost);
    }
    Ok(match (codings.is_empty(), lengths.first()) {
        (false, _) => BodyLength::Chunked,
        (true, Some(&Some(length))) => BodyLength::Fixed(length),
        (true, _) => BodyLength::Fixed(0),
    })
}

/// RFC 9112 §9.3: `close` among the `Connection` options closes; otherwise
/// HTTP/1.0 closes unless `keep-alive` is among them; the order of the
/// options does not matter.
fn persistence<'a>(http10: bool, fields: impl Iterator<Item = &'a [u8]>) -> bool {
    let options: Vec<&[u8]> = fields
        .flat_map(|value| value.split(|&b| b == b','))
        .map(trim_ows)
        .collect();
    let has = |option: &[u8]| options.iter().any(|o| o.eq_ignore_ascii_case(option));
    has(b"close") || (http10 && !has(b"keep-alive"))
}

/// `X-Checksum-Crc32c`: exactly 8 hex digits (after optional whitespace);
/// any other value (a sign, a no-break space...) is refused. Returns the
/// last value and whether one is refused.
fn checksum<'a>(values: impl Iterator<Item = &'a [u8]>) -> (Option<u32>, bool) {
    let mut last = None;
    let mut refused = false;
    for value in values {
        let strict = (value.len() == 8)
            .then(|| {
                value
                    .iter()
                    .try_fold(0u32, |acc, &b| Some(acc << 4 | hex(b)?))
            })
            .flatten();
        match strict {
            Some(crc) => last = Some(crc),
            None => refused = true,
        }
    }
    (last, refused)
}

/// An origin-form target: `/`, then a path, then an ignored `?query`. An
/// empty path (or `/` alone) is the root listing, one ending in `/` the listing of the
/// directory before it (a valid name), anything else a file name. `Err`: the
/// statuses the name rules allow.
fn target(path: &str) -> Result<Target, Vec<u16>> {
    let path = path.split('?').next().unwrap_or_default();
    let Some(path) = path.strip_prefix('/') else {
        return Err(vec![400]);
    };
    if path.is_empty() {
        return Ok(Target::Listing(
            Prefix::decode(b"").expect("the root is a prefix"),
        ));
    }
    let Some(dir) = path.strip_suffix('/') else {
        return Name::decode(path.as_bytes())
            .map(Target::File)
            .map_err(|err| vec![ErrorKind::from(err).code()]);
    };
    // `//`: the listing of the top folder, named empty, is the root's.
    if dir.is_empty() {
        return Ok(Target::Listing(
            Prefix::decode(b"").expect("the root is a prefix"),
        ));
    }
    match (
        Name::decode(dir.as_bytes()),
        Prefix::decode(path.as_bytes()),
    ) {
        (Ok(_), Ok(prefix)) => Ok(Target::Listing(prefix)),
        (name, prefix) => Err([name.err(), prefix.err()]
            .into_iter()
            .flatten()
            .map(|err| ErrorKind::from(err).code())
            .collect()),
    }
}

/// Compares the answer with the reference's.
fn check_reference(answer: &Answer, split: &Split<'_>) {
    let head = match split {
        Split::Incomplete => {
            assert_eq!(answer, &Ok(None), "no complete head yet");
            return;
        }
        Split::Refused(status) => {
            match answer {
                Err(err) => assert_eq!(
                    (err.status, err.resume),
                    (*status, None),
                    "not a head: {err:?}"
                ),
                Ok(got) => panic!("not a head, answered with {got:?}"),
            }
            return;
        }
        Split::Head(head) => head,
    };
    let meaning = meaning(head);
    let body = match (&meaning.framing, answer) {
        (Err(lost), Err(err)) => {
            assert!(
                err.resume.is_none() && lost.contains(&err.status),
                "framing lost ({lost:?} allowed), answered {err:?}"
            );
            return;
        }
        (Err(lost), got) => panic!("framing lost ({lost:?} allowed), answered {got:?}"),
        (Ok(_), Ok(None)) => panic!("a complete head waits for more"),
        (Ok(body), _) => *body,
    };
    match answer {
        Ok(Some((request, used))) => {
            assert!(
                meaning.refusals.is_empty(),
                "served though {:?} apply: {request:?}",
                meaning.refusals
            );
            assert_eq!(Ok(&request.target), meaning.target.as_ref(), "target");
            assert_eq!(*used, head.used, "head length");
            assert_eq!(Some(request.method), meaning.method, "method");
            assert_eq!(request.body, body, "body framing");
            assert_eq!(request.http10, head.http10, "version");
            assert_eq!(
                request.expect_continue, meaning.expect_continue,
                "100-continue"
            );
            assert_eq!(request.close, meaning.close, "persistence: {request:?}");
            assert_eq!(request.checksum, meaning.checksum, "checksum");
        }
        Err(err) => {
            let resume = err
                .resume
                .unwrap_or_else(|| panic!("sound framing, yet {err:?} closes"));
            let allowed = match (&meaning.refusals[..], &meaning.target) {
                ([], Ok(target)) => panic!("refused {err:?}, the rules serve {target:?}"),
                ([], Err(codes)) => codes,
                (refusals, _) => refusals,
            };
            assert!(
                allowed.contains(&err.status),
                "refused {err:?}, the rules allow {allowed:?}"
            );
            assert_eq!(resume.used, head.used, "head length");
            assert_eq!(resume.body, body, "body framing");
            assert_eq!(resume.http10, head.http10, "version");
            assert_eq!(resume.head, head.method == "HEAD", "HEAD");
            assert_eq!(
                resume.expect_continue, meaning.expect_continue,
                "100-continue"
            );
            // A 417 closes (it is also what a 405 that beat it answers).
            if resume.close != meaning.close {
                assert!(
                    resume.close && meaning.refusals.contains(&417),
                    "persistence: {err:?}"
                );
            }
        }
        Ok(None) => unreachable!("handled above"),
    }
}

/// Optional whitespace (SP, HTAB) trimmed from both ends.
fn trim_ows(value: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !ows(b))
        .map_or(start, |at| at + 1);
    &value[start..end]
}

/// `1*DIGIT`, at most 2^64 - 1.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn hex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

// ---------------------------------------------------------------------------
// Chunked bodies

/// What a body gives, whole: the reference's answer, or what feeding it to a
/// decoder gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The body ends after `used` bytes (the rest belongs to the next
    /// request) and carries `payload`.
    Done { payload: Vec<u8>, used: usize },
    /// Everything is used and more is needed; `payload` so far.
    Incomplete { payload: Vec<u8> },
    /// Malformed, or over the framing cap; `payload` given before.
    Invalid { payload: Vec<u8> },
}

/// Feeds arbitrary bytes to fresh decoders, whole and in pieces of the
/// sizes in `pieces` (cycled), and checks:
///
/// - no panic; every call uses at most what it is given, and its payload is
///   the tail of what it used; a call that uses nothing is a finished body;
/// - once done, nothing more is used;
/// - the payload, the bytes used and the outcome are the reference's,
///   however the input is cut.
pub fn check_chunked(input: &[u8], pieces: &[usize]) {
    let want = reference_chunked(input);
    for sizes in [&[][..], pieces] {
        let got = feed(input, sizes);
        match &want {
            Decoded::Invalid { payload } => assert!(
                matches!(&got, Decoded::Invalid { payload: p } if p == payload),
                "malformed: the reference {want:?}, the decoder {got:?}"
            ),
            _ => assert_eq!(got, want, "pieces {sizes:?}"),
        }
    }
}

/// Feeds a valid encoding of `body`, followed by `after`, in pieces, and
/// checks that it gives exactly the payload and stops exactly at the body's
/// end; cut short, it waits for more with the payload so far.
pub fn check_chunked_body(body: &ChunkedBody, pieces: &[usize], after: &[u8]) {
    let encoded = body.encode();
    let payload = body.payload();
    let whole = Decoded::Done {
        payload: payload.clone(),
        used: encoded.len(),
    };
    assert_eq!(
        reference_chunked(&encoded),
        whole,
        "the reference refuses a valid body"
    );
    let mut input = encoded.clone();
    input.extend_from_slice(after);
    assert_eq!(
        feed(&input, pieces),
        whole,
        "{:?}",
        String::from_utf8_lossy(&encoded)
    );
    check_chunked(&input, pieces);
    let cut = pieces.iter().sum::<usize>() % encoded.len();
    assert!(
        matches!(feed(&encoded[..cut], pieces), Decoded::Incomplete { .. }),
        "cut at {cut}"
    );
    check_chunked(&encoded[..cut], pieces);
}

/// A fuzz input as a chunked test: the first byte picks the mode and how
/// many piece sizes follow; then arbitrary bytes for [`check_chunked`], or
/// the recipe of a valid body for [`check_chunked_body`].
pub fn fuzz_chunked(data: &[u8]) {
    let mut bytes = Cursor(data);
    let mode = bytes.byte();
    let pieces: Vec<usize> = bytes
        .take(usize::from(mode >> 4))
        .iter()
        .map(|&b| usize::from(b) + 1)
        .collect();
    if mode & 1 == 0 {
        check_chunked(bytes.0, &pieces);
    } else {
        let body = ChunkedBody::from_recipe(&mut bytes);
        check_chunked_body(&body, &pieces, bytes.0);
    }
}

/// Feeds `input` to a fresh decoder in pieces of the sizes in `pieces`
/// (cycled; none: whole), as a connection does: each piece until the
/// decoder stops taking bytes. Checks every call on the way.
pub fn feed(input: &[u8], pieces: &[usize]) -> Decoded {
    let mut decoder = ChunkDecoder::default();
    let mut payload = Vec::new();
    let mut used_total = 0;
    let mut sizes = pieces.iter().copied().cycle();
    let mut at = 0;
    while at < input.len() {
        let size = sizes
            .next()
            .unwrap_or(input.len())
            .clamp(1, input.len() - at);
        let mut piece = &input[at..at + size];
        at += size;
        while !piece.is_empty() {
            let was_done = decoder.is_done();
            let Ok((used, got)) = decoder.decode(piece) else {
                assert!(!was_done, "a finished body failed");
                return Decoded::Invalid { payload };
            };
            assert!(used <= piece.len(), "used {used} of {}", piece.len());
            assert!(got.len() <= used, "{} payload bytes in {used}", got.len());
            if !got.is_empty() {
                assert!(
                    std::ptr::eq(got.as_ptr(), piece[used - got.len()..].as_ptr()),
                    "the payload is not the tail of the bytes used"
                );
            }
            if was_done {
                assert_eq!((used, got.len()), (0, 0), "used bytes after the end");
            }
            payload.extend_from_slice(got);
            used_total += used;
            piece = &piece[used..];
            if used == 0 {
                assert!(decoder.is_done(), "no progress on {} bytes", piece.len());
                break;
            }
        }
    }
    if decoder.is_done() {
        assert_eq!(decoder.decode(NEXT), Ok((0, &[][..])), "used after the end");
        Decoded::Done {
            payload,
            used: used_total,
        }
    } else {
        assert_eq!(used_total, input.len(), "unfinished, yet bytes left unused");
        Decoded::Incomplete { payload }
    }
}

/// The grammar, over the whole input at once:
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ ";" ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*16("0") [ ";" ext ] CRLF
/// chunk-size   = 1*16HEXDIG           ; not all zeros
/// ext          = *( any byte but CR and LF )
/// trailer-section = *( 1*( any byte but CR and LF ) CRLF )
/// ```
///
/// and the cap: a chunk's size line, or the last chunk's line with the
/// trailer section and final CRLF, is at most [`MAX_FRAMING`] bytes; more
/// bytes of either than that (even unfinished) are refused.
pub fn reference_chunked(input: &[u8]) -> Decoded {
    let mut payload = Vec::new();
    let mut pos = 0;
    loop {
        let run = pos;
        let over = |end: usize| end - run > MAX_FRAMING;
        let (size, line_end) = match size_line(input, pos) {
            Line::Complete(size, end) => (size, end),
            Line::Incomplete if !over(input.len()) => return Decoded::Incomplete { payload },
            Line::Incomplete | Line::Invalid => return Decoded::Invalid { payload },
        };
        if size == 0 {
            return match trailer_section(input, line_end) {
                Line::Complete(_, end) if !over(end) => Decoded::Done { payload, used: end },
                Line::Incomplete if !over(input.len()) => Decoded::Incomplete { payload },
                _ => Decoded::Invalid { payload },
            };
        }
        if over(line_end) {
            return Decoded::Invalid { payload };
        }
        let available = input.len() - line_end;
        if (available as u64) < size {
            payload.extend_from_slice(&input[line_end..]);
            return Decoded::Incomplete { payload };
        }
        let data_end = line_end + size as usize;
        payload.extend_from_slice(&input[line_end..data_end]);
        match &input[data_end..] {
            [b'\r', b'\n', ..] => pos = data_end + 2,
            [] | [b'\r'] => return Decoded::Incomplete { payload },
            _ => return Decoded::Invalid { payload },
        }
    }
}

/// A line of framing: complete (a value and the end, CRLF included), not
/// yet complete, or malformed.
enum Line {
    Complete(u64, usize),
    Incomplete,
    Invalid,
}

/// `chunk-size [ ";" ext ] CRLF` at `pos`.
fn size_line(input: &[u8], pos: usize) -> Line {
    let mut at = pos;
    let mut size = 0u64;
    while let Some(digit) = input.get(at).and_then(|&b| hex(b)) {
        if at - pos == 16 {
            return Line::Invalid;
        }
        size = size << 4 | u64::from(digit);
        at += 1;
    }
    if at == input.len() {
        return Line::Incomplete;
    }
    if at == pos {
        return Line::Invalid;
    }
    if input[at] == b';' {
        at += input[at..]
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len() - at);
    }
    match &input[at..] {
        [b'\r', b'\n', ..] => Line::Complete(size, at + 2),
        [] | [b'\r'] => Line::Incomplete,
        _ => Line::Invalid,
    }
}

/// Trailer lines up to the empty line, at `pos`; the end, CRLF included.
fn trailer_section(input: &[u8], mut pos: usize) -> Line {
    loop {
        let len = input[pos..]
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len() - pos);
        match &input[pos + len..] {
            [b'\r', b'\n', ..] if len == 0 => return Line::Complete(0, pos + 2),
            [b'\r', b'\n', ..] => pos += len + 2,
            [] | [b'\r'] => return Line::Incomplete,
            _ => return Line::Invalid,
        }
    }
}

/// A valid chunked body, with the freedoms of spelling the grammar allows.
#[derive(Debug, Clone, Default)]
pub struct ChunkedBody {
    /// Data chunks; empty ones are left out (size 0 is the last chunk).
    pub chunks: Vec<Chunk>,
    /// Leading zeros on the last chunk's `0`.
    pub last_zeros: usize,
    /// The last chunk's extension.
    pub last_ext: Option<Vec<u8>>,
    /// Trailer lines; CR and LF become spaces, empty ones are left out.
    pub trailers: Vec<Vec<u8>>,
}

/// One data chunk and the spelling of its size line.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// Its bytes.
    pub data: Vec<u8>,
    /// Leading zeros on the size (at most 16 digits in all).
    pub zeros: usize,
    /// Upper-case hex.
    pub upper: bool,
    /// Extension after `;` (CR and LF become spaces).
    pub ext: Option<Vec<u8>>,
}

impl ChunkedBody {
    /// The data of all chunks.
    pub fn payload(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.data.iter().copied())
            .collect()
    }

    /// The body on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in self.chunks.iter().filter(|c| !c.data.is_empty()) {
            size_line_of(
                &mut out,
                chunk.data.len(),
                chunk.zeros,
                chunk.upper,
                &chunk.ext,
            );
            out.extend_from_slice(&chunk.data);
            out.extend_from_slice(b"\r\n");
        }
        size_line_of(&mut out, 0, self.last_zeros, false, &self.last_ext);
        for line in self.trailers.iter().filter(|l| !l.is_empty()) {
            out.extend(line.iter().map(|&b| unbreak(b)));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// A body from fuzz bytes: chunk count, then per chunk its size (data
    /// is a pattern, so large chunks cost two bytes) and spelling, then the
    /// last chunk and trailers. Framing stays well under the cap.
    fn from_recipe(bytes: &mut Cursor<'_>) -> ChunkedBody {
        let chunks = (0..bytes.byte() % 8)
            .map(|_| {
                let len = usize::from(bytes.byte()) | usize::from(bytes.byte() % 64) << 8;
                let seed = bytes.byte();
                let spelling = bytes.byte();
                Chunk {
                    data: (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect(),
                    zeros: usize::from(spelling & 7),
                    upper: spelling & 8 != 0,
                    ext: (spelling & 16 != 0).then(|| {
                        let len = usize::from(bytes.byte() % 64);
                        bytes.take(len).to_vec()
                    }),
                }
            })
            .collect();
        let spelling = bytes.byte();
        let last_ext = (spelling & 16 != 0).then(|| {
            let len = usize::from(bytes.byte() % 64);
            bytes.take(len).to_vec()
        });
        let trailers = (0..spelling >> 6)
            .map(|_| {
                let len = usize::from(bytes.byte() % 64);
                bytes.take(len).to_vec()
            })
            .collect();
        ChunkedBody {
            chunks,
            last_zeros: usize::from(spelling & 15),
            last_ext,
            trailers,
        }
    }
}

/// `[zeros]size[;ext]CRLF`, at most 16 digits.
fn size_line_of(out: &mut Vec<u8>, size: usize, zeros: usize, upper: bool, ext: &Option<Vec<u8>>) {
    let digits = if upper {
        format!("{size:X}")
    } else {
        format!("{size:x}")
    };
    out.extend(std::iter::repeat_n(b'0', zeros.min(16 - digits.len())));
    out.extend_from_slice(digits.as_bytes());
    if let Some(ext) = ext {
        out.push(b';');
        out.extend(ext.iter().map(|&b| unbreak(b)));
    }
    out.extend_from_slice(b"\r\n");
}

/// A byte that cannot end a line early.
fn unbreak(b: u8) -> u8 {
    if b == b'\r' || b == b'\n' { b' ' } else { b }
}

/// Fuzz bytes read front to back; zeros once they run out.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }
}
