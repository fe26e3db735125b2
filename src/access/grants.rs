//! Permissions on folders: what a grant such as `write:sensors/` means and
//! how a name, a listing prefix or a folder is checked against a set of
//! grants. Pure string logic over names that [`crate::name`] has already
//! validated (no `..`, no empty segment, no leading `/`).

use std::fmt;

use crate::name::{Name, encode, percent_decode};

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perm {
    /// GET, HEAD, STAT, LIST and listings.
    Read,
    /// PUT and resumable uploads (UPLOAD, APPEND, COMMIT, ABORT).
    Write,
    /// DEL, and MOVE of a file away.
    Delete,
}

impl Perm {
    /// The word in a grant.
    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Delete => "delete",
        }
    }
}

/// One permission on one folder (or the whole root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What it allows.
    pub perm: Perm,
    /// The folder, decoded, ending in `/`; empty for the whole root.
    prefix: String,
}

impl Grant {
    /// Parses `<perm>:<folder>`: `read`, `write` or `delete`, then a folder
    /// (percent-encoded as names are on the wire; a trailing `/` is
    /// optional) or `/` (or nothing) for the whole root.
    ///
    /// # Errors
    /// An unknown permission, or a folder that is not a valid name.
    pub fn parse(text: &str) -> Result<Grant, String> {
        let (perm, folder) = text
            .split_once(':')
            .ok_or_else(|| format!("grant {text:?} is not <perm>:<folder>"))?;
        let perm = match perm {
            "read" => Perm::Read,
            "write" => Perm::Write,
            "delete" => Perm::Delete,
            other => {
                return Err(format!(
                    "unknown permission {other:?} (read, write or delete)"
                ));
            }
        };
        let folder = folder.trim_matches('/');
        if folder.is_empty() {
            return Ok(Grant {
                perm,
                prefix: String::new(),
            });
        }
        let decoded = percent_decode(folder.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("folder {folder:?} is not a valid name"))?;
        let name = Name::new(decoded).map_err(|err| format!("folder {folder:?}: {err}"))?;
        Ok(Grant {
            perm,
            prefix: format!("{}/", name.as_str()),
        })
    }

    /// The folder, decoded: empty for the root, else ending in `/`.
    pub fn folder(&self) -> &str {
        &self.prefix
    }

    /// Whether it covers the file or folder `name` (`sensors/` covers
    /// `sensors/a` and `sensors/b/`, never `sensors-old/a` nor `sensors`
    /// itself).
    fn covers(&self, name: &str) -> bool {
        name.starts_with(&self.prefix)
    }

    /// Whether anything it covers could match `prefix`, a listing prefix
    /// (a string every listed name starts with): it covers the prefix, or
    /// its folder lies below it.
    fn meets(&self, prefix: &str) -> bool {
        self.covers(prefix) || self.prefix.starts_with(prefix)
    }
}

impl fmt::Display for Grant {
    /// `<perm>:<folder>` as [`Grant::parse`] reads it (`/` for the root).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix.is_empty() {
            true => write!(f, "{}:/", self.perm.as_str()),
            false => write!(f, "{}:{}", self.perm.as_str(), encode(&self.prefix)),
        }
    }
}

/// A set of grants: a token's, or what clients without one may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(Vec<Grant>);

impl Grants {
    /// These grants.
    pub fn new(grants: Vec<Grant>) -> Grants {
        Grants(grants)
    }

    /// The grants, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter()
    }

    /// Whether `perm` is granted on the file `name`.
    pub fn allows(&self, perm: Perm, name: &str) -> bool {
        self.0.iter().any(|g| g.perm == perm && g.covers(name))
    }

    /// Whether a listing of `prefix` may show anything: some read grant
    /// covers it or lies below it. Each entry is then checked on its own
    /// ([`Grants::allows`] for files, [`Grants::may_list`] with the
    /// folder's name and `/` for folders).
    pub fn may_list(&self, prefix: &str) -> bool {
        self.reaches(Perm::Read, prefix)
    }

    /// Whether `perm` is granted on anything under `prefix`: some grant
    /// of it covers the prefix or lies below it (a folder's removal then
    /// checks each file with [`Grants::allows`]).
    pub fn reaches(&self, perm: Perm, prefix: &str) -> bool {
        self.0.iter().any(|g| g.perm == perm && g.meets(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(texts: &[&str]) -> Grants {
        Grants::new(texts.iter().map(|t| Grant::parse(t).unwrap()).collect())
    }

    #[test]
    fn a_folder_grant_covers_its_folder_only() {
        let g = grants(&["read:sensors/", "write:logs"]);
        assert!(g.allows(Perm::Read, "sensors/a.csv"));
        assert!(g.allows(Perm::Read, "sensors/deep/b"));
        assert!(!g.allows(Perm::Read, "sensors-old/a.csv"));
        assert!(!g.allows(Perm::Read, "sensors"));
        assert!(!g.allows(Perm::Write, "sensors/a.csv"));
        assert!(g.allows(Perm::Write, "logs/x"));
        assert!(!g.allows(Perm::Write, "logs"));
        assert!(!g.allows(Perm::Read, "logs/x"));
    }

    #[test]
    fn the_root_is_slash_or_nothing() {
        for text in ["read:/", "read:", "read://"] {
            let g = grants(&[text]);
            assert!(g.allows(Perm::Read, "a"));
            assert!(g.allows(Perm::Read, "a/b/c"));
            assert_eq!(Grant::parse(text).unwrap().to_string(), "read:/");
        }
    }

    #[test]
    fn listings_show_what_leads_to_a_grant() {
        let g = grants(&["read:a/b/"]);
        assert!(g.may_list(""));
        assert!(g.may_list("a/"));
        assert!(g.may_list("a/b/"));
        assert!(g.may_list("a/b/c/"));
        assert!(g.may_list("a/b"));
        assert!(!g.may_list("a/c/"));
        assert!(!g.may_list("b/"));
        assert!(!grants(&["write:/"]).may_list(""));
    }

    #[test]
    fn bad_grants_are_refused_with_a_reason() {
        for bad in [
            "read",
            "admin:/",
            "read:../x",
            "read:a/../b",
            "read:.ferry-uploads/",
            "read:%zz",
        ] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn folders_are_percent_encoded_like_names() {
        let grant = Grant::parse("read:my%20folder/").unwrap();
        assert_eq!(grant.folder(), "my folder/");
        assert_eq!(grant.to_string(), "read:my%20folder/");
        assert_eq!(Grant::parse(&grant.to_string()).unwrap(), grant);
    }
}
