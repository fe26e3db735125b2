//! `ferry stat` and `ferry rm`: looking at and removing remote files
//! (`ls` is in `ls.rs`; the names they take, `remote_name.rs`).
//! Tables are for people (sizes like `1.2 MiB`, local times); `--json` is
//! for programs (exact numbers, Unix times, UTC).

use clap::Args;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Failure;
use super::args::ClientArgs;
use super::lines::print_line;
use super::output::{ProgressMode, human_size, local_time};
use super::remote_name::parse_name;
use crate::client::ClientError;

/// `ferry stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// Remote name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Print a JSON object of {name, size, mtime, modified, crc32c} instead.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `ferry rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remote names (with -r, folders).
    #[arg(required = true, value_parser = parse_name)]
    pub names: Vec<String>,
    /// Remove folders: every file below each of them.
    #[arg(short, long)]
    pub recursive: bool,
    /// With -r: print what would be removed, remove nothing.
    #[arg(long, requires = "recursive")]
    pub dry_run: bool,
    /// With -r: allow `/`, every file on the server (refused without it,
    /// as coreutils' rm refuses `rm -r /`).
    #[arg(long, requires = "recursive")]
    pub no_preserve_root: bool,
    #[command(flatten)]
    pub filter: super::tree::filter::FilterArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints a file's size, modification time and CRC-32C.
pub fn stat(args: &StatArgs) -> Result<(), Failure> {
    args.client.output(ProgressMode::Never)?;
    let name = &args.name;
    super::remote_name::check_remote_name(name)?;
    const FOLDER: &str = "names a folder (ferry ls lists a folder)";
    if name.ends_with('/') {
        return Err(Failure::usage(name, FOLDER));
    }
    let stat = args
        .client
        .connection
        .connect()?
        .stat(name)
        .map_err(|err| Failure::remote(name, err, FOLDER))?;
    let crc = stat.crc.map(|crc| format!("{crc:08x}"));
    if args.json {
        print_line(&format!(
            "{{\"name\": {}, \"size\": {}, \"mtime\": {}, \"modified\": {}, \"crc32c\": {}}}",
            json_string(name),
            stat.size,
            stat.mtime,
            json_string(&utc(stat.mtime)),
            crc.as_deref()
                .map_or_else(|| "null".to_owned(), json_string)
        ));
        return Ok(());
    }
    print_line(&format!("name:     {name}"));
    print_line(&format!(
        "size:     {} ({})",
        stat.size,
        human_size(stat.size)
    ));
    print_line(&format!("modified: {}", local_time(stat.mtime)));
    if let Some(crc) = crc {
        print_line(&format!("crc32c:   {crc}"));
    }
    Ok(())
}

/// Removes files, one after another on one connection; reports each
/// failure and carries on.
pub fn remove(args: &RmArgs) -> Result<(), Failure> {
    let output = args.client.output(ProgressMode::Never)?;
    for name in &args.names {
        super::remote_name::check_remote_name(name)?;
        if name.ends_with('/') {
            return Err(folder_without_r(name));
        }
    }
    let mut client = args.client.connection.connect()?;
    let mut failed = Vec::new();
    for name in &args.names {
        match client.delete(name) {
            Ok(()) => output.say(&format!("removed {name}")),
            Err(ClientError::Remote { code: 409, .. }) => return Err(folder_without_r(name)),
            Err(err) if err.keeps_connection() && args.names.len() > 1 => {
                output.error(&Failure::new(name.clone(), err).line());
                failed.push(name);
            }
            Err(err) => return Err(Failure::new(name.clone(), err)),
        }
    }
    match failed.len() {
        0 => Ok(()),
        n => Err(Failure::explained(
            "",
            1,
            format!("{n} of {} files not removed", args.names.len()),
        )),
    }
}

/// `rm` of a folder without `-r`: a slip, not a refusal.
fn folder_without_r(name: &str) -> Failure {
    Failure::usage(
        name,
        "is a folder (use rm -r to remove it and every file below it)",
    )
}

/// A Unix time as RFC 3339 in UTC, e.g. `2026-11-21T12:00:03Z`.
pub(super) fn utc(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}

pub(super) use crate::formats::json::string as json_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_are_rfc3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
