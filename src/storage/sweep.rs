//! The sweeps of temp files that no live server will finish: at start-up,
//! this node's from its earlier (killed) runs and those of nodes that are
//! gone; then periodically, those of nodes that died since. A live node's
//! temp files are never touched, and the tree is never walked but where a
//! start-up sweep finds a journal asking for it (see `nodes.rs`).
//!
//! ```text
//! this node        <node>.dirs.old names directories: remove .ferry-tmp-<node>-*
//!                  there that are not this run's, then the journal (start-up)
//! another node     only if its lock can be had (it is gone), and while it is
//!                  held: the same for its .dirs and .dirs.old, any run
//!                  (start-up, and every period after: see server/sweeps.rs)
//! "*" in a journal walk the tree for that node's temp files (it made too many
//!                  directories to journal one by one); start-up only
//! a root without   the first start that makes .ferry-nodes walks the tree once
//! .ferry-nodes     for temp files of a ferry from before node ids
//! ```
//!
//! Runs on a thread of its own while the server serves: new uploads are of
//! this run, which the sweep spares. A gone node's lock is held only while
//! its leftovers go; a restart of that node meanwhile waits (`lock.rs`).

use std::fmt;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, Mode};
use rustix::io::Errno;

use super::gate::Point;
use super::nodes::{self, Journaled, TempName};
use super::{DIR, Storage, lock, prune_empty_dirs};
use crate::name::RESERVED_PREFIX;

/// What the start-up sweep removed.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Temp files of this node's earlier runs.
    pub own: usize,
    /// Temp files of nodes that are gone.
    pub others: usize,
    /// The gone nodes whose journals were swept.
    pub gone: Vec<String>,
    /// Temp files of a ferry from before node ids.
    pub legacy: usize,
    /// Directories read (journaled ones).
    pub dirs: usize,
    /// The whole tree was walked (a `*` journal, or a first start).
    pub walked: bool,
}

impl SweepReport {
    /// Temp files removed in all.
    pub fn removed(&self) -> usize {
        self.own + self.others + self.legacy
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stale temp files ({} of this node's earlier runs, {} of {} gone nodes",
            self.removed(),
            self.own,
            self.others,
            self.gone.len()
        )?;
        if !self.gone.is_empty() {
            write!(f, " [{}]", self.gone.join(", "))?;
        }
        write!(f, ", {} of pre-node servers; ", self.legacy)?;
        match self.walked {
            true => write!(f, "{} journaled directories read, tree walked)", self.dirs),
            false => write!(f, "{} journaled directories read, no tree walk)", self.dirs),
        }
    }
}

impl Storage {
    /// Removes the temp files of uploads no live server will finish (see
    /// the module docs). A directory or file that cannot be read or
    /// removed is logged and passed over. Safe while uploads are under way,
    /// here and on other nodes.
    pub fn remove_stale_temp_files(&self) -> SweepReport {
        self.pause(Point::Sweep);
        let mut report = SweepReport::default();
        let Some(dir) = &self.nodes else {
            return report; // read-only: nothing of ours to remove
        };
        let me = self.node.as_str();
        let run = self.run.as_str();
        let [_, old] = nodes::journal_files(me);
        let journaled = read_journals(dir, std::slice::from_ref(&old));
        report.own = self.remove_temps(&journaled, &mut report, |temp| {
            temp.node == Some(me) && temp.run != run
        });
        remove_journal(dir, &old);

        self.sweep_gone_nodes(dir, &mut report, true);

        if self.first_node_start {
            report.walked = true;
            report.legacy = self.remove_temps_walking(|temp| temp.node.is_none());
        }
        report
    }

    /// The periodic sweep (every `--node-id` server runs it, see
    /// `server/sweeps.rs`): the temp files of nodes that died since
    /// they, or this node, last started. Reads only the directories their
    /// journals name, never the tree: a gone node whose journal says `*`
    /// is left for a start-up sweep. Safe while uploads are under way.
    pub fn remove_gone_nodes_temp_files(&self) -> SweepReport {
        let mut report = SweepReport::default();
        if let Some(dir) = &self.nodes {
            self.sweep_gone_nodes(dir, &mut report, false);
        }
        report
    }

    /// Removes the temp files of every other node whose lock can be had
    /// (it is gone); walks the tree for a `*` journal only if `may_walk`.
    fn sweep_gone_nodes(&self, dir: &OwnedFd, report: &mut SweepReport, may_walk: bool) {
        let others = nodes::other_nodes(dir, self.node.as_str()).unwrap_or_else(|err| {
            log::warn!("could not read {}/: {err}", nodes::NODES_DIR);
            Vec::new()
        });
        for other in others {
            if let Some(removed) = self.sweep_gone_node(dir, &other, report, may_walk) {
                report.others += removed;
                report.gone.push(other);
            }
        }
    }

    /// Removes node `other`'s temp files and journals if its lock can be
    /// had, and says how many files went; `None` if it is alive or left
    /// nothing to sweep (or only a `*` journal, unless `may_walk`).
    fn sweep_gone_node(
        &self,
        dir: &OwnedFd,
        other: &str,
        report: &mut SweepReport,
        may_walk: bool,
    ) -> Option<usize> {
        // Held until its leftovers are gone, and released then: a restart
        // of that node meanwhile waits for it (`lock.rs`), and must never
        // find it journaling into a directory being swept.
        let _gone = lock::claim(dir, &lock::lock_file(other))?;
        let files = nodes::journal_files(other);
        let journaled = read_journals(dir, &files);
        if journaled.dirs.is_empty() && !journaled.everywhere {
            return None;
        }
        if journaled.everywhere && !may_walk {
            log::debug!(
                "node {other} is gone and made temp files in too many directories to journal: a start-up sweep walks the tree for them"
            );
            return None;
        }
        let removed = self.remove_temps(&journaled, report, |temp| temp.node == Some(other));
        for file in &files {
            remove_journal(dir, file);
        }
        Some(removed)
    }

    /// Removes the temp files `whose` approves of in the directories
    /// `journaled` names (in the whole tree if it says `*`).
    fn remove_temps(
        &self,
        journaled: &Journaled,
        report: &mut SweepReport,
        whose: impl Fn(&TempName<'_>) -> bool,
    ) -> usize {
        if journaled.everywhere {
            report.walked = true;
            return self.remove_temps_walking(whose);
        }
        report.dirs += journaled.dirs.len();
        journaled
            .dirs
            .iter()
            .map(|dir| self.remove_temps_in(dir, &whose))
            .sum()
    }

    /// Removes the temp files `whose` approves of directly in directory
    /// `path` ("" for the root), then the directories that left empty (as
    /// the upload would have, had it ended). A directory gone meanwhile
    /// holds nothing.
    fn remove_temps_in(&self, path: &str, whose: &impl Fn(&TempName<'_>) -> bool) -> usize {
        let opened = match path {
            "" => rustix::fs::openat(&*self.root, ".", DIR, Mode::empty()),
            path => super::open_dir_at(&self.root, path),
        };
        let dir = match opened {
            Ok(dir) => dir,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return 0,
            Err(errno) => {
                log::warn!("could not sweep {}/: {errno}", display(path));
                return 0;
            }
        };
        let mut doomed = Vec::new();
        let read = Dir::read_from(&dir).and_then(|entries| {
            for entry in entries {
                let entry = entry?;
                if let Ok(leaf) = entry.file_name().to_str()
                    && nodes::parse_temp(leaf).is_some_and(|temp| whose(&temp))
                {
                    doomed.push(leaf.to_owned());
                }
            }
            Ok(())
        });
        if let Err(errno) = read {
            log::warn!("could not sweep {}/: {errno}", display(path));
        }
        let removed = doomed
            .iter()
            .filter(|leaf| remove_temp(&dir, path, leaf))
            .count();
        if removed > 0 {
            // The removals on the disk before the journal that names this
            // directory goes: otherwise a power cut after a later flush of
            // the nodes' directory brings back files no journal names.
            if let Err(errno) = rustix::fs::fsync(&dir) {
                log::warn!(
                    "could not flush {}/ after sweeping it: {errno}",
                    display(path)
                );
            }
            prune_empty_dirs(&self.root, path, 0);
        }
        removed
    }

    /// Removes the temp files `whose` approves of anywhere beneath the root
    /// (reserved directories are not entered).
    fn remove_temps_walking(&self, whose: impl Fn(&TempName<'_>) -> bool) -> usize {
        let mut removed = 0;
        let walked = self.walk_tree(
            "",
            |_, _| true,
            |visit| {
                let (path, kind) = (visit.path, visit.kind);
                let (dir, leaf) = path.rsplit_once('/').unwrap_or(("", path));
                match kind {
                    FileType::Directory => return Ok(!leaf.starts_with(RESERVED_PREFIX)),
                    FileType::RegularFile
                        if nodes::parse_temp(leaf).is_some_and(|temp| whose(&temp)) =>
                    {
                        match self.unlink_file(dir, leaf) {
                            Ok(()) => removed += 1,
                            Err(errno) => log::warn!("could not remove stale {path}: {errno}"),
                        }
                    }
                    _ => {}
                }
                Ok(false)
            },
            |dir, errno| {
                log::warn!("could not sweep {}/: {errno}", display(dir));
                Ok(())
            },
        );
        if let Err(errno) = walked {
            log::warn!("could not sweep stale temp files: {errno}");
        }
        removed
    }
}

/// Unlinks temp file `leaf` of `dir` (at `path`) if it is a regular file;
/// whether it went.
fn remove_temp(dir: &OwnedFd, path: &str, leaf: &str) -> bool {
    match rustix::fs::statat(dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {}
        _ => return false,
    }
    match rustix::fs::unlinkat(dir, leaf, AtFlags::empty()) {
        Ok(()) => true,
        Err(Errno::NOENT) => false,
        Err(errno) => {
            log::warn!("could not remove stale {}/{leaf}: {errno}", display(path));
            false
        }
    }
}

/// The directories the journals `files` in `dir` name together.
fn read_journals(dir: &OwnedFd, files: &[String]) -> Journaled {
    let mut journaled = Journaled::default();
    for file in files {
        if let Err(err) = nodes::read_journal(dir, file, &mut journaled) {
            log::warn!("could not read {}/{file}: {err}", nodes::NODES_DIR);
        }
    }
    journaled
}

/// Removes journal `file` of `dir`, once swept.
fn remove_journal(dir: &OwnedFd, file: &str) {
    match rustix::fs::unlinkat(dir, file, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(errno) => log::warn!("could not remove {}/{file}: {errno}", nodes::NODES_DIR),
    }
}

/// A directory path for messages: "." for the root.
fn display(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}
