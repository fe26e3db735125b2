//! What the server's replies say of its files, as the client's methods
//! return it: a download, a file's facts, a listing's entries, an upload
//! session, and what a folder's removal left.

/// What `GET` said about the file and the part of it that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// Bytes written.
    pub len: u64,
    /// Size of the whole file.
    pub total: u64,
    /// CRC-32C of the whole file: `None` from servers before 0.2, which
    /// did not send it, and while the server has not read a file placed in
    /// its root by other means (its answer says `-`).
    pub crc: Option<u32>,
    /// The file's modification time, Unix seconds (servers before 0.3 did
    /// not send it).
    pub mtime: Option<i64>,
}

/// What `STAT` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// CRC-32C of the file, where the server reports it.
    pub crc: Option<u32>,
}

/// What `DF` said: the room to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Bytes writes may still take (above the server's reserve).
    pub free: u64,
    /// Bytes in use.
    pub used: u64,
    /// Files that may still be made.
    pub files_free: u64,
    /// Files in use.
    pub files_used: u64,
}

/// One LIST line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Decoded name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// A member that a folder's `DEL` left, with the server's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stayed {
    /// Decoded name (a folder's ends in `/`).
    pub name: String,
    /// The error code (`403`: the token may not delete it).
    pub code: u16,
    /// The server's reason.
    pub reason: String,
}

/// One `DIR` line: a sub-folder or a file directly in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Decoded full name from the root; a folder's ends in `/`.
    pub name: String,
    /// Bytes of a file; `None` for a folder.
    pub size: Option<u64>,
    /// Modification time, Unix seconds (a folder's own: it changes when
    /// an entry is added or removed, not when a file below it changes).
    pub mtime: i64,
}

impl From<RemoteFile> for DirEntry {
    fn from(file: RemoteFile) -> DirEntry {
        DirEntry {
            name: file.name,
            size: Some(file.size),
            mtime: file.mtime,
        }
    }
}

impl DirEntry {
    /// A sub-folder, not a file.
    pub fn is_folder(&self) -> bool {
        self.size.is_none()
    }
}

/// A resumable upload as `UPLOAD` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// The server's id for the session (16 hex digits).
    pub id: String,
    /// Bytes the server holds; the next `APPEND` goes at this offset.
    pub received: u64,
}
