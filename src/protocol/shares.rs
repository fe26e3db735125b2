//! FERRY/1's share links, the serve layer's side (PROTOCOL.md §6.12):
//! `SHARE`, `SHARES` and `UNSHARE` become the same link operations the
//! HTTP dialect asks for (`serve/ops/links.rs`, where every rule of a
//! link is judged), and their replies become lines. Only in a build with
//! the feature `shares`; without it the grammar answers these verbs
//! `501` (`request/links.rs`).
//!
//! ```text
//! SHARE ...   -> OK <id> <expires> <url>
//! SHARES      -> OK <n>, then n bytes, one link a line:
//!                <id> <mode> <expires> <downloads> <max|-> <password yes|no> <url|-> <encoded-path>
//! UNSHARE <id> -> OK
//! ```

use super::{LinkTerms, Request, Response};
use crate::model::{LinkMode, ShareLink};
use crate::serve::Operation;
use crate::serve::ops::{LinkBase, LinkTarget, ListLinks, MakeLink, RevokeLink};

/// The link operation a `SHARE`, `SHARES` or `UNSHARE` line asks for.
pub(super) fn operation(request: Request) -> Operation {
    let make = |target, terms: LinkTerms| {
        Operation::MakeLink(MakeLink {
            target,
            mode: match terms.upload {
                true => LinkMode::Upload,
                false => LinkMode::Read,
            },
            expires_in: terms.expires,
            password: terms.password,
            max_downloads: terms.max_downloads,
            // FERRY/1 names no host of the HTTP side.
            base: LinkBase::Listener,
        })
    };
    match request {
        Request::Share { name, terms } => make(LinkTarget::File(name), terms),
        Request::ShareFolder { folder, terms } => make(LinkTarget::Folder(folder), terms),
        Request::Shares => Operation::ListLinks(ListLinks {
            base: LinkBase::Listener,
        }),
        Request::Unshare { id } => Operation::RevokeLink(RevokeLink { id }),
        _ => unreachable!("the codec passes only the share links' verbs"),
    }
}

/// A link's address: `base` and its path, or its path alone.
fn url(link: &ShareLink, base: Option<&str>) -> String {
    format!("{}{}", base.unwrap_or_default(), link.address())
}

/// The answer to `SHARE`: `OK <id> <expires> <url>`.
pub(super) fn made(link: &ShareLink, base: Option<&str>, out: &mut Vec<u8>) {
    let line = format!("OK {} {} {}\n", link.id, link.expires, url(link, base));
    out.extend_from_slice(line.as_bytes());
}

/// The answer to `SHARES`: `OK <n>`, then `n` bytes, one line a link,
/// its path last (percent-encoded as names are; `/` for the root).
pub(super) fn listed(links: &[ShareLink], base: Option<&str>, out: &mut Vec<u8>) {
    let mut body = String::new();
    for link in links {
        let path = match link.path.as_str() {
            "" => "/".to_owned(),
            path => crate::name::encode(path),
        };
        body += &format!(
            "{} {} {} {} {} {} {} {path}\n",
            link.id,
            link.mode.as_str(),
            link.expires,
            link.downloads,
            link.max_downloads
                .map_or("-".to_owned(), |max| max.to_string()),
            if link.password.is_some() { "yes" } else { "no" },
            base.map_or("-".to_owned(), |base| url(link, Some(base))),
        );
    }
    Response::Length {
        len: body.len() as u64,
    }
    .write_to(out);
    out.extend_from_slice(body.as_bytes());
}
