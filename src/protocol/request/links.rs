//! The share links' lines (PROTOCOL.md §6.12), read and written: `SHARE`,
//! `SHARES`, `UNSHARE`. Only their grammar: what a link may be (how
//! long, for whom, of what) is the serve layer's (`serve/ops/links.rs`),
//! whichever protocol asked. A build without share links (the embedded
//! one) reads no further than the verb: `501`, and the connection goes
//! on ([`LINKS_BUILT`]), so none of their parsing is in it.
//!
//! ```text
//! SHARE <name> | <folder>/ | / <read|upload>[ expires=<secs>][ max=<n>][ password=<pct-encoded>]
//! SHARES
//! UNSHARE <link-id>
//! ```

use std::io::{self, Write};

use super::args::{folder_arg, name_arg, number};
use super::words::{Parsed, Words};
use super::{ProtocolError, Recovery, Request, arity};
use crate::access::Secret;
use crate::name::encode;

/// What a `SHARE` line asks of its link beyond what it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTerms<W: Words = Parsed> {
    /// An upload link (`upload`) rather than a download link (`read`).
    pub upload: bool,
    /// Seconds it lasts (`expires=`); `None`: the server's longest.
    pub expires: Option<u64>,
    /// Whole-file downloads it gives (`max=`), if limited.
    pub max_downloads: Option<u64>,
    /// The password people must give (`password=`, percent-encoded on
    /// the line; never logged).
    pub password: Option<W::Token>,
}

const EXPIRES: &[u8] = b"expires=";
const MAX: &[u8] = b"max=";
const PASSWORD: &[u8] = b"password=";

/// Whether this build serves share links (feature `shares`): a server
/// without answers their verbs `ERR 501` (as it refuses their flags at
/// start, `Config::unbuilt`).
pub const LINKS_BUILT: bool = cfg!(feature = "shares");

/// `SHARE`, `SHARES` or `UNSHARE` with its `args`.
pub(super) fn parse_link_line(verb: &[u8], args: &[&[u8]]) -> Result<Request, ProtocolError> {
    if !LINKS_BUILT {
        return Err(ProtocolError {
            code: 501,
            message: "built without share links: rebuild with --features shares".into(),
            recovery: Recovery::Skip { line: 0, body: 0 },
        });
    }
    match verb {
        b"SHARES" => {
            arity(args, 0, 0)?;
            Ok(Request::Shares)
        }
        b"UNSHARE" => {
            arity(args, 1, 1)?;
            Ok(Request::Unshare {
                id: link_id_arg(args[0])?,
            })
        }
        _ => parse_share(args),
    }
}

/// `SHARE <target> <mode>` and its optional terms, each at most once and
/// in this order: `expires=`, `max=`, `password=`. The line's syntax is
/// checked first (a fault closes), then the target and the password (a
/// bad one is answered and the connection goes on).
fn parse_share(args: &[&[u8]]) -> Result<Request, ProtocolError> {
    arity(args, 2, 5)?;
    let upload = match args[1] {
        b"read" => false,
        b"upload" => true,
        _ => return Err(ProtocolError::fatal(400, "a link's mode is read or upload")),
    };
    let mut rest = &args[2..];
    let mut term = |key: &[u8]| match rest.first().and_then(|t| t.strip_prefix(key)) {
        Some(value) => {
            rest = &rest[1..];
            Some(value)
        }
        None => None,
    };
    let expires = term(EXPIRES).map(number).transpose()?;
    let max_downloads = term(MAX).map(number).transpose()?;
    let password = term(PASSWORD);
    if !rest.is_empty() {
        return Err(ProtocolError::fatal(
            400,
            "SHARE takes expires=, max= and password=, in this order",
        ));
    }
    let target = args[0];
    let folder = target.strip_suffix(b"/");
    let file = match folder {
        Some(_) => None,
        None => Some(name_arg(target)?),
    };
    let folder = match folder {
        Some(folder) => Some(folder_arg(Some(folder).filter(|f| !f.is_empty()))?),
        None => None,
    };
    let terms = LinkTerms {
        upload,
        expires,
        max_downloads,
        password: password.map(password_arg).transpose()?,
    };
    Ok(match (file, folder) {
        (Some(name), _) => Request::Share { name, terms },
        (None, Some(folder)) => Request::ShareFolder { folder, terms },
        (None, None) => unreachable!("a target is a file or a folder"),
    })
}

/// A bad argument in a well-formed line: answered, the connection goes on.
fn bad_argument(message: &str) -> ProtocolError {
    ProtocolError {
        code: 400,
        message: message.into(),
        recovery: Recovery::Skip { line: 0, body: 0 },
    }
}

/// A link's id: 22 base64url characters (as `SHARE` answers it).
fn link_id_arg(token: &[u8]) -> Result<String, ProtocolError> {
    match std::str::from_utf8(token) {
        Ok(id) if crate::model::is_link_id(id) => Ok(id.to_owned()),
        _ => Err(bad_argument("bad link id")),
    }
}

/// A password: percent-encoded UTF-8, not empty once decoded.
fn password_arg(token: &[u8]) -> Result<Secret, ProtocolError> {
    let decoded = crate::name::percent_decode(token).ok();
    match decoded.and_then(|bytes| String::from_utf8(bytes).ok()) {
        Some(password) if !password.is_empty() => Ok(Secret::new(password)),
        _ => Err(bad_argument(
            "bad password: percent-encoded UTF-8, not empty",
        )),
    }
}

/// Writes `SHARE <target> <mode>` and its terms; `target` as the line
/// spells it (`docs/r.pdf`, `photos/`, `/`).
pub(super) fn write_share<W: Words>(
    out: &mut Vec<u8>,
    target: &str,
    terms: &LinkTerms<W>,
) -> io::Result<()> {
    let mode = if terms.upload { "upload" } else { "read" };
    write!(out, "SHARE {target} {mode}")?;
    if let Some(secs) = terms.expires {
        write!(out, " expires={secs}")?;
    }
    if let Some(max) = terms.max_downloads {
        write!(out, " max={max}")?;
    }
    if let Some(password) = &terms.password {
        write!(out, " password={}", encode(W::token(password).expose()))?;
    }
    Ok(())
}
