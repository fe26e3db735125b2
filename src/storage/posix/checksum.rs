//! The CRC-32C of every stored file, so downloads can be verified too.
//!
//! An upload's CRC is computed while its bytes arrive and recorded on the
//! temp file, in the extended attribute `user.ferry.crc32c`, before the
//! rename: content and checksum appear together. The record also holds the
//! file's size and modification time, so a file changed behind ferry's back
//! is noticed and its CRC computed afresh (and recorded again) rather than
//! reported wrongly. (A same-size rewrite within one tick of the file
//! system's clock, a few milliseconds, would go unnoticed.) Where extended
//! attributes are not supported, the CRC is computed on each request.
//!
//! A CRC computed for a download is recorded too, except in read-only mode
//! (which writes nothing) and on a file with more than one link: a hard
//! link planted in the root may lead to a file outside it, which ferry
//! reads but must not change.
//!
//! Looking a CRC up ([`Cache::known`]) costs an extended-attribute read at
//! most; computing one ([`Cache::of`]) reads the whole file and is left to
//! the server's checksum threads (`crate::pool::checksums`), never to the I/O
//! pool that opens, STATs and LISTs wait on. A version's CRC is computed
//! once however many ask for it meanwhile, and a version wanted by nobody
//! who waits (a range was served) is queued for those threads once.

use std::collections::{HashMap, HashSet};
use std::ffi::c_ulong;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rustix::fs::Stat;

use super::version_record::{recorded_value, same_version, write_record};
use super::zip_crc;
use crate::formats::hex::CrcHex;
use crate::model::Md5Tag;
use crate::wire::page_buf::PageBuf;

const ATTRIBUTE: &str = "user.ferry.crc32c";
/// Where an S3 upload's MD5 is recorded (its `ETag`), in the same form.
const MD5_ATTRIBUTE: &str = "user.ferry.md5";
/// Where the additional checksum an upload was verified against is
/// recorded (S3's `x-amz-checksum-*`: `<algorithm>:<base64>`), in the same
/// form: answered later with the object's other checksums.
const STATED_ATTRIBUTE: &str = "user.ferry.checksum";
/// Read size when a CRC has to be computed from the file.
const CHUNK: usize = 256 * 1024;

/// Records `crc` as the checksum of `file` as `stat` describes it. Best
/// effort: a file system without user extended attributes just does not
/// keep it.
pub(super) fn record_as(file: &File, stat: &Stat, crc: u32) {
    write_record(file, stat, ATTRIBUTE, CrcHex::of(crc).as_str());
}

/// Records `tag` (S3's `ETag`: docs/s3.md "ETags") with `file` as it is
/// now, `"<size> <mtime> <hex>[-N]"`, as [`record_as`] does the CRC-32C.
/// Best effort, as [`record_as`].
pub fn record_md5_tag(file: &File, tag: &Md5Tag) {
    if let Ok(stat) = rustix::fs::fstat(file) {
        record_md5_tag_as(file, &stat, tag);
    }
}

/// As [`record_md5_tag`], for a caller that has `file`'s `stat` as it is
/// now.
pub(super) fn record_md5_tag_as(file: &File, stat: &Stat, tag: &Md5Tag) {
    write_record(file, stat, MD5_ATTRIBUTE, &tag.text());
}

/// Records `stated` (`<algorithm>:<base64>`, the additional checksum the
/// upload was verified against) with `file` as it is now (`stat`), as
/// [`record_md5_tag_as`] does its tag. Best effort, as [`record_as`].
pub(super) fn record_stated_as(file: &File, stat: &Stat, stated: &str) {
    write_record(file, stat, STATED_ATTRIBUTE, stated);
}

/// The additional checksum recorded with `file` (`<algorithm>:<base64>`),
/// if the record matches it as [`recorded`]'s.
pub(super) fn recorded_stated(file: &File, stat: &Stat) -> Option<String> {
    recorded_value(file, stat, STATED_ATTRIBUTE)
}

/// The recorded CRC-32C of `file`, if the record matches its current size
/// and modification time.
fn recorded(file: &File, stat: &Stat) -> Option<u32> {
    u32::from_str_radix(&recorded_value(file, stat, ATTRIBUTE)?, 16).ok()
}

/// The recorded MD5 tag of `file`, if the record matches it as [`recorded`].
pub(super) fn recorded_md5(file: &File, stat: &Stat) -> Option<Md5Tag> {
    Md5Tag::parse(&recorded_value(file, stat, MD5_ATTRIBUTE)?)
}

/// A file's records that still match it, read before its time is changed
/// and written again after ([`Kept::record_again`]): the bytes are the
/// same, so a new time must not cost a new computation, nor S3's ETag.
#[derive(Debug)]
pub(super) struct Kept {
    crc: Option<u32>,
    md5: Option<Md5Tag>,
    stated: Option<String>,
    part_sizes: Option<Vec<u64>>,
    part_checksums: Option<Vec<String>>,
    zip_crc: Option<u32>,
}

impl Kept {
    /// The records of `file` (version `stat`) that match it; none through
    /// a file with other links (which may lie outside the root).
    pub(super) fn of(file: &File, stat: &Stat) -> Kept {
        match stat.st_nlink == 1 {
            true => Kept {
                crc: recorded(file, stat),
                md5: recorded_md5(file, stat),
                stated: recorded_stated(file, stat),
                part_sizes: super::part_sizes::recorded(file, stat),
                part_checksums: super::part_sizes::recorded_checksums(file, stat),
                zip_crc: zip_crc::recorded(file, stat),
            },
            false => Kept {
                crc: None,
                md5: None,
                stated: None,
                part_sizes: None,
                part_checksums: None,
                zip_crc: None,
            },
        }
    }

    /// Writes them again for `file` as it is now.
    pub(super) fn record_again(&self, file: &File) {
        let Ok(stat) = rustix::fs::fstat(file) else {
            return;
        };
        if let Some(crc) = self.crc {
            record_as(file, &stat, crc);
        }
        if let Some(tag) = &self.md5 {
            record_md5_tag_as(file, &stat, tag);
        }
        if let Some(stated) = &self.stated {
            record_stated_as(file, &stat, stated);
        }
        if let Some(sizes) = &self.part_sizes {
            super::part_sizes::record_as(file, &stat, sizes);
        }
        if let Some(checksums) = &self.part_checksums {
            super::part_sizes::record_checksums_as(file, &stat, checksums);
        }
        if let Some(crc) = self.zip_crc {
            zip_crc::write(file, &stat, crc);
        }
    }
}

/// What is known of a file version: its CRC-32C, and its MD5 tag if one
/// was recorded (looked up with the CRC, so a hot file costs no
/// extended-attribute read for either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tags {
    /// The CRC-32C of its bytes.
    pub crc: u32,
    /// Its recorded MD5 tag, if any.
    pub md5: Option<Md5Tag>,
}

/// Checksums of files served lately, keyed by what identifies a version of
/// a file (device, inode, size, modification and change times), so a hot
/// file costs no extended-attribute read per request. Bounded: cleared
/// when full. The change time is in the key because the other four can
/// repeat: a file deleted frees its inode for the next one created, and
/// a client that sets times (an archive's, a sync's) can give the new
/// file the old one's size and time; its change time is when it was made.
/// A file deleted by ferry is forgotten at once ([`Cache::forget`]).
///
/// Shared by the checksum threads: a version whose CRC one thread is
/// computing is not computed again by another; that one waits for the
/// result instead, so a burst of first downloads of a large file reads it
/// once.
#[derive(Debug, Default)]
pub(super) struct Cache {
    state: Mutex<Known>,
    computed: Condvar,
    /// CRCs computed from files' bytes (`ferry_checksum_computations_total`).
    computations: AtomicU64,
    /// The server is stopping: a computation under way gives up at its
    /// next read rather than hold the shutdown for a whole file.
    stopping: AtomicBool,
}

#[derive(Debug, Default)]
struct Known {
    // SipHash (std's), not `inode_map.rs`: a version's size and times are
    // a peer's to set (SETSTAT, MFMT), so a peer could choose keys that
    // collide under a hash without a secret.
    crcs: HashMap<Key, Tags>,
    /// Versions whose CRC a thread is computing now.
    computing: HashSet<Key>,
    /// Versions queued for a computation nobody waits for.
    wanted: HashSet<Key>,
}

/// Nanoseconds are a `c_ulong` in `Stat`: 32 bits on 32-bit ARM.
type Key = (u64, u64, i64, (i64, c_ulong), (i64, c_ulong));

/// Entries kept before the cache starts over.
const CACHE_ENTRIES: usize = 16 * 1024;

fn key(stat: &Stat) -> Key {
    (
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        (stat.st_mtime, stat.st_mtime_nsec),
        (stat.st_ctime, stat.st_ctime_nsec),
    )
}

impl Cache {
    /// The CRC-32C (and MD5 tag) of the file version `stat` describes,
    /// if cached.
    pub(super) fn cached(&self, stat: &Stat) -> Option<Tags> {
        self.lock().crcs.get(&key(stat)).copied()
    }

    /// The CRC-32C (and MD5 tag) of `file` (version `stat`) if it is
    /// cached or recorded: two extended-attribute reads at most, never
    /// the file's bytes.
    pub(super) fn known(&self, file: &File, stat: &Stat) -> Option<Tags> {
        if let Some(tags) = self.cached(stat) {
            return Some(tags);
        }
        let tags = Tags {
            crc: recorded(file, stat)?,
            md5: recorded_md5(file, stat),
        };
        self.remember(key(stat), tags);
        Some(tags)
    }

    /// Marks version `stat` as queued for a computation nobody waits for;
    /// false if that is needless (its CRC is known, being computed, or
    /// queued already).
    pub(super) fn want(&self, stat: &Stat) -> bool {
        let key = key(stat);
        let mut known = self.lock();
        if known.crcs.contains_key(&key) || known.computing.contains(&key) {
            return false;
        }
        known.wanted.insert(key)
    }

    /// Forgets version `stat` (a file deleted): its inode may be the next
    /// file's.
    pub(super) fn forget(&self, stat: &Stat) {
        let mut known = self.lock();
        known.crcs.remove(&key(stat));
        known.wanted.remove(&key(stat));
    }

    /// Forgets that version `stat` was queued (the queue was full).
    pub(super) fn unwant(&self, stat: &Stat) {
        self.lock().wanted.remove(&key(stat));
    }

    /// CRCs computed from files' bytes so far.
    pub(super) fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    /// Makes computations under way give up, and later ones fail at once.
    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// The CRC-32C of `file`: cached, recorded, or else computed (reading
    /// the whole file, which blocks for as long as that takes) and recorded
    /// for next time, if `may_record` (not in read-only mode, and never
    /// through a file with other links, which may lie outside the root).
    /// `before_computing` runs before a computation (a test hook).
    ///
    /// # Errors
    /// Reading the file fails, or the server is stopping.
    pub(super) fn of(
        &self,
        file: &File,
        stat: &Stat,
        may_record: bool,
        before_computing: impl FnOnce(),
    ) -> std::io::Result<u32> {
        let version = key(stat);
        let mut known = self.lock();
        loop {
            if let Some(tags) = known.crcs.get(&version) {
                return Ok(tags.crc);
            }
            if known.computing.insert(version) {
                break;
            }
            known = self.computed.wait(known).unwrap_or_else(|e| e.into_inner());
        }
        drop(known);
        let result = match recorded(file, stat) {
            Some(crc) => Ok(crc),
            None => {
                before_computing();
                self.computations.fetch_add(1, Ordering::Relaxed);
                let size = u64::try_from(stat.st_size).unwrap_or(0);
                compute_unless(file, 0, size, 0, &self.stopping).inspect(|&crc| {
                    // Recorded only for the version it was computed from:
                    // a file written in place meanwhile (by other means)
                    // may have given it bytes of both, or fewer than it
                    // has now. (Remembered for that version still: those
                    // who wait for it hold its stat, and are answered.)
                    let unchanged =
                        || rustix::fs::fstat(file).is_ok_and(|now| same_version(&now, stat));
                    if may_record && unchanged() {
                        record_as(file, stat, crc);
                    }
                })
            }
        };
        let mut known = self.lock();
        known.computing.remove(&version);
        known.wanted.remove(&version);
        drop(known);
        if let Ok(crc) = result {
            let md5 = recorded_md5(file, stat);
            self.remember(version, Tags { crc, md5 });
        }
        self.computed.notify_all();
        result
    }

    fn remember(&self, key: Key, tags: Tags) {
        let mut known = self.lock();
        if known.crcs.len() >= CACHE_ENTRIES {
            known.crcs.clear();
        }
        known.crcs.insert(key, tags);
    }

    fn lock(&self) -> MutexGuard<'_, Known> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Carries on CRC-32C `crc` of the first `from` bytes of `file` over the
/// bytes up to `to`: the CRC of the first `to` bytes.
///
/// # Errors
/// Reading fails, or the file is shorter than `to`.
pub(super) fn compute_from(file: &File, from: u64, to: u64, crc: u32) -> std::io::Result<u32> {
    compute_unless(file, from, to, crc, &AtomicBool::new(false))
}

/// [`compute_from`], giving up between reads once `stop` is set.
///
/// # Errors
/// As [`compute_from`], and `Interrupted` once `stop` is set.
fn compute_unless(
    file: &File,
    from: u64,
    to: u64,
    crc: u32,
    stop: &AtomicBool,
) -> std::io::Result<u32> {
    let left = to.saturating_sub(from);
    // Page-aligned: the kernel's copy into it is the dearest part.
    let mut buf = PageBuf::zeroed(CHUNK.min(usize::try_from(left).unwrap_or(CHUNK)).max(1));
    let buf = buf.as_mut_slice();
    let mut crc = crc;
    let mut offset = from;
    while offset < to {
        if stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the server is stopping",
            ));
        }
        let want = buf
            .len()
            .min(usize::try_from(to - offset).unwrap_or(usize::MAX));
        let n = file.read_at(&mut buf[..want], offset)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while its checksum was computed",
            ));
        }
        crc = crate::formats::castagnoli::append(crc, &buf[..n]);
        offset += n as u64;
    }
    Ok(crc)
}

/// Work for the checksum threads that a connection will want soon: an
/// archive's next member read from the disk while one is sent, for a
/// zip's CRC-32 or only into the page cache (see `serve/archive.rs`). It
/// brings its own way to hand a result over.
pub type Ahead = Box<dyn FnOnce() + Send>;

/// A CRC-32C computation nobody waits for: the file (a descriptor of
/// it, which only storage reads) whose checksum
/// [`Storage::compute_later`](super::Storage::compute_later) computes
/// and records when a checksum thread is free.
pub struct LaterCrc(pub(super) Arc<File>);

/// Where work for the checksum threads that no connection waits for yet
/// is queued (the server's checksum threads): a CRC computation nobody
/// waits for ([`LaterCrc`]), or [`Ahead`] work. Each says whether it was
/// queued (false: the queue is full or closed).
pub struct Later {
    later: Box<dyn Fn(LaterCrc) -> bool + Send + Sync>,
    ahead: Box<dyn Fn(Ahead) -> bool + Send + Sync>,
}

impl Later {
    /// A queue that hands each computation to `queue` and each piece of
    /// work wanted soon to `ahead`.
    pub fn new(
        queue: impl Fn(LaterCrc) -> bool + Send + Sync + 'static,
        ahead: impl Fn(Ahead) -> bool + Send + Sync + 'static,
    ) -> Later {
        Later {
            later: Box::new(queue),
            ahead: Box::new(ahead),
        }
    }

    pub(super) fn queue(&self, file: Arc<File>) -> bool {
        (self.later)(LaterCrc(file))
    }

    pub(super) fn ahead(&self, work: Ahead) -> bool {
        (self.ahead)(work)
    }
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Later")
    }
}

#[cfg(test)]
mod tests {
    use super::{Cache, Tags, key};

    /// A file made where a deleted one was (its inode reused, its size
    /// and time set alike by a client) is another version: its change
    /// time tells it apart; a version forgotten is not known.
    #[test]
    fn a_version_is_told_by_its_change_time_and_forgotten_when_deleted() {
        let dir = std::env::temp_dir();
        let file = tempfile_in(&dir);
        let old = rustix::fs::fstat(&file).unwrap();
        let cache = Cache::default();
        let tags = Tags { crc: 7, md5: None };
        cache.remember(key(&old), tags);
        assert_eq!(cache.cached(&old), Some(tags));
        let mut reborn = old;
        reborn.st_ctime_nsec = (old.st_ctime_nsec + 1) % 1_000_000_000;
        reborn.st_ctime += i64::from(reborn.st_ctime_nsec == 0);
        assert_eq!(cache.cached(&reborn), None);
        cache.forget(&old);
        assert_eq!(cache.cached(&old), None);
    }

    /// The CRC's record is the eight lower-case hex digits `format!`
    /// would write, every digit's place tried.
    #[test]
    fn a_crc_is_recorded_as_eight_hex_digits() {
        let file = tempfile_in(&std::env::temp_dir());
        let stat = rustix::fs::fstat(&file).unwrap();
        for crc in [0, 1, 0xf, 0xa0b1_c2d3, 0x1234_5678, 0xdead_beef, u32::MAX] {
            super::record_as(&file, &stat, crc);
            let Some(value) = super::recorded_value(&file, &stat, super::ATTRIBUTE) else {
                return; // a file system without user extended attributes
            };
            assert_eq!(value, format!("{crc:08x}"));
        }
    }

    fn tempfile_in(dir: &std::path::Path) -> std::fs::File {
        let path = dir.join(format!("ferry-checksum-test-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        file
    }
}
