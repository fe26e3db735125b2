//! A blocking FERRY/1 client over `std::net`, used by the CLI and the tests.
//!
//! One [`Client`] is one connection; requests run one at a time. Every PUT
//! carries the CRC-32C of its body, so the server refuses anything that was
//! damaged on the way, and every reply is checked against what was asked.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::protocol::{MAX_HEADER, Reply, parse_reply};

/// How long to wait for a connection or for the server to say anything.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Copy buffer for bodies.
const CHUNK: usize = 256 * 1024;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered `ERR`.
    Remote {
        /// Three-digit code.
        code: u16,
        /// The server's reason.
        message: String,
    },
    /// The connection or a local file failed.
    Io(io::Error),
    /// The server said something that is not FERRY/1, or not what was asked.
    Protocol(String),
    /// A download's bytes do not match the CRC-32C the server reported.
    Checksum {
        /// What the server said the file's CRC-32C is.
        expected: u32,
        /// What the received bytes add up to.
        received: u32,
    },
}

impl ClientError {
    fn protocol(what: impl Into<String>) -> ClientError {
        ClientError::Protocol(what.into())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Remote { code, message } => write!(f, "{message} (ERR {code})"),
            ClientError::Io(err) => write!(f, "{err}"),
            ClientError::Protocol(what) => write!(f, "protocol error: {what}"),
            ClientError::Checksum { expected, received } => write!(
                f,
                "checksum mismatch: received data has CRC-32C {received:08x}, the server's file {expected:08x}"
            ),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(err: io::Error) -> ClientError {
        ClientError::Io(err)
    }
}

/// Result alias for client calls.
pub type Result<T> = std::result::Result<T, ClientError>;

/// What `GET` said about the file and the part of it that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// Bytes written.
    pub len: u64,
    /// Size of the whole file.
    pub total: u64,
    /// CRC-32C of the whole file (servers before 0.2 did not send it).
    pub crc: Option<u32>,
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

/// A connection to a ferry server.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    client_id: u64,
}

impl Client {
    /// Connects and reads the greeting.
    ///
    /// # Errors
    /// The server is unreachable, busy (`ERR 503`), or not a ferry server.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(stream) => return Client::from_stream(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last
            .unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "address resolved to nothing")
            })
            .into())
    }

    fn from_stream(stream: TcpStream) -> Result<Client> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let mut client = Client {
            reader: BufReader::with_capacity(CHUNK, stream),
            client_id: 0,
        };
        let fields = client.read_ok()?;
        match fields.as_slice() {
            [proto, id, ..] if proto == "FERRY/1" => {
                client.client_id = id
                    .parse()
                    .map_err(|_| ClientError::protocol("bad client id in greeting"))?;
                Ok(client)
            }
            _ => Err(ClientError::protocol("not a FERRY/1 server")),
        }
    }

    /// The id the server gave this connection.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Uploads `size` bytes from `body` as `name`; `crc` is their CRC-32C.
    /// Returns the size and CRC the server stored.
    ///
    /// # Errors
    /// `ERR` replies (e.g. 422 if the bytes did not match `crc`), I/O errors,
    /// or a body shorter than `size`.
    pub fn put(
        &mut self,
        name: &str,
        body: &mut dyn Read,
        size: u64,
        crc: u32,
    ) -> Result<(u64, u32)> {
        self.send_line(&format!(
            "PUT {} {size} {crc:08x}",
            crate::name::encode(name)
        ))?;
        let mut buf = vec![0; CHUNK];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = body.read(&mut buf[..want])?;
            if n == 0 {
                return Err(ClientError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("local data ended after {} of {size} bytes", size - left),
                )));
            }
            if let Err(err) = self.reader.get_mut().write_all(&buf[..n]) {
                // The server may have refused the upload mid-body (a 413)
                // and closed: its answer explains more than a broken pipe.
                return Err(match self.read_ok() {
                    Err(remote @ ClientError::Remote { .. }) => remote,
                    _ => err.into(),
                });
            }
            left -= n as u64;
        }
        let fields = self.read_ok()?;
        let stored_size: u64 = field(&fields, 0)?;
        let stored_crc = fields
            .get(1)
            .and_then(|f| u32::from_str_radix(f, 16).ok())
            .ok_or_else(|| ClientError::protocol("PUT reply without a checksum"))?;
        if stored_size != size || stored_crc != crc {
            return Err(ClientError::protocol(
                "server stored something else than was sent",
            ));
        }
        Ok((stored_size, stored_crc))
    }

    /// Uploads `data` as `name`.
    ///
    /// # Errors
    /// As [`Client::put`].
    pub fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<(u64, u32)> {
        self.put(
            name,
            &mut &data[..],
            data.len() as u64,
            crc32c::crc32c(data),
        )
    }

    /// Downloads `name` into `out` and verifies it against the CRC-32C the
    /// server reports; returns the bytes written.
    ///
    /// # Errors
    /// `ERR` replies, I/O errors, a body cut short, or
    /// [`ClientError::Checksum`] if the bytes do not match.
    pub fn get(&mut self, name: &str, out: &mut dyn Write) -> Result<u64> {
        let mut checked = CrcWriter { inner: out, crc: 0 };
        let download = self.get_range(name, 0, None, &mut checked)?;
        match download.crc {
            Some(expected) if expected != checked.crc => Err(ClientError::Checksum {
                expected,
                received: checked.crc,
            }),
            _ => Ok(download.len),
        }
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
        let encoded = crate::name::encode(name);
        let line = match length {
            Some(length) => format!("GET {encoded} {offset} {length}"),
            None if offset > 0 => format!("GET {encoded} {offset}"),
            None => format!("GET {encoded}"),
        };
        self.send_line(&line)?;
        let fields = self.read_ok()?;
        let len: u64 = field(&fields, 0)?;
        let total: u64 = field(&fields, 1)?;
        let crc = optional_crc(&fields, 2)?;
        self.read_body(len, out)?;
        Ok(Download { len, total, crc })
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
        self.send_line(&format!("STAT {}", crate::name::encode(name)))?;
        let fields = self.read_ok()?;
        Ok(Stat {
            size: field(&fields, 0)?,
            mtime: field(&fields, 1)?,
            crc: optional_crc(&fields, 2)?,
        })
    }

    /// Every file whose name starts with `prefix`, sorted by name.
    ///
    /// # Errors
    /// `ERR` replies, I/O errors, or a malformed listing.
    pub fn list(&mut self, prefix: &str) -> Result<Vec<RemoteFile>> {
        if prefix.is_empty() {
            self.send_line("LIST")?;
        } else {
            self.send_line(&format!("LIST {}", crate::name::encode(prefix)))?;
        }
        let fields = self.read_ok()?;
        let mut body = Vec::new();
        self.read_body(field(&fields, 0)?, &mut body)?;
        let text =
            String::from_utf8(body).map_err(|_| ClientError::protocol("listing is not UTF-8"))?;
        text.lines().map(parse_list_line).collect()
    }

    /// Removes `name`.
    ///
    /// # Errors
    /// `ERR 404` and the like.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.send_line(&format!("DEL {}", crate::name::encode(name)))?;
        self.read_ok().map(drop)
    }

    /// Sends `data` and returns what the server echoed.
    ///
    /// # Errors
    /// I/O errors.
    pub fn echo(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.send_line(&format!("ECHO {}", data.len()))?;
        self.reader.get_mut().write_all(data)?;
        let fields = self.read_ok()?;
        let mut out = Vec::new();
        self.read_body(field(&fields, 0)?, &mut out)?;
        Ok(out)
    }

    /// Says goodbye; the server closes the connection.
    ///
    /// # Errors
    /// I/O errors.
    pub fn quit(mut self) -> Result<()> {
        self.send_line("QUIT")?;
        self.read_ok().map(drop)
    }

    fn send_line(&mut self, line: &str) -> Result<()> {
        let stream = self.reader.get_mut();
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        stream.write_all(&buf)?;
        Ok(())
    }

    /// Reads one reply line; `OK` gives its fields, `ERR` an error.
    fn read_ok(&mut self) -> Result<Vec<String>> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(MAX_HEADER as u64)
            .read_until(b'\n', &mut line)?;
        if line.pop() != Some(b'\n') {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            )));
        }
        let line =
            String::from_utf8(line).map_err(|_| ClientError::protocol("reply is not UTF-8"))?;
        match parse_reply(&line) {
            Some(Reply::Ok(fields)) => Ok(fields),
            Some(Reply::Err { code, message }) => Err(ClientError::Remote { code, message }),
            None => Err(ClientError::protocol(format!("unexpected reply {line:?}"))),
        }
    }

    fn read_body(&mut self, len: u64, out: &mut dyn Write) -> Result<()> {
        let copied = io::copy(&mut (&mut self.reader).take(len), out)?;
        if copied != len {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed after {copied} of {len} bytes"),
            )));
        }
        Ok(())
    }
}

/// An optional CRC-32C field: absent is `None`, malformed an error.
fn optional_crc(fields: &[String], index: usize) -> Result<Option<u32>> {
    fields
        .get(index)
        .map(|f| {
            u32::from_str_radix(f, 16)
                .map_err(|_| ClientError::protocol(format!("bad checksum field {f:?}")))
        })
        .transpose()
}

/// Passes bytes through while adding up their CRC-32C.
struct CrcWriter<'a> {
    inner: &'a mut dyn Write,
    crc: u32,
}

impl Write for CrcWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn field<T: std::str::FromStr>(fields: &[String], index: usize) -> Result<T> {
    fields
        .get(index)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| ClientError::protocol(format!("reply field {index} missing or malformed")))
}

fn parse_list_line(line: &str) -> Result<RemoteFile> {
    let bad = || ClientError::protocol(format!("bad listing line {line:?}"));
    let mut parts = line.splitn(3, ' ');
    let size = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let mtime = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let encoded = parts.next().ok_or_else(bad)?;
    let name = crate::name::percent_decode(encoded.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    Ok(RemoteFile { name, size, mtime })
}
