//! `ferry rm -r <folder>...`: every file below each folder, one `DEL`
//! each, pipelined (the server prunes the folders they leave empty). A
//! folder with no files (missing, or all of it left out by `--exclude`)
//! is an error: `rm -r` that removes nothing is more likely a typo than
//! what was meant.

use super::Lanes;
use super::edits::{self, Edit};
use crate::cli::Failure;
use crate::cli::output::ProgressMode;
use crate::cli::remote::{RmArgs, as_folder};

/// Removes every file below each named folder.
pub fn remove(args: &RmArgs) -> Result<(), Failure> {
    let output = args.client.output(ProgressMode::Never)?;
    for name in &args.names {
        crate::cli::check_remote_name(name)?;
        if as_folder(name).is_empty() && !args.no_preserve_root && !args.dry_run {
            return Err(Failure::usage(
                name,
                "is every file on the server: add --no-preserve-root to remove them all",
            ));
        }
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
