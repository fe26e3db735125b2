//! A folder's entries for `READDIR`, a page at a time: the serve layer's
//! one-level listing of the folder (S3's delimited page, in name order,
//! after the last name sent), written by this format straight as the
//! entries of one `SSH_FXP_NAME` answer. The codec writes the answer's
//! head once the page is spooled, from what the format [`Listed`]: how
//! many entries, the last one's name (where the next page begins) and
//! whether more follow.
//!
//! A page holds at most [`PAGE`] entries: with names of 255 bytes, shown
//! twice (the name and `ls -l`'s line), that stays under the 256 KiB
//! OpenSSH's client takes in one answer.

use std::sync::{Arc, Mutex, PoisonError};

use crate::ftp::listing::{leaf, ls_long};
use crate::model::{FileInfo, Resource, Stamp};
use crate::serve::terms::{Format, Piece};

use super::wire;

/// Entries per `READDIR` answer.
pub const PAGE: usize = 400;

/// What a page's format found, for the codec to write its head.
#[derive(Debug, Default)]
pub struct Listed {
    /// Entries written.
    pub count: u32,
    /// The last one's full name: the next page begins after it.
    pub last: Option<String>,
    /// The walk found one more than the page holds.
    pub more: bool,
}

/// The format of one page: shares what it found with the codec.
#[derive(Debug)]
pub struct Names {
    listed: Arc<Mutex<Listed>>,
}

impl Names {
    /// A page's format, and what it will have found.
    pub fn new() -> (Names, Arc<Mutex<Listed>>) {
        let listed = Arc::new(Mutex::new(Listed::default()));
        let names = Names {
            listed: Arc::clone(&listed),
        };
        (names, listed)
    }
}

impl Format for Names {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let (name, found) = match piece {
            Piece::Directory { name, mtime, .. } => (name, resource(true, 0, mtime)),
            Piece::File { entry, .. } | Piece::Only(entry) => (
                entry.name.as_str(),
                resource(false, entry.info.size, entry.info.mtime),
            ),
            Piece::Start | Piece::Files | Piece::End => return,
        };
        let mut listed = self.listed.lock().unwrap_or_else(PoisonError::into_inner);
        if listed.count as usize >= PAGE {
            listed.more = true;
            return;
        }
        let own = leaf(prefix, name);
        let longname = ls_long(found.folder, found.info.size, found.info.mtime, own);
        wire::name_entry(out, own, &longname, &found);
        listed.count += 1;
        listed.last = Some(name.to_owned());
    }
}

fn resource(folder: bool, size: u64, mtime: i64) -> Resource {
    Resource {
        folder,
        info: FileInfo { size, mtime },
        stamp: Stamp::default(),
    }
}
