//! Share links on the HTTP listener (docs/shares.md): the links made,
//! listed and revoked by their creator's token at `/.ferry-shares`, and
//! used without one at `/s/<id>`. Sans-IO: requests become the serve
//! layer's link operations (`serve/ops/links.rs`, `via_link.rs`), whose
//! rules hold whichever way they are asked.
//!
//! ```text
//! POST   /.ferry-shares          {"path": "docs/r.pdf" | "photos/", "mode": "read" | "upload",
//!                                 "expires": "7d" | seconds, "password": "...",
//!                                 "max_downloads": N}            -> 201 {link}
//! GET    /.ferry-shares                                          -> 200 [{link}, ...]
//! DELETE /.ferry-shares/<id>                                     -> 204
//! GET    /s/<id>[/<name below it>]   (HEAD, Range; ?zip; a folder's listing as JSON)
//! {link}: {"id", "url", "path", "mode", "created_at", "expires_at", "password": bool,
//!          "max_downloads": N | null, "downloads": N}
//! ```
//!
//! `/s/` is claimed only with an id after it (22 base64url characters):
//! a folder of the root named `s` is still the files dialect's, all but
//! a sub-folder with such a name.

use crate::formats::calendar::Civil;
use crate::formats::json;
use crate::formats::json_reader::{self, Value};
use crate::http::dialect::{Answer, Decision, Dialect, Message};
use crate::http::fields::{Target, path_of, url_path};
use crate::http::files::request::{Method, interpret};
use crate::http::files::{FilesAnswer, want_of};
use crate::http::message::{Head, MAX_BODY_IN_HAND, Refused, Resume};
use crate::http::origin::{self, Site};
use crate::http::response::{self, Framing, Head as ResponseHead};
use crate::http::{link_page, listing};
use crate::model::{LinkMode, ShareLink, is_link_id, link_address, parse_span};
use crate::name::{Name, Prefix};
use crate::serve::ops::{LinkAsk, LinkBase, LinkTarget, ListLinks, MakeLink, RevokeLink, ViaLink};
use crate::serve::{Body, ErrorKind, Operation, Reply, Request};

/// Where links are made, listed and revoked.
const SHARES: &str = "/.ferry-shares";
/// Where they are used.
const LINKS: &str = "/s/";
/// A link's password prompt: any user name, the link's password.
const LINK_CHALLENGE: &str = "Basic realm=\"ferry link\", charset=\"UTF-8\"";

/// The dialect.
#[derive(Debug)]
pub struct Shares;

/// What a target under [`LINKS`] names: the link's id and what is below
/// it (the rest of the target, undecoded).
fn link_of(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(LINKS)?;
    let (id, below) = rest.split_at_checked(crate::model::LINK_ID_LEN)?;
    (is_link_id(id) && (below.is_empty() || below.starts_with('/'))).then_some((id, below))
}

/// What a target under [`SHARES`] names: the table, or one link.
fn shares_of(path: &str) -> Option<Option<&str>> {
    match path.strip_prefix(SHARES)? {
        "" | "/" => Some(None),
        rest => rest.strip_prefix('/').map(Some),
    }
}

impl Dialect for Shares {
    type Answer = SharesAnswer;

    fn claims(&self, head: &Head<'_>) -> bool {
        let path = path_of(head.target);
        link_of(path).is_some() || shares_of(path).is_some()
    }

    fn body_in_hand(&self, head: &Head<'_>, _site: Site<'_>) -> Option<u64> {
        (head.method == "POST").then_some(MAX_BODY_IN_HAND)
    }

    fn decode(
        &self,
        head: &Head<'_>,
        resume: &Resume,
        site: Site<'_>,
    ) -> Result<Decision<SharesAnswer>, Refused> {
        let path = path_of(head.target);
        if let Some((id, _)) = link_of(path) {
            return Ok(through_link(head, resume, site, id));
        }
        let answer = SharesAnswer::plain(Asked::Table);
        let (token, mut provenance) = credentials(head);
        let writes = head.method != "GET";
        if let Err((code, message)) = origin::check(writes, &provenance, site) {
            return Ok(Decision::Refuse(code, message, answer));
        }
        let base = LinkBase::Asked(provenance.host.take().map(|host| {
            let scheme = if site.tls { "https" } else { "http" };
            format!("{scheme}://{host}")
        }));
        let operation = match (head.method, shares_of(path).flatten()) {
            ("POST", None) => make(head.body, base).map(Operation::MakeLink),
            ("GET", None) => Ok(Operation::ListLinks(ListLinks { base })),
            ("DELETE", Some(id)) => Ok(Operation::RevokeLink(RevokeLink { id: id.to_owned() })),
            _ => Err((
                405,
                "share links are made with POST, listed with GET and revoked with DELETE".into(),
            )),
        };
        Ok(match operation {
            Ok(operation) => Decision::Serve(Request::new(operation, token), answer),
            Err((code, message)) => Decision::Refuse(code, message, answer),
        })
    }
}

/// The token a head presents and where it comes from.
fn credentials(head: &Head<'_>) -> (Option<crate::access::Secret>, origin::Provenance) {
    let mut provenance = origin::Provenance::default();
    let mut token = None;
    for (name, value) in head.fields() {
        if !provenance.read(name, value) && name.eq_ignore_ascii_case("authorization") {
            token = Some(crate::http::auth::token(value));
        }
    }
    (token, provenance)
}

/// A request through link `id`.
fn through_link(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
    id: &str,
) -> Decision<SharesAnswer> {
    let refused = |code: u16, message: String| {
        Decision::Refuse(code, message, SharesAnswer::plain(Asked::Link))
    };
    let mut request = match interpret(head, resume) {
        Ok(request) => request,
        Err((code, message)) => return refused(code, message),
    };
    let writes = match request.method {
        Method::Get | Method::Head => false,
        Method::Put => true,
        _ => {
            return refused(
                405,
                "a link is read with GET or HEAD, or takes files with PUT".into(),
            );
        }
    };
    if let Err((code, message)) = origin::check(writes, &request.provenance, site) {
        return refused(code, message);
    }
    if request.search.is_some() {
        return refused(400, "a link's folder is not searched".into());
    }
    let own = format!("s/{id}");
    let below = match &request.target {
        Target::File(name) if name.as_str() == own => Some(""),
        Target::File(name) => name.as_str().strip_prefix(&own),
        Target::Listing(prefix) => prefix.as_str().strip_prefix(&own),
    };
    // The target was read as `/s/<id>...` (`link_of`): anything else is
    // no address of this link.
    let Some(below) = below else {
        debug_assert!(false, "{:?} is not under its link", request.target);
        return refused(404, "no such file under this link".into());
    };
    let sub = below.strip_prefix('/').unwrap_or(below).to_owned();
    let files = FilesAnswer::new(&request, site);
    // A browser's navigation: pages for people (`link_page.rs`).
    let person = request.wants_page && !request.wants_json;
    let ask = match writes {
        true => LinkAsk::Put {
            body: Body {
                length: resume.body,
                awaits_go_ahead: resume.expect_continue,
            },
            crc: request.checksum,
            mtime: request.mtime,
        },
        false => LinkAsk::Read {
            want: want_of(&request),
            archive: request.wants_archive,
            listing: match person {
                true => link_page::folder_format(),
                false => listing::link_format(),
            },
            body: request.method != Method::Head,
        },
    };
    let answer = SharesAnswer {
        asked: Asked::Link,
        files: Some(files),
        person,
    };
    let via = ViaLink {
        id: id.to_owned(),
        password: request.token.take(),
        sub,
        ask,
        bare: below.is_empty(),
    };
    Decision::Serve(Request::from(Operation::ViaLink(via)), answer)
}

/// A link's making, from its JSON.
///
/// # Errors
/// 400: not JSON of the form above, a name that is not one, an upload
/// link of a file.
fn make(body: &[u8], base: LinkBase) -> Result<MakeLink, Refused> {
    let bad = |message: String| (400, message);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    let members = json_reader::flat_object(text).map_err(bad)?;
    let mut link = MakeLink {
        target: LinkTarget::Folder(Prefix::root()),
        mode: LinkMode::Read,
        expires_in: None,
        password: None,
        max_downloads: None,
        base,
    };
    let mut path = None;
    for (key, value) in members {
        match (key.as_str(), value) {
            ("path", Value::Text(text)) => path = Some(text),
            ("mode", Value::Text(mode)) => {
                link.mode = LinkMode::parse(&mode)
                    .ok_or_else(|| bad(format!("mode is read or upload, not {mode:?}")))?;
            }
            ("expires", Value::Number(secs)) => link.expires_in = Some(secs),
            ("expires", Value::Text(span)) => {
                link.expires_in = Some(parse_span(&span).map_err(bad)?)
            }
            ("password", Value::Text(password)) if password.is_empty() => {
                return Err(bad(
                    "password is empty: leave it out for a link without one".into(),
                ));
            }
            ("password", Value::Text(password)) => {
                link.password = Some(crate::access::Secret::new(password));
            }
            ("max_downloads", Value::Number(max)) if max > 0 => link.max_downloads = Some(max),
            ("password" | "max_downloads" | "expires", Value::Null) => {}
            // The key only: a value may be a secret sent under a wrong key.
            (key, _) => return Err(bad(format!("{key:?}: not understood here"))),
        }
    }
    let path = path.ok_or_else(|| bad("path names the file or folder to share".into()))?;
    if link.mode == LinkMode::Upload && !(path.is_empty() || path.ends_with('/')) {
        return Err(bad(
            "an upload link shares a folder (a path ending in /)".into()
        ));
    }
    let path = path.trim_start_matches('/');
    link.target = match path.strip_suffix('/') {
        _ if path.is_empty() => LinkTarget::Folder(Prefix::root()),
        Some(_) => {
            LinkTarget::Folder(Prefix::new(path.to_owned()).map_err(|e| bad(e.to_string()))?)
        }
        None => LinkTarget::File(Name::new(path.to_owned()).map_err(|e| bad(e.to_string()))?),
    };
    Ok(link)
}

/// What the request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// Of the table of links (made, listed, revoked).
    Table,
    /// Through a link.
    Link,
}

/// How the dialect answers: small and inline, as every connection holds
/// one answer (what a reply needs beyond it, the reply carries).
#[derive(Debug, Clone, Copy)]
pub struct SharesAnswer {
    asked: Asked,
    /// The answer of a file or listing read through a link.
    files: Option<FilesAnswer>,
    /// A browser's navigation asked: pages for people.
    person: bool,
}

impl SharesAnswer {
    fn plain(asked: Asked) -> SharesAnswer {
        SharesAnswer {
            asked,
            files: None,
            person: false,
        }
    }
}

impl Answer for SharesAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        let persistence = message.persistence;
        match reply {
            Reply::Link { link, base } => {
                let body = link_json(link, base.as_deref());
                json_answer(201, &format!("{body}\n"), message, out);
            }
            Reply::Links { links, base } => {
                let each: Vec<String> = links
                    .iter()
                    .map(|link| link_json(link, base.as_deref()))
                    .collect();
                json_answer(200, &format!("[{}]\n", each.join(",")), message, out);
            }
            // A file link asked for by its id: its address with the
            // file's name, which a download keeps (browsers and `curl -O`
            // save a download by its address's last step).
            Reply::Named { id, file } => {
                let location = match file {
                    Some(name) => file_url(id, name.as_str()),
                    None => format!("{LINKS}{id}/"),
                };
                ResponseHead::new(out, 302)
                    .header("Location", location)
                    .finish(0, persistence);
            }
            // A folder asked for without its `/`, relative to where it
            // was asked (the link's address is the client's to know).
            Reply::Directory { name } => {
                let last = name.as_str().rsplit('/').next().unwrap_or_default();
                ResponseHead::new(out, 301)
                    .header("Location", format!("{}/", url_path(last)))
                    .finish(0, persistence);
            }
            Reply::Done => ResponseHead::new(out, 204).finish(0, persistence),
            Reply::File {
                version,
                start,
                len,
                part,
                ..
            } => match &self.files {
                Some(files) => files.file((version, *start, *len, *part), true, out, message),
                None => unexpected(reply, message, out),
            },
            Reply::Listing { len } => page_head(ResponseHead::new(out, 200), self.person)
                .header("Cache-Control", "no-store")
                .finish(*len, persistence),
            Reply::DropZone { folder, expires } if self.person => {
                let page = link_page::drop_zone(folder, &rfc3339(*expires));
                page_head(ResponseHead::new(out, 200), true)
                    .header("Cache-Control", "no-store")
                    .finish(page.len() as u64, persistence);
                if !message.head {
                    out.extend_from_slice(page.as_bytes());
                }
            }
            Reply::DropZone { expires, .. } => {
                let body = format!(
                    "{{\"mode\":\"upload\",\"expires_at\":\"{}\"}}\n",
                    rfc3339(*expires)
                );
                json_answer(200, &body, message, out);
            }
            reply => match &self.files {
                Some(files) => files.encode(reply, message, out),
                None => unexpected(reply, message, out),
            },
        }
    }

    fn allow(&self) -> &'static str {
        match self.asked {
            Asked::Table => "GET, POST, DELETE",
            Asked::Link => "GET, HEAD, PUT",
        }
    }

    fn status(&self, kind: ErrorKind) -> u16 {
        match kind {
            // Expired, used up, its creator gone: it was a link once.
            ErrorKind::Expired => 410,
            // An upload link never replaces a file: the name is taken.
            ErrorKind::PreconditionFailed => 409,
            kind => kind.code(),
        }
    }

    /// A link's password is asked for in a realm of its own, so that a
    /// browser does not offer the token it signed in to ferry with.
    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        match (status, self.asked) {
            (401, Asked::Link) => {
                let challenge = [("WWW-Authenticate", LINK_CHALLENGE)];
                response::error_with(out, status, message, framing, &challenge);
            }
            _ => response::error(out, status, message, framing),
        }
    }
}

/// A listing's or a link page's type: JSON, or a page for people with the
/// link pages' policy (`link_page.rs`).
fn page_head(head: ResponseHead<'_>, person: bool) -> ResponseHead<'_> {
    match person {
        true => head
            .header("Content-Type", listing::media_type(false))
            .header("Content-Security-Policy", link_page::link_policy())
            .header("X-Frame-Options", "DENY")
            .header("Referrer-Policy", "no-referrer"),
        false => head.header("Content-Type", listing::media_type(true)),
    }
}

/// The answer to a reply no request of the table leads to.
fn unexpected(reply: &Reply, message: Message, out: &mut Vec<u8>) {
    debug_assert!(false, "no share request leads to {reply:?}");
    let framing = Framing {
        persistence: message.persistence,
        head_only: message.head,
        allow: "GET",
    };
    response::error(out, 500, "unexpected answer", framing);
}

/// A JSON answer of `status`.
fn json_answer(status: u16, body: &str, message: Message, out: &mut Vec<u8>) {
    ResponseHead::new(out, status)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-store")
        .finish(body.len() as u64, message.persistence);
    if !message.head {
        out.extend_from_slice(body.as_bytes());
    }
}

/// The address of file link `id` sharing `name`: with the file's name.
fn file_url(id: &str, name: &str) -> String {
    link_address(id, Some(name))
}

/// A link as JSON; `base`: `scheme://host` its URL begins with (else it
/// is a path).
fn link_json(link: &ShareLink, base: Option<&str>) -> String {
    let url = link.address();
    format!(
        "{{\"id\":{},\"url\":{},\"path\":{},\"mode\":\"{}\",\"created_at\":\"{}\",\"expires_at\":\"{}\",\"password\":{},\"max_downloads\":{},\"downloads\":{}}}",
        json::string(&link.id),
        json::string(&format!("{}{url}", base.unwrap_or_default())),
        json::string(&link.path),
        link.mode.as_str(),
        rfc3339(link.created),
        rfc3339(link.expires),
        link.password.is_some(),
        link.max_downloads
            .map_or("null".to_owned(), |max| max.to_string()),
        link.downloads,
    )
}

/// `2026-11-28T09:30:00Z`.
fn rfc3339(unix_seconds: i64) -> String {
    match Civil::of(unix_seconds) {
        Some(c) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year,
            c.month,
            c.day,
            c.clock / 3600,
            c.clock / 60 % 60,
            c.clock % 60
        ),
        None => "9999-12-31T23:59:59Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_targets_with_an_id_are_links() {
        let id = "AAAAAAAAAAAAAAAAAAAA-_";
        assert_eq!(link_of(&format!("/s/{id}")), Some((id, "")));
        assert_eq!(link_of(&format!("/s/{id}/a/b")), Some((id, "/a/b")));
        assert_eq!(link_of("/s/short"), None);
        assert_eq!(link_of(&format!("/s/{id}x")), None);
        assert_eq!(link_of("/s/"), None);
        assert_eq!(shares_of("/.ferry-shares"), Some(None));
        assert_eq!(shares_of(&format!("/.ferry-shares/{id}")), Some(Some(id)));
        assert_eq!(shares_of("/.ferry-sharesx"), None);
    }

    #[test]
    fn a_link_is_made_from_its_json() {
        let link = make(br#"{"path":"/photos/","mode":"upload","expires":"2s","password":"p","max_downloads":3}"#, LinkBase::Listener).unwrap();
        assert_eq!(link.target.as_str(), "photos/");
        assert_eq!(link.mode, LinkMode::Upload);
        assert_eq!(link.expires_in, Some(2));
        assert_eq!(link.max_downloads, Some(3));
        assert!(link.password.is_some());
        let file = make(br#"{"path":"docs/r.pdf","expires":60}"#, LinkBase::Listener).unwrap();
        assert!(matches!(file.target, LinkTarget::File(_)));
        for bad in [
            &br#"{"mode":"read"}"#[..],
            br#"{"path":"../x"}"#,
            br#"{"path":"a","mode":"write"}"#,
            br#"{"path":"a","expires":"7w"}"#,
            br#"{"path":"a","colour":"red"}"#,
            b"path=a",
        ] {
            assert!(
                make(bad, LinkBase::Listener).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
