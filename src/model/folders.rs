//! What folders are to each protocol: made for a file or by their own
//! request, pruned when emptied or kept. One term that each codec or
//! dialect sets and the storage applies.

/// What folders are to the protocol a request came by: whether a file's
/// missing parent folders are made for it, and whether the folders its
/// removal (or move, or failed upload) leaves empty go with it. One term
/// that each codec or dialect sets and the storage calls apply
/// (docs/webdav.md (e)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folders {
    /// Folders exist through the files in them (FERRY/1; S3's prefixes):
    /// made for a file that needs them, removed with the last file that
    /// leaves them.
    Implicit,
    /// As [`Folders::Implicit`] below a bucket, which stays (S3: buckets
    /// are the root's folders, made and removed by their own requests;
    /// the prefixes inside them come and go with their keys).
    Keys,
    /// Made for a file that needs them, kept once made (ferry's HTTP: the
    /// web page, `curl -T` and the CLI upload into folders that are not
    /// there yet, and a user who empties a folder still sees it).
    Made,
    /// Things of their own: a file's parent folder must exist, and a
    /// folder stays when emptied (WebDAV, RFC 4918 9.7.1: `MKCOL` makes
    /// them, `DELETE` of the folder removes them).
    Explicit,
}

impl Folders {
    /// Whether a file's missing parent folders are made for it.
    pub fn made(self) -> bool {
        self != Folders::Explicit
    }

    /// Whether folders left empty by a file's removal go with it: how
    /// many leading segments of a name stay whatever happens (the
    /// `floor` of storage's `prune_empty_dirs`), or `None` where folders are kept.
    pub fn pruned_below(self) -> Option<usize> {
        match self {
            Folders::Implicit => Some(0),
            Folders::Keys => Some(1),
            Folders::Made | Folders::Explicit => None,
        }
    }
}
