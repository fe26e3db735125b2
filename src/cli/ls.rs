//! `ferry ls`: one level of a remote folder, folders as entries (`DIR`,
//! PROTOCOL.md §6.10), or with `-R` every file below a prefix (`LIST`).
//!
//! `ls sensors` is the folder `sensors` if there is one, else the file
//! `sensors` (its own line), else an error: a name that is neither is
//! never printed as an empty listing, which would look like an empty
//! folder. `ls sensors/` is the folder only.

use clap::Args;

use super::Failure;
use super::args::ClientArgs;
use super::lines::{one_line, print_line};
use super::output::{ProgressMode, human_size, local_minute};
use super::remote::{json_string, utc};
use crate::client::{Client, ClientError, DirEntry};

/// `ferry ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// A folder (default: the top), or a file. With -R, a name prefix:
    /// `logs/` is the folder `logs`, `logs` also matches `logs.txt`.
    #[arg(value_parser = super::remote_name::parse_name)]
    pub prefix: Option<String>,
    /// Every file below, at any depth, instead of one level.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Print a JSON array of {name, size, mtime, modified} instead
    /// (folders: {name, folder: true, mtime, modified}).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints one line per entry: size (`-` for a folder, whose name ends in
/// `/`), modification time (local), name.
pub fn list(args: &LsArgs) -> Result<(), Failure> {
    args.client.output(ProgressMode::Never)?;
    let target = args.prefix.as_deref().unwrap_or("");
    let mut client = args.client.connection.connect()?;
    let entries = if args.recursive {
        recursive(&mut client, super::remote_name::prefix(target))?
    } else {
        one_level(&mut client, target)?
    };
    if args.json {
        print_json(&entries);
    } else {
        for entry in &entries {
            let size = entry.size.map_or_else(|| "-".to_owned(), human_size);
            print_line(&format!(
                "{size:>10}  {}  {}",
                local_minute(entry.mtime),
                one_line(&entry.name)
            ));
        }
    }
    Ok(())
}

/// Every file whose name starts with `prefix`; nothing at all is an error
/// unless the whole server was asked for (it may well be empty).
fn recursive(client: &mut Client, prefix: &str) -> Result<Vec<DirEntry>, Failure> {
    let files = client
        .list(prefix)
        .map_err(|err| Failure::new(format!("listing {prefix:?}"), err))?;
    if files.is_empty() && !prefix.is_empty() {
        return Err(Failure::explained(prefix, 1, "no such file or folder"));
    }
    Ok(files.into_iter().map(DirEntry::from).collect())
}

/// The folder `target` one level deep, or the file `target` as one entry.
fn one_level(client: &mut Client, target: &str) -> Result<Vec<DirEntry>, Failure> {
    let folder = target.strip_suffix('/').unwrap_or(target);
    match client.dir(folder) {
        Ok(entries) => Ok(entries),
        Err(ClientError::Remote { code: 404, .. })
            if target.ends_with('/') || folder.is_empty() =>
        {
            Err(Failure::explained(target, 1, "no such folder"))
        }
        Err(ClientError::Remote { code: 404, .. }) => match client.stat(target) {
            Ok(stat) => Ok(vec![DirEntry {
                name: target.to_owned(),
                size: Some(stat.size),
                mtime: stat.mtime,
            }]),
            Err(ClientError::Remote { code: 404, .. }) => {
                Err(Failure::explained(target, 1, "no such file or folder"))
            }
            Err(err) => Err(Failure::new(target, err)),
        },
        Err(err) => Err(Failure::new(format!("listing {target:?}"), err)),
    }
}

fn print_json(entries: &[DirEntry]) {
    let objects: Vec<String> = entries
        .iter()
        .map(|entry| {
            let what = match entry.size {
                Some(size) => format!("\"size\": {size}"),
                None => "\"folder\": true".to_owned(),
            };
            format!(
                "  {{\"name\": {}, {what}, \"mtime\": {}, \"modified\": {}}}",
                json_string(&entry.name),
                entry.mtime,
                json_string(&utc(entry.mtime))
            )
        })
        .collect();
    if objects.is_empty() {
        print_line("[]");
    } else {
        print_line(&format!("[\n{}\n]", objects.join(",\n")));
    }
}
