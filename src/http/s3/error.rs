//! S3's error answers: the codes ferry uses, their statuses, the XML
//! body, and how a failure of the serve layer becomes one (the mapping
//! is docs/s3.md's table). Storage failures stay 5xx: a client retries
//! them, and never takes them for its own mistake.
//!
//! Every error answer names a request id, in its `x-amz-request-id`
//! field and its body's `<RequestId>` alike, as S3's do (a client reports
//! the id; botocore reads it from the field, ceph/s3-tests checks the two
//! agree).
//!
//! ```text
//! <?xml version="1.0" encoding="UTF-8"?>
//! <Error><Code>NoSuchKey</Code><Message>no such file</Message><RequestId>5F2A...</RequestId></Error>
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::dialect::Message;
use super::super::response::Head as ResponseHead;
use super::Asked;
use crate::serve::digest::{INCOMPLETE_BODY, SHA256_MISMATCH};
use crate::serve::multipart::{INVALID_PART, NO_SUCH_SOURCE, PART_ORDER, PART_TOO_SMALL};
use crate::serve::{
    BAD_SIGNATURE, ErrorKind, Failure, NO_SUCH_PART, NOTHING_THERE, PART_SIZES_UNKNOWN,
    SOURCE_RANGE, UNKNOWN_KEY,
};

/// An S3 error code ferry answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Not granted, not signed, read-only, or a reserved name.
    AccessDenied,
    /// An `Authorization` value that is not SigV4's.
    AuthorizationHeaderMalformed,
    /// A presigned URL's `X-Amz-*` parameters that are not SigV4's.
    AuthorizationQueryParametersError,
    /// The body is not the one its `Content-MD5` states.
    BadDigest,
    /// A file has the bucket's name.
    BucketAlreadyExists,
    /// The bucket exists.
    BucketAlreadyOwnedByYou,
    /// DeleteBucket of a folder that holds something.
    BucketNotEmpty,
    /// Over `--max-file-size`.
    EntityTooLarge,
    /// A multipart upload's part other than the last under 5 MiB.
    EntityTooSmall,
    /// An `aws-chunked` payload not as long as its declared length.
    IncompleteBody,
    /// The disk is full (or its reserve reached): retryable.
    InsufficientStorage,
    /// The write would pass a token's or a folder's quota: final (403,
    /// as MinIO's quota errors are 4xx; SDKs do not retry it).
    QuotaExceeded,
    /// Anything else on the server's side.
    InternalError,
    /// No S3 key has the access key id.
    InvalidAccessKeyId,
    /// A parameter that is not one.
    InvalidArgument,
    /// A new bucket's name breaks S3's rules.
    InvalidBucketName,
    /// A `Content-MD5` that is not the base64 of 16 bytes.
    InvalidDigest,
    /// A completion names a part not staged, or not with its ETag.
    InvalidPart,
    /// A completion lists its parts out of order.
    InvalidPartOrder,
    /// A range beyond the object.
    InvalidRange,
    /// A target that is no name: not UTF-8, or with control characters.
    InvalidURI,
    /// A request S3 would not make so.
    InvalidRequest,
    /// A key over 1024 bytes.
    KeyTooLongError,
    /// A request body that is not the XML asked for.
    MalformedXML,
    /// More than 2 KiB of user metadata.
    MetadataTooLarge,
    /// A method the target does not take.
    MethodNotAllowed,
    /// A PutObject without `Content-Length`.
    MissingContentLength,
    /// No folder has the bucket's name.
    NoSuchBucket,
    /// No file has the key's name.
    NoSuchKey,
    /// No multipart upload has the id (or it expired).
    NoSuchUpload,
    /// An operation not served (yet).
    NotImplemented,
    /// Another operation holds the name (a WebDAV lock): try again.
    OperationAborted,
    /// A condition of the request does not hold.
    PreconditionFailed,
    /// `X-Amz-Date` more than 15 minutes from the server's time.
    RequestTimeTooSkewed,
    /// The storage failed: try again.
    ServiceUnavailable,
    /// The signature is not the key's.
    SignatureDoesNotMatch,
    /// Too busy, or too many failed signatures from the address.
    SlowDown,
    /// The body is not the one signed.
    XAmzContentSHA256Mismatch,
    /// ferry's own: a key that is a folder, or under a file, on disk.
    XFerryKeyConflict,
    /// ferry's own: a key that cannot be a file name (`a//b`, `..`).
    XFerryInvalidKey,
}

impl Code {
    /// Its HTTP status.
    pub fn status(self) -> u16 {
        use Code::*;
        match self {
            AuthorizationHeaderMalformed
            | AuthorizationQueryParametersError
            | BadDigest
            | EntityTooLarge
            | EntityTooSmall
            | InvalidPart
            | InvalidPartOrder
            | IncompleteBody
            | InvalidArgument
            | InvalidBucketName
            | InvalidDigest
            | InvalidRequest
            | InvalidURI
            | KeyTooLongError
            | MalformedXML
            | MetadataTooLarge
            | XAmzContentSHA256Mismatch
            | XFerryInvalidKey => 400,
            AccessDenied
            | InvalidAccessKeyId
            | QuotaExceeded
            | RequestTimeTooSkewed
            | SignatureDoesNotMatch => 403,
            NoSuchBucket | NoSuchKey | NoSuchUpload => 404,
            MethodNotAllowed => 405,
            BucketAlreadyExists
            | BucketAlreadyOwnedByYou
            | BucketNotEmpty
            | OperationAborted
            | XFerryKeyConflict => 409,
            MissingContentLength => 411,
            PreconditionFailed => 412,
            InvalidRange => 416,
            InternalError => 500,
            NotImplemented => 501,
            ServiceUnavailable | SlowDown => 503,
            InsufficientStorage => 507,
        }
    }

    /// Its name in the XML.
    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

/// The code of a serve-layer failure of a request that `asked`.
pub fn code_of(asked: Asked, failure: &Failure) -> Code {
    let buckets = matches!(
        asked,
        Asked::HeadBucket
            | Asked::Location
            | Asked::ListObjects
            | Asked::DeleteBucket
            | Asked::DeleteObjects(_)
    );
    match failure.kind {
        ErrorKind::Unauthorized if failure.message == UNKNOWN_KEY => Code::InvalidAccessKeyId,
        ErrorKind::Unauthorized if failure.message == BAD_SIGNATURE => Code::SignatureDoesNotMatch,
        ErrorKind::Unauthorized
        | ErrorKind::Forbidden
        | ErrorKind::ReadOnly
        | ErrorKind::Vetoed => Code::AccessDenied,
        ErrorKind::NotFound | ErrorKind::Expired if buckets => Code::NoSuchBucket,
        ErrorKind::NotFound if failure.message == crate::serve::NO_BUCKET => Code::NoSuchBucket,
        // UploadPartCopy's source, not its upload.
        ErrorKind::NotFound if failure.message == NO_SUCH_SOURCE => Code::NoSuchKey,
        ErrorKind::NotFound | ErrorKind::Expired if asked.is_multipart() => Code::NoSuchUpload,
        ErrorKind::NotFound | ErrorKind::Expired => Code::NoSuchKey,
        ErrorKind::Conflict if asked == Asked::DeleteBucket => Code::BucketNotEmpty,
        ErrorKind::Conflict if matches!(asked, Asked::GetObject(_)) => Code::NoSuchKey,
        ErrorKind::Conflict => Code::XFerryKeyConflict,
        ErrorKind::Exists if asked == Asked::CreateBucket => Code::BucketAlreadyOwnedByYou,
        ErrorKind::Exists => Code::XFerryKeyConflict,
        // A WebDAV client's lock on the name: S3 knows no locks, and its
        // "conflicting operation in progress, try again" is what it is.
        ErrorKind::Locked => Code::OperationAborted,
        // A write's `If-Match` on a key nothing has.
        ErrorKind::PreconditionFailed if failure.message == NOTHING_THERE => Code::NoSuchKey,
        ErrorKind::PreconditionFailed => Code::PreconditionFailed,
        ErrorKind::TooLarge => Code::EntityTooLarge,
        ErrorKind::ChecksumMismatch if failure.message == SHA256_MISMATCH => {
            Code::XAmzContentSHA256Mismatch
        }
        ErrorKind::ChecksumMismatch => Code::BadDigest,
        ErrorKind::BadRequest if failure.message == INVALID_PART => Code::InvalidPart,
        ErrorKind::BadRequest
            if failure.message == NO_SUCH_PART || failure.message == PART_SIZES_UNKNOWN =>
        {
            Code::InvalidPart
        }
        ErrorKind::BadRequest if failure.message == PART_ORDER => Code::InvalidPartOrder,
        ErrorKind::BadRequest if failure.message == PART_TOO_SMALL => Code::EntityTooSmall,
        ErrorKind::BadRequest if failure.message == INCOMPLETE_BODY => Code::IncompleteBody,
        ErrorKind::BadRequest if failure.message == SOURCE_RANGE => Code::InvalidRange,
        ErrorKind::BadRequest => Code::InvalidRequest,
        ErrorKind::Throttled | ErrorKind::Busy => Code::SlowDown,
        ErrorKind::Unavailable => Code::ServiceUnavailable,
        ErrorKind::NoSpace => Code::InsufficientStorage,
        ErrorKind::OverQuota => Code::QuotaExceeded,
        ErrorKind::Internal => Code::InternalError,
    }
}

/// Starts a successful answer with `status`: every S3 answer names its
/// request in `x-amz-request-id`, as S3's do (SDKs log it with each call,
/// and a user quotes it to tell which request a log line is).
pub fn head(out: &mut Vec<u8>, status: u16) -> ResponseHead<'_> {
    ResponseHead::new(out, status).header("x-amz-request-id", request_id())
}

/// Writes an error answer: `status`, its `x-amz-request-id`, and the XML
/// body naming `code`, `message` and the same id (no body for HEAD).
pub fn write(out: &mut Vec<u8>, (status, code): (u16, Code), message: &str, answer: Message) {
    let id = request_id();
    let body = body(code, message, &id);
    ResponseHead::new(out, status)
        .header("Content-Type", "application/xml")
        .header("x-amz-request-id", &id)
        .finish(body.len() as u64, answer.persistence);
    if !answer.head {
        out.extend_from_slice(body.as_bytes());
    }
}

/// A request id: 16 upper-case hex digits, as S3's. Ids are counted from
/// a random start, so they differ between requests and between runs
/// without a random number per request.
fn request_id() -> String {
    static START: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let flags = rustix::rand::GetRandomFlags::NONBLOCK;
        // No entropy yet (early boot): the clock serves to tell runs apart.
        match rustix::rand::getrandom(&mut bytes, flags) {
            Ok(8) => u64::from_le_bytes(bytes),
            _ => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    });
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{:016X}", start.wrapping_add(n))
}

/// The XML body of an error.
pub fn body(code: Code, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>\n",
        code.name(),
        quick_xml::escape::escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_differ() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert!(
            a.len() == 16 && a.bytes().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
    }

    #[test]
    fn storage_failures_are_never_the_clients() {
        for kind in [ErrorKind::Unavailable, ErrorKind::Busy, ErrorKind::Internal] {
            let failure = Failure::new(kind, "disk gone");
            for asked in [
                Asked::GetObject(super::super::Reading::default()),
                Asked::PutObject,
                Asked::ListObjects,
            ] {
                assert!(code_of(asked, &failure).status() >= 500);
            }
        }
    }

    #[test]
    fn a_missing_name_is_a_bucket_or_a_key_by_what_was_asked() {
        let failure = Failure::new(ErrorKind::NotFound, "no such file");
        assert_eq!(code_of(Asked::ListObjects, &failure), Code::NoSuchBucket);
        let head = Asked::HeadObject(super::super::Reading::default());
        assert_eq!(code_of(head, &failure), Code::NoSuchKey);
        let body = body(Code::NoSuchKey, "a <b>", "0123456789ABCDEF");
        assert!(body.contains(
            "<Code>NoSuchKey</Code><Message>a &lt;b&gt;</Message><RequestId>0123456789ABCDEF</RequestId>"
        ));
    }
}
