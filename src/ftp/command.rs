//! An FTP command line (RFC 959 §4.1, §5.3): a verb of three or four
//! letters, any case, then a space and its argument, to CRLF (a bare LF
//! is taken too: some scripts send one). Sans-IO: a pure function over
//! the bytes in hand, tested at every split point, so the control
//! connection never waits for more than a line.
//!
//! ```text
//! <verb> [SP <argument>] CRLF        RETR photos/cam 1.jpg\r\n
//! ```
//!
//! The argument is taken as sent, spaces and all (a file name may hold
//! them); a line is at most [`MAX_LINE`] bytes, or the peer could make the
//! server buffer without end.

/// The longest command line taken, CRLF included: a path of 4 KiB and
/// more than room for any verb.
pub const MAX_LINE: usize = 8 * 1024;

/// One command: its verb, upper-cased, and its argument (empty when it
/// has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `USER`, `RETR`... (at most four ASCII letters, upper-cased).
    pub verb: String,
    /// What follows the verb and one space, to the line's end.
    pub arg: String,
}

/// Why a line is not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Longer than [`MAX_LINE`] with no end in sight: the stream cannot
    /// be followed further.
    TooLong,
    /// Not UTF-8, or a verb that is not letters: answered, and the next
    /// line read; carries the bytes of the line.
    Garbled(usize),
}

/// Parses the command at the front of `buf`: `Ok(None)` until a whole
/// line is there; with it, the command and the bytes it took.
///
/// # Errors
/// [`LineError::TooLong`] once `buf` holds [`MAX_LINE`] bytes without a
/// line's end; [`LineError::Garbled`] for a line that is not a command.
pub fn parse_command(buf: &[u8]) -> Result<Option<(Command, usize)>, LineError> {
    let Some(end) = buf.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
        return match buf.len() >= MAX_LINE {
            true => Err(LineError::TooLong),
            false => Ok(None),
        };
    };
    let used = end + 1;
    let line = without_telnet_signals(&buf[..end]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(LineError::Garbled(used));
    };
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    if verb.is_empty() || verb.len() > 4 || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(LineError::Garbled(used));
    }
    let command = Command {
        verb: verb.to_ascii_uppercase(),
        arg: arg.to_owned(),
    };
    Ok(Some((command, used)))
}

/// Whether `buf` begins with an `ABOR` line: what a control connection
/// reads while a transfer is under way, to stop it (RFC 959 §4.1.3).
pub fn is_abort(buf: &[u8]) -> bool {
    matches!(parse_command(buf), Ok(Some((command, _))) if command.verb == "ABOR")
}

/// `line` without the Telnet signals a client may put before a command
/// (RFC 959 §4.1.3: `ABOR` after "Interrupt Process" and "Synch", as
/// Python's ftplib sends it: `IAC IP IAC DM`, the `DM` urgent and so
/// perhaps dropped from the stream).
fn without_telnet_signals(mut line: &[u8]) -> &[u8] {
    const IAC: u8 = 0xff;
    const DATA_MARK: u8 = 0xf2;
    loop {
        line = match line {
            // A Telnet command is a byte from 0xf0; an IAC whose command
            // was taken out of the stream (urgent data) stands alone.
            [IAC, 0xf0..=0xfe, rest @ ..] => rest,
            [IAC, rest @ ..] | [DATA_MARK, rest @ ..] => rest,
            _ => return line,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(verb: &str, arg: &str) -> Command {
        Command {
            verb: verb.to_owned(),
            arg: arg.to_owned(),
        }
    }

    #[test]
    fn a_command_is_whole_only_at_its_line_end_whatever_the_split() {
        let line = b"retr photos/cam 1.jpg\r\nNOOP\r\n";
        let first = line.iter().position(|&b| b == b'\n').unwrap() + 1;
        for split in 0..first {
            assert_eq!(parse_command(&line[..split]), Ok(None), "split at {split}");
        }
        for split in first..=line.len() {
            let (parsed, used) = parse_command(&line[..split]).unwrap().unwrap();
            assert_eq!(parsed, command("RETR", "photos/cam 1.jpg"));
            assert_eq!(used, first);
        }
    }

    #[test]
    fn bare_line_feeds_and_verbs_alone_are_taken() {
        assert_eq!(parse_command(b"pwd\n"), Ok(Some((command("PWD", ""), 4))));
        assert_eq!(
            parse_command(b"CWD  two spaces\r\n"),
            Ok(Some((command("CWD", " two spaces"), 17)))
        );
    }

    #[test]
    fn telnet_signals_before_a_command_are_dropped() {
        for line in [&b"\xff\xf4\xff\xf2ABOR\r\n"[..], b"\xff\xf4\xffABOR\r\n"] {
            let parsed = parse_command(line).unwrap().unwrap();
            assert_eq!(parsed, (command("ABOR", ""), line.len()));
        }
    }

    #[test]
    fn garbage_is_answered_and_an_endless_line_ends_the_stream() {
        assert_eq!(parse_command(b"\r\n"), Err(LineError::Garbled(2)));
        assert_eq!(
            parse_command(b"RETRIEVE x\r\n"),
            Err(LineError::Garbled(12))
        );
        assert_eq!(parse_command(b"R3TR x\n"), Err(LineError::Garbled(7)));
        assert_eq!(parse_command(b"RETR \xff\n"), Err(LineError::Garbled(7)));
        let long = vec![b'a'; MAX_LINE];
        assert_eq!(parse_command(&long), Err(LineError::TooLong));
        assert_eq!(parse_command(&long[..MAX_LINE - 1]), Ok(None));
    }
}
