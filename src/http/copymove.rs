//! WebDAV's `COPY` and `MOVE` (RFC 4918 9.8, 9.9) as operations: the
//! `Destination` (on this server), `Overwrite` and a folder's `Depth`
//! read into `Copy`/`CopyFolder`, `Move`/`MoveFolder`; what they do is
//! the serve layer's (`serve/ops/file_copy.rs`, `serve/ops/files.rs`,
//! `serve/ops/folders.rs`). The
//! `webdav.rs` dialect claims them and answers.
//!
//! ```text
//! COPY /<name>[/]  Destination: <url or path>  [Overwrite: T|F]  [Depth: 0|infinity]
//! MOVE /<folder>/, or to a Destination ending in /
//! ```

use super::fields::{bad_name, folder_prefix, parse_destination};
use super::message::{Refused, Resume};
use crate::name::{Name, Prefix};
use crate::serve::ops;
use crate::serve::{BodyLength, CopyTime, Folders, Operation, Overwrite};

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
        // A folder's name or a file's: which one, the pool finds out.
        let destination = destination.strip_suffix('/').unwrap_or(destination);
        let to = parse_destination(destination, fields.host.unwrap_or_default())?;
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
                    Operation::MoveFolder(ops::MoveFolder {
                        from,
                        to,
                        overwrite,
                        preconditions: None,
                    })
                } else {
                    let deep = match fields.depth {
                        None => true,
                        Some(0) => false,
                        Some(_) => {
                            return Err((400, "a folder's COPY has Depth 0 or infinity".into()));
                        }
                    };
                    Operation::CopyFolder(ops::CopyFolder {
                        from,
                        to,
                        deep,
                        overwrite,
                        preconditions: None,
                    })
                }
            }
            None => {
                let from = Name::decode(inner.as_bytes()).map_err(bad_name)?;
                match fields.moves {
                    true => Operation::MoveFile(ops::MoveFile {
                        from,
                        to,
                        overwrite: match overwrite {
                            true => Overwrite::Anything,
                            false => Overwrite::Nothing,
                        },
                        folders: Folders::Explicit,
                        preconditions: None,
                    }),
                    false => Operation::CopyFile(ops::CopyFile {
                        from,
                        to,
                        overwrite,
                        folders: Folders::Explicit,
                        mtime: CopyTime::Now,
                        props: None,
                        source: None,
                        kept: None,
                        deep: match fields.depth {
                            None => Some(true),
                            Some(0) => Some(false),
                            Some(_) => None,
                        },
                    }),
                }
            }
        };
        Ok((operation, keep))
    }
}
