//! What the simulation's clients ask (`simulation.rs`): the requests, as
//! FERRY/1 lines and WebDAV heads with their bodies, chosen at random from
//! a few names, with bodies no other upload sends (each marked with its
//! client: [`author_of`]); a session's APPENDs and COMMIT planned from its
//! UPLOAD's answer, a tus upload's PATCHes from its creation's or its
//! HEAD's (`header`); what each does to the files once it takes effect
//! ([`Asked::apply_to`]); and the generator every choice comes from.
#![cfg(all(feature = "webdav", feature = "tus"))] // the simulation's (simulation.rs)

use std::collections::{BTreeMap, VecDeque};

use base64::Engine;

use ferry::wire::Protocol;

/// The longest body a client sends.
const LONGEST: usize = 700;
/// The files clients write, move and delete.
const NAMES: &[&str] = &[
    "q/a", "q/b", "q/c/d", "g/e", "g/sub/f", "h/x/f", "h/x/g", "h/y/f",
];

/// A little generator: the same seed, the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)).max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What a client asked and waits to hear about: enough to change the
/// model as its answer says.
#[derive(Debug, Clone)]
pub enum Asked {
    Auth,
    Put(String, Vec<u8>),
    Del(String),
    Move(String, String),
    Upload(String, Vec<u8>),
    /// An APPEND of `bytes[from..to]`, of session `id`.
    Append(Vec<u8>, String, usize, usize),
    /// A COMMIT of session `id`, which uploads `name`.
    Commit(String, String, Vec<u8>),
    /// An ABORT of session `id` (its plan dropped).
    Abort(String),
    /// WebDAV's MOVE of folder `from/` to `to/`.
    DavMove(String, String, bool),
    /// tus's creation of an upload of `name`.
    TusCreate(String, Vec<u8>),
    /// A tus PATCH of `bytes[from..to]` to upload `url`, of `name`.
    TusPatch(String, String, Vec<u8>, usize, usize),
    /// tus's HEAD of upload `url` (of `name`): how far it got, asked by a
    /// client that lost its connection.
    TusHead(String, String, Vec<u8>),
}

/// What a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ferry,
    /// WebDAV's folder MOVEs.
    Dav,
    /// tus uploads.
    Tus,
}

impl Kind {
    pub fn protocol(self) -> Protocol {
        match self {
            Kind::Ferry => Protocol::Ferry,
            Kind::Dav | Kind::Tus => Protocol::Http,
        }
    }
}

impl Asked {
    /// What kind of request it is.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Asked::Auth => "AUTH",
            Asked::Put(..) => "PUT",
            Asked::Del(_) => "DEL",
            Asked::Move(..) => "MOVE",
            Asked::Upload(..) => "UPLOAD",
            Asked::Append(..) => "APPEND",
            Asked::Commit(..) => "COMMIT",
            Asked::Abort(_) => "ABORT",
            Asked::DavMove(..) => "WebDAV MOVE",
            Asked::TusCreate(..) => "tus POST",
            Asked::TusPatch(..) => "tus PATCH",
            Asked::TusHead(..) => "tus HEAD",
        }
    }

    /// What it asks, in a few words, for a failure's report.
    pub fn describe(&self) -> String {
        match self {
            Asked::Auth => "AUTH".into(),
            Asked::Put(name, bytes) => format!("PUT {name} ({} bytes)", bytes.len()),
            Asked::Del(name) => format!("DEL {name}"),
            Asked::Move(from, to) => format!("MOVE {from} {to}"),
            Asked::Upload(name, bytes) => format!("UPLOAD {name} ({} bytes)", bytes.len()),
            Asked::Append(_, id, from, to) => format!("APPEND {id} {from}..{to}"),
            Asked::Commit(id, name, _) => format!("COMMIT {id} ({name})"),
            Asked::Abort(id) => format!("ABORT {id}"),
            Asked::DavMove(from, to, overwrite) => {
                format!("WebDAV MOVE {from}/ {to}/ overwrite {overwrite}")
            }
            Asked::TusCreate(name, bytes) => format!("tus POST {name} ({} bytes)", bytes.len()),
            Asked::TusPatch(url, _, _, from, to) => format!("tus PATCH {url} {from}..{to}"),
            Asked::TusHead(url, ..) => format!("tus HEAD {url}"),
        }
    }

    /// What it does to `files` once it takes effect, whatever its answer
    /// said (or if it was never heard); `false` for a request that changes
    /// no file. A WebDAV MOVE is its whole move (a destination cleared in
    /// part, RFC 4918's 207, is read from the store by its hearer).
    pub fn apply_to(&self, files: &mut BTreeMap<String, Vec<u8>>) -> bool {
        match self {
            Asked::Put(name, bytes) | Asked::Commit(_, name, bytes) => {
                files.insert(name.clone(), bytes.clone());
            }
            // The last PATCH makes the upload whole: it is committed.
            Asked::TusPatch(_, name, bytes, _, to) if *to == bytes.len() => {
                files.insert(name.clone(), bytes.clone());
            }
            Asked::Del(name) => drop(files.remove(name)),
            Asked::Move(from, to) => {
                if let Some(bytes) = files.remove(from) {
                    files.insert(to.clone(), bytes);
                }
            }
            Asked::DavMove(from, to, _) => {
                let (from, to) = (format!("{from}/"), format!("{to}/"));
                files.retain(|name, _| !name.starts_with(&to));
                let moved: Vec<_> = files
                    .keys()
                    .filter(|n| n.starts_with(&from))
                    .cloned()
                    .collect();
                for name in moved {
                    let bytes = files.remove(&name).unwrap_or_default();
                    files.insert(format!("{to}{}", &name[from.len()..]), bytes);
                }
            }
            _ => return false,
        }
        true
    }
}

/// A FERRY/1 request of client `at`'s (its `made`th body, if it sends
/// one), at random.
pub fn ferry_request(rng: &mut Rng, (at, made): (usize, u64)) -> Asked {
    let name = rng.pick(NAMES).to_string();
    match rng.below(10) {
        0..=2 => Asked::Put(name, payload(rng, (at, made))),
        3 => Asked::Del(name),
        4 => Asked::Move(name, rng.pick(NAMES).to_string()),
        _ => Asked::Upload(name, payload(rng, (at, made))),
    }
}

/// WebDAV's MOVE of a folder: onto the folder that holds it (never
/// allowed), or between two apart.
pub fn dav_move(rng: &mut Rng) -> Asked {
    match rng.below(3) {
        0 => Asked::DavMove("g/sub".into(), "g".into(), true),
        1 => Asked::DavMove("h/x".into(), "h/y".into(), rng.below(2) == 0),
        _ => Asked::DavMove("h/y".into(), "h/x".into(), rng.below(2) == 0),
    }
}

/// The client whose upload `bytes` are: the first number of their mark
/// ([`payload`]); a move keeps it, as it keeps a file's owner.
pub fn author_of(bytes: &[u8]) -> Option<usize> {
    let mark = bytes.split(|b| *b == b':').next()?;
    std::str::from_utf8(mark).ok()?.parse().ok()
}

/// tus's creation of an upload of client `at`'s (its `made`th body).
pub fn tus_create(rng: &mut Rng, (at, made): (usize, u64)) -> Asked {
    let name = rng.pick(NAMES).to_string();
    Asked::TusCreate(name, payload(rng, (at, made)))
}

/// A tus upload at `location` that stands at `from`: its PATCHes, in one
/// to three pieces; the last commits it (an empty one where all its bytes
/// are in and it is not known to be stored: one cut off by a crash).
pub fn tus_plan(
    rng: &mut Rng,
    (location, from): (&str, usize),
    name: String,
    bytes: Vec<u8>,
) -> Vec<Asked> {
    let pieces = 1 + rng.below(3) as usize;
    let mut plan = Vec::new();
    let mut from = from.min(bytes.len());
    if from == bytes.len() {
        let whole = bytes.len();
        return vec![Asked::TusPatch(
            location.to_owned(),
            name,
            bytes,
            whole,
            whole,
        )];
    }
    while from < bytes.len() {
        let to = (from + bytes.len().div_ceil(pieces)).min(bytes.len());
        let patch = Asked::TusPatch(location.to_owned(), name.clone(), bytes.clone(), from, to);
        plan.push(patch);
        from = to;
    }
    plan
}

/// Bytes no other upload sends: the client, a count, and filler.
fn payload(rng: &mut Rng, (at, made): (usize, u64)) -> Vec<u8> {
    let len = 1 + rng.below(LONGEST as u64) as usize;
    let mark = format!("{at}:{made}:");
    mark.bytes()
        .chain(std::iter::repeat(b'.'))
        .take(len.max(mark.len()))
        .collect()
}

/// An UPLOAD answered `line` (`OK <id> <received>`): its APPENDs, in one
/// to three pieces from where it stands, then its COMMIT.
pub fn session_plan(rng: &mut Rng, line: &str, name: String, bytes: Vec<u8>) -> Vec<Asked> {
    let mut words = line.split(' ').skip(1);
    let id = words.next().unwrap_or("").to_owned();
    let mut from: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let pieces = 1 + rng.below(3) as usize;
    let mut plan = Vec::new();
    while from < bytes.len() {
        let to = (from + bytes.len().div_ceil(pieces)).min(bytes.len());
        plan.push(Asked::Append(bytes.clone(), id.clone(), from, to));
        from = to;
    }
    plan.push(Asked::Commit(id, name, bytes));
    plan
}

impl Asked {
    /// Its bytes, as client with `token` sends them.
    pub fn bytes(&self, token: &str) -> Vec<u8> {
        match self {
            Asked::Auth => format!("AUTH {token}\n").into_bytes(),
            Asked::Put(name, bytes) => with_body(format!("PUT {name} {}\n", bytes.len()), bytes),
            Asked::Del(name) => format!("DEL {name}\n").into_bytes(),
            Asked::Move(from, to) => format!("MOVE {from} {to}\n").into_bytes(),
            Asked::Upload(name, bytes) => {
                let crc = crc32c::crc32c(bytes);
                format!("UPLOAD {name} {} {crc:08x}\n", bytes.len()).into_bytes()
            }
            Asked::Append(bytes, id, from, to) => {
                let head = format!("APPEND {id} {from} {}\n", to - from);
                with_body(head, &bytes[*from..*to])
            }
            Asked::Commit(id, ..) => format!("COMMIT {id}\n").into_bytes(),
            Asked::Abort(id) => format!("ABORT {id}\n").into_bytes(),
            Asked::DavMove(from, to, overwrite) => {
                let overwrite = if *overwrite { "T" } else { "F" };
                format!(
                    "MOVE /{from}/ HTTP/1.1\r\nHost: localhost\r\nDestination: /{to}/\r\n\
                     Overwrite: {overwrite}\r\nAuthorization: Bearer {token}\r\n\r\n"
                )
                .into_bytes()
            }
            Asked::TusCreate(name, bytes) => {
                let (folder, leaf) = name.rsplit_once('/').unwrap_or(("", name));
                let leaf = base64::engine::general_purpose::STANDARD.encode(leaf);
                format!(
                    "POST /{folder}/ HTTP/1.1\r\nHost: localhost\r\n{TUS}Upload-Length: {}\r\n\
                     Upload-Metadata: filename {leaf}\r\nAuthorization: Bearer {token}\r\n\
                     Content-Length: 0\r\n\r\n",
                    bytes.len()
                )
                .into_bytes()
            }
            Asked::TusPatch(url, _, bytes, from, to) => {
                let head = format!(
                    "PATCH {url} HTTP/1.1\r\nHost: localhost\r\n{TUS}\
                     Content-Type: application/offset+octet-stream\r\nUpload-Offset: {from}\r\n\
                     Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
                    to - from
                );
                with_body(head, &bytes[*from..*to])
            }
            Asked::TusHead(url, ..) => format!(
                "HEAD {url} HTTP/1.1\r\nHost: localhost\r\n{TUS}\
                 Authorization: Bearer {token}\r\n\r\n"
            )
            .into_bytes(),
        }
    }
}

/// What every tus request says of itself.
const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

/// What a client asks first on a new connection: FERRY/1 logs in once,
/// HTTP sends its token with each request.
pub fn greeting(kind: Kind) -> VecDeque<Asked> {
    match kind {
        Kind::Ferry => VecDeque::from([Asked::Auth]),
        Kind::Dav | Kind::Tus => VecDeque::new(),
    }
}

fn with_body(head: String, body: &[u8]) -> Vec<u8> {
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The value of header `name` in HTTP answer `answer`.
pub fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    let lines = head.split("\r\n").skip(1);
    let mut found = lines.filter_map(|line| line.split_once(": "));
    found
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}
