//! A request line's argument tokens, each one's grammar once (names and
//! folders, decimal numbers, CRC-32Cs, `mtime=`, upload ids, `AUTH` tokens),
//! and the CRC trailers that follow a PUT's body, read and written.

use std::io::Write;

use super::{MAX_TOKEN, ProtocolError, Recovery};
use crate::access::Secret;
use crate::name::{Name, Prefix};

pub(super) fn name_arg(token: &[u8]) -> Result<Name, ProtocolError> {
    Name::decode(token).map_err(|e| ProtocolError::bad_name(e, 0))
}

/// A `DIR` folder: a valid name (no trailing `/`), as the prefix its
/// entries start with; none is the root.
pub(super) fn folder_arg(token: Option<&[u8]>) -> Result<Prefix, ProtocolError> {
    let Some(token) = token else {
        return Prefix::decode(b"").map_err(|e| ProtocolError::bad_name(e, 0));
    };
    Ok(Prefix::of_folder(&name_arg(token)?))
}

/// An upload session id: 16 lowercase hex digits. A malformed one is a
/// bad argument in a well-formed line (400, the connection continues).
pub(super) fn session_arg(token: &[u8]) -> Result<String, ProtocolError> {
    if is_upload_id(token) {
        Ok(String::from_utf8_lossy(token).into_owned())
    } else {
        Err(ProtocolError {
            code: 400,
            message: "bad upload id".into(),
            recovery: Recovery::Skip { line: 0, body: 0 },
        })
    }
}

/// An `AUTH` token: 1 to [`MAX_TOKEN`] visible ASCII characters. A
/// malformed one is a bad argument in a well-formed line (400, the
/// connection continues).
pub(super) fn token_arg(token: &[u8]) -> Result<Secret, ProtocolError> {
    if token.len() > MAX_TOKEN || !token.iter().all(u8::is_ascii_graphic) {
        return Err(ProtocolError {
            code: 400,
            message: "malformed token".into(),
            recovery: Recovery::Skip { line: 0, body: 0 },
        });
    }
    Ok(Secret::new(String::from_utf8_lossy(token).into_owned()))
}

/// Whether `token` has the shape of an upload id: 16 lower-case hex
/// digits (the ids the server hands out in `OK <upload-id> <received>`).
pub fn is_upload_id(token: &[u8]) -> bool {
    token.len() == 16
        && token
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A decimal u64: digits only, no sign, no overflow.
pub(super) fn number(token: &[u8]) -> Result<u64, ProtocolError> {
    let bad = || ProtocolError::fatal(400, "expected a decimal number");
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(token)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)
}

/// A PUT's CRC token: eight hex digits, or `-` (`None`: the CRC follows
/// the body).
pub(super) fn crc_or_dash(token: &[u8]) -> Result<Option<u32>, ProtocolError> {
    match token {
        b"-" => Ok(None),
        token => checksum(token).map(Some),
    }
}

/// Length of the trailer after the body of `PUT <name> <size> -`:
/// `CRC <8 hex digits>\n`.
pub const CRC_TRAILER: u64 = 13;

/// The CRC-32C in a [`CRC_TRAILER`]: exactly `CRC `, eight hex digits
/// (either case) and LF.
pub fn parse_crc_trailer(bytes: &[u8]) -> Option<u32> {
    let hex = bytes.strip_prefix(b"CRC ")?.strip_suffix(b"\n")?;
    checksum(hex).ok()
}

/// Appends the [`CRC_TRAILER`] for `crc`: `CRC <8 lower-case hex digits>\n`.
pub fn encode_crc_trailer(crc: u32, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = writeln!(out, "CRC {crc:08x}");
}

/// The CRC-32C in the trailer section of a streamed PUT's chunked body
/// (`PUT <name> * -`): exactly one line `CRC <8 hex digits>` and the
/// empty line that ends the section, each ending in CRLF.
pub fn parse_stream_trailer(section: &[u8]) -> Option<u32> {
    let line = section.strip_suffix(b"\r\n\r\n")?;
    let hex = line.strip_prefix(b"CRC ")?;
    checksum(hex).ok()
}

/// Appends the trailer section [`parse_stream_trailer`] reads:
/// `CRC <8 lower-case hex digits>\r\n\r\n` (after the last chunk, `0\r\n`).
pub fn encode_stream_trailer(crc: u32, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "CRC {crc:08x}\r\n\r\n");
}

/// What an `mtime=<secs>` token starts with.
pub(super) const MTIME: &[u8] = b"mtime=";

/// `mtime=` and a decimal number of Unix seconds that fits an i64.
pub(super) fn mtime_arg(token: &[u8]) -> Result<i64, ProtocolError> {
    let bad = || ProtocolError::fatal(400, "expected mtime=<unix seconds>");
    let digits = token.strip_prefix(MTIME).ok_or_else(bad)?;
    i64::try_from(number(digits).map_err(|_| bad())?).map_err(|_| bad())
}

/// Exactly eight hex digits (either case).
pub(super) fn checksum(token: &[u8]) -> Result<u32, ProtocolError> {
    let bad = || ProtocolError::fatal(400, "expected a CRC-32C of 8 hex digits");
    if token.len() != 8 || !token.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    std::str::from_utf8(token)
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(bad)
}
