//! FTPS (RFC 4217, explicit TLS on the FTP port): `AUTH TLS` turns the
//! control connection to TLS, `PBSZ 0` and `PROT P` put the data
//! connections under TLS too, and `--ftp-require-tls` refuses a login or
//! a transfer without it.
//!
//! ```text
//! AUTH TLS   Link::Tls -> 234 (in plaintext), then the client's handshake
//! PBSZ 0     200 PBSZ=0                       (after AUTH: 503 before)
//! PROT P     200: data connections from the next PASV are TLS
//! PROT C     200: in the clear (534 with --ftp-require-tls)
//! ```
//!
//! The codec only decides; the reactor makes the TLS session (it holds
//! the certificate: `server/reactor/links.rs`) and the connection begins
//! it once the `234` is out (`connection/link.rs`), throwing away nothing
//! but refusing plaintext pipelined behind `AUTH` (a command injected
//! before the handshake would be taken as the client's, CVE-2011-0411).
//! A data connection's TLS session is its own, resumed from the control
//! connection's where the client offers it (the rustls session cache:
//! curl, lftp and FileZilla offer it; none is required).

use super::control::Control;
use super::terms::TlsOffer;
use crate::serve::decoded::{Decoded, Link};

impl Control {
    /// `AUTH <mechanism>`: TLS begins once its `234` is out.
    pub(super) fn auth(&mut self, mechanism: &str, used: usize) -> Decoded {
        let tls = ["TLS", "TLS-C", "SSL"]
            .iter()
            .any(|m| mechanism.eq_ignore_ascii_case(m));
        if !tls {
            return self.answer(used, "504 only AUTH TLS");
        }
        if self.security.offer == TlsOffer::Off {
            return self.answer(used, "534 no TLS here: the server has no certificate");
        }
        if self.security.secured {
            return self.answer(used, "503 TLS is on already");
        }
        if self.is_logged_in() {
            return self.answer(used, "503 AUTH TLS comes before USER");
        }
        self.security.securing = true;
        Decoded::Link(Link::Tls, used)
    }

    /// `PBSZ`: 0 is the only buffer size TLS has (RFC 4217 §9).
    pub(super) fn pbsz(&mut self, used: usize) -> Decoded {
        match self.security.secured {
            true => self.answer(used, "200 PBSZ=0"),
            false => self.answer(used, "503 AUTH TLS first"),
        }
    }

    /// `PROT P` (data connections under TLS) or `PROT C` (in the clear).
    pub(super) fn prot(&mut self, level: &str, used: usize) -> Decoded {
        if !self.security.secured {
            return self.answer(used, "503 AUTH TLS first");
        }
        match level.to_ascii_uppercase().as_str() {
            "P" => {
                self.security.private = true;
                self.answer(used, "200 data connections go over TLS")
            }
            "C" if self.security.offer == TlsOffer::Required => {
                self.answer(used, "534 this server requires PROT P")
            }
            "C" => {
                self.security.private = false;
                self.answer(used, "200 data connections go in the clear")
            }
            "S" | "E" => self.answer(used, "536 only PROT C and P"),
            _ => self.answer(used, "504 PROT takes C or P"),
        }
    }

    /// Why a login is refused before `AUTH TLS` (`--ftp-require-tls`).
    pub(super) fn login_needs_tls(&self) -> Option<&'static str> {
        (self.security.offer == TlsOffer::Required && !self.security.secured)
            .then_some("530 this server requires TLS: AUTH TLS first")
    }

    /// Why a transfer is refused before `PROT P` (`--ftp-require-tls`).
    pub(super) fn transfer_needs_tls(&self) -> Option<&'static str> {
        (self.security.offer == TlsOffer::Required && !self.security.private)
            .then_some("521 this server requires data connections over TLS: PROT P first")
    }

    /// TLS begins once this answer is out (the reactor's answer to
    /// `AUTH TLS`).
    pub(super) fn secured(&mut self) -> String {
        self.security.securing = false;
        self.security.secured = true;
        "234 AUTH TLS ok: TLS begins".to_owned()
    }

    /// Whether `AUTH TLS` awaits the reactor's answer (a refusal is then
    /// its: `431`); once.
    pub(super) fn securing(&mut self) -> bool {
        std::mem::take(&mut self.security.securing)
    }
}
