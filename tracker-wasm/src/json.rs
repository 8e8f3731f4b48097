//! Hand-built JSON for events (no serde_json: it would triple the wasm size).

/// Appends `s` as a JSON string literal. Byte by byte: every byte JSON escapes is ASCII, so
/// the text between them is copied as it is (no `char` decoding, which costs wasm bytes).
pub fn push_str(out: &mut String, s: &str) {
    out.push_str("\"");
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.push_str(&s[start..i]);
        start = i + 1;
        if b >= 0x20 {
            out.push_str(if b == b'"' { "\\\"" } else { "\\\\" });
        } else {
            // Control characters as \u00XX (valid JSON for all of them, \n included).
            const HEX: &str = "0123456789abcdef";
            out.push_str("\\u00");
            let (hi, lo) = (usize::from(b >> 4), usize::from(b & 15));
            out.push_str(&HEX[hi..hi + 1]);
            out.push_str(&HEX[lo..lo + 1]);
        }
    }
    out.push_str(&s[start..]);
    out.push_str("\"");
}

/// Appends a non-negative integer in decimal (no `core::fmt`: it would add kilobytes).
pub fn push_int(out: &mut String, n: i64) {
    let n = n.max(0);
    if n >= 10 {
        push_int(out, n / 10);
    }
    let d = (n % 10) as usize;
    out.push_str(&"0123456789"[d..d + 1]);
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
    /// Continues the JSON object text `obj` (another writer's, like the page's
    /// `JSON.stringify`); a text that is not an object is replaced by an empty one.
    pub fn extend(obj: &str) -> Self {
        Obj(String::from(if is_object_text(obj) {
            &obj[..obj.len() - 1]
        } else {
            "{"
        }))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push_str(",");
        }
        push_str(&mut self.0, k);
        self.0.push_str(":");
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

    /// A value that is already JSON text.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    pub fn int(&mut self, k: &str, n: i64) -> &mut Self {
        self.key(k);
        push_int(&mut self.0, n);
        self
    }

    pub fn finish(&mut self) -> String {
        let mut s = std::mem::take(&mut self.0);
        s.push_str("}");
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
    /// Page views only: `window.innerWidth` in CSS pixels.
    pub screen_width: Option<u32>,
    /// Page views only: `navigator.language`.
    pub language: &'a str,
    /// `navigator.webdriver === true`; the field is left out otherwise.
    pub webdriver: bool,
    pub props_json: &'a str,
}

pub fn event(f: &EventFields<'_>) -> String {
    let mut o = Obj::default();
    o.str("id", f.id)
        .str("type", f.event_type)
        .int("ts", f.ts as i64);
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
        ("language", f.language),
    ] {
        o.opt(k, v);
    }
    if let Some(w) = f.screen_width {
        o.int("screen_width", w.into());
    }
    if f.webdriver {
        o.raw("webdriver", "true");
    }
    o.raw(
        "props",
        if is_object_text(f.props_json) {
            f.props_json
        } else {
            "{}"
        },
    );
    o.finish()
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
            o.push_str(",");
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
        push_str(&mut o, "a\"b\\c\nd\u{1}\u{1f}é\u{7f}");
        assert_eq!(o, "\"a\\\"b\\\\c\\u000ad\\u0001\\u001fé\u{7f}\"");
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
            screen_width: None,
            language: "",
            webdriver: false,
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
            screen_width: None,
            language: "",
            webdriver: false,
            props_json: "[1]",
        });
        assert!(e.ends_with(",\"props\":{}}"));
    }

    #[test]
    fn page_view_context_and_webdriver_fields() {
        let fields = EventFields {
            id: "i",
            event_type: "page.view",
            ts: 1.0,
            anonymous_id: "",
            session_id: "",
            user_id: "",
            community_id: "",
            entity_type: "",
            entity_id: "",
            url: "",
            referrer: "",
            title: "",
            screen_width: Some(1280),
            language: "en-US",
            webdriver: true,
            props_json: "{}",
        };
        assert_eq!(
            event(&fields),
            "{\"id\":\"i\",\"type\":\"page.view\",\"ts\":1,\"language\":\"en-US\",\"screen_width\":1280,\"webdriver\":true,\"props\":{}}"
        );
        let zero = event(&EventFields {
            screen_width: Some(0),
            language: "x\"",
            webdriver: false,
            ..fields
        });
        assert!(
            zero.contains(",\"language\":\"x\\\"\",\"screen_width\":0,\"props\""),
            "{zero}"
        );
        assert!(!zero.contains("webdriver"), "left out unless true: {zero}");
        let none = event(&EventFields {
            screen_width: None,
            language: "",
            ..fields
        });
        assert!(
            !none.contains("screen_width") && !none.contains("language"),
            "{none}"
        );
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
        assert_eq!(Obj::extend("{}").str("a", "b").finish(), "{\"a\":\"b\"}");
        assert_eq!(
            Obj::extend("{\"x\":[1]}")
                .opt("a", "b")
                .opt("c", "")
                .finish(),
            "{\"x\":[1],\"a\":\"b\"}"
        );
        assert_eq!(Obj::extend("[1]").int("n", 1).finish(), "{\"n\":1}");
        assert_eq!(Obj::extend("").finish(), "{}");
        assert_eq!(parse_int("1732000000000"), Some(1_732_000_000_000));
        assert_eq!(parse_int("12a"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("-1"), None);
    }
}
