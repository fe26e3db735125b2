//! `ferry put -r` and `ferry get -r`: copying folders. Each connection
//! carries many requests at once (see [`crate::client::pipeline`]) and
//! `--parallel N` runs N connections side by side; a connection that fails
//! is replaced (`--retries`) and its unanswered files are sent again.
//! `--skip-existing` first asks, pipelined too, which files the other side
//! already has with the same size and CRC-32C.
//!
//! `--exclude`/`--include` ([`filter`]) choose the files, `-n` leaves
//! existing destinations alone, `--dry-run` stops after saying what would
//! move. The pieces (which files, then moving them) are shared with
//! `sync`; `rm -r` and folder `mv` are in [`remove`] and [`edits`].
//!
//! Every failed file gets its own `ferry: <name>: <cause>` line; the run
//! goes on with the others and ends with a count of failures ([`tally`]).

mod edits;
pub mod filter;
mod jobs;
mod names;
mod remove;
mod tally;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use super::Failure;
use super::args::{EffortArgs, GetArgs, PutArgs};
use super::output::Output;
use crate::cli::caution::skipped;
pub use crate::cli::remote_name::as_folder;
use crate::cli::remote_name::join;
use crate::client::pipeline::{self, Exchange, Window};
use crate::client::retry::RetryPolicy;
use crate::client::{self, Client, ClientError, Endpoint, RemoteFile};
use crate::threads::lock;
pub use edits::{Edit, apply as apply_edits};
pub use filter::FilterArgs;
pub use jobs::StatJob;
use jobs::{GetJob, PutJob, Show};
pub use names::LocalFile;
pub use remove::remove;
pub(crate) use tally::Outcome;
use tally::Tally;

/// What a connection may have unanswered: 64 requests (answers are short
/// lines, so even 64 of them are far below the 64 KiB the server queues
/// before it stops taking requests), and 1 MiB of upload bodies (what a
/// dropped connection may cost; at 100 ms round trips, 80 Mbit/s per
/// connection).
pub(crate) const WINDOW: Window = Window {
    requests: 64,
    bytes: 1024 * 1024,
};

/// How a batch of requests travels: over how many connections side by
/// side, reconnecting how patiently.
#[derive(Debug, Clone, Copy)]
pub struct Lanes {
    pub parallel: u16,
    pub policy: RetryPolicy,
}

impl Lanes {
    /// Runs `jobs` pipelined, [`WINDOW`] on each connection (see
    /// [`pipeline::run_all`]).
    ///
    /// # Errors
    /// The connection failure that stopped the run, with the jobs left.
    pub(crate) fn run<J: Exchange>(
        self,
        server: &Endpoint,
        jobs: Vec<J>,
        done: &(dyn Fn(J, client::Result<()>) + Sync),
    ) -> Result<(), (ClientError, Vec<J>)> {
        let parallel = usize::from(self.parallel);
        pipeline::run_all(server, jobs, parallel, WINDOW, self.policy, done)
    }
}

impl Default for Lanes {
    /// One connection, reconnecting as `--retries` does by default.
    fn default() -> Lanes {
        Lanes {
            parallel: 1,
            policy: RetryPolicy::default(),
        }
    }
}

impl From<&EffortArgs> for Lanes {
    fn from(effort: &EffortArgs) -> Lanes {
        Lanes {
            parallel: effort.parallel,
            policy: effort.policy(),
        }
    }
}

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
        Some(folder) if folder.ends_with('/') => join(&as_folder(folder), &folder_name(root)?),
        Some(prefix) => prefix.to_owned(),
        None => folder_name(root)?,
    };
    let output = args.show.output(&args.client)?;
    let started = Instant::now();
    let mut files = local_files(root, &prefix, &args.filter, &output)?;
    if args.caution.no_clobber {
        let there = args
            .client
            .connection
            .connect()?
            .list(&as_folder(&prefix))
            .map_err(|err| Failure::new(format!("listing {prefix:?}"), err))?;
        let there: HashSet<String> = there.into_iter().map(|file| file.name).collect();
        files.retain(|file| {
            let fresh = !there.contains(&file.name);
            if !fresh {
                output.say(&skipped(&file.name));
            }
            fresh
        });
    }
    let server = args.client.connection.endpoint()?;
    let (files, unchanged) = if args.effort.skip_existing {
        let checks = files
            .into_iter()
            .map(|file| StatJob::new(file.name.clone(), file.path.clone(), file))
            .collect();
        split_unchanged(&server, (&args.effort).into(), checks)?
    } else {
        (files, 0)
    };
    if args.caution.dry_run {
        for file in &files {
            output.say(&format!(
                "would upload {} -> {}",
                file.path.display(),
                file.name
            ));
        }
        let bytes = files.iter().map(|file| file.size).sum();
        let place = format!("stored under {prefix:?}");
        output.say(&tally::planned(files.len(), bytes, &place, unchanged));
        return Ok(());
    }
    let outcome = upload(&server, (&args.effort).into(), &output, files);
    outcome.summary(
        &output,
        "stored",
        &format!("under {prefix:?}"),
        unchanged,
        started,
    );
    outcome.into_result()
}

/// Every file below `root` that `filter` keeps, named under `prefix`;
/// what cannot be sent is named in a warning.
pub(crate) fn local_files(
    root: &Path,
    prefix: &str,
    filter: &FilterArgs,
    output: &Output,
) -> Result<Vec<LocalFile>, Failure> {
    let mut files = names::walk(root, prefix, &mut |path, why| {
        output.warn(&format!("skipping {}: {why}", path.display()));
    })
    .map_err(|err| Failure::local(root, err))?;
    files.retain(|file| {
        let relative = file.path.strip_prefix(root).ok().and_then(Path::to_str);
        relative.is_none_or(|relative| filter.keeps(relative))
    });
    Ok(files)
}

/// Uploads `files`, pipelined over `--parallel` connections.
pub(crate) fn upload(
    server: &Endpoint,
    lanes: Lanes,
    output: &Output,
    files: Vec<LocalFile>,
) -> Outcome {
    let bytes = files.iter().map(|file| file.size).sum();
    let batch = output.batch_bar(files.len() as u64, bytes);
    let show = Show {
        output,
        batch: &batch,
    };
    let tally = Tally::new(output, &batch, files.len());
    let jobs: Vec<PutJob> = files
        .into_iter()
        .map(|file| PutJob::new(file.path, file.name, file.size, show))
        .collect();
    let result = lanes.run(server, jobs, &|mut job: PutJob, outcome| {
        job.finish();
        tally.record(&job.name, outcome.map(|()| job.size));
    });
    let left = result.err().map(|(err, left)| (err, left.len()));
    tally.finish(left)
}

/// Downloads every file whose name starts with a prefix.
pub fn get(args: &GetArgs) -> Result<(), Failure> {
    // `-r sensors` means the folder `sensors`, not every name that starts
    // with those letters (`sensors-old/...`): the listing asks for
    // `sensors/`, while local paths keep `sensors/` as docs/cli.md says.
    let prefix = crate::cli::remote_name::prefix(&args.remote);
    let target = args.local.clone().unwrap_or_else(|| PathBuf::from("."));
    if target == Path::new("-") {
        return Err(Failure::usage("-", "-r needs a local folder"));
    }
    let output = args.show.output(&args.client)?;
    let started = Instant::now();
    let mut client = args.client.connection.connect()?;
    let files = remote_files(&mut client, prefix, &target, &args.filter, &output)?;
    drop(client);
    let files = if args.caution.no_clobber {
        let (there, fresh): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(_, path)| path.symlink_metadata().is_ok());
        for (_, path) in there {
            output.say(&skipped(&path.display().to_string()));
        }
        fresh
    } else {
        files
    };
    let server = args.client.connection.endpoint()?;
    let (files, unchanged) = if args.effort.skip_existing {
        // Only a local file of the listed size can be the same.
        let (candidates, others): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(file, path)| path.metadata().is_ok_and(|m| m.len() == file.size));
        let checks = candidates
            .into_iter()
            .map(|(file, path)| StatJob::new(file.name.clone(), path.clone(), (file, path)))
            .collect();
        let (mut changed, unchanged) = split_unchanged(&server, (&args.effort).into(), checks)?;
        changed.extend(others);
        (changed, unchanged)
    } else {
        (files, 0)
    };
    if args.caution.dry_run {
        for (file, path) in &files {
            output.say(&format!(
                "would download {} -> {}",
                file.name,
                path.display()
            ));
        }
        let bytes = files.iter().map(|(file, _)| file.size).sum();
        let place = format!("saved into {}", target.display());
        output.say(&tally::planned(files.len(), bytes, &place, unchanged));
        return Ok(());
    }
    let outcome = download(&server, (&args.effort).into(), &output, files);
    let place = format!("into {}", target.display());
    outcome.summary(&output, "saved", &place, unchanged, started);
    outcome.into_result()
}

/// The files of the remote folder `prefix` that `filter` keeps, each with
/// its local path under `target` (see [`names::local_path`]).
///
/// # Errors
/// The listing fails, or the folder is missing (the server lists a
/// missing folder as empty; asked for a folder by name, the user is told
/// it is not there: only the top may be empty).
pub(crate) fn remote_files(
    client: &mut Client,
    prefix: &str,
    target: &Path,
    filter: &FilterArgs,
    output: &Output,
) -> Result<Vec<(RemoteFile, PathBuf)>, Failure> {
    let folder = as_folder(prefix);
    let listing = client
        .list(&folder)
        .map_err(|err| Failure::new(format!("listing {folder:?}"), err))?;
    if listing.is_empty() && !folder.is_empty() {
        return Err(Failure::explained(folder, 1, "no such folder"));
    }
    let mut files = Vec::with_capacity(listing.len());
    for file in listing {
        if !filter.keeps(&file.name[folder.len()..]) {
            continue;
        }
        match names::local_path(target, prefix, &file.name) {
            Some(path) => files.push((file, path)),
            None => output.warn(&format!(
                "skipping {:?}: not a safe local path under {}",
                file.name,
                target.display()
            )),
        }
    }
    Ok(files)
}

/// Downloads `files`, pipelined over `--parallel` connections.
pub(crate) fn download(
    server: &Endpoint,
    lanes: Lanes,
    output: &Output,
    files: Vec<(RemoteFile, PathBuf)>,
) -> Outcome {
    let bytes = files.iter().map(|(file, _)| file.size).sum();
    let batch = output.batch_bar(files.len() as u64, bytes);
    let show = Show {
        output,
        batch: &batch,
    };
    let tally = Tally::new(output, &batch, files.len());
    let jobs: Vec<GetJob> = files
        .into_iter()
        .map(|(file, path)| GetJob::new(file.name, path, file.size, show))
        .collect();
    let result = lanes.run(server, jobs, &|mut job: GetJob, outcome| {
        if outcome.is_err() {
            job.discard();
        }
        tally.record(&job.name, outcome.map(|()| job.size));
    });
    let left = result.err().map(|(err, mut left)| {
        left.iter_mut().for_each(GetJob::discard);
        (err, left.len())
    });
    tally.finish(left)
}

/// Asks the server about every file in `checks`; returns the items whose
/// copies differ (or could not be compared) and how many are the same.
pub(crate) fn split_unchanged<T: Send>(
    server: &Endpoint,
    lanes: Lanes,
    checks: Vec<StatJob<T>>,
) -> Result<(Vec<T>, usize), Failure> {
    let answered = Mutex::new(Vec::with_capacity(checks.len()));
    let record = |job: StatJob<T>, _: client::Result<()>| {
        // A check that failed counts as "changed": the transfer will tell.
        lock(&answered).push(job);
    };
    let result = lanes.run(server, checks, &record);
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
