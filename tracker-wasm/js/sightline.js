/* Sightline loader: <script async src="https://HOST/sightline.js" data-key="PUBLIC_KEY"></script>
   Options (data attributes): data-host, data-flush-events, data-flush-interval (ms),
   data-storage="none" (data-cookieless is its alias), data-respect-dnt="false". Exposes
   window.sightline at once (track, identify, group, reset, optOut, optIn, flush); calls made
   before the wasm is ready are queued, then replayed in order. Hooks the History API so
   single-page-app navigations raise `sightline:nav`.

   This file is the DOM glue of the wasm it loads from HOST/tracker/ (src/browser.rs): it
   registers passive listeners and forwards them, describes a clicked element and its
   ancestors, and lends the wasm small helpers (property reads, storage that never throws,
   random bytes, sends, timers). What to capture, store and send is decided in the wasm. Glue
   here is far smaller than the same reads through wasm-bindgen.

   A template: scripts/build-tracker puts wasm-bindgen's glue at the marker below
   (tools/link-glue.mjs), which defines `call`, `click`, `init` (the wasm's exports),
   `__wbg_set_wasm` and `__wbg_imports`. */
(function (w, h, d) {
  /* wasm-bindgen glue */
  var s = d.currentScript;
  if (!s || w.sightline) return;
  var src = new URL(s.src, location.href), q = [], api = {},
    // Their index is the command's op code in the wasm's `call` (browser.rs, `op`).
    names = 'track identify group reset optOut optIn flush'.split(' ');
  names.forEach(function (m) {
    api[m] = function () { q.push([m, arguments]); };
  });
  w.sightline = api;
  ['pushState', 'replaceState'].forEach(function (m) {
    var o = h[m];
    h[m] = function () { var r = o.apply(this, arguments); w.dispatchEvent(new Event('sightline:nav')); return r; };
  });
  if (!s.getAttribute('data-key')) return;
  fetch(new URL('tracker/tracker_wasm_bg.wasm', src)).then(function (r) { return r.arrayBuffer(); })
    .then(function (b) { return WebAssembly.instantiate(b, __wbg_imports); })
    .then(function (r) {
      __wbg_set_wasm(r.instance.exports);
      var n = navigator, o = { passive: true, capture: true },
        j = function (v) { return v == null ? '{}' : JSON.stringify(v); },
        // A property path below window, like 'document.title'.
        g = function (p) { return p.split('.').reduce(function (v, k) { return v == null ? v : v[k]; }, w); },
        // A usable CSS identifier (for ids and class names in a selector).
        ident = function (v) { return /^[a-zA-Z_-][\w-]*$/.test(v); },
        // A DOM event (or, from a timer, none) for the wasm; a click is described here.
        on = function (e) {
          if (!e || e.type != 'click') return call(7, e ? e.type : '', '');
          var t = e.target, a, el, x, i, at, k, tag, r = d.documentElement, sel = [], p = {}, seen = Object.create(null);
          if (t && t.nodeType != 1) t = t.parentElement;
          if (!t || t.closest('[data-sightline-ignore]')) return;
          // The nearest actionable element around the target, or the target itself (every click
          // counts for heatmaps).
          el = (a = t.closest('a,button,input,select,textarea,label,summary,[role=button],[role=link],[data-sightline-event]')) || t;
          tag = el.localName;
          var classes = function (x) { return Array.from(x.classList).filter(ident).slice(0, 3); };
          p.tag = tag;
          if (el.id) p.id = el.id;
          if ((k = classes(el).join(' '))) p.classes = k;
          // A short selector: at most 4 steps up to <body>, ending at the first usable id.
          for (x = el, i = 0; x && i < 4 && !/^(body|html)$/.test(x.localName); x = x.parentElement, i++) {
            if (ident(x.id)) { sel.unshift(x.localName + '#' + x.id); break; }
            sel.unshift(x.localName + classes(x).map(function (c) { return '.' + c; }).join(''));
          }
          p.selector = sel.join(' > ');
          // Text only from an actionable element (a container's can be the whole page), never
          // from form fields; whitespace collapsed, at most 80 characters (not UTF-16 units).
          if (a && !/^(input|textarea|select|option)$/.test(tag) && (k = Array.from(el.textContent.trim().replace(/\s+/g, ' ')).slice(0, 80).join(''))) p.text = k;
          // Mouse position in whole CSS pixels, and relative to the document in 1/10000 (a
          // keyboard-triggered click has it too, as 0; a synthetic one has none).
          if (e.pageX != null) {
            var rel = function (v, of) { return of > 0 ? Math.min(1e4, Math.floor(v * 1e4 / of)) : 0; },
              px = Math.max(0, Math.floor(e.pageX)), py = Math.max(0, Math.floor(e.pageY));
            p.x = rel(px, r.scrollWidth); p.y = rel(py, r.scrollHeight);
            p.page_x = px; p.page_y = py; p.doc_w = r.scrollWidth; p.doc_h = r.scrollHeight; p.vw = w.innerWidth;
          }
          // data-sightline-* of the element and its ancestors as properties: the nearest wins,
          // and none overwrites the click's own fields (nor is the ignore or event marker).
          for (x = el; x; x = x.parentElement) {
            for (i = 0; (at = x.attributes[i++]);) {
              k = at.name.slice(15);
              if (!at.name.indexOf('data-sightline-') && k && !(k in seen) && !/^(ignore|event|tag|id|classes|selector|text|href|x|y|page_x|page_y|doc_w|doc_h|vw)$/.test(k)) seen[k] = p[k] = at.value;
            }
          }
          // The wasm adds the link (under the URL privacy rule) and records the event.
          click(JSON.stringify(p), tag, el.id, tag == 'a' && typeof el.href == 'string' ? el.href : '');
        };
      var url = (s.getAttribute('data-host') || src.origin).replace(/\/+$/, '') + '/collect';
      init({
        s: function (p) { p = g(p); return typeof p == 'string' ? p : ''; },
        n: function (p) { return p ? +g(p) : Date.now(); },
        utm: function () {
          var o = {};
          new URLSearchParams(location.search).forEach(function (v, k) {
            k = k.toLowerCase();
            if (v && /^utm_(source|medium|campaign|term|content)$/.test(k)) o[k] = v;
          });
          return JSON.stringify(o);
        },
        attr: function (a) { return s.getAttribute(a); },
        get: function (k) { try { return localStorage.getItem(k); } catch (e) {} },
        set: function (k, v) { try { v ? localStorage.setItem(k, v) : localStorage.removeItem(k); } catch (e) {} },
        rand: function (b) { crypto.getRandomValues(b); },
        // Events (one JSON text per line) in one /collect body. A fresh send goes as a beacon
        // when the browser takes it; otherwise a fetch, whose outcome goes back to the wasm
        // with the events (op 8, or 9 for a retry; status 0: network error).
        post: function (e, r) {
          var b = '{"key":' + JSON.stringify(s.getAttribute('data-key')) + ',"events":[' + e.split('\n').join(',') + ']}',
            done = function (x) { call(r ? 9 : 8, e, '' + (x ? x.status : 0)); };
          try { if (!r && n.sendBeacon(url, b)) return; } catch (x) {}
          fetch(url, { method: 'POST', body: b, keepalive: !r }).then(done, function () { done(); });
        },
        timer: function (ms) { setTimeout(on, ms); }
      });
      // All on window: clicks and visibilitychange reach it from the document (capture phase).
      'click visibilitychange scroll pagehide popstate hashchange sightline:nav online'.split(' ').forEach(function (e) { w.addEventListener(e, on, o); });
      names.forEach(function (k, i) {
        api[k] = function (a, b) { call(i, a == null ? '' : String(a), j(b)); };
      });
      q.forEach(function (c) { api[c[0]].apply(null, c[1]); });
      q = [];
      api.ready = true;
    }).catch(function (e) { if (w.console) console.warn('sightline: tracker failed to load', e); });
})(window, history, document);
