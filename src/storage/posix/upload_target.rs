//! Where an upload begins: finding (and creating) the target's directory
//! and checking that the name can become a file, the same for a PUT, a
//! copy and a session's COMMIT; and the dead properties an upload records
//! for its new inode just before its commit.
//!
//! The check is a look at what has the name ([`Look`]): at the begin, so
//! that a folder or special file there is refused before a body is
//! taken; or, for a small body the caller holds already, left to the
//! commit's rename (`upload.rs`), which then looks only where a file is
//! in the way. A new file's upload, most of them, spares the look: on a
//! tmpfs a name that misses is the dearest lookup there is (the kernel
//! makes a negative entry and frees it at once).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::gate::Point;
use super::reserve::ReserveAsWritten;
use super::staging::Staging;
use super::usage_counts::token_of;
use super::{DIR, Storage, StorageError, prune_empty_dirs, stored_file_mode};
use crate::model::Folders;
use crate::model::Holder;
use crate::model::SessionInfo;
use crate::name::Name;

use super::upload::{FileUpload, Staged};

/// Where an upload lands: the directory, its path from the root ("" for
/// the root), the file's name in it, and, once looked at
/// ([`Target::look`]), whether a file has that name already.
pub(super) struct Target {
    pub(super) dir: OwnedFd,
    pub(super) dir_path: String,
    floor: usize,
    pub(super) leaf: String,
    replaces: Option<bool>,
}

/// When an upload looks at what has its target's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// At its begin: a folder, symlink or special file there is refused
    /// before the body.
    AtBegin,
    /// At its commit, by the rename (`RENAME_NOREPLACE`, a look only
    /// where that finds a name taken): for a body held already, whose
    /// refusal after it costs nothing worth a look at every new file.
    /// An upload given dead properties looks when it records them
    /// ([`Storage::record_props`]): their record is written before the
    /// rename.
    AtCommit,
}

impl Target {
    /// Looks at what has the target's name: returns whether it is a file
    /// (that the upload will replace).
    ///
    /// # Errors
    /// As [`super::looks_replaceable`].
    pub(super) fn look(&mut self) -> Result<bool, StorageError> {
        let replaces = super::looks_replaceable(&self.dir, &self.leaf)?;
        self.replaces = Some(replaces);
        Ok(replaces)
    }
}

impl Storage {
    /// Records the dead properties `upload` was given
    /// ([`FileUpload::set_props`]) for its inode, which its commit keeps:
    /// called just before the commit, so the version appears with them.
    /// Nothing to do costs nothing. A commit that fails after this leaves
    /// the file it would have replaced without its own record (which now
    /// names the new inode): rare (the rename itself failing), and only
    /// the properties are lost, never bytes.
    ///
    /// # Errors
    /// As [`Storage::write_dead_properties`]: then nothing is committed.
    pub fn record_props(&self, upload: &mut FileUpload) -> Result<(), StorageError> {
        // Made only where there is a record to write or to remove: most
        // uploads, new files without properties, have neither.
        let Some(props) = upload.props.take() else {
            // The replaced version's record goes with it: its inode, freed
            // by the rename, may be the next version's, whose record it
            // would then seem to be (S3 metadata of a PUT long replaced
            // coming back). Nothing recorded costs nothing. An upload that
            // has not looked ([`Look::AtCommit`]) removes it as its rename
            // finds the file (`FileUpload::replace_found`).
            if upload.replaces == Some(true)
                && !self.surely_unrecorded(&upload.name())
                && !self.recorded_for(upload)
            {
                let owed = self.remove_records(Holder::File(&upload.name()));
                if !owed.is_empty() {
                    self.flusher.flush(owed)?;
                }
            }
            return Ok(());
        };
        // The new record is written now: a commit that found the name
        // taken only then would remove it as the replaced file's.
        if upload.replaces.is_none() {
            upload.replaces = Some(super::looks_replaceable(&upload.dir, &upload.leaf)?);
        }
        let inode = rustix::fs::fstat(&upload.file)?.st_ino;
        self.record_new_version(&upload.name(), inode, &props)
    }

    /// Whether the record of `upload`'s name is its own new version's:
    /// a copy's, written for its staged inode by
    /// [`Storage::stage_copy`], which the commit keeps (a COPY over a file
    /// takes the source's dead properties along, RFC 4918 9.8.2).
    fn recorded_for(&self, upload: &FileUpload) -> bool {
        let Ok(stat) = rustix::fs::fstat(&upload.file) else {
            return false;
        };
        let name = upload.name();
        matches!(self.record_of(Holder::File(&name)), Ok(Some((inode, _))) if inode == stat.st_ino)
    }

    /// Starts an upload to `name`, creating missing parent directories
    /// where `folders` are made, looking at what has the name when `look`
    /// says. Dropped uncommitted, it removes those it created (if empty;
    /// where folders are implicit, any it empties).
    ///
    /// # Errors
    /// 409 if `name` is a directory or special file (looked at now) or a
    /// parent is not a directory; [`StorageError::NotFound`] for a missing
    /// parent where folders are not made; 403 if it is a symlink (looked
    /// at now); 507, 503 or 500 if the temp file cannot be created.
    pub fn begin_upload(
        &self,
        name: &Name,
        folders: Folders,
        look: Look,
    ) -> Result<FileUpload, StorageError> {
        /// Names tried before giving up: another process making a file of
        /// this run's next name is a fluke (a copied root, a clock gone
        /// back), not a reason to fail the upload.
        const TRIES: usize = 4;
        self.pause(Point::Create);
        self.injected_fault(Point::Create)?;
        self.with_target(name, folders, |mut target| {
            if look == Look::AtBegin {
                target.look()?;
            }
            // Journaled before the file exists: a crash in between leaves
            // a directory to look into, never a file nobody looks for.
            if let Some(Err(err)) = self
                .journal
                .as_ref()
                .map(|j| j.note(&target.dir_path, self.durable))
            {
                log::warn!(
                    "could not journal {}/ (a temp file left there by a crash would stay): {err}",
                    if target.dir_path.is_empty() {
                        "."
                    } else {
                        &target.dir_path
                    }
                );
            }
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let mut tries = 0;
            loop {
                let serial = self.temp_serial.fetch_add(1, Ordering::Relaxed) + 1;
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(serial);
                // Made at its length: one allocation, not two.
                let mut temp = String::with_capacity(self.temp_prefix().len() + digits.len());
                temp.push_str(self.temp_prefix());
                temp.push_str(digits);
                match rustix::fs::openat(&target.dir, temp.as_str(), flags, stored_file_mode()) {
                    Ok(fd) => return Ok(self.upload(target, Staged::Temp(temp), File::from(fd))),
                    Err(Errno::EXIST) if tries + 1 < TRIES => tries += 1,
                    Err(errno) => return Err(errno.into()),
                }
            }
        })
    }

    /// An [`FileUpload`] that commits a complete session's data `file` to
    /// `name`, creating missing parent directories where `folders` says
    /// (see [`Storage::begin_upload`]): S3's keys for a multipart upload.
    /// What `session` staged, `staged` bytes, leaves its count as the
    /// file lands (`usage_counts.rs`).
    pub(super) fn begin_commit(
        &self,
        (name, folders): (&Name, Folders),
        file: File,
        (staging, session, staged): (Staging, &SessionInfo, u64),
    ) -> Result<FileUpload, StorageError> {
        let target = self.with_target(name, folders, |mut target| {
            target.look()?;
            Ok(target)
        })?;
        let mut upload = self.upload(target, Staged::Session(staging), file);
        if let Some(counted) = &mut upload.counted {
            counted.unstaged = Some(Box::new((token_of(session.owner.as_deref()), staged)));
        }
        Ok(upload)
    }

    fn upload(&self, target: Target, staged: Staged, file: File) -> FileUpload {
        FileUpload {
            dir: target.dir,
            leaf: target.leaf,
            staged,
            file,
            committed: false,
            root: Arc::clone(&self.root),
            dir_path: target.dir_path,
            floor: target.floor,
            replaces: target.replaces,
            gate: self.gate.clone(),
            settled: self.settled.clone(),
            memory_dev: self.memory_dev,
            counted: self
                .usage
                .as_ref()
                .map(|ledger| super::usage_commit::Counted {
                    ledger: Arc::clone(ledger),
                    size: 0,
                    writer: None,
                    unstaged: None,
                }),
            mtime: None,
            md5: None,
            stated: None,
            parts: None,
            props: None,
            create_only: false,
            reserve: ReserveAsWritten::default(),
            counts_ahead: false,
            ahead: 0,
        }
    }

    /// Finds (creating missing directories where `folders` are made) and
    /// checks the place of a file `name`, and `make`s something there.
    /// Directories this call created are removed again if that fails.
    pub(super) fn with_target<T>(
        &self,
        name: &Name,
        folders: Folders,
        mut make: impl FnMut(Target) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let dir_path = super::dir_of(name);
        let mut attempts = 0;
        loop {
            // Where folders are kept: only what the walk made, once known.
            let mut floor = folders.pruned_below().unwrap_or(usize::MAX);
            let made = self.target(name, folders).and_then(|target| {
                floor = target.floor;
                make(target)
            });
            attempts += 1;
            match made {
                // A directory just made (or found) was removed before the
                // file landed in it: another thread's DEL pruned it as
                // empty. Walk again.
                Err(StorageError::NotFound) if attempts < 3 && folders.made() => {}
                Err(err) => {
                    // Whatever failed, directories this call created stay
                    // no longer.
                    prune_empty_dirs(&self.root, dir_path, floor);
                    return Err(err);
                }
                ok => return ok,
            }
        }
    }

    /// One try of [`Storage::with_target`]'s walk: the target's directory,
    /// not yet looked in.
    fn target(&self, name: &Name, folders: Folders) -> Result<Target, StorageError> {
        let (dirs, leaf) = name.split_parent();
        let (dir, found) = match folders.made() {
            // S3's bucket is never made by an upload (NoSuchBucket): the
            // leading folders that stay whatever happens (`pruned_below`).
            true => self.walk_creating(dirs, folders.pruned_below().unwrap_or(0))?,
            false => (self.walk(dirs.clone())?, dirs.count()),
        };
        let dir = match dir {
            Some(dir) => dir,
            None => rustix::io::fcntl_dupfd_cloexec(&*self.root, 0)?,
        };
        let floor = folders.pruned_below().unwrap_or(found);
        Ok(Target {
            dir,
            dir_path: super::dir_of(name).to_owned(),
            floor,
            leaf: leaf.to_owned(),
            replaces: None,
        })
    }

    /// The name's bucket, its first folder, must be there, as only
    /// CreateBucket makes one (S3's `NoSuchBucket`), for a multipart
    /// upload begun, or where a GET found no file (an upload's own walk checks it as it goes: see
    /// [`Storage::walk_creating`]); what is there is the walk's to judge.
    ///
    /// # Errors
    /// [`StorageError::NoBucket`] if it is not there.
    pub(super) fn check_bucket(&self, name: &Name) -> Result<(), StorageError> {
        let Some((bucket, _)) = name.as_str().split_once('/') else {
            return Ok(());
        };
        match rustix::fs::statat(&*self.root, bucket, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Err(StorageError::NoBucket),
            _ => Ok(()),
        }
    }

    /// Refuses (as a PUT would) a name that cannot become a file: one that
    /// is a directory, symlink or special file, or lies beneath a file.
    /// Missing parents are fine: they would be created.
    pub(super) fn check_can_be_file(&self, name: &Name) -> Result<(), StorageError> {
        let (dirs, leaf) = name.split_parent();
        let mut current: Option<OwnedFd> = None;
        for segment in dirs {
            match rustix::fs::openat(self.fd(&current), segment, DIR, Mode::empty()) {
                Ok(fd) => current = Some(fd),
                Err(Errno::NOENT) => return Ok(()),
                Err(Errno::NOTDIR | Errno::LOOP) => return Err(StorageError::ParentNotDirectory),
                Err(errno) => return Err(errno.into()),
            }
        }
        super::looks_replaceable(self.fd(&current), leaf).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    use crate::model::{DeadProperty, Folders, Holder, NewProps};

    use super::super::{Storage, StorageError};
    use super::*;

    /// Uploads `body` to `name`, looking as `look` says: whether it
    /// replaced a file.
    fn put(storage: &Storage, name: &str, look: Look, body: &[u8]) -> Result<bool, StorageError> {
        let name = Name::new(name.to_owned()).unwrap();
        let mut upload = storage.begin_upload(&name, Folders::Made, look)?;
        upload.write(body)?;
        storage.record_props(&mut upload)?;
        upload.commit(crc32c::crc32c(body)).map(|c| c.replaced)
    }

    #[test]
    fn an_upload_its_commit_looks_for_is_answered_as_one_looked_at_its_begin() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), "test", false).unwrap();
        let at = |name: &str| root.path().join(name);
        fs::create_dir(at("dir")).unwrap();
        fs::write(at("dir/inner"), b"kept").unwrap();
        std::os::unix::fs::symlink("dir/inner", at("link")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(at("socket")).unwrap();
        for look in [Look::AtBegin, Look::AtCommit] {
            let new = format!("new-{look:?}");
            assert!(
                matches!(put(&storage, &new, look, b"1"), Ok(false)),
                "{look:?}"
            );
            assert!(
                matches!(put(&storage, &new, look, b"2"), Ok(true)),
                "{look:?}"
            );
            assert_eq!(fs::read(at(&new)).unwrap(), b"2");
            let refused = [
                ("dir", put(&storage, "dir", look, b"x")),
                ("link", put(&storage, "link", look, b"x")),
                ("socket", put(&storage, "socket", look, b"x")),
            ];
            assert!(
                matches!(
                    refused,
                    [
                        (_, Err(StorageError::IsDirectory)),
                        (_, Err(StorageError::Symlink)),
                        (_, Err(StorageError::NotRegular)),
                    ]
                ),
                "{look:?}: {refused:?}"
            );
        }
        // What was refused is as it was, and no temp file stays.
        assert_eq!(fs::read(at("dir/inner")).unwrap(), b"kept");
        assert!(fs::symlink_metadata(at("link")).unwrap().is_symlink());
        let mut names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.starts_with(".ferry") || name.starts_with(".ferry-tmp"))
            .collect();
        names.sort();
        let kept = ["dir", "link", "new-AtBegin", "new-AtCommit", "socket"];
        assert_eq!(names, kept);
    }

    /// The record of a file an upload replaces goes with it, whichever
    /// looked (see `record_props`): durable or not.
    #[test]
    fn a_replaced_files_record_goes_when_its_commit_finds_the_file() {
        for durable in [false, true] {
            let root = tempfile::tempdir().unwrap();
            let mut storage = Storage::open(root.path(), "test", false).unwrap();
            storage.set_durable(durable);
            let prop = DeadProperty {
                ns: "urn:x".into(),
                local: "a".into(),
                value: "<x:a xmlns:x=\"urn:x\">1</x:a>".into(),
            };
            for look in [Look::AtBegin, Look::AtCommit] {
                fs::create_dir_all(root.path().join("d")).unwrap();
                fs::write(root.path().join("d/f"), b"old").unwrap();
                let inode = fs::metadata(root.path().join("d/f")).unwrap().ino();
                let holder = Holder::File("d/f");
                storage
                    .write_dead_properties(holder, inode, std::slice::from_ref(&prop))
                    .unwrap();
                let (dir, _, leaf) = holder.record();
                let record = root.path().join(dir).join(leaf);
                assert!(record.exists());
                assert!(matches!(put(&storage, "d/f", look, b"new"), Ok(true)));
                assert!(!record.exists(), "durable {durable}, {look:?}");
            }
        }
    }

    /// An upload given dead properties keeps its own new record when it
    /// replaces a file, whichever look it was begun with: it looks as it
    /// records them, so its commit never takes that record for the
    /// replaced file's.
    #[test]
    fn a_replacing_uploads_own_properties_stay() {
        let root = tempfile::tempdir().unwrap();
        let storage = Storage::open(root.path(), "test", false).unwrap();
        let prop = |value: &str| DeadProperty {
            ns: "urn:x".into(),
            local: "a".into(),
            value: format!("<x:a xmlns:x=\"urn:x\">{value}</x:a>"),
        };
        for look in [Look::AtBegin, Look::AtCommit] {
            fs::write(root.path().join("f"), b"old").unwrap();
            let old = fs::metadata(root.path().join("f")).unwrap().ino();
            storage
                .write_dead_properties(Holder::File("f"), old, &[prop("old")])
                .unwrap();
            let name = Name::new("f".to_owned()).unwrap();
            let mut upload = storage.begin_upload(&name, Folders::Made, look).unwrap();
            upload.write(b"new").unwrap();
            let given = NewProps {
                ns: "urn:x".into(),
                props: vec![prop("new")],
            };
            upload.set_props(Some(Box::new(given)));
            storage.record_props(&mut upload).unwrap();
            assert!(upload.commit(crc32c::crc32c(b"new")).unwrap().replaced);
            let new = fs::metadata(root.path().join("f")).unwrap().ino();
            let kept = storage.dead_properties(Holder::File("f"), new).unwrap();
            assert_eq!(kept, vec![prop("new")], "{look:?}");
        }
    }
}
