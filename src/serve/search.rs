//! A search of the tree below a folder (the web page's, `GET /<dir>/?q=`):
//! the files and folders whose own name holds a term, found by the same
//! walk as a listing's, on the pool's listing threads with a listing's
//! walk permit (`listing.rs` runs it): one client's searches take its
//! address's share of walks, never the others', and the walk stops at the
//! next folder once its client has gone. It shows what a listing would:
//! files `who` may read, folders that lead to some, never a reserved
//! `.ferry-*` name (the walk skips them). Bounded twice: by the results
//! ([`Search::max`]; the walk stops at the one beyond) and by the names
//! looked at ([`Search::max_walked`]), so a search of a huge tree costs a
//! bounded time; either way the format is told it was cut short. Names
//! are judged as the walk reads them, before any `lstat`: only folders
//! and results cost one (the size and time a result shows), so a search
//! of 100,000 files is a sixth of what it was (`benches/search.sh`).

use std::cell::{Cell, RefCell};

use super::spool::{Spool, Spooled};
use super::terms::Search;
use super::{Ctx, Piece};
use crate::access::{Perm, Who};
use crate::model::ListEntry;
use crate::name::{Name, Prefix};
use crate::storage::StorageError;

/// Spools what `search` finds below `prefix` that `who` may see, in name
/// order; returns the spool file, its length and the results' count.
///
/// # Errors
/// The walk's or the spool's; not a cap reached, which ends the listing
/// early and says so.
pub(super) fn spool(
    ctx: &Ctx<'_>,
    who: &Who,
    prefix: &Prefix,
    search: &Search,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    // A folder that is not there is "not found", not an empty result.
    if let Ok(folder) = Name::new(prefix.as_str().trim_end_matches('/').to_owned()) {
        ctx.store.find_folder(&folder)?;
    }
    spool.put(Piece::Start)?;
    spool.put(Piece::Files)?;
    // Names looked at, counted as the walk reads them, before any
    // `lstat`: a name that is not found (or may not be read) costs none,
    // so a search of 100,000 files `lstat`s its folders and its results
    // only (`benches/search.sh`).
    let walked = Cell::new(0u64);
    let mut wanted = |name: &str| {
        walked.set(walked.get() + 1);
        if walked.get() > search.max_walked {
            return false;
        }
        match name.ends_with('/') {
            true => who.may_list(name),
            false => search.finds(name) && who.allows(Perm::Read, name),
        }
    };
    // Both of the walk's callbacks put results.
    let found = RefCell::new(Found {
        spool,
        results: 0,
        search,
    });
    let at_walk_cap = || walked.get() >= search.max_walked;
    let mut enter = |dir: &str, info: &crate::model::FileInfo| {
        if ctx.is_abandoned() {
            return Err(std::io::Error::other("the client has gone"));
        }
        if at_walk_cap() {
            return Err(std::io::Error::other("the search looked at all it may"));
        }
        let piece = Piece::Directory {
            name: dir,
            mtime: info.mtime,
            first: false,
        };
        found.borrow_mut().look_at(dir, piece)?;
        Ok(true)
    };
    let walked_tree = ctx
        .store
        .list(prefix, &mut wanted, &mut enter, &mut |entry: &ListEntry| {
            let piece = Piece::File {
                entry,
                first: false,
            };
            found.borrow_mut().look_at(&entry.name, piece)
        });
    let mut found = found.into_inner();
    let capped = found.results > search.max || at_walk_cap();
    match walked_tree {
        // A cap: what was found is the answer, said to be cut short.
        Err(_) if capped && !ctx.is_abandoned() => found.spool.format.truncated(),
        // The last directory read reached the cap, none was entered after.
        Ok(()) if capped => found.spool.format.truncated(),
        walked => walked?,
    }
    found.spool.put(Piece::End)?;
    let results = found.results.min(search.max) as u64;
    found.spool.finish(results)
}

/// A search under way: its spool and its results.
struct Found<'a, 's> {
    spool: Spool<'a>,
    results: usize,
    search: &'s Search,
}

impl Found<'_, '_> {
    /// Puts `piece` (of `name`: a file's, or a folder's ending in `/`) if
    /// `name` is found (a file is given here only if it is).
    ///
    /// # Errors
    /// The spool's, or one that ends the walk at the results' cap.
    fn look_at(&mut self, name: &str, piece: Piece<'_>) -> std::io::Result<()> {
        if !self.search.finds(name) {
            return Ok(());
        }
        self.results += 1;
        if self.results > self.search.max {
            return Err(std::io::Error::other("the results are at their cap"));
        }
        self.spool.put(piece)
    }
}
