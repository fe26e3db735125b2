//! ListMultipartUploads (S3's): one page of the multipart uploads under a
//! prefix, by name then id, gathered as the sessions' index is walked
//! (`SessionStore::visit_sessions`) in a heap that keeps only the page's worth,
//! so a page costs memory of its size whatever the server holds. Apart
//! from `multipart/`, which serves the uploads themselves.

use std::collections::BinaryHeap;

use super::multipart::MAX_PAGE;
use crate::access::{Perm, Who};
use crate::model::ListedSession;
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Asked, Ctx, Job, Next, Outcome, Reply, SessionStep, refuse};

/// One page of the multipart uploads under a prefix.
#[derive(Debug)]
pub struct UploadsPage {
    /// The names' prefix (the bucket's, and the key prefix asked for).
    pub prefix: Prefix,
    /// The uploads, by name then id.
    pub uploads: Vec<ListedSession>,
    /// Most uploads on the page.
    pub max: usize,
    /// More uploads follow.
    pub truncated: bool,
}

/// One page of the multipart uploads of names under `prefix`.
#[derive(Debug)]
pub struct ListUploads {
    /// The names' prefix (a bucket's folder, and a key prefix).
    pub prefix: Prefix,
    /// The name and upload id the page starts after.
    pub after: Option<(String, String)>,
    /// Most uploads on it.
    pub max: usize,
}

impl Operate for ListUploads {
    /// What a listing of the names would.
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.prefix.as_str(), Needs::Listing(self.prefix.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::ListUploads(Asked::boxed(
            self, who,
        ))))
    }
}

/// One page of the multipart uploads of names under `prefix`, by name
/// then id, after `after` (a name, and an id of it): at most `max`. Every
/// session is looked at (its record read: a page costs a read per
/// session the server holds, as `--max-upload-sessions` bounds them), but
/// only the page's worth is kept: the `max + 1` first by name and id.
/// Only the uploads of names `who` may read are listed: another's under
/// a folder it may not read are neither named nor counted. On the pool
/// ([`SessionStep::ListUploads`]).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn list_uploads(ctx: &Ctx<'_>, asked: Asked<ListUploads>) -> Outcome {
    let Asked {
        op: ListUploads { prefix, after, max },
        who,
        ..
    } = asked;
    let max = max.min(MAX_PAGE);
    let after = after
        .as_ref()
        .map(|(name, id)| (name.as_str(), id.as_str()));
    let under = |name: &Name| {
        name.as_str().starts_with(prefix.as_str())
            && after.is_none_or(|(after, _)| name.as_str() >= after)
            && who.allows(Perm::Read, name.as_str())
    };
    let mut page = BinaryHeap::with_capacity(max + 2);
    let ttl = ctx.config.session_ttl();
    let sessions = ctx.store.sessions();
    let visited = sessions.visit_sessions(ttl, &under, &mut |session| {
        let upload = ByKey(session);
        let key = upload.key();
        let beyond = page
            .peek()
            .is_some_and(|last: &ByKey| page.len() > max && key >= last.key());
        if after.is_none_or(|after| key > after)
            && !beyond
            && sessions.is_multipart(&upload.0.info.id)
        {
            page.push(upload);
            if page.len() > max + 1 {
                page.pop();
            }
        }
        true
    });
    if let Err(err) = visited {
        return refuse(ctx, "SESSIONS", "", err.into(), Next::Request);
    }
    let mut uploads: Vec<ListedSession> = page
        .into_sorted_vec()
        .into_iter()
        .map(|upload| upload.0)
        .collect();
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    Outcome::answer(Reply::Uploads(Box::new(UploadsPage {
        prefix,
        uploads,
        max,
        truncated,
    })))
}

/// An upload on a page being gathered, in the page's order: by name,
/// then id.
struct ByKey(ListedSession);

impl ByKey {
    fn key(&self) -> (&str, &str) {
        (self.0.info.name.as_str(), self.0.info.id.as_str())
    }
}

impl Ord for ByKey {
    fn cmp(&self, other: &ByKey) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &ByKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ByKey {
    fn eq(&self, other: &ByKey) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ByKey {}
