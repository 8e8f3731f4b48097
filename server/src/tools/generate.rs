//! `sightline generate`: a realistic synthetic history for one project, written through the
//! worker's own insert statement (so every rollup is filled exactly as in production).
//!
//! Shape: visitors drawn with a heavy head (a few come back often: retention and active-user
//! figures are meaningful), a third of them identified; sessions of 1-8 page views over a site
//! map with Zipf-like popularity, scrolls in the tracker's depth/prev encoding, clicks on a set
//! of elements, a signup funnel from /pricing, communities for identified users, and the
//! audience of [`crate::tools::mix`]: a device (user agent, 3% bots) and a country (client
//! address) per visitor, a referrer and campaign tags per session on its landing page.
//! Deterministic for a given `--seed`; the audience is hashed from the visitor and session, not
//! drawn from the seeded stream, so ids and counts are what they were without it. Each visit's
//! audience attributes (`activities.audience`) are made by the worker's own enrichment
//! (`worker::audience`, with the GeoIP database of `SIGHTLINE_GEOIP_DB`), so breakdowns over
//! generated data are what live traffic would give.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration as Span, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use entity::activity::Model as Row;
use sea_orm::ConnectionTrait;
use sightline::enrich::Enricher;
use sightline::storage::events;
use sightline::storage::{sql, Db};
use sightline::worker::audience;

use crate::tools::mix;

#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub project_id: Uuid,
    pub events: u64,
    pub days: u32,
    pub users: u32,
    pub seed: u64,
    /// Rows per insert statement.
    pub batch: usize,
    /// Concurrent writers.
    pub writers: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct GenerateReport {
    pub events: u64,
    pub seconds: f64,
    pub events_per_s: f64,
}

const ELEMENTS: &[&str] = &[
    "main > button.cta",
    "nav > a.pricing",
    "nav > a.docs",
    "nav > a.blog",
    "header > a.logo",
    "form#signup > button",
    "footer > a.twitter",
    "main > a.read-more",
    "aside > button.subscribe",
    "main > div.card > a",
    "div.modal > button.close",
    "main > button.play",
];
/// Document widths of generated clicks (CSS pixels): a phone, a tablet, a laptop, a desktop.
const WIDTHS: &[u32] = &[390, 820, 1366, 1920];
/// The first version's referrers: still drawn (and ignored) so the seeded stream, and with it
/// every id and count, is unchanged; sessions take theirs from [`mix::arrival_of`].
const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://news.ycombinator.com/item",
    "https://twitter.com/x",
    "https://www.reddit.com/r/analytics",
    "https://duckduckgo.com/",
    "https://github.com/",
];

/// Viewport widths and browser languages, one of each per visitor.
const VIEWPORTS: [u32; 5] = [390, 768, 1280, 1440, 1920];
const LANGUAGES: [&str; 6] = ["en-US", "en-GB", "fr-FR", "de-DE", "ja", "pt-BR"];

fn path_name(i: u32) -> String {
    match i {
        0 => "/".into(),
        1 => "/pricing".into(),
        2 => "/docs".into(),
        3 => "/blog".into(),
        4 => "/signup".into(),
        n if n % 3 == 0 => format!("/docs/page-{n}"),
        n => format!("/blog/post-{n}"),
    }
}

/// Zipf-like draw in `0..n`: small indices much more likely.
fn skewed(rng: &mut SmallRng, n: u32) -> u32 {
    let r: f64 = rng.gen();
    ((n as f64) * r.powf(3.0)) as u32 % n.max(1)
}

struct Session<'a> {
    rng: &'a mut SmallRng,
    project: Uuid,
    /// The visitor's device and address ([`mix`]).
    user_agent: &'static str,
    ip: String,
    /// The session's arrival ([`mix`]): referrer and query string of its landing page.
    arrival: mix::Arrival,
    /// Whether the events pushed now belong to the landing page.
    landing: bool,
    /// The visit's audience attributes (its landing page view's) and whether it is a bot's.
    audience: Value,
    bot: bool,
    user: Option<String>,
    anon: String,
    session: String,
    community: Option<String>,
    t: DateTime<Utc>,
    rows: &'a mut Vec<Row>,
}

impl Session<'_> {
    fn push(
        &mut self,
        kind: &str,
        path: &str,
        metadata: Value,
        referrer: Option<&str>,
        entity: Option<(&str, &str)>,
    ) {
        let query = if self.landing { self.arrival.query } else { "" };
        let url = format!("https://demo.sightline.dev{path}{query}");
        let mut metadata = metadata;
        if let Value::Object(m) = &mut metadata {
            m.insert("url".into(), Value::String(url));
        }
        self.rows.push(Row {
            // v7 from the event's own time, as the tracker makes them (tracker-wasm/src/ids.rs).
            event_id: uuid::Builder::from_unix_timestamp_millis(
                self.t.timestamp_millis().max(0) as u64,
                &self.rng.gen(),
            )
            .into_uuid(),
            project_id: self.project,
            event_type: kind.to_string(),
            user_id: self.user.clone(),
            anonymous_id: Some(self.anon.clone()),
            session_id: Some(self.session.clone()),
            community_id: self.community.clone(),
            entity_type: entity.map(|e| e.0.to_string()),
            entity_id: entity.map(|e| e.1.to_string()),
            path: Some(path.to_string()),
            referrer: referrer.map(str::to_string),
            metadata,
            ip_address: Some(self.ip.clone()),
            user_agent: Some(self.user_agent.to_string()),
            // As the worker tags them.
            is_bot: self.bot,
            occurred_at: self.t.fixed_offset(),
            received_at: (self.t + Span::milliseconds(150)).fixed_offset(),
            audience: self.audience.clone(),
        });
        self.t += Span::seconds(self.rng.gen_range(3..50));
    }

    fn run(&mut self, paths: u32) {
        let views = 1 + skewed(self.rng, 8);
        for v in 0..views {
            let p = if v == 0 && self.rng.gen_bool(0.5) {
                0
            } else {
                skewed(self.rng, paths)
            };
            let path = path_name(p);
            self.landing = v == 0;
            // The arrival's referrer; the old pick is still drawn so the seeded stream (ids,
            // counts) stays as it was.
            let _drawn = (v == 0 && self.rng.gen_bool(0.6))
                .then(|| REFERRERS[self.rng.gen_range(0..REFERRERS.len())]);
            let referrer = if v == 0 { self.arrival.referrer } else { None };
            self.push(
                "page.view",
                &path,
                json!({"title": format!("Page {p}")}),
                referrer,
                None,
            );
            let mut prev = 0;
            for depth in [25, 50, 75, 100] {
                if !self.rng.gen_bool(0.6) {
                    break;
                }
                self.push(
                    "page.scroll",
                    &path,
                    json!({"depth": depth, "prev": prev}),
                    None,
                    None,
                );
                prev = depth;
            }
            for _ in 0..self.rng.gen_range(0..3) {
                let el = ELEMENTS[skewed(self.rng, ELEMENTS.len() as u32) as usize];
                // Positions as the tracker records them (heatmaps): in 1/10000 of the
                // document, clicks denser near the top, on one of four common widths.
                let width = WIDTHS[self.rng.gen_range(0..WIDTHS.len())];
                let y = (10_000.0 * self.rng.gen::<f64>().powi(2)) as u32;
                let click = json!({
                    "selector": el, "tag": "button",
                    "x": self.rng.gen_range(0..=10_000), "y": y,
                    "doc_w": width, "doc_h": self.rng.gen_range(1_500..8_000), "vw": width,
                });
                self.push("element.click", &path, click, None, Some(("button", el)));
            }
            if p == 1 && self.rng.gen_bool(0.3) {
                self.push("signup.started", "/signup", json!({}), None, None);
                if self.rng.gen_bool(0.5) {
                    self.push(
                        "signup.completed",
                        "/signup",
                        json!({"plan": "pro"}),
                        None,
                        None,
                    );
                }
            }
        }
    }
}

/// Generates one chunk of sessions (about `target` events) from its own seeded stream.
/// Chunk `index` of `chunks` covers its own slice of the time range, as live traffic would: one
/// insert statement then touches few rollup rows.
fn chunk(
    cfg: &GenerateConfig,
    enricher: &Enricher,
    index: u64,
    chunks: u64,
    target: usize,
    now: DateTime<Utc>,
) -> Vec<Row> {
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut rows = Vec::with_capacity(target + 64);
    let span_secs = (cfg.days.max(1) as i64) * 86_400;
    while rows.len() < target {
        let u = skewed(&mut rng, cfg.users.max(1));
        let identified = u % 3 == 0;
        let slice = (span_secs / chunks.max(1) as i64).max(1);
        let start = now - Span::seconds(span_secs)
            + Span::seconds(slice * index as i64 + rng.gen_range(0..slice));
        let session_no: u32 = rng.gen();
        let visitor = cfg.seed ^ u64::from(u);
        let (user_agent, ip) = (mix::user_agent(visitor), mix::ip(visitor));
        let arrival = mix::arrival_of(visitor.rotate_left(32) ^ u64::from(session_no));
        let landing = format!("https://demo.sightline.dev/{}", arrival.query);
        let (attributes, bot_device) = audience::attributes(
            enricher,
            &audience::Inputs {
                user_agent: Some(user_agent),
                ip: Some(ip),
                referrer: arrival.referrer,
                url: Some(&landing),
                screen_width: Some(VIEWPORTS[(mix::hash(visitor) % 5) as usize]),
                language: Some(LANGUAGES[(mix::hash(visitor ^ 7) % 6) as usize]),
            },
        );
        let mut s = Session {
            project: cfg.project_id,
            user_agent,
            ip: ip.to_string(),
            arrival,
            landing: true,
            audience: attributes,
            bot: bot_device || sightline::event::is_bot_user_agent(user_agent),
            user: identified.then(|| format!("user-{u}")),
            anon: format!("anon-{u}"),
            session: format!("s-{u}-{session_no:08x}"),
            community: identified.then(|| format!("team-{}", u % 500)),
            t: start,
            rows: &mut rows,
            rng: &mut rng,
        };
        s.run(400);
    }
    rows
}

/// Writes `cfg.events` events (slightly more: whole sessions) and returns the figures.
pub async fn run(
    db: &Db,
    cfg: GenerateConfig,
    enricher: Enricher,
) -> anyhow::Result<GenerateReport> {
    let now = Utc::now();
    // Every day of the range gets its partition first, so nothing lands in DEFAULT.
    let days = (cfg.days as i32 + 1).into();
    db.primary
        .execute(sql(
            "SELECT sightline_ensure_day_partition((now() AT TIME ZONE 'UTC')::date - d) \
             FROM generate_series(0, $1::int) AS d",
            [days],
        ))
        .await?;
    let bar = sightline::telemetry::progress_bar(
        Some(cfg.events),
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events ({per_sec}, eta {eta})",
    );
    let written = Arc::new(AtomicU64::new(0));
    let reported = Arc::new(AtomicU64::new(0));
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let next = Arc::new(AtomicU64::new(0));
    let chunks = cfg.events.div_ceil(cfg.batch as u64);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..cfg.writers.max(1) {
        let shard = i16::try_from(writer).unwrap_or(i16::MAX);
        let (db, cfg, bar, written, next, reported) = (
            db.clone(),
            cfg.clone(),
            bar.clone(),
            written.clone(),
            next.clone(),
            reported.clone(),
        );
        let enricher = enricher.clone();
        tasks.spawn(events::ROLLUP_SHARD.scope(shard, async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks {
                    return Ok::<(), anyhow::Error>(());
                }
                let c = cfg.clone();
                let rows = tokio::task::spawn_blocking({
                    let e = enricher.clone();
                    move || chunk(&c, &e, i, chunks, c.batch, now)
                })
                .await?;
                let n = events::insert(&db, &rows).await?.len() as u64;
                let total = written.fetch_add(n, Ordering::Relaxed) + n;
                bar.inc(n);
                // Without a terminal the bar is hidden: report every 10% as a plain line.
                if !tty {
                    let decile = total * 10 / cfg.events.max(1);
                    if decile > reported.fetch_max(decile, Ordering::Relaxed) {
                        eprintln!(
                            "generated {total} of {} events ({}%)",
                            cfg.events,
                            (decile * 10).min(100)
                        );
                    }
                }
            }
        }));
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    bar.finish();
    let seconds = started.elapsed().as_secs_f64().max(f64::EPSILON);
    let events = written.load(Ordering::Relaxed);
    db.primary.execute_unprepared("ANALYZE").await?;
    Ok(GenerateReport {
        events,
        seconds,
        events_per_s: events as f64 / seconds,
    })
}
