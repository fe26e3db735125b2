//! Serving multipart uploads (S3's): begin one, stage a part, list the
//! parts or the uploads, complete or abort one. The upload is a ferry
//! upload session and its parts are staged beside it on disk
//! (`storage/parts.rs`), so what it costs in memory does not grow with
//! its size, it survives a restart, and another node of a shared root
//! can go on with it; it expires as every session does. A part's body
//! streams like a PUT's (its MD5 and the digests it states computed as it
//! comes), or is copied from an object under CopyObject's rules
//! (UploadPartCopy); the completion checks the parts asked for against those
//! staged, assembles them on the pool and commits the object as every
//! upload is committed (hooks, `--fsync`, one rename), with the checksum
//! its parts make where it has one (`upload_checksum.rs`). Grants, read-only,
//! locks and `--max-file-size` are the serve layer's, on the object's
//! name, as for a PUT of it.

use std::time::Instant;

use crate::formats::md5::Md5;
use log::{debug, warn};

use super::commit::{Commit, commit_now};
use super::conditions::{Conditions, create_only_if_required};
use super::digest::Digesting;
use super::sessions::session_limits;
use super::upload_checksum::{self, Stated, UploadChecksum};
use super::{
    BodyLength, Ctx, ErrorKind, Failure, Next, Outcome, Receive, Reply, Sink, check_size, refuse,
    skip_body,
};
use crate::access::{Owner, Who};
use crate::config::Config;
use crate::name::Name;
use crate::storage::{DeadProperty, Md5Tag, NewProps, Part, PartUpload, StorageError};

pub use super::part_asks::{CopyPartAsk, ListedPart, PartAsk};
pub use super::upload_checksum::INVALID_PART;
use crate::formats::upload_metadata;

/// Part numbers run from 1 to this.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part of an upload but its last is at least this large (storage
/// places parts by it: `storage/part_slots.rs`).
pub const MIN_PART_SIZE: u64 = crate::storage::SMALLEST_PART;
/// Most parts or uploads on a page of a listing.
pub const MAX_PAGE: usize = 1000;

/// A completion lists parts out of order.
pub const PART_ORDER: &str = "the parts must be listed in ascending order of their numbers";
/// A part other than the last is too small.
pub const PART_TOO_SMALL: &str = "every part but the last must be at least 5 MiB";

/// One page of an upload's parts (ListParts).
#[derive(Debug)]
pub struct PartsPage {
    /// The object it makes.
    pub name: Name,
    /// The upload.
    pub id: String,
    /// The parts after `after`, by number.
    pub parts: Vec<Part>,
    /// The number the page starts after.
    pub after: u32,
    /// Most parts on the page.
    pub max: usize,
    /// More parts follow.
    pub truncated: bool,
}

/// Begins a multipart upload of `name` (on the pool: a session is made),
/// the object to have modification time `mtime` (kept in the session's
/// metadata, as a tus client's `mtime`, so hooks see it too) and the dead
/// properties `props` (S3's metadata: kept there too, and written for the
/// object in its commit), and the `checksum` its parts must state (kept
/// there too).
pub(super) fn begin(
    who: &Who,
    name: Name,
    (mtime, props): (Option<i64>, Option<Box<NewProps>>),
    checksum: Option<UploadChecksum>,
) -> Outcome {
    let owner = who.owner().map(|owner| owner.as_str().to_owned());
    Outcome::on_pool(move |ctx| {
        let limits = session_limits(ctx, owner);
        let meta = mtime.map(upload_metadata::of_mtime);
        let meta = match props {
            None => meta,
            Some(new) => {
                let props: Vec<_> = new.props.into_iter().map(|p| (p.local, p.value)).collect();
                Some(upload_metadata::with_props(meta, &new.ns, &props))
            }
        };
        let meta = match checksum {
            Some(checksum) => Some(upload_metadata::with_checksum(meta, &checksum.spelled())),
            None => meta,
        };
        match ctx.storage.begin_multipart(&name, meta.as_deref(), &limits) {
            Ok(session) => {
                debug!("#{} multipart upload {} of {name}", ctx.client, session.id);
                Outcome::answer(Reply::Session(Box::new(session)))
            }
            Err(err) => refuse(ctx, "UPLOAD", name.as_str(), err.into(), Next::Request),
        }
    })
}

/// Stages part `ask.number` of upload `ask.id` of `name`: refused if the
/// part alone is over the size limit the object has; else, on the pool,
/// its temp file is made and the body streams into it.
pub(super) fn put_part(ctx: &Ctx<'_>, name: Name, ask: Box<PartAsk>) -> Outcome {
    // Chunked framing only around an aws-chunked body, whose decoded
    // length was stated (the AWS CLI's over HTTPS).
    let len = match ask.body.length {
        BodyLength::Fixed(len) => Some(len),
        BodyLength::Chunked if ask.digests.coding.is_some() => None,
        BodyLength::Chunked => {
            let failure = Failure::new(ErrorKind::BadRequest, "a part needs a Content-Length");
            return refuse(ctx, "APPEND", name.as_str(), failure, Next::Close);
        }
    };
    if let Some(Err(failure)) = len.map(|len| check_size(ctx.config, len)) {
        return refuse(ctx, "APPEND", name.as_str(), failure, Next::Close);
    }
    // The part's own length: an aws-chunked body's payload's.
    let part_len = match &ask.digests.coding {
        Some(coding) => Some(coding.declared),
        None => len,
    };
    Outcome::on_pool(move |ctx| {
        match ctx
            .storage
            .begin_part(&ask.id, &name, (ask.number, part_len))
        {
            Ok(part) => {
                // A part of an upload with a checksum states one of it, or
                // none: then it is computed as the part arrives.
                let upload = UploadChecksum::of_meta(part.upload_meta());
                let stated = ask.digests.checksum.as_ref().map(|c| c.algorithm);
                if let Err(failure) = upload_checksum::check_part(upload, stated) {
                    drop(part);
                    let next = skip_body(ask.body, ctx.config);
                    return refuse(ctx, "APPEND", name.as_str(), failure, next);
                }
                let mut ask = ask;
                ask.digests.computed = upload.map(|upload| upload.algorithm);
                // Its MD5 and stated digests computed as it is written (an
                // aws-chunked body decoded first), checked before it is staged.
                let receive = Receive::new(Sink::Part(part), name, len, None)
                    .deferred(ctx.config.pool_writes.on(ctx.storage, true))
                    .digesting(Some(Box::new(ask.digests)));
                Outcome::new(Reply::GoAhead, Next::Receive(receive))
            }
            Err(err) => {
                let next = skip_body(ask.body, ctx.config);
                refuse(ctx, "APPEND", name.as_str(), err.into(), next)
            }
        }
    })
}

/// The source of a part to be copied is not there (or is a folder).
pub const NO_SUCH_SOURCE: &str = "the copy source is not there";

/// Stages part `ask.number` of upload `ask.id` of `name` from file
/// `from` (UploadPartCopy), on the pool among the long jobs (it copies
/// bytes): the source opened, its conditions and range judged on that
/// version (`files::source_span`, CopyObject's judgement), the part within
/// the size limit, then its bytes copied into the part's temp file, their
/// MD5 and CRC-32C computed as they go (and the upload's checksum, where
/// it has one), and staged as an uploaded part is. Refused anywhere,
/// nothing changes.
pub(super) fn copy_part(name: Name, from: Name, ask: Box<CopyPartAsk>) -> Outcome {
    Outcome::on_pool_long(move |ctx| {
        let what = format!("{from} -> {name}");
        match copied_part(ctx, &name, &from, &ask) {
            Ok((size, crc, md5)) => {
                debug!(
                    "#{} part of {name} copied from {from}: {size} bytes",
                    ctx.client
                );
                Outcome::answer(part_stored((size, crc, md5), None))
            }
            Err(failure) => refuse(ctx, "APPEND", &what, failure, Next::Request),
        }
    })
}

/// [`copy_part`]'s work on the pool: the part's size, CRC-32C and MD5.
fn copied_part(
    ctx: &Ctx<'_>,
    name: &Name,
    from: &Name,
    ask: &CopyPartAsk,
) -> Result<(u64, u32, [u8; 16]), Failure> {
    let found = match ctx.storage.open_read(from) {
        Ok(found) => found,
        Err(StorageError::NotFound | StorageError::IsDirectory) => {
            return Err(Failure::new(ErrorKind::NotFound, NO_SUCH_SOURCE));
        }
        Err(err) => return Err(err.into()),
    };
    let (start, len) = super::files::source_span(ask.source.as_ref(), &found)?;
    check_size(ctx.config, len)?;
    let mut part = ctx
        .storage
        .begin_part(&ask.id, name, (ask.number, Some(len)))?;
    let (mut md5, mut crc) = (Md5::new(), 0u32);
    let upload = UploadChecksum::of_meta(part.upload_meta());
    let mut running = upload.map(|upload| super::digest::Running::new(upload.algorithm));
    part.copy_from(&found.file, (start, len), |bytes| {
        md5.update(bytes);
        crc = crc32c::crc32c_append(crc, bytes);
        if let Some(running) = &mut running {
            running.update(bytes);
        }
    })?;
    let md5 = md5.finalize();
    let checksum = running.map(|running| running.finish(crc).record());
    part.commit((md5, crc, checksum.as_deref()), ctx.config.fsync)?;
    Ok((len, crc, md5))
}

/// A part's whole body has arrived (on the pool): staged if it is as
/// stated, in place of any part of its number; else nothing changes.
pub(super) fn finish_part(
    ctx: &Ctx<'_>,
    client: u64,
    part: PartUpload,
    (name, size, crc): (Name, u64, u32),
    (digests, trailers): (Option<Box<Digesting>>, &[(String, String)]),
) -> Outcome {
    let Some(digests) = digests else {
        unreachable!("a part's receive computes its MD5");
    };
    let (md5, checksum) = match digests.finish(crc, trailers) {
        Ok(digested) => (digested.md5, digested.checksum),
        Err(failure) => {
            warn!("#{client} part of {name}: {}", failure.message);
            return Outcome::failed(failure, Next::Request);
        }
    };
    let kept = checksum.as_ref().map(|checksum| checksum.record());
    match part.commit((md5, crc, kept.as_deref()), ctx.config.fsync) {
        Ok(()) => {
            debug!("#{client} part of {name}: {size} bytes staged");
            Outcome::answer(part_stored((size, crc, md5), checksum))
        }
        Err(err) => Outcome::failed(err.into(), Next::Request),
    }
}

/// Completes upload `id` of `name` from the `listed` parts (number and
/// ETag, in the client's order): checked against those staged, then
/// assembled (on the pool, among the long jobs: it copies the object)
/// and committed as `user`'s, with the checksum its parts make where the
/// upload has one (checked against those the completion `stated`). A
/// completion sent again after the first
/// succeeded (a client retrying after a lost answer) is answered as the
/// first was, while the upload's mark is kept ([`repeated`]).
pub(super) fn complete(
    (name, preconditions): (Name, Option<Box<Conditions>>),
    id: String,
    (listed, stated): (Vec<ListedPart>, Option<Box<Stated>>),
    user: Option<Owner>,
) -> Outcome {
    let started = Instant::now();
    Outcome::on_pool_long(move |ctx| {
        let (tag, digest) = completion(&listed);
        let stated = stated.unwrap_or_default();
        let (mut checksum, mut part_checksums) = (None, None);
        let chosen = ctx
            .storage
            .finish_multipart((&id, &name, &digest), |staged, meta| {
                let chosen = choose(ctx.config, &listed, staged)?;
                let upload = UploadChecksum::of_meta(meta);
                checksum = upload_checksum::of_completion(upload, &chosen, &stated)?;
                if checksum.is_some() {
                    part_checksums = chosen.iter().map(|part| part.checksum.clone()).collect();
                }
                Ok::<_, Failure>(chosen)
            });
        match chosen {
            Ok((mut upload, size, crc, meta)) => {
                upload.set_multipart_md5(tag.md5, tag.parts.unwrap_or(u32::MAX));
                if let Some(checksums) = part_checksums {
                    upload.set_part_checksums(checksums);
                }
                debug!("#{} multipart upload {id} of {name} complete", ctx.client);
                upload.set_mtime(meta.as_deref().and_then(upload_metadata::mtime));
                upload.set_props(meta.as_deref().and_then(kept_props));
                create_only_if_required(&mut upload, preconditions.as_deref());
                let mut commit = Commit::whole(upload, (name, size, crc), started, user);
                commit.meta = meta;
                commit.checksum = checksum.map(Box::new);
                commit.preconditions = preconditions;
                commit_now(ctx, commit)
            }
            Err(failure)
                if failure.kind == ErrorKind::NotFound
                    && let Some(checksum) = repeated(ctx, (&id, &name), (&tag, &digest)) =>
            {
                debug!(
                    "#{} multipart upload {id} of {name}: complete already",
                    ctx.client
                );
                Outcome::answer(Reply::Stored {
                    size: 0,
                    crc: 0,
                    replaced: false,
                    session: None,
                    md5: Some(tag),
                    checksum: checksum.map(Box::new),
                    version: None,
                })
            }
            Err(failure) => refuse(ctx, "COMMIT", name.as_str(), failure, Next::Request),
        }
    })
}

/// What a completion's list makes: the object's ETag (the MD5 of the
/// parts' MD5s, and their number: S3's) and a digest of the list itself
/// (numbers and MD5s, which the ETag does not bind), kept in the
/// upload's mark once it is complete.
fn completion(listed: &[ListedPart]) -> (Md5Tag, String) {
    let (mut md5s, mut list) = (Md5::new(), Md5::new());
    for (number, md5) in listed {
        // One that names no MD5 never completes (`choose`): any bytes do.
        let md5 = md5.unwrap_or_default();
        md5s.update(&md5);
        list.update(&number.to_be_bytes());
        list.update(&md5);
    }
    let parts = u32::try_from(listed.len()).unwrap_or(u32::MAX);
    let tag = Md5Tag {
        md5: md5s.finalize(),
        parts: Some(parts),
    };
    let digest = Md5Tag {
        md5: list.finalize(),
        parts: None,
    };
    (tag, digest.text())
}

/// Whether upload `id` of `name`, not there, was completed from the same
/// list (`digest`) and its object is still the one it made (`Some`, with
/// the checksum recorded with it): S3 answers a
/// completion sent again with the first one's `200`, ETag and checksum, so a client
/// whose answer was lost does not report an upload that succeeded as
/// failed. The mark is kept as long as a session holding nothing lives
/// (15 minutes), then swept with expired sessions; another list, or the key since
/// replaced by an object of another ETag, is `NoSuchUpload` as before:
/// the object there is not what this completion made.
fn repeated(
    ctx: &Ctx<'_>,
    (id, name): (&str, &Name),
    (tag, digest): (&Md5Tag, &str),
) -> Option<Option<super::digest::Checksum>> {
    if !ctx.storage.completed_multipart(id, name, digest) {
        return None;
    }
    let (recorded, checksum) = ctx.storage.recorded_tags(name.as_str())?;
    let checksum = checksum
        .as_deref()
        .and_then(super::digest::Checksum::of_record);
    (recorded == *tag).then_some(checksum)
}

/// The dead properties a session's metadata keeps for its object
/// ([`begin`]).
fn kept_props(meta: &str) -> Option<Box<NewProps>> {
    let (ns, props) = upload_metadata::props(meta)?;
    let props = props
        .into_iter()
        .map(|(local, value)| DeadProperty {
            ns: ns.clone(),
            local,
            value,
        })
        .collect();
    Some(Box::new(NewProps { ns, props }))
}

/// The staged parts that make the object: those `listed`, which must be
/// in ascending order, staged with the ETags given, each but the last at
/// least [`MIN_PART_SIZE`], and all within the size limit.
fn choose(config: &Config, listed: &[ListedPart], staged: Vec<Part>) -> Result<Vec<Part>, Failure> {
    let bad = |message| Failure::new(ErrorKind::BadRequest, message);
    if listed.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(bad(PART_ORDER));
    }
    let mut chosen = Vec::with_capacity(listed.len());
    for (number, md5) in listed {
        match staged.binary_search_by_key(number, |part| part.number) {
            Ok(at) if Some(staged[at].md5) == *md5 => chosen.push(staged[at].clone()),
            _ => return Err(bad(INVALID_PART)),
        }
    }
    let (last, rest) = chosen.split_last().ok_or_else(|| bad(INVALID_PART))?;
    if rest.iter().any(|part| part.size < MIN_PART_SIZE) {
        return Err(bad(PART_TOO_SMALL));
    }
    let size = rest.iter().map(|part| part.size).sum::<u64>() + last.size;
    check_size(config, size)?;
    Ok(chosen)
}

/// Aborts upload `id` of `name`: its record and parts go.
pub(super) fn abort(name: Name, id: String) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let aborted = ctx
            .storage
            .multipart(&id, &name)
            .and_then(|_| ctx.storage.abort_session(&id));
        match aborted {
            Ok(()) => {
                debug!("#{} ABORT multipart upload {id} of {name}", ctx.client);
                Outcome::answer(Reply::Done)
            }
            Err(err) => refuse(ctx, "ABORT", &id, err.into(), Next::Request),
        }
    })
}

/// One page of the parts of upload `id` of `name`: at most `max` after
/// part `after`.
pub(super) fn list_parts(name: Name, id: String, after: u32, max: usize) -> Outcome {
    Outcome::on_pool(move |ctx| match ctx.storage.parts(&id, &name) {
        Ok(staged) => {
            let max = max.min(MAX_PAGE);
            let mut parts: Vec<Part> = staged.into_iter().filter(|p| p.number > after).collect();
            let truncated = parts.len() > max;
            parts.truncate(max);
            Outcome::answer(Reply::Parts(Box::new(PartsPage {
                name,
                id,
                parts,
                after,
                max,
                truncated,
            })))
        }
        Err(err) => refuse(ctx, "PROGRESS", &id, err.into(), Next::Request),
    })
}

/// A part staged (uploaded or copied): its size, CRC-32C and MD5 (the
/// part's ETag), and the checksum its client sent, if any.
fn part_stored(
    (size, crc, md5): (u64, u32, [u8; 16]),
    checksum: Option<super::digest::Checksum>,
) -> Reply {
    Reply::Stored {
        size,
        crc,
        replaced: false,
        session: None,
        md5: Some(crate::storage::Md5Tag { md5, parts: None }),
        checksum: checksum.map(Box::new),
        version: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, size: u64) -> Part {
        Part {
            number,
            size,
            md5: [number as u8; 16],
            crc: 0,
            modified: 0,
            at: None,
            checksum: None,
        }
    }

    #[test]
    fn parts_must_be_ascending_staged_and_large_enough() {
        let config = Config::default();
        let staged = || vec![part(1, MIN_PART_SIZE), part(2, 1), part(3, 7)];
        let named = |listed: &[(u32, [u8; 16])]| -> Vec<ListedPart> {
            listed.iter().map(|(n, md5)| (*n, Some(*md5))).collect()
        };
        let failed = |listed: &[(u32, [u8; 16])]| {
            choose(&config, &named(listed), staged())
                .map(|_| ())
                .unwrap_err()
                .message
        };
        assert_eq!(failed(&[(2, [2; 16]), (1, [1; 16])]), PART_ORDER);
        assert_eq!(failed(&[(1, [1; 16]), (1, [1; 16])]), PART_ORDER);
        assert_eq!(failed(&[(1, [9; 16])]), INVALID_PART);
        assert_eq!(failed(&[(4, [4; 16])]), INVALID_PART);
        assert_eq!(failed(&[]), INVALID_PART);
        assert_eq!(failed(&[(2, [2; 16]), (3, [3; 16])]), PART_TOO_SMALL);
        let chosen = choose(&config, &named(&[(1, [1; 16]), (3, [3; 16])]), staged());
        let unnamed = choose(&config, &[(1, None)], staged());
        assert_eq!(unnamed.map(|_| ()).unwrap_err().message, INVALID_PART);
        assert_eq!(chosen.map(|parts| parts.len()), Ok(2));
        let small = Config {
            max_file_size: Some(MIN_PART_SIZE),
            ..Config::default()
        };
        let over = choose(&small, &named(&[(1, [1; 16]), (3, [3; 16])]), staged());
        assert_eq!(over.map(|_| ()).unwrap_err().kind, ErrorKind::TooLarge);
    }
}
