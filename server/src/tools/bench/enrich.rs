//! `sightline bench-enrich`: what audience enrichment ([`sightline::enrich`]) costs per event on
//! one thread, over the realistic mix of [`crate::tools::mix`] (200 user agents, visitors across
//! 14 countries, referrers and campaign tags).
//!
//! Method: the events are built first (every user agent of the mix at least once, the rest
//! weighted as traffic is). Startup is timed apart (compiling uap-core's patterns, opening the
//! MMDB). Then one pass with an empty user agent cache (`cold`: every distinct user agent parsed
//! once, as after a restart), then `--rounds` passes with the cache filled (`warm`: the steady
//! state), each event enriched in full: device, geo and source. The parts are timed alone on
//! warm passes too. Figures are nanoseconds per event: the median over the rounds.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use sightline::enrich::Enricher;

use crate::tools::mix;

struct Event {
    user_agent: &'static str,
    ip: std::net::IpAddr,
    referrer: Option<&'static str>,
    url: String,
}

/// `events` events of `visitors` visitors, each user agent of the mix at least once.
fn events(events: usize, visitors: u64) -> Vec<Event> {
    let uas: Vec<&'static str> = mix::user_agents().collect();
    let spread = (events / uas.len().max(1)).max(1);
    (0..events)
        .map(|i| {
            let visitor = mix::hash(i as u64) % visitors.max(1);
            let session = visitor * 8 + (mix::hash(i as u64 ^ 0x5e55) % 8);
            let arrival = mix::arrival_of(session);
            let user_agent = match (i % spread == 0).then(|| uas.get(i / spread)).flatten() {
                Some(ua) => ua,
                None => mix::user_agent(visitor),
            };
            Event {
                user_agent,
                ip: mix::ip(visitor),
                referrer: arrival.referrer,
                url: format!("https://shop.example/p/{}{}", i % 50, arrival.query),
            }
        })
        .collect()
}

fn ns_per_event(started: Instant, n: usize) -> f64 {
    started.elapsed().as_nanos() as f64 / n.max(1) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(
    n: usize,
    visitors: u64,
    rounds: usize,
    geoip_db: Option<&Path>,
) -> anyhow::Result<Value> {
    let events = events(n, visitors);
    let distinct: std::collections::HashSet<_> = events.iter().map(|e| e.user_agent).collect();
    let own = vec!["shop.example".to_string()];

    let started = Instant::now();
    let enricher = Enricher::new(geoip_db)?;
    let startup_ms = started.elapsed().as_secs_f64() * 1e3;

    let full = |e: &Event| {
        black_box(enricher.device(Some(e.user_agent)));
        black_box(enricher.geo(Some(e.ip)));
        black_box(enricher.source(e.referrer, Some(&e.url), &own));
    };
    let started = Instant::now();
    events.iter().for_each(full);
    let cold = ns_per_event(started, n);

    let rounds = rounds.max(1);
    let mut warm = Vec::with_capacity(rounds);
    let (mut device, mut geo, mut source) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        events.iter().for_each(full);
        warm.push(ns_per_event(t, n));
        let t = Instant::now();
        for e in &events {
            black_box(enricher.device(Some(e.user_agent)));
        }
        device.push(ns_per_event(t, n));
        let t = Instant::now();
        for e in &events {
            black_box(enricher.geo(Some(e.ip)));
        }
        geo.push(ns_per_event(t, n));
        let t = Instant::now();
        for e in &events {
            black_box(enricher.source(e.referrer, Some(&e.url), &own));
        }
        source.push(ns_per_event(t, n));
    }
    // The cost of one uncached parse: a fresh cache, each distinct user agent once.
    let fresh = Enricher::new(None)?;
    let t = Instant::now();
    for ua in &distinct {
        black_box(fresh.device(Some(ua)));
    }
    let parse_us = t.elapsed().as_secs_f64() * 1e6 / distinct.len().max(1) as f64;

    Ok(json!({
        "events": n,
        "distinct_user_agents": distinct.len(),
        "geoip_db": enricher.has_geoip(),
        "startup_ms": round1(startup_ms),
        "cold_ns_per_event": round1(cold),
        "warm_ns_per_event": round1(median(warm)),
        "warm_device_ns": round1(median(device)),
        "warm_geo_ns": round1(median(geo)),
        "warm_source_ns": round1(median(source)),
        "uncached_user_agent_parse_us": round1(parse_us),
        "rounds": rounds,
    }))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
