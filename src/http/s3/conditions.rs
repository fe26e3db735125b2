//! S3's conditional requests: `If-Match`, `If-None-Match`,
//! `If-Modified-Since` and `If-Unmodified-Since` on GetObject and
//! HeadObject (and, named `x-amz-copy-source-if-*`, on CopyObject's
//! source), held against the object's `ETag` (`xml::etag`: its MD5 where
//! recorded) and time, with S3's precedence:
//!
//! ```text
//! If-Match false                                   412 PreconditionFailed
//! no If-Match, If-Unmodified-Since false           412
//!   (If-Match true wins over If-Unmodified-Since false: served)
//! If-None-Match false (a tag matches)              304 Not Modified
//! no If-None-Match, If-Modified-Since false        304
//!   (If-None-Match true wins over If-Modified-Since false: served)
//! ```
//!
//! A date that does not parse is no condition (as S3 and RFC 9110 13.1.3).
//!
//! On PutObject the same `If-Match` and `If-None-Match: *` make a
//! conditional write ([`Conditions::on_write`]): preconditions on the key,
//! judged as HTTP's are (`http/preconditions.rs`), `412` when false.

use super::super::preconditions;
use super::super::response;
use super::{Code, Refusal, refusal, xml};
use crate::name::Name;
use crate::serve::Version;
use crate::serve::conditions;

/// `value` with its entity tag quoted where an SDK sent it bare (`abc`
/// for `"abc"`); anything else as it is.
fn quoted(value: &str) -> String {
    let value = value.trim();
    match value == "*" || value.starts_with('"') || value.starts_with("W/") || value.contains(',') {
        true => value.to_owned(),
        false => format!("\"{value}\""),
    }
}

/// The conditions a request sets, as their fields' values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: one of these tags, or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`: none of these tags, nor `*`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`: an HTTP date.
    pub if_modified_since: Option<String>,
    /// `If-Unmodified-Since`: an HTTP date.
    pub if_unmodified_since: Option<String>,
}

/// What the conditions say of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Holds,
    /// The client's copy is current: 304.
    NotModified,
    /// A condition fails: 412.
    Failed,
}

impl Conditions {
    /// Takes field `name` (any case) if it is one of the conditions,
    /// each name with `prefix` before it (`""`, or CopyObject's
    /// `x-amz-copy-source-`); false if it is none.
    pub fn take(&mut self, prefix: &str, name: &str, value: &str) -> bool {
        let Some(name) = name
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| name.get(prefix.len()..))
        else {
            return false;
        };
        let slot = match name.to_ascii_lowercase().as_str() {
            "if-match" => &mut self.if_match,
            "if-none-match" => &mut self.if_none_match,
            "if-modified-since" => &mut self.if_modified_since,
            "if-unmodified-since" => &mut self.if_unmodified_since,
            _ => return false,
        };
        *slot = Some(value.to_owned());
        true
    }

    /// A write's preconditions on `name` (PutObject's): `If-Match` and
    /// `If-None-Match` with tags or `*` (S3 takes `If-None-Match: *` only;
    /// a tag there is HTTP's meaning, as ceph's RGW serves it); a tag may
    /// come without its quotes, as SDKs send them. The time conditions
    /// are not S3's on a write and are left alone.
    ///
    /// # Errors
    /// 400 `InvalidArgument` for a field that lists no entity tag.
    pub fn on_write(&self, name: &Name) -> Result<Option<Box<conditions::Conditions>>, Refusal> {
        let tags = |field: &str, value: &Option<String>| match value.as_deref() {
            Some(value) => preconditions::parse(&quoted(value))
                .map(Some)
                .map_err(|why| refusal(Code::InvalidArgument, format!("{field}: {why}"))),
            None => Ok(None),
        };
        let if_match = tags("If-Match", &self.if_match)?;
        let if_none_match = tags("If-None-Match", &self.if_none_match)?;
        let required = preconditions::required(name.as_str().to_owned(), if_match, if_none_match);
        Ok(required.map(|required| {
            Box::new(conditions::Conditions {
                lists: Vec::new(),
                required: Some(required),
                etag: xml::etag,
            })
        }))
    }

    /// What they say of `version`.
    pub fn judge(&self, version: &Version) -> Verdict {
        if *self == Conditions::default() {
            // Most GETs name no condition: no tag made (a `format!`) for
            // nothing to compare it with.
            return Verdict::Holds;
        }
        let etag = xml::etag(version);
        let mtime = version.info.mtime;
        let date = |text: &Option<String>| text.as_deref().and_then(response::parse_http_date);
        match &self.if_match {
            Some(tags) if !matches(tags, &etag) => return Verdict::Failed,
            Some(_) => {}
            None => {
                if date(&self.if_unmodified_since).is_some_and(|since| mtime > since) {
                    return Verdict::Failed;
                }
            }
        }
        let since = self
            .if_modified_since
            .as_deref()
            .filter(|t| response::parse_http_date(t).is_some());
        match response::not_modified(self.if_none_match.as_deref(), since, &etag, mtime) {
            true => Verdict::NotModified,
            false => Verdict::Holds,
        }
    }
}

/// Whether a list of tags names `etag` (or is `*`); weak tags compare by
/// their value, and a tag sent without its quotes matches too (some
/// clients strip them).
fn matches(tags: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    tags.split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag || t == bare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileInfo, Md5Tag, Stamp};

    fn version() -> Version {
        Version {
            info: FileInfo {
                size: 3,
                mtime: 1_000_000_000,
            },
            stamp: Stamp::default(),
            crc: None,
            md5: Md5Tag::parse("900150983cd24fb0d6963f7d28e17f72"),
        }
    }

    fn judge(pairs: &[(&str, &str)]) -> Verdict {
        let mut conditions = Conditions::default();
        for (name, value) in pairs {
            assert!(conditions.take("", name, value), "{name}");
        }
        conditions.judge(&version())
    }

    const TAG: &str = "\"900150983cd24fb0d6963f7d28e17f72\"";
    const BEFORE: &str = "Sat, 08 Sep 2001 00:00:00 GMT";
    const AFTER: &str = "Mon, 10 Sep 2001 00:00:00 GMT";

    #[test]
    fn s3_precedence_holds() {
        assert_eq!(judge(&[]), Verdict::Holds);
        assert_eq!(judge(&[("If-Match", TAG)]), Verdict::Holds);
        assert_eq!(judge(&[("If-Match", "\"x\", *")]), Verdict::Holds);
        assert_eq!(judge(&[("If-Match", "\"other\"")]), Verdict::Failed);
        assert_eq!(judge(&[("If-Unmodified-Since", BEFORE)]), Verdict::Failed);
        assert_eq!(judge(&[("If-Unmodified-Since", AFTER)]), Verdict::Holds);
        // If-Match true wins over If-Unmodified-Since false.
        let both = [("If-Match", TAG), ("If-Unmodified-Since", BEFORE)];
        assert_eq!(judge(&both), Verdict::Holds);
        assert_eq!(judge(&[("If-None-Match", TAG)]), Verdict::NotModified);
        assert_eq!(judge(&[("If-None-Match", "\"other\"")]), Verdict::Holds);
        assert_eq!(judge(&[("If-Modified-Since", AFTER)]), Verdict::NotModified);
        assert_eq!(judge(&[("If-Modified-Since", BEFORE)]), Verdict::Holds);
        // If-None-Match true wins over If-Modified-Since false.
        let both = [("If-None-Match", "\"other\""), ("If-Modified-Since", AFTER)];
        assert_eq!(judge(&both), Verdict::Holds);
        // A 412 comes before a 304.
        let both = [("If-Match", "\"other\""), ("If-None-Match", TAG)];
        assert_eq!(judge(&both), Verdict::Failed);
        assert_eq!(judge(&[("If-Modified-Since", "yesterday")]), Verdict::Holds);
    }

    #[test]
    fn copy_source_conditions_take_their_prefix() {
        let mut conditions = Conditions::default();
        let prefix = "x-amz-copy-source-";
        assert!(conditions.take(prefix, "X-Amz-Copy-Source-If-Match", TAG));
        assert!(!conditions.take(prefix, "If-Match", TAG));
        assert!(!conditions.take(prefix, "x-amz-copy-source", "/b/k"));
        assert_eq!(conditions.if_match.as_deref(), Some(TAG));
    }
}
