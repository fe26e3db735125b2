//! The words of FTP's replies: a refusal's code (RFC 959 §4.2) and
//! reason on one line, `PASV`'s and `EPSV`'s addresses, `MLST`'s facts,
//! `MDTM`'s time.

use crate::serve::{ErrorKind, Failure};

/// A failed operation's line: its FTP code (RFC 959 §4.2) and reason.
pub(super) fn failed(failure: &Failure) -> String {
    let code = match failure.kind {
        ErrorKind::BadRequest => 501,
        ErrorKind::TooLarge | ErrorKind::NoSpace | ErrorKind::OverQuota => 552,
        ErrorKind::Throttled => 421,
        ErrorKind::Busy | ErrorKind::Unavailable | ErrorKind::Internal => 451,
        ErrorKind::ChecksumMismatch => 451,
        // Logged in already, a token it lacks is a refusal, not a login.
        ErrorKind::Unauthorized
        | ErrorKind::Forbidden
        | ErrorKind::ReadOnly
        | ErrorKind::NotFound
        | ErrorKind::Expired
        | ErrorKind::Conflict
        | ErrorKind::Exists
        | ErrorKind::Vetoed
        | ErrorKind::Locked
        | ErrorKind::PreconditionFailed => 550,
    };
    format!("{code} {}", one_line(&failure.message))
}

/// A reason as one line: it never breaks the reply's framing.
pub(super) fn one_line(message: &str) -> String {
    message.replace(['\r', '\n'], " ")
}

/// `PASV`'s answer (RFC 959: the address and port as six numbers), or
/// `EPSV`'s (RFC 2428: the port alone) where `extended` or for an address
/// `PASV` cannot say.
pub(super) fn passive_line(addr: std::net::SocketAddr, extended: bool) -> String {
    let port = addr.port();
    match addr.ip() {
        std::net::IpAddr::V4(ip) if !extended => {
            let [a, b, c, d] = ip.octets();
            let (high, low) = (port >> 8, port & 0xff);
            format!("227 Entering Passive Mode ({a},{b},{c},{d},{high},{low})")
        }
        _ => format!("229 Entering Extended Passive Mode (|||{port}|)"),
    }
}

/// `MLST`'s answer: `facts` of `path` (RFC 3659 §7.2: the entry's line
/// begins with a space).
pub(super) fn mlst_lines(facts: &str, path: &str) -> String {
    format!("250-Listing /{path}\r\n {facts} /{path}\r\n250 End")
}

/// MDTM's time (RFC 3659 §2.3): `YYYYMMDDHHMMSS`, UTC.
pub(super) fn mdtm(unix_seconds: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(unix_seconds) else {
        return "19700101000000".to_owned();
    };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdtm_is_utc_to_the_second() {
        assert_eq!(mdtm(0), "19700101000000");
        assert_eq!(mdtm(1_764_115_200), "20251126000000");
    }
}
