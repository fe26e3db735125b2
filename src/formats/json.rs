//! JSON string literals: the one escaper for every JSON (and quoted text)
//! ferry writes: listings, the access log, the client's `--json` output
//! and `ferry bench --json` (what ferry reads: `json_reader.rs`).

use std::fmt::Write;

/// Appends `text` as a JSON string literal: quoted, with `"`, `\\` and
/// control characters escaped (a text log line's reader can undo it the
/// same way).
pub fn push_string(line: &mut String, text: &str) {
    line.push('"');
    let plain = |c: char| c != '"' && c != '\\' && !c.is_control();
    if text.chars().all(plain) {
        line.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => line.push_str("\\\""),
                '\\' => line.push_str("\\\\"),
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                '\t' => line.push_str("\\t"),
                c if c.is_control() => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let _ = write!(line, "\\u{unit:04x}");
                    }
                }
                c => line.push(c),
            }
        }
    }
    line.push('"');
}

/// `text` as a JSON string literal.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_string(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_backslashes_and_controls_are_escaped() {
        assert_eq!(string("plain/ü.txt"), "\"plain/ü.txt\"");
        assert_eq!(string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string("\u{1}\n\u{7f}"), "\"\\u0001\\n\\u007f\"");
    }
}
