//! Dead properties (WebDAV's `PROPPATCH`, RFC 4918 4.x) kept in the root
//! under ferry's reserved names, so that every node on the root sees
//! them and they outlive the process. Blocks on the disk: for the I/O
//! pool. Nothing here knows XML: a property is a namespace, a local name
//! and the text the dialect keeps for it.
//!
//! The records mirror the tree (docs/webdav.md (d)), so that a folder's
//! rename moves its members' records in one rename too:
//!
//! ```text
//! .ferry-dav/props/                  the root's mirror
//!   .ferry-self                      the root's own record
//!   <folder>/                        a folder's mirror (the same, below)
//!     .ferry-self                    the folder's record
//!     .ferry-files/<leaf>            the record of the file <folder>/<leaf>
//! ```
//!
//! A record names the inode of what it was written for, and is read only
//! for that inode: a record left by a crash between a file's move or
//! delete and its record's, or by a file removed behind ferry's back,
//! never shows on another file of that name. A `PUT` that replaces a
//! file makes a new inode, so a new version starts without dead
//! properties. Every write is a temp file renamed over the record: a
//! reader sees the old record or the new one.
//!
//! ```text
//! ferry-dav-props 1 <inode>\n
//! then per property: <ns bytes> <local bytes> <value bytes>\n<ns><local><value>\n
//! ```

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::flock::Flock;
use super::{PropEdit, Storage, StorageError, Store, open_dir_at};
use crate::model::{DeadProperty, Holder, NewProps, Recorded};
use crate::name::RESERVED_PREFIX;

/// Where the records live, from the root.
pub const PROPS_DIR: &str = ".ferry-dav/props";
/// The file whose `flock` each change of a record waits for.
const PROPS_LOCK: &str = ".ferry-dav/props.lock";
/// A folder's own record, in its mirror.
const SELF: &str = ".ferry-self";
/// The folder of a folder's files' records, in its mirror.
pub(super) const FILES: &str = ".ferry-files";
/// The first word of a record.
const MAGIC: &str = "ferry-dav-props 1";
/// The most bytes one resource's record may hold: a `PROPPATCH` body is
/// at most 64 KiB, but they add up.
pub const MAX_RECORD: usize = 256 * 1024;

impl Holder<'_> {
    /// The mirror folder whose entries change when its record is made,
    /// moved or removed: a file's records' folder, or the folder above a
    /// folder's mirror (which goes and comes whole).
    pub(super) fn record_parent(self) -> String {
        match self {
            Holder::File(_) => self.record().0,
            Holder::Folder(path) => {
                let dir = mirror(path);
                match dir.rsplit_once('/') {
                    Some((parent, _)) => parent.to_owned(),
                    None => String::new(),
                }
            }
        }
    }

    /// Its record's folder (from the root) and leaf there.
    pub(super) fn record(self) -> (String, &'static str, String) {
        match self {
            Holder::Folder(path) => (mirror(path), SELF, String::new()),
            Holder::File(name) => {
                let (dir, leaf) = name.rsplit_once('/').unwrap_or(("", name));
                (format!("{}/{FILES}", mirror(dir)), "", leaf.to_owned())
            }
        }
    }
}

/// The mirror folder of folder `path` ("" for the root).
pub(super) fn mirror(path: &str) -> String {
    match path {
        "" => PROPS_DIR.to_owned(),
        path => format!("{PROPS_DIR}/{path}"),
    }
}

impl Storage {
    /// The dead properties of `holder` whose inode is `inode`; none if it
    /// has no record, or one written for another inode.
    ///
    /// # Errors
    /// The record cannot be read (a malformed one reads as none).
    pub(super) fn dead_properties(
        &self,
        holder: Holder<'_>,
        inode: u64,
    ) -> Result<Vec<DeadProperty>, StorageError> {
        Ok(match self.record_of(holder)? {
            Some((written_for, props)) if written_for == inode => props,
            _ => Vec::new(),
        })
    }

    /// The record of `holder`, if it has one: the inode it was written for
    /// and its properties (a malformed record reads as none).
    pub(super) fn record_of(
        &self,
        holder: Holder<'_>,
    ) -> Result<Option<(u64, Vec<DeadProperty>)>, StorageError> {
        let (dir, own, leaf) = holder.record();
        let path = format!("{dir}/{own}{leaf}");
        let fd = match super::open_beneath(&self.root, &path, OFlags::RDONLY | OFlags::CLOEXEC) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::ISDIR) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        };
        // Room for a usual record: read in one call (and one more for
        // its end), not after a probe of a few bytes.
        let mut text = String::with_capacity(4096);
        std::fs::File::from(fd)
            .take(MAX_RECORD as u64 + 64)
            .read_to_string(&mut text)
            .map_err(StorageError::from)?;
        Ok(parse(&text))
    }

    /// Sets the time of `holder` (a folder's where `folder`) to `mtime`,
    /// where given, and changes its record as `edit` says, given its
    /// properties as they stand under the records' lock ([`PROPS_LOCK`]):
    /// patches side by side, on this node or another, each see what the
    /// one before wrote (a read, a change and a write without it lost one
    /// of two clients' changes). What has the name is looked at under the
    /// lock too: a file replaced since the PROPPATCH looked is patched as
    /// its new version (a record written for the old inode would have
    /// taken the new one's place). The record is written only where
    /// `edit` changed something; the time is put back if it cannot be.
    ///
    /// # Errors
    /// As [`Storage::write_dead_properties`]; the lock cannot be taken;
    /// [`StorageError::NotFound`] if nothing of that kind has the name
    /// now.
    pub(super) fn patch_dead_properties(
        &self,
        (holder, folder): (Holder<'_>, bool),
        mtime: Option<i64>,
        edit: PropEdit<'_>,
    ) -> Result<(), StorageError> {
        let path = match holder {
            Holder::File(path) | Holder::Folder(path) => path,
        };
        let _held = self.props_lock()?;
        let now = Store::resource(self, path, folder)?;
        if now.folder != folder {
            return Err(StorageError::NotFound);
        }
        let inode = now.stamp.inode;
        let mut props = self.dead_properties(holder, inode)?;
        let before = props.clone();
        edit(&mut props);
        self.room_for_record(inode, &before, &props)?;
        if let Some(time) = mtime {
            self.set_mtime(path, time)?;
        }
        let written = match props == before {
            true => Ok(()),
            false => self.write_dead_properties(holder, inode, &props),
        };
        written.inspect_err(|_| {
            if mtime.is_some() {
                // Put back as it was: all or nothing.
                let _ = self.set_mtime(path, now.info.mtime);
            }
        })
    }

    /// Takes room from the disk reserve for what a record changed from
    /// `before` to `after` grows by, before its bytes are written: a
    /// PROPPATCH is a write like any other (up to [`MAX_RECORD`] a
    /// resource). One that removes or keeps the size takes none, so it
    /// goes on below the reserve, as a delete does.
    ///
    /// # Errors
    /// [`StorageError::NoRoom`] where the growth does not fit above the
    /// reserve; the file system could not be asked.
    fn room_for_record(
        &self,
        inode: u64,
        before: &[DeadProperty],
        after: &[DeadProperty],
    ) -> Result<(), StorageError> {
        if self.reserve.is_off() {
            return Ok(()); // no record sized for nothing
        }
        let size = |props: &[DeadProperty]| match props.is_empty() {
            true => 0,
            false => rendered_len(inode, props) as u64,
        };
        match size(after).saturating_sub(size(before)) {
            0 => Ok(()),
            grows_by => self.take_room(grows_by),
        }
    }

    /// The records' lock, waited for: a regular file's `flock`, opened
    /// anew each time (as the lock table's, `dav_locks.rs`: it holds
    /// across the nodes of a shared root).
    fn props_lock(&self) -> Result<Flock, StorageError> {
        match rustix::fs::mkdirat(&*self.root, ".ferry-dav", Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
        Ok(Flock::exclusive_at(&*self.root, PROPS_LOCK)?)
    }

    /// Replaces the record of `holder` (inode `inode`) with `props`, in
    /// one rename; none removes it.
    ///
    /// # Errors
    /// [`StorageError::NoSpace`] over [`MAX_RECORD`] or on a full disk;
    /// the record's folder cannot be made or written.
    pub(super) fn write_dead_properties(
        &self,
        holder: Holder<'_>,
        inode: u64,
        props: &[DeadProperty],
    ) -> Result<(), StorageError> {
        let owed = self.write_record_unflushed(holder, inode, props)?;
        match owed.is_empty() {
            true => Ok(()),
            false => Ok(self.flusher.flush(owed)?),
        }
    }

    /// As [`Storage::write_dead_properties`], the record's bytes flushed
    /// (`--fsync`) but its folders (the mirror folder and those above it)
    /// returned for the caller to flush in a batch of its own choosing (a
    /// folder's copy: with the folders it made); none without `--fsync`.
    ///
    /// # Errors
    /// As [`Storage::write_dead_properties`].
    pub(super) fn write_record_unflushed(
        &self,
        holder: Holder<'_>,
        inode: u64,
        props: &[DeadProperty],
    ) -> Result<Vec<OwnedFd>, StorageError> {
        let (dir, own, leaf) = holder.record();
        if props.is_empty() {
            return match self.unlink_record(&dir, &format!("{own}{leaf}")) {
                Ok(()) => self.records_owed(&dir, None),
                Err(Errno::NOENT | Errno::NOTDIR) => Ok(Vec::new()),
                Err(errno) => Err(errno.into()),
            };
        }
        let text = render(inode, props);
        if text.len() > MAX_RECORD {
            return Err(StorageError::NoSpace);
        }
        let fd = self.mirror_dir(&dir)?;
        let temp = format!(
            "{}{}",
            self.temp_prefix(),
            self.temp_serial
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let file = rustix::fs::openat(&fd, temp.as_str(), flags, Mode::from_raw_mode(0o600))?;
        let mut file = std::fs::File::from(file);
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| match self.durable {
                true => file.sync_data(),
                false => Ok(()),
            });
        let renamed = written.map_err(StorageError::from).and_then(|()| {
            Ok(rustix::fs::renameat(
                &fd,
                temp.as_str(),
                &fd,
                &*format!("{own}{leaf}"),
            )?)
        });
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(&fd, temp.as_str(), AtFlags::empty());
        }
        renamed?;
        self.records_owed(&dir, Some(&fd))
    }

    /// With `--fsync`, what makes a record's change in mirror folder `dir`
    /// (open as `fd`, if at hand) durable before it is acknowledged (a
    /// PROPPATCH, S3's metadata): that folder and the folders above it,
    /// which the change may have made, opened for group commit's batches.
    fn records_owed(&self, dir: &str, fd: Option<&OwnedFd>) -> Result<Vec<OwnedFd>, StorageError> {
        if !self.durable {
            return Ok(Vec::new());
        }
        match fd {
            Some(fd) => super::unflushed::with_ancestors(&self.root, fd, dir),
            None => {
                super::unflushed::with_ancestors(&self.root, open_dir_at(&self.root, dir)?, dir)
            }
        }
    }

    /// Writes `new` into the record of file `name` for inode `inode`, a
    /// version about to be committed there (its temp file): the
    /// properties of `new`'s namespace already recorded for that inode (a
    /// copy's) give way to `new`'s, the others stay. A record written for
    /// another inode (the version it replaces) is not read.
    ///
    /// # Errors
    /// As [`Storage::write_dead_properties`].
    pub fn record_new_version(
        &self,
        name: &str,
        inode: u64,
        new: &NewProps,
    ) -> Result<(), StorageError> {
        let holder = Holder::File(name);
        let mut props = self.dead_properties(holder, inode)?;
        props.retain(|prop| prop.ns != new.ns);
        props.extend(new.props.iter().cloned());
        self.write_dead_properties(holder, inode, &props)
    }

    /// Which members of folder `path` ("" for the root) have records:
    /// one read of its mirror, and one of its files' records' folder if
    /// there is one; nothing more when it has none.
    ///
    /// # Errors
    /// The mirror cannot be read.
    pub(super) fn recorded_members(&self, path: &str) -> Result<Recorded, StorageError> {
        let mut recorded = Recorded::default();
        let dir = mirror(path);
        let entries = match self.mirror_entries(&dir) {
            Ok(entries) => entries,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(recorded),
            Err(errno) => return Err(errno.into()),
        };
        for (leaf, kind) in entries {
            match (leaf.as_str(), kind) {
                (SELF, _) => recorded.own = true,
                (FILES, FileType::Directory) => {
                    let files = self.mirror_entries(&format!("{dir}/{FILES}"));
                    let files = files.or_else(|errno| match errno {
                        Errno::NOENT => Ok(Vec::new()),
                        errno => Err(errno),
                    })?;
                    recorded.files = files
                        .into_iter()
                        .filter(|(leaf, _)| !leaf.starts_with(RESERVED_PREFIX))
                        .map(|(leaf, _)| leaf)
                        .collect();
                }
                (leaf, FileType::Directory) if !leaf.starts_with(RESERVED_PREFIX) => {
                    recorded.folders.insert(leaf.to_owned());
                }
                _ => {}
            }
        }
        Ok(recorded)
    }

    /// The folder `dir` of the mirror, made if missing.
    pub(super) fn mirror_dir(&self, dir: &str) -> Result<OwnedFd, StorageError> {
        let made = self.walk_creating(dir.split('/'), 0)?;
        made.0.ok_or(StorageError::NotFound)
    }

    /// Unlinks `leaf` of mirror folder `dir`.
    pub(super) fn unlink_record(&self, dir: &str, leaf: &str) -> Result<(), Errno> {
        unlink_record_at(&self.root, dir, leaf).map(drop)
    }

    /// The entries of mirror folder `dir` with their types.
    pub(super) fn mirror_entries(&self, dir: &str) -> Result<Vec<(String, FileType)>, Errno> {
        let fd = open_dir_at(&self.root, dir)?;
        let mut entries = Vec::new();
        for entry in Dir::read_from(&fd)? {
            let entry = entry?;
            let Ok(leaf) = entry.file_name().to_str() else {
                continue;
            };
            if leaf != "." && leaf != ".." {
                entries.push((leaf.to_owned(), entry.file_type()));
            }
        }
        Ok(entries)
    }
}

/// Unlinks `leaf` of mirror folder `dir` of root `root`; returns the
/// folder, changed (for a flush).
pub(super) fn unlink_record_at(root: &OwnedFd, dir: &str, leaf: &str) -> Result<OwnedFd, Errno> {
    let fd = open_dir_at(root, dir)?;
    rustix::fs::unlinkat(&fd, leaf, AtFlags::empty())?;
    Ok(fd)
}

/// A record's text.
fn render(inode: u64, props: &[DeadProperty]) -> String {
    let mut text = format!("{MAGIC} {inode}\n");
    for prop in props {
        let (ns, local, value) = (&prop.ns, &prop.local, &prop.value);
        text.push_str(&format!(
            "{} {} {}\n{ns}{local}{value}\n",
            ns.len(),
            local.len(),
            value.len()
        ));
    }
    text
}

/// The length of [`render`]'s text, counted without building it (a
/// PROPPATCH sizes a record of up to [`MAX_RECORD`] twice for the
/// reserve's sake, under the lock every node's patches share).
fn rendered_len(inode: u64, props: &[DeadProperty]) -> usize {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |log| log as usize + 1);
    let head = MAGIC.len() + 1 + digits(inode) + 1;
    let prop_len = |prop: &DeadProperty| {
        let lens = [prop.ns.len(), prop.local.len(), prop.value.len()];
        let counts: usize = lens.iter().map(|&len| digits(len as u64) + 1).sum();
        counts + lens.iter().sum::<usize>() + 1
    };
    head + props.iter().map(prop_len).sum::<usize>()
}

/// The inode record `text` was written for, and its properties; `None`
/// for a malformed record.
fn parse(text: &str) -> Option<(u64, Vec<DeadProperty>)> {
    let (head, mut rest) = text.split_once('\n')?;
    let written_for = head.strip_prefix(MAGIC)?.trim().parse::<u64>().ok()?;
    let mut props = Vec::new();
    while !rest.is_empty() {
        let (lengths, after) = rest.split_once('\n')?;
        let mut lengths = lengths.split(' ').map(|n| n.parse::<usize>().ok());
        let (ns, local, value) = (lengths.next()??, lengths.next()??, lengths.next()??);
        let ns_end = ns;
        let local_end = ns_end.checked_add(local)?;
        let value_end = local_end.checked_add(value)?;
        props.push(DeadProperty {
            ns: after.get(..ns_end)?.to_owned(),
            local: after.get(ns_end..local_end)?.to_owned(),
            value: after.get(local_end..value_end)?.to_owned(),
        });
        rest = after.get(value_end..)?.strip_prefix('\n')?;
    }
    Some((written_for, props))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::posix::no_openat2::without_openat2;

    #[test]
    fn records_read_back_for_their_inode_only() {
        let props = vec![
            DeadProperty {
                ns: "urn:é\n".into(),
                local: "a b".into(),
                value: "<x:a xmlns:x=\"urn:é\n\">1\n2</x:a>".into(),
            },
            DeadProperty {
                ns: String::new(),
                local: "bare".into(),
                value: String::new(),
            },
        ];
        let text = render(42, &props);
        assert_eq!(rendered_len(42, &props), text.len());
        assert_eq!(rendered_len(0, &props[1..]), render(0, &props[1..]).len());
        assert_eq!(parse(&text), Some((42, props)));
        assert_eq!(parse(&text[..text.len() - 3]), None);
        assert_eq!(parse("ferry-dav-props 1 7\n"), Some((7, Vec::new())));
    }

    /// Where the kernel refuses `openat2` (before Linux 5.6, a seccomp
    /// filter, valgrind), a record is read all the same, and a file
    /// without one has none: not a failure, which a GET answered as no
    /// metadata at all, after a warning made per request.
    #[test]
    fn records_are_read_where_openat2_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/f"), b"x").unwrap();
        std::fs::write(dir.path().join("b/g"), b"y").unwrap();
        let storage = Storage::open(dir.path(), "n1", false).unwrap();
        let prop = DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: "1".into(),
        };
        let holder = Holder::File("b/f");
        storage
            .write_dead_properties(holder, 7, std::slice::from_ref(&prop))
            .unwrap();
        without_openat2("records_are_read_where_openat2_is_refused", || {
            assert_eq!(storage.dead_properties(holder, 7).unwrap(), vec![prop]);
            let none = storage.dead_properties(Holder::File("b/g"), 8).unwrap();
            assert_eq!(none, Vec::new());
        });
    }

    #[test]
    fn holders_have_their_places() {
        assert_eq!(
            Holder::File("a/b.txt").record(),
            (".ferry-dav/props/a/.ferry-files".into(), "", "b.txt".into())
        );
        assert_eq!(
            Holder::File("b.txt").record(),
            (".ferry-dav/props/.ferry-files".into(), "", "b.txt".into())
        );
        assert_eq!(
            Holder::Folder("").record(),
            (".ferry-dav/props".into(), SELF, String::new())
        );
    }

    #[test]
    fn a_durable_servers_records_are_flushed_before_they_are_answered() {
        let root = tempfile::tempdir().unwrap();
        let mut storage = Storage::open(root.path(), "test", false).unwrap();
        std::fs::write(root.path().join("f"), b"x").unwrap();
        let prop = DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: "<x:a xmlns:x=\"urn:x\">1</x:a>".into(),
        };
        let holder = Holder::File("f");
        storage
            .write_dead_properties(holder, 1, std::slice::from_ref(&prop))
            .unwrap();
        assert_eq!(storage.dir_flushes(), 0, "not durable: nothing flushed");
        storage.set_durable(true);
        storage.write_dead_properties(holder, 1, &[prop]).unwrap();
        let written = storage.dir_flushes();
        assert!(written > 0, "the record's folder flushed");
        storage.write_dead_properties(holder, 1, &[]).unwrap();
        assert!(storage.dir_flushes() > written, "its removal too");
    }
}
