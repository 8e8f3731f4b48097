//! Security headers on every response, dashboard and API alike:
//! - `Content-Security-Policy`: the dashboard loads scripts, styles, images and connections
//!   (GraphQL over fetch and WebSocket) from its own origin only, no inline script, no plugin,
//!   and no page may frame it (`frame-ancestors 'none'`, with `X-Frame-Options: DENY` for old
//!   browsers). An injected `<img onerror=...>` or `javascript:` link therefore runs nothing
//!   even if some view forgot to escape it.
//! - `X-Content-Type-Options: nosniff`: a JSON answer or an uploaded string is never run as a
//!   script.
//! - `Referrer-Policy: same-origin`: dashboard URLs (project ids, filters) do not leak to other
//!   sites.
//!
//! The tracker's files (`/sightline.js`, `/tracker/*`) are loaded by customers' sites: they
//! get CORS (`app::tracker_routes`) and `Cross-Origin-Resource-Policy: cross-origin`, so a site
//! that isolates itself (COEP) can still load them. What a site's own CSP must allow for the
//! tracker is in docs/API.md ("Content-Security-Policy of a tracked site").

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The dashboard's policy (and every other response's: the API's answers are data, never
/// documents, so the strictest policy costs them nothing).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Sets the security headers on a response, keeping any a handler set itself (the GraphQL IDE
/// sets its own policy).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let defaults: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in defaults {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}
