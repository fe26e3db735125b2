//! A record kept with one version of a file: an extended attribute
//! `"<size> <mtime> <value>"`, read back only while the file is still
//! that version, so a file changed behind ferry's back never answers an
//! old record. Every record of a version (its CRC-32C, S3's MD5 tag and
//! stated checksum, a multipart object's part sizes and checksums, a zip
//! member's CRC-32) is written and read here. Best effort: a file system
//! without user extended attributes keeps none.

use std::fs::File;

use rustix::fs::{Stat, XattrFlags};

/// `"<size> <mtime seconds>.<nanoseconds>"`: the version of a file
/// every record names, so that one left by an older version is not read.
pub(super) fn version_text(stat: &Stat) -> String {
    let mut text = String::with_capacity(48);
    push_version(&mut text, stat);
    text
}

/// Whether `a` and `b` are the same version as a record names it (its
/// size and modification time): a value computed from the file as `a`
/// describes it may be recorded for it as `b` describes it now.
pub(super) fn same_version(a: &Stat, b: &Stat) -> bool {
    version_of(a) == version_of(b)
}

/// What names a version of a file in a record: its size and its
/// modification time (seconds, nanoseconds).
fn version_of(stat: &Stat) -> (u64, i64, u32) {
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    (
        size,
        stat.st_mtime,
        super::file_info::nanos(stat.st_mtime_nsec),
    )
}

/// Appends [`version_text`] to `text`.
fn push_version(text: &mut String, stat: &Stat) {
    let (size, seconds, nanos) = version_of(stat);
    let mut digits = itoa::Buffer::new();
    text.push_str(digits.format(size));
    text.push(' ');
    text.push_str(digits.format(seconds));
    text.push('.');
    text.push_str(digits.format(nanos));
}

/// Writes record `attribute` of `file` as it is now (`stat`):
/// `"<size> <mtime> <value>"`, which [`recorded_value`] reads back only
/// while the file is that version. Best effort, as `checksum::record_as`.
pub(super) fn write_record(file: &File, stat: &Stat, attribute: &str, value: &str) {
    let mut text = String::with_capacity(48 + value.len());
    push_version(&mut text, stat);
    text.push(' ');
    text.push_str(value);
    let _ = rustix::fs::fsetxattr(file, attribute, text.as_bytes(), XattrFlags::empty());
}

/// The value of record `attribute` of `file` if it matches its current
/// size and modification time.
pub(super) fn recorded_value(file: &File, stat: &Stat, attribute: &str) -> Option<String> {
    // A size, a time and a SHA-256's base64 with its name: under 128.
    recorded_in(&mut [0u8; 128], file, stat, attribute).map(str::to_owned)
}

/// As [`recorded_value`], read into `buf` (a long record's: a multipart
/// object's part sizes or checksums), the value borrowed from it.
pub(super) fn recorded_in<'a>(
    buf: &'a mut [u8],
    file: &File,
    stat: &Stat,
    attribute: &str,
) -> Option<&'a str> {
    let len = rustix::fs::fgetxattr(file, attribute, &mut *buf).ok()?;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    let (prefix, value) = text.rsplit_once(' ')?;
    (prefix == version_text(stat)).then_some(value)
}

#[cfg(test)]
mod tests {
    /// A version's text is what `format!` wrote before it was written by
    /// hand, for a file whose time has nanoseconds and for one whose time
    /// has none.
    #[test]
    fn a_version_reads_as_size_seconds_and_nanoseconds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"some bytes").unwrap();
        for mtime in [None, Some(0), Some(1_795_720_416)] {
            if let Some(seconds) = mtime {
                let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(time)
                    .unwrap();
            }
            let stat = rustix::fs::stat(&path).unwrap();
            let expected = format!("{} {}.{}", stat.st_size, stat.st_mtime, stat.st_mtime_nsec);
            assert_eq!(super::version_text(&stat), expected);
        }
    }
}
