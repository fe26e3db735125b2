//! Share links as the seam shows them ([`LinkTable`]): one link read by
//! its id (a request through it), and every change made as one
//! check-and-change under the table's lock, whatever engine keeps it (a
//! `flock` held on the shared root for POSIX, a mutex in memory). The
//! caller decides what to write from the links as they stand at that
//! moment, so two nodes never both give the last download of a link or
//! both pass a token's cap on live links. What a link allows is the serve
//! layer's (`serve/ops/links.rs`).

use super::StorageError;
use crate::model::{ShareLink, is_link_id};

/// What a change does to the links.
#[derive(Debug, Default)]
pub struct LinkEdit {
    /// Links written whole (new, or replacing the one of the same id).
    pub write: Vec<ShareLink>,
    /// Links removed, by id.
    pub remove: Vec<String>,
}

impl LinkEdit {
    /// Refuses an edit writing a link whose id is not a link's (a name
    /// of another file, or out of the table's folder): the ids are the
    /// serve layer's, so this is a broken invariant, refused by every
    /// engine before anything is written.
    ///
    /// # Errors
    /// A link to write has an id that is not a link's.
    pub fn check(&self) -> Result<(), StorageError> {
        match self.write.iter().find(|link| !is_link_id(&link.id)) {
            Some(odd) => {
                let odd = format!("a share link with id {:?} not written", odd.id);
                log::error!("{odd}");
                Err(StorageError::Io(std::io::Error::other(odd)))
            }
            None => Ok(()),
        }
    }
}

/// What a change is told: every link kept (expired ones too: the
/// caller's rules say what they still count for) and the time; it answers
/// the edit, or `None` to change nothing.
pub type DecideLinks<'a> = &'a mut dyn FnMut(&[ShareLink], i64) -> Option<LinkEdit>;

/// The share links of a root; see the module's header.
pub trait LinkTable: Send + Sync {
    /// Now, in Unix seconds, as link expiry counts it.
    fn now(&self) -> i64;

    /// The link of `id`, read fresh (a revocation on another node holds
    /// at once), or `None`.
    ///
    /// # Errors
    /// It cannot be read.
    fn link(&self, id: &str) -> Result<Option<ShareLink>, StorageError>;

    /// Every link kept, read fresh without the table's lock (records are
    /// replaced whole; a read-only node reads them too).
    ///
    /// # Errors
    /// They cannot be read.
    fn all(&self) -> Result<Vec<ShareLink>, StorageError>;

    /// Changes the links as `decide`, given them fresh under the table's
    /// lock, says.
    ///
    /// # Errors
    /// The links cannot be read or written.
    fn edit(&self, decide: DecideLinks<'_>) -> Result<(), StorageError>;
}

impl dyn LinkTable + '_ {
    /// Changes the links as `decide` says, or not where it refuses: its
    /// answer, or its refusal.
    ///
    /// # Errors
    /// `decide`'s refusal, or the table's failure.
    pub fn change<T, E: From<StorageError>>(
        &self,
        decide: impl FnOnce(&[ShareLink], i64) -> Result<(T, LinkEdit), E>,
    ) -> Result<T, E> {
        super::lock_table::decided(|callback| self.edit(callback), decide)
    }
}
