//! Fuzz bytes into `ferry::ftp::command::parse_command`, whole and at
//! every split: no panic, never more used than given, a line's end the
//! only way to a command, and the same answer for a prefix that holds the
//! whole line (the control connection may read it in any pieces).

#![no_main]

use ferry::ftp::command::{LineError, MAX_LINE, parse_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = parse_command(data);
    match &whole {
        Ok(Some((command, used))) => {
            assert!(*used <= data.len() && data[used - 1] == b'\n');
            assert!(!command.verb.is_empty() && command.verb.len() <= 4);
            assert_eq!(parse_command(&data[..*used]), whole);
        }
        Err(LineError::Garbled(used)) => assert!(*used <= data.len() && data[used - 1] == b'\n'),
        Err(LineError::TooLong) => assert!(data.len() >= MAX_LINE),
        Ok(None) => assert!(!data.contains(&b'\n') && data.len() < MAX_LINE),
    }
});
