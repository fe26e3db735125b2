//! What an account holds and how a change changes it, and the account's
//! record in the usage ledger (`usage.rs`) as it lies on the disk, with
//! the reservations in it: bytes counted before they
//! arrive (an APPEND's, the writes of an upload of a length to come),
//! which no walk of the tree can see, kept per server run so that a
//! recount (`usage_recount.rs`) keeps those of live runs and drops those
//! of dead ones.
//!
//! ```text
//! <bytes u64 LE><files u64 LE><landed u64 LE>{<run tag u64 LE><reserved u64 LE>}*
//! ```
//!
//! `bytes` is what the account holds, its reservations included (what a
//! quota is judged by); `landed` counts the changes that landed bytes or
//! files (a commit, a delete, staged bytes counted), which a reservation
//! or its release does not: a recount whose walk saw a change land
//! cannot tell which side of it it walked, and does not set the account.
//! A record written before reservations were kept is 16 bytes: nothing
//! landed counted, nothing reserved.

use crate::model::Usage;
use std::io;
use std::os::fd::OwnedFd;

impl Usage {
    /// With `change`, never below nothing.
    pub(super) fn changed(self, change: Change) -> Usage {
        Usage {
            bytes: self.bytes.saturating_add_signed(change.bytes),
            files: self.files.saturating_add_signed(change.files),
        }
    }
}

/// A change to an account: bytes and files added (or, negative, taken),
/// and the part of the bytes that is reserved (counted before the bytes
/// arrive: `usage_record.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) bytes: i64,
    pub(super) files: i64,
    pub(super) ahead: i64,
}

impl Change {
    /// No change.
    pub(super) const NOTHING: Change = Change {
        bytes: 0,
        files: 0,
        ahead: 0,
    };

    /// A file of `size` bytes came (`sign` 1) or went (`sign` -1).
    pub(super) fn file(size: u64, sign: i64) -> Change {
        Change {
            bytes: sign * i64::try_from(size).unwrap_or(i64::MAX),
            files: sign,
            ahead: 0,
        }
    }

    /// The files and bytes of `usage` came (a folder's tree moved in).
    pub(super) fn came(usage: crate::model::Usage) -> Change {
        Change {
            bytes: i64::try_from(usage.bytes).unwrap_or(i64::MAX),
            files: i64::try_from(usage.files).unwrap_or(i64::MAX),
            ahead: 0,
        }
    }

    /// `bytes` reserved before they arrive (`sign` 1), or the reservation
    /// released (`sign` -1): as they land, or as they never will.
    pub(super) fn reserved(bytes: u64, sign: i64) -> Change {
        let change = Change::staged(bytes, sign);
        Change {
            ahead: change.bytes,
            ..change
        }
    }

    /// `bytes` staged (`sign` 1) or no longer (`sign` -1): no file.
    pub(super) fn staged(bytes: u64, sign: i64) -> Change {
        Change {
            files: 0,
            ..Change::file(bytes, sign)
        }
    }

    /// This and `other` at once.
    pub(super) fn plus(self, other: Change) -> Change {
        Change {
            bytes: self.bytes.saturating_add(other.bytes),
            files: self.files.saturating_add(other.files),
            ahead: self.ahead.saturating_add(other.ahead),
        }
    }

    /// What takes this back.
    pub(super) fn negated(self) -> Change {
        Change {
            bytes: self.bytes.saturating_neg(),
            files: self.files.saturating_neg(),
            ahead: self.ahead.saturating_neg(),
        }
    }

    pub(super) fn is_nothing(self) -> bool {
        self == Change::NOTHING
    }
}

/// Runs a record keeps reservations of; a further run's are counted in
/// the account's bytes without a tag (a recount then cannot see them:
/// more runs than this reserving in one account at once is past what a
/// cluster of ferry nodes does).
const MAX_RUNS: usize = 16;

const HEAD: usize = 24;
const ENTRY: usize = 16;
const MAX_LEN: usize = HEAD + MAX_RUNS * ENTRY;

/// One account's record (see the module's header).
#[derive(Debug, Clone, Default)]
pub(super) struct Record {
    pub(super) usage: Usage,
    pub(super) landed: u64,
    runs: [(u64, u64); MAX_RUNS],
    len: usize,
    /// The length it was read at: a record written shorter is cut to its
    /// length.
    read_len: usize,
}

impl Record {
    /// Reads the record of `fd` (a file never written holds nothing).
    pub(super) fn read(fd: &OwnedFd) -> io::Result<Record> {
        let mut buf = [0u8; MAX_LEN];
        let mut got = 0;
        while got < buf.len() {
            match rustix::io::pread(fd, &mut buf[got..], got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        let word = |at: usize| {
            let bytes = buf.get(at..at + 8).and_then(|b| b.try_into().ok());
            bytes.map_or(0, u64::from_le_bytes)
        };
        let mut record = Record {
            read_len: got,
            ..Record::default()
        };
        // A file never written (or cut short) holds nothing yet.
        if got < 16 {
            return Ok(record);
        }
        record.usage = Usage {
            bytes: word(0),
            files: word(8),
        };
        record.landed = if got >= HEAD { word(16) } else { 0 };
        let entries = got.saturating_sub(HEAD) / ENTRY;
        for at in (0..entries).map(|k| HEAD + k * ENTRY) {
            record.runs[record.len] = (word(at), word(at + 8));
            record.len += 1;
        }
        Ok(record)
    }

    /// Writes it over what `fd` held.
    pub(super) fn write(&self, fd: &OwnedFd) -> io::Result<()> {
        let mut buf = [0u8; MAX_LEN];
        buf[..8].copy_from_slice(&self.usage.bytes.to_le_bytes());
        buf[8..16].copy_from_slice(&self.usage.files.to_le_bytes());
        buf[16..24].copy_from_slice(&self.landed.to_le_bytes());
        for (k, (tag, reserved)) in self.runs[..self.len].iter().enumerate() {
            let at = HEAD + k * ENTRY;
            buf[at..at + 8].copy_from_slice(&tag.to_le_bytes());
            buf[at + 8..at + 16].copy_from_slice(&reserved.to_le_bytes());
        }
        let len = HEAD + self.len * ENTRY;
        let mut put = 0;
        while put < len {
            put += rustix::io::pwrite(fd, &buf[put..len], put as u64)?;
        }
        if len < self.read_len {
            rustix::fs::ftruncate(fd, len as u64)?;
        }
        Ok(())
    }

    /// Applies `change`, made by the run tagged `run`: its reserved part
    /// in that run's reservation, and a landing counted where it has
    /// more than that.
    pub(super) fn apply(&mut self, change: Change, run: u64) {
        self.usage = self.usage.changed(change);
        if change.ahead != 0 {
            self.reserve(run, change.ahead);
        }
        if change.bytes != change.ahead || change.files != 0 {
            self.landed = self.landed.wrapping_add(1);
        }
    }

    fn reserve(&mut self, run: u64, bytes: i64) {
        let runs = &mut self.runs[..self.len];
        if let Some((_, reserved)) = runs.iter_mut().find(|(tag, _)| *tag == run) {
            *reserved = reserved.saturating_add_signed(bytes);
        } else if bytes > 0 && self.len < MAX_RUNS {
            self.runs[self.len] = (run, bytes.unsigned_abs());
            self.len += 1;
        }
    }

    /// The bytes reserved in it by the runs `live` says live.
    pub(super) fn reserved_by(&self, live: impl Fn(u64) -> bool) -> u64 {
        let runs = self.runs[..self.len].iter().filter(|(tag, _)| live(*tag));
        runs.fold(0u64, |sum, (_, reserved)| sum.saturating_add(*reserved))
    }

    /// Whether every run it names a reservation of is one `known` knows.
    pub(super) fn names_only(&self, known: impl Fn(u64) -> bool) -> bool {
        self.runs[..self.len].iter().all(|(tag, _)| known(*tag))
    }

    /// The bytes reserved in it, by every run it names.
    #[cfg(test)]
    pub(super) fn reserved(&self) -> u64 {
        self.reserved_by(|_| true)
    }

    /// Forgets every run's reservation (a recount that walked what they
    /// landed: their runs ended without giving the rest back).
    pub(super) fn clear_runs(&mut self) {
        self.len = 0;
    }
}

/// A run's tag in records: FNV-1a of its name (`<node>.<run id>`).
pub(super) fn run_tag(run: &str) -> u64 {
    run.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, OwnedFd) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("account");
        let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CREATE;
        let fd = rustix::fs::open(&path, flags, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        (dir, fd)
    }

    #[test]
    fn reservations_are_kept_per_run_and_cut_away_when_cleared() {
        let (_dir, fd) = file();
        let mut record = Record::read(&fd).unwrap();
        record.apply(Change::file(100, 1), 1);
        record.apply(Change::reserved(40, 1), 7);
        record.apply(Change::reserved(5, 1), 8);
        record.write(&fd).unwrap();
        let mut again = Record::read(&fd).unwrap();
        assert_eq!((again.usage.bytes, again.usage.files), (145, 1));
        assert_eq!((again.landed, again.reserved()), (1, 45));
        // A release is no landing; netting it against staged bytes is.
        again.apply(Change::reserved(40, -1), 7);
        assert_eq!(again.landed, 1);
        again.apply(Change::staged(30, 1).plus(Change::reserved(5, -1)), 8);
        assert_eq!(
            (again.landed, again.reserved(), again.usage.bytes),
            (2, 0, 130)
        );
        again.apply(Change::reserved(9, 1), 7);
        assert_eq!(again.reserved_by(|tag| tag != 7), 0);
        assert_eq!(again.reserved_by(|tag| tag == 7), 9);
        again.clear_runs();
        assert_eq!(again.reserved(), 0);
        again.write(&fd).unwrap();
        // Cut to its length: no entry of a dropped run read back.
        assert_eq!(Record::read(&fd).unwrap().reserved(), 0);
        assert_eq!(rustix::fs::fstat(&fd).unwrap().st_size, HEAD as i64);
    }

    #[test]
    fn a_record_of_sixteen_bytes_reads_as_nothing_landed_nor_reserved() {
        let (_dir, fd) = file();
        let mut old = [0u8; 16];
        old[..8].copy_from_slice(&70u64.to_le_bytes());
        old[8..].copy_from_slice(&2u64.to_le_bytes());
        rustix::io::pwrite(&fd, &old, 0).unwrap();
        let record = Record::read(&fd).unwrap();
        assert_eq!((record.usage.bytes, record.usage.files), (70, 2));
        assert_eq!((record.landed, record.reserved()), (0, 0));
    }
}
