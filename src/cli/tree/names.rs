//! How folders map to remote names and back.
//!
//! Upload: every regular file below the folder becomes
//! `<prefix>/<path relative to the folder, with />`. Files that cannot
//! become a valid FERRY/1 name (not UTF-8, control characters, a segment
//! starting with `.ferry-`, too long), symlinks, special files and partial
//! downloads (`*.ferry-part`) are skipped with a warning.
//!
//! Download: a remote name keeps what follows the prefix's last `/`, so
//! `get -r photos` makes `./photos/...` and `get -r photos/` puts the
//! folder's contents straight into the target. Names are checked again
//! here: whatever a server sends, no local path can climb out of the target.

use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::cli::landing::PARTIAL_SUFFIX;
use crate::cli::remote_name::join;
use crate::name::Name;

/// A local file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its remote name.
    pub name: String,
    /// Its size when the folder was read.
    pub size: u64,
}

/// Every regular file below `root`, sorted by remote name, named under
/// `prefix`; `skipped` hears about what was left out and why.
///
/// # Errors
/// A folder that cannot be read.
pub fn walk(
    root: &Path,
    prefix: &str,
    skipped: &mut dyn FnMut(&Path, &str),
) -> io::Result<Vec<LocalFile>> {
    let mut found = Vec::new();
    walk_into(root, "", prefix, skipped, &mut found)?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn walk_into(
    dir: &Path,
    relative: &str,
    prefix: &str,
    skipped: &mut dyn FnMut(&Path, &str),
    found: &mut Vec<LocalFile>,
) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(segment) = entry.file_name().to_str().map(str::to_owned) else {
            skipped(&path, "name is not UTF-8");
            continue;
        };
        let kind = entry.file_type()?;
        let name = join(prefix, &join(relative, &segment));
        if kind.is_dir() {
            if let Err(err) = Name::new(format!("{name}/x")) {
                skipped(&path, &format!("not a valid remote name: {err}"));
                continue;
            }
            walk_into(&path, &join(relative, &segment), prefix, skipped, found)?;
        } else if !kind.is_file() {
            skipped(&path, not_regular(kind));
        } else if segment.ends_with(PARTIAL_SUFFIX) {
            skipped(&path, "a partial download");
        } else if let Err(err) = Name::new(name.clone()) {
            skipped(&path, &format!("not a valid remote name: {err}"));
        } else {
            let size = entry.metadata()?.len();
            found.push(LocalFile { path, name, size });
        }
    }
    Ok(())
}

/// Why an entry that is neither a folder nor a regular file is skipped,
/// saying what it is.
fn not_regular(kind: fs::FileType) -> &'static str {
    if kind.is_symlink() {
        "a symlink (symlinks are not followed)"
    } else if kind.is_fifo() {
        "a FIFO (named pipe), not a regular file"
    } else if kind.is_socket() {
        "a socket, not a regular file"
    } else if kind.is_block_device() {
        "a block device, not a regular file"
    } else if kind.is_char_device() {
        "a character device, not a regular file"
    } else {
        "not a regular file"
    }
}

/// The local path for remote `name`, listed under `prefix`, inside
/// `target`; `None` if the name is not one a server may send.
pub fn local_path(target: &Path, prefix: &str, name: &str) -> Option<PathBuf> {
    let kept = prefix.rfind('/').map_or(0, |at| at + 1);
    let relative = name.strip_prefix(prefix).map(|_| &name[kept..])?;
    // A valid name has no empty, `.` or `..` segments and no leading `/`.
    Name::new(relative.to_owned()).ok()?;
    let mut path = target.to_path_buf();
    path.extend(relative.split('/'));
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_keep_what_follows_the_prefix_folder() {
        let target = Path::new("out");
        assert_eq!(
            local_path(target, "photos", "photos/2026/a.jpg"),
            Some(PathBuf::from("out/photos/2026/a.jpg"))
        );
        assert_eq!(
            local_path(target, "photos/", "photos/2026/a.jpg"),
            Some(PathBuf::from("out/2026/a.jpg"))
        );
        assert_eq!(
            local_path(target, "logs/2026-0", "logs/2026-01.csv"),
            Some(PathBuf::from("out/2026-01.csv"))
        );
        assert_eq!(
            local_path(target, "", "a/b"),
            Some(PathBuf::from("out/a/b"))
        );
    }

    #[test]
    fn hostile_names_from_a_server_are_refused() {
        let target = Path::new("out");
        for name in ["x/../../etc/passwd", "x//y", "/etc/passwd", "other/file"] {
            assert_eq!(local_path(target, "x/", name), None, "{name}");
        }
        assert_eq!(local_path(target, "x/", "x/"), None);
    }

    #[test]
    fn walks_regular_files_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("sub/deeper/b.txt"), "bb").unwrap();
        fs::write(root.join("sub/.b.txt.ferry-part"), "partial").unwrap();
        fs::write(root.join("bad\u{1}name"), "x").unwrap();
        fs::create_dir(root.join(".ferry-reserved")).unwrap();
        fs::write(root.join(".ferry-reserved/c"), "c").unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();

        let mut skipped = Vec::new();
        let files = walk(root, "up", &mut |path, why| {
            skipped.push((path.strip_prefix(root).unwrap().to_owned(), why.to_owned()))
        })
        .unwrap();
        let names: Vec<(&str, u64)> = files.iter().map(|f| (f.name.as_str(), f.size)).collect();
        assert_eq!(names, [("up/a.txt", 1), ("up/sub/deeper/b.txt", 2)]);
        let skipped_paths: Vec<String> = skipped
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(
            skipped_paths,
            [
                ".ferry-reserved",
                "bad\u{1}name",
                "link",
                "sock",
                "sub/.b.txt.ferry-part"
            ]
        );
        assert_eq!(skipped[2].1, "a symlink (symlinks are not followed)");
        assert_eq!(skipped[3].1, "a socket, not a regular file");
    }
}
