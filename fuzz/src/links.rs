//! Share links' two readers, checked once for the `share_links` fuzz
//! target and `tests/http/properties.rs`: the JSON a link is asked with
//! (`formats::json_reader::flat_object`) and a link's record on disk
//! (`storage::posix::decode_record`). Each check panics on a violation.
//!
//! - `flat_object`: no panic on any text; what it accepts, written again
//!   as JSON, reads back the same members (nothing lost or invented by
//!   escapes, numbers or order);
//! - `decode_record`: no panic on any text; a link it reads, written as a
//!   record again, reads back the same link.

use ferry::formats::json;
use ferry::formats::json_reader::{Value, flat_object};
use ferry::storage::posix::{decode_record, encode_record};

/// The members of `text` as `flat_object` reads them, written back and
/// read again.
pub fn check_flat_object(text: &str) {
    let Ok(members) = flat_object(text) else {
        return;
    };
    let again = flat_object(&written(&members));
    assert_eq!(again.as_ref(), Ok(&members), "{text:?}");
}

/// A link's record: any text decodes or is refused without a panic, and
/// what decodes round-trips.
pub fn check_record(id: &str, text: &str) {
    let Some(link) = decode_record(id, text) else {
        return;
    };
    assert_eq!(link.id, id);
    let again = decode_record(id, &encode_record(&link));
    assert_eq!(again.as_ref(), Some(&link), "{text:?}");
}

/// `members` as one JSON object, its strings escaped by ferry's own JSON
/// writer (`formats::json`).
fn written(members: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json::string(key));
        out.push(':');
        match value {
            Value::Text(text) => out.push_str(&json::string(text)),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Null => out.push_str("null"),
        }
    }
    out.push('}');
    out
}
