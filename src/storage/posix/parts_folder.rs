//! A multipart session's parts folder (`<id>.parts`, beside its record in
//! the sessions directory): its name, whether a session has one and what
//! it holds, its removal, and the parts staged in it, each opened and
//! described from its footer or slot record (`part_footer.rs`). Below the
//! parts' upload and assembly (`parts.rs`, `part_slots.rs`) and the
//! sessions' files (`session_files.rs`), which all look here.

use std::fs::File;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use rustix::io::Errno;

use super::part_footer::{Part, described};
use super::{DIR, StorageError};

/// The folder of session `id`'s parts, in the sessions directory.
pub(super) fn parts_name(id: &str) -> String {
    format!("{id}.parts")
}

/// Whether session `id` is a multipart upload (has a parts folder).
pub(super) fn has_parts(dir: &OwnedFd, id: &str) -> bool {
    rustix::fs::statat(dir, parts_name(id), AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// Whether session `id` has staged parts (or parts on their way): a
/// multipart upload's bytes are there until it is completed (its slots'
/// stride and locks are no bytes).
pub(super) fn holds_parts(dir: &OwnedFd, id: &str) -> bool {
    let flags = DIR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(dir, parts_name(id), flags, Mode::empty()) else {
        return false;
    };
    Dir::read_from(&fd).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name().to_bytes();
            name.starts_with(b".t") || name.first().is_some_and(u8::is_ascii_digit)
        })
    })
}

/// Removes session `id`'s parts folder and what is in it, if it has one
/// (best effort, as the rest of a session's removal). A part whose temp
/// file was made while the folder was emptied (its request began before
/// the removal) is removed on a second pass.
pub(super) fn remove_parts(dir: &OwnedFd, id: &str) {
    let name = parts_name(id);
    let flags = DIR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for _ in 0..2 {
        let Ok(fd) = rustix::fs::openat(dir, name.as_str(), flags, Mode::empty()) else {
            return;
        };
        if let Ok(entries) = Dir::read_from(&fd) {
            for entry in entries.flatten() {
                if !matches!(entry.file_name().to_bytes(), b"." | b"..") {
                    let _ = rustix::fs::unlinkat(&fd, entry.file_name(), AtFlags::empty());
                }
            }
        }
        if rustix::fs::unlinkat(dir, name.as_str(), AtFlags::REMOVEDIR) != Err(Errno::NOTEMPTY) {
            return;
        }
    }
}

/// The parts in session `id`'s parts folder, by number (a part without
/// its footer, which nothing but a hand could make, is left out).
pub(super) fn staged_parts(dir: &OwnedFd, id: &str) -> Result<Vec<Part>, StorageError> {
    let flags = DIR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let parts = rustix::fs::openat(dir, parts_name(id), flags, Mode::empty())?;
    let mut found = Vec::new();
    for entry in Dir::read_from(&parts)? {
        let entry = entry?;
        let Some(number) = entry
            .file_name()
            .to_str()
            .ok()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(part) = read_part(&parts, number)? {
            found.push(part);
        }
    }
    found.sort_by_key(|part| part.number);
    Ok(found)
}

/// The bytes multipart upload `id`'s parts hold (its data file holds some
/// of them in their slots, gaps and all: its length is not what is
/// staged); `None` for a session that is no multipart upload.
pub(super) fn parts_staged(dir: &OwnedFd, id: &str) -> Option<u64> {
    let parts = staged_parts(dir, id).ok()?;
    Some(parts.iter().map(|part| part.size).sum())
}

/// Part `number`'s description, from its footer or slot record.
pub(super) fn read_part(parts: &OwnedFd, number: u32) -> Result<Option<Part>, StorageError> {
    match open_part(parts, number) {
        Ok(fd) => described(&File::from(fd), number),
        // Replaced or removed since the folder was read.
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

pub(super) fn open_part(parts: &OwnedFd, number: u32) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(parts, number.to_string(), flags, Mode::empty())
}
