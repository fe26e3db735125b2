//! The hook runner: up to `--hook-concurrency` threads, shared by every
//! reactor as the I/O pool is, that run the hooks so that nothing else
//! waits for one. They are a crew (`crew.rs`): none while no hook runs,
//! one more for each hook queued while the others are busy, up to the
//! cap, each ending when idle for a while. The cap is
//! `--hook-concurrency` (by default two per core, 2 to 4:
//! [`super::default_concurrency`]), and it is what each token's share is
//! half of. A hook can take seconds (a virus scan); on an I/O thread it would
//! hold back every connection's file-system work, so hooks have threads of
//! their own and the pool's are never lent to one.
//!
//! Two queues, the first served first:
//!
//! - before-commit hooks: the reactor's jobs (a pool task whose job is a
//!   `serve::UploadStep::BeforeCommit`, with the connection waiting for it), opaque here;
//!   the outcome goes back to its reactor's inbox, as an I/O job's does.
//!   Each waiting connection has at most one, so the connection cap bounds
//!   them.
//! - on-upload hooks: the facts of committed uploads, which nobody waits
//!   for; at most [`ON_UPLOAD_QUEUE`] wait, and one more is dropped with a
//!   warning rather than letting a slow hook grow the queue without end.
//!
//! **A fair share per token.** With access control, each owner (a token,
//! or the clients without one, see [`crate::access::Owner`]) has a share of
//! the threads: [`share_of`] `--hook-concurrency` (half, at least one).
//! Its before-commit hooks, running and queued, never pass it: one more is
//! refused at once ([`Hooks::reserve`]: `503`, the upload discarded as a
//! veto's), and its on-upload hooks wait in the queue while it is full.
//! So one token's hanging hooks hold at most half the threads, and another
//! token's hook starts as soon as it is queued: its PUT waits for its own
//! hook and nothing else. Per-token queues served in turn would not give
//! that: a token whose hooks hang can take every thread, and then a turn
//! comes only at `--hook-timeout`. Refusing at once, rather than queueing
//! past the share, keeps a client from waiting in a queue it cannot see
//! the end of; `--hook-timeout` still bounds each hook. Without access
//! control there are no tokens to share between: one queue, as before.
//! (`--hook-concurrency 1` has no half to give: the one thread is
//! everyone's.)
//!
//! At shutdown the runner starts no more hooks once the reactors have
//! stopped ([`Runner::close`]), and its threads are joined after the I/O
//! pool's (whose last commits may still queue hooks, then logged as not
//! run). Hooks already running are waited for, each within its time
//! limit; queued ones are not started, so that a stop fits in the service
//! manager's patience: an on-upload hook left so is logged with its file's
//! name, and a before-commit hook's upload (whose client has gone with the
//! reactors) is dropped uncommitted.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use log::warn;

use super::{Facts, HookConfig, Verdict, child};
use crate::access::Owner;
use crate::threads::crew::{self, Crew, Hire, Idle, Spec};

/// Most on-upload hooks waiting to run; more are dropped (and logged).
pub const ON_UPLOAD_QUEUE: usize = 1024;

/// The server's hooks: the commands, and the runner's queue. Cheap to
/// clone; shared by the reactors, the I/O pool and the runner.
#[derive(Debug, Clone)]
pub struct Hooks {
    inner: Arc<Inner>,
}

impl Hooks {
    /// The hooks of `config`, for files under `root` (made absolute here,
    /// so hooks get absolute paths whatever the server's working
    /// directory). No thread runs them until a [`Runner`] starts.
    pub fn new(config: HookConfig, root: &Path) -> Hooks {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Hooks {
            inner: Arc::new(Inner::new(config, root)),
        }
    }

    /// Whether any hook is configured.
    pub fn configured(&self) -> bool {
        self.inner.config.any()
    }

    /// Whether uploads wait for a before-commit hook.
    pub fn vetoes(&self) -> bool {
        self.inner.config.before_commit.is_some()
    }

    /// Whether committed uploads are told to an on-upload hook.
    pub fn notifies(&self) -> bool {
        self.inner.config.on_upload.is_some()
    }

    /// The absolute path of `relative` (a name or a staged file's path
    /// under the root).
    pub fn path_of(&self, relative: &Path) -> PathBuf {
        self.inner.root.join(relative)
    }

    /// Runs the before-commit hook for `facts` and waits for it (on a
    /// runner thread: the connection waits meanwhile). Without one, accepts.
    pub fn veto(&self, facts: &Facts) -> Verdict {
        let Some(command) = &self.inner.config.before_commit else {
            return Verdict::Accept;
        };
        let ran = child::run(command, facts, self.inner.config.timeout);
        ran.log(facts, self.inner.config.timeout);
        ran.verdict()
    }

    /// Queues the on-upload hook for `facts` (if there is one), which
    /// runs in `owner`'s share; nobody waits for it. A full queue drops
    /// it, and says so.
    pub fn uploaded(&self, facts: Facts, owner: Option<Owner>) {
        if self.notifies() {
            self.inner.notify(facts, owner);
        }
    }
}

/// The commands and the queue, shared by [`Hooks`] handles and the
/// runner's threads.
struct Inner {
    config: HookConfig,
    /// The root, absolute.
    root: PathBuf,
    pending: Mutex<Pending>,
    /// Signalled when a hook is queued or the runner stops.
    work: Condvar,
}

/// A before-commit hook's job, as the reactor hands it over: run on a
/// runner thread, it runs the hook and sends its outcome to the connection
/// that waits (dropped unrun, it drops the upload uncommitted). Opaque
/// here, so that the hooks know nothing of the pool or the serve layer.
type Veto = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Pending {
    vetoes: VecDeque<Veto>,
    notices: VecDeque<(Facts, Option<Owner>)>,
    /// Each owner's hooks that count against its share: before-commit
    /// ones reserved (queued or running), on-upload ones running.
    shares: HashMap<Owner, usize>,
    closed: bool,
    /// The threads, once a [`Runner`] has started (none ever without a
    /// hook configured).
    threads: Option<Crew>,
}

impl Pending {
    /// One more thread for what is queued, if it wants one.
    fn wanted(&mut self) -> Option<Hire> {
        let queued = self.vetoes.len() + self.notices.len();
        self.threads.as_mut()?.wanted(queued)
    }

    fn threads(&mut self) -> &mut Crew {
        match &mut self.threads {
            Some(threads) => threads,
            None => unreachable!("a runner thread runs only once the runner started"),
        }
    }
}

/// The most hooks one owner may have running, or reserved, at once:
/// half the threads, at least one.
pub fn share_of(concurrency: usize) -> usize {
    (concurrency / 2).max(1)
}

/// An owner's place in its share, held while its hook waits or runs;
/// given back when dropped (the hook done, or dropped unrun at shutdown).
#[derive(Debug)]
pub struct Slot {
    held: Option<(Arc<Inner>, Owner)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((inner, owner)) = self.held.take() else {
            return;
        };
        let mut pending = inner.lock();
        if let Some(count) = pending.shares.get_mut(&owner) {
            *count -= 1;
            if *count == 0 {
                pending.shares.remove(&owner);
            }
        }
        drop(pending);
        // A thread may be waiting for this owner's on-upload hook.
        inner.work.notify_all();
    }
}

/// The owner's share is full: its hooks are busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareFull;

impl Pending {
    /// Takes a place in `owner`'s share of `share` places, if one is free.
    fn take_place(&mut self, owner: &Owner, share: usize) -> Result<(), ShareFull> {
        let count = self.shares.entry(owner.clone()).or_default();
        if *count >= share {
            return Err(ShareFull);
        }
        *count += 1;
        Ok(())
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("config", &self.config)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn new(config: HookConfig, root: PathBuf) -> Inner {
        Inner {
            config,
            root,
            pending: Mutex::default(),
            work: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the thread `hire` stands for, if any.
    fn start(self: &Arc<Inner>, hire: Option<Hire>) {
        if let Some(hire) = hire {
            let inner = Arc::clone(self);
            hire.start_in(move || run(&inner), &self.pending, Pending::threads);
        }
    }

    /// Queues an on-upload hook, unless the queue is full or the runner
    /// has stopped.
    fn notify(self: &Arc<Inner>, facts: Facts, owner: Option<Owner>) {
        let mut pending = self.lock();
        // Logged after the lock is let go: a reactor may wait for it
        // (`Hooks::submit`), and never for a write to stderr.
        let refused = if pending.closed {
            "the server is stopping".to_owned()
        } else if pending.notices.len() >= ON_UPLOAD_QUEUE {
            format!("{ON_UPLOAD_QUEUE} hooks already wait")
        } else {
            pending.notices.push_back((facts, owner));
            let hire = pending.wanted();
            drop(pending);
            self.work.notify_one();
            self.start(hire);
            return;
        };
        drop(pending);
        warn!(
            "#{} on-upload hook for {:?} not run: {refused}",
            facts.client, facts.name
        );
    }
}

impl Hooks {
    /// Takes a place in `owner`'s share for a before-commit hook (none is
    /// needed without an owner: access control is off); the hook's job
    /// keeps the [`Slot`] until it is done.
    ///
    /// # Errors
    /// [`ShareFull`]: the owner's hooks take its whole share.
    pub fn reserve(&self, owner: Option<&Owner>) -> Result<Slot, ShareFull> {
        let Some(owner) = owner else {
            return Ok(Slot { held: None });
        };
        let share = share_of(self.inner.config.concurrency);
        self.inner.lock().take_place(owner, share)?;
        Ok(Slot {
            held: Some((Arc::clone(&self.inner), owner.clone())),
        })
    }

    /// Queues a before-commit hook's job (from a reactor), which sends
    /// its outcome to the reactor that waits for it.
    pub fn submit(&self, veto: impl FnOnce() + Send + 'static) {
        let mut pending = self.inner.lock();
        pending.vetoes.push_back(Box::new(veto));
        let hire = pending.wanted();
        drop(pending);
        self.inner.work.notify_one();
        self.inner.start(hire);
    }
}

/// What a runner thread takes next.
enum Work {
    Veto(Veto),
    /// An on-upload hook, and its owner's place while it runs (boxed: a
    /// process is started for it anyway).
    Notice(Box<Facts>, Slot),
}

/// The runner's threads; stopping it (dropping it) runs what is queued,
/// then waits for them to end.
pub struct Runner {
    inner: Arc<Inner>,
}

impl Runner {
    /// Lets threads start to run `hooks` as hooks are queued: none ever
    /// if no hook is configured.
    ///
    /// # Errors
    /// None now that threads start on demand; kept for the caller's `?`.
    pub fn start(hooks: &Hooks) -> io::Result<Runner> {
        let inner = Arc::clone(&hooks.inner);
        let cap = match inner.config.any() {
            true => inner.config.concurrency.max(1),
            false => 0,
        };
        let hire = {
            let mut pending = inner.lock();
            pending.threads = (cap > 0).then(|| {
                Crew::new(Spec {
                    name: "ferry-hook",
                    floor: 0,
                    cap,
                    stack: crew::STACK,
                })
            });
            pending.wanted()
        };
        inner.start(hire);
        Ok(Runner { inner })
    }
}

impl Runner {
    /// Starts no hook from now on: those queued are not run (each
    /// on-upload hook left so is logged; a before-commit hook's upload is
    /// dropped uncommitted: a temp file goes, a session stays). Called once
    /// the reactors have stopped, whose clients could no longer be told,
    /// and again when the runner is dropped.
    pub fn close(&self) {
        let (vetoes, notices) = {
            let mut pending = self.inner.lock();
            pending.closed = true;
            let vetoes = std::mem::take(&mut pending.vetoes);
            (vetoes, std::mem::take(&mut pending.notices))
        };
        self.inner.work.notify_all();
        for (facts, _) in notices {
            warn!(
                "#{} on-upload hook for {:?} not run: the server is stopping",
                facts.client, facts.name
            );
        }
        drop(vetoes);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.close();
        let roster = self.inner.lock().threads.as_ref().map(Crew::roster);
        if let Some(roster) = roster {
            roster.wait_for_all();
        }
    }
}

/// A runner thread: takes hooks until the runner stops, or none came for
/// a while.
fn run(inner: &Arc<Inner>) {
    let mut ran = false;
    while let Some(work) = next(inner, ran) {
        ran = true;
        match work {
            Work::Veto(veto) => veto(),
            Work::Notice(facts, slot) => {
                if let Some(command) = &inner.config.on_upload {
                    let ran = child::run(command, &facts, inner.config.timeout);
                    ran.log(&facts, inner.config.timeout);
                }
                drop(slot);
            }
        }
    }
}

/// The next hook to run, a before-commit one first (a client waits for
/// it, and it holds its owner's place already), then the oldest on-upload
/// hook whose owner has a place free (the thread is free again if it
/// `ran` one); `None` once the runner has stopped (which empties the
/// queues), or this thread leaves the crew idle.
fn next(inner: &Arc<Inner>, ran: bool) -> Option<Work> {
    let share = share_of(inner.config.concurrency);
    let mut pending = inner.lock();
    if ran {
        pending.threads().free();
    }
    let idle_since = Instant::now();
    loop {
        if let Some(task) = pending.vetoes.pop_front() {
            pending.threads().busy();
            return Some(Work::Veto(task));
        }
        let Pending {
            notices, shares, ..
        } = &*pending;
        let free = |owner: &Option<Owner>| {
            owner
                .as_ref()
                .is_none_or(|owner| shares.get(owner).copied().unwrap_or(0) < share)
        };
        if let Some(at) = notices.iter().position(|(_, owner)| free(owner))
            && let Some((facts, owner)) = pending.notices.remove(at)
        {
            let held = owner.map(|owner| {
                *pending.shares.entry(owner.clone()).or_default() += 1;
                (Arc::clone(inner), owner)
            });
            pending.threads().busy();
            return Some(Work::Notice(Box::new(facts), Slot { held }));
        }
        if pending.closed {
            pending.threads().leave();
            return None;
        }
        let queued = pending.notices.len();
        if pending.threads().after_wait(idle_since, queued) == Idle::Leave {
            return None;
        }
        pending = crew::wait(&inner.work, pending);
    }
}
