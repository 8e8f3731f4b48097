//! Audience dimensions derived from what an event carries: the user agent (browser, OS, device
//! kind, bots), the client IP (country, region, city), the referrer and the page's UTM tags
//! (source, channel, campaign), the viewport width (screen class) and the browser language.
//!
//! Every function here is total: input it cannot read gives [`UNKNOWN`] (or `None`), never an
//! error, so enrichment can never refuse or lose an accepted event. Only [`Enricher::new`] can
//! fail, at startup, when a configured GeoIP database cannot be opened.
//!
//! The lists behind it are maintained upstream and vendored under `server/data/` by its
//! `update` script (uap-core's user agent patterns; a Snowplow-format referrer list); they are
//! embedded in the binary and parsed once per process.
//!
//! Architecture invariant: this module knows nothing of HTTP, the queue or storage; callers
//! hand it strings and addresses and store what it returns.

mod device;
mod geo;
mod language;
mod source;

use std::path::Path;
use std::sync::Arc;

pub use device::{screen_class, Device, DeviceKind};
pub use geo::Geo;
pub use language::language;
pub use source::{normalise_host, Channel, Source};

/// The value of a dimension that could not be determined.
pub const UNKNOWN: &str = "unknown";
/// The source of a visit with neither a referrer from another site nor campaign tags.
pub const DIRECT: &str = "Direct / None";

/// Why an [`Enricher`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot open the GeoIP database {path}: {reason}")]
    GeoIpDb { path: String, reason: String },
    #[error("the vendored user agent patterns do not compile: {0}")]
    UaPatterns(String),
}

/// Turns raw event inputs into audience dimensions. Built once at startup and cloned cheaply
/// (an `Arc` inside); safe to share between threads.
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

struct Inner {
    devices: device::DeviceParser,
    geo: Option<geo::GeoDb>,
}

impl Enricher {
    /// Loads the user agent patterns and, when given, the MMDB file at `geoip_db` (any MaxMind
    /// DB with a country code: MaxMind's GeoLite2/GeoIP2 layout or ip-location-db's). Without a
    /// database every country is [`UNKNOWN`].
    pub fn new(geoip_db: Option<&Path>) -> Result<Self, EnrichError> {
        let geo = geoip_db.map(geo::GeoDb::open).transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                devices: device::DeviceParser::new()?,
                geo,
            }),
        })
    }

    /// Browser, OS and device kind of a user agent; repeated user agents come from a cache.
    pub fn device(&self, user_agent: Option<&str>) -> Device {
        self.inner.devices.parse(user_agent)
    }

    /// Country (and region and city where the database has them) of a client address.
    pub fn geo(&self, ip: Option<std::net::IpAddr>) -> Geo {
        match (&self.inner.geo, ip) {
            (Some(db), Some(ip)) => db.lookup(ip),
            _ => Geo::unknown(),
        }
    }

    /// Where a visit came from: the referrer (unless it is one of the site's own hosts: the
    /// page's host or `own_hosts`, the project's allowed origins) and the page's UTM tags.
    pub fn source(
        &self,
        referrer: Option<&str>,
        page_url: Option<&str>,
        own_hosts: &[String],
    ) -> Source {
        source::classify(referrer, page_url, own_hosts)
    }

    /// Whether a GeoIP database is loaded.
    pub fn has_geoip(&self) -> bool {
        self.inner.geo.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worker's lanes and the ingest handlers share one enricher.
    #[test]
    fn an_enricher_is_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Enricher>();
        let e = Enricher::new(None).expect("enricher");
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
        let here = e.device(Some(ua));
        let there = std::thread::spawn({
            let e = e.clone();
            move || e.device(Some(ua))
        })
        .join()
        .expect("thread");
        assert_eq!(here, there);
        assert_eq!(here.browser, "Firefox");
    }
}
