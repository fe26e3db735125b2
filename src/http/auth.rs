//! The `Authorization` header: the token a request presents, as
//! `Bearer <token>` or as HTTP Basic with the token as the password (so
//! that `curl -u any:TOKEN` and a browser's login prompt work), or as the
//! user name when the password is empty (`curl -u TOKEN:`). Sans-IO.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::access::Secret;

/// What the server says in `WWW-Authenticate` with a 401: Basic first, so
/// that a browser asks for a name and a password (the token).
pub const CHALLENGE: &str = "Basic realm=\"ferry\", charset=\"UTF-8\"";

/// The token in an `Authorization` value. A value that holds none (an
/// unknown scheme, bad base64) gives an empty token, which no token file
/// holds: the request is refused as unauthenticated, not served as
/// anonymous, because the client meant to present something.
pub fn token(value: &[u8]) -> Secret {
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(at) => (&value[..at], value[at + 1..].trim_ascii()),
        None => (value, &b""[..]),
    };
    let token = if scheme.eq_ignore_ascii_case(b"bearer") {
        String::from_utf8(rest.to_vec()).ok()
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        basic_token(rest)
    } else {
        None
    };
    Secret::new(token.unwrap_or_default())
}

/// The password of `user:password` in base64, or the user when the
/// password is empty.
fn basic_token(encoded: &[u8]) -> Option<String> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(match password.is_empty() {
        true => user.to_owned(),
        false => password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(credentials)).into_bytes()
    }

    #[test]
    fn bearer_and_basic_carry_the_token() {
        assert_eq!(token(b"Bearer ferry_abc").expose(), "ferry_abc");
        assert_eq!(token(b"bearer   ferry_abc ").expose(), "ferry_abc");
        assert_eq!(token(&basic("any:ferry_abc")).expose(), "ferry_abc");
        assert_eq!(token(&basic("ferry_abc:")).expose(), "ferry_abc");
        assert_eq!(token(&basic("a:b:c")).expose(), "b:c");
    }

    #[test]
    fn anything_else_is_an_empty_token() {
        for value in [
            &b"Digest x"[..],
            b"Basic !!!",
            b"Bearer",
            b"",
            b"Basic Zm9v",
        ] {
            assert_eq!(token(value).expose(), "", "{value:?}");
        }
    }
}
