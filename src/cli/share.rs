//! `ferry share PATH`, `ferry share list`, `ferry share rm ID...`: share
//! links for people without a token (docs/shares.md), made, listed and
//! revoked by the client's token. The wire side is `SHARE`, `SHARES` and
//! `UNSHARE` (PROTOCOL.md §6.12); what a link may be is the server's to
//! judge, as for links made over HTTP.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Failure;
use super::args::ClientArgs;
use super::lines::print_line;
use super::output::{Output, ProgressMode, local_minute, local_time};
use crate::access::Secret;
use crate::client::links::ListedLink;
use crate::client::{Client, ClientError};
use crate::protocol::LinkTerms;

/// `ferry share`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ShareArgs {
    /// List or revoke links instead of making one.
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    make: MakeArgs,
}

/// Making a link: `ferry share PATH [options]`.
#[derive(Debug, Args)]
struct MakeArgs {
    /// The remote file to share, or a folder (photos/, or / for the
    /// top); a name that turns out to be a folder is shared as one.
    #[arg(value_parser = super::remote_name::parse_name)]
    path: Option<String>,
    /// How long the link lasts: seconds, or 30m, 12h, 7d (default and
    /// most: the server's --share-max-expiry, 30 days unless set).
    #[arg(long, value_name = "SPAN", value_parser = crate::model::parse_span)]
    expires: Option<u64>,
    /// An upload link of a folder: people put new files into it, and see
    /// nothing of what it holds.
    #[arg(long)]
    upload: bool,
    /// Ask people for the password in this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    password_file: Option<PathBuf>,
    /// Ask people for the password in this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Whole-file downloads the link gives, then it is used up.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_downloads: Option<u64>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// The token's links: id, path, mode, expiry, downloads of the most
    /// it gives, password, address.
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Revoke links by id: gone at once, on every node.
    Rm {
        /// Link ids, as `ferry share` and `ferry share list` print them.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl ShareArgs {
    /// The client options the command runs with.
    pub fn client(&self) -> &ClientArgs {
        match &self.action {
            Some(Action::List { client } | Action::Rm { client, .. }) => client,
            None => &self.make.client,
        }
    }
}

/// Runs `ferry share ...`.
///
/// # Errors
/// A usage error, the password cannot be read, the server cannot be
/// reached or refuses (exit 1 if any `rm` was refused, after trying every
/// id).
pub fn run(args: &ShareArgs) -> Result<(), Failure> {
    let output = args.client().output(ProgressMode::Never)?;
    match &args.action {
        None => make(&args.make, &output),
        Some(Action::List { .. }) => {
            let mut client = args.client().connection.connect()?;
            let links = client
                .shares()
                .map_err(|err| Failure::new("share list", err))?;
            match write_table(&mut io::stdout().lock(), &links) {
                Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
                    Err(Failure::new("stdout", ClientError::Local(err)))
                }
                _ => Ok(()),
            }
        }
        Some(Action::Rm { ids, .. }) => {
            let mut client = args.client().connection.connect()?;
            revoke(&mut client, &output, ids)
        }
    }
}

/// Makes the link and prints its expiry, then its address (last, alone
/// with `-q`: `url=$(ferry share -q report.pdf)`).
fn make(args: &MakeArgs, output: &Output) -> Result<(), Failure> {
    let Some(path) = args.path.as_deref() else {
        return Err(Failure::usage(
            "share",
            "name the file or folder to share (or: ferry share list, ferry share rm ID)",
        ));
    };
    super::remote_name::check_remote_name(path)?;
    let password = password(args)?;
    let terms = LinkTerms {
        upload: args.upload,
        expires: args.expires,
        max_downloads: args.max_downloads,
        password: password.as_ref(),
    };
    // An upload link shares a folder: `photos` is `photos/`.
    let folder = super::remote_name::as_folder(path);
    let target = match args.upload || path == "/" {
        true => folder.as_str(),
        false => path,
    };
    let target = if target.is_empty() { "/" } else { target };
    let mut client = args.client.connection.connect()?;
    let made = match client.share(target, terms) {
        // A folder named without its `/`: shared as the folder.
        Err(ClientError::Remote { code: 409, .. }) if !target.ends_with('/') => {
            client.share(&folder, terms)
        }
        made => made,
    }
    .map_err(|err| Failure::new(format!("share {path}"), err))?;
    output.say(&format!(
        "link {} expires {}",
        made.id,
        local_time(made.expires)
    ));
    print_line(&made.url);
    Ok(())
}

/// The link's password, from `--password-file` (its first line) or
/// `--password-env`; never from the command line, where `ps` shows it.
fn password(args: &MakeArgs) -> Result<Option<Secret>, Failure> {
    let text = match (&args.password_file, &args.password_env) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|err| Failure::local(file, err))?;
            text.lines().next().unwrap_or_default().to_owned()
        }
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            Failure::usage(
                "share",
                format!("--password-env {var}: no such environment variable (or not UTF-8)"),
            )
        })?,
        (None, None) => return Ok(None),
    };
    if text.is_empty() {
        return Err(Failure::usage("share", "the password is empty"));
    }
    Ok(Some(Secret::new(text)))
}

fn write_table(out: &mut dyn Write, links: &[ListedLink]) -> io::Result<()> {
    if links.is_empty() {
        return writeln!(out, "no share links");
    }
    writeln!(out, "ID\tPATH\tMODE\tEXPIRES\tDOWNLOADS\tPASSWORD\tURL")?;
    for link in links {
        let max = link
            .max_downloads
            .map_or("-".to_owned(), |max| max.to_string());
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}/{max}\t{}\t{}",
            link.id,
            link.path,
            link.mode,
            local_minute(link.expires),
            link.downloads,
            if link.password { "yes" } else { "no" },
            link.url.as_deref().unwrap_or("-"),
        )?;
    }
    out.flush()
}

/// Revokes each id, reporting each; refused ids do not stop the others
/// (one alone is the command's one error line).
fn revoke(client: &mut Client, output: &Output, ids: &[String]) -> Result<(), Failure> {
    let mut refused = 0;
    for id in ids {
        match client.unshare(id) {
            Ok(()) => output.say(&format!("revoked {id}")),
            Err(err) if ids.len() == 1 => return Err(Failure::new(format!("share rm {id}"), err)),
            Err(err @ ClientError::Remote { .. }) => {
                output.error(&format!("{id}: {}", super::reason(&err)));
                refused += 1;
            }
            Err(err) => return Err(Failure::new(id.clone(), err)),
        }
    }
    match refused {
        0 => Ok(()),
        n => Err(Failure::explained(
            "share rm",
            1,
            format!("{n} not revoked"),
        )),
    }
}
