//! What every signature version reads alike (SigV4 and SigV2, in a
//! header or presigned): the request's date in its HTTP-date forms, how
//! far it may be from the server's clock, and query values
//! percent-decoded as their signers signed them.

use super::super::response::parse_http_date;
use crate::name::percent_decode;

/// The most a request's time may be from the server's, in seconds.
pub const MAX_SKEW: i64 = 15 * 60;

/// An HTTP date as Unix seconds: IMF-fixdate, or its `+0000` or `-0000`
/// form (the S3 documentation's examples, s3cmd; Python's `formatdate`,
/// which botocore's `Date` is).
pub(super) fn parse_date(text: &str) -> Option<i64> {
    match text
        .strip_suffix("+0000")
        .or_else(|| text.strip_suffix("-0000"))
    {
        Some(stem) => parse_http_date(&format!("{}GMT", stem)),
        None => parse_http_date(text),
    }
}

/// `text` percent-decoded (lossily: a value that is not UTF-8 matches
/// nothing a client signed).
pub(super) fn decoded(text: &str) -> String {
    match percent_decode(text.as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => text.to_owned(),
    }
}
