//! A memory store's upload ([`MemoryUpload`]): its bytes gathered in
//! memory, the folders its begin found or made (as the POSIX engine's
//! walk makes them, so a listing shows them while the body arrives), and
//! its commit, one change of the tree under the store's lock with the
//! POSIX engine's answers: a folder moved or removed meanwhile refuses
//! it, a create-only upload never replaces, a quota counted is judged by
//! what it adds before what it replaces is taken off.
//!
//! Quotas are judged at the commit only: bytes are not counted as they
//! arrive ([`MemoryUpload::count_as_written`] records the owner), nor is
//! there a disk reserve to take room from. A session's commit
//! (`sessions.rs`) is an upload of its bytes that takes the session with
//! it as it lands.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Entry, MemoryStore, Stored, Tree, dir_of, now};
use crate::access::quota::Quota;
use crate::model::{DeadProperty, Folders, Md5Tag, NewProps};
use crate::name::Name;
use crate::storage::{Committed, EngineUpload, Look, Opened, ReserveAsWritten, StorageError};

/// A memory store's upload in progress; dropped uncommitted, it prunes
/// the folders it made and emptied (as the POSIX engine's does).
#[derive(Debug)]
pub struct MemoryUpload {
    tree: Arc<Mutex<Tree>>,
    name: Name,
    /// The inode of the folder it lands in, as its begin found or made it.
    folder: u64,
    /// Leading segments of its folder never pruned if it is dropped.
    floor: usize,
    bytes: Vec<u8>,
    terms: Terms,
    committed: bool,
    /// The session whose bytes it commits: it leaves with the commit (its
    /// staged bytes then count as the file's), and stays if dropped.
    session: Option<String>,
}

/// What the commit is made with, as the caller set it.
#[derive(Debug, Default)]
struct Terms {
    mtime: Option<i64>,
    md5: Option<Md5Tag>,
    stated: Option<String>,
    props: Option<Box<NewProps>>,
    /// The dead properties of the file it copies (a copy's).
    copied: Option<Vec<DeadProperty>>,
    owner: Option<String>,
    quota: Option<Quota>,
    create_only: bool,
    /// Whether a file has the name, as the begin looked (`None`: not
    /// looked), and once committed as the commit found.
    replaces: Option<bool>,
}

impl MemoryStore {
    /// As [`crate::storage::Store::begin_upload`].
    pub(super) fn begin(
        &self,
        name: &Name,
        folders: Folders,
        look: Look,
    ) -> Result<MemoryUpload, StorageError> {
        let mut tree = self.tree();
        let dir = dir_of(name.as_str());
        let floor = match folders.made() {
            true => {
                let found = tree.found_depth(dir);
                tree.make_parents(dir, folders.pruned_below().unwrap_or(0))?;
                folders.pruned_below().unwrap_or(found)
            }
            false => {
                tree.walk(dir)?;
                depth(dir)
            }
        };
        let folder = tree.walk(dir)?.inode;
        let replaces = match look {
            Look::AtBegin => Some(tree.replaceable(name.as_str())?),
            Look::AtCommit => None,
        };
        Ok(MemoryUpload {
            tree: Arc::clone(&self.tree),
            name: name.clone(),
            folder,
            floor,
            bytes: Vec::new(),
            terms: Terms {
                replaces,
                ..Terms::default()
            },
            committed: false,
            session: None,
        })
    }

    /// The upload that commits session `id`'s `bytes` to `name` (its
    /// folders found or made as `folders` says, what has the name looked
    /// at now).
    pub(super) fn begin_session_commit(
        &self,
        (name, folders): (&Name, Folders),
        (id, bytes): (&str, Vec<u8>),
    ) -> Result<MemoryUpload, StorageError> {
        let mut upload = self.begin(name, folders, Look::AtBegin)?;
        upload.bytes = bytes;
        upload.session = Some(id.to_owned());
        Ok(upload)
    }

    /// As [`crate::storage::Store::stage_copy`] (`from`'s name is not
    /// needed: what is copied is `source`'s version).
    pub(super) fn stage_copy_of(
        &self,
        (_from, source): (&Name, &Opened),
        to: &Name,
        folders: Folders,
    ) -> Result<(MemoryUpload, u64, u32), StorageError> {
        let found = &source.version;
        let mut upload = self.begin(to, folders, Look::AtBegin)?;
        let size = usize::try_from(found.info.size).map_err(|_| StorageError::NoSpace)?;
        let mut bytes = vec![0; size];
        source.body.read_exact_at(&mut bytes, 0)?;
        let crc = crate::formats::castagnoli::checksum(&bytes);
        if found.crc.is_some_and(|recorded| recorded != crc) {
            let changed = std::io::Error::other("the source changed while it was copied");
            return Err(StorageError::Io(changed));
        }
        upload.bytes = bytes;
        upload.terms.md5 = found.md5;
        upload.terms.copied = self.tree().props.get(&found.stamp.inode).cloned();
        Ok((upload, found.info.size, crc))
    }
}

impl Tree {
    /// How many leading folders of `dir` are there.
    fn found_depth(&self, dir: &str) -> usize {
        let ends = dir.match_indices('/').map(|(at, _)| at).chain([dir.len()]);
        ends.take_while(|end| !dir.is_empty() && self.folder(&dir[..*end]).is_some())
            .count()
    }

    /// Whether a file has `name` (that an upload would replace).
    ///
    /// # Errors
    /// [`StorageError::IsDirectory`] for a folder.
    pub(super) fn replaceable(&self, name: &str) -> Result<bool, StorageError> {
        match self.folder(name) {
            Some(_) => Err(StorageError::IsDirectory),
            None => Ok(self.file(name).is_some()),
        }
    }
}

impl EngineUpload for MemoryUpload {
    /// Appends body bytes.
    ///
    /// # Errors
    /// Only a failure a test injected: memory is taken as it comes.
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fault()?;
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Nothing: a memory store has no disk reserve.
    fn reserve_as_written(&mut self, _reserve: ReserveAsWritten) {}

    /// Records the owner; its quotas are judged at the commit.
    fn count_as_written(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        self.set_owner(owner, quota);
    }

    /// The token the file counts for, and its quota.
    fn set_owner(&mut self, owner: Option<&str>, quota: Option<Quota>) {
        self.terms.owner = owner.map(str::to_owned);
        self.terms.quota = quota;
    }

    /// The commit never replaces a file.
    fn create_only(&mut self) {
        self.terms.create_only = true;
    }

    /// Its answer is "replaced".
    fn note_replacing(&mut self) {
        self.terms.replaces = Some(true);
    }

    /// Whether it replaces a file, as looked (or found by the commit).
    fn replaces_existing(&self) -> bool {
        self.terms.replaces == Some(true)
    }

    /// The file's time once committed.
    fn set_mtime(&mut self, mtime: Option<i64>) {
        self.terms.mtime = mtime;
    }

    /// The body's MD5, recorded with the file.
    fn set_md5(&mut self, md5: [u8; 16]) {
        self.terms.md5 = Some(Md5Tag { md5, parts: None });
    }

    /// A multipart upload's MD5 of its parts' MD5s.
    fn set_multipart_md5(&mut self, md5: [u8; 16], parts: u32) {
        let parts = Some(parts);
        self.terms.md5 = Some(Md5Tag { md5, parts });
    }

    /// The tag recorded with the file.
    fn md5(&self) -> Option<Md5Tag> {
        self.terms.md5
    }

    /// The checksum the body was verified against.
    fn set_stated_checksum(&mut self, stated: String) {
        self.terms.stated = Some(stated);
    }

    /// Nothing: a memory store keeps no part records.
    fn set_part_checksums(&mut self, _checksums: Vec<String>) {}

    /// The new version's dead properties.
    fn set_props(&mut self, props: Option<Box<NewProps>>) {
        self.terms.props = props;
    }

    fn commit(mut self: Box<Self>, crc: u32) -> Result<Committed, StorageError> {
        self.land(crc)
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

impl MemoryUpload {
    /// Its first `len` bytes, kept as a session instead of committed:
    /// the upload is over, the folders it made stay.
    pub(super) fn take_kept(&mut self, len: u64) -> Vec<u8> {
        self.committed = true;
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        bytes
    }

    /// Puts the bytes in place under `name`, with `crc` recorded: one
    /// change of the tree.
    ///
    /// # Errors
    /// [`StorageError::FolderMoved`] if its folder was moved or removed
    /// since the begin, [`StorageError::IsDirectory`] if a folder has the
    /// name, [`StorageError::Exists`] for a create-only upload whose name
    /// a file took, [`StorageError::OverQuota`] past a quota counted.
    fn land(&mut self, crc: u32) -> Result<Committed, StorageError> {
        let tree = Arc::clone(&self.tree);
        let mut tree = tree.lock().unwrap_or_else(PoisonError::into_inner);
        tree.fault()?;
        let name = self.name.as_str().to_owned();
        let name = name.as_str();
        match tree.folder(dir_of(name)) {
            Some(folder) if folder.inode == self.folder => {}
            _ => return Err(StorageError::FolderMoved),
        }
        let found = tree.replaceable(name)?;
        if found && self.terms.create_only {
            return Err(StorageError::Exists);
        }
        // As the POSIX engine answers: what the begin looked at (or the
        // caller noted: a folder a COPY removed first), else what is found.
        let replaces = self.terms.replaces.unwrap_or(found);
        let size = self.bytes.len() as u64;
        let writer = (self.terms.owner.as_deref(), self.terms.quota);
        // A session's staged bytes count already: they become the file's.
        let session = self
            .session
            .as_ref()
            .and_then(|id| tree.sessions.remove_entry(id));
        let admitted = tree.admits(writer, name, size);
        if let Some((id, session)) = session {
            tree.sessions.insert(id, session);
        }
        admitted?;
        if let Some(id) = &self.session {
            tree.session_landed(id);
        }
        let stored = self.stored(tree.inode(), crc);
        let landed = (stored.info(), stored.stamp());
        let props = self.new_props();
        if !props.is_empty() {
            tree.props.insert(stored.inode, props);
        }
        let old = tree
            .entries
            .insert(self.name.as_str().to_owned(), Entry::File(stored));
        if let Some(Entry::File(old)) = old {
            tree.props.remove(&old.inode);
        }
        self.committed = true;
        self.terms.replaces = Some(replaces);
        Ok(Committed {
            landed: Some(landed),
            replaced: replaces,
        })
    }

    /// The dead properties the new version gets: those it copies, with
    /// the namespace it was given replaced (as the POSIX engine's
    /// `record_new_version`).
    fn new_props(&mut self) -> Vec<DeadProperty> {
        let mut props = self.terms.copied.take().unwrap_or_default();
        if let Some(new) = self.terms.props.take() {
            props.retain(|prop| prop.ns != new.ns);
            props.extend(new.props);
        }
        props
    }

    /// The file it becomes, as inode `inode`.
    fn stored(&mut self, inode: u64, crc: u32) -> Stored {
        let (now, nanos) = now();
        Stored {
            bytes: std::mem::take(&mut self.bytes).into(),
            mtime: self.terms.mtime.unwrap_or(now),
            nanos,
            inode,
            crc: Some(crc),
            md5: self.terms.md5,
            stated: self.terms.stated.take(),
            owner: self.terms.owner.take(),
        }
    }
}

impl Drop for MemoryUpload {
    fn drop(&mut self) {
        if !self.committed {
            let mut tree = self.tree.lock().unwrap_or_else(PoisonError::into_inner);
            tree.prune(dir_of(self.name.as_str()), self.floor);
            let session = self.session.as_deref().map(|id| tree.session_mut(id));
            if let Some(Ok(session)) = session {
                session.committing = false;
            }
        }
    }
}

/// How many folders `dir` is below the root.
fn depth(dir: &str) -> usize {
    match dir {
        "" => 0,
        dir => dir.split('/').count(),
    }
}
