//! Hand-built JSON for events (no serde_json: it would triple the wasm size).

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a non-negative integer in decimal (no `core::fmt`: it would add kilobytes).
pub fn push_int(out: &mut String, n: i64) {
    let mut n = n.max(0) as u64;
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Parses a non-negative decimal integer (no `str::parse::<f64>`: its tables add ~15 KB of wasm).
pub fn parse_int(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    s.bytes().try_fold(0i64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// Builds a JSON object key by key.
pub struct Obj(String);

impl Default for Obj {
    fn default() -> Self {
        Obj(String::from("{"))
    }
}

impl Obj {
    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_str(&mut self.0, k);
        self.0.push(':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(&mut self.0, v);
        self
    }

    /// A string value, left out when empty.
    pub fn opt(&mut self, k: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            self.str(k, v);
        }
        self
    }

    pub fn int(&mut self, k: &str, n: i64) -> &mut Self {
        self.key(k);
        push_int(&mut self.0, n);
        self
    }

    pub fn finish(&mut self) -> String {
        let mut s = std::mem::take(&mut self.0);
        s.push('}');
        s
    }
}

/// One event in the contract's shape. `props_json` must already be a JSON object text.
pub struct EventFields<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub ts: f64,
    pub anonymous_id: &'a str,
    pub session_id: &'a str,
    pub user_id: &'a str,
    pub community_id: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub url: &'a str,
    pub referrer: &'a str,
    pub title: &'a str,
    pub props_json: &'a str,
}

pub fn event(f: &EventFields<'_>) -> String {
    let mut o = String::with_capacity(256);
    o.push_str("{\"id\":");
    push_str(&mut o, f.id);
    o.push_str(",\"type\":");
    push_str(&mut o, f.event_type);
    o.push_str(",\"ts\":");
    push_int(&mut o, f.ts as i64);
    for (k, v) in [
        ("anonymous_id", f.anonymous_id),
        ("session_id", f.session_id),
        ("user_id", f.user_id),
        ("community_id", f.community_id),
        ("entity_type", f.entity_type),
        ("entity_id", f.entity_id),
        ("url", f.url),
        ("referrer", f.referrer),
        ("title", f.title),
    ] {
        if !v.is_empty() {
            o.push_str(",\"");
            o.push_str(k);
            o.push_str("\":");
            push_str(&mut o, v);
        }
    }
    o.push_str(",\"props\":");
    o.push_str(if is_object_text(f.props_json) {
        f.props_json
    } else {
        "{}"
    });
    o.push('}');
    o
}

/// Whether `s` is framed as a JSON object (`{...}`): the cheap check for props and stored
/// events, which come from this writer or from the page's own `JSON.stringify`.
pub fn is_object_text(s: &str) -> bool {
    let b = s.as_bytes();
    b.first() == Some(&b'{') && b.last() == Some(&b'}')
}

/// The batch body `/collect` takes.
pub fn batch(key: &str, events: &[String]) -> String {
    let mut o = String::from("{\"key\":");
    push_str(&mut o, key);
    o.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push_str(e);
    }
    o.push_str("]}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut o = String::new();
        push_str(&mut o, "a\"b\\c\nd\u{1}");
        assert_eq!(o, "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn events_omit_empty_fields_and_keep_props() {
        let e = event(&EventFields {
            id: "i",
            event_type: "page.view",
            ts: 1.5e12,
            anonymous_id: "a",
            session_id: "",
            user_id: "u",
            community_id: "",
            entity_type: "",
            entity_id: "",
            url: "https://x/",
            referrer: "",
            title: "T \"q\"",
            props_json: "{\"k\":1}",
        });
        assert_eq!(
            e,
            "{\"id\":\"i\",\"type\":\"page.view\",\"ts\":1500000000000,\"anonymous_id\":\"a\",\"user_id\":\"u\",\"url\":\"https://x/\",\"title\":\"T \\\"q\\\"\",\"props\":{\"k\":1}}"
        );
        assert_eq!(
            batch("pk", std::slice::from_ref(&e)),
            format!("{{\"key\":\"pk\",\"events\":[{e}]}}")
        );
    }

    #[test]
    fn non_object_props_become_empty() {
        let e = event(&EventFields {
            id: "i",
            event_type: "x",
            ts: 0.0,
            anonymous_id: "",
            session_id: "",
            user_id: "",
            community_id: "",
            entity_type: "",
            entity_id: "",
            url: "",
            referrer: "",
            title: "",
            props_json: "[1]",
        });
        assert!(e.ends_with(",\"props\":{}}"));
    }

    #[test]
    fn objects_and_integers() {
        let o = Obj::default()
            .str("a", "x\"y")
            .int("n", 42)
            .opt("empty", "")
            .opt("b", "z")
            .finish();
        assert_eq!(o, "{\"a\":\"x\\\"y\",\"n\":42,\"b\":\"z\"}");
        assert_eq!(Obj::default().finish(), "{}");
        assert_eq!(parse_int("1732000000000"), Some(1_732_000_000_000));
        assert_eq!(parse_int("12a"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("-1"), None);
    }
}
