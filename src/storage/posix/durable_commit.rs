//! A durable commit (`--fsync`) in steps ([`Durable`]), each after the
//! flush of what the one before changed: by the group commit's batches
//! (`flush.rs`), which flush copies of the descriptors owed, or by a
//! commit alone on its I/O thread ([`LoneCommit`]), which flushes the
//! upload's own. Which files and folders a step owes is decided here, once,
//! for both.
//!
//! The upload it commits, and the rename itself, are `upload.rs`'s.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;

use super::settled::{Changed, Seen, system_now};
use super::unflushed::{Kind, Unflushed, between};
use super::upload::{FileUpload, Landed, Staged};
use super::{LoneCommit, StorageError};

/// A durable commit (`--fsync`), in steps that each wait for the group
/// commit to flush what the one before changed (`flush.rs`), so that no
/// thread waits for the disk: the file's bytes (and a session's folders
/// above the target), then the rename, then its folder and those above
/// (folders this upload may have made), then for a session its going,
/// then the sessions folder. Only once the file is durably in place does
/// the session go: a cut before leaves it, and its bytes, where they
/// were; its going is flushed too, else a power cut brings back the
/// record of a session committed and acknowledged, which a client
/// starting the same upload again would be given as its own.
///
/// Dropped before its end: not yet renamed, it is an [`FileUpload`] dropped
/// (its temp file goes); renamed, the file stays and a session goes, as
/// when its flush fails.
#[derive(Debug)]
pub struct Durable {
    upload: FileUpload,
    /// The version it becomes ([`FileUpload::commit`]'s answer).
    landed: Option<Landed>,
    /// The folders between the target's and the root, opened (the upload
    /// holds those two), that it owes a flush: not those whose entries are
    /// durable already ([`SettledDirs`](super::settled::SettledDirs)).
    between: Vec<OwnedFd>,
    /// Whether it owes the root a flush (the target's folder is another),
    /// as for `between`.
    root_owed: bool,
    /// The folders above it owes, as they were before their flush, for
    /// the settled folders to know once it is done.
    seen: Vec<Seen>,
    /// A session's folder, for the flush after its going.
    sessions: Option<OwnedFd>,
    step: Step,
}

/// The next step of a [`Durable`] commit.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Rename,
    Forget,
    Done,
}

/// What a [`Durable`] commit owes the disk before its next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owes {
    /// Before the rename: the file's bytes, and for a session's, whose
    /// bytes come from another folder, the folders above the target (see
    /// `DirFlusher::flush_above`).
    Bytes,
    /// After the rename: the target's folder, and for a temp file the
    /// folders above it (folders this upload may have made).
    Entries,
    /// After a session's going: the sessions folder.
    Going,
}

impl FileUpload {
    /// Begins a durable commit ([`Durable`]): the file's time and records
    /// set, the folders it will flush opened (running out of descriptors
    /// must fail the commit before it happens, not after). Returns it with
    /// copies of what must be on the disk before its first step (the
    /// rename), for the group commit's batch.
    ///
    /// # Errors
    /// As [`FileUpload::commit`]; nothing is renamed.
    pub fn commit_durably(self, crc: u32) -> Result<(Durable, Unflushed), StorageError> {
        let durable = self.durable(crc)?;
        let owed = durable.copies(Owes::Bytes)?;
        Ok((durable, owed))
    }

    /// As [`FileUpload::commit_durably`], for a commit alone
    /// ([`LoneCommit`]): what it owes before its first step is flushed
    /// here, on this thread, through the upload's own descriptors.
    ///
    /// # Errors
    /// As [`FileUpload::commit`], or the flush failed; nothing is renamed.
    pub fn commit_alone(self, crc: u32, lone: &LoneCommit<'_>) -> Result<Durable, StorageError> {
        let durable = self.durable(crc)?;
        durable.flush_alone(lone)?;
        Ok(durable)
    }

    fn durable(mut self, crc: u32) -> Result<Durable, StorageError> {
        let landed = self.land(crc, false)?;
        let mut between = match self.memory_dev {
            // In memory: no folder above is owed a flush (`each_owed`).
            Some(_) => Vec::new(),
            None => between(&self.root, &self.dir_path)?,
        };
        let mut seen = Vec::new();
        let now = system_now();
        let mut owed = |dir: BorrowedFd<'_>| self.owes_above(dir, now, &mut seen);
        between.retain(|dir| owed(dir.as_fd()));
        let root_owed =
            self.memory_dev.is_none() && !self.dir_path.is_empty() && owed(self.root.as_fd());
        let sessions = match &self.staged {
            Staged::Session(staging) => Some(rustix::io::fcntl_dupfd_cloexec(&staging.dir, 0)?),
            Staged::Temp(_) => None,
        };
        Ok(Durable {
            upload: self,
            landed,
            between,
            root_owed,
            seen,
            sessions,
            step: Step::Rename,
        })
    }

    /// Whether the commit owes folder `dir`, above its target's, a flush:
    /// not where a flush made its entries durable and no name changed in
    /// it since ([`SettledDirs`](super::settled::SettledDirs)), judged at
    /// `now`. A folder owed whose change time is settled goes into
    /// `seen`, to be known once flushed.
    fn owes_above(&self, dir: BorrowedFd<'_>, now: Changed, seen: &mut Vec<Seen>) -> bool {
        let Some(settled) = &self.settled else {
            return true;
        };
        match Seen::of(dir, now) {
            Some(folder) if settled.unchanged(folder) => false,
            Some(folder) => {
                seen.push(folder);
                true
            }
            None => true,
        }
    }
}

impl Durable {
    /// The version the file becomes, as [`FileUpload::commit`] returns it.
    pub fn landed(&self) -> Option<Landed> {
        self.landed
    }

    /// Whether it replaces a file of that name: as its upload's begin
    /// looked, and once renamed as the rename found
    /// ([`FileUpload::replaces_existing`]).
    pub fn replaced(&self) -> bool {
        self.upload.replaces_existing()
    }

    /// Whether the commit is durable, once what its last step returned is
    /// on the disk: no step is left (a [`Durable::step`] now would change
    /// nothing and return `None`).
    pub fn is_durable(&self) -> bool {
        self.step == Step::Done
    }

    /// Whether its next step is the rename (what was owed before it, the
    /// file's bytes, being flushed): the last moment to judge a write's
    /// preconditions again.
    pub fn renames_next(&self) -> bool {
        self.step == Step::Rename
    }

    /// The next step, once what the one before returned is on the disk:
    /// returns copies of what this one owes the disk before the next (made
    /// before it changes anything), for the group commit's batch, or
    /// `None` when the commit is durable. Changes the file system,
    /// briefly: call it on an I/O thread.
    ///
    /// # Errors
    /// As [`FileUpload::commit`] (the rename), or a folder cannot be copied.
    pub fn step(&mut self) -> Result<Option<Unflushed>, StorageError> {
        self.flushed();
        let owed = self.will_owe().map(|owes| self.copies(owes)).transpose()?;
        self.take_step()?;
        Ok(owed)
    }

    /// As [`Durable::step`] for a commit alone ([`LoneCommit`]): then
    /// flushes what the step owes, here, once `taken` is told the step
    /// is taken (what held still for the rename lets go: a flush is
    /// long). Returns whether a step is left.
    ///
    /// # Errors
    /// As [`Durable::step`], or the flush failed.
    pub fn step_alone(
        &mut self,
        lone: &LoneCommit<'_>,
        taken: impl FnOnce(),
    ) -> Result<bool, StorageError> {
        if self.is_durable() {
            return Ok(false);
        }
        self.take_step()?;
        taken();
        self.flush_alone(lone)?;
        Ok(!self.is_durable())
    }

    /// Tells the commit that what its last step owed is on the disk (a
    /// step after it says so itself): the folders above its target it
    /// flushed are known to have durable entries from now on.
    pub fn flushed(&self) {
        let session = matches!(self.upload.staged, Staged::Session(_));
        let above = match self.owes_now() {
            Owes::Bytes => session,
            Owes::Entries => !session,
            Owes::Going => false,
        };
        if let (true, Some(settled)) = (above, &self.upload.settled) {
            settled.flushed(&self.seen);
        }
    }

    /// What the next step will owe once taken.
    fn will_owe(&self) -> Option<Owes> {
        match self.step {
            Step::Rename => Some(Owes::Entries),
            Step::Forget => self.sessions.as_ref().map(|_| Owes::Going),
            Step::Done => None,
        }
    }

    /// What the last step (or the start, for the first) left owed: derived
    /// from the step next, and for a finished commit from what it staged.
    fn owes_now(&self) -> Owes {
        match self.step {
            Step::Rename => Owes::Bytes,
            Step::Forget => Owes::Entries,
            Step::Done if self.sessions.is_some() => Owes::Going,
            Step::Done => Owes::Entries,
        }
    }

    fn take_step(&mut self) -> Result<(), StorageError> {
        match self.step {
            Step::Rename => {
                let renamed = self.upload.rename_into_place(true);
                // Renamed though a flush after it failed: the file is in
                // place, its session goes (`Drop`).
                if self.upload.committed {
                    self.step = match self.sessions {
                        Some(_) => Step::Forget,
                        None => Step::Done,
                    };
                }
                renamed?;
            }
            Step::Forget => {
                self.step = Step::Done;
                self.upload.forget_session();
            }
            Step::Done => {}
        }
        Ok(())
    }

    /// Gives `visit` each descriptor `owes` names, with what to flush of
    /// it, in the order to flush them; stops at the first error.
    fn each_owed(
        &self,
        owes: Owes,
        visit: &mut dyn FnMut(Kind, BorrowedFd<'_>) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        if self.upload.memory_dev.is_some() {
            // A file in memory (tmpfs, ramfs): a flush there returns at
            // once, having nothing to write, so none is owed. The steps
            // still go in their order.
            return Ok(());
        }
        let session = matches!(self.upload.staged, Staged::Session(_));
        let above = |visit: &mut dyn FnMut(Kind, BorrowedFd<'_>) -> Result<(), Errno>| {
            for dir in &self.between {
                visit(Kind::Dir, dir.as_fd())?;
            }
            match self.root_owed {
                true => visit(Kind::Dir, self.upload.root.as_fd()),
                false => Ok(()),
            }
        };
        match owes {
            Owes::Bytes => {
                visit(Kind::File, self.upload.file.as_fd())?;
                if session {
                    above(visit)?;
                }
            }
            Owes::Entries => {
                visit(Kind::Dir, self.upload.dir.as_fd())?;
                if !session {
                    above(visit)?;
                }
            }
            Owes::Going => {
                if let Some(dir) = &self.sessions {
                    visit(Kind::Dir, dir.as_fd())?;
                }
            }
        }
        Ok(())
    }

    /// Copies of what `owes` names, keyed for a batch.
    fn copies(&self, owes: Owes) -> Result<Unflushed, StorageError> {
        let mut owed = Unflushed::default();
        self.each_owed(owes, &mut |kind, fd| owed.push_copy(kind, fd))?;
        Ok(owed)
    }

    /// Flushes what the last step left owed, here.
    fn flush_alone(&self, lone: &LoneCommit<'_>) -> Result<(), StorageError> {
        let owes = self.owes_now();
        lone.flush_each(|visit| self.each_owed(owes, visit))?;
        self.flushed();
        Ok(())
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        // Renamed, its flush failed or was never waited for: the file is
        // in place, so the session that held it goes.
        if self.step == Step::Forget {
            self.upload.forget_session();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Storage;
    use super::*;
    use crate::model::Folders;

    fn durable_storage(root: &std::path::Path) -> Storage {
        let mut storage = Storage::open(root, "test", false).unwrap();
        storage.set_durable(true);
        storage
    }

    fn upload(storage: &Storage, path: &str) -> FileUpload {
        let name = crate::name::Name::new(path.to_owned()).unwrap();
        let mut upload = storage
            .begin_upload(&name, Folders::Implicit, super::super::Look::AtBegin)
            .unwrap();
        upload.write(b"bytes").unwrap();
        upload
    }

    /// The directory flushes a commit of a new file in `a/b/` made: its
    /// folder, the one above it and the root.
    const OWED_DIRS: u64 = 3;

    #[test]
    fn a_commit_alone_flushes_its_folder_and_those_above_through_its_own_descriptors() {
        let root = tempfile::tempdir().unwrap();
        let storage = durable_storage(root.path());
        let upload = upload(&storage, "a/b/f.bin");
        let lone = storage.lone_commit().expect("nothing else in flight");
        let before = (storage.dir_flushes(), storage.flush_batches());
        let mut durable = upload.commit_alone(0, &lone).unwrap();
        assert!(durable.renames_next());
        assert!(
            !durable.step_alone(&lone, || ()).unwrap(),
            "a temp file's commit: one step"
        );
        assert!(durable.is_durable());
        drop(lone);
        assert_eq!(
            (
                storage.dir_flushes() - before.0,
                storage.flush_batches() - before.1
            ),
            (OWED_DIRS, 2),
            "the bytes, then the folders: each a batch of its own"
        );
        assert_eq!(
            std::fs::read(root.path().join("a/b/f.bin")).unwrap(),
            b"bytes"
        );
    }

    #[test]
    fn a_batched_commit_owes_what_a_commit_alone_flushes() {
        let root = tempfile::tempdir().unwrap();
        let storage = durable_storage(root.path());
        let (mut durable, first) = upload(&storage, "a/b/f.bin").commit_durably(0).unwrap();
        assert_eq!(
            (first.files.len(), first.dirs.len()),
            (1, 0),
            "the bytes alone"
        );
        let owed = durable
            .step()
            .unwrap()
            .expect("the folders, after the rename");
        assert!(durable.is_durable());
        assert_eq!((owed.files.len(), owed.dirs.len() as u64), (0, OWED_DIRS));
        assert!(durable.step().unwrap().is_none(), "nothing is left");
        assert_eq!(
            std::fs::read(root.path().join("a/b/f.bin")).unwrap(),
            b"bytes"
        );
    }

    /// On a file system whose change times the kernel keeps, a commit
    /// below folders whose entries a flush made durable, unchanged since,
    /// flushes its file's folder alone; a name made in one of them since
    /// makes it owe that one again.
    #[test]
    fn folders_flushed_and_unchanged_since_are_not_flushed_again() {
        let root = tempfile::tempdir().unwrap();
        let storage = durable_storage(root.path());
        if storage.settled.is_none() {
            eprintln!("skipped: the temp folder's file system keeps no change times ferry trusts");
            return;
        }
        let dirs_flushed = |name: &str| {
            let lone = storage.lone_commit().unwrap();
            let before = storage.dir_flushes();
            let mut durable = upload(&storage, name).commit_alone(0, &lone).unwrap();
            while durable.step_alone(&lone, || ()).unwrap() {}
            storage.dir_flushes() - before
        };
        assert_eq!(dirs_flushed("a/b/1"), OWED_DIRS, "all made just now");
        // Seconds on, the folders' changes are settled: flushed once more
        // and known, then left alone while unchanged.
        super::super::settled::AHEAD.with(|ahead| ahead.set(5));
        assert_eq!(dirs_flushed("a/b/2"), OWED_DIRS);
        assert_eq!(dirs_flushed("a/b/3"), 1, "its folder alone");
        std::fs::create_dir(root.path().join("c")).unwrap();
        assert_eq!(dirs_flushed("a/b/4"), 2, "its folder and the root, changed");
        assert_eq!(dirs_flushed("a/b/5"), 1);
        assert_eq!(dirs_flushed("a/6"), 1, "a, its folder");
        super::super::settled::AHEAD.with(|ahead| ahead.set(0));
    }

    #[test]
    fn a_commit_alone_dropped_before_its_rename_leaves_no_file() {
        let root = tempfile::tempdir().unwrap();
        let storage = durable_storage(root.path());
        let lone = storage.lone_commit().unwrap();
        let durable = upload(&storage, "f.bin").commit_alone(0, &lone).unwrap();
        drop(durable);
        assert!(!root.path().join("f.bin").exists());
        let left = std::fs::read_dir(root.path()).unwrap().flatten();
        assert!(
            !left
                .into_iter()
                .any(|e| e.file_name().to_string_lossy().starts_with(".ferry-tmp"))
        );
    }
}
