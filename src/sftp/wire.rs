//! SFTP version 3's bytes (draft-ietf-secsh-filexfer-02, as OpenSSH's
//! sftp-server speaks it): a packet's frame, the fields requests carry and
//! the answers written back, sans-IO.
//!
//! ```text
//! packet   uint32 length, byte type, [uint32 id], fields...
//! string   uint32 length, bytes
//! attrs    uint32 flags, [uint64 size], [uint32 uid, gid],
//!          [uint32 permissions], [uint32 atime, mtime],
//!          [uint32 count, count x (string, string)]
//! ```

use crate::model::{Resource, Space};
use crate::serve::{ErrorKind, Failure};

/// Request types served or refused by name (the rest are not served).
pub(super) const INIT: u8 = 1;
pub(super) const OPEN: u8 = 3;
pub(super) const CLOSE: u8 = 4;
pub(super) const READ: u8 = 5;
pub(super) const WRITE: u8 = 6;
pub(super) const LSTAT: u8 = 7;
pub(super) const FSTAT: u8 = 8;
pub(super) const SETSTAT: u8 = 9;
pub(super) const FSETSTAT: u8 = 10;
pub(super) const OPENDIR: u8 = 11;
pub(super) const READDIR: u8 = 12;
pub(super) const REMOVE: u8 = 13;
pub(super) const MKDIR: u8 = 14;
pub(super) const RMDIR: u8 = 15;
pub(super) const REALPATH: u8 = 16;
pub(super) const STAT: u8 = 17;
pub(super) const RENAME: u8 = 18;
pub(super) const SYMLINK: u8 = 20;
pub(super) const EXTENDED: u8 = 200;

/// Answer types.
const VERSION: u8 = 2;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const DATA: u8 = 103;
const NAME: u8 = 104;
const ATTRS: u8 = 105;
const EXTENDED_REPLY: u8 = 201;

/// `SSH_FXF_*`: what an `OPEN` asks to do with the file.
pub(super) const OPEN_WRITE: u32 = 0x02;
pub(super) const OPEN_APPEND: u32 = 0x04;
pub(super) const OPEN_CREATE: u32 = 0x08;
pub(super) const OPEN_TRUNCATE: u32 = 0x10;
pub(super) const OPEN_EXCLUDE: u32 = 0x20;

/// `SSH_FX_*`: a status answer's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// The end of a file or listing.
    Eof = 1,
    /// No such file or folder.
    NoSuchFile = 2,
    /// The grants do not allow it.
    PermissionDenied = 3,
    /// Anything else, said in the message.
    Failure = 4,
    /// A malformed request.
    BadMessage = 5,
    /// A request not served.
    OpUnsupported = 8,
}

/// `SSH_FILEXFER_ATTR_*` flags.
const ATTR_SIZE: u32 = 0x01;
const ATTR_UIDGID: u32 = 0x02;
const ATTR_PERMISSIONS: u32 = 0x04;
const ATTR_ACMODTIME: u32 = 0x08;
const ATTR_EXTENDED: u32 = 0x8000_0000;

/// The mode bits stated for a file and a folder (`ls -l`'s
/// `-rw-r--r--` and `drwxr-xr-x`): ferry keeps no modes, and any client
/// may read what it is shown.
const FILE_MODE: u32 = 0o100_644;
const FOLDER_MODE: u32 = 0o040_755;

/// What a client states of a file it changes (`SETSTAT`): what ferry
/// may act on of it.
#[derive(Debug, Default)]
pub struct Attrs {
    /// A new size (a truncation).
    pub size: Option<u64>,
    /// A new modification time.
    pub mtime: Option<u32>,
}

/// A cursor over a packet's fields.
pub struct Fields<'a> {
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The fields of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { bytes }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(taken)
    }

    /// Bytes not read yet.
    pub fn left(&self) -> usize {
        self.bytes.len()
    }

    /// A `byte`.
    pub fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A `uint32`.
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `uint64`.
    pub fn u64(&mut self) -> Option<u64> {
        Some((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }

    /// A `string`'s bytes.
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A `string` that is a path: UTF-8, as ferry's names are.
    pub fn path(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string()?).ok()
    }

    /// An `attrs`, skipped (what a client states of a file it makes:
    /// ferry keeps no owners or modes).
    pub fn skip_attrs(&mut self) -> Option<()> {
        self.attrs().map(|_| ())
    }

    /// An `attrs`: its size and modification time; owners, modes, the
    /// access time and extensions read past.
    pub fn attrs(&mut self) -> Option<Attrs> {
        let flags = self.u32()?;
        let mut attrs = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            attrs.size = Some(self.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            self.take(8)?;
        }
        if flags & ATTR_PERMISSIONS != 0 {
            self.take(4)?;
        }
        if flags & ATTR_ACMODTIME != 0 {
            self.take(4)?;
            attrs.mtime = Some(self.u32()?);
        }
        if flags & ATTR_EXTENDED != 0 {
            for _ in 0..self.u32()? {
                self.string()?;
                self.string()?;
            }
        }
        Some(attrs)
    }
}

/// A packet being written: its length is filled in by [`Packet::end`].
pub struct Packet<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
}

impl<'o> Packet<'o> {
    /// Begins a packet of `kind` in `out`.
    fn begin(out: &'o mut Vec<u8>, kind: u8) -> Packet<'o> {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0, kind]);
        Packet { out, start }
    }

    fn u32(&mut self, value: u32) -> &mut Self {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn u64(&mut self, value: u64) -> &mut Self {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(bytes.len() as u32);
        self.out.extend_from_slice(bytes);
        self
    }

    /// `found`'s size, mode and times.
    fn attrs(&mut self, found: &Resource) -> &mut Self {
        let mode = if found.folder { FOLDER_MODE } else { FILE_MODE };
        let mtime = found.info.mtime.clamp(0, i64::from(u32::MAX)) as u32;
        self.u32(ATTR_SIZE | ATTR_PERMISSIONS | ATTR_ACMODTIME)
            .u64(if found.folder { 0 } else { found.info.size })
            .u32(mode)
            .u32(mtime)
            .u32(mtime)
    }

    /// Fills in the length; `extra`: bytes that follow the packet's
    /// fields outside `out` (a `DATA` answer's file bytes).
    fn end(self, extra: u64) {
        let len = (self.out.len() - self.start - 4) as u64 + extra;
        let len = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
        self.out[self.start..self.start + 4].copy_from_slice(&len);
    }
}

/// `SSH_FXP_VERSION`: version 3, and the extensions served.
pub fn version(out: &mut Vec<u8>, extensions: &[(&str, &str)]) {
    let mut packet = Packet::begin(out, VERSION);
    packet.u32(3);
    for (name, data) in extensions {
        packet.string(name.as_bytes()).string(data.as_bytes());
    }
    packet.end(0);
}

/// `SSH_FXP_STATUS`.
pub fn status(out: &mut Vec<u8>, id: u32, code: Status, message: &str) {
    let mut packet = Packet::begin(out, STATUS);
    packet
        .u32(id)
        .u32(code as u32)
        .string(message.as_bytes())
        .string(b"en");
    packet.end(0);
}

/// `SSH_FXP_HANDLE`.
pub fn handle(out: &mut Vec<u8>, id: u32, handle: &[u8]) {
    let mut packet = Packet::begin(out, HANDLE);
    packet.u32(id).string(handle);
    packet.end(0);
}

/// `SSH_FXP_ATTRS`.
pub fn attrs(out: &mut Vec<u8>, id: u32, found: &Resource) {
    let mut packet = Packet::begin(out, ATTRS);
    packet.u32(id).attrs(found);
    packet.end(0);
}

/// `SSH_FXP_NAME` with one name and no attributes (`REALPATH`'s).
pub fn one_name(out: &mut Vec<u8>, id: u32, name: &str) {
    let mut packet = Packet::begin(out, NAME);
    packet
        .u32(id)
        .u32(1)
        .string(name.as_bytes())
        .string(name.as_bytes())
        .u32(0);
    packet.end(0);
}

/// `SSH_FXP_NAME`'s head: `count` entries follow it, `len` bytes of them
/// (each written by [`name_entry`]).
pub fn names_head(out: &mut Vec<u8>, id: u32, count: u32, len: u64) {
    let mut packet = Packet::begin(out, NAME);
    packet.u32(id).u32(count);
    packet.end(len);
}

/// One entry of an `SSH_FXP_NAME`: its own name, `ls -l`'s line of it
/// (`longname`, which `sftp`'s `ls -l` prints) and its attributes.
pub fn name_entry(out: &mut Vec<u8>, leaf: &str, longname: &str, found: &Resource) {
    let mut entry = Packet {
        start: out.len(),
        out,
    };
    entry
        .string(leaf.as_bytes())
        .string(longname.as_bytes())
        .attrs(found);
}

/// `SSH_FXP_EXTENDED_REPLY` with `values`, each a `uint64`
/// (`statvfs@openssh.com`'s, `limits@openssh.com`'s).
pub fn extended_reply(out: &mut Vec<u8>, id: u32, values: &[u64]) {
    let mut packet = Packet::begin(out, EXTENDED_REPLY);
    packet.u32(id);
    for value in values {
        packet.u64(*value);
    }
    packet.end(0);
}

/// The extensions `VERSION` names, with their versions.
pub(super) const OFFERED: &[(&str, &str)] = &[
    ("posix-rename@openssh.com", "1"),
    ("statvfs@openssh.com", "2"),
    ("limits@openssh.com", "1"),
    ("fsync@openssh.com", "1"),
];

/// The block size `statvfs` counts in.
const BLOCK: u64 = 4096;

/// The longest name a folder holds (a segment's, as `Name` takes).
const NAME_MAX: u64 = 255;

/// `statvfs@openssh.com`'s answer for `room`.
pub(super) fn statvfs(out: &mut Vec<u8>, id: u32, room: &Space) {
    let files = room.files_used + room.files_available;
    let values = [
        BLOCK,                  // f_bsize
        BLOCK,                  // f_frsize
        room.size / BLOCK,      // f_blocks
        room.available / BLOCK, // f_bfree
        room.available / BLOCK, // f_bavail
        files,                  // f_files
        room.files_available,   // f_ffree
        room.files_available,   // f_favail
        0,                      // f_fsid
        0,                      // f_flag
        NAME_MAX,               // f_namemax
    ];
    extended_reply(out, id, &values);
}

/// `SSH_FXP_DATA`'s head: `len` bytes of the file follow it.
pub fn data_head(out: &mut Vec<u8>, id: u32, len: u32) {
    let mut packet = Packet::begin(out, DATA);
    packet.u32(id).u32(len);
    packet.end(u64::from(len));
}

/// `SSH_FXP_DATA` with `bytes` in it (a few, read back from a file being
/// written).
pub fn data(out: &mut Vec<u8>, id: u32, bytes: &[u8]) {
    let mut packet = Packet::begin(out, DATA);
    packet.u32(id).string(bytes);
    packet.end(0);
}

/// The length of the whole packet at the front of `input` (its length
/// field included), once that field is there.
pub fn packet_len(input: &[u8]) -> Option<usize> {
    let len: [u8; 4] = input.get(..4)?.try_into().ok()?;
    // Past what a `usize` holds (a 32-bit host): too long, whatever it is.
    Some(usize::try_from(u32::from_be_bytes(len)).map_or(usize::MAX, |len| len.saturating_add(4)))
}

/// The status a failure is answered with.
pub(super) fn status_of(failure: &Failure) -> Status {
    match failure.kind {
        ErrorKind::NotFound => Status::NoSuchFile,
        ErrorKind::Forbidden | ErrorKind::Unauthorized | ErrorKind::ReadOnly => {
            Status::PermissionDenied
        }
        _ => Status::Failure,
    }
}

/// Whether `input` holds a whole packet (the header deadline's rule).
pub fn holds_whole_packet(input: &[u8]) -> bool {
    packet_len(input).is_some_and(|len| input.len() >= len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileInfo, Stamp};

    #[test]
    fn a_status_is_framed_with_its_length() {
        let mut out = Vec::new();
        status(&mut out, 7, Status::NoSuchFile, "gone");
        assert_eq!(packet_len(&out), Some(out.len()));
        let mut fields = Fields::new(&out[4..]);
        assert_eq!(fields.byte(), Some(STATUS));
        assert_eq!(fields.u32(), Some(7));
        assert_eq!(fields.u32(), Some(2));
        assert_eq!(fields.path(), Some("gone"));
    }

    #[test]
    fn attrs_say_size_mode_and_time_and_skip_back() {
        let found = Resource {
            folder: false,
            info: FileInfo {
                size: 5,
                mtime: 1_700_000_000,
            },
            stamp: Stamp::default(),
        };
        let mut out = Vec::new();
        attrs(&mut out, 1, &found);
        let mut fields = Fields::new(&out[9..]);
        fields.skip_attrs().unwrap();
        assert!(fields.byte().is_none(), "all of it read");
        let data = &out[13..21];
        assert_eq!(u64::from_be_bytes(data.try_into().unwrap()), 5);
    }

    #[test]
    fn a_data_head_counts_the_bytes_that_follow() {
        let mut out = Vec::new();
        data_head(&mut out, 3, 100);
        assert_eq!(packet_len(&out), Some(out.len() + 100));
    }
}
