//! How an archive's members are laid out, per format: what each member
//! takes (for the length announced before the walk that sends it), the
//! bytes before and after each file's data, and the end of the archive.
//! The walk and the sending are [`super::ops::archive`]'s; this holds what
//! differs between tar and zip, so that the walk is written once.
//!
//! A tar member is its headers, its data and zero padding. A zip member
//! is its local header and data, then a data descriptor with the CRC-32,
//! while its central header waits in memory for the end.
//!
//! The CRC-32 needs the file's bytes, which the connection sends with
//! `sendfile` and never sees. So a checksum thread reads the file
//! ([`MemberCrc`], started by [`Layout::start_crc`]) before or beside the
//! send, overlapping it instead of adding to it (0.73x tar's throughput
//! when it was read back after the send); the descriptor, after the data,
//! waits only for what is left of it when the send ends, usually nothing.
//! If no thread took it by then, the send's end computes it itself. A
//! CRC-32 computed is recorded with the file, as its CRC-32C is
//! ([`crate::storage::ZipCrc`]), so that the next zip of an unchanged
//! file reads it back instead of the file.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::formats::tar::{self, END, padding};
use crate::formats::zip::{self, Zip64};
use crate::storage::{Ahead, Store, ZipCrc, ZipCrcRecord};
use crate::wire::content::Content;
use crate::wire::page_buf::PageBuf;

/// Bytes read back at once to compute a zip member's CRC-32.
const CRC_READ: usize = 256 * 1024;

/// What a folder is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// POSIX ustar with pax headers ([`crate::formats::tar`]).
    Tar,
    /// Stored zip, zip64 when it must ([`crate::formats::zip`]).
    Zip,
}

impl Format {
    /// The file name extension, also the query that asks for it.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::Zip => "application/zip",
        }
    }

    /// Its name in the log.
    pub(super) fn verb(self) -> &'static str {
        match self {
            Format::Tar => "TAR",
            Format::Zip => "ZIP",
        }
    }
}

/// A member with its path in the archive, owned.
pub(super) struct MemberPath {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

impl MemberPath {
    fn as_tar(&self) -> tar::Member<'_> {
        tar::Member {
            path: &self.path,
            size: self.size,
            mtime: self.mtime,
        }
    }

    fn as_zip(&self) -> zip::Member<'_> {
        zip::Member {
            path: &self.path,
            size: self.size,
            mtime: self.mtime,
        }
    }
}

/// The bytes of one archive as they are written.
pub(super) struct Layout {
    pub format: Format,
    /// Bytes owed after the file just sent: tar padding, a zip descriptor.
    owed: Vec<u8>,
    /// The file being sent, and where its zip local header is.
    sending: Option<(MemberPath, u64)>,
    /// Its CRC-32 (a zip's), under way.
    crc: Option<MemberCrc>,
    zip64: Zip64,
    /// A zip's central headers so far.
    central: Vec<u8>,
    /// Where the next zip local header starts.
    offset: u64,
    /// Zip members written so far.
    members: u64,
}

impl Layout {
    pub fn new(format: Format) -> Layout {
        Layout {
            format,
            owed: Vec::new(),
            sending: None,
            crc: None,
            zip64: Zip64(false),
            central: Vec::new(),
            offset: 0,
            members: 0,
        }
    }

    /// Bytes `member` takes, all its parts counted, as a classic and as a
    /// zip64 member (which one a zip is is known once all are counted).
    pub fn member_lens(&self, member: &MemberPath) -> [u64; 2] {
        match self.format {
            Format::Tar => [member.as_tar().archived_len(); 2],
            Format::Zip => [Zip64(false), Zip64(true)].map(|z| member.as_zip().archived_len(z)),
        }
    }

    /// Bytes `member` takes in this archive.
    pub fn member_len(&self, member: &MemberPath) -> u64 {
        self.member_lens(member)[usize::from(self.zip64.0)]
    }

    /// The whole archive's length, from its `members` and their `lens`
    /// summed as [`Self::member_lens`] gives them.
    pub fn measured(&mut self, members: u64, lens: [u64; 2]) -> u64 {
        if self.format == Format::Zip {
            self.zip64 = zip::needs_zip64(members, lens[0] + zip::end_len(Zip64(false)));
        }
        lens[usize::from(self.zip64.0)] + self.end_len()
    }

    /// Bytes of the end of the archive.
    pub fn end_len(&self) -> u64 {
        match self.format {
            Format::Tar => END.len() as u64,
            Format::Zip => zip::end_len(self.zip64),
        }
    }

    /// The CRC-32 of `file` (`size` bytes; a zip member's, a tar needs
    /// none): read back from its record, or started on a checksum thread.
    /// [`Self::sending`] then hands it to the member whose data `file` is.
    pub fn start_crc(&self, body: &Content, size: u64, store: &dyn Store) -> Option<MemberCrc> {
        if self.format != Format::Zip {
            return None;
        }
        Some(match store.zip_crc(body) {
            ZipCrc::Recorded(crc) => MemberCrc::known(crc),
            ZipCrc::Unknown(record) => {
                let queue = |work| store.compute_ahead(work);
                MemberCrc::start(body, size, record, queue)
            }
        })
    }

    /// The member just headed is being sent, with its CRC-32 as
    /// [`Self::start_crc`] started it.
    pub fn sending(&mut self, crc: Option<MemberCrc>) {
        debug_assert!(self.sending.is_some(), "a member is sent after its header");
        self.crc = crc;
    }

    /// Whether [`Self::file_sent`] may wait for a CRC-32 or compute it
    /// (a zip's, not done yet): it then runs on a checksum thread.
    pub fn waits_for_crc(&self) -> bool {
        self.format == Format::Zip
            && self.sending.is_some()
            && !self.crc.as_ref().is_some_and(MemberCrc::is_done)
    }

    /// What is owed after the last file sent, taken.
    pub fn take_owed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.owed)
    }

    /// Appends `member`'s bytes before its data to `out`; a member with
    /// data is then being sent, until [`Self::file_sent`].
    pub fn header(&mut self, member: MemberPath, out: &mut Vec<u8>) {
        let offset = self.offset;
        match self.format {
            Format::Tar => member.as_tar().header(out),
            Format::Zip => {
                let zip = member.as_zip();
                zip.local(self.zip64, out);
                self.offset += zip.local_len(self.zip64) + member.size;
            }
        }
        if member.size > 0 {
            self.sending = Some((member, offset));
        } else {
            self.close(&member, 0, offset);
        }
    }

    /// The file being sent is out: what follows its data is owed (tar
    /// padding; a zip descriptor, with its CRC-32 as started by
    /// [`Self::sending`], or computed now from `file`).
    ///
    /// # Errors
    /// Reading it failed, or it is shorter than it was.
    pub fn file_sent(&mut self, body: &Content) -> io::Result<()> {
        let Some((member, offset)) = self.sending.take() else {
            return Ok(());
        };
        let crc = match self.format {
            Format::Tar => {
                self.owed.resize(padding(member.size), 0);
                0
            }
            Format::Zip => match self.crc.take() {
                Some(crc) => crc.take(body, member.size)?,
                None => crc_of(body, member.size, None)?,
            },
        };
        self.close(&member, crc, offset);
        Ok(())
    }

    /// `member` (at `offset`, with `crc`) is written: a zip's descriptor
    /// (owed) and central header (kept for the end).
    fn close(&mut self, member: &MemberPath, crc: u32, offset: u64) {
        if self.format == Format::Zip {
            let zip = member.as_zip();
            zip.descriptor(crc, self.zip64, &mut self.owed);
            zip.central(crc, offset, self.zip64, &mut self.central);
            self.offset += zip.descriptor_len(self.zip64);
            self.members += 1;
        }
    }

    /// Appends the end of the archive to `out`.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Tar => out.extend_from_slice(&END),
            Format::Zip => {
                let central_len = self.central.len() as u64;
                out.append(&mut self.central);
                zip::end(self.members, self.offset, central_len, self.zip64, out);
            }
        }
    }
}

/// A zip member's CRC-32 while its data is sent: whoever comes first
/// computes it (a checksum thread, or the send's end, [`MemberCrc::take`])
/// and records it if `record` allows, and the send's end waits only for
/// one under way.
pub(super) struct MemberCrc {
    state: Arc<(Mutex<Crc>, Condvar)>,
    record: Option<ZipCrcRecord>,
}

/// Where a [`MemberCrc`] stands.
enum Crc {
    /// Nobody computes it yet.
    Queued,
    /// A checksum thread computes it.
    Running,
    /// Computed (or the reading failed).
    Done(io::Result<u32>),
    /// The send's end took it: a checksum thread that comes to it now
    /// leaves it.
    Taken,
}

impl MemberCrc {
    /// Hands the CRC-32 of the first `size` bytes of `file` to `queue`
    /// (the checksum threads', [`Store::compute_ahead`]), through another
    /// handle on it, as the send keeps the file; if the work is
    /// dropped, or runs late, [`Self::take`] computes it.
    fn start(
        body: &Content,
        size: u64,
        record: Option<ZipCrcRecord>,
        queue: impl FnOnce(Ahead) -> bool,
    ) -> MemberCrc {
        let crc = MemberCrc {
            state: Arc::new((Mutex::new(Crc::Queued), Condvar::new())),
            record,
        };
        let (copy, shared) = (
            body.clone(),
            MemberCrc {
                state: Arc::clone(&crc.state),
                record: crc.record.clone(),
            },
        );
        // Not queued: dropped, and computed by `take`.
        let _ = queue(Box::new(move || shared.compute(&copy, size)));
        crc
    }

    /// One read back from the file's record: nothing to compute.
    fn known(crc: u32) -> MemberCrc {
        MemberCrc {
            state: Arc::new((Mutex::new(Crc::Done(Ok(crc))), Condvar::new())),
            record: None,
        }
    }

    fn state(&self) -> MutexGuard<'_, Crc> {
        self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// On a checksum thread: computes it, unless the send's end has.
    fn compute(&self, body: &Content, size: u64) {
        {
            let mut state = self.state();
            if !matches!(*state, Crc::Queued) {
                return;
            }
            *state = Crc::Running;
        }
        let crc = crc_of(body, size, self.record.as_ref());
        *self.state() = Crc::Done(crc);
        self.state.1.notify_all();
    }

    pub(super) fn is_done(&self) -> bool {
        matches!(*self.state(), Crc::Done(_))
    }

    /// The CRC-32, at the send's end: as computed, or once the thread
    /// computing it is done, or computed here from `file` if no thread has
    /// started it.
    fn take(&self, body: &Content, size: u64) -> io::Result<u32> {
        let mut state = self.state();
        loop {
            match std::mem::replace(&mut *state, Crc::Taken) {
                Crc::Done(crc) => return crc,
                Crc::Running => {
                    *state = Crc::Running;
                    state = self.state.1.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Crc::Queued | Crc::Taken => {
                    drop(state);
                    return crc_of(body, size, self.record.as_ref());
                }
            }
        }
    }
}

/// The CRC-32 of the first `size` bytes of `file`, recorded with it where
/// `record` allows.
fn crc_of(body: &Content, size: u64, record: Option<&ZipCrcRecord>) -> io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    // Page-aligned: the kernel's copy into it is the dearest part.
    let mut buf = PageBuf::zeroed(CRC_READ.min(usize::try_from(size).unwrap_or(CRC_READ)));
    let buf = buf.as_mut_slice();
    let mut at = 0;
    while at < size {
        let want = usize::try_from(size - at).map_or(buf.len(), |left| left.min(buf.len()));
        let n = body.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    let crc = hasher.finalize();
    if let Some(record) = record {
        record.record(body, size, crc);
    }
    Ok(crc)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;

    use super::{Ahead, MemberCrc, crc_of};
    use crate::wire::content::Content;

    /// A file of `len` bytes that are not all alike, and their CRC-32.
    fn file(len: usize) -> (Content, u32) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        (Content::file(file, (false, false)), crc32fast::hash(&bytes))
    }

    #[test]
    fn a_crc_no_thread_takes_is_computed_at_the_sends_end() {
        let (file, want) = file(700_000);
        let crc = MemberCrc::start(&file, 700_000, None, |_dropped| false);
        assert_eq!(crc.take(&file, 700_000).unwrap(), want);
    }

    #[test]
    fn a_crc_under_way_is_waited_for_and_one_started_late_is_left() {
        let (file, want) = file(3_000_000);
        // Run on a thread of its own, as a checksum thread would.
        let (tx, rx) = mpsc::channel::<Ahead>();
        let crc = MemberCrc::start(&file, 3_000_000, None, |work| tx.send(work).is_ok());
        let thread = std::thread::spawn(move || rx.recv().unwrap()());
        assert_eq!(crc.take(&file, 3_000_000).unwrap(), want);
        thread.join().unwrap();
        // Queued but run only after the send's end took it: left alone.
        let (tx, rx) = mpsc::channel::<Ahead>();
        let crc = MemberCrc::start(&file, 10, None, |work| tx.send(work).is_ok());
        assert_eq!(
            crc.take(&file, 10).unwrap(),
            crc_of(&file, 10, None).unwrap()
        );
        rx.recv().unwrap()();
        assert!(!crc.is_done(), "computed twice");
    }

    #[test]
    fn a_file_shorter_than_announced_fails_its_crc() {
        let (file, _) = file(100);
        let crc = MemberCrc::start(&file, 200, None, |work| {
            work();
            true
        });
        assert!(crc.is_done());
        assert!(crc.take(&file, 200).is_err());
    }
}
