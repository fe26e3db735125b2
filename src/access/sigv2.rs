//! Signature Version 2's keyed half: an S3 request's HMAC-SHA1 under the
//! key's secret, checked in constant time. What a request signs (its
//! string to sign) is the S3 dialect's (`http/s3/sigv2.rs`): this file
//! sees only that string, so it knows no HTTP, and the secret never leaves
//! access control. Beside SigV4 (`sigv4.rs`), which derives a key per
//! day; SigV2 signs with the secret itself.
//!
//! ```text
//! signature = base64(HMAC-SHA1(secret, string to sign))
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// A request signed with an S3 key's secret (SigV2): which key, the
/// string the dialect made of the request, and the signature it carried.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedV2 {
    /// The access key id.
    pub key_id: String,
    /// The string to sign, as the dialect computed it from the request.
    pub string_to_sign: String,
    /// Another form of it that signers of the same request make (a
    /// path-style bucket's resource without its `/`), where there is one.
    pub or_else: Option<String>,
    /// The signature the request carried (from its base64; of any
    /// length, as sent: one not 20 bytes long matches nothing).
    pub signature: Vec<u8>,
}

impl fmt::Debug for SignedV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedV2({})", self.key_id)
    }
}

/// The signature of `string_to_sign` under `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> [u8; 20] {
    mac(secret, string_to_sign).finalize().into_bytes().into()
}

/// Whether `signature` is that of `string_to_sign` under `secret`,
/// compared in time that does not depend on where they differ.
pub fn verify(secret: &str, string_to_sign: &str, signature: &[u8]) -> bool {
    mac(secret, string_to_sign).verify_slice(signature).is_ok()
}

fn mac(secret: &str, data: &str) -> HmacSha1 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac =
        <HmacSha1 as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// The S3 documentation's SigV2 example ("Signing and authenticating
    /// REST requests", Example Object GET): its string to sign under its
    /// secret gives its signature.
    #[test]
    fn the_documented_example_signs_and_verifies() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let text = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg";
        let signature = base64::engine::general_purpose::STANDARD.encode(sign(secret, text));
        assert_eq!(signature, "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
        let bytes = sign(secret, text);
        assert!(verify(secret, text, &bytes));
        assert!(!verify(secret, &text.replace("GET", "PUT"), &bytes));
        assert!(!verify(secret, text, &bytes[..19]));
    }
}
