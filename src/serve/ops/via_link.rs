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
//! folder as an archive. Every GET of a file or an archive that is there
//! (a range, a conditional one included: each could carry the whole)
//! counts against its `max_downloads`, one check-and-change under the link table's lock, so
//! two nodes never both give the last one. An upload link (a "file
//! request") takes new files into its folder and nothing else: never a
//! read or a listing, never a name already taken (create-only, judged
//! again at the commit), its bytes counted against the creator's quota as
//! their own upload's; its tus uploads recorded as the link's, so that
//! no more than `--share-max-uploads` are open through it (the stranger
//! holding it cannot take all of the creator's sessions) and only they
//! are reachable through it.

use std::sync::Arc;

use log::info;

use super::links::{creator_key, logged, password_matches};
use super::{ArchiveFolder, Get, List, Put};
use crate::access::{Access, Principal, Secret, Who};
use crate::model::{Folders, LinkMode, ShareLink};
use crate::name::{Name, Prefix};
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::{Body, ListingFormat, Scope, Want};
use crate::serve::{
    ArchiveFormat, Ctx, ErrorKind, Failure, Next, Operation, Outcome, Reply, admission, admit,
    refuse, skip_body,
};
use crate::storage::{LinkEdit, StorageError};

/// A request through link `id`.
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
    /// The link's own address was asked without its `/` (`/s/<id>`): a
    /// folder's goes to `/s/<id>/`, which its pages' addresses are
    /// relative to.
    pub bare: bool,
}

/// Shows six characters of the id, as every log does
/// ([`links::logged`](super::links::logged)): a link without a password
/// is its id.
impl std::fmt::Debug for ViaLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViaLink")
            .field("id", &logged(&self.id))
            .field("password", &self.password)
            .field("sub", &self.sub)
            .field("ask", &self.ask)
            .field("bare", &self.bare)
            .finish()
    }
}

/// What a request through a link asks.
#[derive(Debug)]
pub enum LinkAsk {
    /// A tus request of an upload link (`http/tus`): a creation (an
    /// `Upload` named by its file name alone), or an `Append`, `Progress`
    /// or `Abort` of an upload below the link's address.
    Tus(Box<Operation>),
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
    /// To put a new file (an upload link's).
    Put {
        /// How its body arrives.
        body: Body,
        /// The CRC-32C the client states, checked before the commit.
        crc: Option<u32>,
        /// The modification time to give it (Unix seconds).
        mtime: Option<i64>,
    },
}

impl Operate for ViaLink {
    /// Judged on the pool, once the link is read: nothing to judge
    /// before. Its subject in the access log is the link's id as logs show it
    /// (`links::logged`), under the verb `link` (so the request metrics
    /// count requests through links).
    fn aim(&self) -> Aim<'_> {
        Aim::at(logged(&self.id), Needs::Nothing)
    }

    fn body(&self) -> Body {
        match &self.ask {
            LinkAsk::Put { body, .. } => *body,
            LinkAsk::Read { .. } => Body::fixed(0),
            LinkAsk::Tus(operation) => operation.body(),
        }
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
pub(in crate::serve) fn serve(access: &Arc<Access>, via: ViaLink) -> Outcome {
    let access = Arc::clone(access);
    let body = via.body();
    Outcome::on_pool(move |ctx| {
        let id = logged(&via.id).to_owned();
        let mut creator = None;
        let mut outcome = match through(ctx, &access, via, &mut creator) {
            Ok(outcome) => outcome,
            Err(failure) => refuse(ctx, "LINK", &id, failure, skip_body(body, ctx.config)),
        };
        outcome.acting_as = creator;
        outcome
    })
}

/// The link judged and the request made the creator's, then served;
/// `creator` is told the link's creator's token as soon as the link is
/// read (the access log names it, even for a request refused then).
fn through(
    ctx: &Ctx<'_>,
    access: &Access,
    via: ViaLink,
    creator: &mut Option<Arc<Principal>>,
) -> Result<Outcome, Failure> {
    let link = ctx
        .store
        .links()
        .link(&via.id)?
        .ok_or_else(|| Failure::new(ErrorKind::NotFound, "no such link"))?;
    // Its creator's token, unless another now has the name (which the
    // judging refuses: that token never made the link).
    *creator = access
        .holder_named(&link.creator)
        .filter(|holder| creator_key(holder) == link.creator_key);
    let who = judge(ctx, access, &link, via.password.as_ref())?;
    if via.bare && link.is_folder() && matches!(via.ask, LinkAsk::Read { .. }) {
        let id = link.id;
        return Ok(Outcome::answer(Reply::Named { id, file: None }));
    }
    let downloads = matches!(via.ask, LinkAsk::Read { body: true, .. });
    let made = match via.ask {
        LinkAsk::Tus(operation) => Made::Operation(tus(ctx, &link, *operation)?),
        ask => operation(&link, via.sub, ask)?,
    };
    let (operation, conditions) = match made {
        Made::Operation(operation) => (operation, None),
        Made::New(operation, conditions) => (operation, Some(conditions)),
        Made::Drop(folder) => {
            let expires = link.expires;
            return Ok(Outcome::answer(Reply::DropZone { folder, expires }));
        }
        Made::Named(file) => {
            let id = link.id;
            return Ok(Outcome::answer(Reply::Named { id, file }));
        }
    };
    admit(ctx, &who, operation.declared())?;
    if downloads && link.max_downloads.is_some() && is_there(ctx, &operation)? {
        count_download(ctx, &link.id)?;
    }
    info!(
        "#{} LINK {} of {:?} ({}) as {:?}",
        ctx.client,
        logged(&link.id),
        link.path,
        link.mode.as_str(),
        link.creator
    );
    Ok(admission::admitted(ctx, who, operation, conditions))
}

/// Whether `link` may be used now, and as whom: its password first (a
/// stranger learns nothing of the link's state without it; tries count
/// against the address, judged and counted in one step), then its
/// expiry, its downloads, and its creator's token, which must still be
/// the one that made it.
fn judge(
    ctx: &Ctx<'_>,
    access: &Access,
    link: &ShareLink,
    given: Option<&Secret>,
) -> Result<Who, Failure> {
    if let Some(kept) = &link.password {
        let asked = || Failure::new(ErrorKind::Unauthorized, "this link asks for its password");
        let given = given.map(Secret::expose).ok_or_else(asked)?;
        match access.try_password(ctx.peer, || password_matches(kept, given)) {
            Ok(true) => {}
            Ok(false) => return Err(asked()),
            Err(wait) => {
                let words = format!(
                    "too many wrong passwords: try again in {} s",
                    wait.as_secs().max(1)
                );
                return Err(Failure::new(ErrorKind::Throttled, words));
            }
        }
    }
    let now = ctx.store.links().now();
    if link.has_expired(now) {
        return Err(Failure::new(ErrorKind::Expired, "this link has expired"));
    }
    if link.is_used_up() {
        let words = "this link's downloads are used up";
        return Err(Failure::new(ErrorKind::Expired, words));
    }
    if !access.is_on() {
        return Ok(Who::Everyone);
    }
    let gone = || Failure::new(ErrorKind::Expired, "this link's creator is gone");
    let holder = access.holder_named(&link.creator).ok_or_else(gone)?;
    match creator_key(&holder) == link.creator_key {
        true => Ok(Who::Holder(holder)),
        false => Err(gone()),
    }
}

/// Whether what `operation` reads is there, before a download is counted
/// for it (a name that is not there, or a folder's without its `/`,
/// spends nothing).
fn is_there(ctx: &Ctx<'_>, operation: &Operation) -> Result<bool, Failure> {
    match operation {
        Operation::Get(get) => match ctx.store.look_up(&get.name) {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound | StorageError::IsDirectory) => Ok(false),
            Err(err) => Err(err.into()),
        },
        Operation::ArchiveFolder(_) => Ok(true),
        _ => Ok(false),
    }
}

/// What a request through a link comes to.
enum Made {
    /// The operation to serve, as the creator's.
    Operation(Operation),
    /// A file link asked for by its id alone: its address with the file's
    /// name, which downloads keep.
    Named(Option<Name>),
    /// An upload of a new file, with the condition that keeps it new.
    New(Operation, Box<Conditions>),
    /// An upload link's own address read: its folder's last name.
    Drop(String),
}

/// The operation `ask` of `sub` comes to under `link`: names made here
/// from the link's own path, never from the request's.
fn operation(link: &ShareLink, sub: String, ask: LinkAsk) -> Result<Made, Failure> {
    let not_here = || Failure::new(ErrorKind::NotFound, "no such file under this link");
    let (want, archive, listing, body) = match (link.mode, ask) {
        (
            LinkMode::Read,
            LinkAsk::Read {
                want,
                archive,
                listing,
                body,
            },
        ) => (want, archive, listing, body),
        (LinkMode::Upload, LinkAsk::Put { body, crc, mtime }) => {
            return upload(link, &sub, body, crc, mtime);
        }
        // Its own address, read: what its page needs, nothing of the folder.
        (LinkMode::Upload, LinkAsk::Read { .. }) if sub.is_empty() => {
            let folder = link.path.trim_end_matches('/').rsplit('/').next();
            return Ok(Made::Drop(folder.unwrap_or_default().to_owned()));
        }
        (LinkMode::Upload, LinkAsk::Read { .. }) => {
            return Err(Failure::new(
                ErrorKind::Forbidden,
                "an upload link shows nothing",
            ));
        }
        (LinkMode::Read, LinkAsk::Put { .. } | LinkAsk::Tus(_)) => return Err(no_uploads()),
        (LinkMode::Upload, LinkAsk::Tus(_)) => unreachable!("made by `tus`"),
    };
    if !link.is_folder() {
        let name = Name::new(link.path.clone()).map_err(|_| not_here())?;
        return match sub.as_str() {
            "" => Ok(Made::Named(Some(name))),
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

/// A new file `sub` put through upload link `link`: never one whose name
/// is taken (`If-None-Match: *`, judged before and at the commit).
fn upload(
    link: &ShareLink,
    sub: &str,
    body: Body,
    crc: Option<u32>,
    mtime: Option<i64>,
) -> Result<Made, Failure> {
    if sub.is_empty() || sub.ends_with('/') {
        return Err(Failure::new(
            ErrorKind::BadRequest,
            "an upload names its file after the link",
        ));
    }
    let name = Name::new(format!("{}{sub}", link.path))
        .map_err(|err| Failure::new(ErrorKind::BadRequest, err.to_string()))?;
    let new = Conditions::whether_exists(name.as_str(), false);
    let put = Put {
        name,
        body,
        crc,
        mtime,
        trailer: None,
        digests: None,
        folders: Folders::Made,
        props: None,
        preconditions: None,
    };
    Ok(Made::New(Operation::Put(put), Box::new(new)))
}

/// What an upload link's tus request comes to: a creation of a new file
/// in its folder, named by its file name alone, that never replaces a
/// file (a name taken now is refused, one taken meanwhile at its
/// commit); the other requests only of an upload of the link's folder.
fn tus(ctx: &Ctx<'_>, link: &ShareLink, operation: Operation) -> Result<Operation, Failure> {
    if link.mode != LinkMode::Upload {
        return Err(no_uploads());
    }
    Ok(match operation {
        Operation::Upload(mut upload) => {
            let name = Name::new(format!("{}{}", link.path, upload.name.as_str()))
                .map_err(|err| Failure::new(ErrorKind::BadRequest, err.to_string()))?;
            match ctx.store.look_up(&name) {
                Err(StorageError::NotFound) => {}
                Ok(_) | Err(StorageError::IsDirectory) => {
                    let taken = format!("{} is there already", upload.name.as_str());
                    return Err(Failure::new(ErrorKind::PreconditionFailed, taken));
                }
                Err(err) => return Err(err.into()),
            }
            (upload.name, upload.link) = (name, Some(link.id.clone()));
            Operation::Upload(upload)
        }
        Operation::Append(mut append) => {
            of_the_link(ctx, link, &append.id)?;
            append.create_only = true;
            Operation::Append(append)
        }
        Operation::Progress(progress) => {
            of_the_link(ctx, link, &progress.id)?;
            Operation::Progress(progress)
        }
        Operation::Abort(abort) => {
            of_the_link(ctx, link, &abort.id)?;
            Operation::Abort(abort)
        }
        other => {
            debug_assert!(
                false,
                "tus asked {:?} through a link",
                other.declared().verb
            );
            return Err(Failure::new(
                ErrorKind::BadRequest,
                "not an upload's request",
            ));
        }
    })
}

/// Refuses upload `id` unless it is one of `link`'s: begun through it,
/// its creator's, of a file right in its folder (an id of any other
/// upload is unknown here, whoever's it is, one begun through another
/// link to the same folder too).
fn of_the_link(ctx: &Ctx<'_>, link: &ShareLink, id: &str) -> Result<(), Failure> {
    let unknown = || Failure::new(ErrorKind::NotFound, "no such upload under this link");
    let session = ctx.store.sessions().session(id).map_err(|_| unknown())?;
    let creators = session.owner.as_deref().unwrap_or_default() == link.creator;
    let through = session.link.as_deref() == Some(link.id.as_str());
    match session.name.as_str().strip_prefix(&link.path) {
        Some(file) if through && creators && !file.contains('/') => Ok(()),
        _ => Err(unknown()),
    }
}

/// A download link's refusal of an upload.
fn no_uploads() -> Failure {
    Failure::new(ErrorKind::Forbidden, "a download link takes no uploads")
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
