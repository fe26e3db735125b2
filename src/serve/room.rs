//! Room for a write, one home for both rules every protocol's writes
//! pass: the disk reserve (`--min-free`, [`check_room`]) and the quotas
//! ([`check_quota_for`]), judged together where a write's size is known
//! ([`check_space`]).
//!
//! The quota rule: a write of `size` more
//! bytes (and a file) is refused before its bytes are taken where it
//! would pass the quota of the token writing (the tokens file's
//! `quota:`) or of any folder above its name (`--quota`), as the ledger
//! counts their use (`storage/posix/usage.rs`). Judged on the pool (the ledger
//! is on the disk, shared with other nodes), beside the reserve
//! ([`super::check_room`]), at the same call sites.
//!
//! A write is judged by what it adds, before what it replaces is taken
//! off: at a quota's edge, replacing a file needs room for both for a
//! moment, as it does on the disk.

use super::{Ctx, ErrorKind, Failure};
use crate::access::Who;
use crate::access::quota::Quota;
use crate::config::MinFree;
use crate::model::Space;
use crate::model::{Account, Usage};
use crate::storage::{StorageError, Store};

/// The disk reserve (`--min-free`), before a write's `size` bytes are
/// taken: the rule's home is `storage/posix/reserve.rs` (it asks the file
/// system, so on the pool).
///
/// # Errors
/// 507 where the write does not fit above the reserve; the file system
/// could not be asked (a storage failure).
pub(super) fn check_room(ctx: &Ctx<'_>, size: u64) -> Result<(), Failure> {
    Ok(ctx.store.reserve(size)?)
}

/// Room for a write of `size` bytes to `name` by `who`: the reserve
/// ([`check_room`]) and the quotas ([`check_quota_for`]), judged where the
/// size is known, before its bytes are taken.
///
/// # Errors
/// As either.
pub(super) fn check_space(ctx: &Ctx<'_>, who: &Who, name: &str, size: u64) -> Result<(), Failure> {
    check_space_for(ctx, who, name, Usage::one_file(size))
}

/// As [`check_space`], for a write of `more` bytes and files at once (a
/// folder's copy).
///
/// # Errors
/// As [`check_space`].
pub(super) fn check_space_for(
    ctx: &Ctx<'_>,
    who: &Who,
    name: &str,
    more: Usage,
) -> Result<(), Failure> {
    check_room(ctx, more.bytes)?;
    check_quota_for(ctx, (who.name(), who.quota()), name, more)
}

/// Whether a quota could refuse a write to `name` by `who` (a token's or
/// a folder's applies): what is worth asking before a write whose size
/// takes a walk to know (a folder's copy).
pub(super) fn quota_applies(ctx: &Ctx<'_>, who: &Who, name: &str) -> bool {
    ctx.store.counts_usage()
        && (who.quota().is_some() || ctx.config.quotas.iter().any(|q| q.covers(name)))
}

/// The root's space as a client is told it (DF, WebDAV's quota
/// properties): what is free counted above the reserve (`--min-free`),
/// so `0` free means no write fits.
///
/// # Errors
/// The file system could not be asked.
pub(super) fn room(min_free: MinFree, store: &dyn Store) -> Result<Space, StorageError> {
    let space = store.space()?;
    let reserve = min_free.bytes(space.size);
    Ok(Space {
        available: space.available.saturating_sub(reserve),
        ..space
    })
}

/// The room `who` has to write in `folder` (a path from the root, a
/// folder's or a file's; `""` for the root), as DF and WebDAV's quota
/// properties tell it: the disk's room above the reserve ([`room`]),
/// narrowed to the tightest quota a write there counts in (the token's
/// own, a folder's above): then its limit is the size and its use the
/// used, so `df` on a mount shows the quota, not the disk.
///
/// # Errors
/// The file system or the ledger could not be asked.
pub(super) fn room_for(ctx: &Ctx<'_>, who: &Who, folder: &str) -> Result<Space, StorageError> {
    let mut space = room(ctx.config.min_free, ctx.store)?;
    if !ctx.store.counts_usage() {
        return Ok(space);
    }
    if let (Some(token), Some(quota)) = (who.name(), who.quota()) {
        narrow(&mut space, quota, ctx.store.usage(Account::Token(token))?);
    }
    for quota in ctx.config.quotas.iter().filter(|q| q.covers(folder)) {
        let used = ctx.store.usage(Account::Folder(&quota.prefix))?;
        narrow(&mut space, quota.limit, used);
    }
    Ok(space)
}

/// `space` narrowed to `quota` where it leaves less room, with `used` of
/// it in use.
fn narrow(space: &mut Space, quota: Quota, used: Usage) {
    if let Some(limit) = quota.bytes {
        let left = limit.saturating_sub(used.bytes);
        if left < space.available {
            space.available = left;
            space.used = used.bytes;
            space.size = limit;
        }
    }
    if let Some(limit) = quota.files {
        let left = limit.saturating_sub(used.files);
        if left < space.files_available {
            space.files_available = left;
            space.files_used = used.files;
        }
    }
}

/// The token writing, by name, and its quota (`None`s for a client with
/// no token, or where access control is off).
pub(super) type Writer<'a> = (Option<&'a str>, Option<Quota>);

/// Refuses a write of `more` bytes and files to `name` by `writer` that
/// would pass a quota (see the module's header).
///
/// # Errors
/// 507 `quota …` naming the quota (the token's own or the folder's, never
/// anything the token could not see); the ledger could not be read (a
/// storage failure).
fn check_quota_for(
    ctx: &Ctx<'_>,
    writer: Writer<'_>,
    name: &str,
    more: Usage,
) -> Result<(), Failure> {
    if !ctx.store.counts_usage() {
        return Ok(());
    }
    // The storage's ledger keeps the folders' quotas (`--quota`, as
    // configured): it judges them where it reads them.
    match ctx.store.quota_refuses(writer, name, more)? {
        Some(over) => Err(Failure::new(ErrorKind::OverQuota, over.to_string())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_of_the_disk_and_a_quota_is_told() {
        let disk = Space {
            available: 1000,
            used: 5000,
            size: 6000,
            files_available: 50,
            files_used: 9,
        };
        let mut space = disk;
        narrow(
            &mut space,
            Quota::parse("100,files=200").unwrap(),
            Usage {
                bytes: 30,
                files: 4,
            },
        );
        assert_eq!((space.available, space.used, space.size), (70, 30, 100));
        // The disk has fewer files free than the quota: the disk's stay.
        assert_eq!((space.files_available, space.files_used), (50, 9));
        let mut roomy = disk;
        narrow(&mut roomy, Quota::parse("1T").unwrap(), Usage::default());
        assert_eq!(roomy, disk);
    }
}
