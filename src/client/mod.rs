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
//! - [`links`]: share links (`SHARE`/`SHARES`/`UNSHARE`);
//! - [`resume`]: uploads and downloads that reconnect and carry on;
//! - [`retry`]: how often and how patiently to reconnect;
//! - `probe`: what a port that does not greet speaks (HTTP, TLS);
//! - `tls_failure`: a failed TLS handshake in one sentence and the way out;
//! - `endpoint`, `remote`, `checks`: where a server is, what its replies
//!   say of its files, and the CRC-32C the client takes itself.
//!
//! `Client` is the one blocking API that the CLI, `ferry bench`'s checks
//! and the tests call; each method is a request and its reply, short and
//! alike, kept together so that the client's surface reads as one list.

mod checks;
mod endpoint;
mod error;
pub mod links;
pub mod pipeline;
mod presented;
mod probe;
pub mod rate;
mod remote;
pub mod replies;
pub mod resume;
pub mod retry;
pub mod sessions;
pub mod stream;
mod tls_failure;
pub mod wire;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use checks::{CrcWriter, crc_of, unix_mtime};
pub use endpoint::Endpoint;
pub use error::{ClientError, Result};
pub use rate::RateLimit;
pub use remote::{DirEntry, Download, RemoteFile, Room, Stat, Stayed, UploadSession};
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
        let crc = crate::formats::castagnoli::checksum(data);
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

    /// The room to write in `folder` (`""`: the root).
    ///
    /// # Errors
    /// `ERR 404` if `folder` is missing; other `ERR` replies, connection
    /// failures, or a malformed line.
    pub fn free_space(&mut self, folder: &str) -> Result<Room> {
        self.exchange(|requests| requests.df(folder), Replies::room)
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
