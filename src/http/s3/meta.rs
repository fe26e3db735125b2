//! S3's user metadata (`x-amz-meta-*`) as far as ferry keeps it: the
//! modification time. `x-amz-meta-mtime` (rclone's, in Unix seconds with
//! a fraction) sets the file's time on PutObject and on a CopyObject
//! with `REPLACE`, and GetObject and HeadObject answer the file's time in
//! it, whoever set it (a file's time is every protocol's). Other user
//! metadata is not kept yet (docs/s3.md "Left for the next slices"), but
//! S3's limit on it holds: 2 KiB of names and values, else
//! `MetadataTooLarge`.

/// The field prefix of user metadata.
pub const PREFIX: &str = "x-amz-meta-";
/// The field rclone keeps a file's time in.
pub const MTIME: &str = "x-amz-meta-mtime";
/// S3's limit on a request's user metadata: names (without the prefix)
/// and values, in bytes.
pub const MAX_BYTES: usize = 2048;

/// The whole seconds of an `x-amz-meta-mtime` value (`<seconds>[.<fraction>]`);
/// `None` for anything else, which then sets nothing (it is the client's
/// own note, as on S3, where nothing reads it).
pub fn mtime_of(value: &str) -> Option<i64> {
    let (seconds, fraction) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    // A negative time with a fraction lies below its whole seconds.
    Some(match seconds < 0 && fraction.bytes().any(|b| b != b'0') {
        true => seconds - 1,
        false => seconds,
    })
}

/// A file's time as `x-amz-meta-mtime` states it: seconds, and the
/// nanoseconds where there are any.
pub fn mtime_text(seconds: i64, nanos: u32) -> String {
    match nanos {
        0 => seconds.to_string(),
        nanos => format!("{seconds}.{nanos:09}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rclones_times_are_read_to_the_second() {
        assert_eq!(mtime_of("1700000000.123456789"), Some(1_700_000_000));
        assert_eq!(mtime_of("1700000000"), Some(1_700_000_000));
        assert_eq!(mtime_of(" 5.5 "), Some(5));
        assert_eq!(mtime_of("-1.5"), Some(-2));
        assert_eq!(mtime_of("yesterday"), None);
        assert_eq!(mtime_of("1.x"), None);
        assert_eq!(mtime_text(5, 0), "5");
        assert_eq!(mtime_text(5, 120), "5.000000120");
    }
}
