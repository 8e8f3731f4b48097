//! The DOM glue (wasm32 only): reads the page, keeps the tracker's state, and delivers.
//!
//! One state object per page ([`TRACKER`]). The loader (`js/sightline.js`) registers the
//! listeners (all passive) and calls [`on_event`] for every DOM event and timer tick, and
//! [`sent`] when a `fetch` it made for us settles. Every call does a bounded amount of work (a
//! click walks its ancestors once; a scroll reads three numbers), so the tracker never causes a
//! long main-thread task.
//!
//! Size: every import wasm-bindgen generates costs JS glue plus an import entry, and web-sys /
//! js-sys also link in exports of their own (closure adapters, futures machinery). So this
//! module declares the dozen imports it needs by hand ([`ffi`]), reads plain properties through
//! one `Reflect.get`, and uses no wasm-bindgen closures: timers and fetch callbacks come back
//! through the loader as exported calls.
//!
//! Delivery invariants: an event is in exactly one of the batch, a beacon/fetch in flight, or
//! the retry queue; the retry queue's events stay stored until a send of them is confirmed
//! (at-least-once; the server dedupes by event id). Nothing is captured or stored while opted
//! out or while a honoured DNT/GPC signal is on, except the opt-out flag itself.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::batch::{self, Batch};
use crate::config::{self, Options};
use crate::json::{self, Obj};
use crate::{ids, retry, scroll, selector, text, url};

use ffi::{Attrs, Crypto, Element, Host, Navigator, Storage};

const K_AID: &str = "sightline_aid";
const K_SID: &str = "sightline_sid";
const K_SEEN: &str = "sightline_seen";
const K_UID: &str = "sightline_uid";
const K_CID: &str = "sightline_cid";
const K_OPTOUT: &str = "sightline_optout";
const K_QUEUE: &str = "sightline_q";

/// Property names a `data-sightline-*` attribute may not overwrite (the click's own fields).
const RESERVED_PROPS: [&str; 13] = [
    "tag", "id", "classes", "selector", "text", "href", "x", "y", "page_x", "page_y", "doc_w",
    "doc_h", "vw",
];

/// The browser APIs the tracker uses, declared by hand (see the module doc for why).
mod ffi {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(thread_local_v2, js_name = window)]
        pub static WINDOW: JsValue;
        #[wasm_bindgen(js_namespace = Date)]
        pub fn now() -> f64;
        /// A plain property read; a throwing getter (`localStorage` when storage is blocked)
        /// reads as an error.
        #[wasm_bindgen(catch, js_namespace = Reflect, js_name = get)]
        pub fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue>;

        /// The loader's helpers: `post` fetches and reports back through `sent`, `timer`
        /// calls `on_event()` after `ms`.
        pub type Host;
        #[wasm_bindgen(method)]
        pub fn post(this: &Host, url: &str, body: &str, keepalive: bool, token: u32);
        #[wasm_bindgen(method)]
        pub fn timer(this: &Host, ms: f64);

        #[derive(Clone)]
        pub type Storage;
        #[wasm_bindgen(method, catch, js_name = getItem)]
        pub fn get_item(this: &Storage, k: &str) -> Result<Option<String>, JsValue>;
        #[wasm_bindgen(method, catch, js_name = setItem)]
        pub fn set_item(this: &Storage, k: &str, v: &str) -> Result<(), JsValue>;
        #[wasm_bindgen(method, catch, js_name = removeItem)]
        pub fn remove_item(this: &Storage, k: &str) -> Result<(), JsValue>;

        pub type Navigator;
        #[wasm_bindgen(method, catch, js_name = sendBeacon)]
        pub fn send_beacon(this: &Navigator, url: &str, body: &str) -> Result<bool, JsValue>;

        pub type Crypto;
        #[wasm_bindgen(method, catch, js_name = getRandomValues)]
        pub fn fill(this: &Crypto, bytes: &mut [u8]) -> Result<(), JsValue>;

        #[derive(Clone)]
        pub type Element;
        #[wasm_bindgen(method, catch)]
        pub fn closest(this: &Element, selector: &str) -> Result<Option<Element>, JsValue>;
        #[wasm_bindgen(method, js_name = getAttribute)]
        pub fn attr(this: &Element, name: &str) -> Option<String>;

        /// `element.attributes`.
        pub type Attrs;
        #[wasm_bindgen(method)]
        pub fn item(this: &Attrs, i: u32) -> JsValue;
    }
}

/// `target[key]`, or `undefined` when it throws.
fn prop(target: &JsValue, key: &str) -> JsValue {
    ffi::get(target, key).unwrap_or(JsValue::UNDEFINED)
}

fn prop_str(target: &JsValue, key: &str) -> String {
    prop(target, key).as_string().unwrap_or_default()
}

fn prop_num(target: &JsValue, key: &str) -> f64 {
    prop(target, key).as_f64().unwrap_or(0.0)
}

/// `target[key]` when it is an object (not null or undefined).
fn prop_obj(target: &JsValue, key: &str) -> Option<JsValue> {
    Some(prop(target, key)).filter(JsValue::is_object)
}

fn now() -> f64 {
    ffi::now()
}

struct Tracker {
    w: JsValue,
    host: Host,
    nav: Navigator,
    endpoint: String,
    key: String,
    opts: Options,
    /// localStorage, when the browser allows it (the opt-out flag lives there even cookieless).
    local: Option<Storage>,
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
    /// `fetch` sends in flight: token, their events, and whether it is a retry.
    in_flight: Vec<(u32, Vec<String>, bool)>,
    next_token: u32,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    TRACKER.with(|t| t.try_borrow_mut().ok()?.as_mut().map(f))
}

/// Starts the tracker: `origin` is the server's origin, `script` the tag carrying the options,
/// `host` the loader's helpers ([`ffi::Host`]).
#[wasm_bindgen]
pub fn init(origin: &str, script: Element, host: Host) {
    let w = ffi::WINDOW.with(JsValue::clone);
    if !w.is_object() || TRACKER.with(|t| t.borrow().is_some()) {
        return;
    }
    let attr = |n: &str| script.attr(n);
    let Some(key) = attr("data-key") else { return };
    let opts = Options::parse(
        attr("data-flush-events").as_deref(),
        attr("data-flush-interval").as_deref(),
        attr("data-cookieless").as_deref(),
        attr("data-respect-dnt").as_deref(),
    );
    let nav = prop(&w, "navigator");
    // `doNotTrack` is null when unset; `globalPrivacyControl` is absent in most browsers.
    let dnt = prop(&nav, "doNotTrack").as_string();
    let gpc = prop(&nav, "globalPrivacyControl")
        .as_bool()
        .unwrap_or(false);
    let privacy_signal = opts.respect_dnt && config::privacy_signal(dnt.as_deref(), gpc);
    let local: Option<Storage> = prop_obj(&w, "localStorage").map(JsCast::unchecked_into);
    let opted_out = local
        .as_ref()
        .and_then(|s| s.get_item(K_OPTOUT).ok().flatten())
        .is_some();
    let storage = if opts.cookieless { None } else { local.clone() };
    let get = |k: &str| {
        storage
            .as_ref()
            .and_then(|s| s.get_item(k).ok().flatten())
            .unwrap_or_default()
    };
    let (user_id, community_id) = (get(K_UID), get(K_CID));

    let mut endpoint = String::from(text::trim(origin, b'/', false));
    endpoint.push_str("/collect");
    let t = Tracker {
        batch: Batch::new(opts.flush_events),
        w,
        host,
        nav: nav.unchecked_into(),
        endpoint,
        key,
        opts,
        local,
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
        in_flight: Vec::new(),
        next_token: 0,
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
        if let Some(s) = &t.local {
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
        if let Some(s) = &t.local {
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

/// Every DOM event the loader listens to, and every timer tick (called with `undefined`).
#[wasm_bindgen]
pub fn on_event(ev: JsValue) {
    with(|t| {
        if !ev.is_object() {
            return t.on_tick();
        }
        match prop_str(&ev, "type").as_str() {
            "click" => t.on_click(&ev),
            "scroll" => t.on_scroll(),
            "visibilitychange" => {
                if prop(&t.doc(), "hidden").as_bool() == Some(true) {
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

/// The loader's report on the `fetch` started with `token`: the HTTP status, 0 for a network
/// error or a refused CORS answer.
#[wasm_bindgen]
pub fn sent(token: u32, status: u32) {
    with(|t| {
        let Some(i) = t.in_flight.iter().position(|f| f.0 == token) else {
            return;
        };
        let (_, events, retrying) = t.in_flight.swap_remove(i);
        // Delivered, or refused for good (4xx other than 429): either way, not retried.
        let ok = status != 0 && status != 429 && status < 500;
        t.sent(events, ok, retrying);
    });
}

impl Tracker {
    fn doc(&self) -> JsValue {
        prop(&self.w, "document")
    }

    fn get(&self, k: &str) -> Option<String> {
        self.storage.as_ref()?.get_item(k).ok().flatten()
    }

    fn put(&self, k: &str, v: &str) {
        if let Some(s) = &self.storage {
            let _ = s.set_item(k, v);
        }
    }

    fn random_bytes(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        if let Some(c) = prop_obj(&self.w, "crypto") {
            let _ = c.unchecked_into::<Crypto>().fill(&mut bytes);
        }
        bytes
    }

    fn uuid(&self) -> String {
        ids::uuid_v4(self.random_bytes())
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
        let id = ids::uuid_v7(ts as u64, self.random_bytes());
        let title = prop_str(&self.doc(), "title");
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
            self.host.timer(self.opts.flush_ms as f64);
        }
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
        url::sanitize(&prop_str(&prop(&self.w, "location"), "href"))
    }

    /// A page view for the current location, unless it is the one already counted (a
    /// `replaceState` that changed nothing, a `popstate` back to the same URL).
    fn page_view(&mut self) {
        let here = self.location();
        if here == self.page_url {
            return;
        }
        self.referrer = if self.page_url.is_empty() {
            url::sanitize(&prop_str(&self.doc(), "referrer"))
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

    fn root(&self) -> JsValue {
        prop(&self.doc(), "documentElement")
    }

    fn on_scroll(&mut self) {
        let d = scroll::depth(
            prop_num(&self.w, "scrollY"),
            prop_num(&self.w, "innerHeight"),
            prop_num(&self.root(), "scrollHeight"),
        );
        self.report_scroll(Some(d));
    }

    fn on_click(&mut self, ev: &JsValue) {
        if self.blocked {
            return;
        }
        let Some(mut target) = prop_obj(ev, "target") else {
            return;
        };
        // A text node's click belongs to its element.
        if prop_num(&target, "nodeType") != 1.0 {
            match prop_obj(&target, "parentElement") {
                Some(p) => target = p,
                None => return,
            }
        }
        let target: Element = target.unchecked_into();
        if target.closest(selector::IGNORE).ok().flatten().is_some() {
            return;
        }
        let actionable = target.closest(selector::ACTIONABLE).ok().flatten();
        let el = actionable.clone().unwrap_or(target);
        let tag_of = |e: &JsValue| prop_str(e, "tagName").to_ascii_lowercase();
        let tag = tag_of(&el);
        let id = prop_str(&el, "id");

        let mut p = Obj::default();
        p.str("tag", &tag).opt("id", &id);
        let class = el.attr("class").unwrap_or_default();
        p.opt("classes", &text::join(&selector::classes(&class), " "));

        let mut path = Vec::new();
        let mut cur = Some(JsValue::from(el.clone()));
        let mut data_keys: Vec<String> = Vec::new();
        while let Some(e) = cur {
            let e: Element = e.unchecked_into();
            if path.len() < selector::MAX_DEPTH {
                path.push(selector::Node {
                    tag: tag_of(&e),
                    id: prop_str(&e, "id"),
                    class: e.attr("class").unwrap_or_default(),
                });
            }
            // data-sightline-* from the element and its ancestors; the nearest wins.
            let attrs: Attrs = prop(&e, "attributes").unchecked_into();
            for i in 0..prop_num(&attrs, "length") as u32 {
                let a = attrs.item(i);
                let name = prop_str(&a, "name");
                if let Some(k) = selector::prop_name(&name) {
                    if !data_keys.iter().any(|d| d == k) && !RESERVED_PROPS.contains(&k) {
                        p.str(k, &prop_str(&a, "value"));
                        data_keys.push(k.to_string());
                    }
                }
            }
            cur = prop_obj(&e, "parentElement");
        }
        p.str("selector", &selector::selector(&path));
        // Text only from actionable elements (a container's text can be the whole page), and
        // never from form fields.
        if actionable.is_some() && !selector::is_field(&tag) {
            p.opt(
                "text",
                &selector::bounded_text(&prop_str(&el, "textContent")),
            );
        }
        if tag == "a" {
            if let Some(href) = prop(&el, "href").as_string() {
                p.opt("href", &url::sanitize(&href));
            }
        }
        // Mouse position (a keyboard-triggered click has it too, as 0).
        if let Some(px) = prop(ev, "pageX").as_f64() {
            let root = self.root();
            // Whole CSS pixels, as MouseEvent's integer coordinates used to be.
            let int = |v: f64| v.max(0.0) as i64;
            let (dw, dh) = (
                int(prop_num(&root, "scrollWidth")),
                int(prop_num(&root, "scrollHeight")),
            );
            let (x, y) = (int(px), int(prop_num(ev, "pageY")));
            let rel = |v: i64, of: i64| {
                if of > 0 {
                    (v * 10_000 / of).min(10_000)
                } else {
                    0
                }
            };
            p.int("x", rel(x, dw))
                .int("y", rel(y, dh))
                .int("page_x", x)
                .int("page_y", y);
            p.int("doc_w", dw)
                .int("doc_h", dh)
                .int("vw", int(prop_num(&self.w, "innerWidth")));
        }
        self.emit("element.click", &p.finish(), &tag, &id);
    }

    fn online(&self) -> bool {
        prop(&self.nav, "onLine").as_bool() != Some(false)
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
        if !self.online() {
            self.enqueue(events);
            return;
        }
        for chunk in batch::chunks(&self.key, events, batch::BEACON_LIMIT) {
            let body = json::batch(&self.key, &chunk);
            if !self.nav.send_beacon(&self.endpoint, &body).unwrap_or(false) {
                self.fetch(body, chunk, false);
            }
        }
    }

    /// POSTs `body` through the loader's `fetch`; [`sent`] hears how it went. A fresh send
    /// re-queues its events on failure; a retry (`retrying`) removes them from the stored queue
    /// on success.
    fn fetch(&mut self, body: String, events: Vec<String>, retrying: bool) {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.in_flight.push((token, events, retrying));
        // keepalive lets a send outlive the page, but browsers cap keepalive bodies in flight
        // at 64 KiB in total: retries of a long offline spell go out as ordinary requests.
        self.host.post(&self.endpoint, &body, !retrying, token);
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
        self.host.timer(delay);
    }

    /// Sends the stored retry queue (at page load, on `online`, and after each backoff).
    fn retry(&mut self) {
        if self.blocked || self.retry_pending > 0 {
            return;
        }
        if !self.online() {
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
