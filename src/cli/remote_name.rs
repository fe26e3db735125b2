//! Remote names as the command line gives them: a leading `/` is the
//! root, for every command ([`parse_name`]); how a name reads as a
//! listing's prefix or a folder, and joins one; and the check that one is
//! not empty.

use super::Failure;

/// The root folder, as a user names it.
const ROOT: &str = "/";

/// A remote name as typed, read as in a shell: a leading `/` means the
/// root, so `/in/a.txt` is `in/a.txt` (FERRY/1 names have no leading
/// `/`), and `/` alone is the root folder itself, kept as `/` (a folder,
/// as every name ending in `/` is) for [`prefix`] and [`as_folder`] to
/// read as the whole server. Every remote-name argument is parsed with it
/// (`value_parser`), so the rule holds for every command; `sync`, whose
/// arguments may be local paths, applies it to its remote side.
pub fn parse_name(text: &str) -> Result<String, std::convert::Infallible> {
    let name = text.trim_start_matches('/');
    Ok(if name.is_empty() && !text.is_empty() {
        ROOT.to_owned()
    } else {
        name.to_owned()
    })
}

/// `name` as a listing prefix: the root folder (`/`) is `""`, the whole
/// server; any other name is itself.
pub fn prefix(name: &str) -> &str {
    if name == ROOT { "" } else { name }
}

/// `name` as a folder prefix for `LIST`: `photos` and `photos/` are both
/// `photos/` (never `photos-old/...`); `""` and `/` are the whole server.
pub fn as_folder(name: &str) -> String {
    let name = prefix(name);
    if name.is_empty() || name.ends_with('/') {
        name.to_owned()
    } else {
        format!("{name}/")
    }
}

/// Refuses an empty remote name before anything is sent: the server would
/// answer with its parser's view of the request line, which means nothing
/// to someone who typed `ferry put a.txt ""`.
pub(super) fn check_remote_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() {
        return Err(Failure::usage("", "the remote name is empty"));
    }
    Ok(())
}

/// `prefix` and a relative name joined with one `/` (none for an empty
/// prefix or one that ends in `/`).
pub fn join(prefix: &str, relative: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{relative}")
    } else {
        format!("{prefix}/{relative}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_slash_is_the_root() {
        let parsed = |text| parse_name(text).unwrap();
        for (typed, meant) in [
            ("/in/a.txt", "in/a.txt"),
            ("//in/", "in/"),
            ("in", "in"),
            ("/", "/"),
            ("///", "/"),
            ("", ""),
        ] {
            assert_eq!(parsed(typed), meant, "{typed:?}");
        }
        assert_eq!(as_folder(&parsed("/")), "");
        assert_eq!(as_folder(&parsed("/in")), "in/");
        assert_eq!(prefix(&parsed("/in")), "in");
    }

    #[test]
    fn prefixes_join_with_one_slash() {
        assert_eq!(join("", "a/b"), "a/b");
        assert_eq!(join("backup", "a/b"), "backup/a/b");
        assert_eq!(join("backup/", "a"), "backup/a");
    }
}
