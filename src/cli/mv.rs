//! `ferry mv <from> <to>`: renames on the server (`MOVE`, PROTOCOL.md
//! §6.11), no bytes travel. As in a shell, `to` that is a folder (or ends
//! in `/`) means "into it", keeping the last segment of `from`. A folder
//! is moved file by file (`MOVE` renames files only), pipelined; each file
//! moves atomically, the folder as a whole does not.

use clap::Args;

use super::Failure;
use super::args::ClientArgs;
use super::output::ProgressMode;
use super::remote_name::{as_folder, join};
use super::tree::{self, Edit, Lanes};
use crate::client::{Client, ClientError};

/// `ferry mv`.
#[derive(Debug, Args)]
pub struct MvArgs {
    /// The remote file or folder to move.
    #[arg(value_parser = super::remote_name::parse_name)]
    pub from: String,
    /// Its new name; an existing folder, or a name ending in /, to move
    /// it into. A file already there is replaced.
    #[arg(value_parser = super::remote_name::parse_name)]
    pub to: String,
    /// Print what would be moved, move nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Moves a file, or every file of a folder.
pub fn run(args: &MvArgs) -> Result<(), Failure> {
    let output = args.client.output(ProgressMode::Never)?;
    super::remote_name::check_remote_name(&args.from)?;
    super::remote_name::check_remote_name(&args.to)?;
    let mut client = args.client.connection.connect()?;
    let from = args.from.as_str();
    let into = args.to.ends_with('/') || is_folder(&mut client, &args.to)?;
    let leaf = from
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(from);
    let dest = if into {
        join(&as_folder(&args.to), leaf)
    } else {
        args.to.clone()
    };
    if !(from.ends_with('/') || is_folder(&mut client, from)?) {
        let edit = Edit {
            name: from.to_owned(),
            to: Some(dest.clone()),
        };
        if args.dry_run {
            output.say(&edit.planned());
            return Ok(());
        }
        return match client.rename(from, &dest) {
            Ok(()) => {
                output.say(&edit.done());
                Ok(())
            }
            Err(err) => Err(why_not(from, &dest, err)),
        };
    }
    let folder = as_folder(from);
    let target = as_folder(&dest);
    if target.starts_with(&folder) {
        return Err(Failure::usage(
            from,
            format!("cannot move a folder into itself ({target})"),
        ));
    }
    let files = client
        .list(&folder)
        .map_err(|err| Failure::new(format!("listing {folder:?}"), err))?;
    if files.is_empty() {
        return Err(Failure::explained(folder, 1, "no such folder"));
    }
    drop(client);
    let edits = files
        .into_iter()
        .map(|file| Edit {
            to: Some(format!("{target}{}", &file.name[folder.len()..])),
            name: file.name,
        })
        .collect();
    let server = args.client.connection.endpoint()?;
    tree::apply_edits(&server, Lanes::default(), &output, edits, args.dry_run).map(drop)
}

/// Whether `name` is a folder on the server (a file or nothing is not).
fn is_folder(client: &mut Client, name: &str) -> Result<bool, Failure> {
    match client.dir(name.trim_end_matches('/')) {
        Ok(_) => Ok(true),
        Err(ClientError::Remote { code: 404, .. }) => Ok(false),
        Err(err) => Err(Failure::new(name, err)),
    }
}

/// A refused `MOVE` of one file, in words about the user's names.
fn why_not(from: &str, to: &str, err: ClientError) -> Failure {
    match err {
        ClientError::Remote { code: 404, .. } => {
            Failure::explained(from, 1, "no such file or folder")
        }
        ClientError::Remote { code: 409, .. } => Failure::explained(
            to,
            1,
            "cannot be made: it is a folder, or a file stands where one of its folders would be",
        ),
        err => Failure::new(format!("{from} -> {to}"), err),
    }
}
