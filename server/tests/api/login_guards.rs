//! Login abuse: failed logins lock the account and the client IP (shared by every process
//! through Redis, with a retry hint that doubles), one `login` per request, argon2 runs bounded,
//! a counter of refusals, and the 12-character password minimum in the API and the CLI.

use std::time::Duration;

use serde_json::{json, Value};

use sightline::app::Mode;

use crate::helpers::{cli_output, sightline_cli, spawn_app_with, start, TestApp};

const PASSWORD: &str = "correct horse battery";

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

fn retry_after(r: &Value) -> u64 {
    r["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter in {r}"))
}

async fn create_account(app: &TestApp, email: &str, password: &str) -> Value {
    app.graphql(
        Some(&app.admin_token),
        "mutation($e: String!, $pw: String!) { createAccount(email: $e, password: $pw, role: ADMIN) { id } }",
        json!({"e": email, "pw": password}),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    login_with(&app.client, &app.address, email, password).await
}

async fn login_with(client: &reqwest::Client, address: &str, email: &str, password: &str) -> Value {
    client
        .post(format!("{address}/graphql"))
        .json(&json!({
            "query": "mutation($e: String!, $pw: String!) { login(email: $e, password: $pw) { token } }",
            "variables": {"e": email, "pw": password},
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_lock_the_account_everywhere_with_a_doubling_retry_hint() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_LOGIN_LOCK_SECS".into(), "1".into());
    })
    .await;
    assert!(create_account(&app, "ana@example.com", PASSWORD).await["errors"].is_null());
    assert!(create_account(&app, "bob@example.com", PASSWORD).await["errors"].is_null());
    // A second server process on the same Redis and database.
    let other = start(app.env.clone(), Mode::Serve, Some(&app.project)).await;

    for i in 0..5 {
        let r = login(&app, "ana@example.com", "wrong password!").await;
        assert_eq!(code(&r), "UNAUTHENTICATED", "failure {i}: {r}");
    }
    // Locked: even the right password is refused, here and in the other process.
    for server in [&app, &other] {
        let r = login(server, "Ana@Example.com", PASSWORD).await;
        assert_eq!(code(&r), "RATE_LIMITED", "{r}");
        assert_eq!(retry_after(&r), 1, "{r}");
        assert!(r["data"].is_null() || r["data"]["login"].is_null(), "{r}");
    }
    // Another account from the same address is not locked.
    let r = login(&app, "bob@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");

    // After the lock, one more failure locks it again for twice as long.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login(&other, "ana@example.com", "wrong password!").await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    let r = login(&app, "ana@example.com", PASSWORD).await;
    assert_eq!(code(&r), "RATE_LIMITED", "{r}");
    assert_eq!(retry_after(&r), 2, "{r}");

    // Once it ends, the right password works and clears the count: one failure locks nothing.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = login(&app, "ana@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");
    let r = login(&app, "ana@example.com", "wrong password!").await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    let r = login(&app, "ana@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");

    // The refusals are counted by reason.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for reason in ["password", "locked_account"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("sightline_login_refused_total")
                    && l.contains(&format!("reason=\"{reason}\""))
            })
            .unwrap_or_else(|| panic!("no {reason} refusals in /metrics"));
        let n: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a value");
        assert!(n >= 1.0, "{line}");
    }
    other.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_from_one_address_lock_it_for_every_account() {
    let app = spawn_app_with(Mode::All, |_| {}).await;
    assert!(create_account(&app, "ana@example.com", PASSWORD).await["errors"].is_null());
    // 20 failures from 127.0.0.1, each for another (unknown) email: no account reaches its
    // own limit.
    for i in 0..20 {
        let r = login(&app, &format!("nobody{i}@example.com"), "wrong password!").await;
        assert_eq!(code(&r), "UNAUTHENTICATED", "failure {i}: {r}");
    }
    let r = login(&app, "ana@example.com", PASSWORD).await;
    assert_eq!(code(&r), "RATE_LIMITED", "{r}");
    let wait = retry_after(&r);
    assert!((1..=60).contains(&wait), "{r}");
    // Another address (127.0.0.2 is loopback too) logs in.
    let elsewhere = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().expect("ip")))
        .build()
        .expect("client");
    let r = login_with(&elsewhere, &app.address, "ana@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_holds_one_login_at_most() {
    let app = spawn_app_with(Mode::All, |_| {}).await;
    assert!(create_account(&app, "ana@example.com", PASSWORD).await["errors"].is_null());
    let aliased: String = (0..10)
        .map(|i| format!("a{i}: login(email: \"ana@example.com\", password: \"guess number {i}\") {{ token }} "))
        .collect();
    let fragments = "mutation { ...A ...B } \
        fragment A on MutationRoot { login(email: \"ana@example.com\", password: \"guess one!!!\") { token } } \
        fragment B on MutationRoot { login(email: \"ana@example.com\", password: \"guess two!!!\") { token } }";
    for q in [format!("mutation {{ {aliased} }}"), fragments.to_string()] {
        // More than the account's five failures: none of them may run.
        for _ in 0..6 {
            let r = app.graphql(None, &q, json!({})).await;
            assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
            assert!(r["data"].is_null(), "{r}");
        }
    }
    let r = login(&app, "ana@example.com", PASSWORD).await;
    assert!(r["data"]["login"]["token"].is_string(), "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_refused_beyond_the_password_check_bound() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_PASSWORD_HASH_CONCURRENCY".into(), "1".into());
        env.insert("SIGHTLINE_PASSWORD_HASH_QUEUE".into(), "0".into());
    })
    .await;
    assert!(create_account(&app, "ana@example.com", PASSWORD).await["errors"].is_null());
    let logins = (0..8).map(|_| login(&app, "ana@example.com", PASSWORD));
    let answers = futures_util::future::join_all(logins).await;
    let ok = answers
        .iter()
        .filter(|r| r["data"]["login"]["token"].is_string())
        .count();
    let busy: Vec<&Value> = answers
        .iter()
        .filter(|r| code(r) == "RATE_LIMITED")
        .collect();
    assert!(ok >= 1, "{answers:?}");
    assert!(
        !busy.is_empty(),
        "8 concurrent logins with one slot: {answers:?}"
    );
    assert_eq!(ok + busy.len(), 8, "{answers:?}");
    assert!(busy.iter().all(|r| retry_after(r) == 1), "{busy:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_have_twelve_characters_at_least_in_the_api_and_the_cli() {
    let app = spawn_app_with(Mode::All, |_| {}).await;
    let r = create_account(&app, "short@example.com", "elevenchars").await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let r = create_account(&app, "long@example.com", "twelve chars").await;
    assert!(r["errors"].is_null(), "{r}");

    let mut cmd = sightline_cli();
    cmd.envs(&app.env)
        .args(["admin", "create", "--email", "cli@example.com"])
        .env("SIGHTLINE_ADMIN_PASSWORD", "elevenchars");
    let out = cmd.output().await.expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 12 characters"), "{err}");
    let mut cmd = sightline_cli();
    cmd.envs(&app.env)
        .args(["admin", "create", "--email", "cli@example.com"])
        .env("SIGHTLINE_ADMIN_PASSWORD", "twelve chars");
    let out = cli_output(cmd, "admin create").await;
    assert!(out.contains("created account cli@example.com"), "{out}");
    app.stop().await;
}
