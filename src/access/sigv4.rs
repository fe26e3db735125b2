//! Signature Version 4's keyed half: the signing key derived from an S3
//! secret and a credential scope, and a request's signature checked
//! against it in constant time. What a request signs (its canonical form,
//! the string to sign) is the S3 dialect's (`http/s3/sigv4.rs`): this
//! file sees only that string, so it knows no HTTP, and the secret never
//! leaves access control.
//!
//! ```text
//! kDate    = HMAC("AWS4" + secret, date)          date: YYYYMMDD
//! kRegion  = HMAC(kDate, region)
//! kService = HMAC(kRegion, service)
//! kSigning = HMAC(kService, "aws4_request")
//! signature = hex(HMAC(kSigning, string to sign))
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The scope a signature was made for: `<date>/<region>/<service>` (the
/// `aws4_request` terminator is implied). Any region is accepted: ferry
/// has one place for the files, whatever a client calls it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// `YYYYMMDD`.
    pub date: String,
    /// The region the client names.
    pub region: String,
    /// `s3`.
    pub service: String,
}

/// A request signed with an S3 key: which key, for what scope, the
/// string the dialect made of the request, and the signature it carried.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    /// The access key id.
    pub key_id: String,
    /// The credential scope.
    pub scope: Scope,
    /// The string to sign, as the dialect computed it from the request.
    pub string_to_sign: String,
    /// The signature the request carried (32 bytes, from its hex).
    pub signature: Vec<u8>,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signed({}, {:?})", self.key_id, self.scope)
    }
}

/// The signing key of `secret` for `scope`.
pub fn signing_key(secret: &str, scope: &Scope) -> [u8; 32] {
    let first = hmac(format!("AWS4{secret}").as_bytes(), scope.date.as_bytes());
    let region = hmac(&first, scope.region.as_bytes());
    let service = hmac(&region, scope.service.as_bytes());
    hmac(&service, b"aws4_request")
}

/// The signature of `string_to_sign` under `key`.
pub fn sign(key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac(key, string_to_sign.as_bytes())
}

/// Whether `signature` is the signature of `string_to_sign` under `key`,
/// compared in time that does not depend on where they differ.
pub fn verify(key: &[u8; 32], string_to_sign: &str, signature: &[u8]) -> bool {
    mac(key, string_to_sign.as_bytes())
        .verify_slice(signature)
        .is_ok()
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    mac(key, data).finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked example of the signing key (General Reference,
    /// "Create a signed AWS API request", and the test suite's secret).
    #[test]
    fn the_signing_key_of_the_documented_example() {
        let scope = Scope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn a_signature_verifies_only_whole() {
        let key = [7u8; 32];
        let signature = sign(&key, "text");
        assert!(verify(&key, "text", &signature));
        assert!(!verify(&key, "texT", &signature));
        let mut altered = signature;
        altered[31] ^= 1;
        assert!(!verify(&key, "text", &altered));
        assert!(!verify(&key, "text", &signature[..31]));
    }
}
