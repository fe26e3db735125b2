//! Room for a write, one home for both rules every protocol's writes
//! pass: the disk reserve (`--min-free`, [`check_room`]) and the quotas
//! ([`check_quota`]), judged together where a write's size is known
//! ([`check_space`]).
//!
//! The quota rule: a write of `size` more
//! bytes (and a file) is refused before its bytes are taken where it
//! would pass the quota of the token writing (the tokens file's
//! `quota:`) or of any folder above its name (`--quota`), as the ledger
//! counts their use (`storage/usage.rs`). Judged on the pool (the ledger
//! is on the disk, shared with other nodes), beside the reserve
//! ([`super::check_room`]), at the same call sites.
//!
//! A write is judged by what it adds, before what it replaces is taken
//! off: at a quota's edge, replacing a file needs room for both for a
//! moment, as it does on the disk.

use super::{Ctx, ErrorKind, Failure};
use crate::access::Who;
use crate::access::quota::{FolderQuota, Quota};
use crate::config::MinFree;
use crate::name::Name;
use crate::storage::{Account, Usage};
use crate::storage::{Space, Storage, StorageError};

/// The disk reserve (`--min-free`): one home for the rule, checked on the
/// pool (it asks the file system) before a write's `size` bytes are
/// taken: a write that would leave the root's file system with less than
/// the reserve free is refused, so logs, the system and crash recovery
/// keep their room. A delete needs no room and is never refused for it.
/// With no reserve (`--min-free 0`) nothing is asked: a full disk is then
/// the file system's `ENOSPC`, answered as every storage failure.
///
/// # Errors
/// 507 where the write does not fit above the reserve; the file system
/// could not be asked (a storage failure).
pub(super) fn check_room(ctx: &Ctx<'_>, size: u64) -> Result<(), Failure> {
    if ctx.config.min_free.is_off() {
        return Ok(());
    }
    let space = ctx.storage.space()?;
    let reserve = ctx.config.min_free.bytes(space.size);
    match fits_above(space.available, reserve, size) {
        true => Ok(()),
        false => Err(Failure::new(
            ErrorKind::NoSpace,
            format!(
                "no room: {size} more bytes would leave less than the {reserve}-byte reserve free (--min-free)"
            ),
        )),
    }
}

/// Room for a write of `size` bytes to `name` by `who`: the reserve
/// ([`check_room`]) and the quotas ([`check_quota`]), judged where the
/// size is known, before its bytes are taken.
///
/// # Errors
/// As either.
pub(super) fn check_space(ctx: &Ctx<'_>, who: &Who, name: &str, size: u64) -> Result<(), Failure> {
    check_room(ctx, size)?;
    check_quota(ctx, (who.name(), who.quota()), name, size)
}

/// The root's space as a client is told it (DF, WebDAV's quota
/// properties): what is free counted above the reserve (`--min-free`),
/// so `0` free means no write fits.
///
/// # Errors
/// The file system could not be asked.
pub(super) fn room(min_free: MinFree, storage: &Storage) -> Result<Space, StorageError> {
    let space = storage.space()?;
    let reserve = min_free.bytes(space.size);
    Ok(Space {
        available: space.available.saturating_sub(reserve),
        ..space
    })
}

/// Whether `size` more bytes leave `reserve` of `available` free.
fn fits_above(available: u64, reserve: u64, size: u64) -> bool {
    available
        .checked_sub(size)
        .is_some_and(|left| left >= reserve)
}

/// The token writing, by name, and its quota (`None`s for a client with
/// no token, or where access control is off).
pub(super) type Writer<'a> = (Option<&'a str>, Option<Quota>);

/// Refuses a write of `size` bytes to `name` by `writer` that would pass a
/// quota (see the module's header).
///
/// # Errors
/// 507 `quota …` naming the quota (the token's own or the folder's, never
/// anything the token could not see); the ledger could not be read (a
/// storage failure).
pub(super) fn check_quota(
    ctx: &Ctx<'_>,
    writer: Writer<'_>,
    name: &str,
    size: u64,
) -> Result<(), Failure> {
    if !ctx.storage.counts_usage() {
        return Ok(());
    }
    if let (Some(token), Some(quota)) = writer {
        let used = ctx.storage.usage(Account::Token(token))?;
        judge(quota, used, size, &format!("token {token}"))?;
    }
    let above = ctx.config.quotas.iter();
    above
        .filter(|folder| name.starts_with(folder.prefix.as_str()))
        .try_for_each(|folder| judge_folder(ctx, folder, size))
}

/// Refuses a move of file `from` to `to` that would pass the quota of a
/// folder it enters (one above `to` but not above `from`): its owner
/// keeps it, so no token's quota changes.
///
/// # Errors
/// As [`check_quota`]; a source that cannot be read is the move's to
/// answer for.
pub(super) fn check_move(ctx: &Ctx<'_>, from: &str, to: &str) -> Result<(), Failure> {
    let entered = |folder: &&FolderQuota| {
        let prefix = folder.prefix.as_str();
        to.starts_with(prefix) && !from.starts_with(prefix)
    };
    if !ctx.storage.counts_usage() || !ctx.config.quotas.iter().any(|f| entered(&f)) {
        return Ok(());
    }
    let Some(size) = Name::new(from.to_owned())
        .ok()
        .and_then(|from| ctx.storage.open_read(&from).ok())
        .map(|found| found.info.size)
    else {
        return Ok(());
    };
    let entering = ctx.config.quotas.iter().filter(entered);
    entering
        .into_iter()
        .try_for_each(|folder| judge_folder(ctx, folder, size))
}

/// Whether `size` more bytes and a file fit in `folder`'s quota.
fn judge_folder(ctx: &Ctx<'_>, folder: &FolderQuota, size: u64) -> Result<(), Failure> {
    let used = ctx.storage.usage(Account::Folder(&folder.prefix))?;
    let whose = match folder.prefix.as_str() {
        "" => "the root".to_owned(),
        prefix => format!("folder {prefix}"),
    };
    judge(folder.limit, used, size, &whose)
}

/// Whether `size` more bytes and a file fit in `quota` beside `used`.
fn judge(quota: Quota, used: Usage, size: u64, whose: &str) -> Result<(), Failure> {
    if let Some(limit) = quota.bytes
        && used.bytes.saturating_add(size) > limit
    {
        return Err(Failure::new(
            ErrorKind::OverQuota,
            format!(
                "quota: {size} more bytes would pass the {limit}-byte quota of {whose} ({} used)",
                used.bytes
            ),
        ));
    }
    if let Some(limit) = quota.files
        && used.files >= limit
    {
        return Err(Failure::new(
            ErrorKind::OverQuota,
            format!("quota: {whose} holds its {limit} files already"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_fits_only_above_the_reserve() {
        assert!(fits_above(100, 40, 60));
        assert!(!fits_above(100, 40, 61));
        assert!(fits_above(100, 0, 100));
        assert!(!fits_above(100, 0, 101));
        // Below the reserve already: not even an empty write.
        assert!(!fits_above(30, 40, 0));
        assert!(!fits_above(0, 0, u64::MAX));
    }

    #[test]
    fn a_write_fits_up_to_the_edge_and_not_past_it() {
        let quota = Quota::parse("100,files=2").unwrap();
        let used = Usage {
            bytes: 60,
            files: 1,
        };
        assert!(judge(quota, used, 40, "t").is_ok());
        let over = judge(quota, used, 41, "token t").unwrap_err();
        assert_eq!(over.kind, ErrorKind::OverQuota);
        assert!(
            over.message.starts_with("quota: 41 more bytes"),
            "{}",
            over.message
        );
        let full = Usage { bytes: 0, files: 2 };
        assert!(judge(quota, full, 0, "t").is_err());
    }
}
