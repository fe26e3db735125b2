//! `aws-chunked`: the body coding of S3's streaming uploads, decoded in
//! whatever pieces the body arrives (after its HTTP framing: a
//! `Content-Length`, or `Transfer-Encoding: chunked` around it, as the
//! AWS CLI sends it). Sans-IO, beside the HTTP chunked decoder
//! (`chunked.rs`), for the same reason: the serve layer, which holds an
//! upload's decoders, imports no HTTP type.
//!
//! ```text
//! body     = *chunk last-chunk *trailer CRLF
//! chunk    = hex-size [ ";chunk-signature=" 64HEXDIG ] CRLF data CRLF
//! last     = "0" [ ";chunk-signature=" 64HEXDIG ] CRLF
//! trailer  = name ":" value CRLF     x-amz-checksum-<algorithm>, x-amz-trailer-signature
//! ```
//!
//! A signed body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) has each
//! chunk's signature checked, chained from the request's, when its data
//! ends, and the trailer's at the end; an unsigned one
//! (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) has none. The payload must add
//! up to `x-amz-decoded-content-length`. Every line is bounded, so a peer
//! cannot make the decoder hold more than [`MAX_TRAILER`] bytes.

use sha2::{Digest, Sha256};

use crate::access::sigv4::Chain;

/// Longest chunk header or trailer line (a size and a signature take 82).
const MAX_LINE: usize = 256;
/// Most bytes of trailer lines a body may carry.
pub const MAX_TRAILER: usize = 1024;

/// What a request states of its `aws-chunked` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coding {
    /// `x-amz-decoded-content-length`: the payload's length.
    pub declared: u64,
    /// The signature chain of a signed body.
    pub chain: Option<Chain>,
    /// Whether its trailer is signed (`...-PAYLOAD-TRAILER`).
    pub signed_trailer: bool,
}

/// Why an `aws-chunked` body is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsChunkError {
    /// Framing that is not the coding's, or over its bounds.
    Malformed(&'static str),
    /// A chunk's or the trailer's signature is missing or not the one
    /// chained from the request's.
    Signature,
    /// The payload's length is not the one declared.
    Length,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk's header line.
    Header,
    /// Inside chunk data.
    Data {
        left: u64,
    },
    /// The CRLF after chunk data (`cr`: its CR is seen).
    DataEnd {
        cr: bool,
    },
    /// Reading trailer lines, up to an empty one.
    Trailer,
    Done,
}

/// The decoder of one body.
#[derive(Debug)]
pub struct AwsChunked {
    state: State,
    /// The header or trailer line being read.
    line: Vec<u8>,
    chain: Option<Chain>,
    signed_trailer: bool,
    /// The SHA-256 of the current chunk's data (signed bodies).
    data: Sha256,
    /// The signature the current chunk states.
    signature: [u8; 32],
    declared: u64,
    decoded: u64,
    /// The trailer lines as signed: `name:value\n` each.
    signed_lines: Vec<u8>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<[u8; 32]>,
}

impl AwsChunked {
    /// The decoder of a body coded as `coding` states.
    pub fn new(coding: Coding) -> AwsChunked {
        AwsChunked {
            state: State::Header,
            line: Vec::new(),
            chain: coding.chain,
            signed_trailer: coding.signed_trailer,
            data: Sha256::new(),
            signature: [0; 32],
            declared: coding.declared,
            decoded: 0,
            signed_lines: Vec::new(),
            trailers: Vec::new(),
            trailer_signature: None,
        }
    }

    /// Whether the whole body, its trailer included, has been seen (and
    /// checked).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The payload's bytes so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// The trailer's fields but its signature (names lower-case), once
    /// [`AwsChunked::is_done`].
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Decodes from the front of `input`. Returns how many bytes were used
    /// and, if it reached chunk data, the payload among them (always at
    /// the end of what was used); `(n, [])` with all of `input` used means
    /// "more is needed". Call again with the rest.
    ///
    /// # Errors
    /// Malformed or overlong framing, bytes after the end, a signature
    /// that does not check, a payload longer (or, at the end, shorter)
    /// than declared.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, &'a [u8]), AwsChunkError> {
        let mut used = 0;
        while used < input.len() {
            let byte = input[used];
            match self.state {
                State::Data { left } => {
                    let rest = &input[used..];
                    let take = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                    let payload = &rest[..take];
                    self.decoded += take as u64;
                    if self.decoded > self.declared {
                        return Err(AwsChunkError::Length);
                    }
                    if self.chain.is_some() {
                        self.data.update(payload);
                    }
                    let left = left - take as u64;
                    self.state = match left {
                        0 => State::DataEnd { cr: false },
                        left => State::Data { left },
                    };
                    return Ok((used + take, payload));
                }
                State::DataEnd { cr: false } if byte == b'\r' => {
                    self.state = State::DataEnd { cr: true };
                }
                State::DataEnd { cr: true } if byte == b'\n' => {
                    self.end_chunk()?;
                    self.state = State::Header;
                }
                State::DataEnd { .. } => {
                    return Err(AwsChunkError::Malformed("chunk data longer than its size"));
                }
                State::Done => {
                    return Err(AwsChunkError::Malformed("bytes after the body's end"));
                }
                State::Header | State::Trailer => self.line_byte(byte)?,
            }
            used += 1;
        }
        Ok((used, &[]))
    }

    /// One byte of a header or trailer line; a whole line is read.
    fn line_byte(&mut self, byte: u8) -> Result<(), AwsChunkError> {
        if self.line.len() >= MAX_LINE {
            return Err(AwsChunkError::Malformed("chunk header line too long"));
        }
        if byte != b'\n' {
            self.line.push(byte);
            return Ok(());
        }
        let mut line = std::mem::take(&mut self.line);
        if line.pop() != Some(b'\r') {
            return Err(AwsChunkError::Malformed("a line not ended by CRLF"));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| AwsChunkError::Malformed("a line that is not UTF-8"))?;
        self.state = match self.state {
            State::Header => self.header(text)?,
            _ => self.trailer_line(text)?,
        };
        line.clear();
        self.line = line;
        Ok(())
    }

    /// A chunk's header: its size and, signed, its signature.
    fn header(&mut self, line: &str) -> Result<State, AwsChunkError> {
        let (size, extension) = line.split_once(';').unwrap_or((line, ""));
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AwsChunkError::Malformed("a chunk size that is not hex"));
        }
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| AwsChunkError::Malformed("a chunk size that is not hex"))?;
        if self.chain.is_some() {
            let signature = extension
                .strip_prefix("chunk-signature=")
                .and_then(hex32)
                .ok_or(AwsChunkError::Signature)?;
            self.signature = signature;
        }
        if size > 0 {
            return Ok(State::Data { left: size });
        }
        // The last chunk is signed as one of no data.
        self.end_chunk()?;
        Ok(State::Trailer)
    }

    /// A chunk's data has ended: its signature is checked.
    fn end_chunk(&mut self) -> Result<(), AwsChunkError> {
        let Some(chain) = &mut self.chain else {
            return Ok(());
        };
        let data: [u8; 32] = std::mem::take(&mut self.data).finalize().into();
        match chain.chunk(&data, &self.signature) {
            true => Ok(()),
            false => Err(AwsChunkError::Signature),
        }
    }

    /// A trailer line; the empty one ends the body.
    fn trailer_line(&mut self, line: &str) -> Result<State, AwsChunkError> {
        if line.is_empty() {
            return self.end();
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(AwsChunkError::Malformed("a trailer line without ':'"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "x-amz-trailer-signature" {
            self.trailer_signature = Some(hex32(value).ok_or(AwsChunkError::Signature)?);
            return Ok(State::Trailer);
        }
        self.signed_lines
            .extend_from_slice(format!("{name}:{value}\n").as_bytes());
        if self.signed_lines.len() > MAX_TRAILER {
            return Err(AwsChunkError::Malformed("trailer too long"));
        }
        self.trailers.push((name, value.to_owned()));
        Ok(State::Trailer)
    }

    /// The end: the trailer's signature and the payload's length checked.
    fn end(&mut self) -> Result<State, AwsChunkError> {
        if let (Some(chain), true) = (&mut self.chain, self.signed_trailer) {
            let signature = self.trailer_signature.ok_or(AwsChunkError::Signature)?;
            let lines: [u8; 32] = Sha256::digest(&self.signed_lines).into();
            if !chain.trailer(&lines, &signature) {
                return Err(AwsChunkError::Signature);
            }
        }
        match self.decoded == self.declared {
            true => Ok(State::Done),
            false => Err(AwsChunkError::Length),
        }
    }
}

/// 32 bytes from 64 hex digits.
fn hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0; 32];
    for (at, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * at..2 * at + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::sigv4::example_chain;

    /// AWS's chunked-upload example: 64 KiB and 1 KiB of `a`, with the
    /// published chunk signatures (and, with a trailer, its CRC-32C and
    /// trailer signature).
    fn example(trailer: bool) -> (Vec<u8>, Coding) {
        let (seed, signatures, lines) = match trailer {
            false => (
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                [
                    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
                ],
                "",
            ),
            true => (
                "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                [
                    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
                ],
                "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:\
                 d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
            ),
        };
        let mut body = Vec::new();
        for (size, signature) in [65_536, 1024, 0].into_iter().zip(signatures) {
            body.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
            body.extend(std::iter::repeat_n(b'a', size));
            if size > 0 {
                body.extend_from_slice(b"\r\n");
            }
        }
        body.extend_from_slice(lines.as_bytes());
        body.extend_from_slice(b"\r\n");
        let coding = Coding {
            declared: 66_560,
            chain: Some(example_chain(seed)),
            signed_trailer: trailer,
        };
        (body, coding)
    }

    /// Decodes `body` fed in pieces of `piece` bytes.
    fn decode_all(body: &[u8], coding: Coding, piece: usize) -> Result<AwsDone, AwsChunkError> {
        let mut decoder = AwsChunked::new(coding);
        let mut out = Vec::new();
        for mut input in body.chunks(piece) {
            while !input.is_empty() {
                let (used, payload) = decoder.decode(input)?;
                out.extend_from_slice(payload);
                input = &input[used..];
            }
        }
        Ok((out, decoder.is_done(), decoder.trailers().to_vec()))
    }

    type AwsDone = (Vec<u8>, bool, Vec<(String, String)>);

    #[test]
    fn the_documented_example_decodes_whole_and_in_pieces() {
        let (body, coding) = example(false);
        assert_eq!(body.len(), 66_824, "the documented Content-Length");
        for piece in [body.len(), 1, 2, 3, 7, 80, 81, 82, 83, 4096, 65_536 + 84] {
            let (out, done, trailers) = decode_all(&body, coding.clone(), piece).unwrap();
            assert_eq!(out, vec![b'a'; 66_560], "pieces of {piece}");
            assert!(done && trailers.is_empty());
        }
    }

    #[test]
    fn the_documented_trailer_example_decodes() {
        let (body, coding) = example(true);
        for piece in [body.len(), 1, 5, 83, 999] {
            let (out, done, trailers) = decode_all(&body, coding.clone(), piece).unwrap();
            assert_eq!(out.len(), 66_560);
            assert!(done);
            assert_eq!(
                trailers,
                [("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
            );
        }
    }

    /// Every split point of a small body: the decoder keeps nothing of a
    /// piece but the line it is in.
    #[test]
    fn an_unsigned_body_decodes_at_every_split_point() {
        let body = b"3\r\nabc\r\n4\r\ndefg\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
        let coding = Coding {
            declared: 7,
            chain: None,
            signed_trailer: false,
        };
        for split in 0..=body.len() {
            let mut decoder = AwsChunked::new(coding.clone());
            let mut out = Vec::new();
            for mut input in [&body[..split], &body[split..]] {
                while !input.is_empty() {
                    let (used, payload) = decoder.decode(input).unwrap();
                    out.extend_from_slice(payload);
                    input = &input[used..];
                }
            }
            assert_eq!(out, b"abcdefg", "split at {split}");
            assert!(decoder.is_done(), "split at {split}");
            assert_eq!(decoder.trailers()[0].1, "NSRBwg==");
        }
    }

    #[test]
    fn altered_missing_or_misplaced_signatures_are_refused() {
        let (body, coding) = example(false);
        // A byte of the second chunk's data changed.
        let mut altered = body.clone();
        altered[65_536 + 200] = b'b';
        let failed = decode_all(&altered, coding.clone(), 4096);
        assert_eq!(failed.unwrap_err(), AwsChunkError::Signature);
        // A signature changed, or left out.
        let text = String::from_utf8_lossy(&body).into_owned();
        let wrong = text.replacen("ad80c730", "ad80c731", 1);
        let failed = decode_all(wrong.as_bytes(), coding.clone(), 4096);
        assert_eq!(failed.unwrap_err(), AwsChunkError::Signature);
        let missing = text.replacen(
            ";chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "",
            1,
        );
        let failed = decode_all(missing.as_bytes(), coding.clone(), 4096);
        assert_eq!(failed.unwrap_err(), AwsChunkError::Signature);
        // The chunks in another chain (the trailer example's seed).
        let (_, other) = example(true);
        let coding = Coding {
            signed_trailer: false,
            ..other
        };
        let failed = decode_all(&body, coding, 4096);
        assert_eq!(failed.unwrap_err(), AwsChunkError::Signature);
        // A trailer whose value was changed after signing.
        let (body, coding) = example(true);
        let text = String::from_utf8_lossy(&body).replacen("sOO8/Q==", "sOO8/R==", 1);
        let failed = decode_all(text.as_bytes(), coding, 4096);
        assert_eq!(failed.unwrap_err(), AwsChunkError::Signature);
    }

    #[test]
    fn the_payload_must_be_as_long_as_declared() {
        let body = b"3\r\nabc\r\n0\r\n\r\n";
        for declared in [2, 4] {
            let coding = Coding {
                declared,
                chain: None,
                signed_trailer: false,
            };
            let failed = decode_all(body, coding, 1);
            assert_eq!(failed.unwrap_err(), AwsChunkError::Length, "{declared}");
        }
    }

    #[test]
    fn malformed_and_overlong_framing_is_refused() {
        let coding = Coding {
            declared: 3,
            chain: None,
            signed_trailer: false,
        };
        let long = format!("3;{}\r\nabc\r\n0\r\n\r\n", "x".repeat(MAX_LINE));
        let endless_trailer = format!("3\r\nabc\r\n0\r\n{}", "x-a:b\r\n".repeat(200));
        for bad in [
            "x\r\nabc\r\n0\r\n\r\n",
            "3\nabc\r\n0\r\n\r\n",
            "3\r\nabcd\r\n0\r\n\r\n",
            "11111111111111111\r\n",
            "3\r\nabc\r\n0\r\nno colon\r\n\r\n",
            "3\r\nabc\r\n0\r\n\r\nmore",
            &long,
            &endless_trailer,
        ] {
            let failed = decode_all(bad.as_bytes(), coding.clone(), 3);
            assert!(
                matches!(failed, Err(AwsChunkError::Malformed(_))),
                "{bad:?}: {failed:?}"
            );
        }
    }
}
