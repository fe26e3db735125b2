//! What the root's file system can do, asked once at start-up (off the
//! reactor, by the sweep thread) with a handful of calls, and what ferry
//! does without each. `flock` is not asked here: taking the node lock is
//! the test, and a file system without it is refused (`lock.rs`).

use rustix::fs::{AtFlags, Mode, OFlags, XattrFlags};
use rustix::io::Errno;

use super::nodes::NODES_DIR;
use super::{BENEATH, DIR, Storage};

impl Storage {
    /// Probes the root's file system; one warning per missing feature,
    /// saying what it costs. A read-only server writes nothing, so it
    /// does not try extended attributes.
    pub fn probe_file_system(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        match rustix::fs::openat2(&*self.root, ".", DIR, Mode::empty(), BENEATH) {
            Ok(_) => {}
            Err(errno) => warnings.push(format!(
                "openat2 is not available here ({errno}): every lookup walks the path one directory at a time, one call per segment"
            )),
        }
        if let Some(Err(errno)) = self.nodes.as_ref().map(|nodes| self.probe_xattr(nodes)) {
            warnings.push(format!(
                "user.* extended attributes cannot be set in {NODES_DIR}/ ({errno}): a file's CRC-32C is recomputed on its first STAT or GET after each start (costly on large files), a resumed upload session re-reads its staged bytes, and a file's owner cannot be kept, so token quotas count only what was stored since the last recount (docs/quotas.md)"
            ));
        }
        warnings
    }

    /// Sets a `user.` attribute on a probe file of this node's, which is
    /// then removed.
    fn probe_xattr(&self, nodes: &std::os::fd::OwnedFd) -> Result<(), Errno> {
        let name = format!("{}.probe", self.node);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = rustix::fs::openat(nodes, name.as_str(), flags, Mode::from_raw_mode(0o600))?;
        let set = rustix::fs::fsetxattr(&file, "user.ferry.probe", b"1", XattrFlags::empty());
        let _ = rustix::fs::unlinkat(nodes, name.as_str(), AtFlags::empty());
        set
    }
}
