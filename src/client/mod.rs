//! A blocking FERRY/1 client over `std::net`, used by the CLI and the tests.
//!
//! One [`Client`] is one connection; its methods run one request at a time.
//! Every upload carries the CRC-32C of its body, so the server refuses
//! anything damaged on the way, and every whole download is checked against
//! the CRC-32C the server reports. Beyond that:
//!
//! - [`wire`]: the two halves of a connection, request writer and reply
//!   reader, which the methods here use in lock step;
//! - [`pipeline`]: many requests in flight on one connection (folders);
//! - [`sessions`]: resumable uploads (`UPLOAD`/`APPEND`/`COMMIT`/`ABORT`);
//! - [`resume`]: uploads and downloads that reconnect and carry on;
//! - [`retry`]: how often and how patiently to reconnect;
//! - `probe`: what a port that does not greet speaks (HTTP, TLS).
//!
//! Why it is long: `Client` is the one blocking API that the CLI, `ferry
//! bench`'s checks and the tests call; each method is a request and its
//! reply, short and alike, kept together so that the client's surface reads
//! as one list (the halves, pipelining, sessions and resuming are in files
//! of their own).

mod error;
pub mod pipeline;
mod probe;
pub mod rate;
pub mod replies;
pub mod resume;
pub mod retry;
pub mod sessions;
pub mod stream;
pub mod wire;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{ClientError, Result};
pub use rate::RateLimit;
pub use replies::Replies;
pub use stream::{ClientTls, Trust};
pub use wire::Requests;

/// How long to wait for a connection or for the server to say anything.
const TIMEOUT: Duration = Duration::from_secs(60);
/// How long a plaintext connection waits for the greeting before saying
/// that the port may serve TLS. A FERRY/1 server greets at once, so by
/// then something is off; a TLS port says nothing until its header
/// deadline (20 s by default) closes the connection, which is long to sit
/// in silence. The wait goes on after the hint: a slow server or link is
/// still allowed [`TIMEOUT`] in all (or `--connect-timeout`).
const GREETING_HINT_AFTER: Duration = Duration::from_secs(3);

/// A TCP connection to the first address of `addr` that answers within
/// `within` (each), with the client's options set; reads wait `within`
/// too, until [`Client::greeted`] has the greeting.
fn tcp_connect(addr: impl ToSocketAddrs, within: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, within) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(within))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(err) => last = Some(err),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing")))
}

/// What `GET` said about the file and the part of it that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// Bytes written.
    pub len: u64,
    /// Size of the whole file.
    pub total: u64,
    /// CRC-32C of the whole file: `None` from servers before 0.2, which
    /// did not send it, and while the server has not read a file placed in
    /// its root by other means (its answer says `-`).
    pub crc: Option<u32>,
    /// The file's modification time, Unix seconds (servers before 0.3 did
    /// not send it).
    pub mtime: Option<i64>,
}

/// What `STAT` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// CRC-32C of the file, where the server reports it.
    pub crc: Option<u32>,
}

/// One LIST line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Decoded name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

/// A member that a folder's `DEL` left, with the server's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stayed {
    /// Decoded name (a folder's ends in `/`).
    pub name: String,
    /// The error code (`403`: the token may not delete it).
    pub code: u16,
    /// The server's reason.
    pub reason: String,
}

/// One `DIR` line: a sub-folder or a file directly in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Decoded full name from the root; a folder's ends in `/`.
    pub name: String,
    /// Bytes of a file; `None` for a folder.
    pub size: Option<u64>,
    /// Modification time, Unix seconds (a folder's own: it changes when
    /// an entry is added or removed, not when a file below it changes).
    pub mtime: i64,
}

impl From<RemoteFile> for DirEntry {
    fn from(file: RemoteFile) -> DirEntry {
        DirEntry {
            name: file.name,
            size: Some(file.size),
            mtime: file.mtime,
        }
    }
}

impl DirEntry {
    /// A sub-folder, not a file.
    pub fn is_folder(&self) -> bool {
        self.size.is_none()
    }
}

/// A resumable upload as `UPLOAD` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// The server's id for the session (16 hex digits).
    pub id: String,
    /// Bytes the server holds; the next `APPEND` goes at this offset.
    pub received: u64,
}

/// Where a server is and how to present oneself to it: what every
/// connection, and every reconnection, of a command starts from.
#[derive(Clone, Default)]
pub struct Endpoint {
    /// `host:port`.
    pub addr: String,
    /// The token to authenticate with (`AUTH`) on each connection.
    pub token: Option<String>,
    /// Speak TLS, trusting certificates as this set-up says.
    pub tls: Option<ClientTls>,
    /// How long each connection may take to be made and greeted (curl's
    /// `--connect-timeout`); `None`: the client's usual 60 s.
    pub connect_timeout: Option<Duration>,
    /// Shared by every connection made from this endpoint: their bodies
    /// together move no faster (`--limit-rate`).
    pub limit: Option<Arc<RateLimit>>,
}

impl std::fmt::Debug for Endpoint {
    /// The address only: the token stays out of every log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// The server at `addr`, without a token.
    pub fn new(addr: impl Into<String>) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            ..Endpoint::default()
        }
    }

    /// Connects, reads the greeting and, with a token, authenticates.
    ///
    /// # Errors
    /// As for [`Client::connect`]; `ERR 401`/`429` for the token.
    pub fn connect(&self) -> Result<Client> {
        let within = self.connect_timeout.unwrap_or(TIMEOUT);
        let mut client = match &self.tls {
            Some(tls) => {
                let tcp = tcp_connect(self.addr.as_str(), within)?;
                let server = tcp.peer_addr()?;
                let (requests, mut replies) = wire::halves(tls.handshake(tcp, &self.addr)?);
                let ask = |patience| probe::refuse_https(server, &self.addr, tls, patience);
                Client::name_a_silent_port(&mut replies, within, ask, None)?;
                Client::greeted(requests, replies, within)?
            }
            None => Client::connect_within(self.addr.as_str(), within)?,
        };
        client.requests.set_limit(self.limit.clone());
        client.replies.set_limit(self.limit.clone());
        // A server without access control needs no token: it is not sent
        // (nor exposed on the way) to one that would refuse it.
        if let Some(token) = self.token.as_ref().filter(|_| client.server_requires_auth) {
            client.auth(token)?;
        }
        Ok(client)
    }
}

/// What is left of `within` since `started` (at least a millisecond: a
/// socket timeout of zero means none).
fn left(within: Duration, started: Instant) -> Duration {
    within
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1))
}

/// A connection to a ferry server.
#[derive(Debug)]
pub struct Client {
    requests: Requests,
    replies: Replies,
    client_id: u64,
    /// The greeting said `auth`: some requests need a token.
    server_requires_auth: bool,
}

impl Client {
    /// Connects and reads the greeting.
    ///
    /// # Errors
    /// The server is unreachable, busy (`ERR 503`), or not a ferry server.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client> {
        Client::connect_within(addr, TIMEOUT)
    }

    /// [`Client::connect`], allowing `within` to connect and be greeted.
    fn connect_within(addr: impl ToSocketAddrs, within: Duration) -> Result<Client> {
        let tcp = tcp_connect(addr, within)?;
        let server = tcp.peer_addr()?;
        let (requests, mut replies) = wire::halves(stream::Halves::plain(tcp)?);
        let ask = |patience| probe::refuse_other_protocols(server, patience);
        Client::name_a_silent_port(&mut replies, within, ask, Some(server))?;
        Client::greeted(requests, replies, within)
    }

    /// Before the greeting: a port silent for [`probe::SILENCE`] is asked
    /// what it speaks by `ask` (given the time it may take, never beyond
    /// `within`), and what is not FERRY/1 is an error at once. On a
    /// plaintext connection (`tls_hint`), one silent for
    /// [`GREETING_HINT_AFTER`] gets a warning that it may serve TLS. The
    /// probe and the hint come only while they can come before `within`
    /// ends; the wait for the greeting goes on for what is left of it.
    fn name_a_silent_port(
        replies: &mut Replies,
        within: Duration,
        ask: impl FnOnce(Duration) -> Result<()>,
        tls_hint: Option<std::net::SocketAddr>,
    ) -> Result<()> {
        let started = Instant::now();
        if within <= probe::SILENCE
            || replies.speaks_within(probe::SILENCE, within - probe::SILENCE)?
        {
            return Ok(());
        }
        ask(probe::PATIENCE.min(left(within, started)))?;
        replies.set_read_timeout(left(within, started))?;
        let Some(server) = tls_hint else {
            return Ok(());
        };
        let Some(until_hint) = GREETING_HINT_AFTER
            .checked_sub(started.elapsed())
            .filter(|wait| !wait.is_zero())
        else {
            return Ok(());
        };
        let Some(after_hint) = left(within, started).checked_sub(until_hint) else {
            return Ok(());
        };
        if !replies.speaks_within(until_hint, after_hint.max(Duration::from_millis(1)))? {
            log::warn!(
                target: "ferry::client",
                "no greeting from {server} after {} s: if it serves TLS, \
                 connect with --tls or --ca",
                GREETING_HINT_AFTER.as_secs_f64()
            );
        }
        Ok(())
    }

    /// Connects to `addr` (`host:port`) over TLS, checks the server's
    /// certificate for `host`, and reads the greeting.
    ///
    /// # Errors
    /// As [`Client::connect`]; the handshake fails (a certificate that is
    /// not trusted or not for `host`, a server without TLS).
    pub fn connect_tls(addr: &str, tls: &ClientTls) -> Result<Client> {
        Endpoint {
            tls: Some(tls.clone()),
            ..Endpoint::new(addr)
        }
        .connect()
    }

    /// Reads the greeting on a fresh connection, allowing it `within`;
    /// then gives later answers the usual [`TIMEOUT`].
    fn greeted(mut requests: Requests, mut replies: Replies, within: Duration) -> Result<Client> {
        let (client_id, server_requires_auth) = replies.greeting().map_err(|err| match err {
            ClientError::Io(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                ClientError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the server did not greet within {} s", within.as_secs_f64()),
                ))
            }
            other => other,
        })?;
        replies.set_read_timeout(TIMEOUT)?;
        requests.set_conn(client_id);
        replies.set_conn(client_id);
        Ok(Client {
            requests,
            replies,
            client_id,
            server_requires_auth,
        })
    }

    /// Authenticates with `token` for the rest of the connection; returns
    /// the token's name.
    ///
    /// # Errors
    /// `ERR 401` (unknown or revoked token), `ERR 429` (too many failures
    /// from this address), connection failures.
    pub fn auth(&mut self, token: &str) -> Result<String> {
        self.requests.auth(token)?;
        self.requests.flush()?;
        self.replies.auth()
    }

    /// The id the server gave this connection.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Splits the connection into its writing and reading halves, to have
    /// several requests in flight (see [`pipeline`]).
    pub fn split(self) -> (Requests, Replies) {
        (self.requests, self.replies)
    }

    /// Uploads `size` bytes from `body` as `name`; `crc` is their CRC-32C.
    /// Returns the size and CRC the server stored.
    ///
    /// # Errors
    /// `ERR` replies (e.g. 422 if the bytes did not match `crc`), connection
    /// failures, or [`ClientError::Local`] if `body` fails or is shorter
    /// than `size`.
    pub fn put(
        &mut self,
        name: &str,
        body: &mut dyn Read,
        size: u64,
        crc: u32,
    ) -> Result<(u64, u32)> {
        self.exchange(
            |requests| requests.put(name, body, size, crc),
            |replies| replies.put(size, crc),
        )
    }

    /// Uploads `size` bytes from `body` as `name`, sending their CRC-32C
    /// after them (`PUT <name> <size> -`): `body` is read once, as it is
    /// sent. With `mtime` (Unix seconds) the server gives the file that
    /// modification time. Returns the size and CRC the server stored.
    ///
    /// # Errors
    /// As [`Client::put`].
    pub fn put_stream(
        &mut self,
        name: &str,
        body: &mut dyn Read,
        size: u64,
        mtime: Option<i64>,
    ) -> Result<(u64, u32)> {
        // Known once the body is sent, needed to check the answer.
        let sent = std::cell::Cell::new(0);
        self.exchange(
            |requests| {
                sent.set(requests.put_trailing(name, body, size, mtime)?);
                Ok(())
            },
            |replies| replies.put(size, sent.get()),
        )
    }

    /// Uploads everything `body` yields, up to its end, as `name`: for a
    /// source of unknown length (a pipe). Returns the size and CRC stored.
    ///
    /// # Errors
    /// As [`Client::put`]; `ERR 413` once the bytes pass the server's
    /// limit (the server then closes the connection).
    pub fn put_unsized(&mut self, name: &str, body: &mut dyn Read) -> Result<(u64, u32)> {
        let sent = std::cell::Cell::new((0, 0));
        self.exchange(
            |requests| {
                sent.set(requests.put_chunked(name, body)?);
                Ok(())
            },
            |replies| {
                let (size, crc) = sent.get();
                replies.put(size, crc)
            },
        )
    }

    /// Uploads `data` as `name`.
    ///
    /// # Errors
    /// As [`Client::put`].
    pub fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<(u64, u32)> {
        let crc = crc32c::crc32c(data);
        self.put(name, &mut &data[..], data.len() as u64, crc)
    }

    /// Downloads `name` into `out` and verifies it against the CRC-32C the
    /// server reports, if it reports one; returns the bytes written.
    ///
    /// # Errors
    /// `ERR` replies, connection failures, a body cut short,
    /// [`ClientError::Local`] if `out` fails, or [`ClientError::Checksum`]
    /// if the bytes do not match.
    pub fn get(&mut self, name: &str, out: &mut dyn Write) -> Result<u64> {
        let mut checked = CrcWriter::new(out, 0);
        let download = self.get_range(name, 0, None, &mut checked)?;
        checked.verify(download.crc)?;
        Ok(download.len)
    }

    /// Downloads at most `length` bytes of `name` from `offset` into `out`,
    /// unverified (the reported CRC-32C is of the whole file).
    ///
    /// # Errors
    /// As [`Client::get`]; `ERR 416` for an offset past the end.
    pub fn get_range(
        &mut self,
        name: &str,
        offset: u64,
        length: Option<u64>,
        out: &mut dyn Write,
    ) -> Result<Download> {
        self.exchange(
            |requests| requests.get(name, offset, length),
            |replies| replies.get(out),
        )
    }

    /// Downloads `name` into memory.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn get_bytes(&mut self, name: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.get(name, &mut out)?;
        Ok(out)
    }

    /// Size, modification time and CRC-32C of `name`.
    ///
    /// # Errors
    /// `ERR 404` and the like.
    pub fn stat(&mut self, name: &str) -> Result<Stat> {
        self.exchange(|requests| requests.stat(name), Replies::stat)
    }

    /// Every file whose name starts with `prefix`, sorted by name.
    ///
    /// # Errors
    /// `ERR` replies, connection failures, or a malformed listing.
    pub fn list(&mut self, prefix: &str) -> Result<Vec<RemoteFile>> {
        self.exchange(|requests| requests.list(prefix), Replies::list)
    }

    /// One level of `folder` (`""`: the root): its sub-folders, then its
    /// files, each sorted by name.
    ///
    /// # Errors
    /// `ERR 404` if `folder` is missing or is a file; other `ERR` replies,
    /// connection failures, or a malformed listing.
    pub fn dir(&mut self, folder: &str) -> Result<Vec<DirEntry>> {
        self.exchange(|requests| requests.dir(folder), Replies::dir)
    }

    /// Renames the file `from` to `to` on the server (replacing a file
    /// already named `to`).
    ///
    /// # Errors
    /// `ERR 404` (no such file), `409` (a folder on either side) and the
    /// like; connection failures.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.exchange(|requests| requests.rename(from, to), Replies::done)
    }

    /// Removes `name`.
    ///
    /// # Errors
    /// `ERR 404` and the like.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.exchange(|requests| requests.delete(name), Replies::done)
    }

    /// Removes folder `folder` (its name, without the `/`) and everything
    /// in it the token may delete: what stayed (none when all went), and
    /// how many more stayed than the server names.
    ///
    /// # Errors
    /// `ERR 404` (no such folder), `403` (read-only, no `delete` grant
    /// here) and the like; connection failures.
    pub fn delete_folder(&mut self, folder: &str) -> Result<(Vec<Stayed>, u64)> {
        self.exchange(|requests| requests.delete_folder(folder), Replies::removal)
    }

    /// Sends `data` and returns what the server echoed. Keep it under
    /// 64 KiB: the echo is only read once all of `data` has been written.
    ///
    /// # Errors
    /// Connection failures.
    pub fn echo(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.exchange(|requests| requests.echo(data), Replies::echo)
    }

    /// Says goodbye; the server closes the connection.
    ///
    /// # Errors
    /// Connection failures.
    pub fn quit(mut self) -> Result<()> {
        self.exchange(Requests::quit, Replies::done)
    }

    /// One request and its reply. If sending fails, the server may have
    /// refused the request and closed (a `413` mid-body): its answer
    /// explains more than a broken pipe, so it is read if it is there.
    fn exchange<T>(
        &mut self,
        send: impl FnOnce(&mut Requests) -> Result<()>,
        receive: impl FnOnce(&mut Replies) -> Result<T>,
    ) -> Result<T> {
        match send(&mut self.requests).and_then(|()| self.requests.flush()) {
            Ok(()) => receive(&mut self.replies),
            Err(err @ ClientError::Io(_)) => Err(match receive(&mut self.replies) {
                Err(remote @ ClientError::Remote { .. }) => remote,
                _ => err,
            }),
            Err(err) => Err(err),
        }
    }
}

/// Passes bytes through while adding up their CRC-32C and counting them.
#[derive(Debug)]
pub struct CrcWriter<W> {
    inner: W,
    crc: u32,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    /// Continues a CRC-32C of `crc` (0 for a fresh one).
    pub fn new(inner: W, crc: u32) -> CrcWriter<W> {
        CrcWriter {
            inner,
            crc,
            written: 0,
        }
    }

    /// The CRC-32C of everything so far.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Bytes written through this writer.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks the CRC-32C so far against the one a server reported (none
    /// from servers that do not report one: nothing to check).
    ///
    /// # Errors
    /// [`ClientError::Checksum`] if they differ.
    pub fn verify(&self, expected: Option<u32>) -> Result<()> {
        match expected {
            Some(expected) if expected != self.crc => Err(ClientError::Checksum {
                expected,
                received: self.crc,
            }),
            _ => Ok(()),
        }
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file's modification time in Unix seconds, as `PUT` and `COMMIT`
/// carry it; `None` where the system does not say or it is before 1970
/// (the protocol has no negative times): the server then uses its own.
pub fn unix_mtime(metadata: &std::fs::Metadata) -> Option<i64> {
    let since = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_secs()).ok()
}

/// The CRC-32C and length of everything `reader` yields.
///
/// # Errors
/// `reader`'s errors.
pub fn crc_of(reader: &mut dyn Read) -> io::Result<(u64, u32)> {
    let mut buf = vec![0; rate::CHUNK];
    let mut crc = 0;
    let mut len = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok((len, crc)),
            Ok(n) => {
                crc = crc32c::crc32c_append(crc, &buf[..n]);
                len += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
