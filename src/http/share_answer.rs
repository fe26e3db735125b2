//! How the share links' dialect answers (`shares.rs` decodes; requests
//! through a link: `link_requests.rs`): a link's JSON, the table's, the
//! redirects to a link's addresses, a file's or listing's answer through
//! a link, the drop zone, tus's answers through an upload link, and a
//! link's password challenge. Small and inline: what a reply needs beyond
//! the answer, the reply carries.

use crate::formats::calendar::Civil;
use crate::formats::json;
use crate::http::dialect::{Answer, Message};
use crate::http::fields::url_path;
use crate::http::files::FilesAnswer;
use crate::http::response::{self, Framing, Head as ResponseHead};
#[cfg(feature = "tus")]
use crate::http::tus::TusAnswer;
use crate::http::{link_page, listing};
use crate::model::{ShareLink, link_address};
use crate::name::Name;
use crate::serve::{ErrorKind, Reply};

/// A link's password prompt: any user name, the link's password.
const LINK_CHALLENGE: &str = "Basic realm=\"ferry link\", charset=\"UTF-8\"";

/// What the request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asked {
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
    /// The answer of a tus upload through an upload link.
    #[cfg(feature = "tus")]
    tus: Option<TusAnswer>,
}

impl SharesAnswer {
    /// The answer of a request through a link: a file's or listing's
    /// (`files`), pages for a `person` or not.
    pub(super) fn through_link(files: Option<FilesAnswer>, person: bool) -> SharesAnswer {
        SharesAnswer {
            files,
            person,
            ..SharesAnswer::plain(Asked::Link)
        }
    }

    /// The answer of a tus request through a link.
    #[cfg(feature = "tus")]
    pub(super) fn tus(tus: TusAnswer) -> SharesAnswer {
        SharesAnswer {
            tus: Some(tus),
            ..SharesAnswer::plain(Asked::Link)
        }
    }

    pub(super) fn plain(asked: Asked) -> SharesAnswer {
        SharesAnswer {
            asked,
            files: None,
            person: false,
            #[cfg(feature = "tus")]
            tus: None,
        }
    }
}

impl Answer for SharesAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        #[cfg(feature = "tus")]
        if let Some(tus) = &self.tus {
            return tus.encode(reply, message, out);
        }
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
                let location = link_address(id, file.as_ref().map(Name::as_str));
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
        #[cfg(feature = "tus")]
        if let Some(tus) = &self.tus {
            return tus.allow();
        }
        match self.asked {
            Asked::Table => "GET, POST, DELETE",
            Asked::Link => "GET, HEAD, PUT",
        }
    }

    fn status(&self, kind: ErrorKind) -> u16 {
        match kind {
            // A tus piece that does not match its checksum.
            #[cfg(feature = "tus")]
            ErrorKind::ChecksumMismatch if self.tus.is_some() => 460,
            // Expired, used up, its creator gone: it was a link once.
            ErrorKind::Expired => 410,
            // An upload link never replaces a file: the name is taken.
            ErrorKind::PreconditionFailed => 409,
            kind => kind.code(),
        }
    }

    /// A link's password is asked for in a realm of its own, so that a
    /// browser does not offer the token it signed in to ferry with. Through
    /// a link, want of room (a quota's, the disk's reserve: `507`) is said
    /// in words of its own: whose quota it was (the creator's token, a
    /// folder's path) is not a stranger's to learn.
    fn error(&self, status: u16, message: &str, framing: Framing, out: &mut Vec<u8>) {
        // A stranger with a link learns nothing of its creator's quotas,
        // caps or folders: the server's log keeps the reason.
        let message = match (status, self.asked) {
            (507, Asked::Link) => "there is no room for this upload here",
            (503, Asked::Link) => "the server is busy: try again later",
            _ => message,
        };
        match (status, self.asked) {
            (401, Asked::Link) => {
                let challenge = [("WWW-Authenticate", LINK_CHALLENGE)];
                response::error_with(out, status, message, framing, &challenge);
            }
            // tus's answers carry its version, refusals too.
            #[cfg(feature = "tus")]
            _ if let Some(tus) = &self.tus => tus.error(status, message, framing, out),
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
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
