//! When one `syncfs` makes a group-commit batch durable (`flush.rs`):
//! on which file systems, from how many files of one device, on which
//! kernels; and that `syncfs` itself.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use rustix::io::Errno;

use super::unflushed::Key;

/// `statfs` magic numbers of file systems whose `syncfs` makes every
/// file's bytes and every directory entry on them durable in one journal
/// commit: ext4 (and ext2/3, served by its driver) and XFS (see
/// `DirFlusher::by_volume`).
pub(super) const VOLUME_SYNC_FILE_SYSTEMS: [u64; 2] = [0xef53, 0x5846_5342];

/// Files of one device a batch holds before it is one `syncfs`: a lone
/// file's `fdatasync`, or a batch of directories alone (whose changes
/// share the journal's running transaction: the first `fsync` commits it,
/// the others find it committed), costs one journal commit either way,
/// where a `syncfs` also writes back every metadata block the journal has
/// checkpointed meanwhile: one connection's durable PUTs on a slow-flush
/// disk ran at 0.66x the rate of per-file flushes with a `syncfs` per
/// batch (docs/reliability.md, "What `--fsync` costs").
const VOLUME_SYNC_FILES: usize = 2;

/// Whether this kernel's `syncfs` reports writeback errors (Linux 5.8 and
/// later; before, it could succeed over data that never reached the
/// disk, which an `fdatasync` would have reported). Read once, when a
/// root is opened.
pub(super) fn syncfs_reports_errors() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (5, 8)
}

/// `syncfs` once for each device of a batch's `files` that holds at least
/// [`VOLUME_SYNC_FILES`] of its files and whose file system makes that
/// enough ([`VOLUME_SYNC_FILE_SYSTEMS`]): the devices it synced (failed
/// or not: a failure fails the batch, noted in `failure`).
pub(super) fn sync_volumes(files: &HashMap<Key, OwnedFd>, failure: &mut Option<Errno>) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut synced = Vec::new();
    for ((dev, _), fd) in files {
        if seen.contains(dev) {
            continue;
        }
        seen.push(*dev);
        let count = files.keys().filter(|(d, _)| d == dev).count();
        if count < VOLUME_SYNC_FILES {
            continue;
        }
        let kind = rustix::fs::fstatfs(fd).map_or(0, |fs| fs.f_type as u64);
        if VOLUME_SYNC_FILE_SYSTEMS.contains(&kind) {
            if let Err(errno) = rustix::fs::syncfs(fd) {
                failure.get_or_insert(errno);
            }
            synced.push(*dev);
        }
    }
    synced
}
