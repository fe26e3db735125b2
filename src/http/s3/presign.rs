//! Presigned URLs: a request signed in its query instead of its
//! `Authorization` field, valid from its `X-Amz-Date` for `X-Amz-Expires`
//! seconds (at most 7 days; 0 or less has expired). Its canonical request is the header-signed
//! one's with the query's signature left out and `UNSIGNED-PAYLOAD` as
//! the payload hash: the body (a PUT's) is not signed. The signature is
//! checked by access control like any other (`access/sigv4.rs`).
//!
//! ```text
//! /<bucket>/<key>?X-Amz-Algorithm=AWS4-HMAC-SHA256
//!   &X-Amz-Credential=<key id>/<date>/<region>/s3/aws4_request
//!   &X-Amz-Date=YYYYMMDDTHHMMSSZ&X-Amz-Expires=<seconds>
//!   &X-Amz-SignedHeaders=host[;...]&X-Amz-Signature=<64 hex>
//! ```

use time::OffsetDateTime;

use super::super::message::Head;
use super::error::Code;
use super::signing::{MAX_SKEW, decoded};
use super::sigv4::{self, ALGORITHM};
use super::{Refusal, UNSIGNED, refusal};
use crate::access::sigv4::Signed;

/// The longest a presigned URL may be valid: 7 days, as S3's.
const MAX_EXPIRES: i64 = 7 * 24 * 3600;

/// The credential a presigned request presents, at `now`.
///
/// # Errors
/// Parameters missing or not SigV4's, a scope not S3's, an expiry over
/// 7 days (`AuthorizationQueryParametersError`); a URL expired (its
/// expiry 0 s or less too) or not yet valid, an `x-amz-*` field not
/// signed (`AccessDenied`).
pub(super) fn presigned(head: &Head<'_>, now: OffsetDateTime) -> Result<Signed, Refusal> {
    let (path, query) = head.target.split_once('?').unwrap_or((head.target, ""));
    let pairs: Vec<(String, &str)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decoded(name), value)
        })
        .collect();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| decoded(value))
            .ok_or_else(|| malformed(format!("a presigned URL needs {name}")))
    };
    if param("X-Amz-Algorithm")? != ALGORITHM {
        return Err(malformed("only AWS4-HMAC-SHA256 signatures are served"));
    }
    let credential = param("X-Amz-Credential")?;
    let (key_id, scope) = sigv4::credential_of(&credential)
        .ok_or_else(|| malformed("X-Amz-Credential is <key id>/<date>/<region>/s3/aws4_request"))?;
    if scope.service != sigv4::SERVICE {
        return Err(malformed(sigv4::WRONG_SERVICE));
    }
    let amz_date = param("X-Amz-Date")?;
    let at = sigv4::parse_amz_date(&amz_date)
        .filter(|_| amz_date.starts_with(&scope.date))
        .ok_or_else(|| malformed("X-Amz-Date must be YYYYMMDDTHHMMSSZ, the credential's day"))?;
    // 0 or less: a URL whose time ended as it began, expired (403, as
    // ceph/s3-tests hold AWS to), not a malformed one.
    let expires = param("X-Amz-Expires")?
        .parse::<i64>()
        .ok()
        .filter(|e| *e <= MAX_EXPIRES)
        .ok_or_else(|| malformed("X-Amz-Expires must be 1 to 604800 seconds"))?;
    check_time(at, expires, now.unix_timestamp())?;
    let signed_headers = param("X-Amz-SignedHeaders")?;
    if !sigv4::signs_host(&signed_headers) {
        return Err(malformed("host must be signed"));
    }
    sigv4::check_all_signed(head, &signed_headers)?;
    let signature = sigv4::hex32(&param("X-Amz-Signature")?)
        .ok_or_else(|| malformed("X-Amz-Signature must be 64 hex digits"))?;
    // The canonical request is made of the query as sent but the signature.
    let unsigned: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("X-Amz-Signature="))
        .collect();
    let target = format!("{path}?{}", unsigned.join("&"));
    let canonical = sigv4::canonical_hash(head, &target, &signed_headers, UNSIGNED);
    Ok(Signed {
        key_id: key_id.to_owned(),
        string_to_sign: sigv4::string_to_sign(&amz_date, &scope, &canonical),
        scope,
        signature,
        seed: None,
    })
}

/// A URL signed at `at` for `expires` seconds is valid at `now`: not
/// expired, and not dated beyond the clock skew allowed.
fn check_time(at: i64, expires: i64, now: i64) -> Result<(), Refusal> {
    if expires <= 0 || now > at.saturating_add(expires) {
        return Err(refusal(Code::AccessDenied, "Request has expired"));
    }
    if at > now.saturating_add(MAX_SKEW) {
        return Err(refusal(Code::AccessDenied, "Request is not valid yet"));
    }
    Ok(())
}

fn malformed(message: impl Into<String>) -> Refusal {
    refusal(Code::AuthorizationQueryParametersError, message)
}

#[cfg(test)]
mod tests {
    use super::super::super::message;
    use super::*;
    use crate::access::sigv4::{signing_key, verify};

    /// AWS's presigned URL example (S3 API Reference, "Authenticating
    /// Requests: Using Query Parameters"): a GET of `test.txt` in
    /// `examplebucket` at 2013-05-24T00:00:00Z, valid for a day.
    const EXAMPLE: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const AT: i64 = 1_369_353_600;

    /// What `presigned` makes of `target` at `now`, and whether the
    /// example's secret signed it.
    fn check(target: &str, now: i64) -> Result<bool, Code> {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: examplebucket.s3.amazonaws.com\r\n\r\n");
        let mut result = Err(Code::InternalError);
        let parsed = message::parse(
            raw.as_bytes(),
            |_| false,
            |head, _| {
                let now = OffsetDateTime::from_unix_timestamp(now).unwrap();
                result = presigned(head, now)
                    .map_err(|(code, _)| code)
                    .map(|signed| {
                        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
                        let key = signing_key(secret, &signed.scope);
                        verify(&key, &signed.string_to_sign, &signed.signature)
                    });
                Ok(())
            },
        );
        assert!(matches!(parsed, Ok(message::Parsed::Whole(..))));
        result
    }

    #[test]
    fn the_documented_example_verifies_while_it_is_valid() {
        assert_eq!(check(EXAMPLE, AT), Ok(true));
        assert_eq!(check(EXAMPLE, AT + 86_400), Ok(true));
        assert_eq!(check(EXAMPLE, AT + 86_401), Err(Code::AccessDenied));
        assert_eq!(check(EXAMPLE, AT - MAX_SKEW - 1), Err(Code::AccessDenied));
        // Valid for no time, or less: expired from the start.
        for expires in ["0", "-7"] {
            let none = EXAMPLE.replace("Expires=86400", &format!("Expires={expires}"));
            assert_eq!(check(&none, AT), Err(Code::AccessDenied), "{expires}");
        }
        // Anything of the query changed: another request.
        let other = EXAMPLE.replace("Expires=86400", "Expires=86401");
        assert_eq!(check(&other, AT), Ok(false));
        let other = EXAMPLE.replace("/test.txt", "/test.txu");
        assert_eq!(check(&other, AT), Ok(false));
    }

    #[test]
    fn parameters_must_be_sigv4s() {
        let longer = EXAMPLE.replace("Expires=86400", "Expires=604801");
        let none = EXAMPLE.replace("Expires=86400", "Expires=");
        let iam = EXAMPLE.replace("%2Fs3%2F", "%2Fiam%2F");
        let unhosted = EXAMPLE.replace("SignedHeaders=host", "SignedHeaders=x-amz-date");
        let algorithm = EXAMPLE.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        let missing = EXAMPLE.replace("&X-Amz-Date=20130524T000000Z", "");
        for bad in [longer, none, iam, unhosted, algorithm, missing] {
            assert_eq!(
                check(&bad, AT),
                Err(Code::AuthorizationQueryParametersError),
                "{bad}"
            );
        }
    }
}
