//! Formatting HTTP/1.1 responses: status lines and headers, error bodies,
//! entity tags, dates, content types and directory listings. Sans-IO.

use std::io::Write;

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use crate::formats::calendar::Civil;
use crate::formats::hex::{CrcHex, push_hex};
use crate::model::{FileInfo, Stamp};
use crate::serve::Version;

/// The IMF-fixdate of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`).
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Every status ferry sends, with its reason phrase (RFC 9110 15; WebDAV's
/// 207, 423, 424 and 507 from RFC 4918 11; tus's 460): the one table, for
/// every status line and every status in a 207's body.
const REASONS: [(u16, &str); 34] = [
    (100, "Continue"),
    (200, "OK"),
    (201, "Created"),
    (204, "No Content"),
    (206, "Partial Content"),
    (207, "Multi-Status"),
    (301, "Moved Permanently"),
    (304, "Not Modified"),
    (400, "Bad Request"),
    (401, "Unauthorized"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (409, "Conflict"),
    (410, "Gone"),
    (411, "Length Required"),
    (412, "Precondition Failed"),
    (413, "Content Too Large"),
    (414, "URI Too Long"),
    (415, "Unsupported Media Type"),
    (416, "Range Not Satisfiable"),
    (417, "Expectation Failed"),
    (422, "Unprocessable Content"),
    (423, "Locked"),
    (424, "Failed Dependency"),
    (429, "Too Many Requests"),
    (431, "Request Header Fields Too Large"),
    (460, "Checksum Mismatch"),
    (500, "Internal Server Error"),
    (501, "Not Implemented"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (505, "HTTP Version Not Supported"),
    (507, "Insufficient Storage"),
];

/// The reason phrase for a status code: [`REASONS`]'s, or none for a
/// status it lacks (RFC 9112 4 lets the phrase be empty), never another
/// status's phrase (a 423 once went out as "423 Internal Server Error").
pub fn reason(status: u16) -> &'static str {
    REASONS
        .iter()
        .find(|(code, _)| *code == status)
        .map_or("", |(_, phrase)| phrase)
}

/// What a response says about the connection: HTTP/1.1 stays open unless
/// told otherwise; an HTTP/1.0 client that asked to keep it open is told
/// that it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 default: no header.
    Open,
    /// `Connection: keep-alive` (HTTP/1.0).
    KeepAlive,
    /// `Connection: close`: this is the connection's last response.
    Close,
}

/// How an error response is framed: its `Connection` header, whether it
/// answers HEAD (headers only), and the `Allow` header should it be a 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// The `Connection` header.
    pub persistence: Persistence,
    /// Answer to HEAD: no body, whatever the status.
    pub head_only: bool,
    /// The methods the target allows.
    pub allow: &'static str,
}

impl Framing {
    /// A connection's last answer, to a request not even read.
    pub const LAST: Framing = Framing {
        persistence: Persistence::Close,
        head_only: false,
        allow: ALLOW_FILE,
    };
}

/// A header's value, written without `fmt` (a small answer's head was
/// mostly its machinery): text as it is, numbers in decimal, a CRC in its
/// eight hex digits.
pub trait FieldValue {
    /// Appends the value to `out`.
    fn put(&self, out: &mut Vec<u8>);
}

impl FieldValue for str {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl FieldValue for String {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl FieldValue for CrcHex {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }
}

impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn put(&self, out: &mut Vec<u8>) {
        (**self).put(out);
    }
}

/// Integers in decimal.
macro_rules! decimal_field_values {
    ($($int:ty),*) => {$(
        impl FieldValue for $int {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
            }
        }
    )*};
}
decimal_field_values!(u8, u16, u32, u64, usize, i32, i64);

/// A response head under construction: the status line, then headers.
pub struct Head<'a> {
    out: &'a mut Vec<u8>,
    status: u16,
}

impl<'a> Head<'a> {
    /// Starts a response with `status`.
    pub fn new(out: &'a mut Vec<u8>, status: u16) -> Head<'a> {
        // Every answer's first lines, written without `fmt`: a small
        // request's answer is mostly these.
        // Room for the status line, the date and a few fields at once.
        out.reserve(256);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\n");
        if status >= 200 {
            out.extend_from_slice(b"Date: ");
            with_http_date_now(|date| out.extend_from_slice(date.as_bytes()));
            out.extend_from_slice(b"\r\n");
        }
        Head { out, status }
    }

    /// Adds a header.
    pub fn header(self, name: &str, value: impl FieldValue) -> Head<'a> {
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b": ");
        value.put(self.out);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Ends the head, with `Content-Length` (which a 204 or 304 must not
    /// carry, RFC 9110 8.6) and the `Connection` header. Every answer that
    /// has a body says `nosniff`: a browser takes its `Content-Type` as it
    /// is, so no text (an error naming a file, a CSV) is ever read as HTML
    /// or script (see [`super::origin`]).
    pub fn finish(self, content_length: u64, persistence: Persistence) {
        if !matches!(self.status, 204 | 304) {
            self.out
                .extend_from_slice(b"X-Content-Type-Options: nosniff\r\nContent-Length: ");
            let mut digits = itoa::Buffer::new();
            self.out
                .extend_from_slice(digits.format(content_length).as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(match persistence {
            Persistence::Open => b"\r\n".as_slice(),
            Persistence::KeepAlive => b"Connection: keep-alive\r\n\r\n",
            Persistence::Close => b"Connection: close\r\n\r\n",
        });
    }
}

impl Head<'_> {
    /// Ends the head of an answer whose body is sent in chunks as it is
    /// made (one that begins before its end is known), with the
    /// `Connection` header.
    pub fn finish_chunked(self, persistence: Persistence) {
        let _ = write!(
            self.out,
            "X-Content-Type-Options: nosniff\r\nTransfer-Encoding: chunked\r\n"
        );
        self.out.extend_from_slice(match persistence {
            Persistence::Open => b"\r\n".as_slice(),
            Persistence::KeepAlive => b"Connection: keep-alive\r\n\r\n",
            Persistence::Close => b"Connection: close\r\n\r\n",
        });
    }
}

/// The methods a file allows, for 405 answers.
pub const ALLOW_FILE: &str = "GET, HEAD, PUT, DELETE, MOVE";
/// The methods a listing (a name ending in `/`) allows.
pub const ALLOW_LISTING: &str = "GET, HEAD, DELETE";

/// A complete error response with a one-line text body (announced but not
/// sent in answer to HEAD).
pub fn error(out: &mut Vec<u8>, status: u16, message: &str, framing: Framing) {
    error_with(out, status, message, framing, &[]);
}

/// [`error`] with the header fields a dialect adds to each of its
/// answers (tus's `Tus-Resumable`).
pub fn error_with(
    out: &mut Vec<u8>,
    status: u16,
    message: &str,
    framing: Framing,
    fields: &[(&str, &str)],
) {
    let body = format!(
        "{status} {}: {}\n",
        reason(status),
        message.replace(['\r', '\n'], " ")
    );
    let mut head = Head::new(out, status).header("Content-Type", "text/plain; charset=utf-8");
    if status == 405 {
        head = head.header("Allow", framing.allow);
    }
    let challenged = fields
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"));
    if status == 401 && !challenged {
        head = head.header("WWW-Authenticate", super::auth::CHALLENGE);
    }
    // Every 503 passes (a connection cap, descriptors, a storage failure):
    // clients and balancers that honour it try again a second later.
    if status == 503 {
        head = head.header("Retry-After", 1);
    }
    for (name, value) in fields {
        head = head.header(name, value);
    }
    head.finish(body.len() as u64, framing.persistence);
    if !framing.head_only {
        out.extend_from_slice(body.as_bytes());
    }
}

/// Whether an `If-Range` value still names this version of the file, so a
/// range may be served (RFC 9110 13.1.5): a strong entity tag equal to
/// `etag`, or exactly the file's `Last-Modified` date. Absent, it holds.
pub fn if_range_holds(if_range: Option<&str>, etag: &str, mtime: i64) -> bool {
    match if_range.map(str::trim) {
        None => true,
        Some(tag) if tag.starts_with('"') => tag == etag,
        Some(date) => parse_http_date(date) == Some(mtime),
    }
}

/// The entity tag of a file version: size, modification time to the
/// nanosecond and inode, `"<size>-<seconds>.<nanoseconds>-<inode>"` in hex.
///
/// Not the CRC-32C: that may be computed only after a first range has been
/// served, and a tag that changed then would break `If-Range` and
/// `If-None-Match` across requests for one unchanged version. The inode
/// tells apart two uploads of the same size given the same time
/// (`mtime=`), as the CRC used to: each upload is a new inode. Not the
/// device: nodes sharing a root over NFS see one file under different
/// device numbers, and must give it one tag.
pub fn etag(version: &Version) -> String {
    let mut tag = String::with_capacity(40);
    write_etag(&version.info, &version.stamp, &mut tag);
    tag
}

/// Appends [`etag`] of the version `info` and `stamp` tell (a listing
/// writes one per entry: no string of its own).
pub fn write_etag(info: &FileInfo, stamp: &Stamp, out: &mut String) {
    out.push('"');
    push_hex(info.size, out);
    out.push('-');
    // As `{:x}` writes an i64: its two's complement.
    push_hex(info.mtime.cast_unsigned(), out);
    out.push('.');
    push_hex(u64::from(stamp.nanos), out);
    out.push('-');
    push_hex(stamp.inode, out);
    out.push('"');
}

/// A Unix time as an HTTP date.
pub fn http_date(unix_seconds: i64) -> String {
    let mut out = String::with_capacity(29);
    write_http_date(unix_seconds, &mut out);
    out
}

/// Appends a Unix time as an HTTP date (nothing for a time outside the
/// years 0 to 9999): written by hand, not through a format description,
/// since a listing writes one per entry.
pub fn write_http_date(unix_seconds: i64, out: &mut String) {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(at) = Civil::of(unix_seconds) else {
        return;
    };
    out.push_str(DAYS[at.weekday]);
    out.push_str(", ");
    push_digits(at.day, 2, out);
    out.push(' ');
    out.push_str(MONTHS[at.month as usize - 1]);
    out.push(' ');
    push_digits(at.year, 4, out);
    out.push(' ');
    push_clock(&at, out);
    out.push_str(" GMT");
}

/// Appends a Unix time as RFC 3339 in UTC (`1994-11-06T08:49:37Z`,
/// WebDAV's `creationdate`); `false`, and nothing appended, for a time
/// outside the years 0 to 9999.
pub fn write_rfc3339(unix_seconds: i64, out: &mut String) -> bool {
    let Some(at) = Civil::of(unix_seconds) else {
        return false;
    };
    push_digits(at.year, 4, out);
    out.push('-');
    push_digits(at.month, 2, out);
    out.push('-');
    push_digits(at.day, 2, out);
    out.push('T');
    push_clock(&at, out);
    out.push('Z');
    true
}

/// Appends `value` in `width` decimal digits, zeros before it.
fn push_digits(value: u32, width: u32, out: &mut String) {
    for at in (0..width).rev() {
        let digit = value / 10u32.pow(at) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Appends `HH:MM:SS`.
fn push_clock(at: &Civil, out: &mut String) {
    push_digits(at.clock / 3_600, 2, out);
    out.push(':');
    push_digits(at.clock / 60 % 60, 2, out);
    out.push(':');
    push_digits(at.clock % 60, 2, out);
}

/// The current time as an HTTP date (formatted once per second), given
/// to `then`.
fn with_http_date_now(then: impl FnOnce(&str)) {
    thread_local! {
        static CACHED: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != now {
            *cached = (now, http_date(now));
        }
        then(&cached.1);
    })
}

/// An HTTP date as Unix time, if it is a valid IMF-fixdate.
pub fn parse_http_date(text: &str) -> Option<i64> {
    time::PrimitiveDateTime::parse(text.trim(), HTTP_DATE)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Whether a conditional GET may be answered 304 Not Modified.
pub fn not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    etag: &str,
    mtime: i64,
) -> bool {
    if let Some(tags) = if_none_match {
        // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    if_modified_since
        .and_then(parse_http_date)
        .is_some_and(|since| mtime <= since)
}

/// Media types by extension; the first is the default.
const MEDIA_TYPES: [(&str, &[&str]); 28] = [
    ("application/octet-stream", &[]),
    ("text/plain; charset=utf-8", &["txt", "log", "md"]),
    ("text/csv; charset=utf-8", &["csv"]),
    ("text/html; charset=utf-8", &["html", "htm"]),
    ("text/css", &["css"]),
    ("text/javascript", &["js"]),
    ("application/json", &["json"]),
    ("application/xml", &["xml"]),
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/gif", &["gif"]),
    ("image/svg+xml", &["svg"]),
    ("image/webp", &["webp"]),
    ("application/gzip", &["gz"]),
    ("application/zip", &["zip"]),
    ("application/x-tar", &["tar"]),
    ("application/wasm", &["wasm"]),
    // Sound and video, so that the page's previews and a browser's own
    // player are given the type they play.
    ("audio/wav", &["wav"]),
    ("audio/mpeg", &["mp3"]),
    ("audio/ogg", &["ogg", "oga", "opus"]),
    ("audio/flac", &["flac"]),
    ("audio/mp4", &["m4a"]),
    ("video/webm", &["webm"]),
    ("video/mp4", &["mp4", "m4v"]),
    ("video/ogg", &["ogv"]),
    ("video/quicktime", &["mov"]),
    ("image/avif", &["avif"]),
];

/// A file's `Content-Type`, from its name's extension: one byte, so that
/// an exchange can remember it between a request and its answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaType(u8);

impl MediaType {
    /// The media type of a file called `name`.
    pub fn of(name: &str) -> MediaType {
        /// Each extension known (lowercase, packed as [`key`] packs it)
        /// and its type's place in [`MEDIA_TYPES`], in key order.
        static BY_KEY: std::sync::LazyLock<Vec<(u32, u8)>> = std::sync::LazyLock::new(|| {
            let mut keys: Vec<(u32, u8)> = (0u8..)
                .zip(MEDIA_TYPES.iter())
                .flat_map(|(at, (_, extensions))| extensions.iter().map(move |e| (key(e), at)))
                .collect();
            keys.sort_unstable();
            keys
        });
        /// Up to 4 bytes, lowercased, in one number (a name holds no
        /// NUL, so no two extensions pack alike).
        fn key(extension: &str) -> u32 {
            let mut bytes = [0u8; 4];
            for (into, byte) in bytes.iter_mut().zip(extension.bytes()) {
                *into = byte.to_ascii_lowercase();
            }
            u32::from_le_bytes(bytes)
        }
        let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
        // Every extension known is 2 to 4 characters (a listing asks this
        // of every entry: one search of a sorted table, not a scan).
        if !(2..=4).contains(&extension.len()) {
            return MediaType(0);
        }
        let found = BY_KEY.binary_search_by_key(&key(extension), |(key, _)| *key);
        MediaType(found.map_or(0, |at| BY_KEY[at].1))
    }

    /// The header value.
    pub fn as_str(self) -> &'static str {
        MEDIA_TYPES[usize::from(self.0)].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times across the range both formats write, and past its ends.
    fn times() -> impl Iterator<Item = i64> {
        let edges = [
            i64::MIN,
            -62_167_219_201, // 0000-01-01 one second before midnight: year -1
            -62_167_219_200, // 0000-01-01T00:00:00Z
            -1,
            0,
            951_782_400,     // 2000-02-29
            253_402_300_799, // 9999-12-31T23:59:59Z
            253_402_300_800,
            i64::MAX,
        ];
        // A spread of seconds over the years 0 to 9999, odd strides.
        let spread = (0..20_000).map(|i| -62_167_219_200 + i * 15_778_463_777 % 315_537_897_599);
        edges.into_iter().chain(spread)
    }

    /// The dates written by hand are those the `time` crate formats.
    #[test]
    fn dates_by_hand_are_times() {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        for unix in times() {
            let at = OffsetDateTime::from_unix_timestamp(unix)
                .ok()
                .filter(|at| (0..=9999).contains(&at.year()));
            let mut http = String::new();
            write_http_date(unix, &mut http);
            let want = at.map(|at| at.format(HTTP_DATE).unwrap());
            assert_eq!(Some(http).filter(|h| !h.is_empty()), want, "{unix}");
            let mut created = String::new();
            let written = write_rfc3339(unix, &mut created);
            let want = at.map(|at| at.format(rfc3339).unwrap());
            assert_eq!(written.then_some(created), want, "{unix}");
        }
    }

    /// Every extension known gives its type whatever its case, and
    /// nothing else does.
    #[test]
    fn media_types_by_extension() {
        assert!(
            MEDIA_TYPES
                .iter()
                .flat_map(|(_, extensions)| extensions.iter())
                .all(|e| (2..=4).contains(&e.len()) && e.bytes().all(|b| !b.is_ascii_uppercase())),
            "MediaType::of looks only for 2 to 4 lowercase characters"
        );
        for (at, (media, extensions)) in MEDIA_TYPES.iter().enumerate().skip(1) {
            for extension in extensions.iter() {
                for name in [
                    format!("a/b.{extension}"),
                    format!("X.{}", extension.to_uppercase()),
                ] {
                    assert_eq!(MediaType::of(&name), MediaType(at as u8), "{name}");
                    assert_eq!(MediaType::of(&name).as_str(), *media);
                }
            }
        }
        for other in [
            "a",
            "a.",
            "a.b",
            "a.jpegg",
            "a.jpg.bin",
            ".tar.gzz",
            "ü.ß",
            "a.pnğ",
        ] {
            assert_eq!(MediaType::of(other), MediaType(0), "{other}");
        }
    }

    /// The entity tag written by hand is the one `format!` wrote.
    #[test]
    fn etags_by_hand_are_the_formatted_ones() {
        for (size, mtime, nanos, inode) in [
            (0, 0, 0, 0),
            (4096, 1_700_000_000, 999_999_999, 12_345_678),
            (u64::MAX, -1, u32::MAX, u64::MAX),
            (1, i64::MIN, 1, 16),
        ] {
            let info = FileInfo { size, mtime };
            let stamp = Stamp { inode, nanos };
            let mut tag = String::new();
            write_etag(&info, &stamp, &mut tag);
            assert_eq!(tag, format!("\"{size:x}-{mtime:x}.{nanos:x}-{inode:x}\""));
        }
    }

    /// Every status a dialect sends has its own phrase, and no phrase is
    /// another status's (WebDAV's 207 once went out as "207 Internal
    /// Server Error", seen in rclone's `--dump headers`; a 423 too).
    #[test]
    fn every_status_sent_has_its_phrase() {
        assert_eq!(reason(207), "Multi-Status");
        assert_eq!(reason(423), "Locked");
        assert_eq!(reason(424), "Failed Dependency");
        assert_eq!(reason(502), "Bad Gateway");
        assert_eq!(reason(500), "Internal Server Error");
        assert_eq!(reason(599), "");
        // Those of every failure the serve layer names (ErrorKind::code),
        // and those the dialects and the message layer write themselves.
        for status in [
            100, 200, 201, 204, 206, 207, 301, 304, 400, 401, 403, 404, 405, 409, 410, 411, 412,
            413, 414, 415, 416, 417, 422, 423, 424, 429, 431, 460, 500, 501, 502, 503, 505, 507,
        ] {
            assert!(!reason(status).is_empty(), "{status}");
        }
        let phrases: std::collections::BTreeSet<_> = REASONS.iter().map(|(_, p)| p).collect();
        assert_eq!(phrases.len(), REASONS.len(), "a phrase given twice");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn conditionals() {
        let tag = "\"a-b-0000000c\"";
        assert!(not_modified(Some(tag), None, tag, 5));
        assert!(not_modified(
            Some("\"x\", W/\"a-b-0000000c\""),
            None,
            tag,
            5
        ));
        assert!(not_modified(Some("*"), None, tag, 5));
        assert!(!not_modified(
            Some("\"other\""),
            Some("Sun, 06 Nov 2094 08:49:37 GMT"),
            tag,
            5
        ));
        assert!(not_modified(
            None,
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            tag,
            784111777
        ));
        assert!(!not_modified(
            None,
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            tag,
            784111778
        ));
    }

    #[test]
    fn heads() {
        let mut out = Vec::new();
        Head::new(&mut out, 206)
            .header("Content-Range", "bytes 0-1/9")
            .finish(2, Persistence::Close);
        let text = String::from_utf8(out).unwrap();
        let (status, rest) = text.split_once("\r\n").unwrap();
        let (date, rest) = rest.split_once("\r\n").unwrap();
        assert_eq!(status, "HTTP/1.1 206 Partial Content");
        assert!(
            date.starts_with("Date: ") && date.ends_with(" GMT"),
            "{date}"
        );
        assert_eq!(
            rest,
            "Content-Range: bytes 0-1/9\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
        let mut out = Vec::new();
        error(&mut out, 405, "nope", Framing::LAST);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
                && text.contains("Allow: GET, HEAD, PUT, DELETE, MOVE\r\n")
                && text.ends_with("\r\n\r\n405 Method Not Allowed: nope\n")
        );
        // HEAD: the same head, no body; 204 and 304 carry no length.
        let head_only = Framing {
            head_only: true,
            ..Framing::LAST
        };
        let mut out = Vec::new();
        error(&mut out, 404, "gone", head_only);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 20\r\n") && text.ends_with("\r\n\r\n"));
        for status in [204, 304] {
            let mut out = Vec::new();
            Head::new(&mut out, status).finish(0, Persistence::KeepAlive);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("Content-Length"), "{text}");
            assert!(text.ends_with("Connection: keep-alive\r\n\r\n"), "{text}");
        }
        assert!(if_range_holds(None, "\"e\"", 0));
        assert!(if_range_holds(Some("\"e\""), "\"e\"", 0));
        assert!(!if_range_holds(Some("\"old\""), "\"e\"", 0));
        assert!(
            !if_range_holds(Some("W/\"e\""), "\"e\"", 0),
            "weak never matches"
        );
        assert!(if_range_holds(Some(&http_date(1000)), "\"e\"", 1000));
        assert!(!if_range_holds(Some(&http_date(999)), "\"e\"", 1000));
        assert_eq!(MediaType::of("A.CSV").as_str(), "text/csv; charset=utf-8");
        assert_eq!(MediaType::of("noext").as_str(), "application/octet-stream");
    }
}
