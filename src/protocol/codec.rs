//! The FERRY/1 side of the serve layer: request lines become protocol-neutral
//! [`Operation`]s, [`Reply`]s become response lines. Sans-IO and stateless:
//! FERRY/1 carries no per-exchange state.

use super::{
    CRC_TRAILER, ProtocolError, Recovery, Request, Response, parse_crc_trailer, parse_request,
    parse_stream_trailer,
};
use crate::codec::{Decoded, Refusal, after_blank_lines};
use crate::serve::{
    Body, BodyLength, ErrorKind, Failure, Operation, Piece, Reply, Scope, Trailer, Version, Want,
};
use crate::storage::{ListedSession, StorageError};

/// The FERRY/1 code for a kind of failure.
pub fn error_code(kind: ErrorKind) -> u16 {
    kind.code()
}

/// Decodes the next request line of `data`.
pub fn decode(data: &[u8]) -> Decoded {
    match parse_request(data) {
        Ok(None) => Decoded::Incomplete,
        Ok(Some((request, used))) => Decoded::Request(operation(request).into(), used),
        Err(ProtocolError {
            code,
            message,
            recovery,
        }) => Decoded::Refused(Refusal {
            code,
            message,
            skip: match recovery {
                Recovery::Close => None,
                Recovery::Skip { line, body } => Some((line, Body::fixed(body))),
            },
        }),
    }
}

/// What a FERRY/1 request line asks for.
fn operation(request: Request) -> Operation {
    match request {
        Request::Put {
            name,
            size,
            crc,
            mtime,
            crc_follows,
        } => Operation::Put {
            name,
            body: Body::fixed(size),
            crc,
            mtime,
            trailer: crc_follows.then_some(Trailer {
                len: CRC_TRAILER,
                parse: parse_crc_trailer,
            }),
        },
        // The chunked coding is HTTP's, and so is its decoder; the CRC
        // comes in the chunked trailer section, which adds no length.
        Request::PutStream { name, mtime } => Operation::Put {
            name,
            body: Body {
                length: BodyLength::Chunked,
                awaits_go_ahead: false,
            },
            crc: None,
            mtime,
            trailer: Some(Trailer {
                len: 0,
                parse: parse_stream_trailer,
            }),
        },
        Request::Get {
            name,
            offset,
            length,
        } => Operation::Get {
            name,
            want: Want::Span { offset, length },
        },
        Request::Stat { name } => Operation::Stat { name },
        Request::List { prefix } => Operation::List {
            prefix,
            scope: Scope::Tree,
            format: listing_line,
            body: true,
        },
        Request::Dir { folder } => Operation::List {
            prefix: folder,
            scope: Scope::Directory,
            format: folder_line,
            body: true,
        },
        Request::Del { name } => Operation::Delete { name },
        Request::Move { from, to } => Operation::Move { from, to },
        Request::Echo { size } => Operation::Echo { size },
        Request::Upload { name, size, crc } => Operation::Upload { name, size, crc },
        Request::Append { id, offset, len } => Operation::Append { id, offset, len },
        Request::Commit { id, mtime } => Operation::Commit { id, mtime },
        Request::Abort { id } => Operation::Abort { id },
        Request::Sessions => Operation::Sessions,
        Request::Auth { token } => Operation::Auth { token },
        Request::Quit => Operation::Quit,
    }
}

/// A LIST body: one line per file, `<size> <mtime> <encoded-name>`.
fn listing_line(_: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
    if let Piece::File { entry, .. } = piece {
        let name = crate::name::encode(&entry.name);
        let line = format!("{} {} {name}\n", entry.info.size, entry.info.mtime);
        out.extend_from_slice(line.as_bytes());
    }
}

/// A DIR body: one line per sub-folder, `- <mtime> <encoded-name>/`, then
/// one per file as in LIST.
fn folder_line(prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
    if let Piece::Directory { name, mtime, .. } = piece {
        let name = crate::name::encode(name);
        out.extend_from_slice(format!("- {mtime} {name}\n").as_bytes());
    }
    listing_line(prefix, piece, out);
}

/// The answer to `SESSIONS`: `OK <n>`, then `n` bytes, one line a session:
/// `<upload-id> <received> <size> <age> <expires-in> <encoded-name>`.
fn session_lines(sessions: &[ListedSession], out: &mut Vec<u8>) {
    let mut body = String::new();
    for listed in sessions {
        let info = &listed.info;
        body += &format!(
            "{} {} {} {} {} {}\n",
            info.id,
            info.received,
            info.size,
            listed.age,
            listed.expires_in,
            info.name.encoded()
        );
    }
    Response::Length {
        len: body.len() as u64,
    }
    .write_to(out);
    out.extend_from_slice(body.as_bytes());
}

/// Whether `input` holds a whole request line (blank lines before it do
/// not count).
pub fn holds_whole_head(input: &[u8]) -> bool {
    after_blank_lines(input).contains(&b'\n')
}

/// Appends the answer to `reply` to `out`.
pub fn encode(reply: &Reply, out: &mut Vec<u8>) {
    let response = match reply {
        Reply::Nothing | Reply::GoAhead => return,
        Reply::Done | Reply::Moved { .. } => Response::Ok,
        Reply::Stored { size, crc, .. } => Response::Stored {
            size: *size,
            crc: *crc,
        },
        Reply::File { version, len, .. } => Response::Body {
            len: *len,
            total: version.info.size,
            crc: stated_crc(version),
            mtime: version.info.mtime,
        },
        Reply::Stat { version } => Response::Stat {
            size: version.info.size,
            mtime: version.info.mtime,
            crc: stated_crc(version),
        },
        Reply::Listing { len } => Response::Length { len: *len },
        Reply::Echo { size } => Response::Length { len: *size },
        Reply::Appended { received } => Response::Length { len: *received },
        Reply::Session { id, received } => Response::Session {
            id,
            received: *received,
        },
        Reply::Authenticated { name } => Response::Authenticated { name },
        Reply::Sessions(sessions) => return session_lines(sessions, out),
        Reply::Unsatisfiable { size } => {
            let message = format!("offset past the end ({size} bytes)");
            return Response::Error {
                code: 416,
                message: &message,
            }
            .write_to(out);
        }
        Reply::Directory { .. } => return failure(&StorageError::IsDirectory.into(), out),
        Reply::Failed(failed) => return failure(failed, out),
        Reply::NotModified { .. } | Reply::Archive { .. } | Reply::More(_) => {
            debug_assert!(false, "FERRY/1 never asks conditionally, nor for archives");
            let failed = Failure::new(ErrorKind::Internal, "unexpected answer");
            return failure(&failed, out);
        }
    };
    response.write_to(out);
}

/// The CRC-32C a `GET` or `STAT` line states. The serve layer computes it
/// before answering either (`Want::needs_checksum`), so it is always known
/// here; were it not, the zeros would make the client's check fail loudly
/// rather than pass.
fn stated_crc(version: &Version) -> u32 {
    debug_assert!(version.crc.is_some(), "a FERRY/1 answer without its CRC");
    version.crc.unwrap_or(0)
}

/// `ERR <code> <message>`.
pub fn failure(failure: &Failure, out: &mut Vec<u8>) {
    Response::Error {
        code: error_code(failure.kind),
        message: &failure.message,
    }
    .write_to(out);
}

/// The answer to a refused request line.
pub fn refuse(refusal: &Refusal, out: &mut Vec<u8>) {
    Response::Error {
        code: refusal.code,
        message: &refusal.message,
    }
    .write_to(out);
}

/// `OK FERRY/1 <client-id>`, sent on accept.
pub fn greeting(client_id: u64, auth: bool, out: &mut Vec<u8>) {
    Response::Greeting { client_id, auth }.write_to(out);
}

/// `ERR 503 busy`, for a connection over the cap.
pub fn busy(out: &mut Vec<u8>) {
    Response::Error {
        code: 503,
        message: "busy",
    }
    .write_to(out);
}

/// The answer for a client that spoke plaintext to a TLS port.
pub fn plaintext_on_tls_port(out: &mut Vec<u8>) {
    Response::Error {
        code: 400,
        message: "this port speaks TLS: connect with TLS (ferry --tls)",
    }
    .write_to(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::NameError;

    #[test]
    fn name_refusals_keep_their_codes() {
        assert_eq!(error_code(NameError::Reserved.into()), 403);
        assert_eq!(error_code(NameError::DotSegment.into()), 400);
    }

    #[test]
    fn replies_that_say_nothing_write_nothing() {
        let mut out = Vec::new();
        encode(&Reply::Nothing, &mut out);
        encode(&Reply::GoAhead, &mut out);
        assert!(out.is_empty());
        encode(&Reply::Unsatisfiable { size: 9 }, &mut out);
        assert_eq!(out, b"ERR 416 offset past the end (9 bytes)\n");
    }
}
