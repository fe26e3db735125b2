//! Resumable uploads, one request at a time: a session is found or started
//! with [`Client::upload`], filled with [`Client::append`] from wherever it
//! stands, and made visible with [`Client::commit`] (atomically, exactly
//! like a `PUT`). Staged bytes survive dropped connections and server
//! restarts until the server's `--upload-ttl` passes unused.
//!
//! ```text
//! UPLOAD <name> <size> <crc32c>   -> OK <id> <received>
//! APPEND <id> <offset> <n> + body -> OK <received>    (offset = received)
//! COMMIT <id>                     -> OK <size> <crc32c>
//! ABORT <id>                      -> OK
//! SESSIONS                        -> OK <n> + n bytes, one session a line
//! ```
//!
//! [`super::resume`] drives these across reconnections.

use std::io::Read;

use super::{Client, ClientError, Replies, Requests, Result, UploadSession};

/// An upload session as `SESSIONS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id, for [`Client::abort`].
    pub id: String,
    /// Where the file goes on commit.
    pub name: String,
    /// Bytes staged so far.
    pub received: u64,
    /// The file's declared size.
    pub size: u64,
    /// Seconds since it began.
    pub age: u64,
    /// Seconds until the server removes it, unless it is used before.
    pub expires_in: u64,
}

/// One line of a `SESSIONS` answer:
/// `<id> <received> <size> <age> <expires-in> <encoded-name>`.
///
/// # Errors
/// A line of another shape.
pub(super) fn parse_session_line(line: &str) -> Result<Session> {
    let bad = || ClientError::protocol(format!("bad sessions line {line:?}"));
    let mut parts = line.splitn(6, ' ');
    let id = parts.next().filter(|id| !id.is_empty()).ok_or_else(bad)?;
    let mut number =
        || -> Result<u64> { parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad) };
    let (received, size, age, expires_in) = (number()?, number()?, number()?, number()?);
    let name = parts
        .next()
        .and_then(|encoded| crate::name::percent_decode(encoded.as_bytes()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    Ok(Session {
        id: id.to_owned(),
        name,
        received,
        size,
        age,
        expires_in,
    })
}

impl Client {
    /// Starts the upload of `size` bytes with CRC-32C `crc` to `name`, or
    /// finds the session already staging exactly that (the server derives
    /// the id from all three), and says how many bytes it holds.
    ///
    /// # Errors
    /// `ERR 403` read-only, `413` over the size limit, `409` if `name`
    /// cannot be a file, `400`/`403` bad name; connection failures.
    pub fn upload(&mut self, name: &str, size: u64, crc: u32) -> Result<UploadSession> {
        self.exchange(|requests| requests.upload(name, size, crc), Replies::upload)
    }

    /// Stages `len` bytes from `body` at `offset` of session `id`, which
    /// must be where the session stands. Returns the bytes it now holds.
    ///
    /// # Errors
    /// `ERR 409` if `offset` is not where the session stands, or another
    /// connection's `APPEND` to it is still open on the server (ask
    /// [`Client::upload`] where it stands, wait a moment, try again);
    /// `400` past the declared size; `404` unknown session; connection
    /// failures; [`super::ClientError::Local`] if `body` fails.
    pub fn append(&mut self, id: &str, offset: u64, body: &mut dyn Read, len: u64) -> Result<u64> {
        self.exchange(
            |requests| requests.append(id, offset, body, len),
            Replies::append,
        )
    }

    /// Verifies a complete session (size and CRC-32C) and commits it like a
    /// `PUT`. Returns the size and CRC-32C stored, which must be
    /// `size` and `crc`, the session's. With `mtime`, the file gets that
    /// modification time.
    ///
    /// # Errors
    /// `ERR 409` if bytes are missing, `422` if the staged bytes do not
    /// match the CRC-32C (the server then discards the session), `404`
    /// unknown session; connection failures.
    pub fn commit(
        &mut self,
        id: &str,
        size: u64,
        crc: u32,
        mtime: Option<i64>,
    ) -> Result<(u64, u32)> {
        self.exchange(
            |requests| requests.commit(id, mtime),
            |replies| replies.put(size, crc),
        )
    }

    /// Discards a session and its staged bytes.
    ///
    /// # Errors
    /// `ERR 404` unknown session, `409` while an `APPEND` to it is open.
    pub fn abort(&mut self, id: &str) -> Result<()> {
        self.exchange(|requests| requests.abort(id), Replies::done)
    }

    /// The upload sessions this client's token may write, most recently
    /// used first; at most 1024 (abort some and ask again for the rest).
    ///
    /// # Errors
    /// `ERR 401` without a token where the server requires one;
    /// connection failures; a malformed answer.
    pub fn sessions(&mut self) -> Result<Vec<Session>> {
        self.exchange(Requests::sessions, Replies::sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lines_keep_spaces_in_names() {
        let session = parse_session_line("0123456789abcdef 4 10 61 86339 in/my%20file").unwrap();
        assert_eq!(session.name, "in/my file");
        assert_eq!((session.received, session.size), (4, 10));
        assert_eq!((session.age, session.expires_in), (61, 86_339));
        assert!(parse_session_line("0123456789abcdef 4 10 61 in").is_err());
    }
}
