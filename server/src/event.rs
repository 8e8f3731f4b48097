//! The event as the contract defines it, and the one place it is validated and sanitized.
//!
//! Both ingest endpoints and the worker go through [`Validator::event`]: the server to decide what
//! it answers 202 for, the worker again for jobs that other producers (a Node BullMQ `Queue.add`)
//! enqueued. Past this module, an [`Event`] is trusted: its id is a UUID, its type a dotted
//! lower-case name, its strings bounded and its properties an object free of deny-listed keys.
//!
//! The URL privacy rule ([`strip_url_secrets`]) is the same one the browser tracker applies
//! before sending (`tracker-wasm/src/url.rs`): it runs here again because server-side senders and
//! other trackers do not apply it, and a URL holding a credential must never be stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Longest event type name.
pub const MAX_TYPE_LEN: usize = 64;
/// Bound for ids (anonymous, session, user, community, entity).
pub const MAX_ID_LEN: usize = 128;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_TITLE_LEN: usize = 512;
/// Bound for `language` (a BCP 47 tag: 35 characters covers every registered form).
pub const MAX_LANGUAGE_LEN: usize = 35;
/// Largest `screen_width` accepted, in CSS pixels (far above any real viewport).
pub const MAX_SCREEN_WIDTH: u32 = 100_000;
/// Bound for any string value inside `props`.
pub const MAX_PROP_STRING_LEN: usize = 1024;
pub const MAX_PROPS_BYTES: usize = 8 * 1024;
pub const MAX_PROPS_DEPTH: usize = 5;
pub const MAX_PROPS_KEYS: usize = 64;

/// One validated event, serialized in the contract's shape inside queue jobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Client time in milliseconds since the epoch.
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub props: Map<String, Value>,
    /// The viewport's width in CSS pixels (`window.innerWidth`), sent by the tracker on page
    /// views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_width: Option<u32>,
    /// The browser's preferred language (`navigator.language`, like `en-US`), on page views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The sending browser reported `navigator.webdriver === true` (automation, headless
    /// browsers). A signal for bot tagging, which is the server's decision (`bot`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub webdriver: bool,
    /// Set by the server when the sender's user agent is an obvious bot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
    /// Sender's address and user agent: carried per event inside queue jobs that merge several
    /// requests (see `queue::Enqueuer`), and sent by server-side senders tracking on behalf of a
    /// browser (`ip`, `userAgent`: used exactly as a browser's); refused from browsers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Event {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.ts).unwrap_or_default()
    }

    /// The path of the page URL (no scheme, host or query; a route fragment kept, see
    /// [`url_path`]).
    pub fn path(&self) -> Option<String> {
        self.url.as_deref().map(url_path)
    }
}

/// Path part of an absolute or relative URL: `https://a.example/x/y?q#f` -> `/x/y`. A route
/// fragment (one starting with `#/`, as hash-routed single-page apps navigate) is part of the
/// page, so it is kept without its own query: `https://a.example/app?x=1#/settings/2?tab=3` ->
/// `/app#/settings/2`.
pub fn url_path(url: &str) -> String {
    let (url, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    let after_scheme = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            match rest.find(['/', '?']) {
                Some(j) => &rest[j..],
                None => "",
            }
        }
        None => url,
    };
    let end = after_scheme.find('?').unwrap_or(after_scheme.len());
    let mut path = match &after_scheme[..end] {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    if let Some(route) = fragment.filter(|f| is_route(f)) {
        path.push('#');
        path.push_str(route.split('?').next().unwrap_or(route));
    }
    path
}

/// Query parameter names that carry credentials, removed from `url` and `referrer` (compared
/// ASCII case-insensitively, as written: not percent-decoded). The tracker's list is the same
/// (`tracker-wasm/src/url.rs`).
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

/// A fragment (without its `#`) that is a route of a hash-routed app: `/settings/2`.
fn is_route(fragment: &str) -> bool {
    fragment.starts_with('/')
}

/// The URL privacy rule, shared with the tracker: the fragment is kept only when it is a route
/// (`#/...`), any other fragment (`#access_token=...`, `#section`) is dropped; query parameters
/// named in [`CREDENTIAL_PARAMS`] are removed, from the URL's query and from a route fragment's
/// own query (`#/callback?code=...`). The rest is unchanged, remaining parameters in their order;
/// empty parameters (`&&`) and a query left empty (`?`) are dropped with them. Idempotent.
pub fn strip_url_secrets(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let (before, fragment) = match url.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (url, None),
    };
    push_without_credentials(&mut out, before);
    if let Some(route) = fragment.filter(|f| is_route(f)) {
        out.push('#');
        push_without_credentials(&mut out, route);
    }
    out
}

/// Appends `s` (a URL or route without fragment) with its credential parameters removed.
fn push_without_credentials(out: &mut String, s: &str) {
    let (base, query) = s.split_once('?').unwrap_or((s, ""));
    out.push_str(base);
    let mut sep = '?';
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if pair.is_empty() || is_credential_param(name) {
            continue;
        }
        out.push(sep);
        out.push_str(pair);
        sep = '&';
    }
}

/// Whether a parameter name, as written, is a credential's.
fn is_credential_param(name: &str) -> bool {
    CREDENTIAL_PARAMS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// Which field names an endpoint accepts. The server-side endpoint also takes the camelCase names
/// backend services already send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Browser,
    Server,
    /// Events inside queue jobs: the server names plus the per-event `ip`, `user_agent` and
    /// `bot` that only the ingest edge may set.
    Job,
}

/// Why an event was refused: listed, as its text, in the 202 answer's `rejected` (the contract
/// gives `reason` as a string; the texts say what is allowed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("event must be a JSON object")]
    NotAnObject,
    #[error("unknown field '{0}'")]
    UnknownField(String),
    #[error("id is required (a UUID: the idempotency key)")]
    MissingId,
    #[error("id must be a UUID")]
    BadId,
    #[error("type is required")]
    MissingType,
    #[error("type must be a dotted lower-case name of at most {MAX_TYPE_LEN} characters (like page.view)")]
    BadType,
    #[error("ts is required (milliseconds since the epoch)")]
    MissingTs,
    #[error("ts must be milliseconds since the epoch or an RFC 3339 time")]
    BadTs,
    #[error("ts is outside the accepted window (from {past_secs} s before to {future_secs} s after the server's clock)")]
    TsOutOfWindow { past_secs: i64, future_secs: i64 },
    #[error("{0} must be a string")]
    NotAString(&'static str),
    #[error("screen_width must be an integer from 0 to {MAX_SCREEN_WIDTH} (CSS pixels)")]
    BadScreenWidth,
    #[error("webdriver must be true or false")]
    BadWebdriver,
    #[error("{0} may only be sent by server-side senders (/api/v1/track with the secret key, or trackEvents), not by browsers")]
    ServerOnly(&'static str),
    #[error("props must be a JSON object")]
    PropsNotAnObject,
    #[error("props is {0} bytes; at most {MAX_PROPS_BYTES} are allowed")]
    PropsTooLarge(usize),
    #[error("props nests deeper than {MAX_PROPS_DEPTH} levels")]
    PropsTooDeep,
    #[error("props has more than {MAX_PROPS_KEYS} keys")]
    PropsTooManyKeys,
    /// The job's JSON for this event did not parse (worker side; a producer's bytes).
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
}

/// What validation needs to know about the moment and the policy.
#[derive(Clone, Debug)]
pub struct Validator {
    pub now_ms: i64,
    pub max_past_ms: i64,
    pub max_future_ms: i64,
    pub deny_keys: std::sync::Arc<[String]>,
}

/// Truncates to at most `max` bytes on a char boundary, after trimming white space. NUL
/// characters are removed: PostgreSQL text and jsonb cannot hold them, so one would turn an
/// accepted event into a write that can never succeed.
pub fn bounded(s: &str, max: usize) -> String {
    let owned;
    let s = if s.contains('\0') {
        owned = s.replace('\0', "");
        owned.trim()
    } else {
        s.trim()
    };
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

pub(crate) fn is_valid_type(t: &str) -> bool {
    // Dotted lower-case segments: `page.view`, `github.pr.opened`, `user_signup.done`.
    !t.is_empty()
        && t.len() <= MAX_TYPE_LEN
        && t.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some('a'..='z'))
                && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        })
}

/// Card-like digit runs (13-19 digits passing Luhn) are redacted wherever they appear as a value.
fn looks_like_card_number(s: &str) -> bool {
    let digits: Vec<u32> = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_digit(10))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

impl Validator {
    pub fn new(now_ms: i64, settings: &crate::config::IngestSettings) -> Self {
        Self {
            now_ms,
            max_past_ms: settings.max_past.as_millis() as i64,
            max_future_ms: settings.max_future.as_millis() as i64,
            deny_keys: settings.deny_keys.clone(),
        }
    }

    /// Is `key` deny-listed? Matches an entry exactly or as a `_suffix` (`stripe_token`), case
    /// and `-`/`_` insensitive, without allocating: it runs for every property key.
    fn denied(&self, key: &str) -> bool {
        let key = key.as_bytes();
        let same = |a: u8, b: u8| a.to_ascii_lowercase() == b || (a == b'-' && b == b'_');
        self.deny_keys.iter().any(|d| {
            let d = d.as_bytes();
            if d.len() > key.len() {
                return false;
            }
            let start = key.len() - d.len();
            let tail_matches = key[start..].iter().zip(d).all(|(&a, &b)| same(a, b));
            tail_matches && (start == 0 || matches!(key[start - 1], b'_' | b'-'))
        })
    }

    /// Validates one event object. The error is the reason listed in the 202 answer.
    pub fn event(&self, value: Value, dialect: Dialect) -> Result<Event, Rejected> {
        let Value::Object(obj) = value else {
            return Err(Rejected::NotAnObject);
        };
        let mut id = None;
        let mut event_type = None;
        let mut ts = None;
        let mut ev = Event {
            id: Uuid::nil(),
            event_type: String::new(),
            ts: 0,
            anonymous_id: None,
            session_id: None,
            user_id: None,
            community_id: None,
            entity_type: None,
            entity_id: None,
            url: None,
            referrer: None,
            title: None,
            props: Map::new(),
            screen_width: None,
            language: None,
            webdriver: false,
            bot: false,
            ip: None,
            user_agent: None,
        };
        for (key, val) in obj {
            let name = match (key.as_str(), dialect) {
                ("id", _) | ("eventId", Dialect::Server | Dialect::Job) => "id",
                ("type", _) | ("eventType", Dialect::Server | Dialect::Job) => "type",
                ("ts", _) | ("timestamp", Dialect::Server | Dialect::Job) => "ts",
                ("anonymous_id", _) | ("anonymousId", Dialect::Server | Dialect::Job) => {
                    "anonymous_id"
                }
                ("session_id", _) | ("sessionId", Dialect::Server | Dialect::Job) => "session_id",
                ("user_id", _) | ("userId", Dialect::Server | Dialect::Job) => "user_id",
                ("community_id", _) | ("communityId", Dialect::Server | Dialect::Job) => {
                    "community_id"
                }
                ("entity_type", _) | ("entityType", Dialect::Server | Dialect::Job) => {
                    "entity_type"
                }
                ("entity_id", _) | ("entityId", Dialect::Server | Dialect::Job) => "entity_id",
                ("props", _) | ("metadata", Dialect::Server | Dialect::Job) => "props",
                ("url", _) => "url",
                ("referrer", _) => "referrer",
                ("title", _) => "title",
                ("language", _) => "language",
                ("screen_width", _) | ("screenWidth", Dialect::Server | Dialect::Job) => {
                    ev.screen_width = parse_screen_width(&val)?;
                    continue;
                }
                ("webdriver", _) => {
                    ev.webdriver = match val {
                        Value::Bool(b) => b,
                        Value::Null => false,
                        _ => return Err(Rejected::BadWebdriver),
                    };
                    continue;
                }
                ("bot", Dialect::Job) => {
                    ev.bot = val.as_bool().unwrap_or(false);
                    continue;
                }
                ("ip", Dialect::Job | Dialect::Server) => "ip",
                ("user_agent", Dialect::Job | Dialect::Server)
                | ("userAgent", Dialect::Server | Dialect::Job) => "user_agent",
                ("ip", Dialect::Browser) => return Err(Rejected::ServerOnly("ip")),
                ("user_agent" | "userAgent", Dialect::Browser) => {
                    return Err(Rejected::ServerOnly("userAgent"))
                }
                // A client may not claim (or deny) being a bot; the server decides.
                ("bot", _) => continue,
                (other, _) => return Err(Rejected::UnknownField(bounded(other, 64))),
            };
            match name {
                "id" => {
                    let s = val.as_str().ok_or(Rejected::BadId)?;
                    id = Some(Uuid::parse_str(s).map_err(|_| Rejected::BadId)?);
                }
                "type" => {
                    let s = val.as_str().ok_or(Rejected::BadType)?;
                    if !is_valid_type(s) {
                        return Err(Rejected::BadType);
                    }
                    event_type = Some(s.to_string());
                }
                "ts" => ts = Some(parse_ts(&val)?),
                "props" => match val {
                    Value::Object(map) => ev.props = self.props(map)?,
                    Value::Null => {}
                    _ => return Err(Rejected::PropsNotAnObject),
                },
                field => {
                    let text = match val {
                        Value::Null => continue,
                        Value::String(s) => s,
                        // Backends often send numeric ids; keep them as text.
                        Value::Number(n) if field.ends_with("_id") => n.to_string(),
                        _ => return Err(Rejected::NotAString(field)),
                    };
                    let text = match field {
                        // Credentials are removed before bounding, so a cut cannot hide a
                        // parameter's name and leave its value behind.
                        "url" | "referrer" => bounded(&strip_url_secrets(&text), MAX_URL_LEN),
                        "title" | "user_agent" => bounded(&text, MAX_TITLE_LEN),
                        // An address is parsed where it is used (the worker): text that is not
                        // one counts as unknown, never as an error.
                        "ip" => bounded(&text, 64),
                        "language" => bounded(&text, MAX_LANGUAGE_LEN),
                        _ => bounded(&text, MAX_ID_LEN),
                    };
                    if text.is_empty() {
                        continue;
                    }
                    let slot = match field {
                        "anonymous_id" => &mut ev.anonymous_id,
                        "session_id" => &mut ev.session_id,
                        "user_id" => &mut ev.user_id,
                        "community_id" => &mut ev.community_id,
                        "entity_type" => &mut ev.entity_type,
                        "entity_id" => &mut ev.entity_id,
                        "url" => &mut ev.url,
                        "referrer" => &mut ev.referrer,
                        "ip" => &mut ev.ip,
                        "user_agent" => &mut ev.user_agent,
                        "language" => &mut ev.language,
                        _ => &mut ev.title,
                    };
                    *slot = Some(text);
                }
            }
        }
        ev.id = id.ok_or(Rejected::MissingId)?;
        ev.event_type = event_type.ok_or(Rejected::MissingType)?;
        ev.ts = ts.ok_or(Rejected::MissingTs)?;
        if ev.ts < self.now_ms - self.max_past_ms || ev.ts > self.now_ms + self.max_future_ms {
            return Err(Rejected::TsOutOfWindow {
                past_secs: self.max_past_ms / 1000,
                future_secs: self.max_future_ms / 1000,
            });
        }
        Ok(ev)
    }

    fn props(&self, map: Map<String, Value>) -> Result<Map<String, Value>, Rejected> {
        let mut keys = 0usize;
        let cleaned = self.clean_object(map, 1, &mut keys)?;
        let size = serde_json::to_vec(&cleaned)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_PROPS_BYTES {
            return Err(Rejected::PropsTooLarge(size));
        }
        Ok(cleaned)
    }

    fn clean_object(
        &self,
        map: Map<String, Value>,
        depth: usize,
        keys: &mut usize,
    ) -> Result<Map<String, Value>, Rejected> {
        if depth > MAX_PROPS_DEPTH {
            return Err(Rejected::PropsTooDeep);
        }
        let mut out = Map::with_capacity(map.len());
        for (k, v) in map {
            *keys += 1;
            if *keys > MAX_PROPS_KEYS {
                return Err(Rejected::PropsTooManyKeys);
            }
            if self.denied(&k) {
                continue;
            }
            let k = bounded(&k, MAX_ID_LEN);
            out.insert(k, self.clean_value(v, depth, keys)?);
        }
        Ok(out)
    }

    fn clean_value(&self, v: Value, depth: usize, keys: &mut usize) -> Result<Value, Rejected> {
        Ok(match v {
            Value::String(s) if looks_like_card_number(&s) => Value::String("[redacted]".into()),
            Value::String(s) => Value::String(bounded(&s, MAX_PROP_STRING_LEN)),
            Value::Object(m) => Value::Object(self.clean_object(m, depth + 1, keys)?),
            Value::Array(items) => {
                if depth + 1 > MAX_PROPS_DEPTH {
                    return Err(Rejected::PropsTooDeep);
                }
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| self.clean_value(i, depth + 1, keys))
                        .collect::<Result<_, _>>()?,
                )
            }
            other => other,
        })
    }
}

/// `screen_width`: an integer number of CSS pixels within `0..=MAX_SCREEN_WIDTH`; null is none.
fn parse_screen_width(v: &Value) -> Result<Option<u32>, Rejected> {
    match v {
        Value::Null => Ok(None),
        _ => v
            .as_u64()
            .filter(|w| *w <= u64::from(MAX_SCREEN_WIDTH))
            .map(|w| Some(w as u32))
            .ok_or(Rejected::BadScreenWidth),
    }
}

fn parse_ts(v: &Value) -> Result<i64, Rejected> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or(Rejected::BadTs),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .map_err(|_| Rejected::BadTs),
        _ => Err(Rejected::BadTs),
    }
}

/// Obvious automated clients, by user agent. They are stored tagged (`is_bot`), never mixed
/// silently into human traffic and never dropped.
pub fn is_bot_user_agent(ua: &str) -> bool {
    const MARKERS: &[&str] = &[
        "bot",
        "crawl",
        "spider",
        "slurp",
        "curl/",
        "wget/",
        "python-requests",
        "python-urllib",
        "go-http-client",
        "java/",
        "okhttp",
        "libwww",
        "httpclient",
        "facebookexternalhit",
        "preview",
        "scrapy",
        "phantomjs",
        "lighthouse",
    ];
    let ua = ua.to_ascii_lowercase();
    ua.is_empty() || MARKERS.iter().any(|m| ua.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v() -> Validator {
        Validator {
            now_ms: 1_763_820_000_000,
            max_past_ms: 86_400_000,
            max_future_ms: 3_600_000,
            deny_keys: crate::config::DEFAULT_DENY_KEYS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    fn ok() -> Value {
        json!({"id": "6f1c1b2e-4c7d-4a51-9a3e-0b8f0c6a2d11", "type": "element.click", "ts": 1_763_820_000_000i64})
    }

    #[test]
    fn contract_example_is_accepted() {
        let e = v()
            .event(
                json!({
                  "id": "6f1c1b2e-4c7d-4a51-9a3e-0b8f0c6a2d11", "type": "element.click", "ts": 1763820000000i64,
                  "anonymous_id": "a-7Hk2", "session_id": "s-91x", "user_id": "u-42", "community_id": "c-7",
                  "entity_type": "button", "entity_id": "signup",
                  "url": "https://shop.example/pricing?plan=pro", "referrer": "https://news.example/", "title": "Pricing",
                  "props": { "selector": "main > button.cta", "text": "Start" }
                }),
                Dialect::Browser,
            )
            .expect("valid");
        assert_eq!(e.path().as_deref(), Some("/pricing"));
        assert_eq!(e.props["text"], "Start");
    }

    #[test]
    fn event_id_is_required_and_must_be_a_uuid() {
        let mut e = ok();
        e.as_object_mut().expect("obj").remove("id");
        assert!(v()
            .event(e, Dialect::Browser)
            .expect_err("refused")
            .to_string()
            .contains("id is required"));
        let mut e = ok();
        e["id"] = json!("not-a-uuid");
        assert_eq!(
            v().event(e, Dialect::Browser)
                .expect_err("refused")
                .to_string(),
            "id must be a UUID"
        );
    }

    #[test]
    fn event_type_must_be_dotted_lower_case_and_bounded() {
        for bad in [
            "Page.View",
            "page..view",
            ".x",
            "page view",
            "1abc",
            "x;drop table",
            "",
        ] {
            let mut e = ok();
            e["type"] = json!(bad);
            assert!(
                v().event(e, Dialect::Browser).is_err(),
                "{bad} must be refused"
            );
        }
        let mut e = ok();
        e["type"] = json!("a".repeat(MAX_TYPE_LEN + 1));
        assert!(v().event(e, Dialect::Browser).is_err());
        for good in ["page.view", "github.pr.opened", "user.signup", "x"] {
            let mut e = ok();
            e["type"] = json!(good);
            assert!(v().event(e, Dialect::Browser).is_ok(), "{good}");
        }
    }

    #[test]
    fn timestamp_must_be_inside_the_skew_window() {
        let mut e = ok();
        e["ts"] = json!(1_763_820_000_000i64 - 2 * 86_400_000);
        assert!(v()
            .event(e, Dialect::Browser)
            .expect_err("refused")
            .to_string()
            .contains("window"));
        let mut e = ok();
        e["ts"] = json!(1_763_820_000_000i64 + 2 * 3_600_000);
        assert!(v().event(e, Dialect::Browser).is_err());
        let mut e = ok();
        e["ts"] = json!("yesterday");
        assert!(v().event(e, Dialect::Browser).is_err());
    }

    #[test]
    fn props_must_be_a_bounded_object() {
        let mut e = ok();
        e["props"] = json!([1, 2]);
        assert!(v().event(e, Dialect::Browser).is_err());

        let mut deep = json!({"leaf": 1});
        for _ in 0..MAX_PROPS_DEPTH {
            deep = json!({ "n": deep });
        }
        let mut e = ok();
        e["props"] = deep;
        assert!(v()
            .event(e, Dialect::Browser)
            .expect_err("refused")
            .to_string()
            .contains("deeper"));

        let many: Map<String, Value> = (0..=MAX_PROPS_KEYS)
            .map(|i| (format!("k{i}"), json!(i)))
            .collect();
        let mut e = ok();
        e["props"] = Value::Object(many);
        assert!(v()
            .event(e, Dialect::Browser)
            .expect_err("refused")
            .to_string()
            .contains("keys"));

        let big: Map<String, Value> = (0..20)
            .map(|i| (format!("k{i}"), json!("x".repeat(1000))))
            .collect();
        let mut e = ok();
        e["props"] = Value::Object(big);
        assert!(v()
            .event(e, Dialect::Browser)
            .expect_err("refused")
            .to_string()
            .contains("bytes"));
    }

    #[test]
    fn deny_listed_keys_are_stripped_at_every_depth() {
        let mut e = ok();
        e["props"] = json!({"password": "x", "Stripe-Token": "y", "nested": {"api_key": "k", "keep": 1}, "plan": "pro"});
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(
            Value::Object(ev.props),
            json!({"nested": {"keep": 1}, "plan": "pro"})
        );
    }

    #[test]
    fn card_numbers_are_redacted_wherever_they_appear() {
        let mut e = ok();
        e["props"] = json!({"note": "4111 1111 1111 1111", "order": "1234567890123"});
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(ev.props["note"], "[redacted]");
        assert_eq!(
            ev.props["order"], "1234567890123",
            "a non-Luhn number is kept"
        );
    }

    #[test]
    fn strings_are_trimmed_to_bounds() {
        let mut e = ok();
        e["title"] = json!(format!("  {}  ", "é".repeat(MAX_TITLE_LEN)));
        e["user_id"] = json!("u".repeat(500));
        e["props"] = json!({"text": "t".repeat(5000)});
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert!(ev
            .title
            .as_ref()
            .map(|t| t.len() <= MAX_TITLE_LEN)
            .unwrap_or(false));
        assert_eq!(ev.user_id.as_ref().map(String::len), Some(MAX_ID_LEN));
        assert_eq!(
            ev.props["text"].as_str().map(str::len),
            Some(MAX_PROP_STRING_LEN)
        );
    }

    #[test]
    fn unknown_fields_are_refused_and_named() {
        let mut e = ok();
        e["colour"] = json!("red");
        assert_eq!(
            v().event(e, Dialect::Browser)
                .expect_err("refused")
                .to_string(),
            "unknown field 'colour'"
        );
        let mut e = ok();
        e["eventType"] = json!("x.y");
        assert!(
            v().event(e, Dialect::Browser).is_err(),
            "camelCase is for the server endpoint only"
        );
    }

    #[test]
    fn server_dialect_accepts_backend_camel_case() {
        let ev = v()
            .event(
                json!({"eventId": "6f1c1b2e-4c7d-4a51-9a3e-0b8f0c6a2d11", "eventType": "community.created",
                       "timestamp": "2025-11-22T14:00:00Z", "userId": 42, "communityId": "c-1",
                       "entityType": "community", "entityId": "c-1", "metadata": {"plan": "pro"}}),
                Dialect::Server,
            )
            .expect("valid");
        assert_eq!(ev.user_id.as_deref(), Some("42"));
        assert_eq!(ev.event_type, "community.created");
        assert_eq!(ev.props["plan"], "pro");
    }

    #[test]
    fn only_jobs_and_server_side_senders_may_carry_sender_context() {
        let mut e = ok();
        e["ip"] = json!("203.0.113.9");
        e["bot"] = json!(true);
        assert_eq!(
            v().event(e.clone(), Dialect::Browser)
                .expect_err("refused")
                .to_string(),
            "ip may only be sent by server-side senders (/api/v1/track with the secret key, or trackEvents), not by browsers",
            "browsers cannot set ip"
        );
        let server = v()
            .event(e.clone(), Dialect::Server)
            .expect("server-side senders may");
        assert_eq!(server.ip.as_deref(), Some("203.0.113.9"));
        assert!(
            !server.bot,
            "a server-side sender cannot mark an event a bot's either"
        );
        let ev = v().event(e, Dialect::Job).expect("valid in a job");
        assert_eq!(ev.ip.as_deref(), Some("203.0.113.9"));
        assert!(ev.bot);
        let mut e = ok();
        e["bot"] = json!(true);
        assert!(
            !v().event(e, Dialect::Browser).expect("valid").bot,
            "a client cannot mark itself"
        );
    }

    #[test]
    fn injection_strings_are_kept_as_inert_data() {
        let mut e = ok();
        e["props"] = json!({"q": "'; DROP TABLE activities; --", "h": "<script>alert(1)</script>"});
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(ev.props["q"], "'; DROP TABLE activities; --");
    }

    #[test]
    fn nul_characters_never_reach_the_database() {
        let mut e = ok();
        e["title"] = json!("a\u{0}b");
        e["props"] = json!({"k\u{0}": "v\u{0}", "n": {"x": "\u{0}"}});
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(ev.title.as_deref(), Some("ab"));
        let text = serde_json::to_string(&ev.props).expect("json");
        assert!(!text.contains("\\u0000"), "{text}");
    }

    #[test]
    fn url_path_handles_absolute_and_relative_urls() {
        assert_eq!(url_path("https://a.example/x/y?q=1#f"), "/x/y");
        assert_eq!(url_path("https://a.example"), "/");
        assert_eq!(url_path("https://a.example?x"), "/");
        assert_eq!(url_path("/docs#intro"), "/docs");
        assert_eq!(url_path("https://a.example#f/x"), "/");
    }

    #[test]
    fn url_path_keeps_a_route_fragment_without_its_query() {
        assert_eq!(
            url_path("https://a.example/app?x=1#/settings/2"),
            "/app#/settings/2"
        );
        assert_eq!(url_path("https://a.example#/x"), "/#/x");
        assert_eq!(url_path("https://a.example/app#/cart?tab=2"), "/app#/cart");
        assert_eq!(url_path("/app/#/"), "/app/#/");
        assert_eq!(url_path("https://a.example/app#!/x"), "/app");
        assert_eq!(url_path("https://a.example/app#section/x"), "/app");
    }

    #[test]
    fn url_secrets_rule() {
        let cases = [
            // Fragments: a route is kept, anything else dropped.
            (
                "https://a.example/app#/settings/2",
                "https://a.example/app#/settings/2",
            ),
            ("https://a.example/app#/", "https://a.example/app#/"),
            ("https://a.example/doc#section", "https://a.example/doc"),
            (
                "https://a.example/cb#access_token=abc&state=x",
                "https://a.example/cb",
            ),
            ("https://a.example/cb#token=abc", "https://a.example/cb"),
            ("https://a.example/x#", "https://a.example/x"),
            ("https://a.example/x#!/route", "https://a.example/x"),
            (
                "https://a.example/x?a=1#frag?token=t",
                "https://a.example/x?a=1",
            ),
            // Credential parameters, case-insensitive, wherever they stand.
            ("https://a.example/x?token=1", "https://a.example/x"),
            (
                "https://a.example/x?a=1&TOKEN=2&b=3",
                "https://a.example/x?a=1&b=3",
            ),
            (
                "https://a.example/x?Access_Token=s&plan=pro",
                "https://a.example/x?plan=pro",
            ),
            (
                "https://a.example/x?plan=pro&code=c&state=s",
                "https://a.example/x?plan=pro",
            ),
            (
                "https://a.example/x?id_token=1&refresh_token=2&auth=3&authorization=4",
                "https://a.example/x",
            ),
            (
                "https://a.example/x?password=1&passwd=2&secret=3&api_key=4&apikey=5",
                "https://a.example/x",
            ),
            (
                "https://a.example/x?session_token=1&sessionid=2&jwt=3&q=4",
                "https://a.example/x?q=4",
            ),
            ("https://a.example/x?token", "https://a.example/x"),
            ("https://a.example/x?token=&x=", "https://a.example/x?x="),
            // Names are compared as written (not percent-decoded), like the tracker does.
            (
                "https://a.example/x?%74oken=1&a=b",
                "https://a.example/x?%74oken=1&a=b",
            ),
            // Look-alikes are not credentials.
            (
                "https://a.example/x?tokens=1&my_token=2&codex=3",
                "https://a.example/x?tokens=1&my_token=2&codex=3",
            ),
            (
                "https://a.example/x?email=e&key=k&session=s&sid=i",
                "https://a.example/x?email=e&key=k&session=s&sid=i",
            ),
            (
                "https://a.example/x?q=token&v=code",
                "https://a.example/x?q=token&v=code",
            ),
            // Order kept, empty parameters and an empty query dropped.
            (
                "https://a.example/x?c=3&b=2&a=1",
                "https://a.example/x?c=3&b=2&a=1",
            ),
            (
                "https://a.example/x?a=1&&b=2&token=t",
                "https://a.example/x?a=1&b=2",
            ),
            ("https://a.example/x?", "https://a.example/x"),
            // A route fragment's own query is cleaned too.
            (
                "https://a.example/#/callback?code=c&next=%2Fhome",
                "https://a.example/#/callback?next=%2Fhome",
            ),
            (
                "https://a.example/app?token=t#/r?jwt=j",
                "https://a.example/app#/r",
            ),
            // No query, no fragment, relative URLs, non-ASCII.
            ("https://a.example/x", "https://a.example/x"),
            ("/docs?token=1&page=2#intro", "/docs?page=2"),
            (
                "https://a.example/caf\u{e9}?q=\u{fc}&token=\u{e9}",
                "https://a.example/caf\u{e9}?q=\u{fc}",
            ),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(strip_url_secrets(url), want, "{url}");
            assert_eq!(strip_url_secrets(want), want, "idempotent on {want}");
        }
    }

    #[test]
    fn the_validator_strips_secrets_from_url_and_referrer_in_every_dialect() {
        for dialect in [Dialect::Browser, Dialect::Server, Dialect::Job] {
            let mut e = ok();
            e["url"] = json!("https://a.example/app?token=t&plan=pro#/settings/2");
            e["referrer"] = json!("https://login.example/cb?code=c#access_token=x");
            let ev = v().event(e, dialect).expect("valid");
            assert_eq!(
                ev.url.as_deref(),
                Some("https://a.example/app?plan=pro#/settings/2"),
                "{dialect:?}"
            );
            assert_eq!(ev.referrer.as_deref(), Some("https://login.example/cb"));
            assert_eq!(ev.path().as_deref(), Some("/app#/settings/2"));
        }
        let mut e = ok();
        e["url"] = json!("?token=t");
        assert_eq!(v().event(e, Dialect::Browser).expect("valid").url, None);
    }

    #[test]
    fn page_view_context_fields_are_accepted_and_bounded() {
        let mut e = ok();
        e["screen_width"] = json!(1280);
        e["language"] = json!("en-US");
        e["webdriver"] = json!(true);
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(ev.screen_width, Some(1280));
        assert_eq!(ev.language.as_deref(), Some("en-US"));
        assert!(ev.webdriver);

        for (w, want) in [
            (json!(0), Some(0)),
            (json!(100_000), Some(100_000)),
            (Value::Null, None),
        ] {
            let mut e = ok();
            e["screen_width"] = w;
            assert_eq!(
                v().event(e, Dialect::Browser).expect("valid").screen_width,
                want
            );
        }
        for bad in [
            json!(100_001),
            json!(-1),
            json!(12.5),
            json!("1280"),
            json!(true),
            json!(u64::MAX),
        ] {
            let mut e = ok();
            e["screen_width"] = bad.clone();
            assert_eq!(
                v().event(e, Dialect::Browser)
                    .expect_err("refused")
                    .to_string(),
                "screen_width must be an integer from 0 to 100000 (CSS pixels)",
                "{bad}"
            );
        }

        let mut e = ok();
        e["language"] = json!(format!("  {}  ", "x".repeat(50)));
        let ev = v().event(e, Dialect::Browser).expect("valid");
        assert_eq!(ev.language.as_deref().map(str::len), Some(MAX_LANGUAGE_LEN));
        let mut e = ok();
        e["language"] = json!(" ");
        assert_eq!(
            v().event(e, Dialect::Browser).expect("valid").language,
            None
        );
        let mut e = ok();
        e["language"] = json!(7);
        assert_eq!(
            v().event(e, Dialect::Browser)
                .expect_err("refused")
                .to_string(),
            "language must be a string"
        );

        let mut e = ok();
        e["webdriver"] = json!("yes");
        assert_eq!(
            v().event(e, Dialect::Browser)
                .expect_err("refused")
                .to_string(),
            "webdriver must be true or false"
        );
        let mut e = ok();
        e["webdriver"] = json!(false);
        assert!(!v().event(e, Dialect::Browser).expect("valid").webdriver);
    }

    #[test]
    fn context_fields_in_the_server_and_job_dialects() {
        let mut e = ok();
        e["screenWidth"] = json!(390);
        e["language"] = json!("de");
        e["webdriver"] = json!(true);
        let ev = v().event(e.clone(), Dialect::Server).expect("valid");
        assert_eq!(
            (ev.screen_width, ev.language.as_deref(), ev.webdriver),
            (Some(390), Some("de"), true)
        );
        assert!(
            v().event(e, Dialect::Browser).is_err(),
            "camelCase is for the server endpoint only"
        );
        let mut e = ok();
        e["screen_width"] = json!(390);
        assert_eq!(
            v().event(e, Dialect::Server).expect("valid").screen_width,
            Some(390)
        );

        // A job carries them in the snake_case names `Event` serializes to, and only when set.
        let job = serde_json::to_value(&ev).expect("json");
        assert_eq!(
            (&job["screen_width"], &job["language"], &job["webdriver"]),
            (&json!(390), &json!("de"), &json!(true))
        );
        assert_eq!(v().event(job, Dialect::Job).expect("valid"), ev);
        let plain = v().event(ok(), Dialect::Browser).expect("valid");
        let text = serde_json::to_string(&plain).expect("json");
        for k in ["screen_width", "language", "webdriver"] {
            assert!(!text.contains(k), "{k} left out when unset: {text}");
        }
    }

    #[test]
    fn bots_are_recognised_by_user_agent() {
        assert!(is_bot_user_agent("Mozilla/5.0 (compatible; Googlebot/2.1)"));
        assert!(is_bot_user_agent("curl/8.1"));
        assert!(!is_bot_user_agent(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
        ));
    }
}
