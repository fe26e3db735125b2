//! Parsing HTTP/1.1 request heads with `httparse` into what ferry acts on.
//! Sans-IO, like the FERRY/1 codec: bytes in, a request (or "need more", or
//! an error with its status) out.

use crate::name::{self, Name, NameError, Prefix};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file.
    File(Name),
    /// A listing of everything under a prefix ending in `/` (or the root).
    Listing(Prefix),
}

/// The methods ferry serves; others get 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length` (0 when there is neither header).
    Fixed(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// What it names.
    pub target: Target,
    /// How its body is framed.
    pub body: BodyLength,
    /// Close the connection after the response.
    pub close: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The `Range` header, unparsed.
    pub range: Option<String>,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// The client prefers JSON (`Accept: application/json`).
    pub wants_json: bool,
    /// `X-Checksum-Crc32c`, hex.
    pub checksum: Option<u32>,
}

/// A request that is answered with an error status instead of served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// Status code.
    pub status: u16,
    /// Reason, for the body.
    pub message: String,
    /// Bytes of the head, if it was complete (the connection may go on
    /// after skipping them and `body`); `None` closes the connection.
    pub resume: Option<(usize, BodyLength)>,
}

impl HttpError {
    fn fatal(status: u16, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
            resume: None,
        }
    }
}

/// Parses one request head from the front of `buf`. `Ok(None)` until the
/// head is complete; the `usize` is its length.
///
/// # Errors
/// 431 beyond [`MAX_HEAD`] bytes or too many headers, 400 for malformed
/// heads, framing or targets, 405 for unsupported methods, 403 for
/// reserved names.
pub fn parse_request(buf: &[u8]) -> Result<Option<(HttpRequest, usize)>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let used = match parsed.parse(window) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) if window.len() >= MAX_HEAD => {
            return Err(HttpError::fatal(431, "request head larger than 8 KiB"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::fatal(431, "too many headers"));
        }
        Err(err) => return Err(HttpError::fatal(400, format!("malformed request: {err}"))),
    };
    let version = parsed.version.unwrap_or(1);
    let mut request = HttpRequest {
        method: Method::Get,
        target: Target::Listing(Prefix::decode(b"").map_err(|e| bad_name(e, None))?),
        body: BodyLength::Fixed(0),
        close: version == 0,
        expect_continue: false,
        range: None,
        if_none_match: None,
        if_modified_since: None,
        wants_json: false,
        checksum: None,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for header in parsed.headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| HttpError::fatal(400, "header value is not UTF-8"))?
            .trim();
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let parsed: u64 = value
                .parse()
                .map_err(|_| HttpError::fatal(400, "bad Content-Length"))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(HttpError::fatal(400, "conflicting Content-Length"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::fatal(
                    501,
                    "only chunked transfer coding is supported",
                ));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    request.close = true;
                } else if option.eq_ignore_ascii_case("keep-alive") && version == 0 {
                    request.close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case("100-continue") {
                return Err(HttpError::fatal(417, "only 100-continue is supported"));
            }
            request.expect_continue = version >= 1;
        } else if name.eq_ignore_ascii_case("range") {
            request.range = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("if-none-match") {
            request.if_none_match = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            request.if_modified_since = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("accept") {
            request.wants_json = value.contains("application/json");
        } else if name.eq_ignore_ascii_case("x-checksum-crc32c") {
            let crc = (value.len() == 8)
                .then(|| u32::from_str_radix(value, 16).ok())
                .flatten()
                .ok_or_else(|| HttpError::fatal(400, "X-Checksum-Crc32c must be 8 hex digits"))?;
            request.checksum = Some(crc);
        }
    }
    if chunked && length.is_some() {
        // RFC 9112 6.3: a message with both is suspect; refuse it.
        return Err(HttpError::fatal(400, "both Content-Length and chunked"));
    }
    request.body = if chunked {
        BodyLength::Chunked
    } else {
        BodyLength::Fixed(length.unwrap_or(0))
    };
    let body = request.body;
    request.method = match parsed.method.unwrap_or_default() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        _ => {
            return Err(HttpError {
                status: 405,
                message: "method not allowed".into(),
                resume: Some((used, body)),
            });
        }
    };
    request.target = parse_target(parsed.path.unwrap_or_default()).map_err(|err| HttpError {
        resume: Some((used, body)),
        ..err
    })?;
    Ok(Some((request, used)))
}

/// An origin-form target (`/path[?query]`) as a file or a listing. The
/// query is ignored; anything that is not origin-form is refused.
fn parse_target(target: &str) -> Result<Target, HttpError> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let Some(path) = path.strip_prefix('/') else {
        return Err(HttpError::fatal(
            400,
            "request target must be a path starting with /",
        ));
    };
    if path.is_empty() || path.ends_with('/') {
        let prefix = Prefix::decode(path.as_bytes()).map_err(|e| bad_name(e, None))?;
        if !path.is_empty() {
            // A listing names a directory: every segment must be valid.
            Name::decode(path.trim_end_matches('/').as_bytes()).map_err(|e| bad_name(e, None))?;
        }
        return Ok(Target::Listing(prefix));
    }
    Name::decode(path.as_bytes())
        .map(Target::File)
        .map_err(|e| bad_name(e, None))
}

fn bad_name(err: NameError, resume: Option<(usize, BodyLength)>) -> HttpError {
    HttpError {
        status: err.code(),
        message: err.to_string(),
        resume,
    }
}

/// A single byte range, resolved against a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Send the whole file (no Range header, or one ferry ignores).
    Whole,
    /// Send `len` bytes from `start`.
    Part {
        /// First byte.
        start: u64,
        /// Bytes.
        len: u64,
    },
    /// Nothing of the file satisfies it: 416.
    Unsatisfiable,
}

/// Resolves a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`). Multiple
/// ranges and other units are ignored (the whole file is sent), as RFC 9110
/// allows.
pub fn resolve_range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) if n > 0 && size > 0 => {
            let len = n.min(size);
            Range::Part {
                start: size - len,
                len,
            }
        }
        (true, _, _) => Range::Unsatisfiable,
        (false, Some(start), _) if start >= size => Range::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => Range::Part {
            start,
            len: size - start,
        },
        (false, Some(start), Some(end)) if end >= start => Range::Part {
            start,
            len: end.min(size - 1) - start + 1,
        },
        _ => Range::Whole,
    }
}

/// Percent-encodes a name for use in a URL path: everything but unreserved
/// characters and `/`.
pub fn url_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes what [`url_path`] encodes (for tests and clients).
pub fn url_decode(text: &str) -> Option<String> {
    name::percent_decode(text.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<(HttpRequest, usize)>, HttpError> {
        parse_request(text.as_bytes())
    }

    #[test]
    fn parses_a_get_with_its_headers() {
        let text = "GET /dir/a%20b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nAccept: application/json\r\n\r\n";
        let (request, used) = parse(text).unwrap().unwrap();
        assert_eq!(used, text.len());
        assert_eq!(request.method, Method::Get);
        assert_eq!(
            request.target,
            Target::File(Name::decode(b"dir/a b.txt").unwrap())
        );
        assert_eq!(request.range.as_deref(), Some("bytes=0-9"));
        assert!(request.wants_json && !request.close);
    }

    #[test]
    fn every_split_point_waits_for_more() {
        let text = "PUT /x HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        for cut in 0..text.len() {
            assert_eq!(parse(&text[..cut]), Ok(None), "cut at {cut}");
        }
        let (request, _) = parse(text).unwrap().unwrap();
        assert_eq!(request.body, BodyLength::Fixed(5));
        assert!(request.expect_continue);
    }

    #[test]
    fn framing_and_connection_options() {
        let (request, _) =
            parse("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!((request.body, request.close), (BodyLength::Chunked, true));
        let (request, _) = parse("GET /x HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(request.close, "HTTP/1.0 closes by default");
        let (request, _) = parse("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!request.close);
        let both = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse(both).unwrap_err().status, 400);
    }

    #[test]
    fn targets() {
        let target =
            |t: &str| parse(&format!("GET {t} HTTP/1.1\r\n\r\n")).map(|r| r.unwrap().0.target);
        assert_eq!(
            target("/"),
            Ok(Target::Listing(Prefix::decode(b"").unwrap()))
        );
        assert_eq!(
            target("/logs/"),
            Ok(Target::Listing(Prefix::decode(b"logs/").unwrap()))
        );
        assert!(matches!(target("/a?x=1"), Ok(Target::File(_))));
        for bad in [
            "http://host/x",
            "*",
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a//b/",
        ] {
            let err = target(bad).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
        }
        assert_eq!(target("/.ferry-x").unwrap_err().status, 403);
    }

    #[test]
    fn limits_and_methods() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(&big).unwrap_err().status, 431);
        let err = parse("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n").unwrap_err();
        assert_eq!(err.status, 405);
        assert!(err.resume.is_some(), "a 405 keeps the connection");
        assert_eq!(parse("GARBAGE\r\n\r\n").unwrap_err().status, 400);
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(None, 10), Range::Whole);
        assert_eq!(
            resolve_range(Some("bytes=2-4"), 10),
            Range::Part { start: 2, len: 3 }
        );
        assert_eq!(
            resolve_range(Some("bytes=2-"), 10),
            Range::Part { start: 2, len: 8 }
        );
        assert_eq!(
            resolve_range(Some("bytes=-3"), 10),
            Range::Part { start: 7, len: 3 }
        );
        assert_eq!(
            resolve_range(Some("bytes=-30"), 10),
            Range::Part { start: 0, len: 10 }
        );
        assert_eq!(
            resolve_range(Some("bytes=5-100"), 10),
            Range::Part { start: 5, len: 5 }
        );
        assert_eq!(resolve_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(resolve_range(Some("bytes=0-0,5-6"), 10), Range::Whole);
        assert_eq!(resolve_range(Some("bytes=4-2"), 10), Range::Whole);
        assert_eq!(resolve_range(Some("items=0-1"), 10), Range::Whole);
    }

    #[test]
    fn url_paths_round_trip() {
        let name = "dir/a b?#%ü.txt";
        let encoded = url_path(name);
        assert!(!encoded.contains(' ') && !encoded.contains('?') && !encoded.contains('#'));
        assert_eq!(url_decode(&encoded).as_deref(), Some(name));
    }
}
