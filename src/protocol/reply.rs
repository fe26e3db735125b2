//! The client's reading of FERRY/1 response lines: [`parse_reply`] cuts
//! one into `OK` and its fields or `ERR`, its code and message; what the
//! fields mean is the caller's (`client::wire`, `ferry bench`). The server
//! writes them with [`super::response`].

/// A response line as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK` and its fields.
    Ok(Vec<String>),
    /// `ERR`, its code and message.
    Err {
        /// Three-digit code.
        code: u16,
        /// The server's reason.
        message: String,
    },
}

/// Parses one response line (without its newline). `None` if it is neither a
/// well-formed `OK` nor `ERR` line.
pub fn parse_reply(line: &str) -> Option<Reply> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line == "OK" {
        return Some(Reply::Ok(Vec::new()));
    }
    if let Some(fields) = line.strip_prefix("OK ") {
        return Some(Reply::Ok(fields.split(' ').map(str::to_owned).collect()));
    }
    let rest = line.strip_prefix("ERR ")?;
    let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 {
        return None;
    }
    Some(Reply::Err {
        code: code.parse().ok()?,
        message: message.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies() {
        assert_eq!(parse_reply("OK"), Some(Reply::Ok(vec![])));
        assert_eq!(
            parse_reply("OK 1 2"),
            Some(Reply::Ok(vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            parse_reply("ERR 404 no such file"),
            Some(Reply::Err {
                code: 404,
                message: "no such file".into()
            })
        );
        assert_eq!(parse_reply("HELLO"), None);
        assert_eq!(parse_reply("ERR x"), None);
    }
}
