//! Quotas: how much a token's uploads, or a folder's contents, may hold,
//! in bytes and in files; as the tokens file, `ferry token` and
//! `ferry serve --quota` write them. What is used is counted by the
//! storage's ledger (`storage/posix/usage.rs`); the rule that compares the two
//! is `serve/room.rs`, its arithmetic `storage/posix/usage_limit.rs`.
//!
//! Sizes are read as people write them ([`parse_size`]: `512K`, `10G`),
//! here and on the command line.
//!
//! ```text
//! 10G              at most 10 GiB
//! 10G,files=1000   and at most 1000 files
//! files=1000       at most 1000 files, any size
//! ```

use std::fmt;

/// A limit in bytes, in files, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quota {
    /// At most this many bytes.
    pub bytes: Option<u64>,
    /// At most this many files.
    pub files: Option<u64>,
}

impl Quota {
    /// Reads `BYTES`, `BYTES,files=N` or `files=N` (see the module's
    /// header); sizes as [`parse_size`] reads them.
    ///
    /// # Errors
    /// Anything else, or neither limit.
    pub fn parse(text: &str) -> Result<Quota, String> {
        let mut quota = Quota::default();
        for (at, part) in text.split(',').enumerate() {
            match part.strip_prefix("files=") {
                Some(files) if quota.files.is_none() => {
                    let files = files
                        .parse()
                        .map_err(|_| format!("quota {text:?}: expected files=<number of files>"))?;
                    quota.files = Some(files);
                }
                None if at == 0 => quota.bytes = Some(parse_size(part)?),
                _ => {
                    return Err(format!(
                        "quota {text:?}: expected <bytes>, <bytes>,files=<n> or files=<n>"
                    ));
                }
            }
        }
        Ok(quota)
    }
}

impl fmt::Display for Quota {
    /// The form [`Quota::parse`] reads back, in plain bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.bytes, self.files) {
            (Some(bytes), Some(files)) => write!(f, "{bytes},files={files}"),
            (Some(bytes), None) => write!(f, "{bytes}"),
            (None, Some(files)) => write!(f, "files={files}"),
            // No limit at all (never read from text): as many files as can be.
            (None, None) => write!(f, "files={}", u64::MAX),
        }
    }
}

/// A folder's quota (`ferry serve --quota PREFIX=QUOTA`): what the folder
/// and everything below it may hold, whoever stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderQuota {
    /// The folder, ending in `/` (`""` for the whole root).
    pub prefix: String,
    /// Its limit.
    pub limit: Quota,
}

/// Whether the folder `prefix` (ending in `/`, `""` for the root) holds
/// `path` or is it ([`FolderQuota::covers`]): also asked of the storage's
/// ledger, which keeps the prefixes alone.
pub fn covers(prefix: &str, path: &str) -> bool {
    prefix.is_empty() || path.starts_with(prefix) || prefix.strip_suffix('/') == Some(path)
}

impl FolderQuota {
    /// Whether its folder holds `path` (a name from the root, a file's or
    /// a folder's, with or without its `/`), or is it: what a write or a
    /// listing there counts in.
    pub fn covers(&self, path: &str) -> bool {
        covers(&self.prefix, path)
    }

    /// Reads `PREFIX=QUOTA`: `sensors/=10G,files=1000`, `/=1T` for the
    /// whole root.
    ///
    /// # Errors
    /// No `=`, a folder that is not a valid name, or a bad quota.
    pub fn parse(text: &str) -> Result<FolderQuota, String> {
        let (folder, quota) = text
            .split_once('=')
            .ok_or_else(|| format!("expected FOLDER=QUOTA such as sensors/=10G, got {text:?}"))?;
        let prefix = match folder.trim_matches('/') {
            "" => String::new(),
            folder => crate::name::Prefix::new(format!("{folder}/"))
                .map_err(|err| format!("quota folder {folder:?}: {err}"))?
                .as_str()
                .to_owned(),
        };
        Ok(FolderQuota {
            prefix,
            limit: Quota::parse(quota)?,
        })
    }
}

/// Parses `1048576`, `512K`, `10M`, `2G`, `1T` (powers of 1024).
///
/// # Errors
/// Not a size, or one over `u64::MAX` bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("expected a size such as 1048576, 512K, 10M or 2G, got {text:?}");
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(bad()),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let value: u64 = digits.parse().map_err(|_| bad())?;
    value.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_back_as_written() {
        let both = Quota::parse("10G,files=1000").unwrap();
        assert_eq!(both.bytes, Some(10 << 30));
        assert_eq!(both.files, Some(1000));
        assert_eq!(Quota::parse(&both.to_string()), Ok(both));
        let files = Quota::parse("files=3").unwrap();
        assert_eq!((files.bytes, files.files), (None, Some(3)));
        assert_eq!(files.to_string(), "files=3");
        for bad in [
            "",
            "x",
            "10G,files=",
            "files=1,files=2",
            "10G,10G",
            "files=1,10G",
        ] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_quotas_name_a_folder() {
        let quota = FolderQuota::parse("sensors/17=1M").unwrap();
        assert_eq!(quota.prefix, "sensors/17/");
        assert_eq!(FolderQuota::parse("/=1T").unwrap().prefix, "");
        for (path, covered) in [
            ("sensors/17/a", true),
            ("sensors/17", true),
            ("sensors/1", false),
            ("sensors/170/a", false),
        ] {
            assert_eq!(quota.covers(path), covered, "{path}");
        }
        for bad in ["sensors", "../x=1M", ".ferry-x/=1M", "a/=nope"] {
            assert!(FolderQuota::parse(bad).is_err(), "{bad}");
        }
    }
}
