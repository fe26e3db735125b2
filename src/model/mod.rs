//! The values every layer shares, owned by no engine: what a stored file
//! is ([`FileInfo`], [`Stamp`], [`Version`]), a listing's entry
//! ([`ListEntry`]) and a walk's ([`Found`]), the
//! room on the file system ([`Space`]), S3's ETag ([`Md5Tag`]), dead
//! properties ([`DeadProperty`], [`NewProps`], [`Holder`]), WebDAV's locks
//! ([`DavLock`]), upload sessions ([`SessionInfo`], [`ListedSession`]) and
//! their bounds ([`SessionTtl`], [`SessionLimits`]),
//! what folders are to each protocol ([`Folders`]), what the usage
//! ledger counts ([`Account`], [`Usage`]), and share links ([`ShareLink`]).
//!
//! The storage fills them in, serve/ applies the rules to them, the codecs
//! and dialects put them into words. Plain values: nothing here opens,
//! reads or writes a file or imports the storage, so a layer that needs
//! one of them need not know how or where it is kept.

mod dav_lock;
mod file;
mod folders;
mod md5_tag;
mod props;
mod session;
mod session_limits;
mod share_link;
mod space;
mod usage;

pub use dav_lock::{DavLock, is_below};
pub use file::{
    DirectoryListing, FileInfo, Found, ListEntry, Occupant, Resource, Stamp, Version,
    VersionRecords,
};
pub use folders::Folders;
pub use md5_tag::Md5Tag;
pub use props::{DeadProperty, Holder, NewProps, Recorded};
pub use session::{DEFERRED_SIZE, ListedSession, SessionInfo, fits_a_record};
#[cfg(not(feature = "shares"))]
pub use session_limits::NoLink;
pub use session_limits::{LinkId, SessionCap, SessionLimits, SessionTtl, now_seconds};
pub use share_link::{LINK_ID_LEN, LinkMode, ShareLink, is_link_id, link_address, parse_span};
pub use space::Space;
pub use usage::{Account, Usage};
