//! A request through a share link (`/s/<id>/...`, docs/shares.md), by
//! someone without a token: the link looked up fresh (a revocation on any
//! node holds at once), judged (expired or used up: 410; a password asked
//! for: 401, a wrong one counted against the address's throttle), then
//! served as its creator's own request, confined to what the link shares:
//! the operation is made here from the link's path and the name asked
//! below it, so nothing outside the shared file or folder can be named,
//! and the creator's grants are judged again, as for any request of
//! theirs (a link gives nothing its creator may no longer do; a token
//! removed stops its links).
//!
//! A download link reads: a file, a folder's files and listings, the
//! folder as an archive. Whole-file downloads count against its
//! `max_downloads`, one check-and-change under the link table's lock, so
//! two nodes never both give the last one.

use std::sync::Arc;

use log::info;

use super::links::password_matches;
use super::{ArchiveFolder, Get, List};
use crate::access::{Access, Secret, Who};
use crate::model::{LinkMode, ShareLink};
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::{ListingFormat, Scope, Want};
use crate::serve::{
    ArchiveFormat, Ctx, ErrorKind, Failure, Next, Operation, Outcome, Reply, admission, admit,
    refuse,
};
use crate::storage::LinkEdit;

/// A request through link `id`.
#[derive(Debug)]
pub struct ViaLink {
    /// The link's id.
    pub id: String,
    /// The password given (HTTP Basic's, any user), if any.
    pub password: Option<Secret>,
    /// What is asked for below what the link shares: empty for the link
    /// itself, a file's name, or a folder's ending in `/`.
    pub sub: String,
    /// What is asked of it.
    pub ask: LinkAsk,
}

/// What a request through a link asks.
#[derive(Debug)]
pub enum LinkAsk {
    /// To read: a file's bytes (`want`); of a folder, its listing in
    /// `listing`, or (`archive`) the folder as one archive.
    Read {
        /// Which bytes of a file.
        want: Want,
        /// A folder as this archive.
        archive: Option<ArchiveFormat>,
        /// A folder's listing, written so.
        listing: ListingFormat,
        /// The body follows the answer (not a HEAD).
        body: bool,
    },
}

impl Operate for ViaLink {
    /// Judged on the pool, once the link is read: nothing to judge
    /// before.
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.id, Needs::Nothing)
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        // `serve::serve` hands a link's request to [`serve`] with the
        // server's access control; never admitted as a token's.
        debug_assert!(
            false,
            "a request through a link is served by via_link::serve"
        );
        Outcome::failed(
            Failure::new(ErrorKind::Internal, "a link's request out of place"),
            Next::Request,
        )
    }
}

/// Serves `via` on the pool, where its link is read.
pub(in crate::serve) fn serve(ctx: &Ctx<'_>, access: &Arc<Access>, via: ViaLink) -> Outcome {
    if let Err(wait) = access.admits(ctx.peer) {
        let failure = Failure::new(
            ErrorKind::Throttled,
            format!(
                "too many failed passwords: try again in {} s",
                wait.as_secs().max(1)
            ),
        );
        return refuse(ctx, "LINK", &via.id, failure, Next::Request);
    }
    let access = Arc::clone(access);
    Outcome::on_pool(move |ctx| {
        let id = via.id.clone();
        match through(ctx, &access, via) {
            Ok(outcome) => outcome,
            Err(failure) => refuse(ctx, "LINK", &id, failure, Next::Request),
        }
    })
}

/// The link judged and the request made the creator's, then served.
fn through(ctx: &Ctx<'_>, access: &Access, via: ViaLink) -> Result<Outcome, Failure> {
    let links = ctx.store.links();
    let link = links
        .link(&via.id)?
        .ok_or_else(|| Failure::new(ErrorKind::NotFound, "no such link"))?;
    let now = links.now();
    if link.has_expired(now) {
        return Err(Failure::new(ErrorKind::Expired, "this link has expired"));
    }
    if link.is_used_up() {
        return Err(Failure::new(
            ErrorKind::Expired,
            "this link's downloads are used up",
        ));
    }
    if let Some(kept) = &link.password {
        let given = via.password.as_ref().map(Secret::expose);
        if !given.is_some_and(|given| password_matches(kept, given)) {
            if given.is_some() {
                access.failed_later(ctx.peer);
            }
            return Err(Failure::new(
                ErrorKind::Unauthorized,
                "this link asks for its password",
            ));
        }
    }
    let who = match access.is_on() {
        true => Who::Holder(
            access
                .holder_named(&link.creator)
                .ok_or_else(|| Failure::new(ErrorKind::Expired, "this link's creator is gone"))?,
        ),
        false => Who::Everyone,
    };
    let operation = match operation(&link, via.sub, via.ask)? {
        Made::Operation(operation) => operation,
        Made::Named(name) => {
            let id = link.id;
            return Ok(Outcome::answer(Reply::Named { id, name }));
        }
    };
    admit(ctx, &who, operation.declared())?;
    if counts_as_download(&operation) && link.max_downloads.is_some() {
        count_download(ctx, &link.id)?;
    }
    info!(
        "#{} LINK {} of {:?} ({}) as {:?}",
        ctx.client,
        link.id,
        link.path,
        link.mode.as_str(),
        link.creator
    );
    Ok(admission::admitted(ctx, who, operation, None))
}

/// What a request through a link comes to.
enum Made {
    /// The operation to serve, as the creator's.
    Operation(Operation),
    /// A file link asked for by its id alone: its address with the file's
    /// name, which downloads keep.
    Named(Name),
}

/// The operation `ask` of `sub` comes to under `link`: names made here
/// from the link's own path, never from the request's.
fn operation(link: &ShareLink, sub: String, ask: LinkAsk) -> Result<Made, Failure> {
    let not_here = || Failure::new(ErrorKind::NotFound, "no such file under this link");
    if link.mode != LinkMode::Read {
        return Err(Failure::new(
            ErrorKind::Forbidden,
            "an upload link shows nothing",
        ));
    }
    let LinkAsk::Read {
        want,
        archive,
        listing,
        body,
    } = ask;
    if !link.is_folder() {
        let name = Name::new(link.path.clone()).map_err(|_| not_here())?;
        return match sub.as_str() {
            "" => Ok(Made::Named(name)),
            sub if Some(sub) == name.as_str().rsplit('/').next() => {
                Ok(Made::Operation(Operation::Get(Get { name, want })))
            }
            _ => Err(not_here()),
        };
    }
    let full = format!("{}{sub}", link.path);
    if !(sub.is_empty() || sub.ends_with('/')) {
        let name = Name::new(full).map_err(|_| not_here())?;
        return Ok(Made::Operation(Operation::Get(Get { name, want })));
    }
    let prefix = Prefix::new(full).map_err(|_| not_here())?;
    Ok(Made::Operation(match archive {
        Some(format) => Operation::ArchiveFolder(ArchiveFolder {
            prefix,
            format,
            body,
        }),
        None => Operation::List(List {
            prefix,
            scope: Scope::Directory,
            format: listing,
            body,
        }),
    }))
}

/// Whether `operation` is a whole file's download, as a link counts them
/// (a range, a HEAD or a listing is none).
fn counts_as_download(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::Get(Get {
            want: Want::Whole { body: true },
            ..
        }) | Operation::ArchiveFolder(ArchiveFolder { body: true, .. })
    )
}

/// Counts a download of link `id`, unless they are used up meanwhile.
fn count_download(ctx: &Ctx<'_>, id: &str) -> Result<(), Failure> {
    ctx.store.links().change(|kept, _| {
        let Some(link) = kept.iter().find(|l| l.id == id) else {
            return Err(Failure::new(ErrorKind::NotFound, "no such link"));
        };
        if link.is_used_up() {
            return Err(Failure::new(
                ErrorKind::Expired,
                "this link's downloads are used up",
            ));
        }
        let counted = ShareLink {
            downloads: link.downloads + 1,
            ..link.clone()
        };
        let edit = LinkEdit {
            write: vec![counted],
            remove: Vec::new(),
        };
        Ok::<_, Failure>(((), edit))
    })
}
