/* Sightline loader: <script async src="https://HOST/sightline.js" data-key="PUBLIC_KEY"></script>
   Options (data attributes): data-host, data-flush-events, data-flush-interval (ms),
   data-cookieless, data-respect-dnt. Exposes window.sightline at once (track, identify, group,
   optOut, optIn, flush); calls made before the wasm is ready are queued, then replayed in
   order. Hooks the History API so single-page-app navigations raise `sightline:nav`. All
   capture and delivery logic lives in the wasm it loads from HOST/tracker/; this file only
   wires DOM events (passive listeners), timers and fetch completions to it, which is smaller
   here than as wasm-bindgen closures. */
(function (w, h, d) {
  var s = d.currentScript;
  if (!s || w.sightline) return;
  var src = new URL(s.src, location.href), q = [], api = {};
  'track identify group optOut optIn flush'.split(' ').forEach(function (m) {
    api[m] = function () { q.push([m, arguments]); };
  });
  w.sightline = api;
  ['pushState', 'replaceState'].forEach(function (m) {
    var o = h[m];
    h[m] = function () { var r = o.apply(this, arguments); w.dispatchEvent(new Event('sightline:nav')); return r; };
  });
  if (!s.getAttribute('data-key')) return;
  var base = new URL('tracker/', src);
  import(new URL('tracker_wasm.js', base).href).then(function (m) {
    return m.default({ module_or_path: new URL('tracker_wasm_bg.wasm', base) }).then(function () {
      var j = function (v) { return v == null ? '{}' : JSON.stringify(v); }, on = m.on_event,
        o = { passive: true, capture: true };
      m.init(s.getAttribute('data-host') || src.origin, s, {
        // A fetch whose outcome the wasm hears through `sent` (status 0: network error).
        post: function (u, b, k, t) {
          fetch(u, { method: 'POST', body: b, keepalive: k })
            .then(function (r) { m.sent(t, r.status); }, function () { m.sent(t, 0); });
        },
        timer: function (ms) { setTimeout(on, ms); }
      });
      'click visibilitychange'.split(' ').forEach(function (e) { d.addEventListener(e, on, o); });
      'scroll pagehide popstate hashchange sightline:nav online'.split(' ').forEach(function (e) { w.addEventListener(e, on, o); });
      api.track = function (n, p) { m.track(String(n), j(p)); };
      api.identify = function (u, t) { m.identify(String(u), j(t)); };
      api.group = function (c) { m.group(String(c)); };
      api.optOut = m.opt_out; api.optIn = m.opt_in; api.flush = m.flush;
      q.forEach(function (c) { api[c[0]].apply(null, c[1]); });
      q = [];
      api.ready = true;
    });
  }).catch(function (e) { if (w.console) console.warn('sightline: tracker failed to load', e); });
})(window, history, document);
