//! Cross-origin requests (the Fetch standard's CORS protocol): which pages
//! of other sites a browser lets read ferry's answers and send it
//! requests, for the operator to choose (`--cors-origin`), for every
//! dialect alike. Without it a browser keeps every page to its own origin;
//! with it, an allowed origin's page (Uppy on a company site, say) may
//! use the HTTP listener as a page of ferry's own could: the same tokens,
//! grants and limits (`origin.rs` lets its writes through).
//!
//! ```text
//! OPTIONS <any>  Origin: https://app.example, Access-Control-Request-Method: PATCH
//!   -> 204 ... Access-Control-Allow-Origin: *, Vary: Origin,
//!      Access-Control-Allow-Methods, Access-Control-Allow-Headers, Access-Control-Max-Age
//! <any request>  Origin: https://app.example
//!   -> ... Access-Control-Allow-Origin: *, Vary: Origin,
//!      Access-Control-Expose-Headers: Location, Upload-Offset, ... (what clients read)
//! ```
//!
//! Only a request from an allowed origin gets these fields; any other
//! gets none, and its browser keeps the answer from the page. The answer
//! names no origin but `*`, which is as strict here (the answer goes to
//! the page that asked, and `Vary: Origin` keeps a cache from handing it
//! to another) and lets the exchange remember one byte instead of the
//! origin. `*` allows no credentials, and none are wanted: a foreign page
//! sends its token itself (`Authorization`), never the browser's
//! remembered sign-in. Sans-IO: the fields are added to an answer already
//! written, by the message layer (`codec.rs`).

use super::message::Head;
use crate::config::WebConfig;

/// `--cors-origin`'s value that allows every origin.
pub const ANY: &str = "*";

/// Methods a foreign page may use: every dialect's on this listener.
const METHODS: &str = "GET, HEAD, PUT, POST, PATCH, DELETE, MOVE, OPTIONS";
/// Request fields a foreign page may send (beyond the CORS-safelisted).
const REQUEST_FIELDS: &str = "Authorization, Content-Type, Tus-Resumable, Upload-Length, \
    Upload-Defer-Length, Upload-Metadata, Upload-Offset, Upload-Checksum, Upload-Concat, \
    X-Ferry-Mtime, X-Requested-With, X-HTTP-Method-Override, Destination, Overwrite, Range, \
    If-Match, If-None-Match, If-Modified-Since";
/// Answer fields a foreign page may read (beyond the CORS-safelisted).
const ANSWER_FIELDS: &str = "Location, Upload-Offset, Upload-Length, Upload-Metadata, \
    Upload-Expires, Upload-Defer-Length, Tus-Resumable, Tus-Version, Tus-Extension, \
    Tus-Max-Size, Tus-Checksum-Algorithm, X-Checksum-Crc32c, ETag, Content-Range, \
    Content-Disposition, Accept-Ranges";
/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// What an answer to one request says about CORS (one byte, kept by the
/// connection's exchange).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cors {
    /// No allowed origin asked: nothing to add.
    #[default]
    None,
    /// A request from the page of an allowed origin.
    Allowed,
    /// An allowed origin's page asks whether it may send a request (an
    /// `OPTIONS` with `Access-Control-Request-Method`).
    Preflight,
}

/// Makes an origin given with `--cors-origin` into what requests are
/// compared with: `scheme://host[:port]` in lower case, or `*`.
///
/// # Errors
/// Anything else (a path, a missing scheme).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == ANY {
        return Ok(ANY.to_owned());
    }
    let lower = text.trim_end_matches('/').to_ascii_lowercase();
    let sound = lower.split_once("://").is_some_and(|(scheme, authority)| {
        matches!(scheme, "http" | "https")
            && !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    });
    match sound {
        true => Ok(lower),
        false => Err(format!(
            "{text:?} is not an origin: give scheme://host[:port] (https://app.example), or *"
        )),
    }
}

/// Whether `origin` (an `Origin` value) is one `web` allows.
pub fn allows(origin: &str, web: &WebConfig) -> bool {
    let origin = origin.trim();
    web.cors_origins
        .iter()
        .any(|allowed| allowed == ANY || allowed.eq_ignore_ascii_case(origin))
}

/// What a request head asks of CORS under `web`.
pub fn of(head: &Head<'_>, web: &WebConfig) -> Cors {
    if web.cors_origins.is_empty() {
        return Cors::None;
    }
    let field = |wanted: &str| {
        head.fields()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value)
    };
    let allowed = field("origin")
        .and_then(|value| std::str::from_utf8(value).ok())
        .is_some_and(|origin| allows(origin, web));
    match allowed {
        false => Cors::None,
        true if head.method == "OPTIONS" && field("access-control-request-method").is_some() => {
            Cors::Preflight
        }
        true => Cors::Allowed,
    }
}

/// Adds the CORS fields of `cors` to the answer whose head starts at
/// `start` of `out` (already written, body and all): just before the
/// head's empty line.
pub fn add_fields(cors: Cors, start: usize, out: &mut Vec<u8>) {
    let fields: &[&str] = match cors {
        Cors::None => return,
        Cors::Allowed => &[
            "Access-Control-Allow-Origin: *\r\nVary: Origin\r\n",
            "Access-Control-Expose-Headers: ",
            ANSWER_FIELDS,
            "\r\n",
        ],
        Cors::Preflight => &[
            "Access-Control-Allow-Origin: *\r\nVary: Origin\r\n",
            "Access-Control-Allow-Methods: ",
            METHODS,
            "\r\nAccess-Control-Allow-Headers: ",
            REQUEST_FIELDS,
            "\r\nAccess-Control-Max-Age: ",
            PREFLIGHT_MAX_AGE,
            "\r\n",
        ],
    };
    let Some(end) = out
        .get(start..)
        .and_then(|head| head.windows(4).position(|w| w == b"\r\n\r\n"))
        .map(|at| start + at + 2)
    else {
        debug_assert!(false, "an answer without a head");
        return;
    };
    let bytes = fields.iter().flat_map(|field| field.bytes());
    out.splice(end..end, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_kept_in_lower_case_without_a_path() {
        assert_eq!(
            parse_origin("https://App.Example/"),
            Ok("https://app.example".into())
        );
        assert_eq!(
            parse_origin("http://[::1]:8080"),
            Ok("http://[::1]:8080".into())
        );
        assert_eq!(parse_origin("*"), Ok("*".into()));
        for bad in [
            "app.example",
            "https://app.example/path",
            "ftp://x",
            "https://",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_go_just_before_the_empty_line_of_the_answers_head() {
        let mut out = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
        let start = out.len();
        out.extend_from_slice(b"HTTP/1.1 204 No Content\r\nA: b\r\n\r\nbody");
        add_fields(Cors::Allowed, start, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204"),
            "{text}"
        );
        assert!(text.contains("A: b\r\nAccess-Control-Allow-Origin: *\r\nVary: Origin\r\n"));
        assert!(text.ends_with("\r\n\r\nbody"), "{text}");
    }
}
