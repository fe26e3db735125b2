//! Who may serve a root: one server per node id, and no pre-node ferry
//! beside the nodes.
//!
//! Each server holds an exclusive `flock` on `<root>/.ferry-nodes/<node>.lock`
//! from before it touches anything in the root (its start-up sweep removes
//! temp files it takes for a dead run's) until its process ends. The kernel
//! (or the distributed file system's lock service) drops the lock when the
//! process dies, however it dies, so a lock is never stale. A second server
//! with the same node id finds it held and exits naming the holder, having
//! deleted nothing; servers with different ids run side by side. A node
//! that can take another node's lock knows that node is gone, and may
//! remove its leftovers while it holds the lock (see `sweep.rs`): at its
//! start-up, and every period while it runs. So a node starting finds its
//! own lock held a moment by such a sweep now and then, and waits for it
//! ([`LOCK_PATIENCE`]) rather than failing; a lock held by its server
//! (the pid it records holds it) fails at once.
//!
//! A lock can also outlive its process: a distributed file system's
//! client that dies keeps its locks in its session until that expires
//! (JuiceFS: tens of seconds). A node refused then is told the lock's
//! recorded process is gone, not that it "already serves".
//!
//! Every node also holds a *shared* `flock` on the root directory itself:
//! nodes do not exclude each other there, but a ferry from before node ids,
//! which locks the root exclusively to serve it alone, cannot start beside
//! them, nor they beside it.
//!
//! A file system without a working `flock` is refused: the lock is what
//! keeps one node from deleting another's uploads in flight.
//!
//! A server takes its locks ([`Claim::take`]) before it binds any port, so
//! one refused for a root in use never answers a connection; but it
//! creates nothing then (no root, no nodes' directory) and moves no journal
//! aside: a server that then cannot listen leaves the root as it found it.

use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::flock::Flock;

/// How long a starting node waits for its own lock: a node that found this
/// one gone may hold it for the time its sweep of this node's leftovers
/// takes.
const LOCK_PATIENCE: Duration = Duration::from_secs(3);

/// Flags of a lock file: never through a symlink.
const LOCK_FILE: OFlags = OFlags::RDWR.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// This server's hold on its node id in a root (and its shared hold on the
/// root), released when dropped or when the process ends.
#[derive(Debug)]
pub struct NodeLock {
    _root: Flock,
    _node: Option<Flock>,
}

/// The root, or this node id in it, is in use by another server.
#[derive(Debug)]
pub struct RootInUse {
    /// The root.
    pub root: PathBuf,
    /// The node id in use; `None` when a ferry from before node ids serves
    /// the root alone.
    pub node: Option<String>,
    /// The holder's pid, if known (from `/proc/locks`, or as the lock file
    /// records it).
    pub pid: Option<u32>,
    /// The holder's host, when the lock file names another than ours.
    pub host: Option<String>,
    /// The process the lock names is on this host and no longer exists:
    /// the lock is held by something else, most likely the session of a
    /// dead file-system client (a JuiceFS mount keeps its locks in the
    /// metadata service until its session expires).
    pub gone: bool,
}

impl fmt::Display for RootInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.gone {
            return self.fmt_gone(f);
        }
        let holder = match (self.pid, &self.host) {
            (Some(pid), Some(host)) => format!(" (pid {pid} on {host})"),
            (Some(pid), None) => format!(" (pid {pid})"),
            (None, _) => String::new(),
        };
        match &self.node {
            Some(node) => write!(
                f,
                "node \"{node}\" already serves {}{holder}; give each server its own --node-id",
                self.root.display()
            ),
            None => write!(
                f,
                "{} is in use by a ferry server that serves it alone{holder}; stop it before starting nodes there",
                self.root.display()
            ),
        }
    }
}

impl RootInUse {
    /// The message for a lock whose recorded process is gone: naming that
    /// pid as the holder would send the operator after a process that does
    /// not exist.
    fn fmt_gone(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lock = match &self.node {
            Some(node) => format!("the lock of node \"{node}\""),
            None => "the lock".to_owned(),
        };
        let pid = self
            .pid
            .map(|pid| format!(" (pid {pid})"))
            .unwrap_or_default();
        write!(
            f,
            "{lock} in {} is still held, though the process it records{pid} is gone: probably by a dead file-system client (its session keeps the lock, as JuiceFS does); it is freed when that session expires, then start again",
            self.root.display()
        )
    }
}

impl std::error::Error for RootInUse {}

impl NodeLock {
    /// Takes the shared lock on the root open as `root_fd` (found at
    /// `root`) and, unless `node` is `None` (a read-only server, which
    /// makes no files to protect), the exclusive lock of node `node` in
    /// `nodes` (the open `.ferry-nodes` directory), into which it writes
    /// who holds it.
    ///
    /// # Errors
    /// [`RootInUse`] (inside an `io::Error` of kind `WouldBlock`, see
    /// [`root_in_use`]) if another server holds either; an I/O error if the
    /// file system cannot lock (then ferry could not tell whether another
    /// server's files are in flight).
    pub fn acquire(
        root_fd: &OwnedFd,
        root: &Path,
        node: Option<(&OwnedFd, &str)>,
    ) -> io::Result<NodeLock> {
        let no_flock = |errno: Errno| {
            io::Error::other(format!(
                "cannot lock in {}: {errno}; ferry needs a file system with working flock locks, which keep servers sharing a root from removing each other's uploads",
                root.display()
            ))
        };
        let in_use = |node: Option<&str>, file: BorrowedFd<'_>| {
            let (pid, host) = holder(file);
            // A pid is only checked on its own host.
            let gone = host.is_none() && pid.is_some_and(process_is_gone);
            let in_use = RootInUse {
                root: root.to_path_buf(),
                node: node.map(str::to_owned),
                pid,
                host,
                gone,
            };
            io::Error::new(io::ErrorKind::WouldBlock, in_use)
        };
        // An open file description of its own: the lock lives exactly as
        // long as this descriptor.
        let dir = rustix::fs::openat(root_fd, ".", super::DIR, Mode::empty())?;
        match rustix::fs::flock(&dir, FlockOperation::NonBlockingLockShared) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Err(in_use(None, dir.as_fd())),
            Err(errno) => return Err(no_flock(errno)),
        }
        let root = Flock::locked(dir);
        let Some((nodes, id)) = node else {
            return Ok(NodeLock {
                _root: root,
                _node: None,
            });
        };
        let flags = LOCK_FILE | OFlags::CREATE;
        let file = rustix::fs::openat(nodes, lock_file(id), flags, Mode::from_raw_mode(0o600))?;
        let deadline = Instant::now() + LOCK_PATIENCE;
        loop {
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                // Waiting is for a sweep that holds the lock a moment, not
                // for a live server.
                Err(Errno::WOULDBLOCK)
                    if Instant::now() < deadline && !held_by_its_server(file.as_fd()) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(Errno::WOULDBLOCK) => return Err(in_use(Some(id), file.as_fd())),
                Err(errno) => return Err(no_flock(errno)),
            }
        }
        // For whoever finds the lock held: who holds it, from where, since
        // when. Best effort: the lock itself is what counts.
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let record = format!(
            "pid {} host {} since {since}\n",
            std::process::id(),
            crate::node::host_name()
        );
        let _ = rustix::fs::ftruncate(&file, 0);
        let _ = std::fs::File::from(rustix::io::fcntl_dupfd_cloexec(&file, 0)?)
            .write_all(record.as_bytes());
        Ok(NodeLock {
            _root: root,
            _node: Some(Flock::locked(file)),
        })
    }
}

/// The name of node `node`'s lock file in `.ferry-nodes`.
pub(super) fn lock_file(node: &str) -> String {
    format!("{node}.lock")
}

/// Takes the lock of another node (its lock file `name` in `nodes`) if
/// it can be had at once: then that node is gone, and stays away while the
/// returned descriptor is open. `None` if it is held (the node is alive) or
/// cannot be opened.
pub(super) fn claim(nodes: &OwnedFd, name: &str) -> Option<Flock> {
    let file = rustix::fs::openat(nodes, name, LOCK_FILE, Mode::empty()).ok()?;
    Flock::take(file, FlockOperation::NonBlockingLockExclusive).ok()?
}

/// Who holds a `flock` on `file`: the pid from `/proc/locks` when the
/// holder is on this host, else the pid and host the lock file records.
fn holder(file: BorrowedFd<'_>) -> (Option<u32>, Option<String>) {
    match local_holder(file) {
        Some(pid) => (Some(pid), None),
        None => recorded_holder(file),
    }
}

/// Whether no process `pid` exists on this host (`kill(pid, 0)` says
/// `ESRCH`; `EPERM` means it exists under another user).
fn process_is_gone(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::test_kill_process(pid) == Err(Errno::SRCH)
}

/// Whether the lock on node lock file `file` is held by the server the
/// file names (on this host), rather than by a node sweeping a gone one's
/// leftovers, which takes the lock without rewriting the file.
fn held_by_its_server(file: BorrowedFd<'_>) -> bool {
    match (local_holder(file), recorded_holder(file)) {
        (Some(holder), (Some(recorded), None)) => holder == recorded,
        _ => false,
    }
}

/// The pid and host (when another than ours) lock file `file` records
/// (`pid 1234 host web-2 since 1700000000`; a directory records nothing).
fn recorded_holder(file: BorrowedFd<'_>) -> (Option<u32>, Option<String>) {
    let mut text = [0; 256];
    let len = rustix::io::pread(file, &mut text, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&text[..len]);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let field = |key: &str| {
        let at = fields.iter().position(|f| *f == key)?;
        fields.get(at + 1).copied()
    };
    let pid = field("pid").and_then(|pid| pid.parse().ok());
    let host = field("host")
        .filter(|host| *host != crate::node::host_name())
        .map(str::to_owned);
    (pid, host)
}

/// The pid that holds a `flock` on `file`, from `/proc/locks`, whose lines
/// read `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF` (the file as
/// major:minor:inode, the device numbers in hex).
fn local_holder(file: BorrowedFd<'_>) -> Option<u32> {
    let stat = rustix::fs::fstat(file).ok()?;
    let file = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(stat.st_dev),
        rustix::fs::minor(stat.st_dev),
        stat.st_ino
    );
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        match (fields.get(at + 3), fields.get(at + 4)) {
            (Some(pid), Some(held)) if *held == file => pid.parse().ok(),
            _ => None,
        }
    })
}

/// The locks a server takes before it binds its ports: [`Claim::take`].
#[derive(Debug)]
pub struct Claim {
    pub(super) path: PathBuf,
    pub(super) node: String,
    pub(super) read_only: bool,
    /// What [`super::Storage::open_claimed`] would otherwise take: the
    /// open root, its nodes' directory and the locks. `None` where the
    /// root or its nodes' directory does not exist yet (no server can hold
    /// a lock there; the open creates and locks them) or the check met an
    /// error the open reports.
    pub(super) held: Option<Held>,
    /// This node's rules (`crate::node_rules`), once [`Claim::agree`]
    /// has them: written beside its lock, now or when the open makes it.
    pub(super) rules: Option<String>,
}

/// A root opened and locked without creating anything in it.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) root: OwnedFd,
    pub(super) nodes: Option<OwnedFd>,
    pub(super) lock: NodeLock,
}

impl Claim {
    /// Takes the locks that [`super::Storage::open`] takes, as far as the
    /// root exists, creating nothing and moving no journal aside.
    ///
    /// # Errors
    /// [`RootInUse`] (see [`root_in_use`]) only: any other problem is left
    /// for the open to report, as it would without this check.
    pub fn take(root: &Path, node: &str, read_only: bool) -> io::Result<Claim> {
        let held = match Held::take(root, node, read_only) {
            Ok(held) => held,
            Err(err) if root_in_use(&err).is_some() => return Err(err),
            Err(_) => None,
        };
        Ok(Claim {
            path: root.to_path_buf(),
            node: node.to_owned(),
            read_only,
            held,
            rules: None,
        })
    }
}

impl Held {
    fn take(path: &Path, node: &str, read_only: bool) -> io::Result<Option<Held>> {
        let root = match rustix::fs::open(path, super::DIR, Mode::empty()) {
            Ok(root) => root,
            Err(Errno::NOENT) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        };
        if read_only {
            let lock = NodeLock::acquire(&root, path, None)?;
            return Ok(Some(Held {
                root,
                nodes: None,
                lock,
            }));
        }
        match rustix::fs::openat(&root, super::NODES_DIR, super::DIR, Mode::empty()) {
            Ok(nodes) => {
                let lock = NodeLock::acquire(&root, path, Some((&nodes, node)))?;
                Ok(Some(Held {
                    root,
                    nodes: Some(nodes),
                    lock,
                }))
            }
            // No node has served here yet: only a ferry from before node
            // ids can be in the way.
            Err(Errno::NOENT) => NodeLock::acquire(&root, path, None).map(|_| None),
            Err(errno) => Err(errno.into()),
        }
    }
}

/// The [`RootInUse`] inside `err`, if that is what it is.
pub fn root_in_use(err: &io::Error) -> Option<&RootInUse> {
    err.get_ref()?.downcast_ref::<RootInUse>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_process_is_gone_and_this_one_is_not() {
        assert!(!process_is_gone(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(process_is_gone(pid));
        assert!(!process_is_gone(0), "0 names no process");
    }

    #[test]
    fn a_lock_whose_process_is_gone_is_not_said_to_serve() {
        let mut in_use = RootInUse {
            root: PathBuf::from("/srv/data"),
            node: Some("node2".into()),
            pid: Some(26251),
            host: None,
            gone: true,
        };
        let said = in_use.to_string();
        assert!(!said.contains("already serves"), "{said}");
        assert!(
            said.starts_with("the lock of node \"node2\" in /srv/data is still held, though the process it records (pid 26251) is gone"),
            "{said}"
        );
        assert!(said.contains("dead file-system client"), "{said}");
        assert!(said.contains("freed when that session expires"), "{said}");
        in_use.gone = false;
        let said = in_use.to_string();
        assert!(
            said.starts_with("node \"node2\" already serves /srv/data (pid 26251)"),
            "{said}"
        );
    }
}
