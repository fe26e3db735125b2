//! The protocol-neutral vocabulary a codec decodes requests into: what a
//! client asks for ([`Operation`]), with its body's framing and, for a GET,
//! which bytes it wants. What it is told comes back as a `Reply`
//! (`reply.rs`). Nothing here knows a wire format or a status code.

use std::fmt;

use super::verb::{Needs, Verb};
use crate::access::Secret;
use crate::name::{Name, Prefix};
use crate::storage::{FileInfo, ListEntry, Stamp};

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
            Operation::Delete { name } => {
                declared(Verb::Delete, name.as_str(), Needs::Delete(name.as_str()))
            }
            Operation::Move { from, to } => Declared {
                verb: Verb::Move,
                subject: from.as_str(),
                to: Some(to.as_str()),
                needs: Needs::Move(from.as_str(), to.as_str()),
            },
            Operation::Echo { .. } => declared(Verb::Echo, "", Needs::Token),
            Operation::Upload { name, .. } => {
                declared(Verb::Upload, name.as_str(), Needs::Write(name.as_str()))
            }
            Operation::Append { id, .. } => declared(Verb::Append, id, Needs::Session),
            Operation::Commit { id, .. } => declared(Verb::Commit, id, Needs::Session),
            Operation::Abort { id } => declared(Verb::Abort, id, Needs::Session),
            Operation::Sessions => declared(Verb::Sessions, "", Needs::Token),
            Operation::Auth { .. } => declared(Verb::Auth, "", Needs::Nothing),
            Operation::Quit => declared(Verb::Quit, "", Needs::Nothing),
        }
    }
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
