//! What of a visitor's IP address is stored: a project's [`IpStorage`] (`projects.ip_storage`).
//!
//! The default keeps the network, not the host: IPv4 /24 and IPv6 /48, enough to tell a
//! country or an operator apart, too coarse to single out a household. The worker applies it as
//! the last step of building a row, after everything derived from the full address (country,
//! the cookieless visitor hash at ingest), so derivations see the full address and the
//! database never does (unless a project asks for `Full`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{Ipv4Net, Ipv6Net};

/// Prefix kept of an IPv4 address by [`IpStorage::Truncated`].
pub const IPV4_PREFIX: u8 = 24;
/// Prefix kept of an IPv6 address by [`IpStorage::Truncated`].
pub const IPV6_PREFIX: u8 = 48;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IpStorage {
    /// The network only (IPv4 /24, IPv6 /48): the default.
    #[default]
    Truncated,
    /// The whole address.
    Full,
    /// Nothing.
    None,
}

impl IpStorage {
    /// As stored in `projects.ip_storage`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpStorage::Truncated => "truncated",
            IpStorage::Full => "full",
            IpStorage::None => "none",
        }
    }

    /// What of `ip` is stored.
    pub fn apply(self, ip: IpAddr) -> Option<IpAddr> {
        match self {
            IpStorage::Full => Some(ip),
            IpStorage::None => None,
            IpStorage::Truncated => Some(truncate(ip)),
        }
    }

    /// [`IpStorage::apply`] on an address in text, as rows hold it (text that is not an
    /// address is dropped: only addresses are stored).
    pub fn apply_text(self, ip: Option<String>) -> Option<String> {
        let ip = ip?.parse::<IpAddr>().ok()?;
        self.apply(ip).map(|ip| ip.to_string())
    }
}

/// `ip`'s network: IPv4 /24, IPv6 /48 (an IPv4 address mapped into IPv6 counts as IPv4).
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(
            Ipv4Net::new(v4, IPV4_PREFIX)
                .map(|n| n.network())
                .unwrap_or(v4),
        ),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => truncate(IpAddr::V4(v4)),
            None => IpAddr::V6(
                Ipv6Net::new(v6, IPV6_PREFIX)
                    .map(|n| n.network())
                    .unwrap_or(v6),
            ),
        },
    }
}

impl FromStr for IpStorage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "truncated" => Ok(IpStorage::Truncated),
            "full" => Ok(IpStorage::Full),
            "none" => Ok(IpStorage::None),
            other => Err(format!(
                "ip storage {other:?}: expected truncated, full or none"
            )),
        }
    }
}

impl fmt::Display for IpStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn truncation_keeps_the_network() {
        assert_eq!(truncate(ip("203.0.113.77")), ip("203.0.113.0"));
        assert_eq!(truncate(ip("2001:db8:abcd:1234::5")), ip("2001:db8:abcd::"));
        assert_eq!(truncate(ip("::ffff:198.51.100.9")), ip("198.51.100.0"));
        assert_eq!(
            IpStorage::Full.apply(ip("203.0.113.77")),
            Some(ip("203.0.113.77"))
        );
        assert_eq!(IpStorage::None.apply(ip("203.0.113.77")), None);
        assert_eq!(
            IpStorage::default().apply_text(Some("203.0.113.77".into())),
            Some("203.0.113.0".into())
        );
        assert_eq!(IpStorage::Full.apply_text(Some("nope".into())), None);
    }

    #[test]
    fn parses_its_stored_names() {
        for s in [IpStorage::Truncated, IpStorage::Full, IpStorage::None] {
            assert_eq!(s.as_str().parse::<IpStorage>(), Ok(s));
        }
        assert!("partial".parse::<IpStorage>().is_err());
    }
}
