//! What the control connection says of files and of itself without a
//! data connection: a file's facts (`SIZE`, `MDTM`, `MLST`, RFC 3659), its
//! time set (`MFMT`), the session's status (`STAT`) and a listing's
//! (`STAT <path>`). A fact is a `Get` of the file's description, never
//! its bytes; `MLST` and `STAT <path>` are listings of the one name,
//! sent on the control connection as a reply's lines.

use super::control::{Control, Pending};
use super::listing::{Mlst, StatLines};
use super::path::{folder_prefix, quoted, resolve};
use super::reply::parse_mdtm;
use crate::name::Name;
use crate::serve::Operation;
use crate::serve::decoded::Decoded;
use crate::serve::ops;
use crate::serve::terms::ListingFormat;

impl Control {
    /// `MLST` (RFC 3659 §7): one entry's facts, `perm` among them, on the
    /// control connection: a listing of the name alone ([`Mlst`]), so
    /// that it knows what the token may do there.
    pub(super) fn mlst(&mut self, arg: &str, used: usize) -> Decoded {
        let path = resolve(&self.cwd, arg);
        match named(&path, Box::new(Mlst::giving(self.facts))) {
            Some(list) => self.request(used, Pending::Mlst(path), list),
            None => self.answer(used, "553 not a name ferry takes"),
        }
    }

    /// `STAT <path>` (RFC 959): what `LIST` would send, on the control
    /// connection ([`StatLines`]); a file named is its one line.
    pub(super) fn status_of(&mut self, arg: &str, used: usize) -> Decoded {
        let path = self.listed_path(arg);
        match named(&path, Box::new(StatLines)) {
            Some(list) => self.request(used, Pending::StatOf(path), list),
            None => self.answer(used, "553 not a name ferry takes"),
        }
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
                preconditions: None,
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

/// A listing of the name `path` alone in `format`, sent on the control
/// connection; `None` if ferry takes no such name.
fn named(path: &str, format: ListingFormat) -> Option<Operation> {
    let list = ops::List {
        prefix: folder_prefix(path)?,
        scope: crate::serve::Scope::Named,
        format,
        body: true,
    };
    Some(Operation::List(list))
}
