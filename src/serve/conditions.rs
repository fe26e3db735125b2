//! What a request states of the state of what it touches, and the
//! judgement of it (`412` where it does not hold): WebDAV's `If:` lists
//! (RFC 4918 10.4: lock tokens and entity tags, on any resource), and a
//! write's preconditions on its own target (`If-Match`, `If-None-Match`:
//! RFC 9110 13.1.1-2; S3's conditional writes). The dialects parse them
//! (`http/if_header.rs`, `http/preconditions.rs`, `http/s3/conditions.rs`);
//! the lock rules judge them before a request is served (`locks.rs`).

use super::{Ctx, Version};
use crate::model::DavLock;
use crate::name::Name;
use crate::storage::Upload;

/// Makes `upload` one whose commit never replaces a file if its
/// `preconditions` require its target not to exist (`If-None-Match: *`):
/// a file that takes the name after they were judged still wins
/// ([`Upload::create_only`]).
pub fn create_only_if_required(upload: &mut Upload, preconditions: Option<&Conditions>) {
    if preconditions.is_some_and(Conditions::require_absent) {
        upload.create_only();
    }
}

/// What a request states of the resources' state: HTTP's `If:` (RFC 4918
/// 10.4), lists of conditions any of which must hold, whose lock tokens
/// are the ones it submits; and a write's preconditions on its own
/// target (`If-Match`, `If-None-Match`: RFC 9110 13.1.1-2, S3's
/// conditional writes), which must hold as well.
#[derive(Debug, Clone)]
pub struct Conditions {
    /// The `If:` lists, each on its resource (none: no `If:`).
    pub lists: Vec<List>,
    /// The preconditions on the request's target, all of which must hold.
    pub required: Option<List>,
    /// How the protocol writes a version's entity tag (what its `[tag]`
    /// conditions are compared with).
    pub etag: fn(&Version) -> String,
}

/// One list of conditions, all of which must hold on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The name it is about (a folder's without its `/`; `""`: the root).
    pub resource: String,
    /// Its conditions.
    pub conditions: Vec<Condition>,
}

/// One condition: a test, or its negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `Not`.
    pub not: bool,
    /// What is tested.
    pub test: Test,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A lock with this token covers the resource.
    Token(String),
    /// The resource's entity tag is this one.
    Tag(String),
    /// The resource's entity tag is one of these (`If-Match`,
    /// `If-None-Match`).
    TagIn(Vec<String>),
    /// Something has the resource's name, a file or a folder
    /// (`If-Match: *`; `If-None-Match: *` is its negation: create, never
    /// replace).
    Exists,
}

impl Conditions {
    /// Only that something has `resource`'s name (`present`, as
    /// `If-Match: *`) or that nothing does (as `If-None-Match: *`): for a
    /// dialect whose write states no more (SFTP's cut of a file that must
    /// be there, a share link's drop that must never replace). Judged
    /// again at the commit ([`Conditions::at_commit`]).
    pub fn whether_exists(resource: &str, present: bool) -> Conditions {
        Conditions {
            lists: Vec::new(),
            required: Some(List {
                resource: resource.to_owned(),
                conditions: vec![Condition {
                    not: !present,
                    test: Test::Exists,
                }],
            }),
            etag: |_| String::new(),
        }
    }

    /// The lock tokens it submits: every token it names, but under `Not`.
    pub fn submitted(&self) -> impl Iterator<Item = &str> {
        self.lists
            .iter()
            .flat_map(|list| &list.conditions)
            .filter_map(|condition| match (&condition.test, condition.not) {
                (Test::Token(token), false) => Some(token.as_str()),
                _ => None,
            })
    }

    /// Whether they hold: one of the `If:` lists if there are any, and
    /// the preconditions (on the pool: a tag needs the file's stat).
    pub(super) fn hold(&self, ctx: &Ctx<'_>, locks: &[DavLock]) -> bool {
        let holds = |list: &List| self.list_holds(ctx, list, locks);
        (self.lists.is_empty() || self.lists.iter().any(holds))
            && self.required.as_ref().is_none_or(holds)
    }

    /// Whether the preconditions on the target hold (the `If:` lists
    /// aside): what a commit judges again.
    pub(super) fn required_hold(&self, ctx: &Ctx<'_>) -> bool {
        self.required
            .as_ref()
            .is_none_or(|list| self.list_holds(ctx, list, &[]))
    }

    fn list_holds(&self, ctx: &Ctx<'_>, list: &List, locks: &[DavLock]) -> bool {
        list.conditions.iter().all(|condition| {
            condition.not != self.test(ctx, &condition.test, &list.resource, locks)
        })
    }

    /// What a write judges again at its change (an upload's commit just
    /// before its rename, as the body or the parts left time for another
    /// writer; a DELETE at its unlink, a MOVE at its rename): the
    /// preconditions on its target ([`Conditions::required_hold`]), and
    /// the lock rule with the tokens it submits ([`Conditions::submitted`]:
    /// a lock taken meanwhile refuses it). `None` with neither (the lock
    /// rule is judged again all the same, with no token).
    pub fn at_commit(&self) -> Option<Box<Conditions>> {
        let tokens = self.submitted().next().is_some();
        (self.required.is_some() || tokens).then(|| Box::new(self.clone()))
    }

    /// Whether, where they do not hold, that is because the target one of
    /// them requires is not there (`If-Match` on a name nothing has): S3
    /// answers that `404 NoSuchKey` where HTTP answers `412`.
    pub(super) fn want_what_is_absent(&self, ctx: &Ctx<'_>) -> bool {
        self.required.as_ref().is_some_and(|list| {
            list.conditions.iter().any(|condition| !condition.not)
                && !self.test(ctx, &Test::Exists, &list.resource, &[])
        })
    }

    /// Whether they require the target not to exist (`If-None-Match: *`):
    /// then its upload is committed only where no file took the name
    /// meanwhile (`storage`'s `Upload::create_only`).
    pub fn require_absent(&self) -> bool {
        self.required.as_ref().is_some_and(|list| {
            list.conditions
                .iter()
                .any(|condition| condition.not && condition.test == Test::Exists)
        })
    }

    fn test(&self, ctx: &Ctx<'_>, test: &Test, resource: &str, locks: &[DavLock]) -> bool {
        let tag = || {
            let name = Name::new(resource.to_owned()).ok()?;
            let version = ctx.store.look_up(&name).ok()?;
            Some((self.etag)(&version))
        };
        match test {
            Test::Token(token) => locks
                .iter()
                .any(|lock| lock.token == *token && lock.covers(resource)),
            Test::Tag(wanted) => tag().is_some_and(|tag| weak(&tag) == weak(wanted)),
            Test::TagIn(wanted) => {
                tag().is_some_and(|tag| wanted.iter().any(|one| weak(&tag) == weak(one)))
            }
            Test::Exists => ctx.store.resource(resource, false).is_ok(),
        }
    }
}

/// An entity tag without its weakness mark (`If:` compares weakly).
fn weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}
