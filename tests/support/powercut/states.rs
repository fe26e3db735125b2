//! Crash-state enumeration (ALICE-style): from the file system as it was
//! when a recording began (all of it durable) and the operation log since
//! (`record.rs`), every state a power cut could leave under the model of
//! docs/reliability.md ("Crash states"), each written out as a folder to
//! start a server on.
//!
//! ```text
//! crash point k (0..=n)       the first k events were sent; none after
//! stream                      the events of one inode: a directory's names, a
//!                             file's pages, length, mode and xattrs; a rename is
//!                             in both its directories' streams
//! durable                     every event of a stream before its last Flush < k
//! pending                     the stream's events after that flush; any prefix
//!                             of them survives (a stream persists in order)
//! a rename                    persists in both its directories or in neither:
//!                             one journal transaction, as on ext4 and XFS
//! ```
//!
//! So the states at crash point k are the product, over the streams with
//! pending events, of (pending + 1) prefixes, less the combinations that
//! split a rename; the same folder reached twice counts once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::model::{STORE, xattr_names};
use super::record::Event;

/// Combinations one crash point may ask for before the enumeration gives
/// up (a path too long to enumerate must be split, not sampled).
pub const MAX_COMBINATIONS: u64 = 1 << 16;

/// A node of the abstract file system.
#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    mode: u32,
    xattrs: BTreeMap<OsString, Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Kind {
    Dir(BTreeMap<OsString, u64>),
    File(Vec<u8>),
}

/// The file system as inodes (backing inode numbers): what a crash state
/// is built on.
#[derive(Debug, Clone)]
pub struct Image {
    root: u64,
    nodes: HashMap<u64, Node>,
}

impl Image {
    /// The backing folder as it is now (the simulator's store left out).
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn scan(backing: &Path) -> io::Result<Image> {
        let root = fs::metadata(backing)?.ino();
        let mut image = Image {
            root,
            nodes: HashMap::new(),
        };
        image.scan_node(backing, true)?;
        Ok(image)
    }

    fn scan_node(&mut self, path: &Path, is_root: bool) -> io::Result<u64> {
        let meta = fs::symlink_metadata(path)?;
        let kind = if meta.is_dir() {
            let mut entries = BTreeMap::new();
            for entry in fs::read_dir(path)? {
                let entry = entry?;
                if is_root && entry.file_name() == STORE {
                    continue;
                }
                let ino = self.scan_node(&entry.path(), false)?;
                entries.insert(entry.file_name(), ino);
            }
            Kind::Dir(entries)
        } else {
            Kind::File(fs::read(path)?)
        };
        let mut xattrs = BTreeMap::new();
        for name in xattr_names(path)? {
            let mut buf = vec![0u8; 64 * 1024];
            let len = rustix::fs::lgetxattr(path, name.as_os_str(), &mut buf)?;
            buf.truncate(len);
            xattrs.insert(name, buf);
        }
        let mode = meta.mode() & 0o7777;
        self.nodes.insert(meta.ino(), Node { kind, mode, xattrs });
        Ok(meta.ino())
    }

    /// Applies `event`: its inode comes to exist whether or not it is
    /// `kept`, its change only if it is.
    fn apply(&mut self, event: &Event, kept: bool) {
        match event {
            Event::Mkdir { ino, mode, .. } => self.born(*ino, Kind::Dir(BTreeMap::new()), *mode),
            Event::Create { ino, mode, .. } => self.born(*ino, Kind::File(Vec::new()), *mode),
            _ => {}
        }
        if !kept {
            return;
        }
        match event {
            Event::Mkdir { dir, name, ino, .. }
            | Event::Create { dir, name, ino, .. }
            | Event::Link { dir, name, ino } => {
                self.entries(*dir).insert(name.clone(), *ino);
            }
            Event::Unlink { dir, name } => {
                self.entries(*dir).remove(name);
            }
            Event::Rename { from, to } => {
                if let Some(ino) = self.entries(from.0).remove(&from.1) {
                    self.entries(to.0).insert(to.1.clone(), ino);
                }
            }
            Event::Write { ino, at, data } => {
                let bytes = self.data(*ino);
                let end = *at as usize + data.len();
                if bytes.len() < end {
                    bytes.resize(end, 0);
                }
                bytes[*at as usize..end].copy_from_slice(data);
            }
            Event::Truncate { ino, len } => self.data(*ino).resize(*len as usize, 0),
            Event::Mode { ino, mode } => self.node(*ino).mode = *mode,
            Event::Xattr { ino, name, value } => {
                let xattrs = &mut self.node(*ino).xattrs;
                match value {
                    Some(value) => xattrs.insert(name.clone(), value.clone()),
                    None => xattrs.remove(name),
                };
            }
            Event::Flush { .. } => {}
        }
    }

    fn born(&mut self, ino: u64, kind: Kind, mode: u32) {
        self.nodes.entry(ino).or_insert(Node {
            kind,
            mode,
            xattrs: BTreeMap::new(),
        });
    }

    /// An inode the log names: one it never saw made is an empty file
    /// (never reached from the root, so never written out).
    fn node(&mut self, ino: u64) -> &mut Node {
        self.nodes.entry(ino).or_insert(Node {
            kind: Kind::File(Vec::new()),
            mode: 0o600,
            xattrs: BTreeMap::new(),
        })
    }

    fn entries(&mut self, dir: u64) -> &mut BTreeMap<OsString, u64> {
        let node = self.node(dir);
        if !matches!(node.kind, Kind::Dir(_)) {
            node.kind = Kind::Dir(BTreeMap::new());
        }
        match &mut node.kind {
            Kind::Dir(entries) => entries,
            Kind::File(_) => unreachable!("made a directory just above"),
        }
    }

    fn data(&mut self, ino: u64) -> &mut Vec<u8> {
        let node = self.node(ino);
        if !matches!(node.kind, Kind::File(_)) {
            node.kind = Kind::File(Vec::new());
        }
        match &mut node.kind {
            Kind::File(data) => data,
            Kind::Dir(_) => unreachable!("made a file just above"),
        }
    }

    /// The inode at `path` below the root (the root's if there is none).
    fn inode_at(&self, path: &Path) -> u64 {
        let mut ino = self.root;
        for part in path.iter() {
            let next = match self.nodes.get(&ino).map(|n| &n.kind) {
                Some(Kind::Dir(entries)) => entries.get(part).copied(),
                _ => None,
            };
            match next {
                Some(next) => ino = next,
                None => return self.root,
            }
        }
        ino
    }

    /// What the root reaches, by path: the state as a folder shows it.
    fn tree(&self) -> Tree {
        let mut tree = Tree::new();
        let mut seen = BTreeMap::new();
        self.walk(self.root, PathBuf::new(), &mut tree, &mut seen);
        tree
    }

    fn walk(&self, ino: u64, path: PathBuf, tree: &mut Tree, seen: &mut BTreeMap<u64, PathBuf>) {
        let Some(node) = self.nodes.get(&ino) else {
            return;
        };
        if let Some(first) = seen.get(&ino) {
            // A second name: a hard link of a file (a directory, which a
            // split rename could name twice, is written once).
            if matches!(node.kind, Kind::File(_)) {
                tree.insert(path, Entry::Link(first.clone()));
            }
            return;
        }
        seen.insert(ino, path.clone());
        let meta = (node.mode, node.xattrs.clone());
        match &node.kind {
            Kind::File(data) => {
                tree.insert(path, Entry::File(data.clone(), meta));
            }
            Kind::Dir(entries) => {
                tree.insert(path.clone(), Entry::Dir(meta));
                for (name, child) in entries {
                    self.walk(*child, path.join(name), tree, seen);
                }
            }
        }
    }
}

type Meta = (u32, BTreeMap<OsString, Vec<u8>>);

/// One entry of a state, by its path below the root ("" for the root).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Entry {
    Dir(Meta),
    File(Vec<u8>, Meta),
    /// Another name of the file at that path.
    Link(PathBuf),
}

type Tree = BTreeMap<PathBuf, Entry>;

/// One state a crash can leave.
#[derive(Debug, Clone)]
pub struct CrashState {
    /// The crash came after this many events of the log.
    pub point: usize,
    /// The events sent before the crash that it undid.
    pub dropped: Vec<usize>,
    tree: Tree,
}

impl CrashState {
    /// Writes the state out as folder `to` (which must not exist).
    ///
    /// # Errors
    /// The folder cannot be written.
    pub fn materialise(&self, to: &Path) -> io::Result<()> {
        let mut modes = Vec::new();
        for (path, entry) in &self.tree {
            let at = to.join(path);
            let meta = match entry {
                Entry::Dir(meta) => {
                    fs::create_dir(&at)?;
                    modes.push((at.clone(), meta.0));
                    meta
                }
                Entry::File(data, meta) => {
                    fs::write(&at, data)?;
                    fs::set_permissions(&at, fs::Permissions::from_mode(meta.0))?;
                    meta
                }
                Entry::Link(first) => {
                    fs::hard_link(to.join(first), &at)?;
                    continue;
                }
            };
            for (name, value) in &meta.1 {
                let flags = rustix::fs::XattrFlags::empty();
                rustix::fs::lsetxattr(&at, name.as_os_str(), value, flags)?;
            }
        }
        // Directories' modes last: one without write permission still
        // takes its entries above.
        for (at, mode) in modes.into_iter().rev() {
            fs::set_permissions(&at, fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// The state told in a line: where the crash came and what it undid
    /// (events numbered from 1, inodes by `names`).
    pub fn describe(&self, events: &[Event], names: &Names) -> String {
        let mut text = format!("crash after event {} of {}", self.point, events.len());
        if let Some(last) = self.point.checked_sub(1).and_then(|i| events.get(i)) {
            text += &format!(" ({})", brief(last, names));
        }
        if self.dropped.is_empty() {
            text += ", nothing undone";
        } else {
            let undone: Vec<String> = self
                .dropped
                .iter()
                .map(|i| format!("#{} {}", i + 1, brief(&events[*i], names)))
                .collect();
            text += &format!(", undone: {}", undone.join("; "));
        }
        text
    }
}

/// Inodes by the path they were first known by, below the backing folder
/// ("/" for it), for reports.
pub type Names = HashMap<u64, String>;

/// The names of the inodes `initial` reaches and of those `events` make.
pub fn names(initial: &Image, events: &[Event]) -> Names {
    let mut names = Names::new();
    for (path, _) in initial.tree() {
        let ino = initial.inode_at(&path);
        names.insert(ino, format!("/{}", path.display()));
    }
    for event in events {
        if let Event::Mkdir { dir, name, ino, .. } | Event::Create { dir, name, ino, .. } = event {
            let parent = names.get(dir).cloned().unwrap_or_else(|| format!("#{dir}"));
            let path = format!(
                "{}/{}",
                parent.trim_end_matches('/'),
                name.to_string_lossy()
            );
            names.entry(*ino).or_insert(path);
        }
    }
    names
}

/// An event in a few words, inodes by their names (a write's bytes
/// counted, not shown).
pub fn brief(event: &Event, names: &Names) -> String {
    let name = |ino: &u64| names.get(ino).cloned().unwrap_or_else(|| format!("#{ino}"));
    let entry = |dir: &u64, leaf: &OsString| {
        format!(
            "{}/{}",
            name(dir).trim_end_matches('/'),
            leaf.to_string_lossy()
        )
    };
    match event {
        Event::Mkdir {
            dir, name: leaf, ..
        } => format!("mkdir {}", entry(dir, leaf)),
        Event::Create {
            dir, name: leaf, ..
        } => format!("create {}", entry(dir, leaf)),
        Event::Link {
            dir,
            name: leaf,
            ino,
        } => format!("link {} to {}", entry(dir, leaf), name(ino)),
        Event::Unlink { dir, name: leaf } => format!("unlink {}", entry(dir, leaf)),
        Event::Rename { from, to } => {
            format!(
                "rename {} to {}",
                entry(&from.0, &from.1),
                entry(&to.0, &to.1)
            )
        }
        Event::Write { ino, at, data } => {
            format!("write {} bytes at {at} of {}", data.len(), name(ino))
        }
        Event::Truncate { ino, len } => format!("truncate {} to {len}", name(ino)),
        Event::Mode { ino, mode } => format!("chmod {} {mode:o}", name(ino)),
        Event::Xattr {
            ino,
            name: attr,
            value,
        } => {
            let what = if value.is_some() { "set" } else { "remove" };
            format!("{what} xattr {} of {}", attr.to_string_lossy(), name(ino))
        }
        Event::Flush { ino } => format!("fsync {}", name(ino)),
    }
}

/// What an enumeration found: the distinct states and how many
/// combinations gave them.
#[derive(Debug, Default)]
pub struct Enumeration {
    pub crash_points: usize,
    pub combinations: u64,
    pub states: Vec<CrashState>,
}

/// Every state a crash can leave during `events`, begun on `initial`
/// (all of it durable), each distinct folder once: with the last crash
/// point that gives it (and that point's first combination), as a later
/// crash has more acknowledged, so promises more.
///
/// # Panics
/// A crash point with more than [`MAX_COMBINATIONS`] combinations.
pub fn enumerate(initial: &Image, events: &[Event]) -> Enumeration {
    let mut found = Enumeration::default();
    let mut seen: HashMap<Tree, usize> = HashMap::new();
    for point in 0..=events.len() {
        found.crash_points += 1;
        let pending = pending(&events[..point]);
        let total: u64 = pending.iter().map(|p| p.len() as u64 + 1).product();
        assert!(
            total <= MAX_COMBINATIONS,
            "{total} combinations at crash point {point}: split the path"
        );
        let mut prefix = vec![0usize; pending.len()];
        loop {
            if let Some(dropped) = dropped(events, &pending, &prefix) {
                found.combinations += 1;
                let mut image = initial.clone();
                for (i, event) in events[..point].iter().enumerate() {
                    image.apply(event, !dropped.contains(&i));
                }
                let tree = image.tree();
                let dropped = dropped.into_iter().collect();
                match seen.get(&tree) {
                    Some(&i) if found.states[i].point == point => {}
                    Some(&i) => {
                        found.states[i].point = point;
                        found.states[i].dropped = dropped;
                    }
                    None => {
                        seen.insert(tree.clone(), found.states.len());
                        found.states.push(CrashState {
                            point,
                            dropped,
                            tree,
                        });
                    }
                }
            }
            if !next(&mut prefix, &pending) {
                break;
            }
        }
    }
    found
}

/// Each stream's pending events after `events` (those after its last
/// flush), by index; streams with none left out.
fn pending(events: &[Event]) -> Vec<Vec<usize>> {
    let mut streams: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        for stream in event.streams() {
            let pending = streams.entry(stream).or_default();
            match event {
                Event::Flush { .. } => pending.clear(),
                _ => pending.push(i),
            }
        }
    }
    streams.into_values().filter(|p| !p.is_empty()).collect()
}

/// The events undone when each stream keeps the first `prefix[s]` of its
/// pending events; `None` if that splits a rename (kept in one of its
/// directories, undone in the other).
fn dropped(events: &[Event], pending: &[Vec<usize>], prefix: &[usize]) -> Option<BTreeSet<usize>> {
    let mut dropped = BTreeSet::<usize>::new();
    let mut kept = BTreeSet::<usize>::new();
    for (stream, keep) in pending.iter().zip(prefix) {
        dropped.extend(&stream[*keep..]);
        kept.extend(&stream[..*keep]);
    }
    // A rename is in two streams: pending and kept in one, or flushed in
    // one (so in neither set), while undone in the other, splits it.
    for i in &dropped {
        if events[*i].streams().len() > 1
            && (kept.contains(i) || !pending_in_all(*i, events, pending))
        {
            return None;
        }
    }
    Some(dropped)
}

/// Whether event `i` is pending in each of its streams.
fn pending_in_all(i: usize, events: &[Event], pending: &[Vec<usize>]) -> bool {
    let count = pending.iter().filter(|p| p.contains(&i)).count();
    count == events[i].streams().len()
}

/// The next combination (an odometer over the prefixes); `false` after
/// the last.
fn next(prefix: &mut [usize], pending: &[Vec<usize>]) -> bool {
    for (digit, stream) in prefix.iter_mut().zip(pending) {
        if *digit < stream.len() {
            *digit += 1;
            return true;
        }
        *digit = 0;
    }
    false
}
