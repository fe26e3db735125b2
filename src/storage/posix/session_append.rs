//! An APPEND's bytes into its session: what it asks ([`Appending`]),
//! the session read once under its hold and judged there (admitted,
//! unexpired, at its offset, within its size, declared first where the
//! APPEND declares it), and the [`FileAppender`] that writes them; the
//! CRC-32C of what is staged, kept by this process's APPENDs or read back.
//!
//! Must never write past the session's size, anywhere but its end unless
//! asked (`Appending::anywhere`: then no CRC recorded before stands), nor
//! into a session another node holds or one being committed.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};

use super::gate::Point;
use super::reserve::ReserveAsWritten;
use super::session_files::{self as files, check_id, now_seconds};
use super::session_state::{FileAppender, Live, RECORD_EVERY};
use super::sessions::touch;
use super::usage::Change;
use super::{Storage, StorageError};
use crate::access::quota::Quota;
use crate::model::SessionTtl;
use crate::model::{DEFERRED_SIZE, SessionInfo};
use crate::storage::unwritten::Unwritten;

/// What an APPEND asks of its session ([`Storage::append`]).
#[derive(Debug, Clone, Copy)]
pub struct Appending {
    /// Where its bytes go: where the session stands.
    pub offset: u64,
    /// How many.
    pub len: u64,
    /// The sessions' TTL: an expired session takes none. `None` for a
    /// session's first bytes, sent as it is begun.
    pub ttl: Option<SessionTtl>,
    /// The upload's size, declared by this APPEND (tus's
    /// creation-defer-length).
    pub size: Option<u64>,
    /// Its `len` bytes are counted in the ledger before they arrive,
    /// judged against this quota of the writing token's (and the folders'
    /// above): [`Storage::count_staged_ahead`]. `None` for a length to
    /// come (a resumed `STOR`), counted write by write instead
    /// ([`FileAppender::count_as_written`]).
    pub ahead: Option<Quota>,
    /// Its bytes go at `offset` wherever that is (SFTP's `WRITE`): before,
    /// at or past where the session stands, a hole left reading as zeros;
    /// the session then holds up to the highest end written, only that
    /// growth is counted ahead, and its CRC-32C is no longer kept as bytes
    /// come: its commit reads the staged bytes once.
    pub anywhere: bool,
}

impl Storage {
    /// Opens session `id` for an APPEND's bytes (`asked`). An APPEND
    /// still streaming into the session is cut off: its next write fails.
    /// The session's record is read once, with the session held, and all
    /// that is judged by it is judged there: whether the client may write
    /// it (`admit`: the caller's rule), whether it has expired (it is then
    /// removed), the size the APPEND declares, and where the bytes go.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] for an unknown session,
    /// [`StorageError::Expired`] for one untouched past its TTL,
    /// [`StorageError::WrongOffset`] if `offset` is not where the session
    /// stands, [`StorageError::PastEnd`] if the bytes would run past the
    /// declared size, [`StorageError::Committing`] while it is committed;
    /// [`declare_size`]'s; and whatever `admit` refuses.
    pub fn append<E: From<StorageError>>(
        &self,
        id: &str,
        asked: Appending,
        admit: impl FnOnce(&SessionInfo) -> Result<(), E>,
    ) -> Result<(FileAppender, SessionInfo), E> {
        self.pause(Point::Session);
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let mut index = self.sessions.bookkeeping(&dir)?;
        let live = self.sessions.get_or_new(id);
        let (ticket, took_over, (info, ahead), unwritten) = {
            let mut held = live.held();
            if live.is_committing() {
                return Err(StorageError::Committing.into());
            }
            Live::hold(&mut held, &dir, id)?;
            // An older APPEND's write under way lands first, and it writes
            // no more once this one owns the session: what it counted
            // ahead and did not write is this one's to take on.
            let mut turn = live.turn();
            // Read only once the session is this node's: another node's
            // APPEND that just ended flushed its bytes before it let go,
            // so the offset checked here is where the bytes will land.
            let mut expired = false;
            let checked = self
                .session_in_checked(&dir, id)
                .map_err(E::from)
                .and_then(|info| admit(&info).map(|()| info))
                .and_then(|info| {
                    let appendable = self.appendable(&dir, &live, info, asked);
                    expired = matches!(appendable, Err(StorageError::Expired));
                    Ok(appendable?)
                })
                .and_then(|info| match asked.ahead {
                    Some(quota) => {
                        let growth = growth_of(&info, asked);
                        let taken_on = turn.left().min(growth);
                        let counted = self.count_staged_ahead(&info, growth - taken_on, quota)?;
                        Ok((info, counted + turn.hand_on(taken_on)))
                    }
                    None => Ok((info, 0)),
                });
            match checked {
                Ok(checked) => {
                    self.sessions.keep(id, &live);
                    let unwritten = Arc::new(Unwritten::new(checked.1));
                    *turn = Arc::clone(&unwritten);
                    let (ticket, took_over) = live.take_over();
                    (ticket, took_over, checked, unwritten)
                }
                Err(err) => {
                    if expired {
                        // Its lock and the books held: nobody else uses it.
                        self.remove_session(&dir, &mut index, id);
                    }
                    drop(turn);
                    if !live.busy() {
                        *held = None;
                    }
                    return Err(err);
                }
            }
        };
        if took_over {
            log::info!("upload session {id}: a new APPEND takes over from one still open");
        }
        if info.received > 0 {
            index.mark_staged(id);
        }
        touch(&dir, &mut index, id);
        // Not waited for with every session's books held.
        drop(index);
        let settled = match took_over && !asked.anywhere {
            true => settled_where_read(&dir, &live, &info),
            false => Ok(()),
        };
        let file = settled.and_then(|()| Ok(open_data(&dir, id, asked.anywhere)?));
        let file = match file {
            Ok(file) => file,
            Err(err) => {
                // What a newer APPEND took on meanwhile is its to give back.
                let ahead = {
                    let _turn = live.turn();
                    unwritten.take_rest()
                };
                live.release(ticket);
                if let Some(count) = self.staged_count(&info) {
                    count.count(Change::reserved(ahead, -1));
                }
                return Err(err.into());
            }
        };
        let appender = self.appender(file, (live, ticket), (&info, ahead, unwritten), asked);
        Ok((appender, info))
    }

    /// The appender of an APPEND (`asked`) that owns session `info` with
    /// `ticket`, its data file open, `ahead` bytes counted before they
    /// arrive.
    fn appender(
        &self,
        file: File,
        (live, ticket): (Arc<Live>, u64),
        (info, ahead, unwritten): (&SessionInfo, u64, Arc<Unwritten>),
        asked: Appending,
    ) -> FileAppender {
        let crc = crc_at_start(&live, &file, asked);
        FileAppender {
            id: info.id.clone(),
            file,
            live,
            ticket,
            start: info.received,
            at: asked.anywhere.then_some(asked.offset),
            start_crc: crc,
            crc,
            written: 0,
            recorded: info.received,
            shared: self.round_trips,
            gate: self.gate.clone(),
            counted: self.staged_count(info),
            ahead,
            unwritten,
            cut: false,
            reserve: ReserveAsWritten::default(),
            ahead_quota: None,
        }
    }

    /// Whether `info`, a session as read under its lock, takes the bytes
    /// `asked`: not stored, unexpired (else the caller removes it), at
    /// their offset, within its size (declared first, where the APPEND
    /// declares it).
    fn appendable(
        &self,
        dir: &OwnedFd,
        live: &Live,
        mut info: SessionInfo,
        asked: Appending,
    ) -> Result<SessionInfo, StorageError> {
        let Appending {
            offset,
            len,
            ttl,
            size,
            ..
        } = asked;
        if info.stored {
            return Err(StorageError::Stored(info.size));
        }
        // A multipart upload's data file holds its parts in their places
        // (`part_slots.rs`): no APPEND writes there.
        if super::parts_folder::has_parts(dir, &info.id) {
            return Err(StorageError::NoSuchUpload);
        }
        let used = files::last_used(dir, &info.id).unwrap_or_else(now_seconds);
        // A session streamed into is in use, whatever its age.
        if !live.busy() && ttl.is_some_and(|ttl| ttl.has_expired(used, info.received)) {
            log::info!("upload session {} expired", info.id);
            return Err(StorageError::Expired);
        }
        if let Some(size) = size {
            declare_size(dir, &mut info, size)?;
        }
        if offset != info.received && !asked.anywhere {
            return Err(StorageError::WrongOffset(info.received));
        }
        if offset.checked_add(len).is_none_or(|end| end > info.size) {
            return Err(StorageError::PastEnd(info.size));
        }
        Ok(info)
    }
}

impl Storage {
    /// Declares the size of session `id`, begun without one, on its own
    /// (not with an APPEND's bytes: an FTP upload kept to go on with,
    /// whose size is what it holds once its stream ends).
    ///
    /// # Errors
    /// As [`declare_size`]'s; the session is unknown.
    pub fn declare_session_size(
        &self,
        id: &str,
        size: u64,
        opener: Option<u64>,
    ) -> Result<(), StorageError> {
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let _books = self.sessions.bookkeeping(&dir)?;
        let mut info = self.session_in(&dir, id)?;
        info.opened_by(opener)?;
        declare_size(&dir, &mut info, size)
    }
}

/// Declares `info`'s size, begun with [`DEFERRED_SIZE`] (tus's
/// creation-defer-length); declaring the size it has already is no
/// change. Under the bookkeeping lock: two declarations at once, the
/// second sees the first.
///
/// # Errors
/// [`StorageError::SizeDeclared`] if it has another size already,
/// [`StorageError::PastEnd`] if more bytes are staged than `size`; the
/// record cannot be written.
fn declare_size(dir: &OwnedFd, info: &mut SessionInfo, size: u64) -> Result<(), StorageError> {
    match info.size {
        known if known == size => return Ok(()),
        DEFERRED_SIZE => {}
        known => return Err(StorageError::SizeDeclared(known)),
    }
    if info.received > size {
        return Err(StorageError::PastEnd(size));
    }
    files::declare_size(dir, &info.id, size)?;
    info.size = size;
    Ok(())
}

/// Whether session `info`, taken over from an older APPEND still
/// streaming in here, stands where it was read: that one's write under
/// way when it was cut off ends first (the session's turn,
/// [`Live::turn`]), and may have moved it on. Its later writes find the
/// session another's.
///
/// # Errors
/// [`StorageError::WrongOffset`] where it moved on (the client asks
/// again where it stands); the data file cannot be looked at.
fn settled_where_read(dir: &OwnedFd, live: &Live, info: &SessionInfo) -> Result<(), StorageError> {
    let _turn = live.turn();
    match files::data_size(dir, &info.id)? {
        now if now == info.received => Ok(()),
        now => Err(StorageError::WrongOffset(now)),
    }
}

/// Session `id`'s data file, open for an APPEND's bytes: at its end
/// (`O_APPEND`), or anywhere.
fn open_data(dir: &OwnedFd, id: &str, anywhere: bool) -> rustix::io::Result<File> {
    let mut flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if !anywhere {
        flags |= OFlags::APPEND;
    }
    let fd = rustix::fs::openat(dir, files::data_name(id), flags, Mode::empty())?;
    Ok(File::from(fd))
}

/// The CRC-32C of what an APPEND (`asked`) finds staged, where worth
/// knowing: reading back what a crash left unrecorded is worth it only if
/// that is little (otherwise the COMMIT computes the CRC once). Bytes
/// written anywhere may change what a CRC kept covers: none stands then.
fn crc_at_start(live: &Live, file: &File, asked: Appending) -> Option<u32> {
    if asked.anywhere {
        files::forget_staged(file);
        *live.progress.lock().unwrap_or_else(|e| e.into_inner()) = None;
        return None;
    }
    staged_crc(live, file, asked.offset, RECORD_EVERY, || {})
        .ok()
        .flatten()
}

/// How many bytes the APPEND `asked` adds to session `info`: all of them
/// at its end; written anywhere, only those past it.
pub(crate) fn growth_of(info: &SessionInfo, asked: Appending) -> u64 {
    match asked.anywhere {
        true => (asked.offset.saturating_add(asked.len)).saturating_sub(info.received),
        false => asked.len,
    }
}

/// The CRC-32C of the first `len` staged bytes of a session: kept by the
/// APPENDs of this process, or else from the data file (see
/// [`files::staged_crc`], which reads at most `limit` bytes: `Ok(None)` if
/// it would have to read more).
pub(super) fn staged_crc(
    live: &Live,
    file: &File,
    len: u64,
    limit: u64,
    before_reading: impl FnOnce(),
) -> io::Result<Option<u32>> {
    let kept = *live.progress.lock().unwrap_or_else(|e| e.into_inner());
    match kept {
        Some((at, crc)) if at == len => Ok(Some(crc)),
        _ => files::staged_crc(file, len, limit, before_reading),
    }
}
