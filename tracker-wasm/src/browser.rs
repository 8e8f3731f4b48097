//! The page's tracker state and what it does on each call (wasm32 only).
//!
//! One state object per page ([`TRACKER`]). The loader (`js/sightline.js`) is the DOM glue: it
//! registers the listeners (all passive), describes a click (the element, its selector, text,
//! position and data attributes: DOM reading that is a fraction of the size in JS), and hands
//! [`init`] a [`ffi::Host`] of small helpers (read a property path, storage that never throws,
//! random bytes, a send, a timer). Everything else is decided here: ids and sessions, privacy
//! and storage modes, the URL privacy rule, page views, scroll reports, the event JSON,
//! batching, retries.
//!
//! Size: each export and each import costs wasm-bindgen glue and wasm wrapper code, and every
//! `JsValue` read costs conversions and drops. So the wasm exports three functions (commands,
//! DOM events and send outcomes go through one [`call`] with an op code), holds one JS object
//! (the host), and gets plain strings and numbers back from it.
//!
//! Delivery invariants: an event is in exactly one of the batch, a beacon/fetch in flight, or
//! the retry queue; the retry queue's events stay stored until a send of them is confirmed
//! (at-least-once; the server dedupes by event id). Nothing is captured or stored while opted
//! out or while a honoured DNT/GPC signal is on, except the opt-out flag itself. With
//! `data-storage="none"` nothing is written to the browser's storage but the opt-out flag the
//! visitor asks for, and events carry neither an anonymous nor a session id.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::batch::{self, Batch};
use crate::config::{self, Options};
use crate::json::{self, Obj};
use crate::{ids, retry, scroll, url};

use ffi::Host;

const K_AID: &str = "sightline_aid";
const K_SID: &str = "sightline_sid";
const K_SEEN: &str = "sightline_seen";
const K_UID: &str = "sightline_uid";
const K_CID: &str = "sightline_cid";
const K_OPTOUT: &str = "sightline_optout";
const K_QUEUE: &str = "sightline_q";

/// The loader's helpers, declared by hand (see the module doc for why).
mod ffi {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        pub type Host;
        /// The string at a property path below `window` (`"document.title"`), else "".
        #[wasm_bindgen(method)]
        pub fn s(this: &Host, path: &str) -> String;
        /// The property at a path below `window` as a number (`true` is 1; NaN when missing);
        /// `Date.now()` for "".
        #[wasm_bindgen(method)]
        pub fn n(this: &Host, path: &str) -> f64;
        /// An attribute of the script tag.
        #[wasm_bindgen(method)]
        pub fn attr(this: &Host, name: &str) -> Option<String>;
        /// `localStorage.getItem`; None also when storage is blocked.
        #[wasm_bindgen(method)]
        pub fn get(this: &Host, key: &str) -> Option<String>;
        /// `localStorage.setItem`, or `removeItem` for ""; never throws.
        #[wasm_bindgen(method)]
        pub fn set(this: &Host, key: &str, value: &str);
        /// The page URL's campaign parameters (`utm_source`, `utm_medium`, `utm_campaign`,
        /// `utm_term`, `utm_content`; names in any case, empty values left out) decoded, as a
        /// JSON object text.
        #[wasm_bindgen(method)]
        pub fn utm(this: &Host) -> String;
        /// `crypto.getRandomValues`.
        #[wasm_bindgen(method)]
        pub fn rand(this: &Host, bytes: &mut [u8]);
        /// Sends `events` (event JSON texts, one per line) to `/collect` in one body: a fresh
        /// send as a beacon, or a `fetch` when the browser refuses the beacon; a retry
        /// (`retrying`) always as a `fetch`. A `fetch` reports back through [`super::call`]
        /// (`op::SENT`, `op::RETRIED`) with the same `events` and the HTTP status.
        #[wasm_bindgen(method)]
        pub fn post(this: &Host, events: &str, retrying: bool);
        /// Calls the loader's event forwarder with no event (a tick) after `ms`.
        #[wasm_bindgen(method)]
        pub fn timer(this: &Host, ms: f64);
    }
}

struct Tracker {
    host: Host,
    /// The project key (its length bounds a body's size).
    key: String,
    opts: Options,
    /// Opted out, or a honoured DNT/GPC signal: capture nothing.
    blocked: bool,
    privacy_signal: bool,
    /// `navigator.webdriver === true`: every event says so.
    webdriver: bool,
    aid: String,
    sid: String,
    seen: i64,
    user_id: String,
    community_id: String,
    /// The current page view's URL (under the privacy rule); "" before the first view.
    page_url: String,
    /// The referrer for the page view being built (the previous view's URL after an SPA
    /// navigation).
    referrer: String,
    scroll: scroll::Scroll,
    batch: Batch,
    flush_at: Option<f64>,
    /// The retry queue when nothing may be stored (`data-storage="none"`).
    mem_queue: Vec<String>,
    retry_at: Option<f64>,
    retry_attempts: u32,
    /// Retry sends still in flight, and whether one of them failed.
    retry_pending: usize,
    retry_failed: bool,
}

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

fn with(f: impl FnOnce(&mut Tracker)) {
    TRACKER.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            if let Some(t) = t.as_mut() {
                f(t);
            }
        }
    });
}

/// Starts the tracker with the loader's helpers.
#[wasm_bindgen]
pub fn init(host: Host) {
    if TRACKER.with(|t| t.borrow().is_some()) {
        return;
    }
    let Some(key) = host.attr("data-key") else {
        return;
    };
    let opts = Options::parse(|name| host.attr(name));
    // `doNotTrack` is null when unset; `globalPrivacyControl` is absent in most browsers.
    let privacy_signal = opts.respect_dnt
        && config::privacy_signal(
            &host.s("navigator.doNotTrack"),
            host.n("navigator.globalPrivacyControl") == 1.0,
        );
    let mut t = Tracker {
        batch: Batch::new(opts.flush_events),
        blocked: privacy_signal || host.get(K_OPTOUT).is_some(),
        webdriver: host.n("navigator.webdriver") == 1.0,
        host,
        key,
        opts,
        privacy_signal,
        aid: String::new(),
        sid: String::new(),
        seen: 0,
        user_id: String::new(),
        community_id: String::new(),
        page_url: String::new(),
        referrer: String::new(),
        scroll: scroll::Scroll::default(),
        flush_at: None,
        mem_queue: Vec::new(),
        retry_at: None,
        retry_attempts: 0,
        retry_pending: 0,
        retry_failed: false,
    };
    t.user_id = t.get(K_UID).unwrap_or_default();
    t.community_id = t.get(K_CID).unwrap_or_default();
    t.page_view();
    // Events left over from an earlier page (offline, failed sends) go out now.
    t.retry();
    TRACKER.with(|s| *s.borrow_mut() = Some(t));
}

/// The commands of `window.sightline`, numbered in the loader's order, and the DOM events and
/// timer ticks the loader forwards.
mod op {
    /// `track(name = a, props = b)`.
    pub const TRACK: u32 = 0;
    /// `identify(userId = a, traits = b)`.
    pub const IDENTIFY: u32 = 1;
    /// `group(communityId = a)`.
    pub const GROUP: u32 = 2;
    pub const RESET: u32 = 3;
    pub const OPT_OUT: u32 = 4;
    pub const OPT_IN: u32 = 5;
    pub const FLUSH: u32 = 6;
    /// A DOM event of type `a`; "" for a timer tick.
    pub const EVENT: u32 = 7;
    /// The outcome of a fresh send's `fetch`: its events `a` (one per line), the HTTP status
    /// `b` ("0" for a network error or a refused CORS answer).
    pub const SENT: u32 = 8;
    /// The same for a retry's `fetch`.
    pub const RETRIED: u32 = 9;
}

/// Runs command `op` (see [`op`]) with its arguments; `b` is a JSON object text where one is
/// expected.
#[wasm_bindgen]
pub fn call(op: u32, a: &str, b: &str) {
    with(|t| match op {
        op::TRACK => t.emit(a, b, "", ""),
        op::IDENTIFY => t.identify(a, b),
        op::GROUP => t.group(a),
        op::RESET => t.reset(),
        op::OPT_OUT => t.opt_out(),
        op::OPT_IN => t.opt_in(),
        op::FLUSH => t.flush(),
        op::EVENT => t.on_event(a),
        op::SENT | op::RETRIED => {
            // Delivered, or refused for good (4xx other than 429): either way, not retried.
            let status = json::parse_int(b).unwrap_or(0);
            let ok = status != 0 && status != 429 && status < 500;
            t.sent(retry::decode(a), ok, op == op::RETRIED);
        }
        _ => {}
    });
}

/// A click, described by the loader: `props` its properties as a JSON object text (the
/// element's tag, id, classes and selector, bounded text, position and `data-sightline-*`
/// attributes), `tag` and `id` the element's (the event's entity), `href` a link's URL, added
/// here under the URL privacy rule.
#[wasm_bindgen]
pub fn click(props: &str, tag: &str, id: &str, href: &str) {
    with(|t| {
        let mut p = Obj::extend(props);
        p.opt("href", &url::sanitize(href));
        t.emit("element.click", &p.finish(), tag, id);
    });
}

impl Tracker {
    /// Storage, unless nothing may be stored.
    fn get(&self, k: &str) -> Option<String> {
        if self.opts.no_storage {
            return None;
        }
        self.host.get(k)
    }

    /// Writes (or, for "", removes) `k`, unless nothing may be stored.
    fn put(&self, k: &str, v: &str) {
        if !self.opts.no_storage {
            self.host.set(k, v);
        }
    }

    fn uuid(&self) -> String {
        ids::uuid_v4(self.random_bytes())
    }

    fn random_bytes(&self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        self.host.rand(&mut bytes);
        bytes
    }

    /// The anonymous and session ids for an event at `now`: from storage (shared by the
    /// site's tabs, so storage wins over memory), else from memory; a new session after 30
    /// idle minutes. None at all when nothing may be stored.
    fn touch_ids(&mut self, now: i64) {
        if self.opts.no_storage {
            return;
        }
        if self.aid.is_empty() {
            self.aid = self.get(K_AID).unwrap_or_else(|| self.uuid());
        }
        if let Some(sid) = self.get(K_SID) {
            self.sid = sid;
        }
        if let Some(seen) = self.get(K_SEEN).as_deref().and_then(json::parse_int) {
            self.seen = seen;
        }
        if self.sid.is_empty() || !ids::session_continues(now, Some(self.seen)) {
            self.sid = self.uuid();
        }
        self.seen = now;
        let mut seen = String::new();
        json::push_int(&mut seen, now);
        self.put(K_AID, &self.aid);
        self.put(K_SID, &self.sid);
        self.put(K_SEEN, &seen);
    }

    /// Builds one event and queues it; flushes when the batch is full, else arms the timer.
    fn emit(&mut self, ty: &str, props: &str, entity_type: &str, entity_id: &str) {
        if self.blocked {
            return;
        }
        let ts = self.host.n("");
        self.touch_ids(ts as i64);
        let page_view = ty == "page.view";
        let (referrer, screen_width, language) = if page_view {
            (
                std::mem::take(&mut self.referrer),
                Some(self.host.n("innerWidth").max(0.0) as u32),
                self.host.s("navigator.language"),
            )
        } else {
            (String::new(), None, String::new())
        };
        let e = json::event(&json::EventFields {
            id: &ids::uuid_v7(ts as u64, self.random_bytes()),
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
            title: &self.host.s("document.title"),
            screen_width,
            language: &language,
            webdriver: self.webdriver,
            props_json: props,
        });
        if self.batch.push(e) {
            self.flush();
        } else if self.flush_at.is_none() {
            self.flush_at = Some(ts + self.opts.flush_ms as f64);
            self.host.timer(self.opts.flush_ms as f64);
        }
    }

    /// Attaches `user_id` to this and every later event (stored unless nothing may be) and
    /// records a `user.identify` event carrying `traits`.
    fn identify(&mut self, user_id: &str, traits: &str) {
        if self.blocked {
            return;
        }
        self.user_id = user_id.to_string();
        self.put(K_UID, user_id);
        self.emit("user.identify", traits, "", "");
    }

    /// Attaches `community_id` (a team, workspace, organisation) to later events.
    fn group(&mut self, community_id: &str) {
        if self.blocked {
            return;
        }
        self.community_id = community_id.to_string();
        self.put(K_CID, community_id);
        self.emit("user.group", "{}", "", "");
    }

    /// Sign-out: a new anonymous visitor (new anonymous id, new session), without user or
    /// community; what is already queued keeps the ids it was recorded with.
    fn reset(&mut self) {
        for k in [K_AID, K_SID, K_SEEN, K_UID, K_CID] {
            self.put(k, "");
        }
        self.aid.clear();
        self.sid.clear();
        self.user_id.clear();
        self.community_id.clear();
        if !self.blocked {
            self.touch_ids(self.host.n("") as i64);
        }
    }

    /// Stops all capture and delivery, drops what is queued, and remembers the choice.
    fn opt_out(&mut self) {
        self.blocked = true;
        self.batch.take();
        self.mem_queue.clear();
        self.put(K_QUEUE, "");
        // Written even when nothing else may be: the visitor asked for it, and it identifies
        // no one.
        self.host.set(K_OPTOUT, "1");
        self.reset();
    }

    /// Undoes [`Self::opt_out`] (a honoured DNT/GPC signal still wins).
    fn opt_in(&mut self) {
        self.host.set(K_OPTOUT, "");
        self.blocked = self.privacy_signal;
    }

    fn on_event(&mut self, ty: &str) {
        match ty {
            "" => {
                let t = self.host.n("");
                if self.flush_at.is_some_and(|at| t >= at - 5.0) {
                    self.flush();
                }
                if self.retry_at.is_some_and(|at| t >= at - 5.0) {
                    self.retry_at = None;
                    self.retry();
                }
            }
            "scroll" => {
                let d = scroll::depth(
                    self.host.n("scrollY"),
                    self.host.n("innerHeight"),
                    self.host.n("document.documentElement.scrollHeight"),
                );
                self.report_scroll(Some(d));
            }
            "visibilitychange" | "pagehide" => {
                if ty == "pagehide" || self.host.n("document.hidden") == 1.0 {
                    self.report_scroll(None);
                    self.flush();
                }
            }
            "online" => {
                self.retry_at = None;
                self.retry();
                self.flush();
            }
            // History API, popstate, hashchange: close the old page view's scroll, then count
            // the new one.
            _ => {
                if self.location() != self.page_url {
                    self.report_scroll(None);
                    self.page_view();
                }
            }
        }
    }

    fn location(&self) -> String {
        url::sanitize(&self.host.s("location.href"))
    }

    /// A page view for the current location, unless it is the one already counted (a
    /// `replaceState` that changed nothing, a `popstate` back to the same URL, a jump to an
    /// anchor: the privacy rule drops non-route fragments).
    fn page_view(&mut self) {
        let here = self.location();
        if here == self.page_url {
            return;
        }
        self.referrer = if self.page_url.is_empty() {
            url::sanitize(&self.host.s("document.referrer"))
        } else {
            std::mem::take(&mut self.page_url)
        };
        self.page_url = here;
        self.scroll.reset();
        self.emit("page.view", &self.host.utm(), "", "");
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

    /// Sends the batch now: beacons under the size limit, `fetch(keepalive)` when a beacon is
    /// refused, the retry queue when offline or when that fails.
    fn flush(&mut self) {
        self.flush_at = None;
        let events = self.batch.take();
        if self.blocked || events.is_empty() {
            return;
        }
        // `navigator.onLine` is false only when the browser knows it is offline.
        if self.host.n("navigator.onLine") == 0.0 {
            self.enqueue(events);
            return;
        }
        for chunk in batch::chunks(&self.key, events, batch::BEACON_LIMIT) {
            self.post(&chunk, false);
        }
    }

    /// Sends `events` through the loader: a fresh send as a beacon (falling back to a
    /// keepalive `fetch`), a retry as an ordinary `fetch` (browsers cap keepalive bodies in
    /// flight at 64 KiB in total, which a long offline spell exceeds). A fresh send's events
    /// come back (`op::SENT`) only when its `fetch` settles: re-queued on failure. A retry's
    /// come back (`op::RETRIED`) to leave the stored queue on success.
    fn post(&mut self, events: &[String], retrying: bool) {
        self.host.post(&retry::encode(events), retrying);
    }

    fn sent(&mut self, events: Vec<String>, ok: bool, retrying: bool) {
        if retrying {
            if ok {
                self.update_queue(&events, Vec::new());
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
        if self.opts.no_storage {
            return self.mem_queue.clone();
        }
        retry::decode(&self.get(K_QUEUE).unwrap_or_default())
    }

    /// The one change to the retry queue: re-read it (another tab of the site may have changed
    /// the stored one), drop `delivered`, append `more` within the bounds, store it (an empty
    /// queue is removed).
    fn update_queue(&mut self, delivered: &[String], more: Vec<String>) {
        let mut q = self.load_queue();
        q.retain(|e| !delivered.contains(e));
        retry::push_bounded(&mut q, more);
        if self.opts.no_storage {
            self.mem_queue = q;
        } else {
            self.put(K_QUEUE, &retry::encode(&q));
        }
    }

    fn enqueue(&mut self, events: Vec<String>) {
        if self.blocked {
            return;
        }
        self.update_queue(&[], events);
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
        self.retry_at = Some(self.host.n("") + delay);
        self.host.timer(delay);
    }

    /// Sends the stored retry queue (at page load, on `online`, and after each backoff).
    fn retry(&mut self) {
        // Offline, the `online` event retries: no point burning attempts meanwhile.
        if self.blocked || self.retry_pending > 0 || self.host.n("navigator.onLine") == 0.0 {
            return;
        }
        let chunks = batch::chunks(&self.key, self.load_queue(), batch::BEACON_LIMIT);
        self.retry_pending = chunks.len();
        self.retry_failed = false;
        for chunk in chunks {
            self.post(&chunk, true);
        }
    }
}
