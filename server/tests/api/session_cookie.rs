//! The dashboard's session cookie: `login(cookie: true)` sets an HttpOnly, Secure,
//! SameSite=Strict cookie and answers no token; the cookie counts only with the CSRF header;
//! bearer tokens keep working; `logout` clears it; revocation applies to it.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const LOGIN: &str = "mutation { login(email: \"ana@example.com\", password: \"correct horse battery\", cookie: true) { token expiresAt role } }";

async fn post(
    app: &TestApp,
    query: &str,
    headers: &[(&str, &str)],
) -> (reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({"query": query}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let headers = resp.headers().clone();
    (headers, resp.json().await.expect("json"))
}

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_and_counts_only_with_the_csrf_header() {
    let app = spawn_app().await;
    let r = app
        .graphql(Some(&app.admin_token), "mutation { createAccount(email: \"ana@example.com\", password: \"correct horse battery\", role: ADMIN) { id } }", json!({}))
        .await;
    assert!(r["errors"].is_null(), "{r}");

    let (headers, body) = post(&app, LOGIN, &[]).await;
    assert!(
        body["data"]["login"]["token"].is_null(),
        "no token in the answer: {body}"
    );
    assert_eq!(body["data"]["login"]["role"], "admin");
    let set = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("Set-Cookie")
        .to_string();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    for want in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&want), "{want} in {set}");
    }
    let token = attrs[0]
        .strip_prefix("sightline_session=")
        .expect("the session cookie")
        .to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let cookie = format!("sightline_session={token}");

    // With the CSRF header the cookie authenticates; without it, it does not count.
    let (_, me) = post(
        &app,
        "{ me { role } }",
        &[("cookie", &cookie), ("x-sightline-csrf", "1")],
    )
    .await;
    assert_eq!(me["data"]["me"]["role"], "admin", "{me}");
    let (_, r) = post(
        &app,
        "mutation { createProject(name: \"csrf\") { publicKey } }",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("x-sightline-csrf"),
        "{r}"
    );
    let (_, r) = post(
        &app,
        "{ projects { name } }",
        &[("cookie", &cookie), ("x-sightline-csrf", "1")],
    )
    .await;
    let names: Vec<&str> = r["data"]["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(!names.contains(&"csrf"), "{r}");

    // A login without `cookie` answers the bearer token, which works as before.
    let r = app
        .graphql(None, "mutation { login(email: \"ana@example.com\", password: \"correct horse battery\") { token } }", json!({}))
        .await;
    let bearer = r["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let r = app
        .graphql(Some(&bearer), "{ me { role } }", json!({}))
        .await;
    assert_eq!(r["data"]["me"]["role"], "admin", "{r}");

    // Logout clears the cookie in the browser.
    let (headers, r) = post(
        &app,
        "mutation { logout }",
        &[("cookie", &cookie), ("x-sightline-csrf", "1")],
    )
    .await;
    assert_eq!(r["data"]["logout"], true, "{r}");
    let cleared = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cleared.starts_with("sightline_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    // "Sign out everywhere" from the cookie session revokes the cookie's token and the bearer.
    let (_, r) = post(
        &app,
        "mutation { signOutEverywhere }",
        &[("cookie", &cookie), ("x-sightline-csrf", "1")],
    )
    .await;
    assert_eq!(r["data"]["signOutEverywhere"], true, "{r}");
    let (_, r) = post(
        &app,
        "{ me { role } }",
        &[("cookie", &cookie), ("x-sightline-csrf", "1")],
    )
    .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    let r = app
        .graphql(Some(&bearer), "{ me { role } }", json!({}))
        .await;
    assert_eq!(code(&r), "UNAUTHENTICATED", "{r}");
    app.stop().await;
}
