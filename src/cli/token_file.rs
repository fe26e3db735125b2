//! The tokens file as `ferry token` reads and writes it: parsed whole, and
//! replaced whole (written aside, renamed over), so that a server reading
//! it again on SIGHUP never sees half a file.

use std::fs;
use std::path::Path;

use super::Failure;
use crate::access::tokens::TokensFile;

/// The tokens file at `path`, read and parsed.
///
/// # Errors
/// It cannot be read, or is malformed (said where).
pub(super) fn read(path: &Path) -> Result<TokensFile, Failure> {
    let text = fs::read_to_string(path).map_err(|err| Failure::local(path, err))?;
    TokensFile::parse(&text).map_err(|err| Failure::explained(path.display().to_string(), 3, err))
}

/// Replaces the tokens file (see [`super::replace_private_file`]).
pub(super) fn write(path: &Path, file: &TokensFile) -> Result<(), Failure> {
    super::replace_private_file(path, file.render().as_bytes())
}
