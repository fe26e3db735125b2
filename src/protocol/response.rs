//! The server's FERRY/1 response lines: [`Response`] and its one writer.
//! The client reads them with [`super::reply`]; what each line answers is
//! decided by the serve layer and put into words by [`super::codec`].

use std::io::Write;

/// One response line, formatted by [`Response::write_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// `OK FERRY/1 <client-id>`, sent on accept; ` auth` follows when
    /// the server requires tokens for some requests.
    Greeting {
        /// Unique for the life of the server process.
        client_id: u64,
        /// Access control is on.
        auth: bool,
    },
    /// `OK <name>`, for AUTH.
    Authenticated {
        /// The token's name.
        name: &'a str,
    },
    /// `OK`, for DEL and QUIT.
    Ok,
    /// `OK <size> <crc32c>`, for a committed PUT.
    Stored {
        /// Bytes stored.
        size: u64,
        /// Their CRC-32C.
        crc: u32,
    },
    /// `OK <n> <total> <crc32c> <mtime>`, then `n` bytes of file; `-` in
    /// place of the CRC-32C while it is not known (a file placed in the
    /// root by other means, before its checksum has been computed).
    Body {
        /// Bytes that follow.
        len: u64,
        /// Size of the whole file.
        total: u64,
        /// CRC-32C of the whole file (not of the range sent), if known.
        crc: Option<u32>,
        /// Modification time of the file, Unix seconds.
        mtime: i64,
    },
    /// `OK <size> <mtime> <crc32c>`, for STAT.
    Stat {
        /// File size.
        size: u64,
        /// Modification time, Unix seconds.
        mtime: i64,
        /// CRC-32C of the file.
        crc: u32,
    },
    /// `OK <upload-id> <received>`, for UPLOAD.
    Session {
        /// Session id.
        id: &'a str,
        /// Bytes staged so far.
        received: u64,
    },
    /// `OK <n>`, then `n` bytes (LIST listing, ECHO body); also APPEND's
    /// `OK <received>`.
    Length {
        /// Bytes that follow.
        len: u64,
    },
    /// `ERR <code> <message>`.
    Error {
        /// Three-digit code.
        code: u16,
        /// Reason; newlines are replaced so the answer stays one line.
        message: &'a str,
    },
}

impl Response<'_> {
    /// Appends the line, newline included, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Response::Greeting {
                client_id,
                auth: false,
            } => writeln!(out, "OK FERRY/1 {client_id}"),
            Response::Greeting {
                client_id,
                auth: true,
            } => writeln!(out, "OK FERRY/1 {client_id} auth"),
            Response::Authenticated { name } => writeln!(out, "OK {name}"),
            Response::Ok => writeln!(out, "OK"),
            Response::Stored { size, crc } => writeln!(out, "OK {size} {crc:08x}"),
            Response::Body {
                len,
                total,
                crc: Some(crc),
                mtime,
            } => writeln!(out, "OK {len} {total} {crc:08x} {mtime}"),
            Response::Body {
                len,
                total,
                crc: None,
                mtime,
            } => writeln!(out, "OK {len} {total} - {mtime}"),
            Response::Stat { size, mtime, crc } => writeln!(out, "OK {size} {mtime} {crc:08x}"),
            Response::Length { len } => writeln!(out, "OK {len}"),
            Response::Session { id, received } => writeln!(out, "OK {id} {received}"),
            Response::Error { code, message } => {
                let message = message.replace(['\r', '\n'], " ");
                writeln!(out, "ERR {code} {message}")
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_responses() {
        let line = |r: Response| {
            let mut out = Vec::new();
            r.write_to(&mut out);
            String::from_utf8(out).unwrap()
        };
        let greeting = |auth| Response::Greeting { client_id: 7, auth };
        assert_eq!(line(greeting(false)), "OK FERRY/1 7\n");
        assert_eq!(line(greeting(true)), "OK FERRY/1 7 auth\n");
        assert_eq!(
            line(Response::Authenticated { name: "build" }),
            "OK build\n"
        );
        assert_eq!(
            line(Response::Stored { size: 3, crc: 0xab }),
            "OK 3 000000ab\n"
        );
        let body = Response::Body {
            len: 1,
            total: 9,
            crc: Some(0xc0ffee),
            mtime: 1_700_000_000,
        };
        assert_eq!(line(body), "OK 1 9 00c0ffee 1700000000\n");
        let unknown = Response::Body {
            len: 1,
            total: 9,
            crc: None,
            mtime: 1_700_000_000,
        };
        assert_eq!(line(unknown), "OK 1 9 - 1700000000\n");
        let err = Response::Error {
            code: 404,
            message: "no\nsuch",
        };
        assert_eq!(line(err), "ERR 404 no such\n");
    }
}
