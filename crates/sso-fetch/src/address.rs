//! Which addresses a metadata fetch may connect to: public unicast only.
//!
//! An admin-supplied URL must not become a way to reach the service's own network (cloud
//! metadata endpoints, databases, admin consoles). Every address a host resolves to is checked
//! here, and the connection goes to a checked address, never to a second lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The non-public range `ip` falls in, or `None` for a public address. Loopback passes only
/// when `allow_loopback` (tests).
pub(crate) fn blocked_range(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    let range = match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    };
    match range {
        Some(LOOPBACK) if allow_loopback => None,
        other => other,
    }
}

/// Whether `ip` is a loopback address (IPv4-mapped included).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

const LOOPBACK: &str = "loopback";

/// `a.b.c.d` in `net/len`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (\"this network\")"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "shared (carrier-grade NAT)"),
        ([127, 0, 0, 0], 8, LOOPBACK),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved (or broadcast)"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, name)| *name)
}

/// The IPv4 address carried in the low 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let bits = u128::from(ip);
    let prefix = |net: u128, len: u32| {
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        bits & mask == net & mask
    };
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some(LOOPBACK);
    }
    // IPv4-mapped (::ffff:a.b.c.d) is that IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
    if prefix(0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return v4_range(low_v4(ip));
    }
    if prefix(0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        let [_, hi, lo, ..] = s;
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        return v4_range(Ipv4Addr::new(a, b, c, d));
    }
    const RANGES: &[(u128, u32, &str)] = &[
        (0, 96, "IPv4-compatible (deprecated)"),
        (
            0x0064_ff9b_0001_0000_0000_0000_0000_0000,
            48,
            "local-use NAT64",
        ),
        (
            0x0100_0000_0000_0000_0000_0000_0000_0000,
            64,
            "discard-only",
        ),
        (
            0x2001_0db8_0000_0000_0000_0000_0000_0000,
            32,
            "documentation",
        ),
        (
            0x3fff_0000_0000_0000_0000_0000_0000_0000,
            20,
            "documentation",
        ),
        (
            0x2001_0000_0000_0000_0000_0000_0000_0000,
            23,
            "IETF protocol assignment",
        ),
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local"),
        (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local"),
        (
            0xfec0_0000_0000_0000_0000_0000_0000_0000,
            10,
            "site-local (deprecated)",
        ),
        (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast"),
    ];
    if let Some((_, _, name)) = RANGES.iter().find(|(net, len, _)| prefix(*net, *len)) {
        return Some(name);
    }
    // Global unicast is 2000::/3; everything else is reserved.
    if !prefix(0x2000_0000_0000_0000_0000_0000_0000_0000, 3) {
        return Some("reserved");
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn range(text: &str) -> Option<&'static str> {
        blocked_range(text.parse().unwrap(), false)
    }

    #[test]
    fn non_public_addresses_are_blocked() {
        let cases = [
            ("0.0.0.0", "unspecified (\"this network\")"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("169.254.169.254", "link-local"),
            ("192.0.0.8", "IETF protocol assignment"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "reserved (or broadcast)"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::10.0.0.1", "IPv4-compatible (deprecated)"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:a00:1::", "private"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("2001::1", "IETF protocol assignment"),
            ("100::1", "discard-only"),
            ("4000::1", "reserved"),
        ];
        for (address, expected) in cases {
            assert_eq!(range(address), Some(expected), "{address}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "100.128.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(range(address), None, "{address}");
        }
    }

    #[test]
    fn loopback_passes_only_when_allowed() {
        for address in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(is_loopback(ip), "{address}");
            assert_eq!(blocked_range(ip, true), None, "{address}");
            assert_eq!(blocked_range(ip, false), Some(LOOPBACK), "{address}");
        }
        // Allowing loopback allows nothing else.
        for address in ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0", "::"] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(!is_loopback(ip), "{address}");
            assert!(blocked_range(ip, true).is_some(), "{address}");
        }
    }
}
