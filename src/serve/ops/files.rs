//! Serving files: PUT, STAT, DELETE and MOVE, each operation's type with
//! its facts and serve function (GET: `get.rs`; COPY: `file_copy.rs`; a
//! body's arrival: `arrived.rs`).

use log::debug;

use super::at_change::judged_again;
use super::folders::MoveFolder;
use super::get::with_checksum;
use crate::access::{Owner, Who};
use crate::model::NewProps;
use crate::model::Occupant;
use crate::name::{Name, Prefix};
use crate::serve::conditions::{Conditions, create_only_if_required};
use crate::serve::digest::BodyDigests;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::Overwrite;
use crate::serve::{
    Body, BodyLength, Ctx, ErrorKind, Failure, Folders, Job, Next, Outcome, Receive, Reply, Sink,
    Trailer, UploadStep, check_size, check_space, refuse, skip_body, storage_refusal, user_of,
};
use crate::storage::{Look, Open, Opened, StorageError, Upload};

/// Store the body that follows as `name`, atomically.
#[derive(Debug)]
pub struct Put {
    /// Target name.
    pub name: Name,
    /// How the body arrives.
    pub body: Body,
    /// The CRC-32C the client computed, checked before commit.
    pub crc: Option<u32>,
    /// The modification time to give the file (Unix seconds).
    pub mtime: Option<i64>,
    /// The CRC-32C follows the body, in this trailer (FERRY/1's
    /// `PUT <name> <size> -`): the framing has its bytes after `body`.
    pub trailer: Option<Trailer>,
    /// Digests the body must match, and its MD5 answered (S3's
    /// `x-amz-content-sha256`, `Content-MD5` and `ETag`).
    pub digests: Option<Box<BodyDigests>>,
    /// Whether missing parent folders are made (and those made pruned
    /// again if the upload fails).
    pub folders: Folders,
    /// Dead properties the new version is written with (S3's object
    /// metadata; boxed: rare).
    pub props: Option<Box<NewProps>>,
    /// Preconditions on the target (`If-Match`, `If-None-Match`), judged
    /// again at the commit: kept from the request's conditions
    /// ([`Operate::keep`]), not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for Put {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn body(&self) -> Body {
        self.trailer.map_or(self.body, |t| t.after(self.body))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    /// Refuse (skipping the body where we can) or, on the pool, create
    /// the temp file (which gets `mtime` on commit, if given) and start
    /// receiving the body. The client's CRC-32C comes with the request or
    /// in a trailer after the body (whose bytes are then skipped with it).
    /// The token's name goes with it for the hooks. Missing parent folders
    /// are made where `folders` says so, else the PUT is a conflict (RFC
    /// 4918 9.7.1: `409`, never a `404` about a name being created).
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        put(ctx, who, self)
    }
}

fn put(ctx: &Ctx<'_>, who: Who, put: Put) -> Outcome {
    let size = put.size();
    if let Some(Err(failure)) = size.map(|size| check_size(ctx.config, size)) {
        // Reading a body we refuse could take forever: close instead.
        return refuse(ctx, "PUT", put.name.as_str(), failure, Next::Close);
    }
    let opening = Opening {
        user: user_of(ctx, &who),
        look: look_for(ctx, size, put.props.is_some(), put.preconditions.is_some()),
        size,
        put,
        who,
    };
    Outcome::pending(Job::upload(UploadStep::Open(Box::new(opening))))
}

impl Put {
    /// Its body's length, if it is known now.
    fn size(&self) -> Option<u64> {
        match self.body.length {
            BodyLength::Fixed(size) => Some(size),
            BodyLength::Chunked | BodyLength::UntilEof => None,
        }
    }
}

/// A PUT admitted, whose temp file is to be made
/// ([`UploadStep::Open`]).
pub struct Opening {
    /// The request.
    pub(in crate::serve) put: Put,
    /// Who it is from.
    who: Who,
    /// Whose upload it is, for the hooks and the usage ledger.
    user: Option<Owner>,
    /// When its target is looked at.
    look: Look,
    /// Its body's length, if known now ([`Put::size`], read once).
    size: Option<u64>,
}

/// [`UploadStep::Open`] (brief): the temp file made where there is room,
/// then the body received; or the PUT refused, its body skipped where
/// that can be.
pub(in crate::serve) fn open(ctx: &Ctx<'_>, opening: Opening) -> Outcome {
    let Opening {
        put,
        who,
        user,
        look,
        size,
    } = opening;
    let Put {
        name,
        body,
        crc,
        mtime,
        trailer,
        digests,
        folders,
        props,
        preconditions,
    } = put;
    let framing = trailer.map_or(body, |t| t.after(body));
    let until_eof = body.length == BodyLength::UntilEof;
    if until_eof {
        // A fresh `STOR` starts over: what was kept of an earlier one
        // for the token goes first, so that its bytes no longer count
        // against the quota this one is judged by (else they locked
        // the token out until they expired).
        let _ = super::resume::drop_kept(ctx, &who, &name);
    }
    match begin_put(ctx, &who, &name, (size, look), folders) {
        Ok(mut upload) => {
            if size.is_none() {
                // Judged for nothing at its begin: each write takes
                // its room from the reserve and the quotas.
                upload.reserve_as_written(ctx.store.reserve_as_written());
                upload.count_as_written(who.name(), who.quota());
            }
            upload.set_mtime(mtime);
            upload.set_props(props);
            create_only_if_required(&mut upload, preconditions.as_deref());
            let receive = match until_eof {
                true => {
                    let kept_for = who.owner().map(|owner| owner.as_str().to_owned());
                    Receive::until_eof(Sink::File(upload), name, kept_for)
                }
                false => Receive::new(Sink::File(upload), name, size, crc),
            };
            let receive = receive
                .by(user)
                .expecting(preconditions)
                .with_trailer(trailer)
                .deferred(ctx.config.pool_writes.on(ctx.store, digests.is_some()))
                // Computed as the body is written, checked before the commit.
                .digesting(digests);
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(failure) => refuse(
            ctx,
            "PUT",
            name.as_str(),
            failure,
            skip_body(framing, ctx.config),
        ),
    }
}

/// The largest body whose PUT leaves the look at its target to the
/// commit ([`Look::AtCommit`]): one this small comes with its request or
/// just after it, so that refusing a PUT onto a folder after its body
/// costs less than a look at every new file's name before it.
const LOOKED_AT_COMMIT: u64 = 64 << 10;

/// When a PUT of `size` bytes looks at what has its name: at the commit
/// for a small body, but at the begin where a refusal must come before
/// anything else is done: a before-commit hook would be run for a PUT
/// bound to fail, dead properties (`props`) are recorded before the
/// rename, and a precondition's `412` must not hide a folder's `409`.
fn look_for(ctx: &Ctx<'_>, size: Option<u64>, props: bool, preconditions: bool) -> Look {
    match size {
        Some(size)
            if size <= LOOKED_AT_COMMIT && !props && !preconditions && !ctx.hooks.vetoes() =>
        {
            Look::AtCommit
        }
        _ => Look::AtBegin,
    }
}

/// A PUT's temp file, where there is room for its `size` bytes (0 for a
/// length still to come: the reserve must not be eaten into already).
fn begin_put(
    ctx: &Ctx<'_>,
    who: &Who,
    name: &Name,
    (size, look): (Option<u64>, Look),
    folders: Folders,
) -> Result<Upload, Failure> {
    check_space(ctx, who, name.as_str(), size.unwrap_or(0))?;
    ctx.store
        .begin_upload(name, folders, look)
        .map_err(|err| match err {
            StorageError::NotFound if !folders.made() => {
                let missing = "the parent folder does not exist: make it first (MKCOL over WebDAV, MKD over FTP)";
                Failure::new(ErrorKind::Conflict, missing)
            }
            err => err.into(),
        })
}

/// Describe `name`: size, modification time, checksum.
#[derive(Debug)]
pub struct Stat {
    /// File to describe.
    pub name: Name,
}

impl Operate for Stat {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Read(self.name.as_str()))
    }

    /// At once if the name and checksum are cached, else on the pool; a
    /// checksum nobody knows yet (STAT states it) is computed on the
    /// checksum threads.
    fn serve(self, ctx: &Ctx<'_>, _who: Who) -> Outcome {
        let name = self.name;
        match ctx.store.open(&name, Open::IfCached) {
            Ok(Some(found)) => stated(ctx, name, Ok(found)),
            Ok(None) => Outcome::brief(move |ctx| {
                let found = ctx.store.open(&name, Open::Describe);
                let found = found.and_then(|found| found.ok_or(StorageError::NotFound));
                stated(ctx, name, found)
            }),
            Err(err) => stated(ctx, name, Err(err)),
        }
    }
}

fn stated(ctx: &Ctx<'_>, name: Name, found: Result<Opened, StorageError>) -> Outcome {
    match found {
        Ok(found) if found.version.crc.is_none() => Outcome::on_checksum(move |ctx| {
            let found = with_checksum(ctx, found);
            stated(ctx, name, found)
        }),
        Ok(found) => {
            debug!("#{} STAT {name}", ctx.client);
            Outcome::answer(Reply::Stat {
                version: found.version,
            })
        }
        Err(err) => storage_refusal(ctx, "STAT", name.as_str(), err),
    }
}

/// Whether folders are things of their own where `folders` says how they
/// come and go (HTTP's, WebDAV's): then a folder's URL without its `/`
/// still names the folder (RFC 4918 servers take `DELETE /wc` as `DELETE
/// /wc/`; webdavclient3's `clean` sends it), served as its folder
/// operation once the pool has found a folder there. Its grants were
/// judged for the name, which covers what the folder's would.
pub(super) fn own_folders(folders: Folders) -> bool {
    folders.pruned_below().is_none()
}

/// What has `from` where [`own_folders`] may make it a folder's request
/// (looked up once: the source's check takes it too), else `None`.
pub(super) fn source_of(
    ctx: &Ctx<'_>,
    from: &Name,
    folders: Folders,
) -> Option<super::folders::Found> {
    own_folders(folders).then(|| ctx.store.occupant(from))
}

/// Rename file `from` to `to` (replacing a file there if `overwrite`).
#[derive(Debug)]
pub struct MoveFile {
    /// File to rename.
    pub from: Name,
    /// Its new name.
    pub to: Name,
    /// What may be replaced at `to`.
    pub overwrite: Overwrite,
    /// Whether the folders `from` leaves empty go with it, and (with
    /// [`Overwrite::Files`]) whether those of `to` are made.
    pub folders: Folders,
    /// The request's preconditions and lock tokens, judged again at the
    /// rename: kept from its conditions ([`Operate::keep`]), not set by a
    /// codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for MoveFile {
    fn aim(&self) -> Aim<'_> {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        Aim::onto(from, to, Needs::Move(from, to))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    /// On the pool, replacing what `overwrite` lets it (WebDAV's: a folder
    /// there goes first, as DELETE would take it, and no parent folder is
    /// made: [`super::folder_removal::clear`]); the folders `from` leaves empty go
    /// only where `folders` are implicit, as for DELETE. Written for the
    /// read-only mode like DELETE and PUT; the permissions are both of
    /// theirs (`access.rs`).
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| rename(ctx, who, self))
    }
}

fn rename(ctx: &Ctx<'_>, who: Who, op: MoveFile) -> Outcome {
    let MoveFile {
        from,
        to,
        overwrite,
        folders,
        preconditions,
    } = op;
    let found = source_of(ctx, &from, folders);
    if matches!(found, Some(Ok(Occupant::Folder))) {
        let (from, to) = (Prefix::of_folder(&from), Prefix::of_folder(&to));
        let overwrite = overwrite == Overwrite::Anything;
        return MoveFolder {
            from,
            to,
            overwrite,
            preconditions,
        }
        .serve(ctx, who);
    }
    // A name reserved by a lock, nothing written yet (davfs2 renames a
    // file it has not sent): the reservation moves, nothing is made.
    if super::reservations::is_reservation(ctx, &from, found.as_ref()) {
        return super::reservations::move_reserved(ctx, (&from, &to), overwrite);
    }
    let mut cleared = false;
    // WebDAV's MOVE (RFC 4918 9.9): a parent folder to land in, and
    // whatever has the name kept (`Overwrite: F`) or replaced.
    if overwrite != Overwrite::Files && from != to {
        let replace = overwrite == Overwrite::Anything;
        if let Err(outcome) = super::folders::judge_file_source(ctx, "MOVE", &from, found) {
            return *outcome;
        }
        match super::folder_removal::clear(
            ctx,
            (&who, "MOVE"),
            &to,
            (replace, true),
            preconditions.as_deref(),
        ) {
            Ok(replaced) => cleared = replaced,
            Err(outcome) => return *outcome,
        }
    }
    let replace = overwrite != Overwrite::Nothing;
    let needs = Needs::Move(from.as_str(), to.as_str());
    let subject = format!("{from} -> {to}");
    let renamed = match judged_again(ctx, needs, preconditions.as_deref()) {
        Ok(_steady) => ctx.store.rename(&from, &to, replace, folders),
        Err(failure) => return refuse(ctx, "MOVE", &subject, failure, Next::Request),
    };
    match renamed {
        Ok(replaced) => {
            debug!("#{} MOVE {subject}", ctx.client);
            // Moved onto itself, nothing moved: its locks stay.
            if from != to {
                super::lock_release::release(ctx, from.as_str(), false);
            }
            // The name holds the moved file now (unless moved onto itself):
            // what a cut `STOR` of it kept for the client ends, as a fresh `STOR`'s.
            if from != to && ctx.store.counts_usage() {
                super::resume::drop_kept(ctx, &who, &to);
            }
            let replaced = replaced || cleared;
            Outcome::answer(Reply::Moved { replaced })
        }
        Err(err) => storage_refusal(ctx, "MOVE", &subject, err),
    }
}
