//! Storage errors: what went wrong beneath the root, in the storage layer's
//! own terms (the serve layer maps them to error kinds, and codecs those to
//! status codes).

use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::model::SessionCap;

/// What [`StorageError::NoBucket`] says (S3 answers it `NoSuchBucket`).
pub const NO_BUCKET: &str = "no such bucket: CreateBucket makes one";

/// Why a storage operation failed.
#[derive(Debug)]
pub enum StorageError {
    /// No such file.
    NotFound,
    /// The name is a directory.
    IsDirectory,
    /// A parent of the name is a file (or a symlink), so it cannot be
    /// created.
    ParentNotDirectory,
    /// The name is a special file (FIFO, socket, device).
    NotRegular,
    /// The name is a symlink, which ferry never follows.
    Symlink,
    /// The disk or quota is full.
    NoSpace,
    /// A write would leave less than the disk reserve free
    /// (`posix/reserve.rs`): nothing of it is stored.
    NoRoom(super::NoRoom),
    /// A commit would pass a quota (`posix/usage_limit.rs`): nothing of
    /// it is stored.
    OverQuota(Box<super::OverQuota>),
    /// Out of file descriptors.
    Busy,
    /// The storage itself failed (an I/O error, a network file system or
    /// FUSE client that lost its server): the server's fault and maybe
    /// passing, never the client's. With how loudly to log it, decided
    /// when it was met ([`failure_level`]).
    Unavailable(Errno, log::Level),
    /// No upload session with that id.
    NoSuchUpload,
    /// Where folders are S3's keys ([`crate::model::Folders::Keys`]), the name's
    /// first folder (its bucket) is not there: only its own request
    /// (CreateBucket) makes one.
    NoBucket,
    /// The upload is stored already (its mark says so): this many bytes.
    Stored(u64),
    /// The upload session's size was declared already, as this.
    SizeDeclared(u64),
    /// The upload session outlived its TTL untouched: it is gone now,
    /// with its bytes.
    Expired,
    /// An APPEND at the wrong offset; the session stands at this one.
    WrongOffset(u64),
    /// An APPEND past the session's declared size.
    PastEnd(u64),
    /// A COMMIT before all bytes arrived: received, size.
    Incomplete(u64, u64),
    /// An APPEND is streaming into the session, so it cannot commit.
    SessionBusy,
    /// A COMMIT of the session is under way.
    Committing,
    /// Another node sharing the root is streaming into, or committing, the
    /// session.
    InUseElsewhere,
    /// A newer APPEND or an ABORT took the session from this APPEND; or
    /// a newer open for writing took it from the handle that opened it
    /// before ([`SessionInfo::opened_by`](crate::model::SessionInfo)).
    Superseded,
    /// The caller's judge of the session (who may write it) refused:
    /// the caller holds why ([`SessionStore::append`](super::SessionStore::append)).
    NotAdmitted,
    /// A new upload session would pass this cap.
    TooManySessions(SessionCap),
    /// Staged bytes do not match the declared CRC-32C: staged, declared.
    ChecksumMismatch(u32, u32),
    /// The upload's temp file was removed (or, on a network file system,
    /// replaced) by another process while the upload was under way.
    TempFileRemoved,
    /// Something has the name already (a folder to be made).
    Exists,
    /// The folder an upload was made in was moved or removed while it
    /// arrived: committed there, it would land under another name than
    /// the one asked (and acknowledged).
    FolderMoved,
    /// The folder to be removed holds something.
    NotEmpty,
    /// Anything else the filesystem said.
    Io(io::Error),
}

impl StorageError {
    fn from_errno(errno: Errno) -> StorageError {
        match errno {
            // ENXIO: a Unix socket (or a device without a driver) was opened.
            // ESTALE: a network file system's handle of a file that another
            // host removed or renamed over: gone, as far as we can tell.
            Errno::NOENT | Errno::NOTDIR | Errno::NXIO | Errno::STALE => StorageError::NotFound,
            Errno::ISDIR => StorageError::IsDirectory,
            Errno::LOOP => StorageError::Symlink,
            Errno::NOSPC | Errno::DQUOT => StorageError::NoSpace,
            Errno::MFILE | Errno::NFILE => StorageError::Busy,
            failed if is_storage_failure(failed) => {
                StorageError::Unavailable(failed, failure_level(failed))
            }
            other => StorageError::Io(other.into()),
        }
    }
}

/// The errors that say the storage failed, rather than the request: the
/// device (EIO, EREMOTEIO, EBUSY), or the way to it for a root on a
/// network file system or FUSE (a client that lost its server says
/// ENOTCONN, ETIMEDOUT, ECONNREFUSED...), with their names for the
/// metrics. Not EROFS: a root mounted read-only stays so however often a
/// client tries (a 500), nor ESTALE (see [`StorageError::from_errno`]).
pub const STORAGE_FAILURES: [(Errno, &str); 16] = [
    (Errno::IO, "EIO"),
    (Errno::REMOTEIO, "EREMOTEIO"),
    (Errno::BUSY, "EBUSY"),
    (Errno::NOTCONN, "ENOTCONN"),
    (Errno::TIMEDOUT, "ETIMEDOUT"),
    (Errno::CONNREFUSED, "ECONNREFUSED"),
    (Errno::CONNRESET, "ECONNRESET"),
    (Errno::CONNABORTED, "ECONNABORTED"),
    (Errno::HOSTDOWN, "EHOSTDOWN"),
    (Errno::HOSTUNREACH, "EHOSTUNREACH"),
    (Errno::NETDOWN, "ENETDOWN"),
    (Errno::NETUNREACH, "ENETUNREACH"),
    (Errno::NETRESET, "ENETRESET"),
    (Errno::NOLINK, "ENOLINK"),
    (Errno::SHUTDOWN, "ESHUTDOWN"),
    (Errno::COMM, "ECOMM"),
];

/// How many of each of [`STORAGE_FAILURES`] the storage met, in order.
static FAILURES_SEEN: [AtomicU64; STORAGE_FAILURES.len()] =
    [const { AtomicU64::new(0) }; STORAGE_FAILURES.len()];

/// Each of [`STORAGE_FAILURES`] by name, with how often it was met
/// (`ferry_storage_failures_total`).
pub fn storage_failures() -> [(&'static str, u64); STORAGE_FAILURES.len()] {
    std::array::from_fn(|at| {
        let seen = FAILURES_SEEN[at].load(Ordering::Relaxed);
        (STORAGE_FAILURES[at].1, seen)
    })
}

/// Whether `errno` says the storage failed (one of [`STORAGE_FAILURES`]):
/// counted if so.
fn is_storage_failure(errno: Errno) -> bool {
    let Some(at) = STORAGE_FAILURES.iter().position(|(e, _)| *e == errno) else {
        return false;
    };
    FAILURES_SEEN[at].fetch_add(1, Ordering::Relaxed);
    true
}

impl StorageError {
    /// How loudly to log this error where the server meets it: a storage
    /// failure as [`failure_level`] decided, anything else a warning (the
    /// callers log only what went wrong on the server's side).
    pub fn log_level(&self) -> log::Level {
        match self {
            StorageError::Unavailable(_, level) => *level,
            _ => log::Level::Warn,
        }
    }
}

/// A storage failure of a kind met within this long of the last of that
/// kind is *repeated*: the storage has not recovered, which an operator
/// must see (an error), rather than a passing hiccup (a warning).
pub const REPEATED_WITHIN: Duration = Duration::from_secs(60);

/// At most one error line per kind this often: a dead storage fails every
/// request, and the log would drown in them. The repeats between are
/// debug lines; `ferry_storage_failures_total` counts every one.
pub const ERROR_LINE_EVERY: Duration = Duration::from_secs(10);

/// When each of [`STORAGE_FAILURES`] was last met, and last logged at
/// error: milliseconds since [`epoch`] plus one (0: never).
static LAST_MET: [AtomicU64; STORAGE_FAILURES.len()] =
    [const { AtomicU64::new(0) }; STORAGE_FAILURES.len()];
static LAST_ERROR_LINE: [AtomicU64; STORAGE_FAILURES.len()] =
    [const { AtomicU64::new(0) }; STORAGE_FAILURES.len()];

/// The clock of [`LAST_MET`]: monotonic, from the first failure met.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How loudly to log storage failure `errno`, met now (the one home of
/// the rule): a warning the first time in [`REPEATED_WITHIN`], an error
/// when repeated, at most once per [`ERROR_LINE_EVERY`] per kind, and a
/// debug line for the repeats between.
fn failure_level(errno: Errno) -> log::Level {
    let Some(at) = STORAGE_FAILURES.iter().position(|(e, _)| *e == errno) else {
        return log::Level::Warn;
    };
    let now = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
    let last = LAST_MET[at].swap(now, Ordering::Relaxed);
    let last_line = LAST_ERROR_LINE[at].load(Ordering::Relaxed);
    let level = level_of(now, last, last_line);
    // One of several threads meeting it at once writes the error line.
    if level == log::Level::Error
        && LAST_ERROR_LINE[at]
            .compare_exchange(last_line, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return log::Level::Debug;
    }
    level
}

/// [`failure_level`]'s rule, at `now`, for a kind last met at `last` and
/// last logged at error at `last_line` (milliseconds; 0: never).
fn level_of(now: u64, last: u64, last_line: u64) -> log::Level {
    let within = |since: u64, span: Duration| {
        since != 0 && u128::from(now.saturating_sub(since)) < span.as_millis()
    };
    match (
        within(last, REPEATED_WITHIN),
        within(last_line, ERROR_LINE_EVERY),
    ) {
        (false, _) => log::Level::Warn,
        (true, false) => log::Level::Error,
        (true, true) => log::Level::Debug,
    }
}

impl From<Errno> for StorageError {
    fn from(errno: Errno) -> StorageError {
        StorageError::from_errno(errno)
    }
}

impl From<io::Error> for StorageError {
    fn from(err: io::Error) -> StorageError {
        match err.raw_os_error() {
            Some(raw) => StorageError::from_errno(Errno::from_raw_os_error(raw)),
            None => StorageError::Io(err),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFound => f.write_str("no such file"),
            StorageError::Exists => f.write_str("the name exists"),
            StorageError::NotEmpty => f.write_str("the folder is not empty"),
            StorageError::IsDirectory => f.write_str("is a directory"),
            StorageError::ParentNotDirectory => {
                f.write_str("a parent of the name is not a directory")
            }
            StorageError::NotRegular => f.write_str("not a regular file"),
            StorageError::Symlink => f.write_str("symlinks are not followed"),
            StorageError::NoSpace => f.write_str("no space left on device"),
            StorageError::NoRoom(no_room) => no_room.fmt(f),
            StorageError::OverQuota(over) => over.fmt(f),
            StorageError::Busy => f.write_str("server out of file descriptors"),
            StorageError::Unavailable(errno, _) => write!(
                f,
                "storage unavailable ({}): try again",
                std::io::Error::from(*errno)
            ),
            StorageError::NoSuchUpload => f.write_str("no such upload"),
            StorageError::NoBucket => f.write_str(NO_BUCKET),
            // A size never declared (an upload whose close came from a
            // handle superseded meanwhile) is no number to tell.
            StorageError::Stored(crate::model::DEFERRED_SIZE) => f.write_str("upload stored already"),
            StorageError::Stored(size) => write!(f, "upload stored already, all {size} bytes"),
            StorageError::SizeDeclared(size) => {
                write!(f, "the upload's length is {size} already")
            }
            StorageError::Expired => f.write_str(
                "upload expired: untouched for longer than the server keeps one; its bytes are removed",
            ),
            StorageError::WrongOffset(at) => write!(f, "upload is at offset {at}"),
            StorageError::PastEnd(size) => write!(f, "past the upload's {size} bytes"),
            StorageError::Incomplete(received, size) => {
                write!(f, "upload incomplete: {received} of {size} bytes")
            }
            StorageError::SessionBusy => f.write_str("another APPEND is in progress"),
            StorageError::InUseElsewhere => f.write_str(
                "another ferry node is using this upload (an APPEND or COMMIT): try again shortly",
            ),
            StorageError::Committing => {
                f.write_str("the upload is being committed: try again shortly")
            }
            StorageError::TooManySessions(SessionCap::Client(cap)) => write!(
                f,
                "too many upload sessions from this address (cap {cap}): commit or abort one, or wait for one to expire"
            ),
            StorageError::TooManySessions(SessionCap::Token(cap)) => write!(
                f,
                "too many upload sessions for this token (cap {cap}; clients without a token share one): commit or abort one, or wait for one to expire"
            ),
            // Through a link: its own cap, nothing of its creator's.
            #[cfg(feature = "shares")]
            StorageError::TooManySessions(SessionCap::Link(cap)) => write!(
                f,
                "this link has {cap} uploads open already; finish or cancel one"
            ),
            StorageError::TooManySessions(SessionCap::Server) => f.write_str(
                "too many upload sessions on this server: try again once some are committed or expire",
            ),
            StorageError::Superseded => {
                f.write_str("a newer APPEND or ABORT took over this upload")
            }
            StorageError::NotAdmitted => f.write_str("not allowed to write this upload"),
            StorageError::ChecksumMismatch(staged, declared) => write!(
                f,
                "checksum mismatch: received {staged:08x}, expected {declared:08x}; upload discarded"
            ),
            StorageError::TempFileRemoved => {
                f.write_str("temp file removed by another process; upload discarded")
            }
            StorageError::FolderMoved => f.write_str(
                "its folder was moved or removed while it was uploaded; nothing stored: send it again",
            ),
            StorageError::Io(err) => write!(f, "I/O error: {err}"),
        }
    }
}

impl std::error::Error for StorageError {}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level::{Debug, Error, Warn};

    #[test]
    fn a_failure_is_a_warning_then_an_error_if_repeated_within_a_minute_and_rate_limited() {
        let (s, min) = (1_000, 60_000);
        assert_eq!(level_of(5 * s, 0, 0), Warn, "the first ever");
        assert_eq!(level_of(5 * s + min, 5 * s, 0), Warn, "a minute after");
        assert_eq!(level_of(5 * s + 1, 5 * s, 0), Error, "again at once");
        assert_eq!(
            level_of(7 * s, 6 * s, 5 * s),
            Debug,
            "within 10 s of an error line"
        );
        assert_eq!(level_of(15 * s, 14 * s, 5 * s), Error, "10 s after it");
    }

    #[test]
    fn the_level_is_decided_once_per_failure_met() {
        // EXFULL is no storage failure: always a warning, nothing recorded.
        assert_eq!(failure_level(Errno::XFULL), Warn);
        // ECOMM is met by no other test of this process.
        let levels: Vec<log::Level> = (0..3).map(|_| failure_level(Errno::COMM)).collect();
        assert_eq!(levels, [Warn, Error, Debug]);
        let err = StorageError::from(Errno::COMM);
        assert!(matches!(err, StorageError::Unavailable(Errno::COMM, Debug)));
        assert_eq!(err.log_level(), Debug);
        assert_eq!(StorageError::NotFound.log_level(), Warn);
    }
}
