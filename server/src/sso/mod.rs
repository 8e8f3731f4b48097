//! Single sign-on's HTTP side (on when `SIGHTLINE_OIDC_ISSUER` is set):
//!
//! - `GET /auth/oidc/login` starts a sign-in ([`crate::auth::oidc::Provider::start`]): what the
//!   callback needs (PKCE verifier, nonce) is kept in Redis under the `state` for
//!   [`FLOW_TTL`], with the hash of a random value the browser holds in an HttpOnly cookie
//!   (`SameSite=Lax`: the provider sends the browser back with a cross-site navigation). Then
//!   303 to the provider. At most [`STARTS_PER_MINUTE`] per client IP.
//! - `GET /auth/oidc/callback` takes the record back (once: read and deleted together), checks
//!   the cookie matches (a callback URL planted in another browser signs nobody in there),
//!   exchanges the code, checks the ID token, maps the claims to a role and projects
//!   ([`crate::auth::oidc::claims`]), finds or creates the account ([`signin`]), and sets the
//!   same session cookie as `login(cookie: true)`; then 303 to the dashboard (`/#/sso`, where it
//!   reads `me`). Refusals are a small HTML page with the reason and a link back.
//!
//! Every callback of a sign-in this server started, signed in or refused (a foreign browser, a
//! provider error, a token that does not verify, claims or an account that do not qualify), is
//! in the audit log (`login.success` / `login.failure` with `"method": "sso"`); an unknown or
//! expired state is only answered (it names no sign-in).

pub mod signin;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::oidc::{claims, Pending, Provider};
use crate::auth::revocation::Revocation;
use crate::auth::JwtKeys;
use crate::graphql::session;
use crate::ingest::Intake;
use crate::redis_conn::RedisConn;
use crate::storage::audit::{self, NewEntry};
use crate::storage::Db;
use crate::telemetry::names;

/// How long a started sign-in may take at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// The cookie binding a sign-in to the browser that started it.
pub const FLOW_COOKIE: &str = "sightline_oidc";
/// Sign-ins one client IP may start per minute: each keeps a record in Redis for
/// [`FLOW_TTL`], so an unbounded rate would let anyone fill Redis without signing in.
pub const STARTS_PER_MINUTE: i64 = 30;
/// Where the dashboard picks up a session single sign-on opened.
pub const DASHBOARD: &str = "/#/sso";

/// What the two routes share.
pub struct Sso {
    pub provider: Provider,
    pub db: Db,
    pub redis: RedisConn,
    /// `<queue prefix>:oidc:`: each deployment's (and test's) keys apart.
    pub key_base: String,
    pub jwt: JwtKeys,
    pub revocation: Arc<Revocation>,
    /// The client-IP rule (trusted proxies) for the audit log.
    pub intake: Arc<Intake>,
}

pub fn router(sso: Arc<Sso>) -> Router {
    Router::new()
        .route("/auth/oidc/login", get(login))
        .route("/auth/oidc/callback", get(callback))
        .with_state(sso)
}

/// Without single sign-on its paths answer 404 (rather than the dashboard's page, as unknown
/// paths do), so a provider or proxy pointed here by mistake gets a plain answer.
pub fn router_off() -> Router {
    Router::new().route(
        "/auth/oidc/{*rest}",
        get(|| async {
            (
                StatusCode::NOT_FOUND,
                "single sign-on is not configured on this server (SIGHTLINE_OIDC_ISSUER)",
            )
        }),
    )
}

/// A started sign-in as Redis keeps it.
#[derive(serde::Serialize, Deserialize)]
struct Flow {
    pending: Pending,
    /// SHA-256 (hex) of the flow cookie's value.
    binding: String,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl Sso {
    fn flow_key(&self, state: &str) -> String {
        // Hashed: the key does not repeat a value that travelled in URLs.
        format!("{}flow:{}", self.key_base, sha256_hex(state))
    }

    async fn keep(&self, state: &str, flow: &Flow) -> Result<(), String> {
        let value = serde_json::to_string(flow).map_err(|e| e.to_string())?;
        let mut conn = self.redis.clone();
        redis::cmd("SET")
            .arg(self.flow_key(state))
            .arg(value)
            .arg("EX")
            .arg(FLOW_TTL.as_secs())
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| e.to_string())
    }

    /// Counts a start from `ip` in the current minute; false past [`STARTS_PER_MINUTE`].
    async fn may_start(&self, ip: std::net::IpAddr) -> Result<bool, String> {
        let key = format!("{}starts:{ip}", self.key_base);
        let mut conn = self.redis.clone();
        let (n, _): (i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 60)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(n <= STARTS_PER_MINUTE)
    }

    /// The flow of `state`, removed in the same step (a callback URL works once).
    async fn take(&self, state: &str) -> Result<Option<Flow>, String> {
        let key = self.flow_key(state);
        let mut conn = self.redis.clone();
        let (value, _): (Option<String>, i64) = redis::pipe()
            .atomic()
            .get(&key)
            .del(&key)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn audit(
        &self,
        actor: &str,
        action: &'static str,
        ip: Option<std::net::IpAddr>,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let entry = NewEntry {
            actor: actor.chars().take(254).collect(),
            action,
            project_ids: Vec::new(),
            target,
            ip,
            detail,
        };
        if let Err(e) = audit::record(&self.db, entry).await {
            tracing::error!(error = %e, action, "cannot write the audit log");
            metrics::counter!(names::ERRORS, "where" => "audit").increment(1);
        }
    }
}

/// `GET /auth/oidc/login`: to the provider.
async fn login(
    State(sso): State<Arc<Sso>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let ip =
        peer.map(|Extension(ConnectInfo(a))| crate::ingest::client_ip(&sso.intake, a, &headers));
    if let Some(ip) = ip {
        match sso.may_start(ip).await {
            Ok(true) => {}
            Ok(false) => {
                metrics::counter!(names::LOGIN_REFUSED, "reason" => "sso_rate").increment(1);
                let mut resp = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many sign-ins",
                    "Too many sign-ins were started from your address. Try again in a minute.",
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                return resp;
            }
            Err(e) => {
                tracing::error!(error = %e, "single sign-on: cannot count starts in Redis");
                return unavailable();
            }
        }
    }
    let start = match sso.provider.start().await {
        Ok(start) => start,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on cannot start");
            return page(
                StatusCode::BAD_GATEWAY,
                "Single sign-on is unavailable",
                "The identity provider cannot be reached now. Try again in a moment.",
            );
        }
    };
    let cookie = hex::encode(rand::random::<[u8; 32]>());
    let flow = Flow {
        pending: start.pending,
        binding: sha256_hex(&cookie),
    };
    if let Err(e) = sso.keep(&start.state, &flow).await {
        tracing::error!(error = %e, "single sign-on: cannot keep the sign-in in Redis");
        return unavailable();
    }
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(start.url.as_str()) {
        h.insert(header::LOCATION, v);
    }
    append_cookie(
        h,
        &format!(
            "{FLOW_COOKIE}={cookie}; Path=/auth/oidc; Max-Age={}; HttpOnly; Secure; SameSite=Lax",
            FLOW_TTL.as_secs()
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback`: the provider sends the browser back here.
async fn callback(
    State(sso): State<Arc<Sso>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let ip =
        peer.map(|Extension(ConnectInfo(a))| crate::ingest::client_ip(&sso.intake, a, &headers));
    let mut resp = complete(&sso, ip, &headers, q).await;
    // The flow cookie has served, whatever the outcome.
    append_cookie(
        resp.headers_mut(),
        &format!("{FLOW_COOKIE}=; Path=/auth/oidc; Max-Age=0; HttpOnly; Secure; SameSite=Lax"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn complete(
    sso: &Sso,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    q: Callback,
) -> Response {
    let issuer = sso.provider.settings().issuer.clone();
    let refused = |reason: &'static str| {
        metrics::counter!(names::LOGIN_REFUSED, "reason" => format!("sso_{reason}")).increment(1);
        json!({"method": "sso", "issuer": issuer, "reason": reason})
    };
    let Some(state) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "No sign-in in progress",
            "Start again from the sign-in page.",
        );
    };
    let flow = match sso.take(state).await {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in expired",
                "It took too long or was already used. Start again from the sign-in page.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "single sign-on: cannot read the sign-in from Redis");
            return unavailable();
        }
    };
    let cookie = cookie_value(headers, FLOW_COOKIE).unwrap_or_default();
    if !crate::app::constant_time_eq(sha256_hex(cookie).as_bytes(), flow.binding.as_bytes()) {
        let detail = refused("browser");
        sso.audit("anonymous", "login.failure", ip, None, detail)
            .await;
        return page(
            StatusCode::BAD_REQUEST,
            "This sign-in was started elsewhere",
            "It was not started in this browser. Start again from the sign-in page.",
        );
    }
    if let Some(error) = q.error {
        // Text from the URL: kept short in the log and on the page.
        let error: String = error.chars().take(100).collect();
        let mut detail = refused("provider");
        detail["error"] = json!(error);
        sso.audit("anonymous", "login.failure", ip, None, detail)
            .await;
        let description: String = q
            .error_description
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        return page(
            StatusCode::FORBIDDEN,
            "The identity provider did not sign you in",
            &format!("It answered: {error} {description}"),
        );
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "No sign-in in progress",
            "Start again from the sign-in page.",
        );
    };
    let identity = match sso.provider.finish(&code, flow.pending).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: the provider's answer is refused");
            let mut detail = refused("token");
            detail["error"] = json!(e.to_string());
            sso.audit("anonymous", "login.failure", ip, None, detail)
                .await;
            return page(
                StatusCode::BAD_GATEWAY,
                "Single sign-on failed",
                "The identity provider's answer could not be verified. Try again; if it \
                 keeps failing, tell your administrator (the server log has the details).",
            );
        }
    };
    let actor = identity
        .email
        .clone()
        .unwrap_or_else(|| format!("sso:{}", identity.subject));
    let settings = sso.provider.settings();
    let outcome = match claims::scope(
        &identity.claims,
        &settings.role_claim,
        &settings.projects_claim,
    ) {
        Ok(scope) => {
            signin::account_for(&sso.db, &identity, &scope, settings.create_accounts).await
        }
        Err(e) => Ok(Err(signin::Refusal::Claims(e))),
    };
    let account = match outcome {
        Ok(Ok(account)) => account,
        Ok(Err(refusal)) => {
            let mut detail = refused(refusal.reason());
            detail["subject"] = json!(identity.subject);
            sso.audit(&actor, "login.failure", ip, None, detail).await;
            return page(
                StatusCode::FORBIDDEN,
                "You cannot sign in to Sightline",
                &refusal.message(),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "single sign-on: cannot read or write the account");
            return unavailable();
        }
    };
    // The account may have just changed (role, link): this process must not trust its cache.
    sso.revocation.forget(account.id);
    let issued = match session::issue(&sso.jwt, &account) {
        Ok(issued) => issued,
        Err(e) => {
            tracing::error!(error = %e, "single sign-on: cannot issue the session");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Single sign-on failed",
                "The server cannot open a session now.",
            );
        }
    };
    let detail = json!({
        "method": "sso",
        "issuer": identity.issuer,
        "subject": identity.subject,
        "role": account.role,
        "projectIds": account.project_ids,
    });
    sso.audit(
        &account.email,
        "login.success",
        ip,
        Some(account.id.to_string()),
        detail,
    )
    .await;
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(DASHBOARD));
    append_cookie(h, &session::set_cookie(&issued.token, issued.ttl));
    resp
}

/// 503: Redis or PostgreSQL failed (the log says which).
fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Single sign-on is unavailable",
        "The server cannot handle the sign-in now. Try again in a moment.",
    )
}

fn append_cookie(h: &mut HeaderMap, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        h.append(header::SET_COOKIE, v);
    }
}

/// The value of cookie `name` in the request, if any.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

/// A small page telling why single sign-on stopped, with the way back. Everything in it is
/// escaped: the provider's error text comes through the URL.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · Sightline</title></head><body><main class=\"sso\" data-testid=\"sso-error\">\
         <h1>{t}</h1><p>{m}</p><p><a href=\"/\">Back to sign in</a></p></main></body></html>",
        t = escape(title),
        m = escape(message),
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_the_provider_sent() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn the_flow_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sightline_oidc=abc ; sightline_session=x"),
        );
        assert_eq!(cookie_value(&h, FLOW_COOKIE), Some("abc"));
        assert_eq!(cookie_value(&h, "nope"), None);
    }
}
