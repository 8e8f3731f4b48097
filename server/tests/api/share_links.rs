//! Shared links: a token from `createShareLink` (admins and analysts of the project) reads its
//! project at viewer level with no login, sent as `X-Sightline-Share`; it is FORBIDDEN for other
//! projects, for user-level data and for every mutation; it is UNAUTHENTICATED once revoked (at
//! once in the process that revoked it, within the 5 s cache in another) and when unknown.
//! Only the token's SHA-256 is stored; creation and revocation are in the audit log.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use sightline::app::Mode;
use sightline::auth::Role;

use crate::helpers::{code, create_project, event, spawn_app, start, token, TestApp, TestSql};

const SHARE_HEADER: &str = "X-Sightline-Share";

/// A GraphQL request with a shared link's token (and nothing else).
async fn shared(app: &TestApp, share: &str, query: &str, variables: Value) -> Value {
    app.client
        .post(format!("{}/graphql", app.address))
        .header(SHARE_HEADER, share)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

async fn ok(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let r = app.graphql(Some(token), query, vars).await;
    assert!(r["errors"].is_null(), "{query}: {r}");
    r["data"].clone()
}

const CREATE: &str = "mutation($p: ID!, $l: String) { createShareLink(projectId: $p, label: $l) { token path link { id projectId label createdBy createdAt revokedAt } } }";
const OVERVIEW: &str =
    "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events uniqueUsers pageViews } }";

fn range() -> Value {
    let now = Utc::now();
    json!({"from": (now - Span::hours(1)).to_rfc3339(), "to": (now + Span::minutes(5)).to_rfc3339()})
}

/// Creates a link of `project` with `token`; returns (link id, secret token).
async fn create_link(app: &TestApp, token: &str, project: &str, label: &str) -> (String, String) {
    let d = ok(app, token, CREATE, json!({"p": project, "l": label})).await;
    let c = &d["createShareLink"];
    let secret = c["token"].as_str().expect("token").to_string();
    assert_eq!(c["path"], format!("/#/share/{secret}"));
    (c["link"]["id"].as_str().expect("id").to_string(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_link_reads_its_project_only_and_stops_when_revoked() {
    let app = spawn_app().await;
    let root = app.admin_token.clone();
    let p = app.project.id.to_string();
    let (other, _) = create_project(&app.db, "someone else's").await;
    let q = other.id.to_string();

    // Known traffic: 7 page views and 3 clicks of 4 visitors.
    let mut sent = Vec::new();
    for i in 0..10 {
        let mut e = event(if i < 7 { "page.view" } else { "element.click" });
        e["anonymous_id"] = json!(format!("visitor-{}", i % 4));
        sent.push(e);
    }
    assert_eq!(app.collect_events(&sent).await.status(), 202);
    app.wait_for_count(10, Duration::from_secs(20)).await;
    let visitors: HashSet<&str> = sent
        .iter()
        .filter_map(|e| e["anonymous_id"].as_str())
        .collect();
    let views = sent.iter().filter(|e| e["type"] == "page.view").count();

    // An analyst of the project creates one; the answer is the only place the token appears.
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let (id, secret) = create_link(&app, &analyst, &p, "  weekly report ").await;
    assert!(
        secret.starts_with("shr_") && secret.len() == 4 + 64,
        "{secret}"
    );
    let row: (String, Option<String>, String) =
        sqlx::query_as("SELECT token_hash, label, created_by FROM share_links WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(app.db.pool())
            .await
            .expect("stored");
    assert_eq!(row.0, hex::encode(Sha256::digest(secret.as_bytes())));
    assert_eq!(row.1.as_deref(), Some("weekly report"));
    assert_eq!(row.2, "analyst-test");
    let dump: String =
        sqlx::query_scalar("SELECT string_agg(share_links::text, '|') FROM share_links")
            .fetch_one(app.db.pool())
            .await
            .expect("dump");
    assert!(
        !dump.contains(&secret[4..]),
        "the token itself is stored nowhere"
    );

    // Reads of its project work, as a viewer of that project only.
    let vars = json!({"p": p, "r": range()});
    let r = shared(&app, &secret, OVERVIEW, vars.clone()).await;
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(r["data"]["overview"]["events"], sent.len() as i64);
    assert_eq!(r["data"]["overview"]["pageViews"], views as i64);
    assert_eq!(r["data"]["overview"]["uniqueUsers"], visitors.len() as i64);
    let me = shared(
        &app,
        &secret,
        "{ me { role projects } projects { id } }",
        json!({}),
    )
    .await;
    assert_eq!(me["data"]["me"]["role"], "viewer", "{me}");
    assert_eq!(me["data"]["me"]["projects"], json!([p]));
    assert_eq!(me["data"]["projects"], json!([{"id": p}]));
    let top = shared(
        &app,
        &secret,
        "query($p: ID!, $r: TimeRange!) { eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE) { key count } }",
        vars.clone(),
    )
    .await;
    assert_eq!(
        top["data"]["eventCounts"],
        json!([{"key": "page.view", "count": 7}, {"key": "element.click", "count": 3}]),
        "{top}"
    );

    // Another project, user-level data and the links themselves: FORBIDDEN.
    let foreign = shared(&app, &secret, OVERVIEW, json!({"p": q, "r": range()})).await;
    assert_eq!(code(&foreign), "FORBIDDEN", "{foreign}");
    for query in [
        "query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r) { pageInfo { hasNextPage } } }",
        "query($p: ID!) { shareLinks(projectId: $p) { id } }",
        "query($p: ID) { auditLog(projectId: $p) { entries { id } } }",
    ] {
        let r = shared(&app, &secret, query, vars.clone()).await;
        assert_eq!(code(&r), "FORBIDDEN", "{query}: {r}");
    }

    // Every mutation is FORBIDDEN, even those that need no role (logout) or no token (login),
    // and nothing of them happens.
    for (query, v) in [
        ("mutation($p: ID!) { createShareLink(projectId: $p) { token } }", json!({"p": p})),
        ("mutation($id: ID!) { revokeShareLink(id: $id) }", json!({"id": id})),
        ("mutation($id: ID!) { updateProject(id: $id, name: \"mine\") { id } }", json!({"id": p})),
        ("mutation($p: ID!) { trackEvents(projectId: $p, events: []) { accepted } }", json!({"p": p})),
        ("mutation { logout }", json!({})),
        ("mutation { signOutEverywhere }", json!({})),
        ("mutation { login(email: \"a@b.example\", password: \"correct horse battery\") { token } }", json!({})),
        // A mutation picked among several operations of one document.
        ("query A { me { role } } mutation B { logout }", json!({})),
    ] {
        let mut body = json!({"query": query, "variables": v});
        if query.contains("mutation B") {
            body["operationName"] = json!("B");
        }
        let r: Value = app
            .client
            .post(format!("{}/graphql", app.address))
            .header(SHARE_HEADER, &secret)
            .json(&body)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(code(&r), "FORBIDDEN", "{query}: {r}");
    }
    let links = ok(
        &app,
        &root,
        "query($p: ID!) { shareLinks(projectId: $p) { id label revokedAt } }",
        json!({"p": p}),
    )
    .await;
    assert_eq!(
        links["shareLinks"],
        json!([{"id": id, "label": "weekly report", "revokedAt": null}])
    );
    let name = ok(&app, &root, "query { projects { name } }", json!({})).await;
    assert!(!name.to_string().contains("mine"), "{name}");

    // The link's token wins over a session cookie or Authorization sent along: still read-only.
    let r: Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(SHARE_HEADER, &secret)
        .bearer_auth(&root)
        .json(&json!({"query": "mutation { pauseQueue }"}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // Unknown and malformed tokens: UNAUTHENTICATED.
    let forged = format!("shr_{}", "0".repeat(64));
    for bad in [
        forged.as_str(),
        "shr_nothex",
        "",
        &secret[..secret.len() - 1],
    ] {
        let r = shared(&app, bad, OVERVIEW, vars.clone()).await;
        assert_eq!(code(&r), "UNAUTHENTICATED", "{bad:?}: {r}");
    }

    // Revoked: refused at once in this process; the list says when; a second revoke is false.
    let d = ok(
        &app,
        &analyst,
        "mutation($id: ID!) { revokeShareLink(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(d["revokeShareLink"], true);
    let r = shared(&app, &secret, OVERVIEW, vars.clone()).await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    assert!(
        r["data"].is_null() || r["data"]["overview"].is_null(),
        "{r}"
    );
    let d = ok(
        &app,
        &root,
        "mutation($id: ID!) { revokeShareLink(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(d["revokeShareLink"], false);
    let links = ok(
        &app,
        &root,
        "query($p: ID!) { shareLinks(projectId: $p) { revokedAt } }",
        json!({"p": p}),
    )
    .await;
    assert!(links["shareLinks"][0]["revokedAt"].is_string(), "{links}");

    // Both changes are in the audit log, with who and which project.
    let log = ok(&app, &root, "query($p: ID) { auditLog(projectId: $p) { entries { actor action projectIds target detail } } }", json!({"p": p})).await;
    let entries: Vec<(String, String, String)> = log["auditLog"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == id.as_str())
        .map(|e| {
            assert_eq!(e["projectIds"], json!([p]));
            (
                e["actor"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
                e["detail"]["label"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want = |actor: &str, action: &str| {
        (
            actor.to_string(),
            action.to_string(),
            "weekly report".to_string(),
        )
    };
    assert_eq!(
        entries,
        vec![
            want("test-admin", "share_link.revoke"),
            want("analyst-test", "share_link.revoke"),
            want("analyst-test", "share_link.create"),
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_and_analysts_of_the_project_manage_links() {
    let app = spawn_app().await;
    let p = app.project.id.to_string();
    let (other, _) = create_project(&app.db, "another tenant").await;
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let foreign_analyst = token(&app, Role::Analyst, Some(&[other.id]));
    let service = token(&app, Role::Service, Some(&[app.project.id]));
    let scoped_admin = token(&app, Role::Admin, Some(&[app.project.id]));

    for t in [viewer.as_str(), foreign_analyst.as_str(), service.as_str()] {
        let r = app
            .graphql(Some(t), CREATE, json!({"p": p, "l": null}))
            .await;
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
        let r = app
            .graphql(
                Some(t),
                "query($p: ID!) { shareLinks(projectId: $p) { id } }",
                json!({"p": p}),
            )
            .await;
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
    }
    let r = app.graphql(None, CREATE, json!({"p": p})).await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");

    let (id, _) = create_link(&app, &scoped_admin, &p, "board").await;
    for t in [viewer.as_str(), foreign_analyst.as_str()] {
        let r = app
            .graphql(
                Some(t),
                "mutation($id: ID!) { revokeShareLink(id: $id) }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
    }
    let r = app
        .graphql(
            Some(&scoped_admin),
            "mutation($id: ID!) { revokeShareLink(id: $id) }",
            json!({"id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    // Bad input is told, never stored.
    for (label, project) in [
        ("x".repeat(101), p.clone()),
        ("tab\there".into(), p.clone()),
        ("ok".into(), "not-a-uuid".into()),
    ] {
        let r = app
            .graphql(
                Some(&scoped_admin),
                CREATE,
                json!({"p": project, "l": label}),
            )
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    }
    let missing = uuid::Uuid::new_v4().to_string();
    let r = app
        .graphql(Some(&app.admin_token), CREATE, json!({"p": missing}))
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM share_links")
        .fetch_one(app.db.pool())
        .await
        .expect("count");
    assert_eq!(n, 1);
    app.stop().await;
}

/// Whether the link still reads (false: UNAUTHENTICATED).
async fn works(app: &TestApp, secret: &str, vars: &Value) -> bool {
    let r = shared(app, secret, OVERVIEW, vars.clone()).await;
    match code(&r).as_str() {
        "<none>" => true,
        "UNAUTHENTICATED" => false,
        other => panic!("unexpected {other}: {r}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_refuses_a_revoked_link_within_the_cache_time() {
    let app = spawn_app().await;
    let other = start(app.env.clone(), Mode::Serve, Some(&app.project)).await;
    let p = app.project.id.to_string();
    let (id, secret) = create_link(&app, &app.admin_token, &p, "tv").await;
    let vars = json!({"p": p, "r": range()});
    assert!(
        works(&other, &secret, &vars).await,
        "the other process caches the link"
    );
    ok(
        &app,
        &app.admin_token,
        "mutation($id: ID!) { revokeShareLink(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert!(
        !works(&app, &secret, &vars).await,
        "refused at once where it was revoked"
    );
    let started = Instant::now();
    while works(&other, &secret, &vars).await {
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The cache lives 5 s (`auth::share::CACHE_TTL`): the refusal comes within it (and a poll).
    assert!(
        started.elapsed() <= Duration::from_millis(5400),
        "{:?}",
        started.elapsed()
    );
    other.stop().await;
    app.stop().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` socket whose `connection_init` carries a shared link's token; the
/// answer to it (the ack), or the close code.
async fn shared_socket(app: &TestApp, share: &str) -> (Ws, Result<Value, Option<u16>>) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let mut req = format!("ws://127.0.0.1:{}/graphql/ws", app.port)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    let init = json!({"type": "connection_init", "payload": {"X-Sightline-Share": share}});
    ws.send(Message::Text(init.to_string().into()))
        .await
        .expect("send");
    let answer = next_message(&mut ws).await;
    (ws, answer)
}

/// The next text message as JSON, or the close code (within 5 s).
async fn next_message(ws: &mut Ws) -> Result<Value, Option<u16>> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Err(_) => panic!("nothing within 5 s"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).expect("json")),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return Err(None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_websocket_a_shared_link_runs_queries_but_no_subscription() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let app = spawn_app().await;
    let p = app.project.id.to_string();
    let (id, secret) = create_link(&app, &app.admin_token, &p, "wall screen").await;

    let (mut ws, ack) = shared_socket(&app, &secret).await;
    assert_eq!(ack.expect("acknowledged")["type"], "connection_ack");
    let ask = |id: &str, query: &str| json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": {"p": p}}});
    let query = ask("q", "{ me { role projects } }");
    ws.send(Message::Text(query.to_string().into()))
        .await
        .expect("send");
    let m = next_message(&mut ws).await.expect("answer");
    assert_eq!(m["type"], "next", "{m}");
    assert_eq!(
        m["payload"]["data"]["me"],
        json!({"role": "viewer", "projects": [p]}),
        "{m}"
    );
    for (id, q) in [
        (
            "s",
            "subscription($p: ID!) { liveStats(projectId: $p) { events } }",
        ),
        ("m", "mutation { logout }"),
    ] {
        let sub = ask(id, q);
        ws.send(Message::Text(sub.to_string().into()))
            .await
            .expect("send");
        let m = loop {
            let m = next_message(&mut ws).await.expect("answer");
            if m["type"] != "complete" {
                break m;
            }
        };
        assert_eq!(m["id"], id, "{m}");
        assert_eq!(
            m["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{q}: {m}"
        );
    }

    // Revoked (or unknown): the socket is refused at `connection_init`.
    ok(
        &app,
        &app.admin_token,
        "mutation($id: ID!) { revokeShareLink(id: $id) }",
        json!({"id": id}),
    )
    .await;
    let (_, refused) = shared_socket(&app, &secret).await;
    assert_eq!(refused.expect_err("closed"), Some(4403));
    app.stop().await;
}
