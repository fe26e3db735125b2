//! What a stored file is, as every layer sees it: its size and
//! modification time ([`FileInfo`]), what tells its versions apart beyond
//! those ([`Stamp`]), a listing's entry ([`ListEntry`]) and a folder's
//! level ([`DirectoryListing`]), what has a name ([`Occupant`],
//! [`Resource`]), a file's identity at one moment ([`Version`]), what a
//! walk of the tree finds ([`Found`]), and what is recorded with a
//! version ([`VersionRecords`]).

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

/// A file's identity at one moment: what conditional requests compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Size and modification time.
    pub info: FileInfo,
    /// Inode and the modification time's nanoseconds.
    pub stamp: Stamp,
    /// CRC-32C of the whole file, if known: an answer that states it
    /// waits for it, others go without.
    pub crc: Option<u32>,
    /// The MD5 tag recorded with it (S3's `ETag`), if known.
    pub md5: Option<super::Md5Tag>,
}

/// What a walk of the tree found next (a folder's `.tar` or `.zip` is
/// sent from these, one member at a time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A folder (its full name ends in `/`), which the walk enters next.
    Folder {
        /// Its full name, ending in `/`.
        name: String,
        /// Modification time, Unix seconds.
        mtime: i64,
    },
    /// A regular file.
    File {
        /// Its full name.
        name: String,
        /// Its size and time when the walk saw it.
        info: FileInfo,
    },
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

/// What has the name a copy or move is to land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    /// Nothing: the name is free.
    Nothing,
    /// A file.
    File,
    /// A folder.
    Folder,
}

/// A file or folder as `PROPPATCH` and `PROPFIND` see it.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// It is a folder.
    pub folder: bool,
    /// Its size and time.
    pub info: FileInfo,
    /// Its inode, which its record names.
    pub stamp: Stamp,
}

/// One level of a directory, as the storage lists it.
#[derive(Debug, Default)]
pub struct DirectoryListing {
    /// Subdirectories, by full name ending in `/`, in name order, with
    /// their modification times (Unix seconds) and inodes.
    pub dirs: Vec<(String, i64, u64)>,
    /// Files directly in it, in name order.
    pub files: Vec<ListEntry>,
}

/// What is recorded with a file's version besides its CRC-32C and MD5,
/// as a GET may tell it.
#[derive(Debug, Default)]
pub struct VersionRecords {
    /// The additional checksum it was uploaded with (S3's
    /// `x-amz-checksum-*`, `<algorithm>:<base64>`).
    pub checksum: Option<String>,
    /// The sizes of the parts it was uploaded in (an S3 multipart
    /// upload's).
    pub part_sizes: Option<Vec<u64>>,
    /// Their checksums, where its upload had one (each
    /// `<algorithm>:<base64>`).
    pub part_checksums: Option<Vec<String>>,
}
