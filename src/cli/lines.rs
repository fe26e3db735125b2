//! Results and messages as lines, in every build: results go to stdout
//! through [`Stdout`] (or [`print_line`]), never `println!`, which panics
//! when the reader has gone (`ferry ls | head`): a closed stdout ends the
//! command quietly with exit status 0. Messages go to stderr through
//! [`to_stderr`], which drops what cannot be written. The client's
//! progress bars, which lines must not tear, are `output.rs`'s (feature
//! `client`).

use std::io::{self, Write};

// A client command's partial downloads are removed before it ends.
#[cfg(feature = "client")]
use super::interrupt::sweep_and_exit as end;

/// The client's stdout, for results (lines, a download to `-`, a
/// completion script). It never returns an error: one ends the command
/// (see [`stdout_failed`]), since with nowhere to put
/// its results a command has nothing left to do. Writes go straight to
/// `io::stdout()`'s own buffer, so lines stay whole.
#[derive(Debug, Clone, Copy)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().write(buf).or_else(end_unless_interrupted)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush().or_else(end_unless_interrupted)
    }
}

/// `Interrupted` is returned (`write_all` tries again); any other error
/// ends the command.
fn end_unless_interrupted<T>(err: io::Error) -> io::Result<T> {
    if err.kind() == io::ErrorKind::Interrupted {
        return Err(err);
    }
    stdout_failed(&err)
}

/// Writes `line` and a newline on stdout (see [`Stdout`]).
pub fn print_line(line: &str) {
    // Stdout ends the command rather than return an error.
    let _ = writeln!(Stdout, "{line}");
}

/// Writes `line` and a newline on stderr, or nothing if stderr cannot take
/// it (closed, full): a message is never worth failing a command for.
pub fn to_stderr(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A message as one line: control characters (a newline in a file's name,
/// an escape sequence) written as Rust escapes (`\n`, `\u{1b}`), so a name
/// can neither split a line nor drive the terminal. Every line the client
/// commands print goes through here.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Ends the command because its stdout failed: quietly with 0 if the
/// reader went away (nobody wants the rest, which is no failure), else
/// with 3 and the reason (`> /dev/full`); a client command's partial
/// files are removed first (`interrupt.rs`).
pub fn stdout_failed(err: &io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        end(0, None);
    }
    end(3, Some(&format!("ferry: stdout: {err}")));
}

/// Says `line` and exits: a build without the client commands has no
/// partial files to remove first.
#[cfg(not(feature = "client"))]
fn end(code: i32, line: Option<&str>) -> ! {
    if let Some(line) = line {
        to_stderr(line);
    }
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("plain ü.txt"), "plain ü.txt");
        assert_eq!(one_line("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
    }
}
