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
