//! The two halves of a client connection: [`Requests`] writes request lines
//! and bodies (here), [`Replies`] reads and checks the answers
//! (`replies.rs`). A [`super::Client`]
//! uses them in lock step; a pipeline ([`super::pipeline`]) drives them from
//! two threads, so many requests can be on the wire before the first answer.
//!
//! ```text
//! PUT <name> <size> <crc32c>\n<body>   -> OK <size> <crc32c>
//! PUT <name> <size> -[ mtime=<secs>]\n<body>CRC <crc32c>\n
//!                                      -> OK <size> <crc32c>
//! PUT <name> * -\n<hex n>\r\n<n bytes>\r\n...0\r\nCRC <crc32c>\r\n\r\n
//!                                      -> OK <size> <crc32c>
//! GET <name>[ <offset>[ <length>]]\n   -> OK <n> <total>[ <crc32c>[ <mtime>]]\n<n bytes>
//! STAT <name>\n                        -> OK <size> <mtime>[ <crc32c>]
//! LIST[ <prefix>]\n                    -> OK <n>\n<listing>
//! DEL <name>\n | ABORT <id>\n | QUIT\n -> OK
//! UPLOAD <name> <size> <crc32c>\n      -> OK <id> <received>
//! APPEND <id> <offset> <n>\n<n bytes>  -> OK <received>
//! COMMIT <id>[ mtime=<secs>]\n         -> OK <size> <crc32c>
//! ```
//!
//! Fields a reply has beyond the ones read here are ignored, as PROTOCOL.md
//! asks of clients.

use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};
use std::sync::Arc;

use log::debug;

use super::error::{ClientError, Result};
use super::rate::{self, CHUNK, RateLimit};
use super::replies::Replies;
use super::stream::{Halves, WriteHalf};
use crate::access::Secret;
use crate::protocol::request::Written;
use crate::protocol::{LinkTerms, RequestLine, encode_crc_trailer, encode_stream_trailer};

/// `request` as the log shows it: without a token or a password.
fn logged(request: RequestLine<'_>) -> String {
    let hidden = |terms: LinkTerms<Written<'_>>| LinkTerms {
        password: None,
        ..terms
    };
    let (shown, left_out) = match request {
        RequestLine::Auth { .. } => return "AUTH (token)".to_owned(),
        RequestLine::Share { name, terms } if terms.password.is_some() => (
            RequestLine::Share {
                name,
                terms: hidden(terms),
            },
            " password=(left out)",
        ),
        RequestLine::ShareFolder { folder, terms } if terms.password.is_some() => (
            RequestLine::ShareFolder {
                folder,
                terms: hidden(terms),
            },
            " password=(left out)",
        ),
        request => (request, ""),
    };
    let mut line = Vec::new();
    shown.encode(&mut line);
    format!("{}{left_out}", String::from_utf8_lossy(&line).trim_end())
}

/// Request lines gather here until a flush, so a pipeline of small
/// requests leaves in few packets; larger writes go straight through.
const WRITE_BUFFER: usize = 64 * 1024;

/// The sending half of a connection.
#[derive(Debug)]
pub struct Requests {
    out: BufWriter<WriteHalf>,
    /// The server's id for this connection, for log lines.
    conn: u64,
    /// `--limit-rate`, shared with the command's other connections.
    limit: Option<Arc<RateLimit>>,
}

/// Wraps a connection's halves.
pub(crate) fn halves(halves: Halves) -> (Requests, Replies) {
    (
        Requests {
            out: BufWriter::with_capacity(WRITE_BUFFER, halves.write),
            conn: 0,
            limit: None,
        },
        Replies::new(BufReader::with_capacity(CHUNK, halves.read)),
    )
}

impl Requests {
    pub(crate) fn set_conn(&mut self, conn: u64) {
        self.conn = conn;
    }

    /// Sends bodies no faster than `limit` allows.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<RateLimit>>) {
        self.limit = limit;
    }

    /// `PUT`: the line, then `size` bytes from `body`, whose CRC-32C is `crc`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails; [`ClientError::Local`] if
    /// `body` fails or ends early (the connection is then out of step: the
    /// server still waits for the rest of the body).
    pub fn put(&mut self, name: &str, body: &mut dyn Read, size: u64, crc: u32) -> Result<()> {
        self.line(RequestLine::Put {
            name,
            size,
            crc: Some(crc),
            mtime: None,
            crc_follows: false,
        })?;
        self.body(body, size).map(drop)
    }

    /// `PUT` with the checksum after the body (PROTOCOL.md §6.1): the line,
    /// `size` bytes from `body`, then `CRC <crc32c>\n` of what was sent.
    /// The file is read once, and its first byte leaves at once, however
    /// large it is. With `mtime`, the server gives the file that time.
    /// Returns the CRC-32C sent.
    ///
    /// # Errors
    /// As [`Requests::put`].
    pub fn put_trailing(
        &mut self,
        name: &str,
        body: &mut dyn Read,
        size: u64,
        mtime: Option<i64>,
    ) -> Result<u32> {
        self.line(RequestLine::Put {
            name,
            size,
            crc: None,
            mtime,
            crc_follows: true,
        })?;
        let crc = self.body(body, size)?;
        let mut trailer = Vec::with_capacity(16);
        encode_crc_trailer(crc, &mut trailer);
        self.out.write_all(&trailer)?;
        Ok(crc)
    }

    /// `PUT` of a body of unknown length (PROTOCOL.md §6.1.2): what `body`
    /// yields until its end, in chunks, then the CRC-32C in the trailer.
    /// Returns the size and CRC-32C sent.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails; [`ClientError::Local`]
    /// if `body` fails (the server then waits for the rest: close).
    pub fn put_chunked(&mut self, name: &str, body: &mut dyn Read) -> Result<(u64, u32)> {
        self.line(RequestLine::PutStream { name, mtime: None })?;
        let mut buf = vec![0; rate::quantum(self.limit.as_deref())];
        let (mut size, mut crc) = (0u64, 0);
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(ClientError::Local(err)),
            };
            if let Some(limit) = &self.limit {
                limit.take(n);
            }
            self.out.write_all(format!("{n:x}\r\n").as_bytes())?;
            self.out.write_all(&buf[..n])?;
            self.out.write_all(b"\r\n")?;
            crc = crate::formats::castagnoli::append(crc, &buf[..n]);
            size += n as u64;
        }
        let mut last = b"0\r\n".to_vec();
        encode_stream_trailer(crc, &mut last);
        self.out.write_all(&last)?;
        Ok((size, crc))
    }

    /// `GET`, the whole file or a range.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn get(&mut self, name: &str, offset: u64, length: Option<u64>) -> Result<()> {
        self.line(RequestLine::Get {
            name,
            offset,
            length,
        })
    }

    /// `STAT`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn stat(&mut self, name: &str) -> Result<()> {
        self.line(RequestLine::Stat { name })
    }

    /// `LIST`; an empty prefix lists everything.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn list(&mut self, prefix: &str) -> Result<()> {
        self.line(RequestLine::List { prefix })
    }

    /// `DIR`: one level of a folder; an empty name is the root.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn dir(&mut self, folder: &str) -> Result<()> {
        self.line(RequestLine::Dir { folder })
    }

    /// `DF`; an empty folder is the root.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn df(&mut self, folder: &str) -> Result<()> {
        self.line(RequestLine::Df { folder })
    }

    /// `MOVE`: a server-side rename of one file.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.line(RequestLine::Move { from, to })
    }

    /// `DEL`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.line(RequestLine::Del { name })
    }

    /// `DEL <folder>/`: the folder with all it holds.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn delete_folder(&mut self, folder: &str) -> Result<()> {
        self.line(RequestLine::DelFolder { folder })
    }

    /// `ECHO` with its body.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn echo(&mut self, data: &[u8]) -> Result<()> {
        self.line(RequestLine::Echo {
            size: data.len() as u64,
        })?;
        self.out.write_all(data)?;
        Ok(())
    }

    /// `UPLOAD`: start or find the session for this name, size and CRC-32C.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn upload(&mut self, name: &str, size: u64, crc: u32) -> Result<()> {
        self.line(RequestLine::Upload { name, size, crc })
    }

    /// `APPEND`: `len` bytes from `body`, to go at `offset` of session `id`.
    ///
    /// # Errors
    /// As [`Requests::put`].
    pub fn append(&mut self, id: &str, offset: u64, body: &mut dyn Read, len: u64) -> Result<()> {
        self.line(RequestLine::Append { id, offset, len })?;
        self.body(body, len).map(drop)
    }

    /// `COMMIT`; with `mtime`, the server gives the file that time.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn commit(&mut self, id: &str, mtime: Option<i64>) -> Result<()> {
        self.line(RequestLine::Commit { id, mtime })
    }

    /// `ABORT`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn abort(&mut self, id: &str) -> Result<()> {
        self.line(RequestLine::Abort { id })
    }

    /// `SESSIONS`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn sessions(&mut self) -> Result<()> {
        self.line(RequestLine::Sessions)
    }

    /// `SHARE`: a link to `target` (a file's name, a folder's ending in
    /// `/`, `/` the root) with `terms`; the password is left out of the
    /// log.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn share<'a>(&mut self, target: &'a str, terms: LinkTerms<Written<'a>>) -> Result<()> {
        match target.strip_suffix('/') {
            Some(folder) => self.line(RequestLine::ShareFolder { folder, terms }),
            None => self.line(RequestLine::Share {
                name: target,
                terms,
            }),
        }
    }

    /// `SHARES`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn shares(&mut self) -> Result<()> {
        self.line(RequestLine::Shares)
    }

    /// `UNSHARE`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn unshare(&mut self, id: &str) -> Result<()> {
        self.line(RequestLine::Unshare { id })
    }

    /// `AUTH`; the token is left out of the log.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn auth(&mut self, token: &str) -> Result<()> {
        self.line(RequestLine::Auth {
            token: &Secret::new(token.to_owned()),
        })
    }

    /// `QUIT`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn quit(&mut self) -> Result<()> {
        self.line(RequestLine::Quit)
    }

    /// Sends whatever is buffered.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }

    /// Writes `request`'s line; logs it, but for an `AUTH` token and a
    /// link's password.
    fn line(&mut self, request: RequestLine<'_>) -> Result<()> {
        let mut line = Vec::with_capacity(64);
        request.encode(&mut line);
        debug!(target: "ferry::client", "#{} > {}", self.conn, logged(request));
        self.out.write_all(&line)?;
        Ok(())
    }

    /// Copies exactly `size` bytes of `body` to the connection; returns
    /// their CRC-32C (computed on the way: cheap next to the copy).
    fn body(&mut self, body: &mut dyn Read, size: u64) -> Result<u32> {
        let mut crc = 0;
        let quantum = rate::quantum(self.limit.as_deref());
        let mut buf = vec![0; quantum.min(usize::try_from(size).unwrap_or(quantum))];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match body.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(ClientError::Local(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        format!("ended after {} of {size} bytes", size - left),
                    )));
                }
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(ClientError::Local(err)),
            };
            if let Some(limit) = &self.limit {
                limit.take(n);
            }
            self.out.write_all(&buf[..n])?;
            crc = crate::formats::castagnoli::append(crc, &buf[..n]);
            left -= n as u64;
        }
        Ok(crc)
    }
}
