//! URL hygiene: query parameters that commonly carry secrets or personal data never leave the
//! page; campaign (UTM) parameters are lifted into page-view properties.

use crate::text::{cut, find, parts, trim};

/// Parameter names stripped from captured URLs (case-insensitive).
pub const DENY_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "auth",
    "password",
    "passwd",
    "secret",
    "email",
    "key",
    "api_key",
    "apikey",
    "code",
    "session",
    "sessionid",
    "sid",
    "jwt",
    "otp",
];
pub const UTM_PARAMS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// `(before the query, the query without '?', the fragment with its '#')`.
fn split(url: &str) -> (&str, &str, &str) {
    let (before_hash, hash) = match find(url, b'#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let (base, query) = cut(before_hash, b'?');
    (base, query.unwrap_or(""), hash)
}

/// Removes deny-listed query parameters, keeping the rest (and the fragment) as they were.
pub fn sanitize(url: &str) -> String {
    let (base, query, hash) = split(url);
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    let mut first = true;
    for pair in parts(query, b'&') {
        let name = cut(pair, b'=').0.to_ascii_lowercase();
        if pair.is_empty() || DENY_PARAMS.contains(&name.as_str()) {
            continue;
        }
        out.push(if first { '?' } else { '&' });
        out.push_str(pair);
        first = false;
    }
    out.push_str(hash);
    out
}

/// The fragment without `#` (hash-routed single-page apps navigate there).
pub fn hash(url: &str) -> &str {
    trim(split(url).2, b'#', true)
}

/// `(name, decoded value)` of the UTM parameters present in `url`.
pub fn utm(url: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for pair in parts(split(url).1, b'&') {
        let (name, value) = cut(pair, b'=');
        let value = value.unwrap_or("");
        if let Some(n) = UTM_PARAMS.iter().find(|u| name.eq_ignore_ascii_case(u)) {
            if !value.is_empty() {
                out.push((*n, decode(value)));
            }
        }
    }
    out
}

/// Percent-decoding (`+` as space); invalid escapes and invalid UTF-8 are kept as written.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_stripped() {
        assert_eq!(
            sanitize("https://a/x?token=1&plan=pro&Email=e#h"),
            "https://a/x?plan=pro#h"
        );
        assert_eq!(sanitize("https://a/x?token=1"), "https://a/x");
        assert_eq!(
            sanitize("https://a/x?utm_source=n"),
            "https://a/x?utm_source=n"
        );
        assert_eq!(sanitize("https://a/x"), "https://a/x");
        assert_eq!(
            sanitize("https://a/x?a=1&&b=2&session=s"),
            "https://a/x?a=1&b=2"
        );
    }

    #[test]
    fn utm_parameters_are_decoded() {
        let u = utm("https://a/x?utm_source=news%20letter&x=1&UTM_MEDIUM=e+mail&utm_term=#h");
        assert_eq!(
            u,
            vec![
                ("utm_source", "news letter".to_string()),
                ("utm_medium", "e mail".to_string())
            ]
        );
        assert!(utm("https://a/x").is_empty());
        assert_eq!(decode("caf%C3%A9%2"), "café%2");
        assert_eq!(decode("%ff"), "%ff", "invalid UTF-8 is kept as written");
        assert_eq!(hash("https://a/#/cart?x"), "/cart?x");
    }
}
