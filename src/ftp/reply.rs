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

/// The facts `MLST` and `MLSD` give (RFC 3659 §7.5), in this order.
const FACT_NAMES: [&str; 4] = ["type", "size", "modify", "perm"];

/// Which of the facts an entry's line gives: all of them until
/// `OPTS MLST` (§7.9) chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Facts([bool; 4]);

impl Default for Facts {
    fn default() -> Self {
        Facts([true; 4])
    }
}

impl Facts {
    /// `OPTS MLST`'s list (`type;size;`): the facts it names, case aside;
    /// a fact not served is left out (§7.9), an empty list gives none.
    pub(super) fn chosen(list: &str) -> Facts {
        let named: Vec<&str> = list.split(';').map(str::trim).collect();
        Facts(FACT_NAMES.map(|fact| named.iter().any(|n| n.eq_ignore_ascii_case(fact))))
    }

    /// As `FEAT` lists them: every fact served, a `*` after each given.
    pub(super) fn feature(self) -> String {
        let star = |given| if given { "*;" } else { ";" };
        FACT_NAMES
            .iter()
            .zip(self.0)
            .map(|(name, given)| format!("{name}{}", star(given)))
            .collect()
    }

    /// The facts given, as `OPTS MLST` answers them (`type;size;`).
    pub(super) fn given(self) -> String {
        FACT_NAMES
            .iter()
            .zip(self.0)
            .filter(|(_, given)| *given)
            .map(|(name, _)| format!("{name};"))
            .collect()
    }

    /// An entry's facts, those given: a file's type, size and time
    /// (`file`; `None`: a folder, which says its type), and `perm` (worked
    /// out only where it is given).
    pub(super) fn of(self, file: Option<(u64, i64)>, perm: impl FnOnce() -> String) -> String {
        let [kind, size, modify, given_perm] = self.0;
        let mut out = String::new();
        if kind {
            out.push_str(if file.is_some() {
                "type=file;"
            } else {
                "type=dir;"
            });
        }
        if let Some((bytes, mtime)) = file {
            if size {
                out.push_str(&format!("size={bytes};"));
            }
            if modify {
                out.push_str(&format!("modify={};", mdtm(mtime)));
            }
        }
        if given_perm {
            out.push_str(&format!("perm={};", perm()));
        }
        out
    }
}

/// A time as `MFMT` gives it (`YYYYMMDDHHMMSS`, UTC; a fraction of a
/// second after a `.` is dropped): Unix seconds, or `None` if it is not
/// one.
pub(super) fn parse_mdtm(text: &str) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| whole[range].parse::<u16>().ok();
    let month = time::Month::try_from(number(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(i32::from(number(0..4)?), month, number(6..8)? as u8);
    let time = time::Time::from_hms(
        number(8..10)? as u8,
        number(10..12)? as u8,
        number(12..14)? as u8,
    );
    let at = time::PrimitiveDateTime::new(date.ok()?, time.ok()?);
    Some(at.assume_utc().unix_timestamp())
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

    #[test]
    fn mfmt_times_read_back_as_written() {
        assert_eq!(parse_mdtm("20251126000000"), Some(1_764_115_200));
        assert_eq!(parse_mdtm("20251126000000.123"), Some(1_764_115_200));
        assert_eq!(parse_mdtm(&mdtm(1_700_000_000)), Some(1_700_000_000));
        for bad in [
            "",
            "2025112600000",
            "20251326000000",
            "2025112600000x",
            "20250230000000",
        ] {
            assert_eq!(parse_mdtm(bad), None, "{bad}");
        }
    }
}
