//! How an archive's members are laid out, per format: what each member
//! takes (for the length announced before the walk that sends it), the
//! bytes before and after each file's data, and the end of the archive.
//! The walk and the sending are [`super::archive`]'s; this holds what
//! differs between tar and zip, so that the walk is written once.
//!
//! A tar member is its headers, its data and zero padding. A zip member
//! is its local header and data, then a data descriptor with the CRC-32,
//! computed here by reading the file back once it is sent (from the page
//! cache the send has just filled), while its central header waits in
//! memory for the end.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::tar::{self, END, padding};
use crate::zip::{self, Zip64};

/// Bytes read back at once to compute a zip member's CRC-32.
const CRC_READ: usize = 256 * 1024;

/// What a folder is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// POSIX ustar with pax headers ([`crate::tar`]).
    Tar,
    /// Stored zip, zip64 when it must ([`crate::zip`]).
    Zip,
}

impl Format {
    /// The file name extension, also the query that asks for it.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }

    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::Zip => "application/zip",
        }
    }

    /// Its name in the log.
    pub(super) fn verb(self) -> &'static str {
        match self {
            Format::Tar => "TAR",
            Format::Zip => "ZIP",
        }
    }
}

/// A member with its path in the archive, owned.
pub(super) struct MemberPath {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
}

impl MemberPath {
    fn as_tar(&self) -> tar::Member<'_> {
        tar::Member {
            path: &self.path,
            size: self.size,
            mtime: self.mtime,
        }
    }

    fn as_zip(&self) -> zip::Member<'_> {
        zip::Member {
            path: &self.path,
            size: self.size,
            mtime: self.mtime,
        }
    }
}

/// The bytes of one archive as they are written.
pub(super) struct Layout {
    pub format: Format,
    /// Bytes owed after the file just sent: tar padding, a zip descriptor.
    owed: Vec<u8>,
    /// The file being sent, and where its zip local header is.
    sending: Option<(MemberPath, u64)>,
    zip64: Zip64,
    /// A zip's central headers so far.
    central: Vec<u8>,
    /// Where the next zip local header starts.
    offset: u64,
    /// Zip members written so far.
    members: u64,
}

impl Layout {
    pub fn new(format: Format) -> Layout {
        Layout {
            format,
            owed: Vec::new(),
            sending: None,
            zip64: Zip64(false),
            central: Vec::new(),
            offset: 0,
            members: 0,
        }
    }

    /// Bytes `member` takes, all its parts counted, as a classic and as a
    /// zip64 member (which one a zip is is known once all are counted).
    pub fn member_lens(&self, member: &MemberPath) -> [u64; 2] {
        match self.format {
            Format::Tar => [member.as_tar().archived_len(); 2],
            Format::Zip => [Zip64(false), Zip64(true)].map(|z| member.as_zip().archived_len(z)),
        }
    }

    /// Bytes `member` takes in this archive.
    pub fn member_len(&self, member: &MemberPath) -> u64 {
        self.member_lens(member)[usize::from(self.zip64.0)]
    }

    /// The whole archive's length, from its `members` and their `lens`
    /// summed as [`Self::member_lens`] gives them.
    pub fn measured(&mut self, members: u64, lens: [u64; 2]) -> u64 {
        if self.format == Format::Zip {
            self.zip64 = zip::needs_zip64(members, lens[0] + zip::end_len(Zip64(false)));
        }
        lens[usize::from(self.zip64.0)] + self.end_len()
    }

    /// Bytes of the end of the archive.
    pub fn end_len(&self) -> u64 {
        match self.format {
            Format::Tar => END.len() as u64,
            Format::Zip => zip::end_len(self.zip64),
        }
    }

    /// Whether [`Self::file_sent`] reads the file back (a zip's CRC-32).
    pub fn reads_back(&self) -> bool {
        self.format == Format::Zip && self.sending.is_some()
    }

    /// What is owed after the last file sent, taken.
    pub fn take_owed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.owed)
    }

    /// Appends `member`'s bytes before its data to `out`; a member with
    /// data is then being sent, until [`Self::file_sent`].
    pub fn header(&mut self, member: MemberPath, out: &mut Vec<u8>) {
        let offset = self.offset;
        match self.format {
            Format::Tar => member.as_tar().header(out),
            Format::Zip => {
                let zip = member.as_zip();
                zip.local(self.zip64, out);
                self.offset += zip.local_len(self.zip64) + member.size;
            }
        }
        if member.size > 0 {
            self.sending = Some((member, offset));
        } else {
            self.close(&member, 0, offset);
        }
    }

    /// The file being sent is out: what follows its data is owed (tar
    /// padding; a zip descriptor, from its CRC read back from `file`).
    ///
    /// # Errors
    /// Reading it back failed, or it is shorter than it was.
    pub fn file_sent(&mut self, file: &File) -> std::io::Result<()> {
        let Some((member, offset)) = self.sending.take() else {
            return Ok(());
        };
        let crc = match self.format {
            Format::Tar => {
                self.owed.resize(padding(member.size), 0);
                0
            }
            Format::Zip => crc_of(file, member.size)?,
        };
        self.close(&member, crc, offset);
        Ok(())
    }

    /// `member` (at `offset`, with `crc`) is written: a zip's descriptor
    /// (owed) and central header (kept for the end).
    fn close(&mut self, member: &MemberPath, crc: u32, offset: u64) {
        if self.format == Format::Zip {
            let zip = member.as_zip();
            zip.descriptor(crc, self.zip64, &mut self.owed);
            zip.central(crc, offset, self.zip64, &mut self.central);
            self.offset += zip.descriptor_len(self.zip64);
            self.members += 1;
        }
    }

    /// Appends the end of the archive to `out`.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Tar => out.extend_from_slice(&END),
            Format::Zip => {
                let central_len = self.central.len() as u64;
                out.append(&mut self.central);
                zip::end(self.members, self.offset, central_len, self.zip64, out);
            }
        }
    }
}

/// The CRC-32 of the first `size` bytes of `file`.
fn crc_of(file: &File, size: u64) -> std::io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0; CRC_READ.min(usize::try_from(size).unwrap_or(CRC_READ))];
    let mut at = 0;
    while at < size {
        let want = usize::try_from(size - at).map_or(buf.len(), |left| left.min(buf.len()));
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hasher.finalize())
}
