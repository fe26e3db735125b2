//! ferry's own HTTP dialect, on top of the message layer (`message.rs`):
//! what a framed request head asks of files, listings and archives (its
//! methods, targets and the fields it reads: conditions, ranges, checksums,
//! times, `Destination`, credentials, the web origin's `Host`/`Origin`).
//! Sans-IO, like the FERRY/1 codec: bytes in, a request (or "need more", or
//! an error with its status) out.

use crate::access::Secret;
use crate::http::fields::{Target, accepts, overwrite, parse_destination, parse_target};
use crate::http::message::{self, Head, Refused, decimal};
pub use crate::http::message::{HttpError, MAX_HEAD, Resume};
use crate::http::origin::Provenance;
use crate::name::{Name, Prefix};
use crate::serve::ArchiveFormat;

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
    /// MOVE (WebDAV, RFC 4918 9.9): rename to the `Destination`.
    Move,
}

impl Method {
    /// The method a token names, if ferry's HTTP serves it.
    fn of(token: &str) -> Option<Method> {
        Some(match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "MOVE" => Method::Move,
            _ => return None,
        })
    }

    /// Whether it writes, moves or deletes (what a page of another site
    /// may not make a browser do, `origin.rs`).
    pub fn changes_state(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// How a request body is framed: `Content-Length` (0 when there is
/// neither header) or `Transfer-Encoding: chunked`.
pub use crate::serve::BodyLength;

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
    /// `If-Range`: serve the range only if the file is still this version.
    pub if_range: Option<String>,
    /// The client prefers JSON (`Accept: application/json`, or
    /// `?format=json` in the target).
    pub wants_json: bool,
    /// A person reads the answer (`Accept` names `text/html`, as a
    /// browser's navigation does): a refusal comes as a page.
    pub wants_page: bool,
    /// A listing's target asks for the folder as an archive (`?tar` or
    /// `?format=tar`, `?zip` or `?format=zip`).
    pub wants_archive: Option<ArchiveFormat>,
    /// A listing's target asks for the plain listing (`?plain`: rows
    /// without the page's script, `page.rs`).
    pub plain: bool,
    /// A listing's target searches its tree for this (`?q=`,
    /// `search.rs`).
    pub search: Option<String>,
    /// `X-Checksum-Crc32c`, hex.
    pub checksum: Option<u32>,
    /// `X-Ferry-Mtime`: the modification time a PUT gives the file, Unix
    /// seconds.
    pub mtime: Option<i64>,
    /// HTTP/1.0: persistent only when asked, and then told so.
    pub http10: bool,
    /// The token of its `Authorization` header.
    pub token: Option<Secret>,
    /// A MOVE's `Destination`, as a name (required for MOVE, ignored
    /// otherwise).
    pub destination: Option<Name>,
    /// A MOVE's `Overwrite` (RFC 4918 10.6): `F` keeps a file at its
    /// destination (then `412`); absent or `T` replaces it.
    pub overwrite: bool,
    /// Where the request says it comes from (`Host`, `Origin`,
    /// `Sec-Fetch-Site`), for [`crate::http::origin::check`].
    pub provenance: Provenance,
}

/// Parses one request head from the front of `buf` as ferry's HTTP
/// dialect: the message layer ([`message::parse`]) frames it, [`interpret`]
/// says what it asks. `Ok(None)` until the head is complete; the `usize`
/// is its length.
///
/// # Errors
/// Those of [`message::parse`]; 405 for methods ferry does not serve, 400
/// for bad fields of its own, a body on anything but PUT, bad targets, 403
/// for reserved names.
pub fn parse_request(buf: &[u8]) -> Result<Option<(HttpRequest, usize)>, HttpError> {
    match message::parse(buf, |_| false, interpret)? {
        message::Parsed::Whole(request, resume) => Ok(Some((request, resume.used))),
        message::Parsed::Partial { .. } => Ok(None),
    }
}

/// ferry's HTTP dialect: the request a framed head asks for, or why not.
pub fn interpret(head: &Head<'_>, resume: &Resume) -> Result<HttpRequest, Refused> {
    let refuse = |status: u16, message: &str| Err((status, message.to_owned()));
    let Some(method) = Method::of(head.method) else {
        return refuse(405, "method not allowed");
    };
    let mut request = HttpRequest {
        method,
        target: Target::Listing(Prefix::root()),
        body: resume.body,
        close: resume.close,
        expect_continue: resume.expect_continue,
        range: None,
        if_none_match: None,
        if_modified_since: None,
        if_range: None,
        wants_json: false,
        wants_page: false,
        wants_archive: None,
        plain: false,
        search: None,
        checksum: None,
        mtime: None,
        http10: resume.http10,
        token: None,
        destination: None,
        overwrite: true,
        provenance: Provenance::default(),
    };
    let mut destination = None;
    let mut refusal = None;
    for (name, value) in head.fields() {
        let outcome = read_field(&mut request, name, value, &mut destination);
        if let Err(refused) = outcome {
            refusal.get_or_insert(refused);
        }
    }
    if let Some((status, message)) = refusal {
        return refuse(status, message);
    }
    if method != Method::Put && request.body != BodyLength::Fixed(0) {
        // A body here has no meaning (RFC 9110 9.3.1); skipped, never read
        // as the next request.
        return refuse(400, "only PUT may carry a body");
    }
    request.target = parse_target(head.target)?;
    // The query's switches, where a link or a tool cannot set `Accept`:
    // `format=json` for a listing; `tar`, `zip`, `format=tar` or
    // `format=zip` for the folder as an archive; `plain`.
    let query = head.target.split_once('?').map_or("", |(_, query)| query);
    let has = |pair: &str| !query.is_empty() && query.split('&').any(|p| p == pair);
    request.wants_json |= has("format=json");
    request.wants_archive = [ArchiveFormat::Tar, ArchiveFormat::Zip]
        .into_iter()
        .find(|format| {
            let ext = format.extension();
            has(ext)
                || query
                    .split('&')
                    .any(|p| p.strip_prefix("format=") == Some(ext))
        });
    request.plain = has("plain");
    request.search = super::search::term(head.target)?;
    // A search is of a folder, so `/dir?q=` is `/dir/?q=`, answered as it
    // is rather than redirected: a redirect would have to carry the term,
    // and the answer every connection holds has no room for text.
    let reads = matches!(method, Method::Get | Method::Head);
    if let (true, Some(_), Target::File(name)) = (reads, &request.search, &request.target) {
        request.target = Target::Listing(Prefix::of_folder(name));
    }
    if method == Method::Move {
        let Some(destination) = destination else {
            return refuse(400, "MOVE needs a Destination");
        };
        let host = request.provenance.host.as_deref().unwrap_or_default();
        request.destination = Some(parse_destination(destination, host)?);
    }
    Ok(request)
}

/// Takes field `name` into `request` if ferry's HTTP reads it; only those
/// fields need be text, others pass as they are.
///
/// # Errors
/// The field is one ferry reads, and its value is bad.
fn read_field<'a>(
    request: &mut HttpRequest,
    name: &str,
    value: &'a [u8],
    destination: &mut Option<&'a str>,
) -> Result<(), (u16, &'static str)> {
    let text = || std::str::from_utf8(value).map(str::trim);
    let is = |field: &str| name.eq_ignore_ascii_case(field);
    if request.provenance.read(name, value) {
        return Ok(());
    }
    if is("range") {
        request.range = text().ok().map(str::to_owned);
    } else if is("if-none-match") {
        // Repeated fields are one comma-separated list (RFC 9110 5.3).
        if let Ok(value) = text() {
            request.if_none_match = Some(match request.if_none_match.take() {
                Some(earlier) => format!("{earlier}, {value}"),
                None => value.to_owned(),
            });
        }
    } else if is("if-modified-since") {
        request.if_modified_since = text().ok().map(str::to_owned);
    } else if is("if-range") {
        // Unreadable, it can match no version: the whole file is sent.
        request.if_range = Some(text().unwrap_or_default().to_owned());
    } else if is("accept") {
        request.wants_json |= text().is_ok_and(|t| accepts(t, "application/json"));
        request.wants_page |= text().is_ok_and(|t| accepts(t, "text/html"));
    } else if is("authorization") {
        request.token = Some(crate::http::auth::token(value));
    } else {
        return read_ferry_field(request, name, value, destination);
    }
    Ok(())
}

/// The fields only ferry's HTTP (and MOVE) knows: checksums, times and
/// destinations.
fn read_ferry_field<'a>(
    request: &mut HttpRequest,
    name: &str,
    value: &'a [u8],
    destination: &mut Option<&'a str>,
) -> Result<(), (u16, &'static str)> {
    let is = |field: &str| name.eq_ignore_ascii_case(field);
    let value_trimmed = value.trim_ascii();
    if is("x-ferry-mtime") {
        let mtime = decimal(value_trimmed).and_then(|t| i64::try_from(t).ok());
        request.mtime = Some(mtime.ok_or((400, "X-Ferry-Mtime must be Unix seconds"))?);
    } else if is("destination") {
        match std::str::from_utf8(value).map(str::trim) {
            Ok(text) if destination.is_none() => *destination = Some(text),
            _ => return Err((400, "bad Destination")),
        }
    } else if is("overwrite") {
        request.overwrite = overwrite(value_trimmed).ok_or((400, "Overwrite must be T or F"))?;
    } else if is("x-checksum-crc32c") {
        let crc = hex_crc(value_trimmed).ok_or((400, "X-Checksum-Crc32c must be 8 hex digits"))?;
        request.checksum = Some(crc);
    }
    Ok(())
}

/// Exactly eight hex digits (either case), as FERRY/1 takes a CRC-32C: no
/// sign, no spaces inside.
fn hex_crc(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
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
        let text =
            "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
        for cut in 0..text.len() {
            assert_eq!(parse(&text[..cut]), Ok(None), "cut at {cut}");
        }
        let (request, _) = parse(text).unwrap().unwrap();
        assert_eq!(request.body, BodyLength::Fixed(5));
        assert!(request.expect_continue);
    }

    #[test]
    fn framing_and_connection_options() {
        let (request, _) = parse(
            "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
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
        // Framing a proxy might read differently is refused, and closes.
        for faulty in [
            "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n",
            "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3 3\r\n\r\n",
            "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let err = parse(faulty).unwrap_err();
            assert_eq!((err.status, err.resume), (400, None), "{faulty:?}");
        }
    }

    #[test]
    fn refusals_keep_what_the_answer_and_the_next_request_need() {
        let err = parse("HEAD /.ferry-x HTTP/1.0\r\n\r\n").unwrap_err();
        let resume = err.resume.unwrap();
        assert_eq!(err.status, 403);
        assert!(resume.head && resume.close && resume.http10);
        let err = parse("PUT /a/../b HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").unwrap_err();
        let resume = err.resume.unwrap();
        assert_eq!(err.status, 400);
        assert!(resume.expect_continue && resume.close);
        assert_eq!(resume.body, BodyLength::Fixed(10));
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        let status = |headers: &str| {
            parse(&format!("GET /x HTTP/1.1\r\n{headers}\r\n"))
                .map(|r| r.map(|_| 200))
                .unwrap_or_else(|e| Some(e.status))
        };
        assert_eq!(status("Host: a.example:80\r\n"), Some(200));
        assert_eq!(status("Host:\r\n"), Some(200), "empty is allowed");
        assert_eq!(status(""), Some(400));
        assert_eq!(status("Host: a\r\nHost: b\r\n"), Some(400));
        assert_eq!(status("Host: a/b\r\n"), Some(400));
        assert!(parse("GET /x HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn only_put_carries_a_body_and_other_bodies_are_skipped() {
        for method in ["GET", "HEAD", "DELETE"] {
            let text = format!("{method} /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n");
            let err = parse(&text).unwrap_err();
            let resume = err.resume.unwrap();
            assert_eq!((err.status, resume.body), (400, BodyLength::Fixed(4)));
            assert_eq!(resume.used, text.len());
        }
        let zero = "DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
        assert!(parse(zero).unwrap().is_some());
    }

    #[test]
    fn unused_headers_need_not_be_text_and_accept_weighs_json() {
        let (request, _) =
            parse_request(b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: caf\xe9\r\n\r\n")
                .unwrap()
                .unwrap();
        assert!(!request.wants_json);
        let wants = |accept: &str| {
            parse(&format!(
                "GET / HTTP/1.1\r\nHost: h\r\nAccept: {accept}\r\n\r\n"
            ))
            .unwrap()
            .unwrap()
            .0
            .wants_json
        };
        assert!(wants("application/json"));
        assert!(wants("text/html;q=0.5, application/json"));
        assert!(!wants("application/json;q=0, text/html"));
        assert!(!wants("text/html"));
        assert_eq!(parse("GET / HTTP/2.0\r\n\r\n").unwrap_err().status, 505);
    }

    #[test]
    fn targets() {
        let target = |t: &str| {
            parse(&format!("GET {t} HTTP/1.1\r\nHost: h\r\n\r\n")).map(|r| r.unwrap().0.target)
        };
        assert_eq!(
            target("/"),
            Ok(Target::Listing(Prefix::decode(b"").unwrap()))
        );
        assert_eq!(
            target("/logs/"),
            Ok(Target::Listing(Prefix::decode(b"logs/").unwrap()))
        );
        assert!(matches!(target("/a?x=1"), Ok(Target::File(_))));
        // A folder named as long as a name may be (its prefix is longer).
        let long = [
            "d".repeat(255),
            "e".repeat(255),
            "f".repeat(255),
            "g".repeat(254),
            "h".into(),
        ]
        .join("/");
        let folder = Prefix::of_folder(&Name::new(long.clone()).unwrap());
        assert_eq!(folder.as_str().len(), 1025);
        assert_eq!(target(&format!("/{long}/")), Ok(Target::Listing(folder)));
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
        let err = parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n").unwrap_err();
        assert_eq!(err.status, 405);
        assert!(err.resume.is_some(), "a 405 keeps the connection");
        assert_eq!(parse("GARBAGE\r\n\r\n").unwrap_err().status, 400);
    }

    fn head(text: &str) -> Result<HttpRequest, HttpError> {
        parse_request(text.as_bytes()).map(|parsed| parsed.expect("a whole head").0)
    }

    #[test]
    fn listings_may_ask_for_json_in_the_query() {
        let json = head("GET /d/?x=1&format=json HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert!(json.wants_json);
        let html = head("GET /d/?format=jsonx HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert!(!html.wants_json && html.wants_archive.is_none());
        let archive = |target: &str| {
            head(&format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n"))
                .unwrap()
                .wants_archive
        };
        assert_eq!(archive("/d/?tar"), Some(ArchiveFormat::Tar));
        assert_eq!(archive("/d/?a=b&format=tar"), Some(ArchiveFormat::Tar));
        assert_eq!(archive("/d/?zip"), Some(ArchiveFormat::Zip));
        assert_eq!(archive("/d/?format=zip"), Some(ArchiveFormat::Zip));
        assert_eq!(archive("/d/?zipx"), None);
    }

    #[test]
    fn mtimes_are_unix_seconds() {
        let put = |value: &str| {
            head(&format!(
                "PUT /a HTTP/1.1\r\nHost: h\r\nX-Ferry-Mtime: {value}\r\n\r\n"
            ))
        };
        assert_eq!(put("86400").unwrap().mtime, Some(86_400));
        for bad in ["-1", "1.5", "9223372036854775808", ""] {
            let err = put(bad).unwrap_err();
            assert_eq!(err.status, 400, "{bad:?}");
            assert!(err.resume.is_some(), "{bad:?}: the connection goes on");
        }
    }

    #[test]
    fn moves_need_a_destination_naming_a_file() {
        let moved =
            |destination: &str| head(&format!("MOVE /a HTTP/1.1\r\nHost: h\r\n{destination}\r\n"));
        let to = moved("Destination: https://h:443/b/c%20d?q\r\n").unwrap();
        assert_eq!(to.destination.unwrap().as_str(), "b/c d");
        // Another server, another port or scheme: not here to move to.
        for elsewhere in ["http://evil.example/b", "http://h:1/b", "ftp://h/b"] {
            let refused = moved(&format!("Destination: {elsewhere}\r\n")).unwrap_err();
            assert_eq!(refused.status, 502, "{elsewhere}");
        }
        assert_eq!(moved("").unwrap_err().status, 400);
        assert_eq!(moved("Destination: /b/\r\n").unwrap_err().status, 400);
        assert_eq!(moved("Destination: http://h\r\n").unwrap_err().status, 400);
        assert_eq!(moved("Destination: /.ferry-x\r\n").unwrap_err().status, 403);
        let twice = "Destination: /b\r\nDestination: /c\r\n";
        assert_eq!(moved(twice).unwrap_err().status, 400);
    }
}
