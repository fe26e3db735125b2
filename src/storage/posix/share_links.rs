//! Share links as the root keeps them: one record per link in
//! `.ferry-shares/` (a reserved name: never served or listed), so every
//! node on the root sees the same links, a revocation holds everywhere at
//! once and links outlive restarts. What a link *allows* is the serve
//! layer's (`serve/ops/links.rs`); this file only keeps them.
//!
//! ```text
//! .ferry-shares/<id>        one link, written whole (temp + rename):
//!     ferry-share-link 1
//!     creator <token name>   empty without access control
//!     key <16 hex digits>    of the token's digest (empty likewise)
//!     path <name>            a folder's ends in /
//!     mode read|upload
//!     created <unix seconds>
//!     expires <unix seconds>
//!     password <salt hex>:<sha-256 hex>   or -
//!     max <downloads>                     or -
//!     downloads <given so far>
//! .ferry-shares/.tmp-<...>  a record being written (a dot: never an id)
//! .ferry-shares/.lock       empty: its flock is held by every change
//! ```
//!
//! A request through a link reads its one record (no lock: records are
//! replaced whole). Every change (a link made, revoked, a download
//! counted) holds an exclusive `flock` of `.lock`, a regular file (a
//! shared file system forwards a file's lock to every mount), and reads
//! the records fresh under it, so two nodes never both give a link's last
//! download. Each change is on the disk before it is answered.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::dav_locks::read_small;
use super::flock::Flock;
use super::settled::system_now;
use super::{StorageError, stored_file_mode};
use crate::model::{LinkMode, ShareLink, is_link_id};
use crate::storage::{DecideLinks, LinkEdit, LinkTable};

/// The folder of the records, in the root.
pub const SHARES_DIR: &str = ".ferry-shares";
/// The file whose `flock` every change holds (a dot name: no record's).
const TABLE_LOCK: &str = ".lock";
/// The largest record read.
const MAX_RECORD: u64 = 16 * 1024;

/// The share links of a root.
#[derive(Debug)]
pub struct ShareLinks {
    root: Arc<OwnedFd>,
    writable: bool,
    /// Names this node's temp records apart.
    temp_prefix: String,
    serial: AtomicU64,
}

impl ShareLinks {
    /// The links of `root`; nothing read or made yet.
    pub(super) fn new(root: Arc<OwnedFd>, read_only: bool, temp_prefix: String) -> ShareLinks {
        ShareLinks {
            root,
            writable: !read_only,
            temp_prefix,
            serial: AtomicU64::new(0),
        }
    }

    /// The records' folder, made if missing.
    fn made_dir(&self) -> Result<OwnedFd, StorageError> {
        if !self.writable {
            return Err(StorageError::from(Errno::ROFS));
        }
        match rustix::fs::mkdirat(&*self.root, SHARES_DIR, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
        Ok(open_dir(&self.root)?)
    }

    /// Writes `link`'s record whole: a temp file, flushed, renamed over
    /// its name.
    fn write(&self, dir: &OwnedFd, link: &ShareLink) -> Result<(), StorageError> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let temp = format!(".tmp-{}{serial}", self.temp_prefix);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, temp.as_str(), flags, stored_file_mode())?;
        let mut file = std::fs::File::from(fd);
        let written = file
            .write_all(encode_record(link).as_bytes())
            .and_then(|()| file.sync_data());
        let renamed = written.map_err(StorageError::from).and_then(|()| {
            Ok(rustix::fs::renameat(
                dir,
                temp.as_str(),
                dir,
                link.id.as_str(),
            )?)
        });
        if renamed.is_err() {
            let _ = rustix::fs::unlinkat(dir, temp.as_str(), AtFlags::empty());
        }
        renamed
    }

    /// Every record in `dir`; ones that do not parse are skipped.
    fn read_all(dir: &OwnedFd) -> Result<Vec<ShareLink>, StorageError> {
        let mut links = Vec::new();
        for entry in rustix::fs::Dir::read_from(dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if !is_link_id(&file) {
                continue;
            }
            // One record that cannot be read is skipped, not every change
            // of every other link refused.
            match read_record(dir, &file) {
                Ok(Some(link)) => links.push(link),
                Ok(None) => log::warn!("{SHARES_DIR}/{file}: not a link record, ignored"),
                Err(Errno::NOENT) => {}
                Err(errno) => log::warn!("{SHARES_DIR}/{file}: not read ({errno}), ignored"),
            }
        }
        Ok(links)
    }

    /// Applies `edit` in `dir`, then flushes the folder.
    fn apply(&self, dir: &OwnedFd, edit: &LinkEdit) -> Result<(), StorageError> {
        for link in &edit.write {
            self.write(dir, link)?;
        }
        for id in edit.remove.iter().filter(|id| is_link_id(id)) {
            match rustix::fs::unlinkat(dir, id.as_str(), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        if !(edit.write.is_empty() && edit.remove.is_empty()) {
            rustix::fs::fsync(dir)?;
        }
        Ok(())
    }
}

impl LinkTable for ShareLinks {
    fn now(&self) -> i64 {
        system_now().0
    }

    fn link(&self, id: &str) -> Result<Option<ShareLink>, StorageError> {
        if !is_link_id(id) {
            return Ok(None);
        }
        let dir = match open_dir(&self.root) {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        };
        match read_record(&dir, id) {
            Ok(link) => Ok(link),
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(errno.into()),
        }
    }

    fn all(&self) -> Result<Vec<ShareLink>, StorageError> {
        match open_dir(&self.root) {
            Ok(dir) => ShareLinks::read_all(&dir),
            Err(Errno::NOENT) => Ok(Vec::new()),
            Err(errno) => Err(errno.into()),
        }
    }

    fn edit(&self, decide: DecideLinks<'_>) -> Result<(), StorageError> {
        let dir = self.made_dir()?;
        let held = Flock::exclusive_at(&dir, TABLE_LOCK)?;
        let links = ShareLinks::read_all(&dir)?;
        if let Some(edit) = decide(&links, self.now()) {
            edit.check()?;
            self.apply(&dir, &edit)?;
        }
        drop(held);
        Ok(())
    }
}

/// `.ferry-shares`, opened as a folder (never through a symlink).
fn open_dir(root: &OwnedFd) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(root, SHARES_DIR, flags, Mode::empty())
}

/// A record, or `None` if it is not one.
fn read_record(dir: &OwnedFd, file: &str) -> Result<Option<ShareLink>, Errno> {
    Ok(read_small(dir, file, MAX_RECORD)?.and_then(|text| decode_record(file, &text)))
}

/// The record of `link` (the format in the module's header).
pub fn encode_record(link: &ShareLink) -> String {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    format!(
        "ferry-share-link 1\ncreator {}\nkey {}\npath {}\nmode {}\ncreated {}\nexpires {}\npassword {}\nmax {}\ndownloads {}\n",
        link.creator,
        link.creator_key,
        link.path,
        link.mode.as_str(),
        link.created,
        link.expires,
        or_dash(link.password.clone()),
        or_dash(link.max_downloads.map(|max| max.to_string())),
        link.downloads,
    )
}

/// The link recorded as `text` in the file `id`, or `None` if it is not
/// a whole record. Lines end at `\n` alone, and a value with a control
/// character is none a record holds (names refuse them): so what is read
/// is exactly what was written, and a `\r` never goes astray.
pub fn decode_record(id: &str, text: &str) -> Option<ShareLink> {
    let mut lines = text.split('\n');
    if lines.next()? != "ferry-share-link 1" {
        return None;
    }
    let mut field = |key: &str| {
        let line = lines.next()?;
        let value = line.strip_prefix(key)?.strip_prefix(' ')?;
        let plain = !value.chars().any(char::is_control);
        plain.then(|| value.to_owned())
    };
    let creator = field("creator")?;
    let creator_key = field("key")?;
    let path = field("path")?;
    let mode = LinkMode::parse(&field("mode")?)?;
    let created = field("created")?.parse().ok()?;
    let expires = field("expires")?.parse().ok()?;
    let password = Some(field("password")?).filter(|p| p != "-");
    let max_downloads = match field("max")?.as_str() {
        "-" => None,
        max => Some(max.parse().ok()?),
    };
    let downloads = field("downloads")?.parse().ok()?;
    Some(ShareLink {
        id: id.to_owned(),
        creator,
        creator_key,
        path,
        mode,
        created,
        expires,
        password,
        max_downloads,
        downloads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let link = ShareLink {
            id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            creator: "alice".into(),
            creator_key: "0123456789abcdef".into(),
            path: "photos/2026 trip/".into(),
            mode: LinkMode::Upload,
            created: 5,
            expires: 99,
            password: Some("00ff:abcd".into()),
            max_downloads: Some(3),
            downloads: 1,
        };
        assert_eq!(
            decode_record(&link.id, &encode_record(&link)),
            Some(link.clone())
        );
        let open = ShareLink {
            creator: String::new(),
            creator_key: String::new(),
            password: None,
            max_downloads: None,
            ..link
        };
        assert_eq!(
            decode_record(&open.id, &encode_record(&open)),
            Some(open.clone())
        );
        assert_eq!(decode_record(&open.id, "ferry-share-link 2\n"), None);
    }

    /// Found by the share links' property test (`tests/http/share_readers.rs`):
    /// a record whose path ended in `\r` read back without it, since
    /// `lines` took its `\r\n` for one line's end.
    #[test]
    fn a_value_with_a_control_character_is_no_record() {
        let written = "ferry-share-link 1\ncreator alice\nkey 0123456789abcdef\npath a/\nmode read\ncreated 5\nexpires 9\npassword -\nmax -\ndownloads 0\n";
        let id = "AbCdEfGhIjKlMnOpQrStUv";
        let link = decode_record(id, written).expect("a record");
        assert_eq!(encode_record(&link), written);
        for broken in ["path a/\r\r\n", "path a/\r\n", "path a/\t\n"] {
            let text = written.replace("path a/\n", broken);
            assert_eq!(decode_record(id, &text), None, "{broken:?}");
        }
    }
}
