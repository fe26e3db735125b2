//! DeleteObjects (`POST /<bucket>?delete`): its XML body read (no DTDs,
//! at most 1000 keys, taken in hand: at most 64 KiB, `MAX_BODY_IN_HAND`),
//! its integrity checked (S3 requires `Content-MD5` or an
//! `x-amz-checksum-*`; ferry takes either and holds the body to it), and
//! turned into ferry's `DeleteEach` (each key's grant and locks checked
//! as DELETE's: `serve/deletes.rs`); the answer tells each key, or in
//! `Quiet` mode only those that failed.
//!
//! ```text
//! <Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>null</VersionId></Object>...</Delete>
//! <DeleteResult><Deleted><Key>k</Key></Deleted><Error><Key>..</Key><Code>..</Code><Message>..</Message></Error></DeleteResult>
//! ```

use crate::serve::ops;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::error::{self, Code};
use super::target::{bucket_name, key_refusal};
use super::{Asked, Fields, Refusal, refusal, xml};
use crate::formats::md5::Md5;
use crate::name::{Name, Prefix};
use crate::serve::digest::Algorithm;
use crate::serve::{Failure, Folders, Operation};

/// Most keys one request deletes (S3's limit).
pub const MAX_KEYS: usize = 1000;

/// What a DeleteObjects asked beyond the keys: `Quiet` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet(pub bool);

/// DeleteObjects of `body`'s keys in `bucket`.
pub(super) fn delete_objects(
    bucket: &str,
    body: &[u8],
    fields: &Fields,
) -> Result<(Operation, Asked), Refusal> {
    check_integrity(body, fields)?;
    let folder = bucket_name(bucket)?;
    let (keys, quiet) = read(body).map_err(|message| refusal(Code::MalformedXML, message))?;
    let mut names = Vec::with_capacity(keys.len());
    for key in keys {
        names.push(Name::new(format!("{bucket}/{key}")).map_err(|err| key_refusal(err, &key))?);
    }
    let operation = Operation::DeleteEach(ops::DeleteEach {
        prefix: Prefix::of_folder(&folder),
        names,
        folders: Folders::Keys,
    });
    Ok((operation, Asked::DeleteObjects(quiet)))
}

/// The body must be the one its `Content-MD5` or `x-amz-checksum-*`
/// states, and state one.
fn check_integrity(body: &[u8], fields: &Fields) -> Result<(), Refusal> {
    let bad = |what: &str| refusal(Code::BadDigest, format!("the body is not its {what}"));
    if let Some(md5) = &fields.content_md5 {
        let stated = STANDARD
            .decode(md5)
            .map_err(|_| refusal(Code::InvalidDigest, "Content-MD5 is the base64 of 16 bytes"))?;
        if stated[..] != Md5::digest(body)[..] {
            return Err(bad("Content-MD5"));
        }
        return Ok(());
    }
    let Some((field, value)) = &fields.checksum else {
        return Err(refusal(
            Code::InvalidRequest,
            "DeleteObjects needs Content-MD5 or an x-amz-checksum-* field",
        ));
    };
    let Some(algorithm) = Algorithm::of_field(field) else {
        return Err(refusal(
            Code::InvalidRequest,
            format!("{field} is not one ferry checks"),
        ));
    };
    match STANDARD.decode(value) {
        Ok(stated) if stated == algorithm.of_bytes(body) => Ok(()),
        _ => Err(bad(field)),
    }
}

/// Reads a `<Delete>` body: its keys, in order, and `Quiet`.
///
/// # Errors
/// Why it is refused: not well-formed, a DTD, not a `Delete`, no key or
/// more than [`MAX_KEYS`], a version other than `null`.
fn read(body: &[u8]) -> Result<(Vec<String>, Quiet), String> {
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let (mut keys, mut quiet) = (Vec::new(), Quiet(false));
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|err| format!("malformed XML: {err}"))?;
        match event {
            Event::Start(start) => {
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() && local != "Delete" {
                    return Err("the body is not a Delete".into());
                }
                path.push(local);
                text.clear();
            }
            Event::Empty(_) => text.clear(),
            Event::Text(t) => {
                text.push_str(std::str::from_utf8(&t).map_err(|_| "a key that is not UTF-8")?);
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                text.push_str(&resolve(&name)?);
            }
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(t.as_ref())),
            Event::End(_) => {
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                match at[..] {
                    ["Delete", "Object", "Key"] => {
                        if keys.len() == MAX_KEYS {
                            return Err(format!("at most {MAX_KEYS} keys"));
                        }
                        keys.push(std::mem::take(&mut text));
                    }
                    ["Delete", "Object", "VersionId"] if text.trim() != "null" => {
                        return Err("only the null version is there to delete".into());
                    }
                    ["Delete", "Quiet"] => quiet = Quiet(text.trim() == "true"),
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::DocType(_) => return Err("a DTD is not accepted".into()),
            Event::Eof if !path.is_empty() => return Err("the body ends inside an element".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    match keys.is_empty() {
        true => Err("a Delete names at least one Object's Key".into()),
        false => Ok((keys, quiet)),
    }
}

/// XML's five predefined entities and character references; no others
/// (there is no DTD to declare them).
pub(super) fn resolve(name: &str) -> Result<String, String> {
    let text = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => {
            let code = match name.strip_prefix("#x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => name.strip_prefix('#').and_then(|dec| dec.parse().ok()),
            };
            return code
                .and_then(char::from_u32)
                .map(String::from)
                .ok_or_else(|| format!("unknown entity &{name};"));
        }
    };
    Ok(text.to_owned())
}

/// The answer: each key deleted (unless `quiet`) or its error, in the
/// order asked, by the key (the bucket, one segment, taken off the name).
pub(super) fn result(each: &[(String, Result<(), Failure>)], quiet: Quiet) -> String {
    let mut text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"{}\">",
        xml::NS
    );
    for (name, outcome) in each {
        let key = escape(name.split_once('/').map_or(name.as_str(), |(_, key)| key));
        match outcome {
            Ok(()) if quiet.0 => {}
            Ok(()) => {
                let _ = write!(text, "<Deleted><Key>{key}</Key></Deleted>");
            }
            Err(failure) => {
                let code = error::code_of(Asked::DeleteObject, failure);
                let _ = write!(
                    text,
                    "<Error><Key>{key}</Key><Code>{}</Code><Message>{}</Message></Error>",
                    code.name(),
                    escape(&failure.message)
                );
            }
        }
    }
    text.push_str("</DeleteResult>\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_give_their_keys_or_a_reason() {
        let body = b"<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>";
        assert_eq!(
            read(body),
            Ok((vec!["a&b".into(), "c".into()], Quiet(true)))
        );
        let dtd =
            b"<!DOCTYPE x [<!ENTITY e \"boom\">]><Delete><Object><Key>&e;</Key></Object></Delete>";
        assert!(read(dtd).is_err());
        assert!(read(b"<Other/>").is_err());
        assert!(read(b"<Delete></Delete>").is_err());
        assert!(read(b"<Delete><Object><Key>a</Key>").is_err());
        let versioned = b"<Delete><Object><Key>a</Key><VersionId>v2</VersionId></Object></Delete>";
        assert!(read(versioned).is_err());
        let many = format!(
            "<Delete>{}</Delete>",
            "<Object><Key>k</Key></Object>".repeat(MAX_KEYS + 1)
        );
        assert!(read(many.as_bytes()).is_err());
    }
}
