//! What a failed TLS handshake says to the person who ran the client: one
//! sentence naming what was wrong with the server's certificate (not
//! trusted, for another name, expired, not valid yet, revoked) or with the
//! handshake (a plaintext port, nothing in common), and the way out
//! (`--ca FILE` with the server's certificate, a name the certificate is
//! for, a new certificate from `ferry cert`). The one place a rustls error
//! becomes words: rustls's own texts are for developers (`invalid peer
//! certificate: UnsupportedSignatureAlgorithmForPublicKeyContext {
//! signature_algorithm_id: [6, 8, 42, …] }`).
//!
//! Nothing here trusts the peer: the names a certificate presents are
//! printed only as printable characters, a few of them, cut short.

use std::io;
use std::path::Path;

use rustls::CertificateError as Cert;
use rustls::pki_types::UnixTime;

/// Names of a certificate shown at most; the rest are counted.
const NAMES_SHOWN: usize = 3;
/// Characters of one name shown at most.
const NAME_CHARS: usize = 64;

/// The error a handshake with `host` (the name the certificate is checked
/// against) failed with, in words: `TLS handshake failed: ` and one
/// sentence with the way out. `ca` is the `--ca` file the client trusts,
/// `None` where it trusts the system's authorities; `presented`, the
/// SHA-256 fingerprint of the certificate the server presented, if one
/// was. The error's kind is kept.
pub(crate) fn handshake_failure(
    err: &io::Error,
    host: &str,
    (ca, presented): (Option<&Path>, Option<&str>),
) -> io::Error {
    let rustls = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let words = match rustls {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            let mut words = certificate(cert, host, ca);
            if let Some(fingerprint) = presented {
                words.push_str(&format!(
                    " (the certificate it presented has the SHA-256 fingerprint \
                     {fingerprint}: compare it with what ferry cert printed or the \
                     server logged as it started)"
                ));
            }
            words
        }
        Some(other) => handshake(other),
        None => match err.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the server closed the connection during it: is it serving TLS on this port?"
                    .to_owned()
            }
            _ => cut_at_braces(&err.to_string()),
        },
    };
    io::Error::new(err.kind(), format!("TLS handshake failed: {words}"))
}

/// What was wrong with the server's certificate, and what to do.
#[allow(deprecated)] // UnsupportedSignatureAlgorithm: matched while rustls may still send it
fn certificate(cert: &Cert, host: &str, ca: Option<&Path>) -> String {
    match cert {
        Cert::UnknownIssuer
        | Cert::BadSignature
        | Cert::UnsupportedSignatureAlgorithm
        | Cert::UnsupportedSignatureAlgorithmContext { .. }
        | Cert::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => untrusted(ca),
        Cert::NotValidForName => format!(
            "the server's certificate is not for {host}: connect by a name it is for \
             (--server NAME:PORT), or give the server a certificate for {host} \
             (ferry cert {host})"
        ),
        Cert::NotValidForNameContext { presented, .. } => format!(
            "the server's certificate is for {}, not for {host}: connect by a name it \
             is for (--server NAME:PORT), or give the server a certificate for {host} \
             (ferry cert {host})",
            names(presented)
        ),
        Cert::Expired => "the server's certificate has expired: the server needs a new one \
             (ferry cert makes one), or this machine's clock is wrong"
            .to_owned(),
        Cert::ExpiredContext { time, not_after } => format!(
            "the server's certificate expired on {} (this machine's clock says {}): the \
             server needs a new one (ferry cert makes one), or this clock is wrong",
            day(*not_after),
            day(*time)
        ),
        Cert::NotValidYet => "the server's certificate is not valid yet: check this \
             machine's clock"
            .to_owned(),
        Cert::NotValidYetContext { time, not_before } => format!(
            "the server's certificate is valid only from {} (this machine's clock says \
             {}): check this machine's clock",
            day(*not_before),
            day(*time)
        ),
        Cert::Revoked => "the server's certificate has been revoked by its authority: the \
             server needs a new one"
            .to_owned(),
        Cert::BadEncoding => "the server's certificate is malformed: the server needs \
             another (ferry cert makes one)"
            .to_owned(),
        Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. } => {
            "the server's certificate is not one for a TLS server: the server needs \
             another (ferry cert makes one)"
                .to_owned()
        }
        _ => format!(
            "the server's certificate was refused ({}): give --ca FILE with the \
             server's own certificate (the file its --tls-cert names)",
            cut_at_braces(&cert.to_string())
        ),
    }
}

/// A certificate signed by no one the client trusts: self-signed (as
/// `ferry cert` makes them) or by a private authority.
fn untrusted(ca: Option<&Path>) -> String {
    match ca {
        None => "the server's certificate is not signed by an authority this system \
             trusts (a self-signed one, as ferry cert makes, never is): trust it with \
             --ca FILE, FILE being the server's certificate (the file its --tls-cert \
             names) or the private authority that signed it"
            .to_owned(),
        Some(ca) => format!(
            "the server's certificate is not signed by any certificate in {}: give \
             --ca the server's own certificate (the file its --tls-cert names) or the \
             authority that signed it",
            ca.display()
        ),
    }
}

/// A handshake that failed for another reason than the certificate.
fn handshake(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the port answered in plaintext, not TLS: is the server serving TLS there \
             (it does with --tls-cert)? If not, connect without --tls and --ca"
                .to_owned()
        }
        rustls::Error::PeerIncompatible(_) => {
            "the server and this client have no TLS version or cipher suite in common".to_owned()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server ended it (TLS alert {alert:?}): its log may say why")
        }
        rustls::Error::NoCertificatesPresented => {
            "the server presented no certificate: is it serving TLS with --tls-cert?".to_owned()
        }
        other => cut_at_braces(&other.to_string()),
    }
}

/// The names a certificate presents, as webpki writes them
/// (`DnsName("a.example")`, `IpAddress(127.0.0.1)`), shown bare: a few,
/// each cut short, only printable characters (they are the peer's).
fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        return "no name at all".to_owned();
    }
    let bare = |name: &String| -> String {
        let inner = match (name.find('('), name.rfind(')')) {
            (Some(open), Some(close)) if open < close => &name[open + 1..close],
            _ => name.as_str(),
        };
        inner
            .trim_matches('"')
            .chars()
            .filter(|c| !c.is_control())
            .take(NAME_CHARS)
            .collect()
    };
    let mut shown: Vec<String> = presented.iter().take(NAMES_SHOWN).map(bare).collect();
    if presented.len() > NAMES_SHOWN {
        shown.push(format!("{} more", presented.len() - NAMES_SHOWN));
    }
    shown.join(", ")
}

/// A time as its day, `2026-11-28` (UTC).
fn day(time: UnixTime) -> String {
    let secs = i64::try_from(time.as_secs()).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day()
        ),
        Err(_) => format!("{secs} seconds after 1970"),
    }
}

/// `text` without a Rust value's dump: cut where the first `{` begins.
fn cut_at_braces(text: &str) -> String {
    text.split('{').next().unwrap_or(text).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(err: rustls::Error, ca: Option<&Path>) -> String {
        handshake_failure(
            &io::Error::new(io::ErrorKind::InvalidData, err),
            "127.0.0.1",
            (ca, None),
        )
        .to_string()
    }

    #[test]
    fn every_certificate_failure_is_one_sentence_without_a_dump() {
        let at = |secs| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        let cases = [
            Cert::UnknownIssuer,
            Cert::UnsupportedSignatureAlgorithmForPublicKeyContext {
                signature_algorithm_id: vec![6, 8, 42],
                public_key_algorithm_id: vec![6, 9, 42],
            },
            Cert::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("127.0.0.1")
                    .unwrap()
                    .to_owned(),
                presented: vec!["DnsName(\"other\u{1b}[31m.example\")".into()],
            },
            Cert::ExpiredContext {
                time: at(1_800_000_000),
                not_after: at(1_700_000_000),
            },
            Cert::NotValidYetContext {
                time: at(1_700_000_000),
                not_before: at(1_800_000_000),
            },
            Cert::Revoked,
            Cert::UnknownRevocationStatus,
        ];
        for cert in cases {
            for ca in [None, Some(Path::new("ca.pem"))] {
                let text = said(rustls::Error::InvalidCertificate(cert.clone()), ca);
                assert!(
                    text.starts_with("TLS handshake failed: the server's"),
                    "{text}"
                );
                assert!(!text.contains(['{', '\n', '\u{1b}']), "{text}");
            }
        }
    }

    #[test]
    fn each_kind_names_its_way_out() {
        let untrusted = said(rustls::Error::InvalidCertificate(Cert::UnknownIssuer), None);
        assert!(untrusted.contains("--ca FILE"), "{untrusted}");
        let other_ca = Some(Path::new("other.pem"));
        let untrusted = said(
            rustls::Error::InvalidCertificate(Cert::BadSignature),
            other_ca,
        );
        assert!(untrusted.contains("in other.pem: give --ca"), "{untrusted}");
        let name = said(
            rustls::Error::InvalidCertificate(Cert::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("127.0.0.1")
                    .unwrap()
                    .to_owned(),
                presented: vec![
                    "DnsName(\"a.example\")".into(),
                    "IpAddress(10.0.0.1)".into(),
                ],
            }),
            None,
        );
        assert!(
            name.contains("is for a.example, 10.0.0.1, not for 127.0.0.1"),
            "{name}"
        );
        let expired = said(
            rustls::Error::InvalidCertificate(Cert::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_700_000_000,
                )),
            }),
            None,
        );
        assert!(expired.contains("expired on 2023-11-14"), "{expired}");
    }
}
