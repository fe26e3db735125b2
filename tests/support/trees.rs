//! Trees of files for the clients that copy folders (FTP's, SFTP's): one
//! laid out, and every file under a folder with its bytes, to compare a
//! copy with its source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A tree of a few files and folders in `dir`: `a/one.txt`, `a/b/big.bin`
/// (`big` bytes), `c/three.txt` and an empty file.
pub fn tree(dir: &Path, big: usize) {
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::write(dir.join("a/one.txt"), b"one\n").unwrap();
    std::fs::write(dir.join("a/b/big.bin"), super::pattern(big, 5)).unwrap();
    std::fs::write(dir.join("c/three.txt"), b"three\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
}

/// Every file under `dir`, by its path from `dir`, with its bytes.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => folders.push(path),
                false => {
                    let bytes = std::fs::read(&path).unwrap();
                    found.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
                }
            }
        }
    }
    found
}

/// Asserts that `left` and `right` hold the same files with the same
/// bytes.
pub fn assert_same_tree(left: &Path, right: &Path) {
    let (left, right) = (files(left), files(right));
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>()
    );
    assert!(left == right, "the same bytes");
}
