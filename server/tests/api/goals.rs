//! Goals and engagement against a ground truth: visitors generated from a fixed seed are
//! ingested through the real pipeline, and goal conversions, the goal filter, visit durations,
//! entry and exit pages are compared with the same figures computed here, in plain Rust, from
//! the generated events (goal patterns matched segment by segment, not with the server's regex).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline::auth::Role;
use uuid::Uuid;

use crate::helpers::{code, spawn_app, token, TestApp};

const PAGES: &[&str] = &[
    "/",
    "/pricing",
    "/docs",
    "/docs/a",
    "/docs/b",
    "/docs/a/b",
    "/docs/b/c/d",
    "/blog/x",
    "/blog/y/edit",
    "/signup",
];
const HUMAN_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const BOT_UA: &str = "curl/8.4.0";

/// One generated event, as the truth sees it.
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    kind: &'static str,
    visitor: String,
    session: String,
    path: &'static str,
    at: DateTime<Utc>,
    props: Value,
    bot: bool,
}

impl Ev {
    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "type": self.kind,
            "ts": self.at.timestamp_millis(),
            "anonymous_id": self.visitor,
            "session_id": self.session,
            "url": format!("https://shop.example{}", self.path),
            "userAgent": if self.bot { BOT_UA } else { HUMAN_UA },
            "props": self.props,
        })
    }
}

/// 90 human visitors and 6 bots over three days from `day0`, each with one to three visits of
/// one to eight events: page views over nested paths, some `signup.completed` events with a
/// plan, some `element.click` events (not page views, but part of the visit).
fn dataset(day0: DateTime<Utc>, seed: u64) -> Vec<Ev> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for v in 0..96 {
        let bot = v >= 90;
        let visitor = format!("v{v}");
        for s in 0..rng.gen_range(1..=3) {
            let session = format!("v{v}-s{s}");
            let mut t = day0
                + Span::seconds(rng.gen_range(0..3 * 86_400 - 7200))
                + Span::milliseconds(rng.gen_range(0..1000));
            for _ in 0..rng.gen_range(1..=8) {
                let (kind, path, props) = match rng.gen_range(0..10) {
                    0 => {
                        let plan = if rng.gen_bool(0.4) { "pro" } else { "free" };
                        (
                            "signup.completed",
                            "/signup",
                            json!({"plan": plan, "n": rng.gen_range(0..3)}),
                        )
                    }
                    1 => (
                        "element.click",
                        PAGES[rng.gen_range(0..PAGES.len())],
                        json!({"selector": "button"}),
                    ),
                    _ => ("page.view", PAGES[rng.gen_range(0..PAGES.len())], json!({})),
                };
                out.push(Ev {
                    id: Uuid::new_v4(),
                    kind,
                    visitor: visitor.clone(),
                    session: session.clone(),
                    path,
                    at: t,
                    props,
                    bot,
                });
                t += Span::milliseconds(rng.gen_range(1_000..400_000));
            }
        }
    }
    out
}

/// Sends each visit in one request (so its first event sets the visit's attributes) and waits
/// until every event is stored.
async fn load(app: &TestApp, evs: &[Ev]) {
    let mut by_session: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for e in evs {
        by_session.entry(&e.session).or_default().push(e.json());
    }
    for events in by_session.values() {
        let r = app
            .client
            .post(format!("{}/api/v1/track", app.address))
            .bearer_auth(&app.project.secret_key)
            .json(&json!({ "events": events }))
            .send()
            .await
            .expect("track");
        let status = r.status();
        let answer: Value = r.json().await.expect("json");
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["rejected"], json!([]), "{answer}");
    }
    let n = evs.len() as i64;
    assert_eq!(app.wait_for_count(n, Duration::from_secs(60)).await, n);
}

fn day0() -> DateTime<Utc> {
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    Utc.from_utc_datetime(&today) - Span::days(3)
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
    json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()})
}

/// A goal as the truth matches it.
struct GoalDef {
    name: &'static str,
    event_type: &'static str,
    pattern: Option<&'static str>,
    props: Option<Value>,
}

/// Whether a path matches a goal pattern, segment by segment: `*` one segment, `**` any number
/// (zero included), anything else itself.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|k| go(rest, &s[k..])),
            Some((&"*", rest)) => s.first().is_some_and(|x| !x.is_empty()) && go(rest, &s[1..]),
            Some((seg, rest)) => s.first() == Some(seg) && go(rest, &s[1..]),
        }
    }
    let p: Vec<&str> = pattern[1..].split('/').collect();
    let s: Vec<&str> = path[1..].split('/').collect();
    go(&p, &s)
}

/// Whether `have` contains `want` (objects key by key, other values equal): what `@>` does for
/// the flat objects used here.
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|x| contains(x, v))),
        _ => have == want,
    }
}

impl GoalDef {
    fn converts(&self, e: &Ev) -> bool {
        e.kind == self.event_type
            && self.pattern.is_none_or(|p| pattern_matches(p, e.path))
            && self.props.as_ref().is_none_or(|p| contains(&e.props, p))
    }
}

fn goal_defs() -> Vec<GoalDef> {
    vec![
        GoalDef {
            name: "Docs page",
            event_type: "page.view",
            pattern: Some("/docs/*"),
            props: None,
        },
        GoalDef {
            name: "Docs anywhere",
            event_type: "page.view",
            pattern: Some("/docs/**"),
            props: None,
        },
        GoalDef {
            name: "Editing",
            event_type: "page.view",
            pattern: Some("/**/edit"),
            props: None,
        },
        GoalDef {
            name: "Pro signup",
            event_type: "signup.completed",
            pattern: None,
            props: Some(json!({"plan": "pro"})),
        },
        GoalDef {
            name: "Signup",
            event_type: "signup.completed",
            pattern: Some("/signup"),
            props: None,
        },
        GoalDef {
            name: "Never",
            event_type: "page.view",
            pattern: Some("/nope/*"),
            props: None,
        },
    ]
}

const CREATE_GOAL: &str =
    "mutation($p: ID!, $n: String!, $t: String!, $pat: String, $props: JSON) {
  createGoal(projectId: $p, name: $n, eventType: $t, pathPattern: $pat, props: $props) {
    id projectId name eventType pathPattern props createdAt } }";
const GOALS: &str =
    "query($p: ID!) { goals(projectId: $p) { id name eventType pathPattern props } }";
const DELETE_GOAL: &str = "mutation($id: ID!) { deleteGoal(id: $id) }";
const BREAKDOWN: &str = "query($p: ID!, $r: TimeRange!, $d: Dimension!, $f: EventFilter) {
  breakdown(projectId: $p, range: $r, dimension: $d, filter: $f, limit: 100) {
    key visitors visits events pageViews share conversions conversionRate } }";
const OVERVIEW: &str = "query($p: ID!, $r: TimeRange!, $f: EventFilter) {
  overview(projectId: $p, range: $r, filter: $f) { events pageViews visitors sessions } }";

/// Converting visitors, conversions, and the rate, per goal name.
type GoalFigures = BTreeMap<String, (i64, i64, f64)>;

fn goal_truth(evs: &[&Ev], goals: &[GoalDef]) -> GoalFigures {
    let all: BTreeSet<&str> = evs.iter().map(|e| e.visitor.as_str()).collect();
    goals
        .iter()
        .map(|g| {
            let hits: Vec<&&Ev> = evs.iter().filter(|e| g.converts(e)).collect();
            let visitors: BTreeSet<&str> = hits.iter().map(|e| e.visitor.as_str()).collect();
            let rate = visitors.len() as f64 / all.len() as f64;
            (
                g.name.to_string(),
                (visitors.len() as i64, hits.len() as i64, rate),
            )
        })
        .collect()
}

fn goal_rows(v: &Value) -> GoalFigures {
    v.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            assert_eq!(r["events"], r["conversions"], "{r}");
            assert_eq!(r["share"], r["conversionRate"], "{r}");
            (
                r["key"].as_str().expect("key").to_string(),
                (
                    r["visitors"].as_i64().expect("visitors"),
                    r["conversions"].as_i64().expect("conversions"),
                    r["conversionRate"].as_f64().expect("rate"),
                ),
            )
        })
        .collect()
}

fn assert_same_figures(got: &GoalFigures, want: &GoalFigures, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (k, (v, c, r)) in want {
        let (gv, gc, gr) = got[k];
        assert_eq!((gv, gc), (*v, *c), "{what}: goal {k}");
        assert!((gr - r).abs() < 1e-9, "{what}: goal {k} rate {gr} != {r}");
    }
}

async fn create_goals(app: &TestApp, tok: &str) -> HashMap<String, String> {
    let pid = app.project.id.to_string();
    let mut ids = HashMap::new();
    for g in goal_defs() {
        let r = app
            .graphql(
                Some(tok),
                CREATE_GOAL,
                json!({"p": pid, "n": g.name, "t": g.event_type, "pat": g.pattern, "props": g.props}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let goal = &r["data"]["createGoal"];
        assert_eq!(goal["name"], g.name);
        assert_eq!(goal["pathPattern"], json!(g.pattern));
        assert_eq!(goal["props"], g.props.clone().unwrap_or(Value::Null));
        ids.insert(
            g.name.to_string(),
            goal["id"].as_str().expect("id").to_string(),
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_count_past_conversions_and_filter_to_converting_visitors() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 7);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    // Goals defined after the events were stored count them.
    create_goals(&app, &analyst).await;
    let listed = app.graphql(Some(&viewer), GOALS, json!({"p": pid})).await;
    assert!(listed["errors"].is_null(), "{listed}");
    let names: Vec<&str> = listed["data"]["goals"]
        .as_array()
        .expect("goals")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        names,
        goal_defs().iter().map(|g| g.name).collect::<Vec<_>>()
    );

    let goals = goal_defs();
    let ranges = [
        (day0, day0 + Span::days(3)),
        (
            day0 + Span::hours(9) + Span::minutes(17),
            day0 + Span::days(2) + Span::hours(3) + Span::minutes(41),
        ),
    ];
    for (from, to) in ranges {
        let humans: Vec<&Ev> = evs
            .iter()
            .filter(|e| !e.bot && e.at >= from && e.at < to)
            .collect();
        let truth = goal_truth(&humans, &goals);
        // Every pattern kind exercised: some matches, and a pattern that matches less than a
        // wider one.
        assert!(truth["Docs page"].0 > 5 && truth["Docs page"].1 < truth["Docs anywhere"].1);
        assert!(truth["Editing"].0 > 3 && truth["Pro signup"].0 > 3);
        assert!(truth["Pro signup"].1 < truth["Signup"].1);
        assert_eq!(truth["Never"], (0, 0, 0.0));
        let r = app
            .graphql(
                Some(&viewer),
                BREAKDOWN,
                json!({"p": pid, "r": range(from, to), "d": "GOAL"}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let rows = &r["data"]["breakdown"];
        assert_same_figures(&goal_rows(rows), &truth, &format!("{from}..{to}"));
        // Most converting visitors first.
        let order: Vec<i64> = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["visitors"].as_i64().unwrap_or(0))
            .collect();
        assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");

        // Bots converted too, and count only when asked.
        let all: Vec<&Ev> = evs.iter().filter(|e| e.at >= from && e.at < to).collect();
        let with_bots = goal_truth(&all, &goals);
        assert_ne!(with_bots, truth, "the bots convert");
        let r = app
            .graphql(
                Some(&viewer),
                BREAKDOWN,
                json!({"p": pid, "r": range(from, to), "d": "GOAL", "f": {"includeBots": true}}),
            )
            .await;
        assert_same_figures(&goal_rows(&r["data"]["breakdown"]), &with_bots, "with bots");

        // The goal filter: every answer narrowed to the events of the visitors who converted
        // on the goal in the range.
        for (goal, op) in [
            ("Pro signup", "IS"),
            ("Docs page", "IS"),
            ("Pro signup", "IS_NOT"),
        ] {
            let g = goals.iter().find(|g| g.name == goal).expect("goal");
            let converted: BTreeSet<&str> = humans
                .iter()
                .filter(|e| g.converts(e))
                .map(|e| e.visitor.as_str())
                .collect();
            let kept: Vec<&Ev> = humans
                .iter()
                .copied()
                .filter(|e| converted.contains(e.visitor.as_str()) == (op == "IS"))
                .collect();
            let filter = json!({"where": [{"dimension": "GOAL", "op": op, "values": [goal]}]});
            let r = app
                .graphql(
                    Some(&viewer),
                    OVERVIEW,
                    json!({"p": pid, "r": range(from, to), "f": filter}),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            let o = &r["data"]["overview"];
            let visitors: BTreeSet<&str> = kept.iter().map(|e| e.visitor.as_str()).collect();
            let sessions: BTreeSet<&str> = kept.iter().map(|e| e.session.as_str()).collect();
            let views = kept.iter().filter(|e| e.kind == "page.view").count();
            assert_eq!(
                (
                    o["events"].as_i64(),
                    o["pageViews"].as_i64(),
                    o["visitors"].as_i64(),
                    o["sessions"].as_i64()
                ),
                (
                    Some(kept.len() as i64),
                    Some(views as i64),
                    Some(visitors.len() as i64),
                    Some(sessions.len() as i64)
                ),
                "overview, goal {op} {goal}, {from}..{to}"
            );
            // A breakdown narrowed the same way: the converting visitors' pages.
            let r = app
                .graphql(
                    Some(&viewer),
                    BREAKDOWN,
                    json!({"p": pid, "r": range(from, to), "d": "PAGE", "f": filter}),
                )
                .await;
            let mut want: BTreeMap<String, i64> = BTreeMap::new();
            for e in &kept {
                *want.entry(e.path.to_string()).or_default() += 1;
            }
            let got: BTreeMap<String, i64> = r["data"]["breakdown"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| {
                    (
                        r["key"].as_str().unwrap_or("").to_string(),
                        r["events"].as_i64().unwrap_or(-1),
                    )
                })
                .collect();
            assert_eq!(got, want, "pages, goal {op} {goal}");
            // The goal breakdown under its own filter: every kept visitor converted.
            if op == "IS" {
                let r = app
                    .graphql(
                        Some(&viewer),
                        BREAKDOWN,
                        json!({"p": pid, "r": range(from, to), "d": "GOAL", "f": filter}),
                    )
                    .await;
                let rows = goal_rows(&r["data"]["breakdown"]);
                assert_eq!(rows[goal].2, 1.0, "{r}");
                assert_same_figures(&rows, &goal_truth(&kept, &goals), "goal under goal");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_breakdowns_list_events_without_the_property_as_none() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 3);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let (from, to) = (day0 + Span::minutes(30), day0 + Span::days(3));
    for event_type in [Some("signup.completed"), Some("element.click"), None] {
        let mut want: BTreeMap<String, i64> = BTreeMap::new();
        for e in evs.iter().filter(|e| !e.bot && e.at >= from && e.at < to) {
            if event_type.is_some_and(|t| t != e.kind) {
                continue;
            }
            let key = e.props["plan"].as_str().unwrap_or("(none)").to_string();
            *want.entry(key).or_default() += 1;
        }
        let r = app
            .graphql(
                Some(&viewer),
                "query($p: ID!, $r: TimeRange!, $f: EventFilter) {
                   breakdown(projectId: $p, range: $r, dimension: PROPERTY, property: \"plan\",
                             filter: $f, limit: 100) { key events } }",
                json!({"p": pid, "r": range(from, to), "f": {"eventType": event_type}}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let got: BTreeMap<String, i64> = r["data"]["breakdown"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap_or("").to_string(),
                    r["events"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(got, want, "{event_type:?}");
        assert_eq!(
            want.contains_key("(none)"),
            event_type != Some("signup.completed")
        );
    }
    // "(none)" is a value a filter can name: the events without the property.
    let r = app
        .graphql(
            Some(&viewer),
            OVERVIEW,
            json!({"p": pid, "r": range(from, to), "f": {"where": [
                {"dimension": "PROPERTY", "property": "plan", "values": ["(none)"]}]}}),
        )
        .await;
    let without = evs
        .iter()
        .filter(|e| !e.bot && e.at >= from && e.at < to && e.props.get("plan").is_none())
        .count() as i64;
    assert_eq!(
        r["data"]["overview"]["events"].as_i64(),
        Some(without),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_refuse_bad_input_and_lower_roles() {
    let app = spawn_app().await;
    let pid = app.project.id.to_string();
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let create = |tok: String,
                  name: &'static str,
                  t: &'static str,
                  pat: Option<&'static str>,
                  props: Value| {
        let app = &app;
        let pid = pid.clone();
        async move {
            app.graphql(
                Some(&tok),
                CREATE_GOAL,
                json!({"p": pid, "n": name, "t": t, "pat": pat, "props": props}),
            )
            .await
        }
    };
    let message = |r: &Value| r["errors"][0]["message"].as_str().unwrap_or("").to_string();

    // Invalid patterns and definitions: BAD_USER_INPUT with a message, nothing created.
    for (name, t, pat, props, says) in [
        (
            "a",
            "page.view",
            Some("docs/*"),
            Value::Null,
            "starts with /",
        ),
        (
            "a",
            "page.view",
            Some("/docs/**x"),
            Value::Null,
            "whole path segments",
        ),
        ("a", "page.view", Some("/a b"), Value::Null, "no spaces"),
        (
            "a",
            "page.view",
            Some("/a?x=1"),
            Value::Null,
            "without ? or #",
        ),
        ("a", "Page View", None, Value::Null, "dotted lower-case"),
        (" ", "page.view", None, Value::Null, "name is 1 to 100"),
        (
            "a",
            "page.view",
            None,
            json!(["pro"]),
            "props must be a JSON object",
        ),
    ] {
        let r = create(analyst.clone(), name, t, pat, props).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
        assert!(message(&r).contains(says), "{r}");
    }
    // A viewer reads goals but may not create or delete them.
    let r = create(
        viewer.clone(),
        "Docs",
        "page.view",
        Some("/docs/**"),
        Value::Null,
    )
    .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = app.graphql(Some(&viewer), GOALS, json!({"p": pid})).await;
    assert_eq!(r["data"]["goals"], json!([]), "{r}");

    let r = create(
        analyst.clone(),
        "Docs",
        "page.view",
        Some("/docs/**"),
        Value::Null,
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createGoal"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    // The same name again.
    let r = create(analyst.clone(), " Docs ", "page.view", None, Value::Null).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert!(message(&r).contains("already"), "{r}");
    // Another project's analyst sees nothing and deletes nothing.
    let stranger = token(&app, Role::Analyst, Some(&[Uuid::new_v4()]));
    let r = app.graphql(Some(&stranger), GOALS, json!({"p": pid})).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = app
        .graphql(Some(&stranger), DELETE_GOAL, json!({"id": id}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = app
        .graphql(Some(&viewer), DELETE_GOAL, json!({"id": id}))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // A goal filter naming no goal of the project, or comparing by substring.
    let day = range(Utc::now() - Span::days(1), Utc::now());
    for (filter, says) in [
        (
            json!({"where": [{"dimension": "GOAL", "values": ["Nope"]}]}),
            "no goal named \"Nope\"",
        ),
        (
            json!({"where": [{"dimension": "GOAL", "op": "CONTAINS", "values": ["Docs"]}]}),
            "IS or IS_NOT",
        ),
    ] {
        let r = app
            .graphql(
                Some(&viewer),
                OVERVIEW,
                json!({"p": pid, "r": day, "f": filter}),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
        assert!(message(&r).contains(says), "{r}");
        assert!(r["data"].is_null(), "{r}");
    }
    let known = json!({"where": [{"dimension": "GOAL", "values": ["Docs"]}]});
    let r = app
        .graphql(
            Some(&viewer),
            OVERVIEW,
            json!({"p": pid, "r": day, "f": known}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");

    // Deleting: once, then NOT_FOUND; the name is then unknown to filters.
    let r = app
        .graphql(Some(&analyst), DELETE_GOAL, json!({"id": id}))
        .await;
    assert_eq!(r["data"]["deleteGoal"], json!(true), "{r}");
    let r = app
        .graphql(Some(&analyst), DELETE_GOAL, json!({"id": id}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = app
        .graphql(
            Some(&viewer),
            OVERVIEW,
            json!({"p": pid, "r": day, "f": known}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    // Both mutations are in the audit log.
    let r = app
        .graphql(
            Some(&app.admin_token),
            "query($p: ID) { auditLog(projectId: $p) { entries { action target } } }",
            json!({"p": pid}),
        )
        .await;
    let actions: Vec<&str> = r["data"]["auditLog"]["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"goal.create") && actions.contains(&"goal.delete"),
        "{r}"
    );
}

/// One visit as the truth sees it: a session's human events in the range.
struct Visit {
    visitor: String,
    events: i64,
    views: i64,
    duration: f64,
    entry: Option<&'static str>,
    exit: Option<&'static str>,
    pages: BTreeSet<&'static str>,
}

fn visits_of(evs: &[&Ev]) -> Vec<Visit> {
    let mut by_session: BTreeMap<&str, Vec<&Ev>> = BTreeMap::new();
    for e in evs {
        by_session.entry(&e.session).or_default().push(e);
    }
    by_session
        .into_values()
        .map(|mut es| {
            es.sort_by_key(|e| (e.at, e.id));
            let views: Vec<&&Ev> = es.iter().filter(|e| e.kind == "page.view").collect();
            let first = es.first().expect("an event").at;
            let last = es.last().expect("an event").at;
            Visit {
                visitor: es[0].visitor.clone(),
                events: es.len() as i64,
                views: views.len() as i64,
                duration: (last - first).num_milliseconds() as f64 / 1000.0,
                entry: views.first().map(|e| e.path),
                exit: views.last().map(|e| e.path),
                pages: views.iter().map(|e| e.path).collect(),
            }
        })
        .collect()
}

/// Figures of a group of visits: visitors, visits, events, page views, bounce rate, mean
/// duration.
type VisitFigures = (i64, i64, i64, i64, f64, f64);

fn figures<'a>(visits: impl Iterator<Item = &'a Visit>) -> VisitFigures {
    let vs: Vec<&Visit> = visits.collect();
    let n = vs.len() as f64;
    let visitors: BTreeSet<&str> = vs.iter().map(|v| v.visitor.as_str()).collect();
    (
        visitors.len() as i64,
        vs.len() as i64,
        vs.iter().map(|v| v.events).sum(),
        vs.iter().map(|v| v.views).sum(),
        vs.iter().filter(|v| v.views <= 1).count() as f64 / n,
        vs.iter().map(|v| v.duration).sum::<f64>() / n,
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

const VISIT_BREAKDOWN: &str = "query($p: ID!, $r: TimeRange!, $d: Dimension!, $f: EventFilter) {
  breakdown(projectId: $p, range: $r, dimension: $d, filter: $f, limit: 100) {
    key visitors visits events pageViews share bounceRate avgVisitDuration conversions } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_durations_entry_and_exit_pages_equal_the_generated_visits() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 11);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let ranges = [
        (day0, day0 + Span::days(3)),
        (
            day0 + Span::hours(5) + Span::minutes(7),
            day0 + Span::days(2) + Span::hours(20) + Span::minutes(3),
        ),
    ];
    for (from, to) in ranges {
        let humans: Vec<&Ev> = evs
            .iter()
            .filter(|e| !e.bot && e.at >= from && e.at < to)
            .collect();
        let visits = visits_of(&humans);
        let all_visitors = visits
            .iter()
            .map(|v| v.visitor.as_str())
            .collect::<BTreeSet<_>>()
            .len() as f64;
        assert!(visits.iter().any(|v| v.events == 1), "one-event visits");
        assert!(
            visits.iter().any(|v| v.views == 0),
            "visits without a page view"
        );

        // Overview: visits, views per visit, mean duration.
        let r = app
            .graphql(
                Some(&viewer),
                "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) {
                   visits viewsPerVisit avgVisitDuration pageViews } }",
                json!({"p": pid, "r": range(from, to)}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let o = &r["data"]["overview"];
        let (_, n, _, views, _, duration) = figures(visits.iter());
        assert_eq!(o["visits"].as_i64(), Some(n), "{from}..{to}");
        assert!(
            close(
                o["viewsPerVisit"].as_f64().unwrap_or(-1.0),
                views as f64 / n as f64
            ),
            "{o}"
        );
        assert!(
            close(o["avgVisitDuration"].as_f64().unwrap_or(-1.0), duration),
            "{o} != {duration}"
        );

        // Entry and exit pages: keys of visits, every figure from the visits.
        for (dim, key_of) in [
            (
                "ENTRY_PAGE",
                (|v: &Visit| v.entry) as fn(&Visit) -> Option<&'static str>,
            ),
            ("EXIT_PAGE", |v: &Visit| v.exit),
        ] {
            let mut groups: BTreeMap<&str, Vec<&Visit>> = BTreeMap::new();
            for v in &visits {
                if let Some(k) = key_of(v) {
                    groups.entry(k).or_default().push(v);
                }
            }
            let r = app
                .graphql(
                    Some(&viewer),
                    VISIT_BREAKDOWN,
                    json!({"p": pid, "r": range(from, to), "d": dim}),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            let rows = r["data"]["breakdown"].as_array().expect("rows");
            assert_eq!(rows.len(), groups.len(), "{dim}: {r}");
            for row in rows {
                let key = row["key"].as_str().expect("key");
                let want = figures(groups[key].iter().copied());
                let got = (
                    row["visitors"].as_i64().unwrap_or(-1),
                    row["visits"].as_i64().unwrap_or(-1),
                    row["events"].as_i64().unwrap_or(-1),
                    row["pageViews"].as_i64().unwrap_or(-1),
                );
                assert_eq!(got, (want.0, want.1, want.2, want.3), "{dim} {key}");
                assert!(
                    close(row["bounceRate"].as_f64().unwrap_or(-1.0), want.4),
                    "{dim} {row}"
                );
                assert!(
                    close(row["avgVisitDuration"].as_f64().unwrap_or(-1.0), want.5),
                    "{dim} {row} != {}",
                    want.5
                );
                assert!(
                    close(
                        row["share"].as_f64().unwrap_or(-1.0),
                        want.0 as f64 / all_visitors
                    ),
                    "{dim} {row}"
                );
                assert!(row["conversions"].is_null());
            }
        }

        // Pages: a page's visits are those that viewed it.
        let r = app
            .graphql(
                Some(&viewer),
                VISIT_BREAKDOWN,
                json!({"p": pid, "r": range(from, to), "d": "PAGE"}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
        let rows = r["data"]["breakdown"].as_array().expect("rows");
        assert!(rows.len() >= PAGES.len() - 1, "{r}");
        for row in rows {
            let key = row["key"].as_str().expect("key");
            let viewed: Vec<&Visit> = visits
                .iter()
                .filter(|v| v.pages.iter().any(|p| *p == key))
                .collect();
            // Clicks happen on pages too: a page listed only for its clicks has no visit stats.
            let want = if viewed.is_empty() {
                (0.0, 0.0)
            } else {
                let f = figures(viewed.into_iter());
                (f.4, f.5)
            };
            assert!(
                close(row["bounceRate"].as_f64().unwrap_or(-1.0), want.0),
                "{row}"
            );
            assert!(
                close(row["avgVisitDuration"].as_f64().unwrap_or(-1.0), want.1),
                "{row}"
            );
        }
        // A visit attribute (every generated visit is from a desktop browser): all visits.
        let r = app
            .graphql(
                Some(&viewer),
                VISIT_BREAKDOWN,
                json!({"p": pid, "r": range(from, to), "d": "DEVICE"}),
            )
            .await;
        let row = &r["data"]["breakdown"][0];
        let all = figures(visits.iter());
        assert_eq!(row["key"], "desktop", "{r}");
        assert!(
            close(row["bounceRate"].as_f64().unwrap_or(-1.0), all.4),
            "{row}"
        );
        assert!(
            close(row["avgVisitDuration"].as_f64().unwrap_or(-1.0), all.5),
            "{row}"
        );
        // Not a dimension of visits: no visit figures.
        let r = app
            .graphql(
                Some(&viewer),
                VISIT_BREAKDOWN,
                json!({"p": pid, "r": range(from, to), "d": "EVENT_TYPE"}),
            )
            .await;
        assert!(r["data"]["breakdown"][0]["bounceRate"].is_null(), "{r}");
    }
    // Entry and exit pages are keys of visits, not filters.
    let r = app
        .graphql(
            Some(&viewer),
            VISIT_BREAKDOWN,
            json!({"p": pid, "r": range(day0, day0 + Span::days(1)), "d": "PAGE",
                   "f": {"where": [{"dimension": "ENTRY_PAGE", "values": ["/"]}]}}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdowns_compare_each_key_with_the_previous_period() {
    let app = spawn_app().await;
    let day0 = day0();
    let evs = dataset(day0, 5);
    load(&app, &evs).await;
    let pid = app.project.id.to_string();
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    create_goals(&app, &analyst).await;
    let goals = goal_defs();
    let query = "query($p: ID!, $r: TimeRange!, $d: Dimension!, $c: Comparison) {
      breakdown(projectId: $p, range: $r, dimension: $d, limit: 100, compare: $c) {
        key visitors events conversions previous { key visitors visits events conversions
        bounceRate avgVisitDuration previous { key } } } }";
    // Whole days (the day before), and an odd range (its exact length before).
    for (from, to) in [
        (day0 + Span::days(2), day0 + Span::days(3)),
        (
            day0 + Span::days(1) + Span::hours(13) + Span::minutes(5),
            day0 + Span::days(2) + Span::hours(1),
        ),
    ] {
        let before = from - (to - from);
        let humans = |a: DateTime<Utc>, b: DateTime<Utc>| -> Vec<&Ev> {
            evs.iter()
                .filter(|e| !e.bot && e.at >= a && e.at < b)
                .collect()
        };
        let prev = humans(before, from);
        for dim in ["PAGE", "GOAL", "ENTRY_PAGE"] {
            let r = app
                .graphql(
                    Some(&analyst),
                    query,
                    json!({"p": pid, "r": range(from, to), "d": dim, "c": "PREVIOUS_PERIOD"}),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            let rows = r["data"]["breakdown"].as_array().expect("rows");
            assert!(rows.len() > 3, "{r}");
            let prev_visits = visits_of(&prev);
            let prev_goals = goal_truth(&prev, &goals);
            for row in rows {
                let key = row["key"].as_str().expect("key");
                let p = &row["previous"];
                assert_eq!(p["key"], key, "{row}");
                assert!(p["previous"].is_null(), "{row}");
                let (visitors, events) = match dim {
                    "PAGE" => {
                        let on: Vec<&&Ev> = prev.iter().filter(|e| e.path == key).collect();
                        let v: BTreeSet<&str> = on.iter().map(|e| e.visitor.as_str()).collect();
                        (v.len() as i64, on.len() as i64)
                    }
                    "GOAL" => {
                        let (v, c, _) = prev_goals[key];
                        assert_eq!(p["conversions"].as_i64(), Some(c), "{row}");
                        (v, c)
                    }
                    _ => {
                        let entered: Vec<&Visit> = prev_visits
                            .iter()
                            .filter(|v| v.entry == Some(key))
                            .collect();
                        if entered.is_empty() {
                            (0, 0)
                        } else {
                            let f = figures(entered.into_iter());
                            assert!(close(p["bounceRate"].as_f64().unwrap_or(-1.0), f.4));
                            assert!(close(p["avgVisitDuration"].as_f64().unwrap_or(-1.0), f.5));
                            (f.0, f.2)
                        }
                    }
                };
                assert_eq!(
                    (p["visitors"].as_i64(), p["events"].as_i64()),
                    (Some(visitors), Some(events)),
                    "{dim} {key} over {before}..{from}: {row}"
                );
            }
        }
    }
    // Without `compare`, no previous figures.
    let r = app
        .graphql(
            Some(&analyst),
            query,
            json!({"p": pid, "r": range(day0, day0 + Span::days(1)), "d": "PAGE"}),
        )
        .await;
    assert!(r["data"]["breakdown"][0]["previous"].is_null(), "{r}");
}
