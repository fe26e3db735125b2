//! Where a multipart upload's parts are written so that its completion
//! copies next to nothing on a file system without reflinks (ext4): a
//! part of the upload's usual length, its *stride* (set once, by the
//! first part of at least [`SMALLEST_PART`] to begin), or shorter, is
//! written straight into the session's data file at `(N − 1) × stride`,
//! its *slot*, and staged as a 40-byte record in the parts folder instead
//! of a file of its own. Every client measured sends one length for every
//! part but the last (aws CLI, boto3, rclone, minio-go), so the completion
//! of parts 1..=n finds them in place: it copies in only those staged
//! apart, cuts the file to the object's length, and the session's data
//! file is renamed onto the object as every session's is. Any other
//! layout (a gap in the numbers, a short middle part, a part longer than
//! the stride) is assembled into a new file as before (`.object`).
//!
//! The rules that keep every acknowledged part intact:
//!
//! - A slot is written only by the holder of its lock (`.l<N>`, `flock`,
//!   so a crash frees it and another node is excluded too), and only
//!   while part N's record is not a slot record: a part sent again while
//!   its slot holds an acknowledged part is staged apart, in a temp file
//!   renamed onto its number, as every part was before. A part cut
//!   midway leaves its slot unreferenced, never a record.
//! - A slot writer holds a shared `flock` on the data file, taken before
//!   it checks that the session's data file is still the one it opened;
//!   the completion holds an exclusive one from before it reads the parts
//!   until after its rename. So no slot is written while the parts are
//!   chosen and assembled, and nothing is written into an object after
//!   it is published. A writer that finds the data file locked stages
//!   its part apart; a completion that finds a writer is busy (the client
//!   is still at work on a part).
//! - The in-place completion writes only into the slots of the parts it
//!   chose, and cuts the file only where no other slot record lies beyond
//!   the object: a completion that fails after it (a hook says no) leaves
//!   every staged part as it was, to be completed again.
//!
//! ```text
//! .ferry-uploads/<id>.data          the slots: part N at (N - 1) x stride
//! .ferry-uploads/<id>.parts/N       part N's record: offset(8) size(8) md5(16) crc32c(4) "FMS1"
//!                                   [its checksum: `<algorithm>:<base64>`]
//!                                   (or its bytes and footer, staged apart: parts.rs)
//! .ferry-uploads/<id>.parts/.stride a symbolic link to the stride, in decimal (made once, atomically)
//! .ferry-uploads/<id>.parts/.l<N>   slot N's lock file (empty)
//! .ferry-uploads/<id>.parts/.object a completion's object where the parts are not in place
//! ```

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};

use super::StorageError;
use super::flock::{Flock, open_lock_file};
use super::part_footer::{Part, RECORD, RECORD_MARK};
use super::parts_folder::{open_part, parts_name, read_part};
use super::session_files::data_name;

/// A part shorter than this never sets the stride: S3's smallest part but
/// the last (serve's `MIN_PART_SIZE` is this), so a shorter one is the
/// last part, whose length says nothing of the others' (but part 1's).
pub const SMALLEST_PART: u64 = 5 * 1024 * 1024;
/// No slot ends beyond this (S3's largest object, 5 TiB), whatever the
/// part's number: a file system's largest file is not far above it.
const SLOTS_END: u64 = 5 << 40;
/// The stride's link, in the parts folder.
const STRIDE: &str = ".stride";
/// A completion's object assembled apart, in the parts folder.
const OBJECT: &str = ".object";
/// The buffer bytes are copied through where the kernel cannot copy.
const COPY_BUFFER: usize = 256 * 1024;

/// A part being written into its slot: the slot's lock and a shared lock
/// on the data file are held until it is dropped (the caller's file is
/// the data file, opened for this part).
#[derive(Debug)]
pub(super) struct Slot {
    /// Where the slot begins in the data file.
    pub(super) offset: u64,
    /// The part's length, stated before its body: no more is written.
    pub(super) len: u64,
    /// Bytes written so far.
    pub(super) written: u64,
    /// The slot's lock file, `flock`ed.
    _lock: Flock,
    /// The shared lock on the data file, which a completion waits out.
    _data: Flock<File>,
}

impl Slot {
    /// Writes `data` after what was written, within the slot.
    pub(super) fn write(&mut self, file: &File, data: &[u8]) -> Result<(), StorageError> {
        let end = self.written + data.len() as u64;
        if end > self.len {
            let long = io::Error::other("a part longer than its stated length");
            return Err(StorageError::Io(long));
        }
        file.write_all_at(data, self.offset + self.written)?;
        self.written = end;
        Ok(())
    }

    /// The part's record, once all of it is written.
    pub(super) fn record(&self, md5: [u8; 16], crc: u32) -> Result<[u8; 40], StorageError> {
        if self.written != self.len {
            let short = io::Error::other("a part shorter than its stated length");
            return Err(StorageError::Io(short));
        }
        let mut record = [0u8; RECORD as usize];
        record[..8].copy_from_slice(&self.offset.to_le_bytes());
        record[8..16].copy_from_slice(&self.len.to_le_bytes());
        record[16..32].copy_from_slice(&md5);
        record[32..36].copy_from_slice(&crc.to_le_bytes());
        record[36..].copy_from_slice(RECORD_MARK);
        Ok(record)
    }
}

/// The upload's stride, if set.
fn stride(parts: &OwnedFd) -> Option<u64> {
    let link = rustix::fs::readlinkat(parts, STRIDE, Vec::new()).ok()?;
    link.to_str().ok()?.parse().ok().filter(|&s| s > 0)
}

/// The stride, set to `len` if none is and part `number` may set it.
/// `None` where the file system makes no links: then no part has a slot.
fn stride_for(parts: &OwnedFd, number: u32, len: u64) -> Option<u64> {
    if let Some(stride) = stride(parts) {
        return Some(stride);
    }
    if len == 0 || (len < SMALLEST_PART && number != 1) {
        return None;
    }
    match rustix::fs::symlinkat(len.to_string(), parts, STRIDE) {
        Ok(()) => Some(len),
        // Set by another part meanwhile.
        Err(_) => stride(parts),
    }
}

/// Where part `number`'s slot begins.
fn place(number: u32, stride: u64) -> Option<u64> {
    u64::from(number.checked_sub(1)?).checked_mul(stride)
}

/// Opens (making it) and locks the lock file of slot `number`; `None` if
/// another writer holds it.
fn lock_slot(parts: &OwnedFd, number: u32) -> Option<Flock> {
    let fd = open_lock_file(parts, &format!(".l{number}")).ok()?;
    Flock::take(fd, FlockOperation::NonBlockingLockExclusive).ok()?
}

/// Session `id`'s data file, opened for writing, with `lock` on it, and
/// checked to be the session's still (not renamed onto an object by a
/// completion since it was opened); `None` otherwise.
fn locked_data(dir: &OwnedFd, id: &str, lock: FlockOperation) -> Option<Flock<File>> {
    let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, data_name(id), flags, Mode::empty()).ok()?;
    let data = Flock::take(File::from(fd), lock).ok()??;
    let (held, named) = (
        rustix::fs::fstat(&*data).ok()?,
        rustix::fs::statat(dir, data_name(id), AtFlags::SYMLINK_NOFOLLOW).ok()?,
    );
    (held.st_dev == named.st_dev && held.st_ino == named.st_ino).then_some(data)
}

/// The slot part `number` of session `id` is written into, if it has one
/// now: its length `len` known, at most the stride, its slot free (not
/// another writer's, not an acknowledged part's) and no completion under
/// way. The data file is returned with it. Anything else (or odd) is a
/// part staged apart, as before: slots only save copying.
pub(super) fn slot_for(
    dir: &OwnedFd,
    id: &str,
    parts: &OwnedFd,
    (number, len): (u32, Option<u64>),
) -> Option<(File, Slot)> {
    let len = len?;
    let stride = stride_for(parts, number, len).filter(|&stride| len <= stride)?;
    let offset = place(number, stride)?;
    if offset.checked_add(len)? > SLOTS_END {
        return None;
    }
    let lock = lock_slot(parts, number)?;
    // Read under the slot's lock: only its holder makes a slot record.
    if !matches!(
        read_part(parts, number),
        Ok(None | Some(Part { at: None, .. }))
    ) {
        return None;
    }
    let data = locked_data(dir, id, FlockOperation::NonBlockingLockShared)?;
    let file = data.another().ok()?;
    let slot = Slot {
        offset,
        len,
        written: 0,
        _lock: lock,
        _data: data,
    };
    Some((file, slot))
}

/// The object a completion assembled, and what it holds until its commit.
#[derive(Debug)]
pub(super) struct Assembled {
    /// The object's file.
    pub(super) file: File,
    /// Its name in the sessions folder where it is not the data file.
    pub(super) apart: Option<String>,
    /// Its size and CRC-32C.
    pub(super) size: u64,
    pub(super) crc: u32,
}

/// Takes the completion's hold on session `id`'s slots: its data file,
/// locked against every slot writer, until it is dropped.
///
/// # Errors
/// [`StorageError::SessionBusy`] while a part is written into its slot.
pub(super) fn hold_slots(dir: &OwnedFd, id: &str) -> Result<Flock<File>, StorageError> {
    locked_data(dir, id, FlockOperation::NonBlockingLockExclusive).ok_or(StorageError::SessionBusy)
}

/// Assembles the `chosen` parts (of those `staged`) of session `id`, in
/// order: in the data file `data` (held by [`hold_slots`]) where they are
/// in their slots, else into a new file.
///
/// # Errors
/// [`StorageError::SessionBusy`] if a part staged apart was sent again
/// since it was chosen; I/O.
pub(super) fn assemble(
    dir: &OwnedFd,
    id: &str,
    data: &File,
    chosen: &[Part],
    staged: &[Part],
) -> Result<Assembled, StorageError> {
    let parts = rustix::fs::openat(
        dir,
        parts_name(id),
        super::DIR | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let size: u64 = chosen.iter().map(|part| part.size).sum();
    let crc = chosen.iter().fold(0, |crc, part| {
        let len = usize::try_from(part.size).unwrap_or(usize::MAX);
        crc32c::crc32c_combine(crc, part.crc, len)
    });
    let in_place = stride(&parts).filter(|&stride| in_place(chosen, staged, stride));
    let (file, apart) = match in_place {
        Some(stride) => {
            for part in chosen.iter().filter(|part| part.at.is_none()) {
                let at = place(part.number, stride).ok_or(StorageError::SessionBusy)?;
                copy_part(&parts, data, part, (data, at))?;
            }
            data.set_len(size)?;
            (data.try_clone()?, None)
        }
        None => {
            let flags = OFlags::RDWR | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW;
            let made = rustix::fs::openat(
                &parts,
                OBJECT,
                flags | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            );
            let object = File::from(made?);
            let mut at = 0;
            for part in chosen {
                copy_part(&parts, data, part, (&object, at))?;
                at += part.size;
            }
            (object, Some(format!("{}/{OBJECT}", parts_name(id))))
        }
    };
    Ok(Assembled {
        file,
        apart,
        size,
        crc,
    })
}

/// Whether the `chosen` parts make the object where they stand in the
/// data file once those staged apart are copied into their slots: parts
/// 1..=n, each of the stride but the last (no longer), those in slots in
/// their own; and no other part's slot beyond them, which cutting the
/// file to the object's length would lose.
fn in_place(chosen: &[Part], staged: &[Part], stride: u64) -> bool {
    let Some((last, rest)) = chosen.split_last() else {
        return false;
    };
    let numbered = chosen.iter().zip(1u32..).all(|(part, n)| part.number == n);
    let placed = chosen.iter().all(|part| {
        let place = place(part.number, stride);
        place.is_some() && part.at.is_none_or(|at| Some(at) == place)
    });
    numbered
        && placed
        && rest.iter().all(|part| part.size == stride)
        && last.size <= stride
        && !staged
            .iter()
            .any(|part| part.number > last.number && part.at.is_some())
}

/// Copies `part`'s bytes (from its slot in `data`, or its own file) to
/// `to` at an offset.
fn copy_part(
    parts: &OwnedFd,
    data: &File,
    part: &Part,
    (to, to_at): (&File, u64),
) -> Result<(), StorageError> {
    let own_file;
    let from = match part.at {
        Some(at) => (data, at),
        None => {
            own_file = File::from(open_part(parts, part.number)?);
            // A part sent again since it was chosen (one that began before
            // the completion did): the client is still at work on it.
            let now = super::part_footer::described(&own_file, part.number)?;
            if now.is_none_or(|now| now != *part) {
                return Err(StorageError::SessionBusy);
            }
            (&own_file, 0)
        }
    };
    match copy_range(from, (to, to_at), part.size)? == part.size {
        true => Ok(()),
        false => Err(cut_short()),
    }
}

/// Copies up to `len` bytes between two files at offsets: in the kernel
/// where it can (`copy_file_range`: a clone of extents on XFS and Btrfs),
/// else through a buffer. How many it copied: fewer only where `from`
/// ends first (a buffer's read says so: some file systems answer
/// `copy_file_range` with nothing where they cannot).
pub(super) fn copy_range(
    (from, mut from_at): (&File, u64),
    (to, mut to_at): (&File, u64),
    len: u64,
) -> Result<u64, StorageError> {
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
        match rustix::fs::copy_file_range(from, Some(&mut from_at), to, Some(&mut to_at), want) {
            Ok(n) if n > 0 => left -= n as u64,
            Err(rustix::io::Errno::INTR) => {}
            Ok(_) | Err(_) => {
                let done = len - left;
                return Ok(done + copy_buffered((from, from_at), (to, to_at), left)?);
            }
        }
    }
    Ok(len - left)
}

/// [`copy_range`] through a buffer.
fn copy_buffered(
    (from, from_at): (&File, u64),
    (to, to_at): (&File, u64),
    len: u64,
) -> Result<u64, StorageError> {
    let mut buf = vec![0; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from(len - done).map_or(buf.len(), |left| left.min(buf.len()));
        let n = match from.read_at(&mut buf[..want], from_at + done) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        to.write_all_at(&buf[..n], to_at + done)?;
        done += n as u64;
    }
    Ok(done)
}

fn cut_short() -> StorageError {
    StorageError::Io(io::Error::other(
        "a part was cut short while the upload was completed",
    ))
}

#[cfg(test)]
mod tests {
    use super::super::part_footer::from_record;
    use super::*;

    fn part(number: u32, size: u64, at: Option<u64>) -> Part {
        Part {
            number,
            size,
            md5: [0; 16],
            crc: 0,
            modified: 0,
            at,
            checksum: None,
        }
    }

    #[test]
    fn parts_are_in_place_only_as_numbered_and_sized_by_the_stride() {
        let s = 10;
        let slot = |n: u32, size| part(n, size, Some(u64::from(n - 1) * s));
        let apart = |n, size| part(n, size, None);
        let chosen = [slot(1, s), apart(2, s), slot(3, 4)];
        assert!(in_place(&chosen, &chosen, s));
        // The last one apart, or alone.
        assert!(in_place(&[slot(1, s), apart(2, 3)], &[], s));
        assert!(in_place(&[apart(1, 3)], &[], s));
        // A gap, a short middle part, a long last one, a part elsewhere.
        assert!(!in_place(&[slot(1, s), slot(3, s)], &[], s));
        assert!(!in_place(&[slot(1, 4), slot(2, s)], &[], s));
        assert!(!in_place(&[slot(1, s), apart(2, s + 1)], &[], s));
        assert!(!in_place(&[part(1, s, Some(s))], &[], s));
        assert!(!in_place(&[], &[], s));
        // A slot beyond the object, which the cut would lose; one apart
        // is safe.
        let staged = [slot(1, s), slot(2, 3), slot(3, s)];
        assert!(!in_place(&staged[..2], &staged, s));
        let staged = [slot(1, s), slot(2, 3), apart(3, s)];
        assert!(in_place(&staged[..2], &staged, s));
    }

    #[test]
    fn a_slot_record_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name| std::fs::File::create(dir.path().join(name)).unwrap();
        let slot = Slot {
            offset: 7 << 30,
            len: 5,
            written: 5,
            _lock: Flock::exclusive(OwnedFd::from(file(".l9"))).unwrap(),
            _data: Flock::exclusive(file("data")).unwrap(),
        };
        let record = slot.record([3; 16], 0xdead_beef).unwrap();
        let read = from_record(9, &record, 12);
        assert_eq!(
            read,
            Part {
                number: 9,
                size: 5,
                md5: [3; 16],
                crc: 0xdead_beef,
                modified: 12,
                at: Some(7 << 30),
                checksum: None,
            }
        );
    }
}
