//! `ferry sessions [ls]` and `ferry sessions abort ID...|--all`: the
//! upload sessions (`put --resume`) the token may write, and cancelling
//! them, which frees their staged bytes on the server at once instead of
//! at `--upload-ttl`. The wire side is `SESSIONS` and `ABORT`
//! (PROTOCOL.md §6.8).

use std::io::{self, Write};

use clap::{Args, Subcommand};

use super::Failure;
use super::args::ClientArgs;
use super::output::{Output, ProgressMode, human_size};
use crate::client::sessions::Session;
use crate::client::{Client, ClientError};
use crate::model::DEFERRED_SIZE;

/// `ferry sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// What to do (default: ls).
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List them: name, bytes staged of its size, age, time left before
    /// the server removes it, id.
    #[command(visible_alias = "list")]
    Ls {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Cancel sessions by id, or all of them (only those the token may
    /// write); their staged bytes are freed at once.
    Abort {
        /// Session ids, as `ferry sessions` prints them.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Every session the token may write.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl SessionsArgs {
    /// The client options the command runs with (those given after the
    /// sub-command's name, or the ones before it).
    pub fn client(&self) -> &ClientArgs {
        match &self.action {
            Some(Action::Ls { client } | Action::Abort { client, .. }) => client,
            None => &self.client,
        }
    }
}

/// Runs `ferry sessions ...`.
///
/// # Errors
/// The server cannot be reached or refuses (exit 1 if any abort was
/// refused, after trying every id).
pub fn run(args: &SessionsArgs) -> Result<(), Failure> {
    let output = args.client().output(ProgressMode::Never)?;
    let mut client = args.client().connection.connect()?;
    match &args.action {
        None | Some(Action::Ls { .. }) => list(&mut client),
        Some(Action::Abort {
            ids, all: false, ..
        }) => abort_ids(&mut client, &output, ids),
        Some(Action::Abort { all: true, .. }) => abort_all(&mut client, &output),
    }
}

fn sessions(client: &mut Client) -> Result<Vec<Session>, Failure> {
    client
        .sessions()
        .map_err(|err| Failure::new("sessions", err))
}

/// Prints the table; a reader that closes stdout early (`| head`) ends it
/// quietly.
fn list(client: &mut Client) -> Result<(), Failure> {
    let sessions = sessions(client)?;
    match write_table(&mut io::stdout().lock(), &sessions) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::new("stdout", ClientError::Local(err)))
        }
        _ => Ok(()),
    }
}

fn write_table(out: &mut dyn Write, sessions: &[Session]) -> io::Result<()> {
    if sessions.is_empty() {
        return writeln!(out, "no upload sessions");
    }
    writeln!(out, "NAME\tSTAGED/SIZE\tAGE\tEXPIRES IN\tID")?;
    for session in sessions {
        writeln!(
            out,
            "{}\t{}/{}\t{}\t{}\t{}",
            session.name,
            human_size(session.received),
            size_of(session),
            duration(session.age),
            duration(session.expires_in),
            session.id
        )?;
    }
    out.flush()
}

/// A session's size for people: `?` for a tus upload whose length is not
/// declared yet, which `SESSIONS` tells as 2^64 − 1 (PROTOCOL.md §6.8).
fn size_of(session: &Session) -> String {
    match session.size {
        DEFERRED_SIZE => "?".to_owned(),
        size => human_size(size),
    }
}

/// Aborts each id, reporting each result; refused ids do not stop the
/// others.
fn abort_ids(client: &mut Client, output: &Output, ids: &[String]) -> Result<(), Failure> {
    // Names for the report, where the token may see them.
    let known = sessions(client)?;
    let mut refused = 0;
    for id in ids {
        let name = known.iter().find(|s| s.id == *id).map(|s| s.name.as_str());
        if !abort_one(client, output, id, name)? {
            refused += 1;
        }
    }
    finish(refused)
}

/// Aborts every session the token may write, asking again until none is
/// left (one answer lists at most 1024) or none of a round could go.
fn abort_all(client: &mut Client, output: &Output) -> Result<(), Failure> {
    let mut refused = 0;
    loop {
        let round = sessions(client)?;
        let mut aborted = 0;
        for session in &round {
            match abort_one(client, output, &session.id, Some(&session.name))? {
                true => aborted += 1,
                false => refused += 1,
            }
        }
        if aborted == 0 {
            break;
        }
    }
    finish(refused)
}

/// One `ABORT`: `true` if it went; a refusal is reported and is `false`;
/// a broken connection ends the command.
fn abort_one(
    client: &mut Client,
    output: &Output,
    id: &str,
    name: Option<&str>,
) -> Result<bool, Failure> {
    let what = match name {
        Some(name) => format!("{id} ({name})"),
        None => id.to_owned(),
    };
    match client.abort(id) {
        Ok(()) => {
            output.say(&format!("aborted {what}"));
            Ok(true)
        }
        Err(err @ ClientError::Remote { .. }) => {
            output.error(&format!("{what}: {}", super::reason(&err)));
            Ok(false)
        }
        Err(err) => Err(Failure::new(what, err)),
    }
}

fn finish(refused: usize) -> Result<(), Failure> {
    match refused {
        0 => Ok(()),
        n => Err(Failure::explained(
            "sessions abort",
            1,
            format!("{n} not aborted"),
        )),
    }
}

/// Seconds for people, to two units: `45s`, `12m`, `3h05m`, `2d03h`.
fn duration(seconds: u64) -> String {
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{minutes}m"),
        3600..86_400 => format!("{hours}h{:02}m", minutes % 60),
        _ => format!("{days}d{:02}h", hours % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_to_two_units() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(12 * 60 + 5), "12m");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d03h");
    }
}
