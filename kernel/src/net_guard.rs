//! Which addresses an outgoing request made on someone else's behalf (a hosted script's
//! `fetch`) may reach: public unicast only. Everything a server can reach but the internet
//! cannot — loopback, private and unique-local networks, link-local (with the cloud
//! metadata address 169.254.169.254), carrier-grade NAT, multicast, broadcast, unspecified,
//! documentation and benchmarking ranges, and the IPv6 forms that embed such an IPv4
//! address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) — is refused. The HTTP client checks
//! each resolved address and connects to the checked one, so a DNS answer cannot change
//! between the check and the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, as a phrase (`None`: public, allowed).
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (0.0.0.0/8) address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local address (cloud metadata lives there)",
        (100, 64..=127, _) => "a carrier-grade NAT address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Forms that carry an IPv4 address: judged by it.
    let embedded = match s {
        [0, 0, 0, 0, 0, 0xffff, h, l] | [0x64, 0xff9b, 0, 0, 0, 0, h, l] => Some((h, l)),
        [0x2002, h, l, ..] => Some((h, l)),
        // IPv4-compatible (deprecated): never a real destination.
        [0, 0, 0, 0, 0, 0, h, l] if !(h == 0 && l <= 1) => {
            return Some("an IPv4-compatible address")
        }
        _ => None,
    };
    if let Some((h, l)) = embedded {
        let v4 = Ipv4Addr::new((h >> 8) as u8, h as u8, (l >> 8) as u8, l as u8);
        return refusal_v4(v4);
    }
    Some(match s[0] {
        0 if ip.is_unspecified() => "the unspecified address",
        0 if ip.is_loopback() => "a loopback address",
        0 => "a reserved address",
        0xfc00..=0xfdff => "a unique-local (private) address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(s: &str) -> bool {
        refusal(s.parse().unwrap()).is_some()
    }

    #[test]
    fn every_class_is_refused_and_the_internet_is_not() {
        for bad in [
            "0.0.0.0",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(refused(bad), "{bad} must be refused");
        }
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!refused(good), "{good} must be allowed");
        }
    }

    proptest! {
        #[test]
        fn mapped_v6_is_judged_as_its_v4(a: u8, b: u8, c: u8, d: u8) {
            let v4 = Ipv4Addr::new(a, b, c, d);
            prop_assert_eq!(
                refusal(IpAddr::V6(v4.to_ipv6_mapped())).is_some(),
                refusal(IpAddr::V4(v4)).is_some()
            );
        }

        #[test]
        fn std_private_classes_are_always_refused(bits: u32) {
            let ip = Ipv4Addr::from(bits);
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_multicast()
                || ip.is_broadcast() || ip.is_unspecified() || ip.is_documentation()
            {
                prop_assert!(refusal(IpAddr::V4(ip)).is_some());
            }
        }
    }
}
