//! What the client checks on its own side: the CRC-32C of the bytes it
//! writes out ([`CrcWriter`], a download checked against the server's)
//! and of a local file ([`crc_of`], an upload's), and a local file's
//! modification time as FERRY/1 carries it.

use std::io::{self, Read, Write};

use super::rate;
use super::{ClientError, Result};

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
        self.crc = crate::formats::castagnoli::append(self.crc, &buf[..n]);
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
                crc = crate::formats::castagnoli::append(crc, &buf[..n]);
                len += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
