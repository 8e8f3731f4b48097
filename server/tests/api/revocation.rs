//! Revocation: a token from `login` stops working after its account's role changes, after "sign
//! out everywhere", a disable, a password reset or a delete, in the process that made the change
//! at once and in another process within the cache's few seconds. Tokens no account backs
//! (`sightline token`) keep working. Scoped admins manage only accounts within their projects.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use sightline::app::Mode;
use sightline::auth::{JwtKeys, Role};

use crate::helpers::{create_project, spawn_app, start, TestApp};

const ME: &str = "{ me { role } }";

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

async fn login(app: &TestApp, email: &str, password: &str) -> Result<String, Value> {
    let r = app
        .graphql(
            None,
            "mutation($e: String!, $pw: String!) { login(email: $e, password: $pw) { token } }",
            json!({"e": email, "pw": password}),
        )
        .await;
    r["data"]["login"]["token"]
        .as_str()
        .map(str::to_string)
        .ok_or(r)
}

/// Runs an admin mutation and fails the test on an error.
async fn admin(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let r = app.graphql(Some(token), query, vars).await;
    assert!(r["errors"].is_null(), "{query}: {r}");
    r["data"].clone()
}

async fn accepted(app: &TestApp, token: &str) -> bool {
    let r = app.graphql(Some(token), ME, json!({})).await;
    match code(&r) {
        "<none>" => true,
        "UNAUTHENTICATED" => false,
        other => panic!("unexpected {other}: {r}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tokens_are_refused_after_each_revoking_change() {
    let app = spawn_app().await;
    let root = app.admin_token.clone();
    let p = app.project.id.to_string();
    let id = admin(&app, &root, "mutation($p: ID!) { createAccount(email: \"ana@example.com\", password: \"correct horse battery\", role: ANALYST, projectIds: [$p]) { id } }", json!({"p": p})).await["createAccount"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let v = json!({"id": id, "p": p});
    let pw = "correct horse battery";

    // Role change.
    let t = login(&app, "ana@example.com", pw).await.expect("login");
    assert!(accepted(&app, &t).await);
    admin(&app, &root, "mutation($id: ID!, $p: ID!) { setAccountRole(id: $id, role: VIEWER, projectIds: [$p]) { role } }", v.clone()).await;
    assert!(!accepted(&app, &t).await, "token kept after setAccountRole");
    let r = app.graphql(Some(&t), ME, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{r}"
    );

    // Sign out everywhere, by the account itself: both of its tokens go.
    let t1 = login(&app, "ana@example.com", pw).await.expect("login");
    let t2 = login(&app, "ana@example.com", pw).await.expect("login");
    assert_eq!(
        app.graphql(Some(&t1), ME, json!({})).await["data"]["me"]["role"],
        "viewer"
    );
    admin(&app, &t1, "mutation { signOutEverywhere }", json!({})).await;
    assert!(!accepted(&app, &t1).await && !accepted(&app, &t2).await);

    // Sign out everywhere, by an admin for the account.
    let t = login(&app, "ana@example.com", pw).await.expect("login");
    admin(
        &app,
        &root,
        "mutation($id: ID!) { signOutEverywhere(accountId: $id) }",
        v.clone(),
    )
    .await;
    assert!(!accepted(&app, &t).await);

    // Disable: the token goes and login is refused until enabled again.
    let t = login(&app, "ana@example.com", pw).await.expect("login");
    let d = admin(
        &app,
        &root,
        "mutation($id: ID!) { disableAccount(id: $id) { disabledAt } }",
        v.clone(),
    )
    .await;
    assert!(d["disableAccount"]["disabledAt"].is_string(), "{d}");
    assert!(!accepted(&app, &t).await);
    let refused = login(&app, "ana@example.com", pw)
        .await
        .expect_err("disabled");
    assert_eq!(code(&refused), "UNAUTHENTICATED", "{refused}");
    admin(
        &app,
        &root,
        "mutation($id: ID!) { enableAccount(id: $id) { disabledAt } }",
        v.clone(),
    )
    .await;
    assert!(
        !accepted(&app, &t).await,
        "enabling does not revive old tokens"
    );

    // Password reset: the token goes, the old password too.
    let t = login(&app, "ana@example.com", pw).await.expect("login");
    let r = app
        .graphql(
            Some(&root),
            "mutation($id: ID!) { resetPassword(id: $id, password: \"short\") { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert!(accepted(&app, &t).await, "a refused reset revokes nothing");
    admin(
        &app,
        &root,
        "mutation($id: ID!) { resetPassword(id: $id, password: \"a brand new password\") { id } }",
        v.clone(),
    )
    .await;
    assert!(!accepted(&app, &t).await);
    assert!(login(&app, "ana@example.com", pw).await.is_err());
    let t = login(&app, "ana@example.com", "a brand new password")
        .await
        .expect("login");

    // Delete; an account made again with the same email does not revive the token.
    assert_eq!(
        admin(
            &app,
            &root,
            "mutation($id: ID!) { deleteAccount(id: $id) }",
            v.clone()
        )
        .await["deleteAccount"],
        true
    );
    assert!(!accepted(&app, &t).await);
    admin(&app, &root, "mutation($p: ID!) { createAccount(email: \"ana@example.com\", password: \"a brand new password\", role: ANALYST, projectIds: [$p]) { id } }", json!({"p": p})).await;
    assert!(!accepted(&app, &t).await);

    // A token no account backs (`sightline token`) keeps working, and cannot sign out.
    let service = JwtKeys::from_settings(&app.settings.jwt)
        .expect("keys")
        .issue("ci-script", Role::Analyst, Some(&[app.project.id]), None)
        .expect("token");
    assert!(accepted(&app, &service).await);
    let r = app
        .graphql(Some(&service), "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    assert!(accepted(&app, &root).await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_refuses_a_revoked_token_within_seconds() {
    let app = spawn_app().await;
    let other = start(app.env.clone(), Mode::Serve, Some(&app.project)).await;
    let root = app.admin_token.clone();
    admin(&app, &root, "mutation { createAccount(email: \"bob@example.com\", password: \"correct horse battery\", role: ADMIN) { id } }", json!({})).await;
    let t = login(&app, "bob@example.com", "correct horse battery")
        .await
        .expect("login");
    assert!(
        accepted(&other, &t).await,
        "the other process caches the account"
    );
    admin(&app, &t, "mutation { signOutEverywhere }", json!({})).await;
    let started = Instant::now();
    while accepted(&other, &t).await {
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The cache lives 5 s: the refusal comes within it (plus a poll).
    assert!(
        started.elapsed() <= Duration::from_millis(5400),
        "{:?}",
        started.elapsed()
    );
    other.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_admins_manage_only_accounts_within_their_projects() {
    let app = spawn_app().await;
    let root = app.admin_token.clone();
    let a = app.project.id;
    let (b, _) = create_project(&app.db, "other tenant").await;
    let create = "mutation($e: String!, $r: Role!, $p: [ID!]) { createAccount(email: $e, password: \"correct horse battery\", role: $r, projectIds: $p) { id } }";
    let mut ids = Vec::new();
    for (email, role, projects) in [
        ("in-a@example.com", "ANALYST", json!([a.to_string()])),
        ("in-b@example.com", "ANALYST", json!([b.id.to_string()])),
        (
            "in-both@example.com",
            "VIEWER",
            json!([a.to_string(), b.id.to_string()]),
        ),
        ("admin-a@example.com", "ADMIN", json!([a.to_string()])),
    ] {
        let d = admin(
            &app,
            &root,
            create,
            json!({"e": email, "r": role, "p": projects}),
        )
        .await;
        ids.push(d["createAccount"]["id"].as_str().expect("id").to_string());
    }
    let scoped = login(&app, "admin-a@example.com", "correct horse battery")
        .await
        .expect("login");
    for (id, allowed) in [
        (&ids[0], true),
        (&ids[1], false),
        (&ids[2], false),
        (&ids[3], false),
        (&Uuid::new_v4().to_string(), false),
    ] {
        for m in [
            "mutation($id: ID!) { disableAccount(id: $id) { id } }",
            "mutation($id: ID!) { resetPassword(id: $id, password: \"another good password\") { id } }",
            "mutation($id: ID!) { signOutEverywhere(accountId: $id) }",
        ] {
            let r = app.graphql(Some(&scoped), m, json!({"id": id})).await;
            if allowed {
                assert!(r["errors"].is_null(), "{m} on {id}: {r}");
            } else {
                assert_eq!(code(&r), "FORBIDDEN", "{m} on {id}: {r}");
            }
        }
    }
    // Granting: within their projects only, and never ADMIN.
    let set = "mutation($id: ID!, $r: Role!, $p: [ID!]) { setAccountRole(id: $id, role: $r, projectIds: $p) { role } }";
    let r = app
        .graphql(
            Some(&scoped),
            set,
            json!({"id": ids[0], "r": "VIEWER", "p": [a.to_string()]}),
        )
        .await;
    assert_eq!(r["data"]["setAccountRole"]["role"], "viewer", "{r}");
    for (r_, p) in [
        ("VIEWER", json!([b.id.to_string()])),
        ("ADMIN", json!([a.to_string()])),
    ] {
        let r = app
            .graphql(Some(&scoped), set, json!({"id": ids[0], "r": r_, "p": p}))
            .await;
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
    }
    let r = app
        .graphql(
            Some(&scoped),
            "mutation($id: ID!) { deleteAccount(id: $id) }",
            json!({"id": ids[1]}),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = app
        .graphql(
            Some(&scoped),
            "mutation($id: ID!) { deleteAccount(id: $id) }",
            json!({"id": ids[0]}),
        )
        .await;
    assert_eq!(r["data"]["deleteAccount"], true, "{r}");
    app.stop().await;
}

/// The raw export checks the account as the GraphQL API does: a token signed out everywhere
/// exports nothing, though its signature and expiry are still good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_exports_nothing() {
    let app = spawn_app().await;
    let root = app.admin_token.clone();
    let p = app.project.id.to_string();
    admin(&app, &root, "mutation($p: ID!) { createAccount(email: \"exporter@example.com\", password: \"correct horse battery\", role: ANALYST, projectIds: [$p]) { id } }", json!({"p": p})).await;
    let t = login(&app, "exporter@example.com", "correct horse battery")
        .await
        .expect("login");
    let export = |token: String| {
        let now = chrono::Utc::now();
        app.client
            .get(format!("{}/api/v1/export", app.address))
            .query(&[
                ("projectId", p.clone()),
                ("from", (now - chrono::Duration::days(1)).to_rfc3339()),
                ("to", now.to_rfc3339()),
            ])
            .bearer_auth(token)
            .send()
    };
    let r = export(t.clone()).await.expect("export");
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await;
    admin(&app, &t, "mutation { signOutEverywhere }", json!({})).await;
    let r = export(t).await.expect("export");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "unauthenticated", "{body}");
}
