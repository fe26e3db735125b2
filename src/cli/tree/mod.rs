//! `ferry put -r` and `ferry get -r`: copying folders. Each connection
//! carries many requests at once (see [`crate::client::pipeline`]) and
//! `--parallel N` runs N connections side by side; a connection that fails
//! is replaced (`--retries`) and its unanswered files are sent again.
//! `--skip-existing` first asks, pipelined too, which files the other side
//! already has with the same size and CRC-32C.
//!
//! Every failed file gets its own `ferry: <name>: <cause>` line; the run
//! goes on with the others and ends with a count of failures.

mod jobs;
mod names;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::ProgressBar;

use super::args::{EffortArgs, GetArgs, PutArgs};
use super::output::{Output, human_size};
use super::{Failure, exit_code};
use crate::client::pipeline::{self, Window};
use crate::client::{self, ClientError, Endpoint};
use jobs::{GetJob, PutJob, Show, StatJob};

/// What a connection may have unanswered: 64 requests (answers are short
/// lines, so even 64 of them are far below the 64 KiB the server queues
/// before it stops taking requests), and 1 MiB of upload bodies (what a
/// dropped connection may cost; at 100 ms round trips, 80 Mbit/s per
/// connection).
const WINDOW: Window = Window {
    requests: 64,
    bytes: 1024 * 1024,
};

/// Uploads a folder.
pub fn put(args: &PutArgs) -> Result<(), Failure> {
    let root = args.local.as_path();
    // A missing folder is reported as missing, as for one file.
    let meta = std::fs::metadata(root).map_err(|err| Failure::local(root, err))?;
    if !meta.is_dir() {
        return Err(Failure::usage(
            root.display().to_string(),
            "not a folder (without -r, put uploads one file)",
        ));
    }
    let prefix = match args.remote.as_deref() {
        // As for one file: a prefix ending in `/` is a folder to put the
        // folder into (`put -r photos backup/` makes `backup/photos/...`).
        Some(folder) if folder.ends_with('/') => format!("{folder}{}", folder_name(root)?),
        Some(prefix) => prefix.to_owned(),
        None => folder_name(root)?,
    };
    let output = args.show.output(&args.client)?;
    let started = Instant::now();
    let files = names::walk(root, &prefix, &mut |path, why| {
        output.warn(&format!("skipping {}: {why}", path.display()));
    })
    .map_err(|err| Failure::local(root, err))?;
    let (files, unchanged) = if args.effort.skip_existing {
        let checks = files
            .into_iter()
            .map(|file| StatJob::new(file.name.clone(), file.path.clone(), file))
            .collect();
        split_unchanged(&args.client.connection.endpoint()?, &args.effort, checks)?
    } else {
        (files, 0)
    };

    let bytes = files.iter().map(|file| file.size).sum();
    let batch = output.batch_bar(files.len() as u64, bytes);
    let show = Show {
        output: &output,
        batch: &batch,
    };
    let tally = Tally::new(&output, &batch, files.len());
    let jobs: Vec<PutJob> = files
        .into_iter()
        .map(|file| PutJob::new(file.path, file.name, file.size, show))
        .collect();
    let result = pipeline::run_all(
        &args.client.connection.endpoint()?,
        jobs,
        usize::from(args.effort.parallel),
        WINDOW,
        args.effort.policy(),
        &|mut job: PutJob, outcome| {
            job.finish();
            tally.record(&job.name, outcome.map(|()| job.size));
        },
    );
    let left = result.err().map(|(err, left)| (err, left.len()));
    tally.conclude(
        "stored",
        &format!("under {prefix:?}"),
        unchanged,
        started,
        left,
    )
}

/// Downloads every file whose name starts with a prefix.
pub fn get(args: &GetArgs) -> Result<(), Failure> {
    // `-r sensors` means the folder `sensors`, not every name that starts
    // with those letters (`sensors-old/...`): the listing asks for
    // `sensors/`, while local paths keep `sensors/` as README says.
    let prefix = args.remote.as_str();
    let folder = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    let target = args.local.clone().unwrap_or_else(|| PathBuf::from("."));
    if target == Path::new("-") {
        return Err(Failure::usage("-", "-r needs a local folder"));
    }
    let output = args.show.output(&args.client)?;
    let started = Instant::now();
    let listing = args
        .client
        .connection
        .connect()?
        .list(&folder)
        .map_err(|err| Failure::new(format!("listing {folder:?}"), err))?;
    // The server lists a missing folder as empty; asked for a folder by
    // name, the user is told it is not there (the top may be empty).
    if listing.is_empty() && !folder.is_empty() {
        return Err(Failure::explained(folder, 1, "no such folder"));
    }
    let mut files = Vec::with_capacity(listing.len());
    for file in listing {
        match names::local_path(&target, prefix, &file.name) {
            Some(path) => files.push((file, path)),
            None => output.warn(&format!(
                "skipping {:?}: not a safe local path under {}",
                file.name,
                target.display()
            )),
        }
    }
    let (files, unchanged) = if args.effort.skip_existing {
        // Only a local file of the listed size can be the same.
        let (candidates, others): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(file, path)| path.metadata().is_ok_and(|m| m.len() == file.size));
        let checks = candidates
            .into_iter()
            .map(|(file, path)| StatJob::new(file.name.clone(), path.clone(), (file, path)))
            .collect();
        let (mut changed, unchanged) =
            split_unchanged(&args.client.connection.endpoint()?, &args.effort, checks)?;
        changed.extend(others);
        (changed, unchanged)
    } else {
        (files, 0)
    };

    let bytes = files.iter().map(|(file, _)| file.size).sum();
    let batch = output.batch_bar(files.len() as u64, bytes);
    let show = Show {
        output: &output,
        batch: &batch,
    };
    let tally = Tally::new(&output, &batch, files.len());
    let jobs: Vec<GetJob> = files
        .into_iter()
        .map(|(file, path)| GetJob::new(file.name, path, file.size, show))
        .collect();
    let result = pipeline::run_all(
        &args.client.connection.endpoint()?,
        jobs,
        usize::from(args.effort.parallel),
        WINDOW,
        args.effort.policy(),
        &|mut job: GetJob, outcome| {
            if outcome.is_err() {
                job.discard();
            }
            tally.record(&job.name, outcome.map(|()| job.size));
        },
    );
    let left = result.err().map(|(err, mut left)| {
        left.iter_mut().for_each(GetJob::discard);
        (err, left.len())
    });
    let place = format!("into {}", target.display());
    tally.conclude("saved", &place, unchanged, started, left)
}

/// Asks the server about every file in `checks`; returns the items whose
/// copies differ (or could not be compared) and how many are the same.
fn split_unchanged<T: Send>(
    server: &Endpoint,
    effort: &EffortArgs,
    checks: Vec<StatJob<T>>,
) -> Result<(Vec<T>, usize), Failure> {
    let answered = Mutex::new(Vec::with_capacity(checks.len()));
    let record = |job: StatJob<T>, _: client::Result<()>| {
        // A check that failed counts as "changed": the transfer will tell.
        lock(&answered).push(job);
    };
    let result = pipeline::run_all(
        server,
        checks,
        usize::from(effort.parallel),
        WINDOW,
        effort.policy(),
        &record,
    );
    if let Err((err, _)) = result {
        return Err(Failure::new("comparing with the server", err));
    }
    let answered = answered.into_inner().unwrap_or_else(|p| p.into_inner());
    let unchanged = answered.iter().filter(|job| job.same).count();
    let changed = answered
        .into_iter()
        .filter(|job| !job.same)
        .map(|job| job.item)
        .collect();
    Ok((changed, unchanged))
}

/// Counts a batch's outcomes and reports each failure as it happens.
struct Tally<'a> {
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
}

impl<'a> Tally<'a> {
    fn new(output: &'a Output, batch: &'a ProgressBar, files: usize) -> Tally<'a> {
        Tally {
            output,
            batch,
            files,
            counts: Mutex::new(Counts::default()),
        }
    }

    fn record(&self, name: &str, outcome: client::Result<u64>) {
        let mut counts = lock(&self.counts);
        match outcome {
            Ok(bytes) => {
                counts.done += 1;
                counts.bytes += bytes;
            }
            Err(err) => {
                counts.failed += 1;
                counts.code = counts.code.max(exit_code(&err));
                self.output.error(&Failure::new(name, err).line());
            }
        }
        let finished = counts.done + counts.failed;
        self.batch.set_prefix(format!("{finished}/{}", self.files));
    }

    /// Prints the summary and turns failures into the command's result.
    /// `left`: the connection failure that ended the run early, and how
    /// many files it left untouched.
    fn conclude(
        self,
        verb: &str,
        place: &str,
        unchanged: usize,
        started: Instant,
        left: Option<(ClientError, usize)>,
    ) -> Result<(), Failure> {
        let counts = self.counts.into_inner().unwrap_or_else(|p| p.into_inner());
        self.output
            .finish(self.batch, counts.failed == 0 && left.is_none());
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
        // A run that ended before anything was even tried (the server is
        // down, say) has only its error to report.
        // Neither does a run where every file failed: its error lines and
        // the count of failures say it all.
        let tried = counts.done + counts.failed + unchanged > 0;
        let all_failed = counts.failed > 0 && counts.done + unchanged == 0;
        if (tried || left.is_none()) && !all_failed {
            self.output.say(&summary);
        }
        if let Some((err, left)) = left {
            let context = format!("{left} {} not transferred", plural(left));
            return Err(Failure::new(context, err));
        }
        match counts.failed {
            0 => Ok(()),
            failed => Err(Failure::explained(
                "",
                counts.code,
                format!("{failed} of {} {} failed", self.files, plural(self.files)),
            )),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "file" } else { "files" }
}

/// The default remote prefix for a folder: its own name.
fn folder_name(root: &Path) -> Result<String, Failure> {
    let absolute = std::fs::canonicalize(root).map_err(|err| Failure::local(root, err))?;
    match absolute.file_name() {
        None => Ok(String::new()), // `/`: its files go to the top
        Some(name) => name.to_str().map(str::to_owned).ok_or_else(|| {
            Failure::usage(
                root.display().to_string(),
                "folder name is not UTF-8: give a remote prefix",
            )
        }),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update under these locks is a few plain assignments: a panic
    // elsewhere cannot leave them half-done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
