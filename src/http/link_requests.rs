//! A request through a share link, at `/s/<id>[/...]` (docs/shares.md):
//! read as the files dialect reads a request (`GET`, `HEAD`, an upload
//! link's `PUT`) or, for an upload link's tus uploads (a `POST` at the
//! link's address, anything at an upload below it), as tus reads one,
//! and made the serve layer's `ViaLink`, which judges the link and
//! confines what is asked to what it shares. Sans-IO; answered by
//! `shares.rs`'s answer.

use super::share_answer::SharesAnswer;
use crate::http::dialect::Decision;
use crate::http::fields::Target;
use crate::http::files::request::{Method, interpret};
use crate::http::files::{FilesAnswer, want_of};
use crate::http::message::{Head, Resume};
use crate::http::origin::{self, Site};
#[cfg(feature = "tus")]
use crate::http::tus;
use crate::http::{link_page, listing};
use crate::serve::ops::{LinkAsk, ViaLink};
use crate::serve::{Body, Operation, Request};

/// A request through link `id`, at `below` its address (the rest of
/// the target, undecoded).
#[cfg_attr(not(feature = "tus"), allow(unused_variables))]
pub(super) fn through_link(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
    (id, below): (&str, &str),
) -> Decision<SharesAnswer> {
    #[cfg(feature = "tus")]
    if tus::is_through_link(head.method, below) {
        return tus_through_link(head, resume, site, (id, below));
    }
    let refused = |code: u16, message: String| {
        Decision::Refuse(code, message, SharesAnswer::through_link(None, false))
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
    let answer = SharesAnswer::through_link(Some(files), person);
    let via = ViaLink {
        id: id.to_owned(),
        password: request.token.take(),
        sub,
        ask,
        bare: below.is_empty(),
    };
    Decision::Serve(Request::from(Operation::ViaLink(via)), answer)
}

/// A tus request through upload link `id`, at `below` its address: the
/// operation tus makes of it, served through the link (`via_link.rs`
/// puts a creation in the link's folder, never over a file, and keeps
/// uploads to the link's own), answered as tus answers, with uploads'
/// addresses below the link's.
#[cfg(feature = "tus")]
fn tus_through_link(
    head: &Head<'_>,
    resume: &Resume,
    site: Site<'_>,
    (id, below): (&str, &str),
) -> Decision<SharesAnswer> {
    let answer = SharesAnswer::tus;
    match tus::through_link(head, resume, site, below) {
        Ok((operation, tus)) => {
            let via = ViaLink {
                id: id.to_owned(),
                password: credentials(head).0,
                sub: below.trim_start_matches('/').to_owned(),
                ask: LinkAsk::Tus(Box::new(operation)),
                bare: false,
            };
            Decision::Serve(Request::from(Operation::ViaLink(via)), answer(tus))
        }
        Err((code, message, tus)) => Decision::Refuse(code, message, answer(tus)),
    }
}

/// The token a head presents and where it comes from.
pub(super) fn credentials(head: &Head<'_>) -> (Option<crate::access::Secret>, origin::Provenance) {
    let mut provenance = origin::Provenance::default();
    let mut token = None;
    for (name, value) in head.fields() {
        if !provenance.read(name, value) && name.eq_ignore_ascii_case("authorization") {
            token = Some(crate::http::auth::token(value));
        }
    }
    (token, provenance)
}
