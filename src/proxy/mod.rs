//! The PROXY protocol: which peers are load balancers that must begin each
//! connection with a PROXY header ([`TrustedProxy`], `--trusted-proxy`),
//! and the header itself ([`header`], sans-IO).
//!
//! Only a trusted peer's header is believed: anyone else who could send one
//! could name any address as theirs and so dodge the per-address limits
//! and the failed-`AUTH` throttle, or put them on somebody else. From any
//! other peer a PROXY header is just bytes the protocol refuses.

pub mod header;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use header::{ProxyError, ProxySource, parse};

/// A load balancer's address, or a network of them: `IP` or `IP/bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    bits: u8,
}

impl TrustedProxy {
    /// Whether `addr` is this proxy, or in its network. An IPv4 address
    /// that reaches an IPv6 listener as `::ffff:a.b.c.d` counts as IPv4.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                net.to_bits() & mask == addr.to_bits() & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                net.to_bits() & mask == addr.to_bits() & mask
            }
            _ => false,
        }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<TrustedProxy, String> {
        let (ip, bits) = match text.split_once('/') {
            Some((ip, bits)) => (ip, Some(bits)),
            None => (text, None),
        };
        let network = ip
            .parse::<IpAddr>()
            .map_err(|_| format!("{text:?}: not an IP address or IP/bits"))?
            .to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|&bits| bits <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(TrustedProxy { network, bits })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(text: &str) -> TrustedProxy {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_trusts_only_itself() {
        let proxy = trusted("10.0.0.5");
        assert!(proxy.contains(ip("10.0.0.5")));
        assert!(proxy.contains(ip("::ffff:10.0.0.5")));
        assert!(!proxy.contains(ip("10.0.0.6")));
        assert!(!proxy.contains(ip("::a00:5")));
    }

    #[test]
    fn a_network_trusts_its_addresses() {
        let net = trusted("10.1.0.0/16");
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        let v6 = trusted("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(trusted("0.0.0.0/0").contains(ip("192.0.2.1")));
        assert!(trusted("::/0").contains(ip("2001:db8::1")));
        assert!(trusted("::ffff:127.0.0.1").contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_values_are_refused() {
        for text in [
            "",
            "10.0.0",
            "10.0.0.1/33",
            "::1/129",
            "10.0.0.1/",
            "a/8",
            "1/x",
        ] {
            assert!(text.parse::<TrustedProxy>().is_err(), "{text}");
        }
        assert_eq!(trusted("10.0.0.1/8").to_string(), "10.0.0.1/8");
    }
}
