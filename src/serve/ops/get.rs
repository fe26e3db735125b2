//! GET: a file opened (at once where its name and checksum are cached,
//! else on the pool) and what the request selects of it sent, with what
//! is recorded with it where the answer tells that (dead properties, the
//! checksum it was uploaded with, its part sizes); a part by number
//! ([`part_of`]); a file not found in a bucket that is not there either
//! (S3's `NoSuchBucket`, looked at on the pool); the end of a send.

use log::debug;

use crate::access::Who;
use crate::model::VersionRecords;
use crate::model::{DeadProperty, Holder};
use crate::name::Name;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{
    Ctx, ErrorKind, Failure, Job, Next, Outcome, PartsKept, Reply, Selection, Send, SendStep,
    Source, Version, Want, refuse, storage_refusal,
};
use crate::storage::{Open, Opened, StorageError};

/// Send (part of) `name`.
#[derive(Debug)]
pub struct Get {
    /// File to read.
    pub name: Name,
    /// Which bytes, decided once the file's version is known.
    pub want: Want,
}

impl Operate for Get {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Read(self.name.as_str()))
    }

    /// Open the file and send what `want` selects of it; at once if the
    /// name and checksum are cached, else on the pool. An answer that must
    /// state a checksum nobody knows yet (HTTP's whole body) waits for the
    /// checksum threads; one that need not (FERRY/1's `GET`, a range, a
    /// HEAD) goes without it and has the checksum computed behind it, for
    /// the next download.
    fn serve(self, ctx: &Ctx<'_>, _who: Who) -> Outcome {
        get(ctx, self.name, self.want)
    }
}

fn get(ctx: &Ctx<'_>, name: Name, want: Want) -> Outcome {
    let on_pool = |name, want| Outcome::pending(Job::send(SendStep::Open { name, want }));
    // Dead properties are a record's read away: for the pool, unless the
    // file surely has none (storage/posix/unrecorded.rs); so are the checksum it
    // was uploaded with and its part sizes.
    let props = want.wants_props() && !ctx.store.surely_no_props(name.as_str());
    if props || want.wants_checksum() || want.wants_part_sizes() {
        return on_pool(name, want);
    }
    match ctx.store.open(&name, Open::IfCached) {
        Ok(Some(found)) => send(ctx, name, want, (found, Records::default())),
        Ok(None) => on_pool(name, want),
        // Whether its bucket is there is a look at the disk: the pool's.
        Err(StorageError::NotFound) if want.in_bucket() => on_pool(name, want),
        Err(err) => not_sent(ctx, name, err),
    }
}

/// [`SendStep::Open`] (brief): the file opened, with what is recorded
/// with it that the answer tells, then sent; or a file not found in a
/// bucket that is not there either, `NoSuchBucket`.
pub(in crate::serve) fn open(ctx: &Ctx<'_>, name: Name, want: Want) -> Outcome {
    match ctx.store.open(&name, Open::Read) {
        Ok(Some(found)) => {
            let (checksum, parts) = (want.wants_checksum(), want.wants_part_sizes());
            let records = Records {
                props: props_of(ctx, &name, &want, &found),
                recorded: ctx.store.records(&found, checksum, parts),
            };
            send(ctx, name, want, (found, records))
        }
        Ok(None) => unreachable!("only an open if cached waits for nothing"),
        Err(StorageError::NotFound) if want.in_bucket() => {
            let err = match ctx.store.check_bucket(&name) {
                Err(StorageError::NoBucket) => StorageError::NoBucket,
                _ => StorageError::NotFound,
            };
            not_sent(ctx, name, err)
        }
        Err(err) => not_sent(ctx, name, err),
    }
}

/// The dead properties of `found` (file `name`) if `want` tells them; a
/// record that cannot be read shows as none rather than failing the GET.
fn props_of(ctx: &Ctx<'_>, name: &Name, want: &Want, found: &Opened) -> Vec<DeadProperty> {
    if !want.wants_props() {
        return Vec::new();
    }
    let holder = Holder::File(name.as_str());
    let props = ctx
        .store
        .props(holder, found.version.stamp.inode)
        .unwrap_or_else(|err| {
            log::warn!("dead properties of {name} unread: {err}");
            Vec::new()
        });
    if props.is_empty() {
        // The next GET may know it on the loop.
        ctx.store.note_no_props(name.as_str());
    }
    props
}

/// What is recorded with a file that a GET's answer tells, where the
/// request wants it (none otherwise).
#[derive(Debug, Default)]
struct Records {
    /// Its dead properties ([`Want::wants_props`]).
    props: Vec<DeadProperty>,
    /// The checksum it was uploaded with ([`Want::wants_checksum`]), its
    /// parts' sizes and checksums ([`Want::wants_part_sizes`]).
    recorded: VersionRecords,
}

/// A file opened for a GET, and what is recorded with it.
type OpenedWith = (Opened, Records);

/// Why a GET whose conditions do not hold is refused.
pub(in crate::serve) const NOT_AS_CONDITIONED: &str =
    "the file is not the version the request's conditions name";

/// The answer to a GET of a file that is open.
fn send(ctx: &Ctx<'_>, name: Name, want: Want, opened: OpenedWith) -> Outcome {
    let (found, mut records) = opened;
    want.amend(&mut records.props);
    let version = found.version;
    let selection = match want.part() {
        Some(number) => {
            // That part's checksum alone is its answer's.
            records.recorded.part_checksums = records
                .recorded
                .part_checksums
                .take()
                .and_then(|all| all.into_iter().nth((number as usize).checked_sub(1)?))
                .map(|one| vec![one]);
            part_of(
                want.select(&version),
                number,
                &version,
                &records.recorded.part_sizes,
            )
        }
        None => Ok(want.select(&version)),
    };
    let selection = match selection {
        Ok(selection) => selection,
        Err(failure) => return refuse(ctx, "GET", name.as_str(), failure, Next::Request),
    };
    if version.crc.is_none() {
        if want.needs_checksum(&selection) {
            let checksumming = Checksumming {
                name,
                want,
                found,
                records,
            };
            let step = SendStep::Checksum(Box::new(checksumming));
            return Outcome::pending(Job::send(step));
        }
        ctx.store.checksum_later(&found);
    }
    let info = found.version.info;
    let (start, len, part, body) = match selection {
        Selection::NotModified => return Outcome::answer(Reply::NotModified { version }),
        Selection::PreconditionFailed => {
            let failure = Failure::new(ErrorKind::PreconditionFailed, NOT_AS_CONDITIONED);
            return refuse(ctx, "GET", name.as_str(), failure, Next::Request);
        }
        Selection::Unsatisfiable => {
            return Outcome::answer(Reply::Unsatisfiable { size: info.size });
        }
        Selection::Bytes {
            start,
            len,
            part,
            body,
        } => (start, len, part, body),
    };
    let reply = Reply::File {
        version,
        start,
        len,
        part,
        props: records.props,
        checksum: records.recorded.checksum,
        parts: match (records.recorded.part_sizes, records.recorded.part_checksums) {
            (None, None) => None,
            (sizes, checksums) => Some(Box::new(PartsKept { sizes, checksums })),
        },
    };
    if !body || len == 0 {
        debug!("#{} GET {name} headers only", ctx.client);
        return Outcome::answer(reply);
    }
    let send = Send::new(found.body, Source::File(name), start, len);
    Outcome::new(reply, Next::Send(send))
}

/// The bytes of part `number` of `version`, where `selection` sends any:
/// a file uploaded in parts (its MD5 tag counts them: S3's multipart) has
/// those, whose sizes were recorded with it; any other file is its one
/// part.
///
/// # Errors
/// No part of that number (400, [`NO_SUCH_PART`]); the sizes of its
/// parts not recorded (400, [`PART_SIZES_UNKNOWN`]).
fn part_of(
    selection: Selection,
    number: u32,
    version: &Version,
    sizes: &Option<Vec<u64>>,
) -> Result<Selection, Failure> {
    let Selection::Bytes { body, .. } = selection else {
        return Ok(selection);
    };
    let refused = |why| Failure::new(ErrorKind::BadRequest, why);
    let size = version.info.size;
    let (start, len) = match (version.md5.and_then(|tag| tag.parts), sizes) {
        (None, _) if number == 1 => (0, size),
        (None, _) => return Err(refused(NO_SUCH_PART)),
        (Some(count), _) if number > count => return Err(refused(NO_SUCH_PART)),
        (Some(count), Some(sizes))
            if sizes.len() == count as usize && sizes.iter().sum::<u64>() == size =>
        {
            let before = number as usize - 1;
            (sizes[..before].iter().sum(), sizes[before])
        }
        (Some(_), _) => return Err(refused(PART_SIZES_UNKNOWN)),
    };
    Ok(Selection::Bytes {
        start,
        len,
        part: len > 0,
        body,
    })
}

/// Why a GET of a part by number is refused: the file has none of it.
pub const NO_SUCH_PART: &str = "the object has no part of that number";
/// Why a GET of a part by number is refused: the file was uploaded in
/// parts, whose sizes were not kept with it (a file system without
/// extended attributes, or parts of too many sizes to record).
pub const PART_SIZES_UNKNOWN: &str = "the sizes of this object's parts were not kept";

/// `found` with its CRC-32C, computed from its bytes (on a checksum
/// thread: see [`SendStep::Checksum`]) if it was not known.
pub(in crate::serve) fn with_checksum(
    ctx: &Ctx<'_>,
    mut found: Opened,
) -> Result<Opened, StorageError> {
    if found.version.crc.is_none() {
        found.version.crc = Some(ctx.store.checksum(&found)?);
    }
    Ok(found)
}

/// An open file whose answer states a CRC-32C nobody knows yet
/// ([`SendStep::Checksum`]).
pub struct Checksumming {
    /// The file's name.
    pub(in crate::serve) name: Name,
    /// Which bytes of it.
    want: Want,
    /// The file.
    found: Opened,
    /// What is recorded with it that the answer tells.
    records: Records,
}

/// [`SendStep::Checksum`] (on a checksum thread): the CRC-32C computed
/// from the file's bytes, then the answer.
pub(in crate::serve) fn checksummed(ctx: &Ctx<'_>, checksumming: Checksumming) -> Outcome {
    let Checksumming {
        name,
        want,
        found,
        records,
    } = checksumming;
    match with_checksum(ctx, found) {
        Ok(found) => send(ctx, name, want, (found, records)),
        Err(err) => storage_refusal(ctx, "GET", name.as_str(), err),
    }
}

/// The answer to a GET of a file that could not be opened.
fn not_sent(ctx: &Ctx<'_>, name: Name, err: StorageError) -> Outcome {
    match err {
        StorageError::IsDirectory => {
            debug!("#{} GET {name}: is a directory", ctx.client);
            Outcome::answer(Reply::Directory { name })
        }
        err => storage_refusal(ctx, "GET", name.as_str(), err),
    }
}

/// A GET body or a listing has gone out: its file is closed (by the pool
/// where that is a round trip) and the next request is welcome.
pub fn sent(client: u64, send: Send) -> Next {
    if matches!(send.source, Source::Archive(_)) {
        return super::archive::resume(send);
    }
    debug!(
        "#{client} {} {} bytes {:.3}s",
        send.source,
        send.len,
        send.started.elapsed().as_secs_f64()
    );
    match crate::serve::closing_job(send) {
        Some(close) => Next::Pool(close),
        None => Next::Request,
    }
}
