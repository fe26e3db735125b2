//! The protocol-neutral vocabulary between the codecs and the serve layer:
//! what a client asks for ([`Operation`]), what it is told ([`Reply`]) and
//! why something failed ([`ErrorKind`]).
//!
//! Codecs decode bytes into an [`Operation`] and encode a [`Reply`] into
//! bytes; nothing here knows a wire format or a status code. Each codec
//! maps an [`ErrorKind`] to its own code.

use std::fmt;

use crate::access::Secret;
use crate::name::{Name, NameError, Prefix};
use crate::storage::{FileInfo, ListEntry, Stamp, StorageError};

/// A decoded request: the operation, and the token it presented with it
/// (HTTP's `Authorization`; FERRY/1 authenticates with its own
/// [`Operation::Auth`] instead).
#[derive(Debug)]
pub struct Request {
    /// What it asks for.
    pub operation: Operation,
    /// The token it carries.
    pub token: Option<Secret>,
}

impl From<Operation> for Request {
    fn from(operation: Operation) -> Request {
        Request {
            operation,
            token: None,
        }
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
    /// The folder `prefix` as one tar archive.
    Archive {
        /// The folder (empty for the top, else ending in `/`).
        prefix: Prefix,
        /// The archive follows the answer (false: only its length).
        body: bool,
    },
    /// Remove `name`.
    Delete {
        /// File to remove.
        name: Name,
    },
    /// Rename file `from` to `to` (replacing a file there).
    Move {
        /// File to rename.
        from: Name,
        /// Its new name.
        to: Name,
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
        /// Full size of the file.
        size: u64,
        /// Its CRC-32C, checked on commit.
        crc: u32,
    },
    /// Stage the `len` body bytes that follow at `offset` of upload `id`.
    Append {
        /// Upload id, as the codec accepted it.
        id: String,
        /// Where the bytes go; must be where the upload stands.
        offset: u64,
        /// Body length.
        len: u64,
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
}

impl Operation {
    /// The body that follows the request (none for most).
    pub fn body(&self) -> Body {
        match self {
            Operation::Put { body, trailer, .. } => trailer.map_or(*body, |t| t.after(*body)),
            Operation::Append { len: size, .. } | Operation::Echo { size } => Body::fixed(*size),
            _ => Body::fixed(0),
        }
    }

    /// What the operation is about, for the access log: the file, the
    /// listing's prefix or the session id (empty for none), and a move's
    /// new name.
    pub fn subject(&self) -> (&str, Option<&str>) {
        match self {
            Operation::Put { name, .. }
            | Operation::Get { name, .. }
            | Operation::Stat { name }
            | Operation::Delete { name }
            | Operation::Upload { name, .. } => (name.as_str(), None),
            Operation::List { prefix, .. } | Operation::Archive { prefix, .. } => {
                (prefix.as_str(), None)
            }
            Operation::Move { from, to } => (from.as_str(), Some(to.as_str())),
            Operation::Append { id, .. }
            | Operation::Commit { id, .. }
            | Operation::Abort { id } => (id.as_str(), None),
            Operation::Echo { .. }
            | Operation::Sessions
            | Operation::Auth { .. }
            | Operation::Quit => ("", None),
        }
    }

    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Operation::Put { .. } => "PUT",
            Operation::Get { .. } => "GET",
            Operation::Stat { .. } => "STAT",
            Operation::List { .. } => "LIST",
            Operation::Archive { .. } => "TAR",
            Operation::Delete { .. } => "DEL",
            Operation::Move { .. } => "MOVE",
            Operation::Echo { .. } => "ECHO",
            Operation::Upload { .. } => "UPLOAD",
            Operation::Append { .. } => "APPEND",
            Operation::Commit { .. } => "COMMIT",
            Operation::Abort { .. } => "ABORT",
            Operation::Sessions => "SESSIONS",
            Operation::Auth { .. } => "AUTH",
            Operation::Quit => "QUIT",
        }
    }
}

/// How much of the tree below a prefix a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every file at any depth whose name starts with the prefix (FERRY/1
    /// `LIST`); a prefix with nothing under it lists nothing.
    Tree,
    /// The files and subdirectories directly in the directory the prefix
    /// names (an HTTP listing); a prefix that is no directory is "not
    /// found". Nothing below the subdirectories is read.
    Directory,
}

/// One piece of a listing. A codec's [`ListingFormat`] is given, in this
/// order: `Start`, each `Directory` (only for [`Scope::Directory`]),
/// `Files`, each `File`, `End`.
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
}

/// A codec's way of writing a listing of `prefix`: appends `piece` to
/// `out`. The serve layer calls it on the I/O pool, streaming the pieces
/// into a file the listing is then sent from, so no listing is ever held
/// whole in memory.
pub type ListingFormat = fn(prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>);

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
            BodyLength::Chunked => BodyLength::Chunked,
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

/// A file's identity at one moment: what conditional requests compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Size and modification time.
    pub info: FileInfo,
    /// Inode and the modification time's nanoseconds.
    pub stamp: Stamp,
    /// CRC-32C of the whole file, if known: an answer that states it
    /// waits for it ([`Want::needs_checksum`]), others go without.
    pub crc: Option<u32>,
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

/// A codec's rule for which bytes of a file version to send.
pub trait Choose: fmt::Debug + Send {
    /// What to send of `version`.
    fn choose(&self, version: &Version) -> Selection;
}

/// What a GET gets once its file's version is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// `len` bytes from `start`.
    Bytes {
        /// First byte.
        start: u64,
        /// Bytes.
        len: u64,
        /// A part was asked for and is answered as one (HTTP's 206).
        part: bool,
        /// The bytes follow the answer (false: only their description).
        body: bool,
    },
    /// The client's copy is current.
    NotModified,
    /// Nothing of the file matches what was asked for.
    Unsatisfiable,
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

/// What a client is told, whatever protocol it speaks.
#[derive(Debug)]
pub enum Reply {
    /// Nothing yet (the answer comes when a body has arrived).
    Nothing,
    /// A body is welcome now (HTTP's `100 Continue` where it was asked for).
    GoAhead,
    /// Done, nothing to report (DELETE, ABORT, QUIT).
    Done,
    /// An upload is stored.
    Stored {
        /// Bytes stored.
        size: u64,
        /// Their CRC-32C.
        crc: u32,
        /// It replaced an existing file.
        replaced: bool,
    },
    /// A file was renamed.
    Moved {
        /// It replaced an existing file.
        replaced: bool,
    },
    /// (Part of) a file follows, or only its description.
    File {
        /// The version being sent.
        version: Version,
        /// First byte sent.
        start: u64,
        /// Bytes sent (or that would be, without a body).
        len: u64,
        /// Answered as a part (see [`Selection::Bytes`]).
        part: bool,
    },
    /// The client's copy is current.
    NotModified {
        /// The current version.
        version: Version,
    },
    /// No bytes match the range asked for.
    Unsatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The name is a directory (HTTP redirects to its listing).
    Directory {
        /// The directory's name.
        name: Name,
    },
    /// A file's description.
    Stat {
        /// Its version.
        version: Version,
    },
    /// A listing of `len` bytes (as its [`ListingFormat`] wrote it)
    /// follows, or would.
    Listing {
        /// Its length.
        len: u64,
    },
    /// A folder's tar archive of `len` bytes follows, or would; its
    /// bytes come as [`Reply::More`].
    Archive {
        /// Its length.
        len: u64,
        /// The file name to save it as.
        name: String,
    },
    /// More bytes of a body already announced (an archive's headers),
    /// sent as they are.
    More(Vec<u8>),
    /// `size` echoed bytes follow.
    Echo {
        /// Bytes that follow.
        size: u64,
    },
    /// An APPEND is staged; the upload now holds this many bytes.
    Appended {
        /// Bytes staged in all.
        received: u64,
        /// Bytes this APPEND staged (for the access log).
        appended: u64,
    },
    /// An upload session, new or found again.
    Session {
        /// Its id.
        id: String,
        /// Bytes staged so far.
        received: u64,
    },
    /// The upload sessions the client may write (`SESSIONS`).
    Sessions(Vec<crate::storage::ListedSession>),
    /// The client authenticated as the token named `name`.
    Authenticated {
        /// The token's name.
        name: String,
    },
    /// The request failed.
    Failed(Failure),
}

/// Why a request failed: a kind for the codec's status code, and a reason
/// for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The reason, one line.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl From<StorageError> for Failure {
    fn from(err: StorageError) -> Failure {
        Failure::new(ErrorKind::from(&err), err.to_string())
    }
}

impl From<NameError> for Failure {
    fn from(err: NameError) -> Failure {
        Failure::new(ErrorKind::from(err), err.to_string())
    }
}

/// The kinds of failure a client can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or cannot be honoured as asked.
    BadRequest,
    /// No token, or none that the server knows: authenticate.
    Unauthorized,
    /// The name is reserved or a symlink (never served), or the client's
    /// token does not grant what the request needs.
    Forbidden,
    /// The server is read-only and this request writes.
    ReadOnly,
    /// No such file or upload.
    NotFound,
    /// The name's kind or an upload's state is in the way.
    Conflict,
    /// The body is over the server's size limit.
    TooLarge,
    /// The bytes received do not match the client's checksum.
    ChecksumMismatch,
    /// The server's before-commit hook refused the upload (or ran past its
    /// time limit): nothing was stored.
    Vetoed,
    /// The disk or quota is full.
    NoSpace,
    /// The server is out of a resource (descriptors); try again.
    Busy,
    /// Too many failed authentications from this address: wait.
    Throttled,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// The status code of this kind of failure: the same in FERRY/1 and
    /// HTTP, and the outcome label of the request metrics.
    pub fn code(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden | ErrorKind::ReadOnly | ErrorKind::Vetoed => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::ChecksumMismatch => 422,
            ErrorKind::Throttled => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Busy => 503,
            ErrorKind::NoSpace => 507,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::BadRequest => "bad request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooLarge => "too large",
            ErrorKind::ChecksumMismatch => "checksum mismatch",
            ErrorKind::Vetoed => "vetoed",
            ErrorKind::NoSpace => "no space",
            ErrorKind::Busy => "busy",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Internal => "internal error",
        })
    }
}

impl From<NameError> for ErrorKind {
    fn from(err: NameError) -> ErrorKind {
        match err {
            NameError::Reserved => ErrorKind::Forbidden,
            _ => ErrorKind::BadRequest,
        }
    }
}

impl From<&StorageError> for ErrorKind {
    fn from(err: &StorageError) -> ErrorKind {
        match err {
            StorageError::NotFound | StorageError::NoSuchUpload => ErrorKind::NotFound,
            StorageError::IsDirectory
            | StorageError::ParentNotDirectory
            | StorageError::NotRegular
            | StorageError::WrongOffset(_)
            | StorageError::Incomplete(..)
            | StorageError::SessionBusy
            | StorageError::InUseElsewhere
            | StorageError::Superseded => ErrorKind::Conflict,
            StorageError::Symlink => ErrorKind::Forbidden,
            StorageError::NoSpace => ErrorKind::NoSpace,
            StorageError::Busy | StorageError::TooManySessions(_) | StorageError::Committing => {
                ErrorKind::Busy
            }
            StorageError::PastEnd(_) => ErrorKind::BadRequest,
            StorageError::ChecksumMismatch(..) => ErrorKind::ChecksumMismatch,
            StorageError::TempFileRemoved | StorageError::Io(_) => ErrorKind::Internal,
        }
    }
}
