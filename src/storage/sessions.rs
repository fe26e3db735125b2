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
//! A session untouched for the upload TTL is removed.
//!
//! Committing verifies the size and CRC-32C, then moves the data into the
//! same hidden temp-file slot a plain PUT uses and commits it exactly like a
//! PUT: atomically, with its checksum recorded, durably with `--fsync`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::gate::Point;
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
    /// session's files as one step.
    bookkeeping: Mutex<()>,
}

impl Sessions {
    fn bookkeeping(&self) -> MutexGuard<'_, ()> {
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
}

impl Appender {
    /// Stages body bytes.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] on a full disk, [`StorageError::Io`] on
    /// other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
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
    fn drop(&mut self) {
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
    /// untouched for longer than `ttl`.
    ///
    /// # Errors
    /// A conflict if `name` cannot be a file (a directory, or beneath a
    /// file); no space, no descriptors or I/O if the session cannot be
    /// created.
    pub fn begin_session(
        &self,
        name: &Name,
        size: u64,
        crc: u32,
        ttl: Duration,
    ) -> Result<SessionInfo, StorageError> {
        self.pause(Point::Session);
        let _bookkeeping = self.sessions.bookkeeping();
        let dir = self.sessions_dir()?;
        self.expire_sessions(&dir, ttl);
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
                Ok(existing) if existing == meta => {
                    found = Some(id);
                    break;
                }
                Ok(existing) if existing.ends_with('\n') => {} // another upload's
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
                // Refuse now what a commit would refuse later.
                self.check_can_be_file(name)?;
                self.remove_session(&dir, &id);
                create_session(&dir, &id, &meta)?;
                id
            }
            (None, None) => {
                return Err(StorageError::Io(io::Error::other("session id collision")));
            }
        };
        let info = self.session(&id)?;
        touch(&dir, &id);
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
        let mut fields = meta.trim_end().split(' ');
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
        let _bookkeeping = self.sessions.bookkeeping();
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
        let crc = match *live.progress.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, crc)) if at == offset => Some(crc),
            None if offset == 0 => Some(0),
            _ => None,
        };
        let dir = self.sessions_dir()?;
        touch(&dir, id);
        let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let opened = rustix::fs::openat(&dir, format!("{id}.data"), flags, Mode::empty());
        let file = match opened {
            Ok(fd) => File::from(fd),
            Err(errno) => {
                live.release(ticket);
                return Err(errno.into());
            }
        };
        let appender = Appender {
            file,
            live,
            ticket,
            start: offset,
            crc,
            written: 0,
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
        let _bookkeeping = self.sessions.bookkeeping();
        let info = self.session(id)?;
        if info.received != info.size {
            return Err(StorageError::Incomplete(info.received, info.size));
        }
        let live = self.sessions.get(id);
        if live.as_ref().is_some_and(|l| l.busy()) {
            return Err(StorageError::SessionBusy);
        }
        let dir = self.sessions_dir()?;
        let known = live
            .as_ref()
            .and_then(|l| *l.progress.lock().unwrap_or_else(|e| e.into_inner()))
            .filter(|&(at, _)| at == info.size)
            .map(|(_, crc)| crc);
        let staged = match known {
            Some(crc) => crc,
            None => {
                let file = File::from(rustix::fs::openat(
                    &dir,
                    format!("{id}.data"),
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?);
                checksum::compute(&file, info.size)?
            }
        };
        if staged != info.crc {
            self.remove_session(&dir, id);
            return Err(StorageError::ChecksumMismatch(staged, info.crc));
        }
        let mut upload = self.begin_upload(&info.name)?;
        upload.adopt(&dir, &format!("{id}.data"))?;
        self.remove_session(&dir, id);
        Ok((upload, info))
    }

    /// Removes a session and its staged bytes; an APPEND still streaming
    /// into it is cut off (it no longer owns the session).
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is no such session.
    pub fn abort_session(&self, id: &str) -> Result<(), StorageError> {
        self.pause(Point::Session);
        let _bookkeeping = self.sessions.bookkeeping();
        self.session(id)?;
        if let Some(live) = self.sessions.get(id) {
            live.take_over();
        }
        let dir = self.sessions_dir()?;
        self.remove_session(&dir, id);
        Ok(())
    }

    fn remove_session(&self, dir: &OwnedFd, id: &str) {
        let _ = rustix::fs::unlinkat(dir, format!("{id}.data"), AtFlags::empty());
        let _ = rustix::fs::unlinkat(dir, format!("{id}.meta"), AtFlags::empty());
        self.sessions.live().remove(id);
    }

    /// Removes upload sessions untouched for longer than `ttl` (at startup;
    /// later, whenever a session begins). Returns how many went.
    pub fn expire_upload_sessions(&self, ttl: Duration) -> usize {
        let _bookkeeping = self.sessions.bookkeeping();
        match rustix::fs::openat(&*self.root, SESSIONS_DIR, DIR, Mode::empty()) {
            Ok(dir) => self.expire_sessions(&dir, ttl),
            Err(_) => 0,
        }
    }

    /// Removes sessions whose meta file is older than `ttl`; returns how
    /// many. Busy sessions are left alone. The caller holds the
    /// bookkeeping lock.
    fn expire_sessions(&self, dir: &OwnedFd, ttl: Duration) -> usize {
        let Some(cutoff) = SystemTime::now().checked_sub(ttl) else {
            return 0;
        };
        let cutoff = cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut expired = Vec::new();
        let Ok(entries) = rustix::fs::openat(dir, ".", DIR, Mode::empty()).and_then(Dir::new)
        else {
            return 0;
        };
        for entry in entries.flatten() {
            let Ok(file) = entry.file_name().to_str() else {
                continue;
            };
            let Some(id) = file.strip_suffix(".meta") else {
                continue;
            };
            let stale = rustix::fs::statat(dir, file, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| stat.st_mtime < cutoff);
            let busy = self.sessions.get(id).is_some_and(|l| l.busy());
            if stale && !busy {
                expired.push(id.to_owned());
            }
        }
        for id in &expired {
            log::info!("upload session {id} expired");
            self.remove_session(dir, id);
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
fn touch(dir: &OwnedFd, id: &str) {
    let _ = rustix::fs::utimensat(dir, format!("{id}.meta"), &now_times(), AtFlags::empty());
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
