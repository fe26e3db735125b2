//! `--dry-run` and `-n`/`--no-clobber` for `put` and `get`
//! ([`CautionArgs`], with the other flags in `args.rs`): options that
//! make a transfer do less than asked, and the check a single-file
//! transfer makes with them (folders make theirs in `tree/`).
//!
//! `--no-clobber` on `put` asks the server first (`STAT`) and uploads only
//! if nothing is there: FERRY/1 has no conditional `PUT`, so a file that
//! appears between the two requests is still replaced. Skipping is not a
//! failure: the exit code stays 0 and each skipped file is named.

use super::Failure;
use super::args::{CautionArgs, ClientArgs};
use super::output::Output;
use super::tree::filter::FilterArgs;
use crate::client::ClientError;

impl CautionArgs {
    /// For one file: whether to leave `destination` alone, having said
    /// why. `exists` says whether it is there already.
    ///
    /// # Errors
    /// `--dry-run`, `--exclude` or `--include` without `-r` (said rather
    /// than ignored: a user who gave them expects them to act);
    /// `exists`'s errors.
    pub fn skips(
        &self,
        filter: &FilterArgs,
        output: &Output,
        destination: &str,
        exists: impl FnOnce() -> Result<bool, Failure>,
    ) -> Result<bool, Failure> {
        let folder_only = [
            (self.dry_run, "--dry-run"),
            (!filter.exclude.is_empty(), "--exclude"),
            (!filter.include.is_empty(), "--include"),
        ];
        if let Some((_, option)) = folder_only.iter().find(|(given, _)| *given) {
            return Err(Failure::usage("", format!("{option} goes with -r")));
        }
        let skip = self.no_clobber && exists()?;
        if skip {
            output.say(&skipped(destination));
        }
        Ok(skip)
    }
}

/// The line for a file `--no-clobber` leaves alone.
pub fn skipped(destination: &str) -> String {
    format!("skipped {destination} (exists)")
}

/// Whether the server has a file named `name`.
///
/// # Errors
/// The server cannot be reached, or refuses for another reason.
pub fn remote_exists(client: &ClientArgs, name: &str) -> Result<bool, Failure> {
    match client.connection.connect()?.stat(name) {
        Ok(_) => Ok(true),
        Err(ClientError::Remote { code: 404, .. }) => Ok(false),
        Err(err) => Err(Failure::new(name, err)),
    }
}
