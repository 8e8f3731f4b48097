//! URL hygiene: query parameters that commonly carry secrets or personal data never leave the
//! page.

/// Parameter names stripped from captured URLs (case-insensitive).
pub const DENY_PARAMS: &[&str] = &["token", "access_token", "auth", "password", "secret", "email", "key", "api_key", "code", "session"];

/// Removes deny-listed query parameters, keeping the rest (and the fragment) as they were.
pub fn sanitize(url: &str) -> String {
    let (before_hash, hash) = match url.find('#') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let Some(q) = before_hash.find('?') else {
        return url.to_string();
    };
    let (base, query) = (&before_hash[..q], &before_hash[q + 1..]);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            !pair.is_empty() && !DENY_PARAMS.contains(&name.as_str())
        })
        .collect();
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_stripped() {
        assert_eq!(sanitize("https://a/x?token=1&plan=pro&Email=e#h"), "https://a/x?plan=pro#h");
        assert_eq!(sanitize("https://a/x?token=1"), "https://a/x");
        assert_eq!(sanitize("https://a/x?utm_source=n"), "https://a/x?utm_source=n");
        assert_eq!(sanitize("https://a/x"), "https://a/x");
    }
}
