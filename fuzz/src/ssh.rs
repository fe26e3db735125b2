//! Invariants of an SSH server session's input path
//! (`ferry::ssh::SshSession`, the type each SFTP connection drives),
//! written once and checked twice: by the `ssh_input` fuzz target and by
//! `tests/sftp/ssh_input.rs` (which includes this file with `#[path]`).
//!
//! A stream of bytes comes from a client over a loopback socket, as a
//! real one's would, the session read turn by turn as the connection
//! reads it. Whatever the bytes:
//!
//! - no panic;
//! - the session holds no more than `ssh::MOST_HELD` of its own
//!   after any turn;
//! - what it sends back is bounded: its handshake (version line, KEXINIT,
//!   a key exchange's reply, a disconnect) and a few times the input;
//! - it ends (EOF, closed, an error) or waits for more once all is read,
//!   within a bounded number of turns: never loops. A client that ended
//!   its side (`eof`) always sees it end.
//!
//! A real client's handshake is encrypted past `NEWKEYS`, and so out of a
//! fuzzer's reach; [`plaintext_phase`] builds the part before it from a
//! recipe of bytes: version lines good and bad, KEXINITs with real and
//! made-up algorithms, a key exchange's first step, packets with garbage,
//! huge or zero lengths and paddings.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferry::access::{Access, AccessConfig};
use ferry::ssh::MOST_HELD;
use ferry::ssh::{HostKey, SshSession, SshTerms};
use ferry::wire::socket::{self, Outcome};

/// The version line a client opens with.
pub const HELLO: &[u8] = b"SSH-2.0-ferry_fuzz\r\n";

/// Most the server sends whatever the client: its version line, its
/// KEXINIT, one key exchange's reply with the host key's signature, and a
/// disconnect (a few hundred bytes each; sunset's own, not the client's).
const HANDSHAKE_OUT: usize = 4096;

/// Longest a case may take (a loopback socket's bytes arrive at once).
const CASE_TIME: Duration = Duration::from_secs(20);

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The session ended (EOF, closed, an error).
    Ended,
    /// The session read all and waits for more.
    Waits,
}

/// What a case saw: how it ended, and how many bytes the server sent.
/// The tests read it; the fuzz target has the checks' word alone, so
/// unread there is not dead.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub ending: Ending,
    pub sent: usize,
}

/// What every session shares: an open server's access control and a host
/// key, made once (in a folder removed at once: the key stays in memory).
fn terms() -> Arc<SshTerms> {
    static TERMS: OnceLock<Arc<SshTerms>> = OnceLock::new();
    Arc::clone(TERMS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferry-fuzz-ssh-{}", std::process::id()));
        let host_key = HostKey::load_or_make(None, &dir).expect("a host key");
        let _ = std::fs::remove_dir_all(&dir);
        let access = Access::new(&AccessConfig::default()).expect("open access");
        Arc::new(SshTerms {
            host_key,
            access: Arc::new(access),
        })
    }))
}

/// Feeds `stream` (all a client sends: its version line included) to a
/// session and checks what it does; `eof`: the client then ends its side.
pub fn check_ssh_input(stream: &[u8], eof: bool) -> Seen {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let mut client = TcpStream::connect(listener.local_addr().expect("its address"))
        .expect("a loopback connection");
    let (server, peer) = listener.accept().expect("accepted");
    server.set_nonblocking(true).expect("non-blocking");
    client.set_nonblocking(true).expect("non-blocking");
    let server = mio::net::TcpStream::from_std(server);
    let mut session = SshSession::new(terms(), peer.ip());

    let (mut room, mut spare) = (vec![0; 32 * 1024], vec![0; 256 * 1024]);
    let (mut written, mut heard, mut turns) = (0, 0, 0usize);
    let mut shut = false;
    // Every turn that does not end reads a byte at least, or waits for
    // bytes on their way; so many turns and no end is a loop.
    let most_turns = stream.len() + 1000;
    let deadline = Instant::now() + CASE_TIME;
    let ending = loop {
        written += write_some(&mut client, &stream[written..]);
        if written == stream.len() && eof && !shut {
            client
                .shutdown(Shutdown::Write)
                .expect("the client's side ended");
            shut = true;
        }
        heard += read_all(&mut client).0;
        session.begin_turn();
        let outcome = session.read(&server, &mut room, &mut spare);
        let held = session.held();
        assert!(held <= MOST_HELD, "the session holds {held} bytes");
        match outcome {
            Outcome::Done(n) => assert!(0 < n && n <= room.len(), "read {n}"),
            Outcome::WouldBlock if session.spent() => {}
            Outcome::WouldBlock => {
                if written == stream.len() && !eof && unread(&server) == 0 {
                    break Ending::Waits;
                }
            }
            Outcome::Eof | Outcome::Closed | Outcome::Error(_) => break Ending::Ended,
            other => panic!("an SSH session's read gave {other:?}"),
        }
        turns += 1;
        assert!(
            turns <= most_turns && Instant::now() < deadline,
            "{turns} turns, {written} of {} bytes written: the session loops",
            stream.len()
        );
    };
    // What the server sent before it let go.
    let _ = session.send_held(&server);
    drop(session);
    drop(server);
    while Instant::now() < deadline {
        let (n, done) = read_all(&mut client);
        heard += n;
        if done {
            break;
        }
        std::thread::yield_now();
    }
    assert!(
        !eof || ending == Ending::Ended,
        "the client ended its side, and the session waits"
    );
    let most = HANDSHAKE_OUT + 4 * stream.len();
    assert!(
        heard <= most,
        "sent {heard} bytes for {} (at most {most})",
        stream.len()
    );
    Seen {
        ending,
        sent: heard,
    }
}

/// Writes what the socket takes of `bytes`: how many.
fn write_some(client: &mut TcpStream, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        return 0;
    }
    match client.write(bytes) {
        Ok(n) => n,
        Err(err) if err.kind() == ErrorKind::WouldBlock => 0,
        // The server closed: nothing more goes.
        Err(_) => bytes.len(),
    }
}

/// Reads what waits: how many bytes, and whether the server's side ended.
fn read_all(client: &mut TcpStream) -> (usize, bool) {
    let mut buf = [0; 16 * 1024];
    let mut total = 0;
    loop {
        match client.read(&mut buf) {
            Ok(0) => return (total, true),
            Ok(n) => total += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return (total, false),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (total, true),
        }
    }
}

/// Bytes waiting unread on the server's socket (up to 64 KiB).
fn unread(server: &mio::net::TcpStream) -> usize {
    let mut buf = vec![0; 64 * 1024];
    match socket::peek(server, &mut buf) {
        Outcome::Done(n) => n,
        _ => 0,
    }
}

/// A client's plaintext phase built from `recipe`: each step takes a byte
/// saying what comes next, and as many more as it needs.
pub fn plaintext_phase(recipe: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = recipe.iter().copied();
    let mut next = move || bytes.next();
    while let Some(step) = next() {
        let arg = next().unwrap_or(0);
        match step % 9 {
            0 => out.extend_from_slice(HELLO),
            1 => out.extend_from_slice(VERSIONS[usize::from(arg) % VERSIONS.len()]),
            2 => {
                let mut choices = Vec::new();
                for _ in 0..10 {
                    choices.push(next().unwrap_or(arg));
                }
                out.extend(packet(&kexinit(&choices, arg & 1 == 1), 4));
            }
            3 => {
                // The key exchange's first step: an ephemeral key of 32
                // bytes (curve25519's size) or of `arg`'s length.
                let len = if arg & 1 == 0 { 32 } else { usize::from(arg) };
                let mut payload = vec![30];
                payload.extend(string(&vec![arg; len]));
                out.extend(packet(&payload, 4));
            }
            4 => out.extend(packet(&[21], 4)), // NEWKEYS
            5 => {
                // A message of any number, a payload of `arg` bytes.
                let mut payload = vec![next().unwrap_or(0)];
                payload.resize(1 + usize::from(arg), arg);
                out.extend(packet(&payload, 4 + arg % 8));
            }
            6 => {
                // A length field of any value, then what follows.
                let lengths = [0, 1, 4, 5, 35_000, 35_001, u32::MAX, 0x8000_0000];
                let len = lengths[usize::from(arg) % lengths.len()];
                out.extend(len.to_be_bytes());
                out.extend([next().unwrap_or(4), 2, 0, 0, 0, 0]);
            }
            7 => {
                // A packet with no padding, or padding longer than itself.
                let padding = if arg & 1 == 0 { 0 } else { 255 };
                out.extend(8u32.to_be_bytes());
                out.push(padding);
                out.extend([2, 0, 0, 0, 0, 0, 0]);
            }
            _ => {
                for _ in 0..arg {
                    out.push(next().unwrap_or(0));
                }
            }
        }
    }
    out
}

/// Version lines, good and bad.
const VERSIONS: &[&[u8]] = &[
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"SSH-2.0-no_cr\n",
    b"SSH-1.99-old\r\n",
    b"SSH-1.5-older\r\n",
    b"a banner line first\r\nSSH-2.0-x\r\n",
    b"SSH-2.0-\0nul\r\n",
    b"SSH-2.0-",
    b"\r\n\r\n\r\n",
];

/// Names a KEXINIT may offer, real and not.
const NAMES: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "mlkem768x25519-sha256",
    "ext-info-c",
    "kex-strict-c-v00@openssh.com",
    "ssh-ed25519",
    "rsa-sha2-256",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-256-etm@openssh.com",
    "none",
    "zlib@openssh.com",
    "",
    ",,",
    "x\0y",
];

/// A KEXINIT payload: ten name-lists, each a name or two `choices` picks.
fn kexinit(choices: &[u8], first_follows: bool) -> Vec<u8> {
    let mut payload = vec![20];
    payload.extend([7; 16]); // cookie
    for &choice in choices {
        let first = NAMES[usize::from(choice) % NAMES.len()];
        let list = match choice & 0x80 {
            0 => first.to_owned(),
            _ => format!("{first},{}", NAMES[usize::from(choice / 3) % NAMES.len()]),
        };
        payload.extend(string(list.as_bytes()));
    }
    payload.push(u8::from(first_follows));
    payload.extend([0; 4]);
    payload
}

/// An SSH string.
fn string(bytes: &[u8]) -> Vec<u8> {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A clear-text binary packet of `payload`, padded to a block of 8 with
/// at least `least` bytes (4 is the least RFC 4253 allows).
fn packet(payload: &[u8], least: u8) -> Vec<u8> {
    let least = usize::from(least);
    let padding = least + (8 - (5 + payload.len() + least) % 8) % 8;
    let len = u32::try_from(1 + payload.len() + padding).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.push(u8::try_from(padding).unwrap_or(u8::MAX));
    out.extend_from_slice(payload);
    out.resize(out.len() + padding, 0);
    out
}
