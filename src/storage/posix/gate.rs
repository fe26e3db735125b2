//! A test hook that makes the disk slow on purpose, deterministically.
//!
//! A [`Gate`] armed at a [`Point`] holds every storage call that reaches
//! that point until the test opens it. A test can then wait until a request
//! is held there ("the slow disk call is in progress"), show that other
//! clients are still served, and let the call go. Timing plays no part, so
//! the tests that prove the reactor never waits on the disk cannot flake.
//!
//! A gate made with [`Gate::failing`] holds nothing: it makes the calls
//! that reach its point fail with an error of the test's choosing (EIO,
//! EMFILE, ENOSPC), at the few points that consult it ([`Point::ReadSession`],
//! an APPEND's [`Point::Write`], an archive member's [`Point::Open`]...),
//! so a test can show what a request does when the disk fails under it;
//! [`Gate::failing_call`] fails one call only, the others passing.
//!
//! Servers carry a gate only when a test puts one in their
//! [`crate::Config`]; otherwise a point costs one `Option` check.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use super::{Storage, StorageError};

/// Where in the storage layer a call can be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Opening a stored file to read it (GET, STAT) off the fast path.
    Open,
    /// Computing a file's CRC-32C from its bytes.
    Checksum,
    /// Starting a computation of a CRC-32C nobody waits for (a range of
    /// the file was served), before [`Point::Checksum`].
    LaterChecksum,
    /// Reading a body that is going out into the page cache.
    ReadAhead,
    /// Writing a PUT's or APPEND's body bytes (only ever held where they
    /// are written on the I/O pool).
    Write,
    /// An APPEND's write between its look at who owns the session and the
    /// write itself, in the session's turn (after [`Point::Write`]).
    Owning,
    /// Creating an upload's temp file (PUT); a failing gate fails it.
    Create,
    /// Renaming a finished upload over its target.
    Commit,
    /// Just after an upload's rename where usage is counted, or a file's
    /// or folder's move: a failing gate fails it there, as a network file
    /// system's client killed before it answered fails a rename it made.
    Renamed,
    /// A counted commit between its count and its rename (where usage is
    /// counted).
    Rename,
    /// Removing the record of a session whose data a COMMIT has just put
    /// in place.
    Forget,
    /// Removing the temp file of an upload that will not be finished.
    Discard,
    /// Removing a file (DEL).
    Delete,
    /// Walking a directory tree (LIST, listings).
    Walk,
    /// Upload-session bookkeeping (UPLOAD, APPEND, COMMIT, ABORT).
    Session,
    /// Assembling a multipart upload's parts into its object.
    Assemble,
    /// Reading a session's record: a failing gate fails the reads that
    /// learn which file it writes (the access check of APPEND, COMMIT
    /// and ABORT); an open gate counts every read.
    ReadSession,
    /// The start-up sweep of stale temp files.
    Sweep,
    /// Probing the storage for a health check; a failing gate fails it.
    Health,
    /// Flushing a folder a session's commit walked to again and made,
    /// after its rename (`--fsync`); a failing gate fails the flush.
    FlushWalked,
}

/// Holds storage calls at one [`Point`] until opened.
#[derive(Debug)]
pub struct Gate {
    point: Point,
    /// What the calls at `point` fail with, for a failing gate (which
    /// never holds).
    fault: Option<Errno>,
    /// Which call fails (counting from 1), if only one does.
    only_call: Option<usize>,
    /// Where a failing gate holds calls besides ([`Gate::holding`]).
    holds_too: Option<Point>,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Calls waiting at the point now.
    held: usize,
    /// Calls that have reached the point in all.
    arrived: usize,
    /// Held calls let go one by one ([`Gate::let_one_go`]), not yet gone.
    let_go: usize,
    open: bool,
}

/// How long a test waits for a call to arrive before it fails.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(20);

impl Gate {
    /// A closed gate at `point`.
    pub fn new(point: Point) -> Gate {
        Gate {
            point,
            fault: None,
            only_call: None,
            holds_too: None,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// A gate that holds nothing: every call that reaches `point` fails
    /// with `errno` (as a failing disk, EIO, or a process out of
    /// descriptors, EMFILE, would make it).
    pub fn failing(point: Point, errno: Errno) -> Gate {
        Gate {
            fault: Some(errno),
            ..Gate::new(point)
        }
    }

    /// A gate that holds nothing and fails only the `nth` call to reach
    /// `point` (counting from 1) with `errno`: a fault that passes, as a
    /// process briefly out of descriptors (EMFILE) sees.
    pub fn failing_call(point: Point, errno: Errno, nth: usize) -> Gate {
        Gate {
            only_call: Some(nth),
            ..Gate::failing(point, errno)
        }
    }

    /// This failing gate, closed at `point` too: a fault after a race a
    /// test makes while calls wait there. Arrivals count both points'.
    pub fn holding(self, point: Point) -> Gate {
        debug_assert!(self.fault.is_some(), "a gate that holds its own point");
        Gate {
            holds_too: Some(point),
            ..self
        }
    }

    /// The point it holds.
    pub fn point(&self) -> Point {
        self.point
    }

    /// Called by storage at `point`: waits while the gate is closed.
    pub(crate) fn pass(&self, point: Point) {
        let holds = match self.fault {
            Some(_) => self.holds_too,
            None => Some(self.point),
        };
        if holds != Some(point) {
            return;
        }
        log::info!("test gate: a call is held at {point:?}");
        let mut state = self.lock();
        state.arrived += 1;
        state.held += 1;
        self.changed.notify_all();
        while !state.open && state.let_go == 0 {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if !state.open {
            state.let_go -= 1;
        }
        state.held -= 1;
    }

    /// Called by storage at a point where a call may be made to fail: the
    /// error to fail with, if this is a failing gate at `point`.
    pub(crate) fn fault(&self, point: Point) -> Option<Errno> {
        let errno = self.fault.filter(|_| point == self.point)?;
        let arrived = {
            let mut state = self.lock();
            state.arrived += 1;
            state.arrived
        };
        self.changed.notify_all();
        if self.only_call.is_some_and(|nth| nth != arrived) {
            return None;
        }
        log::info!("test gate: a call at {point:?} fails with {errno}");
        Some(errno)
    }

    /// Waits until `count` calls in all have reached the point.
    ///
    /// # Panics
    /// None arrives within 20 seconds (the test is broken, not slow).
    pub fn wait_for_arrivals(&self, count: usize) {
        let deadline = Instant::now() + ARRIVAL_TIMEOUT;
        let mut state = self.lock();
        while state.arrived < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no call reached {:?}", self.point);
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Calls that have reached the point in all.
    pub fn arrivals(&self) -> usize {
        self.lock().arrived
    }

    /// Calls held at the point now.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// Lets one held call go (or the next to arrive); the gate stays
    /// closed to the others.
    pub fn let_one_go(&self) {
        self.lock().let_go += 1;
        self.changed.notify_all();
    }

    /// Lets every held call go, and every later one pass.
    pub fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the storage consults its gate: every point a test may hold
/// or fail passes through these.
impl Storage {
    /// Holds the calls that reach the gate's point until a test opens it.
    #[doc(hidden)]
    pub fn set_gate(&mut self, gate: Option<Arc<Gate>>) {
        self.gate = gate;
    }

    /// Waits at `point` if a test holds it.
    pub(crate) fn pause(&self, point: Point) {
        if let Some(gate) = &self.gate {
            gate.pass(point);
        }
    }

    /// Fails at `point` if a test's failing gate says so.
    pub(super) fn injected_fault(&self, point: Point) -> Result<(), StorageError> {
        match self.gate.as_ref().and_then(|gate| gate.fault(point)) {
            Some(errno) => Err(errno.into()),
            None => Ok(()),
        }
    }
}
