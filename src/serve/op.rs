//! Every operation declared once: what a client may ask for
//! ([`Operation`]), whatever protocol carried it, and for each its facts
//! ([`Operation::declared`]: its [`Verb`], what it is about, what it needs
//! of the client's grants), its verb's name in logs and metrics and
//! whether it writes ([`Verb`]'s table; `--read-only` is checked once, in
//! `serve`). Its serve function is reached through `dispatch.rs`
//! ([`Operation::serve`]), so that the serve files can read these
//! declarations without this file naming them back. A new verb is an arm
//! in each of these, its serve function, and each codec's mapping. The
//! terms requests are stated in (bodies, ranges, listings, locks) are in
//! `terms.rs`, a multipart request's parts in `part_asks.rs`; what a
//! client is told comes back as a `Reply` (`reply.rs`). Nothing here
//! knows a wire format or a status code.
//!
//! Why it is long: every operation is declared here once, by design (an
//! `Operation` variant with its documented fields, an arm in `declared`,
//! its `Verb`'s facts, what it `Needs`): splitting the tables would
//! scatter what this file exists to keep in one place.

use super::conditions::Conditions;
use super::digest::BodyDigests;
use super::part_asks::{CopyPartAsk, ListedPart, PartAsk};
use super::piece::PieceChecksum;
use super::props::{PropTarget, PropUpdate};
use super::terms::{
    Body, Choose, CopyTime, Folders, ListingFormat, LockAsk, Making, Scope, Trailer, Want,
};
use crate::access::Secret;
use crate::name::{Name, Prefix};
use crate::storage::NewProps;

/// The bytes that come with a request that creates an upload (tus's
/// creation-with-upload): how many, and the checksum they must match.
pub type FirstBytes = (u64, Option<PieceChecksum>);

/// A decoded request: the operation, and the token it presented with it
/// (HTTP's `Authorization`; FERRY/1 authenticates with its own
/// [`Operation::Auth`] instead).
#[derive(Debug)]
pub struct Request {
    /// What it asks for.
    pub operation: Operation,
    /// The token it carries.
    pub token: Option<Secret>,
    /// What it states of the resources' state and the lock tokens it
    /// submits (HTTP's `If:`; `serve/locks.rs`): boxed, as it is rare.
    pub conditions: Option<Box<Conditions>>,
}

impl Request {
    /// `operation` with `token` and no conditions.
    pub fn new(operation: Operation, token: Option<Secret>) -> Request {
        Request {
            operation,
            token,
            conditions: None,
        }
    }
}

impl From<Operation> for Request {
    fn from(operation: Operation) -> Request {
        Request::new(operation, None)
    }
}

/// One request, whatever protocol carried it. (FERRY/1's own parse result,
/// `protocol::Request`, mirrors that protocol's grammar word for word, as
/// its fuzzers check it against PROTOCOL.md; its codec maps it to this.)
#[derive(Debug)]
pub enum Operation {
    /// Store the body that follows as `name`, atomically.
    Put {
        /// Target name.
        name: Name,
        /// How the body arrives.
        body: Body,
        /// The CRC-32C the client computed, checked before commit.
        crc: Option<u32>,
        /// The modification time to give the file (Unix seconds).
        mtime: Option<i64>,
        /// The CRC-32C follows the body, in this trailer (FERRY/1's
        /// `PUT <name> <size> -`): the framing has its bytes after `body`.
        trailer: Option<Trailer>,
        /// Digests the body must match, and its MD5 answered (S3's
        /// `x-amz-content-sha256`, `Content-MD5` and `ETag`).
        digests: Option<Box<BodyDigests>>,
        /// Whether missing parent folders are made (and those made pruned
        /// again if the upload fails).
        folders: Folders,
        /// Dead properties the new version is written with (S3's object
        /// metadata; boxed: rare).
        props: Option<Box<NewProps>>,
        /// Preconditions on the target (`If-Match`, `If-None-Match`),
        /// judged again at the commit: set from the request's conditions
        /// ([`Operation::keep_preconditions`]), not by a codec.
        preconditions: Option<Box<Conditions>>,
    },
    /// Send (part of) `name`.
    Get {
        /// File to read.
        name: Name,
        /// Which bytes, decided once the file's version is known.
        want: Want,
    },
    /// Describe `name`: size, modification time, checksum.
    Stat {
        /// File to describe.
        name: Name,
    },
    /// The files whose names start with `prefix`.
    List {
        /// Prefix to match; empty lists everything.
        prefix: Prefix,
        /// The whole tree below it, or one directory.
        scope: Scope,
        /// How the codec writes it.
        format: ListingFormat,
        /// The listing follows the answer (false: only its length).
        body: bool,
    },
    /// The folder `prefix` as one archive.
    Archive {
        /// The folder (empty for the top, else ending in `/`).
        prefix: Prefix,
        /// Tar or zip.
        format: super::ArchiveFormat,
        /// The archive follows the answer (false: only its length).
        body: bool,
    },
    /// Remove `name`.
    Delete {
        /// File to remove.
        name: Name,
        /// Whether the folders it leaves empty go with it.
        folders: Folders,
    },
    /// Remove each of `names`, all in the folder `prefix`, that the
    /// client may delete, as `Delete` would, telling each one's outcome
    /// (S3's `DeleteObjects`).
    DeleteEach {
        /// The folder they are in (S3's bucket), ending in `/`.
        prefix: Prefix,
        /// The files, each in `prefix`.
        names: Vec<Name>,
        /// Whether the folders each leaves empty go with it.
        folders: Folders,
    },
    /// Remove the folder `prefix` and everything in it that the client
    /// may delete (WebDAV's `DELETE` of a collection; FERRY/1's
    /// `DEL <folder>/`).
    DeleteFolder {
        /// The folder (ending in `/`; the root is refused).
        prefix: Prefix,
        /// How folders come and go: where they are things of their own
        /// (HTTP, WebDAV), each folder's removal needs `delete` on its
        /// name; where they are implicit (FERRY/1), they go with the last
        /// file in them.
        folders: Folders,
    },
    /// Make the folder `name`, whose parent exists (WebDAV's `MKCOL`;
    /// FERRY/1 has no verb for it yet).
    MakeFolder {
        /// The folder's name.
        name: Name,
        /// Alone, with the missing folders above it, or as S3's bucket.
        making: Making,
    },
    /// Remove the folder `name` if it holds nothing (S3's `DeleteBucket`;
    /// FERRY/1 has no verb for it yet).
    RemoveFolder {
        /// The folder's name.
        name: Name,
    },
    /// Rename file `from` to `to` (replacing a file there if
    /// `overwrite`).
    Move {
        /// File to rename.
        from: Name,
        /// Its new name.
        to: Name,
        /// What may be replaced at `to`.
        overwrite: Overwrite,
        /// Whether the folders `from` leaves empty go with it, and (with
        /// [`Overwrite::Files`]) whether those of `to` are made.
        folders: Folders,
    },
    /// Copy file `from` to `to`, whose parent folder exists, as an upload
    /// of its bytes would be stored (WebDAV's `COPY`; FERRY/1 has no verb
    /// for it yet).
    Copy {
        /// File to copy.
        from: Name,
        /// The copy's name.
        to: Name,
        /// Replace a file at `to`; `false` refuses, touching nothing.
        overwrite: bool,
        /// Whether `to`'s parent folder must exist ([`Folders::Explicit`],
        /// WebDAV's) or is made (S3's keys, [`Folders::Keys`]: then what
        /// has `to`'s name is replaced as a PUT replaces it, a folder
        /// never).
        folders: Folders,
        /// The copy's modification time.
        mtime: CopyTime,
        /// Dead properties of one namespace the copy has instead of the
        /// source's (S3's `REPLACE`); `None`: all of the source's, as
        /// WebDAV's COPY (RFC 4918 9.8.2).
        props: Option<Box<NewProps>>,
        /// A dialect's conditions on the source's version (S3's
        /// `x-amz-copy-source-if-*`), judged once it is open: anything
        /// but its whole bytes refuses the copy (412).
        source: Option<Box<dyn Choose>>,
    },
    /// Copy folder `from` to `to` (WebDAV's `COPY` of a collection).
    CopyFolder {
        /// The folder (ending in `/`; never the root).
        from: Prefix,
        /// The copy (ending in `/`), whose parent folder exists.
        to: Prefix,
        /// Everything in it (`Depth: infinity`), or the folder alone.
        deep: bool,
        /// Replace what has the name `to` (removed as DELETE would).
        overwrite: bool,
    },
    /// Move folder `from` to `to` in one rename (WebDAV's `MOVE` of a
    /// collection).
    MoveFolder {
        /// The folder (ending in `/`; never the root).
        from: Prefix,
        /// Its new name (ending in `/`), whose parent folder exists.
        to: Prefix,
        /// Replace what has the name `to` (removed as DELETE would).
        overwrite: bool,
    },
    /// Lock `name` (WebDAV's `LOCK`; FERRY/1 has no verb for it): a new
    /// lock (an unmapped name becomes an empty file) or a refresh.
    Lock {
        /// The name (a folder's without its `/`).
        name: Name,
        /// What is asked (boxed: an owner's XML is rare and long).
        ask: Box<LockAsk>,
    },
    /// Remove the lock with `token` from `name` (WebDAV's `UNLOCK`).
    Unlock {
        /// The name (a folder's without its `/`).
        name: Name,
        /// The lock's token (`Lock-Token`).
        token: String,
    },
    /// Change the properties of a file or folder (WebDAV's `PROPPATCH`):
    /// all of `updates`, in order, or none.
    PropPatch {
        /// The file or folder.
        target: PropTarget,
        /// What to change.
        updates: Vec<PropUpdate>,
    },
    /// Send back the `size` body bytes that follow.
    Echo {
        /// Body length.
        size: u64,
    },
    /// Start (or find) a resumable upload of `size` bytes to `name`.
    Upload {
        /// Target name.
        name: Name,
        /// Full size of the file; `None` until an APPEND declares it (tus's
        /// creation-defer-length). An option, not a marker value: no size a
        /// client sends can stand for "not known yet".
        size: Option<u64>,
        /// Its CRC-32C, checked on commit. `None` where the client does not
        /// say (tus): then nothing could find the upload again by what it
        /// is, so each is a session of its own, and the staged bytes' own
        /// CRC is recorded.
        crc: Option<u32>,
        /// What the client says of it, kept with it (tus's
        /// `Upload-Metadata`, checked by the dialect: one printable line).
        meta: Option<String>,
        /// Bytes that follow the request, staged at once (tus's
        /// creation-with-upload), and what they must add up to; the
        /// session commits once whole.
        first: Option<Box<FirstBytes>>,
    },
    /// Stage the `len` body bytes that follow at `offset` of upload `id`.
    Append {
        /// Upload id, as the codec accepted it.
        id: String,
        /// Where the bytes go; must be where the upload stands.
        offset: u64,
        /// Body length.
        len: u64,
        /// Commit the upload once these bytes make it whole (tus: the last
        /// `PATCH` ends an upload; FERRY/1 has its `COMMIT`).
        commit: bool,
        /// What the bytes must add up to, or they are taken back (tus's
        /// `Upload-Checksum`).
        checksum: Option<PieceChecksum>,
        /// The upload's size, declared with these bytes where it was begun
        /// without one (tus's creation-defer-length).
        size: Option<u64>,
    },
    /// What the server offers, nothing done (HTTP's `OPTIONS`: the
    /// dialect that took it says what it can).
    Options,
    /// How far upload `id` has come (tus's `HEAD`).
    Progress {
        /// Upload id.
        id: String,
    },
    /// Verify and commit a complete upload.
    Commit {
        /// Upload id.
        id: String,
        /// The modification time to give the file (Unix seconds).
        mtime: Option<i64>,
    },
    /// Discard an upload.
    Abort {
        /// Upload id.
        id: String,
    },
    /// List the upload sessions the client may write.
    Sessions,
    /// Authenticate with a token for the rest of the connection.
    Auth {
        /// The token.
        token: Secret,
    },
    /// Say goodbye and close.
    Quit,
    /// Begin a multipart upload of `name` (S3's CreateMultipartUpload): a
    /// session whose parts are staged beside it (`serve/multipart.rs`).
    BeginParts {
        /// The object it makes.
        name: Name,
        /// The modification time the object is to have (rclone's
        /// `x-amz-meta-mtime`), kept with the session until completion.
        mtime: Option<i64>,
        /// Dead properties the object is to have (S3's metadata), kept
        /// with the session until completion.
        props: Option<Box<NewProps>>,
        /// The checksum its parts state and the object is to have
        /// (`serve/upload_checksum.rs`), kept with the session too.
        checksum: Option<super::upload_checksum::UploadChecksum>,
    },
    /// Stage the body that follows as a part of a multipart upload of
    /// `name` (S3's UploadPart), in place of any part of its number.
    PutPart {
        /// The object the upload makes.
        name: Name,
        /// The upload, the part's number, its body and digests (boxed:
        /// rare).
        ask: Box<PartAsk>,
    },
    /// Stage part `ask.number` of multipart upload `ask.id` of `name` from
    /// the bytes of file `from` (S3's UploadPartCopy), as its `ask.source`
    /// chooses them.
    CopyPart {
        /// The object the upload makes.
        name: Name,
        /// The file the part is copied from.
        from: Name,
        /// The upload, the part's number, what of `from` it takes (boxed:
        /// rare).
        ask: Box<CopyPartAsk>,
    },
    /// Complete multipart upload `id` of `name` from `parts` (number and
    /// ETag, as the client listed them): the object is committed.
    CompleteParts {
        /// The object.
        name: Name,
        /// The upload.
        id: String,
        /// The parts that make it, in order.
        parts: Vec<ListedPart>,
        /// The checksums it states of them and of the object, if any.
        stated: Option<Box<super::upload_checksum::Stated>>,
        /// Preconditions on the object (`If-Match`, `If-None-Match`),
        /// judged again at the commit: set from the request's conditions
        /// ([`Operation::keep_preconditions`]), not by a codec.
        preconditions: Option<Box<Conditions>>,
    },
    /// Discard multipart upload `id` of `name` and its parts.
    AbortParts {
        /// The object it was to make.
        name: Name,
        /// The upload.
        id: String,
    },
    /// One page of the parts of multipart upload `id` of `name`.
    ListParts {
        /// The object.
        name: Name,
        /// The upload.
        id: String,
        /// The part number the page starts after.
        after: u32,
        /// Most parts on it.
        max: usize,
    },
    /// One page of the multipart uploads of names under `prefix`.
    ListUploads {
        /// The names' prefix (a bucket's folder, and a key prefix).
        prefix: Prefix,
        /// The name and upload id the page starts after.
        after: Option<(String, String)>,
        /// Most uploads on it.
        max: usize,
    },
    /// Whether the server can serve files now: its storage answers, and
    /// takes writes unless it is read-only (FERRY/1 `HEALTH`, HTTP
    /// `/.ferry-health`: a balancer's check).
    Health,
}

impl Operation {
    /// The body that follows the request (none for most).
    pub fn body(&self) -> Body {
        match self {
            Operation::Put { body, trailer, .. } => trailer.map_or(*body, |t| t.after(*body)),
            Operation::PutPart { ask, .. } => ask.body,
            Operation::Append { len: size, .. } | Operation::Echo { size } => Body::fixed(*size),
            Operation::Upload {
                first: Some(first), ..
            } => Body::fixed(first.0),
            _ => Body::fixed(0),
        }
    }

    /// What the serve layer knows of it before running it: its verb, what
    /// it is about and what it needs of the client's grants (one arm per
    /// operation: the rest of its facts are its [`Verb`]'s).
    pub fn declared(&self) -> Declared<'_> {
        fn declared<'a>(verb: Verb, subject: &'a str, needs: Needs<'a>) -> Declared<'a> {
            Declared {
                verb,
                subject,
                to: None,
                needs,
            }
        }
        match self {
            Operation::Put { name, .. } => {
                declared(Verb::Put, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::Get { name, .. } => {
                declared(Verb::Get, name.as_str(), Needs::Read(name.as_str()))
            }
            Operation::Stat { name } => {
                declared(Verb::Stat, name.as_str(), Needs::Read(name.as_str()))
            }
            Operation::List { prefix, .. } => {
                declared(Verb::List, prefix.as_str(), Needs::Listing(prefix.as_str()))
            }
            Operation::Archive { prefix, .. } => {
                declared(Verb::Tar, prefix.as_str(), Needs::Listing(prefix.as_str()))
            }
            Operation::Delete { name, .. } => {
                declared(Verb::Delete, name.as_str(), Needs::Delete(name.as_str()))
            }
            // One verb with a file's DELETE: each file is checked on the
            // pool as the walk finds it.
            Operation::DeleteFolder { prefix, .. } => declared(
                Verb::Delete,
                prefix.as_str(),
                Needs::DeleteUnder(prefix.as_str()),
            ),
            // Each name's grant and locks are checked on the pool.
            Operation::DeleteEach { prefix, .. } => declared(
                Verb::Delete,
                prefix.as_str(),
                Needs::DeleteEach(prefix.as_str()),
            ),
            Operation::MakeFolder { name, making } => {
                let needs = match making {
                    Making::Bucket => Needs::WriteOrWithin(name.as_str()),
                    Making::Alone | Making::WithParents => Needs::Write(name.as_str()),
                };
                declared(Verb::MakeFolder, name.as_str(), needs)
            }
            // One verb with a file's DELETE, and its permission on the
            // folder's own name (a grant on `a/` does not cover `a`).
            Operation::RemoveFolder { name } => {
                declared(Verb::Delete, name.as_str(), Needs::Delete(name.as_str()))
            }
            Operation::Move { from, to, .. } => Declared {
                verb: Verb::Move,
                subject: from.as_str(),
                to: Some(to.as_str()),
                needs: Needs::Move(from.as_str(), to.as_str()),
            },
            Operation::CopyFolder { from, to, .. } => Declared {
                verb: Verb::Copy,
                subject: from.as_str(),
                to: Some(to.as_str()),
                needs: Needs::CopyUnder(from.as_str(), to.as_str()),
            },
            Operation::MoveFolder { from, to, .. } => Declared {
                verb: Verb::Move,
                subject: from.as_str(),
                to: Some(to.as_str()),
                needs: Needs::MoveWhole(from.as_str(), to.as_str()),
            },
            Operation::Copy { from, to, .. } => Declared {
                verb: Verb::Copy,
                subject: from.as_str(),
                to: Some(to.as_str()),
                needs: Needs::Copy(from.as_str(), to.as_str()),
            },
            // A lock is a write (the `write` grant; refused read-only).
            Operation::Lock { name, .. } => {
                declared(Verb::Lock, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::Unlock { name, .. } => {
                declared(Verb::Unlock, name.as_str(), Needs::Write(name.as_str()))
            }
            // As a PUT of it would: a file's properties are its writer's.
            Operation::PropPatch { target, .. } => {
                declared(Verb::PropPatch, target.path(), Needs::Write(target.path()))
            }
            Operation::Echo { .. } => declared(Verb::Echo, "", Needs::Token),
            Operation::Upload { name, .. } => {
                declared(Verb::Upload, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::Append { id, .. } => declared(Verb::Append, id, Needs::Session),
            Operation::Progress { id } => declared(Verb::Progress, id, Needs::Session),
            Operation::Options => declared(Verb::Options, "", Needs::Nothing),
            Operation::Commit { id, .. } => declared(Verb::Commit, id, Needs::Session),
            Operation::Abort { id } => declared(Verb::Abort, id, Needs::Session),
            Operation::Sessions => declared(Verb::Sessions, "", Needs::Token),
            // A multipart upload's steps are those of a session, each
            // needing what a PUT of the object would; its listing, what a
            // listing of the names would.
            Operation::BeginParts { name, .. } => {
                declared(Verb::Upload, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::PutPart { name, .. } => {
                declared(Verb::Append, name.as_str(), Needs::Write(name.as_str()))
            }
            // A part copied needs what a CopyObject to the key would.
            Operation::CopyPart { name, from, .. } => declared(
                Verb::Append,
                name.as_str(),
                Needs::Copy(from.as_str(), name.as_str()),
            ),
            Operation::CompleteParts { name, .. } => {
                declared(Verb::Commit, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::AbortParts { name, .. } => {
                declared(Verb::Abort, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::ListParts { name, .. } => {
                declared(Verb::Progress, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::ListUploads { prefix, .. } => declared(
                Verb::Sessions,
                prefix.as_str(),
                Needs::Listing(prefix.as_str()),
            ),
            Operation::Auth { .. } => declared(Verb::Auth, "", Needs::Nothing),
            Operation::Quit => declared(Verb::Quit, "", Needs::Nothing),
            // A balancer has no token; the answer tells nothing of files.
            Operation::Health => declared(Verb::Health, "", Needs::Nothing),
        }
    }

    /// Keeps an upload's preconditions on its target (`If-Match`,
    /// `If-None-Match`), judged before its body (or a multipart upload's
    /// assembly), to be judged again at its commit: a long body, or many
    /// parts, leave time for another writer. Other operations are judged
    /// before they are served only: they take no time between.
    pub(super) fn keep_preconditions(&mut self, conditions: &Conditions) {
        match self {
            Operation::Put { preconditions, .. }
            | Operation::CompleteParts { preconditions, .. } => {
                *preconditions = conditions.at_commit();
            }
            _ => {}
        }
    }
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

/// An operation as the serve layer sees it before running it.
#[derive(Debug, Clone, Copy)]
pub struct Declared<'a> {
    /// What kind of operation it is.
    pub verb: Verb,
    /// The file, the listing's prefix or the session id it is about (empty
    /// for none), for the log.
    pub subject: &'a str,
    /// A move's new name.
    pub to: Option<&'a str>,
    /// What it needs of the client's grants.
    pub needs: Needs<'a>,
}

/// The kinds of operation, in the order metrics count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Store a file.
    Put,
    /// Send (part of) a file.
    Get,
    /// Describe a file.
    Stat,
    /// List names.
    List,
    /// A folder as a tar archive.
    Tar,
    /// Remove a file.
    Delete,
    /// Rename a file.
    Move,
    /// Send back a body.
    Echo,
    /// Start a resumable upload.
    Upload,
    /// Stage bytes of one.
    Append,
    /// Commit one.
    Commit,
    /// Discard one.
    Abort,
    /// Authenticate.
    Auth,
    /// Close.
    Quit,
    /// List a token's upload sessions.
    Sessions,
    /// Tell how far an upload has come.
    Progress,
    /// Say what the server offers.
    Options,
    /// Make a folder.
    MakeFolder,
    /// Say whether the server can serve files.
    Health,
    /// Copy a file.
    Copy,
    /// Lock a name (WebDAV).
    Lock,
    /// Unlock one.
    Unlock,
    /// Change a file's or folder's properties.
    PropPatch,
}

/// A verb's facts.
struct Facts {
    /// In log lines.
    log: &'static str,
    /// In metrics labels and the access log.
    label: &'static str,
    /// It changes the tree or the staged uploads.
    writes: bool,
}

impl Verb {
    /// Every verb, each at its [`Verb::index`].
    pub const ALL: [Verb; 23] = [
        Verb::Put,
        Verb::Get,
        Verb::Stat,
        Verb::List,
        Verb::Tar,
        Verb::Delete,
        Verb::Move,
        Verb::Echo,
        Verb::Upload,
        Verb::Append,
        Verb::Commit,
        Verb::Abort,
        Verb::Auth,
        Verb::Quit,
        Verb::Sessions,
        Verb::Progress,
        Verb::Options,
        Verb::MakeFolder,
        Verb::Health,
        Verb::Copy,
        Verb::Lock,
        Verb::Unlock,
        Verb::PropPatch,
    ];

    fn facts(self) -> Facts {
        let facts = |log, label, writes| Facts { log, label, writes };
        match self {
            Verb::Put => facts("PUT", "put", true),
            Verb::Get => facts("GET", "get", false),
            Verb::Stat => facts("STAT", "stat", false),
            Verb::List => facts("LIST", "list", false),
            Verb::Tar => facts("TAR", "tar", false),
            Verb::Delete => facts("DEL", "delete", true),
            Verb::Move => facts("MOVE", "move", true),
            Verb::Echo => facts("ECHO", "echo", false),
            Verb::Upload => facts("UPLOAD", "upload", true),
            Verb::Append => facts("APPEND", "append", true),
            Verb::Commit => facts("COMMIT", "commit", true),
            Verb::Abort => facts("ABORT", "abort", true),
            Verb::Auth => facts("AUTH", "auth", false),
            Verb::Quit => facts("QUIT", "quit", false),
            Verb::Sessions => facts("SESSIONS", "sessions", false),
            Verb::Progress => facts("PROGRESS", "progress", false),
            Verb::Options => facts("OPTIONS", "options", false),
            Verb::MakeFolder => facts("MKCOL", "mkcol", true),
            Verb::Health => facts("HEALTH", "health", false),
            Verb::Copy => facts("COPY", "copy", true),
            Verb::Lock => facts("LOCK", "lock", true),
            Verb::Unlock => facts("UNLOCK", "unlock", true),
            Verb::PropPatch => facts("PROPPATCH", "proppatch", true),
        }
    }

    /// Its name in log lines (`PUT`, `DEL`...).
    pub fn name(self) -> &'static str {
        self.facts().log
    }

    /// Its label in metrics and the access log (`put`, `delete`...).
    pub fn label(self) -> &'static str {
        self.facts().label
    }

    /// Whether it writes: refused on a read-only server.
    pub fn writes(self) -> bool {
        self.facts().writes
    }

    /// Its place in [`Verb::ALL`] (and in per-verb tables).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Where per-verb tables (the request metrics, the access log) count
    /// a request the codec refused before it named a verb (`invalid`):
    /// after every verb.
    pub const INVALID: u8 = Verb::ALL.len() as u8;

    /// The label counted at `index`: a verb's ([`Verb::index`]), or
    /// `invalid` ([`Verb::INVALID`]).
    pub fn label_at(index: u8) -> &'static str {
        Verb::ALL
            .get(usize::from(index))
            .map_or("invalid", |verb| verb.label())
    }
}

/// What an operation needs of the client's grants before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs<'a> {
    /// Nothing (authenticating, closing).
    Nothing,
    /// To read the file.
    Read(&'a str),
    /// To write the file.
    Write(&'a str),
    /// To write the folder's own name, or something within it (S3's
    /// CreateBucket: its serve function makes nothing without the first).
    WriteOrWithin(&'a str),
    /// To delete the file.
    Delete(&'a str),
    /// To delete something under the prefix (each file is checked as it
    /// is found).
    DeleteUnder(&'a str),
    /// To delete something under the prefix: each named file is checked,
    /// grants and locks, as its turn comes (`deletes.rs`).
    DeleteEach(&'a str),
    /// To delete the one and write the other, as DEL and PUT would.
    Move(&'a str, &'a str),
    /// To read the one and write the other, as GET and PUT would.
    Copy(&'a str, &'a str),
    /// To read something under the one and write something under the
    /// other (each file is checked as the walk finds it).
    CopyUnder(&'a str, &'a str),
    /// To delete everything under the one and write everything under the
    /// other: one rename moves it all.
    MoveWhole(&'a str, &'a str),
    /// To see something under the prefix (see `Who::may_list`).
    Listing(&'a str),
    /// A token, when access control is on.
    Token,
    /// To write the file of the session, checked once it is found.
    Session,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_labels_are_distinct() {
        for (at, verb) in Verb::ALL.into_iter().enumerate() {
            assert_eq!(verb.index(), at);
            assert!(Verb::ALL[..at].iter().all(|v| v.label() != verb.label()));
            assert!(Verb::ALL[..at].iter().all(|v| v.name() != verb.name()));
        }
    }
}
