//! `ferry df`: the room there is to write on a server (`DF`, PROTOCOL.md
//! §6.7), as `df` tells a local disk's: what writes may still take
//! (above the server's reserve, `--min-free`) and what is in use, in
//! bytes and in files.

use clap::Args;

use super::Failure;
use super::args::ClientArgs;
use super::lines::print_line;
use super::output::{ProgressMode, human_size};
use crate::client::Room;

/// `ferry df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// A folder on the file system asked about (default: the top).
    #[arg(value_parser = super::remote_name::parse_name)]
    pub folder: Option<String>,
    /// Print a JSON object of {free, used, files_free, files_used} (bytes
    /// and files) instead.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the room: a header line and one of figures, or JSON.
pub fn run(args: &DfArgs) -> Result<(), Failure> {
    args.client.output(ProgressMode::Never)?;
    let folder = args.folder.as_deref().unwrap_or("");
    let folder = folder.strip_suffix('/').unwrap_or(folder);
    let mut client = args.client.connection.connect()?;
    let room = client
        .free_space(folder)
        .map_err(|err| Failure::new(format!("df {folder:?}"), err))?;
    for line in lines(&room, args.json) {
        print_line(&line);
    }
    Ok(())
}

/// What `ferry df` prints for `room`.
fn lines(room: &Room, json: bool) -> Vec<String> {
    if json {
        return vec![format!(
            "{{\"free\":{},\"used\":{},\"files_free\":{},\"files_used\":{}}}",
            room.free, room.used, room.files_free, room.files_used
        )];
    }
    vec![
        format!(
            "{:>12}  {:>12}  {:>12}  {:>12}",
            "free", "used", "files free", "files used"
        ),
        format!(
            "{:>12}  {:>12}  {:>12}  {:>12}",
            human_size(room.free),
            human_size(room.used),
            room.files_free,
            room.files_used
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_line_up_under_their_names_and_json_is_exact() {
        let room = Room {
            free: 3 << 30,
            used: 512,
            files_free: 7,
            files_used: 9,
        };
        let shown = lines(&room, false);
        assert_eq!(shown[0].len(), shown[1].len());
        assert!(
            shown[1].contains("3.0 GiB") && shown[1].contains("512 B"),
            "{shown:?}"
        );
        assert_eq!(
            lines(&room, true),
            [r#"{"free":3221225472,"used":512,"files_free":7,"files_used":9}"#]
        );
    }
}
