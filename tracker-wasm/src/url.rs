//! The URL privacy rule, applied to every URL the tracker sends (`url`, `referrer`, a clicked
//! link's `href`).
//!
//! The rule is the server's too (`server/src/event.rs`, `strip_url_secrets`, which applies it
//! again to whatever any sender sends): a fragment is kept only when it is a route (`#/...`);
//! query parameters named in [`CREDENTIAL_PARAMS`] are removed, from the query and from a route
//! fragment's own query; the rest is unchanged, remaining parameters in their order (empty ones
//! and an empty query dropped).

use crate::text::{cut, parts};

/// Query parameter names that carry credentials (compared ASCII case-insensitively, as written:
/// not percent-decoded). The same list as the server's `CREDENTIAL_PARAMS`.
pub const CREDENTIAL_PARAMS: &[&str] = &[
    "access_token",
    "id_token",
    "refresh_token",
    "token",
    "code",
    "state",
    "auth",
    "authorization",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "session_token",
    "sessionid",
    "jwt",
];
/// The URL privacy rule (see the module doc).
pub fn sanitize(url: &str) -> String {
    let (before, fragment) = cut(url, b'#');
    let mut out = String::with_capacity(url.len());
    push_clean(&mut out, before);
    // A route: `#/settings/2`, as hash-routed single-page apps navigate.
    if let Some(route) = fragment.filter(|f| f.as_bytes().first() == Some(&b'/')) {
        out.push_str("#");
        push_clean(&mut out, route);
    }
    out
}

/// Appends `s` (a URL or a route, without fragment) without its credential parameters.
fn push_clean(out: &mut String, s: &str) {
    let (base, query) = cut(s, b'?');
    out.push_str(base);
    let mut sep = "?";
    for pair in parts(query.unwrap_or(""), b'&') {
        let name = cut(pair, b'=').0;
        if pair.is_empty()
            || CREDENTIAL_PARAMS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
        {
            continue;
        }
        out.push_str(sep);
        out.push_str(pair);
        sep = "&";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_kept_only_as_routes() {
        for (url, want) in [
            ("https://a/app#/settings/2", "https://a/app#/settings/2"),
            ("https://a/app#/", "https://a/app#/"),
            ("https://a/doc#section", "https://a/doc"),
            ("https://a/cb#access_token=abc&state=x", "https://a/cb"),
            ("https://a/cb#token=abc", "https://a/cb"),
            ("https://a/x#", "https://a/x"),
            ("https://a/x#!/route", "https://a/x"),
            ("https://a/x?a=1#frag?token=t", "https://a/x?a=1"),
        ] {
            assert_eq!(sanitize(url), want, "{url}");
        }
    }

    #[test]
    fn credential_parameters_are_stripped() {
        for (url, want) in [
            ("https://a/x?token=1", "https://a/x"),
            ("https://a/x?a=1&TOKEN=2&b=3", "https://a/x?a=1&b=3"),
            (
                "https://a/x?Access_Token=s&plan=pro",
                "https://a/x?plan=pro",
            ),
            (
                "https://a/x?plan=pro&code=c&state=s",
                "https://a/x?plan=pro",
            ),
            (
                "https://a/x?id_token=1&refresh_token=2&auth=3&authorization=4",
                "https://a/x",
            ),
            (
                "https://a/x?password=1&passwd=2&secret=3&api_key=4&apikey=5",
                "https://a/x",
            ),
            (
                "https://a/x?session_token=1&sessionid=2&jwt=3&q=4",
                "https://a/x?q=4",
            ),
            ("https://a/x?token", "https://a/x"),
            ("https://a/x?token=&x=", "https://a/x?x="),
            // Names are compared as written, not percent-decoded (the server does the same).
            ("https://a/x?%74oken=1&a=b", "https://a/x?%74oken=1&a=b"),
            // Look-alikes and values are not names.
            (
                "https://a/x?tokens=1&my_token=2&codex=3",
                "https://a/x?tokens=1&my_token=2&codex=3",
            ),
            (
                "https://a/x?email=e&key=k&session=s&sid=i",
                "https://a/x?email=e&key=k&session=s&sid=i",
            ),
            ("https://a/x?q=token&v=code", "https://a/x?q=token&v=code"),
            ("https://a/x?utm_source=n", "https://a/x?utm_source=n"),
            // Order kept; empty parameters and an empty query dropped.
            ("https://a/x?c=3&b=2&a=1", "https://a/x?c=3&b=2&a=1"),
            ("https://a/x?a=1&&b=2&token=t", "https://a/x?a=1&b=2"),
            ("https://a/x?", "https://a/x"),
            // A route's own query is cleaned too.
            (
                "https://a/#/callback?code=c&next=%2Fhome",
                "https://a/#/callback?next=%2Fhome",
            ),
            ("https://a/app?token=t#/r?jwt=j", "https://a/app#/r"),
            ("https://a/x", "https://a/x"),
            ("/docs?token=1&page=2#intro", "/docs?page=2"),
            (
                "https://a/caf\u{e9}?q=\u{fc}&token=\u{e9}",
                "https://a/caf\u{e9}?q=\u{fc}",
            ),
            ("", ""),
        ] {
            assert_eq!(sanitize(url), want, "{url}");
            assert_eq!(sanitize(want), want, "idempotent on {want}");
        }
    }
}
