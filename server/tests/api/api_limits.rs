//! What one caller can take from everyone else: an analytics query is bounded in time (the
//! read connection's statement_timeout, the request's deadline), a project runs a bounded
//! number of queries at once, and a GraphQL WebSocket must introduce itself in time, ends with
//! its token, runs a bounded number of subscriptions and is pinged. WebSocket frames are read
//! raw (close codes, pings), with tokio-tungstenite.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use sightline::app::Mode;
use sightline::auth::{JwtKeys, Role};

use crate::helpers::{create_project, spawn_app_with, TestApp, TestSql};

fn codes(r: &Value) -> Vec<String> {
    r["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Holds `ACCESS EXCLUSIVE` on `activities` until dropped (rolled back): every query that
/// reads raw events waits for it, as behind a very expensive query.
async fn lock_activities(app: &TestApp) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = app.db.pool().begin().await.expect("begin");
    sqlx::query("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .expect("lock");
    tx
}

const EVENT_COUNT: &str = "query($p: ID!) { eventCount(projectId: $p) }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_the_statement_timeout_fails_with_a_code_not_a_hang() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_QUERY_TIMEOUT_MS".into(), "300".into());
    })
    .await;
    let vars = json!({"p": app.project.id.to_string()});
    let lock = lock_activities(&app).await;
    let started = Instant::now();
    let r = app
        .graphql(Some(&app.admin_token), EVENT_COUNT, vars.clone())
        .await;
    let took = started.elapsed();
    assert_eq!(codes(&r), ["TIMEOUT"], "{r}");
    assert!(took < Duration::from_secs(3), "answered in {took:?}");
    drop(lock);
    let r = app.graphql(Some(&app.admin_token), EVENT_COUNT, vars).await;
    assert_eq!(r["data"]["eventCount"], 0, "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_answered_timeout() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_QUERY_TIMEOUT_MS".into(), "0".into());
        env.insert("SIGHTLINE_REQUEST_TIMEOUT_MS".into(), "500".into());
    })
    .await;
    let vars = json!({"p": app.project.id.to_string()});
    let lock = lock_activities(&app).await;
    let started = Instant::now();
    let r = app.graphql(Some(&app.admin_token), EVENT_COUNT, vars).await;
    let took = started.elapsed();
    assert_eq!(codes(&r), ["TIMEOUT"], "{r}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(lock);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_runs_a_bounded_number_of_queries_while_others_are_served() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_QUERY_TIMEOUT_MS".into(), "0".into());
        env.insert("SIGHTLINE_QUERIES_PER_PROJECT".into(), "2".into());
    })
    .await;
    let a = app.project.id.to_string();
    let (b, _) = create_project(&app.db, "another tenant").await;
    let lock = lock_activities(&app).await;
    // Five aliased copies of one query of project A, in one request.
    let aliased = "query($p: ID!) { q1: eventCount(projectId: $p) q2: eventCount(projectId: $p) q3: eventCount(projectId: $p) q4: eventCount(projectId: $p) q5: eventCount(projectId: $p) }";
    let (client, address, token) = (
        app.client.clone(),
        app.address.clone(),
        app.admin_token.clone(),
    );
    let held = tokio::spawn({
        let a = a.clone();
        async move {
            client
                .post(format!("{address}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": aliased, "variables": {"p": a}}))
                .send()
                .await
                .expect("post")
                .json::<Value>()
                .await
                .expect("json")
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While A's two slots are taken: another query of A is refused after its short wait...
    let started = Instant::now();
    let r = app
        .graphql(Some(&app.admin_token), EVENT_COUNT, json!({"p": a}))
        .await;
    assert_eq!(codes(&r), ["RATE_LIMITED"], "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // ...and project B is served (from rollups, which the lock does not hold).
    let now = chrono::Utc::now();
    let to = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        + chrono::Duration::days(1);
    let from = to - chrono::Duration::days(7);
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        app.graphql(
            Some(&app.admin_token),
            "query($p: ID!, $r: TimeRange!) { eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE) { key count } }",
            json!({"p": b.id.to_string(), "r": {"from": from.to_rfc3339(), "to": to.to_rfc3339()}}),
        ),
    )
    .await
    .expect("project B is answered while A waits");
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(r["data"]["eventCounts"], json!([]), "{r}");
    drop(lock);
    let r = held.await.expect("request A");
    let mut refused = codes(&r);
    refused.sort();
    assert_eq!(refused, ["RATE_LIMITED"; 3], "{r}");
    let answered = (1..=5)
        .filter(|i| r["data"][format!("q{i}")].as_i64() == Some(0))
        .count();
    assert_eq!(answered, 2, "{r}");
    // The slots are free again.
    let r = app
        .graphql(Some(&app.admin_token), EVENT_COUNT, json!({"p": a}))
        .await;
    assert_eq!(r["data"]["eventCount"], 0, "{r}");
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(app: &TestApp) -> Ws {
    let mut req = format!("ws://127.0.0.1:{}/graphql/ws", app.port)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.as_bytes()),
        Some(&b"graphql-transport-ws"[..])
    );
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// The next text message as JSON, or the close code, within `within`.
async fn next(ws: &mut Ws, within: Duration) -> Result<Value, Option<u16>> {
    let until = Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!("nothing within {within:?}"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).expect("json")),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return Err(None),
        }
    }
}

async fn init(ws: &mut Ws, token: Option<&str>) -> Result<Value, Option<u16>> {
    let payload = match token {
        Some(t) => json!({"Authorization": format!("Bearer {t}")}),
        None => json!({}),
    };
    send(ws, json!({"type": "connection_init", "payload": payload})).await;
    next(ws, Duration::from_secs(5)).await
}

fn subscribe(id: &str, project: &str) -> Value {
    json!({"id": id, "type": "subscribe", "payload": {
        "query": "subscription($p: ID!) { liveStats(projectId: $p) { events } }",
        "variables": {"p": project}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_without_connection_init_is_closed_4408_and_a_bad_token_4403() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_WS_INIT_TIMEOUT_SECS".into(), "1".into());
    })
    .await;
    let mut ws = ws_connect(&app).await;
    let started = Instant::now();
    assert_eq!(next(&mut ws, Duration::from_secs(5)).await, Err(Some(4408)));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    let mut ws = ws_connect(&app).await;
    assert_eq!(init(&mut ws, Some("not-a-token")).await, Err(Some(4403)));

    // No token: acknowledged; each subscription then says UNAUTHENTICATED.
    let mut ws = ws_connect(&app).await;
    assert_eq!(
        init(&mut ws, None).await,
        Ok(json!({"type": "connection_ack"}))
    );
    send(&mut ws, subscribe("1", &app.project.id.to_string())).await;
    let m = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("a message");
    assert_eq!(
        m["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{m}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_socket_is_closed_4401_when_its_token_expires() {
    let app = spawn_app_with(Mode::Serve, |_| {}).await;
    let short = JwtKeys::from_settings(&app.settings.jwt)
        .expect("keys")
        .issue("short", Role::Admin, None, Some(Duration::from_secs(3)))
        .expect("token");
    let mut ws = ws_connect(&app).await;
    assert_eq!(
        init(&mut ws, Some(&short)).await,
        Ok(json!({"type": "connection_ack"}))
    );
    send(&mut ws, subscribe("1", &app.project.id.to_string())).await;
    let started = Instant::now();
    let mut ticks = 0;
    let code = loop {
        match next(&mut ws, Duration::from_secs(10)).await {
            Ok(m) => {
                assert_eq!(m["type"], "next", "{m}");
                ticks += 1;
            }
            Err(code) => break code,
        }
    };
    assert_eq!(code, Some(4401));
    assert!(ticks >= 1, "the subscription ran until then");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "{took:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_runs_a_bounded_number_of_subscriptions() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_WS_MAX_SUBSCRIPTIONS".into(), "2".into());
    })
    .await;
    let p = app.project.id.to_string();
    let mut ws = ws_connect(&app).await;
    assert_eq!(
        init(&mut ws, Some(&app.admin_token)).await,
        Ok(json!({"type": "connection_ack"}))
    );
    for id in ["1", "2", "3"] {
        send(&mut ws, subscribe(id, &p)).await;
    }
    let mut seen_next = std::collections::BTreeSet::new();
    let mut refused = Vec::new();
    while seen_next.len() < 2 || refused.is_empty() {
        let m = next(&mut ws, Duration::from_secs(5))
            .await
            .expect("a message");
        match m["type"].as_str() {
            Some("next") => {
                seen_next.insert(m["id"].as_str().unwrap_or_default().to_string());
            }
            Some("error") => refused.push(m),
            _ => panic!("{m}"),
        }
    }
    assert_eq!(seen_next.into_iter().collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["id"], "3");
    assert_eq!(
        refused[0]["payload"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
    // Completing one frees its place.
    send(&mut ws, json!({"id": "1", "type": "complete"})).await;
    send(&mut ws, subscribe("4", &p)).await;
    let until = Instant::now() + Duration::from_secs(5);
    let mut four = false;
    while Instant::now() < until && !four {
        let m = next(&mut ws, Duration::from_secs(5))
            .await
            .expect("a message");
        assert_ne!(m["type"], "error", "{m}");
        four = m["type"] == "next" && m["id"] == "4";
    }
    assert!(four, "subscription 4 runs");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_pinged_and_a_silent_peer_is_closed() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_WS_KEEPALIVE_SECS".into(), "1".into());
    })
    .await;
    let mut ws = ws_connect(&app).await;
    assert_eq!(
        init(&mut ws, Some(&app.admin_token)).await,
        Ok(json!({"type": "connection_ack"}))
    );
    // A live client gets pings and answers them (tungstenite answers while reading).
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < until {
        match tokio::time::timeout(until - Instant::now(), ws.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Close(f)))) => panic!("closed: {f:?}"),
            Ok(Some(Ok(_))) => {}
            Ok(_) | Err(_) => break,
        }
    }
    assert!(pings >= 2, "{pings} pings in 3.5 s");
    // A peer that stops answering (reads nothing, so sends no pong) is closed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
        match msg {
            Ok(Message::Close(f)) => {
                closed = Some(f.map(|f| f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => {
                closed = Some(None);
                break;
            }
        }
    }
    // Closed by the server: its close frame (1001), or the reset that follows it when our
    // late pongs reach a socket it already closed. Without the guard nothing ends.
    assert!(
        matches!(closed, Some(None) | Some(Some(CloseCode::Away))),
        "{closed:?}"
    );
    app.stop().await;
}
