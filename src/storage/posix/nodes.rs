//! The nodes' directory and the files in it: lock files, the journals of
//! directories that hold temp files, and the names of temp files. What is
//! done with them at start-up is `sweep.rs`; how locks are taken, `lock.rs`.
//!
//! ```text
//! <root>/.ferry-nodes/             0700, reserved (invisible to clients)
//!     <node>.lock                  flock'ed by the live server of that node id;
//!                                  "pid <pid> host <host> since <unix time>\n"
//!     <node>.dirs                  this run's journal: one line per directory in
//!                                  which the run made a temp file, percent-encoded
//!                                  (the root as "."), or "*" for "too many: all"
//!     <node>.dirs.old              earlier runs' journals, until their sweep ends
//! <dir>/.ferry-tmp-<node>-<run>-<serial>   an upload in flight (or a dead one's)
//! ```
//!
//! A directory is journaled before the first temp file of a run is made in
//! it, so every temp file a killed run leaves is in a directory its journal
//! names, and a later sweep reads only those directories, never the tree.
//! A temp file planted by hand elsewhere is not found: the price of not
//! walking millions of files at every start.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Mutex;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::DIR;
use crate::name::{self, Name, RESERVED_PREFIX};

/// The directory, beneath the root, of the nodes' locks and journals.
pub const NODES_DIR: &str = ".ferry-nodes";

/// Directories a run journals one by one; past this many, it writes `*`
/// (sweep the whole tree) and keeps no more in memory.
const MAX_JOURNALED_DIRS: usize = 65_536;

/// The journal line that stands for every directory.
const EVERYWHERE: &str = "*";

/// Opens the nodes' directory, creating it (0700) if missing. Also says
/// whether this call created it: a root that had none was last served by a
/// ferry from before node ids, whose temp files no journal names.
///
/// # Errors
/// It cannot be made, or is not a plain directory (a symlink, a file).
pub(super) fn open_dir(root: &OwnedFd, path: &Path) -> io::Result<(OwnedFd, bool)> {
    let created = match rustix::fs::mkdirat(root, NODES_DIR, Mode::from_raw_mode(0o700)) {
        // Flushed once, when made: lost in a power cut, the next start
        // would take itself for a first one.
        Ok(()) => {
            rustix::fs::fsync(root)?;
            true
        }
        Err(Errno::EXIST) => false,
        Err(errno) => return Err(errno.into()),
    };
    match rustix::fs::openat(root, NODES_DIR, DIR, Mode::empty()) {
        Ok(dir) => Ok((dir, created)),
        Err(errno @ (Errno::LOOP | Errno::NOTDIR)) => Err(io::Error::other(format!(
            "{} is not a directory ({errno}): ferry keeps its nodes' locks in a directory of that name and follows no symlink; move it away",
            path.join(NODES_DIR).display()
        ))),
        Err(errno) => Err(errno.into()),
    }
}

/// The journal file names of node `node`: this run's, earlier runs'.
pub(super) fn journal_files(node: &str) -> [String; 2] {
    [format!("{node}.dirs"), format!("{node}.dirs.old")]
}

/// Moves node `node`'s journal aside as `.dirs.old` (appending it there if
/// an interrupted sweep left one) for the sweep, and starts this run's.
///
/// # Errors
/// The journals cannot be read, moved or created.
pub(super) fn start_journal(nodes: &OwnedFd, node: &str) -> io::Result<Journal> {
    let [current, old] = journal_files(node);
    match rustix::fs::statat(nodes, old.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => match rustix::fs::renameat(nodes, &current, nodes, &old) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(errno) => return Err(errno.into()),
        },
        Err(errno) => return Err(errno.into()),
        Ok(_) => {
            if let Some(text) = read_file(nodes, &current)? {
                let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(nodes, old.as_str(), flags, Mode::empty())?;
                let mut old = File::from(fd);
                old.write_all(text.as_bytes())?;
                // On the disk before the lines' first home goes: a power
                // cut in between must not lose both.
                old.sync_data()?;
                rustix::fs::unlinkat(nodes, current.as_str(), AtFlags::empty())?;
            }
        }
    }
    let flags = OFlags::WRONLY
        | OFlags::CREATE
        | OFlags::TRUNC
        | OFlags::APPEND
        | OFlags::NOFOLLOW
        | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(nodes, current.as_str(), flags, Mode::from_raw_mode(0o600))?;
    // The names (earlier runs' journal moved aside, this run's made) go
    // to the disk before the first line that must (`Journal::note`), not
    // here: a directory's flush waits for the file system's journal, and
    // behind it for whatever else the disk is writing (hundreds of
    // milliseconds after a large copy), which the first accept must not.
    Ok(Journal {
        file: File::from(fd),
        seen: Mutex::new(Some(HashSet::new())),
        unflushed: Mutex::new(Some(rustix::io::fcntl_dupfd_cloexec(nodes, 0)?)),
    })
}

/// The directories a set of journals names.
#[derive(Debug, Default)]
pub(super) struct Journaled {
    /// Paths from the root ("" for the root), each once.
    pub dirs: HashSet<String>,
    /// A journal said `*`: every directory.
    pub everywhere: bool,
}

/// Reads journal `name` in `nodes` (absent: nothing) into `into`. Lines
/// that do not decode to a directory a client could name are passed over:
/// a journal names only directories beneath the root, and what is opened
/// from it is opened beneath the root anyway.
///
/// # Errors
/// It exists but cannot be read.
pub(super) fn read_journal(nodes: &OwnedFd, name: &str, into: &mut Journaled) -> io::Result<()> {
    let Some(text) = read_file(nodes, name)? else {
        return Ok(());
    };
    for line in text.lines() {
        match line {
            "" => {}
            EVERYWHERE => into.everywhere = true,
            "." => {
                into.dirs.insert(String::new());
            }
            encoded => {
                let Ok(dir) = Name::decode(encoded.as_bytes()) else {
                    continue;
                };
                into.dirs.insert(dir.as_str().to_owned());
            }
        }
    }
    Ok(())
}

/// The whole of file `name` in `nodes`, `None` if there is none.
pub(super) fn read_file(nodes: &OwnedFd, name: &str) -> io::Result<Option<String>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(nodes, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(errno.into()),
    };
    let mut text = String::new();
    File::from(fd).read_to_string(&mut text)?;
    Ok(Some(text))
}

/// The lock files in `nodes` but `ours`: each other node's, by node id.
pub(super) fn other_nodes(nodes: &OwnedFd, ours: &str) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in rustix::fs::Dir::read_from(nodes)? {
        let entry = entry?;
        let Ok(leaf) = entry.file_name().to_str() else {
            continue;
        };
        match leaf.strip_suffix(".lock") {
            Some(node)
                if node != ours
                    && crate::node::parse_node_id(node).is_ok()
                    && matches!(entry.file_type(), FileType::RegularFile | FileType::Unknown) =>
            {
                found.push(node.to_owned());
            }
            _ => {}
        }
    }
    found.sort();
    Ok(found)
}

/// This run's journal of the directories it has made temp files in.
#[derive(Debug)]
pub(super) struct Journal {
    /// Opened `O_APPEND`: each line lands whole at the end, whichever
    /// thread writes it.
    file: File,
    /// The directories journaled so far; `None` once `*` is written.
    seen: Mutex<Option<HashSet<String>>>,
    /// The nodes' directory until it is flushed with this run's journal's
    /// name in it: before the first line flushed (a line flushed into a
    /// file whose name a power cut takes would name nothing).
    unflushed: Mutex<Option<OwnedFd>>,
}

impl Journal {
    /// Journals directory `dir` ("" for the root) unless this run already
    /// has: one `write` the first time (and, if `durable`, one
    /// `fdatasync`), a set lookup after. Called on an I/O thread before a
    /// temp file is made in `dir`.
    ///
    /// `durable` (`--fsync`) puts the line on the disk before the temp
    /// file exists: a neighbour's commit flushes the directory, and with
    /// it the temp file's name, at any moment after; a power cut then
    /// must find the line that sends the start-up sweep there.
    ///
    /// # Errors
    /// The line could not be written (the directory stays unjournaled, so
    /// the next upload there tries again).
    pub(super) fn note(&self, dir: &str, durable: bool) -> io::Result<()> {
        // Held across the write: a second upload into the same new
        // directory must not make its temp file before the line is down,
        // or a crash then would leave a file no journal names.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dirs) = seen.as_mut() else {
            return Ok(());
        };
        if dirs.contains(dir) {
            return Ok(());
        }
        let full = dirs.len() >= MAX_JOURNALED_DIRS;
        let line = match (full, dir) {
            (true, _) => format!("{EVERYWHERE}\n"),
            (false, "") => ".\n".to_owned(),
            (false, dir) => format!("{}\n", name::encode(dir)),
        };
        if durable {
            self.flush_names()?;
        }
        (&self.file).write_all(line.as_bytes())?;
        if durable {
            self.file.sync_data()?;
        }
        if full {
            *seen = None;
        } else {
            dirs.insert(dir.to_owned());
        }
        Ok(())
    }

    /// A folder `from` is about to be renamed `to` (both paths beneath the
    /// root, without a trailing `/`): each directory this run journaled at
    /// or below `from` is journaled under its new path too, before the
    /// rename, so that a temp file the move carries along (an upload under
    /// way there) is still in a directory the journal names.
    ///
    /// # Errors
    /// A line could not be written.
    pub(super) fn note_moved(&self, from: &str, to: &str, durable: bool) -> io::Result<()> {
        let moved: Vec<String> = {
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let Some(dirs) = seen.as_ref() else {
                return Ok(()); // `*`: every directory is swept.
            };
            dirs.iter()
                .filter_map(|dir| moved_path(dir, from, to))
                .collect()
        };
        for dir in moved {
            self.note(&dir, durable)?;
        }
        Ok(())
    }

    /// Flushes the nodes' directory, once a run (again after a failure):
    /// this run's journal and earlier runs' moved aside are there by name.
    fn flush_names(&self) -> io::Result<()> {
        let mut unflushed = self.unflushed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = unflushed.as_ref() {
            rustix::fs::fsync(dir)?;
            *unflushed = None;
        }
        Ok(())
    }
}

/// Where directory `dir` is once folder `from` is renamed `to`: `None`
/// if it is not at or below `from`.
fn moved_path(dir: &str, from: &str, to: &str) -> Option<String> {
    match dir.strip_prefix(from)? {
        "" => Some(to.to_owned()),
        rest if rest.starts_with('/') => Some(format!("{to}{rest}")),
        _ => None,
    }
}

/// Whose a temp file is, read from its name.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TempName<'a> {
    /// The node that made it; `None` for a ferry from before node ids
    /// (`.ferry-tmp-<run>-<serial>`).
    pub node: Option<&'a str>,
    /// The run of the server that made it.
    pub run: &'a str,
}

/// Reads `.ferry-tmp-<node>-<run>-<serial>` (or the older
/// `.ferry-tmp-<run>-<serial>`) from the right: the run is hex and the
/// serial decimal, so neither holds a `-`, and a node id may.
pub(super) fn parse_temp(leaf: &str) -> Option<TempName<'_>> {
    parse_owner(leaf.strip_prefix(RESERVED_PREFIX)?.strip_prefix("tmp-")?)
}

/// Reads `<node>-<run>-<serial>` (or `<run>-<serial>`), the end of every
/// temp name that says whose it is: an upload's (above), and those in
/// ferry's own folders (WebDAV lock records', `tmp-<...>`, and S3 parts',
/// `.t<N>-<...>`: `sweep.rs`).
pub(super) fn parse_owner(rest: &str) -> Option<TempName<'_>> {
    let (front, serial) = rest.rsplit_once('-')?;
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (node, run) = match front.rsplit_once('-') {
        Some((node, run)) if !node.is_empty() => (Some(node), run),
        Some(_) => return None,
        None => (None, front),
    };
    if run.is_empty() || !run.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(TempName { node, run })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_folder_takes_its_journaled_directories_along() {
        assert_eq!(moved_path("h/x", "h/x", "h/y").as_deref(), Some("h/y"));
        assert_eq!(moved_path("h/x/sub", "h/x", "g").as_deref(), Some("g/sub"));
        assert_eq!(moved_path("h/xy", "h/x", "h/y"), None);
        assert_eq!(moved_path("h", "h/x", "h/y"), None);
    }

    #[test]
    fn temp_names_are_read_from_the_right() {
        let temp = |node, run| Some(TempName { node, run });
        assert_eq!(
            parse_temp(".ferry-tmp-web-1-ab12-7"),
            temp(Some("web-1"), "ab12")
        );
        assert_eq!(parse_temp(".ferry-tmp-a-1f-0"), temp(Some("a"), "1f"));
        assert_eq!(parse_temp(".ferry-tmp-123-1"), temp(None, "123"));
        for not_a_temp in [
            ".ferry-tmp-",
            ".ferry-tmp-1",
            ".ferry-tmp-a-x-1",
            ".ferry-tmp-a-1-x",
            ".ferry-tmp--1-2",
            ".ferry-tmp-dir",
            "ferry-tmp-1-1",
        ] {
            assert_eq!(parse_temp(not_a_temp), None, "{not_a_temp}");
        }
    }
}
