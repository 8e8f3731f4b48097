//! The analytics queries against a ground truth: a small dataset with known shape is ingested
//! through the real pipeline, and every GraphQL answer is compared with the same figure computed
//! here, independently, from the generated events. Whole-hour ranges exercise the rollups,
//! ranges on odd minutes the raw-event paths; both must agree with the truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Timelike, Utc};
use serde_json::{json, Value};
use sightline::storage::rollups;
use uuid::Uuid;

use crate::helpers::{days, keycounts, spawn_app, TestApp, TestSql};

/// One generated event, as the truth sees it.
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    actor: String,
    user: Option<String>,
    session: String,
    path: &'static str,
    at: DateTime<Utc>,
    selector: Option<&'static str>,
    depth: Option<(i64, i64)>,
    referrer: Option<&'static str>,
    community: Option<&'static str>,
}

impl Ev {
    fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.at.timestamp_millis(),
            "session_id": self.session,
            "url": format!("https://shop.example{}?utm_source=test", self.path),
            "props": {},
        });
        match &self.user {
            Some(u) => v["user_id"] = json!(u),
            None => v["anonymous_id"] = json!(self.actor),
        }
        if let Some(s) = self.selector {
            v["props"]["selector"] = json!(s);
            v["entity_type"] = json!("button");
        }
        if let Some((d, p)) = self.depth {
            v["props"]["depth"] = json!(d);
            v["props"]["prev"] = json!(p);
        }
        if let Some(r) = self.referrer {
            v["referrer"] = json!(r);
        }
        if let Some(c) = self.community {
            v["community_id"] = json!(c);
        }
        v
    }
}

/// 30 actors over 3 days: 20 identified, 10 anonymous; visits at known hours; a funnel
/// (/ -> /pricing -> signup.completed), clicks, two-step scrolls, referrers, one community.
fn dataset(day0: DateTime<Utc>) -> Vec<Ev> {
    let mut out = Vec::new();
    for i in 0..30usize {
        let user = (i < 20).then(|| format!("u-{i}"));
        let actor = user.clone().unwrap_or_else(|| format!("a-{i}"));
        for d in 0..3usize {
            if (i + d) % 3 == 0 && d > 0 {
                continue;
            }
            let start = day0
                + Span::days(d as i64)
                + Span::hours(((i * 7 + d * 5) % 20 + 1) as i64)
                + Span::minutes((i % 50) as i64);
            let session = format!("s-{i}-{d}");
            let mk = |kind: &'static str, path: &'static str, secs: i64| Ev {
                id: Uuid::new_v4(),
                kind,
                actor: actor.clone(),
                user: user.clone(),
                session: session.clone(),
                path,
                at: start + Span::seconds(secs),
                selector: None,
                depth: None,
                referrer: None,
                community: (i < 10).then_some("c-1"),
            };
            let mut first = mk("page.view", "/", 0);
            first.referrer = Some(if i % 2 == 1 {
                "https://news.example/story"
            } else {
                "https://search.example/?q=x"
            });
            out.push(first);
            let mut s1 = mk("page.scroll", "/", 30);
            s1.depth = Some((25, 0));
            out.push(s1);
            if i % 4 == 0 {
                let mut s2 = mk("page.scroll", "/", 40);
                s2.depth = Some((60, 25));
                out.push(s2);
            }
            if i % 2 == 0 {
                out.push(mk("page.view", "/pricing", 60));
            }
            if i % 3 == 0 {
                let mut c = mk("element.click", "/pricing", 120);
                c.selector = Some("main > button.cta");
                out.push(c);
            }
            if i % 5 == 0 {
                let mut c = mk("element.click", "/", 90);
                c.selector = Some("nav > a.docs");
                out.push(c);
            }
            if i % 2 == 0 && i % 5 == 0 {
                out.push(mk("signup.completed", "/pricing", 180));
            }
        }
    }
    out
}

struct Truth<'a> {
    evs: Vec<&'a Ev>,
}

impl<'a> Truth<'a> {
    fn new(all: &'a [Ev], from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            evs: all.iter().filter(|e| e.at >= from && e.at < to).collect(),
        }
    }
    fn count(&self, kind: &str) -> i64 {
        self.evs.iter().filter(|e| e.kind == kind).count() as i64
    }
    fn actors(&self) -> i64 {
        self.evs
            .iter()
            .map(|e| &e.actor)
            .collect::<BTreeSet<_>>()
            .len() as i64
    }
    fn top<F: Fn(&Ev) -> Option<String>>(&self, key: F) -> Vec<(String, i64)> {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for e in &self.evs {
            if let Some(k) = key(e) {
                *m.entry(k).or_default() += 1;
            }
        }
        let mut v: Vec<(String, i64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
    fn scroll(&self) -> (i64, i64) {
        let views = self
            .evs
            .iter()
            .filter(|e| e.depth.is_some_and(|(_, p)| p == 0))
            .count() as i64;
        let sum: i64 = self
            .evs
            .iter()
            .filter_map(|e| e.depth)
            .map(|(d, p)| d - p)
            .sum();
        (views, sum)
    }
}

async fn load(app: &TestApp, evs: &[Ev]) {
    // Two waves, each stored before the next: first the events from the middle of the dataset
    // on, then the earlier ones, so stored sessions move their start hour and leave the bounced
    // state, and actors' first days move earlier with activity already recorded, across write
    // statements, as late and retried deliveries make them do. Each wave in a scattered order
    // (a fixed permutation), in many small requests.
    let mut times: Vec<DateTime<Utc>> = evs.iter().map(|e| e.at).collect();
    times.sort();
    let middle = times.get(times.len() / 2).copied().unwrap_or_else(Utc::now);
    let (late, early): (Vec<&Ev>, Vec<&Ev>) = evs.iter().partition(|e| e.at >= middle);
    let mut stored = 0;
    for wave in [late, early] {
        let n = wave.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|i| (i * 7919) % n.max(1));
        let scattered: Vec<&Ev> = order.iter().filter_map(|&i| wave.get(i).copied()).collect();
        for chunk in scattered.chunks(200) {
            let body: Vec<Value> = chunk.iter().map(|e| e.json()).collect();
            let r = app
                .client
                .post(format!("{}/api/v1/track", app.address))
                .bearer_auth(&app.project.secret_key)
                .json(&json!({ "events": body }))
                .send()
                .await
                .expect("track");
            assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
        }
        stored += n as i64;
        assert_eq!(
            app.wait_for_count(stored, Duration::from_secs(20)).await,
            stored
        );
    }
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_answers_equal_a_ground_truth_from_rollups_and_raw_rows() {
    let app = spawn_app().await;
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let day0 = Utc.from_utc_datetime(&today) - Span::days(3);
    let evs = dataset(day0);
    load(&app, &evs).await;
    let token = app.admin_token.as_str();
    let pid = app.project.id.to_string();

    // Whole hours (rollups: two whole days + edge hours) and odd minutes (raw rows).
    let ranges = [
        (day0 + Span::hours(5), day0 + Span::days(2) + Span::hours(9)),
        (day0, day0 + Span::days(3)),
        (
            day0 + Span::hours(3) + Span::minutes(17),
            day0 + Span::days(2) + Span::minutes(41),
        ),
    ];
    for (from, to) in ranges {
        let t = Truth::new(&evs, from, to);
        let r = app
            .graphql(
                Some(token),
                "query($p: ID!, $r: TimeRange!) {
                   overview(projectId: $p, range: $r) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate avgScrollDepth }
                   byType: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE, limit: 50) { key count }
                   byRef: eventCounts(projectId: $p, range: $r, groupBy: REFERRER) { key count }
                   byEntity: eventCounts(projectId: $p, range: $r, groupBy: ENTITY_TYPE) { key count }
                   topPages(projectId: $p, range: $r) { key count }
                   topElements(projectId: $p, range: $r) { key count }
                   scrollDepth(projectId: $p, range: $r) { path views avgDepth reached25 reached50 reached75 reached100 }
                   series: timeseries(projectId: $p, range: $r, metric: PAGE_VIEWS, interval: HOUR) { t value }
                   users: timeseries(projectId: $p, range: $r, metric: UNIQUE_USERS, interval: DAY) { t value }
                 }",
                json!({"p": pid, "r": range(from, to)}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let d = &r["data"];
        let o = &d["overview"];
        assert_eq!(o["events"], json!(t.evs.len()), "events {from}..{to}");
        assert_eq!(o["pageViews"], json!(t.count("page.view")));
        assert_eq!(o["uniqueUsers"], json!(t.actors()));
        assert_eq!(o["uniqueUsersExact"], json!(true), "small ranges are exact");
        // Sessions started in the range; bounced = at most one page view in the whole session.
        let mut sessions: HashMap<&str, (DateTime<Utc>, i64)> = HashMap::new();
        for e in &evs {
            let s = sessions.entry(&e.session).or_insert((e.at, 0));
            s.0 = s.0.min(e.at);
            s.1 += (e.kind == "page.view") as i64;
        }
        let started: Vec<_> = sessions
            .values()
            .filter(|(at, _)| *at >= from && *at < to)
            .collect();
        assert_eq!(o["sessions"], json!(started.len()));
        let bounced = started.iter().filter(|(_, pv)| *pv <= 1).count();
        let want_bounce = if started.is_empty() {
            0.0
        } else {
            bounced as f64 / started.len() as f64
        };
        assert!(
            (o["bounceRate"].as_f64().unwrap_or(-1.0) - want_bounce).abs() < 1e-9,
            "bounce {o}"
        );
        let (views, sum) = t.scroll();
        let want_scroll = if views == 0 {
            0.0
        } else {
            sum as f64 / views as f64
        };
        assert!(
            (o["avgScrollDepth"].as_f64().unwrap_or(-1.0) - want_scroll).abs() < 1e-9,
            "scroll {o}"
        );

        assert_eq!(keycounts(&d["byType"]), t.top(|e| Some(e.kind.to_string())));
        assert_eq!(
            keycounts(&d["byRef"]),
            t.top(|e| e
                .referrer
                .map(|r| r.split('/').take(3).collect::<Vec<_>>().join("/")))
        );
        assert_eq!(
            keycounts(&d["byEntity"]),
            t.top(|e| e.selector.map(|_| "button".to_string()))
        );
        assert_eq!(
            keycounts(&d["topPages"]),
            t.top(|e| (e.kind == "page.view").then(|| e.path.to_string()))
        );
        assert_eq!(
            keycounts(&d["topElements"]),
            t.top(|e| e.selector.map(str::to_string))
        );

        let sd = d["scrollDepth"].as_array().cloned().unwrap_or_default();
        let home = sd
            .iter()
            .find(|s| s["path"] == "/")
            .cloned()
            .unwrap_or(json!({}));
        let reached = |lvl: i64| {
            t.evs
                .iter()
                .filter(|e| e.depth.is_some_and(|(dd, p)| p < lvl && dd >= lvl))
                .count()
        };
        assert_eq!(home["views"], json!(views), "{home}");
        assert_eq!(home["reached25"], json!(reached(25)));
        assert_eq!(home["reached50"], json!(reached(50)));
        assert_eq!(home["reached75"], json!(0));

        // Hourly page views: every bucket, zeros included, each equal to the truth.
        let series = d["series"].as_array().cloned().unwrap_or_default();
        let total: f64 = series
            .iter()
            .map(|p| p["value"].as_f64().unwrap_or(0.0))
            .sum();
        assert_eq!(total as i64, t.count("page.view"));
        for p in &series {
            let start = DateTime::parse_from_rfc3339(p["t"].as_str().unwrap_or(""))
                .expect("t")
                .with_timezone(&Utc);
            let bucket_from = start.max(from);
            let want =
                Truth::new(&evs, bucket_from, (start + Span::hours(1)).min(to)).count("page.view");
            assert_eq!(
                p["value"].as_f64().map(|v| v as i64),
                Some(want),
                "bucket {start}"
            );
        }
        let days = d["users"].as_array().cloned().unwrap_or_default();
        for p in &days {
            let start = DateTime::parse_from_rfc3339(p["t"].as_str().unwrap_or(""))
                .expect("t")
                .with_timezone(&Utc);
            let want = Truth::new(&evs, start.max(from), (start + Span::days(1)).min(to)).actors();
            assert_eq!(
                p["value"].as_f64().map(|v| v as i64),
                Some(want),
                "unique users on {start}"
            );
        }
    }

    // Filters: a path filter (rollups) and a user filter (raw) agree with the truth.
    let (from, to) = (day0, day0 + Span::days(3));
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) {
               pricing: overview(projectId: $p, range: $r, filter: {path: \"/pricing\"}) { events pageViews }
               one: overview(projectId: $p, range: $r, filter: {userId: \"u-4\"}) { events uniqueUsers }
               community: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE, filter: {communityId: \"c-1\"}) { key count }
             }",
            json!({"p": pid, "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let t = Truth::new(&evs, from, to);
    let on_pricing = t.evs.iter().filter(|e| e.path == "/pricing").count();
    assert_eq!(r["data"]["pricing"]["events"], json!(on_pricing));
    assert_eq!(
        r["data"]["one"]["events"],
        json!(t
            .evs
            .iter()
            .filter(|e| e.user.as_deref() == Some("u-4"))
            .count())
    );
    assert_eq!(r["data"]["one"]["uniqueUsers"], json!(1));
    assert_eq!(
        keycounts(&r["data"]["community"]),
        t.top(|e| e.community.map(|_| e.kind.to_string()))
    );

    // A property filter (raw events, `metadata @>`): counts, series and the raw page agree with
    // the truth; an empty object matches everything; anything but an object is refused.
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) {
               cta: overview(projectId: $p, range: $r, filter: {props: {selector: \"main > button.cta\"}}) { events uniqueUsers }
               ctaDaily: timeseries(projectId: $p, range: $r, interval: DAY, filter: {props: {selector: \"main > button.cta\"}}) { value }
               ctaRaw: events(projectId: $p, range: $r, first: 200, filter: {props: {selector: \"main > button.cta\"}}) { edges { node { type props } } }
               nothing: overview(projectId: $p, range: $r, filter: {props: {selector: \"no such element\"}}) { events }
               all: overview(projectId: $p, range: $r, filter: {props: {}}) { events }
             }",
            json!({"p": pid, "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let cta: Vec<&&Ev> = t
        .evs
        .iter()
        .filter(|e| e.selector == Some("main > button.cta"))
        .collect();
    assert!(!cta.is_empty());
    assert_eq!(r["data"]["cta"]["events"], json!(cta.len()));
    let cta_actors: BTreeSet<&str> = cta.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(r["data"]["cta"]["uniqueUsers"], json!(cta_actors.len()));
    let daily: f64 = r["data"]["ctaDaily"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| p["value"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(daily as usize, cta.len());
    let raw = r["data"]["ctaRaw"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(raw.len(), cta.len().min(200));
    for e in &raw {
        assert_eq!(
            e["node"]["props"]["selector"],
            json!("main > button.cta"),
            "{e}"
        );
    }
    assert_eq!(r["data"]["nothing"]["events"], json!(0));
    assert_eq!(r["data"]["all"]["events"], json!(t.evs.len()));
    for bad in ["[\"selector\"]", "\"main\"", "3"] {
        let r = app
            .graphql(
                Some(token),
                &format!(
                    "query($p: ID!, $r: TimeRange!) {{ overview(projectId: $p, range: $r, filter: {{props: {bad}}}) {{ events }} }}"
                ),
                json!({"p": pid, "r": range(from, to)}),
            )
            .await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"],
            json!("BAD_USER_INPUT"),
            "{bad}: {r}"
        );
    }

    // Funnel: / -> /pricing -> signup.completed within an hour of entering.
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) {
               funnel(projectId: $p, range: $r, windowSeconds: 3600, steps: [
                 {eventType: \"page.view\", path: \"/\"}, {eventType: \"page.view\", path: \"/pricing\"},
                 {eventType: \"signup.completed\"}]) { steps { eventType path users conversion } }
             }",
            json!({"p": pid, "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let actors_with = |pred: &dyn Fn(&Ev) -> bool| {
        evs.iter()
            .filter(|e| pred(e))
            .map(|e| e.actor.clone())
            .collect::<BTreeSet<_>>()
            .len() as i64
    };
    let want = [
        actors_with(&|e| e.kind == "page.view" && e.path == "/"),
        actors_with(&|e| e.kind == "page.view" && e.path == "/pricing"),
        actors_with(&|e| e.kind == "signup.completed"),
    ];
    let steps = r["data"]["funnel"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let got: Vec<i64> = steps
        .iter()
        .map(|s| s["users"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(got, want.to_vec());
    assert!(
        want[2] > 0 && want[2] < want[1] && want[1] < want[0],
        "the dataset has a real funnel"
    );

    // Retention: cohorts by first day, who came back on each later day.
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) { retention(projectId: $p, range: $r, period: DAY, periods: 3) { start size retained } }",
            json!({"p": pid, "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let mut active: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for e in &evs {
        active
            .entry(e.actor.clone())
            .or_default()
            .insert((e.at - day0).num_days());
    }
    let mut cohorts: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for days in active.values() {
        let first = *days.iter().next().expect("a day");
        let c = cohorts.entry(first).or_insert_with(|| vec![0; 3]);
        for k in 0..3 {
            if days.contains(&(first + k)) {
                c[k as usize] += 1;
            }
        }
    }
    let got: Vec<(i64, Vec<i64>)> = r["data"]["retention"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let start = DateTime::parse_from_rfc3339(c["start"].as_str().unwrap_or(""))
                .expect("start")
                .with_timezone(&Utc);
            (
                (start - day0).num_days(),
                c["retained"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(-1)).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(got, cohorts.into_iter().collect::<Vec<_>>());

    // Weekly: cohorts by the ISO week (Monday) of the first day, weeks counted from it.
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) { retention(projectId: $p, range: $r, period: WEEK, periods: 2) { start size retained } }",
            json!({"p": pid, "r": range(from, to)}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let monday = |d: i64| {
        let date = (day0 + Span::days(d)).date_naive();
        d - i64::from(date.weekday().num_days_from_monday())
    };
    let mut weekly: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for days in active.values() {
        let first = *days.iter().next().expect("a day");
        let w0 = monday(first);
        let c = weekly.entry(w0).or_insert_with(|| vec![0; 2]);
        let weeks: BTreeSet<i64> = days.iter().map(|d| (monday(*d) - w0) / 7).collect();
        for k in 0..2 {
            if weeks.contains(&k) {
                c[k as usize] += 1;
            }
        }
    }
    let got: Vec<(i64, i64, Vec<i64>)> = r["data"]["retention"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let start = DateTime::parse_from_rfc3339(c["start"].as_str().unwrap_or(""))
                .expect("start")
                .with_timezone(&Utc);
            (
                (start - day0).num_days(),
                c["size"].as_i64().unwrap_or(-1),
                c["retained"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(-1)).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let want: Vec<(i64, i64, Vec<i64>)> = weekly
        .into_iter()
        .map(|(w, v)| (w, v.first().copied().unwrap_or(0), v))
        .collect();
    assert_eq!(got, want);

    // Active users on day 2 (HLL day sketches; exact at this size).
    let at = day0 + Span::days(2) + Span::hours(12);
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!, $at: DateTime) { activeUsers(projectId: $p, at: $at) { dau wau mau } }",
            json!({"p": pid, "at": at.to_rfc3339()}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let dau = Truth::new(&evs, day0 + Span::days(2), day0 + Span::days(3)).actors();
    let wau = Truth::new(&evs, day0, day0 + Span::days(3)).actors();
    assert_eq!(
        r["data"]["activeUsers"],
        json!({"dau": dau, "wau": wau, "mau": wau})
    );

    // User and community.
    let r = app
        .graphql(
            Some(token),
            "query($p: ID!) {
               user(projectId: $p, id: \"u-4\") { id events firstSeen timeline(first: 3) { type occurredAt } }
               nobody: user(projectId: $p, id: \"u-999\") { id }
               community(projectId: $p, id: \"c-1\") { id events members topEventTypes { key count } memberIds(first: 100) }
             }",
            json!({"p": pid}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let mine: Vec<&Ev> = evs
        .iter()
        .filter(|e| e.user.as_deref() == Some("u-4"))
        .collect();
    assert_eq!(r["data"]["user"]["events"], json!(mine.len()));
    assert_eq!(
        r["data"]["user"]["timeline"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(r["data"]["nobody"].is_null());
    let members: BTreeSet<String> = evs
        .iter()
        .filter(|e| e.community.is_some())
        .filter_map(|e| e.user.clone())
        .collect();
    assert_eq!(
        r["data"]["community"]["events"],
        json!(evs.iter().filter(|e| e.community.is_some()).count())
    );
    assert_eq!(r["data"]["community"]["members"], json!(members.len()));
    let got_members: BTreeSet<String> = r["data"]["community"]["memberIds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(got_members, members);

    // Raw events: walking every page yields each event exactly once, newest first.
    let mut seen = BTreeSet::new();
    let mut after: Option<String> = None;
    let mut last: Option<DateTime<Utc>> = None;
    loop {
        let r = app
            .graphql(
                Some(token),
                "query($p: ID!, $r: TimeRange!, $a: String) { events(projectId: $p, range: $r, first: 37, after: $a) {
                   edges { cursor node { id type occurredAt props } } pageInfo { hasNextPage endCursor } } }",
                json!({"p": pid, "r": range(from, to), "a": after}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let page = &r["data"]["events"];
        for e in page["edges"].as_array().cloned().unwrap_or_default() {
            let at = DateTime::parse_from_rfc3339(e["node"]["occurredAt"].as_str().unwrap_or(""))
                .expect("t")
                .with_timezone(&Utc);
            assert!(last.is_none_or(|l| at <= l), "newest first");
            last = Some(at);
            assert!(
                seen.insert(e["node"]["id"].as_str().unwrap_or("").to_string()),
                "no event twice"
            );
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), evs.len());

    // The recount (`sightline rollup verify`) finds the stored rollups equal to raw events...
    let (from_day, to_day) = (day0.date_naive(), (day0 + Span::days(4)).date_naive());
    let p = app.project.id;
    let diffs = rollups::verify(&app.db, p, days(from_day, to_day))
        .await
        .expect("verify");
    assert!(diffs.is_empty(), "rollups equal a recount: {diffs:?}");
    // ... reports a tampered cell exactly ...
    sqlx::query(
        "UPDATE rollup_hour SET events = events + 7 WHERE ctid = \
         (SELECT ctid FROM rollup_hour WHERE project_id = $1 AND dim = 'path' LIMIT 1)",
    )
    .bind(p)
    .execute(app.db.pool())
    .await
    .expect("tamper");
    let diffs = rollups::verify(&app.db, p, days(from_day, to_day))
        .await
        .expect("verify");
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].table, "rollup_hour");
    assert_eq!(diffs[0].stored - diffs[0].expected, 7);
    // ... and --fix rewrites the range from raw, after which every answer is unchanged.
    let before = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events sessions bounceRate avgScrollDepth } }",
            json!({"p": pid, "r": range(day0, day0 + Span::days(3))}),
        )
        .await;
    rollups::fix(&app.db, p, days(from_day, to_day))
        .await
        .expect("fix");
    assert!(rollups::verify(&app.db, p, days(from_day, to_day))
        .await
        .expect("verify")
        .is_empty());
    let after = app
        .graphql(
            Some(token),
            "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events sessions bounceRate avgScrollDepth } }",
            json!({"p": pid, "r": range(day0, day0 + Span::days(3))}),
        )
        .await;
    assert!(after["errors"].is_null(), "{after}");
    assert_eq!(before["data"]["overview"], after["data"]["overview"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_get_bad_user_input() {
    let app = spawn_app().await;
    let pid = app.project.id.to_string();
    let now = Utc::now().with_nanosecond(0).unwrap_or_default();
    for (query, vars) in [
        ("query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events } }", json!({"p": pid, "r": range(now, now - Span::hours(1))})),
        ("query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events } }", json!({"p": pid, "r": {"from": now.to_rfc3339(), "to": (now + Span::hours(1)).to_rfc3339(), "timeZone": "Nowhere/City"}})),
        ("query($p: ID!, $r: TimeRange!) { timeseries(projectId: $p, range: $r, interval: MINUTE) { t } }", json!({"p": pid, "r": range(now - Span::days(30), now)})),
        ("query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r, first: 5000) { pageInfo { hasNextPage } } }", json!({"p": pid, "r": range(now - Span::days(1), now)})),
        ("query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r, after: \"garbage\") { pageInfo { hasNextPage } } }", json!({"p": pid, "r": range(now - Span::days(1), now)})),
        ("query($p: ID!, $r: TimeRange!) { funnel(projectId: $p, range: $r, steps: []) { steps { users } } }", json!({"p": pid, "r": range(now - Span::days(1), now)})),
        ("query($r: TimeRange!) { overview(projectId: \"not-a-uuid\", range: $r) { events } }", json!({"r": range(now - Span::days(1), now)})),
    ] {
        let r = app.graphql(Some(&app.admin_token), query, vars).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{query}: {r}");
    }
    app.stop().await;
}

/// The worker leaves actor-days it stored lately out of `actor_activity`'s upsert (they are set).
/// Proven by a lock: while another transaction holds the actor's row, a second event of that
/// actor that day is still stored (the statement no longer touches the row). A GDPR purge
/// deletes the row; the user's return the same day must set it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_actor_days_skip_their_upsert_and_a_purge_does_not_hide_a_return() {
    let app = spawn_app().await;
    let p = app.project.id;
    let user = format!("u-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let ev = || {
        let mut e = crate::helpers::event("page.view");
        e["user_id"] = json!(user);
        e
    };
    let row = |db: sightline::storage::Db| {
        let user = user.clone();
        async move {
            sqlx::query_as::<_, (chrono::NaiveDate, i64)>(
                "SELECT first_day, days FROM actor_activity WHERE project_id = $1 AND actor = $2",
            )
            .bind(p)
            .bind(user)
            .fetch_optional(db.pool())
            .await
            .expect("actor_activity")
        }
    };
    let today = Utc::now().date_naive();
    assert_eq!(app.collect_events(&[ev()]).await.status(), 202);
    assert_eq!(app.wait_for_count(1, Duration::from_secs(10)).await, 1);
    assert_eq!(row(app.db.clone()).await, Some((today, 1)));

    // Hold the actor's row; a known actor-day must not wait for it.
    let mut holder = app.db.pool().begin().await.expect("tx");
    sqlx::query("SELECT 1 FROM actor_activity WHERE project_id = $1 AND actor = $2 FOR UPDATE")
        .bind(p)
        .bind(&user)
        .execute(&mut *holder)
        .await
        .expect("lock");
    assert_eq!(app.collect_events(&[ev()]).await.status(), 202);
    assert_eq!(
        app.wait_for_count(2, Duration::from_secs(5)).await,
        2,
        "stored while the actor's row was locked: its upsert was left out"
    );
    holder.rollback().await.expect("rollback");

    sightline::storage::users::purge(&app.db, p, &user.as_str().try_into().expect("an id"))
        .await
        .expect("purge");
    assert_eq!(row(app.db.clone()).await, None, "the purge deleted the row");
    assert_eq!(app.collect_events(&[ev()]).await.status(), 202);
    assert_eq!(app.wait_for_count(1, Duration::from_secs(10)).await, 1);
    assert_eq!(
        row(app.db.clone()).await,
        Some((today, 1)),
        "back the same day after a purge: active again"
    );
    app.stop().await;
}
