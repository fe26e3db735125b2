//! The FERRY/1 request grammar, in both directions: [`parse_request`] reads
//! a line off a connection's buffer (the server's side), [`Request::encode`]
//! and [`RequestLine::encode`] write one (the client's, `ferry bench`'s, the
//! fuzz references'). One grammar, so what the client writes is what the
//! server reads: the round trip is a property test (`tests.rs`, and
//! `tests/protocol/properties.rs` over every spelling).
//!
//! Each verb is declared once, in [`Request`], and read and written here
//! side by side (`parse_line`, `Request::encode`). `args.rs` holds each
//! argument token's grammar (names, numbers, CRCs, `mtime=`, session ids,
//! tokens) and the CRC trailers after a body. Nothing here touches a
//! socket.
//!
//! ```text
//! one space between tokens; names percent-encoded as little as the grammar
//! allows (space, "%" and control characters); CRC-32Cs as 8 lower-case hex
//! digits; GET's offset only when it is not 0 or a length follows; LF
//! ```

use std::io::{self, Write};

use super::MAX_HEADER;
use crate::name::{Name, Prefix, encode};

mod args;
mod error;
mod links;
#[cfg(test)]
mod tests;
mod words;

pub use args::{
    CRC_TRAILER, encode_crc_trailer, encode_stream_trailer, is_upload_id, parse_crc_trailer,
    parse_stream_trailer,
};
use args::{
    MTIME, checksum, crc_or_dash, folder_arg, mtime_arg, name_arg, number, session_arg, token_arg,
};
pub use error::{ProtocolError, Recovery};
pub use links::{LINKS_BUILT, LinkTerms};
pub use words::{Parsed, Words, Written};

/// One request: as the server parsed it ([`Parsed`], the default: checked
/// names), or as a client writes it ([`RequestLine`]: borrowed plain text,
/// for a client does not judge names but sends what it is given and
/// reports the server's refusal). One enum, so a verb is declared once for
/// both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<W: Words = Parsed> {
    /// Upload `size` bytes (which follow the line) to `name`.
    Put {
        /// Target name.
        name: W::Name,
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
        name: W::Name,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// Download `name` from `offset`, at most `length` bytes.
    Get {
        /// File to read.
        name: W::Name,
        /// First byte to send.
        offset: u64,
        /// Upper bound on the bytes sent; `None` for "to the end".
        length: Option<u64>,
    },
    /// Size and modification time of `name`.
    Stat {
        /// File to describe.
        name: W::Name,
    },
    /// Every file whose name starts with `prefix`.
    List {
        /// Prefix to match; empty lists everything.
        prefix: W::Prefix,
    },
    /// The files and sub-folders directly in folder `folder` (one level).
    Dir {
        /// The folder: parsed, a prefix ending in `/`; written, its name
        /// without the `/` (empty for the root either way).
        folder: W::Prefix,
    },
    /// Remove `name`.
    Del {
        /// File to remove.
        name: W::Name,
    },
    /// Remove folder `folder` and everything in it the client may delete
    /// (`DEL <folder>/`).
    DelFolder {
        /// The folder: parsed, a prefix ending in `/`; written, its name
        /// without the `/`.
        folder: W::Prefix,
    },
    /// Rename file `from` to `to`.
    Move {
        /// File to rename.
        from: W::Name,
        /// Its new name.
        to: W::Name,
    },
    /// Send back the `size` body bytes that follow the line.
    Echo {
        /// Body length.
        size: u64,
    },
    /// Start (or find) a resumable upload of `size` bytes to `name`.
    Upload {
        /// Target name.
        name: W::Name,
        /// Full size of the file.
        size: u64,
        /// Its CRC-32C, checked on commit.
        crc: u32,
    },
    /// Stage `len` bytes (which follow the line) at `offset` of session `id`.
    Append {
        /// Session id (16 hex digits).
        id: W::Id,
        /// Where the bytes go; must be where the session stands.
        offset: u64,
        /// Body length.
        len: u64,
    },
    /// Verify and commit a complete session.
    Commit {
        /// Session id.
        id: W::Id,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// Discard a session.
    Abort {
        /// Session id.
        id: W::Id,
    },
    /// List the upload sessions the client may write.
    Sessions,
    /// Authenticate with a token.
    Auth {
        /// The token (never logged).
        token: W::Token,
    },
    /// Say goodbye and close.
    Quit,
    /// Ask whether the server can serve files now (a balancer's check).
    Health,
    /// Ask the room there is to write in folder `folder`.
    Df {
        /// The folder: parsed, a prefix ending in `/`; written, its name
        /// without the `/` (empty for the root either way).
        folder: W::Prefix,
    },
    /// Make a share link to file `name` (`SHARE <name> <mode> ...`).
    Share {
        /// The file it shares.
        name: W::Name,
        /// Its mode, expiry, download limit and password.
        terms: LinkTerms<W>,
    },
    /// Make a share link to folder `folder` (`SHARE <folder>/ ...`;
    /// `SHARE / ...`: the root).
    ShareFolder {
        /// The folder: parsed, a prefix ending in `/`; written, its name
        /// without the `/` (empty for the root either way).
        folder: W::Prefix,
        /// As [`Request::Share`]'s.
        terms: LinkTerms<W>,
    },
    /// List the client's own share links.
    Shares,
    /// Revoke one of them.
    Unshare {
        /// The link's id (22 base64url characters).
        id: W::Id,
    },
}

/// A request as a client writes it: borrowed plain text.
pub type RequestLine<'a> = Request<Written<'a>>;

impl<W: Words> Request<W> {
    /// Appends the request's line, newline included, to `out`, spelled
    /// canonically (see the module docs): what [`parse_request`] reads
    /// back as this same request.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = self.write_tokens(out);
        out.push(b'\n');
    }

    fn write_tokens(&self, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Request::Put {
                name,
                size,
                crc,
                mtime,
                crc_follows,
            } => {
                write!(out, "PUT {} {size}", encode(W::name(name)))?;
                match crc {
                    _ if *crc_follows => write!(out, " -")?,
                    Some(crc) => write!(out, " {crc:08x}")?,
                    None => {}
                }
                write_mtime(out, *mtime)
            }
            Request::PutStream { name, mtime } => {
                write!(out, "PUT {} * -", encode(W::name(name)))?;
                write_mtime(out, *mtime)
            }
            Request::Get {
                name,
                offset,
                length,
            } => {
                write!(out, "GET {}", encode(W::name(name)))?;
                match length {
                    Some(length) => write!(out, " {offset} {length}"),
                    None if *offset > 0 => write!(out, " {offset}"),
                    None => Ok(()),
                }
            }
            Request::Stat { name } => write!(out, "STAT {}", encode(W::name(name))),
            Request::List { prefix } => match W::prefix(prefix) {
                "" => write!(out, "LIST"),
                prefix => write!(out, "LIST {}", encode(prefix)),
            },
            Request::Dir { folder } => match W::folder(folder) {
                "" => write!(out, "DIR"),
                folder => write!(out, "DIR {}", encode(folder)),
            },
            Request::Del { name } => write!(out, "DEL {}", encode(W::name(name))),
            Request::DelFolder { folder } => write!(out, "DEL {}/", encode(W::folder(folder))),
            Request::Move { from, to } => {
                let (from, to) = (encode(W::name(from)), encode(W::name(to)));
                write!(out, "MOVE {from} {to}")
            }
            Request::Echo { size } => write!(out, "ECHO {size}"),
            Request::Upload { name, size, crc } => {
                write!(out, "UPLOAD {} {size} {crc:08x}", encode(W::name(name)))
            }
            Request::Append { id, offset, len } => {
                write!(out, "APPEND {} {offset} {len}", W::id(id))
            }
            Request::Commit { id, mtime } => {
                write!(out, "COMMIT {}", W::id(id))?;
                write_mtime(out, *mtime)
            }
            Request::Abort { id } => write!(out, "ABORT {}", W::id(id)),
            Request::Sessions => write!(out, "SESSIONS"),
            Request::Auth { token } => write!(out, "AUTH {}", W::token(token).expose()),
            Request::Quit => write!(out, "QUIT"),
            Request::Health => write!(out, "HEALTH"),
            Request::Df { folder } => match W::folder(folder) {
                "" => write!(out, "DF"),
                folder => write!(out, "DF {}", encode(folder)),
            },
            Request::Share { name, terms } => {
                links::write_share(out, &encode(W::name(name)), terms)
            }
            Request::ShareFolder { folder, terms } => {
                let target = format!("{}/", encode(W::folder(folder)));
                links::write_share(out, &target, terms)
            }
            Request::Shares => write!(out, "SHARES"),
            Request::Unshare { id } => write!(out, "UNSHARE {}", W::id(id)),
        }
    }
}

/// ` mtime=<secs>`, when there is a time.
fn write_mtime(out: &mut Vec<u8>, mtime: Option<i64>) -> io::Result<()> {
    if let Some(secs) = mtime {
        out.push(b' ');
        out.extend_from_slice(MTIME);
        write!(out, "{secs}")?;
    }
    Ok(())
}

/// Longest token `AUTH` accepts.
pub const MAX_TOKEN: usize = 256;

impl<W: Words> Request<W> {
    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Put { .. } | Request::PutStream { .. } => "PUT",
            Request::Get { .. } => "GET",
            Request::Stat { .. } => "STAT",
            Request::List { .. } => "LIST",
            Request::Dir { .. } => "DIR",
            Request::Move { .. } => "MOVE",
            Request::Del { .. } | Request::DelFolder { .. } => "DEL",
            Request::Echo { .. } => "ECHO",
            Request::Upload { .. } => "UPLOAD",
            Request::Append { .. } => "APPEND",
            Request::Commit { .. } => "COMMIT",
            Request::Abort { .. } => "ABORT",
            Request::Sessions => "SESSIONS",
            Request::Auth { .. } => "AUTH",
            Request::Quit => "QUIT",
            Request::Health => "HEALTH",
            Request::Df { .. } => "DF",
            Request::Share { .. } | Request::ShareFolder { .. } => "SHARE",
            Request::Shares => "SHARES",
            Request::Unshare { .. } => "UNSHARE",
        }
    }
}

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
        b"SHARE" | b"SHARES" | b"UNSHARE" => links::parse_link_line(verb, &args),
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
            // A trailing `/` asks for the folder with what it holds; `DEL /`
            // names the root (which the serve layer refuses).
            match args[0].strip_suffix(b"/") {
                Some(folder) => Ok(Request::DelFolder {
                    folder: folder_arg(Some(folder).filter(|f| !f.is_empty()))?,
                }),
                None => Ok(Request::Del {
                    name: name_arg(args[0])?,
                }),
            }
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
        b"HEALTH" => {
            arity(&args, 0, 0)?;
            Ok(Request::Health)
        }
        b"DF" => {
            arity(&args, 0, 1)?;
            Ok(Request::Df {
                folder: folder_arg(args.first().copied())?,
            })
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
