//! The FERRY/1 request grammar, in both directions: [`parse_request`] reads
//! a line off a connection's buffer (the server's side), [`Request::encode`]
//! and [`RequestLine::encode`] write one (the client's, `ferry bench`'s, the
//! fuzz references'). One grammar, so what the client writes is what the
//! server reads: the round trip is a property test (`tests.rs`, and
//! `tests/parser_properties.rs` over every spelling).
//!
//! `args.rs` holds each argument token's grammar (names, numbers, CRCs,
//! `mtime=`, session ids, tokens) and the CRC trailers after a body;
//! `encode.rs` the writer. Nothing here touches a socket.

use std::fmt;

use super::MAX_HEADER;
use super::codec::error_code;
use crate::access::Secret;
use crate::name::{Name, NameError, Prefix};

mod args;
mod encode;
#[cfg(test)]
mod tests;

pub use args::{
    CRC_TRAILER, encode_crc_trailer, encode_stream_trailer, is_upload_id, parse_crc_trailer,
    parse_stream_trailer,
};
use args::{
    MTIME, checksum, crc_or_dash, folder_arg, mtime_arg, name_arg, number, session_arg, token_arg,
};
pub use encode::RequestLine;

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
