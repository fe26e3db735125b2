//! What every dialect reads of a request the same way, owned by none of
//! them: a target's path as a file or a folder and its names (percent-
//! encoded in URLs, refused as FERRY/1 refuses them), and the fields
//! `Destination`, `Overwrite` and `Accept`. ferry's own dialect
//! (`files/`), WebDAV and tus read their targets through here.

use super::message::Refused;
use crate::name::{self, Name, NameError, Prefix};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file.
    File(Name),
    /// A listing of everything under a prefix ending in `/` (or the root).
    Listing(Prefix),
}

/// Whether an `Accept` value names `wanted` (not refused with `q=0`).
pub fn accepts(accept: &str, wanted: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(is_zero));
        media.eq_ignore_ascii_case(wanted) && !refused
    })
}

/// Whether a q-value is zero (`0`, `0.`, `0.000`: RFC 9110 12.4.2), read
/// as the grammar writes it rather than as a float (whose parsing weighs
/// some 20 KB in the small host's build).
fn is_zero(q: &str) -> bool {
    q.strip_prefix('0').is_some_and(|rest| {
        rest.is_empty()
            || rest
                .strip_prefix('.')
                .is_some_and(|z| z.bytes().all(|b| b == b'0'))
    })
}

/// An `Overwrite` value (RFC 4918 10.6): `T` or `F`, either case.
pub fn overwrite(value: &[u8]) -> Option<bool> {
    match value.trim_ascii() {
        b"T" | b"t" => Some(true),
        b"F" | b"f" => Some(false),
        _ => None,
    }
}

/// A `Destination` (RFC 4918 10.3), naming a file: an absolute path, or
/// an absolute URI of this server (the one `host`, the request's `Host`,
/// names). The one home of that rule for every `COPY` and `MOVE`, the
/// files dialect's and WebDAV's: a URI of another server, or of another
/// scheme, is refused before anything moves, since this server cannot put
/// a file there (RFC 4918 9.8.4, 9.9.4: 502).
///
/// # Errors
/// 502 for another server; 400 for a bad path or one ending in `/`.
pub fn parse_destination(value: &str, host: &str) -> Result<Name, Refused> {
    let path = match value.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
            if !super::origin::same_server(scheme, authority, host) {
                return Err((502, "the Destination is on another server".into()));
            }
            path
        }
        None => value,
    };
    match parse_target(path)? {
        Target::File(name) => Ok(name),
        Target::Listing(_) => Err((400, "a Destination ending in / is a directory".into())),
    }
}

/// An origin-form target (`/path[?query]`) as a file or a listing. The
/// query is ignored; anything that is not origin-form is refused.
pub fn parse_target(target: &str) -> Result<Target, Refused> {
    let Some(path) = path_of(target).strip_prefix('/') else {
        return Err((400, "request target must be a path starting with /".into()));
    };
    if path.is_empty() {
        return Ok(Target::Listing(Prefix::root()));
    }
    if let Some(folder) = path.strip_suffix('/') {
        return folder_prefix(folder).map(Target::Listing);
    }
    Name::decode(path.as_bytes())
        .map(Target::File)
        .map_err(bad_name)
}

/// The path of a request target, without its query.
pub fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// The prefix of the entries of the folder `folder` names (percent-encoded,
/// without its leading and trailing `/`; empty for the top): a name,
/// whatever its length, and its `/`.
///
/// # Errors
/// The folder is no valid name (400, or 403 for a reserved one).
pub fn folder_prefix(folder: &str) -> Result<Prefix, Refused> {
    if folder.is_empty() {
        return Ok(Prefix::root());
    }
    let folder = Name::decode(folder.as_bytes()).map_err(bad_name)?;
    Ok(Prefix::of_folder(&folder))
}

/// A name refused: 400, or 403 for a reserved one (as FERRY/1 answers).
pub fn bad_name(err: NameError) -> Refused {
    (crate::serve::ErrorKind::from(err).code(), err.to_string())
}

/// A name in a URL path (one home, below every layer: share links'
/// addresses are made in the serve layer too).
pub use crate::name::{push_url_path, url_path};

/// Decodes what [`url_path`] encodes (for tests and clients).
pub fn url_decode(text: &str) -> Option<String> {
    name::percent_decode(text.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_type_is_accepted_unless_its_q_value_is_zero() {
        for yes in [
            "text/html",
            "TEXT/HTML;q=0.5",
            "a/b, text/html ; q=1",
            "text/html;q=0.001",
        ] {
            assert!(accepts(yes, "text/html"), "{yes:?}");
        }
        for no in [
            "text/html;q=0",
            "text/html; q=0.",
            "a/b, text/html;q=0.000",
            "a/b",
        ] {
            assert!(!accepts(no, "text/html"), "{no:?}");
        }
    }

    #[test]
    fn url_paths_round_trip() {
        let name = "dir/a b?#%ü.txt";
        let encoded = url_path(name);
        assert!(!encoded.contains(' ') && !encoded.contains('?') && !encoded.contains('#'));
        assert_eq!(url_decode(&encoded).as_deref(), Some(name));
        // Runs and escapes at either end, multi-byte characters back to back.
        for name in [
            "",
            "ü",
            "üü/ü",
            "a",
            " a ",
            "日本語/x y",
            "a&b<c>",
            "\u{1F600}z",
        ] {
            let encoded = url_path(name);
            let byte_by_byte: String = name
                .bytes()
                .map(
                    |b| match b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                        true => char::from(b).to_string(),
                        false => format!("%{b:02X}"),
                    },
                )
                .collect();
            assert_eq!(encoded, byte_by_byte, "{name:?}");
            assert_eq!(url_decode(&encoded).as_deref(), Some(name));
        }
    }
}
