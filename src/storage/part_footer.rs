//! How a staged part describes itself (`parts.rs`): the footer after
//! its bytes when it is staged apart, or its slot record
//! (`part_slots.rs`); either way its MD5, CRC-32C and, where it stated
//! one, the additional checksum it was verified against (S3's
//! `x-amz-checksum-*`), read back without reading its bytes.
//!
//! ```text
//! <bytes> md5(16) crc32c(4, LE) "FMP1"
//! <bytes> checksum(n) n(1) md5(16) crc32c(4, LE) "FMP2"     checksum: `<algorithm>:<base64>`
//! offset(8) size(8) md5(16) crc32c(4, LE) "FMS1" [checksum] a slot record
//! ```

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use rustix::fs::{Dir, Mode, OFlags};
use rustix::io::Errno;

use super::part_slots as slots;
use super::parts::{Part, parts_name};
use super::{DIR, StorageError};

/// Bytes after a part's own: its MD5, its CRC-32C and a mark.
const FOOTER: u64 = 24;
const MARK: &[u8; 4] = b"FMP1";
/// The mark of a footer with the part's checksum before it.
const MARK_CHECKSUM: &[u8; 4] = b"FMP2";
/// The longest checksum kept with a part (`<algorithm>:<base64>`: a
/// SHA-256's is 51 bytes).
pub(super) const MAX_CHECKSUM: usize = 80;

/// The footer of a part staged apart: `checksum` (`<algorithm>:<base64>`,
/// at most [`MAX_CHECKSUM`] bytes: the caller checks), if any, its
/// length, then `md5`, `crc` and the mark that says which footer it is.
pub(super) fn footer(md5: [u8; 16], crc: u32, checksum: &[u8]) -> Vec<u8> {
    let mut footer = Vec::with_capacity(FOOTER as usize + 1 + checksum.len());
    if !checksum.is_empty() {
        footer.extend_from_slice(checksum);
        footer.push(u8::try_from(checksum.len()).unwrap_or(u8::MAX));
    }
    footer.extend_from_slice(&md5);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(match checksum.is_empty() {
        true => MARK,
        false => MARK_CHECKSUM,
    });
    footer
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

/// The description of part `number`, open as `file`, from its footer or
/// its slot record; `None` if it has neither.
pub(super) fn described(file: &File, number: u32) -> Result<Option<Part>, StorageError> {
    let stat = rustix::fs::fstat(file)?;
    let len = u64::try_from(stat.st_size).unwrap_or(0);
    if len < FOOTER {
        return Ok(None);
    }
    let mut footer = [0u8; FOOTER as usize];
    file.read_exact_at(&mut footer, len - FOOTER)?;
    // A slot record's checksum ends in base64's `=`, never in a mark.
    let (size, checksum) = match &footer[20..] {
        mark if mark == MARK => (len - FOOTER, None),
        mark if mark == MARK_CHECKSUM && len > FOOTER => {
            let mut n = [0u8; 1];
            file.read_exact_at(&mut n, len - FOOTER - 1)?;
            let n = u64::from(n[0]);
            let Some(size) = len.checked_sub(FOOTER + 1 + n) else {
                return Ok(None);
            };
            let mut text = vec![0u8; n as usize];
            file.read_exact_at(&mut text, size)?;
            (size, String::from_utf8(text).ok())
        }
        _ => return slot_record(file, len, (number, stat.st_mtime)),
    };
    let mut md5 = [0u8; 16];
    md5.copy_from_slice(&footer[..16]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&footer[16..20]);
    Ok(Some(Part {
        number,
        size,
        md5,
        crc: u32::from_le_bytes(crc),
        modified: stat.st_mtime,
        at: None,
        checksum,
    }))
}

/// Part `number`'s slot record (`part_slots.rs`), of `len` bytes: the
/// record, then the part's checksum if it has one.
fn slot_record(
    file: &File,
    len: u64,
    (number, modified): (u32, i64),
) -> Result<Option<Part>, StorageError> {
    let longest = slots::RECORD + MAX_CHECKSUM as u64;
    if !(slots::RECORD..=longest).contains(&len) {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    let (record, checksum) = bytes.split_at(slots::RECORD as usize);
    let Ok(record) = <&[u8; slots::RECORD as usize]>::try_from(record) else {
        return Ok(None);
    };
    if &record[36..] != slots::RECORD_MARK {
        return Ok(None);
    }
    let mut part = slots::from_record(number, record, modified);
    if !checksum.is_empty() {
        part.checksum = std::str::from_utf8(checksum).ok().map(str::to_owned);
    }
    Ok(Some(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footer_with_a_checksum_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        for checksum in ["", "sha256:Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg="] {
            let path = dir.path().join("7");
            let mut bytes = b"hello".to_vec();
            bytes.extend(footer([9; 16], 0xfeed, checksum.as_bytes()));
            std::fs::write(&path, &bytes).unwrap();
            let part = described(&File::open(&path).unwrap(), 7).unwrap().unwrap();
            assert_eq!((part.size, part.md5, part.crc), (5, [9; 16], 0xfeed));
            let kept = Some(checksum.to_owned()).filter(|c| !c.is_empty());
            assert_eq!(part.checksum, kept);
        }
    }
}
