//! Country, region and city of a client address, from an MMDB file read with `maxminddb`.
//!
//! Two record layouts are understood, so any freely licensed or commercial database works:
//! - MaxMind's GeoLite2/GeoIP2 (Country or City): `country.iso_code` (else
//!   `registered_country.iso_code`), `subdivisions[0].names.en`, `city.names.en`;
//! - ip-location-db's (`country_code`, and `state1`, `city` in its city databases).
//!
//! A miss, a private address or a record without a valid code is [`UNKNOWN`]; a lookup never
//! fails.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{PathElement, Reader};

use super::{EnrichError, UNKNOWN};

/// Where a client address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2, upper case ("DE"), or [`UNKNOWN`].
    pub country: String,
    /// The first-level subdivision's English name, where the database has it.
    pub region: Option<String>,
    /// The city's English name, where the database has it.
    pub city: Option<String>,
}

impl Geo {
    pub fn unknown() -> Self {
        Self {
            country: UNKNOWN.to_string(),
            region: None,
            city: None,
        }
    }
}

pub(super) struct GeoDb {
    reader: Reader<Vec<u8>>,
}

use PathElement::{Index, Key};

const COUNTRY_PATHS: &[&[PathElement<'static>]] = &[
    &[Key("country_code")],
    &[Key("country"), Key("iso_code")],
    &[Key("registered_country"), Key("iso_code")],
];
const REGION_PATHS: &[&[PathElement<'static>]] = &[
    &[Key("subdivisions"), Index(0), Key("names"), Key("en")],
    &[Key("state1")],
];
const CITY_PATHS: &[&[PathElement<'static>]] =
    &[&[Key("city"), Key("names"), Key("en")], &[Key("city")]];

impl GeoDb {
    pub(super) fn open(path: &Path) -> Result<Self, EnrichError> {
        let reader = Reader::open_readfile(path).map_err(|e| EnrichError::GeoIpDb {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self { reader })
    }

    pub(super) fn lookup(&self, ip: IpAddr) -> Geo {
        let ip = ip.to_canonical();
        // Databases do map some private ranges (ip-location-db had 192.168.1.0/24 in AU), but
        // an address that is not routed on the internet has no place.
        if !is_public(ip) {
            return Geo::unknown();
        }
        let Ok(found) = self.reader.lookup(ip) else {
            return Geo::unknown();
        };
        if !found.has_data() {
            return Geo::unknown();
        }
        // The first path that holds a string wins; a path that holds something else (ip-location-
        // db's `city` is a string, MaxMind's a map) is a type error here, skipped.
        let first = |paths: &[&[PathElement<'_>]]| {
            paths.iter().find_map(|p| {
                found
                    .decode_path::<&str>(p)
                    .ok()
                    .flatten()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            })
        };
        let country = first(COUNTRY_PATHS)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase);
        let Some(country) = country else {
            return Geo::unknown();
        };
        Geo {
            country,
            region: first(REGION_PATHS).map(str::to_string),
            city: first(CITY_PATHS).map(str::to_string),
        }
    }
}

/// Whether `ip` can be routed on the internet: not private, loopback, link-local, shared
/// (carrier NAT), documentation, multicast, unspecified or otherwise reserved.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use maxminddb_writer::paths::IpAddrWithMask;
    use serde::Serialize;

    use super::*;
    use crate::enrich::Enricher;

    #[derive(Serialize)]
    struct Names {
        en: &'static str,
    }
    #[derive(Serialize)]
    struct Place {
        #[serde(skip_serializing_if = "Option::is_none")]
        iso_code: Option<&'static str>,
        names: Names,
    }
    /// MaxMind's GeoLite2-City record, the fields read here.
    #[derive(Serialize, Default)]
    struct CityRecord {
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<Place>,
        #[serde(skip_serializing_if = "Option::is_none")]
        registered_country: Option<Place>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        subdivisions: Vec<Place>,
        #[serde(skip_serializing_if = "Option::is_none")]
        city: Option<Place>,
    }

    fn place(iso_code: Option<&'static str>, en: &'static str) -> Option<Place> {
        Some(Place {
            iso_code,
            names: Names { en },
        })
    }

    /// Writes an MMDB with `records` (network, value) to a temporary file.
    fn write_db<T: Serialize>(name: &str, records: Vec<(&str, T)>) -> PathBuf {
        let mut db = maxminddb_writer::Database::default();
        db.metadata.binary_format_major_version = 2;
        db.metadata.database_type = name.to_string();
        for (net, value) in records {
            let data = db.insert_value(value).expect("value");
            db.insert_node(net.parse::<IpAddrWithMask>().expect("network"), data);
        }
        let path = std::env::temp_dir().join(format!("{name}-{}.mmdb", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&path).expect("create");
        db.write_to(file).expect("write");
        path
    }

    fn geo(path: &Path, ip: &str) -> Geo {
        let db = GeoDb::open(path).expect("open");
        db.lookup(ip.parse().expect("ip"))
    }

    #[test]
    fn maxmind_city_layout_gives_country_region_and_city() {
        let path = write_db(
            "GeoLite2-City",
            vec![
                (
                    "81.2.69.0/24",
                    CityRecord {
                        country: place(Some("GB"), "United Kingdom"),
                        subdivisions: vec![Place {
                            iso_code: Some("ENG"),
                            names: Names { en: "England" },
                        }],
                        city: place(None, "London"),
                        ..Default::default()
                    },
                ),
                (
                    "2.125.160.0/24",
                    CityRecord {
                        registered_country: place(Some("gb"), "United Kingdom"),
                        ..Default::default()
                    },
                ),
            ],
        );
        assert_eq!(
            geo(&path, "81.2.69.160"),
            Geo {
                country: "GB".into(),
                region: Some("England".into()),
                city: Some("London".into()),
            }
        );
        // Only the registered country: still a country, upper-cased.
        let g = geo(&path, "2.125.160.216");
        assert_eq!((g.country.as_str(), g.region, g.city), ("GB", None, None));
        assert_eq!(geo(&path, "10.1.2.3"), Geo::unknown());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn ip_location_db_layout_gives_country_and_optional_city() {
        let path = write_db(
            "ip-location-db",
            vec![
                ("5.0.0.0/8", BTreeMap::from([("country_code", "fr")])),
                (
                    "6.0.0.0/8",
                    BTreeMap::from([
                        ("country_code", "DE"),
                        ("state1", "Bavaria"),
                        ("city", "Munich"),
                    ]),
                ),
                ("7.0.0.0/8", BTreeMap::from([("country_code", "XYZ")])),
                ("9.0.0.0/8", BTreeMap::from([("country_code", "")])),
                // Databases do map private ranges; they stay unknown.
                ("192.168.0.0/16", BTreeMap::from([("country_code", "AU")])),
            ],
        );
        assert_eq!(geo(&path, "5.1.2.3").country, "FR");
        assert_eq!(
            geo(&path, "6.1.2.3"),
            Geo {
                country: "DE".into(),
                region: Some("Bavaria".into()),
                city: Some("Munich".into()),
            }
        );
        // Malformed codes and misses are unknown, never errors.
        assert_eq!(geo(&path, "7.1.2.3"), Geo::unknown());
        assert_eq!(geo(&path, "9.1.2.3"), Geo::unknown());
        assert_eq!(geo(&path, "8.8.8.8"), Geo::unknown());
        assert_eq!(geo(&path, "192.168.1.1"), Geo::unknown());
        // IPv4-mapped IPv6 is read as IPv4; other IPv6 in an IPv4-only database is a lookup
        // error inside: unknown too.
        assert_eq!(geo(&path, "::ffff:5.1.2.3").country, "FR");
        assert_eq!(geo(&path, "2606:4700::1111"), Geo::unknown());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn without_a_database_every_country_is_unknown() {
        let e = Enricher::new(None).expect("enricher");
        assert!(!e.has_geoip());
        assert_eq!(e.geo(Some("8.8.8.8".parse().expect("ip"))), Geo::unknown());
        assert_eq!(e.geo(None), Geo::unknown());
    }

    #[test]
    fn an_unreadable_database_is_a_startup_error() {
        let missing = std::env::temp_dir().join("no-such-geoip.mmdb");
        let err = Enricher::new(Some(&missing)).err().expect("error");
        assert!(matches!(err, EnrichError::GeoIpDb { .. }), "{err}");
        assert!(err.to_string().contains("no-such-geoip.mmdb"), "{err}");
        let not_mmdb = std::env::temp_dir().join(format!("{}.mmdb", uuid::Uuid::new_v4()));
        std::fs::write(&not_mmdb, b"not a database").expect("write");
        assert!(Enricher::new(Some(&not_mmdb)).is_err());
        let _ = std::fs::remove_file(not_mmdb);
    }

    /// The installed database: `SIGHTLINE_GEOIP_DB` (scripts/test sets it), else the place
    /// `install_geoip` in scripts/lib.sh puts it.
    fn installed_db() -> Option<PathBuf> {
        let from_env = std::env::var_os("SIGHTLINE_GEOIP_DB")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        let default = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.data/geoip/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/\
             geo-whois-asn-country.mmdb"
        ));
        from_env.or_else(|| default.exists().then_some(default))
    }

    /// The country code of a record as the raw reader decodes it, in either layout: the truth
    /// the enricher is compared with.
    fn raw_country(reader: &Reader<Vec<u8>>, ip: IpAddr) -> Option<String> {
        let record: serde_json::Value = reader.lookup(ip).ok()?.decode().ok()??;
        [
            "/country_code",
            "/country/iso_code",
            "/registered_country/iso_code",
        ]
        .iter()
        .find_map(|p| record.pointer(p)?.as_str().map(str::to_ascii_uppercase))
    }

    #[test]
    fn installed_database_agrees_with_its_raw_records() {
        let Some(path) = installed_db() else {
            eprintln!("no GeoIP database installed (scripts/lib.sh install_geoip): skipped");
            return;
        };
        let enricher = Enricher::new(Some(&path)).expect("open the installed database");
        let raw = Reader::open_readfile(&path).expect("raw reader");
        // Addresses whose country is public knowledge, checked once against this database's
        // records: Google DNS, Deutsche Telekom, Orange, the WIDE project's root server, APNIC's
        // and Cloudflare's resolver, Google DNS over IPv6.
        let known = [
            ("8.8.8.8", "US"),
            ("194.25.2.129", "DE"),
            ("193.252.19.3", "FR"),
            ("202.12.27.33", "JP"),
            ("2001:4860:4860::8888", "US"),
        ];
        for (ip, country) in known {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(
                raw_country(&raw, ip).as_deref(),
                Some(country),
                "raw record of {ip}"
            );
            assert_eq!(enricher.geo(Some(ip)).country, country, "{ip}");
        }
        // A spread of addresses: the enricher says what the raw record says, or unknown when
        // there is none (private and reserved ranges).
        let mut seen = std::collections::HashSet::new();
        // (The first octets 10, 100 and 127 are skipped: private, shared and loopback ranges.)
        for a in (1u8..=223)
            .step_by(3)
            .filter(|a| ![10, 100, 127].contains(a))
        {
            for b in [0u8, 77, 154, 231] {
                let ip = IpAddr::from([a, b, 19, 7]);
                let want = raw_country(&raw, ip).unwrap_or_else(|| UNKNOWN.to_string());
                let got = enricher.geo(Some(ip)).country;
                assert_eq!(got, want, "{ip}");
                seen.insert(got);
            }
        }
        assert!(seen.len() > 10, "only {} countries: {seen:?}", seen.len());
        // Not on the internet: unknown, whatever the database maps them to.
        for private in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            let ip: IpAddr = private.parse().expect("ip");
            assert_eq!(enricher.geo(Some(ip)).country, UNKNOWN, "{ip}");
        }
    }
}
