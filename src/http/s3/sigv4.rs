//! What an S3 request signs (Signature Version 4, `Authorization`
//! header): its canonical form and the string to sign, made from the
//! request head alone, so that access control can check the signature
//! with the key's secret (`access/sigv4.rs`) without knowing HTTP. Also
//! the request's time, which may be at most 15 minutes from the server's.
//!
//! ```text
//! Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/s3/aws4_request,
//!                SignedHeaders=<h1;h2;...>, Signature=<64 hex>
//! canonical request = method \n URI \n query \n headers \n signed headers \n payload hash
//!   URI:     the path, decoded, each byte but A-Z a-z 0-9 - . _ ~ / as %XX (once: S3's rule)
//!   query:   name=value pairs, each side encoded as the URI but / too, sorted
//!   headers: each signed header, lower-case: values trimmed, spaces squeezed, joined by ,
//! string to sign = "AWS4-HMAC-SHA256" \n x-amz-date \n <date>/<region>/s3/aws4_request \n hex(SHA-256(canonical request))
//! ```

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::super::message::Head;
use super::error::Code;
use super::signing::MAX_SKEW;
use super::{Refusal, UNSIGNED, refusal};
use crate::access::sigv4::{Scope, Signed};
use crate::name::percent_decode;

/// The one algorithm served.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What an `Authorization` value says, borrowed from it: parsing one
/// makes nothing but the scope.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id.
    pub key_id: &'a str,
    /// The credential scope.
    pub scope: Scope,
    /// The signed headers' names, lower-case, `;`-separated as given
    /// (the canonical request's line of them).
    pub signed_headers: &'a str,
    /// The signature.
    pub signature: [u8; 32],
}

/// Parses an `Authorization` value.
///
/// # Errors
/// Another algorithm, or a value that is not one of SigV4's.
pub fn authorization(value: &str) -> Result<Authorization<'_>, (Code, &'static str)> {
    let malformed = (
        Code::AuthorizationHeaderMalformed,
        "expected AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...",
    );
    let Some(rest) = value.trim().strip_prefix(ALGORITHM) else {
        return Err((
            Code::InvalidRequest,
            "only AWS4-HMAC-SHA256 signatures are served",
        ));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(malformed),
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed, signature)
    else {
        return Err(malformed);
    };
    let (key_id, scope) = credential_of(credential).ok_or(malformed)?;
    let signature = hex32(signature).ok_or(malformed)?;
    Ok(Authorization {
        key_id,
        scope,
        signed_headers,
        signature,
    })
}

/// Whether a `;`-separated list of signed headers names `host`.
pub fn signs_host(signed_headers: &str) -> bool {
    signed_headers.split(';').any(|name| name == "host")
}

/// The one service a credential's scope may name: a signature made for
/// IAM, EC2 or STS is not one for this endpoint (AWS answers the same).
pub const SERVICE: &str = "s3";
/// Why a scope naming another service is refused.
pub const WRONG_SERVICE: &str = "the credential's scope must name service s3";

/// Refuses a request that carries an `x-amz-*` field its signature does
/// not cover (`signed_headers`, `;`-separated, lower-case), as AWS does:
/// such a field would change what the request does (`x-amz-copy-source`
/// turns a PUT into a copy, `x-amz-meta-*` is stored) without its
/// signer's say. `x-amz-content-sha256` is left out: its value is the
/// canonical request's payload hash for a header's signature, and on a
/// presigned URL it can only restrict the body. `Content-Type` and
/// `Content-MD5` need not be signed (AWS does not ask it, minio-go and so
/// restic never sign `Content-Type`, browsers add it to presigned PUTs);
/// the MD5 only restricts the body, and the type is the body's label,
/// which a URL's holder chooses as they choose the body.
///
/// # Errors
/// `AccessDenied`, naming the fields not signed.
pub fn check_all_signed(head: &Head<'_>, signed_headers: &str) -> Result<(), Refusal> {
    let mut unsigned: Vec<String> = Vec::new();
    for (name, _) in head.fields() {
        if !name
            .get(..AMZ.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(AMZ))
        {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let signed = signed_headers.split(';').any(|s| s == lower);
        if !signed && lower != "x-amz-content-sha256" && !unsigned.contains(&lower) {
            unsigned.push(lower);
        }
    }
    match unsigned.is_empty() {
        true => Ok(()),
        false => Err(refusal(
            Code::AccessDenied,
            format!(
                "There were headers present in the request which were not signed: {}",
                unsigned.join(", ")
            ),
        )),
    }
}

/// The prefix of the fields a signature must cover.
const AMZ: &str = "x-amz-";

/// A credential, `<key id>/<date>/<region>/<service>/aws4_request`: the
/// key id and the scope.
pub fn credential_of(credential: &str) -> Option<(&str, Scope)> {
    let mut parts = credential.split('/');
    let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let scope = Scope {
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    };
    Some((key_id, scope))
}

/// The payload hash of a body whose chunks are signed (its `-TRAILER`
/// variant too).
pub const SIGNED_CHUNKS: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// The payload hash of an aws-chunked body with a trailer, unsigned.
const UNSIGNED_CHUNKS: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// The `x-amz-content-sha256` of a signed request (`value`), as it
/// signed it.
pub fn payload_hash(value: Option<&str>) -> Result<&str, Refusal> {
    match value {
        None => Err(refusal(
            Code::InvalidRequest,
            "a signed request needs x-amz-content-sha256",
        )),
        Some(hash)
            if hash == UNSIGNED
                || hash == UNSIGNED_CHUNKS
                || hash
                    .strip_prefix(SIGNED_CHUNKS)
                    .is_some_and(|t| t.is_empty() || t == "-TRAILER")
                || hex32(hash).is_some() =>
        {
            Ok(hash)
        }
        Some(streaming) if streaming.starts_with("STREAMING-") => Err(refusal(
            Code::NotImplemented,
            "this aws-chunked signing (ECDSA) is not served",
        )),
        Some(_) => Err(refusal(
            Code::InvalidArgument,
            "x-amz-content-sha256 must be a SHA-256 in hex or UNSIGNED-PAYLOAD",
        )),
    }
}

/// The credential a signed request presents: its string to sign, made
/// from `head`, with `payload` (the `x-amz-content-sha256` value) as its
/// payload hash; `amz_date` is its `x-amz-date`, checked against `now`.
///
/// # Errors
/// A date that is not one, or more than 15 minutes from `now`, or not the
/// scope's day; a scope of another service than S3; `host` not signed; an `x-amz-*` field not signed
/// ([`check_all_signed`]).
pub fn signed(
    head: &Head<'_>,
    auth: Authorization<'_>,
    amz_date: &str,
    payload: &str,
    now: OffsetDateTime,
) -> Result<Signed, (Code, String)> {
    let at = parse_amz_date(amz_date).ok_or_else(|| {
        (
            Code::AccessDenied,
            "X-Amz-Date must be YYYYMMDDTHHMMSSZ".to_owned(),
        )
    })?;
    if auth.scope.service != SERVICE {
        return Err((Code::AuthorizationHeaderMalformed, WRONG_SERVICE.to_owned()));
    }
    if (at - now.unix_timestamp()).abs() > MAX_SKEW {
        let message = "the request's time is more than 15 minutes from the server's";
        return Err((Code::RequestTimeTooSkewed, message.to_owned()));
    }
    if !amz_date.starts_with(&auth.scope.date) || !signs_host(auth.signed_headers) {
        let message = "the credential's date must be X-Amz-Date's, and host must be signed";
        return Err((Code::AuthorizationHeaderMalformed, message.to_owned()));
    }
    check_all_signed(head, auth.signed_headers)?;
    let canonical = canonical_hash(head, head.target, auth.signed_headers, payload);
    Ok(Signed {
        key_id: auth.key_id.to_owned(),
        string_to_sign: string_to_sign(amz_date, &auth.scope, &canonical),
        scope: auth.scope,
        signature: auth.signature,
        seed: None,
    })
}

/// Where a canonical request is written: into its hash when a request is
/// checked (no text is made of it), as text in tests.
pub trait Sink {
    /// Writes `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The SHA-256 of the canonical request of `head` as if its target were
/// `target` (a presigned URL's is its own, its signature left out),
/// signing `signed_headers` (`;`-separated), whose payload hash is
/// `payload`.
pub fn canonical_hash(
    head: &Head<'_>,
    target: &str,
    signed_headers: &str,
    payload: &str,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    canonical_into(&mut hash, head, target, signed_headers, payload);
    hash.finalize().into()
}

/// The canonical request of `head`, signing `signed_headers`, whose
/// payload hash is `payload`, as text.
#[cfg(test)]
pub fn canonical_request(head: &Head<'_>, signed_headers: &str, payload: &str) -> String {
    let mut text = Vec::new();
    canonical_into(&mut text, head, head.target, signed_headers, payload);
    String::from_utf8_lossy(&text).into_owned()
}

/// Writes the canonical request into `out`: the path and each signed
/// field's values straight from the head, only a query's pairs (which
/// must be sorted) held apart.
fn canonical_into(
    out: &mut impl Sink,
    head: &Head<'_>,
    target: &str,
    signed_headers: &str,
    payload: &str,
) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    out.put(head.method.as_bytes());
    out.put(b"\n");
    match percent_decode(path.as_bytes()) {
        // UTF-8 as a client's path is, checked in one pass; else lossily.
        Ok(bytes) => match std::str::from_utf8(&bytes) {
            Ok(text) => encode_into(out, text, false),
            Err(_) => encode_into(out, &String::from_utf8_lossy(&bytes), false),
        },
        Err(_) => encode_into(out, path, false),
    }
    out.put(b"\n");
    if !query.is_empty() {
        out.put(canonical_query(query).as_bytes());
    }
    out.put(b"\n");
    for name in signed_headers.split(';') {
        out.put(name.as_bytes());
        out.put(b":");
        let values = head.fields().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        for (at, (_, value)) in values.enumerate() {
            if at > 0 {
                out.put(b",");
            }
            squeezed_into(out, value);
        }
        out.put(b"\n");
    }
    out.put(b"\n");
    out.put(signed_headers.as_bytes());
    out.put(b"\n");
    out.put(payload.as_bytes());
}

/// The string to sign for a canonical request whose SHA-256 is
/// The `Date` field's time in `x-amz-date`'s form (`YYYYMMDDTHHMMSSZ`):
/// a request that carries no `x-amz-date` is signed at its `Date`, as
/// botocore signs one that has a `Date` field.
pub fn amz_date_of_http_date(date: &str) -> Option<String> {
    let at = super::signing::parse_date(date.trim())?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()?
        .format(format)
        .ok()
}

/// `canonical`, a request of `amz_date` in `scope`.
pub fn string_to_sign(amz_date: &str, scope: &Scope, canonical: &[u8; 32]) -> String {
    let mut text = String::with_capacity(160);
    for part in [ALGORITHM, "\n", amz_date, "\n", &scope.date, "/"] {
        text.push_str(part);
    }
    for part in [&scope.region, "/", &scope.service, "/aws4_request\n"] {
        text.push_str(part);
    }
    push_hex(&mut text, canonical);
    text
}

/// The query's pairs, each side decoded then encoded, sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(name), true), encode(&decode(value), true))
        })
        .collect();
    pairs.sort();
    let pairs: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    pairs.join("&")
}

/// `text` percent-decoded, as bytes read as UTF-8 (lossily: a request
/// whose bytes are not UTF-8 cannot match anything a client signed).
fn decode(text: &str) -> String {
    match percent_decode(text.as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => text.to_owned(),
    }
}

/// SigV4's encoding: every byte but the unreserved ones (and `/`, unless
/// `slash`) as `%XX`.
fn encode(text: &str, slash: bool) -> String {
    let mut out = Vec::with_capacity(text.len());
    encode_into(&mut out, text, slash);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`encode`] into `out`, unreserved runs whole.
fn encode_into(out: &mut impl Sink, text: &str, slash: bool) {
    let bytes = text.as_bytes();
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (byte == b'/' && !slash) {
            continue;
        }
        out.put(&bytes[run..at]);
        out.put(&[
            b'%',
            HEX_UPPER[usize::from(byte >> 4)],
            HEX_UPPER[usize::from(byte & 15)],
        ]);
        run = at + 1;
    }
    out.put(&bytes[run..]);
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// A header value trimmed, runs of ASCII white space squeezed to one
/// space. Bytes as the client sent them: what it signed is its own bytes,
/// and no text is made of them per request.
fn squeezed_into(out: &mut impl Sink, value: &[u8]) {
    let words = value
        .split(u8::is_ascii_whitespace)
        .filter(|word| !word.is_empty());
    for (at, word) in words.enumerate() {
        if at > 0 {
            out.put(b" ");
        }
        out.put(word);
    }
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds: fixed digits read in place (no
/// format parsed per request), the date checked as `time` would.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |from: usize, to: usize| {
        bytes[from..to].iter().try_fold(0i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0, 4)?, number(4, 6)?, number(6, 8)?);
    let (hour, minute, second) = (number(9, 11)?, number(11, 13)?, number(13, 15)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(
        crate::formats::calendar::days_from_civil(year, month, day) * 86_400
            + hour * 3600
            + minute * 60
            + second,
    )
}

/// 32 bytes from 64 hex digits (either case), made in place.
pub fn hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |d: u8| char::from(d).to_digit(16);
        *byte = u8::try_from((nibble(pair[0])? << 4) | nibble(pair[1])?).ok()?;
    }
    Some(bytes)
}

/// Bytes from hex digits (either case).
pub use crate::formats::hex::to_bytes as hex;

/// Lower-case hex of `bytes`, after `text`.
fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::message;
    use super::*;
    use crate::access::sigv4;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// One vector of AWS's `aws-sig-v4-test-suite` (service `service`,
    /// region us-east-1, 2015-08-30T12:36:00Z): the request as sent, the
    /// canonical request and the signature it must give.
    fn check(request: &str, canonical: &str, signature: &str) {
        let credential = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        let vector = (SECRET, credential, "20150830T123600Z");
        check_signed(vector, request, canonical, EMPTY, signature);
    }

    /// A request signed with `(secret, credential, x-amz-date)`, whose
    /// body hashes to `payload`, must make `canonical` and `signature`.
    fn check_signed(
        (secret, credential, date): (&str, &str, &str),
        request: &str,
        canonical: &str,
        payload: &str,
        signature: &str,
    ) {
        let raw = format!("{}\r\n\r\n", request.replace('\n', "\r\n"));
        let parsed = message::parse(
            raw.as_bytes(),
            |_| false,
            |head, _| {
                let auth = format!(
                    "AWS4-HMAC-SHA256 Credential={credential}, \
                 SignedHeaders={}, Signature={signature}",
                    canonical.lines().rev().nth(1).unwrap_or_default()
                );
                let auth = authorization(&auth).map_err(|(_, m)| (400, m.to_owned()))?;
                let made = canonical_request(head, auth.signed_headers, payload);
                assert_eq!(made, canonical, "{request}");
                let hash = canonical_hash(head, head.target, auth.signed_headers, payload);
                let sts = string_to_sign(date, &auth.scope, &hash);
                let key = sigv4::signing_key(secret, &auth.scope);
                assert!(sigv4::verify(&key, &sts, &auth.signature), "{request}");
                Ok(())
            },
        );
        assert!(
            matches!(parsed, Ok(message::Parsed::Whole(..))),
            "{request}: {parsed:?}"
        );
    }

    #[test]
    fn the_test_suite_vectors_that_s3_shares() {
        let vectors = [
            (
                "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "GET /?Param1=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
            ),
            (
                "GET /?Param1=value2&Param1=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
            ),
            (
                "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
            ),
            (
                "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            ),
            (
                "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z",
                "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n",
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            ),
            (
                "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z",
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n",
                "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            ),
            (
                "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nX-Amz-Date:20150830T123600Z",
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
        ];
        for (request, canonical, signature) in vectors {
            check(request, &format!("{canonical}{EMPTY}"), signature);
        }
    }

    /// The four examples of S3's own page, "Signature Calculations for the
    /// Authorization Header: Transferring Payload in a Single Chunk" (key
    /// AKIAIOSFODNN7EXAMPLE, bucket examplebucket, 2013-05-24): GetObject
    /// with a Range, PutObject of a key with `$` and a signed payload, GET
    /// of a bucket's `?lifecycle` (a query key with no value) and
    /// ListObjects with `max-keys` and `prefix`; the signatures are the
    /// page's.
    #[test]
    fn the_s3_documentation_examples() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let credential = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
        let vector = (secret, credential, "20130524T000000Z");
        let host = "Host: examplebucket.s3.amazonaws.com";
        let put_payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
        let amz = format!("x-amz-content-sha256:{EMPTY}\nx-amz-date:20130524T000000Z");
        let get = (
            format!("GET /test.txt HTTP/1.1\n{host}\nRange: bytes=0-9\n{amz}"),
            format!(
                "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n{amz}\n\n\
                 host;range;x-amz-content-sha256;x-amz-date\n{EMPTY}"
            ),
            EMPTY,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        );
        let put = (
            format!(
                "PUT /test$file.text HTTP/1.1\n{host}\nDate: Fri, 24 May 2013 00:00:00 GMT\n\
                 x-amz-date: 20130524T000000Z\nx-amz-storage-class: REDUCED_REDUNDANCY\n\
                 x-amz-content-sha256: {put_payload}"
            ),
            format!(
                "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n\
                 host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:{put_payload}\n\
                 x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
                 date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n{put_payload}"
            ),
            put_payload,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        );
        let bucket = |query: &str, canonical_query: &str, signature| {
            (
                format!("GET /?{query} HTTP/1.1\n{host}\n{amz}"),
                format!(
                    "GET\n/\n{canonical_query}\nhost:examplebucket.s3.amazonaws.com\n{amz}\n\n\
                     host;x-amz-content-sha256;x-amz-date\n{EMPTY}"
                ),
                EMPTY,
                signature,
            )
        };
        let lifecycle = bucket(
            "lifecycle",
            "lifecycle=",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        );
        let list = bucket(
            "max-keys=2&prefix=J",
            "max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        );
        for (request, canonical, payload, signature) in [get, put, lifecycle, list] {
            check_signed(vector, &request, &canonical, payload, signature);
        }
    }

    #[test]
    fn authorization_values() {
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-3/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
            "ab".repeat(32)
        );
        let auth = authorization(&value).unwrap();
        assert_eq!(auth.key_id, "AK");
        assert_eq!(auth.scope.region, "eu-west-3");
        assert_eq!(auth.signed_headers, "host;x-amz-date");
        assert_eq!(auth.signature, [0xab; 32]);
        for bad in [
            "AWS AK:sig",
            "AWS4-HMAC-SHA256 Credential=AK/20260101/s3/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AK/20260101/r/s3/aws4_request, SignedHeaders=host",
        ] {
            assert!(authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_and_skew() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
        for bad in [
            "20150230T000000Z",
            "20150830T240000Z",
            "2015083aT123600Z",
            "20150830T123600",
            "+2015083T123600Z",
            "20151301T000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    /// The hand-written parse agrees with `time`'s on every day of four
    /// centuries' worth of dates around the epoch, leap days included.
    #[test]
    fn dates_agree_with_time() {
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let start = time::macros::datetime!(1900-01-01 23:59:58 UTC);
        for day in (0..400 * 366).step_by(7) {
            let at = start + time::Duration::days(day) + time::Duration::seconds(day % 86_400);
            let text = at.format(format).unwrap();
            assert_eq!(parse_amz_date(&text), Some(at.unix_timestamp()), "{text}");
        }
    }

    #[test]
    fn a_date_field_is_signed_in_amz_form() {
        let amz = amz_date_of_http_date("Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(amz.as_deref(), Some("20150830T123600Z"));
        let python = amz_date_of_http_date("Sun, 30 Aug 2015 12:36:00 -0000");
        assert_eq!(python.as_deref(), Some("20150830T123600Z"));
        assert_eq!(amz_date_of_http_date("yesterday"), None);
    }

    #[test]
    fn signatures_are_64_hex_digits() {
        assert_eq!(hex32(&"aB".repeat(32)), Some([0xab; 32]));
        for bad in [
            "ab".repeat(31),
            "ab".repeat(33),
            format!("{}zz", "ab".repeat(31)),
        ] {
            assert_eq!(hex32(&bad), None, "{bad}");
        }
        assert_eq!(hex32(&format!("{}+1", "ab".repeat(31))), None);
    }
}
