//! A `READ`'s bytes come only from the version of the file its `OPEN`
//! found: each `READ` is a GET by name (the handle holds no descriptor),
//! so a file replaced meanwhile (an upload by any protocol, a rename onto
//! it) would hand the client a mix of two versions. The version is the
//! file's inode, its time to the nanosecond and its size: any other, and
//! the `READ` fails ("the file changed"), as a client can tell and retry.

use crate::model::{FileInfo, Resource, Stamp};
use crate::serve::terms::{Choose, Selection, Version};

/// The version a handle's `READ`s are pinned to, and the span one asks.
#[derive(Debug, Clone, Copy)]
pub struct Pinned {
    stamp: Stamp,
    info: FileInfo,
    /// First byte asked.
    offset: u64,
    /// Most bytes asked.
    len: u64,
}

impl Pinned {
    /// `len` bytes from `offset` of the version `found` describes.
    pub fn to(found: &Resource, offset: u64, len: u64) -> Pinned {
        Pinned {
            stamp: found.stamp,
            info: found.info,
            offset,
            len,
        }
    }
}

impl Choose for Pinned {
    fn choose(&self, version: &Version) -> Selection {
        if version.stamp != self.stamp || version.info != self.info {
            return Selection::PreconditionFailed;
        }
        let size = version.info.size;
        if self.offset > size {
            return Selection::Unsatisfiable;
        }
        Selection::Bytes {
            start: self.offset,
            len: self.len.min(size - self.offset),
            part: true,
            body: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(inode: u64, size: u64) -> Version {
        Version {
            info: FileInfo { size, mtime: 7 },
            stamp: Stamp { inode, nanos: 0 },
            crc: None,
            md5: None,
        }
    }

    #[test]
    fn reads_come_from_the_version_opened_alone() {
        let opened = Resource {
            folder: false,
            info: FileInfo { size: 10, mtime: 7 },
            stamp: Stamp { inode: 1, nanos: 0 },
        };
        let read = |offset, len| Pinned::to(&opened, offset, len);
        assert!(matches!(
            read(4, 100).choose(&version(1, 10)),
            Selection::Bytes {
                start: 4,
                len: 6,
                ..
            }
        ));
        assert!(matches!(
            read(10, 5).choose(&version(1, 10)),
            Selection::Bytes { len: 0, .. }
        ));
        assert_eq!(
            read(11, 5).choose(&version(1, 10)),
            Selection::Unsatisfiable
        );
        // Replaced (another inode), or grown in place: not the version opened.
        assert_eq!(
            read(0, 5).choose(&version(2, 10)),
            Selection::PreconditionFailed
        );
        assert_eq!(
            read(0, 5).choose(&version(1, 12)),
            Selection::PreconditionFailed
        );
    }
}
