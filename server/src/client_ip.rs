//! The client's IP address behind reverse proxies.
//!
//! `X-Forwarded-For` is a list every hop appends to: the client writes its left end (so it can
//! write anything there), and each proxy appends the address it received the request from. Only
//! the entries our own proxies appended are facts. So the client IP is the rightmost address
//! that is not one of our proxies ([`TrustedProxies`], `SIGHTLINE_TRUSTED_PROXIES`), and the
//! header is read at all only when the peer of the TCP connection is one of them: a request that
//! reaches us directly cannot pick its own address.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks of our own reverse proxies (empty: no proxy, the peer is the client).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Every address: what the older `SIGHTLINE_TRUST_PROXY=true` meant (the leftmost entry of
    /// `X-Forwarded-For` wins, which the client chooses).
    pub fn everyone() -> Self {
        Self(Arc::from(
            [IpNet::from_str("0.0.0.0/0"), IpNet::from_str("::/0")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        ))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request whose TCP peer is `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        // Every X-Forwarded-For header, in order, is one list.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // Garbage in the list was written by whoever is left of the last proxy we trust:
            // stop at the last address we can vouch for.
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of CIDRs (`10.0.0.0/8`) or single addresses.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match IpNet::from_str(part) {
                Ok(net) => net.trunc(),
                Err(_) => IpAddr::from_str(part)
                    .map(IpNet::from)
                    .map_err(|_| format!("{part:?} is not a CIDR (10.0.0.0/8) nor an address"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets.into()))
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) is
/// that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn parses_cidrs_and_addresses() {
        let t: TrustedProxies = "10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1"
            .parse()
            .expect("valid");
        assert!(t.contains(ip("10.255.0.1")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(t.contains(ip("::1")));
        assert!(t.contains(ip("::ffff:10.1.2.3")), "mapped IPv4 is IPv4");
        assert!("".parse::<TrustedProxies>().expect("empty").is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/8,nope"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let t: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        let h = xff(&["6.6.6.6"]);
        assert_eq!(t.client_ip(ip("203.0.113.5"), &h), ip("203.0.113.5"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let t: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        // The client wrote 6.6.6.6 itself; our proxies saw it come from 198.51.100.7.
        let h = xff(&["6.6.6.6, 198.51.100.7, 10.0.0.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        // Several headers are one list.
        let h = xff(&["6.6.6.6", "198.51.100.7:4711", "10.0.0.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        // No header: the proxy itself is all we know.
        assert_eq!(
            t.client_ip(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        // Garbage left of a trusted hop: the last address we can vouch for.
        let h = xff(&["198.51.100.7, bogus, 10.0.0.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("10.0.0.3"));
        // Every hop trusted: the leftmost.
        let h = xff(&["10.9.9.9, 10.0.0.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("10.9.9.9"));
        let h = xff(&["[2001:db8::5]:443, 10.0.0.3"]);
        assert_eq!(t.client_ip(ip("10.0.0.2"), &h), ip("2001:db8::5"));
    }

    #[test]
    fn everyone_keeps_the_old_leftmost_rule() {
        let h = xff(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(
            TrustedProxies::everyone().client_ip(ip("203.0.113.5"), &h),
            ip("6.6.6.6")
        );
    }
}
