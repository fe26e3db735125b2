//! One access-log line, text or JSON (the formats: the module above):
//! written by hand, piece by piece, since `format!`'s machinery (padding,
//! float formatting) was most of a line's cost.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::{Entry, Format};

/// Appends the line of `entry`, made at `now` by node `node`, to `line`.
/// Written by hand, piece by piece: `format!` machinery (padding, float
/// formatting) was most of a line's cost.
pub(super) fn format_entry(
    line: &mut String,
    (format, node): (Format, &str),
    entry: &Entry<'_>,
    now: SystemTime,
) {
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let user = entry.user;
    match format {
        Format::Text => {
            write_time(line, since_epoch);
            line.push(' ');
            push_address(line, entry.peer);
            line.push_str(" #");
            push_number(line, entry.client);
            line.push(' ');
            line.push_str(user.unwrap_or("-"));
            line.push(' ');
            line.push_str(entry.protocol);
            line.push(' ');
            line.push_str(entry.operation);
            line.push(' ');
            crate::formats::json::push_string(line, entry.name);
            if let Some(to) = entry.to {
                line.push_str(" -> ");
                crate::formats::json::push_string(line, to);
            }
            line.push(' ');
            push_outcome(line, entry.code);
            line.push(' ');
            push_number(line, entry.bytes);
            line.push(' ');
            push_seconds(line, entry.took);
            line.push(' ');
            line.push_str(node);
            line.push('\n');
        }
        Format::Json => {
            line.push_str("{\"time\":\"");
            write_time(line, since_epoch);
            line.push_str("\",\"peer\":\"");
            push_address(line, entry.peer);
            line.push_str("\",\"client\":");
            push_number(line, entry.client);
            line.push_str(",\"user\":");
            match user {
                Some(user) => crate::formats::json::push_string(line, user),
                None => line.push_str("null"),
            }
            line.push_str(",\"protocol\":\"");
            line.push_str(entry.protocol);
            line.push_str("\",\"operation\":\"");
            line.push_str(entry.operation);
            line.push_str("\",\"name\":");
            crate::formats::json::push_string(line, entry.name);
            if let Some(to) = entry.to {
                line.push_str(",\"to\":");
                crate::formats::json::push_string(line, to);
            }
            line.push_str(",\"outcome\":\"");
            push_outcome(line, entry.code);
            line.push_str("\",\"bytes\":");
            push_number(line, entry.bytes);
            line.push_str(",\"seconds\":");
            push_seconds(line, entry.took);
            line.push_str(",\"node\":\"");
            line.push_str(node);
            line.push_str("\"}\n");
        }
    }
}

/// `peer` as `Display` writes it: an IPv4 address (nearly every line's)
/// by hand, an IPv6 one through `fmt`.
fn push_address(line: &mut String, peer: IpAddr) {
    match peer {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push('.');
                }
                push_number(line, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(line, "{v6}");
        }
    }
}

/// `ok` or the status code.
fn push_outcome(line: &mut String, code: Option<u16>) {
    match code {
        None => line.push_str("ok"),
        Some(code) => push_number(line, u64::from(code)),
    }
}

/// `n` in decimal.
fn push_number(line: &mut String, n: u64) {
    line.push_str(itoa::Buffer::new().format(n));
}

/// `n` in decimal, zero-padded to `width` digits (all of them where it
/// is wider).
fn push_padded(line: &mut String, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    line.extend(std::iter::repeat_n('0', width.saturating_sub(digits.len())));
    line.push_str(digits);
}

/// `took` in seconds, to the microsecond: `0.000512`.
fn push_seconds(line: &mut String, took: Duration) {
    push_number(line, took.as_secs());
    line.push('.');
    push_padded(line, u64::from(took.subsec_micros()), 6);
}

thread_local! {
    /// The second last written, and its text up to the seconds: a clock
    /// turns into a date once per second, not once per line.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-11-23T17:03:14.740Z`, in UTC, to the millisecond.
fn write_time(line: &mut String, since_epoch: Duration) {
    let secs = since_epoch.as_secs();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != secs {
            second.1.clear();
            let at = i64::try_from(secs).ok();
            match at.and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok()) {
                Some(t) => {
                    let _ = write!(
                        second.1,
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                        t.year(),
                        u8::from(t.month()),
                        t.day(),
                        t.hour(),
                        t.minute(),
                        t.second(),
                    );
                }
                None => second.1.push_str("1970-01-01T00:00:00"),
            }
            second.0 = secs;
        }
        line.push_str(&second.1);
    });
    line.push('.');
    push_padded(line, u64::from(since_epoch.subsec_millis()), 3);
    line.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(name: &'a str, user: Option<&'a str>) -> Entry<'a> {
        Entry {
            peer: "127.0.0.1".parse().unwrap(),
            client: 3,
            user,
            protocol: "ferry",
            operation: "put",
            name,
            to: None,
            code: None,
            bytes: 4096,
            took: Duration::from_micros(512),
        }
    }

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_453_394_740)
    }

    #[test]
    fn a_text_line_quotes_the_name_and_says_ok_or_the_code() {
        let mut line = String::new();
        format_entry(
            &mut line,
            (Format::Text, "web-1"),
            &entry("a b/\"c\".txt", Some("alice")),
            at(),
        );
        assert_eq!(
            line,
            "2026-11-23T17:03:14.740Z 127.0.0.1 #3 alice ferry put \"a b/\\\"c\\\".txt\" ok 4096 0.000512 web-1\n"
        );
        let mut refused = entry("x", None);
        refused.code = Some(404);
        refused.to = Some("y");
        line.clear();
        format_entry(&mut line, (Format::Text, "web-1"), &refused, at());
        assert!(
            line.ends_with(" - ferry put \"x\" -> \"y\" 404 4096 0.000512 web-1\n"),
            "{line}"
        );
    }

    /// The peer as `Display` writes it, IPv4 by hand at every width of
    /// octet, IPv6 as it was.
    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.200.3.45",
            "255.255.255.255",
            "::1",
            "2001:db8::8:1",
        ] {
            let peer: IpAddr = text.parse().unwrap();
            let mut line = String::new();
            push_address(&mut line, peer);
            assert_eq!(line, peer.to_string());
        }
    }

    #[test]
    fn numbers_are_written_whole_and_padded() {
        let mut line = String::new();
        push_seconds(&mut line, Duration::new(12, 34_000));
        line.push(' ');
        push_seconds(&mut line, Duration::ZERO);
        line.push(' ');
        push_number(&mut line, u64::MAX);
        line.push(' ');
        push_padded(&mut line, 1234, 3);
        assert_eq!(line, "12.000034 0.000000 18446744073709551615 1234");
    }

    #[test]
    fn a_json_line_parses_and_escapes_what_it_must() {
        let mut line = String::new();
        let mut odd = entry("tab\there \"q\" \\ é \u{1}", None);
        odd.to = Some("new");
        odd.code = Some(507);
        format_entry(&mut line, (Format::Json, "web-1"), &odd, at());
        assert!(line.ends_with("}\n"));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["name"], "tab\there \"q\" \\ é \u{1}");
        assert_eq!(value["to"], "new");
        assert_eq!(value["user"], serde_json::Value::Null);
        assert_eq!(value["outcome"], "507");
        assert_eq!(value["bytes"], 4096);
        assert_eq!(value["client"], 3);
        assert_eq!(value["time"], "2026-11-23T17:03:14.740Z");
        assert_eq!(value["node"], "web-1");
    }
}
