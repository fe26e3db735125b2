//! Group commit: the flushes of concurrent durable commits (`--fsync`),
//! shared. A durable commit (`upload.rs`, [`super::Durable`]) goes in
//! steps, each after a flush: its file's bytes, then (renamed into place)
//! its directory and that directory's ancestors, then for a session its
//! record's going. Here those asks meet: a flusher thread of its own takes
//! every file and directory asked for since its last batch, flushes each
//! once, then answers every ask of the batch; what arrived meanwhile is
//! the next batch.
//!
//! This is PostgreSQL's and InnoDB's group commit: a batch closes when
//! the flusher takes it, so a commit alone (one upload in flight) is
//! flushed at once, and under load a batch holds whatever arrived while
//! the previous one was on the disk. After a batch of many asks, the next
//! waits a little for them to ask again (their next step, or their
//! client's next upload), a share of the last flush at most
//! ([`REFILL_SHARE`]): PostgreSQL's `commit_delay`, but only while commits
//! are known to be under way, and scaled to the disk. On ext4 and XFS a batch
//! of two files or more is one `syncfs` (one journal commit, one cache
//! flush) however many files and directories it holds
//! ([`DirFlusher::by_volume`]); a smaller one (a commit alone), and every
//! batch elsewhere, is each file's `fdatasync`, then each directory's
//! `fsync`, once per batch.
//!
//! An ask is answered by a callback ([`DirFlusher::then`]), so nothing
//! waits for a batch but the flusher: a commit hands its ask over and
//! frees its I/O thread, and its connection waits in its `Waiting` state
//! until the callback delivers the answer to its reactor (see
//! `serve::Job::upload_after_flush`), which hands the commit's next step to the
//! pool. A batch is therefore bounded by the connections, not by
//! `--io-threads`. Changes that are not on that path (MOVE, DELETE, a
//! copy's folders) wait on their I/O thread for the same batches
//! ([`DirFlusher::flush`]).
//!
//! ```text
//! commit A: ask{file A} -> batch 1 -> rename A, ask{d,root} -> batch 2 -> answer A
//! commit B:      ask{file B} -> batch 2 -> rename B, ask{d,root} -> batch 3 -> answer B
//! commit C:        ask{file C} -> batch 2 -> rename C, ask{d,root} -> batch 3 -> answer C
//! flusher:  batch 1 {file A}; batch 2 {file B, file C, d, root}; batch 3 {d, root}
//! ```
//!
//! A commit with nothing else in flight (no batch gathering or being
//! flushed, no other commit alone) skips the flusher: its I/O thread
//! takes every step and flushes what each owes itself
//! ([`DirFlusher::alone`]), as each commit did before group commit, so
//! one connection's durable PUTs pay no hand-offs between threads (on
//! ext4 they ran at 0.83x (4 KiB) and 0.64x (1 MiB) the rate before group
//! commit with the hand-offs; docs/reliability.md). Commits arriving
//! meanwhile gather in batches as above.
//!
//! A flush that fails fails every commit of its batch (500, or 507): a
//! commit whose bytes were not flushed is not renamed (its temp file goes),
//! one renamed into place stays, but none is known to be on the disk.
//!
//! The flusher thread starts at the first ask and ends when idle for
//! [`FLUSHER_IDLE`], so an idle server, or a test's storage, keeps none.
//!
//! What a change owes ([`Unflushed`]) is `unflushed.rs`'s; the batch, its
//! gathering state, the thread that takes it (and when) and the two ways
//! a batch is flushed are one mechanism, here.

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use log::debug;

use rustix::io::Errno;

use super::StorageError;
use super::unflushed::{Key, Kind, Unflushed};
use super::volume_sync::sync_volumes;
#[cfg(test)]
use super::volume_sync::{VOLUME_SYNC_FILE_SYSTEMS, syncfs_reports_errors};

/// How long the flusher thread waits for an ask before it ends.
const FLUSHER_IDLE: Duration = Duration::from_secs(5);

/// The flusher thread's name (a callback on it must never wait for a
/// batch: [`DirFlusher::flush`] checks).
const FLUSHER_NAME: &str = "ferry-flush";

/// What an ask is answered with, once its batch is on the disk.
type Answer = Box<dyn FnOnce(Result<(), Errno>) + Send>;

/// The flushes of durable commits, shared (see the module).
#[derive(Debug, Default)]
pub(super) struct DirFlusher {
    inner: Arc<Inner>,
}

/// How long the batch after a batch of many asks may wait for them to ask
/// again, as a share of that batch's flush: a quarter of it, and at most
/// [`REFILL_MAX`]. Without it, the flusher took whatever had gathered the
/// moment a batch was done: on a slow-flush disk (a 22 ms batch) the
/// three asks of a few other commits, while the 47 it had just answered
/// were a pool step or a client's round trip away from asking again. They
/// missed that batch, waited a whole flush for the next, and their
/// uploads took four batches instead of two (docs/reliability.md,
/// "Batches that wait to fill").
const REFILL_SHARE: u32 = 4;

/// The longest a batch waits to fill ([`REFILL_SHARE`]).
const REFILL_MAX: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Woken when an ask arrives.
    asked: Condvar,
    /// Whether a batch may be one `syncfs` per file system where that
    /// covers it all ([`DirFlusher::by_volume`]).
    by_volume: bool,
    /// Directory flushes made (or covered by a `syncfs`): what `--fsync`
    /// costs, per commit.
    flushes: AtomicU64,
    /// Batches flushed: the waits a commit pays (tests count them, to see
    /// that a change shares its commit's batch).
    batches: AtomicU64,
    /// The asks those batches answered (a lone commit's flush is one):
    /// per batch, how many changes shared each (`/metrics`).
    asks: AtomicU64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("flushes", &self.flushes)
            .field("batches", &self.batches)
            .field("asks", &self.asks)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The batch now gathering: what was asked for, each once.
    gathering: Batch,
    /// The asks waiting for it.
    answers: Vec<Answer>,
    /// The flusher thread is running.
    running: bool,
    /// The flusher thread is flushing a batch.
    flushing: bool,
    /// A commit flushes alone on its own thread ([`DirFlusher::alone`]).
    alone: bool,
    /// After a batch: until when the next may wait to fill, and with how
    /// many asks it is as full as the last ([`refill_wait`]).
    refill: Option<(Instant, usize)>,
}

/// The files and directories of one batch, each once.
#[derive(Default)]
struct Batch {
    files: HashMap<Key, OwnedFd>,
    dirs: HashMap<Key, OwnedFd>,
}

impl Batch {
    /// Takes what `owed` asks for into the batch (what it holds already
    /// is flushed once).
    fn take(&mut self, owed: Unflushed) {
        for (key, file) in owed.files {
            self.files.entry(key).or_insert(file);
        }
        for (key, dir) in owed.dirs {
            self.dirs.entry(key).or_insert(dir);
        }
    }
}

impl DirFlusher {
    /// A flusher whose batches are one `syncfs` per file system where
    /// that is as good as flushing each file and directory: on ext4 and
    /// XFS, whose `syncfs` writes every dirty file back and then commits
    /// the journal (with a cache flush) that holds every directory change
    /// (`ext4_sync_fs`, `xfs_fs_sync_fs`), and on Linux 5.8 or later,
    /// whose `syncfs` reports the writeback errors an `fsync` would. One
    /// journal commit per batch, instead of one per file (each file's
    /// `fdatasync` allocates its blocks, a transaction of its own, and
    /// then waits for it) and a cache flush per directory. Elsewhere
    /// (FUSE, whose `syncfs` reaches no server but virtiofs's; NFS; an
    /// older kernel) each file and directory is flushed on its own.
    pub(super) fn by_volume(allowed: bool) -> DirFlusher {
        DirFlusher {
            inner: Arc::new(Inner {
                by_volume: allowed,
                ..Inner::default()
            }),
        }
    }

    /// Flushes `dirs` in the next batch, then calls `answer` with how it
    /// went (on the flusher thread: it must be short). Never blocks on the
    /// disk: the reactor may call it.
    pub(super) fn then(&self, dirs: Unflushed, answer: Answer) {
        let mut state = self.inner.lock();
        state.gathering.take(dirs);
        state.answers.push(answer);
        if state.running {
            self.inner.asked.notify_one();
            return;
        }
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name(FLUSHER_NAME.into())
            .stack_size(crate::threads::crew::STACK)
            .spawn(move || inner.serve());
        match spawned {
            Ok(_) => state.running = true,
            Err(err) => {
                // No thread, so no flush: every ask waiting fails (500)
                // rather than waits for ever.
                log::error!("could not start the flusher thread: {err}");
                let answers = std::mem::take(&mut state.answers);
                state.gathering = Batch::default();
                drop(state);
                answers
                    .into_iter()
                    .for_each(|answer| answer(Err(Errno::AGAIN)));
            }
        }
    }

    /// Flushes directories `dirs` (a commit's directory and its
    /// ancestors), in a batch with whatever other commits ask meanwhile.
    /// Returns once all of them are on stable storage. Blocks: called on
    /// an I/O thread.
    ///
    /// # Errors
    /// A flush of this batch failed (any of its directories).
    pub(super) fn flush(&self, dirs: Vec<OwnedFd>) -> Result<(), Errno> {
        // A callback that waited here would wait for its own batch.
        debug_assert_ne!(
            std::thread::current().name(),
            Some(FLUSHER_NAME),
            "a flusher callback called the blocking flush"
        );
        let (done, outcome) = std::sync::mpsc::sync_channel(1);
        self.then(
            Unflushed::of(dirs)?,
            Box::new(move |result| {
                // The receiver waits below: it cannot have gone.
                let _ = done.send(result);
            }),
        );
        outcome.recv().unwrap_or(Err(Errno::IO))
    }

    /// Before a rename into `dirs[0]` from another directory (`dirs` as
    /// [`with_ancestors`] opened them): flushes the directories above it,
    /// and leaves `dirs` holding that one alone, for the flush after the
    /// rename. Where each directory persists on its own, a rename into a
    /// folder whose own name is not yet on the disk (one just made, by
    /// this change or one still in flight) can be kept while the folder is
    /// lost: the file would be under neither name (found by
    /// `tests/crash/states.rs`). The same number of flushes, one more
    /// batch.
    ///
    /// # Errors
    /// As [`DirFlusher::flush`].
    pub(super) fn flush_above(&self, dirs: &mut Vec<OwnedFd>) -> Result<(), Errno> {
        let above = dirs.split_off(1.min(dirs.len()));
        match above.is_empty() {
            true => Ok(()),
            false => self.flush(above),
        }
    }

    /// When no other durable change is being flushed or waits for a
    /// batch: a hold under which the caller, an I/O thread, flushes its
    /// commit's steps itself, each a batch of its own
    /// ([`LoneCommit::flush`]), as before group commit: a lone commit pays
    /// no hand-off to the flusher and back per step (two thread
    /// wake-ups each, a tenth of a 4 KiB durable PUT's time on one
    /// connection). One holder at a time, so that commits arriving
    /// meanwhile gather in the flusher's batches; `None` when they would
    /// have company there.
    pub(super) fn alone(&self) -> Option<LoneCommit<'_>> {
        let mut state = self.inner.lock();
        if state.alone || state.flushing || !state.answers.is_empty() {
            return None;
        }
        state.alone = true;
        Some(LoneCommit {
            flusher: self,
            holds: true,
        })
    }

    /// A commit's flushing on its own thread that holds nothing: commits
    /// alone and batches may go on beside it (one that owes no flush,
    /// `Storage::lone_commit`).
    pub(super) fn beside_others(&self) -> LoneCommit<'_> {
        LoneCommit {
            flusher: self,
            holds: false,
        }
    }

    /// Directory flushes made since the start.
    pub(super) fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    /// Batches flushed since the start.
    pub(super) fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }

    /// Asks those batches answered since the start.
    pub(super) fn asks(&self) -> u64 {
        self.inner.asks.load(Ordering::Relaxed)
    }
}

/// A commit's hold on flushing alone ([`DirFlusher::alone`]); let go
/// when dropped.
#[derive(Debug)]
pub struct LoneCommit<'a> {
    flusher: &'a DirFlusher,
    /// It holds the flusher's one lone commit ([`DirFlusher::alone`]).
    holds: bool,
}

impl LoneCommit<'_> {
    /// Flushes `owed` on this thread, now, as a batch of its own. Blocks:
    /// an I/O thread's call.
    ///
    /// # Errors
    /// A flush failed.
    pub fn flush(&self, owed: Unflushed) -> Result<(), StorageError> {
        let mut batch = Batch::default();
        batch.take(owed);
        Ok(self.flusher.inner.flush_batch(&batch, 1)?)
    }

    /// Flushes, on this thread, now, as a batch of its own, what `each`
    /// gives (a file's bytes or a directory's entries, in the order they
    /// are to be flushed), through the caller's own descriptors: nothing
    /// is duplicated or stat'ed to key it, as a batch shared with others
    /// must be ([`LoneCommit::flush`]). Stops at the first that fails.
    /// Blocks: an I/O thread's call.
    ///
    /// # Errors
    /// A flush failed.
    pub(super) fn flush_each(
        &self,
        each: impl FnOnce(
            &mut dyn FnMut(Kind, BorrowedFd<'_>) -> Result<(), Errno>,
        ) -> Result<(), Errno>,
    ) -> Result<(), StorageError> {
        let (mut files, mut dirs) = (0, 0);
        let flushed = each(&mut |kind, fd| match kind {
            Kind::File => {
                files += 1;
                rustix::fs::fdatasync(fd)
            }
            Kind::Dir => {
                dirs += 1;
                rustix::fs::fsync(fd)
            }
        });
        if files + dirs > 0 {
            // Nothing owed (a file in memory) is no batch.
            let inner = &self.flusher.inner;
            inner.flushes.fetch_add(dirs, Ordering::Relaxed);
            inner.batches.fetch_add(1, Ordering::Relaxed);
            inner.asks.fetch_add(1, Ordering::Relaxed);
        }
        Ok(flushed?)
    }
}

impl Drop for LoneCommit<'_> {
    fn drop(&mut self) {
        if self.holds {
            self.flusher.inner.lock().alone = false;
        }
    }
}

impl Inner {
    /// The flusher thread: takes each batch as it gathers, flushes it with
    /// the lock let go (the next gathers meanwhile) and answers its asks;
    /// ends when idle.
    fn serve(&self) {
        let mut state = self.lock();
        loop {
            if state.answers.is_empty() {
                let (next, waited) = self
                    .asked
                    .wait_timeout(state, FLUSHER_IDLE)
                    .unwrap_or_else(|e| e.into_inner());
                state = next;
                if waited.timed_out() && state.answers.is_empty() {
                    state.running = false;
                    return;
                }
                continue;
            }
            if let Some(left) = refill_wait(&state) {
                state = self
                    .asked
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            let batch = std::mem::take(&mut state.gathering);
            let answers = std::mem::take(&mut state.answers);
            state.flushing = true;
            drop(state);
            let started = Instant::now();
            let result = self.flush_batch(&batch, answers.len());
            let (asks, flushed_in) = (answers.len(), started.elapsed());
            debug!(
                "flushed a batch of {} files and {} folders for {asks} asks in {:.1} ms",
                batch.files.len(),
                batch.dirs.len(),
                flushed_in.as_secs_f64() * 1e3
            );
            drop(batch);
            answers.into_iter().for_each(|answer| answer(result));
            state = self.lock();
            state.flushing = false;
            let refill = (flushed_in / REFILL_SHARE).min(REFILL_MAX);
            state.refill = Some((Instant::now() + refill, asks));
        }
    }

    /// Flushes a batch: one `syncfs` for each file system that allows it
    /// (see [`DirFlusher::by_volume`]), else every file's bytes, then
    /// every directory, each once; the first failure. `asks`: how many
    /// waits it answers, counted with it.
    fn flush_batch(&self, batch: &Batch, asks: usize) -> Result<(), Errno> {
        let mut failure = None;
        let synced = match self.by_volume {
            true => sync_volumes(&batch.files, &mut failure),
            false => Vec::new(),
        };
        let owed = |key: &&Key| !synced.contains(&key.0);
        for (_, file) in batch.files.iter().filter(|(key, _)| owed(key)) {
            if let Err(errno) = rustix::fs::fdatasync(file) {
                failure.get_or_insert(errno);
            }
        }
        for (_, dir) in batch.dirs.iter().filter(|(key, _)| owed(key)) {
            if let Err(errno) = rustix::fs::fsync(dir) {
                failure.get_or_insert(errno);
            }
        }
        // Counted once done, so that an answer can tell it came after.
        let dirs = batch.dirs.len() as u64;
        self.flushes.fetch_add(dirs, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.asks.fetch_add(asks as u64, Ordering::Relaxed);
        failure.map_or(Ok(()), Err)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How much longer the batch gathering in `state` waits to fill: until
/// it holds as many asks as the last batch, or its [`REFILL_SHARE`] of
/// time has passed; `None` to take it now. Commits under way ask again
/// within a pool step or a round trip, far less than a flush; a commit
/// alone is never held (it skips the flusher), and one after a lull
/// waits a share of one flush at most.
fn refill_wait(state: &State) -> Option<Duration> {
    let (until, asks) = state.refill?;
    if state.answers.len() >= asks {
        return None;
    }
    until
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Sender;

    use super::*;

    fn open(path: &std::path::Path) -> OwnedFd {
        rustix::fs::open(path, super::super::DIR, rustix::fs::Mode::empty()).unwrap()
    }

    #[test]
    fn a_commit_alone_flushes_each_of_its_directories_once() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        flusher
            .flush(vec![open(dir.path()), open(dir.path())])
            .unwrap();
        assert_eq!(flusher.flushes(), 1);
    }

    #[test]
    fn concurrent_commits_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = Arc::new(DirFlusher::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (flusher, path) = (Arc::clone(&flusher), dir.path().to_owned());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        flusher.flush(vec![open(&path)]).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Every commit was answered; never more flushes than commits.
        assert!(flusher.flushes() <= 16 * 20);
    }

    #[test]
    fn asks_made_while_a_batch_flushes_share_the_next_without_a_thread_each() {
        // Hundreds of asks from one thread that never waits: each is
        // answered once, in batches (not one flush per ask), which a
        // blocking commit per I/O thread could never gather.
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        let (done, answers) = std::sync::mpsc::channel();
        for _ in 0..500 {
            let done = done.clone();
            let dirs = Unflushed::of(vec![open(dir.path())]).unwrap();
            flusher.then(dirs, Box::new(move |result| done.send(result).unwrap()));
        }
        drop(done);
        let results: Vec<_> = answers.iter().collect();
        assert_eq!(results.len(), 500);
        assert!(results.iter().all(Result::is_ok));
        assert!(flusher.batches() < 500, "{} batches", flusher.batches());
        assert_eq!(flusher.flushes(), flusher.batches());
    }

    #[test]
    fn a_commit_flushes_alone_only_while_no_other_is_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = Arc::new(DirFlusher::default());
        let lone = flusher.alone().expect("nothing in flight: alone");
        assert!(
            flusher.alone().is_none(),
            "a second commit meanwhile batches"
        );
        lone.flush(Unflushed::of(vec![open(dir.path())]).unwrap())
            .unwrap();
        assert_eq!((flusher.batches(), flusher.flushes()), (1, 1));
        drop(lone);
        // A batch being flushed (its answer held here): a commit now joins
        // the batches, so that commits under load share their flushes.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (answered, answer) = std::sync::mpsc::channel();
        let hold = move |result| {
            answered.send(result).unwrap();
            let _ = held.recv();
        };
        flusher.then(
            Unflushed::of(vec![open(dir.path())]).unwrap(),
            Box::new(hold),
        );
        assert!(answer.recv().unwrap().is_ok());
        assert!(flusher.alone().is_none(), "a batch is being flushed");
        drop(release);
    }

    /// Asks `flusher` to flush `dir`; its answer comes on `done`.
    fn ask(flusher: &DirFlusher, dir: &std::path::Path, done: &Sender<Result<(), Errno>>) {
        let done = done.clone();
        let dirs = Unflushed::of(vec![open(dir)]).unwrap();
        flusher.then(dirs, Box::new(move |result| done.send(result).unwrap()));
    }

    #[test]
    fn the_batch_after_a_batch_of_many_waits_for_them_to_ask_again() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        let (done, answers) = std::sync::mpsc::channel();
        // A first batch: the flusher thread runs, idle once it has set
        // how the next batch fills.
        ask(&flusher, dir.path(), &done);
        assert!(answers.recv().unwrap().is_ok());
        while flusher.inner.lock().refill.is_none() {
            std::thread::yield_now();
        }
        // As just after a batch of four asks, with a bound never reached.
        let never = Instant::now() + Duration::from_secs(600);
        flusher.inner.lock().refill = Some((never, 4));
        ask(&flusher, dir.path(), &done);
        // An idle flusher took one ask at once; this one waits for the
        // others (the wait only shows that it had not flushed by then).
        let early = answers.recv_timeout(Duration::from_millis(200));
        assert!(early.is_err(), "one ask flushed alone: {early:?}");
        for _ in 0..3 {
            ask(&flusher, dir.path(), &done);
        }
        drop(done);
        assert_eq!(answers.iter().filter(Result::is_ok).count(), 4);
        assert_eq!(flusher.batches(), 2, "the first, then the four at once");
    }

    #[test]
    fn a_batch_waits_to_fill_no_longer_than_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let flusher = DirFlusher::default();
        let asked = Instant::now();
        let bound = Duration::from_millis(50);
        flusher.inner.lock().refill = Some((asked + bound, 4));
        let (done, answers) = std::sync::mpsc::channel();
        ask(&flusher, dir.path(), &done);
        // The three others never ask: flushed alone once the bound passed.
        assert!(answers.recv().unwrap().is_ok());
        assert!(asked.elapsed() >= bound, "flushed before its bound");
        assert_eq!(flusher.batches(), 1);
    }

    #[test]
    fn a_lone_file_is_flushed_by_itself_and_two_by_one_syncfs() {
        let dir = tempfile::tempdir().unwrap();
        let kind = rustix::fs::statfs(dir.path()).unwrap().f_type as u64;
        let mut batch = Batch::default();
        let add = |batch: &mut Batch, name: &str| {
            let file = std::fs::File::create(dir.path().join(name)).unwrap();
            let owed = Unflushed::data_and(&file, vec![open(dir.path())]).unwrap();
            batch.files.extend(owed.files);
            batch.dirs.extend(owed.dirs);
        };
        add(&mut batch, "one");
        let mut failure = None;
        // One file and its folder: each flushed on its own, as a commit
        // alone was before group commit.
        assert_eq!(sync_volumes(&batch.files, &mut failure), Vec::<u64>::new());
        add(&mut batch, "two");
        let synced = sync_volumes(&batch.files, &mut failure);
        assert_eq!(failure, None);
        match VOLUME_SYNC_FILE_SYSTEMS.contains(&kind) {
            true => assert_eq!(synced.len(), 1, "two files: one syncfs"),
            false => assert!(synced.is_empty(), "no syncfs off ext4 and XFS"),
        }
    }

    #[test]
    fn every_answer_comes_after_its_batch_is_on_the_disk() {
        // Files' bytes and directories, asked for from one thread that
        // never waits: each answer must find its batch flushed (counted
        // once its flushes returned). Answering first would be a durable
        // acknowledgement of what may still be in the page cache.
        let dir = tempfile::tempdir().unwrap();
        let flusher = Arc::new(DirFlusher::by_volume(syncfs_reports_errors()));
        let (done, answers) = std::sync::mpsc::channel();
        for i in 0..200 {
            let file = std::fs::File::create(dir.path().join(format!("f{i}"))).unwrap();
            std::io::Write::write_all(&mut &file, b"bytes").unwrap();
            let owed = Unflushed::data_and(&file, vec![open(dir.path())]).unwrap();
            let (done, seen) = (done.clone(), Arc::clone(&flusher));
            let answer = move |result| done.send((result, seen.batches())).unwrap();
            flusher.then(owed, Box::new(answer));
        }
        drop(done);
        let results: Vec<_> = answers.iter().collect();
        assert_eq!(results.len(), 200);
        for (result, batches_done) in results {
            assert!(result.is_ok());
            assert!(batches_done > 0, "answered before its batch was flushed");
        }
    }
}
