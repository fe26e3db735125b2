//! Removing and renaming many remote files (`rm -r`, `mv` of a folder,
//! `sync --delete`): one `DEL` or `MOVE` per file, pipelined like the
//! transfers of a folder, each failure on its own line, a count at the end.

use std::sync::Mutex;

use super::Lanes;
use crate::cli::output::Output;
use crate::cli::{Failure, exit_code};
use crate::client::pipeline::Exchange;
use crate::client::{Endpoint, Replies, Requests, Result};
use crate::threads::lock;

/// One change to a remote file.
pub struct Edit {
    /// The file.
    pub name: String,
    /// `Some(to)`: rename it to `to`; `None`: remove it.
    pub to: Option<String>,
}

impl Edit {
    /// What was done, for the line that reports it.
    pub fn done(&self) -> String {
        self.line("removed", "moved")
    }

    /// What would be done, for `--dry-run`.
    pub fn planned(&self) -> String {
        self.line("would remove", "would move")
    }

    fn line(&self, remove: &str, rename: &str) -> String {
        match &self.to {
            Some(to) => format!("{rename} {} -> {to}", self.name),
            None => format!("{remove} {}", self.name),
        }
    }
}

impl Exchange for Edit {
    fn send(&mut self, requests: &mut Requests) -> Result<()> {
        match &self.to {
            Some(to) => requests.rename(&self.name, to),
            None => requests.delete(&self.name),
        }
    }

    fn receive(&mut self, replies: &mut Replies) -> Result<()> {
        replies.done()
    }
}

/// Carries the edits out (or, `dry_run`, only says what they would be);
/// returns how many were done.
///
/// # Errors
/// A count of the edits that failed (each named on its own line before),
/// or the connection failure that stopped the run.
pub fn apply(
    server: &Endpoint,
    lanes: Lanes,
    output: &Output,
    edits: Vec<Edit>,
    dry_run: bool,
) -> std::result::Result<usize, Failure> {
    if dry_run {
        edits.iter().for_each(|edit| output.say(&edit.planned()));
        return Ok(edits.len());
    }
    let total = edits.len();
    // (done, failed, exit code the failures call for)
    let counts = Mutex::new((0, 0, 0));
    let result = lanes.run(server, edits, &|edit: Edit, outcome| {
        let mut counts = lock(&counts);
        match outcome {
            Ok(()) => {
                counts.0 += 1;
                output.say(&edit.done());
            }
            Err(err) => {
                counts.1 += 1;
                counts.2 = counts.2.max(exit_code(&err));
                output.error(&Failure::new(edit.name, err).line());
            }
        }
    });
    let (done, failed, code) = counts.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Err((err, left)) = result {
        return Err(Failure::new(
            format!("{} of {total} files left as they were", left.len()),
            err,
        ));
    }
    match failed {
        0 => Ok(done),
        failed => Err(Failure::explained(
            "",
            code,
            format!("{failed} of {total} files failed"),
        )),
    }
}
