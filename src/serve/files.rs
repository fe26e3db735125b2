//! Serving files: PUT, STAT, DELETE, MOVE, COPY and ECHO (GET: `get.rs`;
//! a body's arrival: `arrived.rs`).

use log::debug;

use super::Overwrite;
use super::commit::{Commit, commit_now};
use super::conditions::{Conditions, create_only_if_required};
use super::digest::BodyDigests;
use super::get::{NOT_AS_CONDITIONED, version_of, with_checksum};
use super::terms::Choose;
use super::{Body, BodyLength, CopyTime, Folders, Receive, Sink, Trailer};
use super::{
    Ctx, ErrorKind, Failure, Next, Outcome, Reply, Selection, check_size, refuse, skip_body,
    storage_refusal,
};
use crate::access::{Owner, Who};
use crate::name::{Name, Prefix};
use crate::storage::{NewProps, Occupant, OpenFile, StorageError, Upload};

/// PUT: refuse (skipping the body where we can) or, on the pool, create
/// the temp file (which gets `mtime` on commit, if given) and start
/// receiving the body. The client's CRC-32C comes with the request or in a
/// trailer after the body (whose bytes are then skipped with it). `user`
/// (the token's name) is for the hooks. Missing parent folders are made
/// where `folders` says so, else the PUT is a conflict (RFC 4918 9.7.1:
/// `409`, never a `404` about a name being created).
pub(super) fn put(
    ctx: &Ctx<'_>,
    user: Option<Owner>,
    (name, folders, preconditions): (Name, Folders, Option<Box<Conditions>>),
    body: Body,
    (crc, trailer, digests): (Option<u32>, Option<Trailer>, Option<Box<BodyDigests>>),
    (mtime, props): (Option<i64>, Option<Box<NewProps>>),
) -> Outcome {
    let framing = trailer.map_or(body, |t| t.after(body));
    let size = match body.length {
        BodyLength::Fixed(size) => Some(size),
        BodyLength::Chunked => None,
    };
    if let Some(Err(failure)) = size.map(|size| check_size(ctx.config, size)) {
        // Reading a body we refuse could take forever: close instead.
        return refuse(ctx, "PUT", name.as_str(), failure, Next::Close);
    }
    Outcome::on_pool(move |ctx| match ctx.storage.begin_upload(&name, folders) {
        Ok(mut upload) => {
            upload.set_mtime(mtime);
            upload.set_props(props);
            create_only_if_required(&mut upload, preconditions.as_deref());
            let receive = Receive::new(Sink::File(upload), name, size, crc)
                .by(user)
                .expecting(preconditions)
                .with_trailer(trailer)
                .deferred(ctx.config.pool_writes.on(ctx.storage, digests.is_some()))
                // Computed as the body is written, checked before the commit.
                .digesting(digests);
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(err) => {
            let failure = match err {
                StorageError::NotFound if !folders.made() => {
                    let missing = "the parent folder does not exist (make it with MKCOL)";
                    Failure::new(ErrorKind::Conflict, missing)
                }
                err => err.into(),
            };
            refuse(
                ctx,
                "PUT",
                name.as_str(),
                failure,
                skip_body(framing, ctx.config),
            )
        }
    })
}

/// STAT: at once if the name and checksum are cached, else on the pool;
/// a checksum nobody knows yet (STAT states it) is computed on the
/// checksum threads.
pub(super) fn stat(ctx: &Ctx<'_>, name: Name) -> Outcome {
    match ctx.storage.open_read_cached(&name) {
        Ok(Some(found)) => stated(ctx, name, Ok(found)),
        Ok(None) => Outcome::on_pool(move |ctx| {
            let found = ctx.storage.stat(&name);
            stated(ctx, name, found)
        }),
        Err(err) => stated(ctx, name, Err(err)),
    }
}

fn stated(ctx: &Ctx<'_>, name: Name, found: Result<OpenFile, StorageError>) -> Outcome {
    match found {
        Ok(found) if found.crc.is_none() => Outcome::on_checksum(move |ctx| {
            let found = with_checksum(ctx, found);
            stated(ctx, name, found)
        }),
        Ok(found) => {
            debug!("#{} STAT {name}", ctx.client);
            Outcome::answer(Reply::Stat {
                version: version_of(&found),
            })
        }
        Err(err) => storage_refusal(ctx, "STAT", name.as_str(), err),
    }
}

/// DELETE of a file, on the pool; the folders it leaves empty go with it
/// only where `folders` are implicit (FERRY/1): over HTTP a folder a user
/// emptied is still there, as in a file manager (docs/webdav.md (e)).
pub(super) fn delete(who: Who, name: Name, folders: Folders) -> Outcome {
    Outcome::on_pool(move |ctx| match ctx.storage.delete(&name, folders) {
        Ok(()) => {
            debug!("#{} DELETE {name}", ctx.client);
            super::locks::release(ctx, name.as_str(), false);
            Outcome::answer(Reply::Done)
        }
        Err(StorageError::IsDirectory) if own_folders(folders) => {
            super::folders::delete(ctx, who, Prefix::of_folder(&name), folders)
        }
        // A lock-null name (a lock's reservation, nothing written): its
        // DELETE, by the lock's holder (the lock rule let it through), is
        // the lock's end (RFC 2518 7.4).
        Err(StorageError::NotFound) if super::locks::reserved(ctx, name.as_str()) => {
            super::locks::release(ctx, name.as_str(), false);
            Outcome::answer(Reply::Done)
        }
        Err(err) => storage_refusal(ctx, "DELETE", name.as_str(), err),
    })
}

/// Whether folders are things of their own where `folders` says how they
/// come and go (HTTP's, WebDAV's): then a folder's URL without its `/`
/// still names the folder (RFC 4918 servers take `DELETE /wc` as `DELETE
/// /wc/`; webdavclient3's `clean` sends it), served as its folder
/// operation once the pool has found a folder there. Its grants were
/// judged for the name, which covers what the folder's would.
fn own_folders(folders: Folders) -> bool {
    folders.pruned_below().is_none()
}

/// What has `from` where [`own_folders`] may make it a folder's request
/// (looked up once: the source's check takes it too), else `None`.
fn source_of(ctx: &Ctx<'_>, from: &Name, folders: Folders) -> Option<super::folders::Found> {
    own_folders(folders).then(|| ctx.storage.occupant(from))
}

/// MOVE: rename a file within the root, on the pool, replacing what
/// `overwrite` lets it (WebDAV's: a folder there goes first, as DELETE
/// would take it, and no parent folder is made:
/// [`super::folders::clear`]); the folders `from` leaves empty go only
/// where `folders` are implicit, as for DELETE. Written for the read-only
/// mode like DELETE and PUT; the permissions are both of theirs
/// (`access.rs`).
pub(super) fn rename(
    who: Who,
    (from, to): (Name, Name),
    overwrite: Overwrite,
    folders: Folders,
) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let found = source_of(ctx, &from, folders);
        if matches!(found, Some(Ok(Occupant::Folder))) {
            let (from, to) = (Prefix::of_folder(&from), Prefix::of_folder(&to));
            let overwrite = overwrite == Overwrite::Anything;
            return super::folders::rename(ctx, who, from, to, overwrite);
        }
        let mut cleared = false;
        // WebDAV's MOVE (RFC 4918 9.9): a parent folder to land in, and
        // whatever has the name kept (`Overwrite: F`) or replaced.
        if overwrite != Overwrite::Files && from != to {
            let replace = overwrite == Overwrite::Anything;
            if let Err(outcome) = super::folders::judge_file_source(ctx, "MOVE", &from, found) {
                return *outcome;
            }
            match super::folders::clear(ctx, &who, "MOVE", &to, replace, true) {
                Ok(replaced) => cleared = replaced,
                Err(outcome) => return *outcome,
            }
        }
        let replace = overwrite != Overwrite::Nothing;
        match ctx.storage.rename(&from, &to, replace, folders) {
            Ok(replaced) => {
                debug!("#{} MOVE {from} -> {to}", ctx.client);
                super::locks::release(ctx, from.as_str(), false);
                let replaced = replaced || cleared;
                Outcome::answer(Reply::Moved { replaced })
            }
            Err(err) => storage_refusal(ctx, "MOVE", &format!("{from} -> {to}"), err),
        }
    })
}

/// COPY: on the pool, the bytes of file `from` staged as an upload to
/// `to` (whose parent folder must exist; what has the name is replaced
/// only if `overwrite`, a folder removed first as DELETE would), their
/// CRC-32C computed as they go and checked against the one recorded for
/// `from` (`Storage::stage_copy`), then committed as a PUT is (hooks, the
/// checksum record, 201 or 204). Written for the read-only mode like PUT;
/// needs read on `from` and write on `to` (`access.rs`). A name is not
/// copied onto itself (RFC 4918 9.8.5: 403). A dialect's conditions on
/// the source (`source`) are judged on the version opened, the one copied.
pub(super) fn copy(
    ctx: &Ctx<'_>,
    who: Who,
    (from, to): (Name, Name),
    overwrite: bool,
    (folders, mtime, props, source): CopyTerms,
) -> Outcome {
    if from == to {
        let failure = Failure::new(ErrorKind::Forbidden, "source and destination are the same");
        return refuse(ctx, "COPY", from.as_str(), failure, Next::Request);
    }
    let user = super::user_of(ctx, &who);
    Outcome::on_pool(move |ctx| {
        let found = source_of(ctx, &from, folders);
        if matches!(found, Some(Ok(Occupant::Folder))) {
            let (from, to) = (Prefix::of_folder(&from), Prefix::of_folder(&to));
            return super::folders::copy(ctx, who, from, to, true, overwrite);
        }
        let started = std::time::Instant::now();
        if let Err(outcome) = super::folders::judge_file_source(ctx, "COPY", &from, found) {
            return *outcome;
        }
        // S3's keys: the upload replaces a file as a PUT does, and meets a
        // folder of the name at its commit (a conflict; never removed).
        let replaced = match folders {
            Folders::Keys => false,
            _ => match super::folders::clear(ctx, &who, "COPY", &to, overwrite, true) {
                Ok(replaced) => replaced,
                Err(outcome) => return *outcome,
            },
        };
        match stage_copy(ctx, (&from, source.as_deref()), &to, folders) {
            Ok((mut upload, size, crc, source_mtime)) => {
                if replaced {
                    upload.note_replacing();
                }
                upload.set_mtime(match mtime {
                    CopyTime::Now => None,
                    CopyTime::Source => Some(source_mtime),
                    CopyTime::Set(time) => Some(time),
                });
                upload.set_props(props);
                debug!("#{} COPY {from} -> {to}: {size} bytes", ctx.client);
                commit_now(ctx, Commit::whole(upload, (to, size, crc), started, user))
            }
            Err(failure) => refuse(
                ctx,
                "COPY",
                &format!("{from} -> {to}"),
                failure,
                Next::Request,
            ),
        }
    })
}

/// How a copy is made: where its folders come from, its time, the dead
/// properties it has instead of the source's, and a dialect's conditions
/// on the source (see [`Operation::Copy`](super::Operation::Copy)).
type CopyTerms = (
    Folders,
    CopyTime,
    Option<Box<NewProps>>,
    Option<Box<dyn Choose>>,
);

/// A copy staged: its upload, size, CRC-32C and the source's time.
type Staged = (Upload, u64, u32, i64);

/// Stages the bytes of `from` as an upload to `to` (see [`copy`]), if
/// `source`'s conditions hold, within the size limit: the upload, its size
/// CRC-32C and the source's time.
fn stage_copy(
    ctx: &Ctx<'_>,
    (from, source): (&Name, Option<&dyn Choose>),
    to: &Name,
    f: Folders,
) -> Result<Staged, Failure> {
    let whole = |found: &OpenFile| match source {
        None => Ok(()),
        Some(source) => source_span(source, found).map(|_| ()),
    };
    let (upload, size, crc, mtime) = ctx.storage.stage_copy(from, to, f, whole)?;
    check_size(ctx.config, size)?;
    Ok((upload, size, crc, mtime))
}

/// A copy's source range is not within the source (S3's
/// `x-amz-copy-source-range`).
pub const SOURCE_RANGE: &str = "the copy source's range is not within the source";

/// The bytes of the open source `found` that a copy takes, as `source`
/// (a dialect's conditions and range on it) chooses: its start and length.
/// One home for CopyObject's and UploadPartCopy's judgement.
///
/// # Errors
/// 412 where a condition does not hold (a "not modified" included: a copy
/// has no 304); 400 [`SOURCE_RANGE`] for a range beyond the source.
pub(super) fn source_span(source: &dyn Choose, found: &OpenFile) -> Result<(u64, u64), Failure> {
    match source.choose(&version_of(found)) {
        Selection::Bytes { start, len, .. } => Ok((start, len)),
        Selection::NotModified | Selection::PreconditionFailed => Err(Failure::new(
            ErrorKind::PreconditionFailed,
            NOT_AS_CONDITIONED,
        )),
        Selection::Unsatisfiable => Err(Failure::new(ErrorKind::BadRequest, SOURCE_RANGE)),
    }
}

pub(super) fn echo(size: u64) -> Outcome {
    let next = match size {
        0 => Next::Request,
        left => Next::Echo { left },
    };
    Outcome::new(Reply::Echo { size }, next)
}
