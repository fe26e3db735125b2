//! The room on the root's file system, as `ferry df`, WebDAV's quota
//! properties and the page show it.

/// The root's file system's space, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Free for ferry (not the blocks kept for root).
    pub available: u64,
    /// In use, by anyone.
    pub used: u64,
    /// The file system's size.
    pub size: u64,
    /// Files (inodes) free for ferry.
    pub files_available: u64,
    /// Files (inodes) in use, by anyone.
    pub files_used: u64,
}
