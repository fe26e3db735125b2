//! `ferry cert <host>...`: a self-signed certificate and its key, to try
//! TLS out without a certificate authority. Clients then trust it with
//! `--ca` (ferry, `curl --cacert`, Python's `ssl`); for a server others
//! reach, use a certificate from a real authority instead.

use std::path::PathBuf;

use clap::Args;
use rcgen::CertificateParams;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use super::Failure;

/// How long a certificate made here is valid.
const VALID_DAYS: i64 = 365;

/// Flags of `ferry cert`.
#[derive(Debug, Args)]
pub struct CertArgs {
    /// Names and addresses clients will connect to (`localhost`,
    /// `files.example.com`, `127.0.0.1`...).
    #[arg(required = true, value_name = "HOST")]
    hosts: Vec<String>,
    /// Where to write the certificate (PEM).
    #[arg(long, default_value = "ferry-cert.pem", value_name = "PEM")]
    cert: PathBuf,
    /// Where to write the private key (PEM, mode 0600).
    #[arg(long, default_value = "ferry-key.pem", value_name = "PEM")]
    key: PathBuf,
    /// Replace files that exist already.
    #[arg(long)]
    force: bool,
}

/// Runs `ferry cert`.
///
/// # Errors
/// A host is not a valid name or address, a file exists (without
/// `--force`) or cannot be written.
pub fn run(args: &CertArgs) -> Result<(), Failure> {
    if !args.force {
        for path in [&args.cert, &args.key] {
            if path.exists() {
                return Err(Failure::usage(
                    "cert",
                    format!("{} exists already (--force replaces it)", path.display()),
                ));
            }
        }
    }
    let mut params = CertificateParams::new(args.hosts.clone())
        .map_err(|err| Failure::usage("cert", format!("not a host name or address: {err}")))?;
    let now = OffsetDateTime::now_utc();
    // A day's slack for clocks behind ours.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(VALID_DAYS);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, args.hosts[0].clone());
    let (cert, key) =
        crate::tls::self_signed(&params).map_err(|err| Failure::usage("cert", err.to_string()))?;
    super::replace_private_file(&args.key, key.as_bytes())?;
    std::fs::write(&args.cert, &cert).map_err(|err| Failure::local(&args.cert, err))?;
    let der = CertificateDer::from_pem_slice(cert.as_bytes())
        .map_err(|err| Failure::usage("cert", err.to_string()))?;
    super::lines::to_stderr(&format!(
        "wrote {} and {} for {}, valid {VALID_DAYS} days; \
         serve with --tls-cert {} --tls-key {}, trust with --ca {}; \
         its SHA-256 fingerprint is {}",
        args.cert.display(),
        args.key.display(),
        args.hosts.join(", "),
        args.cert.display(),
        args.key.display(),
        args.cert.display(),
        crate::tls::fingerprint(&der)
    ));
    Ok(())
}
