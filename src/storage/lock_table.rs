//! WebDAV's lock table as the seam shows it ([`LockTable`]): the live
//! locks read (on the loop where this node's copy is known fresh, else on
//! the pool) and changed as one check-and-change under the table's lock,
//! whatever engine keeps it. A change's caller decides what to write from
//! the locks as they stand at that moment ([`LockTable::change`]), so two
//! nodes never both grant an exclusive lock on one name; and held still
//! ([`LockTable::steady`]) by a write that judges the lock rule and then
//! changes what it judged, so no lock is granted in between.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::shared_hold::SharedHold;
use super::{Edit, StorageError};
use crate::model::DavLock;

/// What a change is told and what it answers: the live locks and the
/// time, then the records to write and remove, or `None` to change
/// nothing.
pub type Decide<'a> = &'a mut dyn FnMut(&[DavLock], i64) -> Option<Edit>;

/// The locks of a root; see the module's header.
pub trait LockTable: Send + Sync {
    /// Now, in Unix seconds, as lock expiry counts it.
    fn now(&self) -> i64;

    /// The table, if this node's copy is known to be current without
    /// waiting (callable on the reactor); `None`: ask
    /// [`LockTable::current`] on the pool.
    fn fresh(&self) -> Option<Arc<[DavLock]>>;

    /// The table, read again if this node's copy may be stale.
    ///
    /// # Errors
    /// It cannot be read.
    fn current(&self) -> Result<Arc<[DavLock]>, StorageError>;

    /// The table as it stands, held still until the [`Steady`] is
    /// dropped: no lock is granted, refreshed or let go, on this node or
    /// another, while a write judges the lock rule and makes its change
    /// (an upload's rename). Holds side by side with other such holds.
    /// Hold one at a time on a thread, and briefly: every change waits.
    ///
    /// # Errors
    /// The table cannot be held or read.
    fn steady(&self) -> Result<(Steady<'_>, Arc<[DavLock]>), StorageError>;

    /// Changes the table as `decide`, given it fresh under the table's
    /// lock, says.
    ///
    /// # Errors
    /// The table cannot be read or written (on a read-only server, never).
    fn edit(&self, decide: Decide<'_>) -> Result<(), StorageError>;
}

/// A lock table held still ([`LockTable::steady`]) until dropped: this
/// node's share of a shared `flock` of the file every change locks
/// exclusively (`shared_hold.rs`: a table on a file system, which other
/// nodes may share), or the mutex of a table in memory.
#[must_use = "the table is held still only while this lives"]
#[derive(Debug)]
pub struct Steady<'a> {
    _file: Option<SharedHold<'a>>,
    _memory: Option<MutexGuard<'a, Arc<[DavLock]>>>,
}

impl<'a> Steady<'a> {
    /// Held by a share of a file's lock (none where nothing can change
    /// the table).
    pub(super) fn by_file(hold: Option<SharedHold<'a>>) -> Steady<'a> {
        Steady {
            _file: hold,
            _memory: None,
        }
    }

    /// Held by the mutex of a table in memory.
    pub(super) fn in_memory(table: MutexGuard<'a, Arc<[DavLock]>>) -> Steady<'a> {
        Steady {
            _file: None,
            _memory: Some(table),
        }
    }
}

/// How long a walk holds the table still at a stretch ([`Stretches`]).
const STRETCH: Duration = Duration::from_millis(50);

/// How long it then lets it go: a change that waited (a LOCK's exclusive
/// `flock`, woken by the release) takes it in microseconds; taken again
/// at once, the walk would win the race every time.
const LET_IN: Duration = Duration::from_millis(1);

/// The table held still through a walk that judges and changes member by
/// member (a folder's removal), in stretches of [`STRETCH`]: each member
/// judged on the table as held, a change that waits let in between
/// stretches (a LOCK waits for one, not the walk), the table read again
/// after. For a walk on a file system whose members are removed under no
/// other lock (the memory store holds its whole removal under its tree's
/// mutex, and the table once, before it).
pub(super) struct Stretches<'a> {
    table: &'a dyn LockTable,
    held: Option<(Steady<'a>, Arc<[DavLock]>, Instant)>,
}

impl<'a> Stretches<'a> {
    pub(super) fn new(table: &'a dyn LockTable) -> Stretches<'a> {
        Stretches { table, held: None }
    }

    /// The table, held still until the next call at least.
    ///
    /// # Errors
    /// It cannot be held or read.
    pub(super) fn table(&mut self) -> Result<&[DavLock], StorageError> {
        if self
            .held
            .as_ref()
            .is_some_and(|(.., since)| since.elapsed() >= STRETCH)
        {
            self.held = None;
            std::thread::sleep(LET_IN);
        }
        let (_, table, _) = match self.held.take() {
            Some(held) => self.held.insert(held),
            None => {
                let (steady, table) = self.table.steady()?;
                self.held.insert((steady, table, Instant::now()))
            }
        };
        Ok(table)
    }
}

impl dyn LockTable + '_ {
    /// Changes the table as `decide` says, or not where it refuses: its
    /// answer, or its refusal.
    ///
    /// # Errors
    /// `decide`'s refusal, or the table's failure.
    pub fn change<T, E: From<StorageError>>(
        &self,
        decide: impl FnOnce(&[DavLock], i64) -> Result<(T, Edit), E>,
    ) -> Result<T, E> {
        decided(|callback| self.edit(callback), decide)
    }
}

/// A table's check-and-change (`edit`, which hands its callback the rows
/// as they stand under the table's lock and writes what it answers)
/// driven by `decide`, whose answer is a value and the change, or a
/// refusal: the value or the refusal, carried out of the callback. The
/// lock table's and the link table's `change`.
///
/// # Errors
/// `decide`'s refusal, or `edit`'s failure.
pub(super) fn decided<Row, Change, T, E: From<StorageError>>(
    edit: impl FnOnce(&mut dyn FnMut(&[Row], i64) -> Option<Change>) -> Result<(), StorageError>,
    decide: impl FnOnce(&[Row], i64) -> Result<(T, Change), E>,
) -> Result<T, E> {
    let mut decide = Some(decide);
    let mut answer = None;
    edit(&mut |rows, now| {
        let (decided, change) = match decide.take()?(rows, now) {
            Ok((value, change)) => (Ok(value), Some(change)),
            Err(refusal) => (Err(refusal), None),
        };
        answer = Some(decided);
        change
    })?;
    answer.unwrap_or_else(|| Err(StorageError::Io(std::io::Error::other("no decision")).into()))
}
