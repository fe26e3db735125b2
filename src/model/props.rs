//! Dead properties (WebDAV's `PROPPATCH`, S3's object metadata) as every
//! layer sees them: one property, the properties a new version is written
//! with, what holds them, and which members of a folder have them. How
//! they are recorded is the storage's.

use std::collections::BTreeSet;

/// One dead property: its name and the text kept for its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProperty {
    /// The namespace URI (empty for none).
    pub ns: String,
    /// The local name.
    pub local: String,
    /// What the dialect keeps for it (WebDAV: the element, as XML).
    pub value: String,
}

/// The dead properties of one namespace a new version of a file is
/// written with (S3's object metadata, given with its bytes): in its
/// commit they replace whatever that namespace held in the record the
/// version has so far (a copy's, taken from its source), and leave the
/// other namespaces' properties as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewProps {
    /// The namespace they replace.
    pub ns: String,
    /// The properties, each of namespace `ns`.
    pub props: Vec<DeadProperty>,
}

impl NewProps {
    /// None of namespace `ns`: a version whose properties there are
    /// cleared.
    pub fn of(ns: &str) -> NewProps {
        NewProps {
            ns: ns.to_owned(),
            props: Vec::new(),
        }
    }
}

/// What has dead properties, by its name from the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A file.
    File(&'a str),
    /// A folder, without its `/` ("" for the root).
    Folder(&'a str),
}

/// The members of a folder that may have records: found with one or two
/// directory reads of its mirror, so a listing looks up a record only for
/// members that have one.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The folder itself has a record.
    pub own: bool,
    /// Leaves of files with a record.
    pub files: BTreeSet<String>,
    /// Leaves of subfolders with a mirror (their own record, or their
    /// members').
    pub folders: BTreeSet<String>,
}
