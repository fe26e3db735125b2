//! What a node holds in memory of its upload sessions, and its holds on
//! them: the per-session state (`Live`: which APPEND owns a session, its
//! running CRC, this node's lock on it), the map of them with the
//! bookkeeping lock (`Sessions`, `Books`), an APPEND streaming in
//! (`FileAppender`); a session being committed is `staging.rs`'s. What
//! happens to a session is `sessions.rs`'s; how it is written down,
//! `session_files.rs`'s.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

#[cfg(doc)]
use super::FileUpload;
use super::StorageError;
use super::gate::{Gate, Point};
use super::reserve::ReserveAsWritten;
use super::session_files::{self as files, BookkeepingLock, IdKey, SessionLock};
use super::session_index::Index;
use super::usage_counts::StagedCount;
use crate::storage::unwritten::Unwritten;
use crate::{access::quota::Quota, formats::castagnoli};

/// How often a long APPEND records the CRC of what it has staged, in
/// bytes: what a COMMIT after a crash reads again at most.
pub const RECORD_EVERY: u64 = 16 * 1024 * 1024;

/// What the server remembers about a session between requests. Only a
/// cache: after a restart everything is read back from disk.
#[derive(Debug, Default)]
pub(super) struct Live {
    /// The ticket of the APPEND streaming into it, 0 for none. A newer
    /// APPEND takes the session over: the older one's connection is most
    /// likely gone without a word (a silent network drop), and its client
    /// is the one asking again.
    pub(super) owner: AtomicU64,
    /// The last ticket handed out.
    pub(super) tickets: AtomicU64,
    /// A COMMIT is under way: nothing else may touch the session.
    pub(super) committing: AtomicBool,
    /// CRC-32C of the staged bytes and how many that is, if known.
    pub(super) progress: Mutex<Option<(u64, u32)>>,
    /// This node's lock on the session, held while an APPEND owns it or a
    /// COMMIT runs; changed together with `owner` under this mutex.
    pub(super) held: Mutex<Option<SessionLock>>,
    /// Its last APPEND here failed for want of space (ENOSPC, EDQUOT):
    /// it expires as soon as an empty session does, unless used again.
    pub(super) out_of_space: AtomicBool,
    /// Held by the owning APPEND through each act on the data file (a
    /// write, a record, a cut back), from its look at who owns the
    /// session on; and by a newer APPEND that took the session over from
    /// one, as it looks again where the session stands
    /// ([`Live::turn`]): the older one's write under way lands before
    /// that look, never after it. It holds what the owning APPEND counted
    /// ahead and has not written, for a newer one to take on.
    turn: Mutex<Arc<Unwritten>>,
}

/// The sessions known to this server process.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// Held through each UPLOAD, APPEND start, COMMIT's checks and end,
    /// ABORT and expiry: they run on several I/O threads, and each reads
    /// and changes a session's files (and the index) as one step.
    bookkeeping: Mutex<Index>,
    /// The root's id key, once read (or made).
    key: OnceLock<IdKey>,
    /// The file every node locks through a bookkeeping step, once opened.
    lock_file: OnceLock<OwnedFd>,
    /// The index's size after the last bookkeeping step, for the metrics:
    /// read without the lock, which a step holds through disk work.
    known: AtomicU64,
}

/// The index, held through a bookkeeping step by this thread among this
/// node's, and by this node among the root's.
pub(super) struct Books<'a> {
    index: MutexGuard<'a, Index>,
    known: &'a AtomicU64,
    _nodes: BookkeepingLock<'a>,
}

impl std::ops::Deref for Books<'_> {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.index
    }
}

impl std::ops::DerefMut for Books<'_> {
    fn deref_mut(&mut self) -> &mut Index {
        &mut self.index
    }
}

impl Drop for Books<'_> {
    fn drop(&mut self) {
        self.known.store(self.index.len() as u64, Ordering::Relaxed);
    }
}

impl Sessions {
    /// Upload sessions in the index: those this node began, and those it
    /// found at start-up or in a later step.
    pub(super) fn known(&self) -> u64 {
        self.known.load(Ordering::Relaxed)
    }

    /// Begins a bookkeeping step on sessions directory `dir`: waits for
    /// this node's other threads, then for the other nodes.
    ///
    /// # Errors
    /// The lock file cannot be opened or locked.
    pub(super) fn bookkeeping(&self, dir: &OwnedFd) -> Result<Books<'_>, StorageError> {
        let index = self.bookkeeping.lock().unwrap_or_else(|e| e.into_inner());
        let file = match self.lock_file.get() {
            Some(file) => file,
            None => {
                let file = files::open_bookkeeping_lock(dir)?;
                self.lock_file.get_or_init(|| file)
            }
        };
        Ok(Books {
            index,
            known: &self.known,
            _nodes: BookkeepingLock::take(file)?,
        })
    }

    pub(super) fn live(&self) -> MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, id: &str) -> Option<Arc<Live>> {
        self.live().get(id).cloned()
    }

    /// What this node knows of session `id`, or a blank to fill, which
    /// is remembered only once [`Sessions::keep`] says the session is
    /// real: ids that name nothing must not grow the map.
    pub(super) fn get_or_new(&self, id: &str) -> Arc<Live> {
        self.get(id).unwrap_or_default()
    }

    /// Remembers `live` for session `id` (the caller holds the bookkeeping
    /// lock, so no other thread made one meanwhile).
    pub(super) fn keep(&self, id: &str, live: &Arc<Live>) {
        self.live()
            .entry(id.to_owned())
            .or_insert_with(|| Arc::clone(live));
    }

    pub(super) fn is_committing(&self, id: &str) -> bool {
        self.get(id).is_some_and(|live| live.is_committing())
    }

    /// The id key of sessions directory `dir`; the caller holds the
    /// bookkeeping lock, so it is made at most once.
    pub(super) fn key(&self, dir: &OwnedFd) -> Result<IdKey, StorageError> {
        if let Some(key) = self.key.get() {
            return Ok(*key);
        }
        let key = IdKey::of(dir)?;
        Ok(*self.key.get_or_init(|| key))
    }
}

/// An APPEND streaming into a session.
#[derive(Debug)]
pub struct FileAppender {
    /// The session's id.
    pub(super) id: String,
    pub(super) file: File,
    pub(super) live: Arc<Live>,
    /// Which APPEND this is; it may write only while it owns the session.
    pub(super) ticket: u64,
    /// Bytes staged when this APPEND began, and their CRC if known.
    pub(super) start: u64,
    /// Where its next bytes go if written anywhere (else `O_APPEND`).
    pub(super) at: Option<u64>,
    pub(super) start_crc: Option<u32>,
    /// The CRC of the bytes staged so far, if known.
    pub(super) crc: Option<u32>,
    pub(super) written: u64,
    /// How many staged bytes the CRC recorded on the data file covers.
    pub(super) recorded: u64,
    /// Flush the bytes before answering even without `--fsync`: other
    /// nodes may read the data file through their own cache.
    pub(super) shared: bool,
    /// A test's hold on writes (see [`super::gate`]).
    pub(super) gate: Option<Arc<Gate>>,
    /// Where its bytes count in the usage ledger, until they are counted
    /// (when it ends); `None` where usage is not counted.
    pub(super) counted: Option<StagedCount>,
    /// Bytes counted in the ledger before they arrived (its length, for
    /// an APPEND of a known one): netted against what it staged as it
    /// ends, less what a newer APPEND took on.
    pub(super) ahead: u64,
    /// What of `ahead` it has not written, shared with the session while
    /// it owns it ([`Live::turn`]).
    pub(super) unwritten: Arc<Unwritten>,
    /// A write failed: some of its bytes may have been staged all the
    /// same (the data file says how many).
    pub(super) cut: bool,
    /// Where a length to come takes room for each write
    /// ([`FileAppender::reserve_as_written`]).
    pub(super) reserve: ReserveAsWritten,
    /// A length to come counts each write in the ledger before it is
    /// made, judged against this quota of the writing token's (and the
    /// folders' above): [`FileAppender::count_as_written`].
    pub(super) ahead_quota: Option<Quota>,
}

impl FileAppender {
    /// Stages body bytes.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] on a full disk, [`StorageError::Io`] on
    /// other I/O errors.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        if let Some(gate) = &self.gate {
            gate.pass(Point::Write);
        }
        let written = self.write_as_owner(data)?;
        if self.received() - self.recorded >= RECORD_EVERY {
            self.record();
        }
        written.map_err(StorageError::from)
    }

    /// [`FileAppender::write`]'s act on the data file, in the session's
    /// turn: refused if a newer APPEND owns it; the write's own failure
    /// in the inner result.
    fn write_as_owner(&mut self, data: &[u8]) -> Result<std::io::Result<()>, StorageError> {
        self.as_owner(|this| this.write_owned(data))?
    }

    /// [`FileAppender::write_as_owner`]'s act, in the turn, as the owner.
    fn write_owned(&mut self, data: &[u8]) -> Result<std::io::Result<()>, StorageError> {
        if let Some(gate) = &self.gate {
            gate.pass(Point::Owning);
        }
        // Refused before a byte of it is written: what is staged stands.
        self.take_room(data.len())?;
        let injected = self.gate.as_ref().and_then(|gate| gate.fault(Point::Write));
        let written = match (injected, self.at) {
            (Some(errno), _) => Err(std::io::Error::from(errno)),
            (None, Some(at)) => std::os::unix::fs::FileExt::write_all_at(&self.file, data, at),
            (None, None) => self.file.write_all(data),
        };
        let full = written.as_ref().is_err_and(|err| {
            matches!(
                rustix::io::Errno::from_io_error(err),
                Some(rustix::io::Errno::NOSPC | rustix::io::Errno::DQUOT)
            )
        });
        self.live.out_of_space.store(full, Ordering::Relaxed);
        if written.is_err() {
            self.crc = None; // some of it may have been written
            self.cut = true;
        } else if let Some(end) = self.at.map(|at| at + data.len() as u64) {
            self.at = Some(end); // written anywhere: up to the highest end
            self.written = self.written.max(end.saturating_sub(self.start));
        } else {
            self.written += data.len() as u64;
            self.crc = self.crc.map(|crc| castagnoli::append(crc, data));
        }
        // Kept current for an APPEND that takes over; by the owner alone.
        if let Ok(mut progress) = self.live.progress.lock() {
            *progress = self.crc.map(|crc| (self.received(), crc));
        }
        self.unwritten.set(self.unwritten_left());
        Ok(written)
    }

    /// Makes an APPEND of a length to come (a resumed `STOR`) take room
    /// from the disk reserve for each write before it makes it
    /// (`reserve.rs`).
    pub fn reserve_as_written(&mut self, reserve: ReserveAsWritten) {
        self.reserve = reserve;
    }

    /// Makes an APPEND of a length to come (a resumed `STOR`) count each
    /// write in the usage ledger before it makes it, judged against
    /// `quota` (the writing token's) and the folders' above: it stops at
    /// a quota, keeping nothing past it. Nothing where usage is not
    /// counted.
    pub fn count_as_written(&mut self, quota: Quota) {
        self.ahead_quota = Some(quota);
    }

    /// Room for `len` more bytes: the disk reserve's, and where counted
    /// ahead, the quotas'.
    fn take_room(&mut self, len: usize) -> Result<(), StorageError> {
        self.reserve.take(len)?;
        if let (Some(quota), Some(counted)) = (self.ahead_quota, &self.counted) {
            counted.count_ahead(len as u64, quota)?;
            self.ahead += len as u64;
        }
        Ok(())
    }

    /// What of its count-ahead it has not written: none once a write
    /// failed (some of it may have landed), and none to hand on then.
    fn unwritten_left(&self) -> u64 {
        match self.cut {
            true => 0,
            false => self.ahead.saturating_sub(self.written),
        }
    }

    fn owns_session(&self) -> bool {
        self.live.owner.load(Ordering::SeqCst) == self.ticket
    }

    /// Runs `act` in the session's turn ([`Live::turn`]) if this APPEND
    /// still owns the session: a newer APPEND that takes over waits for
    /// it to end, and it never acts once that one owns the session.
    ///
    /// # Errors
    /// [`StorageError::Superseded`]: a newer APPEND owns the session.
    fn as_owner<T>(&mut self, act: impl FnOnce(&mut Self) -> T) -> Result<T, StorageError> {
        let live = Arc::clone(&self.live);
        let _turn = live.turn();
        match self.owns_session() {
            true => Ok(act(self)),
            false => Err(StorageError::Superseded),
        }
    }

    /// The id of the session it stages into.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Bytes staged in the session now as its data file says: after a
    /// failed write, what [`FileAppender::received`] counts and whatever part
    /// of that write landed.
    pub fn staged(&self) -> u64 {
        self.file
            .metadata()
            .map_or(self.received(), |meta| meta.len())
    }

    /// Bytes staged in the session now.
    pub fn received(&self) -> u64 {
        self.start + self.written
    }

    /// Records the CRC of the bytes staged so far on the data file, for a
    /// COMMIT after a restart; not once a newer APPEND owns the session.
    fn record(&mut self) {
        let _ = self.as_owner(|this| {
            if let Some(crc) = this.crc
                && this.recorded != this.received()
            {
                files::record_staged(&this.file, this.received(), crc);
                this.recorded = this.received();
            }
        });
    }

    /// Takes back what this APPEND staged (its bytes did not match the
    /// checksum its client stated): the session stands where it stood
    /// when the APPEND began. Not if a newer APPEND owns the session by
    /// now (its bytes are not this one's to take).
    ///
    /// # Errors
    /// The data file cannot be cut back.
    pub fn discard(mut self) -> Result<(), StorageError> {
        self.as_owner(|this| {
            this.file.set_len(this.start)?;
            this.written = 0;
            this.unwritten.set(this.unwritten_left());
            this.crc = this.start_crc;
            if let Ok(mut progress) = this.live.progress.lock() {
                *progress = this.crc.map(|crc| (this.start, crc));
            }
            // Drop records the CRC of what is staged now, if it is known.
            Ok(())
        })?
    }

    /// Ends a complete APPEND: records its CRC and, with `durable`
    /// (`--fsync`), flushes the staged bytes to stable storage, so that the
    /// `received` it answers survives a power failure too. On a file
    /// system other nodes may share (network, FUSE) they are flushed in any
    /// case, so that the offset answered is the one every node sees.
    ///
    /// # Errors
    /// The flush fails (the bytes stay staged; `UPLOAD` tells how many).
    pub fn finish(mut self, durable: bool) -> Result<u64, StorageError> {
        self.record();
        self.count_staged();
        if durable || self.shared {
            self.file.sync_all()?;
        }
        Ok(self.received())
    }
}

impl Drop for FileAppender {
    /// Whatever arrived stays staged (that is the point), with its running
    /// CRC for the next APPEND or the commit; the session is free again,
    /// unless a newer APPEND owns it already.
    fn drop(&mut self) {
        self.record();
        self.count_staged();
        self.live.release(self.ticket);
    }
}

impl FileAppender {
    /// Counts the bytes it staged in the usage ledger, once: when it ends
    /// (on the I/O pool), or is dropped cut off, less those counted ahead
    /// (what a cut or refused APPEND did not stage is given back). Counted
    /// once, not per write: a ledger change is a locked read and write
    /// per account.
    fn count_staged(&mut self) {
        if let Some(counted) = self.counted.take() {
            let staged = match self.cut {
                true => self.staged().saturating_sub(self.start),
                false => self.written,
            };
            // What a newer APPEND took on is its to give back.
            let handed_on = {
                let _turn = self.live.turn();
                self.unwritten_left()
                    .saturating_sub(self.unwritten.take_rest())
            };
            let ahead = self.ahead.saturating_sub(handed_on);
            let change = super::usage::Change::staged(staged, 1);
            counted.count(change.plus(super::usage::Change::reserved(ahead, -1)));
        }
    }
}

impl Live {
    pub(super) fn busy(&self) -> bool {
        self.owner.load(Ordering::SeqCst) != 0
    }

    pub(super) fn is_committing(&self) -> bool {
        self.committing.load(Ordering::SeqCst)
    }

    /// Makes a new APPEND the owner, cutting off any older one; returns its
    /// ticket and whether it took the session from another.
    pub(super) fn take_over(&self) -> (u64, bool) {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let previous = self.owner.swap(ticket, Ordering::SeqCst);
        (ticket, previous != 0)
    }

    /// Frees the session, unless a newer APPEND owns it already; with
    /// nothing else using it here, other nodes may have it again.
    pub(super) fn release(&self, ticket: u64) {
        let mut held = self.held();
        let freed = self
            .owner
            .compare_exchange(ticket, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if freed && !self.is_committing() {
            *held = None;
        }
    }

    /// The session's turn on its data file (see `turn`): brief, a write
    /// at most, or a newer APPEND's look at the session and judgement.
    pub(super) fn turn(&self) -> MutexGuard<'_, Arc<Unwritten>> {
        self.turn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn held(&self) -> MutexGuard<'_, Option<SessionLock>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure this node holds the session's lock (see `held`).
    ///
    /// # Errors
    /// [`StorageError::InUseElsewhere`] if another node holds it.
    pub(super) fn hold(
        held: &mut Option<SessionLock>,
        dir: &OwnedFd,
        id: &str,
    ) -> Result<(), StorageError> {
        if held.is_none() {
            *held = Some(files::try_lock_session(dir, id)?.ok_or(StorageError::InUseElsewhere)?);
        }
        Ok(())
    }
}
