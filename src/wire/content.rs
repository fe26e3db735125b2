//! The bytes of a stored file as they go out ([`Content`]): a file the
//! socket sends with `sendfile` (zero-copy), or bytes an engine holds in
//! memory. Whatever engine keeps the files hands one out; the connection
//! sends it without knowing which it is.
//!
//! What the page cache tells of a file lives here too, once: whether a
//! window of it can be read without waiting on the disk (a one-byte
//! `preadv2(RWF_NOWAIT)` probe at each end), and a read that takes only
//! cached bytes. Bytes in memory never wait.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// A stored file's bytes on their way out; see the module's header.
/// A clone is another handle on the same bytes (the same descriptor),
/// for a thread that reads them while the send goes on.
#[derive(Clone)]
pub enum Content {
    /// A file, read by offset or sent by `sendfile`.
    File(StoredFile),
    /// Bytes held in memory.
    Bytes(Arc<[u8]>),
}

/// A file a [`Content`] sends, with what its file system is like.
#[derive(Clone)]
pub struct StoredFile {
    /// Read here, or sent by the socket's `sendfile` (`socket.rs`); by
    /// offset only, as other transfers may share the descriptor.
    pub(super) file: Arc<File>,
    /// On a memory file system (tmpfs): reading never waits on a disk.
    in_memory: bool,
    /// Where every call is a round trip (FUSE, NFS): even closing waits.
    round_trips: bool,
}

impl Content {
    /// `file`, on a file system that is `in_memory` or `round_trips`.
    pub fn file(file: impl Into<Arc<File>>, (in_memory, round_trips): (bool, bool)) -> Content {
        Content::File(StoredFile {
            file: file.into(),
            in_memory,
            round_trips,
        })
    }

    /// The file itself, for the socket's `sendfile` and the engine that
    /// opened it (never for the rules above them); `None` for bytes.
    pub(crate) fn as_file(&self) -> Option<&Arc<File>> {
        match self {
            Content::File(stored) => Some(&stored.file),
            Content::Bytes(_) => None,
        }
    }

    /// Whether reading it can never wait on a disk.
    pub fn never_waits(&self) -> bool {
        match self {
            Content::File(stored) => stored.in_memory,
            Content::Bytes(_) => true,
        }
    }

    /// Whether closing it is a round trip (then the I/O pool drops it).
    pub fn closes_slowly(&self) -> bool {
        match self {
            Content::File(stored) => stored.round_trips,
            Content::Bytes(_) => false,
        }
    }

    /// Reads into `buf` from `offset`: how many bytes (0 at the end).
    ///
    /// # Errors
    /// The read failed.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Content::File(stored) => stored.file.read_at(buf, offset),
            Content::Bytes(bytes) => {
                let piece = window(bytes, offset, buf.len());
                buf[..piece.len()].copy_from_slice(piece);
                Ok(piece.len())
            }
        }
    }

    /// Fills `buf` from `offset`.
    ///
    /// # Errors
    /// The read failed, or the bytes end first.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Content::File(stored) => stored.file.read_exact_at(buf, offset),
            Content::Bytes(_) => match self.read_at(buf, offset)? == buf.len() {
                true => Ok(()),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            },
        }
    }

    /// Fills `buf` from `offset` if the bytes are all in the page cache:
    /// `Ok(false)` if reading them would wait for the disk (or the file
    /// system cannot say), so the I/O pool should read them in first.
    ///
    /// # Errors
    /// The read failed.
    pub fn read_if_cached(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        match self {
            Content::File(stored) => read_if_cached(&stored.file, buf, offset),
            Content::Bytes(_) => self.read_exact_at(buf, offset).map(|()| true),
        }
    }

    /// Whether the `len` bytes from `offset` look cached: their first and
    /// last bytes are (a one-byte `preadv2(RWF_NOWAIT)` each). Pages read
    /// in together are cached together, so two probes per window catch a
    /// cold stretch without a `mincore` map; a gap between them costs one
    /// `sendfile` a wait on the disk, not the loop a stall per page.
    pub fn is_cached_window(&self, offset: u64, len: u64) -> bool {
        match self {
            Content::File(stored) => is_cached_window(&stored.file, offset, len),
            Content::Bytes(_) => true,
        }
    }
}

/// Up to `len` of `bytes` from `offset` (fewer at their end, none past it).
pub(super) fn window(bytes: &[u8], offset: u64, len: usize) -> &[u8] {
    let start = usize::try_from(offset).map_or(bytes.len(), |at| at.min(bytes.len()));
    &bytes[start..start.saturating_add(len).min(bytes.len())]
}

/// [`Content::read_if_cached`] of a file.
fn read_if_cached(file: &File, buf: &mut [u8], offset: u64) -> io::Result<bool> {
    use rustix::io::{Errno, ReadWriteFlags};
    let mut done = 0;
    while done < buf.len() {
        let at = offset + done as u64;
        let mut slices = [io::IoSliceMut::new(&mut buf[done..])];
        match rustix::io::preadv2(file, &mut slices, at, ReadWriteFlags::NOWAIT) {
            Ok(0) => return Ok(false), // past the end, or nothing cached
            Ok(n) => done += n,
            // NOSYS: no preadv2 (a kernel before 4.6, qemu-user 7): the pool reads.
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS) => return Ok(false),
            Err(Errno::INTR) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(true)
}

/// [`Content::is_cached_window`] of a file.
fn is_cached_window(file: &File, offset: u64, len: u64) -> bool {
    let mut byte = [0u8; 1];
    let last = offset + len.max(1) - 1;
    [offset, last]
        .iter()
        .all(|&at| read_if_cached(file, &mut byte, at).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::{Content, window};

    #[test]
    fn bytes_are_read_up_to_their_end_and_never_past_it() {
        let bytes: &[u8] = b"0123456789";
        assert_eq!(window(bytes, 2, 3), b"234");
        assert_eq!(window(bytes, 8, 5), b"89");
        assert_eq!(window(bytes, 10, 5), b"");
        assert_eq!(window(bytes, u64::MAX, usize::MAX), b"");
        let content = Content::Bytes(bytes.into());
        let mut buf = [0; 4];
        assert_eq!(content.read_at(&mut buf, 7).unwrap(), 3);
        assert_eq!(&buf[..3], b"789");
        assert!(content.read_exact_at(&mut buf, 7).is_err());
        assert!(content.read_if_cached(&mut buf, 0).unwrap());
        assert!(content.never_waits() && content.is_cached_window(0, 10));
    }
}
