//! Transfers that survive dropped connections: they reconnect (as a
//! [`RetryPolicy`] allows) and carry on from where the bytes stand instead of
//! starting over.
//!
//! - [`upload`] uses an upload session: it asks the server how much it
//!   holds, sends the rest in `APPEND` chunks, and commits. After a lost
//!   `COMMIT` answer it checks with `STAT` whether the commit happened, so
//!   no session is left behind and nothing is sent twice; so it does when
//!   the session vanishes under it (the same file committed by another
//!   client, through another node say), and begins a new one only if the
//!   stored file is not this one.
//! - [`download`] appends to what the caller already has with ranged
//!   `GET`s, and verifies the whole result against the server's CRC-32C.
//!   Each answer's first line states the file's size, CRC-32C and time:
//!   one that differs from what an earlier answer (or, given by the
//!   caller, an earlier run) said is [`ClientError::Changed`], seen before
//!   a byte of the other file is taken, so the caller starts over at once.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::retry::{Backoff, RetryPolicy};
use super::{Client, ClientError, CrcWriter, Download, Endpoint, Result};

/// A resumable upload's fixed facts.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The server.
    pub endpoint: &'a Endpoint,
    /// Remote name.
    pub name: &'a str,
    /// Size of the whole file.
    pub size: u64,
    /// CRC-32C of the whole file.
    pub crc: u32,
    /// Bytes per `APPEND`: what a dropped connection can cost at most.
    pub chunk: u64,
    /// Modification time to give the file (Unix seconds), sent on `COMMIT`.
    pub mtime: Option<i64>,
}

/// Uploads `source` (positioned anywhere; it is read from the offsets the
/// server asks for) through an upload session; returns the stored size and
/// CRC-32C.
///
/// # Errors
/// Refusals (`ERR 422` if the staged bytes did not match: the session is
/// then gone), [`ClientError::Local`] if `source` fails, and connection
/// failures once the policy gives up.
pub fn upload(
    upload: Upload<'_>,
    source: &mut (impl Read + Seek),
    policy: RetryPolicy,
) -> Result<(u64, u32)> {
    let mut uploader = Uploader {
        upload,
        backoff: Backoff::new(policy),
        commit_sent: false,
    };
    loop {
        match uploader.attempt(source) {
            Ok(stored) => return Ok(stored),
            Err(err) => uploader.backoff.after(err)?,
        }
    }
}

/// What one APPEND or COMMIT came to.
enum Moved {
    /// The session holds this many bytes now.
    To(u64),
    /// `409`: it is not where this client thought, or busy.
    NotAsExpected,
    /// `404`: the session is gone.
    SessionGone,
}

struct Uploader<'a> {
    upload: Upload<'a>,
    backoff: Backoff,
    /// A COMMIT went out; if its answer was lost, it may have happened.
    commit_sent: bool,
}

impl Uploader<'_> {
    /// One connection's worth of the upload.
    fn attempt(&mut self, source: &mut (impl Read + Seek)) -> Result<(u64, u32)> {
        let Upload {
            endpoint,
            name,
            size,
            crc,
            chunk,
            mtime,
        } = self.upload;
        let mut client = self.backoff.connect(endpoint)?;
        if self.commit_sent && self.already_stored(&mut client)? {
            return Ok((size, crc));
        }
        let mut session = client.upload(name, size, crc)?;
        let mut at = session.received;
        loop {
            let moved = if at == size {
                self.commit_sent = true;
                match client.commit(&session.id, size, crc, mtime) {
                    Err(ClientError::Remote { code: 409, .. }) => Moved::NotAsExpected,
                    Err(ClientError::Remote { code: 404, .. }) => Moved::SessionGone,
                    other => return other,
                }
            } else {
                source
                    .seek(SeekFrom::Start(at))
                    .map_err(ClientError::Local)?;
                let len = chunk.max(1).min(size - at);
                match client.append(&session.id, at, &mut source.by_ref().take(len), len) {
                    Ok(received) => Moved::To(received),
                    Err(ClientError::Remote { code: 409, .. }) => Moved::NotAsExpected,
                    Err(ClientError::Remote { code: 404, .. }) => Moved::SessionGone,
                    Err(err) => return Err(err),
                }
            };
            at = match moved {
                Moved::To(received) => {
                    self.backoff.progressed();
                    received
                }
                // Not where we thought (an answer was lost), or another
                // connection's APPEND is still open on the server (ours,
                // cut off, until the server notices; or another client's).
                Moved::NotAsExpected => match self.resync(&mut client, at)? {
                    Some(now) => now,
                    None => return Ok((size, crc)),
                },
                // Committed by someone else, or aborted or expired. Done if
                // the file is this one.
                Moved::SessionGone => {
                    if self.already_stored(&mut client)? {
                        return Ok((size, crc));
                    }
                    let gone =
                        io::Error::new(io::ErrorKind::NotFound, "the upload session vanished");
                    self.backoff.after(ClientError::Io(gone))?;
                    session = client.upload(name, size, crc)?;
                    session.received
                }
            };
        }
    }

    /// Whether the server holds this very file under the name already.
    fn already_stored(&self, client: &mut Client) -> Result<bool> {
        let Upload {
            name, size, crc, ..
        } = self.upload;
        match client.stat(name) {
            Ok(stat) => Ok(stat.size == size && stat.crc == Some(crc)),
            Err(ClientError::Remote { code: 404, .. }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Asks the session where it stands after a `409`. If it has not moved,
    /// the server is still busy with an earlier connection's APPEND: wait as
    /// after a failure before trying again. If it holds fewer bytes than
    /// before, the session this client was in is gone (another client
    /// committed it, say) and the `UPLOAD` began a new one: `None` if the
    /// stored file is this one (that new, empty session aborted: nobody
    /// else has it).
    fn resync(&mut self, client: &mut Client, at: u64) -> Result<Option<u64>> {
        let Upload {
            name, size, crc, ..
        } = self.upload;
        let session = client.upload(name, size, crc)?;
        let now = session.received;
        if now < at && self.already_stored(client)? {
            // Best effort: an empty session expires by itself anyway.
            let _ = client.abort(&session.id);
            return Ok(None);
        }
        if now == at {
            let busy = io::Error::new(
                io::ErrorKind::WouldBlock,
                "the server is still receiving an earlier APPEND to this upload",
            );
            self.backoff.after(ClientError::Io(busy))?;
        }
        Ok(Some(now))
    }
}

/// Downloads `name` from offset `have` to its end into `out`, reconnecting
/// as the policy allows, and verifies the whole file: `crc_so_far` is the
/// CRC-32C of the `have` bytes the caller already holds. Returns the whole
/// file's size and CRC-32C as the server reported them (no CRC-32C, and
/// nothing verified, if no answer stated one: the server had not read a
/// file placed by other means yet).
///
/// Bytes reach `out` as they arrive, so after a failure `out` holds a
/// longer prefix to resume from. `on_head` hears each answer's line before
/// its bytes (to size a progress bar, say). With nothing held and a policy
/// of no retries, this is a plain verified download.
///
/// # Errors
/// Refusals (`ERR 416` if `have` is past the end of the file),
/// [`ClientError::Local`] if `out` fails, [`ClientError::Checksum`] if the
/// whole does not match, [`ClientError::Changed`] if the file is not the
/// one `began` describes or changed on the server between two attempts,
/// and connection failures once the policy gives up.
pub fn download(
    endpoint: &Endpoint,
    name: &str,
    out: &mut dyn Write,
    (have, crc_so_far): (u64, u32),
    began: Option<FileVersion>,
    policy: RetryPolicy,
    on_head: &mut dyn FnMut(&Download),
) -> Result<Download> {
    let mut backoff = Backoff::new(policy);
    let mut out = CrcWriter::new(out, crc_so_far);
    // The file as the answers so far (or the run that began) described it.
    let mut version = began;
    loop {
        let before = out.written();
        let result = download_attempt(
            &mut backoff,
            endpoint,
            name,
            have,
            &mut out,
            &mut version,
            on_head,
        );
        if out.written() > before {
            backoff.progressed();
        }
        match result {
            Ok(download) => return Ok(download),
            Err(err) => backoff.after(err)?,
        }
    }
}

/// What the answers of a download have said about the file: later
/// answers must agree, or the pieces would be of different versions. A
/// caller that keeps a partial download between runs keeps this beside it
/// ([`FileVersion::to_line`]) and passes it to the next run's [`download`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileVersion {
    /// Size of the whole file.
    pub total: u64,
    /// Its CRC-32C, once an answer stated one (a server says `-` until it
    /// has read a file placed by other means).
    pub crc: Option<u32>,
    /// Its modification time, Unix seconds.
    pub mtime: Option<i64>,
}

impl FileVersion {
    /// The file as answer `head` describes it.
    pub fn from(head: &Download) -> FileVersion {
        FileVersion {
            total: head.total,
            crc: head.crc,
            mtime: head.mtime,
        }
    }

    /// One line: `<size> <crc32c hex or -> <mtime or ->`.
    pub fn to_line(&self) -> String {
        let crc = self.crc.map_or("-".to_owned(), |crc| format!("{crc:08x}"));
        let mtime = self.mtime.map_or("-".to_owned(), |mtime| mtime.to_string());
        format!("{} {crc} {mtime}\n", self.total)
    }

    /// Reads [`FileVersion::to_line`]'s line back; `None` if it is not one.
    pub fn parse(line: &str) -> Option<FileVersion> {
        let mut fields = line.split_whitespace();
        let total = fields.next()?.parse().ok()?;
        let crc = match fields.next()? {
            "-" => None,
            hex => Some(u32::from_str_radix(hex, 16).ok()?),
        };
        let mtime = match fields.next()? {
            "-" => None,
            secs => Some(secs.parse().ok()?),
        };
        fields
            .next()
            .is_none()
            .then_some(FileVersion { total, crc, mtime })
    }

    /// Whether `head` describes the same file, as far as both say; learns
    /// the CRC-32C or time if `head` is the first to state it.
    fn agrees(&mut self, head: &Download) -> bool {
        fn differ<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
            a.zip(b).is_some_and(|(a, b)| a != b)
        }
        if head.total != self.total || differ(self.crc, head.crc) || differ(self.mtime, head.mtime)
        {
            return false;
        }
        self.crc = self.crc.or(head.crc);
        self.mtime = self.mtime.or(head.mtime);
        true
    }
}

fn download_attempt(
    backoff: &mut Backoff,
    endpoint: &Endpoint,
    name: &str,
    have: u64,
    out: &mut CrcWriter<&mut dyn Write>,
    version: &mut Option<FileVersion>,
    on_head: &mut dyn FnMut(&Download),
) -> Result<Download> {
    let offset = have + out.written();
    let (mut requests, mut replies) = backoff.connect(endpoint)?.split();
    requests.get(name, offset, None)?;
    requests.flush()?;
    let head = replies.get_head()?;
    let known = version.get_or_insert(FileVersion::from(&head));
    if !known.agrees(&head) {
        // Not a byte of the other file is read: the connection goes.
        return Err(ClientError::Changed);
    }
    // Stated by this answer or an earlier one: either covers the whole.
    let crc = known.crc;
    on_head(&head);
    replies.body(head.len, out)?;
    out.verify(crc)?;
    Ok(Download {
        len: offset + head.len,
        total: head.total,
        crc,
        mtime: head.mtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(crc: Option<u32>, mtime: Option<i64>) -> Download {
        Download {
            len: 1,
            total: 9,
            crc,
            mtime,
        }
    }

    #[test]
    fn answers_agree_as_far_as_both_say_and_a_crc_stated_later_is_kept() {
        let mut known = FileVersion::from(&head(None, Some(5)));
        assert!(known.agrees(&head(None, Some(5))));
        assert!(known.agrees(&head(Some(7), Some(5))));
        assert_eq!(known.crc, Some(7));
        assert!(
            known.agrees(&head(None, None)),
            "nothing said, nothing differs"
        );
        assert!(!known.agrees(&head(Some(8), Some(5))), "another CRC");
        assert!(!known.agrees(&head(Some(7), Some(6))), "another time");
        assert!(!known.agrees(&Download {
            total: 10,
            ..head(Some(7), Some(5))
        }));
    }

    #[test]
    fn a_version_is_kept_as_a_line_and_read_back() {
        for version in [
            FileVersion::from(&head(Some(0xab), Some(-5))),
            FileVersion::from(&head(None, None)),
        ] {
            assert_eq!(FileVersion::parse(&version.to_line()), Some(version));
        }
        assert_eq!(
            FileVersion::from(&head(Some(0xab), Some(5))).to_line(),
            "9 000000ab 5\n"
        );
        for bad in ["", "9", "9 - ", "x - -", "9 zz -", "9 - - more"] {
            assert_eq!(FileVersion::parse(bad), None, "{bad:?}");
        }
    }
}
