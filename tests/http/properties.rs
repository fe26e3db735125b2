//! Property tests for the HTTP/1.1 parsers, bounded so they run inside
//! `cargo test` in a few seconds: `parse_request` (request heads) and
//! `ChunkDecoder` (chunked bodies).
//!
//! They check the same invariants as the cargo-fuzz targets `http_request`
//! and `chunked` (the checks are shared: `fuzz/src/http.rs`), on generated
//! rather than fuzzed input:
//!
//! - heads built from every method, file and listing targets (UTF-8, escapes
//!   in either case, queries), both versions and the header set ferry reads,
//!   spelled every allowed way (field-name case, whitespace around values,
//!   CRLF or bare LF, empty lines before, any field order, unknown and
//!   non-UTF-8 fields): parsed to exactly the request meant, using exactly
//!   the head's bytes;
//! - the same heads with one refusal in them (method, Host, Expect,
//!   checksum, a body on GET, a bad name): that status, and what the
//!   connection needs to go on; with lost framing (bad, conflicting or
//!   doubled lengths and codings): that status, and the connection closes;
//! - mutations of valid heads, HTTP-shaped token soup and random bytes:
//!   every invariant, and the reference's answer;
//! - heads around the 8 KiB and 64-field caps;
//! - a pipelined stream of requests with fixed and chunked bodies (refused
//!   ones included), cut into random pieces: the same requests and payloads
//!   as the whole stream;
//! - valid chunked bodies (random chunk sizes, extensions, trailers, hex
//!   case, leading zeros) fed in random pieces with bytes after them:
//!   exactly the payload, stopping exactly at the end; random, mutated and
//!   chunk-shaped bytes: the reference grammar's answer; the 4 KiB framing
//!   cap at its edge;
//! - hand-picked nasty inputs.
//!
//! Longer runs: `PROPTEST_CASES=20000 cargo test --release --test http
//! properties::`, or the fuzzers (`fuzz/README.md`). A failing case is
//! printed shrunk; add it to `nasty_inputs_hold_every_invariant`. Parser
//! bugs found this way keep a test of their own (`regression_*`).

use crate::edits;
#[path = "../../fuzz/src/http.rs"]
mod invariants;

use edits::{config, mutate, mutation};
use ferry::http::fields::url_path;
use ferry::http::message::{HttpError, MAX_HEAD, Resume};
use ferry::http::origin::Provenance;
use ferry::http::{BodyLength, ChunkDecoder, HttpRequest, Method, Target, parse_request};
use ferry::name::{Name, Prefix, encode};
use invariants::{
    Chunk, ChunkedBody, Decoded, MAX_FRAMING, MAX_HEADERS, check_chunked, check_chunked_body,
    check_parse_request, feed, framing, fuzz_chunked, reference_chunked,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Bytes HTTP heads and chunked framing turn on, for inserted bytes.
const TELLING: &[u8] = &[
    b' ', b'\t', b'\r', b'\n', b':', b',', b';', b'%', b'/', b'?', b'0', b'f', 0, 0x7f, 0x80, 0xff,
];

// ---------------------------------------------------------------------------
// Heads: what a request says, and how it is spelled

/// A valid name segment: ASCII with characters that need escaping in a URL
/// (space, `%`, `?`, `#`), dots, multi-byte UTF-8.
fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 %?#._~+=\u{a0}üß€コ😀-]{1,10}".prop_filter("not a dot segment or reserved", |s| {
        s != "." && s != ".." && !s.starts_with(".ferry-")
    })
}

fn name_text() -> impl Strategy<Value = String> {
    vec(segment(), 1..=4).prop_map(|segments| segments.join("/"))
}

/// What a request names: a file, a directory listing, or the root.
#[derive(Debug, Clone)]
enum What {
    File(String),
    Listing(String),
    Root,
}

/// How a body is framed.
#[derive(Debug, Clone)]
enum Framing {
    /// No framing field.
    Bare,
    /// `copies` equal `Content-Length` fields, `zeros` leading zeros.
    Length {
        len: u64,
        zeros: usize,
        copies: usize,
    },
    /// `Transfer-Encoding` with this spelling of `chunked`.
    Chunked(&'static str),
}

impl Framing {
    fn body(&self) -> BodyLength {
        match self {
            Framing::Bare => BodyLength::Fixed(0),
            Framing::Length { len, .. } => BodyLength::Fixed(*len),
            Framing::Chunked(_) => BodyLength::Chunked,
        }
    }
}

/// A request ferry serves, and the freedoms in spelling it.
#[derive(Debug, Clone)]
struct Spec {
    /// Empty lines before the request line: CRLF (`true`) or LF.
    blank: Vec<bool>,
    method: Method,
    what: What,
    /// Non-ASCII bytes raw in the target rather than escaped.
    raw_utf8: bool,
    /// Upper-case hex in escapes and the checksum.
    upper: bool,
    query: Option<&'static str>,
    http10: bool,
    host: Option<&'static str>,
    framing: Framing,
    /// `Connection` value and whether it means close (for HTTP/1.1 and 1.0).
    connection: Option<(&'static str, bool, bool)>,
    expect: Option<&'static str>,
    checksum: Option<u32>,
    /// `Accept` value and whether it prefers JSON.
    accept: Option<(&'static str, bool)>,
    range: Option<&'static str>,
    if_none_match: Vec<&'static str>,
    if_modified_since: Option<&'static str>,
    if_range: Option<&'static str>,
    /// Fields ferry does not read.
    extra: Vec<(&'static str, &'static [u8])>,
    /// Field-name case per field, cycled: as is, lower, upper.
    case: Vec<u8>,
    /// Whitespace before and after each value, cycled.
    ows: Vec<(&'static str, &'static str)>,
    /// Bare LF instead of CRLF per line, cycled.
    lf: Vec<bool>,
    /// Swaps applied to the field order.
    order: Vec<(Index, Index)>,
}

const CONNECTIONS: &[(&str, bool, bool)] = &[
    // (value, closes in HTTP/1.1, closes in HTTP/1.0)
    ("close", true, true),
    ("Close", true, true),
    ("keep-alive", false, false),
    ("Keep-Alive", false, false),
    ("upgrade", false, true),
    ("close, upgrade", true, true),
    ("TE,keep-alive", false, false),
    ("", false, true),
];

const ACCEPTS: &[(&str, bool)] = &[
    ("application/json", true),
    ("APPLICATION/JSON", true),
    ("text/html;q=0.5, application/json", true),
    ("application/json;q=0", false),
    ("text/html", false),
    ("*/*", false),
];

const EXTRA: &[(&str, &[u8])] = &[
    ("User-Agent", b"caf\xe9 client/1.0"),
    ("X-Obs-Text", b"\x80\xff\xfe"),
    ("Cookie", b"a=b; c=d"),
    ("X-Empty", b""),
    ("Content-Type", b"application/octet-stream"),
    ("Accept-Encoding", b"gzip, deflate"),
    ("X-Connection", b"close"),
    ("Content-Length-Extra", b"abc"),
    ("Transfer-Encodings", b"gzip"),
    ("X-Hosts", b"a/b"),
];

fn spec(max_body: u64) -> impl Strategy<Value = Spec> {
    let what = prop_oneof![
        3 => name_text().prop_map(What::File),
        1 => name_text().prop_map(What::Listing),
        1 => Just(What::Root),
    ];
    let framing = prop_oneof![
        Just(Framing::Bare),
        (0..=max_body, 0usize..3, 1usize..3).prop_map(|(len, zeros, copies)| Framing::Length {
            len,
            zeros,
            copies
        }),
        select(vec!["chunked", "Chunked", "CHUNKED"]).prop_map(Framing::Chunked),
    ];
    let head = (
        vec(any::<bool>(), 0..3),
        select(vec![Method::Get, Method::Head, Method::Put, Method::Delete]),
        what,
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.2, select(vec!["", "x=1", "a/../b", "%zz", "?"])),
        prop::bool::weighted(0.2),
        select(vec![
            "h",
            "example.com:8080",
            "[::1]:80",
            "",
            "xn--bcher-kva.example",
        ]),
        framing,
    );
    let fields = (
        proptest::option::of(select(CONNECTIONS)),
        proptest::option::weighted(
            0.3,
            select(vec!["100-continue", "100-Continue", "100-CONTINUE"]),
        ),
        proptest::option::of(any::<u32>()),
        proptest::option::of(select(ACCEPTS)),
        proptest::option::of(select(vec!["bytes=0-9", "bytes=-5", "items=1-2"])),
        vec(select(vec!["\"a\"", "*", "W/\"b\""]), 0..3),
        proptest::option::of(Just("Sun, 06 Nov 1994 08:49:37 GMT")),
        proptest::option::of(select(vec!["\"v1\"", "Sun, 06 Nov 1994 08:49:37 GMT"])),
        vec(select(EXTRA), 0..4),
    );
    let spelling = (
        vec(0u8..3, 1..6),
        vec(
            select(vec![
                ("", ""),
                (" ", ""),
                (" ", " "),
                ("\t", "\t "),
                ("  ", ""),
            ]),
            1..6,
        ),
        vec(prop::bool::weighted(0.2), 1..6),
        vec((any::<Index>(), any::<Index>()), 0..6),
    );
    (head, fields, spelling).prop_map(
        |(
            (blank, method, what, raw_utf8, upper, query, http10, host, framing),
            (connection, expect, checksum, accept, range, inm, ims, if_range, extra),
            (case, ows, lf, order),
        )| {
            let mut spec = Spec {
                blank,
                method,
                what,
                raw_utf8,
                upper,
                query,
                http10,
                host: Some(host),
                framing,
                connection,
                expect,
                checksum,
                accept,
                range,
                if_none_match: inm,
                if_modified_since: ims,
                if_range,
                extra,
                case,
                ows,
                lf,
                order,
            };
            // Only PUT carries a body; HTTP/1.0 has no chunked coding and
            // may leave Host out.
            if spec.method != Method::Put {
                spec.framing = match spec.framing {
                    Framing::Length { zeros, copies, .. } => Framing::Length {
                        len: 0,
                        zeros,
                        copies,
                    },
                    _ => Framing::Bare,
                };
            }
            if spec.http10 && matches!(spec.framing, Framing::Chunked(_)) {
                spec.framing = Framing::Bare;
            }
            if spec.http10 && spec.order.len() % 2 == 1 {
                spec.host = None;
            }
            spec
        },
    )
}

/// The target as sent: escaped like `url_path` (either hex case), non-ASCII
/// raw if asked, then the query.
fn target_bytes(spec: &Spec) -> Vec<u8> {
    let path = match &spec.what {
        What::File(name) => format!("/{name}"),
        What::Listing(dir) => format!("/{dir}/"),
        What::Root => "/".to_owned(),
    };
    let mut out = Vec::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric()
            || b"-._~/".contains(&byte)
            || (spec.raw_utf8 && byte >= 0x80)
        {
            out.push(byte);
        } else if spec.upper {
            out.extend(format!("%{byte:02X}").bytes());
        } else {
            out.extend(format!("%{byte:02x}").bytes());
        }
    }
    if let Some(query) = spec.query {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Move => "MOVE",
    }
}

/// Header fields, names and values, in order, before spelling.
type Fields = Vec<(&'static str, Vec<u8>)>;

/// The fields, in order, before spelling.
fn fields(spec: &Spec) -> Fields {
    let mut fields: Fields = Vec::new();
    if let Some(host) = spec.host {
        fields.push(("Host", host.into()));
    }
    match &spec.framing {
        Framing::Bare => {}
        Framing::Length { len, zeros, copies } => {
            for _ in 0..*copies {
                fields.push((
                    "Content-Length",
                    format!("{}{len}", "0".repeat(*zeros)).into(),
                ));
            }
        }
        Framing::Chunked(coding) => fields.push(("Transfer-Encoding", coding.as_bytes().into())),
    }
    if let Some((value, _, _)) = spec.connection {
        fields.push(("Connection", value.into()));
    }
    if let Some(expect) = spec.expect {
        fields.push(("Expect", expect.into()));
    }
    if let Some(crc) = spec.checksum {
        let hex = if spec.upper {
            format!("{crc:08X}")
        } else {
            format!("{crc:08x}")
        };
        fields.push(("X-Checksum-Crc32c", hex.into()));
    }
    if let Some((accept, _)) = spec.accept {
        fields.push(("Accept", accept.into()));
    }
    if let Some(range) = spec.range {
        fields.push(("Range", range.into()));
    }
    for tag in &spec.if_none_match {
        fields.push(("If-None-Match", tag.as_bytes().into()));
    }
    if let Some(date) = spec.if_modified_since {
        fields.push(("If-Modified-Since", date.into()));
    }
    if let Some(validator) = spec.if_range {
        fields.push(("If-Range", validator.into()));
    }
    for (name, value) in &spec.extra {
        fields.push((name, value.to_vec()));
    }
    let len = fields.len();
    if len > 1 {
        for (a, b) in &spec.order {
            fields.swap(a.index(len), b.index(len));
        }
    }
    fields
}

/// The head on the wire for `spec`, with this request line and these
/// fields.
fn render_fields(spec: &Spec, method: &str, target: &[u8], fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut lines = 0;
    let mut eol = |out: &mut Vec<u8>| {
        if spec.lf[lines % spec.lf.len()] {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
        lines += 1;
    };
    let mut out = Vec::new();
    for &crlf in &spec.blank {
        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(if spec.http10 {
        b" HTTP/1.0"
    } else {
        b" HTTP/1.1"
    });
    eol(&mut out);
    for (i, (name, value)) in fields.iter().enumerate() {
        let name = match spec.case[i % spec.case.len()] {
            0 => name.to_string(),
            1 => name.to_ascii_lowercase(),
            _ => name.to_ascii_uppercase(),
        };
        let (before, after) = spec.ows[i % spec.ows.len()];
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(before.as_bytes());
        out.extend_from_slice(value);
        out.extend_from_slice(after.as_bytes());
        eol(&mut out);
    }
    eol(&mut out);
    out
}

fn render(spec: &Spec) -> Vec<u8> {
    render_fields(
        spec,
        method_name(spec.method),
        &target_bytes(spec),
        &fields(spec),
    )
}

fn expected_target(what: &What) -> Target {
    match what {
        What::File(name) => {
            Target::File(Name::new(name.clone()).expect("generated names are valid"))
        }
        What::Listing(dir) => Target::Listing(
            Prefix::decode(format!("{}/", encode(dir)).as_bytes()).expect("a valid directory"),
        ),
        What::Root => Target::Listing(Prefix::decode(b"").expect("the root")),
    }
}

/// Exactly the request `spec` describes.
fn expected(spec: &Spec) -> HttpRequest {
    let fields = fields(spec);
    let inm: Vec<&str> = fields
        .iter()
        .filter(|(name, _)| *name == "If-None-Match")
        .map(|(_, value)| std::str::from_utf8(value).expect("ASCII tags"))
        .collect();
    let close = match spec.connection {
        Some((_, close11, close10)) => {
            if spec.http10 {
                close10
            } else {
                close11
            }
        }
        None => spec.http10,
    };
    HttpRequest {
        method: spec.method,
        target: expected_target(&spec.what),
        body: spec.framing.body(),
        close,
        expect_continue: !spec.http10 && spec.expect.is_some(),
        range: spec.range.map(str::to_owned),
        if_none_match: (!inm.is_empty()).then(|| inm.join(", ")),
        if_modified_since: spec.if_modified_since.map(str::to_owned),
        if_range: spec.if_range.map(str::to_owned),
        wants_json: spec.accept.is_some_and(|(_, json)| json),
        // Every `text/html` the generator sends has a weight above 0.
        wants_page: spec
            .accept
            .is_some_and(|(accept, _)| accept.contains("text/html")),
        // The generator's targets carry no query.
        wants_archive: None,
        plain: false,
        search: None,
        checksum: spec.checksum,
        mtime: None,
        http10: spec.http10,
        // The generator sends no Authorization (see src/http/auth.rs).
        token: None,
        // Nor MOVE (see `move_destinations_parse_as_names`).
        destination: None,
        // Nor Overwrite: the default.
        overwrite: true,
        // Nor Origin or Sec-Fetch-Site (see src/http/origin.rs).
        provenance: Provenance {
            host: spec.host.map(str::to_owned),
            ..Provenance::default()
        },
    }
}

/// The reference's framing for the fields as generated (before spelling).
fn reference_framing(spec: &Spec, fields: &[(&str, Vec<u8>)]) -> Result<BodyLength, Vec<u16>> {
    let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, &v[..])).collect();
    framing(spec.http10, &fields)
}

// ---------------------------------------------------------------------------
// Heads with one thing wrong

/// A refusal that leaves the framing sound: the connection can go on.
#[derive(Debug, Clone)]
enum Refusal {
    Method(&'static str),
    /// HTTP/1.1 without Host, or with two (a bad Host in HTTP/1.0).
    Hosts(bool),
    BadHost(&'static [u8]),
    Checksum(&'static str),
    /// A GET, HEAD or DELETE with a body (chunked or this length).
    Body(Method, Option<u64>),
    /// A target and its status.
    Target(&'static str, u16),
}

fn refusal() -> impl Strategy<Value = Refusal> {
    prop_oneof![
        select(vec!["POST", "get", "OPTIONS", "PATCH", "BREW", "CONNECT"])
            .prop_map(Refusal::Method),
        any::<bool>().prop_map(Refusal::Hosts),
        select(vec![&b"a/b"[..], b"a b", b"caf\xc3\xa9", b"h\tx"]).prop_map(Refusal::BadHost),
        select(vec![
            "xyz",
            "1234567",
            "123456789",
            "g0000000",
            "",
            "dead beef"
        ])
        .prop_map(Refusal::Checksum),
        (
            select(vec![Method::Get, Method::Head, Method::Delete]),
            proptest::option::of(1u64..=40),
        )
            .prop_map(|(m, len)| Refusal::Body(m, len)),
        select(vec![
            ("/../etc/passwd", 400),
            ("/a/%2e%2E/b", 400),
            ("/.ferry-tmp-1", 403),
            ("/a/.ferry-x/", 403),
            ("/a//b", 400),
            ("/a//", 400),
            ("/%00", 400),
            ("/%ff", 400),
            ("/%zz", 400),
            ("/a%2F..%2Fb", 400),
            ("*", 400),
            ("http://h/x", 400),
            ("x", 400),
        ])
        .prop_map(|(t, s)| Refusal::Target(t, s)),
    ]
}

/// The head for `spec` with `refusal` in it, its status, and the `Resume`.
fn refused(spec: &Spec, refusal: &Refusal) -> (Vec<u8>, u16, Resume) {
    let mut spec = spec.clone();
    let mut fields = fields(&spec);
    let mut method = method_name(spec.method);
    let mut target = None;
    let status = match refusal {
        Refusal::Method(name) => {
            method = name;
            405
        }
        Refusal::Hosts(two) if !spec.http10 => {
            if *two {
                fields.push(("Host", b"other".to_vec()));
            } else {
                fields.retain(|(name, _)| *name != "Host");
            }
            400
        }
        Refusal::Hosts(_) => {
            fields.push(("Host", b"a/b".to_vec()));
            400
        }
        Refusal::BadHost(host) => {
            fields.retain(|(name, _)| *name != "Host");
            fields.push(("Host", host.to_vec()));
            400
        }
        Refusal::Checksum(value) => {
            fields.push(("X-Checksum-Crc32c", value.as_bytes().to_vec()));
            400
        }
        Refusal::Body(verb, len) => {
            method = method_name(*verb);
            spec.method = *verb;
            fields.retain(|(name, _)| *name != "Content-Length" && *name != "Transfer-Encoding");
            spec.framing = match len {
                Some(len) => Framing::Length {
                    len: *len,
                    zeros: 0,
                    copies: 1,
                },
                None if spec.http10 => Framing::Length {
                    len: 1,
                    zeros: 0,
                    copies: 1,
                },
                None => Framing::Chunked("chunked"),
            };
            match spec.framing {
                Framing::Length { len, .. } => {
                    fields.push(("Content-Length", len.to_string().into()))
                }
                _ => fields.push(("Transfer-Encoding", b"chunked".to_vec())),
            }
            400
        }
        Refusal::Target(path, status) => {
            target = Some(*path);
            *status
        }
    };
    let target = match target {
        Some(path) => path.as_bytes().to_vec(),
        None => target_bytes(&spec),
    };
    let head = render_fields(&spec, method, &target, &fields);
    let close = expected(&spec).close;
    let resume = Resume {
        used: head.len(),
        body: spec.framing.body(),
        close,
        expect_continue: !spec.http10 && spec.expect.is_some(),
        head: method == "HEAD",
        http10: spec.http10,
    };
    (head, status, resume)
}

/// Framing a connection cannot go on past.
#[derive(Debug, Clone)]
enum Lost {
    BadLength(&'static str),
    Conflict(u64, u64),
    /// A transfer coding other than chunked: 501.
    Coding(&'static str),
    TwoChunked,
    ChunkedIn10,
    Both,
}

fn lost() -> impl Strategy<Value = Lost> {
    prop_oneof![
        select(vec![
            "+5",
            "-1",
            "5 5",
            "5,5",
            "0x10",
            "",
            "18446744073709551616",
            "1e3",
            "\u{ff15}",
            "5\u{a0}",
        ])
        .prop_map(Lost::BadLength),
        (0u64..100, 1u64..100).prop_map(|(a, d)| Lost::Conflict(a, a + d)),
        select(vec![
            "gzip",
            "chunked, gzip",
            "gzip, chunked",
            "identity",
            "",
            "chunked;q=1"
        ])
        .prop_map(Lost::Coding),
        Just(Lost::TwoChunked),
        Just(Lost::ChunkedIn10),
        Just(Lost::Both),
    ]
}

/// The head for a PUT `spec` with `lost` framing, and its status.
fn lost_framing(spec: &Spec, lost: &Lost) -> (Vec<u8>, Fields, u16) {
    let mut spec = spec.clone();
    spec.method = Method::Put;
    let mut fields = fields(&spec);
    fields.retain(|(name, _)| *name != "Content-Length" && *name != "Transfer-Encoding");
    let mut add = |name, value: &str| fields.push((name, value.as_bytes().to_vec()));
    let status = match lost {
        Lost::BadLength(value) => {
            add("Content-Length", value);
            400
        }
        Lost::Conflict(a, b) => {
            add("Content-Length", &a.to_string());
            add("Content-Length", &b.to_string());
            400
        }
        Lost::Coding(coding) => {
            add("Transfer-Encoding", coding);
            501
        }
        Lost::TwoChunked => {
            add("Transfer-Encoding", "chunked");
            add("Transfer-Encoding", "chunked");
            400
        }
        Lost::ChunkedIn10 => {
            spec.http10 = true;
            add("Transfer-Encoding", "chunked");
            400
        }
        Lost::Both => {
            add("Transfer-Encoding", "chunked");
            add("Content-Length", "5");
            400
        }
    };
    let head = render_fields(&spec, "PUT", &target_bytes(&spec), &fields);
    (head, fields, status)
}

// ---------------------------------------------------------------------------
// Bytes to break things with

/// Byte strings of HTTP-shaped pieces, which random bytes rarely hit.
fn head_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        select(vec![
            "GET",
            "PUT",
            "HEAD",
            "DELETE",
            "POST",
            " ",
            " ",
            "/",
            "/a",
            "/a/",
            "/.ferry-",
            "%2e",
            "%2F",
            "?",
            "HTTP/1.1",
            "HTTP/1.0",
            "HTTP/2.0",
            "HTTP/1.1\r\n",
            "\r\n",
            "\r\n",
            "\n",
            "\r",
            "Host: h",
            "Host:",
            "Content-Length: ",
            "Transfer-Encoding: ",
            "chunked",
            "Connection: ",
            "close",
            "keep-alive",
            "Expect: ",
            "100-continue",
            "X-Checksum-Crc32c: ",
            "deadbeef",
            "+1234567",
            ", ",
            ":",
            "0",
            "5",
            "18446744073709551616",
            "\t",
            "\0",
            "\u{80}",
            "\u{ff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        vec(any::<u8>(), 1..4),
    ];
    vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

/// Byte strings of chunk-shaped pieces.
fn chunk_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        select(vec![
            "0",
            "1",
            "5",
            "a",
            "F",
            "00",
            "10",
            "ffffffffffffffff",
            ";",
            ";ext=1",
            "=",
            "\"",
            "\r\n",
            "\r\n",
            "\r",
            "\n",
            "0\r\n",
            "\r\n\r\n",
            "X-T: v\r\n",
            "hello",
            " ",
            "\t",
            "-",
            "+",
            "0x",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        vec(any::<u8>(), 1..4),
    ];
    vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

// ---------------------------------------------------------------------------
// Chunked bodies

fn chunked_body(max_chunk: usize) -> impl Strategy<Value = ChunkedBody> {
    let ext = prop_oneof![
        "[a-z]{1,8}(=[a-z0-9]{1,8})?".prop_map(String::into_bytes),
        Just(b"name=\"quoted;value\"".to_vec()),
        Just(Vec::new()),
        vec(any::<u8>(), 0..10),
    ];
    let chunk = (
        vec(any::<u8>(), 1..=max_chunk),
        0usize..4,
        any::<bool>(),
        proptest::option::weighted(0.3, ext.clone()),
    )
        .prop_map(|(data, zeros, upper, ext)| Chunk {
            data,
            zeros,
            upper,
            ext,
        });
    let trailer = "[A-Za-z-]{1,10}: [ -~]{0,20}".prop_map(String::into_bytes);
    (
        vec(chunk, 0..6),
        0usize..20,
        proptest::option::weighted(0.2, ext),
        vec(trailer, 0..3),
    )
        .prop_map(|(chunks, last_zeros, last_ext, trailers)| ChunkedBody {
            chunks,
            last_zeros,
            last_ext,
            trailers,
        })
}

/// `total` bytes of framing: a size line (`5;` and padding, then the
/// chunk) or the last chunk's run (`0;` and padding, or a padded trailer).
fn framing_run(kind: u8, total: usize) -> (Vec<u8>, usize) {
    match kind {
        0 => {
            let mut body = b"5;".to_vec();
            body.resize(total - 2, b'x');
            body.extend_from_slice(b"\r\n");
            let run = body.len();
            body.extend_from_slice(b"hello\r\n0\r\n\r\n");
            (body, run)
        }
        1 => {
            let mut body = b"0;".to_vec();
            body.resize(total - 4, b'x');
            body.extend_from_slice(b"\r\n\r\n");
            (body, total)
        }
        _ => {
            let mut body = b"0\r\nX: ".to_vec();
            body.resize(total - 4, b'y');
            body.extend_from_slice(b"\r\n\r\n");
            (body, total)
        }
    }
}

// ---------------------------------------------------------------------------
// A connection's view of a stream: requests with their bodies, refusals.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Served(Box<HttpRequest>, Vec<u8>),
    Refused(u16),
}

/// An item of a pipelined stream: a valid request with its body, or one
/// refused on a sound head (its body still sent).
#[derive(Debug, Clone)]
enum Item {
    Valid(Spec, ChunkedBody),
    Refused(Spec, Refusal, ChunkedBody),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        3 => (spec(40), chunked_body(16)).prop_map(|(s, b)| Item::Valid(s, b)),
        1 => (spec(40), refusal(), chunked_body(16)).prop_map(|(s, r, b)| Item::Refused(s, r, b)),
    ]
}

/// Body bytes that would parse as a head if they were not skipped.
fn filler(len: u64) -> Vec<u8> {
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        .iter()
        .copied()
        .cycle()
        .take(usize::try_from(len).expect("small bodies"))
        .collect()
}

/// A body framed as `framing` says: filler, or the chunked encoding.
fn body_bytes(framing: BodyLength, chunked: &ChunkedBody) -> (Vec<u8>, Vec<u8>) {
    match framing {
        BodyLength::Fixed(len) => (filler(len), filler(len)),
        BodyLength::Chunked => (chunked.encode(), chunked.payload()),
        BodyLength::UntilEof => unreachable!("HTTP frames every body"),
    }
}

fn stream_of(items: &[Item]) -> (Vec<u8>, Vec<Event>) {
    let mut stream = Vec::new();
    let mut events = Vec::new();
    for item in items {
        match item {
            Item::Valid(spec, chunked) => {
                let request = expected(spec);
                let (wire, payload) = body_bytes(request.body, chunked);
                stream.extend(render(spec));
                stream.extend(wire);
                events.push(Event::Served(Box::new(request), payload));
            }
            Item::Refused(spec, refusal, chunked) => {
                let (head, status, resume) = refused(spec, refusal);
                stream.extend(head);
                stream.extend(body_bytes(resume.body, chunked).0);
                events.push(Event::Refused(status));
            }
        }
    }
    (stream, events)
}

/// Where the connection is between heads.
enum Reading {
    Head,
    /// Body bytes left, the request (`None`: refused, skipped), payload.
    Fixed(u64, Option<Box<HttpRequest>>, Vec<u8>),
    Chunked(ChunkDecoder, Option<Box<HttpRequest>>, Vec<u8>),
}

/// What one step of a connection leads to.
enum Step {
    Next(Reading),
    /// Needs more bytes first.
    Wait(Reading),
    /// The framing is lost: the connection closes.
    Close,
}

impl Reading {
    fn body(length: BodyLength, request: Option<Box<HttpRequest>>) -> Reading {
        match length {
            BodyLength::Fixed(len) => Reading::Fixed(len, request, Vec::new()),
            BodyLength::Chunked => Reading::Chunked(ChunkDecoder::default(), request, Vec::new()),
            BodyLength::UntilEof => unreachable!("HTTP frames every body"),
        }
    }

    /// Reads a head, or body bytes, from the front of `buffered`.
    fn step(self, buffered: &mut Vec<u8>, events: &mut Vec<Event>) -> Step {
        match self {
            Reading::Head => match parse_request(buffered) {
                Ok(None) => Step::Wait(Reading::Head),
                Ok(Some((request, used))) => {
                    buffered.drain(..used);
                    Step::Next(Reading::body(request.body, Some(Box::new(request))))
                }
                Err(HttpError { status, resume, .. }) => {
                    events.push(Event::Refused(status));
                    let Some(resume) = resume else {
                        return Step::Close;
                    };
                    buffered.drain(..resume.used);
                    Step::Next(Reading::body(resume.body, None))
                }
            },
            Reading::Fixed(0, request, payload) => {
                events.extend(request.map(|r| Event::Served(r, payload)));
                Step::Next(Reading::Head)
            }
            Reading::Fixed(left, request, mut payload) => {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(buffered.len());
                payload.extend(buffered.drain(..take));
                let reading = Reading::Fixed(left - take as u64, request, payload);
                if take == 0 {
                    Step::Wait(reading)
                } else {
                    Step::Next(reading)
                }
            }
            Reading::Chunked(mut decoder, request, mut payload) => {
                let (used, got) = decoder.decode(buffered).expect("valid chunked bodies");
                payload.extend_from_slice(got);
                buffered.drain(..used);
                if decoder.is_done() {
                    events.extend(request.map(|r| Event::Served(r, payload)));
                    Step::Next(Reading::Head)
                } else if used == 0 {
                    Step::Wait(Reading::Chunked(decoder, request, payload))
                } else {
                    Step::Next(Reading::Chunked(decoder, request, payload))
                }
            }
        }
    }
}

/// Feeds `stream` in pieces of the sizes in `cuts` (cycled), as a
/// connection does: parse what is buffered, drop the head, read or skip the
/// body, follow each refusal's `Resume`.
fn drive(stream: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buffered: Vec<u8> = Vec::new();
    let mut reading = Reading::Head;
    let mut sizes = cuts.iter().copied().cycle();
    let mut fed = 0;
    while fed < stream.len() {
        let step = sizes
            .next()
            .unwrap_or(usize::MAX)
            .clamp(1, stream.len() - fed);
        buffered.extend_from_slice(&stream[fed..fed + step]);
        fed += step;
        reading = loop {
            match reading.step(&mut buffered, &mut events) {
                Step::Next(next) => reading = next,
                Step::Wait(waiting) => break waiting,
                Step::Close => return events,
            }
        };
    }
    assert!(buffered.is_empty(), "left over: {buffered:?}");
    assert!(
        matches!(reading, Reading::Head),
        "the stream ended inside a body"
    );
    events
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(256))]

    /// Every request, spelled every allowed way, parses to exactly itself
    /// and uses exactly its head, whatever follows it.
    #[test]
    fn valid_heads_parse_exactly(spec in spec(u64::MAX), after in vec(any::<u8>(), 0..32)) {
        let head = render(&spec);
        let want = expected(&spec);
        prop_assert_eq!(
            reference_framing(&spec, &fields(&spec)),
            Ok(want.body)
        );
        prop_assert_eq!(parse_request(&head), Ok(Some((want, head.len()))));
        check_parse_request(&head);
        let mut longer = head.clone();
        longer.extend(after);
        prop_assert_eq!(parse_request(&longer), parse_request(&head));
        check_parse_request(&longer);
    }

    /// One refusal on a sound head: its status, and what the connection
    /// needs to answer it and go on past its body.
    #[test]
    fn refusals_keep_the_framing(spec in spec(u64::MAX), refusal in refusal()) {
        let (head, status, resume) = refused(&spec, &refusal);
        let err = parse_request(&head).expect_err("refused");
        prop_assert_eq!((err.status, err.resume), (status, Some(resume)), "{}", err.message);
        check_parse_request(&head);
    }

    /// Framing that cannot be trusted: its status, and the connection closes.
    #[test]
    fn lost_framing_closes(spec in spec(0), lost in lost()) {
        let (head, fields, status) = lost_framing(&spec, &lost);
        let err = parse_request(&head).expect_err("refused");
        prop_assert_eq!((err.status, err.resume), (status, None), "{}", err.message);
        let http10 = spec.http10 || matches!(lost, Lost::ChunkedIn10);
        let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, &v[..])).collect();
        let reference = framing(http10, &fields);
        prop_assert!(reference.as_ref().is_err_and(|codes| codes.contains(&status)), "{:?}", reference);
        check_parse_request(&head);
    }

    /// Valid and refused heads with up to four random edits.
    #[test]
    fn mutated_heads_hold_every_invariant(
        spec in spec(64),
        refusal in proptest::option::weighted(0.3, refusal()),
        mutations in vec(mutation(TELLING), 1..5),
        after in vec(any::<u8>(), 0..16),
    ) {
        let mut head = match &refusal {
            Some(refusal) => refused(&spec, refusal).0,
            None => render(&spec),
        };
        for mutation in &mutations {
            mutate(&mut head, mutation, 12);
        }
        check_parse_request(&head);
        head.extend(after);
        check_parse_request(&head);
    }

    /// HTTP-shaped bytes, alone and after a valid request line.
    #[test]
    fn head_soup_holds_every_invariant(bytes in head_soup()) {
        check_parse_request(&bytes);
        let mut head = b"PUT /x HTTP/1.1\r\n".to_vec();
        head.extend(&bytes);
        check_parse_request(&head);
    }

    /// Arbitrary bytes, up to past the cap.
    #[test]
    fn random_bytes_hold_every_invariant(bytes in vec(any::<u8>(), 0..9000)) {
        check_parse_request(&bytes);
    }

    /// Heads around the 8 KiB cap: the last that fits parses, the first
    /// that does not is a 431; without its end a head waits only below the
    /// cap.
    #[test]
    fn the_head_cap_is_exact(total in MAX_HEAD - 8..MAX_HEAD + 8, lf in any::<bool>()) {
        let head = padded_head(total, lf);
        prop_assert_eq!(head.len(), total);
        check_parse_request(&head);
        match parse_request(&head) {
            Ok(Some((_, used))) => prop_assert!(total <= MAX_HEAD && used == total),
            Err(err) => prop_assert!(total > MAX_HEAD && err.status == 431 && err.resume.is_none()),
            Ok(None) => prop_assert!(false, "a complete head waits"),
        }
        let cut = &head[..total - 1];
        check_parse_request(cut);
        let status = parse_request(cut).map_err(|e| e.status);
        prop_assert_eq!(status.is_err(), cut.len() >= MAX_HEAD, "{:?}", status);
    }

    /// 64 fields are served, 65 are a 431.
    #[test]
    fn the_field_count_is_capped(count in MAX_HEADERS - 2..MAX_HEADERS + 3) {
        let mut head = b"GET /x HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 1..count {
            head.extend(format!("X-{i}: v\r\n").bytes());
        }
        head.extend_from_slice(b"\r\n");
        check_parse_request(&head);
        let answer = parse_request(&head).map(|r| r.map(|(_, used)| used)).map_err(|e| e.status);
        if count <= MAX_HEADERS {
            prop_assert_eq!(answer, Ok(Some(head.len())));
        } else {
            prop_assert_eq!(answer, Err(431));
        }
    }

    /// Valid chunked bodies in random pieces, with bytes after them: exactly
    /// the payload, ending exactly at the body's end.
    #[test]
    fn valid_chunked_bodies_decode_exactly(
        body in chunked_body(300),
        pieces in vec(1usize..40, 0..12),
        after in vec(any::<u8>(), 0..24),
    ) {
        check_chunked_body(&body, &pieces, &after);
        let encoded = body.encode();
        prop_assert_eq!(
            feed(&encoded, &[1]),
            Decoded::Done { payload: body.payload(), used: encoded.len() }
        );
    }

    /// Valid bodies with up to four random edits, arbitrary and chunk-shaped
    /// bytes: the reference grammar's answer, in any pieces.
    #[test]
    fn broken_chunked_bodies_hold_every_invariant(
        body in chunked_body(40),
        mutations in vec(mutation(TELLING), 1..5),
        soup in chunk_soup(),
        random in vec(any::<u8>(), 0..200),
        pieces in vec(1usize..24, 0..8),
    ) {
        let mut encoded = body.encode();
        for mutation in &mutations {
            mutate(&mut encoded, mutation, 12);
        }
        check_chunked(&encoded, &pieces);
        check_chunked(&soup, &pieces);
        check_chunked(&random, &pieces);
    }

    /// The chunked fuzz target's own decoding of its input.
    #[test]
    fn chunked_fuzz_inputs_hold_every_invariant(data in vec(any::<u8>(), 0..400)) {
        fuzz_chunked(&data);
    }

    /// Framing runs around the 4 KiB cap: a size line, a last chunk with an
    /// extension, a trailer section.
    #[test]
    fn the_framing_cap_is_exact(kind in 0u8..3, total in MAX_FRAMING - 4..MAX_FRAMING + 4) {
        let (body, run) = framing_run(kind, total);
        prop_assert_eq!(run, total);
        check_chunked(&body, &[]);
        check_chunked(&body, &[7]);
        let got = feed(&body, &[97]);
        if total <= MAX_FRAMING {
            prop_assert!(matches!(got, Decoded::Done { used, .. } if used == body.len()), "{:?}", got);
        } else {
            prop_assert!(matches!(got, Decoded::Invalid { .. }), "{:?}", got);
        }
        // Unfinished, the run is refused as soon as it passes the cap.
        let unfinished = &body[..total - 1];
        let got = feed(unfinished, &[]);
        prop_assert_eq!(matches!(got, Decoded::Invalid { .. }), total - 1 > MAX_FRAMING, "{:?}", got);
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A pipelined stream (fixed and chunked bodies, refused heads) gives
    /// the same requests and payloads however it is cut.
    #[test]
    fn fragmentation_does_not_change_the_answers(
        items in vec(item(), 1..6),
        cuts in vec(1usize..48, 1..24),
    ) {
        let (stream, want) = stream_of(&items);
        prop_assert_eq!(drive(&stream, &[stream.len()]), want.clone());
        prop_assert_eq!(drive(&stream, &cuts), want.clone());
        prop_assert_eq!(drive(&stream, &[1]), want);
    }
}

/// A GET head of `total` bytes, padded in an unknown field.
fn padded_head(total: usize, lf: bool) -> Vec<u8> {
    let eol: &[u8] = if lf { b"\n" } else { b"\r\n" };
    let mut head = b"GET /x HTTP/1.1".to_vec();
    head.extend_from_slice(eol);
    head.extend_from_slice(b"Host: h");
    head.extend_from_slice(eol);
    head.extend_from_slice(b"X-Pad: ");
    let end = 2 * eol.len();
    head.resize(total - end, b'a');
    head.extend_from_slice(eol);
    head.extend_from_slice(eol);
    head
}

// ---------------------------------------------------------------------------
// Regressions

/// Inputs worth keeping whatever the generators do, each checked against
/// every invariant, several also against their exact answer. The fuzzers
/// have found no crash in src/http/ so far.
#[test]
fn nasty_inputs_hold_every_invariant() {
    let mut heads: Vec<Vec<u8>> = [
        // Line ends: bare LF, bare CR, CR CR LF, mixed.
        &b"GET /x HTTP/1.1\nHost: h\n\n"[..],
        // `//`, the root's listing (found by mutated_heads_hold_every_invariant).
        b"GET // HTTP/1.1\r\nHost: h\r\nRange: items=1-2\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\n\r\n",
        b"GET /x HTTP/1.1\rHost: h\r\r",
        b"GET /x HTTP/1.1\r\r\nHost: h\r\n\r\n",
        b"\r\n\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\r\rGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\r\n",
        b"\n\n\n",
        // Obsolete line folding and whitespace before the colon.
        b"GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\n\tX-A: a\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost : h\r\n\r\n",
        b"GET /x HTTP/1.1\r\n Host: h\r\n\r\n",
        // NUL, DEL and obs-text in every part.
        b"G\0T /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /x\0 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\0\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHo\0st: h\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\x7f\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nX-A: \x80\xff\r\n\r\n",
        // Request lines: versions, spaces, forms of target.
        b"GET /x HTTP/1.2\r\nHost: h\r\n\r\n",
        b"GET /x HTTP/2.0\r\n\r\n",
        b"GET /x HTTP/0.9\r\n\r\n",
        b"GET /x\r\n\r\n",
        b"GET  /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /x  HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET\t/x HTTP/1.1\r\nHost: h\r\n\r\n",
        b" GET /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET //x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a?/../../etc HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a#/../b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%2E%2E%2Fx HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a%2F HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%2F HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /.ferry-tmp/ HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%C0%AE%C0%AE/x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%c2%85 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a\\..\\b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"get /x HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        // Framing edges.
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 005\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: \t7 \r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
        b"PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"PUT /x HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"HEAD /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        // Persistence, expectations, hosts and checksums.
        b"GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: ,,close,,\r\n\r\n",
        b"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nExpect: nope\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: nope\r\nConnection: keep-alive\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
        b"GET /x HTTP/1.0\r\nHost: a/b\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nX-Checksum-Crc32c: DEADBEEF\r\nX-Checksum-Crc32c: 00000001\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nX-Checksum-Crc32c: -1234567\r\n\r\n",
        b"PUT /x HTTP/1.1\r\nHost: h\r\nX-Checksum-Crc32c: 0x123456\r\n\r\n",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    // Around the cap: heads of 8191, 8192 and 8193 bytes, with and without
    // their end, a head of blank lines, 8192 bytes of a request line.
    for total in [MAX_HEAD - 1, MAX_HEAD, MAX_HEAD + 1] {
        for lf in [false, true] {
            let head = padded_head(total, lf);
            heads.push(head[..total - 1].to_vec());
            heads.push(head);
        }
        let mut line = b"GET /".to_vec();
        line.resize(total, b'a');
        heads.push(line);
    }
    heads.push(vec![b'\n'; MAX_HEAD + 1]);
    heads.push(b"\r\n".repeat(MAX_HEAD / 2));
    heads.push(
        [
            padded_head(MAX_HEAD, false),
            b"GET /next HTTP/1.1\r\n".to_vec(),
        ]
        .concat(),
    );

    for head in &heads {
        check_parse_request(head);
    }

    let status = |input: &[u8]| match parse_request(input) {
        Ok(Some(_)) => 200,
        Ok(None) => 0,
        Err(err) => err.status,
    };
    assert_eq!(status(&padded_head(MAX_HEAD, false)), 200);
    assert_eq!(status(&padded_head(MAX_HEAD + 1, false)), 431);
    assert_eq!(status(&padded_head(MAX_HEAD - 1, true)[..MAX_HEAD - 2]), 0);
    assert_eq!(status(b"GET /x HTTP/1.1\nHost: h\n\n"), 200, "bare LF");
    assert_eq!(
        status(b"GET /x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"),
        400,
        "obs-fold"
    );
    assert_eq!(status(b"GET /x HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
    assert_eq!(status(b"GET /x\0 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_eq!(status(b"GET /x HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(
        status(b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n"),
        400,
        "not UTF-8"
    );
    assert_eq!(
        status(b"GET /a?/../../etc HTTP/1.1\r\nHost: h\r\n\r\n"),
        200,
        "query ignored"
    );
    assert_eq!(status(b"GET /.ferry-tmp/ HTTP/1.1\r\nHost: h\r\n\r\n"), 403);
    assert_eq!(
        status(b"PUT /x HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n"),
        501
    );
    let (request, _) = parse_request(
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(request.body, BodyLength::Fixed(u64::MAX));
    let (request, _) = parse_request(b"GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(request.close, "close wins after keep-alive");
    let err =
        parse_request(b"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    assert!(
        !err.unwrap().unwrap().0.expect_continue,
        "no 100 Continue for HTTP/1.0"
    );
    let url = url_path("dir/a b?#%ü");
    assert!(matches!(
        parse_request(format!("GET /{url} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes()),
        Ok(Some((HttpRequest { target: Target::File(name), .. }, _))) if name.as_str() == "dir/a b?#%ü"
    ));

    let mut bodies: Vec<Vec<u8>> = [
        &b""[..],
        b"0",
        b"0\r",
        b"0\r\n",
        b"0\r\n\r",
        b"0\r\n\r\n",
        b"0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"0\n\n",
        b"0\r\n\n",
        b"0\r\nX: y\n\r\n",
        b"0\r\nX: y\r\n",
        b"0\r\nX: y\r\n\r\n",
        b"0\r\n\rX\r\n",
        b"0;\r\n\r\n",
        b"0;a=b;c=\"d\"\r\n\r\n",
        b"0;a\nb\r\n\r\n",
        b"0;a\rb\r\n\r\n",
        b"0000000000000000\r\n\r\n",
        b"00000000000000000\r\n\r\n",
        b"00000000000000005\r\nhello\r\n0\r\n\r\n",
        b"ffffffffffffffff\r\nsome of it",
        b"10000000000000000\r\n",
        b"FfFfFfFfFfFfFfFf\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhelloXY0\r\n\r\n",
        b"5\r\nhello\r\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 ;x\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"\r\n",
        b";\r\n",
        b"g\r\n",
        b"\x005\r\nhello\r\n0\r\n\r\n",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    for kind in 0..3 {
        for total in [MAX_FRAMING - 1, MAX_FRAMING, MAX_FRAMING + 1] {
            bodies.push(framing_run(kind, total).0);
        }
    }
    bodies.push(vec![b'0'; MAX_FRAMING + 1]);
    bodies.push([b"1;".to_vec(), vec![b'x'; MAX_FRAMING]].concat());
    for body in &bodies {
        for pieces in [&[][..], &[1], &[2, 3], &[4096]] {
            check_chunked(body, pieces);
        }
    }

    let whole = |input: &[u8]| feed(input, &[]);
    let done = |payload: &[u8], used| Decoded::Done {
        payload: payload.to_vec(),
        used,
    };
    let incomplete = |payload: &[u8]| Decoded::Incomplete {
        payload: payload.to_vec(),
    };
    assert_eq!(
        whole(b"0\r\n"),
        incomplete(b""),
        "the last chunk without its trailer end"
    );
    assert_eq!(whole(b"0\r\n\r\nNEXT"), done(b"", 5));
    assert_eq!(whole(b"0000000000000000\r\n\r\n"), done(b"", 20));
    assert_eq!(
        whole(b"ffffffffffffffff\r\nsome of it"),
        incomplete(b"some of it")
    );
    assert_eq!(
        whole(b"5\r\nhello\r\n0\r\nX: y\r\n\r\n"),
        done(b"hello", 21)
    );
    assert!(matches!(
        whole(b"00000000000000005\r\nhello\r\n0\r\n\r\n"),
        Decoded::Invalid { .. }
    ));
    assert!(matches!(
        whole(b"5\nhello\r\n0\r\n\r\n"),
        Decoded::Invalid { .. }
    ));
    assert!(matches!(whole(b"0\r\nX: y\n\r\n"), Decoded::Invalid { .. }));
    assert_eq!(
        whole(b"5\r\nhelloXY0\r\n\r\n"),
        Decoded::Invalid {
            payload: b"hello".to_vec()
        }
    );
    assert!(matches!(
        whole(&bodies[bodies.len() - 2]),
        Decoded::Invalid { .. }
    ));
    assert_eq!(reference_chunked(b"0;x\r\n\r\n"), done(b"", 7));
    let mut decoder = ChunkDecoder::default();
    assert_eq!(decoder.decode(b"0\r\n\r\n5\r\n"), Ok((5, &b""[..])));
    assert!(decoder.is_done());
    assert_eq!(
        decoder.decode(b"5\r\nhello"),
        Ok((0, &b""[..])),
        "used after the end"
    );
}

// ---------------------------------------------------------------------------
// Parser bugs these properties found, fixed in src/http/request.rs.

/// RFC 9112 §9.3: with `close` among the options the connection closes, in
/// any order (request.rs once applied them in order, so an HTTP/1.0
/// `keep-alive` after a `close` kept the connection).
#[test]
fn regression_close_then_keep_alive_closes_an_http10_connection() {
    for head in [
        &b"GET /x HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n"[..],
        b"GET /x HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let (request, _) = parse_request(head).unwrap().unwrap();
        assert!(request.close, "{:?}", String::from_utf8_lossy(head));
    }
}

/// `X-Checksum-Crc32c must be 8 hex digits`, as the error says, like the
/// CRC in FERRY/1's PUT (request.rs once took whatever `u32::from_str_radix`
/// takes after a Unicode trim: a sign with 7 digits, or no-break spaces).
#[test]
fn regression_checksum_refuses_a_sign_and_unicode_spaces() {
    for value in [
        &b"+1234567"[..],
        b"\xc2\xa0deadbeef",
        b"deadbeef\xe3\x80\x80",
    ] {
        let mut head = b"PUT /x HTTP/1.1\r\nHost: h\r\nX-Checksum-Crc32c: ".to_vec();
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n\r\n");
        let answer = parse_request(&head).map(|r| r.map(|(request, _)| request.checksum));
        assert_eq!(
            answer.map_err(|e| e.status),
            Err(400),
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
}

proptest! {
    /// A MOVE's Destination, as a path or an absolute URI, is the name its
    /// encoding says; the source is the target as for any method.
    #[test]
    fn move_destinations_parse_as_names(
        from in "[a-z0-9]{1,8}(/[a-z0-9 %ü]{1,8}){0,2}",
        to in "[a-z0-9]{1,8}(/[a-z0-9 %ü]{1,8}){0,2}",
        absolute in any::<bool>(),
    ) {
        let (from, to) = (Name::new(from).unwrap(), Name::new(to).unwrap());
        let path = |name: &Name| format!("/{}", url_path(name.as_str()));
        let destination = if absolute {
            // The server the Host names: another's is 502 (its own test).
            format!("http://h:8080{}", path(&to))
        } else {
            path(&to)
        };
        let head = format!(
            "MOVE {} HTTP/1.1\r\nHost: h:8080\r\nDestination: {destination}\r\n\r\n",
            path(&from)
        );
        let (request, used) = parse_request(head.as_bytes()).unwrap().unwrap();
        prop_assert_eq!(used, head.len());
        prop_assert_eq!(request.method, Method::Move);
        prop_assert_eq!(request.target, Target::File(from));
        prop_assert_eq!(request.destination, Some(to));
    }
}
