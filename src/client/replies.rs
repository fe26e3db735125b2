//! The receiving half of a client connection ([`Replies`]): reads each
//! answer line, checks it against what was asked (the reply grammar is
//! `crate::protocol::reply`), and reads bodies, listings and greetings.
//! Its sending twin is [`super::wire::Requests`]; the exchanges both halves
//! follow are drawn in `wire.rs`'s header.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use log::debug;

use super::error::{ClientError, Result};
use super::rate::{self, RateLimit};
use super::stream::ReadHalf;
use super::{DirEntry, Download, RemoteFile, Room, Stat, UploadSession};
use crate::protocol::{MAX_HEADER, Reply, parse_reply};

/// The receiving half of a connection.
#[derive(Debug)]
pub struct Replies {
    input: BufReader<ReadHalf>,
    conn: u64,
    limit: Option<Arc<RateLimit>>,
}

impl Replies {
    /// The half that reads from `input`.
    pub(super) fn new(input: BufReader<ReadHalf>) -> Replies {
        Replies {
            input,
            conn: 0,
            limit: None,
        }
    }
}

impl Replies {
    pub(crate) fn set_conn(&mut self, conn: u64) {
        self.conn = conn;
    }

    /// How long a read may wait from now on.
    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> Result<()> {
        Ok(self.input.get_ref().set_read_timeout(Some(timeout))?)
    }

    /// Receives bodies no faster than `limit` allows.
    pub(crate) fn set_limit(&mut self, limit: Option<Arc<RateLimit>>) {
        self.limit = limit;
    }

    /// Waits up to `after` for the server's first bytes (or the end of
    /// the stream) on a fresh connection; false if it stayed silent. The
    /// read `timeout` is in force afterwards either way.
    ///
    /// # Errors
    /// The connection fails (an end of stream is left for
    /// [`Replies::greeting`] to explain).
    pub(crate) fn speaks_within(&mut self, after: Duration, timeout: Duration) -> Result<bool> {
        self.input.get_ref().set_read_timeout(Some(after))?;
        let waited = self.input.fill_buf().map(drop);
        self.input.get_ref().set_read_timeout(Some(timeout))?;
        match waited {
            // What an expired receive timeout looks like, by platform.
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(false)
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => Ok(true),
            Err(err) => Err(err.into()),
            Ok(()) => Ok(true),
        }
    }

    /// The greeting: returns the connection's id, and whether the server
    /// has access control on (the greeting's `auth`).
    ///
    /// # Errors
    /// `ERR 503 busy`, or not a FERRY/1 server.
    pub fn greeting(&mut self) -> Result<(u64, bool)> {
        let line = self.read_line().map_err(|err| match err {
            // A TLS port waits for a handshake, then gives up on us.
            ClientError::Io(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                ClientError::closed(
                    "connection closed before the server's greeting \
                     (if it serves TLS, connect with --tls or --ca)",
                )
            }
            other => other,
        })?;
        let greeting = parse_greeting(&line);
        // Learned before the line is logged, so that the greeting's log
        // line names the connection like every later one.
        if let Ok((id, _)) = greeting {
            self.conn = id;
        }
        debug!(target: "ferry::client", "#{} < {line}", self.conn);
        greeting
    }

    /// The answer to `PUT` or `COMMIT` of `size` bytes with CRC-32C `crc`.
    ///
    /// # Errors
    /// `ERR` replies; [`ClientError::Protocol`] if the server stored
    /// something other than what was sent.
    pub fn put(&mut self, size: u64, crc: u32) -> Result<(u64, u32)> {
        let fields = self.ok_line()?;
        let stored_size: u64 = field(&fields, 0)?;
        let stored_crc = optional_crc(&fields, 1)?
            .ok_or_else(|| ClientError::protocol("reply without a checksum"))?;
        if stored_size != size || stored_crc != crc {
            return Err(ClientError::protocol(format!(
                "server stored {stored_size} bytes with CRC-32C {stored_crc:08x}, \
                 not the {size} bytes with {crc:08x} that were sent"
            )));
        }
        Ok((stored_size, stored_crc))
    }

    /// The answer to `GET`: its body goes to `out`.
    ///
    /// # Errors
    /// `ERR` replies; [`ClientError::Io`] if the body is cut short;
    /// [`ClientError::Local`] if `out` fails (the rest of the body is then
    /// left unread, so the connection is out of step).
    pub fn get(&mut self, out: &mut dyn Write) -> Result<Download> {
        let download = self.get_head()?;
        self.body(download.len, out)?;
        Ok(download)
    }

    /// The line of a `GET` answer; its body of `len` bytes follows, to be
    /// read with [`Replies::body`]. For callers that need to know the file
    /// before its bytes arrive, or even if they do not all arrive.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn get_head(&mut self) -> Result<Download> {
        let fields = self.ok_line()?;
        Ok(Download {
            len: field(&fields, 0)?,
            total: field(&fields, 1)?,
            crc: crc_unless_unknown(&fields, 2)?,
            // Only a convenience (a download keeps it): never a reason to
            // refuse a file whose bytes and checksum are right.
            mtime: fields.get(3).and_then(|f| f.parse().ok()),
        })
    }

    /// The answer to `STAT`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn stat(&mut self) -> Result<Stat> {
        let fields = self.ok_line()?;
        Ok(Stat {
            size: field(&fields, 0)?,
            mtime: field(&fields, 1)?,
            crc: optional_crc(&fields, 2)?,
        })
    }

    /// The answer to `DF`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn room(&mut self) -> Result<Room> {
        let fields = self.ok_line()?;
        Ok(Room {
            free: field(&fields, 0)?,
            used: field(&fields, 1)?,
            files_free: field(&fields, 2)?,
            files_used: field(&fields, 3)?,
        })
    }

    /// The answer to `LIST`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed listing.
    pub fn list(&mut self) -> Result<Vec<RemoteFile>> {
        self.listing(parse_list_line)
    }

    /// The answer to `DIR`: folders first, then files, as the server sent
    /// them.
    ///
    /// # Errors
    /// `ERR` replies (`404` for a missing folder) or a malformed listing.
    pub fn dir(&mut self) -> Result<Vec<DirEntry>> {
        self.listing(parse_dir_line)
    }

    /// `OK <n>` and a body of `n` bytes, one entry a line.
    fn listing<T>(&mut self, parse: fn(&str) -> Result<T>) -> Result<Vec<T>> {
        let fields = self.ok_line()?;
        let mut body = Vec::new();
        self.body(field(&fields, 0)?, &mut body)?;
        let text =
            String::from_utf8(body).map_err(|_| ClientError::protocol("listing is not UTF-8"))?;
        text.lines().map(parse).collect()
    }

    /// The answer to `SESSIONS`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed listing.
    pub fn sessions(&mut self) -> Result<Vec<super::sessions::Session>> {
        self.listing(super::sessions::parse_session_line)
    }

    /// The answer to `SHARE`: the link made.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn link(&mut self) -> Result<super::links::MadeLink> {
        super::links::made(&self.ok_line()?)
    }

    /// The answer to `SHARES`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed listing.
    pub fn links(&mut self) -> Result<Vec<super::links::ListedLink>> {
        self.listing(super::links::parse_link_line)
    }

    /// The answer to `AUTH`: the token's name.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn auth(&mut self) -> Result<String> {
        let fields = self.ok_line()?;
        fields
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::protocol("AUTH answered without a name"))
    }

    /// A bare `OK` (`DEL`, `ABORT`, `QUIT`).
    ///
    /// # Errors
    /// `ERR` replies.
    pub fn done(&mut self) -> Result<()> {
        self.ok_line().map(drop)
    }

    /// The answer to `DEL <folder>/`: a bare `OK` (all went), or `OK <n>`
    /// and `n` bytes, a line for each member that stayed, and how many
    /// more stayed unnamed.
    ///
    /// # Errors
    /// `ERR` replies or a malformed report.
    pub fn removal(&mut self) -> Result<(Vec<super::Stayed>, u64)> {
        let fields = self.ok_line()?;
        if fields.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut body = Vec::new();
        self.body(field(&fields, 0)?, &mut body)?;
        let text =
            String::from_utf8(body).map_err(|_| ClientError::protocol("report is not UTF-8"))?;
        let mut more = 0;
        let mut stayed = Vec::new();
        for line in text.lines() {
            match line.strip_prefix("more ") {
                Some(count) => {
                    more = count.parse().map_err(|_| bad_report(line))?;
                }
                None => stayed.push(parse_stayed_line(line)?),
            }
        }
        Ok((stayed, more))
    }

    /// The answer to `ECHO`.
    ///
    /// # Errors
    /// `ERR` replies or a body cut short.
    pub fn echo(&mut self) -> Result<Vec<u8>> {
        let fields = self.ok_line()?;
        let mut out = Vec::new();
        self.body(field(&fields, 0)?, &mut out)?;
        Ok(out)
    }

    /// The answer to `UPLOAD`.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn upload(&mut self) -> Result<UploadSession> {
        let fields = self.ok_line()?;
        let id = fields
            .first()
            .filter(|id| crate::protocol::is_upload_id(id.as_bytes()))
            .ok_or_else(|| ClientError::protocol("UPLOAD reply without an upload id"))?;
        Ok(UploadSession {
            id: id.clone(),
            received: field(&fields, 1)?,
        })
    }

    /// The answer to `APPEND`: how many bytes the session now holds.
    ///
    /// # Errors
    /// `ERR` replies or a malformed line.
    pub fn append(&mut self) -> Result<u64> {
        field(&self.ok_line()?, 0)
    }

    /// Closes both directions of the connection, so that a thread blocked
    /// writing to it wakes up with an error.
    pub fn shut_down(&self) {
        self.input.get_ref().shut_down();
    }

    /// Reads one reply line; `OK` gives its fields, `ERR` an error.
    fn ok_line(&mut self) -> Result<Vec<String>> {
        let line = self.read_line()?;
        self.answer(&line)
    }

    /// Reads one reply line, without its `\n`.
    fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        (&mut self.input)
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut line)?;
        if line.pop() != Some(b'\n') {
            return Err(ClientError::closed("connection closed by the server"));
        }
        String::from_utf8(line).map_err(|_| ClientError::protocol("reply is not UTF-8"))
    }

    /// Logs a reply line; `OK` gives its fields, `ERR` an error.
    fn answer(&self, line: &str) -> Result<Vec<String>> {
        debug!(target: "ferry::client", "#{} < {line}", self.conn);
        match parse_reply(line) {
            Some(Reply::Ok(fields)) => Ok(fields),
            Some(Reply::Err { code, message }) => Err(ClientError::Remote { code, message }),
            None => Err(ClientError::protocol(format!("unexpected reply {line:?}"))),
        }
    }

    /// Copies a `len`-byte body to `out`, telling the connection's failures
    /// from `out`'s: whatever arrived before a failure has been written.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails or closes early,
    /// [`ClientError::Local`] if `out` fails.
    pub fn body(&mut self, len: u64, out: &mut dyn Write) -> Result<()> {
        let mut left = len;
        while left > 0 {
            let available = match self.input.fill_buf() {
                Ok([]) => {
                    return Err(ClientError::closed(format!(
                        "connection closed after {} of {len} bytes",
                        len - left
                    )));
                }
                Ok(available) => available,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err.into()),
            };
            let n = available
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX))
                .min(rate::quantum(self.limit.as_deref()));
            if let Some(limit) = &self.limit {
                limit.take(n);
            }
            out.write_all(&available[..n]).map_err(ClientError::Local)?;
            self.input.consume(n);
            left -= n as u64;
        }
        Ok(())
    }
}

/// A greeting line (`OK FERRY/1 <id>[ auth]`, without its `\n`): the
/// connection's id, and whether the server has access control on. Fields
/// after those are ignored, as PROTOCOL.md §2.2 asks.
///
/// # Errors
/// An `ERR` line (`ERR 503 busy`), or not a FERRY/1 greeting.
pub(crate) fn parse_greeting(line: &str) -> Result<(u64, bool)> {
    match parse_reply(line) {
        Some(Reply::Ok(fields)) => match fields.as_slice() {
            [proto, id, rest @ ..] if proto == "FERRY/1" => {
                let id = id
                    .parse()
                    .map_err(|_| ClientError::protocol("bad client id in greeting"))?;
                Ok((id, rest.first().is_some_and(|field| field == "auth")))
            }
            _ => Err(ClientError::protocol("not a FERRY/1 server")),
        },
        Some(Reply::Err { code, message }) => Err(ClientError::Remote { code, message }),
        None => Err(ClientError::protocol("not a FERRY/1 greeting")),
    }
}

/// Field `index` of an `OK` line, parsed.
fn field<T: std::str::FromStr>(fields: &[String], index: usize) -> Result<T> {
    fields
        .get(index)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ClientError::protocol(format!("reply field {index} missing or malformed")))
}

/// An optional CRC-32C field: absent is `None` (older servers), malformed
/// an error.
fn optional_crc(fields: &[String], index: usize) -> Result<Option<u32>> {
    fields
        .get(index)
        .map(|f| match u32::from_str_radix(f, 16) {
            Ok(crc) if f.len() == 8 => Ok(crc),
            _ => Err(ClientError::protocol(format!("bad checksum field {f:?}"))),
        })
        .transpose()
}

/// A CRC-32C field that may say `-`: the server does not know the CRC
/// yet (a file placed in its root by other means), so there is nothing to
/// verify against, as with a server that sends no field.
fn crc_unless_unknown(fields: &[String], index: usize) -> Result<Option<u32>> {
    match fields.get(index).map(String::as_str) {
        Some("-") => Ok(None),
        _ => optional_crc(fields, index),
    }
}

/// One `DIR` line: `- <mtime> <name>/` for a folder (its name kept with
/// the `/`), else a file's line as in `LIST`.
fn parse_dir_line(line: &str) -> Result<DirEntry> {
    let Some(rest) = line.strip_prefix("- ") else {
        return parse_list_line(line).map(DirEntry::from);
    };
    let folder = parse_list_line(&format!("0 {rest}"))?;
    if !folder.name.ends_with('/') {
        return Err(ClientError::protocol(format!(
            "bad listing line {line:?}: a folder without a trailing /"
        )));
    }
    Ok(DirEntry {
        name: folder.name,
        size: None,
        mtime: folder.mtime,
    })
}

fn bad_report(line: &str) -> ClientError {
    ClientError::protocol(format!("bad report line {line:?}"))
}

/// One line of a folder's `DEL` report: `<code> <encoded-name> <reason>`.
fn parse_stayed_line(line: &str) -> Result<super::Stayed> {
    let bad = || bad_report(line);
    let mut parts = line.splitn(3, ' ');
    let code = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let encoded = parts.next().ok_or_else(bad)?;
    let name = crate::name::percent_decode(encoded.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let reason = parts.next().unwrap_or_default().to_owned();
    Ok(super::Stayed { name, code, reason })
}

fn parse_list_line(line: &str) -> Result<RemoteFile> {
    let bad = || ClientError::protocol(format!("bad listing line {line:?}"));
    let mut parts = line.splitn(3, ' ');
    let size = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let mtime = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let encoded = parts.next().ok_or_else(bad)?;
    let name = crate::name::percent_decode(encoded.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    Ok(RemoteFile { name, size, mtime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_lines_are_folders_or_files() {
        let folder = parse_dir_line("- 1767225600 notes/my%20old/").unwrap();
        assert_eq!(folder.name, "notes/my old/");
        assert!(folder.is_folder());
        assert_eq!(folder.mtime, 1_767_225_600);
        let file = parse_dir_line("6 1767225600 notes/hello.txt").unwrap();
        assert_eq!(
            (file.name.as_str(), file.size),
            ("notes/hello.txt", Some(6))
        );
        // A folder's name ends in `/`; nothing else may pass for one.
        assert!(parse_dir_line("- 1767225600 notes/old").is_err());
        assert!(parse_dir_line("- notes/").is_err());
        assert!(parse_dir_line("x 1 a").is_err());
    }

    #[test]
    fn a_get_answer_may_say_its_crc_is_not_known_yet() {
        let fields = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let crc = |line| crc_unless_unknown(&fields(line), 2);
        assert_eq!(crc("1 9 00c0ffee 1700000000").unwrap(), Some(0xc0ffee));
        assert_eq!(crc("1 9 - 1700000000").unwrap(), None);
        assert_eq!(crc("1 9").unwrap(), None);
        assert!(crc("1 9 -- 1700000000").is_err());
        assert!(crc("1 9 c0ffee 1700000000").is_err());
    }
}
