//! WebDAV's `COPY` and `MOVE` (RFC 4918 9.8, 9.9) as operations: the
//! `Destination` (on this server), `Overwrite` and a folder's `Depth`
//! read into `Copy`/`CopyFolder`, `Move`/`MoveFolder`; what they do is
//! the serve layer's (`serve/files.rs`, `serve/folders.rs`). The
//! `webdav.rs` dialect claims them and answers.
//!
//! ```text
//! COPY /<name>[/]  Destination: <url or path>  [Overwrite: T|F]  [Depth: 0|infinity]
//! MOVE /<folder>/, or to a Destination ending in /
//! ```

use super::message::{Refused, Resume};
use super::request::{bad_name, folder_prefix, parse_destination};
use crate::name::{Name, Prefix};
use crate::serve::{BodyLength, CopyTime, Folders, Operation, Overwrite};

/// Whether a `Destination`'s `authority` (of a URL with `scheme`) names
/// the server the request's `Host` names: the same host and port, where
/// a port left out is the scheme's default (`localhost` is
/// `localhost:80` over `http`, `localhost:443` over `https`, RFC 3986
/// 6.2.3).
fn same_server(scheme: &str, authority: &str, host: &str) -> bool {
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let bare = |named: &str| {
        let named = named.trim();
        match named.len().checked_sub(default.len()) {
            Some(at) if named.is_char_boundary(at) && named[at..] == *default => {
                named[..at].to_ascii_lowercase()
            }
            _ => named.to_ascii_lowercase(),
        }
    };
    bare(authority) == bare(host)
}

/// What a `COPY` or `MOVE` asked, from its fields.
#[derive(Debug)]
pub struct Transfer<'a> {
    /// `MOVE` (else `COPY`).
    pub moves: bool,
    /// `Destination`, as sent.
    pub destination: Option<&'a str>,
    /// `Overwrite`: `None` for a value that is neither `T` nor `F`.
    pub overwrite: Option<bool>,
    /// `Depth`: 0 or 1; `None` for infinity (also when absent).
    pub depth: Option<u8>,
    /// The request's `Host`, which an absolute `Destination` must name.
    pub host: Option<&'a str>,
}

impl Transfer<'_> {
    /// The operation `path` asks for, and whether it must keep what has the
    /// destination's name (`Overwrite: F`: then a name taken is `412`).
    ///
    /// # Errors
    /// The refusal: `415` with a body, `400` for a missing or malformed
    /// field, `502` for another host, `403` for the root.
    pub fn operation(&self, path: &str, resume: &Resume) -> Result<(Operation, bool), Refused> {
        let fields = self;
        if resume.body != BodyLength::Fixed(0) {
            return Err((415, "COPY and MOVE take no body".into()));
        }
        let overwrite = fields
            .overwrite
            .ok_or_else(|| (400, "Overwrite must be T or F".to_owned()))?;
        let Some(destination) = fields.destination else {
            return Err((400, "COPY and MOVE need a Destination".into()));
        };
        if let Some((scheme, rest)) = destination.split_once("://") {
            let authority = rest.split('/').next().unwrap_or(rest);
            if !same_server(scheme, authority, fields.host.unwrap_or_default()) {
                return Err((502, "the Destination is on another server".into()));
            }
        }
        // A folder's name or a file's: which one, the pool finds out.
        let to = parse_destination(destination.strip_suffix('/').unwrap_or(destination))?;
        let inner = path.strip_prefix('/').unwrap_or(path);
        let keep = !overwrite;
        if inner.is_empty() {
            return Err((403, "the root is neither copied nor moved".into()));
        }
        let operation = match inner.strip_suffix('/') {
            Some(folder) => {
                let from = folder_prefix(folder)?;
                let to = Prefix::of_folder(&to);
                if fields.moves {
                    Operation::MoveFolder {
                        from,
                        to,
                        overwrite,
                    }
                } else {
                    let deep = match fields.depth {
                        None => true,
                        Some(0) => false,
                        Some(_) => {
                            return Err((400, "a folder's COPY has Depth 0 or infinity".into()));
                        }
                    };
                    Operation::CopyFolder {
                        from,
                        to,
                        deep,
                        overwrite,
                    }
                }
            }
            None => {
                let from = Name::decode(inner.as_bytes()).map_err(bad_name)?;
                match fields.moves {
                    true => Operation::Move {
                        from,
                        to,
                        overwrite: match overwrite {
                            true => Overwrite::Anything,
                            false => Overwrite::Nothing,
                        },
                        folders: Folders::Explicit,
                    },
                    false => Operation::Copy {
                        from,
                        to,
                        overwrite,
                        folders: Folders::Explicit,
                        mtime: CopyTime::Now,
                        props: None,
                        source: None,
                    },
                }
            }
        };
        Ok((operation, keep))
    }
}

#[cfg(test)]
mod tests {
    use super::same_server;

    #[test]
    fn a_default_port_is_the_same_server_as_none() {
        assert!(same_server("http", "localhost", "localhost"));
        assert!(same_server("http", "localhost:80", "localhost"));
        assert!(same_server("http", "LocalHost", "localhost:80"));
        assert!(same_server("https", "h:443", "h"));
        assert!(same_server("https", "h", "h:443"));
        assert!(same_server("http", "[::1]:80", "[::1]"));
        assert!(!same_server("http", "h:443", "h"));
        assert!(!same_server("https", "h:80", "h"));
        assert!(!same_server("http", "h:8080", "h"));
        assert!(!same_server("http", "other", "h"));
        assert!(!same_server("ftp", "h", "h"));
    }
}
