//! Upload sessions on disk: the layout of the sessions directory and every
//! file format in it. `sessions.rs` decides what happens to a session; this
//! module only knows how a session is written down and read back.
//!
//! ```text
//! <root>/.ferry-uploads/           0700, refused at start-up if not a plain directory
//!     id-key                       32 hex digits: the key session ids are made with
//!     lock                         empty; flock-ed by a node through each bookkeeping step
//!     <id>.data                    the staged bytes (mode of a stored file: COMMIT renames it into place)
//!         user.ferry.staged        xattr "<length> <crc32c hex>": the CRC of the first <length> bytes
//!     <id>.meta                    "<encoded name> <size> <crc32c hex>\n" then "client <addr>\n"
//!                                  then "owner <token name | (anonymous)>\n" (with access control)
//!                                  then "link <id>\n" (begun through a share link)
//! ```
//!
//! A session exists while both files do. Every change is one step that
//! leaves either the old state or the new one after a crash: creation
//! makes the data file before the record, COMMIT renames the data file
//! onto its target (the session is then committed) and only afterwards
//! removes the record. What a crash can leave half-made (a data file without
//! a record, a record without a data file) is not a session; the index
//! knows it by its age, and it is removed with the expired sessions.
//!
//! Several nodes may share the directory (one root on a shared file
//! system): a node holds `lock` through every bookkeeping step (creation,
//! the checks that start an APPEND or a COMMIT, ABORT, expiry), so they
//! happen one at a time across nodes as they do across threads, and holds
//! a session's `.meta` (flock, not blocking) while an APPEND streams into it
//! or a COMMIT runs, so another node answers `409` instead of touching it.
//! A node that dies lets go of both (the kernel, or the file system's
//! session, releases its locks).
//!
//! Ids are keyed (SipHash-2-4 under a random key made once per root), so
//! the same upload finds its session again, but nobody without the key can
//! craft names whose ids collide.
//!
//! Why it is long: every file a session keeps on disk (layout, ids, state
//! records) is written and read here, so that their formats change in one
//! place.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, XattrFlags};
use rustix::io::Errno;
use siphasher::sip128::{Hasher128, SipHasher24};

use super::flock::Flock;
use super::session_index::BegunBy;
use super::{DIR, StorageError, checksum, stored_file_mode};
use crate::formats::hex::of_bytes as hex;
use crate::name::{self, Name};

/// The directory, beneath the root, that holds staged uploads.
pub const SESSIONS_DIR: &str = ".ferry-uploads";

/// The file in it that holds the id key.
const KEY_FILE: &str = "id-key";

/// The file in it that nodes lock through each bookkeeping step.
const LOCK_FILE: &str = "lock";

/// The extended attribute of a data file that records the CRC-32C of its
/// first bytes.
const STAGED_ATTRIBUTE: &str = "user.ferry.staged";

/// The longest record read back: a name percent-encodes to at most three
/// bytes per byte, the rest is numbers and an address, and what the
/// client said of its upload ([`MAX_META`]).
const MAX_RECORD: usize = 3 * name::MAX_NAME + 256 + MAX_META;

/// Room in a record for what a client says of its upload: tus's
/// `Upload-Metadata`, or an S3 multipart upload's metadata (2 KiB of
/// user metadata and six fields as long as a request head lets them, as
/// XML elements, in base64). A cap on what is read back, so generous:
/// a record cut short would lose the upload.
const MAX_META: usize = 32 * 1024;

/// Refuses a sessions folder that is not a plain directory (a symlink, a
/// file): every session open refuses to follow it, so uploads would fail
/// one by one with puzzling errors; better to say so at start-up.
///
/// # Errors
/// What it is instead, naming the path.
pub(super) fn check_sessions_dir(root: &OwnedFd, path: &Path) -> io::Result<()> {
    match rustix::fs::statat(root, SESSIONS_DIR, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()), // made when first needed
        Err(errno) => Err(errno.into()),
        Ok(stat) => {
            let kind = FileType::from_raw_mode(stat.st_mode);
            if kind == FileType::Directory {
                return Ok(());
            }
            let what = match kind {
                FileType::Symlink => "a symlink",
                _ => "not a directory",
            };
            Err(io::Error::other(format!(
                "{} is {what}: ferry keeps upload sessions in a directory of that name and follows no symlink; move it away",
                path.join(SESSIONS_DIR).display()
            )))
        }
    }
}

/// Opens the sessions directory, creating it on first use.
pub(super) fn open_dir(root: &OwnedFd) -> Result<OwnedFd, StorageError> {
    match rustix::fs::openat(root, SESSIONS_DIR, DIR, Mode::empty()) {
        Err(Errno::NOENT) => {
            match rustix::fs::mkdirat(root, SESSIONS_DIR, Mode::from_raw_mode(0o700)) {
                // Flushed once, when made: a power cut must not take the
                // sessions' folder away with every session in it.
                Ok(()) => rustix::fs::fsync(root)?,
                Err(Errno::EXIST) => {}
                Err(errno) => return Err(errno.into()),
            }
            Ok(rustix::fs::openat(root, SESSIONS_DIR, DIR, Mode::empty())?)
        }
        other => Ok(other?),
    }
}

/// Opens the file nodes lock through each bookkeeping step (see the
/// module header), creating it on first use.
///
/// # Errors
/// It cannot be created or opened.
pub(super) fn open_bookkeeping_lock(dir: &OwnedFd) -> Result<OwnedFd, StorageError> {
    Ok(super::flock::open_lock_file(dir, LOCK_FILE)?)
}

/// This node's hold on the bookkeeping of every node: released when
/// dropped.
pub(super) struct BookkeepingLock<'a>(&'a OwnedFd);

impl BookkeepingLock<'_> {
    /// Waits until no other node is in a bookkeeping step (each is a few
    /// file-system calls), then holds the lock. Called on an I/O thread.
    ///
    /// # Errors
    /// The file system cannot lock.
    pub(super) fn take(file: &OwnedFd) -> Result<BookkeepingLock<'_>, StorageError> {
        rustix::fs::flock(file, FlockOperation::LockExclusive)?;
        Ok(BookkeepingLock(file))
    }
}

impl Drop for BookkeepingLock<'_> {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(self.0, FlockOperation::Unlock);
    }
}

/// A node's hold on one session (see the module header): an open file
/// description of its `.meta`, flock-ed; released when dropped.
#[derive(Debug)]
pub(super) struct SessionLock(#[allow(dead_code)] Flock);

/// Locks session `id` for this node, unless another node holds it:
/// `Ok(None)`.
///
/// # Errors
/// The record cannot be opened ([`StorageError::NoSuchUpload`] if it is
/// gone) or the file system cannot lock.
pub(super) fn try_lock_session(
    dir: &OwnedFd,
    id: &str,
) -> Result<Option<SessionLock>, StorageError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, meta_name(id), flags, Mode::empty()) {
        Ok(fd) => fd,
        // A tus upload stored since is not to be written again.
        Err(Errno::NOENT) => match read_stored(dir, id) {
            Ok(Some(record)) => return Err(StorageError::Stored(record.size)),
            _ => return Err(StorageError::NoSuchUpload),
        },
        Err(errno) => return Err(errno.into()),
    };
    Ok(Flock::take(fd, FlockOperation::NonBlockingLockExclusive)?.map(SessionLock))
}

/// How many bytes session `id` has staged: its data file's size; `None`
/// if it has none.
pub(super) fn staged_bytes(dir: &OwnedFd, id: &str) -> Option<u64> {
    data_size(dir, id).ok()
}

/// The size of session `id`'s data file.
///
/// # Errors
/// It cannot be looked at (`NOENT`: there is none).
pub(super) fn data_size(dir: &OwnedFd, id: &str) -> Result<u64, Errno> {
    let stat = rustix::fs::statat(dir, data_name(id), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(u64::try_from(stat.st_size).unwrap_or(0))
}

/// When session `id` was last used, by any node: its record's mtime.
pub(super) fn last_used(dir: &OwnedFd, id: &str) -> Option<i64> {
    rustix::fs::statat(dir, meta_name(id), AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|stat| stat.st_mtime)
}

/// The key session ids are made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdKey(pub [u8; 16]);

impl IdKey {
    /// The key of sessions directory `dir`, made (from the kernel's random
    /// numbers) if it has none yet. Made once and kept: a new key would
    /// lose every session's id.
    ///
    /// # Errors
    /// The key file cannot be read or written.
    pub(super) fn of(dir: &OwnedFd) -> Result<IdKey, StorageError> {
        if let Some(key) = read_key(dir)? {
            return Ok(key);
        }
        let mut key = [0u8; 16];
        let mut filled = 0;
        while filled < key.len() {
            filled +=
                rustix::rand::getrandom(&mut key[filled..], rustix::rand::GetRandomFlags::empty())?;
        }
        // Written aside and linked into place: the key file is whole or
        // absent, and if another process or thread made one meanwhile,
        // theirs wins. The aside name is this call's own (the key's first
        // bytes beside the process id): with the process id alone, two
        // threads making the key at once removed each other's, and one
        // request failed "no such file" (found by the history test).
        let temp = format!("{KEY_FILE}.{}.{}", std::process::id(), hex(&key[..4]));
        let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        let file = File::from(rustix::fs::openat(
            dir,
            temp.as_str(),
            create_flags(),
            record_mode(),
        )?);
        let written = (&file)
            .write_all(format!("{}\n", hex(&key)).as_bytes())
            .and_then(|()| file.sync_all());
        let linked = written.map_err(StorageError::from).and_then(|()| {
            match rustix::fs::linkat(dir, temp.as_str(), dir, KEY_FILE, AtFlags::empty()) {
                Ok(()) | Err(Errno::EXIST) => Ok(()),
                Err(errno) => Err(errno.into()),
            }
        });
        let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        linked?;
        let _ = rustix::fs::fsync(dir);
        read_key(dir)?.ok_or_else(|| StorageError::Io(io::Error::other("session key vanished")))
    }
}

fn read_key(dir: &OwnedFd) -> Result<Option<IdKey>, StorageError> {
    let text = match read_small(dir, KEY_FILE, 64) {
        Ok(text) => text,
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(errno.into()),
    };
    let damaged = || {
        StorageError::Io(io::Error::other(format!(
            "{SESSIONS_DIR}/{KEY_FILE} is damaged; remove it (sessions in progress are then lost)"
        )))
    };
    let digits = text.trim_end().as_bytes();
    if digits.len() != 32 {
        return Err(damaged());
    }
    let mut key = [0u8; 16];
    for (byte, pair) in key.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| damaged())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| damaged())?;
    }
    Ok(Some(IdKey(key)))
}

/// The session id for an upload: 16 hex digits, keyed by `key` over the
/// name, size and CRC, and the token it is `owner`'s where access control
/// is on (each token's upload is its own: its bytes count in its account);
/// `probe` picks the next candidate should an id be taken by another
/// upload (a one-in-2^64 chance). Without an owner, the id is what
/// versions before owners had a part in it made.
pub fn session_id(
    key: &IdKey,
    (name, owner): (&Name, Option<&str>),
    size: u64,
    crc: u32,
    probe: u32,
) -> String {
    let what: [&[u8]; 5] = [
        name.as_str().as_bytes(),
        &[0],
        &size.to_le_bytes(),
        &crc.to_le_bytes(),
        &probe.to_le_bytes(),
    ];
    match owner {
        None => keyed_id(key, &what),
        Some(owner) => keyed_id(
            key,
            &[&what[..], &[b"\x01owner\0", owner.as_bytes()]].concat(),
        ),
    }
}

/// 16 hex digits keyed by `key` over `parts`, one after the other: every
/// id that finds its session again by what it is for ([`session_id`], an
/// FTP upload kept: `session_kept.rs`).
pub(super) fn keyed_id(key: &IdKey, parts: &[&[u8]]) -> String {
    let mut hasher = SipHasher24::new_with_key(&key.0);
    for part in parts {
        std::hash::Hasher::write(&mut hasher, part);
    }
    format!("{:016x}", hasher.finish128().h1)
}

/// A session id that says nothing of its upload: 16 random hex digits,
/// for uploads that are new each time they are asked for (tus's creation),
/// where [`session_id`] finds the same session again for the same upload.
///
/// # Errors
/// The system's random source failed.
pub fn random_session_id() -> Result<String, StorageError> {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(hex(&bytes))
}

/// What a session's record (`<id>.meta`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub name: Name,
    pub size: u64,
    /// The whole file's CRC-32C, or `None` where the client did not say
    /// (a tus upload): then the staged bytes' own is recorded on commit.
    pub crc: Option<u32>,
    /// Who began it (sessions of older versions do not say).
    pub begun_by: BegunBy,
    /// When it began, in seconds since the epoch (sessions of older
    /// versions do not say).
    pub begun: Option<i64>,
    /// What its client said of it, kept for it as said (tus's
    /// `Upload-Metadata`: printable ASCII, no line breaks).
    pub meta: Option<String>,
    /// A multipart upload's completion: the digest of the parts it was
    /// completed from, in the mark it leaves ([`keep_as_completed`]).
    pub completed: Option<String>,
    /// How many times it was opened for writing (lines `opened <n>`
    /// appended, the last one's: [`mark_opened`]); 0 where none says.
    pub opened: u64,
}

impl Record {
    /// Whether it describes the upload of `name`, `size` bytes, `crc`,
    /// begun by `owner`.
    pub fn is_for(&self, (name, owner): (&Name, Option<&str>), size: u64, crc: u32) -> bool {
        self.name == *name
            && self.size == size
            && self.crc == Some(crc)
            && self.begun_by.owner.as_deref() == owner
    }

    /// The first line reads `<name> <size> <crc32c>`, with `-` for a CRC
    /// not given (which versions before tus read as a garbled record: a
    /// session they neither resume nor list).
    fn text(&self) -> String {
        let crc = self
            .crc
            .map_or_else(|| "-".to_owned(), |crc| format!("{crc:08x}"));
        let mut text = format!("{} {} {crc}\n", self.name.encoded(), self.size);
        if let Some(client) = self.begun_by.client {
            text += &format!("client {client}\n");
        }
        // After the client's line, which older versions read as the
        // second line: they can still resume these sessions.
        if let Some(owner) = &self.begun_by.owner {
            text += &format!("owner {owner}\n");
        }
        if let Some(link) = &self.begun_by.link {
            text += &format!("link {link}\n");
        }
        if let Some(begun) = self.begun {
            text += &format!("begun {begun}\n");
        }
        if let Some(meta) = &self.meta {
            text += &format!("meta {meta}\n");
        }
        if let Some(digest) = &self.completed {
            text += &format!("completed {digest}\n");
        }
        if self.opened > 0 {
            text += &format!("opened {}\n", self.opened);
        }
        text
    }

    fn parse(text: &str) -> Option<Record> {
        // The first line ends with its newline, or was cut short.
        let (first, rest) = text.split_once('\n')?;
        let mut fields = first.split(' ');
        let name = Name::decode(fields.next()?.as_bytes()).ok()?;
        let size = fields.next()?.parse().ok()?;
        let crc = match fields.next()? {
            "-" => None,
            hex => Some(u32::from_str_radix(hex, 16).ok()?),
        };
        let mut begun_by = BegunBy::default();
        let mut begun = None;
        let mut meta = None;
        let mut size = size;
        let mut completed = None;
        let mut opened = 0;
        // A size declared later (tus's creation-defer-length) and a
        // completion are lines appended whole: one cut short by a crash
        // was never written.
        for appended in rest.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            if let Some(n) = appended.trim_end().strip_prefix("size ") {
                size = n.parse().ok()?;
            } else if let Some(digest) = appended.trim_end().strip_prefix("completed ") {
                completed = Some(digest.to_owned());
            } else if let Some(n) = appended.trim_end().strip_prefix("opened ") {
                opened = n.parse().ok()?;
            }
        }
        for line in rest.lines() {
            // Read only where links are served: else none was begun here.
            #[cfg(feature = "shares")]
            if let Some(link) = line.strip_prefix("link ") {
                begun_by.link = Some(link.to_owned()).filter(|l| !l.is_empty());
            }
            if let Some(addr) = line.strip_prefix("client ") {
                begun_by.client = addr.parse().ok();
            } else if let Some(owner) = line.strip_prefix("owner ") {
                begun_by.owner = Some(owner.to_owned()).filter(|o| !o.is_empty());
            } else if let Some(secs) = line.strip_prefix("begun ") {
                begun = secs.parse().ok();
            } else if let Some(said) = line.strip_prefix("meta ") {
                meta = Some(said.to_owned());
            }
        }
        Some(Record {
            name,
            size,
            crc,
            begun_by,
            begun,
            meta,
            completed,
            opened,
        })
    }
}

/// Reads session `id`'s record: `Ok(None)` if it is cut short or garbled
/// (a process killed while writing it), which describes no session.
///
/// # Errors
/// `NOENT` if there is none; what reading it said otherwise.
pub(super) fn read_record(dir: &OwnedFd, id: &str) -> Result<Option<Record>, Errno> {
    read_record_in(dir, &meta_name(id))
}

/// The record of tus upload `id`, once stored (see [`keep_as_stored`]):
/// as [`read_record`].
///
/// # Errors
/// As [`read_record`].
pub(super) fn read_stored(dir: &OwnedFd, id: &str) -> Result<Option<Record>, Errno> {
    read_record_in(dir, &stored_name(id))
}

fn read_record_in(dir: &OwnedFd, file: &str) -> Result<Option<Record>, Errno> {
    match read_small(dir, file, MAX_RECORD) {
        Ok(text) => Ok(Record::parse(&text)),
        Err(Errno::INVAL) => Ok(None), // not UTF-8
        Err(errno) => Err(errno),
    }
}

/// Reads file `file` of `dir`, up to `limit` bytes, never through a
/// symlink. `INVAL` if it is not UTF-8.
fn read_small(dir: &OwnedFd, file: &str, limit: usize) -> Result<String, Errno> {
    let fd = rustix::fs::openat(
        dir,
        file,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // Records are small: one read, not a doubling from 32 bytes.
    let mut text = Vec::with_capacity(512);
    File::from(fd)
        .take(limit as u64)
        .read_to_end(&mut text)
        .map_err(|err| Errno::from_io_error(&err).unwrap_or(Errno::IO))?;
    String::from_utf8(text).map_err(|_| Errno::INVAL)
}

pub(super) fn data_name(id: &str) -> String {
    format!("{id}.data")
}

pub(super) fn meta_name(id: &str) -> String {
    format!("{id}.meta")
}

/// The name of a stored tus upload's record: kept a while after the
/// commit, so that a client whose last `PATCH` lost its answer learns
/// from `HEAD` that every byte arrived.
pub(super) fn stored_name(id: &str) -> String {
    format!("{id}.stored")
}

/// Keeps session `id`'s record as the mark of its upload, stored now
/// (its data file is in place already). Best effort: without it a `HEAD`
/// is answered `404`, as before marks.
pub(super) fn keep_as_stored(dir: &OwnedFd, id: &str) {
    let kept = rustix::fs::renameat(dir, meta_name(id), dir, stored_name(id));
    if kept.is_err() {
        let _ = rustix::fs::unlinkat(dir, meta_name(id), AtFlags::empty());
        return;
    }
    // Its age counts from the commit, not from the last use.
    touch_now(dir, &stored_name(id));
}

/// Keeps multipart upload `id`'s record as the mark of its completion
/// from the parts `digest` names (a line appended, then the record kept as
/// [`keep_as_stored`] keeps it), so that a client whose completion lost
/// its answer can send it again; its data file and parts go. Best effort:
/// without the mark a repeated completion is answered `NoSuchUpload`.
pub(super) fn keep_as_completed(dir: &OwnedFd, id: &str, digest: &str) {
    let appended = rustix::fs::openat(
        dir,
        meta_name(id),
        OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
    .and_then(|fd| File::from(fd).write_all(format!("completed {digest}\n").as_bytes()));
    if appended.is_ok() {
        keep_as_stored(dir, id);
    }
    let _ = rustix::fs::unlinkat(dir, meta_name(id), AtFlags::empty());
    let _ = rustix::fs::unlinkat(dir, data_name(id), AtFlags::empty());
    super::parts_folder::remove_parts(dir, id);
}

/// Creates session `id`'s files: the empty data file, then its record.
/// All or nothing: on any failure (a full disk) neither is left, so the
/// next `UPLOAD` starts cleanly. A kill in between leaves a data file
/// without a record: no session, removed at expiry. `durable`
/// (`--fsync`): the record and both names are flushed too; an `APPEND`
/// flushes only the data file's bytes.
pub(super) fn create(
    dir: &OwnedFd,
    id: &str,
    record: &Record,
    durable: bool,
) -> Result<(), StorageError> {
    let data = data_name(id);
    let created = (|| -> Result<(), StorageError> {
        // Created with the mode a PUT gives, since COMMIT renames it into
        // place; the 0700 sessions folder keeps it private until then.
        drop(rustix::fs::openat(
            dir,
            data.as_str(),
            create_flags(),
            stored_file_mode(),
        )?);
        write_record(dir, id, record, durable)
    })();
    if created.is_err() {
        remove(dir, id);
    }
    created
}

/// Writes session `id`'s record, its data file there already (made by
/// [`create`], or a cut upload's temp file moved in: `session_kept.rs`).
/// `durable` (`--fsync`): the record and both names are flushed too.
///
/// # Errors
/// A record of that id exists, or the file system's; the caller removes
/// what is left.
pub(super) fn write_record(
    dir: &OwnedFd,
    id: &str,
    record: &Record,
    durable: bool,
) -> Result<(), StorageError> {
    let file = File::from(rustix::fs::openat(
        dir,
        meta_name(id).as_str(),
        create_flags(),
        record_mode(),
    )?);
    (&file).write_all(record.text().as_bytes())?;
    if durable {
        file.sync_all()?;
        rustix::fs::fsync(dir)?;
    }
    Ok(())
}

/// Declares the size of session `id`, begun without one: a line added to
/// its record, which from then on reads with that size (see
/// [`Record::parse`]).
pub(super) fn declare_size(dir: &OwnedFd, id: &str, size: u64) -> Result<(), StorageError> {
    add_record_line(dir, id, &format!("size {size}\n"))
}

/// Records that session `id` was opened for writing the `n`th time: a
/// line added to its record, read back as [`Record::opened`] (as a size
/// declared later is). Under the bookkeeping lock, on every node.
pub(super) fn mark_opened(dir: &OwnedFd, id: &str, n: u64) -> Result<(), StorageError> {
    add_record_line(dir, id, &format!("opened {n}\n"))
}

/// Adds `line` to the end of session `id`'s record.
fn add_record_line(dir: &OwnedFd, id: &str, line: &str) -> Result<(), StorageError> {
    let file = File::from(rustix::fs::openat(
        dir,
        meta_name(id),
        OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?);
    (&file).write_all(line.as_bytes())?;
    Ok(())
}

/// Removes session `id`'s files, whichever exist, and the mark of its
/// upload stored.
pub(super) fn remove(dir: &OwnedFd, id: &str) {
    let _ = rustix::fs::unlinkat(dir, data_name(id), AtFlags::empty());
    let _ = rustix::fs::unlinkat(dir, meta_name(id), AtFlags::empty());
    let _ = rustix::fs::unlinkat(dir, stored_name(id), AtFlags::empty());
    super::parts_folder::remove_parts(dir, id);
}

fn create_flags() -> OFlags {
    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Session records are the server's own: private.
fn record_mode() -> Mode {
    Mode::from_raw_mode(0o600)
}

/// Marks a session as used now: its TTL counts from its last use.
pub(super) fn touch(dir: &OwnedFd, id: &str) {
    touch_now(dir, &meta_name(id));
}

/// Sets file `name` of `dir`'s times to now (best effort).
fn touch_now(dir: &OwnedFd, name: &str) {
    let now = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_NOW,
    };
    let times = rustix::fs::Timestamps {
        last_access: now,
        last_modification: now,
    };
    let _ = rustix::fs::utimensat(dir, name, &times, AtFlags::empty());
}

/// One entry of the sessions directory, as the index needs it.
pub(super) struct Found {
    pub id: String,
    /// Last use, seconds since the epoch.
    pub used: i64,
    /// Who began it; nobody for a leftover, or a session of an older
    /// version.
    pub begun_by: BegunBy,
    /// It holds no staged byte (a lone record holds none).
    pub empty: bool,
    /// Not a session: the mark of a tus upload stored at `used`.
    pub stored: bool,
}

/// Every session of `dir`, and every leftover half of one (a data file
/// without its record, or the reverse), so that expiry removes those too.
/// A session's age is its record's mtime; a lone data file's, its own.
pub(super) fn scan(dir: &OwnedFd) -> Vec<Found> {
    let Ok(entries) = rustix::fs::openat(dir, ".", DIR, Mode::empty()).and_then(Dir::new) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(file) = entry.file_name().to_str() else {
            continue;
        };
        if let Some(id) = file.strip_suffix(".stored")
            && let Ok(stat) = rustix::fs::statat(dir, file, AtFlags::SYMLINK_NOFOLLOW)
        {
            found.push(Found {
                id: id.to_owned(),
                used: stat.st_mtime,
                begun_by: BegunBy::default(),
                empty: true,
                stored: true,
            });
            continue;
        }
        let (id, is_record) = match (file.strip_suffix(".meta"), file.strip_suffix(".data")) {
            (Some(id), _) => (id, true),
            (_, Some(id)) => (id, false),
            _ => continue,
        };
        if !is_record && rustix::fs::statat(dir, meta_name(id), AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            continue; // a whole session: found by its record
        }
        let Ok(stat) = rustix::fs::statat(dir, file, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let (begun_by, empty) = match is_record {
            true => (
                read_record(dir, id)
                    .ok()
                    .flatten()
                    .map(|r| r.begun_by)
                    .unwrap_or_default(),
                // A multipart upload's bytes are in its parts until it
                // is completed.
                staged_bytes(dir, id).is_none_or(|bytes| bytes == 0)
                    && !super::parts_folder::holds_parts(dir, id),
            ),
            false => (BegunBy::default(), stat.st_size == 0),
        };
        found.push(Found {
            id: id.to_owned(),
            used: stat.st_mtime,
            begun_by,
            empty,
            stored: false,
        });
    }
    found
}

/// Records on a session's data file that its first `len` bytes have
/// CRC-32C `crc`. Best effort: without extended attributes, a COMMIT after
/// a restart reads the staged bytes again.
pub(super) fn record_staged(file: &File, len: u64, crc: u32) {
    let Ok(stat) = rustix::fs::fstat(file) else {
        return;
    };
    let text = format!("{len} {crc:08x} {}.{}", stat.st_mtime, stat.st_mtime_nsec);
    let _ = rustix::fs::fsetxattr(file, STAGED_ATTRIBUTE, text.as_bytes(), XattrFlags::empty());
}

/// Forgets the CRC recorded on a data file: bytes are about to be written
/// into what it covers (SFTP's writes anywhere), so it no longer holds.
pub(super) fn forget_staged(file: &File) {
    let _ = rustix::fs::fremovexattr(file, STAGED_ATTRIBUTE);
}

/// The CRC-32C of the first `len` bytes of a data file: from its record
/// where that covers them, reading only the bytes staged after the record
/// (an APPEND cut off by a crash), or all of them if there is no record.
///
/// A record of the whole file holds only while the file's modification
/// time is the one recorded, so staged bytes changed behind the server's
/// back are read again (and fail the COMMIT's check). Bytes staged after
/// a record change that time by necessity; a change to the bytes before
/// such a record would go unnoticed, but the directory is the server's
/// own (0700) and its sessions only grow.
///
/// Reads at most `limit` bytes: `Ok(None)` if it would have to read
/// more. `before_reading` runs before any byte is read (a test hook).
///
/// # Errors
/// Reading fails, or the file is shorter than `len`.
pub(super) fn staged_crc(
    file: &File,
    len: u64,
    limit: u64,
    before_reading: impl FnOnce(),
) -> io::Result<Option<u32>> {
    let (from, crc) = usable_record(file, len).unwrap_or((0, 0));
    if len - from > limit {
        return Ok(None);
    }
    if from < len {
        before_reading();
    }
    checksum::compute_from(file, from, len, crc).map(Some)
}

/// The recorded length and CRC, if they can stand for the first `len`
/// bytes (see [`staged_crc`]).
fn usable_record(file: &File, len: u64) -> Option<(u64, u32)> {
    let mut buf = [0u8; 64];
    let n = rustix::fs::fgetxattr(file, STAGED_ATTRIBUTE, &mut buf).ok()?;
    let mut fields = std::str::from_utf8(&buf[..n]).ok()?.split(' ');
    let at: u64 = fields.next()?.parse().ok()?;
    let crc = u32::from_str_radix(fields.next()?, 16).ok()?;
    let mtime = fields.next()?;
    let stat = rustix::fs::fstat(file).ok()?;
    let whole = u64::try_from(stat.st_size) == Ok(at);
    if at > len || (whole && mtime != format!("{}.{}", stat.st_mtime, stat.st_mtime_nsec)) {
        return None;
    }
    Some((at, crc))
}

/// Refuses what cannot be a session id before it goes near a path: every
/// id this module hands out is a plain hex word; anything else (a `/`, a
/// dot...) names no session.
pub(super) fn check_id(id: &str) -> Result<(), StorageError> {
    match !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        true => Ok(()),
        false => Err(StorageError::NoSuchUpload),
    }
}

pub(super) use crate::model::now_seconds;

#[cfg(test)]
mod tests {
    use super::*;

    fn record(crc: Option<u32>, meta: Option<&str>) -> Record {
        Record {
            name: Name::decode(b"photos/a b.jpg").unwrap(),
            size: 1234,
            crc,
            begun_by: BegunBy {
                client: "127.0.0.1".parse().ok(),
                owner: Some("alice".into()),
                #[cfg(feature = "shares")]
                link: meta.map(|_| "k3yOfAL1nk".into()),
                #[cfg(not(feature = "shares"))]
                link: None,
            },
            begun: Some(1_795_000_000),
            meta: meta.map(str::to_owned),
            completed: None,
            opened: 0,
        }
    }

    #[test]
    fn records_read_back_as_written_with_or_without_a_crc_and_metadata() {
        for crc in [Some(0x0abc_def0), None] {
            for meta in [None, Some("filename YS5qcGc=,type aW1hZ2UvanBlZw==")] {
                let written = record(crc, meta);
                assert_eq!(Record::parse(&written.text()), Some(written.clone()));
            }
        }
        // The first line as versions before tus wrote it still reads.
        let old = Record::parse("a.txt 5 0000002a\nclient 10.0.0.1\n").unwrap();
        assert_eq!((old.crc, old.meta), (Some(42), None));
        // A CRC neither hex nor `-` is a garbled record.
        assert_eq!(Record::parse("a.txt 5 zz\n"), None);
    }

    #[test]
    fn a_size_declared_later_is_read_only_once_its_line_is_whole() {
        let begun = record(None, None);
        let deferred = Record {
            size: u64::MAX,
            ..begun.clone()
        };
        let text = deferred.text();
        assert_eq!(Record::parse(&format!("{text}size 1234\n")), Some(begun));
        assert_eq!(
            Record::parse(&format!("{text}size 12")),
            Some(deferred.clone())
        );
        // A completion's line, whole or cut short.
        let completed = Record {
            completed: Some("ab12".into()),
            ..deferred.clone()
        };
        assert_eq!(Record::parse(&completed.text()), Some(completed.clone()));
        assert_eq!(
            Record::parse(&format!("{text}completed ab12\n")),
            Some(completed)
        );
        assert_eq!(
            Record::parse(&format!("{text}completed ab")),
            Some(deferred)
        );
    }

    #[test]
    fn random_ids_look_like_the_others_and_differ() {
        let a = random_session_id().unwrap();
        let b = random_session_id().unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
