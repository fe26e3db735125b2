//! The terms operations are stated in, whichever protocol carried them:
//! a body's framing ([`Body`], a trailing checksum), which bytes a GET
//! wants and how they are chosen once the file's version is known
//! ([`Want`], [`Selection`]), and how much of the tree a listing shows
//! and in what format ([`Scope`], [`ListingFormat`]). Nothing here knows a
//! wire format or a status code.

use std::fmt;

pub use super::choose::{Choose, Selection, Version};

pub use crate::model::Folders;
use crate::name::Name;

/// How a folder is made ([`super::Operation::MakeFolder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Making {
    /// Its parent must be there, and it must not be (WebDAV's MKCOL).
    Alone,
    /// With the missing folders above it but the first (its bucket); one
    /// there already is no error (S3's folder marker, `PUT key/`).
    WithParents,
    /// S3's CreateBucket, a folder of the root: made by a key that may
    /// write its name; one there already is no error (us-east-1's `200`)
    /// to that key, or to one that may write within it, which makes
    /// nothing (rclone calls CreateBucket before a copy, with a key
    /// limited to the bucket too).
    Bucket,
}
use crate::model::{DeadProperty, ListEntry, Space};

/// How much of the tree below a prefix a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every file at any depth whose name starts with the prefix (FERRY/1
    /// `LIST`); a prefix with nothing under it lists nothing.
    Tree,
    /// The files and subdirectories directly in the directory the prefix
    /// names (an HTTP listing); a prefix that is no directory is "not
    /// found". Nothing below the subdirectories is read.
    Directory,
    /// The one name the prefix is, without its `/` (WebDAV's `PROPFIND`
    /// of a name): a folder's listing as for [`Scope::Directory`] (or
    /// the folder alone, where its format wants only that:
    /// [`Wants::itself`]), or the
    /// file of that name alone ([`Piece::Only`]), spooled like any
    /// listing so that the answer holds nothing of it.
    Named,
    /// One page of the names below the prefix in name order (S3's
    /// `ListObjects`): files and, where the page is delimited, folders
    /// as one entry each, interleaved in name order.
    Keys(Box<Page>),
    /// The files and folders at any depth below the prefix whose own
    /// name holds a term (the web page's search): see [`Search`].
    Search(Box<Search>),
}

/// A [`Scope::Search`]: what is looked for, and how far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// Looked for in each file's and folder's own name (its last
    /// segment), without regard to case: already lowercase.
    pub term: String,
    /// Results at most: the walk stops at the one beyond, and the format
    /// is told ([`Format::truncated`]).
    pub max: usize,
    /// Files and folders looked at, at most: a search costs no more than
    /// this whatever the tree holds (then too the format is told).
    pub max_walked: u64,
}

impl Search {
    /// A search for `term` (any case) with the server's caps: 1,000
    /// results, 1,000,000 names looked at.
    pub fn new(term: &str) -> Search {
        Search {
            term: term.to_lowercase(),
            max: 1_000,
            max_walked: 1_000_000,
        }
    }

    /// Whether `name` (a file's, or a folder's ending in `/`) is found.
    pub fn finds(&self, name: &str) -> bool {
        let name = name.strip_suffix('/').unwrap_or(name);
        let own = name.rsplit('/').next().unwrap_or(name);
        own.to_lowercase().contains(&self.term)
    }
}

/// A page of a [`Scope::Keys`] listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// S3's delimiter (never empty): the names below the prefix that
    /// hold it are one entry per group ([`Page::group`], a
    /// [`Piece::Directory`]: S3's common prefix), and a folder whose own
    /// name holds it is that entry whole, its contents not walked; with
    /// `/`, each folder directly below the prefix's. `None`: every file at
    /// any depth is listed.
    pub delimiter: Option<String>,
    /// Only names after this one (S3's start-after, marker and
    /// continuation token).
    pub after: Option<String>,
    /// Entries on the page: the walk stops once it has found one more,
    /// which the format is given to tell that more follow, and writes not.
    pub max: usize,
    /// A folder without which the listing is "not found" rather than
    /// empty (S3's bucket).
    pub within: Option<Name>,
}

impl Page {
    /// Whether a folder (its name ends in `/`) may hold names after
    /// [`Page::after`], so that the walk enters it.
    pub fn reaches_past(&self, folder: &str) -> bool {
        self.after
            .as_deref()
            .is_none_or(|after| folder > after || after.starts_with(folder))
    }

    /// The group `name` (a file's, or a folder's ending in `/`) is part
    /// of below `prefix`: the name up to and including the delimiter's
    /// first occurrence after the prefix. `None` where the name stands
    /// for itself. Names of one group are neighbours in name order, so a
    /// walk puts each group once by comparing with the last it put.
    pub fn group<'a>(&self, prefix: &str, name: &'a str) -> Option<&'a str> {
        let delimiter = self.delimiter.as_deref().filter(|d| !d.is_empty())?;
        let at = name.strip_prefix(prefix)?.find(delimiter)?;
        name.get(..prefix.len() + at + delimiter.len())
    }

    /// Whether `name` (a file, or a folder's entry) is after
    /// [`Page::after`].
    pub fn is_past(&self, name: &str) -> bool {
        self.after.as_deref().is_none_or(|after| name > after)
    }
}

/// One piece of a listing. A codec's [`ListingFormat`] is given, in this
/// order: `Start`, each `Directory` (only for [`Scope::Directory`]),
/// `Files`, each `File`, `End`; or, for [`Scope::Named`] naming a file,
/// `Only`, and nothing else. A [`Scope::Keys`] page is `Start`, `Files`,
/// then `Directory` and `File` pieces interleaved in name order (at most
/// [`Page::max`] and one more), `End`. A [`Scope::Search`] is `Start`,
/// `Files`, then `Directory` and `File` pieces in name order, `End`.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    /// Before anything else.
    Start,
    /// A subdirectory, by full name ending in `/`.
    Directory {
        /// Its name.
        name: &'a str,
        /// Its modification time, Unix seconds.
        mtime: i64,
        /// It is the first one.
        first: bool,
    },
    /// After the directories, before the files.
    Files,
    /// A file.
    File {
        /// Its name, size and time.
        entry: &'a ListEntry,
        /// It is the first one.
        first: bool,
    },
    /// After everything else.
    End,
    /// The one file a [`Scope::Named`] listing names (its prefix is the
    /// file's name and `/`).
    Only(&'a ListEntry),
}

/// A codec's way of writing a listing of `prefix`: appends `piece` to
/// `out`. The serve layer calls it on the I/O pool, streaming the pieces
/// into a file the listing is then sent from, so no listing is ever held
/// whole in memory. A value, not a bare function, so that a format can
/// carry what the request asked of it (WebDAV's properties).
pub trait Format: fmt::Debug + std::marker::Send {
    /// Appends `piece` of the listing of `prefix` to `out`.
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>);

    /// Whether it tells the WebDAV locks of what it lists (then the
    /// listing hands it the table with [`Format::locks`] first).
    fn wants_locks(&self) -> bool {
        false
    }

    /// The live locks, and the time their timeouts count from.
    fn locks(&mut self, _locks: std::sync::Arc<[crate::model::DavLock]>, _now: i64) {}

    /// The name of the token the listing is for (`None`: access control
    /// off, or anonymous), told before the walk (S3's `Owner`: ferry
    /// keeps no owner per file).
    fn lister(&mut self, _name: Option<&str>) {}
    /// What the client may do in the listed folder (the web page offers
    /// only that), told before the walk begins.
    fn rights(&mut self, _rights: super::Rights) {}
    /// What the client may do in the next folder of a one-level listing
    /// (its `Directory` piece follows), told only where that differs from
    /// [`Format::rights`]: a grant lies below the listed folder.
    fn row_rights(&mut self, _rights: super::Rights) {}
    /// How many entries a one-level listing holds (before the grants
    /// hide any), told before `Start`: the web page sends a big folder
    /// in another form than a small one.
    fn entries(&mut self, _count: usize) {}
    /// What the walk should read for it beyond the pieces (`serve/ops/props.rs`).
    fn wants(&self) -> Wants {
        Wants::default()
    }

    /// What the walk read of the piece `put` is given next, as
    /// [`Format::wants`] asked.
    fn details(&mut self, _details: Details) {}

    /// The listing stopped before it had all it asked for (a
    /// [`Scope::Search`] at one of its caps); told before `End`.
    fn truncated(&mut self) {}
}

/// What a listing's format wants read beyond the pieces (WebDAV's
/// `PROPFIND`), on the pool with the walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wants {
    /// The listed folder's (or the named file's) own time and dead
    /// properties.
    pub own: bool,
    /// Its members' dead properties: one read of the folder's records,
    /// one lookup per member that has any.
    pub members: bool,
    /// The root's file system's space.
    pub space: bool,
    /// Each file's recorded MD5 tag (S3's `ETag`): the file opened and
    /// its record read, never its bytes.
    pub md5: bool,
    /// A one-level listing's files are not shown (S3's ListBuckets): the
    /// walk skips them by their directory entry, never `lstat`ing one.
    pub no_files: bool,
    /// A [`Scope::Named`] listing of a folder is the folder alone (FTP's
    /// `MLST`, WebDAV's `PROPFIND` at depth 0): it is looked up, its
    /// members never read, so a folder of any size costs one lookup.
    pub itself: bool,
}

impl Wants {
    /// The room to write in the listed folder, and nothing else (the
    /// JSON listing's, the page's usage bar).
    pub const SPACE: Wants = Wants {
        own: false,
        members: false,
        space: true,
        md5: false,
        no_files: false,
        itself: false,
    };
}

/// What the walk read of one piece, as [`Wants`] asked.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// The listed folder's own modification time (its `Start`).
    pub mtime: Option<i64>,
    /// Its dead properties.
    pub props: Vec<DeadProperty>,
    /// The root's space (with the listed folder or named file).
    pub space: Option<Space>,
    /// A file's recorded MD5 tag, where [`Wants::md5`] and one matches it.
    pub md5: Option<crate::model::Md5Tag>,
}

/// A format that needs nothing but the pieces: a plain function.
pub type PlainFormat = fn(prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>);

impl Format for PlainFormat {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        self(prefix, piece, out);
    }
}

/// How a listing is written, as an operation carries it.
pub type ListingFormat = Box<dyn Format>;

/// A checksum that follows an upload's body in a codec's own trailer: the
/// serve layer holds back its `len` bytes from the file and has the codec
/// read the CRC-32C from them once the body is complete. After a chunked
/// body, `len` is 0 and the codec reads the chunked trailer section.
#[derive(Debug, Clone, Copy)]
pub struct Trailer {
    /// Its length in bytes: fixed, so the body's framing stays known.
    pub len: u64,
    /// The CRC-32C it holds; `None` if it is malformed.
    pub parse: fn(&[u8]) -> Option<u32>,
}

impl Trailer {
    /// The framing of `body` followed by this trailer.
    pub fn after(self, body: Body) -> Body {
        let length = match body.length {
            BodyLength::Fixed(size) => BodyLength::Fixed(size.saturating_add(self.len)),
            length => length,
        };
        Body { length, ..body }
    }
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many bytes (0: no body).
    Fixed(u64),
    /// `Transfer-Encoding: chunked`: the length is known at its end.
    Chunked,
    /// To the end of the stream (FTP's `STOR` in stream mode: its data
    /// connection's orderly close ends the file; a reset cuts it).
    UntilEof,
}

/// A request's body as the serve layer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    /// Its framing.
    pub length: BodyLength,
    /// The client sends it only once told to go ahead (HTTP's
    /// `Expect: 100-continue`): a refusal cannot count on it arriving.
    pub awaits_go_ahead: bool,
}

impl Body {
    /// `size` bytes that follow the request at once.
    pub fn fixed(size: u64) -> Body {
        Body {
            length: BodyLength::Fixed(size),
            awaits_go_ahead: false,
        }
    }
}

/// The modification time a copy of a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyTime {
    /// When it is made (WebDAV's COPY).
    Now,
    /// The source's (S3's CopyObject with `COPY`: its metadata, the time
    /// among it, carried over).
    Source,
    /// This one (Unix seconds).
    Set(i64),
}

/// Which bytes of a file a GET wants.
#[derive(Debug)]
pub enum Want {
    /// `length` bytes (all that are left if `None`) from `offset`, which
    /// may be the end of the file (nothing is sent) but not beyond it.
    Span {
        /// First byte.
        offset: u64,
        /// Most bytes to send.
        length: Option<u64>,
    },
    /// The whole file, or (`body` false) only its description.
    Whole {
        /// The bytes follow the answer.
        body: bool,
    },
    /// The codec's own rules, applied to the file's version (HTTP's
    /// `Range`, `If-Range`, `If-None-Match`...).
    Chosen(Box<dyn Choose>),
}

impl Want {
    /// Whether the answer that sends `selection` must state the whole
    /// file's CRC-32C, and so wait for it to be computed if it is not
    /// known. HTTP's whole body states it (for the client to verify what it
    /// received). A span (FERRY/1's `GET`, whole or not) says `-` while
    /// it is not known (PROTOCOL.md 6.2), and a part of a file, a
    /// description alone, a "not modified" or a refusal needs none: the
    /// first byte of a large file placed by other means must not wait for
    /// a read of all of it.
    pub fn needs_checksum(&self, selection: &Selection) -> bool {
        match self {
            Want::Span { .. } => false,
            Want::Whole { body } => *body,
            Want::Chosen(_) => matches!(
                selection,
                Selection::Bytes {
                    part: false,
                    body: true,
                    ..
                }
            ),
        }
    }

    /// Whether the answer tells the file's dead properties
    /// ([`Choose::wants_props`]).
    pub fn wants_props(&self) -> bool {
        matches!(self, Want::Chosen(rule) if rule.wants_props())
    }

    /// Whether the answer tells the file's recorded additional checksum
    /// ([`Choose::wants_checksum`]).
    pub fn wants_checksum(&self) -> bool {
        matches!(self, Want::Chosen(rule) if rule.wants_checksum())
    }

    /// Amends the properties the answer is written from
    /// ([`Choose::amend`]).
    pub fn amend(&self, props: &mut Vec<crate::model::DeadProperty>) {
        if let Want::Chosen(rule) = self {
            rule.amend(props);
        }
    }

    /// The part wanted by number ([`Choose::part`]).
    pub fn part(&self) -> Option<u32> {
        match self {
            Want::Chosen(rule) => rule.part(),
            _ => None,
        }
    }

    /// Whether the name is in a bucket ([`Choose::in_bucket`]).
    pub fn in_bucket(&self) -> bool {
        matches!(self, Want::Chosen(rule) if rule.in_bucket())
    }

    /// Whether the answer tells the part sizes ([`Choose::wants_part_sizes`]).
    pub fn wants_part_sizes(&self) -> bool {
        matches!(self, Want::Chosen(rule) if rule.wants_part_sizes())
    }

    /// Applies this wish to `version`.
    pub fn select(&self, version: &Version) -> Selection {
        let size = version.info.size;
        match self {
            Want::Span { offset, .. } if *offset > size => Selection::Unsatisfiable,
            Want::Span { offset, length } => Selection::Bytes {
                start: *offset,
                len: (size - offset).min(length.unwrap_or(u64::MAX)),
                part: false,
                body: true,
            },
            Want::Whole { body } => Selection::Bytes {
                start: 0,
                len: size,
                part: false,
                body: *body,
            },
            Want::Chosen(rule) => rule.choose(version),
        }
    }
}

/// What a `LOCK` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAsk {
    /// A new lock.
    New {
        /// Shared (else exclusive).
        shared: bool,
        /// `Depth: infinity` (a folder's members too).
        deep: bool,
        /// The owner's XML, to be given back as it is.
        owner: String,
        /// The timeout asked for (`None`: infinite or unsaid).
        timeout: Option<u64>,
    },
    /// More time for a lock the request submits (no body).
    Refresh {
        /// The timeout asked for.
        timeout: Option<u64>,
    },
}

/// What a move may replace at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Nothing (WebDAV's `Overwrite: F`): a name taken is refused.
    Nothing,
    /// A file, atomically (ferry's HTTP and FERRY/1); a folder there is
    /// refused.
    Files,
    /// Anything: a folder there is removed first, as DELETE would
    /// (WebDAV's `Overwrite: T`, RFC 4918 9.9.3).
    Anything,
}

/// The bytes that come with a request that creates an upload (tus's
/// creation-with-upload): how many, and the checksum they must match.
#[derive(Debug)]
pub struct FirstBytes {
    /// How many.
    pub len: u64,
    /// What they must add up to.
    pub checksum: Option<super::piece::PieceChecksum>,
}
