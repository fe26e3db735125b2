//! S3's object metadata: user metadata (`x-amz-meta-*`) and the fields an
//! object keeps (`Content-Type`, `Content-Disposition`, `Cache-Control`,
//! `Content-Encoding`, `Content-Language`, `Expires`), given with
//! PutObject, CreateMultipartUpload or CopyObject's `REPLACE` and
//! answered by GetObject and HeadObject. They are kept as the file's
//! WebDAV dead properties in S3's XML namespace (`storage/posix/dead_props.rs`:
//! written for the new version's inode in its commit, so a new version
//! starts without them, and they follow a rename, copy or delete), one
//! property per field, named by the field in lower case, its value the
//! element WebDAV's PROPFIND shows:
//!
//! ```text
//! x-amz-meta-colour: blue  ->  <s3:x-amz-meta-colour xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">blue</s3:x-amz-meta-colour>
//! ```
//!
//! `x-amz-meta-mtime` (rclone's, in Unix seconds with a fraction) is kept
//! as the others are, as sent, and also sets the file's time on
//! PutObject, CreateMultipartUpload and CopyObject with `REPLACE`: an
//! object answers it only where a client stored it (metadata round-trips
//! exactly, as on S3; rclone falls back to `Last-Modified` without it).
//! Where the file's time was changed since (a file's time is every
//! protocol's), the stored value is stale and the file's time is answered
//! in its place. S3's limit holds: 2 KiB of user metadata names and
//! values, else `MetadataTooLarge`.

use quick_xml::events::Event;

use super::error::Code;
use super::{Fields, Refusal, delete, refusal, xml};
use crate::model::{DeadProperty, NewProps};

/// The field prefix of user metadata.
pub const PREFIX: &str = "x-amz-meta-";
/// The field rclone keeps a file's time in.
pub const MTIME: &str = "x-amz-meta-mtime";
/// S3's limit on a request's user metadata: names (without the prefix)
/// and values, in bytes.
pub const MAX_BYTES: usize = 2048;
/// The fields besides user metadata an object keeps, as S3 does.
const KEPT: [&str; 6] = [
    "content-type",
    "content-disposition",
    "cache-control",
    "content-encoding",
    "content-language",
    "expires",
];
/// Every object's type where none was given: not kept, as it is the
/// answer without a record.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// Whether field `name` (any case) is one an object keeps: user metadata
/// (the time too), or one of [`KEPT`].
pub fn is_kept(name: &str) -> bool {
    // Asked of every field of every request: compared in place.
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match name.split_at_checked(PREFIX.len()) {
        Some((prefix, rest)) if same(prefix, PREFIX) => !rest.is_empty(),
        _ => KEPT.iter().any(|kept| same(kept, name)),
    }
}

/// The metadata a request gives its object (PutObject,
/// CreateMultipartUpload, CopyObject with `REPLACE`): the time
/// `x-amz-meta-mtime` sets, if it is one, and the properties the kept
/// fields become (`None` without any).
///
/// # Errors
/// Over [`MAX_BYTES`] of user metadata: 400 `MetadataTooLarge`; as
/// [`props`].
pub(super) fn given(fields: &Fields) -> Result<Given, Refusal> {
    if fields.meta_bytes > MAX_BYTES {
        return Err(refusal(
            Code::MetadataTooLarge,
            "user metadata is at most 2 KiB of names and values",
        ));
    }
    let mtime = fields.meta_mtime.as_deref().and_then(mtime_of);
    let props = match fields.kept.is_empty() {
        true => None,
        false => Some(props(&fields.kept)?).filter(|new| !new.props.is_empty()),
    };
    Ok((mtime, props))
}

/// What a request gives its object: a time, and dead properties.
pub(super) type Given = (Option<i64>, Option<Box<NewProps>>);

/// The dead properties a request's kept fields (`(name, value)` as
/// sent) become. `Content-Encoding`'s `aws-chunked` is the request's own
/// coding, not the object's: it is left out (and the field with it when
/// nothing else remains), as S3 does; the default type is not kept.
///
/// # Errors
/// A user metadata name that cannot be a property's name here (letters,
/// digits, `-`, `_` and `.` only) or a value with control characters:
/// 400 `InvalidArgument`, nothing stored.
pub fn props(fields: &[(String, String)]) -> Result<Box<NewProps>, Refusal> {
    let mut props: Vec<DeadProperty> = Vec::new();
    for (name, value) in fields {
        let local = name.to_ascii_lowercase();
        let name_ok = local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            let message = format!("{name}: metadata names are letters, digits, '-', '_' and '.'");
            return Err(refusal(Code::InvalidArgument, message));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            let message = format!("{name}: a metadata value has no control characters");
            return Err(refusal(Code::InvalidArgument, message));
        }
        let value = match local.as_str() {
            "content-encoding" => without_aws_chunked(value),
            "content-type" if value.eq_ignore_ascii_case(DEFAULT_TYPE) => continue,
            _ => value.clone(),
        };
        if value.is_empty() && local == "content-encoding" {
            continue;
        }
        let element = format!(
            "<s3:{local} xmlns:s3=\"{}\">{}</s3:{local}>",
            xml::NS,
            quick_xml::escape::escape(value.as_str())
        );
        // A field sent twice is kept once, its last value (S3 joins them;
        // no client sends one twice).
        props.retain(|p| p.local != local);
        props.push(DeadProperty {
            ns: xml::NS.to_owned(),
            local,
            value: element,
        });
    }
    Ok(Box::new(NewProps {
        ns: xml::NS.to_owned(),
        props,
    }))
}

/// Each `response-*` parameter of a GetObject and the field it sets.
const OVERRIDES: [(&str, &str); 6] = [
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
    ("response-content-language", "content-language"),
    ("response-content-type", "content-type"),
    ("response-expires", "expires"),
];

/// What a GetObject's or HeadObject's `response-*` parameters make of
/// its answer: fields stated instead of those kept with the object (a
/// link that downloads under another name or type).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// The fields set, whatever the object keeps for them.
    fields: Vec<&'static str>,
    /// What they are set to (none for the default type).
    props: Vec<DeadProperty>,
}

impl Overrides {
    /// The overrides `query` asks for. Only a signed request may (a
    /// presigned URL's signer chose them), as S3 rules: an anonymous link
    /// must not serve a public file as another type (HTML, on the
    /// listener's origin).
    ///
    /// # Errors
    /// 400 `InvalidRequest` from an anonymous request; 400
    /// `InvalidArgument` for a value with control characters (no field
    /// may be split).
    pub fn of(query: &[(String, String)], signed: bool) -> Result<Option<Overrides>, Refusal> {
        let mut fields = Vec::new();
        let mut asked = Vec::new();
        for (param, field) in OVERRIDES {
            if let Some((_, value)) = query.iter().find(|(name, _)| name == param) {
                fields.push(field);
                asked.push((field.to_owned(), value.clone()));
            }
        }
        if fields.is_empty() {
            return Ok(None);
        }
        if !signed {
            let why = "response-* parameters are taken from signed requests only";
            return Err(refusal(Code::InvalidRequest, why));
        }
        let props = props(&asked)?.props;
        Ok(Some(Overrides { fields, props }))
    }

    /// `props` (an object's, as read) with the fields set instead.
    pub fn apply(&self, props: &mut Vec<DeadProperty>) {
        props.retain(|p| p.ns != xml::NS || !self.fields.contains(&p.local.as_str()));
        props.extend(self.props.iter().cloned());
    }
}

/// `Content-Encoding` without the `aws-chunked` coding a body came in.
fn without_aws_chunked(value: &str) -> String {
    let codings: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    codings.join(", ")
}

/// The fields GetObject and HeadObject answer from a file's dead
/// properties: those of S3's namespace an object keeps (whoever set them:
/// a WebDAV client may too), with the text of their values; a value that
/// cannot be a field's (control characters, markup that does not parse)
/// is left out. `mtime` is the file's (seconds, nanoseconds): a stored
/// `x-amz-meta-mtime` whose seconds are another time (the file's time
/// changed since, by any protocol) is answered as the file's time.
pub fn fields(props: &[DeadProperty], (seconds, nanos): (i64, u32)) -> Vec<(&str, String)> {
    props
        .iter()
        .filter(|p| p.ns == xml::NS && is_kept(&p.local))
        .filter_map(|p| {
            let text = text_of(&p.value)?;
            let clean = !text.chars().any(|c| c.is_control() && c != '\t');
            let stale = p.local == MTIME && mtime_of(&text).is_some_and(|t| t != seconds);
            let text = match stale {
                true => mtime_text(seconds, nanos),
                false => text,
            };
            clean.then_some((p.local.as_str(), text))
        })
        .collect()
}

/// The text inside a property's element (its markup and the element's
/// own tags dropped, entities resolved); `None` if it does not parse.
fn text_of(element: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(element);
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) => text.push_str(std::str::from_utf8(&t).ok()?),
            Event::GeneralRef(r) => {
                text.push_str(&delete::resolve(std::str::from_utf8(&r).ok()?).ok()?)
            }
            Event::CData(t) => text.push_str(std::str::from_utf8(&t).ok()?),
            Event::Eof => return Some(text.trim().to_owned()),
            _ => {}
        }
    }
}

/// The whole seconds of an `x-amz-meta-mtime` value (`<seconds>[.<fraction>]`);
/// `None` for anything else, which then sets nothing (it is the client's
/// own note, as on S3, where nothing reads it).
pub fn mtime_of(value: &str) -> Option<i64> {
    let (seconds, fraction) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    // A negative time with a fraction lies below its whole seconds.
    Some(match seconds < 0 && fraction.bytes().any(|b| b != b'0') {
        true => seconds - 1,
        false => seconds,
    })
}

/// A file's time as `x-amz-meta-mtime` states it: seconds, and the
/// nanoseconds where there are any.
pub fn mtime_text(seconds: i64, nanos: u32) -> String {
    match nanos {
        0 => seconds.to_string(),
        nanos => format!("{seconds}.{nanos:09}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rclones_times_are_read_to_the_second() {
        assert_eq!(mtime_of("1700000000.123456789"), Some(1_700_000_000));
        assert_eq!(mtime_of("1700000000"), Some(1_700_000_000));
        assert_eq!(mtime_of(" 5.5 "), Some(5));
        assert_eq!(mtime_of("-1.5"), Some(-2));
        assert_eq!(mtime_of("yesterday"), None);
        assert_eq!(mtime_of("1.x"), None);
        assert_eq!(mtime_text(5, 0), "5");
        assert_eq!(mtime_text(5, 120), "5.000000120");
    }

    #[test]
    fn kept_fields_round_trip_through_their_elements() {
        let sent = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let new = props(&sent(&[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Amz-Meta-Note", "a <b> & \"c\""),
            ("Content-Encoding", "aws-chunked"),
            ("Cache-Control", "max-age=60"),
        ]))
        .unwrap();
        assert_eq!(new.props.len(), 3, "aws-chunked alone is no coding");
        let answered = fields(&new.props, (0, 0));
        assert_eq!(
            answered,
            vec![
                ("content-type", "text/plain; charset=utf-8".to_owned()),
                ("x-amz-meta-note", "a <b> & \"c\"".to_owned()),
                ("cache-control", "max-age=60".to_owned()),
            ]
        );
        let gzip = props(&sent(&[("Content-Encoding", "gzip, aws-chunked")])).unwrap();
        assert_eq!(fields(&gzip.props, (0, 0))[0].1, "gzip");
        let default = props(&sent(&[("Content-Type", DEFAULT_TYPE)])).unwrap();
        assert!(default.props.is_empty());
    }

    #[test]
    fn names_and_values_that_cannot_be_kept_are_refused() {
        let one = |n: &str, v: &str| props(&[(n.to_owned(), v.to_owned())]).map_err(|e| e.0);
        assert_eq!(one("x-amz-meta-a b", "1"), Err(Code::InvalidArgument));
        assert_eq!(one("x-amz-meta-a", "1\u{7}"), Err(Code::InvalidArgument));
        assert!(one("x-amz-meta-a_b.c", "1").is_ok());
        assert!(is_kept("X-Amz-Meta-Colour") && is_kept(MTIME) && !is_kept("x-amz-meta-"));
        assert!(is_kept("Expires") && !is_kept("content-md5"));
    }

    #[test]
    fn values_set_by_another_client_answer_their_text_or_nothing() {
        let prop = |local: &str, value: &str| DeadProperty {
            ns: xml::NS.to_owned(),
            local: local.to_owned(),
            value: value.to_owned(),
        };
        let props = [
            prop(
                "content-language",
                "<Z:content-language xmlns:Z=\"x\">en<![CDATA[-GB]]></Z:content-language>",
            ),
            prop("x-amz-meta-bad", "<a>line\nbreak</a>"),
            prop("other", "<a>1</a>"),
        ];
        assert_eq!(
            fields(&props, (0, 0)),
            vec![("content-language", "en-GB".to_owned())]
        );
    }

    #[test]
    fn a_stored_time_is_answered_as_sent_until_the_files_time_changes() {
        let time = props(&[(MTIME.to_owned(), "5.25".to_owned())]).unwrap();
        assert_eq!(
            fields(&time.props, (5, 0)),
            vec![(MTIME, "5.25".to_owned())]
        );
        assert_eq!(
            fields(&time.props, (7, 3)),
            vec![(MTIME, "7.000000003".to_owned())]
        );
        // A value that is no time is the client's note, answered as sent.
        let note = props(&[(MTIME.to_owned(), "soon".to_owned())]).unwrap();
        assert_eq!(
            fields(&note.props, (7, 0)),
            vec![(MTIME, "soon".to_owned())]
        );
    }
}
