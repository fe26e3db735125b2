//! Whether a `flock` on the root's file system reaches the other hosts
//! that mount it, judged once at start from the mount that holds the
//! root (`/proc/self/mountinfo`, matched by device number).
//!
//! Every piece of shared state (the usage ledger, the name locks, the
//! WebDAV lock table, the node locks) is changed under the `flock` of a
//! regular file (docs/scaling.md, "What the shared file system must
//! provide"). On a local file system that holds for every process that
//! can reach the root. On a shared one it holds across hosts only where
//! the file system takes the lock to its server: JuiceFS, NFS with its
//! lock service, CephFS, SMB do; NFS mounted `local_lock=flock` (or
//! `all`, or `nolock`), SMB mounted `nobrl`, and FUSE file systems other
//! than JuiceFS (sshfs, rclone, s3fs...) keep it on the host. There
//! ferry warns at start: one node is served correctly, but nodes on
//! several hosts would count alike without excluding each other. A node
//! cannot prove more alone (the other hosts' locks are out of its sight),
//! so it warns rather than refuses.

use std::path::Path;

use log::{debug, warn};

/// Warns if the root's file system keeps `flock` on this host; says at
/// debug level what it found otherwise.
pub(super) fn check(root: &impl rustix::fd::AsFd, path: &Path) {
    let Ok(stat) = rustix::fs::fstat(root) else {
        return;
    };
    let device = format!(
        "{}:{}",
        rustix::fs::major(stat.st_dev),
        rustix::fs::minor(stat.st_dev)
    );
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        debug!("no /proc/self/mountinfo: whether locks reach other hosts is not known");
        return;
    };
    // The last mount of the device is the one in sight.
    let Some(mount) = table
        .lines()
        .filter_map(Mount::parse)
        .rfind(|m| m.device == device)
    else {
        return;
    };
    match mount.host_only() {
        Some(why) => warn!(
            "{}: {why}: flock there holds on this host alone; one node serves it \
             correctly, but nodes on several hosts would not exclude each other \
             (docs/scaling.md)",
            path.display()
        ),
        None => debug!("{}: on {} ({})", path.display(), mount.fstype, mount.source),
    }
}

/// The fields of a `mountinfo` line this judgement needs.
#[derive(Debug, PartialEq, Eq)]
struct Mount<'a> {
    device: &'a str,
    fstype: &'a str,
    source: &'a str,
    /// The mount's options and the file system's, comma-separated.
    options: String,
}

impl<'a> Mount<'a> {
    /// One line of `/proc/self/mountinfo` (proc(5)): `id parent
    /// major:minor root point options [optional...] - fstype source
    /// super-options`.
    fn parse(line: &'a str) -> Option<Mount<'a>> {
        let (before, after) = line.split_once(" - ")?;
        let mut left = before.split(' ');
        let device = left.nth(2)?;
        let mount_options = left.nth(2)?;
        let mut right = after.split(' ');
        let (fstype, source) = (right.next()?, right.next()?);
        let super_options = right.next().unwrap_or("");
        Some(Mount {
            device,
            fstype,
            source,
            options: format!("{mount_options},{super_options}"),
        })
    }

    /// Why `flock` on this mount stays on this host, if it does.
    fn host_only(&self) -> Option<String> {
        let has = |option: &str| self.options.split(',').any(|o| o == option);
        match self.fstype {
            "nfs" | "nfs4" => ["local_lock=flock", "local_lock=all", "nolock"]
                .into_iter()
                .find(|option| has(option))
                .map(|option| format!("NFS mounted {option}")),
            "cifs" | "smb3" if has("nobrl") => Some(format!("{} mounted nobrl", self.fstype)),
            "9p" => Some("9p keeps locks on the client".to_owned()),
            "fuse.juicefs" => None,
            fuse if fuse.starts_with("fuse") => Some(format!(
                "{fuse} ({}) takes no lock to a server",
                self.source
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(line: &str) -> Option<String> {
        Mount::parse(line).expect("a mountinfo line").host_only()
    }

    #[test]
    fn a_mountinfo_line_gives_its_device_type_source_and_options() {
        let line =
            "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
        let mount = Mount::parse(line).unwrap();
        assert_eq!(mount.device, "98:0");
        assert_eq!(mount.fstype, "ext3");
        assert_eq!(mount.source, "/dev/root");
        assert_eq!(mount.options, "rw,noatime,rw,errors=continue");
        assert_eq!(Mount::parse("not a mountinfo line"), None);
    }

    #[test]
    fn locks_kept_on_the_host_are_told_and_forwarded_ones_are_not() {
        let juicefs = "50 30 0:52 / /mnt/node1 rw,relatime shared:300 - fuse.juicefs JuiceFS:ferry rw,user_id=0,group_id=0,default_permissions,allow_other";
        assert_eq!(judged(juicefs), None);
        let nfs = "60 30 0:60 / /srv rw,relatime shared:1 - nfs4 host:/export rw,vers=4.2,local_lock=none,addr=10.0.0.1";
        assert_eq!(judged(nfs), None);
        let local = "60 30 0:60 / /srv rw,relatime shared:1 - nfs4 host:/export rw,vers=4.2,local_lock=flock";
        assert_eq!(
            judged(local).as_deref(),
            Some("NFS mounted local_lock=flock")
        );
        let nolock = "60 30 0:61 / /srv rw - nfs host:/export rw,vers=3,nolock";
        assert_eq!(judged(nolock).as_deref(), Some("NFS mounted nolock"));
        let sshfs = "70 30 0:70 / /mnt/ssh rw,nosuid,nodev - fuse.sshfs me@host:/data rw,user_id=0";
        assert!(
            judged(sshfs)
                .unwrap()
                .contains("fuse.sshfs (me@host:/data)")
        );
        let smb = "80 30 0:80 / /mnt/smb rw - cifs //host/share rw,vers=3.1.1,nobrl";
        assert_eq!(judged(smb).as_deref(), Some("cifs mounted nobrl"));
        let ext4 = "90 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw";
        assert_eq!(judged(ext4), None);
    }
}
