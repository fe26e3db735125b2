//! What a control connection is offered of FTP's extensions and may
//! choose of them: `FEAT` (RFC 2389) lists them, `OPTS` sets their
//! options (`UTF8 ON`, and RFC 3659's `MLST` facts).

use super::control::Control;
use super::reply::Facts;
use super::terms::{TLS_FEATURES, TlsOffer};
use crate::serve::decoded::Decoded;

/// What `FEAT` lists (RFC 2389) of the extensions served, before `MLST`
/// and its facts (the connection's choice), `EPRT` where active mode is
/// served and [`TLS_FEATURES`] where TLS is offered. `EPSV` (RFC 2428)
/// is listed as vsftpd and ProFTPD list it: clients that read `FEAT`
/// (lftp, FileZilla) try it first.
const FEATURES: &str = " UTF8\r\n SIZE\r\n MDTM\r\n MFMT\r\n REST STREAM\r\n EPSV\r\n";

impl Control {
    /// `FEAT` (RFC 2389).
    pub(super) fn features(&mut self, used: usize) -> Decoded {
        let mut lines = String::from("211-Features:\r\n");
        lines.push_str(FEATURES);
        if self.terms.active {
            lines.push_str(" EPRT\r\n");
        }
        lines.push_str(&format!(" MLST {}\r\n", self.facts.feature()));
        if self.security.offer != TlsOffer::Off {
            lines.push_str(TLS_FEATURES);
        }
        lines.push_str("211 End");
        self.answer(used, &lines)
    }

    /// `OPTS` (RFC 2389): `UTF8 ON` (names are always UTF-8), and
    /// `MLST` with the facts to give (RFC 3659 §7.9).
    pub(super) fn options(&mut self, arg: &str, used: usize) -> Decoded {
        let (option, value) = arg.split_once(' ').unwrap_or((arg, ""));
        match option.to_ascii_uppercase().as_str() {
            "UTF8" if value.eq_ignore_ascii_case("ON") => self.answer(used, "200 UTF-8 always"),
            "MLST" => {
                self.facts = Facts::chosen(value);
                let line = format!("200 MLST OPTS {}", self.facts.given());
                self.answer(used, line.trim_end())
            }
            _ => self.answer(used, "501 no such option"),
        }
    }
}
