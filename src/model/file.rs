//! What a stored file is, as every layer sees it: its size and
//! modification time ([`FileInfo`]), what tells its versions apart beyond
//! those ([`Stamp`]), and a listing's entry ([`ListEntry`]).

/// Size and modification time of a stored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// What tells versions of a stored file apart beyond its size and
/// modification time in seconds: its inode (a new upload is a new inode,
/// even with the same size and a preserved time) and the nanoseconds of
/// its modification time. Known as soon as the file is open, unlike its
/// CRC-32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// The inode number.
    pub inode: u64,
    /// Nanoseconds of the modification time, past [`FileInfo::mtime`].
    pub nanos: u32,
}

/// One LIST result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Decoded name relative to the root.
    pub name: String,
    /// Size and modification time.
    pub info: FileInfo,
    /// What tells its versions apart beyond that (an HTTP `ETag` is made
    /// of both, in a listing as for a GET).
    pub stamp: Stamp,
}
