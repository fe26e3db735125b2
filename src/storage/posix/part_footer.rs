//! How a staged part describes itself ([`Part`], `parts.rs`): the footer after
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
use std::os::unix::fs::FileExt;

use super::StorageError;

/// Bytes after a part's own: its MD5, its CRC-32C and a mark.
const FOOTER: u64 = 24;
const MARK: &[u8; 4] = b"FMP1";
/// The mark of a footer with the part's checksum before it.
const MARK_CHECKSUM: &[u8; 4] = b"FMP2";
/// The longest checksum kept with a part (`<algorithm>:<base64>`: a
/// SHA-256's is 51 bytes).
pub(super) const MAX_CHECKSUM: usize = 80;

/// A staged part, as its footer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its number (1..=10000).
    pub number: u32,
    /// Its bytes.
    pub size: u64,
    /// Their MD5 (its ETag).
    pub md5: [u8; 16],
    /// Their CRC-32C.
    pub crc: u32,
    /// When it was staged (Unix seconds).
    pub modified: i64,
    /// Where its bytes are in the upload's data file (its slot), or
    /// `None`: in its own file.
    pub at: Option<u64>,
    /// The additional checksum its bytes were verified against
    /// (`<algorithm>:<base64>`, S3's `x-amz-checksum-*`), if any.
    pub checksum: Option<String>,
}

/// The bytes of a slot record, and its mark.
pub(super) const RECORD: u64 = 40;
pub(super) const RECORD_MARK: &[u8; 4] = b"FMS1";

/// Part `number`, described by slot record `record` (written at `modified`).
pub(super) fn from_record(number: u32, record: &[u8; 40], modified: i64) -> Part {
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&record[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let mut md5 = [0u8; 16];
    md5.copy_from_slice(&record[16..32]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&record[32..36]);
    Part {
        number,
        size: word(8),
        md5,
        crc: u32::from_le_bytes(crc),
        modified,
        at: Some(word(0)),
        checksum: None,
    }
}

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
    let longest = RECORD + MAX_CHECKSUM as u64;
    if !(RECORD..=longest).contains(&len) {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    let (record, checksum) = bytes.split_at(RECORD as usize);
    let Ok(record) = <&[u8; RECORD as usize]>::try_from(record) else {
        return Ok(None);
    };
    if &record[36..] != RECORD_MARK {
        return Ok(None);
    }
    let mut part = from_record(number, record, modified);
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
