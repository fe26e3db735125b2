//! The FERRY/1 side of the serve layer: request lines become protocol-neutral
//! [`Operation`]s, [`Reply`]s become response lines. Sans-IO and stateless:
//! FERRY/1 carries no per-exchange state.

use super::{
    CRC_TRAILER, ProtocolError, Recovery, Request, Response, parse_crc_trailer, parse_request,
    parse_stream_trailer,
};
use crate::model::ListedSession;
use crate::serve::decoded::{Decoded, Refusal, after_blank_lines};
use crate::serve::ops;
use crate::serve::terms::PlainFormat;
use crate::serve::{
    Body, BodyLength, ErrorKind, Failure, Folders, Operation, Overwrite, Piece, Reply, Scope,
    Trailer, Version, Want,
};

/// The FERRY/1 code for a kind of failure.
pub fn error_code(kind: ErrorKind) -> u16 {
    kind.code()
}

/// A FERRY/1 connection's codec: stateless but for its error path, which
/// answers a peer that speaks HTTP in HTTP (the one home of that rule).
#[derive(Debug, Default)]
pub struct Ferry {
    /// The server's HTTP port, if it has one, to name in that answer.
    http_port: Option<u16>,
    /// The last request refused was an HTTP request.
    http_peer: bool,
}

impl Ferry {
    /// The codec of a server whose HTTP listener is on `http_port`.
    pub fn new(http_port: Option<u16>) -> Ferry {
        Ferry {
            http_port,
            http_peer: false,
        }
    }

    /// Decodes the next request line of `data`. A line that is no FERRY/1
    /// request but plainly an HTTP one (`GET / HTTP/1.1`) is refused, and
    /// [`Ferry::refuse`] then answers it in HTTP.
    pub fn decode(&mut self, data: &[u8]) -> Decoded {
        match decode(data) {
            Decoded::Refused(_) if is_http_request(data) => {
                self.http_peer = true;
                Decoded::Refused(Refusal {
                    code: 400,
                    message: "an HTTP request on the FERRY/1 port".to_owned(),
                    skip: None,
                })
            }
            decoded => decoded,
        }
    }

    /// The answer to a refused request: `ERR <code> <message>`, or for an
    /// HTTP request an HTTP `400` that says where HTTP is (the connection
    /// then closes).
    pub fn refuse(&self, refusal: &Refusal, out: &mut Vec<u8>) {
        if !self.http_peer {
            return refuse(refusal, out);
        }
        let body = match self.http_port {
            Some(port) => format!("this is ferry's FERRY/1 port; HTTP is on port {port}\n"),
            None => "this is ferry's FERRY/1 port, and this server serves no HTTP: \
                     use a FERRY/1 client (ferry --server)\n"
                .to_owned(),
        };
        out.extend_from_slice(
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
}

/// Whether the first line of `data` is plainly an HTTP/1 request line:
/// `<METHOD> <target> HTTP/1.<digit>`, the method in capitals.
fn is_http_request(data: &[u8]) -> bool {
    let data = after_blank_lines(data);
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    (1..=16).contains(&method.len())
        && method.iter().all(u8::is_ascii_uppercase)
        && !target.is_empty()
        && version.len() == 8
        && version.starts_with(b"HTTP/1.")
        && version[7].is_ascii_digit()
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

/// FERRY/1's folders exist through their files (PROTOCOL.md): made for
/// an upload, removed with the last file a DEL or MOVE takes out.
const FOLDERS: Folders = Folders::Implicit;

/// The share links' operations (`shares.rs`).
#[cfg(feature = "shares")]
use super::shares::operation as link_operation;
/// A build without share links never parses their verbs: the grammar
/// answers them 501 (`request/links.rs`).
#[cfg(not(feature = "shares"))]
fn link_operation(_: Request) -> Operation {
    unreachable!("a share link's verb parsed in a build without share links")
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
        } => {
            let trailer = crc_follows.then_some(Trailer {
                len: CRC_TRAILER,
                parse: parse_crc_trailer,
            });
            Operation::Put(put(name, Body::fixed(size), (crc, mtime), trailer))
        }
        // The chunked coding is HTTP's, and so is its decoder; the CRC
        // comes in the chunked trailer section, which adds no length.
        Request::PutStream { name, mtime } => {
            let body = Body {
                length: BodyLength::Chunked,
                awaits_go_ahead: false,
            };
            let trailer = Trailer {
                len: 0,
                parse: parse_stream_trailer,
            };
            Operation::Put(put(name, body, (None, mtime), Some(trailer)))
        }
        Request::Get {
            name,
            offset,
            length,
        } => Operation::Get(ops::Get {
            name,
            want: Want::Span { offset, length },
        }),
        Request::Stat { name } => Operation::Stat(ops::Stat { name }),
        Request::List { prefix } => Operation::List(ops::List {
            prefix,
            scope: Scope::Tree,
            format: Box::new(listing_line as PlainFormat),
            body: true,
        }),
        Request::Dir { folder } => Operation::List(ops::List {
            prefix: folder,
            scope: Scope::Directory,
            format: Box::new(folder_line as PlainFormat),
            body: true,
        }),
        Request::Del { name } => Operation::Delete(ops::Delete {
            name,
            folders: FOLDERS,
            folder_whole: true,
            preconditions: None,
        }),
        Request::DelFolder { folder } => Operation::DeleteFolder(ops::DeleteFolder {
            prefix: folder,
            folders: Folders::Implicit,
            preconditions: None,
        }),
        Request::Move { from, to } => Operation::MoveFile(ops::MoveFile {
            from,
            to,
            overwrite: Overwrite::Files,
            folders: FOLDERS,
            preconditions: None,
        }),
        Request::Echo { size } => Operation::Echo(ops::Echo { size }),
        Request::Upload { name, size, crc } => Operation::Upload(ops::Upload {
            name,
            size: Some(size),
            crc: Some(crc),
            meta: None,
            first: None,
            link: None,
        }),
        Request::Append { id, offset, len } => Operation::Append(ops::Append {
            id,
            offset,
            len,
            commit: false,
            checksum: None,
            size: None,
            anywhere: false,
            opener: None,
            create_only: false,
        }),
        Request::Commit { id, mtime } => Operation::Commit(ops::Commit { id, mtime }),
        Request::Abort { id } => Operation::Abort(ops::Abort { id, opener: None }),
        Request::Sessions => Operation::Sessions(ops::Sessions),
        Request::Auth { token } => Operation::Auth(ops::Auth { token }),
        Request::Quit => Operation::Quit(ops::Quit),
        Request::Health => Operation::Health(ops::Health),
        Request::Df { folder } => Operation::FreeSpace(ops::FreeSpace { prefix: folder }),
        request @ (Request::Share { .. }
        | Request::ShareFolder { .. }
        | Request::Shares
        | Request::Unshare { .. }) => link_operation(request),
    }
}

/// A FERRY/1 upload of `name`: its body, the CRC and mtime its request
/// line gave, and the trailer that follows the body, if any.
fn put(
    name: crate::name::Name,
    body: Body,
    (crc, mtime): (Option<u32>, Option<i64>),
    trailer: Option<Trailer>,
) -> ops::Put {
    ops::Put {
        name,
        body,
        crc,
        mtime,
        trailer,
        digests: None,
        folders: FOLDERS,
        props: None,
        preconditions: None,
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

/// The answer to a `DEL <folder>/` that left members: `OK <n>`, then `n`
/// bytes, one line a member that stayed, `<code> <encoded-name> <reason>`
/// (a folder's name ends in `/`), and `more <count>` last when more stayed
/// than are named. (All gone is a bare `OK`, [`Reply::Done`].)
fn remains_lines((remains, more): (&[(String, Failure)], u64), out: &mut Vec<u8>) {
    let mut body = String::new();
    for (name, failed) in remains {
        let code = error_code(failed.kind);
        let name = crate::name::encode(name);
        // The reason is the rest of the line: no newline may end it early.
        let reason = failed.message.replace(['\r', '\n'], " ");
        body += &format!("{code} {name} {reason}\n");
    }
    if more > 0 {
        body += &format!("more {more}\n");
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
            crc: version.crc,
            mtime: version.info.mtime,
        },
        Reply::Stat { version } => Response::Stat {
            size: version.info.size,
            mtime: version.info.mtime,
            crc: stated_crc(version),
        },
        Reply::Listing { len } => Response::Length { len: *len },
        Reply::Echo { size } => Response::Length { len: *size },
        Reply::Appended { received, .. } => Response::Length { len: *received },
        Reply::Session(session) => Response::Session {
            id: &session.id,
            received: session.received,
        },
        Reply::Authenticated { name } => Response::Authenticated { name },
        Reply::Sessions(sessions) => return session_lines(sessions, out),
        // `OK <bytes free> <bytes used> <files free> <files used>`.
        Reply::Space(space) => {
            let line = format!(
                "OK {} {} {} {}\n",
                space.available, space.used, space.files_available, space.files_used
            );
            return out.extend_from_slice(line.as_bytes());
        }
        Reply::Remains(remains, more) => return remains_lines((remains, *more), out),
        #[cfg(feature = "shares")]
        Reply::Link { link, base } => return super::shares::made(link, base.as_deref(), out),
        #[cfg(feature = "shares")]
        Reply::Links { links, base } => return super::shares::listed(links, base.as_deref(), out),
        Reply::Unsatisfiable { size } => {
            let message = format!("offset past the end ({size} bytes)");
            return Response::Error {
                code: 416,
                message: &message,
            }
            .write_to(out);
        }
        Reply::Directory { .. } => return failure(&Failure::is_directory(), out),
        Reply::Failed(failed) => return failure(failed, out),
        // Another protocol's reply (an HTTP archive, a conditional GET's):
        // no FERRY/1 request leads to one.
        other => {
            debug_assert!(false, "no FERRY/1 request leads to {other:?}");
            let failed = Failure::new(ErrorKind::Internal, "unexpected answer");
            return failure(&failed, out);
        }
    };
    response.write_to(out);
}

/// The CRC-32C a `STAT` line states. The serve layer computes it before
/// answering, so it is always known here; were it not, the zeros would
/// make the client's check fail loudly rather than pass. (A `GET` line says
/// `-` for a CRC not known yet: its bytes do not wait for a whole-file read.)
fn stated_crc(version: &Version) -> u32 {
    debug_assert!(version.crc.is_some(), "a FERRY/1 STAT without its CRC");
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
    fn only_plain_http_request_lines_are_taken_for_http() {
        assert!(is_http_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(is_http_request(b"\r\nHEAD /a%20b HTTP/1.0\n"));
        assert!(!is_http_request(b"GET / 0 1\n"));
        assert!(!is_http_request(b"get / HTTP/1.1\n"));
        assert!(!is_http_request(b"GET / HTTP/2\n"));
        assert!(!is_http_request(b"GET  HTTP/1.1\n"));
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
