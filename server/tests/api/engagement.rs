//! Engagement queries against a ground truth: visits generated from a fixed seed are ingested
//! through the real pipeline, and journeys, heatmaps and the raw export are compared with the
//! same figures computed here, in plain Rust, from the generated events.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline::auth::{JwtKeys, Role};
use uuid::Uuid;

use crate::helpers::{create_project, spawn_app, TestApp};

const PAGES: &[&str] = &[
    "/", "/pricing", "/docs", "/blog", "/signup", "/about", "/docs/a", "/docs/b",
];
/// Document widths of the generated clicks: one per screen class.
const WIDTHS: &[i64] = &[360, 800, 1280, 1920];
/// A browser's user agent on every request (the events are people's, not a bot's).
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";

/// One generated event, as the truth sees it.
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    session: String,
    path: &'static str,
    at: DateTime<Utc>,
    props: Value,
}

impl Ev {
    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.at.timestamp_millis(),
            "anonymous_id": format!("a-{}", self.session),
            "session_id": self.session,
            "url": format!("https://shop.example{}", self.path),
            "props": self.props,
        })
    }

    fn prop_i64(&self, k: &str) -> Option<i64> {
        self.props.get(k).and_then(Value::as_i64)
    }
}

/// Visits over three days from `day0`: 1-7 page views each, a page sometimes viewed twice in a
/// row, and clicks with the tracker's position fields (some with the viewport width only, some
/// without a position), on 26 selectors.
fn dataset(day0: DateTime<Utc>, seed: u64) -> Vec<Ev> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for s in 0..260 {
        let session = format!("s{s}");
        let mut t = day0
            + Span::seconds(rng.gen_range(0..3 * 86_400 - 7200))
            + Span::milliseconds(rng.gen_range(0..1000));
        let views = rng.gen_range(1..=7);
        let mut path = if rng.gen_bool(0.5) {
            PAGES[0]
        } else {
            PAGES[rng.gen_range(0..PAGES.len())]
        };
        for v in 0..views {
            if v > 0 && !rng.gen_bool(0.15) {
                // Earlier pages more likely, so some paths are common and the limit folds.
                let r: f64 = rng.gen();
                path = PAGES[((PAGES.len() as f64) * r * r) as usize % PAGES.len()];
            }
            out.push(Ev {
                id: Uuid::new_v4(),
                kind: "page.view",
                session: session.clone(),
                path,
                at: t,
                props: json!({"ab": if rng.gen_bool(0.5) { "a" } else { "b" }}),
            });
            for c in 0..rng.gen_range(0..4) {
                let r: f64 = rng.gen();
                let mut props = json!({
                    "selector": format!("main > button.b{}", ((26.0 * r * r) as usize).min(25)),
                    "tag": "button",
                });
                match rng.gen_range(0..10) {
                    0 => {} // synthetic: no position
                    kind => {
                        props["x"] = json!(if kind == 1 {
                            10_000
                        } else {
                            rng.gen_range(0..=10_000)
                        });
                        props["y"] = json!(rng.gen_range(0..=10_000));
                        props["doc_h"] = json!(rng.gen_range(800..6000));
                        let w = WIDTHS[rng.gen_range(0..WIDTHS.len())];
                        props["vw"] = json!(w);
                        if kind != 2 {
                            props["doc_w"] = json!(w);
                        }
                    }
                }
                out.push(Ev {
                    id: Uuid::new_v4(),
                    kind: "element.click",
                    session: session.clone(),
                    path,
                    at: t + Span::seconds(2 + c),
                    props,
                });
            }
            t += Span::seconds(rng.gen_range(10..600));
        }
    }
    out
}

/// Sends events to the server-side endpoint with `secret`, as a browser user agent, in batches
/// of 250.
async fn track(app: &TestApp, secret: &str, events: &[Value]) {
    for chunk in events.chunks(250) {
        let r = app
            .client
            .post(format!("{}/api/v1/track", app.address))
            .bearer_auth(secret)
            .header("user-agent", UA)
            .json(&json!({ "events": chunk }))
            .send()
            .await
            .expect("track");
        assert_eq!(
            r.status(),
            202,
            "{:.300}",
            r.text().await.unwrap_or_default()
        );
    }
}

/// Sends `events` to the app's project and waits until all are stored.
async fn load_json(app: &TestApp, events: &[Value]) {
    track(app, &app.project.secret_key, events).await;
    let n = events.len() as i64;
    assert_eq!(app.wait_for_count(n, Duration::from_secs(30)).await, n);
}

async fn load(app: &TestApp, evs: &[Ev]) {
    let events: Vec<Value> = evs.iter().map(Ev::json).collect();
    load_json(app, &events).await;
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()})
}

fn day0() -> DateTime<Utc> {
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    Utc.from_utc_datetime(&today) - Span::days(3)
}

/// Each visit's pages in the range: page views in time order, a page repeated back to back once.
fn visits(evs: &[Ev], from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeMap<String, Vec<&Ev>> {
    let mut by_session: BTreeMap<String, Vec<&Ev>> = BTreeMap::new();
    for e in evs {
        if e.kind == "page.view" && e.at >= from && e.at < to {
            by_session.entry(e.session.clone()).or_default().push(e);
        }
    }
    for views in by_session.values_mut() {
        views.sort_by_key(|e| (e.at, e.id));
        views.dedup_by(|b, a| a.path == b.path);
    }
    by_session
}

/// A node as compared: parent position, step, path, visits, ends, other visits.
type NodeRow = (Option<usize>, usize, String, i64, i64, i64);

/// The journey tree computed from the visits: each visit that viewed `page` (and, with `only`,
/// is one of those sessions), read outward from its first view of the page.
fn journey_truth(
    visits: &BTreeMap<String, Vec<&Ev>>,
    page: &str,
    next: bool,
    steps: usize,
    limit: usize,
    only: Option<&HashSet<String>>,
) -> Vec<NodeRow> {
    let mut outward: Vec<Vec<&str>> = Vec::new();
    for (session, views) in visits {
        if only.is_some_and(|sessions| !sessions.contains(session)) {
            continue;
        }
        let Some(i) = views.iter().position(|e| e.path == page) else {
            continue;
        };
        let pages: Vec<&str> = views.iter().map(|e| e.path).collect();
        outward.push(if next {
            pages[i..].to_vec()
        } else {
            pages[..=i].iter().rev().copied().collect()
        });
    }
    let mut out = Vec::new();
    fn node(
        all: &[Vec<&str>],
        prefix: Vec<&str>,
        parent: Option<usize>,
        steps: usize,
        limit: usize,
        out: &mut Vec<NodeRow>,
    ) {
        let d = prefix.len() - 1;
        let through: Vec<&Vec<&str>> = all.iter().filter(|o| o.starts_with(&prefix)).collect();
        let visits = through.len() as i64;
        let ends = through.iter().filter(|o| o.len() == prefix.len()).count() as i64;
        let mut next: HashMap<&str, i64> = HashMap::new();
        if d < steps {
            for o in &through {
                if let Some(p) = o.get(d + 1) {
                    *next.entry(p).or_default() += 1;
                }
            }
        }
        let mut children: Vec<(&str, i64)> = next.into_iter().collect();
        children.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let other = children.iter().skip(limit).map(|c| c.1).sum();
        let me = out.len();
        out.push((parent, d, prefix[d].to_string(), visits, ends, other));
        for (p, _) in children.into_iter().take(limit) {
            let mut longer = prefix.clone();
            longer.push(p);
            node(all, longer, Some(me), steps, limit, out);
        }
    }
    node(&outward, vec![page], None, steps, limit, &mut out);
    out
}

fn node_rows(v: &Value) -> Vec<NodeRow> {
    let list = v.as_array().unwrap_or_else(|| panic!("a node list: {v}"));
    list.iter()
        .enumerate()
        .map(|(i, n)| {
            assert_eq!(n["id"].as_u64(), Some(i as u64), "ids are positions");
            (
                n["parent"].as_u64().map(|p| p as usize),
                n["step"].as_u64().unwrap_or(99) as usize,
                n["path"].as_str().unwrap_or("").to_string(),
                n["visits"].as_i64().unwrap_or(-1),
                n["ends"].as_i64().unwrap_or(-1),
                n["otherVisits"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

const JOURNEYS: &str = "query($p: ID!, $r: TimeRange!, $path: String!, $d: JourneyDirection!, $s: Int!, $l: Int!, $f: EventFilter) {
  journeys(projectId: $p, range: $r, path: $path, direction: $d, steps: $s, limit: $l, filter: $f) {
    id parent step path visits ends otherVisits
  }
}";

const HEATMAP: &str = "query($p: ID!, $r: TimeRange!, $path: String!, $screen: String) {
  heatmap(projectId: $p, range: $r, path: $path, screen: $screen) {
    clicks cells { x y clicks } screens { screen clicks } selectors { key count }
  }
}";

fn token(app: &TestApp, role: Role, projects: &[Uuid]) -> String {
    JwtKeys::from_settings(&app.settings.jwt)
        .expect("jwt keys")
        .issue("engagement-test", role, Some(projects), None)
        .expect("a token")
}

fn error_code(v: &Value) -> (String, String) {
    (
        v["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        v["errors"][0]["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_equal_the_paths_of_the_generated_visits() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 25);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    // A viewer may read journeys (aggregates).
    let viewer = token(&app, Role::Viewer, &[app.project.id]);

    // Whole days, and a range cutting visits at both ends on odd minutes.
    let ranges = [
        (day0, day0 + Span::days(3)),
        (
            day0 + Span::hours(7) + Span::minutes(13),
            day0 + Span::days(2) + Span::hours(5) + Span::minutes(47),
        ),
    ];
    let mut compared = 0;
    for (from, to) in ranges {
        let v = visits(&evs, from, to);
        // The filter picks visits by their views of the page: those with a view of "/" marked
        // "a" in the range (before repeated views are merged).
        let ab_a: HashSet<String> = evs
            .iter()
            .filter(|e| e.kind == "page.view" && e.path == "/" && e.props["ab"] == "a")
            .filter(|e| e.at >= from && e.at < to)
            .map(|e| e.session.clone())
            .collect();
        for (page, next, steps, limit, filter) in [
            ("/", true, 3, 2, None),
            ("/", true, 5, 20, None),
            ("/pricing", true, 1, 1, None),
            ("/signup", false, 2, 3, None),
            ("/docs", false, 4, 2, None),
            ("/", true, 3, 3, Some(json!({"props": {"ab": "a"}}))),
        ] {
            let truth = journey_truth(&v, page, next, steps, limit, filter.as_ref().map(|_| &ab_a));
            assert!(
                truth[0].3 > 10 && truth.len() >= 2,
                "the dataset exercises {page}: {truth:?}"
            );
            let r = app
                .graphql(
                    Some(&viewer),
                    JOURNEYS,
                    json!({"p": pid, "r": range(from, to), "path": page,
                           "d": if next { "NEXT" } else { "PREVIOUS" },
                           "s": steps, "l": limit, "f": filter}),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            assert_eq!(
                node_rows(&r["data"]["journeys"]),
                truth,
                "{page} next={next} steps={steps} limit={limit} filter={filter:?} {from}..{to}"
            );
            compared += truth.len();
        }
    }
    assert!(compared > 60, "{compared} nodes compared");

    // Refusals: BAD_USER_INPUT with a message, never an empty success.
    let whole = range(day0, day0 + Span::days(3));
    for (path, steps, limit, message) in [
        ("/", 0, 5, "steps must be between 1 and 5, not 0"),
        ("/", 6, 5, "steps must be between 1 and 5, not 6"),
        ("/", 3, 0, "limit must be between 1 and 20, not 0"),
        ("/", 3, 21, "limit must be between 1 and 20, not 21"),
        (
            "/never-seen",
            3,
            5,
            "no visits reached /never-seen in this range",
        ),
        (" ", 3, 5, "path must be a page path such as /pricing"),
    ] {
        let r = app
            .graphql(
                Some(&viewer),
                JOURNEYS,
                json!({"p": pid, "r": whole, "path": path, "d": "NEXT", "s": steps, "l": limit}),
            )
            .await;
        assert!(r["data"].is_null(), "{r}");
        assert_eq!(
            error_code(&r),
            ("BAD_USER_INPUT".to_string(), message.to_string())
        );
    }
    // A page seen only outside the range is not seen in it.
    let first_view = evs
        .iter()
        .filter(|e| e.kind == "page.view")
        .min_by_key(|e| e.at)
        .expect("a view");
    let r = app
        .graphql(
            Some(&viewer),
            JOURNEYS,
            json!({"p": pid, "r": range(first_view.at + Span::days(5), first_view.at + Span::days(6)),
                   "path": "/", "d": "NEXT", "s": 3, "l": 5}),
        )
        .await;
    assert_eq!(error_code(&r).0, "BAD_USER_INPUT", "{r}");
    // Another project's token, and no token: refused before any query.
    let stranger = token(&app, Role::Admin, &[Uuid::new_v4()]);
    let r = app
        .graphql(
            Some(&stranger),
            JOURNEYS,
            json!({"p": pid, "r": whole, "path": "/", "d": "NEXT", "s": 3, "l": 5}),
        )
        .await;
    assert_eq!(error_code(&r).0, "FORBIDDEN", "{r}");
    let r = app
        .graphql(
            None,
            JOURNEYS,
            json!({"p": pid, "r": whole, "path": "/", "d": "NEXT", "s": 3, "l": 5}),
        )
        .await;
    assert_eq!(error_code(&r).0, "UNAUTHENTICATED", "{r}");
}

/// The screen class of a generated click: its document width, else its viewport's.
fn screen_of(e: &Ev) -> Option<&'static str> {
    let w = e.prop_i64("doc_w").or_else(|| e.prop_i64("vw"))?;
    Some(match w {
        w if w < 576 => "mobile",
        w if w < 992 => "tablet",
        w if w < 1440 => "laptop",
        _ => "desktop",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heatmaps_equal_the_generated_clicks() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 26);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    let viewer = token(&app, Role::Viewer, &[app.project.id]);
    let (from, to) = (
        day0 + Span::hours(3) + Span::minutes(10),
        day0 + Span::days(2) + Span::hours(20),
    );
    let mut hot_cells = 0;
    for page in ["/", "/pricing"] {
        for screen in [None, Some("mobile"), Some(" Desktop "), Some("laptop")] {
            let clicks: Vec<&Ev> = evs
                .iter()
                .filter(|e| e.kind == "element.click" && e.path == page)
                .filter(|e| e.at >= from && e.at < to)
                .collect();
            let wanted = |e: &&&Ev| {
                screen.is_none_or(|s| screen_of(e) == Some(s.trim().to_lowercase().as_str()))
            };
            let mut cells: BTreeMap<(i64, i64), i64> = BTreeMap::new();
            let mut selectors: BTreeMap<String, i64> = BTreeMap::new();
            let mut screens: BTreeMap<&str, i64> = BTreeMap::new();
            for e in &clicks {
                if let Some(s) = screen_of(e) {
                    *screens.entry(s).or_default() += 1;
                }
            }
            for e in clicks.iter().filter(wanted) {
                if let (Some(x), Some(y)) = (e.prop_i64("x"), e.prop_i64("y")) {
                    *cells
                        .entry(((x / 100).min(99), (y / 100).min(99)))
                        .or_default() += 1;
                }
                let sel = e.props["selector"].as_str().unwrap_or("").to_string();
                *selectors.entry(sel).or_default() += 1;
            }
            let total = clicks.iter().filter(wanted).count() as i64;
            let mut top: Vec<(String, i64)> = selectors.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(20);
            let order = ["mobile", "tablet", "laptop", "desktop"];
            let mut screens: Vec<(String, i64)> = screens
                .into_iter()
                .map(|(s, n)| (s.to_string(), n))
                .collect();
            screens.sort_by_key(|(s, _)| order.iter().position(|o| o == s));

            let r = app
                .graphql(
                    Some(&viewer),
                    HEATMAP,
                    json!({"p": pid, "r": range(from, to), "path": page, "screen": screen}),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            let h = &r["data"]["heatmap"];
            let got_cells: BTreeMap<(i64, i64), i64> = h["cells"]
                .as_array()
                .expect("cells")
                .iter()
                .map(|c| {
                    (
                        (c["x"].as_i64().unwrap_or(-1), c["y"].as_i64().unwrap_or(-1)),
                        c["clicks"].as_i64().unwrap_or(-1),
                    )
                })
                .collect();
            let pairs = |v: &Value, k: &str, n: &str| -> Vec<(String, i64)> {
                v.as_array()
                    .expect("a list")
                    .iter()
                    .map(|r| {
                        (
                            r[k].as_str().unwrap_or("").to_string(),
                            r[n].as_i64().unwrap_or(-1),
                        )
                    })
                    .collect()
            };
            let what = format!("{page} {screen:?}");
            assert!(
                total > 10 && cells.len() > 10,
                "{what}: the dataset exercises it"
            );
            assert_eq!(h["clicks"].as_i64(), Some(total), "{what}");
            assert_eq!(got_cells, cells, "{what}");
            assert_eq!(pairs(&h["screens"], "screen", "clicks"), screens, "{what}");
            assert_eq!(pairs(&h["selectors"], "key", "count"), top, "{what}");
            hot_cells += cells.keys().filter(|(x, y)| *x == 99 || *y == 99).count();
        }
    }
    // Clicks at the document's right edge (x = 10000) land in the last column.
    assert!(hot_cells > 0);

    // An unknown screen class is refused, not answered empty.
    let r = app
        .graphql(
            Some(&viewer),
            HEATMAP,
            json!({"p": pid, "r": range(from, to), "path": "/", "screen": "phone"}),
        )
        .await;
    assert_eq!(
        error_code(&r),
        (
            "BAD_USER_INPUT".to_string(),
            "unknown screen `phone`: use mobile (< 576 px), tablet (< 992), laptop (< 1440) or desktop"
                .to_string()
        ),
        "{r}"
    );
}

/// The export's response: status, content type, body.
async fn export(app: &TestApp, token: Option<&str>, query: &str) -> (u16, String, String) {
    let mut req = app
        .client
        .get(format!("{}/api/v1/export?{query}", app.address));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_export_streams_exactly_the_range_in_csv_and_ndjson() {
    let app = spawn_app().await;
    let day0 = day0();
    let mut evs = dataset(day0, 27);
    // Text that CSV and JSON must carry intact.
    let tricky = "a \"quoted\", comma;\nnew line \\ backslash é ✓";
    evs.push(Ev {
        id: Uuid::new_v4(),
        kind: "page.view",
        session: "s-tricky".into(),
        path: "/about",
        at: day0 + Span::hours(30),
        props: json!({"note": tricky, "n": 3}),
    });
    load(&app, &evs).await;
    // Another tenant's events never leak into the export.
    let (other, other_keys) = create_project(&app.db, "other").await;
    let foreign: Vec<Value> = evs
        .iter()
        .take(20)
        .map(|e| {
            let mut j = e.json();
            j["id"] = json!(Uuid::new_v4().to_string());
            j
        })
        .collect();
    track(&app, &other_keys.secret_key, &foreign).await;
    for _ in 0..200 {
        if sightline::storage::events::count(&app.db, other.id)
            .await
            .expect("count")
            == 20
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let analyst = token(&app, Role::Analyst, &[app.project.id]);
    let (from, to) = (
        day0 + Span::hours(5),
        day0 + Span::days(2) + Span::minutes(30),
    );
    let expected: BTreeSet<String> = evs
        .iter()
        .filter(|e| e.at >= from && e.at < to)
        .map(|e| e.id.to_string())
        .collect();
    let by_id: HashMap<String, &Ev> = evs.iter().map(|e| (e.id.to_string(), e)).collect();
    let q = |format: &str| {
        format!(
            "projectId={}&from={}&to={}&format={format}",
            app.project.id,
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        )
    };

    // CSV: a header, one record per event, props as JSON text.
    let (status, ct, body) = export(&app, Some(&analyst), &q("csv")).await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "text/csv; charset=utf-8"),
        "{body}"
    );
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "event_id",
            "event_type",
            "occurred_at",
            "received_at",
            "user_id",
            "anonymous_id",
            "session_id",
            "community_id",
            "entity_type",
            "entity_id",
            "path",
            "referrer",
            "is_bot",
            "props"
        ]
    );
    let col = |name: &str| header.iter().position(|h| h == name).expect("a column");
    let mut ids = BTreeSet::new();
    for rec in reader.records() {
        let rec = rec.expect("a CSV record");
        let id = rec[col("event_id")].to_string();
        let e = by_id
            .get(&id)
            .unwrap_or_else(|| panic!("{id} was not generated"));
        assert_eq!(&rec[col("event_type")], e.kind);
        assert_eq!(&rec[col("path")], e.path);
        assert_eq!(&rec[col("session_id")], e.session);
        let at = DateTime::parse_from_rfc3339(&rec[col("occurred_at")]).expect("RFC 3339");
        assert_eq!(at.timestamp_millis(), e.at.timestamp_millis());
        let props: Value = serde_json::from_str(&rec[col("props")]).expect("props as JSON");
        for (k, v) in e.props.as_object().expect("props") {
            assert_eq!(&props[k], v, "{id} {k}");
        }
        assert!(ids.insert(id), "each event once");
    }
    assert_eq!(ids, expected);
    assert!(ids.len() > 500, "{} rows", ids.len());

    // NDJSON: one object per line, the same events.
    let (status, ct, body) = export(&app, Some(&analyst), &q("ndjson")).await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/x-ndjson"),
        "{body}"
    );
    let mut ids = BTreeSet::new();
    for line in body.lines() {
        let row: Value = serde_json::from_str(line).expect("a JSON object per line");
        let id = row["event_id"].as_str().expect("event_id").to_string();
        let e = by_id
            .get(&id)
            .unwrap_or_else(|| panic!("{id} was not generated"));
        assert_eq!(row["event_type"], e.kind);
        assert_eq!(row["user_id"], Value::Null);
        for (k, v) in e.props.as_object().expect("props") {
            assert_eq!(&row["props"][k], v, "{id} {k}");
        }
        assert!(ids.insert(id), "each event once");
    }
    assert_eq!(ids, expected);
    assert!(
        body.contains("\\\"quoted\\\""),
        "the tricky event is in the range"
    );

    // Refusals, each with the contract's error shape.
    let stranger = token(&app, Role::Analyst, &[other.id]);
    let viewer = token(&app, Role::Viewer, &[app.project.id]);
    for (tok, query, status, code) in [
        (None, q("csv"), 401, "unauthenticated"),
        (Some("not-a-jwt"), q("csv"), 401, "unauthenticated"),
        (Some(viewer.as_str()), q("csv"), 403, "forbidden"),
        (Some(stranger.as_str()), q("csv"), 403, "forbidden"),
        (Some(analyst.as_str()), q("xml"), 400, "bad_request"),
        (
            Some(analyst.as_str()),
            format!("projectId={}&from=2026-01-01T00:00:00Z", app.project.id),
            400,
            "bad_request",
        ),
        (
            Some(analyst.as_str()),
            format!(
                "projectId={}&from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                app.project.id
            ),
            400,
            "bad_request",
        ),
    ] {
        let (got, ct, body) = export(&app, tok, &query).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(ct.starts_with("application/json"), "{ct}");
        let v: Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(v["code"], code, "{body}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// A visit for the comparison test: 1-3 page views a minute apart, its own session.
#[derive(Debug, Clone)]
struct Hit {
    id: Uuid,
    actor: String,
    session: String,
    at: DateTime<Utc>,
}

/// Visits at random minutes of every hour of `[from, to)` (0-2 an hour), from a seed.
fn hits(rng: &mut SmallRng, from: DateTime<Utc>, to: DateTime<Utc>, out: &mut Vec<Hit>) {
    let mut hour = from;
    while hour < to {
        for _ in 0..rng.gen_range(0..3) {
            let actor = format!("u{}", rng.gen_range(0..60));
            let session = Uuid::new_v4().to_string();
            let start = hour + Span::seconds(rng.gen_range(0..3600));
            for k in 0..rng.gen_range(1..=3) {
                out.push(Hit {
                    id: Uuid::new_v4(),
                    actor: actor.clone(),
                    session: session.clone(),
                    at: start + Span::minutes(k),
                });
            }
        }
        hour += Span::hours(1);
    }
}

/// The overview's figures over `[from, to)`, from the hits: events (all page views), unique
/// actors, sessions started in the range and the share of them with one page view.
fn overview_truth(all: &[Hit], from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64, i64, f64) {
    let inside: Vec<&Hit> = all.iter().filter(|h| h.at >= from && h.at < to).collect();
    let actors: BTreeSet<&str> = inside.iter().map(|h| h.actor.as_str()).collect();
    let mut sessions: HashMap<&str, (DateTime<Utc>, i64)> = HashMap::new();
    for h in all {
        let s = sessions.entry(&h.session).or_insert((h.at, 0));
        s.0 = s.0.min(h.at);
        s.1 += 1;
    }
    let started: Vec<i64> = sessions
        .values()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, views)| *views)
        .collect();
    let bounced = started.iter().filter(|v| **v <= 1).count();
    let rate = if started.is_empty() {
        0.0
    } else {
        bounced as f64 / started.len() as f64
    };
    (
        inside.len() as i64,
        actors.len() as i64,
        started.len() as i64,
        rate,
    )
}

fn count_in(all: &[Hit], from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    all.iter().filter(|h| h.at >= from && h.at < to).count() as f64
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .expect("an RFC 3339 time")
}

const COMPARED: &str = "query($p: ID!, $r: TimeRange!, $c: Comparison, $i: Interval!) {
  overview(projectId: $p, range: $r, compare: $c) {
    events pageViews uniqueUsers sessions bounceRate
    previous { events pageViews uniqueUsers sessions bounceRate previous { events } }
  }
  timeseries(projectId: $p, range: $r, metric: PAGE_VIEWS, interval: $i, compare: $c) { t value previous }
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_cover_the_period_before_across_a_dst_change_and_a_year_before() {
    // Events up to 400 days old are accepted and kept (raw and rolled up), for last year's week.
    let app = crate::helpers::spawn_app_with(sightline::app::Mode::All, |env| {
        env.insert(
            "SIGHTLINE_INGEST_MAX_PAST_SECS".into(),
            (400 * 86_400).to_string(),
        );
    })
    .await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db.primary,
        &format!(
            "UPDATE projects SET retention_days = 400 WHERE id = '{}'",
            app.project.id
        ),
    )
    .await
    .expect("retention");
    let paris = chrono_tz::Europe::Paris;
    // The week of Monday 26 October 2026 in Paris (168 hours); the week before it holds the end
    // of summer time on Sunday 25 October (169 hours).
    let week = (t("2026-10-25T23:00:00Z"), t("2026-11-01T23:00:00Z"));
    let week_before = (t("2026-10-18T22:00:00Z"), t("2026-10-25T23:00:00Z"));
    // The last whole Paris week before today, and 52 weeks before it.
    let monday = {
        let today = Utc::now().with_timezone(&paris).date_naive();
        let back = chrono::Datelike::weekday(&today).num_days_from_monday() as i64 + 7;
        today - Span::days(back)
    };
    let midnight = |d: chrono::NaiveDate| {
        paris
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .expect("a Paris midnight")
            .with_timezone(&Utc)
    };
    let recent = (midnight(monday), midnight(monday + Span::days(7)));
    let year_before = (
        midnight(monday - Span::days(364)),
        midnight(monday + Span::days(7 - 364)),
    );

    let mut rng = SmallRng::seed_from_u64(2026);
    let mut all = Vec::new();
    hits(
        &mut rng,
        week_before.0 - Span::days(2),
        week.1 + Span::days(2),
        &mut all,
    );
    if recent.0 > week.1 + Span::days(2) {
        hits(&mut rng, recent.0 - Span::days(1), recent.1, &mut all);
    }
    hits(
        &mut rng,
        year_before.0 - Span::days(1),
        year_before.1 + Span::days(1),
        &mut all,
    );
    let events: Vec<Value> = all
        .iter()
        .map(|h| {
            json!({"id": h.id.to_string(), "type": "page.view", "ts": h.at.timestamp_millis(),
                   "user_id": h.actor, "session_id": h.session, "url": "https://shop.example/"})
        })
        .collect();
    load_json(&app, &events).await;
    let viewer = token(&app, Role::Viewer, &[app.project.id]);
    let pid = app.project.id.to_string();
    let ask = |r: (DateTime<Utc>, DateTime<Utc>), c: Option<&str>, i: &str| {
        let vars = json!({"p": pid, "r": {"from": r.0.to_rfc3339(), "to": r.1.to_rfc3339(),
                          "timeZone": "Europe/Paris"}, "c": c, "i": i});
        let viewer = viewer.clone();
        let app = &app;
        async move {
            let v = app.graphql(Some(&viewer), COMPARED, vars).await;
            assert!(v["errors"].is_null(), "{v}");
            v["data"].clone()
        }
    };
    let figures = |o: &Value| {
        (
            o["events"].as_i64().unwrap_or(-1),
            o["uniqueUsers"].as_i64().unwrap_or(-1),
            o["sessions"].as_i64().unwrap_or(-1),
            o["bounceRate"].as_f64().unwrap_or(-1.0),
        )
    };
    let close = |a: (i64, i64, i64, f64), b: (i64, i64, i64, f64), what: &str| {
        assert_eq!((a.0, a.1, a.2), (b.0, b.1, b.2), "{what}");
        assert!(
            (a.3 - b.3).abs() < 1e-9,
            "{what}: bounce {} vs {}",
            a.3,
            b.3
        );
    };

    for (range, comparison, previous) in [
        (week, "PREVIOUS_PERIOD", week_before),
        (recent, "PREVIOUS_YEAR", year_before),
    ] {
        let what = format!("{comparison} of {range:?}");
        // By day: each local day against the same weekday's local day (25 hours long on the
        // day of the change).
        let d = ask(range, Some(comparison), "DAY").await;
        let o = &d["overview"];
        close(figures(o), overview_truth(&all, range.0, range.1), &what);
        close(
            figures(&o["previous"]),
            overview_truth(&all, previous.0, previous.1),
            &what,
        );
        assert!(o["previous"]["events"].as_i64().unwrap_or(0) > 50, "{what}");
        assert!(o["previous"]["previous"].is_null(), "one level only");
        let days = d["timeseries"].as_array().expect("points");
        assert_eq!(days.len(), 7, "{what}");
        let shift = if comparison == "PREVIOUS_PERIOD" {
            7
        } else {
            364
        };
        for (k, p) in days.iter().enumerate() {
            let day = local_date(range.0, paris) + Span::days(k as i64);
            let (from, to) = (midnight(day), midnight(day + Span::days(1)));
            let (pf, pt) = (
                midnight(day - Span::days(shift)),
                midnight(day - Span::days(shift - 1)),
            );
            assert_eq!(t(p["t"].as_str().unwrap_or("")), from, "{what} day {k}");
            assert_eq!(
                p["value"].as_f64(),
                Some(count_in(&all, from, to)),
                "{what} day {k}"
            );
            assert_eq!(
                p["previous"].as_f64(),
                Some(count_in(&all, pf, pt)),
                "{what} day {k}: previous {pf}..{pt} ({} h)",
                (pt - pf).num_hours()
            );
        }
    }

    // By hour, across the change: each hour against the same local clock hour a week before
    // (the repeated hour 02:00 of 25 October taken at its first occurrence, in summer time).
    let h = ask(week, Some("PREVIOUS_PERIOD"), "HOUR").await;
    let hours = h["timeseries"].as_array().expect("points");
    assert_eq!(hours.len(), 168);
    let mut repeated = 0;
    for p in hours {
        let at = t(p["t"].as_str().expect("t"));
        let local = at.with_timezone(&paris).naive_local() - Span::days(7);
        let candidates: Vec<DateTime<Utc>> = paris
            .from_local_datetime(&local)
            .earliest()
            .into_iter()
            .map(|x| x.with_timezone(&Utc))
            .collect();
        if paris.from_local_datetime(&local).latest()
            != paris.from_local_datetime(&local).earliest()
        {
            repeated += 1;
        }
        let s = candidates[0];
        assert_eq!(
            p["value"].as_f64(),
            Some(count_in(&all, at, at + Span::hours(1)))
        );
        assert_eq!(
            p["previous"].as_f64(),
            Some(count_in(&all, s, s + Span::hours(1))),
            "{at}: previous from {s}"
        );
    }
    assert_eq!(repeated, 1, "the repeated hour is compared once");

    // A range off local midnights: the same length just before.
    let odd = (t("2026-10-26T10:17:00Z"), t("2026-10-27T08:43:00Z"));
    let d = ask(odd, Some("PREVIOUS_PERIOD"), "HOUR").await;
    let len = odd.1 - odd.0;
    close(
        figures(&d["overview"]["previous"]),
        overview_truth(&all, odd.0 - len, odd.0),
        "off-midnight range",
    );
    // No comparison asked: nothing compared.
    let d = ask(week, None, "DAY").await;
    assert!(d["overview"]["previous"].is_null());
    assert!(d["timeseries"]
        .as_array()
        .expect("points")
        .iter()
        .all(|p| p["previous"].is_null()));
}

/// The local date of `t` in `tz`.
fn local_date(t: DateTime<Utc>, tz: chrono_tz::Tz) -> chrono::NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Exports hold a read connection each for their whole length: a third one at once is refused
/// with 429, and a client that goes away frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_concurrent_export_is_refused_until_a_client_goes_away() {
    let app = crate::helpers::spawn_app_with(sightline::app::Mode::Serve, |_| {}).await;
    // Tens of megabytes of NDJSON: more than the channel and the sockets hold, so an export
    // whose client does not read stays running.
    crate::helpers::run_generate(&app.env, app.project.id, 60_000, 2, 2_000, 9, 5_000, 2).await;
    let analyst = token(&app, Role::Analyst, &[app.project.id]);
    let now = Utc::now();
    let url = format!(
        "{}/api/v1/export?projectId={}&from={}&to={}&format=ndjson",
        app.address,
        app.project.id,
        urlencode(&(now - Span::days(3)).to_rfc3339()),
        urlencode(&(now + Span::hours(1)).to_rfc3339())
    );
    let open = || async {
        reqwest::Client::new()
            .get(&url)
            .bearer_auth(&analyst)
            .send()
            .await
            .expect("request")
    };
    let (first, second) = (open().await, open().await);
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await;
    assert_eq!(third.status(), 429);
    assert_eq!(
        third
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("10")
    );
    let v: Value = third.json().await.expect("a JSON error");
    assert_eq!(v["code"], "busy", "{v}");
    // The first client goes away without reading: its export ends and frees its place.
    drop(first);
    let mut status = 0;
    for _ in 0..100 {
        let r = open().await;
        status = r.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "a place was freed");
    drop(second);
}
