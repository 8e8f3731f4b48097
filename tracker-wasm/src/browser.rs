//! The DOM glue: ids in first-party storage, page views, and delivery with sendBeacon.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobPropertyBag, Window};

use crate::{ids, json, url};

/// A new session after 30 minutes without activity.
const SESSION_IDLE_MS: f64 = 30.0 * 60.0 * 1000.0;

struct Tracker {
    endpoint: String,
    key: String,
    anonymous_id: String,
    session_id: String,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

fn window() -> Option<Window> {
    web_sys::window()
}

fn random_uuid(w: &Window) -> String {
    let mut bytes = [0u8; 16];
    if let Ok(c) = w.crypto() {
        let _ = c.get_random_values_with_u8_array(&mut bytes);
    }
    ids::uuid_v4(bytes)
}

fn stored_id(w: &Window, name: &str, make: impl FnOnce() -> String) -> String {
    let storage = w.local_storage().ok().flatten();
    if let Some(s) = &storage {
        if let Ok(Some(v)) = s.get_item(name) {
            return v;
        }
    }
    let v = make();
    if let Some(s) = &storage {
        let _ = s.set_item(name, &v);
    }
    v
}

fn session_id(w: &Window, now: f64) -> String {
    let storage = w.local_storage().ok().flatten();
    let last: f64 = storage
        .as_ref()
        .and_then(|s| s.get_item("sightline_seen").ok().flatten())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let existing = storage.as_ref().and_then(|s| s.get_item("sightline_sid").ok().flatten());
    let sid = match existing {
        Some(sid) if now - last < SESSION_IDLE_MS => sid,
        _ => {
            let sid = random_uuid(w);
            if let Some(s) = &storage {
                let _ = s.set_item("sightline_sid", &sid);
            }
            sid
        }
    };
    if let Some(s) = &storage {
        let mut t = String::new();
        json::push_int(&mut t, now as i64);
        let _ = s.set_item("sightline_seen", &t);
    }
    sid
}

/// Starts the tracker for `key`, reporting to `host`, and records the page view.
#[wasm_bindgen]
pub fn init(host: &str, key: &str) {
    let Some(w) = window() else { return };
    let now = js_sys::Date::now();
    let anonymous_id = stored_id(&w, "sightline_aid", || random_uuid(&w));
    let session_id = session_id(&w, now);
    TRACKER.with(|t| {
        *t.borrow_mut() = Some(Tracker {
            endpoint: {
                let mut e = String::from(host.trim_end_matches('/'));
                e.push_str("/collect");
                e
            },
            key: key.to_string(),
            anonymous_id,
            session_id,
        })
    });
    track("page.view", "{}");
}

/// Records an event of `name` with `props_json` (a JSON object text) and sends it.
#[wasm_bindgen]
pub fn track(name: &str, props_json: &str) {
    let Some(w) = window() else { return };
    let doc = w.document();
    let page = url::sanitize(&w.location().href().unwrap_or_default());
    let referrer = doc.as_ref().map(|d| d.referrer()).unwrap_or_default();
    let title = doc.as_ref().map(|d| d.title()).unwrap_or_default();
    let id = random_uuid(&w);
    TRACKER.with(|t| {
        let t = t.borrow();
        let Some(t) = t.as_ref() else { return };
        let event = json::event(&json::EventFields {
            id: &id,
            event_type: name,
            ts: js_sys::Date::now(),
            anonymous_id: &t.anonymous_id,
            session_id: &t.session_id,
            url: &page,
            referrer: &url::sanitize(&referrer),
            title: &title,
            props_json,
        });
        send(&w, &t.endpoint, &json::batch(&t.key, &[event]));
    });
}

fn send(w: &Window, endpoint: &str, body: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(body));
    let opts = BlobPropertyBag::new();
    opts.set_type("text/plain");
    if let Ok(blob) = Blob::new_with_str_sequence_and_options(&parts, &opts) {
        let _ = w.navigator().send_beacon_with_opt_blob(endpoint, Some(&blob));
    }
}
