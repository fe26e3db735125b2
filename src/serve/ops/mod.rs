//! The operations (mini-redis's `cmd/`): what a client may ask for,
//! whatever protocol carried it, each a type of its own with its fields
//! named, declared in the file of this folder that serves it (`files.rs`'s
//! [`Put`], `sessions.rs`'s [`Upload`], ...) with its facts beside it
//! ([`Operate`]: what it is about, what it needs of the grants, its body,
//! its serve function); the rules they all meet are the serve layer's,
//! around them. This file is only the list: the modules, each operation's
//! type and [`Verb`] ([`Operation`]), and the verbs' table (log name,
//! metrics label, whether it writes: `--read-only` is checked once, in
//! `serve`). A new verb is its file here, its lines in the lists here, and
//! each codec's mapping. Nothing here knows a wire format or a status
//! code.

pub(in crate::serve) mod archive;
pub(in crate::serve) mod at_change;
pub(in crate::serve) mod deletes;
pub(in crate::serve) mod describe;
pub(in crate::serve) mod destination;
pub(in crate::serve) mod file_copy;
pub(in crate::serve) mod files;
pub(in crate::serve) mod folder_copy;
pub(in crate::serve) mod folder_removal;
pub(in crate::serve) mod folders;
pub(in crate::serve) mod free_space;
pub(in crate::serve) mod get;
pub(in crate::serve) mod health;
#[cfg(feature = "shares")]
pub(in crate::serve) mod links;
pub(in crate::serve) mod listing;
mod listing_folder;
mod lock_release;
pub mod locks;
pub(in crate::serve) mod makes_only;
pub mod multipart;
mod open_checks;
pub(in crate::serve) mod props;
pub(in crate::serve) mod reservations;
pub(in crate::serve) mod resume;
pub(in crate::serve) mod session_admin;
pub(in crate::serve) mod session_commit;
pub(in crate::serve) mod sessions;
pub(in crate::serve) mod staged;
pub(in crate::serve) mod talk;
pub(in crate::serve) mod uploads;
#[cfg(feature = "shares")]
pub(in crate::serve) mod via_link;

use crate::access::{Secret, Who};
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Operate};
use crate::serve::{Body, Ctx, Outcome};

pub use crate::serve::terms::FirstBytes;
pub use archive::ArchiveFolder;
pub use deletes::{Delete, DeleteEach};
pub use describe::{Describe, being_written};
pub use file_copy::CopyFile;
pub use files::{MoveFile, Put, Stat};
pub use folder_copy::CopyFolder;
pub use folders::{DeleteFolder, MakeFolder, MoveFolder, RemoveFolder};
pub use free_space::FreeSpace;
pub use get::Get;
pub use health::Health;
#[cfg(feature = "shares")]
pub use links::{LinkBase, LinkTarget, ListLinks, MakeLink, RevokeLink};
pub use listing::List;
pub use locks::{Lock, Unlock};
pub use multipart::{AbortParts, BeginParts, CompleteParts, CopyPart, ListParts, PutPart};
pub use props::PropPatch;
pub use resume::{Close, Presence, Reopen, Resume, ResumeFrom, Seed};
pub use session_admin::{Abort, Progress, Sessions};
pub use sessions::{Append, Commit, Upload};
pub use staged::ReadStaged;
pub use talk::{Auth, Echo, Options, Quit};
pub use uploads::ListUploads;
#[cfg(feature = "shares")]
pub use via_link::{LinkAsk, ViaLink};

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

/// Declares [`Operation`] from the list of operations, each with its type
/// (of the same name) and its [`Verb`], and passes each of
/// [`Operate`]'s methods on to the operation's own. An operation only one
/// protocol asks for names that protocol's feature (`Reopen ["sftp"]`):
/// a build without it carries none of its serving.
macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident $([$feature:literal])?: $verb:ident,)*) => {
        /// One request, whatever protocol carried it. (FERRY/1's own parse
        /// result, `protocol::Request`, mirrors that protocol's grammar
        /// word for word, as its fuzzers check it against PROTOCOL.md; its
        /// codec maps it to this.)
        #[derive(Debug)]
        pub enum Operation {
            $($(#[$doc])* $(#[cfg(feature = $feature)])? $name($name),)*
        }

        impl Operation {
            /// What it is, is about and needs, as the serve layer judges
            /// it before running it.
            pub fn declared(&self) -> Declared<'_> {
                match self {
                    $($(#[cfg(feature = $feature)])? Operation::$name(op) => Declared::of(Verb::$verb, op.aim()),)*
                }
            }

            /// The body that follows the request (none for most).
            pub fn body(&self) -> Body {
                match self {
                    $($(#[cfg(feature = $feature)])? Operation::$name(op) => op.body(),)*
                }
            }

            /// Keeps what of the request's conditions it judges again as
            /// it ends ([`Operate::keep`]): a PUT's or a completion's
            /// preconditions at the commit, which with a body streaming
            /// in, or parts, leave time for another writer.
            pub(super) fn keep(&mut self, conditions: &Conditions) {
                match self {
                    $($(#[cfg(feature = $feature)])? Operation::$name(op) => op.keep(conditions),)*
                }
            }

            /// Runs it: the operation's own serve function, once the
            /// serve layer has admitted it ([`crate::serve::serve`]: who it is
            /// from, their grants, read-only).
            pub(super) fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
                match self {
                    $($(#[cfg(feature = $feature)])? Operation::$name(op) => op.serve(ctx, who),)*
                }
            }
        }

        $($(#[cfg(feature = $feature)])? impl From<$name> for Operation {
            fn from(op: $name) -> Operation {
                Operation::$name(op)
            }
        })*
    };
}

operations! {
    /// Store the body that follows as a file, atomically.
    Put: Put,
    /// Send (part of) a file.
    Get: Get,
    /// Describe a file: size, modification time, checksum.
    Stat: Stat,
    /// The files whose names start with a prefix.
    List: List,
    /// A folder as one archive.
    ArchiveFolder: Tar,
    /// Remove a file.
    Delete: Delete,
    /// Remove each of several files (S3's `DeleteObjects`).
    DeleteEach: Delete,
    /// Remove a folder and everything in it the client may delete.
    DeleteFolder: Delete,
    /// Make a folder.
    MakeFolder: MakeFolder,
    /// Remove a folder that holds nothing (S3's `DeleteBucket`).
    RemoveFolder: Delete,
    /// Rename a file.
    MoveFile: Move,
    /// Copy a file.
    CopyFile: Copy,
    /// Copy a folder (WebDAV's `COPY` of a collection).
    CopyFolder: Copy,
    /// Move a folder in one rename (WebDAV's `MOVE` of a collection).
    MoveFolder: Move,
    /// Lock a name (WebDAV's `LOCK`).
    Lock: Lock,
    /// Remove a lock (WebDAV's `UNLOCK`).
    Unlock: Unlock,
    /// Change the properties of a file or folder (WebDAV's `PROPPATCH`).
    PropPatch: PropPatch,
    /// Send back the body that follows.
    Echo: Echo,
    /// Start (or find) a resumable upload.
    Upload: Upload,
    /// Stage the body that follows in an upload.
    Append: Append,
    /// What the server offers, nothing done (HTTP's `OPTIONS`).
    Options: Options,
    /// How far an upload has come (tus's `HEAD`).
    Progress: Progress,
    /// Verify and commit a complete upload.
    Commit: Commit,
    /// Discard an upload.
    Abort: Abort,
    /// List the upload sessions the client may write.
    Sessions: Sessions,
    /// Authenticate for the rest of the connection.
    Auth: Auth,
    /// Say goodbye and close.
    Quit: Quit,
    /// Begin a multipart upload (S3's CreateMultipartUpload).
    BeginParts ["s3"]: Upload,
    /// Stage a part of one (S3's UploadPart).
    PutPart ["s3"]: Append,
    /// Stage a part of one from a file's bytes (S3's UploadPartCopy).
    CopyPart ["s3"]: Append,
    /// Complete one (S3's CompleteMultipartUpload).
    CompleteParts ["s3"]: Commit,
    /// Discard one and its parts (S3's AbortMultipartUpload).
    AbortParts ["s3"]: Abort,
    /// One page of its parts (S3's ListParts).
    ListParts ["s3"]: Progress,
    /// One page of the multipart uploads under a prefix.
    ListUploads ["s3"]: Sessions,
    /// Whether the server can serve files now (a balancer's check).
    Health: Health,
    /// The room a client has to write (FERRY/1's `DF`).
    FreeSpace: FreeSpace,
    /// What a name is, file or folder, without a checksum (SFTP's `STAT`).
    Describe: Describe,
    /// Store the bytes to the stream's end, going on with a kept upload
    /// (FTP's `REST` + `STOR`, `APPE`).
    Resume: Append,
    /// Where an upload would go on from (FTP's `SIZE`).
    ResumeFrom: Stat,
    /// Open a file for writing anywhere, as the upload kept for the
    /// client's token and name (SFTP's `OPEN`).
    Reopen ["sftp"]: Upload,
    /// Commit a file open for writing, whole at what it holds (SFTP's
    /// `CLOSE`).
    Close ["sftp"]: Commit,
    /// Read back the bytes staged in an upload (SFTP's `READ` of a file
    /// open for writing).
    ReadStaged ["sftp"]: Get,
    /// Make a share link.
    MakeLink ["shares"]: Share,
    /// List the caller's share links.
    ListLinks ["shares"]: Shares,
    /// Revoke one of them.
    RevokeLink ["shares"]: Share,
    /// A request through a share link, by someone without a token.
    ViaLink ["shares"]: Link,
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
    pub needs: crate::serve::Needs<'a>,
}

impl<'a> Declared<'a> {
    /// An operation of `verb` with `aim`.
    fn of(verb: Verb, aim: Aim<'a>) -> Declared<'a> {
        Declared {
            verb,
            subject: aim.subject,
            to: aim.to,
            needs: aim.needs,
        }
    }
}

/// Declares [`Verb`] from the list of verbs, each with its facts: its
/// name in log lines, its label in metrics and the access log, and
/// whether it writes (refused on a read-only server).
macro_rules! verbs {
    ($($(#[$doc:meta])* $name:ident: $log:literal, $label:literal, $access:ident;)*) => {
        /// The kinds of operation, in the order metrics count them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Verb {
            $($(#[$doc])* $name,)*
        }

        impl Verb {
            /// Every verb, each at its [`Verb::index`].
            pub const ALL: [Verb; [$(Verb::$name),*].len()] = [$(Verb::$name),*];

            fn facts(self) -> Facts {
                match self {
                    $(Verb::$name => Facts {
                        log: $log,
                        label: $label,
                        writes: Access::$access.writes(),
                    },)*
                }
            }
        }
    };
}

/// Whether a verb reads or writes, as its line in [`verbs!`] says.
enum Access {
    Reads,
    Writes,
}

impl Access {
    const fn writes(self) -> bool {
        matches!(self, Access::Writes)
    }
}

verbs! {
    /// Store a file.
    Put: "PUT", "put", Writes;
    /// Send (part of) a file.
    Get: "GET", "get", Reads;
    /// Describe a file.
    Stat: "STAT", "stat", Reads;
    /// List names.
    List: "LIST", "list", Reads;
    /// A folder as a tar archive.
    Tar: "TAR", "tar", Reads;
    /// Remove a file.
    Delete: "DEL", "delete", Writes;
    /// Rename a file.
    Move: "MOVE", "move", Writes;
    /// Send back a body.
    Echo: "ECHO", "echo", Reads;
    /// Start a resumable upload.
    Upload: "UPLOAD", "upload", Writes;
    /// Stage bytes of one.
    Append: "APPEND", "append", Writes;
    /// Commit one.
    Commit: "COMMIT", "commit", Writes;
    /// Discard one.
    Abort: "ABORT", "abort", Writes;
    /// Authenticate.
    Auth: "AUTH", "auth", Reads;
    /// Close.
    Quit: "QUIT", "quit", Reads;
    /// List a token's upload sessions.
    Sessions: "SESSIONS", "sessions", Reads;
    /// Tell how far an upload has come.
    Progress: "PROGRESS", "progress", Reads;
    /// Say what the server offers.
    Options: "OPTIONS", "options", Reads;
    /// Make a folder.
    MakeFolder: "MKCOL", "mkcol", Writes;
    /// Say whether the server can serve files.
    Health: "HEALTH", "health", Reads;
    /// Copy a file.
    Copy: "COPY", "copy", Writes;
    /// Lock a name (WebDAV).
    Lock: "LOCK", "lock", Writes;
    /// Unlock one.
    Unlock: "UNLOCK", "unlock", Writes;
    /// Change a file's or folder's properties.
    PropPatch: "PROPPATCH", "proppatch", Writes;
    /// Tell the room there is to write.
    FreeSpace: "DF", "df", Reads;
    /// Tell what a name is (SFTP's STAT).
    Describe: "DESCRIBE", "describe", Reads;
    /// Make or revoke a share link.
    Share: "SHARE", "share", Writes;
    /// List share links.
    Shares: "SHARES", "shares", Reads;
    /// A request through a share link.
    Link: "LINK", "link", Reads;
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
