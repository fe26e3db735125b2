//! `ferry put` and `ferry get` of one file, with a progress bar: plain (one
//! connection, all or nothing) or `--resume` (reconnecting, continuing from
//! where the bytes stand). Downloads are always verified against the
//! server's CRC-32C; a file that does not match is removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Seek};
use std::path::{Path, PathBuf};

use super::Failure;
use super::args::{ClientArgs, GetArgs, PutArgs};
use super::interrupt::Discard;
use super::landing::{keep_mtime, partial_path};
use super::output::{Counted, Output};
use super::remote_name::{as_folder, join};
use crate::client::resume::{self, FileVersion, Upload};
use crate::client::retry::{Backoff, RetryPolicy};
use crate::client::{ClientError, crc_of, unix_mtime};

/// Uploads one file.
pub fn put(args: &PutArgs) -> Result<(), Failure> {
    if args.local.as_os_str() == "-" {
        return put_stdin(args);
    }
    let local = args.local.as_path();
    let remote = match args.remote.as_deref() {
        // Like cp and scp: a name ending in `/` is a folder to put it into.
        Some(folder) if folder.ends_with('/') => join(&as_folder(folder), &last_component(local)?),
        Some(remote) => remote.to_owned(),
        None => last_component(local)?,
    };
    super::remote_name::check_remote_name(&remote)?;
    let output = args.show.output(&args.client)?;
    let exists = || super::caution::remote_exists(&args.client, &remote);
    if args.caution.skips(&args.filter, &output, &remote, exists)? {
        return Ok(());
    }
    let mut file = File::open(local).map_err(|err| Failure::local(local, err))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Failure::usage(
            local.display().to_string(),
            "is a folder (use -r to upload a folder)",
        ));
    }
    let metadata = file.metadata().map_err(|err| Failure::local(local, err))?;
    let mtime = unix_mtime(&metadata);
    let failure = |err| Failure::new(remote.clone(), err);
    if !args.resume && !args.effort.skip_existing {
        // The checksum follows the body (`PUT <name> <size> -`): the file
        // is read once, and the bar moves from the first byte on.
        let size = metadata.len();
        let bar = output.file_bar(&remote, size);
        let result = put_whole(args, &remote, (&mut file, size, mtime), &bar);
        return stored(&output, &bar, &remote, result);
    }
    // A session (--resume) names its checksum up front, and so does the
    // question --skip-existing asks: a whole read of the file first, shown,
    // as it takes a while for a large one.
    let checking = output.checksum_bar(&remote, metadata.len());
    let summed = crc_of(&mut checking.wrap_read(&mut file));
    output.clear(&checking);
    let (size, crc) = summed.map_err(|err| Failure::local(local, err))?;
    file.rewind().map_err(|err| Failure::local(local, err))?;
    if args.effort.skip_existing && remote_has(&args.client, &remote, size, crc)? {
        output.say(&format!(
            "unchanged {remote} ({size} bytes, crc32c {crc:08x})"
        ));
        return Ok(());
    }
    let bar = output.file_bar(&remote, size);
    let result = if args.resume {
        let _kept = super::interrupt::Kept::upload();
        let endpoint = args.client.connection.endpoint()?;
        let upload = Upload {
            endpoint: &endpoint,
            name: &remote,
            size,
            crc,
            chunk: args.chunk_size,
            mtime,
        };
        resume::upload(upload, &mut bar.wrap_read(file), args.effort.policy()).map_err(failure)
    } else {
        put_whole(args, &remote, (&mut file, size, mtime), &bar)
    };
    stored(&output, &bar, &remote, result)
}

/// A plain `put`: the whole file in one `PUT`, sent again from its first
/// byte after a failure that may pass (a dropped connection, a `503`), as
/// `--retries` allows. A `PUT` may be repeated: its commit is atomic, so
/// the server holds the old file or the whole new one, never a mix.
fn put_whole(
    args: &PutArgs,
    remote: &str,
    (file, size, mtime): (&mut File, u64, Option<i64>),
    bar: &indicatif::ProgressBar,
) -> Result<(u64, u32), Failure> {
    let failure = |err| Failure::new(remote.to_owned(), err);
    // The first connection fails as any command's does (a server that is
    // not there is not waited for); later ones are retried.
    let mut client = Some(args.client.connection.connect()?);
    let endpoint = args.client.connection.endpoint()?;
    let mut backoff = Backoff::new(args.effort.policy());
    loop {
        let connected = match client.take() {
            Some(client) => Ok(client),
            None => backoff.connect(&endpoint),
        };
        let attempt = connected.and_then(|mut client| {
            file.rewind().map_err(ClientError::Local)?;
            bar.set_position(0);
            let mut body = bar.wrap_read(BufReader::with_capacity(256 * 1024, &mut *file));
            client.put_stream(remote, &mut body, size, mtime)
        });
        match attempt {
            Ok(stored) => return Ok(stored),
            Err(err) => backoff.after(err).map_err(failure)?,
        }
    }
}

/// `put - <remote>`: standard input, to its end, in chunks of a stream
/// whose length the server learns at its end (PROTOCOL.md §6.1.2).
fn put_stdin(args: &PutArgs) -> Result<(), Failure> {
    let remote = match args.remote.as_deref() {
        Some(remote) if !remote.ends_with('/') => remote.to_owned(),
        _ => {
            return Err(Failure::usage(
                "-",
                "standard input has no name: give the remote file's name",
            ));
        }
    };
    super::remote_name::check_remote_name(&remote)?;
    if args.resume || args.effort.skip_existing {
        return Err(Failure::usage(
            "-",
            "--resume and --skip-existing need a local file",
        ));
    }
    let output = args.show.output(&args.client)?;
    let bar = output.pending_bar(&remote);
    let result = args.client.connection.connect().and_then(|mut client| {
        let stdin = io::stdin();
        let mut body = bar.wrap_read(stdin.lock());
        client
            .put_unsized(&remote, &mut body)
            .map_err(|err| Failure::new(remote.clone(), err))
    });
    stored(&output, &bar, &remote, result)
}

/// Ends an upload's bar and says what was stored.
fn stored(
    output: &Output,
    bar: &indicatif::ProgressBar,
    remote: &str,
    result: Result<(u64, u32), Failure>,
) -> Result<(), Failure> {
    output.finish(bar, result.is_ok());
    let (size, crc) = result?;
    output.say(&format!("stored {remote} ({size} bytes, crc32c {crc:08x})"));
    Ok(())
}

/// Downloads one file, to a local file or to standard output.
pub fn get(args: &GetArgs) -> Result<(), Failure> {
    super::remote_name::check_remote_name(&args.remote)?;
    if args.remote.ends_with('/') {
        return Err(Failure::usage(
            args.remote.clone(),
            "names a folder (use -r to download a folder)",
        ));
    }
    let output = args.show.output(&args.client)?;
    if args.local.as_deref() == Some(Path::new("-")) {
        if args.resume {
            return Err(Failure::usage("-", "--resume needs a local file"));
        }
        return get_to_stdout(args, &output);
    }
    let leaf = args.remote.rsplit('/').next().unwrap_or(&args.remote);
    let target = match &args.local {
        Some(dir) if dir.is_dir() => dir.join(leaf),
        // As for `put`: a path ending in `/` is a folder to put it into,
        // made if missing (as `get -r` makes its target).
        Some(dir) if dir.as_os_str().as_encoded_bytes().ends_with(b"/") => {
            // (`components` drops the `/`, which would make a file's
            // metadata an error.)
            let folder = dir.components().as_path();
            if folder.exists() && !folder.is_dir() {
                return Err(Failure::explained(
                    dir.display().to_string(),
                    3,
                    "is a file, not a folder to save into",
                ));
            }
            super::interrupt::make_folders(dir).map_err(|err| Failure::local(dir, err))?;
            dir.join(leaf)
        }
        Some(path) => path.clone(),
        None => PathBuf::from(leaf),
    };
    let shown = target.display().to_string();
    // Skipping says the remote file is there: a missing one is an error,
    // as it is without -n.
    let exists = || {
        if target.symlink_metadata().is_err() {
            return Ok(false);
        }
        let mut client = args.client.connection.connect()?;
        match client.stat(&args.remote) {
            Ok(_) => Ok(true),
            Err(err) => Err(get_failure(&args.remote, err)),
        }
    };
    if args.caution.skips(&args.filter, &output, &shown, exists)? {
        return Ok(());
    }
    if args.effort.skip_existing
        && let Some((size, crc)) = local_checksum(&target)?
        && remote_has(&args.client, &args.remote, size, crc)?
    {
        output.say(&format!("unchanged {} ({size} bytes)", target.display()));
        return Ok(());
    }
    let total = download(args, &target, &output)?;
    output.say(&format!("saved {} ({total} bytes)", target.display()));
    Ok(())
}

/// Downloads into the partial file beside `target`, verifies, and renames
/// it into place; returns the file's size.
fn download(args: &GetArgs, target: &Path, output: &Output) -> Result<u64, Failure> {
    let partial = partial_path(target);
    // Named after the file the user asked for, not the hidden partial one.
    let local_failure = |err| Failure::local(target, err);
    // A plain download is all or nothing, even when interrupted; a
    // --resume one keeps its bytes for the next run.
    let _discard = (!args.resume).then(|| Discard::new(&partial));
    let _kept = args
        .resume
        .then(|| super::interrupt::Kept::download(&partial));
    let (mut file, have, crc_so_far) = if args.resume {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&partial)
            .map_err(local_failure)?;
        let (have, crc) = crc_of(&mut file).map_err(local_failure)?;
        (file, have, crc)
    } else {
        (File::create(&partial).map_err(local_failure)?, 0, 0)
    };
    let policy = if args.resume {
        args.effort.policy()
    } else {
        RetryPolicy {
            retries: 0,
            ..RetryPolicy::default()
        }
    };
    let bar = output.pending_bar(&args.remote);
    bar.set_position(have);
    let bars = [&bar];
    let mut sink = Counted::new(&mut file, &bars);
    // The file the partial's bytes are of, as the run that began it heard.
    let began = (have > 0).then(|| began_with(&partial)).flatten();
    let mut recorded = began.is_some();
    let result = resume::download(
        &args.client.connection.endpoint()?,
        &args.remote,
        &mut sink,
        (have, crc_so_far),
        began,
        policy,
        &mut |head| {
            if args.resume && !recorded {
                recorded = record_version(&partial, head);
            }
            output.reveal(&bar, head.total)
        },
    );
    output.finish(&bar, result.is_ok());
    let outcome = result.and_then(|download| {
        keep_mtime(&file, download.mtime).map_err(ClientError::Local)?;
        file.sync_all().map_err(ClientError::Local)?;
        fs::rename(&partial, target).map_err(ClientError::Local)?;
        let _ = fs::remove_file(version_path(&partial));
        Ok(download.total)
    });
    let restart = |why: &str| -> Result<u64, Failure> {
        output.warn(&format!("{}: {why}; starting over", partial.display()));
        forget(&partial).map_err(local_failure)?;
        download(args, target, output)
    };
    match outcome {
        Ok(total) => Ok(total),
        // What we hold is longer than the file: not a prefix of it.
        Err(ClientError::Remote { code: 416, .. }) if have > 0 => {
            restart(&format!("partial download is longer than {}", args.remote))
        }
        // Of another version (checked before a byte of this one is read).
        Err(ClientError::Changed) if have > 0 => restart(&format!(
            "{} changed on the server since the partial download began",
            args.remote
        )),
        Err(err) => {
            // A partial download is kept for --resume to continue, unless
            // its bytes are wrong (they cannot be the start of the file).
            let wrong = matches!(
                err,
                ClientError::Checksum { .. } | ClientError::Protocol(_) | ClientError::Changed
            );
            let empty = fs::metadata(&partial).is_ok_and(|m| m.len() == 0);
            if !args.resume || wrong || empty {
                let _ = forget(&partial);
                return Err(get_failure(&args.remote, err));
            }
            let hint = format!(
                "{} (partial download kept in {}: run the same command again to resume)",
                super::reason(&err),
                partial.display()
            );
            Err(Failure::explained(
                args.remote.clone(),
                super::exit_code(&err),
                hint,
            ))
        }
    }
}

/// A failed download of one file as the user should read it: `409` is the
/// server saying the name is a directory, which docs/cli.md counts as a usage
/// error (a folder without `-r`), as the client does for a trailing `/`.
fn get_failure(remote: &str, err: ClientError) -> Failure {
    Failure::remote(remote, err, "names a folder (use -r to download a folder)")
}

fn get_to_stdout(args: &GetArgs, output: &Output) -> Result<(), Failure> {
    let mut out = super::lines::Stdout;
    let bar = output.pending_bar(&args.remote);
    let bars = [&bar];
    let no_retries = RetryPolicy {
        retries: 0,
        ..RetryPolicy::default()
    };
    let result = resume::download(
        &args.client.connection.endpoint()?,
        &args.remote,
        &mut Counted::new(&mut out, &bars),
        (0, 0),
        None,
        no_retries,
        &mut |head| output.reveal(&bar, head.total),
    )
    .and_then(|_| io::Write::flush(&mut out).map_err(ClientError::Local));
    output.finish(&bar, result.is_ok());
    result
        .map(drop)
        .map_err(|err| get_failure(&args.remote, err))
}

/// Whether the server holds `name` with this size and CRC-32C. A refusal
/// (no such file, a directory ...) counts as "no": the transfer itself
/// will say what is wrong, if anything.
pub(super) fn remote_has(
    client: &ClientArgs,
    name: &str,
    size: u64,
    crc: u32,
) -> Result<bool, Failure> {
    match client.connection.connect()?.stat(name) {
        Ok(stat) => Ok(stat.size == size && stat.crc == Some(crc)),
        Err(ClientError::Remote { .. }) => Ok(false),
        Err(err) => Err(Failure::new(name.to_owned(), err)),
    }
}

/// Size and CRC-32C of a local file; `None` if there is none.
pub(super) fn local_checksum(path: &Path) -> Result<Option<(u64, u32)>, Failure> {
    match File::open(path) {
        Ok(mut file) => crc_of(&mut file)
            .map(Some)
            .map_err(|err| Failure::local(path, err)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Failure::local(path, err)),
    }
}

/// Where a `--resume` download keeps, beside its partial file, which
/// version of the file its bytes are of (`resume::FileVersion`'s line), so
/// that a later run sees at its first answer that the file was replaced.
fn version_path(partial: &Path) -> PathBuf {
    let mut name = partial.as_os_str().to_owned();
    name.push(".of");
    PathBuf::from(name)
}

/// The version the partial download at `partial` is of, if recorded.
fn began_with(partial: &Path) -> Option<FileVersion> {
    FileVersion::parse(&fs::read_to_string(version_path(partial)).ok()?)
}

/// Records the version `head` describes for the partial download at
/// `partial`; whether it was recorded (if not, a later run checks only at
/// its end, by the whole file's CRC-32C).
fn record_version(partial: &Path, head: &crate::client::Download) -> bool {
    fs::write(version_path(partial), FileVersion::from(head).to_line()).is_ok()
}

/// Removes a partial download and its version record.
fn forget(partial: &Path) -> io::Result<()> {
    let _ = fs::remove_file(version_path(partial));
    match fs::remove_file(partial) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The last component of a local path, as a remote name.
fn last_component(local: &Path) -> Result<String, Failure> {
    local
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::usage(
                local.display().to_string(),
                "cannot make a remote name of this path: give one",
            )
        })
}
