//! Active mode (RFC 959's `PORT`, RFC 2428's `EPRT`): the server connects
//! to the client for the next transfer. Off unless `--ftp-active`; then
//! only to the control connection's own address and ports from 1024
//! (RFC 2577: a `PORT` naming another host, or a service's port, would
//! make the server a proxy for its client, the "FTP bounce").
//!
//! ```text
//! PORT 127,0,0,1,195,80        -> 200, the next transfer connects to 127.0.0.1:50000
//! EPRT |1|127.0.0.1|50000|     -> 200 (|2|::1|50000| for IPv6)
//! PORT 10,0,0,9,0,25           -> 501 (another address, a port below 1024)
//! ```

use std::net::{IpAddr, SocketAddr};

use super::control::Control;
use crate::serve::decoded::Decoded;

/// The lowest port active mode connects to: those below are services'.
const LOWEST_PORT: u16 = 1024;

impl Control {
    /// `PORT` (or `EPRT` where `extended`): where the next transfer's data
    /// connection goes, if the server serves active mode and it is the
    /// client's own address.
    pub(super) fn port(&mut self, arg: &str, used: usize, extended: bool) -> Decoded {
        if !self.terms.active {
            return self.answer(used, "502 active mode is off: use PASV or EPSV");
        }
        let parsed = match extended {
            true => parse_eprt(arg),
            false => parse_port(arg),
        };
        let Some(to) = parsed else {
            return self.answer(used, "501 not an address and port");
        };
        if let Some(refused) = bounce(to, self.terms.client) {
            return self.answer(used, refused);
        }
        self.active = Some(to);
        self.passive = false;
        self.answer(used, "200 the next transfer connects to you")
    }
}

/// Why active mode does not connect to `to` for a client at `client`
/// (RFC 2577), if it does not.
fn bounce(to: SocketAddr, client: IpAddr) -> Option<&'static str> {
    if to.ip().to_canonical() != client.to_canonical() {
        return Some("501 active mode connects to your own address only");
    }
    if to.port() < LOWEST_PORT {
        return Some("501 active mode connects to ports from 1024 only");
    }
    None
}

/// `PORT h1,h2,h3,h4,p1,p2`: an IPv4 address and a port.
fn parse_port(arg: &str) -> Option<SocketAddr> {
    let numbers: Vec<u8> = arg
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c, d, high, low] = numbers[..] else {
        return None;
    };
    let port = u16::from(high) << 8 | u16::from(low);
    Some(SocketAddr::from(([a, b, c, d], port)))
}

/// `EPRT <d><proto><d><address><d><port><d>` (RFC 2428 §2): the delimiter
/// is the first character; protocol 1 is IPv4, 2 IPv6.
fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let delimiter = arg.chars().next()?;
    let fields: Vec<&str> = arg.split(delimiter).collect();
    let ["", family, address, port, ""] = fields[..] else {
        return None;
    };
    let ip: IpAddr = address.parse().ok()?;
    let matches = matches!((family, ip), ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)));
    matches.then_some(SocketAddr::new(ip, port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_eprt_name_an_address_and_port() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(parse_port("127,0,0,1,195,80"), Some(at("127.0.0.1:50000")));
        assert_eq!(
            parse_eprt("|1|127.0.0.1|50000|"),
            Some(at("127.0.0.1:50000"))
        );
        assert_eq!(parse_eprt("!2!::1!2121!"), Some(at("[::1]:2121")));
        for bad in ["", "1,2,3,4,5", "1,2,3,4,5,256", "a,b,c,d,e,f"] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
        for bad in [
            "",
            "|1|::1|21|",
            "|2|127.0.0.1|21|",
            "|1|127.0.0.1|x|",
            "|1|127.0.0.1|21",
        ] {
            assert_eq!(parse_eprt(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_clients_own_address_and_high_ports_are_connected_to() {
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(bounce(at("127.0.0.1:50000"), client), None);
        assert!(
            bounce(at("127.0.0.2:50000"), client).is_some(),
            "another host"
        );
        assert!(
            bounce(at("127.0.0.1:25"), client).is_some(),
            "a service's port"
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(bounce(at("127.0.0.1:50000"), mapped), None, "IPv4 as IPv6");
    }
}
