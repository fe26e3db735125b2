//! The read side of the jail: files opened to be described or sent (with
//! their CRC-32C when it is known, looked up but never computed here
//! unless asked), the checksum threads' queue, and reading ahead into the
//! page cache. Another `impl Storage`; the rules it uses are beside it
//! (lookups beneath the root in `jail.rs`, the test gate in `gate.rs`).

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use rustix::fs::{AtFlags, Mode, ResolveFlags};
use rustix::io::Errno;

use crate::model::Md5Tag;

use super::Opened;
use super::checksum::{self, LaterCrc};
use super::gate::Point;
use super::zip_crc::{self, ZipCrc, ZipCrcRecord};
use super::{Ahead, BENEATH, Later, READ_FILE, Storage, StorageError, check_regular, open_beneath};
use crate::model::{FileInfo, Stamp, Version, VersionRecords};
use crate::name::Name;
use crate::wire::content::Content;

/// A stored file opened for reading, with its checksum if known.
#[derive(Debug)]
pub struct OpenFile {
    /// The file, positioned nowhere in particular: read it by offset, as
    /// other readers may share the descriptor (`shared_files.rs`).
    pub file: Arc<File>,
    /// Its size and modification time when opened.
    pub info: FileInfo,
    /// What else tells this version from others.
    pub stamp: Stamp,
    /// CRC-32C of the whole file, if it is known without reading the file
    /// ([`Storage::checksum`] computes it).
    pub crc: Option<u32>,
    /// The MD5 tag recorded with it (S3's `ETag`), if the record still
    /// matches it; looked up with the CRC-32C.
    pub md5: Option<Md5Tag>,
    /// It lives on a memory file system (tmpfs): reading it never waits
    /// on a disk.
    pub in_memory: bool,
    /// It lives where every call is a round trip (FUSE, NFS...): even
    /// closing it waits.
    pub round_trips: bool,
}

impl OpenFile {
    /// Its bytes, to be sent.
    pub fn into_content(self) -> Content {
        Content::file(self.file, (self.in_memory, self.round_trips))
    }

    /// Its version, as answers describe it.
    pub fn version(&self) -> Version {
        Version {
            info: self.info,
            stamp: self.stamp,
            crc: self.crc,
            md5: self.md5,
        }
    }

    /// It as the seam hands it out: its version and its bytes.
    pub(super) fn into_opened(self) -> Opened {
        Opened {
            version: self.version(),
            body: self.into_content(),
        }
    }
}

impl Storage {
    /// `name` opened to be described: size, modification time and the
    /// CRC-32C if known. Special files are refused before they are opened.
    ///
    /// # Errors
    /// 404 if absent, 409 for a directory, 403 for a symlink.
    pub fn stat(&self, name: &Name) -> Result<OpenFile, StorageError> {
        self.pause(Point::Open);
        self.once_more_if_gone(|| self.stat_once(name))
    }

    fn stat_once(&self, name: &Name) -> Result<OpenFile, StorageError> {
        let (dirs, leaf) = name.split_parent();
        let dir = self.walk(dirs)?;
        check_regular(&rustix::fs::statat(
            self.fd(&dir),
            leaf,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)?;
        self.open_in(&dir, leaf, true)
    }

    /// Opens `name` for reading, with its CRC-32C if that is cached or
    /// recorded (never computed here).
    ///
    /// # Errors
    /// As [`Storage::stat`].
    pub fn open_read(&self, name: &Name) -> Result<OpenFile, StorageError> {
        self.pause(Point::Open);
        self.once_more_if_gone(|| self.open_read_once(name, true))
    }

    /// Opens `name` for reading without looking up its CRC-32C: for a
    /// reader that sends no checksum (a folder's `.tar`), which must not
    /// pay for reading a whole file twice.
    ///
    /// # Errors
    /// As [`Storage::stat`].
    pub fn open_read_unchecked(&self, name: &Name) -> Result<OpenFile, StorageError> {
        self.pause(Point::Open);
        self.injected_fault(Point::Open)?;
        self.once_more_if_gone(|| self.open_read_once(name, false))
    }

    fn open_read_once(&self, name: &Name, checksum: bool) -> Result<OpenFile, StorageError> {
        // The whole name in one call where the kernel can (`open_beneath`).
        match open_beneath(&self.root, name.as_str(), READ_FILE) {
            Ok(fd) => self.opened(File::from(fd), checksum),
            Err(Errno::NOENT | Errno::NOTDIR) => Err(StorageError::NotFound),
            Err(errno) => Err(errno.into()),
        }
    }

    /// Opens `name` for reading if that needs no disk access: every
    /// directory entry on the way is cached, and so is the file's CRC-32C.
    /// `Ok(None)` means it would have to wait for the disk: ask
    /// [`Storage::open_read`] on the I/O pool instead. Errors are only
    /// those the cache can tell for sure (a name cached as absent).
    ///
    /// # Errors
    /// [`StorageError::NotFound`], or a special file or directory.
    pub fn open_read_cached(&self, name: &Name) -> Result<Option<OpenFile>, StorageError> {
        if self.gate.as_ref().is_some_and(|g| g.point() == Point::Open) {
            return Ok(None); // a test holds opens: let the pool meet the gate
        }
        if self.round_trips {
            // A cached path says nothing of the fstat and close that
            // follow: on FUSE or NFS each is a round trip.
            return Ok(None);
        }
        let flags = BENEATH.union(ResolveFlags::CACHED);
        let fd =
            match rustix::fs::openat2(&self.root, name.as_str(), READ_FILE, Mode::empty(), flags) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::NOTDIR) => return Err(StorageError::NotFound),
                // Not cached (AGAIN), a symlink on the way (the pool's walk
                // gives the precise answer), or no openat2 here.
                Err(_) => return Ok(None),
            };
        let file = File::from(fd);
        let stat = rustix::fs::fstat(&file)?;
        check_regular(&stat)?;
        let Some(tags) = self.checksums.cached(&stat) else {
            // Its record is an extended-attribute read away: for the pool.
            return Ok(None);
        };
        Ok(Some(OpenFile {
            file: self.shared_files.share(file, &stat),
            info: FileInfo::of(&stat),
            stamp: Stamp::of(&stat),
            crc: Some(tags.crc),
            md5: tags.md5,
            in_memory: self.is_in_memory(),
            round_trips: self.round_trips,
        }))
    }

    /// Opens `leaf` in `dir` (`None`: the root) for reading.
    fn open_in(
        &self,
        dir: &Option<OwnedFd>,
        leaf: &str,
        checksum: bool,
    ) -> Result<OpenFile, StorageError> {
        let fd = rustix::fs::openat(self.fd(dir), leaf, READ_FILE, Mode::empty())?;
        self.opened(File::from(fd), checksum)
    }

    /// A file just opened, described, with its CRC-32C if `checksum` and
    /// it is known.
    fn opened(&self, file: File, checksum: bool) -> Result<OpenFile, StorageError> {
        let stat = rustix::fs::fstat(&file)?;
        check_regular(&stat)?;
        let tags = match checksum {
            true => self.checksums.known(&file, &stat),
            false => None,
        };
        Ok(OpenFile {
            file: self.shared_files.share(file, &stat),
            info: FileInfo::of(&stat),
            stamp: Stamp::of(&stat),
            crc: tags.map(|t| t.crc),
            md5: tags.and_then(|t| t.md5),
            in_memory: self.is_in_memory(),
            round_trips: self.round_trips,
        })
    }

    /// The CRC-32C of `file` (a stored file opened here) as it is now:
    /// known, or computed from its bytes and recorded for next time. A
    /// computation blocks for as long as reading the whole file takes, so
    /// only the checksum threads ask; one asked for meanwhile by another
    /// thread waits for this one's result.
    ///
    /// # Errors
    /// The file cannot be read, or the server is stopping.
    pub fn checksum(&self, file: &File) -> Result<u32, StorageError> {
        let stat = rustix::fs::fstat(file)?;
        // Never through a file with other links, which may lie outside the
        // root; never in read-only mode, which writes nothing.
        let may_record = !self.read_only && stat.st_nlink == 1;
        let crc = self
            .checksums
            .of(file, &stat, may_record, || self.pause(Point::Checksum))?;
        Ok(crc)
    }

    /// Computes and records the CRC-32C queued as `later` (on a checksum
    /// thread, when one is free: see [`Storage::checksum_later`]); a
    /// failure is only logged, as nobody waits for it.
    pub fn compute_later(&self, later: LaterCrc) {
        self.pause(Point::LaterChecksum);
        if let Err(err) = self.checksum(&later.0) {
            log::warn!("a checksum computed after a range failed: {err}");
        }
    }

    /// The MD5 tag recorded with the file `name` (S3's `ETag`), if the
    /// record still matches it, and the additional checksum recorded with
    /// it (as [`Storage::recorded`]'s `checksum`): the file opened and its
    /// records read, never its bytes (a listing's lookup, on the pool; a
    /// multipart completion sent again answers both as the first did).
    /// `None` for anything else, a failure included: the caller answers
    /// another tag.
    pub(super) fn recorded_tags(&self, name: &str) -> Option<(Md5Tag, Option<String>)> {
        let fd = open_beneath(&self.root, name, READ_FILE).ok()?;
        let file = File::from(fd);
        let stat = rustix::fs::fstat(&file).ok()?;
        check_regular(&stat).ok()?;
        let tag = checksum::recorded_md5(&file, &stat)?;
        Some((tag, checksum::recorded_stated(&file, &stat)))
    }

    /// What is recorded with `file`'s version that a GET asks for
    /// (`checksum`, `parts`: see [`VersionRecords`]), where the records still
    /// match it: one `fstat` and an extended-attribute read each, for the
    /// pool. A record missing, stale or unreadable is `None`.
    pub(super) fn recorded(&self, file: &File, checksum: bool, parts: bool) -> VersionRecords {
        let mut recorded = VersionRecords::default();
        if !checksum && !parts {
            return recorded;
        }
        let Ok(stat) = rustix::fs::fstat(file) else {
            return recorded;
        };
        if checksum {
            recorded.checksum = checksum::recorded_stated(file, &stat);
        }
        if parts {
            recorded.part_sizes = super::part_sizes::recorded(file, &stat);
            recorded.part_checksums = super::part_sizes::recorded_checksums(file, &stat);
        }
        recorded
    }

    /// The zip CRC-32 recorded with `file` (an archive member about to be
    /// sent), or whether one computed from it may be recorded: never in
    /// read-only mode, which writes nothing, nor through a file with other
    /// links, which may lie outside the root.
    pub fn zip_crc(&self, file: &File) -> ZipCrc {
        let Ok(stat) = rustix::fs::fstat(file) else {
            return ZipCrc::Unknown(None);
        };
        if stat.st_nlink != 1 {
            return ZipCrc::Unknown(None);
        }
        match zip_crc::recorded(file, &stat) {
            Some(crc) => ZipCrc::Recorded(crc),
            None => ZipCrc::Unknown((!self.read_only).then(|| ZipCrcRecord::new(stat))),
        }
    }

    /// Queues the computation of `file`'s CRC-32C for the checksum threads,
    /// with nobody waiting for it (a range of the file was served; the next
    /// whole download will find it), unless it is known, under way or
    /// queued already, or the queue is full (then the next whole download
    /// computes it). Never blocks.
    pub fn checksum_later(&self, file: &Arc<File>) {
        let Some(later) = self.later.get() else {
            return; // no checksum threads (a storage without a server)
        };
        let Ok(stat) = rustix::fs::fstat(file) else {
            return;
        };
        if !self.checksums.want(&stat) {
            return;
        }
        if !later.queue(Arc::clone(file)) {
            self.checksums.unwant(&stat);
        }
    }

    /// Queues `work` for the checksum threads, ahead of the connection
    /// that will want its result (see [`Ahead`]); false if there are none
    /// or their queue is full or closed: the work is dropped and its
    /// connection computes the result itself when it wants it. Never
    /// blocks.
    pub fn compute_ahead(&self, work: Ahead) -> bool {
        self.later.get().is_some_and(|later| later.ahead(work))
    }

    /// Queues a read of `file`'s first `len` bytes into the page cache
    /// for the checksum threads (see [`Ahead`]): an archive's next member,
    /// read from the disk while the one before it is sent. Dropped if
    /// there are no such threads or their queue is full: the member's
    /// send then reads it in as any send does. Never blocks.
    pub fn cache_ahead(&self, file: &Arc<File>, len: u64) {
        let copy = Arc::clone(file);
        self.compute_ahead(Box::new(move || {
            // A failure shows again when the send reads the same bytes.
            let _ = cache(&copy, 0, len);
        }));
    }

    /// Sends later computations ([`Storage::checksum_later`]) to `later`
    /// (the server's checksum threads); set once, when they start.
    pub fn set_checksum_queue(&self, later: Later) {
        if self.later.set(later).is_err() {
            log::error!("a second checksum queue was offered and ignored");
        }
    }

    /// Makes a CRC computation under way give up, and later ones fail:
    /// the server is stopping and must not wait for a whole file.
    pub fn stop_checksums(&self) {
        self.checksums.stop();
    }

    /// CRCs computed from files' bytes since the start.
    pub fn checksums_computed(&self) -> u64 {
        self.checksums.computations()
    }

    /// Reads `len` bytes of `file` from `offset` into the page cache, so
    /// that the reactor can then send them without waiting on the disk.
    /// No `POSIX_FADV_WILLNEED` for the bytes behind them: pages read in
    /// on advice carry no read-ahead mark, so the kernel's own read-ahead,
    /// which the reactor's `sendfile` keeps going, stops (measured: 171
    /// trips to the pool per cold GiB with the advice, 15 without).
    ///
    /// # Errors
    /// The read failed (or the file is shorter than expected).
    pub fn read_ahead(&self, file: &File, offset: u64, len: u64) -> io::Result<()> {
        self.pause(Point::ReadAhead);
        cache(file, offset, len)
    }
}

/// Reads `len` bytes of `file` from `offset` into the page cache: with a
/// `sendfile` to `/dev/null` where it can, else through a buffer.
///
/// # Errors
/// The read failed (or the file is shorter than expected).
fn cache(file: &File, offset: u64, len: u64) -> io::Result<()> {
    /// Bytes read per system call when the file cannot be spliced.
    const PIECE: u64 = 256 * 1024;
    if cache_by_sendfile(file, offset, len)? {
        return Ok(());
    }
    let mut buf = vec![0; usize::try_from(len.min(PIECE)).unwrap_or(0)];
    let mut done = 0;
    while done < len {
        let piece = (len - done).min(PIECE) as usize;
        file.read_exact_at(&mut buf[..piece], offset + done)?;
        done += piece as u64;
    }
    Ok(())
}

/// `/dev/null`, opened for writing once: where [`cache_by_sendfile`]
/// sends what it only reads in. [`Storage::open_claimed`] opens it at
/// start-up, not the first read ahead: that may come while the process is
/// out of descriptors, which would leave it unopened for good (every read
/// ahead then copies), or take the slot the reactor's spare descriptor
/// had just freed to refuse a connection (server/reactor/accept.rs), leaving that
/// client unanswered.
pub(super) fn dev_null() -> Option<&'static File> {
    static DEV_NULL: std::sync::OnceLock<Option<File>> = std::sync::OnceLock::new();
    let null = DEV_NULL.get_or_init(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()
    });
    null.as_ref()
}

/// Brings `len` bytes of `file` from `offset` into the page cache with a
/// `sendfile` to `/dev/null`: the kernel reads them in as for any
/// `sendfile` and copies none of them (a `read` into a buffer copies every
/// byte once more). `Ok(false)`: this file system (or `/dev/null`) cannot
/// splice, read the bytes instead.
fn cache_by_sendfile(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    let Some(null) = dev_null() else {
        return Ok(false);
    };
    let end = offset + len;
    let mut at = offset;
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(usize::MAX);
        match rustix::fs::sendfile(null, file, Some(&mut at), want) {
            Ok(0) => {
                let message = "file shorter than the range being read ahead";
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
            }
            Ok(_) | Err(Errno::INTR) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if at == offset => {
                return Ok(false);
            }
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::posix::no_openat2::without_openat2;

    /// Without `openat2` (`open_beneath` then goes one segment at a time)
    /// the jail holds as with it: a file is read, a symlinked folder on the
    /// way reads as absent and a symlinked file as forbidden (the module
    /// header of `storage`), a name that is not there as absent.
    #[test]
    fn the_jail_holds_where_openat2_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), b"bytes").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), b"secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a/out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("a/l")).unwrap();
        let storage = Storage::open(dir.path(), "n1", false).unwrap();
        let name = |text: &str| Name::new(text.to_owned()).unwrap();
        without_openat2("the_jail_holds_where_openat2_is_refused", || {
            let found = storage.open_read(&name("a/b/f")).unwrap();
            assert_eq!(found.info.size, 5);
            for (text, refused) in [
                ("a/out/f", StorageError::NotFound),
                ("a/l", StorageError::Symlink),
                ("a/b/none", StorageError::NotFound),
            ] {
                let got = storage.open_read(&name(text)).err();
                assert_eq!(
                    got.map(|e| e.to_string()),
                    Some(refused.to_string()),
                    "{text}"
                );
            }
        });
    }
}
