//! Which method of the control connection serves each FTP verb, in
//! three groups: the session's own (login, TLS, features, types), those
//! that move bytes over a data connection (and set one up), and those on
//! names. Before a login only the commands of the login itself and those
//! that tell nothing of the root are taken (530 otherwise).

use super::{Control, Pending};
use crate::ftp::command::Command;
use crate::ftp::listing::{Listed, Mlsd};
use crate::ftp::path::{file_name, quoted, resolve};
use crate::model::Folders;
use crate::serve::Operation;
use crate::serve::decoded::Decoded;
use crate::serve::ops;

impl Control {
    pub(super) fn command(&mut self, Command { verb, arg }: Command, used: usize) -> Decoded {
        if !self.logged_in && !allowed_before_login(&verb) {
            return self.answer(used, "530 log in with USER and PASS first");
        }
        let (verb, arg) = (verb.as_str(), arg.as_str());
        self.session_command(verb, arg, used)
            .or_else(|| self.transfer_command(verb, arg, used))
            .unwrap_or_else(|| self.file_command(verb, arg, used))
    }

    /// The session's own commands: login, TLS, features, types and modes.
    fn session_command(&mut self, verb: &str, arg: &str, used: usize) -> Option<Decoded> {
        Some(match verb {
            "USER" => self.user(arg.to_owned(), used),
            "PASS" => self.pass(arg.to_owned(), used),
            "QUIT" => self.request(used, Pending::Quit, Operation::Quit(ops::Quit)),
            "SYST" => self.answer(used, "215 UNIX Type: L8"),
            "FEAT" => self.features(used),
            "AUTH" => self.auth(arg, used),
            "PBSZ" => self.pbsz(used),
            "PROT" => self.prot(arg, used),
            "OPTS" => self.options(arg, used),
            "NOOP" => self.answer(used, "200 ok"),
            "HELP" => self.answer(used, "214 see docs/ftp.md"),
            "TYPE" => self.type_(arg, used),
            "MODE" if arg.eq_ignore_ascii_case("S") => self.answer(used, "200 stream mode"),
            "STRU" if arg.eq_ignore_ascii_case("F") => self.answer(used, "200 file structure"),
            "MODE" | "STRU" => self.answer(used, "504 only MODE S and STRU F"),
            "ALLO" => self.answer(used, "202 no storage to allocate"),
            "STAT" if arg.is_empty() => self.status(used),
            _ => return None,
        })
    }

    /// Commands that move bytes over a data connection, and what sets
    /// one up (passive or active, where it begins) or cuts it.
    fn transfer_command(&mut self, verb: &str, arg: &str, used: usize) -> Option<Decoded> {
        Some(match verb {
            "PASV" | "PORT" | "EPRT" if self.epsv_only => {
                self.answer(used, "503 EPSV ALL was sent: EPSV only")
            }
            "PASV" => self.listen(used, false),
            "EPSV" if arg.is_empty() || arg == "1" || arg == "2" => self.listen(used, true),
            "EPSV" if arg.eq_ignore_ascii_case("ALL") => {
                self.epsv_only = true;
                self.answer(used, "200 EPSV only from now on")
            }
            "EPSV" => self.answer(used, "522 only EPSV itself: (1,2)"),
            "PORT" => self.port(arg, used, false),
            "EPRT" => self.port(arg, used, true),
            "REST" => match arg.parse::<u64>() {
                Ok(offset) => {
                    self.rest = offset;
                    let line = format!("350 the next RETR or STOR begins at byte {offset}");
                    self.answer(used, &line)
                }
                Err(_) => self.answer(used, "501 REST takes a byte offset"),
            },
            "RETR" => self.retrieve(arg, used),
            "LIST" => self.list(arg, used, Listed::ls),
            "NLST" => self.list(arg, used, Listed::nlst),
            "MLSD" => self.list_folder(arg, used, Box::new(Mlsd::giving(self.facts))),
            "STOR" => self.store(arg, used),
            "APPE" => self.append(arg, used),
            // After the cut it asked for (RFC 959: 426 for the transfer,
            // then 226 for ABOR).
            "ABOR" => match std::mem::take(&mut self.cut) {
                true => self.answer(used, "226 the transfer is aborted"),
                false => self.answer(used, "225 no transfer under way"),
            },
            _ => return None,
        })
    }

    /// Commands on names: the working folder, files and folders; and the
    /// answer to a verb nobody serves.
    fn file_command(&mut self, verb: &str, arg: &str, used: usize) -> Decoded {
        match verb {
            "PWD" | "XPWD" => {
                let line = format!("257 {} is the working folder", quoted(&self.cwd));
                self.answer(used, &line)
            }
            "CWD" | "XCWD" => self.cwd(arg, used),
            "CDUP" | "XCUP" => self.cwd("..", used),
            "DELE" => self.on_file(arg, used, Pending::Delete, |name| {
                Operation::Delete(ops::Delete {
                    name,
                    folders: Folders::Explicit,
                    folder_whole: false,
                    preconditions: None,
                })
            }),
            "SIZE" => self.on_file(arg, used, Pending::Size, |name| {
                Operation::ResumeFrom(ops::ResumeFrom { name })
            }),
            "MDTM" => self.on_file(arg, used, Pending::Mdtm, Self::describe),
            "MLST" => self.mlst(arg, used),
            "MFMT" => self.mfmt(arg, used),
            "MKD" | "XMKD" => self.make_folder(arg, used),
            "RMD" | "XRMD" => self.on_file(arg, used, Pending::RemoveFolder, |name| {
                Operation::RemoveFolder(ops::RemoveFolder { name })
            }),
            // Answered once it is found there (RFC 959: 350, else 550).
            "RNFR" => match file_name(&resolve(&self.cwd, arg)) {
                Some(name) => self.request(
                    used,
                    Pending::RenameFrom(name.clone()),
                    Self::describe(name),
                ),
                None => self.answer(used, "553 not a name ferry takes"),
            },
            "RNTO" => self.rename(arg, used),
            "STAT" => self.status_of(arg, used),
            // lftp's mirror sends SITE CHMOD (and UTIME): a file's mode is the
            // server's, so the command is superfluous here (RFC 959's 202).
            "SITE" => self.answer(
                used,
                "202 SITE commands are not served: modes are the server's",
            ),
            "STOU" | "CCC" => self.answer(used, "502 not served yet"),
            _ => self.answer(used, "500 unknown command"),
        }
    }
}

/// Commands a session may send before it logs in.
fn allowed_before_login(verb: &str) -> bool {
    matches!(
        verb,
        "USER"
            | "PASS"
            | "QUIT"
            | "SYST"
            | "FEAT"
            | "NOOP"
            | "OPTS"
            | "HELP"
            | "AUTH"
            | "PBSZ"
            | "PROT"
    )
}
