//! The values the [`Store`] verbs take and give, beside the trait
//! (`store.rs`): how a file is opened and what opening it gives, how a
//! folder is copied or made, a listing spilled out of memory, the
//! opaque [`Cursor`] a walk stops with, and a file counted in a
//! [`Usage`].

use std::any::Any;
use std::fmt;
use std::io;

use super::{Member, StorageError};
use crate::model::{DavLock, Usage, Version};
use crate::wire::content::Content;

#[cfg(doc)]
use super::Store;

/// A regular file opened ([`Store::open`]): what it is, and its bytes.
pub struct Opened {
    /// Its version when opened.
    pub version: Version,
    /// Its bytes, to read or send.
    pub body: Content,
}

/// How [`Store::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// To be described (STAT): looked at before it is opened, so nothing
    /// but a regular file is ever opened; its CRC-32C looked up.
    Describe,
    /// To be read, its CRC-32C looked up.
    Read,
    /// To be read, no CRC-32C looked up (an archive's member, which
    /// sends none): a failure here is the fault tests' open point.
    Unchecked,
    /// To be read on the reactor, only if that cannot wait: every name on
    /// the way and its CRC-32C known already; else `Ok(None)`.
    IfCached,
}

/// A listing's bytes written where they cannot fill memory
/// ([`Store::spill`]), then sent from there.
pub trait Spill: io::Write + Send {
    /// What was written, to be sent.
    fn into_content(self: Box<Self>) -> Content;
}

/// Whether a long walk goes on (asked between its steps).
pub type GoOn<'a> = &'a mut dyn FnMut() -> bool;

/// What a folder's removal asks of its caller about each member (a
/// folder's name ends in `/`): may it go? Asked with the WebDAV lock
/// table as it stands, held still until the member is gone
/// ([`crate::storage::LockTable::steady`]), or why it could not be held.
pub type Removable<'a> = &'a mut dyn FnMut(&str, Result<&[DavLock], StorageError>) -> bool;

/// What a commit asks of its caller before the upload lands: may it?
/// Asked with the WebDAV lock table as it stands, held still through
/// the rename where the commit renames at once ([`Store::commit`]).
/// A refusal is answered with [`StorageError::NotAdmitted`]; the caller
/// keeps why.
pub type Landable<'a> = &'a mut dyn FnMut(&[DavLock]) -> bool;

/// A change of one resource's dead properties, given them as they stand
/// ([`Store::patch_props`]).
pub type PropEdit<'a> = &'a mut dyn FnMut(&mut Vec<crate::model::DeadProperty>);

/// What a folder's copy does with a member, given its source and copy
/// names.
pub type Judge<'a> = &'a mut dyn FnMut(&str, &str) -> Member;

/// How a folder is copied ([`Store::copy_tree`]).
#[derive(Debug, Clone, Copy)]
pub struct CopyTree<'a> {
    /// With everything below it (WebDAV's `Depth: infinity`), else the
    /// folder alone.
    pub deep: bool,
    /// Each file flushed to the disk before the copy is answered.
    pub durable: bool,
    /// The token the copies count for.
    pub owner: Option<&'a str>,
    /// That token's quota, which each copy's commit is judged against
    /// (where usage is counted) as a PUT's is: copies side by side
    /// cannot together pass it.
    pub quota: Option<crate::access::quota::Quota>,
}

/// Which folders on the way [`Store::make_folder`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parents {
    /// None: the parent must exist.
    No,
    /// Each that is missing, but the first `kept` levels (S3's buckets,
    /// made only by CreateBucket).
    Made {
        /// Levels from the root that are never made here.
        kept: usize,
    },
}

/// Where a walk of [`Store::cursor`] stands between two steps: the
/// engine's own state, which only the engine that made it reads.
pub struct Cursor(Box<dyn Any + Send>);

impl Cursor {
    /// A cursor holding an engine's `state`.
    pub(crate) fn new(state: impl Any + Send) -> Cursor {
        Cursor(Box::new(state))
    }

    /// The engine's state, a `T` (the engine's own cursor).
    ///
    /// # Errors
    /// It holds another engine's: only a caller mixing two engines gets
    /// that.
    pub(crate) fn state<T: Any>(&mut self) -> Result<&mut T, StorageError> {
        let state = self.0.downcast_mut();
        debug_assert!(state.is_some(), "a cursor made by another store");
        state.ok_or_else(|| StorageError::Io(io::Error::other("a cursor of another store")))
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cursor")
    }
}

/// How an engine adds up what files hold ([`Store::usage`],
/// [`Store::tree_usage`]).
impl Usage {
    /// One more file of `size` bytes.
    pub(super) fn add_file(&mut self, size: u64) {
        self.bytes = self.bytes.saturating_add(size);
        self.files = self.files.saturating_add(1);
    }
}
