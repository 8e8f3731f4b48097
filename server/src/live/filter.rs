//! Which live events a subscriber asked for: the live feed's counterpart of the analytics
//! `EventFilter`, applied by the server to each committed event before it goes on the socket,
//! so a filtered feed of a busy project does not ship every event to the browser.
//!
//! Invariant: a filter selects the same events here as on the stored rows. `path` is the stored
//! `path` column ([`Event::path`]), the properties are the stored `metadata` (the props, plus
//! `title` and `url` where the props have none: the worker's `into_row`), and [`contains`] is
//! PostgreSQL's `jsonb @>` (the API test `live_props_containment_agrees_with_postgres` puts
//! the two side by side).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::event::Event;

/// A live-feed filter, every part optional; an event must match every part given.
#[derive(Debug, Clone, Default)]
pub struct LiveMatch {
    /// Any of these types.
    pub event_types: Option<Vec<String>>,
    pub path: Option<String>,
    pub user_id: Option<String>,
    /// The event's properties contain this object.
    pub props: Option<Map<String, Value>>,
}

impl LiveMatch {
    pub fn matches(&self, e: &Event) -> bool {
        if let Some(types) = &self.event_types {
            if !types.contains(&e.event_type) {
                return false;
            }
        }
        if let Some(path) = &self.path {
            if e.path().as_deref() != Some(path.as_str()) {
                return false;
            }
        }
        if let Some(user) = &self.user_id {
            if e.user_id.as_deref() != Some(user.as_str()) {
                return false;
            }
        }
        match &self.props {
            None => true,
            Some(wanted) => wanted.iter().all(|(key, want)| match stored_prop(e, key) {
                Some(have) => contains(&have, want),
                None => false,
            }),
        }
    }
}

/// One key of the event's stored `metadata`, without building it: borrowed from the props,
/// built only for the title/url fallback (this runs per event, per subscriber).
fn stored_prop<'a>(e: &'a Event, key: &str) -> Option<Cow<'a, Value>> {
    if let Some(v) = e.props.get(key) {
        return Some(Cow::Borrowed(v));
    }
    let fallback = match key {
        "title" => e.title.as_deref(),
        "url" => e.url.as_deref(),
        _ => None,
    };
    fallback.map(|s| Cow::Owned(Value::String(s.to_string())))
}

/// Whether `have` contains `want`, as PostgreSQL's `have @> want` on two jsonb values nested in
/// documents (not at the top level, where an array may also contain a bare scalar; the filter
/// and the stored properties are both objects, so that case never arises here):
/// scalars are equal (numbers by value: `1` equals `1.0`); an object contains another whose
/// every key it has, with a containing value; an array contains another whose every element is
/// contained by one of its own. Values of different kinds never contain each other.
pub fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => w.iter().all(|wv| match wv {
            // A scalar of the wanted array must be one of the array's scalars; a container,
            // contained by one of its containers.
            Value::Array(_) | Value::Object(_) => h.iter().any(|hv| contains(hv, wv)),
            scalar => h.iter().any(|hv| scalar_eq(hv, scalar)),
        }),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        (h, w) => scalar_eq(h, w),
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            // Integers exactly; anything with a fraction or exponent by value, as `numeric` does
            // for what fits a double.
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64().zip(y.as_f64()).is_some_and(|(i, j)| i == j),
            }
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn containment_follows_jsonb_rules() {
        let doc = json!({"plan": "pro", "n": 3, "tags": ["a", "b", {"k": 1}], "nested": {"x": {"y": true}}});
        for (want, expected) in [
            (json!({}), true),
            (json!({"plan": "pro"}), true),
            (json!({"plan": "free"}), false),
            (json!({"n": 3.0}), true),
            (json!({"n": "3"}), false),
            (json!({"tags": ["b"]}), true),
            (json!({"tags": ["b", "a", "a"]}), true),
            (json!({"tags": [{"k": 1}]}), true),
            (json!({"tags": [{}]}), true),
            (json!({"tags": "a"}), false),
            (json!({"tags": ["c"]}), false),
            (json!({"nested": {"x": {}}}), true),
            (json!({"nested": {"x": {"y": false}}}), false),
            (json!({"missing": null}), false),
        ] {
            assert_eq!(contains(&doc, &want), expected, "{doc} @> {want}");
        }
    }
}
