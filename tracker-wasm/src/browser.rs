//! The DOM glue (wasm32 only): reads the page, keeps the tracker's state, and delivers.
//!
//! One state object per page ([`TRACKER`]). Every listener is passive and does a bounded amount
//! of work (a click walks at most a few ancestors; a scroll reads three numbers), so the tracker
//! never causes a long main-thread task. One `FnMut(JsValue)` closure serves every DOM event and
//! timer (one wasm-bindgen adapter, not one per listener: glue size is part of the budget).
//!
//! Delivery invariants: an event is in exactly one of the batch, a beacon/fetch in flight, or
//! the retry queue; the retry queue's events stay stored until a send of them is confirmed
//! (at-least-once; the server dedupes by event id). Nothing is captured or stored while opted
//! out or while a honoured DNT/GPC signal is on, except the opt-out flag itself.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AddEventListenerOptions, Element, Event, MouseEvent, Response, Storage, Window};

use crate::batch::{self, Batch};
use crate::config::{self, Options};
use crate::json::{self, Obj};
use crate::{ids, retry, scroll, selector, url};

const K_AID: &str = "sightline_aid";
const K_SID: &str = "sightline_sid";
const K_SEEN: &str = "sightline_seen";
const K_UID: &str = "sightline_uid";
const K_CID: &str = "sightline_cid";
const K_OPTOUT: &str = "sightline_optout";
const K_QUEUE: &str = "sightline_q";

/// Event types the loader's History API hook and the browser raise; all handled by `on_event`.
const EVENTS: [&str; 8] = [
    "click",
    "scroll",
    "visibilitychange",
    "pagehide",
    "popstate",
    "hashchange",
    "sightline:nav",
    "online",
];

struct Tracker {
    w: Window,
    endpoint: String,
    key: String,
    opts: Options,
    /// None in cookieless mode (and when the browser refuses storage): ids live in memory.
    storage: Option<Storage>,
    /// Opted out, or a honoured DNT/GPC signal: capture nothing.
    blocked: bool,
    privacy_signal: bool,
    aid: String,
    sid: String,
    seen: i64,
    user_id: String,
    community_id: String,
    /// The current page view's URL (sanitized); "" before the first view.
    page_url: String,
    /// The referrer for the page view being built (the previous view's URL after an SPA
    /// navigation).
    referrer: String,
    scroll: scroll::Scroll,
    batch: Batch,
    flush_at: Option<f64>,
    /// The retry queue in cookieless mode (never written to storage there).
    mem_queue: Vec<String>,
    retry_at: Option<f64>,
    retry_attempts: u32,
    /// Retry sends still in flight, and whether one of them failed.
    retry_pending: usize,
    retry_failed: bool,
    tick: js_sys::Function,
}

#[wasm_bindgen]
extern "C" {
    // A `fetch` init dictionary: web-sys' RequestInit has no `keepalive` in its stable API.
    type FetchInit;
    #[wasm_bindgen(method, setter)]
    fn set_method(this: &FetchInit, v: &str);
    #[wasm_bindgen(method, setter)]
    fn set_body(this: &FetchInit, v: &str);
    #[wasm_bindgen(method, setter)]
    fn set_keepalive(this: &FetchInit, v: bool);
    // `promise.then(ok, err)` with plain functions.
    type Thenable;
    #[wasm_bindgen(method)]
    fn then(this: &Thenable, ok: &js_sys::Function, err: &js_sys::Function);
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    TRACKER.with(|t| t.try_borrow_mut().ok()?.as_mut().map(f))
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// Starts the tracker: `host` is the server's origin, `script` the tag carrying the options.
#[wasm_bindgen]
pub fn init(host: &str, script: &Element) {
    let Some(w) = web_sys::window() else { return };
    if TRACKER.with(|t| t.borrow().is_some()) {
        return;
    }
    let attr = |n: &str| script.get_attribute(n);
    let Some(key) = attr("data-key") else { return };
    let opts = Options::parse(
        attr("data-flush-events").as_deref(),
        attr("data-flush-interval").as_deref(),
        attr("data-cookieless").as_deref(),
        attr("data-respect-dnt").as_deref(),
    );
    let nav = w.navigator();
    // Plain property reads: `doNotTrack` is null when unset (web-sys types it as a string).
    let prop = |k: &str| js_sys::Reflect::get(&nav, &JsValue::from_str(k)).unwrap_or(JsValue::NULL);
    let dnt = prop("doNotTrack").as_string();
    let gpc = prop("globalPrivacyControl").as_bool().unwrap_or(false);
    let privacy_signal = opts.respect_dnt && config::privacy_signal(dnt.as_deref(), gpc);
    let local = w.local_storage().ok().flatten();
    let opted_out = local
        .as_ref()
        .and_then(|s| s.get_item(K_OPTOUT).ok().flatten())
        .is_some();
    let storage = if opts.cookieless { None } else { local };
    let get = |k: &str| {
        storage
            .as_ref()
            .and_then(|s| s.get_item(k).ok().flatten())
            .unwrap_or_default()
    };
    let (user_id, community_id) = (get(K_UID), get(K_CID));

    let cb = Closure::<dyn FnMut(JsValue)>::new(on_event);
    let tick: js_sys::Function = cb.as_ref().unchecked_ref::<js_sys::Function>().clone();
    let opt = AddEventListenerOptions::new();
    opt.set_passive(true);
    opt.set_capture(true);
    let doc: Option<web_sys::EventTarget> = w.document().map(Into::into);
    for ty in EVENTS {
        let target: &web_sys::EventTarget = match (ty, &doc) {
            ("click" | "visibilitychange", Some(d)) => d,
            _ => &w,
        };
        let _ =
            target.add_event_listener_with_callback_and_add_event_listener_options(ty, &tick, &opt);
    }
    // Listeners live as long as the page.
    cb.forget();

    let mut endpoint = String::from(host.trim_end_matches('/'));
    endpoint.push_str("/collect");
    let t = Tracker {
        batch: Batch::new(opts.flush_events),
        w,
        endpoint,
        key,
        opts,
        storage,
        blocked: opted_out || privacy_signal,
        privacy_signal,
        aid: String::new(),
        sid: String::new(),
        seen: 0,
        user_id,
        community_id,
        page_url: String::new(),
        referrer: String::new(),
        scroll: scroll::Scroll::default(),
        flush_at: None,
        mem_queue: Vec::new(),
        retry_at: None,
        retry_attempts: 0,
        retry_pending: 0,
        retry_failed: false,
        tick,
    };
    TRACKER.with(|s| *s.borrow_mut() = Some(t));
    with(|t| {
        t.page_view();
        // Events left over from an earlier page (offline, failed sends) go out now.
        t.retry();
    });
}

/// Records a custom event `name` with `props_json` (a JSON object text).
#[wasm_bindgen]
pub fn track(name: &str, props_json: &str) {
    with(|t| t.emit(name, props_json, "", ""));
}

/// Attaches `user_id` to this and every later event (persisted unless cookieless) and records
/// a `user.identify` event carrying `traits_json`.
#[wasm_bindgen]
pub fn identify(user_id: &str, traits_json: &str) {
    with(|t| {
        if t.blocked {
            return;
        }
        t.user_id = user_id.to_string();
        t.put(K_UID, user_id);
        t.emit("user.identify", traits_json, "", "");
    });
}

/// Attaches `community_id` (a team, workspace, organisation) to later events.
#[wasm_bindgen]
pub fn group(community_id: &str) {
    with(|t| {
        if t.blocked {
            return;
        }
        t.community_id = community_id.to_string();
        t.put(K_CID, community_id);
        t.emit("user.group", "{}", "", "");
    });
}

/// Stops all capture and delivery, drops what is queued, and remembers the choice.
#[wasm_bindgen]
pub fn opt_out() {
    with(|t| {
        t.blocked = true;
        t.batch.take();
        t.save_queue(&[]);
        t.mem_queue.clear();
        if let Ok(Some(s)) = t.w.local_storage() {
            let _ = s.set_item(K_OPTOUT, "1");
            for k in [K_AID, K_SID, K_SEEN, K_UID, K_CID] {
                let _ = s.remove_item(k);
            }
        }
        t.aid.clear();
        t.sid.clear();
    });
}

/// Undoes [`opt_out`] (a honoured DNT/GPC signal still wins).
#[wasm_bindgen]
pub fn opt_in() {
    with(|t| {
        if let Ok(Some(s)) = t.w.local_storage() {
            let _ = s.remove_item(K_OPTOUT);
        }
        t.blocked = t.privacy_signal;
    });
}

/// Sends everything queued now.
#[wasm_bindgen]
pub fn flush() {
    with(Tracker::flush);
}

/// Every DOM event and timer tick (called with `undefined`) lands here.
fn on_event(ev: JsValue) {
    with(|t| {
        let Some(ev) = ev.dyn_ref::<Event>() else {
            return t.on_tick();
        };
        match ev.type_().as_str() {
            "click" => t.on_click(ev),
            "scroll" => t.on_scroll(),
            "visibilitychange" => {
                if t.w.document().is_some_and(|d| d.hidden()) {
                    t.on_hide();
                }
            }
            "pagehide" => t.on_hide(),
            "online" => {
                t.retry_at = None;
                t.retry();
                t.flush();
            }
            _ => t.on_navigate(),
        }
    });
}

impl Tracker {
    fn get(&self, k: &str) -> Option<String> {
        self.storage.as_ref()?.get_item(k).ok().flatten()
    }

    fn put(&self, k: &str, v: &str) {
        if let Some(s) = &self.storage {
            let _ = s.set_item(k, v);
        }
    }

    fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        if let Ok(c) = self.w.crypto() {
            let _ = c.get_random_values_with_u8_array(&mut bytes);
        }
        ids::uuid_v4(bytes)
    }

    /// The anonymous and session ids for an event at `now`: from storage (shared by the
    /// site's tabs) unless cookieless; a new session after 30 idle minutes.
    fn touch_ids(&mut self, now: i64) {
        if self.aid.is_empty() {
            self.aid = self.get(K_AID).unwrap_or_else(|| self.uuid());
            self.put(K_AID, &self.aid.clone());
        }
        if self.storage.is_some() {
            let seen = self.get(K_SEEN).as_deref().and_then(json::parse_int);
            match self.get(K_SID) {
                Some(sid) if ids::session_continues(now, seen) => self.sid = sid,
                _ => self.sid.clear(),
            }
        } else if !ids::session_continues(now, Some(self.seen)) {
            self.sid.clear();
        }
        if self.sid.is_empty() {
            self.sid = self.uuid();
            self.put(K_SID, &self.sid.clone());
        }
        self.seen = now;
        let mut s = String::new();
        json::push_int(&mut s, now);
        self.put(K_SEEN, &s);
    }

    /// Builds one event and queues it; flushes when the batch is full, else arms the timer.
    fn emit(&mut self, ty: &str, props: &str, entity_type: &str, entity_id: &str) {
        if self.blocked {
            return;
        }
        let ts = now();
        self.touch_ids(ts as i64);
        let id = self.uuid();
        let title = self.w.document().map(|d| d.title()).unwrap_or_default();
        let referrer = if ty == "page.view" {
            std::mem::take(&mut self.referrer)
        } else {
            String::new()
        };
        let e = json::event(&json::EventFields {
            id: &id,
            event_type: ty,
            ts,
            anonymous_id: &self.aid,
            session_id: &self.sid,
            user_id: &self.user_id,
            community_id: &self.community_id,
            entity_type,
            entity_id,
            url: &self.page_url,
            referrer: &referrer,
            title: &title,
            props_json: props,
        });
        if self.batch.push(e) {
            self.flush();
        } else if self.flush_at.is_none() {
            self.flush_at = Some(ts + self.opts.flush_ms as f64);
            self.arm(self.opts.flush_ms as f64);
        }
    }

    fn arm(&self, ms: f64) {
        let _ = self
            .w
            .set_timeout_with_callback_and_timeout_and_arguments_0(&self.tick, ms as i32);
    }

    fn on_tick(&mut self) {
        let t = now();
        if self.flush_at.is_some_and(|at| t >= at - 5.0) {
            self.flush();
        }
        if self.retry_at.is_some_and(|at| t >= at - 5.0) {
            self.retry_at = None;
            self.retry();
        }
    }

    fn location(&self) -> String {
        url::sanitize(&self.w.location().href().unwrap_or_default())
    }

    /// A page view for the current location, unless it is the one already counted (a
    /// `replaceState` that changed nothing, a `popstate` back to the same URL).
    fn page_view(&mut self) {
        let here = self.location();
        if here == self.page_url {
            return;
        }
        self.referrer = if self.page_url.is_empty() {
            url::sanitize(&self.w.document().map(|d| d.referrer()).unwrap_or_default())
        } else {
            std::mem::take(&mut self.page_url)
        };
        self.page_url = here;
        self.scroll.reset();
        let mut p = Obj::default();
        p.opt("hash", url::hash(&self.page_url));
        for (k, v) in url::utm(&self.page_url) {
            p.str(k, &v);
        }
        self.emit("page.view", &p.finish(), "", "");
    }

    /// Single-page-app navigation: close the old page view's scroll, then count the new one.
    fn on_navigate(&mut self) {
        if self.location() == self.page_url {
            return;
        }
        self.report_scroll(None);
        self.page_view();
    }

    fn on_hide(&mut self) {
        self.report_scroll(None);
        self.flush();
    }

    fn report_scroll(&mut self, depth: Option<u8>) {
        let r = match depth {
            Some(d) => self.scroll.observe(d),
            None => self.scroll.on_hide(),
        };
        if let Some((d, p)) = r {
            let props = Obj::default()
                .int("depth", d.into())
                .int("prev", p.into())
                .finish();
            self.emit("page.scroll", &props, "", "");
        }
    }

    fn on_scroll(&mut self) {
        let num = |v: Result<JsValue, JsValue>| v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
        let doc_h = self
            .w
            .document()
            .and_then(|d| d.document_element())
            .map(|e| e.scroll_height())
            .unwrap_or(0);
        let d = scroll::depth(
            self.w.scroll_y().unwrap_or(0.0),
            num(self.w.inner_height()),
            doc_h.into(),
        );
        self.report_scroll(Some(d));
    }

    fn on_click(&mut self, ev: &Event) {
        if self.blocked {
            return;
        }
        let Some(mut target) = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()) else {
            return;
        };
        if target.node_type() != 1 {
            match target.parent_element() {
                Some(p) => target = p.into(),
                None => return,
            }
        }
        let Ok(target) = target.dyn_into::<Element>() else {
            return;
        };
        if target.closest(selector::IGNORE).ok().flatten().is_some() {
            return;
        }
        let actionable = target.closest(selector::ACTIONABLE).ok().flatten();
        let el = actionable.clone().unwrap_or(target);
        let tag = el.tag_name().to_ascii_lowercase();
        let id = el.id();

        let mut p = Obj::default();
        p.str("tag", &tag).opt("id", &id);
        let class = el.get_attribute("class").unwrap_or_default();
        p.opt("classes", &selector::classes(&class).join(" "));

        let mut path = Vec::new();
        let mut cur = Some(el.clone());
        let mut data_keys: Vec<String> = Vec::new();
        let mut depth = 0;
        while let Some(e) = cur {
            if depth < selector::MAX_DEPTH {
                path.push(selector::Node {
                    tag: e.tag_name().to_ascii_lowercase(),
                    id: e.id(),
                    class: e.get_attribute("class").unwrap_or_default(),
                });
            }
            // data-sightline-* from the element and its ancestors; the nearest wins.
            for name in e.get_attribute_names().iter().filter_map(|n| n.as_string()) {
                if let Some(k) = selector::prop_name(&name) {
                    if !data_keys.iter().any(|d| d == k)
                        && !matches!(
                            k,
                            "tag"
                                | "id"
                                | "classes"
                                | "selector"
                                | "text"
                                | "href"
                                | "x"
                                | "y"
                                | "page_x"
                                | "page_y"
                                | "doc_w"
                                | "doc_h"
                                | "vw"
                        )
                    {
                        p.str(k, &e.get_attribute(&name).unwrap_or_default());
                        data_keys.push(k.to_string());
                    }
                }
            }
            depth += 1;
            cur = e.parent_element();
        }
        p.str("selector", &selector::selector(&path));
        // Text only from actionable elements (a container's text can be the whole page), and
        // never from form fields.
        if actionable.is_some() && !selector::is_field(&tag) {
            p.opt(
                "text",
                &selector::bounded_text(&el.text_content().unwrap_or_default()),
            );
        }
        if tag == "a" {
            if let Some(href) = js_sys::Reflect::get(&el, &JsValue::from_str("href"))
                .ok()
                .and_then(|v| v.as_string())
            {
                p.opt("href", &url::sanitize(&href));
            }
        }
        if let Some(m) = ev.dyn_ref::<MouseEvent>() {
            let root = self.w.document().and_then(|d| d.document_element());
            let (dw, dh) = root
                .map(|r| (r.scroll_width(), r.scroll_height()))
                .unwrap_or((0, 0));
            let (x, y) = (m.page_x().max(0), m.page_y().max(0));
            let rel = |v: i32, of: i32| {
                if of > 0 {
                    (i64::from(v) * 10_000 / i64::from(of)).min(10_000)
                } else {
                    0
                }
            };
            let vw = self
                .w
                .inner_width()
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            p.int("x", rel(x, dw))
                .int("y", rel(y, dh))
                .int("page_x", x.into())
                .int("page_y", y.into());
            p.int("doc_w", dw.into())
                .int("doc_h", dh.into())
                .int("vw", vw as i64);
        }
        self.emit("element.click", &p.finish(), &tag, &id);
    }

    /// Sends the batch now: beacons under the size limit, `fetch(keepalive)` when a beacon is
    /// refused, the retry queue when offline or when that fails.
    fn flush(&mut self) {
        self.flush_at = None;
        if self.batch.is_empty() {
            return;
        }
        let events = self.batch.take();
        if self.blocked {
            return;
        }
        if !self.w.navigator().on_line() {
            self.enqueue(events);
            return;
        }
        for chunk in batch::chunks(&self.key, events, batch::BEACON_LIMIT) {
            let body = json::batch(&self.key, &chunk);
            if !self
                .w
                .navigator()
                .send_beacon_with_opt_str(&self.endpoint, Some(&body))
                .unwrap_or(false)
            {
                self.fetch(body, chunk, false);
            }
        }
    }

    /// POSTs `body` with `fetch(keepalive)`. A fresh send re-queues its events on failure; a
    /// retry (`retrying`) removes them from the stored queue on success.
    fn fetch(&mut self, body: String, events: Vec<String>, retrying: bool) {
        let init: FetchInit = js_sys::Object::new().unchecked_into();
        init.set_method("POST");
        init.set_body(&body);
        // keepalive lets a send outlive the page, but browsers cap keepalive bodies in flight
        // at 64 KiB in total: retries of a long offline spell go out as ordinary requests.
        init.set_keepalive(!retrying);
        let promise = self
            .w
            .fetch_with_str_and_init(&self.endpoint, init.unchecked_ref());
        let done = Closure::once_into_js(move |resp: JsValue| {
            // Delivered, or refused for good (4xx other than 429): either way, not retried.
            let status = resp.dyn_ref::<Response>().map(|r| r.status()).unwrap_or(0);
            let ok = status != 0 && status != 429 && status < 500;
            with(|t| t.sent(events, ok, retrying));
        });
        // Only one of the two fires; a rejection (network error, refused CORS) has no status.
        let done: js_sys::Function = done.unchecked_into();
        promise.unchecked_into::<Thenable>().then(&done, &done);
    }

    fn sent(&mut self, events: Vec<String>, ok: bool, retrying: bool) {
        if retrying {
            if ok {
                let mut q = self.load_queue();
                q.retain(|e| !events.contains(e));
                self.save_queue(&q);
            }
            self.retry_failed |= !ok;
            self.retry_pending = self.retry_pending.saturating_sub(1);
            if self.retry_pending == 0 {
                if self.retry_failed {
                    self.schedule_retry();
                } else {
                    self.retry_attempts = 0;
                }
            }
        } else if !ok {
            self.enqueue(events);
        }
    }

    fn load_queue(&self) -> Vec<String> {
        match &self.storage {
            Some(_) => retry::decode(&self.get(K_QUEUE).unwrap_or_default()),
            None => self.mem_queue.clone(),
        }
    }

    fn save_queue(&mut self, q: &[String]) {
        match &self.storage {
            Some(s) if q.is_empty() => {
                let _ = s.remove_item(K_QUEUE);
            }
            Some(_) => self.put(K_QUEUE, &retry::encode(q)),
            None => self.mem_queue = q.to_vec(),
        }
    }

    fn enqueue(&mut self, events: Vec<String>) {
        if self.blocked {
            return;
        }
        let mut q = self.load_queue();
        retry::push_bounded(&mut q, events);
        self.save_queue(&q);
        if self.retry_pending == 0 {
            self.schedule_retry();
        }
    }

    fn schedule_retry(&mut self) {
        if self.retry_at.is_some() {
            return;
        }
        let delay = retry::backoff_ms(self.retry_attempts);
        self.retry_attempts += 1;
        self.retry_at = Some(now() + delay);
        self.arm(delay);
    }

    /// Sends the stored retry queue (at page load, on `online`, and after each backoff).
    fn retry(&mut self) {
        if self.blocked || self.retry_pending > 0 {
            return;
        }
        if !self.w.navigator().on_line() {
            // The `online` event retries; no point burning attempts meanwhile.
            return;
        }
        let q = self.load_queue();
        let chunks = batch::chunks(&self.key, q, batch::BEACON_LIMIT);
        self.retry_pending = chunks.len();
        self.retry_failed = false;
        for chunk in chunks {
            let body = json::batch(&self.key, &chunk);
            self.fetch(body, chunk, true);
        }
    }
}
