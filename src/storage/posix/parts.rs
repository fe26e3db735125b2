//! Multipart uploads (S3's) staged as ferry upload sessions: the upload
//! is a session of its own (its id the UploadId; its record, owner,
//! caps, expiry and cross-node locks are every session's), begun without
//! a size, and its parts are files in a folder beside its record,
//! `.ferry-uploads/<id>.parts/<N>`, each written to a temp file there and
//! renamed onto its number once whole, so a part cut mid-body leaves the
//! upload as it was and a part sent again replaces the old one at once.
//! A part ends with a footer of its MD5 (its ETag) and CRC-32C, and the
//! additional checksum it was verified against where it stated one
//! (S3's `x-amz-checksum-*`, kept for its upload's checksum:
//! `part_footer.rs`), so listing the parts reads some 24 to 100 bytes
//! of each and nothing is kept in
//! memory between requests, whatever the upload's size. A part may also
//! be copied from an object (UploadPartCopy: [`PartUpload::copy_from`]).
//!
//! Most parts are not files of their own but written straight into the
//! session's data file, each at its place in the object, with a record
//! in the folder instead (`part_slots.rs`): the completion then finds
//! the object in place, copies in what was staged apart, and commits
//! that file as every session's is: one rename onto the target, after
//! which the record and the parts go. Where the parts are not in place
//! it assembles them into a new file (`copy_file_range`: no byte passes
//! through the process where the file system can copy). Until the rename
//! the session is intact (a failed completion can be tried again).
//!
//! ```text
//! .ferry-uploads/<id>.meta          the session's record (name, owner...)
//! .ferry-uploads/<id>.data          the parts in their places (part_slots.rs)
//! .ferry-uploads/<id>.parts/<N>     part N staged apart: its bytes, then md5(16) crc32c(4, LE) "FMP1",
//!                                   or its bytes, checksum(n) n(1) md5(16) crc32c(4, LE) "FMP2"
//!                                   (checksum: `<algorithm>:<base64>`); or a slot record: part_slots.rs
//! .ferry-uploads/<id>.parts/.t<N>-<node>-<run>-<serial>
//!                                   a part on its way (removed with the session,
//!                                   or by the start-up sweep once its run is over)
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::gate::Point;
pub use super::part_footer::Part;
use super::part_footer::{self as footer, MAX_CHECKSUM};
use super::part_slots::{self as slots, Slot};
use super::parts_folder::{has_parts, parts_name, read_part, staged_parts};
use super::session_files::check_id;
use super::session_state::Live;
use super::sessions::touch;
use super::staging::Staging;
use super::usage::Change;
use super::usage_counts::StagedCount;
use super::{DIR, Storage, StorageError, Upload};
use crate::access::quota::Quota;
use crate::model::Folders;
use crate::model::SessionInfo;
use crate::model::SessionLimits;
use crate::name::Name;

/// Temp names of parts on their way, unique within this process (the
/// node and run in the name keep two nodes' and two runs' apart).
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// A part being received: into its slot in the upload's data file, or a
/// temp file in the upload's parts folder; either way staged by a file
/// renamed onto its number by [`FilePart::commit`]; dropped before
/// that, its temp file is removed and the upload is as it was.
#[derive(Debug)]
pub struct FilePart {
    parts: OwnedFd,
    temp: String,
    number: u32,
    /// The temp file, or the data file where it has a slot.
    file: File,
    slot: Option<Slot>,
    done: bool,
    /// The upload's metadata (what its parts must state: S3's checksum
    /// algorithm).
    meta: Option<String>,
    /// Bytes written.
    written: u64,
    /// Where its bytes count in the usage ledger once it is staged.
    counted: Option<StagedCount>,
    /// Its bytes counted before they arrive (where its length is known
    /// and usage counted): netted as it is staged, given back if not.
    ahead: u64,
}

impl FilePart {
    /// The metadata of the upload it is a part of.
    pub fn upload_meta(&self) -> Option<&str> {
        self.meta.as_deref()
    }

    /// Appends body bytes.
    ///
    /// # Errors
    /// No space, I/O; more bytes than the part's stated length.
    pub fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        match &mut self.slot {
            Some(slot) => slot.write(&self.file, data),
            None => self.file.write_all(data).map_err(StorageError::from),
        }?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Ends the part with its footer (its MD5, CRC-32C and `checksum`,
    /// `<algorithm>:<base64>`, if it has one) and puts it in place of any
    /// part of its number (flushed first where `durable`).
    ///
    /// # Errors
    /// No space, I/O: the part is then not staged; a checksum longer than
    /// [`MAX_CHECKSUM`] (none is).
    pub fn commit(
        mut self,
        (md5, crc, checksum): ([u8; 16], u32, Option<&str>),
        durable: bool,
    ) -> Result<(), StorageError> {
        let checksum = checksum.unwrap_or_default().as_bytes();
        if checksum.len() > MAX_CHECKSUM {
            let long = io::Error::other("a part's checksum is too long to keep");
            return Err(StorageError::Io(long));
        }
        match &self.slot {
            Some(slot) => {
                let mut record = slot.record(md5, crc)?.to_vec();
                record.extend_from_slice(checksum);
                if durable {
                    self.file.sync_data()?;
                }
                let create = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
                let mode = Mode::from_raw_mode(0o600);
                let temp = rustix::fs::openat(
                    &self.parts,
                    self.temp.as_str(),
                    create | OFlags::CLOEXEC,
                    mode,
                )?;
                let mut temp = File::from(temp);
                temp.write_all(&record)?;
                if durable {
                    temp.sync_all()?;
                }
            }
            None => {
                self.file.write_all(&footer::footer(md5, crc, checksum))?;
                if durable {
                    self.file.sync_all()?;
                }
            }
        }
        // The part it replaces, if any, leaves the ledger as it comes in.
        let replaced = match &self.counted {
            Some(_) => read_part(&self.parts, self.number)?.map_or(0, |part| part.size),
            None => 0,
        };
        let number = self.number.to_string();
        rustix::fs::renameat(
            &self.parts,
            self.temp.as_str(),
            &self.parts,
            number.as_str(),
        )?;
        self.done = true;
        if let Some(counted) = &self.counted {
            let ahead = std::mem::take(&mut self.ahead);
            counted.count_replaced(replaced, self.written, ahead);
        }
        if durable {
            rustix::fs::fsync(&self.parts)?;
        }
        Ok(())
    }
}

impl Drop for FilePart {
    /// Its temp file goes (a slot's, if it was made); a slot's bytes stay
    /// but no record names them.
    fn drop(&mut self) {
        if !self.done {
            let _ = rustix::fs::unlinkat(&self.parts, self.temp.as_str(), AtFlags::empty());
        }
        if let (Some(counted), 1..) = (&self.counted, self.ahead) {
            counted.count(Change::reserved(self.ahead, -1));
        }
    }
}

impl Storage {
    /// Begins a multipart upload of `name`: a new session without a size,
    /// with an empty parts folder. Its bucket must be there, as its
    /// completion's ([`Folders::Keys`]).
    ///
    /// # Errors
    /// [`StorageError::NoBucket`]; as [`Storage::begin_new_session`].
    pub fn begin_multipart(
        &self,
        name: &Name,
        meta: Option<&str>,
        limits: &SessionLimits,
    ) -> Result<SessionInfo, StorageError> {
        self.check_bucket(name)?;
        let info = self.begin_new_session(name, None, meta, limits)?;
        let dir = self.sessions_dir()?;
        let made = rustix::fs::mkdirat(&dir, parts_name(&info.id), Mode::from_raw_mode(0o700));
        if let Err(errno) = made {
            let _ = self.abort_session(&info.id, None);
            return Err(errno.into());
        }
        if limits.durable {
            rustix::fs::fsync(&dir)?;
        }
        Ok(info)
    }

    /// Multipart upload `id`, which must be for `name`.
    ///
    /// # Errors
    /// [`StorageError::NoSuchUpload`] if there is none (or it is for
    /// another name, or not a multipart upload).
    pub fn multipart(&self, id: &str, name: &Name) -> Result<SessionInfo, StorageError> {
        check_id(id)?;
        let dir = self.sessions_dir()?;
        let info = self.session_in_checked(&dir, id)?;
        match &info.name == name && !info.stored && has_parts(&dir, id) {
            true => Ok(info),
            false => Err(StorageError::NoSuchUpload),
        }
    }

    /// Whether session `id` is a multipart upload.
    pub fn is_multipart(&self, id: &str) -> bool {
        check_id(id).is_ok() && self.sessions_dir().is_ok_and(|dir| has_parts(&dir, id))
    }

    /// Begins receiving part `number` of multipart upload `id` (for
    /// `name`), of `len` bytes if known (then it may be written in its
    /// slot: `part_slots.rs`); the upload counts as used now. Where usage
    /// is counted and `len` known, its bytes are counted before they
    /// arrive, judged against `quota` (the writing token's) and the
    /// folders' above (`Ledger::count_ahead`): parts side by side, here or
    /// on other nodes, cannot together stage past a quota.
    ///
    /// # Errors
    /// No such upload, [`StorageError::Committing`] while it is
    /// completed; [`StorageError::OverQuota`]; the temp file cannot be
    /// made.
    pub fn begin_part(
        &self,
        id: &str,
        name: &Name,
        (number, len, quota): (u32, Option<u64>, Quota),
    ) -> Result<FilePart, StorageError> {
        self.pause(Point::Session);
        let upload = self.multipart(id, name)?;
        let counted = self.staged_count(&upload);
        if self.sessions.is_committing(id) {
            return Err(StorageError::Committing);
        }
        let ahead = match (&counted, len) {
            (Some(count), Some(len)) => count.count_ahead(len, quota).map(|()| len)?,
            _ => 0,
        };
        let begun = self.part_file(id, (number, len), (upload.meta, counted.clone()));
        match begun {
            Ok(mut part) => {
                part.ahead = ahead;
                Ok(part)
            }
            Err(err) => {
                if let (Some(count), 1..) = (&counted, ahead) {
                    count.count(Change::reserved(ahead, -1));
                }
                Err(err)
            }
        }
    }

    /// [`Storage::begin_part`]'s file: a slot in the data file, or a temp
    /// file in the parts folder.
    fn part_file(
        &self,
        id: &str,
        (number, len): (u32, Option<u64>),
        (meta, counted): (Option<String>, Option<StagedCount>),
    ) -> Result<FilePart, StorageError> {
        let dir = self.sessions_dir()?;
        {
            let mut index = self.sessions.bookkeeping(&dir)?;
            index.mark_staged(id);
            touch(&dir, &mut index, id);
        }
        let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let parts = rustix::fs::openat(&dir, parts_name(id), DIR | flags, Mode::empty())?;
        // Named by node and run, so that the start-up sweep knows a cut's
        // leftovers from another node's parts on their way (`sweep.rs`).
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let temp = format!(".t{number}-{}-{}-{serial}", self.node, self.run);
        if let Some((data, slot)) = slots::slot_for(&dir, id, &parts, (number, len)) {
            return Ok(FilePart {
                parts,
                temp,
                number,
                file: data,
                slot: Some(slot),
                done: false,
                meta,
                written: 0,
                counted,
                ahead: 0,
            });
        }
        let create = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | flags;
        let fd = rustix::fs::openat(&parts, temp.as_str(), create, Mode::from_raw_mode(0o600))?;
        Ok(FilePart {
            parts,
            temp,
            number,
            file: File::from(fd),
            slot: None,
            done: false,
            meta,
            written: 0,
            counted,
            ahead: 0,
        })
    }

    /// The staged parts of multipart upload `id` (for `name`), by number.
    ///
    /// # Errors
    /// No such upload; the parts folder cannot be read.
    pub fn parts(&self, id: &str, name: &Name) -> Result<Vec<Part>, StorageError> {
        self.multipart(id, name)?;
        let dir = self.sessions_dir()?;
        staged_parts(&dir, id)
    }

    /// Completes multipart upload `id` (for `name`) from the parts
    /// `listed` names (its digest, kept in the upload's mark: see
    /// [`Storage::completed_multipart`]): `choose` picks, from the parts
    /// staged and the session's metadata, those that make the object, in order (or refuses: the
    /// upload stays as it was); they are assembled (in place where they
    /// can be: `part_slots.rs`) into the [`Upload`] returned (with its
    /// size, CRC-32C and the session's metadata). Nothing else may touch
    /// the session until it is committed or dropped (then it stays).
    ///
    /// # Errors
    /// What `choose` says; no such upload, busy, being completed; I/O.
    pub fn finish_multipart<E: From<StorageError>>(
        &self,
        (id, name, listed): (&str, &Name, &str),
        choose: impl FnOnce(Vec<Part>, Option<&str>) -> Result<Vec<Part>, E>,
    ) -> Result<(Upload, u64, u32, Option<String>), E> {
        self.pause(Point::Session);
        let info = self.multipart(id, name)?;
        let dir = self.sessions_dir()?;
        let live = self.hold_to_commit(&dir, id)?;
        let mut staging = Staging {
            dir,
            id: id.to_owned(),
            live,
            sessions: Arc::clone(&self.sessions),
            keep_mark: false,
            completed: Some(listed.to_owned()),
            apart: None,
            slots: None,
        };
        // No part is written into its slot from here until the commit
        // ends: the parts read are those assembled.
        let data = slots::hold_slots(&staging.dir, id)?;
        let staged = staged_parts(&staging.dir, id)?;
        let chosen = choose(staged.clone(), info.meta.as_deref())?;
        self.pause(Point::Assemble);
        let made = slots::assemble(&staging.dir, id, &data, &chosen, &staged)?;
        staging.apart = made.apart;
        staging.slots = Some(data);
        let all_staged = staged.iter().map(|part| part.size).sum();
        let staging = (staging, &info, all_staged);
        let mut upload = self.begin_commit((name, Folders::Keys), made.file, staging)?;
        upload.set_part_sizes(chosen.iter().map(|part| part.size).collect());
        Ok((Upload::File(upload), made.size, made.crc, info.meta))
    }

    /// Holds session `id` for its commit: refused while an APPEND streams
    /// into it here or another node holds it.
    fn hold_to_commit(&self, dir: &OwnedFd, id: &str) -> Result<Arc<Live>, StorageError> {
        let live = self.sessions.get_or_new(id);
        {
            let mut held = live.held();
            if live.busy() {
                return Err(StorageError::SessionBusy);
            }
            if live.is_committing() {
                return Err(StorageError::Committing);
            }
            Live::hold(&mut held, dir, id)?;
            self.sessions.keep(id, &live);
            live.committing.store(true, Ordering::SeqCst);
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn combined_crcs_are_the_whole_ones() {
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        let whole = crc32c::crc32c(b"hello world");
        let combined = crc32c::crc32c_combine(crc32c::crc32c(a), crc32c::crc32c(b), b.len());
        assert_eq!(combined, whole);
        assert_eq!(
            crc32c::crc32c_combine(0, crc32c::crc32c(a), a.len()),
            crc32c::crc32c(a)
        );
    }
}
