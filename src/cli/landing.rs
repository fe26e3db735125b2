//! Where a download lands: the partial file it is written to beside its
//! target until it is complete and verified, and the server's
//! modification time given to it after. `get` of one file
//! (`transfer.rs`) and of a folder (`tree/jobs.rs`) share them, and the
//! folder walk (`tree/names.rs`) skips partial files by their suffix.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of the partial files downloads write.
pub const PARTIAL_SUFFIX: &str = ".ferry-part";

/// Gives a downloaded file the modification time it has on the server
/// (as uploads keep the local one), when the server said it.
pub fn keep_mtime(file: &File, mtime: Option<i64>) -> io::Result<()> {
    let Some(mtime) = mtime else {
        return Ok(());
    };
    let when = match u64::try_from(mtime) {
        Ok(after) => std::time::UNIX_EPOCH + std::time::Duration::from_secs(after),
        Err(_) => std::time::UNIX_EPOCH - std::time::Duration::from_secs(mtime.unsigned_abs()),
    };
    file.set_modified(when)
}

/// Where a download of `target` is written until it is complete and
/// verified: `.<name>.ferry-part` beside it.
pub fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{PARTIAL_SUFFIX}"))
}
