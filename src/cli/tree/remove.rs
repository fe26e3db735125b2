//! `ferry rm -r <folder>...`: each folder in one `DEL <folder>/`, the
//! server walking it and telling what stayed; with `--exclude` or
//! `--dry-run` (or the root, which no `DEL` removes whole), every file
//! below each folder, one `DEL` each, pipelined (the server prunes the
//! folders they leave empty). A folder with no files (missing, or all of
//! it left out by `--exclude`) is an error: `rm -r` that removes nothing
//! is more likely a typo than what was meant.

use super::Lanes;
use super::edits::{self, Edit};
use crate::cli::Failure;
use crate::cli::output::Output;
use crate::cli::output::ProgressMode;
use crate::cli::remote::RmArgs;
use crate::cli::remote_name::as_folder;
use crate::client::ClientError;

/// Removes every file below each named folder.
pub fn remove(args: &RmArgs) -> Result<(), Failure> {
    let output = args.client.output(ProgressMode::Never)?;
    for name in &args.names {
        crate::cli::remote_name::check_remote_name(name)?;
        if as_folder(name).is_empty() && !args.no_preserve_root && !args.dry_run {
            return Err(Failure::usage(
                name,
                "is every file on the server: add --no-preserve-root to remove them all",
            ));
        }
    }
    let whole = args.filter.exclude.is_empty() && !args.dry_run;
    if whole && args.names.iter().all(|name| !as_folder(name).is_empty()) {
        return remove_whole(args, &output);
    }
    let mut client = args.client.connection.connect()?;
    let mut edits = Vec::new();
    for name in &args.names {
        let folder = as_folder(name);
        let files = client
            .list(&folder)
            .map_err(|err| Failure::new(format!("listing {folder:?}"), err))?;
        if files.is_empty() {
            return Err(Failure::explained(folder, 1, "no such folder"));
        }
        let before = edits.len();
        edits.extend(
            files
                .into_iter()
                .filter(|file| args.filter.keeps(&file.name[folder.len()..]))
                .map(|file| Edit {
                    name: file.name,
                    to: None,
                }),
        );
        if edits.len() == before {
            return Err(Failure::explained(
                folder,
                1,
                "every file in the folder is left out by --exclude",
            ));
        }
    }
    drop(client);
    let server = args.client.connection.endpoint()?;
    edits::apply(&server, Lanes::default(), &output, edits, args.dry_run).map(drop)
}

/// Each folder in one `DEL <folder>/`: `removed <folder>`, or a line for
/// each member that stayed and a failure at the end.
fn remove_whole(args: &RmArgs, output: &Output) -> Result<(), Failure> {
    let mut client = args.client.connection.connect()?;
    let mut stayed = 0;
    for name in &args.names {
        let folder = as_folder(name);
        let (left, more) = match client.delete_folder(folder.trim_end_matches('/')) {
            Ok(answer) => answer,
            Err(ClientError::Remote { code: 404, .. }) => {
                return Err(Failure::explained(folder, 1, "no such folder"));
            }
            Err(err) => return Err(Failure::new(folder, err)),
        };
        for member in &left {
            output.error(&Failure::explained(&member.name, 1, &member.reason).line());
        }
        if left.is_empty() && more == 0 {
            output.say(&format!("removed {folder}"));
        }
        stayed += left.len() as u64 + more;
    }
    match stayed {
        0 => Ok(()),
        1 => Err(Failure::explained("", 1, "1 file not removed")),
        n => Err(Failure::explained("", 1, format!("{n} files not removed"))),
    }
}
