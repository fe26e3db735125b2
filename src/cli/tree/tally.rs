//! A batch of transfers as it runs and when it is over: each failure
//! reported as it happens, then the summary line and the exit code.

use std::sync::Mutex;
use std::time::Instant;

use indicatif::ProgressBar;

use crate::cli::output::{Output, human_size};
use crate::cli::{Failure, exit_code};
use crate::client::{self, ClientError};
use crate::threads::lock;

/// Counts a batch's outcomes and reports each failure as it happens.
pub(super) struct Tally<'a> {
    output: &'a Output,
    batch: &'a ProgressBar,
    files: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    done: usize,
    failed: usize,
    bytes: u64,
    /// The exit code the failures so far call for.
    code: u8,
    /// The first refusal by the grants reported (401 or 403): the same
    /// refusal again is counted, not printed, so that a token that may
    /// not write a tree says so once, not once per file.
    refusal: Option<u16>,
    /// Refusals like it, not printed.
    quiet: usize,
}

impl<'a> Tally<'a> {
    pub(super) fn new(output: &'a Output, batch: &'a ProgressBar, files: usize) -> Tally<'a> {
        Tally {
            output,
            batch,
            files,
            counts: Mutex::new(Counts::default()),
        }
    }

    pub(super) fn record(&self, name: &str, outcome: client::Result<u64>) {
        let mut counts = lock(&self.counts);
        match outcome {
            Ok(bytes) => {
                counts.done += 1;
                counts.bytes += bytes;
            }
            Err(err) => {
                counts.failed += 1;
                counts.code = counts.code.max(exit_code(&err));
                match err {
                    ClientError::Remote { code, .. } if counts.refusal == Some(code) => {
                        counts.quiet += 1;
                    }
                    err => {
                        if let ClientError::Remote {
                            code: code @ (401 | 403),
                            ..
                        } = err
                        {
                            counts.refusal = Some(code);
                        }
                        self.output.error(&Failure::new(name, err).line());
                    }
                }
            }
        }
        let finished = counts.done + counts.failed;
        self.batch.set_prefix(format!("{finished}/{}", self.files));
    }

    /// Ends the batch's bar; what the batch did.
    /// `left`: the connection failure that ended the run early, and how
    /// many files it left untouched.
    pub(super) fn finish(self, left: Option<(ClientError, usize)>) -> Outcome {
        let counts = self.counts.into_inner().unwrap_or_else(|p| p.into_inner());
        self.output
            .finish(self.batch, counts.failed == 0 && left.is_none());
        if let (Some(code), quiet @ 1..) = (counts.refusal, counts.quiet) {
            let files = plural(quiet);
            self.output.error(&format!(
                "{quiet} more {files} refused the same way ({code})"
            ));
        }
        Outcome {
            counts,
            files: self.files,
            left,
        }
    }
}

/// What a batch of transfers did.
pub(crate) struct Outcome {
    counts: Counts,
    files: usize,
    left: Option<(ClientError, usize)>,
}

impl Outcome {
    /// Files transferred.
    pub(crate) fn done(&self) -> usize {
        self.counts.done
    }

    /// Prints `<verb> N files (size) <place> in T s[; N unchanged]`,
    /// unless the run is better told by its errors alone.
    pub(super) fn summary(
        &self,
        output: &Output,
        verb: &str,
        place: &str,
        unchanged: usize,
        started: Instant,
    ) {
        let counts = &self.counts;
        let mut summary = format!(
            "{verb} {} {} ({}) {place} in {:.2} s",
            counts.done,
            plural(counts.done),
            human_size(counts.bytes),
            started.elapsed().as_secs_f64()
        );
        if unchanged > 0 {
            summary.push_str(&format!("; {unchanged} unchanged"));
        }
        if self.worth_a_summary(unchanged) {
            output.say(&summary);
        }
    }

    /// A run that ended before anything was even tried (the server is
    /// down, say) has only its error to report. Neither does a run where
    /// every file failed: its error lines and the count of failures say it
    /// all.
    pub(crate) fn worth_a_summary(&self, unchanged: usize) -> bool {
        let counts = &self.counts;
        let tried = counts.done + counts.failed + unchanged > 0;
        let all_failed = counts.failed > 0 && counts.done + unchanged == 0;
        (tried || self.left.is_none()) && !all_failed
    }

    /// Failures as the command's result.
    ///
    /// # Errors
    /// The connection failure that ended the run, else a count of the
    /// files that failed (each reported as it failed).
    pub(crate) fn into_result(self) -> Result<(), Failure> {
        if let Some((err, left)) = self.left {
            let context = format!("{left} {} not transferred", plural(left));
            return Err(Failure::new(context, err));
        }
        match self.counts.failed {
            0 => Ok(()),
            failed => Err(Failure::explained(
                "",
                self.counts.code,
                format!("{failed} of {} {} failed", self.files, plural(self.files)),
            )),
        }
    }
}

/// The summary of a `--dry-run`: `dry run: 3 files (1.2 MiB) would be
/// stored under "photos"[; 5 unchanged]`.
pub(super) fn planned(files: usize, bytes: u64, place: &str, unchanged: usize) -> String {
    let mut line = format!(
        "dry run: {files} {} ({}) would be {place}",
        plural(files),
        human_size(bytes)
    );
    if unchanged > 0 {
        line.push_str(&format!("; {unchanged} unchanged"));
    }
    line
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "file" } else { "files" }
}
