//! Property tests for the PROXY header parser (`ferry::proxy::parse`),
//! bounded so they run inside `cargo test` in a moment:
//!
//! - random bytes, and random bytes behind each version's signature: no
//!   panic, and a header found is within the input and the bound;
//! - generated valid headers (v1 and v2, IPv4 and IPv6, with TLVs): every
//!   proper prefix needs more bytes, the whole parses to its source and
//!   uses exactly its bytes, whatever follows;
//! - the answer only firms up as bytes arrive: what a prefix refused stays
//!   refused, what it found stays found.

use std::net::{IpAddr, SocketAddr};

use ferry::proxy::header::{MAX_HEADER, V1_MAX};
use ferry::proxy::{ProxySource, parse};
use proptest::collection::vec;
use proptest::prelude::*;

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// Random bytes, often behind a signature so the parser gets further in.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let tail = vec(any::<u8>(), 0..1500);
    prop_oneof![
        tail.clone(),
        tail.clone()
            .prop_map(|t| [b"PROXY ".as_slice(), &t].concat()),
        tail.clone()
            .prop_map(|t| [b"PROXY TCP4 ".as_slice(), &t].concat()),
        tail.prop_map(|t| [V2_SIGNATURE, &t].concat()),
    ]
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip.into(), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip.into(), port)),
    ]
}

/// A valid header naming `src`: v1, or v2 with random TLVs behind.
fn header() -> impl Strategy<Value = (Vec<u8>, SocketAddr)> {
    (
        socket_addr(),
        any::<u16>(),
        any::<bool>(),
        vec(any::<u8>(), 0..200),
    )
        .prop_map(|(src, dst_port, v1, tlvs)| {
            let bytes = match (v1, src.ip()) {
                (true, IpAddr::V4(ip)) => {
                    format!("PROXY TCP4 {ip} 10.0.0.1 {} {dst_port}\r\n", src.port()).into_bytes()
                }
                (true, IpAddr::V6(ip)) => {
                    format!("PROXY TCP6 {ip} ::1 {} {dst_port}\r\n", src.port()).into_bytes()
                }
                (false, ip) => {
                    let (family, mut addresses) = match ip {
                        IpAddr::V4(ip) => (0x11, [ip.octets(), [10, 0, 0, 1]].concat()),
                        IpAddr::V6(ip) => (0x21, [ip.octets(), [0; 16]].concat()),
                    };
                    addresses.extend_from_slice(&src.port().to_be_bytes());
                    addresses.extend_from_slice(&dst_port.to_be_bytes());
                    addresses.extend_from_slice(&tlvs);
                    let len = addresses.len() as u16;
                    let mut header = V2_SIGNATURE.to_vec();
                    header.extend_from_slice(&[0x21, family]);
                    header.extend_from_slice(&len.to_be_bytes());
                    header.extend_from_slice(&addresses);
                    header
                }
            };
            (bytes, src)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in noise()) {
        if let Ok(Some((_, used))) = parse(&bytes) {
            prop_assert!(used <= bytes.len() && used <= MAX_HEADER);
        }
    }

    #[test]
    fn valid_headers_parse_exactly_at_every_split(
        (header, src) in header(),
        after in vec(any::<u8>(), 0..64),
    ) {
        prop_assert!(header.len() <= MAX_HEADER);
        if header.starts_with(b"PROXY") {
            prop_assert!(header.len() <= V1_MAX);
        }
        for cut in 0..header.len() {
            prop_assert_eq!(parse(&header[..cut]), Ok(None), "cut at {}", cut);
        }
        let whole = [&header[..], &after].concat();
        prop_assert_eq!(
            parse(&whole),
            Ok(Some((ProxySource::Client(src), header.len())))
        );
    }

    #[test]
    fn answers_only_firm_up(bytes in noise(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(bytes.len() + 1);
        match parse(&bytes[..cut]) {
            Ok(None) => {}
            Err(_) => prop_assert!(parse(&bytes).is_err()),
            found @ Ok(Some(_)) => prop_assert_eq!(parse(&bytes), found),
        }
    }
}
