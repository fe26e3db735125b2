//! Resumable uploads: upload sessions whose bytes are staged on disk, so an
//! interrupted large upload continues where it stopped, across dropped
//! connections and server restarts, instead of starting over.
//!
//! A session is identified by what it uploads: its id is derived from the
//! target name, size and CRC-32C, so a client that starts the same upload
//! again gets the same session back and only needs to ask how far it got.
//! Its bytes live in `<root>/.ferry-uploads/<id>.data`, described by
//! `<id>.meta` (`<encoded name> <size> <crc32c>`); the directory is reserved
//! (`.ferry-` prefix), so no client name can reach it and LIST skips it.
//! A session untouched for the upload TTL is removed; an index in memory
//! (`session_index.rs`) knows every session's age and owner, so expiry and
//! the caps on live sessions cost no directory scan.
//!
//! The CRC-32C of the staged bytes is kept as they arrive and recorded on
//! the data file when an APPEND ends (as `checksum.rs` records a stored
//! file's), so an APPEND or COMMIT after a restart goes on from it instead
//! of reading the staged bytes again.
//!
//! Committing verifies the size and CRC-32C, then moves the data into the
//! same hidden temp-file slot a plain PUT uses and commits it exactly like a
//! PUT: atomically, with its checksum recorded, durably with `--fsync`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::gate::{Gate, Point};
use super::session_index::Index;
use super::{DIR, Storage, StorageError, Upload, checksum, stored_file_mode};
use crate::name::{self, Name};

/// The directory, beneath the root, that holds staged uploads.
pub const SESSIONS_DIR: &str = ".ferry-uploads";

/// What the server remembers about a session between requests. Only a
/// cache: after a restart everything is read back from disk.
#[derive(Debug, Default)]
struct Live {
    /// The ticket of the APPEND streaming into it, 0 for none. A newer
    /// APPEND takes the session over: the older one's connection is most
    /// likely gone without a word (a silent network drop), and its client
    /// is the one asking again.
    owner: AtomicU64,
    /// The last ticket handed out.
    tickets: AtomicU64,
    /// CRC-32C of the staged bytes and how many that is, if known.
    progress: Mutex<Option<(u64, u32)>>,
}

/// The sessions known to this server process.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// Held through each UPLOAD, APPEND start, COMMIT, ABORT and expiry:
    /// they run on several I/O threads, and each reads and changes a
    /// session's files (and the index) as one step.
    bookkeeping: Mutex<Index>,
}

/// What bounds the sessions an `UPLOAD` may begin.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Sessions untouched for longer are removed.
    pub ttl: Duration,
    /// Most sessions at once.
    pub total: usize,
    /// Most sessions begun by one client address.
    pub per_client: usize,
    /// The client asking.
    pub client: IpAddr,
}

impl Sessions {
    fn bookkeeping(&self) -> MutexGuard<'_, Index> {
        self.bookkeeping.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Live>> {
        self.live().get(id).cloned()
    }
}

/// A session as its meta file describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (16 hex digits).
    pub id: String,
    /// Where the file goes on commit.
    pub name: Name,
    /// Its full size.
    pub size: u64,
    /// Its CRC-32C, checked on commit.
    pub crc: u32,
    /// Bytes staged so far.
    pub received: u64,
}

/// An APPEND streaming into a session.
#[derive(Debug)]
pub struct Appender {
    file: File,
    live: Arc<Live>,
    /// Which APPEND this is; it may write only while it owns the session.
    ticket: u64,
    /// Bytes staged when this APPEND began, and their CRC if known.
    start: u64,
    crc: Option<u32>,
    written: u64,
    /// A test's hold on writes (see [`super::gate`]).
    gate: Option<Arc<Gate>>,
}

impl Appender {
    /// Stages body bytes.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] on a full disk, [`StorageError::Io`] on
    /// other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        if let Some(gate) = &self.gate {
            gate.pass(Point::Write);
        }
        if !self.owns_session() {
            return Err(StorageError::Superseded);
        }
        let written = self.file.write_all(data);
        if written.is_err() {
            self.crc = None; // some of it may have been written
        } else {
            self.written += data.len() as u64;
            self.crc = self.crc.map(|crc| crc32c::crc32c_append(crc, data));
        }
        // Kept current, so an APPEND that takes over continues the CRC.
        if let Ok(mut progress) = self.live.progress.lock() {
            *progress = self.crc.map(|crc| (self.start + self.written, crc));
        }
        written.map_err(StorageError::from)
    }

    fn owns_session(&self) -> bool {
        self.live.owner.load(Ordering::SeqCst) == self.ticket
    }

    /// Bytes staged in the session now.
    pub fn received(&self) -> u64 {
        self.start + self.written
    }
}

impl Drop for Appender {
    /// Whatever arrived stays staged (that is the point), with its running
    /// CRC for the next APPEND or the commit; the session is free again,
    /// unless a newer APPEND owns it already.
    /// The CRC is also recorded on the data file for after a restart,
    /// unless a newer APPEND has written since (the record would not match
    /// the file's size, and is not made).
    fn drop(&mut self) {
        if let Some(crc) = self.crc
            && self.owns_session()
        {
            checksum::record_at(&self.file, self.received(), crc);
        }
        self.live.release(self.ticket);
    }
}

impl Live {
    fn busy(&self) -> bool {
        self.owner.load(Ordering::SeqCst) != 0
    }

    /// Makes a new APPEND the owner, cutting off any older one; returns its
    /// ticket and whether it took the session from another.
    fn take_over(&self) -> (u64, bool) {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let previous = self.owner.swap(ticket, Ordering::SeqCst);
        (ticket, previous != 0)
    }

    /// Frees the session, unless a newer APPEND owns it already.
    fn release(&self, ticket: u64) {
        let _ = self
            .owner
            .compare_exchange(ticket, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

impl Storage {
    /// Starts the upload of `name` (`size` bytes with CRC-32C `crc`), or
    /// finds the session that already stages it. Also removes sessions
    /// untouched for longer than the TTL.
    ///
    /// # Errors
    /// [`StorageError::TooManySessions`] if a new session would exceed
    /// `limits`; a conflict if `name` cannot be a file (a directory, or
    /// beneath a file); no space, no descriptors or I/O if the session
    /// cannot be created.
    pub fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.pause(Point::Session);
        let mut index = self.sessions.bookkeeping();
        let dir = self.sessions_dir()?;
        self.load_index(&dir, &mut index);
        self.expire_sessions(&dir, &mut index, limits.ttl);
        let meta = format!("{} {size} {crc:08x}\n", name.encoded());
        // Ids are derived from the upload, so the same upload finds its
        // session again; an upload whose id is taken by another (by chance,
        // or crafted) uses the next free candidate instead of failing. Every
        // candidate is looked at, since the one taken may have gone since.
        let mut free = None;
        let mut found = None;
        for probe in 0..ID_PROBES {
            let id = session_id(name, size, crc, probe);
            match read_small(&dir, &format!("{id}.meta")) {
                Ok(existing) if first_line(&existing) == Some(meta.as_str()) => {
                    found = Some(id);
                    break;
                }
                Ok(existing) if first_line(&existing).is_some() => {} // another upload's
                // Missing, or cut short by a process killed while writing it:
                // describes nothing, so the session can be made here anew.
                Ok(_) | Err(Errno::NOENT) => {
                    free.get_or_insert(id);
                }
                Err(errno) => return Err(errno.into()),
            }
        }
        let id = match (found, free) {
            (Some(id), _) => id,
            (None, Some(id)) => {
                check_room(&index, limits)?;
                // Refuse now what a commit would refuse later.
                self.check_can_be_file(name)?;
                self.remove_session(&dir, &mut index, &id);
                let owner = format!("client {}\n", limits.client);
                create_session(&dir, &id, &(meta + &owner))?;
                index.insert(&id, now_seconds(), Some(limits.client));
                id
            }
            (None, None) => {
                return Err(StorageError::Io(io::Error::other("session id collision")));
            }
        };
        let info = self.session(&id)?;
        touch(&dir, &mut index, &id);
        Ok(info)
    }

    /// Reads a session's description and progress.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session.
    pub fn session(&self, id: &str) -> Result<SessionInfo, StorageError> {
        // Every id this module hands out is a plain hex word; anything else
        // (a `/`, a dot...) names no session, and never a path.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StorageError::NoSuchUpload);
        }
        let dir = self.sessions_dir()?;
        let meta = read_small(&dir, &format!("{id}.meta")).map_err(|errno| match errno {
            Errno::NOENT => StorageError::NoSuchUpload,
            other => other.into(),
        })?;
        let bad = || StorageError::Io(io::Error::other(format!("malformed session {id}")));
        let mut fields = first_line(&meta).ok_or_else(bad)?.trim_end().split(' ');
        let name = fields
            .next()
            .and_then(|n| Name::decode(n.as_bytes()).ok())
            .ok_or_else(bad)?;
        let size = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let crc = fields
            .next()
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .ok_or_else(bad)?;
        let data = rustix::fs::statat(&dir, format!("{id}.data"), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|_| StorageError::NoSuchUpload)?;
        // Planted: its size is not bytes received, and it is never opened.
        match rustix::fs::FileType::from_raw_mode(data.st_mode) {
            rustix::fs::FileType::RegularFile => {}
            rustix::fs::FileType::Symlink => return Err(StorageError::Symlink),
            _ => return Err(StorageError::NotRegular),
        }
        Ok(SessionInfo {
            id: id.to_owned(),
            name,
            size,
            crc,
            received: u64::try_from(data.st_size).unwrap_or(0),
        })
    }

    /// Opens session `id` for `len` bytes at `offset`. An APPEND still
    /// streaming into the session is cut off: its next write fails.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] for an unknown session,
    /// [`StorageError::WrongOffset`] if `offset` is not where the session
    /// stands, [`StorageError::PastEnd`] if the bytes would run past the
    /// declared size.
    pub fn append(
        &self,
        id: &str,
        offset: u64,
        len: u64,
    ) -> Result<(Appender, SessionInfo), StorageError> {
        self.pause(Point::Session);
        let mut index = self.sessions.bookkeeping();
        let info = self.session(id)?;
        if offset != info.received {
            return Err(StorageError::WrongOffset(info.received));
        }
        if offset.checked_add(len).is_none_or(|end| end > info.size) {
            return Err(StorageError::PastEnd(info.size));
        }
        let live = Arc::clone(self.sessions.live().entry(id.to_owned()).or_default());
        let (ticket, took_over) = live.take_over();
        if took_over {
            log::info!("upload session {id}: a new APPEND takes over from one still open");
        }
        let dir = self.sessions_dir()?;
        touch(&dir, &mut index, id);
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = rustix::fs::openat(&dir, format!("{id}.data"), flags, Mode::empty());
        let file = match opened {
            Ok(fd) => File::from(fd),
            Err(errno) => {
                live.release(ticket);
                return Err(errno.into());
            }
        };
        let crc = staged_crc(Some(&live), &file, offset);
        let appender = Appender {
            file,
            live,
            ticket,
            start: offset,
            crc,
            written: 0,
            gate: self.gate.clone(),
        };
        Ok((appender, info))
    }

    /// Verifies a complete session and turns it into an [`Upload`] ready to
    /// commit like a PUT's. Returns it with its size and CRC-32C.
    ///
    /// # Errors
    /// Unknown, incomplete or busy; [`StorageError::ChecksumMismatch`] if
    /// the staged bytes do not match the CRC-32C (the session is then
    /// removed); [`StorageError::IsDirectory`] if the name became one.
    pub fn finish_session(&self, id: &str) -> Result<(Upload, SessionInfo), StorageError> {
        self.pause(Point::Session);
        let mut index = self.sessions.bookkeeping();
        let info = self.session(id)?;
        if info.received != info.size {
            return Err(StorageError::Incomplete(info.received, info.size));
        }
        let live = self.sessions.get(id);
        if live.as_ref().is_some_and(|l| l.busy()) {
            return Err(StorageError::SessionBusy);
        }
        let dir = self.sessions_dir()?;
        let file = File::from(rustix::fs::openat(
            &dir,
            format!("{id}.data"),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
        let staged = match staged_crc(live.as_deref(), &file, info.size) {
            Some(crc) => crc,
            None => {
                self.pause(Point::Checksum);
                checksum::compute(&file, info.size)?
            }
        };
        if staged != info.crc {
            self.remove_session(&dir, &mut index, id);
            return Err(StorageError::ChecksumMismatch(staged, info.crc));
        }
        let mut upload = self.begin_upload(&info.name)?;
        upload.adopt(&dir, &format!("{id}.data"))?;
        self.remove_session(&dir, &mut index, id);
        Ok((upload, info))
    }

    /// Removes a session and its staged bytes; an APPEND still streaming
    /// into it is cut off (it no longer owns the session).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session.
    pub fn abort_session(&self, id: &str) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let mut index = self.sessions.bookkeeping();
        self.session(id)?;
        if let Some(live) = self.sessions.get(id) {
            live.take_over();
        }
        let dir = self.sessions_dir()?;
        self.remove_session(&dir, &mut index, id);
        Ok(())
    }

    fn remove_session(&self, dir: &OwnedFd, index: &mut Index, id: &str) {
        let _ = rustix::fs::unlinkat(dir, format!("{id}.data"), AtFlags::empty());
        let _ = rustix::fs::unlinkat(dir, format!("{id}.meta"), AtFlags::empty());
        self.sessions.live().remove(id);
        index.remove(id);
    }

    /// Reads the sessions directory into the index, then removes
    /// sessions untouched for longer than `ttl`; returns how many went.
    /// Run at startup (off the loop); later, every `UPLOAD` expires from
    /// the index.
    pub fn expire_upload_sessions(&self, ttl: Duration) -> usize {
        let mut index = self.sessions.bookkeeping();
        match rustix::fs::openat(&*self.root, SESSIONS_DIR, DIR, Mode::empty()) {
            Ok(dir) => {
                self.load_index(&dir, &mut index);
                self.expire_sessions(&dir, &mut index, ttl)
            }
            Err(_) => 0,
        }
    }

    /// Reads every session of directory `dir` into `index`, once: its age
    /// from its meta file's mtime, its owner from the file's second line.
    fn load_index(&self, dir: &OwnedFd, index: &mut Index) {
        if index.is_loaded() {
            return;
        }
        index.set_loaded();
        let Ok(entries) = rustix::fs::openat(dir, ".", DIR, Mode::empty()).and_then(Dir::new)
        else {
            return;
        };
        for entry in entries.flatten() {
            let Some(id) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|f| f.strip_suffix(".meta"))
            else {
                continue;
            };
            let meta = format!("{id}.meta");
            let Ok(stat) = rustix::fs::statat(dir, meta.as_str(), AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let client = read_small(dir, &meta).ok().and_then(|text| owner(&text));
            index.insert(id, stat.st_mtime, client);
        }
    }

    /// Removes sessions last used before `ttl` ago, found in the index;
    /// returns how many. Busy sessions are left alone. The caller holds the
    /// bookkeeping lock.
    fn expire_sessions(&self, dir: &OwnedFd, index: &mut Index, ttl: Duration) -> usize {
        let Some(cutoff) = SystemTime::now().checked_sub(ttl) else {
            return 0;
        };
        let cutoff = cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let expired: Vec<String> = index
            .used_before(cutoff)
            .filter(|id| !self.sessions.get(id).is_some_and(|l| l.busy()))
            .map(str::to_owned)
            .collect();
        for id in &expired {
            log::info!("upload session {id} expired");
            self.remove_session(dir, index, id);
        }
        expired.len()
    }

    /// The sessions directory, created on first use.
    fn sessions_dir(&self) -> Result<OwnedFd, StorageError> {
        match rustix::fs::openat(&self.root, SESSIONS_DIR, DIR, Mode::empty()) {
            Err(Errno::NOENT) => {
                match rustix::fs::mkdirat(&self.root, SESSIONS_DIR, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(errno) => return Err(errno.into()),
                }
                Ok(rustix::fs::openat(
                    &self.root,
                    SESSIONS_DIR,
                    DIR,
                    Mode::empty(),
                )?)
            }
            other => Ok(other?),
        }
    }
}

/// Refuses a sessions folder that is not a plain directory (a symlink, a
/// file): every session open refuses to follow it, so uploads would fail
/// one by one with puzzling errors; better to say so at start-up.
///
/// # Errors
/// What it is instead, naming the path.
pub(super) fn check_sessions_dir(root: &OwnedFd, path: &std::path::Path) -> io::Result<()> {
    match rustix::fs::statat(root, SESSIONS_DIR, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()), // made when first needed
        Err(errno) => Err(errno.into()),
        Ok(stat) => {
            let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
            if kind == rustix::fs::FileType::Directory {
                return Ok(());
            }
            let what = match kind {
                rustix::fs::FileType::Symlink => "a symlink",
                _ => "not a directory",
            };
            Err(io::Error::other(format!(
                "{} is {what}: ferry keeps upload sessions in a directory of that name and follows no symlink; move it away",
                path.join(SESSIONS_DIR).display()
            )))
        }
    }
}

/// The session id for an upload: 16 hex digits from the name, size and
/// CRC; `probe` picks the next candidate after a collision (0 gives the ids
/// earlier versions gave, so their sessions are found again).
pub fn session_id(name: &Name, size: u64, crc: u32, probe: u32) -> String {
    let key = match probe {
        0 => format!("{} {size} {crc:08x}", name.as_str()),
        _ => format!("{} {size} {crc:08x} {probe}", name.as_str()),
    };
    let high = crc32c::crc32c(key.as_bytes());
    let low = crc32c::crc32c_append(high ^ 0x5bd1_e995, key.as_bytes());
    format!("{high:08x}{low:08x}")
}

fn read_small(dir: &OwnedFd, file: &str) -> Result<String, Errno> {
    let fd = rustix::fs::openat(
        dir,
        file,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = vec![0; 2 * name::MAX_NAME + 64];
    let n = rustix::io::read(&fd, &mut buf)?;
    buf.truncate(n);
    String::from_utf8(buf).map_err(|_| Errno::INVAL)
}

/// Candidate ids tried for one upload before giving up.
const ID_PROBES: u32 = 16;

/// Creates session `id`'s files: the empty data file, then its description.
/// All or nothing: on any failure (a full disk) neither is left, so the
/// next `UPLOAD` starts cleanly.
fn create_session(dir: &OwnedFd, id: &str, meta: &str) -> Result<(), StorageError> {
    let data_name = format!("{id}.data");
    let meta_name = format!("{id}.meta");
    let created = (|| -> Result<(), StorageError> {
        // Created with the mode a PUT gives, since COMMIT renames it into
        // place; the 0700 sessions folder keeps it private until then.
        drop(rustix::fs::openat(
            dir,
            data_name.as_str(),
            create_flags(),
            stored_file_mode(),
        )?);
        let file = File::from(rustix::fs::openat(
            dir,
            meta_name.as_str(),
            create_flags(),
            metadata_mode(),
        )?);
        (&file).write_all(meta.as_bytes())?;
        Ok(())
    })();
    if created.is_err() {
        let _ = rustix::fs::unlinkat(dir, data_name.as_str(), AtFlags::empty());
        let _ = rustix::fs::unlinkat(dir, meta_name.as_str(), AtFlags::empty());
    }
    created
}

fn create_flags() -> OFlags {
    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Session metadata is the server's own: private.
fn metadata_mode() -> Mode {
    Mode::from_raw_mode(0o600)
}

/// Marks a session as used now: its TTL counts from its last use.
fn touch(dir: &OwnedFd, index: &mut Index, id: &str) {
    let _ = rustix::fs::utimensat(dir, format!("{id}.meta"), &now_times(), AtFlags::empty());
    index.touch(id, now_seconds());
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The first line of a meta file, with its newline: the session's
/// description. `None` if it was cut short.
fn first_line(meta: &str) -> Option<&str> {
    meta.find('\n').map(|end| &meta[..=end])
}

/// The client that began a session, from its meta file's `client <addr>`
/// line.
fn owner(meta: &str) -> Option<IpAddr> {
    meta.lines().nth(1)?.strip_prefix("client ")?.parse().ok()
}

/// Whether `limits` leave room for one more session.
fn check_room(index: &Index, limits: &SessionLimits) -> Result<(), StorageError> {
    if index.len() >= limits.total {
        return Err(StorageError::TooManySessions(None));
    }
    if index.of_client(limits.client) >= limits.per_client {
        return Err(StorageError::TooManySessions(Some(limits.per_client)));
    }
    Ok(())
}

/// The CRC-32C of the first `len` staged bytes of a session, if known
/// without reading them: kept by the APPENDs of this process, or recorded
/// on the data file by an earlier one.
fn staged_crc(live: Option<&Live>, file: &File, len: u64) -> Option<u32> {
    let kept = live.and_then(|live| *live.progress.lock().unwrap_or_else(|e| e.into_inner()));
    match kept {
        Some((at, crc)) if at == len => Some(crc),
        _ if len == 0 => Some(0),
        _ => checksum::recorded_at(file, len),
    }
}

fn now_times() -> rustix::fs::Timestamps {
    let now = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_NOW,
    };
    rustix::fs::Timestamps {
        last_access: now,
        last_modification: now,
    }
}
