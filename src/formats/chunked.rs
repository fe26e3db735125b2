//! Decoding chunked bodies incrementally, in whatever pieces they arrive:
//! HTTP/1.1's `Transfer-Encoding: chunked` and FERRY/1's streamed `PUT`,
//! which share the coding, so it belongs to neither codec (and the serve
//! layer, which holds an upload's decoder, imports no HTTP type). Sans-IO.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! FERRY/1's `PUT <name> * -` uses the same coding, with its CRC-32C in
//! the trailer section: the decoder keeps that section's bytes (bounded by
//! the same 4 KiB as all framing) for the codec to read.

/// Longest chunk-size line (with extensions) or trailer section accepted.
const MAX_FRAMING: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        value: u64,
        digits: usize,
    },
    /// Skipping a chunk extension up to the line end.
    Extension {
        value: u64,
    },
    /// Expecting the LF of a size line.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data.
    Data {
        left: u64,
    },
    /// Expecting the CRLF after chunk data.
    DataCr,
    DataLf,
    /// In the trailer section; `line` counts bytes of the current line.
    Trailer {
        line: usize,
    },
    TrailerLf {
        line: usize,
    },
    Done,
}

/// Why a chunked body is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkError(pub &'static str);

/// The decoder for one body.
#[derive(Debug, Clone)]
pub struct ChunkDecoder {
    state: State,
    framing: usize,
    /// The trailer section's bytes, its final CRLF included.
    trailer: Vec<u8>,
}

impl Default for ChunkDecoder {
    fn default() -> ChunkDecoder {
        ChunkDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            framing: 0,
            trailer: Vec::new(),
        }
    }
}

impl ChunkDecoder {
    /// Whether the whole body (trailers included) has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailer section as it arrived (`CRLF` alone when empty), once
    /// [`ChunkDecoder::is_done`].
    pub fn trailer_section(&self) -> &[u8] {
        &self.trailer
    }

    /// Decodes from the front of `input`. Returns how many bytes were used
    /// and, if it reached chunk data, the payload among them (always at the
    /// end of what was used). Call again with the rest.
    ///
    /// # Errors
    /// Malformed framing, or framing longer than 4 KiB.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, &'a [u8]), ChunkError> {
        let mut used = 0;
        while used < input.len() {
            if let State::Data { left } = self.state {
                let take =
                    usize::try_from(left).map_or(input.len() - used, |l| l.min(input.len() - used));
                let payload = &input[used..used + take];
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { left }
                };
                return Ok((used + take, payload));
            }
            if self.state == State::Done {
                break;
            }
            self.framing += 1;
            if self.framing > MAX_FRAMING {
                return Err(ChunkError("chunk framing too long"));
            }
            if matches!(self.state, State::Trailer { .. } | State::TrailerLf { .. }) {
                self.trailer.push(input[used]);
            }
            self.state = self.step(input[used])?;
            used += 1;
        }
        Ok((used, &[]))
    }

    fn step(&mut self, byte: u8) -> Result<State, ChunkError> {
        let next = match (self.state, byte) {
            (State::Size { value, digits }, b) if b.is_ascii_hexdigit() => {
                if digits == 16 {
                    return Err(ChunkError("chunk size too large"));
                }
                let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                State::Size {
                    value: value << 4 | digit,
                    digits: digits + 1,
                }
            }
            (State::Size { value, digits }, b';') if digits > 0 => State::Extension { value },
            (State::Size { value, digits }, b'\r') if digits > 0 => State::SizeLf { value },
            (State::Extension { value }, b'\r') => State::SizeLf { value },
            (State::Extension { value }, b) if b != b'\n' => State::Extension { value },
            (State::SizeLf { value: 0 }, b'\n') => State::Trailer { line: 0 },
            (State::SizeLf { value }, b'\n') => {
                self.framing = 0;
                State::Data { left: value }
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.framing = 0;
                State::Size {
                    value: 0,
                    digits: 0,
                }
            }
            (State::Trailer { line }, b'\r') => State::TrailerLf { line },
            (State::Trailer { line }, b) if b != b'\n' => State::Trailer { line: line + 1 },
            (State::TrailerLf { line: 0 }, b'\n') => State::Done,
            (State::TrailerLf { .. }, b'\n') => State::Trailer { line: 0 },
            _ => return Err(ChunkError("malformed chunked body")),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut decoder = ChunkDecoder::default();
        let mut out = Vec::new();
        let mut fed = 0;
        let mut buffered: Vec<u8> = Vec::new();
        while !decoder.is_done() && fed < input.len() {
            let end = (fed + piece).min(input.len());
            buffered.extend_from_slice(&input[fed..end]);
            fed = end;
            loop {
                let (used, payload) = decoder.decode(&buffered)?;
                out.extend_from_slice(payload);
                buffered.drain(..used);
                if used == 0 || buffered.is_empty() || decoder.is_done() {
                    break;
                }
            }
        }
        Ok((out, fed - buffered.len()))
    }

    #[test]
    fn decodes_in_any_pieces() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let (out, used) = decode_all(body, piece).unwrap();
            assert_eq!(out, b"hello, world", "pieces of {piece}");
            assert_eq!(&body[used..], b"NEXT", "pieces of {piece}");
        }
    }

    #[test]
    fn keeps_the_trailer_section() {
        let body = b"5\r\nhello\r\n0\r\nCRC 9a71bb4c\r\n\r\nNEXT";
        for piece in 1..body.len() {
            let mut decoder = ChunkDecoder::default();
            let mut at = 0;
            while !decoder.is_done() {
                let end = (at + piece).min(body.len());
                let (used, _) = decoder.decode(&body[at..end]).unwrap();
                at += used;
            }
            assert_eq!(decoder.trailer_section(), b"CRC 9a71bb4c\r\n\r\n");
            assert_eq!(&body[at..], b"NEXT", "pieces of {piece}");
        }
    }

    #[test]
    fn refuses_malformed_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"5\r\nhello0\r\n",
            b"5\nhello\r\n",
            b"11111111111111111\r\n",
            b"\r\n",
        ] {
            assert!(decode_all(bad, 3).is_err(), "{bad:?}");
        }
    }
}
