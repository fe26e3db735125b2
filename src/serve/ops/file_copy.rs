//! Serving COPY of a file: its bytes staged as an upload to the copy's
//! name and committed as a PUT is, and the span of the source a copy
//! takes (CopyObject's and UploadPartCopy's judgement, one home).

use log::debug;

use super::files::source_of;
use super::folder_copy::CopyFolder;
use super::get::NOT_AS_CONDITIONED;
use crate::access::{Owner, Who};
use crate::model::NewProps;
use crate::model::{Occupant, Version};
use crate::name::{Name, Prefix};
use crate::serve::commit::{Commit, commit_now};
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::Choose;
use crate::serve::{
    CopyTime, Ctx, ErrorKind, Failure, Folders, Next, Outcome, Selection, check_size, check_space,
    refuse, user_of,
};
use crate::storage::{Open, StorageError, Upload};

/// Copy file `from` to `to`, as an upload of its bytes would be stored.
#[derive(Debug)]
pub struct CopyFile {
    /// File to copy.
    pub from: Name,
    /// The copy's name.
    pub to: Name,
    /// Replace a file at `to`; `false` refuses, touching nothing.
    pub overwrite: bool,
    /// Whether `to`'s parent folder must exist ([`Folders::Explicit`],
    /// WebDAV's) or is made (S3's keys, [`Folders::Keys`]: then what has
    /// `to`'s name is replaced as a PUT replaces it, a folder never).
    pub folders: Folders,
    /// The copy's modification time.
    pub mtime: CopyTime,
    /// Dead properties of one namespace the copy has instead of the
    /// source's (S3's `REPLACE`); `None`: all of the source's, as WebDAV's
    /// COPY (RFC 4918 9.8.2).
    pub props: Option<Box<NewProps>>,
    /// A dialect's conditions on the source's version (S3's
    /// `x-amz-copy-source-if-*`), judged once it is open: anything but its
    /// whole bytes refuses the copy (412).
    pub source: Option<Box<dyn Choose>>,
    /// The request's preconditions and the lock tokens it submits, judged
    /// again at the commit: kept from its conditions ([`Operate::keep`]),
    /// not set by a codec.
    pub kept: Option<Box<Conditions>>,
    /// Where `from` turns out to be a folder (WebDAV's COPY of a name
    /// without its `/`): everything in it (`Depth: infinity`), or the
    /// folder alone (`Depth: 0`), as [`CopyFolder::deep`]; `None`: a
    /// depth a folder's COPY does not take (`1`), refused (400) there.
    pub deep: Option<bool>,
}

impl Operate for CopyFile {
    fn aim(&self) -> Aim<'_> {
        let (from, to) = (self.from.as_str(), self.to.as_str());
        Aim::onto(from, to, Needs::Copy(from, to))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.kept = conditions.at_commit();
    }

    /// On the pool, the bytes of file `from` staged as an upload to `to`
    /// (whose parent folder must exist; what has the name is replaced only
    /// if `overwrite`, a folder removed first as DELETE would), their
    /// CRC-32C computed as they go and checked against the one recorded
    /// for `from` (`Store::stage_copy`), then committed as a PUT is
    /// (hooks, the checksum record, 201 or 204). Written for the read-only
    /// mode like PUT; needs read on `from` and write on `to`
    /// (`access.rs`). A name is not copied onto itself (RFC 4918 9.8.5:
    /// 403). A dialect's conditions on the source (`source`) are judged
    /// on the version opened, the one copied.
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        if self.from == self.to {
            let failure = Failure::new(ErrorKind::Forbidden, "source and destination are the same");
            return refuse(ctx, "COPY", self.from.as_str(), failure, Next::Request);
        }
        let user = user_of(ctx, &who);
        Outcome::on_pool(move |ctx| copy(ctx, who, user, self))
    }
}

fn copy(ctx: &Ctx<'_>, who: Who, user: Option<Owner>, op: CopyFile) -> Outcome {
    let CopyFile {
        from,
        to,
        overwrite,
        folders,
        mtime,
        props,
        source,
        kept,
        deep,
    } = op;
    let found = source_of(ctx, &from, folders);
    if matches!(found, Some(Ok(Occupant::Folder))) {
        let Some(deep) = deep else {
            let depth = Failure::new(
                ErrorKind::BadRequest,
                "a folder's COPY has Depth 0 or infinity",
            );
            return refuse(ctx, "COPY", from.as_str(), depth, Next::Request);
        };
        let (from, to) = (Prefix::of_folder(&from), Prefix::of_folder(&to));
        let folder = CopyFolder {
            from,
            to,
            deep,
            overwrite,
            preconditions: kept,
        };
        return folder.serve(ctx, who);
    }
    let started = std::time::Instant::now();
    if let Err(outcome) = super::folders::judge_file_source(ctx, "COPY", &from, found) {
        return *outcome;
    }
    // S3's keys: the upload replaces a file as a PUT does, and meets a
    // folder of the name at its commit (a conflict; never removed).
    let replaced = match folders {
        Folders::Keys => false,
        _ => match super::folder_removal::clear(
            ctx,
            (&who, "COPY"),
            &to,
            (overwrite, true),
            kept.as_deref(),
        ) {
            Ok(replaced) => replaced,
            Err(outcome) => return *outcome,
        },
    };
    match stage_copy(ctx, (&who, &from, source.as_deref()), &to, folders) {
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
            let mut commit = Commit::whole(upload, (to, size, crc), started, user);
            commit.preconditions = kept;
            commit_now(ctx, commit)
        }
        Err(failure) => refuse(
            ctx,
            "COPY",
            &format!("{from} -> {to}"),
            failure,
            Next::Request,
        ),
    }
}

/// A copy staged: its upload, size, CRC-32C and the source's time.
type Staged = (Upload, u64, u32, i64);

/// Stages the bytes of `from` as an upload to `to` (see [`copy`]), if
/// `source`'s conditions hold of the version opened, within the size
/// limit and the room: the upload, its size, CRC-32C and the source's
/// time.
fn stage_copy(
    ctx: &Ctx<'_>,
    (who, from, source): (&Who, &Name, Option<&dyn Choose>),
    to: &Name,
    f: Folders,
) -> Result<Staged, Failure> {
    let opened = ctx
        .store
        .open(from, Open::Read)?
        .ok_or(StorageError::NotFound)?;
    let found = &opened.version;
    if let Some(source) = source {
        source_span(source, found)?;
    }
    check_space(ctx, who, to.as_str(), found.info.size)?;
    // Judged before a byte is copied: the copy is the version opened, of
    // this size (else it fails as changed).
    check_size(ctx.config, found.info.size)?;
    let (upload, size, crc) = ctx.store.stage_copy(from, &opened, to, f)?;
    Ok((upload, size, crc, found.info.mtime))
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
pub(in crate::serve) fn source_span(
    source: &dyn Choose,
    found: &Version,
) -> Result<(u64, u64), Failure> {
    match source.choose(found) {
        Selection::Bytes { start, len, .. } => Ok((start, len)),
        Selection::NotModified | Selection::PreconditionFailed => Err(Failure::new(
            ErrorKind::PreconditionFailed,
            NOT_AS_CONDITIONED,
        )),
        Selection::Unsatisfiable => Err(Failure::new(ErrorKind::BadRequest, SOURCE_RANGE)),
    }
}
