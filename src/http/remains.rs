//! The answer to a folder's DELETE, COPY or MOVE that left members
//! behind (a file the grants kept, one that failed): WebDAV's 207
//! multistatus, or the same report as JSON for the web page and other
//! programs that ask for it. One home for both dialects that serve folders
//! (ferry's HTTP and WebDAV).

use super::dialect::Message;
use super::fields::url_path;
use super::listing;
use super::response::Head as ResponseHead;
use crate::serve::Failure;

/// What a folder's DELETE (or a COPY or MOVE) left, `207` either way:
/// RFC 4918 9.6.1's multistatus, one response per member with its
/// status, and a word on the `more` not named; or, for a client that
/// asked for JSON (`json`: `Accept: application/json`, the page), the
/// same as
///
/// ```text
/// {"failed":[{"name":"a/b.txt","status":403,"reason":"..."}, ...],"more":0}
/// ```
pub(super) fn answer(
    (remains, more): (&[(String, Failure)], u64),
    json: bool,
    message: Message,
    out: &mut Vec<u8>,
) {
    let (body, media_type) = if json {
        (json_of(remains, more), listing::media_type(true))
    } else {
        let members = remains.iter().map(|(name, failure)| {
            let href = format!("/{}", url_path(name));
            (href, failure.kind.code(), failure.message.as_str())
        });
        (super::xml::remains(members, more), super::xml::MEDIA_TYPE)
    };
    ResponseHead::new(out, 207)
        .header("Content-Type", media_type)
        .finish(body.len() as u64, message.persistence);
    if !message.head {
        out.extend_from_slice(body.as_bytes());
    }
}

/// The JSON form of [`answer`]'s report.
fn json_of(remains: &[(String, Failure)], more: u64) -> String {
    let mut body = String::from("{\"failed\":[");
    for (at, (name, failure)) in remains.iter().enumerate() {
        if at > 0 {
            body.push(',');
        }
        body.push_str("{\"name\":");
        crate::formats::json::push_string(&mut body, name);
        let status = failure.kind.code();
        body.push_str(&format!(",\"status\":{status},\"reason\":"));
        crate::formats::json::push_string(&mut body, &failure.message);
        body.push('}');
    }
    body.push_str(&format!("],\"more\":{more}}}\n"));
    body
}
