//! Invariants of the FERRY/1 parsers, written once and checked twice: by the
//! cargo-fuzz targets in `fuzz_targets/` and by `tests/protocol/properties.rs`
//! (which includes this file with `#[path]`), so the fuzzers and the proptest
//! suite hold the code to exactly the same rules.
//!
//! Every check panics on a violation (libFuzzer keeps the input as a crash,
//! proptest shrinks it). Besides fixed invariants (no panic, byte counts
//! within the input and the cap, names that cannot leave the root) the checks
//! compare the code with a small *reference* written from PROTOCOL.md §3 and
//! §5 alone, so that a line or name the spec refuses cannot slip through and
//! a valid one cannot be refused. The resumable-upload verbs (`UPLOAD`,
//! `APPEND`, `COMMIT`, `ABORT`) follow the grammar documented on
//! `ferry::protocol::Request`: a session id is 16 lower-case hex digits, and
//! a bad one is refused like a bad name (400, connection kept, an `APPEND`
//! body discarded).

use std::path::{Component, Path};

use ferry::name::{MAX_NAME, MAX_SEGMENT, Name, NameError, Prefix, RESERVED_PREFIX, encode};
use ferry::protocol::{
    LINKS_BUILT, LinkTerms, MAX_HEADER, ProtocolError, Recovery, Request, error_code, parse_request,
};

/// The HTTP parsers' checks. `tests/protocol/properties.rs` includes this
/// file, and so `http.rs`, but calls none of them: unused there is not dead.
/// `tests/http/properties.rs` includes `http.rs` on its own, where unused
/// code is still reported.
#[allow(dead_code)]
pub mod http;

/// A root to join names onto; only ever used as a path, never touched.
const ROOT: &str = "/srv/ferry-root";

/// Feeds `input` to [`parse_request`] and checks its answer.
///
/// - no panic; `Ok(None)` only for fewer than `MAX_HEADER` bytes and no line;
/// - a request uses exactly its first line (blank lines before it included):
///   `used <= input.len()`, `used <= MAX_HEADER`, `input[used - 1] == LF`;
/// - `431` exactly when `MAX_HEADER` bytes hold no LF after the leading run
///   of blank-line bytes (PROTOCOL.md §3.2: that run counts towards the cap,
///   so 4096 LFs are a 431 although they contain newlines);
/// - the answer (request, or code and recovery) is what the spec's grammar
///   gives for that line, and every name in it satisfies [`check_valid_name`];
/// - the request written by [`Request::encode`] (the client's encoder)
///   parses back to itself, and cutting the input at the end of the line,
///   or one byte before, gives the same answer, or "need more".
pub fn check_parse_request(input: &[u8]) {
    let result = parse_request(input);
    let window = &input[..input.len().min(MAX_HEADER)];
    let blank = window
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    // End of the first non-blank line (its LF included), if it is complete
    // within the cap.
    let line_end = window[blank..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| blank + at + 1);

    let Some(end) = line_end else {
        if input.len() >= MAX_HEADER {
            let err = result.expect_err("a full window without LF must be refused");
            assert_eq!(
                (err.code, err.recovery),
                (431, Recovery::Close),
                "{} bytes without a line",
                input.len()
            );
            check_message(&err);
        } else {
            assert_eq!(result, Ok(None), "no complete line yet");
        }
        return;
    };
    assert!(end <= input.len() && end <= MAX_HEADER && input[end - 1] == b'\n');

    let mut line = &input[blank..end - 1];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    match (&result, reference_line(line)) {
        (Ok(Some((request, used))), Expected::Request(want)) => {
            assert_eq!(*used, end, "a request must use exactly its line");
            assert!(*used <= input.len() && *used <= MAX_HEADER);
            assert_eq!(request, &want);
            check_request(request);
            let mut canonical = Vec::new();
            request.encode(&mut canonical);
            assert_eq!(
                parse_request(&canonical),
                Ok(Some((request.clone(), canonical.len()))),
                "canonical form {:?} does not parse back",
                String::from_utf8_lossy(&canonical)
            );
        }
        (Err(err), Expected::Unparseable) => {
            assert_eq!((err.code, err.recovery), (400, Recovery::Close), "{err}");
            check_message(err);
        }
        (Err(err), Expected::Unbuilt) => {
            let recovery = Recovery::Skip { line: end, body: 0 };
            assert_eq!((err.code, err.recovery), (501, recovery), "{err}");
            check_message(err);
        }
        (Err(err), Expected::BadName { verdict, body }) => {
            // A body of unknown length cannot be skipped: closed on.
            let recovery = body.map_or(Recovery::Close, |body| Recovery::Skip { line: end, body });
            assert_eq!(err.recovery, recovery, "{err}");
            assert!(
                verdict.allows(Err(err.code)),
                "line {line:?} refused with {err} but the spec says {verdict:?}"
            );
            check_message(err);
        }
        (got, want) => panic!("line {line:?}: parse_request gave {got:?}, the spec {want:?}"),
    }

    // Nothing after the line matters, and the line is not complete before
    // its LF.
    assert_eq!(parse_request(&input[..end]), result, "bytes after the line");
    assert_eq!(parse_request(&input[..end - 1]), Ok(None), "cut before LF");
}

/// Feeds `input` to [`Name::decode`] and checks its answer: it accepts exactly
/// what PROTOCOL.md §5 accepts, with the right error code, and every accepted
/// name satisfies [`check_valid_name`] and is the decoded input.
pub fn check_name(input: &[u8]) {
    let verdict = name_verdict(input);
    match Name::decode(input) {
        Ok(name) => {
            assert!(
                verdict.allows(Ok(())),
                "{input:?} accepted as {name:?} but the spec says {verdict:?}"
            );
            assert_eq!(
                reference_decode(input).as_deref(),
                Some(name.as_str().as_bytes())
            );
            check_valid_name(&name);
        }
        Err(err) => {
            assert!(
                verdict.allows(Err(error_code(err.into()))),
                "{input:?} refused with {err:?} but the spec says {verdict:?}"
            );
            check_decode_error(input, err);
        }
    }
}

/// Feeds `input` to [`Prefix::decode`] and checks its answer the same way
/// (PROTOCOL.md §5.5), and every accepted prefix with [`check_valid_prefix`].
pub fn check_prefix(input: &[u8]) {
    let verdict = prefix_verdict(input);
    match Prefix::decode(input) {
        Ok(prefix) => {
            assert!(
                verdict.allows(Ok(())),
                "{input:?} accepted as {prefix:?} but the spec says {verdict:?}"
            );
            assert_eq!(
                reference_decode(input).as_deref(),
                Some(prefix.as_str().as_bytes())
            );
            check_valid_prefix(&prefix);
        }
        Err(err) => {
            assert!(
                verdict.allows(Err(error_code(err.into()))),
                "{input:?} refused with {err:?} but the spec says {verdict:?}"
            );
            check_decode_error(input, err);
        }
    }
}

/// What every accepted [`Name`] must be: 1..=1024 bytes, no control
/// characters, segments of 1..=255 bytes that are not `.`, `..` or reserved;
/// its encoding decodes back to it, and its segments joined beneath a root
/// stay there as plain components.
pub fn check_valid_name(name: &Name) {
    let text = name.as_str();
    assert!((1..=MAX_NAME).contains(&text.len()), "{name:?}: length");
    assert!(!text.chars().any(is_control), "{name:?}: control character");
    let segments: Vec<&str> = text.split('/').collect();
    for segment in &segments {
        assert_eq!(
            segment_verdict(segment),
            Verdict::OK,
            "{name:?}: {segment:?}"
        );
    }

    let encoded = name.encoded();
    assert!(
        !encoded.bytes().any(|b| b == b' ' || b.is_ascii_control()),
        "{name:?}: encoding {encoded:?} is not one token"
    );
    assert_eq!(Name::decode(encoded.as_bytes()).as_ref(), Ok(name));
    assert_eq!(Name::new(text.to_owned()).as_ref(), Ok(name));

    // What storage walks: the directories, then the leaf.
    let (dirs, leaf) = name.split_parent();
    let walked: Vec<&str> = dirs.chain([leaf]).collect();
    assert_eq!(walked, segments, "{name:?}: split_parent");

    assert_beneath_root(&segments);
    let whole = Path::new(ROOT).join(text);
    let mut joined = Path::new(ROOT).to_path_buf();
    for segment in &segments {
        joined = joined.join(segment);
    }
    assert_eq!(whole, joined, "{name:?}: joined whole vs by segment");
}

/// What every accepted [`Prefix`] must be: at most 1024 bytes (a
/// folder's, a name and its `/`, one more), no control characters, a
/// directory part of valid segments (which `dir_segments` yields and which
/// stay beneath a root), and an encoding that decodes back.
pub fn check_valid_prefix(prefix: &Prefix) {
    let text = prefix.as_str();
    let longest = MAX_NAME + usize::from(text.ends_with('/'));
    assert!(text.len() <= longest, "{prefix:?}: length");
    assert!(
        !text.chars().any(is_control),
        "{prefix:?}: control character"
    );
    let dir: Vec<&str> = match text.rfind('/') {
        Some(at) => text[..at].split('/').collect(),
        None => Vec::new(),
    };
    for segment in &dir {
        assert_eq!(
            segment_verdict(segment),
            Verdict::OK,
            "{prefix:?}: {segment:?}"
        );
    }
    assert_eq!(prefix.dir_segments().collect::<Vec<_>>(), dir, "{prefix:?}");
    assert_beneath_root(&dir);
    // A folder's prefix past the longest name comes back as its folder's.
    let decoded = match text.strip_suffix('/').filter(|_| text.len() > MAX_NAME) {
        Some(folder) => Name::decode(encode(folder).as_bytes()).map(|n| Prefix::of_folder(&n)),
        None => Prefix::decode(encode(text).as_bytes()),
    };
    assert_eq!(decoded.as_ref(), Ok(prefix), "{prefix:?}: encode/decode");
}

fn check_request(request: &Request) {
    match request {
        Request::Put { name, .. }
        | Request::PutStream { name, .. }
        | Request::Get { name, .. }
        | Request::Stat { name }
        | Request::Del { name }
        | Request::Upload { name, .. } => check_valid_name(name),
        Request::List { prefix } => check_valid_prefix(prefix),
        Request::Move { from, to } => {
            check_valid_name(from);
            check_valid_name(to);
        }
        Request::Dir { folder } | Request::DelFolder { folder } | Request::Df { folder } => {
            check_valid_prefix(folder);
            let text = folder.as_str();
            assert!(text.is_empty() || text.ends_with('/'), "{folder:?}");
        }
        Request::Append { id, .. } | Request::Commit { id, .. } | Request::Abort { id } => {
            assert!(is_session_id(id.as_bytes()), "bad session id {id:?}");
        }
        Request::Auth { token } => {
            let token = token.expose();
            assert!(!token.is_empty() && token.len() <= ferry::protocol::MAX_TOKEN);
            assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
        }
        Request::Share { name, terms } => {
            check_valid_name(name);
            check_link_terms(terms);
        }
        Request::ShareFolder { folder, terms } => {
            check_valid_prefix(folder);
            let text = folder.as_str();
            assert!(text.is_empty() || text.ends_with('/'), "{folder:?}");
            check_link_terms(terms);
        }
        Request::Unshare { id } => assert!(is_link_id(id.as_bytes()), "bad link id {id:?}"),
        Request::Echo { .. }
        | Request::Quit
        | Request::Sessions
        | Request::Health
        | Request::Shares => {}
    }
}

/// A `SHARE` line's password, if any, is text and not empty.
fn check_link_terms(terms: &LinkTerms) {
    if let Some(password) = &terms.password {
        assert!(!password.expose().is_empty(), "an empty password");
    }
}

/// An error answer must fit on its one line.
fn check_message(err: &ProtocolError) {
    assert!(!err.message.is_empty(), "{err:?}: empty message");
    assert!(
        !err.message.contains(['\r', '\n']),
        "{err:?}: message breaks the line"
    );
}

/// The cheap-to-tell refusals must be reported as what they are.
fn check_decode_error(input: &[u8], err: NameError) {
    match reference_decode(input) {
        None => assert_eq!(err, NameError::BadEscape, "{input:?}"),
        Some(bytes) if std::str::from_utf8(&bytes).is_err() => {
            assert_eq!(err, NameError::NotUtf8, "{input:?}");
        }
        Some(_) => assert!(
            !matches!(err, NameError::BadEscape | NameError::NotUtf8),
            "{input:?}: {err:?}"
        ),
    }
}

fn assert_beneath_root(segments: &[&str]) {
    let root = Path::new(ROOT);
    let mut path = root.to_path_buf();
    for segment in segments {
        path = path.join(segment);
    }
    let inside = path
        .strip_prefix(root)
        .unwrap_or_else(|_| panic!("{segments:?} leaves the root: {path:?}"));
    let components: Vec<Component> = inside.components().collect();
    assert!(
        components.iter().all(|c| matches!(c, Component::Normal(_))),
        "{segments:?} gives {components:?}"
    );
    assert_eq!(components.len(), segments.len(), "{segments:?}");
}

// ---------------------------------------------------------------------------
// The reference: PROTOCOL.md §3 and §5 transcribed, independent of src/.

/// Which refusals the spec allows for a name. When a name breaks both a
/// 400 rule and the 403 rule, either code is allowed (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Breaks a rule answered with 400.
    pub bad: bool,
    /// Has a segment starting with `.ferry-` (403).
    pub reserved: bool,
}

impl Verdict {
    const OK: Verdict = Verdict {
        bad: false,
        reserved: false,
    };
    const BAD: Verdict = Verdict {
        bad: true,
        reserved: false,
    };

    fn and(self, other: Verdict) -> Verdict {
        Verdict {
            bad: self.bad || other.bad,
            reserved: self.reserved || other.reserved,
        }
    }

    /// Whether the spec allows this outcome (`Err` holds the code).
    pub fn allows(self, outcome: Result<(), u16>) -> bool {
        match outcome {
            Ok(()) => self == Verdict::OK,
            Err(400) => self.bad,
            Err(403) => self.reserved,
            Err(_) => false,
        }
    }
}

/// The spec's answer to one request line (without CR/LF).
#[derive(Debug)]
enum Expected {
    Request(Request),
    Unparseable,
    /// `body`: what is skipped after the line; `None`: the connection
    /// closes (a stream's length is not known).
    BadName {
        verdict: Verdict,
        body: Option<u64>,
    },
    /// §6.12: a verb of a feature the build leaves out (`501`, the
    /// connection goes on).
    Unbuilt,
}

#[derive(Clone, Copy)]
enum Arg {
    Name,
    Prefix,
    Session,
    Token,
    Number,
    Crc,
    /// `mtime=` and Unix seconds (an i64).
    Mtime,
    /// A CRC, or `-` for one after the body (PUT).
    CrcOrDash,
    /// Exactly this token (`*` and `-` of a streamed PUT).
    Literal(&'static [u8]),
}

/// §3.1/§3.3: syntax first (verb, arity, single spaces, numbers, CRC), then
/// the name.
fn reference_line(line: &[u8]) -> Expected {
    let tokens: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let (verb, args) = tokens.split_first().expect("split yields a token");
    if matches!(*verb, b"SHARE" | b"SHARES" | b"UNSHARE") {
        return reference_link_line(verb, args);
    }
    let (shape, required): (&[Arg], usize) = match *verb {
        // §6.1: a body of unknown length, its CRC in the chunked trailer.
        b"PUT" if args.get(1) == Some(&&b"*"[..]) => (
            &[
                Arg::Name,
                Arg::Literal(b"*"),
                Arg::Literal(b"-"),
                Arg::Mtime,
            ],
            3,
        ),
        // The CRC and the mtime are each optional, in this order.
        b"PUT" if args.len() == 3 && args[2].starts_with(b"mtime=") => {
            (&[Arg::Name, Arg::Number, Arg::Mtime], 2)
        }
        b"PUT" => (&[Arg::Name, Arg::Number, Arg::CrcOrDash, Arg::Mtime], 2),
        b"GET" => (&[Arg::Name, Arg::Number, Arg::Number], 1),
        b"STAT" | b"DEL" => (&[Arg::Name], 1),
        b"LIST" => (&[Arg::Prefix], 0),
        b"DIR" | b"DF" => (&[Arg::Name], 0),
        b"MOVE" => (&[Arg::Name, Arg::Name], 2),
        b"ECHO" => (&[Arg::Number], 1),
        b"UPLOAD" => (&[Arg::Name, Arg::Number, Arg::Crc], 3),
        b"APPEND" => (&[Arg::Session, Arg::Number, Arg::Number], 3),
        b"COMMIT" => (&[Arg::Session, Arg::Mtime], 1),
        b"ABORT" => (&[Arg::Session], 1),
        b"QUIT" | b"SESSIONS" | b"HEALTH" => (&[], 0),
        b"AUTH" => (&[Arg::Token], 1),
        _ => return Expected::Unparseable,
    };
    if args.len() < required || args.len() > shape.len() {
        return Expected::Unparseable;
    }
    // §6.5.1: a name and a `/` is the folder with all it holds; `/` the root.
    if *verb == b"DEL"
        && let Some(folder) = args[0].strip_suffix(b"/")
    {
        if folder.is_empty() {
            return Expected::Request(Request::DelFolder {
                folder: Prefix::root(),
            });
        }
        let verdict = name_verdict(folder);
        if verdict != Verdict::OK {
            return Expected::BadName {
                verdict,
                body: Some(0),
            };
        }
        let name = Name::decode(folder).expect("the spec accepts this name");
        return Expected::Request(Request::DelFolder {
            folder: Prefix::of_folder(&name),
        });
    }
    let mut numbers = Vec::new();
    let mut crc = None;
    let mut mtime = None;
    let mut crc_follows = false;
    let mut streamed = false;
    let mut name_token: &[u8] = b"";
    let mut names: Vec<&[u8]> = Vec::new();
    for (arg, kind) in args.iter().zip(shape) {
        match kind {
            Arg::Name | Arg::Prefix | Arg::Session | Arg::Token if arg.is_empty() => {
                return Expected::Unparseable;
            }
            Arg::Name => names.push(arg),
            Arg::Prefix | Arg::Session | Arg::Token => name_token = arg,
            Arg::Number => match reference_number(arg) {
                Some(n) => numbers.push(n),
                None => return Expected::Unparseable,
            },
            Arg::Crc => match reference_crc(arg) {
                Some(c) => crc = Some(c),
                None => return Expected::Unparseable,
            },
            Arg::Literal(token) if *arg == *token => streamed = true,
            Arg::Literal(_) => return Expected::Unparseable,
            Arg::CrcOrDash if *arg == b"-" => crc_follows = true,
            Arg::CrcOrDash => match reference_crc(arg) {
                Some(c) => crc = Some(c),
                None => return Expected::Unparseable,
            },
            Arg::Mtime => match arg
                .strip_prefix(b"mtime=")
                .and_then(reference_number)
                .and_then(|t| i64::try_from(t).ok())
            {
                Some(t) => mtime = Some(t),
                None => return Expected::Unparseable,
            },
        }
    }

    if let Some(first) = names.first() {
        name_token = first;
    }
    let is_list = *verb == b"LIST";
    let verdict = match shape.first() {
        // Only DIR's and DF's name is optional: left out, it is the root.
        Some(Arg::Name) if args.is_empty() => Verdict::OK,
        // MOVE's two names are checked in order: the first bad one decides.
        Some(Arg::Name) => names
            .iter()
            .map(|token| name_verdict(token))
            .find(|verdict| *verdict != Verdict::OK)
            .unwrap_or(Verdict::OK),
        Some(Arg::Prefix) => prefix_verdict(name_token),
        Some(Arg::Session) if !is_session_id(name_token) => Verdict::BAD,
        // §6.9: 1 to 256 visible ASCII bytes.
        Some(Arg::Token)
            if name_token.len() > 256 || !name_token.iter().all(u8::is_ascii_graphic) =>
        {
            Verdict::BAD
        }
        _ => Verdict::OK,
    };
    if verdict != Verdict::OK {
        // The body a refused line announces is still discarded.
        let body = match *verb {
            b"PUT" if streamed => None,
            // §6.1: with its trailer.
            b"PUT" if crc_follows => Some(numbers[0].saturating_add(13)),
            b"PUT" => Some(numbers[0]),
            b"APPEND" => Some(numbers[1]),
            _ => Some(0),
        };
        return Expected::BadName { verdict, body };
    }
    if is_list {
        let prefix = Prefix::decode(name_token).expect("the spec accepts this prefix");
        return Expected::Request(Request::List { prefix });
    }
    let name = || Name::decode(name_token).expect("the spec accepts this name");
    let id = || String::from_utf8(name_token.to_vec()).expect("session ids are ASCII");
    Expected::Request(match *verb {
        b"PUT" if streamed => Request::PutStream {
            name: name(),
            mtime,
        },
        b"PUT" => Request::Put {
            name: name(),
            size: numbers[0],
            crc,
            mtime,
            crc_follows,
        },
        b"GET" => Request::Get {
            name: name(),
            offset: numbers.first().copied().unwrap_or(0),
            length: numbers.get(1).copied(),
        },
        b"STAT" => Request::Stat { name: name() },
        b"DEL" => Request::Del { name: name() },
        b"MOVE" => Request::Move {
            from: name(),
            to: Name::decode(names[1]).expect("the spec accepts this name"),
        },
        // A folder's entries start with its name and a slash, whatever the
        // name's length (PROTOCOL.md 6.10: the folder is a name).
        b"DIR" if args.is_empty() => Request::Dir {
            folder: Prefix::root(),
        },
        b"DIR" => Request::Dir {
            folder: Prefix::of_folder(&name()),
        },
        b"ECHO" => Request::Echo { size: numbers[0] },
        b"UPLOAD" => Request::Upload {
            name: name(),
            size: numbers[0],
            crc: crc.expect("UPLOAD requires a CRC"),
        },
        b"APPEND" => Request::Append {
            id: id(),
            offset: numbers[0],
            len: numbers[1],
        },
        b"COMMIT" => Request::Commit { id: id(), mtime },
        b"ABORT" => Request::Abort { id: id() },
        b"SESSIONS" => Request::Sessions,
        b"HEALTH" => Request::Health,
        b"DF" if args.is_empty() => Request::Df {
            folder: Prefix::root(),
        },
        b"DF" => Request::Df {
            folder: Prefix::of_folder(&name()),
        },
        b"AUTH" => Request::Auth {
            token: ferry::access::Secret::new(id()),
        },
        _ => Request::Quit,
    })
}

/// §6.12: `SHARE`, `SHARES`, `UNSHARE`; in a build without share links,
/// `501` whatever follows the verb. The line's syntax first (mode,
/// the optional `expires=`, `max=`, `password=` in this order, numbers),
/// then the target as `DEL`'s, then the password (UTF-8 once decoded, not
/// empty), then the link id (22 base64url characters).
fn reference_link_line(verb: &[u8], args: &[&[u8]]) -> Expected {
    let bad = |verdict| Expected::BadName {
        verdict,
        body: Some(0),
    };
    if args.iter().any(|arg| arg.is_empty()) {
        return Expected::Unparseable;
    }
    if !LINKS_BUILT {
        return Expected::Unbuilt;
    }
    match (verb, args) {
        (b"SHARES", []) => return Expected::Request(Request::Shares),
        (b"UNSHARE", [id]) if is_link_id(id) => {
            return Expected::Request(Request::Unshare {
                id: String::from_utf8(id.to_vec()).expect("link ids are ASCII"),
            });
        }
        (b"UNSHARE", [_]) => return bad(Verdict::BAD),
        (b"SHARE", [_, _, ..]) if args.len() <= 5 => {}
        _ => return Expected::Unparseable,
    }
    let upload = match args[1] {
        b"read" => false,
        b"upload" => true,
        _ => return Expected::Unparseable,
    };
    let mut rest = &args[2..];
    let mut values = [None, None, None];
    for (value, key) in values
        .iter_mut()
        .zip([&b"expires="[..], b"max=", b"password="])
    {
        if let Some(found) = rest.first().and_then(|token| token.strip_prefix(key)) {
            *value = Some(found);
            rest = &rest[1..];
        }
    }
    if !rest.is_empty() {
        return Expected::Unparseable;
    }
    let [expires, max, password] = values;
    let number = |value: Option<&[u8]>| value.map(|v| reference_number(v).ok_or(()));
    let (Ok(expires), Ok(max_downloads)) = (number(expires).transpose(), number(max).transpose())
    else {
        return Expected::Unparseable;
    };
    let target = args[0];
    let folder = target.strip_suffix(b"/");
    let verdict = match folder {
        Some([]) => Verdict::OK,
        Some(folder) => name_verdict(folder),
        None => name_verdict(target),
    };
    if verdict != Verdict::OK {
        return bad(verdict);
    }
    let password = match password.map(reference_decode) {
        None => None,
        Some(Some(bytes)) if !bytes.is_empty() => match String::from_utf8(bytes) {
            Ok(text) => Some(ferry::access::Secret::new(text)),
            Err(_) => return bad(Verdict::BAD),
        },
        Some(_) => return bad(Verdict::BAD),
    };
    let terms = LinkTerms {
        upload,
        expires,
        max_downloads,
        password,
    };
    Expected::Request(match folder {
        Some([]) => Request::ShareFolder {
            folder: Prefix::root(),
            terms,
        },
        Some(folder) => Request::ShareFolder {
            folder: Prefix::of_folder(&Name::decode(folder).expect("the spec accepts this name")),
            terms,
        },
        None => Request::Share {
            name: Name::decode(target).expect("the spec accepts this name"),
            terms,
        },
    })
}

/// A share link's id: exactly 22 base64url characters.
fn is_link_id(token: &[u8]) -> bool {
    token.len() == 22
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// An upload session id: exactly 16 lower-case hex digits.
fn is_session_id(token: &[u8]) -> bool {
    token.len() == 16 && token.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `1*DIGIT`, at most 2^64 - 1.
fn reference_number(token: &[u8]) -> Option<u64> {
    if token.is_empty() {
        return None;
    }
    token.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// `8HEXDIG`, either case.
fn reference_crc(token: &[u8]) -> Option<u32> {
    if token.len() != 8 {
        return None;
    }
    token
        .iter()
        .try_fold(0u32, |acc, &b| Some((acc << 4) | u32::from(hex(b)?)))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// §5.1: `%XX` is the byte 0xXX, anything else stands for itself, a `%`
/// without two hex digits is refused.
fn reference_decode(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let [hi, lo, after @ ..] = tail else {
                return None;
            };
            out.push((hex(*hi)? << 4) | hex(*lo)?);
            rest = after;
        } else {
            out.push(first);
            rest = tail;
        }
    }
    Some(out)
}

/// C0, DEL and C1 (§5.2 rule 3), spelled out rather than `char::is_control`;
/// and the Unicode direction controls and marks the same rule refuses
/// (embeddings, overrides, isolates, LRM, RLM, ALM), spelled out rather than
/// taken from `name::DIRECTION_CONTROLS`.
fn is_control(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
    )
}

/// Decoding (§5.1) and rules 1 to 3, shared by names and prefixes. A name
/// that cannot be decoded breaks no other rule: decoding comes first.
fn decoded_text(encoded: &[u8]) -> Result<(String, Verdict), Verdict> {
    let bytes = reference_decode(encoded).ok_or(Verdict::BAD)?;
    let text = String::from_utf8(bytes).map_err(|_| Verdict::BAD)?;
    let verdict = Verdict {
        bad: text.len() > MAX_NAME || text.chars().any(is_control),
        reserved: false,
    };
    Ok((text, verdict))
}

/// Rules 5 to 7 for one segment.
fn segment_verdict(segment: &str) -> Verdict {
    Verdict {
        bad: segment.is_empty() || segment.len() > MAX_SEGMENT || segment == "." || segment == "..",
        reserved: segment.starts_with(RESERVED_PREFIX),
    }
}

/// §5.2, all rules (an empty name is one empty segment).
fn name_verdict(encoded: &[u8]) -> Verdict {
    match decoded_text(encoded) {
        Err(verdict) => verdict,
        Ok((text, verdict)) => text
            .split('/')
            .map(segment_verdict)
            .fold(verdict, Verdict::and),
    }
}

/// §5.5: rules 1 to 3, and valid segments before the last `/`.
fn prefix_verdict(encoded: &[u8]) -> Verdict {
    match decoded_text(encoded) {
        Err(verdict) => verdict,
        Ok((text, verdict)) => match text.rfind('/') {
            Some(at) => text[..at]
                .split('/')
                .map(segment_verdict)
                .fold(verdict, Verdict::and),
            None => verdict,
        },
    }
}
