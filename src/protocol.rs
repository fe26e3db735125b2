//! The FERRY/1 codec: request lines in, response lines out. Sans-IO.
//!
//! Nothing here touches a socket or a file. [`parse_request`] looks at the
//! bytes a connection has buffered and says "need more", "here is a request
//! and how many bytes it used", or "this is an error, answered like so".
//! Bodies are not parsed here: a request only says how long its body is, and
//! the connection state machine streams it.
//!
//! ```text
//! request  = verb *(" " token) [CR] LF        at most 4096 bytes with the LF
//! PUT  <name> <size>[ <crc32c>|" -"][ mtime=<secs>]
//!                                             then <size> body bytes, and
//!                                             after "-": "CRC <crc32c>\n"
//! GET  <name>[ <offset>[ <length>]]
//! STAT <name> | DEL <name> | LIST[ <prefix>] | DIR[ <folder>] | ECHO <size> | QUIT
//! MOVE <from> <to>
//! AUTH <token>
//! response = "OK" *(" " field) LF | "ERR " code " " message LF
//! ```
//!
//! PROTOCOL.md is the normative description; this module implements it.

use std::fmt;
use std::io::Write;

use crate::access::Secret;
use crate::name::{Name, NameError, Prefix};

pub mod codec;

pub use codec::error_code;

/// Longest request line, newline included.
pub const MAX_HEADER: usize = 4096;

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Upload `size` bytes (which follow the line) to `name`.
    Put {
        /// Target name.
        name: Name,
        /// Exact body length.
        size: u64,
        /// CRC-32C the client computed, checked before commit.
        crc: Option<u32>,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
        /// `-` in place of the CRC: it follows the body, in a
        /// [`CRC_TRAILER`].
        crc_follows: bool,
    },
    /// Upload a body of unknown length to `name` (`PUT <name> * -`): the
    /// HTTP/1.1 chunked coding, its last chunk followed by a
    /// trailer section holding the CRC-32C ([`parse_stream_trailer`]).
    PutStream {
        /// Target name.
        name: Name,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// Download `name` from `offset`, at most `length` bytes.
    Get {
        /// File to read.
        name: Name,
        /// First byte to send.
        offset: u64,
        /// Upper bound on the bytes sent; `None` for "to the end".
        length: Option<u64>,
    },
    /// Size and modification time of `name`.
    Stat {
        /// File to describe.
        name: Name,
    },
    /// Every file whose name starts with `prefix`.
    List {
        /// Prefix to match; empty lists everything.
        prefix: Prefix,
    },
    /// The files and sub-folders directly in folder `folder` (one level).
    Dir {
        /// The folder, as a prefix ending in `/` (empty for the root).
        folder: Prefix,
    },
    /// Remove `name`.
    Del {
        /// File to remove.
        name: Name,
    },
    /// Rename file `from` to `to`.
    Move {
        /// File to rename.
        from: Name,
        /// Its new name.
        to: Name,
    },
    /// Send back the `size` body bytes that follow the line.
    Echo {
        /// Body length.
        size: u64,
    },
    /// Start (or find) a resumable upload of `size` bytes to `name`.
    Upload {
        /// Target name.
        name: Name,
        /// Full size of the file.
        size: u64,
        /// Its CRC-32C, checked on commit.
        crc: u32,
    },
    /// Stage `len` bytes (which follow the line) at `offset` of session `id`.
    Append {
        /// Session id (16 hex digits).
        id: String,
        /// Where the bytes go; must be where the session stands.
        offset: u64,
        /// Body length.
        len: u64,
    },
    /// Verify and commit a complete session.
    Commit {
        /// Session id.
        id: String,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// Discard a session.
    Abort {
        /// Session id.
        id: String,
    },
    /// List the upload sessions the client may write.
    Sessions,
    /// Authenticate with a token.
    Auth {
        /// The token (never logged).
        token: Secret,
    },
    /// Say goodbye and close.
    Quit,
}

/// Longest token `AUTH` accepts.
pub const MAX_TOKEN: usize = 256;

impl Request {
    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Put { .. } | Request::PutStream { .. } => "PUT",
            Request::Get { .. } => "GET",
            Request::Stat { .. } => "STAT",
            Request::List { .. } => "LIST",
            Request::Dir { .. } => "DIR",
            Request::Move { .. } => "MOVE",
            Request::Del { .. } => "DEL",
            Request::Echo { .. } => "ECHO",
            Request::Upload { .. } => "UPLOAD",
            Request::Append { .. } => "APPEND",
            Request::Commit { .. } => "COMMIT",
            Request::Abort { .. } => "ABORT",
            Request::Sessions => "SESSIONS",
            Request::Auth { .. } => "AUTH",
            Request::Quit => "QUIT",
        }
    }
}

/// What the connection must do after answering a [`ProtocolError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The stream is out of sync or hostile: close after the answer.
    Close,
    /// Skip the request line (`line` bytes, newline included), read and
    /// discard `body` bytes, then carry on with the next request.
    Skip {
        /// Length of the refused line.
        line: usize,
        /// Body bytes to discard after it.
        body: u64,
    },
}

/// A request that gets an `ERR` answer instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The FERRY/1 error code (400, 403, 431 ...).
    pub code: u16,
    /// Human-readable reason, sent after the code.
    pub message: String,
    /// How the connection continues.
    pub recovery: Recovery,
}

impl ProtocolError {
    fn fatal(code: u16, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code,
            message: message.into(),
            recovery: Recovery::Close,
        }
    }

    /// A bad name in a well-formed line; [`parse_request`] fills in `line`.
    fn bad_name(err: NameError, body: u64) -> ProtocolError {
        ProtocolError {
            code: error_code(err.into()),
            message: err.to_string(),
            recovery: Recovery::Skip { line: 0, body },
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for ProtocolError {}

/// Parses one request line from the front of `buf`.
///
/// Returns `Ok(None)` until a whole line is present; empty lines are skipped
/// (their bytes are counted in the next request's length). On success the
/// `usize` is the number of bytes the line used, newline included.
///
/// # Errors
/// A [`ProtocolError`] carrying the answer: `431` once `MAX_HEADER` bytes pass
/// without a newline (so a peer cannot make us buffer forever), `400` for a
/// line that cannot be parsed (both close the connection), `400`/`403` for a
/// bad name in a well-formed line (the connection continues; a PUT's body is
/// discarded first; [`Recovery::Skip`] says how long the line was).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, ProtocolError> {
    // Blank lines before a request count towards its cap, so a peer cannot
    // make us hold an endless run of them either.
    let window = &buf[..buf.len().min(MAX_HEADER)];
    let skipped = window
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    let rest = &window[skipped..];
    let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
        if window.len() >= MAX_HEADER {
            return Err(ProtocolError::fatal(431, "request line too long"));
        }
        return Ok(None);
    };
    let mut line = &rest[..newline];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let used = skipped + newline + 1;
    match parse_line(line) {
        Ok(request) => Ok(Some((request, used))),
        Err(mut err) => {
            if let Recovery::Skip { line, .. } = &mut err.recovery {
                *line = used;
            }
            Err(err)
        }
    }
}

fn parse_line(line: &[u8]) -> Result<Request, ProtocolError> {
    let mut tokens = line.split(|&b| b == b' ');
    let verb = tokens.next().unwrap_or_default();
    let args: Vec<&[u8]> = tokens.collect();
    if args.iter().any(|t| t.is_empty()) {
        return Err(ProtocolError::fatal(
            400,
            "tokens must be separated by one space",
        ));
    }
    match verb {
        b"PUT" => parse_put(&args),
        b"UPLOAD" | b"APPEND" | b"COMMIT" | b"ABORT" | b"SESSIONS" => {
            parse_session_line(verb, &args)
        }
        b"GET" => {
            arity(&args, 1, 3)?;
            let offset = args.get(1).map(|t| number(t)).transpose()?.unwrap_or(0);
            let length = args.get(2).map(|t| number(t)).transpose()?;
            Ok(Request::Get {
                name: name_arg(args[0])?,
                offset,
                length,
            })
        }
        b"STAT" => {
            arity(&args, 1, 1)?;
            Ok(Request::Stat {
                name: name_arg(args[0])?,
            })
        }
        b"DEL" => {
            arity(&args, 1, 1)?;
            Ok(Request::Del {
                name: name_arg(args[0])?,
            })
        }
        b"LIST" => {
            arity(&args, 0, 1)?;
            let prefix = Prefix::decode(args.first().copied().unwrap_or_default())
                .map_err(|e| ProtocolError::bad_name(e, 0))?;
            Ok(Request::List { prefix })
        }
        b"DIR" => {
            arity(&args, 0, 1)?;
            Ok(Request::Dir {
                folder: folder_arg(args.first().copied())?,
            })
        }
        b"MOVE" => {
            arity(&args, 2, 2)?;
            Ok(Request::Move {
                from: name_arg(args[0])?,
                to: name_arg(args[1])?,
            })
        }
        b"ECHO" => {
            arity(&args, 1, 1)?;
            Ok(Request::Echo {
                size: number(args[0])?,
            })
        }
        b"QUIT" => {
            arity(&args, 0, 0)?;
            Ok(Request::Quit)
        }
        b"AUTH" => {
            arity(&args, 1, 1)?;
            Ok(Request::Auth {
                token: token_arg(args[0])?,
            })
        }
        _ => Err(ProtocolError::fatal(400, "unknown verb")),
    }
}

/// Refuses a line with fewer than `min` or more than `max` arguments.
fn arity(args: &[&[u8]], min: usize, max: usize) -> Result<(), ProtocolError> {
    if args.len() < min || args.len() > max {
        return Err(ProtocolError::fatal(400, "wrong number of arguments"));
    }
    Ok(())
}

/// `PUT <name> <size> [crc|-] [mtime=]`, or a stream: `PUT <name> * -`.
fn parse_put(args: &[&[u8]]) -> Result<Request, ProtocolError> {
    if args.get(1) == Some(&&b"*"[..]) {
        arity(args, 3, 4)?;
        if args[2] != b"-" {
            return Err(ProtocolError::fatal(
                400,
                "a PUT of unknown length (*) takes - for its checksum",
            ));
        }
        let mtime = args.get(3).map(|t| mtime_arg(t)).transpose()?;
        // A stream has no end known before it is read: a bad name cannot
        // be skipped past, only closed on.
        let name = Name::decode(args[0]).map_err(|e| ProtocolError {
            recovery: Recovery::Close,
            ..ProtocolError::bad_name(e, 0)
        })?;
        return Ok(Request::PutStream { name, mtime });
    }
    arity(args, 2, 4)?;
    let size = number(args[1])?;
    let (crc, mtime) = match &args[2..] {
        [] => (None, None),
        [time] if time.starts_with(MTIME) => (None, Some(mtime_arg(time)?)),
        [crc] => (Some(crc_or_dash(crc)?), None),
        [crc, time] => (Some(crc_or_dash(crc)?), Some(mtime_arg(time)?)),
        _ => unreachable!("arity checked"),
    };
    let crc_follows = crc == Some(None);
    // A refused line's body is skipped with its trailer.
    let body = size.saturating_add(if crc_follows { CRC_TRAILER } else { 0 });
    let name = Name::decode(args[0]).map_err(|e| ProtocolError::bad_name(e, body))?;
    Ok(Request::Put {
        name,
        size,
        crc: crc.flatten(),
        mtime,
        crc_follows,
    })
}

/// The resumable uploads' lines: UPLOAD, APPEND, COMMIT, ABORT, SESSIONS.
fn parse_session_line(verb: &[u8], args: &[&[u8]]) -> Result<Request, ProtocolError> {
    match verb {
        b"UPLOAD" => {
            arity(args, 3, 3)?;
            let size = number(args[1])?;
            let crc = checksum(args[2])?;
            Ok(Request::Upload {
                name: name_arg(args[0])?,
                size,
                crc,
            })
        }
        b"APPEND" => {
            arity(args, 3, 3)?;
            let offset = number(args[1])?;
            let len = number(args[2])?;
            let id = session_arg(args[0]).map_err(|mut err| {
                err.recovery = Recovery::Skip { line: 0, body: len };
                err
            })?;
            Ok(Request::Append { id, offset, len })
        }
        b"COMMIT" => {
            arity(args, 1, 2)?;
            let mtime = args.get(1).map(|t| mtime_arg(t)).transpose()?;
            Ok(Request::Commit {
                id: session_arg(args[0])?,
                mtime,
            })
        }
        b"ABORT" => {
            arity(args, 1, 1)?;
            Ok(Request::Abort {
                id: session_arg(args[0])?,
            })
        }
        b"SESSIONS" => {
            arity(args, 0, 0)?;
            Ok(Request::Sessions)
        }
        _ => unreachable!("parse_line passes only session verbs"),
    }
}

fn name_arg(token: &[u8]) -> Result<Name, ProtocolError> {
    Name::decode(token).map_err(|e| ProtocolError::bad_name(e, 0))
}

/// A `DIR` folder: a valid name (no trailing `/`), as the prefix its
/// entries start with; none is the root.
fn folder_arg(token: Option<&[u8]>) -> Result<Prefix, ProtocolError> {
    let Some(token) = token else {
        return Prefix::decode(b"").map_err(|e| ProtocolError::bad_name(e, 0));
    };
    name_arg(token)?;
    let mut prefix = token.to_vec();
    prefix.push(b'/');
    Prefix::decode(&prefix).map_err(|e| ProtocolError::bad_name(e, 0))
}

/// An upload session id: 16 lowercase hex digits. A malformed one is a
/// bad argument in a well-formed line (400, the connection continues).
fn session_arg(token: &[u8]) -> Result<String, ProtocolError> {
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
fn token_arg(token: &[u8]) -> Result<Secret, ProtocolError> {
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
fn number(token: &[u8]) -> Result<u64, ProtocolError> {
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
fn crc_or_dash(token: &[u8]) -> Result<Option<u32>, ProtocolError> {
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

/// The CRC-32C in the trailer section of a streamed PUT's chunked body
/// (`PUT <name> * -`): exactly one line `CRC <8 hex digits>` and the
/// empty line that ends the section, each ending in CRLF.
pub fn parse_stream_trailer(section: &[u8]) -> Option<u32> {
    let line = section.strip_suffix(b"\r\n\r\n")?;
    let hex = line.strip_prefix(b"CRC ")?;
    checksum(hex).ok()
}

/// What an `mtime=<secs>` token starts with.
const MTIME: &[u8] = b"mtime=";

/// `mtime=` and a decimal number of Unix seconds that fits an i64.
fn mtime_arg(token: &[u8]) -> Result<i64, ProtocolError> {
    let bad = || ProtocolError::fatal(400, "expected mtime=<unix seconds>");
    let digits = token.strip_prefix(MTIME).ok_or_else(bad)?;
    i64::try_from(number(digits).map_err(|_| bad())?).map_err(|_| bad())
}

/// Exactly eight hex digits (either case).
fn checksum(token: &[u8]) -> Result<u32, ProtocolError> {
    let bad = || ProtocolError::fatal(400, "expected a CRC-32C of 8 hex digits");
    if token.len() != 8 || !token.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    std::str::from_utf8(token)
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(bad)
}

/// One response line, formatted by [`Response::write_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// `OK FERRY/1 <client-id>`, sent on accept; ` auth` follows when
    /// the server requires tokens for some requests.
    Greeting {
        /// Unique for the life of the server process.
        client_id: u64,
        /// Access control is on.
        auth: bool,
    },
    /// `OK <name>`, for AUTH.
    Authenticated {
        /// The token's name.
        name: &'a str,
    },
    /// `OK`, for DEL and QUIT.
    Ok,
    /// `OK <size> <crc32c>`, for a committed PUT.
    Stored {
        /// Bytes stored.
        size: u64,
        /// Their CRC-32C.
        crc: u32,
    },
    /// `OK <n> <total> <crc32c> <mtime>`, then `n` bytes of file; `-` in
    /// place of the CRC-32C while it is not known (a file placed in the
    /// root by other means, before its checksum has been computed).
    Body {
        /// Bytes that follow.
        len: u64,
        /// Size of the whole file.
        total: u64,
        /// CRC-32C of the whole file (not of the range sent), if known.
        crc: Option<u32>,
        /// Modification time of the file, Unix seconds.
        mtime: i64,
    },
    /// `OK <size> <mtime> <crc32c>`, for STAT.
    Stat {
        /// File size.
        size: u64,
        /// Modification time, Unix seconds.
        mtime: i64,
        /// CRC-32C of the file.
        crc: u32,
    },
    /// `OK <upload-id> <received>`, for UPLOAD.
    Session {
        /// Session id.
        id: &'a str,
        /// Bytes staged so far.
        received: u64,
    },
    /// `OK <n>`, then `n` bytes (LIST listing, ECHO body); also APPEND's
    /// `OK <received>`.
    Length {
        /// Bytes that follow.
        len: u64,
    },
    /// `ERR <code> <message>`.
    Error {
        /// Three-digit code.
        code: u16,
        /// Reason; newlines are replaced so the answer stays one line.
        message: &'a str,
    },
}

impl Response<'_> {
    /// Appends the line, newline included, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Response::Greeting {
                client_id,
                auth: false,
            } => writeln!(out, "OK FERRY/1 {client_id}"),
            Response::Greeting {
                client_id,
                auth: true,
            } => writeln!(out, "OK FERRY/1 {client_id} auth"),
            Response::Authenticated { name } => writeln!(out, "OK {name}"),
            Response::Ok => writeln!(out, "OK"),
            Response::Stored { size, crc } => writeln!(out, "OK {size} {crc:08x}"),
            Response::Body {
                len,
                total,
                crc: Some(crc),
                mtime,
            } => writeln!(out, "OK {len} {total} {crc:08x} {mtime}"),
            Response::Body {
                len,
                total,
                crc: None,
                mtime,
            } => writeln!(out, "OK {len} {total} - {mtime}"),
            Response::Stat { size, mtime, crc } => writeln!(out, "OK {size} {mtime} {crc:08x}"),
            Response::Length { len } => writeln!(out, "OK {len}"),
            Response::Session { id, received } => writeln!(out, "OK {id} {received}"),
            Response::Error { code, message } => {
                let message = message.replace(['\r', '\n'], " ");
                writeln!(out, "ERR {code} {message}")
            }
        };
    }
}

/// A response line as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK` and its fields.
    Ok(Vec<String>),
    /// `ERR`, its code and message.
    Err {
        /// Three-digit code.
        code: u16,
        /// The server's reason.
        message: String,
    },
}

/// Parses one response line (without its newline). `None` if it is neither a
/// well-formed `OK` nor `ERR` line.
pub fn parse_reply(line: &str) -> Option<Reply> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line == "OK" {
        return Some(Reply::Ok(Vec::new()));
    }
    if let Some(fields) = line.strip_prefix("OK ") {
        return Some(Reply::Ok(fields.split(' ').map(str::to_owned).collect()));
    }
    let rest = line.strip_prefix("ERR ")?;
    let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return None;
    }
    Some(Reply::Err {
        code: code.parse().ok()?,
        message: message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Option<(Request, usize)>, ProtocolError> {
        parse_request(s.as_bytes())
    }

    fn n(s: &str) -> Name {
        Name::decode(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_every_verb() {
        let cases = vec![
            (
                "PUT a/b.csv 12 0000abcd\n",
                Request::Put {
                    name: n("a/b.csv"),
                    size: 12,
                    crc: Some(0xabcd),
                    mtime: None,
                    crc_follows: false,
                },
            ),
            (
                "PUT a 1 0000abcd mtime=1767225600\n",
                Request::Put {
                    name: n("a"),
                    size: 1,
                    crc: Some(0xabcd),
                    mtime: Some(1_767_225_600),
                    crc_follows: false,
                },
            ),
            (
                "PUT a 1 - mtime=5\n",
                Request::Put {
                    name: n("a"),
                    size: 1,
                    crc: None,
                    mtime: Some(5),
                    crc_follows: true,
                },
            ),
            (
                "PUT a 1 mtime=0\n",
                Request::Put {
                    name: n("a"),
                    size: 1,
                    crc: None,
                    mtime: Some(0),
                    crc_follows: false,
                },
            ),
            (
                "PUT x 0\n",
                Request::Put {
                    name: n("x"),
                    size: 0,
                    crc: None,
                    mtime: None,
                    crc_follows: false,
                },
            ),
            (
                "GET x\n",
                Request::Get {
                    name: n("x"),
                    offset: 0,
                    length: None,
                },
            ),
            (
                "GET x 5 10\r\n",
                Request::Get {
                    name: n("x"),
                    offset: 5,
                    length: Some(10),
                },
            ),
            ("STAT a%20b\n", Request::Stat { name: n("a b") }),
            ("DEL x\n", Request::Del { name: n("x") }),
            (
                "LIST\n",
                Request::List {
                    prefix: Prefix::decode(b"").unwrap(),
                },
            ),
            (
                "LIST logs/\n",
                Request::List {
                    prefix: Prefix::decode(b"logs/").unwrap(),
                },
            ),
            (
                "DIR\n",
                Request::Dir {
                    folder: Prefix::decode(b"").unwrap(),
                },
            ),
            (
                "DIR logs/2026\n",
                Request::Dir {
                    folder: Prefix::decode(b"logs/2026/").unwrap(),
                },
            ),
            (
                "MOVE a/b c%20d\n",
                Request::Move {
                    from: n("a/b"),
                    to: n("c d"),
                },
            ),
            ("ECHO 3\n", Request::Echo { size: 3 }),
            (
                "UPLOAD big.iso 1000 0000abcd\n",
                Request::Upload {
                    name: n("big.iso"),
                    size: 1000,
                    crc: 0xabcd,
                },
            ),
            (
                "APPEND 0123456789abcdef 500 250\n",
                Request::Append {
                    id: "0123456789abcdef".into(),
                    offset: 500,
                    len: 250,
                },
            ),
            (
                "COMMIT 0123456789abcdef\n",
                Request::Commit {
                    id: "0123456789abcdef".into(),
                    mtime: None,
                },
            ),
            (
                "COMMIT 0123456789abcdef mtime=7\n",
                Request::Commit {
                    id: "0123456789abcdef".into(),
                    mtime: Some(7),
                },
            ),
            (
                "ABORT 0123456789abcdef\n",
                Request::Abort {
                    id: "0123456789abcdef".into(),
                },
            ),
            ("QUIT\n", Request::Quit),
            ("SESSIONS\n", Request::Sessions),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Ok(Some((want, line.len()))), "{line:?}");
        }
    }

    #[test]
    fn every_split_point_of_a_valid_header_waits_for_more() {
        let line = "PUT dir/file%20name.bin 1048576 deadbeef\r\n";
        for cut in 0..line.len() {
            assert_eq!(parse(&line[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(matches!(parse(line), Ok(Some((_, used))) if used == line.len()));
    }

    #[test]
    fn reports_only_the_first_of_pipelined_requests() {
        let (req, used) = parse("QUIT\nGET x\n").unwrap().unwrap();
        assert_eq!(req, Request::Quit);
        assert_eq!(used, 5);
    }

    #[test]
    fn skips_empty_lines() {
        assert_eq!(parse("\r\n\n"), Ok(None));
        assert_eq!(parse("\n\nQUIT\n"), Ok(Some((Request::Quit, 7))));
    }

    #[test]
    fn malformed_lines_close_the_connection() {
        for line in [
            "put x 1\n",
            "FETCH x\n",
            "PUT x\n",
            "PUT x -1\n",
            "PUT x 1 2 3\n",
            "PUT x 99999999999999999999999\n",
            "PUT x 1 abc\n",
            "PUT x 1 0000000g\n",
            "PUT x 1 mtime=1 0000abcd\n",
            "PUT x 1 0000abcd mtime=-1\n",
            "PUT x 1 0000abcd mtime=9223372036854775808\n",
            "PUT x 1 0000abcd 7\n",
            "COMMIT 0123456789abcdef 7\n",
            "PUT x 1 mtime=1 -\n",
            "PUT x 1 --\n",
            "UPLOAD x 1 -\n",
            "GET  x\n",
            "GET x \n",
            "GET x y\n",
            "QUIT now\n",
            "ECHO\n",
        ] {
            let err = parse(line).unwrap_err();
            assert_eq!((err.code, err.recovery), (400, Recovery::Close), "{line:?}");
        }
    }

    #[test]
    fn bad_names_keep_the_connection_and_discard_put_bodies() {
        let err = parse("PUT ../etc/passwd 7\n").unwrap_err();
        assert_eq!(
            (err.code, err.recovery),
            (400, Recovery::Skip { line: 20, body: 7 })
        );
        let err = parse("\nGET .ferry-tmp\n").unwrap_err();
        assert_eq!(
            (err.code, err.recovery),
            (403, Recovery::Skip { line: 16, body: 0 })
        );
    }

    #[test]
    fn bad_upload_ids_keep_the_connection_and_discard_append_bodies() {
        let err = parse("APPEND nothex 0 9\n").unwrap_err();
        assert_eq!(
            (err.code, err.recovery),
            (400, Recovery::Skip { line: 18, body: 9 })
        );
        let err = parse("COMMIT 0123456789ABCDEF\n").unwrap_err();
        assert_eq!(err.code, 400);
        assert!(matches!(err.recovery, Recovery::Skip { body: 0, .. }));
        assert_eq!(parse("UPLOAD x 1\n").unwrap_err().recovery, Recovery::Close);
    }

    #[test]
    fn crc_trailers_are_exact() {
        assert_eq!(parse_crc_trailer(b"CRC 0000abCD\n"), Some(0xabcd));
        for bad in [
            &b"CRC 0000abcd\r\n"[..],
            b"CRC 0000abcg\n",
            b"crc 0000abcd\n",
            b"",
        ] {
            assert_eq!(parse_crc_trailer(bad), None, "{bad:?}");
        }
        let err = parse("PUT ../x 5 -\n").unwrap_err();
        assert_eq!(err.recovery, Recovery::Skip { line: 13, body: 18 });
    }

    #[test]
    fn overlong_lines_get_431() {
        let long = vec![b'A'; MAX_HEADER];
        let err = parse_request(&long).unwrap_err();
        assert_eq!((err.code, err.recovery), (431, Recovery::Close));
        let mut just_fits = vec![b'A'; MAX_HEADER - 1];
        just_fits.push(b'\n');
        assert_eq!(parse_request(&just_fits).unwrap_err().code, 400);
        assert_eq!(parse_request(&just_fits[..MAX_HEADER - 1]), Ok(None));
    }

    #[test]
    fn formats_responses() {
        let line = |r: Response| {
            let mut out = Vec::new();
            r.write_to(&mut out);
            String::from_utf8(out).unwrap()
        };
        let greeting = |auth| Response::Greeting { client_id: 7, auth };
        assert_eq!(line(greeting(false)), "OK FERRY/1 7\n");
        assert_eq!(line(greeting(true)), "OK FERRY/1 7 auth\n");
        assert_eq!(
            line(Response::Authenticated { name: "build" }),
            "OK build\n"
        );
        assert_eq!(
            line(Response::Stored { size: 3, crc: 0xab }),
            "OK 3 000000ab\n"
        );
        let body = Response::Body {
            len: 1,
            total: 9,
            crc: Some(0xc0ffee),
            mtime: 1_700_000_000,
        };
        assert_eq!(line(body), "OK 1 9 00c0ffee 1700000000\n");
        let unknown = Response::Body {
            len: 1,
            total: 9,
            crc: None,
            mtime: 1_700_000_000,
        };
        assert_eq!(line(unknown), "OK 1 9 - 1700000000\n");
        let err = Response::Error {
            code: 404,
            message: "no\nsuch",
        };
        assert_eq!(line(err), "ERR 404 no such\n");
    }

    #[test]
    fn parses_replies() {
        assert_eq!(parse_reply("OK"), Some(Reply::Ok(vec![])));
        assert_eq!(
            parse_reply("OK 1 2"),
            Some(Reply::Ok(vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            parse_reply("ERR 404 no such file"),
            Some(Reply::Err {
                code: 404,
                message: "no such file".into()
            })
        );
        assert_eq!(parse_reply("HELLO"), None);
        assert_eq!(parse_reply("ERR x"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random bytes never panic, and an accepted request never claims
        /// more bytes than it was given or a line over the cap.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            if let Ok(Some((_, used))) = parse_request(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }

        /// Feeding a stream of valid requests in random fragments yields the
        /// same requests as feeding it whole.
        #[test]
        fn fragmentation_does_not_change_the_result(
            names in proptest::collection::vec("[a-z0-9 %ü/]{1,20}", 1..8),
            cuts in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut stream = Vec::new();
            let mut want = Vec::new();
            for (i, raw) in names.iter().enumerate() {
                let Ok(name) = Name::new(raw.clone()) else { continue };
                stream.extend_from_slice(format!("GET {} {i}\n", name.encoded()).as_bytes());
                want.push(Request::Get { name, offset: i as u64, length: None });
            }
            let mut got = Vec::new();
            let mut buffered = Vec::new();
            let mut fed = 0;
            let mut cut = cuts.iter().cycle();
            while fed < stream.len() {
                let step = (*cut.next().unwrap()).min(stream.len() - fed);
                buffered.extend_from_slice(&stream[fed..fed + step]);
                fed += step;
                while let Some((req, used)) = parse_request(&buffered).unwrap() {
                    got.push(req);
                    buffered.drain(..used);
                }
            }
            prop_assert_eq!(got, want);
        }

        /// Any UTF-8 name that validates survives encode -> parse.
        #[test]
        fn encoded_names_round_trip(raw in "\\PC{1,40}") {
            if let Ok(name) = Name::new(raw) {
                let line = format!("STAT {}\n", name.encoded());
                let parsed = parse_request(line.as_bytes()).unwrap().unwrap().0;
                prop_assert_eq!(parsed, Request::Stat { name });
            }
        }
    }
}
