//! Protocol abuse: a few hundred connections to one server, driven from this
//! test's single thread with random, interleaved and fragmented mixtures of
//! valid requests (PUT with and without a checksum, ranged GETs, STAT, LIST,
//! DEL, ECHO), garbage lines, binary junk, overlong lines, wrong checksums,
//! bad names, truncated bodies, half-closes, plain closes and resets
//! (`SO_LINGER` 0).
//!
//! Every response is checked as it arrives against a model of what the
//! connection asked for: well-formed, in order, and exactly what the model
//! says (each connection has a name space of its own, so the model is exact;
//! a few shared names get looser checks). Afterwards the test checks that the
//! server still answers, that no `.ferry-` temp file and no empty directory is
//! left, that every acknowledged upload reads back byte for byte, and that
//! names never acknowledged are invisible to STAT, GET and LIST.
//!
//! Everything random comes from a fixed seed (override it with
//! `FERRY_ABUSE_SEED=<n>` to explore; a failure prints the seed). Each
//! connection draws its script and the sizes of its fragments from generators
//! of its own, so what each connection sends, and where it is split, does not
//! depend on timing; only the interleaving between connections does. The
//! checks hold for every interleaving, and waiting is bounded (no progress
//! for [`PATIENCE`] fails the test).
//!
//! Two small deterministic tests pin down what the storm found: a fatal
//! error pipelined behind a download, and failed uploads that share a new
//! directory.

use crate::support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use ferry::client::ClientError;
use support::{PATIENCE, TestServer, crc_hex, pattern};

/// Connections open at once.
const CONNECTIONS: usize = 300;
/// The seed used unless `FERRY_ABUSE_SEED` is set.
const DEFAULT_SEED: u64 = 0x00F0_E1D2_C3B4_A596;
/// Files of each connection's own name space (below `cNNN/`), which only
/// that connection touches. Their parents are never used as files.
const OWN_NAMES: [&str; 7] = [
    "a",
    "b b",
    "ü.txt",
    "100%",
    "sub/c",
    "sub/deep/d",
    "x/y/z/w",
];
/// Names below `cNNN/` that only ever see uploads that must fail.
const NEVER_NAMES: [&str; 3] = ["never0", "sub/never1", "n/e/v/e/r2"];
/// Directories that exist below `cNNN/` while a file below them does ("" is
/// `cNNN` itself).
const OWN_DIRS: [&str; 6] = ["", "sub", "sub/deep", "x", "x/y", "x/y/z"];
/// Names every connection may write; only "one of the versions sent" holds.
const SHARED_NAMES: [&str; 4] = ["shared/s0", "shared/s1", "shared/deep/s2", "shared/s 3"];
/// Files that exist before the first connection and are only ever read.
const PRE_FILES: [(&str, usize); 3] = [("pre/keep", 3000), ("pre/empty", 0), ("pre/big", 200_000)];
/// Most requests a connection has in flight.
const MAX_PIPELINE: usize = 4;

fn pre_content(len: usize) -> Vec<u8> {
    pattern(len, 4242)
}

// ---------------------------------------------------------------------------
// Randomness

/// xorshift64* with a splitmix64-scrambled seed: small, fast, reproducible.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// A body size: mostly small, sometimes empty, now and then large.
    fn body_len(&mut self) -> usize {
        match self.below(100) {
            0..15 => 0,
            15..60 => self.range(1, 200),
            60..85 => self.range(201, 4000),
            85..97 => self.range(4001, 65_536),
            _ => self.range(65_537, 262_144),
        }
    }

    /// Body bytes: random binary, or text full of things that look like
    /// requests (which must never be taken for requests).
    fn body(&mut self, own: &str) -> Vec<u8> {
        let len = self.body_len();
        if self.percent(70) {
            return self.bytes(len);
        }
        let decoy = format!("DEL {own}a\nPUT {own}never0 3\nabc\nQUIT\n\r\nGARBAGE\n");
        decoy.bytes().cycle().take(len).collect()
    }
}

// ---------------------------------------------------------------------------
// Wire helpers

/// Percent-encodes `name` for a request line: space and `%` always, any other
/// byte now and then (either hex case), the rest raw.
fn encode(rng: &mut Rng, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in name.as_bytes() {
        if b == b' ' || b == b'%' || rng.percent(8) {
            let text = if rng.percent(50) {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            };
            out.extend_from_slice(text.as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn show(bytes: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{text:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}

/// The fields of an `OK` line, if it is one and has no empty field.
fn ok_fields(line: &str) -> Option<Vec<&str>> {
    if line == "OK" {
        return Some(Vec::new());
    }
    let fields: Vec<&str> = line.strip_prefix("OK ")?.split(' ').collect();
    fields.iter().all(|f| !f.is_empty()).then_some(fields)
}

/// The code and message of an `ERR` line, if it is a well-formed one.
fn err_fields(line: &str) -> Option<(u16, &str)> {
    let rest = line.strip_prefix("ERR ")?;
    let (code, message) = rest.split_once(' ')?;
    let valid = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) && !message.is_empty();
    valid.then(|| (code.parse().unwrap(), message))
}

fn decimal(field: &str) -> Option<u64> {
    (!field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()))
        .then(|| field.parse().ok())
        .flatten()
}

fn signed(field: &str) -> Option<i64> {
    let digits = field.strip_prefix('-').unwrap_or(field);
    decimal(digits).and_then(|_| field.parse().ok())
}

/// Names that break a naming rule, as sent on the wire, with their code.
fn bad_names(own: &str) -> Vec<(Vec<u8>, u16)> {
    let mut bad: Vec<(Vec<u8>, u16)> = [
        (format!("{own}../x"), 400),
        ("./x".to_string(), 400),
        ("..".to_string(), 400),
        (format!("/{own}a"), 400),
        (format!("{own}/a"), 400),
        (format!("{own}a/"), 400),
        (format!("{own}.."), 400),
        ("%zz".to_string(), 400),
        (format!("{own}a%2"), 400),
        (format!("{own}%g0"), 400),
        (format!("{own}%00a"), 400),
        (format!("{own}%7F"), 400),
        (format!("{own}%C2%85"), 400),
        (format!("{own}%C3%28"), 400),
        (format!("{own}{}", "a".repeat(1100)), 400),
        (format!("{own}{}/z", "s".repeat(300)), 400),
        (".ferry-x".to_string(), 403),
        (format!("{own}.ferry-tmp-1-1"), 403),
        (format!("{own}.ferry-x/y"), 403),
        (format!("{own}%2Eferry-q"), 403),
    ]
    .into_iter()
    .map(|(name, code)| (name.into_bytes(), code))
    .collect();
    let mut raw = |tail: &[u8]| {
        let mut name = own.as_bytes().to_vec();
        name.extend_from_slice(tail);
        bad.push((name, 400));
    };
    raw(b"a\x01b");
    raw(b"a\rb");
    raw(b"\xff\xfe");
    raw(b"\x00");
    bad
}

/// Bad LIST prefixes with their code.
fn bad_prefixes(own: &str) -> Vec<(String, u16)> {
    vec![
        ("/x".to_string(), 400),
        ("../x".to_string(), 400),
        (format!("{own}/"), 400),
        (".ferry-x/".to_string(), 403),
        (format!("{own}.ferry-tmp/"), 403),
        ("%zz".to_string(), 400),
        (format!("{own}%01"), 400),
    ]
}

/// Request lines that cannot be parsed: `ERR 400` and the connection closes.
fn garbage_lines(own: &str) -> Vec<String> {
    [
        "HELLO".to_string(),
        format!("put {own}a 1"),
        "GET".to_string(),
        format!("PUT {own}a"),
        format!("PUT {own}a 1 2 3"),
        format!("GET {own}a x"),
        format!("GET {own}a -1"),
        format!("GET {own}a +1"),
        format!("GET {own}a 1 2 3"),
        format!("PUT {own}a 18446744073709551616"),
        format!("PUT {own}a 3 zzzzzzzz"),
        format!("PUT {own}a 3 1234567"),
        format!("PUT {own}a 3 123456789"),
        format!("PUT {own}a 1 ABCDEFGH"),
        format!("STAT  {own}a"),
        format!("STAT {own}a "),
        "LIST ".to_string(),
        "QUIT now".to_string(),
        "ECHO".to_string(),
        "ECHO -5".to_string(),
        "ECHO 0x10".to_string(),
        "ECHO 1 2".to_string(),
        format!("\tSTAT {own}a"),
        format!(" STAT {own}a"),
        "STAT".to_string(),
        format!("DEL {own}a {own}b"),
    ]
    .into()
}

// ---------------------------------------------------------------------------
// The model

/// What one request must be answered with.
#[derive(Debug)]
enum Expect {
    /// `OK` with these leading fields (servers may append more, which
    /// clients must ignore), then exactly `body`.
    Ok { fields: Vec<String>, body: Vec<u8> },
    /// `ERR <code> <message>` with one of these codes.
    Err(&'static [u16]),
    /// `OK <size> <mtime>`.
    Stat(u64),
    /// `OK <n>` and a listing of everything starting with `prefix`; of that,
    /// the entries below `own` must be exactly `files`.
    List {
        prefix: String,
        own: String,
        files: Vec<(String, u64)>,
    },
    /// `OK <size> <crc>` for a shared name: an acknowledged version.
    SharedPut { name: String, content: Vec<u8> },
    /// A version of a shared name that was sent, or `ERR 404` / `ERR 416`.
    SharedGet {
        name: String,
        offset: u64,
        length: Option<u64>,
    },
    /// `OK <size> <mtime>` with the size of a version sent, or `ERR 404`.
    SharedStat { name: String },
    /// `OK` or `ERR 404`.
    SharedDel,
    /// The server closes the connection with nothing more to say.
    Eof,
}

/// A request in flight.
#[derive(Debug)]
struct Pending {
    expect: Expect,
    /// Offset in the connection's byte stream just past the request.
    end: usize,
    /// What the request does to one of the connection's own names:
    /// (name, new content or `None` for deleted).
    effect: Option<(String, Option<Vec<u8>>)>,
    /// The request, for failure messages.
    what: String,
}

/// What connections did to the shared names.
#[derive(Debug, Default)]
struct Shared {
    /// Versions whose whole PUT (with a right or no checksum) was sent.
    sent: BTreeMap<String, Vec<Vec<u8>>>,
    /// Versions the server acknowledged.
    acked: BTreeMap<String, Vec<Vec<u8>>>,
    /// Versions sent on connections that ended before the answer came.
    in_doubt: BTreeMap<String, Vec<Vec<u8>>>,
    /// Names a DEL was sent for.
    deleted: BTreeSet<String>,
}

impl Shared {
    fn sent(&self, name: &str) -> &[Vec<u8>] {
        self.sent.get(name).map_or(&[], Vec::as_slice)
    }
}

/// What to do once the stream reaches an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// `shutdown(SHUT_WR)`, then read the answers to the end.
    HalfClose,
    /// Close without reading further (a FIN, or a reset if answers are
    /// unread).
    Close,
    /// `SO_LINGER` 0 and close: a reset.
    Reset,
    /// Close once every answer has been read.
    CloseWhenAnswered,
    /// Reset once every answer has been read.
    ResetWhenAnswered,
}

/// The kind of a name in a connection's model.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    File(u64),
    Dir,
    Absent,
}

/// One connection and its model.
struct Conn {
    index: usize,
    seed: u64,
    client_id: u64,
    own: String,
    stream: Option<TcpStream>,
    /// Draws the script: requests, bodies, endings.
    rng: Rng,
    /// Draws fragment sizes.
    frag_rng: Rng,
    next_fragment: Option<usize>,
    /// Bytes generated but not yet written: `unsent[cursor..]`.
    unsent: Vec<u8>,
    cursor: usize,
    generated: usize,
    written: usize,
    stop: Option<(usize, Stop)>,
    inbuf: Vec<u8>,
    pending: VecDeque<Pending>,
    /// Own names present, as of the last answer read.
    confirmed: BTreeMap<String, Vec<u8>>,
    /// Own names present once every request generated has run.
    projected: BTreeMap<String, Vec<u8>>,
    ops_left: usize,
    pipeline: usize,
    ending: bool,
    /// A request that makes the server close has been generated.
    fatal: bool,
    /// Nothing more is sent: half-closed, or the server closed after a
    /// fatal error.
    sending_done: bool,
    finished: bool,
    /// Shared PUTs (`Some(content)`) and DELs (`None`) not yet completely
    /// written: (end offset, name, content).
    shared_unsent: VecDeque<(usize, String, Option<Vec<u8>>)>,
    shared_seq: usize,
    /// Recent requests, for failure messages.
    history: VecDeque<String>,
    /// Answers checked.
    answered: usize,
    /// How the connection ended, for the summary.
    ended: &'static str,
}

/// Possible final contents of each own name (`None`: absent).
type Outcomes = BTreeMap<String, Vec<Option<Vec<u8>>>>;

impl Conn {
    fn open(server: &TestServer, index: usize, seed: u64) -> Conn {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut greeting = Vec::new();
        let mut byte = [0u8];
        while byte[0] != b'\n' {
            stream.read_exact(&mut byte).expect("read greeting");
            greeting.push(byte[0]);
        }
        let greeting = String::from_utf8(greeting).expect("greeting is UTF-8");
        let client_id = greeting
            .strip_prefix("OK FERRY/1 ")
            .and_then(|rest| rest.trim_end_matches('\n').split(' ').next())
            .and_then(decimal)
            .unwrap_or_else(|| panic!("bad greeting {greeting:?}"));
        stream.set_nonblocking(true).unwrap();
        let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x0000_0100_0000_01B3));
        let frag_rng = Rng::new(rng.next());
        let ops_left = rng.range(2, 14);
        let pipeline = rng.range(1, MAX_PIPELINE);
        Conn {
            index,
            seed,
            client_id,
            own: format!("c{index:03}/"),
            stream: Some(stream),
            rng,
            frag_rng,
            next_fragment: None,
            unsent: Vec::new(),
            cursor: 0,
            generated: 0,
            written: 0,
            stop: None,
            inbuf: Vec::new(),
            pending: VecDeque::new(),
            confirmed: BTreeMap::new(),
            projected: BTreeMap::new(),
            ops_left,
            pipeline,
            ending: false,
            fatal: false,
            sending_done: false,
            finished: false,
            shared_unsent: VecDeque::new(),
            shared_seq: 0,
            history: VecDeque::new(),
            answered: 0,
            ended: "",
        }
    }

    #[track_caller]
    fn fail(&self, message: &str) -> ! {
        let history: Vec<&str> = self.history.iter().map(String::as_str).collect();
        let pending: Vec<&str> = self.pending.iter().map(|p| p.what.as_str()).collect();
        panic!(
            "connection {} (client id {}, seed {:#x}): {message}\n  \
             written {} of {} bytes; requests so far: {history:#?}\n  \
             still unanswered: {pending:#?}",
            self.index, self.client_id, self.seed, self.written, self.generated
        );
    }

    fn name(&self, leaf: &str) -> String {
        format!("{}{leaf}", self.own)
    }

    fn kind(&self, name: &str) -> Kind {
        if let Some(content) = self.projected.get(name) {
            return Kind::File(content.len() as u64);
        }
        let dir = format!("{name}/");
        if self.projected.keys().any(|n| n.starts_with(&dir)) {
            Kind::Dir
        } else {
            Kind::Absent
        }
    }

    /// Ends a request line, sometimes with CRLF, sometimes after blank lines.
    fn line(&mut self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.rng.percent(8) {
            for _ in 0..self.rng.range(1, 3) {
                let blank: &[u8] = if self.rng.percent(50) { b"\n" } else { b"\r\n" };
                out.extend_from_slice(blank);
            }
        }
        out.extend_from_slice(text);
        let end: &[u8] = if self.rng.percent(15) { b"\r\n" } else { b"\n" };
        out.extend_from_slice(end);
        out
    }

    /// Queues bytes that belong to no request of their own.
    fn append(&mut self, bytes: &[u8]) {
        self.unsent.extend_from_slice(bytes);
        self.generated += bytes.len();
    }

    /// Queues a request and what it must be answered with.
    fn request(&mut self, bytes: &[u8], expect: Expect, effect: Option<(String, Option<Vec<u8>>)>) {
        let blank = bytes
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        let line = &bytes[blank..];
        let line_end = line
            .iter()
            .position(|&b| b == b'\n')
            .map_or(line.len(), |at| at + 1);
        let what = show(&line[..line_end]);
        self.append(bytes);
        if let Some((name, content)) = &effect {
            match content {
                Some(content) => self.projected.insert(name.clone(), content.clone()),
                None => self.projected.remove(name),
            };
        }
        if self.history.len() == 12 {
            self.history.pop_front();
        }
        self.history.push_back(what.clone());
        self.pending.push_back(Pending {
            expect,
            end: self.generated,
            effect,
            what,
        });
    }

    fn expect_eof(&mut self) {
        self.pending.push_back(Pending {
            expect: Expect::Eof,
            end: self.generated,
            effect: None,
            what: "(end of connection)".to_string(),
        });
    }

    // -- requests ----------------------------------------------------------

    fn any_own_name(&mut self) -> String {
        let leaf = if self.rng.percent(85) {
            self.rng.pick(&OWN_NAMES)
        } else {
            self.rng.pick(&NEVER_NAMES)
        };
        self.name(leaf)
    }

    fn put_line(&mut self, encoded: &[u8], len: usize, crc: Option<String>) -> Vec<u8> {
        let mut text = b"PUT ".to_vec();
        text.extend_from_slice(encoded);
        text.extend_from_slice(format!(" {len}").as_bytes());
        if let Some(crc) = crc {
            text.extend_from_slice(format!(" {crc}").as_bytes());
        }
        self.line(&text)
    }

    /// A checksum for `body` as a client may write it (or none).
    fn crc_field(&mut self, body: &[u8]) -> Option<String> {
        match self.rng.below(10) {
            0..6 => Some(crc_hex(body)),
            6 => Some(crc_hex(body).to_uppercase()),
            _ => None,
        }
    }

    fn wrong_crc(&mut self, body: &[u8]) -> String {
        let crc = crc32c::crc32c(body) ^ (1 << self.rng.below(32));
        format!("{crc:08x}")
    }

    fn gen_put(&mut self) {
        let leaf = self.rng.pick(&OWN_NAMES);
        let name = self.name(leaf);
        let body = self.rng.body(&self.own);
        let crc = self.crc_field(&body);
        let encoded = encode(&mut self.rng, &name);
        let mut bytes = self.put_line(&encoded, body.len(), crc);
        bytes.extend_from_slice(&body);
        let answer = ok(&[&body.len(), &crc_hex(&body)], &[]);
        self.request(&bytes, answer, Some((name, Some(body))));
    }

    fn gen_put_wrong_crc(&mut self) {
        let name = self.any_own_name();
        let body = self.rng.body(&self.own);
        let crc = self.wrong_crc(&body);
        let encoded = encode(&mut self.rng, &name);
        let mut bytes = self.put_line(&encoded, body.len(), Some(crc));
        bytes.extend_from_slice(&body);
        self.request(&bytes, Expect::Err(&[422]), None);
    }

    fn gen_put_bad_name(&mut self) {
        let (encoded, code) = self.rng.pick(&bad_names(&self.own));
        let body = self.rng.body(&self.own);
        let crc = self.crc_field(&body);
        let mut bytes = self.put_line(&encoded, body.len(), crc);
        bytes.extend_from_slice(&body);
        self.request(&bytes, Expect::Err(code_list(code)), None);
    }

    fn gen_get(&mut self) {
        let name = self.any_own_name();
        let content = self.projected.get(&name).cloned();
        let size = content.as_ref().map_or(300, Vec::len);
        let (offset, length) = match self.rng.below(4) {
            0 | 1 => (0, None),
            2 => (self.rng.below(size + 3), None),
            _ => (self.rng.below(size + 3), Some(self.rng.below(size + 2))),
        };
        let expect = match content {
            None => Expect::Err(&[404]),
            Some(_) if offset > size => Expect::Err(&[416]),
            Some(content) => {
                let n = (size - offset).min(length.unwrap_or(usize::MAX));
                ok(&[&n, &size], &content[offset..offset + n])
            }
        };
        let mut text = b"GET ".to_vec();
        text.extend_from_slice(&encode(&mut self.rng, &name));
        match length {
            Some(length) => text.extend_from_slice(format!(" {offset} {length}").as_bytes()),
            None if offset > 0 || self.rng.percent(20) => {
                text.extend_from_slice(format!(" {offset}").as_bytes());
            }
            None => {}
        }
        let bytes = self.line(&text);
        self.request(&bytes, expect, None);
    }

    fn gen_stat(&mut self) {
        let name = self.any_own_name();
        let expect = match self.kind(&name) {
            Kind::File(size) => Expect::Stat(size),
            Kind::Dir => Expect::Err(&[409]),
            Kind::Absent => Expect::Err(&[404]),
        };
        let mut text = b"STAT ".to_vec();
        text.extend_from_slice(&encode(&mut self.rng, &name));
        let bytes = self.line(&text);
        self.request(&bytes, expect, None);
    }

    /// STAT, GET or DEL of a directory of the name space: 409 while it
    /// exists, else 404.
    fn gen_dir_request(&mut self) {
        let dir = self.rng.pick(&OWN_DIRS);
        let name = if dir.is_empty() {
            self.own.trim_end_matches('/').to_string()
        } else {
            self.name(dir)
        };
        let expect = match self.kind(&name) {
            Kind::Dir => Expect::Err(&[409]),
            Kind::Absent => Expect::Err(&[404]),
            Kind::File(_) => unreachable!("directory names are never files"),
        };
        let verb = self.rng.pick(&["STAT ", "GET ", "DEL "]);
        let mut text = verb.as_bytes().to_vec();
        text.extend_from_slice(&encode(&mut self.rng, &name));
        let bytes = self.line(&text);
        self.request(&bytes, expect, None);
    }

    fn gen_del(&mut self) {
        let name = self.any_own_name();
        let (expect, effect) = match self.kind(&name) {
            Kind::File(_) => (ok(&[], &[]), Some((name.clone(), None))),
            Kind::Dir => (Expect::Err(&[409]), None),
            Kind::Absent => (Expect::Err(&[404]), None),
        };
        let mut text = b"DEL ".to_vec();
        text.extend_from_slice(&encode(&mut self.rng, &name));
        let bytes = self.line(&text);
        self.request(&bytes, expect, effect);
    }

    fn gen_list(&mut self) {
        let own = self.own.clone();
        let stem = own.trim_end_matches('/');
        let prefix = match self.rng.below(12) {
            0..3 => own.clone(),
            3 => format!("{own}sub/"),
            4 => format!("{own}s"),
            5 => stem.to_string(),
            6 => format!("{own}x/y/"),
            7 => format!("{own}.."),
            8 => format!("{own}nev"),
            9 => format!("{own}b b"),
            10 => self
                .rng
                .pick(&["shared/", "pre/", "shared/deep"])
                .to_string(),
            _ => String::new(), // the whole tree
        };
        let files: Vec<(String, u64)> = self
            .projected
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, content)| (name.clone(), content.len() as u64))
            .collect();
        let text = if prefix.is_empty() {
            b"LIST".to_vec()
        } else {
            let mut text = b"LIST ".to_vec();
            text.extend_from_slice(&encode(&mut self.rng, &prefix));
            text
        };
        let bytes = self.line(&text);
        self.request(&bytes, Expect::List { prefix, own, files }, None);
    }

    fn gen_list_bad(&mut self) {
        let (prefix, code) = self.rng.pick(&bad_prefixes(&self.own));
        let bytes = self.line(format!("LIST {prefix}").as_bytes());
        self.request(&bytes, Expect::Err(code_list(code)), None);
    }

    fn gen_bad_name(&mut self) {
        let (encoded, code) = self.rng.pick(&bad_names(&self.own));
        let mut verb = self.rng.pick(&["STAT ", "GET ", "DEL "]);
        // `DEL <name>/` is a folder's delete (PROTOCOL.md 6.5.1), not a
        // bad name: tests/protocol/folders.rs covers it.
        if verb == "DEL " && encoded.ends_with(b"/") {
            verb = "STAT ";
        }
        let mut text = verb.as_bytes().to_vec();
        text.extend_from_slice(&encoded);
        if verb == "GET " && self.rng.percent(30) {
            text.extend_from_slice(b" 0 10");
        }
        let bytes = self.line(&text);
        self.request(&bytes, Expect::Err(code_list(code)), None);
    }

    fn gen_echo(&mut self) {
        let body = self.rng.body(&self.own);
        let mut bytes = self.line(format!("ECHO {}", body.len()).as_bytes());
        bytes.extend_from_slice(&body);
        self.request(&bytes, ok(&[&body.len()], &body), None);
    }

    fn gen_pre(&mut self) {
        let (name, len) = self.rng.pick(&PRE_FILES);
        let content = pre_content(len);
        if self.rng.percent(30) {
            let bytes = self.line(format!("STAT {name}").as_bytes());
            return self.request(&bytes, Expect::Stat(len as u64), None);
        }
        let offset = self.rng.below(len + 1);
        let n = self.rng.below(len - offset + 1);
        let bytes = self.line(format!("GET {name} {offset} {n}").as_bytes());
        let answer = ok(&[&n, &len], &content[offset..offset + n]);
        self.request(&bytes, answer, None);
    }

    /// A STAT whose line, with blank lines in front, is exactly the longest
    /// allowed: 4096 bytes with its newline.
    fn gen_longest_line(&mut self) {
        let name = self.any_own_name();
        let expect = match self.kind(&name) {
            Kind::File(size) => Expect::Stat(size),
            Kind::Dir => Expect::Err(&[409]),
            Kind::Absent => Expect::Err(&[404]),
        };
        let mut text = b"STAT ".to_vec();
        text.extend_from_slice(&encode(&mut self.rng, &name));
        text.push(b'\n');
        let mut bytes = vec![b'\n'; 4096 - text.len()];
        bytes.extend_from_slice(&text);
        self.request(&bytes, expect, None);
    }

    fn gen_shared(&mut self) {
        let name = self.rng.pick(&SHARED_NAMES).to_string();
        let encoded = encode(&mut self.rng, &name);
        match self.rng.below(10) {
            0..5 => {
                self.shared_seq += 1;
                let mut content = format!(
                    "{name} from connection {} #{}\n",
                    self.index, self.shared_seq
                )
                .into_bytes();
                let extra = self.rng.below(3000);
                content.extend_from_slice(&self.rng.bytes(extra));
                let wrong = self.rng.percent(15);
                let crc = if wrong {
                    Some(self.wrong_crc(&content))
                } else {
                    self.crc_field(&content)
                };
                let mut bytes = self.put_line(&encoded, content.len(), crc);
                bytes.extend_from_slice(&content);
                if wrong {
                    self.request(&bytes, Expect::Err(&[422]), None);
                } else {
                    self.request(
                        &bytes,
                        Expect::SharedPut {
                            name: name.clone(),
                            content: content.clone(),
                        },
                        None,
                    );
                    self.shared_unsent
                        .push_back((self.generated, name, Some(content)));
                }
            }
            5..8 => {
                let (offset, length) = match self.rng.below(3) {
                    0 => (0, None),
                    1 => (self.rng.below(100) as u64, None),
                    _ => (self.rng.below(100) as u64, Some(self.rng.below(200) as u64)),
                };
                let mut text = b"GET ".to_vec();
                text.extend_from_slice(&encoded);
                match length {
                    Some(length) => {
                        text.extend_from_slice(format!(" {offset} {length}").as_bytes());
                    }
                    None if offset > 0 => text.extend_from_slice(format!(" {offset}").as_bytes()),
                    None => {}
                }
                let bytes = self.line(&text);
                let expect = Expect::SharedGet {
                    name,
                    offset,
                    length,
                };
                self.request(&bytes, expect, None);
            }
            8 => {
                let mut text = b"STAT ".to_vec();
                text.extend_from_slice(&encoded);
                let bytes = self.line(&text);
                self.request(&bytes, Expect::SharedStat { name }, None);
            }
            _ => {
                let mut text = b"DEL ".to_vec();
                text.extend_from_slice(&encoded);
                let bytes = self.line(&text);
                self.request(&bytes, Expect::SharedDel, None);
                self.shared_unsent.push_back((self.generated, name, None));
            }
        }
    }

    /// Generates one ordinary (non-ending) request.
    fn gen_op(&mut self) {
        match self.rng.below(100) {
            0..20 => self.gen_put(),
            20..25 => self.gen_put_wrong_crc(),
            25..30 => self.gen_put_bad_name(),
            30..43 => self.gen_get(),
            43..46 => self.gen_pre(),
            46..52 => self.gen_stat(),
            52..55 => self.gen_dir_request(),
            55..62 => self.gen_list(),
            62..64 => self.gen_list_bad(),
            64..70 => self.gen_del(),
            70..76 => self.gen_echo(),
            76..80 => self.gen_bad_name(),
            80..81 => self.gen_longest_line(),
            _ => self.gen_shared(),
        }
    }

    /// Requests pipelined behind one that closes the connection: none of
    /// them may be executed.
    fn maybe_follow_ups(&mut self) {
        if self.rng.percent(60) {
            let own = self.own.clone();
            let text =
                format!("DEL {own}a\nPUT {own}never0 3\nabcPUT {own}b%20b 0\nSTAT {own}a\nLIST\n");
            self.append(text.as_bytes());
        }
    }

    /// Generates how the connection ends.
    fn gen_ending(&mut self) {
        self.ending = true;
        let own = self.own.clone();
        match self.rng.below(100) {
            0..10 => {
                self.ended = "quit";
                let bytes = self.line(b"QUIT");
                self.request(&bytes, ok(&[], &[]), None);
                self.maybe_follow_ups();
                self.expect_eof();
                self.fatal = true;
            }
            10..22 => {
                self.ended = "garbage line";
                let text = if self.rng.percent(70) {
                    self.rng.pick(&garbage_lines(&own)).into_bytes()
                } else {
                    // Binary junk: never a verb, no newline inside.
                    let len = self.rng.range(1, 3000);
                    let mut junk: Vec<u8> = self
                        .rng
                        .bytes(len)
                        .into_iter()
                        .map(|b| if b == b'\n' { 0 } else { b })
                        .collect();
                    junk.insert(0, self.rng.pick(&[0xFF, 0x00, 0x80, b'@', b'#']));
                    junk
                };
                let mut bytes = text;
                bytes.push(b'\n');
                if bytes.starts_with(b"PUT") && self.rng.percent(50) {
                    bytes.extend_from_slice(b"abc"); // a "body" that is never read
                }
                self.request(&bytes, Expect::Err(&[400]), None);
                self.maybe_follow_ups();
                self.expect_eof();
                self.fatal = true;
            }
            22..30 => {
                self.ended = "overlong line";
                let bytes = if self.rng.percent(60) {
                    // No newline in the first 4096 bytes.
                    let len = self.rng.range(4097, 6000);
                    let mut text = format!("PUT {own}a ").into_bytes();
                    while text.len() < len {
                        text.push(b'a' + self.rng.below(26) as u8);
                    }
                    if self.rng.percent(50) {
                        text.push(b'\n');
                    }
                    text
                } else {
                    // Blank lines count: one byte over the limit.
                    let text = format!("STAT {own}a\n");
                    let mut bytes = vec![b'\n'; 4097 - text.len()];
                    bytes.extend_from_slice(text.as_bytes());
                    bytes
                };
                self.request(&bytes, Expect::Err(&[431]), None);
                self.maybe_follow_ups();
                self.expect_eof();
                self.fatal = true;
            }
            30..38 => {
                self.ended = "half-close";
                if self.rng.percent(30) {
                    self.append(b"\r\n\n"); // only whitespace: a silent close
                }
                self.expect_eof();
                self.stop = Some((self.generated, Stop::HalfClose));
            }
            38..44 => {
                self.ended = "half-close in a line";
                let partial = self.rng.pick(&["STAT ", "PUT ", "GET ", "LIS", "DEL "]);
                let text = format!("{partial}{own}a");
                let cut = self.rng.range(1, text.len());
                let bytes = text.as_bytes()[..cut].to_vec();
                self.request(&bytes, Expect::Err(&[400]), None);
                self.expect_eof();
                self.stop = Some((self.generated, Stop::HalfClose));
            }
            44..52 => {
                self.ended = "half-close in a body";
                // A PUT whose body ends early: ERR 400, nothing stored.
                let (line_end, total) = self.gen_truncated_put(Expect::Err(&[400]));
                self.expect_eof();
                let cut = self.rng.range(line_end, total - 1);
                self.stop = Some((cut, Stop::HalfClose));
            }
            52..56 => {
                self.ended = "half-close in a refused body";
                let (encoded, code) = self.rng.pick(&bad_names(&own));
                let len = self.rng.range(1, 5000);
                let mut bytes = self.put_line(&encoded, len, None);
                let line_end = self.generated + bytes.len();
                bytes.extend_from_slice(&self.rng.bytes(len));
                self.request(&bytes, Expect::Err(code_list(code)), None);
                self.expect_eof();
                let cut = self.rng.range(line_end, self.generated - 1);
                self.stop = Some((cut, Stop::HalfClose));
            }
            56..60 => {
                self.ended = "half-close in an echo";
                // ECHO cut short: the bytes that came, then the close.
                let len = self.rng.range(1, 20_000);
                let body = self.rng.bytes(len);
                let mut bytes = self.line(format!("ECHO {len}").as_bytes());
                let line_len = bytes.len();
                bytes.extend_from_slice(&body);
                let kept = self.rng.below(len);
                self.request(&bytes, ok(&[&len], &body[..kept]), None);
                self.expect_eof();
                let cut = self.generated - bytes.len() + line_len + kept;
                self.stop = Some((cut, Stop::HalfClose));
            }
            60..70 => {
                self.ended = "reset in a body";
                let (line_end, total) = self.gen_truncated_put(Expect::Err(&[400]));
                self.stop = Some((self.rng.range(line_end, total - 1), Stop::Reset));
            }
            70..76 => {
                self.ended = "reset with answers unread";
                self.stop = Some((self.generated, Stop::Reset));
            }
            76..80 => {
                self.ended = "reset in junk";
                if self.rng.percent(50) {
                    let text = format!("PUT {own}never0 10 ");
                    let cut = self.rng.range(1, text.len());
                    self.append(&text.as_bytes()[..cut]);
                } else {
                    let len = self.rng.range(1, 4000);
                    let junk: Vec<u8> = self
                        .rng
                        .bytes(len)
                        .into_iter()
                        .map(|b| if b == b'\n' { b'?' } else { b })
                        .collect();
                    self.append(&junk);
                }
                self.stop = Some((self.generated, Stop::Reset));
            }
            80..86 => {
                self.ended = "close in a body";
                let (line_end, total) = self.gen_truncated_put(Expect::Err(&[400]));
                self.stop = Some((self.rng.range(line_end, total - 1), Stop::Close));
            }
            86..92 => {
                self.ended = "close with answers unread";
                self.stop = Some((self.generated, Stop::Close));
            }
            92..96 => {
                self.ended = "reset when answered";
                self.stop = Some((self.generated, Stop::ResetWhenAnswered));
            }
            _ => {
                self.ended = "close when answered";
                self.stop = Some((self.generated, Stop::CloseWhenAnswered));
            }
        }
    }

    /// Queues a PUT (right checksum, or none) that will be cut short; returns
    /// where its body starts and where it would end.
    fn gen_truncated_put(&mut self, expect: Expect) -> (usize, usize) {
        let name = self.any_own_name();
        let len = self.rng.range(1, 100_000);
        let body = self.rng.bytes(len);
        let crc = self.crc_field(&body);
        let encoded = encode(&mut self.rng, &name);
        let mut bytes = self.put_line(&encoded, len, crc);
        let line_end = self.generated + bytes.len();
        bytes.extend_from_slice(&body);
        // Its effect, were it to complete, is never applied: it cannot.
        self.request(&bytes, expect, None);
        (line_end, self.generated)
    }

    // -- driving -------------------------------------------------------------

    /// Generates more requests when there is room in the pipeline.
    fn plan(&mut self) {
        while !self.ending
            && self.unsent.len() - self.cursor < 2048
            && self.pending.len() < self.pipeline
        {
            if self.ops_left == 0 {
                self.gen_ending();
            } else {
                self.ops_left -= 1;
                self.gen_op();
            }
        }
    }

    /// Writes one fragment. Returns whether bytes moved.
    fn send(&mut self, shared: &mut Shared) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        let mut left = self.unsent.len() - self.cursor;
        if let Some((at, _)) = self.stop {
            left = left.min(at - self.written);
        }
        if left == 0 || self.sending_done {
            return false;
        }
        let want = *self.next_fragment.get_or_insert_with(|| {
            let rng = &mut self.frag_rng;
            match rng.below(100) {
                0..25 => rng.range(1, 8),
                25..50 => rng.range(1, 300),
                50..90 => rng.range(1, 8192),
                _ => rng.range(1, 65_536),
            }
        });
        let chunk = &self.unsent[self.cursor..self.cursor + want.min(left)];
        match (&*stream).write(chunk) {
            Ok(n) => {
                self.next_fragment = None;
                self.cursor += n;
                self.written += n;
                if self.cursor > 1 << 20 || self.cursor == self.unsent.len() {
                    self.unsent.drain(..self.cursor);
                    self.cursor = 0;
                }
                while let Some((end, _, _)) = self.shared_unsent.front() {
                    if *end > self.written {
                        break;
                    }
                    let (_, name, content) = self.shared_unsent.pop_front().unwrap();
                    match content {
                        Some(content) => shared.sent.entry(name).or_default().push(content),
                        None => _ = shared.deleted.insert(name),
                    }
                }
                true
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => false,
            Err(err)
                if self.fatal
                    && matches!(
                        err.kind(),
                        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                    ) =>
            {
                // The server closed after a fatal error; its answer is
                // still to be read.
                self.sending_done = true;
                true
            }
            Err(err) => self.fail(&format!("write failed: {err}")),
        }
    }

    /// Carries out a stop that is due. Returns whether anything happened.
    fn maybe_stop(&mut self, shared: &mut Shared, outcomes: &mut Outcomes) -> bool {
        let Some((at, stop)) = self.stop else {
            return false;
        };
        if self.written < at {
            return false;
        }
        match stop {
            Stop::HalfClose => {
                if let Err(err) = self.stream.as_ref().unwrap().shutdown(Shutdown::Write) {
                    self.fail(&format!("half-close failed: {err}"));
                }
                self.stop = None;
                self.sending_done = true;
            }
            Stop::Close => self.abandon(false, shared, outcomes),
            Stop::Reset => self.abandon(true, shared, outcomes),
            Stop::CloseWhenAnswered | Stop::ResetWhenAnswered => {
                if !self.pending.is_empty() {
                    return false;
                }
                self.abandon(stop == Stop::ResetWhenAnswered, shared, outcomes);
            }
        }
        true
    }

    /// Closes (or resets) without reading further answers, and records what
    /// the unanswered requests may or may not have done.
    fn abandon(&mut self, reset: bool, shared: &mut Shared, outcomes: &mut Outcomes) {
        let stream = self.stream.take().unwrap();
        if reset {
            rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO))
                .expect("SO_LINGER");
        }
        drop(stream);
        // The server runs requests in order, so it ran some prefix of the
        // unanswered ones that were sent completely.
        let mut state = self.confirmed.clone();
        let mut possible: BTreeMap<String, Vec<Option<Vec<u8>>>> = self
            .universe()
            .into_iter()
            .map(|name| {
                let now = state.get(&name).cloned();
                (name, vec![now])
            })
            .collect();
        for pending in &self.pending {
            if pending.end > self.written || matches!(pending.expect, Expect::Eof) {
                break;
            }
            if let Expect::SharedPut { name, content } = &pending.expect {
                shared
                    .in_doubt
                    .entry(name.clone())
                    .or_default()
                    .push(content.clone());
            }
            if let Some((name, content)) = &pending.effect {
                match content {
                    Some(content) => state.insert(name.clone(), content.clone()),
                    None => state.remove(name),
                };
                let versions = possible.get_mut(name).unwrap();
                let now = content.clone();
                if !versions.contains(&now) {
                    versions.push(now);
                }
            }
        }
        outcomes.extend(possible);
        self.pending.clear();
        self.finished = true;
    }

    /// Every own name the connection may have touched.
    fn universe(&self) -> Vec<String> {
        OWN_NAMES
            .iter()
            .chain(NEVER_NAMES.iter())
            .map(|leaf| self.name(leaf))
            .collect()
    }

    /// Reads what arrived and checks it. Returns whether bytes moved.
    fn receive(&mut self, shared: &mut Shared, outcomes: &mut Outcomes) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        let mut buf = [0u8; 65_536];
        let mut moved = false;
        let mut eof = false;
        loop {
            match (&*stream).read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    moved = true;
                    self.inbuf.extend_from_slice(&buf[..n]);
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => {
                    self.check(shared);
                    self.fail(&format!("read failed: {err}"));
                }
            }
        }
        self.check(shared);
        if eof {
            if !self.inbuf.is_empty() {
                self.fail(&format!(
                    "the connection ended inside an answer: {}",
                    show(&self.inbuf)
                ));
            }
            match self.pending.front() {
                Some(Pending {
                    expect: Expect::Eof,
                    ..
                }) => {}
                _ => self.fail("the server closed the connection early"),
            }
            self.pending.clear();
            self.stream = None;
            self.finished = true;
            for name in self.universe() {
                let now = self.confirmed.get(&name).cloned();
                outcomes.insert(name, vec![now]);
            }
            return true;
        }
        moved
    }

    /// Consumes every complete answer in `inbuf`.
    fn check(&mut self, shared: &mut Shared) {
        let mut used = 0;
        while let Some(front) = self.pending.front() {
            let input = &self.inbuf[used..];
            if input.is_empty() {
                break;
            }
            match check_answer(&front.expect, input, shared) {
                Check::More => break,
                Check::Bad(why) => {
                    let what = front.what.clone();
                    self.fail(&format!("answer to {what}: {why}"));
                }
                Check::Done(n) => {
                    used += n;
                    self.answered += 1;
                    let done = self.pending.pop_front().unwrap();
                    if let Expect::SharedPut { name, content } = done.expect {
                        shared.acked.entry(name).or_default().push(content);
                    }
                    if let Some((name, content)) = done.effect {
                        match content {
                            Some(content) => self.confirmed.insert(name, content),
                            None => self.confirmed.remove(&name),
                        };
                    }
                }
            }
        }
        self.inbuf.drain(..used);
        if self.pending.is_empty() && !self.inbuf.is_empty() {
            self.fail(&format!("bytes nobody asked for: {}", show(&self.inbuf)));
        }
    }

    /// One turn: read, write a fragment, act on stops, plan more.
    fn step(&mut self, shared: &mut Shared, outcomes: &mut Outcomes, write: bool) -> bool {
        let mut moved = self.receive(shared, outcomes);
        if self.finished {
            return moved;
        }
        self.plan();
        if write {
            moved |= self.send(shared);
        }
        moved |= self.maybe_stop(shared, outcomes);
        moved
    }
}

/// An `OK` answer with these leading fields and this body.
fn ok(fields: &[&dyn std::fmt::Display], body: &[u8]) -> Expect {
    Expect::Ok {
        fields: fields.iter().map(|f| f.to_string()).collect(),
        body: body.to_vec(),
    }
}

fn code_list(code: u16) -> &'static [u16] {
    match code {
        400 => &[400],
        403 => &[403],
        other => panic!("no list for {other}"),
    }
}

enum Check {
    /// The answer is not complete yet.
    More,
    /// The answer was right and used this many bytes.
    Done(usize),
    /// The answer was wrong.
    Bad(String),
}

/// Checks the answer at the front of `input` against `expect`.
fn check_answer(expect: &Expect, input: &[u8], shared: &Shared) -> Check {
    if let Expect::Eof = expect {
        return Check::Bad(format!(
            "expected the connection to close, got {}",
            show(input)
        ));
    }
    let Some(newline) = input.iter().position(|&b| b == b'\n') else {
        if input.len() > 4096 {
            return Check::Bad(format!("answer line too long: {}", show(input)));
        }
        return Check::More;
    };
    let raw = &input[..newline];
    if !raw.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Check::Bad(format!("answer line is not printable ASCII: {}", show(raw)));
    }
    let line = std::str::from_utf8(raw).unwrap();
    let start = newline + 1;
    let body = |len: u64| -> Option<&[u8]> {
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        input.get(start..end)
    };
    let bad = |what: &str| Check::Bad(format!("{what}, got {line:?}"));
    match expect {
        Expect::Eof => unreachable!(),
        Expect::Ok { fields, body: want } => {
            let got: Option<Vec<&str>> = ok_fields(line);
            let leading = got.as_ref().and_then(|got| got.get(..fields.len()));
            if leading.is_none_or(|leading| leading != fields.as_slice()) {
                let mut wanted = String::from("OK");
                for field in fields {
                    wanted = wanted + " " + field;
                }
                return bad(&format!("expected {wanted:?}"));
            }
            let arrived = &input[start..input.len().min(start + want.len())];
            if arrived != &want[..arrived.len()] {
                return Check::Bad(format!(
                    "after {line:?}, expected {}, got {}",
                    show(want),
                    show(arrived)
                ));
            }
            if arrived.len() == want.len() {
                Check::Done(start + want.len())
            } else {
                Check::More
            }
        }
        Expect::Err(codes) => match err_fields(line) {
            Some((code, _)) if codes.contains(&code) => Check::Done(start),
            _ => bad(&format!("expected ERR {codes:?}")),
        },
        Expect::Stat(size) => match ok_fields(line).as_deref() {
            Some([s, mtime, ..]) if decimal(s) == Some(*size) && signed(mtime).is_some() => {
                Check::Done(start)
            }
            _ => bad(&format!("expected OK {size} <mtime>")),
        },
        Expect::List { prefix, own, files } => {
            let Some(len) = ok_fields(line).as_deref().and_then(|f| match f {
                [n, ..] => decimal(n),
                _ => None,
            }) else {
                return bad("expected OK <n>");
            };
            let Some(listing) = body(len) else {
                return Check::More;
            };
            match check_listing(listing, prefix, own, files, shared) {
                Ok(()) => Check::Done(start + len as usize),
                Err(why) => Check::Bad(format!("listing for {prefix:?}: {why}")),
            }
        }
        Expect::SharedPut { content, .. } => {
            let want = [content.len().to_string(), crc_hex(content)];
            if ok_fields(line).is_some_and(|f| f.get(..2).is_some_and(|f| f == want)) {
                Check::Done(start)
            } else {
                bad("expected OK <size> <crc> for a shared name")
            }
        }
        Expect::SharedGet {
            name,
            offset,
            length,
        } => {
            let versions = shared.sent(name);
            if let Some((code, message)) = err_fields(line) {
                let too_short =
                    |size: u64| size < *offset && versions.iter().any(|v| v.len() as u64 == size);
                return match code {
                    404 => Check::Done(start),
                    416 if message
                        .strip_prefix("offset past the end (")
                        .and_then(|m| m.strip_suffix(" bytes)"))
                        .and_then(decimal)
                        .is_some_and(too_short) =>
                    {
                        Check::Done(start)
                    }
                    _ => bad("expected a shared file, 404 or 416"),
                };
            }
            let Some((n, total)) = ok_fields(line).as_deref().and_then(|f| match f {
                [n, total, ..] => Some((decimal(n)?, decimal(total)?)),
                _ => None,
            }) else {
                return bad("expected OK <n> <total>");
            };
            if *offset > total || n != (total - offset).min(length.unwrap_or(u64::MAX)) {
                return bad(&format!(
                    "wrong length for offset {offset} length {length:?}"
                ));
            }
            let Some(got) = body(n) else {
                return Check::More;
            };
            let from = *offset as usize;
            let matches = versions
                .iter()
                .any(|v| v.len() as u64 == total && v[from..from + n as usize] == *got);
            if matches {
                Check::Done(start + n as usize)
            } else {
                Check::Bad(format!(
                    "{name}: {} is no version ever sent ({} sent)",
                    show(got),
                    versions.len()
                ))
            }
        }
        Expect::SharedStat { name } => {
            if err_fields(line).is_some_and(|(code, _)| code == 404) {
                return Check::Done(start);
            }
            let sizes: Vec<u64> = shared.sent(name).iter().map(|v| v.len() as u64).collect();
            match ok_fields(line).as_deref() {
                Some([size, mtime, ..])
                    if decimal(size).is_some_and(|s| sizes.contains(&s))
                        && signed(mtime).is_some() =>
                {
                    Check::Done(start)
                }
                _ => bad(&format!("expected OK <one of {sizes:?}> <mtime> or 404")),
            }
        }
        Expect::SharedDel => {
            if ok_fields(line).is_some() || err_fields(line).is_some_and(|(code, _)| code == 404) {
                Check::Done(start)
            } else {
                bad("expected OK or ERR 404")
            }
        }
    }
}

/// Checks a LIST body: well-formed, sorted, only names that can exist,
/// and exactly `files` below `own`.
fn check_listing(
    listing: &[u8],
    prefix: &str,
    own: &str,
    files: &[(String, u64)],
    shared: &Shared,
) -> Result<(), String> {
    let text = std::str::from_utf8(listing).map_err(|_| "not UTF-8".to_string())?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("does not end with a newline".into());
    }
    let mut mine = Vec::new();
    let mut previous: Option<String> = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(size), Some(mtime), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("bad line {line:?}"));
        };
        let (Some(size), Some(_)) = (decimal(size), signed(mtime)) else {
            return Err(format!("bad line {line:?}"));
        };
        let name = ferry::name::percent_decode(encoded.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("bad name in {line:?}"))?;
        if encoded.contains(' ') || name.chars().any(char::is_control) {
            return Err(format!("badly encoded name in {line:?}"));
        }
        if !name.starts_with(prefix) {
            return Err(format!("{name:?} does not start with the prefix"));
        }
        if name.split('/').any(|s| s.starts_with(".ferry-")) {
            return Err(format!("temp file {name:?} listed"));
        }
        if previous
            .as_ref()
            .is_some_and(|p| p.as_bytes() >= name.as_bytes())
        {
            return Err(format!("not sorted at {name:?}"));
        }
        previous = Some(name.clone());
        if name.starts_with(own) {
            mine.push((name, size));
        } else if let Some(&(_, len)) = PRE_FILES.iter().find(|(n, _)| *n == name) {
            if size != len as u64 {
                return Err(format!("{name:?} has {size} bytes, not {len}"));
            }
        } else if SHARED_NAMES.contains(&name.as_str()) {
            if !shared.sent(&name).iter().any(|v| v.len() as u64 == size) {
                return Err(format!("{name:?} with a size no version had: {size}"));
            }
        } else if !is_connection_name(&name) {
            return Err(format!("{name:?} was never uploaded"));
        }
    }
    if mine != files {
        return Err(format!("expected {files:?} below {own:?}, got {mine:?}"));
    }
    Ok(())
}

/// Whether `name` can belong to some connection's name space.
fn is_connection_name(name: &str) -> bool {
    let Some((dir, leaf)) = name.split_once('/') else {
        return false;
    };
    dir.len() == 4
        && dir.starts_with('c')
        && dir[1..].bytes().all(|b| b.is_ascii_digit())
        && OWN_NAMES.contains(&leaf)
}

// ---------------------------------------------------------------------------
// Checks on the disk

/// Temp files and empty directories below `root` (relative paths).
fn leftovers(root: &Path) -> (Vec<String>, Vec<String>) {
    fn walk(root: &Path, dir: &Path, temps: &mut Vec<String>, empty: &mut Vec<String>) {
        let mut entries = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if dir == root
                && [".ferry-nodes", ".ferry-dav"]
                    .contains(&entry.file_name().to_str().unwrap_or_default())
            {
                continue; // the nodes' locks and journals, WebDAV's locks: not leftovers
            }
            entries += 1;
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if entry.file_name().to_string_lossy().starts_with(".ferry-") {
                temps.push(relative.clone());
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, temps, empty);
            }
        }
        if entries == 0 && dir != root {
            empty.push(
                dir.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let (mut temps, mut empty) = (Vec::new(), Vec::new());
    walk(root, root, &mut temps, &mut empty);
    (temps, empty)
}

fn fetch(client: &mut ferry::Client, name: &str) -> Option<Vec<u8>> {
    match client.get_bytes(name) {
        Ok(content) => Some(content),
        Err(ClientError::Remote { code: 404, .. }) => None,
        Err(err) => panic!("GET {name:?} after the storm: {err}"),
    }
}

fn describe(version: &Option<Vec<u8>>) -> String {
    match version {
        None => "absent".to_string(),
        Some(content) => format!("{} bytes, crc {}", content.len(), crc_hex(content)),
    }
}

// ---------------------------------------------------------------------------
// The test

/// A fatal error in a request that arrived together with a GET is found
/// only after the download, in input the server already holds; it must
/// still be answered (and the connection closed) without the client sending
/// anything more.
#[test]
fn a_fatal_error_pipelined_behind_a_download_is_still_answered() {
    // A short idle timeout turns a hang into a quick, clear failure.
    let server = TestServer::start_with(|c| c.idle_timeout = Duration::from_secs(3));
    server.client().put_bytes("file", b"hello").unwrap();
    for (garbage, code) in [("HELLO\n".to_string(), 400), ("a".repeat(5000), 431)] {
        let mut raw = server.raw();
        raw.send(format!("GET file\n{garbage}")); // one write: held during the GET
        let line = raw.line();
        assert!(line.starts_with("OK 5 5"), "{line:?}");
        assert_eq!(raw.bytes(5), b"hello");
        // BUG: the server queues this ERR line but then waits for more input
        // instead of sending it (Connection::pump_input treats "0 bytes
        // used" as "need more" even though the state changed to Done), so
        // the client hangs until the idle timeout closes the connection
        // silently.
        let line = raw.line();
        assert!(line.starts_with(&format!("ERR {code} ")), "{line:?}");
        raw.expect_closed();
    }
}

/// Waits (boundedly) until `dir` below the root holds `n` temp files.
fn wait_for_temp_files(server: &TestServer, dir: &str, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let temps = std::fs::read_dir(server.path(dir)).map_or(0, |entries| {
            entries
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with(".ferry-")
                })
                .count()
        });
        if temps == n {
            return;
        }
        assert!(Instant::now() < deadline, "{dir} never held {n} temp files");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Two uploads into a directory that did not exist, the one that created it
/// failing first (while the other's temp file is still in it), then the
/// other: no directory may be left behind.
#[test]
fn interleaved_failed_uploads_into_a_new_directory_leave_no_empty_directory() {
    let server = TestServer::start();
    let body = b"0123456789";
    let wrong = format!("{:08x}", crc32c::crc32c(body) ^ 1);
    let mut creator = server.raw();
    creator.send(format!("PUT fresh/dir/one 10 {wrong}\n01234"));
    wait_for_temp_files(&server, "fresh/dir", 1); // it created fresh/dir
    let mut joiner = server.raw();
    joiner.send(format!("PUT fresh/dir/two 10 {wrong}\n01234"));
    wait_for_temp_files(&server, "fresh/dir", 2);
    creator.send("56789");
    assert!(creator.line().starts_with("ERR 422 "));
    joiner.send("56789");
    assert!(joiner.line().starts_with("ERR 422 "));
    let (temps, empty) = leftovers(server.root.path());
    assert!(temps.is_empty(), "temp files left: {temps:?}");
    // BUG: each upload removes only the directories it created itself: the
    // creator could not remove fresh/dir (the joiner's temp file was in it)
    // and the joiner created nothing, so fresh/dir and fresh stay behind,
    // empty. (PROTOCOL.md §10.3 still documents this as a caveat;
    // storage/posix/jail.rs promises that "a failed upload leaves no empty directories
    // behind".)
    assert!(empty.is_empty(), "empty directories left behind: {empty:?}");
}

#[test]
fn hundreds_of_abusive_connections_leave_the_server_consistent() {
    let seed = std::env::var("FERRY_ABUSE_SEED")
        .ok()
        .map(|s| s.parse().expect("FERRY_ABUSE_SEED must be a number"))
        .unwrap_or(DEFAULT_SEED);
    // Every connection comes from 127.0.0.1: one client, as far as the
    // per-address cap goes.
    let server = TestServer::start_with(|c| {
        c.max_connections_per_client = 0;
        c.max_walks_per_client = 0;
    });
    {
        let mut client = server.client();
        for (name, len) in PRE_FILES {
            client.put_bytes(name, &pre_content(len)).unwrap();
        }
    }

    let mut conns: Vec<Conn> = (0..CONNECTIONS)
        .map(|index| Conn::open(&server, index, seed))
        .collect();
    let ids: BTreeSet<u64> = conns.iter().map(|c| c.client_id).collect();
    assert_eq!(ids.len(), CONNECTIONS, "client ids are not unique");

    let mut shared = Shared::default();
    let mut outcomes = Outcomes::new();
    let mut order = Rng::new(seed);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut active: Vec<usize> = (0..CONNECTIONS).collect();
    while !active.is_empty() {
        // A fresh random order each round interleaves the connections.
        for i in (1..active.len()).rev() {
            active.swap(i, order.below(i + 1));
        }
        let mut moved = false;
        for &index in &active {
            let write = order.percent(75);
            moved |= conns[index].step(&mut shared, &mut outcomes, write);
        }
        active.retain(|&index| !conns[index].finished);
        if moved {
            last_progress = Instant::now();
        } else if last_progress.elapsed() > PATIENCE {
            // BUG: connections stuck waiting for the answer to a garbage or
            // overlong line are the bug shown by
            // a_fatal_error_pipelined_behind_a_download_is_still_answered.
            let stuck: Vec<String> = active
                .iter()
                .map(|&i| {
                    let c = &conns[i];
                    format!(
                        "connection {i} (id {}): written {}/{}, waiting for {:?}",
                        c.client_id,
                        c.written,
                        c.generated,
                        c.pending.front().map(|p| &p.what)
                    )
                })
                .collect();
            panic!("no progress for {PATIENCE:?} (seed {seed:#x}); stuck: {stuck:#?}");
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let storm = started.elapsed();

    // The server is alive and answers.
    let mut client = server.client();
    assert_eq!(client.echo(b"still there?").unwrap(), b"still there?");
    client.put_bytes("after/alive", b"yes").unwrap();
    assert_eq!(client.get_bytes("after/alive").unwrap(), b"yes");
    client.delete("after/alive").unwrap();

    // Connections that were reset or closed are cleaned up soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (temps, empty_dirs) = loop {
        let (temps, empty) = leftovers(server.root.path());
        if (temps.is_empty() && empty.is_empty()) || Instant::now() > deadline {
            break (temps, empty);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(temps.is_empty(), "temp files left behind: {temps:?}");
    assert!(
        empty_dirs.is_empty(),
        "empty directories left behind (seed {seed:#x}): {empty_dirs:?}"
    );

    // Every name of every connection holds what the model allows.
    let mut present: BTreeMap<String, u64> = BTreeMap::new();
    for (name, possible) in &outcomes {
        let actual = fetch(&mut client, name);
        assert!(
            possible.contains(&actual),
            "{name:?} is {}, but may only be one of {:?} (seed {seed:#x})",
            describe(&actual),
            possible.iter().map(describe).collect::<Vec<_>>()
        );
        match &actual {
            Some(content) => {
                present.insert(name.clone(), content.len() as u64);
            }
            None => match client.stat(name) {
                Err(ClientError::Remote { code: 404, .. }) => {}
                other => panic!("STAT of absent {name:?}: {other:?}"),
            },
        }
    }
    assert_eq!(
        outcomes.len(),
        CONNECTIONS * (OWN_NAMES.len() + NEVER_NAMES.len())
    );

    // Shared names hold one of the versions acknowledged (or sent on a
    // connection that ended before the answer), or nothing if deleted.
    for name in SHARED_NAMES {
        let actual = fetch(&mut client, name);
        let acked = shared.acked.get(name).map_or(&[][..], Vec::as_slice);
        let in_doubt = shared.in_doubt.get(name).map_or(&[][..], Vec::as_slice);
        match &actual {
            Some(content) => {
                assert!(
                    acked.contains(content) || in_doubt.contains(content),
                    "{name:?} holds a version never acknowledged: {}",
                    show(content)
                );
                present.insert(name.to_string(), content.len() as u64);
            }
            None => assert!(
                (acked.is_empty() && in_doubt.is_empty()) || shared.deleted.contains(name),
                "{name:?} vanished: {} versions acknowledged, never deleted",
                acked.len()
            ),
        }
    }

    // Files that existed before are untouched.
    for (name, len) in PRE_FILES {
        assert!(
            fetch(&mut client, name) == Some(pre_content(len)),
            "{name} changed"
        );
        present.insert(name.to_string(), len as u64);
    }

    // LIST shows exactly the files that are there, and so does the disk.
    let listed: BTreeMap<String, u64> = client
        .list("")
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.size))
        .collect();
    assert_eq!(listed, present, "LIST after the storm");
    let on_disk: Vec<String> = present.keys().cloned().collect();
    assert_eq!(server.settled_files_on_disk(), on_disk);

    let mut endings: BTreeMap<&str, usize> = BTreeMap::new();
    for conn in &conns {
        *endings.entry(conn.ended).or_default() += 1;
    }
    let uncertain = outcomes.values().filter(|v| v.len() > 1).count();
    println!(
        "{CONNECTIONS} connections, seed {seed:#x}: storm {storm:.2?}, {} bytes sent, \
         {} answers checked, {} files left, {} shared versions acknowledged, \
         {uncertain} names with an uncertain outcome; endings: {endings:?}",
        conns.iter().map(|c| c.written).sum::<usize>(),
        conns.iter().map(|c| c.answered).sum::<usize>(),
        present.len(),
        shared.acked.values().map(Vec::len).sum::<usize>()
    );
    drop(client);
    server.stop().unwrap();
}
