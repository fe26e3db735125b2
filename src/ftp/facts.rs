//! What the control connection says of files and of itself without a
//! data connection: a file's facts (`SIZE`, `MDTM`, `MLST`, RFC 3659), its
//! time set (`MFMT`), and the session's status (`STAT`). Each fact is a
//! `Get` of the file's description, never its bytes.

use super::control::{Control, Pending};
use super::path::{quoted, resolve};
use super::reply::{facts, mlst_lines, parse_mdtm};
use crate::name::Name;
use crate::serve::Operation;
use crate::serve::decoded::Decoded;
use crate::serve::ops;

impl Control {
    /// `MLST` (RFC 3659 §7): one entry's facts, on the control connection;
    /// the root (no file's name) is a folder.
    pub(super) fn mlst(&mut self, arg: &str, used: usize) -> Decoded {
        let path = resolve(&self.cwd, arg);
        if path.is_empty() {
            let lines = mlst_lines(&facts(None), "");
            return self.answer(used, &lines);
        }
        self.on_file(arg, used, Pending::Mlst(path), Self::describe)
    }

    /// `MFMT <time> <file>` (draft-somers-ftp-mfxx): sets a file's time,
    /// as WebDAV's `PROPPATCH` of `getlastmodified` does (what rclone and
    /// lftp send after an upload, to keep its time).
    pub(super) fn mfmt(&mut self, arg: &str, used: usize) -> Decoded {
        let (time, name) = arg.split_once(' ').unwrap_or((arg, ""));
        let Some(mtime) = parse_mdtm(time) else {
            return self.answer(used, "501 MFMT takes YYYYMMDDHHMMSS and a file");
        };
        let path = resolve(&self.cwd, name);
        let pending = Pending::Mfmt(time.to_owned(), path);
        self.on_file(name, used, pending, |name| {
            Operation::PropPatch(ops::PropPatch {
                target: crate::serve::PropTarget {
                    name: Some(name),
                    folder: false,
                },
                updates: vec![crate::serve::PropUpdate {
                    ns: String::new(),
                    local: "modify".to_owned(),
                    change: crate::serve::Change::Mtime(mtime),
                }],
            })
        })
    }

    /// `STAT` (RFC 959): where the session stands, on the control
    /// connection. (A transfer under way is answered once it ends: the
    /// control connection waits for its data connection meanwhile.)
    pub(super) fn status(&mut self, used: usize) -> Decoded {
        let user = self.user.as_deref().unwrap_or("-");
        let tls = match (self.security.secured, self.security.private) {
            (false, _) => "control and data in the clear",
            (true, false) => "control over TLS, data in the clear",
            (true, true) => "control and data over TLS",
        };
        let lines = format!(
            "211-ferry FTP status\r\n logged in as {user}\r\n working folder {}\r\n {tls}\r\n211 End",
            quoted(&self.cwd)
        );
        self.answer(used, &lines)
    }

    /// `name` described, its bytes not sent (SIZE, MDTM, MLST): a `Get` of
    /// its description, which never waits for a checksum (a `Stat` would
    /// compute the CRC-32C of a file placed by other means).
    pub(super) fn describe(name: Name) -> Operation {
        let want = crate::serve::Want::Whole { body: false };
        Operation::Get(ops::Get { name, want })
    }
}
