//! Upload metadata: what a client says of an upload besides its bytes,
//! spelled as tus's `Upload-Metadata` spells it and kept with the upload's
//! session verbatim. One home for reading it, whoever reads: the tus
//! dialect (the file's name), the commit (its modification time) and the
//! hooks (`FERRY_META_<KEY>`).
//!
//! ```text
//! filename cGhvdG8uanBn,mtime MTc2NDAwMDAwMA==,private
//!  key, a space, the value in base64; pairs apart by commas; a key alone
//!  has an empty value. Keys: ASCII, no space or comma, each once.
//! ```
//!
//! ferry reads two keys itself: `filename` (UTF-8 text, the file's last
//! name) and `mtime` (decimal seconds since the epoch: the file's
//! modification time, as `X-Ferry-Mtime` gives a `PUT`'s). Every key is
//! handed to the hooks.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use base64::Engine;

/// The prefix of the hook variables metadata becomes.
pub const HOOK_PREFIX: &str = "FERRY_META_";

/// Every pair of a list, as (key, value in base64), in the order given.
fn pairs(list: &str) -> impl Iterator<Item = (&str, &str)> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            (key, value.trim())
        })
}

/// A list that gives modification time `seconds` alone, as a tus
/// client's `mtime` (what a session keeps for an S3 multipart upload).
pub fn of_mtime(seconds: i64) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(seconds.to_string());
    format!("mtime {encoded}")
}

/// The key under which a list keeps the namespace of the dead properties
/// an S3 multipart upload's object is to have, each under `prop.<local
/// name>` (the value as the S3 dialect keeps it).
const PROPS_NS: &str = "props-ns";
/// The prefix of those properties' keys.
const PROP: &str = "prop.";

/// `list` (if any) with dead properties of namespace `ns` added, each
/// (local name, value): kept with a session until its commit.
pub fn with_props(list: Option<String>, ns: &str, props: &[(String, String)]) -> String {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut pairs: Vec<String> = list.into_iter().collect();
    pairs.push(format!("{PROPS_NS} {}", engine.encode(ns)));
    for (local, value) in props {
        pairs.push(format!("{PROP}{local} {}", engine.encode(value)));
    }
    pairs.join(",")
}

/// The key under which a list keeps the checksum an S3 multipart
/// upload's object is to have: its algorithm and type, as
/// `serve/upload_checksum.rs` spells them.
const CHECKSUM: &str = "checksum";

/// `list` (if any) with the checksum `spelled` added: kept with a
/// session until its commit.
pub fn with_checksum(list: Option<String>, spelled: &str) -> String {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut pairs: Vec<String> = list.into_iter().collect();
    pairs.push(format!("{CHECKSUM} {}", engine.encode(spelled)));
    pairs.join(",")
}

/// The checksum `list` keeps ([`with_checksum`]), as spelled there.
pub fn checksum(list: &str) -> Option<String> {
    text(list, CHECKSUM).ok()?
}

/// The dead properties `list` keeps ([`with_props`]): their namespace and
/// each (local name, value); `None` where it keeps none.
pub fn props(list: &str) -> Option<(String, Vec<(String, String)>)> {
    let ns = text(list, PROPS_NS).ok()??;
    let props = pairs(list)
        .filter_map(|(key, encoded)| {
            let local = key.strip_prefix(PROP)?;
            let value = String::from_utf8(decode(encoded)?).ok()?;
            Some((local.to_owned(), value))
        })
        .collect();
    Some((ns, props))
}

fn decode(encoded: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
}

/// Checks a list as a client sent it: every pair a key and base64, no key
/// twice, and the keys ferry reads well formed.
///
/// # Errors
/// What is wrong, for a 400.
pub fn check(list: &str) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in pairs(list) {
        if seen.contains(&key) {
            return Err(format!("Upload-Metadata gives {key} twice"));
        }
        seen.push(key);
        if decode(value).is_none() {
            return Err(format!("Upload-Metadata: {key}'s value is not base64"));
        }
    }
    text(list, "filename")?;
    if text(list, "mtime")?.is_some() && mtime(list).is_none() {
        return Err("Upload-Metadata: mtime is decimal seconds since the epoch".into());
    }
    Ok(())
}

/// The value of `key` in `list`, as UTF-8 text; `None` if the key is
/// absent.
///
/// # Errors
/// A value that is not base64 of UTF-8 text.
pub fn text(list: &str, key: &str) -> Result<Option<String>, String> {
    let Some((_, encoded)) = pairs(list).find(|(k, _)| *k == key) else {
        return Ok(None);
    };
    decode(encoded)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| format!("Upload-Metadata: {key} is not base64 of UTF-8 text"))
}

/// The modification time `list` gives the file (`mtime`), if it gives a
/// sound one.
pub fn mtime(list: &str) -> Option<i64> {
    let text = text(list, "mtime").ok()??;
    match text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse().ok(),
        false => None,
    }
}

/// The hooks' variables for `list`: `FERRY_META_<KEY>` for each key, upper
/// case with every character but a letter or digit made `_`, its value
/// decoded. A value a variable cannot hold (a NUL byte), or a key that
/// collides with an earlier one, is left out.
pub fn hook_vars(list: &str) -> Vec<(String, OsString)> {
    let mut vars: Vec<(String, OsString)> = Vec::new();
    for (key, encoded) in pairs(list) {
        let name: String = key
            .chars()
            .map(|c| match c.is_ascii_alphanumeric() {
                true => c.to_ascii_uppercase(),
                false => '_',
            })
            .collect();
        let name = format!("{HOOK_PREFIX}{name}");
        let Some(value) = decode(encoded).filter(|v| !v.contains(&0)) else {
            continue;
        };
        if vars.iter().all(|(taken, _)| *taken != name) {
            vars.push((name, OsString::from_vec(value)));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_decoded_and_alone_as_empty() {
        let list = "filename cGhvdG8uanBn, mtime MTc2NDAwMDAwMA==,private";
        assert_eq!(text(list, "filename"), Ok(Some("photo.jpg".into())));
        assert_eq!(text(list, "private"), Ok(Some(String::new())));
        assert_eq!(text(list, "absent"), Ok(None));
        assert_eq!(mtime(list), Some(1_764_000_000));
        assert_eq!(check(list), Ok(()));
    }

    #[test]
    fn props_ride_along_with_the_time() {
        let props = vec![("content-type".to_owned(), "<a>x, y</a>".to_owned())];
        let list = with_props(Some(of_mtime(5)), "urn:s3", &props);
        assert_eq!(mtime(&list), Some(5));
        assert_eq!(super::props(&list), Some(("urn:s3".to_owned(), props)));
        assert_eq!(super::props(&of_mtime(5)), None);
        let empty = with_props(None, "urn:s3", &[]);
        assert_eq!(super::props(&empty), Some(("urn:s3".to_owned(), vec![])));
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        assert!(check("filename !!").unwrap_err().contains("base64"));
        assert!(check("a YQ==,a Yg==").unwrap_err().contains("twice"));
        assert!(check("filename /w==").unwrap_err().contains("UTF-8"));
        // "-5" and "1e9" are not decimal seconds.
        for bad in ["LTU=", "MWU5"] {
            assert!(
                check(&format!("mtime {bad}"))
                    .unwrap_err()
                    .contains("mtime")
            );
        }
    }

    #[test]
    fn hooks_get_every_key_as_a_variable_of_its_own() {
        // "relativePath" and "file-type" in the cases clients send them.
        let list = "relativePath YS9i,file-type dGV4dC9wbGFpbg==,nul AA==,RELATIVEPATH eA==";
        let vars = hook_vars(list);
        assert_eq!(
            vars,
            vec![
                ("FERRY_META_RELATIVEPATH".to_owned(), OsString::from("a/b")),
                (
                    "FERRY_META_FILE_TYPE".to_owned(),
                    OsString::from("text/plain")
                ),
            ]
        );
    }
}
