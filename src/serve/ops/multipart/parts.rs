//! A multipart upload's steps but its completion (`complete.rs`): begin
//! one, stage a part (its body streamed, or copied from an object), list
//! the parts, abort one, each operation's type with its facts.

use log::{debug, warn};

use super::{CopyPartAsk, MAX_PAGE, PartAsk, began_by};
use crate::access::Who;
use crate::formats::md5::Md5;
use crate::formats::upload_metadata;
use crate::model::NewProps;
use crate::name::Name;
use crate::serve::digest::Digesting;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::ops::sessions::session_limits;
use crate::serve::upload_checksum::{self, UploadChecksum};
use crate::serve::{
    Asked, Body, BodyLength, Ctx, ErrorKind, Failure, Job, Next, Outcome, Receive, Reply,
    SessionStep, Sink, check_size, check_space, refuse, skip_body,
};
use crate::storage::{Open, Part, PartUpload, StorageError};

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

/// Begin a multipart upload of `name` (S3's CreateMultipartUpload): a
/// session whose parts are staged beside it.
#[derive(Debug)]
pub struct BeginParts {
    /// The object it makes.
    pub name: Name,
    /// The modification time the object is to have (rclone's
    /// `x-amz-meta-mtime`), kept with the session until completion.
    pub mtime: Option<i64>,
    /// Dead properties the object is to have (S3's metadata), kept with
    /// the session until completion.
    pub props: Option<Box<NewProps>>,
    /// The checksum its parts state and the object is to have
    /// (`upload_checksum.rs`), kept with the session too.
    pub checksum: Option<UploadChecksum>,
}

/// Stage the body that follows as a part of a multipart upload of `name`
/// (S3's UploadPart), in place of any part of its number.
#[derive(Debug)]
pub struct PutPart {
    /// The object the upload makes.
    pub name: Name,
    /// The upload, the part's number, its body and digests (boxed: rare).
    pub ask: Box<PartAsk>,
}

/// Stage part `ask.number` of multipart upload `ask.id` of `name` from
/// the bytes of file `from` (S3's UploadPartCopy), as its `ask.source`
/// chooses them.
#[derive(Debug)]
pub struct CopyPart {
    /// The object the upload makes.
    pub name: Name,
    /// The file the part is copied from.
    pub from: Name,
    /// The upload, the part's number, what of `from` it takes (boxed:
    /// rare).
    pub ask: Box<CopyPartAsk>,
}

/// Discard multipart upload `id` of `name` and its parts.
#[derive(Debug)]
pub struct AbortParts {
    /// The object it was to make.
    pub name: Name,
    /// The upload.
    pub id: String,
}

/// One page of the parts of multipart upload `id` of `name`.
#[derive(Debug)]
pub struct ListParts {
    /// The object.
    pub name: Name,
    /// The upload.
    pub id: String,
    /// The part number the page starts after.
    pub after: u32,
    /// Most parts on it.
    pub max: usize,
}

// A multipart upload's steps are those of a session (their verbs are
// `ops/mod.rs`'s), each needing what a PUT of the object would.

impl Operate for BeginParts {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::BeginParts(Asked::boxed(
            self, who,
        ))))
    }
}

impl Operate for PutPart {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn body(&self) -> Body {
        self.ask.body
    }

    /// Refused if the part alone is over the size limit the object has
    /// (closing: its body is not read); else on to [`put_part`].
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        let lengths = match part_lengths(&self.ask) {
            Ok(lengths) => lengths,
            Err(failure) => return refuse(ctx, "APPEND", self.name.as_str(), failure, Next::Close),
        };
        if let Some(Err(failure)) = lengths.wire.map(|len| check_size(ctx.config, len)) {
            return refuse(ctx, "APPEND", self.name.as_str(), failure, Next::Close);
        }
        let step = Asked::judged(self, who, lengths);
        Outcome::pending(Job::session(SessionStep::PutPart(step)))
    }
}

impl Operate for CopyPart {
    /// What a CopyObject to the key would.
    fn aim(&self) -> Aim<'_> {
        let (from, name) = (self.from.as_str(), self.name.as_str());
        Aim::at(name, Needs::Copy(from, name))
    }

    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::CopyPart(Asked::boxed(self, who))))
    }
}

impl Operate for AbortParts {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::AbortParts(Box::new(self))))
    }
}

impl Operate for ListParts {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        Outcome::pending(Job::session(SessionStep::ListParts(Box::new(self))))
    }
}

/// Begins a multipart upload of `name` (on the pool: a session is made),
/// the object to have modification time `mtime` (kept in the session's
/// metadata, as a tus client's `mtime`, so hooks see it too) and the dead
/// properties `props` (S3's metadata: kept there too, and written for the
/// object in its commit), and the `checksum` its parts must state (kept
/// there too). [`SessionStep::BeginParts`].
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn begin_parts(ctx: &Ctx<'_>, asked: Asked<BeginParts>) -> Outcome {
    let Asked { op, who, .. } = asked;
    let BeginParts {
        name,
        mtime,
        props,
        checksum,
    } = op;
    let owner = who.owner().map(|owner| owner.as_str().to_owned());
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
    match ctx
        .store
        .sessions()
        .begin_multipart(&name, meta.as_deref(), &limits)
    {
        Ok(session) => {
            debug!("#{} multipart upload {} of {name}", ctx.client, session.id);
            Outcome::answer(Reply::Session(Box::new(session)))
        }
        Err(err) => refuse(ctx, "UPLOAD", name.as_str(), err.into(), Next::Request),
    }
}

/// A part's lengths, as the reactor judged them.
#[derive(Debug, Clone, Copy)]
pub struct PartLengths {
    /// Its body's on the wire (`None`: chunked).
    wire: Option<u64>,
    /// Its own (an aws-chunked body's payload's; else the wire's).
    part: Option<u64>,
}

/// A part's body's length on the wire and its own.
///
/// # Errors
/// 400 for a body of no stated length.
fn part_lengths(ask: &PartAsk) -> Result<PartLengths, Failure> {
    // Chunked framing only around an aws-chunked body, whose decoded
    // length was stated (the AWS CLI's over HTTPS).
    let len = match ask.body.length {
        BodyLength::Fixed(len) => Some(len),
        BodyLength::Chunked if ask.digests.coding.is_some() => None,
        BodyLength::Chunked | BodyLength::UntilEof => {
            return Err(Failure::new(
                ErrorKind::BadRequest,
                "a part needs a Content-Length",
            ));
        }
    };
    let part_len = match &ask.digests.coding {
        Some(coding) => Some(coding.declared),
        None => len,
    };
    Ok(PartLengths {
        wire: len,
        part: part_len,
    })
}

/// Stages part `ask.number` of upload `ask.id` of `name`
/// ([`SessionStep::PutPart`], on the pool; its lengths judged on the
/// reactor): its temp file is made and the body streams into it.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn put_part(ctx: &Ctx<'_>, asked: Asked<PutPart, PartLengths>) -> Outcome {
    let Asked {
        op: PutPart { name, ask },
        who,
        judged: PartLengths {
            wire: len,
            part: part_len,
        },
    } = asked;
    let begun = check_space(ctx, &who, name.as_str(), part_len.unwrap_or(0)).and_then(|()| {
        began_by(ctx, &who, (&ask.id, &name))?;
        let asked = (ask.number, part_len, who.quota().unwrap_or_default());
        Ok(ctx.store.sessions().begin_part(&ask.id, &name, asked)?)
    });
    match begun {
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
                .deferred(ctx.config.pool_writes.on(ctx.store, true))
                .digesting(Some(Box::new(ask.digests)));
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(failure) => {
            let next = skip_body(ask.body, ctx.config);
            refuse(ctx, "APPEND", name.as_str(), failure, next)
        }
    }
}

/// The source of a part to be copied is not there (or is a folder).
pub const NO_SUCH_SOURCE: &str = "the copy source is not there";

/// Stages part `ask.number` of upload `ask.id` of `name` from file
/// `from` (UploadPartCopy), on the pool among the long jobs (it copies
/// bytes): the source opened, its conditions and range judged on that
/// version (`file_copy::source_span`, CopyObject's judgement), the part within
/// the size limit, then its bytes copied into the part's temp file, their
/// MD5 and CRC-32C computed as they go (and the upload's checksum, where
/// it has one), and staged as an uploaded part is. Refused anywhere,
/// nothing changes. [`SessionStep::CopyPart`].
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn copy_part(ctx: &Ctx<'_>, asked: Asked<CopyPart>) -> Outcome {
    let Asked {
        op: CopyPart { name, from, ask },
        who,
        ..
    } = asked;
    let what = format!("{from} -> {name}");
    match copied_part(ctx, (&who, &name), &from, &ask) {
        Ok((size, crc, md5)) => {
            debug!(
                "#{} part of {name} copied from {from}: {size} bytes",
                ctx.client
            );
            Outcome::answer(part_stored((size, crc, md5), None))
        }
        Err(failure) => refuse(ctx, "APPEND", &what, failure, Next::Request),
    }
}

/// [`copy_part`]'s work on the pool: the part's size, CRC-32C and MD5.
fn copied_part(
    ctx: &Ctx<'_>,
    (who, name): (&Who, &Name),
    from: &Name,
    ask: &CopyPartAsk,
) -> Result<(u64, u32, [u8; 16]), Failure> {
    let found = match ctx.store.open(from, Open::Read) {
        Ok(Some(found)) => found,
        Ok(None) | Err(StorageError::NotFound | StorageError::IsDirectory) => {
            return Err(Failure::new(ErrorKind::NotFound, NO_SUCH_SOURCE));
        }
        Err(err) => return Err(err.into()),
    };
    let (start, len) =
        crate::serve::ops::file_copy::source_span(ask.source.as_ref(), &found.version)?;
    check_size(ctx.config, len)?;
    check_space(ctx, who, name.as_str(), len)?;
    began_by(ctx, who, (&ask.id, name))?;
    let mut part = ctx.store.sessions().begin_part(
        &ask.id,
        name,
        (ask.number, Some(len), who.quota().unwrap_or_default()),
    )?;
    let (mut md5, mut crc) = (Md5::new(), 0u32);
    let upload = UploadChecksum::of_meta(part.upload_meta());
    let mut running = upload.map(|upload| crate::serve::digest::Running::new(upload.algorithm));
    part.copy_from(&found.body, (start, len), |bytes| {
        md5.update(bytes);
        crc = crate::formats::castagnoli::append(crc, bytes);
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
pub(in crate::serve) fn finish_part(
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

/// Aborts upload `id` of `name`: its record and parts go
/// ([`SessionStep::AbortParts`]).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn abort_parts(ctx: &Ctx<'_>, abort: AbortParts) -> Outcome {
    let AbortParts { name, id } = abort;
    let sessions = ctx.store.sessions();
    let aborted = sessions
        .multipart(&id, &name)
        .and_then(|_| sessions.abort_session(&id, None));
    match aborted {
        Ok(()) => {
            debug!("#{} ABORT multipart upload {id} of {name}", ctx.client);
            Outcome::answer(Reply::Done)
        }
        Err(err) => refuse(ctx, "ABORT", &id, err.into(), Next::Request),
    }
}

/// One page of the parts of upload `id` of `name`: at most `max` after
/// part `after` ([`SessionStep::ListParts`]).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn list_parts(ctx: &Ctx<'_>, list: ListParts) -> Outcome {
    let ListParts {
        name,
        id,
        after,
        max,
    } = list;
    match ctx.store.sessions().parts(&id, &name) {
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
    }
}

/// A part staged (uploaded or copied): its size, CRC-32C and MD5 (the
/// part's ETag), and the checksum its client sent, if any.
fn part_stored(
    (size, crc, md5): (u64, u32, [u8; 16]),
    checksum: Option<crate::serve::digest::Checksum>,
) -> Reply {
    Reply::Stored {
        size,
        crc,
        replaced: false,
        session: None,
        md5: Some(crate::model::Md5Tag { md5, parts: None }),
        checksum: checksum.map(Box::new),
        version: None,
    }
}
