//! FTP paths as ferry names: a client's `/` is the root, its working
//! folder is where relative paths start, `.` and `..` are steps and `..`
//! above the root stays there (RFC 959 gives paths no syntax; this is
//! what every Unix server does). Whatever the steps, the result is a
//! name below the root: the jail and the grants judge it as any other.

use crate::name::{Name, Prefix};

/// `arg` resolved against the working folder `cwd`: a ferry path without
/// a leading `/` (`""`: the root), no `.` or `..` left in it.
pub fn resolve(cwd: &str, arg: &str) -> String {
    let start = match arg.starts_with('/') {
        true => "",
        false => cwd,
    };
    let mut steps: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    for step in arg.split('/') {
        match step {
            "" | "." => {}
            ".." => {
                steps.pop();
            }
            step => steps.push(step),
        }
    }
    steps.join("/")
}

/// `path` (as [`resolve`] gives it) as a file's name; `None` for the root
/// or a name ferry does not take.
pub fn file_name(path: &str) -> Option<Name> {
    Name::new(path.to_owned()).ok()
}

/// `path` (as [`resolve`] gives it) as a folder's prefix.
pub fn folder_prefix(path: &str) -> Option<Prefix> {
    match path {
        "" => Some(Prefix::root()),
        path => Prefix::new(format!("{path}/")).ok(),
    }
}

/// `path` as a client is told it (PWD, MKD): absolute, with a `"` in it
/// doubled (RFC 959 §7, the reply to MKD and PWD).
pub fn quoted(path: &str) -> String {
    format!("\"/{}\"", path.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_working_folder_and_stay_below_the_root() {
        assert_eq!(resolve("", "a/b"), "a/b");
        assert_eq!(resolve("a", "b/./c"), "a/b/c");
        assert_eq!(resolve("a/b", ".."), "a");
        assert_eq!(resolve("a/b", "/x"), "x");
        assert_eq!(resolve("a", "../../../etc/passwd"), "etc/passwd");
        assert_eq!(resolve("a", "/"), "");
        assert_eq!(resolve("a", ""), "a");
        assert_eq!(resolve("", "photos//cam 1.jpg"), "photos/cam 1.jpg");
    }

    #[test]
    fn names_and_prefixes_are_ferrys_own() {
        assert!(file_name("").is_none());
        assert_eq!(file_name("a/b").unwrap().as_str(), "a/b");
        assert!(file_name(".ferry-uploads/x").is_none());
        assert_eq!(folder_prefix("").unwrap().as_str(), "");
        assert_eq!(folder_prefix("a/b").unwrap().as_str(), "a/b/");
        assert_eq!(quoted("say \"hi\""), "\"/say \"\"hi\"\"\"");
    }
}
