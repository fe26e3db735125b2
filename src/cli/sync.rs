//! `ferry sync`: makes a folder on one side the same as on the other,
//! moving only the files that are missing or differ.
//!
//! Which side is remote is written, not guessed: the remote folder's name
//! ends in `/`, the local folder's does not (`sync photos backup/photos/`
//! uploads, `sync backup/photos/ photos` downloads). Guessing from what
//! exists locally would turn a download into an upload, `--delete`
//! included, whenever a folder of the same name happened to be there.
//!
//! Two files are the same when their sizes and CRC-32Cs are: the listing
//! gives sizes, and only for files of the same size is the local CRC
//! computed and the server's asked (`STAT`, pipelined). Modification
//! times are not trusted: a copy can be newer and the same, or older and
//! different.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use clap::Args;

use super::Failure;
use super::args::{ClientArgs, EffortArgs};
use super::output::{Output, ProgressMode};
use super::tree::{self, Edit, FilterArgs, Lanes, LocalFile, StatJob};
use crate::client::RemoteFile;

/// `ferry sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// What to copy from: a local folder, or a remote one ending in /.
    pub source: String,
    /// What to make the same: a remote folder ending in /, or a local one
    /// (made if missing).
    pub destination: String,
    /// Also remove destination files that are not in the source (files
    /// left out by --exclude are left alone).
    #[arg(long)]
    pub delete: bool,
    /// Print what would be copied and removed, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub effort: EffortArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What a sync found or did: files copied, already the same, deleted.
type Counts = (usize, usize, usize);

/// Mirrors one folder onto the other.
pub fn run(args: &SyncArgs) -> Result<(), Failure> {
    if args.effort.recursive || args.effort.skip_existing {
        return Err(Failure::usage(
            "sync",
            "always takes the whole folder and skips what is the same: no -r or --skip-existing",
        ));
    }
    let output = args.client.output(ProgressMode::Auto)?;
    match (args.source.ends_with('/'), args.destination.ends_with('/')) {
        (false, true) => up(args, &output),
        (true, false) => down(args, &output),
        _ => Err(Failure::usage(
            "sync",
            "end the remote folder's name with / and not the local one's \
             (sync photos backup/ uploads, sync backup/ photos downloads)",
        )),
    }
}

/// The remote folder as a listing prefix, read as every remote name is
/// ([`super::remote_name::parse_name`]: `/` is the top of the server, `/web/`
/// is `web/`). Only here: the other argument is a local path.
fn remote_folder(name: &str) -> String {
    let Ok(name) = super::remote_name::parse_name(name);
    tree::as_folder(&name)
}

/// Local folder to remote folder.
fn up(args: &SyncArgs, output: &Output) -> Result<(), Failure> {
    let root = Path::new(&args.source);
    let meta = std::fs::metadata(root).map_err(|err| Failure::local(root, err))?;
    if !meta.is_dir() {
        return Err(Failure::usage(&args.source, "not a folder"));
    }
    let folder = remote_folder(&args.destination);
    let local = tree::local_files(root, &folder, &args.filter, output)?;
    let mut remote: HashMap<String, RemoteFile> = args
        .client
        .connection
        .connect()?
        .list(&folder)
        .map_err(|err| Failure::new(format!("listing {folder:?}"), err))?
        .into_iter()
        .filter(|file| args.filter.keeps(&file.name[folder.len()..]))
        .map(|file| (file.name.clone(), file))
        .collect();
    let server = args.client.connection.endpoint()?;
    let lanes = Lanes::from(&args.effort);
    let (mut send, mut checks) = (Vec::new(), Vec::new());
    for file in local {
        match remote.remove(&file.name) {
            Some(there) if there.size == file.size => {
                checks.push(StatJob::new(file.name.clone(), file.path.clone(), file));
            }
            _ => send.push(file),
        }
    }
    // What is left of the remote listing has no local counterpart.
    let mut extra: Vec<String> = remote.into_keys().collect();
    extra.sort();
    let (changed, same) = tree::split_unchanged(&server, lanes, checks)?;
    send.extend(changed);
    send.sort_by(|a, b| a.name.cmp(&b.name));
    let deletions: Vec<Edit> = if args.delete {
        extra
            .into_iter()
            .map(|name| Edit { name, to: None })
            .collect()
    } else {
        Vec::new()
    };
    if args.dry_run {
        let mut lines: Vec<String> = send
            .iter()
            .map(|file| format!("would upload {} -> {}", file.path.display(), file.name))
            .collect();
        lines.extend(deletions.iter().map(Edit::planned));
        let counts = (send.len(), same, deletions.len());
        preview(output, "uploaded", &lines, counts);
        return Ok(());
    }
    let outcome = tree::upload(&server, lanes, output, send);
    let copied = outcome.done();
    let uploaded = outcome.into_result();
    let deleted = match uploaded {
        // Nothing is deleted after a failure: the mirror is not complete.
        Ok(()) => tree::apply_edits(&server, lanes, output, deletions, false)?,
        Err(_) => 0,
    };
    conclude(output, "uploaded", (copied, same, deleted), false);
    uploaded
}

/// Remote folder to local folder.
fn down(args: &SyncArgs, output: &Output) -> Result<(), Failure> {
    let folder = remote_folder(&args.source);
    let root = PathBuf::from(&args.destination);
    let mut client = args.client.connection.connect()?;
    let remote = tree::remote_files(&mut client, &folder, &root, &args.filter, output)?;
    drop(client);
    let wanted: HashSet<PathBuf> = remote.iter().map(|(_, path)| path.clone()).collect();
    let (mut fetch, mut checks) = (Vec::new(), Vec::new());
    for (file, path) in remote {
        if path
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() == file.size)
        {
            checks.push(StatJob::new(file.name.clone(), path.clone(), (file, path)));
        } else {
            fetch.push((file, path));
        }
    }
    let server = args.client.connection.endpoint()?;
    let lanes = Lanes::from(&args.effort);
    let (changed, same) = tree::split_unchanged(&server, lanes, checks)?;
    fetch.extend(changed);
    fetch.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
    let extra: Vec<LocalFile> = if args.delete && root.is_dir() {
        tree::local_files(&root, "", &args.filter, output)?
            .into_iter()
            .filter(|file| !wanted.contains(&file.path))
            .collect()
    } else {
        Vec::new()
    };
    if args.dry_run {
        let mut lines: Vec<String> = fetch
            .iter()
            .map(|(file, path)| format!("would download {} -> {}", file.name, path.display()))
            .collect();
        lines.extend(
            extra
                .iter()
                .map(|file| format!("would remove {}", file.path.display())),
        );
        let counts = (fetch.len(), same, extra.len());
        preview(output, "downloaded", &lines, counts);
        return Ok(());
    }
    let outcome = tree::download(&server, lanes, output, fetch);
    let copied = outcome.done();
    let downloaded = outcome.into_result();
    let mut deleted = 0;
    // Nothing is deleted after a failure: the mirror is not complete.
    if downloaded.is_ok() {
        for file in extra {
            std::fs::remove_file(&file.path).map_err(|err| Failure::local(&file.path, err))?;
            output.say(&format!("removed {}", file.path.display()));
            deleted += 1;
        }
    }
    conclude(output, "downloaded", (copied, same, deleted), false);
    downloaded
}

/// `--dry-run`: what would be done, a line each, and the summary.
fn preview(output: &Output, verb: &str, lines: &[String], counts: Counts) {
    lines.iter().for_each(|line| output.say(line));
    conclude(output, verb, counts, true);
}

/// `sync: 3 uploaded, 120 up to date, 1 deleted` (`sync (dry run): 3 to
/// upload ...` for a dry run).
fn conclude(output: &Output, verb: &str, (copied, same, deleted): Counts, dry_run: bool) {
    let line = if dry_run {
        let infinitive = verb.trim_end_matches("ed");
        format!("sync (dry run): {copied} to {infinitive}, {same} up to date, {deleted} to delete")
    } else {
        format!("sync: {copied} {verb}, {same} up to date, {deleted} deleted")
    };
    output.say(&line);
}
