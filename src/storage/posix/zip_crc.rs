//! A file's CRC-32 (zip's polynomial, not the CRC-32C every upload
//! records), recorded with the file once a zip member has computed it,
//! in the extended attribute `user.ferry.crc32` and the CRC-32C's form
//! (`"<size> <mtime> <hex>"`, `checksum.rs`): a folder zipped again reads
//! the records instead of its files. The zip's walk asks for it
//! ([`crate::storage::Storage::zip_crc`]) and records what it computed
//! (`serve/archive_layout.rs`).

use std::fs::File;

use rustix::fs::Stat;

use super::version_record::recorded_value;
use crate::wire::content::Content;

/// The extended attribute a file's zip CRC-32 is recorded in.
const ATTRIBUTE: &str = "user.ferry.crc32";

/// The recorded zip CRC-32 of `file`, if the record matches it as
/// the CRC-32C's is.
pub(super) fn recorded(file: &File, stat: &Stat) -> Option<u32> {
    u32::from_str_radix(&recorded_value(file, stat, ATTRIBUTE)?, 16).ok()
}

/// What is known of a file's zip CRC-32 before a zip member sends it
/// ([`crate::storage::Storage::zip_crc`]).
pub enum ZipCrc {
    /// Recorded with this version of the file.
    Recorded(u32),
    /// To be computed from its bytes; recorded then if the record allows.
    Unknown(Option<ZipCrcRecord>),
}

/// The version of a file (size, modification time) a zip CRC-32 computed
/// from it may be recorded for: one the server may write a record on (not
/// read-only, a single link).
#[derive(Clone)]
pub struct ZipCrcRecord(Stat);

impl ZipCrcRecord {
    pub(super) fn new(stat: Stat) -> ZipCrcRecord {
        ZipCrcRecord(stat)
    }

    /// Records `crc`, computed from the first `size` bytes of `file`, if
    /// they are the whole version this record is for and the file's size
    /// and time did not move meanwhile (the bytes read may then be of
    /// neither version). Best effort, as the CRC-32C's record.
    pub fn record(&self, body: &Content, size: u64, crc: u32) {
        let Some(file) = body.as_file() else {
            return; // bytes in memory: nowhere to keep a record
        };
        let before = &self.0;
        if u64::try_from(before.st_size) != Ok(size) {
            return;
        }
        let Ok(now) = rustix::fs::fstat(file) else {
            return;
        };
        if (now.st_size, now.st_mtime, now.st_mtime_nsec)
            != (before.st_size, before.st_mtime, before.st_mtime_nsec)
        {
            return;
        }
        write(file, before, crc);
    }
}

/// Records `crc` as the zip CRC-32 of `file` at version `stat`. Best
/// effort, as the CRC-32C's record.
pub(super) fn write(file: &File, stat: &Stat, crc: u32) {
    super::version_record::write_record(file, stat, ATTRIBUTE, &format!("{crc:08x}"));
}
