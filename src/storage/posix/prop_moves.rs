//! Dead-property records (`dead_props.rs`) following their files: a
//! file's or folder's `MOVE` moves its record (a folder's, its whole
//! mirror), a `COPY` copies it, a delete removes it. With `--fsync` a
//! record's move or removal is made durable in the batch that makes its
//! file's own change durable: these return the mirror folders they
//! changed for the caller to add to that batch, and never flush on their
//! own (a copy's record is written as a `PROPPATCH`'s, and its folders
//! flushed with the copy's).

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use crate::model::Holder;

use super::dead_props::mirror;
use super::{Storage, StorageError, open_dir_at};

impl Storage {
    /// After a file's or folder's rename from `from` to `to`: its record
    /// (a folder's: its whole mirror) follows. One failed lookup when it
    /// has none. With `--fsync`, returns the mirror folders the move
    /// changed (the new one with those above it, which it may have made,
    /// and the old one), for the caller to flush in the batch that makes
    /// the file's own move durable: no flush of its own. None when
    /// nothing moved.
    #[must_use = "with --fsync, the folders to flush with the file's move"]
    pub(super) fn move_records(&self, from: Holder<'_>, to: Holder<'_>) -> Vec<OwnedFd> {
        let mut changed = Vec::new();
        let moved = match (from, to) {
            (Holder::Folder(from), Holder::Folder(to)) => {
                // A mirror left at `to` by a folder removed behind ferry's
                // back is stale: it goes, or the rename would fail.
                changed = self.remove_records(Holder::Folder(to));
                self.rename_mirror(&mirror(from), "", &mirror(to), "")
            }
            (from, to) => {
                let ((from_dir, _, from_leaf), (to_dir, _, to_leaf)) = (from.record(), to.record());
                self.rename_mirror(&from_dir, &from_leaf, &to_dir, &to_leaf)
            }
        };
        match moved {
            Ok(true) => {
                changed.extend(self.changed_dirs(&to.record_parent(), true));
                changed.extend(self.changed_dirs(&from.record_parent(), false));
            }
            Ok(false) => {}
            Err(errno) => {
                log::warn!("the dead properties of {from:?} did not follow it to {to:?}: {errno}")
            }
        }
        changed
    }

    /// Removes the record of `holder` (a folder's: its whole mirror, its
    /// members' records with it). Nothing to remove costs one failed
    /// lookup. With `--fsync`, returns the mirror folder the removal
    /// changed, for the caller to flush with the file's own removal, as
    /// [`Storage::move_records`].
    #[must_use = "with --fsync, the folder to flush with the file's removal"]
    pub(super) fn remove_records(&self, holder: Holder<'_>) -> Vec<OwnedFd> {
        let removed = match holder {
            Holder::File(_) => {
                let (dir, _, leaf) = holder.record();
                self.unlink_record(&dir, &leaf)
            }
            Holder::Folder(path) => self.remove_mirror(&mirror(path)),
        };
        match removed {
            Ok(()) => self.changed_dirs(&holder.record_parent(), false),
            Err(Errno::NOENT | Errno::NOTDIR) => Vec::new(),
            Err(errno) => {
                log::warn!("the dead properties of {holder:?} stay: {errno}");
                Vec::new()
            }
        }
    }

    /// With `--fsync`, mirror folder `dir` opened for a flush, with the
    /// folders above it if `made` (a change there may have made them);
    /// nothing without `--fsync`. A folder that cannot be opened is
    /// logged and left out: a record is the file's companion, and its
    /// change is done.
    fn changed_dirs(&self, dir: &str, made: bool) -> Vec<OwnedFd> {
        if !self.durable {
            return Vec::new();
        }
        let opened = super::dir_at(&self.root, dir).map_err(StorageError::from);
        let opened = match made {
            true => opened.and_then(|fd| super::unflushed::with_ancestors(&self.root, fd, dir)),
            false => opened.map(|fd| vec![fd]),
        };
        opened.unwrap_or_else(|err| {
            log::warn!("cannot flush {dir}/ after a change of its records: {err}");
            Vec::new()
        })
    }

    /// Copies the record of `from` (inode `from_inode`), if it has one,
    /// as the record of `to` (inode `to_inode`, asked only then): a COPY
    /// takes the source's dead properties along (RFC 4918 9.8.2). With
    /// `--fsync`, returns the mirror folders it changed, for the caller to
    /// flush with the copy's own folders (a folder's copy: in its batches,
    /// not one batch per record).
    #[must_use = "with --fsync, the folders to flush with the copy"]
    pub(super) fn copy_record(
        &self,
        (from, from_inode): (Holder<'_>, u64),
        to: Holder<'_>,
        to_inode: impl FnOnce() -> Result<u64, StorageError>,
    ) -> Vec<OwnedFd> {
        let copied = match self.record_of(from) {
            Ok(Some((written_for, props))) if written_for == from_inode && !props.is_empty() => {
                to_inode().and_then(|inode| self.write_record_unflushed(to, inode, &props))
            }
            Ok(_) => Ok(Vec::new()),
            Err(err) => Err(err),
        };
        copied.unwrap_or_else(|err| {
            log::warn!("the dead properties of {from:?} were not copied to {to:?}: {err}");
            Vec::new()
        })
    }

    /// A folder's copy: its own record follows, as [`Storage::copy_record`].
    #[must_use = "with --fsync, the folders to flush with the copy"]
    pub(super) fn copy_folder_record(&self, from: &str, to: &str) -> Vec<OwnedFd> {
        let Ok(source) = self.resource(from, true) else {
            return Vec::new();
        };
        let to_inode = || Ok(self.resource(to, true)?.stamp.inode);
        self.copy_record(
            (Holder::Folder(from), source.stamp.inode),
            Holder::Folder(to),
            to_inode,
        )
    }

    /// Renames `leaf` of mirror folder `from` (the folder itself for "")
    /// to `to_leaf` of `to`, whose folders are made if missing; whether
    /// there was something to rename.
    fn rename_mirror(
        &self,
        from: &str,
        leaf: &str,
        to: &str,
        to_leaf: &str,
    ) -> Result<bool, Errno> {
        let (from, leaf) = match leaf {
            "" => from.rsplit_once('/').unwrap_or(("", from)),
            leaf => (from, leaf),
        };
        let (to, to_leaf) = match to_leaf {
            "" => to.rsplit_once('/').unwrap_or(("", to)),
            to_leaf => (to, to_leaf),
        };
        let source = match open_dir_at(&self.root, from) {
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(false),
            opened => opened?,
        };
        match rustix::fs::statat(&source, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => return Ok(false),
            found => drop(found?),
        }
        let target = self.mirror_dir(to).map_err(|err| match err {
            StorageError::NoSpace => Errno::NOSPC,
            _ => Errno::IO,
        })?;
        rustix::fs::renameat(&source, leaf, &target, to_leaf).map(|()| true)
    }

    /// Removes mirror folder `dir` and everything in it.
    fn remove_mirror(&self, dir: &str) -> Result<(), Errno> {
        for (leaf, kind) in self.mirror_entries(dir)? {
            let path = format!("{dir}/{leaf}");
            match kind {
                FileType::Directory => self.remove_mirror(&path)?,
                _ => self.unlink_record(dir, &leaf)?,
            }
        }
        let (parent, leaf) = dir.rsplit_once('/').unwrap_or(("", dir));
        let parent = open_dir_at(&self.root, parent)?;
        rustix::fs::unlinkat(&parent, leaf, AtFlags::REMOVEDIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeadProperty;

    #[test]
    fn a_records_move_and_removal_share_the_files_flushes() {
        let root = tempfile::tempdir().unwrap();
        let mut storage = Storage::open(root.path(), "test", false).unwrap();
        storage.set_durable(true);
        let name = |n: &str| crate::name::Name::new(n.to_owned()).unwrap();
        let prop = DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: "<x:a xmlns:x=\"urn:x\">1</x:a>".into(),
        };
        let inode = |path: &str| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(root.path().join(path)).unwrap().ino()
        };
        // What a move and a delete cost without a record.
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/plain"), b"x").unwrap();
        let cost = |storage: &Storage, change: &dyn Fn(&Storage)| {
            let (flushes, batches) = (storage.dir_flushes(), storage.flush_batches());
            change(storage);
            (
                storage.dir_flushes() - flushes,
                storage.flush_batches() - batches,
            )
        };
        let moved = |from: &'static str, to: &'static str| {
            move |s: &Storage| {
                s.rename(&name(from), &name(to), true, crate::model::Folders::Made)
                    .unwrap();
            }
        };
        let deleted = |what: &'static str| {
            move |s: &Storage| s.delete(&name(what), crate::model::Folders::Made).unwrap()
        };
        let bare_move = cost(&storage, &moved("a/plain", "b/plain"));
        let bare_delete = cost(&storage, &deleted("b/plain"));

        std::fs::write(root.path().join("a/f"), b"x").unwrap();
        let holder = Holder::File("a/f");
        storage
            .write_dead_properties(holder, inode("a/f"), std::slice::from_ref(&prop))
            .unwrap();
        let with_record = cost(&storage, &moved("a/f", "c/f"));
        assert_eq!(
            storage
                .dead_properties(Holder::File("c/f"), inode("c/f"))
                .unwrap(),
            vec![prop.clone()],
            "the record followed its file"
        );
        assert_eq!(
            with_record.1, bare_move.1,
            "no batch of its own: {with_record:?}"
        );
        // The records' old and new folders, and the new one's parents
        // (made by the move: .ferry-dav/props/c).
        assert!(
            with_record.0 > bare_move.0,
            "its folders flushed: {with_record:?}"
        );

        let with_record = cost(&storage, &deleted("c/f"));
        assert_eq!(
            with_record.1, bare_delete.1,
            "no batch of its own: {with_record:?}"
        );
        assert_eq!(
            with_record.0,
            bare_delete.0 + 1,
            "its folder flushed: {with_record:?}"
        );
        assert!(
            !root
                .path()
                .join(".ferry-dav/props/c/.ferry-files/f")
                .exists()
        );
    }

    #[test]
    fn a_folder_copys_records_share_its_batches() {
        let root = tempfile::tempdir().unwrap();
        let mut storage = Storage::open(root.path(), "test", false).unwrap();
        storage.set_durable(true);
        let prop = DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: "<x:a xmlns:x=\"urn:x\">1</x:a>".into(),
        };
        for folder in ["bare", "kept"] {
            std::fs::create_dir_all(root.path().join(folder).join("sub")).unwrap();
            for n in 0..6 {
                let file = format!("{folder}/sub/f{n}");
                std::fs::write(root.path().join(&file), b"x").unwrap();
                if folder == "kept" {
                    use std::os::unix::fs::MetadataExt;
                    let inode = std::fs::metadata(root.path().join(&file)).unwrap().ino();
                    let holder = Holder::File(&file);
                    storage
                        .write_dead_properties(holder, inode, std::slice::from_ref(&prop))
                        .unwrap();
                }
            }
        }
        let batches = |from: &str, to: &str| {
            let before = storage.flush_batches();
            let (from, to) = (
                crate::name::Prefix::new(format!("{from}/")).unwrap(),
                crate::name::Name::new(to.to_owned()).unwrap(),
            );
            let left = storage
                .copy_folder(
                    &from,
                    &to,
                    crate::storage::CopyTree {
                        deep: true,
                        durable: true,
                        owner: None,
                        quota: None,
                    },
                    |_, _| crate::storage::Member::Copy,
                    || true,
                )
                .unwrap();
            assert!(left.is_complete(), "{left:?}");
            storage.flush_batches() - before
        };
        let bare = batches("bare", "bare2");
        let kept = batches("kept", "kept2");
        assert_eq!(kept, bare, "six records, no batch of their own");
        use std::os::unix::fs::MetadataExt;
        let copy = root.path().join("kept2/sub/f3");
        let inode = std::fs::metadata(copy).unwrap().ino();
        assert_eq!(
            storage
                .dead_properties(Holder::File("kept2/sub/f3"), inode)
                .unwrap(),
            vec![prop],
            "the records were copied"
        );
    }
}
