//! What no operation may ever do to the tree, whichever protocol asked:
//! checked once, in `admit`, before an operation's own function runs and
//! before anything on the disk is touched (STYLE.md item 17). The grants
//! are `access.rs`'s; this file holds the rules of names against names.
//!
//! | a COPY or MOVE whose destination is | answer |
//! |---|---|
//! | an ancestor of its source (replacing it would take the source) | 409 |
//! | inside its source (the tree would hold itself) | 403 for a folder's (RFC 4918 9.8.5), 409 for a name's (a file holds no names) |
//! | the source itself | the operation's own answer (`files.rs`, `folders.rs`) |
//!
//! The first is why this file exists: a WebDAV `MOVE /g/sub/` with
//! `Destination: /g/` and `Overwrite: T` used to clear `g/` (and the source
//! inside it) before the rename, then answer 404. A copy onto itself has
//! an answer of its own per operation (S3's CopyObject onto itself changes
//! its metadata, an UploadPartCopy may take a part from the key it writes).

use super::{Declared, ErrorKind, Failure, Needs};

/// What a destination is to the source of a copy or move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// The same name.
    Same,
    /// A folder that holds the source.
    Ancestor,
    /// A name inside the source.
    Inside,
    /// Neither: the two trees are apart.
    Apart,
}

/// The relation of `to` to `from`, names or folder prefixes (a trailing
/// `/` does not count: `g/` is the folder `g`).
fn relation(from: &str, to: &str) -> Relation {
    let (from, to) = (from.trim_end_matches('/'), to.trim_end_matches('/'));
    let holds = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with('/'))
    };
    match () {
        () if from == to => Relation::Same,
        () if holds(to, from) => Relation::Ancestor,
        () if holds(from, to) => Relation::Inside,
        () => Relation::Apart,
    }
}

/// Refuses an operation `declared` that would break an invariant of the
/// tree (see the table above).
///
/// # Errors
/// 409 for a destination that holds the source, 403 for one inside it.
pub(super) fn check(declared: Declared<'_>) -> Result<(), Failure> {
    let (from, to, folder) = match declared.needs {
        Needs::Move(from, to) | Needs::Copy(from, to) => (from, to, false),
        Needs::CopyUnder(from, to) | Needs::MoveWhole(from, to) => (from, to, true),
        _ => return Ok(()),
    };
    match relation(from, to) {
        Relation::Ancestor => Err(Failure::new(
            ErrorKind::Conflict,
            "the destination holds the source: nothing is replaced by what it holds",
        )),
        Relation::Inside if folder => Err(Failure::new(
            ErrorKind::Forbidden,
            "a folder is not copied or moved into itself",
        )),
        Relation::Inside => Err(Failure::new(
            ErrorKind::Conflict,
            "the destination is inside the source",
        )),
        Relation::Same | Relation::Apart => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Relation, relation};

    #[test]
    fn relations_are_by_whole_names() {
        assert_eq!(relation("g/sub/", "g/"), Relation::Ancestor);
        assert_eq!(relation("g/f.txt", "g"), Relation::Ancestor);
        assert_eq!(relation("g/a/b/c", "g"), Relation::Ancestor);
        assert_eq!(relation("g/", ""), Relation::Ancestor);
        assert_eq!(relation("g/", "g/sub/"), Relation::Inside);
        assert_eq!(relation("g/", "g"), Relation::Same);
        assert_eq!(relation("g/sub", "g/sub"), Relation::Same);
        assert_eq!(relation("g/sub/", "g/sub2/"), Relation::Apart);
        assert_eq!(relation("g-old/x", "g"), Relation::Apart);
        assert_eq!(relation("g", "g-old/x"), Relation::Apart);
    }
}
