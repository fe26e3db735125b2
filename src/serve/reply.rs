//! What a client is told ([`Reply`]) and why something failed
//! ([`ErrorKind`], [`Failure`]), whatever protocol carried the request:
//! each codec encodes the replies its requests lead to, and maps an
//! [`ErrorKind`] to its own code.

use std::fmt;

use super::terms::Version;
use crate::model::DeadProperty;
use crate::name::{Name, NameError};
use crate::storage::StorageError;

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
        /// The upload session it was staged in, if any (tus names its
        /// upload URL by it).
        session: Option<String>,
        /// Their MD5 (or a multipart upload's tag, or a copy's source's),
        /// where the request asked for it (S3's `ETag`).
        md5: Option<crate::model::Md5Tag>,
        /// The additional checksum they were verified against (S3's).
        checksum: Option<Box<super::digest::Checksum>>,
        /// The version stored, for HTTP's `ETag` (a client writing with
        /// `If-Match` needs the new version's tag, and a `HEAD` after the
        /// `PUT` could see another writer's); `None` where unknown.
        version: Option<Box<super::Version>>,
    },
    /// A folder's removal (or copy) left these members (by name; a
    /// folder's ends in `/`), each for its reason, and this many more not
    /// named (beyond `storage::MAX_NAMED`); the rest is gone.
    Remains(Vec<(String, Failure)>, u64),
    /// A request on many names went as each says, in the order asked
    /// (S3's `DeleteObjects`).
    Each(Vec<(String, Result<(), Failure>)>),
    /// A `PROPPATCH` went as each of its changes says (boxed: rare).
    Patched(Box<super::Patched>),
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
        /// Its dead properties, where the request wants them
        /// (`Want::wants_props`; none otherwise).
        props: Vec<DeadProperty>,
        /// The additional checksum it was uploaded with
        /// (`<algorithm>:<base64>`, S3's `x-amz-checksum-*`), where the
        /// request wants it (`Want::wants_checksum`) and it is recorded.
        checksum: Option<String>,
        /// What is recorded of the parts it was uploaded in, where the
        /// request wants it (`Want::wants_part_sizes`) and it is
        /// recorded (boxed: rare).
        parts: Option<Box<PartsKept>>,
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
    /// What a name is: a file or a folder, its size and time (no
    /// checksum).
    Described(crate::model::Resource),
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
    /// A folder's archive of `len` bytes follows, or would; its
    /// bytes come as [`Reply::More`].
    Archive {
        /// Its length.
        len: u64,
        /// The file name to save it as.
        name: String,
        /// Tar or zip.
        format: super::ArchiveFormat,
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
        /// The session.
        session: String,
        /// Bytes staged in all.
        received: u64,
        /// Bytes this APPEND staged (for the access log).
        appended: u64,
        /// When the session expires unless used again (seconds since the
        /// epoch).
        expires: i64,
    },
    /// Bytes staged in an upload, read back (SFTP's `READ` of a file open
    /// for writing): few (a `READ`'s), so carried here.
    Staged(Vec<u8>),
    /// An upload session, new or found again, and how far it has come
    /// (boxed: rare, and three times the size of the common replies).
    Session(Box<crate::model::SessionInfo>),
    /// A file opened for writing (SFTP's `OPEN`, and its cut by size):
    /// its upload session, and whether that began as a copy of the file
    /// (closed with nothing changed, it leaves the file as it is).
    Reopened {
        /// The session, as [`Reply::Session`]'s.
        session: Box<crate::model::SessionInfo>,
        /// It holds a copy of the file's bytes, made by this open.
        copied: bool,
    },
    /// What the server offers (`OPTIONS`), for the dialect to state.
    Offers {
        /// `--max-file-size`.
        max_file_size: Option<u64>,
    },
    /// The upload sessions the client may write (`SESSIONS`).
    Sessions(Vec<crate::model::ListedSession>),
    /// A share link asked for by its id alone: go to its address, with
    /// the file's name for a file's link, with a `/` for a folder's.
    Named {
        /// The link's id.
        id: String,
        /// The file it shares; `None`: a folder.
        file: Option<crate::name::Name>,
    },
    /// A share link made.
    Link {
        /// The link (boxed: it is rare).
        link: Box<crate::model::ShareLink>,
        /// Where its address begins (`scheme://host`): `--public-url`,
        /// or as the request named the server (`ops::LinkBase`).
        base: Option<String>,
    },
    /// An upload link opened for reading: what its page may say.
    DropZone {
        /// The shared folder's last name.
        folder: String,
        /// When the link stops, Unix seconds.
        expires: i64,
    },
    /// The caller's share links.
    Links {
        /// The links, oldest first.
        links: Vec<crate::model::ShareLink>,
        /// As [`Reply::Link`]'s.
        base: Option<String>,
    },
    /// The room to write (DF): the file system's bytes and files free
    /// above the reserve, and in use.
    Space(Box<crate::model::Space>),
    /// A page of a multipart upload's parts (S3's ListParts; boxed: rare).
    Parts(Box<super::ops::multipart::PartsPage>),
    /// A page of multipart uploads (S3's ListMultipartUploads).
    Uploads(Box<super::ops::uploads::UploadsPage>),
    /// The client authenticated as the token named `name`.
    Authenticated {
        /// The token's name.
        name: String,
    },
    /// A WebDAV lock granted or refreshed (boxed: rare and large).
    Locked(Box<super::ops::locks::Granted>),
    /// The request failed.
    Failed(Failure),
}

impl Reply {
    /// Whether this answers its request, and with which code (`None`:
    /// ok), for the request metrics and the access log: a go-ahead, the
    /// rest of an archive's bytes and "nothing yet" do not. A failure's
    /// code is its kind's; a codec that answers a kind with a status of
    /// its own (WebDAV's `412`) says so instead (`Codec::answer_code`).
    pub fn answer_code(&self) -> Option<Option<u16>> {
        match self {
            Reply::Nothing | Reply::GoAhead | Reply::More(_) => None,
            Reply::Failed(failure) => Some(Some(failure.kind.code())),
            Reply::Unsatisfiable { .. } => Some(Some(416)),
            // Some of a folder's members stayed (RFC 4918's multistatus).
            Reply::Remains(..) => Some(Some(207)),
            _ => Some(None),
        }
    }
}

/// Why a request failed: a kind for the codec's status code, and a reason
/// for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The reason, one line.
    pub message: String,
    /// How loudly the server logs it, where the storage decided (a
    /// storage failure: see `storage::failure_level`); else by its kind.
    pub level: Option<log::Level>,
    /// For a refusal by the grants: the nearest folder above the name
    /// that the client may list (empty for the root), where a page for
    /// people links back to.
    pub back: Option<String>,
}

impl Failure {
    /// A folder where a protocol asked for a file and has no answer of
    /// its own for one (FERRY/1's GET of a folder).
    pub fn is_directory() -> Failure {
        StorageError::IsDirectory.into()
    }

    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            level: None,
            back: None,
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
        let level = matches!(err, StorageError::Unavailable(..)).then(|| err.log_level());
        Failure {
            level,
            ..Failure::new(ErrorKind::from(&err), err.to_string())
        }
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
    /// The upload outlived its TTL and is gone (a `404` but where the
    /// protocol has a status of its own for it: tus's `410`).
    Expired,
    /// The name's kind or an upload's state is in the way.
    Conflict,
    /// Something has the name already (a folder to be made).
    Exists,
    /// The body is over the server's size limit.
    TooLarge,
    /// The bytes received do not match the client's checksum.
    ChecksumMismatch,
    /// The server's before-commit hook refused the upload (or ran past its
    /// time limit): nothing was stored.
    Vetoed,
    /// The disk is full (or its reserve reached).
    NoSpace,
    /// The write would pass a token's or a folder's quota.
    OverQuota,
    /// The server is out of a resource (descriptors); try again.
    Busy,
    /// The storage failed (an I/O error, its network file system gone):
    /// the server's fault, and worth another try.
    Unavailable,
    /// Too many failed authentications from this address, or too many
    /// uploads open through a share link: wait.
    Throttled,
    /// A lock covers the name and the request did not submit its token
    /// (WebDAV, RFC 4918 11.3), or a new lock conflicts with one.
    Locked,
    /// The request's conditions (HTTP's `If:`) do not hold.
    PreconditionFailed,
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
            ErrorKind::NotFound | ErrorKind::Expired => 404,
            ErrorKind::Conflict | ErrorKind::Exists => 409,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::Locked => 423,
            ErrorKind::TooLarge => 413,
            ErrorKind::ChecksumMismatch => 422,
            ErrorKind::Throttled => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Busy | ErrorKind::Unavailable => 503,
            ErrorKind::NoSpace | ErrorKind::OverQuota => 507,
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
            ErrorKind::Expired => "expired",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Exists => "exists",
            ErrorKind::TooLarge => "too large",
            ErrorKind::ChecksumMismatch => "checksum mismatch",
            ErrorKind::Vetoed => "vetoed",
            ErrorKind::NoSpace => "no space",
            ErrorKind::OverQuota => "over quota",
            ErrorKind::Busy => "busy",
            ErrorKind::Unavailable => "storage unavailable",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Locked => "locked",
            ErrorKind::PreconditionFailed => "precondition failed",
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
            StorageError::NotFound | StorageError::NoSuchUpload | StorageError::NoBucket => {
                ErrorKind::NotFound
            }
            StorageError::Exists => ErrorKind::Exists,
            StorageError::Expired => ErrorKind::Expired,
            StorageError::IsDirectory
            | StorageError::ParentNotDirectory
            | StorageError::NotRegular
            | StorageError::WrongOffset(_)
            | StorageError::Incomplete(..)
            | StorageError::SessionBusy
            | StorageError::InUseElsewhere
            | StorageError::Superseded
            | StorageError::NotEmpty
            | StorageError::FolderMoved
            | StorageError::Stored(_) => ErrorKind::Conflict,
            StorageError::Symlink | StorageError::NotAdmitted => ErrorKind::Forbidden,
            StorageError::NoSpace | StorageError::NoRoom(_) => ErrorKind::NoSpace,
            StorageError::OverQuota(_) => ErrorKind::OverQuota,
            StorageError::Unavailable(..) => ErrorKind::Unavailable,
            // A link's cap is its holder's to mind, not the server's
            // want of room: 429, as for too many of anything else.
            #[cfg(feature = "shares")]
            StorageError::TooManySessions(crate::model::SessionCap::Link(_)) => {
                ErrorKind::Throttled
            }
            StorageError::Busy | StorageError::TooManySessions(_) | StorageError::Committing => {
                ErrorKind::Busy
            }
            StorageError::PastEnd(_) | StorageError::SizeDeclared(_) => ErrorKind::BadRequest,
            StorageError::ChecksumMismatch(..) => ErrorKind::ChecksumMismatch,
            StorageError::TempFileRemoved | StorageError::Io(_) => ErrorKind::Internal,
        }
    }
}

/// What is recorded of the parts a file was uploaded in (S3's multipart
/// upload), as a GET's answer tells it.
#[derive(Debug, Default)]
pub struct PartsKept {
    /// Their sizes, in order.
    pub sizes: Option<Vec<u64>>,
    /// Their checksums (`<algorithm>:<base64>` each), where the upload
    /// had one; for a part asked for by number, that part's alone.
    pub checksums: Option<Vec<String>>,
}
