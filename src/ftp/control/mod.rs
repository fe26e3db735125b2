//! An FTP control connection's codec: the login, the working folder, and
//! each command as an operation for the serve layer (so grants, locks,
//! quotas, hooks, logs and metrics are every protocol's) or answered
//! here where it asks nothing of the root (`SYST`, `FEAT`, `NOOP`,
//! `TYPE`, `PWD`).
//!
//! ```text
//! 220 greeting
//! USER <name>          331                     any name; the password is a token
//! PASS <token>         Auth -> 230 | 530       with access control off: 230
//! CWD <folder>         DF -> 250               the folder must be there, within a grant
//! DELE / MKD / RMD     Delete / MakeFolder / RemoveFolder -> 250 | 257
//! RNFR + RNTO          Get (is it there?) + MoveFile | MoveFolder -> 350, 250
//! MDTM                 Get (the description) -> 213
//! MLST, STAT <path>    List (the name alone, sent here) -> 250, 213
//! PASV / EPSV          Link::Listen -> 227 | 229 (the reactor listens: links.rs)
//! RETR / LIST / NLST   Get / List, handed to the data connection -> 150, 226
//! STOR                 Put (the body ends at the data connection's end) -> 150, 226
//! REST n + STOR, APPE  Resume (goes on with the upload kept of a STOR cut off) -> 150, 226
//! SIZE                 ResumeFrom (the bytes kept of a STOR cut off, else the file's) -> 213
//! QUIT                 Quit -> 221, closed
//! ```
//!
//! Which method serves each verb, and what is taken before a login:
//! `verbs.rs`. What the server does not serve (`STOU`, `CCC`) is answered
//! 502.

mod verbs;

use super::command::{LineError, parse_command};
use super::path::{file_name, folder_prefix, quoted, resolve};
use super::reply::{Facts, failed, mdtm, one_line};
use super::terms::{Security, Terms};
use crate::access::{Login, Secret, is_anonymous_user};
use crate::model::Folders;
use crate::name::{Name, Prefix};
use crate::serve::decoded::{Decoded, Refusal};
use crate::serve::ops::{self, Request};
use crate::serve::{Body, ErrorKind, Operation, Reply};

/// A control connection's state between its commands.
#[derive(Debug, Default)]
pub struct Control {
    /// How clients log in (access control, anonymous grants).
    login: Login,
    /// The name `USER` gave, until the login ends.
    pub(super) user: Option<String>,
    logged_in: bool,
    /// The working folder, as a ferry path (`""`: the root).
    pub(super) cwd: String,
    /// What `RNFR` named (found there), for the `RNTO` that follows.
    rename_from: Option<Renaming>,
    /// A data connection is listened for or open (`PASV`, `EPSV`), for
    /// the next transfer.
    pub(super) passive: bool,
    /// The passive listener was asked for by `EPSV`: its answer names the
    /// port alone (RFC 2428).
    pub(super) extended: bool,
    /// `EPSV ALL` was sent (RFC 2428 §4: a client behind a NAT that
    /// rewrites nothing): every other way to a data connection is refused.
    epsv_only: bool,
    /// Where the next `RETR` or `STOR` begins (`REST`).
    pub(super) rest: u64,
    /// The facts `MLST` and `MLSD` give (`OPTS MLST`).
    pub(super) facts: Facts,
    /// What it is offered (TLS, active mode) and its client's address.
    pub(super) terms: Terms,
    /// FTPS: offered, begun, for the data connections too.
    pub(super) security: Security,
    /// `PORT`/`EPRT`: where the next transfer's data connection goes.
    pub(super) active: Option<std::net::SocketAddr>,
    /// The last transfer was cut (`426`): an `ABOR` that follows says it
    /// is aborted.
    pub(super) cut: bool,
    /// The command whose operation is being served.
    pending: Pending,
    /// Lines answered here, for the connection to send.
    answer: Vec<u8>,
    /// The last answer ends the connection.
    closing: bool,
}

/// What `RNFR` found: `RNTO` moves a file, or a folder whole.
#[derive(Debug)]
enum Renaming {
    File(Name),
    Folder(Name),
}

/// The command whose operation is being served, and what its answer says.
#[derive(Debug, Default)]
pub(super) enum Pending {
    #[default]
    Nothing,
    Pass,
    /// `CWD` to this folder.
    Cwd(String),
    Delete,
    /// `MKD` of this folder.
    MakeFolder(String),
    RemoveFolder,
    /// `RNFR` of this name: is it there, a file or a folder?
    RenameFrom(Name),
    Rename,
    Size,
    Mdtm,
    /// `MLST` of this path.
    Mlst(String),
    /// `STAT` of this path.
    StatOf(String),
    /// `MFMT` of this path, to this time (as given).
    Mfmt(String, String),
    Quit,
}

impl Control {
    /// A control connection offered `terms`.
    pub fn new(terms: Terms) -> Control {
        Control {
            security: Security::offered(terms.tls),
            terms,
            ..Control::default()
        }
    }

    /// Whether its client is logged in.
    pub(super) fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// The greeting; `login`: how clients log in (remembered: a password
    /// is a token where access control is on, and `anonymous` logs in
    /// only where some `--anonymous` grant is given).
    pub fn greeting(&mut self, login: Login, out: &mut Vec<u8>) {
        self.login = login;
        out.extend_from_slice(b"220 ferry FTP ready\r\n");
    }

    /// Decodes the command at the front of `data`.
    pub fn decode(&mut self, data: &[u8]) -> Decoded {
        match parse_command(data) {
            Ok(None) => Decoded::Incomplete,
            Ok(Some((command, used))) => self.command(command, used),
            Err(LineError::TooLong) => Decoded::Refused(Refusal {
                code: 500,
                message: "command line too long".to_owned(),
                skip: None,
            }),
            Err(LineError::Garbled(used)) => Decoded::Refused(Refusal {
                code: 500,
                message: "not a command".to_owned(),
                skip: Some((used, Body::fixed(0))),
            }),
        }
    }

    /// Takes the lines answered here (after [`Decoded::Answered`]).
    pub fn answered(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.answer);
    }

    /// Whether the last answer ended the connection.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// A line answered here.
    pub(super) fn answer(&mut self, used: usize, line: &str) -> Decoded {
        self.answer.extend_from_slice(line.as_bytes());
        self.answer.extend_from_slice(b"\r\n");
        Decoded::Answered(used)
    }

    /// `operation`, to be served, answered as `pending` says.
    pub(super) fn request(
        &mut self,
        used: usize,
        pending: Pending,
        operation: Operation,
    ) -> Decoded {
        self.pending = pending;
        Decoded::Request(Request::new(operation, None), used)
    }

    fn user(&mut self, name: String, used: usize) -> Decoded {
        if self.logged_in {
            return self.answer(used, "530 logged in already: QUIT to log in again");
        }
        if let Some(refused) = self.login_needs_tls() {
            return self.answer(used, refused);
        }
        self.user = Some(name);
        match self.login.tokens {
            true => self.answer(used, "331 your token is the password"),
            false => self.answer(used, "331 any password"),
        }
    }

    /// The password: a token, with access control on (the per-address
    /// throttle of failed logins is every protocol's, in `Auth`).
    fn pass(&mut self, password: String, used: usize) -> Decoded {
        if let Some(refused) = self.login_needs_tls() {
            return self.answer(used, refused);
        }
        let Some(user) = &self.user else {
            return self.answer(used, "503 USER first");
        };
        if self.logged_in {
            return self.answer(used, "230 logged in already");
        }
        if !self.login.tokens {
            self.logged_in = true;
            return self.answer(used, "230 logged in");
        }
        if is_anonymous_user(user) {
            if !self.login.anonymous {
                return self.answer(
                    used,
                    "530 no anonymous logins here: a token is the password",
                );
            }
            self.logged_in = true;
            return self.answer(
                used,
                "230 logged in without a token: the anonymous grants apply",
            );
        }
        let token = Secret::new(password);
        self.request(used, Pending::Pass, Operation::Auth(ops::Auth { token }))
    }

    fn type_(&mut self, arg: &str, used: usize) -> Decoded {
        match arg.to_ascii_uppercase().as_str() {
            "I" | "L 8" => self.answer(used, "200 binary"),
            // Files go as they are, whatever the type (docs/ftp.md).
            "A" | "A N" => self.answer(used, "200 ASCII (files are sent as they are)"),
            _ => self.answer(used, "504 only TYPE I and A"),
        }
    }

    /// `CWD`: to a folder that is there and within a grant (the rule of
    /// `DF`, which asks the same).
    fn cwd(&mut self, arg: &str, used: usize) -> Decoded {
        let path = resolve(&self.cwd, arg);
        let Some(prefix) = folder_prefix(&path) else {
            return self.answer(used, "550 not a folder name ferry takes");
        };
        let free_space = Operation::FreeSpace(ops::FreeSpace { prefix });
        self.request(used, Pending::Cwd(path), free_space)
    }

    /// A command on the file (or folder) `arg` names, from the working
    /// folder.
    pub(super) fn on_file(
        &mut self,
        arg: &str,
        used: usize,
        pending: Pending,
        operation: impl FnOnce(Name) -> Operation,
    ) -> Decoded {
        match file_name(&resolve(&self.cwd, arg)) {
            Some(name) => self.request(used, pending, operation(name)),
            None => self.answer(used, "553 not a name ferry takes"),
        }
    }

    fn make_folder(&mut self, arg: &str, used: usize) -> Decoded {
        let path = resolve(&self.cwd, arg);
        self.on_file(arg, used, Pending::MakeFolder(path), |name| {
            Operation::MakeFolder(ops::MakeFolder {
                name,
                making: crate::serve::Making::Alone,
                preconditions: None,
            })
        })
    }

    fn rename(&mut self, arg: &str, used: usize) -> Decoded {
        let Some(from) = self.rename_from.take() else {
            return self.answer(used, "503 RNFR first");
        };
        self.on_file(arg, used, Pending::Rename, |to| match from {
            Renaming::File(from) => Operation::MoveFile(ops::MoveFile {
                from,
                to,
                overwrite: crate::serve::Overwrite::Files,
                folders: Folders::Explicit,
                preconditions: None,
            }),
            Renaming::Folder(from) => Operation::MoveFolder(ops::MoveFolder {
                from: Prefix::of_folder(&from),
                to: Prefix::of_folder(&to),
                overwrite: false,
                preconditions: None,
            }),
        })
    }

    /// Appends the answer to the operation of the pending command.
    pub fn encode(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        if matches!(reply, Reply::Nothing | Reply::GoAhead | Reply::More(_)) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let line = match (pending, reply) {
            (Pending::Pass, Reply::Failed(failure)) if failure.kind != ErrorKind::Throttled => {
                format!("530 {}", one_line(&failure.message))
            }
            // A token that may not read the name (a write-only camera
            // renaming its upload, as Axis cameras do) is not told whether
            // it is there: RNTO's move is judged by its own grants
            // (`delete` here, `write` there), as HTTP's and FERRY/1's MOVE.
            (Pending::RenameFrom(name), Reply::Failed(failure))
                if matches!(failure.kind, ErrorKind::Forbidden | ErrorKind::Unauthorized) =>
            {
                self.rename_from = Some(Renaming::File(name));
                "350 ready for RNTO".to_owned()
            }
            (_, Reply::Failed(failure)) => {
                // 421 is "closing the control connection" (RFC 959
                // §4.2): a throttled login is answered, then let go.
                self.closing |= failure.kind == ErrorKind::Throttled;
                failed(failure)
            }
            (Pending::Pass, _) => {
                self.logged_in = true;
                "230 logged in".to_owned()
            }
            (Pending::Cwd(path), _) => {
                let line = format!("250 {} is the working folder", quoted(&path));
                self.cwd = path;
                line
            }
            (Pending::MakeFolder(path), _) => format!("257 {} made", quoted(&path)),
            (Pending::RenameFrom(name), Reply::Directory { .. }) => {
                self.rename_from = Some(Renaming::Folder(name));
                "350 ready for RNTO".to_owned()
            }
            (Pending::RenameFrom(name), _) => {
                self.rename_from = Some(Renaming::File(name));
                "350 ready for RNTO".to_owned()
            }
            (Pending::Delete | Pending::RemoveFolder | Pending::Rename, _) => "250 done".to_owned(),
            (Pending::Size, Reply::Stat { version }) => format!("213 {}", version.info.size),
            // What is kept of an upload cut off: where it goes on from.
            (Pending::Size, Reply::Session(kept)) => format!("213 {}", kept.received),
            (Pending::Mdtm, Reply::File { version, .. }) => {
                format!("213 {}", mdtm(version.info.mtime))
            }
            (Pending::Size | Pending::Mdtm, _) => "550 not a file".to_owned(),
            // The entry's lines, and the reply's end, follow as the
            // listing's body.
            (Pending::Mlst(path), Reply::Listing { .. }) => format!("250-Listing /{path}"),
            (Pending::StatOf(path), Reply::Listing { .. }) => {
                format!("213-Status of {}:", quoted(&path))
            }
            (Pending::Mlst(_) | Pending::StatOf(_), _) => "550 not there".to_owned(),
            (Pending::Mfmt(time, path), Reply::Patched(patched)) => match patched.not_made() {
                None => format!("213 Modify={time}; /{path}"),
                Some(kind) => failed(&crate::serve::Failure::new(kind, "its time was not set")),
            },
            (Pending::Mfmt(..), _) => "550 not a file".to_owned(),
            (Pending::Quit, _) => {
                self.closing = true;
                "221 goodbye".to_owned()
            }
            (Pending::Nothing, _) => "451 nothing was asked".to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the answer to a refused command.
    pub fn refuse(&mut self, refusal: &Refusal, out: &mut Vec<u8>) {
        let line = format!("{} {}\r\n", refusal.code, refusal.message);
        out.extend_from_slice(line.as_bytes());
    }
}

/// Whether `input` holds a whole command line (the header deadline's
/// rule: a peer that dribbles a line is cut off as any other).
pub fn holds_whole_head(input: &[u8]) -> bool {
    input.contains(&b'\n')
}
