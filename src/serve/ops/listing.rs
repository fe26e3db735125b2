//! LIST and directory listings. The walk runs on the I/O pool and the
//! codec's [`ListingFormat`] writes the listing piece by piece into a spool
//! file ([`Store::spill`](crate::storage::Store::spill)),
//! which is then sent like a file: a listing of any size costs the
//! connection a descriptor, not memory, and a client that never reads it
//! holds nothing else. The spool also gives the length that both protocols
//! announce before the body.

use std::cell::RefCell;

use log::debug;

use crate::access::{Perm, Who};
use crate::model::{FileInfo, ListEntry, Md5Tag, Stamp};
use crate::name::Prefix;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::spool::{Body, Spool, Spooled};
use crate::serve::terms::Details;
use crate::serve::terms::Page;
use crate::serve::walk_permit;
use crate::serve::{
    Ctx, ErrorKind, Failure, ListingFormat, Next, Outcome, Piece, Reply, Scope, Send, Source,
    abandoned, refuse,
};
use crate::storage::StorageError;

/// The files whose names start with `prefix`.
#[derive(Debug)]
pub struct List {
    /// Prefix to match; empty lists everything.
    pub prefix: Prefix,
    /// The whole tree below it, or one directory.
    pub scope: Scope,
    /// How the codec writes it.
    pub format: ListingFormat,
    /// The listing follows the answer (false: only its length).
    pub body: bool,
}

impl Operate for List {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.prefix.as_str(), Needs::Listing(self.prefix.as_str()))
    }

    /// LIST, or an HTTP listing of one directory: walked and spooled on
    /// the pool, then sent from the spool (or only announced, when `body`
    /// is false). It shows only what `who` may read: files it may read,
    /// folders that lead to some.
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        let List {
            prefix,
            scope,
            format,
            body,
        } = self;
        list(ctx, who, prefix, scope, format, body)
    }
}

fn list(
    ctx: &Ctx<'_>,
    who: Who,
    prefix: Prefix,
    scope: Scope,
    format: ListingFormat,
    body: bool,
) -> Outcome {
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "LIST", prefix.as_str(), failure, Next::Request),
    };
    let mut format = format;
    let writable = crate::serve::check_writable(ctx.config).is_ok();
    format.rights(crate::serve::access::rights(
        &who,
        prefix.as_str(),
        writable,
    ));
    let walk = move |ctx: &Ctx<'_>| {
        // Its place is given back when the walk ends, or is dropped unrun.
        let _permit = permit;
        let mut format = format;
        format.lister(who.name());
        if format.wants_locks() {
            let locks = ctx.store.locks();
            if let Ok(table) = locks.current() {
                format.locks(table, locks.now());
            }
        }
        let files = !format.wants().no_files;
        let spool = Spool::new(ctx, &prefix, format);
        let named = matches!(scope, Scope::Named);
        let spooled = match scope {
            Scope::Tree => spool_tree(ctx, &who, &prefix, spool),
            Scope::Directory => ctx
                .store
                .list_directory(&prefix, files)
                .and_then(|listing| {
                    super::listing_folder::spool_directory(ctx, &who, listing, spool)
                }),
            Scope::Named => super::listing_folder::spool_named(ctx, &who, &prefix, spool),
            Scope::Keys(page) => spool_keys(ctx, &who, &prefix, &page, spool),
            Scope::Search(search) => {
                crate::serve::search::spool(ctx, &who, &prefix, &search, spool)
            }
        };
        let Spooled {
            body: spooled,
            len,
            files,
        } = match spooled {
            Ok(spooled) => spooled,
            Err(_) if ctx.is_abandoned() => return abandoned(ctx, "LIST", prefix.as_str()),
            // A name listed alone may have been meant as a file.
            Err(StorageError::NotFound) if named => {
                let missing = Failure::new(ErrorKind::NotFound, "no such file or folder");
                return refuse(ctx, "LIST", prefix.as_str(), missing, Next::Request);
            }
            Err(err) => return crate::serve::folder_refusal(ctx, "LIST", prefix.as_str(), err),
        };
        let held = matches!(spooled, Body::Held(_));
        debug!(
            "#{} LIST {:?} {files} files, {len} bytes{}",
            ctx.client,
            prefix.as_str(),
            if held { ", held" } else { "" }
        );
        let reply = Reply::Listing { len };
        if !body || len == 0 {
            return Outcome::answer(reply);
        }
        match spooled {
            Body::Held(held) => Outcome::new(reply, Next::Held(Box::new(held))),
            Body::File(body) => {
                let send = Send::new(body, Source::Listing(prefix), 0, len);
                Outcome::new(reply, Next::Send(send))
            }
        }
    };
    // Reading a big tree or folder is CPU work (its directories are
    // usually cached): the pool runs few listings at once.
    Outcome::on_pool_long(walk)
}

/// Every file below `prefix` that `who` may read, written as the walk
/// finds them. Folders that lead to nothing `who` may read are never read:
/// a listing costs what its client may see, not what the root holds (and
/// its time tells nothing of what is hidden). The walk stops at the next
/// folder once its client has gone.
fn spool_tree(
    ctx: &Ctx<'_>,
    who: &Who,
    prefix: &Prefix,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    spool.put(Piece::Start)?;
    spool.put(Piece::Files)?;
    let mut files = 0;
    let mut enter = |dir: &str, _: &_| match ctx.is_abandoned() {
        true => Err(std::io::Error::other("the client has gone")),
        false => Ok(who.may_list(dir)),
    };
    // What it may not read is not even looked at.
    let mut wanted = |name: &str| name.ends_with('/') || who.allows(Perm::Read, name);
    ctx.store
        .list(prefix, &mut wanted, &mut enter, &mut |entry| {
            files += 1;
            spool.put(Piece::File {
                entry,
                first: files == 1,
            })
        })?;
    spool.put(Piece::End)?;
    spool.finish(files)
}

/// One page of the names below `prefix` that `who` may read (see
/// [`Scope::Keys`]): the walk skips names and folders that hold nothing
/// after the page's start, and stops once it has found one entry more than the
/// page holds (the format then tells that more follow). Bounded by the
/// page, whatever the tree holds.
fn spool_keys(
    ctx: &Ctx<'_>,
    who: &Who,
    prefix: &Prefix,
    page: &Page,
    mut spool: Spool<'_>,
) -> Result<Spooled, StorageError> {
    if let Some(folder) = &page.within {
        ctx.store.find_folder(folder)?;
    }
    spool.put(Piece::Start)?;
    spool.put(Piece::Files)?;
    let md5 = spool.format.wants().md5;
    let mut paging = Paging {
        spool,
        found: 0,
        max: page.max,
        last_group: None,
    };
    // The folder the prefix names (`prefix=dir/`) comes first, as its
    // marker would in S3, while it is empty: below, only the folders
    // under it are looked at.
    if let Some(info) = named_empty_folder(ctx, who, prefix, page)? {
        match paging.marker(prefix.as_str(), info, md5) {
            Err(_) if paging.found > paging.max => return paging.end(),
            marked => marked?,
        }
    }
    // Both of the walk's callbacks put entries on the page.
    let paging = RefCell::new(paging);
    let keys = KeyWalk {
        ctx,
        who,
        prefix,
        page,
        md5,
    };
    let walked = ctx.store.list(
        prefix,
        &mut |name| keys.wanted(&paging, name),
        &mut |dir, info| keys.enter(&mut paging.borrow_mut(), dir, info),
        &mut |entry| keys.put(&mut paging.borrow_mut(), entry),
    );
    let paging = paging.into_inner();
    match walked {
        Err(_) if paging.found > page.max => {}
        walked => walked?,
    }
    paging.end()
}

/// One ListObjects walk's rules for what goes on its page
/// ([`spool_keys`]).
struct KeyWalk<'a> {
    ctx: &'a Ctx<'a>,
    who: &'a Who,
    prefix: &'a Prefix,
    page: &'a Page,
    /// The format answers each key's MD5 (its ETag).
    md5: bool,
}

impl KeyWalk<'_> {
    /// Whether the walk looks at `name` at all. Names before the page's
    /// start, and files `who` may not read, are skipped by name: never
    /// `lstat`ed, so a page costs its folder's names and what it shows,
    /// not an `lstat` of every entry. A file whose group is on the page
    /// already, or is where the page starts, is skipped likewise.
    fn wanted(&self, paging: &RefCell<Paging<'_>>, name: &str) -> bool {
        let (page, prefix) = (self.page, self.prefix.as_str());
        match name.ends_with('/') {
            true => page.reaches_past(name),
            false => {
                page.is_past(name)
                    && self.who.allows(Perm::Read, name)
                    && page.group(prefix, name).is_none_or(|group| {
                        page.after.as_deref() != Some(group) && !paging.borrow().has_put(group)
                    })
            }
        }
    }

    /// Whether the walk goes into the folder `dir`; a folder that is an
    /// entry of the page (a group's, or an empty one's marker) is put.
    fn enter(&self, paging: &mut Paging<'_>, dir: &str, info: &FileInfo) -> std::io::Result<bool> {
        let (page, prefix) = (self.page, self.prefix.as_str());
        if self.ctx.is_abandoned() {
            return Err(std::io::Error::other("the client has gone"));
        }
        if !self.who.may_list(dir) {
            return Ok(false);
        }
        // A folder whose name holds the delimiter below the prefix (with
        // `/`: each folder below the prefix's) is its group's one entry,
        // not walked; where the page starts inside it, it is walked for
        // what of the group comes after.
        if let Some(group) = page.group(prefix, dir) {
            if page.after.as_deref() == Some(group) {
                return Ok(false);
            }
            if !page.is_past(dir) {
                return Ok(true);
            }
            paging.group(group)?;
            return Ok(false);
        }
        // An empty folder is a key of its own, `dir/`, as the marker that
        // made it (or would have) lists in S3 (docs/s3.md, "Folder
        // markers"); one that holds keys lists them only.
        let store = self.ctx.store;
        if dir.len() > prefix.len()
            && dir.starts_with(prefix)
            && page.is_past(dir)
            && store.is_empty_folder(dir).map_err(std::io::Error::other)?
        {
            let info = FileInfo { size: 0, ..*info };
            paging.marker(dir, info, self.md5)?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Puts the file `entry` on the page, or its group.
    fn put(&self, paging: &mut Paging<'_>, entry: &ListEntry) -> std::io::Result<()> {
        if let Some(group) = self.page.group(self.prefix.as_str(), &entry.name) {
            return paging.group(group);
        }
        if self.md5 {
            let md5 = self.ctx.store.recorded_md5(&entry.name);
            paging.spool.format.details(Details {
                md5,
                ..Details::default()
            });
        }
        paging.put(Piece::File {
            entry,
            first: false,
        })
    }
}

/// The time of the folder a page's prefix names (`<bucket>/dir/`, not
/// the bucket itself) where it is there, empty, listable by `who` and
/// after the page's start; `None` otherwise.
///
/// # Errors
/// It cannot be read (500, 503).
fn named_empty_folder(
    ctx: &Ctx<'_>,
    who: &Who,
    prefix: &Prefix,
    page: &Page,
) -> Result<Option<FileInfo>, StorageError> {
    let dir = prefix.as_str();
    let bucket = page.within.as_ref().map_or(0, |b| b.as_str().len() + 1);
    if !dir.ends_with('/') || dir.len() <= bucket || !page.is_past(dir) || !who.may_list(dir) {
        return Ok(None);
    }
    match ctx.store.empty_folder(dir) {
        Err(StorageError::NotFound) => Ok(None),
        found => found,
    }
}

/// A page being spooled: its entries counted, so that the walk stops at
/// the one beyond the last.
struct Paging<'a> {
    spool: Spool<'a>,
    found: usize,
    max: usize,
    /// The last group put ([`Page::group`]): the names after it in the
    /// walk that are of it are not put again.
    last_group: Option<String>,
}

impl Paging<'_> {
    /// Puts an entry on the page.
    ///
    /// # Errors
    /// The spool's, or, once this was the entry beyond the page, one that
    /// ends the walk.
    fn put(&mut self, piece: Piece<'_>) -> std::io::Result<()> {
        self.found += 1;
        self.spool.put(piece)?;
        match self.found > self.max {
            true => Err(std::io::Error::other("the page is full")),
            false => Ok(()),
        }
    }

    /// Puts `group` (see [`Page::group`]) on the page, unless it was the
    /// last put.
    ///
    /// # Errors
    /// As [`Paging::put`]'s.
    fn group(&mut self, group: &str) -> std::io::Result<()> {
        if self.has_put(group) {
            return Ok(());
        }
        self.last_group = Some(group.to_owned());
        self.put(Piece::Directory {
            name: group,
            mtime: 0,
            first: false,
        })
    }

    /// Whether `group` is the last group put.
    fn has_put(&self, group: &str) -> bool {
        self.last_group.as_deref() == Some(group)
    }

    /// Ends the page.
    ///
    /// # Errors
    /// The spool's.
    fn end(mut self) -> Result<Spooled, StorageError> {
        self.spool.put(Piece::End)?;
        self.spool.finish(self.found as u64)
    }

    /// Puts empty folder `dir` (ending in `/`) on the page as the key a
    /// marker of it is: size 0, the ETag of no bytes.
    ///
    /// # Errors
    /// As [`Paging::put`]'s.
    fn marker(&mut self, dir: &str, info: FileInfo, md5: bool) -> std::io::Result<()> {
        let entry = ListEntry {
            name: dir.to_owned(),
            info,
            stamp: Stamp::default(),
        };
        if md5 {
            let details = Details {
                md5: Some(Md5Tag::EMPTY),
                ..Details::default()
            };
            self.spool.format.details(details);
        }
        self.put(Piece::File {
            entry: &entry,
            first: false,
        })
    }
}
