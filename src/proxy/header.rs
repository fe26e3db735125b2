//! The PROXY protocol header (HAProxy's `proxy-protocol.txt`, versions 1
//! and 2), sans-IO: [`parse`] looks at the first bytes of a connection and
//! says who the client is, that more bytes are needed, or that they are no
//! header. It never touches a socket; the connection peeks at what has
//! arrived, parses it here, and takes exactly the header's bytes off the
//! socket once it is whole.
//!
//! ```text
//! v1: "PROXY TCP4 203.0.113.9 192.0.2.1 51234 5010\r\n"   (at most 107 bytes)
//!     "PROXY TCP6 <src> <dst> <sport> <dport>\r\n"
//!     "PROXY UNKNOWN[ <anything>]\r\n"                      the proxy's own address
//!
//! v2: 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A                 signature (12 bytes)
//!     ver_cmd  0x20 LOCAL (the proxy's own address) | 0x21 PROXY
//!     fam      0x00 UNSPEC | 0x11 TCP4 | 0x12 UDP4 | 0x21 TCP6 | 0x22 UDP6
//!              | 0x31 UNIX stream | 0x32 UNIX dgram
//!     len      u16 big-endian: bytes that follow (addresses, then TLVs)
//!     TCP4/UDP4: src(4) dst(4) sport(2) dport(2)       = 12 bytes
//!     TCP6/UDP6: src(16) dst(16) sport(2) dport(2)     = 36 bytes
//!     UNIX:      src(108) dst(108)                     = 216 bytes
//!     TLVs:      skipped (nothing here needs them)
//! ```
//!
//! Bounded: a v1 line without its CRLF in [`V1_MAX`] bytes, and a v2 header
//! announcing more than [`V2_MAX_PAYLOAD`] bytes, are errors, so a broken
//! proxy cannot make a connection wait for a header without end.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest v1 header, CRLF included (the spec's own figure).
pub const V1_MAX: usize = 107;
/// The fixed part of a v2 header: signature, version and command, family,
/// length.
pub const V2_FIXED: usize = 16;
/// Most bytes a v2 header may carry after its fixed part: the largest
/// address block (two UNIX paths, 216 bytes) and 1 KiB of TLVs, far more
/// than HAProxy, nginx or a cloud balancer send.
pub const V2_MAX_PAYLOAD: usize = 216 + 1024;
/// Longest header of either version: enough to peek at to parse any.
pub const MAX_HEADER: usize = V2_FIXED + V2_MAX_PAYLOAD;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Whom the header says the connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxySource {
    /// The client's address and port, as the proxy saw them.
    Client(SocketAddr),
    /// The proxy speaks for itself (v2 `LOCAL`, as in its health checks;
    /// v1 `UNKNOWN`; a v2 family without an IP address): keep the
    /// connection's own address.
    Proxy,
}

/// Why the bytes are not a valid PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyError(pub &'static str);

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ProxyError {}

/// Parses a PROXY header (either version) from the front of `buf`.
///
/// Returns `Ok(None)` while `buf` could still become a valid header (the
/// empty buffer included), and `Ok(Some((source, consumed)))` once it holds
/// one whole, `consumed` being the header's length; what follows it is the
/// connection's own data.
///
/// # Errors
/// `buf` does not begin a PROXY header, or the header is malformed or over
/// its bound. A connection that must send one is then to be closed.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxySource, usize)>, ProxyError> {
    if is_prefix_of(buf, V2_SIGNATURE) {
        return if buf.len() < V2_SIGNATURE.len() {
            Ok(None)
        } else {
            parse_v2(buf)
        };
    }
    if is_prefix_of(buf, V1_PREFIX) {
        return if buf.len() < V1_PREFIX.len() {
            Ok(None)
        } else {
            parse_v1(buf)
        };
    }
    Err(ProxyError("no PROXY header"))
}

/// Whether `buf` and `signature` agree as far as both go.
fn is_prefix_of(buf: &[u8], signature: &[u8]) -> bool {
    let n = buf.len().min(signature.len());
    buf[..n] == signature[..n]
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxySource, usize)>, ProxyError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return match buf.len() >= V1_MAX {
            true => Err(ProxyError("PROXY v1 line longer than 107 bytes")),
            false => Ok(None),
        };
    };
    let Some(line) = window[..lf].strip_suffix(b"\r") else {
        return Err(ProxyError("PROXY v1 line not ended by CRLF"));
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(ProxyError("PROXY v1 line not ASCII"));
    };
    let consumed = lf + 1;
    let mut fields = line.split(' ');
    // The prefix was checked by `parse`.
    let _proxy = fields.next();
    let proto = fields.next().unwrap_or("");
    if proto == "UNKNOWN" {
        // The spec: whatever follows UNKNOWN up to the CRLF is ignored.
        return Ok(Some((ProxySource::Proxy, consumed)));
    }
    let fields: Vec<&str> = fields.collect();
    let [src, _dst, sport, dport] = fields[..] else {
        return Err(ProxyError(
            "PROXY v1 line without exactly 4 addresses and ports",
        ));
    };
    let (src, dst_ok) = match proto {
        "TCP4" => (
            src.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            fields[1].parse::<Ipv4Addr>().is_ok(),
        ),
        "TCP6" => (
            src.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            fields[1].parse::<Ipv6Addr>().is_ok(),
        ),
        _ => return Err(ProxyError("PROXY v1 protocol not TCP4, TCP6 or UNKNOWN")),
    };
    let Some(src) = src.filter(|_| dst_ok) else {
        return Err(ProxyError("PROXY v1 address not of its protocol"));
    };
    let (Some(sport), Some(_)) = (v1_port(sport), v1_port(dport)) else {
        return Err(ProxyError("PROXY v1 port not a number from 0 to 65535"));
    };
    Ok(Some((
        ProxySource::Client(SocketAddr::new(src, sport)),
        consumed,
    )))
}

/// A v1 port: decimal digits only (no sign, no spaces), 0 to 65535.
fn v1_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxySource, usize)>, ProxyError> {
    // Each fixed byte is checked as soon as it is there, so garbage is
    // refused without waiting for the rest.
    let local = match buf.get(12) {
        None => return Ok(None),
        Some(0x20) => true,
        Some(0x21) => false,
        Some(ver_cmd) if ver_cmd >> 4 != 2 => return Err(ProxyError("PROXY v2: not version 2")),
        Some(_) => return Err(ProxyError("PROXY v2: command neither LOCAL nor PROXY")),
    };
    let Some(&family) = buf.get(13) else {
        return Ok(None);
    };
    // The address block each family and transport carries.
    let addresses = match family {
        0x00 => 0,
        0x11 | 0x12 => 12,
        0x21 | 0x22 => 36,
        0x31 | 0x32 => 216,
        _ => return Err(ProxyError("PROXY v2: unknown address family or transport")),
    };
    let (Some(&high), Some(&low)) = (buf.get(14), buf.get(15)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([high, low]));
    if len > V2_MAX_PAYLOAD {
        return Err(ProxyError("PROXY v2: header longer than the server takes"));
    }
    // LOCAL's address block, if any, is to be ignored whatever it holds.
    if !local && len < addresses {
        return Err(ProxyError("PROXY v2: addresses longer than the header"));
    }
    let consumed = V2_FIXED + len;
    let Some(payload) = buf.get(V2_FIXED..consumed) else {
        return Ok(None);
    };
    if local {
        return Ok(Some((ProxySource::Proxy, consumed)));
    }
    let source = match family {
        0x11 | 0x12 => {
            let ip = Ipv4Addr::from(octets::<4>(&payload[..4]));
            let port = u16::from_be_bytes(octets::<2>(&payload[8..10]));
            ProxySource::Client(SocketAddr::new(IpAddr::V4(ip), port))
        }
        0x21 | 0x22 => {
            let ip = Ipv6Addr::from(octets::<16>(&payload[..16]));
            let port = u16::from_be_bytes(octets::<2>(&payload[32..34]));
            ProxySource::Client(SocketAddr::new(IpAddr::V6(ip), port))
        }
        // UNSPEC or a UNIX socket: no address a client could be told by.
        _ => ProxySource::Proxy,
    };
    Ok(Some((source, consumed)))
}

/// The first `N` bytes of `bytes`, which holds at least that many (the
/// callers slice within the address block checked above).
fn octets<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(addr: &str) -> ProxySource {
        ProxySource::Client(addr.parse().unwrap())
    }

    /// Every proper prefix of `header` needs more bytes; the whole of it
    /// (with data behind it) parses to `expected`, consuming exactly it.
    fn check_every_split(header: &[u8], expected: ProxySource) {
        for cut in 0..header.len() {
            assert_eq!(parse(&header[..cut]), Ok(None), "{cut} bytes of {header:?}");
        }
        let mut with_data = header.to_vec();
        with_data.extend_from_slice(b"QUIT\n");
        for whole in [header, &with_data[..]] {
            assert_eq!(parse(whole), Ok(Some((expected, header.len()))));
        }
    }

    fn v2(ver_cmd: u8, family: u8, payload: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(ver_cmd);
        header.push(family);
        header.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        header.extend_from_slice(payload);
        header
    }

    fn tcp4_payload() -> Vec<u8> {
        let mut payload = vec![203, 0, 113, 9, 192, 0, 2, 1];
        payload.extend_from_slice(&51234u16.to_be_bytes());
        payload.extend_from_slice(&5010u16.to_be_bytes());
        payload
    }

    #[test]
    fn v1_tcp4_at_every_split() {
        check_every_split(
            b"PROXY TCP4 203.0.113.9 192.0.2.1 51234 5010\r\n",
            client("203.0.113.9:51234"),
        );
    }

    #[test]
    fn v1_tcp6_at_every_split() {
        check_every_split(
            b"PROXY TCP6 2001:db8::9 2001:db8::1 443 5010\r\n",
            client("[2001:db8::9]:443"),
        );
    }

    #[test]
    fn v1_unknown_at_every_split() {
        check_every_split(b"PROXY UNKNOWN\r\n", ProxySource::Proxy);
        check_every_split(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", ProxySource::Proxy);
    }

    #[test]
    fn v1_longest_line_is_accepted() {
        let ip = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let tcp6 = format!("PROXY TCP6 {ip} {ip} 65535 65535\r\n");
        check_every_split(tcp6.as_bytes(), client(&format!("[{ip}]:65535")));
        // The spec's worst case, 107 bytes.
        let unknown = format!("PROXY UNKNOWN {ip} {ip} 65535 65535\r\n");
        assert_eq!(unknown.len(), V1_MAX);
        check_every_split(unknown.as_bytes(), ProxySource::Proxy);
    }

    #[test]
    fn v2_tcp4_at_every_split() {
        check_every_split(
            &v2(0x21, 0x11, &tcp4_payload()),
            client("203.0.113.9:51234"),
        );
    }

    #[test]
    fn v2_tcp6_at_every_split() {
        let mut payload = "2001:db8::9".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        payload.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        payload.extend_from_slice(&443u16.to_be_bytes());
        payload.extend_from_slice(&5010u16.to_be_bytes());
        check_every_split(&v2(0x21, 0x21, &payload), client("[2001:db8::9]:443"));
    }

    #[test]
    fn v2_tlvs_are_skipped() {
        let mut payload = tcp4_payload();
        // PP2_TYPE_ALPN "h2", then a NOOP padding TLV.
        payload.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2', 0x04, 0x00, 0x03, 0, 0, 0]);
        check_every_split(&v2(0x21, 0x11, &payload), client("203.0.113.9:51234"));
    }

    #[test]
    fn v2_local_keeps_the_proxy_address() {
        // HAProxy's health checks: LOCAL, UNSPEC, nothing after.
        check_every_split(&v2(0x20, 0x00, &[]), ProxySource::Proxy);
        // A LOCAL with addresses: they are ignored.
        check_every_split(&v2(0x20, 0x11, &tcp4_payload()), ProxySource::Proxy);
    }

    #[test]
    fn v2_without_ip_addresses_keeps_the_proxy_address() {
        check_every_split(&v2(0x21, 0x00, &[]), ProxySource::Proxy);
        check_every_split(&v2(0x21, 0x31, &[0; 216]), ProxySource::Proxy);
    }

    #[test]
    fn v2_largest_allowed_header() {
        let mut payload = tcp4_payload();
        payload.resize(V2_MAX_PAYLOAD, 0);
        let header = v2(0x21, 0x11, &payload);
        assert_eq!(header.len(), MAX_HEADER);
        assert_eq!(
            parse(&header),
            Ok(Some((client("203.0.113.9:51234"), MAX_HEADER)))
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let bad: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n",
            b"QUIT\n",
            b"\x16\x03\x01",
            b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY\r\n",
            b"PROXY \r\n",
            b"PROXY TCP4 \xff.2.3.4 5.6.7.8 1 2\r\n",
        ];
        for bytes in bad {
            assert!(
                parse(bytes).is_err(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // v1 without a CRLF within 107 bytes.
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(parse(&long[..V1_MAX - 1]), Ok(None));
        assert!(parse(&long[..V1_MAX]).is_err());
    }

    #[test]
    fn malformed_v2_headers_are_refused() {
        let tcp4 = tcp4_payload();
        // Version 1 in the binary format, an unknown command, an unknown
        // family, addresses longer than the length says, too long.
        assert!(parse(&v2(0x11, 0x11, &tcp4)).is_err());
        assert!(parse(&v2(0x22, 0x11, &tcp4)).is_err());
        assert!(parse(&v2(0x21, 0x13, &tcp4)).is_err());
        assert!(parse(&v2(0x21, 0x41, &tcp4)).is_err());
        assert!(parse(&v2(0x21, 0x11, &tcp4[..11])).is_err());
        assert!(parse(&v2(0x21, 0x21, &tcp4)).is_err());
        assert!(parse(&v2(0x21, 0x31, &[0; 100])).is_err());
        let mut too_long = tcp4.clone();
        too_long.resize(V2_MAX_PAYLOAD + 1, 0);
        // Refused from the length field alone, before the rest arrives.
        assert!(parse(&v2(0x21, 0x11, &too_long)[..V2_FIXED]).is_err());
        // Refused as soon as the bad byte is there.
        assert!(parse(&v2(0x31, 0x11, &tcp4)[..13]).is_err());
        assert!(parse(&v2(0x21, 0x99, &tcp4)[..14]).is_err());
        // A signature that goes wrong part way.
        assert!(parse(b"\r\n\r\n\0\r\nQUIX").is_err());
        assert!(parse(b"\r\n\r\nX").is_err());
    }
}
