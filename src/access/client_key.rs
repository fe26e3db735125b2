//! The key a client address counts under, for every per-client limit (the
//! failed-authentication throttle, the connections per client): one rule,
//! so that all of them see the same client.
//!
//! IPv6 addresses count by their /64, which one host usually holds whole
//! (and can take addresses from at will); an IPv4-mapped IPv6 address
//! counts as the IPv4 address it carries.

use std::net::IpAddr;

/// The key `addr` counts under.
pub fn client_key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_bits()),
            // The /64, with the low bit set to tell it from any IPv4 key.
            None => (v6.to_bits() & !u128::from(u64::MAX)) | 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(addr: &str) -> u128 {
        client_key(addr.parse().unwrap())
    }

    #[test]
    fn a_64_is_one_client_and_a_mapped_address_is_its_ipv4() {
        assert_eq!(key("2001:db8::1"), key("2001:db8::ffff:1"));
        assert_ne!(key("2001:db8::1"), key("2001:db8:0:1::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        // No IPv6 /64 collides with an IPv4 address.
        assert_ne!(key("::"), key("0.0.0.0"));
    }
}
