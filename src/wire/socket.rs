//! The socket adapter: nonblocking reads, writes and `sendfile`, with every
//! `io::Error` kind turned into an outcome the state machine can match on.
//!
//! This is the only place that looks at `io::ErrorKind`: `Interrupted` is
//! retried, `WouldBlock` becomes a value, resets and broken pipes become
//! `Closed`. The connection code never matches on error kinds itself.

use std::fs::File;
use std::io::{self, ErrorKind, Read};

use log::warn;
use mio::net::TcpStream;
use rustix::net::{RecvFlags, SendFlags};

use super::content::Content;

/// What one nonblocking socket operation did.
#[derive(Debug)]
pub enum Outcome {
    /// Moved this many bytes (never 0 for writes; reads use `Eof`).
    Done(usize),
    /// Nothing can move now; wait for readiness.
    WouldBlock,
    /// The peer finished sending (reads only): `Ok(0)`, the authoritative EOF.
    Eof,
    /// The peer reset the connection or stopped reading.
    Closed,
    /// Any other error; the connection cannot go on.
    Error(io::Error),
    /// The peer spoke plaintext to a TLS port, or ended its side before
    /// its handshake was through (TLS transports only).
    NotTls,
    /// The peer's TLS session did not resume one begun before, where it
    /// had to (an FTPS data connection's; TLS transports only).
    NotResumed,
}

/// The outcome an error from a socket call stands for.
pub fn classify(err: io::Error) -> Outcome {
    match err.kind() {
        ErrorKind::WouldBlock => Outcome::WouldBlock,
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::NotConnected => Outcome::Closed,
        _ => Outcome::Error(err),
    }
}

/// Retries `op` while it is interrupted.
pub fn retry(mut op: impl FnMut() -> io::Result<usize>) -> io::Result<usize> {
    loop {
        match op() {
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads into `buf` (which must not be empty).
pub fn read(stream: &mut TcpStream, buf: &mut [u8]) -> Outcome {
    debug_assert!(!buf.is_empty());
    match retry(|| stream.read(buf)) {
        Ok(0) => Outcome::Eof,
        Ok(n) => Outcome::Done(n),
        Err(err) => classify(err),
    }
}

/// Copies what has arrived into `buf` (not empty) without taking it off
/// the socket (`MSG_PEEK`): the next read returns the same bytes. Peeking
/// consumes nothing, so under edge-triggered polling the next readiness
/// event comes only when more data arrives.
pub fn peek(stream: &TcpStream, buf: &mut [u8]) -> Outcome {
    debug_assert!(!buf.is_empty());
    let peeked = retry(|| {
        rustix::net::recv(stream, &mut *buf, RecvFlags::PEEK)
            .map(|(n, _)| n)
            .map_err(io::Error::from)
    });
    match peeked {
        Ok(0) => Outcome::Eof,
        Ok(n) => Outcome::Done(n),
        Err(err) => classify(err),
    }
}

/// Writes from `buf`. With `more`, tells the kernel further data follows at
/// once (`MSG_MORE`), so a response line and its file body share a packet.
pub fn write(stream: &TcpStream, buf: &[u8], more: bool) -> Outcome {
    let mut flags = SendFlags::NOSIGNAL;
    if more {
        flags |= SendFlags::MORE;
    }
    match retry(|| rustix::net::send(stream, buf, flags).map_err(io::Error::from)) {
        Ok(0) => Outcome::Closed,
        Ok(n) => Outcome::Done(n),
        Err(err) => classify(err),
    }
}

/// Sends up to `len` bytes of `body` from `offset`: a file's without
/// copying them through user space ([`send_file`]), bytes in memory by a
/// plain write. `may_cork`: the caller's loop counts this connection alone
/// (its last drives were all of it), so a big `sendfile` may run corked
/// (see [`CORK_FROM`]).
pub fn send_content(
    stream: &TcpStream,
    body: &Content,
    (offset, len): (u64, usize),
    may_cork: bool,
) -> Outcome {
    match body {
        Content::File(stored) => {
            let cork = may_cork && len >= CORK_FROM;
            send_file(stream, &stored.file, (offset, len), cork)
        }
        Content::Bytes(bytes) => write(stream, super::content::window(bytes, offset, len), false),
    }
}

/// A `sendfile` that asks for at least this many bytes runs corked
/// (`TCP_CORK` on for the call, off after it) when its loop counts the
/// connection alone (its last drives were all of it).
/// Sockets have Nagle off, so uncorked the kernel sends what the peer's
/// window allows the moment it allows it: on loopback (64 KiB segments)
/// that left a 1 GiB GET's segments half full, ×1.6–1.9 nginx's count.
/// Corked for the call, every segment leaves full and the tail goes at
/// the uncork, so nothing waits for the kernel's 200 ms cork timer: one
/// stream, ×1.29 the rate, ×0.54 the segments, ×0.78 the server CPU per
/// GiB. But the corked call does the transmit work the reader's ACKs did,
/// and a loop serving a hundred 1 MiB GETs that way served ×0.42 as many
/// (issue 76, benches/notes/compare.md): so only a loop whose last drives
/// were all of this connection corks (`server/reactor/crowd.rs`). Shorter sends (a small
/// file's whole body) are left alone: two more system calls would cost
/// them more than their one or two segments save.
const CORK_FROM: usize = 256 * 1024;

/// Sends up to `len` bytes of `file` from `offset` without copying them
/// through user space, corked for the call with `cork`. A short file
/// (truncated meanwhile) is an error.
fn send_file(stream: &TcpStream, file: &File, (offset, len): (u64, usize), cork: bool) -> Outcome {
    let mut at = offset;
    let corked = cork && set_cork(stream, true);
    let sent =
        retry(|| rustix::fs::sendfile(stream, file, Some(&mut at), len).map_err(io::Error::from));
    if corked && !set_cork(stream, false) {
        // Never seen: a socket that took the cork refusing its removal.
        // Its later small answers would wait for the kernel's timer.
        warn!("a socket kept its cork: its next answers may wait 200 ms");
    }
    match sent {
        Ok(0) => Outcome::Error(io::Error::new(
            ErrorKind::UnexpectedEof,
            "file shrank while it was being sent",
        )),
        Ok(n) => Outcome::Done(n),
        Err(err) => classify(err),
    }
}

/// Corks or uncorks `stream`; whether it took. A socket that refuses is
/// sent to uncorked, as it would be without this (the segments' size is
/// an economy, never a condition of the answer).
fn set_cork(stream: &TcpStream, on: bool) -> bool {
    rustix::net::sockopt::set_tcp_cork(stream, on).is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdStream};

    use super::{CORK_FROM, Outcome, send_file};

    fn corked(stream: &mio::net::TcpStream) -> bool {
        rustix::net::sockopt::tcp_cork(stream).unwrap()
    }

    #[test]
    fn a_corked_sendfile_leaves_the_socket_uncorked_sent_or_blocked() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = mio::net::TcpStream::from_std(server);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7; 4 * CORK_FROM]).unwrap();
        let mut sent = 0;
        let mut blocked = false;
        // The client never reads: the socket fills and then blocks.
        for _ in 0..10_000 {
            match send_file(&server, &file, (0, 4 * CORK_FROM), true) {
                Outcome::Done(n) => sent += n,
                Outcome::WouldBlock => {
                    blocked = true;
                    break;
                }
                other => panic!("{other:?}"),
            }
            assert!(!corked(&server), "corked after a send");
        }
        assert!(blocked && sent > 0, "sent {sent}");
        assert!(!corked(&server), "corked after a blocked send");
        let mut first = [0; 16];
        (&client).read_exact(&mut first).unwrap();
        assert_eq!(first, [7; 16]);
    }
}
