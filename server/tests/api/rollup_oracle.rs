//! An independent rollup oracle. `rollup verify` recounts with the SQL definitions the write
//! statement uses (`sightline_event_dims`, `sightline_scroll_delta`, ...), so a mistake they
//! share passes it. Here every additive rollup table is compared with counts computed in Rust
//! from the generated events themselves, after out-of-order and late events, whole batches
//! replayed, an event repeated inside a batch, and a GDPR purge; the stored `event_id` set is
//! compared too. The definitions below are written from the documented meaning of each rollup
//! (docs/ARCHITECTURE.md), not from the SQL.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp, TestSql};

/// The dimensions of `rollup_hour`/`rollup_day` this oracle knows; cells of other dimensions
/// (added later) are not compared here.
const DIMS: &[&str] = &["", "path", "element", "referrer", "entity_type"];

#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    ts_ms: i64,
    anonymous_id: String,
    session_id: String,
    user_id: Option<String>,
    path: String,
    referrer: Option<&'static str>,
    selector: Option<String>,
    entity: Option<(&'static str, String)>,
    depth: Option<Value>,
    prev: Option<Value>,
}

impl Ev {
    fn json(&self) -> Value {
        let mut props = serde_json::Map::new();
        if let Some(s) = &self.selector {
            props.insert("selector".into(), json!(s));
        }
        if let Some(d) = &self.depth {
            props.insert("depth".into(), d.clone());
        }
        if let Some(p) = &self.prev {
            props.insert("prev".into(), p.clone());
        }
        let mut v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.ts_ms,
            "anonymous_id": self.anonymous_id,
            "session_id": self.session_id,
            "url": format!("https://shop.example{}?utm_source=oracle#top", self.path),
            "props": props,
        });
        if let Some(u) = &self.user_id {
            v["user_id"] = json!(u);
        }
        if let Some(r) = self.referrer {
            v["referrer"] = json!(r);
        }
        if let Some((t, id)) = &self.entity {
            v["entity_type"] = json!(t);
            v["entity_id"] = json!(id);
        }
        v
    }

    /// The (dimension, key) cells of `rollup_hour`/`rollup_day` this event adds one to.
    fn dims(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("", String::new()), ("path", self.path.clone())];
        if self.kind == "element.click" {
            let key = self
                .selector
                .clone()
                .or_else(|| self.entity.as_ref().map(|(_, id)| id.clone()));
            if let Some(k) = key {
                out.push(("element", k));
            }
        }
        if self.kind == "page.view" {
            if let Some(origin) = self.referrer.and_then(origin) {
                out.push(("referrer", origin));
            }
        }
        if let Some((t, _)) = &self.entity {
            out.push(("entity_type", t.to_string()));
        }
        out
    }
}

/// `scheme://host` of a referrer, as the referrer dimension keys it; None without one.
fn origin(r: &str) -> Option<String> {
    let (scheme, rest) = r.split_once("://")?;
    let mut chars = scheme.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    let host: String = rest.chars().take_while(|c| !"/?#".contains(*c)).collect();
    (ok && !host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// A scroll depth as a clamped whole percentage: a number (or a numeric string) rounded half
/// away from zero, clamped to 0..=100; anything else 0.
fn pct(v: Option<&Value>) -> i64 {
    let n = match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().filter(|_| {
            let t = s.trim().trim_start_matches('-');
            !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        }),
        _ => None,
    };
    n.map_or(0, |x| x.round() as i64).clamp(0, 100)
}

fn floor(ts_ms: i64, unit_s: i64) -> i64 {
    (ts_ms / 1000).div_euclid(unit_s) * unit_s
}

type Cells = BTreeMap<(i64, String), i64>;

/// Every table's expected cells from the events, in the shape `stored` reads them.
fn truth(evs: &[Ev]) -> BTreeMap<&'static str, Cells> {
    let mut t: BTreeMap<&'static str, Cells> = BTreeMap::new();
    let mut add = |table: &'static str, bucket: i64, cell: String, n: i64| {
        *t.entry(table)
            .or_default()
            .entry((bucket, cell))
            .or_default() += n;
    };
    for e in evs {
        add("rollup_minute", floor(e.ts_ms, 60), e.kind.to_string(), 1);
        for (dim, key) in e.dims() {
            let cell = format!("{} {dim}={key}", e.kind);
            add("rollup_hour", floor(e.ts_ms, 3600), cell.clone(), 1);
            add("rollup_day", floor(e.ts_ms, 86_400), cell, 1);
        }
        if e.kind == "page.scroll" {
            let (depth, prev) = (pct(e.depth.as_ref()), pct(e.prev.as_ref()));
            let measures = [
                ("views", i64::from(prev == 0)),
                ("depth_sum", (depth - prev).max(0)),
                ("reached25", i64::from(prev < 25 && depth >= 25)),
                ("reached50", i64::from(prev < 50 && depth >= 50)),
                ("reached75", i64::from(prev < 75 && depth >= 75)),
                ("reached100", i64::from(prev < 100 && depth >= 100)),
            ];
            for path in [e.path.as_str(), "*"] {
                for (m, n) in measures {
                    let cell = format!("{path}\t{m}");
                    add("rollup_scroll_hour", floor(e.ts_ms, 3600), cell.clone(), n);
                    add("rollup_scroll_day", floor(e.ts_ms, 86_400), cell, n);
                }
            }
        }
    }
    // Sessions: counted in the hour of their first event; bounced with at most one page view.
    let mut sessions: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for e in evs {
        let s = sessions.entry(&e.session_id).or_insert((i64::MAX, 0));
        s.0 = s.0.min(e.ts_ms);
        s.1 += i64::from(e.kind == "page.view");
    }
    for (start, views) in sessions.into_values() {
        add(
            "rollup_sessions_hour",
            floor(start, 3600),
            "sessions".into(),
            1,
        );
        add(
            "rollup_sessions_hour",
            floor(start, 3600),
            "bounced".into(),
            i64::from(views <= 1),
        );
    }
    for cells in t.values_mut() {
        cells.retain(|_, n| *n != 0);
    }
    t
}

/// The stored cells of every table, summed over shards and corrections.
async fn stored(app: &TestApp) -> BTreeMap<&'static str, Cells> {
    let dims: Vec<String> = DIMS.iter().map(|d| format!("\"{d}\"")).collect();
    let dims = format!("{{{}}}", dims.join(","));
    let scroll = |table: &str| {
        format!(
            "SELECT extract(epoch FROM bucket)::int8, path || E'\\t' || m.name, m.n::int8 FROM (\
               SELECT bucket, path, sum(views) AS views, sum(depth_sum) AS depth_sum, sum(reached25) AS r25, \
                 sum(reached50) AS r50, sum(reached75) AS r75, sum(reached100) AS r100 \
               FROM {table} WHERE project_id = $1 GROUP BY 1, 2) t \
             CROSS JOIN LATERAL (VALUES ('views', views), ('depth_sum', depth_sum), ('reached25', r25), \
               ('reached50', r50), ('reached75', r75), ('reached100', r100)) AS m(name, n)"
        )
    };
    let queries: [(&'static str, String); 6] = [
        ("rollup_minute", "SELECT extract(epoch FROM bucket)::int8, event_type, sum(events)::int8 FROM rollup_minute WHERE project_id = $1 GROUP BY 1, 2".into()),
        ("rollup_hour", format!("SELECT extract(epoch FROM bucket)::int8, event_type || ' ' || dim || '=' || key, sum(events)::int8 FROM rollup_hour WHERE project_id = $1 AND dim = ANY('{dims}') GROUP BY 1, 2")),
        ("rollup_day", format!("SELECT extract(epoch FROM bucket)::int8, event_type || ' ' || dim || '=' || key, sum(events)::int8 FROM rollup_day WHERE project_id = $1 AND dim = ANY('{dims}') GROUP BY 1, 2")),
        ("rollup_scroll_hour", scroll("rollup_scroll_hour")),
        ("rollup_scroll_day", scroll("rollup_scroll_day")),
        ("rollup_sessions_hour", "SELECT extract(epoch FROM bucket)::int8, m.name, m.n::int8 FROM (\
            SELECT bucket, sum(sessions) AS sessions, sum(bounced) AS bounced FROM rollup_sessions_hour \
            WHERE project_id = $1 GROUP BY 1) t \
          CROSS JOIN LATERAL (VALUES ('sessions', sessions), ('bounced', bounced)) AS m(name, n)".into()),
    ];
    let mut out = BTreeMap::new();
    for (table, q) in queries {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&q)
            .bind(app.project.id)
            .fetch_all(app.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        let cells: Cells = rows
            .into_iter()
            .filter(|r| r.2 != 0)
            .map(|(b, c, n)| ((b, c), n))
            .collect();
        out.insert(table, cells);
    }
    out
}

/// Differences between expected and stored cells, as readable lines (at most 5 per table).
fn differences(
    expected: &BTreeMap<&'static str, Cells>,
    got: &BTreeMap<&'static str, Cells>,
) -> Vec<String> {
    let mut out = Vec::new();
    let empty = Cells::new();
    for table in got.keys() {
        let (e, g) = (expected.get(table).unwrap_or(&empty), &got[table]);
        let keys: std::collections::BTreeSet<_> = e.keys().chain(g.keys()).collect();
        let diffs: Vec<String> = keys
            .into_iter()
            .filter(|k| e.get(*k) != g.get(*k))
            .map(|k| {
                format!(
                    "{table} {} {:?}: stored {}, truth {}",
                    k.0,
                    k.1,
                    g.get(k).unwrap_or(&0),
                    e.get(k).unwrap_or(&0)
                )
            })
            .collect();
        if !diffs.is_empty() {
            out.push(format!("{table}: {} cells differ", diffs.len()));
            out.extend(diffs.into_iter().take(5));
        }
    }
    out
}

fn generate(rng: &mut SmallRng, now_ms: i64) -> Vec<Ev> {
    let referrers = [
        None,
        Some("https://news.example/a/b?c=1"),
        Some("http://search.example"),
        Some("android-app://com.example.app/x"),
        Some("not a url"),
    ];
    let depths = [
        json!(25),
        json!(50),
        json!("75"),
        json!(100),
        json!(200),
        json!(-5),
        json!(50.5),
        json!("abc"),
        json!(10),
    ];
    let mut evs = Vec::new();
    for user in 0..60 {
        let user_id = (user % 3 == 0).then(|| format!("u-{user}"));
        for s in 0..rng.gen_range(1..4) {
            let session_id = format!("s-{user}-{s}");
            // Sessions spread over the last 60 hours, some crossing UTC midnight.
            let start = now_ms - rng.gen_range(5 * 60_000..60 * 3_600_000);
            for i in 0..rng.gen_range(1..25) {
                let roll = rng.gen_range(0..100);
                let kind = match roll {
                    0..=39 => "page.view",
                    40..=64 => "element.click",
                    65..=84 => "page.scroll",
                    _ => "signup",
                };
                let mut e = Ev {
                    id: Uuid::now_v7(),
                    kind,
                    ts_ms: (start + i * rng.gen_range(1_000..600_000)).min(now_ms - 60_000),
                    anonymous_id: format!("a-{user}"),
                    session_id: session_id.clone(),
                    user_id: user_id.clone(),
                    path: format!("/p/{}", rng.gen_range(0..6)),
                    referrer: None,
                    selector: None,
                    entity: None,
                    depth: None,
                    prev: None,
                };
                match kind {
                    "page.view" => e.referrer = referrers[rng.gen_range(0..referrers.len())],
                    "element.click" => match rng.gen_range(0..3) {
                        0 => e.selector = Some(format!("main > button.b{}", rng.gen_range(0..4))),
                        1 => e.entity = Some(("button", format!("cta-{}", rng.gen_range(0..3)))),
                        _ => {}
                    },
                    "page.scroll" => {
                        e.depth = Some(depths[rng.gen_range(0..depths.len())].clone());
                        if rng.gen_bool(0.5) {
                            e.prev = Some(depths[rng.gen_range(0..depths.len())].clone());
                        }
                    }
                    _ => e.entity = Some(("plan", format!("plan-{}", rng.gen_range(0..3)))),
                }
                evs.push(e);
            }
        }
    }
    evs
}

async fn send(app: &TestApp, batch: &[Value]) {
    let r = app.collect_events(batch).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["rejected"], json!([]), "{body}");
}

async fn assert_ids_and_rollups(app: &TestApp, evs: &[Ev], when: &str) {
    let ids: HashSet<Uuid> = evs.iter().map(|e| e.id).collect();
    let n = ids.len() as i64;
    assert_eq!(
        app.wait_for_count(n, Duration::from_secs(60)).await,
        n,
        "{when}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM activities WHERE project_id = $1")
            .bind(app.project.id)
            .fetch_all(app.db.pool())
            .await
            .expect("ids");
    assert_eq!(stored_ids.len(), ids.len(), "{when}: one row per event");
    assert_eq!(
        stored_ids.into_iter().collect::<HashSet<_>>(),
        ids,
        "{when}: stored ids"
    );
    let diffs = differences(&truth(evs), &stored(app).await);
    assert!(diffs.is_empty(), "{when}:\n{}", diffs.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rollup_equals_an_independent_recount_after_replays_late_events_and_a_purge() {
    let app = spawn_app().await;
    let seed: u64 = std::env::var("ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("rollup oracle seed {seed} (ORACLE_SEED={seed} replays it)");
    let mut rng = SmallRng::seed_from_u64(seed);
    let now_ms = Utc::now().timestamp_millis();
    let mut evs = generate(&mut rng, now_ms);
    // Late events: each session's earliest events arrive last, after the rest of the session
    // (moving its start, and its count, to an earlier hour); the others out of order.
    let (mut late, mut rest): (Vec<Ev>, Vec<Ev>) = (Vec::new(), Vec::new());
    for e in evs.drain(..) {
        if rng.gen_ratio(1, 8) {
            late.push(Ev {
                ts_ms: e.ts_ms - rng.gen_range(3_600_000..30 * 3_600_000),
                ..e
            });
        } else {
            rest.push(e);
        }
    }
    rest.shuffle(&mut rng);
    let batches: Vec<Vec<Value>> = rest
        .chunks(40)
        .map(|c| {
            let mut b: Vec<Value> = c.iter().map(Ev::json).collect();
            // The same event twice in one batch: stored once.
            if rng.gen_ratio(1, 4) {
                b.push(b[0].clone());
            }
            b
        })
        .collect();
    for b in &batches {
        send(&app, b).await;
    }
    // Whole batches replayed (a tracker retrying after a lost answer): stored once.
    for b in batches.iter().filter(|_| rng.gen_ratio(1, 5)) {
        send(&app, b).await;
    }
    let late_json: Vec<Value> = late.iter().map(Ev::json).collect();
    for b in late_json.chunks(40) {
        send(&app, b).await;
    }
    rest.extend(late);
    let mut evs = rest;
    eprintln!("{} events", evs.len());
    assert_ids_and_rollups(&app, &evs, "after ingest").await;

    // A GDPR purge takes the user's events out of every rollup, and sessions are recounted
    // from what remains.
    let user = "u-3";
    let r = app
        .graphql(
            Some(&app.admin_token),
            "mutation($p: ID!, $u: String!) { purgeUser(projectId: $p, userId: $u) { events } }",
            json!({"p": app.project.id.to_string(), "u": user}),
        )
        .await;
    let purged = evs
        .iter()
        .filter(|e| e.user_id.as_deref() == Some(user))
        .count();
    assert_eq!(r["data"]["purgeUser"]["events"], json!(purged), "{r}");
    evs.retain(|e| e.user_id.as_deref() != Some(user));
    assert_ids_and_rollups(&app, &evs, "after the purge").await;
    app.stop().await;
}

#[test]
fn the_oracle_definitions_on_edge_cases() {
    assert_eq!(
        origin("https://news.example/a?b"),
        Some("https://news.example".into())
    );
    assert_eq!(
        origin("android-app://com.x/y"),
        Some("android-app://com.x".into())
    );
    assert_eq!(origin("not a url"), None);
    assert_eq!(origin("1http://x"), None);
    assert_eq!(pct(Some(&json!(50.5))), 51);
    assert_eq!(pct(Some(&json!("75"))), 75);
    assert_eq!(pct(Some(&json!(200))), 100);
    assert_eq!(pct(Some(&json!(-5))), 0);
    assert_eq!(pct(Some(&json!("abc"))), 0);
    assert_eq!(pct(None), 0);
    assert_eq!(floor(3_599_999, 3600), 0);
}
