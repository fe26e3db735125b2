//! The model test (issue 49; STYLE.md item 17): random sequences of
//! operations through FERRY/1, ferry's HTTP, WebDAV, S3 (objects and
//! multipart uploads), tus, FTP (STOR, RETR, DELE, RNFR+RNTO) and SFTP
//! (a file put whole and got, REMOVE, RENAME and `posix-rename`, MKDIR,
//! RMDIR, a listing walked folder by folder; one session per token over
//! OpenSSH's `ssh -s sftp`, the token its password) against one live
//! server, by three tokens of
//! different grants, each step checked against a small in-memory model of
//! the files, the grants and the locks:
//!
//! - after every step the files on disk are the model's, byte for byte: a
//!   refusal changes nothing, a success does what the model says it does;
//! - a success the model forbids is a failure: a write past a grant or
//!   into a lock's way, a copy or move onto what holds its source or into
//!   it, a replacement under `Overwrite: F`;
//! - a read answers the model's bytes, a listing (FERRY/1's, S3's,
//!   SFTP's) the names the token may read;
//! - no answer names a file its token may not read (but those its
//!   request named).
//!
//! proptest shrinks a failure to a few steps; each one found stays as a
//! named test in tests/invariants/cases.rs. `cargo test` runs 64 sequences of
//! 1 to 150 steps (about 4,800 steps: an SFTP login per token costs a
//! sequence about as much as its steps); `FERRY_MODEL_CASES=N` runs N.
//! Without OpenSSH's `ssh` (or built without SFTP) the SFTP steps are
//! skipped, said once, and the rest runs.
#![cfg(all(feature = "webdav", feature = "s3", feature = "tus"))] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestCaseError, TestRunner};
use support::http::{Answer, bearer, exchange};
use support::s3::{Payload, S3Server, texts};
use support::sftp::{Client, Login, Status};

/// The tokens and their grants: one may do anything, one may write and
/// delete in `a/` and `b/` but read only `a/pub/` and `b/`, one only reads.
const HOLDERS: &[(&str, &[&str])] = &[
    ("all", &["read:/", "write:/", "delete:/"]),
    (
        "part",
        &[
            "read:a/pub/",
            "read:b/",
            "write:a/",
            "delete:a/",
            "write:b/",
            "delete:b/",
        ],
    ),
    ("ro", &["read:/"]),
];

/// The names steps use: files at the start, names made later, and
/// folders' names (a file step on one meets a folder).
const NAMES: &[&str] = &[
    "a/pub/f",
    "a/pub/g",
    "a/pub/s/h",
    "a/zz1",
    "a/s/zz2",
    "b/f",
    "b/s/g",
    "b/s/t/h",
    "b/new",
    "a/pub/new",
    "b/c/x",
    "b/s",
    "a/pub",
    "b",
    "a/s",
    "b/s/t",
];
/// The files there at the start: the first eight names (each holding
/// [`first`]'s bytes).
const START: &[&str] = NAMES.split_at(8).0;

/// Who sends a step: an index into [`HOLDERS`].
type Who = usize;

/// How a file is written, read or deleted.
#[derive(Debug, Clone, Copy)]
enum Via {
    Ferry,
    Http,
    S3,
    Ftp,
    /// A file put whole (`OPEN` with `TRUNCATE`, `WRITE`s, `CLOSE`), got
    /// (`OPEN`, `READ`s, `CLOSE`) or removed (`REMOVE`).
    Sftp,
}

/// Who moves a file or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoveVia {
    Ferry,
    Dav,
    Ftp,
    /// `posix-rename@openssh.com` where the step says `overwrite`, else
    /// `RENAME`.
    Sftp,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
enum Step {
    Put(Via, Who, usize, u8),
    Get(Via, Who, usize),
    Delete(Via, Who, usize),
    /// WebDAV's DELETE of `name/`.
    DeleteFolder(Who, usize),
    /// WebDAV's MOVE (`folder`: of `from/` to `to/`), FERRY/1's, or
    /// FTP's RNFR + RNTO (a file, replacing a file there; or a folder,
    /// onto no name taken).
    Move {
        via: MoveVia,
        who: Who,
        from: usize,
        to: usize,
        folder: bool,
        overwrite: bool,
    },
    /// WebDAV's COPY.
    Copy {
        who: Who,
        from: usize,
        to: usize,
        folder: bool,
        overwrite: bool,
    },
    /// WebDAV's exclusive LOCK, Depth 0.
    Lock(Who, usize),
    /// UNLOCK of the lock taken at this place among those held.
    Unlock(usize),
    /// An S3 multipart upload of one part.
    Multipart(Who, usize, u8),
    /// A tus upload: creation, then one PATCH.
    Tus(Who, usize, u8),
    /// FERRY/1's LIST (else S3's ListObjectsV2 of both buckets).
    List(bool, Who),
    /// SFTP's `MKDIR`.
    Mkdir(Who, usize),
    /// SFTP's `RMDIR`.
    Rmdir(Who, usize),
    /// SFTP's listing of every folder it shows, from the root down.
    SftpList(Who),
}

fn who() -> impl Strategy<Value = Who> {
    0..HOLDERS.len()
}

fn name() -> impl Strategy<Value = usize> {
    0..NAMES.len()
}

fn via() -> impl Strategy<Value = Via> {
    prop_oneof![
        Just(Via::Ferry),
        Just(Via::Http),
        Just(Via::S3),
        Just(Via::Ftp),
        Just(Via::Sftp)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let moves = (
        prop_oneof![
            Just(MoveVia::Ferry),
            Just(MoveVia::Dav),
            Just(MoveVia::Ftp),
            Just(MoveVia::Sftp)
        ],
        who(),
        name(),
        name(),
        any::<bool>(),
        any::<bool>(),
    );
    let copies = (who(), name(), name(), any::<bool>(), any::<bool>());
    prop_oneof![
        4 => (via(), who(), name(), any::<u8>()).prop_map(|(v, w, n, d)| Step::Put(v, w, n, d)),
        3 => (via(), who(), name()).prop_map(|(v, w, n)| Step::Get(v, w, n)),
        2 => (via(), who(), name()).prop_map(|(v, w, n)| Step::Delete(v, w, n)),
        1 => (who(), name()).prop_map(|(w, n)| Step::DeleteFolder(w, n)),
        3 => moves.prop_map(|(via, who, from, to, folder, overwrite)| Step::Move {
            via, who, from, to, folder, overwrite,
        }),
        2 => copies.prop_map(|(who, from, to, folder, overwrite)| Step::Copy {
            who, from, to, folder, overwrite,
        }),
        1 => (who(), name()).prop_map(|(w, n)| Step::Lock(w, n)),
        1 => (0..4usize).prop_map(Step::Unlock),
        1 => (who(), name(), any::<u8>()).prop_map(|(w, n, d)| Step::Multipart(w, n, d)),
        1 => (who(), name(), any::<u8>()).prop_map(|(w, n, d)| Step::Tus(w, n, d)),
        1 => (any::<bool>(), who()).prop_map(|(f, w)| Step::List(f, w)),
        1 => (who(), name()).prop_map(|(w, n)| Step::Mkdir(w, n)),
        1 => (who(), name()).prop_map(|(w, n)| Step::Rmdir(w, n)),
        1 => who().prop_map(Step::SftpList),
    ]
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// Whether `who`'s grants give `perm` on `name` (a grant on `f/` covers
/// what is below `f`, never `f`).
fn allows(who: Who, perm: &str, name: &str) -> bool {
    HOLDERS[who].1.iter().any(|grant| {
        let (granted, folder) = grant.split_once(':').unwrap();
        granted == perm && (folder == "/" || name.starts_with(folder))
    })
}

/// Whether `who` may `perm` something under folder `prefix` (ending in `/`).
fn reaches(who: Who, perm: &str, prefix: &str) -> bool {
    HOLDERS[who].1.iter().any(|grant| {
        let (granted, folder) = grant.split_once(':').unwrap();
        granted == perm
            && (folder == "/" || prefix.starts_with(folder) || folder.starts_with(prefix))
    })
}

fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn below(name: &str, folder: &str) -> bool {
    name.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// What a write touches, as the lock rule reads it: a name, or a name
/// and all below it.
#[derive(Clone, Copy)]
enum Touch<'a> {
    Name(&'a str),
    Whole(&'a str),
}

#[derive(Debug, Default, Clone)]
struct Model {
    files: BTreeMap<String, Vec<u8>>,
    /// Live locks: their names, tokens and holders (exclusive, Depth 0).
    locks: Vec<(String, String, Who)>,
}

impl Model {
    fn start() -> Model {
        let files = START.iter().map(|n| (n.to_string(), first(n))).collect();
        Model {
            files,
            locks: Vec::new(),
        }
    }

    /// Whether a lock stands in the way of `touch` (no token is ever
    /// submitted): it is on the name, on its folder (whose membership
    /// changes), or below a name written whole.
    fn locked(&self, touch: Touch<'_>) -> bool {
        let (name, whole) = match touch {
            Touch::Name(name) => (name, false),
            Touch::Whole(name) => (name, true),
        };
        self.locks.iter().any(|(root, _, _)| {
            root == name || root == parent(name) || (whole && below(root, name))
        })
    }

    /// Whether anything has `name`: a file, or a folder holding files.
    fn has(&self, name: &str) -> bool {
        self.files.contains_key(name) || self.under(name).next().is_some()
    }

    /// The files below folder `name`.
    fn under<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.files.keys().filter(move |f| below(f, name))
    }

    /// `name` and what is below it removed where `who` may delete it.
    fn clear(&mut self, who: Who, name: &str) {
        self.files.remove(name);
        let gone: Vec<String> = self
            .under(name)
            .filter(|f| allows(who, "delete", f))
            .cloned()
            .collect();
        for file in gone {
            self.files.remove(&file);
        }
    }

    /// The files `who` may read.
    fn readable(&self, who: Who) -> Vec<String> {
        self.files
            .keys()
            .filter(|f| allows(who, "read", f))
            .cloned()
            .collect()
    }
}

/// The relation that makes a copy or move impossible: `to` holds `from`,
/// or lies inside it.
fn nested(from: &str, to: &str) -> bool {
    below(from, to) || below(to, from)
}

// ---------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------

struct World {
    /// Each token's SFTP login and its session, begun at its first SFTP
    /// step and kept for the sequence; none where SFTP is not served here.
    /// (Before the server: the sessions end before it stops.)
    sftp: Option<Vec<(Login, RefCell<Option<Client>>)>>,
    s: S3Server,
}

impl World {
    /// `ask` through `who`'s SFTP session (begun if it is not yet); `None`
    /// where SFTP is not served here (the step is skipped).
    fn sftp<R>(&self, who: Who, ask: impl FnOnce(&mut Client) -> R) -> Option<R> {
        let (login, session) = &self.sftp.as_ref()?[who];
        let mut session = session.borrow_mut();
        Some(ask(session.get_or_insert_with(|| login.client())))
    }

    fn http(&self, who: Who, method: &str, target: &str, fields: &str, body: &[u8]) -> Answer {
        let fields = format!("Host: localhost\r\n{}{fields}", bearer(&self.s.tokens[who]));
        exchange(self.s.server.http.unwrap(), method, target, &fields, body)
    }

    /// One FERRY/1 request after `AUTH`: the answer's first line and
    /// the body it announces (GET, LIST).
    fn ferry(&self, who: Who, request: &[u8], with_body: bool) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(self.s.server.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(format!("AUTH {}\n", self.s.tokens[who]).as_bytes())
            .unwrap();
        stream.write_all(request).unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut line = || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            line.trim_end().to_owned()
        };
        let (_greeting, _auth, answer) = (line(), line(), line());
        let mut body = Vec::new();
        if with_body && answer.starts_with("OK ") {
            let len: usize = answer.split(' ').nth(1).unwrap().parse().unwrap();
            body.resize(len, 0);
            reader.read_exact(&mut body).unwrap();
        }
        (answer, body)
    }

    /// One FTP command after the login (`USER`, the token as `PASS`): a
    /// transfer (`RETR`, `STOR` with `upload`) over a passive data
    /// connection, or a command alone. `200` where it succeeded (`226`,
    /// `250`), else its code; the bytes it read, or the lines it was
    /// answered.
    fn ftp(&self, who: Who, commands: &[&str], upload: Option<&[u8]>) -> (u16, Vec<u8>) {
        use support::ftp::{ask, connect, line, log_in, passive};
        let mut raw = connect(&self.s.server);
        log_in(&mut raw, "model", &self.s.tokens[who]);
        let code = |answer: &str| answer.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        let mut said = Vec::new();
        // All but the last must be taken (350: RNFR's), else the last is
        // not sent.
        let (command, before) = commands.split_last().unwrap();
        for command in before {
            let answer = ask(&mut raw, command);
            said.push(answer.clone());
            if !answer.starts_with("350 ") {
                return (code(&answer), said.join("\n").into_bytes());
            }
        }
        let transfer = command.starts_with("RETR") || command.starts_with("STOR");
        let data = transfer.then(|| TcpStream::connect(passive(&mut raw)).unwrap());
        let mut answer = ask(&mut raw, command);
        said.push(answer.clone());
        let mut bytes = Vec::new();
        if let (true, Some(mut data)) = (answer.starts_with("150 "), data) {
            match upload {
                Some(upload) => data.write_all(upload).unwrap(),
                None => drop(data.read_to_end(&mut bytes)),
            }
            drop(data);
            answer = line(&mut raw);
            said.push(answer.clone());
        }
        let succeeded = answer.starts_with("226 ") || answer.starts_with("250 ");
        if !succeeded || upload.is_some() {
            bytes = said.join("\n").into_bytes();
        }
        (if succeeded { 200 } else { code(&answer) }, bytes)
    }

    fn s3(
        &self,
        who: Who,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let signer = &self.s.signers[who];
        signer.send(self.s.s3, method, (path, query), &[], body, Payload::Signed)
    }

    /// The files on disk but ferry's own (`.ferry*`), with their bytes.
    fn disk(&self) -> BTreeMap<String, Vec<u8>> {
        let mut found = BTreeMap::new();
        walk(&self.s.server.path(""), "", &mut found);
        found
    }
}

fn walk(dir: &Path, prefix: &str, found: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".ferry") {
            continue;
        }
        let path = format!("{prefix}{name}");
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            walk(&entry.path(), &format!("{path}/"), found);
        } else if kind.is_file() {
            found.insert(path, std::fs::read(entry.path()).unwrap_or_default());
        }
    }
}

fn ok(status: u16) -> bool {
    (200..300).contains(&status)
}

fn fail(message: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(message))
}

/// The bytes a file holds at the start: never a name (a name in a file's
/// bytes is no leak).
fn first(name: &str) -> Vec<u8> {
    format!("start-{}", name.len()).into_bytes()
}

/// Whether `body` names `file` as a whole (in a line, an XML element, a
/// JSON string), with or without a leading `/`.
fn names(body: &str, file: &str) -> bool {
    body.split(|c: char| c.is_whitespace() || "\"<>,".contains(c))
        .any(|token| token.trim_start_matches('/') == file)
}

/// The bytes a step writes.
fn data(seed: u8) -> Vec<u8> {
    format!("data-{seed}").into_bytes()
}

// ---------------------------------------------------------------------------
// A step: sent, judged, applied
// ---------------------------------------------------------------------------

/// What a step did, for the checks after it.
struct Done {
    /// It succeeded (2xx, `OK`).
    succeeded: bool,
    /// The model forbids a success.
    forbidden: bool,
    /// Whose answer it was, its body, and the names the request gave.
    who: Who,
    body: Vec<u8>,
    named: String,
}

impl World {
    fn run(&self, model: &mut Model, step: &Step) -> Result<(), TestCaseError> {
        let before = model.clone();
        let done = self.send(model, step)?;
        if done.succeeded && done.forbidden {
            return fail(format!("{step:?} succeeded where the model forbids it"));
        }
        // Files the token could not read before or after the step, but
        // those its request named itself (or the folders above them).
        let body = String::from_utf8_lossy(&done.body);
        let named = |f: &str| done.named.split(' ').any(|n| n == f || below(n, f));
        let hidden = before
            .files
            .keys()
            .chain(model.files.keys())
            .filter(|f| !allows(done.who, "read", f) && !named(f));
        if let Some(file) = hidden.into_iter().find(|f| names(&body, f)) {
            return fail(format!(
                "{step:?} named {file}, hidden from its token: {body}"
            ));
        }
        let disk = self.disk();
        if disk != model.files {
            let only_disk: Vec<_> = disk
                .keys()
                .filter(|k| !model.files.contains_key(*k))
                .collect();
            let only_model: Vec<_> = model
                .files
                .keys()
                .filter(|k| !disk.contains_key(*k))
                .collect();
            let differ: Vec<_> = disk
                .iter()
                .filter(|(k, v)| model.files.get(*k).is_some_and(|m| m != *v))
                .map(|(k, _)| k)
                .collect();
            return fail(format!(
                "after {step:?}: on disk only {only_disk:?}, in the model only {only_model:?}, differing {differ:?}"
            ));
        }
        Ok(())
    }

    fn send(&self, model: &mut Model, step: &Step) -> Result<Done, TestCaseError> {
        let done = |succeeded: bool, forbidden: bool, who: Who, body: Vec<u8>, named: &str| Done {
            succeeded,
            forbidden,
            who,
            body,
            named: named.to_owned(),
        };
        // A bucket's name is no object's (S3 would make or remove the
        // bucket): those steps are not sent.
        let bucket = |n: usize| !NAMES[n].contains('/');
        match *step {
            Step::Put(Via::S3, _, n, _)
            | Step::Get(Via::S3, _, n)
            | Step::Delete(Via::S3, _, n)
            | Step::Multipart(_, n, _)
                if bucket(n) =>
            {
                return Ok(done(false, false, 0, Vec::new(), ""));
            }
            _ if self.sftp.is_none() && by_sftp(step).is_some() => {
                return Ok(done(false, false, 0, Vec::new(), ""));
            }
            _ => {}
        }
        // SFTP's steps, where it is served (said above).
        let sftp =
            |who: Who, ask: &dyn Fn(&mut Client) -> Status| answered(&self.sftp(who, ask).unwrap());
        Ok(match *step {
            Step::Put(via, who, n, seed) => {
                let (name, bytes) = (NAMES[n], data(seed));
                let (status, body) = match via {
                    Via::Ferry => {
                        let mut request = format!("PUT {name} {}\n", bytes.len()).into_bytes();
                        request.extend_from_slice(&bytes);
                        let (line, _) = self.ferry(who, &request, false);
                        (u16::from(line.starts_with("OK")) * 200, line.into_bytes())
                    }
                    Via::Http => {
                        let answer = self.http(who, "PUT", &format!("/{name}"), "", &bytes);
                        (answer.status, answer.body)
                    }
                    Via::S3 => {
                        let answer = self.s3(who, "PUT", &format!("/{name}"), &[], &bytes);
                        (answer.status, answer.body)
                    }
                    Via::Ftp => self.ftp(who, &[&format!("STOR /{name}")], Some(&bytes)),
                    Via::Sftp => {
                        let put = self.sftp(who, |c| c.put(&format!("/{name}"), &bytes));
                        let put = put.unwrap();
                        let said = std::iter::once(&put.open)
                            .chain(&put.writes)
                            .chain(&put.close);
                        let said: Vec<&str> = said.map(|status| status.message.as_str()).collect();
                        let status = match put.first_refusal() {
                            Some(refusal) => answered(refusal).0,
                            None if put.stored() => 200,
                            None => 500,
                        };
                        (status, said.join("\n").into_bytes())
                    }
                };
                let forbidden = !allows(who, "write", name) || model.locked(Touch::Name(name));
                if ok(status) {
                    model.files.insert(name.to_owned(), bytes);
                }
                done(ok(status), forbidden, who, body, name)
            }
            Step::Get(via, who, n) => {
                let name = NAMES[n];
                let (status, body) = match via {
                    Via::Ferry => {
                        let (line, body) =
                            self.ferry(who, format!("GET {name}\n").as_bytes(), true);
                        (u16::from(line.starts_with("OK")) * 200, body)
                    }
                    Via::Http => {
                        let answer = self.http(who, "GET", &format!("/{name}"), "", b"");
                        (answer.status, answer.body)
                    }
                    Via::S3 => {
                        let answer = self.s3(who, "GET", &format!("/{name}"), &[], b"");
                        (answer.status, answer.body)
                    }
                    Via::Ftp => self.ftp(who, &[&format!("RETR /{name}")], None),
                    Via::Sftp => match self.sftp(who, |c| c.get(&format!("/{name}"))).unwrap() {
                        Ok(bytes) => (200, bytes),
                        Err(refusal) => answered(&refusal),
                    },
                };
                let readable = allows(who, "read", name);
                match model.files.get(name) {
                    Some(bytes) if readable && status == 200 && body != *bytes => {
                        return Err(TestCaseError::fail(format!(
                            "{step:?} read {:?}, the model holds {:?}",
                            String::from_utf8_lossy(&body),
                            String::from_utf8_lossy(bytes)
                        )));
                    }
                    Some(_) if readable && status != 200 => {
                        return Err(TestCaseError::fail(format!(
                            "{step:?}: {status} for a file"
                        )));
                    }
                    _ => {}
                }
                // A bucket's name is its listing (S3), a folder's its page.
                let hidden = !readable && status == 200 && name.contains('/');
                let absent = matches!(via, Via::Ferry | Via::Ftp | Via::Sftp)
                    && !model.files.contains_key(name)
                    && status == 200;
                done(false, hidden || absent, who, body, name)
            }
            Step::Delete(via, who, n) => {
                let name = NAMES[n];
                let (status, body) = match via {
                    Via::Ferry => {
                        let (line, _) = self.ferry(who, format!("DEL {name}\n").as_bytes(), false);
                        (u16::from(line.starts_with("OK")) * 200, line.into_bytes())
                    }
                    Via::Http => {
                        let answer = self.http(who, "DELETE", &format!("/{name}"), "", b"");
                        (answer.status, answer.body)
                    }
                    Via::S3 => {
                        let answer = self.s3(who, "DELETE", &format!("/{name}"), &[], b"");
                        (answer.status, answer.body)
                    }
                    Via::Ftp => self.ftp(who, &[&format!("DELE /{name}")], None),
                    Via::Sftp => sftp(who, &|c| c.remove(&format!("/{name}"))),
                };
                let forbidden = !allows(who, "delete", name) || model.locked(Touch::Whole(name));
                if ok(status) {
                    match via {
                        // A folder's URL without its slash names the folder.
                        Via::Http if !model.files.contains_key(name) => model.clear(who, name),
                        _ => drop(model.files.remove(name)),
                    }
                }
                done(ok(status), forbidden, who, body, name)
            }
            Step::DeleteFolder(who, n) => {
                let name = NAMES[n];
                let answer = self.http(who, "DELETE", &format!("/{name}/"), "", b"");
                let forbidden = !reaches(who, "delete", &format!("{name}/"))
                    || model.locked(Touch::Whole(name));
                if ok(answer.status) {
                    model.clear(who, name);
                }
                done(ok(answer.status), forbidden, who, answer.body, name)
            }
            Step::Move {
                via,
                who,
                from,
                to,
                folder,
                overwrite,
            } => {
                let (from, to) = (NAMES[from], NAMES[to]);
                let as_folder = !model.files.contains_key(from);
                // FTP asks whether it is a folder, and moves a file onto a
                // file there, a folder onto no name taken; SFTP's
                // `posix-rename` (`overwrite`) replaces a file there, never
                // a folder, and moves a folder onto no name taken, as
                // `RENAME` moves anything.
                let posix = via == MoveVia::Sftp && overwrite;
                let (folder, overwrite) = match via {
                    MoveVia::Ftp => (as_folder, !as_folder),
                    MoveVia::Sftp => (as_folder, overwrite && !as_folder),
                    _ => (folder, overwrite),
                };
                let (status, body) = if via == MoveVia::Ferry {
                    let (line, _) =
                        self.ferry(who, format!("MOVE {from} {to}\n").as_bytes(), false);
                    (u16::from(line.starts_with("OK")) * 200, line.into_bytes())
                } else if via == MoveVia::Ftp {
                    self.ftp(
                        who,
                        &[&format!("RNFR /{from}"), &format!("RNTO /{to}")],
                        None,
                    )
                } else if via == MoveVia::Sftp {
                    let (from, to) = (format!("/{from}"), format!("/{to}"));
                    match posix {
                        true => sftp(who, &|c| c.posix_rename(&from, &to)),
                        false => sftp(who, &|c| c.rename(&from, &to)),
                    }
                } else {
                    let slash = if folder { "/" } else { "" };
                    let flag = if overwrite { "T" } else { "F" };
                    let fields = format!("Destination: /{to}{slash}\r\nOverwrite: {flag}\r\n");
                    let answer = self.http(who, "MOVE", &format!("/{from}{slash}"), &fields, b"");
                    (answer.status, answer.body)
                };
                let forbidden = nested(from, to)
                    || !allows(who, "delete", from)
                    || !allows(who, "write", to)
                    || (via != MoveVia::Ferry && !overwrite && from != to && model.has(to))
                    || (posix && from != to && model.has(to) && !model.files.contains_key(to))
                    || model.locked(Touch::Whole(from))
                    || model.locked(Touch::Whole(to));
                if ok(status) && from != to {
                    let moved: Vec<(String, Vec<u8>)> = match as_folder {
                        false => model
                            .files
                            .remove(from)
                            .map(|b| (to.to_owned(), b))
                            .into_iter()
                            .collect(),
                        true => {
                            let names: Vec<String> = model.under(from).cloned().collect();
                            names
                                .into_iter()
                                .map(|f| {
                                    let bytes = model.files.remove(&f).unwrap();
                                    (format!("{to}{}", &f[from.len()..]), bytes)
                                })
                                .collect()
                        }
                    };
                    model.clear(who, to);
                    model.files.extend(moved);
                }
                done(ok(status), forbidden, who, body, &format!("{from} {to}"))
            }
            Step::Copy {
                who,
                from,
                to,
                folder,
                overwrite,
            } => {
                let (from, to) = (NAMES[from], NAMES[to]);
                let slash = if folder { "/" } else { "" };
                let flag = if overwrite { "T" } else { "F" };
                let fields = format!("Destination: /{to}{slash}\r\nOverwrite: {flag}\r\n");
                let answer = self.http(who, "COPY", &format!("/{from}{slash}"), &fields, b"");
                let as_folder = !model.files.contains_key(from);
                let read = match as_folder {
                    true => reaches(who, "read", &format!("{from}/")),
                    false => allows(who, "read", from),
                };
                let forbidden = nested(from, to)
                    || from == to
                    || !read
                    || !allows(who, "write", to)
                    || (!overwrite && model.has(to))
                    || model.locked(Touch::Whole(to));
                if ok(answer.status) {
                    let copied: Vec<(String, Vec<u8>)> = match as_folder {
                        false => model
                            .files
                            .get(from)
                            .map(|b| (to.to_owned(), b.clone()))
                            .into_iter()
                            .collect(),
                        true => model
                            .under(from)
                            .filter(|f| allows(who, "read", f))
                            .map(|f| (format!("{to}{}", &f[from.len()..]), model.files[f].clone()))
                            .filter(|(copy, _)| allows(who, "write", copy))
                            .collect(),
                    };
                    model.clear(who, to);
                    model.files.extend(copied);
                }
                done(
                    ok(answer.status),
                    forbidden,
                    who,
                    answer.body,
                    &format!("{from} {to}"),
                )
            }
            Step::Lock(who, n) => {
                let name = NAMES[n];
                let body = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
                let answer = self.http(
                    who,
                    "LOCK",
                    &format!("/{name}"),
                    "Depth: 0\r\n",
                    body.as_bytes(),
                );
                // A name only reserved (nothing has it) by `who`'s own
                // lock is taken over by its new one (serve/ops/reservations.rs).
                let own = |(r, _, h): &(String, String, Who)| r == name && *h == who;
                let reserved_by_who = !model.has(name) && model.locks.iter().any(own);
                let forbidden = !allows(who, "write", name)
                    || (!reserved_by_who && model.locks.iter().any(|(r, _, _)| r == name));
                if ok(answer.status) {
                    let token = answer.header("Lock-Token").unwrap_or_default();
                    let token = token.trim_matches(|c| c == '<' || c == '>').to_owned();
                    model.locks.retain(|lock| !own(lock));
                    model.locks.push((name.to_owned(), token, who));
                }
                done(ok(answer.status), forbidden, who, answer.body, name)
            }
            Step::Unlock(at) => {
                let Some((name, token, _)) = model.locks.get(at).cloned() else {
                    return Ok(done(false, false, 0, Vec::new(), ""));
                };
                let fields = format!("Lock-Token: <{token}>\r\n");
                let answer = self.http(0, "UNLOCK", &format!("/{name}"), &fields, b"");
                if answer.status != 204 {
                    let status = answer.status;
                    return Err(TestCaseError::fail(format!(
                        "{step:?}: UNLOCK of a held lock: {status}"
                    )));
                }
                model.locks.remove(at);
                done(true, false, 0, answer.body, &name)
            }
            Step::Multipart(who, n, seed) => {
                let (name, bytes) = (NAMES[n], data(seed));
                let path = format!("/{name}");
                let begun = self.s3(who, "POST", &path, &[("uploads", "")], b"");
                let mut status = begun.status;
                if ok(status) {
                    let id = texts(&begun.body, "UploadId").remove(0);
                    let part = self.s3(
                        who,
                        "PUT",
                        &path,
                        &[("partNumber", "1"), ("uploadId", &id)],
                        &bytes,
                    );
                    status = part.status;
                    if ok(status) {
                        let etag = part.header("ETag").unwrap_or_default().to_owned();
                        let xml = format!(
                            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
                        );
                        let completed =
                            self.s3(who, "POST", &path, &[("uploadId", &id)], xml.as_bytes());
                        let failed_inside = texts(&completed.body, "Code").len();
                        status = if failed_inside > 0 {
                            500
                        } else {
                            completed.status
                        };
                    }
                }
                let forbidden = !allows(who, "write", name) || model.locked(Touch::Name(name));
                if ok(status) {
                    model.files.insert(name.to_owned(), bytes);
                }
                done(ok(status), forbidden, who, begun.body, name)
            }
            Step::Tus(who, n, seed) => {
                let (name, bytes) = (NAMES[n], data(seed));
                let (folder, leaf) = name.rsplit_once('/').unwrap_or(("", name));
                use base64::Engine as _;
                let leaf = base64::engine::general_purpose::STANDARD.encode(leaf);
                let fields = format!(
                    "Tus-Resumable: 1.0.0\r\nUpload-Length: {}\r\nUpload-Metadata: filename {leaf}\r\n",
                    bytes.len()
                );
                let folder = match folder {
                    "" => "/".to_owned(),
                    folder => format!("/{folder}/"),
                };
                let created = self.http(who, "POST", &folder, &fields, b"");
                let mut status = created.status;
                if ok(status) {
                    let location = created.header("Location").unwrap_or_default();
                    let at = match location.split_once("://") {
                        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
                        None => location.to_owned(),
                    };
                    let fields = "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n";
                    status = self.http(who, "PATCH", &at, fields, &bytes).status;
                }
                let forbidden = !allows(who, "write", name) || model.locked(Touch::Name(name));
                if ok(status) {
                    model.files.insert(name.to_owned(), bytes);
                }
                done(ok(status), forbidden, who, created.body, name)
            }
            Step::List(ferry, who) => {
                let readable = model.readable(who);
                let (listed, body) = if ferry {
                    let (line, body) = self.ferry(who, b"LIST\n", true);
                    if !line.starts_with("OK") {
                        return Err(TestCaseError::fail(format!("{step:?}: {line}")));
                    }
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let names = text
                        .lines()
                        .filter_map(|l| l.splitn(3, ' ').nth(2))
                        .map(str::to_owned)
                        .collect::<Vec<_>>();
                    (names, body)
                } else {
                    let mut names = Vec::new();
                    for bucket in ["a", "b"] {
                        let answer = self.s3(
                            who,
                            "GET",
                            &format!("/{bucket}"),
                            &[("list-type", "2")],
                            b"",
                        );
                        if ok(answer.status) {
                            names.extend(
                                texts(&answer.body, "Key")
                                    .into_iter()
                                    // An empty folder's marker key: no file.
                                    .filter(|k| !k.ends_with('/'))
                                    .map(|k| format!("{bucket}/{k}")),
                            );
                        } else if readable
                            .iter()
                            .any(|f| f.starts_with(&format!("{bucket}/")))
                        {
                            let status = answer.status;
                            return Err(TestCaseError::fail(format!(
                                "{step:?}: {bucket}: {status}"
                            )));
                        }
                    }
                    (names, Vec::new())
                };
                let mut listed = listed;
                listed.sort();
                // S3 lists the buckets' keys: a file at the top is no key.
                let readable: Vec<String> = match ferry {
                    true => readable,
                    false => readable.into_iter().filter(|f| f.contains('/')).collect(),
                };
                if listed != readable {
                    let failure = format!("{step:?} listed {listed:?}, the model {readable:?}");
                    return Err(TestCaseError::fail(failure));
                }
                done(false, false, who, body, "")
            }
            Step::Mkdir(who, n) => {
                let name = NAMES[n];
                let (status, body) = sftp(who, &|c| c.mkdir(&format!("/{name}")));
                // A name taken (a file there, or a folder holding files),
                // or a file where a folder above it would be.
                let above = |f: &String| below(name, f);
                let taken = model.has(name) || model.files.keys().any(above);
                let forbidden = !reaches(who, "write", &format!("{name}/"))
                    || model.locked(Touch::Name(name))
                    || taken;
                done(ok(status), forbidden, who, body, name)
            }
            Step::Rmdir(who, n) => {
                let name = NAMES[n];
                let (status, body) = sftp(who, &|c| c.rmdir(&format!("/{name}")));
                // Only an empty folder goes: the model's files stay.
                let forbidden = !allows(who, "delete", name)
                    || model.locked(Touch::Whole(name))
                    || model.has(name);
                done(ok(status), forbidden, who, body, name)
            }
            Step::SftpList(who) => {
                let listed = self.sftp(who, |c| sftp_walk(c, "")).unwrap();
                let (mut listed, body) = listed
                    .map_err(|failure| TestCaseError::fail(format!("{step:?}: {failure}")))?;
                listed.sort();
                let readable = model.readable(who);
                if listed != readable {
                    let failure = format!("{step:?} listed {listed:?}, the model {readable:?}");
                    return Err(TestCaseError::fail(failure));
                }
                done(false, false, who, body, "")
            }
        })
    }
}

/// Whose SFTP session `step` goes through, if it does.
fn by_sftp(step: &Step) -> Option<Who> {
    match *step {
        Step::Put(Via::Sftp, who, ..)
        | Step::Get(Via::Sftp, who, ..)
        | Step::Delete(Via::Sftp, who, ..) => Some(who),
        Step::Move {
            via: MoveVia::Sftp,
            who,
            ..
        } => Some(who),
        Step::Mkdir(who, _) | Step::Rmdir(who, _) | Step::SftpList(who) => Some(who),
        _ => None,
    }
}

/// An SFTP status as the steps judge it: `OK` a success (200), the rest
/// not (400 and the code); its message, the answer's body.
fn answered(status: &Status) -> (u16, Vec<u8>) {
    let code = match status.ok() {
        true => 200,
        false => 400 + u16::try_from(status.code).unwrap_or(99),
    };
    (code, status.message.clone().into_bytes())
}

/// The files under `folder` (`""`: the root; ending in `/` otherwise) as
/// SFTP's listings show them, folder by folder (a folder whose listing is
/// refused is passed over: what its token may read is then missing), and
/// every name listed, as an answer's body; or what went wrong.
fn sftp_walk(client: &mut Client, folder: &str) -> Result<(Vec<String>, Vec<u8>), String> {
    let listing = client.list(&format!("/{folder}"));
    let entries = match listing {
        Ok(entries) => entries,
        Err(refusal) if folder.is_empty() => return Err(format!("the root: {refusal:?}")),
        Err(refusal) => return Ok((Vec::new(), refusal.message.into_bytes())),
    };
    let (mut files, mut body) = (Vec::new(), Vec::new());
    for (name, stat) in entries {
        let path = format!("{folder}{name}");
        body.extend_from_slice(format!("{path}\n").as_bytes());
        if stat.folder {
            let (more, said) = sftp_walk(client, &format!("{path}/"))?;
            files.extend(more);
            body.extend(said);
        } else {
            files.push(path);
        }
    }
    Ok((files, body))
}

/// Runs `steps` on a fresh server (with SFTP where `sftp`): the first
/// failure, if any.
fn run(steps: &[Step], sftp: bool) -> Result<(), TestCaseError> {
    let s = S3Server::start_with(HOLDERS, &[], |config| {
        config.fsync = false;
        support::listen_ftp(config);
        if sftp {
            support::listen_sftp(config);
        }
    });
    for name in START {
        std::fs::create_dir_all(s.server.path(name).parent().unwrap()).unwrap();
        std::fs::write(s.server.path(name), first(name)).unwrap();
    }
    std::fs::create_dir_all(s.server.path("b/c")).unwrap();
    // The sessions the steps use begun together (each login a key
    // exchange: side by side, they take the time of about one).
    let sftp = s.server.sftp.filter(|_| sftp).map(|addr| {
        let logins = s
            .tokens
            .iter()
            .map(|token| Login::with_password(addr, token));
        let used = |who: Who| steps.iter().any(|step| by_sftp(step) == Some(who));
        let begun = logins.enumerate().map(|(who, login)| {
            let client = used(who).then(|| login.client());
            (login, RefCell::new(client))
        });
        begun.collect()
    });
    let world = World { sftp, s };
    let mut model = Model::start();
    for step in steps {
        world.run(&mut model, step)?;
    }
    Ok(())
}

/// The sequences `cargo test` runs.
const CASES: u32 = 64;

/// Whether SFTP's steps run: built with SFTP, and OpenSSH's `ssh` here
/// (else said why not; those steps are skipped).
fn sftp_here() -> bool {
    if !cfg!(feature = "sftp") {
        eprintln!("skipped: the SFTP steps (built without SFTP)");
        return false;
    }
    support::sftp::have_openssh()
}

#[test]
fn every_protocol_keeps_the_models_promises() {
    let cases = std::env::var("FERRY_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Cases {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Cases::default()
    });
    // From one step, so that a failure shrinks to the few that matter.
    let sequences = proptest::collection::vec(step(), 1..150);
    let sftp = sftp_here();
    if let Err(failure) = runner.run(&sequences, |steps| run(&steps, sftp)) {
        panic!("{failure}");
    }
}
