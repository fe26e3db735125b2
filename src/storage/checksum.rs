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
//! the server's checksum threads (`crate::checksums`), never to the I/O
//! pool that opens, STATs and LISTs wait on. A version's CRC is computed
//! once however many ask for it meanwhile, and a version wanted by nobody
//! who waits (a range was served) is queued for those threads once.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rustix::fs::{Stat, XattrFlags};

const ATTRIBUTE: &str = "user.ferry.crc32c";
/// Where an S3 upload's MD5 is recorded (its `ETag`), in the same form.
const MD5_ATTRIBUTE: &str = "user.ferry.md5";
/// Read size when a CRC has to be computed from the file.
const CHUNK: usize = 256 * 1024;

/// `"<size> <mtime seconds>.<nanoseconds> <crc32c hex>"`.
fn record_text(stat: &Stat, crc: u32) -> String {
    format!(
        "{} {}.{} {crc:08x}",
        stat.st_size, stat.st_mtime, stat.st_mtime_nsec
    )
}

/// Records `crc` as the checksum of `file` as it is now. Best effort: a
/// file system without user extended attributes just does not keep it.
pub(super) fn record(file: &File, crc: u32) {
    if let Ok(stat) = rustix::fs::fstat(file) {
        let text = record_text(&stat, crc);
        let _ = rustix::fs::fsetxattr(file, ATTRIBUTE, text.as_bytes(), XattrFlags::empty());
    }
}

/// Records `md5` as the MD5 of `file` as it is now, as [`record`] does
/// the CRC-32C (read back by the S3 answers of a later slice: docs/s3.md);
/// a multipart upload's, of its `parts`' MD5s, as S3's ETag text of one
/// (`<hex>-<parts>`).
pub(super) fn record_md5(file: &File, md5: &[u8; 16], parts: Option<u32>) {
    if let Ok(stat) = rustix::fs::fstat(file) {
        let mut hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
        if let Some(parts) = parts {
            hex = format!("{hex}-{parts}");
        }
        let text = format!(
            "{} {}.{} {hex}",
            stat.st_size, stat.st_mtime, stat.st_mtime_nsec
        );
        let _ = rustix::fs::fsetxattr(file, MD5_ATTRIBUTE, text.as_bytes(), XattrFlags::empty());
    }
}

/// The recorded CRC-32C of `file`, if the record matches its current size
/// and modification time.
fn recorded(file: &File, stat: &Stat) -> Option<u32> {
    let mut buf = [0u8; 64];
    let len = rustix::fs::fgetxattr(file, ATTRIBUTE, &mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    let (prefix, crc) = text.rsplit_once(' ')?;
    if prefix != record_text(stat, 0).rsplit_once(' ')?.0 {
        return None;
    }
    u32::from_str_radix(crc, 16).ok()
}

/// Checksums of files served lately, keyed by what identifies a version of
/// a file (device, inode, size, modification time), so a hot file costs no
/// extended-attribute read per request. Bounded: cleared when full.
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
    crcs: HashMap<Key, u32>,
    /// Versions whose CRC a thread is computing now.
    computing: HashSet<Key>,
    /// Versions queued for a computation nobody waits for.
    wanted: HashSet<Key>,
}

type Key = (u64, u64, i64, i64, u64);

/// Entries kept before the cache starts over.
const CACHE_ENTRIES: usize = 16 * 1024;

fn key(stat: &Stat) -> Key {
    (
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime,
        stat.st_mtime_nsec,
    )
}

impl Cache {
    /// The CRC-32C of the file version `stat` describes, if cached.
    pub(super) fn cached(&self, stat: &Stat) -> Option<u32> {
        self.lock().crcs.get(&key(stat)).copied()
    }

    /// The CRC-32C of `file` (version `stat`) if it is cached or recorded:
    /// one extended-attribute read at most, never the file's bytes.
    pub(super) fn known(&self, file: &File, stat: &Stat) -> Option<u32> {
        if let Some(crc) = self.cached(stat) {
            return Some(crc);
        }
        let crc = recorded(file, stat)?;
        self.remember(key(stat), crc);
        Some(crc)
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
        let key = key(stat);
        let mut known = self.lock();
        loop {
            if let Some(&crc) = known.crcs.get(&key) {
                return Ok(crc);
            }
            if known.computing.insert(key) {
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
                    if may_record {
                        record(file, crc);
                    }
                })
            }
        };
        let mut known = self.lock();
        known.computing.remove(&key);
        known.wanted.remove(&key);
        drop(known);
        if let Ok(crc) = result {
            self.remember(key, crc);
        }
        self.computed.notify_all();
        result
    }

    fn remember(&self, key: Key, crc: u32) {
        let mut known = self.lock();
        if known.crcs.len() >= CACHE_ENTRIES {
            known.crcs.clear();
        }
        known.crcs.insert(key, crc);
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
    let mut buf = vec![0; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK)).max(1)];
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
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        offset += n as u64;
    }
    Ok(crc)
}

/// Where a CRC computation nobody waits for is queued (the server's
/// checksum threads): takes a descriptor of the file, and says whether it
/// was queued (false: the queue is full or closed).
pub struct Later(Box<dyn Fn(File) -> bool + Send + Sync>);

impl Later {
    /// A queue that hands each file to `queue`.
    pub fn new(queue: impl Fn(File) -> bool + Send + Sync + 'static) -> Later {
        Later(Box::new(queue))
    }

    pub(super) fn queue(&self, file: File) -> bool {
        (self.0)(file)
    }
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Later")
    }
}
