//! The request grammar written: [`RequestLine::encode`] spells a request
//! line the one canonical way, and [`Request::encode`] a parsed request the
//! same way, so `parse_request(encode(r)) == r` for every request.
//!
//! ```text
//! one space between tokens; names percent-encoded as little as the grammar
//! allows (space, "%" and control characters); CRC-32Cs as 8 lower-case hex
//! digits; GET's offset only when it is not 0 or a length follows; LF
//! ```

use std::io::{self, Write};

use super::Request;
use super::args::MTIME;
use crate::access::Secret;
use crate::name::encode;

/// A request as a client writes it: [`Request`]'s fields, borrowed, with
/// names as plain text. A client does not judge names: it sends what it is
/// given, percent-encoded, and reports the server's refusal, so the names
/// here need not be valid [`crate::name::Name`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLine<'a> {
    /// `PUT <name> <size>[ <crc32c>|" -"][ mtime=<secs>]`; with
    /// `crc_follows`, `-` is written whatever `crc` holds.
    Put {
        /// Target name.
        name: &'a str,
        /// Exact body length.
        size: u64,
        /// CRC-32C of the body, if the line carries it.
        crc: Option<u32>,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
        /// The CRC-32C follows the body.
        crc_follows: bool,
    },
    /// `PUT <name> * -[ mtime=<secs>]`: a chunked body.
    PutStream {
        /// Target name.
        name: &'a str,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// `GET <name>[ <offset>[ <length>]]`.
    Get {
        /// File to read.
        name: &'a str,
        /// First byte wanted.
        offset: u64,
        /// Most bytes wanted; `None` for "to the end".
        length: Option<u64>,
    },
    /// `STAT <name>`.
    Stat {
        /// File to describe.
        name: &'a str,
    },
    /// `LIST[ <prefix>]`.
    List {
        /// Prefix to match; empty lists everything.
        prefix: &'a str,
    },
    /// `DIR[ <folder>]`.
    Dir {
        /// The folder's name, without a trailing `/`; empty for the root.
        folder: &'a str,
    },
    /// `DEL <name>`.
    Del {
        /// File to remove.
        name: &'a str,
    },
    /// `MOVE <from> <to>`.
    Move {
        /// File to rename.
        from: &'a str,
        /// Its new name.
        to: &'a str,
    },
    /// `ECHO <size>`.
    Echo {
        /// Body length.
        size: u64,
    },
    /// `UPLOAD <name> <size> <crc32c>`.
    Upload {
        /// Target name.
        name: &'a str,
        /// Full size of the file.
        size: u64,
        /// Its CRC-32C.
        crc: u32,
    },
    /// `APPEND <id> <offset> <len>`.
    Append {
        /// Session id.
        id: &'a str,
        /// Where the bytes go.
        offset: u64,
        /// Body length.
        len: u64,
    },
    /// `COMMIT <id>[ mtime=<secs>]`.
    Commit {
        /// Session id.
        id: &'a str,
        /// Modification time to give the file, Unix seconds.
        mtime: Option<i64>,
    },
    /// `ABORT <id>`.
    Abort {
        /// Session id.
        id: &'a str,
    },
    /// `SESSIONS`.
    Sessions,
    /// `AUTH <token>`.
    Auth {
        /// The token (a [`Secret`], so that no `{:?}` shows it).
        token: &'a Secret,
    },
    /// `QUIT`.
    Quit,
}

impl RequestLine<'_> {
    /// Appends the line, newline included, to `out`, spelled canonically
    /// (see the module docs).
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = self.write_tokens(out);
        out.push(b'\n');
    }

    fn write_tokens(&self, out: &mut Vec<u8>) -> io::Result<()> {
        match *self {
            RequestLine::Put {
                name,
                size,
                crc,
                mtime,
                crc_follows,
            } => {
                write!(out, "PUT {} {size}", encode(name))?;
                match crc {
                    _ if crc_follows => write!(out, " -")?,
                    Some(crc) => write!(out, " {crc:08x}")?,
                    None => {}
                }
                write_mtime(out, mtime)
            }
            RequestLine::PutStream { name, mtime } => {
                write!(out, "PUT {} * -", encode(name))?;
                write_mtime(out, mtime)
            }
            RequestLine::Get {
                name,
                offset,
                length,
            } => {
                write!(out, "GET {}", encode(name))?;
                match length {
                    Some(length) => write!(out, " {offset} {length}"),
                    None if offset > 0 => write!(out, " {offset}"),
                    None => Ok(()),
                }
            }
            RequestLine::Stat { name } => write!(out, "STAT {}", encode(name)),
            RequestLine::List { prefix: "" } => write!(out, "LIST"),
            RequestLine::List { prefix } => write!(out, "LIST {}", encode(prefix)),
            RequestLine::Dir { folder: "" } => write!(out, "DIR"),
            RequestLine::Dir { folder } => write!(out, "DIR {}", encode(folder)),
            RequestLine::Del { name } => write!(out, "DEL {}", encode(name)),
            RequestLine::Move { from, to } => write!(out, "MOVE {} {}", encode(from), encode(to)),
            RequestLine::Echo { size } => write!(out, "ECHO {size}"),
            RequestLine::Upload { name, size, crc } => {
                write!(out, "UPLOAD {} {size} {crc:08x}", encode(name))
            }
            RequestLine::Append { id, offset, len } => write!(out, "APPEND {id} {offset} {len}"),
            RequestLine::Commit { id, mtime } => {
                write!(out, "COMMIT {id}")?;
                write_mtime(out, mtime)
            }
            RequestLine::Abort { id } => write!(out, "ABORT {id}"),
            RequestLine::Sessions => write!(out, "SESSIONS"),
            RequestLine::Auth { token } => write!(out, "AUTH {}", token.expose()),
            RequestLine::Quit => write!(out, "QUIT"),
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

impl Request {
    /// The line that asks for this request, borrowed from it.
    pub fn line(&self) -> RequestLine<'_> {
        match self {
            Request::Put {
                name,
                size,
                crc,
                mtime,
                crc_follows,
            } => RequestLine::Put {
                name: name.as_str(),
                size: *size,
                crc: *crc,
                mtime: *mtime,
                crc_follows: *crc_follows,
            },
            Request::PutStream { name, mtime } => RequestLine::PutStream {
                name: name.as_str(),
                mtime: *mtime,
            },
            Request::Get {
                name,
                offset,
                length,
            } => RequestLine::Get {
                name: name.as_str(),
                offset: *offset,
                length: *length,
            },
            Request::Stat { name } => RequestLine::Stat {
                name: name.as_str(),
            },
            Request::List { prefix } => RequestLine::List {
                prefix: prefix.as_str(),
            },
            Request::Dir { folder } => RequestLine::Dir {
                folder: folder.as_str().strip_suffix('/').unwrap_or_default(),
            },
            Request::Del { name } => RequestLine::Del {
                name: name.as_str(),
            },
            Request::Move { from, to } => RequestLine::Move {
                from: from.as_str(),
                to: to.as_str(),
            },
            Request::Echo { size } => RequestLine::Echo { size: *size },
            Request::Upload { name, size, crc } => RequestLine::Upload {
                name: name.as_str(),
                size: *size,
                crc: *crc,
            },
            Request::Append { id, offset, len } => RequestLine::Append {
                id,
                offset: *offset,
                len: *len,
            },
            Request::Commit { id, mtime } => RequestLine::Commit { id, mtime: *mtime },
            Request::Abort { id } => RequestLine::Abort { id },
            Request::Sessions => RequestLine::Sessions,
            Request::Auth { token } => RequestLine::Auth { token },
            Request::Quit => RequestLine::Quit,
        }
    }

    /// Appends the request's line, newline included, to `out`: the
    /// canonical spelling, which [`super::parse_request`] reads back as
    /// this same request.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.line().encode(out);
    }
}
