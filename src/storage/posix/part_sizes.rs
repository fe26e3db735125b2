//! The sizes of the parts an object was uploaded in (S3's multipart
//! upload), recorded with the file it became, as its checksums are
//! (`checksum.rs`): the extended attribute `user.ferry.parts`,
//!
//! ```text
//! <size> <mtime seconds>.<nanoseconds> <bytes>*<count>[,<bytes>*<count>...]
//! ```
//!
//! runs of equal sizes in part order (a multipart upload's parts are
//! mostly of one size: 10,000 of them make a few bytes). A file changed
//! since no longer matches its record, which is then not read. Best
//! effort: where the record does not fit (over 4 KiB: thousands of
//! parts of different sizes) or attributes are not supported, it is not
//! kept, and the object's parts cannot be asked for one by one.
//!
//! Beside it, where the upload had a checksum (S3's
//! `x-amz-checksum-algorithm`), each part's, in `user.ferry.part-checksums`
//! (`<size> <mtime> <algorithm>:<base64>,<base64>...`, in part order),
//! for a part's GET and GetObjectAttributes; best effort as the sizes
//! (some 80 SHA-256 or 300 CRC-32 parts fit).

use std::fs::File;

use rustix::fs::Stat;

use super::version_record::recorded_in;

const ATTRIBUTE: &str = "user.ferry.parts";
const CHECKSUMS_ATTRIBUTE: &str = "user.ferry.part-checksums";
/// The most parts an object is made of (S3's limit): a record that says
/// more is not one ferry wrote.
const MAX_PARTS: u64 = 10_000;
/// The longest record read.
const MAX_RECORD: usize = 4096;

/// Records `sizes` with `file` as it is now (`stat`).
pub(super) fn record_as(file: &File, stat: &Stat, sizes: &[u64]) {
    let runs = runs(sizes);
    // The version's text is under 64 bytes.
    if runs.len() + 64 <= MAX_RECORD {
        super::version_record::write_record(file, stat, ATTRIBUTE, &runs);
    }
}

/// The part sizes recorded with `file`, if the record matches it as it
/// is now (`stat`).
pub(super) fn recorded(file: &File, stat: &Stat) -> Option<Vec<u64>> {
    parse(recorded_in(
        &mut vec![0u8; MAX_RECORD],
        file,
        stat,
        ATTRIBUTE,
    )?)
}

/// Records the parts' `checksums` (each `<algorithm>:<base64>`, all of
/// one algorithm) with `file` as it is now (`stat`).
pub(super) fn record_checksums_as(file: &File, stat: &Stat, checksums: &[String]) {
    let Some((algorithm, _)) = checksums.first().and_then(|c| c.split_once(':')) else {
        return;
    };
    let mut text = format!("{algorithm}:");
    for (at, checksum) in checksums.iter().enumerate() {
        match checksum.split_once(':') {
            Some((named, base64)) if named == algorithm => {
                if at > 0 {
                    text.push(',');
                }
                text.push_str(base64);
            }
            _ => return,
        }
    }
    if text.len() + 64 <= MAX_RECORD {
        super::version_record::write_record(file, stat, CHECKSUMS_ATTRIBUTE, &text);
    }
}

/// The parts' checksums recorded with `file` (each `<algorithm>:<base64>`),
/// if the record matches it as it is now (`stat`).
pub(super) fn recorded_checksums(file: &File, stat: &Stat) -> Option<Vec<String>> {
    let mut buf = vec![0u8; MAX_RECORD];
    let list = recorded_in(&mut buf, file, stat, CHECKSUMS_ATTRIBUTE)?;
    let (algorithm, values) = list.split_once(':')?;
    Some(
        values
            .split(',')
            .map(|base64| format!("{algorithm}:{base64}"))
            .collect(),
    )
}

/// `sizes` as runs of equal sizes.
fn runs(sizes: &[u64]) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &size in sizes {
        match runs.last_mut() {
            Some((last, count)) if *last == size => *count += 1,
            _ => runs.push((size, 1)),
        }
    }
    let runs: Vec<String> = runs.iter().map(|(s, n)| format!("{s}*{n}")).collect();
    runs.join(",")
}

/// The sizes that `runs` stands for; `None` for anything else.
fn parse(runs: &str) -> Option<Vec<u64>> {
    let mut sizes = Vec::new();
    for run in runs.split(',') {
        let (size, count) = run.split_once('*')?;
        let (size, count): (u64, u64) = (size.parse().ok()?, count.parse().ok()?);
        if count == 0 || sizes.len() as u64 + count > MAX_PARTS {
            return None;
        }
        sizes.extend(std::iter::repeat_n(size, count as usize));
    }
    Some(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_as_runs() {
        let sizes = [5, 5, 5, 1];
        assert_eq!(runs(&sizes), "5*3,1*1");
        assert_eq!(parse("5*3,1*1").as_deref(), Some(&sizes[..]));
        assert_eq!(parse(&runs(&[7; 10_000])).map(|s| s.len()), Some(10_000));
        for bad in ["", "5", "5*0", "x*1", "1*10001", "1*9999,1*2"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
