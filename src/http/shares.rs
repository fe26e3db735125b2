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
//! PUT    /s/<id>/<name>              an upload link's new file
//! POST   /s/<id>/                    tus creation of an upload link's new file
//!                                     -> 201 Location: .ferry-uploads/<upload> (relative)
//! HEAD, PATCH, DELETE /s/<id>/.ferry-uploads/<upload>   tus, of that link's uploads only
//! {link}: {"id", "url", "path", "mode", "created_at", "expires_at", "password": bool,
//!          "max_downloads": N | null, "downloads": N}
//! ```
//!
//! `/s/` is claimed only with an id after it (22 base64url characters):
//! a folder of the root named `s` is still the files dialect's, all but
//! a sub-folder with such a name.

use super::link_requests::{self, credentials};
use super::share_answer::{Asked, SharesAnswer};
use crate::formats::json_reader::{self, Value};
use crate::http::dialect::{Decision, Dialect};
use crate::http::fields::path_of;
use crate::http::message::{Head, MAX_BODY_IN_HAND, Refused, Resume};
use crate::http::origin::{self, Site};
use crate::model::{LinkMode, is_link_id, parse_span};
use crate::name::{Name, Prefix};
use crate::serve::ops::{LinkBase, LinkTarget, ListLinks, MakeLink, RevokeLink};
use crate::serve::{Operation, Request};

/// Where links are made, listed and revoked.
const SHARES: &str = "/.ferry-shares";
/// Where they are used.
const LINKS: &str = "/s/";

/// The dialect.
#[derive(Debug)]
pub struct Shares;

/// What a target under [`LINKS`] names: the link's id and what is below
/// it (the rest of the target, undecoded).
pub(super) fn link_of(path: &str) -> Option<(&str, &str)> {
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
        if let Some((id, below)) = link_of(path) {
            return Ok(link_requests::through_link(head, resume, site, (id, below)));
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
            ("DELETE", Some(id)) if is_link_id(id) => {
                Ok(Operation::RevokeLink(RevokeLink { id: id.to_owned() }))
            }
            ("DELETE", Some(_)) => Err((404, "no such link".into())),
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
}
