//! Ground truth at scale: over 200,000 events from a printed random seed, in two projects,
//! ingested through the real HTTP ingest (`/api/v1/track`, 500 events a request, so the queue,
//! the worker's batched write and its rollups all run as in production; bulk SQL would skip the
//! very code whose numbers are checked), every analytics answer compared with a figure computed
//! here in plain Rust from the generated events: overview, time series (bucket count and every
//! bucket, in America/New_York across a daylight-saving change), breakdowns, funnel (steps out of
//! order and outside the window do not count), retention, active users. Above 100,000 events a
//! range's unique users are a HyperLogLog estimate: asserted within the documented error bound.
//!
//! The data: visitors with sessions over eight local days around the zone's most recent DST
//! change (ingest's past window is widened to reach it), some sessions crossing local and UTC
//! midnight, events sent shuffled with the earliest part of some sessions last (late), and
//! some requests replayed whole. No bot user agents: bots are excluded from the answers.
//! `GT_SEED=<seed>` replays a run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Tz;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{create_project, keycounts, spawn_app_with, TestApp, TestSql};

const ZONE: Tz = New_York;
const PATHS: usize = 40;
const SELECTORS: usize = 15;
const REFERRERS: [Option<&str>; 4] = [
    None,
    Some("https://news.example/story/1"),
    Some("https://search.example/?q=x"),
    Some("https://social.example/p"),
];
/// The documented standard error of the unique-user estimate (docs/API.md), and the bound the
/// test holds it to: three standard errors.
const HLL_STD_ERROR: f64 = 0.016;

#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    ts: i64,
    actor: String,
    user: Option<String>,
    session: String,
    path: String,
    selector: Option<String>,
    referrer: Option<&'static str>,
    entity: Option<&'static str>,
    /// (depth, prev) of a scroll report.
    depth: Option<(i64, i64)>,
}

impl Ev {
    fn json(&self) -> Value {
        let mut props = serde_json::Map::new();
        if let Some(s) = &self.selector {
            props.insert("selector".into(), json!(s));
        }
        if let Some((d, p)) = self.depth {
            props.insert("depth".into(), json!(d));
            props.insert("prev".into(), json!(p));
        }
        let mut v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.ts,
            "anonymous_id": format!("anon-{}", self.actor),
            "session_id": self.session,
            "url": format!("https://shop.example{}?utm_source=gt", self.path),
            "props": props,
        });
        if let Some(u) = &self.user {
            v["user_id"] = json!(u);
        }
        if let Some(r) = self.referrer {
            v["referrer"] = json!(r);
        }
        if let Some(t) = self.entity {
            v["entity_type"] = json!(t);
            v["entity_id"] = json!("e-1");
        }
        v
    }
    fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.ts).unwrap_or_default()
    }
}

/// The zone's last offset change at least three days before `now` (within a year).
fn last_dst_change(now: DateTime<Utc>) -> DateTime<Utc> {
    let offset = |t: DateTime<Utc>| t.with_timezone(&ZONE).offset().fix().local_minus_utc();
    let mut t = now - Span::days(3);
    t -= Span::seconds(t.timestamp() % 3600);
    while offset(t - Span::hours(1)) == offset(t) {
        t -= Span::hours(1);
        assert!(now - t < Span::days(370), "no DST change in a year");
    }
    t
}

fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    ZONE.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// One project's events: `actors` visitors over `[start, end)`.
fn generate(rng: &mut SmallRng, tag: &str, actors: usize, start: i64, end: i64) -> Vec<Ev> {
    let mut out = Vec::new();
    let span = end - start;
    for a in 0..actors {
        let actor = format!("{tag}{a}");
        let user = (a % 3 == 0).then(|| actor.clone());
        for s in 0..rng.gen_range(1..=3) {
            let session = format!("{actor}-s{s}");
            // A few sessions start just before a local midnight and run across it.
            let mut t = if rng.gen_ratio(1, 20) {
                let day = rng.gen_range(1..8);
                let midnight = local_midnight(
                    DateTime::from_timestamp_millis(start)
                        .unwrap_or_default()
                        .with_timezone(&ZONE)
                        .date_naive()
                        + Span::days(day),
                );
                midnight.timestamp_millis() - rng.gen_range(60_000..1_200_000)
            } else {
                start + rng.gen_range(0..span)
            };
            let funnel = rng.gen_ratio(1, 4);
            let n = rng.gen_range(1..12);
            for i in 0..n {
                t += rng.gen_range(1_000..240_000);
                if t >= end {
                    break;
                }
                let mut e = Ev {
                    id: Uuid::new_v4(),
                    kind: "page.view",
                    ts: t,
                    actor: actor.clone(),
                    user: user.clone(),
                    session: session.clone(),
                    path: format!("/p/{}", rng.gen_range(0..PATHS)),
                    selector: None,
                    referrer: None,
                    entity: None,
                    depth: None,
                };
                if funnel && i < 3 {
                    // The funnel: /pricing, signup.started, signup.completed, sometimes in the
                    // wrong order or with the last step long after the window.
                    match (i, rng.gen_range(0..10)) {
                        (0, _) => e.path = "/pricing".into(),
                        (1, 0) => e.kind = "signup.completed",
                        (1, _) => e.kind = "signup.started",
                        (2, 0) => {
                            e.kind = "signup.completed";
                            e.ts += 2 * 3_600_000;
                            t = e.ts;
                        }
                        (2, 1) => e.kind = "signup.started",
                        (2, _) => e.kind = "signup.completed",
                        _ => {}
                    }
                    if e.ts >= end {
                        break;
                    }
                } else {
                    match rng.gen_range(0..100) {
                        0..=44 => {
                            if i == 0 {
                                e.referrer = REFERRERS[rng.gen_range(0..REFERRERS.len())];
                            }
                        }
                        45..=69 => {
                            e.kind = "element.click";
                            e.selector = Some(format!("button.b{}", rng.gen_range(0..SELECTORS)));
                        }
                        70..=89 => {
                            e.kind = "page.scroll";
                            let d = [25, 50, 75, 100][rng.gen_range(0..4)];
                            let p = [0, 0, 25][rng.gen_range(0..3)].min(d);
                            e.depth = Some((d, p));
                        }
                        _ => {
                            e.kind = "purchase";
                            e.entity = Some(["order", "gift"][rng.gen_range(0..2)]);
                        }
                    }
                }
                out.push(e);
            }
        }
    }
    out
}

/// The truth over the events of one project.
struct Truth<'a> {
    all: &'a [Ev],
}

impl<'a> Truth<'a> {
    fn within(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&'a Ev> {
        let (f, t) = (from.timestamp_millis(), to.timestamp_millis());
        self.all.iter().filter(|e| e.ts >= f && e.ts < t).collect()
    }
    fn actors(evs: &[&Ev]) -> usize {
        evs.iter().map(|e| &e.actor).collect::<HashSet<_>>().len()
    }
    fn top(evs: &[&Ev], key: impl Fn(&Ev) -> Option<String>, limit: usize) -> Vec<(String, i64)> {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for e in evs {
            if let Some(k) = key(e) {
                *m.entry(k).or_default() += 1;
            }
        }
        let mut v: Vec<(String, i64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }
    /// Sessions (all their events) whose first event is in the range: (count, bounced).
    fn sessions(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64) {
        let mut s: HashMap<&str, (i64, i64)> = HashMap::new();
        for e in self.all {
            let x = s.entry(&e.session).or_insert((i64::MAX, 0));
            x.0 = x.0.min(e.ts);
            x.1 += i64::from(e.kind == "page.view");
        }
        let (f, t) = (from.timestamp_millis(), to.timestamp_millis());
        let started: Vec<_> = s.values().filter(|(a, _)| *a >= f && *a < t).collect();
        (
            started.len() as i64,
            started.iter().filter(|(_, pv)| *pv <= 1).count() as i64,
        )
    }
    /// Actors reaching each step: entry at the first step-1 event in the range, each later step
    /// the first matching event at or after the previous step, within `window` of the entry.
    fn funnel(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        steps: &[(&str, Option<&str>)],
        window_ms: i64,
    ) -> Vec<i64> {
        let mut by_actor: HashMap<&str, Vec<&Ev>> = HashMap::new();
        for e in self.within(from, to) {
            by_actor.entry(&e.actor).or_default().push(e);
        }
        let mut counts = vec![0i64; steps.len()];
        for evs in by_actor.values_mut() {
            evs.sort_by_key(|e| e.ts);
            let hits =
                |i: usize, e: &Ev| e.kind == steps[i].0 && steps[i].1.is_none_or(|p| e.path == p);
            let Some(entry) = evs.iter().find(|e| hits(0, e)).map(|e| e.ts) else {
                continue;
            };
            counts[0] += 1;
            let mut at = entry;
            for (i, c) in counts.iter_mut().enumerate().skip(1) {
                match evs
                    .iter()
                    .find(|e| e.ts >= at && e.ts <= entry + window_ms && hits(i, e))
                {
                    Some(e) => {
                        at = e.ts;
                        *c += 1;
                    }
                    None => break,
                }
            }
        }
        counts
    }
}

fn within_hll_bound(label: &str, got: i64, truth: usize) {
    let err = (got as f64 - truth as f64).abs() / (truth as f64).max(1.0);
    assert!(
        err <= 3.0 * HLL_STD_ERROR,
        "{label}: estimate {got}, truth {truth}: error {:.2}% > 3 standard errors",
        err * 100.0
    );
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({"from": from.to_rfc3339(), "to": to.to_rfc3339(), "timeZone": ZONE.name()})
}

async fn send(app: &TestApp, secret: &str, batch: &[Value]) {
    let r = app
        .client
        .post(format!("{}/api/v1/track", app.address))
        .bearer_auth(secret)
        .json(&json!({ "events": batch }))
        .send()
        .await
        .expect("track");
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["rejected"], json!([]), "{body}");
}

async fn stored(app: &TestApp, project: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM activities WHERE project_id = $1")
        .bind(project)
        .fetch_one(app.db.pool())
        .await
        .expect("count")
}

/// Checks every analytics answer of one project for one range against the truth.
async fn check_range(
    app: &TestApp,
    project: Uuid,
    truth: &Truth<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let evs = truth.within(from, to);
    let label = format!("{project} {from}..{to}");
    let r = app
        .graphql(
            Some(&app.admin_token),
            "query($p: ID!, $r: TimeRange!) {
               overview(projectId: $p, range: $r) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate avgScrollDepth }
               byType: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE, limit: 50) { key count }
               byPath: eventCounts(projectId: $p, range: $r, groupBy: PATH, limit: 10) { key count }
               byRef: eventCounts(projectId: $p, range: $r, groupBy: REFERRER, limit: 10) { key count }
               byEntity: eventCounts(projectId: $p, range: $r, groupBy: ENTITY_TYPE, limit: 10) { key count }
               topPages(projectId: $p, range: $r, limit: 10) { key count }
               topElements(projectId: $p, range: $r, limit: 10) { key count }
               hourly: timeseries(projectId: $p, range: $r, metric: EVENTS, interval: HOUR) { t value }
               daily: timeseries(projectId: $p, range: $r, metric: PAGE_VIEWS, interval: DAY) { t value }
               dailyUsers: timeseries(projectId: $p, range: $r, metric: UNIQUE_USERS, interval: DAY) { t value }
               funnel(projectId: $p, range: $r, windowSeconds: 3600, steps: [
                 {eventType: \"page.view\", path: \"/pricing\"}, {eventType: \"signup.started\"},
                 {eventType: \"signup.completed\"}]) { steps { users } }
             }",
            json!({"p": project.to_string(), "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{label}: {r}");
    let d = &r["data"];
    let o = &d["overview"];
    assert_eq!(o["events"], json!(evs.len()), "{label} events");
    let pv = evs.iter().filter(|e| e.kind == "page.view").count();
    assert_eq!(o["pageViews"], json!(pv), "{label} page views");
    let actors = Truth::actors(&evs);
    if evs.len() > 100_000 {
        assert_eq!(
            o["uniqueUsersExact"],
            json!(false),
            "{label}: the estimate path"
        );
        within_hll_bound(&label, o["uniqueUsers"].as_i64().unwrap_or(-1), actors);
    } else {
        assert_eq!(o["uniqueUsersExact"], json!(true), "{label}");
        assert_eq!(o["uniqueUsers"], json!(actors), "{label} unique users");
    }
    let (sessions, bounced) = truth.sessions(from, to);
    assert_eq!(o["sessions"], json!(sessions), "{label} sessions");
    let bounce = if sessions == 0 {
        0.0
    } else {
        bounced as f64 / sessions as f64
    };
    assert!(
        (o["bounceRate"].as_f64().unwrap_or(-1.0) - bounce).abs() < 1e-9,
        "{label} bounce {o}"
    );
    let scrolls: Vec<(i64, i64)> = evs.iter().filter_map(|e| e.depth).collect();
    let views = scrolls.iter().filter(|(_, p)| *p == 0).count() as f64;
    let depth_sum: i64 = scrolls.iter().map(|(d, p)| (d - p).max(0)).sum();
    let avg = if views == 0.0 {
        0.0
    } else {
        depth_sum as f64 / views
    };
    assert!(
        (o["avgScrollDepth"].as_f64().unwrap_or(-1.0) - avg).abs() < 1e-9,
        "{label} scroll {o}"
    );

    assert_eq!(
        keycounts(&d["byType"]),
        Truth::top(&evs, |e| Some(e.kind.to_string()), 50),
        "{label} by type"
    );
    assert_eq!(
        keycounts(&d["byPath"]),
        Truth::top(&evs, |e| Some(e.path.clone()), 10),
        "{label} by path"
    );
    let origin = |r: &str| r.split('/').take(3).collect::<Vec<_>>().join("/");
    assert_eq!(
        keycounts(&d["byRef"]),
        Truth::top(
            &evs,
            |e| (e.kind == "page.view")
                .then(|| e.referrer.map(origin))
                .flatten(),
            10
        ),
        "{label} by referrer"
    );
    assert_eq!(
        keycounts(&d["byEntity"]),
        Truth::top(&evs, |e| e.entity.map(str::to_string), 10),
        "{label} by entity"
    );
    assert_eq!(
        keycounts(&d["topPages"]),
        Truth::top(
            &evs,
            |e| (e.kind == "page.view").then(|| e.path.clone()),
            10
        ),
        "{label} top pages"
    );
    assert_eq!(
        keycounts(&d["topElements"]),
        Truth::top(&evs, |e| e.selector.clone(), 10),
        "{label} top elements"
    );

    // Hourly: one bucket per hour of the range (25 on the day the clocks go back), each exact.
    let hourly = d["hourly"].as_array().cloned().unwrap_or_default();
    let first_hour = from - Span::seconds(from.timestamp() % 3600);
    let buckets = ((to - first_hour).num_seconds() + 3599) / 3600;
    assert_eq!(hourly.len() as i64, buckets, "{label} hour buckets");
    let mut per_hour: HashMap<i64, i64> = HashMap::new();
    for e in &evs {
        *per_hour.entry(e.ts.div_euclid(3_600_000)).or_default() += 1;
    }
    for p in &hourly {
        let t = DateTime::parse_from_rfc3339(p["t"].as_str().unwrap_or(""))
            .expect("t")
            .timestamp();
        let want = per_hour.get(&(t / 3600)).copied().unwrap_or(0);
        assert_eq!(
            p["value"].as_f64().map(|v| v as i64),
            Some(want),
            "{label} hour {t}"
        );
    }
    // Daily, in the zone: buckets start at local midnight (the first at or before `from`), one
    // per local day; each counts the range's events of that local day.
    let local_days: BTreeSet<NaiveDate> = {
        let mut s = BTreeSet::new();
        let mut t = from;
        while t < to {
            s.insert(t.with_timezone(&ZONE).date_naive());
            t += Span::hours(1);
        }
        s
    };
    for (series, metric) in [("daily", "page views"), ("dailyUsers", "unique users")] {
        let pts = d[series].as_array().cloned().unwrap_or_default();
        assert_eq!(pts.len(), local_days.len(), "{label} {metric}: day buckets");
        for (p, day) in pts.iter().zip(&local_days) {
            let t = DateTime::parse_from_rfc3339(p["t"].as_str().unwrap_or("")).expect("t");
            assert_eq!(
                t.with_timezone(&Utc),
                local_midnight(*day),
                "{label} {metric}: bucket of {day}"
            );
            let of_day: Vec<&Ev> = evs
                .iter()
                .copied()
                .filter(|e| e.at().with_timezone(&ZONE).date_naive() == *day)
                .collect();
            let got = p["value"].as_f64().map_or(-1, |v| v as i64);
            if series == "daily" {
                let want = of_day.iter().filter(|e| e.kind == "page.view").count() as i64;
                assert_eq!(got, want, "{label} page views on {day}");
            } else {
                within_hll_bound(
                    &format!("{label} users on {day}"),
                    got,
                    Truth::actors(&of_day),
                );
            }
        }
    }
    let steps = [
        ("page.view", Some("/pricing")),
        ("signup.started", None),
        ("signup.completed", None),
    ];
    let got: Vec<i64> = d["funnel"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["users"].as_i64().unwrap_or(-1))
        .collect();
    let want = truth.funnel(from, to, &steps, 3_600_000);
    assert_eq!(got, want, "{label} funnel");
    assert!(
        want[2] > 0 && want[2] < want[1] && want[1] < want[0],
        "{label}: a real funnel {want:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_equals_a_plain_rust_truth_over_200k_events_across_a_dst_change() {
    let started = Instant::now();
    let now = Utc::now();
    let change = last_dst_change(now);
    let change_day = change.with_timezone(&ZONE).date_naive();
    let (first_day, end_day) = (change_day - Span::days(4), change_day + Span::days(4));
    let (start, end) = (local_midnight(first_day), local_midnight(end_day));
    let past = (now - start).num_seconds() + 3 * 86_400;
    let app = spawn_app_with(sightline::app::Mode::All, |env| {
        for (k, v) in [
            ("SIGHTLINE_INGEST_MAX_PAST_SECS", past.to_string()),
            ("SIGHTLINE_RATE_PER_IP", "10000000".into()),
            ("SIGHTLINE_RATE_PER_KEY", "10000000".into()),
            ("SIGHTLINE_QUEUE_MAX_WAITING", "2000000".into()),
        ] {
            env.insert(k.into(), v);
        }
    })
    .await;
    let seed: u64 = std::env::var("GT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("ground truth seed {seed} (GT_SEED={seed} replays it); {} days around the DST change at {change}", 8);
    let mut rng = SmallRng::seed_from_u64(seed);
    let (b, b_keys) = create_project(&app.db, "ground truth b").await;
    let projects = [
        (
            app.project.id,
            app.project.secret_key.clone(),
            generate(
                &mut rng,
                "a",
                17_000,
                start.timestamp_millis(),
                end.timestamp_millis(),
            ),
        ),
        (
            b.id,
            b_keys.secret_key.clone(),
            generate(
                &mut rng,
                "b",
                3_000,
                start.timestamp_millis(),
                end.timestamp_millis(),
            ),
        ),
    ];
    // Raw events must outlive the test: the default 90 days may not reach the DST change.
    for (p, _, _) in &projects {
        let r = app
            .graphql(
                Some(&app.admin_token),
                "mutation($p: ID!) { updateProject(id: $p, retentionDays: 400) { id } }",
                json!({"p": p.to_string()}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let total: usize = projects.iter().map(|p| p.2.len()).sum();
    assert!(total >= 200_000, "{total} events");
    eprintln!(
        "{total} events generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Requests of 500 from both projects, interleaved and shuffled; the first hour of a fifth of
    // the sessions held back and sent last (late); a twentieth of the requests replayed.
    let mut requests: Vec<(usize, Vec<Value>)> = Vec::new();
    let mut late: Vec<(usize, Vec<Value>)> = Vec::new();
    for (i, (_, _, evs)) in projects.iter().enumerate() {
        let mut first_ts: HashMap<&str, i64> = HashMap::new();
        for e in evs {
            let f = first_ts.entry(&e.session).or_insert(e.ts);
            *f = (*f).min(e.ts);
        }
        let held = |e: &Ev| {
            e.session.bytes().map(u32::from).sum::<u32>() % 5 == 0
                && e.ts < first_ts[e.session.as_str()] + 3_600_000
        };
        let mut order: Vec<&Ev> = evs.iter().collect();
        order.shuffle(&mut rng);
        let (l, rest): (Vec<&Ev>, Vec<&Ev>) = order.into_iter().partition(|e| held(e));
        requests.extend(
            rest.chunks(500)
                .map(|c| (i, c.iter().map(|e| e.json()).collect())),
        );
        late.extend(
            l.chunks(500)
                .map(|c| (i, c.iter().map(|e| e.json()).collect())),
        );
    }
    requests.shuffle(&mut rng);
    let replays: Vec<(usize, Vec<Value>)> = requests
        .iter()
        .filter(|_| rng.gen_ratio(1, 20))
        .cloned()
        .collect();
    let sending = Instant::now();
    for (i, batch) in requests.iter().chain(&late).chain(&replays) {
        send(&app, &projects[*i].1, batch).await;
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for (p, _, evs) in &projects {
        while stored(&app, *p).await < evs.len() as i64 {
            assert!(Instant::now() < deadline, "not all stored");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            stored(&app, *p).await,
            evs.len() as i64,
            "each event stored once"
        );
    }
    eprintln!(
        "ingested and stored in {:.1} s ({} requests)",
        sending.elapsed().as_secs_f64(),
        requests.len() + late.len() + replays.len()
    );

    for (p, _, evs) in &projects {
        let truth = Truth { all: evs };
        let change_hour = change - Span::seconds(change.timestamp() % 3600);
        for (from, to) in [
            // The whole period on local days (rollups; 25 hours on the change day).
            (start, end),
            // Two local days around the change, on whole hours.
            (
                local_midnight(change_day - Span::days(1)),
                local_midnight(change_day + Span::days(1)),
            ),
            // Odd minutes (raw rows), across the change.
            (
                change_hour - Span::hours(30) + Span::minutes(17),
                change_hour + Span::hours(20) + Span::minutes(41),
            ),
        ] {
            check_range(&app, *p, &truth, from, to).await;
        }
        // Retention by UTC first-seen day over the period: cohorts of the first 5 days, 4 periods.
        let (rf, rt) = (start.date_naive(), start.date_naive() + Span::days(5));
        let utc = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        let r = app
            .graphql(
                Some(&app.admin_token),
                "query($p: ID!, $r: TimeRange!) { retention(projectId: $p, range: $r, period: DAY, periods: 4) { start size retained } }",
                json!({"p": p.to_string(), "r": {"from": utc(rf).to_rfc3339(), "to": utc(rt).to_rfc3339()}}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let mut active: HashMap<&str, BTreeSet<NaiveDate>> = HashMap::new();
        for e in evs.iter() {
            active
                .entry(&e.actor)
                .or_default()
                .insert(e.at().date_naive());
        }
        let mut cohorts: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
        for days in active.values() {
            let first = *days.iter().next().expect("a day");
            if first < rf || first >= rt {
                continue;
            }
            let c = cohorts.entry(first).or_insert_with(|| vec![0; 4]);
            for (k, n) in c.iter_mut().enumerate() {
                *n += i64::from(days.contains(&(first + Span::days(k as i64))));
            }
        }
        let got: BTreeMap<NaiveDate, Vec<i64>> = r["data"]["retention"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let d =
                    NaiveDate::parse_from_str(&c["start"].as_str().unwrap_or("")[..10], "%Y-%m-%d")
                        .expect("start");
                (
                    d,
                    c["retained"]
                        .as_array()
                        .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(-1)).collect())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(got, cohorts, "{p} retention");
        // Active users on the UTC day of the change and the 7 and 30 days ending with it.
        let r = app
            .graphql(
                Some(&app.admin_token),
                "query($p: ID!, $at: DateTime) { activeUsers(projectId: $p, at: $at, timeZone: \"America/New_York\") { dau wau mau } }",
                json!({"p": p.to_string(), "at": change.to_rfc3339()}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let day = change.date_naive();
        let actors_between = |a: NaiveDate, b: NaiveDate| {
            evs.iter()
                .filter(|e| (a..=b).contains(&e.at().date_naive()))
                .map(|e| &e.actor)
                .collect::<HashSet<_>>()
                .len()
        };
        let au = &r["data"]["activeUsers"];
        within_hll_bound(
            "dau",
            au["dau"].as_i64().unwrap_or(-1),
            actors_between(day, day),
        );
        within_hll_bound(
            "wau",
            au["wau"].as_i64().unwrap_or(-1),
            actors_between(day - Span::days(6), day),
        );
        within_hll_bound(
            "mau",
            au["mau"].as_i64().unwrap_or(-1),
            actors_between(day - Span::days(29), day),
        );
    }
    eprintln!(
        "ground truth done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    app.stop().await;
}
