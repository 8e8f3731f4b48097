//! GraphQL over HTTP as the spec says: the spec's own audit suite (`serverAudits` of the
//! `graphql-http` npm package, run by `tests-interop/graphql-http-audit.mjs`) passes with no
//! error, warning or notice, and each behaviour it relies on holds on its own: content
//! negotiation on `Accept`, 400 for request errors under `application/graphql-response+json`
//! and 200 under `application/json`, 400/415 for a missing or foreign content type, queries over
//! GET, mutations over GET refused, the IDE for browsers only (and never in production).

use std::process::Stdio;

use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use reqwest::{Response, StatusCode, Url};
use serde_json::{json, Value};

use sightline::app::Mode;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

fn content_type(r: &Response) -> String {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// POSTs `body` as JSON with `accept` (None: no Accept header); returns status, content type
/// and the JSON body.
async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (StatusCode, String, Value) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(CONTENT_TYPE, JSON)
        .body(body.to_string());
    if let Some(a) = accept {
        req = req.header(ACCEPT, a);
    }
    read(req.send().await.expect("request")).await
}

async fn read(r: Response) -> (StatusCode, String, Value) {
    let (status, ty) = (r.status(), content_type(&r));
    let body = r.json().await.expect("a JSON body");
    (status, ty, body)
}

fn get_url(app: &TestApp, params: &[(&str, &str)]) -> Url {
    Url::parse_with_params(&format!("{}/graphql", app.address), params).expect("url")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_over_http_audit_suite_passes_without_error_or_warning() {
    let app = spawn_app().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests-interop/graphql-http-audit.mjs"
    );
    let out = tokio::process::Command::new("node")
        .arg(script)
        .env("SIGHTLINE_URL", &app.address)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs (scripts/test installs tests-interop)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "graphql-http audits failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" 0 notice, 0 warn, 0 error"),
        "unexpected summary: {summary}\n{stdout}"
    );
    println!("{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_media_type_follows_accept() {
    let app = spawn_app().await;
    let q = json!({"query": "{ __typename }"});
    for (accept, want) in [
        (Some(JSON), JSON),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE,
        ),
        (Some("*/*"), JSON),
        // What the dashboard's fetch and most legacy clients send (or nothing at all).
        (None, JSON),
    ] {
        let (status, ty, body) = post(&app, accept, q.clone()).await;
        assert_eq!(status, 200, "{accept:?}: {body}");
        assert!(ty.starts_with(want), "{accept:?}: content type {ty}");
        assert_eq!(body["data"]["__typename"], "QueryRoot", "{accept:?}");
    }
    // Neither JSON media type acceptable: 406, told in application/json.
    let r = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(CONTENT_TYPE, JSON)
        .header(ACCEPT, "text/html")
        .body(q.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 406);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_are_400_under_graphql_response_json_and_200_under_json() {
    let app = spawn_app().await;
    let syntax = json!({"query": "{"});
    let validation = json!({"query": "{ noSuchField }"});
    let coercion = json!({
        "query": "query($p: ID!) { eventCount(projectId: $p) }",
        "variables": {"p": null},
    });
    let unknown_op = json!({"query": "query A { __typename }", "operationName": "B"});
    for (what, body) in [
        ("syntax error", &syntax),
        ("validation error", &validation),
        ("variable coercion", &coercion),
        ("unknown operation", &unknown_op),
    ] {
        let (status, ty, r) = post(&app, Some(GRAPHQL_RESPONSE), body.clone()).await;
        assert_eq!(status, 400, "{what}: {r}");
        assert!(ty.starts_with(GRAPHQL_RESPONSE), "{what}: {ty}");
        assert!(r.get("data").is_none(), "{what}: no data entry: {r}");
        assert!(r["errors"][0]["message"].is_string(), "{what}: {r}");

        let (status, ty, r) = post(&app, Some(JSON), body.clone()).await;
        assert_eq!(status, 200, "{what} (application/json): {r}");
        assert!(ty.starts_with(JSON), "{what}: {ty}");
        assert!(r.get("data").is_none(), "{what}: no data entry: {r}");
        assert!(r["errors"][0]["message"].is_string(), "{what}: {r}");
    }
    let (_, _, r) = post(&app, Some(GRAPHQL_RESPONSE), syntax).await;
    assert_eq!(r["errors"][0]["locations"][0]["line"], 1, "{r}");

    // A field error is an execution result: 200 in both media types, `data` present, the code
    // in extensions (the dashboard reads it).
    for accept in [GRAPHQL_RESPONSE, JSON] {
        let (status, _, r) =
            post(&app, Some(accept), json!({"query": "{ projects { id } }"})).await;
        assert_eq!(status, 200, "{accept}: {r}");
        assert!(r.get("data").is_some(), "{accept}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }

    // Not a well-formed GraphQL-over-HTTP request: 400 whatever the media type.
    for accept in [GRAPHQL_RESPONSE, JSON] {
        for body in [
            json!({"notquery": "{ __typename }"}),
            json!({"query": 0}),
            json!({"query": "{ __typename }", "variables": "string"}),
            json!([{"query": "{ __typename }"}]),
        ] {
            let (status, _, r) = post(&app, Some(accept), body.clone()).await;
            assert_eq!(status, 400, "{accept} {body}: {r}");
            assert!(r["errors"][0]["message"].is_string(), "{r}");
        }
        let r = app
            .client
            .post(format!("{}/graphql", app.address))
            .header(CONTENT_TYPE, JSON)
            .header(ACCEPT, accept)
            .body("{ \"not a JSON")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400, "{accept}: JSON parse failure");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_must_say_its_body_is_json() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.address);
    let body = json!({"query": "{ __typename }"}).to_string();

    let r = app
        .client
        .post(&url)
        .body(body.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400, "no content type");
    let (_, ty, r) = read(r).await;
    assert!(ty.starts_with(JSON), "{ty}");
    assert!(r["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("Content-Type")));

    for foreign in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
    ] {
        let r = app
            .client
            .post(&url)
            .header(CONTENT_TYPE, foreign)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 415, "{foreign}");
    }
    for fine in ["application/json; charset=utf-8", "Application/JSON"] {
        let r = app
            .client
            .post(&url)
            .header(CONTENT_TYPE, fine)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{fine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_with_the_callers_token() {
    let app = spawn_app().await;
    let q = "query($p: ID!) { eventCount(projectId: $p) }";
    let vars = json!({"p": app.project.id}).to_string();
    for accept in [GRAPHQL_RESPONSE, JSON, "*/*"] {
        let r = app
            .client
            .get(get_url(&app, &[("query", q), ("variables", &vars)]))
            .bearer_auth(&app.admin_token)
            .header(ACCEPT, accept)
            .send()
            .await
            .expect("request");
        let (status, ty, body) = read(r).await;
        assert_eq!(status, 200, "{accept}: {body}");
        let want = if accept == GRAPHQL_RESPONSE {
            GRAPHQL_RESPONSE
        } else {
            JSON
        };
        assert!(ty.starts_with(want), "{accept}: {ty}");
        assert_eq!(body["data"]["eventCount"], 0, "{accept}: {body}");
    }
    // operationName, as the spec spells it.
    let r = app
        .client
        .get(get_url(
            &app,
            &[
                (
                    "query",
                    "query A { a: __typename } query B { b: __typename }",
                ),
                ("operationName", "B"),
            ],
        ))
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .send()
        .await
        .expect("request");
    let (status, _, body) = read(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"b": "QueryRoot"}));
    // Without the token: the resolver's UNAUTHENTICATED, as over POST.
    let r = app
        .client
        .get(get_url(&app, &[("query", "{ projects { id } }")]))
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .send()
        .await
        .expect("request");
    let (status, _, body) = read(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // A GraphQL client's GET without a query: a request without `query`.
    let r = app
        .client
        .get(get_url(&app, &[]))
        .header(ACCEPT, JSON)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_over_get_is_refused_and_not_run() {
    let app = spawn_app().await;
    for accept in [GRAPHQL_RESPONSE, JSON] {
        let r = app
            .client
            .get(get_url(&app, &[("query", "mutation { pauseQueue }")]))
            .bearer_auth(&app.admin_token)
            .header(ACCEPT, accept)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 405, "{accept}");
        assert_eq!(
            r.headers().get(ALLOW).and_then(|v| v.to_str().ok()),
            Some("POST")
        );
        let (_, ty, body) = read(r).await;
        assert!(ty.starts_with(accept), "{ty}");
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
    let state = app
        .graphql(
            Some(&app.admin_token),
            "{ queueState { paused } }",
            json!({}),
        )
        .await;
    assert_eq!(state["data"]["queueState"]["paused"], false, "{state}");
    // The same mutation over POST runs.
    let r = app
        .graphql(Some(&app.admin_token), "mutation { pauseQueue }", json!({}))
        .await;
    assert_eq!(r["data"]["pauseQueue"], true, "{r}");
    let _ = app
        .graphql(
            Some(&app.admin_token),
            "mutation { resumeQueue }",
            json!({}),
        )
        .await;
}

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_the_ide_and_a_subscription_over_http_is_refused() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_GRAPHIQL".into(), "true".into());
    })
    .await;
    let r = app
        .client
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/html"));
    assert!(r.text().await.expect("body").contains("GraphQL console"));

    let (status, _, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        json!({"query": format!("subscription {{ liveEvents(projectId: \"{}\") {{ lagged }} }}", app.project.id)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("/graphql/ws")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ide_is_off_in_production_but_get_queries_work() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_ENV".into(), "production".into());
    })
    .await;
    let r = app
        .client
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(get_url(&app, &[("query", "{ __typename }")]))
        .header(ACCEPT, JSON)
        .send()
        .await
        .expect("request");
    let (status, _, body) = read(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["__typename"], "QueryRoot");
}
