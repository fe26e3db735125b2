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
//! ferry's own      .ferry-dav/locks/tmp-<node>-<run>-* (lock records) and
//! folders          .ferry-uploads/<id>.parts/.t<N>-<node>-<run>-* (S3 parts):
//!                  fixed places, so read without a journal; this node's of
//!                  earlier runs, and gone nodes' (start-up only)
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
    /// Temp files in ferry's own folders (lock records', S3 parts'), of
    /// this node's earlier runs and of gone nodes.
    pub own_folders: usize,
}

impl SweepReport {
    /// Temp files removed in all.
    pub fn removed(&self) -> usize {
        self.own + self.others + self.legacy + self.own_folders
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
        write!(
            f,
            ", {} of pre-node servers, {} in ferry's own folders; ",
            self.legacy, self.own_folders
        )?;
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
        report.own_folders = self.remove_own_folder_temps(dir);

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
        super::rules_file::forget_rules(dir, other);
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

    /// Removes the temp files a cut or a kill left in ferry's own folders
    /// (see the module docs), between such a file's creation and its
    /// rename: this node's of earlier runs, and those of other nodes whose
    /// lock can be had (gone), holding it meanwhile. Their places are
    /// fixed, so no journal names them: a read of the locks folder, of
    /// the sessions folder and of each multipart upload's parts.
    fn remove_own_folder_temps(&self, nodes_dir: &OwnedFd) -> usize {
        let mut dirs = Vec::new();
        if let Ok(locks) = super::open_dir_at(&self.root, super::dav_locks::LOCKS_DIR) {
            dirs.push((locks, lock_temp as fn(&str) -> Option<TempName<'_>>));
        }
        // Opened, not made: a root without sessions has no parts.
        let sessions = super::open_dir_at(&self.root, super::session_files::SESSIONS_DIR);
        if let Ok(sessions) = sessions {
            for leaf in leaves(&sessions)
                .into_iter()
                .filter(|l| l.ends_with(".parts"))
            {
                let flags = DIR | rustix::fs::OFlags::NOFOLLOW;
                if let Ok(parts) =
                    rustix::fs::openat(&sessions, leaf.as_str(), flags, Mode::empty())
                {
                    dirs.push((parts, part_temp));
                }
            }
        }
        // (directory, leaf, node) of every temp file found with an owner.
        let mut found = Vec::new();
        for (i, (dir, parse)) in dirs.iter().enumerate() {
            for leaf in leaves(dir) {
                if let Some(TempName {
                    node: Some(node),
                    run,
                }) = parse(&leaf)
                {
                    let theirs = (node != self.node.as_str() || run != self.run.as_str())
                        .then(|| node.to_owned());
                    found.extend(theirs.map(|node| (i, leaf.clone(), node)));
                }
            }
        }
        let mut removed = 0;
        let mut owners: Vec<&str> = found.iter().map(|(_, _, node)| node.as_str()).collect();
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            // This node's own lock is this run's: its earlier runs are over.
            let _gone = match owner == self.node.as_str() {
                true => None,
                false => match lock::claim(nodes_dir, &lock::lock_file(owner)) {
                    Some(held) => Some(held),
                    None => continue, // alive: its files are on their way
                },
            };
            for (i, leaf, _) in found.iter().filter(|(_, _, node)| node == owner) {
                removed += usize::from(remove_temp(&dirs[*i].0, "ferry's own folder", leaf));
            }
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
                let (path, kind) = (visit.path.as_str(), visit.kind);
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

/// The names in directory `dir` (none if it cannot be read).
fn leaves(dir: &OwnedFd) -> Vec<String> {
    let Ok(entries) = Dir::read_from(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().ok().map(str::to_owned))
        .filter(|leaf| leaf != "." && leaf != "..")
        .collect()
}

/// A WebDAV lock record on its way: `tmp-<node>-<run>-<serial>`.
fn lock_temp(leaf: &str) -> Option<TempName<'_>> {
    nodes::parse_owner(leaf.strip_prefix("tmp-")?)
}

/// An S3 part on its way: `.t<N>-<node>-<run>-<serial>`.
fn part_temp(leaf: &str) -> Option<TempName<'_>> {
    let (number, rest) = leaf.strip_prefix(".t")?.split_once('-')?;
    match !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        true => nodes::parse_owner(rest),
        false => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cuts_temp_files_in_ferrys_own_folders_are_swept_but_live_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), "me", false).unwrap();
        let (locks, parts) = (
            root.path().join(".ferry-dav/locks"),
            root.path().join(".ferry-uploads/0123abcd.parts"),
        );
        std::fs::create_dir_all(&locks).unwrap();
        std::fs::create_dir_all(&parts).unwrap();
        // "gone" left a lock file nobody holds; "alive" holds its own.
        let nodes = root.path().join(nodes::NODES_DIR);
        for node in ["gone", "alive"] {
            std::fs::write(nodes.join(lock::lock_file(node)), b"").unwrap();
        }
        let held = std::fs::File::open(nodes.join(lock::lock_file("alive"))).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        let this_run = storage.run.clone();
        let swept = [
            locks.join("tmp-me-1f-0"),
            parts.join(".t1-me-1f-2"),
            locks.join("tmp-gone-ab-7"),
            parts.join(".t12-gone-ab-3"),
        ];
        let kept = [
            locks.join(format!("tmp-me-{this_run}-9")),
            parts.join(format!(".t2-me-{this_run}-4")),
            locks.join("tmp-alive-cd-1"),
            parts.join(".t3-alive-cd-5"),
            parts.join("1"),
            locks.join("0b6f2bb4-5e43-4bd3-9a3b-d2f0d0e2b3a1"),
        ];
        for file in swept.iter().chain(&kept) {
            std::fs::write(file, b"x").unwrap();
        }
        let report = storage.remove_stale_temp_files();
        assert_eq!(report.own_folders, swept.len(), "{report}");
        for file in &swept {
            assert!(!file.exists(), "{} left", file.display());
        }
        for file in &kept {
            assert!(file.exists(), "{} removed", file.display());
        }
    }

    #[test]
    fn temp_names_in_ferrys_own_folders_say_whose_they_are() {
        let whose = |node, run| Some(TempName { node, run });
        assert_eq!(lock_temp("tmp-web-1-ab12-7"), whose(Some("web-1"), "ab12"));
        assert_eq!(part_temp(".t10000-a-1f-0"), whose(Some("a"), "1f"));
        for not_one in [
            "tmp-",
            "0b6f2bb4-5e43",
            ".t-a-1f-0",
            ".tx-a-1f-0",
            "1",
            ".t1",
        ] {
            assert_eq!(lock_temp(not_one).or(part_temp(not_one)), None, "{not_one}");
        }
    }
}
