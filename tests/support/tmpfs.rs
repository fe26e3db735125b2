//! A tmpfs a test mounts for itself: a small disk that fills, or a
//! file system whose free space no other test changes (needs root; where
//! this process may not mount, the test says it was skipped).

use std::path::Path;
use std::process::Command;

/// A tmpfs mounted for one test; unmounted on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "2m") with extra `options`, or
    /// returns None (and says why) where this process may not mount.
    pub fn mount(size: &str, options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}{options}"),
                "tmpfs",
            ])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(status) if status.success() => Some(Tmpfs { dir }),
            _ => {
                eprintln!("skipping: cannot mount a tmpfs here (needs root)");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
