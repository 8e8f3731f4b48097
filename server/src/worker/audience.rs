//! An event's own audience attributes, as the worker stores them (`activities.audience`, see
//! migration 0009): what the enricher makes of its user agent, its client address (the full
//! address: this runs before any truncation for storage), its referrer and page URL, its
//! viewport width and language. The write statement then gives every event its visit's
//! attributes, those of the visit's first event.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::enrich::{language, screen_class, DeviceKind, Enricher, UNKNOWN};

/// What an event carries that the attributes are made of.
pub struct Inputs<'a> {
    pub user_agent: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub referrer: Option<&'a str>,
    pub url: Option<&'a str>,
    pub screen_width: Option<u32>,
    pub language: Option<&'a str>,
}

/// The attributes as a JSON object (keys absent when unknown to the event, such as UTM tags it
/// lacks), and whether the user agent is a bot's.
pub fn attributes(enricher: &Enricher, i: &Inputs<'_>) -> (Value, bool) {
    let device = enricher.device(i.user_agent);
    let geo = enricher.geo(i.ip);
    let source = enricher.source(i.referrer, i.url, &[]);
    let mut m = Map::with_capacity(20);
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.to_string(), Value::String(v));
        }
    };
    put("source", Some(source.source));
    put("channel", Some(source.channel.as_str().to_string()));
    put("referrer", source.referrer_host);
    put("utm_source", source.utm_source);
    put("utm_medium", source.utm_medium);
    put("utm_campaign", source.utm_campaign);
    put("utm_term", source.utm_term);
    put("utm_content", source.utm_content);
    // Versions are keyed with their name ("Chrome 120"), so a version row reads on its own.
    put(
        "browser_version",
        Some(versioned(&device.browser, &device.browser_version)),
    );
    put(
        "os_version",
        Some(versioned(&device.os, &device.os_version)),
    );
    put("browser", Some(device.browser));
    put("os", Some(device.os));
    put("device", Some(device.kind.as_str().to_string()));
    put("screen", screen_class(i.screen_width).map(str::to_string));
    put("language", language(i.language));
    put("country", Some(geo.country));
    put("region", geo.region);
    put("city", geo.city);
    (Value::Object(m), device.kind == DeviceKind::Bot)
}

/// "Chrome 120"; the name alone when the version is unknown.
fn versioned(name: &str, version: &str) -> String {
    if version == UNKNOWN || version.is_empty() {
        name.to_string()
    } else {
        format!("{name} {version}")
    }
}
