//! The dashboard's session: the token `login(cookie: true)` issued, kept by the browser in an
//! `HttpOnly; Secure; SameSite=Strict` cookie that no script can read, instead of a JWT in
//! `localStorage` where any injected script could.
//!
//! CSRF: a request counts the cookie only when it also carries the `X-Sightline-CSRF` header.
//! A cross-site page cannot send the cookie at all (SameSite=Strict), and a page of another
//! origin cannot add a custom header without a CORS preflight, which this server never grants;
//! HTML forms can add neither (nor send `application/json`, which `/graphql` requires for POST).
//! WebSockets carry no custom header: the socket counts the cookie only when the handshake's
//! `Origin` is the server's own (`Host`, or `X-Forwarded-Host` behind a proxy).
//!
//! `Authorization: Bearer` wins over the cookie: API clients and scripts are unaffected.
//!
//! A shared link's token (`X-Sightline-Share`, see `auth::share`) wins over both: a request that
//! names a shared link is that link's, read-only, even from a browser that is also signed in.
//! It needs no CSRF guard: it is a header no other origin can send, and it may only read.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};

use crate::auth::{AccountRef, JwtKeys, Role};

/// The session cookie's name.
pub const COOKIE: &str = "sightline_session";
/// The header that makes a request's cookie count.
pub const CSRF_HEADER: &str = "x-sightline-csrf";
/// The header carrying a shared link's token.
pub const SHARE_HEADER: &str = "x-sightline-share";

/// A session token as `login` and single sign-on issue it.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub ttl: Duration,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
}

/// A token for `account` with its role and projects, bound to its current token version (so
/// role changes, disabling and "sign out everywhere" revoke it). The subject is the email.
pub fn issue(jwt: &JwtKeys, account: &entity::account::Model) -> Result<Issued, String> {
    let role: Role = account
        .role
        .parse()
        .map_err(|_| format!("bad role {}", account.role))?;
    let ttl = jwt.token_ttl();
    let token = jwt
        .issue_for(
            &account.email,
            role,
            account.project_ids.as_deref(),
            Some(ttl),
            Some(AccountRef {
                id: account.id,
                version: account.token_version,
            }),
        )
        .map_err(|e| e.to_string())?;
    Ok(Issued {
        token,
        ttl,
        expires_at: Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
        role,
    })
}

/// `Set-Cookie` for a new session of `ttl`. Always `Secure`: browsers keep Secure cookies from
/// `http://localhost` and `http://127.0.0.1` (secure contexts), so local development works;
/// elsewhere the dashboard must be served over HTTPS.
pub fn set_cookie(token: &str, ttl: Duration) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        ttl.as_secs()
    )
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// What a request authenticates with.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A shared link's token (`X-Sightline-Share`).
    Share(&'a str),
    /// The `Authorization` header's value.
    Authorization(&'a str),
    /// The session cookie's token (with the CSRF header).
    Cookie(&'a str),
    /// A session cookie without the CSRF header: not counted.
    CookieWithoutCsrf,
    None,
}

/// The credential of an HTTP request: a shared link's token, else `Authorization`, else the
/// session cookie when the CSRF header is present.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    if let Some(v) = headers.get(SHARE_HEADER) {
        // A header that is not text is no token: refused like an unknown one.
        return Credential::Share(v.to_str().unwrap_or_default());
    }
    if let Some(h) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.trim().is_empty())
    {
        return Credential::Authorization(h);
    }
    match cookie(headers) {
        None => Credential::None,
        Some(_) if !headers.contains_key(CSRF_HEADER) => Credential::CookieWithoutCsrf,
        Some(token) => Credential::Cookie(token),
    }
}

/// The session cookie's token for a WebSocket handshake from the server's own origin.
pub fn websocket_cookie(headers: &HeaderMap) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let origin_host = origin.split_once("://").map(|(_, h)| h)?;
    let own = [headers.get("x-forwarded-host"), headers.get(header::HOST)]
        .into_iter()
        .flatten()
        .filter_map(|v| v.to_str().ok())
        .any(|h| h.eq_ignore_ascii_case(origin_host));
    if !own {
        return None;
    }
    cookie(headers).map(str::to_string)
}

/// The session cookie's value, if the request has one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_cookie_counts_only_with_the_csrf_header_and_bearer_wins() {
        let c = "theme=dark; sightline_session=abc.def.ghi; other=1";
        assert_eq!(
            credential(&headers(&[("cookie", c), (CSRF_HEADER, "1")])),
            Credential::Cookie("abc.def.ghi")
        );
        assert_eq!(
            credential(&headers(&[("cookie", c)])),
            Credential::CookieWithoutCsrf
        );
        assert_eq!(
            credential(&headers(&[("cookie", c), ("authorization", "Bearer x")])),
            Credential::Authorization("Bearer x")
        );
        assert_eq!(credential(&headers(&[("cookie", "a=b")])), Credential::None);
        // A shared link's token wins over everything: the request is the link's, read-only.
        assert_eq!(
            credential(&headers(&[
                ("cookie", c),
                (CSRF_HEADER, "1"),
                ("authorization", "Bearer x"),
                (SHARE_HEADER, "shr_t"),
            ])),
            Credential::Share("shr_t")
        );
        assert_eq!(credential(&headers(&[])), Credential::None);
    }

    #[test]
    fn websockets_count_the_cookie_from_their_own_origin_only() {
        let c = "sightline_session=tok";
        let own = headers(&[
            ("cookie", c),
            ("host", "sl.example"),
            ("origin", "https://sl.example"),
        ]);
        assert_eq!(websocket_cookie(&own).as_deref(), Some("tok"));
        let foreign = headers(&[
            ("cookie", c),
            ("host", "sl.example"),
            ("origin", "https://evil.example"),
        ]);
        assert_eq!(websocket_cookie(&foreign), None);
        let no_origin = headers(&[("cookie", c), ("host", "sl.example")]);
        assert_eq!(websocket_cookie(&no_origin), None);
        let proxied = headers(&[
            ("cookie", c),
            ("host", "backend:8080"),
            ("x-forwarded-host", "sl.example"),
            ("origin", "https://sl.example"),
        ]);
        assert_eq!(websocket_cookie(&proxied).as_deref(), Some("tok"));
    }

    #[test]
    fn cookies_are_http_only_secure_and_strict() {
        let c = set_cookie("t", Duration::from_secs(60));
        for part in [
            "sightline_session=t",
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Max-Age=60",
            "Path=/",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
