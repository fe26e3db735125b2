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
//!
//! A streaming upload (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) signs each
//! chunk of its body, chained from the request's (seed) signature
//! ([`Chain`]): once the seed checks, access control leaves the request's
//! signing key (a day's, for one scope; never the secret) in the upload's
//! [`SeedKey`], for the body's decoder to check the chunks with.
//!
//! ```text
//! chunk:   "AWS4-HMAC-SHA256-PAYLOAD" \n date \n scope \n previous \n hex(SHA-256("")) \n hex(SHA-256(data))
//! trailer: "AWS4-HMAC-SHA256-TRAILER" \n date \n scope \n previous \n hex(SHA-256(trailer lines))
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};

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
    /// The signature the request carried (from its hex).
    pub signature: [u8; 32],
    /// Where to leave the signing key once the signature checks, for a
    /// body whose chunks are signed too.
    pub seed: Option<SeedKey>,
}

/// The signing key of a streaming upload, left by access control once the
/// request's own signature has checked, and read by its body's decoder.
/// Shared (the request's credential and its body's decoder travel apart)
/// and set at most once.
#[derive(Clone, Default)]
pub struct SeedKey(Arc<OnceLock<[u8; 32]>>);

impl SeedKey {
    /// Leaves `key` (the first time only).
    pub fn set(&self, key: [u8; 32]) {
        let _ = self.0.set(key);
    }

    fn get(&self) -> Option<&[u8; 32]> {
        self.0.get()
    }
}

impl PartialEq for SeedKey {
    fn eq(&self, other: &SeedKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SeedKey {}

impl fmt::Debug for SeedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeedKey")
    }
}

/// The chain of a streaming upload's signatures: each chunk's (and the
/// trailer's) is checked against the one before it, starting from the
/// request's (the seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    key: SeedKey,
    /// `<x-amz-date>\n<date>/<region>/<service>/aws4_request\n`.
    stamp: String,
    previous: [u8; 32],
}

/// Hex of the SHA-256 of nothing: every chunk's string to sign has it.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

impl Chain {
    /// The chain of a request of `amz_date` in `scope` whose signature is
    /// `seed`; its key is left in `key` once `seed` checks.
    pub fn new(key: SeedKey, amz_date: &str, scope: &Scope, seed: [u8; 32]) -> Chain {
        let stamp = format!(
            "{amz_date}\n{}/{}/{}/aws4_request\n",
            scope.date, scope.region, scope.service
        );
        Chain {
            key,
            stamp,
            previous: seed,
        }
    }

    /// Whether `signature` is that of the next chunk, whose data's SHA-256
    /// is `data`; if so, it is the one the next link chains from.
    pub fn chunk(&mut self, data: &[u8; 32], signature: &[u8]) -> bool {
        let text = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}{}\n{EMPTY_SHA256}\n{}",
            self.stamp,
            hex(&self.previous),
            hex(data)
        );
        self.link(&text, signature)
    }

    /// Whether `signature` is that of the trailer, whose lines' SHA-256 is
    /// `lines`.
    pub fn trailer(&mut self, lines: &[u8; 32], signature: &[u8]) -> bool {
        let text = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}{}\n{}",
            self.stamp,
            hex(&self.previous),
            hex(lines)
        );
        self.link(&text, signature)
    }

    fn link(&mut self, text: &str, signature: &[u8]) -> bool {
        // No key: the seed never checked (a broken invariant), refuse.
        let Some(key) = self.key.get() else {
            return false;
        };
        let good = verify(key, text, signature);
        if good {
            self.previous.copy_from_slice(signature);
        }
        good
    }
}

/// Lowercase hex (not `formats::hex`: formats' aws-chunked reads this
/// module, so this one may not read formats).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey")
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signed({}, {:?})", self.key_id, self.scope)
    }
}

/// A signing key with its HMAC keyed already: checking a request with it
/// then costs the HMAC of the string to sign alone, the key's own two
/// blocks hashed once, when it was derived.
#[derive(Clone)]
pub struct SigningKey {
    bytes: [u8; 32],
    keyed: HmacSha256,
}

impl SigningKey {
    /// The signing key of `secret` for `scope`.
    pub fn derive(secret: &str, scope: &Scope) -> SigningKey {
        let bytes = signing_key(secret, scope);
        SigningKey {
            bytes,
            keyed: mac(&bytes, b""),
        }
    }

    /// Its bytes (what a streaming upload's chain checks with).
    pub fn bytes(&self) -> [u8; 32] {
        self.bytes
    }

    /// [`verify`] under this key.
    pub fn verify(&self, string_to_sign: &str, signature: &[u8]) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(string_to_sign.as_bytes());
        mac.verify_slice(signature).is_ok()
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

/// The secret, scope and seed of AWS's chunked-upload examples (S3 API
/// Reference, "Signature Calculations for the Authorization Header:
/// Transferring Payload in Multiple Chunks", and its trailer variant).
#[cfg(test)]
pub(crate) fn example_chain(seed: &str) -> Chain {
    let scope = Scope {
        date: "20130524".into(),
        region: "us-east-1".into(),
        service: "s3".into(),
    };
    let key = SeedKey::default();
    key.set(signing_key(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &scope,
    ));
    let mut bytes = [0; 32];
    for (at, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&seed[2 * at..2 * at + 2], 16).unwrap();
    }
    Chain::new(key, "20130524T000000Z", &scope, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_without_its_key_checks_nothing() {
        let mut chain = example_chain(&"00".repeat(32));
        chain.key = SeedKey::default();
        assert!(!chain.chunk(&[0; 32], &[0; 32]));
    }

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
    fn a_keyed_signing_key_verifies_as_its_bytes_do() {
        let scope = Scope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let key = SigningKey::derive("secret", &scope);
        assert_eq!(key.bytes(), signing_key("secret", &scope));
        let signature = sign(&key.bytes(), "text");
        assert!(key.verify("text", &signature));
        assert!(!key.verify("texT", &signature));
        assert!(!key.verify("text", &signature[..31]));
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
