//! The control connection's transfers (`control/`'s codec): `RETR`,
//! `STOR`, `APPE`, `LIST`, `NLST` as operations handed to the data connection
//! (`Link::Hand`, which the reactor pairs: `server/reactor/links.rs`), and
//! what comes back of it (`150`, `226`, `426`, a refusal) as reply lines.

use super::control::Control;
use super::listing::{Asked, Listed};
use super::path::{file_name, folder_prefix, resolve};
use super::reply::{failed, one_line, passive_line};
use crate::model::Folders;
use crate::serve::decoded::{Connect, Decoded, Link, Relay};
use crate::serve::ops::{self, Request};
use crate::serve::terms::ListingFormat;
use crate::serve::{Body, BodyLength, Operation};

impl Control {
    /// A transfer on the data connection: handed to it by the reactor.
    pub(super) fn transfer(&mut self, used: usize, operation: Operation) -> Decoded {
        if let Some(refused) = self.transfer_needs_tls() {
            return self.answer(used, refused);
        }
        let request = Request::new(operation, None);
        if let Some(to) = self.active.take() {
            let private = self.security.private;
            let connect = Connect {
                to,
                private,
                request,
            };
            return Decoded::Link(Link::Connect(Box::new(connect)), used);
        }
        if !self.passive {
            return self.answer(used, "425 PASV or EPSV first");
        }
        self.passive = false;
        Decoded::Link(Link::Hand(Box::new(request)), used)
    }

    /// `PASV` (or `EPSV` where `extended`): the reactor listens for the
    /// data connection and says where ([`Relay::Listening`]).
    pub(super) fn listen(&mut self, used: usize, extended: bool) -> Decoded {
        self.extended = extended;
        self.active = None;
        let private = self.security.private;
        Decoded::Link(Link::Listen { private }, used)
    }

    /// `RETR`: the file, from where `REST` said.
    pub(super) fn retrieve(&mut self, arg: &str, used: usize) -> Decoded {
        let Some(name) = file_name(&resolve(&self.cwd, arg)) else {
            return self.answer(used, "553 not a name ferry takes");
        };
        let offset = std::mem::take(&mut self.rest);
        let want = crate::serve::Want::Span {
            offset,
            length: None,
        };
        self.transfer(used, Operation::Get(ops::Get { name, want }))
    }

    /// `STOR`: a file, from the data connection's bytes to its end: a
    /// ferry upload (a temp file renamed into place once whole; a cut
    /// data connection leaves the file as it was, and what it sent is
    /// kept for `REST` + `STOR` or `APPE` to go on with). Its folder must
    /// be there (folders are things of their own: `MKD`). After `REST`,
    /// the upload goes on from there ([`Control::append`]).
    pub(super) fn store(&mut self, arg: &str, used: usize) -> Decoded {
        let Some(name) = file_name(&resolve(&self.cwd, arg)) else {
            return self.answer(used, "553 not a name ferry takes");
        };
        let rest = std::mem::take(&mut self.rest);
        if rest != 0 {
            let resume = ops::Resume {
                name,
                offset: Some(rest),
            };
            return self.transfer(used, Operation::Resume(resume));
        }
        let body = Body {
            length: BodyLength::UntilEof,
            awaits_go_ahead: false,
        };
        let put = ops::Put {
            name,
            body,
            crc: None,
            mtime: None,
            trailer: None,
            digests: None,
            folders: Folders::Explicit,
            props: None,
            preconditions: None,
        };
        self.transfer(used, Operation::Put(put))
    }

    /// `APPE`: the data connection's bytes added to the end of the upload
    /// kept of a `STOR` cut off, else of the file (made if there is none),
    /// committed whole at their end: as `REST` + `STOR` from there.
    pub(super) fn append(&mut self, arg: &str, used: usize) -> Decoded {
        let Some(name) = file_name(&resolve(&self.cwd, arg)) else {
            return self.answer(used, "553 not a name ferry takes");
        };
        self.rest = 0;
        let resume = ops::Resume { name, offset: None };
        self.transfer(used, Operation::Resume(resume))
    }

    /// `LIST`, `NLST`: a folder's entries, or the one file named (RFC 959:
    /// "current information on the file"), or the entries of a folder a
    /// wildcard in the last step matches (`NLST *.csv`), in the format
    /// `listed` makes of what was [`Asked`] (options such as `-la`, which
    /// clients send, are taken as asked).
    pub(super) fn list(&mut self, arg: &str, used: usize, listed: fn(Asked) -> Listed) -> Decoded {
        // A `REST` is for the transfer that follows it, not the one after.
        self.rest = 0;
        let asked = Asked::new(written_path(arg));
        let Some(prefix) = folder_prefix(&resolve(&self.cwd, asked.path())) else {
            return self.answer(used, "553 not a name ferry takes");
        };
        let scope = match asked.is_pattern() {
            true => crate::serve::Scope::Directory,
            false => crate::serve::Scope::Named,
        };
        let list = ops::List {
            prefix,
            scope,
            format: Box::new(listed(asked)),
            body: true,
        };
        self.transfer(used, Operation::List(list))
    }

    /// `MLSD` (RFC 3659 §7.2: of a folder only): its entries in `format`.
    pub(super) fn list_folder(&mut self, arg: &str, used: usize, format: ListingFormat) -> Decoded {
        self.rest = 0;
        let path = self.listed_path(arg);
        let Some(prefix) = folder_prefix(&path) else {
            return self.answer(used, "553 not a folder name ferry takes");
        };
        let list = ops::List {
            prefix,
            scope: crate::serve::Scope::Directory,
            format,
            body: true,
        };
        self.transfer(used, Operation::List(list))
    }

    /// The path a listing's argument names from the working folder, its
    /// options (`-la`, which clients send) left out.
    pub(super) fn listed_path(&self, arg: &str) -> String {
        resolve(&self.cwd, &written_path(arg))
    }

    /// Queues what the reactor relays of the data connection.
    pub fn relayed(&mut self, relay: &Relay, out: &mut Vec<u8>) {
        let line = match relay {
            Relay::Secured => self.secured(),
            Relay::Refused(why) if self.securing() => format!("431 TLS could not begin: {why}"),
            Relay::Listening(addr) => {
                self.passive = true;
                passive_line(*addr, self.extended)
            }
            Relay::Refused(why) => format!("425 {}", one_line(why)),
            Relay::Began => "150 here it comes".to_owned(),
            Relay::Ended(None) => "226 done".to_owned(),
            Relay::Ended(Some(failure)) => failed(failure),
            Relay::Cut => {
                self.cut = true;
                "426 the data connection closed: transfer aborted".to_owned()
            }
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// A listing's argument as written, its options (`-la`) left out.
fn written_path(arg: &str) -> String {
    let words = arg.split(' ').filter(|w| !w.is_empty());
    let path: Vec<&str> = words.skip_while(|w| w.starts_with('-')).collect();
    path.join(" ")
}
