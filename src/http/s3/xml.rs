//! S3's XML answers: ListBuckets and ListObjects (V1 and V2) as listing
//! formats, written piece by piece into the spool on the pool as the
//! walk goes (docs/webdav.md (c): the same spool as PROPFIND's), and the
//! small fixed answers. Text is escaped by quick-xml.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use quick_xml::escape::escape;

use super::super::fields::url_path;
use super::super::response;
use crate::model::Md5Tag;
use crate::serve::Piece;
use crate::serve::Version;
use crate::serve::terms::{Details, Format, Wants};

/// S3's namespace.
pub(super) const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// What every XML answer starts with.
pub(super) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// `GetBucketLocation`'s answer: the empty constraint, which is how S3
/// says us-east-1.
pub fn location() -> String {
    format!("{DECLARATION}<LocationConstraint xmlns=\"{NS}\"/>\n")
}

/// An object's `ETag`: the MD5 tag recorded with its file where the
/// record still matches it (a PutObject's MD5, a multipart upload's
/// `<hex>-N`), else ferry's version tag (a file stored by another
/// protocol, or changed since).
pub fn etag(version: &Version) -> String {
    match &version.md5 {
        Some(tag) => format!("\"{}\"", tag.text()),
        None => response::etag(version),
    }
}

/// A time as S3's listings give it (ISO 8601, UTC, milliseconds).
pub(super) fn iso(unix_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// `ListBuckets`: the root's folders, in name order, those after the
/// continuation token and with the prefix asked for, at most `max` of them
/// (`max-buckets`; all where none was asked).
#[derive(Debug, Default)]
pub struct Buckets {
    /// `max-buckets`: a page of at most this many; `None`: every bucket.
    max: Option<usize>,
    /// `prefix`: only the buckets whose names begin so.
    prefix: String,
    /// The bucket a continuation token names: only those after it.
    after: Option<String>,
    /// Buckets written so far.
    written: usize,
    /// The last written, while more follow (the next page's token).
    next: Option<String>,
}

impl Buckets {
    /// A page of ListBuckets: `max` buckets at most (all where `None`),
    /// those whose names begin with `prefix`, after `after`.
    pub fn page(max: Option<usize>, prefix: String, after: Option<String>) -> Buckets {
        Buckets {
            max,
            prefix,
            after,
            ..Buckets::default()
        }
    }

    /// The text of one bucket's entry, or none where it is not on the
    /// page (before the token, another prefix, or past the page, which is
    /// then marked to continue after the last written).
    fn bucket(&mut self, name: &str, mtime: i64) -> Option<String> {
        let past = self.after.as_deref().is_none_or(|after| name > after);
        if !past || !name.starts_with(self.prefix.as_str()) || self.next.is_some() {
            return None;
        }
        if self.max.is_some_and(|max| self.written >= max) {
            self.next = self.after.clone();
            return None;
        }
        self.written += 1;
        self.after = Some(name.to_owned());
        Some(format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
            escape(name),
            iso(mtime)
        ))
    }

    fn end(&self) -> String {
        let mut text = "</Buckets>".to_owned();
        if let Some(next) = &self.next {
            let _ = write!(
                text,
                "<ContinuationToken>{}</ContinuationToken>",
                token(next)
            );
        }
        if !self.prefix.is_empty() {
            let _ = write!(text, "<Prefix>{}</Prefix>", escape(&self.prefix));
        }
        text.push_str("</ListAllMyBucketsResult>\n");
        text
    }
}

impl Format for Buckets {
    fn put(&mut self, _prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let text = match piece {
            Piece::Start => format!(
                "{DECLARATION}<ListAllMyBucketsResult xmlns=\"{NS}\"><Owner><ID>ferry</ID><DisplayName>ferry</DisplayName></Owner><Buckets>"
            ),
            Piece::Directory { name, mtime, .. } => {
                match self.bucket(name.trim_end_matches('/'), mtime) {
                    Some(text) => text,
                    None => return,
                }
            }
            Piece::End => self.end(),
            Piece::Files | Piece::File { .. } | Piece::Only(_) => return,
        };
        out.extend_from_slice(text.as_bytes());
    }

    /// A bucket is a folder: the root's files are not even `lstat`ed.
    fn wants(&self) -> Wants {
        Wants {
            no_files: true,
            ..Wants::default()
        }
    }
}

/// Which listing of a bucket's keys is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// ListObjects: `Marker`, `NextMarker`.
    V1,
    /// ListObjectsV2: `StartAfter`, continuation tokens, `KeyCount`.
    V2,
    /// ListObjectVersions: each key its one version, `null` (ferry keeps
    /// none other, as S3 in a bucket never versioned), `KeyMarker`.
    Versions,
}

/// What a `ListObjects` (or `ListObjectVersions`) request asked, for its
/// answer.
#[derive(Debug)]
pub struct Objects {
    /// The bucket, and its folder's prefix (`<bucket>/`).
    pub bucket: String,
    /// The key prefix asked for.
    pub prefix: String,
    /// Which listing.
    pub listing: Listing,
    /// The delimiter asked for (never empty).
    pub delimiter: Option<String>,
    /// Keys on the page at most.
    pub max: usize,
    /// The prefix asked for matches no key (it cannot be a name's): the
    /// page is empty and not truncated.
    pub nothing: bool,
    /// `encoding-type=url`: keys and prefixes percent-encoded.
    pub url: bool,
    /// What the request gave to start after, echoed: V1's marker, V2's
    /// start-after and continuation-token.
    pub echo: Vec<(&'static str, String)>,
    /// Entries written so far.
    pub written: usize,
    /// The last entry written: where the next page starts.
    pub last: Option<String>,
    /// An entry beyond the page was found.
    pub truncated: bool,
    /// Common prefixes, written after the contents (at most `max`).
    pub prefixes: Vec<String>,
    /// The next file's recorded MD5 tag, as the walk read it.
    pub md5: Option<Md5Tag>,
    /// Each key's `<Owner>`, made of the lister's token name (V1 always,
    /// V2 with `fetch-owner=true`, as S3); `None` where not shown.
    pub owner: Option<String>,
}

/// A V2 continuation token for the page after `key`.
pub fn token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key a continuation token starts after.
pub fn after_token(token: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()
}

impl Objects {
    /// A key or prefix as the answer shows it.
    fn shown(&self, key: &str) -> String {
        match self.url {
            true => url_path(key),
            false => escape(key).into_owned(),
        }
    }

    /// The key of a name in the bucket.
    fn key<'a>(&self, name: &'a str) -> &'a str {
        name.get(self.bucket.len() + 1..).unwrap_or_default()
    }

    /// The answer's root element.
    fn root(&self) -> &'static str {
        match self.listing {
            Listing::Versions => "ListVersionsResult",
            Listing::V1 | Listing::V2 => "ListBucketResult",
        }
    }

    fn start(&self) -> String {
        // V1's own prefix is not encoded: botocore decodes V1's
        // `Delimiter`, markers and keys but not its `Prefix` (ceph's
        // `test_bucket_list_prefix_unreadable`), V2's all of them.
        let prefix = match self.listing {
            Listing::V1 => escape(&self.prefix).into_owned(),
            Listing::V2 | Listing::Versions => self.shown(&self.prefix),
        };
        let mut text = format!(
            "{DECLARATION}<{} xmlns=\"{NS}\"><Name>{}</Name><Prefix>{}</Prefix><MaxKeys>{}</MaxKeys>",
            self.root(),
            escape(&self.bucket),
            prefix,
            self.max
        );
        if let Some(delimiter) = &self.delimiter {
            let _ = write!(text, "<Delimiter>{}</Delimiter>", self.shown(delimiter));
        }
        if self.url {
            text.push_str("<EncodingType>url</EncodingType>");
        }
        for (element, value) in &self.echo {
            let _ = write!(text, "<{element}>{}</{element}>", self.shown(value));
        }
        text
    }

    fn end(&self) -> String {
        let mut text = String::new();
        for prefix in &self.prefixes {
            let _ = write!(
                text,
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                self.shown(prefix)
            );
        }
        let _ = write!(text, "<IsTruncated>{}</IsTruncated>", self.truncated);
        let next = self.last.as_deref().filter(|_| self.truncated);
        match (self.listing, next) {
            (Listing::V2, next) => {
                let _ = write!(text, "<KeyCount>{}</KeyCount>", self.written);
                if let Some(last) = next {
                    let _ = write!(
                        text,
                        "<NextContinuationToken>{}</NextContinuationToken>",
                        token(last)
                    );
                }
            }
            (Listing::V1, Some(last)) => {
                let _ = write!(text, "<NextMarker>{}</NextMarker>", self.shown(last));
            }
            (Listing::Versions, Some(last)) => {
                let _ = write!(
                    text,
                    "<NextKeyMarker>{}</NextKeyMarker><NextVersionIdMarker>null</NextVersionIdMarker>",
                    self.shown(last)
                );
            }
            (_, None) => {}
        }
        let _ = writeln!(text, "</{}>", self.root());
        text
    }

    /// Takes an entry (a key or a common prefix), unless the page is full.
    /// A page of `max-keys=0` is never truncated, whatever the bucket
    /// holds, as S3 answers it (ceph's `test_bucket_list_maxkeys_zero`).
    fn entry(&mut self, key: &str) -> bool {
        if self.nothing || self.written >= self.max {
            self.truncated = !self.nothing && self.max > 0;
            return false;
        }
        self.written += 1;
        self.last = Some(key.to_owned());
        true
    }
}

impl Format for Objects {
    fn put(&mut self, _prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let text = match piece {
            Piece::Start => self.start(),
            Piece::File { entry, .. } => {
                let key = self.key(&entry.name).to_owned();
                if !self.entry(&key) {
                    return;
                }
                let version = Version {
                    info: entry.info,
                    stamp: entry.stamp,
                    crc: None,
                    md5: self.md5.take(),
                };
                let (open, null_version, close) = match self.listing {
                    Listing::Versions => (
                        "<Version>",
                        "<VersionId>null</VersionId><IsLatest>true</IsLatest>",
                        "</Version>",
                    ),
                    Listing::V1 | Listing::V2 => ("<Contents>", "", "</Contents>"),
                };
                format!(
                    "{open}<Key>{}</Key>{null_version}<LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size>{}<StorageClass>STANDARD</StorageClass>{close}",
                    self.shown(&key),
                    iso(entry.info.mtime),
                    escape(etag(&version)),
                    entry.info.size,
                    self.owner.as_deref().unwrap_or_default(),
                )
            }
            Piece::Directory { name, .. } => {
                let key = self.key(name).to_owned();
                if self.entry(&key) {
                    self.prefixes.push(key);
                }
                return;
            }
            Piece::End => self.end(),
            Piece::Files | Piece::Only(_) => return,
        };
        out.extend_from_slice(text.as_bytes());
    }

    fn wants(&self) -> Wants {
        Wants {
            md5: true,
            ..Wants::default()
        }
    }

    fn details(&mut self, details: Details) {
        self.md5 = details.md5;
    }

    /// The `<Owner>` element, once: the token's name, or `ferry` (as
    /// ListBuckets names it) where there is none.
    fn lister(&mut self, name: Option<&str>) {
        if self.owner.is_some() {
            let name = escape(name.unwrap_or("ferry"));
            self.owner = Some(format!(
                "<Owner><ID>{name}</ID><DisplayName>{name}</DisplayName></Owner>"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_any_key() {
        for key in ["a", "dir/é &+", ""] {
            assert_eq!(after_token(&token(key)).as_deref(), Some(key));
        }
        assert_eq!(after_token("!!"), None);
    }

    #[test]
    fn times_are_iso() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    }
}
